"""Philox4x32 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
SC'11), the counter-based generator behind every fastglorot stream: the
public NumPy reference.

One round maps a 128-bit counter ``(c0, c1, c2, c3)`` under a 64-bit key
``(k0, k1)`` to::

    hi0:lo0 = 0xD2511F53 * c0          (64-bit products)
    hi1:lo1 = 0xCD9E8D57 * c2
    (c0, c1, c2, c3) <- (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)

and the key is bumped by the Weyl constants ``(0x9E3779B9, 0xBB67AE85)``
between rounds.  Philox4x32-10 applies ten rounds.

The rounds are written once, ``_format.stream_v1.philox_rounds``: :func:`philox4x32`
(for tests and for anyone re-deriving a stream) runs them as plain Python on
uint32 arrays, any round count; the kernels of every engine run compiled
copies of the same source (``_engines.numba_elements.philox4x32_10`` on the CPU).
Importing this module loads no numba.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np


if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["philox4x32", "MAX_ROUNDS"]

MAX_ROUNDS = 16  # Random123 defines Philox4x32-R for R <= 16

_LOW32 = 0xFFFFFFFF


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
    # stream_v1 defines every element function and its coefficient tables when imported (about 4 ms, as much as
    # the rest of the format layer): loaded by the first call, so that ``import fastglorot`` stays at NumPy's cost.
    from .stream_v1 import philox_rounds

    words = philox_rounds(c0, c1, c2, c3, k0, k1, rounds)
    return np.stack(words, axis=-1).reshape(shape + (4,))

