"""SSA ensembles in chunks: embedded, on local worker processes or on a Dask cluster, with a
resumable Zarr store and parameter sweeps.

Model
-----
An ensemble of ``n_runs`` trajectories is cut into chunks of ``chunk_size`` runs: chunk k is runs
``[k*C, min((k+1)*C, n_runs))``. Trajectory i draws only from the random stream of ``(seed, i)``
(:mod:`kernels.ensemble`), and a chunk returns the *exact integer* sums S1 = sum x and
S2 = sum x^2 per output time and species, so a chunk computed anywhere (thread, process, remote
worker, before or after a crash) gives the same numbers, and the merged mean and sd are bitwise
those of one ``kernels.run_ensemble`` call with the same seed, whatever the chunking and wherever
the chunks ran (tested in ``tests/test_ensemble_dask.py``).

Where chunks run
----------------
* embedded (default): in this process, one chunk after the other, each chunk parallel over
  Numba threads (``threads``); no server, no extra process.
* ``workers=K``: K local worker processes (a ``distributed.LocalCluster`` started and stopped
  here; nothing to start by hand), one chunk per process at a time, one Numba thread each.
* ``scheduler="tcp://HOST:PORT"`` or ``scheduler_file=FILE``: the workers of a running Dask
  scheduler (``dask scheduler`` / ``dask worker`` or dask-jobqueue; docs/cluster.md).

Workers receive the compiled model as plain NumPy arrays (``kernels.NetworkArrays``: picklable);
a network with general kinetic laws (SBML laws, functional rates, ``MM``/``Sat``: a compiled
Numba function, which cannot be pickled) travels without its compiled law but with the law's
generated source, which each worker process compiles once (from its own disk cache).
The payload is scattered to every worker once (``broadcast``), not sent with each task. At
most ``2 x (worker threads)`` chunks are in flight, so the client holds a bounded number of
chunk results whatever ``n_runs`` is; a worker that dies mid-run has its chunks recomputed
elsewhere by the scheduler (same numbers: chunks are pure functions of their run range).

The store (``store="OUT.zarr"``, Zarr v3, one group)
---------------------------------------------------
Group attribute ``il2sbml_ensemble``: format and version, per-point model fingerprints (SHA-256
of the kernel arrays, plus the SBML text for networks with general laws), seed, n_runs,
chunk_size, method, the time grid and units, species ids, the sweep, ``complete``.
Arrays (dimension names in Zarr's ``dimension_names``; ``units`` and ``description`` as
attributes); the leading dimension ``point`` is the sweep point (length 1 without a sweep):

``time[time]``, ``species_index[species]`` (-1 for an observable: the attribute ``observables``
    gives the species it reads and their weights), ``sweep_values[point, parameter]``
``chunk_sums[point, chunk, moment, time, species, word]`` uint64: S1 (moment 0) and S2
    (moment 1) of each chunk as 128-bit (lo, hi) words -- the exact statistics, per chunk
``chunk_info[point, chunk, field]`` int64: (runs, reaction events) of a finished chunk, 0 if not
``trajectories[point, run, time, species]`` int64 (``keep_trajectories`` only)
``mean``, ``sd[point, time, species]`` float64: written when every chunk is done.

Commit protocol: a finished chunk writes its trajectories, then its ``chunk_sums`` record, then
its ``chunk_info`` record *last*; Zarr's local store writes every chunk file through a temporary
file and a rename, so each file is whole or absent, and a chunk counts as done iff its
``chunk_info`` record is there. A client killed at any point leaves done chunks and at worst a
half-written, unmarked one; ``resume=True`` checks that the store was made with the same model
and settings, reads the done chunks' exact sums, computes only the missing chunks (an unmarked
chunk is recomputed and its files overwritten with the same bytes) and writes the statistics.
Totals are always rebuilt from the per-chunk records, so no chunk can be counted twice. The
store skeleton is created in a temporary folder and renamed into place. A store of another
model or other settings, a foreign or corrupted folder, is refused with an error naming what
differs, before anything is written. Durability is against a killed process, not power loss
(the store does not fsync).

Sweeps
------
``sweep`` (a :class:`Sweep`: parameter names and points) runs one ensemble per point with the
same seed (common random numbers: point p's statistics are exactly those of a standalone
ensemble of that point's model) as one job; chunks of all points share the workers and the
store's ``point`` dimension. :func:`parse_sweep` reads ``NAME=v1,v2`` (several: the grid of
all combinations) or a CSV of parameter sets.

Python API: :func:`run`, :func:`payload`, :func:`parse_sweep`, :func:`read_store`,
:func:`store_progress`; CLI glue: :func:`add_ensemble_arguments`, :func:`ensemble_command`.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import itertools
import json
import math
import os
import shutil
import sys
import time
import uuid
from typing import Any

import numpy as np

from ..lang.errors import Il2sbmlError

__all__ = [
    "EnsembleError",
    "StoreError",
    "SweepError",
    "ModelPayload",
    "Sweep",
    "EnsembleRun",
    "payload",
    "parse_sweep",
    "run",
    "read_store",
    "store_progress",
    "add_ensemble_arguments",
    "ensemble_command",
    "STORE_FORMAT",
    "STORE_VERSION",
]

STORE_FORMAT = "il2sbml-ensemble"
STORE_VERSION = 1
_ATTR = "il2sbml_ensemble"
# default chunk size: about this many chunks per worker slot (load balance, resume granularity,
# progress), within [_MIN_DEFAULT_CHUNK, _MAX_DEFAULT_CHUNK] runs; see docs/cluster.md
_CHUNKS_PER_SLOT = 8
_MIN_DEFAULT_CHUNK = 100
_MAX_DEFAULT_CHUNK = 10_000
_TRAJ_ZARR_CHUNK_BYTES = 16 << 20


class EnsembleError(Il2sbmlError):
    """An ensemble cannot be run as asked (bad option, unreachable scheduler, ...)."""


class StoreError(EnsembleError):
    """A results store is foreign, corrupted, or was made with another model or settings."""


class SweepError(EnsembleError):
    """A sweep specification is malformed (unknown parameter, value of the wrong type, ...)."""


# ---------------------------------------------------------------------------------------------
# model payloads
# ---------------------------------------------------------------------------------------------

_WORKER_MODELS: dict[str, Any] = {}  # per process: fingerprint -> NetworkArrays with their law compiled


@dataclasses.dataclass(frozen=True, eq=False)
class ModelPayload:
    """What a worker needs to simulate a model: kernel arrays, and the source of their law.

    ``arrays`` (``kernels.NetworkArrays``) may hold a compiled law on the client; a compiled law
    is never pickled: :meth:`for_workers` drops it and keeps its generated source
    (``law_source``), which :meth:`materialize` compiles again in the worker process.
    """

    fingerprint: str
    arrays: Any = None
    law_source: str | None = None
    round_initial: bool = False
    name: str = ""
    population: Any = None   # il2sbml.simulate.population.CellSampler: every run a cell of its own
    sbml: str | None = None  # the network as SBML: method "ode" simulates each cell on libRoadRunner
    overrides: Any = None    # {SBML parameter id: value} set on that SBML for every cell (method "ode"): sweep
                             # points of one compiled model (e.g. doses) instead of one model per point
    dropped: Any = None      # bool[M]: reactions switched off by reduce=True (per-cell rates of them too)
    grid: Any = None         # method "ode" with interpolate=N: the _Grid the cells' outputs are interpolated on

    @property
    def shippable(self) -> bool:
        return self.arrays is not None and (self.arrays.law is None or self.law_source is not None)

    def for_workers(self) -> "ModelPayload":
        if self.arrays is None or self.arrays.law is None:
            return self
        if self.law_source is None:
            raise EnsembleError(
                f"model {self.name or '(unnamed)'}: its network has general kinetic laws compiled by hand (a "
                "Numba function without a source from kernels.compile_law), which cannot be sent to worker "
                "processes; compile the law with kernels.compile_law, or run embedded (no --workers/--scheduler)")
        return ModelPayload(self.fingerprint, self.arrays._replace(law=None), self.law_source,
                            self.round_initial, self.name, self.population, self.sbml, self.overrides, self.dropped,
                            self.grid)

    def materialize(self):
        """The ``NetworkArrays``, with their law compiled once per process when it was shipped as source."""
        if self.law_source is None or self.arrays.law is not None:
            return self.arrays
        arrays = _WORKER_MODELS.get(self.fingerprint)
        if arrays is None:
            import kernels

            from .compile import law_cache_dir

            arrays = self.arrays._replace(law=kernels.compile_law(self.law_source, law_cache_dir()))
            _WORKER_MODELS[self.fingerprint] = arrays
        return arrays

    def __reduce__(self):  # never pickle a compiled law
        p = self.for_workers()
        return (ModelPayload, (p.fingerprint, p.arrays, p.law_source, p.round_initial, p.name, p.population,
                               p.sbml, p.overrides, p.dropped, p.grid))




def _hash_array(h, name, a) -> None:
    a = np.ascontiguousarray(a)
    h.update(f"{name}:{a.dtype.str}:{a.shape};".encode())
    h.update(a.tobytes())


def fingerprint_arrays(arrays, law_source: str | None = None) -> str:
    """SHA-256 of the kernel arrays (every field but the compiled law), plus the law's source when
    the network has a general law (whose behaviour the arrays alone do not fix)."""
    h = hashlib.sha256(b"il2sbml-network-arrays-v2;")
    for name, value in arrays._asdict().items():
        if name == "law":
            continue
        if name == "events":
            for ename, evalue in value._asdict().items():
                if isinstance(evalue, np.ndarray):
                    _hash_array(h, "events." + ename, evalue)
                else:
                    h.update(f"events.{ename}={evalue!r};".encode())
            continue
        _hash_array(h, name, value)
    if arrays.law is not None:
        if law_source is None:
            raise EnsembleError("a network with general kinetic laws needs its law's source to be fingerprinted")
        h.update(b"law;" + law_source.encode("utf-8"))
    return h.hexdigest()


def payload(model, *, round_initial: bool = False, name: str = "", population=None, sbml=None,
            overrides=None) -> ModelPayload:
    """A :class:`ModelPayload` from ``kernels.NetworkArrays`` (a law compiled by
    ``kernels.compile_law``, as ``il2sbml.simulate.compile`` does, carries its source, which is
    what ships to workers and fingerprints the model), or the payload itself.

    ``population`` (a :class:`~il2sbml.simulate.population.CellSampler`) makes every run a cell
    with its own parameters; its distribution is part of the fingerprint. ``sbml`` (the network's
    SBML text) lets method ``"ode"`` simulate each cell deterministically on libRoadRunner, with
    ``overrides`` ({SBML parameter: value}, e.g. a dose) set on it for every cell."""
    if isinstance(model, ModelPayload):
        return model
    if overrides and sbml is None:
        raise EnsembleError("overrides set parameters of the SBML of method 'ode'; give sbml= too")
    if population is not None or sbml is not None:
        base = payload(model, round_initial=round_initial, name=name)
        fp = base.fingerprint
        if not fp.startswith("unverifiable:"):
            extra = (f";population;{population.fingerprint()}" if population is not None else "") + (
                f";sbml;{hashlib.sha256(sbml.encode()).hexdigest()}" if sbml is not None else "") + (
                f";overrides;{sorted((k, float(v)) for k, v in overrides.items())!r}" if overrides else "")
            fp = hashlib.sha256(f"{fp}{extra}".encode()).hexdigest()
        return ModelPayload(fp, base.arrays, base.law_source, round_initial, name, population, sbml,
                            dict(overrides) if overrides else None)
    import kernels

    if not isinstance(model, kernels.NetworkArrays):
        raise TypeError("model must be kernels.NetworkArrays or an il2sbml.simulate.ensemble.ModelPayload, "
                        f"not {type(model).__name__}")
    source = kernels.law_source(model.law) if model.law is not None else None
    if model.law is None or source is not None:
        fp = fingerprint_arrays(model, source)
    else:  # a hand-compiled law without its source: usable embedded, not in a store
        fp = "unverifiable:" + uuid.uuid4().hex
    return ModelPayload(fp, model, source, round_initial, name)


# ---------------------------------------------------------------------------------------------
# sweeps
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Sweep:
    """Parameter names and one tuple of values per point (in the names' order)."""

    names: tuple
    points: tuple

    def __post_init__(self):
        names = tuple(self.names)
        if not names:
            raise SweepError("a sweep needs at least one parameter")
        for n in names:
            if not isinstance(n, str) or not n.isidentifier():
                raise SweepError(f"sweep parameter name {n!r} is not an identifier")
        if len(set(names)) != len(names):
            raise SweepError(f"sweep parameter named twice: {', '.join(names)}")
        pts = []
        for i, pt in enumerate(self.points):
            pt = tuple(pt)
            if len(pt) != len(names):
                raise SweepError(f"sweep point {i}: {len(pt)} value(s) for {len(names)} parameter(s)")
            pts.append(tuple(_sweep_number(v, n, f"sweep point {i}") for v, n in zip(pt, names)))
        if not pts:
            raise SweepError("a sweep needs at least one point")
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "points", tuple(pts))

    def values(self, p: int) -> dict:
        return dict(zip(self.names, self.points[p]))

    def label(self, p: int) -> str:
        return "_".join(f"{n}={v!r}" for n, v in zip(self.names, self.points[p]))

    def to_json(self) -> dict:
        return {"parameters": list(self.names), "points": [list(p) for p in self.points]}

    @classmethod
    def coerce(cls, sweep) -> "Sweep | None":
        """A Sweep from a Sweep, a dict ``{name: [values]}`` (grid) or a list of dicts (points)."""
        if sweep is None or isinstance(sweep, Sweep):
            return sweep
        if isinstance(sweep, dict):
            names = tuple(sweep)
            lists = []
            for n in names:
                vals = sweep[n]
                if isinstance(vals, (str, bytes)) or not hasattr(vals, "__iter__"):
                    vals = [vals]
                lists.append(list(vals))
            return cls(names, tuple(itertools.product(*lists)))
        if isinstance(sweep, (list, tuple)) and all(isinstance(d, dict) for d in sweep) and sweep:
            names = tuple(sweep[0])
            for i, d in enumerate(sweep):
                if tuple(d) != names:
                    raise SweepError(f"sweep point {i} sets {', '.join(d)}, point 0 sets {', '.join(names)}")
            return cls(names, tuple(tuple(d[n] for n in names) for d in sweep))
        raise SweepError("sweep: expected a Sweep, a dict of value lists or a list of dicts, not "
                         f"{type(sweep).__name__}")


