"""One import rule for every adapter, and install hints that work from a clone (README "Usage").

``import fastglorot.<adapter>`` raises ImportError at import when its
framework is missing, naming a command that installs it both in a clone (the
extra, ``".[name]"``) and anywhere else (the extra's own requirements, since
fastglorot is not on a package index).  A missing framework is simulated by
``sys.modules[name] = None`` in a fresh interpreter, which makes both
``import name`` and ``importlib.util.find_spec(name)`` report it absent.
"""

import re
from pathlib import Path

import pytest

from fastglorot._interop import EXTRAS, install_hint

REPO = Path(__file__).resolve().parents[1]


def test_extras_match_pyproject():
    tomllib = pytest.importorskip("tomllib", reason="tomllib is Python 3.11+")
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for name, requirements in EXTRAS.items():
        assert tuple(extras[name]) == requirements, name


@pytest.mark.parametrize("adapter, framework, extra", [
    ("fastglorot.torch", "torch", "torch"),
    ("fastglorot.jax", "jax", "jax"),
    ("fastglorot.keras", "keras", "keras"),
    ("fastglorot.dask", "dask", "dask"),
])
def test_adapter_without_its_framework_fails_at_import_with_the_install_command(python_runner, adapter, framework,
                                                                                extra):
    code = (f"import sys\nsys.modules[{framework!r}] = None\n"
            f"try:\n    import {adapter}\nexcept ImportError as error:\n    print('ImportError:', error)\n"
            "else:\n    print('imported')")
    out = python_runner(code).stdout.strip()
    assert out == f"ImportError: {adapter} needs {framework}, which is not installed: {install_hint(extra)}"
    assert "fastglorot[" not in out  # the extra syntax needs fastglorot on an index


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_install_hint_names_the_requirements_and_the_clone_command(extra):
    hint = install_hint(extra)
    assert hint.startswith("python -m pip install ")
    assert re.findall(r'"([^"]+)"', hint) == [*EXTRAS[extra], f".[{extra}]"]


def test_keras_without_its_backend_names_keras_backend(python_runner):
    pytest.importorskip("keras")
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("tensorflow is installed: Keras' default backend loads")
    code = ("try:\n    import fastglorot.keras\nexcept ImportError as error:\n    print(error)\n"
            "else:\n    print('imported')")
    out = python_runner(code, env={"KERAS_BACKEND": "tensorflow"}).stdout
    assert "KERAS_BACKEND" in out and "tensorflow" in out


def test_dask_adapter_checks_at_import_but_loads_dask_at_first_use(python_runner):
    pytest.importorskip("dask")
    code = ("import sys, fastglorot.dask\nprint('dask' in sys.modules)\n"
            "fastglorot.dask.uniform((4,), seed=0)\nprint('dask' in sys.modules)")
    assert python_runner(code).stdout.split() == ["False", "True"]


def test_scheduler_without_distributed_names_the_install_command(python_runner):
    code = ("import sys\nsys.modules['distributed'] = None\nfrom fastglorot.io._distributed import connect\n"
            "try:\n    connect('tcp://127.0.0.1:1')\nexcept ImportError as error:\n    print(error)")
    assert python_runner(code).stdout.strip() == f"--scheduler needs dask.distributed: {install_hint('dask')}"
