"""Other formats (il2sbml.formats.export): Antimony for Tellurium, and a COMBINE archive (SBML + SED-ML)
that COPASI runs as it is. Every check is against libRoadRunner on the same SBML.

COPASI changes the process locale when imported (text then defaults to ASCII), so every text
read or written here names its encoding.
"""

import io
import re
import xml.etree.ElementTree as ET
import zipfile
from functools import lru_cache
from pathlib import Path

import libsbml
import numpy as np
import pytest
import roadrunner

from il2sbml import Il2sbmlError, generate_network, load_model
from il2sbml.formats.export import default_selections, to_antimony, to_omex
from il2sbml.formats.sbml import write_sbml

MODELS = Path(__file__).parent / "models"
# model, t_end, points: il2 has two compartments of sizes != 1 (amount != concentration);
# michment has a global function of an observable as a rate law
CASES = [("il2", 3600.0, 31), ("michment", 50.0, 51)]
OMEX = "http://identifiers.org/combine.specifications/"


@lru_cache(maxsize=None)
def sbml_of(name: str) -> str:
    path = Path("model_src/il2.py") if name == "il2" else MODELS / f"{name}.py"
    return write_sbml(generate_network(load_model(str(path))))


def selections_of(sbml: str) -> list[str]:
    """All species, then every parameter set by an assignment rule (the observables)."""
    model = libsbml.readSBMLFromString(sbml).getModel()
    return ([s.getId() for s in model.getListOfSpecies()]
            + [r.getVariable() for r in model.getListOfRules()
               if r.isAssignment() and model.getParameter(r.getVariable()) is not None])


def simulate(rr, t_end, points, sel, rtol=1e-10, atol=1e-12):
    rr.integrator.relative_tolerance = rtol
    rr.integrator.absolute_tolerance = atol
    return np.array(rr.simulate(0.0, t_end, points, ["time"] + sel))


# ---------------------------------------------------------------------------------------------
# Antimony


@pytest.mark.parametrize("name,t_end,points", CASES)
def test_antimony_round_trip_in_tellurium(name, t_end, points):
    import tellurium as te

    sbml = sbml_of(name)
    sel = selections_of(sbml)
    assert any(s.startswith("s") for s in sel) and len(sel) > 5
    ref = simulate(roadrunner.RoadRunner(sbml), t_end, points, sel)
    from_ant = simulate(te.loada(to_antimony(sbml)), t_end, points, sel)
    from_sbml = simulate(te.loadSBMLModel(sbml), t_end, points, sel)
    assert ref.shape == (points, len(sel) + 1)
    assert np.ptp(ref[:, 1:], axis=0).max() > 0, "nothing moves: a vacuous comparison"
    for got in (from_ant, from_sbml):
        np.testing.assert_allclose(got, ref, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("name", ["il2", "michment"])
def test_antimony_is_deterministic_and_keeps_ids(name):
    sbml = sbml_of(name)
    text = to_antimony(sbml)
    assert to_antimony(sbml) == text
    assert re.search(rf"^model \*{name}\(\)$", text, re.M)
    for sid in selections_of(sbml):
        assert re.search(rf"\b{sid}\b", text), sid
    # a load in between (libAntimony keeps global state) does not change the output
    to_antimony(sbml_of("michment" if name == "il2" else "il2"))
    assert to_antimony(sbml) == text


def test_antimony_error_carries_libantimony_message():
    with pytest.raises(Il2sbmlError, match="libAntimony could not translate the SBML.*libSBML"):
        to_antimony("<sbml")


# ---------------------------------------------------------------------------------------------
# COMBINE archive: layout


def test_omex_layout_manifest_and_sedml():
    import libsedml

    sbml = sbml_of("michment")
    data = to_omex(sbml, t_end=50, points=11)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        infos = zf.infolist()
        assert [i.filename for i in infos] == ["manifest.xml", "model.xml", "simulation.sedml"]
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos)
        files = {i.filename: zf.read(i).decode("utf-8") for i in infos}
    assert files["model.xml"] == sbml

    ns = {"m": OMEX + "omex-manifest"}
    root = ET.fromstring(files["manifest.xml"])
    contents = {c.get("location"): (c.get("format"), c.get("master"))
                for c in root.findall("m:content", ns)}
    assert contents == {
        ".": (OMEX + "omex", None),
        "./manifest.xml": (OMEX + "omex-manifest", None),
        "./model.xml": (OMEX + "sbml.level-3.version-2", None),
        "./simulation.sedml": (OMEX + "sed-ml", "true"),
    }

    doc = libsedml.readSedMLFromString(files["simulation.sedml"])
    assert doc.getNumErrors(libsedml.LIBSEDML_SEV_ERROR) == 0, doc.getErrorLog().toString()
    assert (doc.getLevel(), doc.getVersion()) == (1, 4)
    assert doc.getNumModels() == 1
    assert doc.getModel(0).getSource() == "model.xml"
    assert doc.getModel(0).getLanguage() == "urn:sedml:language:sbml.level-3.version-2"
    sim = doc.getSimulation(0)
    assert (sim.getInitialTime(), sim.getOutputStartTime(), sim.getOutputEndTime(),
            sim.getNumberOfSteps()) == (0.0, 0.0, 50.0, 10)
    assert sim.getAlgorithm().getKisaoID() == "KISAO:0000019"
    task = doc.getTask(0)
    assert (task.getModelReference(), task.getSimulationReference()) == ("model", "sim")
    report = doc.getOutput(0)
    labels = [report.getDataSet(i).getLabel() for i in range(report.getNumDataSets())]
    assert labels == ["time"] + selections_of(sbml) == ["time"] + default_selections(sbml)
    assert "michment_2" in labels  # the global function, an assignment-rule parameter
    for i in range(doc.getNumDataGenerators()):
        var = doc.getDataGenerator(i).getVariable(0)
        assert var.getTaskReference() == "task"
        if var.getName() == "time":
            assert var.getSymbol() == "urn:sedml:symbol:time"
        elif var.getName().startswith("s") and var.getName()[1:].isdigit():
            assert "listOfSpecies" in var.getTarget() and var.getTerm() == "KISAO:0000836"


