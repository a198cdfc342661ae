"""Intrinsic and extrinsic noise of a population (issue 15): how much of the cell-to-cell
variance of a readout comes from the cells' different parameters, how much from reaction noise.

The same cells (one seed) are simulated twice: stochastically (SSA, ``il2sbml ensemble``) and
deterministically (one ODE per cell, ``--method ode``). By the law of total variance,

    Var(X) = Var_cells(E[X | cell]) + E_cells(Var(X | cell))
           =        extrinsic       +        intrinsic,

and the deterministic population's variance is the extrinsic part when each cell's ODE solution
is its conditional mean (exact for first-order networks, a large-number approximation otherwise:
the IL-2 readouts are thousands of molecules). So intrinsic = Var_SSA - Var_ODE.

Confidence interval (95 %): each sample variance's standard error from its own fourth moment,
``se(s^2)^2 = (m4 - s^4 (n - 3) / (n - 1)) / n`` (m4 from the exact excess kurtosis of the
streamed statistics), combined as if the two runs were independent. They share their cells, which
correlates the two variances positively, so this interval is conservative (too wide, not too
narrow). The ODE population's counts are rounded to whole molecules (variance error < 1/12 + the
cross term, negligible against thousands of molecules; stated in the output).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import sys
import time

from ..lang.errors import Il2sbmlError

__all__ = ["variance_se", "noise_decomposition", "noise_command", "NOISE_HEADER"]

NOISE_HEADER = ["point", "time", "output", "n", "mean_ssa", "mean_ode", "var_total", "var_extrinsic",
                "var_intrinsic", "var_intrinsic_low", "var_intrinsic_high", "intrinsic_fraction",
                "intrinsic_fraction_low", "intrinsic_fraction_high"]


def variance_se(n: int, sd: float, excess_kurtosis: float) -> float:
    """Standard error of the sample variance s^2 (n - 1 denominator) from s and the population
    excess kurtosis g2 of the same sample."""
    if n < 4 or not math.isfinite(excess_kurtosis):
        return 0.0 if sd == 0.0 else math.nan
    s2 = sd * sd
    m2 = s2 * (n - 1) / n
    m4 = (excess_kurtosis + 3.0) * m2 * m2
    return math.sqrt(max(m4 - s2 * s2 * (n - 3) / (n - 1), 0.0) / n)


def noise_decomposition(ssa, ode, ids) -> list[list]:
    """Rows of :data:`NOISE_HEADER` for two :class:`~il2sbml.simulate.ensemble.EnsembleRun` of the
    same population (same seed, cells, times and outputs): SSA and ``method="ode"``."""
    if ssa.distributions is None or ode.distributions is None:
        raise Il2sbmlError("the noise decomposition needs two population runs (--population)")
    if len(ssa.results) != len(ode.results) or ssa.n_runs != ode.n_runs:
        raise Il2sbmlError("the SSA and ODE runs differ in their points or cells")
    rows = []
    for p, (rs, ro, ds, do) in enumerate(zip(ssa.results, ode.results, ssa.distributions, ode.distributions)):
        label = ssa.sweep.label(p) if ssa.sweep is not None else ""
        for k, tk in enumerate(rs.t):
            for j, out in enumerate(ids):
                n = rs.n_runs
                sd_s, sd_o = float(rs.sd[k, j]), float(ro.sd[k, j])
                vt, ve = sd_s * sd_s, sd_o * sd_o
                vi = vt - ve
                se = math.hypot(variance_se(n, sd_s, float(ds["kurtosis"][k, j])),
                                variance_se(n, sd_o, float(do["kurtosis"][k, j])))
                lo, hi = vi - 1.96 * se, vi + 1.96 * se
                frac = vi / vt if vt > 0 else math.nan
                flo = lo / vt if vt > 0 else math.nan
                fhi = hi / vt if vt > 0 else math.nan
                rows.append([label, float(tk), out, n, float(rs.mean[k, j]), float(ro.mean[k, j]), vt, ve, vi,
                             lo, hi, frac, flo, fhi])
    return rows


def noise_command(args) -> int:
    """``il2sbml noise``: the same cells by SSA and by ODE, and the decomposition as CSV."""
    from ..formats.files import atomic_write
    from ..simulate import select
    from ..simulate.ensemble import command_run

    if not getattr(args, "population", None):
        raise Il2sbmlError("il2sbml noise needs --population FILE.csv (the cells whose variation is extrinsic)")
    if args.method == "ode":
        raise Il2sbmlError("--method picks the stochastic simulation (auto, direct, tree); the ODE run is added")
    for opt in ("stats_csv", "store", "distribution_csv", "resume", "keep_trajectories"):
        if getattr(args, opt, None):
            flag = "--" + opt.replace("_", "-")
            raise Il2sbmlError(f"il2sbml noise writes --out only; {flag} belongs to il2sbml ensemble")
    a = copy.copy(args)
    a.store = a.distribution_csv = None
    a.resume = a.keep_trajectories = False
    ssa, ids, _sweep, _t = command_run(a)
    b = copy.copy(a)
    b.method = "ode"
    ode, _ids, _sweep, _t = command_run(b)
    rows = noise_decomposition(ssa, ode, ids)
    atomic_write(args.out, select.csv_table(rows, NOISE_HEADER))
    print(f"{args.model}: {args.runs} cells x {len(ssa.results)} point(s), SSA ({ssa.results[0].method}) and ODE, "
          f"seed {args.seed} -> {args.out}")
    if not getattr(args, "quiet", False):
        print(ssa.summary(), file=sys.stderr)
        print(ode.summary(), file=sys.stderr)
    return 0


# ------------------------------------------------------------------------------ the IL-2 model's populations
CELL_TYPES = ("Treg", "CD4_helper", "CD8", "NK")
MOMENT_HEADER = ["cell_type", "time_h", "dose_pM", "n_dates", "measured_cv2", "predicted_cv2", "cv2_fold_error",
                 "measured_skew", "predicted_skew", "measured_kurtosis", "predicted_kurtosis",
                 "measured_cov_cd25_sign", "predicted_cov_cd25", "predicted_corr_cd25", "measured_cov_cd25_au2"]


def predict_populations(model_path="model_src/il2.py", cell_types=CELL_TYPES, doses_pM=None, times_s=(1800.0, 3600.0),
                        n_cells=1000, seed=1, workers=2, populations="data/populations", progress=False,
                        interpolate=0, interpolate_tol=None) -> dict:
    """Deterministic populations (one ODE per cell) of each cell type over ``doses_pM``: ``{cell_type:
    EnsembleRun}`` with the observable pSTAT5 (units of 1 / :data:`ODE_SCALE` molecule per cell) at 0 and
    ``times_s``; cells from
    ``populations/<cell_type>.csv`` (receptor numbers; covariances are with each sampled one).
    ``interpolate=N``: each cell's pSTAT5 from a checked grid of N exact ODEs per receptor
    (:func:`il2sbml.simulate.ensemble.run`); the runs' ``interpolation`` says the grid and its error."""
    import numpy as np

    from ..formats.load import load_model
    from ..formats.sbml import write_sbml
    from ..generate.netgen import generate_network
    from ..simulate import select
    from ..simulate.compile import compile_network
    from ..simulate.population import sampler

    doses = [float(d) for d in (doses_pM if doses_pM is not None else np.logspace(-0.5, 5, 12))]
    t = np.array([0.0, *times_s])
    base = load_model(model_path)
    runs = {}
    for cell in cell_types:
        net = generate_network(base.with_parameter_set(cell))
        arrays = compile_network(net, round_initial=True)
        cells = sampler(net, f"{populations}/{cell}.csv")
        sbml = write_sbml(net)      # one compiled model per cell type; the dose is set on it per cell
        sp, W, names = select.pick_observables(net, "pSTAT5")
        runs[cell] = _dose_sweep(arrays, cells, sbml, "IL2_pM", doses, t, n_cells, seed, sp, names, W, workers,
                                 progress, ODE_SCALE, cell, interpolate, interpolate_tol)
    return runs


