"""Pinned values of stream formats v1 and v2 (README "Stream format").

These are the reproducibility contract: the same (seed, stream, offset,
dtype) must give these bits in every future version.  They were recorded
from fastglorot 0.1.0 (stream format v1), whose raw words reproduce
Random123's known-answer vector (word 0 of seed 0 is 0x6627e8d5) and whose
conversions are checked against an independent NumPy derivation in
test_stream_format.py.  Changing any value here is a breaking change that
needs a new stream-format version and a README entry.

Stream format 2's values (``GOLDEN_V2``, ``GOLDEN_V2_HASHES``) were recorded
from fastglorot 0.6.0, whose format-2 fills equal an independent NumPy
derivation from README "Stream format 2" bit for bit
(``tests/test_stream_format_v2.py``); format 1's pins above did not change.

Every test runs twice: on the numba kernels and on their NumPy twins (the
path small fills take before the kernels are loaded).
"""

import hashlib

import ml_dtypes  # noqa: F401  (registers the bfloat16 dtype name)
import numpy as np
import pytest

import fastglorot

pytestmark = pytest.mark.usefixtures("fill_engine")

GOLDEN = {
    (0, 0, 0): {
        "bits": [0x6627E8D5, 0xF8E4CCA4, 0x04FAA329, 0xC990EF29],
        "float32 uniform": ["-0x1.9d8178p-3", "0x1.e39332p-1", "-0x1.ec1572p-1", "0x1.2643bep-1"],
        "float32 normal": ["0x1.fb7662p-1", "-0x1.3aa6aep-3", "-0x1.2fb526p+0", "-0x1.30d930p-1"],
        "float64 uniform": ["-0x1.9d8172a1e963cp-3", "0x1.e393329172c81p-1", "-0x1.ec15735ab8e33p-1",
                            "0x1.2643bca5a911dp-1"],
        "float64 normal": ["-0x1.f1bcd549837c2p-4", "-0x1.4f5b54df97ef4p-4", "0x1.c6c3bebeb4e53p+0",
                           "-0x1.183d7dd057c91p-1"],
    },
    (1, 0, 0): {
        "bits": [0xE3E80670, 0xAC08141B, 0x3F55B3F0, 0xC1F3CFA1],
        "float32 uniform": ["0x1.8fa01ap-1", "0x1.6040a4p-2", "-0x1.02a932p-1", "0x1.07cf3ep-1"],
        "float32 normal": ["0x1.8587c6p-2", "0x1.40ff50p-1", "-0x1.91311cp+0", "0x1.7376cap-1"],
        "float64 uniform": ["0x1.8fa019c394283p-1", "0x1.6040a0defe2e6p-2", "-0x1.02a9303dc624dp-1",
                            "0x1.07cf3e84256bbp-1"],
        "float64 normal": ["-0x1.a7d4d42746e8fp-2", "-0x1.c327de4fc7ee9p-1", "-0x1.88f378d304defp-2",
                           "0x1.d9c208d159238p-2"],
    },
    (2**64 - 1, 7, 1000): {
        "bits": [0x3C475DC0, 0xF4629806, 0x10EEDEAB, 0x9AB0D042],
        "float32 uniform": ["-0x1.0ee28ap-1", "0x1.d18a62p-1", "-0x1.bc4486p-1", "0x1.ab0d08p-3"],
        "float32 normal": ["0x1.6f56b4p+1", "-0x1.1617f6p-1", "0x1.27f0e8p-1", "-0x1.023cdap+0"],
        "float64 uniform": ["0x1.a304335321565p-1", "0x1.9ff1faf7b6d6fp-1", "-0x1.135f8d547c354p-3",
                            "0x1.5dd1c62db2d6fp-1"],
        "float64 normal": ["-0x1.7dad59e0a390bp-2", "-0x1.1832dae95b1a3p-1", "0x1.dcf05e98c2745p-4",
                           "-0x1.84600e8e738a4p-4"],
    },
    (20261129, 2**64 - 1, 2**40 + 1): {
        "bits": [0x041DF716, 0x58C3B82A, 0x38EC3FE1, 0x7F93A1DC],
        "float32 uniform": ["-0x1.ef8822p-1", "-0x1.39e23cp-2", "-0x1.1c4f02p-1", "-0x1.b17a00p-9"],
        "float32 normal": ["0x1.1319f4p+1", "0x1.e05cb4p-1", "-0x1.9e0ba0p+0", "0x1.9f5850p-4"],
        "float64 uniform": ["0x1.fb4e50afa26a9p-1", "0x1.6ea99f8df828bp-1", "-0x1.d78620fdc85e4p-3",
                            "0x1.114866c2a6fa9p-1"],
        "float64 normal": ["0x1.e41361e4f4e7fp-5", "0x1.12795b9c0ecc9p-1", "0x1.1610e20bedfecp+0",
                           "0x1.a11a5bb5ac5abp-2"],
    },
}

