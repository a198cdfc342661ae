"""il2sbml.simulate.ode and il2sbml.analysis.plots on real libRoadRunner, with small models built by the DSL and
written by the SBML writer: known answers (one-site binding), the fast dose path against models
regenerated from source, per-call overrides, fits, durations and plots."""

import math
import pickle
from functools import lru_cache

import numpy as np
import pytest

from il2sbml import Model, generate_network
from il2sbml.simulate.ode import (FitError, ParameterError, SimulationError, Simulator, UnknownIdError,
                         fit_binding, fit_hill, parse_duration)
from il2sbml.analysis.plots import dose_response_figure, plot_dose_response, plot_time_course, time_course_figure
from il2sbml.formats.sbml import write_sbml

AVOGADRO = 6.02214076e23
DEFAULTS = {"V": 1e-6, "L0": 1.0, "R0": 1000.0, "kon": 1e6, "Kd": 1e-9}
PNG = b"\x89PNG\r\n\x1a\n"


@lru_cache
def onesite(**values) -> str:
    """L + R <-> LR. Ligand L in the medium (3-D, V litres per cell, dosed in nM), receptor R on
    the membrane (2-D) in molecules per cell; koff = kon*Kd by an initial assignment."""
    p = {**DEFAULTS, **values}
    m = Model("onesite", require_units=True)
    m.parameter("V", p["V"], "L", doc="medium volume per cell")
    m.parameter("A", 150, "um^2", doc="membrane area")
    m.parameter("L0", p["L0"], "nM", doc="ligand dose")
    m.parameter("N_A", AVOGADRO, "molecule/mol")
    m.parameter("R0", p["R0"], "molecule", doc="receptors per cell")
    m.parameter("kon", p["kon"], "1/(M*s)")
    m.parameter("Kd", p["Kd"], "M")
    m.parameter("koff", "kon*Kd", "1/s")
    m.compartment("EC", dimension=3, size="V", units="L")
    m.compartment("PM", dimension=2, size="A", units="um^2", parent="EC")
    m.molecule_type("L(r)")
    m.molecule_type("R(l)")
    m.seed("L(r)@EC", "L0*N_A*V")
    m.seed("R(l)@PM", "R0")
    m.rule("bind", "L(r) + R(l) <-> L(r!1).R(l!1)", "kon", "koff")
    m.observable("bound", "L(r!+)")
    m.observable("free_R", "R(l)")
    return write_sbml(generate_network(m))


def exact_bound(L0_nM, V=DEFAULTS["V"], R0=DEFAULTS["R0"], Kd=DEFAULTS["Kd"]):
    """Equilibrium complexes (molecules) with ligand depletion: the root of
    B^2 - (Lt + Rt + K) B + Lt Rt = 0, in the cancellation-free form."""
    Lt, K = L0_nM * 1e-9 * AVOGADRO * V, Kd * AVOGADRO * V
    s = Lt + R0 + K
    return 2 * Lt * R0 / (s + math.sqrt(s * s - 4 * Lt * R0))


@pytest.fixture(scope="module")
def sim():
    return Simulator(onesite())


def test_ids_and_loading_from_a_path_or_text(tmp_path, sim):
    path = tmp_path / "onesite.xml"
    path.write_text(onesite(), encoding="utf-8")
    from_path = Simulator(path)
    assert from_path.sbml == sim.sbml
    assert sim.observables == ("bound", "free_R")
    assert len(sim.species) == 3
    assert sim.parameters["L0"] == 1.0 and sim.parameters["R0"] == 1000.0
    assert "koff" not in sim.parameters and "bound" not in sim.parameters   # computed, not settable
    with pytest.raises(SimulationError, match="cannot read"):
        Simulator(tmp_path / "missing.xml")


def test_steady_state_matches_the_exact_equilibrium(sim):
    ss = sim.steady_state()
    assert ss["bound"] == pytest.approx(exact_bound(1.0), rel=1e-6)
    assert ss["bound"] + ss["free_R"] == pytest.approx(1000.0, rel=1e-12)
    assert set(sim.species) <= set(ss)


def test_steady_state_agrees_with_a_long_time_course(sim):
    ss = sim.steady_state(L0=0.3)
    tc = sim.time_course(2e5, 2, ["bound", "free_R"] + list(sim.species), L0=0.3)   # 400 relaxation times
    for name, values in tc.items():
        if name != "time":
            assert ss[name] == pytest.approx(values[-1], rel=1e-7), name


