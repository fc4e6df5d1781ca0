"""numba-cuda kernels for every stream-format-v1 fill: the CPU's bits on a GPU.

Imported only by ``_cuda`` on the first CUDA fill (it imports ``numba.cuda``).
Each kernel here is the GPU twin of its namesake in ``_kernels`` (same
distribution, format family and parameters) and writes the same bits.

Work decomposition
    One thread per Philox counter: it computes the counter's four words once
    and writes every output element of that counter's lanes that the output
    holds (four float32/16-bit/raw-word lanes, or two float64 lanes of two
    words each), skipping the others.  A grid-stride loop runs over
    ``rows * slots`` work items.  The output is seen as rows of consecutive
    global indices (README "Sharding and blocks"): row ``r`` starts at
    global index ``first(r) = base + sum(i_k * outer_g[k])`` and holds
    ``ncols`` elements, ``col_step`` elements apart in memory, from element
    offset ``at(r) = zero_at + sum(i_k * outer_s[k])``; ``(i_k)`` unravels
    ``r`` over ``outer_n``.  A row with ``ncols >= 128`` has one slot per
    counter of every tile it touches (``slot // 128`` the tile, ``slot % 128``
    the counter within it), so consecutive threads take consecutive counters
    and, per lane, write consecutive elements (coalesced for rows that are
    contiguous in memory); slots whose lanes all fall outside the row (the
    ends of its first and last tile) do nothing.  A shorter row has one slot
    per element (each of its elements has a counter of its own), so a narrow
    block costs one Philox evaluation per element, not a tile per row.

    ``out`` is a 1-D C-contiguous view of the whole memory span of the
    caller's array (from its lowest element), written at
    ``at(r) + q * col_step``: one compiled kernel serves C, F, strided and
    negative-stride layouts of any rank (up to ``MAX_OUTER`` outer axes after
    ``_cuda`` merged the mergeable ones).

Bit-identity with the CPU
    NVVM contracts ``a * b + c`` into a fused multiply-add by default (its
    ``-fma=1``; numba-cuda passes no ``-fma=0`` without ``fastmath`` either,
    and offers no option for it), and ptxas fuses PTX ``mul``/``add`` that
    carry no rounding modifier.  Either changes the bits.  So every
    floating-point add, multiply, divide and square root below is an
    explicit libdevice ``__nv_{f,d}{add,mul,div,sqrt}_rn`` call (a float64
    subtraction is ``dadd_rn(x, -y)``: libdevice has no ``dsub_rn``), which
    NVVM lowers to PTX ``add.rn``/``mul.rn``/``div.rn``/``sqrt.rn``: IEEE
    round-to-nearest, never contracted, no flush to zero.  Clamps are
    explicit selects: numba-cuda lowers float ``min``/``max`` to libdevice
    ``fminf``/``fmaxf``, which may pick either zero of a ``(+0.0, -0.0)``
    pair where the CPU keeps the first argument.
    The float helpers of ``_convert`` and ``_mathfuncs`` are therefore
    restated as twins here, one operation for one operation in the same
    order (each twin names its original); the integer-only helpers
    ``bits52``, ``bits53`` and ``round_bfloat16`` are the CPU's own jitted
    functions, which numba-cuda compiles unchanged.  Philox is restated in
    32-bit words (the CPU's version compiles for CUDA too, but with 64-bit
    multiplies).  ``tests/test_cuda_sim.py`` checks the PTX for ``fma``,
    ``.ftz``, ``.approx``, ``min``/``max`` and float arithmetic without
    ``.rn`` where NVVM is installed.

Under numba-cuda's simulator (``NUMBA_ENABLE_CUDASIM=1``) the kernels run as
Python on NumPy scalars: the ``_rn`` operations become float32/float64
NumPy operations (IEEE round-to-nearest, one rounding each), so the
simulator runs this very source, operation for operation.
"""

from __future__ import annotations

from typing import Any, Callable, Tuple, TypeVar

import importlib

import numpy as np

from ._constants import LN2_F64_LO, LN2_HI, TILE_COUNTERS, WORDS_PER_TILE
from ._stream_v1 import (
    ATANH_SERIES,
    CENTRAL_DEN,
    CENTRAL_NUM,
    COS_F32,
    COS_F64,
    FAR_DEN,
    FAR_NUM,
    NEAR_DEN,
    NEAR_NUM,
    PHILOX_M0,
    PHILOX_M1,
    PHILOX_W0,
    PHILOX_W1,
    QUARTER_TURN_2_30,
    QUARTER_TURN_2_50,
    SIN_F32,
    SIN_F64,
    TERMS_F32,
    TERMS_F64,
    _MANTISSA_MASK,
    _SQRT2_MANTISSA,
)

