"""Where the float32 truncated normal's time goes, and what a faster (versioned) format would gain.

Stream format v1 pins the truncated normal's bits: per element, the
nearer-tail probability in float64, Wichura's AS 241 (PPND16) quantile in
float64 (a degree-7/7 rational for every element; for the ~11 % of elements
with tail probability < 0.075, a logarithm and two more rationals), then
``mean + std * z`` rounded to float32.  This script rebuilds that pipeline
from the library's own jitted pieces (``_engines.numba_elements``:
the compiled ``_format.stream_v1``), stopping after each stage, single-threaded, on a
pre-touched buffer of ``--mib`` MiB (default 128), so each stage's cost is
the difference to the previous row:

1. Philox words only (written as float32);
2. + the signed tail probability (float64);
3. + the central quantile for every element (float64 rational);
4. + gathering the tail elements (branch-free);
5. + the tail quantile for them (logarithm, two rationals): the whole v1
   pipeline, checked bit for bit against ``fastglorot.trunc_normal_``.

Reference rows, same run: the library's ``trunc_normal_``, ``normal_`` and
``uniform_`` on the same buffer (1 thread).

**Prototype of a faster format (not the library's; never its values):** the
same inverse-CDF sampler with Wichura's lower-precision PPND7 quantile
(degree-3/3 and 3/2 rationals, relative error ~1e-7, enough for float32
outputs) evaluated in float32, so its central stage runs at twice the vector
width with a third of the operations; probabilities and the tail logarithm
stay float64.  Its output is compared with v1's (maximum difference in
units of ``std``), and its speed shows what a versioned v2 format for
16/32-bit outputs would gain.  v1 is unchanged by this script.

Run:  python bench/bench_truncated_stages.py [--mib 128] [--repeats 7] [--json PATH]
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable, Dict, List

import _common
import numba
import numpy as np

import fastglorot
from fastglorot._engines import kernels as _kernels
from fastglorot._format.constants import F32, F64
from fastglorot._engines.numba_elements import (TERMS_F32, in_lower_tail, minus_two_log, normal_quantile_central,
                                               normal_quantile_tail, truncated_probability)
from fastglorot._engines.jit import ieee_sqrt
from fastglorot._format.params import truncated_params
from fastglorot._validate import key_stream_words

_L = _kernels.TILE_COUNTERS
_W = _kernels.WORDS_PER_TILE
STAGES = ["Philox words", "+ tail probability (float64)", "+ central quantile (float64 PPND16)",
          "+ gather tail elements", "+ tail quantile = v1 truncated normal"]

# Wichura (1988), AS 241, PPND7: the 7-digit variant, coefficients lowest degree first.
_A = (F32(3.3871327179), F32(50.434271938), F32(159.29113202), F32(59.109374720))
_B = (F32(1.0), F32(17.895169469), F32(78.757757664), F32(67.187563600))
_C = (F32(1.4234372777), F32(2.7568153900), F32(1.3067284816), F32(0.17023821103))
_D = (F32(1.0), F32(0.73700164250), F32(0.12021132975))
_E = (F32(6.6579051150), F32(3.0812263860), F32(0.42868294337), F32(0.017337203997))
_F = (F32(1.0), F32(0.24197894225), F32(0.012258202635))


@numba.njit(nogil=True, error_model="numpy")
def v1_stages(out: Any, key_stream: Any, params: Any, stage: int) -> None:
    """The v1 float32 truncated normal, stopped after ``stage`` (whole tiles of ``out``)."""
    words = np.empty(_W, np.uint32)
    signed = np.empty(_W, np.float64)
    z = np.empty(_W, np.float64)
    tail_at = np.empty(_W, np.int64)
    tail_p = np.empty(_W, np.float64)
    lower_tail, upper_tail, mass = params[4], params[5], params[6]
    mean, std = params[0], params[1]
    clamp_low, clamp_high = np.float32(params[2]), np.float32(params[3])
    for t in range(out.size // _W):
        dst = out[t * _W:(t + 1) * _W]
        _kernels._philox_tile(words, t, key_stream, 0, _L)
        if stage == 0:
            for j in range(_W):
                dst[j] = np.float32(words[j])
            continue
        for j in range(_W):
            signed[j] = truncated_probability(words[j], 32, lower_tail, upper_tail, mass)
        if stage == 1:
            for j in range(_W):
                dst[j] = np.float32(signed[j])
            continue
        for j in range(_W):
            central = normal_quantile_central(abs(signed[j]))
            z[j] = central if signed[j] > 0 else -central
        if stage >= 3:
            tails = 0
            for j in range(_W):
                p = abs(signed[j])
                tail_at[tails] = j
                tail_p[tails] = p
                tails += np.int64(in_lower_tail(p))
            if stage >= 4:
                for i in range(tails):
                    tail_p[i] = normal_quantile_tail(tail_p[i])
                for i in range(tails):
                    j = tail_at[i]
                    z[j] = tail_p[i] if signed[j] > 0 else -tail_p[i]
        for j in range(_W):
            dst[j] = min(max(np.float32(mean + std * z[j]), clamp_low), clamp_high)


@numba.njit(nogil=True, error_model="numpy")
def ppnd7_float32(out: Any, key_stream: Any, params: Any) -> None:
    """Prototype only: the same sampler with AS 241's PPND7 quantile in float32 (not stream format v1)."""
    words = np.empty(_W, np.uint32)
    p32 = np.empty(_W, np.float32)
    positive = np.empty(_W, np.bool_)
    z = np.empty(_W, np.float32)
    tail_at = np.empty(_W, np.int64)
    tail_p = np.empty(_W, np.float64)
    lower_tail, upper_tail, mass = params[4], params[5], params[6]
    mean, std = np.float32(params[0]), np.float32(params[1])
    clamp_low, clamp_high = np.float32(params[2]), np.float32(params[3])
    for t in range(out.size // _W):
        dst = out[t * _W:(t + 1) * _W]
        _kernels._philox_tile(words, t, key_stream, 0, _L)
        for j in range(_W):
            s = truncated_probability(words[j], 32, lower_tail, upper_tail, mass)
            p32[j] = np.float32(abs(s))
            positive[j] = s > 0
        for j in range(_W):
            q = p32[j] - F32(0.5)
            r = F32(0.180625) - q * q
            top = ((_A[3] * r + _A[2]) * r + _A[1]) * r + _A[0]
            bottom = ((_B[3] * r + _B[2]) * r + _B[1]) * r + _B[0]
            central = q * top / bottom
            z[j] = central if positive[j] else -central
        tails = 0
        for j in range(_W):
            tail_at[tails] = j
            tail_p[tails] = F64(p32[j])
            tails += np.int64(p32[j] < F32(0.075))
        for i in range(tails):
            r = np.float32(ieee_sqrt(F64(0.5) * minus_two_log(tail_p[i], 0, TERMS_F32)))
            near_r = r - F32(1.6)
            near = (((_C[3] * near_r + _C[2]) * near_r + _C[1]) * near_r + _C[0]) / (
                (_D[2] * near_r + _D[1]) * near_r + _D[0])
            far_r = r - F32(5.0)
            far = (((_E[3] * far_r + _E[2]) * far_r + _E[1]) * far_r + _E[0]) / (
                (_F[2] * far_r + _F[1]) * far_r + _F[0])
            tail_p[i] = -(near if r <= F32(5.0) else far)
        for i in range(tails):
            j = tail_at[i]
            value = np.float32(tail_p[i])
            z[j] = value if positive[j] else -value
        for j in range(_W):
            dst[j] = min(max(mean + std * z[j], clamp_low), clamp_high)


def main() -> None:
    parser = _common.parser(__doc__)
    parser.add_argument("--mib", type=int, default=128, help="buffer size in MiB (whole tiles)")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    env = _common.environment()
    _common.print_environment(env)
    n = (args.mib << 20) // 4 // _W * _W
    out = np.zeros(n, np.float32)
    reference = np.zeros(n, np.float32)
    seed = 11
    key_stream = key_stream_words(seed, 0)
    params = truncated_params(0.0, 1.0, -2.0, 2.0, "float32")
    fastglorot.trunc_normal_(reference, 0.0, 1.0, -2.0, 2.0, seed=seed)
    v1_stages(out, key_stream, params, 4)
    assert np.array_equal(out.view(np.uint32), reference.view(np.uint32)), "stage rebuild differs from v1"
    ppnd7_float32(out, key_stream, params)
    max_difference = float(np.max(np.abs(out.astype(np.float64) - reference)))

    actions: Dict[str, Callable[[], Any]] = {
        name: (lambda s=s: v1_stages(out, key_stream, params, s)) for s, name in enumerate(STAGES)}
    actions["library trunc_normal_ (v1)"] = lambda: fastglorot.trunc_normal_(out, 0.0, 1.0, -2.0, 2.0, seed=seed)
    actions["library normal_"] = lambda: fastglorot.normal_(out, 0.0, 1.0, seed=seed)
    actions["library uniform_"] = lambda: fastglorot.uniform_(out, -1.0, 1.0, seed=seed)
    actions["prototype: PPND7 in float32 (not v1)"] = lambda: ppnd7_float32(out, key_stream, params)
    times: Dict[str, List[float]] = {name: [] for name in actions}
    for _ in range(args.repeats):
        for name, action in actions.items():
            start = time.perf_counter()
            action()
            times[name].append(time.perf_counter() - start)
    numba.set_num_threads(threads)

    medians = {name: statistics.median(samples) for name, samples in times.items()}
    normal = medians["library normal_"]
    rows = []
    previous = 0.0
    for name, median in medians.items():
        stage_cost = median - previous if name in STAGES else None
        previous = median if name in STAGES else previous
        rows.append([name, f"{median * 1e3:.1f}", "-" if stage_cost is None else f"{stage_cost * 1e3:+.1f}",
                     f"{1e9 * median / n:.2f}", f"{_common.gbps(out.nbytes, median):.2f}", f"{normal / median:.2f}x"])
    _common.print_table(f"float32 N(0, 1) on [-2, 2], {out.nbytes >> 20} MiB, 1 thread, medians of {args.repeats}",
                        ["stage / fill", "ms", "stage", "ns/elem", "GB/s", "speed vs normal_"], rows)
    print(f"\nprototype vs v1: max |difference| {max_difference:.2e} std (PPND7's float32 accuracy); "
          f"the prototype is a measurement, not a stream format")
    results = {"medians_s": medians, "samples_s": times, "elements": n, "prototype_max_difference": max_difference}
    _common.write_json(args.json, results, env)


if __name__ == "__main__":
    main()
