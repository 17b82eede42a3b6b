"""Numba helpers called by the counting functions that ``lowering`` generates.

They fill the int64 ``counts`` array laid out in ``abi``.

Hot-path code (bounds checks, counters) is emitted inline by the compiler, never
through these helpers: passing an array to an njit function costs an atomic NRT
incref/decref pair per call, which made a counted ReLU ~10x slower. The helpers that
take the ``counts`` array run once per call (``flush``) or on the way out of a faulting
loop (``fail``). The float16 helpers and ``int_div_by_zero`` take scalars only.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import overload, register_jitable

from .abi import ERROR_SLOTS
from .cache import NUMBA_OPTIONS as _JIT

# ``flush`` and ``fail`` are registered as overloads rather than jitted dispatchers: a
# dispatcher called from jitted code is specialised on the *literal* types of its
# arguments, so every fault site (its kind, line and constant indices as literals) made
# a new specialisation, each compiled and added to a cache index in this package's
# __pycache__ that every later lookup re-read. Overloads are typed with plain int64 and
# compiled into the caller (and its cache) once per signature.


@register_jitable(error_model="numpy", boundscheck=False)
def flush(counts, counters):
    """Copy the counting function's local counters (a tuple) into ``counts``."""
    for k in range(len(counters)):
        counts[k] = counters[k]


@register_jitable(error_model="numpy", boundscheck=False)
def fail(counts, counters, kind, param, line, ndim, i0, i1, i2, i3):
    """Flush the counters and record a fault in the error slots at the tail of ``counts``."""
    flush(counts, counters)
    base = counts.shape[0] - ERROR_SLOTS
    counts[base] = kind
    counts[base + 1] = param
    counts[base + 2] = line
    counts[base + 3] = ndim
    counts[base + 4] = i0
    counts[base + 5] = i1
    counts[base + 6] = i2
    counts[base + 7] = i3


# numba has no float16 on the CPU, so float16 arrays reach a counting function as
# uint16 views and every element access goes through these two conversions. Both are
# bit-exact with NumPy (checked over all 65536 halves and the halfway points).

# 2**(e - 25) scales the 11-bit significand (implicit bit included) of exponent e;
# e == 0 (subnormal, no implicit bit) scales by 2**-24.
_HALF_SCALE = np.array([2.0 ** -24] + [2.0 ** (e - 25) for e in range(1, 31)] + [0.0],
                       dtype=np.float32)


@njit(**_JIT)
def half_to_float(bits):
    """float16 bit pattern (uint16) -> float32 value."""
    b = np.int64(bits) & 0xFFFF
    exp = (b >> 10) & 0x1F
    mant = b & 0x3FF
    if exp == 31:
        v = np.float32(np.inf) if mant == 0 else np.float32(np.nan)
    elif exp == 0:
        v = np.float32(mant) * _HALF_SCALE[0]
    else:
        v = np.float32(mant | 0x400) * _HALF_SCALE[exp]
    return -v if b & 0x8000 else v


@njit(**_JIT)
def float_to_half(x):
    """Any real value -> float16 bit pattern (uint16), rounding to nearest even like NumPy."""
    x = np.float64(x)
    if x != x:
        return np.uint16(0x7E00)
    sign = 0x8000 if math.copysign(1.0, x) < 0 else 0
    a = abs(x)
    if a >= 65520.0:                      # halfway to 65536 and above round to inf
        return np.uint16(sign | 0x7C00)
    if a < 6.103515625e-05:               # below the smallest normal: subnormal or 0
        return np.uint16(sign | np.int64(np.rint(a * 16777216.0)))
    frac, e2 = math.frexp(a)              # a = frac * 2**e2 with 0.5 <= frac < 1
    m = np.int64(np.rint(frac * 2048.0))  # 11-bit significand, 1024..2048 after rounding
    e = e2 + 14                           # biased exponent
    if m == 2048:                         # rounding carried into the next binade
        m = 1024
        e += 1
    if e >= 31:
        return np.uint16(sign | 0x7C00)
    return np.uint16(sign | (e << 10) | (m - 1024))


def int_div_by_zero(a, b) -> bool:
    """Whether ``a // b`` or ``a % b`` would divide integers by zero (a fault, as in C++).

    In compiled code the operand types decide at compile time: for a float operand this
    is the constant False (IEEE gives inf or nan), so the check costs nothing there.
    """
    ints = (bool, int, np.integer, np.bool_)
    return isinstance(a, ints) and isinstance(b, ints) and b == 0


@overload(int_div_by_zero)
def _int_div_by_zero(a, b):
    ints = (types.Integer, types.Boolean)
    if isinstance(a, ints) and isinstance(b, ints):
        return lambda a, b: b == 0
    return lambda a, b: False