__all__ = ["SIMULATOR", "MAX_OUTER", "KERNELS", "fill_bits", "fill_uniform_float32", "fill_normal_float32",
           "fill_uniform_float64", "fill_normal_float64", "fill_truncated_normal_float32",
           "fill_truncated_normal_float64", "fill_uniform_half", "fill_normal_half", "fill_truncated_normal_half"]

F = TypeVar("F", bound=Callable[..., Any])
_Float = TypeVar("_Float", np.float32, np.float64)

# numba.cuda carries no type information; the simulator swaps this module global for its fake
# module while a kernel runs (it looks for globals that are numba.cuda).
cuda: Any = importlib.import_module("numba.cuda")
_cuda_config: Any = importlib.import_module("numba.cuda.core.config")

SIMULATOR = bool(_cuda_config.ENABLE_CUDASIM)
"""Whether numba-cuda's simulator is on (``NUMBA_ENABLE_CUDASIM=1`` before ``numba.cuda`` was imported)."""

MAX_OUTER = 8
"""Outer (row) axes a kernel unravels; ``_cuda`` merges axes first and refuses more than this."""

F32 = np.float32
F64 = np.float64
U16 = np.uint16
U32 = np.uint32
U64 = np.uint64
I32 = np.int32
I64 = np.int64

_L = TILE_COUNTERS
_T32 = WORDS_PER_TILE  # elements per tile, one word each (raw words, float32, 16-bit)
_T64 = WORDS_PER_TILE // 2  # elements per tile, two words each (float64)

# -- primitive operations -------------------------------------------------------

if SIMULATOR:
    from ._stream_v1 import bits52, bits53, round_bfloat16

    def _device(py_func: F) -> F:
        """Device functions run as plain Python under the simulator."""
        return py_func

    def _kernel(py_func: F) -> F:
        kernel: F = cuda.jit(py_func)
        return kernel

    # NumPy scalar arithmetic: one IEEE round-to-nearest rounding per operation.
    def _fadd(x: Any, y: Any) -> np.float32:
        return F32(F32(x) + F32(y))

    def _fmul(x: Any, y: Any) -> np.float32:
        return F32(F32(x) * F32(y))

    def _fsqrt(x: Any) -> np.float32:
        return F32(np.sqrt(F32(x)))

    def _dadd(x: Any, y: Any) -> np.float64:
        return F64(F64(x) + F64(y))

    def _dsub(x: Any, y: Any) -> np.float64:
        return F64(F64(x) - F64(y))

    def _dmul(x: Any, y: Any) -> np.float64:
        return F64(F64(x) * F64(y))

    def _ddiv(x: Any, y: Any) -> np.float64:
        return F64(F64(x) / F64(y))

    def _dsqrt(x: Any) -> np.float64:
        return F64(np.sqrt(F64(x)))

    def _f32_bits(x: Any) -> np.uint32:
        return U32(F32(x).view(U32))

    def _f64_bits(x: Any) -> np.int64:
        return I64(F64(x).view(I64))

    def _f64_from_bits(b: Any) -> np.float64:
        return F64(I64(b).view(F64))

else:
    from ._jit import cuda_cached, float64_from_bits, float_bits
    from ._numba_elements import bits52, bits53, round_bfloat16

    libdevice: Any = importlib.import_module("numba.cuda.libdevice")

    def _device(py_func: F) -> F:
        """A device function, inlined by NVVM into its caller."""
        function: F = cuda.jit(device=True, forceinline=True)(py_func)
        return function

    def _kernel(py_func: F) -> F:
        """A kernel: compiled on first launch, without fastmath, cached on disk where the CPU kernels are
        (``_jit.cuda_cached``: never inside the package; in memory only when nothing is writable)."""
        kernel: F = cuda_cached(cuda.jit(py_func))
        return kernel

    # Explicit rounding: PTX add.rn/mul.rn/div.rn/sqrt.rn, never contracted into fma.
    _fadd = libdevice.fadd_rn
    _fmul = libdevice.fmul_rn
    _fsqrt = libdevice.fsqrt_rn
    _dadd = libdevice.dadd_rn
    _dmul = libdevice.dmul_rn
    _ddiv = libdevice.ddiv_rn
    _dsqrt = libdevice.dsqrt_rn

    @_device
    def _dsub(x: Any, y: Any) -> np.float64:
        """``x - y``: libdevice has no ``__nv_dsub_rn``; ``x + (-y)`` is the same IEEE operation (signed zeros too)."""
        return F64(_dadd(x, -y))

    @_device
    def _f32_bits(x: Any) -> np.uint32:
        return U32(float_bits(x))

    @_device
    def _f64_bits(x: Any) -> np.int64:
        return I64(float_bits(x))

    @_device
    def _f64_from_bits(b: Any) -> np.float64:
        return F64(float64_from_bits(b))


# -- conversions: twins of _convert and _mathfuncs ------------------------------------

