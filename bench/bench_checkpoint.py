"""Writing a big checkpoint straight to disk: ``fastglorot.io.write_checkpoint`` against zeros, same disk, same run.

Each write runs in a fresh process (its peak RSS from ``ru_maxrss``) into
``--dir`` (default: a temporary directory on the disk holding this checkout),
and is deleted before the next one:

* **fastglorot**: a safetensors file of ``--size`` (default 32 GiB, more than
  this machine's 24 GiB of RAM) from a Llama-style spec (``--dtype``
  matrices, default bfloat16, ``--matrix-init``, default ``normal`` std 0.02;
  norm weights ``ones``; layers added until the size is reached), through
  ``write_checkpoint``: unnamed file, slabs filled and written
  double-buffered, fsync, link.
* **zeros**: the same number of bytes of zeros written with the same
  positional 8 MiB writes from one reused buffer, then fsync: the disk's
  pace for this access pattern, the target's yardstick.

Targets: peak RSS under 512 MiB, and fastglorot at least 0.8x the GB/s of
the zeros write.  The two writes alternate for ``--repeats`` rounds (default
1: each round writes 2 x 32 GiB); medians reported.

Run:  python bench/bench_checkpoint.py [--size 32GiB] [--dtype bfloat16] [--matrix-init normal] [--repeats 1]
      [--dir DIR] [--json PATH]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
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
    env = dict(os.environ, FASTGLOROT_QUIET="1", PYTHONPATH=str(_common.ROOT))
    try:
        result = subprocess.run([sys.executable, "-c", code, str(path), str(size), *extra], env=env,
                                capture_output=True, text=True, timeout=3600, check=True)
        return json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        for leftover in path.parent.glob(path.name + "*"):
            leftover.unlink()


def main() -> int:
    parser = _common.parser(__doc__)
    parser.add_argument("--size", type=parse_size, default=32 << 30)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    parser.add_argument("--matrix-init", default="normal", help="init of the matrices (default normal, std 0.02)")
    parser.add_argument("--dir", help="where to write (default: a temporary directory beside this checkout)")
    args = parser.parse_args()
    env = _common.environment()
    with tempfile.TemporaryDirectory(dir=args.dir or _common.ROOT.parent, prefix="fastglorot-bench-") as scratch:
        target = Path(scratch) / "model.safetensors"
        runs: Dict[str, List[Dict[str, Any]]] = {"fastglorot": [], "zeros": []}
        for _ in range(args.repeats):
            runs["fastglorot"].append(run(FASTGLOROT, target, args.size, args.dtype, args.matrix_init))
            size = runs["fastglorot"][-1]["file_bytes"]  # the same bytes, header included
            runs["zeros"].append(run(ZEROS, target, size))
            print(".", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    _common.print_environment(env)
    rows = []
    summary: Dict[str, Any] = {}
    for name, rs in runs.items():
        seconds = median([r["seconds"] for r in rs])
        nbytes = rs[0]["file_bytes"]
        summary[name] = {"median_s": seconds, "gbps": _common.gbps(nbytes, seconds), "file_bytes": nbytes,
                         "peak_rss_mib": max(r["peak_rss_mib"] for r in rs), "samples": rs}
        rows.append([name, seconds, summary[name]["gbps"], nbytes / _common.GiB, summary[name]["peak_rss_mib"]])
    _common.print_table(f"Checkpoint to disk ({args.dtype} matrices, {args.matrix_init}), median of {args.repeats} "
                        f"(file sizes equal; each write ends with fsync)",
                        ["write", "s", "GB/s", "GiB", "peak RSS (MiB)"], rows)
    ratio = summary["fastglorot"]["gbps"] / summary["zeros"]["gbps"]
    rss = summary["fastglorot"]["peak_rss_mib"]
    print(f"\n{'PASS' if rss < RSS_TARGET_MIB else 'FAIL'}: peak RSS {rss:.0f} MiB (target < {RSS_TARGET_MIB})")
    print(f"{'PASS' if ratio >= RATIO_TARGET else 'FAIL'}: {ratio:.2f}x the zeros write (target >= {RATIO_TARGET})")
    _common.write_json(args.json, {"runs": summary, "ratio": ratio, "tensors": runs["fastglorot"][0]["tensors"],
                                   "dtype": args.dtype, "matrix_init": args.matrix_init}, env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
