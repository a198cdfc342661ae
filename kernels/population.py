"""Per-cell parameter draws for populations of non-identical cells (plain NumPy in and out).

Cell i of a population under ``seed`` draws its parameters from its own stream, seeded by
``(population_seed(seed), i)`` (:func:`kernels.rng.seed_stream`); its reactions draw from the
stream of ``(seed, i)`` as in any ensemble. So a cell's parameters depend on nothing but the
seed and its index (not on threads, chunks, workers or resumption), and the same seed gives
the same cells to a stochastic and a deterministic simulation of the population.

* :func:`lognormal_values`: a multivariate log-normal, ``log v = mu + L z`` with ``z`` k
  standard normals (:func:`kernels.rng.normal`, drawn in order) and ``L`` lower triangular (the
  Cholesky factor of the covariance of the logs), summed left to right in scalar arithmetic
  (never BLAS, whose blocking could change the last bit with the batch size). Entries with
  ``fixed[j]`` take ``fixed_value[j]`` exactly (no ``exp(log(.))`` round trip), so a
  population of zero variance is bitwise the model's cell; their normals are still drawn, so
  fixing one parameter does not change the others' draws.
* :func:`table_rows`: a row index uniform on ``0 .. n_rows - 1`` per cell (an empirical table
  of measured cells, resampled), by ``floor(u * n_rows)`` on 53-bit uniforms.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .rng import mix64, normal, seed_stream, uniform01

__all__ = ["population_seed", "lognormal_values", "table_rows"]

# a fixed odd constant that separates the parameter streams from the reaction streams
_TAG = np.uint64(0xD1B54A32D192ED03)


def population_seed(seed) -> np.uint64:
    """The seed of the parameter streams of a population simulated under ``seed``."""
    return np.uint64(_mix(np.uint64(int(seed) % (1 << 64))))


@njit(cache=True)
def _mix(seed):
    return mix64(seed ^ _TAG)


@njit(cache=True)
def _lognormal(pseed, first, log_mean, chol, fixed, fixed_value, out):
    k = log_mean.shape[0]
    z = np.empty(k)
    s = np.empty(4, np.uint64)
    for i in range(out.shape[0]):
        seed_stream(pseed, first + i, s)
        for j in range(k):
            z[j] = normal(s)
        for j in range(k):
            if fixed[j]:
                out[i, j] = fixed_value[j]
                continue
            acc = log_mean[j]
            for m in range(j + 1):
                acc += chol[j, m] * z[m]
            out[i, j] = np.exp(acc)


@njit(cache=True)
def _rows(pseed, first, n_rows, out):
    s = np.empty(4, np.uint64)
    for i in range(out.shape[0]):
        seed_stream(pseed, first + i, s)
        r = np.int64(uniform01(s) * n_rows)
        out[i] = min(r, n_rows - 1)


def lognormal_values(seed, first, n, log_mean, chol, fixed=None, fixed_value=None) -> np.ndarray:
    """float64[n, k]: the parameters of cells ``first .. first + n - 1`` (see the module doc).

    log_mean : float64[k], mean of each log value; chol : float64[k, k], lower triangular.
    fixed / fixed_value : bool[k] / float64[k], parameters that take a given value exactly.
    """
    mu = np.ascontiguousarray(log_mean, np.float64).reshape(-1)
    k = mu.shape[0]
    chol = np.ascontiguousarray(chol, np.float64)
    if chol.shape != (k, k) or np.any(np.triu(chol, 1) != 0.0):
        raise ValueError(f"chol must be a lower-triangular ({k}, {k}) matrix")
    fx = np.zeros(k, np.bool_) if fixed is None else np.ascontiguousarray(fixed, np.bool_)
    fv = np.zeros(k) if fixed_value is None else np.ascontiguousarray(fixed_value, np.float64)
    if int(first) < 0 or int(n) < 0:
        raise ValueError("first and n must be >= 0")
    out = np.empty((int(n), k))
    _lognormal(population_seed(seed), np.int64(first), mu, chol, fx, fv, out)
    return out


def table_rows(seed, first, n, n_rows) -> np.ndarray:
    """int64[n]: the table row each of cells ``first .. first + n - 1`` takes."""
    if int(n_rows) < 1:
        raise ValueError("the table has no rows")
    out = np.empty(int(n), np.int64)
    _rows(population_seed(seed), np.int64(first), np.int64(n_rows), out)
    return out
