"""fastglorot.numba: each element function equals its bulk fill, bit for bit.

Expected values come from the bulk fills themselves (``random_bits``,
``uniform_``, ``normal_``, ``trunc_normal_`` and the bfloat16 ``uniform``),
written with ``offset=`` at the same global indices; ``philox4x32_10`` is
also checked against Random123's known-answer vectors (imported from
tests/test_philox.py, which cites their source).  The element side runs
inside user-style ``@njit(parallel=True)`` kernels, the way the functions are
meant to be called.

Stream format 2's twins (``normal_float32_v2``, ``trunc_normal_float32_v2``)
are checked the same way against ``stream_format=2`` fills, their 16-bit
roundings against the bfloat16 and float16 ``stream_format=2`` fills.

Compile budget: each element function compiles once per argument types, so
the kernels below take seeds and streams as uint64 and indices as int64
throughout, and the 4-byte and 8-byte functions share one kernel each (the
format-2 twins a third).  The twelve bulk kernels the expected values need
take longer to compile than the element functions; unless this process has them already, two spawned
processes compile them into numba's disk cache (the session's
NUMBA_CACHE_DIR, see conftest.py) while this one compiles the element side,
which about halves the module's time on 2 cores.
"""

from __future__ import annotations

import doctest
import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from functools import partial

import ml_dtypes
import numpy as np
import pytest
from numba import njit, prange
from test_philox import KNOWN_ANSWERS

import fastglorot
import fastglorot.numba as fgn
from fastglorot._engines import elements as _elements, kernels as _kernels
from fastglorot._engines.kernel_set import kernel_params
from fastglorot._format.params import truncated_params

U64 = np.uint64
F32_MAX = float(np.finfo(np.float32).max)
F64_MAX = float(np.finfo(np.float64).max)

# (seed, stream): keys with a high word, at and above 2**63, up to 2**64 - 1; streams likewise.
KEYS = [(0, 0), (1234, 5), (2**32 + 17, 2**32 + 3), (2**63 + 99, 2**64 - 1), (2**64 - 1, 2**63)]
# (first index, count): every position of 5 float32 / 10 float64 tiles (511|512|513, 255|256, ...),
# a window across 2**40 (a tile boundary), and the last indices below 2**62.
WINDOWS = [(0, 2560), (2**40 - 700, 1400), (2**62 - 1300, 1300)]
TRUNCATIONS = [(0.0, 1.0, -2.0, 2.0), (0.1, 0.8, -0.5, 1.7)]  # (mean, std, a, b); the first hits AS 241's tails

# The bulk fills the expected values come from, slowest compile first (each runs once in a compiler process).
BULK_FILLS = [
    partial(fastglorot.trunc_normal, 8, dtype="float64", seed=0),
    partial(fastglorot.trunc_normal, 8, dtype="float32", seed=0),
    partial(fastglorot.trunc_normal, 8, dtype="bfloat16", seed=0, stream_format=2),
    partial(fastglorot.trunc_normal, 8, dtype="float32", seed=0, stream_format=2),
    partial(fastglorot.normal, 8, dtype="float64", seed=0),
    partial(fastglorot.normal, 8, dtype="bfloat16", seed=0, stream_format=2),
    partial(fastglorot.uniform, 8, dtype="bfloat16", seed=0),
    partial(fastglorot.normal, 8, dtype="float32", seed=0),
    partial(fastglorot.normal, 8, dtype="float32", seed=0, stream_format=2),
    partial(fastglorot.uniform, 8, dtype="float64", seed=0),
    partial(fastglorot.uniform, 8, dtype="float32", seed=0),
    partial(fastglorot.random_bits, 8, seed=0),
]
BULK_KERNELS = [_kernels.fill_truncated_normal_float64, _kernels.fill_truncated_normal_float32,
                _kernels.fill_truncated_normal_half_v2, _kernels.fill_truncated_normal_float32_v2,
                _kernels.fill_normal_float64, _kernels.fill_normal_half_v2, _kernels.fill_uniform_half,
                _kernels.fill_normal_float32, _kernels.fill_normal_float32_v2, _kernels.fill_uniform_float64,
                _kernels.fill_uniform_float32, _kernels.fill_bits]
_compiling = []


@pytest.fixture(scope="module", autouse=True)
def bulk_kernels_compile_alongside():
    """Compile the bulk kernels in 2 spawned processes while the tests compile the element side."""
    if all(kernel.signatures for kernel in BULK_KERNELS):
        yield
        return
    pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))
    _compiling.extend(pool.submit(fill) for fill in BULK_FILLS)
    # Meanwhile, compile this module's own kernels (element functions inlined).
    four_byte_elements(0, 0, 0, 1)
    eight_byte_elements(0, 0, 0, 1)
    v2_elements(0, 0, 0, 1)
    _fastmath_caller_v2(np.empty(1, np.float32), np.empty(1, np.float32), U64(0), U64(0), 0.0, 1.0,
                        fgn.trunc_normal_params(0.0, 1.0, -2.0, 2.0, stream_format=2))
    _philox_batch(np.zeros((1, 4), np.uint32), np.zeros((1, 2), np.uint32))
    _fastmath_caller(np.empty(1, np.float32), U64(0), U64(0), 0.0, 1.0)
    _neighbours(np.zeros(1, np.float32), np.zeros(1))
    yield
    pool.shutdown(wait=False, cancel_futures=True)


