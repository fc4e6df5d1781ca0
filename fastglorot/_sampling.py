"""Public samplers: raw words, uniform, normal and truncated-normal fills.

Element ``i`` (logical C order) of a filled buffer is a pure function of
``(seed, stream, offset + i)``, the distribution's parameters and the output
format; README "Stream format" defines it exactly, as part of the API.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Tuple, TypeVar, cast

import numpy as np

from ._position import Shape, flat_runs, resolve_position
from ._buffers import Output, as_output
from ._constants import WORDS_PER_TILE, tile_elements
from ._engines import kernel_name, select
from ._formats import FORMATS
from ._launch import run_fill
from ._normal_cdf import normal_cdf
from ._seeding import Seed, Stream, resolve_seed, resolve_stream
from ._validate import as_count, as_finite, as_offset, dtype_max, key_stream_words

__all__ = ["random_bits", "uniform_", "normal_", "trunc_normal_",
           "fill_uniform", "fill_normal", "fill_truncated_normal", "normal_z_max", "normal_limit", "normal_fits",
           "NORMAL_Z_BOUND_F32", "NORMAL_Z_BOUND_F64"]

Out = TypeVar("Out")
"""The caller's buffer type: in-place fills return the object they were given."""

_TRUNCATION_LIMIT = 37.5
"""Standardized bounds are clipped to +-37.5: Phi(-37.5) ~ 5e-308 is the last
normal float64 tail probability; farther out the mass is zero in float64."""


def _draw_dtype(fmt: str) -> type:
    """The dtype samples are computed in: float16/bfloat16 round a float32 draw."""
    return FORMATS[fmt].draw_dtype


def normal_z_max(fmt: str) -> float:
    """The largest ``|z|`` of a standard normal draw for ``fmt``: sqrt(-2 ln u1) at the smallest ``u1``.

    README "Stream format": ``u1 >= 2**-33`` (float32 draws, also for float16
    and bfloat16) or ``2**-53`` (float64), so ``|z| <= sqrt(66 ln 2) ~ 6.7637``
    or ``sqrt(106 ln 2) ~ 8.5717``.
    """
    return math.sqrt((106 if FORMATS[fmt].draw == "float64" else 66) * math.log(2.0))


_Z_MARGIN = 1.0 + 2.0**-20
"""Covers the draw's own rounding: the float32 radius is within 2e-8 of
sqrt(66 ln 2) and each float32 product adds half an ulp (6e-8)."""
NORMAL_Z_BOUND_F32 = normal_z_max("float32") * _Z_MARGIN
NORMAL_Z_BOUND_F64 = normal_z_max("float64") * _Z_MARGIN
"""``|z|`` bounds with the margin: :func:`normal_fits` and the element API's validity test use these."""


def normal_limit(fmt: str) -> float:
    """The largest ``|mean + std * z|`` (exact) that ``normal_`` writes to ``fmt`` as a finite value."""
    return FORMATS[fmt].normal_limit


def normal_fits(fmt: str, mean: float, std: float) -> bool:
    """Whether every sample ``mean + std * z`` of a ``fmt`` normal fill is finite.

    ``mean`` and ``std`` are rounded to the draw dtype first, as the kernels
    see them.  The test ``|mean| + z_max * std <= limit`` (with a relative
    margin of 2**-20 on ``z_max``) is exact up to that margin: rounding is
    monotone, so no sample can exceed the bound, and ``std = 0`` fills with
    ``mean``, which is in range.
    """
    ftype = _draw_dtype(fmt)
    with np.errstate(over="ignore"):
        mean_d, std_d = abs(float(ftype(mean))), float(ftype(std))
    bound = mean_d + (NORMAL_Z_BOUND_F64 if FORMATS[fmt].draw == "float64" else NORMAL_Z_BOUND_F32) * std_d
    return bool(bound <= normal_limit(fmt))


