"""Calibration of the IL-2 model on its PEtab problem with pyPESTO and AMICI (analysis).

``il2sbml calibrate [--quick]`` reads ``build/petab/`` (written by ``il2sbml petab``), compiles
it with AMICI (once: the compiled model is cached under ``build/amici/`` by a hash of the problem
files), and runs pyPESTO's multistart optimisation with the Fides trust-region optimiser on
AMICI's forward sensitivities (gradient and Fisher information), continues the best starts to
convergence (``refine``: the same optimiser from where they stopped), then (full run) profiles the
likelihood of every parameter from the best point (pyPESTO; stored per parameter, so the hours-long
run continues where it stopped), and, on request, samples the posterior. It writes
``build/calibration/``: ``summary.json`` (settings, per-start and per-refinement results, the best
parameters and where they come from, timings), ``best_parameters.tsv``, ``waterfall.png``,
``parameters.md`` (every estimated parameter's fit, bounds, prior and intervals), with profiles
``profiles/`` (one JSON per parameter), ``profiles.tsv`` (the 95 % profile-likelihood interval of
each parameter and whether the data determine it) and ``profiles.png``, and, with sampling,
``posterior.tsv`` and ``samples/`` (the chains).

Nothing here is written by hand that pyPESTO does: start points (uniform within bounds on the
parameter scale, from ``numpy``'s generator seeded by ``--seed``), optimisation, profiles and
plots are pyPESTO's. What this module adds is the engine set-up, measured on this problem
(``benchmarks/calibration.py``, ``docs/benchmarks.md``):

* **Forward sensitivities and the Fisher information** (AMICI), which Fides uses as its Hessian
  (Gauss-Newton): from random starts it reached 2,432.9 and 2,441.3 in 80 iterations (8-9 min
  per start, two starts on two threads), where Fides with BFGS updates on adjoint gradients
  needed ~250 iterations (~27 min) for 2,433.4. One objective costs 0.18 s; objective and
  gradient 5.8 s forward, 6.3 s adjoint at the fit (44 parameters; 7.5 and 2.5 s at the
  uncalibrated point).
* **Tolerances**: relative 1e-6, absolute 1e-6 molecules per cell (the state is in molecules,
  from ~1 to 1e8; a millionth of a molecule is far below any measured difference). The
  objective moves by 4e-3 of 23,382 against the defaults.
* **Threads, not processes**: AMICI releases the GIL while it integrates (two threads run two
  objectives in the time of one), and pickling an AMICI objective for worker processes needs an
  AMICI built with HDF5, which the PyPI build here is not.

The objective is AMICI's negative log-likelihood plus the parameter table's priors; without the
priors it equals PEtab's own (``petab.calculate_llh``, :func:`petab_objective`), which is what
the cross-engine check compares (AMICI against libRoadRunner through pyPESTO's RoadRunner
objective: 1e-7 relative at the nominal point).

Units: times in seconds, parameters in the PEtab table's units (``build/petab/parameters.tsv``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np

from ..lang.errors import Il2sbmlError

RTOL = 1e-6
ATOL = 1e-6
MAX_STEPS = 100_000


@dataclass(frozen=True)
class Settings:
    starts: int
    max_iter: int
    samples: int = 0       # per chain; 0: no sampling
    chains: int = 2
    profiles: bool = False
    refine: int = 0        # the best `refine` starts are continued for up to `refine_iter` more iterations
    refine_iter: int = 0


# the identifiability analysis of the full run is profiles (profile_parameters), not sampling: three
# adaptive-Metropolis runs from the fit did not mix (docs/calibration.md; the third's largest
# autocorrelation times grew from 720 to 1,700 samples between 20,000 and 36,000 per chain, so an
# effective sample size of 100 would take far more than 100,000 samples, beyond any session here),
# while a profile is a finished result per parameter, stored one file each, so the run (hours) goes
# on across sessions and checkouts (build/calibration/profiles/ is committed). Sampling stays
# available (--samples N).
# 150 iterations take most random starts to within a few units of their plateau, but the lowest
# plateaus still move at that budget (29 of the first 34 published starts used it all), so the
# two best starts (one per thread) are continued to Fides' own convergence, capped by iterations
# (not by time, so the result does not depend on the machine), before the profiles start there.
FULL = Settings(starts=50, max_iter=150, samples=0, chains=2, profiles=True, refine=2, refine_iter=600)
QUICK = Settings(starts=2, max_iter=3, refine=1, refine_iter=2)


class CalibrationError(Il2sbmlError):
    """The calibration cannot run: names what is missing and what to do."""


def _require_stack():
    try:
        import amici  # noqa: F401
        import fides  # noqa: F401
        import petab  # noqa: F401
        import pypesto  # noqa: F401
    except ImportError as exc:
        raise CalibrationError(f"il2sbml calibrate needs pyPESTO, PEtab, AMICI and Fides ({exc.name} is missing): "
                               f"pip install -e '.[calibrate]' (AMICI compiles C++: it needs a C++20 compiler)") from None
    # AMICI's model build calls swig and cmake, which pip installs next to this interpreter
    bindir = os.path.dirname(sys.executable)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def problem_hash(petab_dir: str) -> str:
    """A hash of the PEtab problem's files: the key of the compiled AMICI model."""
    h = hashlib.sha256()
    for name in sorted(os.listdir(petab_dir)):
        if name.endswith((".yaml", ".tsv", ".xml")):
            h.update(name.encode())
            with open(os.path.join(petab_dir, name), "rb") as fh:
                h.update(fh.read())
    return h.hexdigest()[:12]


def load(petab_dir: str = "build/petab", work_dir: str = "build/amici"):
    """``(petab.Problem, pypesto.Problem)`` with the AMICI objective set up as measured above."""
    _require_stack()
    import amici.sim.sundials as asu
    import petab.v1 as petab
    import pypesto.petab

    yaml = os.path.join(petab_dir, "problem.yaml")
    if not os.path.exists(yaml):
        raise CalibrationError(f"{yaml} not found: write the problem first with "
                               f"il2sbml petab model_src/il2.py --data data/training/farhat2021_pSTAT5_IL2.csv")
    problem = petab.Problem.from_yaml(yaml)
    key = problem_hash(petab_dir)
    importer = pypesto.petab.PetabImporter(problem, model_name=f"il2_{key}",
                                           output_folder=os.path.join(work_dir, f"il2_{key}"))
    pp = importer.create_problem(verbose=False)
    amici_objective = _amici_objective(pp.objective)
    solver = amici_objective.amici_solver
    solver.set_sensitivity_method(asu.SensitivityMethod.forward)   # gradient and FIM for Fides (see above)
    # CVODES' staggered corrector, sensitivity by sensitivity: 5.2 s against 5.9 s (staggered) and
    # 6.2 s (simultaneous) for objective and gradient at the interim fit
    solver.set_internal_sensitivity_method(asu.InternalSensitivityMethod.staggered1)
    for suffix in ("", "_b", "_quadratures"):
        getattr(solver, "set_relative_tolerance" + suffix)(RTOL)
        getattr(solver, "set_absolute_tolerance" + suffix)(ATOL)
    solver.set_max_steps(MAX_STEPS)
    return problem, pp


def _amici_objective(objective):
    """The simulating objective of an aggregate (pyPESTO adds the priors as a second one)."""
    from pypesto.objective import AggregatedObjective

    if isinstance(objective, AggregatedObjective):
        return objective._objectives[0]
    return objective


def simulation_df(problem, pp, x_free):
    """The PEtab simulation table of the AMICI model at ``x_free`` (free parameters, scaled)."""
    from amici.sim.sundials.petab.v1 import rdatas_to_simulation_df

    obj = _amici_objective(pp.objective)
    ret = obj(x_free, return_dict=True)
    return rdatas_to_simulation_df(ret["rdatas"], obj.amici_model, problem.measurement_df)