def bulk_ready():
    """Wait for the compiler processes: from then on the bulk fills load their kernels from the disk cache."""
    while _compiling:
        _compiling.pop().result()


@njit(parallel=True)
def _four_byte_kernel(words, u32, n32, t32, u_bf16, n_f16, t_bf16, seed, stream, first, low, high, mean, std,
                      params):
    """A user kernel: every 4-byte element function, at global indices first, first + 1, ..."""
    for k in prange(words.size):
        i = first + k
        words[k] = fgn.random_word(seed, stream, i)
        u = fgn.uniform_float32(seed, stream, i, low, high)
        n = fgn.normal_float32(seed, stream, i, mean, std)
        t = fgn.trunc_normal_float32(seed, stream, i, params)
        u32[k], n32[k], t32[k] = u, n, t
        u_bf16[k] = fgn.bfloat16_bits(u)
        n_f16[k] = fgn.float16_bits(n)
        t_bf16[k] = fgn.bfloat16_bits(t)


@njit(parallel=True)
def _eight_byte_kernel(u64, n64, t64, seed, stream, first, low, high, mean, std, params):
    """A user kernel: the float64 element functions."""
    for k in prange(u64.size):
        i = first + k
        u64[k] = fgn.uniform_float64(seed, stream, i, low, high)
        n64[k] = fgn.normal_float64(seed, stream, i, mean, std)
        t64[k] = fgn.trunc_normal_float64(seed, stream, i, params)


def four_byte_elements(seed, stream, first, count, low=-0.75, high=2.5, mean=0.25, std=1.5,
                       truncation=TRUNCATIONS[0]):
    out = {name: np.empty(count, dtype) for name, dtype in [
        ("words", np.uint32), ("uniform", np.float32), ("normal", np.float32), ("trunc", np.float32),
        ("uniform_bf16", np.uint16), ("normal_f16", np.uint16), ("trunc_bf16", np.uint16)]}
    params = fgn.trunc_normal_params(*truncation, dtype="float32")
    _four_byte_kernel(*out.values(), U64(seed), U64(stream), np.int64(first), float(low), float(high), float(mean),
                      float(std), params)
    return out


def eight_byte_elements(seed, stream, first, count, low=-0.75, high=2.5, mean=0.25, std=1.5,
                        truncation=TRUNCATIONS[0]):
    out = {name: np.empty(count, np.float64) for name in ("uniform", "normal", "trunc")}
    params = fgn.trunc_normal_params(*truncation, dtype="float64")
    _eight_byte_kernel(*out.values(), U64(seed), U64(stream), np.int64(first), float(low), float(high), float(mean),
                       float(std), params)
    return out


@njit(parallel=True)
def _v2_kernel(n32, t32, n_bf16, n_f16, t_bf16, t_f16, seed, stream, first, mean, std, params):
    """A user kernel: stream format 2's twins and their 16-bit roundings."""
    for k in prange(n32.size):
        i = first + k
        n = fgn.normal_float32_v2(seed, stream, i, mean, std)
        t = fgn.trunc_normal_float32_v2(seed, stream, i, params)
        n32[k], t32[k] = n, t
        n_bf16[k], n_f16[k] = fgn.bfloat16_bits(n), fgn.float16_bits(n)
        t_bf16[k], t_f16[k] = fgn.bfloat16_bits(t), fgn.float16_bits(t)


def v2_elements(seed, stream, first, count, mean=0.25, std=1.5, truncation=TRUNCATIONS[0], params=None):
    """The format-2 elements at first, first + 1, ...; ``params`` (float32) overrides ``truncation``'s."""
    out = {name: np.empty(count, dtype) for name, dtype in [
        ("normal", np.float32), ("trunc", np.float32), ("normal_bf16", np.uint16), ("normal_f16", np.uint16),
        ("trunc_bf16", np.uint16), ("trunc_f16", np.uint16)]}
    if params is None:
        params = fgn.trunc_normal_params(*truncation, dtype="float32", stream_format=2)
    _v2_kernel(*out.values(), U64(seed), U64(stream), np.int64(first), float(mean), float(std), params)
    return out


def bits(array):
    """The bit patterns of an array (NaN-safe, signed-zero-sensitive comparisons)."""
    array = np.asarray(array)
    return array.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[array.dtype.itemsize])


def assert_bits_equal(actual, expected, what):
    actual, expected = bits(actual), bits(expected)
    mismatch = np.flatnonzero(actual != expected)
    assert mismatch.size == 0, f"{what}: {mismatch.size} elements differ, first at {mismatch[:5]}"


# -- exactness against the bulk fills ------------------------------------------------------------


