"""GPU fills on real hardware: bit identity with the CPU, then speed against torch's own CUDA fills.

One run does everything the GPU issue asks of a lent GPU machine (README "GPU"):

1. **identity**: ``tests/test_cuda_sim.py gpu`` (every distribution x
   format, offsets up to 2**62, blocks, C/F/strided layouts against the
   CPU fills, bit for bit), ``tests/test_cuda_sim.py ptx`` (no fma, ftz or
   approximate ops in the PTX), and a fresh-process comparison: a child
   process fills CPU tensors and prints their SHA-256; this process fills
   torch CUDA tensors with the same ``(seed, stream)`` and compares;
2. **speed**: fills of one ``--size-gib`` (default 4 GiB) float32 CUDA
   tensor, CUDA events, ``--repeats`` interleaved rounds (default 7),
   medians: fastglorot uniform / normal / truncated normal, torch's own
   ``uniform_`` / ``normal_`` / ``nn.init.trunc_normal_``, a memset
   (``fill_``) and a device-to-device copy (bandwidth references).
   Targets: uniform and normal at least as fast as torch's; uniform at
   least 0.5x the memset bandwidth;
3. **fast_init**: fresh processes building a ``--model-gib`` (default 4 GiB)
   model of Linear layers on ``cuda``, under ``fastglorot.torch.fast_init()``
   and plain torch, interleaved pairs, medians of ``--processes`` (default 3).

Needs a CUDA GPU, torch with CUDA and numba-cuda (no network: everything is
local).  Run:  python bench/bench_gpu.py [--size-gib 4] [--repeats 7] [--model-gib 4] [--processes 3] [--json PATH]
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List

import _common

ROOT = _common.ROOT
SIM = str(ROOT / "tests" / "test_cuda_sim.py")
CASES = [("uniform_", (-0.3, 0.7)), ("normal_", (0.1, 2.0)), ("trunc_normal_", (0.0, 1.0, -1.5, 2.5)),
         ("glorot_uniform_", ()), ("kaiming_normal_", ())]
DTYPES = ("float32", "float64", "float16", "bfloat16")
SHAPE = (1031, 517)  # not a multiple of a tile: cut tiles at both ends of rows

HASH_CODE = """
import hashlib, json, sys, torch, fastglorot
cases, dtypes, shape = json.loads(sys.argv[1])
out = {}
for name, args in cases:
    for dtype in dtypes:
        t = torch.zeros(shape, dtype=getattr(torch, dtype))
        getattr(fastglorot, name)(t, *args, seed=2026, stream=name)
        out[f"{name} {dtype}"] = hashlib.sha256(t.view(torch.uint8).numpy().tobytes()).hexdigest()