# sha256 (first 32 hex digits) of 100_003 elements, seed 123, stream 4, offset 999:
# every lane and sub-block of many tiles, including partial ones at both ends.
GOLDEN_HASHES = {
    "bits": "497fa4901871bdc914a09a6271abc696",
    "float32 uniform": "0c084caac0f3e2838d44c0d68b3927b4",
    "float32 normal": "b31421fa18e0374abfc4399d80189b22",
    "float64 uniform": "378a4093fe3420716e42398b96de8409",
    "float64 normal": "1501fcf79e962a54dbc176aa561fb4e0",
    # since 0.2.0 (truncated normal on [0.25, 3.0]; 16-bit outputs)
    "float32 truncated": "7581233b0bc8297eeb734d5c2f61554e",
    "float64 truncated": "688df958b9773b96d91a77f7ad3929be",
    "float16 uniform": "52c6e21703af4e97be6c289f3cd64e91",
    "float16 normal": "637fc84850e658623620bf45791ad47f",
    "float16 truncated": "237c221ecfb03e38d6e2fc1ea0ba169d",
    "bfloat16 uniform": "bdb9f8f345a895c055753db2607759da",
    "bfloat16 normal": "6b657cdaa11ece89206d7fdfc8accc10",
    "bfloat16 truncated": "ce20ddb23dde02c5385dadd20ce13ac6",
}

# First values of trunc_normal_(mean 0, std 1, [-2, 2], seed 0), since 0.2.0.
GOLDEN_TRUNCATED = {
    "float32": ["-0x1.f39524p-3", "0x1.a6f738p+0", "-0x1.bc5246p+0", "0x1.8190d0p-1"],
    "float64": ["-0x1.f3952354cf27ap-3", "0x1.a6f7382ebe4b0p+0", "-0x1.bc5246b11015dp+0", "0x1.8190d092d1493p-1"],
}


# Stream format 2 (since 0.6.0): the float32 normal's first values (same keys as GOLDEN: raw words, uniforms and
# float64 are format 1's there), trunc_normal_(mean 0, std 1, [-2, 2], seed 0), and long-run hashes as above.
GOLDEN_V2 = {
    (0, 0, 0): ["0x1.fb7662p-1", "-0x1.3aa6aep-3", "-0x1.2fb526p+0", "-0x1.30d930p-1"],
    (1, 0, 0): ["0x1.8587c6p-2", "0x1.40ff50p-1", "-0x1.91311cp+0", "0x1.7376c8p-1"],
    (2**64 - 1, 7, 1000): ["0x1.6f56b4p+1", "-0x1.1617f8p-1", "0x1.27f0e8p-1", "-0x1.023cdcp+0"],
    (20261129, 2**64 - 1, 2**40 + 1): ["0x1.1319f2p+1", "0x1.e05cb4p-1", "-0x1.9e0ba0p+0", "0x1.9f5850p-4"],
}
GOLDEN_V2_TRUNCATED = ["-0x1.f39520p-3", "0x1.a6f736p+0", "-0x1.bc5244p+0", "0x1.8190d2p-1"]
GOLDEN_V2_HASHES = {
    "float32 normal": "bafecf32776f85dd7faf10e1ade0bdc3",
    "float32 truncated": "e76a82566fc119f2ca1b3b8c6f50738c",
    "float16 normal": "dd3f422c5f73048db4d2dfd5dee00e71",
    "float16 truncated": "21cf97f477f4f8ac7bfd3e79fc2d7713",
    # bfloat16's 8-bit rounding of the format-2 normal happens to equal format 1's on these 100_003 values
    "bfloat16 normal": "6b657cdaa11ece89206d7fdfc8accc10",
    "bfloat16 truncated": "ffa8f8e0cf8e087c0c8c3bf45152d67b",
}


