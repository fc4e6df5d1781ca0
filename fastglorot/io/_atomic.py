"""Atomic output: files and directories that appear under their names complete, or not at all.

A file is created unnamed in its target's directory (Linux ``O_TMPFILE``;
elsewhere a hidden temporary name that :meth:`AtomicFile.discard` removes),
sized, written with positional writes, fsynced, and only then linked under
its name (:meth:`AtomicFile.commit`); a directory (a sharded or ``--config``
checkpoint, a zarr store) is built in a hidden staging directory beside it
and swapped into place (:func:`staged_checkpoint`).

The rules every output follows:

* Checked first (:func:`prepare_file`, :func:`staged_checkpoint`): the
  parent directory exists, an existing output needs ``force``, an immutable
  one cannot be replaced, a file can be created, and the space is there.
* Without ``force`` the last step never replaces: ``linkat`` of the unnamed
  file, or ``renameat2(RENAME_NOREPLACE)`` of the staging directory (an
  existing directory is checked again under the parent's lock, see below),
  so an output that another writer completed meanwhile stays, and this
  writer fails naming it.
* A symbolic link at the output path is written through, as ``cp`` and
  shell redirection do (:func:`output_place`): the link stays a link and its
  target gets the new checkpoint.
* A new directory gets the mode ``mkdir`` gives (umask, a setgid parent's
  group); a replaced directory keeps its mode, owner (as root), group, setgid
  bit and POSIX ACLs.
* Hidden temporaries are ``.NAME.XXXXXXXX.partial`` beside the output, each
  under a ``flock`` held by its writer.  A kill leaves them (the kernel
  frees an unnamed file's data, not a directory); the next write to the
  same output removes those whose lock is free, i.e. whose writer is gone
  (:func:`remove_abandoned`): the kernel releases the locks of a dead
  process, so a recycled pid cannot fool it, and a running writer's
  temporaries are never touched.  Creating a temporary and taking its lock,
  the clean-up, and the final check-and-swap of a directory hold a
  ``flock`` on the parent directory, so they never interleave (the table of
  locks is above :func:`_lock`).  Where the file system cannot lock (some
  NFS mounts), nothing is cleaned up.
* A full disk, a quota or a file-size limit mid-write is reported in the
  user's terms (:func:`explained_write_errors`): the path, the size, and
  that nothing was written.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import os
import re
import secrets
import shutil
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any, Deque, Iterator, Optional, Pattern, Sequence, Tuple, Type, TypeVar

try:
    import fcntl
except ImportError:  # not POSIX: no locks, so no clean-up of other writers' temporaries
    fcntl = None  # type: ignore[assignment]

__all__ = ["AtomicFile", "staged_checkpoint", "refuse_existing", "check_writable", "check_free_space", "set_size",
           "pwrite_all", "fsync_directory", "WriteBehind", "output_place", "check_parent", "check_replaceable",
           "prepare_file", "remove_abandoned", "remove_temporaries", "explained_write_errors", "OWN_ALL"]

OWN_ALL = re.compile(r".*", re.DOTALL)
"""For :func:`staged_checkpoint`: every entry of the directory belongs to the checkpoint (a zarr store)."""


_E = TypeVar("_E", bound=OSError)


def _error(kind: Type[_E], code: int, message: str) -> _E:
    """An ``OSError`` (subclass) whose text is ``message`` alone (no ``[Errno N]``), with ``errno`` set."""
    error = kind(message)
    error.errno = code
    return error


def _size(nbytes: int) -> str:
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
        raise _error(FileNotFoundError, errno.ENOENT,
                     f"{target} is a symbolic link to {os.readlink(target)}, which does not exist: a link is written "
                     "through, as cp does, never through a dangling one; remove the link or write to its target")
    return resolved


def check_parent(target: Path, place: Path) -> None:
    """A clear error when the directory that would hold the output does not exist (none is created)."""
    parent = place.parent
    if not parent.exists():
        raise _error(FileNotFoundError, errno.ENOENT,
                     f"cannot write {target}: directory {parent} does not exist (create it first)")
    if not parent.is_dir():
        raise _error(NotADirectoryError, errno.ENOTDIR, f"cannot write {target}: {parent} is not a directory")


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
            raise _error(PermissionError, errno.EPERM,
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
        raise _error(OSError, errno.ENOSPC, f"{what}{directory} has {_size(free)} free; the checkpoint needs "
                                            f"{_size(nbytes)}; nothing was written: {advice}")


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
            message = (f"{target}: the {_size(nbytes)} checkpoint needs a file larger than the file-size limit "
                       f"(ulimit -f) or the file system allows (File too large); nothing was written{kept}: raise the "
                       "limit, write to another file system, or pass max_shard_size for smaller files")
        else:
            cause = "No space left on device" if error.errno == errno.ENOSPC else "Disk quota exceeded"
            advice = _BOTH_COPIES if replacing else "free space or write elsewhere"
            message = (f"{target}: the disk filled up while writing the {_size(nbytes)} checkpoint ({cause}); "
                       f"nothing was written{kept}: {advice}")
        explained = _error(OSError, error.errno, message)
        explained.explained = True  # type: ignore[attr-defined]
        raise explained from None


# -- hidden temporaries, their locks and their clean-up ----------------------------------------------

_TOKEN = re.compile(r"[A-Za-z0-9_]{8}")  # (8 characters: also the names tempfile.mkdtemp gave before)


def _hidden_name(place: Path) -> Path:
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


def _lock(fd: int, wait: bool = False, shared: bool = False) -> bool:
    """``flock`` ``fd``: True when held (False: held elsewhere and not ``wait``, or locks unsupported here)."""
    if fcntl is None:
        return False
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if wait else fcntl.LOCK_NB))
    except OSError:
        return False
    return True


@contextlib.contextmanager
def _directory_lock(directory: Path, shared: bool = False) -> Iterator[bool]:
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
        yield _lock(fd, wait=True, shared=shared)
    finally:
        os.close(fd)  # releases the lock


def _open_locked(path: Path, shared: bool = False) -> int:
    """A descriptor of ``path`` (a file or a directory, never a link) holding a lock on it now, or -1."""
    if fcntl is None:
        return -1
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)  # (O_NONBLOCK: a FIFO does not hang it)
    except OSError:
        return -1
    if not _lock(fd, shared=shared):
        os.close(fd)
        return -1
    return fd


def remove_abandoned(place: Path) -> None:
    """Remove the hidden temporaries beside ``place`` whose writers are gone (a kill, a power cut).

    A temporary is its writer's as long as the writer holds its ``flock``;
    one whose lock can be taken has no writer left.  Must run under the
    parent's :func:`_directory_lock` (as :func:`prepare_file` and
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
        fd = _open_locked(path)  # (a link or anything but a file or directory is never opened: O_NOFOLLOW)
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


