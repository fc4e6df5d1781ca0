"""Counter-based invariance: values depend on (seed, stream, index) only.

Not on how an array is split, its memory layout, strides, byte order, or on
the chunking used to fill it.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastglorot
from fastglorot._engines import launch as _launch

FILLS = {
    "uniform": lambda out, **kw: fastglorot.uniform_(out, -0.75, 0.5, **kw),
    "normal": lambda out, **kw: fastglorot.normal_(out, 0.25, 2.0, **kw),
    # stream format 2's own kernels (float32; float64 is format 1's)
    "normal v2": lambda out, **kw: fastglorot.normal_(out, 0.25, 2.0, stream_format=2, **kw),
    "truncated v2": lambda out, **kw: fastglorot.trunc_normal_(out, 0.25, 2.0, -1.0, 4.0, stream_format=2, **kw),
}
DTYPES = [np.float32, np.float64]


def reference(shape, dtype, dist, seed=11, stream=3, offset=0):
    return FILLS[dist](np.empty(shape, dtype), seed=seed, stream=stream, offset=offset)


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 8 KiB, so modest arrays cross many chunk boundaries."""
    monkeypatch.setattr(_launch, "CHUNK_BYTES", 8 << 10)
    monkeypatch.setattr(_launch, "MIN_CHUNK_BYTES", 8 << 10)
    monkeypatch.setattr(_launch, "PARALLEL_MIN_BYTES", 0)
    return monkeypatch


@pytest.mark.parametrize("dist", FILLS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_split_at_any_k_equals_one_fill(dist, dtype):
    itemsize = np.dtype(dtype).itemsize
    n = 3 * _launch.CHUNK_BYTES // itemsize + 1237  # three full-size chunks and a bit
    whole = reference(n, dtype, dist)
    chunk = _launch.CHUNK_BYTES // itemsize
    for k in [1, 3, 127, 255, 257, 511, 513, 12345, chunk - 1, chunk + 1, 2 * chunk + 255, n - 1]:
        parts = np.empty(n, dtype)
        FILLS[dist](parts[:k], seed=11, stream=3, offset=0)
        FILLS[dist](parts[k:], seed=11, stream=3, offset=k)
        np.testing.assert_array_equal(parts, whole, err_msg=f"split at {k}")


@pytest.mark.parametrize("dist", FILLS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_chunking_and_thread_dispatch_do_not_change_values(dist, dtype, small_chunks):
    n = 100_003
    tiny_chunks = FILLS[dist](np.empty(n, dtype), seed=11, stream=3)
    small_chunks.undo()
    np.testing.assert_array_equal(tiny_chunks, reference(n, dtype, dist))


@pytest.mark.parametrize("dist", FILLS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_memory_layouts_and_views(dist, dtype):
    shape = (67, 45, 9)
    expected = reference(shape, dtype, dist)
    fortran = FILLS[dist](np.empty(shape, dtype, order="F"), seed=11, stream=3)
    np.testing.assert_array_equal(fortran, expected)
    transposed = np.empty(shape[::-1], dtype).T
    np.testing.assert_array_equal(FILLS[dist](transposed, seed=11, stream=3), expected)
    swapped = np.empty(shape, np.dtype(dtype).newbyteorder())
    np.testing.assert_array_equal(FILLS[dist](swapped, seed=11, stream=3), expected)

    base = np.zeros((2 * 67, 45, 3 * 9), dtype)
    view = base[::-2, :, 1::3]
    FILLS[dist](view, seed=11, stream=3)
    np.testing.assert_array_equal(view, expected)
    untouched = np.ones(base.shape, bool)
    untouched[::-2, :, 1::3] = False
    assert np.all(base[untouched] == 0), "a strided fill wrote outside its view"


@pytest.mark.parametrize("dtype", DTYPES)
def test_strided_views_across_many_chunks(dtype, small_chunks):
    expected = reference((301, 257), dtype, "normal")
    base = np.empty((301, 2 * 257), dtype)
    np.testing.assert_array_equal(FILLS["normal"](base[:, ::2], seed=11, stream=3), expected)
    column_major = FILLS["normal"](np.empty((301, 257), dtype, order="F"), seed=11, stream=3)
    np.testing.assert_array_equal(column_major, expected)


def test_zero_dim_and_unaligned_arrays():
    expected = reference(6, np.float64, "uniform")
    scalar = np.empty((), np.float64)
    np.testing.assert_array_equal(FILLS["uniform"](scalar, seed=11, stream=3), expected[0])
    raw = np.zeros(6 * 8 + 1, np.uint8)
    unaligned = raw[1:].view(np.float64)
    assert not unaligned.flags.aligned
    np.testing.assert_array_equal(FILLS["uniform"](unaligned, seed=11, stream=3), expected)


def test_memmap(tmp_path):
    expected = reference((513, 77), np.float32, "uniform")
    mapped = np.memmap(tmp_path / "w.bin", dtype=np.float32, mode="w+", shape=(513, 77))
    FILLS["uniform"](mapped, seed=11, stream=3)
    mapped.flush()
    reread = np.memmap(tmp_path / "w.bin", dtype=np.float32, mode="r", shape=(513, 77))
    np.testing.assert_array_equal(reread, expected)


def test_offset_is_the_global_index():
    a = reference(10_000, np.float32, "normal")
    shifted = reference(1_000, np.float32, "normal", offset=4_321)
    np.testing.assert_array_equal(shifted, a[4_321:5_321])
    bits = fastglorot.random_bits(10_000, seed=1, stream=2)
    np.testing.assert_array_equal(fastglorot.random_bits(300, seed=1, stream=2, offset=999), bits[999:1299])


def test_seeds_and_streams_give_different_values():
    base = reference(4096, np.float32, "uniform", seed=1, stream=0)
    for seed, stream in [(2, 0), (1, 1), (1 << 32, 0), (1, 1 << 32)]:
        other = reference(4096, np.float32, "uniform", seed=seed, stream=stream)
        assert np.mean(base == other) < 0.01, (seed, stream)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 3000),
    offset=st.integers(0, 2**40),
    split=st.floats(0, 1),
    dtype=st.sampled_from(DTYPES),
    dist=st.sampled_from(sorted(FILLS)),
)
def test_property_any_split_any_offset(n, offset, split, dtype, dist):
    whole = reference(n, dtype, dist, offset=offset)
    k = int(split * n)
    parts = np.empty(n, dtype)
    FILLS[dist](parts[:k], seed=11, stream=3, offset=offset)
    FILLS[dist](parts[k:], seed=11, stream=3, offset=offset + k)
    np.testing.assert_array_equal(parts, whole)
