"""The IL-2 model against measured pSTAT5, as a PEtab v1 problem (format: PEtab).

``il2sbml petab model_src/il2.py --data data/training/farhat2021_pSTAT5_IL2.csv -o build/petab``
writes ``problem.yaml``, ``model.xml`` (the model's SBML, validated), ``conditions.tsv``,
``measurements.tsv``, ``observables.tsv`` and ``parameters.tsv``, byte for byte the same on every
run, each written to a temporary name and renamed only once all are made.

The problem, and why each part is as it is:

* **Data.** The training set is the tidy table of Farhat et al. (2021) median pSTAT5 in human
  PBMC (``data/training/``, made by ``data/make_tidy.py``; see ``data/PROVENANCE.md``):
  only the 30 min, 1 h and 2 h rows (:data:`TRAINING_TIMES_MIN`). The 4 h rows and every file
  under ``data/heldout/`` are held out: this module refuses them (:func:`read_measurements`), so
  no held-out number can reach a fit through it.
* **Populations.** The gated populations fitted by default are the four whole populations,
  T-reg, T-helper, CD8+ and NK (:data:`DEFAULT_POPULATIONS`); their naive and memory
  sub-blocks are subsets of the same cells in the same wells, so fitting them too would count
  the same cells twice. A population enters only if the model has a cell type for it.
* **Conditions**: one per cell type and dose. A cell type sets the SBML contract's receptor
  parameters (``CD25_per_cell``, ``CD122_per_cell``, ``CD132_per_cell``) to parameters of the
  parameter table (``CD25_Treg`` ...), so receptor numbers can be held at their measured values or
  estimated within their priors; the dose sets ``IL2_pM`` (the file's nM times 1,000).
* **Observables**: ``offset + scale * pSTAT5``, one per experiment and cell type (pSTAT5 in molecules per cell, the model's
  observable: every phosphorylated STAT5, free, docked, in dimers, in the nucleus, as the
  intracellular antibody sees it). One experiment is one antibody lot, one staining and one
  cytometer setting, so **the scale is one per experiment and shared by every cell type**: that
  is what makes the relative levels of Treg, NK, CD8 and T-helper cells informative. Replicate 1
  of the file joins two experiments (T-reg and T-helper from 2019-03-15, NK and CD8+ from
  2019-03-19); replicate 2 is one (2019-03-27). **The offset is one per experiment and
  population**: it is background fluorescence, which differs between populations of different
  size and autofluorescence (in the 2019-03-27 plate the lowest-dose T-helper wells read
  ~2,800 a.u. against ~850 for NK and CD8, at doses where none of them responds).
* **Noise model**: log-normal (PEtab ``observableTransformation: log``, ``noiseDistribution:
  normal``), one sigma per experiment. Median fluorescence intensities have multiplicative
  errors (roughly constant CV across a 100-fold range: 850 to 80,000 a.u. here); an additive
  model would let the bright Treg wells decide every fit.
* **Parameters** (:data:`ESTIMATED`, all on log10 scale): the receptor-to-STAT5 constants
  that no measurement gives (``docs/stat5_sources.md``), each with bounds and a reason; STAT5
  abundance per lineage (:data:`LINEAGES`: CD4 for Treg and T-helper, CD8, NK), set through
  the conditions like the receptor numbers; receptor
  numbers with priors from the three bead-calibrated quantitations (:func:`receptor_priors`);
  scales, offsets and sigmas as nuisance parameters. Everything else (binding, trafficking,
  the pAkt and ppERK modules) keeps the model's value (``estimate = 0``).

Units: time in seconds (the table's minutes times 60), ``IL2_pM`` in pM, receptor numbers in
molecules per cell, rate constants in the units the SBML declares for them (s⁻¹ or
µM⁻¹ s⁻¹; ``parameters.tsv`` lists each), measurements and offsets in the cytometer's
arbitrary units (a.u.), scales in a.u. per molecule.
"""

from __future__ import annotations

import csv
import math
import os
import statistics
from dataclasses import dataclass
from decimal import Decimal

from ..lang.errors import Il2sbmlError

TRAINING_TIMES_MIN = (30, 60, 120)
"""The only times of the training file that may be fitted; its 4 h rows are held-out set (a)."""

HELD_OUT_FOLDER = "heldout"
"""Files in a folder of this name are held out: :func:`read_measurements` refuses them."""

