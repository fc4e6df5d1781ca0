"""Public samplers: raw words, uniform, normal and truncated-normal fills.

Element ``i`` (logical C order) of a filled buffer is a pure function of
``(seed, stream, offset + i)``, the distribution's parameters and the output
format; README "Stream format" defines it exactly, as part of the API.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional, Tuple, TypeVar, cast

import numpy as np

from .buffers import Output, as_output
from .._format.constants import WORDS_PER_TILE, tile_elements
from .._engines.dispatch import select
from .._engines.kernel_set import kernel_name, kernel_params
from .._format.tables import FORMATS
from .._engines.launch import run_fill
from .._format.params import normal_params, truncated_params, uniform_params, warn_if_all_zero
from .._format.position import Runs, Shape, flat_runs, resolve_position
from .._format.seeding import Seed, Stream, resolve_seed, resolve_stream
from .._validate import as_count, as_offset, key_stream_words
from .stream_format import StreamFormat, resolve_stream_format

__all__ = ["random_bits", "uniform_", "normal_", "trunc_normal_", "Where", "locate", "fill"]

Out = TypeVar("Out")
"""The caller's buffer type: in-place fills return the object they were given."""


class Where(NamedTuple):
    """A call's resolved place in the streams: key, stream id, the global index of every element, and the
    stream format."""

    seed: int
    stream: int
    runs: Runs
    stream_format: int


def locate(shape: Tuple[int, ...], seed: Seed, stream: Stream, offset: int, global_shape: Optional[Shape],
           global_offset: Optional[Shape], stream_format: StreamFormat = None) -> Where:
    """Resolve a call's ``seed``, ``stream``, position and stream format once (checked; ``seed=None`` draws OS
    entropy, ``stream_format=None`` is the current format)."""
    return Where(resolve_seed(seed), resolve_stream(stream), resolve_position(shape, offset, global_shape,
                                                                              global_offset),
                 resolve_stream_format(stream_format))


def fill(target: Output, distribution: str, params: np.ndarray[Any, Any], where: Where) -> Any:
    """Fill ``target`` with ``distribution`` (checked ``params`` from ``_format.params``) at ``where``; return the
    caller's object."""
    array = target.array
    if array.size == 0:
        return target.result
    fmt = FORMATS[target.format]
    if target.device == "cuda":  # on the GPU, with the same bits (README "GPU")
        # The CUDA engine (and its planning) loads with the first device array: a process that fills none never
        # pays for it at ``import fastglorot`` (README "Startup").
        from .._engines.cuda import fill_described

        device = cast(Any, array)  # a DeviceArray: recognised and described once, by as_output
        fill_described(device.obj, device.memory, distribution, fmt.name, key_stream_words(where.seed, where.stream),
                       params, where.runs, stream_format=where.stream_format)
        target.finish()
        return target.result
    args: Tuple[Any, ...] = (key_stream_words(where.seed, where.stream),
                             kernel_params(distribution, fmt.name, where.stream_format, params)) + fmt.kernel_args
    name = kernel_name(distribution, fmt.name, where.stream_format)
    kernel, parallel = select(name, array.nbytes, f"{distribution.replace('_', ' ')} {fmt.name}"
                              + (" (stream format 2)" if name.endswith("_v2") else ""))
    run_fill(kernel, array, where.runs, tile_elements(np.dtype(fmt.draw).itemsize), args, parallel)
    target.finish()
    return target.result


def random_bits(n: int, *, seed: Seed = None, stream: Stream = 0, offset: int = 0,
                stream_format: StreamFormat = None) -> np.ndarray:
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
    stream_format : {1, 2} or None, default None
        Checked only: raw words are the same in every stream format.

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
    resolve_stream_format(stream_format)
    seed = resolve_seed(seed)
    stream = resolve_stream(stream)
    first = as_offset(offset, n)
    out = np.empty(n, dtype=np.uint32)
    args = (key_stream_words(seed, stream), np.zeros(1, np.uint32))
    kernel, parallel = select(kernel_name("bits", "uint32"), out.nbytes, "raw bits")
    run_fill(kernel, out, flat_runs(first), WORDS_PER_TILE, args, parallel)
    return out


