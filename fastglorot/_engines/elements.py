"""The stream formats, one element at a time: jitted scalar functions for other kernels.

Each function returns element ``index`` of the corresponding bulk fill (README
"Stream format"), computed from the same jitted pieces the fill kernels
inline (``_engines.numba_elements``: the compiled ``_format.stream_v1`` and
``_format.stream_v2``), so the bits are the same by construction: only the
index -> (block, lane) arithmetic and the parameter set-up that the launcher
does in Python are restated here, in jitted code.

Stream format 2 changes only the float32 draws of the normal and the
truncated normal (and so their float16/bfloat16 roundings): those have
``_v2`` twins (``normal_float32_v2``, ``trunc_normal_float32_v2``) on the
same words and lanes as format 1; every other function here serves both
formats.

The index arithmetic, for the global C-order element index ``i``:

* one word per element (raw words, float32 and its 16-bit roundings):
  ``t, r = divmod(i, 512); j, m = divmod(r, 128)``: lane ``j`` of block
  ``b = 128 t + m``;
* two words per element (float64): ``t, r = divmod(i, 256);
  h, m = divmod(r, 128)``: lanes ``2h, 2h + 1`` of block ``b = 128 t + m``.

Seeds, streams and indices are taken as uint64 (int64 and uint64 arguments
both convert modulo 2**64), so a seed >= 2**63 passed as a uint64 and the
same bits passed as a negative int64 give the same key.

Compilation.  The public functions and the heavy definitions behind them
(``@element``) are plain dispatchers, compiled once per argument types and
cached on disk, with ``forceinline=True``: numba marks them
``alwaysinline``, so LLVM inlines them into the caller's loop, which then
vectorizes like the bulk kernels (without it LLVM keeps Philox out of line
and the loop runs scalar; ``bench/bench_numba_elements.py`` measures both).
Only the small index and parameter helpers are ``inline="always"`` (typed
again at each call site, which is cheap for them).  ``fastmath=False`` is
explicit because numba lets a callee inherit an unset ``fastmath`` from a
fastmath caller, which changes the bits.  The heavy definitions take
canonical types (uint64 seed, stream and index, float64 parameters; float32
for format 2's truncated normal, whose parameters are float32), so a caller
passing int64 seeds or float32 parameters compiles only the thin public
wrapper again.

Parameters that the bulk fills reject (non-finite, out of the dtype's range,
``low > high``, ``std < 0``, no value of the dtype in ``[low, high]``) give
NaN instead of an exception: a select keeps the loops branch-free, and an
exception raised inside a ``prange`` loop would cost the caller its
vectorization.  A truncated normal's parameter array of the other stream
format (7 float64 values for format 1, 11 float32 for format 2, told apart
by their length) gives NaN too: a loop-invariant test, which LLVM hoists
out of the caller's loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, Sequence, Tuple, TypeVar, Union, cast

import numpy as np

from .._format.constants import F32, F64, I64, U32, U64
from .jit import float32_from_bits, float64_from_bits, float_bits, inline, njit_cached
from .numba_elements import (
    in_lower_tail,
    in_tail_f32,
    normal_pair_f32,
    normal_pair_f32_v2,
    normal_pair_f64,
    normal_quantile_central,
    normal_quantile_tail,
    quantile_central_f32,
    quantile_tail_f32,
    round_bfloat16,
    round_float16,
    select,
    signed_quantile,
    signed_tail_f32,
    truncated_f32,
    truncated_f64,
    truncated_probability_f32,
    truncated_probability_f64,
    truncated_split_f32,
    truncated_value_f32,
    uniform_f32,
    uniform_f64,
)
from .numba_elements import philox4x32_10 as _philox_block
from .._format.params import NORMAL_Z_BOUND_F32, NORMAL_Z_BOUND_F64
from .._format.stream_v2 import TRUNCATED_PARAM_COUNT

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "philox4x32_10",
    "random_word",
    "uniform_float32",
    "uniform_float64",
    "normal_float32",
    "normal_float64",
    "normal_float32_v2",
    "trunc_normal_float32",
    "trunc_normal_float64",
    "trunc_normal_float32_v2",
    "bfloat16_bits",
    "float16_bits",
    "TRUNCATED_PARAM_COUNT_V1",
    "TRUNCATED_PARAM_COUNT_V2",
]

F = TypeVar("F", bound=Callable[..., Any])

Integer = Union[int, np.integer[Any]]
"""A seed, stream or index: a Python int, or a NumPy/numba integer scalar."""

Real = Union[float, np.floating[Any]]
"""A distribution parameter: float32 or float64 (converted to float64 exactly)."""

Words = Tuple[np.uint32, np.uint32, np.uint32, np.uint32]

_LOW32 = U64(0xFFFFFFFF)
_F32_MAX = F64(np.finfo(np.float32).max)
_F64_MAX = F64(np.finfo(np.float64).max)
_NAN32 = F32(np.nan)
_Z_BOUND_F32 = F64(NORMAL_Z_BOUND_F32)
_Z_BOUND_F64 = F64(NORMAL_Z_BOUND_F64)
_NAN64 = F64(np.nan)

TRUNCATED_PARAM_COUNT_V1 = 7
"""Length of a format-1 truncated normal's parameter array (float64; ``_format.params.truncated_params``)."""
TRUNCATED_PARAM_COUNT_V2 = TRUNCATED_PARAM_COUNT
"""Length of a format-2 float32 truncated normal's parameter array (``_format.stream_v2.truncated_params_f32``)."""


