"""numba-cuda kernels for every stream-format-v1 fill: the CPU's bits on a GPU.

Imported only by ``_engines.cuda`` on the first CUDA fill (it imports ``numba.cuda``).
Each kernel here is the GPU twin of its namesake in ``_engines.kernels`` (same
distribution, format family and parameters) and writes the same bits: it
runs the stream format's own element functions (``_format.stream_v1``), compiled
for CUDA, through one of three drivers (one word per element, two words per
element, Box–Muller pairs) that take the distribution's converter as a
global of their copy, as ``_engines.kernels._fill`` takes its converter as an
argument.  Which driver and converter a kernel gets follows from its table
row alone (``_format.tables.Element``, ``_engines.kernel_set``).

Work decomposition
    One thread per Philox counter: it computes the counter's four words once
    and writes every output element of that counter's lanes that the output
    holds (four float32/16-bit/raw-word lanes, or two float64 lanes of two
    words each), skipping the others.  A grid-stride loop runs over
    ``rows * slots`` work items.  The output is seen as rows of consecutive
    global indices (README "Sharding and blocks"): row ``r`` starts at
    global index ``first(r) = base + sum(i_k * outer_g[k])`` and holds
    ``ncols`` elements, ``col_step`` elements apart in memory, from element
    offset ``at(r) = zero_at + sum(i_k * outer_s[k])``; ``(i_k)`` unravels
    ``r`` over ``outer_n``.  A row with ``ncols >= 128`` has one slot per
    counter of every tile it touches (``slot // 128`` the tile, ``slot % 128``
    the counter within it), so consecutive threads take consecutive counters
    and, per lane, write consecutive elements (coalesced for rows that are
    contiguous in memory); slots whose lanes all fall outside the row (the
    ends of its first and last tile) do nothing.  A shorter row has one slot
    per element (each of its elements has a counter of its own), so a narrow
    block costs one Philox evaluation per element, not a tile per row.

    ``out`` is a 1-D C-contiguous view of the whole memory span of the
    caller's array (from its lowest element), written at
    ``at(r) + q * col_step``: one compiled kernel serves C, F, strided and
    negative-stride layouts of any rank (up to ``MAX_OUTER`` outer axes after
    ``_engines.cuda`` merged the mergeable ones).

Bit-identity with the CPU
    The CUDA copies of the element functions (``_format.floatops.bind``) bind the
    float operations to ``_engines.cuda_rounding``'s libdevice round-to-nearest
    calls (never contracted into a fused multiply-add, no flush to zero),
    ``select`` and the bit casts to the CPU engine's LLVM intrinsics
    (``_engines.numba_elements``), and compile as device functions that NVVM
    inlines.  Clamps are selects (``_format.stream_v1.clamp``): numba-cuda lowers
    float ``min``/``max`` to libdevice ``fminf``/``fmaxf``, which may pick
    either zero of a ``(+0.0, -0.0)`` pair where the CPU keeps the first
    argument.  Philox runs on 32-bit words: each product is one
    ``mul.wide.u32``.  ``tests/test_cuda_sim.py`` checks the PTX for ``fma``,
    ``.ftz``, ``.approx``, ``min``/``max``, calls and float arithmetic
    without ``.rn`` where NVVM is installed.

Under numba-cuda's simulator (``NUMBA_ENABLE_CUDASIM=1``) the kernels run as
Python on NumPy scalars, with the plain element functions of ``_format.stream_v1``
(one IEEE round-to-nearest rounding per NumPy operation): the simulator runs
the format's very source, operation for operation.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Callable, Dict, Tuple, TypeVar

import numpy as np

from .._format.constants import TILE_COUNTERS, WORDS_PER_TILE
from .._format.elements import bind_all, names, plain
from .._format.floatops import with_globals
from .._format.tables import Element
from .kernel_set import element_globals, flag_roundings, kernel_specs

__all__ = ["SIMULATOR", "MAX_OUTER", "KERNELS"]

F = TypeVar("F", bound=Callable[..., Any])

# numba.cuda carries no type information; the simulator swaps this module global (and the drivers'
# copies of it) for its fake module while a kernel runs (it looks for globals that are numba.cuda).
cuda: Any = importlib.import_module("numba.cuda")
_cuda_config: Any = importlib.import_module("numba.cuda.core.config")

SIMULATOR = bool(_cuda_config.ENABLE_CUDASIM)
"""Whether numba-cuda's simulator is on (``NUMBA_ENABLE_CUDASIM=1`` before ``numba.cuda`` was imported)."""

