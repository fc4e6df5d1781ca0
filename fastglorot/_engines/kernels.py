"""Serial fill kernels over the fastglorot stream layout.

Stream layout (README "Stream format"): counters are processed in tiles of
``TILE_COUNTERS`` consecutive counters; tile ``t`` yields ``WORDS_PER_TILE``
words, lane ``j`` of counter ``t*TILE_COUNTERS + m`` landing at word
``t*WORDS_PER_TILE + j*TILE_COUNTERS + m``.  Writing each lane to its own
contiguous sub-block is what lets LLVM vectorize Philox across counters.

Each kernel fills the rows of a 2-D C-contiguous ``out``: row ``r`` holds the
consecutive global indices ``firsts[r], firsts[r] + 1, ...``.  A whole array
is one row; a rectangular block of a larger tensor (README "Sharding and
blocks") is one row per run of its last axes.  Per tile, Philox words go to a
small L1-resident scratch and a second pass turns them into outputs; the
split lets the float pass run at full 32-bit vector width, which measured
faster than fusing the two (``bench/bench_launch.py`` times the tile
converters).

Tiles cut by the ends of a row are computed into a scratch tile and the
needed part is copied, so every split of a range gives the same values.  Only
what the row needs is computed: tile element ``r`` depends on counter
``r % TILE_COUNTERS`` alone, so a row cutting a tile needs one or two runs of
counters (computed in groups of 32) and only the lanes it covers are
converted; a narrow row costs at most the four lanes of each counter it
touches, not the whole tile.

Converters take ``count`` counters from ``m0`` and a range of element lanes.
Whole and partial tiles share one call site of Philox and of the converter
(``_fill_run``): numba inlines at IR level, so every call site costs typing
and lowering time on first use, and one site instead of two shortens the
first compile (``bench/bench_compile.py``).  Whole tiles pass all 128
counters, partial tiles groups of 32; the inner loops vectorize either way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Tuple, TypeVar

import numpy as np

from .._format.constants import TILE_COUNTERS, WORDS_PER_TILE, tile_elements
from .jit import inline, kernel
from .numba_elements import (
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

if TYPE_CHECKING:
    from numpy.typing import NDArray

    _Out = TypeVar("_Out", bound=np.generic)
    _State = TypeVar("_State")

    Converter = Callable[[NDArray[_Out], NDArray[np.uint32], _State, int, int, int, int], None]
    """``convert(dst, words, state, m0, count, lane_lo, lane_hi)``: one tile's outputs from its words."""

    TruncatedState = Tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64],
                           NDArray[np.int64], NDArray[np.float64]]
    """(params, signed probability, z, tail positions, tail values)."""

    HalfState = Tuple[_State, NDArray[np.float32], bool]
    """(float32 converter state, float32 scratch tile, is bfloat16)."""

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
    "tile_elements",
]

_L = TILE_COUNTERS
_GROUP = 32
"""Counters computed together in a tile cut by the end of a row."""
_LOW32 = np.uint64(0xFFFFFFFF)


@inline
def _philox_tile(words: NDArray[np.uint32], tile: int, key_stream: NDArray[np.uint32], m0: int, count: int) -> None:
    """Write the words of counters ``m0 .. m0 + count - 1`` of ``tile`` into ``words`` (lane by lane)."""
    k0, k1, s0, s1 = key_stream[0], key_stream[1], key_stream[2], key_stream[3]
    base = np.uint64(tile) * np.uint64(_L)
    for m in range(m0, m0 + count):
        counter = base + np.uint64(m)
        x0, x1, x2, x3 = philox4x32_10(
            np.uint32(counter & _LOW32), np.uint32(counter >> np.uint64(32)), s0, s1, k0, k1
        )
        words[m] = x0
        words[_L + m] = x1
        words[2 * _L + m] = x2
        words[3 * _L + m] = x3


# Tile converters: ``dst`` is one tile of outputs, ``words`` its Philox words;
# each converts the outputs of counters ``m0 .. m0 + count - 1`` in the
# element lanes ``lane_lo .. lane_hi - 1`` (tile element ``r`` is in lane
# ``r // _L``: four lanes in a float32 tile, two in a float64 tile).


