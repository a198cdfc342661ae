"""Which cells an IL-2 variant stimulates: EC50s, maxima and Treg selectivity, and a design map.

``il2sbml selectivity --ligand R38Q_N_term`` simulates pSTAT5 at 30 min (by default) in each
cell type of :data:`CELLS` over :data:`DOSES_PM` and reports, per cell type, the EC50 (4-parameter
Hill fit, pM) and the maximal pSTAT5 (molecules per cell at the top dose), and the
Treg-selectivity index of each effector: its EC50 over the Treg's (above 1: Tregs respond at
lower doses). ``--map`` scans the plane of the two affinities a variant changes, IL-2Rα Kd and
IL-2Rβ/γc Kd (as folds of the wild type's), and draws the index as heat maps with the measured
variants marked.

How a variant is simulated: its model (the model file's ``build_model(ligand=...)``) differs
from the wild type's only in parameter values (monovalent variants; variants.py states which),
so one compiled wild-type model is run with those values as overrides (libRoadRunner, no
recompilation; tested against the variant's own SBML). The map scans the same constants
(``Kd_a``; ``Kd_b`` with ``K2_b_La``) in two processes.

Units: doses and EC50s in pM, pSTAT5 in molecules per cell, time in s, Kd folds dimensionless.
"""

from __future__ import annotations

import functools
import math
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..lang.errors import Il2sbmlError

CELLS = ("Treg", "CD4_helper", "CD8", "NK", "NK_CD56bright")
EFFECTORS = ("CD4_helper", "CD8", "NK", "NK_CD56bright")
DOSES_PM = np.logspace(-1.0, 6.0, 12)          # 0.1 pM to 1 uM: room for variants 1,000-fold weaker
TIME_S = 1800.0
READOUT = "pSTAT5"
MAP_RTOL = 1e-6   # the map's tolerance: pSTAT5 within 1e-6 relative of rtol 1e-8 at the doses checked
BETA = ("Kd_b", "K2_b_La")                      # the constants the beta/gamma-c ratio scales
BIVALENT_REFERENCE = "WT_N_term"   # valency 2 runs on this fusion's model (pSTAT5 rules only), variants as values


class SelectivityError(Il2sbmlError):
    """The analysis cannot run as asked; says what to do."""


@dataclass(frozen=True)
class CellResponse:
    cell: str
    ec50_pM: float              # NaN: no EC50 within the doses (no half-maximal response)
    max_pSTAT5: float           # molecules per cell at the top dose
    note: str = ""
    doses_pM: tuple = ()        # the simulated dose-response (pM of ligand molecules) ...
    pSTAT5: tuple = ()          # ... and pSTAT5 at each dose, molecules per cell


@dataclass(frozen=True)
class Selectivity:
    ligand: str
    time_s: float
    cells: dict                 # cell -> CellResponse
    overrides: dict             # parameter -> value (the variant's constants)
    folds: dict                 # parameter -> variant's value / wild type's

    def index(self, effector: str) -> float:
        """EC50 of ``effector`` over the Treg's (NaN where either is missing)."""
        return self.cells[effector].ec50_pM / self.cells["Treg"].ec50_pM


def _ec50(doses, values) -> tuple[float, str]:
    from ..simulate.ode import fit_hill

    try:
        fit = fit_hill(doses, values)
    except Il2sbmlError as exc:
        return float("nan"), str(exc)
    if not fit.top > fit.bottom:
        return float("nan"), "falling response"
    return float(fit.ec50), ""