def _sweep_number(v, name, where, text=False) -> float:
    """A finite float from a number (or, from the command line or a CSV, its text)."""
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        if text and isinstance(v, str):
            try:
                v = float(v.strip())
            except ValueError:
                raise SweepError(f"{where}: value {v!r} for {name} is not a number") from None
        else:
            raise SweepError(f"{where}: value {v!r} for {name} is a {type(v).__name__}, not a number")
    v = float(v)
    if not math.isfinite(v):
        raise SweepError(f"{where}: value {v!r} for {name} is not finite")
    return v


def parse_sweep(specs) -> Sweep | None:
    """``["IL2_pM=0.1,1,10"]`` -> a Sweep; several ``NAME=...`` specs give the grid of all
    combinations (first name varies slowest); a spec naming a ``.csv`` file reads one point per
    row (header: parameter names). Raises :class:`SweepError` naming the bad item."""
    if not specs:
        return None
    if isinstance(specs, str):
        specs = [specs]
    names, lists, csv_sweep = [], [], None
    for spec in specs:
        spec = spec.strip()
        if "=" not in spec:
            if not spec.lower().endswith(".csv"):
                raise SweepError(f"--sweep {spec!r}: expected NAME=v1,v2,... or a CSV file of parameter sets")
            if csv_sweep is not None or names:
                raise SweepError("--sweep: a CSV of parameter sets cannot be combined with other --sweep options")
            csv_sweep = _read_sweep_csv(spec)
            continue
        if csv_sweep is not None:
            raise SweepError("--sweep: a CSV of parameter sets cannot be combined with other --sweep options")
        name, _, text = spec.partition("=")
        name = name.strip()
        if not name.isidentifier():
            raise SweepError(f"--sweep {spec!r}: {name!r} is not a parameter name")
        if name in names:
            raise SweepError(f"--sweep: parameter {name} given twice")
        items = [x for x in text.split(",")]
        if not text.strip() or any(not x.strip() for x in items):
            raise SweepError(f"--sweep {spec!r}: empty value in the list for {name}")
        names.append(name)
        lists.append([_sweep_number(x, name, f"--sweep {spec!r}", text=True) for x in items])
    if csv_sweep is not None:
        return csv_sweep
    return Sweep(tuple(names), tuple(itertools.product(*lists)))


def _read_sweep_csv(path) -> Sweep:
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except OSError as exc:
        raise SweepError(f"--sweep {path}: cannot read: {exc.strerror}") from None
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    if len(rows) < 2:
        raise SweepError(f"--sweep {path}: expected a header of parameter names and at least one row")
    names = tuple(c.strip() for c in rows[0])
    pts = []
    for line, r in enumerate(rows[1:], start=2):
        if len(r) != len(names):
            raise SweepError(f"{path}:{line}: {len(r)} value(s) for {len(names)} parameter(s)")
        pts.append(tuple(_sweep_number(c, n, f"{path}:{line}", text=True) for c, n in zip(r, names)))
    return Sweep(names, tuple(pts))


# ---------------------------------------------------------------------------------------------
# chunk tasks (run on workers)
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Chunk:
    point: int
    index: int
    first_run: int
    n_runs: int


def _chunk_task(model: ModelPayload, t, species, n_runs, seed, method, first_run, keep, n_threads, max_events,
                weights=None, ode_scale=1):
    """One chunk: ``kernels.run_ensemble`` over runs first_run .. first_run + n_runs - 1.

    ``weights`` (int64[n_obs, len(species)]): the chunk reports observables, integer-weighted sums
    of the species read, instead of the species. Populations also return the distribution sums."""
    import kernels

    if method == "ode":
        return _ode_chunk(model, t, species, n_runs, seed, first_run, keep, weights, ode_scale)
    if method == _NODES:   # the listed cells of an interpolation grid: their outputs as floats
        cells = model.population
        return _ode_values(model, t, species, cells.values[first_run:first_run + n_runs], cells.names, weights)
    arrays = model.materialize()
    if model.population is None and weights is None:
        return kernels.run_ensemble(arrays, t, n_runs, seed, method, n_threads=n_threads,
                                    keep_trajectories=keep, species=species, first_run=first_run,
                                    max_events=max_events)
    # the chunk's runs are kept (memory bounded by the chunk) for observables and the exact
    # distribution sums, and shipped back only when asked for
    values = q = None
    if model.population is not None:
        values, q = model.population.chunk(seed, first_run, n_runs, arrays)
        if model.dropped is not None and values.rate_index.shape[0]:
            values = values._replace(rates=np.where(model.dropped[values.rate_index], 0.0, values.rates))
    res = kernels.run_ensemble(arrays, t, n_runs, seed, method, n_threads=n_threads, keep_trajectories=True,
                               species=species, first_run=first_run, max_events=max_events, values=values)
    if weights is not None:
        res = _observed(res, weights)
    if model.population is None:
        return res if keep else res._replace(trajectories=None)
    import kernels.stats

    dist = kernels.stats.distribution_sums(res.trajectories, q)
    return (res if keep else res._replace(trajectories=None)), dist


def _with_runs(res, runs):
    """``res`` (a ``kernels.EnsembleResult``) describing the int64 runs[n, T, Q] instead: their exact
    sums, mean and sd (kernels' arithmetic), the runs themselves as trajectories."""
    import kernels

    s1 = np.zeros((runs.shape[1], runs.shape[2], 2), np.uint64)
    s2 = np.zeros_like(s1)
    kernels.ensemble.accumulate_sums(runs, s1, s2)
    mean, sd = kernels.exact_moments(s1, s2, runs.shape[0])
    return res._replace(mean=mean, sd=sd, trajectories=runs, sum_x=s1, sum_x2=s2)


def _observed(res, weights):
    """The result with observables (weights @ species per run and time, exact int64) for species."""
    y = np.einsum("itq,oq->ito", res.trajectories, weights)
    return _with_runs(res._replace(species=np.arange(y.shape[2])), y)


_WORKER_SIMULATORS: dict[str, Any] = {}   # per process: SHA-256 of the SBML -> ode.Simulator (compiled once)
ODE_RTOL = 1e-6   # relative tolerance of the per-cell ODEs (absolute: ode.Simulator's, per state variable)


def _ode_values(model: ModelPayload, t, species, values, names, weights=None) -> np.ndarray:
    """float64[n, T, outputs]: one libRoadRunner integration per row of ``values`` (the cells'
    parameters ``names``), at the times ``t``, of the species (or the ``weights``' observables)."""
    from .ode import Simulator

    key = hashlib.sha256(model.sbml.encode()).hexdigest()   # one compiled model serves every point on it
    sim = _WORKER_SIMULATORS.get(key)
    if sim is None:
        sim = _WORKER_SIMULATORS[key] = Simulator(model.sbml, rtol=ODE_RTOL)
    fixed = dict(model.overrides or {})
    ids = [f"s{int(i) + 1}" for i in species]
    n_out = len(ids) if weights is None else weights.shape[0]
    out = np.empty((len(values), len(t), n_out))
    for i in range(len(values)):
        x = sim.at_times(t, ids, **fixed, **{n: float(v) for n, v in zip(names, values[i])})
        out[i] = x if weights is None else x @ weights.T.astype(np.float64)
    return out


