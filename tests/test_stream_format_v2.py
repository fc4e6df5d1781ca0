"""Stream format 2 (README "Stream format"): re-derived from the README, its error bounds, tails and quality.

* **Re-derivation**: :func:`normal_v2_reference` and :func:`truncated_v2_reference` implement format 2's float32
  normal and truncated normal from README "Stream format 2" alone, in NumPy float32 arithmetic (no import of
  ``fastglorot._format``; Philox words from the public ``fastglorot.philox4x32`` through
  ``stream_reference.words``), and the library's fills must equal them bit for bit.
* **Error bounds** (the README's): against float64 references of the same words (``numpy.log``, ``sin``,
  ``cos``; scipy's ``ndtri``), exhaustively where the input is one float32 (every float32 of whole binades).
* **Tails**: the largest ``|z|`` and, over every word below each threshold, the radius beyond 4, 5 and 6.
* **Quality**: Kolmogorov–Smirnov and Anderson–Darling tests against scipy's distributions on 2**24 samples per
  case (fixed seeds, alpha = 1e-3 each), float32 and bfloat16, normal and truncated normal on [-2, 2], [0, 1],
  [2, 3], [-1e-3, 1e-3] and one-sided intervals.
"""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest
from scipy import integrate, special, stats

import fastglorot
import stream_reference as ref

F32 = np.float32
BF16 = np.dtype(ml_dtypes.bfloat16)

# -- format 2 from the README's text ----------------------------------------------------------------------------


def _c(x):
    return F32(x)


def _exponent_split(y):
    """README "Exponent split": (f, k) with y = (1 + f) 2**k, 1 + f in [sqrt(1/2), sqrt 2)."""
    bits = np.asarray(y, F32).view(np.uint32).astype(np.int64)
    exponent, fraction = bits >> 23, bits & ((1 << 23) - 1)
    above = fraction > 0x3504F3
    m = (fraction | np.where(above, 126, 127) << 23).astype(np.uint32).view(F32)
    return m - F32(1), exponent - np.where(above, 126, 127)


def _poly(coefficients, t):
    value = F32(coefficients[-1])
    for c in coefficients[-2::-1]:
        value = F32(c) + t * value
    return value


H = F32(0.693115234375)
LAMBDA = _c(math.log(2) - 0.693115234375)
ATANH = [_c(1 / 3), _c(1 / 5), _c(1 / 7), _c(1 / 9)]


def _log(f, k):
    """README "Logarithm": K ln 2 + ln(1 + f), float32."""
    s = f / (F32(2) + f)
    z = s * s
    s2 = s + s
    return k * H + (k * LAMBDA + (s2 + s2 * (z * _poly(ATANH, z))))


def _radius(x):
    x = np.asarray(x, np.uint32)
    f_low, k_low = _exponent_split(x.astype(F32) + F32(0.5))
    complement = (np.uint64(2**32 - 1) - x.astype(np.uint64)).astype(np.int64)
    f_high = -((2 * complement + 1).astype(F32) * _c(2.0**-33))
    high = x >= 3 * 2**30
    f = np.where(high, f_high, f_low)
    k = np.where(high, F32(0), (k_low - 32).astype(F32))
    return np.sqrt(F32(-2) * _log(f, k))


SIN = [_c(-1 / 6), _c(1 / 120), _c(-1 / 5040), _c(1 / 362880)]
COS = [_c(-1 / 2), _c(1 / 24), _c(-1 / 720), _c(1 / 40320), _c(-1 / 3628800)]


def _sincos(w):
    w = np.asarray(w, np.uint32).astype(np.int64)
    quadrant, octant = w >> 30, (w >> 29) & 1
    low = w & (2**29 - 1)
    rho = np.where(octant == 1, 2**29 - 1 - low, low)
    phi = (2 * rho + 1).astype(F32) * _c(math.pi * 2.0**-32)
    t = phi * phi
    s_phi = phi + (phi * t) * _poly(SIN, t)
    c_phi = F32(1) + t * _poly(COS, t)
    s, c = np.where(octant == 1, c_phi, s_phi), np.where(octant == 1, s_phi, c_phi)
    odd = quadrant % 2 == 1
    s, c = np.where(odd, c, s), np.where(odd, s, c)
    return np.where(quadrant >= 2, -s, s), np.where((quadrant == 1) | (quadrant == 2), -c, c)


