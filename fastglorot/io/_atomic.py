"""Atomic output: files and directories that appear under their names complete, or not at all.

A file is created unnamed in its target's directory (Linux ``O_TMPFILE``;
elsewhere a hidden temporary name that :meth:`AtomicFile.discard` removes),
sized, written with positional writes, fsynced, and only then linked under
its name (:meth:`AtomicFile.commit`); a directory (a zarr store) is built
under a hidden temporary name and renamed into place
(:func:`staged_directory`).  :func:`refuse_existing` and
:func:`check_free_space` fail before anything is created.  An interrupt, a
kill, a full disk or a file-size limit leaves no partial output.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Deque, Iterator, List, Optional, Pattern, Sequence, Tuple

__all__ = ["AtomicFile", "staged_directory", "replace_directory", "refuse_existing", "check_writable",
           "check_free_space", "set_size", "pwrite_all", "fsync_directory", "WriteBehind", "missing_ancestors",
           "staged_checkpoint"]


def refuse_existing(paths: Sequence[Path], force: bool) -> None:
    """A FileExistsError for existing outputs (unless ``force``), a FileNotFoundError for a missing directory."""
    if not force:
        existing = [str(p) for p in paths if p.exists()]
        if existing:
            raise FileExistsError(f"{', '.join(existing)} exists: pass force=True (--force) to replace it")
    for p in paths:
        if not p.parent.is_dir():
            raise FileNotFoundError(f"{p.parent} is not a directory")


class AtomicFile:
    """A new file that appears under ``target`` only when :meth:`commit` succeeds.

    Created unnamed in the target's directory (``O_TMPFILE``), so that even a
    kill leaves nothing behind; where the file system cannot, a hidden
    temporary name that :meth:`discard` removes.
    """

    def __init__(self, target: Path) -> None:
        self.target = target
        self.temporary: Optional[Path] = None
        flag = getattr(os, "O_TMPFILE", None)
        fd = -1
        if flag is not None:
            try:
                fd = os.open(target.parent, flag | os.O_RDWR, 0o644)
            except OSError:
                fd = -1
        if fd < 0:
            fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
            self.temporary = Path(name)
        self.fd = fd

    def commit(self, force: bool) -> None:
        """fsync the file and link it under its name (replacing an existing one only with ``force``)."""
        os.fsync(self.fd)
        if self.temporary is None:
            if not force:
                self._link(self.target)  # fails if the target exists: never overwritten
            else:
                staging = self.target.with_name(f".{self.target.name}.{os.getpid()}.partial")
                self._link(staging)
                try:
                    os.replace(staging, self.target)
                except OSError:
                    staging.unlink()  # the linked name must not outlive a failed replace
                    raise
        else:
            if not force and self.target.exists():
                raise FileExistsError(f"{self.target} exists (use force to replace it)")
            os.replace(self.temporary, self.target)
            self.temporary = None
        os.close(self.fd)
        self.fd = -1
        fsync_directory(self.target.parent)

    def _link(self, name: Path) -> None:
        """Give the unnamed file ``name``: ``linkat`` of ``/proc/self/fd/N`` with ``AT_SYMLINK_FOLLOW``.

        ``os.link`` uses plain ``link(2)`` (which links the /proc symlink
        itself and fails across devices) unless a directory fd is given.
        """
        directory = os.open("/proc/self/fd", os.O_RDONLY)
        try:
            os.link(str(self.fd), name, src_dir_fd=directory, follow_symlinks=True)
        finally:
            os.close(directory)

    def discard(self) -> None:
        """Close the file and remove its temporary name, if any (nothing to do after :meth:`commit`)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.temporary is not None:
            with contextlib.suppress(FileNotFoundError):
                self.temporary.unlink()
            self.temporary = None


def missing_ancestors(directory: Path) -> List[Path]:
    """``directory`` and its ancestors that do not exist yet, deepest first."""
    missing = []
    while not directory.exists() and directory != directory.parent:
        missing.append(directory)
        directory = directory.parent
    return missing


def check_writable(directory: Path, target: Path) -> None:
    """A clear error, before anything is written, when no file can be created in ``directory``.

    Creates (and at once removes) an unnamed file: the one test that sees
    read-only mounts, immutable directories, and file systems such as
    ``/proc`` alike.
    """
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        raise OSError(error.errno, f"{target} cannot be written: no file can be created in {directory} "
                                   f"({error.strerror})") from None