_SIGN32 = U32(1 << 31)
_HALF_53 = I64(1 << 53)
_LN2_HI = F64(LN2_HI)
_LN2_LO = F64(LN2_F64_LO)
_LOW30 = U32((1 << 30) - 1)
_LOW50 = U64((1 << 50) - 1)
_STEP32 = F64(2.0**-32)
_STEP52 = F64(2.0**-52)
_TWO32 = F64(2.0**32)
_TWO52 = F64(2.0**52)
_LOW_WORD = I64(0xFFFFFFFF)
_LOW32 = U64(0xFFFFFFFF)
_F16_MIN_NORMAL = U32(0x38800000)
_F16_OVERFLOW = U32(0x477FF000)
_F32_REBIAS = U32(0x38000000)
_HALF_BITS = U32(0x3F000000)


@_device
def _clamp(value: _Float, low: _Float, high: _Float) -> _Float:
    """``min(max(value, low), high)`` as CPU numba evaluates it: ``max(a, b)`` is ``b if b > a else a``.

    numba-cuda lowers float ``min``/``max`` to libdevice ``fminf``/``fmaxf``,
    which may return either zero of a ``(+0.0, -0.0)`` pair; these selects
    keep ``value`` on ties, as the CPU does.
    """
    raised = low if low > value else value
    return high if high < raised else raised


@_device
def _uniform_f32(word: np.uint32, mid: np.float32, scale: np.float32, clamp_low: np.float32,
                 clamp_high: np.float32) -> np.float32:
    """``_convert.uniform_f32``."""
    odd = I32(I32(word ^ _SIGN32) >> I32(7)) | I32(1)
    value = _fadd(mid, _fmul(scale, F32(I32(odd))))
    return _clamp(value, clamp_low, clamp_high)


@_device
def _uniform_f64(k53: np.uint64, mid: np.float64, scale: np.float64, clamp_low: np.float64,
                 clamp_high: np.float64) -> np.float64:
    """``_convert.uniform_f64``."""
    odd = I64((k53 << U64(1)) | U64(1)) - _HALF_53
    value = _dadd(mid, _dmul(scale, F64(odd)))
    return _clamp(value, clamp_low, clamp_high)


@_device
def _minus_two_log(x: np.float64, scale_exponent: int, terms: int) -> np.float64:
    """``_mathfuncs.minus_two_log``: ``-2 ln(x * 2**-scale_exponent)``, ``x >= 1/2``."""
    bits = _f64_bits(x)
    mantissa = bits & _MANTISSA_MASK
    exponent = (bits >> I64(52)) - I64(1023) + (I64(1) if mantissa > _SQRT2_MANTISSA else I64(0))
    power = _f64_from_bits((exponent + I64(1023)) << I64(52))
    s = _ddiv(_dsub(x, power), _dadd(x, power))
    z = _dmul(s, s)
    series = F64(0.0)  # _mathfuncs._horner(ATANH_SERIES, z, terms - 1)
    for j in range(terms - 2, -1, -1):
        series = _dadd(ATANH_SERIES[j], _dmul(z, series))
    log_m = _dadd(_dadd(s, s), _dmul(s, _dmul(z, series)))
    e = F64(exponent - I64(scale_exponent))
    return _dmul(F64(-2.0), _dadd(_dmul(e, _LN2_HI), _dadd(_dmul(e, _LN2_LO), log_m)))


@_device
def _normal_radius_f32(word: np.uint32) -> np.float32:
    """``_convert.normal_radius_f32``: ``sqrt(-2 ln u)`` for ``u = (word + 1/2) / 2**32``."""
    return _fsqrt(F32(_minus_two_log(_dadd(F64(word), F64(0.5)), 32, TERMS_F32)))


@_device
def _rotate_quadrant_f32(quadrant: np.uint32, octant_high: bool, sin_phi: np.float32,
                         cos_phi: np.float32) -> Tuple[np.float32, np.float32]:
    """``_mathfuncs._rotate_quadrant`` (selects and negations: exact)."""
    sin_alpha = cos_phi if octant_high else sin_phi
    cos_alpha = sin_phi if octant_high else cos_phi
    odd = (quadrant & U32(1)) == U32(1)
    sin_theta = cos_alpha if odd else sin_alpha
    cos_theta = sin_alpha if odd else cos_alpha
    sin_theta = -sin_theta if quadrant >= U32(2) else sin_theta
    cos_theta = -cos_theta if ((quadrant + U32(1)) & U32(2)) != U32(0) else cos_theta
    return sin_theta, cos_theta


