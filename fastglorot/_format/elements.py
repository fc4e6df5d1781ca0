"""The element functions of every stream format, by name, and how an engine compiles them all.

The tables (``_format.tables``) name element functions; they live in
``_format.stream_v1`` and ``_format.stream_v2`` under distinct names, so one
name means one function whatever the format.  The NumPy path runs the plain
functions (:func:`plain`); the numba CPU and CUDA engines run copies with
their own float operations (:func:`bind_all`), in which v2's functions call
the copies of the v1 functions they import (``clamp``, ``horner``).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Tuple

import numpy as np

from . import stream_v1, stream_v2
from .floatops import bind

__all__ = ["names", "plain", "bind_all", "element_params"]


def names() -> Tuple[str, ...]:
    """Every element function's name (read when called: a module's ``ELEMENTS`` may grow, as a new distribution's
    tests do)."""
    return stream_v1.ELEMENTS + stream_v2.ELEMENTS

if set(stream_v1.ELEMENTS) & set(stream_v2.ELEMENTS):  # pragma: no cover - a programming error
    raise ImportError("stream_v1 and stream_v2 name an element function alike")


def plain(name: str) -> Callable[..., Any]:
    """The plain-Python element function ``name`` (NumPy scalars and arrays)."""
    module = stream_v2 if name in stream_v2.ELEMENTS else stream_v1
    function: Callable[..., Any] = getattr(module, name)
    return function


def bind_all(operations: Mapping[str, Any], wrap: Callable[[Any], Any]) -> Dict[str, Any]:
    """Every element function as an engine's copy (``_format.floatops.bind``), name -> copy."""
    v1 = bind(stream_v1, stream_v1.ELEMENTS, operations, wrap)
    return {**v1, **bind(stream_v2, stream_v2.ELEMENTS, operations, wrap, shared=v1)}


def element_params(builder: str, params: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The parameters an element's functions take (``Element.params`` names ``builder``; ``""``: ``params``)."""
    if not builder:
        return params
    if builder not in stream_v2.PARAMETER_BUILDERS:
        raise ValueError(f"unknown parameter builder {builder!r}")
    result: np.ndarray[Any, Any] = getattr(stream_v2, builder)(params)
    return result
