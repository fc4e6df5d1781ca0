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

No code here names a distribution: the kernel set comes from the format
tables (``_engines.kernel_set``), and each kernel is a copy of one template
whose globals bind the tile converter of its table row (``_tile_converter``:
the template for the row's way of reading words, bound to its element
functions), so a distribution is one row of ``_format.tables.DISTRIBUTIONS``
plus its element functions.  The copies are named after the kernels
(``fill_uniform_float32``, ...), which also names their files in numba's
disk cache.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, Tuple, TypeVar, cast

import numpy as np
from numba.np.unsafe.ndarray import to_fixed_tuple as _to_fixed_tuple

from .._format.constants import TILE_COUNTERS, WORDS_PER_TILE, tile_elements
from .._format.floatops import with_globals
from .._format.tables import DISTRIBUTIONS, STREAM_FORMATS, Element
from . import numba_elements as _numba_elements
from . import quantile_tiles as _quantile_tiles
from .kernel_set import element_globals, flag_roundings, kernel_specs
from .jit import inline, kernel
from .numba_elements import philox4x32_10

if TYPE_CHECKING:
    from numpy.typing import NDArray

    _Out = TypeVar("_Out", bound=np.generic)
    _State = TypeVar("_State")

    Converter = Callable[[NDArray[_Out], NDArray[np.uint32], _State, int, int, int, int], None]
    """``convert(dst, words, state, m0, count, lane_lo, lane_hi)``: one tile's outputs from its words."""

    from .quantile_tiles import HalfState


__all__ = [
    "TILE_COUNTERS",
    "WORDS_PER_TILE",
    "tile_elements",
    "TILE_CONVERTERS",
    "KERNELS",
]

to_fixed_tuple: Callable[[NDArray[Any], int], Tuple[Any, ...]] = cast(Any, _to_fixed_tuple)
"""numba's ``to_fixed_tuple(array, length)`` (``length`` a compile-time constant), typed for its callers here."""

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
#
# The converters are templates, one per way of reading words
# (``_format.tables.Element``: its kind and words per output); a
# distribution's converter is a copy whose globals bind ELEMENT (or
# PROBABILITY and VALUE) to the element functions its table row names
# (``_bound``, at the end of the module), so no code here names a
# distribution.  The state is the parameters as a tuple (``_value_state``;
# the quantile elements add scratch: ``quantile_tiles``).

ELEMENT: Any = None
FLOAT32_TILE: Any = None
"""Bound in each template's copies (``_bound``); None in the templates themselves."""


def _value_tile_1(dst: NDArray[_Out], words: NDArray[np.uint32], params: Tuple[Any, ...], m0: int, count: int,
                  lane_lo: int, lane_hi: int) -> None:
    """``value`` element of one word: lane ``j`` of counter ``m`` reads word ``j``."""
    for lane in range(lane_lo, lane_hi):
        for m in range(m0, m0 + count):
            j = lane * _L + m
            dst[j] = ELEMENT(words[j], params)


def _value_tile_2(dst: NDArray[_Out], words: NDArray[np.uint32], params: Tuple[Any, ...], m0: int, count: int,
                  lane_lo: int, lane_hi: int) -> None:
    """``value`` element of two words: lane ``h`` reads words ``2h`` (high) and ``2h + 1``."""
    for half in range(lane_lo, lane_hi):
        high_at = 2 * half * _L
        for m in range(m0, m0 + count):
            dst[half * _L + m] = ELEMENT(words[high_at + m], words[high_at + _L + m], params)