def prepare_file(target: Path, nbytes: int, force: bool) -> Tuple[Path, bool]:
    """Everything checked before a single-file output is written: ``(where it is written, replacing)``.

    The parent must exist, an existing output needs ``force`` and must be
    replaceable, a file must be creatable and ``nbytes`` must fit; then the
    temporaries of earlier writers of this output that were killed are
    removed.  ``replacing``: an output exists (and ``force`` was given).
    """
    place = output_place(target)
    check_parent(target, place)
    refuse_existing([target], force)
    replacing = place.exists()
    if replacing:
        check_replaceable(place, target)
    check_writable(place.parent, target)
    check_free_space(place.parent, nbytes, target, replacing)
    with _directory_lock(place.parent) as locked:
        if locked:
            remove_abandoned(place)
    return place, replacing


# -- no-replace and exchange renames --------------------------------------------------------------------

_NOREPLACE, _EXCHANGE = 1, 2  # renameat2's RENAME_NOREPLACE and RENAME_EXCHANGE (Linux 3.15)
_AT_FDCWD = -100
_renameat2: Any = None
_renameat2_looked_up = False


def _rename2(a: Path, b: Path, flags: int) -> bool:
    """Linux ``renameat2(a, b, flags)``: True when done, False where this kernel or file system cannot.

    Raises the OSError of a real failure (``FileExistsError`` for
    ``RENAME_NOREPLACE`` onto an existing name).
    """
    global _renameat2, _renameat2_looked_up
    if not _renameat2_looked_up:
        if sys.platform.startswith("linux"):
            import ctypes

            with contextlib.suppress(OSError, AttributeError):
                function = ctypes.CDLL(None, use_errno=True).renameat2
                function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
                function.restype = ctypes.c_int
                _renameat2 = function
        _renameat2_looked_up = True
    if _renameat2 is None:
        return False
    import ctypes

    if _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), flags) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # this file system or kernel cannot
        return False
    raise OSError(code, os.strerror(code), str(b))


