"""Tile converters of the quantile elements: a cheap central value for every element, the costly tail branch only
for the elements that need it, gathered.

The templates here are bound by ``_engines.kernels`` (``_tile_converter``)
like its own: each distribution's converter is a copy whose globals bind the
placeholders below (PROBABILITY, VALUE, SPLIT, ...) to the element functions
its table row names (``_format.tables.Element``: kinds ``normal_quantile``,
format 1's truncated normal, and ``quantile``, format 2's float32 one).
Converters take ``(dst, words, state, m0, count, lane_lo, lane_hi)`` as the
kernels' others do (``_engines.kernels``); the state holds one tile of
scratch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Tuple, TypeVar

import numpy as np

from .._format.constants import TILE_COUNTERS
from .gather import SLACK, best_gather, vector_bytes
from .jit import inline
from .numba_elements import in_lower_tail, normal_quantile_central, normal_quantile_tail, signed_quantile

if TYPE_CHECKING:
    from numpy.typing import NDArray

    _Out = TypeVar("_Out", bound=np.generic)
    _State = TypeVar("_State")

    QuantileState = Tuple[Tuple[Any, ...], NDArray[np.float64], NDArray[np.float64], NDArray[np.int64],
                          NDArray[np.float64]]
    """(params, signed probability, z, tail positions, tail values): a two-word ``normal_quantile`` converter's
    state."""

    WordQuantileState = Tuple[Tuple[Any, ...], NDArray[np.float64], NDArray[np.uint8], NDArray[np.int32],
                              NDArray[np.uint32], NDArray[np.float64]]
    """(params, z, tail flags, tail positions, tail words, tail values): a one-word ``normal_quantile`` converter's
    state."""

    SplitState = Tuple[Tuple[Any, ...], NDArray[np.float32], NDArray[np.uint8], NDArray[np.int32],
                       NDArray[np.uint32], NDArray[np.float32]]
    """(params, z, tail flags, tail positions, tail words, tail values): a ``quantile`` converter's state."""

    HalfState = Tuple[_State, NDArray[np.float32], bool]
    """A 16-bit kernel's state: (float32 converter state, float32 scratch tile, is bfloat16)."""

__all__ = ["word_quantile_state", "quantile_state", "quantile_tile_1", "quantile_tile_2", "split_state", "split_quantile_tile_1",
           "own_state", "float32_state", "value_output", "rounded_output"]

_L = TILE_COUNTERS

PROBABILITY: Any = None
VALUE: Any = None
SPLIT: Any = None
CENTRAL: Any = None
IN_TAIL: Any = None
TAIL: Any = None
SIGNED: Any = None
OUTPUT: Any = None
TILE_STATE: Any = None
ROUND_IF_TRUE: Any = None
ROUND_IF_FALSE: Any = None
"""Bound in each template's copies (``_engines.kernels._tile_converter``); None in the templates themselves."""
GATHER: Any = best_gather()
"""The gather for numba's JIT target (``_engines.gather``)."""
WHOLE_F32 = vector_bytes() // 4
WHOLE_F64 = vector_bytes() // 8
"""float32 and float64 lanes of the JIT target's vectors: the tail loops run over whole vectors of them."""


# ``normal_quantile`` elements (format 1's truncated normal, float64
# inside): the signed probability of every element, the central quantile for
# every element (vectorized), then the costly tail branch (a logarithm and
# two more rational functions) only for the elements that need it, gathered
# into a contiguous run so it vectorizes too: ~11 % of elements for the usual
# +-2 std truncation, at random, so a branch would mispredict often.
#
# Elements of one word (float32 and 16-bit outputs) work as format 2's
# ``quantile`` tiles below: one pass for the central quantiles and tail
# flags, the tail elements' words gathered (GATHER), their probability
# computed again in the tail loop, over whole vectors.  Elements
# of two words (float64 outputs) keep every signed probability and gather
# the tail ones one at a time, without a branch.


