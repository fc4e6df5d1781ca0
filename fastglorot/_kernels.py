"""Serial fill kernels over the fastglorot stream layout.

Stream layout (README "Stream format"): counters are processed in tiles of
``TILE_COUNTERS`` consecutive counters; tile ``t`` yields ``WORDS_PER_TILE``
words, lane ``j`` of counter ``t*TILE_COUNTERS + m`` landing at word
``t*WORDS_PER_TILE + j*TILE_COUNTERS + m``.  Writing each lane to its own
contiguous sub-block is what lets LLVM vectorize Philox across counters.

Each kernel fills a 1-D C-contiguous ``out`` whose element 0 has global index
``first``.  Per tile, Philox words go to a small L1-resident scratch and a
second pass turns them into outputs; the split lets the float pass run at
full 32-bit vector width (measured ~25 % faster than fusing them on AVX-512).
Tiles cut by the ends of ``out`` are computed whole into a scratch tile and
the needed part is copied, so every split of a range gives the same values.
Those partial tiles are handled outside the main loop: a branch inside it
stopped LLVM from vectorizing the hot path as well (~30 % slower).
"""

from __future__ import annotations

import numpy as np

from ._convert import (
    bits52,
    bits53,
    normal_radius_f32,
    round_bfloat16,
    round_float16,
    truncated_probability,
    uniform_f32,
    uniform_f64,
)
from ._elementary import (
    TERMS_F64,
    in_lower_tail,
    minus_two_log,
    normal_quantile_central,
    normal_quantile_tail,
    sincos_turn_f32,
    sincos_turn_f64,
)
from ._jit import ieee_sqrt, inline, kernel
from ._philox import philox4x32_10

__all__ = [
    "TILE_COUNTERS",
    "WORDS_PER_TILE",
    "fill_bits",
    "fill_uniform_float32",
    "fill_normal_float32",
    "fill_uniform_float64",
    "fill_normal_float64",
    "fill_truncated_normal_float32",
    "fill_truncated_normal_float64",
    "fill_uniform_half",
    "fill_normal_half",
    "fill_truncated_normal_half",
    "fill_constant",
    "tile_elements",
]

TILE_COUNTERS = 128
WORDS_PER_TILE = 4 * TILE_COUNTERS

_L = TILE_COUNTERS
_LOW32 = np.uint64(0xFFFFFFFF)


def tile_elements(itemsize: int) -> int:
    """Outputs per tile: one word per output of up to 4 bytes, two per 8-byte output."""
    return WORDS_PER_TILE // 2 if itemsize == 8 else WORDS_PER_TILE


@inline
def _philox_tile(words, tile, key_stream):
    """Write the ``WORDS_PER_TILE`` words of ``tile`` into ``words``."""
    k0, k1, s0, s1 = key_stream[0], key_stream[1], key_stream[2], key_stream[3]
    base = np.uint64(tile) * np.uint64(_L)
    for m in range(_L):
        counter = base + np.uint64(m)
        x0, x1, x2, x3 = philox4x32_10(
            np.uint32(counter & _LOW32), np.uint32(counter >> np.uint64(32)), s0, s1, k0, k1
        )
        words[m] = x0
        words[_L + m] = x1
        words[2 * _L + m] = x2
        words[3 * _L + m] = x3


# Tile converters: ``dst`` is one tile of outputs, ``words`` its Philox words.


@inline
def _copy_words(dst, words, params):
    for j in range(WORDS_PER_TILE):
        dst[j] = words[j]


@inline
def _uniform_f32_tile(dst, words, params):
    mid, scale, clamp_low, clamp_high = params[0], params[1], params[2], params[3]
    for j in range(WORDS_PER_TILE):
        dst[j] = uniform_f32(words[j], mid, scale, clamp_low, clamp_high)


@inline
def _normal_f32_tile(dst, words, params):
    mean, std = params[0], params[1]
    for pair in range(2):
        radius_at = 2 * pair * _L
        angle_at = radius_at + _L
        for m in range(_L):
            r = normal_radius_f32(words[radius_at + m]) * std
            sin_theta, cos_theta = sincos_turn_f32(words[angle_at + m])
            dst[radius_at + m] = mean + r * cos_theta
            dst[angle_at + m] = mean + r * sin_theta


@inline
def _uniform_f64_tile(dst, words, params):
    mid, scale, clamp_low, clamp_high = params[0], params[1], params[2], params[3]
    for half in range(2):
        high_at = 2 * half * _L
        for m in range(_L):
            k = bits53(words[high_at + m], words[high_at + _L + m])
            dst[half * _L + m] = uniform_f64(k, mid, scale, clamp_low, clamp_high)


