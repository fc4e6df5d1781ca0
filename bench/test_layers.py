"""Glorot fills of real layer shapes: every peer of ``fastglorot.benchmarks.peers`` side by side.

Run:  python -m pytest --benchmark-only [--benchmark-group-by=group]
      [--benchmark-columns=min,median,max,rounds] [--benchmark-json=PATH]
      [--benchmark-save=NAME] [--benchmark-compare[=NUM] --benchmark-compare-fail=median:15%]

from the repository root (``setup.cfg`` lists ``bench`` in ``testpaths``;
``python -m pytest bench/`` runs this directory alone).  A plain ``python -m
pytest`` skips these at collection (``conftest.py``): they run only when a
run asks for benchmarks.

One benchmark per (layer shape, dtype, distribution, peer); each report group,
e.g. "16384x16384 float32 normal", holds the peers side by side.  The memset
yardstick is not a benchmark of its own (see "The yardstick" below). Shapes: a
4096x4096 linear layer, a 16384x16384 one (1 GiB of float32), a GPT-style
embedding (50304, 4096) and a conv weight (512, 512, 3, 3), whose fans are read
in torch layout by every peer (``fan_in = fan_out = 512*9``); dtypes float32
and bfloat16 (ml_dtypes).

Every peer runs at ``numba.get_num_threads()`` threads (``numpy`` is the
one-thread recipe by definition), fastglorot on its kernels
(``FASTGLOROT_NUMPY_MAX_BYTES=0``, as ``fastglorot bench``) in the stream
format of ``--stream-format=N`` (default 1; ``extra_info``: ``stream_format``).

Past the last-level cache: a layer smaller than :data:`LLC_MULTIPLE` times
the CPU's last-level cache (``measure.last_level_cache``; 32 MiB on the
project's machines) is allocated as that many bytes of copies, and each timed
call fills every copy in turn, as a model's many layers of one shape are
filled one after the other (``extra_info``: ``layers`` per call, ``bytes``
per call, ``llc_bytes``).  Every call then writes to memory, not to a cache
that still holds the buffer from the last round, so GB/s and "x memset" mean
memory bandwidth for every group (a buffer that stays in cache measures cache
bandwidth, a different and higher yardstick); and every call lasts tens of
milliseconds at least, so that thread wake-ups and scheduler noise, which
made millisecond fills of one small layer vary by 20-45 % between two runs on
an otherwise idle machine, average out within a call.  Buffers are allocated
and touched outside the timed region, reused by every peer of that shape and
dtype, and freed before the next shape's are allocated.

Each benchmark is one untimed warm-up call on a small buffer (compilation,
thread pools), then pytest-benchmark's own calibration and rounds: ``--benchmark-min-rounds``
(default 5), ``--benchmark-max-time`` (default 1 s), ``--benchmark-warmup``
and the other standard options apply.  ``extra_info`` carries ``bytes``
(one call), ``gbps`` (decimal GB/s at the median), ``memset_gbps`` and
``x_memset`` (``gbps`` over ``memset_gbps``), so ``--benchmark-json``
output has them.

The yardstick: before its rounds, each benchmark times
:data:`YARDSTICK_CALLS` parallel memsets (``measure.memset_``, the same
threads and chunking) of the very buffers it then fills; ``memset_gbps`` is
their median.  It is recorded, not compared: on the project's guests a
buffer's memset runs at one of two speeds decided by where its memory lands
(16 or 29 ms for the 786 MiB embedding, between two runs of an unchanged
checkout), while the fills, slower than memory, move by under 10 %; as a
benchmark of its own, the memset made ``--benchmark-compare-fail=median:15%``
fail on a machine property, not on a change.  ``fastglorot bench`` still
lists memset as a contender.

Busy machine: each benchmark also records ``other_cpus``, the CPUs other
processes used on average during its rounds (``contention.other_cpu_use``),
and, when ``contention.busy_report`` finds that they took CPUs the benchmark
needed, the reason as ``busy``; the run ends with a warning naming how many
benchmarks were affected, since their figures, and a ``--benchmark-compare``
with that run, are then unreliable.  (The spread of one benchmark's rounds is
not a sign here: five rounds of a 1 GiB fill spread by up to 30 % on an idle
machine; ``fastglorot bench`` judges the median spread over its contenders.)

Guard: before timing, every copy is set to a constant the peer must
overwrite; after timing, a strided sample of 1e6 elements over each copy
must look like the Glorot distribution (uniform: max |x|
within (0.9, 1] of the bound; normal: std within 5% of the Glorot std; mean
near 0), so a broken peer cannot post a fast time. ``test_peer_scale`` checks
the same on small buffers (it is not a benchmark, so ``--benchmark-only``
skips it).
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from typing import Callable, Dict, List, Tuple

import ml_dtypes
import numba
import numpy as np
import pytest

from bench import _common
from fastglorot.benchmarks import contention
from fastglorot.benchmarks.measure import last_level_cache, memset_
from fastglorot.benchmarks.peers import DISTS, PEERS, glorot_scale

LAYERS: List[Tuple[int, ...]] = [(4096, 4096), (16384, 16384), (50304, 4096), (512, 512, 3, 3)]
DTYPES = {"float32": np.dtype(np.float32), "bfloat16": np.dtype(ml_dtypes.bfloat16)}
ORDER = ["memset"] + [name for name in PEERS if name != "memset"]  # test_peer_scale: every peer, memset included
FILLERS = [name for name in PEERS if name != "memset"]  # the benchmarks: memset is each one's recorded yardstick
YARDSTICK_CALLS = 3  # memsets of the benchmark's own buffers timed before its rounds; memset_gbps is their median
SAMPLE = 1_000_000  # elements checked after timing
LLC_MULTIPLE = 4  # the copies of a small layer that one call fills span at least this many times the LLC
MAX_COPY_BYTES = 4 << 30  # ...but never more than this in all (a machine reporting a huge cache)
_LLC = last_level_cache()
LLC_BYTES = _LLC["bytes"] if _LLC else 32 << 20  # unknown: the project's machines' L3


def copies_for(nbytes: int, llc_bytes: int = LLC_BYTES) -> int:
    """How many copies of an ``nbytes`` layer one timed call fills (1 past the cache)."""
    wanted = math.ceil(LLC_MULTIPLE * llc_bytes / nbytes)
    return max(1, min(wanted, MAX_COPY_BYTES // nbytes))


def fill_all(fills: List[Callable[[], object]]) -> Callable[[], None]:
    """One timed call: every copy's fill, in turn."""
    def run() -> None:
        for fill in fills:
            fill()
    return run