def _dose_sweep(arrays, cells, sbml, dose_parameter, doses, t, n, seed, species, ids, weights, workers, progress,
                scale, name, interpolate=0, interpolate_tol=None):
    """A deterministic population (``method="ode"``) at every dose, all on one compiled ``sbml`` with the
    dose set per cell: an :class:`~il2sbml.simulate.ensemble.EnsembleRun` with one point per dose."""
    from ..simulate import ensemble as E

    doses = [float(d) for d in doses]
    models = {d: E.payload(arrays, population=cells, sbml=sbml, overrides={dose_parameter: d}, name=name)
              for d in doses}
    return E.run(lambda v: models[float(v[dose_parameter])], t, n, seed, method="ode", species=species,
                 species_ids=ids, observables=weights, sweep=E.Sweep((dose_parameter,), tuple((d,) for d in doses)),
                 workers=workers, progress=progress, ode_scale=scale, interpolate=interpolate,
                 interpolate_tol=interpolate_tol)


ODE_SCALE = 100
"""The deterministic populations resolve pSTAT5 to 0.01 molecule (``ode_scale``): low-dose cells carry a
few molecules, which rounding to whole ones would distort. Means, sds, quantiles, histograms and
covariances of :func:`predict_populations` are in units of 0.01 molecule; shape statistics (CV^2,
skewness, kurtosis, correlations) do not depend on it."""