_ELEMENT_OPTIONS: Dict[str, Any] = {"nogil": True, "error_model": "numpy", "fastmath": False, "forceinline": True}


def element(py_func: F) -> F:
    """Decorate an element function: cached where possible, inlined by LLVM, never fastmath.

    Typed as ``py_func`` itself (callable from Python and jitted code).
    """
    return cast(F, njit_cached(**_ELEMENT_OPTIONS)(py_func))


# Parameter set-up.  ``_format.params.uniform_params`` computes the clamp bounds
# in Python with np.nextafter; here the neighbours come from the bit pattern
# (an exact integer step, the same IEEE result), because a libm call in the
# middle of the caller's loop could be neither hoisted nor vectorized.


@inline
def _next_f32(v: np.float32, up: bool) -> np.float32:
    """``np.nextafter(v, +-inf)`` for finite float32 ``v``."""
    bits = float_bits(v)
    # Away from zero adds one to the magnitude, towards zero subtracts one;
    # from +-0 the neighbour is the smallest subnormal of the requested sign.
    away = (v > F32(0.0)) == up
    # (numba widens int32 arithmetic to int64: cast back before the bit cast)
    stepped = np.int32(bits + np.int32(1)) if away else np.int32(bits - np.int32(1))
    tiny = np.int32(1) if up else np.int32(-0x7FFFFFFF)  # bits of +-2**-149
    return float32_from_bits(tiny if v == F32(0.0) else stepped)


@inline
def _next_f64(v: np.float64, up: bool) -> np.float64:
    """``np.nextafter(v, +-inf)`` for finite float64 ``v``."""
    bits = float_bits(v)
    away = (v > F64(0.0)) == up
    stepped = bits + I64(1) if away else bits - I64(1)
    tiny = I64(1) if up else I64(-0x7FFFFFFFFFFFFFFF)  # bits of +-2**-1074
    return float64_from_bits(tiny if v == F64(0.0) else stepped)


@inline
def _at_least_f32(x: np.float64, strict: bool) -> np.float32:
    """The smallest float32 >= x (> x when ``strict``): ``_format.params._at_least``."""
    value = F32(x)
    return _next_f32(value, True) if F64(value) < x or (strict and F64(value) == x) else value


@inline
def _at_most_f32(x: np.float64, strict: bool) -> np.float32:
    """The largest float32 <= x (< x when ``strict``): ``_format.params._at_most``."""
    value = F32(x)
    return _next_f32(value, False) if F64(value) > x or (strict and F64(value) == x) else value


@inline
def _at_least_f64(x: np.float64, strict: bool) -> np.float64:
    """``_format.params._at_least`` for float64, where ``x`` itself is exact."""
    return _next_f64(x, True) if strict else x


@inline
def _at_most_f64(x: np.float64, strict: bool) -> np.float64:
    """``_format.params._at_most`` for float64, where ``x`` itself is exact."""
    return _next_f64(x, False) if strict else x


