"""NumPy twins of the fill kernels: the same streams, bit for bit, without numba.

A fresh process pays for numba before its first kernel runs (importing
numba, then loading the kernel from the disk cache or compiling it).  A small
fill does not need that: stream format v1 is IEEE basic operations on
float32/float64 and exact integer steps (README "Stream format"), which NumPy
evaluates with the same roundings.  Every function here takes the arguments of
its namesake in ``_engines.kernels`` (``out``, a 2-D C-contiguous array whose row
``r`` holds the global indices ``firsts[r], firsts[r] + 1, ...``, the key and
stream words, the distribution's parameters) and writes the same bits.

The arithmetic is the kernels' own: the element functions of ``_format.stream_v1``,
run as plain Python on whole arrays (``_format.floatops``: NumPy adds no fused
multiply-adds, and ``np.sqrt`` is IEEE's correctly rounded square root, as
``llvm.sqrt``); only the drivers (which words an output takes) are NumPy's.

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

from .._format.constants import TILE_COUNTERS, WORDS_PER_TILE
from .._format.stream_v1 import (
    bits52,
    bits53,
    in_lower_tail,
    normal_pair_f32,
    normal_pair_f64,
    normal_quantile_central,
    normal_quantile_tail,
    philox4x32_10,
    round_bfloat16,
    round_float16,
    signed_quantile,
    truncated_f32,
    truncated_f64,
    truncated_probability,
    uniform_f32,
    uniform_f64,
)

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
_U32 = np.uint32
_U64 = np.uint64
_LOW32 = _U64(0xFFFFFFFF)

Words = Tuple[NDArray[np.uint32], NDArray[np.uint32], NDArray[np.uint32], NDArray[np.uint32]]
"""The four Philox output words of some counters (uint32 arrays)."""


def _philox(counters: NDArray[np.uint64], key_stream: NDArray[np.uint32]) -> Words:
    """Philox4x32-10 of the block indices ``counters`` (uint64) under the key and stream words."""
    c0 = (counters & _LOW32).astype(np.uint32)
    c1 = (counters >> _U64(32)).astype(np.uint32)
    c2 = np.full(counters.shape, key_stream[2], dtype=np.uint32)
    c3 = np.full(counters.shape, key_stream[3], dtype=np.uint32)
    words: Words = philox4x32_10(c0, c1, c2, c3, _U32(key_stream[0]), _U32(key_stream[1]))
    return words


def _uniform_f32(word: NDArray[np.uint32], params: NDArray[np.float32]) -> NDArray[np.float32]:
    result: NDArray[np.float32] = uniform_f32(word, params[0], params[1], params[2], params[3])
    return result


def _uniform_f64(high: NDArray[np.uint32], low: NDArray[np.uint32], params: NDArray[np.float64]
                 ) -> NDArray[np.float64]:
    result: NDArray[np.float64] = uniform_f64(bits53(high, low), params[0], params[1], params[2], params[3])
    return result


def _truncated(k: NDArray[Any], bits: int, params: NDArray[np.float64], float32: bool) -> NDArray[Any]:
    """Truncated-normal outputs from ``bits``-bit integers ``k``: the central quantile everywhere, the
    tail branch only where it is taken (as the CPU tile converters do)."""
    mean, std, clamp_low, clamp_high, lower_tail, upper_tail, mass = (params[i] for i in range(7))
    signed = truncated_probability(k, bits, lower_tail, upper_tail, mass)
    p = np.abs(signed)
    z = normal_quantile_central(p)
    tail = in_lower_tail(p)
    if tail.any():
        z[tail] = normal_quantile_tail(p[tail])
    z = signed_quantile(signed, z)
    result: NDArray[Any] = (truncated_f32 if float32 else truncated_f64)(z, mean, std, clamp_low, clamp_high)
    return result


def _round_half(values: NDArray[np.float32], bfloat16: bool) -> NDArray[np.uint16]:
    """float16 or bfloat16 bits of float32 ``values``, rounded to nearest even."""
    result: NDArray[np.uint16] = (round_bfloat16 if bfloat16 else round_float16)(values)
    return result


# -- converters: one chunk of outputs from the words of their counters --------
#
# ``convert(words, lanes, params)`` returns the outputs of one chunk, flat.
# With ``lanes`` None the words are whole tiles, each array shaped
# (tiles, TILE_COUNTERS), and the outputs come in tile order; otherwise
# ``words`` hold each element's own counter and ``lanes`` its lane in the tile
# (0-3 for 32-bit outputs, 0-1 for float64 halves).

Converter = Callable[[Words, Any, Any], NDArray[Any]]


def _tile_words(words: Words) -> NDArray[np.uint32]:
    """A tile's words in output order: lane ``j`` of counter ``m`` at ``j*128 + m``."""
    return np.stack(words, axis=1).reshape(-1)


