"""``Generator``: one recorded seed, a fresh stream for every call."""

from __future__ import annotations

import threading
from typing import Optional

from .generated import GeneratorMethods
from .._format.seeding import Seed, Stream, resolve_seed
from .stream_format import StreamFormat, resolve_stream_format

__all__ = ["Generator"]


class Generator(GeneratorMethods):
    """A reproducible source of initializations.

    Parameters
    ----------
    seed : int or None, default None
        Philox key in ``[0, 2**64)``; ``None`` draws one from OS entropy.
        Either way :attr:`seed` records it, so an entropy-seeded run can be
        reproduced with ``Generator(old.seed)``.
    stream_format : {1, 2} or None, default None
        The stream format of every call that passes none (README "Stream
        format"); None: each call uses the current one
        (:func:`~fastglorot.stream_format`, 1 by default).  Recorded as
        :attr:`stream_format`.

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
    decides which call gets which stream.  Methods take no ``seed``: passing
    one is a ``TypeError`` that says how to use another seed.

    Compatibility guarantee: the streams are stream format
    :data:`~fastglorot.STREAM_FORMAT` (README "Stream format"): a given seed
    replays the same values in every future version.

    Examples
    --------
    >>> import numpy as np, fastglorot
    >>> gen = fastglorot.Generator(2024)
    >>> w1 = gen.glorot_uniform((256, 128))
    >>> w2 = gen.glorot_uniform((256, 128))
    >>> bool((w1 != w2).any()), gen.calls
    (True, 2)
    """

    def __init__(self, seed: Seed = None, *, stream_format: StreamFormat = None) -> None:
        self._seed = resolve_seed(seed)
        self._stream_format = None if stream_format is None else resolve_stream_format(stream_format)
        self._calls = 0
        self._lock = threading.Lock()

    @property
    def seed(self) -> int:
        """The seed in use (drawn from OS entropy when none was given)."""
        return self._seed

    @property
    def stream_format(self) -> StreamFormat:
        """The stream format given at construction (None: each call's current one)."""
        return self._stream_format

    def _format(self, stream_format: StreamFormat) -> StreamFormat:
        return self._stream_format if stream_format is None else stream_format

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
        fmt = "" if self._stream_format is None else f", stream_format={self._stream_format}"
        return f"fastglorot.Generator(seed={self._seed}{fmt}, calls={self._calls})"