def normal_range_error(fmt: str, mean: float, std: float) -> str:
    """The tail of a message for a normal fill that would overflow ``fmt``: the limit and what to do."""
    z_max = normal_z_max(fmt)
    room = max(normal_limit(fmt) - abs(mean), 0.0) / (z_max * _Z_MARGIN)
    return (f"samples mean + std*z with |z| up to {z_max:.4f} reach {abs(mean) + z_max * std:.6g}, beyond the "
            f"{fmt} range (largest finite value {dtype_max(fmt):.8g}), and would be written as inf; "
            f"std must be at most {room * (1 - 1e-6):.6g} for |mean| = {abs(mean):.6g}")


def _run(target: Output, distribution: str, params: np.ndarray[Any, Any], seed: Seed, stream: Stream,
         offset: int, global_shape: Optional[Shape], global_offset: Optional[Shape]) -> Any:
    """Validate the stream position, then fill ``target`` and return the caller's object."""
    seed = resolve_seed(seed)
    stream = resolve_stream(stream)
    array = target.array
    runs = resolve_position(array.shape, offset, global_shape, global_offset)
    if array.size == 0:
        return target.result
    fmt = target.format
    args: Tuple[Any, ...] = (key_stream_words(seed, stream), params) + FORMATS[fmt].kernel_args
    fill, parallel = select(kernel_name(distribution, fmt), array.nbytes, f"{distribution.replace('_', ' ')} {fmt}")
    run_fill(fill, array, runs, tile_elements(np.dtype(FORMATS[fmt].draw).itemsize), args, parallel)
    target.finish()
    return target.result


def _at_least(x: float, ftype: Any, strict: bool) -> Any:
    """The smallest ``ftype`` value >= x (> x when ``strict``)."""
    value = ftype(x)
    if float(value) < x or (strict and float(value) == x):
        with np.errstate(over="ignore"):  # past the largest value: inf, which the caller then rejects
            value = np.nextafter(value, ftype(np.inf))
    return value


def _at_most(x: float, ftype: Any, strict: bool) -> Any:
    """The largest ``ftype`` value <= x (< x when ``strict``)."""
    value = ftype(x)
    if float(value) > x or (strict and float(value) == x):
        with np.errstate(over="ignore"):  # past the largest value: inf, which the caller then rejects
            value = np.nextafter(value, ftype(-np.inf))
    return value


def _uniform_params(low: float, high: float, ftype: Any) -> np.ndarray[Any, Any]:
    """(mid, scale, clamp_low, clamp_high) of README "Stream format"."""
    bits = 53 if ftype is np.float64 else 24
    clamp_low, clamp_high = _at_least(low, ftype, True), _at_most(high, ftype, True)
    if clamp_low > clamp_high:  # no value strictly inside: use the closed interval
        clamp_low, clamp_high = _at_least(low, ftype, False), _at_most(high, ftype, False)
    if clamp_low > clamp_high:
        raise ValueError(f"no {np.dtype(ftype).name} value lies in [{low}, {high}]")
    mid = ftype(0.5 * low + 0.5 * high)
    scale = ftype((0.5 * high - 0.5 * low) * 2.0**-bits)
    return np.array([mid, scale, clamp_low, clamp_high], dtype=ftype)


def _truncated_params(mean: float, std: float, a: float, b: float, ftype: Any) -> np.ndarray[Any, Any]:
    """(mean, std, clamp_low, clamp_high, Phi(alpha), Phi(-beta), mass), float64."""
    alpha = min(max((a - mean) / std, -_TRUNCATION_LIMIT), _TRUNCATION_LIMIT)
    beta = min(max((b - mean) / std, -_TRUNCATION_LIMIT), _TRUNCATION_LIMIT)
    lower_tail, upper_tail = normal_cdf(alpha), normal_cdf(-beta)
    if alpha >= 0:  # both bounds above the mean: subtract upper tails
        mass = normal_cdf(-alpha) - upper_tail
    elif beta <= 0:
        mass = normal_cdf(beta) - lower_tail
    else:
        mass = 1.0 - lower_tail - upper_tail
    if not mass > 0:
        raise ValueError(f"[a, b] = [{a}, {b}] lies more than {_TRUNCATION_LIMIT} standard deviations "
                         f"from the mean {mean}: no probability mass to sample")
    clamp_low, clamp_high = _at_least(a, ftype, False), _at_most(b, ftype, False)
    if clamp_low > clamp_high:
        raise ValueError(f"no {np.dtype(ftype).name} value lies in [{a}, {b}]")
    return np.array([mean, std, clamp_low, clamp_high, lower_tail, upper_tail, mass], dtype=np.float64)