MAX_OUTER = 8
"""Outer (row) axes a kernel unravels; ``_engines.cuda`` merges axes first and refuses more than this."""

F64 = np.float64
U16 = np.uint16
U32 = np.uint32
I64 = np.int64

_L = TILE_COUNTERS
_T32 = WORDS_PER_TILE  # elements per tile, one word each (raw words, float32, 16-bit)
_T64 = WORDS_PER_TILE // 2  # elements per tile, two words each (float64)
_LOW_WORD = I64(0xFFFFFFFF)

if SIMULATOR:

    def _device(py_func: F) -> F:
        """Device functions run as plain Python under the simulator."""
        return py_func

    def _kernel(py_func: F) -> F:
        kernel: F = cuda.jit(py_func)
        return kernel

    _elements: Dict[str, Any] = {name: plain(name) for name in names()}

else:
    from .cuda_rounding import ROUNDING
    from .jit import cuda_cached
    from .numba_elements import OPERATIONS

    def _device(py_func: F) -> F:
        """A device function, inlined by NVVM into its caller."""
        function: F = cuda.jit(device=True, forceinline=True)(py_func)
        return function

    def _kernel(py_func: F) -> F:
        """A kernel: compiled on first launch, without fastmath, cached on disk where the CPU kernels are
        (``_engines.jit.cuda_cached``: never inside the package; in memory only when nothing is writable)."""
        kernel: F = cuda_cached(cuda.jit(py_func))
        return kernel

    # The CPU's operations with libdevice's rounding in place of the operators (``_engines.cuda_rounding``), and
    # Philox words narrowed to uint32 (a product is one mul.wide.u32, not a 64-bit multiply).
    _elements = bind_all({**OPERATIONS, "word": U32, **ROUNDING}, _device)

if TYPE_CHECKING:  # mypy reads the element functions' own signatures
    from .._format.stream_v1 import (in_lower_tail, normal_quantile_central, normal_quantile_tail, philox4x32_10,
                                     signed_quantile)
else:
    globals().update(_elements)  # the kernels read them as globals


# -- positions ------------------------------------------------------------------------


