r"""Numba-callable stream elements: the library's exact values, one element at a time.

The functions here are ``@numba.njit`` functions that other jitted code can
call inside its own kernels (serial loops or ``prange``), and that Python can
call too.  Each returns element ``index`` of the corresponding bulk fill, bit
for bit, for any ``index``: write a dropout mask, a custom initializer or a
sparse fill in your own kernel and still get exactly the values of
:func:`fastglorot.uniform_` and friends.  They are part of the stable stream
format (README "Stream format", :data:`fastglorot.STREAM_FORMAT`)::

    import numpy as np
    from numba import njit, prange
    from fastglorot.numba import seed_stream, uniform_float32

    @njit(parallel=True)
    def dropout_mask(rows, cols, p, seed, stream):
        mask = np.empty((rows, cols), np.bool_)
        for r in prange(rows):
            for c in range(cols):
                # element index = global C-order index of the bulk fill
                mask[r, c] = uniform_float32(seed, stream, r * cols + c, 0.0, 1.0) >= p
        return mask

    mask = dropout_mask(64, 128, 0.25, *seed_stream(1234, "dropout.0"))
    # == fastglorot.uniform((64, 128), seed=1234, stream="dropout.0") >= 0.25

Functions
---------
``seed_stream(seed, stream=0)`` (Python)
    ``(np.uint64(seed), np.uint64(stream_id))``, validated as the fills
    validate them; a str stream is hashed by :func:`fastglorot.stream_id`.
``philox4x32_10(counter, key)``
    Philox4x32-10 of one counter (4 words) under ``key`` (2 words), tuples
    or arrays, words taken mod 2**32; a 4-tuple of uint32, equal to
    ``fastglorot.philox4x32(counter, key)`` (Random123's known answers).
``random_word(seed, stream, index)``
    uint32 word ``index`` of the raw stream, ``fastglorot.random_bits``.
``uniform_float32(seed, stream, index, low, high)``, ``uniform_float64(...)``
    Element ``index`` of ``fastglorot.uniform_`` on a float32 / float64 array.
``normal_float32(seed, stream, index, mean, std)``, ``normal_float64(...)``
    Element ``index`` of ``fastglorot.normal_`` (float32: ``mean`` and
    ``std`` rounded to float32 first, as the fill does).
``trunc_normal_params(mean, std, a, b, dtype="float32")`` (Python)
    The 7 float64 parameters of a truncated normal, validated as
    ``fastglorot.trunc_normal_`` validates them; then, in jitted code,
``trunc_normal_float32(seed, stream, index, params)``, ``trunc_normal_float64(...)``
    Element ``index`` of ``fastglorot.trunc_normal_``.
``bfloat16_bits(x)``, ``float16_bits(x)``
    uint16 bits of ``float32(x)`` rounded to nearest even: a bfloat16 or
    float16 fill holds, at ``index``, the bits of the float32 element
    ``index`` of the same distribution, rounded by these.

Arguments
---------
seed, stream
    Integers in ``[0, 2**64)``, taken modulo 2**64 (a uint64 and an int64
    with the same bits are the same seed).  numba types a Python int as
    int64 and raises ``OverflowError`` for one of 2**63 or more, which half
    of all named streams are: pass ``seed_stream(seed, stream)``, uint64
    scalars, into your kernel (it also hashes stream names).
index
    The global element index, ``0 <= index < 2**62``: the C-order position
    in the array a bulk fill with ``offset=0`` would write.  So a fill with
    ``offset=f`` holds element ``f + i`` at its position ``i``, and a block
    at ``global_offset = (o0, ..., ok)`` of ``global_shape`` holds, at
    ``(i0, ..., ik)``, element ``ravel_multi_index((o0 + i0, ..., ok + ik),
    global_shape)``.
low, high, mean, std
    float32 or float64 scalars (used as float64, exactly as the fills take
    Python floats).  Arguments the fills reject (not finite, outside the
    dtype's range, ``low > high``, ``std < 0``, no dtype value in
    ``[low, high]``, a normal whose samples could overflow the dtype:
    ``|mean| + 6.7637 * std`` above float32's maximum, ``8.5717 * std`` for
    float64) give NaN instead of an exception, so a ``prange`` loop stays
    branch-free.

Element definitions (README "Stream format", v1)
------------------------------------------------
With Philox4x32-10 key ``(seed mod 2**32, seed >> 32)`` and the counter of
block ``b`` ``(b mod 2**32, b >> 32, stream mod 2**32, stream >> 32)``:

* 4-byte elements (raw words, float32, 16-bit): ``t, r = divmod(index, 512)``,
  ``j, m = divmod(r, 128)``: lane ``j`` of block ``b = 128 t + m``.

  - uniform: ``k = word >> 8``, ``clamp(mid + scale * (2k + 1 - 2**24))`` in
    float32 with ``mid = float32(low/2 + high/2)``,
    ``scale = float32((high/2 - low/2) * 2**-24)``, clamped to the smallest
    and largest float32 strictly inside ``(low, high)`` (the closed interval
    when none lies strictly inside).
  - normal: lanes ``2p, 2p + 1`` (``p = j // 2``) are the Box–Muller pair
    (radius ``u1``, angle ``u2``, ``u = (w + 1/2) / 2**32``); even ``j``
    receives ``mean + (r * std) * cos(2 pi u2)``, odd ``j`` the sine, with
    ``r = sqrt(-2 ln u1)`` (fastglorot's own float64 logarithm and float32
    sine/cosine polynomials).
  - truncated normal: ``v = (w + 1/2) / 2**32`` and the nearer-tail inverse
    CDF (Wichura's AS 241), in float64, rounded and clamped to ``[a, b]``.

* 8-byte elements (float64): ``t, r = divmod(index, 256)``,
  ``h, m = divmod(r, 128)``, block ``b = 128 t + m``.

  - uniform: lanes ``2h`` (high) and ``2h + 1`` (low) give 53 bits
    ``k = (hi << 21) | (lo >> 11)``; as float32 with 2**53 for 2**24.
  - normal: lanes 0, 1 give the 52-bit radius uniform, lanes 2, 3 the
    angle; ``h = 0`` receives the cosine, ``h = 1`` the sine.
  - truncated normal: lanes ``2h, 2h + 1`` give 52 bits,
    ``v = (k + 1/2) / 2**52``.

Cost
----
Each call computes one Philox block (10 rounds) for its one element, where
a bulk float32 fill shares each block among 4 outputs (2 for float64): up to
4x the Philox work, the conversions costing the same.  A
``@njit(parallel=True)`` kernel writing 64 Mi float32 elements took 3.2x the
time of ``fastglorot.uniform_`` on the same buffer (123 ms against 38 ms),
2.5x for ``normal_float32`` and 1.7x for ``trunc_normal_float32`` (AMD EPYC,
AVX2, 2 threads, medians of 5; ``python bench/bench_numba_elements.py``).  Use the
bulk fills for whole arrays; the element functions are for values the fills
cannot write: masks, sparse or fused initializers, scattered indices.

Compilation
-----------
The functions are ``@njit(nogil=True, cache=True, error_model="numpy",
fastmath=False, forceinline=True)`` dispatchers: numba compiles each once
per argument types (a second set of types recompiles only a thin wrapper)
and caches it on disk, and LLVM inlines it into the calling loop, which
vectorizes.  The values do not depend on the caller's options:
``fastmath=True`` in your kernel does not reach them.  First use costs
about 0.5-2 s of compilation per function.  ``import fastglorot`` does not
import this module.
"""

