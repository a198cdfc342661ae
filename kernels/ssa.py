"""Per-trajectory SSA kernels (Numba). Called by :mod:`kernels.ensemble`; not a public API.

Exact methods (``exact_trajectory``):

* direct method (Gillespie 1977) with a reaction dependency graph: after reaction j fires only
  the propensities of its dependents are recomputed, from dependency records that hold what
  each update reads (``drec``/``drate``, built by ``kernels.ensemble.dep_records``, so one
  event's updates read contiguous memory); the total a0 is updated incrementally (and
  re-summed every ``A0_REFRESH`` events or when it drops by 1e9, so rounding drift cannot
  accumulate); selection is a linear search, O(M) per event, in an order that adapts: the
  fired reaction moves one place up (the sorting direct method of McCollum et al., Comput.
  Biol. Chem. 30:39, 2006), so frequent reactions are found after a few steps (1.45x the
  events per second of index order on the 54-reaction receptor network of
  benchmarks/ssa.py, 1.66x at 216 reactions). Exact: only the search order changes.
* sum-tree method (``use_tree=True``): a logarithmic direct method. Level 0 is the propensity
  array; level 1 holds the sums of leaf groups of 2**``LEAF_SHIFT`` = 64 consecutive
  reactions, each level above the sums of ``TREE_FANOUT`` = 32 entries of the level below, up
  to a top level of <= 32 entries (``tree_shape``). Selection scans the top level, then the
  children of the chosen node on each level, then the chosen leaf group in its own sorting
  order (the fired reaction moves one place up within its group, which leaves every sum
  unchanged); an update adds the change to one node per level. Per event: O(D log M)
  updates, D = dependents of the fired reaction, + O(32 log_32 M) scan steps, of which the
  leaf group's are few (its frequent reactions come first); at M = 1,000 that is one level
  of 17 groups. Leaf groups of 64 rather than 32 and the sorted leaf scan: ~1.1x the
  events per second at 1,080 reactions (receptor_x20 of benchmarks/ssa.py; medians of
  alternated runs, +-10 % noise); groups of 128 were no faster. Same incremental a0 and exact re-sums as above (every level rebuilt
  from the propensities).

Both select "the first reaction whose cumulative propensity exceeds u * a0" in their search
order, so the same seed takes different paths in the two methods, with the same statistics
(tested on a 2,200-reaction network with two tree levels).

Both draw the waiting time first (one exponential), then the reaction (one uniform). With
time-homogeneous propensities the waiting time is Exp(1) / a0. Laws that read the time
(``time_reactions``) use the integral method (:func:`td_next_time`): with the counts fixed
until the next reaction, the next reaction time T solves integral_t^T a0(s) ds = E for the
same Exp(1) draw E, integrated over adaptive Gauss-Kronrod panels and solved by a bracketed
Newton iteration (to ~1e-10 relative); the reaction is then chosen with the propensities at
T. This is exact up to that quadrature tolerance. It was chosen over thinning because thinning
needs an upper bound of the propensity over the time ahead, which an arbitrary kinetic law
(``a + b*t``, ``sin``, ``piecewise``) does not provide, while the integral method needs only
evaluations; networks without such laws draw exactly as before. Time-triggered events are
exact: the next event time T is compared with the drawn reaction time, and when T comes first
the clock stops at T, the event is applied and the waiting time is redrawn (valid by
memorylessness, and, for time-dependent laws, by the independent increments of the
inhomogeneous Poisson process).

Approximate method (``tau_leap_approx_trajectory``): explicit tau-leaping with the step size of
Cao, Gillespie & Petzold (J. Chem. Phys. 124, 044109, 2006), critical reactions (fewer than
``n_critical`` firings left before a reactant runs out) fired at most once per leap by an exact
draw, a leap that would make a count negative halved and redrawn, and a fall-back to
``ssa_steps`` exact direct-method steps whenever the leap would be shorter than
``ssa_factor / a0``. Leaps never cross an output time or a time event, and are capped at
``tau_max``. THIS IS AN APPROXIMATION: it is not exact; its mean carries an O(epsilon) bias
(0.8% on DSMTS 00023 at eps = 0.03) and long leaps near a stationary state inflate the
variance (see ``tau_leap_approx_trajectory``).

Error reporting: a trajectory that cannot continue writes ``status[0]`` (a code below),
``status[1:3]`` (indices) and ``fstatus[0:2]`` (time, value) and returns; the Python layer
turns that into an exception naming the reaction, species or event.
"""

from __future__ import annotations


import numpy as np
from numba import njit

from .events import MAX_EVENT_ROUNDS
from .rng import exponential, poisson, uniform01

