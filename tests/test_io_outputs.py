"""What ``fastglorot init`` / ``write_checkpoint`` leave on disk (#28): directory permissions, concurrent writers,
symbolic links, kills, full disks, file-size limits, missing parents and immutable targets.

Every test reads the outputs back with their own libraries or compares them with what a reference tool does
(``mkdir`` for modes, ``cp`` for links); concurrent writers are real processes of the command line, their
interleaving fixed by a writer that pauses after writing its data (:data:`PAUSED`) where the race must be exact.
"""

from __future__ import annotations

import contextlib
import errno
import grp
import json
import os
import resource
import signal
import stat
import subprocess
import sys

import numpy as np
import pytest

from fastglorot import io
from fastglorot.io import _atomic, _writers

safetensors = pytest.importorskip("safetensors")
from safetensors import safe_open  # noqa: E402

SPEC = {"a.weight": {"shape": [64, 32], "init": "glorot_uniform"},  # 8 KiB
        "b.weight": {"shape": [32, 16], "init": "normal", "std": 0.1}}  # 2 KiB
SHARD = 6000  # bytes of tensor data per shard: two shards and an index

KINDS = {"file": "m.safetensors", "sharded": "ckpt", "zarr": "m.zarr"}


def write(kind, directory, seed, **kwargs):
    """Write SPEC as ``kind`` into ``directory``; the output's path."""
    out = directory / KINDS[kind]
    if kind == "zarr":
        pytest.importorskip("zarr")
    io.write_checkpoint(out, SPEC, seed=seed, progress=False,
                        **({"max_shard_size": SHARD} if kind == "sharded" else {}), **kwargs)
    return out


def tensors(out):
    """Every tensor of a checkpoint, read by its own library (safetensors, zarr)."""
    if out.suffix == ".zarr":
        import zarr

        group = zarr.open_group(str(out), mode="r")
        return {name: np.asarray(group[name][...]) for name in SPEC}
    files = [out] if out.is_file() else sorted(out.glob("*.safetensors"))
    found = {}
    for file in files:
        with safe_open(str(file), framework="numpy") as f:
            found.update({name: f.get_tensor(name) for name in f.keys()})
    return found


def same(first, second):
    return first.keys() == second.keys() and all(first[k].tobytes() == second[k].tobytes() for k in first)


def hidden(directory):
    """The hidden entries of ``directory``: staging directories and temporaries."""
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@contextlib.contextmanager
def umask(mask):
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


ENV = {**os.environ, "FASTGLOROT_QUIET": "1"}  # no first-compile notes on stderr


def cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "fastglorot", "init", *map(str, args)], capture_output=True,
                          text=True, timeout=120, env=ENV, **kwargs)


def spec_file(directory):
    path = directory / "spec.json"
    path.write_text(json.dumps(SPEC))
    return path


def kind_options(kind):
    return ["--max-shard-size", str(SHARD)] if kind == "sharded" else []


# -- 3. modes: what mkdir gives a new directory; an existing one keeps its own ---------------------------------

@pytest.mark.parametrize("mask", [0o022, 0o077])
@pytest.mark.parametrize("kind", ["sharded", "zarr"])
def test_a_new_checkpoint_directory_gets_the_mode_mkdir_gives(tmp_path, kind, mask):
    """Reproduction: under umask 022 the directory was drwx------ (tempfile.mkdtemp's staging directory was what
    got swapped in), so other users and serving processes could not read the checkpoint."""
    with umask(mask):
        out = write(kind, tmp_path, seed=1)
        (tmp_path / "by-mkdir").mkdir()
    assert mode(out) == mode(tmp_path / "by-mkdir") == 0o777 & ~mask
    if kind == "sharded":  # file modes as before: 0o644 less the umask
        assert {mode(p) for p in out.iterdir()} == {0o644 & ~mask}


def two_groups():
    """Two groups other than this process's own, for directories shared through a group (needs root to chown)."""
    if os.geteuid() != 0:
        pytest.skip("giving a directory another group needs root")
    gids = sorted({g.gr_gid for g in grp.getgrall()} - {os.getegid()})
    if len(gids) < 2:
        pytest.skip("needs two groups besides the process's own")
    return gids[0], gids[1]


