"""Initializers: formulas, equivalences, distributions, sharding, errors."""

import inspect
import math
import warnings

import numpy as np
import pytest
from scipy import stats

import fastglorot as fg

ALPHA = 1e-3
SHAPES = [(300, 200), (64, 32, 3, 3), (1000, 7)]


def torch_fans(shape):
    """(fan_in, fan_out) by torch's formula for an (out, in, *kernel) shape."""
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def same(a, b):
    return a.dtype == b.dtype and np.array_equal(a.view(np.uint8), b.view(np.uint8))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("gain", [1.0, 5 / 3, math.sqrt(2)])
def test_glorot_uniform_is_uniform_with_the_glorot_bound(shape, gain):
    fan_in, fan_out = torch_fans(shape)
    bound = gain * math.sqrt(6 / (fan_in + fan_out))  # torch.nn.init.xavier_uniform_'s formula
    w = fg.glorot_uniform_(np.empty(shape, np.float32), gain=gain, seed=3, stream=1)
    limit = math.sqrt(3 * gain**2 / ((fan_in + fan_out) / 2))  # variance_scaling's form
    assert limit == pytest.approx(bound, rel=1e-15)
    assert same(w, fg.uniform_(np.empty(shape, np.float32), -limit, limit, seed=3, stream=1))
    assert np.abs(w).max() < bound and np.abs(w).max() > 0.99 * bound


@pytest.mark.parametrize("shape", SHAPES)
def test_glorot_normal_std_and_truncated_variant(shape):
    fan_in, fan_out = torch_fans(shape)
    gain = 0.5
    sigma = gain * math.sqrt(2 / (fan_in + fan_out))  # torch.nn.init.xavier_normal_'s std
    w = fg.glorot_normal_(np.empty(shape), gain=gain, seed=4)
    assert same(w, fg.normal_(np.empty(shape), 0.0, math.sqrt(gain**2 / ((fan_in + fan_out) / 2)), seed=4))
    assert math.sqrt(gain**2 / ((fan_in + fan_out) / 2)) == pytest.approx(sigma, rel=1e-15)
    t = fg.glorot_normal_(np.empty(shape), gain=gain, truncated=True, seed=4)
    s = sigma / 0.87962566103423978  # JAX/Keras: truncated at +-2 of its own std
    assert same(t, fg.trunc_normal_(np.empty(shape), 0.0, s, -2 * s, 2 * s, seed=4))
    assert np.abs(t).max() <= 2 * s


def test_truncated_factor_keeps_the_variance():
    """0.8796... is the std of N(0,1) truncated to [-2, 2] (scipy confirms), so the variance stays sigma**2."""
    assert stats.truncnorm(-2, 2).std() == pytest.approx(0.87962566103423978, rel=1e-15)
    w = fg.glorot_normal((2000, 1000), truncated=True, seed=5)
    sigma = math.sqrt(2 / 3000)
    assert stats.kstest(w.ravel(), stats.truncnorm(-2, 2, scale=sigma / 0.87962566103423978).cdf).pvalue > ALPHA


@pytest.mark.parametrize("mode", fg.MODES)
@pytest.mark.parametrize("distribution", ["uniform", "normal", "untruncated_normal", "truncated_normal"])
@pytest.mark.parametrize("layout", ["torch", "jax"])
def test_variance_scaling_distributions(mode, distribution, layout):
    shape = (120, 80, 3, 3) if layout == "torch" else (3, 3, 80, 120)
    fan_in, fan_out = 80 * 9, 120 * 9
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
         "fan_geo_avg": math.sqrt(fan_in * fan_out)}[mode]
    scale = 2.5
    w = fg.variance_scaling(shape, scale, mode, distribution, seed=6, layout=layout).ravel()
    sigma = math.sqrt(scale / n)
    law = {
        "uniform": stats.uniform(-sigma * math.sqrt(3), 2 * sigma * math.sqrt(3)),
        "normal": stats.norm(0, sigma),
        "untruncated_normal": stats.norm(0, sigma),
        "truncated_normal": stats.truncnorm(-2, 2, scale=sigma / 0.87962566103423978),
    }[distribution]
    assert stats.kstest(w, law.cdf).pvalue > ALPHA
    assert w.var() == pytest.approx(sigma**2, rel=0.02)


NONLINEARITIES = [("relu", 0), ("leaky_relu", 0), ("leaky_relu", 0.2), ("tanh", 0), ("linear", 0), ("selu", 0)]


@pytest.mark.parametrize("nonlinearity, a", NONLINEARITIES)
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming_matches_torch_formulas(nonlinearity, a, mode):
    torch = pytest.importorskip("torch")
    shape = (96, 48, 5)
    meta = torch.empty(shape, device="meta")
    fan = torch.nn.init._calculate_correct_fan(meta, mode)
    gain = torch.nn.init.calculate_gain(nonlinearity, a)
    std = gain / math.sqrt(fan)  # torch.nn.init.kaiming_normal_
    bound = math.sqrt(3.0) * std  # torch.nn.init.kaiming_uniform_
    u = fg.kaiming_uniform(shape, a, mode, nonlinearity, seed=7)
    assert np.abs(u).max() < bound * (1 + 1e-6) and np.abs(u).max() > 0.98 * bound
    assert same(u, fg.uniform_(np.empty(shape, np.float32), -math.sqrt(3 * gain**2 / fan),
                               math.sqrt(3 * gain**2 / fan), seed=7))
    n = fg.kaiming_normal(shape, a, mode, nonlinearity, seed=7, dtype=np.float64)
    assert same(n, fg.normal_(np.empty(shape), 0.0, math.sqrt(gain**2 / fan), seed=7))
    assert math.sqrt(gain**2 / fan) == pytest.approx(std, rel=1e-15)