@inline
def _in_range(x: np.float64, limit: np.float64) -> np.bool_:
    """``_validate.as_finite``'s test: finite and ``|x| <= limit`` (False for NaN)."""
    return abs(x) <= limit


# Index -> Philox block and lane.


@element
def _block(seed: np.uint64, stream: np.uint64, block: np.uint64) -> Words:
    """The four words of block ``block`` of ``stream`` under key ``seed``."""
    return _philox_block(U32(block & _LOW32), U32(block >> U64(32)), U32(stream & _LOW32), U32(stream >> U64(32)),
                         U32(seed & _LOW32), U32(seed >> U64(32)))


@inline
def _word_block(i: np.uint64) -> np.uint64:
    """Block of 4-byte element ``i``: ``128 t + m`` with ``t, r = divmod(i, 512)``, ``m = r % 128``."""
    return ((i >> U64(9)) << U64(7)) | (i & U64(127))


@inline
def _pair_block(i: np.uint64) -> np.uint64:
    """Block of 8-byte element ``i``: ``128 t + m`` with ``t, r = divmod(i, 256)``, ``m = r % 128``."""
    return ((i >> U64(8)) << U64(7)) | (i & U64(127))


@inline
def _lane(words: Words, lane: np.uint64) -> np.uint32:
    """``words[lane]`` by selects (no branch, no stack copy of the tuple)."""
    odd = (lane & U64(1)) == U64(1)
    low = words[1] if odd else words[0]
    high = words[3] if odd else words[2]
    return high if lane >= U64(2) else low


@inline
def _word(seed: np.uint64, stream: np.uint64, i: np.uint64) -> np.uint32:
    """Stream word ``i``: lane ``j = (i // 128) % 4`` of its block."""
    return _lane(_block(seed, stream, _word_block(i)), (i >> U64(7)) & U64(3))


@inline
def _pair(seed: np.uint64, stream: np.uint64, i: np.uint64) -> Tuple[np.uint32, np.uint32]:
    """The (high, low) words of 8-byte element ``i``: lanes ``2h, 2h + 1``, ``h = (i // 128) % 2``."""
    words = _block(seed, stream, _pair_block(i))
    second = ((i >> U64(7)) & U64(1)) == U64(1)
    return (words[2] if second else words[0]), (words[3] if second else words[1])


# The definitions, on canonical argument types (uint64 seed, stream and
# index; float64 parameters), each compiled once.  The public functions below
# only convert their arguments and call these, so a caller passing int64
# instead of uint64, or float32 parameters, recompiles a few casts, not the
# element.


@element
def _uniform_float32(seed: np.uint64, stream: np.uint64, i: np.uint64, low: np.float64, high: np.float64
                     ) -> np.float32:
    valid = _in_range(low, _F32_MAX) and _in_range(high, _F32_MAX) and low <= high
    clamp_low, clamp_high = _at_least_f32(low, True), _at_most_f32(high, True)
    if clamp_low > clamp_high:  # no float32 strictly inside: the closed interval
        clamp_low, clamp_high = _at_least_f32(low, False), _at_most_f32(high, False)
    valid = valid and clamp_low <= clamp_high
    mid = F32(F64(0.5) * low + F64(0.5) * high)
    scale = F32((F64(0.5) * high - F64(0.5) * low) * F64(2.0**-24))
    value = uniform_f32(_word(seed, stream, i), (mid, scale, clamp_low, clamp_high))
    return value if valid else _NAN32


@element
def _uniform_float64(seed: np.uint64, stream: np.uint64, i: np.uint64, low: np.float64, high: np.float64
                     ) -> np.float64:
    valid = _in_range(low, _F64_MAX) and _in_range(high, _F64_MAX) and low <= high
    clamp_low, clamp_high = _at_least_f64(low, True), _at_most_f64(high, True)
    if clamp_low > clamp_high:  # no float64 strictly inside: the closed interval
        clamp_low, clamp_high = low, high
    mid = F64(0.5) * low + F64(0.5) * high
    scale = (F64(0.5) * high - F64(0.5) * low) * F64(2.0**-53)
    high_word, low_word = _pair(seed, stream, i)
    value = uniform_f64(high_word, low_word, (mid, scale, clamp_low, clamp_high))
    return value if valid else _NAN64


