"""blbr (BioNetGen validation model) in the il2sbml DSL: bivalent ligand, bivalent receptor with rings, truncated by max_stoich."""
from il2sbml import Model

m = Model("blbr")
m.parameter("kp1", 1)
m.parameter("km1", 1)
m.parameter("kp2", 1)
m.parameter("km2", 1)
m.parameter("kp3", 1)
m.parameter("km3", 1)
m.parameter("R0", 3e5)
m.parameter("L0", 3e5)
# no molecule types block in the BNGL file: declarations inferred from seeds and rules
m.molecule_type("R(r,r)")
m.molecule_type("L(l,l)")
m.seed("R(r,r)", "R0")
m.seed("L(l,l)", "L0")
m.rule("Rule1", "R(r) + L(l,l) <-> R(r!1).L(l!1,l)", "kp1", "km1")
m.rule("Rule2", "R(r) + L(l,l!+) <-> R(r!1).L(l!1,l!+)", "kp2", "km2")
m.rule("Rule3", "R(r).L(l) <-> R(r!1).L(l!1)", "kp3", "km3")
m.generate_network_options(max_stoich={"R": 5, "L": 5})
model = m
