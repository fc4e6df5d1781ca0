"""One import rule for every adapter, and install hints that work from a clone (README "Usage").

``import fastglorot.<adapter>`` raises ImportError at import when its
framework is missing, naming a command that installs it both in a clone (the
extra, ``".[name]"``) and anywhere else (the extra's own requirements, since
fastglorot is not on a package index).  Every other missing optional package
(zarr for a ``.zarr`` output, dask.distributed for ``--scheduler``, torch and
transformers for ``--config``) is one line on the command line with the same
hints (``_interop.PROVIDERS``), and nothing written.  A missing package is
simulated by ``sys.modules[name] = None`` in a fresh interpreter, which makes
both ``import name`` and ``importlib.util.find_spec(name)`` report it absent.
"""

import json
import os
import re
from pathlib import Path

import pytest

from fastglorot._interop import EXTRAS, PACKAGES, PROVIDERS, install_hint

REPO = Path(__file__).resolve().parents[1]


def test_extras_match_pyproject():
    tomllib = pytest.importorskip("tomllib", reason="tomllib is Python 3.11+")
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for name, requirements in EXTRAS.items():
        assert tuple(extras[name]) == requirements, name
    # Packages without an extra: transformers at the version the tests pin; torch by name (its pin is the
    # project's CPU build, not a requirement for users).
    assert PACKAGES["transformers"] in extras["test"]
    assert any(r.startswith(PACKAGES["torch"] + "==") for r in extras["test"])


def test_every_provider_is_an_extra_or_a_package():
    for module, names in PROVIDERS.items():
        assert names and all(name in EXTRAS or name in PACKAGES for name in names), module
        assert install_hint(*names).startswith("python -m pip install ")


def _install_table() -> dict:
    """README "Install and optional frameworks": adapter -> (clone command, command anywhere else)."""
    readme = (REPO / "README.md").read_text()
    text = re.search(r"^### Install and optional frameworks$(.*?)^#", readme, re.M | re.S).group(1)
    rows = re.findall(r"^\| `(fastglorot\.\w+)` \| (.*?) \| (.*?) \|$", text, re.M)
    return {adapter: (clone, anywhere) for adapter, clone, anywhere in rows}


@pytest.mark.parametrize("adapter, framework", [("fastglorot.torch", "torch"), ("fastglorot.jax", "jax"),
                                                ("fastglorot.keras", "keras"), ("fastglorot.dask", "dask")])
def test_readme_install_table_and_the_hints_follow_one_rule(adapter, framework):
    """The README's commands are the ones the ImportError names (Keras: with jax as its backend, as the README)."""
    clone, anywhere = _install_table()[adapter]
    hint = install_hint(*PROVIDERS[framework])
    command = hint.split(" (")[0]
    assert f"`{command}`" in anywhere, (anywhere, hint)
    clone_command = re.search(r'python -m pip install "\.\[[a-z,]+\]"', hint)
    if clone_command is None:  # torch: no extra
        assert clone == "—"
    else:
        assert clone == f"`{clone_command.group(0)}`"


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
    hint = install_hint(*PROVIDERS[framework])
    assert out == f"ImportError: {adapter} needs {framework}, which is not installed: {hint}"
    assert "fastglorot[" not in out  # the extra syntax needs fastglorot on an index


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_install_hint_names_the_requirements_and_the_clone_command(extra):
    hint = install_hint(extra)
    assert hint.startswith("python -m pip install ")
    assert re.findall(r'"([^"]+)"', hint) == [*EXTRAS[extra], f".[{extra}]"]


def test_install_hint_of_several_names_is_one_command():
    assert install_hint("keras", "jax") == ('python -m pip install "keras>=3.5" "jax>=0.6" (in a fastglorot clone: '
                                            'python -m pip install ".[keras,jax]")')
    both = install_hint("torch", "transformers")
    assert both.startswith('python -m pip install torch "transformers>=4.45" (') and "https://pytorch.org" in both
    assert "fastglorot clone" not in both  # no extra installs them


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
    expected = f"--scheduler needs distributed, which is not installed: {install_hint('dask')}"
    assert python_runner(code).stdout.strip() == expected


# -- the command line: one line with the install command, exit status 1, nothing written -------------------------

