"""Stream format v2, written once: its float32 normal and truncated normal, every operation in float32.

Format 2 is format 1 (``_format.stream_v1``) for raw words, the uniform and
every float64 output.  Only the float32 draws of the normal and the truncated
normal differ (also behind float16 and bfloat16 outputs, which round them):
v1 computes them through float64 (a float64 logarithm in Box–Muller's
radius, Wichura's AS 241 PPND16 in float64), v2 in float32 alone, which
vectorizes twice as wide.  README "Stream format" defines every step; this
module is that definition, in the floatops style of ``_format.stream_v1``
(its rules hold here: ``select`` for choices, constants of explicit dtypes,
integer steps that cannot wrap), so the numba CPU kernels, the NumPy path and
the CUDA kernels run these very functions.  Every integer step is cast back
to 32 bits (``I32``/``U32``): numba widens integer arithmetic to 64 bits,
which LLVM then vectorizes at half width (``bench/bench_normal_v2_prototype.py``
measured it).

**Logarithm** (:func:`log_f32`): ``ln(x 2**k) = k ln 2 + ln(1 + f)`` with
``1 + f`` in ``[sqrt(1/2), sqrt 2)`` (:func:`split_exponent_f32`, exact),
``ln(1 + f) = 2 atanh(s)``, ``s = f / (2 + f)``, ``|s| <= 0.1716``, the odd
series to ``s**9`` (truncation below 2e-9 relative), and ``ln 2`` split so
that ``k * LN2_HI_F32`` is exact (12 significant bits: ``|k| < 2**12``).

**Normal** (:func:`normal_pair_f32_v2`): Box–Muller on the same pairs of words
as v1 (radius word, angle word; cosine and sine partners).  Radius
``sqrt(-2 ln u)``, ``u = (w + 1/2) 2**-32``: for ``w < 3 * 2**30``
(``u < 3/4``) ``x = float32(w) + 1/2`` (two roundings) and ``ln u = ln x -
32 ln 2``; for ``w >= 3 * 2**30`` from the complement ``c = 2**32 - 1 - w``
(``< 2**30``): ``1 - u = (2c + 1) 2**-33`` and ``f = -float32(2c + 1)
2**-33``, ``k = 0``: no cancellation near ``u = 1``.  Angle ``2 pi (w + 1/2)
2**-32``: the top two bits pick the quadrant, the third the octant, the low
29 bits ``r`` (reflected in the upper octant) give ``phi = float32(2r + 1)
* float32(pi 2**-32)`` in ``(0, pi/4)``, then v1's float32 Taylor
polynomials and quadrant rotation.

**Truncated normal** (:func:`truncated_split_f32` and the functions after it):
inverse-CDF of ``v = (w + 1/2) 2**-32`` with Wichura's PPND7 (Applied
Statistics 37(3), 1988; about 7 digits): the central rational of degree 3/3
in ``0.180625 - q**2`` for ``|q| <= 0.425``, ``q = P - 1/2``, else the tail
rationals of degree 3/2 in ``r - 1.6`` (``r <= 5``) or ``r - 5``, ``r =
sqrt(-ln p)``, ``p`` the nearer tail's probability.  ``q`` comes from the
nearer end of the interval (``q_low + v mass`` for ``w < 2**31``, else
``q_high - (1 - v) mass``) and ``p`` from the nearer tail's own parameter
(``lower + v mass`` or ``upper + (1 - v) mass``, ``v`` and ``1 - v`` each
from the word or its complement), so one-sided and narrow intervals and far
tails keep their precision.  The float32 parameters come from the
distribution's float64 ones (``_format.params.truncated_params``) by
:func:`truncated_params_f32`, which scales far tails by a power of two that
``-ln p`` takes back exactly.
"""

from __future__ import annotations

import math
from typing import Any, Tuple

import numpy as np

from .floatops import add, div, f32_bits, f32_from_bits, mul, select, sqrt, sub
from .stream_v1 import CENTRAL_SPLIT, COS_F32, SIN_F32, clamp, horner

__all__ = ["ELEMENTS", "PARAMETER_BUILDERS", "LN2_HI_F32", "LN2_LO_F32", "ATANH_SERIES_F32", "PPND7_A", "PPND7_B",
           "PPND7_C", "PPND7_D", "PPND7_E", "PPND7_F", "truncated_params_f32", "TRUNCATED_PARAM_COUNT",
           "TAIL_SCALE_BELOW", "TAIL_CAP"]

F32 = np.float32
U32 = np.uint32
I32 = np.int32

_HALF32 = F32(0.5)
_ONE32 = F32(1.0)
_TWO32 = F32(2.0)
_ZERO32 = F32(0.0)
_MINUS_TWO32 = F32(-2.0)

