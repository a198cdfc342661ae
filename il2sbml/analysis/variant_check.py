"""Engineered IL-2 against held-out measurements: EC50 ratios within a plate, predicted and measured.

Every mutein pSTAT5 value is held out (``data/heldout/variants/``, provenance there): the model
sees a variant only through its measured affinities (``model_src/variants.py``), and this
module only compares. Within one plate (donor, antibody, cytometer shared) the ratio of two
ligands' EC50s needs no scale factor, so the comparison is: for each variant with affinities,
cell type and time, the EC50 ratio to the wild-type fusion on the same plate, measured (a
4-parameter Hill fit of each measured curve, doses in pM) against predicted (the same ratio of
the model's EC50s, :mod:`il2sbml.analysis.selectivity`), and the fold error
(max(p/m, m/p)). A plate without a wild-type fusion (12/5/2019) is compared to its own
reference variant, named in every row. Misses are reported, never tuned.

Units: doses and EC50s in pM (the file's nM x 1000), times in s, ratios dimensionless.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass

import numpy as np

from ..lang.errors import Il2sbmlError

HELDOUT_FILE = "data/heldout/variants/MonomericMutSingleCellData.csv"
CELL_NAMES = {"Treg": "Treg", "Thelper": "CD4_helper", "NK": "NK", "CD8": "CD8"}
TIMES_H = (0.5, 1.0)
PLATE_REFERENCE = {"12/5/2019": "R38Q N-term"}   # no wild-type fusion on this plate


@dataclass(frozen=True)
class Curve:
    plate: str
    ligand: str            # as in the file
    cell: str              # the model's cell type
    time_s: float
    dose_pM: np.ndarray
    mean: np.ndarray       # a.u.


@dataclass(frozen=True)
class Row:
    plate: str
    ligand: str            # variant (CLI name)
    reference: str         # CLI name of the ligand the ratio is taken against
    cell: str
    time_s: float
    measured_ratio: float  # EC50 variant / EC50 reference, NaN where a fit fails
    predicted_ratio: float
    fold_error: float      # NaN where either ratio is missing
    note: str


def load_curves(path: str = HELDOUT_FILE) -> list[Curve]:
    """The monovalent plates' mean pSTAT5 curves (30 min and 1 h)."""
    groups: dict = {}
    with open(path, newline="", encoding="utf-8-sig") as fh:
        for i, r in enumerate(csv.DictReader(fh), start=2):
            try:
                if float(r["Bivalent"]) != 0 or float(r["Time"]) not in TIMES_H or r["Cell"] not in CELL_NAMES:
                    continue
                key = (r["Date"], r["Ligand"], CELL_NAMES[r["Cell"]], float(r["Time"]) * 3600.0)
                groups.setdefault(key, []).append((float(r["Dose"]) * 1000.0, float(r["Mean"])))
            except (KeyError, ValueError) as exc:
                raise Il2sbmlError(f"{path}:{i}: cannot read the row ({exc}); expected the columns Ligand, Dose, "
                                   "Time, Cell, Mean, Date, Bivalent with numbers") from None
    out = []
    for (plate, ligand, cell, t), pts in sorted(groups.items()):
        pts.sort()
        out.append(Curve(plate, ligand, cell, t, np.array([p[0] for p in pts]), np.array([p[1] for p in pts])))
    return out


def _measured_ec50(curve: Curve) -> tuple[float, str]:
    from .selectivity import _ec50

    return _ec50(curve.dose_pM, curve.mean)


def compare(model_path: str = "model_src/il2.py", path: str = HELDOUT_FILE, progress=None,
            known=()) -> list[Row]:
    """Every (plate, variant with affinities, cell, time) row of the held-out file. ``known``:
    selectivity results of this model already computed (reused, not simulated again)."""
    from ..formats.load import load_model
    from .selectivity import selectivity

    curves = load_curves(path)
    names = {}
    for c in curves:
        if c.ligand not in names:
            try:
                load_model(model_path, ligand=_cli_name(c.ligand))
                names[c.ligand] = _cli_name(c.ligand)
            except Il2sbmlError:
                names[c.ligand] = None                     # no affinity measurement: not predictable
    predicted: dict = {(r.ligand, r.time_s): r for r in known}

    def model_ec50(name, cell, t):
        if (name, t) not in predicted:
            predicted[name, t] = selectivity(model_path, name, time_s=t)
            if progress:
                progress(f"  predicted {name} at {t / 60:g} min")
        return predicted[name, t].cells[cell].ec50_pM

    by_key = {(c.plate, c.ligand, c.cell, c.time_s): c for c in curves}
    rows = []
    for c in curves:
        ref_label = PLATE_REFERENCE.get(c.plate) or next(
            (lig for (p, lig, _, _) in by_key if p == c.plate and lig.startswith("WT")), None)
        if ref_label is None or c.ligand == ref_label:
            continue
        name, ref = names[c.ligand], names.get(ref_label)
        ref_curve = by_key.get((c.plate, ref_label, c.cell, c.time_s))
        m_var, note_v = _measured_ec50(c)
        m_ref, note_r = _measured_ec50(ref_curve) if ref_curve else (float("nan"), "no reference curve")
        measured = m_var / m_ref
        if name is None:
            rows.append(Row(c.plate, c.ligand, ref or ref_label, c.cell, c.time_s, measured, float("nan"),
                            float("nan"), "no affinity measurement: not predictable"))
            continue
        p = model_ec50(name, c.cell, c.time_s) / model_ec50(ref, c.cell, c.time_s)
        fold = max(p / measured, measured / p) if measured > 0 and p > 0 else float("nan")
        note = "; ".join(x for x in (f"variant: {note_v}" if note_v else "", f"reference: {note_r}" if note_r else "")
                         if x)
        rows.append(Row(c.plate, name, ref, c.cell, c.time_s, measured, p, fold, note))
    return rows


