"""Weight initializers: variance scaling and its Glorot, He/Kaiming and LeCun forms.

Every in-place initializer (trailing underscore) fills a writable buffer and
returns it; the allocating twin (no underscore) takes a shape and a dtype and
returns a new NumPy array, filled in parallel (so first touch is parallel).
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import warnings
from typing import Callable, Optional, Sequence

import numpy as np

from ._blocks import Shape, fan_shape, resolve_position
from ._buffers import allocate, as_output
from ._fans import compute_fans, calculate_gain
from ._sampling import fill_normal, fill_truncated_normal, fill_uniform, normal_, trunc_normal_, uniform_
from ._seeding import Seed, Stream

__all__ = [
    "variance_scaling_", "glorot_uniform_", "glorot_normal_", "xavier_uniform_", "xavier_normal_",
    "kaiming_uniform_", "kaiming_normal_", "he_uniform_", "he_normal_", "lecun_uniform_", "lecun_normal_",
    "variance_scaling", "glorot_uniform", "glorot_normal", "xavier_uniform", "xavier_normal",
    "kaiming_uniform", "kaiming_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal",
    "trunc_normal", "uniform", "normal", "MODES", "DISTRIBUTIONS",
]

MODES = ("fan_in", "fan_out", "fan_avg")
DISTRIBUTIONS = ("truncated_normal", "normal", "untruncated_normal", "uniform")

TRUNCATED_STD = 0.87962566103423978
"""Standard deviation of N(0, 1) truncated to [-2, 2]: dividing by it keeps the
variance of the truncated draw at the target (as JAX and Keras do)."""


def _positive(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be positive and finite, got {value}")
    return float(value)


def _fan_override(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return int(value)


def _fans(shape: Sequence[int], layout: str, fan_in: Optional[int], fan_out: Optional[int]):
    if fan_in is not None and fan_out is not None:
        return _fan_override("fan_in", fan_in), _fan_override("fan_out", fan_out)
    computed_in, computed_out = compute_fans(shape, layout)
    return (computed_in if fan_in is None else _fan_override("fan_in", fan_in),
            computed_out if fan_out is None else _fan_override("fan_out", fan_out))


def variance_scaling_(out, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal", *,
                      seed: Seed = None, stream: Stream = 0, layout: str = "torch",
                      fan_in: Optional[int] = None, fan_out: Optional[int] = None, offset: int = 0,
                      global_shape: Optional[Shape] = None, global_offset: Optional[Shape] = None):
    """Fill ``out`` with samples whose variance is ``scale / n`` (JAX's ``variance_scaling``).

    Parameters
    ----------
    out : writable buffer of float32, float64, float16 or bfloat16
        NumPy array, ``np.memmap``, torch CPU tensor, or any object exporting
        ``__dlpack__``, ``__array_interface__`` or the buffer protocol.
    scale : float, default 1.0
        Positive variance scale (``gain**2`` in torch terms).
    mode : {"fan_in", "fan_out", "fan_avg"}
        ``n`` is ``fan_in``, ``fan_out`` or ``(fan_in + fan_out) / 2``.
    distribution : {"truncated_normal", "normal", "untruncated_normal", "uniform"}
        ``"uniform"``: U(-L, L) with ``L = sqrt(3 scale / n)``.
        ``"normal"`` (Keras: ``"untruncated_normal"``): N(0, scale / n).
        ``"truncated_normal"``: N(0, s**2) truncated to ``[-2 s, 2 s]`` with
        ``s = sqrt(scale / n) / 0.87962566103423978``, so the variance of the
        result is ``scale / n``.
    seed : int or None, default None
        Philox key in ``[0, 2**64)``; ``None`` draws one from OS entropy.
    stream : int or str, default 0
        Stream id, or a name such as ``"encoder.layers.3.attn.q_proj.weight"``
        (see :func:`stream_id`), which makes a model's initialization
        independent of module creation order.
    layout : {"torch", "jax", "keras"}
        How fans are read off the shape (see :func:`compute_fans`).
    fan_in, fan_out : int, optional
        Override the computed fans.
    offset : int, default 0
        Global index of ``out``'s first element within the whole weight.
    global_shape, global_offset : sequence of int, optional
        ``out`` is the block at ``global_offset`` of a weight of
        ``global_shape`` (see :func:`uniform_`): it receives exactly that
        block of the whole weight's values, and fans are computed from
        ``global_shape`` (a column shard of a Linear weight gets the whole
        weight's bound).

    Returns
    -------
    The ``out`` object itself.  A zero-element ``out`` is returned unchanged
    with a warning.
    """
    target = as_output(out)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {DISTRIBUTIONS}, got {distribution!r}")
    scale = _positive("scale", scale)
    resolve_position(target.array.shape, offset, global_shape, global_offset)  # errors before the no-op
    if target.array.size == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return target.result
    fans_in, fans_out = _fans(fan_shape(target.array.shape, global_shape), layout, fan_in, fan_out)
    n = {"fan_in": fans_in, "fan_out": fans_out, "fan_avg": (fans_in + fans_out) / 2}[mode]
    variance = scale / n
    if distribution == "uniform":
        limit = math.sqrt(3.0 * variance)
        return fill_uniform(target, -limit, limit, seed, stream, offset, global_shape, global_offset)
    if distribution in ("normal", "untruncated_normal"):
        return fill_normal(target, 0.0, math.sqrt(variance), seed, stream, offset, global_shape, global_offset)
    std = math.sqrt(variance) / TRUNCATED_STD
    return fill_truncated_normal(target, 0.0, std, -2.0 * std, 2.0 * std, seed, stream, offset, global_shape,
                                 global_offset)


def glorot_uniform_(out, *, gain: float = 1.0, seed: Seed = None, stream: Stream = 0, layout: str = "torch",
                    fan_in: Optional[int] = None, fan_out: Optional[int] = None, offset: int = 0,
                    global_shape: Optional[Shape] = None, global_offset: Optional[Shape] = None):
    """Glorot/Xavier uniform: U(-b, b), ``b = gain * sqrt(6 / (fan_in + fan_out))``.

    torch's ``xavier_uniform_``; JAX/Keras ``glorot_uniform`` with ``gain=1``.
    ``variance_scaling_(out, gain**2, "fan_avg", "uniform")``.  The variance
    is ``b**2 / 3 = gain**2 * 2 / (fan_in + fan_out)``, the same as
    :func:`glorot_normal_`'s.  Other parameters as for :func:`variance_scaling_`.
    """
    return variance_scaling_(out, _positive("gain", gain) ** 2, "fan_avg", "uniform", seed=seed, stream=stream,
                             layout=layout, fan_in=fan_in, fan_out=fan_out, offset=offset,
                             global_shape=global_shape, global_offset=global_offset)


def glorot_normal_(out, *, gain: float = 1.0, truncated: bool = False, seed: Seed = None, stream: Stream = 0,
                   layout: str = "torch", fan_in: Optional[int] = None, fan_out: Optional[int] = None,
                   offset: int = 0,
                   global_shape: Optional[Shape] = None, global_offset: Optional[Shape] = None):
    """Glorot/Xavier normal: N(0, s**2), ``s = gain * sqrt(2 / (fan_in + fan_out))``.

    ``truncated=False`` is torch's ``xavier_normal_``; ``truncated=True`` is
    JAX/Keras ``glorot_normal``: a normal truncated at +-2 of its own standard
    deviation ``s / 0.87962566103423978``, so the variance stays ``s**2``.
    ``variance_scaling_(out, gain**2, "fan_avg", "normal" or "truncated_normal")``.
    """
    return variance_scaling_(out, _positive("gain", gain) ** 2, "fan_avg",
                             "truncated_normal" if truncated else "normal", seed=seed, stream=stream,
                             layout=layout, fan_in=fan_in, fan_out=fan_out, offset=offset,
                             global_shape=global_shape, global_offset=global_offset)


xavier_uniform_ = glorot_uniform_
xavier_normal_ = glorot_normal_


def kaiming_uniform_(out, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", *,
                     seed: Seed = None, stream: Stream = 0, layout: str = "torch",
                     fan_in: Optional[int] = None, fan_out: Optional[int] = None, offset: int = 0,
                     global_shape: Optional[Shape] = None, global_offset: Optional[Shape] = None):
    """He/Kaiming uniform as torch: U(-b, b), ``b = gain * sqrt(3 / fan)``.

    ``gain = calculate_gain(nonlinearity, a)`` and ``fan`` is chosen by
    ``mode``: ``variance_scaling_(out, gain**2, mode, "uniform")``.
    """
    gain = calculate_gain(nonlinearity, a)
    return variance_scaling_(out, gain**2, mode, "uniform", seed=seed, stream=stream, layout=layout,
                             fan_in=fan_in, fan_out=fan_out, offset=offset,
                             global_shape=global_shape, global_offset=global_offset)


def kaiming_normal_(out, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", *,
                    seed: Seed = None, stream: Stream = 0, layout: str = "torch",
                    fan_in: Optional[int] = None, fan_out: Optional[int] = None, offset: int = 0,
                    global_shape: Optional[Shape] = None, global_offset: Optional[Shape] = None):
    """He/Kaiming normal as torch: N(0, s**2), ``s = gain / sqrt(fan)``.

    ``variance_scaling_(out, gain**2, mode, "normal")`` with
    ``gain = calculate_gain(nonlinearity, a)``.
    """
    gain = calculate_gain(nonlinearity, a)
    return variance_scaling_(out, gain**2, mode, "normal", seed=seed, stream=stream, layout=layout,
                             fan_in=fan_in, fan_out=fan_out, offset=offset,
                             global_shape=global_shape, global_offset=global_offset)


def he_uniform_(out, *, seed: Seed = None, stream: Stream = 0, layout: str = "torch",
                fan_in: Optional[int] = None, fan_out: Optional[int] = None, offset: int = 0,
                global_shape: Optional[Shape] = None, global_offset: Optional[Shape] = None):
    """JAX/Keras ``he_uniform``: ``variance_scaling_(out, 2.0, "fan_in", "uniform")``."""
    return variance_scaling_(out, 2.0, "fan_in", "uniform", seed=seed, stream=stream, layout=layout,
                             fan_in=fan_in, fan_out=fan_out, offset=offset,
                             global_shape=global_shape, global_offset=global_offset)


def he_normal_(out, *, seed: Seed = None, stream: Stream = 0, layout: str = "torch",
               fan_in: Optional[int] = None, fan_out: Optional[int] = None, offset: int = 0,
               global_shape: Optional[Shape] = None, global_offset: Optional[Shape] = None):
    """JAX/Keras ``he_normal``: ``variance_scaling_(out, 2.0, "fan_in", "truncated_normal")``."""
    return variance_scaling_(out, 2.0, "fan_in", "truncated_normal", seed=seed, stream=stream, layout=layout,
                             fan_in=fan_in, fan_out=fan_out, offset=offset,
                             global_shape=global_shape, global_offset=global_offset)


def lecun_uniform_(out, *, seed: Seed = None, stream: Stream = 0, layout: str = "torch",
                   fan_in: Optional[int] = None, fan_out: Optional[int] = None, offset: int = 0,
                   global_shape: Optional[Shape] = None, global_offset: Optional[Shape] = None):
    """LeCun uniform (JAX/Keras): ``variance_scaling_(out, 1.0, "fan_in", "uniform")``."""
    return variance_scaling_(out, 1.0, "fan_in", "uniform", seed=seed, stream=stream, layout=layout,
                             fan_in=fan_in, fan_out=fan_out, offset=offset,
                             global_shape=global_shape, global_offset=global_offset)


def lecun_normal_(out, *, seed: Seed = None, stream: Stream = 0, layout: str = "torch",
                  fan_in: Optional[int] = None, fan_out: Optional[int] = None, offset: int = 0,
                  global_shape: Optional[Shape] = None, global_offset: Optional[Shape] = None):
    """LeCun normal (JAX/Keras): ``variance_scaling_(out, 1.0, "fan_in", "truncated_normal")``."""
    return variance_scaling_(out, 1.0, "fan_in", "truncated_normal", seed=seed, stream=stream, layout=layout,
                             fan_in=fan_in, fan_out=fan_out, offset=offset,
                             global_shape=global_shape, global_offset=global_offset)


def allocating(fill: Callable) -> Callable:
    """The allocating twin of an in-place initializer: ``f(shape, *args, dtype=np.float32, **kwargs)``."""

    @functools.wraps(fill)
    def allocate_and_fill(shape, *args, dtype=np.float32, **kwargs):
        return fill(allocate(shape, dtype), *args, **kwargs)

    name = fill.__name__.rstrip("_")
    allocate_and_fill.__name__ = allocate_and_fill.__qualname__ = name
    parameters = list(inspect.signature(fill).parameters.values())
    shape = inspect.Parameter("shape", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation="Sequence[int]")
    dtype = inspect.Parameter("dtype", inspect.Parameter.KEYWORD_ONLY, default=np.float32)
    keyword_at = next((i for i, p in enumerate(parameters) if p.kind is p.KEYWORD_ONLY), len(parameters))
    parameters = [shape] + parameters[1:keyword_at] + [dtype] + parameters[keyword_at:]
    allocate_and_fill.__signature__ = inspect.Signature(parameters, return_annotation=np.ndarray)
    allocate_and_fill.__doc__ = (
        f"Return a new array of ``shape`` and ``dtype`` (float32, float64, float16 or bfloat16)\n"
        f"filled by :func:`{fill.__name__}`; the parallel fill also first-touches its pages.\n\n"
        f"{fill.__name__}: {fill.__doc__}"
    )
    del allocate_and_fill.__wrapped__  # so help() shows the signature above
    return allocate_and_fill


variance_scaling = allocating(variance_scaling_)
glorot_uniform = xavier_uniform = allocating(glorot_uniform_)
glorot_normal = xavier_normal = allocating(glorot_normal_)
kaiming_uniform = allocating(kaiming_uniform_)
kaiming_normal = allocating(kaiming_normal_)
he_uniform = allocating(he_uniform_)
he_normal = allocating(he_normal_)
lecun_uniform = allocating(lecun_uniform_)
lecun_normal = allocating(lecun_normal_)
trunc_normal = allocating(trunc_normal_)
uniform = allocating(uniform_)
normal = allocating(normal_)
