"""What an output is checked for before anything is written, and write errors in the user's terms.

Every writer (``_atomic.prepare_file``, ``_atomic.staged_checkpoint``) runs
these checks first, in the order users hit them: where the output goes (a
symbolic link is written through), that its parent exists, that an existing
output may be replaced (``force``, not immutable), that a file can be created
there, and that the space is there; then a full disk, a quota or a file-size
limit mid-write is reported naming the path and the size, and saying that
nothing was written (:func:`explained_write_errors`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import tempfile
from pathlib import Path
from typing import Iterator, Optional, Sequence, Type, TypeVar

try:
    import fcntl
except ImportError:  # not POSIX: no locks, so no clean-up of other writers' temporaries
    fcntl = None  # type: ignore[assignment]


__all__ = ["plain_error", "readable_size", "output_place", "check_parent", "refuse_existing", "check_replaceable",
           "check_writable", "check_free_space", "explained_write_errors"]


_E = TypeVar("_E", bound=OSError)


def plain_error(kind: Type[_E], code: int, message: str) -> _E:
    """An ``OSError`` (subclass) whose text is ``message`` alone (no ``[Errno N]``), with ``errno`` set."""
    error = kind(message)
    error.errno = code
    return error


def readable_size(nbytes: int) -> str:
    """``"12.55 GiB (13476831232 bytes)"``: readable, and exact for whoever compares with ``df``."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if nbytes >= 1 << shift:
            return f"{nbytes / (1 << shift):.2f} {unit} ({nbytes} bytes)"
    return f"{nbytes} bytes"


# -- where the output goes, and what is refused before anything is written -----------------------------


def output_place(target: Path) -> Path:
    """The path the output is written to: ``target``, or what the symbolic link ``target`` points to.

    A link is written through, as ``cp``, shell redirection and
    ``safetensors.save_file`` do: ``latest.safetensors -> run42.safetensors``
    stays a link and ``run42.safetensors`` gets the new checkpoint (with
    ``force``).  Like ``cp``, a dangling link is not written through.
    """
    if not target.is_symlink():
        return target
    resolved = Path(os.path.realpath(target))
    if not resolved.exists():
        raise plain_error(FileNotFoundError, errno.ENOENT,
                     f"{target} is a symbolic link to {os.readlink(target)}, which does not exist: a link is written "
                     "through, as cp does, never through a dangling one; remove the link or write to its target")
    return resolved


def check_parent(target: Path, place: Path) -> None:
    """A clear error when the directory that would hold the output does not exist (none is created)."""
    parent = place.parent
    if not parent.exists():
        raise plain_error(FileNotFoundError, errno.ENOENT,
                     f"cannot write {target}: directory {parent} does not exist (create it first)")
    if not parent.is_dir():
        raise plain_error(NotADirectoryError, errno.ENOTDIR, f"cannot write {target}: {parent} is not a directory")


def refuse_existing(paths: Sequence[Path], force: bool) -> None:
    """A FileExistsError for existing outputs, unless ``force``."""
    if not force:
        existing = [str(p) for p in paths if p.exists()]
        if existing:
            raise FileExistsError(f"{', '.join(existing)} exists: pass force=True (--force) to replace it")


_FS_IOC_GETFLAGS = 0x80086601 if sys.maxsize > 2**32 else 0x80046601  # _IOR('f', 1, long)
_FS_IMMUTABLE_FL, _FS_APPEND_FL = 0x10, 0x20


def check_replaceable(place: Path, target: Path) -> None:
    """A clear error, before anything is written, when ``place`` is immutable or append-only (``chattr +i/+a``).

    Such a file or directory cannot be replaced, not even by root; finding
    out only at the final rename would waste the whole write.  Linux only
    (``FS_IOC_GETFLAGS``); elsewhere, or where the flags cannot be read, the
    final step reports it (:meth:`AtomicFile.commit`).
    """
    if fcntl is None or not sys.platform.startswith("linux"):
        return
    try:
        fd = os.open(place, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        flags = int.from_bytes(fcntl.ioctl(fd, _FS_IOC_GETFLAGS, bytes(8))[:4], sys.byteorder)
    except OSError:  # a file system without these flags
        return
    finally:
        os.close(fd)
    for flag, word, option in ((_FS_IMMUTABLE_FL, "immutable", "i"), (_FS_APPEND_FL, "append-only", "a")):
        if flags & flag:
            raise plain_error(PermissionError, errno.EPERM,
                         f"{target} is {word} (chattr +{option}): it cannot be replaced, not even with --force; "
                         f"nothing was written (chattr -{option} {place} first, as root)")


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


_BOTH_COPIES = ("the old checkpoint stays until the new one is complete, so replacing it needs room for both: free "
                "space, write elsewhere, or remove the old one first")


def check_free_space(directory: Path, nbytes: int, target: Optional[Path] = None, replacing: bool = False) -> None:
    """A clear error, before anything is created, when ``directory``'s file system lacks ``nbytes``."""
    try:
        stats = os.statvfs(directory)
    except (AttributeError, OSError):  # no statvfs here: the writes will say it
        return
    free = stats.f_bavail * stats.f_frsize
    if free < nbytes:
        what = f"{target}: " if target is not None else ""
        advice = _BOTH_COPIES if replacing else "free space or write elsewhere"
        raise plain_error(OSError, errno.ENOSPC, f"{what}{directory} has {readable_size(free)} free; the checkpoint needs "
                                            f"{readable_size(nbytes)}; nothing was written: {advice}")


@contextlib.contextmanager
def explained_write_errors(target: Path, nbytes: int, replacing: bool) -> Iterator[None]:
    """Out of space, over quota or past a file-size limit while writing: one message in the user's terms.

    The bare ``[Errno 28] No space left on device`` names neither the
    output nor the size; this names both, and says that nothing was written
    (the writers remove their temporaries on the way out) and that the
    previous checkpoint, if any, is intact.
    """
    try:
        yield
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) or getattr(error, "explained", False):
            raise
        kept = " and the previous checkpoint is intact" if replacing else ""
        if error.errno == errno.EFBIG:
            message = (f"{target}: the {readable_size(nbytes)} checkpoint needs a file larger than the file-size limit "
                       f"(ulimit -f) or the file system allows (File too large); nothing was written{kept}: raise the "
                       "limit, write to another file system, or pass max_shard_size for smaller files")
        else:
            cause = "No space left on device" if error.errno == errno.ENOSPC else "Disk quota exceeded"
            advice = _BOTH_COPIES if replacing else "free space or write elsewhere"
            message = (f"{target}: the disk filled up while writing the {readable_size(nbytes)} checkpoint ({cause}); "
                       f"nothing was written{kept}: {advice}")
        explained = plain_error(OSError, error.errno, message)
        explained.explained = True  # type: ignore[attr-defined]
        raise explained from None