@pytest.mark.parametrize("kind", ["sharded", "zarr"])
def test_a_setgid_group_shared_directory_keeps_its_mode_group_and_setgid_bit(tmp_path, kind):
    """Reproduction: an existing drwxrwsr-x directory of a group became drwx------ of the writer's group after a
    write into it."""
    parent_group, own_group = two_groups()
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chown(shared, -1, parent_group)
    os.chmod(shared, 0o2775)  # drwxrwsr-x: what is created in it belongs to parent_group
    with umask(0o022):
        out = write(kind, shared, seed=1)
        (shared / "by-mkdir").mkdir()
    made = os.stat(shared / "by-mkdir")
    assert (mode(out), os.stat(out).st_gid) == (stat.S_IMODE(made.st_mode), made.st_gid) == (0o2755, parent_group)

    os.chown(out, -1, own_group)  # the checkpoint's own group, group-writable, setgid
    os.chmod(out, 0o2775)
    with umask(0o077):  # even from a writer with a private umask
        write(kind, shared, seed=2, force=True)
    assert (mode(out), os.stat(out).st_gid) == (0o2775, own_group)
    assert {p.stat().st_gid for p in out.rglob("*")} == {own_group}  # its new files inherit the group
    assert same(tensors(out), tensors(write(kind, tmp_path, seed=2)))
    assert hidden(shared) == []


def posix_acl(group):
    """A POSIX ACL (the kernel's xattr format, acl(5): version 2, then tag, permissions, id per entry) giving
    ``group`` rwx: user::rwx, group::r-x, group:GROUP:rwx, mask::rwx, other::r-x."""
    import struct

    undefined = 0xFFFFFFFF
    entries = [(0x01, 7, undefined), (0x04, 5, undefined), (0x08, 7, group), (0x10, 7, undefined),
               (0x20, 5, undefined)]
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *entry) for entry in entries)


def test_a_directory_keeps_its_acls_and_its_new_files_get_what_they_would_get_in_it(tmp_path):
    """A group-shared checkpoint directory with a default ACL: after a --force write it has the same ACLs, and
    its new files the ACL a file created in it gets (compared with one created there by os.open)."""
    group, _ = two_groups()
    out = write("sharded", tmp_path, seed=1)
    acl = posix_acl(group)
    try:
        os.setxattr(out, "system.posix_acl_access", acl)
        os.setxattr(out, "system.posix_acl_default", acl)
    except OSError as error:
        pytest.skip(f"no POSIX ACLs on this file system: {error}")
    reference = out / "by-os-open"
    os.close(os.open(reference, os.O_CREAT | os.O_WRONLY, 0o644))
    inherited = os.getxattr(reference, "system.posix_acl_access")
    reference.unlink()
    write("sharded", tmp_path, seed=2, force=True)
    assert os.getxattr(out, "system.posix_acl_access") == os.getxattr(out, "system.posix_acl_default") == acl
    assert {os.getxattr(p, "system.posix_acl_access") for p in out.iterdir()} == {inherited}

    os.removexattr(out, "system.posix_acl_default")  # its own rule, not its parent's: none
    os.setxattr(tmp_path, "system.posix_acl_default", acl)
    write("sharded", tmp_path, seed=3, force=True)
    assert "system.posix_acl_default" not in os.listxattr(out)


def test_an_existing_directory_without_a_checkpoint_keeps_its_mode_when_written_into(tmp_path):
    out = tmp_path / "ckpt"
    out.mkdir()
    (out / "README.md").write_text("mine")
    os.chmod(out, 0o2750)
    write("sharded", tmp_path, seed=1)
    assert mode(out) == 0o2750 and (out / "README.md").read_text() == "mine"
    assert "model.safetensors.index.json" in os.listdir(out)


# -- 4. concurrent writers: the last step never replaces without force -----------------------------------------

def hook_a_second_writer(monkeypatch, kind, directory):
    """Make a second writer complete the same output while the first is writing (after its data, before commit)."""
    name = "_write_zarr_array" if kind == "zarr" else "write_safetensors"
    real = getattr(_writers, name)
    done = []

    def write_then_let_the_other_writer_finish(*args, **kwargs):
        real(*args, **kwargs)
        if not done:
            done.append(True)
            write(kind, directory, seed=2)  # (the nested call runs this wrapper too: `done` stops the recursion)

    monkeypatch.setattr(_writers, name, write_then_let_the_other_writer_finish)


