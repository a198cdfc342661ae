"""The IL-2 model report, and the one-cell-type dose-response command.

:func:`run_report` builds every cell type of ``model_src/il2.py`` and runs the in-silico
experiments of :mod:`il2sbml.analysis.assays` on them, writing CSV tables, PNG figures and a
self-contained ``index.html`` (no JavaScript, no external resources) into one folder:

a. build and validate the SBML of every cell type (:func:`il2sbml.analysis.build.build`);
b. equilibrium binding on the seed table's three receptor classes: fitted apparent Kd;
c. pSTAT5, pAkt and ppERK 30 min after IL-2, across doses, for every cell type: EC50 and Hill n;
d. time courses (0-2 h) at 10 pM and 1 nM for Treg, CD4_memory and NK;
e. Tregs and effectors sharing IL-2 (:func:`il2sbml.analysis.assays.coculture_experiment`);
f. an exact SSA ensemble of Tregs at a low dose against the ODE (libRoadRunner);
g. the model against data: training data and held-out sets on the calibrated model, EC50s
   measured against predicted (:func:`il2sbml.analysis.heldout.validate_model`);
h. engineered IL-2: every measured variant's selectivity at 30 min, and its EC50 ratio to the
   reference fusion on the same plate predicted against the held-out measurement, then the
   bivalent fusions' plates and the valency test at 30 min and 1 h (:mod:`il2sbml.analysis.selectivity`,
   :mod:`il2sbml.analysis.variant_check`, :mod:`il2sbml.analysis.bivalent_check`; skipped in
   quick runs);
i. cell populations: Treg, CD4 helper, CD8 and NK cells whose receptor numbers vary as measured,
   one ODE per cell: flow-style pSTAT5 histograms, responding cells against dose, and the
   held-out single-cell moments against the prediction (:mod:`il2sbml.analysis.populations`;
   skipped in quick runs).

All single-cell ODE work runs on one compiled :class:`~il2sbml.simulate.ode.Simulator` (compiling the
746-reaction model takes 5-8 s); a cell type is its receptor numbers and STAT5, passed as
overrides.

Units: doses and concentrations in pM, amounts in molecules per cell, time in s in the code
and in min in tables and figures (columns say which).
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np

from ..formats.files import atomic_write
from ..formats.load import load_model
from ..lang.errors import Il2sbmlError
from ..simulate.ode import Simulator, parse_duration
from .assays import ASSAY_CELLS, binding_assay, coculture_experiment, dose_response
from .build import build
from .plots import dose_response_figure, figure_grid, plot_dose_response, save_figure

READOUTS = ("pSTAT5", "pAkt", "ppERK")
"""Dose-response readouts of step c, molecules per cell."""
DR_TIME_S = 1800.0
DR_DOSES_PM = np.logspace(-2, 5, 25)
"""Default doses of the dose-responses: 0.01 pM to 100 nM, 25 points (3.4 per decade)."""
TC_READOUTS = ("pSTAT5", "pAkt", "ppERK", "IL2_bound_surface", "IL2_internal")
TC_CELLS = ("Treg", "CD4_memory", "NK")
TC_DOSES_PM = (10.0, 1000.0)
TC_END_S, TC_POINTS = 7200.0, 121
COCULTURE_DOSES_PM = np.logspace(-1, 3, 9)
SSA_OBSERVABLES = ("IL2_bound_surface", "pSTAT5")
SSA_END_S, SSA_POINTS = 1800.0, 31
RECEPTORS = ("CD25_per_cell", "CD122_per_cell", "CD132_per_cell")
QUICK_CELLS = ("Treg", "CD4_memory", "NK")


# ----------------------------------------------------------------------------- small helpers
def _fmt(v) -> str:
    """A CSV field: floats exactly (repr round-trips), NaN as empty."""
    if isinstance(v, (float, np.floating)):
        return "" if math.isnan(v) else repr(float(v))
    return str(v)


def _write_text(path: str, text: str) -> str:
    atomic_write(path, text)
    return path


def _write_csv(path: str, header, rows, comments=()) -> str:
    """A CSV (RFC 4180 quoting) after ``# comment`` lines that give the units."""
    buf = io.StringIO()
    buf.writelines(f"# {c}\n" for c in comments)
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([_fmt(v) for v in row] for row in rows)
    return _write_text(path, buf.getvalue())


def _g(v, digits=3) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}g}"


def _pm(v: float) -> str:
    return f"{v:.3g}" if v < 1000 else f"{v:,.0f}"


def _table(header, rows) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c if isinstance(c, _Raw) else html.escape(str(c))}</td>"
                                    for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class _Raw(str):
    """Table cell text that is already HTML."""


@dataclass
class _Log:
    """Progress lines stamped with the seconds since the start, and each step's duration."""

    progress: object
    t0: float = field(default_factory=time.perf_counter)
    steps: list = field(default_factory=list)   # (title, seconds)

    def say(self, line: str) -> None:
        if self.progress:
            self.progress(f"[{time.perf_counter() - self.t0:6.1f} s] {line}")

    @contextmanager
    def step(self, title: str):
        start = time.perf_counter()
        self.say(f"{title} ...")
        yield
        self.steps.append((title, time.perf_counter() - start))
        self.say(f"{title}: done in {self.steps[-1][1]:.1f} s")


@dataclass
class _Page:
    out: str
    sections: list = field(default_factory=list)   # (id, title, html)
    files: list = field(default_factory=list)      # written into out, relative names

    def path(self, name: str) -> str:
        self.files.append(name)
        return os.path.join(self.out, name)

    def img(self, name: str, alt: str) -> str:
        return f'<p><img src="{html.escape(name)}" alt="{html.escape(alt)}"></p>'

    def link(self, name: str) -> str:
        return f'<a href="{html.escape(name)}">{html.escape(name)}</a>'