def random_bits(n: int, *, seed: Seed = None, stream: Stream = 0, offset: int = 0) -> np.ndarray:
    """Return ``n`` raw 32-bit words of a Philox4x32-10 stream.

    Parameters
    ----------
    n : int
        Number of words, ``n >= 0``.
    seed : int or None, default None
        Philox key in ``[0, 2**64)``: key word ``k0 = seed mod 2**32``,
        ``k1 = seed >> 32``; ``None`` draws one from OS entropy.
    stream : int or str, default 0
        Stream id in ``[0, 2**64)``, the upper half of every counter, or a
        name hashed to one (see :func:`stream_id`).
    offset : int, default 0
        Index of the first word returned; ``offset + n <= 2**62``.

    Returns
    -------
    numpy.ndarray of uint32, shape (n,)

    Notes
    -----
    Word ``i`` is lane ``j`` of ``philox4x32(counter, key)`` with
    ``t, r = divmod(i, 512)``, ``j, m = divmod(r, 128)``, block
    ``b = 128 t + m`` and ``counter = (b mod 2**32, b >> 32,
    stream mod 2**32, stream >> 32)``: each run of 128 consecutive counters
    is laid out lane by lane (README "Stream format").
    """
    n = as_count("n", n)
    seed = resolve_seed(seed)
    stream = resolve_stream(stream)
    first = as_offset(offset, n)
    out = np.empty(n, dtype=np.uint32)
    args = (key_stream_words(seed, stream), np.zeros(1, np.uint32))
    fill, parallel = select(kernel_name("bits", "uint32"), out.nbytes, "raw bits")
    run_fill(fill, out, flat_runs(first), WORDS_PER_TILE, args, parallel)
    return out


def uniform_(out: Out, low: float = 0.0, high: float = 1.0, *, seed: Seed = None, stream: Stream = 0,
             offset: int = 0, global_shape: Optional[Shape] = None, global_offset: Optional[Shape] = None) -> Out:
    """Fill ``out`` in place with uniform samples on ``[low, high]``.

    Parameters
    ----------
    out : writable buffer of float32, float64, float16 or bfloat16
        A NumPy array (any shape, memory layout or byte order), ``np.memmap``,
        torch CPU tensor, or any object exporting ``__dlpack__``,
        ``__array_interface__`` or the buffer protocol; written in place.
    low, high : float
        Finite bounds, ``low <= high``, within the range of ``out``'s dtype.
    seed : int or None, default None
        Philox key in ``[0, 2**64)``; ``None`` draws one from OS entropy
        (README "Arguments").
    stream : int or str, default 0
        Stream id in ``[0, 2**64)`` or a stream name (see :func:`stream_id`).
    offset : int, default 0
        Global index of ``out``'s first element (C order) within a larger
        array, so that filling ``a[:k]`` with offset 0 and ``a[k:]`` with
        offset ``k`` equals filling ``a`` at once.
    global_shape, global_offset : sequence of int, optional
        ``out`` is the block ``[o0:o0+b0, o1:o1+b1, ...]`` of a C-order
        tensor of ``global_shape``, at ``global_offset = (o0, o1, ...)``
        (default: the origin): element ``(i0, i1, ...)`` of ``out`` receives
        the value at global index ``ravel_multi_index((o0+i0, o1+i1, ...),
        global_shape)``, so blocks filled separately equal one fill of the
        whole tensor.  Same length as ``out.shape``; exclusive with a
        non-zero ``offset``.

    Returns
    -------
    The ``out`` object itself.

    Notes
    -----
    With ``B = 24`` random bits for float32 and ``B = 53`` for float64, the
    top ``B`` bits ``k`` of element ``i``'s stream word(s) give

    .. math:: x = \\mathrm{mid} + \\mathrm{scale}\\,(2k + 1 - 2^B),\\quad
              \\mathrm{mid} = \\tfrac{low + high}{2},\\quad
              \\mathrm{scale} = \\tfrac{high - low}{2}\\,2^{-B}

    (``mid`` and ``scale`` rounded to the output dtype), i.e. the midpoints of
    ``2**B`` equal cells of the interval.  Both ends are open: ``x`` is
    clamped to the largest and smallest dtype values strictly inside
    ``(low, high)``, so rounding never produces a bound.  For ``low = -a,
    high = a`` the attainable values are exactly symmetric about 0.  If the
    dtype has no value strictly inside, the closed interval is used
    (``low == high`` fills with ``low``).

    float16 and bfloat16 outputs are the float32 draw rounded to nearest even;
    rounding may then reach a bound (or pass one that is not representable
    in the 16-bit dtype) by up to half a 16-bit ulp.

    Compatibility guarantee: the values are stream format
    :data:`~fastglorot.STREAM_FORMAT` (README "Stream format"): the same
    arguments give the same bits in every future version.
    """
    return cast(Out, fill_uniform(as_output(out), low, high, seed, stream, offset, global_shape, global_offset))


