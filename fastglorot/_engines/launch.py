"""Run a serial kernel over chunks of an output, on a private thread pool.

Why not ``prange``: serial ``nogil`` kernels launched from Python threads are
safe when several Python threads fill at once (numba's ``workqueue`` layer
aborts on that), in children forked after a fill (GNU OpenMP is not
fork-safe), with on-disk caching (``parallel=True`` + ``cache=True`` has known
segfault reports), and they keep Ctrl-C working: the calling thread returns
to the interpreter between chunks of a few milliseconds, so a
KeyboardInterrupt lands promptly and the remaining chunks are cancelled.
``bench/bench_launch.py`` measures this design against ``prange``.

Values depend only on global element indices, so the split into chunks and
the number of threads never change a result.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, Iterator, List, Sequence, Tuple, TypeVar, Union

import numpy as np
from numpy.typing import NDArray

from .memory import advise_huge_pages
from .._format.position import Runs

__all__ = ["run_fill", "thread_count", "CHUNK_BYTES", "PARALLEL_MIN_BYTES"]

_T = TypeVar("_T")

CHUNK_BYTES = 8 << 20
"""Largest chunk: long enough to amortize ~10 us of Python per chunk, short
enough (a few ms) for a prompt Ctrl-C and an even finish across threads."""

MIN_CHUNK_BYTES = 512 << 10
"""Smallest chunk when splitting a mid-size output among threads."""

PARALLEL_MIN_BYTES = 2 << 20
"""Outputs smaller than this run on the calling thread alone: handing work to a
helper thread costs ~100 us (measured: 2 threads lose to 1 at 1 MiB)."""

_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def thread_count() -> int:
    """Threads a fill may use: ``numba.get_num_threads()`` of the calling thread.

    numba is imported here, not at module import: only a fill that runs a
    numba kernel on several threads asks (and has loaded numba anyway).
    """
    import numba

    return max(1, int(numba.get_num_threads()))


def _helper_pool() -> ThreadPoolExecutor:
    """The shared helpers, one fewer than numba's thread ceiling (the caller works too)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            import numba

            # numba.config sets its options as module attributes at import: invisible to mypy.
            helpers = max(1, int(getattr(numba.config, "NUMBA_NUM_THREADS")) - 1)
            _pool = ThreadPoolExecutor(max_workers=helpers, thread_name_prefix="fastglorot")
        return _pool


def _forget_pool_after_fork() -> None:
    # The parent's worker threads do not exist in a forked child.
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def _chunk_elements(nbytes: int, itemsize: int, tile: int, threads: int) -> int:
    """About four chunks per thread, within [MIN_CHUNK_BYTES, CHUNK_BYTES], whole tiles."""
    target = CHUNK_BYTES if threads == 1 else nbytes // (4 * threads)
    elements = min(CHUNK_BYTES, max(MIN_CHUNK_BYTES, target)) // itemsize
    return max(tile, elements - elements % tile)


def _slab_runs(runs: Runs, shape: Tuple[int, ...], start: int, keep_axis: bool) -> Runs:
    """Runs of ``out[start:...]`` (``keep_axis``) or ``out[start]`` for ``out`` of ``shape``."""
    outer = runs.outer_strides
    step = outer[0] if outer else math.prod(shape[1:])
    rest = outer if keep_axis else outer[1:]
    return Runs(runs.base + start * step, rest)


def _firsts(runs: Runs, shape: Tuple[int, ...], rows: range) -> NDArray[np.int64]:
    """Global index of the first element of each run ``rows`` (int64)."""
    outer = runs.outer_strides
    if not outer:
        return np.full(len(rows), runs.base, dtype=np.int64)
    index = np.arange(rows.start, rows.stop, dtype=np.int64)
    if len(outer) == 1:
        return runs.base + index * outer[0]
    coordinates = np.unravel_index(index, shape[: len(outer)])
    firsts = np.full(len(rows), runs.base, dtype=np.int64)
    for coordinate, stride in zip(coordinates, outer):
        firsts += coordinate * np.int64(stride)
    return firsts


Task = Tuple[NDArray[Any], Union[NDArray[np.int64], range]]
"""A 2-D C-contiguous view of consecutive rows (or of one piece of a long
row) and the global index of each row's first element: given (int64), or the
row numbers to compute it from in the worker (many short rows)."""

Slab = Tuple[NDArray[Any], Runs]
"""A view of an output in any layout and the runs of its elements."""


