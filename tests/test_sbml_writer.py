"""The SBML writer: valid with every libSBML check on (units included), reproducible, and
simulating to BioNetGen's reference trajectories in libRoadRunner and in COPASI."""

import re
from pathlib import Path

import numpy as np
import pytest
import roadrunner

from bngnet import suite_dir

from il2sbml import generate_network, load_model
from il2sbml.cli import main
from il2sbml.formats.sbml import validate_sbml, write_sbml

MODELS = Path(__file__).parent / "models"
ALL = sorted(p.stem for p in MODELS.glob("*.py"))
# model, reference folder, t_end, steps (single-phase simulate_ode actions in the .bngl files)
TRAJECTORIES = [("simple_system", 100, 50), ("Haugh2b", 50, 5), ("tlbr", 2, 50),
                ("test_fixed", 60, 240), ("univ_synth", 10, 20)]


def net_of(name):
    path = MODELS / f"{name}.py" if name != "il2" else Path("model_src/il2.py")
    return generate_network(load_model(str(path)))


def read_gdat(path):
    lines = Path(path).read_text().splitlines()
    head = lines[0].lstrip("#").split()
    data = np.array([[float(x) for x in line.split()] for line in lines[1:] if line.strip()])
    return head, data


def close(sim, ref, rel=1e-6, floor=1e-7):
    """Relative error <= rel at every point, except that values near zero are held to an
    absolute floor: BioNetGen computed the references with its default absolute tolerance
    (1e-8 per species), so their tiny early values carry errors of that order."""
    scale = np.maximum(np.max(np.abs(ref), axis=0), 1.0)
    bad = np.abs(sim - ref) > rel * np.abs(ref) + floor * scale
    return not bad.any(), np.argwhere(bad)[:5]


def roadrunner_run(sbml, t_end, steps, selections):
    r = roadrunner.RoadRunner(sbml)
    r.integrator.relative_tolerance = 1e-12
    r.integrator.absolute_tolerance = 1e-12
    return np.array(r.simulate(0, t_end, steps + 1, ["time"] + selections))


def copasi_run(sbml, t_end, steps, selections, tmp_path):
    import COPASI

    path = tmp_path / "model.xml"
    path.write_text(sbml, encoding="utf-8")
    dm = COPASI.CRootContainer.addDatamodel()
    try:
        assert dm.importSBML(str(path)), "COPASI refused the file"
        model = dm.getModel()
        task = dm.getTask("Time-Course")
        task.setMethodType(COPASI.CTaskEnum.Method_deterministic)
        problem = task.getProblem()
        problem.setStepNumber(steps)
        problem.setDuration(t_end)
        problem.setTimeSeriesRequested(True)
        model.setInitialTime(0.0)
        method = task.getMethod()
        method.getParameter("Relative Tolerance").setDblValue(1e-12)
        method.getParameter("Absolute Tolerance").setDblValue(1e-12)
        method.getParameter("Max Internal Steps").setIntValue(1_000_000)
        assert task.process(True), task.getProcessError()
        ts = task.getTimeSeries()
        titles = {re.sub(r"^(Values|Compartments)\[(.*)\]$", r"\2", ts.getTitle(j)): j
                  for j in range(ts.getNumVariables())}
        # "[X]" selects a concentration; species otherwise come as particle numbers: divide by
        # the quantity-to-number factor (Avogadro for mole-based models, 1 for item-based ones)
        species = {model.getMetabolite(k).getObjectName() for k in range(model.getNumMetabs())}
        factor = model.getQuantity2NumberFactor()
        cols = [(titles["Time"], 1.0, False)]
        for s in selections:
            if s.startswith("["):
                cols.append((titles[s[1:-1]], 1.0, True))
            else:
                cols.append((titles[s], factor if s in species else 1.0, False))
        return np.array([[ts.getConcentrationData(i, j) if conc else ts.getData(i, j) / f
                          for j, f, conc in cols] for i in range(ts.getRecordedSteps())])
    finally:
        COPASI.CRootContainer.removeDatamodel(dm)