# ----------------------------------------------------------------------------- the report
def run_report(model_path: str = "model_src/il2.py", out: str = "build/report", build_dir: str = "build",
               progress=print, *, quick: bool = False, ssa_runs: int = 1000, ssa_dose_pM: float = 0.1,
               seed: int = 20240601) -> str:
    """Run the report (steps a-j of the module docstring) and return the path of ``index.html``.

    ``progress``: a callable taking one line (default ``print``; None for silence).
    ``quick``: a smoke run (builds Treg only; Treg, CD4_memory and NK, 7 doses, no co-culture,
    50 SSA runs).
    ``ssa_runs`` exact trajectories of one Treg at ``ssa_dose_pM`` pM (0.1 pM: 60 IL-2
    molecules per cell at 1e6 cells/mL) for 30 min, seed ``seed``. The full report took 838 s on
    2 cores shared with a running calibration (steps h, 494 s, and i, 207 s, the longest).
    """
    log = _Log(progress)
    os.makedirs(out, exist_ok=True)
    page = _Page(out)
    model = load_model(model_path)
    if "Treg" not in model.parameter_sets:
        raise Il2sbmlError(f"{model_path}: the report needs the IL-2 model's cell types (parameter set "
                           f"'Treg' missing; sets: {', '.join(model.parameter_sets) or 'none'})")
    cells = [c for c in (QUICK_CELLS if quick else model.parameter_sets) if c in model.parameter_sets]

    with log.step("a. build and validate"):
        built = build(model_path, build_dir, cell_types=["Treg"] if quick else cells,
                      progress=lambda line: log.say("  " + line))
        start = time.perf_counter()
        sim = Simulator(os.path.join(build_dir, f"{model.name}_Treg.xml"))
        log.say(f"  libRoadRunner compiled {model.name}_Treg.xml in {time.perf_counter() - start:.1f} s")
        page.sections.append(_section_build(model, cells, built, sim, build_dir))
    with log.step("b. binding assays"):
        page.sections.append(_section_binding(sim, page))
    with log.step("c. dose-responses at 30 min"):
        doses = np.logspace(-2, 5, 7) if quick else DR_DOSES_PM
        page.sections.append(_section_dose_response(sim, model, cells, doses, page))
    with log.step("d. time courses"):
        page.sections.append(_section_time_courses(sim, model, [c for c in TC_CELLS if c in cells], page))
    if quick:
        page.sections.append(("coculture", "e. Treg/effector co-culture", "<p>Skipped (quick run).</p>"))
    else:
        with log.step("e. Treg/effector co-culture"):
            page.sections.append(_section_coculture(model, page))
    with log.step("f. SSA ensemble against the ODE"):
        page.sections.append(_section_ssa(sim, model, page, log, 50 if quick else ssa_runs, ssa_dose_pM, seed))
    with log.step("g. model against data"):
        page.sections.append(_section_data(model_path, model, sim, page, quick))
    if quick:
        page.sections.append(("variants", "h. engineered IL-2 (variants)", "<p>Skipped (quick run).</p>"))
    else:
        with log.step("h. engineered IL-2 (variants)"):
            page.sections.append(_section_variants(model_path, page, log))
    if quick:
        page.sections.append(("populations", "i. cell populations", "<p>Skipped (quick run).</p>"))
    else:
        with log.step("i. cell populations"):
            page.sections.append(_section_populations(model_path, page, log))
    with log.step("j. index.html"):
        index = os.path.join(out, "index.html")
        _write_text(index, _html(model, page, log))
    log.say(f"report: {index} ({len(page.files)} files)")
    return index


def _section_data(model_path, model, sim, page, quick) -> tuple:
    """The calibrated model against its training data and the held-out sets (docs/calibration.md)."""
    from .heldout import validate_model

    sets = ("(a)",) if quick else ("(a)", "(b)", "(c)", "(d)")
    rows = validate_model(page.out, model_path, sets=sets, model=model, sim=sim)
    for name in ("heldout_ec50.csv", "training_and_4h.png") + (("heldout_shapes.png",) if not quick else ()):
        page.files.append(name)
    table = _table(["set", "curve", "measured EC50", "predicted EC50", "fold error"],
                   [[r.dataset, r.label, "no sigmoid fit" if r.measured_ec50_pM is None else _pm(r.measured_ec50_pM),
                     "no sigmoid fit" if r.predicted_ec50_pM is None else _pm(r.predicted_ec50_pM),
                     "" if r.fold_error is None else f"{r.fold_error:.2g}x"] for r in rows])
    body = ("<p>The STAT5 module, STAT5 per lineage and four cell types' receptor numbers are estimated from "
            "measured human PBMC pSTAT5 at 30 min-2 h (Farhat et al. 2021); everything below the training "
            "panels is held out and was never used for fitting (docs/calibration.md). Misses are findings.</p>"
            + page.img("training_and_4h.png", "training and held-out 4 h data on the model")
            + ("" if quick else page.img("heldout_shapes.png", "held-out sets b-d against predictions"))
            + table + f"<p>Table: {page.link('heldout_ec50.csv')}" + (" (quick run: set (a) only)" if quick else "")
            + "</p>")
    return ("data", "g. model against data", body)