def _models(model_path: str, ligand: str, valency: int):
    from ..formats.load import load_model

    if valency == 1:
        wt = load_model(model_path)
        var = wt if ligand == "WT" else load_model(model_path, ligand=ligand, valency=1)
    else:   # the bivalent fusion's own model; its reference: the wild-type fusion (wild-type constants)
        wt = load_model(model_path, ligand=BIVALENT_REFERENCE, valency=valency, downstream=False)
        var = wt if ligand == BIVALENT_REFERENCE else load_model(model_path, ligand=ligand, valency=valency,
                                                                 downstream=False)
    missing = [c for c in CELLS if c not in wt.parameter_sets]
    if missing:
        raise SelectivityError(f"{model_path}: no cell type(s) {', '.join(missing)}; selectivity needs "
                               f"{', '.join(CELLS)}")
    base, other = wt.parameter_values(), var.parameter_values()
    numeric = {n for n, p in wt.parameters.items() if p.expr.is_number()}
    if set(base) != set(other):
        raise SelectivityError(f"{model_path}: ligand {ligand!r} changes the model's parameters, not only their "
                               "values; only variants that differ in values are supported here")
    overrides = {n: other[n] for n in numeric if other[n] != base[n]}
    return wt, overrides, {n: v / base[n] for n, v in overrides.items()}


_SIM = None


def _simulator(sbml: str, rtol: float):
    global _SIM
    from ..simulate.ode import Simulator

    if _SIM is None or _SIM[0] != (sbml, rtol):
        _SIM = ((sbml, rtol), Simulator(sbml, rtol=rtol))
    return _SIM[1]


def _responses(args, curves: bool = False) -> list[tuple]:
    """One parameter point: (EC50, max, note) per cell, and the pSTAT5 curve if ``curves``.
    Runs in a worker process."""
    sbml, rtol, cell_values, overrides, doses, time_s = args
    sim = _simulator(sbml, rtol)
    out = []
    for values in cell_values:
        res = sim.dose_response("IL2_pM", doses, [READOUT], time=time_s, **values, **overrides)[READOUT]
        ec50, note = _ec50(doses, res)
        out.append((ec50, float(res[-1]), note) + ((tuple(map(float, res)),) if curves else ()))
    return out


def _wild_type_sbml(wt, valency: int = 1) -> str:
    """The wild type's SBML (any cell type: cells differ in values only), generated once per
    model file, version and valency: every ligand, time and map point runs on it."""
    return _sbml_of(wt.source, os.path.getmtime(wt.source), valency) if wt.source else _write(wt)


@functools.lru_cache(maxsize=4)
def _sbml_of(path: str, mtime: float, valency: int) -> str:
    from ..formats.load import load_model

    if valency == 1:
        return _write(load_model(path))
    return _write(load_model(path, ligand=BIVALENT_REFERENCE, valency=valency, downstream=False))


def _write(wt) -> str:
    from ..formats.sbml import write_sbml
    from ..generate.netgen import generate_network

    return write_sbml(generate_network(wt.with_parameter_set(CELLS[0])))


def selectivity(model_path: str = "model_src/il2.py", ligand: str = "WT", *, valency: int = 1,
                time_s: float = TIME_S, doses=DOSES_PM, rtol: float | None = None, cells=CELLS) -> Selectivity:
    """EC50 and maximum per cell type of ``ligand`` at ``time_s`` seconds (``cells``: the cell
    types to simulate, all of :data:`CELLS` by default)."""
    wt, overrides, folds = _models(model_path, ligand, valency)
    sbml = _wild_type_sbml(wt, valency)
    cell_values = [wt.parameter_sets[c].as_dict() for c in cells]
    from ..simulate.ode import RTOL

    doses = np.asarray(doses, float)
    rows = _responses((sbml, rtol or RTOL, cell_values, overrides, doses, time_s), curves=True)
    cells = {c: CellResponse(c, e, m, n, tuple(map(float, doses)), y) for c, (e, m, n, y) in zip(cells, rows)}
    return Selectivity(ligand, time_s, cells, overrides, folds)


