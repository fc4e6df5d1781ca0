"""Writing a big checkpoint straight to disk: ``fastglorot init`` against ``dd conv=fsync`` and zeros, same disk.

Each write is a whole fresh process, timed from launch to exit (its peak RSS
from ``ru_maxrss``), into ``--dir`` (default: a temporary directory on the
disk holding this checkout), and is deleted (then ``sync``) before the next:

* **fastglorot**: a safetensors file of ``--size`` (default 8 GiB) from a
  Llama-style spec (``--dtype`` matrices, default bfloat16,
  ``--matrix-init``, default ``normal`` std 0.02; norm weights ``ones``;
  layers added until the size is reached), through ``write_checkpoint``:
  unnamed file, slabs filled and written double-buffered with write-behind
  (each slab's writeback started at once, pages 64 MiB behind waited for and
  dropped), fsync, link.
* **dd**: ``dd if=/dev/zero bs=8M count=N conv=fsync`` of the same bytes:
  the issue's yardstick.
* **zeros**: the same bytes of zeros written by Python with 8 MiB positional
  writes from one reused buffer, then fsync (the pace of this access
  pattern without write-behind).

Targets: peak RSS under 512 MiB, and fastglorot's time at most 1/0.8 of dd's
(``dd / fastglorot >= 0.8``), ratios per round, medians; reported as met or
missed, and an exit status of 1 for a missed one only with ``--check`` (a
failed write is an error: status 1 either way).  The three writes alternate
for ``--repeats`` rounds (default 3), the order rotating each round.

Run:  python bench/bench_checkpoint.py [--size 8GiB] [--dtype bfloat16] [--matrix-init normal] [--repeats 3]
      [--dir DIR] [--check] [--json PATH]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

import _common

from fastglorot._cli import parse_size
from fastglorot.benchmarks.measure import median

RSS_TARGET_MIB = 512
RATIO_TARGET = 0.8

FASTGLOROT = r"""
import json, resource, sys, time
import fastglorot.io as io
path, size, dtype, matrix_init = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
hidden, intermediate, vocab = 4096, 11008, 32000
itemsize = 2 if dtype in ("bfloat16", "float16") else 4
layer_bytes = itemsize * (4 * hidden * hidden + 3 * hidden * intermediate + 2 * hidden)
layers = max(1, round((size - 2 * itemsize * vocab * hidden) / layer_bytes))
spec = io.llama_spec(hidden=hidden, intermediate=intermediate, layers=layers, vocab=vocab, dtype=dtype)
if matrix_init != "normal":
    spec = {name: ({"shape": e["shape"], "dtype": dtype, "init": matrix_init} if e["init"] == "normal" else e)
            for name, e in spec.items()}
