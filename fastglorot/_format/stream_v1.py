"""Stream format v1, written once: the scalar element functions every engine runs.

Philox4x32-10, the conversions of its words to values (uniform, Box–Muller
normal, inverse-CDF truncated normal), the logarithm, sine and cosine and
normal quantile behind them, and the 16-bit roundings (README "Stream
format").  Each function is plain Python against the float operations of
``_format.floatops`` (``add``, ``mul``, ..., ``select``, bit casts) and NumPy's
scalar types as casts, with every constant of an explicit dtype, so one
source means the same IEEE operations, in the same order and dtype, on

* NumPy arrays and scalars, as it stands (the NumPy path, the CUDA simulator);
* the numba CPU kernels, through compiled copies (``_engines.numba_elements``: plain
  operators, no fastmath, so no fused multiply-adds and vectorizable loops);
* the CUDA kernels, through compiled copies whose operations are libdevice's
  round-to-nearest calls (``_cuda_elements``), which NVVM never contracts.

The engines build their copies with ``_format.floatops.bind``; :data:`ELEMENTS`
names the functions copied.  Rules that keep the engines equal: no ``if``
on values (``select``); no Python float constants (numba types them
float64, NumPy as the other operand's dtype): module constants of a NumPy
dtype; integer arithmetic that cannot wrap in the dtype NumPy uses, since
NumPy scalars warn where numba's wider integers do not.

The logarithm: ``ln v`` for ``v = x * 2**-B``, ``x = k + 1/2`` exact in
float64.  ``x = m * 2**e`` with ``m`` in ``[sqrt(1/2), sqrt(2))`` read off
the float64 exponent; then ``m - 2**e`` is exact (Sterbenz) and
``ln m = 2 atanh(s)``, ``s = (m-1)/(m+1)``, ``|s| <= 0.1716``, an odd series
in ``s``.  Its truncation after ``s**(2T-1)`` is below ``0.03**T / (2T+1)``
relative: T = 11 terms for float64 results, T = 5 when the result is rounded
to float32 (2e-9, a thirtieth of a float32 ulp).  Sine and cosine of ``phi``
in ``(0, pi/4)``: Taylor series to ``phi**9``/``phi**10`` (float32) or
``phi**17``/``phi**16`` (float64), ``phi`` from an exact integer reduction of
the word scaled by a quarter turn.  The normal quantile: Wichura (1988),
"Algorithm AS 241: The percentage points of the normal distribution",
Applied Statistics 37(3), PPND16, three rationals of degree 7/7.
"""

from __future__ import annotations

import math
from typing import Any, Tuple

import numpy as np

from .constants import LN2_F64_LO, LN2_HI
from .floatops import add, div, f32_bits, f64_bits, f64_from_bits, mul, select, sqrt, sub, word

__all__ = ["PHILOX_M0", "PHILOX_M1", "PHILOX_W0", "PHILOX_W1", "ELEMENTS", "TERMS_F32", "TERMS_F64"]

F32 = np.float32
F64 = np.float64
U16 = np.uint16
U32 = np.uint32
U64 = np.uint64
I32 = np.int32
I64 = np.int64

# -- Philox4x32 (Salmon et al., SC'11) --------------------------------------------

PHILOX_M0 = 0xD2511F53
PHILOX_M1 = 0xCD9E8D57
PHILOX_W0 = 0x9E3779B9
PHILOX_W1 = 0xBB67AE85

_M0 = U64(PHILOX_M0)
_M1 = U64(PHILOX_M1)
_W0 = U64(PHILOX_W0)
_W1 = U64(PHILOX_W1)
_SHIFT32 = U64(32)
_MASK32 = U64(0xFFFFFFFF)


