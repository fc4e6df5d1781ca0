"""The variance-scaling core behind every initializer.

The public initializers (``glorot_uniform_``, ``kaiming_normal_``, ...) are
generated from the registry rows in ``_registry.py`` into ``_generated_api.py``:
each checks its arguments (``_arguments``), computes its variance scale, fan
mode and distribution from its row, and calls :func:`variance_scaling_core`,
which draws with variance ``scale / n``:

* ``"uniform"``: U(-L, L) with ``L = sqrt(3 scale / n)`` (variance ``L**2 / 3``);
* ``"normal"`` (Keras: ``"untruncated_normal"``): N(0, scale / n);
* ``"truncated_normal"``: N(0, s**2) truncated to ``[-2 s, 2 s]`` with
  ``s = sqrt(scale / n) / 0.87962566103423978``, so the variance of the
  result is ``scale / n`` (as JAX and Keras do).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Mapping, Optional, Sequence, Tuple, TypeVar, cast

from ._arguments import positive
from ._position import Shape, fan_shape, resolve_position
from ._buffers import as_output
from ._fans import compute_fans
from ._sampling import fill_normal, fill_truncated_normal, fill_uniform, normal_fits, normal_limit, normal_z_max
from ._validate import dtype_max

__all__ = ["variance_scaling_core", "TRUNCATED_STD"]

TRUNCATED_STD = 0.87962566103423978
"""Standard deviation of N(0, 1) truncated to [-2, 2]: dividing by it keeps the
variance of the truncated draw at the target (as JAX and Keras do)."""

Out = TypeVar("Out")


def _fans(shape: Sequence[int], layout: str, fan_in: Optional[int], fan_out: Optional[int]) -> Tuple[int, int]:
    if fan_in is not None and fan_out is not None:
        return fan_in, fan_out
    computed_in, computed_out = compute_fans(shape, layout)  # type: ignore[arg-type]
    return (computed_in if fan_in is None else fan_in, computed_out if fan_out is None else fan_out)


def variance_scaling_core(out: Out, scale: float, mode: str, distribution: str, args: Mapping[str, Any],
                          offset: int, global_shape: Optional[Shape], global_offset: Optional[Shape]) -> Out:
    """Fill ``out`` with variance ``scale / n`` (README "Initializers").

    ``args`` holds the checked ``seed``, ``stream``, ``layout``, ``fan_in``
    and ``fan_out`` (``_arguments.checked``); ``mode`` and ``distribution``
    are checked already.  Every check runs before the zero-element no-op.
    """
    target = as_output(out)
    scale = positive("scale", scale)  # also catches a computed scale that overflowed to inf
    resolve_position(target.array.shape, offset, global_shape, global_offset)  # errors before the no-op
    if target.array.size == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return target.result  # type: ignore[no-any-return]
    fans_in, fans_out = _fans(fan_shape(target.array.shape, global_shape), args["layout"], args["fan_in"],
                              args["fan_out"])
    n = {"fan_in": fans_in, "fan_out": fans_out, "fan_avg": (fans_in + fans_out) / 2,
         "fan_geo_avg": math.sqrt(fans_in * fans_out)}[mode]
    variance = scale / n
    seed, stream = args["seed"], args["stream"]
    fmt = target.format
    if distribution == "uniform":
        limit = math.sqrt(3.0 * variance)  # inf when 3 * variance overflows
        if not limit <= dtype_max(fmt):
            raise ValueError(_bound_error(scale, n, variance, "the uniform bound sqrt(3 * scale / n)", limit, fmt,
                                          dtype_max(fmt) * dtype_max(fmt) / 3))
        return cast(Out, fill_uniform(target, -limit, limit, seed, stream, offset, global_shape, global_offset))
    if distribution in ("normal", "untruncated_normal"):
        std = math.sqrt(variance)
        if not normal_fits(fmt, 0.0, std):
            largest = normal_limit(fmt) / (normal_z_max(fmt) * (1 + 2.0**-20))
            raise ValueError(f"{_variance(scale, n, variance)}: the normal std sqrt(scale / n) = {std:.6g} "
                             f"would give samples up to {normal_z_max(fmt):.4f} * std = "
                             f"{normal_z_max(fmt) * std:.6g}, beyond the {fmt} range (largest finite value "
                             f"{dtype_max(fmt):.8g}); {_scale_bound(largest * largest, n, fmt)}")
        return cast(Out, fill_normal(target, 0.0, std, seed, stream, offset, global_shape, global_offset))
    std = math.sqrt(variance) / TRUNCATED_STD
    if not std > 0:
        raise ValueError(f"{_variance(scale, n, variance)}: the variance underflows to 0 in float64, so the "
                         "truncated normal has no standard deviation; scale / n must be at least 5e-324 "
                         "(use a larger scale, or the uniform or normal distribution, which fill zeros)")
    if not 2.0 * std <= dtype_max(fmt):
        largest = dtype_max(fmt) / 2 * TRUNCATED_STD
        raise ValueError(_bound_error(scale, n, variance, f"the truncated normal's bound 2 * sqrt(scale / n) / "
                                      f"{TRUNCATED_STD}", 2.0 * std, fmt, largest * largest))
    return cast(Out, fill_truncated_normal(target, 0.0, std, -2.0 * std, 2.0 * std, seed, stream, offset,
                                           global_shape, global_offset))


def _bound_error(scale: float, n: float, variance: float, what: str, bound: float, fmt: str,
                 largest_variance: float) -> str:
    """The message for a computed bound outside ``fmt``'s range, with the largest variance that fits."""
    value = f"{bound:.6g}" if math.isfinite(bound) else "inf (overflows float64)"
    return (f"{_variance(scale, n, variance)}: {what} = {value} is outside the {fmt} range (largest finite value "
            f"{dtype_max(fmt):.8g}); {_scale_bound(largest_variance, n, fmt)}")


def _variance(scale: float, n: float, variance: float) -> str:
    """The start of a message about the variance ``scale / n`` (the only numbers the core sees)."""
    return (f"variance scale / n = {scale!r} / {n!r} = {variance!r} (scale is gain**2 for glorot_*, "
            f"calculate_gain(nonlinearity, a)**2 for kaiming_*)")


def _scale_bound(largest: float, n: float, fmt: str) -> str:
    """What to do: the largest variance (and scale, for this ``n``) that fits ``fmt``."""
    largest = min(largest, dtype_max("float64") / 3) * (1 - 1e-6)
    text = f"scale / n must be at most about {largest:.4g} for a {fmt} output"
    if math.isfinite(largest * n):
        text += f" (scale at most {largest * n:.4g} for n = {n!r})"
    return text