from __future__ import annotations

from typing import Any, Tuple

import numpy as np

from ._formats import format_of
from ._elements import (
    bfloat16_bits,
    float16_bits,
    normal_float32,
    normal_float64,
    philox4x32_10,
    random_word,
    trunc_normal_float32,
    trunc_normal_float64,
    uniform_float32,
    uniform_float64,
)
from ._params import truncated_params
from ._seeding import Stream, resolve_stream
from ._validate import as_uint64

__all__ = [
    "seed_stream",
    "philox4x32_10",
    "random_word",
    "uniform_float32",
    "uniform_float64",
    "normal_float32",
    "normal_float64",
    "trunc_normal_params",
    "trunc_normal_float32",
    "trunc_normal_float64",
    "bfloat16_bits",
    "float16_bits",
]


def trunc_normal_params(mean: float, std: float, a: float, b: float, dtype: object = "float32"
                        ) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The parameters of a truncated normal for :func:`trunc_normal_float32` / :func:`trunc_normal_float64`.

    Computed once, in Python, exactly as :func:`fastglorot.trunc_normal_`
    computes them: the tail probabilities come from fastglorot's
    plain-Python normal CDF, which is bit-identical on every platform (so it
    is not jitted).  Pass the array to the jitted functions.

    Parameters
    ----------
    mean : float
        Finite mean of the untruncated normal.
    std : float
        Finite standard deviation, ``std > 0``.
    a, b : float
        Finite absolute truncation bounds, ``a < b``.
    dtype : dtype-like, default "float32"
        The output the values are for: ``"float32"`` or ``"float16"`` /
        ``"bfloat16"`` (then use :func:`trunc_normal_float32` and round with
        :func:`float16_bits` / :func:`bfloat16_bits`), or ``"float64"`` (use
        :func:`trunc_normal_float64`).  The arguments must lie within its range.

    Returns
    -------
    numpy.ndarray of float64, shape (7,)
        ``(mean, std, clamp_low, clamp_high, Phi(alpha), Phi(-beta), mass)``
        with ``alpha = (a - mean)/std``, ``beta = (b - mean)/std`` (clipped
        to +-37.5), the clamp bounds being the dtype's values nearest
        ``[a, b]`` from inside, and ``mass`` the probability of ``[alpha,
        beta]`` formed without cancellation (README "Stream format").

    Raises
    ------
    TypeError
        For a non-real argument (or a bool) or an unsupported dtype.
    ValueError
        For a non-finite or out-of-range argument, ``std <= 0``, ``a >= b``,
        ``[a, b]`` more than 37.5 standard deviations from the mean, or no
        value of the dtype in ``[a, b]``.

    Examples
    --------
    >>> import numpy as np, fastglorot
    >>> from fastglorot.numba import trunc_normal_params, trunc_normal_float32
    >>> params = trunc_normal_params(0.0, 0.02, -0.04, 0.04)
    >>> x = np.empty(1000, np.float32)
    >>> _ = fastglorot.trunc_normal_(x, 0.0, 0.02, -0.04, 0.04, seed=3, stream=1)
    >>> bool(trunc_normal_float32(3, 1, 999, params) == x[999])
    True
    """
    params: np.ndarray[Any, np.dtype[np.float64]] = truncated_params(mean, std, a, b, format_of(dtype))
    return params


def seed_stream(seed: int, stream: Stream = 0) -> Tuple[np.uint64, np.uint64]:
    """``(seed, stream)`` as the uint64 scalars to pass to jitted code.

    numba types a Python int as int64 and refuses one of 2**63 or more
    (``OverflowError`` when the kernel is called), while seeds and stream ids
    span ``[0, 2**64)``: named streams hash to such values half the time.
    ``np.uint64`` scalars cover the whole range.

    Parameters
    ----------
    seed : int
        The seed, in ``[0, 2**64)`` (explicit: the element functions cannot
        draw one from entropy).
    stream : int or str, default 0
        A stream id in ``[0, 2**64)`` or a stream name, hashed by
        :func:`fastglorot.stream_id`.

    Returns
    -------
    (numpy.uint64, numpy.uint64)

    Raises
    ------
    TypeError, ValueError
        For a seed or stream that the fills would reject (``None`` as a seed too).

    Examples
    --------
    >>> from fastglorot.numba import seed_stream
    >>> seed_stream(7, "encoder.weight")[0]
    np.uint64(7)
    """
    if seed is None:
        raise TypeError("seed must be an integer in [0, 2**64); the element functions need an explicit seed")
    return np.uint64(as_uint64("seed", seed)), np.uint64(resolve_stream(stream))
