"""Sharded checkpoints written by the workers of a real ``dask.distributed`` cluster (loopback, 2 spawned worker
processes): ``write_checkpoint(..., client=...)`` and ``fastglorot init --scheduler``."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

import fastglorot
from fastglorot import io

distributed = pytest.importorskip("dask.distributed")

pytestmark = pytest.mark.slow

SPEC = {f"layers.{i}.weight": {"shape": [512, 512], "dtype": "bfloat16", "init": "normal", "std": 0.02}
        for i in range(6)}  # 6 x 512 KiB: 6 shards of 512 KiB
SHARD = 600 << 10


def digests(directory):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=":0", silence_logs=40) as local, \
            distributed.Client(local, timeout=60) as client:
        client.wait_for_workers(2, timeout=60)
        yield local, client


def test_workers_write_the_shards_and_the_bytes_equal_a_single_process_write(tmp_path, cluster):
    _, client = cluster
    alone = io.write_checkpoint(tmp_path / "alone", SPEC, seed=5, max_shard_size=SHARD, progress=False)
    with distributed.get_task_stream(client) as stream:
        written = io.write_checkpoint(tmp_path / "cluster", SPEC, seed=5, max_shard_size=SHARD, client=client)
    assert [p.name for p in written] == [p.name for p in alone]
    assert digests(tmp_path / "cluster") == digests(tmp_path / "alone")
    shard_tasks = [task for task in stream.data if "fastglorot-shard" in str(task["key"])]
    assert len(shard_tasks) == 6
    assert len({task["worker"] for task in shard_tasks}) == 2  # both workers wrote
    assert os.getpid() not in client.run(os.getpid).values()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alone", "cluster"]  # no staging left


def test_the_callers_stream_format_reaches_the_workers(tmp_path, cluster):
    """The workers are other processes, outside the caller's ``fastglorot.stream_format(2)`` block: the writer
    resolves the format in the caller and hands it to every shard task.  The bytes equal a one-process v2 write,
    and every shard and the index record format 2."""
    _, client = cluster
    spec = {f"layers.{i}.weight": {"shape": [256, 256], "init": "trunc_normal", "std": 0.02} for i in range(3)}
    shard = 300 << 10  # float32 (v2's values differ from v1's), one 256 KiB tensor per shard
    alone = io.write_checkpoint(tmp_path / "alone", spec, seed=5, max_shard_size=shard, progress=False,
                                stream_format=2)
    with fastglorot.stream_format(2):
        io.write_checkpoint(tmp_path / "cluster", spec, seed=5, max_shard_size=shard, client=client)
    assert digests(tmp_path / "cluster") == digests(tmp_path / "alone")  # (v2's values: tests/test_io.py)
    shards = [p.name for p in alone if p.suffix == ".safetensors"]
    assert len(shards) == 3
    safe_open = pytest.importorskip("safetensors").safe_open

    for name in shards:
        with safe_open(str(tmp_path / "cluster" / name), framework="numpy") as f:
            assert f.metadata()["fastglorot_stream_format"] == "2"
    index = json.loads((tmp_path / "cluster" / "model.safetensors.index.json").read_text())
    assert index["metadata"]["fastglorot_stream_format"] == "2"


def _die_while_writing():
    """Installed on the workers: the first shard write exits the worker process half-way through its file."""
    from fastglorot.io import _shards

    original = _shards.write_tensors

    def write_then_die(fd, placed, *args):
        os.pwrite(fd, b"partial", 0)
        os._exit(1)

    _shards.write_tensors = write_then_die
    return original is not None


def test_a_worker_that_dies_mid_file_leaves_no_partial_file(tmp_path, cluster):
    """Both workers die in their first shard; the nanny restarts them (without the patch) and Dask reruns the
    tasks: the checkpoint is complete, equal to a single-process write, and no partial file exists."""
    _, client = cluster
    expected = io.write_checkpoint(tmp_path / "alone", SPEC, seed=9, max_shard_size=SHARD, progress=False)
    assert all(client.run(_die_while_writing).values())
    written = io.write_checkpoint(tmp_path / "cluster", SPEC, seed=9, max_shard_size=SHARD, client=client)
    client.wait_for_workers(2, timeout=60)
    assert [p.name for p in written] == [p.name for p in expected]
    assert digests(tmp_path / "cluster") == digests(tmp_path / "alone")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alone", "cluster"]


def _die_while_writing_without_o_tmpfile():
    """As :func:`_die_while_writing`, on a file system without O_TMPFILE (NFS): the file has a hidden name."""
    import errno

    real_open = os.open

    def no_tmpfile(path, flags, *args, **kwargs):
        if flags & os.O_TMPFILE == os.O_TMPFILE:
            raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP))
        return real_open(path, flags, *args, **kwargs)

    os.open = no_tmpfile
    return _die_while_writing()


def test_a_worker_that_dies_mid_file_without_o_tmpfile_leaves_no_temporary_in_the_checkpoint(tmp_path, cluster):
    """Reproduction: on a file system without O_TMPFILE, a worker that died mid-file left its hidden
    .model-0000k-of-00006.safetensors.XXXXXXXX.partial in the staging directory, and so in OUT."""
    _, client = cluster
    io.write_checkpoint(tmp_path / "alone", SPEC, seed=9, max_shard_size=SHARD, progress=False)
    assert all(client.run(_die_while_writing_without_o_tmpfile).values())
    io.write_checkpoint(tmp_path / "cluster", SPEC, seed=9, max_shard_size=SHARD, client=client)
    client.wait_for_workers(2, timeout=60)
    assert digests(tmp_path / "cluster") == digests(tmp_path / "alone")  # (hidden files included)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alone", "cluster"]


def test_when_the_cluster_gives_up_the_write_fails_and_the_old_checkpoint_stays(tmp_path):
    """allowed-failures 0: the first worker death fails the write; the previous checkpoint is untouched."""
    out = tmp_path / "ckpt"
    io.write_checkpoint(out, SPEC, seed=1, max_shard_size=SHARD, progress=False)
    before = digests(out)
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                     dashboard_address=":0", silence_logs=50) as local, \
            distributed.Client(local, timeout=60) as client:
        client.wait_for_workers(2, timeout=60)
        client.run(_die_while_writing)
        with pytest.raises(distributed.KilledWorker):
            io.write_checkpoint(out, SPEC, seed=2, max_shard_size=SHARD, force=True, client=client)
    assert digests(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_cli_scheduler_option(tmp_path, cluster):
    local, _ = cluster
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC))
    command = [sys.executable, "-m", "fastglorot", "init", str(tmp_path / "out"), "--spec", str(spec), "--seed", "5",
               "--max-shard-size", "600KiB", "--scheduler", local.scheduler_address, "--quiet"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    io.write_checkpoint(tmp_path / "alone", SPEC, seed=5, max_shard_size=SHARD, progress=False)
    assert digests(tmp_path / "out") == digests(tmp_path / "alone")
    unreachable = subprocess.run(command[:-3] + ["--scheduler", "tcp://127.0.0.1:9", "--force"], capture_output=True,
                                 text=True, timeout=300)
    assert unreachable.returncode == 1
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in unreachable.stderr


def test_a_client_needs_a_sharded_checkpoint(tmp_path, cluster):
    _, client = cluster
    with pytest.raises(io.SpecError, match="pass max_shard_size too"):
        io.write_checkpoint(tmp_path / "m.safetensors", SPEC, seed=1, client=client)
    assert list(tmp_path.iterdir()) == []


def test_a_config_checkpoint_on_the_cluster_equals_one_process(tmp_path, cluster):
    """--config with a client: each worker rebuilds the meta model, writes its shard whole; same bytes."""
    transformers = pytest.importorskip("transformers")
    _, client = cluster
    config = transformers.LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                                      num_key_value_heads=2, vocab_size=256)
    alone = io.write_checkpoint(tmp_path / "alone", config=config, seed=3, max_shard_size=50_000, progress=False)
    with distributed.get_task_stream(client) as stream:
        written = io.write_checkpoint(tmp_path / "cluster", config=config, seed=3, max_shard_size=50_000,
                                      client=client)
    assert [p.name for p in written] == [p.name for p in alone]
    assert len([p for p in written if p.name.startswith("model-")]) >= 3
    assert digests(tmp_path / "cluster") == digests(tmp_path / "alone")
    shard_tasks = [task for task in stream.data if "fastglorot-shard" in str(task["key"])]
    assert len({task["worker"] for task in shard_tasks}) == 2  # both workers wrote
    # v2: the caller's block reaches the workers (each rebuilds the model and runs its inits in format 2)
    io.write_checkpoint(tmp_path / "alone-v2", config=config, seed=3, max_shard_size=50_000, progress=False,
                        stream_format=2)
    with fastglorot.stream_format(2):
        io.write_checkpoint(tmp_path / "cluster-v2", config=config, seed=3, max_shard_size=50_000, client=client)
    assert digests(tmp_path / "cluster-v2") == digests(tmp_path / "alone-v2")  # (v2's values: test_io_config)
