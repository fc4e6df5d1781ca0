"""Constants of the stream format, each defined once, free of numba.

Two implementations compute every stream: the jitted kernels (``_kernels``,
built from ``_mathfuncs`` and ``_convert``) and their NumPy twins
(``_numpy_kernels``), which small fills use without loading numba.  Both read
the tile layout, the series and rational coefficients and the bit constants
from here, so they cannot drift apart.

The dtype aliases are what the inlined kernel helpers cast with.  The ln 2
splits serve both logarithms and the plain-Python ``exp`` of ``_normal_cdf``;
they are plain Python floats, which numba types as float64 and
``np.float64(...)`` converts without rounding.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["F32", "F64", "U32", "U64", "I64", "LN2_HI", "LN2_LO", "LN2_F64_LO", "TILE_COUNTERS",
           "WORDS_PER_TILE", "tile_elements", "SQRT2_MANTISSA", "MANTISSA_MASK", "ATANH_SERIES", "TERMS_F64",
           "TERMS_F32", "SIN_F32", "COS_F32", "SIN_F64", "COS_F64", "QUARTER_TURN_2_30", "QUARTER_TURN_2_50",
           "CENTRAL_NUM", "CENTRAL_DEN", "NEAR_NUM", "NEAR_DEN", "FAR_NUM", "FAR_DEN"]

F32 = np.float32
F64 = np.float64
U32 = np.uint32
U64 = np.uint64
I64 = np.int64

# Cody–Waite splits of ln 2.  LN2_HI has 32 significant bits, so k * LN2_HI is
# exact for |k| < 2**21.  Two low parts are in use, and they differ: changing
# either would change pinned bits.
LN2_HI = 6.93147180369123816490e-01  # fdlibm's ln2_hi, 0x1.62e42feep-1
LN2_LO = 1.90821492927058770002e-10  # fdlibm's ln2_lo: the next 53 bits of ln 2 (_normal_cdf)
LN2_F64_LO = math.log(2) - LN2_HI  # exact: LN2_HI + LN2_F64_LO == float64(ln 2), 21 bits (_mathfuncs)

# Tile layout (README "Stream format"): tiles of TILE_COUNTERS consecutive
# counters; lane j of counter t*TILE_COUNTERS + m is word
# t*WORDS_PER_TILE + j*TILE_COUNTERS + m.
TILE_COUNTERS = 128
WORDS_PER_TILE = 4 * TILE_COUNTERS


def tile_elements(itemsize: int) -> int:
    """Outputs per tile: one word per output of up to 4 bytes, two per 8-byte output."""
    return WORDS_PER_TILE // 2 if itemsize == 8 else WORDS_PER_TILE


# ln v for v = x * 2**-B: x = m * 2**e with m in [sqrt(1/2), sqrt(2)) read off
# the float64 exponent (SQRT2_MANTISSA is sqrt(2)'s mantissa field), then
# ln m = 2 atanh(s), s = (m-1)/(m+1), an odd series in s with the
# coefficients 2/3, 2/5, ..., 2/21 after the leading 2s.  TERMS_* terms are
# summed: 11 for float64 results, 5 when the result is rounded to float32.
SQRT2_MANTISSA = 0x6A09E667F3BCD
MANTISSA_MASK = (1 << 52) - 1
ATANH_SERIES = tuple(F64(2.0 / (2 * j + 1)) for j in range(1, 11))
TERMS_F64 = 11
TERMS_F32 = 5

# sin and cos of phi in (0, pi/4): Taylor coefficients of phi**3, ..., phi**9
# and phi**2, ..., phi**10 (float32), to phi**17 and phi**16 (float64).
# phi comes from an exact integer reduction scaled by a quarter turn / 2**30
# (float32 words) or / 2**50 (float64's 52 bits).
SIN_F32 = tuple(F32((-1) ** j / math.factorial(2 * j + 1)) for j in range(1, 5))
COS_F32 = tuple(F32((-1) ** j / math.factorial(2 * j)) for j in range(1, 6))
SIN_F64 = tuple(F64((-1) ** j / math.factorial(2 * j + 1)) for j in range(1, 9))
COS_F64 = tuple(F64((-1) ** j / math.factorial(2 * j)) for j in range(1, 9))
QUARTER_TURN_2_30 = F64(math.pi / 2 / 2**30)
QUARTER_TURN_2_50 = F64(math.pi / 2 / 2**50)

# Normal quantile: Wichura (1988), "Algorithm AS 241: The percentage points of
# the normal distribution", Applied Statistics 37(3), PPND16: three rational
# approximations of degree 7/7 (relative error ~1e-16), coefficients lowest
# degree first.
CENTRAL_NUM = (3.3871328727963666080e0, 1.3314166789178437745e2, 1.9715909503065514427e3,
               1.3731693765509461125e4, 4.5921953931549871457e4, 6.7265770927008700853e4,
               3.3430575583588128105e4, 2.5090809287301226727e3)
CENTRAL_DEN = (1.0, 4.2313330701600911252e1, 6.8718700749205790830e2, 5.3941960214247511077e3,
               2.1213794301586595867e4, 3.9307895800092710610e4, 2.8729085735721942674e4,
               5.2264952788528545610e3)
NEAR_NUM = (1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0,
            3.64784832476320460504e0, 1.27045825245236838258e0, 2.41780725177450611770e-1,
            2.27238449892691845833e-2, 7.74545014278341407640e-4)
NEAR_DEN = (1.0, 2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
            1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4,
            1.05075007164441684324e-9)
FAR_NUM = (6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0,
           2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
           2.71155556874348757815e-5, 2.01033439929228813265e-7)
FAR_DEN = (1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
           7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7,
           2.04426310338993978564e-15)
