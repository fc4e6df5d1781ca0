"""The implementations ``fastglorot bench`` and ``bench/`` compare, side by side.

Each peer fills one preallocated, pre-touched C-contiguous buffer of torch
layout ``(fan_out, fan_in)`` or ``(out, in, *kernel)`` (fans as
:func:`fastglorot.compute_fans` reads them) with Glorot uniform samples on
``±sqrt(6/(fan_in + fan_out))`` or Glorot normal samples with std
``sqrt(2/(fan_in + fan_out))``, by the fastest honest recipe its library offers:

``fastglorot``
    :func:`glorot_uniform_` / :func:`glorot_normal_`, in the stream format
    :meth:`Peer.fill_in` names (``fastglorot bench --stream-format``; format
    2 gives other, faster float32 and 16-bit normals).
``memset``
    A parallel constant fill of the same buffer (the bandwidth yardstick).
``numpy``
    One thread: ``Generator.random(out=..., dtype=float32)`` /
    ``standard_normal(out=..., dtype=float32)`` and in-place scaling, chunk by
    chunk so the scaling (and the bfloat16 cast) runs on cache-hot data.
``numpy-threads``
    The same on all cores: numpy's documented multithreaded recipe
    (``SeedSequence.spawn`` + ``ThreadPoolExecutor``), one generator and one
    contiguous range per thread.
``torch``
    ``torch.nn.init.xavier_uniform_`` / ``xavier_normal_`` on a tensor sharing
    the buffer, with ``torch.set_num_threads(threads)``.
``parallel-numpy-rng``
    ``parallel_numpy_rng.default_rng(seed).random`` / ``standard_normal``
    with ``nthread=threads`` into the buffer, then in-place scaling.
``mkl-vsl``, ``mkl-vsl-icdf``
    Intel oneMKL's VSL with its Philox4x32-10 generator (the ``mkl`` wheel's
    ``libmkl_rt`` through ctypes: :mod:`fastglorot.benchmarks.mkl_vsl`), one
    stream per thread moved by ``vslSkipAheadStream`` to its own range:
    ``vsRngUniform`` (``VSL_RNG_METHOD_UNIFORM_STD``) on ``[-a, a)``, and
    ``vsRngGaussian`` by Box–Muller (``BOXMULLER2``) or by the inverse CDF
    (``ICDF``, the ``-icdf`` peer), scaled by MKL itself.

float16/bfloat16 buffers: the NumPy-based peers draw float32 into a chunk
of scratch and cast it into the buffer; torch fills its 16-bit tensor
natively.
"""

from __future__ import annotations

import importlib.util
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from .. import glorot_normal_, glorot_uniform_  # the public functions, wherever they are defined
from .._api.fans import compute_fans
from .._api.stream_format import resolve_stream_format
from . import LAYER_COLUMNS
from .measure import memset_

__all__ = ["Peer", "PEERS", "DISTS", "LAYER_COLUMNS", "glorot_scale", "layer_shape"]

DISTS = ("uniform", "normal")
_CHUNK = 1 << 18  # elements per NumPy call: 1 MiB of float32, cache-resident for the scaling

Fill = Callable[[], object]
"""One timed fill of the buffer; what it returns is ignored."""