def test_dose_response_and_fit_binding_recover_kd(sim):
    """V = 1 uL per cell: at most 1e-5 of the ligand is bound, so the fitted Kd is the true
    1 nM (within 1%) and every point is the exact equilibrium."""
    doses = np.logspace(-2, 2, 13)   # nM
    out = sim.dose_response("L0", doses, ["bound"])
    assert np.array_equal(out["dose"], doses)
    np.testing.assert_allclose(out["bound"], [exact_bound(d) for d in doses], rtol=1e-6)
    fit = fit_binding(doses, out["bound"])
    assert fit.kd == pytest.approx(1.0, rel=0.01)
    assert fit.bmax == pytest.approx(1000.0, rel=0.01)
    assert fit.r2 > 0.9999


def test_fast_dose_path_matches_models_regenerated_from_source(sim):
    doses = [0.05, 2.0, 40.0]
    at_10min = sim.dose_response("L0", doses, ["bound", "free_R"], time=600)
    steady = sim.dose_response("L0", doses, ["bound"])
    for i, dose in enumerate(doses):
        fresh = Simulator(onesite(L0=dose))
        tc = fresh.time_course(600, 2, ["bound", "free_R"])
        assert at_10min["bound"][i] == pytest.approx(tc["bound"][-1], rel=1e-9)
        assert at_10min["free_R"][i] == pytest.approx(tc["free_R"][-1], rel=1e-9)
        assert steady["bound"][i] == pytest.approx(fresh.steady_state()["bound"], rel=1e-9)


def test_overrides_reach_derived_values_and_do_not_leak(sim):
    """Kd feeds koff and V the medium compartment, whose size the kinetic law reads; an
    override must reach both, and be gone in the next call."""
    first = sim.time_course(900, 10)
    changed = sim.time_course(900, 10, Kd=4e-9, V=1e-7)
    again = sim.time_course(900, 10)
    for name in ("time", "bound", "free_R"):
        assert np.array_equal(again[name], first[name]), name
    ref = Simulator(onesite(Kd=4e-9, V=1e-7)).time_course(900, 10)
    np.testing.assert_allclose(changed["bound"], ref["bound"], rtol=1e-9)
    assert not np.allclose(changed["bound"], first["bound"], rtol=1e-3)


DECAY = """<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
  <model id="decay" substanceUnits="item" timeUnits="second" extentUnits="item">
    <listOfCompartments>
      <compartment id="C" spatialDimensions="3" size="1" constant="true"/>
    </listOfCompartments>
    <listOfSpecies>
      <species id="A" compartment="C" initialAmount="0" hasOnlySubstanceUnits="true"
               boundaryCondition="false" constant="false"/>
    </listOfSpecies>
    <listOfParameters>
      <parameter id="V" value="1" constant="true"/>
      <parameter id="k" value="1" constant="true"/>
      <parameter id="k2" value="2" constant="true"/>
      <parameter id="A0" value="100" constant="true"/>
      <parameter id="A_left" value="0" constant="false"/>
    </listOfParameters>
    <listOfInitialAssignments>
      <initialAssignment symbol="C"><math xmlns="http://www.w3.org/1998/Math/MathML">
        <ci> V </ci></math></initialAssignment>
      <initialAssignment symbol="k2"><math xmlns="http://www.w3.org/1998/Math/MathML">
        <apply><times/><cn> 2 </cn><ci> k </ci></apply></math></initialAssignment>
      <initialAssignment symbol="A"><math xmlns="http://www.w3.org/1998/Math/MathML">
        <ci> A0 </ci></math></initialAssignment>
    </listOfInitialAssignments>
    <listOfRules>
      <assignmentRule variable="A_left"><math xmlns="http://www.w3.org/1998/Math/MathML">
        <apply><divide/><ci> A </ci><ci> A0 </ci></apply></math></assignmentRule>
    </listOfRules>
    <listOfReactions>
      <reaction id="decay" reversible="false">
        <listOfReactants><speciesReference species="A" stoichiometry="1" constant="true"/></listOfReactants>
        <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML">
          <apply><divide/><apply><times/><ci> k2 </ci><ci> A </ci></apply><ci> C </ci></apply>
        </math></kineticLaw>
      </reaction>
    </listOfReactions>
  </model>
</sbml>
"""


