"""michment (BioNetGen validation model) in the il2sbml DSL: a global function of an observable as a rate law."""
from il2sbml import Model

m = Model("michment")
m.parameter("S0", 100)
m.parameter("E0", 10)
m.parameter("kcat", 2.0)
m.parameter("Km", 40.0)
m.parameter("kRT", 2.0)
m.parameter("kTR", 1.0)
m.molecule_type("E()")
m.molecule_type("S(a~0~P,c~R~T)")
m.seed("S(a~0,c~R)", "S0")
m.seed("E()", "E0")
m.observable("Sa0", "S(a~0)")
m.observable("SaP", "S(a~P)")
m.observable("ScR", "S(c~R)")
m.observable("ScT", "S(c~T)")
m.observable("S_tot", "S()")
m.observable("E_tot", "E()")
m.function("michment", "kcat/(Km + Sa0)")
m.rule("Rule1", "S(a~0) + E() -> S(a~P) + E()", "michment()")
m.rule("Rule2", "S(c~R) <-> S(c~T)", "kRT", "kTR")
model = m