@pytest.mark.parametrize("function, scale, distribution", [
    (fg.he_uniform_, 2.0, "uniform"), (fg.he_normal_, 2.0, "truncated_normal"),
    (fg.lecun_uniform_, 1.0, "uniform"), (fg.lecun_normal_, 1.0, "truncated_normal"),
])
def test_he_and_lecun_are_variance_scaling(function, scale, distribution):
    shape = (33, 65, 2)
    ours = function(np.empty(shape, np.float32), seed=8, stream="layer")
    expected = fg.variance_scaling_(np.empty(shape, np.float32), scale, "fan_in", distribution, seed=8, stream="layer")
    assert same(ours, expected)


def test_aliases():
    assert fg.xavier_uniform_ is fg.glorot_uniform_ and fg.xavier_normal_ is fg.glorot_normal_
    assert same(fg.xavier_uniform((10, 20), seed=1), fg.glorot_uniform((10, 20), seed=1))


@pytest.mark.parametrize("name", ["glorot_uniform", "glorot_normal", "variance_scaling", "kaiming_uniform",
                                  "kaiming_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal",
                                  "trunc_normal"])
def test_allocating_versions(name):
    allocate_and_fill, fill = getattr(fg, name), getattr(fg, name + "_")
    params = inspect.signature(allocate_and_fill).parameters
    assert list(params)[0] == "shape" and params["dtype"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["dtype"].default is np.float32
    new = allocate_and_fill((40, 30), seed=9, stream=2)
    assert new.shape == (40, 30) and new.dtype == np.float32 and new.flags.c_contiguous
    assert same(new, fill(np.empty((40, 30), np.float32), seed=9, stream=2))
    assert allocate_and_fill((4, 3), dtype=np.float64, seed=1).dtype == np.float64


def test_sharded_init_equals_whole_init():
    """Row shards with the whole weight's fans and their global offset reproduce one fill."""
    shape = (1000, 300)
    whole = fg.glorot_normal(shape, seed=10, stream="w")
    fan_in, fan_out = torch_fans(shape)
    shards = [fg.glorot_normal((rows.stop - rows.start, 300), seed=10, stream="w", fan_in=fan_in,
                               fan_out=fan_out, offset=rows.start * 300)
              for rows in (slice(0, 333), slice(333, 334), slice(334, 1000))]
    assert same(np.concatenate(shards), whole)


def test_named_streams_are_independent_of_creation_order():
    names = ["encoder.0.weight", "encoder.1.weight", "decoder.weight"]
    forward = {name: fg.glorot_uniform((50, 40), seed=11, stream=name) for name in names}
    backward = {name: fg.glorot_uniform((50, 40), seed=11, stream=name) for name in reversed(names)}
    assert all(same(forward[name], backward[name]) for name in names)
    assert not np.array_equal(forward[names[0]], forward[names[1]])


def test_entropy_seed_gives_fresh_values():
    assert not np.array_equal(fg.glorot_uniform((64, 64)), fg.glorot_uniform((64, 64)))


@pytest.mark.parametrize("call", [
    lambda out: fg.glorot_uniform_(out, seed=1),
    lambda out: fg.kaiming_normal_(out, seed=1),
    lambda out: fg.variance_scaling_(out, seed=1),
])
def test_zero_element_is_a_noop_with_a_warning(call):
    out = np.empty((0, 10), np.float32)
    with pytest.warns(UserWarning, match="zero-element"):
        assert call(out) is out


SENTINEL = 7.5


@pytest.mark.parametrize("call, error", [
    (lambda out: fg.variance_scaling_(out, 0.0, seed=1), ValueError),
    (lambda out: fg.variance_scaling_(out, -1.0, seed=1), ValueError),
    (lambda out: fg.variance_scaling_(out, float("nan"), seed=1), ValueError),
    (lambda out: fg.variance_scaling_(out, "1", seed=1), TypeError),
    (lambda out: fg.variance_scaling_(out, 1.0, "fan_sum", seed=1), ValueError),
    (lambda out: fg.variance_scaling_(out, 1.0, "fan_in", "cauchy", seed=1), ValueError),
    (lambda out: fg.glorot_uniform_(out, gain=0.0, seed=1), ValueError),
    (lambda out: fg.glorot_uniform_(out, gain=-1.0, seed=1), ValueError),
    (lambda out: fg.glorot_uniform_(out, layout="tf", seed=1), ValueError),
    (lambda out: fg.glorot_uniform_(out, fan_in=0, seed=1), ValueError),
    (lambda out: fg.glorot_uniform_(out, fan_in=2.5, fan_out=3, seed=1), TypeError),
    (lambda out: fg.glorot_uniform_(out, seed=2**64), ValueError),
    (lambda out: fg.glorot_uniform_(out, seed=1, stream=1.5), TypeError),
    (lambda out: fg.kaiming_uniform_(out, nonlinearity="swish", seed=1), ValueError),
    (lambda out: fg.kaiming_uniform_(out, a=True, seed=1), ValueError),
    (lambda out: fg.glorot_uniform_(out[0], seed=1), ValueError),  # 1-D: no fans
])
def test_errors_leave_the_buffer_untouched(call, error):
    out = np.full((6, 4), SENTINEL, np.float32)
    with pytest.raises(error):
        call(out)
    assert np.all(out == SENTINEL)


def test_one_dimensional_message_matches_torch():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        fg.glorot_uniform((10,), seed=1)


def test_fan_overrides_allow_one_dimensional_buffers():
    w = fg.glorot_uniform((10,), fan_in=3, fan_out=5, seed=1)
    assert np.abs(w).max() < math.sqrt(6 / 8)


def test_no_warning_for_regular_calls():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fg.he_normal((8, 8), seed=1)