def _ode_chunk(model: ModelPayload, t, species, n_runs, seed, first_run, keep, weights=None, ode_scale=1):
    """A deterministic population chunk: one libRoadRunner integration per cell (the cells of the
    SSA population with the same seed), or with ``model.grid`` the cells' outputs interpolated on
    it (:func:`_interpolation_grids`); amounts times ``ode_scale`` rounded to whole numbers (error
    <= 0.5 / ode_scale molecule per cell, none in the statistics' arithmetic), then the same exact
    sums as an SSA chunk (in units of 1 / ode_scale molecule)."""
    import kernels
    import kernels.stats

    cells = model.population
    values = cells.draw(seed, first_run, n_runs)
    q = cells.covariates(values)
    names = cells.population.names
    if model.grid is not None:   # the interpolant can undershoot zero by its (checked) error: clipped below
        x = model.grid(values) * ode_scale
    else:
        x = _ode_values(model, t, species, values, names, weights) * ode_scale
        bad = np.flatnonzero(np.any((x < -0.5) | ~np.isfinite(x), axis=(1, 2)))
        if bad.size:
            i = int(bad[0])
            raise EnsembleError(f"cell {first_run + i} ({dict(zip(names, values[i]))}): the ODE gave amounts "
                                f"down to {np.nanmin(x[i]):.3g} molecules; tighten the tolerance or check the model")
    out = np.rint(np.maximum(x, 0.0)).astype(np.int64)
    n_out = out.shape[2]
    empty = kernels.EnsembleResult(np.asarray(t), np.asarray(species) if weights is None else np.arange(n_out),
                                   None, None, n_runs, "ode", False, 0, None, first_run, None, None)
    res = _with_runs(empty, out)
    return (res if keep else res._replace(trajectories=None)), kernels.stats.distribution_sums(out, q)


# ---------------------------------------------------------------------------------------------
# interpolated deterministic populations
# ---------------------------------------------------------------------------------------------

_NODES = "ode-nodes"          # the chunk task of the listed cells of an interpolation grid
INTERPOLATE_TOL = 1e-3        # the checked cells' largest error, as a fraction of the output's largest value
INTERPOLATE_MAX_PARAMETERS = 4
INTERPOLATE_MIN_NODES = 6     # quintic splines need 6 nodes per axis
INTERPOLATE_CHECKS = 100      # evenly spaced cells checked against their exact ODE (the bulk) ...
INTERPOLATE_FAR = 20          # ... and the cells farthest from the mean (standardised logs): the grid's edges


@dataclasses.dataclass(frozen=True, eq=False)
class _Grid:
    """The outputs of a deterministic population on a regular grid over the logs of the
    parameters that vary among its cells, and their quintic-spline interpolant (SciPy's
    ``RegularGridInterpolator``, not-a-knot ends)."""

    dims: tuple     # indices of the varied parameters (the population's order) that are grid axes
    axes: tuple     # per axis: float64[N], natural logs of the parameter from the cells' min to max
    values: Any     # float64[N, ..., N, T, outputs]: the exact ODE's outputs at the nodes (molecules)

    def __call__(self, cells) -> np.ndarray:
        """float64[n, T, outputs] at the cells (float64[n, k], the population's parameters)."""
        from scipy.interpolate import RegularGridInterpolator

        if not self.dims:
            return np.repeat(self.values[None], len(cells), axis=0)
        f = RegularGridInterpolator(self.axes, self.values, method="quintic", bounds_error=False, fill_value=None)
        return f(np.log(np.asarray(cells)[:, list(self.dims)]))


class _Nodes:
    """Listed cells (a grid's nodes and the cells checked against it): cell i is ``values[i]``."""

    def __init__(self, names, values):
        self.names = tuple(names)
        self.values = np.asarray(values, np.float64)


def _interpolation_grids(payloads, n_nodes, t, species, weights, seed, n_runs, tol, executor, progress):
    """Each point's :class:`_Grid` (``n_nodes`` per varied parameter, spanning the run's cells)
    and its check: the exact ODE of up to ``INTERPOLATE_CHECKS`` evenly spaced cells and of the
    ``INTERPOLATE_FAR`` cells farthest from the mean (norm of the standardised logs) against the
    interpolant. Node and check integrations run as chunks wherever the population's chunks run.
    Returns the payloads with their grids (and a fingerprint that names the interpolation) and a
    row per point saying the grid and its error; refuses, by point and output, an error above
    ``tol`` of the output's largest checked value."""
    plans = []
    block = 100_000
    for p, pl in enumerate(payloads):
        cells = pl.population
        names = cells.population.names
        k = len(names)
        lo, hi = np.full(k, np.inf), np.full(k, -np.inf)
        s1, s2 = np.zeros(k), np.zeros(k)
        for first in range(0, n_runs, block):      # pass 1: range, mean and sd of each parameter's log
            v = cells.draw(seed, first, min(block, n_runs - first))
            if np.any(v <= 0):
                j = int(np.flatnonzero(np.any(v <= 0, axis=0))[0])
                raise EnsembleError(f"interpolate: parameter {names[j]} is <= 0 in some cells; the grid is over the "
                                    "logs of the varied parameters, so they must be positive (run the exact ODE "
                                    "population: no interpolate)")
            lv = np.log(v)
            lo, hi = np.minimum(lo, lv.min(axis=0)), np.maximum(hi, lv.max(axis=0))
            s1, s2 = s1 + lv.sum(axis=0), s2 + (lv * lv).sum(axis=0)
        dims = tuple(j for j in range(k) if hi[j] > lo[j])
        if len(dims) > INTERPOLATE_MAX_PARAMETERS:
            varied = ", ".join(names[j] for j in dims)
            raise EnsembleError(f"interpolate: the cells vary {len(dims)} parameters ({varied}); a grid of "
                                f"{n_nodes}^{len(dims)} nodes is more work than the cells: at most "
                                f"{INTERPOLATE_MAX_PARAMETERS} (run the exact ODE population: no interpolate)")
        mean = s1 / n_runs
        sd = np.sqrt(np.maximum(s2 / n_runs - mean * mean, 0.0))
        sd = np.where(sd > 0, sd, 1.0)
        far_i, far_z = np.zeros(0, np.int64), np.zeros(0)
        for first in range(0, n_runs, block):      # pass 2: the cells farthest out (near the grid's edges)
            z = (((np.log(cells.draw(seed, first, min(block, n_runs - first))) - mean) / sd)[:, list(dims)] ** 2).sum(1)
            far_i, far_z = np.concatenate([far_i, first + np.arange(len(z))]), np.concatenate([far_z, z])
            keep = np.argsort(-far_z, kind="stable")[:INTERPOLATE_FAR]
            far_i, far_z = far_i[keep], far_z[keep]
        axes = tuple(np.linspace(lo[j], hi[j], n_nodes) for j in dims)
        base = cells.draw(seed, 0, 1)[0]
        mesh = np.meshgrid(*axes, indexing="ij")
        nodes = np.tile(base, (mesh[0].size if dims else 1, 1))
        for a, j in enumerate(dims):
            nodes[:, j] = np.exp(mesh[a].ravel())
        checked = sorted(set(np.linspace(0, n_runs - 1, min(INTERPOLATE_CHECKS, n_runs)).round().astype(int).tolist())
                         | set(far_i.tolist()))
        check = np.concatenate([cells.draw(seed, i, 1) for i in checked])
        listed = dataclasses.replace(pl, population=_Nodes(names, np.vstack([nodes, check])), grid=None)
        plans.append((listed, len(nodes), dims, axes, checked))
    C = 16
    chunks = [_Chunk(p, k, first, min(C, len(plan[0].population.values) - first))
              for p, plan in enumerate(plans) for k, first in enumerate(range(0, len(plan[0].population.values), C))]
    outs: dict[int, np.ndarray] = {}
    ex = executor()
    prog = _Progress(progress, sum(ch.n_runs for ch in chunks), 0)
    try:
        stream = ex.run(chunks, {p: plan[0] for p, plan in enumerate(plans)},
                        lambda ch, n_threads: (t, species, ch.n_runs, seed, _NODES, ch.first_run, False, n_threads,
                                               None, weights, 1))
        try:
            for ch, x in stream:
                if ch.point not in outs:
                    outs[ch.point] = np.empty((len(plans[ch.point][0].population.values),) + x.shape[1:])
                outs[ch.point][ch.first_run:ch.first_run + ch.n_runs] = x
                prog.update(ch.n_runs, {"point": ch.point, "chunk": ch.index, "where": ex.description,
                                        "phase": "interpolation grid"})
        finally:
            stream.close()
    finally:
        prog.close()
        ex.close()
    out_payloads, rows = [], []
    for p, ((listed, n_grid, dims, axes, checked), pl) in enumerate(zip(plans, payloads)):
        x = outs[p]
        grid = _Grid(dims, axes, x[:n_grid].reshape(tuple(len(a) for a in axes) + x.shape[1:]) if dims else x[0])
        exact = x[n_grid:]
        err = np.abs(grid(listed.population.values[n_grid:]) - exact).max(axis=0)
        top = np.abs(exact).max(axis=0)
        rel = np.divide(err, top, out=np.where(err > 0, np.inf, 0.0), where=top > 0)
        k, j = np.unravel_index(int(np.argmax(rel)), rel.shape)
        names = listed.population.names
        row = {"point": p, "parameters": [names[d] for d in dims], "nodes_per_parameter": n_nodes,
               "nodes": n_grid, "checked_cells": len(checked), "tolerance": tol, "max_abs_error": float(err.max()),
               "max_rel_error": float(rel.max()), "worst": {"time": float(t[k]), "output": int(j)}}
        if rel.max() > tol:
            raise EnsembleError(f"interpolate: point {p}: on {len(checked)} cells checked against their exact ODE the "
                                f"interpolant ({n_nodes} nodes per parameter) is off by up to {rel.max():.2g} of the "
                                f"output's largest value (output {j}, t = {t[k]:g}); the tolerance is {tol:g}. Use "
                                f"more nodes, a looser tolerance if that error is acceptable, or the exact ODE "
                                f"population (no interpolate); nothing was written")
        fp = hashlib.sha256((f"{pl.fingerprint};interpolate;{n_nodes};" + ";".join(
            f"{d}:{a[0]!r}:{a[-1]!r}" for d, a in zip(dims, axes))).encode()).hexdigest()
        out_payloads.append(dataclasses.replace(pl, fingerprint=fp, grid=grid))
        rows.append(row)
    return out_payloads, rows


class _Inline:
    """Embedded: chunks one after the other in this process, each parallel over Numba threads."""

    slots = 1
    description = "embedded"

    def __init__(self, threads):
        self.threads = threads

    def run(self, chunks, payloads, args_of):
        for ch in chunks:
            p = payloads[ch.point]
            yield ch, _chunk_task(p, *args_of(ch, self.threads))

    def close(self):
        pass


