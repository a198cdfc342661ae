"""Parallel ensembles of SSA trajectories with exact streaming statistics.

Reproducibility
---------------
Trajectory i (0-based, over the whole ensemble) draws from its own xoshiro256+ stream seeded by
``(seed, i)`` only (:mod:`kernels.rng`), so its path is the same whichever thread runs it and
whichever chunk it is in.

Statistics are accumulated from the integer counts with *integer* arithmetic: per output time
and species the kernel keeps S1 = sum x and S2 = sum x^2 as exact 128-bit unsigned integers
(two uint64 words with carries). Integer addition is associative and commutative, so S1 and
S2 are the same whatever the order in which runs are added, i.e. independent of the thread
count, of the scheduling and of the chunking. The mean S1/n and the sample variance
(n*S2 - S1^2) / (n(n-1)) are then evaluated once, in Python's exact integers, and rounded to
float64 (each correctly rounded; sd = sqrt of the variance). Hence mean and sd are bitwise
identical for any ``n_threads`` and ``chunk_size`` (tested), and also more accurate than a
float64 running sum or Welford update. Memory is O(chunk_size * n_times * n_observed) for the
trajectory buffer plus four words per (time, species), independent of ``n_runs`` unless
``keep_trajectories=True``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np
from numba import njit, prange

from .laws import default_law
from .network import NetworkArrays
from .rng import seed_stream
from .ssa import (
    ERR_EVENT_LOOP,
    ERR_EVENT_VALUE,
    ERR_MAX_EVENTS,
    ERR_NEGATIVE_EVENT,
    ERR_NEGATIVE_REACTION,
    ERR_PROPENSITY,
    ERR_RULE_VALUE,
    exact_trajectory,
    tau_leap_approx_trajectory,
)

__all__ = [
    "EnsembleResult",
    "RunValues",
    "SimulationError",
    "combine_results",
    "run_ensemble",
    "run_values",
    "simulate",
    "choose_method",
    "AUTO_TREE_MIN_REACTIONS",
    "METHODS",
]

# method="auto" uses the sum tree from this many reactions on. Measured with
# benchmarks/ssa_kernels.py --sizes 50,100,200,500,1000,2000 --repeats 3 (random
# mass-conserving binding networks, M reactions over ~M/3 species, 14-17 propensity updates per
# event; one thread; CPU time, best of 3; 2-vCPU AMD EPYC VM, otherwise idle), with the
# dependency records, the ziggurat and the tree's sorted leaf groups of 64 (2026-11-27):
# tree/direct events-per-second ratio 0.77 at 50 reactions, 0.84 at 100, 1.00 at 200, 1.82 at
# 500, 2.67 at 1,000, 5.96 at 2,000. Direct: 10.1 M events/s at 50 reactions, 6.3 M at 200;
# tree: 4.2 M at 1,000, 4.1 M at 2,000. On the IL-2 receptor network of benchmarks/ssa.py
# (54 reactions, 4 copies: 216) direct is 1.1-1.2x tree, so the crossover stays above 200.
AUTO_TREE_MIN_REACTIONS = 256

METHODS = ("auto", "direct", "tree", "tau", "tau_approx")

_STATS_WORDS = 2  # (lo, hi) uint64 words per 128-bit accumulator


class SimulationError(ValueError):
    """A trajectory could not continue (bad propensity, negative count, ...)."""


class EnsembleResult(NamedTuple):
    t: np.ndarray  # float64[T] output times
    species: np.ndarray  # int64[Q] observed species indices
    mean: np.ndarray  # float64[T, Q]
    sd: np.ndarray  # float64[T, Q] sample sd (n - 1); NaN when n_runs == 1
    n_runs: int
    method: str  # "direct", "tree" or "tau_approx"
    exact: bool  # False for tau-leaping (approximate)
    n_events: int  # reaction events over all runs (tau: firings)
    trajectories: np.ndarray | None  # int64[n_runs, T, Q] if keep_trajectories
    first_run: int  # trajectories first_run .. first_run + n_runs - 1 of stream ``seed``
    sum_x: np.ndarray  # uint64[T, Q, 2]: exact sum of counts, (lo, hi) 64-bit words
    sum_x2: np.ndarray  # uint64[T, Q, 2]: exact sum of squared counts


class RunValues(NamedTuple):
    """Per-trajectory values for ensembles of non-identical cells (a population).

    Row i applies to trajectory ``first_run + i`` of the :func:`run_ensemble` call. Each part
    lists the entries it replaces and their values per trajectory; the others keep the
    network's. Build with :func:`run_values` (which checks shapes and values).
    """

    x0_index: np.ndarray  # int64[a]            species whose initial count varies
    x0: np.ndarray  # int64[n_runs, a]          their counts, >= 0
    rate_index: np.ndarray  # int64[b]          reactions whose rate constant varies
    rates: np.ndarray  # float64[n_runs, b]     their rate constants, finite, >= 0
    param_index: np.ndarray  # int64[c]         law parameters that vary
    params: np.ndarray  # float64[n_runs, c]    their values, finite

    @property
    def n_runs(self) -> int:
        return int(self.x0.shape[0])

    def rows(self, start: int, stop: int) -> "RunValues":
        return RunValues(self.x0_index, self.x0[start:stop], self.rate_index, self.rates[start:stop],
                         self.param_index, self.params[start:stop])


def run_values(n_runs, *, x0_index=(), x0=None, rate_index=(), rates=None, param_index=(),
               params=None, arrays: NetworkArrays | None = None) -> RunValues:
    """A checked :class:`RunValues` for ``n_runs`` trajectories (ValueError naming what is wrong;
    with ``arrays``, indices are also checked against the network)."""
    n_runs = int(n_runs)

    def part(idx, vals, dtype, what, limit):
        idx = np.ascontiguousarray(np.asarray(idx, np.int64).reshape(-1))
        if vals is None:
            if idx.shape[0]:
                raise ValueError(f"run_values: {what} indices given without values")
            vals = np.zeros((n_runs, 0), dtype)
        vals = np.asarray(vals)
        if vals.dtype.kind == "f" and dtype == np.int64:
            raise ValueError(f"run_values: {what} values must be whole counts (int64), got {vals.dtype}")
        vals = np.ascontiguousarray(vals, dtype)
        if vals.shape != (n_runs, idx.shape[0]):
            raise ValueError(f"run_values: {what} values have shape {vals.shape}, expected "
                             f"({n_runs}, {idx.shape[0]})")
        if idx.shape[0] != np.unique(idx).shape[0]:
            raise ValueError(f"run_values: repeated {what} index")
        if limit is not None and idx.shape[0] and (idx.min() < 0 or idx.max() >= limit):
            raise ValueError(f"run_values: {what} index out of range 0..{limit - 1}")
        return idx, vals

    n = arrays.n_species if arrays is not None else None
    m = arrays.n_reactions if arrays is not None else None
    p = arrays.params.shape[0] if arrays is not None else None
    xi, xv = part(x0_index, x0, np.int64, "x0", n)
    ri, rvv = part(rate_index, rates, np.float64, "rate", m)
    pi, pv = part(param_index, params, np.float64, "parameter", p)
    if xv.size and xv.min() < 0:
        r, c = np.argwhere(xv < 0)[0]
        raise ValueError(f"run_values: trajectory row {r}: initial count of species {xi[c]} is {xv[r, c]} < 0")
    if rvv.size and not (np.all(np.isfinite(rvv)) and rvv.min() >= 0.0):
        r, c = np.argwhere(~(np.isfinite(rvv) & (rvv >= 0.0)))[0]
        raise ValueError(f"run_values: trajectory row {r}: rate constant of reaction {ri[c]} is {rvv[r, c]!r} "
                         "(must be finite and >= 0)")
    if pv.size and not np.all(np.isfinite(pv)):
        r, c = np.argwhere(~np.isfinite(pv))[0]
        raise ValueError(f"run_values: trajectory row {r}: law parameter {pi[c]} is {pv[r, c]!r}")
    if arrays is not None and ri.shape[0] and np.any(arrays.law_reactions[ri]):
        j = int(ri[np.argmax(arrays.law_reactions[ri])])
        raise ValueError(f"run_values: reaction {j} takes its propensity from the law; vary its law "
                         "parameters instead of its rate constant")
    return RunValues(xi, xv, ri, rvv, pi, pv)


def combine_results(results) -> EnsembleResult:
    """Merge ensembles of disjoint trajectory ranges (``first_run``) of one seed exactly.

    The merged mean and sd are bitwise those of one ``run_ensemble`` over all the runs,
    because only the exact integer sums are added. Trajectories are kept only if every part
    kept them and the parts are contiguous.
    """
    results = sorted(results, key=lambda r: r.first_run)
    if not results:
        raise ValueError("combine_results: nothing to combine")
    r0 = results[0]
    for r in results[1:]:
        if (r.method != r0.method or not np.array_equal(r.t, r0.t)
                or not np.array_equal(r.species, r0.species)):
            raise ValueError("combine_results: parts differ in method, times or species")
    for a, b in zip(results, results[1:]):
        if b.first_run < a.first_run + a.n_runs:
            raise ValueError(f"combine_results: runs {b.first_run}.. overlap the part starting "
                             f"at {a.first_run}")
    n = sum(r.n_runs for r in results)
    s1 = ints_to_words(sum(words_to_ints(r.sum_x) for r in results))
    s2 = ints_to_words(sum(words_to_ints(r.sum_x2) for r in results))
    mean, sd = exact_moments(s1, s2, n)
    contiguous = all(b.first_run == a.first_run + a.n_runs for a, b in zip(results, results[1:]))
    trajectories = None
    if contiguous and all(r.trajectories is not None for r in results):
        trajectories = np.concatenate([r.trajectories for r in results])
    return EnsembleResult(r0.t, r0.species, mean, sd, n, r0.method, r0.exact,
                          sum(r.n_events for r in results), trajectories, r0.first_run, s1, s2)


def choose_method(n_reactions: int) -> str:
    """The exact method ``method="auto"`` picks for a network of this size."""
    return "tree" if n_reactions >= AUTO_TREE_MIN_REACTIONS else "direct"


# --------------------------------------------------------------------------------------------
# Numba ensemble drivers
# --------------------------------------------------------------------------------------------


@njit(parallel=True, cache=True)
def _ensemble_exact(use_tree, net, law, ev, aux, t_out, obs, seed, run0, out, n_events, status,
                    fstatus, max_events):
    """Runs ``out.shape[0]`` exact trajectories (global indices run0 + i) in parallel.

    Exact and approximate methods have separate drivers because Numba re-optimises a
    callee's code inside each parallel caller (measured: the driver's compile costs about as
    much as its callees'), so a user of the exact methods never compiles tau-leaping.
    """
    for i in prange(out.shape[0]):
        rng = np.empty(4, np.uint64)
        seed_stream(seed, run0 + i, rng)
        n_events[i] = exact_trajectory(use_tree, net, law, ev, aux, t_out, obs, rng, out[i],
                                       max_events, status[i], fstatus[i])


@njit(parallel=True, cache=True)
def _ensemble_tau_approx(net, law, ev, aux, gdata, t_out, obs, seed, run0, out, n_events, status,
                         fstatus, max_events, tau_f, tau_i):
    """Runs ``out.shape[0]`` APPROXIMATE tau-leaping trajectories in parallel."""
    for i in prange(out.shape[0]):
        rng = np.empty(4, np.uint64)
        seed_stream(seed, run0 + i, rng)
        n_events[i] = tau_leap_approx_trajectory(
            net, law, ev, aux, gdata, t_out, obs, rng, out[i], max_events, tau_f[0], tau_i[0],
            tau_f[1], tau_i[1], tau_f[2], status[i], fstatus[i])


@njit(cache=True)
def _net_of_run(net, i, rv):
    """The network tuple of trajectory row ``i`` of a population: ``net`` with the row's own
    initial counts, rate constants and law parameters (``rv``, see :class:`RunValues`), and
    the dependency records' rate copies (``drate``) refreshed from its rates."""
    (x0, ridx, rsto, pa, ps, pkind, guard, cptr, cidx, cdel, rates, params, dep_ptr, dep_idx,
     drec, drate) = net
    x_idx, x_val, r_idx, r_val, p_idx, p_val = rv
    x0r = x0.copy()
    for a in range(x_idx.shape[0]):
        x0r[x_idx[a]] = x_val[i, a]
    ratesr = rates.copy()
    for b in range(r_idx.shape[0]):
        ratesr[r_idx[b]] = r_val[i, b]
    paramsr = params.copy()
    for c in range(p_idx.shape[0]):
        paramsr[p_idx[c]] = p_val[i, c]
    if r_idx.shape[0] > 0:
        drater = np.empty_like(drate)
        for q in range(dep_idx.shape[0]):
            drater[q] = ratesr[dep_idx[q]]
    else:
        drater = drate
    return (x0r, ridx, rsto, pa, ps, pkind, guard, cptr, cidx, cdel, ratesr, paramsr, dep_ptr,
            dep_idx, drec, drater)