def test_initial_assignments_of_parameters_and_compartments_follow_overrides():
    """SBML from elsewhere: k2 = 2k and C = V by initial assignments, A decays at k2*A/C, so
    A(t) = A0 exp(-2k t / V). libRoadRunner's reset() alone would keep k2 and C stale."""
    sim = Simulator(DECAY)
    assert sim.observables == ("A_left",) and set(sim.parameters) == {"V", "k", "A0"}
    t = np.linspace(0, 3, 7)
    for k, V, A0 in [(1.0, 1.0, 100.0), (0.5, 4.0, 1e6), (1.0, 1.0, 100.0)]:
        tc = sim.time_course(3, 7, ["A", "A_left"], k=k, V=V, A0=A0)
        np.testing.assert_allclose(tc["A"], A0 * np.exp(-2 * k * t / V), rtol=1e-6)
        np.testing.assert_allclose(tc["A_left"], np.exp(-2 * k * t / V), rtol=1e-6)
    with pytest.raises(ParameterError, match=r"\(k2 = 2 \* k\)"):
        sim.set(k2=3.0)


def test_set_is_a_baseline_that_call_overrides_build_on():
    sim = Simulator(onesite())
    sim.set(R0=2000)
    base = sim.time_course(600, 5, ["bound"])
    on_top = sim.time_course(600, 5, ["bound"], L0=5.0)
    for got, source in ((base, onesite(R0=2000)), (on_top, onesite(R0=2000, L0=5.0))):
        ref = Simulator(source).time_course(600, 5, ["bound"])
        np.testing.assert_allclose(got["bound"], ref["bound"], rtol=1e-9)
    clone = pickle.loads(pickle.dumps(sim))    # ships as SBML text plus the baseline
    np.testing.assert_array_equal(clone.time_course(600, 5, ["bound"])["bound"], base["bound"])


def test_time_course_output_times_and_selections(sim):
    tc = sim.time_course(120, 5, ["bound", "R0", "EC"])
    np.testing.assert_allclose(tc["time"], [0, 30, 60, 90, 120])
    assert tc["bound"][0] == 0 and np.all(np.diff(tc["bound"]) > 0)
    assert np.all(tc["R0"] == 1000) and np.all(tc["EC"] == pytest.approx(1e-6))
    with pytest.raises(UnknownIdError, match="did you mean bound"):
        sim.time_course(10, 2, ["bund"])
    with pytest.raises(ValueError):
        sim.time_course(10, 1)


def test_setting_what_cannot_be_set_is_refused_clearly(sim):
    with pytest.raises(UnknownIdError, match="did you mean.*kon") as err:
        sim.set(kom=1.0)
    assert isinstance(err.value, KeyError)
    with pytest.raises(ParameterError, match=r"computed from other quantities \(koff = kon \* Kd\)"):
        sim.time_course(10, 2, koff=1.0)
    with pytest.raises(ParameterError, match="observable"):
        sim.dose_response("bound", [1, 2], ["free_R"])
    with pytest.raises(ParameterError, match="finite"):
        sim.steady_state(L0=float("nan"))


def test_a_state_that_never_settles_is_an_error():
    m = Model("grow")
    m.parameter("k", 1.0)
    m.molecule_type("A()")
    m.rule("make", "0 -> A()", "k")
    m.observable("A_total", "A()")
    with pytest.raises(SimulationError, match="no steady state"):
        Simulator(write_sbml(generate_network(m))).steady_state()


def hill(doses, ec50, n, bottom, top):
    return bottom + (top - bottom) / (1 + (ec50 / np.asarray(doses)) ** n)


@pytest.mark.parametrize("ec50,n,bottom,top", [(3.0, 1.5, 5.0, 100.0), (0.2, 0.8, 1e4, 2e3),
                                               (40.0, 3.0, 0.0, 1.0)])
def test_fit_hill_recovers_known_curves(ec50, n, bottom, top):
    doses = np.logspace(-3, 3, 15)
    fit = fit_hill(doses, hill(doses, ec50, n, bottom, top))
    assert fit.ec50 == pytest.approx(ec50, rel=1e-4)
    assert fit.hill == pytest.approx(n, rel=1e-4)
    assert (fit.bottom, fit.top) == pytest.approx((bottom, top), rel=1e-4, abs=1e-6 * abs(top - bottom))
    assert fit.r2 > 0.999999
    np.testing.assert_allclose(fit(doses), hill(doses, ec50, n, bottom, top), rtol=1e-4,
                               atol=1e-6 * abs(top - bottom))