@inline
def _normal_valid_f32(mean: np.float64, std: np.float64) -> np.bool_:
    """Whether a float32 normal fill accepts ``(mean, std)`` (``_params.normal_params``, ``normal_fits``)."""
    return _in_range(mean, _F32_MAX) and _in_range(std, _F32_MAX) and std >= F64(0.0) and (
        abs(F64(F32(mean))) + _Z_BOUND_F32 * F64(F32(std)) <= _F32_MAX)


@inline
def _box_muller_words(seed: np.uint64, stream: np.uint64, i: np.uint64) -> Tuple[np.uint32, np.uint32, bool]:
    """(radius word, angle word, sine?) of float32 element ``i``, in both stream formats."""
    # Lanes 2p (radius) and 2p + 1 (angle), p = j // 2, form one Box-Muller
    # pair; the even lane j receives the cosine, the odd one the sine.
    words = _block(seed, stream, _word_block(i))
    sine = ((i >> U64(7)) & U64(1)) == U64(1)
    second_pair = ((i >> U64(8)) & U64(1)) == U64(1)
    radius_word = words[2] if second_pair else words[0]
    angle_word = words[3] if second_pair else words[1]
    return radius_word, angle_word, sine


@element
def _normal_float32(seed: np.uint64, stream: np.uint64, i: np.uint64, mean: np.float64, std: np.float64
                    ) -> np.float32:
    valid = _normal_valid_f32(mean, std)
    radius_word, angle_word, sine = _box_muller_words(seed, stream, i)
    cos_value, sin_value = normal_pair_f32(radius_word, angle_word, (F32(mean), F32(std)))
    value = sin_value if sine else cos_value
    return value if valid else _NAN32


@element
def _normal_float32_v2(seed: np.uint64, stream: np.uint64, i: np.uint64, mean: np.float64, std: np.float64
                       ) -> np.float32:
    # Format 2 checks the arguments as format 1 does (the same _params.normal_params) and reads the same words.
    valid = _normal_valid_f32(mean, std)
    radius_word, angle_word, sine = _box_muller_words(seed, stream, i)
    cos_value, sin_value = normal_pair_f32_v2(radius_word, angle_word, (F32(mean), F32(std)))
    value = sin_value if sine else cos_value
    return value if valid else _NAN32


@element
def _normal_float64(seed: np.uint64, stream: np.uint64, i: np.uint64, mean: np.float64, std: np.float64
                    ) -> np.float64:
    valid = _in_range(mean, _F64_MAX) and _in_range(std, _F64_MAX) and std >= F64(0.0) and (
        abs(mean) + _Z_BOUND_F64 * std <= _F64_MAX)  # _params.normal_fits
    words = _block(seed, stream, _pair_block(i))
    # Lanes 0, 1: radius; lanes 2, 3: angle; h = 0 receives the cosine, h = 1 the sine.
    sine = ((i >> U64(7)) & U64(1)) == U64(1)
    cos_value, sin_value = normal_pair_f64(words[0], words[1], words[2], words[3], (mean, std))
    value = sin_value if sine else cos_value
    return value if valid else _NAN64


@element
def _standard_truncated(signed: np.float64) -> np.float64:
    """``sign * Phi^-1(|signed|)``: AS 241's central or tail branch, as the tile converters choose."""
    p = abs(signed)
    return F64(signed_quantile(signed, normal_quantile_tail(p) if in_lower_tail(p) else normal_quantile_central(p)))


@element
def _trunc_normal_float32(seed: np.uint64, stream: np.uint64, i: np.uint64, mean: np.float64, std: np.float64,
                          clamp_low: np.float64, clamp_high: np.float64, lower_tail: np.float64,
                          upper_tail: np.float64, mass: np.float64) -> np.float32:
    params = (mean, std, clamp_low, clamp_high, lower_tail, upper_tail, mass)
    signed = truncated_probability_f32(_word(seed, stream, i), params)
    return F32(truncated_f32(_standard_truncated(signed), params))