@njit(parallel=True, cache=True)
def _ensemble_exact_runs(use_tree, net, law, ev, aux, t_out, obs, seed, run0, out, n_events,
                         status, fstatus, max_events, rv):
    """:func:`_ensemble_exact` where every trajectory has its own values (``rv``, row i for
    trajectory run0 + i). A separate driver, so ensembles of identical cells keep their code."""
    for i in prange(out.shape[0]):
        rng = np.empty(4, np.uint64)
        seed_stream(seed, run0 + i, rng)
        n_events[i] = exact_trajectory(use_tree, _net_of_run(net, i, rv), law, ev, aux, t_out, obs,
                                       rng, out[i], max_events, status[i], fstatus[i])


@njit(parallel=True, cache=True)
def _ensemble_tau_approx_runs(net, law, ev, aux, gdata, t_out, obs, seed, run0, out, n_events,
                              status, fstatus, max_events, tau_f, tau_i, rv):
    """:func:`_ensemble_tau_approx` with per-trajectory values (see :func:`_ensemble_exact_runs`)."""
    for i in prange(out.shape[0]):
        rng = np.empty(4, np.uint64)
        seed_stream(seed, run0 + i, rng)
        n_events[i] = tau_leap_approx_trajectory(
            _net_of_run(net, i, rv), law, ev, aux, gdata, t_out, obs, rng, out[i], max_events,
            tau_f[0], tau_i[0], tau_f[1], tau_i[1], tau_f[2], status[i], fstatus[i])


