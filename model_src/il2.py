"""Human IL-2 signalling on one cell: receptor assembly, trafficking, JAK/STAT5, PI3K/Akt and Ras/ERK.

Receptor assembly, ligand first. IL-2 from the medium binds IL-2Rα (CD25) or IL-2Rβ (CD122);
IL-2Rβ joins IL-2·α in the membrane; γc (CD132) joins IL-2·β or IL-2·α·β (2-D rates on the
membrane). There is no closed binding cycle, so detailed balance holds by construction (a
test checks it on the generated network).

Signalling. JAK1 (on IL-2Rβ) and JAK3 (on γc) are represented by activation states of the
chains that carry them and become active only in complexes holding both chains. Active JAKs
phosphorylate IL-2Rβ Y338 (docks Shc) and Y510 (docks STAT5, or CISH); docked STAT5 and Shc
are phosphorylated and released. pSTAT5 dimerises, enters the nucleus, dissociates there, is
dephosphorylated and exported; nuclear dimers induce CISH, which competes with STAT5 for
pY510. pShc binds Grb2·SOS (one molecule, as the constitutive complex it is in resting
cells), which activates Ras (GAP back) and, at the receptor, recruits PI3K (through Gab2,
phosphorylated only there; lumped into Grb2·SOS); PI3K makes PIP3 from PIP2 (PTEN back), PIP3 activates Akt (PDK1 implicit).
Ras-GTP activates Raf, Raf phosphorylates MEK on two sites, ppMEK ERK on two sites
(distributively), with phosphatases back. A signalling complex releases γc only once it is
fully reset (JAKs inactive, tyrosines dephosphorylated, nothing docked): the assumption that
keeps phospho-states on complexes that hold both chains and the network small.

Trafficking (Fallon & Lauffenburger 2000). Free chains are internalised constitutively and
replaced by synthesis at the rate that keeps the numbers of the cell type at steady state;
IL-2-bound complexes are internalised faster; internalised IL-2 (``IL2_internal``) is
degraded in endosomes. Endosomal receptor pools, endosomal dissociation and IL-2 recycling
are not represented: internalised chains are degraded at once (assumption: keeps the
network small; it overstates IL-2 clearance by the recycled fraction).

Parameter sets (``m.parameter_set``) are the cell types: receptor numbers and the STAT5
abundance of the cell's lineage (CD4, CD8 or NK). Every value cites its source in
``shared/IL2_PARAMETERS.md`` (section, paper and table), says it is an assumption and why, or is
estimated. Two membrane equilibrium constants, which no measurement gives directly, are
calibrated on cell-surface binding data: gamma-c joining IL-2.beta on the intermediate-affinity
Kd (Nagler et al. 1990) and IL-2Rbeta joining IL-2.alpha on the classical high-affinity Kd
(~10 pM); so the in-silico binding assays that reproduce the seed table are consistency checks
of that calibration, not predictions.

Estimated (docs/calibration.md; values and intervals in ``il2_fit.json``): the receptor-to-STAT5
constants that nothing measures in T or NK cells (docs/stat5_sources.md), STAT5 per lineage and
the receptor numbers of Treg, CD4 helper, CD8 and NK cells (within the priors of three
quantitations), from measured human PBMC pSTAT5 at 30 min-2 h (Farhat et al. 2021; the 4 h
rows and three other data sets are held out), as a PEtab problem with pyPESTO on AMICI. One
change of structure came from that fit, on biological grounds: STAT5 abundance is one value per
lineage, not one for all cells (with one pool no parameter set within the priors gives CD4 T
cells their several-fold higher pSTAT5 per occupied receptor; STAT5 copy numbers differ between
cell types where measured). The pAkt and ppERK constants remain assumptions.

Units: time in s or min as declared, amounts in molecules per cell, medium in mL per cell,
membrane in um^2, cytoplasm in fL. The SBML written from this file is in items and seconds.
"""

import json
import os

from il2sbml import Model

# the calibration's result (docs/calibration.md): estimated values with their 95 % intervals
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "il2_fit.json"), encoding="utf-8") as _fh:
    FIT = json.load(_fh)


def fitted(name: str) -> tuple[float, str]:
    """A value estimated by the calibration, and the words that cite it."""
    p = FIT["parameters"][name]
    ci = p["ci95"]
    interval = (f"95% CI {ci[0]:.3g}-{ci[1]:.3g} ({FIT['ci_method']})" if ci
                else "95% CI not determined (docs/calibration.md, identifiability)")
    return p["value"], f"estimated from the training data: docs/calibration.md ({FIT['label']}); {interval}"


BIVALENT_PAIR = """

Bivalent Fc fusion, pair approximation (``_build(2)``, what ``--valency 2`` builds). Written
as one molecule of two moieties, a fusion whose moieties each hold a full signalling complex
has as many states as pairs of moiety states: 7,785 species and 78,496 reactions, which
libRoadRunner does not load (it crashed with the default stack and was still compiling
after 12 minutes at 5.4 GB without it). Here a species is one *bound moiety* in any state of
its own together with its partner moiety's *binding configuration* (``fc``: U unbound; A
IL-2Ralpha; B IL-2Rbeta; AB; BG IL-2Rbeta and gamma-c; ABG); ``IL2(fc~F)`` is a whole fusion in
the medium. Every rule of a moiety's own chains and signalling is the same as for IL-2. The
partner's configuration changes by exact rules wherever its rate is set by the configuration:
chains join or leave a complex without gamma-c only while it carries no signalling state
(JAK activation and every phosphorylation need both chains), the partner's chains are bound
by the rules that create it, and whole-fusion internalisation depends on the two
configurations only. One step is approximated: gamma-c leaves a partner's complex only once
it is reset (JAKs inactive, tyrosines unphosphorylated, nothing docked), and the chance of
that is taken as the fraction of reset complexes among the moieties of the partner's
configuration whose own partner has this moiety's configuration (pair closure: the two
complexes' signalling states are independent given the two binding configurations). Without
signalling the closure is exact (tested: the full network to solver precision); with it,
checked against the full network in docs/variants.md."""

# the binding configuration of a bound moiety: its pattern, and the gamma-c-free one it becomes when
# gamma-c leaves (pair approximation)
_PAIR_CONFIG = {
    "A": "IL2(a!1,b,g,fc~{t}).IL2RA(l!1)",
    "B": "IL2(a,b!2,g,fc~{t}).IL2RB(l!2)",
    "AB": "IL2(a!1,b!2,g,fc~{t}).IL2RA(l!1).IL2RB(l!2)",
    "BG": "IL2(a,b!2,g!3,fc~{t}).IL2RB(l!2).IL2RG(l!3)",
    "ABG": "IL2(a!1,b!2,g!3,fc~{t}).IL2RA(l!1).IL2RB(l!2).IL2RG(l!3)",
}
_PAIR_TAGS = ("U",) + tuple(_PAIR_CONFIG)


