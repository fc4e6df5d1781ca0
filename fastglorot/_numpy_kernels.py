"""NumPy twins of the fill kernels: the same streams, bit for bit, without numba.

A fresh process pays for numba before its first kernel runs (importing
numba, then loading the kernel from the disk cache or compiling it).  A small
fill does not need that: stream format v1 is IEEE basic operations on
float32/float64 and exact integer steps (README "Stream format"), which NumPy
evaluates with the same roundings.  Every function here takes the arguments of
its namesake in ``_kernels`` (``out``, a 2-D C-contiguous array whose row
``r`` holds the global indices ``firsts[r], firsts[r] + 1, ...``, the key and
stream words, the distribution's parameters) and writes the same bits.

Each operation below (and in ``_numpy_mathfuncs``) mirrors one operation of
``_philox``, ``_convert`` and ``_mathfuncs`` in the same order and the same
dtype; constants come from ``_constants``, shared with the kernels.  NumPy adds no fused multiply-adds,
and ``np.sqrt`` is IEEE's correctly rounded square root, as ``llvm.sqrt``.

Two ways to reach the words of an output:

* **Tiles** (rows of at least one tile): Philox runs once per counter of the
  tiles covering a row, lanes are laid out as in the kernels, and the row is
  cut out of the converted tiles.  At most two tiles per row are partly
  wasted.
* **Elements** (short rows, e.g. a narrow column block): each element's
  counter and lane come from its own global index, so no tile is computed
  for a handful of elements.

Both work in chunks of at most :data:`CHUNK_ELEMENTS` outputs, so the
temporaries (about ten arrays of a chunk's size) stay a few MiB and mostly in
cache.
"""

from __future__ import annotations

from typing import Any, Callable, Tuple

import numpy as np
from numpy.typing import NDArray

from ._constants import TERMS_F32, TERMS_F64, TILE_COUNTERS, WORDS_PER_TILE
from ._numpy_mathfuncs import (
    minus_two_log,
    normal_quantile_central,
    normal_quantile_tail,
    sincos_turn_f32,
    sincos_turn_f64,
)
from ._philox import PHILOX_M0, PHILOX_M1, PHILOX_W0, PHILOX_W1

__all__ = [
    "CHUNK_ELEMENTS",
    "fill_bits",
    "fill_uniform_float32",
    "fill_uniform_float64",
    "fill_normal_float32",
    "fill_normal_float64",
    "fill_truncated_normal_float32",
    "fill_truncated_normal_float64",
    "fill_uniform_half",
    "fill_normal_half",
    "fill_truncated_normal_half",
]

CHUNK_ELEMENTS = 1 << 16
"""Outputs converted at once (a multiple of every tile length)."""

_L = TILE_COUNTERS
_U64 = np.uint64
_F32 = np.float32
_F64 = np.float64
_LOW32 = _U64(0xFFFFFFFF)
_SHIFT32 = _U64(32)
_M0 = _U64(PHILOX_M0)
_M1 = _U64(PHILOX_M1)

Words = Tuple[NDArray[np.uint64], NDArray[np.uint64], NDArray[np.uint64], NDArray[np.uint64]]
"""The four Philox output words of some counters, each a uint64 array holding a uint32 value."""


# -- Philox -------------------------------------------------------------------