def fill_uniform(target: Output, low: float, high: float, seed: Seed, stream: Stream, offset: int,
                 global_shape: Optional[Shape] = None, global_offset: Optional[Shape] = None) -> Any:
    """:func:`uniform_` on an already adapted output (for the initializers)."""
    low = as_finite("low", low, target.format)
    high = as_finite("high", high, target.format)
    if not low <= high:
        raise ValueError(f"low must not exceed high, got low={low}, high={high}")
    params = _uniform_params(low, high, _draw_dtype(target.format))
    return _run(target, "uniform", params, seed, stream, offset, global_shape, global_offset)


def normal_(out: Out, mean: float = 0.0, std: float = 1.0, *, seed: Seed = None, stream: Stream = 0,
            offset: int = 0, global_shape: Optional[Shape] = None, global_offset: Optional[Shape] = None) -> Out:
    """Fill ``out`` in place with normal samples N(mean, std**2) (Box–Muller).

    Parameters
    ----------
    out : writable buffer of float32, float64, float16 or bfloat16
        As for :func:`uniform_`.
    mean : float, default 0.0
        Finite mean.
    std : float, default 1.0
        Finite standard deviation, ``std >= 0``, with every sample in range:
        ``|mean| + 6.7637 * std`` (``8.5717 * std`` for float64) at most the
        output dtype's largest finite value (see Notes).
    seed, stream, offset, global_shape, global_offset
        As for :func:`uniform_`.

    Returns
    -------
    The ``out`` object itself.

    Notes
    -----
    Pairs of outputs come from pairs of uniforms ``u1 = (k1 + 1/2) / 2**B``,
    ``u2 = (k2 + 1/2) / 2**B`` (``B = 32`` for float32, 52 for float64):

    .. math:: z_c = \\sqrt{-2\\ln u_1}\\,\\cos 2\\pi u_2,\\qquad
              z_s = \\sqrt{-2\\ln u_1}\\,\\sin 2\\pi u_2,

    and the outputs are ``mean + std * z``.  The logarithm, sine and cosine
    are polynomials after exact range reduction (no libm), so results are
    identical on every x86-64 CPU.  float32 results lie within 4 float32 ulps
    of the float64 Box–Muller of the same uniforms (1e-6 absolute near 0);
    ``|z|`` reaches 6.76 (float32, also for float16 and bfloat16) and 8.57
    (float64); never inf or NaN: arguments for which ``|mean| + |z|max * std``
    could round past the output dtype's largest finite value (65504 for
    float16) raise ``ValueError`` before anything is written.

    Compatibility guarantee: the values are stream format
    :data:`~fastglorot.STREAM_FORMAT` (README "Stream format"): the same
    arguments give the same bits in every future version.
    """
    return cast(Out, fill_normal(as_output(out), mean, std, seed, stream, offset, global_shape, global_offset))


