"""fastglorot.dask: lazy arrays equal to the NumPy initializers for every chunking.

Expected values come from the NumPy allocating functions of the same
arguments (pinned by the goldens and the block tests).
"""

from __future__ import annotations

import os
import warnings

import ml_dtypes
import numpy as np
import pytest

import fastglorot

da = pytest.importorskip("dask.array")
fgd = pytest.importorskip("fastglorot.dask")

BF16 = np.dtype(ml_dtypes.bfloat16)
DTYPES = [np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16), BF16]
CHUNKINGS = ["auto", 7, (5, 64), ((3, 5, 8), (7, 9, 100, 384)), ((16,), (500,)), (1, 500)]
SHAPE = (16, 500)

CALLS = {  # name: (args, kwargs)
    "glorot_uniform": ((), dict(seed=11, stream="enc.w")),
    "glorot_normal": ((), dict(seed=11, stream=3, gain=2.0)),
    "xavier_normal": ((), dict(seed=2**64 - 1, stream=0, truncated=True)),
    "kaiming_uniform": ((), dict(seed=5, a=0.2, mode="fan_out")),
    "kaiming_normal": ((), dict(seed=5, nonlinearity="relu")),
    "he_normal": ((), dict(seed=5, layout="jax")),
    "lecun_uniform": ((), dict(seed=5)),
    "lecun_normal": ((), dict(seed=5, stream="x")),
    "variance_scaling": ((0.5, "fan_avg", "uniform"), dict(seed=9)),
    "uniform": ((-3.0, 2.0), dict(seed=9, stream=1)),
    "normal": ((1.0, 0.5), dict(seed=9, stream=2)),
    "trunc_normal": ((0.0, 1.0, -0.5, 2.0), dict(seed=9, stream=4)),
}


def numpy_result(name, shape, dtype):
    args, kwargs = CALLS[name]
    return getattr(fastglorot, name)(shape, *args, dtype=dtype, **kwargs)


