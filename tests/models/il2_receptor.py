"""IL-2 receptor assembly on one cell, Treg numbers: the first increment of model_src/il2.py,
kept as a small high-copy-number test model (SSA vs ODE, exports).

Ligand first: IL-2 from the medium binds IL-2Rα (CD25) or IL-2Rβ (CD122); IL-2Rβ joins IL-2·α
in the membrane; γc (CD132) joins IL-2·β or IL-2·α·β. There is no closed binding cycle, so
detailed balance holds by construction. model_src/il2.py has the calibrated constants,
trafficking, signalling and cell types; the values here are the earlier Farhat convention.

Units: time in seconds or minutes as declared, amounts in molecules per cell, medium volume
in mL per cell, membrane area in um^2. Sources are those gathered in
``shared/IL2_PARAMETERS.md`` (section and table named next to each value).
"""

from il2sbml import Model

m = Model("il2_receptor", require_units=True, doc=__doc__)

# ---- cell density and volumes
m.parameter("cells_per_mL", 1e6, "1/mL",
            doc="cell density; assumption: a typical culture density (1e6 cells/mL)")
m.parameter("V_medium", "1/cells_per_mL", "mL",
            doc="medium volume per cell, set by the cell density")
m.parameter("A_membrane", 150, "um^2",
            doc="T-cell surface area; assumption: sphere of radius 3.5 um (4*pi*r^2 ~ 150 um^2)")
m.compartment("EC", dimension=3, size="V_medium", units="mL", doc="extracellular medium, per cell")
m.compartment("PM", dimension=2, size="A_membrane", units="um^2", parent="EC", doc="plasma membrane")

# ---- doses and receptor numbers (Treg column)
m.parameter("IL2_pM", 10, "pM", doc="extracellular IL-2 at t = 0")
m.parameter("avogadro", 6.02214076e23, "molecule/mol", doc="Avogadro constant (exact, SI 2019)")
m.parameter("CD25_per_cell", 3589, "molecule",
            doc="IL-2Rα chains per Treg: IL2_PARAMETERS.md §2 (Farhat et al. 2021, final_receptor_levels.csv)")
m.parameter("CD122_per_cell", 662, "molecule", doc="IL-2Rβ chains per Treg: IL2_PARAMETERS.md §2 (Farhat 2021)")
m.parameter("CD132_per_cell", 14082, "molecule", doc="γc chains per Treg: IL2_PARAMETERS.md §2 (Farhat 2021)")

# ---- binding constants
m.parameter("kon_L", 1e7, "1/(M*s)",
            doc="IL-2 on-rate to receptor chains: IL2_PARAMETERS.md §1 (Farhat et al., kbnd 1e7 M^-1 s^-1)")
m.parameter("Kd_a", 10e-9, "M", doc="IL-2 + IL-2Rα Kd 10 nM: IL2_PARAMETERS.md §1 (Rickert et al. 2004)")
m.parameter("Kd_b", 144e-9, "M", doc="IL-2 + IL-2Rβ Kd 144 nM: IL2_PARAMETERS.md §1 (Rickert et al. 2004)")
m.parameter("koff_a", "kon_L*Kd_a", "1/s", doc="detailed balance: koff = kon * Kd")
m.parameter("koff_b", "kon_L*Kd_b", "1/s", doc="detailed balance: koff = kon * Kd")
m.parameter("kfwd", 1.25e-3, "1/(molecule*min)",
            doc="surface (2D) association per receptor per cell: IL2_PARAMETERS.md §1 (Farhat prior 0.00125)")
m.parameter("Kd_b_on_La", 63, "molecule",
            doc="IL-2Rβ joining IL-2·α, 3D Kd 63 nM (Rickert 2004); assumption: used as molecules/cell "
                "in 2D, following Farhat's code convention (k11rev = kfwd*63)")
m.parameter("Kd_g_on_Lb", 1.5, "molecule",
            doc="γc joining IL-2·β, 3D Kd 1.5 nM (Rickert 2004); same 2D convention (k5rev = kfwd*1.5)")
m.parameter("Kd_g_on_Lab", 12, "molecule",
            doc="γc joining IL-2·α·β, 3D Kd 12 nM (Rickert 2004); same 2D convention (k10rev = kfwd*12)")
m.parameter("krev_b_La", "kfwd*Kd_b_on_La", "1/min", doc="detailed balance")
m.parameter("krev_g_Lb", "kfwd*Kd_g_on_Lb", "1/min", doc="detailed balance")
m.parameter("krev_g_Lab", "kfwd*Kd_g_on_Lab", "1/min", doc="detailed balance")

# ---- molecules
m.molecule_type("IL2(a,b,g)", uniprot="P60568", doc="interleukin-2: sites for IL-2Rα, IL-2Rβ and γc")
m.molecule_type("IL2RA(l)", uniprot="P01589", doc="IL-2Rα (CD25)")
m.molecule_type("IL2RB(l)", uniprot="P14784", doc="IL-2Rβ (CD122)")
m.molecule_type("IL2RG(l)", uniprot="P31785", doc="common γ chain (CD132)")

m.seed("IL2(a,b,g)@EC", "IL2_pM*avogadro*V_medium")  # pM * molecule/mol * mL: converted to molecules
m.seed("IL2RA(l)@PM", "CD25_per_cell")
m.seed("IL2RB(l)@PM", "CD122_per_cell")
m.seed("IL2RG(l)@PM", "CD132_per_cell")

# ---- rules
m.rule("IL2_binds_a", "IL2(a,b,g) + IL2RA(l) <-> IL2(a!1,b,g).IL2RA(l!1)", "kon_L", "koff_a")
m.rule("IL2_binds_b", "IL2(a,b,g) + IL2RB(l) <-> IL2(a,b!1,g).IL2RB(l!1)", "kon_L", "koff_b")
m.rule("b_joins_IL2a", "IL2(a!+,b,g) + IL2RB(l) <-> IL2(a!+,b!1,g).IL2RB(l!1)", "kfwd", "krev_b_La")
m.rule("g_joins_IL2b", "IL2(a,b!+,g) + IL2RG(l) <-> IL2(a,b!+,g!1).IL2RG(l!1)", "kfwd", "krev_g_Lb")
m.rule("g_joins_IL2ab", "IL2(a!+,b!+,g) + IL2RG(l) <-> IL2(a!+,b!+,g!1).IL2RG(l!1)", "kfwd", "krev_g_Lab")

# ---- observables (molecules per cell)
m.observable("IL2_bound_surface", ["IL2(a!+)", "IL2(a,b!+)"])
m.observable("IL2_free", "IL2(a,b,g)")
m.observable("high_affinity_complexes", "IL2(a!+,b!+,g!+)")

model = m