@pytest.mark.parametrize("name", ALL + ["il2"])
def test_valid_with_zero_errors_and_zero_warnings(name):
    problems = validate_sbml(write_sbml(net_of(name)))
    assert problems == [], "\n".join(map(str, problems))


@pytest.mark.parametrize("name", ["statfactor", "il2"])
def test_output_is_byte_for_byte_reproducible(name):
    assert write_sbml(net_of(name)) == write_sbml(net_of(name))


def test_level3_version1_on_request():
    text = write_sbml(net_of("michment"), level=3, version=1)
    assert 'level="3" version="1"' in text
    assert validate_sbml(text) == []


@pytest.mark.parametrize("name,t_end,steps", TRAJECTORIES)
def test_libroadrunner_matches_bionetgen_gdat(name, t_end, steps):
    ref_dir = suite_dir() / "bngl" / name / "expected"
    head, ref = read_gdat(ref_dir / f"{name}.gdat")
    sim = roadrunner_run(write_sbml(net_of(name)), t_end, steps, head[1:])
    assert sim.shape == ref.shape
    ok, where = close(sim[:, 1:], ref[:, 1:])
    assert ok, [(head[1 + j], ref[i, 0], sim[i, 1 + j], ref[i, 1 + j]) for i, j in where]


@pytest.mark.parametrize("name,t_end,steps", TRAJECTORIES)
def test_copasi_agrees_with_libroadrunner(name, t_end, steps, tmp_path):
    suite_dir()
    sbml = write_sbml(net_of(name))
    head, _ = read_gdat(suite_dir() / "bngl" / name / "expected" / f"{name}.gdat")
    rr = roadrunner_run(sbml, t_end, steps, head[1:])
    cp = copasi_run(sbml, t_end, steps, head[1:], tmp_path)
    assert cp.shape == rr.shape
    ok, where = close(cp, rr)
    assert ok, [(head[j], rr[i, 0], cp[i, j], rr[i, j]) for i, j in where]


def test_parameters_drive_initial_state_through_initial_assignments():
    """Changing IL2_pM or cells_per_mL and resetting changes the IL-2 amount (no regeneration)."""
    r = roadrunner.RoadRunner(write_sbml(net_of("il2")))
    base = r["init(s1)"]
    r["IL2_pM"] = 100.0
    r.reset()
    assert r["init(s1)"] == pytest.approx(10 * base, rel=1e-12)
    r["cells_per_mL"] = 1e7   # ten times less medium per cell, ten times fewer IL-2 molecules
    r.reset()
    assert r["init(s1)"] == pytest.approx(base, rel=1e-12)


def test_annotations_and_sbo_terms_are_written():
    text = write_sbml(net_of("il2"))
    assert "http://identifiers.org/uniprot/P60568" in text
    assert "bqbiol:hasPart" in text and "bqbiol:is" in text
    assert 'sboTerm="SBO:0000253"' in text and 'sboTerm="SBO:0000176"' in text
    assert "Generated by rule IL2_binds_a." in text


def test_functional_rate_declares_its_modifiers():
    text = write_sbml(net_of("test_fixed"))
    assert "<listOfModifiers>" in text


def test_cli_build_writes_valid_sbml_and_validate_reports(tmp_path, capsys):
    out = tmp_path / "il2.xml"
    assert main(["build", "model_src/il2.py", "--cell-type", "Treg", "-o", str(out)]) == 0
    assert main(["validate", str(out)]) == 0
    assert "0 error(s), 0 warning(s)" in capsys.readouterr().out
    bad = tmp_path / "bad.xml"
    bad.write_text(out.read_text(encoding="utf-8").replace("compartment=\"PM\"", "compartment=\"NOWHERE\"", 1), encoding="utf-8")
    assert main(["validate", str(bad)]) == 1
    assert "NOWHERE" in capsys.readouterr().out
    junk = tmp_path / "junk.xml"
    junk.write_text("<not sbml")
    assert main(["validate", str(junk)]) == 1


