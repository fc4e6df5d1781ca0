"""First touch: a fill of a *fresh* buffer, with and without huge-page advice.

A new buffer's pages are faulted in by the fill itself, one fault per 4 KiB
page.  With ``FASTGLOROT_HUGE_PAGES=1`` fastglorot asks Linux for 2 MiB pages
on outputs of 4 MiB or more (``_engines.memory.advise_huge_pages``,
``madvise(MADV_HUGEPAGE)``), as NumPy does for its own allocations; it is off
by default because of what the second table shows.  This script times,
interleaved:

1. ``glorot_uniform_`` of one fresh float32 buffer (default 1 GiB) allocated
   by ``torch.empty`` (no advice of its own) and by ``np.empty`` (advised by
   NumPy), with fastglorot's advice on and off, and a fresh ``np.empty`` +
   parallel memset as the first-touch bound;
2. a model's weights: ``--tensors`` fresh buffers of ``--tensor-mib`` each
   (default 16 x 256 MiB = 4 GiB, ``torch.empty``), each filled by
   ``uniform_`` and kept, advice on and off: total seconds.

Reports medians and GB/s.  The transparent-huge-page mode is printed: with
``never`` the advice has no effect.

Run:  python bench/bench_first_touch.py [--size-mib 1024] [--tensors 16] [--tensor-mib 256] [--repeats 5]
      [--json PATH]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import _common
import numpy as np

import fastglorot
from fastglorot._engines import memory as _memory
from fastglorot.benchmarks.measure import median, memset_


def main() -> int:
    parser = _common.parser(__doc__)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--tensors", type=int, default=16)
    parser.add_argument("--tensor-mib", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        torch = None
    env = _common.environment()
    n = args.size_mib * _common.MiB // 4
    rows = n // 4096
    default = _memory.huge_pages

    def run(allocate, advised):
        def action():
            _memory.huge_pages = advised
            try:
                out = allocate()
                start = time.perf_counter()
                fastglorot.glorot_uniform_(out, seed=1)
                return time.perf_counter() - start
            finally:
                _memory.huge_pages = default
        return action

    def run_sequence(advised):
        """``--tensors`` fresh buffers of the same size in a row, kept alive (a model's weights): total."""
        def action():
            _memory.huge_pages = advised
            kept = []
            try:
                start = time.perf_counter()
                for i in range(args.tensors):
                    out = torch.empty(args.tensor_mib * _common.MiB // 4) if torch is not None else \
                        np.empty(args.tensor_mib * _common.MiB // 4, np.float32)
                    fastglorot.uniform_(out, -1.0, 1.0, seed=i)
                    kept.append(out)
                return time.perf_counter() - start
            finally:
                _memory.huge_pages = default
                del kept
        return action

    def numpy_memset():
        out = np.empty((rows, 4096), np.float32)
        start = time.perf_counter()
        memset_(out)
        return time.perf_counter() - start

    cases = {"np.empty + memset_ (bound)": numpy_memset,
             "np.empty + glorot_uniform_, advice on": run(lambda: np.empty((rows, 4096), np.float32), True),
             "np.empty + glorot_uniform_, advice off": run(lambda: np.empty((rows, 4096), np.float32), False)}
    if torch is not None:
        cases["torch.empty + glorot_uniform_, advice on"] = run(lambda: torch.empty(rows, 4096), True)
        cases["torch.empty + glorot_uniform_, advice off"] = run(lambda: torch.empty(rows, 4096), False)
    sequences = {"advice on": run_sequence(True), "advice off": run_sequence(False)}
    for action in cases.values():
        action()  # compile and warm up
    times = {name: [] for name in cases}
    sequence_times = {name: [] for name in sequences}
    for _ in range(args.repeats):
        for name, action in cases.items():
            times[name].append(action())  # allocation is outside the timed region; first touch inside
        for name, action in sequences.items():
            sequence_times[name].append(action())
    thp = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    mode = thp.read_text().strip() if thp.exists() else "unknown"
    _common.print_environment(env)
    nbytes = rows * 4096 * 4
    table = [[name, median(ts) * 1e3, _common.gbps(nbytes, median(ts))] for name, ts in times.items()]
    _common.print_table(f"Fresh {nbytes / _common.MiB:.0f} MiB float32 buffer, first touch inside the fill, "
                        f"median of {args.repeats} (THP: {mode})", ["case", "ms", "GB/s"], table)
    total = args.tensors * args.tensor_mib * _common.MiB
    kind = "torch.empty" if torch is not None else "np.empty"
    table = [[name, median(ts), _common.gbps(total, median(ts)), " ".join(f"{t:.2f}" for t in ts)]
             for name, ts in sequence_times.items()]
    _common.print_table(f"{args.tensors} fresh {args.tensor_mib} MiB {kind} buffers in a row, each filled by "
                        f"uniform_ and kept (a model's weights), median of {args.repeats}",
                        ["case", "s", "GB/s", "runs (s)"], table)
    _common.write_json(args.json, {"thp": mode, "nbytes": nbytes,
                                   "rows": [{"case": name, "median_s": median(ts), "samples_s": ts}
                                            for name, ts in times.items()],
                                   "sequence": {"tensors": args.tensors, "tensor_mib": args.tensor_mib,
                                                "rows": [{"case": name, "median_s": median(ts), "samples_s": ts}
                                                         for name, ts in sequence_times.items()]}}, env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