@pytest.mark.parametrize("kind, existing", [("file", False), ("sharded", False), ("sharded", True),
                                            ("zarr", False), ("zarr", True)])
def test_an_output_that_appears_meanwhile_is_never_replaced_without_force(tmp_path, monkeypatch, kind, existing):
    """Reproduction: the existence check ran at the start and the swap at the end, so the last of two writers
    silently replaced the first one's checkpoint (sharded, zarr); a single file failed only after writing
    everything, with "[Errno 17] File exists: '3' -> 'm.safetensors'" (an fd number)."""
    out = tmp_path / KINDS[kind]
    if existing:  # a directory the user made, holding no checkpoint yet: writing into it needs no force
        out.mkdir()
    hook_a_second_writer(monkeypatch, kind, tmp_path)
    with pytest.raises(FileExistsError) as raised:
        write(kind, tmp_path, seed=1)
    assert str(raised.value) == (f"{out} appeared while this checkpoint was being written (another writer?): it was "
                                 "left as it is and nothing was written; pass force=True (--force) to replace it")
    monkeypatch.undo()
    reference = tmp_path / "reference"
    reference.mkdir()
    assert same(tensors(out), tensors(write(kind, reference, seed=2)))  # the other writer's checkpoint, whole
    assert hidden(tmp_path) == []


def test_without_o_tmpfile_the_named_temporary_is_committed_without_replacing(tmp_path, monkeypatch):
    """Where O_TMPFILE is missing the file has a hidden name until committed: committed with link(), which
    never replaces (it was an exists() check, then os.replace)."""
    reference = write("file", tmp_path, seed=2).rename(tmp_path / "reference.safetensors")
    real_open = os.open

    def no_tmpfile(path, flags, *args, **kwargs):  # a file system that cannot: EOPNOTSUPP, as the kernel says
        if flags & getattr(os, "O_TMPFILE", 0) == getattr(os, "O_TMPFILE", -1):
            raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", no_tmpfile)
    with umask(0o022):
        out = write("file", tmp_path, seed=2)
    assert out.read_bytes() == reference.read_bytes() and hidden(tmp_path) == []
    assert mode(out) == 0o644  # as with O_TMPFILE (tempfile.mkstemp's names were 0o600)
    out.unlink()
    hook_a_second_writer(monkeypatch, "file", tmp_path)
    with pytest.raises(FileExistsError, match="appeared while this checkpoint was being written"):
        write("file", tmp_path, seed=1)
    assert out.read_bytes() == reference.read_bytes() and hidden(tmp_path) == []


@pytest.mark.parametrize("kind", ["sharded", "zarr"])
def test_without_o_tmpfile_a_directory_checkpoint_is_written_and_leaves_no_temporary(tmp_path, kind):
    """Its files are created, with hidden names, in the staging directory its writer holds locked: the two locks
    must not wait for each other (a fresh process, so that a hang is a timeout, not a stuck suite)."""
    code = f"""
import errno, os
real_open = os.open
def no_tmpfile(path, flags, *args, **kwargs):
    if flags & os.O_TMPFILE == os.O_TMPFILE:
        raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP))
    return real_open(path, flags, *args, **kwargs)
os.open = no_tmpfile
import fastglorot.io as io
io.write_checkpoint({str(tmp_path / KINDS[kind])!r}, {SPEC!r}, seed=4, progress=False,
                    **({{"max_shard_size": {SHARD}}} if {kind!r} == "sharded" else {{}}))
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, env=ENV)
    reference = tmp_path / "reference"
    reference.mkdir()
    assert same(tensors(tmp_path / KINDS[kind]), tensors(write(kind, reference, seed=4)))
    assert hidden(tmp_path) == [] and hidden(tmp_path / KINDS[kind]) == []


PAUSED = """
import sys
from fastglorot.io import _writers
from fastglorot._cli import main
real = _writers.write_safetensors
def paused(*args, **kwargs):
    real(*args, **kwargs)
    print("written", flush=True)  # every byte written; the commit waits for a line on stdin
    sys.stdin.readline()
