"""Bad input: clear exceptions, raised before any write."""

import numpy as np
import pytest

import fastglorot

SENTINEL = 123.25


def fresh(dtype=np.float32, shape=(64, 8)):
    return np.full(shape, SENTINEL, dtype)


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda out: fastglorot.uniform_(out, seed=-1), ValueError),
        (lambda out: fastglorot.uniform_(out, seed=2**64), ValueError),
        (lambda out: fastglorot.uniform_(out, seed=1.5), TypeError),
        (lambda out: fastglorot.uniform_(out, seed=True), TypeError),
        (lambda out: fastglorot.uniform_(out, seed="1"), TypeError),
        (lambda out: fastglorot.uniform_(out, seed=1, stream=-1), ValueError),
        (lambda out: fastglorot.uniform_(out, seed=1, stream=2**64), ValueError),
        (lambda out: fastglorot.uniform_(out, seed=1, offset=-1), ValueError),
        (lambda out: fastglorot.uniform_(out, seed=1, offset=2**62), ValueError),
        (lambda out: fastglorot.uniform_(out, 1.0, 0.0, seed=1), ValueError),
        (lambda out: fastglorot.uniform_(out, float("nan"), 1.0, seed=1), ValueError),
        (lambda out: fastglorot.uniform_(out, 0.0, float("inf"), seed=1), ValueError),
        (lambda out: fastglorot.uniform_(out, -1e39, 1.0, seed=1), ValueError),  # beyond float32
        (lambda out: fastglorot.uniform_(out, "0", 1.0, seed=1), TypeError),
        (lambda out: fastglorot.normal_(out, 0.0, -1.0, seed=1), ValueError),
        (lambda out: fastglorot.normal_(out, float("nan"), 1.0, seed=1), ValueError),
        (lambda out: fastglorot.normal_(out, 0.0, float("inf"), seed=1), ValueError),
        (lambda out: fastglorot.normal_(out, seed=2**64), ValueError),
    ],
)
def test_rejected_before_any_write(call, error):
    out = fresh()
    with pytest.raises(error):
        call(out)
    assert np.all(out == SENTINEL)


@pytest.mark.parametrize("bad", [[1.0, 2.0], 3.0, "x", None, np.empty(3, np.int32), np.empty(3, np.longdouble),
                                 np.empty(3, np.complex64), np.empty(3, object)])
def test_non_float_arrays_are_type_errors(bad):
    with pytest.raises(TypeError):
        fastglorot.uniform_(bad, seed=1)
    with pytest.raises(TypeError):
        fastglorot.normal_(bad, seed=1)


def test_read_only_buffer():
    out = fresh()
    out.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        fastglorot.normal_(out, seed=1)
    assert np.all(out == SENTINEL)
    frozen = np.frombuffer(bytes(64), dtype=np.float64)
    with pytest.raises(ValueError, match="read-only"):
        fastglorot.uniform_(frozen, seed=1)


def test_zero_size_is_a_noop_but_still_validated():
    empty = np.empty((0, 5), np.float32)
    assert fastglorot.uniform_(empty, seed=1) is empty
    assert fastglorot.normal_(empty, seed=1, offset=2**62) is empty
    with pytest.raises(ValueError):
        fastglorot.uniform_(empty, seed=-1)
    assert fastglorot.random_bits(0, seed=1).shape == (0,)


def test_returns_out_itself():
    out = fresh()
    assert fastglorot.uniform_(out, seed=1) is out
    assert fastglorot.normal_(out, seed=1) is out


@pytest.mark.parametrize("n, kwargs, error", [
    (-1, {}, ValueError),
    (2.0, {}, TypeError),
    (4, {"seed": 2**64}, ValueError),
    (4, {"offset": -3}, ValueError),
    (4, {"offset": 2**62 - 3}, ValueError),
])
def test_random_bits_errors(n, kwargs, error):
    with pytest.raises(error):
        fastglorot.random_bits(n, **{"seed": 1, **kwargs})


def test_numpy_integers_are_accepted():
    a = fastglorot.uniform_(fresh(), seed=np.uint64(2**64 - 1), stream=np.int32(3), offset=np.int64(5))
    b = fastglorot.uniform_(fresh(), seed=2**64 - 1, stream=3, offset=5)
    np.testing.assert_array_equal(a, b)
