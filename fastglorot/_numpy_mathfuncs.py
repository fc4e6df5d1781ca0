"""NumPy twins of ``_mathfuncs``: the logarithm, sine and cosine of a turn, and the normal quantile.

Each function evaluates, on whole arrays, the same IEEE operations in the
same order and dtype as its jitted namesake in ``_mathfuncs``, with the same
coefficients (``_constants``), so it gives the same bits.  In-place updates
keep the temporaries few: ``x *= c`` computes ``c * x`` and ``x += c``
computes ``c + x``, the same bits since IEEE multiplication and addition
commute.
"""

from __future__ import annotations

from typing import Any, Tuple

import numpy as np
from numpy.typing import NDArray

from ._constants import (
    ATANH_SERIES,
    CENTRAL_DEN,
    CENTRAL_NUM,
    COS_F32,
    COS_F64,
    FAR_DEN,
    FAR_NUM,
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
    TERMS_F64,
)

__all__ = ["minus_two_log", "sincos_turn_f32", "sincos_turn_f64", "normal_quantile_central", "normal_quantile_tail"]

_U64 = np.uint64
_F32 = np.float32


def _horner(coefficients: Tuple[Any, ...], z: NDArray[np.float64], count: int) -> NDArray[np.float64]:
    """``c[0] + z*(c[1] + ... + z*c[count-1])``; the innermost step ``c + z*0`` is ``c`` exactly."""
    value = np.full(z.shape, coefficients[count - 1], dtype=np.float64)
    for j in range(count - 2, -1, -1):
        value *= z
        value += coefficients[j]
    return value


def minus_two_log(x: NDArray[np.float64], scale_exponent: int, terms: int) -> NDArray[np.float64]:
    """``-2 ln(x * 2**-scale_exponent)`` as ``_mathfuncs.minus_two_log`` (``x`` normal, positive)."""
    bits = x.view(np.int64)
    exponent = (bits >> 52) - 1023
    exponent += (bits & MANTISSA_MASK) > SQRT2_MANTISSA
    power = ((exponent + 1023) << 52).view(np.float64)
    s = (x - power) / (x + power)
    z = s * s
    series = _horner(ATANH_SERIES, z, terms - 1)
    log_m = z
    log_m *= series
    log_m *= s
    log_m += s + s
    e = (exponent - scale_exponent).astype(np.float64)
    low = e * LN2_F64_LO
    low += log_m
    e *= LN2_HI
    e += low
    e *= -2.0
    return e


def _rotate_quadrant(quadrant: NDArray[Any], octant_high: NDArray[np.bool_], sin_phi: NDArray[Any],
                     cos_phi: NDArray[Any]) -> Tuple[NDArray[Any], NDArray[Any]]:
    """(sin, cos) of ``quadrant*pi/2 + alpha`` where alpha = phi or pi/2 - phi (``_rotate_quadrant``)."""
    sin_alpha = np.where(octant_high, cos_phi, sin_phi)
    cos_alpha = np.where(octant_high, sin_phi, cos_phi)
    odd = (quadrant & 1) == 1
    sin_theta = np.where(odd, cos_alpha, sin_alpha)
    cos_theta = np.where(odd, sin_alpha, cos_alpha)
    np.negative(sin_theta, out=sin_theta, where=quadrant >= 2)
    np.negative(cos_theta, out=cos_theta, where=((quadrant + 1) & 2) != 0)
    return sin_theta, cos_theta


def sincos_turn_f32(word: NDArray[np.uint64]) -> Tuple[NDArray[np.float32], NDArray[np.float32]]:
    """float32 ``(sin, cos)`` of ``2 pi (word + 1/2) / 2**32`` (``sincos_turn_f32``)."""
    quadrant = word >> _U64(30)
    octant_high = ((word >> _U64(29)) & _U64(1)) == 1
    low = word & _U64((1 << 30) - 1)
    reduced = np.where(octant_high, _U64((1 << 30) - 1) - low, low)
    phi64 = reduced.astype(np.float64)
    phi64 += 0.5
    phi64 *= QUARTER_TURN_2_30
    phi = phi64.astype(np.float32)
    z = phi * phi
    sin_series = z * SIN_F32[3]
    for c in (SIN_F32[2], SIN_F32[1]):
        sin_series += c
        sin_series *= z
    sin_series += SIN_F32[0]
    sin_phi = phi * z
    sin_phi *= sin_series
    sin_phi += phi
    cos_phi = z * COS_F32[4]
    for c in (COS_F32[3], COS_F32[2], COS_F32[1]):
        cos_phi += c
        cos_phi *= z
    cos_phi += COS_F32[0]
    cos_phi *= z
    cos_phi += _F32(1.0)
    return _rotate_quadrant(quadrant, octant_high, sin_phi, cos_phi)


def sincos_turn_f64(k52: NDArray[np.uint64]) -> Tuple[NDArray[np.float64], NDArray[np.float64]]:
    """float64 ``(sin, cos)`` of ``2 pi (k52 + 1/2) / 2**52`` (``sincos_turn_f64``)."""
    low50 = _U64((1 << 50) - 1)
    quadrant = k52 >> _U64(50)
    octant_high = ((k52 >> _U64(49)) & _U64(1)) == 1
    low = k52 & low50
    reduced = np.where(octant_high, low50 - low, low)
    phi = reduced.astype(np.float64)
    phi += 0.5
    phi *= QUARTER_TURN_2_50
    z = phi * phi
    sin_phi = _horner(SIN_F64, z, 8)
    sin_phi *= z
    sin_phi *= phi
    sin_phi += phi
    cos_phi = _horner(COS_F64, z, 8)
    cos_phi *= z
    cos_phi += 1.0
    return _rotate_quadrant(quadrant, octant_high, sin_phi, cos_phi)


def _rational7(numerator: Tuple[float, ...], denominator: Tuple[float, ...],
               x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``numerator(x) / denominator(x)``, both of degree 7, by Horner's rule (``_rational7``)."""
    top = np.full(x.shape, numerator[7], dtype=np.float64)
    bottom = np.full(x.shape, denominator[7], dtype=np.float64)
    for j in range(6, -1, -1):
        top *= x
        top += numerator[j]
        bottom *= x
        bottom += denominator[j]
    top /= bottom
    return top


def normal_quantile_central(p: NDArray[np.float64]) -> NDArray[np.float64]:
    q = p - 0.5
    x = 0.180625 - q * q
    result = _rational7(CENTRAL_NUM, CENTRAL_DEN, x)
    result *= q
    return result


def normal_quantile_tail(p: NDArray[np.float64]) -> NDArray[np.float64]:
    r = minus_two_log(p, 0, TERMS_F64)
    r *= 0.5
    np.sqrt(r, out=r)
    near = _rational7(NEAR_NUM, NEAR_DEN, r - 1.6)
    far = _rational7(FAR_NUM, FAR_DEN, r - 5.0)
    return -np.where(r <= 5.0, near, far)