def _section_variants(model_path, page, log, *, ligands=None, data=None, bivalent=True) -> tuple:
    """Every measured variant's selectivity (model) and the held-out plate ratios (docs/variants.md),
    then the bivalent fusions' plates (:func:`_bivalent_html`). ``ligands`` (default: WT and every
    measured variant), ``data`` (default: the held-out file) and ``bivalent`` narrow it for tests."""
    from .selectivity import CELLS, selectivity
    from .variant_check import HELDOUT_FILE, rank_correlation, validate_variants

    ligands = ligands or ["WT"] + _measured_variants(model_path)
    results = []
    for name in ligands:
        results.append(selectivity(model_path, name))
        log.say(f"  selectivity of {name}")
    header = ["ligand"] + [f"EC50 {c} (pM)" for c in CELLS] + ["NK/Treg", "CD8/Treg"]
    rows = [[r.ligand] + [_pm(r.cells[c].ec50_pM) if math.isfinite(r.cells[c].ec50_pM) else "none"
                          for c in CELLS] + [_g(r.index("NK"), 3), _g(r.index("CD8"), 3)] for r in results]
    _write_csv(os.path.join(page.out, "variant_selectivity.csv"), ["ligand"] + [f"EC50_{c}_pM" for c in CELLS],
               [[r.ligand] + [r.cells[c].ec50_pM for c in CELLS] for r in results],
               comments=["pSTAT5 EC50 at 30 min, pM of ligand molecules, model_src/il2.py with each variant's "
                         "measured affinities (model_src/variants.py)"])
    page.files.append("variant_selectivity.csv")
    ratios = validate_variants(page.out, model_path, data or HELDOUT_FILE, progress=lambda line: log.say("  " + line),
                               known=results)
    page.files += ["variant_ratios.csv", "variant_curves.png"]
    both = [r for r in ratios if math.isfinite(r.fold_error)]
    rho, n = rank_correlation(ratios)
    table = _table(["plate", "variant", "reference", "cell", "time", "measured ratio", "predicted ratio",
                    "fold error"],
                   [[r.plate, r.ligand, r.reference, r.cell, f"{r.time_s / 60:g} min", _g(r.measured_ratio),
                     _g(r.predicted_ratio), f"{r.fold_error:.2g}x"] for r in both])
    body = ("<p>A variant enters the model only through its measured affinities (Octet Kds of the Fc fusions, "
            "as ratios to the wild-type fusion on the same terminus: model_src/variants.py); every variant "
            "pSTAT5 value is held out. Selectivity index: an effector's EC50 over the Treg's.</p>"
            + _table(header, rows) + f"<p>Table: {page.link('variant_selectivity.csv')}</p>"
            + "<p>EC50 ratio of a variant to the reference ligand on the same plate, predicted against measured "
            f"(held out; {len(both)} of {len(ratios)} plate rows have both ratios, "
            f"{sum(r.fold_error <= 3 for r in both)} within 3-fold; rank correlation of the Treg ratios at "
            f"30 min: {_g(rho, 2)} over {n} variants). Misses are findings (docs/variants.md).</p>"
            + page.img("variant_curves.png", "held-out variant pSTAT5 on predicted curves")
            + table + f"<p>All rows with notes: {page.link('variant_ratios.csv')}</p>")
    if bivalent:
        body += _bivalent_html(model_path, page, log)
    return ("variants", "h. engineered IL-2 (variants)", body)


def _bivalent_html(model_path, page, log, *, cells=None, times_s=(1800.0, 3600.0)) -> str:
    """The bivalent fusions' plates (2019-04-19, 2019-05-02, time labels checked) and the valency
    test (2019-11-08) at ``times_s`` (as ``il2sbml validate-variants --bivalent``; the figure at
    the first), predicted by the pair-approximation model; ``cells`` (default: all four) narrows it."""
    from .bivalent_check import VALENCY_PLATE, rank_summary, validate_bivalent

    rows, checks = validate_bivalent(page.out, model_path, progress=lambda line: log.say("  " + line),
                                     cells=cells, times_s=list(times_s))
    page.files += ["time_labels.csv", "bivalent_ratios.csv", "bivalent_curves.png"]
    both = [r for r in rows if math.isfinite(r.fold_error)]
    moved = sum(c.verdict == "relabelled" for c in checks)
    unresolved = sum(c.verdict == "unresolved" for c in checks)
    table = _table(["plate", "fusion", "reference", "cell", "time", "measured ratio", "predicted ratio",
                    "fold error"],
                   [[r.plate, r.ligand, r.reference, r.cell, f"{r.time_s / 60:g} min", _g(r.measured_ratio),
                     _g(r.predicted_ratio), f"{r.fold_error:.2g}x"] for r in both])
    return ("<h3>Bivalent Fc fusions (two IL-2 moieties)</h3>"
            "<p>Predicted by the pair approximation of the bivalent network (model_src/il2.py, BIVALENT_PAIR; "
            "docs/variants.md). The single-cell file's time labels were checked block by block against the "
            f"vendor's curves: {moved} of {len(checks)} blocks relabelled, {unresolved} unresolved and not used "
            f"({page.link('time_labels.csv')}). EC50 ratios within one physical plate only, and the valency test "
            f"(the wild-type N-terminal fusion as dimer over monomer, {VALENCY_PLATE}): {len(both)} rows, "
            f"{sum(r.fold_error <= 3 for r in both)} within 3-fold; {rank_summary(rows, times_s)} "
            "(Spearman, predicted against measured). Misses are findings (docs/variants.md).</p>"
            + page.img("bivalent_curves.png", "held-out bivalent fusion pSTAT5 on predicted curves")
            + table + f"<p>All rows with notes: {page.link('bivalent_ratios.csv')}</p>")