def _pair_binding_rules(m: Model, beta0: str) -> None:
    """Receptor binding of the bivalent fusion in the pair approximation (BIVALENT_PAIR):
    the 3-D capture from the medium, the partner's 2-D capture, and the exact changes of the
    partner's configuration."""
    bfree = "IL2RB(l,jak~i,y338~u,y510~u)"
    gfree = "IL2RG(l,jak~i)"
    # from the medium, by either moiety (2 x the 3-D on-rate); the other moiety is then unbound
    m.rule("IL2_binds_a", "IL2(a,b,g,fc~F) + IL2RA(l) <-> IL2(a!1,b,g,fc~U).IL2RA(l!1)", "2*kon_L", "koff_a")
    m.rule("IL2_binds_b", f"IL2(a,b,g,fc~F) + {bfree} <-> IL2(a,b!1,g,fc~U).IL2RB(l!1,jak~i,y338~u,y510~u)",
           "2*kon_L", "koff_b")
    # the unbound partner of a bound moiety binds a chain of the same cell (2-D on-rate): a new
    # bound moiety whose partner has the first one's configuration, which now sees A or B
    # (crosslinking assumption of the full form: the bond is the same, only the search is 2-D)
    new = {"A": ("IL2RA(l)", "IL2(a!4,b,g,fc~{c})@EC.IL2RA(l!4)"),   # an IL-2 moiety lies in the medium
           "B": (bfree, "IL2(a,b!4,g,fc~{c})@EC.IL2RB(l!4,jak~i,y338~u,y510~u)")}
    for c, pattern in _PAIR_CONFIG.items():
        for k, (free, bound) in new.items():
            m.rule(f"partner_binds_{k.lower()}_of_{c.lower()}",
                   f"{pattern.format(t='U')} + {free} -> {pattern.format(t=k)} + {bound.format(c=c)}", "kon_2D")
    # a moiety whose partner is on the cell lets go of its last chain: it is unbound, no species
    # of its own (the partner's view of it follows in the partner_* rules)
    for t in _PAIR_TAGS[1:]:
        m.rule(f"moiety_leaves_a_{t.lower()}", f"IL2(a!1,b,g,fc~{t}).IL2RA(l!1) -> IL2RA(l)", "koff_a",
               delete_molecules=True)
        m.rule(f"moiety_leaves_b_{t.lower()}", f"IL2(a,b!2,g,fc~{t}).{beta0} -> {bfree}", "koff_b",
               delete_molecules=True)
    # the partner's configuration changes at rates its configuration sets (exact)
    m.rule("partner_a_leaves", "IL2(fc~A) -> IL2(fc~U)", "koff_a")
    m.rule("partner_b_leaves", "IL2(fc~B) -> IL2(fc~U)", "koff_b")
    m.rule("partner_b_leaves_ab", "IL2(fc~AB) -> IL2(fc~A)", "koff_b_La")
    m.rule("partner_b_joins_a", f"IL2(fc~A) + {bfree} -> IL2(fc~AB) + {bfree}", "kon_2D")
    m.rule("partner_g_joins_b", f"IL2(fc~B) + {gfree} -> IL2(fc~BG) + {gfree}", "kon_2D")
    m.rule("partner_g_joins_ab", f"IL2(fc~AB) + {gfree} -> IL2(fc~ABG) + {gfree}", "kon_2D")


def _pair_internalisation_rules(m: Model) -> None:
    """Whole-fusion internalisation in the pair approximation: at the bound rate if either
    moiety holds IL-2Rbeta, else at the constitutive rate; each bound moiety leaves with its
    complex (its docked proteins are lost with it, as in the full form) and is counted once in
    IL2_internal, an unbound partner with it."""
    for c, pattern in _PAIR_CONFIG.items():
        for t in _PAIR_TAGS:
            beta = "B" in c or "B" in t
            m.rule(f"int_L2_{c.lower()}_{t.lower()}", f"{pattern.format(t=t)} -> IL2EN()@CP"
                   + (" + IL2EN()@CP" if t == "U" else ""), "k_int_bound" if beta else "k_int_free")


def _pair_closure(m: Model, beta0: str) -> None:
    """The one approximate step of BIVALENT_PAIR: gamma-c leaves a partner's complex (BG -> B,
    ABG -> AB) at its off-rate times the fraction of reset complexes among the moieties of
    that configuration whose partner has this moiety's configuration."""
    m.parameter("pair_eps", 1e-9, "molecule",
                doc="guards the pair closure's ratio while no such moiety exists (0/0); far below one molecule")
    reset = {"BG": f"IL2(a,b!2,g!3,fc~{{t}}).{beta0}.IL2RG(l!3,jak~i)",
             "ABG": f"IL2(a!1,b!2,g!3,fc~{{t}}).IL2RA(l!1).{beta0}.IL2RG(l!3,jak~i)"}
    koff = {"BG": "koff_g_Lb", "ABG": "koff_g_Lab"}
    for p in ("BG", "ABG"):
        for c, mine in _PAIR_CONFIG.items():
            total, ready = f"pair_{p}_of_{c}", f"pair_{p}_reset_of_{c}"
            m.observable(total, _PAIR_CONFIG[p].format(t=c))
            m.observable(ready, reset[p].format(t=c))
            m.rule(f"partner_g_leaves_{p.lower()}_of_{c.lower()}", f"{mine.format(t=p)} -> {mine.format(t=p[:-1])}",
                   f"{koff[p]}*{ready}/({total}+pair_eps)")