def petab_objective(problem, simulations, x_named_linear: dict) -> float:
    """PEtab's negative log-likelihood of ``simulations`` (a simulation table), priors excluded."""
    import petab.v1 as petab

    pdf = problem.parameter_df.copy()
    for pid, value in x_named_linear.items():
        pdf.loc[pid, petab.NOMINAL_VALUE] = value
    return -petab.calculate_llh(problem.measurement_df, simulations, problem.observable_df, pdf)


def _linear(scale: str, v: float) -> float:
    """A value on PEtab's ``parameterScale`` (lin, log, log10) back on the linear scale."""
    return float(10 ** v if scale == "log10" else np.exp(v) if scale == "log" else v)


def time_objective(pp, x, repeats: int = 3) -> dict:
    """Median seconds of one objective and of one objective with gradient at ``x``."""
    f, fg = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        pp.objective(x, sensi_orders=(0,))
        f.append(time.perf_counter() - t)
        t = time.perf_counter()
        pp.objective(x, sensi_orders=(0, 1))
        fg.append(time.perf_counter() - t)
    return {"objective_s": float(np.median(f)), "objective_and_gradient_s": float(np.median(fg))}


@contextmanager
def exclusive(out: str):
    """Hold ``out`` for one run: an exclusive ``flock`` on ``out/.lock`` (which names the holder),
    released when the block ends or the process dies. A second ``il2sbml calibrate`` on the same
    folder would append to the same stored chains and starts (the full run spans sessions and is
    easily started twice on a compute node), so it is refused by name instead."""
    import fcntl
    import socket

    os.makedirs(out, exist_ok=True)
    fh = open(os.path.join(out, ".lock"), "a+", encoding="utf-8")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.seek(0)
        holder = fh.read().strip() or "another process"
        fh.close()
        raise CalibrationError(f"{out}: another il2sbml calibrate ({holder}) is running on this folder and "
                               f"writes its starts and chains; wait for it to end, or give this run another "
                               f"--out") from None
    try:
        fh.truncate(0)
        fh.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        fh.flush()
        yield
    finally:
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


def calibrate(petab_dir: str = "build/petab", out: str = "build/calibration", *, settings: Settings = FULL,
              seed: int = 1, threads: int = 2, work_dir: str = "build/amici", progress=print) -> dict:
    """Multistart optimisation (and, if ``settings.profiles``, profiles); returns the summary. One
    run per ``out`` at a time (:func:`exclusive`)."""
    with exclusive(out):
        return _calibrate(petab_dir, out, settings, seed, threads, work_dir, progress)


def _calibrate(petab_dir, out, settings, seed, threads, work_dir, progress) -> dict:
    problem, pp = load(petab_dir, work_dir)
    import pypesto.optimize as optimize

    t0 = time.perf_counter()
    x_nominal = pp.get_reduced_vector(np.asarray(problem.x_nominal_scaled))
    timing = time_objective(pp, x_nominal, repeats=1 if settings.starts <= 4 else 3)
    progress(f"calibrate: {len(pp.x_free_indices)} parameters, {len(problem.measurement_df)} measurements; "
             f"objective {timing['objective_s']:.2f} s, with gradient {timing['objective_and_gradient_s']:.2f} s")
    # Fides' default Hessian is the objective's own: AMICI's Fisher information (forward sensitivities)
    optimizer = optimize.FidesOptimizer(options={"maxiter": settings.max_iter}, verbose=0)
    points = start_points(pp, settings.starts, seed)
    result = _multistart(pp, optimizer, points, os.path.join(out, "starts"), problem_hash(petab_dir),
                         settings.max_iter, threads, progress)
    t_opt = time.perf_counter() - t0
    best = result.optimize_result.list[0]
    refined, source = [], f"start {best.id}"
    if settings.refine and settings.refine_iter:
        best, source, refined = _refine(pp, result, settings, os.path.join(out, "refine"), problem_hash(petab_dir),
                                        threads, progress)
    t_refine = time.perf_counter() - t0 - t_opt
    names = [pp.x_names[i] for i in pp.x_free_indices]
    scales = dict(zip(problem.parameter_df.index, problem.parameter_df["parameterScale"]))

    def linear(name, v):
        return _linear(scales[name], v)

    summary = {
        "settings": asdict(settings) | {"seed": seed, "threads": threads, "rtol": RTOL, "atol": ATOL,
                                        "optimizer": "Fides (pyPESTO FidesOptimizer), FIM Hessian",
                                        "sensitivities": "forward"},
        "problem": {"petab": petab_dir, "hash": problem_hash(petab_dir), "parameters": len(names),
                    "measurements": int(len(problem.measurement_df))},
        "timing": timing | {"optimisation_s": round(t_opt, 1), "refine_s": round(t_refine, 1),
                            "starts_thread_s": round(sum(r.time for r in result.optimize_result.list), 1)},
        "best": {"fval": float(best.fval), "source": source,
                 "parameters": {n: linear(n, v) for n, v in zip(names, np.asarray(best.x)[pp.x_free_indices])}},
        "starts": [{"id": r.id, "fval": float(r.fval), "n_fval": int(r.n_fval), "n_grad": int(r.n_grad),
                    "exitflag": str(r.exitflag), "time_s": round(float(r.time), 1)}
                   for r in result.optimize_result.list],
        "refine": refined,
    }
    from ..formats.files import atomic_write

    atomic_write(os.path.join(out, "best_parameters.tsv"),
                 "parameterId\tvalue\n" + "".join(f"{n}\t{v:.6g}\n" for n, v in summary["best"]["parameters"].items()))
    _waterfall(result, os.path.join(out, "waterfall.png"))
    best_free = np.asarray(best.x)[pp.x_free_indices]
    hess = hessian(pp, best_free)
    summary["fisher"] = fisher(problem, pp, best_free, hess)
    if settings.samples:
        cov0 = laplace_covariance(hess, pp.lb, pp.ub)
        post = summary["posterior"] = posterior(problem, pp, best_free, cov0, petab_dir, work_dir,
                                                os.path.join(out, "samples"),
                                                samples=settings.samples, chains=settings.chains, seed=seed,
                                                key=problem_hash(petab_dir), progress=progress)
        atomic_write(os.path.join(out, "posterior.tsv"),
                     "parameterId\tmedian_scaled\tlower_95_scaled\tupper_95_scaled\tdetermined\n"
                     + "".join(f"{n}\t{r['median_scaled']:.4g}\t{r['lower_scaled']:.4g}\t{r['upper_scaled']:.4g}\t"
                               f"{r['determined']}\n" for n, r in post["parameters"].items()))
    if settings.profiles:
        records = profile_parameters(pp, best_free, best.fval, os.path.join(out, "profiles"), problem_hash(petab_dir),
                                     threads, progress)
        summary["profiles"] = profile_rows(problem, pp, records)
        atomic_write(os.path.join(out, "profiles.tsv"),
                     "parameterId\tlower_95_scaled\tupper_95_scaled\tidentifiable\tdetermined\n"
                     + "".join(f"{n}\t{r['lower_scaled']:.4g}\t{r['upper_scaled']:.4g}\t{r['identifiable']}\t"
                               f"{r['determined']}\n" for n, r in summary["profiles"]["parameters"].items()))
        _profile_figure(records, pp, os.path.join(out, "profiles.png"))
    summary["timing"]["total_s"] = round(time.perf_counter() - t0, 1)
    atomic_write(os.path.join(out, "summary.json"), json.dumps(summary, indent=1) + "\n")
    atomic_write(os.path.join(out, "parameters.md"), parameter_table(summary, petab_dir))
    progress(f"calibrate: best objective {best.fval:.4f} ({source}) of {settings.starts} starts in "
             f"{summary['timing']['total_s']:.0f} s; {out}/summary.json")
    return summary


