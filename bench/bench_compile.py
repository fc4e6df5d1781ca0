"""Cold start: import time, first-call compilation, and start-up with a warm cache.

Everything runs in fresh subprocesses (``sys.executable -c ...``) sharing one
new, empty ``NUMBA_CACHE_DIR`` (a temporary directory, removed at the end):

(a)+(b) one cold process times ``import numpy``, ``import numba``,
        ``import fastglorot``, then the first-ever small fill of each kind in
        this order: uniform_ float32, normal_ float32, uniform_ float64,
        normal_ float64, random_bits, trunc_normal_ float32, float64 and
        float16; and, per kernel, numba's own compile timers: the whole
        compilation, its LLVM part, and the rest (numba's front end: IR
        inlining, type inference, lowering).  A kernel compiles on the first call
        that needs it (float32 uniform and normal share one kernel, as do the
        float64 ones), and the very first compilation also pays numba's own
        one-time start-up.
(c)     fresh processes with the now-warm cache time ``import fastglorot`` plus
        the first small uniform_ float32 fill; repeated (default 3 times),
        medians.  "process wall" is the whole subprocess as seen from outside,
        interpreter start-up included.  For reference, the same is timed for a
        trivial cached ``@numba.njit`` function: numba's own floor for loading
        a kernel from the cache.

Run:  python bench/bench_compile.py [--warm-repeats 3] [--elements 4096] [--json PATH]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import _common
from fastglorot.benchmarks.measure import median, run_python

COLD = """
import json, time
marks = [("start", time.perf_counter())]
def mark(name):
    marks.append((name, time.perf_counter()))
import numpy as np
mark("import numpy")
import numba
mark("import numba")
import fastglorot
mark("import fastglorot itself")
from fastglorot._engines import kernels as _kernels
n = {n}
fastglorot.uniform_(np.empty(n, np.float32), -1.0, 1.0, seed=1)
mark("first uniform_ float32")
fastglorot.normal_(np.empty(n, np.float32), seed=1)
mark("first normal_ float32")
fastglorot.uniform_(np.empty(n, np.float64), -1.0, 1.0, seed=1)
mark("first uniform_ float64")
fastglorot.normal_(np.empty(n, np.float64), seed=1)
mark("first normal_ float64")
fastglorot.random_bits(n, seed=1)
mark("first random_bits")
fastglorot.trunc_normal_(np.empty(n, np.float32), seed=1)
mark("first trunc_normal_ float32")
fastglorot.trunc_normal_(np.empty(n, np.float64), seed=1)
mark("first trunc_normal_ float64")
fastglorot.trunc_normal_(np.empty(n, np.float16), seed=1)
mark("first trunc_normal_ float16")
steps = {{b[0]: b[1] - a[1] for a, b in zip(marks, marks[1:])}}
names = ("fill_uniform_float32", "fill_normal_float32", "fill_uniform_float64", "fill_normal_float64", "fill_bits",
         "fill_truncated_normal_float32", "fill_truncated_normal_float64", "fill_truncated_normal_half")
kernels = {{k: getattr(_kernels, k).stats for k in names}}
cache = {{k: [sum(s.cache_hits.values()), sum(s.cache_misses.values())]
         for k, s in kernels.items()}}
# numba's own timers per compiled kernel: the whole compilation (compiler_lock)
# and its LLVM optimization and code generation (llvm_lock); the difference is
# numba's front end (IR inlining, type inference, lowering).
timers = {{k: list(getattr(_kernels, k).overloads.values())[0].metadata.get("timers", {{}}) for k in names}}
print(json.dumps({{"steps": steps, "cache_hits_misses": cache, "timers": timers}}))
"""

WARM = """
import time
start = time.perf_counter()
import fastglorot
imported = time.perf_counter()
import json
import numpy as np
from fastglorot._engines import kernels as _kernels
fastglorot.uniform_(np.empty({n}, np.float32), -1.0, 1.0, seed=1)
filled = time.perf_counter()
stats = _kernels.fill_uniform_float32.stats
print(json.dumps({{"import": imported - start, "first fill": filled - imported,
                  "cache_hits": sum(stats.cache_hits.values()),
                  "cache_misses": sum(stats.cache_misses.values())}}))
"""

TRIVIAL_MODULE = """
import numba

@numba.njit(cache=True, nogil=True)
def trivial(out, value):
    for i in range(out.size):
        out[i] = value
