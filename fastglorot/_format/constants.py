"""Constants of the stream format shared beyond its element functions, free of numba.

The tile layout (every engine's drivers), the ln 2 splits (``_format.stream_v1``'s
logarithm and ``_format.normal_cdf``'s ``exp``); the series and rational
coefficients live with the element functions that use them (``_format.stream_v1``).

The dtype aliases are what the inlined kernel helpers cast with.  The ln 2
splits serve both logarithms and the plain-Python ``exp`` of ``_format.normal_cdf``;
they are plain Python floats, which numba types as float64 and
``np.float64(...)`` converts without rounding.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["F32", "F64", "U32", "U64", "I64", "LN2_HI", "LN2_LO", "LN2_F64_LO", "TILE_COUNTERS",
           "WORDS_PER_TILE", "tile_elements"]

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
LN2_F64_LO = math.log(2) - LN2_HI  # exact: LN2_HI + LN2_F64_LO == float64(ln 2), 21 bits (_stream_v1)

# Tile layout (README "Stream format"): tiles of TILE_COUNTERS consecutive
# counters; lane j of counter t*TILE_COUNTERS + m is word
# t*WORDS_PER_TILE + j*TILE_COUNTERS + m.
TILE_COUNTERS = 128
WORDS_PER_TILE = 4 * TILE_COUNTERS


def tile_elements(itemsize: int) -> int:
    """Outputs per tile: one word per output of up to 4 bytes, two per 8-byte output."""
    return WORDS_PER_TILE // 2 if itemsize == 8 else WORDS_PER_TILE
