"""Compile every kernel ahead of time (``fastglorot warmup``), on all cores.

Each kernel compiles on first use, which takes seconds (numba typing and
LLVM), and is then cached on disk by numba, keyed by the CPU.  Docker images
and CI jobs can pay that once, at build time: :func:`warmup` compiles the
kernels of the requested distributions and dtypes in parallel processes
(numba compiles under the GIL, so threads would not help), each writing the
shared disk cache, then loads them into the calling process.

Stream format 2 has its own kernels where its values differ from format 1's
(the float32 and 16-bit normal and truncated normal: ``fill_normal_float32_v2``,
``fill_normal_half_v2``, ``fill_truncated_normal_float32_v2``,
``fill_truncated_normal_half_v2``); elsewhere both formats run one kernel.
By default :func:`warmup` compiles the kernels of both formats, so that a
cache warmed by default serves code in either; ``stream_formats=[1]`` (or
``[2]``) compiles one format's only.

The cache lives in ``NUMBA_CACHE_DIR`` if set (and writable), else in the
per-user cache directory (``$XDG_CACHE_HOME/fastglorot`` or
``~/.cache/fastglorot`` on Linux; ``_engines.jit.cache_roots``), never inside the
installed package.  Warm it as the user, with the ``NUMBA_CACHE_DIR`` (and
on the kind of CPU) the application will run with.
"""

from __future__ import annotations

import numbers
import os
import time
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

from .._format.tables import FORMATS, KERNEL_DISTRIBUTIONS, NAMES, STREAM_FORMATS
from .dispatch import kernel, load
from .kernel_set import kernel_name

__all__ = ["warmup", "cache_problem", "WARMUP_DTYPES", "WARMUP_DISTRIBUTIONS", "WARMUP_STREAM_FORMATS"]

WARMUP_DTYPES = NAMES
WARMUP_DISTRIBUTIONS = KERNEL_DISTRIBUTIONS
WARMUP_STREAM_FORMATS = STREAM_FORMATS

Job = Tuple[str, str, int]
"""``(distribution, dtype, stream format)`` of one kernel."""


def _jobs(distributions: Sequence[str], dtypes: Sequence[str],
          stream_formats: Sequence[int] = WARMUP_STREAM_FORMATS) -> Tuple[Job, ...]:
    """One job per kernel: float16 and bfloat16 share their 16-bit kernels, and the formats share every kernel
    but format 2's own (its name ends in ``_v2``)."""
    seen, jobs = set(), []
    for stream_format in stream_formats:
        for distribution in distributions:
            for dtype in dtypes:
                name = kernel_name(distribution, dtype, stream_format)
                if name not in seen:
                    seen.add(name)
                    jobs.append((distribution, dtype, stream_format))
    return tuple(jobs)


def _compile(job: Job) -> float:
    """Seconds to load ``job``'s kernel in this process (compiling it when the disk cache has none).

    Runs in the compiler processes, and in the caller (which then loads from
    the cache).  No notice is printed: warmup reports the times itself.
    """
    distribution, dtype, stream_format = job
    start = time.perf_counter()
    load(distribution, dtype, stream_format)
    return time.perf_counter() - start


def _label(job: Job) -> str:
    """``"<distribution> <dtypes>"``, with the dtypes sharing the kernel (``"float16/bfloat16"`` for the 16-bit
    kernels) and `` v2`` for format 2's own kernels."""
    distribution, dtype, stream_format = job
    family = FORMATS[dtype].family
    dtypes = "/".join(name for name, fmt in FORMATS.items() if fmt.family == family)
    own = kernel_name(distribution, dtype, stream_format) != kernel_name(distribution, dtype)
    return f"{distribution} {dtypes}" + (f" v{stream_format}" if own else "")


def _checked_formats(stream_formats: Sequence[int]) -> List[int]:
    """``stream_formats`` checked (1 or 2 each), in the caller's order; a clear error names the argument.

    (The engines sit below ``_api``, whose ``resolve_stream_format`` says the same for one format.)
    """
    choices = " or ".join(map(str, STREAM_FORMATS))
    if isinstance(stream_formats, (int, str)) or not stream_formats:
        raise ValueError(f"stream_formats must be a non-empty sequence of stream formats ({choices}); got "
                         f"{stream_formats!r}")
    for value in stream_formats:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"stream_formats entries must be {choices} (an int), got {value!r}")
        if int(value) not in STREAM_FORMATS:
            raise ValueError(f"stream_formats entries must be {choices}, got {value}: stream format {value} does "
                             f"not exist (README \"Stream format\")")
    return [int(value) for value in stream_formats]


