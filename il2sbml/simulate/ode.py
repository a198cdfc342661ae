"""Deterministic analysis of an SBML model on libRoadRunner: time courses, steady states,
dose responses, and Hill / one-site binding fits.

Units: time is in **seconds** everywhere (``t_end``, ``time``, the ``time`` column); amounts are
in the substance units the SBML file declares (molecules per cell for models written by
:func:`il2sbml.formats.sbml.write_sbml`); a parameter takes the units the file declares for it (a dose
of ``IL2_pM`` is in pM).

How parameter changes reach the model (measured on libRoadRunner 2.10; each item is a trap
this module avoids):

* ``r[p] = v`` followed by ``r.reset()`` re-evaluates the initial assignments of *species*
  from the new value but not those of *parameters* or *compartments*: after
  ``r['cells_per_mL'] = 1e7`` the IL-2 amount follows while the medium compartment keeps its old
  volume, and ``koff = kon*Kd`` keeps its old value after ``Kd`` changes.
* ``r['init(p)'] = v`` propagates correctly but regenerates the model (about 120 ms on a
  9-species model, seconds on large ones).
* What works, in under a millisecond on a 752-reaction model: ``r.model['init(p)'] = v`` (no
  regeneration) and then ``r.reset(ALL & ~SBML_INITIALIZE)``, which recomputes every initial
  assignment (parameters, compartments, species) from the new initial values. Before that,
  ``r.reset(ALL)`` (with ``SBML_INITIALIZE``) puts every initial value back to the file's, so
  overrides of an earlier call cannot leak into the next one. This serves files that derive
  parameters by initial assignments (common outside il2sbml) as well as by assignment rules.

Steady states are found by integration, not by libRoadRunner's NLEQ2 solver. NLEQ2 needs
conserved-moiety analysis when species are conserved (receptor totals, ligand totals): without
it the Jacobian is singular; its automatic moiety analysis took 60 s per call on the IL-2
model (752 reactions) and returned a state with amounts down to -77 molecules; switching the
analysis on for good recompiles the model (8 s) and makes time courses lose accuracy, because
a small dependent species is then computed as a difference of large totals (measured: a bound
complex of 2,500 molecules next to 6e8 free ligands off by 0.03 molecules at a relative
tolerance of 1e-10). Integration costs 0.2-0.4 s per steady state on that model and always
lands where the time course goes.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass

import libsbml
import numpy as np
import roadrunner
from scipy.optimize import curve_fit
from scipy.special import expit

from ..lang.errors import Il2sbmlError

_SR = roadrunner.SelectionRecord
_BACK_TO_FILE = _SR.ALL                            # also re-reads the file's initial values
_APPLY_INITS = _SR.ALL & ~_SR.SBML_INITIALIZE      # recompute initial assignments from init(...)

RTOL = 1e-8
"""Relative tolerance of CVODE."""
ATOL_FACTOR = 1e-3
"""Absolute tolerance of each state variable = ``ATOL_FACTOR * rtol`` times its initial
amount, or times the smallest positive initial amount for those starting at zero (1 when all
do): with 1,000 receptors per cell and rtol 1e-8 that is 1e-8 molecules for the receptor and
its complexes, while a ligand in 1e7-fold excess gets a tolerance to match. One scale for all
(the largest amount) would not do: it left 10 free receptors next to 6e10 ligands controlled
to 0.6 molecules. The scales are taken again after every reset, so they follow the dose."""
MAX_STEPS = 100_000
"""CVODE steps allowed per output interval (libRoadRunner's default is 20,000)."""
MIN_R2 = 0.9
"""Hill fits whose coefficient of determination is below this are refused: the coverage check
cannot see that a response rising and falling back is not a sigmoid (its 'EC50' had r² ~0.1)."""
MIN_COVERAGE = 0.8
"""Fits are refused unless the fitted curve, between the lowest and the highest tested dose,
covers at least this fraction of its full range (bottom to top; 0 to Bmax)."""
SS_RELATIVE_CHANGE = 1e-9
"""Steady state: every state variable changes by at most this much (relative, plus the
absolute tolerance) over a window [t, 2t]."""
SS_FIRST_WINDOW = 1.0
SS_MAX_TIME = 1e12
"""Steady-state windows double from ``SS_FIRST_WINDOW`` s up to ``SS_MAX_TIME`` s (about
32,000 years). Over [t, 2t] a relaxation with time constant tau >> t moves by about t/tau of
its amplitude, so one slower than ~1e9 s could pass for settled; no cellular process is."""


class SimulationError(Il2sbmlError):
    """libRoadRunner could not load or integrate the model, or no steady state was reached."""


class ParameterError(Il2sbmlError, ValueError):
    """A parameter exists but cannot be set: an observable, or computed from other quantities
    (by an assignment rule or an initial assignment)."""


class UnknownIdError(Il2sbmlError, KeyError):
    """An id that the model does not have; the message lists the closest ids."""

    def __str__(self) -> str:
        return self.args[0]


class FitError(Il2sbmlError, ValueError):
    """The data do not support the fit (too few points, flat, curve not covered by the doses...)."""


def _unknown(what: str, name: str, known) -> UnknownIdError:
    close = difflib.get_close_matches(name, list(known), n=5, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return UnknownIdError(f"no {what} {name!r} in the model{hint}")


def _names(ast) -> set[str]:
    """The ids a MathML formula reads (``<time>`` for the time symbol). Not by getType(): it
    stops returning integers once libsedml is imported (see ``formats.sbmlread``)."""
    if ast.isName() and ast.getDefinitionURLString().endswith("/symbols/time"):
        return {"<time>"}
    names = {ast.getName()} if ast.isName() else set()
    for i in range(ast.getNumChildren()):
        names |= _names(ast.getChild(i))
    return names


def _structure(sbml: str) -> tuple[dict[str, str], set[str]]:
    """``{id: formula}`` for everything set by an initial assignment or an assignment rule, and
    the assignment-rule variables that vary in time: those that read (transitively) a species,
    a reaction, a rate-rule variable or the time. Among global parameters these are the
    observables; the other rule variables are derived constants such as ``koff = kon*Kd``."""
    doc = libsbml.readSBMLFromString(sbml)   # keep a reference: the model lives in the document
    model = doc.getModel()
    plain = libsbml.L3ParserSettings()
    plain.setParseUnits(False)                # write "1 / x", not "1 dimensionless / x"
    formulas = {ia.getSymbol(): libsbml.formulaToL3StringWithSettings(ia.getMath(), plain)
                for ia in model.getListOfInitialAssignments()}
    reads, varying = {}, {"<time>"}
    for rule in model.getListOfRules():
        if rule.isAssignment():
            formulas[rule.getVariable()] = libsbml.formulaToL3StringWithSettings(rule.getMath(), plain)
            reads[rule.getVariable()] = _names(rule.getMath())
        else:
            varying.add(rule.getVariable())
    varying |= {x.getId() for x in (*model.getListOfSpecies(), *model.getListOfReactions())}
    while new := {v for v, names in reads.items() if names & varying} - varying:
        varying |= new
    return formulas, varying & set(reads)


def _read_sbml(sbml) -> str:
    if isinstance(sbml, str) and ("<sbml" in sbml[:4096] or sbml.lstrip().startswith("<?xml")):
        return sbml
    try:
        with open(sbml, encoding="utf-8") as fh:
            return fh.read()
    except OSError as exc:
        raise SimulationError(f"{sbml}: cannot read the SBML file: {exc.strerror}") from None



def load_roadrunner(sbml: str) -> roadrunner.RoadRunner:
    """libRoadRunner on the SBML text ``sbml``, compiled by LLVM's LLJIT rather than
    libRoadRunner 2.10's default MCJIT. Measured on the 2-core machine (docs/benchmarks.md,
    ``benchmarks/bivalent.py --jit``): the same trajectories bit for bit, loading ~5x faster
    (IL-2 model, 746 reactions: 4.2 s -> 0.8 s; the bivalent fusion's pair approximation,
    3,997 reactions: 52 s -> 11 s), time courses within 4 %. The back end is a process-wide
    libRoadRunner setting: it is set for this load and put back."""
    config = roadrunner.Config
    before = config.getValue(config.LLVM_BACKEND)
    config.setValue(config.LLVM_BACKEND, config.LLJIT)
    try:
        return roadrunner.RoadRunner(sbml)
    finally:
        config.setValue(config.LLVM_BACKEND, before)

class Simulator:
    """A libRoadRunner model with per-call parameter overrides.

    ``Simulator(sbml)`` takes a path or the SBML text. Attributes:

    * ``sbml``: the SBML text (ship it to worker processes; libRoadRunner objects don't pickle,
      but a ``Simulator`` does, by recompiling from this text);
    * ``parameters``: ``{id: value in the file}`` for the global parameters that can be set
      (those not computed from other quantities), in file order;
    * ``species``: floating species ids;
    * ``observables``: parameters set by assignment rules that read the state (how the il2sbml
      writer stores observables); rule-computed constants (``koff = kon*Kd``) are neither
      observables nor settable.

    Every analysis starts from the file's initial state with, on top of the file's values,
    the values given to :meth:`set` and then the keyword overrides of that call; the latter
    apply to that call only. Tolerances: relative ``rtol`` (default 1e-8); absolute, per state
    variable, ``ATOL_FACTOR * rtol`` times its initial amount (see ``ATOL_FACTOR``).
    """

    def __init__(self, sbml, *, rtol: float = RTOL):
        self.sbml = _read_sbml(sbml)
        self.rtol = float(rtol)
        try:
            self._rr = load_roadrunner(self.sbml)
        except RuntimeError as exc:
            raise SimulationError(f"libRoadRunner could not load the model: {exc}") from None
        r = self._rr
        r.integrator.relative_tolerance = self.rtol
        r.integrator.maximum_num_steps = MAX_STEPS
        self._formulas, observed = _structure(self.sbml)
        gids = list(r.model.getGlobalParameterIds())
        values = r.model.getGlobalParameterValues()
        self.observables = tuple(p for p in gids if p in observed)
        self.parameters = {p: float(v) for p, v in zip(gids, values) if p not in self._formulas}
        self.species = tuple(r.model.getFloatingSpeciesIds())
        self._states = tuple(r.model.getStateVectorId(i)
                             for i in range(len(r.integrator.getAbsoluteToleranceVector())))
        self._ids = set(gids) | set(self.species) | set(r.model.getCompartmentIds()) \
            | set(r.model.getReactionIds())
        self._baseline: dict[str, float] = {}
        self._reset({})

    def __reduce__(self):
        return (_restore, (self.sbml, self.rtol, dict(self._baseline)))

    # ---- parameters
    def _check(self, params: dict) -> dict[str, float]:
        checked = {}
        for name, value in params.items():
            if name not in self.parameters:
                if name in self.observables:
                    raise ParameterError(f"{name!r} is an observable (an assignment rule computes "
                                         "it from the state at every time) and cannot be set")
                if name in self._formulas:
                    raise ParameterError(f"{name!r} is computed from other quantities ({name} = "
                                         f"{self._formulas[name]}); set those instead")
                raise _unknown("settable parameter", name, [*self.parameters, *self._formulas])
            value = float(value)
            if not math.isfinite(value):
                raise ParameterError(f"{name} = {value}: a parameter value must be finite")
            checked[name] = value
        return checked

    def set(self, **params) -> None:
        """Set global parameters (by SBML id, in the file's units) for all later calls, and
        reset the model so that initial assignments see them (a dose in ``IL2_pM`` changes the
        initial IL-2 amount, ``Kd`` changes ``koff = kon*Kd``)."""
        self._baseline.update(self._check(params))
        self._reset({})

    def _reset(self, overrides: dict[str, float]) -> None:
        r = self._rr
        r.reset(_BACK_TO_FILE)
        for name, value in {**self._baseline, **overrides}.items():
            r.model[f"init({name})"] = value
        r.reset(_APPLY_INITS)
        x0 = np.abs(self._state())
        floor = x0[x0 > 0].min() if np.any(x0 > 0) else 1.0
        self._atol = ATOL_FACTOR * self.rtol * np.where(x0 > 0, x0, floor)
        r.integrator.absolute_tolerance = self._atol.tolist()

    def _selections(self, selections) -> list[str]:
        if selections is None:
            return list(self.observables or self.species)
        sel = [selections] if isinstance(selections, str) else list(selections)
        for name in sel:
            if name not in self._ids:
                raise _unknown("species, parameter, observable, compartment or reaction", name, self._ids)
        return sel

    # ---- analyses
    def time_course(self, t_end: float, points: int, selections=None, **params) -> dict[str, np.ndarray]:
        """Integrate from t = 0 to ``t_end`` seconds and return ``{"time": times in s, id:
        values}`` at ``points`` times from 0 to ``t_end`` inclusive. ``selections``: ids of
        species (amounts), parameters, observables, compartments or reactions; by default the
        observables (the species when there are none). ``params`` override parameters for this
        call only."""
        if not (t_end > 0 and math.isfinite(t_end)) or int(points) != points or points < 2:
            raise ValueError(f"time_course needs t_end > 0 (s) and points >= 2, got {t_end}, {points}")
        sel = self._selections(selections)
        overrides = self._check(params)
        self._reset(overrides)
        data = self._simulate(0.0, float(t_end), int(points), sel, overrides)
        return {"time": data[:, 0].copy(), **{name: data[:, i + 1].copy() for i, name in enumerate(sel)}}

    def at_times(self, times, selections=None, **params) -> np.ndarray:
        """float64[len(times), len(selections)]: the values at ``times`` (s, sorted, first >= 0),
        integrating from t = 0 with ``params`` overriding parameters for this call only (as
        :meth:`time_course`; used once per cell by deterministic populations)."""
        times = np.asarray(times, np.float64)
        sel = self._selections(selections)
        overrides = self._check(params)
        self._reset(overrides)
        out = np.empty((times.shape[0], len(sel)))
        k = 0
        while k < times.shape[0] and times[k] <= 0.0:
            out[k] = [self._rr[name] for name in sel]
            k += 1
        if k < times.shape[0]:
            grid = np.concatenate(([0.0], times[k:]))
            out[k:] = self._simulate(0.0, float(times[-1]), None, sel, overrides, times=grid)[1:, 1:]
        return out

    def _simulate(self, start, end, points, sel, overrides, times=None) -> np.ndarray:
        """libRoadRunner's simulate from ``start`` to ``end`` on ``points`` equally spaced times, or on
        the grid ``times`` (its first entry the start); errors name the overrides."""
        try:
            if times is not None:
                return np.array(self._rr.simulate(times=list(map(float, times)), selections=["time"] + sel))
            return np.array(self._rr.simulate(start, end, points, ["time"] + sel))
        except RuntimeError as exc:
            where = ", ".join(f"{k}={v:g}" for k, v in {**self._baseline, **overrides}.items())
            raise SimulationError(f"integration from t={start:g} s to {end:g} s failed"
                                  f"{' with ' + where if where else ''}: {exc}") from None

    def _state(self) -> np.ndarray:
        return np.array([self._rr[s] for s in self._states])

    def _settle(self, overrides: dict[str, float]) -> None:
        """Integrate from the reset state over windows [t, 2t] (the first is [0, 1 s]) until no
        state variable x changes by more than SS_RELATIVE_CHANGE * |x| + its absolute tolerance
        across a window."""
        self._reset(overrides)
        t, window, before = 0.0, SS_FIRST_WINDOW, self._state()
        while t < SS_MAX_TIME:
            self._simulate(t, t + window, 2, [], overrides)
            t += window
            after = self._state()
            change = np.abs(after - before)
            if np.all(change <= SS_RELATIVE_CHANGE * np.abs(after) + self._atol):
                return
            before, window = after, t
        worst = self._states[int(np.argmax(change / (np.abs(after) + self._atol)))]
        raise SimulationError(f"no steady state: after {t:.3g} s {worst} still changes by "
                              f"{change.max():.3g} per time doubling (the model may oscillate "
                              "or grow without bound)")

    def steady_state(self, **params) -> dict[str, float]:
        """The steady state reached from the initial state: ``{id: value}`` for every species
        (amounts) and observable. Found by integration (see the module docstring for why not
        libRoadRunner's NLEQ2 solver) until the relative change over a time doubling is below
        1e-9, so the values are as accurate as the integration (``rtol``); raises
        :class:`SimulationError` if the state never settles."""
        self._settle(self._check(params))
        return {name: float(self._rr[name]) for name in self.species + self.observables}

    def dose_response(self, parameter: str, doses, readouts, time: float | None = None,
                      **params) -> dict[str, np.ndarray]:
        """Scan ``parameter`` over ``doses`` (in the parameter's units) and return ``{"dose":
        doses, readout: values}``: at steady state when ``time`` is None, else at ``time``
        seconds after the reset. Each dose resets the compiled model (no regeneration);
        ``params`` apply to every dose."""
        if parameter in params:
            raise ValueError(f"{parameter!r} is the scanned parameter; don't also pass it as an override")
        doses = np.asarray(doses, dtype=float).ravel()
        if doses.size == 0 or not np.all(np.isfinite(doses)):
            raise ValueError("dose_response needs at least one dose, all finite")
        if time is not None and not (time > 0 and math.isfinite(time)):
            raise ValueError(f"time must be None (steady state) or > 0 s, got {time}")
        sel = self._selections(readouts)
        base = self._check(params)
        out = np.empty((doses.size, len(sel)))
        for i, dose in enumerate(doses):
            overrides = {**base, **self._check({parameter: dose})}
            if time is None:
                self._settle(overrides)
                out[i] = [self._rr[name] for name in sel]
            else:
                self._reset(overrides)
                out[i] = self._simulate(0.0, float(time), 2, sel, overrides)[-1, 1:]
        return {"dose": doses, **{name: out[:, j].copy() for j, name in enumerate(sel)}}


def _restore(sbml: str, rtol: float, baseline: dict) -> Simulator:
    sim = Simulator(sbml, rtol=rtol)
    sim.set(**baseline)
    return sim


# ---- fits
@dataclass(frozen=True)
class HillFit:
    """``response = bottom + (top - bottom) / (1 + (ec50/dose)**hill)``: ``ec50`` in the dose
    units, ``bottom`` and ``top`` the responses at zero and saturating dose (``top < bottom``
    for a falling curve), ``r2`` the coefficient of determination."""

    ec50: float
    hill: float
    bottom: float
    top: float
    r2: float

    def __call__(self, dose):
        return _hill(np.log10(np.asarray(dose, dtype=float)), math.log10(self.ec50),
                     self.hill, self.bottom, self.top)


@dataclass(frozen=True)
class BindingFit:
    """One-site binding ``bound = bmax * L / (kd + L)``: ``kd`` in the ligand's units, ``bmax``
    in the bound amount's units, ``r2`` the coefficient of determination."""

    kd: float
    bmax: float
    r2: float

    def __call__(self, ligand):
        ligand = np.asarray(ligand, dtype=float)
        return self.bmax * ligand / (self.kd + ligand)


def _hill(log_dose, log_ec50, hill, bottom, top):
    return bottom + (top - bottom) * expit(hill * math.log(10) * (log_dose - log_ec50))


def _data(x, y, min_points: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.size != y.size:
        raise FitError(f"{what}: {x.size} doses but {y.size} responses")
    if x.size < min_points:
        raise FitError(f"{what}: needs at least {min_points} points, got {x.size}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise FitError(f"{what}: doses and responses must be finite")
    if np.ptp(y) <= 1e-12 * np.max(np.abs(y)):
        raise FitError(f"{what}: the responses are flat (all {y[0]:g}); there is no curve to fit")
    return x, y


def _fit(f, x, y, p0, bounds, what):
    try:
        p, cov = curve_fit(f, x, y, p0=p0, bounds=bounds, x_scale="jac", max_nfev=20_000)
    except (RuntimeError, ValueError) as exc:
        raise FitError(f"{what}: the fit did not converge ({exc})") from None
    if not np.all(np.isfinite(np.diag(cov))):
        raise FitError(f"{what}: the parameters are not identifiable from these data")
    ss_res = float(np.sum((y - f(x, *p)) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return p, 1.0 - ss_res / ss_tot


def _covered(fraction: float, estimate: str, what: str) -> None:
    if not fraction >= MIN_COVERAGE:
        raise FitError(f"{what}: the tested doses span only {fraction:.0%} of the fitted curve's "
                       f"range ({estimate}); the rest is extrapolation, so the estimate is not "
                       "supported by the data: extend the dose range")


def fit_hill(doses, responses) -> HillFit:
    """Fit a 4-parameter Hill curve on log10(dose) by bounded least squares (scipy
    ``curve_fit``). Refuses (:class:`FitError`) fewer than 4 points, doses <= 0, flat
    responses, non-identifiable fits, and curves of which the tested doses show less than
    ``MIN_COVERAGE`` of the way from bottom to top (the EC50 would then hang on an
    extrapolated plateau), and fits with r² below ``MIN_R2``. ``ec50`` is in the doses' units."""
    what = "fit_hill"
    x, y = _data(doses, responses, 4, what)
    if np.any(x <= 0):
        raise FitError(f"{what}: doses must be > 0 (the fit is on log-dose), got {x.min():g}")
    lx = np.log10(x)
    order = np.argsort(lx)
    lo, hi, span = lx[order[0]], lx[order[-1]], np.ptp(y)
    bottom0, top0 = y[order[0]], y[order[-1]]
    half = (bottom0 + top0) / 2
    crossing = np.nonzero(np.diff(np.sign(y[order] - half)))[0]
    log_ec50 = (lx[order][crossing[0]] + lx[order][crossing[0] + 1]) / 2 if crossing.size else (lo + hi) / 2
    bounds = ([lo - 2, 0.05, y.min() - span, y.min() - span], [hi + 2, 20.0, y.max() + span, y.max() + span])
    p, r2 = _fit(_hill, lx, y, [log_ec50, 1.0, bottom0, top0], bounds, what)
    fit = HillFit(ec50=float(10 ** p[0]), hill=float(p[1]), bottom=float(p[2]), top=float(p[3]), r2=r2)
    if not r2 >= MIN_R2:
        raise FitError(f"{what}: a Hill curve does not describe the response (r² {r2:.2f} < {MIN_R2:g}); "
                       "it may rise and fall back")
    ends = _hill(np.array([lo, hi]), p[0], p[1], 0.0, 1.0)
    _covered(ends[1] - ends[0], f"EC50 {fit.ec50:.3g}, plateaus {fit.bottom:.3g} and {fit.top:.3g}", what)
    return fit


def fit_binding(ligand, bound) -> BindingFit:
    """Fit one-site binding ``bound = bmax * L / (kd + L)`` by bounded least squares on
    (log10 kd, bmax). Needs at least 3 points with ligand >= 0 (two of them > 0) and rising
    binding; refuses (:class:`FitError`) data that show less than ``MIN_COVERAGE`` of the way
    to saturation (Kd and Bmax would be extrapolated)."""
    what = "fit_binding"
    x, y = _data(ligand, bound, 3, what)
    positive = x[x > 0]
    if np.any(x < 0) or np.unique(positive).size < 2:
        raise FitError(f"{what}: needs ligand >= 0 with at least two distinct positive values")
    if y.max() <= 0:
        raise FitError(f"{what}: the bound amounts are never positive")
    lo, hi = np.log10(positive.min()), np.log10(positive.max())

    def model(L, log_kd, bmax):
        return bmax * L / (10 ** log_kd + L)

    p, r2 = _fit(model, x, y, [np.median(np.log10(positive)), y.max()],
                 ([lo - 2, 0.0], [hi + 2, 100 * y.max()]), what)
    fit = BindingFit(kd=float(10 ** p[0]), bmax=float(p[1]), r2=r2)
    _covered(x.max() / (fit.kd + x.max()) - x.min() / (fit.kd + x.min()),
             f"Kd {fit.kd:.3g}, Bmax {fit.bmax:.3g}", what)
    return fit


# ---- durations
_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)(?:[eE]([-+]?\d+))?\s*(s|m|min|h|d)?\s*")
_SECONDS = {None: 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text) -> float:
    """Seconds from ``"90s"``, ``"30m"`` (or ``"30min"``), ``"2h"``, ``"1.5h"``, ``"1d"`` or a
    plain number of seconds (``"45"``, ``45``, ``"1e4"``). Raises ``ValueError`` otherwise."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
        if not (value >= 0 and math.isfinite(value)):
            raise ValueError(f"a duration must be finite and >= 0, got {text}")
        return value
    m = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 30m, 2h, 1.5h, 1d, or seconds)")
    number = float(m.group(1) + (f"e{m.group(2)}" if m.group(2) else ""))
    return number * _SECONDS[m.group(3)]


__all__ = ["Simulator", "HillFit", "BindingFit", "fit_hill", "fit_binding", "parse_duration",
           "SimulationError", "ParameterError", "UnknownIdError", "FitError"]