def _section_populations(model_path, page, log, *, cell_types=None, n_cells=200, doses_pM=None) -> tuple:
    """Deterministic populations against the held-out single-cell moments (docs/populations.md);
    ``cell_types``, ``n_cells`` and ``doses_pM`` narrow it for tests."""
    from .heldout import load_single_cell_moments
    from .populations import CELL_TYPES, MOMENT_HEADER, compare_moments, figures, predict_populations, \
        summarize_moments

    data = load_single_cell_moments()
    doses = doses_pM or sorted({w.dose_pM for w in data})
    start = time.perf_counter()
    runs = predict_populations(model_path, cell_types=cell_types or CELL_TYPES, doses_pM=doses, n_cells=n_cells)
    log.say(f"  {n_cells} cells x {len(doses)} doses x {len(runs)} cell types in {time.perf_counter() - start:.0f} s")
    rows = compare_moments(runs, data)
    _write_csv(os.path.join(page.out, "population_moments.csv"), MOMENT_HEADER, rows,
               comments=["held-out single-cell pSTAT5 moments (median over dates; never fitted) against the model's "
                         "deterministic population; dose in pM, time in h"])
    page.files.append("population_moments.csv")
    for path in figures(runs, rows, page.out):
        page.files.append(os.path.basename(path))
    summ = summarize_moments(rows)
    table = _table(["cell type", "time", "doses", "median CV² fold error", "skewness rank correlation",
                    "CD25-pSTAT5 covariance sign agreement", "its size across doses, rank correlation"],
                   [[c, f"{th:g} h", v["doses"], f"{v['median_cv2_fold']:.2g}x", _g(v["skew_spearman"], 2),
                     "n/a" if v["cov_sign_agreement"] != v["cov_sign_agreement"] else
                     f"{v['cov_sign_agreement']:.0%}",
                     "n/a" if v["cov_profile_spearman"] != v["cov_profile_spearman"] else
                     _g(v["cov_profile_spearman"], 2)] for (c, th), v in summ.items()])
    body = ("<p>Each cell draws its IL-2Rα, IL-2Rβ and γc numbers from the cell type's measured spread "
            "(log-normal, data/populations/; the mean is the calibrated one) and is simulated by its own ODE "
            f"({n_cells} cells per cell type and dose). A cytometer's view: pSTAT5 histograms across doses, and the "
            "share of cells above 10 % of the cell type's top mean.</p>"
            + page.img("histograms.png", "pSTAT5 histograms across IL-2 doses (model)")
            + page.img("responding.png", "responding cells against dose (model)")
            + "<p>Against the held-out single-cell moments (gcSolver.jl; three dates; never fitted): CV² "
              "(the file's mean is background-subtracted, its variance is not, so low-dose CV² is inflated), "
              "skewness, and the sign of the CD25-pSTAT5 covariance (Treg and CD4 helper only).</p>"
            + page.img("moments.png", "predicted against measured single-cell moments")
            + table + f"<p>Every row: {page.link('population_moments.csv')}</p>")
    return ("populations", "i. cell populations", body)


