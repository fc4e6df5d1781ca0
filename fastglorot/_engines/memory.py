"""Memory policy for outputs: aligned allocation, huge-page advice for fresh buffers, and the overlap check.

Values never depend on anything here: it decides where an allocated array
starts and how the kernel backs fresh pages, and refuses outputs whose
elements share memory (CPU buffers and CUDA arrays alike), nothing else.
"""

from __future__ import annotations

import math
import os
import sys
from typing import Any, Optional, Tuple

import numpy as np
from numpy.typing import NDArray

__all__ = ["ALIGNMENT", "aligned_empty", "advise_huge_pages", "huge_pages", "available_memory", "format_bytes",
           "check_no_self_overlap"]

HUGE_PAGE_BYTES = 2 << 20
HUGE_PAGE_MIN_BYTES = 4 << 20
"""Outputs of at least this size get ``madvise(MADV_HUGEPAGE)`` (NumPy uses the
same threshold for its own allocations)."""

_MADV_HUGEPAGE = 14

huge_pages = os.environ.get("FASTGLOROT_HUGE_PAGES", "") not in ("", "0")
"""Whether :func:`advise_huge_pages` advises at all: opt-in (``FASTGLOROT_HUGE_PAGES=1``)."""


def _load_madvise() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        madvise = libc.madvise
    except (OSError, AttributeError):
        return None
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    return madvise


_madvise: Any = None
"""libc's ``madvise``, loaded at the first advice (ctypes is not imported before it is needed)."""


def advise_huge_pages(out: NDArray[Any]) -> None:
    """Ask Linux to back the untouched pages of a large contiguous ``out`` with 2 MiB pages (opt-in).

    A fresh buffer (``torch.empty``, a new checkpoint slab) takes one page
    fault per 4 KiB page on first touch.  With ``FASTGLOROT_HUGE_PAGES=1``
    outputs of 4 MiB or more get ``madvise(MADV_HUGEPAGE)``, one fault per
    2 MiB.  Off by default because it cuts both ways: one fresh large fill
    gets faster, but many fresh multi-GiB fills in a row (a model build) got
    slower once the kernel had to find new huge pages (README "Threads,
    safety and compilation"; ``bench/bench_first_touch.py``).  Only whole
    huge pages inside ``out`` are advised, so memory around it is never
    affected; pages already touched stay as they are.  Advice is a hint:
    errors (file-backed memory, no THP support) are ignored, and values never
    depend on it.
    """
    global _madvise
    if not huge_pages or out.nbytes < HUGE_PAGE_MIN_BYTES or not out.flags.c_contiguous:
        return
    if _madvise is None:
        _madvise = _load_madvise() or False  # False: looked, not available
    if not _madvise:
        return
    address = out.ctypes.data
    start = -(-address // HUGE_PAGE_BYTES) * HUGE_PAGE_BYTES
    end = (address + out.nbytes) // HUGE_PAGE_BYTES * HUGE_PAGE_BYTES
    if end > start:
        _madvise(start, end - start, _MADV_HUGEPAGE)


ALIGNMENT = 64
"""Byte alignment of allocated arrays: what XLA needs to alias a host buffer
(``jax.device_put(..., may_alias=True)`` and DLPack import copy anything less
aligned), and a whole cache line for the kernels' first tile."""


_MAX_BYTES = int(np.iinfo(np.intp).max) - ALIGNMENT
"""The largest array NumPy can index, in bytes (less the alignment slack)."""


def aligned_empty(shape: Tuple[int, ...], dtype: np.dtype[Any], name: str = "") -> np.ndarray[Any, Any]:
    """``np.empty(shape, dtype)`` whose data starts on an :data:`ALIGNMENT`-byte boundary.

    NumPy's allocator aligns to 16 bytes only; over-allocating one alignment
    unit and slicing costs 64 bytes and no copy.  The byte buffer is an
    internal detail, so errors name the caller's ``shape`` and ``dtype``
    (``name`` is the dtype's name for the message, default ``dtype.name``).

    Raises
    ------
    ValueError
        The array has more bytes than NumPy can index (``2**63 - 1``).
    MemoryError
        The system cannot provide the memory; the message names the shape,
        the dtype, the size and the memory available.
    """
    nbytes = math.prod(shape) * dtype.itemsize
    what = f"an array of shape {shape} and dtype {name or dtype.name}"
    if nbytes > _MAX_BYTES:
        raise ValueError(f"{what} would hold {format_bytes(nbytes)} ({nbytes} bytes), more than NumPy can address "
                         f"(2**63 - 1 bytes); fill it block by block (global_shape=, global_offset=), or lazily "
                         f"with fastglorot.dask, or into a file with fastglorot.io")
    try:
        raw = np.empty(nbytes + ALIGNMENT, dtype=np.uint8)
    except MemoryError:
        available = available_memory()
        free = f" ({format_bytes(available)} available now)" if available is not None else ""
        raise MemoryError(f"cannot allocate {what}: {format_bytes(nbytes)} ({nbytes} bytes) does not fit in "
                          f"memory{free}; fill it block by block (global_shape=, global_offset=), lazily with "
                          f"fastglorot.dask, or into a file with fastglorot.io") from None
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def available_memory() -> Optional[int]:
    """Bytes of memory available to a new allocation now (Linux ``MemAvailable``), or None where unknown."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def format_bytes(nbytes: float) -> str:
    """``nbytes`` in binary units for messages: ``"4.00 TiB"``, ``"512 B"``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if nbytes < 1024 or unit == "EiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.2f} {unit}"
        nbytes /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def check_no_self_overlap(array: np.ndarray[Any, Any]) -> None:
    """Reject views in which two elements share memory (e.g. stride 0).

    A fill writes every element once; through such a view the last write
    wins, so the result would depend on write order and thread timing.
    """
    if array.size == 0:
        return
    axes = sorted((abs(stride), length) for stride, length in zip(array.strides, array.shape) if length > 1)
    if any(stride == 0 for stride, _ in axes):
        raise ValueError(f"out has a zero stride (strides {array.strides}, shape {array.shape}): "
                         "its elements alias each other, e.g. an expanded or broadcast view")
    # Fast sufficient test: each axis steps over the whole extent of the
    # faster ones.  Holds for every layout produced by slicing and transposing.
    extent = array.itemsize
    for stride, length in axes:
        if stride < extent:
            break
        extent += stride * (length - 1)
    else:
        return
    # Interleaved or overlapping layouts (only as_strided makes them): check
    # the byte offsets of all elements exactly.
    offsets = np.zeros(1, dtype=np.int64)
    for stride, length in zip(array.strides, array.shape):
        offsets = (offsets[:, None] + stride * np.arange(length, dtype=np.int64)).reshape(-1)
    offsets.sort()
    if np.any(np.diff(offsets) < array.itemsize):
        raise ValueError(f"out's elements overlap in memory (strides {array.strides}, shape {array.shape})")
