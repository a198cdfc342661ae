"""The model against held-out measurements: predictions, EC50s, fold errors, figures (analysis).

Held-out data (``data/heldout/``, see its PROVENANCE.md) are read here and nowhere else: not by
:mod:`il2sbml.formats.petab_problem`, not by :mod:`il2sbml.analysis.calibrate`. Four sets, as the calibration
issue names them:

(a) ``farhat2021_pSTAT5_IL2_4h.csv``: the 4 h rows of the training experiments (Treg,
    T-helper, CD8, NK; same plates, so the calibration's offsets and scales apply and the
    prediction is in the cytometer's units).
(b) ``Visterra_pSTAT5.csv``, the CD56bright NK blocks only (the file's other blocks repeat the
    training data and are not read): cell type ``NK_CD56bright`` of the model.
(c) ``WTDimericMutSingleCellData_IL2.csv``, the 2019-04-18 PBMC lot only (an independent lot):
    per-cell mean pSTAT5 of Treg, T-helper, NK and CD8 at 0.5-4 h.
(d) ``YT1TetraSTAT.csv``, the monovalent IL-2 rows: the YT-1 NK line (CD25 negative), with its
    measured gamma-c (``YT_1_receptor_levels.csv``: 10,909 per cell; IL-2Ralpha and IL-2Rbeta
    were not measured: -1). IL-2Ralpha is 0 (the line is CD25-negative by its selection) and
    IL-2Rbeta is an assumption (:data:`YT1_CD122`), the time of stimulation is not recorded.

The single-cell moments of (c)'s file for all three dates (3/15 and 3/27 re-analyse the training
wells, 4/18 is the independent lot) are held out too, for the population predictions
(:func:`load_single_cell_moments`, used by :mod:`il2sbml.analysis.populations`): nothing is
fitted to them.

For (b)-(d) the plates have no calibrated offset or scale, so the comparison is of what does not
depend on them: the EC50 of a Hill fit (measured) against the EC50 of the model's curve
(predicted), and curve shapes scaled to each curve's own range. Misses are reported as they are.

Units: doses in pM (files in nM are converted), times in s, pSTAT5 in molecules per cell
(model) or the cytometer's arbitrary units (data).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field

import numpy as np

from ..lang.errors import Il2sbmlError

HELDOUT = "data/heldout"
YT1_CD122 = 8774.0
"""IL-2Rbeta per YT-1 cell: not measured (YT_1_receptor_levels.csv has -1); assumption: the
number of primary NK cells (IL2_PARAMETERS.md s2), since YT-1 is an NK line; the report also
gives the prediction at a tenth and at three times this."""
MODEL_DOSES_PM = np.logspace(-1, 5, 31)


@dataclass
class Curve:
    """One measured dose-response of a held-out set."""

    dataset: str           # (a), (b), (c), (d)
    label: str             # e.g. "Treg 4 h, 2019-03-27"
    cell_type: str         # model parameter set (or "YT1")
    time_s: float | None   # None: not recorded
    doses_pM: np.ndarray
    values: np.ndarray
    overrides: dict = field(default_factory=dict)
    experiment: str = ""


def _f(text: str) -> float:
    return float(text.strip())


def _tidy_curves(path: str, dataset: str) -> list[Curve]:
    """The whole populations of a tidy pSTAT5 table (data/make_tidy.py's layout), one curve per
    experiment, population and time, doses ascending."""
    from ..formats.petab_problem import DEFAULT_POPULATIONS, POPULATION_ALIASES

    groups: dict[tuple[str, str, float], list[tuple[float, float]]] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            if rec["population"] in DEFAULT_POPULATIONS:
                key = (rec["experiment"], POPULATION_ALIASES[rec["population"]], _f(rec["time_min"]) * 60)
                groups.setdefault(key, []).append((_f(rec["IL2_nM"]) * 1000, _f(rec["pSTAT5_au"])))
    curves = []
    for (exp, cell, t), pts in groups.items():
        pts.sort()
        when = f"{t / 3600:g} h" if dataset == "(a)" else f"{t / 60:g} min"
        curves.append(Curve(dataset, f"{cell} {when}, {exp}", cell, t, np.array([p[0] for p in pts]),
                            np.array([p[1] for p in pts]), experiment=exp))
    return curves


def load_4h(path: str) -> list[Curve]:
    """Set (a): the 4 h rows, one curve per experiment and population (whole populations only)."""
    return _tidy_curves(path, "(a)")


def load_cd56bright(path: str) -> list[Curve]:
    """Set (b): the CD56bright NK blocks of the Visterra file (both replicates, IL-2 rows)."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    curves = []
    for r, row in enumerate(rows):
        if len(row) > 1 and row[1].startswith("CD56bright"):
            for rep, first in ((1, 2), (2, 19)):
                if rep == 2 and not rows[r][first - 1].startswith("CD56bright"):
                    continue
                doses = np.array([_f(x) * 1000 for x in rows[r + 1][first:first + 12]])
                for k in range(r + 3, r + 7):
                    label = rows[k][0]
                    hours = {"30 min": 0.5, "1 hour": 1, "2 hours": 2, "4 hours": 4}[label.split(", ")[1]]
                    vals = [x for x in rows[k][first:first + 12]]
                    ok = sorted((i for i, v in enumerate(vals) if v.strip()), key=lambda i: doses[i])
                    curves.append(Curve("(b)", f"CD56bright NK {label.split(', ')[1]}, replicate {rep}",
                                        "NK_CD56bright", hours * 3600.0, doses[ok],
                                        np.array([_f(vals[i]) for i in ok])))
    if not curves:
        raise Il2sbmlError(f"{path}: no CD56bright block found")
    return curves


def load_lot_0418(path: str) -> list[Curve]:
    """Set (c): the 2019-04-18 lot, per-cell mean pSTAT5 per cell type and time."""
    cells = {"Treg": "Treg", "Thelper": "CD4_helper", "NK": "NK", "CD8": "CD8"}
    groups: dict[tuple[str, float], list[tuple[float, float]]] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            if rec["Date"] == "4/18/2019" and rec["Ligand"] == "IL2":
                groups.setdefault((rec["Cell"], _f(rec["Time"])), []).append((_f(rec["Dose"]) * 1000, _f(rec["Mean"])))
    curves = []
    for (cell, hours), pts in sorted(groups.items()):
        pts.sort()
        curves.append(Curve("(c)", f"{cells[cell]} {hours:g} h, lot 2019-04-18", cells[cell], hours * 3600,
                            np.array([p[0] for p in pts]), np.array([p[1] for p in pts])))
    return curves


@dataclass
class Moments:
    """One well's single-cell pSTAT5 moments (file (c), IL-2 rows): mean background-subtracted by the
    block's lowest well (a.u.), variance not (a.u.^2, ddof 0), skew and excess kurtosis
    (scipy.stats), covariance with IL-2Ralpha staining (a.u. x a.u.; None for NK and CD8, where
    the file holds a 0 placeholder)."""

    date: str
    cell_type: str
    time_s: float
    dose_pM: float
    mean: float
    variance: float
    skew: float
    kurtosis: float
    cov_cd25: float | None


def load_single_cell_moments(path: str = f"{HELDOUT}/WTDimericMutSingleCellData_IL2.csv",
                             times_h=(0.5, 1.0)) -> list[Moments]:
    """The IL-2 single-cell moments at ``times_h`` (all dates); doses converted from nM to pM."""
    cells = {"Treg": "Treg", "Thelper": "CD4_helper", "NK": "NK", "CD8": "CD8"}
    out = []
    with open(path, newline="", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            if rec["Ligand"] != "IL2" or _f(rec["Time"]) not in times_h:
                continue
            cov = _f(rec["alphStatCov"]) if rec["Cell"] in ("Treg", "Thelper") else None
            out.append(Moments(rec["Date"], cells[rec["Cell"]], _f(rec["Time"]) * 3600, _f(rec["Dose"]) * 1000,
                               _f(rec["Mean"]), _f(rec["Variance"]), _f(rec["Skew"]), _f(rec["Kurtosis"]), cov))
    return out


def load_yt1(path: str, receptors: str) -> list[Curve]:
    """Set (d): YT-1 (CD25-negative NK line), monovalent IL-2, with its measured gamma-c."""
    with open(receptors, newline="", encoding="utf-8") as fh:
        rec = next(csv.DictReader(fh))
    gc = _f(rec["$\\gamma_{c}$"])
    pts = []
    with open(path, newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r["Ligand"].strip() == "IL2" and r["Valency"].strip() == "1":
                pts.append((_f(r["Concentration"]) * 1000, _f(r["Mean"])))
    pts.sort()
    return [Curve("(d)", "YT-1 (CD25-), time not recorded", "NK", None, np.array([p[0] for p in pts]),
                  np.array([p[1] for p in pts]),
                  overrides={"CD25_per_cell": 0.0, "CD122_per_cell": YT1_CD122, "CD132_per_cell": gc})]


def load_all(folder: str = HELDOUT) -> list[Curve]:
    return (load_4h(os.path.join(folder, "farhat2021_pSTAT5_IL2_4h.csv"))
            + load_cd56bright(os.path.join(folder, "Visterra_pSTAT5.csv"))
            + load_lot_0418(os.path.join(folder, "WTDimericMutSingleCellData_IL2.csv"))
            + load_yt1(os.path.join(folder, "YT1TetraSTAT.csv"), os.path.join(folder, "YT_1_receptor_levels.csv")))


def hill_ec50(doses, values) -> float | None:
    """EC50 (pM) of a 4-parameter Hill fit (measured or model curve); None when no sigmoid fits."""
    from ..simulate.ode import fit_hill

    try:
        return float(fit_hill(doses, values).ec50)
    except Il2sbmlError:
        return None


def predict(sim, curve: Curve, cell_values: dict, doses=MODEL_DOSES_PM, time_s: float | None = None) -> np.ndarray:
    """Model pSTAT5 (molecules per cell) of ``curve``'s cell type at ``doses`` (pM)."""
    t = time_s if time_s is not None else curve.time_s
    dr = sim.dose_response("IL2_pM", doses, ["pSTAT5"], time=t, **(cell_values | curve.overrides))
    return dr["pSTAT5"]


def fold_error(measured: float | None, predicted: float | None) -> float | None:
    if not measured or not predicted:
        return None
    return float(max(measured, predicted) / min(measured, predicted))


# ---------------------------------------------------------------- the comparison

@dataclass
class Row:
    dataset: str
    label: str
    time_s: float | None
    measured_ec50_pM: float | None
    predicted_ec50_pM: float | None
    fold_error: float | None


YT1_TIMES_S = (1800.0, 14400.0)
"""YT-1's time of stimulation is not recorded: predictions at 30 min and 4 h bracket it."""


def compare(model, sim, folder: str = HELDOUT, sets=("(a)", "(b)", "(c)", "(d)"), progress=None):
    """Every held-out curve of ``sets`` with its prediction: ``(rows, curves, predictions)``.

    ``model``: the loaded model (its cell types); ``sim``: an :class:`~il2sbml.simulate.ode.Simulator` of
    its SBML (any cell type's file: cell types are passed as overrides).
    """
    rows, preds = [], []
    curves = [c for c in load_all(folder) if c.dataset in sets]
    for c in curves:
        values = model.parameter_sets[c.cell_type].as_dict()
        measured = hill_ec50(c.doses_pM, c.values)
        for t in (YT1_TIMES_S if c.time_s is None else (c.time_s,)):
            p = predict(sim, c, values, time_s=t)
            label = c.label if c.time_s is not None else f"{c.label}; predicted at {t / 60:g} min"
            predicted = hill_ec50(MODEL_DOSES_PM, p)
            rows.append(Row(c.dataset, label, t, measured, predicted, fold_error(measured, predicted)))
            preds.append((c, t, p))
        if progress:
            progress(f"held out {c.dataset}: {c.label}")
    return rows, curves, preds


# ---------------------------------------------------------------- figures and tables

TRAINING = "data/training/farhat2021_pSTAT5_IL2.csv"
TIME_COLOURS = {1800.0: "tab:blue", 3600.0: "tab:orange", 7200.0: "tab:green", 14400.0: "tab:red"}


def _training_curves() -> list[Curve]:
    """The training rows of the four whole populations (for the figure only; never fitted here)."""
    return sorted(_tidy_curves(TRAINING, "training"), key=lambda c: (c.experiment, c.cell_type, c.time_s))


def figure_training_and_4h(sim, model, fit: dict, path: str) -> None:
    """Data points on model curves for each experiment and population: the training times and the
    held-out 4 h rows (set (a)), in the cytometer's units through the calibrated offsets and scales."""
    from ..formats.petab_problem import _exp_id as exp_id
    from .plots import figure_grid

    curves = _training_curves() + load_4h(os.path.join(HELDOUT, "farhat2021_pSTAT5_IL2_4h.csv"))
    panels = sorted({(c.experiment, c.cell_type) for c in curves})
    fig, axes = figure_grid(2, 4, size=(16, 7.5))
    cache: dict = {}
    for ax, (exp, cell) in zip(axes, panels):
        e = exp_id(exp)
        offset, scale = fit[f"offset_{e}_{cell}"]["value"], fit[f"scale_{e}"]["value"]
        values = model.parameter_sets[cell].as_dict()
        for c in (c for c in curves if c.experiment == exp and c.cell_type == cell):
            key = (cell, c.time_s)
            if key not in cache:
                cache[key] = predict(sim, c, values)
            colour = TIME_COLOURS[c.time_s]
            held = c.dataset == "(a)"
            ax.plot(c.doses_pM, c.values, "s" if held else "o", mfc="none" if held else colour, color=colour,
                    label=f"{c.time_s / 60:g} min, {'held out (a)' if held else 'training'}")
            ax.plot(MODEL_DOSES_PM, offset + scale * cache[key], "-", color=colour, lw=1)
        ax.set_yscale("log")
        _label(ax, f"{cell}, {exp}", "pSTAT5 (a.u.)")
    _save(fig, axes, len(panels), "Training (filled) and held-out 4 h (open) pSTAT5 on the calibrated model (lines)",
          path)


def _label(ax, title: str, ylabel: str) -> None:
    ax.set_xscale("log")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("IL-2 (pM)")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=6)


def _save(fig, axes, used: int, title: str, path: str) -> None:
    for ax in axes[used:]:
        ax.set_visible(False)
    fig.suptitle(title)
    fig.savefig(path, dpi=80)


def figure_heldout_shapes(preds, path: str) -> None:
    """Sets (b)-(d): measured and predicted curves, each scaled to its own range (no offset or scale
    is known for these plates)."""
    from .plots import figure_grid

    items = [(c, t, p) for c, t, p in preds if c.dataset in ("(b)", "(c)", "(d)")]
    groups: dict = {}
    for c, t, p in items:
        groups.setdefault((c.dataset, c.cell_type, c.label.split(",")[-1].strip() if c.dataset == "(b)" else ""),
                          []).append((c, t, p))
    fig, axes = figure_grid(2, 4, size=(16, 7.5))

    def unit(y):
        y = np.asarray(y, float)
        return (y - y.min()) / (y.max() - y.min()) if y.max() > y.min() else y * 0

    for ax, (key, members) in zip(axes, sorted(groups.items())):
        for c, t, p in members:
            colour = TIME_COLOURS.get(t, "tab:gray")
            ax.plot(c.doses_pM, unit(c.values), "s", mfc="none", color=colour,
                    label=f"held out {c.dataset}, {t / 60:g} min" if c.time_s else f"held out {c.dataset}")
            ax.plot(MODEL_DOSES_PM, unit(p), "-", color=colour, lw=1,
                    label=None if c.time_s else f"model, {t / 60:g} min")
        title = {"(b)": "CD56bright NK", "(c)": f"{key[1]}, lot 2019-04-18", "(d)": "YT-1 (CD25-)"}[key[0]]
        _label(ax, f"{key[0]} {title}{', ' + key[2] if key[2] else ''}", "pSTAT5, scaled to its range")
    _save(fig, axes, len(groups), "Held-out sets (b)-(d): measured (open) against predicted (lines), each scaled 0-1",
          path)


def write_table(rows: list[Row], path: str) -> None:
    from ..formats.files import atomic_write

    def g(x):
        return "" if x is None else f"{x:.4g}"

    lines = ["# held-out EC50s, pM: measured (4-parameter Hill fit; empty: no sigmoid fits) against predicted",
             "set,curve,time_s,measured_EC50_pM,predicted_EC50_pM,fold_error"]
    lines += [f'{r.dataset},"{r.label}",{g(r.time_s)},{g(r.measured_ec50_pM)},{g(r.predicted_ec50_pM)},'
              f"{g(r.fold_error)}" for r in rows]
    atomic_write(path, "\n".join(lines) + "\n")


def validate_model(out: str = "build/validation", model_path: str = "model_src/il2.py",
                   sbml: str = "build/il2_Treg.xml", fit_path: str = "model_src/il2_fit.json",
                   sets=("(a)", "(b)", "(c)", "(d)"), progress=None, *, model=None, sim=None) -> list[Row]:
    """The held-out comparisons of ``sets``: ``heldout_ec50.csv``, ``training_and_4h.png`` and
    (with any of (b)-(d)) ``heldout_shapes.png``. ``model`` and ``sim``, when given, are the
    loaded ``model_path`` and a compiled ``sbml`` (the report passes its own: compiling the
    746-reaction model takes seconds)."""
    import json

    from ..formats.load import load_model
    from ..simulate.ode import Simulator

    model = model or load_model(model_path)
    sim = sim or Simulator(sbml)
    os.makedirs(out, exist_ok=True)
    with open(fit_path, encoding="utf-8") as fh:
        fit = json.load(fh)["parameters"]
    rows, curves, preds = compare(model, sim, sets=sets, progress=progress)
    write_table(rows, os.path.join(out, "heldout_ec50.csv"))
    figure_training_and_4h(sim, model, fit, os.path.join(out, "training_and_4h.png"))
    if set(sets) - {"(a)"}:
        figure_heldout_shapes(preds, os.path.join(out, "heldout_shapes.png"))
    return rows
