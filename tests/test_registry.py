"""The initializer registry: rows, lookups, generated code, README table, doctests, types."""

from __future__ import annotations

import doctest
import importlib
import inspect
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastglorot
from fastglorot import INITIALIZERS, Generator, get_initializer
from fastglorot._codegen import GENERATED, generate, readme_table

REPO = Path(__file__).resolve().parents[1]
ROWS = list(INITIALIZERS.values())


def test_generated_module_is_up_to_date():
    """``python -m fastglorot._codegen`` regenerates it; a stale file fails here."""
    assert GENERATED.read_text() == generate(), "run: python -m fastglorot._codegen"


def test_readme_table_is_the_registry_table():
    assert readme_table() in (REPO / "README.md").read_text(), "paste fastglorot._codegen.readme_table() into README"


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.name)
def test_every_row_has_its_functions_and_methods(row):
    for name in (row.name, *row.aliases):
        assert callable(getattr(fastglorot, name)) and callable(getattr(fastglorot, name + "_"))
        assert callable(getattr(Generator, name)) and callable(getattr(Generator, name + "_"))
        assert get_initializer(name) is row and get_initializer(name + "_") is row
    assert row.reference and row.formula and (row.torch or row.jax or row.keras)
    doc = getattr(fastglorot, row.in_place).__doc__
    assert ".. math::" in doc and "References" in doc and ">>> " in doc


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.name)
def test_each_row_draws_its_declared_variance(row):
    """The generated function equals variance_scaling_ with the row's scale, mode and distribution."""
    own = {p.name: eval(p.default) for p in row.parameters}  # the row's defaults, e.g. gain=1.0
    scope = {**own, "calculate_gain": fastglorot.calculate_gain}
    scale, mode, distribution = (eval(expr, scope) for expr in (row.scale, row.mode, row.distribution))
    shape = (96, 64, 3)
    got = getattr(fastglorot, row.name)(shape, seed=4, stream="w")
    expected = fastglorot.variance_scaling(shape, scale, mode, distribution, seed=4, stream="w")
    np.testing.assert_array_equal(got, expected)
    fan_in, fan_out = fastglorot.compute_fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
         "fan_geo_avg": math.sqrt(fan_in * fan_out)}[mode]
    assert math.isclose(float(np.var(got.astype(np.float64))), scale / n, rel_tol=0.05)


def test_unknown_initializer_lists_known_names():
    with pytest.raises(KeyError, match="unknown initializer 'glorot'.*glorot_uniform.*xavier_normal"):
        get_initializer("glorot")


def test_allocating_signature_is_shape_then_own_parameters_then_dtype():
    parameters = list(inspect.signature(fastglorot.kaiming_uniform).parameters)
    assert parameters[:5] == ["shape", "a", "mode", "nonlinearity", "dtype"]
    assert inspect.signature(fastglorot.glorot_uniform).return_annotation == "NDArray[Any]"


DOCUMENTED = ["fastglorot._api.generated", "fastglorot._api.generator", "fastglorot._format.seeding",
              "fastglorot._api.sampling", "fastglorot._api.fans"]


@pytest.mark.parametrize("module", DOCUMENTED)
def test_docstring_examples_run(module):
    failures, tried = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert failures == 0
    if module == "fastglorot._api.generated":
        assert tried >= 2 * len(ROWS)


def _readme_usage(tmp_path: Path) -> Path:
    readme = (REPO / "README.md").read_text()
    section = re.search(r"^## Usage\s*$(.*?)^## ", readme, re.M | re.S).group(1)
    example = tmp_path / "readme_usage.py"
    example.write_text(re.findall(r"```python\n(.*?)```", section, re.S)[0])
    return example


@pytest.mark.slow
def test_mypy_strict_on_the_package_and_the_readme_usage_example(tmp_path):
    if shutil.which("mypy") is None and importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed")
    example = _readme_usage(tmp_path)
    bad = tmp_path / "bad_seed.py"
    bad.write_text("import fastglorot\nfastglorot.glorot_uniform((4, 4), seed='oops')\n"
                   "fastglorot.Generator(1).glorot_uniform_(__import__('numpy').empty(3), seed=5)\n")
    command = [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache")]
    clean = subprocess.run([*command, str(REPO / "fastglorot"), str(example)], capture_output=True, text=True,
                           cwd=REPO, timeout=600)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    flagged = subprocess.run([*command, str(bad)], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert flagged.returncode == 1
    assert 'Argument "seed" to "glorot_uniform" has incompatible type "str"' in flagged.stdout
    assert 'Unexpected keyword argument "seed" for "glorot_uniform_" of "GeneratorMethods"' in flagged.stdout
