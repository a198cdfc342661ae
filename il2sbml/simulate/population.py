"""Populations of non-identical cells: per-cell parameters drawn from a declared distribution.

A flow cytometer measures thousands of cells whose receptor numbers vary over more than ten-fold
within one gate; which cells respond, and how a population's response is shaped, is set mostly
by this extrinsic variation (Feinerman et al. 2010; Cotari et al. 2013 for IL-2). A population
makes every run of an ensemble a cell with its own parameters.

The population file (CSV; ``#`` lines are comments, for provenance and units) has one of two
forms:

* **Distribution**: a ``parameter`` column and one row per varied parameter; ``mean`` (in the
  parameter's declared unit, or ``model``: the model's or cell type's value) and one of ``sd``
  or ``cv`` (>= 0); an optional ``unit`` column, checked against the declaration, and ``note`` (free text); optional
  columns named after other parameters of the file hold the correlation of the *logarithms*
  (symmetric, ones on the diagonal, positive semi-definite; missing: uncorrelated). Each
  parameter is log-normal with exactly the given mean and standard deviation
  (``sigma^2 = ln(1 + cv^2)``, ``mu = ln(mean) - sigma^2 / 2``); an sd of 0 gives the mean
  itself, bit for bit.
* **Empirical table**: no ``parameter`` column; each column is a parameter, each row one
  measured cell; every simulated cell takes a row uniformly at random (resampling).

Each cell's draw comes from its own random stream, fixed by the seed and the cell's index alone
(:mod:`kernels.population`): the same cells whatever the threads, workers, chunk size or
resumption, the same cells at every point of a dose sweep (common random numbers) and in the
stochastic and deterministic modes. Parameters that are derived from varied ones (``ksyn_CD25 =
CD25_per_cell * k_int_free``) are recomputed per cell; initial amounts are rounded to the
nearest whole molecule for the SSA.

Refused by name: parameters the model lacks or that are derived (vary what they are made of),
parameters read by functional rate laws, networks read from SBML.
"""

from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass

import numpy as np

from ..lang.errors import Il2sbmlError

__all__ = ["Population", "PopulationError", "CellSampler", "read_population", "sampler"]


class PopulationError(Il2sbmlError):
    """A population file or its use is wrong: names the file, the line and what to do."""


