"""Discrete events for the SSA kernels: compact array encoding and its builder.

Semantics (SBML ``event`` without delay or priority, so ``persistent`` and
``useValuesFromTriggerTime`` make no difference: an event executes at the instant its trigger
becomes true; the DSMTS cases 00028, 00029, 00032 and 00033 assume exactly these):

* A trigger is ``t >= T`` (kind ``TIME``), ``x[s] <op> threshold`` (kind ``SPECIES``; op one
  of ``>``, ``>=``, ``<``, ``<=``, ``==``, ``!=``, compared as float64), or any condition of
  counts and parameters (kind ``LAW``: true when the model's law function at index
  ``threshold`` is non-zero; it must not read time, which only ``TIME`` triggers may).
* An event fires each time its trigger goes from false to true. Before t = 0 the trigger is
  taken to be ``initial_value`` (SBML ``initialValue``, default False), so a trigger already
  true at t = 0 fires at t = 0 unless ``initial_value=True``.
* Triggers are checked at t = 0, after every reaction (species triggers), and at each
  ``T`` (time triggers; the kernel stops exactly at T, so a time event is exact). Events that
  fire at the same instant are applied in index order; then every trigger is re-evaluated and
  newly true triggers fire too (a cascade), up to ``MAX_EVENT_ROUNDS`` rounds.
* Events are applied before the output at the same time is recorded (00028: t = 25 shows 50).
* An assignment sets a species count (``=``) or adds to it (``+=``, e.g. a dose) by an
  integer constant; or sets a species (``=law``) or a parameter (``param=law``) to a value the
  law function computes (index in ``assign_value``) from the state at that instant. All of an
  event's values are computed before any of its assignments is made (SBML). A count that
  would go negative, or a law value for a species that is not a whole number, is an error
  naming the event. Parameters set by events live in each trajectory's own copy of ``params``.
* Exact methods evaluate species triggers after every reaction, so the first crossing is
  caught exactly. Tau-leaping (approximate) evaluates them at the end of each leap.

Arrays (E events, A assignments):

=================  ===========  ============================================================
``kind``           int64[E]     ``TIME`` (0), ``SPECIES`` (1) or ``LAW`` (2)
``species``        int64[E]     species compared (-1 for ``TIME``)
``op``             int64[E]     ``GT GE LT LE EQ NE`` = 0..5 (``GE`` for ``TIME``)
``threshold``      float64[E]   T for ``TIME``, the threshold for ``SPECIES``, the law index for ``LAW``
``initial_value``  bool[E]      trigger value assumed before t = 0
``assign_ptr``     int64[E+1]   CSR over assignments of event e
``assign_species`` int64[A]     target species (the parameter index for ``SET_PARAM_LAW``)
``assign_mode``    int64[A]     ``SET`` (0): x = v; ``ADD`` (1): x += v; ``SET_LAW`` (2):
                                x = law(v); ``SET_PARAM_LAW`` (3): params[target] = law(v)
``assign_value``   int64[A]     v (a law index for modes 2 and 3)
``time_order``     int64[T]     the ``TIME`` events sorted by (T, index)
``n_species_events`` int        number of ``SPECIES`` and ``LAW`` events (0 skips per-reaction checks)
=================  ===========  ============================================================
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

__all__ = [
    "EventArrays",
    "make_event_arrays",
    "time_event",
    "species_event",
    "law_event",
    "empty_events",
    "TIME",
    "SPECIES",
    "LAW",
    "SET",
    "ADD",
    "SET_LAW",
    "SET_PARAM_LAW",
    "OPS",
    "MAX_EVENT_ROUNDS",
]

TIME = 0
SPECIES = 1
LAW = 2
SET = 0
ADD = 1
SET_LAW = 2
SET_PARAM_LAW = 3
_MODES = {"=": SET, "+=": ADD, "=law": SET_LAW, "param=law": SET_PARAM_LAW}
OPS = {">": 0, ">=": 1, "<": 2, "<=": 3, "==": 4, "!=": 5}
MAX_EVENT_ROUNDS = 100


class EventArrays(NamedTuple):
    n_species: int
    kind: np.ndarray
    species: np.ndarray
    op: np.ndarray
    threshold: np.ndarray
    initial_value: np.ndarray
    assign_ptr: np.ndarray
    assign_species: np.ndarray
    assign_mode: np.ndarray
    assign_value: np.ndarray
    time_order: np.ndarray
    n_species_events: int

    @property
    def n_events(self) -> int:
        return int(self.kind.shape[0])


def time_event(t, assignments, initial_value=False):
    """Spec of an event triggered by ``time >= t`` (assignments: see :func:`make_event_arrays`)."""
    return (("time", t), list(assignments), bool(initial_value))


def species_event(species, op, threshold, assignments, initial_value=False):
    """Spec of an event triggered by ``x[species] <op> threshold``."""
    return (("species", species, op, threshold), list(assignments), bool(initial_value))


def law_event(law_index, assignments, initial_value=False):
    """Spec of an event triggered when the law function at ``law_index`` is non-zero."""
    return (("law", law_index), list(assignments), bool(initial_value))


def _is_species(s, n_species) -> bool:
    return (not isinstance(s, bool) and isinstance(s, (int, np.integer))
            and 0 <= int(s) < n_species)


def _is_index(v) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, np.integer)) and int(v) >= 0


def empty_events(n_species=0) -> EventArrays:
    return make_event_arrays(n_species, [])


def make_event_arrays(n_species, events) -> EventArrays:
    """Encode event specs as :class:`EventArrays`; ValueError names the event index.

    Each spec is ``(trigger, assignments[, initial_value])`` (as made by :func:`time_event`,
    :func:`species_event` and :func:`law_event`): trigger ``("time", T)``,
    ``("species", s, op, threshold)`` or ``("law", j)``; each assignment ``(s, value)`` (set),
    ``(s, "=", value)``, ``(s, "+=", value)``, ``(s, "=law", j)`` (species s = law j) or
    ``(p, "param=law", j)`` (parameter p = law j). Law and parameter indices are checked
    against the network by :func:`kernels.make_network_arrays`.
    """
    n_species = int(n_species)
    kind, species, op, thr, init = [], [], [], [], []
    aptr, asp, amode, aval = [0], [], [], []
    for e, spec in enumerate(events):
        try:
            trigger, assignments = spec[0], spec[1]
            initial = bool(spec[2]) if len(spec) > 2 else False
        except (TypeError, IndexError):
            raise ValueError(
                f"event {e}: expected (trigger, assignments[, initial_value])") from None
        if not isinstance(trigger, tuple) or not trigger:
            raise ValueError(f"event {e}: trigger must be a tuple, got {trigger!r}")
        if trigger[0] == "time":
            if len(trigger) != 2:
                raise ValueError(f"event {e}: time trigger is ('time', T)")
            t_fire = float(trigger[1])
            if not math.isfinite(t_fire):
                raise ValueError(f"event {e}: trigger time {trigger[1]!r} is not finite")
            kind.append(TIME)
            species.append(-1)
            op.append(OPS[">="])
            thr.append(t_fire)
        elif trigger[0] == "species":
            if len(trigger) != 4:
                raise ValueError(f"event {e}: species trigger is ('species', s, op, threshold)")
            _, s, o, th = trigger
            if not _is_species(s, n_species):
                raise ValueError(f"event {e}: trigger species {s!r} out of range "
                                 f"(n_species={n_species})")
            if o not in OPS:
                raise ValueError(f"event {e}: comparison {o!r} not supported "
                                 f"(use one of {sorted(OPS)})")
            th = float(th)
            if not math.isfinite(th):
                raise ValueError(f"event {e}: threshold {th!r} is not finite")
            kind.append(SPECIES)
            species.append(int(s))
            op.append(OPS[o])
            thr.append(th)
        elif trigger[0] == "law":
            if len(trigger) != 2 or not _is_index(trigger[1]):
                raise ValueError(f"event {e}: law trigger is ('law', law_index >= 0)")
            kind.append(LAW)
            species.append(-1)
            op.append(OPS["!="])
            thr.append(float(trigger[1]))
        else:
            raise ValueError(f"event {e}: trigger kind {trigger[0]!r} not supported "
                             "(the kernels honour 'time' (t >= T), 'species' comparisons and 'law')")
        init.append(initial)
        if len(assignments) == 0:
            raise ValueError(f"event {e}: no assignments")
        for a in assignments:
            if len(a) == 2:
                s, mode, v = a[0], "=", a[1]
            elif len(a) == 3:
                s, mode, v = a
            else:
                raise ValueError(f"event {e}: assignment {a!r} is not (species, value) or "
                                 "(species, '='|'+=', value)")
            if mode not in _MODES:
                raise ValueError(f"event {e}: assignment mode {mode!r} not supported "
                                 f"({', '.join(map(repr, _MODES))})")
            if mode == "param=law":
                if not _is_index(s):
                    raise ValueError(f"event {e}: parameter index {s!r} is not an index >= 0")
            elif not _is_species(s, n_species):
                raise ValueError(f"event {e}: assigned species {s!r} out of range "
                                 f"(n_species={n_species})")
            if mode in ("=law", "param=law"):
                if not _is_index(v):
                    raise ValueError(f"event {e}: law index {v!r} is not an index >= 0")
                asp.append(int(s))
                amode.append(_MODES[mode])
                aval.append(int(v))
                continue
            fv = float(v)
            if not math.isfinite(fv) or fv != round(fv) or abs(fv) >= 2.0 ** 62:
                raise ValueError(f"event {e}: assigned value {v!r} to species {int(s)} is not an "
                                 "integer count")
            if mode == "=" and fv < 0:
                raise ValueError(f"event {e}: assigns negative count {v!r} to species {int(s)}")
            asp.append(int(s))
            amode.append(_MODES[mode])
            aval.append(int(fv))
        aptr.append(len(asp))
    kind_a = np.array(kind, np.int64)
    thr_a = np.array(thr, np.float64)
    time_idx = np.flatnonzero(kind_a == TIME)
    time_order = time_idx[np.argsort(thr_a[time_idx], kind="stable")].astype(np.int64)
    return EventArrays(
        n_species,
        kind_a,
        np.array(species, np.int64),
        np.array(op, np.int64),
        thr_a,
        np.array(init, bool),
        np.array(aptr, np.int64),
        np.array(asp, np.int64),
        np.array(amode, np.int64),
        np.array(aval, np.int64),
        np.ascontiguousarray(time_order),
        int((kind_a != TIME).sum()),
    )