# -- logarithm ---------------------------------------------------------------------------

LN2_HI_F32 = F32(0.693115234375)  # ln 2 to 12 significant bits: k * LN2_HI_F32 is exact for |k| < 2**12
LN2_LO_F32 = F32(math.log(2) - 0.693115234375)  # the rest, rounded to float32
ATANH_SERIES_F32 = tuple(F32(1.0 / (2 * j + 1)) for j in range(1, 5))  # 1/3, 1/5, 1/7, 1/9
_MANTISSA = I32((1 << 23) - 1)
_SQRT2_MANTISSA = I32(0x3504F3)  # float32 sqrt(2)'s mantissa field
_EXPONENT_HALF = I32(126 << 23)
_EXPONENT_ONE = I32(127 << 23)


def split_exponent_f32(x: Any) -> Tuple[Any, Any]:
    """``(f, k)`` with ``x = (1 + f) 2**k`` exactly, ``1 + f`` in ``[sqrt(1/2), sqrt 2)``, ``k`` int32.

    ``x`` a positive normal float32.  ``1 + f`` is ``x``'s mantissa with the
    exponent of 1 (or of 1/2 above ``sqrt 2``'s mantissa), so ``f = (1 + f) -
    1`` is exact (Sterbenz).
    """
    bits = I32(f32_bits(x))
    mantissa = I32(bits & _MANTISSA)
    above = mantissa > _SQRT2_MANTISSA
    m = f32_from_bits(I32(mantissa | select(above, _EXPONENT_HALF, _EXPONENT_ONE)))
    return sub(m, _ONE32), I32(I32(I32(bits >> I32(23)) + I32(above)) - I32(127))


def log_f32(f: Any, k: Any) -> Any:
    """``k ln 2 + ln(1 + f)`` in float32 (``k`` a float32 integer, ``|k| < 2**12``; ``|f| <= 0.4143``).

    ``ln(1 + f) = 2 atanh(s) = 2s + 2s z (1/3 + z (1/5 + z (1/7 + z/9)))``,
    ``s = f / (2 + f)``, ``z = s**2``; then ``k LN2_HI_F32 + (k LN2_LO_F32 +
    ln(1 + f))``.
    """
    s = div(f, add(_TWO32, f))
    z = mul(s, s)
    s2 = add(s, s)
    log_1pf = add(s2, mul(s2, mul(z, horner(ATANH_SERIES_F32, z, 4))))
    return add(mul(k, LN2_HI_F32), add(mul(k, LN2_LO_F32), log_1pf))


# -- normal ---------------------------------------------------------------------------------

_HIGH_QUARTER = U32(3 << 30)
_LOW30 = U32((1 << 30) - 1)
_TWO_POW_M33 = F32(2.0**-33)
_SCALE_EXPONENT = I32(32)
_LOW29 = U32((1 << 29) - 1)
_LOW29_I = I32((1 << 29) - 1)
_PI_2_POW_M32 = F32(math.pi * 2.0**-32)


def normal_radius_f32_v2(word: Any) -> Any:
    """``sqrt(-2 ln u)``, ``u = (word + 1/2) 2**-32``, in float32 (module docstring)."""
    high = word >= _HIGH_QUARTER
    f_low, k_low = split_exponent_f32(add(F32(word), _HALF32))  # x = float32(w) + 1/2 ~ u 2**32
    complement = I32(U32(word & _LOW30) ^ _LOW30)  # 2**32 - 1 - w for w >= 3 * 2**30
    f_high = -mul(F32(I32(I32(complement * I32(2)) + I32(1))), _TWO_POW_M33)  # -(1 - u), one rounding
    f = select(high, f_high, f_low)
    k = F32(select(high, I32(0), I32(k_low - _SCALE_EXPONENT)))
    return sqrt(mul(_MINUS_TWO32, log_f32(f, k)))


