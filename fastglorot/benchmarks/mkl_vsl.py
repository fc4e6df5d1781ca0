"""Intel oneMKL's VSL random number generators through ctypes: the highest CPU anchor of the benchmarks.

MKL's Vector Statistics library has the same counter-based generator as
fastglorot, Philox4x32-10 (``VSL_BRNG_PHILOX4X32X10``), with hand-tuned
vector code for its distributions: ``vsRngUniform`` (float32 uniform on
``[a, b)``) and ``vsRngGaussian`` (float32 normal, Box–Muller ``BOXMULLER2``
or inverse CDF ``ICDF``).  The ``mkl`` wheel (``pip install mkl``) ships the
runtime library ``libmkl_rt`` without a Python module; it is loaded here by
path (the environment's ``lib`` folder, then the system's search path), once,
under a lock, and only by the peers that use it.

Threads: one VSL stream per thread, each created from the same seed and
moved by ``vslSkipAheadStream`` to the start of its own contiguous range of
the output, so that ``threads`` threads draw disjoint parts of one stream (as
Intel's documentation recommends for parallel generation).  A ctypes call
releases the GIL, so the threads run in parallel.

MKL chooses its code path by the CPU's vendor and features at run time: on
Intel CPUs its AVX-512/AVX2 kernels, elsewhere (for example AMD EPYC) a
generic path that is several times slower (``bench/README.md`` quotes both).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, List, Optional

import numpy as np

__all__ = ["BRNG_PHILOX4X32X10", "METHOD_UNIFORM_STD", "METHOD_UNIFORM_STD_ACCURATE", "METHOD_BOXMULLER2",
           "METHOD_ICDF", "library_path", "available", "load", "Streams", "filler"]

BRNG_PHILOX4X32X10 = 16 << 20
"""``VSL_BRNG_PHILOX4X32X10`` (``mkl_vsl_defines.h``: ``VSL_BRNG_INC * 16``, ``VSL_BRNG_INC = 1 << 20``)."""
METHOD_UNIFORM_STD = 0
"""``VSL_RNG_METHOD_UNIFORM_STD``: MKL's fast float uniform."""
METHOD_UNIFORM_STD_ACCURATE = (1 << 30) | METHOD_UNIFORM_STD
"""``VSL_RNG_METHOD_UNIFORM_STD_ACCURATE``: results guaranteed inside ``[a, b)``."""
METHOD_BOXMULLER2 = 1
"""``VSL_RNG_METHOD_GAUSSIAN_BOXMULLER2``: Box–Muller, both values of each pair."""
METHOD_ICDF = 2
"""``VSL_RNG_METHOD_GAUSSIAN_ICDF``: the inverse normal CDF of one uniform."""

_CHUNK = 1 << 18
"""Elements per call for 16-bit outputs: float32 draws into a cache-resident scratch, then cast."""

_lock = threading.Lock()
_library: Optional[ctypes.CDLL] = None
_int_type: Any = ctypes.c_int


def library_path() -> Optional[str]:
    """The path of ``libmkl_rt`` (from the ``mkl`` wheel or the system), or None when there is none."""
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix)):
        for name in ("libmkl_rt.so*", "libmkl_rt*.dylib", "mkl_rt*.dll"):
            found = sorted(glob.glob(os.path.join(prefix, "lib", name)) + glob.glob(os.path.join(prefix, "Library",
                                                                                                  "bin", name)))
            if found:
                return found[0]
    return ctypes.util.find_library("mkl_rt")


def available() -> bool:
    """Whether MKL's runtime library can be found (nothing is loaded)."""
    return library_path() is not None