def philox_rounds(c0: Any, c1: Any, c2: Any, c3: Any, k0: Any, k1: Any, rounds: int) -> Tuple[Any, Any, Any, Any]:
    """``rounds`` Philox4x32 rounds on uint32 words; the key is bumped after every round.

    Each round: ``hi0:lo0 = M0 * c0``, ``hi1:lo1 = M1 * c2`` (64-bit
    products), ``(c0, c1, c2, c3) <- (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)``.
    The products are of 32-bit words: ``word`` keeps an XOR of uint32 words
    a uint32 for CUDA (one ``mul.wide.u32``) and NumPy, and in numba's 64-bit
    integer lanes on the CPU (where LLVM's vectorizer multiplies them with
    ``vpmuludq``; narrowed, the loop ran at half the speed).
    """
    for _ in range(rounds):
        p0 = _M0 * U64(c0)
        p1 = _M1 * U64(c2)
        c0, c1, c2, c3 = (word(U32(p1 >> _SHIFT32) ^ c1 ^ k0), U32(p1 & _MASK32),
                          word(U32(p0 >> _SHIFT32) ^ c3 ^ k1), U32(p0 & _MASK32))
        k0 = U32((U64(k0) + _W0) & _MASK32)
        k1 = U32((U64(k1) + _W1) & _MASK32)
    return c0, c1, c2, c3


def philox4x32_10(c0: Any, c1: Any, c2: Any, c3: Any, k0: Any, k1: Any) -> Tuple[Any, Any, Any, Any]:
    """Philox4x32-10: the four uint32 output words of counter ``(c0, c1, c2, c3)`` under key ``(k0, k1)``."""
    return philox_rounds(c0, c1, c2, c3, k0, k1, 10)


# -- small pieces -------------------------------------------------------------------

_HALF32 = F32(0.5)
_ONE32 = F32(1.0)
_HALF64 = F64(0.5)
_ONE64 = F64(1.0)


def clamp(value: Any, low: Any, high: Any) -> Any:
    """``min(max(value, low), high)``, keeping ``value`` on ties (the sign of a zero included)."""
    raised = select(low > value, low, value)
    return select(high < raised, high, raised)


def horner(coefficients: Tuple[Any, ...], z: Any, count: int) -> Any:
    """``c[0] + z*(c[1] + ... + z*c[count-1])``, innermost first, in the coefficients' dtype."""
    value = coefficients[count - 1]
    for j in range(count - 2, -1, -1):
        value = add(coefficients[j], mul(z, value))
    return value


def bits53(high_word: Any, low_word: Any) -> Any:
    """53 random bits (uint64): all of ``high_word`` and the top 21 bits of ``low_word``."""
    return (U64(high_word) << U64(21)) | U64(low_word >> U32(11))


def bits52(high_word: Any, low_word: Any) -> Any:
    """52 random bits (uint64): all of ``high_word`` and the top 20 bits of ``low_word``."""
    return (U64(high_word) << U64(20)) | U64(low_word >> U32(12))


# -- uniform ---------------------------------------------------------------------------

_SIGN32 = U32(1 << 31)
_HALF_53 = I64(1 << 53)


def raw_word(word: Any, params: Any) -> Any:
    """A raw stream word, unchanged (the ``bits`` fills; ``params`` unused)."""
    return word


def uniform_f32(word: Any, params: Any) -> Any:
    """float32 from the top 24 bits ``k`` of ``word``: ``mid + scale * (2k + 1 - 2**24)``, clamped.

    ``params = (mid, scale, clamp_low, clamp_high)``, float32 (``_format.params.uniform_params``).
    """
    mid, scale, clamp_low, clamp_high = params[0], params[1], params[2], params[3]
    # (2k + 1) - 2**24 == ((word - 2**31) >> 7) | 1 with an arithmetic shift:
    # staying in 32 bits lets the conversion use 16-wide vcvtdq2ps.
    odd = I32(I32(word ^ _SIGN32) >> I32(7)) | I32(1)
    return clamp(add(mid, mul(scale, F32(I32(odd)))), clamp_low, clamp_high)


