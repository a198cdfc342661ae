"""The IL-2 model (model_src/il2.py): its SBML contract, the committed build files, binding
assays against the seed table, detailed balance, dose-responses, co-culture, COPASI."""

import re
from pathlib import Path

import numpy as np
import pytest

from il2sbml import load_model, generate_network
from il2sbml.analysis.assays import ASSAY_CELLS, binding_assay, coculture_experiment, dose_response, ec50
from il2sbml.cli import main
from il2sbml.simulate.ode import Simulator
from il2sbml.formats.sbml import validate_sbml, write_sbml

MODEL = "model_src/il2.py"
BUILD = Path("build")
CELL_TYPES = ["Treg", "CD4_helper", "CD4_naive", "CD4_memory", "CD8", "CD8_naive", "CD8_memory", "NK", "NK_CD56bright", "T_activated"]
CONTRACT_PARAMETERS = ["IL2_pM", "CD25_per_cell", "CD122_per_cell", "CD132_per_cell", "cells_per_mL"]
CONTRACT_OBSERVABLES = ["IL2_bound_surface", "IL2_internal", "pSTAT5", "pAkt", "ppERK"]


@pytest.fixture(scope="module")
def model():
    return load_model(MODEL)


@pytest.fixture(scope="module")
def sim():
    """One simulator (Treg file); other cell types are its receptor numbers changed."""
    return Simulator((BUILD / "il2_Treg.xml").read_text(encoding="utf-8"))


def overrides(model, cell_type):
    return model.parameter_sets[cell_type].as_dict()


# ---------------------------------------------------------------- the committed build files

def test_every_cell_type_is_declared(model):
    assert list(model.parameter_sets) == CELL_TYPES


def test_every_parameter_is_cited_or_marked_as_an_assumption(model):
    """Numbers cite IL2_PARAMETERS.md (or a curated BioModels entry) or say 'assumption';
    derived values say how they are derived; the dose and Avogadro's constant are inputs."""
    inputs = {"IL2_pM", "avogadro"}
    for p in model.parameters.values():
        if p.name in inputs:
            continue
        if p.expr.is_number():
            assert re.search(r"IL2_PARAMETERS\.md|BIOMD\d{10}|assumption|estimated from the training data: "
                             r"docs/calibration\.md", p.doc), (p.name, p.doc)
        else:
            assert p.doc, f"derived parameter {p.name} ({p.expr.text}) says nothing of where it comes from"
    for ps in model.parameter_sets.values():
        assert re.search(r"IL2_PARAMETERS\.md|assumption", ps.doc), (ps.name, ps.doc)
        assert "STAT5_per_cell" in ps.as_dict(), ps.name


def test_build_files_are_committed_and_reproducible(tmp_path):
    """CI rebuilds every cell type and fails if a byte differs from the committed file."""
    assert main(["build", MODEL, "-o", str(tmp_path)]) == 0
    for ct in CELL_TYPES:
        name = f"il2_{ct}.xml"
        committed = BUILD / name
        assert committed.exists(), f"{committed} is missing: run 'il2sbml build {MODEL}' and commit build/*.xml"
        assert (tmp_path / name).read_bytes() == committed.read_bytes(), (
            f"{committed} differs from a fresh build: run 'il2sbml build {MODEL}' and commit it")


@pytest.mark.parametrize("cell_type", CELL_TYPES)
def test_sbml_contract(cell_type):
    import libsbml

    text = (BUILD / f"il2_{cell_type}.xml").read_text(encoding="utf-8")
    assert validate_sbml(text) == []                     # no errors and no (unit) warnings
    doc = libsbml.readSBMLFromString(text)
    m = doc.getModel()
    assert m.getTimeUnits() == "second"
    ids = {p.getId() for p in m.getListOfParameters()}
    assert set(CONTRACT_PARAMETERS + CONTRACT_OBSERVABLES) <= ids
    for pid in CONTRACT_PARAMETERS:
        assert m.getParameter(pid).getConstant(), f"{pid} must be a settable constant"
    ruled = {r.getVariable() for r in m.getListOfRules()}
    assert set(CONTRACT_OBSERVABLES) <= ruled
    # the base parameters set the initial state through initial assignments
    assigned = " ".join(libsbml.formulaToL3String(ia.getMath()) for ia in m.getListOfInitialAssignments())
    for pid in ["IL2_pM", "CD25_per_cell", "CD122_per_cell", "CD132_per_cell"]:
        assert re.search(rf"\b{pid}\b", assigned), f"no initial assignment reads {pid}"
    ps = load_model(MODEL).parameter_sets[cell_type].as_dict()
    for pid, value in ps.items():
        assert m.getParameter(pid).getValue() == value
    # the files differ only in the cell type's values (and the model's id, name and notes)
    treg = (BUILD / "il2_Treg.xml").read_text(encoding="utf-8").splitlines()
    differ = [line for a, line in zip(treg, text.splitlines()) if a != line]
    assert len(treg) == len(text.splitlines())
    assert all(re.search(r"_per_cell|il2_|Parameter set|initialAmount=|id=\"ksyn_", line) for line in differ), differ[:3]