class _Dask:
    """Chunks as Dask tasks; at most ~2 per worker thread in flight (bounded client memory)."""

    def __init__(self, client, cluster=None, description="dask", task_threads=1):
        self.client = client
        self.cluster = cluster
        self.description = description
        self.task_threads = task_threads

    _slots = (0.0, 1)

    @property
    def slots(self) -> int:
        """Worker threads on the cluster now (asked at most once a second: workers come and go)."""
        when, n = self._slots
        if time.monotonic() - when > 1.0:
            try:
                n = max(1, sum(self.client.nthreads().values()))
            except Exception:  # pragma: no cover - scheduler gone
                n = 1
            self._slots = (time.monotonic(), n)
        return n

    def run(self, chunks, payloads, args_of):
        from distributed import as_completed

        client = self.client
        tag = uuid.uuid4().hex[:12]
        scattered = {}
        for p, pl in payloads.items():
            scattered[p] = client.scatter(pl.for_workers(), broadcast=True, hash=False)
        it = iter(chunks)
        ac = as_completed(loop=client.loop)  # this client's loop, not the default client's
        inflight: dict = {}
        inflight_futures: dict = {}

        def top_up():
            limit = max(4, 2 * self.slots)
            while len(inflight) < limit:
                ch = next(it, None)
                if ch is None:
                    return
                fut = client.submit(_chunk_task, scattered[ch.point], *args_of(ch, self.task_threads),
                                    key=f"il2sbml-chunk-{tag}-{ch.point}-{ch.index}", pure=False)
                inflight[fut.key] = ch
                inflight_futures[fut.key] = fut
                ac.add(fut)

        try:
            top_up()
            for fut in ac:
                ch = inflight.pop(fut.key)
                inflight_futures.pop(fut.key, None)
                try:
                    res = fut.result()
                except Exception as exc:
                    if isinstance(exc, Il2sbmlError) or type(exc).__name__ == "SimulationError":
                        raise
                    raise EnsembleError(f"chunk {ch.index} (runs {ch.first_run}..{ch.first_run + ch.n_runs - 1}"
                                        f"{', point ' + str(ch.point) if len(payloads) > 1 else ''}) failed on a "
                                        f"worker: {type(exc).__name__}: {exc}") from exc
                fut.release()
                yield ch, res
                top_up()
        finally:
            ac.clear()
            try:
                client.cancel(list(inflight_futures.values()) + list(scattered.values()), force=True)
            except Exception:  # pragma: no cover - cluster already gone
                pass

    def close(self):
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()


def _executor(scheduler, scheduler_file, workers, threads, connect_timeout):
    given = [n for n, v in (("scheduler", scheduler), ("scheduler_file", scheduler_file), ("workers", workers))
             if v is not None]
    if len(given) > 1:
        raise EnsembleError("choose one of --scheduler, --scheduler-file and --workers (got "
                            + ", ".join("--" + g.replace("_", "-") for g in given) + ")")
    if not given:
        return _Inline(threads)
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - dependency declared
        raise EnsembleError(f"Dask distributed is not installed ({exc}); pip install distributed") from None
    import logging

    if workers is not None:
        workers = int(workers)
        if workers < 1:
            raise EnsembleError(f"--workers must be >= 1, got {workers}")
        # task errors come back through the futures; CRITICAL hides the shutdown chatter of workers
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.CRITICAL, memory_limit=0)
        client = Client(cluster)
        return _Dask(client, cluster, f"{workers} local worker process(es)", task_threads=threads or 1)
    try:
        if scheduler_file is not None:
            if not os.path.exists(scheduler_file):
                raise EnsembleError(f"--scheduler-file {scheduler_file}: no such file (start the scheduler with "
                                    "'dask scheduler --scheduler-file FILE')")
            client = Client(scheduler_file=scheduler_file, timeout=connect_timeout)
            where = f"scheduler from {scheduler_file}"
        else:
            client = Client(scheduler, timeout=connect_timeout)
            where = f"scheduler {scheduler}"
    except EnsembleError:
        raise
    except Exception as exc:
        what = f"scheduler file {scheduler_file}" if scheduler_file else f"scheduler {scheduler}"
        raise EnsembleError(f"cannot reach the Dask {what} within {connect_timeout} s: "
                            f"{type(exc).__name__}: {exc}") from None
    try:
        client.wait_for_workers(1, timeout=connect_timeout)
    except Exception:
        client.close()
        raise EnsembleError(f"no worker connected to the {where} within {connect_timeout} s "
                            "(start some with 'dask worker ADDRESS --nthreads 1')") from None
    return _Dask(client, None, where, task_threads=threads or 1)


# ---------------------------------------------------------------------------------------------
# exact totals
# ---------------------------------------------------------------------------------------------


class _Totals:
    """Exact per-point sums (Python integers) merged from chunk records in any order."""

    def __init__(self, shape):
        self.s1 = np.zeros(shape, dtype=object)
        self.s2 = np.zeros(shape, dtype=object)
        self.n = 0
        self.n_events = 0
        self.chunks: set = set()
        self.dist = None   # kernels.stats.DistributionSums of the chunks so far (populations)

    def add(self, k, sum_x, sum_x2, n, n_events, dist=None):
        from kernels import words_to_ints

        if k in self.chunks:  # never count a chunk twice (a chunk record is idempotent)
            raise EnsembleError(f"internal error: chunk {k} merged twice")
        self.chunks.add(k)
        if dist is not None:
            import kernels.stats

            self.dist = dist if self.dist is None else kernels.stats.merge([self.dist, dist])
        self.s1 = self.s1 + words_to_ints(np.asarray(sum_x))
        self.s2 = self.s2 + words_to_ints(np.asarray(sum_x2))
        self.n += int(n)
        self.n_events += int(n_events)

    def result(self, t, species, method, exact, trajectories):
        import kernels
        from kernels import exact_moments, ints_to_words

        s1, s2 = ints_to_words(self.s1), ints_to_words(self.s2)
        mean, sd = exact_moments(s1, s2, self.n)
        return kernels.EnsembleResult(t, species, mean, sd, self.n, method, exact, self.n_events,
                                      trajectories, 0, s1, s2)


# ---------------------------------------------------------------------------------------------
# the Zarr store
# ---------------------------------------------------------------------------------------------


def _dir_has(path, name):
    return os.path.isfile(os.path.join(path, name))


