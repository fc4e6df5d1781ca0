"""CUDA fills: launch the numba-cuda kernels on device arrays.

A CUDA array (``_engines.cuda_arrays.is_cuda_array``: what one is and how its memory
is described lives there) goes to :func:`fill_cuda`, which fills it in place
on its GPU with the bits the CPU fill of the same arguments gives (README
"Stream format").  ``numba.cuda`` is imported on the first :func:`fill_cuda`
only (``import fastglorot`` never imports it), and needs the optional
``numba-cuda`` package.  Under numba-cuda's simulator
(``NUMBA_ENABLE_CUDASIM=1``) the kernels run on the simulator's device
arrays, so that CI without a GPU runs them too.

The kernels (``_engines.cuda_kernels``) see an output as rows of consecutive global
indices; :func:`plan` merges the output's axes into that form, for any
layout: C, F, strided, negative strides, any rank.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import threading
from typing import Any, Dict, NamedTuple, Sequence, Tuple

import numpy as np

from .._format.constants import TILE_COUNTERS, WORDS_PER_TILE
from .._format.tables import DEFAULT_STREAM_FORMAT, DISTRIBUTIONS, FORMATS, SUPPORTED
from .cuda_arrays import CudaMemory, c_strides, describe, is_cuda_array, simulator_enabled
from .._interop import install_hint
from .kernel_set import kernel_name, kernel_params
from .memory import check_no_self_overlap
from .._format.position import Runs

__all__ = ["INSTALL_HINT", "fill_cuda", "fill_described", "global_strides", "plan", "Plan", "THREADS_PER_BLOCK"]

INSTALL_HINT = ("filling CUDA arrays needs numba-cuda: " + install_hint("cuda")
                + " (numba-cuda[cu12] or numba-cuda[cu13] also install the CUDA toolkit libraries for your driver)")

THREADS_PER_BLOCK = 256
"""Threads per block on a GPU (the grid-stride loop takes any number of blocks)."""

_BLOCKS_PER_SM = 32
"""Most blocks launched per multiprocessor; the grid-stride loop covers larger outputs."""

_SIMULATOR_GRID = (2, 8)
"""(blocks, threads) under the simulator: every simulated thread is a Python thread."""

_MAX_OUTER = 8  # _cuda_kernels.MAX_OUTER, restated so that planning imports no numba.cuda


def _kernels() -> Any:
    """The kernel module (imports numba.cuda on first use)."""
    try:
        from . import cuda_kernels as _cuda_kernels
    except ImportError as exc:
        if exc.name is not None and exc.name.split(".")[0] not in ("numba", "cuda"):
            raise
        raise ImportError(f"{INSTALL_HINT} ({exc})") from exc
    return _cuda_kernels


# -- formats ------------------------------------------------------------------------------


def _bits_dtype(distribution: str, fmt: str, dtype: np.dtype[Any]) -> np.dtype[Any]:
    """The dtype the kernel writes, after checking ``out``'s dtype against ``fmt``."""
    native = dtype.byteorder in ("=", "|") or dtype == dtype.newbyteorder("=")
    if distribution == "bits":
        if dtype.itemsize != 4 or dtype.kind not in "ui" or not native:
            raise TypeError(f"raw words need a uint32 CUDA array, got dtype {dtype}")
        return np.dtype(np.uint32)
    spec = FORMATS.get(fmt)
    if spec is None:
        raise ValueError(f"fmt must be {SUPPORTED}, got {fmt!r}")
    if not native:
        raise TypeError(f"out must be in native byte order on the GPU, got dtype {dtype}")
    if spec.rounding != "none":
        # float16 itself, or 16-bit integer (or ml_dtypes/void) views of the bits.
        kinds = "fui" if spec.numpy_native else "uiV"  # float16 is a NumPy dtype; bfloat16 is ml_dtypes' (kind V)
        if dtype.itemsize != 2 or dtype.kind not in kinds:
            raise TypeError(f"a {fmt} fill needs a 2-byte CUDA array ({fmt} or its 16-bit integer view), "
                            f"got dtype {dtype}")
        return np.dtype(np.uint16)
    if dtype != np.dtype(fmt):
        raise TypeError(f"a {fmt} fill needs a {fmt} CUDA array, got dtype {dtype}")
    return dtype


