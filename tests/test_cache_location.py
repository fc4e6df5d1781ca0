"""Where compiled kernels are cached: a per-user cache directory, never inside the installed package (issue #28).

numba's own ``cache=True`` wrote ``site-packages/fastglorot/__pycache__/*.nbi`` / ``*.nbc``, files pip never
recorded: after ``pip install .`` then ``pip install -e .`` (the README's Quickstart, then its Development
section), or ``pip uninstall fastglorot``, the leftover directory imported as an empty namespace package that
shadowed the install (``ImportError: cannot import name '__version__' from 'fastglorot' (unknown location)``).
The install tests run real pip in a fresh venv that sees this environment's packages through a ``.pth`` file
(nothing is downloaded), with ``HOME`` and ``XDG_CACHE_HOME`` in a temporary directory and ``NUMBA_CACHE_DIR``
unset, as a user runs it.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import REPO

FILL = r'''
import json, numpy as np, fastglorot
fastglorot.uniform_(np.empty(8), seed=1)
from fastglorot._engines import kernels as _kernels
d = _kernels.fill_uniform_float64
print(json.dumps({"file": fastglorot.__file__, "version": fastglorot.__version__, "cache": d.stats.cache_path,
                  "hits": sum(d.stats.cache_hits.values()), "misses": sum(d.stats.cache_misses.values())}))
'''


@pytest.fixture(scope="module")
def dependencies(tmp_path_factory) -> Path:
    """This environment's installed packages, less fastglorot's own entries (a fresh venv must not see them)."""
    here = Path(sysconfig.get_paths()["purelib"])
    deps = tmp_path_factory.mktemp("deps")
    for entry in here.iterdir():
        name = entry.name.lower()
        if not (name.startswith(("fastglorot", "__editable__", "_fastglorot")) or name.endswith(".pth")):
            (deps / entry.name).symlink_to(entry)
    return deps


class Venv:
    """A fresh virtual environment whose pip and packages (numba, numpy, setuptools) come from this one."""

    def __init__(self, root: Path, dependencies: Path) -> None:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True, timeout=60)
        self.python = str(root / "venv" / "bin" / "python")
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root / "home"),
                    "XDG_CACHE_HOME": str(root / "xdg"), "TMPDIR": str(root), "PYTHONNOUSERSITE": "1",
                    "FASTGLOROT_NUMPY_MAX_BYTES": "0", "FASTGLOROT_QUIET": "1",
                    "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
        self.cwd = root
        self.site = Path(self.run("import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
        (self.site / "_deps.pth").write_text(f"{dependencies}\n")

    def run(self, code: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([self.python, "-c", code], env=self.env, cwd=self.cwd, capture_output=True,
                                text=True, timeout=120)
        if check and result.returncode:
            raise AssertionError(f"{code}\n{result.stdout}\n{result.stderr}")
        return result

    def pip(self, *args: str) -> None:
        result = subprocess.run([self.python, "-m", "pip", "-q", *args], env=self.env, cwd=self.cwd,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"pip {' '.join(args)}\n{result.stdout}\n{result.stderr}"

    def install(self, source: Path, editable: bool = False) -> None:
        self.pip("install", "--no-deps", "--no-build-isolation", *(["-e"] if editable else []), str(source))

    def fill(self) -> dict:
        return json.loads(self.run(FILL).stdout.strip().splitlines()[-1])

    def unrecorded(self) -> list:
        """Files under site-packages/fastglorot that pip's RECORD does not list."""
        records = list(self.site.glob("fastglorot-*.dist-info/RECORD"))
        recorded = {os.path.normpath(row[0]) for path in records for row in csv.reader(path.open())}
        package = self.site / "fastglorot"
        present = {os.path.relpath(path, self.site) for path in package.rglob("*") if path.is_file()}
        return sorted(present - recorded)