def _rename_noreplace(source: Path, destination: Path) -> None:
    """Rename ``source`` to ``destination``, a FileExistsError if that name exists: atomically where possible.

    ``renameat2(RENAME_NOREPLACE)``; elsewhere ``link`` (which never
    replaces) for a file and ``rename`` for a directory (which replaces only
    an empty directory, never a written checkpoint); last, on a file system
    with neither, a check just before the rename.
    """
    if _rename2(source, destination, _NOREPLACE):
        return
    if source.is_dir():
        if os.path.lexists(destination):
            raise FileExistsError(errno.EEXIST, "File exists", str(destination))
        try:
            os.rename(source, destination)
        except OSError as error:
            if error.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise FileExistsError(errno.EEXIST, "File exists", str(destination)) from None
            raise
        return
    try:
        os.link(source, destination)
    except FileExistsError:
        raise
    except OSError:  # no hard links here
        if os.path.lexists(destination):
            raise FileExistsError(errno.EEXIST, "File exists", str(destination)) from None
        os.rename(source, destination)
    else:
        os.unlink(source)


def _appeared(target: Path) -> FileExistsError:
    """The output another writer completed meanwhile: said of the user's path, in the user's terms."""
    return _error(FileExistsError, errno.EEXIST,
                  f"{target} appeared while this checkpoint was being written (another writer?): it was left as it "
                  "is and nothing was written; pass force=True (--force) to replace it")


def _cannot_replace(target: Path, error: OSError, replacing: bool = True) -> OSError:
    """The final rename or link failed: said of the user's path, never of the hidden temporary."""
    if not replacing:
        return _error(type(error), error.errno or 0, f"{target} cannot be written: {error.strerror}; nothing was "
                                                     "written")
    hint = " (is it immutable or append-only? lsattr shows it)" if error.errno == errno.EPERM else ""
    return _error(type(error), error.errno or 0, f"{target} cannot be replaced: {error.strerror}{hint}; nothing was "
                                                 f"written and {target} is unchanged")


# -- files ---------------------------------------------------------------------------------------------


