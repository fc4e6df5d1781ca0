"""Memory policy for outputs: aligned allocation, and huge-page advice for fresh buffers.

Values never depend on anything here: it decides where an allocated array
starts and how the kernel backs fresh pages, nothing else.
"""

from __future__ import annotations

import math
import os
import sys
from typing import Any, Tuple

import numpy as np
from numpy.typing import NDArray

__all__ = ["ALIGNMENT", "aligned_empty", "advise_huge_pages", "huge_pages"]

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


def aligned_empty(shape: Tuple[int, ...], dtype: np.dtype[Any]) -> np.ndarray[Any, Any]:
    """``np.empty(shape, dtype)`` whose data starts on an :data:`ALIGNMENT`-byte boundary.

    NumPy's allocator aligns to 16 bytes only; over-allocating one alignment
    unit and slicing costs 64 bytes and no copy.
    """
    nbytes = math.prod(shape) * dtype.itemsize
    raw = np.empty(nbytes + ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start:start + nbytes].view(dtype).reshape(shape)