def normal_v2_reference(index, seed, stream, mean, std):
    """Element ``index`` of a float32 normal fill in format 2: v1's lanes and pairs, README's arithmetic."""
    block, lane = ref.split_index(index, ref.WORDS_PER_TILE)
    words = ref.lanes(block, seed, stream).astype(np.uint32)
    pair = lane // 2
    x = np.take_along_axis(words, (2 * pair)[..., None], axis=-1)[..., 0]
    w = np.take_along_axis(words, (2 * pair + 1)[..., None], axis=-1)[..., 0]
    r = _radius(x) * F32(std)
    s, c = _sincos(w)
    return np.where(lane % 2 == 0, F32(mean) + r * c, F32(mean) + r * s)


PPND7 = {
    "A": (3.3871327179, 50.434271938, 159.29113202, 59.109374720), "B": (1.0, 17.895169469, 78.757757664, 67.187563600),
    "C": (1.4234372777, 2.7568153900, 1.3067284816, 0.17023821103), "D": (1.0, 0.73700164250, 0.12021132975),
    "E": (6.6579051150, 3.0812263860, 0.42868294337, 0.017337203997), "F": (1.0, 0.24197894225, 0.012258202635)}
PPND7 = {name: [_c(x) for x in values] for name, values in PPND7.items()}


def truncated_v2_reference(index, seed, stream, mean, std, a, b):
    """Element ``index`` of a float32 truncated-normal fill in format 2 (README), from format 1's float64
    ``Phi(alpha)``, ``Phi(-beta)`` and mass (``fastglorot._format.params``, which README "Truncated normal"
    defines) and the float32 clamp bounds."""
    from fastglorot._format.params import truncated_params

    _, _, clamp_low, clamp_high, lo, up, m = (float(v) for v in truncated_params(mean, std, a, b, "float32"))
    q_low, q_high, mass = _c(lo - 0.5), _c(0.5 - up), _c(m)
    small = max(m, min(lo, up))
    shift = 0 if small >= 2.0**-60 else -math.floor(math.log2(small))
    while 2.0**-shift > small:  # exact floor(log2): log2 of a float64 may round up at powers of two
        shift += 1
    while shift > 0 and 2.0**(1 - shift) <= small:
        shift -= 1
    lower, upper = _c(min(math.ldexp(lo, shift), 2.0**127)), _c(min(math.ldexp(up, shift), 2.0**127))
    tail_mass, scale = _c(math.ldexp(m, shift)), F32(shift)
    w = ref.words(index, seed, stream).astype(np.uint32)
    v = (w.astype(F32) + F32(0.5)) * _c(2.0**-32)
    v_c = ((np.uint32(2**32 - 1) - w).astype(F32) + F32(0.5)) * _c(2.0**-32)
    q = np.where(w < 2**31, q_low + v * mass, q_high - v_c * mass)
    p = np.where(q < 0, lower + v * tail_mass, upper + v_c * tail_mass)
    rho = _c(0.180625) - q * q
    central = (q * _poly(PPND7["A"], rho)) / _poly(PPND7["B"], rho)
    with np.errstate(invalid="ignore", divide="ignore"):  # the tail branch on elements that do not take it
        f, k = _exponent_split(np.where(np.abs(q) > _c(0.425), p, F32(0.5)))
        t = np.sqrt(-_log(f, k.astype(F32) - scale))
        near = _poly(PPND7["C"], t - _c(1.6)) / _poly(PPND7["D"], t - _c(1.6))
        far = _poly(PPND7["E"], t - F32(5)) / _poly(PPND7["F"], t - F32(5))
    g = np.where(t <= F32(5), near, far)
    z = np.where(np.abs(q) <= _c(0.425), central, np.where(q > 0, g, -g))
    x = F32(mean) + F32(std) * z
    return np.minimum(np.maximum(x, F32(clamp_low)), F32(clamp_high))


INDICES = np.concatenate([np.arange(0, 3000), np.arange(2**34 - 700, 2**34 + 1300),
                          np.random.default_rng(30).integers(0, 2**40, 4000)]).astype(np.uint64)