@inline
def _copy_words(dst: NDArray[np.uint32], words: NDArray[np.uint32], params: object, m0: int, count: int,
                lane_lo: int, lane_hi: int) -> None:
    for lane in range(lane_lo, lane_hi):
        for m in range(m0, m0 + count):
            dst[lane * _L + m] = words[lane * _L + m]


@inline
def _uniform_f32_tile(dst: NDArray[np.float32], words: NDArray[np.uint32], params: NDArray[np.float32], m0: int,
                      count: int, lane_lo: int, lane_hi: int) -> None:
    mid, scale, clamp_low, clamp_high = params[0], params[1], params[2], params[3]
    for lane in range(lane_lo, lane_hi):
        for m in range(m0, m0 + count):
            j = lane * _L + m
            dst[j] = uniform_f32(words[j], mid, scale, clamp_low, clamp_high)


@inline
def _normal_f32_tile(dst: NDArray[np.float32], words: NDArray[np.uint32], params: NDArray[np.float32], m0: int,
                     count: int, lane_lo: int, lane_hi: int) -> None:
    mean, std = params[0], params[1]
    for pair in range(lane_lo // 2, (lane_hi + 1) // 2):  # lanes 2p, 2p + 1 share one Box-Muller pair
        radius_at = 2 * pair * _L
        angle_at = radius_at + _L
        for m in range(m0, m0 + count):
            dst[radius_at + m], dst[angle_at + m] = normal_pair_f32(words[radius_at + m], words[angle_at + m],
                                                                    mean, std)


@inline
def _uniform_f64_tile(dst: NDArray[np.float64], words: NDArray[np.uint32], params: NDArray[np.float64], m0: int,
                      count: int, lane_lo: int, lane_hi: int) -> None:
    mid, scale, clamp_low, clamp_high = params[0], params[1], params[2], params[3]
    for half in range(lane_lo, lane_hi):
        high_at = 2 * half * _L
        for m in range(m0, m0 + count):
            k = bits53(words[high_at + m], words[high_at + _L + m])
            dst[half * _L + m] = uniform_f64(k, mid, scale, clamp_low, clamp_high)


@inline
def _normal_f64_tile(dst: NDArray[np.float64], words: NDArray[np.uint32], params: NDArray[np.float64], m0: int,
                     count: int, lane_lo: int, lane_hi: int) -> None:
    # Both lanes (cosine and sine) come from one Box-Muller pair: no lane choice.
    mean, std = params[0], params[1]
    for m in range(m0, m0 + count):
        dst[m], dst[_L + m] = normal_pair_f64(words[m], words[_L + m], words[2 * _L + m], words[3 * _L + m],
                                              mean, std)


# Truncated normal: the central quantile for every element (vectorized), then
# the costly tail branch (a logarithm and two more rational functions) only
# for the elements that need it, gathered into a contiguous run so it
# vectorizes too: ~11 % of elements for the usual +-2 std truncation.  The
# state is (params, signed probability, z, tail positions, tail values),
# scratch arrays of one tile.


@inline
def truncated_state(params: NDArray[np.float64], tile_size: int) -> TruncatedState:
    """Scratch for the truncated-normal tile converters (called inside kernels)."""
    return (params, np.empty(tile_size, np.float64), np.empty(tile_size, np.float64),
            np.empty(tile_size, np.int64), np.empty(tile_size, np.float64))


@inline
def _truncated_z(state: TruncatedState, m0: int, count: int, lane_lo: int, lane_hi: int) -> None:
    """Fill ``z`` with the standardized draws from the signed probabilities."""
    _, signed, z, tail_at, tail_p = state
    for lane in range(lane_lo, lane_hi):
        for m in range(m0, m0 + count):
            j = lane * _L + m
            z[j] = signed_quantile(signed[j], normal_quantile_central(abs(signed[j])))
    # Gather the tail elements without a branch: every element is written at
    # the next free slot, which only a tail element keeps.  ~11 % of the
    # elements are in the tail, at random, so a branch mispredicts often: the
    # branchy gather cost as much as the central quantile itself (measured,
    # AVX2), the branch-free one about a third of that.
    tails = 0
    for lane in range(lane_lo, lane_hi):
        for m in range(m0, m0 + count):
            j = lane * _L + m
            p = abs(signed[j])
            tail_at[tails] = j
            tail_p[tails] = p
            tails += int(in_lower_tail(p))
    for i in range(tails):
        tail_p[i] = normal_quantile_tail(tail_p[i])
    for i in range(tails):
        j = tail_at[i]
        z[j] = signed_quantile(signed[j], tail_p[i])


@inline
def _truncated_f32_tile(dst: NDArray[np.float32], words: NDArray[np.uint32], state: TruncatedState, m0: int,
                        count: int, lane_lo: int, lane_hi: int) -> None:
    params, signed, z = state[0], state[1], state[2]
    lower_tail, upper_tail, mass = params[4], params[5], params[6]
    for lane in range(lane_lo, lane_hi):
        for m in range(m0, m0 + count):
            j = lane * _L + m
            signed[j] = truncated_probability(words[j], 32, lower_tail, upper_tail, mass)
    _truncated_z(state, m0, count, lane_lo, lane_hi)
    mean, std, clamp_low, clamp_high = params[0], params[1], params[2], params[3]
    for lane in range(lane_lo, lane_hi):
        for m in range(m0, m0 + count):
            j = lane * _L + m
            dst[j] = truncated_f32(z[j], mean, std, clamp_low, clamp_high)


@inline
def _truncated_f64_tile(dst: NDArray[np.float64], words: NDArray[np.uint32], state: TruncatedState, m0: int,
                        count: int, lane_lo: int, lane_hi: int) -> None:
    params, signed, z = state[0], state[1], state[2]
    lower_tail, upper_tail, mass = params[4], params[5], params[6]
    for half in range(lane_lo, lane_hi):
        high_at = 2 * half * _L
        for m in range(m0, m0 + count):
            k = bits52(words[high_at + m], words[high_at + _L + m])
            signed[half * _L + m] = truncated_probability(k, 52, lower_tail, upper_tail, mass)
    _truncated_z(state, m0, count, lane_lo, lane_hi)
    mean, std, clamp_low, clamp_high = params[0], params[1], params[2], params[3]
    for half in range(lane_lo, lane_hi):
        for m in range(m0, m0 + count):
            j = half * _L + m
            dst[j] = truncated_f64(z[j], mean, std, clamp_low, clamp_high)


# 16-bit outputs: the float32 tile into a scratch tile, then rounded.  The
# state is (float32 converter params, float32 scratch tile, is bfloat16).


@inline
def _round_tile(dst: NDArray[np.uint16], values: NDArray[np.float32], bfloat16: bool, m0: int, count: int,
                lane_lo: int, lane_hi: int) -> None:
    if bfloat16:
        for lane in range(lane_lo, lane_hi):
            for m in range(m0, m0 + count):
                dst[lane * _L + m] = round_bfloat16(values[lane * _L + m])
    else:
        for lane in range(lane_lo, lane_hi):
            for m in range(m0, m0 + count):
                dst[lane * _L + m] = round_float16(values[lane * _L + m])


@inline
def _uniform_half_tile(dst: NDArray[np.uint16], words: NDArray[np.uint32], state: HalfState[NDArray[np.float32]],
                       m0: int, count: int, lane_lo: int, lane_hi: int) -> None:
    params, values, bfloat16 = state
    _uniform_f32_tile(values, words, params, m0, count, lane_lo, lane_hi)
    _round_tile(dst, values, bfloat16, m0, count, lane_lo, lane_hi)


@inline
def _normal_half_tile(dst: NDArray[np.uint16], words: NDArray[np.uint32], state: HalfState[NDArray[np.float32]],
                      m0: int, count: int, lane_lo: int, lane_hi: int) -> None:
    params, values, bfloat16 = state
    _normal_f32_tile(values, words, params, m0, count, lane_lo, lane_hi)
    _round_tile(dst, values, bfloat16, m0, count, lane_lo, lane_hi)


@inline
def _truncated_half_tile(dst: NDArray[np.uint16], words: NDArray[np.uint32], state: HalfState[TruncatedState],
                         m0: int, count: int, lane_lo: int, lane_hi: int) -> None:
    params, values, bfloat16 = state
    _truncated_f32_tile(values, words, params, m0, count, lane_lo, lane_hi)
    _round_tile(dst, values, bfloat16, m0, count, lane_lo, lane_hi)


@inline
def _fill_run(out: NDArray[_Out], first: int, key_stream: NDArray[np.uint32], params: _State,
              convert: Converter[_Out, _State], scratch: Tuple[NDArray[np.uint32], NDArray[_Out]],
              tile_size: int) -> None:
    """Drive ``convert`` over the tiles covering global indices ``first ...``.

    Whole tiles are converted straight into ``out``; the (at most two) tiles
    cut by the ends of ``out`` go through the scratch tile, and only what
    they cover is computed.  Tile element ``r`` depends on counter
    ``r % _L`` only, so covered elements ``[lo, hi)`` need the counters
    ``[lo % _L, (hi - 1) % _L]`` (wrapping around once when the run crosses
    a lane boundary), and only the lanes ``lo // _L .. (hi - 1) // _L``.

    Whole tiles take all ``_L`` counters at once, partial tiles groups of
    ``_GROUP``: short loops over an arbitrary counter range ran slower per
    counter than these two trip counts.  One call site of ``convert`` and of
    Philox serves whole and partial tiles: numba inlines at IR level, so every
    call site costs typing and lowering time on a cold first call
    (``bench/bench_compile.py`` measures it).
    """
    words, partial = scratch
    end = first + out.size
    for tile in range(first // tile_size, (end - 1) // tile_size + 1):
        start = tile * tile_size
        lo = max(first - start, 0)
        hi = min(end - start, tile_size)
        whole = hi - lo == tile_size
        dst = out[start - first : start - first + tile_size] if whole else partial
        lane_lo = 0 if whole else lo // _L
        lane_hi = tile_size // _L if whole else (hi - 1) // _L + 1
        count = _L if whole else _GROUP
        g_lo, g_hi = (lo % _L) // count, ((hi - 1) % _L) // count
        wraps = lo // _L != (hi - 1) // _L  # the run crosses a lane boundary
        for g in range(_L // count):
            # Group g is needed if the run spans a whole lane, or g lies in the
            # (possibly wrapped) range of groups from g_lo to g_hi.
            if hi - lo >= _L or ((g >= g_lo or g <= g_hi) if wraps else g_lo <= g <= g_hi):
                _philox_tile(words, tile, key_stream, g * count, count)
                convert(dst, words, params, g * count, count, lane_lo, lane_hi)
        if not whole:
            # An element loop, not a slice assignment: numba's slice
            # assignment carries a shape check whose error message compiles
            # its string formatting machinery, ~2.5 s of the first compile
            # in every process (measured, AVX2).
            for j in range(lo, hi):
                out[start - first + j] = partial[j]


@inline
def _fill(out: NDArray[_Out], firsts: NDArray[np.int64], key_stream: NDArray[np.uint32], params: _State,
          convert: Converter[_Out, _State], tile_size: int) -> None:
    """Row ``r`` of ``out`` receives the global indices ``firsts[r] ...``."""
    if out.size:
        scratch = (np.empty(WORDS_PER_TILE, np.uint32), np.empty(tile_size, out.dtype))
        for r in range(out.shape[0]):
            _fill_run(out[r], firsts[r], key_stream, params, convert, scratch, tile_size)


@kernel
def fill_bits(out: NDArray[np.uint32], firsts: NDArray[np.int64], key_stream: NDArray[np.uint32],
              params: NDArray[np.uint32]) -> None:
    """Raw stream words into the rows of uint32 ``out`` (row ``r`` from index ``firsts[r]``)."""
    _fill(out, firsts, key_stream, params, _copy_words, WORDS_PER_TILE)


# One kernel per (distribution, dtype): each compiles only when first used.
# Every kernel fills the rows of a 2-D C-contiguous ``out``, row ``r`` from
# global index ``firsts[r]``.


@kernel
def fill_uniform_float32(out: NDArray[np.float32], firsts: NDArray[np.int64], key_stream: NDArray[np.uint32],
                         params: NDArray[np.float32]) -> None:
    """float32 uniform samples."""
    _fill(out, firsts, key_stream, params, _uniform_f32_tile, WORDS_PER_TILE)


@kernel
def fill_normal_float32(out: NDArray[np.float32], firsts: NDArray[np.int64], key_stream: NDArray[np.uint32],
                        params: NDArray[np.float32]) -> None:
    """float32 normal samples."""
    _fill(out, firsts, key_stream, params, _normal_f32_tile, WORDS_PER_TILE)


@kernel
def fill_uniform_float64(out: NDArray[np.float64], firsts: NDArray[np.int64], key_stream: NDArray[np.uint32],
                         params: NDArray[np.float64]) -> None:
    """float64 uniform samples."""
    _fill(out, firsts, key_stream, params, _uniform_f64_tile, WORDS_PER_TILE // 2)


@kernel
def fill_normal_float64(out: NDArray[np.float64], firsts: NDArray[np.int64], key_stream: NDArray[np.uint32],
                        params: NDArray[np.float64]) -> None:
    """float64 normal samples."""
    _fill(out, firsts, key_stream, params, _normal_f64_tile, WORDS_PER_TILE // 2)


@kernel
def fill_truncated_normal_float32(out: NDArray[np.float32], firsts: NDArray[np.int64], key_stream: NDArray[np.uint32],
                                  params: NDArray[np.float64]) -> None:
    """float32 truncated-normal samples."""
    state = truncated_state(params, WORDS_PER_TILE)
    _fill(out, firsts, key_stream, state, _truncated_f32_tile, WORDS_PER_TILE)


@kernel
def fill_truncated_normal_float64(out: NDArray[np.float64], firsts: NDArray[np.int64], key_stream: NDArray[np.uint32],
                                  params: NDArray[np.float64]) -> None:
    """float64 truncated-normal samples."""
    state = truncated_state(params, WORDS_PER_TILE // 2)
    _fill(out, firsts, key_stream, state, _truncated_f64_tile, WORDS_PER_TILE // 2)


@kernel
def fill_uniform_half(out: NDArray[np.uint16], firsts: NDArray[np.int64], key_stream: NDArray[np.uint32],
                      params: NDArray[np.float32], bfloat16: bool) -> None:
    """float16 (or bfloat16) bits of the float32 uniform samples, into uint16 ``out``."""
    state = (params, np.empty(WORDS_PER_TILE, np.float32), bfloat16)
    _fill(out, firsts, key_stream, state, _uniform_half_tile, WORDS_PER_TILE)


@kernel
def fill_normal_half(out: NDArray[np.uint16], firsts: NDArray[np.int64], key_stream: NDArray[np.uint32],
                     params: NDArray[np.float32], bfloat16: bool) -> None:
    """float16 (or bfloat16) bits of the float32 normal samples, into uint16 ``out``."""
    state = (params, np.empty(WORDS_PER_TILE, np.float32), bfloat16)
    _fill(out, firsts, key_stream, state, _normal_half_tile, WORDS_PER_TILE)


@kernel
def fill_truncated_normal_half(out: NDArray[np.uint16], firsts: NDArray[np.int64], key_stream: NDArray[np.uint32],
                               params: NDArray[np.float64], bfloat16: bool) -> None:
    """float16 (or bfloat16) bits of the float32 truncated-normal samples."""
    state = (truncated_state(params, WORDS_PER_TILE), np.empty(WORDS_PER_TILE, np.float32), bfloat16)
    _fill(out, firsts, key_stream, state, _truncated_half_tile, WORDS_PER_TILE)
