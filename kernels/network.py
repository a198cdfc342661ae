"""The kernels' network format: validated NumPy arrays (see the package docstring for the spec).

``make_network_arrays`` takes the arrays themselves and checks them; ``network_from_reactions``
builds them from per-reaction reactant/product lists. Both return a :class:`NetworkArrays`
(a NamedTuple of arrays, no methods with behaviour) and raise ``ValueError`` naming the
offending reaction, species or event index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from .events import EventArrays, empty_events, make_event_arrays
from .laws import check_law

__all__ = [
    "NetworkArrays",
    "upstream_reactions",
    "make_network_arrays",
    "network_from_reactions",
    "dependency_graph",
]


class NetworkArrays(NamedTuple):
    """A reaction network as arrays; build with :func:`make_network_arrays`.

    N species, M reactions, K = reactant slots per reaction (>= 1), nnz net-change entries.
    """

    x0: np.ndarray  # int64[N]            initial counts, >= 0
    reactant_index: np.ndarray  # int64[M, K]  species of each distinct reactant, -1 pads (trailing)
    reactant_stoich: np.ndarray  # int64[M, K]  its stoichiometry n >= 1 (0 in pads)
    change_ptr: np.ndarray  # int64[M+1]   CSR row pointer of the net state change
    change_index: np.ndarray  # int64[nnz]   species changed by reaction j (unique within j)
    change_delta: np.ndarray  # int64[nnz]   its net change (non-zero)
    rates: np.ndarray  # float64[M]   rate constant c_j, finite and >= 0
    law_reactions: np.ndarray  # bool[M]  True: propensity from the general law, not mass action
    law_ptr: np.ndarray  # int64[M+1]   CSR: species the law of reaction j reads (dependencies)
    law_index: np.ndarray  # int64[nl]
    params: np.ndarray  # float64[P]   parameter vector handed to the law
    law: Any  # numba CFunc with LAW_SIGNATURE, or None when no reaction uses a law
    dep_ptr: np.ndarray  # int64[M+1]   CSR dependency graph: after j fires, update
    dep_index: np.ndarray  # int64[nd]    the propensities dep_index[dep_ptr[j]:dep_ptr[j+1]]
    events: EventArrays
    # int64[Td] the law reactions whose propensity reads the time (integral method)
    time_reactions: np.ndarray = np.zeros(0, np.int64)
    # int64[R] species defined by assignment rules, and int64[R] the law index giving each one's
    # value (a whole number of molecules) when it is recorded
    rule_species: np.ndarray = np.zeros(0, np.int64)
    rule_law: np.ndarray = np.zeros(0, np.int64)

    @property
    def n_species(self) -> int:
        return int(self.x0.shape[0])

    @property
    def n_reactions(self) -> int:
        return int(self.rates.shape[0])


# --------------------------------------------------------------------------------------------
# Dependency graph
# --------------------------------------------------------------------------------------------


def _dependency_graph(n_species, read_ptr, read_index, change_ptr, change_index, change_delta):
    """CSR of reactions whose propensity reads a species that reaction j changes (sorted).

    Vectorised NumPy (no JIT, so no compile time): join the (j, changed species) pairs with
    the (species, reader reaction) pairs, then deduplicate the (j, r) keys.
    """
    m = change_ptr.shape[0] - 1
    # species -> reactions that read it (CSR)
    reader_of = np.repeat(np.arange(m, dtype=np.int64), np.diff(read_ptr))
    order = np.argsort(read_index, kind="stable")
    sp_reac = reader_of[order]
    sp_cnt = np.bincount(read_index, minlength=n_species).astype(np.int64)
    sp_ptr = np.zeros(n_species + 1, np.int64)
    np.cumsum(sp_cnt, out=sp_ptr[1:])
    # (j, i) for every non-zero net change, expanded to (j, r) for every reader r of i
    j_of = np.repeat(np.arange(m, dtype=np.int64), np.diff(change_ptr))
    keep = change_delta != 0
    j_of, i_of = j_of[keep], change_index[keep]
    cnt = sp_cnt[i_of]
    total = int(cnt.sum())
    j_rep = np.repeat(j_of, cnt)
    first = np.zeros(cnt.shape[0], np.int64)
    if cnt.shape[0]:
        np.cumsum(cnt[:-1], out=first[1:])
    pos = np.arange(total, dtype=np.int64) - np.repeat(first, cnt) + np.repeat(sp_ptr[i_of], cnt)
    keys = _sorted_unique(j_rep * np.int64(max(m, 1)) + sp_reac[pos])
    dep_index = np.ascontiguousarray(keys % max(m, 1), np.int64)
    dep_ptr = np.zeros(m + 1, np.int64)
    np.cumsum(np.bincount(keys // max(m, 1), minlength=m), out=dep_ptr[1:])
    return dep_ptr, dep_index


def _sorted_unique(keys: np.ndarray) -> np.ndarray:
    """``np.unique`` of an int64 array by sorting in place: NumPy 2's hash-based ``np.unique``
    took 540 s for the ~10^8 (reaction, reader) keys of a 58,000-reaction network (BNG's
    fceri_gamma2), where a sort takes seconds (measured: 2e7 keys, 60 s against 4 s)."""
    keys.sort()
    if keys.shape[0] < 2:
        return keys
    return keys[np.concatenate((np.ones(1, np.bool_), keys[1:] != keys[:-1]))]


def _read_sets(n_species, reactant_index, law_reactions, law_ptr, law_index):
    """CSR of the species each reaction's propensity reads (reactants, or the law's species)."""
    m = reactant_index.shape[0]
    real = (reactant_index >= 0) & ~law_reactions[:, None]
    r_row = np.nonzero(real)[0].astype(np.int64)
    r_sp = reactant_index[real].astype(np.int64)
    l_row = np.repeat(np.arange(m, dtype=np.int64), np.diff(law_ptr))
    rows = np.concatenate([r_row, l_row])
    sp = np.concatenate([r_sp, law_index.astype(np.int64)])
    order = np.argsort(rows, kind="stable")
    ptr = np.zeros(m + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=m), out=ptr[1:])
    return ptr, np.ascontiguousarray(sp[order])


def dependency_graph(n_species, reactant_index, change_ptr, change_index, change_delta,
                     law_reactions=None, law_ptr=None, law_index=None):
    """Reaction dependency graph in CSR form: ``(dep_ptr, dep_index)``.

    ``dep_index[dep_ptr[j]:dep_ptr[j+1]]`` (sorted, unique) lists every reaction r whose
    propensity reads a species that reaction j changes (net delta != 0): r's reactants for
    mass action, the law's declared species for a general law. j itself appears only when it
    changes one of its own inputs (``A -> A + B`` does not depend on itself).
    """
    reactant_index = np.asarray(reactant_index, np.int64)
    m = reactant_index.shape[0]
    if law_reactions is None:
        law_reactions = np.zeros(m, bool)
        law_ptr = np.zeros(m + 1, np.int64)
        law_index = np.zeros(0, np.int64)
    read_ptr, read_index = _read_sets(n_species, reactant_index, law_reactions, law_ptr, law_index)
    return _dependency_graph(int(n_species), read_ptr, read_index,
                             np.asarray(change_ptr, np.int64), np.asarray(change_index, np.int64),
                             np.asarray(change_delta, np.int64))


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


def _int_array(name, value, ndim):
    """An int64 array from ints or integral floats; ValueError naming the first bad entry."""
    arr = np.asarray(value)
    if arr.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got shape {arr.shape}")
    if arr.dtype == bool:
        raise ValueError(f"{name}: expected integers, got booleans")
    if np.issubdtype(arr.dtype, np.integer):
        if arr.dtype == np.uint64 and arr.size and arr.max() > np.iinfo(np.int64).max:
            bad = np.unravel_index(int(np.argmax(arr)), arr.shape)
            raise ValueError(f"{name}[{', '.join(map(str, bad))}]: value exceeds int64")
        return np.ascontiguousarray(arr, np.int64)
    if np.issubdtype(arr.dtype, np.floating):
        ok = np.isfinite(arr) & (arr == np.round(arr)) & (np.abs(arr) < 2.0 ** 63)
        if not ok.all():
            bad = tuple(int(v) for v in np.argwhere(~ok)[0])
            where = ", ".join(map(str, bad))
            raise ValueError(f"{name}[{where}]: {float(arr[bad])!r} is not an integer")
        return np.ascontiguousarray(arr, np.int64)
    if arr.size == 0:
        return np.zeros(arr.shape, np.int64)
    raise ValueError(f"{name}: expected integers, got dtype {arr.dtype}")


def _ragged(name, rows, m):
    """CSR (ptr, index) from a length-m sequence of integer sequences."""
    if rows is None:
        return None
    if len(rows) != m:
        raise ValueError(f"{name}: expected {m} rows (one per reaction), got {len(rows)}")
    ptr = np.zeros(m + 1, np.int64)
    parts = []
    for j, row in enumerate(rows):
        arr = _int_array(f"{name}[{j}]", list(row) if not isinstance(row, np.ndarray) else row, 1)
        parts.append(arr)
        ptr[j + 1] = ptr[j] + arr.shape[0]
    idx = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    return ptr, np.ascontiguousarray(idx, np.int64)


# --------------------------------------------------------------------------------------------
# Constructors
# --------------------------------------------------------------------------------------------


def make_network_arrays(x0, reactant_index, reactant_stoich, change_ptr, change_index,
                        change_delta, rates, *, law=None, law_reactions=None, law_species=None,
                        params=None, events=None, time_reactions=None, rule_species=None,
                        rule_law=None) -> NetworkArrays:
    """Validate the network arrays, compute the dependency graph, return :class:`NetworkArrays`.

    Parameters (N species, M reactions; see the package docstring for the full specification):

    x0 : int[N]
        Initial counts, >= 0 (integral floats are accepted).
    reactant_index, reactant_stoich : int[M, K]
        Distinct reactant species of each reaction and their stoichiometries (>= 1), padded
        at the end of each row with -1 / 0. ``2X -> ...`` is one slot ``(X, 2)``.
    change_ptr, change_index, change_delta : CSR of the net state change
        ``x[change_index[q]] += change_delta[q]`` for q in ``change_ptr[j]:change_ptr[j+1]``
        when reaction j fires. Species unique within a reaction, deltas non-zero.
    rates : float[M]
        Rate constants c_j (finite, >= 0). Mass-action propensity
        ``a_j = c_j * prod_i x_i (x_i - 1) ... (x_i - n_i + 1)``.
    law : numba cfunc with ``kernels.laws.LAW_SIGNATURE``, optional
        General kinetic law ``law(j, t, x, params) -> a_j`` for reactions flagged in
        ``law_reactions`` (their ``rates`` entry is ignored but must still be valid); at
        indices >= M, the values of rules, event assignments and triggers.
    law_reactions : bool[M], optional
    law_species : length-M sequence of species-index sequences, optional
        Species read by the law of each flagged reaction (drives the dependency graph).
        A flagged reaction without an entry (None) is assumed to read every species.
    params : float[P], optional
        Parameter vector passed to ``law``.
    events : EventArrays or a list of event specs (see :mod:`kernels.events`), optional
    time_reactions : int[Td], optional
        Law reactions whose law reads the time ``t``: the exact methods integrate their
        propensity between events (the integral method, :mod:`kernels.ssa`); tau-leaping
        refuses them.
    rule_species, rule_law : int[R], optional
        Species defined by an assignment rule and the law index (>= M) of each one's value,
        evaluated whenever an output is recorded (it must be a whole number). Reactions must
        not change these species.
    """
    x0 = _int_array("x0", x0, 1)
    n = x0.shape[0]
    neg = np.flatnonzero(x0 < 0)
    if neg.size:
        i = int(neg[0])
        raise ValueError(f"species {i}: initial count {int(x0[i])} is negative")

    rates = np.asarray(rates)
    if rates.ndim != 1:
        raise ValueError(f"rates: expected a 1-D array, got shape {rates.shape}")
    if not (np.issubdtype(rates.dtype, np.floating) or np.issubdtype(rates.dtype, np.integer)):
        raise ValueError(f"rates: expected floats, got dtype {rates.dtype}")
    rates = np.ascontiguousarray(rates, np.float64)
    m = rates.shape[0]
    for j in np.flatnonzero(~(np.isfinite(rates) & (rates >= 0.0))):
        raise ValueError(f"reaction {int(j)}: rate constant {float(rates[j])!r} is not finite "
                         "and >= 0")

    ridx = _int_array("reactant_index", reactant_index, 2)
    rsto = _int_array("reactant_stoich", reactant_stoich, 2)
    if ridx.shape[0] != m:
        raise ValueError(f"reactant_index: {ridx.shape[0]} rows for {m} reactions (rates)")
    if rsto.shape != ridx.shape:
        raise ValueError(f"reactant_stoich: shape {rsto.shape} != reactant_index shape "
                         f"{ridx.shape}")
    if ridx.shape[1] == 0:
        ridx = np.full((m, 1), -1, np.int64)
        rsto = np.zeros((m, 1), np.int64)
    # reactant rows, vectorised (row-wise masks; the first offending row is named)
    pad = ridx < 0
    real = ~pad
    bad = (pad & (ridx != -1)).any(axis=1)
    if bad.any():
        j = int(np.argmax(bad))
        raise ValueError(f"reaction {j}: reactant index {int(ridx[j][ridx[j] < -1][0])} "
                         "is negative (pad with -1 only)")
    bad = (pad[:, :-1] & real[:, 1:]).any(axis=1)
    if bad.any():
        raise ValueError(f"reaction {int(np.argmax(bad))}: reactant padding (-1) must come "
                         "after all reactants")
    bad = (real & (ridx >= n)).any(axis=1)
    if bad.any():
        j = int(np.argmax(bad))
        raise ValueError(f"reaction {j}: reactant species {int(ridx[j][ridx[j] >= n][0])} "
                         f"out of range (n_species={n})")
    srt = np.sort(np.where(real, ridx, -1 - np.arange(ridx.shape[1])), axis=1)
    bad = ((srt[:, 1:] == srt[:, :-1]) & (srt[:, 1:] >= 0)).any(axis=1)
    if bad.any():
        raise ValueError(f"reaction {int(np.argmax(bad))}: reactant species repeated; give "
                         "each species once with its stoichiometry")
    bad = (real & (rsto < 1)).any(axis=1)
    if bad.any():
        j = int(np.argmax(bad))
        raise ValueError(f"reaction {j}: reactant stoichiometry must be >= 1, got "
                         f"{int(rsto[j][real[j] & (rsto[j] < 1)][0])}")
    bad = (pad & (rsto != 0)).any(axis=1)
    if bad.any():
        raise ValueError(f"reaction {int(np.argmax(bad))}: padded reactant slots must have "
                         "stoichiometry 0")

    cptr = _int_array("change_ptr", change_ptr, 1)
    cidx = _int_array("change_index", change_index, 1)
    cdel = _int_array("change_delta", change_delta, 1)
    if cptr.shape[0] != m + 1:
        raise ValueError(f"change_ptr: length {cptr.shape[0]}, expected n_reactions + 1 = {m + 1}")
    if cptr[0] != 0 or (np.diff(cptr) < 0).any() or cptr[-1] != cidx.shape[0]:
        raise ValueError("change_ptr: must start at 0, be non-decreasing and end at "
                         "len(change_index)")
    if cdel.shape != cidx.shape:
        raise ValueError(f"change_delta: shape {cdel.shape} != change_index shape {cidx.shape}")
    crow = np.repeat(np.arange(m, dtype=np.int64), np.diff(cptr))  # reaction of each entry
    bad = (cidx < 0) | (cidx >= n)
    if bad.any():
        q = int(np.argmax(bad))
        raise ValueError(f"reaction {int(crow[q])}: changed species {int(cidx[q])} out of range "
                         f"(n_species={n})")
    keys = np.sort(crow * max(n, 1) + cidx)
    dup = np.flatnonzero(keys[1:] == keys[:-1])
    if dup.size:
        raise ValueError(f"reaction {int(keys[dup[0]] // max(n, 1))}: a species appears twice "
                         "in its net change")
    bad = cdel == 0
    if bad.any():
        q = int(np.argmax(bad))
        raise ValueError(f"reaction {int(crow[q])}: zero net change listed for species "
                         f"{int(cidx[q])}")

    # general kinetic law
    if law_reactions is None:
        lflag = np.zeros(m, bool)
    else:
        lflag = np.asarray(law_reactions)
        if lflag.shape != (m,):
            raise ValueError(f"law_reactions: shape {lflag.shape}, expected ({m},)")
        lflag = np.ascontiguousarray(lflag, bool)
    if lflag.any():
        check_law(law)
    elif law is not None:
        check_law(law)
    if law_species is None:
        law_species = [None] * m
    if len(law_species) != m:
        raise ValueError(f"law_species: expected {m} rows (one per reaction), "
                         f"got {len(law_species)}")
    rows = [[] if not lflag[j] else (range(n) if law_species[j] is None else law_species[j])
            for j in np.flatnonzero(lflag)]
    lptr = np.zeros(m + 1, np.int64)
    lidx = np.zeros(0, np.int64)
    if rows:
        fptr, fidx = _ragged("law_species", rows, len(rows))
        owner = np.flatnonzero(lflag)
        bad = (fidx < 0) | (fidx >= n)
        if bad.any():
            j = int(owner[np.searchsorted(fptr, int(np.argmax(bad)), "right") - 1])
            raise ValueError(f"reaction {j}: law species out of range (n_species={n})")
        pairs = _sorted_unique(np.repeat(owner, np.diff(fptr)) * max(n, 1) + fidx)
        lidx = np.ascontiguousarray(pairs % max(n, 1), np.int64)
        np.cumsum(np.bincount(pairs // max(n, 1), minlength=m), out=lptr[1:])
    if params is None:
        params = np.zeros(0, np.float64)
    params = np.ascontiguousarray(np.asarray(params, np.float64).reshape(-1))
    for p in np.flatnonzero(~np.isfinite(params)):
        raise ValueError(f"params[{int(p)}]: {float(params[p])!r} is not finite")

    if events is None:
        ev = empty_events(n)
    elif isinstance(events, EventArrays):
        ev = events
        if ev.n_species != n:
            raise ValueError(f"events were built for {ev.n_species} species, network has {n}")
    else:
        ev = make_event_arrays(n, events)

    td = np.unique(_int_array("time_reactions", [] if time_reactions is None else time_reactions, 1))
    for j in td:
        if not (0 <= j < m and lflag[j]):
            raise ValueError(f"time_reactions: reaction {int(j)} is not a law reaction "
                             "(only a general law can read the time)")
    rsp = _int_array("rule_species", [] if rule_species is None else rule_species, 1)
    rlaw = _int_array("rule_law", [] if rule_law is None else rule_law, 1)
    if rsp.shape != rlaw.shape:
        raise ValueError(f"rule_law: {rlaw.shape[0]} entries for {rsp.shape[0]} rule species")
    changed = set(cidx.tolist())
    for s_, j in zip(rsp.tolist(), rlaw.tolist()):
        if not 0 <= s_ < n:
            raise ValueError(f"rule_species: species {s_} out of range (n_species={n})")
        if s_ in changed:
            raise ValueError(f"rule species {s_} is changed by a reaction; a species defined by "
                             "a rule cannot also be a reactant or product")
        if j < 0:
            raise ValueError(f"rule_law: law index {j} of species {s_} is negative")
    needs_law = rsp.shape[0] > 0 or bool((ev.kind == 2).any()) or bool((ev.assign_mode >= 2).any())
    if needs_law and law is None:
        raise ValueError("rules or events use law values but no law was given")
    if needs_law:
        check_law(law)
    for q in np.flatnonzero(ev.assign_mode == 3):
        if ev.assign_species[q] >= params.shape[0]:
            e = int(np.searchsorted(ev.assign_ptr, q, "right") - 1)
            raise ValueError(f"event {e}: assigns parameter {int(ev.assign_species[q])}, out of "
                             f"range (params has {params.shape[0]})")

    dep_ptr, dep_index = dependency_graph(n, ridx, cptr, cidx, cdel, lflag, lptr, lidx)
    return NetworkArrays(x0, np.ascontiguousarray(ridx), np.ascontiguousarray(rsto), cptr, cidx,
                         cdel, rates, lflag, lptr, lidx, params, law, dep_ptr, dep_index, ev,
                         np.ascontiguousarray(td, np.int64), rsp, rlaw)


def _multiset(name, j, spec, n):
    """{species: count} from a list of indices (repeats = stoichiometry) or a mapping."""
    out: dict[int, int] = {}
    if isinstance(spec, Mapping):
        items = spec.items()
    elif isinstance(spec, (Sequence, np.ndarray)):
        items = ((s, 1) for s in spec)
    else:
        raise ValueError(f"reaction {j}: {name} must be a list of species indices or a mapping")
    for s, c in items:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            raise ValueError(f"reaction {j}: {name} species {s!r} is not an integer index")
        if not 0 <= int(s) < n:
            raise ValueError(f"reaction {j}: {name} species {int(s)} out of range (n_species={n})")
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or int(c) < 0:
            raise ValueError(f"reaction {j}: {name} stoichiometry {c!r} of species {int(s)} "
                             "must be an integer >= 0")
        if int(c):
            out[int(s)] = out.get(int(s), 0) + int(c)
    return out


def network_from_reactions(x0, reactants, products, rates, *, fixed_species=(), law=None,
                           law_reactions=None, law_species=None, params=None,
                           events=None, time_reactions=None, rule_species=None,
                           rule_law=None) -> NetworkArrays:
    """Build :class:`NetworkArrays` from per-reaction reactant and product lists.

    ``reactants[j]`` / ``products[j]``: a list of species indices with repeats for
    stoichiometry (``[0, 0]`` is 2 X0, the BioNetGen ``.net`` style) or a mapping
    ``{species: stoichiometry}``. The net change is products - reactants, except that species
    in ``fixed_species`` (SBML boundary species) are never changed by reactions (events may
    still set them). Other arguments as in :func:`make_network_arrays`.
    """
    x0a = _int_array("x0", x0, 1)
    n = x0a.shape[0]
    m = len(reactants)
    if len(products) != m:
        raise ValueError(f"products: {len(products)} rows for {m} reactions (reactants)")
    if np.shape(rates) != (m,):
        raise ValueError(f"rates: shape {np.shape(rates)}, expected ({m},) (one per reaction)")
    fixed = set()
    for s in fixed_species:
        if not 0 <= int(s) < n:
            raise ValueError(f"fixed species {int(s)} out of range (n_species={n})")
        fixed.add(int(s))
    rsets = [_multiset("reactant", j, reactants[j], n) for j in range(m)]
    psets = [_multiset("product", j, products[j], n) for j in range(m)]
    k = max([1] + [len(r) for r in rsets])
    ridx = np.full((m, k), -1, np.int64)
    rsto = np.zeros((m, k), np.int64)
    cptr = np.zeros(m + 1, np.int64)
    cidx, cdel = [], []
    for j in range(m):
        for q, s in enumerate(sorted(rsets[j])):
            ridx[j, q] = s
            rsto[j, q] = rsets[j][s]
        delta: dict[int, int] = {}
        for s, c in rsets[j].items():
            delta[s] = delta.get(s, 0) - c
        for s, c in psets[j].items():
            delta[s] = delta.get(s, 0) + c
        for s in sorted(delta):
            if delta[s] != 0 and s not in fixed:
                cidx.append(s)
                cdel.append(delta[s])
        cptr[j + 1] = len(cidx)
    return make_network_arrays(x0a, ridx, rsto, cptr, np.array(cidx, np.int64),
                               np.array(cdel, np.int64), rates, law=law,
                               law_reactions=law_reactions, law_species=law_species,
                               params=params, events=events, time_reactions=time_reactions,
                               rule_species=rule_species, rule_law=rule_law)


def upstream_reactions(arrays: NetworkArrays, species) -> np.ndarray:
    """bool[M]: the reactions that can influence the counts of ``species``.

    U starts as ``species`` and grows by every species a reaction reads (its reactants, or its
    law's species) when that reaction changes a species of U, until nothing is added; a reaction
    is kept when it changes a species of U. The others change only species outside U and read
    nothing that U's reactions need, so dropping them leaves the joint law of U's counts exactly
    as it was (SSA and ODE alike): an exact reduction for ensembles that observe U only. Events
    and rule species are not analysed: with any, every reaction is kept.
    """
    m = arrays.n_reactions
    if arrays.events.kind.shape[0] or arrays.rule_species.shape[0]:
        return np.ones(m, np.bool_)
    n = arrays.n_species
    inside = np.zeros(n + 1, np.bool_)
    inside[np.asarray(species, np.int64)] = True
    rows = np.repeat(np.arange(m, dtype=np.int64), np.diff(arrays.change_ptr))
    ch_sp = arrays.change_index[arrays.change_delta != 0]
    ch_row = rows[arrays.change_delta != 0]
    reads = [[] for _ in range(m)]
    for j in range(m):
        if arrays.law_reactions[j]:
            reads[j] = list(arrays.law_index[arrays.law_ptr[j]:arrays.law_ptr[j + 1]]) if arrays.law_ptr[j + 1] > \
                arrays.law_ptr[j] else list(range(n))
        else:
            reads[j] = [int(i) for i in arrays.reactant_index[j] if i >= 0]
    keep = np.zeros(m, np.bool_)
    while True:
        hit = np.zeros(m, np.bool_)
        hit[ch_row[inside[ch_sp]]] = True
        new = hit & ~keep
        if not new.any():
            return keep
        keep |= new
        for j in np.nonzero(new)[0]:
            inside[reads[j]] = True
