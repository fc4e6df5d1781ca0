"""Vectorizable elementary functions for the kernels: logarithm, sine and
cosine of a fraction of a turn, and the normal quantile.

numba's wheels have no SVML, so ``np.log``/``np.sin`` become libm calls that
block loop vectorization and whose last bits vary between libm builds.  These
are polynomials or rational functions after an exact range reduction, built
from IEEE basic operations only (no fused multiply-add without ``fastmath``),
so they vectorize and give the same bits on every x86-64 CPU.
"""

from __future__ import annotations

import math
from typing import Tuple, TypeVar, Union

import numpy as np

from ._constants import F32, F64, I64, LN2_F64_LO, LN2_HI, U32, U64
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
_SQRT2_MANTISSA = I64(0x6A09E667F3BCD)
_MANTISSA_MASK = I64((1 << 52) - 1)
_LN2_HI = F64(LN2_HI)  # 32 significant bits: e*_LN2_HI is exact
_LN2_LO = F64(LN2_F64_LO)  # _LN2_HI + _LN2_LO == float64(ln 2)
_ATANH = tuple(F64(2.0 / (2 * j + 1)) for j in range(1, 11))  # 2/3, 2/5, ..., 2/21
TERMS_F64 = 11
TERMS_F32 = 5


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
    series = _horner(_ATANH, z, terms - 1)
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


_SIN_F32 = tuple(F32((-1) ** j / math.factorial(2 * j + 1)) for j in range(1, 5))
_COS_F32 = tuple(F32((-1) ** j / math.factorial(2 * j)) for j in range(1, 6))
_QUARTER_TURN_2_30 = F64(math.pi / 2 / 2**30)
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
def sincos_turn_f64(k52: np.uint64) -> Tuple[np.float64, np.float64]:
    """float64 ``(sin, cos)`` of ``2 pi (k52 + 1/2) / 2**52``; Taylor to phi**17, phi**16."""
    quadrant = k52 >> U64(50)
    octant_high = ((k52 >> U64(49)) & U64(1)) == U64(1)
    low = k52 & _LOW50
    reduced = (_LOW50 - low) if octant_high else low
    phi = (F64(I64(reduced)) + F64(0.5)) * _QUARTER_TURN_2_50
    z = phi * phi
    sin_phi = phi + phi * (z * _horner(_SIN_F64, z, 8))
    cos_phi = F64(1.0) + z * _horner(_COS_F64, z, 8)
    return _rotate_quadrant(quadrant, octant_high, sin_phi, cos_phi)


# Normal quantile: Wichura (1988), "Algorithm AS 241: The percentage points of
# the normal distribution", Applied Statistics 37(3), PPND16: three rational
# approximations of degree 7/7 (relative error ~1e-16), coefficients lowest
# degree first.  All three are evaluated and one is selected, so the loop
# vectorizes.
_CENTRAL_NUM = (3.3871328727963666080e0, 1.3314166789178437745e2, 1.9715909503065514427e3,
                1.3731693765509461125e4, 4.5921953931549871457e4, 6.7265770927008700853e4,
                3.3430575583588128105e4, 2.5090809287301226727e3)
_CENTRAL_DEN = (1.0, 4.2313330701600911252e1, 6.8718700749205790830e2, 5.3941960214247511077e3,
                2.1213794301586595867e4, 3.9307895800092710610e4, 2.8729085735721942674e4,
                5.2264952788528545610e3)
_NEAR_NUM = (1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0,
             3.64784832476320460504e0, 1.27045825245236838258e0, 2.41780725177450611770e-1,
             2.27238449892691845833e-2, 7.74545014278341407640e-4)
_NEAR_DEN = (1.0, 2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
             1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4,
             1.05075007164441684324e-9)
_FAR_NUM = (6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0,
            2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
            2.71155556874348757815e-5, 2.01033439929228813265e-7)
_FAR_DEN = (1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
            7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7,
            2.04426310338993978564e-15)


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
    return q * _rational7(_CENTRAL_NUM, _CENTRAL_DEN, F64(0.180625) - q * q)


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
    near = _rational7(_NEAR_NUM, _NEAR_DEN, r - F64(1.6))
    far = _rational7(_FAR_NUM, _FAR_DEN, r - F64(5.0))
    return -(near if r <= F64(5.0) else far)
