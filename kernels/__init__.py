"""Numba stochastic-simulation kernels (pure numerics: NumPy arrays in, NumPy arrays out).

This package imports NumPy and Numba only and never imports ``il2sbml``; ``il2sbml.simulate.compile``
turns a ``Network`` into the arrays below (that is the only bridge).

API
---
``make_network_arrays(x0, reactant_index, reactant_stoich, change_ptr, change_index,
change_delta, rates, *, law=None, law_reactions=None, law_species=None, params=None,
events=None) -> NetworkArrays``
    validate the arrays (ValueError naming the reaction, species or event index) and add the
    dependency graph. ``network_from_reactions(x0, reactants, products, rates, *,
    fixed_species=(), ...)`` builds the same from per-reaction species lists.
``run_ensemble(arrays, t_out, n_runs, seed, method="auto", n_threads=None, chunk_size=None,
keep_trajectories=False, *, species=None, max_events=None, tau_epsilon=0.03,
n_critical=10, tau_max=inf, first_run=0, ...) -> EnsembleResult`` (t, species, mean, sd,
n_runs, method, exact, n_events, trajectories, first_run, sum_x, sum_x2)
    parallel ensembles with exact, thread-count-independent statistics.
``simulate(arrays, t_out, seed, method="auto", *, index=0, ...) -> int64[T, Q]``
    one trajectory (the same as trajectory ``index`` of an ensemble with that seed).
``run_values(n_runs, *, x0_index, x0, rate_index, rates, param_index, params) -> RunValues``
    per-trajectory initial counts, rate constants and law parameters (``run_ensemble(...,
    values=)``): ensembles of non-identical cells. ``lognormal_values``, ``table_rows``,
    ``population_seed`` (:mod:`kernels.population`): each cell's parameters from its own stream.
``combine_results(results) -> EnsembleResult``
    merge ensembles of disjoint ``first_run`` ranges exactly (e.g. from several workers).
``words_to_ints``, ``ints_to_words``, ``exact_moments(s1, s2, n)``
    the 128-bit (lo, hi) sums as exact Python integers and back, and the correctly rounded
    mean and sd from them (for callers that merge chunk sums themselves).
``time_event``, ``species_event``, ``law_event``, ``make_event_arrays`` (:mod:`kernels.events`);
``LAW_SIGNATURE``, ``compile_law``, ``law_source`` (:mod:`kernels.laws`); ``dependency_graph``.

Methods: ``"direct"`` (exact; Gillespie's direct method with a dependency graph, linear
search in an adaptive order: the sorting direct method), ``"tree"`` (exact; a sum tree over
the propensities: leaf groups of 64 reactions searched in an adaptive order, fan-out 32 above,
cost per event ~ log M), ``"auto"`` (exact: direct below ``AUTO_TREE_MIN_REACTIONS`` reactions, tree
from there, crossover measured by ``benchmarks/ssa_kernels.py``), ``"tau"`` /
``"tau_approx"`` (APPROXIMATE: tau-leaping with Cao-Gillespie-Petzold step selection).

The network array format
------------------------
N species (indices 0..N-1), M reactions (0..M-1). All integer arrays are int64, all real
arrays float64, all C-contiguous.

``x0`` : int64[N]
    Initial counts, >= 0. Simulations start at t = 0.
``reactant_index``, ``reactant_stoich`` : int64[M, K], K >= 1
    Row j lists the *distinct* reactant species of reaction j and their stoichiometries
    n >= 1, padded at the end with index -1 / stoichiometry 0. ``2X + Y -> ...`` is the row
    ``[X, Y]`` / ``[2, 1]``. These define the mass-action propensity only.
``change_ptr``, ``change_index``, ``change_delta`` : CSR, int64[M+1], int64[nnz], int64[nnz]
    The net state change: when reaction j fires, ``x[change_index[q]] += change_delta[q]``
    for q in ``change_ptr[j]:change_ptr[j+1]`` (species unique within a reaction, deltas
    non-zero). Independent of the reactants, so boundary species (never changed) and
    catalysts simply have no entry.
``rates`` : float64[M]
    Rate constants c_j, finite and >= 0. The propensity is mass action with falling
    factorials::

        a_j = c_j * prod_i  x_i (x_i - 1) ... (x_i - n_i + 1)   =  c_j * prod_i C(x_i, n_i) n_i!

    so ``X -> ...`` has a = c x; ``X + Y -> ...`` a = c x y; ``2X -> ...`` a = c x (x - 1);
    ``3X -> ...`` a = c x (x - 1)(x - 2). Any statistical (symmetry) factor is folded into c
    (BioNetGen's convention: a homodimerisation rule with rate k gives c = k/2). An SBML
    stochastic kinetic law written ``k*X*(X-1)/2`` (DSMTS 00030) is therefore c = k/2; the
    law ``k*X*Y`` is c = k; a deterministic rate constant k (per concentration) in volume V
    gives c = k / (N_A V)^(order - 1) times the symmetry factor; that conversion is
    ``il2sbml.simulate.compile``'s job, not the kernels'.
``law``, ``law_reactions``, ``law_species``, ``params`` (optional)
    General kinetic laws: reactions flagged in ``law_reactions`` (bool[M]) take their
    propensity from ``law(j, t, x, params)``, a ``numba.cfunc`` with ``LAW_SIGNATURE``
    (see :mod:`kernels.laws`; ``x`` has N + 1 entries there, the last one a constant 1);
    ``law_species[j]`` lists the species that law reads (for the dependency graph; omitted
    means all species); ``params`` is float64[P], copied per trajectory (events may set it).
``time_reactions`` (optional): law reactions whose law reads ``t``; the exact methods draw
    the next reaction time by the integral method (:func:`kernels.ssa.td_next_time`).
``rule_species``, ``rule_law`` (optional): species defined by an assignment rule and the law
    index giving each one's value whenever an output is recorded (a whole number).
``dep_ptr``, ``dep_index`` : CSR, computed by :func:`dependency_graph`
    After reaction j fires, the propensities ``dep_index[dep_ptr[j]:dep_ptr[j+1]]`` (sorted)
    are recomputed: every reaction that reads a species whose count j changes.
``events`` : :class:`kernels.events.EventArrays` (compact encoding; see that module)
    Time triggers ``t >= T``, species triggers ``x[s] <op> threshold`` and law triggers (any
    condition of counts and parameters); firing on every false -> true transition, applied
    before the output at the same time; assignments ``x[s] = v``, ``x[s] += v``, or a species
    or parameter set to a law value.

Output grid: the value at ``t_out[k]`` is the state after every reaction and event with
time <= t_out[k] (a right-continuous path; DSMTS semantics, shared/suite/README.md §1.2).

Reproducibility: trajectory i uses a random stream derived only from ``(seed, i)``; ensemble
statistics are exact integer sums, so results are bitwise identical for any thread count and
chunking (:mod:`kernels.ensemble`).

Numba caching: every kernel is ``cache=True`` and has no per-model closure, so one compiled
kernel serves all models (a general law is a first-class function argument, not a
specialisation). Cold compile: ~15 s of CPU for the exact methods, ~12 s more the first time
tau-leaping is used; from the cache the first ensemble adds ~0.03 s to Numba's own start-up
(importing numpy + numba and initialising Numba take ~0.8 s here, even for a trivial cached
function). Numba's cache only checks each function's own file, so a kernel cached in
``ensemble.py`` would keep a stale copy of an edited ``ssa.py``; on import this package
therefore hashes its sources and clears ``kernels/__pycache__/*.nb[ic]`` when they changed
(with ``NUMBA_CACHE_DIR`` set, clear that directory yourself after editing the kernels).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def _drop_stale_numba_cache() -> None:
    """Delete Numba cache files in kernels/__pycache__ when any kernels/*.py changed."""
    here = Path(__file__).resolve().parent
    cache = here / "__pycache__"
    h = hashlib.sha256()
    try:
        import numba

        h.update(numba.__version__.encode())
        for path in sorted(here.glob("*.py")):
            h.update(path.name.encode())
            h.update(path.read_bytes())
        digest = h.hexdigest()
        stamp = cache / "kernels-sources.sha256"
        if stamp.is_file() and stamp.read_text().strip() == digest:
            return
        cache.mkdir(exist_ok=True)
        for f in list(cache.glob("*.nbi")) + list(cache.glob("*.nbc")):
            try:
                f.unlink()
            except OSError:
                pass
        tmp = cache / f".kernels-sources.{os.getpid()}.tmp"
        tmp.write_text(digest + "\n")
        os.replace(tmp, stamp)
    except OSError:  # read-only install: Numba falls back to its own cache location
        pass


_drop_stale_numba_cache()

from .ensemble import (  # noqa: E402
    AUTO_TREE_MIN_REACTIONS,
    METHODS,
    EnsembleResult,
    RunValues,
    SimulationError,
    choose_method,
    combine_results,
    exact_moments,
    ints_to_words,
    run_ensemble,
    run_values,
    simulate,
    words_to_ints,
)
from .events import EventArrays, law_event, make_event_arrays, species_event, time_event  # noqa: E402
from .population import lognormal_values, population_seed, table_rows  # noqa: E402
from .laws import LAW_SIGNATURE, compile_law, law_source  # noqa: E402
from .network import (  # noqa: E402
    NetworkArrays,
    dependency_graph,
    make_network_arrays,
    network_from_reactions,
    upstream_reactions,
)

__all__ = [
    "AUTO_TREE_MIN_REACTIONS",
    "METHODS",
    "EnsembleResult",
    "EventArrays",
    "RunValues",
    "LAW_SIGNATURE",
    "NetworkArrays",
    "SimulationError",
    "choose_method",
    "combine_results",
    "compile_law",
    "dependency_graph",
    "exact_moments",
    "ints_to_words",
    "make_event_arrays",
    "make_network_arrays",
    "network_from_reactions",
    "run_ensemble",
    "simulate",
    "species_event",
    "time_event",
    "upstream_reactions",
    "law_event",
    "law_source",
    "lognormal_values",
    "population_seed",
    "run_values",
    "table_rows",
    "words_to_ints",
]
