"""Other formats for an SBML model written by :mod:`il2sbml.formats.sbml`: Antimony and COMBINE archives.

Both writers take SBML text (the output of :func:`il2sbml.formats.sbml.write_sbml`) rather than a
:class:`~il2sbml.generate.network.Network`, so that they say exactly what the SBML says: the Antimony
text is libAntimony's translation of the file, and the archive carries the file unchanged.

* :func:`to_antimony` -- the Antimony text of the model, for Tellurium (``te.loada``).
* :func:`to_omex` -- a COMBINE archive (OMEX, a zip): ``manifest.xml``, the SBML and a
  SED-ML Level 1 Version 4 time course (``simulation.sedml``) that COPASI, Tellurium and
  other SED-ML tools run as they are.

Both are pure functions with byte-for-byte reproducible output for the same input (and the
same versions of libAntimony, libSEDML and zlib). libAntimony and libSEDML are imported on
first use; a missing library is reported as an :class:`~il2sbml.lang.errors.Il2sbmlError` naming
the package to install.

SED-ML layout written by :func:`to_omex` (ids are fixed, so tools and scripts can rely on them)::

    model     id=<model_name>, source=<model_name>.xml, language=SBML level/version of the file
    sim       uniformTimeCourse 0..t_end, numberOfSteps = points - 1, algorithm KISAO:0000019
              (CVODE) with relative tolerance (KISAO:0000209), absolute tolerance
              (KISAO:0000211) and maximum number of steps (KISAO:0000415)
    task      model x sim
    dg_time   data generator of the symbol urn:sedml:symbol:time
    dg_<id>   one data generator per selection (an SBML species, parameter or compartment id)
    report    one data set per data generator, labelled with the SBML id ("time" first)

Species are amounts in our SBML (``hasOnlySubstanceUnits="true"``, molecules per cell), and
their SED-ML variables say so explicitly with ``term="KISAO:0000836"`` (amount): without it
COPASI (and Tellurium) read a species target as a concentration. COPASI 4.48 honours the term
and reports amounts, as libRoadRunner's ``simulate`` does. Tellurium 2.2's own SED-ML runner
(``te.executeCombineArchive``) ignores ``term`` and reports species as concentrations
(amount / compartment size); parameters (observables) are the same everywhere. CVODE
(KISAO:0000019) is the algorithm asked for; COPASI runs it as LSODA with a warning, at the
tolerances given.

The manifest gives the SED-ML the format ``.../sed-ml`` without level and version:
libCOMBINE (and so COPASI) does not recognise ``sed-ml.level-1.version-4`` as SED-ML and
would import the SBML alone.
"""

from __future__ import annotations

import re
import threading
import zipfile
from io import BytesIO
from xml.sax.saxutils import quoteattr

import libsbml

from ..lang.errors import Il2sbmlError

__all__ = ["to_antimony", "to_omex", "default_selections"]

# libAntimony keeps its loaded modules in process-global state: serialise its use.
_ANTIMONY_LOCK = threading.Lock()

_SID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can hold: fixed, so bytes repeat
_SEDML_FILE = "simulation.sedml"
_SEDML_LEVEL, _SEDML_VERSION = 1, 4
_OMEX = "http://identifiers.org/combine.specifications/"
_MANIFEST_NS = _OMEX + "omex-manifest"
_KISAO_CVODE = "KISAO:0000019"
_KISAO_RTOL = "KISAO:0000209"
_KISAO_ATOL = "KISAO:0000211"
_KISAO_MAX_STEPS = "KISAO:0000415"
_KISAO_AMOUNT = "KISAO:0000836"  # a species target means its amount, not its concentration