@_device
def _rotate_quadrant_f64(quadrant: np.uint64, octant_high: bool, sin_phi: np.float64,
                         cos_phi: np.float64) -> Tuple[np.float64, np.float64]:
    """``_mathfuncs._rotate_quadrant`` (selects and negations: exact)."""
    sin_alpha = cos_phi if octant_high else sin_phi
    cos_alpha = sin_phi if octant_high else cos_phi
    odd = (quadrant & U64(1)) == U64(1)
    sin_theta = cos_alpha if odd else sin_alpha
    cos_theta = sin_alpha if odd else cos_alpha
    sin_theta = -sin_theta if quadrant >= U64(2) else sin_theta
    cos_theta = -cos_theta if ((quadrant + U64(1)) & U64(2)) != U64(0) else cos_theta
    return sin_theta, cos_theta


@_device
def _sincos_turn_f32(word: np.uint32) -> Tuple[np.float32, np.float32]:
    """``_mathfuncs.sincos_turn_f32``: float32 ``(sin, cos)`` of ``2 pi (word + 1/2) / 2**32``."""
    quadrant = U32(word >> U32(30))
    octant_high = ((word >> U32(29)) & U32(1)) == U32(1)
    low = U32(word & _LOW30)
    reduced = U32(_LOW30 - low) if octant_high else low
    phi = F32(_dmul(_dadd(F64(I32(reduced)), F64(0.5)), QUARTER_TURN_2_30))
    z = _fmul(phi, phi)
    # phi + phi * z * (S0 + z * (S1 + z * (S2 + z * S3))), Python's order: (phi * z) * (...)
    sin_poly = _fadd(SIN_F32[0], _fmul(z, _fadd(SIN_F32[1], _fmul(z, _fadd(SIN_F32[2], _fmul(z, SIN_F32[3]))))))
    sin_phi = _fadd(phi, _fmul(_fmul(phi, z), sin_poly))
    cos_poly = _fadd(COS_F32[0], _fmul(z, _fadd(COS_F32[1], _fmul(z, _fadd(COS_F32[2], _fmul(
        z, _fadd(COS_F32[3], _fmul(z, COS_F32[4]))))))))
    cos_phi = _fadd(F32(1.0), _fmul(z, cos_poly))
    return _rotate_quadrant_f32(quadrant, octant_high, sin_phi, cos_phi)


@_device
def _horner8_f64(coefficients: Tuple[np.float64, ...], z: np.float64) -> np.float64:
    """``_mathfuncs._horner(coefficients, z, 8)``."""
    value = F64(0.0)
    for j in range(7, -1, -1):
        value = _dadd(coefficients[j], _dmul(z, value))
    return value


@_device
def _sincos_turn_f64(k52: np.uint64) -> Tuple[np.float64, np.float64]:
    """``_mathfuncs.sincos_turn_f64``: float64 ``(sin, cos)`` of ``2 pi (k52 + 1/2) / 2**52``."""
    quadrant = U64(k52 >> U64(50))
    octant_high = ((k52 >> U64(49)) & U64(1)) == U64(1)
    low = U64(k52 & _LOW50)
    reduced = U64(_LOW50 - low) if octant_high else low
    phi = _dmul(_dadd(F64(I64(reduced)), F64(0.5)), QUARTER_TURN_2_50)
    z = _dmul(phi, phi)
    sin_phi = _dadd(phi, _dmul(phi, _dmul(z, _horner8_f64(SIN_F64, z))))
    cos_phi = _dadd(F64(1.0), _dmul(z, _horner8_f64(COS_F64, z)))
    return _rotate_quadrant_f64(quadrant, octant_high, sin_phi, cos_phi)


@_device
def _rational7(numerator: Tuple[float, ...], denominator: Tuple[float, ...], x: np.float64) -> np.float64:
    """``_mathfuncs._rational7``."""
    top = F64(0.0)
    bottom = F64(0.0)
    for j in range(7, -1, -1):
        top = _dadd(numerator[j], _dmul(x, top))
        bottom = _dadd(denominator[j], _dmul(x, bottom))
    return _ddiv(top, bottom)


@_device
def _standard_truncated(signed: np.float64) -> np.float64:
    """``sign * Phi^-1(|signed|)``: ``_mathfuncs.normal_quantile_central`` or, where
    ``in_lower_tail``, ``normal_quantile_tail``, as the CPU tile converters choose."""
    p = abs(signed)
    if _dsub(p, F64(0.5)) < F64(-0.425):  # in_lower_tail
        r = _dsqrt(_dmul(F64(0.5), _minus_two_log(p, 0, TERMS_F64)))
        if r <= F64(5.0):
            z = -_rational7(NEAR_NUM, NEAR_DEN, _dsub(r, F64(1.6)))
        else:
            z = -_rational7(FAR_NUM, FAR_DEN, _dsub(r, F64(5.0)))
    else:
        q = _dsub(p, F64(0.5))
        z = _dmul(q, _rational7(CENTRAL_NUM, CENTRAL_DEN, _dsub(F64(0.180625), _dmul(q, q))))
    return z if signed > F64(0.0) else -z


