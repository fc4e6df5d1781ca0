"""Hidden temporaries beside an output, the ``flock`` locks that mark them as alive, and their clean-up.

A writer's temporary file or staging directory is ``.NAME.XXXXXXXX.partial``
beside its output, under a lock its writer holds; a later write to the same
output removes the temporaries whose lock is free (:func:`remove_abandoned`):
their writer is gone.  Where the file system cannot lock, nothing is removed.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import stat
from pathlib import Path
from typing import Iterator, Sequence

try:
    import fcntl
except ImportError:  # not POSIX: no locks, so no clean-up of other writers' temporaries
    fcntl = None  # type: ignore[assignment]


__all__ = ["hidden_name", "try_lock", "directory_lock", "open_locked", "remove_abandoned", "remove_temporaries"]


# -- hidden temporaries, their locks and their clean-up ----------------------------------------------

_TOKEN = re.compile(r"[A-Za-z0-9_]{8}")  # (8 characters: also the names tempfile.mkdtemp gave before)


def hidden_name(place: Path) -> Path:
    """``.NAME.XXXXXXXX.partial`` beside ``place``: the one pattern :func:`remove_abandoned` looks for."""
    return place.with_name(f".{place.name}.{secrets.token_hex(4)}.partial")


# The locks, all flock(2) on the temporaries and directories themselves (no lock files to leave behind):
#   a writer's temporary file        exclusive, held by its writer;
#   a writer's staging directory     shared, held by its writer (its shard files are created in it, see below);
#   a directory, to create in it     shared: creating a temporary and locking it is one step for a clean-up;
#   a directory, to clean up in it   exclusive, and to check and swap in a checkpoint: exclusive.
# A clean-up takes a temporary whose exclusive lock it can get (no writer holds any) as abandoned.  A staging
# directory's lock is shared because it is also the directory its shards are created in (shared too): one
# writer, or its Dask workers, never wait for themselves.


def try_lock(fd: int, wait: bool = False, shared: bool = False) -> bool:
    """``flock`` ``fd``: True when held (False: held elsewhere and not ``wait``, or locks unsupported here)."""
    if fcntl is None:
        return False
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if wait else fcntl.LOCK_NB))
    except OSError:
        return False
    return True


@contextlib.contextmanager
def directory_lock(directory: Path, shared: bool = False) -> Iterator[bool]:
    """A ``flock`` on ``directory`` itself for the block: True if held, False where unsupported.

    Exclusive: while a writer removes abandoned temporaries and creates its
    own staging directory, and while it checks and swaps in a directory.
    Shared: while it creates a named temporary and locks it.
    """
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        yield False
        return
    try:
        yield try_lock(fd, wait=True, shared=shared)
    finally:
        os.close(fd)  # releases the lock


def open_locked(path: Path, shared: bool = False) -> int:
    """A descriptor of ``path`` (a file or a directory, never a link) holding a lock on it now, or -1."""
    if fcntl is None:
        return -1
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)  # (O_NONBLOCK: a FIFO does not hang it)
    except OSError:
        return -1
    if not try_lock(fd, shared=shared):
        os.close(fd)
        return -1
    return fd


def remove_abandoned(place: Path) -> None:
    """Remove the hidden temporaries beside ``place`` whose writers are gone (a kill, a power cut).

    A temporary is its writer's as long as the writer holds its ``flock``;
    one whose lock can be taken has no writer left.  Must run under the
    parent's :func:`directory_lock` (as :func:`prepare_file` and
    :func:`staged_checkpoint` do), so that no writer is between creating a
    temporary and locking it.
    """
    prefix, suffix = f".{place.name}.", ".partial"
    try:
        names = [entry.name for entry in os.scandir(place.parent)]
    except OSError:
        return
    for name in names:
        if not (name.startswith(prefix) and name.endswith(suffix)
                and _TOKEN.fullmatch(name[len(prefix):-len(suffix)])):
            continue
        path = place.parent / name
        fd = open_locked(path)  # (a link or anything but a file or directory is never opened: O_NOFOLLOW)
        if fd < 0:
            continue  # a running writer's, or it cannot be told: left alone
        try:
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                shutil.rmtree(path, ignore_errors=True)
            elif stat.S_ISREG(os.fstat(fd).st_mode):
                with contextlib.suppress(OSError):
                    os.unlink(path)
        finally:
            os.close(fd)


def remove_temporaries(directory: Path, names: Sequence[str]) -> None:
    """Remove the hidden temporaries of the files ``names`` in ``directory``, whose writers have all finished.

    For a staging directory once every shard task has returned: a worker
    that died mid-file left its temporary (where the file system has no
    ``O_TMPFILE``), and the task's rerun wrote the file under another one.
    Unlike :func:`remove_abandoned`, needs no lock to tell (``flock`` may be
    unavailable on the shared file system such a directory is on).
    """
    prefixes = [f".{name}." for name in names]
    try:
        entries = [entry.name for entry in os.scandir(directory)]
    except OSError:
        return
    for name in entries:
        if name.endswith(".partial") and any(name.startswith(prefix) and
                                             _TOKEN.fullmatch(name[len(prefix):-len(".partial")])
                                             for prefix in prefixes):
            with contextlib.suppress(OSError):
                os.unlink(directory / name)