def _element_words(words: Words, lanes: NDArray[np.int64]) -> NDArray[np.uint32]:
    return np.choose(lanes, words)


def _words_of(words: Words, lanes: Any) -> NDArray[np.uint32]:
    return _tile_words(words) if lanes is None else _element_words(words, lanes)


def _halves_of(words: Words, lanes: Any) -> Tuple[NDArray[np.uint32], NDArray[np.uint32]]:
    """(high word, low word) of each float64 output: lanes (0, 1) for the first half, (2, 3) for the second."""
    if lanes is None:
        return (np.stack((words[0], words[2]), axis=1).reshape(-1),
                np.stack((words[1], words[3]), axis=1).reshape(-1))
    second = lanes == 1
    return np.where(second, words[2], words[0]), np.where(second, words[3], words[1])


def _convert_bits(words: Words, lanes: Any, params: Any) -> NDArray[np.uint32]:
    return _words_of(words, lanes)


def _convert_uniform_f32(words: Words, lanes: Any, params: Any) -> NDArray[np.float32]:
    return _uniform_f32(_words_of(words, lanes), params)


def _convert_uniform_f64(words: Words, lanes: Any, params: Any) -> NDArray[np.float64]:
    return _uniform_f64(*_halves_of(words, lanes), params)


def _convert_normal_f32(words: Words, lanes: Any, params: Any) -> NDArray[np.float32]:
    # Lanes 2p and 2p + 1 share a Box–Muller pair: radius word 2p, angle word 2p + 1.
    if lanes is None:
        radius = np.stack((words[0], words[2]), axis=1)
        angle = np.stack((words[1], words[3]), axis=1)
        cos_out, sin_out = normal_pair_f32(radius, angle, params[0], params[1])
        return np.stack((cos_out, sin_out), axis=2).reshape(-1)
    second_pair = lanes >= 2
    radius = np.where(second_pair, words[2], words[0])
    angle = np.where(second_pair, words[3], words[1])
    cos_out, sin_out = normal_pair_f32(radius, angle, params[0], params[1])
    result: NDArray[np.float32] = np.where((lanes & 1) == 1, sin_out, cos_out)
    return result


def _convert_normal_f64(words: Words, lanes: Any, params: Any) -> NDArray[np.float64]:
    cos_out, sin_out = normal_pair_f64(words[0], words[1], words[2], words[3], params[0], params[1])
    if lanes is None:
        return np.stack((cos_out, sin_out), axis=1).reshape(-1)
    result: NDArray[np.float64] = np.where(lanes == 1, sin_out, cos_out)
    return result


def _convert_truncated_f32(words: Words, lanes: Any, params: Any) -> NDArray[np.float32]:
    return _truncated(_words_of(words, lanes), 32, params, True)


def _convert_truncated_f64(words: Words, lanes: Any, params: Any) -> NDArray[np.float64]:
    return _truncated(bits52(*_halves_of(words, lanes)), 52, params, False)


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
