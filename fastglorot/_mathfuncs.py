"""Vectorizable elementary functions for the kernels: logarithm, sine and
cosine of a fraction of a turn, and the normal quantile.

numba's wheels have no SVML, so ``np.log``/``np.sin`` become libm calls that
block loop vectorization and whose last bits vary between libm builds.  These
are polynomials or rational functions after an exact range reduction, built
from IEEE basic operations only (no fused multiply-add without ``fastmath``),
so they vectorize and give the same bits on every x86-64 CPU.
"""

from __future__ import annotations

from typing import Tuple, TypeVar, Union

import numpy as np

from ._constants import (
    ATANH_SERIES,
    CENTRAL_DEN,
    CENTRAL_NUM,
    COS_F32,
    COS_F64,
    F32,
    F64,
    FAR_DEN,
    FAR_NUM,
    I64,
    LN2_F64_LO,
    LN2_HI,
    MANTISSA_MASK,
    NEAR_DEN,
    NEAR_NUM,
    QUARTER_TURN_2_30,
    QUARTER_TURN_2_50,
    SIN_F32,
    SIN_F64,
    SQRT2_MANTISSA,
    TERMS_F32,
    TERMS_F64,
    U32,
    U64,
)
from ._jit import float64_from_bits, float_bits, ieee_sqrt, inline

__all__ = [
    "TERMS_F32",
    "TERMS_F64",
    "minus_two_log",
    "sincos_turn_f32",
    "sincos_turn_f64",
    "normal_quantile_central",
    "normal_quantile_tail",
    "in_lower_tail",
]

_Float = TypeVar("_Float", np.float32, np.float64)


@inline
def _horner(coefficients: Tuple[float, ...], z: np.float64, count: int) -> np.float64:
    """``c[0] + z*(c[1] + ... + z*c[count-1])``, evaluated innermost first."""
    value = F64(0.0)
    for j in range(count - 1, -1, -1):
        value = coefficients[j] + z * value
    return value


# ln v for v = x * 2**-B, x = k + 1/2 exact in float64.  x = m * 2**e with
# m in [sqrt(1/2), sqrt(2)) read off the float64 exponent; then m - 2**e is
# exact (Sterbenz) and ln m = 2 atanh(s), s = (m-1)/(m+1), |s| <= 0.1716, an
# odd series in s.  Its truncation after s**(2T-1) is below 0.03**T / (2T+1)
# relative: T = 11 terms for float64 results, T = 5 when the result is rounded
# to float32 (2e-9, a thirtieth of a float32 ulp).
_SQRT2_MANTISSA = I64(SQRT2_MANTISSA)
_MANTISSA_MASK = I64(MANTISSA_MASK)
_LN2_HI = F64(LN2_HI)  # 32 significant bits: e*_LN2_HI is exact
_LN2_LO = F64(LN2_F64_LO)  # _LN2_HI + _LN2_LO == float64(ln 2)


@inline
def minus_two_log(x: np.float64, scale_exponent: int, terms: int) -> np.float64:
    """Return ``-2 ln(x * 2**-scale_exponent)`` in float64 (``x >= 1/2``).

    ``terms`` (a constant) is how many terms of the atanh series to sum.
    """
    bits = float_bits(x)
    mantissa = bits & _MANTISSA_MASK
    exponent = (bits >> I64(52)) - I64(1023) + I64(mantissa > _SQRT2_MANTISSA)
    power = float64_from_bits((exponent + I64(1023)) << I64(52))
    s = (x - power) / (x + power)
    z = s * s
    series = _horner(ATANH_SERIES, z, terms - 1)
    log_m = (s + s) + s * (z * series)
    e = F64(exponent - I64(scale_exponent))
    return F64(-2.0) * (e * _LN2_HI + (e * _LN2_LO + log_m))


@inline
def _rotate_quadrant(quadrant: Union[np.uint32, np.uint64], octant_high: np.bool_, sin_phi: _Float,
                     cos_phi: _Float) -> Tuple[_Float, _Float]:
    """(sin, cos) of ``quadrant*pi/2 + alpha`` where alpha = phi or pi/2 - phi."""
    sin_alpha = cos_phi if octant_high else sin_phi
    cos_alpha = sin_phi if octant_high else cos_phi
    odd = (quadrant & 1) == 1
    sin_theta = cos_alpha if odd else sin_alpha
    cos_theta = sin_alpha if odd else cos_alpha
    sin_theta = -sin_theta if quadrant >= 2 else sin_theta
    cos_theta = -cos_theta if ((quadrant + 1) & 2) != 0 else cos_theta
    return sin_theta, cos_theta