def _build(valency: int = 1, signalling: bool = True, bivalent: str = "pair", downstream: bool = True) -> Model:
    """The model for a ligand of ``valency`` IL-2 moieties (1: IL-2 itself; 2: a bivalent Fc
    fusion), with the wild type's constants (:func:`build_model` applies a variant's);
    ``signalling=False`` keeps receptor binding and trafficking only (the JAK, STAT5, CISH, Shc,
    PI3K and Ras rules left out: for checking the ligand's rules against BNG2.pl).

    ``bivalent`` (valency 2): ``"full"`` is the fusion as one molecule of two moieties (every
    pair of moiety states a species: 7,785 species, beyond what libRoadRunner loads);
    ``"pair"`` is its pair approximation (BIVALENT_PAIR above: one species per bound moiety
    state and its partner's binding configuration, ~10 times fewer). ``downstream=False`` leaves out the
    PI3K recruitment, PIP3/Akt and Ras/ERK rules, which nothing upstream of pSTAT5 reads: an
    exact reduction for every receptor and STAT5 observable (tested), whose pAkt, ppERK,
    RAS_GTP and PIP3 then stay at their initial values."""
    if valency == 2 and bivalent not in ("full", "pair"):
        raise ValueError(f"bivalent={bivalent!r}: 'full' or 'pair'")
    pair = valency == 2 and bivalent == "pair"
    m = Model("il2", require_units=True, doc=__doc__ + (BIVALENT_PAIR if pair else ""))

    def estimated(name: str, units: str, what: str) -> None:
        value, cite = fitted(name)
        m.parameter(name, value, units, doc=f"{what}; {cite}")

    # ------------------------------------------------------------------ cell, medium, volumes
    m.parameter("cells_per_mL", 1e6, "1/mL",
                doc="cell density; assumption: a typical stimulation-assay density (1e6 cells/mL)")
    m.parameter("V_medium", "1/cells_per_mL", "mL", doc="medium volume per cell, set by the cell density")
    m.parameter("A_membrane", 150, "um^2",
                doc="lymphocyte surface area; assumption: sphere of radius 3.5 um (4*pi*r^2 ~ 150 um^2)")
    m.parameter("V_cytoplasm", 100, "fL",
                doc="cytoplasm volume; assumption: 180 fL cell (r = 3.5 um) less a ~80 fL nucleus")
    m.compartment("EC", dimension=3, size="V_medium", units="mL", doc="extracellular medium, per cell")
    m.compartment("PM", dimension=2, size="A_membrane", units="um^2", parent="EC", doc="plasma membrane")
    m.compartment("CP", dimension=3, size="V_cytoplasm", units="fL", parent="PM",
                  doc="cytoplasm; nuclear STAT5 is marked by its loc~n state (one well-mixed interior)")

    # ------------------------------------------------------------------ dose and receptor numbers
    m.parameter("IL2_pM", 10, "pM", doc="extracellular IL-2 at t = 0")
    m.parameter("avogadro", 6.02214076e23, "molecule/mol", doc="Avogadro constant (exact, SI 2019)")
    m.parameter("CD25_per_cell", fitted("CD25_Treg")[0], "molecule",
                doc="IL-2Ralpha chains per cell at t = 0; cell types set theirs; default: the Treg value " + fitted("CD25_Treg")[1])
    m.parameter("CD122_per_cell", fitted("CD122_Treg")[0], "molecule",
                doc="IL-2Rbeta chains per cell at t = 0; cell types set theirs; default: the Treg value " + fitted("CD122_Treg")[1])
    m.parameter("CD132_per_cell", fitted("CD132_Treg")[0], "molecule",
                doc="gamma-c chains per cell at t = 0; cell types set theirs; default: the Treg value " + fitted("CD132_Treg")[1])

    # ------------------------------------------------------------------ IL-2 binding (3-D, medium to membrane)
    m.parameter("kon_L", 1e7, "1/(M*s)",
                doc="IL-2 on-rate to IL-2Ralpha and IL-2Rbeta: IL2_PARAMETERS.md s1 (Farhat et al., kbnd 1e7/M/s)")
    m.parameter("Kd_a", 10e-9, "M", doc="IL-2 + IL-2Ralpha Kd 10 nM: IL2_PARAMETERS.md s1 (Rickert et al. 2004)")
    m.parameter("Kd_b", 144e-9, "M", doc="IL-2 + IL-2Rbeta Kd 144 nM: IL2_PARAMETERS.md s1 (Rickert et al. 2004)")
    m.parameter("koff_a", "kon_L*Kd_a", "1/s", doc="detailed balance: koff = kon * Kd")
    m.parameter("koff_b", "kon_L*Kd_b", "1/s", doc="detailed balance: koff = kon * Kd")

    # ------------------------------------------------------------------ chain recruitment (2-D, in the membrane)
    m.parameter("kon_2D", 0.1875, "um^2/(molecule*min)",
                doc="2-D association of a chain with an IL-2 complex: IL2_PARAMETERS.md s1 (Farhat prior kfwd "
                    "0.00125 per molecule/cell per min) times A_membrane (150 um^2)")
    m.parameter("K2_g_Lb", 0.738, "molecule/um^2",
                doc="2-D Kd of gamma-c joining IL-2.beta, calibrated on binding data: the intermediate-affinity "
                    "Kd of 1.9 nM on CD16+ NK cells (Nagler et al. 1990, IL2_PARAMETERS.md s1) with NK chain "
                    "numbers (s2, 8,281 gamma-c) gives 8281*1.9/(144-1.9) = 111 per cell = 0.738 per um^2")
    m.parameter("K2_g_Lab", "8*K2_g_Lb", "molecule/um^2",
                doc="2-D Kd of gamma-c joining IL-2.alpha.beta: 8-fold weaker than joining IL-2.beta, the ratio "
                    "of the 3-D Kds 12 nM / 1.5 nM (Rickert 2004, IL2_PARAMETERS.md s1)")
    m.parameter("K2_b_La", 1.0, "molecule/um^2",
                doc="2-D Kd of IL-2Rbeta joining IL-2.alpha, calibrated on binding data: the classical "
                    "high-affinity Kd of ~10 pM (IL2_PARAMETERS.md s1, 1e-11 M) on a cell whose alpha and "
                    "gamma-c chains are in excess of beta (10,000 alpha, 1,000 beta, 10,000 gamma-c, the "
                    "binding assay of il2sbml.assays), found by a scan of this constant: 1 per um^2 gives 13 pM "
                    "there (bound against free IL-2). Cross-check: the same value gives 6 pM on CD56bright NK numbers, where Nagler "
                    "1990 measured 25 pM. It is ~5,000-fold tighter than the 3-D ratio 63/1.5 would give; "
                    "Rickert 2004 reports alpha-beta pre-association, which the ligand-first scheme folds in here")
    m.parameter("koff_g_Lb", "kon_2D*K2_g_Lb", "1/min", doc="detailed balance: koff = kon * Kd (2-D)")
    m.parameter("koff_g_Lab", "kon_2D*K2_g_Lab", "1/min", doc="detailed balance")
    m.parameter("koff_b_La", "kon_2D*K2_b_La", "1/min", doc="detailed balance")

    # ------------------------------------------------------------------ trafficking (Fallon & Lauffenburger 2000)
    m.parameter("k_int_free", 0.007, "1/min",
                doc="constitutive internalisation of free chains (and IL-2.alpha): IL2_PARAMETERS.md s1, Fallon "
                    "2000 kt (BIOMD0000000665); internalised chains are degraded (see module doc)")
    m.parameter("k_int_bound", 0.04, "1/min",
                doc="endocytosis of IL-2-bound beta-containing complexes: IL2_PARAMETERS.md s1, Fallon 2000 ke "
                    "(Tkach 2014 gives t1/2 15 min, 0.046/min)")
    m.parameter("k_deg_endo", 0.035, "1/min",
                doc="endosomal degradation of internalised IL-2: IL2_PARAMETERS.md s1, Fallon 2000 kh")
    m.parameter("ksyn_CD25", "CD25_per_cell*k_int_free", "molecule/min",
                doc="IL-2Ralpha synthesis that holds the cell type's number at steady state without IL-2 "
                    "(assumption: resting cells are at steady state)")
    m.parameter("ksyn_CD122", "CD122_per_cell*k_int_free", "molecule/min", doc="as ksyn_CD25")
    m.parameter("ksyn_CD132", "CD132_per_cell*k_int_free", "molecule/min", doc="as ksyn_CD25")

    # ------------------------------------------------------------------ JAK1/JAK3 and IL-2Rbeta tyrosines
    estimated("k_jak_act", "1/s", "JAK1/JAK3 trans-activation in a complex holding both chains (0 switches signalling off); not measured")
    estimated("k_jak_inact", "1/s", "JAK inactivation (phosphatases such as SHP-1); not measured")
    estimated("k_Y_phos", "1/s", "IL-2Rbeta Y338/Y510 phosphorylation by active JAKs; not measured")
    estimated("k_Y_dephos", "1/s", "dephosphorylation of free pY338/pY510; not measured")

    # ------------------------------------------------------------------ STAT5
    STAT5_LINEAGE = {name: fitted(f"STAT5_{name}") for name in ("CD4", "CD8", "NK")}
    m.parameter("STAT5_per_cell", STAT5_LINEAGE["CD4"][0], "molecule",
                doc="STAT5A+B per cell, one value per lineage (cell types set theirs; default: the CD4 lineage's). "
                    "Not measured in human lymphocytes (2e4-1.75e5 in other cells, docs/stat5_sources.md A1-A3); "
                    "per lineage because the training data need it: at equal receptor occupancy CD4 T cells reach "
                    "several-fold the pSTAT5 of CD8 and NK cells under one antibody and cytometer "
                    "(docs/calibration.md, structure choice). " + STAT5_LINEAGE["CD4"][1])
    m.parameter("kon_SH2", 1, "1/(uM*s)",
                doc="SH2 domain on a phosphotyrosine; assumption: typical 1e6/M/s")
    estimated("koff_STAT5", "1/s", "STAT5 SH2 off pY510 (kon_SH2 fixed); not measured")
    estimated("k_STAT5_phos", "1/s", "docked STAT5 phosphorylation by active JAKs; not measured")
    estimated("koff_pSTAT5", "1/s", "release of phosphorylated STAT5 from pY510; not measured")
    m.parameter("kon_dimer", 1, "1/(uM*s)", doc="pSTAT5 dimerisation; assumption: typical SH2/pY association")
    estimated("koff_dimer", "1/s", "cytoplasmic pSTAT5 dimer dissociation (kon_dimer fixed); not measured")
    estimated("k_import", "1/s", "nuclear import of pSTAT5 dimers; fits in other cells 2.7e-4-4.5e-4/s (docs/stat5_sources.md)")
    estimated("k_nuc_dissoc", "1/s", "dissociation of nuclear dimers; not measured")
    estimated("k_nuc_dephos", "1/s", "nuclear pSTAT5 dephosphorylation (TC45); fits in other cells 1e-4-1.2e-3/s")
    estimated("k_export", "1/s", "nuclear export of unphosphorylated STAT5; fits in other cells 1e-4-1.2e-3/s")
    estimated("k_cyt_dephos", "1/s", "cytoplasmic pSTAT5 monomer dephosphorylation; fits in other cells 4e-4-5e-4/s")

    # ------------------------------------------------------------------ CISH feedback
    estimated("k_CISH_syn", "1/s", "CISH made per nuclear pSTAT5 molecule in a dimer (transcription and translation lumped)")
    m.parameter("k_CISH_deg", 3.2e-4, "1/s", doc="CISH degradation; assumption: half-life ~1 h")
    estimated("koff_CISH", "1/s", "CISH SH2 off pY510; not measured")

    # ------------------------------------------------------------------ Shc, Grb2.SOS, PI3K, PIP3, Akt
    m.parameter("SHC_per_cell", 3e4, "molecule", doc="Shc1; assumption: 0.5 uM in 100 fL")
    m.parameter("GS_per_cell", 3e4, "molecule", doc="Grb2.SOS1; assumption: 0.5 uM in 100 fL")
    m.parameter("PI3K_per_cell", 1e4, "molecule", doc="PI3K (p85/p110delta); assumption: ~0.17 uM")
    m.parameter("PIP2_per_cell", 2e4, "molecule",
                doc="PI(4,5)P2 available to PI3K; assumption: an accessible pool of 2e4 (kept small so that "
                    "stochastic runs stay fast; total PIP2 is larger)")
    m.parameter("PTEN_per_cell", 5e3, "molecule", doc="membrane PTEN; assumption")
    m.parameter("AKT_per_cell", 3e4, "molecule", doc="Akt1; assumption: 0.5 uM in 100 fL")
    m.parameter("koff_SHC", 0.2, "1/s", doc="Shc PTB off pY338; assumption as koff_STAT5")
    m.parameter("k_SHC_phos", 0.5, "1/s", doc="docked Shc phosphorylation by active JAKs; assumption")
    m.parameter("k_SHC_dephos", 0.05, "1/s", doc="free pShc dephosphorylation; assumption")
    m.parameter("koff_GS", 0.1, "1/s", doc="Grb2 SH2 off pShc; assumption (Kd 0.1 uM)")
    m.parameter("koff_PI3K", 0.1, "1/s", doc="PI3K off Grb2.SOS (through Gab2); assumption (Kd 0.1 uM)")
    m.parameter("k_PI3K_cat", 1, "um^2/(molecule*s)",
                doc="PIP2 -> PIP3 by receptor-recruited PI3K (2-D catalytic constant); assumption")
    m.parameter("k_PTEN_cat", 0.01, "um^2/(molecule*s)", doc="PIP3 -> PIP2 by PTEN; assumption")
    m.parameter("k_AKT_act", 0.01, "1/(uM*s)",
                doc="Akt activation by PIP3 (PDK1 lumped), per PIP3 and cytoplasmic Akt; assumption")
    m.parameter("k_AKT_inact", 0.01, "1/s", doc="pAkt dephosphorylation (PP2A/PHLPP); assumption")

    # ------------------------------------------------------------------ Ras, Raf, MEK, ERK
    m.parameter("RAS_per_cell", 2e4, "molecule", doc="H/K/N-Ras; assumption")
    m.parameter("RAF_per_cell", 1e4, "molecule", doc="Raf-1/B-Raf; assumption")
    m.parameter("MEK_per_cell", 72000, "molecule",
                doc="MEK1/2: 1.2 uM (Huang & Ferrell 1996, BIOMD0000000009, species KK) in 100 fL")
    m.parameter("ERK_per_cell", 72000, "molecule",
                doc="ERK1/2: 1.2 uM (Huang & Ferrell 1996, BIOMD0000000009, species K) in 100 fL")
    m.parameter("k_SOS_cat", 0.05, "um^2/(molecule*s)", doc="Ras-GDP -> Ras-GTP by recruited SOS; assumption")
    m.parameter("k_GAP", 0.05, "1/s", doc="Ras-GTP hydrolysis with GAPs; assumption")
    m.parameter("k_RAF_act", 0.05, "1/(uM*s)", doc="Raf activation by Ras-GTP; assumption")
    m.parameter("k_RAF_inact", 0.05, "1/s", doc="Raf inactivation; assumption")
    m.parameter("k_MEK_phos", 0.5, "1/(uM*s)", doc="MEK phosphorylation by Raf, each site; assumption")
    m.parameter("k_MEK_dephos", 0.05, "1/s", doc="MEK dephosphorylation, each site; assumption")
    m.parameter("k_ERK_phos", 0.5, "1/(uM*s)", doc="ERK phosphorylation by ppMEK, each site; assumption")
    m.parameter("k_ERK_dephos", 0.05, "1/s", doc="ERK dephosphorylation (MKPs), each site; assumption")

    # ------------------------------------------------------------------ molecules
    if valency == 1:
        m.molecule_type("IL2(a,b,g)", uniprot="P60568", doc="interleukin-2: sites for IL-2Ralpha, IL-2Rbeta and gamma-c")
    elif pair:
        m.molecule_type("IL2(a,b,g,fc~F~U~A~B~AB~BG~ABG)", uniprot="P60568",
                        doc="bivalent Fc fusion, pair approximation: fc~F is a whole fusion free in the medium; "
                            "otherwise one IL-2 moiety bound to the cell, fc its partner moiety's binding "
                            "configuration: U unbound, A IL-2Ralpha, B IL-2Rbeta, AB, BG IL-2Rbeta and gamma-c, ABG")
    else:
        m.molecule_type("IL2(a,b,g,fc)", uniprot="P60568",
                        doc="an IL-2 moiety of a bivalent Fc fusion: sites for IL-2Ralpha, IL-2Rbeta, gamma-c, and fc, "
                            "its link (through the Fc) to the other moiety")
    m.molecule_type("IL2EN()", uniprot="P60568", doc="interleukin-2 internalised in endosomes")
    m.molecule_type("IL2RA(l)", uniprot="P01589", doc="IL-2Ralpha (CD25)")
    UNIPROT = "http://identifiers.org/uniprot/"
    m.molecule_type("IL2RB(l,jak~i~a,y338~u~p,y510~u~p)", annotations=[("bqbiol:hasPart", UNIPROT + "P14784"),
                                                                       ("bqbiol:hasPart", UNIPROT + "P23458")],
                    doc="IL-2Rbeta (CD122) with JAK1: JAK1 state, tyrosines Y338 (Shc) and Y510 (STAT5)")
    m.molecule_type("IL2RG(l,jak~i~a)", annotations=[("bqbiol:hasPart", UNIPROT + "P31785"),
                                                    ("bqbiol:hasPart", UNIPROT + "P52333")], doc="common gamma chain (CD132) with JAK3")
    m.molecule_type("STAT5(sh2,d,y~u~p,loc~c~n)", uniprot=("P42229", "P51692"),
                    doc="STAT5A/B: SH2 domain, dimer site, Y694, location (cytoplasm/nucleus)")
    m.molecule_type("CISH(sh2)", uniprot="Q9NSE2", doc="cytokine-inducible SH2 protein")
    m.molecule_type("SHC(ptb,y~u~p)", uniprot="P29353", doc="Shc1: PTB domain, tyrosines")
    m.molecule_type("GS(sh2,p85)", annotations=[("bqbiol:hasPart", UNIPROT + "P62993"),
                                               ("bqbiol:hasPart", UNIPROT + "Q07889")], doc="Grb2.SOS1 complex")
    m.molecule_type("PI3K(b)", annotations=[("bqbiol:hasPart", UNIPROT + "O00329"),
                                           ("bqbiol:hasPart", UNIPROT + "P27986")], doc="PI3K p110delta/p85alpha")
    m.molecule_type("PIP(s~2~3)", chebi="CHEBI:16618", doc="PI(4,5)P2 (s~2) / PI(3,4,5)P3 (s~3)")
    m.molecule_type("PTEN()", uniprot="P60484", doc="PTEN")
    m.molecule_type("AKT(s~u~p)", uniprot="P31749", doc="Akt1: T308/S473 lumped")
    m.molecule_type("RAS(n~gdp~gtp)", uniprot="P01112", doc="Ras: GDP/GTP bound")
    m.molecule_type("RAF(s~u~p)", uniprot="P04049", doc="Raf-1")
    m.molecule_type("MEK(s1~u~p,s2~u~p)", uniprot="Q02750", doc="MEK1: S218, S222")
    m.molecule_type("ERK(t~u~p,y~u~p)", uniprot="P28482", doc="ERK2: T185, Y187")

    if valency == 1:
        m.seed("IL2(a,b,g)@EC", "IL2_pM*avogadro*V_medium")  # pM * molecule/mol * mL: converted to molecules
    elif pair:  # IL2_pM is then the concentration of fusion molecules, two IL-2 moieties each
        m.seed("IL2(a,b,g,fc~F)@EC", "IL2_pM*avogadro*V_medium")
    else:
        m.seed("@EC::IL2(a,b,g,fc!9).IL2(a,b,g,fc!9)", "IL2_pM*avogadro*V_medium")
    m.seed("IL2RA(l)@PM", "CD25_per_cell")
    m.seed("IL2RB(l,jak~i,y338~u,y510~u)@PM", "CD122_per_cell")
    m.seed("IL2RG(l,jak~i)@PM", "CD132_per_cell")
    m.seed("STAT5(sh2,d,y~u,loc~c)@CP", "STAT5_per_cell")
    m.seed("SHC(ptb,y~u)@CP", "SHC_per_cell")
    m.seed("GS(sh2,p85)@CP", "GS_per_cell")
    m.seed("PI3K(b)@CP", "PI3K_per_cell")
    m.seed("PIP(s~2)@PM", "PIP2_per_cell")
    m.seed("PTEN()@PM", "PTEN_per_cell")
    m.seed("AKT(s~u)@CP", "AKT_per_cell")
    m.seed("RAS(n~gdp)@PM", "RAS_per_cell")
    m.seed("RAF(s~u)@CP", "RAF_per_cell")
    m.seed("MEK(s1~u,s2~u)@CP", "MEK_per_cell")
    m.seed("ERK(t~u,y~u)@CP", "ERK_per_cell")

    # ------------------------------------------------------------------ receptor assembly
    BETA0 = "IL2RB(l!2,jak~i,y338~u,y510~u)"   # a beta chain that carries no signalling state
    if valency == 1:
        m.rule("IL2_binds_a", "IL2(a,b,g) + IL2RA(l) <-> IL2(a!1,b,g).IL2RA(l!1)", "kon_L", "koff_a")
        m.rule("IL2_binds_b", "IL2(a,b,g) + IL2RB(l,jak~i,y338~u,y510~u) <-> IL2(a,b!1,g).IL2RB(l!1,jak~i,y338~u,y510~u)",
               "kon_L", "koff_b")
    elif pair:
        _pair_binding_rules(m, BETA0)
    else:
        # a fusion in the medium binds with 3-D rates (either moiety); once one moiety holds a
        # chain, the other binds chains of the same cell with the 2-D on-rate of chain
        # recruitment (kon_2D) and leaves with the 3-D off-rate (crosslinking assumption:
        # the bond is the same, only the search is in the membrane; Bell 1978, Perelson 1980).
        # With one 2-D on-rate for both chains, every binding cycle satisfies detailed balance.
        FREE2 = "IL2(a,b,g,fc!9).IL2(a,b,g,fc!9)"
        BFREE = "IL2RB(l,jak~i,y338~u,y510~u)"
        m.rule("IL2_binds_a", f"{FREE2} + IL2RA(l) <-> IL2(a!1,b,g,fc!9).IL2(a,b,g,fc!9).IL2RA(l!1)", "kon_L", "koff_a")
        m.rule("IL2_binds_b", f"{FREE2} + {BFREE} <-> IL2(a,b!1,g,fc!9).IL2(a,b,g,fc!9).IL2RB(l!1,jak~i,y338~u,y510~u)",
               "kon_L", "koff_b")
        for tag, partner in (("pa", "IL2(a!+,fc!9)"), ("pb", "IL2(a,b!+,fc!9)")):   # partner bound: by alpha / not
            m.rule(f"tethered_binds_a_{tag}", f"IL2(a,b,g,fc!9).{partner} + IL2RA(l) <-> "
                   f"IL2(a!1,b,g,fc!9).{partner}.IL2RA(l!1)", "kon_2D", "koff_a")
            m.rule(f"tethered_binds_b_{tag}", f"IL2(a,b,g,fc!9).{partner} + {BFREE} <-> "
                   f"IL2(a,b!1,g,fc!9).{partner}.IL2RB(l!1,jak~i,y338~u,y510~u)", "kon_2D", "koff_b")
    m.rule("b_joins_IL2a", "IL2(a!+,b,g) + IL2RB(l,jak~i,y338~u,y510~u) <-> IL2(a!+,b!1,g).IL2RB(l!1,jak~i,y338~u,y510~u)",
           "kon_2D", "koff_b_La")
    m.rule("g_joins_IL2b", f"IL2(a,b!2,g).{BETA0} + IL2RG(l,jak~i) <-> IL2(a,b!2,g!1).{BETA0}.IL2RG(l!1,jak~i)",
           "kon_2D", "koff_g_Lb")
    m.rule("g_joins_IL2ab", f"IL2(a!+,b!2,g).{BETA0} + IL2RG(l,jak~i) <-> IL2(a!+,b!2,g!1).{BETA0}.IL2RG(l!1,jak~i)",
           "kon_2D", "koff_g_Lab")

    # ------------------------------------------------------------------ trafficking
    m.rule("syn_CD25", "0 -> IL2RA(l)@PM", "ksyn_CD25")
    m.rule("syn_CD122", "0 -> IL2RB(l,jak~i,y338~u,y510~u)@PM", "ksyn_CD122")
    m.rule("syn_CD132", "0 -> IL2RG(l,jak~i)@PM", "ksyn_CD132")
    m.rule("int_CD25", "IL2RA(l) -> 0", "k_int_free")
    m.rule("int_CD122", "IL2RB(l) -> 0", "k_int_free")
    m.rule("int_CD132", "IL2RG(l) -> 0", "k_int_free")
    if valency == 1:
        m.rule("int_IL2a", "IL2(a!1,b).IL2RA(l!1) -> IL2EN()@CP", "k_int_free")
        for name, pattern in (("int_IL2b", "IL2(a,b!2,g).IL2RB(l!2)"),
                              ("int_IL2ab", "IL2(a!1,b!2,g).IL2RA(l!1).IL2RB(l!2)"),
                              ("int_IL2bg", "IL2(a,b!2,g!3).IL2RB(l!2).IL2RG(l!3)"),
                              ("int_IL2abg", "IL2(a!1,b!2,g!3).IL2RA(l!1).IL2RB(l!2).IL2RG(l!3)")):
            # the chains are degraded; Shc, STAT5 or CISH docked on IL-2Rbeta are released, not lost
            m.rule(name, f"{pattern} -> IL2EN()@CP", "k_int_bound", delete_molecules=True)
    elif pair:
        _pair_internalisation_rules(m)
    else:
        # a fusion on the cell is internalised whole (both moieties, every chain it holds):
        # at the bound rate if any moiety holds IL-2Rbeta, else at the constitutive rate; its
        # two IL-2 moieties are counted in IL2_internal (docked signalling proteins are lost
        # with it: an assumption of the bivalent model only)
        m.rule("int_L2_beta", "IL2(b!+,fc!9).IL2(fc!9) -> IL2EN()@CP + IL2EN()@CP", "k_int_bound")
        m.rule("int_L2_alpha", "IL2(a!+,b,fc!9).IL2(b,fc!9) -> IL2EN()@CP + IL2EN()@CP", "k_int_free")
    m.rule("deg_IL2EN", "IL2EN() -> 0", "k_deg_endo")

    if signalling:   # without: receptor binding and trafficking alone (tests of the ligand's rules)
        # ------------------------------------------------------------------ JAKs and IL-2Rbeta tyrosines
        CORE = "IL2RB(l!1,jak~{b}).IL2(b!1,g!2).IL2RG(l!2,jak~{g})"
        m.rule("jak_activation", CORE.format(b="i", g="i") + " -> " + CORE.format(b="a", g="a"), "k_jak_act")
        m.rule("jak_inactivation", CORE.format(b="a", g="a") + " -> " + CORE.format(b="i", g="i"), "k_jak_inact")
        for y in ("y338", "y510"):
            m.rule(f"{y}_phos", f"IL2RB(l!1,jak~a,{y}~u).IL2(b!1,g!2).IL2RG(l!2,jak~a) -> "
                                f"IL2RB(l!1,jak~a,{y}~p).IL2(b!1,g!2).IL2RG(l!2,jak~a)", "k_Y_phos")
            m.rule(f"{y}_dephos", f"IL2RB({y}~p) -> IL2RB({y}~u)", "k_Y_dephos")

        # ------------------------------------------------------------------ STAT5
        m.rule("STAT5_docks", "IL2RB(y510~p) + STAT5(sh2,d,y~u,loc~c) <-> IL2RB(y510~p!1).STAT5(sh2!1,d,y~u,loc~c)",
               "kon_SH2", "koff_STAT5")
        m.rule("STAT5_phos", "IL2RB(l!1,jak~a,y510~p!3).IL2(b!1,g!2).IL2RG(l!2,jak~a).STAT5(sh2!3,y~u) -> "
                             "IL2RB(l!1,jak~a,y510~p!3).IL2(b!1,g!2).IL2RG(l!2,jak~a).STAT5(sh2!3,y~p)", "k_STAT5_phos")
        m.rule("pSTAT5_release", "IL2RB(y510~p!1).STAT5(sh2!1,y~p) -> IL2RB(y510~p) + STAT5(sh2,y~p)", "koff_pSTAT5")
        m.rule("pSTAT5_dimerises", "STAT5(sh2,d,y~p,loc~c) + STAT5(sh2,d,y~p,loc~c) <-> "
                                   "STAT5(sh2,d!1,y~p,loc~c).STAT5(sh2,d!1,y~p,loc~c)", "kon_dimer", "koff_dimer")
        m.rule("pSTAT5_import", "STAT5(d!1,loc~c).STAT5(d!1,loc~c) -> STAT5(d!1,loc~n).STAT5(d!1,loc~n)", "k_import")
        m.rule("nuclear_dissoc", "STAT5(d!1,loc~n).STAT5(d!1,loc~n) -> STAT5(d,loc~n) + STAT5(d,loc~n)", "k_nuc_dissoc")
        m.rule("nuclear_dephos", "STAT5(d,y~p,loc~n) -> STAT5(d,y~u,loc~n)", "k_nuc_dephos")
        m.rule("STAT5_export", "STAT5(d,y~u,loc~n) -> STAT5(d,y~u,loc~c)", "k_export")
        m.rule("cyt_dephos", "STAT5(sh2,d,y~p,loc~c) -> STAT5(sh2,d,y~u,loc~c)", "k_cyt_dephos")

        # ------------------------------------------------------------------ CISH
        m.rule("CISH_synthesis", "STAT5(d!+,y~p,loc~n) -> STAT5(d!+,y~p,loc~n) + CISH(sh2)@CP", "k_CISH_syn")
        m.rule("CISH_degradation", "CISH(sh2) -> 0", "k_CISH_deg")
        m.rule("CISH_docks", "IL2RB(y510~p) + CISH(sh2) <-> IL2RB(y510~p!1).CISH(sh2!1)", "kon_SH2", "koff_CISH")

        # ------------------------------------------------------------------ Shc, Grb2.SOS, PI3K
        m.rule("SHC_docks", "IL2RB(y338~p) + SHC(ptb,y~u) <-> IL2RB(y338~p!1).SHC(ptb!1,y~u)", "kon_SH2", "koff_SHC")
        m.rule("SHC_phos", "IL2RB(l!1,jak~a,y338~p!3).IL2(b!1,g!2).IL2RG(l!2,jak~a).SHC(ptb!3,y~u) -> "
                           "IL2RB(l!1,jak~a,y338~p!3).IL2(b!1,g!2).IL2RG(l!2,jak~a).SHC(ptb!3,y~p)", "k_SHC_phos")
        m.rule("pSHC_release", "IL2RB(y338~p!1).SHC(ptb!1,y~p) -> IL2RB(y338~p) + SHC(ptb,y~p)", "koff_SHC")
        m.rule("SHC_dephos", "SHC(ptb,y~p) -> SHC(ptb,y~u)", "k_SHC_dephos")
        m.rule("GS_binds_pSHC", "SHC(y~p) + GS(sh2) <-> SHC(y~p!1).GS(sh2!1)", "kon_SH2", "koff_GS")
    if signalling and downstream:
        # PI3K's p85 binds phospho-Gab2, phosphorylated only at the receptor: so PI3K binds Grb2.SOS only
        # there (Gab2 lumped into Grb2.SOS); it leaves anywhere (Gab2 dephosphorylated once released)
        m.rule("PI3K_recruited", "IL2RB(y338~p!1).SHC(ptb!1,y~p!2).GS(sh2!2,p85) + PI3K(b) -> "
                                 "IL2RB(y338~p!1).SHC(ptb!1,y~p!2).GS(sh2!2,p85!3).PI3K(b!3)", "kon_SH2")
        m.rule("PI3K_leaves", "GS(p85!1).PI3K(b!1) -> GS(p85) + PI3K(b)", "koff_PI3K")

        # ------------------------------------------------------------------ PIP3 and Akt
        m.rule("PIP3_made", "IL2RB(y338~p!1).SHC(ptb!1,y~p!2).GS(sh2!2,p85!3).PI3K(b!3) + PIP(s~2) -> "
                            "IL2RB(y338~p!1).SHC(ptb!1,y~p!2).GS(sh2!2,p85!3).PI3K(b!3) + PIP(s~3)", "k_PI3K_cat")
        m.rule("PIP3_PTEN", "PTEN() + PIP(s~3) -> PTEN() + PIP(s~2)", "k_PTEN_cat")
        m.rule("AKT_act", "PIP(s~3) + AKT(s~u) -> PIP(s~3) + AKT(s~p)", "k_AKT_act")
        m.rule("AKT_inact", "AKT(s~p) -> AKT(s~u)", "k_AKT_inact")

        # ------------------------------------------------------------------ Ras, Raf, MEK, ERK
        m.rule("RAS_act", "IL2RB(y338~p!1).SHC(ptb!1,y~p!2).GS(sh2!2) + RAS(n~gdp) -> "
                          "IL2RB(y338~p!1).SHC(ptb!1,y~p!2).GS(sh2!2) + RAS(n~gtp)", "k_SOS_cat")
        m.rule("RAS_GAP", "RAS(n~gtp) -> RAS(n~gdp)", "k_GAP")
        m.rule("RAF_act", "RAS(n~gtp) + RAF(s~u) -> RAS(n~gtp) + RAF(s~p)", "k_RAF_act")
        m.rule("RAF_inact", "RAF(s~p) -> RAF(s~u)", "k_RAF_inact")
        for site in ("s1", "s2"):
            m.rule(f"MEK_{site}_phos", f"RAF(s~p) + MEK({site}~u) -> RAF(s~p) + MEK({site}~p)", "k_MEK_phos")
            m.rule(f"MEK_{site}_dephos", f"MEK({site}~p) -> MEK({site}~u)", "k_MEK_dephos")
        for site in ("t", "y"):
            m.rule(f"ERK_{site}_phos", f"MEK(s1~p,s2~p) + ERK({site}~u) -> MEK(s1~p,s2~p) + ERK({site}~p)", "k_ERK_phos")
            m.rule(f"ERK_{site}_dephos", f"ERK({site}~p) -> ERK({site}~u)", "k_ERK_dephos")

    # ------------------------------------------------------------------ cell types (receptor chains per cell)
    FARHAT = "IL2_PARAMETERS.md s2 (Farhat et al. 2021, final_receptor_levels.csv, mean of 4 sets)"
    CALIBRATED = ("receptor numbers estimated within the priors of three bead-calibrated quantitations "
                  "(data/priors, build/petab/parameters.tsv) from the training data: docs/calibration.md")
    CELL_TYPES = {  # name: ((CD25, CD122, CD132 per cell), lineage of its STAT5 abundance, doc)
        "Treg": (None, "CD4", "regulatory T cells (CD4+ CD25-high); " + CALIBRATED + "; measured (" + FARHAT
                 + "): 3,589 / 662 / 14,082"),
        "CD4_helper": (None, "CD4", "conventional CD4 T helper cells (all, CD25-low); " + CALIBRATED + "; measured ("
                       + FARHAT + "): 348 / 173 / 13,391"),
        "CD4_naive": ((274, 65, 12860), "CD4", "naive CD4 T helper cells: " + FARHAT),
        "CD4_memory": ((501, 192, 16045), "CD4", "memory CD4 T helper cells: " + FARHAT),
        "CD8": (None, "CD8", "CD8 T cells (all); " + CALIBRATED + "; measured (" + FARHAT + "): 24 / 521 / 12,524"),
        "CD8_naive": ((16, 338, 13098), "CD8", "naive CD8 T cells: " + FARHAT),
        "CD8_memory": ((40, 634, 13432), "CD8", "memory CD8 T cells: " + FARHAT),
        "NK": (None, "NK", "NK cells (all; mostly CD56dim); " + CALIBRATED + "; measured (" + FARHAT
               + "): 23 / 8,774 / 8,281"),
        "NK_CD56bright": ((1200, 10800, 8281), "NK",
                          "CD56bright (CD16-) NK cells: ~1,200 high-affinity and ~9,600 intermediate sites (Nagler et "
                          "al. 1990, IL2_PARAMETERS.md s2 anchors), read as 1,200 CD25 and 10,800 CD122; gamma-c as "
                          "for all NK cells (" + FARHAT + ")"),
        "T_activated": ((30000, 1920, 16045), "CD4",
                        "activated conventional T cells (CD25-high); assumption: CD25 3e4, the middle of the 1e4-1e5 "
                        "classically reported (IL2_PARAMETERS.md s2 marks it not retrieved); CD122 10x memory CD4 "
                        "(the TCR-induced increase of Tkach et al. 2014, mouse); gamma-c of memory CD4 (" + FARHAT + ")"),
    }
    for _name, (_chains, _lineage, _doc) in CELL_TYPES.items():
        if _chains is None:
            _chains = tuple(fitted(f"{chain}_{_name}")[0] for chain in ("CD25", "CD122", "CD132"))
        m.parameter_set(_name, {"CD25_per_cell": _chains[0], "CD122_per_cell": _chains[1], "CD132_per_cell": _chains[2],
                                "STAT5_per_cell": STAT5_LINEAGE[_lineage][0]},
                        doc=_doc + f"; STAT5 of the {_lineage} lineage (estimated)")

    # ------------------------------------------------------------------ observables (molecules per cell)
    m.observable("IL2_bound_surface", ["IL2(a!+)", "IL2(a,b!+)"])
    m.observable("IL2_internal", "IL2EN()")
    # free IL-2 moieties in the medium (two per free fusion)
    m.observable("IL2_free", "IL2(a,b,g)" if valency == 1 else ["IL2(fc~F)", "IL2(fc~F)"] if pair
                 else "IL2(a,b,g,fc!9).IL2(a,b,g,fc!9)")
    m.observable("IL2_high_affinity", "IL2(a!+,b!+,g!+)")
    m.observable("IL2_intermediate", "IL2(a,b!+,g!+)")
    m.observable("pSTAT5", "STAT5(y~p)")
    m.observable("pSTAT5_nuclear", "STAT5(y~p,loc~n)")
    m.observable("pAkt", "AKT(s~p)")
    m.observable("ppERK", "ERK(t~p,y~p)")
    m.observable("RAS_GTP", "RAS(n~gtp)")
    m.observable("PIP3", "PIP(s~3)")
    m.observable("CISH_total", "CISH()")
    if pair:
        _pair_closure(m, BETA0)
    return m


