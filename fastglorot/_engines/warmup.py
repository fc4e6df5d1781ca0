"""Compile every kernel ahead of time (``fastglorot warmup``), on all cores.

Each kernel compiles on first use, which takes seconds (numba typing and
LLVM), and is then cached on disk by numba, keyed by the CPU.  Docker images
and CI jobs can pay that once, at build time: :func:`warmup` compiles the
kernels of the requested distributions and dtypes in parallel processes
(numba compiles under the GIL, so threads would not help), each writing the
shared disk cache, then loads them into the calling process.

The cache lives in ``NUMBA_CACHE_DIR`` if set (and writable), else in the
per-user cache directory (``$XDG_CACHE_HOME/fastglorot`` or
``~/.cache/fastglorot`` on Linux; ``_engines.jit.cache_roots``), never inside the
installed package.  Warm it as the user, with the ``NUMBA_CACHE_DIR`` (and
on the kind of CPU) the application will run with.
"""

from __future__ import annotations

import os
import time
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

from .._format.tables import FORMATS, KERNEL_DISTRIBUTIONS, NAMES
from .dispatch import kernel, load
from .kernel_set import kernel_name

__all__ = ["warmup", "cache_problem", "WARMUP_DTYPES", "WARMUP_DISTRIBUTIONS"]

WARMUP_DTYPES = NAMES
WARMUP_DISTRIBUTIONS = KERNEL_DISTRIBUTIONS


def _jobs(distributions: Sequence[str], dtypes: Sequence[str]) -> Tuple[Tuple[str, str], ...]:
    """One job per kernel: float16 and bfloat16 share their 16-bit kernels."""
    seen, jobs = set(), []
    for distribution in distributions:
        for dtype in dtypes:
            kernel = (distribution, FORMATS[dtype].family)
            if kernel not in seen:
                seen.add(kernel)
                jobs.append((distribution, dtype))
    return tuple(jobs)


def _compile(job: Tuple[str, str]) -> float:
    """Seconds to load ``job``'s kernel in this process (compiling it when the disk cache has none).

    Runs in the compiler processes, and in the caller (which then loads from
    the cache).  No notice is printed: warmup reports the times itself.
    """
    distribution, dtype = job
    start = time.perf_counter()
    load(distribution, dtype)
    return time.perf_counter() - start


def _label(dtype: str) -> str:
    """The dtypes sharing ``dtype``'s kernel: ``"float16/bfloat16"`` for the 16-bit kernels."""
    family = FORMATS[dtype].family
    return "/".join(name for name, fmt in FORMATS.items() if fmt.family == family)


def warmup(dtypes: Sequence[str] = WARMUP_DTYPES, distributions: Sequence[str] = WARMUP_DISTRIBUTIONS,
           processes: Optional[int] = None) -> Dict[str, float]:
    """Compile and cache the kernels of ``distributions`` x ``dtypes``; return seconds per kernel.

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

    Returns
    -------
    dict
        ``"<distribution> <dtype>"`` -> seconds its compilation (or cache
        load) took, plus ``"total"``; float16 and bfloat16 share one kernel
        (``"... float16/bfloat16"``).

    Raises
    ------
    ValueError
        For an unknown dtype or distribution.

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
    """
    for dtype in dtypes:
        if dtype not in WARMUP_DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(WARMUP_DTYPES)}; got {dtype!r}")
    for distribution in distributions:
        if distribution not in WARMUP_DISTRIBUTIONS:
            raise ValueError(f"distribution must be one of {', '.join(WARMUP_DISTRIBUTIONS)}; got {distribution!r}")
    jobs = _jobs(distributions, dtypes)
    directory, problem = cache_problem(dtypes, distributions, compiled=False)
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
    result = {f"{distribution} {_label(dtype)}": seconds[distribution, dtype] for distribution, dtype in jobs}
    result["total"] = time.perf_counter() - start
    return result


def cache_problem(dtypes: Sequence[str] = WARMUP_DTYPES, distributions: Sequence[str] = WARMUP_DISTRIBUTIONS,
                  compiled: bool = True) -> Tuple[Optional[str], Optional[str]]:
    """Where the kernels of ``distributions`` x ``dtypes`` are cached, and what went wrong, if anything.

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

    dispatchers = [kernel(kernel_name(distribution, dtype)) for distribution, dtype in _jobs(distributions, dtypes)]
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