def _pair_tile_1(dst: NDArray[_Out], words: NDArray[np.uint32], params: Tuple[Any, ...], m0: int, count: int,
                 lane_lo: int, lane_hi: int) -> None:
    """``pair`` element of one word per output: lanes ``2p, 2p + 1`` from words ``2p, 2p + 1``."""
    for pair in range(lane_lo // 2, (lane_hi + 1) // 2):
        first_at = 2 * pair * _L
        second_at = first_at + _L
        for m in range(m0, m0 + count):
            dst[first_at + m], dst[second_at + m] = ELEMENT(words[first_at + m], words[second_at + m], params)


def _pair_tile_2(dst: NDArray[_Out], words: NDArray[np.uint32], params: Tuple[Any, ...], m0: int, count: int,
                 lane_lo: int, lane_hi: int) -> None:
    """``pair`` element of two words per output: both lanes from all four words (no lane choice)."""
    for m in range(m0, m0 + count):
        dst[m], dst[_L + m] = ELEMENT(words[m], words[_L + m], words[2 * _L + m], words[3 * _L + m], params)


@inline
def _value_state(params: Tuple[Any, ...], tile_size: int) -> Tuple[Any, ...]:
    """A ``value`` or ``pair`` converter's state: the parameters."""
    return params


# 16-bit outputs: the float32 tile into a scratch tile, then rounded
# (``_half_tile``); the state is (float32 converter state, float32 scratch
# tile, is bfloat16).  The ``quantile`` tiles round in their own last pass
# instead (``quantile_tiles.rounded_output``).

ROUND_IF_TRUE: Any = None
ROUND_IF_FALSE: Any = None
ROUND_TILE: Any = None


def _round_tile(dst: NDArray[np.uint16], values: NDArray[np.float32], flag: bool, m0: int, count: int,
                lane_lo: int, lane_hi: int) -> None:
    """The 16-bit rounding the kernel's flag picks (``kernel_set.flag_roundings``), of a float32 tile."""
    if flag:
        for lane in range(lane_lo, lane_hi):
            for m in range(m0, m0 + count):
                dst[lane * _L + m] = ROUND_IF_TRUE(values[lane * _L + m])
    else:
        for lane in range(lane_lo, lane_hi):
            for m in range(m0, m0 + count):
                dst[lane * _L + m] = ROUND_IF_FALSE(values[lane * _L + m])


def _half_tile(dst: NDArray[np.uint16], words: NDArray[np.uint32], state: HalfState[Any], m0: int, count: int,
               lane_lo: int, lane_hi: int) -> None:
    """The float32 converter ``FLOAT32_TILE`` into the scratch tile, rounded to 16 bits (``ROUND_TILE``)."""
    params, values, flag = state
    FLOAT32_TILE(values, words, params, m0, count, lane_lo, lane_hi)
    ROUND_TILE(dst, values, flag, m0, count, lane_lo, lane_hi)


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


# The kernels: one per (distribution, format family), each compiling only
# when first used.  Every kernel fills the rows of a 2-D C-contiguous ``out``,
# row ``r`` from global index ``firsts[r]``; ``params`` is the parameter
# array of ``_format.params`` (``PARAM_COUNT`` values), turned into a tuple
# once per call.  Copies of these two templates (``_bound``) bind CONVERT,
# STATE, TILE and PARAM_COUNT.

CONVERT: Any = None
STATE: Any = None
TILE = WORDS_PER_TILE
PARAM_COUNT = 1


def _fill_template(out: NDArray[Any], firsts: NDArray[np.int64], key_stream: NDArray[np.uint32],
                   params: NDArray[Any]) -> None:
    _fill(out, firsts, key_stream, STATE(to_fixed_tuple(params, PARAM_COUNT), TILE), CONVERT, TILE)


def _fill_half_template(out: NDArray[np.uint16], firsts: NDArray[np.int64], key_stream: NDArray[np.uint32],
                        params: NDArray[Any], bfloat16: bool) -> None:
    state = (STATE(to_fixed_tuple(params, PARAM_COUNT), WORDS_PER_TILE), np.empty(WORDS_PER_TILE, np.float32),
             bfloat16)
    _fill(out, firsts, key_stream, state, CONVERT, WORDS_PER_TILE)


_STATES = {("value", 1): _value_state, ("value", 2): _value_state, ("pair", 1): _value_state,
           ("pair", 2): _value_state, ("normal_quantile", 1): _quantile_tiles.word_quantile_state,
           ("normal_quantile", 2): _quantile_tiles.quantile_state, ("quantile", 1): _quantile_tiles.split_state}
"""The converter state of each (``Element.kind``, ``Element.words``)."""

_TILE_TEMPLATES: Dict[Tuple[str, int], Callable[..., None]] = {
    ("value", 1): _value_tile_1,
    ("value", 2): _value_tile_2,
    ("pair", 1): _pair_tile_1,
    ("pair", 2): _pair_tile_2,
    ("normal_quantile", 1): _quantile_tiles.quantile_tile_1,
    ("normal_quantile", 2): _quantile_tiles.quantile_tile_2,
    ("quantile", 1): _quantile_tiles.split_quantile_tile_1,
}
"""The tile converter template of each (``Element.kind``, ``Element.words``)."""


def _bound(template: Callable[..., Any], name: str, doc: str, **bound: Any) -> Any:
    """A copy of ``template`` named ``name`` whose globals are its module's with ``bound`` in place."""
    copy = with_globals(template, {**getattr(template, "__globals__"), **bound}, name)
    copy.__doc__ = doc
    return copy


def _tile_converter(element: Element, rounded: bool = False) -> Any:
    """The tile converter of one table :class:`~fastglorot._format.tables.Element`; ``rounded``: the 16-bit
    kernels' converter of a ``quantile`` element, which rounds in its last pass."""
    names = element_globals(element, [getattr(_numba_elements, name) for name in element.functions])
    if element.kind == "quantile":
        q = _quantile_tiles
        if_false, if_true = flag_roundings()
        tile_state = q.float32_state if rounded else q.own_state
        output = _bound(q.rounded_output, "rounded_output", q.rounded_output.__doc__ or "", TILE_STATE=tile_state,
                        ROUND_IF_FALSE=getattr(_numba_elements, if_false),
                        ROUND_IF_TRUE=getattr(_numba_elements, if_true), **names) if rounded else \
            _bound(q.value_output, "value_output", q.value_output.__doc__ or "", TILE_STATE=tile_state, **names)
        names.update(OUTPUT=inline(output), TILE_STATE=tile_state)
    template = _TILE_TEMPLATES[element.kind, element.words]
    name = f"{template.__name__}_{'_'.join(element.functions)}{'_rounded' if rounded else ''}"
    return inline(_bound(template, name, template.__doc__ or "", **names))


def _build() -> Tuple[Dict[Tuple[str, str, int], Any], Dict[str, Any]]:
    """The tile converters by (distribution, draw dtype, stream format) and the kernels by ``kernel_set.kernel_name``."""
    by_element: Dict[Element, Any] = {}
    converters = {(distribution, draw, stream_format): by_element.setdefault(element, _tile_converter(element))
                  for stream_format in STREAM_FORMATS for distribution, row in DISTRIBUTIONS.items()
                  for draw in row.elements for element in (row.element(draw, stream_format),)}
    if_false, if_true = flag_roundings()
    round_tile = inline(_bound(_round_tile, "_round_tile", _round_tile.__doc__ or "",
                               ROUND_IF_FALSE=getattr(_numba_elements, if_false),
                               ROUND_IF_TRUE=getattr(_numba_elements, if_true)))
    kernels: Dict[str, Any] = {}
    for spec in kernel_specs():
        convert = by_element[spec.element]
        state = _STATES[spec.element.kind, spec.element.words]
        if spec.rounded:
            half = _tile_converter(spec.element, rounded=True) if spec.element.kind == "quantile" else \
                inline(_bound(_half_tile, f"_half_tile_{spec.name}", _half_tile.__doc__ or "", FLOAT32_TILE=convert,
                              ROUND_TILE=round_tile))
            kernels[spec.name] = kernel(_bound(_fill_half_template, spec.name, spec.doc, CONVERT=half, STATE=state,
                                               PARAM_COUNT=spec.param_count))
        else:
            kernels[spec.name] = kernel(_bound(_fill_template, spec.name, spec.doc, CONVERT=convert, STATE=state,
                                               TILE=WORDS_PER_TILE // spec.element.words,
                                               PARAM_COUNT=spec.param_count))
    return converters, kernels


TILE_CONVERTERS, KERNELS = _build()
"""The tile converter of each (distribution, draw dtype, stream format) (``bench/bench_launch.py`` times them), and the kernel
of each ``_engines.kernel_set.kernel_name``: also this module's attributes ``fill_bits``, ``fill_uniform_float32``, ..."""

globals().update(KERNELS)  # fill_bits, fill_uniform_float32, ...: read through dispatch, by name
