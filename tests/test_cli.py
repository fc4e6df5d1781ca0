"""The command line: version, help, argument checks, and lazy loading of the benchmark harness."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import fastglorot

REPO = Path(__file__).resolve().parents[1]
HARNESS = ("fastglorot.benchmarks", "fastglorot.benchmarks.harness", "fastglorot.benchmarks.peers",
           "fastglorot.benchmarks.measure")


def fastglorot_cli(*args: str) -> subprocess.CompletedProcess:
    """``python -m fastglorot ARGS`` on this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "fastglorot", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_version():
    result = fastglorot_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"fastglorot {fastglorot.__version__}"


def test_no_arguments_prints_help():
    result = fastglorot_cli()
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: fastglorot") and "bench" in result.stdout and not result.stderr


@pytest.mark.parametrize("argv", [["--help"], ["bench", "--help"]])
def test_help_is_plain_text(argv):
    """argparse prints help verbatim: no RST markup may leak into it."""
    result = fastglorot_cli(*argv)
    assert result.returncode == 0 and result.stdout.startswith("usage: fastglorot")
    assert "``" not in result.stdout
    assert not re.search(r":[a-z]+:`", result.stdout), result.stdout


def test_bench_help_states_its_sections():
    from fastglorot.benchmarks import harness, peers

    help_text = " ".join(fastglorot_cli("bench", "--help").stdout.split())  # argparse wraps lines
    assert f"one {peers.LAYER_COLUMNS}-element row" in help_text
    assert f"at most {harness.MEMORY_TARGET_SLACK >> 20} MiB" in help_text
    assert "peak-memory" in help_text and "--quick" in help_text


@pytest.mark.parametrize("dtype, minimum", [("float32", "16KiB"), ("bfloat16", "8KiB"), ("float64", "32KiB")])
def test_bench_rejects_sizes_below_one_layer_row(dtype, minimum):
    row_bytes = int(minimum[:-3]) * 1024
    result = fastglorot_cli("bench", "--quick", "--dtype", dtype, "--size", str(row_bytes - 1))
    assert result.returncode == 2 and not result.stdout
    assert "fastglorot bench: error: argument --size" in result.stderr
    assert f"must be at least {minimum} ({row_bytes} bytes) for {dtype}" in result.stderr


@pytest.mark.parametrize("argv", [["bench", "--repeats", "0"], ["bench", "--threads", "0"],
                                  ["bench", "--size", "0"], ["bench", "--dtype", "int8"]])
def test_bench_rejects_bad_arguments_before_running(argv):
    result = fastglorot_cli(*argv)
    assert result.returncode == 2 and "error: argument" in result.stderr and not result.stdout


def test_import_loads_no_benchmark_harness(python_runner):
    result = python_runner("import sys, fastglorot\n"
                           "print(sorted(m for m in sys.modules if m.startswith('fastglorot.benchmarks')))")
    assert result.stdout.strip() == "[]"


def test_help_loads_no_benchmark_harness(python_runner):
    """Only running ``bench`` imports the harness; help, version and argument errors do not."""
    result = python_runner(
        "import contextlib, io, sys\n"
        "from fastglorot._cli import main\n"
        "for argv in ([], ['--help'], ['--version'], ['bench', '--help'], ['bench', '--size', 'x']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        "        try:\n"
        "            main(argv)\n"
        "        except SystemExit:\n"
        "            pass\n"
        f"print(sorted(m for m in sys.modules if m in {HARNESS!r}))")
    assert result.stdout.strip() == "[]"