_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_U1 = np.uint64(1)
_U0 = np.uint64(0)


@njit(cache=True)
def accumulate_sums(out, s1, s2):
    """Add every run's counts to 128-bit sums: s1[t, q] += x, s2[t, q] += x^2 (exact).

    ``out``: int64[n, T, Q] (all >= 0); ``s1``, ``s2``: uint64[T, Q, 2] as (lo, hi) words.
    Serial (cheap next to the simulation); integer sums do not depend on the order of runs.
    """
    n, n_t, n_q = out.shape
    for tt in range(n_t):
        for i in range(n):
            for q in range(n_q):
                x = np.uint64(out[i, tt, q])
                # s1 += x
                lo = s1[tt, q, 0] + x
                s1[tt, q, 1] += _U1 if lo < x else _U0
                s1[tt, q, 0] = lo
                # x^2 as (hi, lo) from 32-bit halves: x < 2**63 so xh < 2**31
                xl = x & _M32
                xh = x >> _S32
                sq_lo = xl * xl
                mid = xh * xl * np.uint64(2)
                sq_hi = xh * xh + (mid >> _S32)
                tmp = sq_lo + (mid << _S32)
                if tmp < sq_lo:
                    sq_hi += _U1
                sq_lo = tmp
                lo2 = s2[tt, q, 0] + sq_lo
                s2[tt, q, 1] += sq_hi + (_U1 if lo2 < sq_lo else _U0)
                s2[tt, q, 0] = lo2


