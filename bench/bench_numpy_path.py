"""The NumPy path against the numba kernels: GB/s, and the kernel load it stands in for.

Small fills use NumPy twins of the kernels (``fastglorot._engines.numpy_kernels``,
the same bits) until a process has filled ``FASTGLOROT_NUMPY_MAX_BYTES``
through them (default 32 MiB), so that no small fill waits for numba.  This
script measures what that budget buys:

* **throughput**: for every distribution x dtype, one pre-touched buffer of
  ``--size-mib`` (default 8 MiB) filled by the NumPy path, by the kernel on
  one thread and by the kernel on all threads, interleaved round-robin,
  ``--repeats`` rounds (default 5), medians as GB/s;
* **kernel load**: fresh processes (``--loads``, default 5) that import
  fastglorot, then time ``import numba`` and the first kernel load from a
  warm disk cache (float32 uniform), and a second kernel (float32 normal);
* **break-even**: the bytes the NumPy path fills in the time of one warm
  load (numba import + first kernel), per distribution x dtype.  The
  default budget should sit within the range of these.

Run:  python bench/bench_numpy_path.py [--size-mib 8] [--repeats 5] [--loads 5] [--json PATH]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, Callable, Dict, List

import _common
import ml_dtypes
import numpy as np

import fastglorot
from fastglorot._engines import dispatch as _engines
from fastglorot.benchmarks.measure import interleaved_times, median

DTYPES = {"float32": np.float32, "float64": np.float64, "float16": np.float16, "bfloat16": ml_dtypes.bfloat16}
FILLS: Dict[str, Callable[[Any], Any]] = {
    "uniform": lambda out: fastglorot.uniform_(out, -0.1, 0.1, seed=1),
    "normal": lambda out: fastglorot.normal_(out, 0.0, 0.02, seed=1),
    "truncated": lambda out: fastglorot.trunc_normal_(out, 0.0, 0.02, -0.04, 0.04, seed=1),
}

LOAD = r"""
import json, time
import fastglorot
from fastglorot._engines import dispatch as _engines
t0 = time.perf_counter()
import numba
t1 = time.perf_counter()
_engines.load("uniform", "float32")
t2 = time.perf_counter()
_engines.load("normal", "float32")
t3 = time.perf_counter()
print(json.dumps({"import numba": t1 - t0, "first kernel": t2 - t1, "second kernel": t3 - t2}))
"""


def on_engine(which: str, fill: Callable[[Any], Any], out: Any, threads: int) -> Callable[[], None]:
    """``fill(out)`` on the NumPy path (as a fresh process would) or on the kernels at ``threads`` threads."""
    def run() -> None:
        saved = (_engines._numpy_bytes, _engines.is_loaded)
        if which == "numpy":
            os.environ[_engines.ENVIRONMENT_VARIABLE] = str(1 << 62)
            _engines._numpy_bytes, _engines.is_loaded = 0, lambda name: False  # type: ignore[assignment]
        else:
            os.environ[_engines.ENVIRONMENT_VARIABLE] = "0"
        try:
            fill(out)
        finally:
            _engines._numpy_bytes, _engines.is_loaded = saved  # type: ignore[assignment]

    return _common.at_threads(threads, run)


def main() -> int:
    parser = _common.parser(__doc__)
    parser.add_argument("--size-mib", type=float, default=8.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    env = _common.environment()
    _common.print_environment(env)
    import numba

    threads = numba.get_num_threads()
    nbytes = int(args.size_mib * _common.MiB)
    loads: List[Dict[str, float]] = []
    child_env = dict(os.environ, FASTGLOROT_QUIET="1", PYTHONPATH=str(_common.ROOT))
    subprocess.run([sys.executable, "-c", LOAD], env=child_env, check=True, capture_output=True)  # warm the cache
    for _ in range(args.loads):
        result = subprocess.run([sys.executable, "-c", LOAD], env=child_env, check=True, capture_output=True,
                                text=True)
        loads.append(json.loads(result.stdout))
    load = {key: median([row[key] for row in loads]) for key in loads[0]}
    warm_load = load["import numba"] + load["first kernel"]
    print(f"kernel load from a warm cache (medians of {args.loads} fresh processes): import numba "
          f"{load['import numba'] * 1e3:.0f} ms, first kernel {load['first kernel'] * 1e3:.0f} ms, "
          f"each further kernel {load['second kernel'] * 1e3:.1f} ms")
    rows = []
    print(f"\n{args.size_mib:g} MiB per fill, medians of {args.repeats} interleaved rounds (GB/s)")
    print(f"{'fill':<20}{'NumPy path':>12}{'kernel 1 thr':>14}{f'kernel {threads} thr':>14}{'break-even':>14}")
    for dtype, ftype in DTYPES.items():
        out = np.zeros(nbytes // np.dtype(ftype).itemsize, ftype)
        for name, fill in FILLS.items():
            on_engine("kernel", fill, out, threads)()  # kernel loaded (cache warm)
            timed = {which: on_engine(which, fill, out, t) for which, t in
                     (("numpy", 1), ("kernel1", 1), ("kernelN", threads))}
            times = interleaved_times(timed, args.repeats)
            gbps = {key: _common.gbps(out.nbytes, median(value)) for key, value in times.items()}
            even = gbps["numpy"] * 1e9 * warm_load
            rows.append({"dtype": dtype, "distribution": name, "gbps": gbps, "break_even_bytes": even})
            print(f"{dtype + ' ' + name:<20}{gbps['numpy']:>12.3f}{gbps['kernel1']:>14.2f}{gbps['kernelN']:>14.2f}"
                  f"{even / _common.MiB:>11.1f} MiB")
    evens = sorted(row["break_even_bytes"] for row in rows)
    print(f"\nbreak-even range {evens[0] / _common.MiB:.0f}-{evens[-1] / _common.MiB:.0f} MiB "
          f"(median {median(evens) / _common.MiB:.0f} MiB); default budget "
          f"{_engines.NUMPY_MAX_BYTES / _common.MiB:.0f} MiB")
    _common.write_json(args.json, {"load": load, "loads": loads, "rows": rows, "budget": _engines.NUMPY_MAX_BYTES},
                       env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
