"""A float32 truncated normal in float32 arithmetic: speed and accuracy of a candidate design for stream format 2.

**Prototype only: not the library's values, not a stream format.**  v1's
float32 truncated normal forms the nearer-tail probability in float64 and
evaluates Wichura's AS 241 PPND16 in float64 (``_format.stream_v1``).  This
script measures the same inverse-CDF sampler (one word per element, the
signed nearer-tail probability as v1 forms it, so no cancellation near
either end of the interval) with every operation in float32:

* ``v = (float32(w) + 1/2) 2**-32`` and ``1 - v = (float32(~w) + 1/2)
  2**-32`` (each two roundings, from the word and its complement);
  ``q = P - 1/2`` from the nearer end of the interval (``q_low + v mass``
  for ``v <= 1/2``, else ``q_high - (1 - v) mass``, with ``q_low =
  Phi(alpha) - 1/2`` and ``q_high = Phi(beta) - 1/2`` rounded from float64),
  which keeps narrow and one-sided intervals near 0 free of cancellation
  (a first version formed ``q`` as ``P - 1/2``: on [-1e-3, 1e-3] std some
  draws lost every bit); for the tail branch the nearer-tail probability
  ``lower_tail + v mass`` or ``upper_tail + (1 - v) mass``;
* Wichura's 7-digit PPND7 (Applied Statistics 37(3), 1988: degree 3/3 in
  ``0.180625 - q**2`` for ``|q| = |p - 1/2| <= 0.425``, else degree 3/2 in
  ``r - 1.6`` or ``r - 5`` with ``r = sqrt(-ln p)``), the central rational for
  every element and the tail gathered branch-free, as v1's tiles do;
* ``-ln p`` in float32: ``p = m 2**e`` with ``m`` in ``[sqrt(1/2), sqrt 2)``
  from the float32 bits, ``ln m = 2 atanh(f / (2 + f))``, ``f = m - 1``,
  five series terms, ``ln 2`` split; every integer step in 32 bits;
* ``clamp(mean + std z)`` in float32.

Far out (an interval beyond about 10 std, where ``Phi(alpha)`` and the
mass fall below float32's range) the tail parameters are scaled by a power
of two and ``-ln p`` subtracts its exponent exactly (``params_f32``).

Accuracy (always run): ``z`` against ``scipy.special.ndtri`` of the same
probability formed in float64 (v1's signed one), for ``--samples`` words spread
over the range plus the words near both ends, on [-2, 2], [0, 1], [2, 3],
[-1e-3, 1e-3], the one-sided [1, 13] and [-30, 0], and the far [20, 30] and
[-37, -35]: largest absolute error in std, and relative to ``|z|``.

Speed: one thread, ``--mib`` MiB of float32 on [-2, 2], medians of
``--repeats`` interleaved rounds: the prototype, on AVX-512 also with its
tail elements gathered 16 at a time by ``vpcompressd`` (an LLVM intrinsic;
the same values, checked), v1's ``trunc_normal_`` and
``normal_``, the float32 Box–Muller prototype of
``bench_normal_v2_prototype.py``, and (``mkl`` wheel) MKL's ICDF normal.

Run:  python bench/bench_truncated_v2_prototype.py [--mib 256] [--repeats 7] [--samples 4194304]
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict

import _common
import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

import bench_normal_v2_prototype as _normal_v2
import fastglorot
from fastglorot._engines import kernels as _kernels
from fastglorot._engines.jit import float32_from_bits, ieee_sqrt
from fastglorot._engines.numba_elements import f32_bits, select
from fastglorot._format.params import truncated_params
from fastglorot._validate import key_stream_words
from fastglorot.benchmarks import mkl_vsl
from fastglorot.benchmarks.measure import vector_isa

F32, F64, U32, I32 = np.float32, np.float64, np.uint32, np.int32
_L = _kernels.TILE_COUNTERS
_W = _kernels.WORDS_PER_TILE

# Wichura (1988), AS 241, PPND7, lowest degree first.
A = (F32(3.3871327179), F32(50.434271938), F32(159.29113202), F32(59.109374720))
B = (F32(1.0), F32(17.895169469), F32(78.757757664), F32(67.187563600))
C = (F32(1.4234372777), F32(2.7568153900), F32(1.3067284816), F32(0.17023821103))
D = (F32(1.0), F32(0.73700164250), F32(0.12021132975))
E = (F32(6.6579051150), F32(3.0812263860), F32(0.42868294337), F32(0.017337203997))
FF = (F32(1.0), F32(0.24197894225), F32(0.012258202635))
SPLIT, CENTRAL, NEAR, FAR = F32(0.425), F32(0.180625), F32(1.6), F32(5.0)
HALF, ONE, TWO, SCALE = F32(0.5), F32(1.0), F32(2.0), F32(2.0**-32)
LN2_HI = F32(0.693115234375)  # 12 significant bits: e * LN2_HI is exact for |e| < 2**12
LN2_LO = F32(math.log(2) - 0.693115234375)
SERIES = (F32(1 / 3), F32(1 / 5), F32(1 / 7), F32(1 / 9))
MANTISSA = I32((1 << 23) - 1)
SQRT2_MANTISSA = I32(0x3504F3)


@numba.njit(inline="always", error_model="numpy")
def minus_log_f32(p: Any, scale_exponent: Any) -> Any:
    """``-ln(p 2**-scale_exponent)`` for a positive normal float32 ``p``, float32 arithmetic, integer steps in 32
    bits (``scale_exponent``: int32)."""
    bits = I32(f32_bits(p))
    mantissa = I32(bits & MANTISSA)
    big = mantissa > SQRT2_MANTISSA
    m = float32_from_bits(I32(mantissa | select(big, I32(126 << 23), I32(127 << 23))))
    e = F32(I32(I32(I32(bits >> I32(23)) + I32(big)) - I32(127) - scale_exponent))
    f = m - ONE
    s = f / (TWO + f)
    z = s * s
    s2 = s + s
    log_m = s2 + s2 * (z * (SERIES[0] + z * (SERIES[1] + z * (SERIES[2] + z * SERIES[3]))))
    return -(e * LN2_HI + (e * LN2_LO + log_m))


@numba.njit(inline="always", error_model="numpy")
def probabilities_f32(word: Any, q_low: Any, q_high: Any, mass: Any, lower_tail: Any, upper_tail: Any,
                      tail_mass: Any) -> Any:
    """``(q, p)``: ``q = P - 1/2`` formed from the nearer end of the interval, and the nearer-tail probability.

    ``q = q_low + v mass`` for ``v <= 1/2``, else ``q_high - (1 - v) mass``
    (``q_low = Phi(alpha) - 1/2``, ``q_high = Phi(beta) - 1/2``): no
    cancellation near either end, and near ``z = 0`` an error relative to the
    interval's width, not to ``1/2``.  ``p = lower_tail + v mass`` where
    ``q < 0``, else ``upper_tail + (1 - v) mass``: the tail branch's input,
    from the tail's own parameter.
    """
    v = (F32(word) + HALF) * SCALE
    v_complement = (F32(~word) + HALF) * SCALE
    lower_half = word < U32(1 << 31)
    q = select(lower_half, q_low + v * mass, q_high - v_complement * mass)
    p = select(q < F32(0.0), lower_tail + v * tail_mass, upper_tail + v_complement * tail_mass)
    return q, p


@numba.njit(inline="always", error_model="numpy")
def central_f32(q: Any) -> Any:
    """``Phi^-1(1/2 + q)`` for ``|q| <= 0.425`` (PPND7's central rational)."""
    r = CENTRAL - q * q
    return q * (((A[3] * r + A[2]) * r + A[1]) * r + A[0]) / (((B[3] * r + B[2]) * r + B[1]) * r + B[0])


@numba.njit(inline="always", error_model="numpy")
def tail_f32(p: Any, scale_exponent: Any) -> Any:
    """``Phi^-1(p 2**-scale_exponent)`` for ``p 2**-scale_exponent < 0.075`` (negative)."""
    r = ieee_sqrt(minus_log_f32(p, scale_exponent))
    a = r - NEAR
    near = (((C[3] * a + C[2]) * a + C[1]) * a + C[0]) / ((D[2] * a + D[1]) * a + D[0])
    b = r - FAR
    far = (((E[3] * b + E[2]) * b + E[1]) * b + E[0]) / ((FF[2] * b + FF[1]) * b + FF[0])
    return -select(r <= FAR, near, far)


@numba.njit(inline="always", error_model="numpy")
def params_f32(params: Any) -> Any:
    """The prototype's parameters from v1's float64 ones (``_format.params.truncated_params``): ``(mean, std,
    clamp_low, clamp_high, q_low, q_high, mass, lower_s, upper_s, mass_s, scale_exponent)``, float32 but the
    int32 exponent.

    Far out (``Phi(alpha)`` or the mass below float32's normal range) the tail probabilities would underflow:
    ``lower_s``, ``upper_s`` and ``mass_s`` are ``2**scale_exponent`` times the tail parameters, the exponent
    chosen so that the smaller tail and the mass stay near 1 (0 unless they are below 2**-60), and ``-ln p``
    subtracts it back exactly; ``q`` keeps the unscaled mass (which may round to 0: then ``q`` is ``q_low`` or
    ``q_high``, +-1/2, and every draw takes the tail branch).
    """
    lower_tail, upper_tail, mass = params[4], params[5], params[6]
    q_low = lower_tail - 0.5  # float64: exact to ~1e-17 absolute, then one rounding
    q_high = 0.5 - upper_tail
    small = max(mass, min(lower_tail, upper_tail))
    scale_exponent = 0
    if small < 2.0**-60:
        scale_exponent = -int(np.floor(np.log2(small)))
    factor = 2.0**scale_exponent
    big = 3.0e38  # the unused tail, scaled, stays finite
    return (F32(params[0]), F32(params[1]), F32(params[2]), F32(params[3]), F32(q_low), F32(q_high), F32(mass),
            F32(min(lower_tail * factor, big)), F32(min(upper_tail * factor, big)), F32(mass * factor),
            I32(scale_exponent))


@numba.njit(nogil=True, error_model="numpy")
def fill_v2(out: Any, key_stream: Any, params: Any) -> None:
    """The prototype over whole tiles of ``out`` (1 thread); ``params`` as ``_format.params.truncated_params``."""
    mean, std, clamp_low, clamp_high, q_low, q_high, mass, lower_tail, upper_tail, tail_mass, shift = \
        params_f32(params)
    words = np.empty(_W, np.uint32)
    qs = np.empty(_W, np.float32)
    ps = np.empty(_W, np.float32)
    z = np.empty(_W, np.float32)
    tail_at = np.empty(_W, np.int32)
    tail_p = np.empty(_W, np.float32)
    for t in range(out.size // _W):
        _kernels._philox_tile(words, t, key_stream, 0, _L)
        for j in range(_W):
            qs[j], ps[j] = probabilities_f32(words[j], q_low, q_high, mass, lower_tail, upper_tail, tail_mass)
        for j in range(_W):
            z[j] = central_f32(qs[j])
        tails = 0
        for j in range(_W):
            tail_at[tails] = j
            tail_p[tails] = ps[j]
            tails += int(abs(qs[j]) > SPLIT)
        for i in range(tails):
            tail_p[i] = tail_f32(tail_p[i], shift)
        for i in range(tails):
            j = tail_at[i]
            z[j] = select(qs[j] > F32(0.0), -tail_p[i], tail_p[i])
        base = t * _W
        for j in range(_W):
            value = mean + std * z[j]
            out[base + j] = min(max(value, clamp_low), clamp_high)


@intrinsic
def compress16(typingctx: Any, qs: Any, ps: Any, j0: Any, tail_p: Any, tail_at: Any, count: Any) -> Any:
    """Append ``ps[j]`` and ``j`` of the elements ``j0 <= j < j0 + 16`` with ``|qs[j]| > 0.425`` at ``count`` of
    ``tail_p``/``tail_at`` (which need 16 elements of room past their use); return the new count.

    AVX-512 only: ``vpcompressd`` into a register, then one full store (Zen 4 microcodes the memory-destination
    form that ``llvm.masked.compressstore`` lowers to: 12.8 cycles per element instead of 4.6, measured)."""
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        q_arg, p_arg, start, tp_arg, ta_arg, count_value = args
        f16, i16, m16 = ir.VectorType(ir.FloatType(), 16), ir.VectorType(ir.IntType(32), 16), \
            ir.VectorType(ir.IntType(1), 16)
        q_ary = context.make_array(signature.args[0])(context, builder, q_arg)
        p_ary = context.make_array(signature.args[1])(context, builder, p_arg)
        tp_ary = context.make_array(signature.args[3])(context, builder, tp_arg)
        ta_ary = context.make_array(signature.args[4])(context, builder, ta_arg)
        q = builder.load(builder.bitcast(builder.gep(q_ary.data, [start]), f16.as_pointer()), align=4)
        p = builder.load(builder.bitcast(builder.gep(p_ary.data, [start]), f16.as_pointer()), align=4)
        magnitude = builder.bitcast(builder.and_(builder.bitcast(q, i16), ir.Constant(i16, [0x7FFFFFFF] * 16)), f16)
        mask = builder.fcmp_ordered(">", magnitude, ir.Constant(f16, [float(SPLIT)] * 16))
        first = builder.insert_element(ir.Constant(i16, ir.Undefined), builder.trunc(start, ir.IntType(32)),
                                       ir.Constant(ir.IntType(32), 0))
        splat = builder.shuffle_vector(first, ir.Constant(i16, ir.Undefined), ir.Constant(i16, [0] * 16))
        index = builder.add(ir.Constant(i16, list(range(16))), splat)
        module = builder.module
        compress_f = cgutils.get_or_insert_function(module, ir.FunctionType(f16, [f16, f16, m16]),
                                                    "llvm.x86.avx512.mask.compress.v16f32")
        compress_i = cgutils.get_or_insert_function(module, ir.FunctionType(i16, [i16, i16, m16]),
                                                    "llvm.x86.avx512.mask.compress.v16i32")
        packed_p = builder.call(compress_f, [p, ir.Constant(f16, ir.Undefined), mask])
        packed_i = builder.call(compress_i, [index, ir.Constant(i16, ir.Undefined), mask])
        builder.store(packed_p, builder.bitcast(builder.gep(tp_ary.data, [count_value]), f16.as_pointer()), align=4)
        builder.store(packed_i, builder.bitcast(builder.gep(ta_ary.data, [count_value]), i16.as_pointer()), align=4)
        ctpop = cgutils.get_or_insert_function(module, ir.FunctionType(ir.IntType(16), [ir.IntType(16)]),
                                               "llvm.ctpop.i16")
        popcount = builder.call(ctpop, [builder.bitcast(mask, ir.IntType(16))])
        return builder.add(count_value, builder.zext(popcount, ir.IntType(64)))

    return types.int64(qs, ps, j0, tail_p, tail_at, count), codegen


@numba.njit(nogil=True, error_model="numpy")
def fill_v2_compress(out: Any, key_stream: Any, params: Any) -> None:
    """:func:`fill_v2` with the tail elements gathered 16 at a time by ``compress16`` (AVX-512; the same values).

    A copy of :func:`fill_v2` but for the gather, on purpose: one template with the gather as an argument
    measured 17 % slower for the one-at-a-time gather and 8 % faster for this one (same process, medians of 7),
    which would change what the two rows compare."""
    mean, std, clamp_low, clamp_high, q_low, q_high, mass, lower_tail, upper_tail, tail_mass, shift = \
        params_f32(params)
    words = np.empty(_W, np.uint32)
    qs = np.empty(_W, np.float32)
    ps = np.empty(_W, np.float32)
    z = np.empty(_W, np.float32)
    tail_at = np.empty(_W + 16, np.int32)
    tail_p = np.empty(_W + 16, np.float32)
    for t in range(out.size // _W):
        _kernels._philox_tile(words, t, key_stream, 0, _L)
        for j in range(_W):
            qs[j], ps[j] = probabilities_f32(words[j], q_low, q_high, mass, lower_tail, upper_tail, tail_mass)
        for j in range(_W):
            z[j] = central_f32(qs[j])
        tails = np.int64(0)
        for c in range(_W // 16):
            tails = compress16(qs, ps, np.int64(16 * c), tail_p, tail_at, tails)
        for i in range(tails):
            tail_p[i] = tail_f32(tail_p[i], shift)
        for i in range(tails):
            j = tail_at[i]
            z[j] = select(qs[j] > F32(0.0), -tail_p[i], tail_p[i])
        base = t * _W
        for j in range(_W):
            value = mean + std * z[j]
            out[base + j] = min(max(value, clamp_low), clamp_high)


@numba.njit(nogil=True, error_model="numpy")
def standard_draws(words: Any, params: Any) -> Any:
    """The prototype's ``z`` (before ``mean + std z``) of each word."""
    _, _, _, _, q_low, q_high, mass, lower_tail, upper_tail, tail_mass, shift = params_f32(params)
    out = np.empty(words.size, np.float32)
    for i in range(words.size):
        q, p = probabilities_f32(words[i], q_low, q_high, mass, lower_tail, upper_tail, tail_mass)
        tail = tail_f32(p, shift)
        out[i] = (select(q > F32(0.0), -tail, tail)) if abs(q) > SPLIT else central_f32(q)
    return out


def main() -> None:
    from scipy.special import ndtri

    parser = _common.parser(__doc__)
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--samples", type=int, default=1 << 22)
    parser.add_argument("--ghz", type=float)
    args = parser.parse_args()
    env = _common.environment()
    _common.print_environment(env)

    words = _common.sample_words(args.samples, (0, 1 << 32))
    w = words.astype(np.float64)
    rows, accuracy = [], {}
    for a, b in [(-2.0, 2.0), (0.0, 1.0), (2.0, 3.0), (-1e-3, 1e-3), (1.0, 13.0), (20.0, 30.0), (-37.0, -35.0),
                 (-30.0, 0.0)]:
        params = truncated_params(0.0, 1.0, a, b, "float32")
        lower, upper, mass = params[4], params[5], params[6]
        # v1's signed probability, in float64 from the exact v and 1 - v: the reference's input
        below = lower + (w + 0.5) * 2.0**-32 * mass
        above = upper + (2.0**32 - w - 0.5) * 2.0**-32 * mass
        signed = np.where(below <= above, below, -above)
        reference = np.where(signed > 0, 1.0, -1.0) * ndtri(np.abs(signed))
        got = standard_draws(words, params).astype(np.float64)
        error = np.abs(got - reference)
        relative = error / np.maximum(np.abs(reference), 1e-30)
        in_interval = float(np.mean((got >= a - 1e-6 * max(1, abs(a))) & (got <= b + 1e-6 * max(1, abs(b)))))
        accuracy[f"[{a:g}, {b:g}]"] = {"max_abs": float(error.max()), "max_rel": float(relative.max()),
                                       "in_interval": in_interval}
        rows.append([f"[{a:g}, {b:g}]", f"{error.max():.2e}", f"{relative.max():.2e}",
                     f"{float(np.max(np.abs(reference))):.4f}", f"{in_interval:.6f}"])
    _common.print_table(f"float32 prototype's z against scipy.special.ndtri of v1's float64 probabilities "
                        f"({words.size} words)", ["interval (std)", "max |error| (std)", "max relative", "max |z|",
                                                  "share inside"], rows)

    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    n = (args.mib << 20) // 4 // _W * _W
    out = np.zeros(n, np.float32)
    key_stream = key_stream_words(11, 0)
    params = truncated_params(0.0, 1.0, -2.0, 2.0, "float32")
    actions: Dict[str, Callable[[], Any]] = {
        "prototype: float32 truncated normal": lambda: fill_v2(out, key_stream, params),
        "prototype: float32 Box-Muller normal": lambda: _normal_v2.fill_v2(out, key_stream, F32(0.0), F32(1.0)),
        "library trunc_normal_ (v1)": lambda: fastglorot.trunc_normal_(out, 0.0, 1.0, -2.0, 2.0, seed=11),
        "library normal_ (v1)": lambda: fastglorot.normal_(out, 0.0, 1.0, seed=11),
    }
    if vector_isa()["isa"] == "AVX-512":
        check = np.zeros(_W * 64, np.float32)
        fill_v2(out[: check.size], key_stream, params)
        fill_v2_compress(check, key_stream, params)
        assert np.array_equal(check.view(np.uint32), out[: check.size].view(np.uint32)), "compress variant differs"
        actions["prototype, tail gathered by vpcompressd"] = lambda: fill_v2_compress(out, key_stream, params)
    if mkl_vsl.available():
        actions["MKL vsRngGaussian ICDF"] = mkl_vsl.filler(out, "normal", mkl_vsl.METHOD_ICDF, 1.0, 1)
    times = _common.time_warm(actions, args.repeats)
    numba.set_num_threads(threads)
    ghz = args.ghz or _common.clock_ghz()
    medians = _common.print_per_element(f"float32 on [-2, 2], {out.nbytes >> 20} MiB, 1 thread, medians of "
                                        f"{args.repeats}", times, n, ghz, "prototype: float32 Box-Muller normal")
    print("\nthe prototypes are measurements, not stream formats: the library's values are unchanged")
    _common.write_json(args.json, {"accuracy": accuracy, "medians_s": medians, "samples_s": times, "elements": n,
                                   "ghz": ghz}, env)


if __name__ == "__main__":
    main()
