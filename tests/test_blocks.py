"""Blocks of a global tensor: ``global_shape=`` / ``global_offset=``.

The invariant (README "Sharding and blocks"): for every sampler and
initializer, dtype, memory layout and block,

    fill(block, global_shape=G, global_offset=o) == fill(np.empty(G))[o0:o0+b0, ...]

bit for bit.  The expected values come from the library's own whole fill,
which the goldens and ``stream_reference`` pin independently.
"""

from __future__ import annotations

import math
import warnings

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastglorot
from fastglorot._engines import launch as _launch

BF16 = np.dtype(ml_dtypes.bfloat16)
DTYPES = [np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16), BF16]

SAMPLERS = {
    "uniform": lambda out, **kw: fastglorot.uniform_(out, -0.75, 0.5, seed=5, stream=9, **kw),
    "normal": lambda out, **kw: fastglorot.normal_(out, 0.25, 2.0, seed=5, stream=9, **kw),
    "trunc_normal": lambda out, **kw: fastglorot.trunc_normal_(out, 0.1, 1.5, -1.0, 2.5, seed=5, stream=9, **kw),
}
# Initializers need >= 2 dimensions (fans); their fans come from global_shape.
INITIALIZERS = {
    "glorot_uniform": lambda out, **kw: fastglorot.glorot_uniform_(out, seed=5, stream="w", **kw),
    "glorot_normal": lambda out, **kw: fastglorot.glorot_normal_(out, seed=5, stream="w", **kw),
    "lecun_normal": lambda out, **kw: fastglorot.lecun_normal_(out, seed=5, stream="w", **kw),
    "kaiming_uniform": lambda out, **kw: fastglorot.kaiming_uniform_(out, a=math.sqrt(5), seed=5, stream="w", **kw),
}
FILLS = {**SAMPLERS, **INITIALIZERS}


def whole(fill, global_shape, dtype):
    return fill(np.empty(global_shape, dtype))


def block_slices(offset, shape):
    return tuple(slice(o, o + b) for o, b in zip(offset, shape))


def fill_block(fill, global_shape, offset, shape, dtype, layout="C"):
    out = np.empty(shape, dtype, order=layout)
    return fill(out, global_shape=global_shape, global_offset=offset)


@st.composite
def blocks(draw, min_rank=1, max_rank=4):
    """A global shape of up to ~40k elements and a block inside it.

    Last axes up to 700 wide, so rows cross float32 tiles (512) and float64
    tiles (256) at arbitrary places; blocks may be empty, single rows or
    columns, or the whole tensor.
    """
    rank = draw(st.integers(min_rank, max_rank))
    limits = {1: [3000], 2: [40, 700], 3: [6, 12, 600], 4: [3, 4, 5, 300]}[rank]
    global_shape = tuple(draw(st.integers(1, limit)) for limit in limits)
    kind = draw(st.sampled_from(["any", "any", "full", "row", "column", "empty"]))
    offset, shape = [], []
    for axis, g in enumerate(global_shape):
        if kind == "full":
            o, b = 0, g
        elif kind == "row" and axis < rank - 1:
            o, b = draw(st.integers(0, g - 1)), 1
        elif kind == "column" and axis == rank - 1:
            o, b = draw(st.integers(0, g - 1)), 1
        elif kind == "empty" and axis == 0:
            o, b = draw(st.integers(0, g)), 0
        else:
            o = draw(st.integers(0, g - 1))
            b = draw(st.integers(1, g - o))
        offset.append(o)
        shape.append(b)
    return global_shape, tuple(offset), tuple(shape)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", SAMPLERS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=blocks())
def test_sampler_block_equals_slice_of_whole_fill(name, dtype, case):
    global_shape, offset, shape = case
    fill = SAMPLERS[name]
    expected = whole(fill, global_shape, dtype)[block_slices(offset, shape)]
    got = fill_block(fill, global_shape, offset, shape, dtype)
    np.testing.assert_array_equal(got.view(np.uint8), expected.view(np.uint8))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", INITIALIZERS)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=blocks(min_rank=2))
