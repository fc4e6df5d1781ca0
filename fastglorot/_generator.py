"""``Generator``: one recorded seed, a fresh stream for every call."""

from __future__ import annotations

import functools
import inspect
import threading
from typing import Callable, Optional

from . import _initializers, _sampling
from ._seeding import Seed, Stream, resolve_seed

__all__ = ["Generator"]

# The functions Generator mirrors, in-place and allocating, by public name:
# aliases (xavier_uniform_ is glorot_uniform_) get methods too.
_MIRRORED = {
    **{f.__name__: f for f in (_sampling.random_bits, _sampling.uniform_, _sampling.normal_, _sampling.trunc_normal_)},
    **{name: getattr(_initializers, name) for name in _initializers.__all__ if name[0].islower()},
}


class Generator:
    """A reproducible source of initializations.

    Parameters
    ----------
    seed : int or None, default None
        Philox key in ``[0, 2**64)``; ``None`` draws one from OS entropy.
        Either way :attr:`seed` records it, so an entropy-seeded run can be
        reproduced with ``Generator(old.seed)``.

    Notes
    -----
    Every method mirrors the module-level function of the same name, with
    ``seed`` supplied by the generator and ``stream`` optional: by default the
    ``n``-th call (counting from 0) uses stream ``n``, so two layers filled
    from one generator never share values and the same seed replays the same
    sequence of results, e.g. ``Generator(7).normal_(a)`` equals
    ``normal_(a, seed=7, stream=0)``.  An explicit ``stream`` (an int or a
    parameter name) is used as given and does not advance the sequence.
    Methods are safe to call from several threads; the order of calls then
    decides which call gets which stream.

    Examples
    --------
    >>> import numpy as np, fastglorot
    >>> gen = fastglorot.Generator(2024)
    >>> w1 = gen.glorot_uniform((256, 128))
    >>> w2 = gen.glorot_uniform((256, 128))
    >>> bool((w1 != w2).any()), gen.calls
    (True, 2)
    """

    def __init__(self, seed: Seed = None):
        self._seed = resolve_seed(seed)
        self._calls = 0
        self._lock = threading.Lock()

    @property
    def seed(self) -> int:
        """The seed in use (drawn from OS entropy when none was given)."""
        return self._seed

    @property
    def calls(self) -> int:
        """How many automatic streams have been handed out (the next one's id)."""
        return self._calls

    def _stream(self, stream: Optional[Stream]) -> Stream:
        if stream is not None:
            return stream
        with self._lock:
            self._calls += 1
            return self._calls - 1

    def __repr__(self) -> str:
        return f"fastglorot.Generator(seed={self._seed}, calls={self._calls})"


def _mirror(name: str, function: Callable) -> Callable:
    @functools.wraps(function)
    def method(self: Generator, *args, stream: Optional[Stream] = None, **kwargs):
        return function(*args, seed=self._seed, stream=self._stream(stream), **kwargs)

    signature = inspect.signature(function)
    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    for parameter in signature.parameters.values():
        if parameter.name == "seed":
            continue
        if parameter.name == "stream":
            parameter = parameter.replace(default=None, annotation=Optional[Stream])
        parameters.append(parameter)
    method.__signature__ = inspect.Signature(parameters, return_annotation=signature.return_annotation)
    method.__name__, method.__qualname__ = name, f"Generator.{name}"
    method.__doc__ = (f"{name} with this generator's seed and, unless given, its next stream.\n\n"
                      f"{function.__doc__}")
    del method.__wrapped__
    return method


for _name, _function in _MIRRORED.items():
    setattr(Generator, _name, _mirror(_name, _function))
del _name, _function