POPULATION_ALIASES = {
    "T-reg": "Treg", "T-helper": "CD4_helper", "CD8+": "CD8", "NK": "NK",
    "Naive Th": "CD4_naive", "Mem Th": "CD4_memory", "Naive CD8+": "CD8_naive", "Mem CD8+": "CD8_memory",
    "Naive Treg": "Treg_naive", "Mem Treg": "Treg_memory",
}
"""Gated populations of Farhat et al.'s file -> the model's cell types (parameter sets)."""

DEFAULT_POPULATIONS = ("T-reg", "T-helper", "CD8+", "NK")

REQUIRED_COLUMNS = ("experiment", "population", "time_min", "IL2_nM", "pSTAT5_au")

# name: (lower, upper, reason); bounds in the SBML's units for the parameter (parameters.tsv says which)
ESTIMATED = {
    "k_jak_act": (1e-3, 1e2, "JAK1/JAK3 activation in an assembled complex: not measured (docs/stat5_sources.md B); "
                  "from minutes to 10 ms"),
    "k_jak_inact": (1e-4, 1e1, "JAK inactivation: not measured; from hours to 0.1 s"),
    "k_Y_phos": (1e-3, 1e2, "IL-2Rbeta Y338/Y510 phosphorylation by active JAKs: not measured; minutes to 10 ms"),
    "k_Y_dephos": (1e-4, 1e1, "free pY338/pY510 dephosphorylation: not measured; hours to 0.1 s"),
    "koff_STAT5": (1e-3, 1e2, "STAT5 SH2 off pY510 (kon fixed at 1/uM/s, so Kd 1 nM to 100 uM): not measured"),
    "k_STAT5_phos": (1e-3, 1e2, "docked STAT5 phosphorylation: not measured; minutes to 10 ms"),
    "koff_pSTAT5": (1e-3, 1e2, "pSTAT5 release from pY510: not measured"),
    "koff_dimer": (1e-4, 1e1, "pSTAT5 dimer dissociation (kon fixed at 1/uM/s): not measured"),
    "k_import": (1e-5, 1e0, "nuclear import of pSTAT5 dimers: published fits 2.7e-4 to 4.5e-4/s in other cells "
                 "(docs/stat5_sources.md A6, A8); bounds a decade and more around them"),
    "k_nuc_dissoc": (1e-5, 1e0, "nuclear dimer dissociation: not measured"),
    "k_nuc_dephos": (1e-5, 1e0, "nuclear pSTAT5 dephosphorylation: fits 1e-4 to 1.2e-3/s in other cells "
                     "(docs/stat5_sources.md A7, A9)"),
    "k_export": (1e-5, 1e0, "nuclear export of STAT5: fits 1e-4 to 1.2e-3/s in other cells (A7, A9)"),
    "k_cyt_dephos": (1e-5, 1e0, "cytoplasmic pSTAT5 dephosphorylation: fits 4e-4 to 5e-4/s (A10)"),
    "k_CISH_syn": (1e-6, 1e-1, "CISH induction per nuclear pSTAT5: not measured in T cells"),
    "koff_CISH": (1e-4, 1e1, "CISH SH2 off pY510: not measured"),
}
"""The receptor-to-STAT5 constants estimated: (lower bound, upper bound, reason)."""

LINEAGES = {"Treg": "CD4", "CD4_helper": "CD4", "CD8": "CD8", "NK": "NK"}
"""Cell type -> lineage whose STAT5 abundance it shares (``STAT5_<lineage>`` sets ``STAT5_per_cell``)."""
STAT5_BOUNDS = (1e4, 3e5, "STAT5A+B per cell of the {lineage} lineage: not measured in human lymphocytes; 2e4 to "
                "1.75e5 measured in other cells (docs/stat5_sources.md A1-A3), so it differs between cell types; "
                "bounds that range widened. One per lineage: at equal receptor occupancy the training data's "
                "CD4 T cells (Treg, T-helper) reach several-fold the pSTAT5 of CD8 and NK cells under one scale "
                "(docs/calibration.md)")

RECEPTORS = (("CD25", "IL2Ra", "CD25", "IL-2R$\\alpha$"),
             ("CD122", "IL2Rb", "CD122", "IL-2R$\\beta$"),
             ("CD132", "gc", "CD132", "$\\gamma_{c}$"))