CONFIG = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
          "num_attention_heads": 4, "num_key_value_heads": 4, "num_hidden_layers": 1, "vocab_size": 128}
"""A small Llama config.json (not read: the missing package is reported before)."""

CONFIG_USER = "a checkpoint from a Hugging Face config"


def _tree(root: Path) -> set:
    """Every path under ``root``, hidden ones included."""
    return {str(path.relative_to(root)) for path in root.rglob("*")}


@pytest.mark.parametrize("absent, argv, user, needs, names", [
    (["zarr"], ["out.zarr", "--spec", "spec.json", "--seed", "1"], "a .zarr output", "zarr", ["dask"]),
    (["zarr"], ["sub/out.zarr", "--spec", "spec.json", "--seed", "1", "--force"], "a .zarr output", "zarr", ["dask"]),
    (["distributed"], ["out", "--spec", "spec.json", "--max-shard-size", "1GB", "--scheduler", "tcp://127.0.0.1:9"],
     "--scheduler", "distributed", ["dask"]),
    (["distributed"], ["out", "--config", "config.json", "--max-shard-size", "1GB", "--scheduler", "tcp://127.0.0.1:9"],
     "--scheduler", "distributed", ["dask"]),
    (["torch"], ["out", "--config", "config.json", "--seed", "1"], CONFIG_USER, "torch", ["torch"]),
    (["torch"], ["--config", "config.json", "--print-spec"], CONFIG_USER, "torch", ["torch"]),
    (["transformers"], ["out", "--config", "config.json"], CONFIG_USER, "transformers", ["transformers"]),
    (["torch", "transformers"], ["out", "--config", "config.json"], CONFIG_USER, "torch and transformers",
     ["torch", "transformers"]),
], ids=["zarr", "zarr-in-new-dir", "scheduler", "scheduler-config", "config-without-torch", "print-spec-without-torch",
        "config-without-transformers", "config-without-both"])
def test_cli_without_an_optional_package_prints_one_line_with_the_install_command(python_runner, tmp_path, absent,
                                                                                  argv, user, needs, names):
    (tmp_path / "spec.json").write_text(json.dumps({"w": {"shape": [64, 32], "init": "glorot_uniform"}}))
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    before = _tree(tmp_path)
    code = (f"import sys\nfor name in {absent!r}:\n    sys.modules[name] = None\n"
            f"from fastglorot._cli import main\nsys.exit(main(['init', *{argv!r}]))")
    result = python_runner(code, check=False, cwd=tmp_path)
    which = "which are" if " and " in needs else "which is"
    expected = f"fastglorot init: error: {user} needs {needs}, {which} not installed: {install_hint(*names)}"
    assert result.stderr.splitlines() == [expected]  # one line: no traceback
    assert result.returncode == 1 and result.stdout == ""
    assert _tree(tmp_path) == before  # nothing written, no staging directory, no created parent


def test_cli_missing_package_hint_is_the_adapters_hint():
    """``--config`` without torch names torch's install (not ``pip install transformers``, which lacks torch)."""
    assert install_hint(*PROVIDERS["torch"]).startswith("python -m pip install torch ")
    assert PROVIDERS["zarr"] == PROVIDERS["dask"] == PROVIDERS["distributed"]  # the dask extra brings all three


def test_cli_broken_optional_package_is_one_line(python_runner, tmp_path):
    """An installed package that fails to import (a broken install) is one line saying so, not a traceback."""
    package = tmp_path / "site" / "zarr"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("import numcodecs_that_is_not_there\n")
    (tmp_path / "spec.json").write_text(json.dumps({"w": {"shape": [8], "init": "zeros"}}))
    env = {"PYTHONPATH": os.pathsep.join([str(REPO), str(tmp_path / "site")])}
    result = python_runner("import sys\nfrom fastglorot._cli import main\n"
                           "sys.exit(main(['init', 'out.zarr', '--spec', 'spec.json']))", env=env, check=False,
                           cwd=tmp_path)
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("fastglorot init: error: a .zarr output needs zarr, which is installed but failed "
                                    "to import: No module named 'numcodecs_that_is_not_there'")
    assert not (tmp_path / "out.zarr").exists()