_LOW30 = U32((1 << 30) - 1)


@inline
def sincos_turn_f32(word: np.uint32) -> Tuple[np.float32, np.float32]:
    """float32 ``(sin, cos)`` of ``2 pi (word + 1/2) / 2**32``.

    The top two bits pick the quadrant and the third the octant, so the
    polynomial argument phi in (0, pi/4) comes from exact integer arithmetic
    (rounded once, through float64); Taylor series to phi**9 and phi**10.
    """
    quadrant = word >> U32(30)
    octant_high = ((word >> U32(29)) & U32(1)) == U32(1)
    low = word & _LOW30
    reduced = (_LOW30 - low) if octant_high else low
    phi = F32((F64(np.int32(reduced)) + F64(0.5)) * QUARTER_TURN_2_30)
    z = phi * phi
    sin_phi = phi + phi * z * (SIN_F32[0] + z * (SIN_F32[1] + z * (SIN_F32[2] + z * SIN_F32[3])))
    cos_phi = F32(1.0) + z * (
        COS_F32[0] + z * (COS_F32[1] + z * (COS_F32[2] + z * (COS_F32[3] + z * COS_F32[4])))
    )
    return _rotate_quadrant(quadrant, octant_high, sin_phi, cos_phi)


_LOW50 = U64((1 << 50) - 1)


@inline
def sincos_turn_f64(k52: np.uint64) -> Tuple[np.float64, np.float64]:
    """float64 ``(sin, cos)`` of ``2 pi (k52 + 1/2) / 2**52``; Taylor to phi**17, phi**16."""
    quadrant = k52 >> U64(50)
    octant_high = ((k52 >> U64(49)) & U64(1)) == U64(1)
    low = k52 & _LOW50
    reduced = (_LOW50 - low) if octant_high else low
    phi = (F64(I64(reduced)) + F64(0.5)) * QUARTER_TURN_2_50
    z = phi * phi
    sin_phi = phi + phi * (z * _horner(SIN_F64, z, 8))
    cos_phi = F64(1.0) + z * _horner(COS_F64, z, 8)
    return _rotate_quadrant(quadrant, octant_high, sin_phi, cos_phi)


# Normal quantile: AS 241's three rationals (coefficients in ``_constants``).
# All three are evaluated and one is selected, so the loop vectorizes.


@inline
def _rational7(numerator: Tuple[float, ...], denominator: Tuple[float, ...], x: np.float64) -> np.float64:
    """``numerator(x) / denominator(x)``, both of degree 7, by Horner's rule.

    Both polynomials in one loop rather than two :func:`_horner` calls: the
    same operations in the same order (same bits), but one numba inline site
    instead of two, which shortens the first compile.
    """
    top = F64(0.0)
    bottom = F64(0.0)
    for j in range(7, -1, -1):
        top = numerator[j] + x * top
        bottom = denominator[j] + x * bottom
    return top / bottom


@inline
def normal_quantile_central(p: np.float64) -> np.float64:
    """``Phi^-1(p)`` for ``|p - 1/2| <= 0.425`` (AS 241's central rational)."""
    q = p - F64(0.5)
    return q * _rational7(CENTRAL_NUM, CENTRAL_DEN, F64(0.180625) - q * q)


@inline
def in_lower_tail(p: np.float64) -> np.bool_:
    """Whether AS 241 evaluates ``Phi^-1(p)``, ``p <= 1/2``, by its tail branch."""
    return p - F64(0.5) < F64(-0.425)


@inline
def normal_quantile_tail(p: np.float64) -> np.float64:
    """``Phi^-1(p)`` for ``0 < p < 0.075`` (AS 241's tail rationals in ``sqrt(-ln p)``).

    ``p`` must be a normal float64 (``p >= 2**-1022``).
    """
    r = ieee_sqrt(F64(0.5) * minus_two_log(p, 0, TERMS_F64))  # sqrt(-ln p)
    near = _rational7(NEAR_NUM, NEAR_DEN, r - F64(1.6))
    far = _rational7(FAR_NUM, FAR_DEN, r - F64(5.0))
    return -(near if r <= F64(5.0) else far)