"""Chain: (model prefix, RecQuantitation.csv name, receptor_moments.csv name, final_receptor_levels.csv name)."""

PRIOR_FILES = {
    "farhat": "final_receptor_levels.csv",      # meyer-lab/gc-cytokines (Farhat et al. 2021), 4 sets
    "moments": "receptor_moments.csv",          # meyer-lab/gcSolver.jl, 2 dates x 2 plates
    "recquant": "RecQuantitation.csv",          # meyer-lab/gc-valent, one mean
}
PRIOR_NAMES = {  # model cell type -> name in (final_receptor_levels, receptor_moments, RecQuantitation)
    "Treg": ("T-reg", "Treg", "Treg"),
    "CD4_helper": ("T-helper", "Thelper", "Thelper"),
    "CD8": ("CD8+", "CD8", "CD8"),
    "NK": ("NK", "NK", "NK"),
}
PRIOR_SD_FLOOR = 0.1
"""Smallest prior standard deviation on log10 receptor numbers (a factor of 1.26)."""
BOUND_WIDENING = 2.0
"""Receptor bounds: the range every quantitation spans, widened by this factor on each side (the
issue allows at most 3)."""


class DataError(Il2sbmlError):
    """A measurement file that cannot be used: names the file, the row and what to do."""


@dataclass(frozen=True)
class Measurement:
    experiment: str
    population: str        # as in the file
    cell_type: str         # the model's parameter set
    time_s: float
    dose_pM: float
    value: float
    replicate: str
    row: int


def _number(path: str, row: int, column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{path}: row {row}: column {column!r} holds {text!r}, not a number; "
                        f"fix or remove that row") from None
    if not math.isfinite(value):
        raise DataError(f"{path}: row {row}: column {column!r} holds {text!r}; measurements must be finite")
    return value


