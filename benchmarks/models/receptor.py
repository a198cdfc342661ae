"""A receptor-assembly benchmark network for the SSA benchmark (``benchmarks/ssa.py``).

IL-2 receptor assembly on one cell, in molecules and seconds, with no compartments and no
observables (so every peer reads the same plain file: no assignment rules, no unit
conversions in the kinetic laws). IL-2 (``L``) binds IL-2Rα (``A``) or IL-2Rβ (``B``) while
free; α joins IL-2·β and IL-2·β·γ, β joins IL-2·α; γc (``G``) joins any complex holding
IL-2·β. IL-2Rβ in a complex with γc is phosphorylated (``y~p``: the JAKs' work, lumped) and
dephosphorylated anywhere. Free chains are internalised and re-synthesised (steady numbers
without IL-2), IL-2-bound complexes are internalised faster into ``LE`` (IL-2 in
endosomes), which is degraded.

``receptor_model(1)``: 17 species, 50 reactions. ``receptor_model(k)``: k disjoint copies
(molecule types suffixed ``_1`` ... ``_k``), k times the species and reactions, in one
model: the event rate grows k-fold while the reactions per species and the propensity
updates per event stay the same.

Numbers follow ``tests/models/il2_receptor.py`` (Treg receptor numbers, Farhat-convention
2-D rates) and ``model_src/il2.py`` (trafficking), converted to per-molecule rates in
seconds for 10 pM IL-2 in 1 uL of medium per cell; here they only set a realistic mix of
fast and slow reactions (binding ~0.1-10 /s, trafficking ~1e-4 /s).
"""

from il2sbml import Model

NUMBERS = {"L": 6000, "A": 3600, "B": 660, "G": 14000, "S": 5000}
KON, KFWD = 1e-5, 1e-4

PARAMETERS = {
    "kon_L": KON,                     # IL-2 binding a free chain, 1/(molecule s)
    "koff_a": 1.0,                    # Kd ratio beta/alpha 14.4 (Rickert et al. 2004)
    "koff_b": 14.4,
    "kfwd": KFWD,                     # a chain joining a complex, 1/(molecule s)
    "krev_b": 0.063,                  # beta leaving IL-2.alpha.beta
    "krev_a": 0.063 * 1.0 / 14.4,     # alpha leaving IL-2.alpha.beta: detailed balance
    "krev_g_b": 0.15,                 # gamma leaving IL-2.beta.gamma
    "krev_g_ab": 0.12,                # gamma leaving IL-2.alpha.beta.gamma
    "k_phos": 0.5,                    # beta phosphorylated in a complex with gamma
    "k_dephos": 0.05,
    "k_S_phos": 1e-4,                 # STAT5 phosphorylated by a pY-beta.gamma complex
    "k_S_dephos": 0.05,
    "k_int_free": 1e-3,               # trafficking (faster than in cells, so that it turns over)
    "k_int_bound": 5e-3,
    "k_recycle": 5e-3,                # internalised IL-2 returned to the medium
    "ksyn_A": NUMBERS["A"] * 1e-3,
    "ksyn_B": NUMBERS["B"] * 1e-3,
    "ksyn_G": NUMBERS["G"] * 1e-3,
}


def receptor_model(copies: int = 1) -> Model:
    """``copies`` disjoint copies of the receptor-assembly network in one model."""
    m = Model("receptor" if copies == 1 else f"receptor_x{copies}",
              doc=f"{copies} disjoint copies of the receptor-assembly benchmark network")
    for name, value in PARAMETERS.items():
        m.parameter(name, float(value))
    for c in range(1, copies + 1):
        s = "" if copies == 1 else f"_{c}"
        L, A, B, G, E, S = (f"{n}{s}" for n in ("L", "A", "B", "G", "LE", "S"))
        m.molecule_type(f"{L}(a,b,g)")
        m.molecule_type(f"{A}(l)")
        m.molecule_type(f"{B}(l,y~u~p)")
        m.molecule_type(f"{G}(l)")
        m.molecule_type(f"{E}()")
        m.molecule_type(f"{S}(y~u~p)")
        m.seed(f"{L}(a,b,g)", NUMBERS["L"])
        m.seed(f"{A}(l)", NUMBERS["A"])
        m.seed(f"{B}(l,y~u)", NUMBERS["B"])
        m.seed(f"{G}(l)", NUMBERS["G"])
        m.seed(f"{S}(y~u)", NUMBERS["S"])
        r = f"{s}"
        m.rule(f"L_binds_A{r}", f"{L}(a,b,g) + {A}(l) <-> {L}(a!1,b,g).{A}(l!1)", "kon_L", "koff_a")
        m.rule(f"L_binds_B{r}", f"{L}(a,b,g) + {B}(l) <-> {L}(a,b!1,g).{B}(l!1)", "kon_L", "koff_b")
        m.rule(f"B_joins_LA{r}", f"{L}(a!+,b,g) + {B}(l) <-> {L}(a!+,b!1,g).{B}(l!1)", "kfwd", "krev_b")
        m.rule(f"A_joins_LB{r}", f"{L}(a,b!+) + {A}(l) <-> {L}(a!1,b!+).{A}(l!1)", "kfwd", "krev_a")
        m.rule(f"G_joins_LB{r}", f"{L}(a,b!+,g) + {G}(l) <-> {L}(a,b!+,g!1).{G}(l!1)", "kfwd", "krev_g_b")
        m.rule(f"G_joins_LAB{r}", f"{L}(a!+,b!+,g) + {G}(l) <-> {L}(a!+,b!+,g!1).{G}(l!1)",
               "kfwd", "krev_g_ab")
        m.rule(f"B_phos{r}", f"{B}(l!1,y~u).{L}(b!1,g!+) -> {B}(l!1,y~p).{L}(b!1,g!+)", "k_phos")
        m.rule(f"B_dephos{r}", f"{B}(y~p) -> {B}(y~u)", "k_dephos")
        m.rule(f"S_phos{r}", f"{B}(y~p).{G}() + {S}(y~u) -> {B}(y~p).{G}() + {S}(y~p)", "k_S_phos")
        m.rule(f"S_dephos{r}", f"{S}(y~p) -> {S}(y~u)", "k_S_dephos")
        m.rule(f"syn_A{r}", f"0 -> {A}(l)", "ksyn_A")
        m.rule(f"syn_B{r}", f"0 -> {B}(l,y~u)", "ksyn_B")
        m.rule(f"syn_G{r}", f"0 -> {G}(l)", "ksyn_G")
        m.rule(f"int_A{r}", f"{A}(l) -> 0", "k_int_free")
        m.rule(f"int_B{r}", f"{B}(l) -> 0", "k_int_free")
        m.rule(f"int_G{r}", f"{G}(l) -> 0", "k_int_free")
        m.rule(f"int_complex{r}", f"{L}(a!?,b!?,g!?) -> {E}()", "k_int_bound", delete_molecules=True)
        m.rule(f"recycle_L{r}", f"{E}() -> {L}(a,b,g)", "k_recycle")
    return m


model = receptor_model(1)
