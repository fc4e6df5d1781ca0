"""Stream-format parameters: what each distribution's kernels receive, and which arguments a format can hold.

The samplers (``_api.sampling``), the variance-scaling initializers
(``_api.variance_scaling``) and the adapters that decide before drawing whether
fastglorot can draw a request (``keras``, ``numba``) all go through these
functions, so a parameter is checked, rounded and laid out one way:

* uniform on ``[low, high]``: ``(mid, scale, clamp_low, clamp_high)`` in the
  draw dtype (README "Stream format");
* normal: ``(mean, std)`` in the draw dtype, refused when a sample could
  round to inf in the output format;
* truncated normal: ``(mean, std, clamp_low, clamp_high, Phi(alpha),
  Phi(-beta), mass)`` in float64;
* variance scaling with variance ``scale / n``: uniform ``U(-L, L)``,
  ``L = sqrt(3 scale / n)``; normal with std ``sqrt(scale / n)``; truncated
  normal on ``[-2 s, 2 s]``, ``s = sqrt(scale / n) / TRUNCATED_STD``, whose
  variance is ``scale / n`` (as JAX and Keras do).
"""

from __future__ import annotations

import math
import numbers
import os
import sys
import warnings
from typing import Any, NamedTuple

import numpy as np

from .tables import FORMATS
from .normal_cdf import normal_cdf
from .._validate import as_float

__all__ = ["TRUNCATED_STD", "TRUNCATION_LIMIT", "uniform_params", "normal_params", "truncated_params",
           "normal_z_max", "as_finite", "normal_fits", "normal_range_error", "NORMAL_Z_BOUND_F32",
           "NORMAL_Z_BOUND_F64", "Draw", "variance_draw", "largest_magnitude", "warn_if_all_zero"]

TRUNCATED_STD = 0.87962566103423978
"""Standard deviation of N(0, 1) truncated to [-2, 2]: dividing by it keeps the
variance of the truncated draw at the target (as JAX and Keras do)."""

TRUNCATION_LIMIT = 37.5
"""Standardized bounds are clipped to +-37.5: Phi(-37.5) ~ 5e-308 is the last
normal float64 tail probability; farther out the mass is zero in float64."""


def as_finite(name: str, value: object, dtype: str) -> float:
    """A real number that is finite and within the range of the format named ``dtype``."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a real number, not a bool")
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    number = as_float(name, value)
    largest = FORMATS[dtype].max
    if abs(number) > largest:
        raise ValueError(f"{name}={number} is outside the {dtype} range (largest finite value "
                         f"{largest:.8g})")
    return number


def normal_z_max(fmt: str) -> float:
    """The largest ``|z|`` of a standard normal draw for ``fmt``: sqrt(-2 ln u1) at the smallest ``u1``.

    README "Stream format": ``u1 >= 2**-33`` (float32 draws, also for float16
    and bfloat16) or ``2**-53`` (float64), so ``|z| <= sqrt(66 ln 2) ~ 6.7637``
    or ``sqrt(106 ln 2) ~ 8.5717``.
    """
    return math.sqrt((106 if FORMATS[fmt].draw == "float64" else 66) * math.log(2.0))


_Z_MARGIN = 1.0 + 2.0**-20
"""Covers the draw's own rounding: the float32 radius is within 2e-8 of
sqrt(66 ln 2) and each float32 product adds half an ulp (6e-8)."""
NORMAL_Z_BOUND_F32 = normal_z_max("float32") * _Z_MARGIN
NORMAL_Z_BOUND_F64 = normal_z_max("float64") * _Z_MARGIN
"""``|z|`` bounds with the margin: :func:`normal_fits` and the element API's validity test use these."""


def normal_fits(fmt: str, mean: float, std: float) -> bool:
    """Whether every sample ``mean + std * z`` of a ``fmt`` normal fill is finite.

    ``mean`` and ``std`` are rounded to the draw dtype first, as the kernels
    see them.  The test ``|mean| + z_max * std <= limit`` (with a relative
    margin of 2**-20 on ``z_max``) is exact up to that margin: rounding is
    monotone, so no sample can exceed the bound, and ``std = 0`` fills with
    ``mean``, which is in range.
    """
    ftype = FORMATS[fmt].draw_dtype
    with np.errstate(over="ignore"):
        mean_d, std_d = abs(float(ftype(mean))), float(ftype(std))
    bound = mean_d + (NORMAL_Z_BOUND_F64 if FORMATS[fmt].draw == "float64" else NORMAL_Z_BOUND_F32) * std_d
    return bool(bound <= FORMATS[fmt].normal_limit)


