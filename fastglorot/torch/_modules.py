"""Name-addressed model initialization: ``init_module`` and ``materialize``.

Each random fill of a parameter or buffer draws from ``(seed, stream_id(prefix
+ name))``, where ``name`` is the tensor's fully qualified name in the module
(``"layers.3.attn.q_proj.weight"``).  A tensor's values then depend only on
the seed, its name, its shape and the init that fills it: not on the order
in which modules were created or initialized, on other modules, on the rank
that holds it or on how it is sharded (README "Sharded and deferred
initialization").

How a fill finds its name: by memory.  Every parameter and buffer is
recorded with its storage, offset, shape and strides before the inits run;
a fill of that memory (the parameter itself, its ``.data``, a ``DTensor`` or
its local shard) is the named tensor, and a rectangular sub-block of it
(``weight[:, :64]``, a view with the same strides) is filled as that block
of the named tensor.  Other views get the stream ``name@offset:shape:stride``.
Fills of memory that belongs to no named tensor (temporaries, such as the
rejection buffers of ``torch.nn.init.trunc_normal_``) get the stream
``module#k``: the k-th such fill while initializing ``module``.

The stream format (README "Stream format") is one per call: resolved where
the user calls ``init_module``/``materialize`` (``stream_format=``, else the
current one) and used by every fill the call runs, recorded in the report.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional, Set, Tuple, Union

import torch

from .._format.seeding import resolve_seed
from ._switch import FastInitMode
from ._targets import SKIP, Addressing, _Skip, fill_format, install_addressing, local_block

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["InitReport", "init_module", "materialize"]

_Key = Tuple[int, str, Optional[Tuple[int, ...]], Optional[Tuple[int, ...]]]


@dataclasses.dataclass
class InitReport:
    """What :func:`init_module` did.

    Attributes
    ----------
    seed : int
        The key used (drawn from OS entropy when ``seed=None`` was passed:
        pass it back to reproduce the model).
    initialized : list of str
        Parameters and buffers some init wrote (randomly or not), by name.
    untouched : list of str
        Parameters and buffers no init wrote: they keep whatever memory they
        held (uninitialized after ``materialize``).  Also reported in a
        ``UserWarning``.
    tied : dict of str to list of str
        Tensors registered under several names: the name that addresses the
        stream (the first in ``named_parameters()`` order) to its other names.
    modules_without_init : list of str
        Modules holding parameters or buffers of their own for which neither
        ``init_fn`` nor a ``reset_parameters``/``_reset_parameters`` method
        ran.
    stream_format : int
        The stream format every fill used (1 or 2; the current one when
        ``stream_format=None`` was passed: pass it back, with ``seed``, to
        reproduce the model).
    """

    seed: int
    initialized: List[str]
    untouched: List[str]
    tied: Dict[str, List[str]]
    modules_without_init: List[str]
    stream_format: int


@dataclasses.dataclass
class _Entry:
    name: str
    owner: str  # fully qualified name of the module that registers it first
    offset: int
    shape: Tuple[int, ...]
    stride: Tuple[int, ...]


def _memory(tensor: Tensor) -> Optional[Tuple[int, int, Tuple[int, ...], Tuple[int, ...]]]:
    """(storage address, offset, shape, strides) of the memory a fill of ``tensor`` writes, if it has any."""
    block = local_block(tensor)
    local = block[0] if block is not None else tensor
    if type(local) not in (torch.Tensor, torch.nn.Parameter) or local.device.type == "meta" or local.is_sparse:
        return None
    try:
        address = local.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):  # no storage of its own
        return None
    return address, int(local.storage_offset()), tuple(local.shape), tuple(local.stride())


def _sub_block(entry: _Entry, offset: int, shape: Tuple[int, ...],
               stride: Tuple[int, ...]) -> Optional[Tuple[int, ...]]:
    """Where a view ``(offset, shape, stride)`` sits in ``entry`` as a rectangular block, or None."""
    if len(shape) != len(entry.shape) or stride != entry.stride:
        return None
    remainder = offset - entry.offset
    if remainder < 0:
        return None
    position = []
    # Peel the offset off the axes, largest stride first.
    for axis in sorted(range(len(stride)), key=lambda a: -stride[a]):
        step = stride[axis]
        index = remainder // step if step else 0
        remainder -= index * step
        position.append((axis, index))
    if remainder:
        return None
    offsets = [0] * len(shape)
    for axis, index in position:
        offsets[axis] = index
    if any(o + s > g for o, s, g in zip(offsets, shape, entry.shape)):
        return None
    return tuple(offsets)


def _named_tensors(module: torch.nn.Module) -> Iterator[Tuple[str, str, Tensor]]:
    """(module name, fully qualified name, tensor) of every parameter and buffer, tied ones under each name.

    In ``named_parameters()`` order (modules pre-order, parameters before
    buffers within a module), so a tied tensor's first name is torch's.
    """
    for module_name, submodule in module.named_modules():
        for kind in ("_parameters", "_buffers"):
            for local_name, tensor in getattr(submodule, kind).items():
                if tensor is not None:
                    yield module_name, f"{module_name}.{local_name}" if module_name else local_name, tensor


class _Names(Addressing):
    """The name-addressed keys of one :func:`init_module` call."""

    def __init__(self, module: torch.nn.Module, seed: int, prefix: str) -> None:
        self.seed = seed
        self.prefix = prefix
        self.by_address: Dict[int, List[_Entry]] = {}
        self.names: List[str] = []
        self.aliases: Dict[str, List[str]] = {}
        self.objects: Dict[str, Tensor] = {}
        self.touched_names: Set[str] = set()
        self.current = ""
        self.unnamed: Dict[str, int] = {}
        first_name: Dict[int, str] = {}
        for module_name, name, tensor in _named_tensors(module):
            if id(tensor) in first_name:  # tied: addressed by its first name
                self.aliases[first_name[id(tensor)]].append(name)
                continue
            first_name[id(tensor)] = name
            self.aliases[name] = []
            self.names.append(name)
            self.objects[name] = tensor
            memory = _memory(tensor)
            if memory is not None:
                address, offset, shape, stride = memory
                self.by_address.setdefault(address, []).append(_Entry(name, module_name, offset, shape, stride))

    def _find(self, tensor: Tensor) -> Tuple[Optional[_Entry], Optional[Tuple[int, ...]], str]:
        """(entry, block offset or None for the whole tensor, stream name) of the memory ``tensor`` writes."""
        memory = _memory(tensor)
        if memory is None:
            return None, None, ""
        address, offset, shape, stride = memory
        for entry in self.by_address.get(address, []):
            if (entry.offset, entry.shape, entry.stride) == (offset, shape, stride):
                return entry, None, entry.name
        for entry in self.by_address.get(address, []):
            place = _sub_block(entry, offset, shape, stride)
            if place is not None:
                return entry, place, entry.name
        for entry in self.by_address.get(address, []):  # some other view of a named tensor's storage
            return entry, None, f"{entry.name}@{offset}:{shape}:{stride}"
        return None, None, ""

    def key(self, tensor: Tensor) -> Union[_Key, _Skip, None]:
        entry, place, stream = self._find(tensor)
        if entry is None:
            count = self.unnamed.get(self.current, 0)
            self.unnamed[self.current] = count + 1
            return self.seed, f"{self.prefix}{self.current}#{count}", None, None
        if self.aliases[entry.name] and entry.owner != self.current:
            return SKIP  # a tied tensor: only the module that registers it first fills it
        if place is not None:
            return self.seed, self.prefix + stream, entry.shape, place
        return self.seed, self.prefix + stream, None, None

    def touched(self, tensor: object) -> None:
        if isinstance(tensor, torch.Tensor):
            entry, _, _ = self._find(tensor)
            if entry is not None:
                self.touched_names.add(entry.name)


def _post_order(module: torch.nn.Module, name: str = "",
                seen: Optional[Set[int]] = None) -> Iterator[Tuple[str, torch.nn.Module]]:
    """Submodules children first, as their constructors run (and as ``Module.apply`` visits them)."""
    seen = set() if seen is None else seen
    if id(module) in seen:
        return
    seen.add(id(module))
    for child_name, child in module.named_children():
        yield from _post_order(child, f"{name}.{child_name}" if name else child_name, seen)
    yield name, module


def _own_init(module: torch.nn.Module) -> Optional[Callable[[], Any]]:
    for method in ("reset_parameters", "_reset_parameters"):
        function = getattr(module, method, None)
        if callable(function):
            return function  # type: ignore[no-any-return]
    return None


def init_module(module: torch.nn.Module, seed: Optional[int] = None, *,
                init_fn: Optional[Callable[[torch.nn.Module], Any]] = None, prefix: str = "",
                stream_format: Optional[int] = None) -> InitReport:
    """Re-initialize every parameter and buffer of ``module`` from name-addressed fastglorot streams.

    Runs, for each submodule, children before parents (as their
    constructors do), ``init_fn(submodule)`` if given (e.g. a Hugging Face
    model's ``_init_weights``), else the submodule's own
    ``reset_parameters()`` (or ``_reset_parameters()``, as
    ``nn.MultiheadAttention`` names it), with fastglorot as torch's init
    backend (:func:`fast_init`), where every random fill of a tensor named
    ``name`` draws from ``(seed, stream_id(prefix + name))``.

    Parameters
    ----------
    module : torch.nn.Module
        Initialized in place.  Its parameters may be CPU tensors, CUDA
        tensors where numba-cuda is installed (filled on their GPU, same
        bits), ``DTensor`` shards (``fully_shard``, ``distribute_tensor``:
        each rank fills its block of the global tensor, no communication),
        or on other devices (torch's own fill, unaddressed).
    seed : int or None, default None
        Philox key in ``[0, 2**64)``; ``None`` draws one from OS entropy
        (returned in the report).
    init_fn : callable, optional
        Called on every submodule instead of its ``reset_parameters``.
    prefix : str, default ""
        Prepended to every name: the name of ``module`` inside a larger model,
        so that initializing a submodule alone gives the values the whole
        model's init gives it.
    stream_format : {1, 2} or None
        The stream format of every fill (README "Stream format"), checked
        before anything is written.  None: the current one, read once, here
        (an enclosing ``fast_init(stream_format=n)``'s, else
        ``fastglorot.get_stream_format()``, so ``with
        fastglorot.stream_format(2):`` around the call applies).  It then
        holds for the whole call, over any ``fastglorot.stream_format``
        inside the inits (but not over an explicit ``stream_format=`` of a
        ``fastglorot.torch`` call in ``init_fn``).

    Returns
    -------
    InitReport
        What was initialized, what no init touched (also warned about, by
        name), which tensors are tied, the seed and stream format used.

    Notes
    -----
    * The value of a tensor depends only on ``(seed, prefix + name, shape,
      its init, stream_format)``.  ``generator=`` arguments and torch's
      generator state do not enter.
    * Tied tensors (one tensor registered under several names, e.g. tied
      embeddings) are addressed by their first name in
      ``named_parameters()`` order and filled only by the inits of the
      module that registers them under that name; random fills of them by
      other modules' inits are skipped.
    * Fills torch performs itself (tensors fastglorot does not fill, see
      :func:`supports`) keep torch's semantics and generator.
    """
    _check_arguments("init_module", module, init_fn)
    resolved = resolve_seed(seed)  # the library's seed rule: checked, or drawn from OS entropy
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str, got {type(prefix).__name__}")
    chosen = fill_format(stream_format)  # once, where the user calls: every fill below uses it
    names = _Names(module, resolved, prefix)
    without_init = []
    previous = install_addressing(names)
    try:
        with torch.no_grad(), FastInitMode(stream_format=chosen):
            for module_name, submodule in _post_order(module):
                names.current = module_name
                if init_fn is not None:
                    init_fn(submodule)
                    continue
                own = _own_init(submodule)
                if own is not None:
                    own()
                elif any(t is not None for t in (*submodule._parameters.values(), *submodule._buffers.values())):
                    without_init.append(module_name)
    finally:
        install_addressing(previous)
    for name, tensor in names.objects.items():  # an init that re-created its tensor has written it
        owner, _, local_name = name.rpartition(".")
        current = module.get_submodule(owner)
        if getattr(current, local_name, tensor) is not tensor:
            names.touched_names.add(name)
    untouched = [n for n in names.names if n not in names.touched_names]
    if untouched:
        warnings.warn(f"fastglorot.torch.init_module: no init wrote {len(untouched)} tensor(s), which keep the "
                      f"memory they held: {', '.join(untouched)}", UserWarning, stacklevel=2)
    return InitReport(seed=resolved, initialized=[n for n in names.names if n in names.touched_names],
                      untouched=untouched, tied={k: v for k, v in names.aliases.items() if v},
                      modules_without_init=without_init, stream_format=chosen)


def materialize(module: torch.nn.Module, seed: Optional[int] = None, *, device: Union[str, torch.device] = "cpu",
                init_fn: Optional[Callable[[torch.nn.Module], Any]] = None, prefix: str = "",
                stream_format: Optional[int] = None) -> torch.nn.Module:
    """Give a model built on the ``meta`` device real storage, then :func:`init_module` values.

    Like ``module.to_empty(device=device)``, allocates every parameter and buffer
    (each once: peak memory is the model's size plus a small constant),
    then :func:`init_module` fills them in place.  The result equals,
    tensor by tensor, building the model on ``device`` and calling
    :func:`init_module` with the same arguments.  Works on models sharded
    with FSDP2 ``fully_shard`` on meta (each rank allocates and fills its
    shards).

    Non-persistent buffers that a module computes in ``__init__`` (rotary
    ``inv_freq``) hold garbage after ``to_empty``: they are recomputed only
    where an init does it (``init_fn=model._init_weights`` does for Hugging
    Face models); the others are named in the warning and in
    :func:`init_module`'s report.

    ``seed`` and ``stream_format`` are checked (and ``stream_format=None``
    resolved to the current format, as :func:`init_module` does) before any
    storage is allocated.

    Returns
    -------
    torch.nn.Module
        ``module`` itself.
    """
    _check_arguments("materialize", module, init_fn)
    seed = resolve_seed(seed)  # a bad seed fails before any storage is allocated
    chosen = fill_format(stream_format)  # so does a bad format; and None is read here, where the user calls
    ties = _ties(module)
    _to_empty(module, torch.device(device))
    # to_empty gives each name its own new tensor when the device changes
    # (meta storage cannot be swapped in place), which unties shared weights:
    # tie them again, as they were, before anything is filled.
    for name, aliases in ties.items():
        kind, tensor = _registered(module, name)
        for alias in aliases:
            owner, _, local_name = alias.rpartition(".")
            getattr(module.get_submodule(owner), kind)[local_name] = tensor
    init_module(module, seed, init_fn=init_fn, prefix=prefix, stream_format=chosen)
    return module


def _check_arguments(function: str, module: object, init_fn: object) -> None:
    """TypeError, in the caller's terms, for a ``module`` that is not an ``nn.Module`` or an uncallable ``init_fn``."""
    if not isinstance(module, torch.nn.Module):
        hint = (" (to fill a tensor, call an initializer on it: fastglorot.torch.xavier_uniform_(tensor), "
                "fastglorot.torch.normal_(tensor, ...))" if isinstance(module, torch.Tensor) else "")
        kind = type(module)
        name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
        raise TypeError(f"fastglorot.torch.{function}() expects a torch.nn.Module, got {name}{hint}")
    if init_fn is not None and not callable(init_fn):
        raise TypeError(f"fastglorot.torch.{function}(): init_fn must be callable (called with each submodule), "
                        f"got {type(init_fn).__name__}")


def _to_empty(module: torch.nn.Module, device: torch.device) -> None:
    """``module.to_empty(device=device)``, without torch's meta-tensor reference path for plain tensors.

    Why: ``to_empty``'s ``torch.empty_like`` of a meta tensor imports sympy
    on first use, a startup cost (README "Startup"; ``bench/bench_startup.py``).
    Plain tensors and parameters get ``torch.empty_strided`` with their own
    sizes and strides; any other tensor type (DTensor shards of FSDP2,
    subclasses) keeps ``empty_like``.
    """
    plain = (torch.Tensor, torch.nn.Parameter)

    def allocate(tensor: Tensor) -> Tensor:
        if type(tensor) in plain:
            return torch.empty_strided(tensor.size(), tensor.stride(), dtype=tensor.dtype, device=device)
        return torch.empty_like(tensor, device=device)

    module._apply(allocate)  # type: ignore[no-untyped-call]  # what to_empty itself calls


def _registered(module: torch.nn.Module, name: str) -> Tuple[str, Tensor]:
    """(``"_parameters"`` or ``"_buffers"``, tensor) registered under ``name``."""
    owner, _, local_name = name.rpartition(".")
    submodule = module.get_submodule(owner)
    kind = "_parameters" if local_name in submodule._parameters else "_buffers"
    tensor: Tensor = getattr(submodule, kind)[local_name]
    return kind, tensor


def _ties(module: torch.nn.Module) -> Dict[str, List[str]]:
    """Tensors registered under several names: first name (``named_parameters()`` order) -> the others."""
    first: Dict[int, str] = {}
    ties: Dict[str, List[str]] = {}
    for _, name, tensor in _named_tensors(module):
        if id(tensor) in first:
            ties.setdefault(first[id(tensor)], []).append(name)
        else:
            first[id(tensor)] = name
    return ties
