"""The documented stream format, re-derived from ``philox4x32`` alone.

``stream_reference`` rebuilds elements from README "Stream format" using only
the public Philox function and the documented conversions; the kernels must
agree bit for bit (uniform, raw words) or within the documented accuracy
(normal).
"""

import numpy as np
import pytest

import fastglorot
import stream_reference as ref

N = 5000
CASES = [
    # (seed, stream, offset)
    (0, 0, 0),
    (2**64 - 1, 2**64 - 1, 777),
    (0xDEADBEEFCAFEF00D, 12345, 2**40 + 3),
    (42, 2**33 + 7, 2**62 - N),
]


def _positions(n):
    rng = np.random.default_rng(n)
    edges = [0, 1, 127, 128, 255, 256, 511, 512, 513, n - 1]
    return np.unique(np.concatenate([edges, rng.integers(0, n, 300)]))


def _documented_uniform_params(low, high, dtype, bits):
    ftype = np.dtype(dtype).type
    mid = ftype(0.5 * low + 0.5 * high)
    scale = ftype((0.5 * high - 0.5 * low) * 2.0**-bits)
    clamp_low = np.nextafter(ftype(low), ftype(np.inf)) if float(ftype(low)) <= low else ftype(low)
    clamp_high = np.nextafter(ftype(high), ftype(-np.inf)) if float(ftype(high)) >= high else ftype(high)
    return mid, scale, clamp_low, clamp_high


@pytest.mark.parametrize("seed, stream, offset", CASES)
def test_random_bits(seed, stream, offset):
    got = fastglorot.random_bits(N, seed=seed, stream=stream, offset=offset)
    at = _positions(N)
    np.testing.assert_array_equal(got[at], ref.words(at + offset, seed, stream))


def test_random_bits_layout_is_lane_blocked():
    """Word 128*j + m of tile 0 is lane j of counter m."""
    got = fastglorot.random_bits(512, seed=7, stream=3)
    counters = ref.counter_words(np.arange(128), 3)
    lanes = fastglorot.philox4x32(counters, ref.key_words(7))
    np.testing.assert_array_equal(got.reshape(4, 128), lanes.T)


UNIFORM_REFERENCES = {np.float32: (24, ref.uniform_float32), np.float64: (53, ref.uniform_float64)}


@pytest.mark.parametrize("seed, stream, offset", CASES)
@pytest.mark.parametrize("low, high", [(-1.0, 1.0), (0.0, 1.0), (-0.0625, 0.3), (2.5, 1e6)])
@pytest.mark.parametrize("dtype", UNIFORM_REFERENCES)
def test_uniform(dtype, seed, stream, offset, low, high):
    bits, reference = UNIFORM_REFERENCES[dtype]
    out = fastglorot.uniform_(np.empty(N, dtype), low, high, seed=seed, stream=stream, offset=offset)
    at = _positions(N)
    params = _documented_uniform_params(low, high, dtype, bits)
    np.testing.assert_array_equal(out[at], reference(at + offset, seed, stream, *params))


@pytest.mark.parametrize("seed, stream, offset", CASES)
def test_normal_float32_within_4_ulps_of_float64_box_muller(seed, stream, offset):
    out = np.empty(N, np.float32)
    fastglorot.normal_(out, seed=seed, stream=stream, offset=offset)
    at = _positions(N)
    exact = ref.normal_float32_exact(at + offset, seed, stream)
    ulps = ref.ulp_distance(out[at], exact, np.float32)
    near_zero = np.abs(out[at] - exact) <= 1e-6
    assert np.all((ulps <= 4) | near_zero), ulps.max()


@pytest.mark.parametrize("seed, stream, offset", CASES)
def test_normal_float64_matches_box_muller(seed, stream, offset):
    """float64: within 8 ulps of NumPy's float64 Box–Muller (itself ~1-2 ulps off)."""
    out = np.empty(N, np.float64)
    fastglorot.normal_(out, seed=seed, stream=stream, offset=offset)
    at = _positions(N)
    exact = ref.normal_float64_exact(at + offset, seed, stream)
    ulps = ref.ulp_distance(out[at], exact, np.float64)
    assert np.all((ulps <= 8) | (np.abs(out[at] - exact) <= 1e-15)), ulps.max()


def test_normal_mean_and_std_are_affine():
    """``normal_(out, mean, std)`` is ``mean + (std * r) * trig`` of the standard draw."""
    z = fastglorot.normal_(np.empty(4096, np.float64), seed=5)
    scaled = fastglorot.normal_(np.empty(4096, np.float64), 3.0, 0.5, seed=5)
    np.testing.assert_allclose(scaled, 3.0 + 0.5 * z, rtol=0, atol=1e-15)
    assert np.all(fastglorot.normal_(np.empty(1000, np.float32), 2.0, 0.0, seed=5) == np.float32(2.0))