@pytest.mark.parametrize("truncation", TRUNCATIONS)
@pytest.mark.parametrize("first, count", WINDOWS)
@pytest.mark.parametrize("seed, stream", KEYS)
def test_four_byte_elements_equal_the_bulk_fills(seed, stream, first, count, truncation):
    got = four_byte_elements(seed, stream, first, count, truncation=truncation)
    bulk_ready()
    where = dict(seed=seed, stream=stream, offset=first)
    uniform = fastglorot.uniform_(np.empty(count, np.float32), -0.75, 2.5, **where)
    normal = fastglorot.normal_(np.empty(count, np.float32), 0.25, 1.5, **where)
    trunc = fastglorot.trunc_normal_(np.empty(count, np.float32), *truncation, **where)
    label = f"seed={seed} stream={stream} first={first}"
    assert_bits_equal(got["words"], fastglorot.random_bits(count, **where), f"random_word {label}")
    assert_bits_equal(got["uniform"], uniform, f"uniform_float32 {label}")
    assert_bits_equal(got["normal"], normal, f"normal_float32 {label}")
    assert_bits_equal(got["trunc"], trunc, f"trunc_normal_float32 {label}")
    # The 16-bit rule: a float16/bfloat16 element is the float32 element rounded to nearest even.
    assert_bits_equal(got["uniform_bf16"], fastglorot.uniform(count, -0.75, 2.5, dtype="bfloat16", **where),
                      f"bfloat16_bits(uniform_float32) {label}")
    assert_bits_equal(got["normal_f16"], normal.astype(np.float16), f"float16_bits(normal_float32) {label}")
    assert_bits_equal(got["trunc_bf16"], trunc.astype(ml_dtypes.bfloat16), f"bfloat16_bits(trunc) {label}")


@pytest.mark.parametrize("truncation", TRUNCATIONS)
@pytest.mark.parametrize("first, count", WINDOWS)
@pytest.mark.parametrize("seed, stream", KEYS)
def test_eight_byte_elements_equal_the_bulk_fills(seed, stream, first, count, truncation):
    got = eight_byte_elements(seed, stream, first, count, truncation=truncation)
    bulk_ready()
    where = dict(seed=seed, stream=stream, offset=first)
    label = f"seed={seed} stream={stream} first={first}"
    assert_bits_equal(got["uniform"], fastglorot.uniform_(np.empty(count), -0.75, 2.5, **where),
                      f"uniform_float64 {label}")
    assert_bits_equal(got["normal"], fastglorot.normal_(np.empty(count), 0.25, 1.5, **where),
                      f"normal_float64 {label}")
    assert_bits_equal(got["trunc"], fastglorot.trunc_normal_(np.empty(count), *truncation, **where),
                      f"trunc_normal_float64 {label}")


def test_blocks_map_to_global_indices():
    """A block at global_offset of global_shape holds element ravel_multi_index(offset + position)."""
    shape, offset, block = (37, 1100), (5, 300), (9, 700)
    rows = np.arange(offset[0], offset[0] + block[0])[:, None]
    cols = np.arange(offset[1], offset[1] + block[1])[None, :]
    first = offset[0] * shape[1] + offset[1]
    flat = four_byte_elements(7, 8, first, (block[0] - 1) * shape[1] + block[1])["normal"]
    got = flat[(rows * shape[1] + cols - first).reshape(-1)].reshape(block)
    bulk_ready()
    expected = fastglorot.normal_(np.empty(block, np.float32), 0.25, 1.5, seed=7, stream=8, global_shape=shape,
                                  global_offset=offset)
    assert_bits_equal(got, expected, "block")


def test_python_calls_and_integer_types():
    """From Python, and with seeds/streams/indices typed int64 or uint64: one value per number mod 2**64."""
    bulk_ready()
    expected = fastglorot.random_bits(4, seed=2**64 - 3, stream=2**63 + 1, offset=2**62 - 4)
    seed, stream = fgn.seed_stream(2**64 - 3, 2**63 + 1)
    assert (type(seed), type(stream)) == (np.uint64, np.uint64)
    for i in range(4):
        index = 2**62 - 4 + i
        assert fgn.random_word(seed, stream, index) == expected[i]
        assert fgn.random_word(np.int64(-3), np.int64(-(2**63) + 1), np.int64(index)) == expected[i]
    words = fastglorot.random_bits(600, seed=5, stream=6)  # Python ints below 2**63: int64
    assert [fgn.random_word(5, 6, i) for i in (0, 127, 128, 511, 512, 513, 599)] == \
        words[[0, 127, 128, 511, 512, 513, 599]].tolist()
    # Python floats come back: the same value as the float32 element.
    uniform = fastglorot.uniform_(np.empty(600, np.float32), -0.75, 2.5, seed=5, stream=6)
    value = fgn.uniform_float32(U64(5), U64(6), np.int64(513), -0.75, 2.5)
    assert isinstance(value, float) and np.float32(value) == uniform[513]
    # Named streams: seed_stream hashes the name as the fills do.
    named = fastglorot.random_bits(3, seed=5, stream="encoder.weight")
    assert [fgn.random_word(*fgn.seed_stream(5, "encoder.weight"), i) for i in range(3)] == named.tolist()