def load() -> ctypes.CDLL:
    """``libmkl_rt``, loaded once (thread-safe), with the VSL functions' argument types declared.

    Raises
    ------
    ImportError
        No ``libmkl_rt`` was found (``pip install mkl``).
    """
    global _library, _int_type
    with _lock:
        if _library is not None:
            return _library
        path = library_path()
        if path is None:
            raise ImportError("the mkl-vsl peers need Intel MKL's runtime library (pip install mkl)")
        library = ctypes.CDLL(path)
        # The LP64 interface (32-bit MKL_INT) unless the environment already chose ILP64: the call returns the
        # layer in effect (0 LP64, 1 ILP64).
        layer = library.MKL_Set_Interface_Layer(ctypes.c_int(0))
        _int_type = ctypes.c_longlong if layer == 1 else ctypes.c_int
        pointer = ctypes.c_void_p
        library.vslNewStream.argtypes = [ctypes.POINTER(pointer), _int_type, ctypes.c_uint]
        library.vslSkipAheadStream.argtypes = [pointer, ctypes.c_longlong]
        library.vslDeleteStream.argtypes = [ctypes.POINTER(pointer)]
        for name in ("vsRngUniform", "vsRngGaussian"):
            getattr(library, name).argtypes = [_int_type, pointer, _int_type, ctypes.c_void_p, ctypes.c_float,
                                               ctypes.c_float]
        library.viRngUniformBits32.argtypes = [_int_type, pointer, _int_type, ctypes.c_void_p]
        for name in ("vslNewStream", "vslSkipAheadStream", "vslDeleteStream", "vsRngUniform", "vsRngGaussian",
                     "viRngUniformBits32"):
            getattr(library, name).restype = ctypes.c_int
        _library = library
        return library


def _check(status: int, what: str) -> None:
    if status != 0:
        raise RuntimeError(f"MKL {what} failed with VSL status {status}")


class Streams:
    """``count`` VSL Philox4x32-10 streams of one seed, stream ``i`` skipped ahead by ``i * skip`` words.

    Deleted (``vslDeleteStream``) by :meth:`close` or when garbage-collected.
    """

    def __init__(self, seed: int, count: int, skip: int) -> None:
        self._library = load()
        self.handles: List[ctypes.c_void_p] = []
        try:
            for i in range(count):
                handle = ctypes.c_void_p()
                _check(self._library.vslNewStream(ctypes.byref(handle), BRNG_PHILOX4X32X10, seed), "vslNewStream")
                self.handles.append(handle)
                if i:
                    _check(self._library.vslSkipAheadStream(handle, i * skip), "vslSkipAheadStream")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        while self.handles:
            self._library.vslDeleteStream(ctypes.byref(self.handles.pop()))

    def __del__(self) -> None:
        self.close()


def filler(out: np.ndarray, dist: str, method: int, scale: float, threads: int, seed: int = 1
           ) -> Callable[[], None]:
    """A fill of ``out`` (C-contiguous float32, float16 or bfloat16) by MKL on ``threads`` threads.

    ``dist="uniform"``: ``vsRngUniform(method)`` on ``[-scale, scale)``;
    ``"normal"``: ``vsRngGaussian(method)`` with mean 0 and standard deviation
    ``scale``.  Thread ``i`` fills the ``i``-th of ``threads`` contiguous
    ranges from its own stream.  16-bit outputs are drawn as float32 into a
    scratch chunk per thread and cast (round to nearest even) into ``out``.
    """
    library = load()
    flat = out.reshape(-1)
    step = -(-flat.size // threads)
    streams = Streams(seed, threads, step)
    draw = library.vsRngUniform if dist == "uniform" else library.vsRngGaussian
    a, b = (-scale, scale) if dist == "uniform" else (0.0, scale)
    direct = flat.dtype == np.float32
    scratch = [None if direct else np.empty(min(_CHUNK, step), np.float32) for _ in range(threads)]
    largest = 1 << 30  # elements per call: within a 32-bit MKL_INT

    def fill_range(i: int) -> None:
        begin, end = i * step, min((i + 1) * step, flat.size)
        chunk = largest if direct else _CHUNK
        for start in range(begin, end, chunk):
            stop = min(start + chunk, end)
            block = flat[start:stop] if direct else scratch[i][: stop - start]  # type: ignore[index]
            _check(draw(method, streams.handles[i], stop - start, block.ctypes.data, a, b),
                   "vsRngUniform" if dist == "uniform" else "vsRngGaussian")
            if not direct:
                flat[start:stop] = block
    executor = ThreadPoolExecutor(threads) if threads > 1 else None

    def run() -> None:
        if executor is None:
            fill_range(0)
            return
        for future in [executor.submit(fill_range, i) for i in range(threads)]:
            future.result()
    run.streams = streams  # type: ignore[attr-defined]  # kept alive with the fill
    return run