def fill_normal(target: Output, mean: float, std: float, seed: Seed, stream: Stream, offset: int,
                global_shape: Optional[Shape] = None, global_offset: Optional[Shape] = None) -> Any:
    """:func:`normal_` on an already adapted output."""
    mean = as_finite("mean", mean, target.format)
    std = as_finite("std", std, target.format)
    if std < 0:
        raise ValueError(f"std must be non-negative, got {std}")
    if not normal_fits(target.format, mean, std):
        raise ValueError(f"normal_ with mean={mean!r}, std={std!r}: {normal_range_error(target.format, mean, std)}")
    ftype = _draw_dtype(target.format)
    params: np.ndarray[Any, Any] = np.array([mean, std, 0, 0], dtype=ftype)
    return _run(target, "normal", params, seed, stream, offset, global_shape, global_offset)


def trunc_normal_(out: Out, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0, *,
                  seed: Seed = None, stream: Stream = 0, offset: int = 0,
                  global_shape: Optional[Shape] = None, global_offset: Optional[Shape] = None) -> Out:
    """Fill ``out`` with N(mean, std**2) truncated to ``[a, b]`` (absolute bounds, as torch).

    Parameters
    ----------
    out : writable buffer of float32, float64, float16 or bfloat16
        As for :func:`uniform_`.
    mean : float, default 0.0
    std : float, default 1.0
        Standard deviation of the untruncated normal, ``std > 0``.
    a, b : float, default -2.0, 2.0
        Absolute truncation bounds, ``a < b``.
    seed : int or None, default None
        Philox key in ``[0, 2**64)``; ``None`` draws one from OS entropy.
    stream, offset, global_shape, global_offset
        As for :func:`uniform_`.

    Returns
    -------
    The ``out`` object itself.

    Notes
    -----
    Inverse-CDF sampling with one uniform per value:
    ``x = mean + std * Phi^-1(Phi(alpha) + v (Phi(beta) - Phi(alpha)))``,
    ``alpha = (a - mean)/std``, ``beta = (b - mean)/std``,
    ``v = (k + 1/2)/2**B`` (``B = 32`` from one word for float32, 52 from two
    words for float64).  ``Phi^-1`` is Wichura's AS 241 (relative error
    ~1e-16), evaluated from the nearer tail, so intervals far in a tail are
    sampled accurately.  Computed in float64, rounded to the output dtype and
    clamped: values never leave ``[a, b]``.

    Compatibility guarantee: the values are stream format
    :data:`~fastglorot.STREAM_FORMAT` (README "Stream format"): the same
    arguments give the same bits in every future version.
    """
    return cast(Out, fill_truncated_normal(as_output(out), mean, std, a, b, seed, stream, offset, global_shape,
                                           global_offset))


def fill_truncated_normal(target: Output, mean: float, std: float, a: float, b: float, seed: Seed,
                          stream: Stream, offset: int, global_shape: Optional[Shape] = None,
                          global_offset: Optional[Shape] = None) -> Any:
    """:func:`trunc_normal_` on an already adapted output."""
    mean = as_finite("mean", mean, target.format)
    std = as_finite("std", std, target.format)
    a = as_finite("a", a, target.format)
    b = as_finite("b", b, target.format)
    if not std > 0:
        raise ValueError(f"std must be positive, got {std}")
    if not a < b:
        raise ValueError(f"a must be less than b, got a={a}, b={b}")
    params = _truncated_params(mean, std, a, b, _draw_dtype(target.format))
    return _run(target, "truncated_normal", params, seed, stream, offset, global_shape, global_offset)
