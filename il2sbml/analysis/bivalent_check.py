"""Bivalent Fc fusions against held-out measurements: the plates of 2019-04-19 and 2019-05-02,
their time labels checked against the vendor's file, and the valency test of 2019-11-08.

Every value read here is held out (``data/heldout/variants/``, provenance there); nothing is
fitted. Three comparisons, each within one physical plate (donor, antibody, cytometer and
gating shared, so EC50 ratios need no scale factor):

* **Time labels.** The single-cell file's blocks of 12 doses carry a time label; several blocks
  of 2019-05-02 are known to carry wrong ones. :func:`time_labels` compares every block with
  the vendor-gated curves of the same ligand, cell population and experiment
  (``2019-07-mutein-timecourse.csv``: replicate 1 is 2019-04-19, replicate 2 is 2019-05-02, as
  the fits show) at 30 min, 1, 2 and 4 h by affine fits (R^2), jointly over the four cell
  populations (:func:`time_labels`). A block is *kept* when the best time is its label,
  *relabelled* when another time fits better by a margin, and *unresolved* (not used) when no
  time reaches R^2 0.9 or two times fit within the margin.
* **Bivalent plates.** EC50 ratio of a fusion to the other fusion on its physical plate
  (:data:`PLATES`, from the vendor's plate files: 04-19 WT + H16N and R38Q + R38Q/H16N; 05-02 WT +
  R38Q and H16N + R38Q/H16N), measured (Hill fits) against predicted by the bivalent model.
* **Valency.** 2019-11-08 carries the wild-type N-terminal fusion as monomer and as dimer: the
  EC50 ratio dimer / monomer, measured and predicted.

Units: doses and EC50s in pM (the files' nM x 1000), times in s.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass

import numpy as np

from ..lang.errors import Il2sbmlError
from .variant_check import CELL_NAMES, HELDOUT_FILE, TIMES_H, Curve, Row, _cli_name, _measured_ec50, scaled

BIVALENT_FILE = "data/heldout/variants/WTDimericMutSingleCellData_bivalent.csv"
VENDOR_FILE = "data/heldout/variants/2019-07-mutein-timecourse.csv"
LIGAND_CODES = {"WT N-term": "IL2-060", "H16N N-term": "IL2-062", "R38Q N-term": "IL2-088", "R38Q/H16N": "IL2-097"}
VENDOR_CELLS = {"Treg": "T-regulatory cells (naïve and memory combined)",
                "Thelper": "Non-Treg T helper cells (Foxp3-) (naïve and memory combined)",
                "NK": "NK cells", "CD8": "Cytotoxic T cells (CD3+CD8+)"}
DATE_REPLICATE = {"4/19/2019": "1", "5/2/2019": "2"}
# (reference, variant) on one physical plate (the vendor's plate files, data/heldout/PROVENANCE.md)
PLATES = {"4/19/2019": (("WT N-term", "H16N N-term"), ("R38Q N-term", "R38Q/H16N")),
          "5/2/2019": (("WT N-term", "R38Q N-term"), ("H16N N-term", "R38Q/H16N"))}
VENDOR_TIMES_H = (0.5, 1.0, 2.0, 4.0)
MIN_R2 = 0.9          # a block no vendor curve fits this well is unresolved
MARGIN_R2 = 0.01      # nor one that two times fit within this of each other
VALENCY_PLATE = "11/8/2019"
TIMES_S = tuple(h * 3600.0 for h in TIMES_H)   # the compared times (30 min, 1 h), s


@dataclass(frozen=True)
class LabelCheck:
    row: int              # file line of the block's first row
    date: str
    ligand: str
    cell: str
    label_h: float        # the file's time label
    time_h: float         # the time used (NaN: unresolved)
    r2: float             # R^2 of this block against the vendor curve of the time used (unresolved: the best mean)
    second: str           # the runner-up time and its mean R^2 over the populations
    verdict: str          # kept, relabelled, unresolved


def _blocks(path: str):
    """The file's blocks of 12 doses (84 nM down), in file order: (first line, key, doses, means)."""
    out, cur = [], []
    with open(path, newline="", encoding="utf-8-sig") as fh:
        for i, r in enumerate(csv.DictReader(fh), start=2):
            try:
                key = (r["Date"], r["Ligand"], r["Cell"], float(r["Time"]))
                dose, mean = float(r["Dose"]) * 1000.0, float(r["Mean"])
            except (KeyError, ValueError) as exc:
                raise Il2sbmlError(f"{path}:{i}: cannot read the row ({exc}); expected the columns Date, Ligand, "
                                   "Cell, Time, Dose, Mean with numbers") from None
            if cur and (key != cur[0][1] or dose == 84000.0):
                out.append(cur)
                cur = []
            cur.append((i, key, dose, mean))
    if cur:
        out.append(cur)
    for b in out:
        if len(b) != 12:
            raise Il2sbmlError(f"{path}:{b[0][0]}: a block of {len(b)} doses, not 12; the file is not the one "
                               "data/heldout/PROVENANCE.md describes")
    return [(b[0][0], b[0][1], np.array([x[2] for x in b]), np.array([x[3] for x in b])) for b in out]