def _measured_variants(model_path) -> list[str]:
    """The CLI names of the variants the IL-2 model file knows (its affinity table), sorted; not
    the wild-type fusions, which have the wild type's constants (WT stands for them)."""
    import importlib.util
    import sys

    path = os.path.join(os.path.dirname(os.path.abspath(model_path)), "variants.py")
    spec = importlib.util.spec_from_file_location("il2_variants_for_report", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod          # dataclasses look their module up
    spec.loader.exec_module(mod)
    return sorted(name for name in mod.read_table() if not name.startswith("WT"))


def _section_build(model, cells, built, sim, build_dir) -> tuple:
    # the network summary build() wrote next to the SBML (no second generation)
    with open(os.path.join(build_dir, f"{model.name}_Treg.network.json"), encoding="utf-8") as fh:
        summary = json.load(fh)
    rows = []
    for name in cells:
        ps = model.parameter_sets[name]
        v = ps.as_dict()
        rows.append([name, *(f"{v.get(r, float('nan')):,.0f}" for r in RECEPTORS), ps.doc])
    files = "".join(f"<li><code>{html.escape(p)}</code></li>" for p in built)
    observables = ", ".join(model.observables)
    body = (f"<p>{summary['species']} species, {summary['reactions']} reactions, {summary['observables']} "
            f"observables ({html.escape(observables)}; molecules per cell), generated from "
            f"{len(model.rules)} rules in {summary['iterations']} rounds; the same network for every cell type "
            f"(only parameters differ). Each SBML file was validated with every libSBML check, units included.</p>"
            + _table(["cell type", "CD25 (per cell)", "CD122 (per cell)", "CD132 (per cell)", "source"], rows)
            + f"<p>Files written ({len(built)}):</p><ul>{files}</ul>"
            + f"<p>Single-cell ODE work below runs on <code>{model.name}_Treg.xml</code> with each cell "
              "type's receptor numbers as overrides (the derived constants are assignment rules, so they "
              f"follow). Simulator tolerance: relative {sim.rtol:g}.</p>")
    return ("build", "a. Model and build", body)


def _section_binding(sim, page) -> tuple:
    rows, curves = [], []
    assays = {}
    for cell in ASSAY_CELLS:
        try:
            a = binding_assay(sim, cell)
        except Il2sbmlError as exc:  # a refused fit
            rows.append([cell, ASSAY_CELLS[cell][1], float("nan"), ASSAY_CELLS[cell][2], float("nan"),
                         float("nan"), float("nan"), f"no fit: {exc}"])
            continue
        assays[cell] = a
        rows.append([cell, a.readout, a.fit.kd, a.expected_kd_pM, a.fit.kd / a.expected_kd_pM, a.fit.bmax,
                     a.fit.r2, ""])
        curves += [[cell, d, f, b] for d, f, b in zip(a.dose_pM, a.free_pM, a.bound)]
    header = ["cell", "readout", "Kd_fit_pM", "Kd_seed_table_pM", "ratio_fit_to_seed", "Bmax_molecules_per_cell",
              "r2", "note"]
    chains = ("equilibrium binding with signalling and trafficking off, 1,000 cells/mL; chains per cell "
              + "; ".join(f"{c}: CD25 {v[0][0]:g}, CD122 {v[0][1]:g}, CD132 {v[0][2]:g}"
                          for c, v in ASSAY_CELLS.items()))
    _write_csv(page.path("binding_kd.csv"), header, rows, [chains, "Kd in pM of free IL-2; Bmax in molecules per cell"])
    _write_csv(page.path("binding_curves.csv"), ["cell", "IL2_added_pM", "IL2_free_pM", "bound_molecules_per_cell"],
               curves, [chains])
    fig, axes = figure_grid(1, len(ASSAY_CELLS), size=(12.0, 3.8))
    for ax, cell in zip(axes, ASSAY_CELLS):
        a = assays.get(cell)
        ax.set_xscale("log")
        ax.set_xlabel("free IL-2 at equilibrium (pM)")
        ax.set_ylabel(f"{ASSAY_CELLS[cell][1]} (molecules per cell)")
        ax.set_title(f"{cell}")
        if a is None:
            ax.text(0.5, 0.5, "no fit", transform=ax.transAxes, ha="center")
            continue
        ax.plot(a.free_pM, a.bound, "o", label="model (equilibrium)")
        x = np.logspace(np.log10(a.free_pM.min()), np.log10(a.free_pM.max()), 200)
        ax.plot(x, a.fit(x), "-", label=f"one-site fit: Kd {_pm(a.fit.kd)} pM")
        ax.axvline(a.expected_kd_pM, color="grey", ls="--", label=f"seed-table Kd {_pm(a.expected_kd_pM)} pM")
        ax.legend(fontsize="small")
    save_figure(fig, page.path("binding.png"))
    table = _table(["cell", "readout", "fitted apparent Kd (pM)", "seed-table Kd (pM)", "ratio",
                    "Bmax (molecules per cell)", "r²", "note"],
                   [[r[0], r[1], *(_pm(v) if v == v else "" for v in r[2:4]), _g(r[4]),
                     _pm(r[5]) if r[5] == r[5] else "", _g(r[6], 5), r[7]] for r in rows])
    body = (f"<p>{html.escape(chains)}. Bound IL-2 against the free IL-2 concentration at equilibrium, fitted "
            "to a one-site hyperbola (apparent Kd of a Scatchard experiment). The membrane constants "
            "K2_g_Lb and K2_b_La were calibrated on these assays (see the model), so agreement is a "
            "consistency check, not a prediction.</p>" + table
            + f"<p>{page.link('binding_kd.csv')}, {page.link('binding_curves.csv')}</p>"
            + page.img("binding.png", "bound against free IL-2 with one-site fits"))
    return ("binding", "b. Binding assays", body)


def _screen(resp):
    """``resp`` with the shape (peak and fall) added to the reason of each refused Hill fit."""
    errors = dict(resp.fit_errors)
    for x, why in resp.fit_errors.items():
        peak_at, drop = _shape(resp.dose_pM, resp.values[x])
        if drop > 0:
            errors[x] = f"{why}: it peaks at {peak_at:.3g} pM and falls {drop:.0f} % by the top dose"
    return replace(resp, fit_errors=errors)


def _shape(dose, y) -> tuple[float, float]:
    """Dose of the largest response (pM) and the fall from it to the highest dose (% of the peak)."""
    k = int(np.argmax(y))
    return float(dose[k]), float(100 * (y[k] - y[-1]) / y[k]) if y[k] > 0 else 0.0


def _section_dose_response(sim, model, cells, doses, page) -> tuple:
    results = {c: _screen(dose_response(sim, doses, READOUTS, DR_TIME_S, c, **model.parameter_sets[c].as_dict()))
               for c in cells}
    rows_csv, ec_rows, html_rows = [], [], []
    for c, r in results.items():
        rows_csv += [[c, d, *(r.values[x][i] for x in READOUTS)] for i, d in enumerate(r.dose_pM)]
        cells_html = [c]
        for x in READOUTS:
            fit, y = r.fits[x], r.values[x]
            peak_at, drop = _shape(r.dose_pM, y)
            note = "" if fit else f"no fit: {r.fit_errors[x]}"
            ec_rows.append([c, x, fit.ec50 if fit else float("nan"), fit.hill if fit else float("nan"),
                            fit.r2 if fit else float("nan"), float(y.max()), peak_at, drop, note])
            mark = f" (falls {drop:.0f} % above {peak_at:.3g} pM)" if drop > 1 else ""
            cells_html += ([_g(fit.ec50), _g(fit.hill, 2) + html.escape(mark)] if fit else
                           [_Raw(f"no fit<br><small>{html.escape(r.fit_errors[x])}</small>"), html.escape(mark)])
        html_rows.append(cells_html)
    comment = [f"readouts {DR_TIME_S / 60:g} min after IL-2 at t = 0, molecules per cell; IL2_pM: dose in pM",
               "doses " + ", ".join(f"{d:.4g}" for d in doses)]
    _write_csv(page.path("dose_responses_30min.csv"), ["cell_type", "IL2_pM", *READOUTS], rows_csv, comment)
    _write_csv(page.path("ec50_30min.csv"),
               ["cell_type", "readout", "EC50_pM", "hill_n", "r2", "max_molecules_per_cell", "peak_at_pM",
                "fall_from_peak_to_top_dose_percent", "note"], ec_rows, comment[:1])
    imgs = []
    for x in READOUTS:
        name = f"dose_response_{x}.png"
        fig = dose_response_figure(doses, {c: results[c].values[x] for c in cells},
                                   response_label=f"{x} at {DR_TIME_S / 60:g} min (molecules per cell)",
                                   title=f"{x}, {DR_TIME_S / 60:g} min after IL-2 (lines: Hill fits)",
                                   fits={c: results[c].fits[x] for c in cells if results[c].fits[x]})
        fig.set_size_inches(9.5, 4.8)
        fig.axes[0].legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
        save_figure(fig, page.path(name))
        imgs.append(page.img(name, f"{x} dose-response"))
    header = ["cell type"] + [h for x in READOUTS for h in (f"{x} EC50 (pM)", f"{x} Hill n")]
    body = (f"<p>{len(doses)} doses from {doses[0]:g} to {doses[-1]:g} pM (1e6 cells/mL), readouts "
            f"{DR_TIME_S / 60:g} min after IL-2, 4-parameter Hill fits on log dose (refused where the doses "
            "do not cover 80 % of the fitted curve). A fall from the peak to the top dose is noted.</p>"
            + _table(header, html_rows)
            + f"<p>{page.link('ec50_30min.csv')}, {page.link('dose_responses_30min.csv')}</p>" + "".join(imgs))
    return ("dose_response", "c. Dose-responses at 30 min", body)


def _section_time_courses(sim, model, cells, page) -> tuple:
    rows, imgs = [], []
    for dose in TC_DOSES_PM:
        fig, axes = figure_grid(2, 3, size=(12.0, 7.0))
        tcs = {c: sim.time_course(TC_END_S, TC_POINTS, list(TC_READOUTS), IL2_pM=dose,
                                  **model.parameter_sets[c].as_dict()) for c in cells}
        for c, tc in tcs.items():
            rows += [[dose, c, t / 60, *(tc[x][i] for x in TC_READOUTS)] for i, t in enumerate(tc["time"])]
        for ax, x in zip(axes, TC_READOUTS):
            for c, tc in tcs.items():
                ax.plot(tc["time"] / 60, tc[x], label=c)
            ax.set_xlabel("time (min)")
            ax.set_ylabel(f"{x} (molecules per cell)")
            ax.set_title(x)
            ax.legend(fontsize="small")
        axes[-1].set_visible(False)
        fig.suptitle(f"IL-2 {dose:g} pM at t = 0 (1e6 cells/mL)")
        name = f"time_courses_{dose:g}pM.png"
        save_figure(fig, page.path(name))
        imgs.append(page.img(name, f"time courses at {dose:g} pM"))
    _write_csv(page.path("time_courses.csv"), ["IL2_pM", "cell_type", "time_min", *TC_READOUTS], rows,
               ["IL-2 dose in pM at t = 0; readouts in molecules per cell"])
    body = (f"<p>{', '.join(cells)} after IL-2 at {' and '.join(f'{d:g} pM' for d in TC_DOSES_PM)}, "
            f"0-{TC_END_S / 60:g} min. {page.link('time_courses.csv')}</p>" + "".join(imgs))
    return ("time_courses", "d. Time courses", body)


def _section_coculture(model, page) -> tuple:
    co = coculture_experiment(model, COCULTURE_DOSES_PM)
    cols = ("effector_alone", "effector_with_treg", "treg_with_effector", "treg_uptake_share", "IL2_free_fraction")
    rows = [[d, *(getattr(co, k)[i] for k in cols)] for i, d in enumerate(co.dose_pM)]
    what = (f"{co.treg} : {co.effector} = {co.treg_fraction:g} : {1 - co.treg_fraction:g} at {co.cells_per_mL:g} "
            f"cells/mL, {co.time_s / 3600:g} h; effectors alone at "
            f"{(1 - co.treg_fraction) * co.cells_per_mL:g} cells/mL")
    _write_csv(page.path("coculture.csv"),
               ["IL2_pM", "effector_pSTAT5_alone", "effector_pSTAT5_with_treg", "treg_pSTAT5_with_effector",
                "treg_share_of_uptake", "IL2_free_fraction_of_dose"], rows,
               [what, "pSTAT5 in molecules per cell of that population; shares and fractions 0-1"])
    fig, (ax, ax2) = figure_grid(1, 2, size=(11.0, 4.2))
    ax.plot(co.dose_pM, co.effector_alone, "o-", label=f"{co.effector} alone")
    ax.plot(co.dose_pM, co.effector_with_treg, "s-", label=f"{co.effector} with {co.treg}")
    ax.plot(co.dose_pM, co.treg_with_effector, "^-", label=f"{co.treg} with {co.effector}")
    ax.set(xscale="log", xlabel="IL-2 (pM)", ylabel=f"pSTAT5 at {co.time_s / 3600:g} h (molecules per cell)",
           title="pSTAT5 per cell")
    ax.legend(fontsize="small")
    ax2.plot(co.dose_pM, 100 * co.treg_uptake_share, "o-", label=f"{co.treg} share of IL-2 taken up")
    ax2.plot(co.dose_pM, 100 * co.IL2_free_fraction, "s--", label="free IL-2 left (of the dose)")
    ax2.axhline(100 * co.treg_fraction, color="grey", ls=":", label=f"{co.treg} share of cells")
    ax2.set(xscale="log", xlabel="IL-2 (pM)", ylabel="%", ylim=(0, 100), title=f"IL-2 uptake at {co.time_s / 3600:g} h")
    ax2.legend(fontsize="small")
    save_figure(fig, page.path("coculture.png"))
    suppression = 100 * (1 - co.effector_with_treg / co.effector_alone)
    table = _table(["IL-2 (pM)", f"{co.effector} pSTAT5 alone", f"{co.effector} pSTAT5 with {co.treg}",
                    "effector pSTAT5 lost (%)", f"{co.treg} pSTAT5", f"{co.treg} share of uptake (%)",
                    "free IL-2 left (% of dose)"],
                   [[_g(d), _g(a, 4), _g(b, 4), f"{s:.0f}", _g(t, 4), f"{100 * u:.1f}", f"{100 * f:.1f}"]
                    for d, a, b, s, t, u, f in zip(co.dose_pM, co.effector_alone, co.effector_with_treg, suppression,
                                                   co.treg_with_effector, co.treg_uptake_share, co.IL2_free_fraction)])
    body = (f"<p>{html.escape(what)}. pSTAT5 in molecules per cell; uptake = surface-bound plus internalised "
            "IL-2.</p>" + table + f"<p>{page.link('coculture.csv')}</p>" + page.img("coculture.png", "co-culture"))
    return ("coculture", "e. Treg/effector co-culture", body)


def _observable_sums(net, names):
    """Species indices read by ``names`` and a weight matrix (species x observables)."""
    obs = {o.name: o for o in net.observables}
    idx = sorted({i for n in names for i, _ in obs[n].weights})
    col = {i: k for k, i in enumerate(idx)}
    w = np.zeros((len(idx), len(names)))
    for j, n in enumerate(names):
        for i, weight in obs[n].weights:
            w[col[i], j] += weight
    return np.array(idx, dtype=np.int64), w


def _section_ssa(sim, model, page, log, runs, dose, seed) -> tuple:
    import numba

    import kernels

    from ..generate.netgen import generate_network
    from ..simulate.compile import compile_network

    treg = model.with_parameter_set("Treg")
    treg.parameter_set("ssa", {"IL2_pM": dose})
    t = np.linspace(0.0, SSA_END_S, SSA_POINTS)
    net = generate_network(treg.with_parameter_set("ssa"))
    arrays = compile_network(net, round_initial=True)
    il2_molecules = int(sum(arrays.x0[i] * w for o in net.observables if o.name == "IL2_free" for i, w in o.weights))
    start = time.perf_counter()
    kernels.run_ensemble(arrays, t[:2], 1, seed)  # loads (or, cold, compiles) the Numba kernel
    log.say(f"  Numba kernel ready in {time.perf_counter() - start:.1f} s")
    species, weights = _observable_sums(net, SSA_OBSERVABLES)
    start = time.perf_counter()
    ens = kernels.run_ensemble(arrays, t, runs, seed, species=species, keep_trajectories=True)
    ens_s = time.perf_counter() - start
    log.say(f"  {runs} runs, {ens.n_events:,} events in {ens_s:.1f} s on {numba.get_num_threads()} thread(s)")
    traj = ens.trajectories.astype(float) @ weights          # runs x times x observables
    mean, sd = traj.mean(axis=0), traj.std(axis=0, ddof=1)
    # what a run looks like: the 5-95 % band and median of the runs (counts: never below zero,
    # unlike mean - sd at low copy numbers)
    q05, median, q95 = np.percentile(traj, [5.0, 50.0, 95.0], axis=0)
    treg_values = model.parameter_sets["Treg"].as_dict()
    ode = sim.time_course(SSA_END_S, SSA_POINTS, list(SSA_OBSERVABLES), IL2_pM=dose, **treg_values)
    later = t > 0
    stats, rows = [], []
    for j, name in enumerate(SSA_OBSERVABLES):
        o = ode[name]
        err = np.abs(mean[later, j] - o[later])
        rel = err / np.abs(o[later])
        se = sd[later, j] / math.sqrt(runs)
        # standard errors only where the runs differ (sd 0, e.g. before the first event of a few
        # runs, has none: not an infinitely large deviation)
        z = np.divide(err, se, out=np.full_like(err, np.nan), where=se > 0)
        k = int(np.argmax(rel))
        z_max = float(np.nanmax(z)) if np.any(se > 0) else float("nan")
        stats.append([name, float(rel.max()), float(t[later][k] / 60), z_max, float(mean[-1, j]),
                      float(sd[-1, j]), float(o[-1])])
    for i, ti in enumerate(t):
        rows.append([ti / 60] + [v for j, n in enumerate(SSA_OBSERVABLES)
                                 for v in (mean[i, j], sd[i, j], q05[i, j], median[i, j], q95[i, j], ode[n][i])])
    what = (f"{runs} exact SSA runs ({ens.method}) of one Treg at {dose:g} pM IL-2 (1e6 cells/mL), seed {seed}; "
            f"IL-2 rounded to {il2_molecules} molecules; ODE: libRoadRunner")
    header = ["time_min"] + [f"{n}_{s}" for n in SSA_OBSERVABLES
                             for s in ("ssa_mean", "ssa_sd", "ssa_q05", "ssa_median", "ssa_q95", "ode")]
    _write_csv(page.path("ssa_vs_ode.csv"), header, rows, [what, "molecules per cell"])
    fig, axes = figure_grid(1, len(SSA_OBSERVABLES), size=(11.0, 4.2))
    for j, (ax, name) in enumerate(zip(axes, SSA_OBSERVABLES)):
        ax.fill_between(t / 60, q05[:, j], q95[:, j], alpha=0.3, label="SSA runs, 5-95 %")
        ax.plot(t / 60, median[:, j], "-", color="C0", lw=1, label="SSA median")
        ax.plot(t / 60, mean[:, j], "o", ms=3, label=f"SSA mean ({runs} runs)")
        ax.plot(t / 60, ode[name], "k-", label="ODE (libRoadRunner)")
        ax.set(xlabel="time (min)", ylabel=f"{name} (molecules per cell)", title=f"{name}, Treg, {dose:g} pM")
        ax.legend(fontsize="small")
    save_figure(fig, page.path("ssa_vs_ode.png"))
    timing = (f"<p>The ensemble took {ens_s:.1f} s ({ens.n_events:,} reaction events, "
              f"{ens.n_events / runs:,.0f} per run) on {numba.get_num_threads()} thread(s).</p>")
    table = _table(["observable", "max |SSA mean − ODE| / ODE (t ≥ 1 min)", "at (min)",
                    "max |SSA mean − ODE| / standard error (times where the runs differ)", "SSA mean at 30 min",
                    "SSA sd at 30 min",
                    "ODE at 30 min"],
                   [[s[0], f"{100 * s[1]:.2f} %", _g(s[2]), _g(s[3]), _g(s[4], 4), _g(s[5]), _g(s[6], 4)]
                    for s in stats])
    body = (f"<p>{html.escape(what)}. Molecules per cell.</p>" + timing + table
            + f"<p>{page.link('ssa_vs_ode.csv')}</p>" + page.img("ssa_vs_ode.png", "SSA ensemble against the ODE"))
    return ("ssa", "f. Stochastic ensemble against the ODE", body)


_CSS = ("body{font-family:sans-serif;max-width:75em;margin:2em auto;padding:0 1em;line-height:1.4}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:.25em .5em;"
        "text-align:left;vertical-align:top}th{background:#eee}img{max-width:100%}small{color:#555}")


def _html(model, page, log) -> str:
    toc = "".join(f'<li><a href="#{sid}">{html.escape(title)}</a></li>' for sid, title, _ in page.sections)
    timing = _table(["step", "seconds"], [[t, f"{s:.1f}"] for t, s in log.steps]
                    + [["total", f"{time.perf_counter() - log.t0:.1f}"]])
    sections = "".join(f'<h2 id="{sid}">{html.escape(title)}</h2>{body}' for sid, title, body in page.sections)
    doc = html.escape(model.doc.strip().split("\n\n")[0])
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>IL-2 model report</title>'
            f"<style>{_CSS}</style></head><body><h1>IL-2 model report: {html.escape(model.name)}</h1>"
            f"<p>{doc}</p><p>Source: <code>{html.escape(str(model.source))}</code>. Units: IL-2 in pM, amounts "
            "in molecules per cell, time in min (s in the code).</p>"
            f"<ul>{toc}</ul>{sections}<h2>Run time</h2>{timing}</body></html>\n")


