"""The switch: ``fast_init()``, ``enable()``/``disable()``, and the ``TorchFunctionMode`` behind them."""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Callable, ContextManager, Dict, Iterator, List, Optional, Tuple

import torch
from torch.overrides import TorchFunctionMode

from .._api.stream_format import resolve_stream_format
from ._nn_init import _fill_normal, _fill_uniform, kaiming_uniform_, normal_, uniform_
from ._targets import plan
from ._targets import Addressing, addressing, enter_block_format, exit_block_format, fill_format

__all__ = ["FastInitMode", "fast_init", "enable", "disable", "is_enabled"]

# Mechanism: a TorchFunctionMode.  Monkeypatching torch.nn.init would miss
# the references other libraries captured before the switch (transformers
# keeps its own table of torch.nn.init functions), and patching
# torch.Tensor.uniform_/normal_ would change them for every thread of the
# process, and stay changed if anything failed in between.  A mode sees every
# ``Tensor.uniform_``/``normal_`` call (which all of torch.nn.init's random
# initializers end in, wherever they were imported from) and the
# torch.nn.init functions that dispatch through ``__torch_function__``; torch
# keeps the mode stack per thread, restores it on exit even after an
# exception, and nests modes by design.  Other threads keep torch's own
# init.  While the mode is on, every other torch call pays torch's own cost
# of calling a Python mode (README "torch" gives the measured figure).

Handler = Callable[[Callable[..., Any], Tuple[Any, ...], Dict[str, Any]], Any]


def _bind(args: Tuple[Any, ...], kwargs: Dict[str, Any], names: Tuple[str, str],
          defaults: Tuple[float, float]) -> Optional[Tuple[Any, Any, Any]]:
    """``(first, second, generator)`` of a ``Tensor.uniform_``/``normal_`` call, or None if unusual."""
    if len(args) > 2 or any(k not in names + ("generator",) for k in kwargs):
        return None
    if any(name in kwargs for name in names[:len(args)]):  # given twice: torch raises
        return None
    missing = zip(names[len(args):], defaults[len(args):])
    values = list(args) + [kwargs.get(name, default) for name, default in missing]
    return values[0], values[1], kwargs.get("generator")