def _vendor(path: str) -> dict:
    """(cell, ligand code, time h, replicate) -> list of 12-dose curves (84 nM down)."""
    out: dict = {}
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    for i, r in enumerate(rows[1:], start=2):
        try:
            if len(r) != 16:
                raise ValueError(f"{len(r)} columns, not 16")
            out.setdefault((r[0], r[1], float(r[2]), r[3]), []).append(np.array([float(x) for x in r[4:16]]))
        except ValueError as exc:
            raise Il2sbmlError(f"{path}:{i}: cannot read the row ({exc}); expected Cells, Ligand, Time, Replicate "
                               "and 12 doses") from None
    return out


def _r2(y: np.ndarray, x: np.ndarray) -> float:
    a = np.c_[np.ones(len(x)), x]
    coef = np.linalg.lstsq(a, y, rcond=None)[0]
    return float(1.0 - np.sum((y - a @ coef) ** 2) / np.sum((y - y.mean()) ** 2))


def time_labels(path: str = BIVALENT_FILE, vendor: str = VENDOR_FILE) -> list[LabelCheck]:
    """Every block's :class:`LabelCheck` (see :func:`_checked_blocks`)."""
    return _checked_blocks(path, vendor)[0]


def _checked_blocks(path: str, vendor: str):
    """Every block of the bivalent plates against the vendor's curves (module docstring). The
    file lists the blocks of each date and ligand in the same order for every cell population
    (the k-th block labelled t is one time for all four): a block's time is decided by the mean
    R^2 of the populations' k-th blocks labelled t, which single blocks with little signal
    (T helper cells) cannot decide alone."""
    curves = _vendor(vendor)
    blocks = _blocks(path)
    fits, order, seen = [], [], {}
    for line, (date, ligand, cell, label), _, mean in blocks:
        rep = DATE_REPLICATE.get(date)
        if rep is None or ligand not in LIGAND_CODES or cell not in VENDOR_CELLS:
            raise Il2sbmlError(f"{path}:{line}: block {date} {ligand} {cell} has no counterpart in {vendor}")
        f = {}
        for t in VENDOR_TIMES_H:
            for v in curves.get((VENDOR_CELLS[cell], LIGAND_CODES[ligand], t, rep), []):
                f[t] = max(f.get(t, -math.inf), _r2(mean, v))
        k = seen.get((date, ligand, cell, label), 0)
        seen[date, ligand, cell, label] = k + 1
        fits.append(f)
        order.append((date, ligand, label, k))
    joint: dict = {}
    for key, f in zip(order, fits):
        joint.setdefault(key, []).append(f)
    ranked = {key: sorted(((t, float(np.mean([g[t] for g in group]))) for t in VENDOR_TIMES_H
                           if all(t in g for g in group)), key=lambda kv: -kv[1])
              for key, group in joint.items()}
    out = []
    for key, f, (line, (date, ligand, cell, label), _, _) in zip(order, fits, blocks):
        group = joint[key]
        (best, r2), (t2, r2b) = ranked[key][0], ranked[key][1]
        if r2 < MIN_R2 or r2 - r2b < MARGIN_R2:
            verdict, time_h = ("kept", label) if best == label and r2 >= MIN_R2 else ("unresolved", math.nan)
        else:
            verdict, time_h = ("kept" if best == label else "relabelled"), best
        out.append(LabelCheck(line, date, ligand, cell, label, time_h, f.get(time_h, r2) if time_h == time_h else r2,
                              f"{t2:g} h: {r2b:.3f} (mean of {len(group)})", verdict))
    return out, blocks


