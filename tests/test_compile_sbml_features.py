"""SBML features the SSA compiles (issue 17): kinetic laws that read time, events that set
parameters, non-persistent triggers, triggers of any condition of counts and parameters; and
what stays refused, by name. Models are built with libSBML, read by our reader, compiled and
run by the kernels; stochastic checks are against exact Poisson distributions with the DSMTS
criterion (tests/test_kernels_time.py explains it)."""

import math

import libsbml
import numpy as np
import pytest

import kernels
from il2sbml.formats.sbmlread import read_sbml
from il2sbml.lang.errors import NotSupportedError
from il2sbml.simulate.compile import compile_network

N = 10_000
T = np.arange(0.0, 11.0)


def sbml(tmp_path, species, params, reactions, events=(), name="m"):
    """An SBML L3V2 file: species {id: amount}, params {id: value}, reactions
    [(id, reactants, products, law)], events [(id, trigger, [(var, formula)], persistent)]."""
    doc = libsbml.SBMLDocument(3, 2)
    m = doc.createModel()
    m.setId(name)
    c = m.createCompartment()
    c.setId("cell")
    c.setSize(1.0)
    c.setConstant(True)
    for sid, amount in species.items():
        s = m.createSpecies()
        s.setId(sid)
        s.setCompartment("cell")
        s.setInitialAmount(amount)
        s.setHasOnlySubstanceUnits(True)
        s.setBoundaryCondition(False)
        s.setConstant(False)
    for pid, value in params.items():
        p = m.createParameter()
        p.setId(pid)
        p.setValue(value)
        p.setConstant(not any(pid == var for _, _, assigns, _ in events for var, _ in assigns))
    for rid, reactants, products, law in reactions:
        r = m.createReaction()
        r.setId(rid)
        r.setReversible(False)
        for sid in reactants:
            ref = r.createReactant()
            ref.setSpecies(sid)
            ref.setStoichiometry(1)
            ref.setConstant(True)
        for sid in products:
            ref = r.createProduct()
            ref.setSpecies(sid)
            ref.setStoichiometry(1)
            ref.setConstant(True)
        r.createKineticLaw().setMath(libsbml.parseL3Formula(law))
    for eid, trigger, assigns, persistent in events:
        e = m.createEvent()
        e.setId(eid)
        e.setUseValuesFromTriggerTime(True)
        tr = e.createTrigger()
        tr.setInitialValue(False)
        tr.setPersistent(persistent)
        tr.setMath(libsbml.parseL3Formula(trigger))
        for var, formula in assigns:
            a = e.createEventAssignment()
            a.setVariable(var)
            a.setMath(libsbml.parseL3Formula(formula))
    path = tmp_path / f"{name}.xml"
    path.write_text(libsbml.writeSBMLToString(doc), encoding="utf-8")
    return read_sbml(str(path))


def poisson_ok(res, lam):
    zf = yf = 0
    for k in range(1, len(lam)):
        m, sd = res.mean[k, 0], res.sd[k, 0]
        z = math.sqrt(N) * (m - lam[k]) / math.sqrt(lam[k])
        s2 = ((N - 1) * sd ** 2 + N * (m - lam[k]) ** 2) / N
        y = math.sqrt(N / 2) * (s2 / lam[k] - 1)
        zf += not -3 < z < 3
        yf += not -5 < y < 5
    return zf <= 1 and yf <= 1


@pytest.fixture(autouse=True)
def law_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("IL2SBML_CACHE", str(tmp_path / "laws"))


def test_law_of_time_with_a_non_persistent_event_setting_a_parameter(tmp_path):
    # births at a + b*time; at time 4 a non-persistent event doubles a
    net = sbml(tmp_path, {"X": 0}, {"a": 3.0, "b": 1.0},
               [("birth", [], ["X"], "a + b * time")],
               [("double", "time >= 4", [("a", "2 * a")], False)])
    arrays = compile_network(net)
    assert arrays.time_reactions.tolist() == [0]
    res = kernels.run_ensemble(arrays, T, N, seed=4)
    lam = 3.0 * T + T ** 2 / 2 + np.where(T > 4, 3.0 * (T - 4), 0.0)
    assert poisson_ok(res, lam), res.mean[:, 0]


