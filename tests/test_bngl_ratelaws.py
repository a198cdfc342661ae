"""BioNetGen's ``MM()`` and ``Sat()`` rate laws, checked against BNG2.pl on the same files.

* **Networks**: the same reactions, with BioNetGen's statistical factors (``2*MM kcat Km``) and
  volume factors (cBNGL), and the reactants in the rule's order (MM: substrate, enzyme).
* **Semantics**: our SBML, run in libRoadRunner, follows BNG2.pl's own ODE simulation
  (run_network, the ``.gdat`` trajectories) to 1e-8: MM is the free-substrate
  quasi-steady-state law, Sat ``k*X1*..*Xn/((K1+X1)...)``, both times the reaction's factors.
* **BNG2.pl's SBML**: ``writeSBML`` refuses MM ("Michaelis-Menton type reactions are not
  curently handled"), and for Sat writes the saturation term on the wrong species when the
  rule's first reactant is not the first species (its SBML then disagrees with its own ODE):
  the test says so and asserts that ours agrees with the ODE.
* The SSA refuses both laws by name; the DSL refuses them where units are declared.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from bngnet import parse_net
from test_bngl_bionetgen import bng2_path

from il2sbml import Model, generate_network
from il2sbml.formats.bngl import read_bngl, write_bngl
from il2sbml.formats.sbml import validate_sbml, write_sbml
from il2sbml.lang.errors import ModelError, NotSupportedError, UnitError

roadrunner = pytest.importorskip("roadrunner")


def run_bng(text: str, name: str, actions: str) -> dict:
    """BNG2.pl on ``text`` + ``actions``: its .net (parsed and raw), .gdat, SBML and output."""
    bng = bng2_path()
    with tempfile.TemporaryDirectory(prefix="il2sbml-bng-") as tmp:
        path = Path(tmp) / f"{name}.bngl"
        path.write_text(text + actions)
        proc = subprocess.run(["perl", bng, "-outdir", tmp, str(path)], capture_output=True, text=True, check=False,
                              timeout=300)
        out = {"rc": proc.returncode, "log": proc.stdout + proc.stderr}
        for key, suffix in (("net", ".net"), ("gdat", ".gdat"), ("sbml", "_sbml.xml")):
            f = Path(tmp) / f"{name}{suffix}"
            out[key] = f.read_text() if f.exists() else None
        if out["net"] is not None:
            out["parsed"] = parse_net(Path(tmp) / f"{name}.net")
    return out


def bng_reactions(out) -> list:
    """(reactant labels in order, product labels sorted, rate text) from BNG2.pl's .net."""
    net = out["parsed"]
    lab = [s.label for s in net.species]
    return sorted((tuple(lab[i] for i in r.reactants), tuple(sorted(lab[i] for i in r.products)), r.rate)
                  for r in net.reactions)


def our_reactions(net) -> list:
    lab = [s.label for s in net.species]
    return sorted((tuple(lab[i] for i in r.reactants), tuple(sorted(lab[i] for i in r.products)),
                   r.rate_string()) for r in net.reactions)


def same_labels(ours, bng):
    """Our reactions and BNG's, with species compared as canonical labels (up to isomorphism)."""
    from bngnet import canonical_species

    def canon(rows):
        return sorted((tuple(canonical_species(x) for x in rs), tuple(sorted(canonical_species(x) for x in ps)), rate)
                      for rs, ps, rate in rows)
    return canon(ours) == canon(bng)


def trajectories(sbml: str, t_end: float, points: int, names: list) -> np.ndarray:
    r = roadrunner.RoadRunner(sbml)
    r.integrator.relative_tolerance = 1e-12
    r.integrator.absolute_tolerance = 1e-12
    return r.simulate(0, t_end, points + 1, ["time"] + names)


def gdat(text: str) -> tuple[list, np.ndarray]:
    lines = text.splitlines()
    names = lines[0].lstrip("#").split()
    return names, np.loadtxt(lines[1:], ndmin=2)


ODE = 'simulate({method=>"ode",t_end=>%g,n_steps=>%d,atol=>1e-12,rtol=>1e-12})\n'

