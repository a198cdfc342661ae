"""simple_system (BioNetGen validation model) in the il2sbml DSL: binding, catalysis and dephosphorylation."""
from il2sbml import Model

m = Model("simple_system")
m.parameter("kon", 10)
m.parameter("koff", 5)
m.parameter("kcat", 0.7)
m.parameter("dephos", 0.5)
m.molecule_type("X(y,p~0~1)")
m.molecule_type("Y(x)")
m.seed("X(y,p~0)", 5000)
m.seed("X(y,p~1)", 0)
m.seed("Y(x)", 500)
m.observable("X_free", "X(p~0,y)")
m.observable("X_p_total", "X(p~1)")
m.observable("Xp_free", "X(p~1,y)")
m.observable("XY", "X(y!1).Y(x!1)")
m.observable("Ytotal", "Y()")
m.observable("Xtotal", "X()")
m.rule("Rule1", "X(y,p~0) + Y(x) -> X(y!1,p~0).Y(x!1)", "kon")
m.rule("Rule2", "X(y!1,p~0).Y(x!1) -> X(y,p~0) + Y(x)", "koff")
m.rule("Rule3", "X(y!1,p~0).Y(x!1) -> X(y,p~1) + Y(x)", "kcat")
m.rule("Rule4", "X(p~1) -> X(p~0)", "dephos")
model = m