def uniform_f64(high_word: Any, low_word: Any, params: Any) -> Any:
    """float64 from the 53 bits ``k`` of two words (``bits53``): ``mid + scale * (2k + 1 - 2**53)``, clamped.

    ``params = (mid, scale, clamp_low, clamp_high)``, float64.
    """
    mid, scale, clamp_low, clamp_high = params[0], params[1], params[2], params[3]
    odd = I64((bits53(high_word, low_word) << U64(1)) | U64(1)) - _HALF_53
    return clamp(add(mid, mul(scale, F64(odd))), clamp_low, clamp_high)


# -- logarithm ---------------------------------------------------------------------------

ATANH_SERIES = tuple(F64(2.0 / (2 * j + 1)) for j in range(1, 11))
TERMS_F64 = 11
TERMS_F32 = 5
_SQRT2_MANTISSA = I64(0x6A09E667F3BCD)  # sqrt(2)'s mantissa field
_MANTISSA_MASK = I64((1 << 52) - 1)
_LN2_HI = F64(LN2_HI)  # 32 significant bits: e * _LN2_HI is exact
_LN2_LO = F64(LN2_F64_LO)  # _LN2_HI + _LN2_LO == float64(ln 2)
_MINUS_TWO = F64(-2.0)


def minus_two_log(x: Any, scale_exponent: int, terms: int) -> Any:
    """``-2 ln(x * 2**-scale_exponent)`` in float64 (``x >= 1/2``); ``terms`` (a constant) series terms."""
    bits = f64_bits(x)
    exponent = (bits >> I64(52)) - I64(1023) + I64((bits & _MANTISSA_MASK) > _SQRT2_MANTISSA)
    power = f64_from_bits((exponent + I64(1023)) << I64(52))
    s = div(sub(x, power), add(x, power))
    z = mul(s, s)
    log_m = add(add(s, s), mul(s, mul(z, horner(ATANH_SERIES, z, terms - 1))))
    e = F64(exponent - I64(scale_exponent))
    return mul(_MINUS_TWO, add(mul(e, _LN2_HI), add(mul(e, _LN2_LO), log_m)))


# -- sine and cosine of a fraction of a turn ------------------------------------------------

SIN_F32 = tuple(F32((-1) ** j / math.factorial(2 * j + 1)) for j in range(1, 5))
COS_F32 = tuple(F32((-1) ** j / math.factorial(2 * j)) for j in range(1, 6))
SIN_F64 = tuple(F64((-1) ** j / math.factorial(2 * j + 1)) for j in range(1, 9))
COS_F64 = tuple(F64((-1) ** j / math.factorial(2 * j)) for j in range(1, 9))
QUARTER_TURN_2_30 = F64(math.pi / 2 / 2**30)
QUARTER_TURN_2_50 = F64(math.pi / 2 / 2**50)
_LOW30 = U32((1 << 30) - 1)
_LOW50 = U64((1 << 50) - 1)


def rotate_quadrant(quadrant: Any, octant_high: Any, sin_phi: Any, cos_phi: Any) -> Tuple[Any, Any]:
    """(sin, cos) of ``quadrant*pi/2 + alpha`` where alpha = phi or pi/2 - phi (selects and negations: exact)."""
    sin_alpha = select(octant_high, cos_phi, sin_phi)
    cos_alpha = select(octant_high, sin_phi, cos_phi)
    odd = (quadrant & 1) == 1
    sin_theta = select(odd, cos_alpha, sin_alpha)
    cos_theta = select(odd, sin_alpha, cos_alpha)
    sin_theta = select(quadrant >= 2, -sin_theta, sin_theta)
    cos_theta = select(((quadrant + 1) & 2) != 0, -cos_theta, cos_theta)
    return sin_theta, cos_theta