MM_STAT = """\
begin model
begin parameters
  kcat 1.0
  Km   30
end parameters
begin molecule types
  E()
  S(x~0~1,x~0~1)
end molecule types
begin seed species
  E() 10
  S(x~0,x~0) 100
end seed species
begin observables
  Species S00 S(x~0,x~0)
  Species S01 S(x~0,x~1)
  Species S11 S(x~1,x~1)
end observables
begin reaction rules
  S(x~0) + E() -> S(x~1) + E()  MM(kcat,Km)
end reaction rules
end model
generate_network({overwrite=>1})
"""

SAT = """\
begin model
begin parameters
  k0 2.0
  K1 30
  K2 7
  K3 4
end parameters
begin molecule types
  E()
  S()
  P()
end molecule types
begin seed species
  E() 10
  S() 100
end seed species
begin observables
  Molecules Stot S()
  Molecules Ptot P()
end observables
begin reaction rules
  S() + E() -> P() + E()  Sat(k0,K1)
  S() -> P()  Sat(k0,K2)
  P() + E() -> S() + E()  Sat(k0,K2,K3)
end reaction rules
end model
generate_network({overwrite=>1})
"""

MM_CBNGL = """\
begin model
begin parameters
  kcat 1.0
  Km   30
  k0   2
  K1   5
end parameters
begin compartments
  cyt 3 2.0
end compartments
begin molecule types
  E()
  S()
  P()
end molecule types
begin seed species
  E()@cyt 10
  S()@cyt 100
end seed species
begin observables
  Molecules Stot S()
  Molecules Ptot P()
end observables
begin reaction rules
  S()@cyt + E()@cyt -> P()@cyt + E()@cyt  MM(kcat,Km)
  P()@cyt + E()@cyt -> S()@cyt + E()@cyt  Sat(k0,K1)
end reaction rules
end model
generate_network({overwrite=>1})
"""


@pytest.mark.parametrize("name, text, rates", [
    ("mm_stat", MM_STAT, ["2*MM kcat Km", "MM kcat Km"]),
    ("sat", SAT, ["Sat k0 K1", "Sat k0 K2", "Sat k0 K2 K3"]),
    ("mm_cbngl", MM_CBNGL, ["0.5*MM kcat Km", "0.5*Sat k0 K1"]),
])
def test_network_and_ode_follow_bionetgen(name, text, rates):
    model = read_bngl(text, name=name)
    net = generate_network(model)
    out = run_bng(text, name, ODE % (3.0, 6))
    assert out["rc"] == 0, out["log"][-2000:]
    bng = bng_reactions(out)
    assert sorted(r for _, _, r in bng) == sorted(rates)
    ours = our_reactions(net)
    # volume factors: BNG2.pl folds 1/cyt into the number (0.5*), we keep the expression
    ours_as_bng = [(rs, ps, rate.replace("(1/cyt)*", "0.5*")) for rs, ps, rate in ours]
    assert same_labels(ours_as_bng, bng)
    # the same trajectories as BNG2.pl's own ODE (run_network)
    sbml = write_sbml(net)
    assert not validate_sbml(sbml)
    names, ref = gdat(out["gdat"])
    got = trajectories(sbml, 3.0, 6, names[1:])
    np.testing.assert_allclose(got[:, 1:], ref[:, 1:], rtol=1e-8, atol=1e-9)
    assert np.ptp(ref[:, 1]) > 1   # something happened


