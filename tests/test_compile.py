"""Network -> kernel arrays: the SSA ensemble mean of the IL-2 receptor-assembly model at its real copy
numbers (thousands of molecules) agrees with the libRoadRunner ODE solution of our SBML."""

import numpy as np
import pytest
import roadrunner

from il2sbml import Model, generate_network, load_model
from il2sbml.simulate.compile import compile_network
from il2sbml.lang.errors import NotSupportedError
from il2sbml.formats.sbml import write_sbml


def test_il2_ensemble_mean_matches_ode_within_one_percent():
    import kernels

    net = generate_network(load_model("tests/models/il2_receptor.py"))
    t = np.linspace(0.0, 600.0, 7)
    res = kernels.run_ensemble(compile_network(net, round_initial=True), t, 200, seed=20261126)
    r = roadrunner.RoadRunner(write_sbml(net))
    r.integrator.relative_tolerance = 1e-10
    r.integrator.absolute_tolerance = 1e-10
    ids = [f"s{i + 1}" for i in range(len(net.species))]
    r["init(s1)"] = round(r["init(s1)"])            # the same whole number of IL-2 molecules
    ode = np.array(r.simulate(0, 600, 7, ids))
    mean, sd = np.asarray(res.mean), np.asarray(res.sd)
    big = ode > 1000                      # species at thousands of molecules
    assert big.sum() >= 20
    assert np.all(np.abs(mean[big] - ode[big]) <= 0.01 * ode[big])
    # everywhere: within 4 standard errors of the mean or 1 %
    se = sd / np.sqrt(200)
    assert np.all(np.abs(mean - ode) <= np.maximum(4 * se, 0.01 * ode) + 1e-9)


def test_falling_factorial_convention_for_homodimers():
    """A + A with rule rate k: c = 0.5*k (BioNetGen's factor), propensity c*x*(x-1)."""
    m = Model("dimer")
    m.parameter("k", 2.0)
    m.molecule_type("A(b)")
    m.seed("A(b)", 10)
    m.rule("bind", "A(b) + A(b) -> A(b!1).A(b!1)", "k")
    arrays = compile_network(generate_network(m))
    assert list(arrays.rates) == [1.0]


def test_non_integer_initial_amount_is_refused_by_name():
    m = Model("half")
    m.parameter("k", 1.0)
    m.molecule_type("A()")
    m.seed("A()", 2.5)
    m.rule("deg", "A() -> 0", "k")
    with pytest.raises(NotSupportedError, match=r"'A\(\)' starts at 2.5 molecules"):
        compile_network(generate_network(m))


def test_sbml_laws_over_rules_of_constants_compile_as_mass_action():
    """build/il2_Treg.xml writes derived constants (volumes, 2-D on-rates) as assignment rules of
    constants: its laws are still mass action for the SSA (no generated general law), with the
    DSL network's propensity constants; a rule that reads a species keeps its law general."""
    from il2sbml.simulate.compile import compile_sbml_network
    from il2sbml.formats.sbmlread import read_sbml

    net = read_sbml("build/il2_Treg.xml")
    assert {"V_medium", "PM", "K2_g_Lab"} <= {v for v, _ in net.sbml.static_rules}
    assert all(r.mass_action for r in net.reactions)
    ours = compile_sbml_network(net, round_initial=True)
    dsl = compile_network(generate_network(load_model("model_src/il2.py").with_parameter_set("Treg")),
                          round_initial=True)
    # only homodimerisations (x*x on amounts, SBML's stochastic semantics) go through the law
    law = np.asarray(ours.law_reactions, dtype=bool)
    assert 0 < law.sum() <= 2
    np.testing.assert_allclose(ours.rates[~law], dsl.rates[~law], rtol=1e-12)

    m = Model("ruled")
    m.parameter("k", 2.0)
    m.molecule_type("A()")
    m.molecule_type("B()")
    m.seed("A()", 10)
    m.seed("B()", 5)
    m.observable("Btot", "B()")
    m.function("kB", "k*Btot")
    m.rule("a_decays", "A() -> 0", "kB()")
    text = write_sbml(generate_network(m))
    sbml_net = read_sbml(text)
    assert not [r for r in sbml_net.reactions if r.mass_action]   # kB reads species B: not a constant
    assert "kB" not in {v for v, _ in sbml_net.sbml.static_rules}