OK = 0
ERR_PROPENSITY = 1  # status[1] = reaction; fstatus = (t, value)
ERR_NEGATIVE_REACTION = 2  # status[1] = reaction, status[2] = species
ERR_NEGATIVE_EVENT = 3  # status[1] = event, status[2] = species
ERR_EVENT_LOOP = 4  # fstatus[0] = t
ERR_MAX_EVENTS = 5  # status[1] = max_events
ERR_RULE_VALUE = 6  # status[1] = rule species; fstatus = (t, value): not a whole count >= 0
ERR_EVENT_VALUE = 7  # status[1] = event, status[2] = species (or -1 - parameter); fstatus = (t, value)

A0_REFRESH = 100_000
TREE_SHIFT = 5
TREE_FANOUT = 1 << TREE_SHIFT  # children per node of the sum tree above its leaf groups
LEAF_SHIFT = 6  # reactions per leaf group: 2**LEAF_SHIFT (see tree_shape)
_INF = np.inf


@njit(cache=True, inline="always")
def _slot(xv, second):
    """One reactant slot of a fast mass-action propensity: x if ``second`` is 0, x(x - 1) if 1
    (x (1 + (x - 2) second): no data-dependent branch). Scalars only, so inlining it leaves
    no reference counting behind (see PROPENSITY below)."""
    return float(xv) * float(1 + (xv - 2) * second)


@njit(cache=True, inline="always")
def fast_mass_action(j, x, pa, ps, rates):
    """Mass-action a_j for ``pkind[j] == 0``: at most two reactant slots of stoichiometry 1 or 2.

    Slot species ``pa[j, s]`` (pads point at the constant-1 slot ``x[n_species]``) and
    stoichiometry ``ps[j, s]`` (1 on pads) give a = c * slot(x_a, n_a - 1) * slot(x_b, n_b - 1).
    """
    return rates[j] * _slot(x[pa[j, 0]], ps[j, 0] - 1) * _slot(x[pa[j, 1]], ps[j, 1] - 1)


@njit(cache=True, inline="always")
def dep_mass_action(b, code, x, drec, rate):
    """:func:`fast_mass_action` of dependent ``r = drec[b]`` from its dependency record.

    ``drec[b:b + 4] = (r, species a, species b, code)`` (uint32) and ``rate = rates[r]``:
    what a propensity update reads, stored with the dependency graph itself, so the updates
    after one event read contiguous memory instead of three arrays at each dependent's index
    (and unsigned indices need no negative-index fix-up). ``code`` = 2 (n_a - 1) + (n_b - 1)
    (``kernels.ensemble.dep_records``).
    """
    return rate * _slot(x[drec[b + 1]], (code >> 1) & 1) * _slot(x[drec[b + 2]], code & 1)


@njit(cache=True)
def general_mass_action(j, x, ridx, rsto, rates):
    """Mass-action a_j for ``pkind[j] == 1`` (any number of slots and stoichiometries)."""
    a = rates[j]
    for s in range(ridx.shape[1]):
        i = ridx[j, s]
        if i < 0:
            break
        xi = x[i]
        for m in range(rsto[j, s]):
            a *= float(xi - m)
    return a


# PROPENSITY. Every call site spells out
#     pk = pkind[r]
#     if pk == 0:   v = fast_mass_action(r, x, pa, ps, rates)             # inlined, branch-free
#     elif pk == 1: v = general_mass_action(r, x, ridx, rsto, rates)      # ordinary call
#     else:        v = law(r, t, x, pv)                                  # the general law
# (the exact kernels' updates after an event: the same three branches on the dependency
# record's code, with dep_mass_action for the first).
# Measured on a 50-reaction network (events/s, one thread): a loop over padded slots 1.7 M;
# the same wrapped in one inlined helper that also calls the law or holds the general loop
# 1.7-2.1 M (Numba's IR inlining of a helper with calls or loops leaves atomic reference
# counting on every array argument); this pattern 8.0 M.


@njit(cache=True)
def _trigger(e, t, x, pv, law, kind, esp, eop, ethr):
    if kind[e] == 0:
        return t >= ethr[e]
    if kind[e] == 2:
        return law(np.int64(ethr[e]), t, x, pv) != 0.0
    v = float(x[esp[e]])
    th = ethr[e]
    o = eop[e]
    if o == 0:
        return v > th
    if o == 1:
        return v >= th
    if o == 2:
        return v < th
    if o == 3:
        return v <= th
    if o == 4:
        return v == th
    return v != th


@njit(cache=True)
def _whole(v):
    """v as a count if it is a finite whole number >= 0 (to 1e-9 relative), else -1."""
    if not (v >= -0.5 and v < 9.2e18):
        return -1
    w = np.floor(v + 0.5)
    if abs(v - w) > 1e-9 * max(1.0, abs(v)):
        return -1
    return np.int64(w)