def layer_shape(elements: int) -> Tuple[int, int]:
    """The 2-D ``(fan_out, fan_in)`` layer ``fastglorot bench`` fills for a budget of ``elements``.

    Square when ``elements`` is a perfect square of at least ``LAYER_COLUMNS``
    elements, otherwise ``(elements // LAYER_COLUMNS, LAYER_COLUMNS)``: whole
    rows, the remainder (less than one row) dropped.  Fewer elements than one
    row make no layer (``ValueError``).
    """
    if elements < LAYER_COLUMNS:
        raise ValueError(f"a benchmark layer needs at least one row of {LAYER_COLUMNS} elements, got {elements}")
    side = math.isqrt(elements)
    if side * side == elements:
        return (side, side)
    return (elements // LAYER_COLUMNS, LAYER_COLUMNS)


def glorot_scale(shape: Sequence[int], dist: str) -> float:
    """The Glorot uniform bound or normal std for a torch-layout shape of any ndim >= 2."""
    fan_in, fan_out = compute_fans(shape)
    return math.sqrt((6.0 if dist == "uniform" else 2.0) / (fan_in + fan_out))


def _numpy_chunk_filler(dist: str, scale: float, out: np.ndarray) -> Callable[[np.random.Generator, int, int], None]:
    """``fill(generator, begin, end)``: the NumPy recipe on ``out.flat[begin:end]``."""
    flat = out.reshape(-1)
    direct = flat.dtype == np.float32

    def fill(generator: np.random.Generator, begin: int, end: int) -> None:
        scratch = None if direct else np.empty(min(_CHUNK, end - begin), np.float32)
        for start in range(begin, end, _CHUNK):
            stop = min(start + _CHUNK, end)
            block = flat[start:stop] if scratch is None else scratch[: stop - start]  # scratch is None iff direct
            if dist == "uniform":
                generator.random(out=block, dtype=np.float32)
                block *= np.float32(2 * scale)
                block -= np.float32(scale)
            else:
                generator.standard_normal(out=block, dtype=np.float32)
                block *= np.float32(scale)
            if not direct:
                flat[start:stop] = block  # round to the buffer's 16-bit dtype
    return fill


def _fastglorot(out: np.ndarray, dist: str, threads: int, stream_format: Optional[int] = None) -> Fill:
    fill = glorot_uniform_ if dist == "uniform" else glorot_normal_
    fmt = resolve_stream_format(stream_format)  # resolved now: the fill may be timed in another thread
    return lambda: fill(out, seed=1, stream_format=fmt)


def _memset(out: np.ndarray, dist: str, threads: int) -> Fill:
    return lambda: memset_(out)


def _numpy(out: np.ndarray, dist: str, threads: int) -> Fill:
    fill = _numpy_chunk_filler(dist, glorot_scale(out.shape, dist), out)
    generator = np.random.default_rng(1)
    return lambda: fill(generator, 0, out.size)


def _numpy_threads(out: np.ndarray, dist: str, threads: int) -> Fill:
    fill = _numpy_chunk_filler(dist, glorot_scale(out.shape, dist), out)
    generators = [np.random.default_rng(s) for s in np.random.SeedSequence(1).spawn(threads)]
    step = -(-out.size // threads)
    executor = ThreadPoolExecutor(threads)

    def run() -> None:
        futures = [executor.submit(fill, generators[i], i * step, min((i + 1) * step, out.size))
                   for i in range(threads)]
        for future in futures:
            future.result()
    return run


def _torch(out: np.ndarray, dist: str, threads: int) -> Fill:
    import torch

    if out.dtype.itemsize == 2 and out.dtype != np.float16:
        tensor = torch.from_numpy(out.view(np.int16)).view(torch.bfloat16)
    else:
        tensor = torch.from_numpy(out)
    init = torch.nn.init.xavier_uniform_ if dist == "uniform" else torch.nn.init.xavier_normal_

    def run() -> None:
        saved = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            init(tensor)
        finally:
            torch.set_num_threads(saved)
    return run


def _parallel_numpy_rng(out: np.ndarray, dist: str, threads: int) -> Fill:
    import parallel_numpy_rng

    scale = glorot_scale(out.shape, dist)
    flat = out.reshape(-1)
    generator = parallel_numpy_rng.default_rng(1)
    direct = flat.dtype == np.float32
    step = flat.size if direct else 1 << 24
    scratch = None if direct else np.empty(min(step, flat.size), np.float32)

    def run() -> None:
        for start in range(0, flat.size, step):
            stop = min(start + step, flat.size)
            block = flat[start:stop] if scratch is None else scratch[: stop - start]  # scratch is None iff direct
            if dist == "uniform":
                generator.random(block.size, out=block, nthread=threads, dtype=np.float32)
                block *= np.float32(2 * scale)
                block -= np.float32(scale)
            else:
                generator.standard_normal(block.size, out=block, nthread=threads, dtype=np.float32)
                block *= np.float32(scale)
            if not direct:
                flat[start:stop] = block
    return run


def _mkl_vsl(normal_method: str) -> Callable[[np.ndarray, str, int], Fill]:
    def make(out: np.ndarray, dist: str, threads: int) -> Fill:
        from . import mkl_vsl

        method = mkl_vsl.METHOD_UNIFORM_STD if dist == "uniform" else getattr(mkl_vsl, normal_method)
        return mkl_vsl.filler(out, dist, method, glorot_scale(out.shape, dist), threads)
    return make


def _mkl_available() -> bool:
    from . import mkl_vsl  # ctypes and glob only: the library itself loads at the first fill

    return mkl_vsl.available()


class Peer(NamedTuple):
    name: str
    module: Optional[str]  # what must be installed (its pip name where no module is imported)
    make: Callable[[np.ndarray, str, int], Fill]
    probe: Optional[Callable[[], bool]] = None  # whether it is installed, where no module tells
    make_in_format: Optional[Callable[[np.ndarray, str, int, Optional[int]], Fill]] = None  # fastglorot's own

    def fill_in(self, out: np.ndarray, dist: str, threads: int, stream_format: Optional[int] = None) -> Fill:
        """``make(out, dist, threads)``, with fastglorot's fills in ``stream_format`` (None: the current one).

        The other libraries have no stream format: their fills are the same whatever it is.
        """
        if self.make_in_format is not None:
            return self.make_in_format(out, dist, threads, stream_format)
        return self.make(out, dist, threads)

    def available(self) -> bool:
        if self.probe is not None:
            return self.probe()
        return self.module is None or importlib.util.find_spec(self.module) is not None


PEERS: Dict[str, Peer] = {peer.name: peer for peer in [
    Peer("fastglorot", None, _fastglorot, make_in_format=_fastglorot),
    Peer("memset", None, _memset),
    Peer("numpy", None, _numpy),
    Peer("numpy-threads", None, _numpy_threads),
    Peer("torch", "torch", _torch),
    Peer("parallel-numpy-rng", "parallel_numpy_rng", _parallel_numpy_rng),
    Peer("mkl-vsl", "mkl", _mkl_vsl("METHOD_BOXMULLER2"), _mkl_available),
    Peer("mkl-vsl-icdf", "mkl", _mkl_vsl("METHOD_ICDF"), _mkl_available),
]}
