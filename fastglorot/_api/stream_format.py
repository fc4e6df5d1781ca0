"""Choosing the stream format: per call (``stream_format=``) or for a block of code (:func:`stream_format`).

Stream format 1 is the default and never changes; format 2 (README "Stream
format") gives different float32, float16 and bfloat16 normal and
truncated-normal values, computed faster.  Code that fills weights through
libraries it does not own (a framework's ``reset_parameters``, a model
builder) chooses the format for everything it calls with::

    with fastglorot.stream_format(2):
        model = build_model()

The choice lives in a :mod:`contextvars` variable, as :func:`decimal.localcontext`
and ``numpy.errstate`` keep theirs: it is local to the thread (and asyncio
task) that set it, restored on exit, and never seen by other threads, which
start with the default.  Work that fastglorot hands to other threads or
processes (its own fill threads, Dask tasks, checkpoint writers) carries the
format resolved in the caller.
"""

from __future__ import annotations

import contextlib
import contextvars
import numbers
from typing import Iterator, Optional

from .._format.tables import DEFAULT_STREAM_FORMAT, STREAM_FORMATS

__all__ = ["stream_format", "get_stream_format", "resolve_stream_format", "STREAM_FORMATS", "DEFAULT_STREAM_FORMAT",
           "StreamFormat"]

StreamFormat = Optional[int]
"""A ``stream_format`` argument: 1, 2, or None for the current one (:func:`get_stream_format`)."""

_current: contextvars.ContextVar[int] = contextvars.ContextVar("fastglorot_stream_format",
                                                               default=DEFAULT_STREAM_FORMAT)

_CHOICES = " or ".join(str(n) for n in STREAM_FORMATS)


def _checked(value: object, name: str) -> int:
    """``value`` as a known stream format, or a clear error naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {_CHOICES} (an int), got {value!r}")
    number = int(value)
    if number not in STREAM_FORMATS:
        raise ValueError(f"{name} must be {_CHOICES}, got {number}: stream format {number} does not exist "
                         f"(README \"Stream format\")")
    return number


def get_stream_format() -> int:
    """The stream format fills use where no ``stream_format`` is passed: 1 unless :func:`stream_format` says
    otherwise in this thread or task."""
    return _current.get()


def resolve_stream_format(value: object = None, name: str = "stream_format") -> int:
    """A call's stream format: ``value`` checked, or the current one when ``value`` is None.

    Raises
    ------
    TypeError, ValueError
        ``value`` is not None, 1 or 2 (``name`` is the argument's name in the message).
    """
    return get_stream_format() if value is None else _checked(value, name)


@contextlib.contextmanager
def stream_format(version: int) -> Iterator[int]:
    """Use stream format ``version`` for the fills in this block that pass no ``stream_format``.

    Parameters
    ----------
    version : {1, 2}
        The stream format (README "Stream format").

    Yields
    ------
    int
        ``version``.

    Notes
    -----
    Context-local (:mod:`contextvars`): the choice holds in the calling
    thread or asyncio task until the block ends (also on an exception), and
    blocks nest.  Other threads keep their own choice (the default, 1, in a
    new thread).  An explicit ``stream_format=`` argument wins.  Also a
    decorator: ``@fastglorot.stream_format(2)``.

    Examples
    --------
    >>> import numpy as np, fastglorot
    >>> with fastglorot.stream_format(2):
    ...     a = fastglorot.normal((4, 4), seed=1)
    >>> bool((a == fastglorot.normal((4, 4), seed=1, stream_format=2)).all())
    True
    """
    checked = _checked(version, "stream_format")
    token = _current.set(checked)
    try:
        yield checked
    finally:
        _current.reset(token)
