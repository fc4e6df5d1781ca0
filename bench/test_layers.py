"""Glorot fills of real layer shapes: every peer of ``fastglorot.benchmarks.peers`` side by side.

Run:  python -m pytest bench/ --benchmark-only --benchmark-group-by=group
      [--benchmark-columns=min,median,max,rounds] [--benchmark-json=PATH]

One benchmark per (layer shape, dtype, distribution, peer); each report group,
e.g. "16384x16384 float32 normal", holds the peers side by side. Shapes: a
4096x4096 linear layer, a 16384x16384 one (1 GiB of float32), a GPT-style
embedding (50304, 4096) and a conv weight (512, 512, 3, 3), whose fans are read
in torch layout by every peer (``fan_in = fan_out = 512*9``); dtypes float32
and bfloat16 (ml_dtypes).

Every peer runs at ``numba.get_num_threads()`` threads (``numpy`` is the
one-thread recipe by definition). One buffer per (shape, dtype) is allocated
and touched outside the timed region, reused by every peer of that shape and
dtype, and freed before the next shape's is allocated (peak: one buffer, 1 GiB).
Each benchmark is one untimed warm-up call (compilation excluded), then a
fixed number of timed rounds of one call. ``extra_info`` carries ``bytes``,
``gbps`` (decimal GB/s at the median) and ``x_memset`` (median GB/s over the
memset's in the same group), so ``--benchmark-json`` output has them.

Guard: before timing, the buffer is set to a constant the peer must
overwrite; after timing, a strided sample of 1e6 elements over the whole
buffer must look like the Glorot distribution (uniform: max |x| within
(0.9, 1] of the bound; normal: std within 5% of the Glorot std; mean near 0),
so a broken peer cannot post a fast time. ``test_peer_scale`` checks the same
on small buffers (it is not a benchmark, so ``--benchmark-only`` skips it).
"""

from __future__ import annotations

import gc
from typing import Dict, Tuple

import _common
import ml_dtypes
import numba
import numpy as np
import pytest

from fastglorot.benchmarks.measure import memset_
from fastglorot.benchmarks.peers import DISTS, PEERS, glorot_scale

# Layer shape -> timed rounds (the slowest peer, numpy on one thread, takes
# ~2.5 s per 1 GiB float32 normal fill on the reference machine).
LAYERS: Dict[Tuple[int, ...], int] = {
    (4096, 4096): 10,
    (16384, 16384): 3,
    (50304, 4096): 3,
    (512, 512, 3, 3): 30,
}
DTYPES = {"float32": np.dtype(np.float32), "bfloat16": np.dtype(ml_dtypes.bfloat16)}
ORDER = ["memset"] + [name for name in PEERS if name != "memset"]  # the yardstick first in each group
SAMPLE = 1_000_000  # elements checked after timing


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
def layer_buffer():
    """``get(shape, dtype)``: the touched buffer of that shape and dtype; one alive at a time."""
    cache: Dict[tuple, np.ndarray] = {}

    def get(shape, dtype) -> np.ndarray:
        key = (shape, dtype.name)
        if key not in cache:
            cache.clear()
            gc.collect()  # the previous buffer is gone before the next is allocated
            out = np.empty(shape, dtype)
            memset_(out)  # first touch, outside any timed region
            cache[key] = out
        return cache[key]

    yield get
    cache.clear()
    gc.collect()


CASES = [
    pytest.param(shape, dtype_name, dist, peer_name,
                 id=f"{'x'.join(map(str, shape))}-{dtype_name}-{dist}-{peer_name}")
    for shape in LAYERS for dtype_name in DTYPES for dist in DISTS for peer_name in ORDER
]
_memset_gbps: Dict[str, float] = {}  # group -> memset GB/s, for x_memset


@pytest.mark.parametrize("shape, dtype_name, dist, peer_name", CASES)
def test_fill(benchmark, layer_buffer, shape, dtype_name, dist, peer_name):
    peer = require(peer_name)
    threads = numba.get_num_threads()
    out = layer_buffer(shape, DTYPES[dtype_name])
    if peer_name == "memset":
        out.fill(0)
    else:
        memset_(out)  # a constant every fill must overwrite
    fill = peer.make(out, dist, threads)
    group = group_name(shape, dtype_name, dist)
    benchmark.group = group
    benchmark.extra_info.update(peer=peer_name, shape=list(shape), dtype=dtype_name, dist=dist,
                                threads=threads, elements=out.size, bytes=out.nbytes)
    benchmark.pedantic(fill, rounds=LAYERS[shape], warmup_rounds=1, iterations=1)
    if benchmark.stats:  # None when benchmarks are disabled
        gbps = _common.gbps(out.nbytes, benchmark.stats.stats.median)
        benchmark.extra_info["gbps"] = round(gbps, 3)
        if peer_name == "memset":
            _memset_gbps[group] = gbps
        elif group in _memset_gbps:
            benchmark.extra_info["x_memset"] = round(gbps / _memset_gbps[group], 3)
    check_fill(out, dist, peer_name)


@pytest.mark.parametrize("peer_name", ORDER)
@pytest.mark.parametrize("dist", DISTS)
@pytest.mark.parametrize("dtype_name", DTYPES)
@pytest.mark.parametrize("shape", [(256, 128), (32, 16, 3, 3)], ids=["256x128", "32x16x3x3"])
def test_peer_scale(shape, dtype_name, dist, peer_name):
    """Each peer's fill of a small buffer has the Glorot scale of its torch-layout fans."""
    peer = require(peer_name)
    out = np.zeros(shape, DTYPES[dtype_name])
    peer.make(out, dist, numba.get_num_threads())()
    check_fill(out, dist, peer_name)