def test_parameter_set_by_an_event_makes_mass_action_general(tmp_path):
    # X -> 0 at k*X is mass action, but an event sets k = 0 at time 2: from then on X stays put
    net = sbml(tmp_path, {"X": 1000}, {"k": 0.3},
               [("death", ["X"], [], "k * X")], [("stop", "time >= 2", [("k", "0")], True)])
    arrays = compile_network(net)
    assert arrays.law_reactions.tolist() == [True]
    res = kernels.run_ensemble(arrays, T, 50, seed=1, keep_trajectories=True)
    x = res.trajectories[:, :, 0]
    assert (x[:, 1] < 1000).all() and (x[:, 2:] == x[:, 2:3]).all()


def test_trigger_of_counts_and_parameters(tmp_path):
    # births at a until X >= 50 while a > 0: the event sets a = 0 and X = X - 10 (a law value)
    net = sbml(tmp_path, {"X": 0}, {"a": 20.0},
               [("birth", [], ["X"], "a")],
               [("cap", "X >= 50 && a > 0", [("a", "0"), ("X", "X - 10")], True)])
    res = kernels.run_ensemble(compile_network(net), T, 100, seed=2, keep_trajectories=True)
    assert (res.trajectories[:, -1, 0] == 40).all()


def test_what_stays_refused_is_named(tmp_path):
    net = sbml(tmp_path, {"X": 0}, {"a": 1.0}, [("birth", [], ["X"], "a")],
               [("grow", "time >= 1", [("cell", "2")], True)], name="comp")
    with pytest.raises(NotSupportedError, match="event grow assigns 'cell', not a species or a parameter"):
        compile_network(net)
    net = sbml(tmp_path, {"X": 0}, {"a": 1.0}, [("birth", [], ["X"], "a")],
               [("mix", "time >= X", [("a", "2")], True)], name="mix")
    with pytest.raises(NotSupportedError, match="event mix: trigger .* reads time"):
        compile_network(net)
    net = sbml(tmp_path, {"X": 0}, {"a": 1.0}, [("birth", [], ["X"], "a")],
               [("half", "time >= 1", [("X", "0.5")], True)], name="half")
    with pytest.raises(NotSupportedError, match="event half sets X to 0.5, not a whole number"):
        compile_network(net)


def test_sbml_reading_does_not_depend_on_libsbml_ast_types(tmp_path):
    """Once libsedml is imported (the OMEX export does), libSBML's ASTNode.getType() returns
    opaque SWIG objects instead of integers: a reader that compared it took a rule of species
    counts (``obs = S + P``) for a rule of constants and failed in CI's test order. In a fresh
    process, libsedml first, then an SBML model with such a rule in a kinetic law."""
    import subprocess
    import sys
    import textwrap

    from il2sbml.formats.sbml import write_sbml
    from il2sbml.formats.bngl import read_bngl
    from il2sbml.generate.netgen import generate_network

    bngl = tmp_path / "m.bngl"
    bngl.write_text(textwrap.dedent("""\
        begin model
        begin parameters
          k 0.01
        end parameters
        begin molecule types
          S()
          P()
        end molecule types
        begin seed species
          S() 100
        end seed species
        begin observables
          Molecules Tot S() P()
        end observables
        begin functions
          f() = k*Tot/100
        end functions
        begin reaction rules
          S() -> P() f()
        end reaction rules
        end model
        """), encoding="utf-8")
    sbml = tmp_path / "m.xml"
    sbml.write_text(write_sbml(generate_network(read_bngl(str(bngl)))), encoding="utf-8")
    code = textwrap.dedent(f"""\
        import libsbml, libsedml
        n = libsbml.parseL3Formula("a + b").getChild(0)
        print("ast-types-are-ints", isinstance(n.getType(), int))
        import numpy as np, kernels
        from il2sbml.formats.sbmlread import read_sbml
        from il2sbml.simulate.compile import compile_network
        r = kernels.run_ensemble(compile_network(read_sbml({str(sbml)!r})), np.linspace(0, 10, 3), 50, seed=1)
        print("mean", r.mean[-1].tolist())
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "ast-types-are-ints False" in out.stdout   # the condition this test is about still holds
    assert "mean" in out.stdout