def test_initializer_block_equals_slice_of_whole_fill(name, dtype, case):
    global_shape, offset, shape = case
    fill = INITIALIZERS[name]
    expected = whole(fill, global_shape, dtype)[block_slices(offset, shape)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # empty blocks warn, as torch does
        got = fill_block(fill, global_shape, offset, shape, dtype)
    np.testing.assert_array_equal(got.view(np.uint8), expected.view(np.uint8))


@pytest.mark.parametrize("layout", ["F", "transposed", "strided", "byteswapped"])
@pytest.mark.parametrize("dtype", [np.dtype(np.float32), np.dtype(np.float64), BF16], ids=str)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=blocks(min_rank=2))
def test_block_values_do_not_depend_on_memory_layout(layout, dtype, case):
    global_shape, offset, shape = case
    fill = SAMPLERS["normal"]
    expected = whole(fill, global_shape, dtype)[block_slices(offset, shape)]
    if layout == "F":
        out = np.empty(shape, dtype, order="F")
    elif layout == "transposed":
        out = np.empty(shape[::-1], dtype).T
    elif layout == "strided":
        out = np.empty(tuple(2 * b for b in shape), dtype)[tuple(slice(None, None, 2) for _ in shape)]
    else:
        if dtype == BF16:
            return  # ml_dtypes has no byte-swapped bfloat16
        out = np.empty(shape, dtype.newbyteorder())
    fill(out, global_shape=global_shape, global_offset=offset)
    np.testing.assert_array_equal(out.astype(dtype), expected)


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 8 KiB and threads for every size: many tasks per block."""
    monkeypatch.setattr(_launch, "CHUNK_BYTES", 8 << 10)
    monkeypatch.setattr(_launch, "MIN_CHUNK_BYTES", 8 << 10)
    monkeypatch.setattr(_launch, "PARALLEL_MIN_BYTES", 0)


@pytest.mark.parametrize("case", [
    ((300, 5000), (17, 1234), (200, 3000)),      # rows longer than a chunk, cut into pieces
    ((300, 5000), (1, 4000), (299, 256)),        # narrow rows, many rows per task
    ((64, 4096), (8, 0), (40, 4096)),            # full rows: one run
    ((7, 9, 300, 64), (1, 2, 5, 3), (5, 6, 290, 60)),
    ((7, 9, 300, 64), (1, 2, 0, 0), (5, 6, 300, 64)),  # trailing axes whole: runs merge
])
@pytest.mark.parametrize("name", ["uniform", "normal", "trunc_normal"])
def test_chunked_and_threaded_blocks(case, name, small_chunks):
    global_shape, offset, shape = case
    fill = SAMPLERS[name]
    expected = whole(fill, global_shape, np.float32)[block_slices(offset, shape)]
    np.testing.assert_array_equal(fill_block(fill, global_shape, offset, shape, np.float32), expected)
    strided = np.empty(shape[::-1], np.float32).T
    fill(strided, global_shape=global_shape, global_offset=offset)
    np.testing.assert_array_equal(strided, expected)


def test_column_shards_reassemble_the_whole_weight():
    """Tensor parallelism: a (out, in) weight split by columns over 3 ranks, unevenly."""
    global_shape = (96, 1000)
    expected = fastglorot.glorot_uniform(global_shape, seed=1, stream="proj.weight")
    cuts = [0, 333, 667, 1000]
    shards = [fastglorot.glorot_uniform((96, hi - lo), seed=1, stream="proj.weight",
                                        global_shape=global_shape, global_offset=(0, lo))
              for lo, hi in zip(cuts, cuts[1:])]
    np.testing.assert_array_equal(np.concatenate(shards, axis=1), expected)


def test_initializers_read_fans_from_global_shape():
    """A column shard of a Linear weight has the whole weight's bound, not its own."""
    shard = fastglorot.glorot_uniform((512, 8), seed=3, global_shape=(512, 4096), global_offset=(0, 8))
    bound = math.sqrt(6 / (512 + 4096))
    assert np.abs(shard).max() <= bound
    assert np.abs(shard).max() > 0.99 * bound  # 4096 samples reach the edge of the whole weight's bound
    own_bound = math.sqrt(6 / (512 + 8))
    assert np.abs(shard).max() < 0.5 * own_bound


