"""Benchmark our SSA kernels against libRoadRunner, COPASI and GillesPy2 on the same SBML files.

Every tool reads the same SBML file (written once per run of this script into a temporary
folder, or taken from the repository) and simulates it in this one process:

* ``ours``: ``il2sbml.formats.sbmlread.read_sbml`` + ``il2sbml.simulate.compile.compile_network(...,
  round_initial=True)`` (general kinetic laws become one cached Numba law), then
  ``kernels.run_ensemble(arrays, t, runs, seed, method="auto", n_threads=1)``;
* ``RR``: libRoadRunner, ``RoadRunner(path)``, integrator ``gillespie`` (fixed output grid:
  ``variable_step_size = False``), seeded once, then ``reset(); simulate(0, T, P)`` per run;
* ``COPASI``: python-copasi, ``importSBML``, Time-Course task with the stochastic *direct
  method* (``Method_directMethod``, ``Max Internal Steps`` 10^9), ``process(True)`` per run
  with the random seed set to seed + run (its Scan task's repeat costs the same per run);
* ``GP2``: GillesPy2's ``SSACSolver`` (C++): ``import_SBML(path)``, the solver built once
  (the C++ compile counts as its load time, not as ensemble time), then
  ``model.run(solver=..., number_of_trajectories=runs, seed=...)``. GillesPy2 1.8.3 cannot
  read numbers that carry units (``<cn sbml:units=...>``, as il2sbml writes them: it prints
  them as ``1 dimensionless`` and fails to parse that). The failure is recorded and the
  import retried with its formula printer told to leave units out (``GP2*``: same file,
  same laws). A model it still cannot run (``SSACSolver`` refuses assignment rules) is
  recorded with the reason, never dropped.

Models (``--models``; T and runs per model in ``MODELS``): ``dsmts_00001`` (birth-death)
and ``dsmts_00030`` (dimerisation) of the DSMTS suite, T = 50 as in the suite; ``receptor``
(IL-2 receptor assembly, ``benchmarks/models/receptor.py``: 17 species, 54 reactions) and
its disjoint replicas ``receptor_x4``, ``receptor_x16`` (864 reactions) and ``receptor_x20``
(1,080: the >= 1,000-reaction network with the same local structure); ``scaffold_5`` (from
``benchmarks/netgen.py``: 248 species, 1,620 reactions, a scaffold whose five docking
partners each take part in 81 reactions, so most events update many propensities);
``il2_Treg`` (``build/il2_Treg.xml``: 159 species, 746 reactions; its constants are partly
assignment rules of constants, which our reader folds into mass-action constants, so only its
homodimerisations, x*x on amounts under SBML's stochastic semantics, become a general law).

Per model every tool simulates the same ensemble: the same T, P = 51 output times, the same
number of runs, from t = 0. After an untimed warm-up run (ours: JIT or cache load; RR and
COPASI: one run over T/10^6, timed as ``set-up s/run``), ``--repeats`` ensembles (default
3, seeds differ) are timed, the tools interleaved in alternating order so that all see the
same machine load; a peer ensemble longer than 12 s is not repeated. Medians:

* ``wall s``: ensemble wall time (``time.perf_counter``);
* ``ev/s/core``: reaction events per CPU second: this thread's CPU time
  (``time.thread_time``) plus that of waited-for child processes (GP2's solver is one);
  ours run with ``n_threads=1`` and the peers are single-threaded, so this is one core;
* events: our kernels count them (``EnsembleResult.n_events``); the peers do not, so theirs
  are *estimated* (``~``) as our mean events per run (over our timed runs plus single runs
  for up to 5 s, which also give the spread per run) times their runs: exact SSAs share the
  event-count distribution. ``±N%`` after a peer's rate is the error of that estimate from
  the spread of the event count per run (large for IL-2, whose runs differ by +-30%).
  ``ev chk`` cross-checks the estimate where a peer can output every event (libRoadRunner
  with ``variable_step_size = True``: one row per event; COPASI with automatic step size:
  one step per event): the peer's mean count over a few runs / ours over 4x as many, on a
  span chosen for ~20,000 events per run, ± its standard error;
* ``x(T)``: mean count at T of the species with the most molecules at t = 0, a check that
  all tools run the same model (``!``: more than 6 standard errors from ours);
* ``load s``: reading the file until the first run can start (ours: read + compile, laws
  compiled or loaded from their cache; RR: LLVM compile; COPASI: import; GP2: import + C++
  build). ``set-up s/run``: a peer's fixed cost per run (COPASI's grows with the network:
  ~1 s per run at 750-900 reactions), included in its ensemble time; the summary also gives
  the ratio with it taken out.

``ours/peer`` is the ratio of ev/s/core. The issue's targets are checked at the end: per
core >= 4x COPASI and >= 10x libRoadRunner on every model with >= 50 reactions; our cost per
event at 1,080 reactions (``receptor_x20``) <= 2x that at 54 (``receptor``); 2 threads >= 1.8x
one thread (``il2_Treg``, ``receptor_x16``: wall time of ``THREAD_RUNS`` = 64 runs, best of
the repeats, method "direct", with ``ssa_kernels.thread_scaling``; meaningful only on an idle
machine; with 8 runs, as before 2026-11-27, the longest of IL-2's runs, which differ by
+-30 %, bounded the two-thread time once the kernels got faster); cached
start-up <= 0.5 s.

Start-up (``--no-startup`` skips it), for dsmts_00030 (one law), receptor (mass action) and
il2_Treg (mostly mass action, one generated law) where selected: two fresh subprocesses sharing a fresh
``NUMBA_CACHE_DIR`` and law cache (``IL2SBML_CACHE``), ``cold`` (empty caches) then
``cached``; each reports ``import s`` (numpy, kernels, il2sbml reader and compiler),
``load s`` (read_sbml + compile_network: laws compiled or loaded), ``first call s`` (the
first ``run_ensemble``: JIT compile or cache load, plus one run over T/1000) and ``total s``
(interpreter start to first result, measured by the parent).

Usage::

    python benchmarks/ssa.py [--quick] [--json OUT] [--runs N] [--repeats R] [--models a,b]
                             [--no-peers | --peers rr,copasi,gp2] [--no-startup] [--no-threads]

The full run takes ~10 minutes on 2 cores (peer loads and GillesPy2's C++ builds are a
third of it). ``--quick`` (< 1 minute): dsmts_00001, receptor and receptor_x4 with a quarter
of the events (runs, or T below 8 runs), one repeat, and only the cached start-up of
receptor, on the caches the run itself just filled. Results and interpretation:
``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import locale
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "models"))
from ssa_kernels import thread_scaling  # noqa: E402  (1 vs 2 threads, as for random networks)
# GillesPy2's C++ solver finds SCons on PATH (DESIGN.md: pitfalls)
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")

SUITE = Path(os.environ.get("IL2SBML_SUITE") or ROOT.parent / "shared" / "suite")   # as the tests find it
PEERS = ("rr", "copasi", "gp2")
LABEL = {"ours": "ours", "rr": "RR", "copasi": "COPASI", "gp2": "GP2"}
POINTS = 51                 # output times 0, T/50, ..., T for every tool
SEED = 20240611
CHECK_SIGMA = 6.0           # x(T) flagged beyond this many standard errors from ours,
CHECK_MIN_RUNS = 6          # when both tools have at least this many runs
CHECK_EVENTS = 20_000       # per-event cross-check: events per run at most,
CHECK_TOTAL = 150_000       # and about this many events over all its runs
EST_BUDGET_S = 5.0          # seconds of single runs of ours for the events-per-run estimate
CHECK_BUDGET_S = 10.0       # and its runs at most this much of a peer's per-run set-up
PEER_NO_REPEAT_S = 12.0     # an ensemble longer than this is not repeated (median of 1)

# name: (source, T, runs): about 0.3-3 M events per ensemble, so that the slowest peer takes
# ~5-15 s per ensemble on the 2-vCPU benchmark VM (ours 0.1-1 s). --quick divides the runs
# (or, below 8 runs, T) by 4.
MODELS = {
    "dsmts_00001": ("dsmts:00001", 50.0, 4000),
    "dsmts_00030": ("dsmts:00030", 50.0, 20000),
    "receptor": ("receptor:1", 1000.0, 4),
    "receptor_x4": ("receptor:4", 250.0, 4),
    "receptor_x16": ("receptor:16", 25.0, 2),
    "receptor_x20": ("receptor:20", 20.0, 2),
    "scaffold_5": ("scaffold:5", 10.0, 2),
    "il2_Treg": ("file:build/il2_Treg.xml", 300.0, 4),
}
QUICK_MODELS = ("dsmts_00001", "receptor", "receptor_x4")
THREAD_MODELS = ("il2_Treg", "receptor_x16")
THREAD_RUNS = 64    # runs per ensemble in the 1- vs 2-thread comparison (--quick: 8)
STARTUP_MODELS = ("dsmts_00030", "receptor", "il2_Treg")   # a law, mass action, the IL-2 model
TARGET_RATIO = {"copasi": 4.0, "rr": 10.0}
TARGET_MIN_REACTIONS = 50
TARGET_SCALING = ("receptor", "receptor_x20", 2.0)   # cost/event at x20 <= 2x at x1
TARGET_THREADS = 1.8
TARGET_STARTUP_S = 0.5


# --------------------------------------------------------------------------- models

def write_model(name: str, folder: Path) -> Path:
    """The SBML file every tool reads for ``name`` (written into ``folder`` or taken as is)."""
    source = MODELS[name][0]
    kind, _, arg = source.partition(":")
    if kind == "dsmts":
        return SUITE / "stochastic" / arg / f"{arg}-sbml-l3v1.xml"
    if kind == "file":
        return ROOT / arg
    import il2sbml
    from il2sbml.formats.sbml import write_sbml
    if kind == "receptor":
        from receptor import receptor_model
        model = receptor_model(int(arg))
    elif kind == "scaffold":
        from netgen import scaffold_model
        model = scaffold_model(int(arg))
    else:
        raise SystemExit(f"unknown model source {source!r}")
    path = folder / f"{name}.xml"
    path.write_text(write_sbml(il2sbml.generate_network(model)), encoding="utf-8")
    return path


def cpu_clock() -> float:
    """CPU seconds of this thread plus all waited-for child processes (GP2's solver)."""
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.thread_time() + ch.ru_utime + ch.ru_stime


# --------------------------------------------------------------------------- tools
# Each tool: load(path, T, species_id) (timed as "load"; RR and COPASI also time one run over
# T/10^6 as setup_s); run(runs, seed) -> (events, or None where the tool does not count them,
# list of x(T) of the checked species); RR and COPASI: event_counts(span, runs, seed,
# expected) -> events of each run, from their per-event output.

class Ours:
    name = "ours"

    def load(self, path, t_end, sid):
        import kernels
        from il2sbml.simulate.compile import compile_network
        from il2sbml.formats.sbmlread import read_sbml
        self.kernels = kernels
        net = read_sbml(str(path))
        self.arrays = compile_network(net, round_initial=True)
        self.t = np.linspace(0.0, t_end, POINTS)
        # the checked species: the one with the most molecules at t = 0
        self.sidx = int(np.argmax(self.arrays.x0))
        self.sid = net.species[self.sidx].sbml_id
        self.n_reactions, self.n_species = self.arrays.n_reactions, self.arrays.n_species
        self.n_laws = int(self.arrays.law_reactions.sum())

    def run(self, runs, seed, t=None, n_threads=1):
        res = self.kernels.run_ensemble(self.arrays, self.t if t is None else t, runs, seed,
                                        "auto", n_threads=n_threads, species=[self.sidx],
                                        keep_trajectories=True)
        self.method = res.method
        return res.n_events, list(res.trajectories[:, -1, 0])

    def events_per_run(self, t_end, runs, seed):
        n, _ = self.run(runs, seed, t=np.array([0.0, t_end]))
        return n / runs


class RoadRunnerTool:
    name = "rr"

    def load(self, path, t_end, sid):
        import roadrunner
        self.version = roadrunner.__version__
        self.r = roadrunner.RoadRunner(str(path))
        self.r.setIntegrator("gillespie")
        self.r.integrator.variable_step_size = False
        self.r.integrator.seed = SEED
        self.r.timeCourseSelections = ["time", sid]    # the amount, not [sid]
        self.t_end = t_end
        t0 = time.perf_counter()
        self.run(1, SEED, t_end=t_end * 1e-6)          # warm-up: one run's fixed cost
        self.setup_s = time.perf_counter() - t0

    def run(self, runs, seed, t_end=None):
        r = self.r
        r.integrator.seed = seed
        t_end = self.t_end if t_end is None else t_end
        xs = []
        for _ in range(runs):
            r.reset()
            res = r.simulate(0.0, t_end, POINTS)
            xs.append(float(res[-1, 1]))
        return None, xs

    def event_counts(self, t_end, runs, seed, expected):
        r, it = self.r, self.r.integrator
        it.seed = seed
        it.variable_step_size = True
        it.max_output_rows = int(expected * 3 + 10_000)
        counts = []
        try:
            for _ in range(runs):
                r.reset()
                res = r.simulate(0.0, t_end)
                tt = np.asarray(res[:, 0])
                counts.append(int(((tt > 0.0) & (tt < t_end)).sum()))
        finally:
            it.variable_step_size = False
        return counts


class CopasiTool:
    name = "copasi"

    def load(self, path, t_end, sid):
        saved = locale.setlocale(locale.LC_ALL)
        import COPASI                                   # sets the C locale: restored below
        locale.setlocale(locale.LC_ALL, saved)
        self.C = COPASI
        self.version = COPASI.CVersion.VERSION.getVersion()
        self.dm = COPASI.CRootContainer.addDatamodel()
        if not self.dm.importSBML(str(path)):
            raise RuntimeError("importSBML failed: "
                               + COPASI.CCopasiMessage.getAllMessageText().strip()[:300])
        self.task = self.dm.getTask("Time-Course")
        self.task.setMethodType(COPASI.CTaskEnum.Method_directMethod)
        self.method = self.task.getMethod()
        self.method.getParameter("Max Internal Steps").setIntValue(1_000_000_000)
        self.method.getParameter("Use Random Seed").setBoolValue(True)
        self.problem = self.task.getProblem()
        self.problem.setTimeSeriesRequested(True)
        self.problem.setAutomaticStepSize(False)
        self.dm.getModel().setInitialTime(0.0)
        self._span(t_end * 1e-6)
        t0 = time.perf_counter()
        ts = self._process(SEED)                        # warm-up: one run's fixed cost
        self.setup_s = time.perf_counter() - t0
        self.col = None
        for j in range(ts.getNumVariables()):
            if ts.getSBMLId(j, self.dm) == sid:
                self.col = j
        if self.col is None:
            raise RuntimeError(f"species {sid} not in COPASI's time series")
        self._span(t_end)
        self.t_end = t_end

    def _span(self, t_end):
        self.problem.setDuration(t_end)
        self.problem.setStepNumber(POINTS - 1)

    def _process(self, seed):
        self.method.getParameter("Random Seed").setIntValue(int(seed) % 2_000_000_000)
        if not self.task.process(True):
            raise RuntimeError("process failed: " + self.task.getProcessError()[:300])
        return self.task.getTimeSeries()

    def run(self, runs, seed, t_end=None):
        self._span(self.t_end if t_end is None else t_end)
        xs = []
        try:
            for i in range(runs):
                ts = self._process(seed + i)
                xs.append(ts.getData(ts.getRecordedSteps() - 1, self.col))
        finally:
            self._span(self.t_end)
        return None, xs

    def event_counts(self, t_end, runs, seed, expected):
        self.problem.setDuration(t_end)
        self.problem.setAutomaticStepSize(True)      # stochastic methods: one step per event
        counts = []
        try:
            for i in range(runs):
                ts = self._process(seed + i)
                tt = np.array([ts.getData(k, 0) for k in range(ts.getRecordedSteps())])
                counts.append(int(((tt > 0.0) & (tt < t_end)).sum()))
        finally:
            self.problem.setAutomaticStepSize(False)
            self._span(self.t_end)
        return counts


class _NoUnitsLibsbml:
    """libsbml as GillesPy2's SBML importer sees it, printing formulas without units."""

    def __init__(self, libsbml):
        self._lib = libsbml
        self._settings = libsbml.L3ParserSettings()
        self._settings.setParseUnits(False)

    def __getattr__(self, name):
        return getattr(self._lib, name)

    def formulaToL3String(self, math):
        return self._lib.formulaToL3StringWithSettings(math, self._settings)


class GillesPyTool:
    name = "gp2"

    def load(self, path, t_end, sid):
        import gillespy2
        import gillespy2.sbml.SBMLimport as gimport
        from gillespy2 import SSACSolver
        self.version = gillespy2.__version__
        self.patched = False
        try:
            model, errors = gillespy2.import_SBML(str(path))
        except Exception as exc:   # noqa: BLE001 - any reader failure is recorded, then retried
            self.as_is_error = _first_line(exc)
            lib = gimport.libsbml
            gimport.libsbml = _NoUnitsLibsbml(lib)
            try:
                model, errors = gillespy2.import_SBML(str(path))
            finally:
                gimport.libsbml = lib
            self.patched = True
        if model is None:
            raise RuntimeError(f"import_SBML: {errors}")
        model.timespan(np.linspace(0.0, t_end, POINTS))
        self.model, self.sid = model, sid
        self.solver = SSACSolver(model=model)          # C++ build

    def run(self, runs, seed):
        res = self.model.run(solver=self.solver, number_of_trajectories=runs, seed=int(seed))
        trajectories = res if runs > 1 else [res[0]]
        return None, [float(tr[self.sid][-1]) for tr in trajectories]


TOOLS = {"ours": Ours, "rr": RoadRunnerTool, "copasi": CopasiTool, "gp2": GillesPyTool}


def _first_line(exc) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return " ".join(text.split())[:240]


# --------------------------------------------------------------------------- measurements

def model_settings(name, runs, quick):
    """(T, runs) of ``name``: the table's, ``--quick`` divided, ``--runs`` overriding."""
    _, t_end, default_runs = MODELS[name]
    if quick:
        if default_runs >= 8:
            default_runs //= 4
        else:
            t_end /= 4
    return t_end, runs or default_runs


def our_event_counts(ours, t_end, seed, budget_s=EST_BUDGET_S, k_min=8, k_max=64):
    """Events of single runs of our kernels over [0, T] (as many as ``budget_s`` allows)."""
    counts, t0 = [], time.perf_counter()
    t = np.array([0.0, t_end])
    while len(counts) < k_max and (len(counts) < k_min or time.perf_counter() - t0 < budget_s):
        res = ours.kernels.run_ensemble(ours.arrays, t, 1, seed, "auto", n_threads=1,
                                        species=[ours.sidx], first_run=len(counts))
        counts.append(res.n_events)
    return counts


def event_check(ours, tool, t_end, ev_per_run, setup_s):
    """Mean events per run from a peer's per-event output over its ratio to ours.

    The span is short enough for ~``CHECK_EVENTS`` events per run (lengthened while our
    runs average a quarter of that: event rates can rise late, as in the IL-2 model), the
    runs enough for ~``CHECK_TOTAL`` events (3..200, and ~``CHECK_BUDGET_S`` of a peer's
    per-run set-up at most); ours use 4x the runs (at least 40).
    """
    span = min(t_end, t_end * CHECK_EVENTS / max(ev_per_run, 1.0))
    while True:
        ours_epr = ours.events_per_run(span, 40, SEED + 11)
        if span >= t_end or ours_epr >= CHECK_EVENTS / 4:
            break
        span = min(t_end, 4 * span)
    n_peer = int(min(200, max(3, CHECK_TOTAL / max(ours_epr, 1.0))))
    n_peer = int(min(n_peer, max(3, CHECK_BUDGET_S / max(setup_s, 1e-3))))
    if 4 * n_peer > 40:
        ours_epr = ours.events_per_run(span, 4 * n_peer, SEED + 11)
    counts = tool.event_counts(span, n_peer, SEED + 13, ours_epr)
    peer_epr = float(np.mean(counts))
    # standard error of the ratio: the peer's spread, ours ~ the same over 4x the runs
    se = (float(np.std(counts, ddof=1)) * math.sqrt(1.25 / n_peer) / ours_epr
          if n_peer > 1 and ours_epr else float("nan"))
    return {"span": span, "runs": n_peer, "ours_runs": max(4 * n_peer, 40), "peer": peer_epr,
            "ours": ours_epr, "ratio": peer_epr / ours_epr if ours_epr else float("nan"),
            "ratio_se": se}


def bench_model(name, path, peers, runs, repeats, quick, log):
    """Load every tool on ``path``, time ``repeats`` ensembles of each, interleaved."""
    t_end, runs = model_settings(name, runs, quick)
    out = {"model": name, "file": str(path), "T": t_end, "points": POINTS, "runs": runs,
           "repeats": repeats, "tools": {}}
    tools = {}
    sid = None
    for key in ("ours",) + tuple(peers):
        tool = TOOLS[key]()
        rec = out["tools"][key] = {}
        t0 = time.perf_counter()
        try:
            tool.load(path, t_end, sid)
            rec["load_s"] = time.perf_counter() - t0
            if key == "ours":
                sid = tool.sid
                tool.run(1, SEED)                        # JIT / cache load, not timed
            if hasattr(tool, "setup_s"):
                rec["setup_per_run_s"] = tool.setup_s
        except Exception as exc:   # noqa: BLE001 - a peer that cannot read the file is recorded
            if key == "ours":
                raise
            rec["error"] = _first_line(exc)
            if getattr(tool, "as_is_error", None):
                rec["error_as_is"] = tool.as_is_error
            log(f"  {LABEL[key]:7s} cannot run {name}: {rec['error']}")
            continue
        rec["version"] = getattr(tool, "version", None)
        if getattr(tool, "patched", False):
            rec["patched_reader"] = True
            rec["error_as_is"] = tool.as_is_error
        tools[key] = tool
    ours = tools["ours"]
    out.update(species=ours.n_species, reactions=ours.n_reactions, law_reactions=ours.n_laws,
               check_species=sid)
    walls = {k: [] for k in tools}
    cpus = {k: [] for k in tools}
    xs = {k: [] for k in tools}
    our_events = []
    order = list(tools)
    for rep in range(repeats):
        for key in list(order if rep % 2 == 0 else order[::-1]):
            if rep > 0 and walls[key] and walls[key][0] > PEER_NO_REPEAT_S:
                continue                                 # one long ensemble is enough
            seed = SEED + 1000 * rep + 1
            t0, c0 = time.perf_counter(), cpu_clock()
            try:
                n_ev, x = tools[key].run(runs, seed)
            except Exception as exc:   # noqa: BLE001
                if key == "ours":
                    raise
                out["tools"][key]["error"] = _first_line(exc)
                log(f"  {LABEL[key]:7s} failed on {name}: {out['tools'][key]['error']}")
                tools.pop(key)
                order.remove(key)
                continue
            walls[key].append(time.perf_counter() - t0)
            cpus[key].append(cpu_clock() - c0)
            xs[key].extend(x)
            if key == "ours":
                our_events.append(n_ev)
    # events per run: our timed runs plus single runs, which also give the spread per run
    counts = our_event_counts(ours, t_end, SEED + 5)
    ev_per_run = (sum(our_events) + sum(counts)) / (runs * len(our_events) + len(counts))
    cv = float(np.std(counts, ddof=1) / np.mean(counts)) if np.mean(counts) > 0 else 0.0
    out.update(events_per_run=ev_per_run, events_cv=cv, events_est_runs=len(counts),
               method=ours.method)
    for key in tools:
        rec = out["tools"][key]
        events = our_events if key == "ours" else [ev_per_run * runs] * len(walls[key])
        rates = [e / c for e, c in zip(events, cpus[key])]
        rec.update(wall_s=statistics.median(walls[key]), cpu_s=statistics.median(cpus[key]),
                   ev_per_s=statistics.median(rates), walls=walls[key], cpus=cpus[key],
                   events_estimated=key != "ours", x_mean=float(np.mean(xs[key])),
                   x_n=len(xs[key]))
        if key != "ours":
            # the peer's own runs have their own event total: relative error of the estimate
            rec["ev_rel_err"] = cv / math.sqrt(runs * len(walls[key]))
    # x(T) agreement with ours: z with the spread pooled over all tools (same distribution)
    o = out["tools"]["ours"]
    pooled = [np.var(xs[k], ddof=1) for k in tools if len(xs[k]) > 1]
    sd = math.sqrt(float(np.mean(pooled))) if pooled else float("nan")
    for key in tools:
        rec = out["tools"][key]
        se = sd * math.sqrt(1 / o["x_n"] + 1 / rec["x_n"])
        rec["x_z"] = (rec["x_mean"] - o["x_mean"]) / se if se > 0 else 0.0
        rec["x_checked"] = min(o["x_n"], rec["x_n"]) >= CHECK_MIN_RUNS
    # event counts from the peers' per-event output against ours
    for key in ("rr", "copasi"):
        if key in tools:
            out["tools"][key]["event_check"] = event_check(
                ours, tools[key], t_end, ev_per_run, out["tools"][key].get("setup_per_run_s", 0.0))
    for key in tools:
        if key == "ours":
            continue
        rec = out["tools"][key]
        rec["ratio"] = o["ev_per_s"] / rec["ev_per_s"]
        if "setup_per_run_s" in rec:
            # the same, with the peer's per-run set-up taken out of its CPU time
            busy = rec["cpu_s"] - runs * rec["setup_per_run_s"]
            if busy > 0.1 * rec["cpu_s"]:
                rec["ev_per_s_no_setup"] = ev_per_run * runs / busy
                rec["ratio_no_setup"] = o["ev_per_s"] / rec["ev_per_s_no_setup"]
    return out


def threads(name, path, runs, repeats):
    """Wall seconds of one ensemble on 1 and on 2 Numba threads (``ssa_kernels.thread_scaling``:
    method "direct", best of ``repeats``)."""
    _, t_end, _ = MODELS[name]
    tool = Ours()
    tool.load(path, t_end, None)
    w = thread_scaling(tool.arrays, t_end, n_runs=runs, repeats=repeats)
    return {"model": name, "runs": runs, "T": t_end, "wall_1": w[1], "wall_2": w[2],
            "speedup": w[1] / w[2]}


_STARTUP = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import kernels
from il2sbml.simulate.compile import compile_network
from il2sbml.formats.sbmlread import read_sbml
t1 = time.perf_counter()
arrays = compile_network(read_sbml(sys.argv[1]), round_initial=True)
t2 = time.perf_counter()
kernels.run_ensemble(arrays, np.array([0.0, float(sys.argv[2])]), 1, 1, "auto", n_threads=1)
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "first_s": t3 - t2}))
"""


def startup(name, path, workdir, cold=True):
    """Start-up of our kernels on ``path`` in fresh subprocesses: ``cold`` (fresh, empty
    ``NUMBA_CACHE_DIR`` and law cache) then ``cached`` (the second process on those caches);
    with ``cold=False`` only ``cached``, on the default caches this process has just filled."""
    _, t_end, _ = MODELS[name]
    cache = Path(workdir) / f"startup-{name}"
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    if cold:
        shutil.rmtree(cache, ignore_errors=True)
        env.update(NUMBA_CACHE_DIR=str(cache / "numba"), IL2SBML_CACHE=str(cache / "laws"))
    out = {"model": name}
    for label in ("cold", "cached") if cold else ("cached",):
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-c", _STARTUP, str(path), repr(t_end / 1000)],
                           cwd=ROOT, env=env, capture_output=True, text=True)
        total = time.perf_counter() - t0
        if r.returncode != 0:
            out[label] = {"error": (r.stderr.strip().splitlines() or ["?"])[-1][:240]}
            continue
        out[label] = dict(json.loads(r.stdout.strip().splitlines()[-1]), total_s=total)
    shutil.rmtree(cache, ignore_errors=True)
    return out


# --------------------------------------------------------------------------- report

def _fmt(v, unit=""):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, str):
        return v
    if abs(v) >= 1e5 or (abs(v) < 1e-2 and v != 0):
        return f"{v:.2e}{unit}"
    return f"{v:.3g}{unit}"


def _chk(chk) -> str:
    if not chk:
        return "—"
    return f"{chk['ratio']:.3f} ± {chk['ratio_se']:.3f}"


def markdown(results) -> str:
    lines = []
    models = results["models"]
    lines += ["| model | M | N | T | runs | ev/run | tool | load s | set-up s/run | wall s | "
              "ev/s/core | ours/peer | ev chk | x(T) |",
              "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    notes = []
    for m in models:
        first = True
        for key in ("ours",) + PEERS:
            rec = m["tools"].get(key)
            if rec is None:
                continue
            head = (f"| {m['model']} | {m['reactions']} | {m['species']} | {m['T']:g} | "
                    f"{m['runs']} | {_fmt(m['events_per_run'])} |") if first else "| | | | | | |"
            first = False
            label = LABEL[key] + ("*" if rec.get("patched_reader") else "")
            if key == "ours":
                label += f" ({m['method']})"
            if "error" in rec:
                notes.append(f"{LABEL[key]} on {m['model']}: {rec['error']}"
                             + (f" (as is: {rec['error_as_is']})" if rec.get("error_as_is") else ""))
                lines.append(f"{head} {label} | cannot run ({len(notes)}) | | | | | | |")
                continue
            if rec.get("patched_reader"):
                notes.append(f"{LABEL[key]} on {m['model']} as is: {rec['error_as_is']}; "
                             "run with units left out of the printed formulas")
            chk = rec.get("event_check")
            flag = "!" if rec.get("x_checked") and abs(rec["x_z"]) > CHECK_SIGMA else ""
            est = "~" if rec.get("events_estimated") else ""
            err = rec.get("ev_rel_err", 0.0)
            err = f" ±{100 * err:.0f}%" if err > 0.03 else ""
            lines.append(
                f"{head} {label} | {_fmt(rec['load_s'])} | {_fmt(rec.get('setup_per_run_s'))} | "
                f"{_fmt(rec['wall_s'])} | {est}{_fmt(rec['ev_per_s'])}{err} | "
                f"{_fmt(rec.get('ratio'))} | {_chk(chk)} | "
                f"{rec['x_mean']:.4g}{flag} |")
    out = "\n".join(lines)
    if notes:
        out += "\n\n" + "\n".join(f"({i}) {n}" for i, n in enumerate(notes, 1))
    out += ("\n\nM reactions, N species; ev/s/core: events per CPU second (~: events estimated "
            "from our count); ours/peer: ratio of ev/s/core; ev chk: peer's events per run "
            "(per-event output) / ours ± se; x(T): mean count at T of the species with the most "
            "molecules at t = 0 (!: > 6 se from ours). Measured on "
            f"{results['machine']['cpus']} CPUs, load average "
            f"{results['machine']['loadavg'][0]:.2f} before, "
            f"{results['machine']['loadavg_after'][0]:.2f} after.")
    if results.get("threads"):
        out += "\n\n| model | runs | 1 thread s | 2 threads s | speed-up |\n|---|---:|---:|---:|---:|\n"
        out += "\n".join(f"| {t['model']} | {t['runs']} | {t['wall_1']:.3f} | {t['wall_2']:.3f} | "
                         f"{t['speedup']:.2f} |" for t in results["threads"])
    if results.get("startup"):
        out += ("\n\n| model | start-up | import s | load s | first call s | total s |\n"
                "|---|---|---:|---:|---:|---:|\n")
        rows = []
        for s in results["startup"]:
            for label in ("cold", "cached"):
                if label not in s:
                    continue
                r = s[label]
                if "error" in r:
                    rows.append(f"| {s['model']} | {label} | error: {r['error']} | | | |")
                else:
                    rows.append(f"| {s['model']} | {label} | {r['import_s']:.2f} | {r['load_s']:.2f} "
                                f"| {r['first_s']:.2f} | {r['total_s']:.2f} |")
        out += "\n".join(rows)
    out += "\n\n" + "\n".join(f"- {t}" for t in targets(results))
    return out


def targets(results) -> list[str]:
    """The issue's targets, each with the measured value and met / NOT met."""
    out = []
    by_name = {m["model"]: m for m in results["models"]}
    for key, want in TARGET_RATIO.items():
        for m in results["models"]:
            if m["reactions"] < TARGET_MIN_REACTIONS:
                continue
            rec = m["tools"].get(key, {})
            if "ratio" in rec:
                ok = rec["ratio"] >= want
                extra = ""
                if rec.get("ratio_no_setup") and rec["setup_per_run_s"] * m["runs"] > 0.05 * rec["cpu_s"]:
                    extra = f" ({rec['ratio_no_setup']:.1f}x without its per-run set-up)"
                out.append(f"{m['model']}: ours/{LABEL[key]} {rec['ratio']:.1f}x{extra} (target >= "
                           f"{want:g}x): {'met' if ok else 'NOT met'}")
    a, b, limit = TARGET_SCALING
    if a in by_name and b in by_name:
        ca = 1e9 / by_name[a]["tools"]["ours"]["ev_per_s"]
        cb = 1e9 / by_name[b]["tools"]["ours"]["ev_per_s"]
        out.append(f"cost per event {b} ({by_name[b]['reactions']} reactions) {cb:.0f} ns vs {a} "
                   f"({by_name[a]['reactions']}) {ca:.0f} ns: {cb / ca:.2f}x (target <= {limit:g}x): "
                   f"{'met' if cb / ca <= limit else 'NOT met'}")
    for t in results.get("threads", []):
        out.append(f"{t['model']}: 2 threads {t['speedup']:.2f}x one (target >= {TARGET_THREADS}x): "
                   f"{'met' if t['speedup'] >= TARGET_THREADS else 'NOT met'} (needs an idle machine)")
    for s in results.get("startup", []):
        r = s.get("cached", {})
        if "first_s" in r:
            ok = r["first_s"] <= TARGET_STARTUP_S
            out.append(f"{s['model']}: cached first call {r['first_s']:.2f} s, import "
                       f"{r['import_s']:.2f} s, load {r['load_s']:.2f} s (target first call <= "
                       f"{TARGET_STARTUP_S} s): {'met' if ok else 'NOT met'}")
    return out