@_device
def _truncated_probability(k: np.float64, step: np.float64, whole: np.float64, lower_tail: np.float64,
                           upper_tail: np.float64, mass: np.float64) -> np.float64:
    """``_convert.truncated_probability`` with ``k`` as float64 (exact), ``step = 2**-bits``, ``whole = 2**bits``."""
    v = _dmul(_dadd(k, F64(0.5)), step)
    v_complement = _dmul(_dsub(_dsub(whole, k), F64(0.5)), step)
    below = _dadd(lower_tail, _dmul(v, mass))
    above = _dadd(upper_tail, _dmul(v_complement, mass))
    return below if below <= above else -above


@_device
def _truncated_f32(word: np.uint32, params: Tuple[np.float64, ...]) -> np.float32:
    """One float32 truncated-normal value (``_kernels._truncated_f32_tile``)."""
    mean, std, clamp_low, clamp_high, lower_tail, upper_tail, mass = params
    signed = _truncated_probability(F64(word), _STEP32, _TWO32, lower_tail, upper_tail, mass)
    x = F32(_dadd(mean, _dmul(std, _standard_truncated(signed))))
    return _clamp(x, F32(clamp_low), F32(clamp_high))


@_device
def _truncated_f64(k52: np.uint64, params: Tuple[np.float64, ...]) -> np.float64:
    """One float64 truncated-normal value (``_kernels._truncated_f64_tile``)."""
    mean, std, clamp_low, clamp_high, lower_tail, upper_tail, mass = params
    signed = _truncated_probability(F64(k52), _STEP52, _TWO52, lower_tail, upper_tail, mass)
    return _clamp(_dadd(mean, _dmul(std, _standard_truncated(signed))), clamp_low, clamp_high)


@_device
def _round_float16(x: np.float32) -> np.uint16:
    """``_convert.round_float16`` (its one float addition made explicit)."""
    bits = _f32_bits(x)
    sign = (bits >> U32(16)) & U32(0x8000)
    magnitude = bits & U32(0x7FFFFFFF)
    # The normal branch's value is only kept for magnitude >= _F16_MIN_NORMAL; computing it from
    # a magnitude raised to at least that keeps the subtraction from wrapping (NumPy would warn).
    clipped = magnitude if magnitude >= _F16_MIN_NORMAL else _F16_MIN_NORMAL
    normal = U32(U32(U32(clipped - _F32_REBIAS) + U32(0x0FFF)) + ((clipped >> U32(13)) & U32(1))) >> U32(13)
    subnormal = U32(_f32_bits(_fadd(F32(abs(x)), F32(0.5))) - _HALF_BITS)
    half = subnormal if magnitude < _F16_MIN_NORMAL else normal
    half = U32(0x7C00) if magnitude >= _F16_OVERFLOW else half
    return U16(sign | half)


@_device
def _half_bits(x: np.float32, bfloat16: bool) -> np.uint16:
    """The 16-bit output of float32 ``x``: bfloat16 (``_convert.round_bfloat16``) or float16 bits."""
    return U16(round_bfloat16(x)) if bfloat16 else _round_float16(x)


# -- positions ------------------------------------------------------------------------


