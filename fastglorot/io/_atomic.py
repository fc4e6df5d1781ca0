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

import contextlib
import errno
import os
import re
import shutil
import stat
import sys
from pathlib import Path
from typing import Any, Iterator, Optional, Pattern, Tuple

try:
    import fcntl
except ImportError:  # not POSIX: no locks, so no clean-up of other writers' temporaries
    fcntl = None  # type: ignore[assignment]

from ._checks import (check_free_space, check_parent, check_replaceable, check_writable, explained_write_errors,
                      output_place, plain_error, refuse_existing)
from ._filewrites import fsync_directory
from ._temporaries import directory_lock, hidden_name, open_locked, remove_abandoned, try_lock

__all__ = ["AtomicFile", "staged_checkpoint", "prepare_file", "OWN_ALL"]

OWN_ALL = re.compile(r".*", re.DOTALL)
"""For :func:`staged_checkpoint`: every entry of the directory belongs to the checkpoint (a zarr store)."""


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
    with directory_lock(place.parent) as locked:
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
    return plain_error(FileExistsError, errno.EEXIST,
                  f"{target} appeared while this checkpoint was being written (another writer?): it was left as it "
                  "is and nothing was written; pass force=True (--force) to replace it")


def _cannot_replace(target: Path, error: OSError, replacing: bool = True) -> OSError:
    """The final rename or link failed: said of the user's path, never of the hidden temporary."""
    if not replacing:
        return plain_error(type(error), error.errno or 0,
                           f"{target} cannot be written: {error.strerror}; nothing was written")
    hint = " (is it immutable or append-only? lsattr shows it)" if error.errno == errno.EPERM else ""
    return plain_error(type(error), error.errno or 0,
                       f"{target} cannot be replaced: {error.strerror}{hint}; nothing was written and {target} is "
                       "unchanged")


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
            try_lock(fd)  # (before it has a name: a hidden name given at commit is never taken for abandoned)
        else:
            with directory_lock(target.parent, shared=True):  # no clean-up between creating it and locking it
                while fd < 0:
                    name = hidden_name(target)
                    with contextlib.suppress(FileExistsError):
                        fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)  # (umask honoured)
                        self.temporary = name
                try_lock(fd)
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
                    staging = hidden_name(self.target)
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
        raise plain_error(PermissionError, errno.EPERM,
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
    with directory_lock(place.parent):
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
        return old, open_locked(old, shared=True)  # before the parent is unlocked: no clean-up races its removal


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
        raise plain_error(FileExistsError, errno.EEXIST, f"{directory} is a file, but the checkpoint is a directory: "
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
    with directory_lock(place.parent) as locked:
        if locked:
            remove_abandoned(place)
        while True:
            staging = hidden_name(place)
            with contextlib.suppress(FileExistsError):
                os.mkdir(staging)  # mode 0o777 less the umask; a setgid parent's group and bit: mkdir's rules
                break
        lock = open_locked(staging, shared=True)
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