def responses_at(model_path: str, ligand: str, cell: str, times_s, *, valency: int = 1, doses=DOSES_PM,
                 rtol: float | None = None) -> dict:
    """``{time: CellResponse}`` of ``ligand`` in ``cell`` at each of ``times_s`` (s, > 0), from
    one integration per dose (what :func:`selectivity` gives time by time, within the
    integrator's tolerance; for analyses that need several times of one curve)."""
    from ..simulate.ode import RTOL

    times = sorted({float(t) for t in times_s})
    if not times or times[0] <= 0 or not all(map(math.isfinite, times)):
        raise SelectivityError(f"times must be finite and > 0 s, got {list(times_s)}")
    wt, overrides, _ = _models(model_path, ligand, valency)
    if cell not in wt.parameter_sets:
        raise SelectivityError(f"{model_path}: no cell type {cell!r}")
    sim = _simulator(_wild_type_sbml(wt, valency), rtol or RTOL)
    values = wt.parameter_sets[cell].as_dict()
    doses = np.asarray(doses, float)
    y = np.array([sim.at_times(times, [READOUT], IL2_pM=float(d), **values, **overrides)[:, 0] for d in doses])
    out = {}
    for j, t in enumerate(times):
        ec50, note = _ec50(doses, y[:, j])
        out[t] = CellResponse(cell, ec50, float(y[-1, j]), note, tuple(map(float, doses)), tuple(map(float, y[:, j])))
    return out


@dataclass(frozen=True)
class DesignMap:
    alpha_fold: np.ndarray       # Kd_a / wild type's
    betagamma_fold: np.ndarray   # Kd_b (and K2_b_La) / wild type's
    ec50_pM: dict                # cell -> array [i_alpha, i_betagamma]
    max_pSTAT5: dict
    time_s: float
    seconds: float
    valency: int = 1