def start_points(pp, n: int, seed: int) -> np.ndarray:
    """``n`` start points (free parameters, on their scales): pyPESTO's uniform sampling within the
    bounds, re-drawn where the objective is not finite, from ``numpy``'s generator seeded by
    ``seed``. Point ``i`` depends on ``seed`` and ``n`` only, not on threads or on resuming."""
    import pypesto.startpoint as startpoint

    np.random.seed(seed)
    return startpoint.UniformStartpoints(use_guesses=False, check_fval=True, check_grad=False)(n_starts=n, problem=pp)


def _in_threads(tasks, threads: int, setup, run) -> None:
    """``run(state, task)`` for each of ``tasks`` on up to ``threads`` threads, each thread with its
    own ``state = setup()`` (its copy of the objective, as pyPESTO's MultiThreadEngine does; AMICI
    releases the GIL while it integrates). After a failure no task is started; the first failure
    is raised once every thread has ended."""
    import queue
    import threading

    pending: queue.Queue = queue.Queue()
    for task in tasks:
        pending.put(task)
    failures: list[BaseException] = []

    def work():
        state = setup()
        while not failures:
            try:
                task = pending.get_nowait()
            except queue.Empty:
                return
            try:
                run(state, task)
            except BaseException as exc:      # reported below, after the other threads stop
                failures.append(exc)
                return

    pool = [threading.Thread(target=work, daemon=True) for _ in range(max(1, min(threads, pending.qsize())))]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if failures:
        raise failures[0]


def _multistart(pp, optimizer, points, store: str, key: str, max_iter: int, threads: int, progress,
                what: str = "start", labels=None):
    """pyPESTO optimiser tasks, one per start point, on ``threads`` threads (each with its own copy
    of the objective, as pyPESTO's MultiThreadEngine does), each start's result stored in
    ``store/start_NNN.json`` as soon as it ends. A stored start is reused when it was run on the
    same problem (``key``), from the same point and with the same iteration budget, so an
    interrupted run resumes where it stopped (``what`` names the tasks in file names and progress
    lines, ``labels`` the files: ``what_LABEL.json``, by default the point's index as NNN).
    Returns a pyPESTO ``Result`` of every start, sorted."""
    import copy
    import threading

    import pypesto
    from pypesto.history import HistoryOptions
    from pypesto.optimize import OptimizeOptions
    from pypesto.optimize.task import OptimizerTask
    from pypesto.result import OptimizerResult

    from ..formats.files import atomic_write

    os.makedirs(store, exist_ok=True)
    records: dict[int, dict] = {}
    files = [os.path.join(store, f"{what}_{lab}.json") for lab in (labels or [f"{i:03d}" for i in range(len(points))])]
    for i, x0 in enumerate(points):
        path = files[i]
        if os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                rec = json.load(fh)
            if rec["problem"] == key and rec["max_iter"] == max_iter and np.array_equal(rec["x0"], x0):
                records[i] = rec
    if records:
        progress(f"calibrate: {len(records)} of {len(points)} {what}s already in {store}, reused")
    lock = threading.Lock()

    def run(state, i):
        local, opt = state
        r = OptimizerTask(opt, local, points[i], str(i), HistoryOptions(), OptimizeOptions()).execute()
        rec = {"problem": key, "max_iter": max_iter, "id": i, "x0": [float(v) for v in points[i]],
               "x": [float(v) for v in r.x], "fval": float(r.fval), "n_fval": int(r.n_fval),
               "n_grad": int(r.n_grad), "exitflag": str(r.exitflag), "message": str(r.message),
               "time_s": round(float(r.time), 1)}
        atomic_write(files[i], json.dumps(rec) + "\n")
        with lock:
            records[i] = rec
            best = min(v["fval"] for v in records.values())
            progress(f"calibrate: {what} {i} ended at {rec['fval']:.4f} after {rec['n_grad']} gradients "
                     f"({rec['time_s']:.0f} s, {rec['message']}); {len(records)}/{len(points)} done, best {best:.4f}")

    _in_threads([i for i in range(len(points)) if i not in records], threads,
                lambda: (copy.deepcopy(pp), copy.deepcopy(optimizer)), run)
    result = pypesto.Result(pp)
    result.optimize_result.append(
        [OptimizerResult(id=str(i), x=np.asarray(r["x"]), fval=r["fval"], n_fval=r["n_fval"], n_grad=r["n_grad"],
                         x0=np.asarray(r["x0"]), exitflag=r["exitflag"], time=r["time_s"], message=r["message"],
                         optimizer="Fides") for i, r in sorted(records.items())])
    return result


def _refine(pp, result, settings: Settings, store: str, key: str, threads: int, progress):
    """Continue the ``settings.refine`` best starts of ``result`` (sorted) with Fides for up to
    ``settings.refine_iter`` more iterations each, in parallel threads, stored and resumed like
    the starts (``store/refinement_of_start_NNN.json``, NNN the start's number, so a refinement is
    reused whatever the start's rank when the run is resumed). Returns the best of starts and
    refinements (a pyPESTO ``OptimizerResult``), where it comes from ("start N" or "start N
    refined") and a row per refinement."""
    import pypesto.optimize as optimize

    top = result.optimize_result.list[:settings.refine]
    points = np.array([np.asarray(r.x)[pp.x_free_indices] for r in top])
    optimizer = optimize.FidesOptimizer(options={"maxiter": settings.refine_iter}, verbose=0)
    progress(f"calibrate: refining the best {len(top)} start(s) ({', '.join(r.id for r in top)}) "
             f"for up to {settings.refine_iter} more iterations")
    done = _multistart(pp, optimizer, points, store, key, settings.refine_iter, threads, progress, what="refinement",
                       labels=[f"of_start_{int(r.id):03d}" for r in top])
    rows, best, source = [], top[0], f"start {top[0].id}"
    for r in done.optimize_result.list:
        origin = top[int(r.id)]
        rows.append({"from_start": int(origin.id), "fval_start": float(origin.fval), "fval": float(r.fval),
                     "n_grad": int(r.n_grad), "exitflag": str(r.exitflag), "message": str(r.message),
                     "time_s": round(float(r.time), 1)})
        if r.fval < best.fval:
            best, source = r, f"start {origin.id} refined"
    return best, source, rows


MIN_ESS = 100
"""Effective sample size (pyPESTO's estimate, after burn-in) each chain needs before its samples
count as draws from the posterior. Geweke's test alone is not enough: the published run's chains
(20,000 each from the best fit) passed it with effective sample sizes of 14 and 20, having
barely left the optimum (95 % ranges of +-0.01-0.05 decades, the sampler's steps, not the posterior)."""


def mixed(chains: list[dict]) -> bool:
    """Whether sampling chains (``posterior``'s rows) count as draws from the posterior: each
    passed Geweke's test and has an effective sample size of at least ``MIN_ESS``."""
    return bool(chains) and all(c["geweke_converged"] and c["effective_sample_size"] >= MIN_ESS for c in chains)


# the proposal of the sampling chains (pyPESTO's adaptive Metropolis, Haario et al. 2001):
# ``cov0`` = 2.38^2 / d x the Laplace covariance at the fit (:func:`laplace_covariance`), kept as
# the weight of ``AM_THRESHOLD`` samples in a running covariance of the whole chain
# (``decay_constant`` 1: an arithmetic mean, not pyPESTO's default 0.51, which forgets all but the
# last ~sqrt(n) samples); proposals reflected into the bounds. Measured on the published fit
# (1,000-sample pilots): pyPESTO's defaults (identity cov0, decay 0.51, threshold 1) collapse the
# proposal after one step (the first update replaces cov0 by a zero matrix), the chains of the
# first published run stayed within +-0.05 decades of the fit (ESS 14 and 20 of 20,000); the
# Laplace cov0 alone accepted 0.25 % (8 parameters sit at a bound, so each proposal leaves the
# box with probability ~1 - 2^-8); with reflection 9 % and the chain spread to 0.3-0.5 of the
# Laplace widths within 500 samples. The full run with these settings (2 x 20,000) explores
# (acceptance 13-14 %) but its autocorrelation times reach 720 samples: effective sample sizes
# 13.9 and 19.9, not mixed (docs/calibration.md).
AM_DECAY = 1.0
AM_THRESHOLD = 1000
SAMPLER = (f"pyPESTO AdaptiveMetropolisSampler, cov0 = 2.38^2/d x Laplace covariance at the fit, decay_constant "
           f"{AM_DECAY}, threshold_sample {AM_THRESHOLD}, proposals reflected at the bounds")