# -- planning ---------------------------------------------------------------------------------


def global_strides(shape: Sequence[int], runs: Runs) -> Tuple[int, ...]:
    """Global-index step of each axis of an output of ``shape`` placed by ``runs``.

    Element ``(i0, i1, ...)`` has the global index
    ``runs.base + sum(i_k * g_k)``: ``runs.outer_strides`` for the outer
    axes, the C-order strides of the remaining (inner) axes after them.
    """
    outer = tuple(int(g) for g in runs.outer_strides)
    inner = c_strides(shape[len(outer):], 1)
    return outer + inner


class Plan(NamedTuple):
    """An output as rows of consecutive global indices (the kernels' ``geometry`` and outer axes)."""

    lowest: int
    """Element offset (<= 0) of the lowest-addressed element from element (0, ..., 0)."""
    span: int
    """Elements from the lowest- to the highest-addressed element, both included."""
    geometry: Tuple[int, int, int, int, int]
    """``(zero_at, base, col_step, ncols, rows)``."""
    outer_n: Tuple[int, ...]
    outer_g: Tuple[int, ...]
    outer_s: Tuple[int, ...]
    work: int
    """Work items (one Philox counter or element each): ``rows * slots``."""


def _slots_per_row(ncols: int, tile_size: int) -> int:
    """``_engines.cuda_kernels._slots_per_row``."""
    if ncols < TILE_COUNTERS:
        return ncols
    return TILE_COUNTERS * ((ncols + tile_size - 2) // tile_size + 1)


def plan(shape: Sequence[int], strides: Sequence[int], runs: Runs, tile_size: int) -> Plan:
    """Merge an output's axes into rows of consecutive global indices.

    Parameters
    ----------
    shape : sequence of int
        The output's shape (no zero entries).
    strides : sequence of int
        Its strides in elements (signed).
    runs : Runs
        Its place in the stream (``_format.position.resolve_position``).
    tile_size : int
        Elements per tile of the format: 512, or 256 for float64.

    Returns
    -------
    Plan

    Raises
    ------
    ValueError
        More than ``MAX_OUTER`` (8) axes remain after merging.
    """
    gs = global_strides(shape, runs)
    axes = [(int(n), int(g), int(s)) for n, g, s in zip(shape, gs, strides) if n != 1]
    merged: list[Tuple[int, int, int]] = []
    for n, g, s in axes:
        if merged and merged[-1][1] == g * n and merged[-1][2] == s * n:
            merged[-1] = (merged[-1][0] * n, g, s)
        else:
            merged.append((n, g, s))
    if not merged or merged[-1][1] != 1:  # rows of one element (a block whose trailing axes have length 1)
        merged.append((1, 1, 0))
    outer = merged[:-1]
    if len(outer) > _MAX_OUTER:
        raise ValueError(f"out (shape {tuple(shape)}, strides {tuple(strides)} elements) has {len(merged)} axes "
                         f"that cannot be merged; CUDA fills take at most {_MAX_OUTER + 1}: fill a contiguous "
                         "array and copy")
    outer = [(1, 0, 0)] * (_MAX_OUTER - len(outer)) + outer
    lowest = sum(min(0, (n - 1) * s) for n, _, s in merged)
    highest = sum(max(0, (n - 1) * s) for n, _, s in merged)
    ncols, _, col_step = merged[-1]
    rows = math.prod(n for n, _, _ in outer)
    return Plan(lowest, highest - lowest + 1, (-lowest, int(runs.base), col_step, ncols, rows),
                tuple(n for n, _, _ in outer), tuple(g for _, g, _ in outer), tuple(s for _, _, s in outer),
                rows * _slots_per_row(ncols, tile_size))


# -- launching ------------------------------------------------------------------------------

_sm_counts: Dict[Any, int] = {}
_sm_lock = threading.Lock()
_simulator_lock = threading.Lock()
"""The simulator runs one kernel at a time (it asserts so): fills from several threads take turns."""


def _blocks(work: int) -> int:
    """Blocks for ``work`` items on the current device."""
    cuda: Any = importlib.import_module("numba.cuda")
    device = cuda.get_current_device()
    with _sm_lock:
        count = _sm_counts.get(device.id)
        if count is None:
            count = _sm_counts[device.id] = int(device.MULTIPROCESSOR_COUNT)
    return max(1, min(-(-work // THREADS_PER_BLOCK), count * _BLOCKS_PER_SM))


def _launch_stream(stream: object, memory: CudaMemory) -> Any:
    cuda: Any = importlib.import_module("numba.cuda")

    if stream is None:
        stream = memory.stream
    if stream is None or (isinstance(stream, int) and stream == 0):
        return cuda.default_stream()
    if isinstance(stream, int):
        return cuda.external_stream(stream)
    return stream  # a numba Stream


def fill_cuda(out: object, distribution: str, fmt: str, key_stream: np.ndarray[Any, Any],
              params: np.ndarray[Any, Any], runs: Runs, *, stream: object = None,
              stream_format: int = DEFAULT_STREAM_FORMAT) -> None:
    """Fill CUDA array ``out`` in place, on its GPU, with the CPU fill's bits.

    The kernel is launched asynchronously (CUDA's usual semantics): work
    enqueued on the same stream afterwards sees the values; the host does not
    wait.  Arguments are checked before anything is launched.

    Parameters
    ----------
    out : CUDA array
        Anything ``_engines.cuda_arrays.is_cuda_array`` accepts: an object with
        ``__cuda_array_interface__`` (numba device array, torch CUDA tensor,
        CuPy array, ...), a CUDA DLPack exporter, or, under the simulator,
        a simulated numba device array.  Any shape and layout (C, F,
        strided, negative strides) whose elements do not overlap; dtype as
        ``fmt`` says: float32, float64, float16 (or 16-bit integers holding
        the bits), bfloat16 as ml_dtypes' dtype or 16-bit integers holding the
        bits; uint32 for ``distribution="bits"``.
    distribution : str
        ``"bits"``, ``"uniform"``, ``"normal"`` or ``"truncated_normal"``.
    fmt : str
        The output format: ``"float32"``, ``"float64"``, ``"float16"`` or
        ``"bfloat16"`` (``"uint32"`` for raw words; see ``_engines.cuda_arrays.cuda_format``).
    key_stream : numpy.ndarray of uint32, shape (4,)
        ``_validate.key_stream_words(seed, stream)``: ``(k0, k1, s0, s1)``.
    params : numpy.ndarray
        The distribution's parameters from ``_format.params`` for ``fmt``
        (``uniform_params``, ``normal_params``, ``truncated_params``); for
        raw words any uint32 array, e.g. ``np.zeros(1, np.uint32)``.
    runs : Runs
        The global index of every element: ``_format.position.resolve_position(
        shape, offset, global_shape, global_offset)`` (or
        ``_api.sampling.locate(...).runs``), as for a CPU fill.
    stream : None, int or numba Stream, optional
        The CUDA stream to launch on: a numba stream or a raw ``cudaStream_t``
        handle.  Default: the stream ``out``'s CUDA Array Interface names
        (so torch's current stream), else the default stream.
    stream_format : int, default 1
        The stream format of the values (``_format.tables.STREAM_FORMATS``).

    Raises
    ------
    ImportError
        numba-cuda is not installed.
    TypeError
        ``out`` is not a CUDA array, or its dtype does not match ``fmt``.
    ValueError
        ``out`` is read-only, its elements overlap (a zero stride), its
        strides or address are not multiples of the itemsize, or it has more
        than 9 axes that cannot be merged.
    """

    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {', '.join(DISTRIBUTIONS)}, got {distribution!r}")
    if not is_cuda_array(out):
        raise TypeError(f"out ({type(out).__name__}) is not a CUDA array")
    fill_described(out, describe(out, simulator_enabled()), distribution, fmt, key_stream, params, runs, stream=stream,
                   stream_format=stream_format)


def fill_described(out: object, memory: CudaMemory, distribution: str, fmt: str, key_stream: np.ndarray[Any, Any],
                   params: np.ndarray[Any, Any], runs: Runs, *, stream: object = None,
                   stream_format: int = DEFAULT_STREAM_FORMAT) -> None:
    """:func:`fill_cuda` of a CUDA array already recognised and described (``memory``: ``describe(out, ...)``).

    The public functions recognise an output once (``_api.buffers.as_output``)
    and carry its description here, instead of describing it again.
    """
    simulator = memory.host is not None
    bits = _bits_dtype(distribution, fmt, memory.dtype)
    if memory.readonly:
        raise ValueError(f"out is read-only ({type(out).__name__})")
    itemsize = memory.dtype.itemsize
    if any(s % itemsize for s in memory.strides) or memory.pointer % itemsize:
        raise ValueError(f"out's strides {memory.strides} or address are not multiples of its itemsize {itemsize}")
    size = math.prod(memory.shape)
    if size == 0:
        return
    check_no_self_overlap(np.lib.stride_tricks.as_strided(np.zeros(1, bits), memory.shape, memory.strides))
    tile = WORDS_PER_TILE // 2 if bits.itemsize == 8 else WORDS_PER_TILE
    layout = plan(memory.shape, [s // itemsize for s in memory.strides], runs, tile)
    words = np.asarray(key_stream, dtype=np.uint32).reshape(4)
    key = (words[0], words[1], words[2], words[3])
    values = tuple(np.asarray(kernel_params(distribution, fmt, stream_format, params)).reshape(-1))
    spec = FORMATS.get(fmt)
    bfloat16 = bool(spec.kernel_args[0]) if spec is not None and spec.kernel_args else False  # the rounding's flag
    module = _kernels()
    kernel = module.KERNELS[kernel_name(distribution, fmt, stream_format)]
    args = (key, values, bfloat16, layout.geometry, layout.outer_n, layout.outer_g, layout.outer_s)
    if simulator:
        _launch_simulated(kernel, memory, bits, layout, args)
        return
    cuda: Any = importlib.import_module("numba.cuda")
    device = cuda.gpus[memory.device] if memory.device is not None else contextlib.nullcontext()
    with device:
        # A 1-D view of the whole span, from the lowest-addressed element.
        span = cuda.from_cuda_array_interface(
            {"shape": (layout.span,), "strides": None, "typestr": bits.str, "version": 3,
             "data": (memory.pointer + layout.lowest * itemsize, False)}, owner=out, sync=False)
        launch_stream = _launch_stream(stream, memory)
        kernel[_blocks(layout.work), THREADS_PER_BLOCK, launch_stream](span, *args)


def _launch_simulated(kernel: Any, memory: CudaMemory, bits: np.dtype[Any], layout: Plan,
                      args: Tuple[Any, ...]) -> None:
    """Run ``kernel`` on the simulator over a 1-D view of the simulated array's memory span."""
    fake_cuda_array: Any = importlib.import_module("numba.cuda.simulator.cudadrv.devicearray").FakeCUDAArray

    host = memory.host
    assert host is not None
    array = host.view(bits)
    # Reverse the negative-stride axes: element 0 of the result is the lowest-addressed element.
    if array.ndim:
        array = array[tuple(slice(None, None, -1) if s < 0 else slice(None) for s in array.strides)]
    lowest = array
    span = np.lib.stride_tricks.as_strided(lowest, shape=(layout.span,), strides=(bits.itemsize,))
    blocks, threads = _SIMULATOR_GRID
    with _simulator_lock:
        kernel[blocks, threads](fake_cuda_array(span), *args)