@pytest.mark.parametrize("seed, stream, error", [
    (None, 0, TypeError), (-1, 0, ValueError), (2**64, 0, ValueError), (1.0, 0, TypeError), (True, 0, TypeError),
    (0, -1, ValueError), (0, 2**64, ValueError), (0, 1.5, TypeError), (0, None, TypeError),
])
def test_seed_stream_rejects_what_the_fills_reject(seed, stream, error):
    with pytest.raises(error, match="seed|stream"):
        fgn.seed_stream(seed, stream)


# -- parameter edge cases: same clamps and roundings as the bulk path, NaN where it raises ---------

TINY32 = float(np.float32(2.0**-149))
UNIFORM_CASES = [
    (0.0, 1.0), (-1.0, 1.0), (-3.5, -1.25), (-2e30, -1e30), (1.0, 1.0), (-0.0, -0.0), (0.0, 0.0), (-0.0, 0.0),
    (1.0, float(np.nextafter(np.float32(1.0), np.float32(2.0)))),  # adjacent float32: closed interval
    (1.0, 1.0 + 1e-12), (0.1, 0.1 + 1e-9), (1.0, float(np.nextafter(1.0, 2.0))),  # no float32 / float64 inside
    (-F32_MAX, F32_MAX), (F32_MAX / 2, F32_MAX), (-F32_MAX, -F32_MAX), (TINY32, 3 * TINY32), (-TINY32, TINY32),
    (5e-324, 2e-323), (1e-300, 1e-300), (-F64_MAX, F64_MAX), (F64_MAX, F64_MAX), (0.0, 1e39),
    (1.0, 0.0), (math.nan, 1.0), (0.0, math.inf), (-math.inf, 0.0),
]
NORMAL_CASES = [
    (0.0, 1.0), (0.0, 0.0), (-3.0, 2.5), (0.1, 0.3), (1e30, 1e-30), (-0.0, -0.0), (1e-40, 1e-40), (0.0, F32_MAX),
    (0.0, 1e300), (1e300, 1e-300), (0.0, -1.0), (math.nan, 1.0), (0.0, math.inf), (1e39, 1.0),
]


@njit
def _neighbours(values32, values64):
    out32 = np.empty((values32.size, 2), np.float32)
    out64 = np.empty((values64.size, 2), np.float64)
    for k in range(values32.size):
        out32[k, 0], out32[k, 1] = _elements._next_f32(values32[k], False), _elements._next_f32(values32[k], True)
    for k in range(values64.size):
        out64[k, 0], out64[k, 1] = _elements._next_f64(values64[k], False), _elements._next_f64(values64[k], True)
    return out32, out64


def test_bit_step_neighbours_equal_nextafter():
    """The jitted clamp set-up steps bit patterns where _sampling calls np.nextafter: same results."""
    rng = np.random.default_rng(5)
    special32 = np.array([0.0, -0.0, 2.0**-149, -(2.0**-149), 2.0**-126, 1.0, -1.0, F32_MAX, -F32_MAX], np.float32)
    values32 = np.concatenate([special32, rng.integers(0, 2**32, 4000, dtype=np.uint64).astype(np.uint32)
                               .view(np.float32)])
    values32 = values32[np.isfinite(values32)]
    special64 = np.array([0.0, -0.0, 5e-324, -5e-324, 2.0**-1022, 1.0, -1.0, F64_MAX, -F64_MAX])
    values64 = np.concatenate([special64, rng.integers(0, 2**63, 4000, dtype=np.uint64).view(np.float64),
                               (rng.integers(0, 2**63, 4000, dtype=np.uint64) | U64(2**63)).view(np.float64)])
    values64 = values64[np.isfinite(values64)]
    got32, got64 = _neighbours(values32, values64)
    with np.errstate(over="ignore"):
        for got, values in [(got32, values32), (got64, values64)]:
            inf = np.array(np.inf, values.dtype)
            assert_bits_equal(got[:, 0], np.nextafter(values, -inf), f"{values.dtype} down")
            assert_bits_equal(got[:, 1], np.nextafter(values, inf), f"{values.dtype} up")


def bulk_or_none(fill, dtype, *args):
    """The bulk fill of 600 elements at offset 2**40 - 300, or None where it rejects the arguments."""
    bulk_ready()
    try:
        return fill(np.empty(600, dtype), *args, seed=3, stream=2**40, offset=2**40 - 300)
    except ValueError:
        return None


@pytest.mark.filterwarnings("ignore:overflow encountered in nextafter:RuntimeWarning")  # the bulk path, at +-max
@pytest.mark.parametrize("low, high", UNIFORM_CASES)
def test_uniform_parameters_match_the_bulk_path(low, high):
    got32 = four_byte_elements(3, 2**40, 2**40 - 300, 600, low=low, high=high)["uniform"]
    got64 = eight_byte_elements(3, 2**40, 2**40 - 300, 600, low=low, high=high)["uniform"]
    for got, dtype in [(got32, np.float32), (got64, np.float64)]:
        expected = bulk_or_none(fastglorot.uniform_, dtype, low, high)
        if expected is None:
            assert np.isnan(got).all(), f"{dtype.__name__} ({low}, {high}): NaN where the fill raises"
        else:
            assert_bits_equal(got, expected, f"{dtype.__name__} ({low}, {high})")