@njit(cache=True)
def settle_events(t, x, pv, prev, fire, ev, law, abuf, status, fstatus):
    """Fire every event whose trigger went false -> true at time t, cascading.

    An event's law values (``SET_LAW``, ``SET_PARAM_LAW``) are all computed, into ``abuf``,
    before any of its assignments is made. Returns 0 if nothing fired, 1 if something fired,
    -1 on error (status filled).
    """
    kind, esp, eop, ethr, einit, aptr, asp, amode, aval, time_order, n_sev = ev
    n_e = kind.shape[0]
    fired_any = 0
    for _ in range(MAX_EVENT_ROUNDS):
        nf = 0
        for e in range(n_e):
            cur = _trigger(e, t, x, pv, law, kind, esp, eop, ethr)
            f = cur and not prev[e]
            fire[e] = f
            if f:
                nf += 1
            prev[e] = cur
        if nf == 0:
            return fired_any
        fired_any = 1
        for e in range(n_e):
            if fire[e]:
                for q in range(aptr[e], aptr[e + 1]):
                    if amode[q] >= 2:
                        abuf[q] = law(aval[q], t, x, pv)
                for q in range(aptr[e], aptr[e + 1]):
                    s = asp[q]
                    md = amode[q]
                    if md == 0:
                        x[s] = aval[q]
                    elif md == 1:
                        x[s] += aval[q]
                    elif md == 2:
                        w = _whole(abuf[q])
                        if w < 0:
                            status[0] = ERR_EVENT_VALUE
                            status[1] = e
                            status[2] = s
                            fstatus[0] = t
                            fstatus[1] = abuf[q]
                            return -1
                        x[s] = w
                    else:
                        v = abuf[q]
                        if not (v - v == 0.0):
                            status[0] = ERR_EVENT_VALUE
                            status[1] = e
                            status[2] = -1 - s
                            fstatus[0] = t
                            fstatus[1] = v
                            return -1
                        pv[s] = v
                        continue
                    if x[s] < 0:
                        status[0] = ERR_NEGATIVE_EVENT
                        status[1] = e
                        status[2] = s
                        fstatus[0] = t
                        return -1
    status[0] = ERR_EVENT_LOOP
    fstatus[0] = t
    return -1


@njit(cache=True)
def _record(out, k, tk, x, obs, pv, law, rsp, rlaw, status, fstatus):
    """out[k] = the observed counts at output time tk, after the rule species' values at tk
    (whole numbers >= 0, else an error: returns False with status filled)."""
    if rsp.shape[0] == 0:
        for q in range(obs.shape[0]):
            out[k, q] = x[obs[q]]
        return True
    for r in range(rsp.shape[0]):
        v = law(rlaw[r], tk, x, pv)
        w = _whole(v)
        if w < 0:
            status[0] = ERR_RULE_VALUE
            status[1] = rsp[r]
            fstatus[0] = tk
            fstatus[1] = v
            return False
        x[rsp[r]] = w
    for q in range(obs.shape[0]):
        out[k, q] = x[obs[q]]
    return True


@njit(cache=True)
def tree_shape(m, use_tree):
    """Levels of the sum tree over m propensities: (n_lev, lsize, loff, lshift, total size).

    Level 0 is the propensity array itself (size m); level l >= 1 holds the sums of
    2**lshift[l] consecutive entries of level l - 1 (``LEAF_SHIFT`` for level 1,
    ``TREE_SHIFT`` above), stored in ``tree[loff[l]:loff[l] + lsize[l]]``; levels are added
    until the top one has at most ``TREE_FANOUT`` entries. ``use_tree=False`` gives no level
    above the propensities: the direct method.
    """
    sizes = [m]
    shifts = [0]
    while use_tree and sizes[-1] > TREE_FANOUT:
        sh = LEAF_SHIFT if len(sizes) == 1 else TREE_SHIFT
        sizes.append((sizes[-1] + (1 << sh) - 1) >> sh)
        shifts.append(sh)
    n_lev = len(sizes) - 1
    lsize = np.array(sizes, np.int64)
    lshift = np.array(shifts, np.int64)
    loff = np.zeros(n_lev + 2, np.int64)
    for lv in range(1, n_lev + 1):
        loff[lv + 1] = loff[lv] + lsize[lv]
    return n_lev, lsize, loff, lshift, max(loff[n_lev + 1], 1)


@njit(cache=True)
def _resum(a, tree, n_lev, lsize, loff, lshift):
    """Exact a0 from the propensities, with every tree level rebuilt from the one below."""
    for lv in range(1, n_lev + 1):
        below = lsize[lv - 1]
        for g in range(lsize[lv]):
            s = 0.0
            for c in range(g << lshift[lv], min((g + 1) << lshift[lv], below)):
                s += a[c] if lv == 1 else tree[loff[lv - 1] + c]
            tree[loff[lv] + g] = s
    a0 = 0.0
    if n_lev == 0:
        for j in range(a.shape[0]):
            a0 += a[j]
    else:
        for g in range(lsize[n_lev]):
            a0 += tree[loff[n_lev] + g]
    return a0