"""

TRIVIAL = """
import json, sys, time
sys.path.insert(0, {folder!r})
start = time.perf_counter()
import numpy as np
import bench_trivial
imported = time.perf_counter()
bench_trivial.trivial(np.empty({n}, np.float32), np.float32(0.5))
filled = time.perf_counter()
print(json.dumps({{"import": imported - start, "first fill": filled - imported}}))
"""


def run_child(code: str, cache_dir: str):
    """(parsed last stdout line, wall seconds) of ``code`` in a fresh interpreter."""
    try:
        # The kernels themselves: with the default budget the NumPy path serves these small first fills and no
        # kernel would be compiled or loaded at all.
        return run_python(code, env={"NUMBA_CACHE_DIR": cache_dir, "FASTGLOROT_NUMPY_MAX_BYTES": "0"})
    except RuntimeError as error:
        sys.exit(str(error))


def main() -> int:
    parser = _common.parser(__doc__)
    parser.add_argument("--warm-repeats", type=int, default=3, help="warm-cache runs (default 3)")
    parser.add_argument("--elements", type=int, default=4096, help="small fill size (default 4096)")
    args = parser.parse_args()
    env = _common.environment()

    with tempfile.TemporaryDirectory(prefix="fastglorot-numba-cache-") as cache_dir:
        cold, cold_wall = run_child(COLD.format(n=args.elements), cache_dir)
        cache_files = sorted(p.name for p in Path(cache_dir).rglob("*") if p.is_file())
        warm_code = WARM.format(n=args.elements)
        warm = [run_child(warm_code, cache_dir) for _ in range(args.warm_repeats)]
        folder = Path(cache_dir, "trivial")
        folder.mkdir()
        (folder / "bench_trivial.py").write_text(TRIVIAL_MODULE)
        trivial_code = TRIVIAL.format(folder=str(folder), n=args.elements)
        run_child(trivial_code, cache_dir)  # compile into the cache
        trivial = [run_child(trivial_code, cache_dir)[0] for _ in range(args.warm_repeats)]

    _common.print_environment(env)
    steps = cold["steps"]
    imports = sum(s for name, s in steps.items() if name.startswith("import"))
    rows = [[name, s * 1e3] for name, s in steps.items()]
    rows.insert(3, ["  = import fastglorot, total", imports * 1e3])
    rows.append(["process wall (from outside)", cold_wall * 1e3])
    _common.print_table(
        f"(a)+(b) cold process, empty NUMBA_CACHE_DIR, {args.elements}-element fills",
        ["step", "ms"], rows)
    print("cache hits/misses in the cold process: "
          + ", ".join(f"{k} {h}/{m}" for k, (h, m) in cold["cache_hits_misses"].items()))
    print(f"cache files written: {len(cache_files)}")
    rows = []
    for kernel, timer in cold["timers"].items():
        total, llvm = timer.get("compiler_lock", float("nan")), timer.get("llvm_lock", float("nan"))
        rows.append([kernel, total * 1e3, (total - llvm) * 1e3, llvm * 1e3])
    _common.print_table("where each kernel's compilation went (numba's timers; the first kernel also pays "
                        "numba's one-time set-up)", ["kernel", "compile ms", "numba front end ms", "LLVM ms"], rows)

    samples = {
        "import fastglorot": [w["import"] for w, _ in warm],
        "first uniform_ float32 fill": [w["first fill"] for w, _ in warm],
        "import + first fill": [w["import"] + w["first fill"] for w, _ in warm],
        "process wall (from outside)": [wall for _, wall in warm],
        "reference: import numpy, numba, trivial module": [t["import"] for t in trivial],
        "reference: first call of trivial cached @njit": [t["first fill"] for t in trivial],
    }
    rows = [[name, median(v) * 1e3, " ".join(f"{x * 1e3:.0f}" for x in v)]
            for name, v in samples.items()]
    _common.print_table(f"(c) warm cache, fresh process, median of {args.warm_repeats}",
                        ["step", "ms", "runs (ms)"], rows)
    hits = [(w["cache_hits"], w["cache_misses"]) for w, _ in warm]
    print("fill_uniform_float32 cache hits/misses per warm run: " + ", ".join(f"{h}/{m}" for h, m in hits))

    results = {"elements": args.elements, "cold": cold, "cold_process_wall_s": cold_wall,
               "cache_files": cache_files, "warm_runs": [dict(w, process_wall=t) for w, t in warm],
               "warm_median_s": {name: median(v) for name, v in samples.items()}}
    _common.write_json(args.json, results, env)
    if not all(m == 0 and h > 0 for h, m in hits):  # an error, not a speed target: the cache did not serve
        print("bench_compile: error: a warm-cache process compiled its kernel instead of loading it from the cache "
              "(hits/misses above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