@pytest.mark.parametrize("seed, stream", [(0, 0), (2**64 - 1, 12345), (20261207, 2**64 - 2)])
@pytest.mark.parametrize("mean, std", [(0.0, 1.0), (0.25, 0.02)])
def test_normal_is_the_readme_definition(seed, stream, mean, std):
    for first in (0, 2**34 - 700):
        got = fastglorot.normal((2000,), mean, std, seed=seed, stream=stream, offset=first, stream_format=2)
        want = normal_v2_reference(np.arange(first, first + 2000, dtype=np.uint64), seed, stream, mean, std)
        assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
    scattered = INDICES[6000:]
    out = np.empty(scattered.size, F32)
    for i, index in enumerate(scattered):  # element by element: the index rule, not a contiguous run
        out[i] = fastglorot.normal((1,), mean, std, seed=seed, stream=stream, offset=int(index), stream_format=2)[0]
    assert np.array_equal(out.view(np.uint32), normal_v2_reference(scattered, seed, stream, mean, std).view(np.uint32))


INTERVALS = [(-2.0, 2.0), (0.0, 1.0), (2.0, 3.0), (-1e-3, 1e-3), (1.5, 40.0), (-40.0, -1.0), (20.0, 30.0),
             (-37.0, -35.0), (-0.5, 8.0)]


@pytest.mark.parametrize("a, b", INTERVALS)
def test_truncated_normal_is_the_readme_definition(a, b):
    for mean, std, seed, stream in ((0.0, 1.0, 3, 4), (1.0, 0.5, 2**64 - 1, 99)):
        lo, hi = mean + a * std, mean + b * std
        for first in (0, 2**34 - 700):
            got = fastglorot.trunc_normal((3000,), mean, std, lo, hi, seed=seed, stream=stream, offset=first,
                                          stream_format=2)
            want = truncated_v2_reference(np.arange(first, first + 3000, dtype=np.uint64), seed, stream, mean, std,
                                          lo, hi)
            assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), (a, b, first)


@pytest.mark.parametrize("kind", ["normal", "truncated"])
def test_16_bit_outputs_round_the_float32_draw(kind):
    """float16 and bfloat16 in format 2 are its float32 draw rounded to nearest even (README)."""
    def draw(dtype):
        if kind == "normal":
            return fastglorot.normal((5000,), 0.0, 1.0, dtype=dtype, seed=8, offset=77, stream_format=2)
        return fastglorot.trunc_normal((5000,), 0.0, 1.0, -2.0, 2.0, dtype=dtype, seed=8, offset=77, stream_format=2)

    float32 = draw(np.float32)
    assert np.array_equal(draw(np.float16).view(np.uint16), float32.astype(np.float16).view(np.uint16))
    assert np.array_equal(draw(BF16).view(np.uint16), float32.astype(BF16).view(np.uint16))


def test_format_2_equals_format_1_where_it_says_so():
    """Raw words, uniforms and float64 outputs are format 1's; the float32 normal and truncated normal are not."""
    for dtype in (np.float32, np.float64, np.float16, BF16):
        one = fastglorot.uniform((3000,), -1.0, 2.0, dtype=dtype, seed=5, stream_format=1)
        two = fastglorot.uniform((3000,), -1.0, 2.0, dtype=dtype, seed=5, stream_format=2)
        assert np.array_equal(one.view(np.uint8), two.view(np.uint8))
    for draw in (fastglorot.normal, fastglorot.trunc_normal):
        one = draw((3000,), dtype=np.float64, seed=5, stream_format=1)
        assert np.array_equal(one, draw((3000,), dtype=np.float64, seed=5, stream_format=2))
        assert not np.array_equal(draw((3000,), seed=5, stream_format=1), draw((3000,), seed=5, stream_format=2))
    assert np.array_equal(fastglorot.random_bits(100, seed=1, stream_format=2), fastglorot.random_bits(100, seed=1))


# -- error bounds against float64 references ----------------------------------------------------------------------

def _ulps(got, exact):
    return np.abs(got.astype(np.float64) - exact) / np.spacing(np.abs(exact).astype(F32)).astype(np.float64)


def _test_words():
    """2**22 words spread over the range (every 1024th, at an odd offset) and every word within 2**16 of 0,
    2**31, 3 * 2**30 (the radius's two branches meet there) and 2**32.  README's bounds are over all 2**32 words:
    ``python bench/bench_stream_format_v2.py --exhaustive`` checks every one (minutes; not a unit test)."""
    spread = np.arange(2**22, dtype=np.uint64) * np.uint64(1024) + np.uint64(113)
    near = [np.arange(max(c - 2**16, 0), min(c + 2**16, 2**32), dtype=np.uint64) for c in (0, 2**31, 3 * 2**30, 2**32)]
    return np.concatenate([spread, *near]).astype(np.uint32)