def sincos_turn_f32(word: Any) -> Tuple[Any, Any]:
    """float32 ``(sin, cos)`` of ``2 pi (word + 1/2) / 2**32``.

    The top two bits pick the quadrant and the third the octant, so the
    polynomial argument phi in (0, pi/4) comes from exact integer arithmetic
    (rounded once, through float64).
    """
    quadrant = word >> U32(30)
    octant_high = ((word >> U32(29)) & U32(1)) == U32(1)
    low = word & _LOW30
    reduced = select(octant_high, U32(_LOW30 - low), low)
    phi = F32(mul(add(F64(I32(reduced)), _HALF64), QUARTER_TURN_2_30))
    z = mul(phi, phi)
    sin_phi = add(phi, mul(mul(phi, z), horner(SIN_F32, z, 4)))
    cos_phi = add(_ONE32, mul(z, horner(COS_F32, z, 5)))
    return rotate_quadrant(quadrant, octant_high, sin_phi, cos_phi)


def sincos_turn_f64(k52: Any) -> Tuple[Any, Any]:
    """float64 ``(sin, cos)`` of ``2 pi (k52 + 1/2) / 2**52``."""
    quadrant = k52 >> U64(50)
    octant_high = ((k52 >> U64(49)) & U64(1)) == U64(1)
    low = k52 & _LOW50
    reduced = select(octant_high, U64(_LOW50 - low), low)
    phi = mul(add(F64(I64(reduced)), _HALF64), QUARTER_TURN_2_50)
    z = mul(phi, phi)
    sin_phi = add(phi, mul(phi, mul(z, horner(SIN_F64, z, 8))))
    cos_phi = add(_ONE64, mul(z, horner(COS_F64, z, 8)))
    return rotate_quadrant(quadrant, octant_high, sin_phi, cos_phi)


# -- normal ---------------------------------------------------------------------------------


def normal_radius_f32(word: Any) -> Any:
    """``sqrt(-2 ln u)`` as float32 for ``u = (word + 1/2) / 2**32``."""
    return sqrt(F32(minus_two_log(add(F64(word), _HALF64), 32, TERMS_F32)))


def normal_pair_f32(radius_word: Any, angle_word: Any, params: Any) -> Tuple[Any, Any]:
    """The float32 Box–Muller pair of two words: ``(mean + r cos theta, mean + r sin theta)``.

    ``params = (mean, std)``, float32 (``_format.params.normal_params``).
    """
    mean, std = params[0], params[1]
    r = mul(normal_radius_f32(radius_word), std)
    sin_theta, cos_theta = sincos_turn_f32(angle_word)
    return add(mean, mul(r, cos_theta)), add(mean, mul(r, sin_theta))


def normal_pair_f64(w0: Any, w1: Any, w2: Any, w3: Any, params: Any) -> Tuple[Any, Any]:
    """The float64 Box–Muller pair of four words: 52 bits of ``w0, w1`` the radius, of ``w2, w3`` the angle.

    ``params = (mean, std)``, float64.
    """
    mean, std = params[0], params[1]
    r = mul(sqrt(minus_two_log(add(F64(bits52(w0, w1)), _HALF64), 52, TERMS_F64)), std)
    sin_theta, cos_theta = sincos_turn_f64(bits52(w2, w3))
    return add(mean, mul(r, cos_theta)), add(mean, mul(r, sin_theta))


# -- truncated normal: AS 241 ------------------------------------------------------------------

CENTRAL_NUM = tuple(F64(c) for c in (
    3.3871328727963666080e0, 1.3314166789178437745e2, 1.9715909503065514427e3, 1.3731693765509461125e4,
    4.5921953931549871457e4, 6.7265770927008700853e4, 3.3430575583588128105e4, 2.5090809287301226727e3))
CENTRAL_DEN = tuple(F64(c) for c in (
    1.0, 4.2313330701600911252e1, 6.8718700749205790830e2, 5.3941960214247511077e3,
    2.1213794301586595867e4, 3.9307895800092710610e4, 2.8729085735721942674e4, 5.2264952788528545610e3))
NEAR_NUM = tuple(F64(c) for c in (
    1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0, 3.64784832476320460504e0,
    1.27045825245236838258e0, 2.41780725177450611770e-1, 2.27238449892691845833e-2, 7.74545014278341407640e-4))