class AtomicFile:
    """A new file that appears under ``target`` only when :meth:`commit` succeeds.

    Created unnamed in the target's directory (``O_TMPFILE``), so that even a
    kill leaves nothing behind; where the file system cannot, a hidden
    ``.NAME.XXXXXXXX.partial`` name that :meth:`discard` removes (and, after
    a kill, the next write to ``target``).  Either way the file is
    ``flock``-ed by this writer (see :func:`remove_abandoned`).
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
        if fd >= 0:
            _lock(fd)  # (before it has a name: a hidden name given at commit is never taken for abandoned)
        else:
            with _directory_lock(target.parent, shared=True):  # no clean-up between creating it and locking it
                while fd < 0:
                    name = _hidden_name(target)
                    with contextlib.suppress(FileExistsError):
                        fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)  # (umask honoured)
                        self.temporary = name
                _lock(fd)
        self.fd = fd

    def commit(self, force: bool, shown: Optional[Path] = None) -> None:
        """fsync the file and link it under its name, replacing an existing one only with ``force``.

        Without ``force`` the name is given with a call that never replaces
        (``linkat``), so an output another writer completed meanwhile stays
        and this raises a FileExistsError naming ``shown`` (the user's path;
        default ``target``).
        """
        shown = self.target if shown is None else shown
        os.fsync(self.fd)
        try:
            if self.temporary is None:
                if not force:
                    self._link(self.target)
                else:
                    staging = _hidden_name(self.target)
                    self._link(staging)
                    try:
                        os.replace(staging, self.target)
                    except OSError:
                        staging.unlink()  # the linked name must not outlive a failed replace
                        raise
            elif not force:
                _rename_noreplace(self.temporary, self.target)
                self.temporary = None
            else:
                os.replace(self.temporary, self.target)
                self.temporary = None
        except FileExistsError:
            raise _appeared(shown) from None
        except OSError as error:
            if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                raise
            raise _cannot_replace(shown, error, force) from None
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
        if self.temporary is not None:
            with contextlib.suppress(FileNotFoundError):
                self.temporary.unlink()
            self.temporary = None
        if self.fd >= 0:
            os.close(self.fd)  # (after the unlink: the lock covered the name until it was gone)
            self.fd = -1


# -- directories ---------------------------------------------------------------------------------------


def _link_tree(source: Path, destination: Path) -> None:
    """``destination`` gets hard links to ``source``'s files (recursively; symlinks recreated)."""
    if source.is_symlink():
        os.symlink(os.readlink(source), destination)
    elif source.is_dir():
        destination.mkdir()
        for entry in source.iterdir():
            _link_tree(entry, destination / entry.name)
        with contextlib.suppress(OSError):  # a kept directory keeps its group, mode and times too
            os.chown(destination, -1, source.stat().st_gid)
        shutil.copystat(source, destination)
    else:
        try:
            os.link(source, destination)
        except OSError:  # a file system without hard links: a copy
            shutil.copy2(source, destination)


_ACCESS_ACL, _DEFAULT_ACL = "system.posix_acl_access", "system.posix_acl_default"


def _copy_acl(place: Path, staging: Path, name: str) -> None:
    """``place``'s POSIX ACL ``name`` on ``staging`` too (removed there if ``place`` has none); best effort."""
    if not hasattr(os, "getxattr"):
        return
    try:
        value: Optional[bytes] = os.getxattr(place, name, follow_symlinks=False)
    except OSError as error:
        if error.errno != getattr(errno, "ENODATA", None):
            return  # no ACLs on this file system
        value = None
    with contextlib.suppress(OSError):
        if value is None:
            os.removexattr(staging, name, follow_symlinks=False)
        else:
            os.setxattr(staging, name, value, follow_symlinks=False)


def _adopt_inherited(staging: Path, existing: os.stat_result, place: Path, shown: Path) -> None:
    """What ``staging``'s new files inherit, as in ``place``: its group and default ACL; before anything is written.

    So the files get the group and ACL entries they would get written into
    ``place`` itself.  A group this user cannot give is refused now.
    """
    _copy_acl(place, staging, _DEFAULT_ACL)
    if os.stat(staging).st_gid == existing.st_gid:
        return
    try:
        os.chown(staging, -1, existing.st_gid)
    except PermissionError:
        import grp

        try:
            group = grp.getgrgid(existing.st_gid).gr_name
        except KeyError:
            group = str(existing.st_gid)
        raise _error(PermissionError, errno.EPERM,
                     f"{shown} belongs to group {group}, which this user is not in: the new checkpoint could not keep "
                     "that group (its members could lose access); nothing was written: write it as a member of the "
                     "group, or elsewhere") from None


def _adopt_metadata(staging: Path, existing: os.stat_result, place: Path) -> None:
    """Give ``staging`` the owner (as root), group, POSIX ACLs and mode (setgid bit included) of ``place``."""
    os.chown(staging, existing.st_uid if os.geteuid() == 0 else -1, existing.st_gid)
    for name in (_ACCESS_ACL, _DEFAULT_ACL):
        _copy_acl(place, staging, name)
    os.chmod(staging, stat.S_IMODE(existing.st_mode))  # after chown, which may clear a setgid bit