def _exact_sincos(words):
    """float64 sin and cos of 2 pi (w + 1/2) 2**-32, accurate near every multiple of pi/2: the angle's exact
    integer reduction to phi = (2 rho + 1) pi 2**-32 in (0, pi/4), then the quadrant's exact rotation (float64
    ``2 pi u`` itself is off by up to 4e-16 absolute, many float32 ulps of a sine near 0)."""
    w = words.astype(np.int64)
    quadrant, octant = w >> 30, (w >> 29) & 1
    low = w & (2**29 - 1)
    phi = (2 * np.where(octant == 1, 2**29 - 1 - low, low) + 1) * (math.pi * 2.0**-32)
    s, c = np.where(octant == 1, np.cos(phi), np.sin(phi)), np.where(octant == 1, np.sin(phi), np.cos(phi))
    odd = quadrant % 2 == 1
    s, c = np.where(odd, c, s), np.where(odd, s, c)
    return np.where(quadrant >= 2, -s, s), np.where((quadrant == 1) | (quadrant == 2), -c, c)


RADIUS_ULPS = 2.31  # README: the largest errors over every input (bench_stream_format_v2.py --exhaustive)
TRIG_ULPS = 2.91  # the reduced angle's sine (2.91) or cosine (1.91): after the rotation either can be either


def test_radius_sine_and_cosine_error_bounds():
    from fastglorot._format import stream_v2

    words = _test_words()
    u = (words.astype(np.float64) + 0.5) * 2.0**-32
    radius = stream_v2.normal_radius_f32_v2(words)
    assert _ulps(radius, np.sqrt(-2.0 * np.log(u))).max() <= RADIUS_ULPS
    s, c = stream_v2.sincos_turn_f32_v2(words)
    exact_sin, exact_cos = _exact_sincos(words)
    assert _ulps(s, exact_sin).max() <= TRIG_ULPS
    assert _ulps(c, exact_cos).max() <= TRIG_ULPS


def test_normal_values_error_bound():
    """Within 2 (ulp(z) + 2**-24 r) of the float64 Box–Muller of the same words (README)."""
    rng = np.random.default_rng(31)
    x = np.concatenate([rng.integers(0, 2**32, 1 << 22, dtype=np.uint64), np.arange(1 << 12, dtype=np.uint64)])
    w = rng.integers(0, 2**32, x.size, dtype=np.uint64)
    from fastglorot._format import stream_v2

    c, s = stream_v2.normal_pair_f32_v2(x.astype(np.uint32), w.astype(np.uint32), (F32(0), F32(1)))
    r = np.sqrt(-2.0 * np.log((x + 0.5) * 2.0**-32))
    exact_sin, exact_cos = _exact_sincos(w)
    for got, exact in ((c, r * exact_cos), (s, r * exact_sin)):
        bound = 2.0 * (np.spacing(np.abs(exact).astype(F32)).astype(np.float64) + r * 2.0**-24)
        assert (np.abs(got - exact) <= bound).all()
        assert _ulps(got, exact)[np.abs(exact) > 1e-3].max() <= 5.0


@pytest.mark.parametrize("a, b", INTERVALS)
def test_truncated_quantile_error_bound(a, b):
    """``z`` within 4.5e-7 max(1, |z|) of scipy's ``ndtri`` (float64) of format 1's P (or -ndtri of Q) of the same
    words; on [-1e-3, 1e-3] also within 2.5e-7 of the interval's width (README)."""
    from fastglorot._format import stream_v2
    from fastglorot._format.params import truncated_params

    words = _test_words()[:: 4 if (a, b) != (-2.0, 2.0) else 1]
    params64 = truncated_params(0.0, 1.0, a, b, "float32")
    params = stream_v2.truncated_params_f32(params64)
    q, p = stream_v2.truncated_split_f32(words, params)
    z = np.asarray(stream_v2.quantile_central_f32(q), F32)
    tail = stream_v2.in_tail_f32(q)
    z[tail] = stream_v2.signed_tail_f32(q[tail], stream_v2.quantile_tail_f32(p[tail], params))
    lower, upper, mass = params64[4], params64[5], params64[6]
    v = (words + 0.5) * 2.0**-32
    below, above = lower + v * mass, upper + (1.0 - v) * mass
    exact = np.where(below <= above, special.ndtri(below), -special.ndtri(above))
    error = np.abs(z - exact)
    assert (error <= 4.5e-7 * np.maximum(1.0, np.abs(exact))).all(), float(np.max(error / np.maximum(1, abs(exact))))
    if (a, b) == (-1e-3, 1e-3):
        assert error.max() <= 2.5e-7 * (b - a)


