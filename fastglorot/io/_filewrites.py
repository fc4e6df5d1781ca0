"""Low-level file writes: final sizes, positional writes, directory fsync and write-behind.

The checkpoint writers fill slabs in memory and write them at their offsets
(:func:`pwrite_all`) into files sized up front (:func:`set_size`);
:class:`WriteBehind` starts the kernel's write-back of what was written while
the next slab is filled.
"""

from __future__ import annotations

import collections
import contextlib
import os
import sys
from pathlib import Path
from typing import Any, Deque, Tuple

try:
    import fcntl
except ImportError:  # not POSIX: no locks, so no clean-up of other writers' temporaries
    fcntl = None  # type: ignore[assignment]


__all__ = ["fsync_directory", "set_size", "pwrite_all", "WriteBehind"]


def fsync_directory(directory: Path) -> None:
    """fsync a directory, so that a new name in it survives a crash (where directories can be opened)."""
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def set_size(fd: int, size: int) -> None:
    """Give the file its final size (sparse until written).

    ``ftruncate``, not ``posix_fallocate``: reserving the blocks first made
    the writes slower (ext4's unwritten extents: 0.27 against 0.37 GB/s for a
    16 GiB bfloat16 checkpoint on this project's VM).  A file-size limit
    still fails here, before any data is written; free space is checked
    before any file is created (:func:`check_free_space`).
    """
    os.ftruncate(fd, size)


def pwrite_all(fd: int, data: memoryview, position: int) -> None:
    """Write all of ``data`` at ``position`` (``os.pwrite`` may write less than asked)."""
    while len(data):
        written = os.pwrite(fd, data, position)
        data, position = data[written:], position + written


_SYNC_WAIT_BEFORE, _SYNC_WRITE, _SYNC_WAIT_AFTER = 1, 2, 4  # sync_file_range flags (Linux)


def _load_sync_file_range() -> Any:
    """libc's ``sync_file_range``, or None (not Linux, or not found)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_sync_file_range: Any = None
_looked_up = False


class WriteBehind:
    """Positional writes to one file whose pages go to disk while the rest is still being filled.

    Without help, the kernel keeps a checkpoint's pages dirty until its
    writeback thresholds (gigabytes on a large machine) and the final fsync
    then writes them all while nothing else happens; the page cache also
    fills with pages that will not be read again.  Here each write starts
    its own writeback at once (``sync_file_range(SYNC_FILE_RANGE_WRITE)``),
    and writes more than :attr:`LAG` bytes behind are waited for and dropped
    from the page cache (``posix_fadvise(DONTNEED)``), so the disk works
    from the first slab on and the final fsync has little left to do.
    Where ``sync_file_range`` is unavailable, writes are plain ``pwrite``.
    One writer thread per file: not thread-safe.
    """

    LAG = 64 << 20

    def __init__(self, fd: int) -> None:
        global _sync_file_range, _looked_up
        if not _looked_up:
            _sync_file_range, _looked_up = _load_sync_file_range(), True
        self.fd = fd
        self._behind: Deque[Tuple[int, int]] = collections.deque()
        self._behind_bytes = 0

    def write(self, data: memoryview, position: int) -> None:
        """``pwrite`` all of ``data`` at ``position``, start its writeback, settle what is far enough behind."""
        pwrite_all(self.fd, data, position)
        if _sync_file_range is None or not len(data):
            return
        _sync_file_range(self.fd, position, len(data), _SYNC_WRITE)
        self._behind.append((position, len(data)))
        self._behind_bytes += len(data)
        while self._behind_bytes > self.LAG:
            at, count = self._behind.popleft()
            self._behind_bytes -= count
            _sync_file_range(self.fd, at, count, _SYNC_WAIT_BEFORE | _SYNC_WRITE | _SYNC_WAIT_AFTER)
            with contextlib.suppress(OSError, AttributeError):
                os.posix_fadvise(self.fd, at, count, os.POSIX_FADV_DONTNEED)