def _contiguous_tasks(out2d: NDArray[Any], runs: Runs, shape: Tuple[int, ...], chunk: int) -> List[Task]:
    """Whole rows up to ``chunk`` elements a task; longer rows are cut at global
    indices that are multiples of ``chunk`` (tile boundaries)."""
    count, length = out2d.shape
    if length >= chunk or count == 1:
        tasks: List[Task] = []
        firsts = _firsts(runs, shape, range(count)) if runs.outer_strides else [runs.base]  # <= size / chunk rows
        for r in range(count):
            first = int(firsts[r])
            begin, end = first, first + length
            while begin < end:
                stop = min(end, (begin // chunk + 1) * chunk)
                tasks.append((out2d[r : r + 1, begin - first : stop - first], np.array([begin], dtype=np.int64)))
                begin = stop
        return tasks
    rows = max(1, chunk // length)
    return [(out2d[r : r + rows], range(r, min(r + rows, count))) for r in range(0, count, rows)]


def _strided_slabs(out: NDArray[Any], runs: Runs, chunk: int) -> Iterator[Slab]:
    """Slabs of ``out`` (any layout) of at most ``chunk`` elements, with their runs."""
    if out.ndim <= 1:
        for begin in range(0, out.shape[0], chunk):
            yield out[begin : begin + chunk], _slab_runs(runs, out.shape, begin, True)
        return
    row = math.prod(out.shape[1:])
    if row <= chunk:
        rows = max(1, chunk // row)
        for begin in range(0, out.shape[0], rows):
            yield out[begin : begin + rows], _slab_runs(runs, out.shape, begin, True)
    else:
        for i in range(out.shape[0]):
            yield from _strided_slabs(out[i], _slab_runs(runs, out.shape, i, False), chunk)


def _rows_of(shape: Tuple[int, ...], runs: Runs) -> Tuple[int, int]:
    """``(rows, row length)`` of an output of ``shape``: outer and inner axes."""
    outer = len(runs.outer_strides)
    return math.prod(shape[:outer]), math.prod(shape[outer:])


def _run_tasks(tasks: Sequence[_T], work: Callable[[_T, Dict[str, Any]], None], threads: int) -> None:
    """Run ``work`` on every task, the caller included among the workers."""
    if len(tasks) == 1:  # no helper would start: skip the bookkeeping
        work(tasks[0], {})
        return
    claim = itertools.count()  # next() on a count is atomic under the GIL
    cancelled = threading.Event()
    errors: List[BaseException] = []

    def worker() -> None:
        local: Dict[str, Any] = {}
        while not cancelled.is_set():
            i = next(claim)
            if i >= len(tasks):
                return
            try:
                work(tasks[i], local)
            except BaseException as exc:  # surfaced in the calling thread
                errors.append(exc)
                cancelled.set()
                return

    helpers = min(threads, len(tasks)) - 1
    futures = [_helper_pool().submit(worker) for _ in range(helpers)] if helpers > 0 else []
    interrupted: List[KeyboardInterrupt] = []
    try:
        worker()
    except BaseException:
        cancelled.set()
        raise
    finally:
        for future in futures:
            future.cancel()  # helpers still queued behind other fills never start
        for future in futures:
            while True:
                try:
                    if not future.cancelled():
                        future.exception()  # waits; helpers stop within one chunk
                    break
                except KeyboardInterrupt as interrupt:
                    # Keep waiting (no write may outlive the call), then raise it: a Ctrl-C that lands
                    # while this thread waits for the helpers must not return a half-filled output.
                    cancelled.set()
                    interrupted.append(interrupt)
    if interrupted:
        raise interrupted[0]
    if errors:
        raise errors[0]


def run_fill(kernel: Callable[..., None], out: NDArray[Any], runs: Runs, tile: int, args: Tuple[object, ...],
             parallel: bool = True) -> None:
    """Fill ``out`` (any layout) by ``kernel(rows, firsts, *args)``.

    ``kernel`` fills a 2-D C-contiguous array whose row ``r`` holds the
    consecutive global indices ``firsts[r], firsts[r] + 1, ...``; ``runs``
    says which global index each logical element of ``out`` takes (a flat
    offset or a block of a larger tensor).  Arrays that are not C-contiguous,
    aligned and in native byte order are filled slab by slab through a native
    buffer.  ``tile`` is the kernel's tile length: long rows are cut on tile
    boundaries so that only the ends of a row hold partial tiles.
    ``parallel=False`` keeps the whole fill on the calling thread (the NumPy
    kernels, which hold the GIL between their short array operations).
    """
    if out.size == 0:
        return
    advise_huge_pages(out)
    threads = thread_count() if parallel and out.nbytes >= PARALLEL_MIN_BYTES else 1
    chunk = _chunk_elements(out.nbytes, out.itemsize, tile, threads)
    shape = out.shape
    native = out.dtype.newbyteorder("=")
    if out.flags.c_contiguous and out.flags.aligned and out.dtype == native:
        tasks = _contiguous_tasks(out.reshape(_rows_of(shape, runs)), runs, shape, chunk)

        def fill_rows(task: Task, local: Dict[str, Any]) -> None:
            view, firsts = task
            kernel(view, firsts if isinstance(firsts, np.ndarray) else _firsts(runs, shape, firsts), *args)

        _run_tasks(tasks, fill_rows, threads)
    else:
        slabs = list(_strided_slabs(out.reshape(shape or (1,)), runs, chunk))

        def fill_slab(task: Slab, local: Dict[str, Any]) -> None:
            view, slab_runs = task
            buffer = local.get("buffer")
            if buffer is None:
                buffer = local["buffer"] = np.empty(chunk, native)
            count, length = _rows_of(view.shape, slab_runs)
            block = buffer[: view.size].reshape(count, length)
            kernel(block, _firsts(slab_runs, view.shape, range(count)), *args)
            view[...] = block.reshape(view.shape)

        _run_tasks(slabs, fill_slab, threads)
