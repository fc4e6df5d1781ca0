"""Argument checks shared by the public functions.

Every check runs before any write, so a rejected call leaves the output
untouched.
"""

from __future__ import annotations

import math
import numbers
import operator

import numpy as np

__all__ = [
    "UINT64_LIMIT",
    "INDEX_LIMIT",
    "as_uint64",
    "as_offset",
    "as_count",
    "as_float",
    "describe",
    "key_stream_words",
]

UINT64_LIMIT = 1 << 64
INDEX_LIMIT = 1 << 62
"""``offset + size`` may not exceed 2**62, which keeps every index computation
in the kernels (int64) far from overflow."""


def _as_int(name: str, value: object) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, not a bool")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None


def as_uint64(name: str, value: object) -> int:
    """An integer in [0, 2**64)."""
    number = _as_int(name, value)
    if not 0 <= number < UINT64_LIMIT:
        raise ValueError(f"{name} must lie in [0, 2**64), got {describe(number)}")
    return number


def as_count(name: str, value: object) -> int:
    """A non-negative integer not above 2**62."""
    number = _as_int(name, value)
    if not 0 <= number <= INDEX_LIMIT:
        raise ValueError(f"{name} must lie in [0, 2**62], got {describe(number)}")
    return number


def as_offset(offset: object, size: int) -> int:
    """The global index of the first element: ``offset + size <= 2**62``."""
    number = _as_int("offset", offset)
    if number < 0:
        raise ValueError(f"offset must be non-negative, got {describe(number)}")
    if number + size > INDEX_LIMIT:
        raise ValueError(f"offset + size must not exceed 2**62, got {describe(number)} + {size}")
    return number


def describe(value: object) -> str:
    """``repr(value)``, shortened for integers of hundreds of digits."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:12]}...{text[-6:]} ({len(text)} characters)"


def as_float(name: str, value: numbers.Real) -> float:
    """``float(value)``, finite: a number too large for a float (``10**400``) is a ``ValueError`` too."""
    try:
        number = float(value)
    except OverflowError:
        raise ValueError(f"{name} must be finite, got {describe(value)}, which overflows float64") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {number}")
    return number


def key_stream_words(seed: int, stream: int) -> np.ndarray:
    """Philox key words and the stream's counter words ``[k0, k1, s0, s1]``."""
    low = 0xFFFFFFFF
    return np.array([seed & low, seed >> 32, stream & low, stream >> 32], dtype=np.uint32)
