"""The argument policy of every public function, declared once.

Each argument name that appears in the public API has one rule in
:data:`RULES`: what it accepts, what it is converted to, and the error it
raises otherwise.  Public functions pass their arguments through
:func:`checked` *before* looking at the output's size, so a zero-element
output rejects a bad ``seed`` or ``layout`` exactly like a large one, and a
rejected call never writes.  (NumPy's ``cont(..., "scale", CONS_NON_NEGATIVE)``
declarations in ``numpy.random`` are the model.)

The policy, as README "Buffers, dtypes and arguments" states it:

* ``seed``: keyword, an integer in ``[0, 2**64)`` or ``None`` (the default):
  ``None`` draws 64 bits from OS entropy once per call (a
  :class:`~fastglorot.Generator` records its seed so such runs can be
  replayed).
* ``stream``: an integer in ``[0, 2**64)`` or a str name (hashed by
  :func:`~fastglorot.stream_id`); default 0.
* ``offset``: an integer ``>= 0``; ``global_shape``/``global_offset``: see
  README "Sharding and blocks".
* ``layout``, ``mode``, ``distribution``, ``nonlinearity``: one of the
  listed strings, checked even where the value ends up unused (explicit
  fans, empty outputs).
* ``gain``, ``scale``: positive finite reals; ``gain`` also with a
  variance scale ``gain**2`` that neither overflows nor underflows to 0 in
  float64 (about ``1.6e-162 < gain < 1.3e154``); ``a`` (leaky ReLU slope): a
  finite real; ``fan_in``, ``fan_out``: ``None`` or an integer in
  ``[1, 2**63 - 1]`` (:data:`FAN_LIMIT`).
* ``stream_format``: 1, 2 or ``None`` (the current format,
  :func:`~fastglorot.stream_format`), resolved when the call is made.
* A real too large for a float (``10**400``, a huge ``Fraction``) is a
  ``ValueError`` ("must be finite"), never an ``OverflowError``.

Wrong kinds of objects raise ``TypeError``, wrong values ``ValueError``;
``a`` and ``nonlinearity`` raise ``ValueError`` for both, as
``torch.nn.init`` does for them.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Dict, Literal, Mapping, Optional, Tuple, get_args

import numpy as np

from .._format.seeding import resolve_seed, resolve_stream
from .._validate import as_float, describe
from .stream_format import resolve_stream_format

__all__ = [
    "Layout", "Mode", "Distribution", "Nonlinearity", "LAYOUTS", "MODES", "DISTRIBUTIONS", "NONLINEARITIES",
    "RULES", "FAN_LIMIT", "checked", "choice", "nonlinearity", "positive", "slope", "fan", "gain",
]

FAN_LIMIT = 2**63 - 1
"""The largest ``fan_in``/``fan_out`` override (the largest int64)."""

Layout = Literal["torch", "jax", "keras"]
Mode = Literal["fan_in", "fan_out", "fan_avg", "fan_geo_avg"]
Distribution = Literal["truncated_normal", "normal", "untruncated_normal", "uniform"]
Nonlinearity = Literal["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                       "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]

LAYOUTS: Tuple[str, ...] = get_args(Layout)
MODES: Tuple[str, ...] = get_args(Mode)
DISTRIBUTIONS: Tuple[str, ...] = get_args(Distribution)
NONLINEARITIES: Tuple[str, ...] = get_args(Nonlinearity)


def choice(name: str, value: object, choices: Tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``; the error lists them all."""
    if isinstance(value, str) and value in choices:
        return value
    listed = ", ".join(repr(c) for c in choices)
    raise ValueError(f"{name} must be one of {listed}; got {value!r}")


def nonlinearity(value: object) -> str:
    """A nonlinearity of :func:`~fastglorot.calculate_gain`; torch's message, plus the valid names."""
    if isinstance(value, str) and value in NONLINEARITIES:
        return value
    valid = ", ".join(repr(n) for n in NONLINEARITIES)
    raise ValueError(f"Unsupported nonlinearity {value!r}; valid: {valid}")


def _real_number(name: str, value: object) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    return as_float(name, value)


def slope(name: str, value: object) -> float:
    """A finite real; anything else is a ``ValueError``, as ``torch.nn.init.calculate_gain`` raises."""
    try:
        return _real_number(name, value)
    except TypeError:
        raise ValueError(f"negative_slope {value!r} not a valid number ({name} must be a finite real)") from None


def positive(name: str, value: object) -> float:
    """A finite real number > 0."""
    number = _real_number(name, value)
    if not number > 0:
        raise ValueError(f"{name} must be positive, got {number}")
    return number


def fan(name: str, value: object) -> Optional[int]:
    """``None`` or a positive integer (a fan override)."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer or None, got {type(value).__name__}")
    number = int(value)
    if number <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    if number > FAN_LIMIT:
        raise ValueError(f"{name} must be at most 2**63 - 1, got {describe(value)}")
    return number


def gain(value: object) -> float:
    """A positive finite real whose square (the variance scale ``gain ** 2``) is positive and finite."""
    number = positive("gain", value)
    try:
        square = number**2
    except OverflowError:  # float ** raises where float * would give inf
        square = math.inf
    if square == math.inf:
        raise ValueError(f"gain={number!r} is too large: the variance scale gain**2 overflows float64; gain must "
                         "be below 1.34e154")
    if square == 0:
        raise ValueError(f"gain={number!r} is too small: the variance scale gain**2 underflows to 0 in float64; "
                         "gain must be at least 2.3e-162")
    return number


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


RULES: Mapping[str, Callable[[Any], Any]] = {
    "seed": resolve_seed,
    "stream": resolve_stream,
    "layout": lambda v: choice("layout", v, LAYOUTS),
    "mode": lambda v: choice("mode", v, MODES),
    "distribution": lambda v: choice("distribution", v, DISTRIBUTIONS),
    "nonlinearity": nonlinearity,
    "gain": gain,
    "scale": lambda v: positive("scale", v),
    "a": lambda v: slope("a", v),
    "fan_in": lambda v: fan("fan_in", v),
    "fan_out": lambda v: fan("fan_out", v),
    "truncated": lambda v: _flag("truncated", v),
    "stream_format": resolve_stream_format,
}
"""Argument name -> checker returning the converted value (or raising)."""


def checked(**arguments: Any) -> Dict[str, Any]:
    """Every argument converted by its rule in :data:`RULES`, in the order given.

    Raises
    ------
    TypeError, ValueError
        From the first argument that breaks its rule.
    """
    return {name: RULES[name](value) for name, value in arguments.items()}
