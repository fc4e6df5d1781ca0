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
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator, List, Sequence, Tuple

import numba
import numpy as np

__all__ = ["run_fill", "thread_count", "CHUNK_BYTES", "PARALLEL_MIN_BYTES"]

CHUNK_BYTES = 8 << 20
"""Largest chunk: long enough to amortize ~10 us of Python per chunk, short
enough (a few ms) for a prompt Ctrl-C and an even finish across threads."""

MIN_CHUNK_BYTES = 512 << 10
"""Smallest chunk when splitting a mid-size output among threads."""

PARALLEL_MIN_BYTES = 2 << 20
"""Outputs smaller than this run on the calling thread alone: handing work to a
helper thread costs ~100 us (measured: 2 threads lose to 1 at 1 MiB)."""

Task = Tuple[np.ndarray, int]
"""A view of the output and the global index of its first element."""

_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def thread_count() -> int:
    """Threads a fill may use: ``numba.get_num_threads()`` of the calling thread."""
    return max(1, int(numba.get_num_threads()))


def _helper_pool() -> ThreadPoolExecutor:
    """The shared helpers, one fewer than numba's thread ceiling (the caller works too)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            helpers = max(1, numba.config.NUMBA_NUM_THREADS - 1)
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


def _contiguous_tasks(flat: np.ndarray, first: int, chunk: int) -> List[Task]:
    """Cut ``flat`` at global indices that are multiples of ``chunk``."""
    tasks = []
    begin, end = first, first + flat.size
    while begin < end:
        stop = min(end, (begin // chunk + 1) * chunk)
        tasks.append((flat[begin - first : stop - first], begin))
        begin = stop
    return tasks


def _strided_tasks(out: np.ndarray, first: int, chunk: int) -> Iterator[Task]:
    """Blocks of ``out`` that are runs of consecutive C-order indices."""
    if out.ndim <= 1:
        for begin in range(0, out.shape[0], chunk):
            yield out[begin : begin + chunk], first + begin
        return
    row = int(np.prod(out.shape[1:]))
    if row <= chunk:
        rows = chunk // row
        for begin in range(0, out.shape[0], rows):
            yield out[begin : begin + rows], first + begin * row
    else:
        for i in range(out.shape[0]):
            yield from _strided_tasks(out[i], first + i * row, chunk)


def _run_tasks(tasks: Sequence[Task], work: Callable[[Task, dict], None], threads: int) -> None:
    """Run ``work`` on every task, the caller included among the workers."""
    claim = itertools.count()  # next() on a count is atomic under the GIL
    cancelled = threading.Event()
    errors: List[BaseException] = []

    def worker() -> None:
        local: dict = {}
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
                except KeyboardInterrupt:
                    cancelled.set()  # keep waiting: no write may outlive the call
    if errors:
        raise errors[0]


def run_fill(kernel: Callable, out: np.ndarray, first: int, tile: int, args: tuple) -> None:
    """Fill ``out`` (any layout) by ``kernel(flat, first_index, *args)``.

    ``kernel`` fills a 1-D contiguous array whose element 0 has global index
    ``first_index``; logical C-order element ``i`` of ``out`` receives global
    index ``first + i``.  Arrays that are not C-contiguous, aligned and in
    native byte order are filled block by block through a native buffer.
    ``tile`` is the kernel's tile length: chunks are cut on tile boundaries so
    that only the ends of ``out`` hold partial tiles.
    """
    if out.size == 0:
        return
    threads = 1 if out.nbytes < PARALLEL_MIN_BYTES else thread_count()
    chunk = _chunk_elements(out.nbytes, out.itemsize, tile, threads)
    native = out.dtype.newbyteorder("=")
    if out.flags.c_contiguous and out.flags.aligned and out.dtype == native:
        tasks = _contiguous_tasks(out.reshape(-1), first, chunk)

        def work(task: Task, local: dict) -> None:
            kernel(task[0], task[1], *args)

    else:
        tasks = list(_strided_tasks(out.reshape(out.shape or (1,)), first, chunk))

        def work(task: Task, local: dict) -> None:
            view, start = task
            buffer = local.get("buffer")
            if buffer is None:
                buffer = local["buffer"] = np.empty(chunk, native)
            block = buffer[: view.size]
            kernel(block, start, *args)
            view[...] = block.reshape(view.shape)

    if len(tasks) == 1:
        work(tasks[0], {})
    else:
        _run_tasks(tasks, work, threads)