def _sample(kind, n, seed, stream, offset, low=-1.0, high=1.0, mean=0.0, std=1.0, stream_format=1):
    if kind == "bits":
        return fastglorot.random_bits(n, seed=seed, stream=stream, offset=offset)
    dtype, dist = kind.split()
    out = np.empty(n, np.dtype(dtype))
    where = dict(seed=seed, stream=stream, offset=offset, stream_format=stream_format)
    if dist == "uniform":
        return fastglorot.uniform_(out, low, high, **where)
    if dist == "truncated":
        return fastglorot.trunc_normal_(out, mean, std, 0.25, 3.0, **where)
    return fastglorot.normal_(out, mean, std, **where)


@pytest.mark.parametrize("key", GOLDEN, ids=str)
def test_first_values(key):
    seed, stream, offset = key
    for kind, expected in GOLDEN[key].items():
        got = _sample(kind, 4, seed, stream, offset)
        if kind == "bits":
            assert got.tolist() == expected, kind
        else:
            assert [float(v) for v in got] == [float.fromhex(v) for v in expected], kind


@pytest.mark.parametrize("dtype", GOLDEN_TRUNCATED)
def test_truncated_first_values(dtype):
    got = fastglorot.trunc_normal_(np.empty(4, dtype), 0.0, 1.0, -2.0, 2.0, seed=0)
    assert [float(v) for v in got] == [float.fromhex(v) for v in GOLDEN_TRUNCATED[dtype]]


@pytest.mark.parametrize("kind", GOLDEN_HASHES)
def test_hash_of_long_run(kind):
    got = _sample(kind, 100_003, 123, 4, 999, low=-0.25, high=0.5, mean=1.0, std=0.5)
    assert hashlib.sha256(got.tobytes()).hexdigest()[:32] == GOLDEN_HASHES[kind]


@pytest.mark.parametrize("block_offset, block_shape, indices", [
    ((1, 0), (1, 2), [2, 3]),   # second row of a (2, 2) weight
    ((0, 1), (2, 1), [1, 3]),   # second column: a block with a stride in the stream
])
def test_block_placement_golden(block_offset, block_shape, indices):
    """Blocks add no stream values: README "Stream format" (Blocks) places element (i, j) of a block at
    global C-order index (o0 + i) * G1 + (o1 + j).  Expected bits: the pinned (seed 0, stream 0) values above."""
    golden = GOLDEN[(0, 0, 0)]["float32 uniform"]
    out = fastglorot.uniform_(np.empty(block_shape, np.float32), -1.0, 1.0, seed=0, stream=0,
                              global_shape=(2, 2), global_offset=block_offset)
    assert [float(x).hex() for x in out.reshape(-1)] == [float.fromhex(golden[i]).hex() for i in indices]


# -- stream format 2 --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("key", GOLDEN_V2, ids=str)
def test_v2_first_values(key):
    seed, stream, offset = key
    got = _sample("float32 normal", 4, seed, stream, offset, stream_format=2)
    assert [float(v) for v in got] == [float.fromhex(v) for v in GOLDEN_V2[key]]
    for kind in ("bits", "float32 uniform", "float64 uniform", "float64 normal"):  # format 1's values, pinned above
        got = _sample(kind, 4, seed, stream, offset, stream_format=2)
        expected = GOLDEN[key][kind]
        assert (got.tolist() if kind == "bits" else [float(v).hex() for v in got]) == (
            expected if kind == "bits" else [float.fromhex(v).hex() for v in expected]), kind


def test_v2_truncated_first_values():
    got = fastglorot.trunc_normal_(np.empty(4, np.float32), 0.0, 1.0, -2.0, 2.0, seed=0, stream_format=2)
    assert [float(v) for v in got] == [float.fromhex(v) for v in GOLDEN_V2_TRUNCATED]


@pytest.mark.parametrize("kind", GOLDEN_V2_HASHES)
def test_v2_hash_of_long_run(kind):
    got = _sample(kind, 100_003, 123, 4, 999, mean=1.0, std=0.5, stream_format=2)
    assert hashlib.sha256(got.tobytes()).hexdigest()[:32] == GOLDEN_V2_HASHES[kind]


def test_v2_context_gives_the_pinned_values():
    """``with fastglorot.stream_format(2):`` is ``stream_format=2`` (the pinned values)."""
    with fastglorot.stream_format(2):
        got = fastglorot.normal_(np.empty(4, np.float32), 0.0, 1.0, seed=1)
    assert [float(v) for v in got] == [float.fromhex(v) for v in GOLDEN_V2[(1, 0, 0)]]