@_device
def _slots_per_row(ncols: int, tile_size: int) -> int:
    """Work items per row: one per element below 128 columns, else 128 per tile a row can touch."""
    if ncols < _L:
        return ncols
    return _L * ((ncols + tile_size - 2) // tile_size + 1)


@_device
def _locate(w: int, slots: int, tile_size: int, lanes: int, geometry: Tuple[int, ...],
            outer_n: Tuple[int, ...], outer_g: Tuple[int, ...], outer_s: Tuple[int, ...]
            ) -> Tuple[bool, int, int, int]:
    """Work item ``w`` -> ``(active, at, block, q0)``.

    ``block`` is the Philox counter, ``at`` the memory offset of the row's
    first element and ``q0`` the column of the counter's lane-0 element
    (lane ``j`` is column ``q0 + 128 j``); ``active`` is false when no lane
    falls inside the row.
    """
    zero_at, base, col_step, ncols, rows = geometry
    first = base
    at = zero_at
    slot = w
    if rows != 1:
        r = w // slots
        slot = w - r * slots
        for k in range(MAX_OUTER - 1, -1, -1):
            if r == 0:
                break
            n = outer_n[k]
            if n > 1:
                i = r % n
                r = r // n
                first += i * outer_g[k]
                at += i * outer_s[k]
    if ncols < _L:
        e = first + slot
        tile = e // tile_size
        m = e % _L
    else:
        tile = first // tile_size + slot // _L
        m = slot % _L
    q0 = tile * tile_size + m - first
    active = q0 < ncols and q0 + _L * (lanes - 1) >= 0
    return active, at, tile * _L + m, q0


_M0 = U64(PHILOX_M0)
_M1 = U64(PHILOX_M1)
_W0 = U64(PHILOX_W0)
_W1 = U64(PHILOX_W1)


@_device
def _philox4x32_10(c0: np.uint32, c1: np.uint32, c2: np.uint32, c3: np.uint32, k0: np.uint32, k1: np.uint32
                   ) -> Tuple[np.uint32, np.uint32, np.uint32, np.uint32]:
    """Philox4x32-10: ``_philox._philox_rounds`` with R = 10, in 32-bit GPU arithmetic.

    The CPU's jitted rounds compile for CUDA too, but numba types their
    words as 64-bit, so each 32x32-bit product becomes a 64-bit multiply
    (several instructions on a GPU) and the XORs 64-bit; here the operands
    are 32-bit words, a product is one ``mul.wide.u32``.  The same
    integers, so the same words (the simulator runs this source against the
    CPU fills).
    """
    for _ in range(10):
        p0 = _M0 * U64(c0)
        p1 = _M1 * U64(c2)
        c0, c1, c2, c3 = (U32(U32(p1 >> U64(32)) ^ c1 ^ k0), U32(p1 & _LOW32),
                          U32(U32(p0 >> U64(32)) ^ c3 ^ k1), U32(p0 & _LOW32))
        k0 = U32((U64(k0) + _W0) & _LOW32)
        k1 = U32((U64(k1) + _W1) & _LOW32)
    return c0, c1, c2, c3


@_device
def _words(block: int, key: Tuple[np.uint32, np.uint32, np.uint32, np.uint32]
           ) -> Tuple[np.uint32, np.uint32, np.uint32, np.uint32]:
    """Philox4x32-10 of counter ``(block mod 2**32, block >> 32, s0, s1)`` under key ``(k0, k1)``."""
    k0, k1, s0, s1 = key
    return _philox4x32_10(U32(block & _LOW_WORD), U32(block >> I64(32)), s0, s1, k0, k1)


@_device
def _lane(x0: np.uint32, x1: np.uint32, x2: np.uint32, x3: np.uint32, j: int) -> np.uint32:
    """Word ``j`` of four."""
    low = x1 if j == 1 else x0
    high = x3 if j == 3 else x2
    return high if j >= 2 else low


# -- kernels ----------------------------------------------------------------------------
#
# Every kernel: ``kernel(out, key, params, bfloat16, geometry, outer_n, outer_g, outer_s)``
# with ``out`` a 1-D C-contiguous array (float32, float64, or uint32/uint16 bits),
# ``key = (k0, k1, s0, s1)`` (uint32), ``params`` the distribution's parameters
# as ``_params`` makes them (a tuple of the draw dtype's scalars; float64 for
# truncated normals), ``bfloat16`` (16-bit kernels: bfloat16 or float16 bits;
# ignored elsewhere), ``geometry = (zero_at, base, col_step, ncols, rows)`` and
# ``outer_n``, ``outer_g``, ``outer_s``: MAX_OUTER int64 each (module docstring).


@_kernel
def fill_bits(out: Any, key: Any, params: Any, bfloat16: bool, geometry: Any, outer_n: Any,
              outer_g: Any, outer_s: Any) -> None:
    """Raw stream words (uint32 ``out``)."""
    col_step, ncols = geometry[2], geometry[3]
    slots = _slots_per_row(ncols, _T32)
    for w in range(cuda.grid(1), geometry[4] * slots, cuda.gridsize(1)):
        active, at, block, q0 = _locate(w, slots, _T32, 4, geometry, outer_n, outer_g, outer_s)
        if active:
            x0, x1, x2, x3 = _words(block, key)
            for j in range(4):
                q = q0 + _L * j
                if q >= 0 and q < ncols:
                    out[at + q * col_step] = _lane(x0, x1, x2, x3, j)


@_kernel
def fill_uniform_float32(out: Any, key: Any, params: Any, bfloat16: bool, geometry: Any, outer_n: Any,
                         outer_g: Any, outer_s: Any) -> None:
    """float32 uniform samples; ``params = (mid, scale, clamp_low, clamp_high)`` (float32)."""
    mid, scale, clamp_low, clamp_high = params
    col_step, ncols = geometry[2], geometry[3]
    slots = _slots_per_row(ncols, _T32)
    for w in range(cuda.grid(1), geometry[4] * slots, cuda.gridsize(1)):
        active, at, block, q0 = _locate(w, slots, _T32, 4, geometry, outer_n, outer_g, outer_s)
        if active:
            x0, x1, x2, x3 = _words(block, key)
            for j in range(4):
                q = q0 + _L * j
                if q >= 0 and q < ncols:
                    out[at + q * col_step] = _uniform_f32(_lane(x0, x1, x2, x3, j), mid, scale, clamp_low, clamp_high)


@_kernel
def fill_uniform_half(out: Any, key: Any, params: Any, bfloat16: bool, geometry: Any, outer_n: Any,
                      outer_g: Any, outer_s: Any) -> None:
    """float16 or bfloat16 bits (uint16 ``out``) of the float32 uniform samples."""
    mid, scale, clamp_low, clamp_high = params
    col_step, ncols = geometry[2], geometry[3]
    slots = _slots_per_row(ncols, _T32)
    for w in range(cuda.grid(1), geometry[4] * slots, cuda.gridsize(1)):
        active, at, block, q0 = _locate(w, slots, _T32, 4, geometry, outer_n, outer_g, outer_s)
        if active:
            x0, x1, x2, x3 = _words(block, key)
            for j in range(4):
                q = q0 + _L * j
                if q >= 0 and q < ncols:
                    value = _uniform_f32(_lane(x0, x1, x2, x3, j), mid, scale, clamp_low, clamp_high)
                    out[at + q * col_step] = _half_bits(value, bfloat16)


@_kernel
def fill_normal_float32(out: Any, key: Any, params: Any, bfloat16: bool, geometry: Any, outer_n: Any,
                        outer_g: Any, outer_s: Any) -> None:
    """float32 normal samples; ``params = (mean, std)`` (float32).

    Lanes 2p (cosine) and 2p + 1 (sine) share the Box-Muller pair of words
    2p (radius) and 2p + 1 (angle), computed once if either lane is written.
    """
    mean, std = params
    col_step, ncols = geometry[2], geometry[3]
    slots = _slots_per_row(ncols, _T32)
    for w in range(cuda.grid(1), geometry[4] * slots, cuda.gridsize(1)):
        active, at, block, q0 = _locate(w, slots, _T32, 4, geometry, outer_n, outer_g, outer_s)
        if active:
            x0, x1, x2, x3 = _words(block, key)
            for p in range(2):
                qc = q0 + 2 * _L * p
                qs = qc + _L
                with_cos = qc >= 0 and qc < ncols
                with_sin = qs >= 0 and qs < ncols
                if with_cos or with_sin:
                    r = _fmul(_normal_radius_f32(x2 if p == 1 else x0), std)
                    sin_theta, cos_theta = _sincos_turn_f32(x3 if p == 1 else x1)
                    if with_cos:
                        out[at + qc * col_step] = _fadd(mean, _fmul(r, cos_theta))
                    if with_sin:
                        out[at + qs * col_step] = _fadd(mean, _fmul(r, sin_theta))


@_kernel
def fill_normal_half(out: Any, key: Any, params: Any, bfloat16: bool, geometry: Any, outer_n: Any,
                     outer_g: Any, outer_s: Any) -> None:
    """float16 or bfloat16 bits (uint16 ``out``) of the float32 normal samples."""
    mean, std = params
    col_step, ncols = geometry[2], geometry[3]
    slots = _slots_per_row(ncols, _T32)
    for w in range(cuda.grid(1), geometry[4] * slots, cuda.gridsize(1)):
        active, at, block, q0 = _locate(w, slots, _T32, 4, geometry, outer_n, outer_g, outer_s)
        if active:
            x0, x1, x2, x3 = _words(block, key)
            for p in range(2):
                qc = q0 + 2 * _L * p
                qs = qc + _L
                with_cos = qc >= 0 and qc < ncols
                with_sin = qs >= 0 and qs < ncols
                if with_cos or with_sin:
                    r = _fmul(_normal_radius_f32(x2 if p == 1 else x0), std)
                    sin_theta, cos_theta = _sincos_turn_f32(x3 if p == 1 else x1)
                    if with_cos:
                        out[at + qc * col_step] = _half_bits(_fadd(mean, _fmul(r, cos_theta)), bfloat16)
                    if with_sin:
                        out[at + qs * col_step] = _half_bits(_fadd(mean, _fmul(r, sin_theta)), bfloat16)


@_kernel
def fill_truncated_normal_float32(out: Any, key: Any, params: Any, bfloat16: bool, geometry: Any, outer_n: Any,
                                  outer_g: Any, outer_s: Any) -> None:
    """float32 truncated-normal samples; ``params``: the 7 float64 of ``_params.truncated_params``."""
    col_step, ncols = geometry[2], geometry[3]
    slots = _slots_per_row(ncols, _T32)
    for w in range(cuda.grid(1), geometry[4] * slots, cuda.gridsize(1)):
        active, at, block, q0 = _locate(w, slots, _T32, 4, geometry, outer_n, outer_g, outer_s)
        if active:
            x0, x1, x2, x3 = _words(block, key)
            for j in range(4):
                q = q0 + _L * j
                if q >= 0 and q < ncols:
                    out[at + q * col_step] = _truncated_f32(_lane(x0, x1, x2, x3, j), params)


@_kernel
def fill_truncated_normal_half(out: Any, key: Any, params: Any, bfloat16: bool, geometry: Any, outer_n: Any,
                               outer_g: Any, outer_s: Any) -> None:
    """float16 or bfloat16 bits (uint16 ``out``) of the float32 truncated-normal samples."""
    col_step, ncols = geometry[2], geometry[3]
    slots = _slots_per_row(ncols, _T32)
    for w in range(cuda.grid(1), geometry[4] * slots, cuda.gridsize(1)):
        active, at, block, q0 = _locate(w, slots, _T32, 4, geometry, outer_n, outer_g, outer_s)
        if active:
            x0, x1, x2, x3 = _words(block, key)
            for j in range(4):
                q = q0 + _L * j
                if q >= 0 and q < ncols:
                    out[at + q * col_step] = _half_bits(_truncated_f32(_lane(x0, x1, x2, x3, j), params), bfloat16)


@_kernel
def fill_uniform_float64(out: Any, key: Any, params: Any, bfloat16: bool, geometry: Any, outer_n: Any,
                         outer_g: Any, outer_s: Any) -> None:
    """float64 uniform samples; lane ``h`` of a counter takes words ``2h`` (high) and ``2h + 1``."""
    mid, scale, clamp_low, clamp_high = params
    col_step, ncols = geometry[2], geometry[3]
    slots = _slots_per_row(ncols, _T64)
    for w in range(cuda.grid(1), geometry[4] * slots, cuda.gridsize(1)):
        active, at, block, q0 = _locate(w, slots, _T64, 2, geometry, outer_n, outer_g, outer_s)
        if active:
            x0, x1, x2, x3 = _words(block, key)
            if q0 >= 0 and q0 < ncols:
                out[at + q0 * col_step] = _uniform_f64(U64(bits53(x0, x1)), mid, scale, clamp_low, clamp_high)
            q = q0 + _L
            if q >= 0 and q < ncols:
                out[at + q * col_step] = _uniform_f64(U64(bits53(x2, x3)), mid, scale, clamp_low, clamp_high)


@_kernel
def fill_normal_float64(out: Any, key: Any, params: Any, bfloat16: bool, geometry: Any, outer_n: Any,
                        outer_g: Any, outer_s: Any) -> None:
    """float64 normal samples: words 0, 1 the radius, 2, 3 the angle; lane 0 the cosine, lane 1 the sine."""
    mean, std = params
    col_step, ncols = geometry[2], geometry[3]
    slots = _slots_per_row(ncols, _T64)
    for w in range(cuda.grid(1), geometry[4] * slots, cuda.gridsize(1)):
        active, at, block, q0 = _locate(w, slots, _T64, 2, geometry, outer_n, outer_g, outer_s)
        if active:
            x0, x1, x2, x3 = _words(block, key)
            radius = _minus_two_log(_dadd(F64(U64(bits52(x0, x1))), F64(0.5)), 52, TERMS_F64)
            r = _dmul(_dsqrt(radius), std)
            sin_theta, cos_theta = _sincos_turn_f64(U64(bits52(x2, x3)))
            if q0 >= 0 and q0 < ncols:
                out[at + q0 * col_step] = _dadd(mean, _dmul(r, cos_theta))
            q = q0 + _L
            if q >= 0 and q < ncols:
                out[at + q * col_step] = _dadd(mean, _dmul(r, sin_theta))


@_kernel
def fill_truncated_normal_float64(out: Any, key: Any, params: Any, bfloat16: bool, geometry: Any, outer_n: Any,
                                  outer_g: Any, outer_s: Any) -> None:
    """float64 truncated-normal samples (52 bits of words ``2h``, ``2h + 1`` per lane ``h``)."""
    col_step, ncols = geometry[2], geometry[3]
    slots = _slots_per_row(ncols, _T64)
    for w in range(cuda.grid(1), geometry[4] * slots, cuda.gridsize(1)):
        active, at, block, q0 = _locate(w, slots, _T64, 2, geometry, outer_n, outer_g, outer_s)
        if active:
            x0, x1, x2, x3 = _words(block, key)
            if q0 >= 0 and q0 < ncols:
                out[at + q0 * col_step] = _truncated_f64(U64(bits52(x0, x1)), params)
            q = q0 + _L
            if q >= 0 and q < ncols:
                out[at + q * col_step] = _truncated_f64(U64(bits52(x2, x3)), params)


KERNELS = {
    "fill_bits": fill_bits,
    "fill_uniform_float32": fill_uniform_float32,
    "fill_normal_float32": fill_normal_float32,
    "fill_truncated_normal_float32": fill_truncated_normal_float32,
    "fill_uniform_float64": fill_uniform_float64,
    "fill_normal_float64": fill_normal_float64,
    "fill_truncated_normal_float64": fill_truncated_normal_float64,
    "fill_uniform_half": fill_uniform_half,
    "fill_normal_half": fill_normal_half,
    "fill_truncated_normal_half": fill_truncated_normal_half,
}
"""Kernel by ``_engines.kernel_name``."""