@njit(cache=True)
def _refresh_all(x, a, tree, n_lev, lsize, loff, lshift, net, law, t, pv, status, fstatus):
    """Recompute every propensity (and the tree); return a0, or -1.0 on error."""
    (x0, ridx, rsto, pa, ps, pkind, guard, cptr, cidx, cdel, rates, params, dep_ptr, dep_idx,
     drec, drate) = net
    m = rates.shape[0]
    for j in range(m):
        pk = pkind[j]
        if pk == 0:
            v = fast_mass_action(j, x, pa, ps, rates)
        elif pk == 1:
            v = general_mass_action(j, x, ridx, rsto, rates)
        else:
            v = law(j, t, x, pv)
        if not (v >= 0.0 and v < _INF):
            status[0] = ERR_PROPENSITY
            status[1] = j
            fstatus[0] = t
            fstatus[1] = v
            return -1.0
        a[j] = v
    return _resum(a, tree, n_lev, lsize, loff, lshift)

# Gauss-Kronrod 7-15 nodes and weights on [-1, 1] (the standard ones, as in QUADPACK's QK15):
# the Kronrod nodes XGK (the odd ones are the 7-point Gauss nodes), their weights WGK, and the
# Gauss weights WG of the nodes XGK[1], XGK[3], XGK[5], XGK[7] = 0.
XGK = np.array([0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
                0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
                0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
                0.207784955007898467600689403773245, 0.0])
WGK = np.array([0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
                0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
                0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
                0.204432940075298892414161999234649, 0.209482141084727828012999174891714])
WG = np.array([0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
               0.381830050505118944950369775488975, 0.417959183673469387755102040816327])
TD_ABS_TOL = 1e-12  # integral of the time-dependent propensities: absolute error per panel
TD_REL_TOL = 1e-10  # and relative


@njit(cache=True)
def _td_sum(s, x, pv, law, td):
    """Sum of the time-dependent propensities at time s (NaN if one is not finite and >= 0)."""
    tot = 0.0
    for i in range(td.shape[0]):
        v = law(td[i], s, x, pv)
        if not (v >= 0.0 and v < _INF):
            return np.nan
        tot += v
    return tot