def _philox(counters: NDArray[np.uint64], key_stream: NDArray[np.uint32]) -> Words:
    """Philox4x32-10 of the block indices ``counters`` (uint64) under the key and stream words.

    ``_philox._philox_rounds`` on uint64 arrays, in place where it can be:
    the products of two 32-bit values fit in 64 bits, and every other
    operation keeps values below 2**32.
    """
    k0, k1 = int(key_stream[0]), int(key_stream[1])
    c0 = counters & _LOW32
    c1 = counters >> _SHIFT32
    c2 = np.full(counters.shape, key_stream[2], dtype=np.uint64)
    c3 = np.full(counters.shape, key_stream[3], dtype=np.uint64)
    p0 = np.empty_like(c0)
    p1 = np.empty_like(c0)
    for _ in range(10):
        np.multiply(c0, _M0, out=p0)
        np.multiply(c2, _M1, out=p1)
        # (c0, c1, c2, c3) <- (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0), reusing the old arrays.
        np.right_shift(p1, _SHIFT32, out=c0)
        np.bitwise_xor(c0, c1, out=c0)
        np.bitwise_xor(c0, _U64(k0), out=c0)
        np.bitwise_and(p1, _LOW32, out=c1)
        np.right_shift(p0, _SHIFT32, out=c2)
        np.bitwise_xor(c2, c3, out=c2)
        np.bitwise_xor(c2, _U64(k1), out=c2)
        np.bitwise_and(p0, _LOW32, out=c3)
        k0 = (k0 + PHILOX_W0) & 0xFFFFFFFF
        k1 = (k1 + PHILOX_W1) & 0xFFFFFFFF
    return c0, c1, c2, c3


# -- conversions (twins of _convert) ------------------------------------------

def _clamp(value: NDArray[Any], low: Any, high: Any) -> NDArray[Any]:
    """``min(max(value, low), high)`` with numba's rule for equal arguments: the first one is kept.

    Only signed zeros tell the difference (``max(+0.0, -0.0)`` is ``+0.0``
    in numba); ``np.maximum``/``np.minimum`` return either operand for equal
    inputs, depending on the SIMD path, so replace only where strictly beyond.
    """
    np.copyto(value, low, where=value < low)
    np.copyto(value, high, where=value > high)
    return value


def _uniform(k: NDArray[np.uint64], bits: int, params: NDArray[Any], ftype: Any) -> NDArray[Any]:
    """``mid + scale * (2k + 1 - 2**bits)`` in ``ftype`` for ``bits``-bit integers ``k`` (a fresh array), clamped.

    ``|2k + 1 - 2**bits| < 2**bits`` converts exactly (24 bits to float32,
    53 to float64), as in ``_convert.uniform_f32``/``uniform_f64``.
    """
    mid, scale, clamp_low, clamp_high = params[0], params[1], params[2], params[3]
    odd = k.view(np.int64)
    odd <<= 1
    odd += 1 - (1 << bits)
    value = odd.astype(ftype)
    value *= scale
    value += mid
    return _clamp(value, clamp_low, clamp_high)


def _uniform_f32(word: NDArray[np.uint64], params: NDArray[np.float32]) -> NDArray[np.float32]:
    """Uniform float32 from the top 24 bits of ``word``."""
    return _uniform(word >> _U64(8), 24, params, np.float32)


def _uniform_f64(high: NDArray[np.uint64], low: NDArray[np.uint64], params: NDArray[np.float64]) -> NDArray[np.float64]:
    """Uniform float64 from 53 bits of two words: all of ``high`` and the top 21 of ``low``."""
    k53 = high << _U64(21)
    k53 |= low >> _U64(11)
    return _uniform(k53, 53, params, np.float64)


def _bits52(high: NDArray[np.uint64], low: NDArray[np.uint64]) -> NDArray[np.uint64]:
    k52 = high << _U64(20)
    k52 |= low >> _U64(12)
    return k52


def _normal_f32(radius_word: NDArray[np.uint64], angle_word: NDArray[np.uint64], params: NDArray[np.float32]
                ) -> Tuple[NDArray[np.float32], NDArray[np.float32]]:
    """The (cosine, sine) outputs of float32 Box–Muller pairs: ``mean + r * cos``, ``mean + r * sin``."""
    mean, std = params[0], params[1]
    x = radius_word.astype(np.float64)
    x += 0.5
    radius = np.sqrt(minus_two_log(x, 32, TERMS_F32).astype(np.float32))
    radius *= std
    sin_theta, cos_theta = sincos_turn_f32(angle_word)
    cos_theta *= radius
    cos_theta += mean
    sin_theta *= radius
    sin_theta += mean
    return cos_theta, sin_theta