def design_map(model_path: str = "model_src/il2.py", *, n: int = 20, fold_range=(1e-2, 1e3),
               time_s: float = TIME_S, doses=DOSES_PM, processes: int = 2, progress=None,
               valency: int = 1) -> DesignMap:
    """EC50 and maximum of every cell type on an ``n`` x ``n`` grid of affinity folds, for a
    ligand of ``valency`` IL-2 moieties."""
    import time

    if n < 2:
        raise SelectivityError(f"--map {n}: the design map needs at least 2 x 2 points (--map N, N >= 2)")
    t0 = time.perf_counter()
    wt = _models(model_path, BIVALENT_REFERENCE if valency == 2 else "WT", valency)[0]
    base = wt.parameter_values()
    sbml = _wild_type_sbml(wt, valency)
    folds = np.logspace(math.log10(fold_range[0]), math.log10(fold_range[1]), n)
    cell_values = [wt.parameter_sets[c].as_dict() for c in CELLS]
    tasks = []
    for fa in folds:
        for fb in folds:
            ovr = {"Kd_a": base["Kd_a"] * fa, **{p: base[p] * fb for p in BETA}}
            tasks.append((sbml, MAP_RTOL, cell_values, ovr, np.asarray(doses, float), time_s))
    with ProcessPoolExecutor(max_workers=max(1, processes)) as pool:
        rows = list(pool.map(_responses, tasks, chunksize=max(1, len(tasks) // (8 * max(1, processes)))))
    ec50 = {c: np.empty((n, n)) for c in CELLS}
    top = {c: np.empty((n, n)) for c in CELLS}
    for k, row in enumerate(rows):
        i, j = divmod(k, n)
        for c, (e, m, _) in zip(CELLS, row):
            ec50[c][i, j], top[c][i, j] = e, m
    seconds = time.perf_counter() - t0
    if progress:
        progress(f"selectivity map: {n}x{n} points x {len(CELLS)} cell types x {len(doses)} doses in {seconds:.0f} s")
    return DesignMap(folds, folds, ec50, top, time_s, seconds, valency)


def map_figure(dm: DesignMap, marks: dict, path: str) -> None:
    """Heat maps of log10 EC50 ratio (effector / Treg) over the affinity plane; ``marks``: name ->
    (alpha fold, beta/gamma fold) of measured variants."""
    from .plots import figure_grid, save_figure

    fig, axes = figure_grid(2, 2, size=(11.0, 9.0))
    x, y = np.log10(dm.betagamma_fold), np.log10(dm.alpha_fold)
    for ax, eff in zip(axes, ("NK", "CD8", "CD4_helper", "NK_CD56bright")):
        ratio = np.log10(dm.ec50_pM[eff] / dm.ec50_pM["Treg"])
        mesh = ax.pcolormesh(x, y, ratio, shading="nearest", cmap="viridis")
        fig.colorbar(mesh, ax=ax, label=f"log10 EC50 {eff} / EC50 Treg")
        for name, (fa, fb) in marks.items():
            ax.plot(math.log10(fb), math.log10(fa), "wo", ms=5, mec="k")
            ax.annotate(name, (math.log10(fb), math.log10(fa)), fontsize=7, color="w",
                        xytext=(3, 3), textcoords="offset points")
        ax.set(xlabel="log10 IL-2Rβ/γc Kd fold of wild type", ylabel="log10 IL-2Rα Kd fold of wild type",
               title=f"Treg selectivity against {eff}, {dm.time_s / 60:g} min, "
                     f"{'bivalent' if dm.valency == 2 else 'monovalent'} (white: no EC50)")
    save_figure(fig, path)


def write_csv(rows: list[list], header: list[str], path: str, comment: str) -> None:
    from ..formats.files import atomic_write

    lines = [f"# {comment}", ",".join(header)]
    lines += [",".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in r) for r in rows]
    atomic_write(path, "\n".join(lines) + "\n")


def selectivity_command(model_path: str, ligands: list[str], *, valency: int, time_s: float, out: str,
                        map_points: int | None, processes: int, progress=print) -> list[Selectivity]:
    """The CLI's work: a table per ligand (stdout and ``out/selectivity.csv``), and with
    ``map_points`` the design map (``design_map.csv``, ``design_map.png``) with the ligands marked."""
    results = [selectivity(model_path, lig, valency=valency, time_s=time_s) for lig in ligands]
    header = ["ligand", "cell", "EC50_pM", "max_pSTAT5_molecules", "EC50_over_Treg"]
    rows = []
    for res in results:
        progress(f"{res.ligand} at {time_s / 60:g} min (EC50 in pM; index = EC50 / Treg's):")
        for c in CELLS:
            r = res.cells[c]
            idx = res.index(c) if c != "Treg" else 1.0
            progress(f"  {c:14s} EC50 {r.ec50_pM:10.4g}  max {r.max_pSTAT5:10.4g}  index {idx:8.3g}"
                     + (f"  ({r.note})" if r.note else ""))
            rows.append([res.ligand, c, r.ec50_pM, r.max_pSTAT5, idx])
    os.makedirs(out, exist_ok=True)
    write_csv(rows, header, os.path.join(out, "selectivity.csv"),
              f"pSTAT5 at {time_s:g} s; EC50 in pM (Hill fit over {len(DOSES_PM)} doses 0.1 pM-1 uM; nan: none); "
              "max in molecules per cell at 1 uM; index: EC50 over the Treg's")
    if map_points:
        dm = design_map(model_path, n=map_points, time_s=time_s, processes=processes, progress=progress,
                        valency=valency)
        mrows = [[float(dm.alpha_fold[i]), float(dm.betagamma_fold[j])]
                 + [float(dm.ec50_pM[c][i, j]) for c in CELLS]
                 for i in range(len(dm.alpha_fold)) for j in range(len(dm.betagamma_fold))]
        write_csv(mrows, ["alpha_Kd_fold", "betagamma_Kd_fold"] + [f"EC50_{c}_pM" for c in CELLS],
                  os.path.join(out, "design_map.csv"),
                  f"EC50 (pM) of pSTAT5 at {time_s:g} s over affinity folds of the wild type (Kd_a; Kd_b and "
                  f"K2_b_La), valency {valency}; {dm.seconds:.0f} s on {processes} processes")
        marks = {r.ligand: (r.folds.get("Kd_a", 1.0), r.folds.get("Kd_b", 1.0)) for r in results}
        map_figure(dm, marks, os.path.join(out, "design_map.png"))
    return results