def load_bivalent_curves(path: str = BIVALENT_FILE, vendor: str = VENDOR_FILE) -> tuple[list[Curve], list]:
    """The bivalent plates' curves at 30 min and 1 h, with checked times (two blocks at one
    time: the better-fitting one), and the label checks."""
    checks, blocks = _checked_blocks(path, vendor)
    best: dict = {}
    for chk, (_, _, dose, mean) in zip(checks, blocks):
        if chk.time_h not in TIMES_H or chk.cell not in CELL_NAMES:
            continue
        key = (chk.date, chk.ligand, CELL_NAMES[chk.cell], chk.time_h * 3600.0)
        if key not in best or chk.r2 > best[key][0]:
            order = np.argsort(dose)
            best[key] = (chk.r2, Curve(*key, dose[order], mean[order]))
    return [best[k][1] for k in sorted(best)], checks


def _predicted(model_path, ligand, valency, cell, time_s, cache, progress, times=()):
    """The model's :class:`~il2sbml.analysis.selectivity.CellResponse` (EC50 and the simulated
    dose-response) at ``time_s``, kept in ``cache`` per (ligand, valency, cell, time); a miss
    computes ``times`` (and ``time_s``) from one integration per dose."""
    from .selectivity import responses_at

    if (ligand, valency, cell, time_s) not in cache:
        times = sorted({time_s, *times})
        for t, res in responses_at(model_path, ligand, cell, times, valency=valency).items():
            cache[ligand, valency, cell, t] = res
        if progress:
            progress(f"  predicted {ligand} (valency {valency}) in {cell} at "
                     f"{', '.join(f'{t / 60:g}' for t in times)} min")
    return cache[ligand, valency, cell, time_s]


def _row(plate, name, ref, cell, t, var_curve, ref_curve, predicted) -> Row:
    m_var, note_v = _measured_ec50(var_curve)
    m_ref, note_r = _measured_ec50(ref_curve)
    measured = m_var / m_ref
    fold = max(predicted / measured, measured / predicted) if measured > 0 and predicted > 0 else float("nan")
    note = "; ".join(x for x in (f"variant: {note_v}" if note_v else "", f"reference: {note_r}" if note_r else "")
                     if x)
    return Row(plate, name, ref, cell, t, measured, predicted, fold, note)


def compare_bivalent(model_path: str = "model_src/il2.py", path: str = BIVALENT_FILE, vendor: str = VENDOR_FILE,
                     cells=None, times_s=None, progress=None, cache=None, curves=None) -> list[Row]:
    """EC50 ratios on the bivalent plates (module docstring); ``cells`` (the model's names)
    and ``times_s`` restrict the rows; ``curves``: :func:`load_bivalent_curves` already read."""
    if curves is None:
        curves, _ = load_bivalent_curves(path, vendor)
    by_key = {(c.plate, c.ligand, c.cell, c.time_s): c for c in curves}
    cache = {} if cache is None else cache
    times = list(times_s or TIMES_S)
    rows = []
    for plate, pairs in PLATES.items():
        for ref, var in pairs:
            for cell in cells or CELL_NAMES.values():
                for t in times:
                    cv, cr = by_key.get((plate, var, cell, t)), by_key.get((plate, ref, cell, t))
                    if cv is None or cr is None:
                        continue
                    p = (_predicted(model_path, _cli_name(var), 2, cell, t, cache, progress, times).ec50_pM
                         / _predicted(model_path, _cli_name(ref), 2, cell, t, cache, progress, times).ec50_pM)
                    rows.append(_row(plate, _cli_name(var), _cli_name(ref), cell, t, cv, cr, p))
    return rows


