"""The ``mkl-vsl`` benchmark peers: Intel oneMKL's VSL Philox4x32-10 through ctypes (``fastglorot.benchmarks.mkl_vsl``).

Skipped where the ``mkl`` wheel (or a system MKL) is not installed.  The
expected words come from MKL itself, an independent implementation of
Philox4x32-10 (Salmon et al., SC'11): its stream with seed ``s`` is
fastglorot's ``philox4x32`` of the counters ``(c, 0, 0, 0)`` under the key
``(s, 0)``, word after word.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from fastglorot import philox4x32
from fastglorot.benchmarks import mkl_vsl, peers

needs_mkl = pytest.mark.skipif(not mkl_vsl.available(), reason="Intel MKL (pip install mkl) is not installed")


def _words(seed: int, count: int, skip: int = 0) -> np.ndarray:
    """``count`` words of MKL's Philox4x32-10 stream ``seed``, from word ``skip`` (``vslSkipAheadStream``)."""
    streams = mkl_vsl.Streams(seed, 2, skip)  # stream 1 starts at word ``skip``
    words = np.empty(count, np.uint32)
    handle = streams.handles[1] if skip else streams.handles[0]
    assert mkl_vsl.load().viRngUniformBits32(0, handle, count, words.ctypes.data) == 0
    streams.close()
    return words


@needs_mkl
@pytest.mark.parametrize("seed", [0, 1, 12345, 2**32 - 1])
def test_mkls_philox_stream_is_fastglorots_philox4x32(seed):
    words = _words(seed, 64)
    expected = np.concatenate([philox4x32((c, 0, 0, 0), (seed, 0)) for c in range(16)])
    np.testing.assert_array_equal(words, expected)


@needs_mkl
def test_skip_ahead_crosses_the_counters_low_word():
    """Words 4 (2**32 - 2) .. 4 (2**32 + 2): the counter's low word wraps into its second word."""
    words = _words(7, 16, skip=4 * (2**32 - 2))
    expected = np.concatenate([philox4x32(((c & 0xFFFFFFFF), c >> 32, 0, 0), (7, 0))
                               for c in range(2**32 - 2, 2**32 + 2)])
    np.testing.assert_array_equal(words, expected)


@needs_mkl
@pytest.mark.parametrize("dist, method", [("uniform", mkl_vsl.METHOD_UNIFORM_STD), ("normal", mkl_vsl.METHOD_ICDF)])
@pytest.mark.parametrize("threads", [2, 3])
def test_threads_draw_disjoint_ranges_of_one_stream(dist, method, threads):
    """One word per value (uniform, ICDF): each thread's skipped-ahead stream continues where the previous
    thread's range ends, so any thread count gives the one-thread values."""
    one, many = np.empty(100_003, np.float32), np.empty(100_003, np.float32)
    mkl_vsl.filler(one, dist, method, 0.5, 1)()
    mkl_vsl.filler(many, dist, method, 0.5, threads)()
    np.testing.assert_array_equal(one, many)


@pytest.mark.parametrize("dist, method", [("uniform", mkl_vsl.METHOD_UNIFORM_STD),
                                          ("normal", mkl_vsl.METHOD_BOXMULLER2), ("normal", mkl_vsl.METHOD_ICDF)])
@needs_mkl
@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16])
def test_16_bit_outputs_are_the_float32_draws_rounded(dist, method, dtype):
    """The peer draws float32 chunks and casts them (NumPy / ml_dtypes: round to nearest even)."""
    reference, out = np.empty(600_000, np.float32), np.empty(600_000, dtype)
    mkl_vsl.filler(reference, dist, method, 0.25, 1)()
    mkl_vsl.filler(out, dist, method, 0.25, 1)()
    np.testing.assert_array_equal(out.view(np.uint16), reference.astype(dtype).view(np.uint16))


@needs_mkl
@pytest.mark.parametrize("name, method", [("mkl-vsl", mkl_vsl.METHOD_BOXMULLER2), ("mkl-vsl-icdf", mkl_vsl.METHOD_ICDF)])
def test_the_peers_are_mkls_glorot_samples(name, method):
    """Kolmogorov-Smirnov against scipy.stats at alpha = 1e-3 (fixed seed: the peers' seed 1): the uniform
    on [-a, a) and the normal with std a of a 2**20-element layer's fans."""
    stats = pytest.importorskip("scipy.stats")
    out = np.empty((1024, 1024), np.float32)
    for dist in peers.DISTS:
        scale = peers.glorot_scale(out.shape, dist)
        peers.PEERS[name].make(out, dist, 2)()
        reference = stats.uniform(-scale, 2 * scale) if dist == "uniform" else stats.norm(0, scale)
        assert stats.kstest(out.reshape(-1), reference.cdf).pvalue > 1e-3, (name, dist)
        if dist == "uniform":
            assert -scale <= out.min() and out.max() < scale
    # and the normal is MKL's, with the method named: the peer's values are vsRngGaussian's of stream 1
    expected = np.empty(out.size, np.float32)
    mkl_vsl.filler(expected, "normal", method, peers.glorot_scale(out.shape, "normal"), 1)()
    first_half = out.size // 2  # thread 0's range of the 2-thread fill
    np.testing.assert_array_equal(out.reshape(-1)[:first_half], expected[:first_half])


def test_without_mkl_the_peers_say_what_to_install(monkeypatch):
    monkeypatch.setattr(mkl_vsl, "_library", None)
    monkeypatch.setattr(mkl_vsl, "library_path", lambda: None)
    assert not mkl_vsl.available() and not peers.PEERS["mkl-vsl"].available()
    with pytest.raises(ImportError, match=r"pip install mkl"):
        peers.PEERS["mkl-vsl"].make(np.empty((64, 64), np.float32), "uniform", 1)
