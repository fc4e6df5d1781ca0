"""Fan computation and nonlinearity gains (pure Python, torch-compatible)."""

from __future__ import annotations

import math
import numbers
import operator
from typing import Optional, Sequence, Tuple

from .arguments import LAYOUTS, Layout, Nonlinearity, choice
from .arguments import nonlinearity as check_nonlinearity
from .._validate import describe

__all__ = ["compute_fans", "calculate_gain", "LAYOUTS"]

_LINEAR = frozenset([
    "linear", "conv1d", "conv2d", "conv3d",
    "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid",
])


def compute_fans(shape: Sequence[int], layout: Layout = "torch") -> Tuple[int, int]:
    """Return ``(fan_in, fan_out)`` of a weight of the given shape.

    Parameters
    ----------
    shape : sequence of int
        The weight's shape (tuple, list, ``torch.Size``, integer array...);
        at least 2 non-negative integer dimensions.
    layout : {"torch", "jax", "keras"}
        ``"torch"``: ``(out, in, *kernel)`` as in ``torch.nn.Conv2d`` and
        ``torch.nn.Linear``: ``fan_in = shape[1] * prod(shape[2:])``,
        ``fan_out = shape[0] * prod(shape[2:])``.
        ``"jax"`` / ``"keras"``: ``(*kernel, in, out)`` as in Flax and Keras:
        ``fan_in = shape[-2] * prod(shape[:-2])``,
        ``fan_out = shape[-1] * prod(shape[:-2])``.

    Returns
    -------
    tuple of int

    Raises
    ------
    TypeError
        For a dimension that is not an integer (e.g. ``3.0``).
    ValueError
        For fewer than 2 dimensions, a negative dimension or an unknown layout.
    """
    layout = choice("layout", layout, LAYOUTS)  # type: ignore[assignment]
    dims = tuple(operator.index(s) for s in shape)
    if len(dims) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    if any(d < 0 for d in dims):
        raise ValueError(f"shape dimensions must be non-negative, got {dims}")
    if layout == "torch":
        receptive = math.prod(dims[2:])
        return dims[1] * receptive, dims[0] * receptive
    receptive = math.prod(dims[:-2])
    return dims[-2] * receptive, dims[-1] * receptive


def calculate_gain(nonlinearity: Nonlinearity, param: Optional[float] = None) -> float:
    """Recommended gain for a nonlinearity (``torch.nn.init.calculate_gain``'s table).

    ==================  =========================================
    nonlinearity        gain
    ==================  =========================================
    linear, conv*,      1
    conv_transpose*,
    sigmoid
    tanh                5/3
    relu                sqrt(2)
    leaky_relu          sqrt(2 / (1 + negative_slope**2)),
                        ``param`` = negative_slope, default 0.01
    selu                3/4
    ==================  =========================================

    Raises
    ------
    ValueError
        For an unknown nonlinearity (non-strings included), or a leaky_relu
        slope that is not a real number (bools included) or whose square
        overflows float64 (``|param| >= 1.34e154``, where torch raises
        ``OverflowError``).  Non-finite slopes are torch's: ``inf`` gives 0.0,
        ``nan`` gives nan.
    """
    nonlinearity = check_nonlinearity(nonlinearity)  # type: ignore[assignment]
    if nonlinearity in _LINEAR:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, numbers.Real) and not isinstance(param, bool):
            try:
                slope = float(param)
            except OverflowError:
                raise ValueError(f"negative_slope {describe(param)} is too large for a float") from None
        else:
            raise ValueError(f"negative_slope {param!r} not a valid number")
        try:
            square = slope**2
        except OverflowError:  # torch's calculate_gain lets this OverflowError through
            raise ValueError(f"negative_slope {slope!r} is too large: negative_slope**2 overflows float64; "
                             "|negative_slope| (kaiming's a) must be below 1.34e154") from None
        return math.sqrt(2.0 / (1 + square))
    return 3.0 / 4  # selu