def test_fit_hill_with_noise_stays_close():
    rng = np.random.default_rng(7)
    doses = np.logspace(-2, 3, 12)
    y = hill(doses, 5.0, 1.2, 10.0, 110.0) + rng.normal(0, 1.0, doses.size)
    fit = fit_hill(doses, y)
    assert fit.ec50 == pytest.approx(5.0, rel=0.15) and fit.hill == pytest.approx(1.2, rel=0.2)


def test_fit_hill_refuses_data_that_cannot_give_an_ec50():
    doses = np.logspace(-2, 2, 8)
    with pytest.raises(FitError, match="at least 4"):
        fit_hill(doses[:3], [1, 2, 3])
    with pytest.raises(FitError, match="> 0"):
        fit_hill([0, 1, 10, 100], [0, 1, 5, 9])
    with pytest.raises(FitError, match="flat"):
        fit_hill(doses, np.full(8, 42.0))
    with pytest.raises(FitError, match="span only"):
        fit_hill(doses, hill(doses, 1e4, 1.0, 0.0, 100.0))     # only the foot of the curve
    with pytest.raises(FitError, match="span only"):
        fit_hill(doses, hill(doses, 50.0, 1.0, 0.0, 100.0))    # EC50 inside, top never reached
    with pytest.raises(FitError, match="doses but"):
        fit_hill(doses, [1, 2, 3, 4])
    with pytest.raises(FitError, match="finite"):
        fit_hill(doses, [1, 2, 3, 4, 5, 6, 7, np.nan])


def test_fit_binding_refuses_bad_data():
    L = np.array([0.0, 0.1, 1.0, 10.0])
    assert fit_binding(L, 50 * L / (1 + L)).kd == pytest.approx(1.0, rel=1e-6)
    with pytest.raises(FitError, match="at least 3"):
        fit_binding([1, 2], [1, 2])
    with pytest.raises(FitError, match="ligand >= 0"):
        fit_binding([-1, 1, 2], [0, 1, 2])
    with pytest.raises(FitError, match="span only"):
        fit_binding(L, 50 * L / (1e4 + L))                     # linear: Kd far above the data


@pytest.mark.parametrize("text,seconds", [("90s", 90), ("30m", 1800), ("30min", 1800), ("2h", 7200),
                                          ("1.5h", 5400), (" 45 ", 45), ("1e3", 1000), ("1d", 86400),
                                          (".5m", 30), (12, 12.0)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "5x", "-5s", "1.5.3h", "2 hours", None, float("inf")])
def test_parse_duration_refuses(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_dose_response_plot_is_log_scaled_with_fit_and_units(tmp_path):
    doses = np.logspace(-2, 3, 10)
    y = hill(doses, 3.0, 1.5, 5.0, 100.0)
    fit = fit_hill(doses, y)
    fig = dose_response_figure(doses, {"pSTAT5": y, "pAkt": y / 2}, fits={"pSTAT5": fit},
                               response_label="pSTAT5 (molecules per cell)")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "IL-2 (pM)" and ax.get_ylabel() == "pSTAT5 (molecules per cell)"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "pAkt" in labels and any(l.startswith("pSTAT5: EC50 3 pM") for l in labels)
    data = [plot_dose_response(tmp_path / "dr.png", doses, {"pSTAT5": y}, fits={"pSTAT5": fit}).read_bytes()
            for _ in range(2)]
    assert data[0].startswith(PNG) and len(data[0]) > 5000
    assert data[0] == data[1]                                            # reproducible bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dr.png"]    # no temporary files left
    with pytest.raises(ValueError, match="> 0"):
        dose_response_figure([0, 1, 10], {"a": [1, 2, 3]})
    with pytest.raises(ValueError, match="values"):
        dose_response_figure([1, 10], {"a": [1, 2, 3]})
    with pytest.raises(ValueError, match="format"):
        plot_dose_response(tmp_path / "dr.xyz", doses, {"a": y})


def test_time_course_plot_shows_minutes(tmp_path, sim):
    tc = sim.time_course(3600, 61)
    fig = time_course_figure(tc["time"], {"bound": tc["bound"]}, ylabel="molecules per cell", log_y=True)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "time (min)" and ax.get_yscale() == "log"
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), np.linspace(0, 60, 61))
    path = plot_time_course(tmp_path / "tc.png", tc["time"], {"bound": tc["bound"], "free": tc["free_R"]},
                            ylabel="molecules per cell", title="one-site binding")
    assert path.read_bytes().startswith(PNG)