def test_omex_is_readable_by_libcombine(tmp_path):
    """libCOMBINE (which COPASI uses) reads the archive and finds the SED-ML as its master."""
    import libcombine

    path = tmp_path / "m.omex"
    path.write_bytes(to_omex(sbml_of("michment"), t_end=50, points=11))
    archive = libcombine.CombineArchive()
    assert archive.initializeFromArchive(str(path))
    try:
        master = archive.getMasterFile()
        assert master is not None and master.getLocation() == "./simulation.sedml"
        assert master.isFormat("sedml")
        assert archive.getEntryByFormat("sbml").getLocation() == "./model.xml"
        assert archive.extractEntryToString("./model.xml") == sbml_of("michment")
    finally:
        archive.cleanUp()


def test_omex_bytes_are_deterministic():
    sbml = sbml_of("il2")
    a = to_omex(sbml, t_end=3600, points=31)
    assert to_omex(sbml, t_end=3600, points=31) == a
    assert to_omex(sbml, t_end=3600, points=31, selections=None) == a
    assert to_omex(sbml, t_end=3600, points=32) != a


def test_omex_options_and_errors():
    sbml = sbml_of("michment")
    data = to_omex(sbml, t_end=5, points=3, selections=["s3", "Sa0", "Km", "cell"],
                   model_name="michment")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.namelist() == ["manifest.xml", "michment.xml", "simulation.sedml"]
        sedml = zf.read("simulation.sedml").decode("utf-8")
        assert 'source="michment.xml"' in sedml and 'id="michment"' in sedml
    labels = re.findall(r'<dataSet [^>]*label="([^"]+)"', sedml)
    assert labels == ["time", "s3", "Sa0", "Km", "cell"]

    with pytest.raises(Il2sbmlError, match="'nope'"):
        to_omex(sbml, t_end=5, points=3, selections=["s1", "nope"])
    with pytest.raises(Il2sbmlError, match="repeat"):
        to_omex(sbml, t_end=5, points=3, selections=["s1", "s1"])
    with pytest.raises(Il2sbmlError, match="points"):
        to_omex(sbml, t_end=5, points=1)
    with pytest.raises(Il2sbmlError, match="t_end"):
        to_omex(sbml, t_end=0, points=3)
    with pytest.raises(Il2sbmlError, match="model_name"):
        to_omex(sbml, t_end=5, points=3, model_name="2 bad")
    with pytest.raises(Il2sbmlError, match="clashes"):
        to_omex(sbml, t_end=5, points=3, model_name="manifest")
    with pytest.raises(Il2sbmlError, match="SBML"):
        to_omex("<sbml", t_end=5, points=3)