def _normal_f64(words: Words, params: NDArray[np.float64]) -> Tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The (cosine, sine) outputs of float64 Box–Muller pairs from all four words of each counter."""
    mean, std = params[0], params[1]
    x = _bits52(words[0], words[1]).astype(np.float64)
    x += 0.5
    radius = np.sqrt(minus_two_log(x, 52, TERMS_F64))
    radius *= std
    sin_theta, cos_theta = sincos_turn_f64(_bits52(words[2], words[3]))
    cos_theta *= radius
    cos_theta += mean
    sin_theta *= radius
    sin_theta += mean
    return cos_theta, sin_theta


def _truncated(k: NDArray[np.uint64], bits: int, params: NDArray[np.float64], ftype: Any) -> NDArray[Any]:
    """Truncated-normal outputs of ``ftype`` from ``bits``-bit integers ``k`` (``truncated_probability``,
    ``_truncated_z`` and the tile converters' clamp)."""
    mean, std, clamp_low, clamp_high, lower_tail, upper_tail, mass = (params[i] for i in range(7))
    step = _F64(2.0) ** -bits
    kf = k.astype(np.float64)
    v = kf + 0.5
    v *= step
    v_complement = _F64(2.0) ** bits - kf
    v_complement -= 0.5
    v_complement *= step
    v *= mass
    v += lower_tail  # below = lower_tail + v * mass
    v_complement *= mass
    v_complement += upper_tail  # above = upper_tail + (1 - v) * mass
    lower = v <= v_complement
    p = np.where(lower, v, v_complement)  # |signed probability|
    z = normal_quantile_central(p)
    tail = p - 0.5 < -0.425
    if tail.any():
        z[tail] = normal_quantile_tail(p[tail])
    np.negative(z, out=z, where=~lower)  # signed > 0 exactly when the lower tail is nearer
    z *= std
    z += mean
    return _clamp(z.astype(ftype), ftype(clamp_low), ftype(clamp_high))


def _round_half(values: NDArray[np.float32], bfloat16: bool) -> NDArray[np.uint16]:
    """float16 or bfloat16 bits of float32 ``values``, round to nearest even (``round_float16``/``round_bfloat16``)."""
    if not bfloat16:
        return values.astype(np.float16).view(np.uint16)
    bits = values.view(np.uint32)
    rounded = (bits >> np.uint32(16)) & np.uint32(1)
    rounded += bits
    rounded += np.uint32(0x7FFF)
    rounded >>= np.uint32(16)
    return rounded.astype(np.uint16)


# -- converters: one chunk of outputs from the words of their counters --------
#
# ``convert(words, lanes, params)`` returns the outputs of one chunk, flat.
# With ``lanes`` None the words are whole tiles, each array shaped
# (tiles, TILE_COUNTERS), and the outputs come in tile order; otherwise
# ``words`` hold each element's own counter and ``lanes`` its lane in the tile
# (0-3 for 32-bit outputs, 0-1 for float64 halves).

Converter = Callable[[Words, Any, Any], NDArray[Any]]


def _tile_words(words: Words) -> NDArray[np.uint64]:
    """A tile's words in output order: lane ``j`` of counter ``m`` at ``j*128 + m``."""
    return np.stack(words, axis=1).reshape(-1)


def _element_words(words: Words, lanes: NDArray[np.int64]) -> NDArray[np.uint64]:
    return np.choose(lanes, words)


def _words_of(words: Words, lanes: Any) -> NDArray[np.uint64]:
    return _tile_words(words) if lanes is None else _element_words(words, lanes)


def _halves_of(words: Words, lanes: Any) -> Tuple[NDArray[np.uint64], NDArray[np.uint64]]:
    """(high word, low word) of each float64 output: lanes (0, 1) for the first half, (2, 3) for the second."""
    if lanes is None:
        return (np.stack((words[0], words[2]), axis=1).reshape(-1),
                np.stack((words[1], words[3]), axis=1).reshape(-1))
    second = lanes == 1
    return np.where(second, words[2], words[0]), np.where(second, words[3], words[1])


def _convert_bits(words: Words, lanes: Any, params: Any) -> NDArray[np.uint32]:
    return _words_of(words, lanes).astype(np.uint32)


def _convert_uniform_f32(words: Words, lanes: Any, params: Any) -> NDArray[np.float32]:
    return _uniform_f32(_words_of(words, lanes), params)


def _convert_uniform_f64(words: Words, lanes: Any, params: Any) -> NDArray[np.float64]:
    return _uniform_f64(*_halves_of(words, lanes), params)


def _convert_normal_f32(words: Words, lanes: Any, params: Any) -> NDArray[np.float32]:
    # Lanes 2p and 2p + 1 share a Box–Muller pair: radius word 2p, angle word 2p + 1.
    if lanes is None:
        radius = np.stack((words[0], words[2]), axis=1)
        angle = np.stack((words[1], words[3]), axis=1)
        cos_out, sin_out = _normal_f32(radius, angle, params)
        return np.stack((cos_out, sin_out), axis=2).reshape(-1)
    second_pair = lanes >= 2
    radius = np.where(second_pair, words[2], words[0])
    angle = np.where(second_pair, words[3], words[1])
    cos_out, sin_out = _normal_f32(radius, angle, params)
    return np.where((lanes & 1) == 1, sin_out, cos_out)


def _convert_normal_f64(words: Words, lanes: Any, params: Any) -> NDArray[np.float64]:
    cos_out, sin_out = _normal_f64(words, params)
    if lanes is None:
        return np.stack((cos_out, sin_out), axis=1).reshape(-1)
    return np.where(lanes == 1, sin_out, cos_out)


def _convert_truncated_f32(words: Words, lanes: Any, params: Any) -> NDArray[np.float32]:
    return _truncated(_words_of(words, lanes), 32, params, np.float32)


def _convert_truncated_f64(words: Words, lanes: Any, params: Any) -> NDArray[np.float64]:
    return _truncated(_bits52(*_halves_of(words, lanes)), 52, params, np.float64)


def _half(convert: Converter) -> Callable[[Words, Any, Any], NDArray[np.uint16]]:
    """A 16-bit converter: the float32 converter's values, rounded (``params`` is (float32 params, bfloat16))."""

    def convert_half(words: Words, lanes: Any, params: Any) -> NDArray[np.uint16]:
        float32_params, bfloat16 = params
        return _round_half(convert(words, lanes, float32_params), bfloat16)

    return convert_half


# -- the fill driver (twin of _kernels._fill) -----------------------------------

def _fill(out: NDArray[Any], firsts: NDArray[np.int64], key_stream: NDArray[np.uint32], params: Any,
          convert: Converter, tile_size: int) -> None:
    """Row ``r`` of the 2-D C-contiguous ``out`` receives the global indices ``firsts[r] ...``."""
    if out.size == 0:
        return
    rows, length = out.shape
    if length >= tile_size:
        chunk_tiles = CHUNK_ELEMENTS // tile_size
        for r in range(rows):
            first = int(firsts[r])
            end = first + length
            tile = first // tile_size
            last_tile = (end - 1) // tile_size
            while tile <= last_tile:
                stop = min(tile + chunk_tiles, last_tile + 1)
                counters = np.arange(tile * _L, stop * _L, dtype=np.uint64).reshape(stop - tile, _L)
                values = convert(_philox(counters, key_stream), None, params)
                start = tile * tile_size
                lo, hi = max(first, start), min(end, stop * tile_size)
                out[r, lo - first : hi - first] = values[lo - start : hi - start]
                tile = stop
        return
    group = max(1, CHUNK_ELEMENTS // length)
    within = np.arange(length, dtype=np.int64)
    for r in range(0, rows, group):
        index = (firsts[r : r + group, None] + within).reshape(-1)
        tiles, position = np.divmod(index, tile_size)
        lanes, m = np.divmod(position, _L)
        counters = (tiles * _L + m).astype(np.uint64)
        out[r : r + group] = convert(_philox(counters, key_stream), lanes, params).reshape(-1, length)


def fill_bits(out: NDArray[np.uint32], firsts: NDArray[np.int64], key_stream: NDArray[np.uint32],
              params: NDArray[np.uint32]) -> None:
    """Raw stream words into the rows of uint32 ``out``."""
    _fill(out, firsts, key_stream, params, _convert_bits, WORDS_PER_TILE)


def fill_uniform_float32(out: NDArray[np.float32], firsts: NDArray[np.int64], key_stream: NDArray[np.uint32],
                         params: NDArray[np.float32]) -> None:
    """float32 uniform samples."""
    _fill(out, firsts, key_stream, params, _convert_uniform_f32, WORDS_PER_TILE)


def fill_normal_float32(out: NDArray[np.float32], firsts: NDArray[np.int64], key_stream: NDArray[np.uint32],
                        params: NDArray[np.float32]) -> None:
    """float32 normal samples."""
    _fill(out, firsts, key_stream, params, _convert_normal_f32, WORDS_PER_TILE)


def fill_uniform_float64(out: NDArray[np.float64], firsts: NDArray[np.int64], key_stream: NDArray[np.uint32],
                         params: NDArray[np.float64]) -> None:
    """float64 uniform samples."""
    _fill(out, firsts, key_stream, params, _convert_uniform_f64, WORDS_PER_TILE // 2)


def fill_normal_float64(out: NDArray[np.float64], firsts: NDArray[np.int64], key_stream: NDArray[np.uint32],
                        params: NDArray[np.float64]) -> None:
    """float64 normal samples."""
    _fill(out, firsts, key_stream, params, _convert_normal_f64, WORDS_PER_TILE // 2)


def fill_truncated_normal_float32(out: NDArray[np.float32], firsts: NDArray[np.int64],
                                  key_stream: NDArray[np.uint32], params: NDArray[np.float64]) -> None:
    """float32 truncated-normal samples."""
    _fill(out, firsts, key_stream, params, _convert_truncated_f32, WORDS_PER_TILE)


def fill_truncated_normal_float64(out: NDArray[np.float64], firsts: NDArray[np.int64],
                                  key_stream: NDArray[np.uint32], params: NDArray[np.float64]) -> None:
    """float64 truncated-normal samples."""
    _fill(out, firsts, key_stream, params, _convert_truncated_f64, WORDS_PER_TILE // 2)


def fill_uniform_half(out: NDArray[np.uint16], firsts: NDArray[np.int64], key_stream: NDArray[np.uint32],
                      params: NDArray[np.float32], bfloat16: bool) -> None:
    """float16 (or bfloat16) bits of the float32 uniform samples, into uint16 ``out``."""
    _fill(out, firsts, key_stream, (params, bfloat16), _half(_convert_uniform_f32), WORDS_PER_TILE)


def fill_normal_half(out: NDArray[np.uint16], firsts: NDArray[np.int64], key_stream: NDArray[np.uint32],
                     params: NDArray[np.float32], bfloat16: bool) -> None:
    """float16 (or bfloat16) bits of the float32 normal samples, into uint16 ``out``."""
    _fill(out, firsts, key_stream, (params, bfloat16), _half(_convert_normal_f32), WORDS_PER_TILE)


def fill_truncated_normal_half(out: NDArray[np.uint16], firsts: NDArray[np.int64], key_stream: NDArray[np.uint32],
                               params: NDArray[np.float64], bfloat16: bool) -> None:
    """float16 (or bfloat16) bits of the float32 truncated-normal samples."""
    _fill(out, firsts, key_stream, (params, bfloat16), _half(_convert_truncated_f32), WORDS_PER_TILE)