@inline
def _normal_f64_tile(dst, words, params):
    mean, std = params[0], params[1]
    for m in range(_L):
        radius_bits = bits52(words[m], words[_L + m])
        angle_bits = bits52(words[2 * _L + m], words[3 * _L + m])
        r = ieee_sqrt(minus_two_log(np.float64(radius_bits) + 0.5, 52, TERMS_F64)) * std
        sin_theta, cos_theta = sincos_turn_f64(angle_bits)
        dst[m] = mean + r * cos_theta
        dst[_L + m] = mean + r * sin_theta


# Truncated normal: the central quantile for every element (vectorized), then
# the costly tail branch (a logarithm and two more rational functions) only
# for the elements that need it, gathered into a contiguous run so it
# vectorizes too: ~11 % of elements for the usual +-2 std truncation.  The
# state is (params, signed probability, z, tail positions, tail values),
# scratch arrays of one tile.


@inline
def truncated_state(params, tile_size):
    """Scratch for the truncated-normal tile converters (called inside kernels)."""
    return (params, np.empty(tile_size, np.float64), np.empty(tile_size, np.float64),
            np.empty(tile_size, np.int64), np.empty(tile_size, np.float64))


@inline
def _truncated_z(state, size):
    """Fill ``z`` with the standardized draws from the signed probabilities."""
    _, signed, z, tail_at, tail_p = state
    for j in range(size):
        p = abs(signed[j])
        central = normal_quantile_central(p)
        z[j] = central if signed[j] > 0 else -central
    count = 0
    for j in range(size):
        if in_lower_tail(abs(signed[j])):
            tail_at[count] = j
            tail_p[count] = abs(signed[j])
            count += 1
    for i in range(count):
        tail_p[i] = normal_quantile_tail(tail_p[i])
    for i in range(count):
        j = tail_at[i]
        z[j] = tail_p[i] if signed[j] > 0 else -tail_p[i]


@inline
def _truncated_f32_tile(dst, words, state):
    params, signed, z = state[0], state[1], state[2]
    lower_tail, upper_tail, mass = params[4], params[5], params[6]
    for j in range(WORDS_PER_TILE):
        signed[j] = truncated_probability(words[j], 32, lower_tail, upper_tail, mass)
    _truncated_z(state, WORDS_PER_TILE)
    mean, std = params[0], params[1]
    clamp_low, clamp_high = np.float32(params[2]), np.float32(params[3])
    for j in range(WORDS_PER_TILE):
        dst[j] = min(max(np.float32(mean + std * z[j]), clamp_low), clamp_high)


@inline
def _truncated_f64_tile(dst, words, state):
    params, signed, z = state[0], state[1], state[2]
    lower_tail, upper_tail, mass = params[4], params[5], params[6]
    for half in range(2):
        high_at = 2 * half * _L
        for m in range(_L):
            k = bits52(words[high_at + m], words[high_at + _L + m])
            signed[half * _L + m] = truncated_probability(k, 52, lower_tail, upper_tail, mass)
    _truncated_z(state, 2 * _L)
    mean, std, clamp_low, clamp_high = params[0], params[1], params[2], params[3]
    for j in range(2 * _L):
        dst[j] = min(max(mean + std * z[j], clamp_low), clamp_high)


# 16-bit outputs: the float32 tile into a scratch tile, then rounded.  The
# state is (float32 converter params, float32 scratch tile, is bfloat16).


@inline
def _round_tile(dst, values, bfloat16):
    if bfloat16:
        for j in range(WORDS_PER_TILE):
            dst[j] = round_bfloat16(values[j])
    else:
        for j in range(WORDS_PER_TILE):
            dst[j] = round_float16(values[j])


@inline
def _uniform_half_tile(dst, words, state):
    params, values, bfloat16 = state
    _uniform_f32_tile(values, words, params)
    _round_tile(dst, values, bfloat16)


@inline
def _normal_half_tile(dst, words, state):
    params, values, bfloat16 = state
    _normal_f32_tile(values, words, params)
    _round_tile(dst, values, bfloat16)


@inline
def _truncated_half_tile(dst, words, state):
    params, values, bfloat16 = state
    _truncated_f32_tile(values, words, params)
    _round_tile(dst, values, bfloat16)


@inline
def _partial_tile(out, first, tile, key_stream, params, convert, scratch):
    words, partial = scratch
    size = partial.size
    _philox_tile(words, tile, key_stream)
    convert(partial, words, params)
    start = tile * size
    lo = max(first - start, 0)
    hi = min(first + out.size - start, size)
    out[start + lo - first : start + hi - first] = partial[lo:hi]