# ---------------------------------------------------------------------------------------------
# COMBINE archive: COPASI runs it as it is


def read_copasi_report(path: Path):
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    head = [h.strip() for h in lines[0].split(",") if h.strip()]
    data = np.array([[float(x) for x in ln.split(",") if x.strip()] for ln in lines[1:]])
    return head, data


def run_copasi(dm, report_path: Path):
    """Run the time course that the imported SED-ML defines, writing its report to a file.
    Only the report's number precision and target are changed (COPASI prints 6 digits)."""
    import COPASI

    task = dm.getTask("Time-Course")
    assert task.isScheduled(), "the SED-ML task was not imported"
    report = task.getReport()
    definition = report.getReportDefinition()
    assert definition is not None and definition.getObjectName() == "time course"
    definition.setPrecision(17)
    report.setTarget(str(report_path))
    report.setAppend(False)
    assert task.initializeRaw(COPASI.CCopasiTask.OUTPUT_UI), COPASI.CCopasiMessage.getAllMessageText()
    try:
        assert task.processRaw(True), task.getProcessError()
    finally:
        task.restore()
    return read_copasi_report(report_path)


@pytest.mark.parametrize("how", ["archive", "sedml"])
@pytest.mark.parametrize("name,t_end,points", CASES)
def test_copasi_runs_the_archive_as_it_is(name, t_end, points, how, tmp_path):
    import COPASI

    sbml = sbml_of(name)
    sel = default_selections(sbml)
    path = tmp_path / "model.omex"
    path.write_bytes(to_omex(sbml, t_end=t_end, points=points, rel_tol=1e-10, abs_tol=1e-12))
    dm = COPASI.CRootContainer.addDatamodel()
    try:
        if how == "archive":
            assert dm.openCombineArchive(str(path)), COPASI.CCopasiMessage.getAllMessageText()
        else:
            folder = tmp_path / "unzipped"
            with zipfile.ZipFile(path) as zf:
                zf.extractall(folder)
            assert dm.importSEDML(str(folder / "simulation.sedml")), \
                COPASI.CCopasiMessage.getAllMessageText()
        problem = dm.getTask("Time-Course").getProblem()
        assert (problem.getDuration(), problem.getStepNumber()) == (t_end, points - 1)
        method = dm.getTask("Time-Course").getMethod()
        assert method.getParameter("Relative Tolerance").getDblValue() == 1e-10
        assert method.getParameter("Absolute Tolerance").getDblValue() == 1e-12
        head, got = run_copasi(dm, tmp_path / "report.csv")
    finally:
        COPASI.CRootContainer.removeDatamodel(dm)

    assert head == ["time"] + sel
    ref = simulate(roadrunner.RoadRunner(sbml), t_end, points, sel, rtol=1e-12, atol=1e-14)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got[:, 0], ref[:, 0], rtol=1e-12)
    # relative 1e-6; values that decay to nothing are held to 1e-9 of their column's maximum
    floor = 1e-9 * np.max(np.abs(ref), axis=0)
    bad = np.abs(got - ref) > 1e-6 * np.abs(ref) + floor
    assert not bad.any(), (f"COPASI differs from libRoadRunner at {np.argwhere(bad)[:5].tolist()}: "
                           f"{got[bad][:5]} vs {ref[bad][:5]}")


def test_cli_build_formats(tmp_path, capsys):
    from il2sbml.cli import main

    ant = tmp_path / "il2.ant"
    assert main(["build", "model_src/il2.py", "--cell-type", "NK", "--format", "antimony", "-o", str(ant)]) == 0
    assert "model *il2_NK()" in ant.read_text(encoding="utf-8")
    omex = tmp_path / "il2.omex"
    assert main(["build", "model_src/il2.py", "--cell-type", "NK", "--format", "omex", "--t-end", "600",
                 "--points", "11", "-o", str(omex)]) == 0
    with zipfile.ZipFile(omex) as z:
        assert sorted(z.namelist()) == ["il2_NK.xml", "manifest.xml", "simulation.sedml"]
    missing = tmp_path / "none.omex"
    assert main(["build", "model_src/il2.py", "--cell-type", "NK", "--format", "omex", "-o", str(missing)]) == 2
    assert "--t-end" in capsys.readouterr().err
    assert not missing.exists()