_EXCHANGE = 2  # renameat2's RENAME_EXCHANGE (Linux 3.15)
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directory entries atomically (Linux ``renameat2``); False where that is unavailable."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # this file system or kernel cannot
        return False
    raise OSError(code, os.strerror(code), str(b))


def _link_tree(source: Path, destination: Path) -> None:
    """``destination`` gets hard links to ``source``'s files (recursively; symlinks recreated)."""
    if source.is_symlink():
        os.symlink(os.readlink(source), destination)
    elif source.is_dir():
        destination.mkdir()
        for entry in source.iterdir():
            _link_tree(entry, destination / entry.name)
    else:
        try:
            os.link(source, destination)
        except OSError:  # a file system without hard links: a copy
            shutil.copy2(source, destination)


def replace_directory(staging: Path, target: Path, keep: Sequence[Path]) -> None:
    """Put the complete ``staging`` directory in the place of ``target``, keeping ``target``'s ``keep`` entries.

    The entries to keep (a user's README or config) are hard-linked into
    ``staging`` first; then the two directories are swapped in one atomic
    ``renameat2(RENAME_EXCHANGE)``, so a reader sees the old directory or the
    new one, never a mix; the old one is removed afterwards.  Where the swap
    is unavailable, ``target`` is moved aside and ``staging`` renamed in its
    place (a moment without ``target``, but never a mix).
    """
    for entry in keep:
        _link_tree(entry, staging / entry.name)
    fsync_directory(staging)
    if _exchange(staging, target):
        shutil.rmtree(staging)
    else:
        replaced = target.with_name(f".{target.name}.{os.getpid()}.replaced")
        os.rename(target, replaced)
        os.rename(staging, target)
        shutil.rmtree(replaced)
    fsync_directory(target.parent)


@contextlib.contextmanager
def staged_checkpoint(directory: Path, owned: Pattern[str], nbytes: int, force: bool) -> Iterator[Path]:
    """A hidden staging directory beside ``directory`` that replaces it, whole, when the block succeeds.

    Before anything is created: a file in the way, an existing checkpoint
    (entries matching ``owned``) without ``force``, an unwritable place and
    too little space for ``nbytes`` are refused.  Missing parents are created.
    On success the staging directory takes ``directory``'s place
    (:func:`replace_directory`, keeping the entries ``owned`` does not
    match); on any error, or an interrupt, the staging directory and the
    parents created for it are removed and ``directory`` is as it was.
    """
    if directory.exists() and not directory.is_dir():
        raise FileExistsError(errno.EEXIST, f"{directory} is a file, but the checkpoint is a directory: remove the "
                                            "file or choose another path")
    existing = sorted(p for p in directory.iterdir() if owned.fullmatch(p.name)) if directory.is_dir() else []
    refuse_existing(existing, force)
    created = missing_ancestors(directory.parent)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging: Optional[Path] = None
    done = False
    try:
        check_writable(directory.parent, directory)
        check_free_space(directory.parent, nbytes)
        staging = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}.", suffix=".partial"))
        yield staging
        if directory.is_dir():
            replace_directory(staging, directory, [p for p in directory.iterdir() if not owned.fullmatch(p.name)])
        else:
            os.rename(staging, directory)
            fsync_directory(directory.parent)
        done = True
    finally:
        if not done:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            for ancestor in created:  # deepest first; only if still empty
                with contextlib.suppress(OSError):
                    ancestor.rmdir()


@contextlib.contextmanager
def staged_directory(target: Path) -> Iterator[Path]:
    """A hidden temporary directory beside ``target``, renamed to ``target`` when the block succeeds.

    An existing ``target`` (the caller has checked ``force``) is moved aside
    first and removed once the new directory is in place; on any error the
    temporary directory is removed and ``target`` is left as it was.
    """
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial"))
    try:
        yield staging
        replaced = None
        if target.exists():
            replaced = target.with_name(f".{target.name}.{os.getpid()}.replaced")
            os.rename(target, replaced)
        os.rename(staging, target)
        if replaced is not None:
            shutil.rmtree(replaced)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


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


def check_free_space(directory: Path, nbytes: int) -> None:
    """A clear error, before anything is created, when ``directory``'s file system lacks ``nbytes``."""
    try:
        stats = os.statvfs(directory)
    except (AttributeError, OSError):  # no statvfs here: the writes will say it
        return
    free = stats.f_bavail * stats.f_frsize
    if free < nbytes:
        raise OSError(errno.ENOSPC, f"{directory} has {free / 2**30:.2f} GiB free; the checkpoint needs "
                                    f"{nbytes / 2**30:.2f} GiB")


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