@element
def _trunc_normal_float32_v2(seed: np.uint64, stream: np.uint64, i: np.uint64, mean: np.float32, std: np.float32,
                             clamp_low: np.float32, clamp_high: np.float32, q_low: np.float32, q_high: np.float32,
                             mass: np.float32, lower: np.float32, upper: np.float32, tail_mass: np.float32,
                             shift: np.float32) -> np.float32:
    params = (mean, std, clamp_low, clamp_high, q_low, q_high, mass, lower, upper, tail_mass, shift)
    q, p = truncated_split_f32(_word(seed, stream, i), params)
    # PPND7's tail branch where |q| > 0.425, else its central rational: both computed, one selected (the bulk
    # tiles compute the tail only where needed; the selected value is the same).
    z = select(in_tail_f32(q), signed_tail_f32(q, quantile_tail_f32(p, params)), quantile_central_f32(q))
    return F32(truncated_value_f32(z, params))


@element
def _trunc_normal_float64(seed: np.uint64, stream: np.uint64, i: np.uint64, mean: np.float64, std: np.float64,
                          clamp_low: np.float64, clamp_high: np.float64, lower_tail: np.float64,
                          upper_tail: np.float64, mass: np.float64) -> np.float64:
    params = (mean, std, clamp_low, clamp_high, lower_tail, upper_tail, mass)
    high_word, low_word = _pair(seed, stream, i)
    signed = truncated_probability_f64(high_word, low_word, params)
    return F64(truncated_f64(_standard_truncated(signed), params))


# The public element functions.


@element
def philox4x32_10(counter: Union[Sequence[Integer], NDArray[np.integer[Any]]],
                  key: Union[Sequence[Integer], NDArray[np.integer[Any]]]) -> Words:
    """Philox4x32-10 of one counter: ``fastglorot.philox4x32(counter, key)``.

    ``counter`` holds 4 words, ``key`` 2 (tuples or arrays, each word taken
    modulo 2**32); returns a 4-tuple of uint32.
    """
    return _philox_block(U32(counter[0]), U32(counter[1]), U32(counter[2]), U32(counter[3]),
                         U32(key[0]), U32(key[1]))


@element
def random_word(seed: Integer, stream: Integer, index: Integer) -> np.uint32:
    """Raw stream word ``index``: ``fastglorot.random_bits(index + 1, seed=seed, stream=stream)[index]``."""
    return _word(U64(seed), U64(stream), U64(index))


@element
def uniform_float32(seed: Integer, stream: Integer, index: Integer, low: Real, high: Real) -> np.float32:
    """Element ``index`` of ``uniform_(float32 array, low, high)``; NaN for arguments the fill rejects."""
    return _uniform_float32(U64(seed), U64(stream), U64(index), F64(low), F64(high))


@element
def uniform_float64(seed: Integer, stream: Integer, index: Integer, low: Real, high: Real) -> np.float64:
    """Element ``index`` of ``uniform_(float64 array, low, high)``; NaN for arguments the fill rejects."""
    return _uniform_float64(U64(seed), U64(stream), U64(index), F64(low), F64(high))


@element
def normal_float32(seed: Integer, stream: Integer, index: Integer, mean: Real, std: Real) -> np.float32:
    """Element ``index`` of ``normal_(float32 array, mean, std)``; NaN for arguments the fill rejects.

    ``mean`` and ``std`` are rounded to float32, as the fill does.
    """
    return _normal_float32(U64(seed), U64(stream), U64(index), F64(mean), F64(std))


@element
def normal_float64(seed: Integer, stream: Integer, index: Integer, mean: Real, std: Real) -> np.float64:
    """Element ``index`` of ``normal_(float64 array, mean, std)``; NaN for arguments the fill rejects."""
    return _normal_float64(U64(seed), U64(stream), U64(index), F64(mean), F64(std))


