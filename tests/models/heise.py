"""heise (BioNetGen validation model) in the il2sbml DSL: state inheritance (%labels) in a symmetric context."""
from il2sbml import Model

m = Model("heise")
m.parameter("PA", 1)
m.parameter("PB", 1)
m.parameter("vu", 1)
m.parameter("vl", 0)
m.parameter("kab", 1)
m.parameter("kac", 0)
m.parameter("kb0", 1)
m.molecule_type("A(c1~0~1)")
m.molecule_type("B(c1~0~1,c1~0~1)")
m.seed("A(c1~0)", 0)
m.observable("A", "A()")
m.observable("B", "B()")
m.rule("Rule1", "0 -> A(c1~0)", "vu")
m.rule("Rule2", "0 -> A(c1~1)", "vl")
m.rule("Rule3", "A(c1%1) + A(c1%2) -> B(c1%1,c1%2)", "kab")
m.rule("Rule4", "B() -> 0", "kb0")
model = m
