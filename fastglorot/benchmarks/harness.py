"""``fastglorot bench``: every available implementation on one big layer, side by side.

All implementations fill the same pre-touched buffer, interleaved round-robin
in one process, and are reported by median: GB/s, the ratio to a parallel
constant fill of the same buffer ("memset"), and fastglorot's speed-up over
each.  Then, unless ``--quick``: thread scaling of fastglorot on the same
buffer, the peak memory of an allocating ``glorot_uniform`` of the same layer
shape and dtype against its output, and cold start (first-ever compile;
import + first fill of a small 256x256 float32 array with a warm cache), the
last two in fresh processes.  fastglorot fills in the stream format asked for
(``--stream-format``, default 1), everywhere: the comparison, thread scaling,
peak memory and cold start; the report's header and the JSON's
``stream_format`` say which.

Other work on the machine can halve every figure without changing how they
look, so the main measurement also times the memset at one thread (hidden
from the results) and counts the CPU time other processes take meanwhile;
when ``contention.busy_report`` finds the machine busy, the report says so
after its tables and the JSON's ``busy`` says why.

The layer is ``peers.layer_shape(size // itemsize)``: square when that is a
perfect square, else whole rows of ``peers.LAYER_COLUMNS`` elements.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Protocol, Sequence, Tuple

import numba
import numpy as np

from .._api.buffers import allocate
from .._api.stream_format import resolve_stream_format
from .._format.tables import DEFAULT_STREAM_FORMAT, format_of
from . import contention
from .measure import at_threads, format_table, interleaved_times, machine, machine_line, median, memset_, run_python
from .peers import DISTS, PEERS, glorot_scale, layer_shape

__all__ = ["run_bench", "layer_for"]

MEMORY_TARGET_SLACK = 64 << 20

_PEAK_MEMORY_CODE = """
# run with "shape, dtype, stream_format = ..." prepended (see _peak_memory)
import json, resource
import fastglorot
from fastglorot._engines import dispatch as _engines
_engines.load("uniform", dtype, stream_format)  # load or compile the kernel first: not part of the peak

def rss(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith(field))

with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # reset the peak (VmHWM) to the current RSS
before = rss("VmRSS:")
weights = fastglorot.glorot_uniform(shape, dtype=dtype, seed=1, stream_format=stream_format)
print(json.dumps({"before": before, "peak": rss("VmHWM:"), "output": weights.nbytes}))
"""

_COLD_START_CODE = """
# run with "stream_format = ..." prepended (see _cold_start)
import json, time
start = time.perf_counter()
import numpy as np
import fastglorot
imported = time.perf_counter()
fastglorot.glorot_uniform_(np.empty((256, 256), np.float32), seed=1, stream_format=stream_format)
uniform = time.perf_counter()
fastglorot.glorot_normal_(np.empty((256, 256), np.float32), seed=1, stream_format=stream_format)
normal = time.perf_counter()
print(json.dumps({"import": imported - start, "first uniform": uniform - imported,
                  "first normal": normal - uniform}))
"""


class _ProgressBar(Protocol):
    """The part of a ``tqdm`` bar the benchmark uses."""

    def update(self, n: float = 1) -> object: ...

    def close(self) -> None: ...


def _progress(total: int, description: str) -> Optional[_ProgressBar]:
    try:
        from tqdm import tqdm
    except ImportError:  # progress is a nicety; never fail a benchmark over it
        return None
    # disable=None: no bar when stderr is not a terminal (CI logs)
    bar: _ProgressBar = tqdm(total=total, desc=description, unit="fill", leave=False, file=sys.stderr, disable=None)
    return bar


_MEMSET_ONE = "memset at 1 thread"
"""A hidden contender: the memset at one thread, for the busy check's thread scaling (not in the results)."""