_writers.write_safetensors = paused
sys.exit(main(sys.argv[1:]))
"""
"""``fastglorot init ARGS`` that pauses after writing its data, before its last step."""


def start_paused(*args):
    process = subprocess.Popen([sys.executable, "-c", PAUSED, "init", *map(str, args), "--quiet"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=ENV)
    line = process.stdout.readline()
    assert line == "written\n", process.communicate()
    return process


@pytest.mark.parametrize("kind", ["file", "sharded"])
def test_two_command_line_writers_of_one_output_one_wins_the_other_says_so(tmp_path, kind):
    """Two processes: the first pauses with all its data written, the second writes the same new output whole;
    the first then refuses at its last step, naming the path, and leaves nothing behind."""
    spec = spec_file(tmp_path)
    out = tmp_path / KINDS[kind]
    first = start_paused(out, "--spec", spec, "--seed", 1, *kind_options(kind))
    try:
        second = cli(out, "--spec", spec, "--seed", 2, "--quiet", *kind_options(kind))
        assert second.returncode == 0, second.stderr
        _, stderr = first.communicate("\n", timeout=120)
    finally:
        first.kill()
    assert first.returncode == 1
    assert stderr == (f"fastglorot init: error: {out} appeared while this checkpoint was being written (another "
                      "writer?): it was left as it is and nothing was written; pass --force to replace it\n")
    reference = tmp_path / "reference"
    reference.mkdir()
    assert same(tensors(out), tensors(write(kind, reference, seed=2)))
    assert hidden(tmp_path) == []


def test_two_writers_started_together_one_output_exactly_one_succeeds(tmp_path):
    """A free race of two command-line writers of one new sharded output: whichever order the kernel gives
    them, one exits 0 and the other 1 (refused at the start or at its last step), never both 0."""
    spec = spec_file(tmp_path)
    out = tmp_path / "ckpt"
    processes = [subprocess.Popen([sys.executable, "-m", "fastglorot", "init", str(out), "--spec", str(spec),
                                   "--seed", str(seed), "--quiet", *kind_options("sharded")],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
                 for seed in (1, 2)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in processes]
    for p in processes:
        p.stdout.close()
        p.stderr.close()
    assert sorted(code for code, _ in results) == [0, 1], results
    (loser,) = [err for code, err in results if code == 1]
    assert f"{out}" in loser and ("appeared while this checkpoint" in loser or "exists: pass --force" in loser)
    winner = [1, 2][[code for code, _ in results].index(0)]
    reference = tmp_path / "reference"
    reference.mkdir()
    assert same(tensors(out), tensors(write("sharded", reference, seed=winner)))
    assert hidden(tmp_path) == []


# -- 4. --force over a symbolic link: written through, as cp does ---------------------------------------------

def test_force_over_a_link_writes_through_it_as_cp_does(tmp_path):
    """Reproduction: latest.safetensors -> run42.safetensors silently became a regular file.  cp writes through
    the link (checked here with cp itself), and so does fastglorot init now."""
    run42 = write("file", tmp_path, seed=1).rename(tmp_path / "run42.safetensors")
    latest = tmp_path / "latest.safetensors"
    latest.symlink_to("run42.safetensors")
    with pytest.raises(FileExistsError, match="exists: pass force=True"):
        io.write_checkpoint(latest, SPEC, seed=2)
    io.write_checkpoint(latest, SPEC, seed=2, force=True)
    assert latest.is_symlink() and os.readlink(latest) == "run42.safetensors"
    assert same(tensors(run42), tensors(write("file", tmp_path, seed=2)))
    assert hidden(tmp_path) == []

    (tmp_path / "by-cp").mkdir()  # the reference behaviour: cp keeps the link too
    (tmp_path / "by-cp" / "run42").write_text("old")
    (tmp_path / "by-cp" / "latest").symlink_to("run42")
    subprocess.run(["cp", str(run42), str(tmp_path / "by-cp" / "latest")], check=True)
    assert (tmp_path / "by-cp" / "latest").is_symlink()
    assert (tmp_path / "by-cp" / "run42").read_bytes() == run42.read_bytes()


def test_a_dangling_link_is_not_written_through(tmp_path):
    dangling = tmp_path / "latest.safetensors"
    dangling.symlink_to("run43.safetensors")
    for force in (False, True):
        with pytest.raises(FileNotFoundError, match="symbolic link to run43.safetensors, which does not exist"):
            io.write_checkpoint(dangling, SPEC, seed=1, force=force)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.safetensors"]
    assert subprocess.run(["cp", "/dev/null", str(dangling)], capture_output=True).returncode != 0  # as cp


def test_force_over_a_link_to_a_sharded_directory_replaces_what_it_points_to(tmp_path):
    target = tmp_path / "ckpt-v2"
    write("sharded", tmp_path, seed=1).rename(target)
    os.chmod(target, 0o2750)
    (target / "README.md").write_text("mine")
    link = tmp_path / "ckpt"
    link.symlink_to("ckpt-v2")
    io.write_checkpoint(link, SPEC, seed=2, max_shard_size=10**6, force=True)  # one file now: the layout changes
    assert link.is_symlink() and sorted(os.listdir(target)) == ["README.md", "model.safetensors"]
    assert mode(target) == 0o2750
    reference = tmp_path / "reference"
    reference.mkdir()
    assert same(tensors(target), tensors(write("sharded", reference, seed=2)))
    assert hidden(tmp_path) == []


# -- 5. a kill leaves a staging directory; the next write removes it, never a running writer's ------------------

def test_a_killed_writers_staging_is_removed_by_the_next_write_a_running_ones_is_not(tmp_path):
    """Reproduction: SIGKILL during a sharded write left a hidden .ckpt.XXXXXXXX.partial directory, one more per
    kill, that nothing removed."""
    spec = spec_file(tmp_path)
    out = tmp_path / "ckpt"
    killed = start_paused(out, "--spec", spec, "--seed", 1, *kind_options("sharded"))
    killed.kill()  # SIGKILL: no handler runs
    killed.communicate(timeout=60)
    (left,) = hidden(tmp_path)
    assert left.startswith(".ckpt.") and left.endswith(".partial")

    running = start_paused(out, "--spec", spec, "--seed", 2, *kind_options("sharded"))
    try:
        (staging,) = hidden(tmp_path)  # the killed writer's directory is gone: removed when this one started
        assert staging != left
        third = cli(out, "--spec", spec, "--seed", 3, "--quiet", *kind_options("sharded"))
        assert third.returncode == 0, third.stderr
        assert hidden(tmp_path) == [staging]  # a running writer's staging directory is never touched
        _, stderr = running.communicate("\n", timeout=120)
    finally:
        running.kill()
    assert running.returncode == 1 and "appeared while this checkpoint was being written" in stderr
    assert hidden(tmp_path) == []
    reference = tmp_path / "reference"
    reference.mkdir()
    assert same(tensors(out), tensors(write("sharded", reference, seed=3)))


def test_a_killed_single_file_writer_leaves_nothing(tmp_path):
    """An unnamed (O_TMPFILE) file: the kernel frees it with the process."""
    spec = spec_file(tmp_path)
    killed = start_paused(tmp_path / "m.safetensors", "--spec", spec, "--seed", 1)
    killed.kill()
    killed.communicate(timeout=60)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.json"]


def test_abandoned_temporaries_are_removed_and_locked_ones_and_others_kept(tmp_path):
    """Single-file temporaries (the hidden name of a file system without O_TMPFILE, or the moment between link and
    rename under --force) follow the same rule: removed once no writer holds their lock."""
    import fcntl

    abandoned = tmp_path / ".m.safetensors.0a1b2c3d.partial"
    abandoned.write_bytes(b"left by a killed writer")
    held = tmp_path / ".m.safetensors.4e5f6a7b.partial"
    held.write_bytes(b"a running writer's")
    others = [tmp_path / ".m.safetensors.keep", tmp_path / ".other.safetensors.0a1b2c3d.partial"]
    for path in others:
        path.write_text("not a temporary of this output")
    with open(held, "rb") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)  # a writer alive: its lock is held (here, by this test)
        write("file", tmp_path, seed=1)
        assert not abandoned.exists() and held.exists() and all(p.exists() for p in others)


# -- 5. a full disk, a file-size limit: the path, the size, nothing written ------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """An 8 MiB tmpfs (a real file system that fills up), unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True,
                            text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def fill_after_the_check(monkeypatch, disk, leave):
    """After the free-space check passed, something else fills the disk up to ``leave`` bytes."""
    real = _atomic.check_free_space

    def check_then_fill(*args, **kwargs):
        real(*args, **kwargs)
        stats = os.statvfs(disk)
        (disk / "other-job").write_bytes(bytes(stats.f_bavail * stats.f_frsize - leave))

    monkeypatch.setattr(_atomic, "check_free_space", check_then_fill)