@pytest.mark.parametrize("mean, std", NORMAL_CASES)
def test_normal_parameters_match_the_bulk_path(mean, std):
    got32 = four_byte_elements(3, 2**40, 2**40 - 300, 600, mean=mean, std=std)["normal"]
    got64 = eight_byte_elements(3, 2**40, 2**40 - 300, 600, mean=mean, std=std)["normal"]
    for got, dtype in [(got32, np.float32), (got64, np.float64)]:
        expected = bulk_or_none(fastglorot.normal_, dtype, mean, std)
        if expected is None:
            assert np.isnan(got).all(), f"{dtype.__name__} ({mean}, {std}): NaN where the fill raises"
        else:
            assert_bits_equal(got, expected, f"{dtype.__name__} ({mean}, {std})")


@pytest.mark.parametrize("truncation", [
    (0.0, 0.02, -0.04, 0.04), (5.0, 1.0, 6.0, 9.0), (-5.0, 2.0, -30.0, -6.0), (0.0, 1.0, 8.0, 40.0),
    (0.0, 1.0, -1e-7, 1e-7), (3.0, 1e-3, 2.9, 3.0), (0.0, 1.0, -40.0, 40.0),
])
def test_truncated_parameters_match_the_bulk_path(truncation):
    got32 = four_byte_elements(3, 2**40, 2**40 - 300, 600, truncation=truncation)
    got64 = eight_byte_elements(3, 2**40, 2**40 - 300, 600, truncation=truncation)["trunc"]
    bulk_ready()
    where = dict(seed=3, stream=2**40, offset=2**40 - 300)
    assert_bits_equal(got32["trunc"], fastglorot.trunc_normal_(np.empty(600, np.float32), *truncation, **where),
                      "float32")
    assert_bits_equal(got64, fastglorot.trunc_normal_(np.empty(600), *truncation, **where), "float64")
    assert_bits_equal(got32["trunc_bf16"], got32["trunc"].astype(ml_dtypes.bfloat16), "bfloat16")
    for dtype in (np.float32, np.float64):
        assert np.array_equal(fgn.trunc_normal_params(*truncation, dtype=dtype),
                              truncated_params(*truncation, np.dtype(dtype).name))


def test_sixteen_bit_params_use_the_float32_draw():
    """bfloat16/float16 outputs: float32 parameters, range checked against the 16-bit dtype."""
    params = fgn.trunc_normal_params(0.0, 0.02, -0.04, 0.04, dtype="bfloat16")
    assert np.array_equal(params, truncated_params(0.0, 0.02, -0.04, 0.04, "float32"))
    assert params.dtype == np.float64 and params.shape == (7,)
    assert np.array_equal(fgn.trunc_normal_params(0.0, 1.0, -2.0, 2.0, dtype=np.float16),
                          fgn.trunc_normal_params(0.0, 1.0, -2.0, 2.0, dtype=ml_dtypes.bfloat16))


@pytest.mark.parametrize("args, error, message", [
    ((0.0, 0.0, -1.0, 1.0), ValueError, "std must be positive"),
    ((0.0, -1.0, -1.0, 1.0), ValueError, "std must be positive"),
    ((0.0, 1.0, 1.0, 1.0), ValueError, "a must be less than b"),
    ((0.0, 1.0, 2.0, -2.0), ValueError, "a must be less than b"),
    ((math.nan, 1.0, -1.0, 1.0), ValueError, "mean must be finite"),
    ((0.0, math.inf, -1.0, 1.0), ValueError, "std must be finite"),
    ((0.0, 1.0, -1.0, 1e39), ValueError, "outside the float32 range"),
    ((0.0, 1.0, 40.0, 50.0), ValueError, "no probability mass"),
    ((0.0, 1.0, 1.0 + 1e-12, 1.0 + 2e-12), ValueError, "no float32 value lies in"),
    (("0", 1.0, -1.0, 1.0), TypeError, "mean must be a real number"),
    ((0.0, True, -1.0, 1.0), TypeError, "std must be a real number, not a bool"),
])
def test_trunc_normal_params_rejects_bad_arguments(args, error, message):
    with pytest.raises(error, match=message):
        fgn.trunc_normal_params(*args)


def test_trunc_normal_params_dtypes():
    with pytest.raises(ValueError, match="outside the float16 range"):
        fgn.trunc_normal_params(0.0, 1.0, -1.0, 1e5, dtype="float16")
    for dtype in ("int32", None, "complex64"):
        with pytest.raises(TypeError, match="dtype must be"):
            fgn.trunc_normal_params(0.0, 1.0, -1.0, 1.0, dtype=dtype)


# -- stream format 2's twins ------------------------------------------------------------------------

