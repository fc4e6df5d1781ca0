"""Philox4x32 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
SC'11), the counter-based generator behind every fastglorot stream.

One round maps a 128-bit counter ``(c0, c1, c2, c3)`` under a 64-bit key
``(k0, k1)`` to::

    hi0:lo0 = 0xD2511F53 * c0          (64-bit products)
    hi1:lo1 = 0xCD9E8D57 * c2
    (c0, c1, c2, c3) <- (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)

and the key is bumped by the Weyl constants ``(0x9E3779B9, 0xBB67AE85)``
between rounds.  Philox4x32-10 applies ten rounds.

One definition of the rounds, :func:`_philox_rounds`, serves both entry
points: :func:`philox4x32`, the public NumPy reference (for tests and for
anyone re-deriving a stream), runs it as plain Python on uint32 arrays, any
round count; ``philox4x32_10``, the scalar jitted form that kernels
inline and LLVM vectorizes (``vpmuludq`` on AVX-512/AVX2), runs the same
source compiled by numba on uint32 scalars with R = 10.  The jitted form is
built on first access (module ``__getattr__``), so importing the reference,
and the NumPy fills built on it, loads no numba.  The round is written
with NumPy scalar-type casts (``np.uint64(x)``, ``np.uint32(x)``), which
convert arrays element-wise in NumPy and are scalar casts in numba, and with
modular uint32 key additions, which NumPy arrays and numba both wrap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Tuple, Union, overload

import numpy as np

import threading

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    _Words = Union[np.uint32, NDArray[np.unsignedinteger[Any]]]
    """uint32 words as :func:`_philox_rounds`' body sees them: the stubs type a
    mixed scalar/array ``^`` as an array of unspecified unsigned width."""

__all__ = ["philox4x32", "MAX_ROUNDS", "PHILOX_M0", "PHILOX_M1", "PHILOX_W0", "PHILOX_W1"]

PHILOX_M0 = 0xD2511F53
PHILOX_M1 = 0xCD9E8D57
PHILOX_W0 = 0x9E3779B9
PHILOX_W1 = 0xBB67AE85
MAX_ROUNDS = 16  # Random123 defines Philox4x32-R for R <= 16

_LOW32 = 0xFFFFFFFF

_M0 = np.uint64(PHILOX_M0)
_M1 = np.uint64(PHILOX_M1)
_W0 = np.uint32(PHILOX_W0)
_W1 = np.uint32(PHILOX_W1)
_SHIFT32 = np.uint64(32)
_MASK32 = np.uint64(_LOW32)


@overload
def _philox_rounds(c0: np.uint32, c1: np.uint32, c2: np.uint32, c3: np.uint32, k0: np.uint32, k1: np.uint32,
                   rounds: int) -> Tuple[np.uint32, np.uint32, np.uint32, np.uint32]: ...


@overload
def _philox_rounds(c0: NDArray[np.uint32], c1: NDArray[np.uint32], c2: NDArray[np.uint32], c3: NDArray[np.uint32],
                   k0: NDArray[np.uint32], k1: NDArray[np.uint32], rounds: int
                   ) -> Tuple[NDArray[np.uint32], NDArray[np.uint32], NDArray[np.uint32], NDArray[np.uint32]]: ...


def _philox_rounds(c0: _Words, c1: _Words, c2: _Words, c3: _Words, k0: _Words, k1: _Words,
                   rounds: int) -> Tuple[_Words, _Words, _Words, _Words]:
    """``rounds`` Philox4x32 rounds on uint32 words: NumPy arrays (plain Python) or numba scalars (jitted).

    The products are formed in 64 bits and split; the key is bumped after
    every round (also after the last one, where it is no longer read).
    """
    for _ in range(rounds):
        p0 = _M0 * np.uint64(c0)
        p1 = _M1 * np.uint64(c2)
        c0, c1, c2, c3 = (
            np.uint32(p1 >> _SHIFT32) ^ c1 ^ k0,
            np.uint32(p1 & _MASK32),
            np.uint32(p0 >> _SHIFT32) ^ c3 ^ k1,
            np.uint32(p0 & _MASK32),
        )
        k0 = np.uint32(k0 + _W0)
        k1 = np.uint32(k1 + _W1)
    return c0, c1, c2, c3


def _as_words(name: str, value: ArrayLike, words: int) -> NDArray[np.uint32]:
    array = np.asarray(value)
    if array.dtype.kind not in "ui":
        raise TypeError(f"{name} must be an integer array, got dtype {array.dtype}")
    if array.ndim == 0 or array.shape[-1] != words:
        raise ValueError(f"{name} must have shape (..., {words}), got {array.shape}")
    if array.size and (array.min() < 0 or array.max() > _LOW32):
        raise ValueError(f"{name} words must lie in [0, 2**32)")
    return array.astype(np.uint32)


def philox4x32(counter: ArrayLike, key: ArrayLike, rounds: int = 10) -> NDArray[np.uint32]:
    """Apply the Philox4x32-R bijection (NumPy reference implementation).

    Parameters
    ----------
    counter : array_like of uint32, shape (..., 4)
        Counter words ``c0, c1, c2, c3``.
    key : array_like of uint32, shape (..., 2)
        Key words ``k0, k1``; broadcast against ``counter``'s leading axes.
    rounds : int, default 10
        Number of rounds R, ``0 <= R <= 16``.  fastglorot streams use R = 10.

    Returns
    -------
    numpy.ndarray of uint32, shape (..., 4)
        The output words ``x0, x1, x2, x3``.

    Notes
    -----
    Each round computes ``hi0:lo0 = M0*c0`` and ``hi1:lo1 = M1*c2`` (full 64-bit
    products, M0 = 0xD2511F53, M1 = 0xCD9E8D57) and sets
    ``(c0, c1, c2, c3) = (hi1^c1^k0, lo1, hi0^c3^k1, lo0)``; the key is then
    bumped by ``(0x9E3779B9, 0xBB67AE85)`` modulo 2**32.

    Examples
    --------
    Random123's first known-answer vector:

    >>> import numpy as np, fastglorot
    >>> [hex(w) for w in fastglorot.philox4x32(np.zeros(4, np.uint32), np.zeros(2, np.uint32))]
    ['0x6627e8d5', '0xe169c58d', '0xbc57ac4c', '0x9b00dbd8']
    """
    rounds = int(rounds)
    if not 0 <= rounds <= MAX_ROUNDS:
        raise ValueError(f"rounds must lie in [0, {MAX_ROUNDS}], got {rounds}")
    ctr = _as_words("counter", counter, 4)
    k = _as_words("key", key, 2)
    shape = np.broadcast_shapes(ctr.shape[:-1], k.shape[:-1])
    # Flat 1-D word arrays even for a single counter: NumPy would turn 0-d
    # results into scalars, whose wrapping uint32 additions warn.
    c0, c1, c2, c3 = (np.broadcast_to(ctr[..., i], shape).reshape(-1) for i in range(4))
    k0, k1 = (np.broadcast_to(k[..., i], shape).reshape(-1) for i in range(2))
    words = _philox_rounds(c0, c1, c2, c3, k0, k1, rounds)
    return np.stack(words, axis=-1).reshape(shape + (4,))


_jitted_rounds: Callable[..., Tuple[np.uint32, np.uint32, np.uint32, np.uint32]]
"""numba's compiled :func:`_philox_rounds`, set with ``philox4x32_10`` by ``__getattr__``."""


def _philox4x32_10(c0: np.uint32, c1: np.uint32, c2: np.uint32, c3: np.uint32, k0: np.uint32, k1: np.uint32
                   ) -> Tuple[np.uint32, np.uint32, np.uint32, np.uint32]:
    """Jitted Philox4x32-10 on uint32 scalars; returns four uint32 words."""
    return _jitted_rounds(c0, c1, c2, c3, k0, k1, 10)  # noqa: F821 (declared above, bound by __getattr__)


if TYPE_CHECKING:
    philox4x32_10 = _philox4x32_10

_jit_lock = threading.Lock()


def __getattr__(name: str) -> Any:
    """``philox4x32_10``: numba's compiled form of the rounds, made (and numba imported) on first access."""
    if name != "philox4x32_10":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with _jit_lock:
        namespace = globals()
        if "philox4x32_10" not in namespace:
            from ._jit import inline

            # The same source, compiled for kernels; _philox4x32_10 reads it as a global.
            namespace["_jitted_rounds"] = inline(_philox_rounds)
            namespace["philox4x32_10"] = inline(_philox4x32_10)
        return namespace["philox4x32_10"]