BIG = {"w": {"shape": [1 << 20], "init": "normal"}}  # 4 MiB


@pytest.mark.parametrize("kind", ["file", "sharded"])
@pytest.mark.parametrize("replacing", [False, True])
def test_a_disk_that_fills_up_mid_write_is_explained(small_disk, monkeypatch, kind, replacing):
    """Reproduction: a bare "[Errno 28] No space left on device"."""
    out = small_disk / KINDS[kind]
    options = {"max_shard_size": 1 << 30} if kind == "sharded" else {}
    if replacing:
        io.write_checkpoint(out, {"w": {"shape": [16], "init": "zeros"}}, seed=1, **options)
    before = {p.name: p.read_bytes() for p in ([out] if out.is_file() else out.iterdir())} if replacing else None
    fill_after_the_check(monkeypatch, small_disk, leave=1 << 20)
    with pytest.raises(OSError) as raised:
        io.write_checkpoint(out, BIG, seed=1, force=True, **options)
    assert raised.value.errno == errno.ENOSPC
    message = str(raised.value)
    assert message.startswith(f"{out}: the disk filled up while writing the 4.00 MiB (4194304 bytes) checkpoint "
                              "(No space left on device); nothing was written")
    assert "Errno" not in message
    if replacing:
        assert "and the previous checkpoint is intact" in message
        assert "the old checkpoint stays until the new one is complete" in message
        assert {p.name: p.read_bytes() for p in ([out] if out.is_file() else out.iterdir())} == before
        assert sorted(os.listdir(small_disk)) == [KINDS[kind], "other-job"]
    else:
        assert sorted(os.listdir(small_disk)) == ["other-job"]  # no temporary, no staging directory