def _two_phase(name, first, second, change):
    """Simulate the written SBML as the .bngl actions do: a first phase, a change, a second phase."""
    head, ref = read_gdat(suite_dir() / "bngl" / name / "expected" / f"{name}.gdat")
    r = roadrunner.RoadRunner(write_sbml(net_of(name)))
    r.integrator.relative_tolerance = 1e-12
    r.integrator.absolute_tolerance = 1e-12
    a = np.array(r.simulate(*first, ["time"] + head[1:]))
    change(r)
    b = np.array(r.simulate(*second, ["time"] + head[1:]))
    sim = np.vstack([a, b[1:]])
    assert sim.shape == ref.shape
    ok, where = close(sim[:, 1:], ref[:, 1:])
    assert ok, [(head[1 + j], ref[i, 0], sim[i, 1 + j], ref[i, 1 + j]) for i, j in where]


def test_heise_setparameter_phases_match_gdat():
    """heise.bngl: simulate 0-20, setParameter vu=0 and vl=1, continue to 40."""
    net = net_of("heise")
    assert net.parameters["vu"] == 1 and net.parameters["vl"] == 0

    def change(r):
        r["vu"], r["vl"] = 0.0, 1.0
    _two_phase("heise", (0, 20, 21), (20, 40, 21), change)


def test_michment_addconcentration_phases_match_gdat():
    """michment.bngl: simulate 0-10, addConcentration S(a~0,c~R) += S0, continue to 20."""
    net = net_of("michment")
    sid = f"s{net.species_index('S(a~0,c~R)') + 1}"

    def change(r):
        r[sid] = r[sid] + net.parameters["S0"]
    _two_phase("michment", (0, 10, 51), (10, 20, 51), change)


def test_toy_jim_equilibration_matches_gdat():
    head, ref = read_gdat(suite_dir() / "bngl" / "toy-jim" / "expected" / "toy-jim_equil.gdat")
    net = net_of("toy_jim")
    rename = {"L_tot": "L_total", "A_tot": "A_total", "K_tot": "K_total", "R_tot": "R_total"}
    sim = roadrunner_run(write_sbml(net), 200, 2, [rename.get(h, h) for h in head[1:]])
    ok, where = close(sim[:, 1:], ref[:, 1:])
    assert ok, where


def test_names_that_collide_with_generated_ids_are_kept_apart():
    """Parameters named like the ids the writer generates (s1, r1, conv_1, cell) and like
    MathML names (exp, ln) stay distinct; the file validates and simulates as the network says."""
    from il2sbml import Model

    m = Model("collide")
    for name, value in (("s1", 2.0), ("r1", 3.0), ("conv_1", 5.0), ("cell", 7.0), ("exp", 0.5), ("ln", 0.25)):
        m.parameter(name, value)
    m.molecule_type("A(b)")
    m.seed("A(b)", "s1*r1")
    m.rule("bind", "A(b) + A(b) <-> A(b!1).A(b!1)", "conv_1*exp", "cell*ln")
    m.observable("Atot", "A()")
    net = generate_network(m)
    text = write_sbml(net)
    assert validate_sbml(text) == []
    r = roadrunner.RoadRunner(text)
    ids = set(r.model.getFloatingSpeciesIds())
    assert len(ids) == 2 and not ids & {"s1", "r1"}
    assert r["s1"] == 2.0 and r["conv_1"] == 5.0
    monomer = [i for i in ids if r[i] == 6.0]
    assert len(monomer) == 1                     # initial amount s1*r1
    # d[A]/dt at t=0 = -2 * 0.5*k * A^2 with k = conv_1*exp = 2.5
    rates = r.getRatesOfChange()
    assert rates[list(r.model.getFloatingSpeciesIds()).index(monomer[0])] == pytest.approx(-2 * 0.5 * 2.5 * 36)


