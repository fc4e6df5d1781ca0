"""The CUDA engine's rounding operations: libdevice's round-to-nearest calls, never contracted.

NVVM contracts ``a * b + c`` into a fused multiply-add by default (its
``-fma=1``; numba-cuda passes no ``-fma=0`` without ``fastmath`` either, and
offers no option for it), and ptxas fuses PTX ``mul``/``add`` that carry no
rounding modifier.  Either changes the bits.  So the CUDA copies of the
element functions (``_cuda_elements``) bind ``add``, ``sub``, ``mul``,
``div`` and ``sqrt`` to these, which ``@overload`` implements for the CUDA
target as libdevice ``__nv_{f,d}{add,mul,div,sqrt}_rn`` calls (a float64
subtraction is ``dadd_rn(x, -y)``: libdevice has no ``dsub_rn``; a float32
one ``fsub_rn``), lowered to PTX ``add.rn``/``mul.rn``/``div.rn``/
``sqrt.rn``: IEEE round-to-nearest, no flush to zero.

This module exists only for that gap: once numba-cuda compiles with
``cuda.jit(fma=False)`` (NVIDIA/numba-cuda #118), the CUDA engine binds the
CPU's plain operators instead and this module goes.  Imported by
``_cuda_elements`` only, outside the simulator (which runs the plain
operations on NumPy scalars: one IEEE rounding each).
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Dict, Optional

__all__ = ["ROUNDING", "add", "sub", "mul", "div", "sqrt"]

_extending: Any = importlib.import_module("numba.cuda.extending")
_overload: Callable[..., Callable[[Callable[..., Any]], Any]] = _extending.overload
_libdevice: Any = importlib.import_module("numba.cuda.libdevice")
_types: Any = importlib.import_module("numba.cuda.types")


def add(x: Any, y: Any) -> Any:
    """``x + y`` rounded to nearest (CUDA only)."""
    raise NotImplementedError("a CUDA device operation")


def sub(x: Any, y: Any) -> Any:
    """``x - y`` rounded to nearest (CUDA only)."""
    raise NotImplementedError("a CUDA device operation")


def mul(x: Any, y: Any) -> Any:
    """``x * y`` rounded to nearest (CUDA only)."""
    raise NotImplementedError("a CUDA device operation")


def div(x: Any, y: Any) -> Any:
    """``x / y`` rounded to nearest (CUDA only)."""
    raise NotImplementedError("a CUDA device operation")


def sqrt(x: Any) -> Any:
    """The correctly rounded square root (CUDA only)."""
    raise NotImplementedError("a CUDA device operation")


def _width(*operands: Any) -> Optional[int]:
    """32 or 64 when every operand is float32, or every one float64; else None (no overload)."""
    for width, kind in ((32, _types.float32), (64, _types.float64)):
        if all(operand == kind for operand in operands):
            return width
    return None


def _binary(operation: Callable[..., Any], f32: Callable[..., Any], f64: Callable[..., Any]) -> None:
    @_overload(operation, target="cuda", inline="always", strict=False)
    def implement(x: Any, y: Any) -> Optional[Callable[..., Any]]:
        width = _width(x, y)
        if width is None:
            return None
        return f32 if width == 32 else f64


_fadd, _dadd = _libdevice.fadd_rn, _libdevice.dadd_rn
_fsub, _fmul, _dmul = _libdevice.fsub_rn, _libdevice.fmul_rn, _libdevice.dmul_rn
_fdiv, _ddiv = _libdevice.fdiv_rn, _libdevice.ddiv_rn
_fsqrt, _dsqrt = _libdevice.fsqrt_rn, _libdevice.dsqrt_rn

_binary(add, lambda x, y: _fadd(x, y), lambda x, y: _dadd(x, y))
_binary(sub, lambda x, y: _fsub(x, y), lambda x, y: _dadd(x, -y))  # the same IEEE operation, signed zeros too
_binary(mul, lambda x, y: _fmul(x, y), lambda x, y: _dmul(x, y))
_binary(div, lambda x, y: _fdiv(x, y), lambda x, y: _ddiv(x, y))


@_overload(sqrt, target="cuda", inline="always", strict=False)
def _implement_sqrt(x: Any) -> Optional[Callable[..., Any]]:
    width = _width(x)
    if width is None:
        return None
    return (lambda x: _fsqrt(x)) if width == 32 else (lambda x: _dsqrt(x))


ROUNDING: Dict[str, Callable[..., Any]] = {"add": add, "sub": sub, "mul": mul, "div": div, "sqrt": sqrt}
"""The float operations (``_format.floatops.OPERATIONS``) the CUDA engine overrides."""
