"""One argument policy for every public function (README "Buffers, dtypes and arguments"), one test per rule."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import fastglorot
from fastglorot import Generator
from fastglorot._api.arguments import RULES

IN_PLACE = ["uniform_", "normal_", "trunc_normal_", *(row.in_place for row in fastglorot.INITIALIZERS.values())]
ALLOCATING = [name[:-1] for name in IN_PLACE]
INITIALIZERS = [row.in_place for row in fastglorot.INITIALIZERS.values()]
SENTINEL = 3.25


def fresh(shape=(16, 8)):
    return np.full(shape, SENTINEL, np.float32)


# -- seed ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", IN_PLACE + ALLOCATING + ["random_bits"])
def test_seed_is_an_optional_keyword_defaulting_to_none_everywhere(name):
    parameter = inspect.signature(getattr(fastglorot, name)).parameters["seed"]
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY and parameter.default is None


@pytest.mark.parametrize("name", ["uniform_", "normal_", "glorot_uniform_", "lecun_normal_"])
def test_seed_none_draws_entropy_and_explicit_seeds_replay(name):
    fill = getattr(fastglorot, name)
    first, second = fill(np.empty((32, 32), np.float32)), fill(np.empty((32, 32), np.float32))
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(fill(np.empty((32, 32), np.float32), seed=9),
                                  fill(np.empty((32, 32), np.float32), seed=9))


def test_random_bits_follows_the_same_seed_rule():
    assert not np.array_equal(fastglorot.random_bits(64), fastglorot.random_bits(64))
    with pytest.raises(ValueError):
        fastglorot.random_bits(4, seed=-1)


@pytest.mark.parametrize("name", IN_PLACE)
@pytest.mark.parametrize("seed, error", [(-1, ValueError), (2**64, ValueError), (1.5, TypeError),
                                         (True, TypeError), ("1", TypeError)])
def test_bad_seed_same_error_everywhere(name, seed, error):
    out = fresh()
    with pytest.raises(error, match="seed"):
        getattr(fastglorot, name)(out, seed=seed)
    assert (out == SENTINEL).all()


# -- stream ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", IN_PLACE)
@pytest.mark.parametrize("stream, error", [(-1, ValueError), (1.5, TypeError), (None, TypeError)])
def test_bad_stream_says_names_are_accepted_too(name, stream, error):
    out = fresh()
    with pytest.raises(error, match="str name"):
        getattr(fastglorot, name)(out, seed=1, stream=stream)
    assert (out == SENTINEL).all()


# -- every check before any early return -----------------------------------------------

@pytest.mark.parametrize("call", [
    lambda out: fastglorot.variance_scaling_(out, layout="bogus", seed=1),
    lambda out: fastglorot.variance_scaling_(out, seed=-5),
    lambda out: fastglorot.glorot_uniform_(out, stream=2.5, seed=1),
    lambda out: fastglorot.kaiming_normal_(out, nonlinearity="swish", seed=1),
    lambda out: fastglorot.glorot_normal_(out, truncated="yes", seed=1),
    lambda out: fastglorot.uniform_(out, seed=-5),
    lambda out: fastglorot.trunc_normal_(out, 0.0, -1.0, seed=1),
])
def test_zero_element_outputs_are_checked_like_any_other(call):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the zero-element warning must not come first
        with pytest.raises((TypeError, ValueError)):
            call(np.empty((0, 4), np.float32))


@pytest.mark.parametrize("name", INITIALIZERS)
def test_layout_is_checked_even_when_fans_are_given(name):
    out = fresh()
    with pytest.raises(ValueError, match="layout must be one of 'torch', 'jax', 'keras'"):
        getattr(fastglorot, name)(out, layout="bogus", fan_in=3, fan_out=4, seed=1)
    assert (out == SENTINEL).all()


# -- declared once ---------------------------------------------------------------------

CHECKED_ELSEWHERE = {
    "out": "_buffers.as_output", "shape": "_position.as_shape (via allocate)", "dtype": "_formats.format_of",
    "offset": "_position.resolve_position", "global_shape": "_position.resolve_position",
    "global_offset": "_position.resolve_position", "n": "_validate.as_count",
    "low": "_params.as_finite (dtype range)", "high": "_params.as_finite (dtype range)",
    "mean": "_params.as_finite (dtype range)", "std": "_params.as_finite (dtype range)",
    "b": "_params.as_finite (dtype range)",
}


@pytest.mark.parametrize("name", IN_PLACE + ALLOCATING + ["random_bits"])
def test_every_argument_has_one_declared_rule(name):
    """Every parameter of every public fill is in RULES or in the few per-dtype/buffer checks."""
    for parameter in inspect.signature(getattr(fastglorot, name)).parameters:
        assert parameter in RULES or parameter in CHECKED_ELSEWHERE, (name, parameter)


# -- errors that say what to do --------------------------------------------------------

def test_read_only_error_suggests_a_copy():
    out = fresh()
    out.flags.writeable = False
    with pytest.raises(ValueError, match=r"read-only.*\.copy\(\)"):
        fastglorot.glorot_uniform_(out, seed=1)


def test_broadcast_view_error_says_it_cannot_be_filled():
    with pytest.raises(ValueError, match="broadcast"):
        fastglorot.normal_(np.broadcast_to(np.zeros(4, np.float32), (3, 4)), seed=1)


@pytest.mark.parametrize("shape, error, match", [
    ((4, -4), ValueError, r"shape\[1\] must be non-negative"),
    ((4.0, 4), TypeError, r"shape\[0\] must be an integer"),
    ("44", TypeError, "shape must be an int or a sequence"),
    (None, TypeError, "shape must be an int or a sequence"),
])
def test_bad_shapes_name_the_shape_argument(shape, error, match):
    with pytest.raises(error, match=match):
        fastglorot.glorot_uniform(shape, seed=1)


def test_unknown_nonlinearity_lists_the_valid_ones():
    with pytest.raises(ValueError, match="Unsupported nonlinearity 'swish'; valid: 'linear', .*'selu'"):
        fastglorot.kaiming_uniform_(fresh(), nonlinearity="swish", seed=1)
    with pytest.raises(ValueError, match="valid: .*'leaky_relu'"):
        fastglorot.calculate_gain("swish")


@pytest.mark.parametrize("name", ["glorot_uniform_", "uniform_", "glorot_uniform", "random_bits"])
def test_generator_methods_reject_seed_with_a_clear_message(name):
    first = fresh() if name.endswith("_") else (4, 4) if name != "random_bits" else 4
    with pytest.raises(TypeError) as info:
        getattr(Generator(1), name)(first, seed=5)
    message = str(info.value)
    assert message.startswith(f"Generator.{name}() takes no seed") and "Generator(5)" in message
    assert "fastglorot._" not in message


def test_allocating_uniform_and_normal_exist_beside_trunc_normal():
    u = fastglorot.uniform((100, 10), -2.0, 3.0, seed=1)
    n = fastglorot.normal((100, 10), 1.0, 0.5, seed=1, dtype=np.float64)
    t = fastglorot.trunc_normal((100, 10), 0.0, 1.0, -1.0, 1.0, seed=1)
    np.testing.assert_array_equal(u, fastglorot.uniform_(np.empty((100, 10), np.float32), -2.0, 3.0, seed=1))
    assert n.dtype == np.float64 and t.dtype == np.float32
    assert u.min() > -2.0 and u.max() < 3.0 and np.abs(t).max() <= 1.0


def test_torch_dtype_in_an_allocating_call_is_rejected_clearly():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="torch dtype.*NumPy arrays.*glorot_uniform_\\(torch.empty"):
        fastglorot.glorot_uniform((4, 4), dtype=torch.float32, seed=1)


def test_stream_format_constant_and_compatibility_paragraphs():
    assert fastglorot.STREAM_FORMAT == 1
    for documented in (fastglorot.uniform_, fastglorot.glorot_uniform_, fastglorot.Generator):
        assert "Compatibility guarantee" in documented.__doc__ or "compatibility guarantee" in documented.__doc__
