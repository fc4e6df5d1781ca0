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

Stream format 2 (``stream_format=2`` in the fills) changes only the float32
normal and truncated normal, and so their float16/bfloat16 roundings: their
elements are ``normal_float32_v2`` and ``trunc_normal_float32_v2``
(parameters from ``trunc_normal_params(..., stream_format=2)``).  Raw words,
the uniform and every float64 function are the same in both formats, so
they have no ``_v2`` names: a format-2 float64 normal is
``normal_float64``.  Jitted code cannot see :func:`fastglorot.stream_format`:
the function's name chooses the format.

Notes
-----
Seeds and streams are integers in ``[0, 2**64)``; numba refuses Python ints
of 2**63 or more (half of all named streams), so pass
:func:`seed_stream`'s uint64 scalars (it also hashes stream names).

Arguments a fill would reject, and a truncated normal's parameter array
of the other stream format, give NaN instead of an exception, so a
``prange`` loop stays branch-free.

README "Numba" has the index rule, the cost against the bulk fills and the
compilation options.  ``import fastglorot`` does not import this module.
"""

from __future__ import annotations

from typing import Any, Tuple

import numpy as np

from ._api.stream_format import resolve_stream_format
from ._format.elements import element_params
from ._format.tables import DISTRIBUTIONS, FORMATS, format_of
from ._engines.elements import (
    bfloat16_bits,
    float16_bits,
    normal_float32,
    normal_float32_v2,
    normal_float64,
    philox4x32_10,
    random_word,
    trunc_normal_float32,
    trunc_normal_float32_v2,
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
    "normal_float32_v2",
    "trunc_normal_params",
    "trunc_normal_float32",
    "trunc_normal_float64",
    "trunc_normal_float32_v2",
    "bfloat16_bits",
    "float16_bits",
]


def trunc_normal_params(mean: float, std: float, a: float, b: float, dtype: object = "float32",
                        stream_format: int = 1) -> np.ndarray[Any, np.dtype[Any]]:
    """The parameters of a truncated normal for the ``trunc_normal_float*`` element functions.

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
        ``"bfloat16"`` (then use :func:`trunc_normal_float32`, or
        :func:`trunc_normal_float32_v2` in stream format 2, and round with
        :func:`float16_bits` / :func:`bfloat16_bits`), or ``"float64"`` (use
        :func:`trunc_normal_float64`, in both formats).  The arguments must
        lie within its range.
    stream_format : {1, 2}, default 1
        The stream format of the element function the array is for (README
        "Stream format").  Not :func:`fastglorot.get_stream_format`: the
        jitted functions name their format, and the array must match the
        one you call.  float64 is the same in both formats.

    Returns
    -------
    numpy.ndarray, shape (7,) of float64 or (11,) of float32
        Format 1, and float64 in format 2: ``(mean, std, clamp_low,
        clamp_high, Phi(alpha), Phi(-beta), mass)`` with ``alpha = (a -
        mean)/std``, ``beta = (b - mean)/std`` (clipped to +-37.5), the clamp
        bounds being the dtype's values nearest ``[a, b]`` from inside, and
        ``mass`` the probability of ``[alpha, beta]`` formed without
        cancellation.  Format 2's float32 draws (float32, float16,
        bfloat16): those values rounded to float32 and rearranged, ``(mean,
        std, clamp_low, clamp_high, Phi(alpha) - 1/2, 1/2 - Phi(-beta),
        mass, Phi(alpha) 2**s, Phi(-beta) 2**s, mass 2**s, s)``, where ``s
        = 0`` unless ``max(mass, min(Phi(alpha), Phi(-beta))) < 2**-60``
        (then ``2**s`` scales it into ``[1/2, 1)``; the scaled tails are
        capped at ``2**127``), exactly as ``trunc_normal_(...,
        stream_format=2)`` computes them (README "Stream format").

    Raises
    ------
    TypeError
        For a non-real argument (or a bool), an unsupported dtype, or a
        ``stream_format`` that is not an int.
    ValueError
        For a non-finite or out-of-range argument, ``std <= 0``, ``a >= b``,
        ``[a, b]`` more than 37.5 standard deviations from the mean, no
        value of the dtype in ``[a, b]``, or a ``stream_format`` other than
        1 or 2.

    Examples
    --------
    >>> import numpy as np, fastglorot
    >>> from fastglorot.numba import trunc_normal_params, trunc_normal_float32, trunc_normal_float32_v2
    >>> params = trunc_normal_params(0.0, 0.02, -0.04, 0.04)
    >>> x = np.empty(1000, np.float32)
    >>> _ = fastglorot.trunc_normal_(x, 0.0, 0.02, -0.04, 0.04, seed=3, stream=1)
    >>> bool(trunc_normal_float32(3, 1, 999, params) == x[999])
    True
    >>> params_v2 = trunc_normal_params(0.0, 0.02, -0.04, 0.04, stream_format=2)
    >>> _ = fastglorot.trunc_normal_(x, 0.0, 0.02, -0.04, 0.04, seed=3, stream=1, stream_format=2)
    >>> bool(trunc_normal_float32_v2(3, 1, 999, params_v2) == x[999])
    True
    """
    if stream_format is None:  # resolve_stream_format would take the current format: not meant here
        raise TypeError("stream_format must be 1 or 2 (an int), got None: the element functions name their "
                        "format (trunc_normal_float32 is format 1, trunc_normal_float32_v2 format 2), so "
                        "trunc_normal_params does not follow fastglorot.stream_format()")
    version = resolve_stream_format(stream_format)
    fmt = format_of(dtype)
    params: np.ndarray[Any, np.dtype[Any]] = truncated_params(mean, std, a, b, fmt)
    # The tables say which draws format 2 changes and how their parameters are built (kernel_set.kernel_params).
    element = DISTRIBUTIONS["truncated_normal"].element(FORMATS[fmt].draw, version)
    return element_params(element.params, params)


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