@pytest.mark.parametrize("kind", ["file", "sharded"])
def test_force_on_a_disk_with_room_for_one_copy_says_what_to_do(small_disk, tmp_path, kind):
    """A 5 MiB checkpoint on an 8 MiB disk, replaced with --force: the old copy stays until the new one is
    complete, so the two do not fit; said before anything is written, with what to do."""
    spec = tmp_path / "five.json"
    spec.write_text(json.dumps({"w": {"shape": [5 << 18], "init": "normal"}}))  # 5 MiB
    out = small_disk / KINDS[kind]
    assert cli(out, "--spec", spec, "--seed", 1, "--quiet", *kind_options(kind)).returncode == 0
    before = sorted(os.listdir(small_disk)), [p.read_bytes() for p in sorted(small_disk.rglob("*")) if p.is_file()]
    result = cli(out, "--spec", spec, "--seed", 2, "--force", *kind_options(kind))
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"fastglorot init: error: {out}: {small_disk} has ")
    assert line.endswith(" free; the checkpoint needs 5.00 MiB (5242880 bytes); nothing was written: the old "
                         "checkpoint stays until the new one is complete, so replacing it needs room for both: free "
                         "space, write elsewhere, or remove the old one first")
    assert (sorted(os.listdir(small_disk)), [p.read_bytes() for p in sorted(small_disk.rglob("*")) if p.is_file()]) \
        == before