def machine() -> dict:
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count(), "loadavg": os.getloadavg()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 models, fewer events, < 1 min")
    ap.add_argument("--json", default=None, help="write every measurement here")
    ap.add_argument("--runs", type=int, default=None, help="runs per ensemble (all models)")
    ap.add_argument("--repeats", type=int, default=None, help="timed ensembles per tool")
    ap.add_argument("--models", default=None, help=f"comma-separated, from {', '.join(MODELS)}")
    ap.add_argument("--no-peers", action="store_true", help="our kernels only")
    ap.add_argument("--peers", default=",".join(PEERS), help="subset of rr,copasi,gp2")
    ap.add_argument("--no-startup", action="store_true", help="skip the start-up subprocesses")
    ap.add_argument("--no-threads", action="store_true", help="skip 1 vs 2 threads")
    args = ap.parse_args(argv)
    names = args.models.split(",") if args.models else list(QUICK_MODELS if args.quick else MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    peers = [] if args.no_peers else [p for p in args.peers.split(",") if p]
    if any(p not in PEERS for p in peers):
        ap.error(f"--peers: choose from {', '.join(PEERS)}")
    repeats = args.repeats or (1 if args.quick else 3)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    results = {"machine": machine(), "quick": args.quick, "models": [], "threads": [],
               "startup": []}
    with tempfile.TemporaryDirectory(prefix="il2sbml-ssa-bench-") as tmp:
        tmp = Path(tmp)
        paths = {}
        for name in names:
            paths[name] = write_model(name, tmp)
        for name in names:
            log(f"{name}: {paths[name]}")
            results["models"].append(bench_model(name, paths[name], peers, args.runs, repeats,
                                                 args.quick, log))
        if not args.no_threads:
            for name in THREAD_MODELS:
                if name in paths:
                    log(f"threads: {name}")
                    runs = 8 if args.quick else THREAD_RUNS
                    results["threads"].append(threads(name, paths[name], runs, repeats))
        if not args.no_startup:
            chosen = [n for n in names if n in STARTUP_MODELS] or names[:1]
            for name in chosen:
                log(f"start-up: {name}")
                results["startup"].append(startup(name, paths[name], tmp, cold=not args.quick))
    results["machine"]["loadavg_after"] = os.getloadavg()
    results["targets"] = targets(results)
    print(markdown(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=float), encoding="utf-8")


if __name__ == "__main__":
    main()
