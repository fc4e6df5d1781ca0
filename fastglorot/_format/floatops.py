"""The float operations the stream format is written against, and how an engine binds them.

The element functions of ``_format.stream_v1`` call every rounding operation by
name (``add``, ``sub``, ``mul``, ``div``, ``sqrt``), every choice by
``select`` (no ternaries: NumPy arrays have none) and every bit cast by
``f32_bits``, ``f32_from_bits``, ``f64_bits`` or ``f64_from_bits``, and a Philox word's width
by ``word``; integer casts are NumPy's
scalar types (``np.uint32(x)``), which NumPy applies element-wise and numba
compiles as casts.  This module holds the plain-Python versions, which run
on NumPy scalars and whole NumPy arrays alike (one IEEE round-to-nearest
rounding per operation, as NumPy does), and :func:`bind`, which makes an
engine's own copies of the element functions with the operations swapped
for that engine's versions.  Nothing here imports numba.

The numba CPU engine binds plain operators (``_engines.numba_elements``), the CUDA
engine libdevice's ``_rn`` calls (``_cuda_elements``), the NumPy path these.
"""

from __future__ import annotations

import operator
import types
from typing import Any, Callable, Dict, Iterable, Mapping, Optional

import numpy as np

__all__ = ["add", "sub", "mul", "div", "sqrt", "select", "f32_bits", "f32_from_bits", "f64_bits", "f64_from_bits",
           "word",
           "OPERATIONS", "bind", "with_globals"]

add = operator.add
sub = operator.sub
mul = operator.mul
div = operator.truediv
sqrt = np.sqrt


word = np.uint32
"""An integer known to fit 32 bits, as the engine holds Philox words (NumPy: uint32)."""


def _scalar(value: Any) -> Any:
    """A 0-d array as its scalar (NumPy's ``where`` and ``view`` give 0-d arrays for scalars)."""
    return value[()] if isinstance(value, np.ndarray) and value.ndim == 0 else value


def select(condition: Any, if_true: Any, if_false: Any) -> Any:
    """``if_true`` where ``condition`` holds, else ``if_false`` (element-wise; both are evaluated)."""
    return _scalar(np.where(condition, if_true, if_false))


def f32_bits(x: Any) -> Any:
    """The bits of float32 ``x`` as uint32."""
    return _scalar(np.asarray(x, dtype=np.float32).view(np.uint32))


def f32_from_bits(bits: Any) -> Any:
    """The float32 whose bits are int32 ``bits``."""
    return _scalar(np.asarray(bits, dtype=np.int32).view(np.float32))


def f64_bits(x: Any) -> Any:
    """The bits of float64 ``x`` as int64."""
    return _scalar(np.asarray(x, dtype=np.float64).view(np.int64))


def f64_from_bits(bits: Any) -> Any:
    """The float64 whose bits are int64 ``bits``."""
    return _scalar(np.asarray(bits, dtype=np.int64).view(np.float64))


OPERATIONS = ("add", "sub", "mul", "div", "sqrt", "select", "f32_bits", "f32_from_bits", "f64_bits", "f64_from_bits",
              "word")
"""The names an engine binds (:func:`bind`)."""


def bind(module: types.ModuleType, names: Iterable[str], operations: Mapping[str, Any],
         wrap: Callable[[types.FunctionType], Any], shared: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """An engine's copies of the element functions ``names`` of ``module``.

    Each copy runs the function's own code with globals in which the
    operations are ``operations`` (a mapping of every name of
    :data:`OPERATIONS`) and the other element functions are their copies;
    ``wrap`` turns a copy into the engine's callable (``numba.njit(inline=
    "always")``, a CUDA device function).  ``shared`` are copies made
    before (of another module's functions, which ``module`` imports and
    calls): the copies here call those.  Returns name -> wrapped copy.
    """
    missing = set(OPERATIONS) - set(operations)
    if missing:
        raise ValueError(f"operations missing: {sorted(missing)}")
    namespace: Dict[str, Any] = dict(vars(module))
    namespace.update(operations)
    namespace.update(shared or {})
    copies = {name: wrap(with_globals(getattr(module, name), namespace)) for name in names}
    namespace.update(copies)  # each copy calls the others' copies
    return copies


def with_globals(function: Callable[..., Any], namespace: Dict[str, Any], name: str = "") -> types.FunctionType:
    """A copy of ``function`` that runs its own code with ``namespace`` as its globals.

    ``name`` (default: the function's) is also the copy's qualified name:
    numba names a cached function's files after it, so copies that are
    kernels need names of their own.
    """
    code: Any = getattr(function, "__code__")
    copy = types.FunctionType(code, namespace, name or function.__name__, getattr(function, "__defaults__", None),
                              getattr(function, "__closure__", None))
    copy.__qualname__ = name or function.__qualname__
    copy.__doc__ = function.__doc__
    copy.__module__ = function.__module__
    return copy
