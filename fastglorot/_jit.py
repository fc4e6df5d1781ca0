"""Numba compilation policy and the few LLVM intrinsics the kernels need.

Every kernel is compiled lazily (on first call), without ``parallel=True``
and without ``fastmath``: the kernels are serial, release the GIL, and are
launched over chunks from a thread pool (see ``_launch``).  Disk caching is
requested; when no cache location is writable, numba refuses caching at
decoration time and we silently compile in memory instead.

The intrinsics exist because numba lowers ``math.sqrt`` on float32 to a libm
call (which blocks loop vectorization) and has no scalar bit casts.
"""

from __future__ import annotations

import numba
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

__all__ = ["kernel", "inline", "ieee_sqrt", "float_bits", "float64_from_bits"]

_KERNEL_OPTIONS = dict(nogil=True, error_model="numpy")


def kernel(py_func):
    """Decorate a kernel called from Python: lazy, GIL-free, disk-cached.

    ``error_model="numpy"`` keeps division branch-free (no ZeroDivisionError
    checks), which loop vectorization needs.
    """
    try:
        return numba.njit(cache=True, **_KERNEL_OPTIONS)(py_func)
    except RuntimeError:
        # numba raises RuntimeError("cannot cache function ...") when no
        # locator can write; a read-only install must still work.
        return numba.njit(cache=False, **_KERNEL_OPTIONS)(py_func)


def inline(py_func):
    """Decorate a helper that is inlined into kernels at numba-IR level."""
    return numba.njit(inline="always", error_model="numpy")(py_func)


@intrinsic
def ieee_sqrt(typingctx, x):
    """Correctly rounded square root (``llvm.sqrt``); vectorizes."""
    if not isinstance(x, types.Float):
        return None

    def codegen(context, builder, signature, args):
        fn = builder.module.declare_intrinsic("llvm.sqrt", [args[0].type])
        return builder.call(fn, [args[0]])

    return x(x), codegen


@intrinsic
def float_bits(typingctx, x):
    """Reinterpret a float32 as int32 or a float64 as int64."""
    if x == types.float32:
        result, width = types.int32, 32
    elif x == types.float64:
        result, width = types.int64, 64
    else:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(width))

    return result(x), codegen


@intrinsic
def float64_from_bits(typingctx, x):
    """Reinterpret an int64 as float64."""
    if not (isinstance(x, types.Integer) and x.bitwidth == 64):
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(x), codegen