@pytest.mark.parametrize("binade", [-4, -9, -20, -60, -126])
def test_tail_quantile_on_every_float32_of_a_binade(binade):
    """PPND7's tail branch, a function of one float32 ``p``: every float32 in [2**binade, 2**(binade + 1)) (all
    2**23 mantissas; [2**-4, 0.075) for the top one), against ``-ndtri(p)`` in float64: relative 4.5e-7."""
    from fastglorot._format import stream_v2

    p = (np.uint32((binade + 127) << 23) + np.arange(2**23, dtype=np.uint32)).view(F32)
    if binade == -4:
        p = p[p < F32(0.075)]
    params = np.zeros(11, F32)  # shift S = 0
    z = stream_v2.quantile_tail_f32(p, params)
    exact = special.ndtri(p.astype(np.float64))
    assert (np.abs(z - exact) <= 4.5e-7 * np.abs(exact)).all()


def test_central_quantile_on_every_float32_of_its_top_binades():
    """The central rational on every float32 ``q`` in [1/8, 0.425] (all mantissas of two binades and the part of
    the third up to the split), against ``ndtri(1/2 + q)``: within 4.5e-7 max(1, |z|)."""
    from fastglorot._format import stream_v2

    q = (np.uint32(124 << 23) + np.arange(3 * 2**23, dtype=np.uint32)).view(F32)
    q = q[q <= F32(0.425)]
    z = stream_v2.quantile_central_f32(q)
    exact = special.ndtri(0.5 + q.astype(np.float64))
    assert (np.abs(z - exact) <= 4.5e-7 * np.maximum(1.0, exact)).all()


# -- tails -------------------------------------------------------------------------------------------------------

TAIL_WORDS = 2


def test_largest_z_and_the_radius_beyond_4_5_and_6_sigma():
    """The radius exceeds t (4, 5, 6) for exactly the words whose exact sqrt(-2 ln u) does, up to TAIL_WORDS words
    at each threshold (every word below the threshold checked), and its largest value is word 0's,
    sqrt(66 ln 2) ~ 6.7637 as in format 1: within the z bound normal_ checks arguments with."""
    from fastglorot._format import stream_v2
    from fastglorot._format.params import NORMAL_Z_BOUND_F32

    for t in (4.0, 5.0, 6.0):
        exact_count = math.ceil(2.0**32 * math.exp(-t * t / 2) - 0.5)  # words with (w + 1/2) 2**-32 < exp(-t**2/2)
        words = np.arange(exact_count + 2**16, dtype=np.uint32)
        beyond = stream_v2.normal_radius_f32_v2(words) > F32(t)
        assert abs(int(beyond.sum()) - exact_count) <= TAIL_WORDS
        assert beyond[: exact_count - TAIL_WORDS].all() and not beyond[exact_count + TAIL_WORDS:].any()
    largest = float(stream_v2.normal_radius_f32_v2(np.uint32(0)))
    assert abs(largest - math.sqrt(66 * math.log(2))) <= 1e-6 and largest <= NORMAL_Z_BOUND_F32
    # A fill's tail frequencies on 2**24 values: |z| > 4 and > 5 within 4 binomial standard deviations.
    z = np.abs(fastglorot.normal((1 << 24,), seed=44, stream_format=2)).astype(np.float64)
    assert z.max() <= NORMAL_Z_BOUND_F32
    for t in (4.0, 5.0):
        expected = z.size * 2 * special.ndtr(-t)
        assert abs(np.count_nonzero(z > t) - expected) <= 4 * math.sqrt(expected) + 1


# -- quality: KS and AD against scipy, 2**24 samples per case ------------------------------------------------------

N = 1 << 24
ALPHA = 1e-3