print(json.dumps(out))
"""

MODEL_CODE = """
import sys, time, torch
start = time.perf_counter()
mode, gib = sys.argv[1], float(sys.argv[2])
side = 8192
layers = max(1, int(gib * 2**30 // (side * side * 4)))
def build():
    return torch.nn.Sequential(*[torch.nn.Linear(side, side, device="cuda") for _ in range(layers)])
if mode == "fastglorot":
    import fastglorot.torch
    with fastglorot.torch.fast_init():
        model = build()
else:
    model = build()
torch.cuda.synchronize()
print(time.perf_counter() - start)
"""


def run(cmd: List[str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def identity() -> Dict[str, Any]:
    import torch

    import fastglorot

    report: Dict[str, Any] = {}
    for mode in ("gpu", "ptx"):
        result = run([sys.executable, SIM, mode])
        report[mode] = {"ok": result.returncode == 0, "tail": (result.stdout + result.stderr)[-600:]}
        print(f"identity {mode}: {'passed' if result.returncode == 0 else 'FAILED'}: {report[mode]['tail'][-200:]}")
    child = run([sys.executable, "-c", HASH_CODE, json.dumps([CASES, DTYPES, SHAPE])])
    cpu = json.loads(child.stdout.splitlines()[-1]) if child.returncode == 0 else {}
    mismatches = []
    for name, args in CASES:
        for dtype in DTYPES:
            t = torch.zeros(SHAPE, dtype=getattr(torch, dtype), device="cuda")
            getattr(fastglorot, name)(t, *args, seed=2026, stream=name)
            digest = hashlib.sha256(t.cpu().view(torch.uint8).numpy().tobytes()).hexdigest()
            if cpu.get(f"{name} {dtype}") != digest:
                mismatches.append(f"{name} {dtype}")
    report["fresh_process"] = {"ok": bool(cpu) and not mismatches, "mismatches": mismatches,
                               "error": child.stderr[-400:] if child.returncode else ""}
    print(f"identity fresh process (CPU child vs CUDA here, {len(CASES) * len(DTYPES)} fills): "
          f"{'passed' if report['fresh_process']['ok'] else 'FAILED ' + str(mismatches) + child.stderr[-300:]}")
    return report


def speed(size_gib: float, repeats: int) -> Dict[str, Any]:
    import torch

    import fastglorot

    n = int(size_gib * 2**30) // 4
    side = 32768
    t = torch.empty((n // side, side), device="cuda")
    other = torch.empty_like(t)
    nbytes = t.numel() * 4
    fills: Dict[str, Callable[[], object]] = {
        "fastglorot uniform": lambda: fastglorot.uniform_(t, -0.1, 0.1, seed=1),
        "torch uniform_": lambda: t.uniform_(-0.1, 0.1),
        "fastglorot normal": lambda: fastglorot.normal_(t, 0.0, 0.02, seed=1),
        "torch normal_": lambda: t.normal_(0.0, 0.02),
        "fastglorot trunc_normal": lambda: fastglorot.trunc_normal_(t, 0.0, 0.02, -0.04, 0.04, seed=1),
        "torch trunc_normal_": lambda: torch.nn.init.trunc_normal_(t, 0.0, 0.02, -0.04, 0.04),
        "memset (fill_)": lambda: t.fill_(0.5),
        "copy (copy_)": lambda: t.copy_(other),
    }
    for fill in fills.values():  # compile / warm up
        fill()
    torch.cuda.synchronize()
    times: Dict[str, List[float]] = {name: [] for name in fills}
    for _ in range(repeats):
        for name, fill in fills.items():
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fill()
            end.record()
            end.synchronize()
            times[name].append(start.elapsed_time(end) / 1e3)
    rows = {name: {"seconds": statistics.median(s), "gbps": nbytes / statistics.median(s) / 1e9}
            for name, s in times.items()}
    memset = rows["memset (fill_)"]["gbps"]
    print(f"\n{nbytes / 2**30:.2f} GiB float32 on {torch.cuda.get_device_name()}, median of {repeats} (CUDA events)")
    for name, row in rows.items():
        print(f"{name:26s} {row['seconds'] * 1e3:9.2f} ms {row['gbps']:9.1f} GB/s {row['gbps'] / memset:6.2f}x memset")
    targets = {
        "uniform >= torch": rows["fastglorot uniform"]["gbps"] >= rows["torch uniform_"]["gbps"],
        "normal >= torch": rows["fastglorot normal"]["gbps"] >= rows["torch normal_"]["gbps"],
        "uniform >= 0.5x memset": rows["fastglorot uniform"]["gbps"] >= 0.5 * memset,
    }
    print("targets: " + ", ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in targets.items()))
    return {"bytes": nbytes, "device": torch.cuda.get_device_name(), "rows": rows, "targets": targets}


def fast_init(model_gib: float, processes: int) -> Dict[str, Any]:
    seconds: Dict[str, List[float]] = {"fastglorot": [], "torch": []}
    for i in range(processes):
        order = ("fastglorot", "torch") if i % 2 == 0 else ("torch", "fastglorot")
        for mode in order:
            started = time.perf_counter()
            result = run([sys.executable, "-c", MODEL_CODE, mode, str(model_gib)])
            if result.returncode:
                raise SystemExit(f"fast_init {mode} failed:\n{result.stderr[-800:]}")
            seconds[mode].append(time.perf_counter() - started)
    medians = {mode: statistics.median(s) for mode, s in seconds.items()}
    print(f"\nfresh process, {model_gib:g} GiB model on cuda: fast_init {medians['fastglorot']:.2f} s, plain torch "
          f"{medians['torch']:.2f} s (ratio {medians['fastglorot'] / medians['torch']:.2f}; medians of {processes})")
    return {"seconds": seconds, "medians": medians}


def main() -> None:
    parser = _common.parser(__doc__)
    parser.add_argument("--size-gib", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--model-gib", type=float, default=4.0)
    parser.add_argument("--processes", type=int, default=3)
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("bench_gpu.py needs a CUDA GPU (torch.cuda.is_available() is False)")
    report = {"identity": identity(), "speed": speed(args.size_gib, args.repeats)}
    torch.cuda.empty_cache()  # the speed section's tensors are gone; give their memory back before the children
    report["fast_init"] = fast_init(args.model_gib, args.processes)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