@dataclass(frozen=True)
class Population:
    """A parsed population file. ``mean`` may hold NaN ("model") until :meth:`resolve`."""

    source: str
    names: tuple
    kind: str                      # "lognormal" or "table"
    mean: np.ndarray | None = None  # float64[k]
    sd: np.ndarray | None = None    # float64[k]
    corr: np.ndarray | None = None  # float64[k, k], of the logs
    table: np.ndarray | None = None  # float64[rows, k]
    units: tuple = ()              # declared unit text per parameter, or None
    lines: tuple = ()              # file line of each parameter (distribution) for errors
    cv: np.ndarray | None = None   # float64[k]: spread given as cv (NaN where sd was given)

    # ------------------------------------------------------------------ model binding
    def resolve(self, model_values: dict, declared_units: dict | None = None) -> "Population":
        """The population with ``model`` means filled from ``model_values`` (name -> value in the
        declared unit) and the file's units checked against ``declared_units`` (name -> text)."""
        declared_units = declared_units or {}
        for j, name in enumerate(self.names):
            where = f"{self.source}:{self.lines[j]}" if self.lines else self.source
            if name not in model_values:
                raise PopulationError(f"{where}: the model has no parameter {name!r}; use a parameter it declares "
                                      "(il2sbml info MODEL lists them)")
            unit = self.units[j] if self.units else None
            want = declared_units.get(name)
            if unit and want is not None and unit.replace(" ", "") != str(want).replace(" ", ""):
                raise PopulationError(f"{where}: {name} is declared in {want!r}, the file gives {unit!r}; give the "
                                      "values in the declared unit")
        if self.kind != "lognormal":
            return self
        mean = self.mean.copy()
        sd = self.sd.copy()
        for j, name in enumerate(self.names):
            if math.isnan(mean[j]):
                mean[j] = float(model_values[name])
            if self.cv is not None and not math.isnan(self.cv[j]):
                sd[j] = self.cv[j] * mean[j]
            if not mean[j] > 0.0 and sd[j] > 0.0:
                raise PopulationError(f"{self.source}:{self.lines[j]}: {name} has mean {float(mean[j])!r}; "
                                      "a log-normal needs a positive mean (or sd 0)")
        return Population(self.source, self.names, self.kind, mean, sd, self.corr, None, self.units, self.lines)

    def log_parameters(self):
        """``(mu, chol)``: the mean of the logs and the Cholesky factor of their covariance."""
        cv = np.where(self.mean > 0, self.sd / np.where(self.mean > 0, self.mean, 1.0), 0.0)
        s2 = np.log1p(cv * cv)
        sig = np.sqrt(s2)
        mu = np.log(np.where(self.mean > 0, self.mean, 1.0)) - 0.5 * s2
        cov = self.corr * np.outer(sig, sig)
        return mu, _cholesky_psd(cov)

    def draw(self, seed: int, first: int, n: int) -> np.ndarray:
        """float64[n, k]: the parameters of cells ``first .. first + n - 1`` under ``seed``."""
        import kernels

        if self.kind == "table":
            return self.table[kernels.table_rows(seed, first, n, self.table.shape[0])]
        if self.mean is None or np.any(np.isnan(self.mean)) or np.any(np.isnan(self.sd)):
            raise PopulationError(f"{self.source}: resolve the 'model' means against a model before drawing")
        mu, chol = self.log_parameters()
        fixed = self.sd == 0.0
        return kernels.lognormal_values(seed, first, n, mu, chol, fixed, self.mean)

    def fingerprint(self) -> str:
        h = hashlib.sha256(b"il2sbml-population-v1;")
        h.update(repr((self.kind, self.names)).encode())
        for a in (self.mean, self.sd, self.corr, self.table):
            if a is not None:
                h.update(np.ascontiguousarray(a, np.float64).tobytes())
        return h.hexdigest()

    def describe(self) -> str:
        if self.kind == "table":
            return f"{self.source}: empirical table of {self.table.shape[0]} cells over {', '.join(self.names)}"
        parts = [f"{n} mean {m:.4g} cv {s / m if m else 0:.3g}" for n, m, s in zip(self.names, self.mean, self.sd)]
        return f"{self.source}: log-normal; " + "; ".join(parts)


def _cholesky_psd(cov: np.ndarray) -> np.ndarray:
    """Lower-triangular L with L L^T = cov for a positive semi-definite cov (zero rows allowed):
    the Cholesky factor of the non-degenerate block, embedded."""
    k = cov.shape[0]
    L = np.zeros((k, k))
    live = np.nonzero(np.diag(cov) > 0.0)[0]
    if live.shape[0]:
        sub = cov[np.ix_(live, live)]
        try:
            Ls = np.linalg.cholesky(sub)
        except np.linalg.LinAlgError:
            # semi-definite (a correlation of exactly +-1): eigenvalue square root, made triangular by QR
            w, v = np.linalg.eigh(sub)
            b = v * np.sqrt(np.clip(w, 0.0, None))
            r = np.linalg.qr(b.T, mode="r")
            Ls = r.T * np.sign(np.where(np.diag(r) == 0, 1.0, np.diag(r)))
        L[np.ix_(live, live)] = np.tril(Ls)
    return L


# ------------------------------------------------------------------------------ reading
def _number(text, where, what, *, allow_model=False):
    t = (text or "").strip()
    if allow_model and t.lower() in ("", "model"):
        return math.nan
    try:
        v = float(t)
    except ValueError:
        raise PopulationError(f"{where}: {what} {text!r} is not a number") from None
    if not math.isfinite(v):
        raise PopulationError(f"{where}: {what} is {text!r}; give a finite number")
    return v