def valency_curves(path: str = HELDOUT_FILE) -> list[tuple[Curve, Curve]]:
    """(dimer, monomer) curves of the wild-type N-terminal fusion on 2019-11-08, per cell type and
    time (30 min, 1 h); the monomer's repeated doses (the file's 0.0 and 0 flags) averaged."""
    curves: dict = {}
    with open(path, newline="", encoding="utf-8-sig") as fh:
        for i, r in enumerate(csv.DictReader(fh), start=2):
            try:
                if r["Date"] != VALENCY_PLATE or r["Ligand"] != "WT N-term" or float(r["Time"]) not in TIMES_H \
                        or r["Cell"] not in CELL_NAMES:
                    continue
                key = (int(float(r["Bivalent"])), CELL_NAMES[r["Cell"]], float(r["Time"]) * 3600.0)
                curves.setdefault(key, []).append((float(r["Dose"]) * 1000.0, float(r["Mean"])))
            except (KeyError, ValueError) as exc:
                raise Il2sbmlError(f"{path}:{i}: cannot read the row ({exc})") from None
    out = []
    for (valency, cell, t), pts in sorted(curves.items()):
        if valency != 1:
            continue
        per: dict = {}
        for d, v in curves.get((0, cell, t), []):
            per.setdefault(d, []).append(v)
        mono = [(d, float(np.mean(v))) for d, v in sorted(per.items())]
        pts = sorted(pts)
        out.append((Curve(VALENCY_PLATE, "WT N-term dimer", cell, t, np.array([p[0] for p in pts]),
                          np.array([p[1] for p in pts])),
                    Curve(VALENCY_PLATE, "WT N-term", cell, t, np.array([p[0] for p in mono]),
                          np.array([p[1] for p in mono]))))
    return out


def compare_valency(model_path: str = "model_src/il2.py", path: str = HELDOUT_FILE, cells=None, times_s=None,
                    progress=None, cache=None, pairs=None) -> list[Row]:
    """EC50 of the wild-type N-terminal fusion as dimer over monomer on 2019-11-08; ``pairs``:
    :func:`valency_curves` already read."""
    cache = {} if cache is None else cache
    times = list(times_s or TIMES_S)
    rows = []
    for c_di, c_mo in (valency_curves(path) if pairs is None else pairs):
        cell, t = c_di.cell, c_di.time_s
        if (cells and cell not in cells) or t not in times:
            continue
        p = (_predicted(model_path, "WT_N_term", 2, cell, t, cache, progress, times).ec50_pM
             / _predicted(model_path, "WT_N_term", 1, cell, t, cache, progress, times).ec50_pM)
        rows.append(_row(VALENCY_PLATE, "WT_N_term (valency 2)", "WT_N_term (valency 1)", cell, t, c_di, c_mo, p))
    return rows


def figure(curves: list[Curve], pairs: list, cache: dict, path: str, time_s: float = 1800.0) -> None:
    """Measured points over predicted curves at ``time_s``, each scaled to its own range (the
    ratios need no scale factor; the shapes and positions are what is compared): a row per
    physical plate (the two bivalent plates and the valency test's ``pairs``, from
    :func:`valency_curves`), a column per cell type. Predictions come from ``cache`` (filled
    by :func:`compare_bivalent` and :func:`compare_valency`); a panel without them shows the
    data only."""
    from .plots import figure_grid, save_figure

    cells = list(CELL_NAMES.values())
    panels = {plate: [(c, _cli_name(c.ligand), 2) for c in curves if c.plate == plate and c.time_s == time_s]
              for plate in PLATES}
    panels[VALENCY_PLATE] = [x for c_di, c_mo in pairs if c_di.time_s == time_s
                             for x in ((c_di, "WT_N_term", 2), (c_mo, "WT_N_term", 1))]
    fig, axes = figure_grid(len(panels), len(cells), size=(4.0 * len(cells), 3.3 * len(panels)))
    fig.suptitle("points: held-out measurements (time labels checked); lines: the model's prediction in the same "
                 "colour (bivalent pair model; the 11/8/2019 monomer: valency 1)")
    for pi, (plate, members) in enumerate(panels.items()):
        colors = {name: f"C{k}" for k, name in enumerate(sorted({c.ligand for c, _, _ in members}))}
        for ci, cell in enumerate(cells):
            ax = axes[pi * len(cells) + ci]
            for c, ligand, valency in (x for x in members if x[0].cell == cell):
                color = colors[c.ligand]
                ax.plot(c.dose_pM, scaled(c.mean), "o", color=color, ms=3, label=f"{c.ligand} (held out)")
                pred = cache.get((ligand, valency, cell, time_s))
                if pred is not None and len(pred.pSTAT5):
                    ax.plot(pred.doses_pM, scaled(pred.pSTAT5), "-", color=color, lw=1)
            ax.set_xscale("log")
            ax.set(title=f"{plate}, {cell}, {time_s / 60:g} min", xlabel="ligand (pM of molecules)",
                   ylabel="pSTAT5, scaled to range")
            if ci == 0:
                ax.legend(fontsize="x-small")
    save_figure(fig, path)


