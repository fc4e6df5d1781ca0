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


# -- arrays too large: the user's shape and dtype, the limit, what to do instead ---------------------------------

def test_shape_beyond_numpys_address_space_names_the_shape():
    """The report's reproduction: NumPy would say "Maximum allowed dimension exceeded" about its own buffer."""
    with pytest.raises(ValueError) as error:
        fastglorot.uniform((2**31, 2**31), seed=0)
    message = str(error.value)
    assert message.startswith("an array of shape (2147483648, 2147483648) and dtype float32 would hold 16.00 EiB")
    assert "more than NumPy can address (2**63 - 1 bytes)" in message and "global_shape=" in message


def _overcommit_mode():
    try:
        with open("/proc/sys/vm/overcommit_memory") as f:
            return int(f.read())
    except OSError:
        return None


@pytest.mark.skipif(_overcommit_mode() not in (0, 2), reason="needs Linux's heuristic or strict overcommit, which "
                    "refuse a 4 TiB allocation (with overcommit_memory=1 it would succeed and the fill run out)")
@pytest.mark.parametrize("dtype, size", [("float32", "4.00 TiB (4398046511104 bytes)"),
                                         ("bfloat16", "2.00 TiB (2199023255552 bytes)")])
def test_memory_error_names_the_shape_dtype_and_size(dtype, size):
    """The report's reproduction: NumPy's message named a (4398046511168,) uint8 array, an internal buffer."""
    with pytest.raises(MemoryError) as error:
        fastglorot.glorot_uniform((2**20, 2**20), dtype=dtype, seed=0)
    message = str(error.value)
    assert message.startswith(f"cannot allocate an array of shape (1048576, 1048576) and dtype {dtype}: {size} "
                              "does not fit in memory (")
    assert "uint8" not in message and "fastglorot.dask" in message


def test_memory_error_message_without_knowing_the_available_memory(monkeypatch):
    from fastglorot._engines import memory as _memory

    def refuse(*args, **kwargs):
        raise MemoryError("Unable to allocate 64.0 MiB for an array with shape (67108928,) and data type uint8")

    monkeypatch.setattr(_memory.np, "empty", refuse)
    monkeypatch.setattr(_memory, "available_memory", lambda: None)
    with pytest.raises(MemoryError, match=r"^cannot allocate an array of shape \(4096, 4096\) and dtype float32: "
                                          r"64\.00 MiB \(67108864 bytes\) does not fit in memory; fill it"):
        fastglorot.glorot_normal((4096, 4096), seed=0)