NEAR_DEN = tuple(F64(c) for c in (
    1.0, 2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
    1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4, 1.05075007164441684324e-9))
FAR_NUM = tuple(F64(c) for c in (
    6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0, 2.96560571828504891230e-1,
    2.65321895265761230930e-2, 1.24266094738807843860e-3, 2.71155556874348757815e-5, 2.01033439929228813265e-7))
FAR_DEN = tuple(F64(c) for c in (
    1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
    7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7, 2.04426310338993978564e-15))
CENTRAL_SPLIT = F64(0.180625)  # 0.425**2: AS 241 (PPND16 and PPND7) central rational in 0.180625 - q**2
_TAIL_AT = F64(-0.425)
_NEAR_AT = F64(1.6)
_FAR_AT = F64(5.0)


def rational7(numerator: Tuple[Any, ...], denominator: Tuple[Any, ...], x: Any) -> Any:
    """``numerator(x) / denominator(x)``, both of degree 7, by Horner's rule (both in one loop)."""
    top = numerator[7]
    bottom = denominator[7]
    for j in range(6, -1, -1):
        top = add(numerator[j], mul(x, top))
        bottom = add(denominator[j], mul(x, bottom))
    return div(top, bottom)


def normal_quantile_central(p: Any) -> Any:
    """``Phi^-1(p)`` for ``|p - 1/2| <= 0.425`` (AS 241's central rational)."""
    q = sub(p, _HALF64)
    return mul(q, rational7(CENTRAL_NUM, CENTRAL_DEN, sub(CENTRAL_SPLIT, mul(q, q))))


def in_lower_tail(p: Any) -> Any:
    """Whether AS 241 evaluates ``Phi^-1(p)``, ``p <= 1/2``, by its tail branch."""
    return sub(p, _HALF64) < _TAIL_AT


def normal_quantile_tail(p: Any) -> Any:
    """``Phi^-1(p)`` for ``0 < p < 0.075`` (AS 241's tail rationals in ``sqrt(-ln p)``; ``p`` a normal float64)."""
    r = sqrt(mul(_HALF64, minus_two_log(p, 0, TERMS_F64)))  # sqrt(-ln p)
    near = rational7(NEAR_NUM, NEAR_DEN, sub(r, _NEAR_AT))
    far = rational7(FAR_NUM, FAR_DEN, sub(r, _FAR_AT))
    return -select(r <= _FAR_AT, near, far)


def truncated_probability(k: Any, bits: int, lower_tail: Any, upper_tail: Any, mass: Any) -> Any:
    """The nearer-tail probability behind a truncated-normal draw, signed.

    ``lower_tail = Phi(alpha)``, ``upper_tail = Phi(-beta)`` and
    ``mass = 1 - lower_tail - upper_tail`` describe the standardized interval
    [alpha, beta]; ``v = (k + 1/2) / 2**bits``.  ``P = lower_tail + v * mass``
    and ``1 - P = upper_tail + (1 - v) * mass`` are both formed from exact
    ``v`` and ``1 - v``.  Returns ``P`` if ``P <= 1 - P``, else ``-(1 - P)``:
    the draw is ``mean + std * sign * Phi^-1(|result|)``.
    """
    step = f64_from_bits(I64(1023 - bits) << I64(52))  # 2**-bits
    whole = f64_from_bits(I64(1023 + bits) << I64(52))  # 2**bits
    kf = F64(k)
    v = mul(add(kf, _HALF64), step)
    v_complement = mul(sub(sub(whole, kf), _HALF64), step)
    below = add(lower_tail, mul(v, mass))
    above = add(upper_tail, mul(v_complement, mass))
    return select(below <= above, below, -above)


def truncated_probability_f32(word: Any, params: Any) -> Any:
    """:func:`truncated_probability` of one word (32 bits).

    ``params = (mean, std, clamp_low, clamp_high, lower_tail, upper_tail, mass)``, float64
    (``_format.params.truncated_params``).
    """
    return truncated_probability(word, 32, params[4], params[5], params[6])