def _measure_layer(out: np.ndarray, dists: Sequence[str], threads: int, repeats: int,
                   peers: Sequence[str], stream_format: int = DEFAULT_STREAM_FORMAT
                   ) -> Tuple[List[Dict[str, Any]], Dict[str, Any]]:
    """The results rows, and :func:`contention.busy_report` over the timed runs."""
    results = []
    probe = threads > 1 and "memset" in peers
    bar = _progress(len(dists) * (len(peers) + probe) * (repeats + 1), "bench")
    tick = bar.update if bar is not None else None
    samples: Dict[Tuple[str, str], List[float]] = {}
    before = contention.cpu_snapshot()
    try:
        for dist in dists:
            actions = {name: PEERS[name].fill_in(out, dist, threads, stream_format) for name in peers}
            if probe:
                actions[_MEMSET_ONE] = at_threads(1, PEERS["memset"].make(out, dist, 1))
            for action in actions.values():  # warm-up: compile, thread pools, page state
                action()
                if tick:
                    tick()
            times = interleaved_times(actions, repeats, tick)
            for name, seconds in times.items():
                samples[dist, name] = seconds
                if name != _MEMSET_ONE:
                    results.append({"impl": name, "dist": dist, "seconds": median(seconds),
                                    "gbps": out.nbytes / median(seconds) / 1e9})
    finally:
        if bar is not None:
            bar.close()
    cpu = contention.other_cpu_use(before, contention.cpu_snapshot())

    def pooled(name: str) -> List[float]:
        return [t for dist in dists for t in samples.get((dist, name), [])]

    busy = contention.busy_report(threads, memset_all=pooled("memset"), memset_one=pooled(_MEMSET_ONE),
                                  samples={key: t for key, t in samples.items() if key[1] != _MEMSET_ONE}, cpu=cpu)
    return results, busy


def _thread_scaling(out: np.ndarray, threads: int, repeats: int, stream_format: int = DEFAULT_STREAM_FORMAT
                    ) -> List[Dict[str, Any]]:
    saved = numba.get_num_threads()
    rows = []
    try:
        for count in range(1, threads + 1):
            numba.set_num_threads(count)
            actions = {dist: PEERS["fastglorot"].fill_in(out, dist, count, stream_format) for dist in DISTS}
            actions["memset"] = PEERS["memset"].make(out, "uniform", count)
            times = interleaved_times(actions, repeats)
            rows.append({"threads": count, **{name: out.nbytes / median(t) / 1e9 for name, t in times.items()}})
    finally:
        numba.set_num_threads(saved)
    return rows


def _peak_memory(shape: Sequence[int], dtype: str, stream_format: int = DEFAULT_STREAM_FORMAT) -> Dict[str, Any]:
    facts: Dict[str, Any]
    code = f"shape, dtype, stream_format = {tuple(shape)!r}, {dtype!r}, {stream_format!r}" + _PEAK_MEMORY_CODE
    facts, _ = run_python(code)
    facts.update(shape=list(shape), dtype=dtype)
    facts["extra"] = facts["peak"] - facts["before"] - facts["output"]
    facts["within_target"] = facts["extra"] <= MEMORY_TARGET_SLACK
    return facts


def _cold_start(stream_format: int = DEFAULT_STREAM_FORMAT) -> Dict[str, Any]:
    """First fills in fresh processes: on the kernels (empty, then warm numba cache), and by default.

    The kernel runs set ``FASTGLOROT_NUMPY_MAX_BYTES=0``, so that the small
    fill compiles or loads its kernel; the default run takes the NumPy path
    that small fills use before numba is loaded.
    """
    code = f"stream_format = {stream_format!r}" + _COLD_START_CODE
    with tempfile.TemporaryDirectory(prefix="fastglorot-bench-cache-") as cache:
        kernels = {"NUMBA_CACHE_DIR": cache, "FASTGLOROT_NUMPY_MAX_BYTES": "0"}
        cold, cold_wall = run_python(code, env=kernels)
        warm, warm_wall = run_python(code, env=kernels)
        numpy_path, numpy_wall = run_python(code, env={"NUMBA_CACHE_DIR": cache, "FASTGLOROT_NUMPY_MAX_BYTES": ""})
    return {"cold": dict(cold, process=cold_wall), "warm": dict(warm, process=warm_wall),
            "numpy_path": dict(numpy_path, process=numpy_wall)}