def sincos_turn_f32_v2(word: Any) -> Tuple[Any, Any]:
    """float32 ``(sin, cos)`` of ``2 pi (word + 1/2) 2**-32``: exact reduction, ``phi`` rounded in float32.

    Quadrant ``word >> 30``, octant bit ``(word >> 29) & 1``; the low 29 bits
    ``r`` (``2**29 - 1 - r`` in an upper octant) give ``phi = float32(2r + 1)
    * float32(pi 2**-32)`` in ``(0, pi/4)``; v1's polynomials (``SIN_F32``,
    ``COS_F32``) and rotation (in 32-bit integers).
    """
    quadrant = I32(word >> U32(30))
    octant_high = I32(I32(word >> U32(29)) & I32(1)) == I32(1)
    low = I32(word & _LOW29)
    reduced = select(octant_high, I32(_LOW29_I - low), low)
    phi = mul(F32(I32(I32(reduced * I32(2)) + I32(1))), _PI_2_POW_M32)
    z = mul(phi, phi)
    sin_phi = add(phi, mul(mul(phi, z), horner(SIN_F32, z, 4)))
    cos_phi = add(_ONE32, mul(z, horner(COS_F32, z, 5)))
    sin_alpha = select(octant_high, cos_phi, sin_phi)
    cos_alpha = select(octant_high, sin_phi, cos_phi)
    odd = I32(quadrant & I32(1)) == I32(1)
    sin_theta = select(odd, cos_alpha, sin_alpha)
    cos_theta = select(odd, sin_alpha, cos_alpha)
    sin_theta = select(quadrant >= I32(2), -sin_theta, sin_theta)
    cos_theta = select(I32(I32(quadrant + I32(1)) & I32(2)) != I32(0), -cos_theta, cos_theta)
    return sin_theta, cos_theta


def normal_pair_f32_v2(radius_word: Any, angle_word: Any, params: Any) -> Tuple[Any, Any]:
    """The float32 Box–Muller pair of two words, all in float32: ``(mean + r cos theta, mean + r sin theta)``.

    ``params = (mean, std)``, float32 (``_format.params.normal_params``); ``r = radius * std``.
    """
    mean, std = params[0], params[1]
    r = mul(normal_radius_f32_v2(radius_word), std)
    sin_theta, cos_theta = sincos_turn_f32_v2(angle_word)
    return add(mean, mul(r, cos_theta)), add(mean, mul(r, sin_theta))


# -- truncated normal: PPND7 ------------------------------------------------------------------

# Wichura (1988), AS 241, PPND7, lowest degree first: Phi^-1(1/2 + q) = q A(r) / B(r), r = 0.180625 - q**2;
# in the tails C(a) / D(a), a = t - 1.6 (t <= 5), or E(b) / F(b), b = t - 5, t = sqrt(-ln p).
PPND7_A = (F32(3.3871327179), F32(50.434271938), F32(159.29113202), F32(59.109374720))
PPND7_B = (F32(1.0), F32(17.895169469), F32(78.757757664), F32(67.187563600))
PPND7_C = (F32(1.4234372777), F32(2.7568153900), F32(1.3067284816), F32(0.17023821103))
PPND7_D = (F32(1.0), F32(0.73700164250), F32(0.12021132975))
PPND7_E = (F32(6.6579051150), F32(3.0812263860), F32(0.42868294337), F32(0.017337203997))
PPND7_F = (F32(1.0), F32(0.24197894225), F32(0.012258202635))
_SPLIT = F32(0.425)
_CENTRAL = F32(CENTRAL_SPLIT)  # exact in float32
_NEAR = F32(1.6)
_FAR = F32(5.0)
_TWO_POW_M32 = F32(2.0**-32)
_ALL_ONES = U32(0xFFFFFFFF)
_HALF_WORD = U32(1 << 31)

TRUNCATED_PARAM_COUNT = 11
"""``(mean, std, clamp_low, clamp_high, q_low, q_high, mass, lower, upper, tail_mass, shift)``, float32."""
TAIL_SCALE_BELOW = 2.0**-60
"""Tail parameters are scaled by ``2**shift`` when the larger of the mass and the smaller tail is below this."""
TAIL_CAP = 2.0**127
"""Scaled tail probabilities are capped here (the far tail, never read, stays finite in float32)."""


def truncated_params_f32(params: Any) -> np.ndarray[Any, Any]:
    """The float32 parameters of the v2 truncated normal from the distribution's float64 ones.

    ``params = (mean, std, clamp_low, clamp_high, lower, upper, mass)``,
    float64 (``_format.params.truncated_params``: ``lower = Phi(alpha)``,
    ``upper = Phi(-beta)``, ``mass`` the interval's probability).  Returns,
    each rounded once to float32: ``mean, std, clamp_low, clamp_high`` (the
    clamps are float32 values already), ``q_low = lower - 1/2`` and ``q_high
    = 1/2 - upper`` (float64 differences), ``mass``, then ``lower 2**shift``,
    ``upper 2**shift`` (each at most :data:`TAIL_CAP`), ``mass 2**shift`` and
    ``shift``: 0 unless ``small = max(mass, min(lower, upper))`` is below
    :data:`TAIL_SCALE_BELOW`, else ``-floor(log2 small)`` (exact, from
    ``small``'s exponent), so that the nearer tail's probability stays a
    normal float32 far out.
    """
    mean, std, clamp_low, clamp_high, lower, upper, mass = (float(x) for x in np.asarray(params).reshape(-1)[:7])
    small = max(mass, min(lower, upper))
    shift = 0 if small >= TAIL_SCALE_BELOW else 1 - math.frexp(small)[1]  # small = m 2**e, m in [1/2, 1)
    return np.array([mean, std, clamp_low, clamp_high, lower - 0.5, 0.5 - upper, mass,
                     min(math.ldexp(lower, shift), TAIL_CAP), min(math.ldexp(upper, shift), TAIL_CAP),
                     math.ldexp(mass, shift), shift], dtype=np.float32)