def _tensor_uniform(func: Callable[..., Any], args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
    bound = _bind(args[1:], kwargs, ("from", "to"), (0.0, 1.0)) if args else None
    if bound is None:  # let torch report whatever is unusual about the call
        return func(*args, **kwargs)
    # The format: the innermost block's (this mode's, if it names one), else the caller's current one, read
    # now, in the thread whose model code made the call.
    return _fill_uniform(args[0], *bound, plan(args[0]), fill_format())


def _tensor_normal(func: Callable[..., Any], args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
    bound = _bind(args[1:], kwargs, ("mean", "std"), (0.0, 1.0)) if args else None
    if bound is None:
        return func(*args, **kwargs)
    return _fill_normal(args[0], *bound, plan(args[0]), fill_format())


def _calling(ours: Callable[..., Any]) -> Handler:
    """Handler for a torch.nn.init function that dispatches to modes: run ours instead."""
    return lambda func, args, kwargs: ours(*args, **kwargs)


_HANDLERS: Dict[Any, Handler] = {
    torch.Tensor.uniform_: _tensor_uniform,
    torch.Tensor.normal_: _tensor_normal,
    # These three call handle_torch_function when a mode is on, so the mode
    # sees them whole; the others (xavier_*, kaiming_normal_, trunc_normal_)
    # reach the mode through their Tensor.uniform_/normal_ calls.
    torch.nn.init.uniform_: _calling(uniform_),
    torch.nn.init.normal_: _calling(normal_),
    torch.nn.init.kaiming_uniform_: _calling(kaiming_uniform_),
}

# torch.nn.init's dispatching functions hand a mode the function bound to
# their *module global* name.  While another library has replaced that
# global with a wrapper (transformers' post_init swaps in wrappers that skip
# tensors it marked as loaded), the mode receives the wrapper.  It must run
# (its checks decide whether to fill), but inside a handler torch has the
# mode off, so the wrapper's own call of torch's function would fill with
# torch.  So the wrapper runs under a fresh mode, and when torch's function
# inside it dispatches the wrapper back to us, we fill.
_PATCHABLE: Dict[str, Callable[..., Any]] = {"uniform_": uniform_, "normal_": normal_,
                                             "kaiming_uniform_": kaiming_uniform_}
_inside = threading.local()


def _patched_init_function(func: Any) -> Optional[Handler]:
    """A handler if ``func`` is what ``torch.nn.init`` currently binds to one of its dispatching names."""
    name = getattr(func, "__name__", None)
    if name not in _PATCHABLE or getattr(torch.nn.init, name, None) is not func:
        return None
    ours = _PATCHABLE[name]

    def handle(func: Callable[..., Any], args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
        if getattr(_inside, "wrapper", None) is func:  # dispatched back from inside the wrapper: fill
            return ours(*args, **kwargs)
        outer = getattr(_inside, "wrapper", None)
        _inside.wrapper = func
        try:
            with FastInitMode():
                return func(*args, **kwargs)
        finally:
            _inside.wrapper = outer

    return handle


def _note_write(names: Addressing, func: Any, args: Tuple[Any, ...], kwargs: Optional[Dict[str, Any]]) -> None:
    """Tell ``names`` which tensor a torch call writes: in-place methods, item assignment, ``out=``."""
    name = getattr(func, "__name__", "")
    if name == "__setitem__" or (name.endswith("_") and not name.startswith("_")):
        # torch.nn.init functions dispatch to modes with the tensor as keyword
        names.touched(args[0] if args else (kwargs or {}).get("tensor"))
    if kwargs and kwargs.get("out") is not None:
        names.touched(kwargs["out"])


class FastInitMode(TorchFunctionMode):
    """The ``TorchFunctionMode`` behind :func:`fast_init` (one instance per activation).

    Random fills go to fastglorot (by the fallback rule); every other torch
    call passes through unchanged.  torch disables a mode while its handler
    runs, so the torch calls made here go straight to torch.

    Parameters
    ----------
    stream_format : {1, 2} or None, keyword-only
        The stream format of every fastglorot fill while the mode is active
        on this thread (the fills it takes over from torch, and
        ``fastglorot.torch``'s own initializers called without
        ``stream_format``); None leaves it to an enclosing mode that names
        one, else to ``fastglorot.get_stream_format()`` at each fill.
    """

    def __init__(self, *, stream_format: Optional[int] = None) -> None:
        super().__init__()
        self.stream_format = None if stream_format is None else resolve_stream_format(stream_format)

    def __enter__(self) -> "FastInitMode":
        super().__enter__()  # type: ignore[no-untyped-call]
        enter_block_format(self, self.stream_format)
        return self

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        exit_block_format(self)
        super().__exit__(exc_type, exc_value, traceback)  # type: ignore[no-untyped-call]

    def __torch_function__(self, func: Any, types: Any, args: Tuple[Any, ...] = (),
                           kwargs: Optional[Dict[str, Any]] = None) -> Any:
        try:
            handler = _HANDLERS.get(func)
        except TypeError:  # an unhashable callable: not one of ours
            handler = None
        if handler is None:
            handler = _patched_init_function(func)
            if handler is None:
                names = addressing()
                if names is not None:  # init_module: note which named tensors an init writes
                    _note_write(names, func, args, kwargs)
                return func(*args, **(kwargs or {}))
        return handler(func, args, kwargs or {})


def fast_init(*, stream_format: Optional[int] = None) -> ContextManager[None]:
    """Make torch's random initialization on this thread use fastglorot, for the ``with`` block.

    Every CPU fill through ``torch.nn.init.*`` (also through references
    captured before the block) and ``Tensor.uniform_``/``Tensor.normal_``
    that :func:`supports` accepts is done by fastglorot, seeded from torch's
    generators (module docstring, "Seeding rule"); everything else runs
    unchanged.  Nestable; torch's own behaviour is restored on exit, also
    after an exception.  Only the calling thread is affected: torch keeps
    ``__torch_function__`` modes per thread, so other threads (and
    DataLoader workers) keep torch's own initialization.  Also a decorator.

    Parameters
    ----------
    stream_format : {1, 2} or None, keyword-only
        The stream format of the block's fills (README "Stream format"),
        checked here, before the block starts.  An int holds for every
        fill in the block, as an explicit argument does, over any
        ``fastglorot.stream_format`` inside it (but not over an explicit
        ``stream_format=`` of a ``fastglorot.torch`` call).  None (default)
        leaves the choice where it was: an enclosing ``fast_init``'s, else
        the format current at each fill (``fastglorot.get_stream_format()``),
        so ``with fastglorot.stream_format(2):`` works outside or inside
        the block.

    Examples
    --------
    >>> import torch, fastglorot.torch
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> with fastglorot.torch.fast_init():
    ...     layer = torch.nn.Linear(1024, 1024)
    >>> with fastglorot.torch.fast_init(stream_format=2):
    ...     embedding = torch.nn.Embedding(1000, 64)  # N(0, 1): format 2's float32 normal
    """
    chosen = None if stream_format is None else resolve_stream_format(stream_format)
    return _fast_init(chosen)


@contextlib.contextmanager
def _fast_init(stream_format: Optional[int]) -> Iterator[None]:
    with FastInitMode(stream_format=stream_format):
        yield


_enabled = threading.local()


def _mode_stack() -> List[Any]:
    """This thread's ``__torch_function__`` modes, innermost last (torch keeps no public accessor)."""
    stack: List[Any] = torch.overrides._get_current_function_mode_stack()  # type: ignore[no-untyped-call]
    return stack


def _enabled_modes() -> List[FastInitMode]:
    modes: Optional[List[FastInitMode]] = getattr(_enabled, "modes", None)
    if modes is None:
        modes = _enabled.modes = []
    return modes


def enable(*, stream_format: Optional[int] = None) -> None:
    """Switch fastglorot on for torch's random initialization on this thread, until :func:`disable`.

    As :func:`fast_init` without a ``with`` block (for notebooks and
    set-up code), ``stream_format`` included: an int holds for the fills
    until the matching :func:`disable` (checked here: a bad value raises
    and enables nothing).  Calls nest: each :func:`enable` is undone by one
    :func:`disable`.
    """
    mode = FastInitMode(stream_format=stream_format)
    mode.__enter__()
    _enabled_modes().append(mode)


def disable() -> None:
    """Undo the latest :func:`enable` on this thread.

    Raises
    ------
    RuntimeError
        If this thread has no :func:`enable` left to undo, or if a
        ``__torch_function__`` mode entered after it is still active (leave
        that one first: torch's mode stack is last in, first out).
    """
    modes = _enabled_modes()
    if not modes:
        raise RuntimeError("fastglorot.torch.disable() without a matching enable() on this thread")
    stack = _mode_stack()
    if not stack or stack[-1] is not modes[-1]:
        raise RuntimeError("fastglorot.torch.disable(): another torch function mode was entered after "
                           "enable() and is still active; exit it first")
    modes.pop().__exit__(None, None, None)


def is_enabled() -> bool:
    """Whether fastglorot does torch's random fills on this thread now (:func:`fast_init` or :func:`enable`)."""
    return any(isinstance(mode, FastInitMode) for mode in _mode_stack())
