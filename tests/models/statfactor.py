"""statfactor (BioNetGen validation model) in the il2sbml DSL: symmetry factors."""
from il2sbml import Model

m = Model("statfactor")
m.parameter("k", 1)
m.parameter("C", 1)
m.molecule_type("A(b~0~1)")
m.molecule_type("B()")
m.seed("A(b~0)", "C")
m.seed("A(b~1)", "C")
m.seed("B()", "C")
m.rule("R1", "A(b) + A(b) <-> A(b!1).A(b!1)", "k", "k")
m.rule("R2", "A(b~0) + B() <-> A(b~1) + B()", "k", "k")
m.rule("R3", "A(b) + A(b) + B() + B() <-> A(b!1).A(b!1) + B() + B()", "k", "k")
model = m