def truncated_split_f32(word: Any, params: Any) -> Tuple[Any, Any]:
    """``(q, p)`` of one word: ``q = P - 1/2`` from the interval's nearer end, ``p`` the nearer tail's probability
    (scaled by ``2**shift``).

    ``v = (float32(w) + 1/2) 2**-32`` and ``1 - v = (float32(2**32 - 1 - w)
    + 1/2) 2**-32``; ``q = q_low + v mass`` for ``w < 2**31``, else ``q_high
    - (1 - v) mass``; ``p = lower + v tail_mass`` where ``q < 0``, else
    ``upper + (1 - v) tail_mass``.  ``params``: :func:`truncated_params_f32`.
    """
    q_low, q_high, mass, lower, upper, tail_mass = params[4], params[5], params[6], params[7], params[8], params[9]
    low_half = word < _HALF_WORD
    # q from the one of v, 1 - v its end uses (x), as q_low + x mass or
    # q_high + x (-mass): the same bits as q_high - (1 - v) mass, in fewer
    # operations where every element is computed (the CPU tiles keep q alone).
    x = mul(add(F32(select(low_half, word, U32(_ALL_ONES - word))), _HALF32), _TWO_POW_M32)
    q = add(select(low_half, q_low, q_high), mul(x, select(low_half, mass, -mass)))
    v = mul(add(F32(word), _HALF32), _TWO_POW_M32)
    v_complement = mul(add(F32(U32(_ALL_ONES - word)), _HALF32), _TWO_POW_M32)
    p = select(q < _ZERO32, add(lower, mul(v, tail_mass)), add(upper, mul(v_complement, tail_mass)))
    return q, p


def quantile_central_f32(q: Any) -> Any:
    """``Phi^-1(1/2 + q)`` by PPND7's central rational (used for ``|q| <= 0.425``; finite for ``|q| <= 1/2``)."""
    r = sub(_CENTRAL, mul(q, q))
    return div(mul(q, horner(PPND7_A, r, 4)), horner(PPND7_B, r, 4))


def in_tail_f32(q: Any) -> Any:
    """Whether PPND7 takes its tail branch: ``|q| > 0.425``."""
    return abs(q) > _SPLIT


def quantile_tail_f32(p: Any, params: Any) -> Any:
    """``Phi^-1(p 2**-shift)`` (negative) by PPND7's tail rationals, ``p 2**-shift < 0.075``.

    ``t = sqrt(-ln(p 2**-shift))`` with ``k = e - shift`` (exact) in :func:`log_f32`.
    """
    f, k = split_exponent_f32(p)
    t = sqrt(-log_f32(f, sub(F32(k), params[10])))
    a = sub(t, _NEAR)
    b = sub(t, _FAR)
    near = t <= _FAR
    # One division of the chosen rational's numerator and denominator: the
    # same bits as choosing between two quotients, one division fewer.
    return -div(select(near, horner(PPND7_C, a, 4), horner(PPND7_E, b, 4)),
                select(near, horner(PPND7_D, a, 3), horner(PPND7_F, b, 3)))


def signed_tail_f32(q: Any, tail: Any) -> Any:
    """The tail quantile ``tail`` (of the nearer tail, negative) on ``q``'s side: ``-tail`` where ``q > 0``."""
    return select(q > _ZERO32, -tail, tail)


def truncated_value_f32(z: Any, params: Any) -> Any:
    """``clamp(mean + std z)`` in float32, to ``[clamp_low, clamp_high]``."""
    return clamp(add(params[0], mul(params[1], z)), params[2], params[3])


PARAMETER_BUILDERS = ("truncated_params_f32",)
"""Host functions turning a distribution's parameters into an element's (``_format.tables.Element.params``)."""

ELEMENTS = ("split_exponent_f32", "log_f32", "normal_radius_f32_v2", "sincos_turn_f32_v2", "normal_pair_f32_v2",
            "truncated_split_f32", "quantile_central_f32", "in_tail_f32", "quantile_tail_f32", "signed_tail_f32",
            "truncated_value_f32")
"""The element functions, which every engine compiles its own copies of (calling v1's ``clamp`` and ``horner``)."""