def uniform_(out: Out, low: float = 0.0, high: float = 1.0, *, seed: Seed = None, stream: Stream = 0,
             offset: int = 0, global_shape: Optional[Shape] = None, global_offset: Optional[Shape] = None,
             stream_format: StreamFormat = None) -> Out:
    """Fill ``out`` in place with uniform samples on ``[low, high]``.

    Parameters
    ----------
    out : writable buffer of float32, float64, float16 or bfloat16
        A NumPy array (any shape, memory layout or byte order), ``np.memmap``,
        torch tensor, or any object exporting ``__dlpack__``,
        ``__array_interface__`` or the buffer protocol; written in place.
        With numba-cuda installed, a CUDA array (``__cuda_array_interface__``
        or a CUDA DLPack device: torch CUDA tensors, CuPy, numba device
        arrays) is filled on its GPU, with the same bits (README "GPU").
    low, high : float
        Finite bounds, ``low <= high``, within the range of ``out``'s dtype.
    seed : int or None, default None
        Philox key in ``[0, 2**64)``; ``None`` draws one from OS entropy
        (README "Buffers, dtypes and arguments").
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
    stream_format : {1, 2} or None, default None
        The stream format (README "Stream format"); None: the current one,
        1 unless set by :func:`stream_format`.  Uniform values are the same
        in both formats.

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
    in the 16-bit dtype) by up to half a 16-bit ulp: ``uniform_`` of a
    bfloat16 array on ``[-0.1, 0.1]`` holds values equal to ``+-0.100097656``,
    bfloat16's rounding of 0.1.  A float16 fill whose every value rounds to 0
    (a bound below ``2**-25``) warns.

    Compatibility guarantee: the values are stream format
    :data:`~fastglorot.STREAM_FORMAT` (README "Stream format"): the same
    arguments give the same bits in every future version.
    """
    target = as_output(out)
    params = uniform_params(low, high, target.format)
    warn_if_all_zero("uniform", params, target.format, f"uniform_ on [{low}, {high}]")
    return cast(Out, fill(target, "uniform", params, locate(target.array.shape, seed, stream, offset, global_shape,
                                                            global_offset, stream_format)))


def normal_(out: Out, mean: float = 0.0, std: float = 1.0, *, seed: Seed = None, stream: Stream = 0,
            offset: int = 0, global_shape: Optional[Shape] = None, global_offset: Optional[Shape] = None,
            stream_format: StreamFormat = None) -> Out:
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
    stream_format : {1, 2} or None, default None
        The stream format; None: the current one (:func:`stream_format`).
        Format 2 computes float32, float16 and bfloat16 draws in float32
        alone (faster; different values); float64 is the same in both.

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
    of the float64 Box–Muller of the same uniforms (1e-6 absolute near 0;
    stream format 2: the bounds README "Stream format" states);
    ``|z|`` reaches 6.76 (float32, also for float16 and bfloat16) and 8.57
    (float64); never inf or NaN: arguments for which ``|mean| + |z|max * std``
    could round past the output dtype's largest finite value (65504 for
    float16) raise ``ValueError`` before anything is written.

    Compatibility guarantee: the values are stream format
    :data:`~fastglorot.STREAM_FORMAT` (README "Stream format"): the same
    arguments give the same bits in every future version.
    """
    target = as_output(out)
    params = normal_params(mean, std, target.format)
    warn_if_all_zero("normal", params, target.format, f"normal_ with mean={mean}, std={std}")
    return cast(Out, fill(target, "normal", params, locate(target.array.shape, seed, stream, offset, global_shape,
                                                           global_offset, stream_format)))


def trunc_normal_(out: Out, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0, *,
                  seed: Seed = None, stream: Stream = 0, offset: int = 0,
                  global_shape: Optional[Shape] = None, global_offset: Optional[Shape] = None,
                  stream_format: StreamFormat = None) -> Out:
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
    stream_format : {1, 2} or None, default None
        The stream format; None: the current one (:func:`stream_format`).
        Format 2 computes float32, float16 and bfloat16 draws in float32 with
        Wichura's PPND7 (faster; different values, relative error about
        1e-6); float64 is the same in both.

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
    sampled accurately.  Computed in float64, rounded to the draw dtype and
    clamped: values never leave ``[a, b]``.  float16 and bfloat16 outputs
    round the clamped float32 value, so a bound the 16-bit dtype cannot hold
    may be passed by up to half a 16-bit ulp (as for :func:`uniform_`).

    Compatibility guarantee: the values are stream format
    :data:`~fastglorot.STREAM_FORMAT` (README "Stream format"): the same
    arguments give the same bits in every future version.
    """
    target = as_output(out)
    params = truncated_params(mean, std, a, b, target.format)
    warn_if_all_zero("truncated_normal", params, target.format, f"trunc_normal_ on [{a}, {b}]")
    return cast(Out, fill(target, "truncated_normal", params, locate(target.array.shape, seed, stream, offset,
                                                                     global_shape, global_offset, stream_format)))