def truncated_probability_f64(high_word: Any, low_word: Any, params: Any) -> Any:
    """:func:`truncated_probability` of the 52 bits of two words (``bits52``)."""
    return truncated_probability(bits52(high_word, low_word), 52, params[4], params[5], params[6])


def signed_quantile(signed: Any, z: Any) -> Any:
    """``z`` (``Phi^-1(|signed|)``) with the sign of ``signed``."""
    return select(signed > F64(0.0), z, -z)


def truncated_f32(z: Any, params: Any) -> Any:
    """The float32 truncated-normal value ``clamp(float32(mean + std z))`` of the standardized draw ``z``."""
    mean, std, clamp_low, clamp_high = params[0], params[1], params[2], params[3]
    return clamp(F32(add(mean, mul(std, z))), F32(clamp_low), F32(clamp_high))


def truncated_f64(z: Any, params: Any) -> Any:
    """The float64 truncated-normal value ``clamp(mean + std z)`` of the standardized draw ``z``."""
    mean, std, clamp_low, clamp_high = params[0], params[1], params[2], params[3]
    return clamp(add(mean, mul(std, z)), clamp_low, clamp_high)


# -- 16-bit roundings ------------------------------------------------------------------------

_F16_MIN_NORMAL = U32(0x38800000)  # 2**-14 as float32 bits
_F16_OVERFLOW = U32(0x477FF000)  # 65520: rounds to inf in float16
_F32_REBIAS = U32(0x38000000)  # (127 - 15) << 23
_HALF_BITS = U32(0x3F000000)  # 0.5f


def round_float16(x: Any) -> Any:
    """IEEE float16 bits (uint16) of finite float32 ``x``, round to nearest even."""
    bits = f32_bits(x)
    sign = (bits >> U32(16)) & U32(0x8000)
    magnitude = bits & U32(0x7FFFFFFF)
    # The normal branch's value is kept for magnitude >= 2**-14 only; computing it from a magnitude
    # raised to at least that keeps the subtraction from wrapping (NumPy scalars would warn).
    clipped = select(magnitude >= _F16_MIN_NORMAL, magnitude, _F16_MIN_NORMAL)
    normal = U32(U32(U32(clipped - _F32_REBIAS) + U32(0x0FFF)) + ((clipped >> U32(13)) & U32(1))) >> U32(13)
    # Below 2**-14 the result is subnormal: adding 0.5f makes the float adder
    # round at float16's subnormal spacing 2**-24, ties to even.
    subnormal = U32(f32_bits(add(abs(x), _HALF32)) - _HALF_BITS)
    half = select(magnitude < _F16_MIN_NORMAL, subnormal, U32(normal))
    half = select(magnitude >= _F16_OVERFLOW, U32(0x7C00), half)
    return U16(sign | half)


def round_bfloat16(x: Any) -> Any:
    """bfloat16 bits (uint16) of float32 ``x`` (the top half), round to nearest even."""
    bits = f32_bits(x)
    # Each step cast back to 32 bits (numba widens uint32 sums to 64-bit lanes, half as many per vector);
    # a wrap, for negative NaNs only, would only lose a bit that the shift drops anyway.
    return U16(U32(U32(U32(bits + U32(0x7FFF)) + U32(U32(bits >> U32(16)) & U32(1))) >> U32(16)))


ELEMENTS = ("philox_rounds", "philox4x32_10", "clamp", "horner", "bits53", "bits52", "raw_word", "uniform_f32",
            "uniform_f64", "minus_two_log", "rotate_quadrant", "sincos_turn_f32", "sincos_turn_f64",
            "normal_radius_f32", "normal_pair_f32", "normal_pair_f64", "rational7", "normal_quantile_central",
            "in_lower_tail", "normal_quantile_tail", "truncated_probability", "truncated_probability_f32",
            "truncated_probability_f64", "signed_quantile", "truncated_f32", "truncated_f64", "round_float16",
            "round_bfloat16")
"""The element functions, which every engine compiles its own copies of."""