model = _build()


# ------------------------------------------------------------------ engineered IL-2 (model_src/variants.py)
def _variants_module():
    """model_src/variants.py, loaded by path (model files are run by path, not imported as a package)."""
    import importlib.util
    import sys

    if "il2_variants" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "il2_variants", os.path.join(os.path.dirname(os.path.abspath(__file__)), "variants.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules["il2_variants"] = module
        spec.loader.exec_module(module)
    return sys.modules["il2_variants"]


def build_model(ligand: str = "WT", valency: int = 1, downstream: bool = True):
    """The IL-2 model stimulated by ``ligand`` (a variant of ``model_src/variants.py``; ``WT``:
    wild-type IL-2, this file's ``model`` itself) carrying ``valency`` IL-2 moieties per molecule;
    ``downstream=False`` leaves out the rules that only pAkt and ppERK read (exact for pSTAT5 and
    every receptor observable; :func:`_build`), for analyses of pSTAT5 alone.

    A variant has the wild-type constants with ``Kd_a``, ``Kd_b`` and ``K2_b_La`` multiplied by
    its measured ratios (variants.py states the mapping and why); valency 2 is the bivalent Fc
    fusion of :func:`_build` in its pair approximation (``IL2_pM`` then counts fusion
    molecules). Cell types are kept; the model is named ``il2_<ligand>`` (``il2_<ligand>_bivalent``), its files
    ``il2_<ligand>_<cell>.xml``.
    """
    from il2sbml import ModelError

    if valency not in (1, 2):
        raise ModelError(f"valency {valency!r}: a ligand carries 1 or 2 IL-2 moieties",
                         hint="use --valency 1 (monovalent) or --valency 2 (bivalent Fc fusion)")
    V = _variants_module()
    try:
        variant = V.variant(ligand)
    except V.VariantError as exc:
        raise ModelError(str(exc), hint="name a variant of model_src/variants.py") from None
    if valency == 2 and variant.fusion is None:
        raise ModelError(f"ligand {ligand!r} is unfused IL-2, one moiety: it has no bivalent form",
                         hint="a bivalent wild-type fusion is WT_N_term or WT_C_term with --valency 2")
    if ligand == "WT":
        return model if downstream else _build(1, downstream=False)
    base_model = model if valency == 1 and downstream else _build(valency, downstream=downstream)
    factors = variant.factors(V.read_table())
    base = base_model.parameter_values()
    values = {name: base[name] * f for name, f in factors.items()}
    what = (f"ligand {ligand} ({variant.label}; {variant.measured}; IL-2Ralpha Kd {variant.kd_alpha_nM:g} nM, "
            f"IL-2Rbeta/gamma-c Kd {variant.kd_betagamma_nM:g} nM against {variant.reference}; {variant.citation}): "
            + ", ".join(f"{name} x {f:.4g}" for name, f in factors.items()))
    import copy

    draft = copy.copy(base_model)
    draft.parameter_sets = dict(base_model.parameter_sets)
    draft.parameter_set("ligand", values, doc=what)
    out = draft.with_parameter_set("ligand")          # the variant's constants; cell types dropped here ...
    for name, ps in base_model.parameter_sets.items():    # ... and declared again on the variant
        out.parameter_set(name, dict(ps.values), doc=ps.doc)
    out.name = f"il2_{ligand}" + ("_bivalent" if valency == 2 else "")
    return out