class _Store:
    """One ensemble (or sweep) in a Zarr v3 group; see the module docstring for the layout."""

    ARRAYS = ("time", "species_index", "sweep_values", "chunk_sums", "chunk_info", "mean", "sd")

    def __init__(self, path, group, meta):
        self.path = path
        self.group = group
        self.meta = meta
        self.chunk_sums = group["chunk_sums"]
        self.chunk_info = group["chunk_info"]
        self.trajectories = group["trajectories"] if meta["keep_trajectories"] else None
        self.population = bool(meta.get("population"))

    # -- opening
    @staticmethod
    def read_meta(path) -> dict:
        """The store's metadata, or StoreError for a foreign or corrupted folder (reads only)."""
        if not os.path.exists(path):
            raise StoreError(f"{path}: no such store")
        if not os.path.isdir(path):
            raise StoreError(f"{path}: not a Zarr store (a file, not a folder); nothing was changed")
        zj = os.path.join(path, "zarr.json")
        if not os.path.isfile(zj):
            raise StoreError(f"{path}: not an il2sbml ensemble store (no zarr.json: a foreign or damaged folder); "
                             "nothing was changed")
        try:
            with open(zj, encoding="utf-8") as fh:
                top = json.load(fh)
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise StoreError(f"{path}: corrupted store: zarr.json is unreadable ({exc}); nothing was changed") from None
        if not isinstance(top, dict) or top.get("zarr_format") != 3 or top.get("node_type") != "group":
            raise StoreError(f"{path}: not an il2sbml ensemble store (zarr.json is not a Zarr v3 group); "
                             "nothing was changed")
        meta = (top.get("attributes") or {}).get(_ATTR)
        if not isinstance(meta, dict) or meta.get("format") != STORE_FORMAT:
            raise StoreError(f"{path}: a foreign Zarr store (no {_ATTR!r} attributes of format {STORE_FORMAT}); "
                             "nothing was changed")
        if meta.get("version") != STORE_VERSION:
            raise StoreError(f"{path}: store format version {meta.get('version')!r}, this il2sbml reads version "
                             f"{STORE_VERSION}; nothing was changed")
        need = ("fingerprints", "seed", "n_runs", "chunk_size", "n_chunks", "method", "time", "species",
                "species_index", "keep_trajectories", "sweep", "complete")
        missing = [k for k in need if k not in meta]
        if missing:
            raise StoreError(f"{path}: corrupted store: attributes lack {', '.join(missing)}; nothing was changed")
        return meta

    @classmethod
    def open_existing(cls, path, want: dict) -> "_Store":
        meta = cls.read_meta(path)
        diffs = _meta_diffs(meta, want)
        if diffs:
            raise StoreError(f"{path}: this store holds a different ensemble; nothing was changed. Differences "
                             "(store vs now): " + "; ".join(diffs)
                             + ". Resume with the same model and settings, or choose a new --store path")
        import zarr

        try:
            group = zarr.open_group(path, mode="r+")
            P, K, T, Q = len(meta["fingerprints"]), meta["n_chunks"], len(meta["time"]), len(meta["species"])
            shapes = {"chunk_sums": (P, K, 2, T, Q, 2), "chunk_info": (P, K, 2), "mean": (P, T, Q), "sd": (P, T, Q),
                      "time": (T,), "species_index": (Q,)}
            if meta["keep_trajectories"]:
                shapes["trajectories"] = (P, meta["n_runs"], T, Q)
            if meta.get("population"):
                shapes.update(_dist_shapes(P, K, T, Q, len(meta["population"]["parameters"])))
            for name, shape in shapes.items():
                a = group[name]
                if tuple(a.shape) != shape:
                    raise StoreError(f"{path}: corrupted store: array {name} has shape {tuple(a.shape)}, "
                                     f"expected {shape}; nothing was changed")
            if not np.array_equal(group["time"][:], np.asarray(meta["time"], np.float64)):
                raise StoreError(f"{path}: corrupted store: the time array differs from the recorded grid")
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"{path}: corrupted store: {type(exc).__name__}: {exc}; nothing was changed") from None
        return cls(path, group, meta)

    @classmethod
    def create(cls, path, meta, t, species_index, sweep_values, time_units) -> "_Store":
        import zarr
        import zarr.codecs

        if os.path.exists(path):
            raise StoreError(f"{path}: exists; pass --resume (resume=True) to continue it, or choose a new path "
                             "(nothing was changed)")
        parent = os.path.dirname(os.path.abspath(path)) or "."
        os.makedirs(parent, exist_ok=True)
        tmp = os.path.join(parent, f".{os.path.basename(os.path.abspath(path))}.{uuid.uuid4().hex[:8]}.creating")
        P, K, T, Q = len(meta["fingerprints"]), meta["n_chunks"], len(t), len(species_index)
        C = meta["chunk_size"]
        # zstd frames with a checksum: a damaged chunk file fails to decode instead of reading wrong
        # numbers; every committed chunk has its own files (written even when all zero), so a
        # record whose data file is missing is detected too
        zstd = zarr.codecs.ZstdCodec(level=3, checksum=True)
        every = {"write_empty_chunks": True}
        try:
            g = zarr.open_group(tmp, mode="w-")
            g.create_array("time", data=np.asarray(t, np.float64), chunks=(max(T, 1),), dimension_names=("time",),
                           attributes={"units": time_units, "description": "output times"})
            g.create_array("species_index", data=np.asarray(species_index, np.int64), chunks=(max(Q, 1),),
                           dimension_names=("species",),
                           attributes={"description": "index of each observed species in the model",
                                       "ids": list(meta["species"])})
            sv = np.asarray(sweep_values, np.float64).reshape(P, -1)
            g.create_array("sweep_values", data=sv, chunks=sv.shape, dimension_names=("point", "parameter"),
                           attributes={"parameters": list(meta["sweep"]["parameters"]) if meta["sweep"] else [],
                                       "description": "parameter values of each sweep point"})
            g.create_array("chunk_sums", shape=(P, K, 2, T, Q, 2), chunks=(1, 1, 2, T, Q, 2), dtype="uint64",
                           fill_value=0, compressors=zstd, config=every,
                           dimension_names=("point", "chunk", "moment", "time", "species", "word"),
                           attributes={"units": ["molecule", "molecule^2"],
                                       "description": "exact per-chunk sums of counts (moment 0) and squared counts "
                                                      "(moment 1) as 128-bit integers, (lo, hi) uint64 words"})
            g.create_array("chunk_info", shape=(P, K, 2), chunks=(1, 1, 2), dtype="int64", fill_value=0,
                           compressors=zstd, config=every, dimension_names=("point", "chunk", "field"),
                           attributes={"fields": ["runs", "reaction_events"],
                                       "description": "written last for a finished chunk (the commit record); "
                                                      "runs == 0: not done"})
            for name, what in (("mean", "mean count"), ("sd", "sample standard deviation of the count (n - 1)")):
                g.create_array(name, shape=(P, T, Q), chunks=(1, T, Q), dtype="float64", fill_value=float("nan"),
                               dimension_names=("point", "time", "species"),
                               attributes={"units": "molecule", "description": what + " over all runs"})
            if meta.get("population"):
                _create_dist_arrays(g, P, K, T, Q, meta["population"]["parameters"], zstd, every)
            if meta["keep_trajectories"]:
                g.create_array("trajectories", shape=(P, meta["n_runs"], T, Q),
                               chunks=(1, _traj_zarr_chunk(C, T, Q), T, Q), dtype="int64", fill_value=0,
                               compressors=zstd, dimension_names=("point", "run", "time", "species"),
                               attributes={"units": "molecule", "description": "molecule counts of every run"})
            g.attrs[_ATTR] = meta
            if not os.path.exists(path):
                os.rename(tmp, path)  # the whole skeleton appears at once
        finally:
            if os.path.exists(tmp):
                shutil.rmtree(tmp, ignore_errors=True)
        if not _dir_has(path, "zarr.json"):
            raise StoreError(f"{path}: appeared while the store was being created; nothing was changed")
        return cls.open_existing(path, meta)

    # -- chunks
    def done(self) -> np.ndarray:
        """int64[P, K]: runs of each finished chunk (0: not done)."""
        try:
            return np.asarray(self.chunk_info[:, :, 0], dtype=np.int64)
        except Exception as exc:
            raise StoreError(f"{self.path}: corrupted store: chunk records unreadable ({type(exc).__name__}: {exc}); "
                             "nothing was changed") from None

    def read_chunk(self, p, k):
        where = f"chunk {k}" + (f" of point {p}" if self.meta["sweep"] else "")
        if not os.path.isfile(os.path.join(self.path, "chunk_sums", "c", str(p), str(k), "0", "0", "0", "0")):
            raise StoreError(f"{self.path}: corrupted store: {where} is recorded as done but its sums are missing; "
                             "nothing was changed")
        try:
            sums = np.asarray(self.chunk_sums[p, k])
            info = np.asarray(self.chunk_info[p, k])
        except Exception as exc:
            raise StoreError(f"{self.path}: corrupted store: {where} is unreadable ({type(exc).__name__}: {exc}); "
                             "nothing was changed") from None
        return sums[0], sums[1], int(info[0]), int(info[1])

    def read_dist(self, p, k, n):
        """The distribution sums of a finished chunk (populations)."""
        import kernels.stats

        where = f"chunk {k}" + (f" of point {p}" if self.meta["sweep"] else "")
        try:
            g = self.group
            m34 = np.asarray(g["chunk_moments34"][p, k])
            cov = np.asarray(g["chunk_covariates"][p, k])
            return kernels.stats.DistributionSums(n, m34[0], m34[1], np.asarray(g["chunk_hist"][p, k]), cov[0],
                                                  cov[1], np.asarray(g["chunk_sqx"][p, k]))
        except Exception as exc:
            raise StoreError(f"{self.path}: corrupted store: the distribution sums of {where} are unreadable "
                             f"({type(exc).__name__}: {exc}); nothing was changed") from None

    def write_chunk(self, p, k, first, res, dist=None):
        if self.trajectories is not None:
            self.trajectories[p, first:first + res.n_runs] = res.trajectories
        self.chunk_sums[p, k] = np.stack([res.sum_x, res.sum_x2])
        if self.population:
            g = self.group
            g["chunk_moments34"][p, k] = np.stack([dist.s3, dist.s4])
            g["chunk_hist"][p, k] = dist.hist
            g["chunk_covariates"][p, k] = np.stack([dist.sq, dist.sq2])
            g["chunk_sqx"][p, k] = dist.sqx
        self.chunk_info[p, k] = np.array([res.n_runs, res.n_events], np.int64)  # the commit record: last

    def finish(self, results, distributions=None, interpolation=None):
        for p, r in enumerate(results):
            self.group["mean"][p] = r.mean
            self.group["sd"][p] = r.sd
            if self.population:
                d = distributions[p]
                for name in ("skew", "kurtosis", "quantiles", "cov", "corr", "hist"):
                    self.group[name][p] = d[name]
        meta = dict(self.meta)
        meta["complete"] = True
        meta["n_events"] = [int(r.n_events) for r in results]
        if interpolation:
            meta["interpolation_check"] = interpolation
        self.group.attrs[_ATTR] = meta
        self.meta = meta

    def clean_partials(self):
        for root, _dirs, files in os.walk(self.path):
            for f in files:
                if f.endswith(".partial"):
                    try:
                        os.unlink(os.path.join(root, f))
                    except OSError:
                        pass


def _dist_shapes(P, K, T, Q, k) -> dict:
    from kernels.stats import N_BINS, QUANTILES

    return {"chunk_moments34": (P, K, 2, T, Q, 2), "chunk_hist": (P, K, T, Q, N_BINS),
            "chunk_covariates": (P, K, 2, k, 2), "chunk_sqx": (P, K, T, Q, k, 2), "skew": (P, T, Q),
            "kurtosis": (P, T, Q), "quantiles": (P, len(QUANTILES), T, Q), "cov": (P, T, Q, k),
            "corr": (P, T, Q, k), "hist": (P, T, Q, N_BINS)}


def _create_dist_arrays(g, P, K, T, Q, names, zstd, every) -> None:
    """The arrays of a population's store: per-chunk exact distribution sums (written before the
    chunk's commit record) and the statistics of all runs (written at the end)."""
    from kernels.stats import N_BINS, QUANTILES, bin_edges

    k = len(names)
    words = {"dtype": "uint64", "fill_value": 0, "compressors": zstd, "config": every}
    g.create_array("chunk_moments34", shape=(P, K, 2, T, Q, 2), chunks=(1, 1, 2, T, Q, 2), **words,
                   dimension_names=("point", "chunk", "moment", "time", "species", "word"),
                   attributes={"units": ["molecule^3", "molecule^4"],
                               "description": "exact per-chunk sums of x^3 and x^4, 128-bit (lo, hi) words"})
    g.create_array("chunk_hist", shape=(P, K, T, Q, N_BINS), chunks=(1, 1, T, Q, N_BINS), dtype="int64",
                   fill_value=0, compressors=zstd, config=every,
                   dimension_names=("point", "chunk", "time", "species", "bin"),
                   attributes={"description": "runs per count bin (kernels.stats.bin_edges)",
                               "bin_lower_edges": [float(e) for e in bin_edges()[:-1]]})
    g.create_array("chunk_covariates", shape=(P, K, 2, max(k, 0), 2), chunks=(1, 1, 2, max(k, 1), 2), **words,
                   dimension_names=("point", "chunk", "moment", "parameter", "word"),
                   attributes={"parameters": list(names),
                               "description": "exact per-chunk sums of q and q^2, q the fixed-point parameter"})
    g.create_array("chunk_sqx", shape=(P, K, T, Q, max(k, 0), 2), chunks=(1, 1, T, Q, max(k, 1), 2), **words,
                   dimension_names=("point", "chunk", "time", "species", "parameter", "word"),
                   attributes={"parameters": list(names), "description": "exact per-chunk sums of q x"})
    final = {"dtype": "float64", "fill_value": float("nan")}
    for name, shape, dims, units, what in (
            ("skew", (P, T, Q), ("point", "time", "species"), "1", "skewness g1 = m3 / m2^1.5 (population)"),
            ("kurtosis", (P, T, Q), ("point", "time", "species"), "1", "excess kurtosis g2 = m4 / m2^2 - 3"),
            ("quantiles", (P, len(QUANTILES), T, Q), ("point", "quantile", "time", "species"), "molecule",
             f"inverted-CDF quantiles {list(QUANTILES)} from the histogram (exact below 100, else within 0.58 %)"),
            ("cov", (P, T, Q, k), ("point", "time", "species", "parameter"), "molecule x parameter unit",
             "sample covariance of each sampled parameter with each species"),
            ("corr", (P, T, Q, k), ("point", "time", "species", "parameter"), "1", "their correlation")):
        g.create_array(name, shape=shape, chunks=shape[:1] and (1,) + shape[1:], dimension_names=dims,
                       attributes={"units": units, "description": what, "parameters": list(names)}, **final)
    g.create_array("hist", shape=(P, T, Q, N_BINS), chunks=(1, T, Q, N_BINS), dtype="int64", fill_value=0,
                   dimension_names=("point", "time", "species", "bin"),
                   attributes={"description": "runs per count bin over all runs",
                               "bin_lower_edges": [float(e) for e in bin_edges()[:-1]]})


