"""Block fills against the whole fill: what a shard costs per byte.

On a global float32 weight of 16384 x 16384 (1 GiB), measures, for
``uniform_``, ``normal_`` and ``trunc_normal_`` (and ``--dtype bfloat16``):

* ``whole``: the whole weight, one call;
* ``right half``: columns 8192..16383 (rows of 32 KiB, tile-aligned), as a
  tensor-parallel column shard: ``global_shape=(16384, 16384),
  global_offset=(0, 8192)``;
* ``narrow``: 256 columns starting at column 4000 (rows of 1 KiB, cutting
  Philox tiles at unaligned places);

each into its own pre-touched buffer, interleaved round-robin, medians as
GB/s of output and as a ratio to the whole fill's GB/s.  Targets (from the
blocks issue): right half >= 0.9x, narrow >= 0.25x of the whole fill,
reported as met or missed; the exit status is 1 only on an error (a block
that differs from the whole fill) or, with ``--check``, a missed target.  A
block computes only the counters its rows need, so a narrow unaligned row
costs up to about 4x its share of Philox (v1's lane-blocked tiles), which is
why the narrow target is lower.

Run:  python bench/bench_blocks.py [--repeats 7] [--dtype float32] [--check] [--json PATH]
"""

from __future__ import annotations

import sys
from functools import partial

import _common
import numpy as np

from fastglorot import normal_, trunc_normal_, uniform_
from fastglorot._api.buffers import allocate
from fastglorot.benchmarks.measure import interleaved_times, median

GLOBAL = (16384, 16384)
BLOCKS = {  # name: (global_offset, shape)
    "whole": ((0, 0), GLOBAL),
    "right half": ((0, 8192), (16384, 8192)),
    "narrow": ((0, 4000), (16384, 256)),
}
TARGETS = {"right half": 0.9, "narrow": 0.25}
FILLS = {
    "uniform_": lambda out, **kw: uniform_(out, -1.0, 1.0, seed=1, **kw),
    "normal_": lambda out, **kw: normal_(out, 0.0, 1.0, seed=1, **kw),
    "trunc_normal_": lambda out, **kw: trunc_normal_(out, 0.0, 1.0, -2.0, 2.0, seed=1, **kw),
}


def main() -> int:
    parser = _common.parser(__doc__)
    parser.add_argument("--repeats", type=int, default=7, help="interleaved repeats (default 7)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--check", action="store_true", help=_common.CHECK_HELP)
    args = parser.parse_args()
    env = _common.environment()

    buffers = {name: allocate(shape, args.dtype) for name, (_, shape) in BLOCKS.items()}
    for out in buffers.values():
        out.view(np.uint8)[...] = 0  # first touch outside timing

    def action(fill, name):
        offset, _ = BLOCKS[name]
        return partial(FILLS[fill], buffers[name], global_shape=GLOBAL, global_offset=offset)

    actions = {(fill, name): action(fill, name) for fill in FILLS for name in BLOCKS}
    for run in actions.values():  # compile, and check each block against the whole
        run()
    whole = buffers["whole"]
    for fill in FILLS:
        for name, (offset, shape) in BLOCKS.items():
            actions[fill, "whole"]()
            actions[fill, name]()
            view = whole[offset[0]:offset[0] + shape[0], offset[1]:offset[1] + shape[1]]
            assert np.array_equal(buffers[name].view(np.uint8), view.view(np.uint8)), (fill, name)

    times = interleaved_times(actions, args.repeats)
    seconds = {case: median(samples) for case, samples in times.items()}

    _common.print_environment(env)
    table, results, targets = [], {"global_shape": GLOBAL, "dtype": args.dtype, "rows": []}, []
    for fill in FILLS:
        whole_rate = buffers["whole"].nbytes / seconds[fill, "whole"]
        for name, (offset, shape) in BLOCKS.items():
            nbytes = buffers[name].nbytes
            rate = nbytes / seconds[fill, name]
            ratio = rate / whole_rate
            target = TARGETS.get(name)
            verdict = "" if target is None else f">= {target}x: " + ("met" if ratio >= target else "missed")
            if target is not None:
                targets.append((ratio >= target, f"{fill} {name}: {ratio:.2f}x the whole fill's GB/s "
                                                 f"(target >= {target}x)"))
            table.append([fill, name, f"{shape[0]}x{shape[1]} @ {offset}", seconds[fill, name] * 1e3,
                          rate / 1e9, ratio, verdict])
            results["rows"].append({"fill": fill, "block": name, "shape": shape, "global_offset": offset,
                                    "median_s": seconds[fill, name], "gb_per_s": rate / 1e9,
                                    "x_whole": ratio, "target": target, "samples_s": times[fill, name]})
    _common.print_table(
        f"Blocks of a {GLOBAL[0]}x{GLOBAL[1]} {args.dtype} weight, median of {args.repeats} "
        "(x whole: GB/s relative to the whole fill's)",
        ["fill", "block", "shape @ offset", "ms", "GB/s", "x whole", "target"], table,
    )
    status = _common.report_targets(targets, args.check)
    _common.write_json(args.json, results, env)
    return status


if __name__ == "__main__":
    sys.exit(main())
