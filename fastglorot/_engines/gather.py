"""Gathering the elements of a tile that take a costly branch, 16 or 8 at a time where the CPU can.

The ``quantile`` tile converters (``_engines.kernels``) compute a cheap
central value for every element, then run the tail branch only on the
elements that need it, gathered into a contiguous run so that it vectorizes
too.  Gathering one element at a time (:func:`gather_each`: every element
written at the next free slot, which only a flagged one keeps, no branch to
mispredict) cost about half of stream format 2's truncated normal.

* AVX-512 (:func:`gather_compressed`): ``vpcompressd`` packs the flagged
  lanes of 16 elements in one instruction.  :func:`compress16` emits LLVM's
  ``llvm.x86.avx512.mask.compress`` into a register followed by one full
  store (the memory-destination form that ``llvm.masked.compressstore``
  lowers to is microcoded on AMD Zen 4: 12.8 cycles per element instead of
  4.6, ``bench/bench_truncated_v2_prototype.py``).
* AVX2 (:func:`gather_permuted`): no compress instruction, so the flags of 8
  elements index a table of 256 left-packing permutations, which
  ``vpermps``/``vpermd`` apply (:func:`compress8`).

All gathers write the same slots in the same order, so the values never
depend on which one a kernel was compiled with; :func:`best_gather` picks it
from numba's JIT target (``NUMBA_CPU_NAME``/``NUMBA_CPU_FEATURES``, else the
host), whose CPU features also key numba's disk cache.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Tuple, TypeVar

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils, config
from numba.core.codegen import get_host_cpu_features as host_features

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

__all__ = ["avx512_target", "avx2_target", "vector_bytes", "compress16", "compress8", "gather_each", "gather_compressed",
           "gather_permuted", "best_gather", "SLACK"]

SLACK = 16
"""Elements of room past the end that the full-vector stores of :func:`compress16` and :func:`compress8` need in the
gathered arrays."""


def _target_features() -> list[str]:
    """numba's JIT target's CPU features: ``NUMBA_CPU_FEATURES``; unset, the host's as numba takes them (without
    any AVX under ``NUMBA_ENABLE_AVX=0``, where AVX instructions would abort LLVM), or none for
    ``NUMBA_CPU_NAME=generic`` (which only costs speed: every gather fills the same slots)."""
    named = getattr(config, "CPU_NAME")  # numba.config sets its settings through globals()
    given = getattr(config, "CPU_FEATURES")
    host: Any = host_features  # untyped
    features = given if given is not None else ("" if named == "generic" else host())
    return str(features).split(",")


def avx512_target() -> bool:
    """Whether numba's JIT target has AVX-512F (:func:`compress16`)."""
    return "+avx512f" in _target_features()


def avx2_target() -> bool:
    """Whether numba's JIT target has AVX2 (:func:`compress8`)."""
    return "+avx2" in _target_features()


def _compress_signature(flags: Any, values: Any, start: Any, out_values: Any, out_index: Any, count: Any, /
                        ) -> np.int64:
    """Signature of :func:`compress16` and :func:`compress8`."""
    raise NotImplementedError("an intrinsic is only callable from jitted code")


_LEFT_PACK = [[lane for lane in range(8) if mask >> lane & 1] + [0] * (8 - bin(mask).count("1"))
              for mask in range(256)]
"""For each 8-bit mask, the lanes it keeps in order, then zeros: :func:`compress8`'s permutations."""


