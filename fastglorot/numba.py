"""Numba-callable stream elements: the library's exact values, one element at a time.

``@njit`` functions that your own jitted kernels (serial or ``prange``) and
Python can call: each returns element ``index`` of the corresponding bulk
fill, bit for bit, so a dropout mask, a sparse or fused initializer or a
scattered fill gets exactly the values of :func:`fastglorot.uniform_` and
friends.  ``random_word``, ``uniform_float32``/``uniform_float64``,
``normal_float32``/``normal_float64``,
``trunc_normal_float32``/``trunc_normal_float64`` (parameters from
:func:`trunc_normal_params`, in Python), ``bfloat16_bits``/``float16_bits``
(for 16-bit outputs) and ``philox4x32_10`` are part of the stable stream
format (README "Stream format")::

    import numpy as np
    from numba import njit, prange
    from fastglorot.numba import seed_stream, uniform_float32

    @njit(parallel=True)
    def dropout_mask(rows, cols, p, seed, stream):
        mask = np.empty((rows, cols), np.bool_)
        for r in prange(rows):
            for c in range(cols):  # element index = global C-order index of the bulk fill
                mask[r, c] = uniform_float32(seed, stream, r * cols + c, 0.0, 1.0) >= p
        return mask

    mask = dropout_mask(64, 128, 0.25, *seed_stream(1234, "dropout.0"))
    # == fastglorot.uniform((64, 128), seed=1234, stream="dropout.0") >= 0.25

Notes
-----
Seeds and streams are integers in ``[0, 2**64)``; numba refuses Python ints
of 2**63 or more (half of all named streams), so pass
:func:`seed_stream`'s uint64 scalars (it also hashes stream names).

Arguments a fill would reject give NaN instead of an exception, so a
``prange`` loop stays branch-free.

README "Numba" has the index rule, the cost against the bulk fills and the
compilation options.  ``import fastglorot`` does not import this module.
"""

from __future__ import annotations

from typing import Any, Tuple

import numpy as np

from ._format.tables import format_of
from ._engines.elements import (
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
from ._format.params import truncated_params
from ._format.seeding import Stream, resolve_stream
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
