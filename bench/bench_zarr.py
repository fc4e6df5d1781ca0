"""Out of core: a weight larger than RAM written to zarr through fastglorot.dask.

Writes ``fastglorot.dask.glorot_normal(shape, chunks=...)`` (default
131072 x 65536 float32 = 32 GiB, more than the 24 GiB machine's memory) to an
uncompressed zarr store, and, in the same run, ``dask.array.zeros`` of the
same shape and chunks to another store: the cost of the storage path alone.
Each write runs in its own fresh process (threaded scheduler, all cores) so
that its peak resident memory (VmHWM) is its own; stores are deleted after
each write.  Reports seconds, GB/s and peak RSS, the ratio of the two
rates, and checks a few chunks of the written weight against the in-memory
``fastglorot.glorot_normal`` block (global_shape / global_offset).

Targets (from the blocks issue): peak RSS under 2 GiB, reported as met or
missed (an exit status of 1 for a miss only with ``--check``; a failed
child process is an error either way); the GB/s is reported against the
zeros write.

Run:  python bench/bench_zarr.py [--rows 131072] [--cols 65536] [--chunk-rows 2048]
                                 [--chunk-cols 8192] [--dir PATH] [--check] [--json PATH]
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import _common

WRITER = r'''
import json, sys, time
import numpy as np
import dask, dask.array as da
import fastglorot.dask

kind, path, rows, cols, chunk_rows, chunk_cols = sys.argv[1:]
shape, chunks = (int(rows), int(cols)), (int(chunk_rows), int(chunk_cols))
if kind == "fastglorot":
    array = fastglorot.dask.glorot_normal(shape, chunks=chunks, seed=2024, stream="w", dtype="float32")
else:
    array = da.zeros(shape, chunks=chunks, dtype="float32")
start = time.perf_counter()
with dask.config.set(scheduler="threads"):
    da.to_zarr(array, path, compressors=None, overwrite=True)
seconds = time.perf_counter() - start
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
print(json.dumps({"seconds": seconds, "vmhwm_kib": int(status["VmHWM"].split()[0])}))
'''

CHECKER = r'''
import sys, numpy as np, zarr, fastglorot
path, rows, cols, chunk_rows, chunk_cols = sys.argv[1:]
shape = (int(rows), int(cols))
stored = zarr.open_array(path, mode="r")
assert stored.shape == shape and stored.dtype == np.float32
rng = np.random.default_rng(0)
for _ in range(4):
    r = int(rng.integers(0, shape[0] - 64)); c = int(rng.integers(0, shape[1] - 1000))
    block = fastglorot.glorot_normal((64, 1000), seed=2024, stream="w", global_shape=shape, global_offset=(r, c))
    assert np.array_equal(stored[r:r + 64, c:c + 1000], block), (r, c)
print("checked 4 random blocks against fastglorot.glorot_normal(global_shape=..., global_offset=...)")
'''


def run(code: str, *args: str) -> str:
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                            cwd=str(_common.ROOT))
    if result.returncode:
        raise SystemExit(f"subprocess failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout.strip()


def main() -> int:
    parser = _common.parser(__doc__)
    parser.add_argument("--rows", type=int, default=131072)
    parser.add_argument("--cols", type=int, default=65536)
    parser.add_argument("--chunk-rows", type=int, default=2048)
    parser.add_argument("--chunk-cols", type=int, default=8192)
    parser.add_argument("--dir", default=None, help="where the stores go (default: a temporary directory)")
    parser.add_argument("--check", action="store_true", help=_common.CHECK_HELP)
    args = parser.parse_args()
    env = _common.environment()
    sizes = [str(v) for v in (args.rows, args.cols, args.chunk_rows, args.chunk_cols)]
    nbytes = args.rows * args.cols * 4
    workdir = Path(tempfile.mkdtemp(prefix="fastglorot-zarr-", dir=args.dir))
    results = {"shape": [args.rows, args.cols], "chunks": [args.chunk_rows, args.chunk_cols],
               "nbytes": nbytes, "rows": []}
    try:
        for kind in ("fastglorot", "zeros"):
            store = str(workdir / f"{kind}.zarr")
            measured = json.loads(run(WRITER, kind, store, *sizes))
            measured.update(kind=kind, gb_per_s=nbytes / measured["seconds"] / 1e9,
                            peak_rss_mib=measured["vmhwm_kib"] / 1024)
            if kind == "fastglorot":
                measured["check"] = run(CHECKER, store, *sizes)
            results["rows"].append(measured)
            shutil.rmtree(store)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    _common.print_environment(env)
    table = [[r["kind"], r["seconds"], r["gb_per_s"], r["peak_rss_mib"]] for r in results["rows"]]
    _common.print_table(
        f"{args.rows}x{args.cols} float32 ({nbytes / _common.GiB:.1f} GiB) to uncompressed zarr, "
        f"chunks {args.chunk_rows}x{args.chunk_cols}, threaded scheduler",
        ["write", "s", "GB/s", "peak RSS MiB"], table)
    ours, zeros = results["rows"]
    results["x_zeros"] = ours["gb_per_s"] / zeros["gb_per_s"]
    print(f"\nfastglorot / zeros: {results['x_zeros']:.2f}x; {ours['check']}")
    ok = ours["peak_rss_mib"] < 2048
    status = _common.report_targets([(ok, f"peak RSS {ours['peak_rss_mib']:.0f} MiB (target < 2048 MiB)")], args.check)
    _common.write_json(args.json, results, env)
    return status


if __name__ == "__main__":
    sys.exit(main())