def read_population(path: str) -> Population:
    """Parse a population file (module docstring); errors name the file and line."""
    try:
        with open(path, newline="") as fh:
            raw = fh.read().splitlines()
    except OSError as exc:
        raise PopulationError(f"{path}: cannot read the population file ({exc.strerror})") from None
    rows = [(i + 1, line) for i, line in enumerate(raw) if line.strip() and not line.lstrip().startswith("#")]
    if not rows:
        raise PopulationError(f"{path}: no header and no rows; see il2sbml.simulate.population for the format")
    parsed = [(ln, next(csv.reader([line]))) for ln, line in rows]
    hline, header = parsed[0]
    header = [h.strip() for h in header]
    body = parsed[1:]
    if not body:
        raise PopulationError(f"{path}:{hline}: a header and no rows")
    if len(set(header)) != len(header):
        raise PopulationError(f"{path}:{hline}: repeated column in {header}")
    for ln, r in body:
        if len(r) != len(header):
            raise PopulationError(f"{path}:{ln}: {len(r)} fields, the header has {len(header)}")
    if "parameter" not in header:
        return _read_table(path, hline, header, body)
    return _read_distribution(path, hline, header, body)


def _read_table(path, hline, header, body) -> Population:
    for h in header:
        if not h.isidentifier():
            raise PopulationError(f"{path}:{hline}: column {h!r} is not a parameter name (an empirical table has one "
                                  "column per parameter; a distribution needs a 'parameter' column)")
    vals = np.empty((len(body), len(header)))
    for r, (ln, row) in enumerate(body):
        for c, text in enumerate(row):
            v = _number(text, f"{path}:{ln}", f"column {header[c]}")
            if v < 0:
                raise PopulationError(f"{path}:{ln}: {header[c]} is {v!r}; amounts and rate constants are >= 0")
            vals[r, c] = v
    return Population(path, tuple(header), "table", table=vals)


def _read_distribution(path, hline, header, body) -> Population:
    known = {"parameter", "mean", "sd", "cv", "unit", "distribution", "note"}
    names = [row[header.index("parameter")].strip() for _, row in body]
    lines = [ln for ln, _ in body]
    for name, ln in zip(names, lines):
        if not name.isidentifier():
            raise PopulationError(f"{path}:{ln}: {name!r} is not a parameter name")
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise PopulationError(f"{path}: parameter {dup!r} appears twice")
    extra = [h for h in header if h not in known]
    for h in extra:
        if h not in names:
            raise PopulationError(f"{path}:{hline}: column {h!r} is neither one of {sorted(known)} nor a correlation "
                                  f"column named after a parameter of the file ({', '.join(names)})")
    if "sd" not in header and "cv" not in header:
        raise PopulationError(f"{path}:{hline}: give an 'sd' or a 'cv' column (the spread of each parameter)")
    k = len(names)
    mean = np.empty(k)
    sd = np.zeros(k)
    cvs = np.full(k, math.nan)
    units = []
    corr = np.eye(k)
    col = {h: i for i, h in enumerate(header)}
    for j, (ln, row) in enumerate(body):
        where = f"{path}:{ln}"
        if "distribution" in col and row[col["distribution"]].strip().lower() not in ("", "lognormal", "log-normal"):
            raise PopulationError(f"{where}: distribution {row[col['distribution']]!r} is not supported; "
                                  "'lognormal' is (or give an empirical table of cells)")
        mean[j] = _number(row[col["mean"]], where, "mean", allow_model=True) if "mean" in col else math.nan
        sd_t = row[col["sd"]].strip() if "sd" in col else ""
        cv_t = row[col["cv"]].strip() if "cv" in col else ""
        if bool(sd_t) == bool(cv_t):
            raise PopulationError(f"{where}: give exactly one of sd and cv for {names[j]}")
        if sd_t:
            sd[j] = _number(sd_t, where, "sd")
            if sd[j] < 0:
                raise PopulationError(f"{where}: {names[j]} has sd {float(sd[j])!r}; a standard deviation is >= 0 "
                                      "(a variance cannot be negative)")
        else:
            cvs[j] = _number(cv_t, where, "cv")
            if cvs[j] < 0:
                raise PopulationError(f"{where}: {names[j]} has cv {float(cvs[j])!r}; "
                                      "a coefficient of variation is >= 0")
        if not math.isnan(mean[j]) and mean[j] < 0:
            raise PopulationError(f"{where}: {names[j]} has mean {float(mean[j])!r}; "
                                  "amounts and rate constants are >= 0")
        units.append(row[col["unit"]].strip() or None if "unit" in col else None)
        for h in extra:
            text = row[col[h]].strip()
            if text:
                corr[j, names.index(h)] = _number(text, where, f"correlation with {h}")
    for h in extra:
        i = names.index(h)
        for j in range(k):
            if corr[j, i] != corr[i, j]:
                if i != j and (corr[i, j] == 0.0 or corr[j, i] == 0.0):   # one triangle given
                    corr[i, j] = corr[j, i] = corr[i, j] or corr[j, i]
                else:
                    raise PopulationError(f"{path}: the correlation of {names[j]} and {names[i]} is given as "
                                          f"{corr[j, i]} and {corr[i, j]}; the matrix must be symmetric")
    if np.any(np.diag(corr) != 1.0):
        j = int(np.argmax(np.diag(corr) != 1.0))
        raise PopulationError(f"{path}:{lines[j]}: the correlation of {names[j]} with itself must be 1")
    if np.any(np.abs(corr) > 1.0):
        j, i = np.argwhere(np.abs(corr) > 1.0)[0]
        raise PopulationError(f"{path}: the correlation of {names[j]} and {names[i]} is {corr[j, i]}, outside [-1, 1]")
    w = np.linalg.eigvalsh(corr)
    if w.min() < -1e-10:
        raise PopulationError(f"{path}: the correlation matrix is not positive semi-definite (smallest eigenvalue "
                              f"{w.min():.3g}); no joint distribution has these correlations; fix them")
    sd = np.where(np.isnan(cvs), sd, np.nan)   # a cv's sd follows the mean (which may be the model's)
    return Population(path, tuple(names), "lognormal", mean, sd, corr, None, tuple(units), tuple(lines), cvs)


