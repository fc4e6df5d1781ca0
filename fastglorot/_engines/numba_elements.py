"""The stream format's element functions compiled for the numba CPU kernels.

Copies of the element functions of every stream format (``_format.stream_v1``,
``_format.stream_v2``; ``_format.elements.bind_all``), each
``numba.njit(inline="always")``, whose float operations are Python's
operators (``operator.add``, ...: numba lowers them as it lowers ``+``;
without ``fastmath`` nothing is contracted into a fused multiply-add),
``sqrt`` is ``llvm.sqrt`` and ``select`` an LLVM ``select``: no libm call
and no branch, so the kernels' loops vectorize, and the results are the
same bits on every x86-64 CPU.
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any, Tuple, cast

from llvmlite import ir
from numba import types

from .._format import stream_v1 as _stream_v1
from .._format.elements import bind_all
from .jit import float32_from_bits, float64_from_bits, float_bits, ieee_sqrt, inline, intrinsic_as

if TYPE_CHECKING:
    from numba.core.base import BaseContext
    from numba.core.typing.context import BaseContext as TypingContext
    from numba.core.typing.templates import Signature

    from .jit import IntrinsicTyping
    from .._format.stream_v1 import (TERMS_F32, TERMS_F64, bits52, bits53, clamp, in_lower_tail, minus_two_log,
                                     normal_pair_f32, normal_pair_f64, normal_quantile_central,
                                     normal_quantile_tail, normal_radius_f32, philox4x32_10, raw_word,
                                     round_bfloat16, round_float16, signed_quantile, sincos_turn_f32,
                                     sincos_turn_f64, truncated_f32, truncated_f64, truncated_probability,
                                     truncated_probability_f32, truncated_probability_f64, uniform_f32, uniform_f64)
    from .._format.stream_v2 import (in_tail_f32, log_f32, normal_pair_f32_v2, normal_radius_f32_v2,
                                     quantile_central_f32, quantile_tail_f32, signed_tail_f32, sincos_turn_f32_v2,
                                     split_exponent_f32, truncated_split_f32, truncated_value_f32)


def _select_signature(condition: Any, if_true: Any, if_false: Any, /) -> Any:
    """Signature of :func:`select`."""
    raise NotImplementedError("an intrinsic is only callable from jitted code")


@intrinsic_as(_select_signature)
def select(typingctx: TypingContext, condition: types.Type, if_true: types.Type, if_false: types.Type
           ) -> IntrinsicTyping:
    """``if_true if condition else if_false`` as one LLVM ``select`` (both evaluated; vectorizes)."""
    result = cast(Any, typingctx).unify_pairs(if_true, if_false)  # numba's typing context is untyped
    if result is None or not isinstance(result, (types.Number, types.Boolean)):
        return None

    def codegen(context: BaseContext, builder: ir.IRBuilder, signature: Signature,
                args: Tuple[ir.Value, ...]) -> ir.Value:
        target: Any = context  # untyped
        cond = target.cast(builder, args[0], signature.args[0], types.boolean)
        a = target.cast(builder, args[1], signature.args[1], result)
        b = target.cast(builder, args[2], signature.args[2], result)
        return builder.select(cond, a, b)

    return result(condition, if_true, if_false), codegen


def _f32_bits_signature(x: Any, /) -> Any:
    """Signature of :func:`f32_bits`."""
    raise NotImplementedError("an intrinsic is only callable from jitted code")


@intrinsic_as(_f32_bits_signature)
def f32_bits(typingctx: TypingContext, x: types.Type) -> IntrinsicTyping:
    """The bits of a float32 as uint32."""
    if x != types.float32:
        return None

    def codegen(context: BaseContext, builder: ir.IRBuilder, signature: Signature,
                args: Tuple[ir.Value, ...]) -> ir.Value:
        return builder.bitcast(args[0], ir.IntType(32))

    return types.uint32(x), codegen


def _word_signature(x: Any, /) -> Any:
    """Signature of :func:`word`."""
    raise NotImplementedError("an intrinsic is only callable from jitted code")


@intrinsic_as(_word_signature)
def word(typingctx: TypingContext, x: types.Type) -> IntrinsicTyping:
    """A Philox word as numba types it: unchanged (numba widens uint32 arithmetic to 64-bit lanes,
    which LLVM's vectorizer multiplies with ``vpmuludq``; narrowing them halved the kernels' speed)."""
    if not isinstance(x, types.Integer):
        return None

    def codegen(context: BaseContext, builder: ir.IRBuilder, signature: Signature,
                args: Tuple[ir.Value, ...]) -> ir.Value:
        return args[0]

    return x(x), codegen


OPERATIONS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv,
              "sqrt": ieee_sqrt, "select": select, "f32_bits": f32_bits, "f32_from_bits": float32_from_bits,
              "f64_bits": float_bits,
              "f64_from_bits": float64_from_bits, "word": word}
"""The numba CPU engine's float operations (``_format.floatops.OPERATIONS``)."""

if not TYPE_CHECKING:  # mypy reads the element functions' own signatures (above)
    globals().update(bind_all(OPERATIONS, inline))
    TERMS_F32, TERMS_F64 = _stream_v1.TERMS_F32, _stream_v1.TERMS_F64

__all__ = ["TERMS_F32", "TERMS_F64", "bits52", "bits53", "clamp", "in_lower_tail", "minus_two_log",
           "normal_pair_f32", "normal_pair_f64", "normal_quantile_central", "normal_quantile_tail",
           "normal_radius_f32", "philox4x32_10", "raw_word", "round_bfloat16", "round_float16", "signed_quantile",
           "sincos_turn_f32", "sincos_turn_f64", "truncated_f32", "truncated_f64", "truncated_probability",
           "truncated_probability_f32", "truncated_probability_f64", "uniform_f32", "uniform_f64",
           "in_tail_f32", "log_f32", "normal_pair_f32_v2", "normal_radius_f32_v2", "quantile_central_f32",
           "quantile_tail_f32", "signed_tail_f32", "sincos_turn_f32_v2", "split_exponent_f32", "truncated_split_f32",
           "truncated_value_f32", "select",
           "f32_bits", "word", "OPERATIONS"]