def _import(module: str, package: str):
    try:
        return __import__(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise Il2sbmlError(f"this export needs the Python package '{package}' "
                           f"(pip install {package}): {exc}") from exc


def _read_sbml(sbml_text: str) -> libsbml.SBMLDocument:
    doc = libsbml.readSBMLFromString(sbml_text)
    if doc.getNumErrors(libsbml.LIBSBML_SEV_ERROR) + doc.getNumErrors(libsbml.LIBSBML_SEV_FATAL):
        log = doc.getErrorLog()
        msgs = [f"line {e.getLine()}: {e.getMessage().strip()}"
                for e in (log.getError(i) for i in range(log.getNumErrors()))
                if e.getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
        raise Il2sbmlError("the SBML text could not be read: " + "; ".join(msgs))
    if doc.getModel() is None:
        raise Il2sbmlError("the SBML text holds no model")
    return doc


# ---------------------------------------------------------------------------------------------
# Antimony


def to_antimony(sbml_text: str) -> str:
    """The Antimony text of an SBML model (libAntimony's translation), for ``te.loada``.

    The same SBML text gives the same Antimony text (for one libAntimony version: its
    version is named in the first comment line). Raises :class:`Il2sbmlError` with
    libAntimony's message when it cannot read the SBML.
    """
    antimony = _import("antimony", "antimony")
    with _ANTIMONY_LOCK:
        antimony.clearPreviousLoads()
        try:
            if antimony.loadSBMLString(sbml_text) < 0:
                raise Il2sbmlError("libAntimony could not translate the SBML: "
                                   + antimony.getLastError().strip())
            module = antimony.getMainModuleName()
            text = antimony.getAntimonyString(module) if module else None
            if not text:
                raise Il2sbmlError("libAntimony produced no Antimony text: "
                                   + (antimony.getLastError() or "no main module").strip())
        finally:
            antimony.clearPreviousLoads()
    return text


# ---------------------------------------------------------------------------------------------
# SED-ML and COMBINE archive


def default_selections(sbml_text: str) -> list[str]:
    """All species ids, then every parameter that an assignment rule sets (the observables and
    global functions of our SBML), in the order of the file."""
    model = _read_sbml(sbml_text).getModel()
    params = {p.getId() for p in model.getListOfParameters()}
    return ([s.getId() for s in model.getListOfSpecies()]
            + [r.getVariable() for r in model.getListOfRules()
               if r.isAssignment() and r.getVariable() in params])


def _targets(model: libsbml.Model) -> dict[str, str]:
    """SBML id -> SED-ML XPath target, for everything a time course can report."""
    out: dict[str, str] = {}
    for lst, tag in ((model.getListOfCompartments(), "compartment"),
                     (model.getListOfParameters(), "parameter"),
                     (model.getListOfSpecies(), "species")):
        for obj in lst:
            out[obj.getId()] = (f"/sbml:sbml/sbml:model/sbml:{lst.getElementName()}"
                                f"/sbml:{tag}[@id='{obj.getId()}']")
    return out


def _ok(code, what: str) -> None:
    libsedml = _import("libsedml", "python-libsedml")
    if isinstance(code, int) and code != libsedml.LIBSEDML_OPERATION_SUCCESS:
        raise Il2sbmlError(f"libSEDML refused {what}: "
                           f"{libsedml.OperationReturnValue_toString(code)}")


def _sedml(sbml_doc: libsbml.SBMLDocument, *, model_name: str, model_file: str, t_end: float,
           points: int, selections: list[str], rel_tol: float, abs_tol: float,
           max_steps: int) -> str:
    libsedml = _import("libsedml", "python-libsedml")
    level, version = sbml_doc.getLevel(), sbml_doc.getVersion()
    targets = _targets(sbml_doc.getModel())
    species = {s.getId() for s in sbml_doc.getModel().getListOfSpecies()}

    doc = libsedml.SedDocument(_SEDML_LEVEL, _SEDML_VERSION)
    _ok(doc.getNamespaces().add(sbml_doc.getNamespaces().getURI(), "sbml"), "the sbml namespace")

    model = doc.createModel()
    _ok(model.setId(model_name), "the model id")
    _ok(model.setLanguage(f"urn:sedml:language:sbml.level-{level}.version-{version}"), "language")
    _ok(model.setSource(model_file), "the model source")

    sim = doc.createUniformTimeCourse()
    _ok(sim.setId("sim"), "the simulation id")
    _ok(sim.setInitialTime(0.0), "initialTime")
    _ok(sim.setOutputStartTime(0.0), "outputStartTime")
    _ok(sim.setOutputEndTime(float(t_end)), "outputEndTime")
    _ok(sim.setNumberOfSteps(points - 1), "numberOfSteps")
    alg = sim.createAlgorithm()
    _ok(alg.setKisaoID(_KISAO_CVODE), "the algorithm")
    for kisao, value in ((_KISAO_RTOL, repr(float(rel_tol))), (_KISAO_ATOL, repr(float(abs_tol))),
                         (_KISAO_MAX_STEPS, str(int(max_steps)))):
        par = alg.createAlgorithmParameter()
        _ok(par.setKisaoID(kisao), f"algorithm parameter {kisao}")
        _ok(par.setValue(value), f"the value of {kisao}")

    task = doc.createTask()
    _ok(task.setId("task"), "the task id")
    _ok(task.setModelReference(model_name), "the task's model")
    _ok(task.setSimulationReference("sim"), "the task's simulation")

    report = doc.createReport()
    _ok(report.setId("report"), "the report id")
    _ok(report.setName("time course"), "the report name")
    for sid in ["time"] + selections:
        dg = doc.createDataGenerator()
        _ok(dg.setId(f"dg_{sid}"), f"data generator dg_{sid}")
        _ok(dg.setName(sid), f"the name of dg_{sid}")
        var = dg.createVariable()
        _ok(var.setId(f"v_{sid}"), f"variable v_{sid}")
        _ok(var.setName(sid), f"the name of v_{sid}")
        _ok(var.setTaskReference("task"), f"the task of v_{sid}")
        if sid == "time":
            _ok(var.setSymbol("urn:sedml:symbol:time"), "the time symbol")
        else:
            _ok(var.setTarget(targets[sid]), f"the target of v_{sid}")
            if sid in species:
                _ok(var.setTerm(_KISAO_AMOUNT), f"the term of v_{sid}")
        _ok(dg.setMath(libsedml.parseL3Formula(f"v_{sid}")), f"the math of dg_{sid}")
        ds = report.createDataSet()
        _ok(ds.setId(f"ds_{sid}"), f"data set ds_{sid}")
        _ok(ds.setLabel(sid), f"the label of ds_{sid}")
        _ok(ds.setDataReference(f"dg_{sid}"), f"the data of ds_{sid}")

    text = libsedml.writeSedMLToString(doc)
    # validate what we wrote: read it back and refuse any error libSEDML reports
    back = libsedml.readSedMLFromString(text)
    log = back.getErrorLog()
    errors = [log.getError(i).getMessage().strip() for i in range(log.getNumErrors())
              if log.getError(i).getSeverity() >= libsedml.LIBSEDML_SEV_ERROR]
    if errors:  # pragma: no cover - a bug in this writer
        raise Il2sbmlError("the SED-ML written is invalid: " + "; ".join(errors))
    return text


def _manifest(model_file: str, level: int, version: int) -> str:
    entries = [(".", _OMEX + "omex", False),
               ("./manifest.xml", _MANIFEST_NS, False),
               (f"./{model_file}", _OMEX + f"sbml.level-{level}.version-{version}", False),
               (f"./{_SEDML_FILE}",
                _OMEX + "sed-ml", True)]
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<omexManifest xmlns="{_MANIFEST_NS}">']
    for location, fmt, master in entries:
        lines.append(f"  <content location={quoteattr(location)} format={quoteattr(fmt)}"
                     + (' master="true"' if master else "") + "/>")
    lines.append("</omexManifest>")
    return "\n".join(lines) + "\n"


def to_omex(sbml_text: str, *, t_end: float, points: int, selections: list[str] | None = None,
            model_name: str = "model", rel_tol: float = 1e-8, abs_tol: float = 1e-10,
            max_steps: int = 1_000_000) -> bytes:
    """A COMBINE archive (OMEX zip) holding the SBML and a SED-ML time course of it.

    Entries (sorted by name, fixed timestamps): ``manifest.xml``; ``<model_name>.xml``, the
    SBML text unchanged; ``simulation.sedml``, SED-ML L1V4 with a uniform time course from 0
    to *t_end* reporting *points* time points (``points - 1`` intervals) with CVODE
    (KISAO:0000019) at *rel_tol*/*abs_tol*, at most *max_steps* internal steps per interval,
    and a report of time and each of *selections* (SBML ids of species, parameters or
    compartments; default :func:`default_selections`: all species and all observables).
    *model_name* is the SED-ML model id and the stem of the SBML file name in the archive.

    Raises :class:`Il2sbmlError` on an unreadable SBML text, an unknown selection, a bad
    *model_name* or a time course with ``t_end <= 0`` or ``points < 2``.
    """
    if not isinstance(model_name, str) or not _SID.match(model_name):
        raise Il2sbmlError(f"model_name {model_name!r} is not an SId (letters, digits and '_', "
                           "not starting with a digit)")
    try:
        t_end = float(t_end)
    except (TypeError, ValueError):
        raise Il2sbmlError(f"t_end must be a number, not {t_end!r}") from None
    if not (t_end > 0 and t_end < float("inf")):
        raise Il2sbmlError(f"t_end must be a positive finite number, not {t_end!r}")
    if isinstance(points, bool) or not isinstance(points, int) or points < 2:
        raise Il2sbmlError(f"points must be an integer >= 2 (start and end), not {points!r}")
    if not (rel_tol > 0 and abs_tol > 0):
        raise Il2sbmlError("rel_tol and abs_tol must be positive")
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise Il2sbmlError(f"max_steps must be a positive integer, not {max_steps!r}")

    sbml_doc = _read_sbml(sbml_text)
    if selections is None:
        selections = default_selections(sbml_text)
    else:
        selections = list(selections)
        known = _targets(sbml_doc.getModel())
        unknown = [s for s in selections if s not in known and s != "time"]
        if unknown:
            raise Il2sbmlError("selections name no species, parameter or compartment of the "
                               f"model: {', '.join(map(repr, unknown))}")
        dup = sorted({s for s in selections if selections.count(s) > 1})
        if dup:
            raise Il2sbmlError(f"selections repeat {', '.join(map(repr, dup))}")
        selections = [s for s in selections if s != "time"]  # time is always the first column

    model_file = f"{model_name}.xml"
    files = {
        "manifest.xml": _manifest(model_file, sbml_doc.getLevel(), sbml_doc.getVersion()),
        model_file: sbml_text,
        _SEDML_FILE: _sedml(sbml_doc, model_name=model_name, model_file=model_file, t_end=t_end,
                            points=points, selections=selections, rel_tol=rel_tol,
                            abs_tol=abs_tol, max_steps=max_steps),
    }
    if len(files) != 3:
        raise Il2sbmlError(f"model_name {model_name!r} clashes with another file of the archive")

    buf = BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3             # Unix, whatever the host
            info.external_attr = 0o100644 << 16  # a regular file, rw-r--r--
            zf.writestr(info, files[name].encode("utf-8"), compresslevel=9)
    return buf.getvalue()