def compare_moments(runs: dict, data) -> list[list]:
    """Rows of :data:`MOMENT_HEADER`: per cell type, time and dose the median over the dates of the
    measured CV^2 (variance / mean^2; the file's mean is background-subtracted, its variance is not),
    skewness, excess kurtosis and the sign of the CD25-pSTAT5 covariance (+1, -1; empty for NK and CD8)
    against the deterministic population's. cv2_fold_error = predicted / measured."""
    import statistics

    import numpy as np

    rows = []
    for cell, run in runs.items():
        doses = [float(p[0]) for p in run.sweep.points]
        times = list(run.results[0].t)
        names = run.distributions[0]["parameters"]
        j25 = names.index("CD25_per_cell") if "CD25_per_cell" in names else None
        for time_s in times[1:]:
            k = times.index(time_s)
            for d_i, dose in enumerate(doses):
                wells = [w for w in data if w.cell_type == cell and w.time_s == time_s
                         and abs(w.dose_pM - dose) <= 1e-6 * dose]
                if not wells:
                    continue
                r, dist = run.results[d_i], run.distributions[d_i]
                mean, sd = float(r.mean[k, 0]), float(r.sd[k, 0])
                pcv2 = sd * sd / (mean * mean) if mean > 0 else float("nan")
                mcv2 = statistics.median(w.variance / (w.mean * w.mean) for w in wells if w.mean > 0) \
                    if any(w.mean > 0 for w in wells) else float("nan")
                covs = [w.cov_cd25 for w in wells if w.cov_cd25 is not None]
                sign = "" if not covs else int(np.sign(statistics.median(covs)))
                rows.append([cell, time_s / 3600, dose, len(wells), mcv2, pcv2,
                             pcv2 / mcv2 if mcv2 and mcv2 == mcv2 else float("nan"),
                             statistics.median(w.skew for w in wells), float(dist["skew"][k, 0]),
                             statistics.median(w.kurtosis for w in wells), float(dist["kurtosis"][k, 0]), sign,
                             float(dist["cov"][k, 0, j25]) / ODE_SCALE if j25 is not None else float("nan"),
                             float(dist["corr"][k, 0, j25]) if j25 is not None else float("nan"),
                             statistics.median(covs) if covs else float("nan")])
    return rows


def summarize_moments(rows) -> dict:
    """Per cell type and time: median |log10| CV^2 fold error, Spearman rank correlation of the
    measured and predicted skewness across doses, the share of doses where the CD25-pSTAT5
    covariance has the measured sign, and the rank correlation of its size across doses."""
    import math

    import numpy as np
    from scipy.stats import spearmanr

    out = {}
    for cell in dict.fromkeys(r[0] for r in rows):
        for th in sorted({r[1] for r in rows if r[0] == cell}):
            sel = [r for r in rows if r[0] == cell and r[1] == th]
            folds = [abs(math.log10(r[6])) for r in sel if r[6] == r[6] and r[6] > 0]
            ms, ps = [r[7] for r in sel], [r[8] for r in sel]
            ok = [(a, b) for a, b in zip(ms, ps) if a == a and b == b]
            rho = spearmanr(*zip(*ok)).statistic if len(ok) >= 3 else float("nan")
            signs = [(r[11], r[12]) for r in sel if r[11] != "" and r[12] == r[12]]
            agree = (sum(1 for s, c in signs if s == int(np.sign(c))) / len(signs)) if signs else float("nan")
            # the size of the covariance, scale-free: its profile across doses, by rank (the measured one is in
            # a.u. x a.u., the predicted one in molecules x molecules)
            pairs = [(r[14], r[12]) for r in sel if r[14] == r[14] and r[12] == r[12]]
            crho = spearmanr(*zip(*pairs)).statistic if len(pairs) >= 3 else float("nan")
            out[(cell, th)] = {"median_cv2_fold": 10 ** float(np.median(folds)) if folds else float("nan"),
                               "skew_spearman": float(rho), "cov_sign_agreement": agree,
                               "cov_profile_spearman": float(crho), "doses": len(sel)}
    return out