def _source(tmp_path: Path) -> Path:
    """A copy of the project to install (what a clone holds)."""
    source = tmp_path / "src"
    shutil.copytree(REPO / "fastglorot", source / "fastglorot",
                    ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc", "*.pyc"))
    for name in ("pyproject.toml", "setup.cfg", "README.md"):
        shutil.copy2(REPO / name, source / name)
    return source


@pytest.mark.slow
def test_reinstall_then_editable_install_leaves_nothing_behind(tmp_path, dependencies):
    """``pip install .``, a fill (compiles), a second fill (loads from the cache), a reinstall of changed
    sources to the same path (only ``_format/stream_v1.py``, whose helpers are inlined into the kernels, differs:
    the kernel recompiles instead of loading stale code), then ``pip install -e .``: the package imports
    with its ``__version__`` and fills.  The cache is under ``$XDG_CACHE_HOME/fastglorot`` and nothing pip
    did not record ever appears under ``site-packages/fastglorot``."""
    venv = Venv(tmp_path, dependencies)
    source = _source(tmp_path)
    venv.install(source)
    installed = venv.site / "fastglorot"
    first = venv.fill()
    assert first["file"] == str(installed / "__init__.py") and first["misses"] == 1, first
    cache_root = tmp_path / "xdg" / "fastglorot"
    assert Path(first["cache"]).parent == cache_root, first
    assert list(cache_root.rglob("kernels.fill_uniform_float64-*.nbi")), first
    assert venv.unrecorded() == []
    second = venv.fill()
    assert (second["hits"], second["misses"]) == (1, 0) and second["cache"] == first["cache"], second

    with (source / "fastglorot" / "_format" / "stream_v1.py").open("a") as convert:
        convert.write("\n# an upgrade that changes a helper inlined into the kernels, not _engines/kernels.py\n")
    venv.install(source)
    upgraded = venv.fill()
    assert (upgraded["hits"], upgraded["misses"]) == (0, 1), upgraded  # recompiled: no stale kernel
    assert venv.unrecorded() == []

    venv.install(source, editable=True)
    assert not installed.exists(), sorted(os.listdir(installed))
    editable = venv.fill()
    assert editable["file"] == str(source / "fastglorot" / "__init__.py"), editable
    assert editable["version"] == venv.run("import fastglorot; print(fastglorot.__version__)").stdout.strip()
    assert Path(editable["cache"]).parent == cache_root, editable
    assert not list((source / "fastglorot").rglob("*.nb[ic]"))  # nor in the checkout


@pytest.mark.slow
def test_uninstall_leaves_nothing_behind(tmp_path, dependencies):
    """``pip install .``, a fill that compiles a kernel, ``pip uninstall fastglorot``: no
    ``site-packages/fastglorot`` is left to import as an empty namespace package."""
    venv = Venv(tmp_path, dependencies)
    venv.install(_source(tmp_path))
    assert venv.fill()["misses"] == 1
    venv.pip("uninstall", "-y", "fastglorot")
    assert not (venv.site / "fastglorot").exists(), sorted(os.listdir(venv.site / "fastglorot"))
    gone = venv.run("import fastglorot", check=False)
    assert "ModuleNotFoundError: No module named 'fastglorot'" in gone.stderr, gone.stderr


def _user_env(tmp_path: Path) -> dict:
    """A user's environment for ``run_python``: home and XDG cache in ``tmp_path``, no NUMBA_CACHE_DIR."""
    return {"NUMBA_CACHE_DIR": None, "HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": str(tmp_path / "xdg"),
            "NUMBA_ENABLE_CUDASIM": None, "NUMBA_CACHE_LOCATOR_CLASSES": None}


OTHERS_SRC = r'''
import json, sys
import numpy as np
import numba
import fastglorot
from numba.core import caching
before = list(caching.CacheImpl._locator_classes)
fastglorot.uniform_(np.empty(8), seed=1)       # fastglorot's kernel: compiled and cached
from fastglorot._engines import elements as _elements; from fastglorot._engines import kernels as _kernels
sys.path.insert(0, sys.argv[1])
import users_module                            # someone else's numba code in the same process
users_module.twice(np.arange(3.0))
report = {"kernel": _kernels.fill_uniform_float64.stats.cache_path,
          "element": _elements.uniform_float32._cache.cache_path,
          "users": users_module.twice.stats.cache_path,
          "locators_unchanged": caching.CacheImpl._locator_classes == before}
try:
    from fastglorot._engines import cuda_kernels as _cuda_kernels
except ImportError:
    report["cuda"] = None
else:
    report["cuda"] = sorted({k._cache.cache_path for k in _cuda_kernels.KERNELS.values()
                             if type(k).__name__ == "CUDADispatcher" and k.py_func.__module__ == _cuda_kernels.__name__
                             and not k.targetoptions.get("device")})
print(json.dumps(report))
'''


def test_only_fastglorots_functions_use_its_cache_location(python_runner, tmp_path):
    """With NUMBA_CACHE_DIR unset, fastglorot's kernels, element functions and (where numba-cuda is
    installed; nothing needs a GPU to place the cache) CUDA kernels cache under ``$XDG_CACHE_HOME/fastglorot``,
    while another library's ``@njit(cache=True)`` function in the same process keeps numba's default place
    (``__pycache__`` beside its source): numba's global locator list is untouched."""
    users = tmp_path / "users"
    users.mkdir()
    (users / "users_module.py").write_text("from numba import njit\n\n\n@njit(cache=True)\n"
                                           "def twice(x):\n    return 2 * x\n")
    code = OTHERS_SRC.replace("sys.argv[1]", repr(str(users)))
    report = json.loads(python_runner(code, env=_user_env(tmp_path)).stdout.strip().splitlines()[-1])
    root = tmp_path / "xdg" / "fastglorot"
    assert Path(report["kernel"]).parent == root and report["element"] == report["kernel"], report
    assert report["users"] == str(users / "__pycache__") and report["locators_unchanged"], report
    if report["cuda"] is not None:
        assert report["cuda"] == [report["kernel"]], report


def test_user_cache_directory_follows_the_xdg_rules(monkeypatch, tmp_path):
    """``$XDG_CACHE_HOME/fastglorot``; ``~/.cache/fastglorot`` when it is unset, empty or relative (the XDG
    base directory spec says to ignore a relative path)."""
    from fastglorot._engines import jit as _jit

    if sys.platform in ("win32", "darwin"):
        pytest.skip("the XDG rules apply on Linux and other POSIX systems")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _jit.user_cache_root() == str(tmp_path / "xdg" / "fastglorot")
    for value in ("", "relative/dir"):
        monkeypatch.setenv("XDG_CACHE_HOME", value)
        assert _jit.user_cache_root() == str(tmp_path / "home" / ".cache" / "fastglorot")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert _jit.user_cache_root() == str(tmp_path / "home" / ".cache" / "fastglorot")


def test_warmup_says_it_cached_in_the_user_cache_directory(python_runner, tmp_path):
    """``fastglorot warmup`` with NUMBA_CACHE_DIR unset compiles into the user cache directory and says so."""
    result = python_runner("import sys\nfrom fastglorot._cli import main\n"
                           "sys.exit(main(['warmup', '--dtypes', 'float64', '--distributions', 'uniform', "
                           "'--processes', '1']))", env=_user_env(tmp_path))
    last = result.stdout.splitlines()[-1]
    assert last.startswith(f"cached in {tmp_path / 'xdg' / 'fastglorot' / '_engines_'}"), result.stdout
    assert list(Path(last.split(" ", 2)[2]).glob("kernels.fill_uniform_float64-*.nbc"))