def laplace_covariance(hessian, lb, ub) -> np.ndarray:
    """The Laplace approximation's covariance at the fit, on the parameters' scales: the inverse of
    the objective's Hessian (Fisher information plus the priors') plus ``12 / (ub - lb)^2`` on the
    diagonal, the precision of a uniform distribution over the bounds, so that a direction the data
    leave flat gets the variance of the box instead of an unbounded one."""
    lb, ub = np.asarray(lb, dtype=float), np.asarray(ub, dtype=float)
    cov = np.linalg.inv(np.asarray(hessian, dtype=float) + np.diag(12.0 / (ub - lb) ** 2))
    return 0.5 * (cov + cov.T)


def reflect(y: np.ndarray, lb: np.ndarray, ub: np.ndarray) -> np.ndarray:
    """``y`` folded back into the box ``[lb, ub]`` by reflection at its faces (as often as needed).
    A Gaussian step followed by reflection is a symmetric proposal (the density of going from x to
    y equals that of y to x), so Metropolis' acceptance rule is unchanged."""
    w = ub - lb
    z = np.mod(y - lb, 2 * w)
    return lb + np.where(z > w, 2 * w - z, z)


def _sampler(cov0: np.ndarray):
    """pyPESTO's adaptive-Metropolis sampler with the options above and reflecting bounds."""
    import pypesto.sample as sample

    class ReflectingAdaptiveMetropolis(sample.AdaptiveMetropolisSampler):
        def initialize(self, problem, x0):
            super().initialize(problem, x0)
            self._bounds = np.asarray(problem.lb, dtype=float), np.asarray(problem.ub, dtype=float)

        def _propose_parameter(self, x):
            return reflect(super()._propose_parameter(x), *self._bounds)

    d = len(cov0)
    return ReflectingAdaptiveMetropolis(options={"cov0": 2.38 ** 2 / d * np.asarray(cov0, dtype=float),
                                                 "decay_constant": AM_DECAY, "threshold_sample": AM_THRESHOLD,
                                                 "show_progress": False})


SEGMENT = 2_000
"""Samples per stored segment of a chain: after each, the chain's trace and the sampler's whole
state (proposal covariance, its running mean and covariance, scale, and numpy's generator) are
written, so a chain interrupted (a session ends) continues where it stopped, sample for sample
as if it had not been interrupted, and a longer ``--samples`` extends a finished chain."""