def responding_fraction(run, threshold: float):
    """float[points, times]: the share of cells whose pSTAT5 is >= ``threshold`` molecules, read from
    the streamed histogram (bins whose lower edge reaches the threshold; within one bin, 1.2 %)."""
    import numpy as np

    from kernels.stats import bin_edges

    lower = bin_edges()[:-1]
    out = np.empty((len(run.results), len(run.results[0].t)))
    for p, d in enumerate(run.distributions):
        h = d["hist"][:, 0, :]
        out[p] = h[:, lower >= threshold].sum(axis=1) / run.n_runs
    return out


def figures(runs: dict, rows, out_dir: str) -> list[str]:
    """``histograms.png`` (flow-style pSTAT5 histograms across doses, Treg and NK, 1 h),
    ``responding.png`` (share of responding cells against dose) and ``moments.png`` (predicted
    against measured CV^2 and skewness)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kernels.stats import bin_edges

    paths = []
    edges = bin_edges()
    lo = edges[100:-1]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for ax, cell in zip(axes, ("Treg", "NK")):
        run = runs.get(cell)
        if run is None:
            continue
        k = len(run.results[0].t) - 1
        cmap = plt.get_cmap("viridis")
        for p, d in enumerate(run.distributions):
            h = d["hist"][k, 0, 100:-1].astype(float)
            # 200 bins per decade -> 20 per decade, as a cytometer shows
            n20 = h[: len(h) // 10 * 10].reshape(-1, 10).sum(axis=1)
            x = lo[: len(h) // 10 * 10].reshape(-1, 10)[:, 0]
            ax.plot(x / ODE_SCALE, n20 / run.n_runs, color=cmap(p / max(len(run.distributions) - 1, 1)),
                    label=f"{run.sweep.points[p][0]:.3g} pM" if p % 3 == 0 else None)
        ax.set_xscale("log")
        ax.set_xlim(1, 1e6)
        ax.set_xlabel("pSTAT5 (molecules per cell)")
        ax.set_title(f"{cell}, {run.results[0].t[k] / 3600:g} h, {run.n_runs} cells (model)")
    axes[0].set_ylabel("fraction of cells per bin (20 per decade)")
    axes[0].legend(fontsize=7, title="IL-2")
    fig.tight_layout()
    paths.append(f"{out_dir}/histograms.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for cell, run in runs.items():
        top = max(float(r.mean[-1, 0]) for r in run.results)
        frac = responding_fraction(run, 0.1 * top)
        doses = [p[0] for p in run.sweep.points]
        ax.plot(doses, frac[:, -1], marker="o", label=cell)
    ax.set_xscale("log")
    ax.set_xlabel("IL-2 (pM)")
    ax.set_ylabel("share of cells >= 10 % of the cell type's top mean")
    ax.set_title("responding cells at 1 h (model, deterministic population)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(f"{out_dir}/responding.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(2, len(runs), figsize=(3.2 * len(runs), 6), squeeze=False)
    for c, cell in enumerate(runs):
        for th, marker in ((0.5, "o"), (1.0, "s")):
            sel = [r for r in rows if r[0] == cell and r[1] == th]
            d = [r[2] for r in sel]
            for row_i, (mi, pi, name) in enumerate(((4, 5, "CV$^2$"), (7, 8, "skewness"))):
                ax = axes[row_i, c]
                ax.plot(d, [r[mi] for r in sel], marker, color="k" if th == 0.5 else "grey", mfc="none",
                        label=f"measured {th:g} h (held out)")
                ax.plot(d, [r[pi] for r in sel], "-", color="C0" if th == 0.5 else "C1", label=f"model {th:g} h")
                ax.set_xscale("log")
                if name == "CV$^2$":
                    ax.set_yscale("log")
                ax.set_title(f"{cell}: {name}", fontsize=9)
                ax.set_xlabel("IL-2 (pM)", fontsize=8)
    axes[0, 0].legend(fontsize=6)
    fig.tight_layout()
    paths.append(f"{out_dir}/moments.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths


def populations_command(args) -> int:
    """``il2sbml populations``: deterministic populations of Treg, CD4 helper, CD8 and NK at the held-out
    file's doses; ``moments.csv`` (predicted against measured single-cell moments), ``summary.csv`` and
    the figures under ``--out``."""
    import os

    from ..formats.files import atomic_write
    from ..simulate import select
    from .heldout import load_single_cell_moments

    if getattr(args, "coculture", None):
        return _coculture_command(args)
    data = load_single_cell_moments()
    doses = sorted({w.dose_pM for w in data})
    t0 = time.perf_counter()
    runs = predict_populations(args.model, doses_pM=doses, n_cells=args.cells, seed=args.seed, workers=args.workers,
                               progress=not args.quiet, populations=args.populations)
    wall = time.perf_counter() - t0
    rows = compare_moments(runs, data)
    os.makedirs(args.out, exist_ok=True)
    atomic_write(f"{args.out}/moments.csv", "# held-out single-cell pSTAT5 moments (median over dates; never fitted) "
                 "against the model's deterministic population\n" + select.csv_table(rows, MOMENT_HEADER))
    summ = summarize_moments(rows)
    srows = [[c, th, v["doses"], v["median_cv2_fold"], v["skew_spearman"], v["cov_sign_agreement"],
              v["cov_profile_spearman"]] for (c, th), v in summ.items()]
    atomic_write(f"{args.out}/summary.csv", select.csv_table(
        srows, ["cell_type", "time_h", "doses", "median_cv2_fold_error", "skew_spearman", "cov_cd25_sign_agreement",
                "cov_cd25_profile_spearman"]))
    paths = figures(runs, rows, args.out)
    n_solves = args.cells * len(doses) * len(runs)
    print(f"{args.model}: {args.cells} cells x {len(doses)} doses x {len(runs)} cell types ({n_solves} ODE solves, "
          f"{wall:.0f} s) -> {args.out}/moments.csv, summary.csv, " + ", ".join(os.path.basename(p) for p in paths))
    return 0


# ------------------------------------------------------------------------------ heterogeneous co-cultures
def heterogeneous_coculture(model, fractions: dict, classes: int = 4, populations="data/populations"):
    """A co-culture (:func:`il2sbml.analysis.coculture.coculture`) in which each population is
    itself heterogeneous: population P is ``classes`` cell classes ``P_1 .. P_K``, each with the
    fraction ``f_P / K`` of the culture and its own receptor numbers, and the returned
    :class:`~il2sbml.simulate.population.Population` draws every class's receptor numbers from P's
    measured spread (``populations/<P>.csv``: log-normal, mean the cell type's). A run of an
    ensemble with this population is one culture: K cells per population drawn at random and
    competing for the shared IL-2; the ensemble of cultures averages over the draws (its mean is a
    Monte Carlo estimate of the infinitely many cells' culture, its spread the error of K classes).

    Returns ``(model, population, groups)``; ``groups[P]`` lists P's classes (co-culture names)."""
    import numpy as np

    from ..simulate.population import Population, read_population
    from .coculture import coculture

    if int(classes) != classes or classes < 1:
        raise Il2sbmlError(f"classes must be a whole number >= 1, got {classes!r}")
    fr = {}
    groups = {}
    names, cvs, lines, units = [], [], [], []
    for pop, frac in fractions.items():
        if pop not in model.parameter_sets:
            raise Il2sbmlError(f"model {model.name!r} has no cell type {pop!r} (parameter sets: "
                               f"{', '.join(model.parameter_sets)})")
        spread = read_population(f"{populations}/{pop}.csv")
        if spread.kind != "lognormal" or spread.cv is None or np.any(np.isnan(spread.cv)):
            raise Il2sbmlError(f"{populations}/{pop}.csv: a heterogeneous co-culture needs cv per parameter")
        groups[pop] = []
        for i in range(1, int(classes) + 1):
            name = f"{pop}_{i}"
            if name not in model.parameter_sets:
                model.parameter_set(name, model.parameter_sets[pop].as_dict(), doc=f"class {i} of {pop}")
            fr[name] = frac / classes
            groups[pop].append(name)
            for j, p in enumerate(spread.names):
                names.append(f"{p}_{name}")
                cvs.append(float(spread.cv[j]))
                lines.append(spread.lines[j])
                units.append(spread.units[j] if spread.units else None)
    cc = coculture(model, fr, name=f"{model.name}_heterogeneous_coculture")
    k = len(names)
    pop = Population(f"{populations}/{{{','.join(fractions)}}}.csv", tuple(names), "lognormal",
                     np.full(k, np.nan), np.full(k, np.nan), np.eye(k), None, tuple(units), tuple(lines),
                     np.array(cvs))
    return cc, pop, groups


def coculture_ensemble(model, fractions: dict, doses_pM, classes=4, cultures=50, seed=1, time_s=1800.0,
                       workers=2, populations="data/populations", progress=False, readout="pSTAT5",
                       dose_parameter="IL2_pM"):
    """Ensembles of heterogeneous co-cultures (one ODE per culture) over ``doses_pM``: per dose, per
    population, the culture's ``readout`` per cell of that population (mean and sd over the cultures),
    and the same for the homogeneous co-culture (every class at the cell type's mean, one culture).
    ``model``: a model file or a loaded model. Returns rows ``[dose_pM, population,
    mean_heterogeneous, sd_over_cultures, homogeneous]`` (molecules per cell of the population)."""
    import numpy as np

    from ..formats.load import load_model
    from ..formats.sbml import write_sbml
    from ..generate.netgen import generate_network
    from ..simulate import select
    from ..simulate.compile import compile_network
    from ..simulate.population import sampler

    base = load_model(model) if isinstance(model, str) else model
    cc, pop, groups = heterogeneous_coculture(base, fractions, classes, populations)
    net = generate_network(cc)
    arrays = compile_network(net, round_initial=True)
    sbml = write_sbml(net)
    hetero = sampler(net, pop)
    homo = sampler(net, dataclasses.replace(pop, cv=np.zeros(len(pop.names))))   # every class at the mean
    wanted = [f"{readout}_{c}_all" for p in fractions for c in groups[p]]
    sp, W, names = select.pick_observables(net, ",".join(wanted))
    # one output per population: the sum over its classes (integer weights), per average cell of the culture
    G = np.array([[1 if n in {f"{readout}_{c}_all" for c in groups[p]} else 0 for n in names] for p in fractions])
    W = G @ W
    scale = 1000      # amounts per average cell of the culture, resolved to 1e-3 molecule (not rounded to one)
    t = np.array([0.0, float(time_s)])
    out = {label: _dose_sweep(arrays, cells, sbml, dose_parameter, doses_pM, t, n, seed, sp, list(fractions), W,
                              workers if n > 1 else None, progress, scale, label)
           for label, cells, n in (("heterogeneous", hetero, cultures), ("homogeneous", homo, 1))}
    rows = []
    for p_i, d in enumerate(doses_pM):
        for j, popname in enumerate(fractions):
            f = fractions[popname]
            rh, r1 = out["heterogeneous"].results[p_i], out["homogeneous"].results[p_i]
            rows.append([float(d), popname, float(rh.mean[1, j]) / (f * scale), float(rh.sd[1, j]) / (f * scale),
                         float(r1.mean[1, j]) / (f * scale)])
    return rows


def _coculture_command(args) -> int:
    """``il2sbml populations --coculture Treg=0.1,CD4_helper=0.9``: an ensemble of heterogeneous cultures."""
    import os

    from ..formats.files import atomic_write
    from ..simulate import select
    from .coculture import parse_fractions

    fractions = parse_fractions(args.coculture)
    doses = [float(d) for d in args.doses.split(",")] if args.doses else [1.0, 10.0, 100.0, 1000.0]
    t0 = time.perf_counter()
    rows = coculture_ensemble(args.model, fractions, doses, classes=args.classes, cultures=args.cultures,
                              seed=args.seed, workers=args.workers, progress=not args.quiet,
                              populations=args.populations, readout=args.readout)
    os.makedirs(args.out, exist_ok=True)
    header = ["dose_pM", "population", f"{args.readout}_per_cell_heterogeneous_mean", "sd_over_cultures",
              f"{args.readout}_per_cell_homogeneous"]
    atomic_write(f"{args.out}/coculture.csv",
                 f"# {args.cultures} cultures of {', '.join(f'{k} ({v:g})' for k, v in fractions.items())}, "
                 f"{args.classes} cell classes per population drawn from data/populations; 30 min; molecules per "
                 "cell of the population\n" + select.csv_table(rows, header))
    print(f"{args.model}: {args.cultures} heterogeneous co-cultures x {len(doses)} doses "
          f"({time.perf_counter() - t0:.0f} s) -> {args.out}/coculture.csv")
    return 0