def test_changing_contract_parameters_and_resetting_changes_the_run(sim):
    base = sim.time_course(600, 2, ["IL2_free", "IL2_bound_surface"])
    double = sim.time_course(600, 2, ["IL2_free", "IL2_bound_surface"], IL2_pM=20.0)
    assert double["IL2_free"][0] == pytest.approx(2 * base["IL2_free"][0], rel=1e-12)
    dense = sim.time_course(600, 2, ["IL2_free"], cells_per_mL=2e6)  # half the medium per cell
    assert dense["IL2_free"][0] == pytest.approx(base["IL2_free"][0] / 2, rel=1e-12)
    none = sim.time_course(600, 2, ["IL2_bound_surface"], CD25_per_cell=0.0, CD122_per_cell=0.0)
    assert none["IL2_bound_surface"][-1] == 0.0 < base["IL2_bound_surface"][-1]


def test_membrane_rates_are_per_area_and_medium_rates_per_volume(model):
    """kon_2D (um^2/(molecule*min)) is divided by the membrane area, kon_L (1/(M*s)) by the
    medium volume per cell, and cytoplasmic kon_SH2 (1/(uM*s)) by the cytoplasm volume."""
    net = generate_network(model)
    p = net.parameters
    rate = {r.rule: net.rate_value(i) for i, r in enumerate(net.reactions)}
    assert rate["b_joins_IL2a"] == pytest.approx(p["kon_2D"] / 60 / p["A_membrane"], rel=1e-12)
    assert rate["IL2_binds_a"] == pytest.approx(p["kon_L"] / (6.02214076e23 * 1e-3 / p["cells_per_mL"]), rel=1e-12)
    v_cyt_l = p["V_cytoplasm"] * 1e-15
    assert rate["STAT5_docks"] == pytest.approx(p["kon_SH2"] / (6.02214076e23 * 1e-6 * v_cyt_l), rel=1e-12)


# ---------------------------------------------------------------- detailed balance

def wegscheider_system(net):
    """Wegscheider's condition as a linear system: one row per reversible pair of ``net``
    (+1 per product, -1 per reactant species) and ln(k_forward / k_reverse) on the right; the
    rates obey detailed balance iff it has an exact solution (a free energy per species)."""
    by_sides = {(tuple(sorted(r.reactants)), tuple(sorted(r.products))): i for i, r in enumerate(net.reactions)}
    rows, rhs = [], []
    for (rs, ps), i in by_sides.items():
        j = by_sides.get((ps, rs))
        if j is None or i > j:
            continue
        row = np.zeros(len(net.species))
        for s in ps:
            row[s] += 1
        for s in rs:
            row[s] -= 1
        rows.append(row)
        rhs.append(np.log(net.rate_value(i) / net.rate_value(j)))
    return np.array(rows), np.array(rhs)


def test_every_closed_binding_cycle_obeys_detailed_balance(model):
    """Wegscheider: for reversible pairs, ln K = sum over products - sum over reactants of a
    free energy per species must have an exact solution (the residual of least squares is 0)."""
    a, b = wegscheider_system(generate_network(model))
    assert len(a) >= 100
    mu = np.linalg.lstsq(a, b, rcond=None)[0]
    assert np.max(np.abs(a @ mu - b)) < 1e-8


# ---------------------------------------------------------------- binding assays: the seed table

@pytest.mark.parametrize("cell", list(ASSAY_CELLS))
def test_binding_assay_reproduces_the_seed_table_within_factor_3(sim, cell):
    """Apparent Kd ~10 nM on alpha alone, ~1 nM on beta-gamma, ~10 pM on alpha-beta-gamma.
    (Two membrane constants are calibrated on such data: see the model's docstring.)"""
    assay = binding_assay(sim, cell)
    assert assay.fit.r2 > 0.999
    assert 1 / 3 < assay.fit.kd / assay.expected_kd_pM < 3, (cell, assay.fit)


