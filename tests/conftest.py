"""Shared fixtures.

The suite compiles into a fresh numba cache directory per session
(``NUMBA_CACHE_DIR``), so that it never reads or fills the user's own cache
(fastglorot's entries are stamped with a digest of the package's sources, so
a stale one would recompile rather than hide a change, but a clean start
tests the compile path too).  Subprocesses inherit the directory and reuse
the compiled kernels.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

if "FASTGLOROT_TEST_KEEP_CACHE" not in os.environ:
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="fastglorot-numba-cache-")
    # Removed when the test session's interpreter exits (subprocesses have ended by then).
    atexit.register(shutil.rmtree, os.environ["NUMBA_CACHE_DIR"], ignore_errors=True)
    if "numba" in sys.modules:  # setup.cfg's filterwarnings imports numba before this file
        sys.modules["numba"].config.reload_config()


# Small fills use the NumPy twins of the kernels until a process has filled
# FASTGLOROT_NUMPY_MAX_BYTES through them (fastglorot._engines.dispatch).  The suite's
# many small fills are there to test the kernels, so it runs with the budget 0
# (kernels only; subprocesses inherit it); tests/test_numpy_path.py sets it
# where it tests the NumPy path and the switch between the two.
os.environ["FASTGLOROT_NUMPY_MAX_BYTES"] = "0"

# Keras 3 picks its backend when first imported; the suite's Keras tests run on
# jax (tests/test_keras.py runs the torch backend in a subprocess).
os.environ.setdefault("KERAS_BACKEND", "jax")


USER_DEFAULTS = {"FASTGLOROT_NUMPY_MAX_BYTES": None}
"""``env`` for :func:`run_python` that undoes the suite's NumPy-path budget: the child runs with the
default budget, as users do (``None`` unsets a variable)."""


def run_python(code: str, *, env: dict | None = None, timeout: float = 240, check: bool = True,
               **kwargs) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter that imports this checkout.

    ``env`` is laid over this process's environment; a value of None removes the variable.
    """
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), full_env.get("PYTHONPATH")]))
    for name, value in (env or {}).items():
        if value is None:
            full_env.pop(name, None)
        else:
            full_env[name] = value
    result = subprocess.run([sys.executable, "-c", code], env=full_env, timeout=timeout,
                            capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"subprocess failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def python_runner():
    return run_python


@pytest.fixture(params=["kernels", "numpy"])
def fill_engine(request):
    """Run the test's fills on the numba kernels, then again on their NumPy twins (``fastglorot._engines.dispatch``)."""
    from fill_engines import engine

    with engine(request.param):
        yield request.param