# Every lane position of 5 tiles, a window across 2**34 (a tile boundary) and the last indices below 2**62.
WINDOWS_V2 = [(0, 2560), (2**34 - 1300, 2600), (2**62 - 1300, 1300)]
# (mean, std, a, b): [-2, 2] (PPND7's tails inside), [0, 1], [2, 3], [-1e-3, 1e-3], one-sided above and below the
# mean, far tails without and with the 2**shift scaling (Phi(-12) < 2**-60), and the usual N(0, 0.02) on 2 std.
TRUNCATIONS_V2 = [
    (0.0, 1.0, -2.0, 2.0), (0.0, 1.0, 0.0, 1.0), (0.0, 1.0, 2.0, 3.0), (0.0, 1.0, -1e-3, 1e-3),
    (0.0, 1.0, 0.0, 40.0), (-5.0, 2.0, -90.0, -4.0), (0.0, 1.0, 8.0, 40.0), (0.0, 1.0, 12.0, 40.0),
    (1.0, 0.5, -18.0, -14.0), (0.0, 0.02, -0.04, 0.04), (3.0, 1e-3, 2.9, 3.0), (0.0, 1.0, -40.0, 40.0),
]
SCALED_V2 = [(0.0, 1.0, 12.0, 40.0), (1.0, 0.5, -18.0, -14.0)]  # the ones whose tails are scaled (shift > 0)


def assert_v2_equal_the_bulk_fills(got, where, truncation, label, mean=0.25, std=1.5):
    """``got`` (from :func:`v2_elements`) against the ``stream_format=2`` fills of float32, bfloat16 and float16."""
    count = got["normal"].size
    where = dict(where, stream_format=2)
    for name, fill, args in [("normal", fastglorot.normal, (mean, std)), ("trunc", fastglorot.trunc_normal,
                                                                          truncation)]:
        assert_bits_equal(got[name], fill(count, *args, dtype="float32", **where), f"{name} float32 v2 {label}")
        assert_bits_equal(got[f"{name}_bf16"], fill(count, *args, dtype="bfloat16", **where),
                          f"bfloat16_bits({name} v2) {label}")
        assert_bits_equal(got[f"{name}_f16"], fill(count, *args, dtype="float16", **where),
                          f"float16_bits({name} v2) {label}")


@pytest.mark.parametrize("first, count", WINDOWS_V2)
@pytest.mark.parametrize("seed, stream", KEYS)
def test_v2_elements_equal_the_bulk_fills(seed, stream, first, count):
    got = v2_elements(seed, stream, first, count)
    bulk_ready()
    where = dict(seed=seed, stream=stream, offset=first)
    assert_v2_equal_the_bulk_fills(got, where, TRUNCATIONS[0], f"seed={seed} stream={stream} first={first}")
    # Format 2 differs from format 1 here (so the comparison above is not format 1's by accident).
    assert not np.array_equal(bits(got["normal"]), bits(fastglorot.normal_(np.empty(count, np.float32), 0.25, 1.5,
                                                                          **where)))


@pytest.mark.parametrize("truncation", TRUNCATIONS_V2)
def test_v2_truncated_intervals_equal_the_bulk_fills(truncation):
    seed, stream, first = 2**63 + 99, 2**64 - 1, 2**34 - 300
    got = v2_elements(seed, stream, first, 600, truncation=truncation)
    bulk_ready()
    assert_v2_equal_the_bulk_fills(got, dict(seed=seed, stream=stream, offset=first), truncation, str(truncation))
    # The parameters are the fills' own (kernel_params) for every float32 draw; 16-bit outputs use float32's.
    params = fgn.trunc_normal_params(*truncation, stream_format=2)
    assert params.dtype == np.float32 and params.shape == (11,)
    assert (params[10] > 0) == (truncation in SCALED_V2), "the list covers both the scaled and the plain tails"
    for dtype, name in [("float32", "float32"), (ml_dtypes.bfloat16, "bfloat16"), (np.float16, "float16")]:
        expected = kernel_params("truncated_normal", name, 2, truncated_params(*truncation, name))
        assert_bits_equal(fgn.trunc_normal_params(*truncation, dtype=dtype, stream_format=2), expected, name)
        assert_bits_equal(expected, params, f"{name} params = float32 params")


@pytest.mark.parametrize("mean, std", NORMAL_CASES)
def test_v2_normal_parameters_match_the_bulk_path(mean, std):
    """Format 2 accepts and rejects what format 1 does: NaN where the fill raises."""
    got = v2_elements(3, 2**40, 2**40 - 300, 600, mean=mean, std=std)["normal"]
    expected = bulk_or_none(partial(fastglorot.normal_, stream_format=2), np.float32, mean, std)
    if expected is None:
        assert np.isnan(got).all(), f"({mean}, {std}): NaN where the fill raises"
    else:
        assert_bits_equal(got, expected, f"({mean}, {std})")


