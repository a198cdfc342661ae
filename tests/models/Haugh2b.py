"""Haugh2b (BioNetGen validation model) in the il2sbml DSL: include_reactants/exclude_reactants."""
from il2sbml import Model

m = Model("Haugh2b")
m.parameter("kon_S1", 1)
m.parameter("koff_S1", 0.1)
m.parameter("kon_S2", 1)
m.parameter("koff_S2", 0.001)
m.parameter("kp1_PTP", 0.1)
m.parameter("km1_PTP", 90)
m.parameter("kcat_PTP", 10)
m.parameter("kp1_KD", 10)
m.parameter("km1_KD", 99)
m.parameter("kcat_KD", 1)
m.parameter("chi_m", 100)
m.parameter("R_tot", 1)
# no molecule types block in the BNGL file: declarations inferred from seeds and rules
m.molecule_type("R(KD,Y1~P)")
m.molecule_type("S1(PTP,SH2)")
m.molecule_type("S2(SH2,Y~U~P)")
m.seed("R(KD,Y1~P)", "R_tot")
m.seed("S1(PTP,SH2)", 1.00)
m.seed("S2(SH2,Y~U)", 0.25)
m.observable("S2_P_tot", "S2(Y~P!?)")
m.observable("S2_P_mem", ["S2(SH2!1,Y~P!?).R(Y1~P!1)", "S2(SH2,Y~P!1).S1(PTP!1,SH2!2).R(Y1!2)"])
m.observable("R_total", "R()")
m.observable("S1_total", "S1()")
m.observable("S2_total", "S2()")
m.rule("Rule1", "R(Y1~P) + S1(SH2) <-> R(Y1~P!1).S1(SH2!1)", "kon_S1", "koff_S1",
       exclude_reactants={2: "R()"})
m.rule("Rule2", "R(Y1~P) + S1(SH2) <-> R(Y1~P!1).S1(SH2!1)", "chi_m*kon_S1", "koff_S1",
       include_reactants={2: "R()"})
m.rule("Rule3", "R(Y1~P) + S2(SH2) <-> R(Y1~P!1).S2(SH2!1)", "kon_S2", "koff_S2",
       exclude_reactants={2: "R()"})
m.rule("Rule4", "R(Y1~P) + S2(SH2) <-> R(Y1~P!1).S2(SH2!1)", "chi_m*kon_S2", "koff_S2",
       include_reactants={2: "R()"})
m.rule("Rule5", "R(KD,Y1~P!1).S2(SH2!1,Y~U) <-> R(KD!2,Y1~P!1).S2(SH2!1,Y~U!2)", "kp1_KD", "km1_KD")
m.rule("Rule6", "R(KD!2,Y1~P!1).S2(SH2!1,Y~U!2) -> R(KD,Y1~P!1).S2(SH2!1,Y~P)", "kcat_KD")
m.rule("Rule7", "S2(Y~P) + S1(PTP) <-> S2(Y~P!1).S1(PTP!1)", "kp1_PTP", "km1_PTP",
       exclude_reactants={1: "R()", 2: "R()"})
m.rule("Rule8", "S2(Y~P) + S1(PTP) <-> S2(Y~P!1).S1(PTP!1)", "kp1_PTP", "km1_PTP",
       exclude_reactants={1: "R()"}, include_reactants={2: "R()"})
m.rule("Rule9", "S2(Y~P) + S1(PTP) <-> S2(Y~P!1).S1(PTP!1)", "kp1_PTP", "km1_PTP",
       include_reactants={1: "R()"}, exclude_reactants={2: "R()"})
m.rule("Rule10", "S2(Y~P) + S1(PTP) <-> S2(Y~P!1).S1(PTP!1)", "chi_m*kp1_PTP", "km1_PTP",
       include_reactants={1: "R()", 2: "R()"})
m.rule("Rule11", "S2(Y~P!1).S1(PTP!1) -> S2(Y~U) + S1(PTP)", "kcat_PTP")
model = m