def test_explicit_fans_win_over_global_shape():
    a = fastglorot.glorot_normal((64, 32), seed=3, global_shape=(64, 64), global_offset=(0, 32),
                                 fan_in=10, fan_out=20)
    b = fastglorot.glorot_normal((64, 64), seed=3, fan_in=10, fan_out=20)[:, 32:]
    np.testing.assert_array_equal(a, b)


def test_global_offset_defaults_to_the_origin():
    a = fastglorot.normal_(np.empty((4, 5), np.float32), seed=1, global_shape=(10, 50))
    b = fastglorot.normal_(np.empty((10, 50), np.float32), seed=1)[:4, :5]
    np.testing.assert_array_equal(a, b)


def test_full_block_equals_plain_fill_and_rank_zero_works():
    a = fastglorot.uniform_(np.empty((33, 77)), seed=2, global_shape=(33, 77), global_offset=(0, 0))
    np.testing.assert_array_equal(a, fastglorot.uniform_(np.empty((33, 77)), seed=2))
    scalar = fastglorot.uniform_(np.empty(()), seed=2, global_shape=(), global_offset=())
    assert scalar == fastglorot.uniform_(np.empty(1), seed=2)[0]


def test_torch_tensor_block():
    torch = pytest.importorskip("torch")
    out = torch.empty(16, 100, dtype=torch.bfloat16)
    fastglorot.normal_(out, seed=4, global_shape=(32, 300), global_offset=(16, 150))
    expected = fastglorot.normal_(np.empty((32, 300), BF16), seed=4)[16:, 150:250]
    np.testing.assert_array_equal(out.view(torch.int16).numpy().view(np.uint16), expected.view(np.uint16))


def test_generator_methods_take_blocks():
    gen, again = fastglorot.Generator(8), fastglorot.Generator(8)
    part = gen.glorot_uniform((10, 20), global_shape=(30, 40), global_offset=(20, 20))
    np.testing.assert_array_equal(part, again.glorot_uniform((30, 40))[20:, 20:])


BAD_BLOCKS = [
    (dict(global_shape=(10,)), "dimensions"),
    (dict(global_shape=(10, 20, 30)), "dimensions"),
    (dict(global_shape=(10, 20), global_offset=(0,)), "entries"),
    (dict(global_shape=(10, 20), global_offset=(-1, 0)), "non-negative"),
    (dict(global_shape=(10, -20)), "non-negative"),
    (dict(global_shape=(10, 20), global_offset=(7, 0)), "runs past"),
    (dict(global_shape=(10, 20), global_offset=(0, 16)), "runs past"),
    (dict(global_shape=(2**32, 2**31)), "2\\*\\*62"),
    (dict(global_offset=(0, 0)), "needs global_shape"),
    (dict(global_shape=(10, 20), offset=5), "cannot be combined"),
]


@pytest.mark.parametrize("kwargs, match", BAD_BLOCKS)
@pytest.mark.parametrize("name", ["uniform", "trunc_normal", "glorot_uniform"])
def test_bad_blocks_raise_value_error_before_any_write(name, kwargs, match):
    out = np.full((4, 5), 7.0, np.float32)
    with pytest.raises(ValueError, match=match):
        FILLS[name](out, **kwargs)
    assert (out == 7.0).all()


@pytest.mark.parametrize("kwargs", [dict(global_shape=(10, 2.5)), dict(global_shape=(10, 20), global_offset=(0, "1")),
                                    dict(global_shape="10"), dict(global_shape=(10, True))])
def test_non_integer_blocks_raise_type_error(kwargs):
    out = np.full((4, 5), 7.0, np.float32)
    with pytest.raises(TypeError):
        fastglorot.uniform_(out, seed=1, **kwargs)
    assert (out == 7.0).all()