# ---------------------------------------------------------------- dose-responses at 30 min

@pytest.fixture(scope="module")
def ec50s(sim, model):
    doses = np.logspace(-2, 5, 29)
    return {ct: ec50(dose_response(sim, doses, ["pSTAT5"], 1800.0, ct, **overrides(model, ct)), "pSTAT5")
            for ct in ["Treg", "T_activated", "CD4_helper", "CD4_memory", "CD8", "CD8_naive", "CD8_memory", "NK"]}


def test_cd25_high_cells_respond_at_lower_doses_than_cd25_negative_ones(ec50s):
    assert ec50s["T_activated"] < ec50s["Treg"] < min(ec50s[c] for c in ["CD8_naive", "CD8_memory", "NK"])
    assert ec50s["Treg"] < ec50s["CD4_memory"]


def _measured_ec50s_30min() -> dict[str, float]:
    """Geometric mean over replicates of the 4-parameter Hill EC50 (pM) of the training data at
    30 min (data/training/farhat2021_pSTAT5_IL2.csv), per whole population."""
    import csv

    from il2sbml.simulate.ode import fit_hill
    from il2sbml.formats.petab_problem import POPULATION_ALIASES

    curves = {}
    with open("data/training/farhat2021_pSTAT5_IL2.csv", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r["time_min"] == "30" and r["population"] in ("T-reg", "T-helper", "CD8+", "NK"):
                curves.setdefault((POPULATION_ALIASES[r["population"]], r["experiment"]), []).append(
                    (float(r["IL2_nM"]) * 1000, float(r["pSTAT5_au"])))
    out = {}
    for (cell, _), pts in curves.items():
        pts.sort()
        out.setdefault(cell, []).append(fit_hill([p[0] for p in pts], [p[1] for p in pts]).ec50)
    return {c: float(np.exp(np.mean(np.log(v)))) for c, v in out.items()}


def test_calibrated_model_reproduces_the_measured_30_min_ec50s_within_3_fold(ec50s):
    """Issue 13 acceptance: Treg, CD4 helper, CD8 and NK (training data: Farhat et al. 2021)."""
    measured = _measured_ec50s_30min()
    assert 30 < measured["Treg"] < 80 and 1000 < min(measured[c] for c in ("CD4_helper", "CD8", "NK"))
    for cell, m in measured.items():
        assert 1 / 3 < ec50s[cell] / m < 3, (cell, ec50s[cell], m)


def test_tregs_respond_at_10_pM_where_nk_and_cd8_cells_do_not(sim, model, ec50s):
    """The seed's claim, as the issue states it: at 10 pM for 30 min Treg pSTAT5 is >= 10 % of its
    maximum, NK and CD8 <= 5 % of theirs; and the NK/Treg EC50 ratio is >= 20."""
    frac = {}
    for cell in ("Treg", "NK", "CD8"):
        dr = dose_response(sim, [10.0, 1e3, 1e4, 1e5], ["pSTAT5"], 1800.0, cell, **overrides(model, cell))
        frac[cell] = dr.values["pSTAT5"][0] / max(dr.values["pSTAT5"])
    assert frac["Treg"] >= 0.10, frac
    assert frac["NK"] <= 0.05 and frac["CD8"] <= 0.05, frac
    assert ec50s["NK"] / ec50s["Treg"] >= 20


# ---------------------------------------------------------------- co-culture

def test_coculture_tregs_take_the_il2_and_lower_effector_pstat5_at_limiting_doses(model):
    res = coculture_experiment(model, [1.0, 10000.0])
    low, high = 0, 1
    assert res.IL2_free_fraction[low] < 0.6                       # IL-2 is limiting
    assert res.treg_uptake_share[low] > 0.75                      # Tregs (half the cells) take most
    assert res.effector_with_treg[low] < 0.8 * res.effector_alone[low]
    assert res.effector_with_treg[high] == pytest.approx(res.effector_alone[high], rel=0.01)  # fades


def test_coculture_of_identical_populations_equals_one_population(tmp_path):
    """Two populations with the same numbers behave, per cell, exactly as one of them alone."""
    from il2sbml import Model
    from il2sbml.analysis.coculture import coculture

    m = Model("lr", require_units=True)
    m.parameter("cells_per_mL", 1e7, "1/mL")
    m.parameter("V", "1/cells_per_mL", "mL")
    m.parameter("A", 150, "um^2")
    m.parameter("L0", 600, "molecule")
    m.parameter("R0", 1000, "molecule")
    m.parameter("kon", 1e7, "1/(M*s)")
    m.parameter("koff", 1e-3, "1/s")
    m.parameter("k2", 0.1, "um^2/(molecule*s)")
    m.parameter("kdeg", 1e-3, "1/s")
    m.parameter("ksyn", "R0*kdeg", "molecule/s")
    m.compartment("EC", dimension=3, size="V", units="mL")
    m.compartment("PM", dimension=2, size="A", units="um^2", parent="EC")
    m.molecule_type("L(r,r)")
    m.molecule_type("R(l)")
    m.seed("L(r,r)@EC", "L0")
    m.seed("R(l)@PM", "R0")
    m.rule("bind", "L(r,r) + R(l) <-> L(r!1,r).R(l!1)", "kon", "koff")
    m.rule("cross", "L(r!+,r) + R(l) <-> L(r!+,r!1).R(l!1)", "k2", "koff")
    m.rule("syn", "0 -> R(l)@PM", "ksyn")
    m.rule("deg", "R(l) -> 0", "kdeg")
    m.observable("bound", "R(l!+)")
    m.observable("free_L", "L(r,r)")
    m.parameter_set("a", {"R0": 1000})
    m.parameter_set("b", {"R0": 1000})
    one = Simulator(write_sbml(generate_network(m.with_parameter_set("a"))))
    two = Simulator(write_sbml(generate_network(coculture(m, {"a": 0.3, "b": 0.7}))))
    ref = one.time_course(3600, 7, ["bound", "free_L"])
    got = two.time_course(3600, 7, ["bound_a", "bound_b", "free_L"])
    for col in ["bound_a", "bound_b"]:
        assert np.allclose(got[col], ref["bound"], rtol=1e-6, atol=1e-6)
    assert np.allclose(got["free_L"], ref["free_L"], rtol=1e-6, atol=1e-6)


def test_coculture_cli_writes_one_valid_model(tmp_path):
    out = tmp_path / "co.xml"
    assert main(["build", MODEL, "--coculture", "Treg=0.05,CD4_memory=0.95", "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert validate_sbml(text) == []
    for pid in ["pSTAT5_Treg", "pSTAT5_CD4_memory", "IL2_free", "frac_Treg", "CD25_per_cell_Treg"]:
        assert f'id="{pid}"' in text


@pytest.mark.parametrize("spec, message", [("Treg=0.5", "at least two"), ("Treg=0.5,Nope=0.5", "no parameter set"),
                                           ("Treg=0.2,CD4_memory=0.2", "add up"), ("Treg,CD4_memory=1", "NAME=FRACTION"),
                                           ("Treg=0.5,Treg=0.5", "is given twice")])
def test_coculture_bad_input_is_refused(tmp_path, capsys, spec, message):
    out = tmp_path / "co.xml"
    assert main(["build", MODEL, "--coculture", spec, "-o", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_build_refuses_one_file_for_many_cell_types(tmp_path, capsys):
    assert main(["build", MODEL, "-o", str(tmp_path / "x.xml")]) == 2
    assert "--cell-type" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------- COPASI agrees

@pytest.mark.parametrize("cell_type", CELL_TYPES)
def test_copasi_time_course_matches_libroadrunner(cell_type, tmp_path, sim, model):
    """COPASI on each file against libRoadRunner (the Treg file with this cell type's numbers:
    the files differ only in those, which the contract test checks)."""
    from test_sbml_writer import copasi_run

    text = (BUILD / f"il2_{cell_type}.xml").read_text(encoding="utf-8")
    observables = list(model.observables)                   # every observable of the model
    got = copasi_run(text, 3600.0, 12, observables, tmp_path)
    ode = sim.time_course(3600.0, 13, observables, **overrides(model, cell_type))
    for k, name in enumerate(observables, start=1):
        ref = ode[name]
        assert np.allclose(got[:, k], ref, rtol=1e-4, atol=1e-4 * np.max(np.abs(ref)) + 1e-9), (
            name, got[:, k], ref)