def test_v2_python_calls_at_every_lane():
    """From Python, at every lane position (j = (i // 128) % 4) and both Box-Muller partners, near 2**34 and
    2**62; seeds and streams as uint64, or as int64 with the same bits."""
    bulk_ready()
    seed, stream = fgn.seed_stream(2**64 - 3, 2**63 + 1)
    params = fgn.trunc_normal_params(0.0, 1.0, -2.0, 2.0, stream_format=2)
    for base in (0, 2**34 - 512, 2**62 - 512):
        where = dict(seed=2**64 - 3, stream=2**63 + 1, offset=base, stream_format=2)
        normal = fastglorot.normal_(np.empty(512, np.float32), 0.25, 1.5, **where)
        trunc = fastglorot.trunc_normal_(np.empty(512, np.float32), 0.0, 1.0, -2.0, 2.0, **where)
        for k in [128 * j + m for j in range(4) for m in (0, 1, 127)]:
            index = np.int64(base + k)
            assert np.float32(fgn.normal_float32_v2(seed, stream, index, 0.25, 1.5)) == normal[k], (base, k)
            assert np.float32(fgn.trunc_normal_float32_v2(seed, stream, index, params)) == trunc[k], (base, k)
            assert np.float32(fgn.normal_float32_v2(np.int64(-3), np.int64(-(2**63) + 1), index, 0.25, 1.5)) \
                == normal[k]
    # Python ints (int64 in numba) and a float32 std: the fill rounds std to float32 as well.
    normal = fastglorot.normal_(np.empty(600, np.float32), 0.0, 0.02, seed=5, stream=6, stream_format=2)
    assert [fgn.normal_float32_v2(5, 6, i, 0.0, np.float32(0.02)) for i in (0, 255, 256, 599)] == \
        normal[[0, 255, 256, 599]].tolist()


def test_float64_is_the_same_in_both_formats():
    """No float64 twins: normal_float64 and trunc_normal_float64 are format 2's float64 elements too."""
    got = eight_byte_elements(2**63 + 99, 2**64 - 1, 2**34 - 300, 600)
    bulk_ready()
    where = dict(seed=2**63 + 99, stream=2**64 - 1, offset=2**34 - 300, stream_format=2)
    assert_bits_equal(got["normal"], fastglorot.normal_(np.empty(600), 0.25, 1.5, **where), "normal_float64 v2")
    assert_bits_equal(got["trunc"], fastglorot.trunc_normal_(np.empty(600), *TRUNCATIONS[0], **where),
                      "trunc_normal_float64 v2")
    params = fgn.trunc_normal_params(*TRUNCATIONS[0], dtype="float64", stream_format=2)
    assert params.dtype == np.float64 and np.array_equal(params, fgn.trunc_normal_params(*TRUNCATIONS[0],
                                                                                         dtype="float64"))
    assert not hasattr(fgn, "normal_float64_v2") and not hasattr(fgn, "trunc_normal_float64_v2")


def test_parameter_arrays_of_the_other_format_give_nan():
    """A format-1 array (7 values) in the format-2 function and a format-2 array (11) in format 1's: NaN, in a
    kernel and from Python (the arrays converted so that the kernels compile nothing new)."""
    params_v1 = fgn.trunc_normal_params(0.0, 1.0, -2.0, 2.0)
    params_v2 = fgn.trunc_normal_params(0.0, 1.0, -2.0, 2.0, stream_format=2)
    assert np.isnan(v2_elements(1, 2, 0, 600, params=params_v1.astype(np.float32))["trunc"]).all()
    out = {name: np.empty(600, dtype) for name, dtype in [
        ("words", np.uint32), ("uniform", np.float32), ("normal", np.float32), ("trunc", np.float32),
        ("uniform_bf16", np.uint16), ("normal_f16", np.uint16), ("trunc_bf16", np.uint16)]}
    _four_byte_kernel(*out.values(), U64(1), U64(2), np.int64(0), 0.0, 1.0, 0.0, 1.0, params_v2.astype(np.float64))
    assert np.isnan(out["trunc"]).all() and not np.isnan(out["uniform"]).any()
    u64, n64, t64 = np.empty(600), np.empty(600), np.empty(600)
    _eight_byte_kernel(u64, n64, t64, U64(1), U64(2), np.int64(0), 0.0, 1.0, 0.0, 1.0, params_v2.astype(np.float64))
    assert np.isnan(t64).all() and not np.isnan(n64).any()
    assert math.isnan(fgn.trunc_normal_float32_v2(U64(1), U64(2), np.int64(5), params_v1.astype(np.float32)))
    assert math.isnan(fgn.trunc_normal_float32(U64(1), U64(2), np.int64(5), params_v2.astype(np.float64)))


@pytest.mark.parametrize("stream_format, error, message", [
    (3, ValueError, "stream_format must be 1 or 2, got 3"),
    (0, ValueError, "stream_format must be 1 or 2, got 0"),
    ("2", TypeError, "stream_format must be 1 or 2"),
    (2.0, TypeError, "stream_format must be 1 or 2"),
    (True, TypeError, "stream_format must be 1 or 2"),
    (None, TypeError, "does not follow fastglorot.stream_format"),
])
def test_trunc_normal_params_rejects_unknown_stream_formats(stream_format, error, message):
    with pytest.raises(error, match=message):
        fgn.trunc_normal_params(0.0, 1.0, -2.0, 2.0, stream_format=stream_format)