def _commit_directory(staging: Path, place: Path, shown: Path, owned: Pattern[str],
                      force: bool) -> Tuple[Optional[Path], int]:
    """Swap the complete ``staging`` into ``place``; ``(the path holding the old directory, its lock)`` to remove.

    Under the parent's lock: a new ``place`` is a no-replace rename; an
    existing one (checked again now: without ``force`` it must still hold
    no checkpoint) gets its entries the checkpoint does not own hard-linked
    into ``staging``, and ``staging`` its owner, group, ACLs and mode; then
    the two are swapped in one ``renameat2(RENAME_EXCHANGE)``, so a reader
    sees the old directory or the new one, never a mix.  Where the swap is
    unavailable, ``place`` is moved aside first (a moment without it).
    """
    with _directory_lock(place.parent):
        try:
            current: Optional[os.stat_result] = os.lstat(place)
        except FileNotFoundError:
            current = None
        if current is None:
            try:
                _rename_noreplace(staging, place)
            except FileExistsError:
                raise _appeared(shown) from None
            fsync_directory(place.parent)
            return None, -1
        if not stat.S_ISDIR(current.st_mode):
            raise _appeared(shown)
        entries = list(place.iterdir())
        if not force and any(owned.fullmatch(p.name) for p in entries):
            raise _appeared(shown)
        for entry in entries:
            if not owned.fullmatch(entry.name):
                _link_tree(entry, staging / entry.name)
        _adopt_metadata(staging, current, place)
        fsync_directory(staging)
        try:
            swapped = _rename2(staging, place, _EXCHANGE)
        except OSError as error:
            raise _cannot_replace(shown, error) from None
        if swapped:
            old = staging
        else:
            old = place.with_name(f".{place.name}.{os.getpid()}.replaced")
            os.rename(place, old)
            os.rename(staging, place)
        fsync_directory(place.parent)
        return old, _open_locked(old, shared=True)  # before the parent is unlocked: no clean-up races its removal


@contextlib.contextmanager
def staged_checkpoint(directory: Path, owned: Pattern[str], nbytes: int, force: bool) -> Iterator[Path]:
    """A hidden staging directory beside ``directory`` that replaces it, whole, when the block succeeds.

    Before anything is created: a missing parent, a file in the way, an
    existing checkpoint (entries matching ``owned``) without ``force``, an
    immutable directory, an unwritable place, too little space for
    ``nbytes`` and a group the new directory could not keep are refused.  A
    link at ``directory`` is written through (:func:`output_place`).  Then
    abandoned staging directories of this output are removed and a new one,
    made as ``mkdir`` makes directories, is created and locked.  On success
    it takes ``directory``'s place (:func:`_commit_directory`, keeping the
    entries ``owned`` does not match); on any error, or an interrupt, it is
    removed and ``directory`` is as it was.  Write errors of the block are
    explained (:func:`explained_write_errors`).
    """
    place = output_place(directory)
    if place.exists() and not place.is_dir():
        raise _error(FileExistsError, errno.EEXIST, f"{directory} is a file, but the checkpoint is a directory: "
                                                    "remove the file or choose another path")
    check_parent(directory, place)
    existing = sorted(directory / p.name for p in place.iterdir() if owned.fullmatch(p.name)) \
        if place.is_dir() else []
    refuse_existing(existing, force)
    before = os.stat(place) if place.is_dir() else None
    if before is not None and force:
        check_replaceable(place, directory)
    check_writable(place.parent, directory)
    check_free_space(place.parent, nbytes, directory, replacing=bool(existing))
    with _directory_lock(place.parent) as locked:
        if locked:
            remove_abandoned(place)
        while True:
            staging = _hidden_name(place)
            with contextlib.suppress(FileExistsError):
                os.mkdir(staging)  # mode 0o777 less the umask; a setgid parent's group and bit: mkdir's rules
                break
        lock = _open_locked(staging, shared=True)
    old, old_lock = None, -1
    try:
        if before is not None:
            _adopt_inherited(staging, before, place, directory)
        with explained_write_errors(directory, nbytes, bool(existing)):
            yield staging
        old, old_lock = _commit_directory(staging, place, directory, owned, force)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if lock >= 0:
            os.close(lock)
    if old is not None:
        try:
            shutil.rmtree(old, ignore_errors=True)  # the old checkpoint, now under the hidden name
        finally:
            if old_lock >= 0:
                os.close(old_lock)


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