def assert_bits_equal(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(np.ascontiguousarray(a).view(np.uint8), np.ascontiguousarray(b).view(np.uint8))


@pytest.mark.parametrize("chunks", CHUNKINGS, ids=str)
@pytest.mark.parametrize("name", CALLS)
def test_compute_equals_numpy_for_every_chunking(name, chunks):
    args, kwargs = CALLS[name]
    lazy = getattr(fgd, name)(SHAPE, *args, chunks=chunks, dtype=np.float32, **kwargs)
    assert isinstance(lazy, da.Array) and lazy.dtype == np.float32
    assert_bits_equal(lazy.compute(scheduler="threads"), numpy_result(name, SHAPE, np.float32))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", ["glorot_uniform", "normal", "lecun_normal"])
def test_every_dtype(name, dtype):
    args, kwargs = CALLS[name]
    lazy = getattr(fgd, name)((33, 45, 7), *args, chunks=(10, (40, 5), 3), dtype=dtype, **kwargs)
    assert lazy.dtype == dtype
    assert_bits_equal(lazy.compute(scheduler="sync"), numpy_result(name, (33, 45, 7), dtype))


def test_graph_holds_one_small_task_per_chunk_and_no_data():
    lazy = fgd.glorot_uniform((4096, 4096), chunks=(512, 1024), seed=1)
    graph = dict(lazy.__dask_graph__())
    assert len(graph) == 8 * 4
    import pickle
    assert len(pickle.dumps(graph)) < 64 * 1024  # 16M elements, a few hundred bytes a task


def test_nothing_runs_until_compute(monkeypatch):
    calls = []
    real = fastglorot.normal

    def spy(*args, **kwargs):
        calls.append(kwargs.get("global_offset"))
        return real(*args, **kwargs)

    monkeypatch.setattr(fastglorot, "normal", spy)
    lazy = fgd.normal((100, 100), chunks=50, seed=1)
    assert calls == [None]  # the argument check on the client only (one element)
    lazy.compute(scheduler="sync")
    assert sorted(calls[1:]) == [(0, 0), (0, 50), (50, 0), (50, 50)]


def test_seed_none_is_drawn_once_on_the_client():
    lazy = fgd.glorot_normal((64, 64), chunks=16)
    first, second = lazy.compute(), lazy.compute()
    assert_bits_equal(first, second)  # every chunk and every compute share one seed
    assert not np.array_equal(first, fgd.glorot_normal((64, 64), chunks=16).compute())


def test_same_arguments_same_graph_name():
    a = fgd.glorot_uniform((64, 64), chunks=16, seed=1, stream="a")
    assert a.name == fgd.glorot_uniform((64, 64), chunks=16, seed=1, stream="a").name
    assert a.name != fgd.glorot_uniform((64, 64), chunks=16, seed=1, stream="b").name


def test_slicing_computes_only_the_chunks_needed():
    lazy = fgd.uniform((1000, 1000), 0.0, 1.0, chunks=100, seed=3)
    part = lazy[250:260, 990:]
    assert len(dict(part.__dask_optimize__(part.__dask_graph__(), part.__dask_keys__()))) <= 4
    assert_bits_equal(part.compute(), fastglorot.uniform((1000, 1000), 0.0, 1.0, seed=3)[250:260, 990:])


@pytest.mark.parametrize("call, error", [
    (lambda: fgd.glorot_uniform((10,), seed=1), ValueError),             # fans need 2 dimensions
    (lambda: fgd.glorot_uniform((10, 10), seed=-1), ValueError),
    (lambda: fgd.kaiming_normal((10, 10), seed=1, nonlinearity="nope"), ValueError),
    (lambda: fgd.uniform((10, 10), 2.0, 1.0, seed=1), ValueError),
    (lambda: fgd.glorot_uniform((10, 10), seed=1, dtype=np.int32), TypeError),
    (lambda: fgd.glorot_uniform((10, 10), seed=1, global_offset=(0, 0)), TypeError),
    (lambda: fgd.glorot_uniform((10, 10), seed=1, offset=4), TypeError),
    (lambda: fgd.glorot_uniform((10, -10), seed=1), ValueError),
])
def test_bad_arguments_fail_on_the_client(call, error):
    with pytest.raises(error):
        call()


def test_zero_size_warns_like_numpy():
    with pytest.warns(UserWarning, match="zero-element"):
        lazy = fgd.glorot_uniform((0, 10), seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert lazy.compute().shape == (0, 10)


def test_signatures_mirror_numpy():
    import inspect
    for name in fgd.__all__:
        params = inspect.signature(getattr(fgd, name)).parameters
        assert "chunks" in params and "global_shape" not in params and "offset" not in params
        numpy_params = set(inspect.signature(getattr(fastglorot, name)).parameters)
        assert set(params) == numpy_params - {"offset", "global_shape", "global_offset"} | {"chunks"}


# -- stream format ---------------------------------------------------------------------------------

V2_NAMES = ["glorot_normal", "xavier_normal", "kaiming_normal", "lecun_normal", "normal", "trunc_normal",
            "glorot_uniform"]  # the normal and truncated-normal draws (where the formats differ) and a uniform


@pytest.mark.parametrize("chunks", CHUNKINGS, ids=str)
def test_stream_format_2_equals_numpy_for_every_chunking(chunks):
    """``stream_format=2`` gives the core's ``fastglorot.<function>(..., stream_format=2)`` bits for every chunking."""
    for name in V2_NAMES:
        args, kwargs = CALLS[name]
        for dtype in (np.dtype(np.float32), BF16):
            lazy = getattr(fgd, name)(SHAPE, *args, chunks=chunks, dtype=dtype, stream_format=2, **kwargs)
            expected = getattr(fastglorot, name)(SHAPE, *args, dtype=dtype, stream_format=2, **kwargs)
            assert_bits_equal(lazy.compute(scheduler="threads"), expected)
            if dtype == np.float32:  # the formats differ exactly for the normal draws (README "Stream format")
                v1 = numpy_result(name, SHAPE, dtype)
                assert np.array_equal(expected, v1) == (name == "glorot_uniform"), name


def test_stream_format_is_resolved_when_the_array_is_made():
    shape, kwargs = (40, 60), dict(chunks=(16, 25), seed=8)
    v1, v2 = (fastglorot.he_normal(shape, seed=8, stream_format=n) for n in (1, 2))
    with fastglorot.stream_format(2):
        made_in_2 = fgd.he_normal(shape, **kwargs)
        explicit_1 = fgd.he_normal(shape, stream_format=1, **kwargs)
    made_in_1 = fgd.he_normal(shape, **kwargs)
    # Computed outside the block: "sync" runs the tasks in this thread, whose format is 1 again, so only a format
    # carried by the tasks themselves gives format 2; "threads" runs them in pool threads (their own context).
    for scheduler in ("sync", "threads"):
        assert_bits_equal(made_in_2.compute(scheduler=scheduler), v2)
    assert_bits_equal(explicit_1.compute(scheduler="sync"), v1)
    with fastglorot.stream_format(2):
        assert_bits_equal(made_in_1.compute(scheduler="sync"), v1)  # a block entered later changes nothing
    # The format is part of the graph's name: formats never share keys, even for uniforms (same values).
    assert made_in_2.name == fgd.he_normal(shape, stream_format=2, **kwargs).name
    assert made_in_1.name == explicit_1.name
    assert "-v2-" in made_in_2.name and "-v1-" in made_in_1.name
    uniforms = [fgd.uniform(shape, stream_format=n, **kwargs) for n in (1, 2)]
    assert uniforms[0].name != uniforms[1].name
    assert not set(dict(uniforms[0].__dask_graph__())) & set(dict(uniforms[1].__dask_graph__()))


@pytest.mark.parametrize("bad, error, match", [
    (3, ValueError, "stream_format must be 1 or 2, got 3"),
    ("2", TypeError, r"stream_format must be 1 or 2 \(an int\), got '2'"),
    (True, TypeError, "got True"),
    (2.0, TypeError, "got 2.0"),
])
def test_bad_stream_format_fails_on_the_client_before_anything_runs(monkeypatch, bad, error, match):
    calls = []
    monkeypatch.setattr(fastglorot, "normal", lambda *args, **kwargs: calls.append(args))
    monkeypatch.setattr(fgd, "resolve_seed", lambda seed: calls.append(seed))
    with pytest.raises(error, match=match):
        fgd.normal((10, 10), chunks=5, stream_format=bad)
    assert calls == []  # no seed drawn, no argument check run


def test_to_zarr_round_trip(tmp_path):
    zarr = pytest.importorskip("zarr")
    lazy = fgd.glorot_normal((300, 200), chunks=(64, 50), seed=7, stream="w")
    lazy.to_zarr(str(tmp_path / "w.zarr"))
    stored = zarr.open_array(str(tmp_path / "w.zarr"), mode="r")
    assert stored.shape == (300, 200)
    assert_bits_equal(stored[...], fastglorot.glorot_normal((300, 200), seed=7, stream="w"))


def test_import_fastglorot_does_not_import_dask(python_runner):
    result = python_runner("import sys, fastglorot; print('dask' in sys.modules)")
    assert result.stdout.strip() == "False"


@pytest.fixture(scope="module")
def cluster_client():
    """A real dask.distributed cluster on loopback, 2 spawned worker processes, shared by the tests below."""
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=40) as cluster, \
            distributed.Client(cluster, timeout=60) as client:
        client.wait_for_workers(2, timeout=60)
        yield client


@pytest.mark.slow
def test_local_cluster_with_two_worker_processes(cluster_client):
    distributed = pytest.importorskip("dask.distributed")
    client = cluster_client
    lazy = fgd.lecun_normal((256, 1000), chunks=(100, 300), seed=21, stream="layer.0", dtype="bfloat16")
    with distributed.get_task_stream(client) as stream:
        result = client.compute(lazy).result(timeout=120)
    pids = client.run(os.getpid)
    assert len(set(pids.values())) == 2 and os.getpid() not in pids.values()  # real worker processes
    assert {task["worker"] for task in stream.data} <= set(pids)  # the chunks ran on them
    assert len(stream.data) >= 12
    assert_bits_equal(result, fastglorot.lecun_normal((256, 1000), seed=21, stream="layer.0", dtype="bfloat16"))


@pytest.mark.slow
def test_stream_format_2_on_a_local_cluster(cluster_client):
    """Arrays made under ``with fastglorot.stream_format(2)`` compute format 2 on worker processes, which never
    see the client's context (their own format stays 1)."""
    client = cluster_client
    shape = (256, 1000)
    with fastglorot.stream_format(2):
        assert set(client.run(fastglorot.get_stream_format).values()) == {1}
        lazy = {dtype: fgd.lecun_normal(shape, chunks=(100, 300), seed=21, stream="layer.0", dtype=dtype)
                for dtype in ("float32", "bfloat16")}
        lazy["trunc"] = fgd.trunc_normal(shape, 0.0, 1.0, -0.5, 2.0, chunks=(64, 256), seed=3)
        results = client.compute(lazy, sync=True)
    for dtype in ("float32", "bfloat16"):
        assert_bits_equal(results[dtype], fastglorot.lecun_normal(shape, seed=21, stream="layer.0", dtype=dtype,
                                                                  stream_format=2))
    v1 = fastglorot.lecun_normal(shape, seed=21, stream="layer.0", stream_format=1)
    assert not np.array_equal(results["float32"], v1)
    assert_bits_equal(results["trunc"], fastglorot.trunc_normal(shape, 0.0, 1.0, -0.5, 2.0, seed=3, stream_format=2))