def test_parallel_validation_reports_what_the_sequential_one_does():
    """The two-process split (used for large documents) finds the same problems, in the same
    order, and keeps libSBML's gating: a structural error skips the unit check."""
    good = write_sbml(net_of("il2"))
    assert validate_sbml(good, parallel=True) == validate_sbml(good, parallel=False) == []
    units = good.replace('units="u_litre_powm1_mole_x1em12"', 'units="second"', 1)
    both = units.replace("<ci> kon_L </ci>", "<ci> kon_nowhere </ci>", 1)
    for bad, category in ((units, "SBML unit consistency"), (both, "MathML consistency")):
        seq, par = validate_sbml(bad, parallel=False), validate_sbml(bad, parallel=True)
        assert seq == par and seq and {p.category for p in seq} == {category}


def _reaction_texts(text):
    body = text[text.index("<listOfReactions>"):text.index("</listOfReactions>")]
    return re.split(r"(?m)^(?= *<reaction )", body)[1:]


@pytest.mark.parametrize("name", ["statfactor", "michment", "test_fixed", "il2"])
def test_reactions_are_the_text_libsbml_writes(name):
    """The writer fills each reaction's ids into a text libSBML wrote for its shape: the file is
    what libSBML writes for the document read from it (both versions, both orders), and its
    reactions are the network's, in network order by default."""
    import libsbml

    from il2sbml.formats.sbmlread import read_sbml

    net = net_of(name)
    for kw in ({}, {"version": 1}, {"cover_first": True}):
        text = write_sbml(net, **kw)
        assert libsbml.writeSBMLToString(libsbml.readSBMLFromString(text)) == text, kw
    back = read_sbml(write_sbml(net))
    assert [r.sbml_id for r in back.reactions] == [f"r{r.index + 1}" for r in net.reactions]
    assert [(sorted(r.reactants), sorted(r.products)) for r in back.reactions] == \
        [(sorted(r.reactants), sorted(r.products)) for r in net.reactions]


def test_cover_first_lists_the_same_reactions_those_bringing_a_new_species_first(tmp_path):
    from il2sbml.formats.sbml import COVER_FIRST_REACTIONS
    from il2sbml.formats.sbmlread import read_sbml

    net = net_of("il2")
    assert len(net.reactions) < COVER_FIRST_REACTIONS
    plain, cover = write_sbml(net), write_sbml(net, cover_first=True)
    assert write_sbml(net, cover_first=False) == plain
    a, b = _reaction_texts(plain), _reaction_texts(cover)
    assert a != b and sorted(a) == sorted(b)
    assert plain.replace("".join(a), "") == cover.replace("".join(b), "")   # all else the same
    assert validate_sbml(cover) == []
    path = tmp_path / "cover.xml"
    path.write_text(cover, encoding="utf-8")
    assert write_sbml(read_sbml(str(path))) == cover      # the round trip keeps the file's order
    order = [int(i) - 1 for i in re.findall(r'<reaction [^>]*\bid="r(\d+)"', cover)]
    seen, first = set(), []
    for k in order:
        r = net.reactions[k]
        new = set(r.reactants) | set(r.products)
        first.append(bool(new - seen))
        seen |= new
    n = first.index(False)
    assert not any(first[n:]) and order[:n] == sorted(order[:n]) and order[n:] == sorted(order[n:])
    # the same model to a simulator: the same trajectories, and each reaction's rate under its id
    runs = []
    for text in (plain, cover):
        r = roadrunner.RoadRunner(text)
        runs.append((np.array(r.simulate(0, 50, 11, ["time"] + sorted(r.model.getFloatingSpeciesIds()))),
                     dict(zip(r.model.getReactionIds(), r.model.getReactionRates()))))
    np.testing.assert_allclose(runs[0][0], runs[1][0], rtol=1e-9, atol=1e-12)
    # rates at t = 50 s carry the integrator's differences, as the trajectories do (the calibrated
    # model's fast STAT5 steps put them at ~3e-12 relative): the same tolerance as above
    assert runs[0][1] == pytest.approx(runs[1][1], rel=1e-9, abs=1e-12)