def warmup(dtypes: Sequence[str] = WARMUP_DTYPES, distributions: Sequence[str] = WARMUP_DISTRIBUTIONS,
           processes: Optional[int] = None, *, stream_formats: Sequence[int] = WARMUP_STREAM_FORMATS
           ) -> Dict[str, float]:
    """Compile and cache the kernels of ``distributions`` x ``dtypes`` x ``stream_formats``; return seconds per
    kernel.

    Parameters
    ----------
    dtypes : sequence of str, default all four
        Any of ``"float32"``, ``"float64"``, ``"float16"``, ``"bfloat16"``.
    distributions : sequence of str, default all three
        Any of ``"uniform"``, ``"normal"``, ``"truncated_normal"`` (the
        initializers use these kernels too).
    processes : int, optional
        Parallel compiler processes (default: the CPU count, at most one per
        kernel); 1 compiles in this process only.
    stream_formats : sequence of int, default (1, 2)
        The stream formats whose kernels to compile.  Format 2 adds its own
        float32 and 16-bit normal and truncated-normal kernels; its uniform
        and float64 fills run format 1's kernels.  The default compiles
        both, so that the cache serves code in either format.

    Returns
    -------
    dict
        ``"<distribution> <dtype>"`` -> seconds its compilation (or cache
        load) took, plus ``"total"``; float16 and bfloat16 share one kernel
        (``"... float16/bfloat16"``), and format 2's own kernels end in
        ``" v2"`` (``"normal float32 v2"``).

    Raises
    ------
    ValueError
        For an unknown dtype, distribution or stream format (TypeError for
        a stream format that is not an int).

    Warns
    -----
    UserWarning
        numba cannot write its disk cache where asked (:func:`cache_problem`);
        with no writable location at all, the kernels are compiled for this
        process only.

    Examples
    --------
    >>> import fastglorot
    >>> times = fastglorot.warmup(dtypes=["float32"], distributions=["uniform"], processes=1)
    >>> sorted(times)
    ['total', 'uniform float32']
    >>> sorted(fastglorot.warmup(["float32"], ["normal"], processes=1, stream_formats=[2]))
    ['normal float32 v2', 'total']
    """
    for dtype in dtypes:
        if dtype not in WARMUP_DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(WARMUP_DTYPES)}; got {dtype!r}")
    for distribution in distributions:
        if distribution not in WARMUP_DISTRIBUTIONS:
            raise ValueError(f"distribution must be one of {', '.join(WARMUP_DISTRIBUTIONS)}; got {distribution!r}")
    formats = _checked_formats(stream_formats)
    jobs = _jobs(distributions, dtypes, formats)
    directory, problem = cache_problem(dtypes, distributions, compiled=False, stream_formats=formats)
    if problem:
        warnings.warn(problem, UserWarning, stacklevel=2)
    # Without a disk cache, compiler processes would compile for nothing: compile here only.
    workers = min(len(jobs), processes or os.cpu_count() or 1) if directory is not None else 1
    start = time.perf_counter()
    if workers > 1:
        # Fresh interpreters (spawn) compile in parallel and write the disk
        # cache; this process then loads each kernel from it.
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            seconds = dict(zip(jobs, pool.map(_compile, jobs)))
        for job in jobs:
            _compile(job)
    else:
        seconds = {job: _compile(job) for job in jobs}
    result = {_label(job): seconds[job] for job in jobs}
    result["total"] = time.perf_counter() - start
    return result


def cache_problem(dtypes: Sequence[str] = WARMUP_DTYPES, distributions: Sequence[str] = WARMUP_DISTRIBUTIONS,
                  compiled: bool = True, stream_formats: Sequence[int] = WARMUP_STREAM_FORMATS
                  ) -> Tuple[Optional[str], Optional[str]]:
    """Where the kernels of ``distributions`` x ``dtypes`` x ``stream_formats`` are cached, and what went wrong,
    if anything.

    Returns ``(directory, problem)``: ``directory`` holds the cache (None
    when numba can write none), and ``problem`` is None when the kernels are
    (or, before :func:`warmup`, will be) on disk where they were asked to
    be, else a sentence for the user: no writable cache location at all, a
    ``NUMBA_CACHE_DIR`` that numba passed over for another directory because
    it cannot write there, or (with ``compiled``, after :func:`warmup`) a
    kernel missing from the cache.  The location is known before anything
    compiles, so ``fastglorot warmup`` checks it first.
    """
    from .jit import cache_directory, cache_roots, cached_on_disk  # imports numba

    dispatchers = [kernel(kernel_name(*job)) for job in _jobs(distributions, dtypes, stream_formats)]
    directories = {cache_directory(d) for d in dispatchers}
    directory = next(iter(directories)) if len(directories) == 1 else None
    requested = os.environ.get("NUMBA_CACHE_DIR", "").strip()
    if None in directories:
        roots = [what for _, what in cache_roots()]
        if not roots:
            where = "no NUMBA_CACHE_DIR, and no user cache directory without a home directory"
        elif len(roots) == 1:
            where = f"{roots[0]} is not a writable directory"
        else:
            where = f"neither {roots[0]} nor {roots[1]} is a writable directory"
        return None, (f"numba cannot write its disk cache ({where}): the kernels were compiled in memory only and "
                      "every new process compiles them again; set NUMBA_CACHE_DIR to a writable directory")
    problems: List[str] = []
    if requested and directory is not None and not _inside(directory, requested):
        problems.append(f"NUMBA_CACHE_DIR={requested} is not a writable directory: numba passes it over and "
                        f"caches in {directory} instead; set NUMBA_CACHE_DIR to a writable directory, or unset it")
    missing = [d.__name__ for d in dispatchers if compiled and not cached_on_disk(d)]
    if missing:
        problems.append(f"numba did not write {', '.join(missing)} to its cache in {directory}")
    return directory, "; ".join(problems) or None


def _inside(path: str, directory: str) -> bool:
    """Whether ``path`` is ``directory`` or lies under it (after resolving links)."""
    path, directory = os.path.realpath(path), os.path.realpath(directory)
    return os.path.commonpath([path, directory]) == directory
