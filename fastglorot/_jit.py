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

import os
import sys
import threading

from typing import (TYPE_CHECKING, Any, Callable, Literal, Optional, Set, Tuple, TypedDict, TypeVar, Union, cast,
                    overload)

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

if TYPE_CHECKING:
    from numba.core.base import BaseContext
    from numba.core.dispatcher import Dispatcher
    from numba.core.typing.context import BaseContext as TypingContext
    from numba.core.typing.templates import Signature

__all__ = ["njit_cached", "kernel", "inline", "intrinsic_as", "ieee_sqrt", "float_bits", "float32_from_bits",
           "float64_from_bits", "announce_compile", "cached_on_disk", "cache_directory"]

F = TypeVar("F", bound=Callable[..., Any])
_FloatT = TypeVar("_FloatT", bound=Union[float, np.floating[Any]])

Codegen = Callable[["BaseContext", ir.IRBuilder, "Signature", Tuple[ir.Value, ...]], ir.Value]
"""Lowering of an intrinsic: LLVM IR for the call, from the lowered arguments."""

IntrinsicTyping = Optional[Tuple["Signature", Codegen]]
"""What an intrinsic's typing function returns: the signature and its lowering,
or ``None`` for argument types it does not accept."""


class _KernelOptions(TypedDict):
    nogil: bool
    error_model: Literal["numpy"]


_KERNEL_OPTIONS: _KernelOptions = {"nogil": True, "error_model": "numpy"}


def njit_cached(**options: Any) -> Callable[[F], Dispatcher[F]]:
    """``numba.njit(cache=True, **options)``, or without the cache where numba cannot write one.

    numba raises ``RuntimeError("cannot cache function ...")`` at decoration
    when no locator can write; a read-only install must still work, so such
    functions compile in memory instead.
    """

    def decorate(py_func: F) -> Dispatcher[F]:
        try:
            return cast("Dispatcher[F]", numba.njit(cache=True, **options)(py_func))
        except RuntimeError:
            return cast("Dispatcher[F]", numba.njit(cache=False, **options)(py_func))

    return decorate


def kernel(py_func: F) -> Dispatcher[F]:
    """Decorate a kernel called from Python: lazy, GIL-free, disk-cached.

    ``error_model="numpy"`` keeps division branch-free (no ZeroDivisionError
    checks), which loop vectorization needs.
    """
    return njit_cached(**_KERNEL_OPTIONS)(py_func)


def inline(py_func: F) -> F:
    """Decorate a helper that is inlined into kernels at numba-IR level.

    Typed as returning ``py_func`` itself: helpers are only called from
    jitted code, with ``py_func``'s signature.
    """
    return cast(F, numba.njit(inline="always", error_model="numpy")(py_func))


def intrinsic_as(signature: F) -> Callable[[Callable[..., IntrinsicTyping]], F]:
    """``numba.extending.intrinsic``, typed as ``signature`` for its callers.

    An intrinsic is called (from jitted code only) without the typing
    context its typing function takes first; ``signature`` is a stub that
    states the call's argument and result types.  It is never run.
    """

    def decorate(typing_function: Callable[..., IntrinsicTyping]) -> F:
        return cast(F, intrinsic(typing_function))

    return decorate


def _same_float(x: _FloatT, /) -> _FloatT:
    """Signature of :func:`ieee_sqrt`."""
    raise NotImplementedError("an intrinsic is only callable from jitted code")


@overload
def _float_bits(x: np.float32, /) -> np.int32: ...


@overload
def _float_bits(x: Union[float, np.float64], /) -> np.int64: ...


def _float_bits(x: Union[float, np.float32, np.float64], /) -> Union[np.int32, np.int64]:
    """Signature of :func:`float_bits`."""
    raise NotImplementedError("an intrinsic is only callable from jitted code")


def _float64_from_int64(x: Union[int, np.int64], /) -> np.float64:
    """Signature of :func:`float64_from_bits`."""
    raise NotImplementedError("an intrinsic is only callable from jitted code")


@intrinsic_as(_same_float)
def ieee_sqrt(typingctx: TypingContext, x: types.Type) -> IntrinsicTyping:
    """Correctly rounded square root (``llvm.sqrt``); vectorizes."""
    if not isinstance(x, types.Float):
        return None

    def codegen(context: BaseContext, builder: ir.IRBuilder, signature: Signature,
                args: Tuple[ir.Value, ...]) -> ir.Value:
        fn = builder.module.declare_intrinsic("llvm.sqrt", [args[0].type])
        return builder.call(fn, [args[0]])

    return x(x), codegen