def _save_chain(sampler, path: str) -> None:
    """Write a chain's trace and its sampler's state to ``path`` (npz), atomically."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    tmp = path + ".tmp.npz"
    np.savez(tmp, x=np.asarray(sampler.trace_x), neglogpost=np.asarray(sampler.trace_neglogpost),
             neglogprior=np.asarray(sampler.trace_neglogprior), cov=sampler._cov, mean_hist=sampler._mean_hist,
             cov_hist=sampler._cov_hist, cov_scale=sampler._cov_scale,
             rng_keys=keys, rng_pos=pos, rng_has_gauss=has_gauss, rng_gauss=gauss)
    os.replace(tmp, path)


def _restore_chain(sampler, data) -> None:
    """Put a stored chain (``_save_chain``'s npz) back into an initialised ``sampler``."""
    sampler.trace_x = list(data["x"])
    sampler.trace_neglogpost = list(data["neglogpost"])
    sampler.trace_neglogprior = list(data["neglogprior"])
    sampler._cov, sampler._mean_hist, sampler._cov_hist = data["cov"], data["mean_hist"], data["cov_hist"]
    sampler._cov_scale = float(data["cov_scale"])
    np.random.set_state(("MT19937", data["rng_keys"], int(data["rng_pos"]), int(data["rng_has_gauss"]),
                         float(data["rng_gauss"])))


def run_chain(problem, x0, cov0, n_samples: int, seed: int, path: str, progress=None) -> None:
    """A chain of :func:`_sampler` on ``problem`` (a pyPESTO problem) from ``x0`` (free
    parameters, scaled) to ``n_samples`` samples, stored in ``path`` after every ``SEGMENT``
    (:func:`_save_chain`: npz with the trace of the free parameters on their scales and of the
    negative log-posterior, and the sampler's state); continued from ``path`` when it holds
    fewer. pyPESTO's samplers draw from ``numpy``'s global generator, seeded here by ``seed``
    (and restored with the chain), so a seed fixes every sample, however often the chain was
    interrupted."""
    sampler = _sampler(np.asarray(cov0))
    x0 = np.asarray(x0, dtype=float)
    sampler.initialize(problem, x0)       # evaluates x0; draws nothing from the generator
    if os.path.exists(path):
        with np.load(path) as data:
            _restore_chain(sampler, data)
    else:
        np.random.seed(seed)
    while len(sampler.trace_x) - 1 < n_samples:
        sampler.sample(min(SEGMENT, n_samples - (len(sampler.trace_x) - 1)))
        _save_chain(sampler, path)
        if progress:
            progress(f"calibrate: {os.path.basename(path)}: {len(sampler.trace_x) - 1} of {n_samples} samples")


def _chain(petab_dir: str, work_dir: str, x0, cov0, n_samples: int, seed: int, path: str) -> None:
    """:func:`run_chain` on the calibration's problem, in its own process (one chain per process,
    so that numpy's global generator is the chain's alone)."""
    import logging

    logging.disable(logging.INFO)
    _, pp = load(petab_dir, work_dir)
    run_chain(pp, x0, cov0, n_samples, seed, path, progress=lambda m: print(m, file=sys.stderr, flush=True))


def posterior(problem, pp, best_x_free, cov0, petab_dir: str, work_dir: str, store: str, *, samples: int,
              chains: int, seed: int, key: str, progress=print) -> dict:
    """Sampling of the posterior (likelihood and the parameter table's priors) from the best fit:
    ``chains`` adaptive-Metropolis chains of ``samples`` each (pyPESTO; proposal from ``cov0``, the
    Laplace covariance at the fit: :func:`_sampler`), run in parallel processes and stored under
    ``store`` in segments (:func:`run_chain`: a stored chain is continued to ``samples``, or its
    first ``samples`` used; all are run afresh when problem, start, seed or sampler change;
    ``chains.json`` records them). Burn-in by pyPESTO's
    Geweke test per chain; the pooled rest gives each parameter's 95 % credible interval on its
    scale, and ``determined``: the interval stays clear of both bounds (by 0.1 on the log10 scale)
    and is narrower than the prior's own 95 % range where the parameter has one, in chains that
    mixed (:func:`mixed`: Geweke passed and an effective sample size of at least ``MIN_ESS``; a
    chain that never passes Geweke contributes its second half; with any chain unmixed nothing is
    called determined and ``mixed`` is False)."""
    import multiprocessing

    import pypesto
    import pypesto.sample as sample

    os.makedirs(store, exist_ok=True)
    meta = {"problem": key, "x0": [round(float(v), 10) for v in best_x_free], "seed": seed, "sampler": SAMPLER}
    paths = [os.path.join(store, f"chain_{k}.npz") for k in range(chains)]
    meta_path = os.path.join(store, "chains.json")
    if os.path.exists(meta_path):
        with open(meta_path, encoding="utf-8") as fh:
            if json.load(fh) != meta:
                for p in paths:
                    if os.path.exists(p):
                        os.remove(p)
    from ..formats.files import atomic_write

    atomic_write(meta_path, json.dumps(meta) + "\n")
    def length(path):
        if not os.path.exists(path):
            return 0
        with np.load(path) as data:
            return len(data["neglogpost"]) - 1

    done = [length(p) for p in paths]
    todo = [k for k, n in enumerate(done) if n < samples]
    t0 = time.perf_counter()
    if todo:
        progress(f"calibrate: sampling, {len(todo)} chain(s) to {samples} in parallel processes (stored every "
                 f"{SEGMENT}: {', '.join(f'chain {k} at {done[k]}' for k in todo)})")
        ctx = multiprocessing.get_context("spawn")
        procs = [ctx.Process(target=_chain, args=(petab_dir, work_dir, list(best_x_free), np.asarray(cov0), samples,
                                                   seed + k, paths[k]))
                 for k in todo]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
        failed = [paths[k] for k, proc in zip(todo, procs) if proc.exitcode != 0 or length(paths[k]) < samples]
        if failed:
            raise CalibrationError(f"sampling chain(s) {', '.join(failed)} failed; rerun il2sbml calibrate "
                                   f"(stored chains continue from their last segment)")
    names = [pp.x_names[i] for i in pp.x_free_indices]
    lb, ub = np.asarray(pp.lb), np.asarray(pp.ub)
    kept, chain_rows = [], []
    for k, path in enumerate(paths):
        with np.load(path) as stored:     # a longer stored chain: its first `samples`, a chain of that length
            data = {field: stored[field][:samples + 1] for field in ("x", "neglogpost")}
        res = pypesto.Result(pp)
        res.sample_result = pypesto.result.McmcPtResult(trace_x=data["x"][None], trace_neglogpost=data["neglogpost"][None],
                                                        trace_neglogprior=np.full((1, len(data["neglogpost"])), np.nan),
                                                        betas=np.array([1.0]))
        n = len(data["neglogpost"])
        burn = int(sample.geweke_test(res, zscore=2.0))
        converged = burn < n - 1
        if not converged:     # Geweke never passes: the second half, and the summary says so
            burn = n // 2
            res.sample_result.burn_in = burn
        ess = float(sample.effective_sample_size(res))
        chain_rows.append({"chain": k, "samples": n, "burn_in": burn, "geweke_converged": converged,
                           "effective_sample_size": round(ess, 1), "min_neglogpost": float(np.min(data["neglogpost"]))})
        kept.append(data["x"][burn:])
    pooled = np.concatenate(kept)
    ok = mixed(chain_rows)
    priors = _prior_ranges(problem.parameter_df, names)
    rows = {}
    for j, name in enumerate(names):
        lo, hi = (float(v) for v in np.percentile(pooled[:, j], [2.5, 97.5]))
        rows[name] = {"lower_scaled": lo, "upper_scaled": hi, "median_scaled": float(np.median(pooled[:, j])),
                      "determined": ok and _determined(lo, hi, lb[j], ub[j], priors.get(name))}
    return {"samples": samples, "sampler": SAMPLER, "chains": chain_rows, "mixed": ok, "min_ess": MIN_ESS,
            "pooled": int(len(pooled)), "seconds": round(time.perf_counter() - t0, 1), "parameters": rows}


def _g(x: float) -> str:
    """A number for a table: 3 significant digits, thousands separated, exponent outside 1e-3-1e6."""
    return f"{float(f'{x:.3g}'):,g}" if 1e-3 <= abs(x) < 1e6 else f"{x:.3g}"


def _parameter_rows(petab_dir: str) -> dict[str, dict]:
    """The PEtab parameter table of ``petab_dir`` as rows (text fields) by parameter id."""
    import csv

    with open(os.path.join(petab_dir, "parameters.tsv"), newline="", encoding="utf-8") as fh:
        return {r["parameterId"]: r for r in csv.DictReader(fh, delimiter="\t")}


def _normal_prior(row) -> tuple[float, float] | None:
    """Mean and sd on the parameter's scale of a parameter-table row's ``parameterScaleNormal``
    prior (a csv row or a pandas row); None without one."""
    if str(row.get("objectivePriorType", "")) != "parameterScaleNormal":
        return None
    mean, sd = str(row["objectivePriorParameters"]).split(";")
    return float(mean), float(sd)


# the observables' parameters, whose reasons in the PEtab table give their units in words
_NUISANCE_UNITS = {"offset": "a.u.", "scale": "a.u./molecule", "sigma": "sd of ln"}


def parameter_table(summary: dict, petab_dir: str) -> str:
    """Markdown table of every estimated parameter of a run (``summary``, for the problem in
    ``petab_dir``): unit (from the parameter table's reason, ``[unit]`` at its end), bounds, best
    fit ("(bound)" within 5 % of one), the profile likelihood's 95 % interval (where the run has
    profiles; "(bound)" at an end the profile did not cross), the posterior's 95 % range (where the
    run sampled; headed "not an interval" when the chains did not mix), the Wald 95 % interval at
    the fit, whether the data determine the parameter by the interval the fit file takes
    (:func:`fit_from_run`: the profile's, else the posterior's when the chains mixed, else the
    Wald one), and the prior (log10 mean and sd). The published one is in ``docs/calibration.md``."""
    import re

    table = _parameter_rows(petab_dir)
    prof, post = summary.get("profiles"), summary.get("posterior")
    wald = summary.get("fisher", {}).get("parameters", {})
    mixed_ = bool(post) and mixed(post["chains"])
    judge, by_name, by = ((prof["parameters"], "profile", "the profile likelihoods' 95 % intervals") if prof else
                          (post["parameters"], "posterior", "the posterior's 95 % credible intervals") if mixed_ else
                          (wald, "Wald", "the Wald intervals at the fit (the posterior sampling did not mix)" if post
                           else "the Wald intervals at the fit (no profiles, no posterior sampling)") if wald else
                          ({}, "–", "nothing (no profiles, no sampling, no Fisher analysis)"))
    heads = ["parameter", "unit", "bounds", "best fit"]
    if prof:
        heads.append("profile 95 %")
    if post:
        heads.append("posterior 95 %" if mixed_ else "sampled 95 % range (chains not mixed: not an interval)")
    heads += ["Wald 95 % (local)", f"determined ({by_name})", "prior (log10)"]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]

    def span(scale, r):
        return f"{_g(_linear(scale, r['lower_scaled']))}-{_g(_linear(scale, r['upper_scaled']))}"

    def profiled(scale, r):     # an end the profile did not cross is the bound it reached
        lo = _g(_linear(scale, r["lower_scaled"])) + ("" if r["lower_closed"] else " (bound)")
        hi = _g(_linear(scale, r["upper_scaled"])) + ("" if r["upper_closed"] else " (bound)")
        return f"{lo}-{hi}"

    def clipped(w, scale):     # how far a Wald interval clipped to the bounds (by fisher()) reached
        reach = 1.96 * w["sd_scaled"]
        if w["lower_scaled"] <= w["value_scaled"] - reach and w["value_scaled"] + reach <= w["upper_scaled"]:
            return ""
        return f" (clipped: ±{_g(reach)} {'decades' if scale == 'log10' else 'on its scale'})"

    for name, value in summary["best"]["parameters"].items():
        row = table[name]
        scale = row["parameterScale"]
        lo, hi = float(row["lowerBound"]), float(row["upperBound"])
        unit = re.search(r"\[([^\]]+)\]\s*$", row.get("reason", "") or "")
        unit = unit.group(1) if unit else _NUISANCE_UNITS.get(name.split("_")[0], "–")
        at = " (bound)" if min(abs(value / lo - 1), abs(value / hi - 1)) < 0.05 else ""
        w = wald.get(name)
        prior = _normal_prior(row)
        cells = [f"`{name}`", unit, f"{_g(lo)}-{_g(hi)}", _g(value) + at]
        if prof:
            cells.append(profiled(scale, prof["parameters"][name]))
        if post:
            cells.append(span(scale, post["parameters"][name]))
        cells += ["–" if w is None else "at a bound" if w["at_bound"] else span(scale, w) + clipped(w, scale),
                  "**yes**" if judge.get(name, {}).get("determined") else "no",
                  f"{prior[0]:.2f} ± {prior[1]:.2f}" if prior else "–"]
        lines.append("| " + " | ".join(cells) + " |")
    determined = sum(bool(r.get("determined")) for r in judge.values())
    return "\n".join(lines) + f"\n\n{determined} of {len(lines) - 2} determined, by {by}\n"


