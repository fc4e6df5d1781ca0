"""Statistical and range properties of the samples.

Goodness-of-fit tests use fixed seeds and significance level ALPHA = 1e-3:
each fails with probability 1e-3 for a correct sampler on a fresh seed, and
the fixed seeds make the outcome deterministic.
"""

import numpy as np
import pytest
from numba import njit
from scipy import stats

import fastglorot
from fastglorot._engines.numba_elements import normal_radius_f32, uniform_f32
from fastglorot._engines.numba_elements import TERMS_F64, minus_two_log, sincos_turn_f32
from fastglorot._engines.jit import ieee_sqrt
import stream_reference as ref

ALPHA = 1e-3
DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed, low, high", [(1, 0.0, 1.0), (2, -0.05, 0.05), (3, -3.0, 7.5)])
def test_uniform_ks(dtype, seed, low, high):
    x = fastglorot.uniform_(np.empty(1 << 20, dtype), low, high, seed=seed)
    assert stats.kstest(x, stats.uniform(low, high - low).cdf).pvalue > ALPHA


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed, mean, std", [(1, 0.0, 1.0), (2, 0.5, 0.02), (3, -4.0, 3.0)])
def test_normal_ks(dtype, seed, mean, std):
    x = fastglorot.normal_(np.empty(1 << 20, dtype), mean, std, seed=seed)
    assert stats.kstest(x, stats.norm(mean, std).cdf).pvalue > ALPHA


@pytest.mark.parametrize("dtype", DTYPES)
def test_uniform_chi_square_256_bins(dtype):
    x = fastglorot.uniform_(np.empty(1 << 22, dtype), seed=4)
    counts = np.bincount(np.floor(x * 256).astype(np.int64), minlength=256)
    assert stats.chisquare(counts).pvalue > ALPHA


@pytest.mark.parametrize("dtype", DTYPES)
def test_normal_chi_square_equiprobable_bins(dtype):
    x = fastglorot.normal_(np.empty(1 << 22, dtype), seed=5)
    edges = stats.norm.ppf(np.linspace(0, 1, 129)[1:-1])
    counts = np.bincount(np.searchsorted(edges, x), minlength=128)
    assert stats.chisquare(counts).pvalue > ALPHA


def test_raw_bytes_chi_square_and_pairs():
    words = fastglorot.random_bits(1 << 22, seed=6)
    for shift in (0, 8, 16, 24):
        counts = np.bincount((words >> shift) & 0xFF, minlength=256)
        assert stats.chisquare(counts).pvalue > ALPHA, shift
    # consecutive words (neighbouring counters or lanes) jointly uniform on 16 x 16 cells
    top = (words >> 28).astype(np.int64)
    joint = np.bincount(16 * top[:-1] + top[1:], minlength=256)
    assert stats.chisquare(joint).pvalue > ALPHA


def test_streams_and_seeds_are_independent():
    a = fastglorot.uniform_(np.empty(1 << 20), seed=7, stream=0)
    for other in (
        fastglorot.uniform_(np.empty(1 << 20), seed=7, stream=1),
        fastglorot.uniform_(np.empty(1 << 20), seed=8, stream=0),
    ):
        cells = np.bincount(16 * np.floor(a * 16).astype(int) + np.floor(other * 16).astype(int), minlength=256)
        assert stats.chisquare(cells).pvalue > ALPHA
        assert abs(stats.pearsonr(a, other).statistic) < 5 / np.sqrt(a.size)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "low, high",
    [(0.0, 1.0), (-1.0, 1.0), (-1e-30, 1e-30), (1.0, 1.0 + 2**-20), (-3e38, 3e38), (0.1, 0.7)],
)
def test_uniform_stays_strictly_inside(dtype, low, high):
    x = fastglorot.uniform_(np.empty(1 << 20, dtype), low, high, seed=9)
    as_f64 = x.astype(np.float64)
    assert np.all(np.isfinite(x))
    assert as_f64.min() > low and as_f64.max() < high