def _report(results: List[Dict[str, Any]], dists: Sequence[str]) -> str:
    lines = []
    for dist in dists:
        rows = {r["impl"]: r for r in results if r["dist"] == dist}
        memset_speed = rows["memset"]["gbps"] if "memset" in rows else None
        ours = rows["fastglorot"]["gbps"]
        table = [[name, r["seconds"] * 1e3, r["gbps"],
                  r["gbps"] / memset_speed if memset_speed else None, ours / r["gbps"]]
                 for name, r in rows.items()]
        lines += [f"\nGlorot {dist}", format_table(["impl", "ms", "GB/s", "x memset", "fastglorot x"], table)]
        peers = [r for name, r in rows.items() if name not in ("fastglorot", "memset")]
        if peers:
            fastest = max(peers, key=lambda r: r["gbps"])
            lines.append(f"fastglorot is {ours / fastest['gbps']:.2f}x the fastest peer ({fastest['impl']})")
    return "\n".join(lines)


def _plot(path: str, results: List[Dict[str, Any]], dists: Sequence[str], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    impls = list(dict.fromkeys(r["impl"] for r in results))
    colors = {"fastglorot": "#d62728", "memset": "#7f7f7f"}
    figure, axes = plt.subplots(1, len(dists), figsize=(5.5 * len(dists), 4.2), squeeze=False)
    for axis, dist in zip(axes[0], dists):
        speed = {r["impl"]: r["gbps"] for r in results if r["dist"] == dist}
        names = [name for name in impls if name in speed]
        bars = axis.barh(names[::-1], [speed[n] for n in names[::-1]],
                         color=[colors.get(n, "#1f77b4") for n in names[::-1]])
        ours = speed["fastglorot"]
        axis.bar_label(bars, padding=3, labels=[
            f"{speed[n]:.2f}" + ("" if n in ("fastglorot", "memset") else f"  (fastglorot {ours / speed[n]:.1f}x)")
            for n in names[::-1]])
        axis.set_title(f"Glorot {dist}")
        axis.set_xlabel("GB/s (higher is better)")
        axis.set_xlim(0, max(speed.values()) * 1.35)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def layer_for(size: int, dtype: str) -> Tuple[int, int]:
    """The layer shape ``fastglorot bench`` fills for ``size`` bytes of ``dtype`` (see ``peers.layer_shape``)."""
    return layer_shape(size // np.dtype(allocate((1,), dtype).dtype).itemsize)


def _bytes(count: int) -> str:
    """``1.00 GiB``, ``4.00 MiB``, ``16.0 KiB``: binary units, as ``--size`` takes them."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if count >= 1 << shift:
            return f"{count / (1 << shift):.2f} {unit}"
    return f"{count} B"


def run_bench(size: int, dtype: str = "float32", dists: Sequence[str] = DISTS, threads: Optional[int] = None,
              repeats: int = 5, json_path: Optional[str] = None, plot_path: Optional[str] = None,
              quick: bool = False, stream_format: Optional[int] = None) -> int:
    """Run the benchmark, print the report, write JSON/plot; return the exit status.

    ``stream_format``: fastglorot's (None: the current one, resolved here).
    """
    fmt = resolve_stream_format(stream_format)
    # Kernels throughout, whatever the size: the NumPy path serves only a process's first small fills
    # (bench/bench_numpy_path.py measures it), and would otherwise time the first fills of a small --size.
    os.environ["FASTGLOROT_NUMPY_MAX_BYTES"] = "0"
    if threads is not None:
        # numba.config sets its settings through globals(), invisible to type checkers.
        max_threads: int = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
        if not 1 <= threads <= max_threads:
            raise SystemExit(f"--threads must lie in [1, {max_threads}] (NUMBA_NUM_THREADS)")
        numba.set_num_threads(threads)
    threads = numba.get_num_threads()
    dtype = format_of(dtype)
    shape = layer_for(size, dtype)
    try:
        out = allocate(shape, dtype)
    except MemoryError:  # the CLI checked --size against the available memory; this is the last word
        raise SystemExit(f"fastglorot bench: error: cannot allocate the {_bytes(size)} layer {shape} of {dtype}: "
                         "not enough memory; use a smaller --size") from None
    memset_(out)  # first touch outside every timed region
    peers = [name for name, peer in PEERS.items() if peer.available()]
    missing = [f"{name} (needs {peer.module})" for name, peer in PEERS.items() if not peer.available()]

    facts = machine()
    print(machine_line(facts))
    print(f"# layer {out.shape} {dtype} = {_bytes(out.nbytes)}, {threads} threads, median of {repeats}; "
          f"Glorot bound {glorot_scale(out.shape, 'uniform'):.3g}, std {glorot_scale(out.shape, 'normal'):.3g}; "
          f"fastglorot in stream format {fmt}")
    if out.nbytes != size:
        print(f"# --size {size} bytes rounded down to whole layer rows: {out.nbytes} bytes")
    if missing:
        print("# skipped, not installed: " + ", ".join(missing))
    results, busy = _measure_layer(out, dists, threads, repeats, peers, fmt)
    print(_report(results, dists))
    warning = contention.busy_text(busy)
    if warning:
        print("\n" + warning)
    report: Dict[str, Any] = {"machine": facts, "size_bytes": out.nbytes, "dtype": dtype, "threads": threads,
                              "shape": list(out.shape), "repeats": repeats, "stream_format": fmt,
                              "results": results, "skipped": missing, "busy": busy}
    if not quick:
        scaling = _thread_scaling(out, threads, max(3, repeats // 2), fmt)
        print("\nThread scaling (fastglorot, GB/s)")
        print(format_table(["threads"] + [k for k in scaling[0] if k != "threads"],
                           [list(row.values()) for row in scaling]))
        del out  # the fresh process allocates its own layer: one layer in memory at a time, not two
        memory = _peak_memory(shape, dtype, fmt)
        print(f"\nPeak memory of glorot_uniform({shape}, dtype={dtype!r}), in a fresh process: "
              f"{memory['extra'] / 2**20:+.1f} MiB beyond its {_bytes(memory['output'])} output "
              f"(target <= +{MEMORY_TARGET_SLACK >> 20} MiB: {'met' if memory['within_target'] else 'MISSED'})")
        cold = _cold_start(fmt)
        print(f"\nCold start (fresh processes, a 256x256 float32 fill): "
              f"first-ever compile {cold['cold']['first uniform']:.2f} s (uniform), "
              f"{cold['cold']['first normal']:.2f} s (normal); warm cache: import {cold['warm']['import']:.2f} s "
              f"+ first fill {cold['warm']['first uniform']:.2f} s; by default (NumPy path, no numba): import "
              f"{cold['numpy_path']['import']:.2f} s + first fill {cold['numpy_path']['first uniform']:.3f} s")
        report.update(thread_scaling=scaling, peak_memory=memory, cold_start=cold)
    status = 0
    # The CLI checked both paths before measuring; a write can still fail (a full disk): say so, keep going.
    if json_path:
        try:
            Path(json_path).write_text(json.dumps(report, indent=2) + "\n")
            print(f"\nwrote {json_path}")
        except BrokenPipeError:  # stdout's reader is gone (| head), not the file: the command exits quietly
            raise
        except OSError as error:
            print(f"fastglorot bench: error: cannot write --json {json_path}: {error.strerror or error}",
                  file=sys.stderr)
            status = 1
    if plot_path:
        title = (f"{facts['cpu']}, {threads} threads: {_bytes(report['size_bytes'])} {dtype} layer {shape}, "
                 f"stream format {fmt}")
        try:
            _plot(plot_path, results, dists, title)
            print(f"wrote {plot_path}")
        except BrokenPipeError:
            raise
        except OSError as error:
            print(f"fastglorot bench: error: cannot write --plot {plot_path}: {error.strerror or error}",
                  file=sys.stderr)
            status = 1
    return status