@inline
def word_quantile_state(params: Tuple[Any, ...], tile_size: int) -> WordQuantileState:
    """A one-word ``normal_quantile`` converter's state: the parameters and one tile of scratch (the gathered
    arrays with ``gather.SLACK`` elements of room for whole-vector stores)."""
    return (params, np.empty(tile_size, np.float64), np.empty(tile_size, np.uint8),
            np.empty(tile_size + SLACK, np.int32), np.empty(tile_size + SLACK, np.uint32),
            np.empty(tile_size + SLACK, np.float64))


def quantile_tile_1(dst: NDArray[_Out], words: NDArray[np.uint32], state: WordQuantileState, m0: int, count: int,
                    lane_lo: int, lane_hi: int) -> None:
    """``normal_quantile`` element of one word."""
    params, z, flags, tail_at, tail_words, tail_z = state
    for lane in range(lane_lo, lane_hi):
        for m in range(m0, m0 + count):
            j = lane * _L + m
            signed = PROBABILITY(words[j], params)
            p = abs(signed)
            z[j] = signed_quantile(signed, normal_quantile_central(p))
            flags[j] = np.uint8(in_lower_tail(p))
    tails = GATHER(flags, words, tail_words, tail_at, lane_lo, lane_hi, m0, count)  # _engines.gather
    for i in range((tails + WHOLE_F64 - 1) & -WHOLE_F64):  # whole vectors, as in split_quantile_tile_1
        signed = PROBABILITY(tail_words[i], params)
        tail_z[i] = signed_quantile(signed, normal_quantile_tail(abs(signed)))
    for i in range(tails):
        z[tail_at[i]] = tail_z[i]
    for lane in range(lane_lo, lane_hi):
        for m in range(m0, m0 + count):
            j = lane * _L + m
            dst[j] = VALUE(z[j], params)


@inline
def quantile_state(params: Tuple[Any, ...], tile_size: int) -> QuantileState:
    """A two-word ``normal_quantile`` converter's state: the parameters and one tile of scratch."""
    return (params, np.empty(tile_size, np.float64), np.empty(tile_size, np.float64),
            np.empty(tile_size, np.int64), np.empty(tile_size, np.float64))


@inline
def _normal_quantiles(state: QuantileState, m0: int, count: int, lane_lo: int, lane_hi: int) -> None:
    """Fill ``z`` with ``sign * Phi^-1(|signed|)`` of the signed probabilities."""
    _, signed, z, tail_at, tail_p = state
    for lane in range(lane_lo, lane_hi):
        for m in range(m0, m0 + count):
            j = lane * _L + m
            z[j] = signed_quantile(signed[j], normal_quantile_central(abs(signed[j])))
    # Every element is written at the next free slot, which only a tail
    # element keeps: the branchy gather cost as much as the central quantile
    # itself (measured, AVX2), this one about a third of that.
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


def quantile_tile_2(dst: NDArray[_Out], words: NDArray[np.uint32], state: QuantileState, m0: int, count: int,
                     lane_lo: int, lane_hi: int) -> None:
    """``normal_quantile`` element of two words."""
    params, signed, z = state[0], state[1], state[2]
    for half in range(lane_lo, lane_hi):
        high_at = 2 * half * _L
        for m in range(m0, m0 + count):
            signed[half * _L + m] = PROBABILITY(words[high_at + m], words[high_at + _L + m], params)
    _normal_quantiles(state, m0, count, lane_lo, lane_hi)
    for half in range(lane_lo, lane_hi):
        for m in range(m0, m0 + count):
            j = half * _L + m
            dst[j] = VALUE(z[j], params)


# ``quantile`` elements (stream format 2's float32 truncated normal): as the
# ``normal_quantile`` tiles, in float32.  One pass gives every element its
# central quantile (CENTRAL of SPLIT's q; SPLIT's tail probability p is left
# unused there, so LLVM drops it) and its tail flag (IN_TAIL).  The words of
# the ~11 % of elements IN_TAIL are gathered into a contiguous run (GATHER:
# ``_engines.gather``, 16 or 8 at a time where the JIT target has AVX-512 or
# AVX2, else one at a time; the same slots either way).  The tail branch (a logarithm, a square root, two
# rationals) then runs on that run, vectorized, SPLIT again giving q and p,
# and its values overwrite the central ones.  Splitting the gathered words
# again instead of keeping every element's q and p, and running the tail
# over whole vectors, took Zen 4 from 3.52 to 3.16 cycles per element in a
# tile (Philox 1.09 of them; ``bench/bench_stream_format_v2.py --tiles``).