def test_bionetgens_own_sbml_refuses_mm_and_misplaces_sat():
    """What BNG2.pl's writeSBML does with the same files, for the record."""
    mm = run_bng(MM_STAT, "mm_stat", "writeSBML()\n")
    assert mm["rc"] != 0 and "Michaelis-Menton type reactions are not curently handled" in mm["log"]
    # Sat: rule S() + E(), species E is S1 and S is S2 in BNG's SBML; BNG's ODE saturates on
    # the rule's first reactant (S), its SBML on the first species (E): they disagree
    text = SAT.replace("  P() + E() -> S() + E()  Sat(k0,K2,K3)\n", "")
    out = run_bng(text, "sat", "writeSBML()\n" + ODE % (2.0, 2))
    assert out["rc"] == 0, out["log"][-2000:]
    _, ref = gdat(out["gdat"])
    theirs = trajectories(out["sbml"], 2.0, 2, ["S2"])        # S2 is S() in BNG's SBML
    assert abs(theirs[-1, 1] - ref[-1, 1]) > 10                 # BNG's SBML is not BNG's model
    ours = trajectories(write_sbml(generate_network(read_bngl(text, name="sat"))), 2.0, 2, ["Stot"])
    np.testing.assert_allclose(ours[:, 1], ref[:, 1], rtol=1e-8)


def test_written_bngl_keeps_the_rate_laws():
    model = read_bngl(SAT, name="sat")
    text = write_bngl(model)
    assert "Sat(k0,K2,K3)" in text and "Sat(k0,K1)" in text
    out = run_bng(text, "sat", "")
    assert same_labels(our_reactions(generate_network(model)), bng_reactions(out))
    back = read_bngl(text, name="sat")
    assert our_reactions(generate_network(back)) == our_reactions(generate_network(model))


def test_the_ssa_runs_mm_and_sat_as_generated_laws():
    """MM() and Sat() have no rate constant (net.rate_value refuses them), so the SSA compiles them
    as laws; their agreement with BioNetGen's SSA is tested in tests/test_ssa_bionetgen.py."""
    from il2sbml.simulate.compile import compile_network

    for text in (MM_STAT, SAT):
        net = generate_network(read_bngl(text))
        arrays = compile_network(net)
        assert arrays.law_reactions.all() and arrays.law is not None
        with pytest.raises(ValueError, match="not a rate constant"):
            net.rate_value(0)


@pytest.mark.parametrize("rule, rate, exc, words", [
    ("S() -> P()", "MM(kcat, Km)", ModelError, ["MM()", "2 reactants"]),
    ("S() + S() -> P() + S()", "MM(kcat, Km)", ModelError, ["two different reactant patterns"]),
    ("S() -> P()", "Sat(kcat, Km, Km)", ModelError, ["2 saturation constants", "1 reactant"]),
    ("S() -> P()", "MM(kcat)", ModelError, ["exactly 2 arguments"]),
    ("S() + E() -> P() + E()", "MM(kcat, Stot)", ModelError, ["constants (parameters)", "'Stot'"]),
    ("S() + E() -> P() + E()", "2*MM(kcat, Km)", ModelError, ["rate law", "whole rate"]),
])
def test_bad_rate_laws_are_refused_with_the_line(rule, rate, exc, words):
    m = Model("m")
    m.parameter("kcat", 1.0)
    m.parameter("Km", 2.0)
    for t in ("S()", "E()", "P()"):
        m.molecule_type(t)
    m.observable("Stot", "S()")
    with pytest.raises(exc) as info:
        m.rule("r", rule, rate)
    msg = str(info.value)
    assert "test_bngl_ratelaws.py" in msg and "rule 'r'" in msg, msg
    for w in words:
        assert w in msg, msg


def test_dsl_rate_laws_need_a_model_without_units():
    m = Model("m")
    m.parameter("kcat", 1.0, "1/s")
    m.parameter("Km", 2.0)
    m.molecule_type("S()")
    m.molecule_type("E()")
    m.molecule_type("P()")
    with pytest.raises(UnitError, match="without units"):
        m.rule("r", "S() + E() -> P() + E()", "MM(kcat, Km)")
    # without units the DSL has them too, with BioNetGen's meaning
    d = Model("d")
    d.parameter("kcat", 1.0)
    d.parameter("Km", 30.0)
    d.molecule_type("S()")
    d.molecule_type("E()")
    d.molecule_type("P()")
    d.seed("S()", 100)
    d.seed("E()", 10)
    d.rule("r", "S() + E() -> P() + E()", "MM(kcat, Km)")
    net = generate_network(d)
    assert [r.rate_string() for r in net.reactions] == ["MM kcat Km"]
    assert not validate_sbml(write_sbml(net))