# ------------------------------------------------------------------------------ per-cell network values
class CellMap:
    """What a cell's parameters change in a generated network: its derived parameters, the rate
    constants and initial amounts that read them, evaluated per cell exactly as
    :func:`il2sbml.simulate.compile.compile_network` evaluates them for the model's cell."""

    def __init__(self, net, names):
        if getattr(net, "sbml", None) is not None:
            raise PopulationError("populations vary parameters of a model file (.py, .bngl); networks read from SBML "
                                  "are not supported yet")
        self.names = tuple(names)
        decl = {p.name: p for p in net.info.parameters}
        for n in self.names:
            if n not in net.parameters:
                raise PopulationError(f"model {net.model_name!r} has no parameter {n!r}")
            if n in decl and not decl[n].expr.is_number():
                raise PopulationError(f"parameter {n!r} of model {net.model_name!r} is derived ({decl[n].expr.text}); "
                                      "vary the parameters it is made of")
        affected = set(self.names)
        self.derived = []
        for p in net.info.parameters:
            if p.name not in affected and p.expr.names & affected:
                affected.add(p.name)
                self.derived.append((p.name, p.expr))
        self.compartments = []
        for c in net.info.compartments:
            if c.size.names & affected:
                affected.add(c.name)
                self.compartments.append((c.name, c.size, c.unit.scale if c.unit is not None else 1.0))
        self.base_env = net._env(None)
        self.functions = list(net.functions)
        self.reactions = []
        for j, r in enumerate(net.reactions):
            reads = set(r.rate.names) | set(r.volume_factor.names)
            if not reads & affected and not self._function_reads(r.rate, affected):
                continue
            if r.functional or r.rate_law is not None:
                raise PopulationError(f"reaction {j + 1} ({r.rule}) has a functional rate law that reads a varied "
                                      "parameter; populations over such parameters are not supported yet")
            self.reactions.append(r)
        self.rate_index = [r.index for r in self.reactions]
        self.species = [s for s in net.species if s.initial is not None and s.initial.names & affected]

    def _function_reads(self, expr, affected) -> bool:
        called = expr.calls & {f.name for f in self.functions}
        return any(f.expr.names & affected for f in self.functions if f.name in called)

    def env_of(self, values) -> dict:
        env = dict(self.base_env)
        for n, v in zip(self.names, values):
            env[n] = float(v)
        for name, expr in self.derived:
            env[name] = expr.evaluate(env)
        for name, size, scale in self.compartments:
            env[name] = size.evaluate(env) * scale
        return env

    def run_values(self, values: np.ndarray, arrays=None):
        """``kernels.RunValues`` for cells with parameter rows ``values`` (float64[n, k])."""
        import kernels

        from ..generate.network import function_table, initial_amount, rate_constant

        n = values.shape[0]
        x0 = np.empty((n, len(self.species)), np.int64)
        rates = np.empty((n, len(self.reactions)))
        for i in range(n):
            env = self.env_of(values[i])
            funcs = function_table(self.functions, env)
            for a, s in enumerate(self.species):
                v = initial_amount(s, env)
                if not (math.isfinite(v) and v >= 0):
                    raise PopulationError(f"cell with {dict(zip(self.names, values[i]))}: species {s.label} starts at "
                                          f"{v!r} molecules")
                x0[i, a] = int(round(v))
            for b, r in enumerate(self.reactions):
                rates[i, b] = rate_constant(r, env, funcs)
        return kernels.run_values(n, x0_index=[s.index for s in self.species], x0=x0,
                                  rate_index=self.rate_index, rates=rates, arrays=arrays)