def words_to_ints(words):
    """uint64[..., 2] (lo, hi) words -> object array of exact Python ints."""
    return words[..., 1].astype(object) * (1 << 64) + words[..., 0].astype(object)


def ints_to_words(ints):
    """Object array of non-negative Python ints (< 2**128) -> uint64[..., 2] (lo, hi)."""
    mask = (1 << 64) - 1
    lo = np.vectorize(lambda v: v & mask, otypes=[object])(ints).astype(np.uint64)
    hi = np.vectorize(lambda v: v >> 64, otypes=[object])(ints).astype(np.uint64)
    return np.stack([lo, hi], axis=-1)


def exact_moments(s1, s2, n):
    """mean and sample sd (float64) from 128-bit sums, in exact integer arithmetic.

    mean = S1 / n and var = (n S2 - S1^2) / (n (n - 1)) are each a ratio of exact Python
    integers, so each is correctly rounded to float64; sd = sqrt(var) (NaN when n == 1).
    """
    a = words_to_ints(s1)
    b = words_to_ints(s2)
    mean = (a / n).astype(np.float64)
    if n < 2:
        return mean, np.full(mean.shape, np.nan)
    var = ((b * n - a * a) / (n * (n - 1))).astype(np.float64)
    return mean, np.sqrt(var)


# --------------------------------------------------------------------------------------------
# Python front end
# --------------------------------------------------------------------------------------------


