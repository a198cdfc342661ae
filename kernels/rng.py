"""Counter-seeded random streams for the SSA kernels (Numba, no global state).

Every trajectory owns a private xoshiro256+ generator (Blackman & Vigna 2018) whose 256-bit state
is derived only from ``(seed, trajectory index)``:

    h      = mix64(mix64(seed + GOLDEN) ^ index)          # mix64: SplitMix64's output function
    s[k]   = mix64(h + (k + 1) * GOLDEN),  k = 0..3        # SplitMix64 sequence started at h

``mix64`` is a bijection of 64-bit words, so for a fixed seed distinct indices give distinct
starting points. Nothing depends on the thread that runs the trajectory or on the chunk it
belongs to, which is what makes ensembles bitwise reproducible for any thread count or chunking.
NumPy's and Numba's global generators are never used (their per-thread state is not
reproducible under ``prange``).

Draws (each consumes a number of 64-bit outputs that the stream itself fixes):

* ``uniform01(s)``  in [0, 1): the top 53 bits times 2**-53;
* ``uniform_pos(s)`` in (0, 1]: (top 53 bits + 1) times 2**-53 (safe for ``log``);
* ``exponential(s)``, mean 1: a ziggurat (one output 98.9% of the time, more on its rare
  rejection steps);
* ``normal(s)``: standard normal, Box-Muller (two outputs);
* ``poisson(lam, s)``: sequential inversion for lam < 10, Hörmann's PTRS transformed
  rejection (1993) above.

All integer arithmetic is on ``np.uint64`` operands: Numba promotes mixed uint64/int64
arithmetic to float64, which would silently break the generator.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S11 = np.uint64(11)
_S17 = np.uint64(17)
_S45 = np.uint64(45)
_S19 = np.uint64(19)  # 64 - 45
_S27 = np.uint64(27)
_S30 = np.uint64(30)
_S31 = np.uint64(31)
_ONE = np.uint64(1)
_TWO_M53 = 1.0 / 9007199254740992.0  # 2**-53


@njit(cache=True)
def mix64(z):
    """SplitMix64's finaliser: a bijection of uint64."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True)
def seed_stream(seed, index, state):
    """Fill ``state`` (uint64[4]) with the stream of trajectory ``index`` under ``seed``."""
    h = mix64(mix64(np.uint64(seed) + GOLDEN) ^ np.uint64(index))
    for k in range(4):
        h = h + GOLDEN
        state[k] = mix64(h)


@njit(cache=True)
def next_u64(s):
    """One xoshiro256+ output; advances ``s`` (uint64[4]) in place."""
    s0 = s[0]
    s1 = s[1]
    s2 = s[2]
    s3 = s[3]
    result = s0 + s3
    t = s1 << _S17
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = (s3 << _S45) | (s3 >> _S19)
    s[0] = s0
    s[1] = s1
    s[2] = s2
    s[3] = s3
    return result


@njit(cache=True)
def uniform01(s):
    """Uniform on [0, 1) with 53 random bits."""
    return float(next_u64(s) >> _S11) * _TWO_M53


@njit(cache=True)
def uniform_pos(s):
    """Uniform on (0, 1] with 53 random bits (never 0, so ``log`` is finite)."""
    return float((next_u64(s) >> _S11) + _ONE) * _TWO_M53


@njit(cache=True)
def normal(s):
    """Standard normal by the Box-Muller transform (Box & Muller 1958), the cosine branch only:
    two 64-bit outputs per draw. Used for the per-cell parameter draws of populations, outside
    the SSA's inner loop, so clarity beats speed here."""
    r = math.sqrt(-2.0 * math.log(uniform_pos(s)))
    return r * math.cos(6.283185307179586 * uniform01(s))


def _ziggurat_tables():
    """Layer edges ``x[0..256]`` and ``exp(-x)`` of the 256-layer exponential ziggurat.

    Marsaglia & Tsang, "The ziggurat method for generating random variables", J. Stat.
    Softw. 5(8), 2000: ``R`` is the right edge of the base layer and ``V`` the common area of
    the layers, so that x[i+1] = -log(V / x[i] + exp(-x[i])) from x[1] = R reaches 0 at
    x[256]; x[0] = V / exp(-R) is the width the base layer would have as a rectangle (its
    part beyond R is the exponential tail).
    """
    r, v = 7.69711747013104972, 3.949659822581572e-3
    x = np.empty(257)
    x[0] = v / math.exp(-r)
    x[1] = r
    for i in range(1, 256):
        x[i + 1] = -math.log(v / x[i] + math.exp(-x[i])) if i < 255 else 0.0
    return x, np.exp(-x)


_ZX, _ZF = _ziggurat_tables()
_ZR = float(_ZX[1])
_S3 = np.uint64(3)


@njit(cache=True)
def exponential(s):
    """Exponential with mean 1: the 256-layer ziggurat (see :func:`_ziggurat_tables`).

    One 64-bit output per draw 98.9% of the time: bits 3-10 pick the layer i (xoshiro256+'s
    lowest bits are its weakest, so they are not used), the top 53 bits the point
    z = U x[i]; z < x[i+1] lies under the density and is returned. Otherwise (a wedge, or the
    tail beyond x[1] = R in the base layer) the exact rejection step follows; the tail is R
    plus a fresh exponential by inversion. Inside the SSA loop this is 10-15% fewer ns per
    event than ``-log(U)`` at 1,080 reactions (no call into libm on the common path, so
    nothing is spilled around it); alone the two cost about the same.
    """
    while True:
        u = next_u64(s)
        i = np.int64(u >> _S3) & 255
        z = float(np.int64(u >> _S11)) * _TWO_M53 * _ZX[i]
        if z < _ZX[i + 1]:
            return z
        if i == 0:
            return _ZR - math.log(uniform_pos(s))
        y = _ZF[i] + uniform01(s) * (_ZF[i + 1] - _ZF[i])
        if y < math.exp(-z):
            return z


@njit(cache=True)
def poisson(lam, s):
    """Poisson(lam) as int64; 0 for lam <= 0.

    lam < 10: inversion by sequential search from 0 (about lam + 1 uniforms' worth of work,
    one uniform). lam >= 10: PTRS (W. Hörmann, "The transformed rejection method for
    generating Poisson random variables", Insurance: Mathematics and Economics 12, 1993),
    about 1.2 pairs of uniforms per variate for any lam.
    """
    if not (lam > 0.0):
        return np.int64(0)
    if lam < 10.0:
        u = uniform01(s)
        p = math.exp(-lam)
        cdf = p
        k = 0
        while u > cdf and k < 200:
            k += 1
            p *= lam / k
            cdf += p
            if p == 0.0:
                break
        return np.int64(k)
    slam = math.sqrt(lam)
    loglam = math.log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2.0)
    while True:
        u = uniform01(s) - 0.5
        v = uniform_pos(s)
        us = 0.5 - abs(u)
        k = math.floor((2.0 * a / us + b) * u + lam + 0.43)
        if us >= 0.07 and v <= vr:
            return np.int64(k)
        if k < 0.0 or (us < 0.013 and v > us):
            continue
        if (math.log(v) + math.log(inv_alpha) - math.log(a / (us * us) + b)
                <= -lam + k * loglam - math.lgamma(k + 1.0)):
            return np.int64(k)