def normal_range_error(fmt: str, mean: float, std: float) -> str:
    """The tail of a message for a normal fill that would overflow ``fmt``: the limit and what to do."""
    z_max = normal_z_max(fmt)
    room = max(FORMATS[fmt].normal_limit - abs(mean), 0.0) / (z_max * _Z_MARGIN)
    return (f"samples mean + std*z with |z| up to {z_max:.4f} reach {abs(mean) + z_max * std:.6g}, beyond the "
            f"{fmt} range (largest finite value {FORMATS[fmt].max:.8g}), and would be written as inf; "
            f"std must be at most {room * (1 - 1e-6):.6g} for |mean| = {abs(mean):.6g}")


def _at_least(x: float, ftype: Any, strict: bool) -> Any:
    """The smallest ``ftype`` value >= x (> x when ``strict``)."""
    value = ftype(x)
    if float(value) < x or (strict and float(value) == x):
        with np.errstate(over="ignore"):  # past the largest value: inf, which the caller then rejects
            value = np.nextafter(value, ftype(np.inf))
    return value


def _at_most(x: float, ftype: Any, strict: bool) -> Any:
    """The largest ``ftype`` value <= x (< x when ``strict``)."""
    value = ftype(x)
    if float(value) > x or (strict and float(value) == x):
        with np.errstate(over="ignore"):  # past the largest value: inf, which the caller then rejects
            value = np.nextafter(value, ftype(-np.inf))
    return value


def _uniform_array(low: float, high: float, ftype: Any) -> np.ndarray[Any, Any]:
    """(mid, scale, clamp_low, clamp_high) of README "Stream format"."""
    bits = 53 if ftype is np.float64 else 24
    clamp_low, clamp_high = _at_least(low, ftype, True), _at_most(high, ftype, True)
    if clamp_low > clamp_high:  # no value strictly inside: use the closed interval
        clamp_low, clamp_high = _at_least(low, ftype, False), _at_most(high, ftype, False)
    if clamp_low > clamp_high:
        raise ValueError(f"no {np.dtype(ftype).name} value lies in [{low}, {high}]")
    mid = ftype(0.5 * low + 0.5 * high)
    scale = ftype((0.5 * high - 0.5 * low) * 2.0**-bits)
    return np.array([mid, scale, clamp_low, clamp_high], dtype=ftype)


def _truncated_array(mean: float, std: float, a: float, b: float, ftype: Any) -> np.ndarray[Any, Any]:
    """(mean, std, clamp_low, clamp_high, Phi(alpha), Phi(-beta), mass), float64."""
    alpha = min(max((a - mean) / std, -TRUNCATION_LIMIT), TRUNCATION_LIMIT)
    beta = min(max((b - mean) / std, -TRUNCATION_LIMIT), TRUNCATION_LIMIT)
    lower_tail, upper_tail = normal_cdf(alpha), normal_cdf(-beta)
    if alpha >= 0:  # both bounds above the mean: subtract upper tails
        mass = normal_cdf(-alpha) - upper_tail
    elif beta <= 0:
        mass = normal_cdf(beta) - lower_tail
    else:
        mass = 1.0 - lower_tail - upper_tail
    if not mass > 0:
        raise ValueError(f"[a, b] = [{a}, {b}] lies more than {TRUNCATION_LIMIT} standard deviations "
                         f"from the mean {mean}: no probability mass to sample")
    clamp_low, clamp_high = _at_least(a, ftype, False), _at_most(b, ftype, False)
    if clamp_low > clamp_high:
        raise ValueError(f"no {np.dtype(ftype).name} value lies in [{a}, {b}]")
    return np.array([mean, std, clamp_low, clamp_high, lower_tail, upper_tail, mass], dtype=np.float64)


