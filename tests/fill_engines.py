"""Run fills on a chosen engine: the numba kernels, or their NumPy twins (``fastglorot._engines.dispatch``)."""

from __future__ import annotations

import contextlib
from typing import Iterator

import pytest

from fastglorot._engines import dispatch as _engines, numpy_kernels as _numpy_kernels
from fastglorot._validate import INDEX_LIMIT


@contextlib.contextmanager
def engine(which: str) -> Iterator[None]:
    """Run the enclosed fills on the kernels or on the NumPy path; checks that the NumPy path ran."""
    calls = []
    original = _numpy_kernels._fill
    with pytest.MonkeyPatch.context() as patch:
        if which == "numpy":
            patch.setenv(_engines.ENVIRONMENT_VARIABLE, str(INDEX_LIMIT))
            patch.setattr(_engines, "is_loaded", lambda name: False)
            patch.setattr(_numpy_kernels, "_fill", lambda *args: (calls.append(1), original(*args)))
        else:
            patch.setenv(_engines.ENVIRONMENT_VARIABLE, "0")
        yield
    if which == "numpy":
        assert calls, "the NumPy path did not run"
