"""Scalar conversions from Philox words to floats, inlined into the kernels.

Everything here is written so LLVM can vectorize it: no libm calls (see
``_mathfuncs``), no data-dependent branches (only selects), and no fused
multiply-adds (numba emits none without ``fastmath``), so the results are the
same bits on every x86-64 CPU, ``NUMBA_CPU_NAME=generic`` included.

Uniform on [low, high]
    A word with top bits ``k`` (24 bits for float32, 53 for float64) maps to
    the odd integer ``n = 2k + 1 - 2**B`` and to ``mid + scale * n`` with
    ``mid = (low + high)/2`` and ``scale = (high - low)/2 * 2**-B`` rounded
    to the output dtype, then clamped to ``[clamp_low, clamp_high]``.  The
    values ``n * 2**-B`` are the midpoints of 2**B equal cells of (-1, 1), a
    set symmetric about 0, so ``U(-a, a)`` is exactly symmetric.

Normal (Box–Muller)
    ``z = sqrt(-2 ln u1) * cos(2 pi u2)`` and ``sqrt(-2 ln u1) * sin(2 pi u2)``
    with ``u = (k + 1/2) / 2**B`` (B = 32 for float32, 52 for float64).

Truncated normal (inverse CDF, one uniform per value)
    ``mean + std * Phi^-1(Phi(alpha) + v (Phi(beta) - Phi(alpha)))`` with
    ``v = (k + 1/2) / 2**B``, evaluated from whichever tail is nearer so tail
    probabilities are never rounded through ``1 - p``.

float16 / bfloat16
    The float32 value rounded to nearest, ties to even, by integer arithmetic
    (bit-equal to NumPy's / ml_dtypes' ``astype``).
"""

from __future__ import annotations

from typing import Union

import numpy as np

from ._constants import F32, F64, I64, U32, U64
from ._mathfuncs import TERMS_F32, minus_two_log
from ._jit import float_bits, ieee_sqrt, inline

__all__ = [
    "uniform_f32",
    "uniform_f64",
    "bits53",
    "bits52",
    "normal_radius_f32",
    "truncated_probability",
    "round_float16",
    "round_bfloat16",
]

_SIGN32 = U32(1 << 31)
_HALF_53 = I64(1 << 53)


@inline
def uniform_f32(word: np.uint32, mid: np.float32, scale: np.float32, clamp_low: np.float32,
                clamp_high: np.float32) -> np.float32:
    """float32 from the top 24 bits of ``word``: ``mid + scale * (2k + 1 - 2**24)``."""
    # (2k + 1) - 2**24 == ((word - 2**31) >> 7) | 1 with an arithmetic shift:
    # staying in 32 bits lets the conversion use 16-wide vcvtdq2ps.
    odd = np.int32(np.int32(word ^ _SIGN32) >> np.int32(7)) | np.int32(1)
    value = mid + scale * F32(np.int32(odd))
    return min(max(value, clamp_low), clamp_high)


@inline
def bits53(high_word: np.uint32, low_word: np.uint32) -> np.uint64:
    """53 random bits: all of ``high_word`` and the top 21 bits of ``low_word``."""
    return (U64(high_word) << U64(21)) | U64(low_word >> U32(11))


@inline
def bits52(high_word: np.uint32, low_word: np.uint32) -> np.uint64:
    """52 random bits: all of ``high_word`` and the top 20 bits of ``low_word``."""
    return (U64(high_word) << U64(20)) | U64(low_word >> U32(12))


@inline
def uniform_f64(k53: np.uint64, mid: np.float64, scale: np.float64, clamp_low: np.float64,
                clamp_high: np.float64) -> np.float64:
    """float64 from 53 bits ``k53``: ``mid + scale * (2k + 1 - 2**53)``."""
    odd = I64((k53 << U64(1)) | U64(1)) - _HALF_53
    value = mid + scale * F64(odd)
    return min(max(value, clamp_low), clamp_high)


@inline
def normal_radius_f32(word: np.uint32) -> np.float32:
    """``sqrt(-2 ln u)`` as float32 for ``u = (word + 1/2) / 2**32``."""
    return ieee_sqrt(F32(minus_two_log(F64(word) + F64(0.5), 32, TERMS_F32)))


@inline
def truncated_probability(k: Union[np.uint32, np.uint64], bits: int, lower_tail: np.float64, upper_tail: np.float64,
                          mass: np.float64) -> np.float64:
    """The nearer-tail probability behind a truncated-normal draw, signed.

    ``lower_tail = Phi(alpha)``, ``upper_tail = Phi(-beta)`` and
    ``mass = 1 - lower_tail - upper_tail`` describe the standardized interval
    [alpha, beta]; ``v = (k + 1/2) / 2**bits``.  ``P = lower_tail + v * mass``
    and ``1 - P = upper_tail + (1 - v) * mass`` are both formed from exact
    ``v`` and ``1 - v``.  Returns ``P`` if ``P <= 1 - P``, else ``-(1 - P)``:
    the draw is ``mean + std * sign * Phi^-1(|result|)``.
    """
    step = F64(2.0) ** -bits
    v = (F64(k) + F64(0.5)) * step
    v_complement = (F64(2.0) ** bits - F64(k) - F64(0.5)) * step
    below = lower_tail + v * mass
    above = upper_tail + v_complement * mass
    return below if below <= above else -above


_F16_MIN_NORMAL = U32(0x38800000)  # 2**-14 as float32 bits
_F16_OVERFLOW = U32(0x477FF000)  # 65520: rounds to inf in float16
_F32_REBIAS = U32(0x38000000)  # (127 - 15) << 23
_HALF_BITS = U32(0x3F000000)  # 0.5f


@inline
def round_float16(x: np.float32) -> np.uint16:
    """IEEE float16 bits of float32 ``x``, round to nearest even (finite ``x``)."""
    bits = U32(float_bits(x))
    sign = (bits >> U32(16)) & U32(0x8000)
    magnitude = bits & U32(0x7FFFFFFF)
    normal = (magnitude - _F32_REBIAS + U32(0x0FFF) + ((magnitude >> U32(13)) & U32(1))) >> U32(13)
    # Below 2**-14 the result is subnormal: adding 0.5f makes the float adder
    # round at float16's subnormal spacing 2**-24, ties to even.
    subnormal = U32(float_bits(F32(abs(x)) + F32(0.5))) - _HALF_BITS
    half = subnormal if magnitude < _F16_MIN_NORMAL else normal
    half = U32(0x7C00) if magnitude >= _F16_OVERFLOW else half
    return np.uint16(sign | half)


@inline
def round_bfloat16(x: np.float32) -> np.uint16:
    """bfloat16 bits of float32 ``x`` (the top half), round to nearest even."""
    bits = U32(float_bits(x))
    return np.uint16((bits + U32(0x7FFF) + ((bits >> U32(16)) & U32(1))) >> U32(16))