@_device
def _slots_per_row(ncols: int, tile_size: int) -> int:
    """Work items per row: one per element below 128 columns, else 128 per tile a row can touch."""
    if ncols < _L:
        return ncols
    return _L * ((ncols + tile_size - 2) // tile_size + 1)


@_device
def _locate(w: int, slots: int, tile_size: int, lanes: int, geometry: Tuple[int, ...],
            outer_n: Tuple[int, ...], outer_g: Tuple[int, ...], outer_s: Tuple[int, ...]
            ) -> Tuple[bool, int, int, int]:
    """Work item ``w`` -> ``(active, at, block, q0)``.

    ``block`` is the Philox counter, ``at`` the memory offset of the row's
    first element and ``q0`` the column of the counter's lane-0 element
    (lane ``j`` is column ``q0 + 128 j``); ``active`` is false when no lane
    falls inside the row.
    """
    zero_at, base, col_step, ncols, rows = geometry
    first = base
    at = zero_at
    slot = w
    if rows != 1:
        r = w // slots
        slot = w - r * slots
        for k in range(MAX_OUTER - 1, -1, -1):
            if r == 0:
                break
            n = outer_n[k]
            if n > 1:
                i = r % n
                r = r // n
                first += i * outer_g[k]
                at += i * outer_s[k]
    if ncols < _L:
        e = first + slot
        tile = e // tile_size
        m = e % _L
    else:
        tile = first // tile_size + slot // _L
        m = slot % _L
    q0 = tile * tile_size + m - first
    active = q0 < ncols and q0 + _L * (lanes - 1) >= 0
    return active, at, tile * _L + m, q0


@_device
def _words(block: int, key: Tuple[np.uint32, np.uint32, np.uint32, np.uint32]
           ) -> Tuple[np.uint32, np.uint32, np.uint32, np.uint32]:
    """Philox4x32-10 of counter ``(block mod 2**32, block >> 32, s0, s1)`` under key ``(k0, k1)``."""
    k0, k1, s0, s1 = key
    return philox4x32_10(U32(block & _LOW_WORD), U32(block >> I64(32)), s0, s1, k0, k1)


@_device
def _lane(x0: np.uint32, x1: np.uint32, x2: np.uint32, x3: np.uint32, j: int) -> np.uint32:
    """Word ``j`` of four."""
    low = x1 if j == 1 else x0
    high = x3 if j == 3 else x2
    return high if j >= 2 else low


# -- the three drivers ----------------------------------------------------------------
#
# Every kernel: ``kernel(out, key, params, bfloat16, geometry, outer_n, outer_g, outer_s)``
# with ``out`` a 1-D C-contiguous array (float32, float64, or uint32/uint16 bits),
# ``key = (k0, k1, s0, s1)`` (uint32), ``params`` the distribution's parameters
# as ``_format.params`` makes them (a tuple of the draw dtype's scalars; float64 for
# truncated normals), ``bfloat16`` (16-bit kernels: bfloat16 or float16 bits;
# ignored elsewhere), ``geometry = (zero_at, base, col_step, ncols, rows)`` and
# ``outer_n``, ``outer_g``, ``outer_s``: MAX_OUTER int64 each (module docstring).
# A driver's copy (``_bound``, one per kernel of ``_engines.kernel_set``) binds
# ``convert``, the distribution's value of one element (its table ``Element``
# in the driver's calling convention: ``_converter``), and ``finish``, the
# output format's rounding; ``_TILE``, ``_LANES`` and ``_PAIRS`` its layout.

convert: Any = None
finish: Any = None
_TILE = _T32
_LANES = 4
_PAIRS = 2


def _word_driver(out: Any, key: Any, params: Any, bfloat16: bool, geometry: Any, outer_n: Any,
                 outer_g: Any, outer_s: Any) -> None:
    """One word per element: lane ``j`` of a counter is word ``j``."""
    col_step, ncols = geometry[2], geometry[3]
    slots = _slots_per_row(ncols, _TILE)
    for w in range(cuda.grid(1), geometry[4] * slots, cuda.gridsize(1)):
        active, at, block, q0 = _locate(w, slots, _TILE, _LANES, geometry, outer_n, outer_g, outer_s)
        if active:
            x0, x1, x2, x3 = _words(block, key)
            for j in range(4):
                q = q0 + _L * j
                if q >= 0 and q < ncols:
                    out[at + q * col_step] = finish(convert(_lane(x0, x1, x2, x3, j), params), bfloat16)


def _pair_driver(out: Any, key: Any, params: Any, bfloat16: bool, geometry: Any, outer_n: Any,
                 outer_g: Any, outer_s: Any) -> None:
    """Two words per element: lane ``h`` of a counter takes words ``2h`` (high) and ``2h + 1``."""
    col_step, ncols = geometry[2], geometry[3]
    slots = _slots_per_row(ncols, _TILE)
    for w in range(cuda.grid(1), geometry[4] * slots, cuda.gridsize(1)):
        active, at, block, q0 = _locate(w, slots, _TILE, _LANES, geometry, outer_n, outer_g, outer_s)
        if active:
            x0, x1, x2, x3 = _words(block, key)
            if q0 >= 0 and q0 < ncols:
                out[at + q0 * col_step] = finish(convert(x0, x1, params), bfloat16)
            q = q0 + _L
            if q >= 0 and q < ncols:
                out[at + q * col_step] = finish(convert(x2, x3, params), bfloat16)


def _box_muller_driver(out: Any, key: Any, params: Any, bfloat16: bool, geometry: Any, outer_n: Any,
                       outer_g: Any, outer_s: Any) -> None:
    """Box–Muller pairs: pair ``p`` of a counter gives lanes ``2p`` (cosine) and ``2p + 1`` (sine),
    computed once if either lane is written (float32: two pairs of two words; float64: one of four)."""
    col_step, ncols = geometry[2], geometry[3]
    slots = _slots_per_row(ncols, _TILE)
    for w in range(cuda.grid(1), geometry[4] * slots, cuda.gridsize(1)):
        active, at, block, q0 = _locate(w, slots, _TILE, _LANES, geometry, outer_n, outer_g, outer_s)
        if active:
            x0, x1, x2, x3 = _words(block, key)
            for p in range(_PAIRS):
                qc = q0 + 2 * _L * p
                qs = qc + _L
                with_cos = qc >= 0 and qc < ncols
                with_sin = qs >= 0 and qs < ncols
                if with_cos or with_sin:
                    cos_value, sin_value = convert(x0, x1, x2, x3, p, params)
                    if with_cos:
                        out[at + qc * col_step] = finish(cos_value, bfloat16)
                    if with_sin:
                        out[at + qs * col_step] = finish(sin_value, bfloat16)


# -- converters: a table ``Element``'s functions in a driver's calling convention ----------
#
# Templates whose copies (``_bound``) bind ELEMENT, or PROBABILITY and VALUE,
# to the element functions a row of ``_format.tables.DISTRIBUTIONS`` names.

ELEMENT: Any = None
PROBABILITY: Any = None
VALUE: Any = None
SPLIT: Any = None
CENTRAL: Any = None
IN_TAIL: Any = None
TAIL: Any = None
SIGNED: Any = None


def _pair_of_one_word(x0: np.uint32, x1: np.uint32, x2: np.uint32, x3: np.uint32, p: int, params: Any) -> Any:
    """A ``pair`` element of one word per output: pair ``p`` from words ``2p, 2p + 1``."""
    return ELEMENT(x2 if p == 1 else x0, x3 if p == 1 else x1, params)


def _pair_of_two_words(x0: np.uint32, x1: np.uint32, x2: np.uint32, x3: np.uint32, p: int, params: Any) -> Any:
    """A ``pair`` element of two words per output: the one pair from all four words."""
    return ELEMENT(x0, x1, x2, x3, params)


@_device
def _standard_normal_quantile(signed: np.float64) -> Any:
    """``sign * Phi^-1(|signed|)``: AS 241's tail branch only where it is taken (a branch, not a select)."""
    p = abs(signed)
    if in_lower_tail(p):
        z = normal_quantile_tail(p)
    else:
        z = normal_quantile_central(p)
    return signed_quantile(signed, z)


def _quantile_of_one_word(word: np.uint32, params: Any) -> Any:
    """A ``normal_quantile`` element of one word."""
    return VALUE(_standard_normal_quantile(PROBABILITY(word, params)), params)


def _quantile_of_two_words(high: np.uint32, low: np.uint32, params: Any) -> Any:
    """A ``normal_quantile`` element of two words."""
    return VALUE(_standard_normal_quantile(PROBABILITY(high, low, params)), params)


def _split_quantile_of_one_word(word: np.uint32, params: Any) -> Any:
    """A ``quantile`` element of one word: the tail branch only where it is taken (a branch, not a select)."""
    q, p = SPLIT(word, params)
    if IN_TAIL(q):
        z = SIGNED(q, TAIL(p, params))
    else:
        z = CENTRAL(q)
    return VALUE(z, params)


@_device
def _as_is(value: Any, bfloat16: bool) -> Any:
    return value


ROUND_IF_TRUE: Any = None
ROUND_IF_FALSE: Any = None


def _half_bits(value: Any, flag: bool) -> Any:
    """The 16-bit output of a float32 value: the rounding the kernel's flag picks (``kernel_set.flag_roundings``)."""
    return ROUND_IF_TRUE(value) if flag else ROUND_IF_FALSE(value)


def _bound(template: Callable[..., Any], name: str, **bound: Any) -> Any:
    """A copy of ``template`` named ``name`` whose globals are this module's with ``bound`` in place."""
    return with_globals(template, {**globals(), **bound}, name)


def _converter(element: Element) -> Tuple[Callable[..., None], Any]:
    """The driver of a table ``Element`` and its converter (a device function)."""
    functions = [_elements[name] for name in element.functions]
    names = element_globals(element, functions)
    name = "_convert_" + "_".join(element.functions)
    template: Callable[..., Any]
    if element.kind == "normal_quantile":
        template = _quantile_of_one_word if element.words == 1 else _quantile_of_two_words
        convert = _device(_bound(template, name, **names))
    elif element.kind == "quantile":
        convert = _device(_bound(_split_quantile_of_one_word, name, **names))
    elif element.kind == "pair":
        template = _pair_of_one_word if element.words == 1 else _pair_of_two_words
        return _box_muller_driver, _device(_bound(template, name, **names))
    else:
        convert = functions[0]
    return (_word_driver if element.words == 1 else _pair_driver), convert


def _kernels() -> Dict[str, Any]:
    """Kernel by ``_engines.kernel_set.kernel_name``: one per distribution and format family."""
    if_false, if_true = flag_roundings()
    half_bits = _device(_bound(_half_bits, "_half_bits", ROUND_IF_FALSE=_elements[if_false],
                               ROUND_IF_TRUE=_elements[if_true]))
    kernels = {}
    for spec in kernel_specs():
        driver, convert = _converter(spec.element)
        two_words = spec.element.words == 2
        kernels[spec.name] = _kernel(_bound(driver, spec.name, convert=convert,
                                            finish=half_bits if spec.rounded else _as_is,
                                            _TILE=_T64 if two_words else _T32, _LANES=2 if two_words else 4,
                                            _PAIRS=1 if two_words else 2))
    return kernels


KERNELS = _kernels()
"""Kernel by ``_engines.kernel_set.kernel_name``."""
