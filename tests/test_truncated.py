"""Truncated normal: inverse-CDF definition, bounds, tails, errors."""

import numpy as np
import pytest
from scipy import stats

import fastglorot as fg
import stream_reference as ref

ALPHA = 1e-3
INTERVALS = [  # (mean, std, a, b): central, one-sided, far tails on both sides, narrow
    (0.0, 1.0, -2.0, 2.0),
    (0.5, 2.0, -1.0, 10.0),
    (0.0, 1.0, 3.0, 4.0),
    (0.0, 1.0, -9.0, -8.5),
    (1.0, 0.1, 1.0 + 30 * 0.1, 1.0 + 31 * 0.1),
    (0.0, 1.0, -1e-3, 1e-3),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mean, std, a, b", INTERVALS)
def test_matches_scipy_inverse_cdf_of_the_stream_uniform(dtype, mean, std, a, b):
    """Element i is truncnorm.ppf(v_i) with v_i from README "Stream format" (scipy is the reference)."""
    n, offset, seed, stream = 3000, 101, 12, 5
    out = fg.trunc_normal_(np.empty(n, dtype), mean, std, a, b, seed=seed, stream=stream, offset=offset)
    v = ref.truncated_uniforms(np.arange(n) + offset, seed, stream, dtype)
    law = stats.truncnorm((a - mean) / std, (b - mean) / std, loc=mean, scale=std)
    expected = np.clip(law.ppf(v), a, b)
    if dtype == np.float64:
        np.testing.assert_allclose(out, expected, rtol=1e-11, atol=1e-12 * std)
    else:
        assert np.max(ref.ulp_distance(out, expected, np.float32)) <= 1.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mean, std, a, b", INTERVALS)
def test_never_leaves_the_interval_and_fits_the_law(dtype, mean, std, a, b):
    x = fg.trunc_normal((1 << 19,), mean, std, a, b, seed=13, dtype=dtype)
    assert np.all(np.isfinite(x))
    assert x.min() >= a and x.max() <= b
    law = stats.truncnorm((a - mean) / std, (b - mean) / std, loc=mean, scale=std)
    if b - a > 1e-2 * std:  # narrower intervals are dominated by float rounding, not the law
        assert stats.kstest(x.astype(np.float64), law.cdf).pvalue > ALPHA


def test_default_is_standard_normal_on_minus_two_two():
    x = fg.trunc_normal_(np.empty(1 << 20), seed=14)
    assert stats.kstest(x, stats.truncnorm(-2, 2).cdf).pvalue > ALPHA
    assert x.std() == pytest.approx(0.87962566103423978, rel=5e-3)


def test_bounds_are_closed_and_exact_in_float32():
    """Bounds not representable in float32 clamp to the nearest float32 inside."""
    a, b = -0.1, 0.1
    x = fg.trunc_normal_(np.empty(1 << 16, np.float32), 0.0, 10.0, a, b, seed=15)
    assert float(x.min()) >= a and float(x.max()) <= b


@pytest.mark.parametrize("kwargs, error", [
    (dict(std=0.0), ValueError),
    (dict(std=-1.0), ValueError),
    (dict(a=1.0, b=1.0), ValueError),
    (dict(a=2.0, b=-2.0), ValueError),
    (dict(a=float("-inf")), ValueError),
    (dict(mean=float("nan")), ValueError),
    (dict(a=40.0, b=41.0), ValueError),  # no probability mass in float64
    (dict(b="2"), TypeError),
])
def test_errors(kwargs, error):
    out = np.full(10, 3.25)
    with pytest.raises(error):
        fg.trunc_normal_(out, **{"seed": 1, **kwargs})
    assert np.all(out == 3.25)


def test_entropy_seed_when_none():
    assert not np.array_equal(fg.trunc_normal_(np.empty(64)), fg.trunc_normal_(np.empty(64)))


@pytest.mark.parametrize("a, b", [(-2.0, 2.0), (-0.1, 6.0), (3.0, 4.0), (-9.0, 9.0)])
def test_tail_gathering_matches_the_scalar_form(a, b):
    """The kernels gather tail elements to vectorize them; every bit must match
    the plain per-element form (README "Stream format": the signed probability,
    then AS 241's central or tail branch for the nearer tail)."""
    from numba import njit

    from fastglorot._engines.numba_elements import truncated_probability
    from fastglorot._engines.numba_elements import in_lower_tail, normal_quantile_central, normal_quantile_tail
    from fastglorot._format.normal_cdf import normal_cdf

    @njit
    def scalar(words, lower_tail, upper_tail, mass):
        out = np.empty(words.size)
        for i in range(words.size):
            signed = truncated_probability(words[i], 32, lower_tail, upper_tail, mass)
            p = abs(signed)
            z = normal_quantile_tail(p) if in_lower_tail(p) else normal_quantile_central(p)
            out[i] = z if signed > 0 else -z
        return out

    n, seed = 20_000, 21
    kernel = fg.trunc_normal_(np.empty(n, np.float32), 0.0, 1.0, a, b, seed=seed)
    lower_tail, upper_tail = normal_cdf(a), normal_cdf(-b)
    mass = normal_cdf(-a) - upper_tail if a >= 0 else 1.0 - lower_tail - upper_tail
    expected = scalar(fg.random_bits(n, seed=seed), lower_tail, upper_tail, mass).astype(np.float32)
    low, high = np.float32(a), np.float32(b)  # the float32 values inside [a, b] closest to the bounds
    low = np.nextafter(low, np.float32(np.inf)) if low < a else low
    high = np.nextafter(high, np.float32(-np.inf)) if high > b else high
    np.testing.assert_array_equal(kernel, np.clip(expected, low, high))
