"""Gathering the elements of a tile that take a costly branch, 16 at a time where the CPU can.

The ``quantile`` tile converters (``_engines.kernels``) compute a cheap
central value for every element, then run the tail branch only on the
elements that need it, gathered into a contiguous run so that it vectorizes
too.  Gathering one element at a time (every element written at the next free
slot, which only a flagged one keeps: no branch to mispredict) costs about
half of stream format 2's truncated normal; AVX-512's ``vpcompressd`` packs
the flagged lanes of 16 elements in one instruction.  :func:`compress16` emits
it as LLVM's ``llvm.x86.avx512.mask.compress`` into a register followed by one
full store (the memory-destination form that ``llvm.masked.compressstore``
lowers to is microcoded on AMD Zen 4: 12.8 cycles per element instead of 4.6,
``bench/bench_truncated_v2_prototype.py``).

Both gathers write the same slots in the same order, so the values never
depend on which one a kernel was compiled with; :func:`avx512_target` picks it
from numba's JIT target (``NUMBA_CPU_NAME``/``NUMBA_CPU_FEATURES``, else the
host), whose CPU features also key numba's disk cache.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Tuple, TypeVar

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils, config

from .._format.constants import TILE_COUNTERS as _L
from .jit import inline, intrinsic_as

if TYPE_CHECKING:
    from numba.core.base import BaseContext
    from numba.core.typing.context import BaseContext as TypingContext
    from numba.core.typing.templates import Signature
    from numpy.typing import NDArray

    from .jit import IntrinsicTyping

    _Value = TypeVar("_Value", np.float32, np.uint32)
    """The gathered values' dtype: float32, or Philox words."""

__all__ = ["avx512_target", "compress16", "gather_each", "gather_compressed", "SLACK"]

SLACK = 16
"""Elements of room past the end that :func:`compress16`'s full 16-lane stores need in the gathered arrays."""


def avx512_target() -> bool:
    """Whether numba's JIT target has AVX-512F (``NUMBA_CPU_FEATURES``; unset: the host's features, or none for
    ``NUMBA_CPU_NAME=generic``)."""
    named = getattr(config, "CPU_NAME")  # numba.config sets its settings through globals()
    given = getattr(config, "CPU_FEATURES")
    features = given if given is not None else ("" if named == "generic" else llvm.get_host_cpu_features().flatten())
    return "+avx512f" in features.split(",")


def _compress16_signature(flags: Any, values: Any, start: Any, out_values: Any, out_index: Any, count: Any, /
                          ) -> np.int64:
    """Signature of :func:`compress16`."""
    raise NotImplementedError("an intrinsic is only callable from jitted code")


@intrinsic_as(_compress16_signature)
def compress16(typingctx: TypingContext, flags: types.Type, values: types.Type, start: types.Type,
               out_values: types.Type, out_index: types.Type, count: types.Type) -> IntrinsicTyping:
    """Append ``values[j]`` and ``j`` of the elements ``start <= j < start + 16`` whose int32 ``flags[j]`` is
    non-zero at ``count`` of ``out_values`` and ``out_index`` (arrays of ``values``' dtype, float32 or 32-bit
    integers, and int32, with :data:`SLACK` elements of room past their use); return the new count.  AVX-512 only
    (``vcompressps``/``vpcompressd``)."""
    def codegen(context: BaseContext, builder: ir.IRBuilder, signature: Signature,
                args: Tuple[ir.Value, ...]) -> ir.Value:
        flags_arg, values_arg, first, out_values_arg, out_index_arg, counted = args
        f16, i16, m16 = ir.VectorType(ir.FloatType(), 16), ir.VectorType(ir.IntType(32), 16), \
            ir.VectorType(ir.IntType(1), 16)
        target: Any = context  # untyped

        def data(position: int, value: ir.Value) -> ir.Value:
            return target.make_array(signature.args[position])(target, builder, value).data

        def vector_at(pointer: ir.Value, index: ir.Value, kind: ir.Type) -> ir.Value:
            return builder.bitcast(builder.gep(pointer, [index]), kind.as_pointer())

        flagged = builder.load(vector_at(data(0, flags_arg), first, i16), align=4)
        mask = builder.icmp_unsigned("!=", flagged, ir.Constant(i16, [0] * 16))
        v16 = f16 if signature.args[1].dtype == types.float32 else i16  # float32 or 32-bit integer values
        lanes = builder.load(vector_at(data(1, values_arg), first, v16), align=4)
        splat = builder.shuffle_vector(
            builder.insert_element(ir.Constant(i16, ir.Undefined), builder.trunc(first, ir.IntType(32)),
                                   ir.Constant(ir.IntType(32), 0)),
            ir.Constant(i16, ir.Undefined), ir.Constant(i16, [0] * 16))
        index = builder.add(ir.Constant(i16, list(range(16))), splat)
        module = builder.module
        insert: Any = cgutils.get_or_insert_function  # untyped
        compress_f = insert(module, ir.FunctionType(f16, [f16, f16, m16]), "llvm.x86.avx512.mask.compress.v16f32")
        compress_i = insert(module, ir.FunctionType(i16, [i16, i16, m16]), "llvm.x86.avx512.mask.compress.v16i32")
        compress_v = compress_f if v16 is f16 else compress_i
        builder.store(builder.call(compress_v, [lanes, ir.Constant(v16, ir.Undefined), mask]),
                      vector_at(data(3, out_values_arg), counted, v16), align=4)
        builder.store(builder.call(compress_i, [index, ir.Constant(i16, ir.Undefined), mask]),
                      vector_at(data(4, out_index_arg), counted, i16), align=4)
        ctpop = insert(module, ir.FunctionType(ir.IntType(16), [ir.IntType(16)]), "llvm.ctpop.i16")
        kept = builder.call(ctpop, [builder.bitcast(mask, ir.IntType(16))])
        return builder.add(counted, builder.zext(kept, ir.IntType(64)))

    arrays = (flags, values, out_values, out_index)
    if not all(isinstance(a, types.Array) for a in arrays):
        return None
    dtypes = [a.dtype for a in arrays if isinstance(a, types.Array)]
    if dtypes[0] != types.int32 or dtypes[3] != types.int32 or dtypes[1] != dtypes[2] \
            or dtypes[1] not in (types.float32, types.int32, types.uint32):
        return None
    return types.int64(flags, values, start, out_values, out_index, count), codegen


@inline
def gather_each(flags: NDArray[np.int32], values: NDArray[_Value], out_values: NDArray[_Value],
                out_index: NDArray[np.int32], lane_lo: int, lane_hi: int, m0: int, count: int) -> int:
    """Gather the flagged elements of lanes ``lane_lo .. lane_hi - 1``, counters ``m0 .. m0 + count - 1``, one at a
    time: each element is written at the next free slot, which only a flagged one keeps (no branch)."""
    kept = 0
    for lane in range(lane_lo, lane_hi):
        for m in range(m0, m0 + count):
            j = lane * _L + m
            out_index[kept] = j
            out_values[kept] = values[j]
            kept += flags[j]
    return kept


@inline
def gather_compressed(flags: NDArray[np.int32], values: NDArray[_Value], out_values: NDArray[_Value],
                      out_index: NDArray[np.int32], lane_lo: int, lane_hi: int, m0: int, count: int) -> int:
    """:func:`gather_each`, 16 elements at a time (``m0`` and ``count`` are multiples of 16)."""
    kept = np.int64(0)
    for lane in range(lane_lo, lane_hi):
        for m in range(m0, m0 + count, 16):
            kept = compress16(flags, values, np.int64(lane * _L + m), out_values, out_index, kept)
    return int(kept)
