"""NumPy twins of the fill kernels: the same streams, bit for bit, without numba.

A fresh process pays for numba before its first kernel runs (importing
numba, then loading the kernel from the disk cache or compiling it).  A small
fill does not need that: stream format v1 is IEEE basic operations on
float32/float64 and exact integer steps (README "Stream format"), which NumPy
evaluates with the same roundings.  Every function here takes the arguments of
its namesake in ``_engines.kernels`` (``out``, a 2-D C-contiguous array whose row
``r`` holds the global indices ``firsts[r], firsts[r] + 1, ...``, the key and
stream words, the distribution's parameters) and writes the same bits.

The arithmetic is the kernels' own: the element functions of the stream
formats (``_format.stream_v1``, ``_format.stream_v2``), run as plain Python on whole arrays (``_format.floatops``: NumPy adds no fused
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

from typing import Any, Callable, Dict, List, Tuple

import numpy as np
from numpy.typing import NDArray

from .._format.elements import plain
from .._format.constants import TILE_COUNTERS, WORDS_PER_TILE
from .._format.stream_v1 import (
    in_lower_tail,
    normal_quantile_central,
    normal_quantile_tail,
    philox4x32_10,
    signed_quantile,
)
from .._format.tables import Element
from .kernel_set import flag_roundings, kernel_specs

__all__ = [
    "CHUNK_ELEMENTS",
    "KERNELS",
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


def _normal_quantile(probability: Callable[..., Any], value: Callable[..., Any]) -> Callable[..., Any]:
    """A ``normal_quantile`` element as one function of the words and ``params``: the central quantile
    everywhere, the tail branch only where it is taken (as the CPU tile converters do)."""

    def element(*words_and_params: Any) -> NDArray[Any]:
        params = words_and_params[-1]
        signed = probability(*words_and_params)
        p = np.abs(signed)
        z = normal_quantile_central(p)
        tail = in_lower_tail(p)
        if tail.any():
            z[tail] = normal_quantile_tail(p[tail])
        result: NDArray[Any] = value(signed_quantile(signed, z), params)
        return result

    return element


def _split_quantile(split: Callable[..., Any], central: Callable[..., Any], in_tail: Callable[..., Any],
                    tail: Callable[..., Any], signed: Callable[..., Any], value: Callable[..., Any]
                    ) -> Callable[..., Any]:
    """A ``quantile`` element as one function of the words and ``params``: the central quantile everywhere,
    the tail branch only where it is taken (as the CPU tile converters do)."""

    def element(*words_and_params: Any) -> NDArray[Any]:
        params = words_and_params[-1]
        q, p = split(*words_and_params)
        z = np.asarray(central(q))
        taken = np.asarray(in_tail(q))
        if taken.any():
            z[taken] = signed(q[taken], tail(p[taken], params))
        result: NDArray[Any] = value(z, params)
        return result

    return element


_ELEMENT_DRIVERS: Dict[str, Callable[..., Callable[..., Any]]] = {
    "value": lambda function: function, "pair": lambda function: function,
    "normal_quantile": _normal_quantile, "quantile": _split_quantile}
"""Each ``Element.kind``'s functions as one function of the words and ``params``."""


# -- converters: one chunk of outputs from the words of their counters --------
#
# ``convert(words, lanes, params)`` returns the outputs of one chunk, flat.
# With ``lanes`` None the words are whole tiles, each array shaped
# (tiles, TILE_COUNTERS), and the outputs come in tile order; otherwise
# ``words`` hold each element's own counter and ``lanes`` its lane in the tile
# (0-3 for 32-bit outputs, 0-1 for float64 halves).  One converter per table
# ``Element``: a call of its element function reads ``words * values``
# consecutive words (call ``c``: words from ``c * words * values``) and gives
# lanes ``c * values ..`` (``_format.tables.Element``).

Converter = Callable[[Words, Any, Any], NDArray[Any]]


def _converter(element: Element) -> Converter:
    """The converter of a table ``Element`` (its functions: the stream formats' plain Python)."""
    function = _ELEMENT_DRIVERS[element.kind](*(plain(name) for name in element.functions))
    per_call = element.words * element.values
    calls = 4 // per_call

    def convert(words: Words, lanes: Any, params: Any) -> NDArray[Any]:
        if lanes is None:
            values: List[NDArray[Any]] = []
            for c in range(calls):
                result = function(*words[c * per_call : (c + 1) * per_call], params)
                values.extend(result if element.values == 2 else (result,))
            return np.stack(values, axis=1).reshape(-1)
        # Each element: the words of its own call, then its value of the call's results.
        call = lanes // element.values
        arguments = [np.choose(call, words[i::per_call]) if calls > 1 else words[i] for i in range(per_call)]
        result = function(*arguments, params)
        if element.values == 1:
            return np.asarray(result)
        chosen: NDArray[Any] = np.where(lanes % 2 == 1, result[1], result[0])
        return chosen

    return convert


def _half(convert: Converter) -> Callable[[Words, Any, Any], NDArray[np.uint16]]:
    """A 16-bit converter: the float32 converter's values, rounded as the flag picks (``params`` is
    (float32 params, flag); ``kernel_set.flag_roundings``)."""

    roundings = [plain(name) for name in flag_roundings()]

    def convert_half(words: Words, lanes: Any, params: Any) -> NDArray[np.uint16]:
        float32_params, flag = params
        result: NDArray[np.uint16] = roundings[bool(flag)](convert(words, lanes, float32_params))
        return result

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


def _kernel(name: str, convert: Converter, tile_size: int, doc: str, rounded: bool) -> Callable[..., None]:
    """The twin of kernel ``name``: ``fill(out, firsts, key_stream, params[, bfloat16])``."""
    if rounded:
        half = _half(convert)

        def fill_half(out: NDArray[np.uint16], firsts: NDArray[np.int64], key_stream: NDArray[np.uint32],
                      params: NDArray[Any], bfloat16: bool) -> None:
            _fill(out, firsts, key_stream, (params, bfloat16), half, tile_size)

        fill: Callable[..., None] = fill_half
    else:

        def fill_float(out: NDArray[Any], firsts: NDArray[np.int64], key_stream: NDArray[np.uint32],
                       params: NDArray[Any]) -> None:
            _fill(out, firsts, key_stream, params, convert, tile_size)

        fill = fill_float
    fill.__name__ = fill.__qualname__ = name
    fill.__doc__ = doc
    return fill


def _kernels() -> Dict[str, Callable[..., None]]:
    """The twin of every kernel (``_engines.kernel_set``)."""
    converters: Dict[Element, Converter] = {}
    kernels = {}
    for spec in kernel_specs():
        convert = converters.setdefault(spec.element, _converter(spec.element))
        kernels[spec.name] = _kernel(spec.name, convert, WORDS_PER_TILE // spec.element.words, spec.doc,
                                     spec.rounded)
    return kernels


KERNELS = _kernels()
"""The twin of each ``_engines.kernel_set.kernel_name``: also this module's attributes ``fill_bits``, ..."""

globals().update(KERNELS)  # fill_bits, fill_uniform_float32, ...: read through dispatch, by name