def kernel_arrays(arrays: NetworkArrays):
    """The tuple the Numba kernels take, derived from the public :class:`NetworkArrays`.

    ``(x0e, ridx, rsto, pa, ps, pkind, guard, change_ptr, change_index, change_delta, rates,
    params, dep_ptr, dep_index)`` where ``x0e`` is x0 with one extra trailing slot fixed at 1 (the
    kernels' count vector has n_species + 1 entries; reactant pads point at the extra slot, so
    the common propensity needs no branch) and ``pa``/``ps``/``pkind`` are the branch-free
    propensity arrays described in :func:`kernels.ssa.fast_mass_action` (``pkind`` 0: fast
    mass action, 1: general mass action, 2: general law), ``guard`` from
    :func:`guard_reactions`.
    """
    n = arrays.n_species
    m = arrays.n_reactions
    ridx, rsto = arrays.reactant_index, arrays.reactant_stoich
    n_slots = (ridx >= 0).sum(axis=1)
    simple = (n_slots <= 2) & (rsto.max(axis=1, initial=0) <= 2)
    pkind = np.where(arrays.law_reactions, 2, np.where(simple, 0, 1)).astype(np.int64)
    pa = np.full((m, 2), n, np.int64)
    ps = np.ones((m, 2), np.int64)
    k = min(2, ridx.shape[1])
    head = ridx[:, :k]
    pa[:, :k] = np.where(head >= 0, head, n)
    ps[:, :k] = np.where(head >= 0, rsto[:, :k], 1)
    x0e = np.ones(n + 1, np.int64)
    x0e[:n] = arrays.x0
    drec, drate = dep_records(arrays.dep_index, pa, ps, pkind, arrays.rates)
    return (x0e, ridx, rsto, pa, ps, pkind, guard_reactions(arrays), arrays.change_ptr,
            arrays.change_index.astype(drec.dtype), arrays.change_delta, arrays.rates, arrays.params,
            arrays.dep_ptr, arrays.dep_index, drec, drate)


def dep_records(dep_index, pa, ps, pkind, rates):
    """Per dependency-graph entry q, what updating propensity r = dep_index[q] reads.

    ``drec[4q:4q + 4] = (r, pa[r, 0], pa[r, 1], code)`` with code = 2 (n_a - 1) + (n_b - 1)
    for fast mass action (``pkind`` 0), 4 for general mass action, 8 for a general law
    (uint32 below 2**32 reactions and species, else uint64); ``drate[q] = rates[r]``. See
    :func:`kernels.ssa.dep_mass_action`.
    """
    r = dep_index
    code = np.where(pkind[r] == 0, 2 * (ps[r, 0] - 1) + (ps[r, 1] - 1), 4 * pkind[r])
    small = max(pkind.shape[0], int(pa.max(initial=0)) + 1) < 2 ** 32
    drec = np.empty((r.shape[0], 4), np.uint32 if small else np.uint64)
    drec[:, 0] = r
    drec[:, 1] = pa[r, 0]
    drec[:, 2] = pa[r, 1]
    drec[:, 3] = code
    return drec.ravel(), np.ascontiguousarray(rates[r], np.float64)


def guard_reactions(arrays: NetworkArrays) -> np.ndarray:
    """bool[M]: reactions after which the exact kernels check for negative counts.

    A mass-action reaction fires only while a_j > 0, i.e. while every reactant has
    x_i >= n_i; if each species it consumes is a reactant consumed at most n_i times, no count
    can go negative, so the check (25% of the time per event) is skipped. Guarded: reactions
    with a general law, reactions consuming a species beyond their reactant stoichiometry,
    and reactions changing a count by 2**31 or more (so int64 overflow stays caught).
    """
    m = arrays.n_reactions
    n = max(arrays.n_species, 1)
    ridx, rsto = arrays.reactant_index, arrays.reactant_stoich
    real = ridx >= 0
    r_keys = np.nonzero(real)[0].astype(np.int64) * n + ridx[real]
    order = np.argsort(r_keys)
    r_keys, r_sto = r_keys[order], rsto[real][order]
    crow = np.repeat(np.arange(m, dtype=np.int64), np.diff(arrays.change_ptr))
    c_keys = crow * n + arrays.change_index
    pos = np.minimum(np.searchsorted(r_keys, c_keys), max(r_keys.shape[0] - 1, 0))
    have = np.zeros(c_keys.shape[0], np.int64)
    if r_keys.shape[0]:
        found = r_keys[pos] == c_keys
        have[found] = r_sto[pos[found]]
    d = arrays.change_delta
    risky = ((d < 0) & (-d > have)) | (np.abs(d) >= 2 ** 31)
    guard = arrays.law_reactions.copy()
    guard[crow[risky]] = True
    return guard


