"""Scalar conversions from Philox words to floats, inlined into the kernels.

Everything here is written so LLVM can vectorize it: no libm calls (the
logarithm, sine and cosine are polynomials after an exact integer range
reduction), no data-dependent branches (only selects), and no fused
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
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import float64_from_bits, float_bits, ieee_sqrt, inline

__all__ = [
    "uniform_f32",
    "uniform_f64",
    "bits53",
    "bits52",
    "minus_two_log",
    "sincos_turn_f32",
    "sincos_turn_f64",
    "normal_radius_f32",
]

F32 = np.float32
F64 = np.float64
U32 = np.uint32
U64 = np.uint64
I64 = np.int64

_SIGN32 = U32(1 << 31)
_HALF_53 = I64(1 << 53)


@inline
def uniform_f32(word, mid, scale, clamp_low, clamp_high):
    """float32 from the top 24 bits of ``word``: ``mid + scale * (2k + 1 - 2**24)``."""
    # (2k + 1) - 2**24 == ((word - 2**31) >> 7) | 1 with an arithmetic shift:
    # staying in 32 bits lets the conversion use 16-wide vcvtdq2ps.
    odd = np.int32(np.int32(word ^ _SIGN32) >> np.int32(7)) | np.int32(1)
    value = mid + scale * F32(np.int32(odd))
    return min(max(value, clamp_low), clamp_high)


@inline
def bits53(high_word, low_word):
    """53 random bits: all of ``high_word`` and the top 21 bits of ``low_word``."""
    return (U64(high_word) << U64(21)) | U64(low_word >> U32(11))


@inline
def bits52(high_word, low_word):
    """52 random bits: all of ``high_word`` and the top 20 bits of ``low_word``."""
    return (U64(high_word) << U64(20)) | U64(low_word >> U32(12))


@inline
def uniform_f64(k53, mid, scale, clamp_low, clamp_high):
    """float64 from 53 bits ``k53``: ``mid + scale * (2k + 1 - 2**53)``."""
    odd = I64((k53 << U64(1)) | U64(1)) - _HALF_53
    value = mid + scale * F64(odd)
    return min(max(value, clamp_low), clamp_high)


# ln v for v = x * 2**-B, x = k + 1/2 exact in float64.  x = m * 2**e with
# m in [sqrt(1/2), sqrt(2)) read off the float64 exponent; then m - 2**e is
# exact (Sterbenz) and ln m = 2 atanh(s), s = (m-1)/(m+1), |s| <= 0.1716, an
# odd series in s.  Its truncation after s**(2T-1) is below 0.03**T / (2T+1)
# relative: T = 11 terms for float64 results, T = 5 when the result is rounded
# to float32 (2e-9, a thirtieth of a float32 ulp).
_SQRT2_MANTISSA = I64(0x6A09E667F3BCD)
_MANTISSA_MASK = I64((1 << 52) - 1)
_LN2_HI = F64(6.93147180369123816490e-01)  # 32 significant bits: e*_LN2_HI is exact
_LN2_LO = F64(math.log(2) - 6.93147180369123816490e-01)
_ATANH = tuple(F64(2.0 / (2 * j + 1)) for j in range(1, 11))  # 2/3, 2/5, ..., 2/21
TERMS_F64 = 11
TERMS_F32 = 5


@inline
def minus_two_log(x, scale_exponent, terms):
    """Return ``-2 ln(x * 2**-scale_exponent)`` in float64 (``x >= 1/2``).

    ``terms`` (a constant) is how many terms of the atanh series to sum.
    """
    bits = float_bits(x)
    mantissa = bits & _MANTISSA_MASK
    exponent = (bits >> I64(52)) - I64(1023) + I64(mantissa > _SQRT2_MANTISSA)
    power = float64_from_bits((exponent + I64(1023)) << I64(52))
    s = (x - power) / (x + power)
    z = s * s
    series = F64(0.0)
    for j in range(terms - 2, -1, -1):
        series = _ATANH[j] + z * series
    log_m = (s + s) + s * (z * series)
    e = F64(exponent - I64(scale_exponent))
    return F64(-2.0) * (e * _LN2_HI + (e * _LN2_LO + log_m))


@inline
def normal_radius_f32(word):
    """``sqrt(-2 ln u)`` as float32 for ``u = (word + 1/2) / 2**32``."""
    return ieee_sqrt(F32(minus_two_log(F64(word) + F64(0.5), 32, TERMS_F32)))


@inline
def _rotate_quadrant(quadrant, octant_high, sin_phi, cos_phi):
    """(sin, cos) of ``quadrant*pi/2 + alpha`` where alpha = phi or pi/2 - phi."""
    sin_alpha = cos_phi if octant_high else sin_phi
    cos_alpha = sin_phi if octant_high else cos_phi
    odd = (quadrant & 1) == 1
    sin_theta = cos_alpha if odd else sin_alpha
    cos_theta = sin_alpha if odd else cos_alpha
    sin_theta = -sin_theta if quadrant >= 2 else sin_theta
    cos_theta = -cos_theta if ((quadrant + 1) & 2) != 0 else cos_theta
    return sin_theta, cos_theta


_SIN_F32 = tuple(F32((-1) ** j / math.factorial(2 * j + 1)) for j in range(1, 5))
_COS_F32 = tuple(F32((-1) ** j / math.factorial(2 * j)) for j in range(1, 6))
_QUARTER_TURN_2_30 = F64(math.pi / 2 / 2**30)
_LOW30 = U32((1 << 30) - 1)


@inline
def sincos_turn_f32(word):
    """float32 ``(sin, cos)`` of ``2 pi (word + 1/2) / 2**32``.

    The top two bits pick the quadrant and the third the octant, so the
    polynomial argument phi in (0, pi/4) comes from exact integer arithmetic
    (rounded once, through float64); Taylor series to phi**9 and phi**10.
    """
    quadrant = word >> U32(30)
    octant_high = ((word >> U32(29)) & U32(1)) == U32(1)
    low = word & _LOW30
    reduced = (_LOW30 - low) if octant_high else low
    phi = F32((F64(np.int32(reduced)) + F64(0.5)) * _QUARTER_TURN_2_30)
    z = phi * phi
    sin_phi = phi + phi * z * (_SIN_F32[0] + z * (_SIN_F32[1] + z * (_SIN_F32[2] + z * _SIN_F32[3])))
    cos_phi = F32(1.0) + z * (
        _COS_F32[0] + z * (_COS_F32[1] + z * (_COS_F32[2] + z * (_COS_F32[3] + z * _COS_F32[4])))
    )
    return _rotate_quadrant(quadrant, octant_high, sin_phi, cos_phi)


_SIN_F64 = tuple(F64((-1) ** j / math.factorial(2 * j + 1)) for j in range(1, 9))
_COS_F64 = tuple(F64((-1) ** j / math.factorial(2 * j)) for j in range(1, 9))
_QUARTER_TURN_2_50 = F64(math.pi / 2 / 2**50)
_LOW50 = U64((1 << 50) - 1)


@inline
def sincos_turn_f64(k52):
    """float64 ``(sin, cos)`` of ``2 pi (k52 + 1/2) / 2**52``; Taylor to phi**17, phi**16."""
    quadrant = k52 >> U64(50)
    octant_high = ((k52 >> U64(49)) & U64(1)) == U64(1)
    low = k52 & _LOW50
    reduced = (_LOW50 - low) if octant_high else low
    phi = (F64(I64(reduced)) + F64(0.5)) * _QUARTER_TURN_2_50
    z = phi * phi
    s = _SIN_F64[7]
    s = _SIN_F64[6] + z * s
    s = _SIN_F64[5] + z * s
    s = _SIN_F64[4] + z * s
    s = _SIN_F64[3] + z * s
    s = _SIN_F64[2] + z * s
    s = _SIN_F64[1] + z * s
    s = _SIN_F64[0] + z * s
    sin_phi = phi + phi * (z * s)
    c = _COS_F64[7]
    c = _COS_F64[6] + z * c
    c = _COS_F64[5] + z * c
    c = _COS_F64[4] + z * c
    c = _COS_F64[3] + z * c
    c = _COS_F64[2] + z * c
    c = _COS_F64[1] + z * c
    c = _COS_F64[0] + z * c
    cos_phi = F64(1.0) + z * c
    return _rotate_quadrant(quadrant, octant_high, sin_phi, cos_phi)