def test_uniform_degenerate_intervals_are_closed():
    one = np.float32(1.0)
    same = fastglorot.uniform_(np.empty(1000, np.float32), 1.0, 1.0, seed=1)
    assert np.all(same == one)
    adjacent = float(np.nextafter(one, np.float32(2)))
    x = fastglorot.uniform_(np.empty(1000, np.float32), 1.0, adjacent, seed=1)
    assert set(np.unique(x).tolist()) <= {1.0, adjacent}


@njit
def _uniform_f32_all_codes(half_width):
    out = np.empty(1 << 24, np.float32)
    scale = np.float32(half_width * 2.0**-24)
    lo = np.nextafter(np.float32(-half_width), np.float32(0))
    hi = np.nextafter(np.float32(half_width), np.float32(0))
    for k in range(1 << 24):
        out[k] = uniform_f32(np.uint32(k << 8), (np.float32(0), scale, lo, hi))
    return out


@pytest.mark.parametrize("half_width", [1.0, 0.1, 1 / 3, float(np.sqrt(6 / (784 + 256)))])
def test_uniform_float32_attainable_values_symmetric(half_width):
    """All 2**24 float32 codes of U(-a, a): code k and code 2**24-1-k are negatives."""
    values = _uniform_f32_all_codes(np.float32(half_width))
    np.testing.assert_array_equal(values, -values[::-1])
    assert np.all(np.diff(values) >= 0)  # monotone in the code


@njit
def _box_muller_f32(radius_words, angle_words):
    cos_out = np.empty(radius_words.size, np.float32)
    sin_out = np.empty(radius_words.size, np.float32)
    for i in range(radius_words.size):
        r = normal_radius_f32(radius_words[i])
        s, c = sincos_turn_f32(angle_words[i])
        cos_out[i] = r * c
        sin_out[i] = r * s
    return cos_out, sin_out


def test_normal_float32_accuracy_over_many_uniforms():
    """4 ulp bound on 2**22 random word pairs plus edge words (quadrant and octant borders)."""
    rng = np.random.default_rng(10)
    radius = rng.integers(0, 2**32, 1 << 22, dtype=np.uint64).astype(np.uint32)
    angle = rng.integers(0, 2**32, 1 << 22, dtype=np.uint64).astype(np.uint32)
    edges = np.array([0, 1, 2**29 - 1, 2**29, 2**30 - 1, 2**30, 2**31 - 1, 2**31, 3 << 30, 2**32 - 1], np.uint32)
    radius[: edges.size ** 2] = np.repeat(edges, edges.size)
    angle[: edges.size ** 2] = np.tile(edges, edges.size)
    cos_out, sin_out = _box_muller_f32(radius, angle)
    r = np.sqrt(-2 * np.log((radius.astype(np.float64) + 0.5) / 2.0**32))
    sin, cos = ref.sincos_turns(angle, 32)
    for got, exact in [(cos_out, r * cos), (sin_out, r * sin)]:
        ulps = ref.ulp_distance(got, exact, np.float32)
        assert np.all((ulps <= 4) | (np.abs(got - exact) <= 1e-6)), ulps.max()


def test_normal_tails_reach_documented_extremes():
    @njit
    def extremes():
        r32 = normal_radius_f32(np.uint32(0))
        r64 = ieee_sqrt(minus_two_log(np.float64(0.5), 52, TERMS_F64))
        return r32, r64

    r32, r64 = extremes()
    assert r32 >= 6.5 and abs(r32 - np.sqrt(66 * np.log(2))) < 1e-5
    assert r64 >= 8.0 and abs(r64 - np.sqrt(106 * np.log(2))) < 1e-12


@pytest.mark.parametrize("dtype", DTYPES)
def test_normal_is_finite_and_symmetric_in_law(dtype):
    x = fastglorot.normal_(np.empty(1 << 22, dtype), seed=12)
    assert np.all(np.isfinite(x))
    assert np.abs(x).max() < (6.77 if dtype == np.float32 else 8.58)
    assert stats.kstest(x, -x).pvalue > ALPHA  # two-sample: z and -z alike