@dataclass
class CellSampler:
    """A population bound to one network: draws cells and gives the kernels their values.
    Picklable (numbers and expressions only), so it travels to Dask workers with the model."""

    population: Population
    cells: CellMap

    def draw(self, seed: int, first: int, n: int) -> np.ndarray:
        return self.population.draw(seed, first, n)

    def run_values(self, seed: int, first: int, n: int, arrays=None):
        return self.cells.run_values(self.draw(seed, first, n), arrays)

    @property
    def scale(self) -> np.ndarray:
        """float64[k]: each parameter's reference magnitude (its mean), which sets the fixed
        point of the covariances (``kernels.stats.fixed_point``)."""
        pop = self.population
        m = pop.table.mean(axis=0) if pop.kind == "table" else pop.mean
        return np.where(m > 0, m, 1.0)

    @property
    def shift(self) -> np.ndarray:
        """int64[k]: the binary exponents of the fixed point (``kernels.stats.fixed_point_shift``)."""
        import kernels.stats

        return kernels.stats.fixed_point_shift(self.scale)

    def covariates(self, values) -> np.ndarray:
        """int64[n, k]: the cells' parameters ``values`` in fixed point, the covariates of the
        distribution sums."""
        import kernels.stats

        return kernels.stats.fixed_point(values, self.scale)[0]

    def chunk(self, seed: int, first: int, n: int, arrays=None):
        """``(run_values, q)`` for runs first .. first + n: the kernels' per-run values and the
        cells' parameters as fixed-point covariates."""
        v = self.draw(seed, first, n)
        return self.cells.run_values(v, arrays), self.covariates(v)

    def fingerprint(self) -> str:
        return self.population.fingerprint()


def sampler(net, population: Population | str) -> CellSampler:
    """Bind a population (or its file) to a generated network: checks names, fills ``model``
    means from the network's parameter values and the file's units against the declarations."""
    pop = read_population(population) if isinstance(population, str) else population
    decl = {p.name: p for p in net.info.parameters}
    for j, name in enumerate(pop.names):
        if name in decl and not decl[name].expr.is_number():
            where = f"{pop.source}:{pop.lines[j]}" if pop.lines else pop.source
            raise PopulationError(f"{where}: parameter {name!r} of model {net.model_name!r} is derived "
                                  f"({decl[name].expr.text}); vary the parameters it is made of")
    pop = pop.resolve(dict(net.parameters), {n: p.units for n, p in decl.items()})
    return CellSampler(pop, CellMap(net, pop.names))