def read_measurements(path: str, cell_types, *, populations=DEFAULT_POPULATIONS,
                      times_min=TRAINING_TIMES_MIN) -> list[Measurement]:
    """Read a tidy pSTAT5 table (the layout of ``data/training/``) for fitting.

    ``cell_types`` are the model's parameter sets. Rows of other populations than
    ``populations`` are skipped; rows at other times than ``times_min`` are refused (held out),
    and so is any file in a ``heldout`` folder. Row numbers in errors count the header as 1.
    """
    parts = os.path.normpath(os.path.abspath(path)).split(os.sep)
    if HELD_OUT_FOLDER in parts[:-1]:
        raise DataError(f"{path}: files under data/{HELD_OUT_FOLDER}/ are held out and never used for fitting; "
                        f"give the training file (data/training/farhat2021_pSTAT5_IL2.csv)")
    try:
        fh = open(path, newline="", encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot read the measurement file ({exc.strerror})") from None
    with fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise DataError(f"{path}: row 1: missing column(s) {', '.join(missing)} (has: {', '.join(header) or 'none'}); "
                            f"a measurement table needs {', '.join(REQUIRED_COLUMNS)}")
        wanted = set(populations)
        out = []
        for row, rec in enumerate(reader, start=2):
            population = (rec["population"] or "").strip()
            if population not in wanted:
                continue
            cell_type = POPULATION_ALIASES.get(population, population)
            if cell_type not in cell_types:
                raise DataError(f"{path}: row {row}: population {population!r} is cell type {cell_type!r}, which the "
                                f"model does not have (its cell types: {', '.join(cell_types)}); add a parameter set "
                                f"for it to the model or leave the population out")
            minutes = _number(path, row, "time_min", rec["time_min"])
            if minutes not in times_min:
                raise DataError(f"{path}: row {row}: time {rec['time_min']} min is not a training time "
                                f"({', '.join(map(str, times_min))} min); the 4 h rows are held out and never fitted")
            dose_nM = _number(path, row, "IL2_nM", rec["IL2_nM"])
            dose_pM = float(Decimal(rec["IL2_nM"].strip()) * 1000)   # exact decimal shift: 0.000474182 -> 0.474182
            value = _number(path, row, "pSTAT5_au", rec["pSTAT5_au"])
            if dose_nM <= 0 or value <= 0:
                raise DataError(f"{path}: row {row}: dose and pSTAT5 must be positive (got {dose_nM} nM, {value} a.u.)")
            experiment = (rec["experiment"] or "").strip()
            if not experiment:
                raise DataError(f"{path}: row {row}: empty experiment; each row names the experiment (date) it comes from")
            out.append(Measurement(experiment, population, cell_type, minutes * 60.0, dose_pM, value,
                                   (rec.get("replicate") or "").strip(), row))
    absent = wanted - {m.population for m in out}
    if absent:
        raise DataError(f"{path}: no rows for population(s) {', '.join(sorted(absent))}; "
                        f"the file's populations are not the ones asked for")
    return out


# ---------------------------------------------------------------- receptor priors

def _read_csv(path: str) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def receptor_priors(prior_dir: str, cell_types) -> dict[str, tuple[float, float, float, float, str]]:
    """``{parameter id: (nominal, lower, upper, prior mean of log10, prior sd of log10, reason)}``.

    For each cell type and chain, three bead-calibrated quantitations of the same lab give a mean
    (Farhat's four sets averaged; the moments file's four plates averaged; RecQuantitation's one
    value). Prior: normal on log10, mean = the mean of the three log10 means, sd = their standard
    deviation (at least :data:`PRIOR_SD_FLOOR`). Bounds: the lowest and highest single
    measurement of any source, widened :data:`BOUND_WIDENING`-fold. Nominal: Farhat's mean (the
    model's value).
    """
    rows = {k: _read_csv(os.path.join(prior_dir, f)) for k, f in PRIOR_FILES.items()}
    out = {}
    for cell in cell_types:
        if cell not in PRIOR_NAMES:
            raise DataError(f"{prior_dir}: no receptor quantitation is mapped for cell type {cell!r} "
                            f"(mapped: {', '.join(PRIOR_NAMES)})")
        n_farhat, n_moments, n_recq = PRIOR_NAMES[cell]
        for prefix, recq_name, moments_name, farhat_name in RECEPTORS:
            farhat = [float(r["Count"]) for r in rows["farhat"]
                      if r["Cell Type"] == n_farhat and r["Receptor"] == farhat_name]
            moments = [float(r["Mean"]) for r in rows["moments"]
                       if r["Cell Type"] == n_moments and r["Receptor"] == moments_name]
            recq = [float(r["Mean"]) for r in rows["recquant"]
                    if r["Cell Type"] == n_recq and r["Receptor"] == recq_name]
            if not (farhat and moments and recq):
                raise DataError(f"{prior_dir}: missing quantitation of {prefix} on {cell}")
            means = [statistics.fmean(farhat), statistics.fmean(moments), recq[0]]
            logs = [math.log10(v) for v in means]
            mu = statistics.fmean(logs)
            sd = max(PRIOR_SD_FLOOR, statistics.stdev(logs))
            everything = farhat + moments + recq
            lo, hi = min(everything) / BOUND_WIDENING, max(everything) * BOUND_WIDENING
            reason = (f"{prefix} chains per {cell} cell: quantitations {means[0]:.0f} (Farhat 2021, 4 sets), "
                      f"{means[1]:.0f} (receptor_moments, 4 plates), {means[2]:.0f} (RecQuantitation); prior "
                      f"normal on log10; bounds the measured range widened {BOUND_WIDENING:g}-fold")
            out[f"{prefix}_{cell}"] = (round(means[0], 3), lo, hi, mu, sd, reason)
    return out


# ---------------------------------------------------------------- the problem's files

NUISANCE_BOUNDS = {"offset": (1e1, 1e5), "scale": (1e-4, 1e3), "sigma": (1e-2, 2.0)}
"""Offsets in a.u. (measurements span 800-90,000 a.u.), scales in a.u. per molecule (up to 1e5
phosphorylated STAT5 per cell against a.u. of thousands), sigmas of the natural log of a.u."""


def _fmt(x: float) -> str:
    """A number as PEtab text: the shortest repr that reads back to the same float."""
    x = float(x)
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


def _tsv(header: list[str], rows: list[list]) -> str:
    lines = ["\t".join(header)]
    lines += ["\t".join(v if isinstance(v, str) else _fmt(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def _exp_id(experiment: str) -> str:
    ident = "".join(ch if ch.isalnum() else "" for ch in experiment)
    return ("E" + ident) if not ident[:1].isalpha() else ident


def _sbml_parameters(sbml: str) -> dict[str, tuple[float, bool, str]]:
    """``{id: (value, settable, units)}``; settable = constant and not the target of any rule."""
    import libsbml

    doc = libsbml.readSBMLFromString(sbml)
    m = doc.getModel()
    ruled = {r.getVariable() for r in m.getListOfRules()} | {a.getSymbol() for a in m.getListOfInitialAssignments()}
    return {p.getId(): (p.getValue(), p.getConstant() and p.getId() not in ruled, p.getUnits())
            for p in m.getListOfParameters()}


@dataclass
class Problem:
    """The PEtab files as text, keyed by file name, and what went into them."""

    files: dict[str, str]
    measurements: list[Measurement]


def make_problem(model_path: str, data_path: str, *, prior_dir: str = "data/priors",
                 populations=DEFAULT_POPULATIONS, fit_path: str | None = "model_src/il2_fit.json") -> Problem:
    """Every file of the PEtab problem, in memory (nothing is written).

    Nominal values: the model's own for its parameters; for offsets, scales and sigmas the
    calibration's (``fit_path``, written by :func:`il2sbml.analysis.calibrate.write_fit`) when it has them,
    so that the table's nominal point is the best fit; otherwise values read off the data.
    """
    fitted = {}
    if fit_path and os.path.exists(fit_path):
        import json

        with open(fit_path, encoding="utf-8") as fh:
            fitted = {k: v["value"] for k, v in json.load(fh)["parameters"].items()}
    from ..generate.netgen import generate_network
    from .load import load_model
    from .sbml import SBMLError, validate_sbml, write_sbml

    model = load_model(model_path)
    cell_types = list(model.parameter_sets)
    data = read_measurements(data_path, cell_types, populations=populations)
    sbml = write_sbml(generate_network(model))
    errors = [p for p in validate_sbml(sbml) if p.severity == "error"]
    if errors:
        raise SBMLError(f"{model_path}: the SBML fails validation ({errors[0]}); nothing was written")
    params = _sbml_parameters(sbml)
    for name in list(ESTIMATED) + ["IL2_pM", "STAT5_per_cell"] + [r[0] + "_per_cell" for r in RECEPTORS]:
        if name not in params:
            raise DataError(f"{model_path}: the PEtab problem needs SBML parameter {name!r}, which the model lacks")
        if not params[name][1]:
            raise DataError(f"{model_path}: SBML parameter {name!r} is set by a rule; PEtab can only estimate "
                            f"or override constant parameters")

    # conditions: cell types in the order the populations were asked for, doses ascending
    cells = sorted({m.cell_type for m in data},
                   key=lambda c: [POPULATION_ALIASES.get(p, p) for p in populations].index(c))
    doses = {c: sorted({m.dose_pM for m in data if m.cell_type == c}) for c in cells}
    cond_id = {}
    cond_rows = []
    for c in cells:
        for i, d in enumerate(doses[c], start=1):
            cid = f"{c}_dose{i:02d}"
            cond_id[(c, d)] = cid
            cond_rows.append([cid, f"{c}, IL-2 {_fmt(d)} pM", d] + [f"{r[0]}_{c}" for r in RECEPTORS]
                             + [f"STAT5_{LINEAGES[c]}"])
    conditions = _tsv(["conditionId", "conditionName", "IL2_pM"] + [r[0] + "_per_cell" for r in RECEPTORS]
                      + ["STAT5_per_cell"], cond_rows)

    # one observable per experiment and cell type, its own offset and the experiment's scale written
    # out (no placeholders: AMICI refuses condition-wise observable-parameter mappings)
    meas_rows, obs_rows, seen = [], [], set()
    for m in data:
        e = _exp_id(m.experiment)
        oid = f"pSTAT5_{e}_{m.cell_type}"
        if oid not in seen:
            seen.add(oid)
            obs_rows.append([oid, f"median pSTAT5 of {m.cell_type} cells, experiment {m.experiment} (a.u.)",
                             f"offset_{e}_{m.cell_type} + scale_{e} * pSTAT5", "log", f"sigma_{e}", "normal"])
        meas_rows.append([oid, cond_id[(m.cell_type, m.dose_pM)], m.value, m.time_s, m.replicate or e])
    # rows grouped by condition, conditions in sorted order: pyPESTO 0.7.0's RoadRunner objective pairs
    # its conditions in order of first appearance with parameter mappings in sorted order, so any
    # other order silently simulates each condition with another's dose and receptor numbers
    meas_rows.sort(key=lambda r: (r[1], r[3], r[0], r[4]))
    measurements = _tsv(["observableId", "simulationConditionId", "measurement", "time", "replicateId"], meas_rows)
    observables = _tsv(["observableId", "observableName", "observableFormula", "observableTransformation",
                        "noiseFormula", "noiseDistribution"], sorted(obs_rows))

    header = ["parameterId", "parameterName", "parameterScale", "lowerBound", "upperBound", "nominalValue",
              "estimate", "objectivePriorType", "objectivePriorParameters", "reason"]
    prow = []
    for name, (lo, hi, why) in ESTIMATED.items():
        value = params[name][0]
        units = model.parameters[name].units
        if not lo <= value <= hi:
            raise DataError(f"{model_path}: {name} = {value} lies outside its calibration bounds [{lo}, {hi}]")
        prow.append([name, name, "log10", lo, hi, value, 1, "", "", f"{why} [{units}]"])
    lo, hi, why = STAT5_BOUNDS
    for lineage in dict.fromkeys(LINEAGES[c] for c in cells):
        values = [model.parameter_sets[c].as_dict().get("STAT5_per_cell") for c in cells if LINEAGES[c] == lineage]
        if values[0] is None or len(set(values)) != 1:
            raise DataError(f"{model_path}: the cell types of the {lineage} lineage must set one STAT5_per_cell "
                            f"(found {values})")
        prow.append([f"STAT5_{lineage}", f"STAT5_{lineage}", "log10", lo, hi, float(values[0]), 1, "", "",
                     why.format(lineage=lineage) + " [molecule]"])
    priors = receptor_priors(prior_dir, cells)
    for c in cells:
        values = model.parameter_sets[c].as_dict()
        for prefix, *_ in RECEPTORS:
            pid = f"{prefix}_{c}"
            _, lo, hi, mu, sd, why = priors[pid]
            prow.append([pid, pid, "log10", lo, hi, float(values[prefix + "_per_cell"]), 1,
                         "parameterScaleNormal", f"{_fmt(round(mu, 6))};{_fmt(round(sd, 6))}", why + " [molecule]"])
    for exp in dict.fromkeys(m.experiment for m in data):     # in the file's order
        e = _exp_id(exp)
        rows = [m for m in data if m.experiment == exp]
        for c in cells:
            block = [m.value for m in rows if m.cell_type == c]
            if block:
                lo, hi = NUISANCE_BOUNDS["offset"]
                pid = f"offset_{e}_{c}"
                prow.append([pid, pid, "log10", lo, hi, fitted.get(pid, min(block)), 1, "", "",
                             f"background fluorescence of {c} cells in experiment {exp} (a.u.); nominal: the "
                             f"calibration's, else the block's lowest reading"])
        lo, hi = NUISANCE_BOUNDS["scale"]
        prow.append([f"scale_{e}", f"scale_{e}", "log10", lo, hi, fitted.get(f"scale_{e}", 0.1), 1, "", "",
                     f"a.u. per phosphorylated STAT5 molecule in experiment {exp}, shared by its cell types"])
        lo, hi = NUISANCE_BOUNDS["sigma"]
        prow.append([f"sigma_{e}", f"sigma_{e}", "log10", lo, hi, fitted.get(f"sigma_{e}", 0.1), 1, "", "",
                     f"sd of log pSTAT5 readings in experiment {exp} (log-normal noise)"])
    parameters = _tsv(header, prow)

    yaml = ("format_version: 1\n"
            "parameter_file: parameters.tsv\n"
            "problems:\n"
            "- condition_files:\n  - conditions.tsv\n"
            "  measurement_files:\n  - measurements.tsv\n"
            "  observable_files:\n  - observables.tsv\n"
            "  sbml_files:\n  - model.xml\n")
    files = {"problem.yaml": yaml, "model.xml": sbml, "conditions.tsv": conditions,
             "measurements.tsv": measurements, "observables.tsv": observables, "parameters.tsv": parameters}
    return Problem(files, data)


def write_problem(model_path: str, data_path: str, output: str = "build/petab", **kwargs) -> list[str]:
    """Make the problem and write its files into ``output``; returns the paths written."""
    from .files import atomic_write

    problem = make_problem(model_path, data_path, **kwargs)
    paths = []
    for name, text in problem.files.items():
        path = os.path.join(output, name)
        atomic_write(path, text)
        paths.append(path)
    return paths
