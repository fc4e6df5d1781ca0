"""The variance-scaling core behind every initializer.

The public initializers (``glorot_uniform_``, ``kaiming_normal_``, ...) are
generated from the registry rows in ``_api/registry.py`` into ``_api/generated.py``:
each checks its arguments (``_api.arguments``), computes its variance scale, fan
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

from .arguments import positive
from .._format.position import Shape, fan_shape, resolve_position
from .buffers import as_output
from .fans import compute_fans
from .._format.params import variance_draw, warn_if_all_zero
from .sampling import Where, fill

__all__ = ["variance_scaling_core"]

Out = TypeVar("Out")


def _fans(shape: Sequence[int], layout: str, fan_in: Optional[int], fan_out: Optional[int]) -> Tuple[int, int]:
    if fan_in is not None and fan_out is not None:
        return fan_in, fan_out
    computed_in, computed_out = compute_fans(shape, layout)  # type: ignore[arg-type]
    return (computed_in if fan_in is None else fan_in, computed_out if fan_out is None else fan_out)


def variance_scaling_core(out: Out, scale: float, mode: str, distribution: str, args: Mapping[str, Any],
                          offset: int, global_shape: Optional[Shape], global_offset: Optional[Shape]) -> Out:
    """Fill ``out`` with variance ``scale / n`` (README "Initializers").

    ``args`` holds the checked ``seed``, ``stream``, ``layout``, ``fan_in``,
    ``fan_out`` and ``stream_format`` (``_api.arguments.checked``); ``mode`` and ``distribution``
    are checked already.  Every check runs before the zero-element no-op;
    the seed, stream and position are resolved once.
    """
    target = as_output(out)
    scale = positive("scale", scale)  # also catches a computed scale that overflowed to inf
    runs = resolve_position(target.array.shape, offset, global_shape, global_offset)  # errors before the no-op
    if target.array.size == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return target.result  # type: ignore[no-any-return]
    fans_in, fans_out = _fans(fan_shape(target.array.shape, global_shape), args["layout"], args["fan_in"],
                              args["fan_out"])
    n = {"fan_in": fans_in, "fan_out": fans_out, "fan_avg": (fans_in + fans_out) / 2,
         "fan_geo_avg": math.sqrt(fans_in * fans_out)}[mode]
    draw = variance_draw(scale, n, distribution, target.format)
    warn_if_all_zero(draw.distribution, draw.params, target.format,
                     f"variance scale / n = {scale!r} / {n!r} (fans {fans_in!r} in, {fans_out!r} out)")
    return cast(Out, fill(target, draw.distribution, draw.params, Where(args["seed"], args["stream"], runs,
                                                                          args["stream_format"])))