# ----------------------------------------------------------------------------- one cell type
class DoseResponseFiles(tuple):
    """``(csv_path, png_path)``, with ``.fits`` (readout -> HillFit or None), ``.fit_errors``
    (readout -> why not) and ``.response`` (the :class:`il2sbml.analysis.assays.DoseResponse`)."""

    def __new__(cls, csv_path, png_path, response):
        obj = super().__new__(cls, (csv_path, png_path))
        obj.csv, obj.png, obj.response = csv_path, png_path, response
        obj.fits, obj.fit_errors = response.fits, response.fit_errors
        return obj


def dose_response_command(model_path: str, cell_type: str, readouts: list[str], time_s, out_dir: str,
                          doses_pM=None, *, progress=print) -> DoseResponseFiles:
    """Readouts (molecules per cell) ``time_s`` after IL-2 (s, or a duration such as ``"30m"``)
    across ``doses_pM`` (default :data:`DR_DOSES_PM`: 25 doses, 0.01 pM-100 nM) for one cell
    type, built in memory. Writes ``out_dir/dose_response_<CellType>_<readouts joined by _>.csv``
    (columns ``IL2_pM`` and each readout; ``#`` comment lines give units and Hill fits) and the
    ``.png``; prints the fits through ``progress`` and returns the paths (see
    :class:`DoseResponseFiles`). Unknown cell types or readouts raise :class:`Il2sbmlError`."""
    from ..formats.sbml import write_sbml
    from ..generate.netgen import generate_network

    model = load_model(model_path)
    if cell_type not in model.parameter_sets:
        raise Il2sbmlError(f"unknown cell type {cell_type!r}; choose one of: "
                           f"{', '.join(model.parameter_sets) or '(none)'}")
    readouts = list(readouts)
    bad = [r for r in readouts if r not in model.observables]
    if not readouts or bad:
        raise Il2sbmlError(f"unknown readout {', '.join(map(repr, bad)) or '(none given)'}; choose among the "
                           f"observables: {', '.join(model.observables)}")
    try:
        t = parse_duration(time_s)
    except ValueError as exc:
        raise Il2sbmlError(str(exc)) from None
    if not t > 0:
        raise Il2sbmlError(f"time must be > 0 s, got {time_s!r}")
    doses = DR_DOSES_PM if doses_pM is None else np.asarray(doses_pM, dtype=float).ravel()
    if doses.size == 0 or not np.all(np.isfinite(doses) & (doses > 0)):
        raise Il2sbmlError("doses must be finite and > 0 pM (log-scaled axis and fit)")
    sim = Simulator(write_sbml(generate_network(model.with_parameter_set(cell_type))))
    resp = _screen(dose_response(sim, doses, readouts, t, cell_type))
    stem = os.path.join(out_dir, f"dose_response_{cell_type}_{'_'.join(readouts)}")
    values = model.parameter_sets[cell_type].as_dict()
    comments = [f"model {model.name}, cell type {cell_type} ("
                + ", ".join(f"{k} {v:g}" for k, v in values.items()) + f"); readouts at t = {t:g} s ({t / 60:g} min)",
                "units: IL2_pM = IL-2 dose in pM at t = 0; readouts in molecules per cell"]
    lines = []
    for r in readouts:
        fit = resp.fits[r]
        line = f"{cell_type} {r} at {t / 60:g} min: " + (
            f"EC50 {fit.ec50:.4g} pM, Hill n {fit.hill:.3g}, r2 {fit.r2:.5f}" if fit
            else f"no Hill fit ({resp.fit_errors[r]})")
        lines.append(line)
        comments.append("fit: " + line)
    os.makedirs(out_dir, exist_ok=True)
    csv_path = _write_csv(stem + ".csv", ["IL2_pM", *readouts],
                          [[d, *(resp.values[r][i] for r in readouts)] for i, d in enumerate(doses)], comments)
    label = readouts[0] if len(readouts) == 1 else "readout"
    png = str(plot_dose_response(stem + ".png", doses, {r: resp.values[r] for r in readouts},
                                 response_label=f"{label} at {t / 60:g} min (molecules per cell)",
                                 title=f"{cell_type}: {', '.join(readouts)} {t / 60:g} min after IL-2",
                                 fits={r: f for r, f in resp.fits.items() if f}))
    if progress:
        for line in lines:
            progress(line)
        progress(f"wrote {csv_path} and {png}")
    return DoseResponseFiles(csv_path, png, resp)


__all__ = ["run_report", "dose_response_command", "DoseResponseFiles"]