def group_name(shape, dtype_name: str, dist: str) -> str:
    return f"{'x'.join(map(str, shape))} {dtype_name} {dist}"


def check_fill(out: np.ndarray, dist: str, peer_name: str) -> None:
    """A strided sample of ``out`` has the Glorot scale (memset: is the constant)."""
    flat = out.reshape(-1)
    sample = flat[:: max(1, flat.size // SAMPLE)].astype(np.float64)
    where = f"{peer_name} {group_name(out.shape, out.dtype.name, dist)}"
    if peer_name == "memset":  # any nonzero constant (the buffer was zeroed before)
        assert sample[0] != 0 and np.all(sample == sample[0]), where
        return
    assert np.isfinite(sample).all(), where
    scale = glorot_scale(out.shape, dist)
    if dist == "uniform":
        top = float(np.abs(sample).max())
        limit = scale * (1 + float(ml_dtypes.finfo(out.dtype).eps))  # rounding to the dtype
        assert 0.9 * scale < top <= limit, f"{where}: max |x| {top} vs bound {scale}"
    else:
        std = float(sample.std())
        assert abs(std / scale - 1) < 0.05, f"{where}: std {std} vs Glorot std {scale}"
    mean = float(sample.mean())
    assert abs(mean) < 0.05 * scale, f"{where}: mean {mean} vs scale {scale}"


def require(peer_name: str):
    peer = PEERS[peer_name]
    if not peer.available():
        pytest.skip(f"peer {peer_name!r} needs {peer.module!r}, which is not installed")
    return peer


@pytest.fixture(scope="module")
def layer_buffers():
    """``get(shape, dtype)``: the touched copies of that shape and dtype; one shape's alive at a time."""
    cache: Dict[tuple, List[np.ndarray]] = {}

    def get(shape, dtype) -> List[np.ndarray]:
        key = (shape, dtype.name)
        if key not in cache:
            cache.clear()
            gc.collect()  # the previous buffers are gone before the next are allocated
            count = copies_for(math.prod(shape) * dtype.itemsize)
            cache[key] = [memset_(np.empty(shape, dtype)) for _ in range(count)]  # first touch, untimed
        return cache[key]

    yield get
    cache.clear()
    gc.collect()


def memset_gbps(outs: List[np.ndarray]) -> float:
    """Decimal GB/s of the median of :data:`YARDSTICK_CALLS` parallel memsets of every copy in turn.

    Leaves every copy set to the memset's constant, which the fill must overwrite (``check_fill``).
    """
    times = []
    for _ in range(YARDSTICK_CALLS):
        start = time.perf_counter()
        for out in outs:
            memset_(out)
        times.append(time.perf_counter() - start)
    return _common.gbps(sum(out.nbytes for out in outs), statistics.median(times))


CASES = [
    pytest.param(shape, dtype_name, dist, peer_name,
                 id=f"{'x'.join(map(str, shape))}-{dtype_name}-{dist}-{peer_name}")
    for shape in LAYERS for dtype_name in DTYPES for dist in DISTS for peer_name in FILLERS
]


@pytest.mark.parametrize("shape, dtype_name, dist, peer_name", CASES)
def test_fill(benchmark, layer_buffers, busy_benchmarks, request, stream_format, shape, dtype_name, dist, peer_name):
    peer = require(peer_name)
    threads = numba.get_num_threads()
    outs = layer_buffers(shape, DTYPES[dtype_name])
    # Warm-up, untimed, on a small buffer: compilation and thread pools (the layer's pages are touched already),
    # so that pytest-benchmark's calibration sees the steady state.
    peer.fill_in(np.empty((64, 64), DTYPES[dtype_name]), dist, threads, stream_format)()
    fill = fill_all([peer.fill_in(out, dist, threads, stream_format) for out in outs])
    yardstick = memset_gbps(outs)  # also sets every copy to a constant the fill must overwrite
    group = group_name(shape, dtype_name, dist)
    benchmark.group = group
    nbytes = sum(out.nbytes for out in outs)
    benchmark.extra_info.update(peer=peer_name, shape=list(shape), dtype=dtype_name, dist=dist,
                                threads=threads, elements=outs[0].size * len(outs), bytes=nbytes, layers=len(outs),
                                llc_bytes=LLC_BYTES, stream_format=stream_format)
    before = contention.cpu_snapshot()
    benchmark(fill)
    cpu = contention.other_cpu_use(before, contention.cpu_snapshot())
    if benchmark.stats:  # None when benchmarks are disabled
        gbps = _common.gbps(nbytes, benchmark.stats.stats.median)
        benchmark.extra_info.update(gbps=round(gbps, 3), memset_gbps=round(yardstick, 3),
                                    x_memset=round(gbps / yardstick, 3))
        busy = contention.busy_report(1 if peer_name == "numpy" else threads, cpu=cpu)
        benchmark.extra_info["other_cpus"] = None if cpu is None else round(cpu["other_cpus"], 3)
        if busy["busy"]:
            benchmark.extra_info["busy"] = busy["reasons"]
            busy_benchmarks.append((request.node.name, busy))
    for out in outs:
        check_fill(out, dist, peer_name)


@pytest.mark.parametrize("peer_name", ORDER)
@pytest.mark.parametrize("dist", DISTS)
@pytest.mark.parametrize("dtype_name", DTYPES)
@pytest.mark.parametrize("shape", [(256, 128), (32, 16, 3, 3)], ids=["256x128", "32x16x3x3"])
def test_peer_scale(stream_format, shape, dtype_name, dist, peer_name):
    """Each peer's fill of a small buffer has the Glorot scale of its torch-layout fans (fastglorot's in
    ``--stream-format``)."""
    peer = require(peer_name)
    out = np.zeros(shape, DTYPES[dtype_name])
    peer.fill_in(out, dist, numba.get_num_threads(), stream_format)()
    check_fill(out, dist, peer_name)