def _ev_tuple(arrays: NetworkArrays):
    e = arrays.events
    return (e.kind, e.species, e.op, e.threshold, e.initial_value, e.assign_ptr,
            e.assign_species, e.assign_mode, e.assign_value, e.time_order,
            np.int64(e.n_species_events))


def _tau_gdata(arrays: NetworkArrays):
    """Per reactant species the distinct (reaction order, multiplicity) pairs, CSR."""
    n = arrays.n_species
    ridx, rsto = arrays.reactant_index, arrays.reactant_stoich
    real = ridx >= 0
    order = np.where(real, rsto, 0).sum(axis=1)
    rows = np.nonzero(real)[0]
    trip = np.unique(np.stack([ridx[real], order[rows], rsto[real]], axis=1), axis=0)
    trip = trip.reshape(-1, 3).astype(np.int64)
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(trip[:, 0], minlength=n), out=ptr[1:])
    rs = np.unique(trip[:, 0]).astype(np.int64)
    return ptr, np.ascontiguousarray(trip[:, 1]), np.ascontiguousarray(trip[:, 2]), rs


def _check_t_out(t_out):
    t = np.asarray(t_out, dtype=np.float64)
    if t.ndim != 1 or t.shape[0] == 0:
        raise ValueError(f"t_out: expected a non-empty 1-D array of times, got shape {t.shape}")
    bad = np.flatnonzero(~np.isfinite(t) | (t < 0))
    if bad.size:
        raise ValueError(f"t_out[{int(bad[0])}] = {float(t[bad[0]])!r}: times must be finite "
                         "and >= 0 "
                         "(simulations start at t = 0)")
    dec = np.flatnonzero(np.diff(t) < 0)
    if dec.size:
        raise ValueError(f"t_out[{int(dec[0]) + 1}]: output times must be sorted (non-decreasing)")
    return np.ascontiguousarray(t)


def _check_species(species, n):
    if species is None:
        return np.arange(n, dtype=np.int64)
    s = np.asarray(species)
    if s.ndim != 1 or not (np.issubdtype(s.dtype, np.integer) or s.size == 0):
        raise ValueError("species: expected a 1-D array of species indices")
    s = s.astype(np.int64)
    bad = np.flatnonzero((s < 0) | (s >= n))
    if bad.size:
        raise ValueError(f"species[{int(bad[0])}] = {int(s[bad[0]])} out of range (n_species={n})")
    return np.ascontiguousarray(s)


def _resolve_method(method, arrays):
    if method not in METHODS:
        raise ValueError(f"method {method!r}: expected one of {', '.join(METHODS)}")
    if method == "auto":
        return choose_method(arrays.n_reactions)
    if method in ("tau", "tau_approx"):
        if arrays.law_reactions.any():
            j = int(np.flatnonzero(arrays.law_reactions)[0])
            raise ValueError(f"reaction {j}: tau-leaping (approximate) needs mass-action "
                             "propensities; this reaction has a general kinetic law "
                             "(use method='direct' or 'tree')")
        return "tau_approx"
    return method


def _raise_status(status, fstatus, run0):
    bad = np.flatnonzero(status[:, 0] != 0)
    if not bad.size:
        return
    i = int(bad[0])
    code, p, q = (int(v) for v in status[i, :3])
    t, v = float(fstatus[i, 0]), float(fstatus[i, 1])
    where = f"trajectory {run0 + i}, t = {t:.6g}"
    if code == ERR_PROPENSITY:
        msg = f"reaction {p}: propensity {v!r} is not finite and >= 0 ({where})"
    elif code == ERR_NEGATIVE_REACTION:
        msg = (f"reaction {p}: firing made species {q} negative or overflowed int64 ({where}); "
               "its propensity is positive while a consumed species is exhausted")
    elif code == ERR_NEGATIVE_EVENT:
        msg = f"event {p}: assignment made species {q} negative or overflowed int64 ({where})"
    elif code == ERR_EVENT_LOOP:
        msg = f"events keep re-triggering each other at one instant ({where})"
    elif code == ERR_RULE_VALUE:
        msg = (f"species {p} (defined by an assignment rule) has the value {v!r}, not a whole "
               f"number of molecules >= 0 ({where}); the SSA counts molecules")
    elif code == ERR_EVENT_VALUE:
        target = f"species {q}" if q >= 0 else f"parameter {-1 - q}"
        msg = (f"event {p} assigns {v!r} to {target}, not "
               + ("a finite number" if q < 0 else "a whole number of molecules >= 0") + f" ({where})")
    elif code == ERR_MAX_EVENTS:
        msg = f"max_events = {p} reaction events reached ({where})"
    else:
        msg = f"unknown kernel status {code} ({where})"
    raise SimulationError(msg)


