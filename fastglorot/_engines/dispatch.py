"""Which implementation runs a fill: a numba kernel, or its NumPy twin.

Both give the same bits (``_engines.numpy_kernels``).  The kernels are several times
faster, but a process pays for them once: importing numba and loading each
kernel from numba's disk cache (a few tenths of a second), or compiling it
when the cache has no entry (seconds).  So a fill uses

1. the kernel, if this process has already loaded it;
2. else the NumPy twin, while the bytes this process has filled through
   NumPy, this fill included, stay within :func:`numpy_max_bytes`
   (``FASTGLOROT_NUMPY_MAX_BYTES``, default :data:`NUMPY_MAX_BYTES`);
3. else the kernel, loading (or compiling) it now.

A small fill therefore never waits for numba, and a process that fills a lot
pays the load once, as soon as the NumPy path has cost about as much as the
load would have (a per-process budget rather than a per-fill size, so a model
of a thousand mid-size layers does not fill them all at NumPy speed).  The
default budget is about what the NumPy path fills in the time of a warm
kernel load (README "Performance", ``python bench/bench_startup.py``).

Thread safety: several threads may make their first fills at once (Dask
tasks, models built in threads inside ``fast_init``).  One lock serializes
the import of ``_engines.kernels`` (another guards the budget's bookkeeping, so that
a small fill never waits for numba's import), and the kernel module is
published (``_kernels_module``) only once its import has finished:
``sys.modules`` holds a module from the moment its import *starts*, so
reading it there would hand other threads a half-initialized module without
its kernels.  Compiling a kernel is serialized by numba
itself (its global compiler lock; a second thread finds the first one's
result and does not compile again).
"""

from __future__ import annotations

import os
import threading
from types import ModuleType
from typing import Callable, Optional, Tuple

import numpy as np

from .._format.tables import DEFAULT_STREAM_FORMAT, FORMATS
from .kernel_set import kernel_name, kernel_specs

__all__ = ["NUMPY_MAX_BYTES", "ENVIRONMENT_VARIABLE", "numpy_max_bytes", "select", "kernel",
           "is_loaded", "load"]

NUMPY_MAX_BYTES = 32 << 20
"""Bytes a process fills through the NumPy path before it loads the kernels."""

ENVIRONMENT_VARIABLE = "FASTGLOROT_NUMPY_MAX_BYTES"

_numpy_bytes = 0
"""Bytes this process has filled through the NumPy path (under ``_budget_lock``)."""

_budget_lock = threading.Lock()
"""Guards ``_numpy_bytes``."""

_import_lock = threading.Lock()
"""Held by the one thread that imports ``_engines.kernels``; the others wait for it."""

_kernels_module: Optional[ModuleType] = None
"""``fastglorot._engines.kernels`` once its import has completed (set under ``_import_lock``)."""

Fill = Callable[..., None]


def numpy_max_bytes() -> int:
    """The NumPy path's budget: ``FASTGLOROT_NUMPY_MAX_BYTES`` (bytes; 0 = kernels only) or the default.

    Raises
    ------
    ValueError
        The variable is set to something other than a non-negative integer.
    """
    text = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if not text:
        return NUMPY_MAX_BYTES
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"{ENVIRONMENT_VARIABLE}={text!r}: expected a non-negative number of bytes "
                         f"(0 uses the numba kernels for every fill; default {NUMPY_MAX_BYTES})")
    return value


def _kernels() -> ModuleType:
    """``fastglorot._engines.kernels``, imported (once, by one thread) on first use."""
    global _kernels_module
    if _kernels_module is None:
        with _import_lock:
            if _kernels_module is None:
                from . import kernels as _kernels

                _kernels_module = _kernels
    return _kernels_module


def kernel(name: str) -> Fill:
    """The numba kernel ``name`` (importing numba and the kernels on first use)."""
    fill: Fill = getattr(_kernels(), name)
    return fill


def is_loaded(name: str) -> bool:
    """Whether this process has a compiled (or cache-loaded) numba kernel ``name``.

    Never imports anything: False while the kernel module is not (completely) imported.
    """
    kernels = _kernels_module
    return kernels is not None and bool(getattr(kernels, name).signatures)


def _take_numpy_budget(nbytes: int, budget: int) -> bool:
    """Charge ``nbytes`` to the NumPy path if it stays within ``budget``; whether it did.

    Under the lock, so threads filling at once never overrun the budget
    together (an unlocked check-then-add let each of them pass the check).
    """
    global _numpy_bytes
    with _budget_lock:
        if _numpy_bytes + nbytes > budget:
            return False
        _numpy_bytes += nbytes
        return True


def select(name: str, nbytes: int, what: str) -> Tuple[Fill, bool]:
    """``(fill, parallel)`` for an output of ``nbytes``: see the module docstring.

    ``what`` names the kernel in the one-line notice printed before a
    compile (``_engines.jit.announce_compile``).
    """
    budget = numpy_max_bytes()
    if budget and not is_loaded(name) and _take_numpy_budget(nbytes, budget):
        from . import numpy_kernels as _numpy_kernels  # builds its element copies on import: only when used

        twin: Fill = getattr(_numpy_kernels, name)
        return twin, False
    fill = kernel(name)
    from .jit import announce_compile  # imports numba

    announce_compile(fill, what)
    return fill, True


def load(distribution: str, fmt: str, stream_format: int = DEFAULT_STREAM_FORMAT) -> None:
    """Load (or compile) the numba kernel of ``distribution`` x ``fmt`` (``"bits"``, ``"uint32"`` for raw
    words) in ``stream_format`` for the one signature fills call it with, without filling anything."""
    name = kernel_name(distribution, fmt, stream_format)
    fill = kernel(name)
    if fill.signatures:  # type: ignore[attr-defined]
        return
    # What every fill passes: a 2-D C-contiguous out, int64 firsts, the uint32 key/stream words, the
    # parameters (the kernel's count, the draw dtype's or float64; uint32 for raw words), kernel_args.
    spec = next(spec for spec in kernel_specs() if spec.name == name)
    if distribution == "bits":
        out, params, extra = np.empty((1, 0), np.uint32), np.zeros(spec.param_count, np.uint32), ()
    else:
        output = FORMATS[fmt]
        out, extra = np.empty((1, 0), output.bits_dtype), output.kernel_args
        params = np.zeros(spec.param_count, output.draw_dtype if spec.params_in_draw_dtype else np.float64)
    fill(out, np.zeros(1, np.int64), np.zeros(4, np.uint32), params, *extra)