def anderson_darling_sf(a2, terms=12):
    """P(A2 > a2) for the Anderson–Darling statistic of a fully specified continuous distribution, n -> inf
    (Anderson & Darling 1954; the series of Marsaglia & Marsaglia 2004, eq. 2); reproduces the published
    upper points 1.933 (10 %), 2.492 (5 %) and 3.857 (1 %) (test_anderson_darling_tail_reproduces_the_tables)."""
    total = 0.0
    for j in range(terms):
        k = (4 * j + 1) ** 2 * math.pi**2 / (8 * a2)
        integral, _ = integrate.quad(lambda y: math.exp(a2 / (8 * (y * y + 1)) - k * y * y), 0, np.inf)
        total += special.binom(-0.5, j) * (4 * j + 1) * math.exp(-k) * integral
    return 1.0 - math.sqrt(2 * math.pi) / a2 * total


def test_anderson_darling_tail_reproduces_the_tables():
    for a2, upper in ((1.933, 0.10), (2.492, 0.05), (3.857, 0.01)):
        assert anderson_darling_sf(a2) == pytest.approx(upper, rel=0.03)


def _uniformized(values, cdf, dtype, seed):
    """The probability integral transform of the sample, sorted.  A bfloat16 value stands for its rounding cell
    (half-way to each neighbour): it is mapped uniformly into [F(low), F(high)] with a fixed-seed uniform, which is
    exactly uniform when the float32 draw follows ``cdf`` (a discrete sample's plain F(x) is not)."""
    x = np.asarray(values).astype(np.float64)
    if dtype == BF16:
        up = np.nextafter(values, np.array(np.inf, BF16)).astype(np.float64)
        down = np.nextafter(values, np.array(-np.inf, BF16)).astype(np.float64)
        low, high = cdf((x + down) / 2), cdf((x + up) / 2)
        u = low + np.random.default_rng(seed).random(x.size) * (high - low)
    else:
        u = cdf(x)
    return np.sort(u)


def _ks_and_ad(u):
    n = u.size
    i = np.arange(1, n + 1, dtype=np.float64)
    d = max(np.max(i / n - u), np.max(u - (i - 1) / n))
    u = np.clip(u, 1e-300, 1.0 - 2.0**-53)
    a2 = -n - np.sum((2 * i - 1) * (np.log(u) + np.log1p(-u[::-1]))) / n
    return stats.kstwo.sf(d, n), anderson_darling_sf(a2)


def _truncnorm_cdf(a, b):
    """The truncated standard normal CDF on [a, b] from scipy's ``ndtr``, through the nearer tail (as
    ``scipy.stats.truncnorm`` does; its ``cdf`` takes 16 s on 2**24 values, ``ndtr`` 0.4 s):
    ``(Phi(x) - Phi(a)) / (Phi(b) - Phi(a))``, or ``(Phi(-a) - Phi(-x)) / (Phi(-a) - Phi(-b))`` for a >= 0."""
    if a >= 0:
        cdf = lambda x: (special.ndtr(-a) - special.ndtr(-x)) / (special.ndtr(-a) - special.ndtr(-b))  # noqa: E731
    else:
        cdf = lambda x: (special.ndtr(x) - special.ndtr(a)) / (special.ndtr(b) - special.ndtr(a))  # noqa: E731
    return lambda x: np.clip(cdf(x), 0.0, 1.0)  # 0 below a, 1 above b (a bfloat16 cell may reach past them)


def test_the_truncated_cdf_is_scipys():
    for a, b in ((-2.0, 2.0), (2.0, 3.0), (1.5, 40.0), (-40.0, -1.0), (-1e-3, 1e-3)):
        x = np.linspace(max(a, -8.0) - 0.5, min(b, 8.0) + 0.5, 1001)
        np.testing.assert_allclose(_truncnorm_cdf(a, b)(x), stats.truncnorm(a, b).cdf(x), rtol=1e-9, atol=1e-15)


CASES = [("normal", None), ("truncated", (-2.0, 2.0)), ("truncated", (0.0, 1.0)), ("truncated", (2.0, 3.0)),
         ("truncated", (-1e-3, 1e-3)), ("truncated", (1.5, 40.0)), ("truncated", (-40.0, -1.0))]