def validate_bivalent(out: str = "build/variants", model_path: str = "model_src/il2.py", progress=print,
                      cells=None, times_s=None) -> tuple[list[Row], list[LabelCheck]]:
    """The CLI's work (``validate-variants --bivalent``): ``time_labels.csv``,
    ``bivalent_ratios.csv`` (plates and the valency test), ``bivalent_curves.png`` (measured
    points over predicted curves at the first of ``times_s``, default 30 min), a summary printed."""
    from ..formats.files import atomic_write

    curves, checks = load_bivalent_curves()
    pairs = valency_curves()
    cache: dict = {}
    rows = compare_bivalent(model_path, cells=cells, times_s=times_s, progress=progress, cache=cache, curves=curves)
    rows += compare_valency(model_path, cells=cells, times_s=times_s, progress=progress, cache=cache, pairs=pairs)
    os.makedirs(out, exist_ok=True)
    lines = [f"# time label of every block of {BIVALENT_FILE} against the vendor curves of {VENDOR_FILE} "
             f"(best affine fit; unresolved below R^2 {MIN_R2} or within {MARGIN_R2} of another time)",
             "row,date,ligand,cell,label_h,time_h,r2,runner_up,verdict"]
    lines += [f"{c.row},{c.date},{c.ligand},{c.cell},{c.label_h:g},{c.time_h:g},{c.r2:.4f},{c.second},{c.verdict}"
              for c in checks]
    atomic_write(os.path.join(out, "time_labels.csv"), "\n".join(lines) + "\n")
    lines = ["# EC50 ratio within a physical plate (held-out data); predicted by the bivalent model of "
             f"{model_path}; fold error = max(p/m, m/p)",
             "plate,variant,reference,cell,time_min,measured_ratio,predicted_ratio,fold_error,note"]
    lines += [f"{r.plate},{r.ligand},{r.reference},{r.cell},{r.time_s / 60:g},{r.measured_ratio:.4g},"
              f"{r.predicted_ratio:.4g},{r.fold_error:.3g},\"{r.note}\"" for r in rows]
    atomic_write(os.path.join(out, "bivalent_ratios.csv"), "\n".join(lines) + "\n")
    figure(curves, pairs, cache, os.path.join(out, "bivalent_curves.png"), (times_s or TIMES_S)[0])
    moved = [c for c in checks if c.verdict == "relabelled"]
    progress(f"time labels: {len(checks)} blocks, {len(moved)} relabelled, "
             f"{sum(c.verdict == 'unresolved' for c in checks)} unresolved")
    within = [r for r in rows if math.isfinite(r.fold_error)]
    progress(f"{len(rows)} comparisons; {sum(r.fold_error <= 3 for r in within)} of {len(within)} within 3-fold; "
             + rank_summary(rows, times_s or TIMES_S))
    return rows, checks


def rank_summary(rows: list[Row], times_s) -> str:
    """The Spearman rank correlation of predicted against measured Treg EC50 ratios on the
    bivalent plates (the valency test left out), per time: one phrase, 'too few' below 3."""
    from .variant_check import rank_correlation

    parts = []
    for t in times_s:
        rho, n = rank_correlation([r for r in rows if r.plate != VALENCY_PLATE], time_s=t)
        parts.append(f"{t / 60:g} min: {rho:.2f} over {n} ratios" if math.isfinite(rho)
                     else f"{t / 60:g} min: {n} ratio(s), too few")
    return "Treg rank correlation " + "; ".join(parts)
