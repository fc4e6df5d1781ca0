"""Philox4x32-R: Random123 known-answer vectors and the jitted form."""

import warnings

import numpy as np
import pytest
from numba import njit

import fastglorot
from fastglorot._engines.numba_elements import philox4x32_10

# Random123's known-answer vectors (DEShawResearch/random123, tests/kat_vectors,
# the "philox4x32 7" and "philox4x32 10" lines; the file has no other
# philox4x32 round counts): (rounds, counter words, key words, expected).
_ZEROS = ([0x00000000] * 4, [0x00000000] * 2)
_ONES = ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2)
_PI = ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0])
KAT_VECTORS = [
    (7, *_ZEROS, [0x5F6FB709, 0x0D893F64, 0x4F121F81, 0x4F730A48]),
    (7, *_ONES, [0x5207DDC2, 0x45165E59, 0x4D8EE751, 0x8C52F662]),
    (7, *_PI, [0x4DFCCABA, 0x190A87F0, 0xC47362BA, 0xB6B5242A]),
    (10, *_ZEROS, [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
    (10, *_ONES, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
    (10, *_PI, [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]),
]
# The R = 10 rows (fastglorot's generator): (counter words, key words, expected).
KNOWN_ANSWERS = [(c, k, e) for r, c, k, e in KAT_VECTORS if r == 10]


@pytest.mark.parametrize("rounds, counter, key, expected", KAT_VECTORS)
def test_random123_kat_vectors(rounds, counter, key, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the key additions wrap silently, also for a single counter
        result = fastglorot.philox4x32(np.array(counter, np.uint32), np.array(key, np.uint32), rounds=rounds)
    assert result.dtype == np.uint32 and result.shape == (4,)
    assert result.tolist() == expected


@pytest.mark.parametrize("counter, key, expected", KNOWN_ANSWERS)
def test_default_is_ten_rounds(counter, key, expected):
    assert fastglorot.philox4x32(np.array(counter, np.uint32), np.array(key, np.uint32)).tolist() == expected


def test_batched_and_broadcast():
    counters = np.array([c for c, _, _ in KNOWN_ANSWERS], np.uint32)
    keys = np.array([k for _, k, _ in KNOWN_ANSWERS], np.uint32)
    assert fastglorot.philox4x32(counters, keys).tolist() == [e for _, _, e in KNOWN_ANSWERS]
    one_key = fastglorot.philox4x32(counters.reshape(3, 1, 4), keys[0])
    assert one_key.shape == (3, 1, 4)
    assert one_key[0, 0].tolist() == KNOWN_ANSWERS[0][2]
    seven = [(c, k, e) for r, c, k, e in KAT_VECTORS if r == 7]
    assert fastglorot.philox4x32(np.array([c for c, _, _ in seven], np.uint32), np.array([k for _, k, _ in seven]),
                                 rounds=7).tolist() == [e for _, _, e in seven]
    assert fastglorot.philox4x32(np.zeros((2, 0, 4), np.uint32), np.zeros(2, np.uint32)).shape == (2, 0, 4)


def test_zero_rounds_is_identity():
    counter = np.array([1, 2, 3, 4], np.uint32)
    key = np.array([5, 6], np.uint32)
    assert fastglorot.philox4x32(counter, key, rounds=0).tolist() == [1, 2, 3, 4]


@pytest.mark.parametrize(
    "counter, key, rounds, error",
    [
        (np.zeros(3, np.uint32), np.zeros(2, np.uint32), 10, ValueError),
        (np.zeros(4, np.uint32), np.zeros(3, np.uint32), 10, ValueError),
        (np.zeros(4, np.float32), np.zeros(2, np.uint32), 10, TypeError),
        (np.array([0, 0, 0, 2**32], np.int64), np.zeros(2, np.uint32), 10, ValueError),
        (np.array([0, 0, 0, -1], np.int64), np.zeros(2, np.uint32), 10, ValueError),
        (np.zeros(4, np.uint32), np.zeros(2, np.uint32), 17, ValueError),
    ],
)
def test_bad_arguments(counter, key, rounds, error):
    with pytest.raises(error):
        fastglorot.philox4x32(counter, key, rounds=rounds)


@njit
def _jitted_batch(counters, keys):
    out = np.empty_like(counters)
    for i in range(counters.shape[0]):
        c = counters[i]
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = philox4x32_10(
            c[0], c[1], c[2], c[3], keys[i, 0], keys[i, 1]
        )
    return out


def test_jitted_form_matches_reference():
    rng = np.random.default_rng(20261129)
    counters = rng.integers(0, 2**32, size=(4096, 4), dtype=np.uint64).astype(np.uint32)
    keys = rng.integers(0, 2**32, size=(4096, 2), dtype=np.uint64).astype(np.uint32)
    counters[:3] = [c for c, _, _ in KNOWN_ANSWERS]
    keys[:3] = [k for _, k, _ in KNOWN_ANSWERS]
    np.testing.assert_array_equal(_jitted_batch(counters, keys), fastglorot.philox4x32(counters, keys))