@intrinsic_as(_float_bits)
def float_bits(typingctx: TypingContext, x: types.Type) -> IntrinsicTyping:
    """Reinterpret a float32 as int32 or a float64 as int64."""
    result: types.Integer[np.signedinteger[Any]]
    if x == types.float32:
        result, width = types.int32, 32
    elif x == types.float64:
        result, width = types.int64, 64
    else:
        return None

    def codegen(context: BaseContext, builder: ir.IRBuilder, signature: Signature,
                args: Tuple[ir.Value, ...]) -> ir.Value:
        return builder.bitcast(args[0], ir.IntType(width))

    return result(x), codegen


@intrinsic_as(_float64_from_int64)
def float64_from_bits(typingctx: TypingContext, x: types.Type) -> IntrinsicTyping:
    """Reinterpret an int64 as float64."""
    # numba sets Integer.bitwidth in __init__; its type stubs leave it out.
    if not (isinstance(x, types.Integer) and x.bitwidth == 64):  # type: ignore[attr-defined]
        return None

    def codegen(context: BaseContext, builder: ir.IRBuilder, signature: Signature,
                args: Tuple[ir.Value, ...]) -> ir.Value:
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(x), codegen


def _float32_from_int32(x: Union[int, np.int32], /) -> np.float32:
    """Signature of :func:`float32_from_bits`."""
    raise NotImplementedError("an intrinsic is only callable from jitted code")


@intrinsic_as(_float32_from_int32)
def float32_from_bits(typingctx: TypingContext, x: types.Type) -> IntrinsicTyping:
    """Reinterpret an int32 as float32."""
    # numba sets Integer.bitwidth in __init__; its type stubs leave it out.
    if not (isinstance(x, types.Integer) and x.bitwidth == 32):  # type: ignore[attr-defined]
        return None

    def codegen(context: BaseContext, builder: ir.IRBuilder, signature: Signature,
                args: Tuple[ir.Value, ...]) -> ir.Value:
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(x), codegen


def cached_on_disk(dispatcher: Any) -> bool:
    """Whether numba's disk cache has an index for ``dispatcher`` (it will load, not compile)."""
    cache_file = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
    index = getattr(cache_file, "_index_path", None)
    return isinstance(index, str) and os.path.exists(index)


def cache_directory(dispatcher: Any) -> Optional[str]:
    """The directory numba's disk cache of ``dispatcher`` lives in, or None when it compiles in memory only.

    numba picks the first location it can write, in order: ``NUMBA_CACHE_DIR``,
    ``__pycache__`` next to the source, a user-wide cache directory; with
    none writable, :func:`njit_cached` compiles without a cache.  An
    unwritable ``NUMBA_CACHE_DIR`` is passed over silently, so callers that
    promise a cache there compare it with this.
    """
    path = getattr(getattr(dispatcher, "_cache", None), "_cache_path", None)
    return path if isinstance(path, str) else None


_announce_lock = threading.Lock()
_announced: Set[int] = set()
"""``id`` of each dispatcher whose compile notice this process has printed."""


def announce_compile(dispatcher: Any, what: str) -> None:
    """One line on stderr before ``dispatcher`` compiles for the first time on this machine.

    First use of a kernel takes seconds (numba typing and LLVM); the line says
    why, once per kernel and process (also when several threads need the
    kernel at once: they wait for one compile), and only when numba's disk
    cache has no entry for it.  ``FASTGLOROT_QUIET=1`` silences it.
    """
    if dispatcher.signatures or os.environ.get("FASTGLOROT_QUIET", "") not in ("", "0"):
        return
    with _announce_lock:
        if id(dispatcher) in _announced or cached_on_disk(dispatcher):
            return
        _announced.add(id(dispatcher))  # dispatchers live as long as the process: ids are never reused
    print(f"fastglorot: compiling the {what} kernel (first use on this machine, a few seconds; cached on disk "
          "afterwards). 'fastglorot warmup' compiles all kernels ahead of time; FASTGLOROT_QUIET=1 hides this.",
          file=sys.stderr, flush=True)