@element
def normal_float32_v2(seed: Integer, stream: Integer, index: Integer, mean: Real, std: Real) -> np.float32:
    """Element ``index`` of ``normal_(float32 array, mean, std, stream_format=2)``; NaN for arguments the fill rejects.

    Stream format 2's float32 Box–Muller on format 1's words: lanes ``2p``
    (radius word ``w1``) and ``2p + 1`` (angle word ``w2``) of the element's
    block, ``p = j // 2``, give ``mean + std * sqrt(-2 ln u1) * cos(theta)``
    to the even lane ``j`` and ``... * sin(theta)`` to the odd one, with
    ``u1 = (w1 + 1/2) 2**-32`` and ``theta = 2 pi (w2 + 1/2) 2**-32``, every
    operation in float32 (a float32 logarithm, sine and cosine on an exact
    range reduction; README "Stream format").  ``mean`` and ``std`` are
    rounded to float32 and checked as :func:`normal_float32` checks them.
    """
    return _normal_float32_v2(U64(seed), U64(stream), U64(index), F64(mean), F64(std))


@element
def trunc_normal_float32(seed: Integer, stream: Integer, index: Integer, params: NDArray[np.float64]
                         ) -> np.float32:
    """Element ``index`` of ``trunc_normal_(float32 array, ...)``; ``params`` from ``trunc_normal_params``
    (NaN for a parameter array that is not format 1's, of length 7)."""
    if len(params) != TRUNCATED_PARAM_COUNT_V1:  # loop-invariant: hoisted out of the caller's loop
        return _NAN32
    return _trunc_normal_float32(U64(seed), U64(stream), U64(index), F64(params[0]), F64(params[1]),
                                 F64(params[2]), F64(params[3]), F64(params[4]), F64(params[5]), F64(params[6]))


@element
def trunc_normal_float64(seed: Integer, stream: Integer, index: Integer, params: NDArray[np.float64]
                         ) -> np.float64:
    """Element ``index`` of ``trunc_normal_(float64 array, ...)`` in both stream formats; ``params`` from
    ``trunc_normal_params`` (NaN for a parameter array that is not of length 7)."""
    if len(params) != TRUNCATED_PARAM_COUNT_V1:
        return _NAN64
    return _trunc_normal_float64(U64(seed), U64(stream), U64(index), F64(params[0]), F64(params[1]),
                                 F64(params[2]), F64(params[3]), F64(params[4]), F64(params[5]), F64(params[6]))


@element
def trunc_normal_float32_v2(seed: Integer, stream: Integer, index: Integer, params: NDArray[np.float32]
                            ) -> np.float32:
    """Element ``index`` of ``trunc_normal_(float32 array, ..., stream_format=2)``.

    ``params``: the 11 float32 values of ``trunc_normal_params(...,
    stream_format=2)``; NaN for an array of another length (format 1's 7).
    Stream format 2's float32 inverse CDF of word ``w`` (lane ``j`` of the
    element's block, as :func:`random_word`): ``v = (w + 1/2) 2**-32``,
    ``q = P - 1/2`` from the interval's nearer end (``q_low + v mass`` for
    ``w < 2**31``, else ``q_high - (1 - v) mass``), ``z = q A(r) / B(r)``,
    ``r = 0.180625 - q**2`` (Wichura's PPND7) where ``|q| <= 0.425``, else
    ``+-`` PPND7's tail rational of ``t = sqrt(-ln p)``, ``p`` the nearer
    tail's probability (``Phi(alpha) + v mass`` or ``Phi(-beta) + (1 - v)
    mass``, scaled by ``2**shift`` in far tails); the value is ``mean + std
    z`` clamped to ``[clamp_low, clamp_high]``, every operation in float32
    (README "Stream format").
    """
    if len(params) != TRUNCATED_PARAM_COUNT_V2:  # loop-invariant: hoisted out of the caller's loop
        return _NAN32
    return _trunc_normal_float32_v2(U64(seed), U64(stream), U64(index), F32(params[0]), F32(params[1]),
                                    F32(params[2]), F32(params[3]), F32(params[4]), F32(params[5]), F32(params[6]),
                                    F32(params[7]), F32(params[8]), F32(params[9]), F32(params[10]))


@element
def bfloat16_bits(x: Real) -> np.uint16:
    """bfloat16 bits (uint16) of ``float32(x)``, rounded to nearest even."""
    return np.uint16(round_bfloat16(F32(x)))


@element
def float16_bits(x: Real) -> np.uint16:
    """float16 bits (uint16) of finite ``float32(x)``, rounded to nearest even (inf beyond 65504)."""
    return np.uint16(round_float16(F32(x)))
