"""The standard normal CDF in plain Python, bit-identical on every platform.

Truncated-normal parameters (the tail probabilities Phi(alpha), Phi(-beta))
enter the stream format, so they must not depend on the C library: libm's
``erfc``/``exp`` may differ in the last bit between platforms.  This module
uses only IEEE basic operations, ``math.ldexp`` and integers.
"""

from __future__ import annotations

import math

from .constants import LN2_HI as _LN2_HI  # 32 significant bits: k * _LN2_HI is exact
from .constants import LN2_LO as _LN2_LO

__all__ = ["normal_cdf"]

_INV_SQRT_2PI = 0.3989422804014327  # 1/sqrt(2 pi), correctly rounded
_EXP_TERMS = tuple(1.0 / math.factorial(n) for n in range(18))  # exact-enough Taylor coefficients


def _exp(x: float) -> float:
    """exp(x) for -745 < x <= 0: Cody–Waite reduction, Taylor to r**17 (|r| <= ln2/2)."""
    k = round(x / 0.6931471805599453)
    r = (x - k * _LN2_HI) - k * _LN2_LO
    p = _EXP_TERMS[17]
    for c in reversed(_EXP_TERMS[:17]):
        p = c + r * p
    return math.ldexp(p, k)


def _gaussian_density(x: float) -> float:
    """phi(x) = exp(-x**2/2)/sqrt(2 pi), with x**2 split so that it is exact."""
    high = math.ldexp(math.floor(math.ldexp(abs(x), 20)), -20)  # |x| to 20 fractional bits
    low = abs(x) - high
    # x**2/2 = high**2/2 + (high*low + low**2/2); high**2 is exact for |x| < 2**6
    return _INV_SQRT_2PI * _exp(-0.5 * high * high) * _exp(-(high * low + 0.5 * low * low))


def _mills_ratio(x: float) -> float:
    """(1 - Phi(x)) / phi(x) for x >= 2: Laplace's continued fraction, evaluated backwards."""
    tail = 0.0
    for n in range(200, 0, -1):
        tail = n / (x + tail)
    return 1.0 / (x + tail)


def _central_series(x: float) -> float:
    """sum x**(2n+1) / (1*3*...*(2n+1)) for |x| < 2 (positive terms when x > 0)."""
    term, total, n = x, x, 0
    while abs(term) > 1e-17 * abs(total):
        n += 1
        term *= x * x / (2 * n + 1)
        total += term
    return total


def normal_cdf(x: float) -> float:
    """Phi(x), accurate to ~1e-14 relative in both tails, deterministic across platforms."""
    x = float(x)
    if x <= -2.0:
        return _gaussian_density(x) * _mills_ratio(-x)
    if x >= 2.0:
        return 1.0 - _gaussian_density(x) * _mills_ratio(x)
    return 0.5 + _gaussian_density(x) * _central_series(x)
