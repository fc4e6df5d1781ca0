"""pytest-benchmark setup for ``bench/``: when the suites here run, checkout import, machine facts.

``setup.cfg`` lists ``bench`` in ``testpaths``, so pytest-benchmark's usual
``python -m pytest --benchmark-only`` from the repository root finds the
suites here (``test_*.py``; the ``bench_*.py`` scripts are plain programs and
are not collected).  A plain ``python -m pytest`` (the README's test command)
must stay as fast as without them, and work without pytest-benchmark
installed, so the items here are skipped at collection, before any buffer is
allocated, unless the run asks for benchmarks:

* ``--benchmark-only``, or any option that saves, compares or reports
  benchmark results (``--benchmark-save``, ``--benchmark-autosave``,
  ``--benchmark-json``, ``--benchmark-compare``, ``--benchmark-histogram``,
  ``--benchmark-enable``), on the command line or in ``PYTEST_ADDOPTS``;
* or a path in ``bench/`` named on the command line (``python -m pytest bench/``).

Without pytest-benchmark, a benchmark named that way is skipped with the
install command; ``test_peer_scale``, which needs no plugin, runs.

A run during which other processes took CPUs the benchmarks needed ends with
a warning (``busy_benchmarks``, filled by ``test_layers.py``).

``--bench-threads=N`` runs every peer on ``N`` threads (default: numba's
count, all cores); ``--bench-threads=1`` compares the implementations per
core, as ``fastglorot bench --threads 1`` does (with ``=``: before the option is
known, pytest would read a separate ``N`` as a path).

``--stream-format=N`` (1 or 2, default 1) runs fastglorot's fills in stream
format ``N``, as ``fastglorot bench --stream-format N`` does; every benchmark
records it (``extra_info``: ``stream_format``), and so does the saved
machine info.  A ``--benchmark-compare`` of a format-2 run with a saved
format-1 run compares the two formats (the other peers are the same in both).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from bench import _common  # puts the repository root first on sys.path: the checkout is measured
from fastglorot._format.tables import DEFAULT_STREAM_FORMAT, STREAM_FORMATS

HERE = Path(__file__).resolve().parent

# pytest-benchmark's options (their ``dest``) whose use means "run the benchmarks".
ASKING_OPTIONS = ("benchmark_only", "benchmark_save", "benchmark_autosave", "benchmark_json", "benchmark_compare",
                  "benchmark_histogram", "benchmark_enable")


def _named_here(config: pytest.Config) -> bool:
    """Whether the command line (not ``testpaths``) names this directory or a path inside it."""
    source = getattr(config, "args_source", None)
    if source is not None and source != pytest.Config.ArgsSource.ARGS:
        return False
    if source is None and list(config.args) == list(config.getini("testpaths")):
        return False  # pytest < 7.2: the arguments came from testpaths
    base = Path(config.invocation_params.dir)
    for arg in config.args:
        path = (base / str(arg).split("::")[0]).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def benchmarks_requested(config: pytest.Config) -> bool:
    """Whether this run asked for the benchmarks here (see the module docstring)."""
    return any(getattr(config.option, name, None) for name in ASKING_OPTIONS) or _named_here(config)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--bench-threads", type=int, default=None, metavar="N",
                     help="benchmark suite: threads for every peer (default: numba's count, all cores); "
                          "1 compares the implementations per core")
    parser.addoption("--stream-format", type=int, default=DEFAULT_STREAM_FORMAT, choices=list(STREAM_FORMATS),
                     help=f"benchmark suite: fastglorot's stream format (default {DEFAULT_STREAM_FORMAT}); 2: other, "
                          "faster float32 and 16-bit normal values")


def pytest_configure(config: pytest.Config) -> None:
    threads = config.getoption("--bench-threads", None)
    if threads is None:
        return
    import numba

    most = numba.config.NUMBA_NUM_THREADS
    if not 1 <= threads <= most:
        raise pytest.UsageError(f"--bench-threads must lie in [1, {most}] (NUMBA_NUM_THREADS), got {threads}")
    numba.set_num_threads(threads)  # the calling thread's count: every peer reads numba.get_num_threads()


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    mine = [item for item in items if HERE in Path(str(item.path)).resolve().parents]
    if not mine:
        return
    plugin = config.pluginmanager.hasplugin("benchmark")
    if not benchmarks_requested(config):
        skip = pytest.mark.skip(reason="benchmark suite: runs with `python -m pytest --benchmark-only` "
                                       "(or `python -m pytest bench/`); README, Performance")
        for item in mine:
            item.add_marker(skip)
        return
    if not plugin:
        skip = pytest.mark.skip(reason="needs pytest-benchmark: python -m pip install -e \".[bench]\"")
        for item in mine:
            if "benchmark" in getattr(item, "fixturenames", ()):
                item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _kernels_only() -> Iterator[None]:
    """Fills on fastglorot's kernels, whatever the size: the NumPy path serves a process's first small fills
    (bench/bench_numpy_path.py measures it) and would otherwise time the first rounds of a small layer."""
    saved = os.environ.get("FASTGLOROT_NUMPY_MAX_BYTES")
    os.environ["FASTGLOROT_NUMPY_MAX_BYTES"] = "0"
    yield
    if saved is None:
        del os.environ["FASTGLOROT_NUMPY_MAX_BYTES"]
    else:
        os.environ["FASTGLOROT_NUMPY_MAX_BYTES"] = saved


@pytest.fixture(scope="session")
def stream_format(request) -> int:
    """``--stream-format``: the stream format of fastglorot's fills (the other peers have none)."""
    return int(request.config.getoption("--stream-format"))


_BUSY = pytest.StashKey[list]()


@pytest.fixture(scope="session")
def busy_benchmarks(request) -> list:
    """``(test name, contention.busy_report)`` of every benchmark during which the machine was busy."""
    return request.config.stash.setdefault(_BUSY, [])


@pytest.hookimpl(hookwrapper=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config) -> Iterator[None]:
    """Say that a run's figures are suspect when other work shared the CPUs during some benchmarks.

    Printed after pytest-benchmark's tables, and also when its --benchmark-compare-fail check raises
    ``PerformanceRegression`` there: the code after a hook wrapper's ``yield`` runs either way.
    """
    yield
    busy = config.stash.get(_BUSY, [])
    if not busy:
        return
    others = [report["other_cpus"] for _, report in busy if report["other_cpus"] is not None]
    terminalreporter.write_sep("-", "busy machine", yellow=True)
    terminalreporter.write_line(
        f"WARNING: the machine was busy during {len(busy)} benchmark(s)"
        + (f" (other processes used up to {max(others):.2f} CPUs on average during one)" if others else "")
        + ": their figures are likely too low, and a --benchmark-compare with this run can fail without a "
        "regression. Rerun when nothing else runs. Each benchmark's extra_info has other_cpus, and busy "
        "(the reasons) where it was busy; the first few:")
    for name, report in busy[:5]:
        terminalreporter.write_line(f"  {name}: {'; '.join(report['reasons'])}")


@pytest.hookimpl(optionalhook=True)  # pytest-benchmark's hook: unknown to pytest without the plugin
def pytest_benchmark_update_machine_info(config, machine_info):
    """Record numba's thread count, versions, THP, the last-level cache and fastglorot's stream format with every
    saved result."""
    machine_info["fastglorot"] = _common.environment()
    machine_info["fastglorot"]["stream_format"] = int(config.getoption("--stream-format"))
