"""Where a fill's values come from: which memory fastglorot writes, with which key, stream and block.

A random fill of a torch tensor is checked once (:func:`plan`), then becomes
one call of a fastglorot sampler on a plain tensor (``Target.out``, carrying
that check) with ``seed``, ``stream`` and, for part of
a larger tensor, ``global_shape``/``global_offset`` (README "Sharding and
blocks"), or it is left to torch (``None``), or skipped (:data:`SKIP`, a
tied tensor filled by a module that does not own it, under ``init_module``).

* A tensor :func:`supports` accepts is its own target.
* A ``DTensor`` whose placements are ``Shard(d)``/``Replicate()`` and whose
  local tensor is supported: the local tensor, as the block of the global
  tensor it holds (offsets by torch's own rule for the mesh and placements).
  Every rank computes its block alone, without communication, so
  ``full_tensor()`` equals the single-process fill bit for bit.
* The key and stream: by default a fresh key drawn from the torch generator
  (:func:`draw_seed`) and stream 0; under ``init_module`` the given seed and
  the stream named by the tensor's fully qualified name (an ``Addressing``
  installed for the calling thread).
* The stream format (README "Stream format"): :func:`fill_format`, resolved
  where the user's call reaches the adapter and passed to the sampler.
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Any, List, NamedTuple, Optional, Tuple, Union

import torch

from .._api.buffers import CheckedTensor, _autograd_records
from .._api.stream_format import resolve_stream_format
from .._format.tables import torch_formats
from .._interop import torch_refusal

if TYPE_CHECKING:
    from torch import Generator, Tensor

__all__ = ["Target", "Plan", "SKIP", "Addressing", "supports", "plan", "draw_seed", "local_block", "resolve",
           "addressing", "install_addressing", "fill_format", "enter_block_format", "exit_block_format"]

_TYPES = (torch.Tensor, torch.nn.Parameter)


class Plan(NamedTuple):
    """A tensor fastglorot fills, checked once by :func:`plan` and carried to its fill."""

    out: CheckedTensor
    """The memory written (the tensor itself, or a DTensor's local tensor), marked as checked."""
    global_shape: Optional[Tuple[int, ...]]
    """For a DTensor: the global tensor's shape and the local block's offset in it; else None."""
    global_offset: Optional[Tuple[int, ...]]


class Target(NamedTuple):
    """One fastglorot fill: write ``out`` with ``seed``/``stream``, as a block of ``global_shape`` if given."""

    out: CheckedTensor
    seed: int
    stream: Union[int, str]
    global_shape: Optional[Tuple[int, ...]]
    global_offset: Optional[Tuple[int, ...]]


class _Skip:
    def __repr__(self) -> str:
        return "SKIP"


SKIP = _Skip()
"""A fill that must not write (a tied tensor filled by a module that does not own it)."""


def supports(tensor: object) -> bool:
    """Whether fastglorot fills ``tensor`` itself (DTensors: see :func:`local_block`).

    True for a plain ``torch.Tensor`` or ``torch.nn.Parameter`` (no other
    subclass) that fastglorot's buffer views accept
    (``fastglorot._interop.torch_refusal``: on the CPU, or on a CUDA GPU with
    numba-cuda installed, strided (not nested,
    sparse or quantized), of dtype float32, float64, float16 or bfloat16,
    without conjugate or negative bits, not an inference tensor outside
    ``torch.inference_mode()``, not a tensor inside a ``torch.func``
    transform), with no zero stride on an axis longer than 1
    (elements that alias one another, which torch refuses to fill).
    """
    if type(tensor) not in _TYPES:  # subclasses (DTensor, FakeTensor, ...) have their own semantics
        return False
    assert isinstance(tensor, torch.Tensor)
    if torch_refusal(tensor) is not None:
        return False
    return all(stride != 0 or size <= 1 for stride, size in zip(tensor.stride(), tensor.shape))


def draw_seed(generator: Optional[Generator] = None) -> int:
    """A 64-bit fastglorot key drawn from ``generator`` (default: torch's default CPU generator).

    Two 32-bit words ``w0, w1`` from ``torch.randint(0, 2**32, (2,))``; the
    key is ``w0 + 2**32 * w1``.  Drawing advances the generator, as any
    torch sampling call does.
    """
    words = torch.randint(0, 2**32, (2,), dtype=torch.int64,
                          generator=torch.default_generator if generator is None else generator)
    low, high = (int(w) for w in words.tolist())
    return low | (high << 32)


def _dtensor_type() -> Any:
    """The DTensor class, if ``torch.distributed.tensor`` is loaded.

    Not imported here: a DTensor implies its module is loaded, and the
    import is a startup cost every process would pay at its first fill
    (README "Startup"; ``bench/bench_startup.py``).
    """
    module = sys.modules.get("torch.distributed.tensor")
    return getattr(module, "DTensor", None)


def local_block(tensor: object) -> Optional[Tuple[Tensor, Tuple[int, ...], Tuple[int, ...]]]:
    """``(local tensor, global shape, global offset)`` of a DTensor fastglorot can fill, else None.

    Placements must be ``Shard(dim)`` or ``Replicate()`` on every mesh
    dimension (``Partial`` holds addends, not values; strided shards are not
    rectangular blocks), and the local tensor must be :func:`supports`-ed.
    The offset is torch's ``compute_local_shape_and_global_offset`` for the
    mesh and placements (uneven shards included); a rank holding nothing
    gets an empty block.
    """
    dtensor = _dtensor_type()
    if dtensor is None or not isinstance(tensor, dtensor):
        return None
    from torch.distributed.tensor import Replicate, Shard
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

    if not all(type(p) in (Shard, Replicate) for p in tensor.placements):
        return None
    local = tensor.to_local()
    if not supports(local):  # the one check of a DTensor fill (plan)
        return None
    shape = tuple(tensor.shape)
    local_shape, offset = compute_local_shape_and_global_offset(shape, tensor.device_mesh, tensor.placements)
    if tuple(local.shape) != tuple(local_shape):  # not the layout torch's rule describes: leave it to torch
        return None
    return local, shape, tuple(offset)


class Addressing:
    """Name-addressed keys for the fills of one thread (installed by ``init_module``).

    :meth:`key` returns ``(seed, stream, global_shape, global_offset)`` for
    ``tensor`` (``tensor`` is the memory being written; the block arguments
    place it in a larger named tensor), :data:`SKIP`, or None to use the
    default (generator-drawn) key.
    """

    def key(self, tensor: Tensor) -> Union[Tuple[int, str, Optional[Tuple[int, ...]], Optional[Tuple[int, ...]]],
                                           _Skip, None]:  # pragma: no cover - overridden
        raise NotImplementedError

    def touched(self, tensor: object) -> None:  # pragma: no cover - overridden
        """Note an in-place write of ``tensor`` (any torch op, not only random fills)."""
        raise NotImplementedError


_state = threading.local()


def addressing() -> Optional[Addressing]:
    """The calling thread's installed :class:`Addressing`, if any."""
    current: Optional[Addressing] = getattr(_state, "addressing", None)
    return current


def install_addressing(new: Optional[Addressing]) -> Optional[Addressing]:
    """Install ``new`` for the calling thread; returns the previous one (to restore)."""
    previous = addressing()
    _state.addressing = new
    return previous


# The stream formats of this thread's active fast_init()/enable()/init_module()
# blocks, innermost last: (owner, format or None), owner being the
# FastInitMode.  Kept here rather than read off torch's mode stack because
# torch pops a mode from that stack while its handler runs, and the handler's
# fills must still see the block's format.
def _block_formats() -> List[Tuple[object, Optional[int]]]:
    blocks: Optional[List[Tuple[object, Optional[int]]]] = getattr(_state, "formats", None)
    if blocks is None:
        blocks = _state.formats = []
    return blocks


def enter_block_format(owner: object, stream_format: Optional[int]) -> None:
    """Note that ``owner`` (a ``FastInitMode`` being entered on this thread) fills in ``stream_format``
    (None: it leaves the choice to the enclosing block, else to ``fastglorot.get_stream_format()``)."""
    _block_formats().append((owner, stream_format))


def exit_block_format(owner: object) -> None:
    """Forget ``owner``'s entry (the innermost one it made), when it exits."""
    blocks = _block_formats()
    for index in range(len(blocks) - 1, -1, -1):
        if blocks[index][0] is owner:
            del blocks[index]
            return


def fill_format(stream_format: object = None) -> int:
    """The stream format of a fill the calling thread asks for now: the one check of ``stream_format``.

    ``stream_format`` itself when given (checked: TypeError/ValueError naming
    ``stream_format``); else the format of the innermost ``fast_init``,
    ``enable`` or ``init_module`` block active on this thread that names
    one; else ``fastglorot.get_stream_format()`` (the caller's
    ``with fastglorot.stream_format(n):``, or the default 1).
    """
    if stream_format is not None:
        return resolve_stream_format(stream_format)
    for _, chosen in reversed(_block_formats()):
        if chosen is not None:
            return chosen
    return resolve_stream_format(None)


def plan(tensor: object) -> Optional[Plan]:
    """Whether fastglorot fills ``tensor`` (a :class:`Plan`) or torch does (None): the one check of a fill.

    A plain tensor that :func:`supports` accepts, or a DTensor whose block
    :func:`local_block` finds.  The plan carries the verdict to the fill
    (:func:`resolve`, then the sampler's ``as_output``), which do not check
    the tensor again.
    """
    block = local_block(tensor)
    if block is not None:
        local, shape, offset = block
        return Plan(CheckedTensor(local, torch_formats(torch)[local.dtype]), shape, offset)
    if not supports(tensor):
        return None
    assert isinstance(tensor, torch.Tensor)
    return Plan(CheckedTensor(tensor, torch_formats(torch)[tensor.dtype]), None, None)


def resolve(tensor: Tensor, checked: Plan, generator: Optional[Generator]) -> Union[Target, _Skip, None]:
    """The fill of ``tensor`` (``checked``: its :func:`plan`): a :class:`Target`, :data:`SKIP`, or None for torch.

    Zero-element tensors go to torch (nothing to fill, so no key is drawn).  So
    do fills that autograd records (grad mode on and ``tensor`` requires grad,
    or ``tensor`` carries a forward-mode tangent): torch's own in-place op
    applies autograd's rules exactly (its errors for leaves and views of
    leaves, the replaced ``grad_fn``, zero gradient through the overwritten
    values) before drawing anything.  Initializers never get there: torch's
    and fastglorot's run under ``torch.no_grad()`` (README "torch", "Autograd").
    """
    if _autograd_records(tensor, torch):
        return None
    out, shape, place = checked
    if (0 in shape) if shape is not None else tensor.numel() == 0:
        return None
    names = addressing()
    if names is not None:
        key = names.key(tensor)
        if key is SKIP:
            return SKIP
        assert key is None or isinstance(key, tuple)
        if key is not None:
            seed, stream, named_shape, named_offset = key
            if named_shape is not None:  # a view of a named tensor: its place in that tensor
                shape, place = named_shape, named_offset
            return Target(out, seed, stream, shape, place)
    return Target(out, draw_seed(generator), 0, shape, place)