def _traj_zarr_chunk(C, T, Q) -> int:
    """Largest divisor of C whose (runs, T, Q) int64 block is at most ~16 MiB (>= 1): each ensemble
    chunk then writes whole Zarr chunks only."""
    per = max(1, T * Q * 8)
    cap = max(1, _TRAJ_ZARR_CHUNK_BYTES // per)
    if C <= cap:
        return C
    best = 1
    for d in range(1, int(math.isqrt(C)) + 1):
        if C % d == 0:
            for e in (d, C // d):
                if e <= cap and e > best:
                    best = e
    return best


_COMPARED = (("fingerprints", "model fingerprint(s)"), ("seed", "seed"), ("n_runs", "runs"),
             ("chunk_size", "chunk size"), ("method", "method"), ("time", "time grid"), ("time_units", "time units"),
             ("species", "species"), ("keep_trajectories", "keep trajectories"), ("sweep", "sweep"),
             ("interpolation", "interpolation"))


def _short(v):
    s = json.dumps(v)
    return s if len(s) <= 80 else s[:77] + "..."


def _meta_diffs(have: dict, want: dict) -> list:
    diffs = []
    for key, label in _COMPARED:
        a, b = have.get(key), want.get(key)
        if key == "fingerprints" and a != b:
            names = have.get("model_names"), want.get("model_names")
            diffs.append(f"{label}: another model ({_short(names[0])} {_short([x[:12] for x in a or []])} vs "
                         f"{_short(names[1])} {_short([x[:12] for x in b or []])})")
        elif a != b:
            diffs.append(f"{label}: {_short(a)} vs {_short(b)}")
    return diffs


def store_progress(path) -> tuple:
    """(finished runs, total runs, complete) of a store, read-only (for monitoring)."""
    meta = _Store.read_meta(path)
    import zarr

    info = zarr.open_group(path, mode="r")["chunk_info"]
    done = int(np.asarray(info[:, :, 0]).sum())
    return done, int(meta["n_runs"]) * len(meta["fingerprints"]), bool(meta["complete"])


def read_store(path) -> dict:
    """The statistics of a store: ``{"meta", "time", "species", "mean", "sd", "sweep_values"}``
    (``mean``/``sd``: float64[point, time, species]; NaN until the run is complete)."""
    meta = _Store.read_meta(path)
    import zarr

    g = zarr.open_group(path, mode="r")
    return {"meta": meta, "time": g["time"][:], "species": list(meta["species"]), "mean": g["mean"][:],
            "sd": g["sd"][:], "sweep_values": g["sweep_values"][:]}


# ---------------------------------------------------------------------------------------------
# progress
# ---------------------------------------------------------------------------------------------


class _Progress:
    """A one-line progress bar on stderr (runs/s, time left); a callable gets (done, total, info)."""

    def __init__(self, mode, total, done0, stream=None):
        self.mode = mode
        self.total = total
        self.done = done0
        self.done0 = done0
        self.t0 = time.perf_counter()
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.last = 0.0

    def update(self, n, info=None, force=False):
        self.done += n
        if callable(self.mode):
            self.mode(self.done, self.total, info or {})
            return
        if not self.mode:
            return
        now = time.perf_counter()
        if not force and now - self.last < (0.2 if self.tty else 10.0) and self.done < self.total:
            return
        self.last = now
        el = now - self.t0
        rate = (self.done - self.done0) / el if el > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else float("nan")
        frac = self.done / self.total if self.total else 1.0
        width = 24
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        line = (f"[{bar}] {self.done}/{self.total} runs ({100 * frac:.0f}%), {rate:,.0f} runs/s, "
                f"{_fmt_s(left)} left")
        self.stream.write(("\r" + line + "\x1b[K") if self.tty else line + "\n")
        self.stream.flush()

    def close(self):
        if self.mode is True and self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _fmt_s(s):
    if not math.isfinite(s):
        return "?"
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


# ---------------------------------------------------------------------------------------------
# the front end
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class EnsembleRun:
    """What :func:`run` returns: one ``kernels.EnsembleResult`` per sweep point and a summary."""

    results: list
    sweep: Sweep | None
    store: str | None
    n_runs: int
    chunk_size: int
    n_chunks: int
    chunks_computed: int
    chunks_reused: int
    wall_s: float
    where: str

    @property
    def result(self):
        """The single ensemble (no sweep)."""
        if self.sweep is not None:
            raise EnsembleError("a sweep has one result per point: use .results")
        return self.results[0]

    computed_runs: int = 0
    # populations: per point, kernels.stats.finish's dict (skew, kurtosis, quantiles, cov, corr) plus
    # "hist" (runs per count bin) and "parameters" (the sampled parameters, the covariances' order)
    distributions: list | None = None
    # interpolate=N: per point, the grid and its checked error (_interpolation_grids' rows)
    interpolation: list | None = None

    def summary(self) -> str:
        pts = len(self.results)
        rate = self.computed_runs / self.wall_s if self.wall_s > 0 else float("inf")
        ev = sum(r.n_events for r in self.results)
        return (f"{self.n_runs * pts} runs ({pts} point(s) x {self.n_runs}) in {self.n_chunks * pts} chunk(s) of "
                f"{self.chunk_size} runs, {self.where}: {self.chunks_computed} chunk(s) computed, "
                f"{self.chunks_reused} reused from the store; {self.computed_runs} runs in {self.wall_s:.2f} s "
                f"({rate:,.0f} runs/s), {ev} reaction events" + (f" -> {self.store}" if self.store else ""))


def default_chunk_size(n_runs: int, slots: int = 1) -> int:
    """About ``_CHUNKS_PER_SLOT`` chunks per worker slot, within 100 .. 10,000 runs (docs/cluster.md)."""
    per = -(-int(n_runs) // (_CHUNKS_PER_SLOT * max(1, int(slots))))
    return max(1, min(int(n_runs), _MAX_DEFAULT_CHUNK, max(_MIN_DEFAULT_CHUNK, per)))


def _resolve_method(method, arrays):
    import kernels

    if method == "ode":
        return "ode"
    if method not in kernels.METHODS:
        raise EnsembleError(f"method {method!r}: expected one of {', '.join(kernels.METHODS)}")
    if method == "auto":
        return kernels.choose_method(arrays.n_reactions)
    if method in ("tau", "tau_approx"):
        return "tau_approx"
    return method


def run(model, t_out, n_runs, seed, *, method="auto", chunk_size=None, species=None, species_ids=None,
        scheduler=None, scheduler_file=None, workers=None, threads=None, store=None, resume=False,
        keep_trajectories=False, sweep=None, progress=True, max_events=None, time_units="s",
        connect_timeout=30, observables=None, ode_scale=1, reduce=False, interpolate=0,
        interpolate_tol=None) -> EnsembleRun:
    """Run an SSA ensemble (or one per sweep point) in chunks; see the module docstring.

    model : ``kernels.NetworkArrays`` or :class:`ModelPayload` (see :func:`payload`); with a
        ``sweep``, a callable ``model(values: dict) -> NetworkArrays | ModelPayload`` giving each
        point's model (parameter names and value types are checked before anything runs).
    t_out, n_runs, seed, method, species, max_events : as ``kernels.run_ensemble``.
    chunk_size : runs per chunk (default: the store's on resume, else about 8 chunks per worker
        slot, 100 .. 10,000 runs). Never changes a result bit.
    scheduler / scheduler_file / workers : run on a Dask scheduler (``tcp://HOST:PORT``), on the one
        a scheduler file names, or on K local worker processes; none: embedded.
    threads : Numba threads per chunk (embedded: default all; on Dask workers: default 1, as
        each worker thread runs one chunk).
    store, resume, keep_trajectories : write a Zarr store (module docstring); continue one.
        ``keep_trajectories`` without a store returns the trajectories in memory.
    progress : True (a bar on stderr), False, or a callable ``(done_runs, total_runs, info)``.
    species_ids : names of the observed species (recorded in the store; default ``s<index+1>``).
    observables : int64[n_obs, len(species)] weights: report observables (weighted sums of the
        ``species`` read; ``species_ids`` then names the observables) instead of the species.
    reduce : SSA only: switch off the reactions that cannot change the observed species
        (:func:`kernels.upstream_reactions`: an exact reduction; the observed counts have the same
        law, drawn with fewer events, so not the same bits as the full network's).
    ode_scale : method "ode" only: the amounts are multiplied by this whole number before they are
        rounded, so every statistic is in units of 1 / ode_scale molecule (resolution for averages
        such as a co-culture's per-cell amounts); 1: whole molecules.
    interpolate : method "ode" only: N >= 6 (0: off): instead of one ODE per cell, the exact ODE at
        the nodes of a regular grid of N points per varied parameter (over their logs, from the
        run's smallest to largest cell; at most 4 parameters), and each cell's outputs from the
        grid's quintic spline. Checked before anything is written: the exact ODE of 100 evenly
        spaced cells and of the 20 cells farthest from the mean must agree with the interpolant
        within ``interpolate_tol`` (None: ``INTERPOLATE_TOL``, 1e-3) of the output's largest
        checked value at every time, else the
        run is refused (use more nodes, or no interpolation). The check is in
        ``EnsembleRun.interpolation`` and the store's ``interpolation``; every statistic is then
        of the interpolated cells, still bitwise the same for any threads, chunks or workers.

    Returns an :class:`EnsembleRun`; ``.result`` (or ``.results[p]`` per sweep point) is a
    ``kernels.EnsembleResult`` whose mean, sd, sum_x, sum_x2 and n_events are bitwise those of
    ``kernels.run_ensemble(arrays, t_out, n_runs, seed, method, species=species)``.
    """
    from kernels.ensemble import _check_species, _check_t_out

    t0 = time.perf_counter()
    n_runs = int(n_runs)
    if n_runs < 1:
        raise EnsembleError(f"n_runs must be >= 1, got {n_runs}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise EnsembleError(f"seed must be an integer, not {seed!r}")
    seed = int(seed)
    if chunk_size is not None and (isinstance(chunk_size, bool) or int(chunk_size) < 1):
        raise EnsembleError(f"chunk_size must be >= 1, got {chunk_size!r}")
    try:
        t = _check_t_out(t_out)
    except ValueError as exc:
        raise EnsembleError(str(exc)) from None

    # 1. every point's model: all errors (sweep values, parameter names) before any store is touched
    sw = Sweep.coerce(sweep)
    if sw is None:
        if callable(model) and not hasattr(model, "_asdict") and not isinstance(model, ModelPayload):
            raise EnsembleError("a model factory (callable) needs a sweep; give NetworkArrays otherwise")
        payloads = [payload(model)]
    else:
        if not callable(model) or hasattr(model, "_asdict") or isinstance(model, ModelPayload):
            raise EnsembleError("a sweep needs a model factory: model(values: dict) -> NetworkArrays")
        payloads = []
        for p in range(len(sw.points)):
            try:
                payloads.append(payload(model(sw.values(p))))
            except Il2sbmlError as exc:
                raise SweepError(f"sweep point {p} ({sw.label(p)}): {exc}") from None
    arrays0 = payloads[0].arrays if payloads[0].arrays is not None else payloads[0].materialize()
    n_species = arrays0.n_species
    for p, pl in enumerate(payloads[1:], start=1):
        a = pl.arrays if pl.arrays is not None else pl.materialize()
        if a.n_species != n_species:
            raise SweepError(f"sweep point {p} ({sw.label(p)}): the network has {a.n_species} species, point 0 has "
                             f"{n_species}; a sweep needs the same species at every point")
        if _resolve_method(method, a) != _resolve_method(method, arrays0):
            raise SweepError(f"sweep point {p}: method {method!r} resolves differently from point 0")
    try:
        obs = _check_species(species, n_species)
    except ValueError as exc:
        raise EnsembleError(str(exc)) from None
    W = None
    if observables is not None:
        W = np.ascontiguousarray(observables, np.int64)
        if W.ndim != 2 or W.shape[1] != len(obs) or W.shape[0] < 1 or np.any(W < 0):
            raise EnsembleError(f"observables: non-negative int64 weights of shape (n_obs, {len(obs)}) expected, "
                                f"got {W.shape}")
    n_out = len(obs) if W is None else W.shape[0]
    mname = _resolve_method(method, arrays0)
    if reduce and mname != "ode":
        import kernels

        reduced = []
        for pl in payloads:
            a = pl.arrays if pl.arrays is not None else pl.materialize()
            keep = kernels.upstream_reactions(a, obs) | a.law_reactions
            if keep.all():
                reduced.append(pl)
                continue
            a2 = a._replace(rates=np.where(keep, a.rates, 0.0))
            fp = hashlib.sha256(f"{pl.fingerprint};reduced;{keep.tobytes().hex()}".encode()).hexdigest()
            reduced.append(ModelPayload(fp, a2, pl.law_source, pl.round_initial, pl.name, pl.population, pl.sbml,
                                        pl.overrides, ~keep))
        payloads = reduced
    bad_scale = isinstance(ode_scale, bool) or int(ode_scale) != ode_scale or ode_scale < 1
    if bad_scale or (mname != "ode" and ode_scale != 1):
        raise EnsembleError(f"ode_scale must be a whole number >= 1, and is for method 'ode' only (got {ode_scale!r})")
    ode_scale = int(ode_scale)
    if mname != "ode" and any(pl.overrides for pl in payloads):
        raise EnsembleError("parameter overrides of a model payload apply to method 'ode' only")
    if mname == "ode" and any(pl.population is None or pl.sbml is None for pl in payloads):
        raise EnsembleError("method 'ode' (a deterministic population: one ODE per cell) needs a population and "
                            "the model's SBML: il2sbml ensemble MODEL --population FILE --method ode")
    interpolation = None
    if interpolate:
        if isinstance(interpolate, bool) or int(interpolate) != interpolate or interpolate < INTERPOLATE_MIN_NODES:
            raise EnsembleError(f"interpolate: N nodes per varied parameter, a whole number >= "
                                f"{INTERPOLATE_MIN_NODES} (quintic splines), got {interpolate!r}")
        if mname != "ode":
            raise EnsembleError("interpolate applies to the deterministic population (method 'ode') only")
        tol = INTERPOLATE_TOL if interpolate_tol is None else float(interpolate_tol)
        if not 0 < tol < 1:
            raise EnsembleError(f"interpolate_tol: a fraction of the output's largest value, between 0 and 1 "
                                f"(exclusive), got {interpolate_tol!r}")
        payloads, interpolation = _interpolation_grids(
            payloads, int(interpolate), t, obs, W, seed, n_runs, tol,
            lambda: _executor(scheduler, scheduler_file, workers, threads, connect_timeout), progress)
    ids = list(species_ids) if species_ids is not None else (
        [f"s{int(i) + 1}" for i in obs] if W is None else [f"observable{j + 1}" for j in range(n_out)])
    if len(ids) != n_out:
        raise EnsembleError(f"species_ids: {len(ids)} names for {n_out} " + ("species" if W is None else "observables"))
    # what the store and the results index: the species, or (observables) -1 per observable
    out_index = obs if W is None else np.full(n_out, -1, np.int64)

    # 2. the store: open (validated, read-only until it passes) or plan its creation
    st = None
    want = None
    if store is not None:
        for pl in payloads:
            if pl.fingerprint.startswith("unverifiable:"):
                raise EnsembleError("a store needs a verifiable model: compile its general kinetic laws with "
                                    "kernels.compile_law (their source fingerprints the model)")
        if resume and os.path.exists(store):
            stored = _Store.read_meta(store)
            if chunk_size is None:
                chunk_size = stored.get("chunk_size")
    if chunk_size is None:
        chunk_size = default_chunk_size(n_runs, workers if workers else
                                        (8 if scheduler is not None or scheduler_file is not None else 1))
    C = max(1, min(int(chunk_size), n_runs))
    K = -(-n_runs // C)
    if store is not None:
        want = {"format": STORE_FORMAT, "version": STORE_VERSION,
                "fingerprints": [pl.fingerprint for pl in payloads],
                "model_names": [pl.name for pl in payloads], "seed": seed, "n_runs": n_runs, "chunk_size": C,
                "n_chunks": K, "method": mname, "exact": mname not in ("tau_approx", "ode"),
                "time": [float(x) for x in t], "time_units": time_units, "species": ids,
                "species_index": [int(i) for i in out_index], "keep_trajectories": bool(keep_trajectories),
                "sweep": sw.to_json() if sw else None, "complete": False, "created_by": "il2sbml.simulate.ensemble"}
        if W is not None:
            want["observables"] = {"species_index": [int(i) for i in obs], "weights": W.tolist()}
        if ode_scale != 1:
            want["ode_scale"] = ode_scale
        if interpolation:
            want["interpolation"] = {"nodes_per_parameter": int(interpolate), "tolerance": tol}
        if payloads[0].population is not None:
            cells = payloads[0].population
            want["population"] = {"description": cells.population.describe(),
                                  "parameters": list(cells.population.names),
                                  "fixed_point_scale": [float(v) for v in cells.scale]}
        if resume and os.path.exists(store):
            st = _Store.open_existing(store, want)
        else:
            sv = np.asarray(sw.points, np.float64) if sw else np.zeros((1, 0))
            st = _Store.create(store, want, t, out_index, sv, time_units)

    # 3. what is already done
    P = len(payloads)
    totals = [_Totals((t.shape[0], n_out)) for _ in range(P)]
    todo = []
    reused = 0
    if st is not None:
        done = st.done()
        # read every finished chunk before computing anything: corruption is found before any write
        for p in range(P):
            for k in range(K):
                nk = min(C, n_runs - k * C)
                if done[p, k] == 0:
                    continue
                s1, s2, n_done, n_ev = st.read_chunk(p, k)
                if n_done != nk:
                    raise StoreError(f"{store}: corrupted store: chunk {k} records {n_done} runs, expected {nk}; "
                                     "nothing was changed")
                totals[p].add(k, s1, s2, n_done, n_ev, st.read_dist(p, k, n_done) if st.population else None)
                reused += 1
        st.clean_partials()
    for k in range(K):
        for p in range(P):
            if k not in totals[p].chunks:
                todo.append(_Chunk(p, k, k * C, min(C, n_runs - k * C)))

    keep = bool(keep_trajectories)
    traj_mem = None
    if keep and st is None:
        traj_mem = [np.empty((n_runs, t.shape[0], n_out), np.int64) for _ in range(P)]

    def args_of(ch, n_threads):
        return (t, obs, ch.n_runs, seed, method, ch.first_run, keep, n_threads, max_events, W, ode_scale)

    done_runs = sum(tt.n for tt in totals)
    prog = _Progress(progress, n_runs * P, done_runs)
    computed = 0
    computed_runs = 0
    ex = None
    where = "embedded"
    if todo:
        ex = _executor(scheduler, scheduler_file, workers, threads, connect_timeout)
        where = ex.description
        if isinstance(ex, _Inline):
            for pl in payloads:  # embedded: the arrays themselves (a compiled law is fine here)
                if pl.arrays is None:
                    pl.materialize()
        stream = ex.run(todo, dict(enumerate(payloads)), args_of)
        try:
            for ch, res in stream:
                dist = None
                if type(res) is tuple:   # a population: the run statistics and the distribution sums
                    res, dist = res
                if st is not None:
                    st.write_chunk(ch.point, ch.index, ch.first_run, res, dist)
                elif traj_mem is not None:
                    traj_mem[ch.point][ch.first_run:ch.first_run + ch.n_runs] = res.trajectories
                totals[ch.point].add(ch.index, res.sum_x, res.sum_x2, res.n_runs, res.n_events, dist)
                computed += 1
                computed_runs += ch.n_runs
                prog.update(ch.n_runs, {"point": ch.point, "chunk": ch.index, "where": where})
        finally:
            stream.close()  # cancels the chunks still in flight (error, Ctrl-C) before the cluster goes
            prog.close()
            ex.close()
    results = []
    for p in range(P):
        if totals[p].n != n_runs:  # pragma: no cover - guarded by the chunk bookkeeping
            raise EnsembleError(f"internal error: point {p} has {totals[p].n} runs, expected {n_runs}")
        results.append(totals[p].result(t, out_index, mname, mname not in ("tau_approx", "ode"),
                                        traj_mem[p] if traj_mem is not None else None))
    distributions = None
    if payloads[0].population is not None:
        import kernels.stats

        shift = payloads[0].population.shift
        distributions = []
        for p in range(P):
            d = kernels.stats.finish(results[p].sum_x, results[p].sum_x2, totals[p].dist, shift)
            d["hist"] = totals[p].dist.hist
            d["parameters"] = list(payloads[0].population.population.names)
            distributions.append(d)
    if st is not None:
        st.finish(results, distributions, interpolation)
    return EnsembleRun(results, sw, store, n_runs, C, K, computed, reused, time.perf_counter() - t0, where,
                       computed_runs, distributions, interpolation)


# ---------------------------------------------------------------------------------------------
# CLI glue (il2sbml.cli wires these into 'il2sbml ensemble')
# ---------------------------------------------------------------------------------------------


def add_ensemble_arguments(parser) -> None:
    """Add the chunked/distributed/stored ensemble options to the ``ensemble`` sub-parser."""
    g = parser.add_argument_group("chunks, workers, store and sweeps (results do not depend on them)")
    g.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run the chunks on this Dask scheduler's workers")
    g.add_argument("--scheduler-file", metavar="FILE", help="... on the scheduler that FILE names "
                   "('dask scheduler --scheduler-file FILE')")
    g.add_argument("--workers", type=int, metavar="K", help="run on K local worker processes (no server to start); "
                   "default: embedded, Numba threads (--threads)")
    g.add_argument("--chunk-size", type=int, metavar="C", help="runs per chunk (task and store commit); default: "
                   "the store's on --resume, else ~8 chunks per worker, 100..10000 runs")
    g.add_argument("--store", metavar="OUT.zarr", help="write statistics (and with --keep-trajectories every run) "
                   "to a Zarr store, chunk by chunk")
    g.add_argument("--resume", action="store_true", help="continue an interrupted --store run (only missing chunks)")
    g.add_argument("--keep-trajectories", action="store_true", help="store every run's samples (needs --store)")
    g.add_argument("--sweep", action="append", metavar="NAME=v1,v2,...|SETS.csv",
                   help="one ensemble per parameter value (repeat for a grid) or per CSV row; same seed at every point")
    g.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    g.add_argument("--reduce", action="store_true",
                   help="SSA: simulate only the reactions that can change the observed species or observables (exact "
                        "for them; e.g. pSTAT5 without the Akt/ERK cascades: 3.4x fewer events)")
    g.add_argument("--observables", metavar="NAMES",
                   help="report these model observables (comma-separated, e.g. pSTAT5) instead of species")
    g.add_argument("--distribution-csv", metavar="OUT.csv",
                   help="with --population: per sweep point, time and species the population's mean, sd, "
                        "variance/mean^2, skewness, excess kurtosis, quantiles and each sampled parameter's "
                        "covariance and correlation with the species")
    g.add_argument("--population", metavar="FILE.csv",
                   help="every run is a cell with its own parameters drawn from FILE (log-normal per parameter, or an "
                        "empirical table of cells; see il2sbml.simulate.population); the seed fixes the cells")


def distribution_table(res: EnsembleRun, ids) -> str:
    """The population statistics of a run as CSV text: one row per (sweep point, time, species).

    Columns: ``point`` (the sweep label, or empty), ``time``, ``species``, ``n``, ``mean`` and
    ``sd`` (molecules), ``var_over_mean2`` (variance / mean^2), ``skew``, ``kurtosis`` (excess),
    ``q05`` ... ``q95`` (molecules; from the histogram, exact below 100, else within 0.58 %), then
    ``cov_<p>`` (molecules times p's unit) and ``corr_<p>`` for each sampled parameter p."""
    from kernels.stats import QUANTILES

    from . import select

    d0 = res.distributions[0]
    names = d0["parameters"]
    header = (["point", "time", "species", "n", "mean", "sd", "var_over_mean2", "skew", "kurtosis"]
              + [f"q{round(q * 100):02d}" for q in QUANTILES] + [f"cov_{p}" for p in names]
              + [f"corr_{p}" for p in names])
    rows = []
    for p, (r, d) in enumerate(zip(res.results, res.distributions)):
        label = res.sweep.label(p) if res.sweep is not None else ""
        for k, tk in enumerate(r.t):
            for j, sid in enumerate(ids):
                m, sd = float(r.mean[k, j]), float(r.sd[k, j])
                rows.append([label, float(tk), sid, r.n_runs, m, sd, sd * sd / (m * m) if m else float("nan"),
                             float(d["skew"][k, j]), float(d["kurtosis"][k, j])]
                            + [float(v) for v in d["quantiles"][:, k, j]]
                            + [float(v) for v in d["cov"][k, j]] + [float(v) for v in d["corr"][k, j]])
    return select.csv_table(rows, header)


def _sweep_csv_path(path: str, label: str) -> str:
    root, ext = os.path.splitext(path)
    return f"{root}.{label}{ext or '.csv'}"


def command_run(args):
    """The run behind ``il2sbml ensemble`` (and ``il2sbml noise``): the model file, cell type,
    population, sweep and outputs of the options; returns ``(EnsembleRun, ids, sweep, t)``."""
    from . import select
    from .compile import compile_network

    if args.runs < 1:
        raise Il2sbmlError("--runs must be at least 1")
    if getattr(args, "distribution_csv", None) and not getattr(args, "population", None):
        raise EnsembleError("--distribution-csv needs --population FILE.csv (the distribution over cells)")
    store = getattr(args, "store", None)
    if getattr(args, "keep_trajectories", False) and not store:
        raise EnsembleError("--keep-trajectories needs --store OUT.zarr (trajectories are written, not held in memory)")
    if getattr(args, "resume", False) and not store:
        raise EnsembleError("--resume needs --store OUT.zarr")
    sweep = parse_sweep(getattr(args, "sweep", None))
    t = select.time_grid(args)
    round_initial = getattr(args, "round_initial", False)
    path = args.model
    is_sbml = path.endswith(".xml") or path.endswith(".sbml")

    population = getattr(args, "population", None)
    if population:
        from .population import read_population

        population = read_population(population)

    ode = args.method == "ode"
    if ode and population is None:
        raise EnsembleError("--method ode simulates a deterministic population (one ODE per cell): give "
                            "--population FILE.csv")

    def compiled(net, sbml=None, overrides=None):
        """The payload of one network; with method "ode" its SBML (or ``sbml``, a shared one on which
        ``overrides`` set this point's values)."""
        arrays = compile_network(net, round_initial=round_initial or ode)
        cells = None
        if population is not None:
            from .population import sampler

            cells = sampler(net, population)
        if ode and sbml is None:
            from ..formats.sbml import write_sbml

            sbml = write_sbml(net)
        return payload(arrays, round_initial=round_initial, name=os.path.basename(path), population=cells,
                       sbml=sbml, overrides=overrides)

    wanted_obs = getattr(args, "observables", None)
    if wanted_obs and args.species:
        raise EnsembleError("give --species or --observables, not both")
    W = None
    if sweep is None:
        net = select.load_network(path, args)
        idx, ids = select.pick_species(net, args.species)
        if wanted_obs:
            idx, W, ids = select.pick_observables(net, wanted_obs)
        model = compiled(net)
    else:
        if is_sbml:
            raise SweepError(f"{path}: --sweep sets model parameters of a model file (.py, .bngl); not supported "
                             "for SBML input yet")
        from ..formats.load import load_model
        from ..generate.netgen import generate_network

        base = load_model(path)
        if getattr(args, "cell_type", None):
            base = base.with_parameter_set(args.cell_type)
        for name in sweep.names:
            prm = base.parameters.get(name)
            if prm is None:
                raise SweepError(f"--sweep: model {base.name!r} has no parameter {name!r}")
            if not prm.expr.is_number():
                raise SweepError(f"--sweep: parameter {name!r} is derived ({prm.expr.text}); sweep the parameters "
                                 "it is made of")
        nets = []
        for p in range(len(sweep.points)):
            m = base
            m.parameter_sets.pop("_sweep_point", None)
            m.parameter_set("_sweep_point", sweep.values(p))
            variant = m.with_parameter_set("_sweep_point")
            m.parameter_sets.pop("_sweep_point", None)
            nets.append(generate_network(variant, **select.limits(args)))
        idx, ids = select.pick_species(nets[0], args.species)
        if wanted_obs:
            idx, W, ids = select.pick_observables(nets[0], wanted_obs)
        ids0 = select.species_ids(nets[0])
        for p, n in enumerate(nets[1:], start=1):
            if select.species_ids(n) != ids0:
                raise SweepError(f"sweep point {p} ({sweep.label(p)}): the network's species differ from point 0's; "
                                 "a sweep needs the same species at every point")
        if ode:   # one compiled SBML for every point: the sweep values are set on it per cell
            from ..formats.sbml import write_sbml

            sbml0 = write_sbml(nets[0])
            points = [compiled(n, sbml0, sweep.values(p)) for p, n in enumerate(nets)]
        else:
            points = [compiled(n) for n in nets]
        by_values = {sweep.points[p]: points[p] for p in range(len(points))}

        def model(values):
            return by_values[tuple(float(values[n]) for n in sweep.names)]

    quiet = getattr(args, "quiet", False)
    res = run(model, t, args.runs, args.seed, method=args.method, chunk_size=getattr(args, "chunk_size", None),
              species=idx, species_ids=ids, scheduler=getattr(args, "scheduler", None),
              scheduler_file=getattr(args, "scheduler_file", None), workers=getattr(args, "workers", None),
              threads=getattr(args, "threads", None), store=store, resume=getattr(args, "resume", False),
              keep_trajectories=getattr(args, "keep_trajectories", False), sweep=sweep,
              progress=not quiet, observables=W, reduce=getattr(args, "reduce", False),
              interpolate=getattr(args, "interpolate", 0) or 0,
              interpolate_tol=getattr(args, "interpolate_tol", None))
    return res, ids, sweep, t


def ensemble_command(args) -> int:
    """``il2sbml ensemble``.

    Without the new options it runs one embedded ``kernels.run_ensemble`` call and writes the same
    --stats-csv bytes and stdout line as before.
    """
    from ..formats.files import atomic_write
    from . import select

    stats_csv = getattr(args, "stats_csv", None)
    store = getattr(args, "store", None)
    dist_csv = getattr(args, "distribution_csv", None)
    if not stats_csv and not store and not dist_csv:
        raise EnsembleError("give --stats-csv OUT.csv and/or --store OUT.zarr")
    res, ids, sweep, t = command_run(args)
    quiet = getattr(args, "quiet", False)
    header = ["time"] + [f"{i}-mean" for i in ids] + [f"{i}-sd" for i in ids]
    written = []
    for p, r in enumerate(res.results):
        if not stats_csv:
            break
        out = stats_csv if sweep is None else _sweep_csv_path(stats_csv, sweep.label(p))
        rows = [[float(ti)] + [float(v) for v in r.mean[k]] + [float(v) for v in r.sd[k]] for k, ti in enumerate(t)]
        atomic_write(out, select.csv_table(rows, header))
        written.append(out)
    if dist_csv:
        atomic_write(dist_csv, distribution_table(res, ids))
        written.append(dist_csv)
    r0 = res.results[0]
    kind = ("deterministic population, one ODE per cell, counts rounded to whole molecules" if r0.method == "ode"
            else "exact" if r0.exact else "APPROXIMATE (tau-leaping)")
    if res.interpolation:
        g = res.interpolation
        kind = (f"deterministic population interpolated on {g[0]['nodes']} exact ODEs per point "
                f"({g[0]['nodes_per_parameter']} per {', '.join(g[0]['parameters'])}), largest checked error "
                f"{max(r['max_rel_error'] for r in g):.1e} of the maximum, counts rounded to whole molecules")
    dest = ", ".join(written + ([store] if store else []))
    if sweep is None:
        print(f"{args.model}: {args.runs} runs, method {r0.method} ({kind}), seed {args.seed}, "
              f"{r0.n_events} events -> {dest}")
    else:
        print(f"{args.model}: sweep of {len(sweep.points)} point(s) x {args.runs} runs, method {r0.method} ({kind}), "
              f"seed {args.seed}, {sum(r.n_events for r in res.results)} events -> {dest}")
    if not quiet:
        print(res.summary(), file=sys.stderr)
    return 0