@inline
def split_state(params: Tuple[Any, ...], tile_size: int) -> SplitState:
    """A ``quantile`` converter's state: the parameters and one tile of scratch (the gathered arrays with
    ``gather.SLACK`` elements of room for 16-wide stores)."""
    return (params, np.empty(tile_size, np.float32), np.empty(tile_size, np.uint8),
            np.empty(tile_size + SLACK, np.int32), np.empty(tile_size + SLACK, np.uint32),
            np.empty(tile_size + SLACK, np.float32))


def split_quantile_tile_1(dst: NDArray[_Out], words: NDArray[np.uint32], state: SplitState, m0: int, count: int,
                           lane_lo: int, lane_hi: int) -> None:
    """``quantile`` element of one word."""
    params, z, flags, tail_at, tail_words, tail_z = TILE_STATE(state)
    for lane in range(lane_lo, lane_hi):
        for m in range(m0, m0 + count):
            j = lane * _L + m
            q = SPLIT(words[j], params)[0]
            z[j] = CENTRAL(q)
            flags[j] = np.uint8(IN_TAIL(q))  # bytes: Zen 4 stores 32 bytes a cycle
    tails = GATHER(flags, words, tail_words, tail_at, lane_lo, lane_hi, m0, count)  # _engines.gather
    # The run rounded up to whole vectors: the slack past it holds
    # stale or unset 32-bit values, any of them a valid word, whose results
    # are never read.  LLVM's remainder loops (4 wide, then scalar) cost as
    # much as the vectors on a run of ~56 elements.
    for i in range((tails + WHOLE_F32 - 1) & -WHOLE_F32):
        q, p = SPLIT(tail_words[i], params)
        tail_z[i] = SIGNED(q, TAIL(p, params))
    for i in range(tails):
        z[tail_at[i]] = tail_z[i]
    OUTPUT(dst, z, state, m0, count, lane_lo, lane_hi)


# The last pass of a ``quantile`` tile (OUTPUT), and where its scratch is in the state (TILE_STATE): float32
# kernels store VALUE; 16-bit kernels round it in that same pass, instead of storing a float32 tile and rounding it
# in another (``_engines.kernels._half_tile``): Zen 4 stores one 32-byte vector a cycle (bench/README.md).


@inline
def own_state(state: SplitState) -> SplitState:
    """A float32 ``quantile`` tile's state: its own."""
    return state


@inline
def float32_state(state: HalfState[SplitState]) -> SplitState:
    """A 16-bit ``quantile`` tile's state: the float32 converter's."""
    return state[0]


def value_output(dst: NDArray[_Out], z: NDArray[np.float32], state: Any, m0: int, count: int, lane_lo: int,
                  lane_hi: int) -> None:
    """``dst = VALUE(z)`` over the tile's lanes and counters."""
    params = TILE_STATE(state)[0]
    for lane in range(lane_lo, lane_hi):
        for m in range(m0, m0 + count):
            j = lane * _L + m
            dst[j] = VALUE(z[j], params)


def rounded_output(dst: NDArray[np.uint16], z: NDArray[np.float32], state: HalfState[Any], m0: int, count: int,
                    lane_lo: int, lane_hi: int) -> None:
    """``dst = round(VALUE(z))``, the 16-bit rounding the kernel's flag picks (``kernel_set.flag_roundings``)."""
    params = TILE_STATE(state)[0]
    if state[2]:
        for lane in range(lane_lo, lane_hi):
            for m in range(m0, m0 + count):
                j = lane * _L + m
                dst[j] = ROUND_IF_TRUE(VALUE(z[j], params))
    else:
        for lane in range(lane_lo, lane_hi):
            for m in range(m0, m0 + count):
                j = lane * _L + m
                dst[j] = ROUND_IF_FALSE(VALUE(z[j], params))