def _compressing(width: int) -> Any:
    """The typing function of an intrinsic appending the flagged elements of ``width`` lanes (16: AVX-512's
    ``llvm.x86.avx512.mask.compress``; 8: AVX2's ``vpermps``/``vpermd`` by a table of left-packing permutations)."""

    def typing(typingctx: TypingContext, flags: types.Type, values: types.Type, start: types.Type,
               out_values: types.Type, out_index: types.Type, count: types.Type) -> IntrinsicTyping:
        def codegen(context: BaseContext, builder: ir.IRBuilder, signature: Signature,
                    args: Tuple[ir.Value, ...]) -> ir.Value:
            flags_arg, values_arg, first, out_values_arg, out_index_arg, counted = args
            i32 = ir.IntType(32)
            ints, bits = ir.VectorType(i32, width), ir.VectorType(ir.IntType(1), width)
            floats = ir.VectorType(ir.FloatType(), width)
            lane_type = floats if signature.args[1].dtype == types.float32 else ints  # float32 or 32-bit integers
            target: Any = context  # untyped
            insert: Any = cgutils.get_or_insert_function  # untyped
            module = builder.module

            def data(position: int, value: ir.Value) -> ir.Value:
                return target.make_array(signature.args[position])(target, builder, value).data

            def vector_at(pointer: ir.Value, index: ir.Value, kind: ir.Type) -> ir.Value:
                return builder.bitcast(builder.gep(pointer, [index]), kind.as_pointer())

            bytes_ = ir.VectorType(ir.IntType(8), width)
            flagged = builder.load(vector_at(data(0, flags_arg), first, bytes_), align=1)
            mask = builder.icmp_unsigned("!=", flagged, ir.Constant(bytes_, [0] * width))
            lanes = builder.load(vector_at(data(1, values_arg), first, lane_type), align=4)
            splat = builder.shuffle_vector(
                builder.insert_element(ir.Constant(ints, ir.Undefined), builder.trunc(first, i32),
                                       ir.Constant(i32, 0)),
                ir.Constant(ints, ir.Undefined), ir.Constant(ints, [0] * width))
            mask_bits = builder.bitcast(mask, ir.IntType(width))
            if width == 16:
                def packed(vector: ir.Value) -> ir.Value:
                    kind = "v16f32" if vector.type == floats else "v16i32"
                    compress = insert(module, ir.FunctionType(vector.type, [vector.type, vector.type, bits]),
                                      f"llvm.x86.avx512.mask.compress.{kind}")
                    return builder.call(compress, [vector, ir.Constant(vector.type, ir.Undefined), mask])

                kept_values = packed(lanes)
                kept_index = packed(builder.add(ir.Constant(ints, list(range(16))), splat))
            else:
                table_type = ir.ArrayType(ints, 256)
                constant: Any = cgutils.global_constant  # untyped
                table = constant(module, "fastglorot_left_pack8",
                                                ir.Constant(table_type, [ir.Constant(ints, p) for p in _LEFT_PACK]))
                permutation = builder.load(builder.gep(table, [ir.Constant(i32, 0),
                                                               builder.zext(mask_bits, i32)]), align=32)
                permute_f = insert(module, ir.FunctionType(floats, [floats, ints]), "llvm.x86.avx2.permps")
                permute_i = insert(module, ir.FunctionType(ints, [ints, ints]), "llvm.x86.avx2.permd")
                kept_values = builder.call(permute_f if lane_type == floats else permute_i, [lanes, permutation])
                kept_index = builder.add(permutation, splat)
            builder.store(kept_values, vector_at(data(3, out_values_arg), counted, lane_type), align=4)
            builder.store(kept_index, vector_at(data(4, out_index_arg), counted, ints), align=4)
            ctpop = insert(module, ir.FunctionType(ir.IntType(width), [ir.IntType(width)]), f"llvm.ctpop.i{width}")
            return builder.add(counted, builder.zext(builder.call(ctpop, [mask_bits]), ir.IntType(64)))

        arrays = (flags, values, out_values, out_index)
        if not all(isinstance(a, types.Array) for a in arrays):
            return None
        dtypes = [a.dtype for a in arrays if isinstance(a, types.Array)]
        if dtypes[0] != types.uint8 or dtypes[3] != types.int32 or dtypes[1] != dtypes[2] \
                or dtypes[1] not in (types.float32, types.int32, types.uint32):
            return None
        return types.int64(flags, values, start, out_values, out_index, count), codegen

    typing.__name__ = typing.__qualname__ = f"compress{width}"
    return typing


compress16 = intrinsic_as(_compress_signature)(_compressing(16))
"""Append ``values[j]`` and ``j`` of the elements ``start <= j < start + 16`` whose uint8 ``flags[j]`` is non-zero at
``count`` of ``out_values`` and ``out_index`` (arrays of ``values``' dtype, float32 or 32-bit integers, and int32,
with :data:`SLACK` elements of room past their use); return the new count.  AVX-512 only
(``vcompressps``/``vpcompressd`` into a register, then one full store)."""

compress8 = intrinsic_as(_compress_signature)(_compressing(8))
""":func:`compress16` for 8 elements, on AVX2: the flags' 8-bit mask picks a left-packing permutation from a
table of 256 (8 KiB), applied by ``vpermps``/``vpermd``; the kept positions are the permutation plus ``start``."""


@inline
def gather_each(flags: NDArray[np.uint8], values: NDArray[_Value], out_values: NDArray[_Value],
                out_index: NDArray[np.int32], lane_lo: int, lane_hi: int, m0: int, count: int) -> int:
    """Gather the flagged elements of lanes ``lane_lo .. lane_hi - 1``, counters ``m0 .. m0 + count - 1``, one at a
    time: each element is written at the next free slot, which only a flagged one keeps (no branch)."""
    kept = 0
    for lane in range(lane_lo, lane_hi):
        for m in range(m0, m0 + count):
            j = lane * _L + m
            out_index[kept] = j
            out_values[kept] = values[j]
            kept += int(flags[j])
    return kept


@inline
def gather_compressed(flags: NDArray[np.uint8], values: NDArray[_Value], out_values: NDArray[_Value],
                      out_index: NDArray[np.int32], lane_lo: int, lane_hi: int, m0: int, count: int) -> int:
    """:func:`gather_each`, 16 elements at a time by :func:`compress16` (``m0`` and ``count`` multiples of 16)."""
    kept = np.int64(0)
    for lane in range(lane_lo, lane_hi):
        for m in range(m0, m0 + count, 16):
            kept = compress16(flags, values, np.int64(lane * _L + m), out_values, out_index, kept)
    return int(kept)


@inline
def gather_permuted(flags: NDArray[np.uint8], values: NDArray[_Value], out_values: NDArray[_Value],
                    out_index: NDArray[np.int32], lane_lo: int, lane_hi: int, m0: int, count: int) -> int:
    """:func:`gather_each`, 8 elements at a time by :func:`compress8` (``m0`` and ``count`` multiples of 8)."""
    kept = np.int64(0)
    for lane in range(lane_lo, lane_hi):
        for m in range(m0, m0 + count, 8):
            kept = compress8(flags, values, np.int64(lane * _L + m), out_values, out_index, kept)
    return int(kept)


def vector_bytes() -> int:
    """The width of the JIT target's vectors in bytes: 64 with AVX-512, 32 with AVX2, else 16 (SSE)."""
    return 64 if avx512_target() else 32 if avx2_target() else 16


def best_gather() -> Any:
    """The gather for numba's JIT target: :func:`gather_compressed` with AVX-512, :func:`gather_permuted` with
    AVX2, else :func:`gather_each` (all three fill the same slots)."""
    return gather_compressed if avx512_target() else gather_permuted if avx2_target() else gather_each