def test_trunc_normal_params_ignores_the_context_format():
    """The element functions name their format, so the parameters follow ``stream_format=`` alone."""
    with fastglorot.stream_format(2):
        assert fgn.trunc_normal_params(0.0, 1.0, -2.0, 2.0).shape == (7,)


# -- Philox ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("counter, key, expected", KNOWN_ANSWERS)
def test_philox_known_answers(counter, key, expected):
    """Random123's Philox4x32-10 known-answer vectors, from tuples and from arrays."""
    assert fgn.philox4x32_10(tuple(counter), tuple(key)) == tuple(expected)
    assert fgn.philox4x32_10(np.array(counter, np.uint32), np.array(key, np.uint32)) == tuple(expected)


@njit
def _philox_batch(counters, keys):
    out = np.empty_like(counters)
    for i in range(counters.shape[0]):
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = fgn.philox4x32_10(counters[i], keys[i])
    return out


def test_philox_matches_the_reference_in_jitted_code():
    rng = np.random.default_rng(11)
    counters = rng.integers(0, 2**32, size=(2048, 4), dtype=np.uint64).astype(np.uint32)
    keys = rng.integers(0, 2**32, size=(2048, 2), dtype=np.uint64).astype(np.uint32)
    counters[:3] = [c for c, _, _ in KNOWN_ANSWERS]
    keys[:3] = [k for _, k, _ in KNOWN_ANSWERS]
    assert np.array_equal(_philox_batch(counters, keys), fastglorot.philox4x32(counters, keys))


# -- compilation policy ----------------------------------------------------------------------------

ELEMENT_FUNCTIONS = ["philox4x32_10", "random_word", "uniform_float32", "uniform_float64", "normal_float32",
                     "normal_float64", "trunc_normal_float32", "trunc_normal_float64", "bfloat16_bits",
                     "float16_bits", "normal_float32_v2", "trunc_normal_float32_v2"]


@pytest.mark.parametrize("name", ELEMENT_FUNCTIONS)
def test_compile_options(name):
    options = getattr(fgn, name).targetoptions
    assert options["nogil"] and options["error_model"] == "numpy" and options.get("inline", "never") == "never"
    # fastmath=False is explicit: numba lets a callee inherit an unset fastmath from a fastmath caller.
    assert options["fastmath"] is False
    assert options["forceinline"]  # inlined by LLVM into the caller's loop (so it vectorizes)


@njit(fastmath=True)
def _fastmath_caller(out, seed, stream, mean, std):
    for i in range(out.size):
        out[i] = fgn.normal_float32(seed, stream, i, mean, std)


def test_values_survive_a_fastmath_caller():
    got = np.empty(3000, np.float32)
    _fastmath_caller(got, U64(9), U64(10), 0.5, 2.0)
    bulk_ready()
    assert_bits_equal(got, fastglorot.normal_(np.empty(3000, np.float32), 0.5, 2.0, seed=9, stream=10), "fastmath")
    ir = "".join(_fastmath_caller.inspect_llvm().values())
    # forceinline: no call into fastglorot._engines.elements is left (numba mangles it as 10fastglorot9_elements).
    assert not any("call" in line and "fastglorot9_elements" in line for line in ir.splitlines())


@njit(fastmath=True)
def _fastmath_caller_v2(out_normal, out_trunc, seed, stream, mean, std, params):
    for i in range(out_normal.size):
        out_normal[i] = fgn.normal_float32_v2(seed, stream, i, mean, std)
        out_trunc[i] = fgn.trunc_normal_float32_v2(seed, stream, i, params)


def test_v2_values_survive_a_fastmath_caller():
    """Format 2 is all float32 arithmetic, where a fastmath caller's contractions would change the most bits."""
    normal, trunc = np.empty(3000, np.float32), np.empty(3000, np.float32)
    _fastmath_caller_v2(normal, trunc, U64(9), U64(10), 0.5, 2.0,
                        fgn.trunc_normal_params(0.5, 2.0, -1.0, 4.5, stream_format=2))
    bulk_ready()
    where = dict(seed=9, stream=10, stream_format=2)
    assert_bits_equal(normal, fastglorot.normal_(np.empty(3000, np.float32), 0.5, 2.0, **where), "fastmath normal")
    assert_bits_equal(trunc, fastglorot.trunc_normal_(np.empty(3000, np.float32), 0.5, 2.0, -1.0, 4.5, **where),
                      "fastmath trunc_normal")
    ir = "".join(_fastmath_caller_v2.inspect_llvm().values())
    assert not any("call" in line and "fastglorot9_elements" in line for line in ir.splitlines())


def test_docstring_examples_run():
    bulk_ready()
    failures, tried = doctest.testmod(fgn, optionflags=doctest.ELLIPSIS)
    assert failures == 0 and tried >= 5


def test_import_fastglorot_does_not_import_the_numba_module(python_runner):
    python_runner("import sys, fastglorot\n"
                  "assert 'fastglorot.numba' not in sys.modules\n"
                  "assert 'fastglorot._engines.elements' not in sys.modules\n")


# The README "Numba" example runs in tests/test_project.py (from README.md itself).
