"""Per-element calls (fastglorot.numba) against the bulk fill, on the same buffer.

A user kernel ``@njit(parallel=True)`` that writes ``out[i] = f(seed, stream,
i, ...)`` for 64 Mi float32 elements, for ``uniform_float32``,
``normal_float32`` and ``trunc_normal_float32`` and stream format 2's
``normal_float32_v2`` and ``trunc_normal_float32_v2``, against
``fastglorot.uniform_`` / ``normal_`` / ``trunc_normal_`` (with
``stream_format=2`` for the twins) on the same pre-touched buffer; both on
numba's thread count.  Each element call computes a whole Philox block for
its one element, where the bulk fill shares each block among 4 float32
outputs, so up to 4x the Philox work; the conversions cost the same.  Both
sides are checked to write the same bits before timing.  Interleaved rounds,
medians.

Run:  python bench/bench_numba_elements.py [--repeats 5] [--mebi 64] [--json PATH]
"""

from __future__ import annotations

import sys

import _common
import numpy as np
from numba import njit, prange

import fastglorot
from fastglorot.benchmarks.measure import interleaved_times, median
from fastglorot.numba import (normal_float32, normal_float32_v2, seed_stream, trunc_normal_float32,
                              trunc_normal_float32_v2, trunc_normal_params, uniform_float32)

SEED, STREAM = 1, 2


@njit(parallel=True)
def uniform_kernel(out, seed, stream, low, high):
    for i in prange(out.size):
        out[i] = uniform_float32(seed, stream, i, low, high)


@njit(parallel=True)
def normal_kernel(out, seed, stream, mean, std):
    for i in prange(out.size):
        out[i] = normal_float32(seed, stream, i, mean, std)


@njit(parallel=True)
def trunc_normal_kernel(out, seed, stream, params):
    for i in prange(out.size):
        out[i] = trunc_normal_float32(seed, stream, i, params)


@njit(parallel=True)
def normal_v2_kernel(out, seed, stream, mean, std):
    for i in prange(out.size):
        out[i] = normal_float32_v2(seed, stream, i, mean, std)


@njit(parallel=True)
def trunc_normal_v2_kernel(out, seed, stream, params):
    for i in prange(out.size):
        out[i] = trunc_normal_float32_v2(seed, stream, i, params)


def main() -> int:
    parser = _common.parser(__doc__)
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats (default 5)")
    parser.add_argument("--mebi", type=int, default=64, help="elements, in Mi (default 64: 256 MiB of float32)")
    args = parser.parse_args()
    env = _common.environment()

    n = args.mebi << 20
    seed, stream = seed_stream(SEED, STREAM)
    params = trunc_normal_params(0.0, 1.0, -2.0, 2.0)
    params_v2 = trunc_normal_params(0.0, 1.0, -2.0, 2.0, stream_format=2)
    cases = {
        "uniform": (lambda out: uniform_kernel(out, seed, stream, -1.0, 1.0),
                    lambda out: fastglorot.uniform_(out, -1.0, 1.0, seed=SEED, stream=STREAM)),
        "normal": (lambda out: normal_kernel(out, seed, stream, 0.0, 1.0),
                   lambda out: fastglorot.normal_(out, 0.0, 1.0, seed=SEED, stream=STREAM)),
        "trunc_normal": (lambda out: trunc_normal_kernel(out, seed, stream, params),
                         lambda out: fastglorot.trunc_normal_(out, 0.0, 1.0, -2.0, 2.0, seed=SEED, stream=STREAM)),
        "normal (v2)": (lambda out: normal_v2_kernel(out, seed, stream, 0.0, 1.0),
                        lambda out: fastglorot.normal_(out, 0.0, 1.0, seed=SEED, stream=STREAM, stream_format=2)),
        "trunc_normal (v2)": (lambda out: trunc_normal_v2_kernel(out, seed, stream, params_v2),
                              lambda out: fastglorot.trunc_normal_(out, 0.0, 1.0, -2.0, 2.0, seed=SEED, stream=STREAM,
                                                                   stream_format=2)),
    }
    out = np.zeros(n, np.float32)  # one buffer, touched before timing
    check = np.zeros(n, np.float32)
    actions = {}
    for name, (element, bulk) in cases.items():  # compile, and check the bits
        element(out)
        bulk(check)
        assert np.array_equal(out.view(np.uint32), check.view(np.uint32)), name
        actions[name, "element"] = (lambda f: lambda: f(out))(element)
        actions[name, "bulk"] = (lambda f: lambda: f(out))(bulk)
    del check

    times = interleaved_times(actions, args.repeats)
    seconds = {case: median(samples) for case, samples in times.items()}

    _common.print_environment(env)
    table, results = [], {"elements": n, "dtype": "float32", "repeats": args.repeats, "rows": []}
    for name in cases:
        element, bulk = seconds[name, "element"], seconds[name, "bulk"]
        table.append([name, bulk * 1e3, element * 1e3, out.nbytes / bulk / 1e9, out.nbytes / element / 1e9,
                      element / bulk])
        results["rows"].append({"distribution": name, "bulk_median_s": bulk, "element_median_s": element,
                                "x_bulk_time": element / bulk, "bulk_samples_s": times[name, "bulk"],
                                "element_samples_s": times[name, "element"]})
    _common.print_table(
        f"{args.mebi} Mi float32 elements, median of {args.repeats}: bulk fill vs a prange kernel of element calls",
        ["distribution", "bulk ms", "element ms", "bulk GB/s", "element GB/s", "element/bulk time"], table,
    )
    _common.write_json(args.json, results, env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
