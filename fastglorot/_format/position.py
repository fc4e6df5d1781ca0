"""Where an output sits in its stream: a flat offset, or a block of a larger tensor.

Every sampler and initializer takes ``offset=`` (the global index of the
output's first element, C order) or ``global_shape=`` / ``global_offset=``
(the output is the rectangular block ``[o0:o0+b0, o1:o1+b1, ...]`` of a
C-order tensor of ``global_shape``).  Both resolve here, before anything is
written, into :class:`Runs`, which the launcher reads.

The two forms are exclusive: a block already says where every element is, and
a flat offset on top of it would have no meaning that a bigger
``global_shape`` does not already express.
"""

from __future__ import annotations

import math
import operator
from typing import Any, Iterable, NamedTuple, Optional, Sequence, SupportsIndex, Tuple, TypeGuard, Union, cast

import numpy as np

from .._validate import INDEX_LIMIT, as_offset

__all__ = ["Shape", "Runs", "flat_runs", "block_runs", "resolve_position", "as_shape", "fan_shape"]

Shape = Union[int, Sequence[int]]


class Runs(NamedTuple):
    """Where an output's elements sit in the global index space of a stream.

    The output's leading ``len(outer_strides)`` axes step the global index
    by ``outer_strides``; its remaining (inner) axes hold consecutive global
    indices in C order.  So element ``(p..., q...)`` (outer, inner) has the
    global index ``base + sum(p * outer_strides) + C-order index of q``.
    A flat ``offset`` is ``Runs(offset, ())``; a block of a larger tensor has
    one outer axis per axis before its run (see :func:`block_runs`).
    """

    base: int
    outer_strides: Tuple[int, ...]


def flat_runs(first: int) -> Runs:
    """Logical C-order element ``i`` at global index ``first + i``."""
    return Runs(first, ())


def block_runs(global_shape: Sequence[int], global_offset: Sequence[int], shape: Sequence[int]) -> Runs:
    """The block of ``shape`` at ``global_offset`` of a C-order tensor of ``global_shape``.

    Trailing axes the block spans whole merge with the axis before them into
    one run, so a block of full rows is one contiguous run.  Arguments are
    assumed checked (:func:`resolve_position`).
    """
    ndim = len(shape)
    strides = [1] * ndim
    for k in range(ndim - 2, -1, -1):
        strides[k] = strides[k + 1] * global_shape[k + 1]
    base = sum(o * g for o, g in zip(global_offset, strides))
    split = ndim - 1
    while split > 0 and shape[split] == global_shape[split]:
        split -= 1
    return Runs(base, tuple(strides[:max(split, 0)]))


def as_shape(name: str, value: Shape) -> Tuple[int, ...]:
    """A tuple of non-negative ints from an int or a sequence of ints (``torch.Size`` too).

    Raises
    ------
    TypeError
        For anything that is not an integer or a sequence of integers
        (``4.0``, ``"4"``, ``None``, bools).
    ValueError
        For a negative dimension.
    """
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be an int or a sequence of ints, got {type(value).__name__}")
    # A scalar that _is_int rejects (True, 4.0) is no iterable either: tuple() raises TypeError.
    items: Iterable[object] = (value,) if _is_int(value) else cast("Iterable[object]", value)
    try:
        items = tuple(items)
    except TypeError:
        raise TypeError(f"{name} must be an int or a sequence of ints, got {type(value).__name__}") from None
    dims = []
    for axis, item in enumerate(items):
        if not _is_int(item):
            raise TypeError(f"{name}[{axis}] must be an integer, got {item!r} ({type(item).__name__})")
        dims.append(operator.index(item))
    for axis, dim in enumerate(dims):
        if dim < 0:
            raise ValueError(f"{name}[{axis}] must be non-negative, got {dim} in {name}={tuple(dims)}")
    return tuple(dims)


def _is_int(value: Any) -> TypeGuard[SupportsIndex]:
    if isinstance(value, (bool, np.bool_)):
        return False
    try:
        operator.index(value)
    except TypeError:
        return False
    return True


def resolve_position(shape: Tuple[int, ...], offset: SupportsIndex, global_shape: Optional[Shape],
                     global_offset: Optional[Shape]) -> Runs:
    """The global index of every element of an output of ``shape``.

    Parameters
    ----------
    shape : tuple of int
        The output's shape.
    offset : int
        Flat global index of the output's first element (C order).
    global_shape, global_offset : int or sequence of int, optional
        The output is the block of ``shape`` at ``global_offset`` (default:
        the origin) of a tensor of ``global_shape``.

    Returns
    -------
    Runs

    Raises
    ------
    TypeError
        Non-integer shapes or offsets.
    ValueError
        ``global_offset`` without ``global_shape``; ``offset`` combined with
        ``global_shape``; lengths that differ from ``len(shape)``; negative
        offsets; a block running past ``global_shape``; more than ``2**62``
        elements.
    """
    size = math.prod(shape)
    if global_shape is None:
        if global_offset is not None:
            raise ValueError("global_offset needs global_shape (the shape of the whole tensor the block belongs to)")
        return flat_runs(as_offset(offset, size))
    whole = as_shape("global_shape", global_shape)
    if len(whole) != len(shape):
        raise ValueError(f"global_shape {whole} has {len(whole)} dimensions, but out has {len(shape)} "
                         f"(shape {shape}): a block has the rank of the tensor it is cut from")
    if isinstance(offset, bool) or not _is_int(offset) or operator.index(offset) != 0:
        raise ValueError(f"offset={offset!r} cannot be combined with global_shape: a block's position is "
                         "global_offset=(o0, o1, ...); a flat offset is for outputs without global_shape")
    start = (0,) * len(shape) if global_offset is None else as_shape("global_offset", global_offset)
    if len(start) != len(shape):
        raise ValueError(f"global_offset {start} has {len(start)} entries, but out has {len(shape)} dimensions")
    for axis, (o, b, g) in enumerate(zip(start, shape, whole)):
        if o + b > g:
            raise ValueError(f"the block runs past global_shape on axis {axis}: global_offset[{axis}] + "
                             f"shape[{axis}] = {o} + {b} > {g} (global_shape {whole}, block shape {shape})")
    total = math.prod(whole)
    if total > INDEX_LIMIT:
        raise ValueError(f"global_shape {whole} has {total} elements, more than 2**62")
    return block_runs(whole, start, shape)


def fan_shape(shape: Tuple[int, ...], global_shape: Optional[Shape]) -> Tuple[int, ...]:
    """The shape fans are read from: the whole tensor's, not the block's."""
    return shape if global_shape is None else as_shape("global_shape", global_shape)