def uniform_params(low: float, high: float, fmt: str) -> np.ndarray[Any, Any]:
    """The kernels' parameters of uniform samples on ``[low, high]`` for format ``fmt``, checked.

    Raises
    ------
    TypeError, ValueError
        ``low`` or ``high`` not a finite real within the format's range,
        ``low > high``, or no value of the draw dtype in ``[low, high]``.
    """
    low = as_finite("low", low, fmt)
    high = as_finite("high", high, fmt)
    if not low <= high:
        raise ValueError(f"low must not exceed high, got low={low}, high={high}")
    return _uniform_array(low, high, FORMATS[fmt].draw_dtype)


def normal_params(mean: float, std: float, fmt: str) -> np.ndarray[Any, Any]:
    """The kernels' parameters ``(mean, std)`` of normal samples for format ``fmt``, checked.

    Raises
    ------
    TypeError, ValueError
        Non-finite or out-of-range arguments, ``std < 0``, or samples that
        could round to inf in ``fmt`` (:func:`normal_fits`).
    """
    mean = as_finite("mean", mean, fmt)
    std = as_finite("std", std, fmt)
    if std < 0:
        raise ValueError(f"std must be non-negative, got {std}")
    if not normal_fits(fmt, mean, std):
        raise ValueError(f"normal_ with mean={mean!r}, std={std!r}: {normal_range_error(fmt, mean, std)}")
    return np.array([mean, std], dtype=FORMATS[fmt].draw_dtype)


def truncated_params(mean: float, std: float, a: float, b: float, fmt: str) -> np.ndarray[Any, Any]:
    """The kernels' parameters of N(mean, std**2) truncated to ``[a, b]`` for format ``fmt``, checked.

    Raises
    ------
    TypeError, ValueError
        Non-finite or out-of-range arguments, ``std <= 0``, ``a >= b``,
        ``[a, b]`` more than :data:`TRUNCATION_LIMIT` standard deviations from
        the mean, or no value of the draw dtype in ``[a, b]``.
    """
    mean = as_finite("mean", mean, fmt)
    std = as_finite("std", std, fmt)
    a = as_finite("a", a, fmt)
    b = as_finite("b", b, fmt)
    if not std > 0:
        raise ValueError(f"std must be positive, got {std}")
    if not a < b:
        raise ValueError(f"a must be less than b, got a={a}, b={b}")
    return _truncated_array(mean, std, a, b, FORMATS[fmt].draw_dtype)


class Draw(NamedTuple):
    """A checked draw: the distribution the kernels run and their parameters."""

    distribution: str
    """``"uniform"``, ``"normal"`` or ``"truncated_normal"``."""
    params: np.ndarray[Any, Any]


def variance_draw(scale: float, n: float, distribution: str, fmt: str) -> Draw:
    """The draw with variance ``scale / n`` of ``distribution`` into format ``fmt`` (module docstring).

    ``distribution`` is ``"uniform"``, ``"normal"``/``"untruncated_normal"``
    or ``"truncated_normal"``; ``scale`` and ``n`` are positive.

    Raises
    ------
    ValueError
        The computed bound or standard deviation does not fit ``fmt`` (the
        message names the largest variance and scale that do), or the
        variance underflows to 0 for a truncated normal.
    """
    variance = scale / n
    if distribution == "uniform":
        limit = math.sqrt(3.0 * variance)  # inf when 3 * variance overflows
        if not limit <= FORMATS[fmt].max:
            raise ValueError(_bound_error(scale, n, variance, "the uniform bound sqrt(3 * scale / n)", limit, fmt,
                                          FORMATS[fmt].max * FORMATS[fmt].max / 3))
        return Draw("uniform", uniform_params(-limit, limit, fmt))
    if distribution in ("normal", "untruncated_normal"):
        std = math.sqrt(variance)
        if not normal_fits(fmt, 0.0, std):
            largest = FORMATS[fmt].normal_limit / (normal_z_max(fmt) * _Z_MARGIN)
            raise ValueError(f"{_variance(scale, n, variance)}: the normal std sqrt(scale / n) = {std:.6g} "
                             f"would give samples up to {normal_z_max(fmt):.4f} * std = "
                             f"{normal_z_max(fmt) * std:.6g}, beyond the {fmt} range (largest finite value "
                             f"{FORMATS[fmt].max:.8g}); {_scale_bound(largest * largest, n, fmt)}")
        return Draw("normal", normal_params(0.0, std, fmt))
    std = math.sqrt(variance) / TRUNCATED_STD
    if not std > 0:
        raise ValueError(f"{_variance(scale, n, variance)}: the variance underflows to 0 in float64, so the "
                         "truncated normal has no standard deviation; scale / n must be at least 5e-324 "
                         "(use a larger scale, or the uniform or normal distribution, which fill zeros)")
    if not 2.0 * std <= FORMATS[fmt].max:
        largest = FORMATS[fmt].max / 2 * TRUNCATED_STD
        raise ValueError(_bound_error(scale, n, variance, f"the truncated normal's bound 2 * sqrt(scale / n) / "
                                      f"{TRUNCATED_STD}", 2.0 * std, fmt, largest * largest))
    return Draw("truncated_normal", truncated_params(0.0, std, -2.0 * std, 2.0 * std, fmt))