def _determined(lo: float, hi: float, lb: float, ub: float, prior_width: float | None) -> bool:
    """An interval (on the parameter's scale) that stays clear of both bounds by 0.1 and is
    narrower than the prior's 95 % range where the parameter has a prior."""
    return bool(lo > lb + 0.1 and hi < ub - 0.1 and (prior_width is None or hi - lo < prior_width))


def hessian(pp, x_free) -> np.ndarray:
    """The objective's Hessian at ``x_free`` (free parameters, on their scales): AMICI's Fisher
    information of the likelihood (forward sensitivities) plus the priors' Hessian, symmetrised."""
    _, _, hess = pp.objective(np.asarray(x_free, dtype=float), sensi_orders=(0, 1, 2))
    return 0.5 * (hess + hess.T)


def fisher(problem, pp, x_free, hess) -> dict:
    """Wald 95 % intervals at the fit ``x_free`` (free parameters, on their scales) from ``hess``,
    the objective's Hessian there (:func:`hessian`); its pseudo-inverse is
    the asymptotic covariance.
    Per parameter: ``sd_scaled``, the interval ``x -+ 1.96 sd`` clipped to the bounds,
    ``at_bound`` (within 0.05 of a bound on its scale, where a Wald interval does not apply:
    no interval) and ``determined`` (the unclipped interval clear of both bounds by 0.1 and
    narrower than the prior's 95 % range). A local, linearised statement: the posterior
    sampling, where its chains mix, supersedes it."""
    t0 = time.perf_counter()
    x = np.asarray(x_free, dtype=float)
    eig = np.linalg.eigvalsh(hess)
    sd = np.sqrt(np.clip(np.diag(np.linalg.pinv(hess, rcond=1e-12, hermitian=True)), 0.0, None))
    names = [pp.x_names[i] for i in pp.x_free_indices]
    lb, ub = np.asarray(pp.lb, dtype=float), np.asarray(pp.ub, dtype=float)
    priors = _prior_ranges(problem.parameter_df, names)
    rows = {}
    for j, name in enumerate(names):
        lo, hi = x[j] - 1.96 * sd[j], x[j] + 1.96 * sd[j]
        at_bound = bool(x[j] < lb[j] + 0.05 or x[j] > ub[j] - 0.05)
        rows[name] = {"value_scaled": float(x[j]), "sd_scaled": float(sd[j]), "at_bound": at_bound,
                      "lower_scaled": float(max(lo, lb[j])), "upper_scaled": float(min(hi, ub[j])),
                      "determined": not at_bound and _determined(lo, hi, lb[j], ub[j], priors.get(name))}
    return {"eigenvalues": [float(v) for v in eig],
            "flat_directions": int(np.sum(eig < 1e-6 * eig.max())), "parameters": rows,
            "seconds": round(time.perf_counter() - t0, 1)}


def _prior_ranges(table, names) -> dict[str, float]:
    """Width of the 95 % range of each parameter's prior on its scale (PEtab's
    ``parameterScaleNormal``: 2 x 1.96 sd), for the parameters of ``table`` (PEtab's parameter
    table) that have one."""
    out = {}
    for name in names:
        prior = _normal_prior(table.loc[name])
        if prior:
            out[name] = 2 * 1.96 * prior[1]
    return out


