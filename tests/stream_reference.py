"""An independent re-derivation of the stream format from README "Stream format".

Built only from the public ``fastglorot.philox4x32`` and the documented
conversions, in NumPy, so the jitted kernels can be checked against it.
"""

from __future__ import annotations

import numpy as np

import fastglorot

TILE_COUNTERS = 128
WORDS_PER_TILE = 512


def counter_words(block: np.ndarray, stream: int) -> np.ndarray:
    block = np.asarray(block, dtype=np.uint64)
    out = np.empty(block.shape + (4,), dtype=np.uint64)
    out[..., 0] = block & 0xFFFFFFFF
    out[..., 1] = block >> np.uint64(32)
    out[..., 2] = stream & 0xFFFFFFFF
    out[..., 3] = stream >> 32
    return out


def key_words(seed: int) -> np.ndarray:
    return np.array([seed & 0xFFFFFFFF, seed >> 32], dtype=np.uint64)


def lanes(block: np.ndarray, seed: int, stream: int) -> np.ndarray:
    """All four Philox output words of each block (counter) index: shape (..., 4)."""
    return fastglorot.philox4x32(counter_words(block, stream), key_words(seed)).astype(np.uint64)


def split_index(index, tile_elements: int):
    """(block of counter, sub-block) of global index in a tile of ``tile_elements``."""
    index = np.asarray(index, dtype=np.uint64)
    tile, r = np.divmod(index, np.uint64(tile_elements))
    sub, m = np.divmod(r, np.uint64(TILE_COUNTERS))
    return tile * np.uint64(TILE_COUNTERS) + m, sub.astype(np.int64)


def words(index, seed: int, stream: int) -> np.ndarray:
    """Raw stream word ``index``: lane ``sub`` of block ``128 t + m``."""
    block, lane = split_index(index, WORDS_PER_TILE)
    return np.take_along_axis(lanes(block, seed, stream), lane[..., None], axis=-1)[..., 0]


def uniform_float32(index, seed, stream, mid, scale, clamp_low, clamp_high) -> np.ndarray:
    f32 = np.float32
    k = words(index, seed, stream) >> np.uint64(8)
    odd = (2 * k.astype(np.int64) + 1 - (1 << 24)).astype(np.float32)  # exact
    value = f32(mid) + f32(scale) * odd  # float32 arithmetic, one rounding per op
    return np.minimum(np.maximum(value, f32(clamp_low)), f32(clamp_high))


def _float64_pairs(index, seed, stream, shift_low):
    """For float64 element ``index``: (high-lane word, low-lane word) of its counter."""
    block, half = split_index(index, WORDS_PER_TILE // 2)
    all_lanes = lanes(block, seed, stream)
    high = np.take_along_axis(all_lanes, (2 * half)[..., None], axis=-1)[..., 0]
    low = np.take_along_axis(all_lanes, (2 * half + 1)[..., None], axis=-1)[..., 0]
    return (high << np.uint64(32 - shift_low)) | (low >> np.uint64(shift_low))


def uniform_float64(index, seed, stream, mid, scale, clamp_low, clamp_high) -> np.ndarray:
    k53 = _float64_pairs(index, seed, stream, 11)
    odd = (2 * k53.astype(np.int64) + 1 - (1 << 53)).astype(np.float64)  # exact
    value = np.float64(mid) + np.float64(scale) * odd
    return np.minimum(np.maximum(value, clamp_low), clamp_high)


def sincos_turns(k, bits: int):
    """Accurate float64 (sin, cos) of 2 pi (k + 1/2) / 2**bits (exact quadrant reduction)."""
    u = (np.asarray(k, dtype=np.float64) + 0.5) / 2.0**bits
    quadrant = np.round(4 * u)
    theta = 2 * np.pi * (u - quadrant / 4)  # |theta| <= pi/4, reduction exact
    q = quadrant.astype(np.int64) % 4
    s, c = np.sin(theta), np.cos(theta)
    return np.choose(q, [s, c, -s, -c]), np.choose(q, [c, -s, -c, s])


def normal_float32_exact(index, seed, stream) -> np.ndarray:
    """float64 Box–Muller of the float32 stream's uniforms (the accuracy reference)."""
    block, lane = split_index(index, WORDS_PER_TILE)
    all_lanes = lanes(block, seed, stream)
    pair = lane // 2
    radius_word = np.take_along_axis(all_lanes, (2 * pair)[..., None], axis=-1)[..., 0]
    angle_word = np.take_along_axis(all_lanes, (2 * pair + 1)[..., None], axis=-1)[..., 0]
    u1 = (radius_word.astype(np.float64) + 0.5) / 2.0**32
    sin, cos = sincos_turns(angle_word, 32)
    return np.sqrt(-2 * np.log(u1)) * np.where(lane % 2 == 0, cos, sin)


def normal_float64_exact(index, seed, stream) -> np.ndarray:
    block, half = split_index(index, WORDS_PER_TILE // 2)
    all_lanes = lanes(block, seed, stream)
    radius_bits = (all_lanes[..., 0] << np.uint64(20)) | (all_lanes[..., 1] >> np.uint64(12))
    angle_bits = (all_lanes[..., 2] << np.uint64(20)) | (all_lanes[..., 3] >> np.uint64(12))
    u1 = (radius_bits.astype(np.float64) + 0.5) / 2.0**52
    sin, cos = sincos_turns(angle_bits, 52)
    return np.sqrt(-2 * np.log(u1)) * np.where(half == 0, cos, sin)


def ulp_distance(actual: np.ndarray, exact: np.ndarray, dtype) -> np.ndarray:
    """|actual - exact| in units of the ``dtype`` spacing at ``exact``."""
    spacing = np.spacing(np.abs(exact).astype(dtype)).astype(np.float64)
    return np.abs(actual.astype(np.float64) - exact) / spacing


def truncated_uniforms(index, seed, stream, dtype) -> np.ndarray:
    """The uniform v = (k + 1/2) / 2**B behind truncated-normal element ``index``.

    float32: k is the element's word (B = 32); float64: 52 bits from the
    element's two lanes, as for float64 uniforms.
    """
    if np.dtype(dtype) == np.float32:
        return (words(index, seed, stream).astype(np.float64) + 0.5) / 2.0**32
    k52 = _float64_pairs(index, seed, stream, 12)
    return (k52.astype(np.float64) + 0.5) / 2.0**52