def _bound_error(scale: float, n: float, variance: float, what: str, bound: float, fmt: str,
                 largest_variance: float) -> str:
    """The message for a computed bound outside ``fmt``'s range, with the largest variance that fits."""
    value = f"{bound:.6g}" if math.isfinite(bound) else "inf (overflows float64)"
    return (f"{_variance(scale, n, variance)}: {what} = {value} is outside the {fmt} range (largest finite value "
            f"{FORMATS[fmt].max:.8g}); {_scale_bound(largest_variance, n, fmt)}")


def _variance(scale: float, n: float, variance: float) -> str:
    """The start of a message about the variance ``scale / n`` (the only numbers the core sees)."""
    return (f"variance scale / n = {scale!r} / {n!r} = {variance!r} (scale is gain**2 for glorot_*, "
            f"calculate_gain(nonlinearity, a)**2 for kaiming_*)")


def _scale_bound(largest: float, n: float, fmt: str) -> str:
    """What to do: the largest variance (and scale, for this ``n``) that fits ``fmt``."""
    largest = min(largest, FORMATS["float64"].max / 3) * (1 - 1e-6)
    text = f"scale / n must be at most about {largest:.4g} for a {fmt} output"
    if math.isfinite(largest * n):
        text += f" (scale at most {largest * n:.4g} for n = {n!r})"
    return text


def largest_magnitude(distribution: str, params: np.ndarray[Any, Any], fmt: str) -> float:
    """The largest ``|value|`` a draw with these kernel parameters can produce before rounding to ``fmt``.

    Uniform and truncated normal: the larger clamp; normal: ``|mean| + z_max * std``.
    """
    if distribution == "normal":
        return abs(float(params[0])) + normal_z_max(fmt) * float(params[1])
    return max(abs(float(params[2])), abs(float(params[3])))


def warn_if_all_zero(distribution: str, params: np.ndarray[Any, Any], fmt: str, what: str) -> None:
    """Warn (UserWarning, at the user's call) when every value of a fill rounds to 0 in ``fmt``.

    A float16 fill of a layer with huge fans (or tiny bounds) has a bound
    below half the smallest float16 subnormal, ``2**-25 ~ 3e-8``: every value
    rounds to 0, which is a valid fill but almost surely not what was meant.
    A draw whose parameters are themselves 0 (``std=0``, ``low=high=0``) is
    meant and does not warn.

    Parameters
    ----------
    distribution, params : str, ndarray
        The draw (``Draw`` fields).
    fmt : str
        The output format.
    what : str
        The arguments in the caller's terms, to start the message.
    """
    largest = largest_magnitude(distribution, params, fmt)
    tiny = FORMATS[fmt].tiny
    if 0.0 < largest <= tiny / 2:
        warnings.warn(f"{what}: every value of this {fmt} fill is 0: the values are at most {largest:.4g} in "
                      f"magnitude, and {fmt} rounds magnitudes up to {tiny / 2:.4g} to 0 (its smallest positive "
                      f"value is {tiny:.4g}); use a wider dtype (float32, bfloat16) or a larger scale",
                      UserWarning, stacklevel=_user_stacklevel())


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # fastglorot/, not _format/


def _user_stacklevel() -> int:
    """``warnings.warn``'s stacklevel for the first frame outside fastglorot (called from inside ``warn_*``)."""
    frame = sys._getframe(1)  # the warning function's frame is level 1
    level = 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
        level += 1
    return level