@inline
def _fill(out, first, key_stream, params, convert, tile_size):
    """Drive ``convert`` over the tiles covering global indices ``first ...``."""
    end = first + out.size
    scratch = (np.empty(WORDS_PER_TILE, np.uint32), np.empty(tile_size, out.dtype))
    first_tile = first // tile_size
    last_tile = (end - 1) // tile_size
    # At most two tiles are cut by the ends of ``out``; one call site for both
    # keeps the inlined code (and compile time) small.
    for k in range(2 if last_tile > first_tile else 1):
        t = first_tile if k == 0 else last_tile
        if first > t * tile_size or end < (t + 1) * tile_size:
            _partial_tile(out, first, t, key_stream, params, convert, scratch)
    words = scratch[0]
    whole_begin = -(-first // tile_size)
    at = whole_begin * tile_size - first
    for i in range(end // tile_size - whole_begin):
        _philox_tile(words, whole_begin + i, key_stream)
        convert(out[at + i * tile_size : at + (i + 1) * tile_size], words, params)


@kernel
def fill_bits(out, first, key_stream, params):
    """Raw stream words ``first .. first + out.size - 1`` into uint32 ``out``."""
    if out.size:
        _fill(out, first, key_stream, params, _copy_words, WORDS_PER_TILE)


# One kernel per (distribution, dtype): each compiles only when first used.


@kernel
def fill_uniform_float32(out, first, key_stream, params):
    """float32 uniform samples for global indices ``first ...``."""
    if out.size:
        _fill(out, first, key_stream, params, _uniform_f32_tile, WORDS_PER_TILE)


@kernel
def fill_normal_float32(out, first, key_stream, params):
    """float32 normal samples for global indices ``first ...``."""
    if out.size:
        _fill(out, first, key_stream, params, _normal_f32_tile, WORDS_PER_TILE)


@kernel
def fill_uniform_float64(out, first, key_stream, params):
    """float64 uniform samples for global indices ``first ...``."""
    if out.size:
        _fill(out, first, key_stream, params, _uniform_f64_tile, WORDS_PER_TILE // 2)


@kernel
def fill_normal_float64(out, first, key_stream, params):
    """float64 normal samples for global indices ``first ...``."""
    if out.size:
        _fill(out, first, key_stream, params, _normal_f64_tile, WORDS_PER_TILE // 2)


@kernel
def fill_truncated_normal_float32(out, first, key_stream, params):
    """float32 truncated-normal samples for global indices ``first ...``."""
    if out.size:
        state = truncated_state(params, WORDS_PER_TILE)
        _fill(out, first, key_stream, state, _truncated_f32_tile, WORDS_PER_TILE)


@kernel
def fill_truncated_normal_float64(out, first, key_stream, params):
    """float64 truncated-normal samples for global indices ``first ...``."""
    if out.size:
        state = truncated_state(params, WORDS_PER_TILE // 2)
        _fill(out, first, key_stream, state, _truncated_f64_tile, WORDS_PER_TILE // 2)


@kernel
def fill_uniform_half(out, first, key_stream, params, bfloat16):
    """float16 (or bfloat16) bits of the float32 uniform samples, into uint16 ``out``."""
    if out.size:
        state = (params, np.empty(WORDS_PER_TILE, np.float32), bfloat16)
        _fill(out, first, key_stream, state, _uniform_half_tile, WORDS_PER_TILE)


@kernel
def fill_normal_half(out, first, key_stream, params, bfloat16):
    """float16 (or bfloat16) bits of the float32 normal samples, into uint16 ``out``."""
    if out.size:
        state = (params, np.empty(WORDS_PER_TILE, np.float32), bfloat16)
        _fill(out, first, key_stream, state, _normal_half_tile, WORDS_PER_TILE)


@kernel
def fill_truncated_normal_half(out, first, key_stream, params, bfloat16):
    """float16 (or bfloat16) bits of the float32 truncated-normal samples."""
    if out.size:
        state = (truncated_state(params, WORDS_PER_TILE), np.empty(WORDS_PER_TILE, np.float32), bfloat16)
        _fill(out, first, key_stream, state, _truncated_half_tile, WORDS_PER_TILE)


@kernel
def fill_constant(out, first, value):
    """``out[:] = value``: the memset-class baseline the benchmarks compare to.

    ``first`` is unused; it keeps the launcher's kernel signature.
    """
    for i in range(out.size):
        out[i] = value