def _waterfall(result, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pypesto.visualize as vis

    ax = vis.waterfall(result)
    ax.set_title("multistart optimisation: final objective of every start (sorted)")
    ax.figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(ax.figure)


# the profiles of the full run (pyPESTO's parameter_profile, one parameter at a time, from the
# best fit): Fides stops a profile step's re-optimisation when one iteration changes the
# objective by less than PROFILE_FATOL (a profile is read against a threshold of 1.92, so 0.01 is
# far below what matters; Fides' default of ~1e-8 relative made a single step of the sloppy
# problem run its whole budget, 150 iterations at ~8 s), or after PROFILE_MAXITER iterations;
# each side stops past a likelihood ratio of 0.1 (Delta objective 2.30, beyond the 95 % threshold
# of 1.92) or at the bound. Step sizes, measured on the published fit (two profiles at a time,
# 2026-12-07): with pyPESTO's defaults (first step 0.02, ratio drop per step <= 0.1, steps <= 0.2)
# the profile of k_jak_inact took 31 points (252 gradients, 26 min), 9 of them within 0.06 decade
# of the fit, and sigma of 03-19 16 points (8.4 min); a first step of 0.1, a ratio drop of up to
# 0.3 per step (the crossing of 1.92 is interpolated between points) and steps up to 0.5 decade
# (0.2 needs 25 steps to cross a flat profile of 5 decades) cut the points, the cost of a profile.
PROFILE_FATOL = 0.01
PROFILE_MAXITER = 30
PROFILE_OPTIONS = {"ratio_min": 0.1, "default_step_size_absolute": 0.1, "delta_ratio_max": 0.3,
                   "max_step_size_absolute": 0.5}
PROFILE_SETTINGS = {"fatol": PROFILE_FATOL, "maxiter": PROFILE_MAXITER, "options": PROFILE_OPTIONS}
"""What a stored profile records of how it was computed; a stored one with other settings is recomputed."""
PROFILE_THRESHOLD = 1.920729410347062
"""Half the 95 % quantile of chi-square with one degree of freedom: a parameter's 95 % profile
interval is where the profile stays within this of the best objective."""


def profile_parameters(pp, x_best, f_best: float, store: str, key: str, threads: int, progress) -> dict:
    """Profile likelihood of every free parameter of ``pp`` from the best fit ``x_best`` (free
    parameters, on their scales; objective ``f_best``) with pyPESTO's ``parameter_profile`` and
    Fides (the settings above), one parameter per task on ``threads`` threads, each profile
    stored in ``store/profile_NAME.json`` as soon as it ends and reused when it was computed on
    the same problem (``key``), from the same point and with the same settings, so that the run,
    hours long, continues across sessions. A profile's two halves (pyPESTO's descending and
    ascending tasks) are checkpointed point by point (:class:`_ResumableEngine`), so a profile
    longer than a session resumes where its walk stopped. Returns the records by parameter name,
    in the problem's order (:func:`profile_interval` reads them)."""
    import copy
    import threading

    import pypesto
    import pypesto.optimize as optimize
    import pypesto.profile as profile
    from pypesto.result import OptimizerResult

    from ..formats.files import atomic_write

    os.makedirs(store, exist_ok=True)
    names = [pp.x_names[i] for i in pp.x_free_indices]
    x_best = [float(v) for v in x_best]
    records: dict[str, dict] = {}

    def stamp(name):      # what a stored profile (or half of one) must match to be reused
        return {"problem": key, "x_best": x_best, "settings": PROFILE_SETTINGS, "name": name}

    for name in names:
        path = os.path.join(store, f"profile_{name}.json")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                rec = json.load(fh)
            if {k: rec.get(k) for k in stamp(name)} == stamp(name):
                records[name] = rec
    progress(f"calibrate: profiles: {len(records)} of {len(names)} already in {store}, reused")
    lock = threading.Lock()

    def setup():
        return copy.deepcopy(pp), optimize.FidesOptimizer(
            options={"maxiter": PROFILE_MAXITER, "fatol": PROFILE_FATOL, "frtol": 0.0}, verbose=0)

    def run(state, name):
        local, opt = state
        idx = local.x_free_indices[names.index(name)]
        start = pypesto.Result(local)
        start.optimize_result.append(OptimizerResult(id="best", x=local.get_full_vector(np.asarray(x_best)),
                                                     fval=f_best))
        engine = _ResumableEngine(os.path.join(store, f"partial_{name}"), stamp(name))
        done = profile.parameter_profile(local, start, opt, engine=engine, profile_index=[idx], progress_bar=False,
                                         profile_options=profile.ProfileOptions(**PROFILE_OPTIONS))
        prof = done.profile_result.list[0][idx]
        order = np.argsort(prof.x_path[idx], kind="stable")
        rec = {**stamp(name), "f_best": float(f_best),
               "x": [float(v) for v in prof.x_path[idx][order]],
               "fval": [float(v) for v in prof.fval_path[order]],
               "x_path": [[float(v) for v in row] for row in np.asarray(prof.x_path)[local.x_free_indices][:, order]],
               "n_fval": int(prof.n_fval), "n_grad": int(prof.n_grad), "time_s": round(engine.thread_s, 1)}
        atomic_write(os.path.join(store, f"profile_{name}.json"), json.dumps(rec) + "\n")
        engine.discard()
        with lock:
            records[name] = rec
            row = profile_interval(rec, local.lb_full[idx], local.ub_full[idx])
            progress(f"calibrate: profile of {name}: 95 % {row['lower_scaled']:.3g} to {row['upper_scaled']:.3g} "
                     f"({'closed' if row['identifiable'] else 'open'}), {len(rec['x'])} points, "
                     f"{rec['n_grad']} gradients, {rec['time_s']:.0f} s; {len(records)}/{len(names)} done")

    _in_threads([n for n in names if n not in records], threads, setup, run)
    return {name: records[name] for name in names}


_HALF_PATHS = ("x_path", "fval_path", "ratio_path", "gradnorm_path", "exitflag_path", "time_path", "color_path")
_HALF_COUNTS = ("time_total", "n_fval", "n_grad", "n_hess")
"""What :class:`_ResumableEngine` keeps of a pyPESTO ``ProfilerResult`` (its arrays, its totals)."""


class _ResumableEngine:
    """A pyPESTO engine for one parameter's profile tasks (its descending and ascending halves,
    run one after the other as pyPESTO's SingleCoreEngine runs them) that keeps each half in
    ``prefix_down.json`` / ``prefix_up.json``: rewritten before every re-optimisation, so it holds
    every point the walk has reached, and marked complete when the half ends. A half found there
    with the same ``stamp`` (problem, fit, settings, parameter) is taken as it is when complete and
    otherwise continued from its last point: pyPESTO's task walks on from the last point of the
    profile it is given, so a resumed half computes the points an uninterrupted one would. Its
    thread time (``thread_s``, s) and pyPESTO's counts carry over."""

    def __init__(self, prefix: str, stamp: dict):
        self.prefix, self.stamp, self.thread_s = prefix, stamp, 0.0

    def _path(self, direction: int) -> str:
        return f"{self.prefix}_{'down' if direction < 0 else 'up'}.json"

    def _stored(self, direction: int):
        path = self._path(direction)
        if not os.path.exists(path):
            return None
        with open(path, encoding="utf-8") as fh:
            rec = json.load(fh)
        return rec if rec["stamp"] == self.stamp else None

    def _save(self, direction: int, prof, thread_s: float, complete: bool) -> None:
        from ..formats.files import atomic_write

        rec = {"stamp": self.stamp, "complete": complete, "thread_s": round(thread_s, 1),
               **{k: np.asarray(prof[k]).tolist() for k in _HALF_PATHS}, **{k: prof[k] for k in _HALF_COUNTS}}
        atomic_write(self._path(direction), json.dumps(rec) + "\n")

    @staticmethod
    def _profile(rec: dict):
        from pypesto.result import ProfilerResult

        return ProfilerResult(**{k: np.asarray(rec[k], dtype=float) for k in _HALF_PATHS},
                              **{k: rec[k] for k in _HALF_COUNTS})

    def execute(self, tasks, progress_bar=None) -> list:
        out = []
        for task in tasks:
            direction, rec = task.par_direction, self._stored(task.par_direction)
            before = rec["thread_s"] if rec else 0.0
            if rec and rec["complete"]:
                self.thread_s += before
                out.append({"profile": self._profile(rec), "index": task.i_par, "par_direction": direction})
                continue
            if rec:     # the task flips the profile it is given before walking: hand it over flipped
                task.current_profile = self._profile(rec)
                task.current_profile.flip_profile()
            t0, inner, engine = time.perf_counter(), task.optimizer, self

            class Checkpointing:     # saves the half walked so far before each of the walk's optimisations
                def minimize(self, *args, **kwargs):
                    engine._save(direction, task.current_profile, before + time.perf_counter() - t0, False)
                    return inner.minimize(*args, **kwargs)

            task.optimizer = Checkpointing()
            done = task.execute()
            spent = before + time.perf_counter() - t0
            self._save(direction, done["profile"], spent, True)
            self.thread_s += spent
            out.append(done)
        return out

    def discard(self) -> None:
        """Remove the halves once the whole profile is stored."""
        for direction in (-1, 1):
            if os.path.exists(self._path(direction)):
                os.remove(self._path(direction))


def profile_interval(rec: dict, lb: float, ub: float) -> dict:
    """The 95 % interval of a stored profile (:func:`profile_parameters`'s record; on the
    parameter's scale): from the outermost points within ``PROFILE_THRESHOLD`` of the best
    objective on each side, each end interpolated linearly to the next point out, which lies
    above it; an end with no point beyond is the last point the profile reached (the bound, or
    where its walk stopped). Outermost, not first crossing: a profile step's re-optimisation stops
    early (``PROFILE_FATOL``, ``PROFILE_MAXITER``), so each point is an upper bound of the true
    profile and a point above the threshold between two below it is the optimiser's shortfall, not
    the edge of the interval (k_jak_act's published profile has such points). ``identifiable``:
    closed on both sides; ``below_fit``: the profile found an objective lower than the fit's by
    more than 0.01 (then the fit is not the optimum)."""
    x, d = np.asarray(rec["x"], dtype=float), np.asarray(rec["fval"], dtype=float) - rec["f_best"]
    inside = np.flatnonzero(d <= PROFILE_THRESHOLD)
    ends, closed = [], []
    for i, j in ((inside[0], inside[0] - 1), (inside[-1], inside[-1] + 1)):
        if 0 <= j < len(x):      # between i (inside) and j (outside)
            t = (PROFILE_THRESHOLD - d[i]) / (d[j] - d[i])
            ends.append(float(x[i] + t * (x[j] - x[i])))
            closed.append(True)
        else:
            ends.append(float(x[i]))
            closed.append(False)
    return {"lower_scaled": ends[0], "upper_scaled": ends[1], "identifiable": all(closed),
            "lower_closed": closed[0], "upper_closed": closed[1],
            "below_fit": bool(d.min() < -0.01), "at_lb": bool(x[0] <= lb + 1e-9), "at_ub": bool(x[-1] >= ub - 1e-9)}


def profile_rows(problem, pp, records: dict) -> dict:
    """The profiles' summary: per parameter its 95 % interval (:func:`profile_interval`, on its
    scale), ``value_scaled`` (the fit) and ``determined`` (closed on both sides, and, like the Wald
    and posterior intervals, clear of both bounds by 0.1 and narrower than the prior's 95 % range);
    with the settings and the total cost."""
    names = [pp.x_names[i] for i in pp.x_free_indices]
    priors = _prior_ranges(problem.parameter_df, names)
    rows = {}
    for j, name in enumerate(names):
        idx = pp.x_free_indices[j]
        lb, ub = float(pp.lb_full[idx]), float(pp.ub_full[idx])
        rec = records[name]
        row = profile_interval(rec, lb, ub)
        row["value_scaled"] = float(rec["x_best"][j])
        row["determined"] = row["identifiable"] and _determined(row["lower_scaled"], row["upper_scaled"], lb, ub,
                                                                priors.get(name))
        rows[name] = row
    return {"method": "profile likelihood (pyPESTO parameter_profile, Fides), 95 % by the chi-square threshold "
                      f"{PROFILE_THRESHOLD:.2f}", "settings": PROFILE_SETTINGS,
            "n_grad": sum(r["n_grad"] for r in records.values()),
            "thread_s": round(sum(r["time_s"] for r in records.values()), 1), "parameters": rows}


def _profile_figure(records: dict, pp, path: str) -> None:
    """pyPESTO's profile plot of the stored profiles (likelihood ratio against each parameter)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pypesto
    import pypesto.visualize as vis
    from pypesto.result import ProfilerResult

    result = pypesto.Result(pp)
    result.profile_result.append_empty_profile_list()
    names = [pp.x_names[i] for i in pp.x_free_indices]
    for i in range(len(pp.x_names)):
        rec = records.get(pp.x_names[i]) if i in pp.x_free_indices else None
        if rec is None:
            result.profile_result.append_profiler_result(None)
            continue
        full = np.tile(np.asarray(pp.get_full_vector(np.asarray(rec["x_best"])), dtype=float)[:, None], len(rec["x"]))
        full[pp.x_free_indices, :] = np.asarray(rec["x_path"], dtype=float)
        fval = np.asarray(rec["fval"], dtype=float)
        result.profile_result.append_profiler_result(
            ProfilerResult(x_path=full, fval_path=fval, ratio_path=np.exp(rec["f_best"] - fval)))
    axes = vis.profiles(result, profile_indices=[pp.x_free_indices[names.index(n)] for n in records],
                        x_labels=list(records), size=(24, 3 * ((len(records) + 5) // 6)))
    fig = np.ravel(axes)[0].figure
    fig.savefig(path, dpi=70, bbox_inches="tight")
    plt.close(fig)


FIT_FILE = "model_src/il2_fit.json"
"""The calibration's result as the model reads it: every estimated value with its interval."""


def write_fit(values: dict[str, float], *, objective: float, label: str, problem: str,
              intervals: dict[str, tuple[float, float]] | None = None, ci_method: str = "",
              path: str = FIT_FILE) -> None:
    """Write the estimated values (linear scale, the PEtab table's units) for ``model_src/il2.py``.

    ``intervals``: 95 % confidence intervals by parameter id (linear scale); ``label`` says which
    run this is (``docs/calibration.md`` has the details under the same words).
    """
    from ..formats.files import atomic_write

    intervals = intervals or {}
    record = {"label": label, "objective": round(float(objective), 4), "petab_problem": problem,
              "ci_method": ci_method,
              "parameters": {name: {"value": float(f"{v:.6g}"),
                                    "ci95": [float(f"{a:.4g}"), float(f"{b:.4g}")] if name in intervals else None}
                             for name, v in sorted(values.items())
                             for a, b in [intervals.get(name, (0.0, 0.0))]}}
    atomic_write(path, json.dumps(record, indent=1) + "\n")


def fit_from_run(out: str = "build/calibration", petab_dir: str = "build/petab", path: str = FIT_FILE) -> dict:
    """Write ``path`` (:func:`write_fit`) from a finished run's ``out/summary.json``: the best
    start's values and, per parameter, a 95 % interval (converted to linear scale with the PEtab
    parameter table's scales), the first of: the profile likelihood's (:func:`profile_interval`;
    the full run's); the posterior sampling's, if its chains mixed (:func:`mixed`); the Wald
    interval of the run's Fisher analysis (:func:`fisher`; none for a parameter at a bound).
    ``ci_method`` says which and why. Refused, by name, when the summary is missing, has none of
    the three, or belongs to another PEtab problem than ``petab_dir``'s. Returns the record
    written."""
    summary_path = os.path.join(out, "summary.json")
    if not os.path.exists(summary_path):
        raise CalibrationError(f"{summary_path} not found: run il2sbml calibrate --out {out} to the end first")
    with open(summary_path, encoding="utf-8") as fh:
        summary = json.load(fh)
    prof, post, wald = summary.get("profiles"), summary.get("posterior"), summary.get("fisher")
    if not (prof or post or wald):
        raise CalibrationError(f"{summary_path}: the run has no profiles, no posterior sampling and no Fisher "
                               f"analysis, so no interval for any parameter; rerun il2sbml calibrate --out {out} "
                               f"with --profiles (the full run's)")
    if summary["problem"]["hash"] != problem_hash(petab_dir):
        raise CalibrationError(f"{summary_path}: the run fitted PEtab problem {summary['problem']['hash']}, "
                               f"{petab_dir} is {problem_hash(petab_dir)}; write the fit from a run of this problem")
    scales = {n: r["parameterScale"] for n, r in _parameter_rows(petab_dir).items()}

    def intervals_of(rows):    # linear units; none for a parameter at a bound (the Fisher analysis marks them)
        return {n: (_linear(scales[n], r["lower_scaled"]), _linear(scales[n], r["upper_scaled"]))
                for n, r in rows.items() if not r.get("at_bound")}

    values = summary["best"]["parameters"]
    chains = post["chains"] if post else []
    ess = ", ".join(f"{c['effective_sample_size']:g}" for c in chains)
    sampler = (post or {}).get("sampler", "pyPESTO adaptive Metropolis")     # runs before the sampler was recorded
    if prof:
        intervals = intervals_of(prof["parameters"])
        n_closed = sum(r["identifiable"] for r in prof["parameters"].values())
        ci_method = (f"profile likelihood 95 % interval ({prof['method']}): where the profile of the negative "
                     f"log-likelihood plus priors stays within {PROFILE_THRESHOLD:.2f} of the best objective; "
                     f"{n_closed} of {len(prof['parameters'])} closed on both sides, the others reach a bound "
                     f"(the data do not bound them there)")
    elif chains and mixed(chains):
        intervals = intervals_of(post["parameters"])
        ci_method = (f"posterior 95 % credible interval: {sampler}; {len(chains)} chains of "
                     f"{post['samples']} from the best fit, Geweke burn-in passed, effective sample sizes {ess}")
    else:    # an unmixed chain's range is its steps, not the posterior: never written as an interval
        unmixed = (f"the posterior sampling ({sampler}; {len(chains)} chains of "
                   f"{post['samples']}) did not mix (Geweke "
                   f"{'passed' if all(c['geweke_converged'] for c in chains) else 'NOT passed by every chain'}; "
                   f"effective sample sizes {ess}, below {MIN_ESS}), so its ranges are not intervals"
                   if post else "no profiles and no posterior sampling")
        if wald:
            intervals = intervals_of(wald["parameters"])
            ci_method = (f"Wald 95 % interval from the Fisher information at the fit (AMICI forward sensitivities, "
                         f"with the priors), clipped to the bounds, none for a parameter at a bound; {unmixed}")
        else:
            intervals, ci_method = {}, f"none: {unmixed}"
    st = summary["settings"]
    label = f"best of {len(summary['starts'])} Fides starts of at most {st['max_iter']} iterations, seed {st['seed']}"
    if summary.get("refine"):
        label += (f"; the best {len(summary['refine'])} continued for up to {st['refine_iter']} more iterations; "
                  f"best: {summary['best']['source']}")
    write_fit(values, objective=summary["best"]["fval"], problem=petab_dir, intervals=intervals, path=path,
              label=label, ci_method=ci_method)
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)