@njit(cache=True)
def _gk15(lo, hi, x, pv, law, td):
    """(integral, error estimate) of the time-dependent propensities over [lo, hi]."""
    c = 0.5 * (lo + hi)
    h = 0.5 * (hi - lo)
    fc = _td_sum(c, x, pv, law, td)
    resk = fc * WGK[7]
    resg = fc * WG[3]
    for q in range(7):
        d = h * XGK[q]
        f = _td_sum(c - d, x, pv, law, td) + _td_sum(c + d, x, pv, law, td)
        resk += WGK[q] * f
        if q % 2 == 1:
            resg += WG[q // 2] * f
    return resk * h, abs((resk - resg) * h)


@njit(cache=True)
def _td_root(lo, hi, rem, a0s, x, pv, law, td):
    """tau in (lo, hi] with a0s (tau - lo) + integral_lo^tau (time-dependent) = rem (Newton in a
    bracket, bisection where Newton leaves it)."""
    s = lo
    left, right = lo, hi
    whole = _gk15(lo, hi, x, pv, law, td)[0] + a0s * (hi - lo)
    tau = lo + (hi - lo) * min(1.0, rem / whole) if whole > 0.0 else hi
    for _ in range(200):
        f = _gk15(s, tau, x, pv, law, td)[0] + a0s * (tau - s) - rem
        if f != f:
            return np.nan
        if f > 0.0:
            right = tau
        else:
            left = tau
        if abs(f) <= 1e-14 * rem or right - left <= 4e-16 * max(abs(right), 1e-300):
            break
        rate = a0s + _td_sum(tau, x, pv, law, td)
        nxt = tau - f / rate if rate > 0.0 else -1.0
        if not (left < nxt < right):
            nxt = 0.5 * (left + right)
        tau = nxt
    return tau


@njit(cache=True)
def td_next_time(t, a0s, target, horizon, x, pv, law, td):
    """The next reaction time with time-dependent propensities: the integral method.

    With the counts fixed until the next event, the total propensity is
    a0(s) = a0s + sum of the time-dependent laws at s, and the next event time T solves
    integral_t^T a0(s) ds = target, target an Exp(1) draw (the inverse of the survival
    function of an inhomogeneous Poisson process). The integral is accumulated over adaptive
    Gauss-Kronrod 7-15 panels (each halved until its error estimate is below
    TD_ABS_TOL + TD_REL_TOL * |integral|, doubled after an accepted one), and T is found in the
    panel that reaches ``target`` by a bracketed Newton iteration. Returns +inf if the
    integral up to ``horizon`` stays below ``target`` (nothing happens before the horizon:
    the caller stops there, and a fresh draw after it is exact by the independent increments
    of the process), NaN if a propensity is not finite and >= 0.
    """
    if not (horizon > t):
        return _INF
    f0 = a0s + _td_sum(t, x, pv, law, td)
    if f0 != f0:
        return np.nan
    h = target / f0 if f0 > 0.0 else horizon - t
    if not (h > 0.0) or h > horizon - t:
        h = horizon - t
    s = t
    acc = 0.0
    while True:
        b = s + h
        if b > horizon:
            b = horizon
        part, err = _gk15(s, b, x, pv, law, td)
        if part != part:
            return np.nan
        part += a0s * (b - s)
        if err > TD_ABS_TOL + TD_REL_TOL * abs(part) and b - s > 1e-12 * (1.0 + abs(s)):
            h = 0.5 * (b - s)
            continue
        if acc + part >= target:
            return _td_root(s, b, target - acc, a0s, x, pv, law, td)
        acc += part
        h = 2.0 * (b - s)
        s = b
        if s >= horizon:
            return _INF


@njit(cache=True)
def _td_step(t, a0, a, target, horizon, x, pv, law, td, status, fstatus):
    """:func:`td_next_time` from the current propensities (NaN with status filled on error)."""
    a0s = a0
    for i in range(td.shape[0]):
        a0s -= a[td[i]]
    t_next = td_next_time(t, max(a0s, 0.0), target, horizon, x, pv, law, td)
    if t_next != t_next:
        _td_error(t, x, pv, law, td, status, fstatus)
    return t_next


@njit(cache=True)
def _td_update(t, a0, a, tree, n_lev, loff, lshift, x, pv, law, td, status, fstatus):
    """Set the time-dependent propensities (and the tree) to their values at t; the new a0, or
    NaN with status filled when one is not finite and >= 0."""
    for i in range(td.shape[0]):
        r = td[i]
        v = law(r, t, x, pv)
        if not (v >= 0.0 and v < _INF):
            status[0] = ERR_PROPENSITY
            status[1] = r
            fstatus[0] = t
            fstatus[1] = v
            return np.nan
        d = v - a[r]
        a[r] = v
        a0 += d
        c = r
        for lv in range(1, n_lev + 1):
            c >>= lshift[lv]
            tree[loff[lv] + c] += d
    return a0


@njit(cache=True)
def _td_error(t, x, pv, law, td, status, fstatus):
    """Fill status for the first time-dependent law that is not finite and >= 0 at t."""
    for i in range(td.shape[0]):
        v = law(td[i], t, x, pv)
        if not (v >= 0.0 and v < _INF):
            status[0] = ERR_PROPENSITY
            status[1] = td[i]
            fstatus[0] = t
            fstatus[1] = v
            return
    status[0] = ERR_PROPENSITY
    status[1] = td[0]
    fstatus[0] = t
    fstatus[1] = np.nan


@njit(cache=True)
def exact_trajectory(use_tree, net, law, ev, aux, t_out, obs, rng, out, max_events, status,
                     fstatus):
    """One exact SSA trajectory from t = 0; fills out[k, q] = x[obs[q]] at t_out[k].

    Returns the number of reaction events. ``use_tree`` picks the logarithmic direct method.
    ``aux = (time_reactions, rule_species, rule_law)``: with time-dependent laws the waiting
    time comes from :func:`td_next_time` (the same one exponential draw, so a network without
    them follows exactly the paths of the homogeneous method).
    """
    (x0, ridx, rsto, pa, ps, pkind, guard, cptr, cidx, cdel, rates, params, dep_ptr, dep_idx,
     drec, drate) = net
    kind, esp, eop, ethr, einit, aptr, asp, amode, aval, time_order, n_sev = ev
    td, rsp, rlaw = aux
    n_td = td.shape[0]
    pv = params.copy()
    abuf = np.zeros(max(asp.shape[0], 1))
    m = rates.shape[0]
    n_e = kind.shape[0]
    n_time = time_order.shape[0]
    n_out = t_out.shape[0]

    x = x0.copy()
    prev = einit.copy()
    fire = np.zeros(n_e, np.bool_)
    a = np.zeros(m)
    n_lev, lsize, loff, lshift, tree_size = tree_shape(m, use_tree)
    tree = np.zeros(tree_size)
    # the search order (of all reactions in the direct method, within each leaf group in the
    # tree), in which a fired reaction moves one place up (the sorting direct method,
    # McCollum et al. 2006), so frequent reactions are found early
    order = np.arange(m).astype(drec.dtype)

    t = 0.0
    if n_e > 0:
        if settle_events(t, x, pv, prev, fire, ev, law, abuf, status, fstatus) < 0:
            return 0
    a0 = _refresh_all(x, a, tree, n_lev, lsize, loff, lshift, net, law, t, pv, status, fstatus)
    if a0 < 0.0:
        return 0
    a0_ref = a0
    since = 0
    k = 0
    n_ev = 0
    p_time = 0
    while True:
        while p_time < n_time and prev[time_order[p_time]]:
            p_time += 1
        t_ev = ethr[time_order[p_time]] if p_time < n_time else _INF
        if a0 > 0.0 and n_td == 0:
            t_next = t + exponential(rng) / a0
        elif n_td == 0:
            t_next = _INF
        else:
            t_next = _td_step(t, a0, a, exponential(rng), min(t_ev, t_out[n_out - 1]), x, pv, law, td,
                              status, fstatus)
            if t_next != t_next:
                return n_ev
        if t_ev <= t_next:
            # the time event comes first (or nothing happens any more)
            while k < n_out and t_out[k] < t_ev:
                if not _record(out, k, t_out[k], x, obs, pv, law, rsp, rlaw, status, fstatus):
                    return n_ev
                k += 1
            if k == n_out:
                break
            t = t_ev
            if settle_events(t, x, pv, prev, fire, ev, law, abuf, status, fstatus) < 0:
                return n_ev
            a0 = _refresh_all(x, a, tree, n_lev, lsize, loff, lshift, net, law, t, pv, status,
                              fstatus)
            if a0 < 0.0:
                return n_ev
            a0_ref = a0
            since = 0
            continue
        while k < n_out and t_out[k] < t_next:
            if not _record(out, k, t_out[k], x, obs, pv, law, rsp, rlaw, status, fstatus):
                return n_ev
            k += 1
        if k == n_out:
            break
        t = t_next
        if n_td > 0:
            # time-dependent propensities take their values at the reaction time
            a0 = _td_update(t, a0, a, tree, n_lev, loff, lshift, x, pv, law, td, status, fstatus)
            if a0 != a0:
                return n_ev

        # select the reaction: scan each tree level from the top, then the propensities
        # (with no tree level this is the direct method's linear search)
        u = uniform01(rng) * a0
        start = 0
        end = lsize[n_lev]
        lv = n_lev
        while lv > 0:
            base = loff[lv]
            acc = 0.0
            sel = -1
            for c in range(start, end):
                w = tree[base + c]
                acc += w
                if u < acc:
                    sel = c
                    u -= acc - w
                    break
            if sel < 0:
                break
            start = sel << lshift[lv]
            end = min(start + (1 << lshift[lv]), lsize[lv - 1])
            lv -= 1
        j = -1
        if lv == 0:
            # the reactions of the chosen leaf group (all of them without a tree), in their
            # search order; the one found moves one place up within its group
            acc = 0.0
            for p in range(start, end):
                r = order[p]
                acc += a[r]
                if u < acc:
                    j = r
                    if p > start and a[j] > 0.0:
                        order[p] = order[p - 1]
                        order[p - 1] = j
                    break
            if j >= 0 and not (a[j] > 0.0):
                j = -1
        if j < 0:
            # rounding (probability ~1e-16): re-sum and draw again
            a0 = _refresh_all(x, a, tree, n_lev, lsize, loff, lshift, net, law, t, pv, status,
                              fstatus)
            if a0 < 0.0:
                return n_ev
            a0_ref = a0
            since = 0
            continue

        # fire it (only guarded reactions can drive a count negative: see kernel_arrays)
        for q in range(cptr[j], cptr[j + 1]):
            x[cidx[q]] += cdel[q]
        if guard[j]:
            for q in range(cptr[j], cptr[j + 1]):
                if x[cidx[q]] < 0:
                    status[0] = ERR_NEGATIVE_REACTION
                    status[1] = j
                    status[2] = cidx[q]
                    fstatus[0] = t
                    return n_ev
        n_ev += 1
        if n_ev >= max_events:
            status[0] = ERR_MAX_EVENTS
            status[1] = max_events
            fstatus[0] = t
            return n_ev

        # update the propensities that depend on it
        for q in range(dep_ptr[j], dep_ptr[j + 1]):
            b = q << 2
            r = drec[b]
            pk = drec[b + 3]
            if pk < 4:
                v = dep_mass_action(b, pk, x, drec, drate[q])
            elif pk == 4:
                v = general_mass_action(r, x, ridx, rsto, rates)
            else:
                # mass action is finite and >= 0 by construction; a law is checked
                v = law(r, t, x, pv)
                if not (v >= 0.0 and v < _INF):
                    status[0] = ERR_PROPENSITY
                    status[1] = r
                    fstatus[0] = t
                    fstatus[1] = v
                    return n_ev
            d = v - a[r]
            a[r] = v
            a0 += d
            # add the change to the node above r on every level (independent updates)
            c = r
            for lv in range(1, n_lev + 1):
                c >>= lshift[lv]
                tree[loff[lv] + c] += d
        since += 1
        if since >= A0_REFRESH or a0 <= 1e-9 * a0_ref:
            # incremental sums carry rounding drift: re-sum exactly from the propensities
            a0 = _resum(a, tree, n_lev, lsize, loff, lshift)
            a0_ref = a0
            since = 0

        if n_sev > 0:
            rc = settle_events(t, x, pv, prev, fire, ev, law, abuf, status, fstatus)
            if rc < 0:
                return n_ev
            if rc > 0:
                a0 = _refresh_all(x, a, tree, n_lev, lsize, loff, lshift, net, law, t, pv, status,
                                  fstatus)
                if a0 < 0.0:
                    return n_ev
                a0_ref = a0
                since = 0
    return n_ev


@njit(cache=True)
def tau_leap_approx_trajectory(net, law, ev, aux, gdata, t_out, obs, rng, out, max_events, eps,
                               n_critical, ssa_factor, ssa_steps, tau_max, status, fstatus):
    """One APPROXIMATE tau-leaping trajectory (Cao-Gillespie-Petzold 2006 step selection).

    ``gdata = (g_ptr, g_order, g_mult, rs_species)``: for each reactant species i, the
    distinct (reaction order o, multiplicity n of i) pairs it occurs in, which give
    g_i = max over pairs of (o / n) * sum_{k<n} x_i / (x_i - k)  (CGP's g for HOR 1, 2, 3,
    generalised). Mass-action networks only. Returns the number of reaction firings.

    Leaps are also capped at ``tau_max``. CGP's bounds keep each propensity's relative change
    below eps, but near a stationary state the mean drift cancels and a leap may last longer
    than the system's relaxation time; an explicit leap of length h on a linear death rate mu
    then inflates the stationary variance by about 1 / (1 - mu h / 2) (measured on DSMTS
    00023 with outputs 5 time units apart: sd +18%). Leaps never cross an output time, so a
    fine output grid or ``tau_max`` bounds this error.
    """
    (x0, ridx, rsto, pa, ps, pkind, guard, cptr, cidx, cdel, rates, params, dep_ptr, dep_idx,
     drec, drate) = net
    kind, esp, eop, ethr, einit, aptr, asp, amode, aval, time_order, n_sev = ev
    g_ptr, g_order, g_mult, rs_species = gdata
    td, rsp, rlaw = aux  # no time-dependent laws here (refused by the Python layer)
    pv = params.copy()
    abuf = np.zeros(max(asp.shape[0], 1))
    m = rates.shape[0]
    n_s = x0.shape[0]
    n_e = kind.shape[0]
    n_time = time_order.shape[0]
    n_out = t_out.shape[0]

    x = x0.copy()
    xn = x0.copy()
    prev = einit.copy()
    fire = np.zeros(n_e, np.bool_)
    a = np.zeros(m)
    crit = np.zeros(m, np.bool_)
    mu = np.zeros(n_s)
    sig = np.zeros(n_s)
    n_lev, lsize, loff, lshift, tree_size = tree_shape(m, False)
    tree = np.zeros(tree_size)

    t = 0.0
    if n_e > 0:
        if settle_events(t, x, pv, prev, fire, ev, law, abuf, status, fstatus) < 0:
            return 0
    k = 0
    n_ev = 0
    p_time = 0
    while True:
        while k < n_out and t_out[k] <= t:
            if not _record(out, k, t_out[k], x, obs, pv, law, rsp, rlaw, status, fstatus):
                return n_ev
            k += 1
        if k == n_out:
            break
        while p_time < n_time and prev[time_order[p_time]]:
            p_time += 1
        t_stop = t_out[k]
        if p_time < n_time and ethr[time_order[p_time]] < t_stop:
            t_stop = ethr[time_order[p_time]]

        a0 = _refresh_all(x, a, tree, n_lev, lsize, loff, lshift, net, law, t, pv, status, fstatus)
        if a0 < 0.0:
            return n_ev
        if a0 == 0.0:
            t = t_stop
        else:
            # critical reactions: fewer than n_critical firings before a reactant runs out
            for j in range(m):
                c = False
                if a[j] > 0.0:
                    for q in range(cptr[j], cptr[j + 1]):
                        d = cdel[q]
                        if d < 0 and x[cidx[q]] // (-d) < n_critical:
                            c = True
                            break
                crit[j] = c
            # CGP tau': bound the expected change and the sd of each reactant species
            mu[:] = 0.0
            sig[:] = 0.0
            for j in range(m):
                if a[j] > 0.0 and not crit[j]:
                    for q in range(cptr[j], cptr[j + 1]):
                        d = float(cdel[q])
                        mu[cidx[q]] += d * a[j]
                        sig[cidx[q]] += d * d * a[j]
            tau1 = _INF
            for ii in range(rs_species.shape[0]):
                i = rs_species[ii]
                if mu[i] == 0.0 and sig[i] == 0.0:
                    continue
                xi = float(x[i])
                g = 1.0
                for p in range(g_ptr[i], g_ptr[i + 1]):
                    o = float(g_order[p])
                    nm = g_mult[p]
                    if nm == 1 or x[i] < nm:
                        gg = o
                    else:
                        ssum = 0.0
                        for kk in range(nm):
                            ssum += xi / (xi - kk)
                        gg = o / nm * ssum
                    if gg > g:
                        g = gg
                bound = eps * xi / g
                if bound < 1.0:
                    bound = 1.0
                if mu[i] != 0.0:
                    cand = bound / abs(mu[i])
                    if cand < tau1:
                        tau1 = cand
                if sig[i] > 0.0:
                    cand = bound * bound / sig[i]
                    if cand < tau1:
                        tau1 = cand

            if tau1 > tau_max:
                tau1 = tau_max
            if tau1 < ssa_factor / a0:
                # exact direct-method steps (dependency graph), never past t_stop
                for _ in range(ssa_steps):
                    if a0 <= 0.0:
                        t = t_stop
                        break
                    tn = t + exponential(rng) / a0
                    if tn >= t_stop:
                        t = t_stop
                        break
                    t = tn
                    u = uniform01(rng) * a0
                    acc = 0.0
                    j = -1
                    for r in range(m):
                        acc += a[r]
                        if u < acc:
                            j = r
                            break
                    if j < 0:
                        a0 = 0.0
                        for r in range(m):
                            a0 += a[r]
                        continue
                    for q in range(cptr[j], cptr[j + 1]):
                        i = cidx[q]
                        x[i] += cdel[q]
                        if x[i] < 0:
                            status[0] = ERR_NEGATIVE_REACTION
                            status[1] = j
                            status[2] = i
                            fstatus[0] = t
                            return n_ev
                    n_ev += 1
                    if n_ev >= max_events:
                        status[0] = ERR_MAX_EVENTS
                        status[1] = max_events
                        fstatus[0] = t
                        return n_ev
                    for q in range(dep_ptr[j], dep_ptr[j + 1]):
                        r = dep_idx[q]
                        pk = pkind[r]
                        if pk == 0:
                            v = fast_mass_action(r, x, pa, ps, rates)
                        elif pk == 1:
                            v = general_mass_action(r, x, ridx, rsto, rates)
                        else:
                            v = law(r, t, x, pv)
                        a0 += v - a[r]
                        a[r] = v
                    if n_sev > 0:
                        rc = settle_events(t, x, pv, prev, fire, ev, law, abuf, status, fstatus)
                        if rc < 0:
                            return n_ev
                        if rc > 0:
                            a0 = _refresh_all(x, a, tree, n_lev, lsize, loff, lshift, net, law, t,
                                              pv, status, fstatus)
                            if a0 < 0.0:
                                return n_ev
            else:
                # one leap (halved and redrawn while it would make a count negative)
                while True:
                    a0c = 0.0
                    for j in range(m):
                        if crit[j]:
                            a0c += a[j]
                    tau2 = exponential(rng) / a0c if a0c > 0.0 else _INF
                    if tau1 < tau2:
                        tau = tau1
                        fire_crit = False
                    else:
                        tau = tau2
                        fire_crit = True
                    landing = False
                    if t + tau >= t_stop:
                        tau = t_stop - t
                        fire_crit = False
                        landing = True
                    for i in range(n_s):
                        xn[i] = x[i]
                    fired = 0
                    for j in range(m):
                        if a[j] > 0.0 and not crit[j]:
                            kj = poisson(a[j] * tau, rng)
                            if kj > 0:
                                fired += kj
                                for q in range(cptr[j], cptr[j + 1]):
                                    xn[cidx[q]] += kj * cdel[q]
                    if fire_crit:
                        u = uniform01(rng) * a0c
                        acc = 0.0
                        jc = -1
                        for j in range(m):
                            if crit[j]:
                                acc += a[j]
                                jc = j
                                if u < acc:
                                    break
                        for q in range(cptr[jc], cptr[jc + 1]):
                            xn[cidx[q]] += cdel[q]
                        fired += 1
                    negative = False
                    for i in range(n_s):
                        if xn[i] < 0:
                            negative = True
                            break
                    if negative:
                        tau1 = 0.5 * min(tau1, tau)
                        continue
                    for i in range(n_s):
                        x[i] = xn[i]
                    t = t_stop if landing else t + tau
                    n_ev += fired
                    break
                if n_ev >= max_events:
                    status[0] = ERR_MAX_EVENTS
                    status[1] = max_events
                    fstatus[0] = t
                    return n_ev
        if n_e > 0:
            if settle_events(t, x, pv, prev, fire, ev, law, abuf, status, fstatus) < 0:
                return n_ev
    return n_ev