def run_ensemble(arrays: NetworkArrays, t_out, n_runs, seed, method="auto", n_threads=None,
                 chunk_size=None, keep_trajectories=False, *, species=None, max_events=None,
                 tau_epsilon=0.03, n_critical=10, ssa_factor=10.0, ssa_steps=100,
                 tau_max=math.inf, first_run=0, values: RunValues | None = None) -> EnsembleResult:
    """Simulate ``n_runs`` trajectories from t = 0 and return counts statistics on ``t_out``.

    arrays : NetworkArrays (see :func:`kernels.make_network_arrays`).
    t_out : sorted float64 output times (>= 0). The value at t_k is the state after every
        reaction and event with time <= t_k (right-continuous path).
    n_runs, seed : number of trajectories; 64-bit seed. Trajectory i uses the stream of
        ``(seed, first_run + i)``: ensembles can be split across processes or machines by
        ``first_run`` and merged exactly with :func:`combine_results`.
    method : ``"direct"`` (exact, O(M) per event), ``"tree"`` (exact, O(log M) per event),
        ``"auto"`` (exact: ``"tree"`` from :data:`AUTO_TREE_MIN_REACTIONS` reactions on), or
        ``"tau"`` / ``"tau_approx"``: APPROXIMATE tau-leaping (CGP 2006, ``tau_epsilon``,
        ``n_critical``; falls back to ``ssa_steps`` exact steps when a leap would be shorter
        than ``ssa_factor / a0``; leaps capped at ``tau_max`` and at the next output time).
        Mass action only.
    n_threads : Numba threads for this call (default: Numba's current setting).
    chunk_size : trajectories simulated per parallel batch (default: a buffer of ~32 MiB).
        Neither n_threads nor chunk_size changes any result bit.
    keep_trajectories : also return every trajectory, int64[n_runs, T, Q].
    species : observed species indices (default all).
    max_events : stop with :class:`SimulationError` when one trajectory exceeds this many
        reaction events (default: no limit).
    values : per-trajectory initial counts, rate constants and law parameters
        (:class:`RunValues`, one row per run of this call: a population of non-identical
        cells). Trajectory i keeps the reaction stream of ``(seed, first_run + i)``, so rows
        equal to the network's values give bitwise today's ensemble.

    Raises ValueError for bad arguments and :class:`SimulationError` (a ValueError) naming
    the reaction, species or event when a trajectory cannot continue.
    """
    if not isinstance(arrays, NetworkArrays):
        raise TypeError("arrays must be a NetworkArrays (use kernels.make_network_arrays)")
    t = _check_t_out(t_out)
    obs = _check_species(species, arrays.n_species)
    n_runs = int(n_runs)
    if n_runs < 1:
        raise ValueError(f"n_runs must be >= 1, got {n_runs}")
    first_run = int(first_run)
    if first_run < 0:
        raise ValueError("first_run must be >= 0")
    seed_u = np.uint64(int(seed) % (1 << 64))
    name = _resolve_method(method, arrays)
    max_ev = np.int64(max_events if max_events is not None else np.iinfo(np.int64).max)
    if max_ev < 1:
        raise ValueError("max_events must be >= 1")
    if not (0.0 < tau_epsilon < 1.0):
        raise ValueError("tau_epsilon must be in (0, 1)")
    if not (tau_max > 0.0):
        raise ValueError("tau_max must be > 0")
    if int(n_critical) < 0 or int(ssa_steps) < 1 or not (ssa_factor >= 0.0):
        raise ValueError("n_critical must be >= 0, ssa_steps >= 1 and ssa_factor >= 0")

    if values is not None:
        if not isinstance(values, RunValues):
            raise TypeError("values must be a RunValues (use kernels.run_values)")
        if values.n_runs != n_runs:
            raise ValueError(f"values has {values.n_runs} rows for {n_runs} runs")
        values = run_values(n_runs, x0_index=values.x0_index, x0=values.x0, rate_index=values.rate_index,
                            rates=values.rates, param_index=values.param_index, params=values.params,
                            arrays=arrays)
    per_run = max(1, t.shape[0] * obs.shape[0])
    threads_before = numba.get_num_threads()
    if n_threads is not None:
        n_threads = int(n_threads)
        if not 1 <= n_threads <= numba.config.NUMBA_NUM_THREADS:
            raise ValueError(f"n_threads must be in 1..{numba.config.NUMBA_NUM_THREADS} "
                             "(NUMBA_NUM_THREADS)")
    threads = n_threads or threads_before
    if chunk_size is None:
        chunk_size = max(threads * 16, (32 << 20) // (8 * per_run))
    chunk_size = max(1, min(int(chunk_size), n_runs))

    net = kernel_arrays(arrays)
    ev = _ev_tuple(arrays)
    aux = (arrays.time_reactions, arrays.rule_species, arrays.rule_law)
    law = arrays.law if arrays.law is not None else default_law
    gdata = _tau_gdata(arrays) if name == "tau_approx" else None
    tau_f = np.array([tau_epsilon, ssa_factor, tau_max], np.float64)
    tau_i = np.array([n_critical, ssa_steps], np.int64)

    s1 = np.zeros((t.shape[0], obs.shape[0], _STATS_WORDS), np.uint64)
    s2 = np.zeros_like(s1)
    trajectories = (np.empty((n_runs, t.shape[0], obs.shape[0]), np.int64)
                    if keep_trajectories else None)
    buf = None if keep_trajectories else np.empty((chunk_size, t.shape[0], obs.shape[0]), np.int64)
    n_ev = np.zeros(chunk_size, np.int64)
    status = np.zeros((chunk_size, 4), np.int64)
    fstatus = np.zeros((chunk_size, 2), np.float64)
    total_events = 0
    if n_threads is not None:
        numba.set_num_threads(n_threads)
    try:
        for start in range(0, n_runs, chunk_size):
            c = min(chunk_size, n_runs - start)
            out = trajectories[start:start + c] if keep_trajectories else buf[:c]
            status[:c] = 0
            run0 = np.int64(first_run + start)
            with numba.parallel_chunksize(1):
                if values is not None:
                    rv = values.rows(start, start + c)
                    if name == "tau_approx":
                        _ensemble_tau_approx_runs(net, law, ev, aux, gdata, t, obs, seed_u, run0, out,
                                                  n_ev[:c], status[:c], fstatus[:c], max_ev, tau_f, tau_i,
                                                  tuple(rv))
                    else:
                        _ensemble_exact_runs(name == "tree", net, law, ev, aux, t, obs, seed_u, run0, out,
                                             n_ev[:c], status[:c], fstatus[:c], max_ev, tuple(rv))
                elif name == "tau_approx":
                    _ensemble_tau_approx(net, law, ev, aux, gdata, t, obs, seed_u, run0, out,
                                         n_ev[:c], status[:c], fstatus[:c], max_ev, tau_f, tau_i)
                else:
                    _ensemble_exact(name == "tree", net, law, ev, aux, t, obs, seed_u, run0, out,
                                    n_ev[:c], status[:c], fstatus[:c], max_ev)
            _raise_status(status[:c], fstatus[:c], first_run + start)
            total_events += int(n_ev[:c].sum())
            accumulate_sums(out, s1, s2)
    finally:
        if n_threads is not None:
            numba.set_num_threads(threads_before)
    mean, sd = exact_moments(s1, s2, n_runs)
    return EnsembleResult(t, obs, mean, sd, n_runs, name, name != "tau_approx", total_events,
                          trajectories, first_run, s1, s2)


def simulate(arrays: NetworkArrays, t_out, seed, method="auto", *, index=0, species=None,
             max_events=None, **tau_options) -> np.ndarray:
    """One trajectory: int64[T, Q] counts on ``t_out``; identical to trajectory ``index`` of
    ``run_ensemble(arrays, t_out, n, seed, method, keep_trajectories=True)``."""
    res = run_ensemble(arrays, t_out, 1, seed, method, chunk_size=1, keep_trajectories=True,
                       species=species, max_events=max_events, first_run=index, **tau_options)
    return res.trajectories[0]
