"""A float32 Box–Muller in float32 arithmetic: speed and accuracy of a candidate design for stream format 2.

**Prototype only: not the library's values, not a stream format.**  Stream
format v1 computes a float32 normal's radius with a float64 logarithm and its
angle's argument through float64 (``_format.stream_v1.normal_pair_f32``).
This script measures what the same Box–Muller pairs (the same two words per
pair, cosine and sine partners as in v1) cost with every operation in
float32, and how far they land from float64 references of the same words,
so that a versioned format can be chosen on figures:

* radius ``sqrt(-2 ln u)``, ``u = (w + 1/2) / 2**32``: ``u < 3/4`` (top two
  bits of ``w`` not both set) as ``x = float32(w) + 1/2`` (two roundings;
  the 16-wide uint32 conversion), ``x = m 2**e`` with ``m`` in
  ``[sqrt(1/2), sqrt 2)`` read off the float32 bits, ``f = m - 1`` exact
  (Sterbenz); ``u >= 3/4`` from the complement ``c = 2**32 - 1 - w``:
  ``1 - u = (2c + 1) 2**-33``, ``f = -float32(2c + 1) 2**-33`` (one
  rounding; no cancellation near ``u = 1``).  Then ``ln(1 + f) = 2
  atanh(s)``, ``s = f / (2 + f)``, ``|s| <= 0.1716``, five terms of the odd
  series (truncation below 2e-9 relative), ``ln u = (e - 32) ln 2 + ln(1 +
  f)`` with ``ln 2`` split so that ``(e - 32) * ln2_hi`` is exact;
* angle ``2 pi (w + 1/2) / 2**32``: quadrant and octant from the top three
  bits as in v1, the reduced 29-bit argument ``phi = float32(2r + 1) *
  float32(pi / 2**32)`` (two roundings) and v1's float32 Taylor
  polynomials;
* every integer step cast back to 32 bits: numba types integer arithmetic
  as 64-bit, and LLVM then runs those steps on 8-lane vectors (the first
  version of this prototype, with v1's integer code, ran at 2.98 cycles per
  element instead of 2.77);
* ``mean + std * r * cos`` and ``... * sin`` in float32, as v1.

Accuracy (always run): the radius, sine/cosine and the pair's values
against float64 references (``numpy.log``, ``numpy.sin``/``cos`` of the
exact words) over ``--samples`` words spread over the whole 32-bit range
plus every word within 2**16 of 0, 2**31, 3 * 2**30 and 2**32, in units
in the last place of the float32 reference.  ``--exhaustive`` checks the
radius on all 2**32 words (about a minute per core).

Speed: one thread, ``--mib`` MiB of float32 (default 256), medians of
``--repeats`` interleaved rounds: the prototype, the library's v1
``normal_`` and ``uniform_``, and (``mkl`` wheel) MKL's ``vsRngGaussian``
BoxMuller2 and ICDF on the same buffer; ns and cycles per element at
``--ghz`` (default: ``/proc/cpuinfo``).

Run:  python bench/bench_normal_v2_prototype.py [--mib 256] [--repeats 7] [--samples 16777216] [--exhaustive]
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict

import _common
import numba
import numpy as np

import fastglorot
from fastglorot._engines import kernels as _kernels
from fastglorot._engines.jit import float32_from_bits, ieee_sqrt
from fastglorot._engines.numba_elements import f32_bits, select
from fastglorot._format.stream_v1 import COS_F32, SIN_F32
from fastglorot._validate import key_stream_words
from fastglorot.benchmarks import mkl_vsl

F32, F64, U32, I32, I64 = np.float32, np.float64, np.uint32, np.int32, np.int64
_L = _kernels.TILE_COUNTERS
_W = _kernels.WORDS_PER_TILE

LN2_HI = F32(0.693145751953125)  # 16 significant bits: (e - 32) * LN2_HI is exact for |e - 32| < 2**8
LN2_LO = F32(math.log(2) - 0.693145751953125)
SERIES = (F32(1 / 3), F32(1 / 5), F32(1 / 7), F32(1 / 9))
SQRT2_MANTISSA = I32(0x3504F3)  # float32 sqrt(2)'s mantissa field
MANTISSA = I32((1 << 23) - 1)
TWO_POW_M33 = F32(2.0**-33)
PI_OVER_2_32 = F32(math.pi / 2**32)
HIGH_QUARTER = U32(3 << 30)
LOW29 = U32((1 << 29) - 1)
ONE, TWO, MINUS_TWO, HALF = F32(1.0), F32(2.0), F32(-2.0), F32(0.5)


@numba.njit(inline="always", error_model="numpy")
def minus_two_log_f32(word: Any) -> Any:
    """``-2 ln((word + 1/2) / 2**32)``, float32 arithmetic (module docstring)."""
    high = word >= HIGH_QUARTER
    # u < 3/4: x = float32(2w + 1) = u 2**33, one rounding; m in [sqrt(1/2), sqrt 2) from its bits.
    x = F32(word) + HALF  # w + 1/2 = u 2**32, two roundings (16-wide uint32 -> float32 conversion)
    bits = I32(f32_bits(x))
    mantissa = I32(bits & MANTISSA)
    big = mantissa > SQRT2_MANTISSA
    m = float32_from_bits(I32(mantissa | select(big, I32(126 << 23), I32(127 << 23))))
    # Every integer step cast back to 32 bits: numba widens integer arithmetic to 64 bits, which LLVM then
    # vectorizes at half width.
    biased = I32(I32(bits >> I32(23)) + I32(big))  # the exponent of m's scale, plus 127
    # u >= 3/4: 1 - u = (2c + 1) 2**-33 with c = 2**32 - 1 - w < 2**30 (exact integer, one rounding).
    complement = I32(~word & U32((1 << 30) - 1))
    f = select(high, -(F32(I32(complement * I32(2) + I32(1))) * TWO_POW_M33), m - ONE)
    e = F32(I32(select(high, I32(0), I32(biased - I32(127 + 32)))))
    s = f / (TWO + f)
    z = s * s
    series = SERIES[0] + z * (SERIES[1] + z * (SERIES[2] + z * SERIES[3]))
    s2 = s + s
    log_1pf = s2 + s2 * (z * series)
    return MINUS_TWO * (e * LN2_HI + (e * LN2_LO + log_1pf))


@numba.njit(inline="always", error_model="numpy")
def sincos_turn_f32_v2(word: Any) -> Any:
    """float32 ``(sin, cos)`` of ``2 pi (word + 1/2) / 2**32``: v1's reduction and polynomials, ``phi`` in float32,
    the quadrant rotation in 32-bit integers (v1's ``rotate_quadrant`` lets numba widen them to 64 bits)."""
    quadrant = I32(word >> U32(30))
    octant_high = I32(I32(word >> U32(29)) & I32(1)) == I32(1)
    low = I32(word & LOW29)
    reduced = select(octant_high, I32(I32(LOW29) - low), low)
    phi = F32(I32(reduced * I32(2) + I32(1))) * PI_OVER_2_32
    z = phi * phi
    sin_phi = phi + phi * z * (SIN_F32[0] + z * (SIN_F32[1] + z * (SIN_F32[2] + z * SIN_F32[3])))
    cos_phi = ONE + z * (COS_F32[0] + z * (COS_F32[1] + z * (COS_F32[2] + z * (COS_F32[3] + z * COS_F32[4]))))
    sin_alpha = select(octant_high, cos_phi, sin_phi)
    cos_alpha = select(octant_high, sin_phi, cos_phi)
    odd = I32(quadrant & I32(1)) == I32(1)
    sin_theta = select(odd, cos_alpha, sin_alpha)
    cos_theta = select(odd, sin_alpha, cos_alpha)
    sin_theta = select(quadrant >= I32(2), -sin_theta, sin_theta)
    cos_theta = select(I32(I32(quadrant + I32(1)) & I32(2)) != I32(0), -cos_theta, cos_theta)
    return sin_theta, cos_theta


@numba.njit(inline="always", error_model="numpy")
def normal_pair_f32_v2(radius_word: Any, angle_word: Any, mean: Any, std: Any) -> Any:
    r = ieee_sqrt(minus_two_log_f32(radius_word)) * std
    sin_theta, cos_theta = sincos_turn_f32_v2(angle_word)
    return mean + r * cos_theta, mean + r * sin_theta


@numba.njit(nogil=True, error_model="numpy")
def fill_v2(out: Any, key_stream: Any, mean: Any, std: Any) -> None:
    """The prototype over whole tiles of ``out``, in v1's tile layout and pairing (1 thread)."""
    words = np.empty(_W, np.uint32)
    for t in range(out.size // _W):
        _kernels._philox_tile(words, t, key_stream, 0, _L)
        base = t * _W
        for pair in range(2):
            first = 2 * pair * _L
            for m in range(_L):
                out[base + first + m], out[base + first + _L + m] = normal_pair_f32_v2(
                    words[first + m], words[first + _L + m], mean, std)


@numba.njit(nogil=True, parallel=False, error_model="numpy")
def radii(words: Any) -> Any:
    out = np.empty(words.size, np.float32)
    for i in range(words.size):
        out[i] = ieee_sqrt(minus_two_log_f32(words[i]))
    return out


@numba.njit(nogil=True, error_model="numpy")
def sines_cosines(words: Any) -> Any:
    sines, cosines = np.empty(words.size, np.float32), np.empty(words.size, np.float32)
    for i in range(words.size):
        sines[i], cosines[i] = sincos_turn_f32_v2(words[i])
    return sines, cosines


@numba.njit(nogil=True, error_model="numpy")
def exhaustive_radius(chunk: int) -> Any:
    """Largest ulp error of the radius over all 2**32 words, against float64 ``sqrt(-2 log u)``."""
    worst, at = 0.0, 0
    for w in range(1 << 32):
        word = U32(w)
        got = F64(ieee_sqrt(minus_two_log_f32(word)))
        ref = math.sqrt(-2.0 * math.log((w + 0.5) * 2.0**-32))
        ulp = F64(np.spacing(F32(ref)))
        err = abs(got - ref) / ulp
        if err > worst:
            worst, at = err, w
    return worst, at


def _ulps(got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    return np.abs(got.astype(np.float64) - ref) / np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)


def _sincos_reference(words: np.ndarray):
    """float64 (sin, cos) of the same exact reduction: phi = (2r + 1) pi / 2**32, then the quadrant rotation."""
    w = words.astype(np.int64)
    quadrant, octant_high = w >> 30, ((w >> 29) & 1) == 1
    low = w & ((1 << 29) - 1)
    reduced = np.where(octant_high, (1 << 29) - 1 - low, low)
    phi = (2 * reduced + 1) * (math.pi / 2**32)
    sin_phi, cos_phi = np.sin(phi), np.cos(phi)
    sin_a, cos_a = np.where(octant_high, cos_phi, sin_phi), np.where(octant_high, sin_phi, cos_phi)
    odd = (quadrant & 1) == 1
    sin_t, cos_t = np.where(odd, cos_a, sin_a), np.where(odd, sin_a, cos_a)
    return np.where(quadrant >= 2, -sin_t, sin_t), np.where(((quadrant + 1) & 2) != 0, -cos_t, cos_t)


def main() -> None:
    parser = _common.parser(__doc__)
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--samples", type=int, default=1 << 24)
    parser.add_argument("--ghz", type=float)
    parser.add_argument("--exhaustive", action="store_true")
    args = parser.parse_args()
    env = _common.environment()
    _common.print_environment(env)
    results: Dict[str, Any] = {}

    words = _common.sample_words(args.samples, (0, 1 << 31, 3 << 30, 1 << 32))
    u = (words.astype(np.float64) + 0.5) * 2.0**-32
    radius_ref = np.sqrt(-2.0 * np.log(u))
    radius_err = _ulps(radii(words), radius_ref)
    sin_ref, cos_ref = _sincos_reference(words)
    sines, cosines = sines_cosines(words)
    sin_err, cos_err = _ulps(sines, sin_ref), _ulps(cosines, cos_ref)
    pair_words = words[np.random.default_rng(30).permutation(words.size)]
    # Pairs: radius word w, angle word w' = the same sample shuffled: (r(w) cos t(w'), r(w) sin t(w')).
    r32, (s32, c32) = radii(words), sines_cosines(pair_words)
    s_ref, c_ref = _sincos_reference(pair_words)
    cos_values = _ulps(r32 * c32, radius_ref * c_ref)  # float32 products, as normal_pair_f32_v2 with std 1, mean 0
    sin_values = _ulps(r32 * s32, radius_ref * s_ref)
    rows = [["radius sqrt(-2 ln u)", f"{radius_err.max():.2f}", f"{np.mean(radius_err <= 1):.6f}",
             f"{float(radii(np.array([0], np.uint32))[0]):.6f} (v1 {math.sqrt(-2 * math.log(2.0**-33)):.6f})"],
            ["sin of the angle", f"{sin_err.max():.2f}", f"{np.mean(sin_err <= 1):.6f}", "-"],
            ["cos of the angle", f"{cos_err.max():.2f}", f"{np.mean(cos_err <= 1):.6f}", "-"],
            ["value r cos", f"{cos_values.max():.2f}", f"{np.mean(cos_values <= 2):.6f} (<= 2)", "-"],
            ["value r sin", f"{sin_values.max():.2f}", f"{np.mean(sin_values <= 2):.6f} (<= 2)", "-"]]
    _common.print_table(f"float32 prototype against float64 references of the same words ({words.size} words)",
                        ["quantity", "max ulps", "share <= 1 ulp", "largest radius"], rows)
    results["accuracy"] = {row[0]: {"max_ulps": float(row[1])} for row in rows}
    if args.exhaustive:
        worst, at = exhaustive_radius(0)
        print(f"\nradius over all 2**32 words: max {worst:.3f} ulps (word {at})")
        results["accuracy"]["radius, all words"] = {"max_ulps": worst, "word": at}

    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    n = (args.mib << 20) // 4 // _W * _W
    out = np.zeros(n, np.float32)
    key_stream = key_stream_words(11, 0)
    actions: Dict[str, Callable[[], Any]] = {
        "prototype: float32 Box-Muller": lambda: fill_v2(out, key_stream, F32(0.0), F32(1.0)),
        "library normal_ (v1)": lambda: fastglorot.normal_(out, 0.0, 1.0, seed=11),
        "library uniform_": lambda: fastglorot.uniform_(out, -1.0, 1.0, seed=11),
    }
    if mkl_vsl.available():
        for name, method in (("MKL vsRngGaussian BoxMuller2", mkl_vsl.METHOD_BOXMULLER2),
                             ("MKL vsRngGaussian ICDF", mkl_vsl.METHOD_ICDF)):
            actions[name] = mkl_vsl.filler(out, "normal", method, 1.0, 1)
    times = _common.time_warm(actions, args.repeats)
    numba.set_num_threads(threads)
    ghz = args.ghz or _common.clock_ghz()
    medians = _common.print_per_element(f"float32, {out.nbytes >> 20} MiB, 1 thread, medians of {args.repeats}",
                                        times, n, ghz, "library normal_ (v1)")
    print("\nthe prototype is a measurement, not a stream format: the library's values are unchanged")
    results.update(medians_s=medians, samples_s=times, elements=n, ghz=ghz)
    _common.write_json(args.json, results, env)


if __name__ == "__main__":
    main()