@pytest.mark.parametrize("dtype", [np.float32, BF16], ids=["float32", "bfloat16"])
@pytest.mark.parametrize("kind, interval", CASES, ids=lambda c: str(c))
def test_kolmogorov_smirnov_and_anderson_darling(kind, interval, dtype):
    """2**24 format-2 values of seed 2024 against scipy's ``norm`` / ``truncnorm`` (std 1, mean 0): both p-values
    above alpha = 1e-3.  (One-sided: [1.5, 40] and [-40, -1], beyond the 37.5 std clip on the far side.)"""
    if kind == "normal":
        values = fastglorot.normal((N,), dtype=dtype, seed=2024, stream_format=2)
        cdf = special.ndtr  # scipy.stats.norm.cdf, without its argument handling
    else:
        a, b = interval
        values = fastglorot.trunc_normal((N,), 0.0, 1.0, a, b, dtype=dtype, seed=2024, stream_format=2)
        cdf = _truncnorm_cdf(a, b)
    ks, ad = _ks_and_ad(_uniformized(values, cdf, np.dtype(dtype), seed=7))
    assert ks > ALPHA and ad > ALPHA, (ks, ad)


def test_the_quality_tests_can_fail():
    """The same tests reject format 2's normal under a slightly wrong model (std 1.003) and a truncated normal
    on [-2, 2] against [-2, 2.02]."""
    values = fastglorot.normal((N,), seed=2024, stream_format=2)
    ks, ad = _ks_and_ad(_uniformized(values, stats.norm(scale=1.003).cdf, np.dtype(F32), 7))
    assert ks < ALPHA and ad < ALPHA
    values = fastglorot.trunc_normal((N,), 0.0, 1.0, -2.0, 2.0, seed=2024, stream_format=2)
    ks, ad = _ks_and_ad(_uniformized(values, _truncnorm_cdf(-2.0, 2.02), np.dtype(F32), 7))
    assert ks < ALPHA and ad < ALPHA


# -- the CPU tiles' two gathers give the same slots ----------------------------------------------------------------

@pytest.mark.parametrize("vector_gather", ["gather_compressed", "gather_permuted"])
def test_the_vector_gathers_equal_the_one_at_a_time_gather(vector_gather):
    """``_engines.gather``: AVX-512's 16-at-a-time ``vpcompressd`` gather and AVX2's 8-at-a-time permutation gather
    (used where the JIT target has them) write the same flagged values and positions, in the same order, as the
    branch-free one-element-at-a-time gather, for whole tiles and the partial ranges a row's ends cut (lanes,
    counter groups of 32), of float32 values and of uint32 words (which the truncated-normal tiles gather); all
    equal the flagged elements in order."""
    import numba

    from fastglorot._engines import gather

    needs = {"gather_compressed": gather.avx512_target, "gather_permuted": gather.avx2_target}[vector_gather]
    if not needs():
        pytest.skip(f"the JIT target lacks the instructions of {vector_gather}")
    gather_vector = getattr(gather, vector_gather)

    @numba.njit
    def both(flags, values, lane_lo, lane_hi, m0, count):
        a_values, a_index = np.zeros(512 + gather.SLACK, values.dtype), np.zeros(512 + gather.SLACK, np.int32)
        b_values, b_index = np.zeros(512 + gather.SLACK, values.dtype), np.zeros(512 + gather.SLACK, np.int32)
        a = gather.gather_each(flags, values, a_values, a_index, lane_lo, lane_hi, m0, count)
        b = gather_vector(flags, values, b_values, b_index, lane_lo, lane_hi, m0, count)
        return a, a_values[:a], a_index[:a], b, b_values[:b], b_index[:b]

    rng = np.random.default_rng(5)
    # float32 values, and Philox words (uint32, which the kernels gather), all 32 bits used
    for values in (rng.random(512).astype(F32), rng.integers(0, 2**32, 512, dtype=np.uint64).astype(np.uint32)):
        # random flags of several densities, then every 8-element pattern (64 per tile, 256 in 4 tiles)
        every_pattern = [np.array([(64 * t + j // 8) >> (j % 8) & 1 for j in range(512)], np.uint8) for t in range(4)]
        for flags in [(rng.random(512) < share).astype(np.uint8) for share in (0.0, 0.13, 0.5, 1.0)] + every_pattern:
            for lane_lo, lane_hi, m0, count in ((0, 4, 0, 128), (1, 3, 32, 32), (3, 4, 96, 32), (0, 1, 0, 32)):
                a, a_values, a_index, b, b_values, b_index = both(flags, values, lane_lo, lane_hi, m0, count)
                assert a == b and np.array_equal(a_values, b_values) and np.array_equal(a_index, b_index)
                expected = [j * 128 + m for j in range(lane_lo, lane_hi) for m in range(m0, m0 + count)
                            if flags[j * 128 + m]]
                assert a == len(expected) and np.array_equal(a_index, expected)
                assert np.array_equal(a_values, values[expected])