io.write_checkpoint(path + ".warm.safetensors", {"w": {"shape": [64, 64], "init": "normal"}}, seed=1)  # compile
start = time.perf_counter()
io.write_checkpoint(path, spec, seed=1)
seconds = time.perf_counter() - start
nbytes = sum(s.nbytes for s in io.load_spec(spec))
print(json.dumps({"seconds": seconds, "nbytes": nbytes, "file_bytes": __import__("os").path.getsize(path),
                  "tensors": len(spec), "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

ZEROS = r"""
import json, os, resource, sys, time
path, size = sys.argv[1], int(sys.argv[2])
slab = memoryview(bytearray(8 << 20))
start = time.perf_counter()
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
position = 0
while position < size:
    chunk = slab[: min(len(slab), size - position)]
    while len(chunk):
        written = os.pwrite(fd, chunk, position)
        chunk, position = chunk[written:], position + written
os.fsync(fd)
os.close(fd)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "nbytes": size, "file_bytes": size,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(code: str, path: Path, size: int, *extra: str) -> Dict[str, Any]:
    """One write in a fresh process: its JSON line, plus ``wall`` (launch to exit)."""
    env = dict(os.environ, FASTGLOROT_QUIET="1", PYTHONPATH=str(_common.ROOT))
    try:
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-c", code, str(path), str(size), *extra], env=env,
                                capture_output=True, text=True, timeout=3600, check=True)
        wall = time.perf_counter() - start
        return dict(json.loads(result.stdout.strip().splitlines()[-1]), wall=wall)
    finally:
        for leftover in path.parent.glob(path.name + "*"):
            leftover.unlink()
        os.sync()


def run_dd(path: Path, size: int) -> Dict[str, Any]:
    """``dd if=/dev/zero bs=8M conv=fsync`` of ``size`` bytes (rounded down to 8 MiB blocks, plus the rest)."""
    try:
        start = time.perf_counter()
        subprocess.run(["dd", "if=/dev/zero", f"of={path}", f"bs={8 << 20}", f"count={size // (8 << 20)}",
                        "conv=fsync", "status=none"], check=True, timeout=3600)
        wall = time.perf_counter() - start
        return {"seconds": wall, "wall": wall, "nbytes": size // (8 << 20) * (8 << 20),
                "file_bytes": os.path.getsize(path), "peak_rss_mib": 0.0}
    finally:
        path.unlink(missing_ok=True)
        os.sync()


def main() -> int:
    parser = _common.parser(__doc__)
    parser.add_argument("--size", type=parse_size, default=8 << 30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    parser.add_argument("--matrix-init", default="normal", help="init of the matrices (default normal, std 0.02)")
    parser.add_argument("--dir", help="where to write (default: a temporary directory beside this checkout)")
    parser.add_argument("--check", action="store_true", help=_common.CHECK_HELP)
    args = parser.parse_args()
    env = _common.environment()
    names = ["fastglorot", "dd", "zeros"]
    runs: Dict[str, List[Dict[str, Any]]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(dir=args.dir or _common.ROOT.parent, prefix="fastglorot-bench-") as scratch:
        target = Path(scratch) / "model.safetensors"
        run(FASTGLOROT, target, 64 << 20, args.dtype, args.matrix_init)  # unmeasured: kernels, module files
        size = 0
        for round_ in range(args.repeats):
            order = names[round_ % 3:] + names[: round_ % 3]
            for name in order:
                if name == "fastglorot":
                    runs[name].append(run(FASTGLOROT, target, args.size, args.dtype, args.matrix_init))
                    size = runs[name][-1]["file_bytes"]  # the same bytes, header included
                elif name == "dd":
                    runs[name].append(run_dd(target, size or args.size))
                else:
                    runs[name].append(run(ZEROS, target, size or args.size))
                print(f"round {round_ + 1}: {name} {runs[name][-1]['wall']:.2f} s", file=sys.stderr, flush=True)
    _common.print_environment(env)
    rows = []
    summary: Dict[str, Any] = {}
    for name, rs in runs.items():
        wall = median([r["wall"] for r in rs])
        nbytes = rs[0]["file_bytes"]
        summary[name] = {"median_wall_s": wall, "gbps": _common.gbps(nbytes, wall), "file_bytes": nbytes,
                         "peak_rss_mib": max(r["peak_rss_mib"] for r in rs), "samples": rs}
        rows.append([name, wall, summary[name]["gbps"], nbytes / _common.GiB, summary[name]["peak_rss_mib"]])
    _common.print_table(f"Checkpoint to disk ({args.dtype} matrices, {args.matrix_init}), whole processes, median "
                        f"of {args.repeats} rounds (each write ends with fsync)",
                        ["write", "wall s", "GB/s", "GiB", "peak RSS (MiB)"], rows)
    per_round = [d["wall"] / f["wall"] for d, f in zip(runs["dd"], runs["fastglorot"])]
    ratio = median(per_round)
    rss = summary["fastglorot"]["peak_rss_mib"]
    print(f"\ndd time / fastglorot time per round: {', '.join(f'{r:.2f}' for r in per_round)}")
    status = _common.report_targets([
        (rss < RSS_TARGET_MIB, f"peak RSS {rss:.0f} MiB (target < {RSS_TARGET_MIB})"),
        (ratio >= RATIO_TARGET, f"{ratio:.2f}x dd conv=fsync's speed, median of per-round ratios "
                                f"(target >= {RATIO_TARGET})")], args.check)
    _common.write_json(args.json, {"runs": summary, "ratio_dd": ratio, "per_round": per_round,
                                   "tensors": runs["fastglorot"][0]["tensors"], "dtype": args.dtype,
                                   "matrix_init": args.matrix_init}, env)
    return status


if __name__ == "__main__":
    sys.exit(main())
