"""Measurement helpers shared by ``fastglorot bench`` and the scripts under ``bench/``."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from numpy.typing import NDArray

from .._engines.jit import kernel
from .._engines.launch import run_fill
from .._format.position import flat_runs

__all__ = ["memset_", "memset_kernel", "interleaved_times", "at_threads", "median", "machine", "machine_line",
           "format_table", "run_python", "vector_isa", "last_level_cache"]


@kernel
def memset_kernel(out: NDArray[np.generic], firsts: NDArray[np.int64], value: np.generic) -> None:
    """``out[:] = value`` on a 2-D C-contiguous block: the memset-class baseline.

    ``firsts`` is unused; it keeps the launcher's kernel signature
    (``run_fill`` calls ``kernel(rows, firsts, *args)``).
    """
    flat = out.reshape(out.size)
    for i in range(flat.size):
        flat[i] = value


def memset_(out: np.ndarray) -> np.ndarray:
    """Parallel constant fill of ``out`` on fastglorot's launcher.

    The bandwidth yardstick for fills: same threads, same chunking, the
    cheapest possible kernel.
    """
    target, value = out, np.array(0.5, dtype=out.dtype)
    if out.dtype.itemsize == 2:  # numba has no bfloat16: write the bits
        target, value = out.view(np.uint16), value.view(np.uint16)
    run_fill(memset_kernel, target, flat_runs(0), 1, (value[()],))
    return out


def interleaved_times(actions: Mapping[str, Callable[[], object]], repeats: int,
                      progress: Optional[Callable[[], object]] = None) -> Dict[str, List[float]]:
    """Seconds per call, running the actions round-robin ``repeats`` times.

    Interleaving spreads machine drift (other load, thermal, page cache)
    over every contender instead of penalizing whichever runs last.
    ``progress`` is called after each call.
    """
    times: Dict[str, List[float]] = {name: [] for name in actions}
    for _ in range(repeats):
        for name, action in actions.items():
            start = time.perf_counter()
            action()
            times[name].append(time.perf_counter() - start)
            if progress is not None:
                progress()
    return times


def at_threads(threads: int, action: Callable[[], object]) -> Callable[[], None]:
    """``action`` run with ``numba.set_num_threads(threads)``, the caller's count restored after.

    fastglorot's fills (and the memset) use ``numba.get_num_threads()`` of the calling thread.
    """
    import numba

    def run() -> None:
        saved = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            action()
        finally:
            numba.set_num_threads(saved)

    return run


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return "unknown"


# The vector ISA an LLVM CPU model implies by itself, for targets given by name
# only (NUMBA_CPU_NAME with an empty NUMBA_CPU_FEATURES, as "generic" is).
_MODEL_ISA = {
    "generic": "SSE2", "x86-64": "SSE2", "x86-64-v2": "SSE4.2", "x86-64-v3": "AVX2", "x86-64-v4": "AVX-512",
    "sandybridge": "AVX", "ivybridge": "AVX", "haswell": "AVX2", "broadwell": "AVX2", "skylake": "AVX2",
    "alderlake": "AVX2", "znver1": "AVX2", "znver2": "AVX2", "znver3": "AVX2", "skylake-avx512": "AVX-512",
    "cascadelake": "AVX-512", "cooperlake": "AVX-512", "icelake-server": "AVX-512", "icelake-client": "AVX-512",
    "tigerlake": "AVX-512", "sapphirerapids": "AVX-512", "emeraldrapids": "AVX-512", "graniterapids": "AVX-512",
    "znver4": "AVX-512", "znver5": "AVX-512",
}


def vector_isa() -> Dict[str, str]:
    """The x86 vector ISA numba compiles the kernels for, as numba's JIT target is configured.

    numba's JIT targets CPU model ``NUMBA_CPU_NAME`` (default: the host's)
    with feature string ``NUMBA_CPU_FEATURES`` (default: *the host's*
    features, also when ``NUMBA_CPU_NAME`` is set; ``generic`` alone implies
    an empty string).  So ``NUMBA_CPU_NAME=haswell`` on an AVX-512 host
    still enables AVX-512 features; to compile for AVX2 only there, also set
    ``NUMBA_CPU_FEATURES`` without ``+avx512f``.  The widest enabled feature
    names the ISA: ``AVX-512`` (``avx512f``), ``AVX2``, ``AVX``, ``SSE4.2``,
    else ``SSE2``; with an empty feature string, the CPU model's own
    (``_MODEL_ISA``).

    Returns
    -------
    dict
        ``isa``, ``cpu_name`` (the LLVM CPU model) and ``features`` (the
        enabled vector features, comma-separated).
    """
    import llvmlite.binding as llvm
    from numba.core import config

    # numba.config sets its settings through globals(), invisible to type checkers.
    named: Optional[str] = getattr(config, "CPU_NAME")
    given: Optional[str] = getattr(config, "CPU_FEATURES")
    cpu_name: str = named or llvm.get_host_cpu_name()
    features: str = given if given is not None else llvm.get_host_cpu_features().flatten()
    enabled = [f[1:] for f in features.split(",") if f.startswith("+")]
    vector = [f for f in enabled if f.startswith(("sse", "avx", "fma"))]
    if not features:
        isa = _MODEL_ISA.get(cpu_name, f"unknown (CPU model {cpu_name})")
    elif "avx512f" in enabled:
        isa = "AVX-512"
    elif "avx2" in enabled:
        isa = "AVX2"
    elif "avx" in enabled:
        isa = "AVX"
    elif "sse4.2" in enabled:
        isa = "SSE4.2"
    else:
        isa = "SSE2"
    return {"isa": isa, "cpu_name": cpu_name, "features": ",".join(sorted(vector))}


def _cache_bytes(text: str) -> Optional[int]:
    """``32768K`` / ``2M`` / ``1024`` (sysfs cache sizes) in bytes; None if unreadable."""
    text = text.strip()
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    try:
        if text[-1:].upper() in units:
            return int(text[:-1]) * units[text[-1].upper()]
        return int(text)
    except ValueError:
        return None


def last_level_cache(root: str = "/sys/devices/system/cpu") -> Optional[Dict[str, int]]:
    """The CPU's last-level cache as Linux reports it: ``{"level", "bytes", "instances"}``, or None.

    ``bytes`` is the size of one instance times the number of distinct
    instances (an L3 per socket or per core complex), the data a buffer
    must exceed before its fills stream from memory rather than from cache.
    Read from sysfs (``cpu*/cache/index*``); a virtual machine reports what
    its hypervisor tells it.
    """
    best: Dict[int, Dict[str, int]] = {}  # level -> shared_cpu_list -> size
    for index in Path(root).glob("cpu[0-9]*/cache/index[0-9]*"):
        if _read(str(index / "type")) == "Instruction":
            continue
        try:
            level = int(_read(str(index / "level")))
        except ValueError:
            continue
        size = _cache_bytes(_read(str(index / "size")))
        if size:
            best.setdefault(level, {})[_read(str(index / "shared_cpu_list"))] = size
    if not best:
        return None
    level = max(best)
    return {"level": level, "bytes": sum(best[level].values()), "instances": len(best[level])}


def machine() -> Dict[str, Any]:
    """Versions and machine facts recorded with every result (``isa``: :func:`vector_isa`)."""
    import numba

    return {
        "cpu": _cpu_model(),
        "isa": vector_isa(),
        "cpus": os.cpu_count(),
        "numba_threads": numba.get_num_threads(),
        "memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "platform": platform.platform(),
        "transparent_hugepage": _read("/sys/kernel/mm/transparent_hugepage/enabled"),
        "last_level_cache": last_level_cache(),
    }


def machine_line(facts: Mapping[str, Any]) -> str:
    isa = facts["isa"]
    return (f"# {facts['cpu']}, {facts['cpus']} CPUs, kernels compiled for {isa['isa']} "
            f"(LLVM CPU {isa['cpu_name']}), numba threads {facts['numba_threads']}; "
            f"python {facts['python']}, numpy {facts['numpy']}, numba {facts['numba']}; "
            f"THP {facts['transparent_hugepage']}")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join([row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]).rstrip()

    return "\n".join([line(cells[0]), "  ".join("-" * w for w in widths)] + [line(row) for row in cells[1:]])


def run_python(code: str, env: Optional[Mapping[str, str]] = None) -> Tuple[Any, float]:
    """(JSON of the last stdout line, wall seconds) of ``code`` in a fresh interpreter.

    The child imports the same fastglorot as this process.
    """
    child_env = dict(os.environ, **(env or {}))
    package_root = str(Path(__file__).resolve().parents[2])  # holds fastglorot/benchmarks/measure.py
    child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, child_env.get("PYTHONPATH")]))
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], env=child_env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"child process failed ({done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1]), wall