def test_a_full_disk_is_one_line_on_the_command_line(small_disk):
    code = f"""
import os, sys
from fastglorot.io import _atomic
from fastglorot._cli import main
real = _atomic.check_free_space
def check_then_fill(*args, **kwargs):
    real(*args, **kwargs)
    stats = os.statvfs({str(small_disk)!r})
    with open({str(small_disk / 'other-job')!r}, "wb") as f:
        f.write(bytes(stats.f_bavail * stats.f_frsize - (1 << 20)))
_atomic.check_free_space = check_then_fill
sys.exit(main(sys.argv[1:]))
"""
    spec = small_disk.parent / "big.json"
    spec.write_text(json.dumps(BIG))
    out = small_disk / "ckpt"
    result = subprocess.run([sys.executable, "-c", code, "init", str(out), "--spec", str(spec), "--max-shard-size",
                             "1GiB"], capture_output=True, text=True, timeout=120, env=ENV)
    assert result.returncode == 1
    assert result.stderr == (f"fastglorot init: error: {out}: the disk filled up while writing the 4.00 MiB (4194304 "
                             "bytes) checkpoint (No space left on device); nothing was written: free space or write "
                             "elsewhere\n")
    assert sorted(os.listdir(small_disk)) == ["other-job"]


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE")
@pytest.mark.parametrize("kind", ["file", "sharded"])
def test_a_file_size_limit_names_the_path_and_size_and_keeps_the_old_checkpoint(tmp_path, kind):
    """Reproduction: a bare "[Errno 27] File too large" (RLIMIT_FSIZE, SIGXFSZ ignored as the command does)."""
    spec = tmp_path / "big.json"
    spec.write_text(json.dumps(BIG))
    out = tmp_path / KINDS[kind]
    small = tmp_path / "small.json"
    small.write_text(json.dumps({"w": {"shape": [16], "init": "zeros"}}))
    assert cli(out, "--spec", small, "--seed", 1, "--quiet", *kind_options(kind)).returncode == 0
    before = [p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()]

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    result = cli(out, "--spec", spec, "--seed", 1, "--force", *kind_options(kind), preexec_fn=limit)
    assert result.returncode == 1
    assert result.stderr == (f"fastglorot init: error: {out}: the 4.00 MiB (4194304 bytes) checkpoint needs a file "
                             "larger than the file-size limit (ulimit -f) or the file system allows (File too large); "
                             "nothing was written and the previous checkpoint is intact: raise the limit, write to "
                             "another file system, or pass --max-shard-size for smaller files\n")
    assert [p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()] == before
    assert hidden(tmp_path) == []


# -- smaller items: a missing parent, an immutable target ---------------------------------------------------

@pytest.mark.parametrize("kind", ["file", "sharded", "zarr"])
def test_a_missing_parent_directory_is_refused_alike_for_every_output(tmp_path, kind):
    """Reproduction: a single file said "nope is not a directory"; a sharded output created the missing parents."""
    with pytest.raises(FileNotFoundError) as raised:
        write(kind, tmp_path / "nope" / "deeper", seed=1)
    out = tmp_path / "nope" / "deeper" / KINDS[kind]
    assert str(raised.value) == f"cannot write {out}: directory {out.parent} does not exist (create it first)"
    assert list(tmp_path.iterdir()) == []


def chattr(flag, path):
    result = subprocess.run(["chattr", flag, str(path)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"chattr {flag} is not available here: {result.stderr.strip()}")


@pytest.mark.parametrize("checked_first", [True, False])
def test_force_over_an_immutable_file_names_the_file_not_a_temporary(tmp_path, monkeypatch, checked_first):
    """Reproduction: the error named the internal '.m.safetensors.PID.partial' (after writing everything).  Now
    refused before writing; where the flag cannot be read first, the last step's error names the target."""
    out = write("file", tmp_path, seed=1)
    before = out.read_bytes()
    if not checked_first:
        monkeypatch.setattr(_atomic, "check_replaceable", lambda place, target: None)
    chattr("+i", out)
    try:
        with pytest.raises(PermissionError) as raised:
            io.write_checkpoint(out, SPEC, seed=2, force=True)
    finally:
        subprocess.run(["chattr", "-i", str(out)], check=True)
    message = str(raised.value)
    assert ".partial" not in message and "Errno" not in message
    if checked_first:
        assert message == (f"{out} is immutable (chattr +i): it cannot be replaced, not even with --force; nothing "
                           f"was written (chattr -i {out} first, as root)")
    else:
        assert message.startswith(f"{out} cannot be replaced: Operation not permitted (is it immutable")
    assert out.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["m.safetensors"]