def _cli_name(label: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9]+", "_", label).strip("_")


def rank_correlation(rows: list[Row], cell: str = "Treg", time_s: float = 1800.0) -> tuple[float, int]:
    """Spearman's rank correlation of predicted against measured EC50 ratios across the variants
    of ``cell`` at ``time_s`` (rows with both), and how many variants it rests on."""
    from scipy.stats import spearmanr

    pts = [(r.predicted_ratio, r.measured_ratio) for r in rows
           if r.cell == cell and r.time_s == time_s and math.isfinite(r.predicted_ratio)
           and math.isfinite(r.measured_ratio)]
    if len(pts) < 3:
        return float("nan"), len(pts)
    rho = spearmanr([p for p, _ in pts], [m for _, m in pts]).statistic
    return float(rho), len(pts)


def scaled(y) -> np.ndarray:
    """``y`` scaled to its own range (0 at the minimum, 1 at the maximum): how the figures set
    measured curves (a.u.) and predicted ones (molecules) side by side without a scale factor."""
    y = np.asarray(y, float)
    return (y - y.min()) / max(np.ptp(y), 1e-12)


def figure(rows: list[Row], path: str, model_path: str = "model_src/il2.py", data: str = HELDOUT_FILE) -> None:
    """Measured points over predicted curves, each normalised to its own range (scale-free), per
    plate and cell type at 30 min."""
    from ..formats.load import load_model
    from ..simulate.ode import Simulator
    from .plots import figure_grid, save_figure
    from .selectivity import _models, _wild_type_sbml

    curves = [c for c in load_curves(data) if c.time_s == 1800.0]
    plates = sorted({c.plate for c in curves})
    cells = list(CELL_NAMES.values())
    fig, axes = figure_grid(len(plates), len(cells), size=(4.0 * len(cells), 3.3 * len(plates)))
    wt = load_model(model_path)
    sim = Simulator(_wild_type_sbml(wt))
    doses = np.logspace(-1, 6, 40)
    for pi, plate in enumerate(plates):
        for ci, cell in enumerate(cells):
            ax = axes[pi * len(cells) + ci]
            for k, c in enumerate(x for x in curves if x.plate == plate and x.cell == cell):
                color = f"C{k}"
                ax.plot(c.dose_pM, scaled(c.mean), "o", color=color, ms=3, label=f"{c.ligand} (held out)")
                try:
                    _, overrides, _ = _models(model_path, _cli_name(c.ligand), 1)
                except Il2sbmlError:
                    continue
                pred = sim.dose_response("IL2_pM", doses, ["pSTAT5"], time=1800.0,
                                         **wt.parameter_sets[cell].as_dict(), **overrides)["pSTAT5"]
                ax.plot(doses, scaled(pred), "-", color=color, lw=1)
            ax.set_xscale("log")
            ax.set(title=f"{plate}, {cell}, 30 min", xlabel="ligand (pM)", ylabel="pSTAT5, scaled to range")
            if ci == 0:
                ax.legend(fontsize="x-small")
    save_figure(fig, path)


def validate_variants(out: str = "build/variants", model_path: str = "model_src/il2.py",
                      data: str = HELDOUT_FILE, progress=print, known=()) -> list[Row]:
    """The CLI's work: ``out/variant_ratios.csv``, ``out/variant_curves.png``, a summary printed."""
    from ..formats.files import atomic_write

    rows = compare(model_path, data, progress=progress, known=known)
    lines = ["# EC50 ratio of a variant to the reference ligand on the same plate (pSTAT5, held-out data "
             f"{data}); predicted by {model_path}; fold error = max(p/m, m/p)",
             "plate,variant,reference,cell,time_min,measured_ratio,predicted_ratio,fold_error,note"]
    for r in rows:
        lines.append(f"{r.plate},{r.ligand},{r.reference},{r.cell},{r.time_s / 60:g},{r.measured_ratio:.4g},"
                     f"{r.predicted_ratio:.4g},{r.fold_error:.3g},\"{r.note}\"")
    os.makedirs(out, exist_ok=True)
    atomic_write(os.path.join(out, "variant_ratios.csv"), "\n".join(lines) + "\n")
    figure(rows, os.path.join(out, "variant_curves.png"), model_path, data)
    rho, n = rank_correlation(rows)
    within = [r for r in rows if math.isfinite(r.fold_error)]
    progress(f"{len(rows)} comparisons; {sum(r.fold_error <= 3 for r in within)} of {len(within)} within 3-fold; "
             f"Treg 30 min rank correlation {rho:.2f} over {n} variants")
    return rows
