"""What ``fastglorot.io`` uses of the torch adapter: one small facade over its private modules.

``io._hf`` writes a Hugging Face model's checkpoint one group of modules at
a time (``fastglorot init --config``): it walks the model's tensors as the
adapter does and runs the model's own init functions under ``fast_init()``
with the adapter's name addressing, so that every tensor gets the bits
``init_module(model, seed=...)`` would give it.  Those three steps are all
it needs; it reaches them here, and the adapter's modules stay free to change.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple

import torch

from ._modules import _named_tensors, _Names, _post_order
from ._switch import FastInitMode
from ._targets import fill_format, install_addressing

__all__ = ["named_tensors", "post_order", "run_inits", "InitRecord"]


def named_tensors(model: torch.nn.Module) -> Iterator[Tuple[str, str, torch.Tensor]]:
    """(module name, fully qualified name, tensor) of every parameter and buffer, in ``named_parameters()`` order."""
    return _named_tensors(model)


def post_order(model: torch.nn.Module) -> Iterator[Tuple[str, torch.nn.Module]]:
    """``(name, submodule)`` children first, as their constructors run (and as ``Module.apply`` visits them)."""
    return _post_order(model)


class InitRecord:
    """What :func:`run_inits` saw: which tensors a fastglorot fill wrote, and every tensor's tied names.

    ``touched_names``: the first names of the tensors that a fill wrote;
    ``aliases``: first name -> the other names of the same (tied) tensor.
    """

    def __init__(self, touched_names: Set[str], aliases: Dict[str, List[str]]) -> None:
        self.touched_names = touched_names
        self.aliases = aliases


def run_inits(model: torch.nn.Module, seed: int, modules: List[Tuple[str, torch.nn.Module]],
              init_fn: Callable[[torch.nn.Module], Any], *, stream_format: Optional[int] = None) -> InitRecord:
    """Run ``init_fn(module)`` for each ``(name, module)`` under ``fast_init()``, addressed by the model's names.

    The whole ``model``'s names and ties decide each tensor's stream (as
    ``init_module(model, seed=seed, stream_format=stream_format)``), so only
    the listed modules' memory needs to be real.  Runs without autograd.
    ``stream_format`` as ``init_module``'s: checked, None read here (callers
    that work in other threads resolve it in the user's and pass the int).
    """
    chosen = fill_format(stream_format)
    names = _Names(model, seed, "")
    previous = install_addressing(names)
    try:
        with torch.no_grad(), FastInitMode(stream_format=chosen):
            for module_name, module in modules:
                names.current = module_name
                init_fn(module)
    finally:
        install_addressing(previous)
    return InitRecord(names.touched_names, names.aliases)
