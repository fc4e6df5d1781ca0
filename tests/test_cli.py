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
# The harness's modules; the package's own __init__ (LAYER_COLUMNS, for the help text) imports nothing.
HARNESS = ("fastglorot.benchmarks.harness", "fastglorot.benchmarks.peers", "fastglorot.benchmarks.measure",
           "fastglorot.benchmarks.contention")


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


@pytest.mark.parametrize("argv, message", [
    (["bench", "--stream-format", "3"], "argument --stream-format: invalid choice: 3 (choose from 1, 2)"),
    (["bench", "--stream-format", "v2"], "argument --stream-format: invalid int value: 'v2'"),
    (["warmup", "--stream-format", "1", "3"],
     "argument --stream-format/--stream-formats: invalid choice: 3 (choose from 1, 2)"),
    (["init", "out.safetensors", "--example", "llama-tiny", "--stream-format", "0"],
     "argument --stream-format: invalid choice: 0 (choose from 1, 2)"),
], ids=["bench", "bench-not-a-number", "warmup", "init"])
def test_an_unknown_stream_format_is_a_usage_error(argv, message, capsys, tmp_path, monkeypatch):
    """Refused by argparse before anything runs: its usage and one error line, exit status 2, no traceback."""
    from fastglorot import _cli

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        _cli.main(argv)
    captured = capsys.readouterr()
    assert exit_.value.code == 2 and captured.out == ""
    assert captured.err.startswith("usage: fastglorot ") and "Traceback" not in captured.err
    assert captured.err.splitlines()[-1] == f"fastglorot {argv[0]}: error: {message}"
    assert list(tmp_path.iterdir()) == []


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


# -- bench checks what can fail before it measures (minutes at the default size) --------------------------------

@pytest.mark.parametrize("option, path, message", [
    ("--json", "/nonexistent/dir/x.json", "argument --json: /nonexistent/dir/x.json: directory /nonexistent/dir "
                                          "does not exist"),
    ("--plot", "/proc/x.png", "argument --plot: cannot write /proc/x.png (/proc: "),
    ("--json", "{tmp}", "argument --json: {tmp} is a directory; give a file name"),
    ("--plot", "{tmp}", "argument --plot: {tmp} is a directory; give a file name"),
])
def test_bench_checks_output_paths_before_measuring(tmp_path, option, path, message):
    path, message = path.format(tmp=tmp_path), message.format(tmp=tmp_path)
    result = fastglorot_cli("bench", option, path)  # the default 1 GiB run: it must not start
    assert result.returncode == 2 and not result.stdout  # not even the machine line: nothing was measured
    assert f"fastglorot bench: error: {message}" in result.stderr and "Traceback" not in result.stderr
    assert not list(tmp_path.iterdir())  # the writability probe leaves nothing behind


def test_bench_size_beyond_the_machine_is_refused_with_what_fits():
    result = fastglorot_cli("bench", "--size", "1TB")
    assert result.returncode == 2 and not result.stdout and "Traceback" not in result.stderr
    assert re.search(r"argument --size: the layer \(931\.3 GiB\) and about 512MiB for the libraries do not fit in "
                     r"the [\d.]+ GiB of memory available now; use --size \d+[GM]iB or less", result.stderr)


@pytest.mark.parametrize("available, advice", [(8 << 30, "use --size 7GiB or less"),
                                               (700 << 20, "use --size 188MiB or less"),
                                               (520 << 20, "free some memory first")])
def test_bench_size_check_says_what_fits(monkeypatch, capsys, available, advice):
    from fastglorot import _cli

    monkeypatch.setattr(_cli, "available_memory", lambda: available)
    with pytest.raises(SystemExit) as exit_:
        _cli.main(["bench", "--size", "20GiB"])
    assert exit_.value.code == 2 and advice in capsys.readouterr().err


def test_bench_allocation_failure_is_a_message(monkeypatch):
    """Where the available memory is unknown (or went away since the check), the allocation's MemoryError."""
    from fastglorot.benchmarks import harness

    allocate = harness.allocate

    def refuse(shape, dtype):
        if shape != (1,):  # the harness asks for one element to learn the dtype
            raise MemoryError("Unable to allocate")
        return allocate(shape, dtype)

    monkeypatch.setattr(harness, "allocate", refuse)
    with pytest.raises(SystemExit, match=r"error: cannot allocate the 4\.00 MiB layer \(1024, 1024\) of float32"):
        harness.run_bench(4 << 20, quick=True, repeats=1)


def test_bench_without_matplotlib_refuses_plot_before_measuring(python_runner, tmp_path):
    result = python_runner("import sys\nsys.modules['matplotlib'] = None\nfrom fastglorot._cli import main\n"
                           f"main(['bench', '--plot', {str(tmp_path / 'b.png')!r}])", check=False)
    assert result.returncode == 2 and not result.stdout
    assert "argument --plot: needs matplotlib, which is not installed" in result.stderr


# -- a closed pipe (| head) ends the command quietly, as Unix tools do -------------------------------------------

@pytest.mark.parametrize("argv", [
    ["bench", "--size", "4MiB", "--quick", "--repeats", "1"],
    ["init", "--example", "llama-tiny", "--print-spec"],
    ["warmup", "--dtypes", "float32", "--distributions", "uniform"],
], ids=["bench", "init --print-spec", "warmup"])
def test_closed_stdout_exits_quietly(argv):
    """The reader is gone before the first line (what ``| head -1`` does to the rest): no traceback."""
    env = dict(os.environ, FASTGLOROT_QUIET="1")  # no compile notice on stderr: it must stay empty
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([sys.executable, "-m", "fastglorot", *argv], stdout=write_end, stderr=subprocess.PIPE,
                                text=True, env=env, timeout=300)
    finally:
        os.close(write_end)
    assert result.returncode == 141 and result.stderr == ""  # 128 + SIGPIPE


def test_bench_piped_to_head_stops_after_the_line_it_wanted():
    """``fastglorot bench | head -1``: one line, then the benchmark stops (line-buffered stdout sees the pipe close)."""
    env = dict(os.environ, FASTGLOROT_QUIET="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    result = subprocess.run(f"{sys.executable} -m fastglorot bench --size 64MiB | head -1; "
                            "echo status ${PIPESTATUS[0]}", shell=True, executable="/bin/bash", capture_output=True,
                            text=True, env=env, timeout=300)
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("# ") and lines[1] == "status 141"
    assert result.stderr == ""


# -- warmup says when the cache cannot be written -----------------------------------------------------------------

def test_warmup_with_an_unwritable_cache_dir_fails_before_compiling(python_runner, tmp_path):
    # numba passes the unwritable NUMBA_CACHE_DIR over for the user cache directory: a temporary one here, so
    # the test leaves nothing in the real home
    user_cache = tmp_path / "xdg-cache"
    result = python_runner("import sys\nfrom fastglorot._cli import main\n"
                           "sys.exit(main(['warmup', '--dtypes', 'float64', '--distributions', 'normal']))",
                           env={"NUMBA_CACHE_DIR": "/proc/nb", "XDG_CACHE_HOME": str(user_cache)}, check=False)
    assert result.returncode == 1 and result.stdout == ""  # no kernel times: nothing was compiled
    assert not any(user_cache.rglob("*.nb[ic]"))
    assert result.stderr.startswith("fastglorot warmup: error: NUMBA_CACHE_DIR=/proc/nb is not a writable directory")


def test_warmup_reports_the_cache_directory(python_runner, tmp_path):
    cache = tmp_path / "cache"
    result = python_runner("import sys\nfrom fastglorot._cli import main\n"
                           "sys.exit(main(['warmup', '--dtypes', 'float32', '--distributions', 'uniform']))",
                           env={"NUMBA_CACHE_DIR": str(cache)})
    assert result.stdout.splitlines()[-1].startswith(f"cached in {cache}")


V2_KERNELS = {"fill_normal_float32_v2", "fill_normal_half_v2", "fill_truncated_normal_float32_v2",
              "fill_truncated_normal_half_v2"}


def test_warmup_compiles_both_stream_formats_kernels_by_default():
    """The default covers every fill kernel, format 2's own four included, so that a cache warmed by default
    serves code in either format; one format's jobs are that format's kernels (the shared ones included)."""
    from fastglorot._engines import warmup as _warmup
    from fastglorot._engines.kernel_set import kernel_name, kernel_specs

    def kernels(*formats):
        jobs = _warmup._jobs(_warmup.WARMUP_DISTRIBUTIONS, _warmup.WARMUP_DTYPES, *formats)
        names = [kernel_name(*job) for job in jobs]
        assert len(names) == len(set(names))  # one job per kernel
        return set(names)

    every = {spec.name for spec in kernel_specs()} - {"fill_bits"}  # raw words: no initializer fills them
    assert kernels() == every and V2_KERNELS <= every
    assert kernels([1]) == every - V2_KERNELS
    assert kernels([2]) == {kernel_name(d, t, 2) for d in _warmup.WARMUP_DISTRIBUTIONS for t in _warmup.WARMUP_DTYPES}
    assert V2_KERNELS <= kernels([2]) and "fill_normal_float32" not in kernels([2])
    with pytest.raises(ValueError, match="stream_formats entries must be 1 or 2, got 3"):
        fastglorot.warmup(["float32"], ["normal"], stream_formats=[1, 3])
    with pytest.raises(ValueError, match="stream_formats must be a non-empty sequence"):
        fastglorot.warmup(["float32"], ["normal"], stream_formats=2)


def test_warmup_of_the_v2_kernels_fills_a_cold_cache(python_runner, tmp_path):
    """``fastglorot warmup --stream-format 2`` compiles format 2's own kernel into an empty cache; a later
    process then fills in format 2 on that kernel without compiling (no compile notice)."""
    cache = tmp_path / "cache"
    result = python_runner("import sys\nfrom fastglorot._cli import main\n"
                           "sys.exit(main(['warmup', '--dtypes', 'float32', '--distributions', 'normal', "
                           "'--stream-format', '2', '--processes', '1']))", env={"NUMBA_CACHE_DIR": str(cache)})
    lines = result.stdout.splitlines()
    assert lines[0].startswith("normal float32 v2 ") and lines[-1].startswith(f"cached in {cache}")
    assert [p.name.split("-")[0] for p in cache.rglob("*.nbi")] == ["kernels.fill_normal_float32_v2"]
    loaded = python_runner("import numpy as np, fastglorot\n"
                           "fastglorot.glorot_normal_(np.empty((300, 200), np.float32), seed=4, stream_format=2)",
                           env={"NUMBA_CACHE_DIR": str(cache), "FASTGLOROT_QUIET": None,
                                "FASTGLOROT_NUMPY_MAX_BYTES": "0"})
    assert loaded.stderr == ""  # "fastglorot: compiling the ... kernel" had it not been cached
    assert sorted(p.name.split("-")[0] for p in cache.rglob("*.nbi")) == ["kernels.fill_normal_float32_v2"]


def test_warmup_labels_name_format_2s_own_kernels():
    from fastglorot._engines import warmup as _warmup

    assert _warmup._label(("normal", "bfloat16", 2)) == "normal float16/bfloat16 v2"
    assert _warmup._label(("uniform", "float32", 2)) == "uniform float32"  # format 1's kernel
    assert _warmup._label(("normal", "float64", 2)) == "normal float64"
    assert _warmup._label(("truncated_normal", "float32", 1)) == "truncated_normal float32"


def test_no_writable_cache_location_is_reported_and_warmup_compiles_here(monkeypatch):
    """numba finds no location it can write (a read-only install, no NUMBA_CACHE_DIR): the kernels compile in
    memory; the library's warmup says so and compiles in this process only (no compiler processes)."""
    from fastglorot._engines import jit as _jit, warmup as _warmup

    monkeypatch.setattr(_jit, "cache_directory", lambda dispatcher: None)
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    directory, problem = _warmup.cache_problem(["float32"], ["uniform"], compiled=False)
    assert directory is None and "numba cannot write its disk cache" in problem and "compiled in memory" in problem
    with pytest.warns(UserWarning, match="numba cannot write its disk cache"):
        times = fastglorot.warmup(["float32"], ["uniform"], processes=2)
    assert set(times) == {"uniform float32", "total"}


# -- no traceback escapes: one line for every error, FASTGLOROT_TRACEBACK=1 for the traceback ---------------------

@pytest.mark.parametrize("error, status, line", [
    (KeyboardInterrupt(), 130, "fastglorot warmup: interrupted"),
    (OSError(28, "No space left on device"), 1, "fastglorot warmup: error: [Errno 28] No space left on device"),
    (MemoryError(), 1, "fastglorot warmup: error: MemoryError"),
    (ImportError("libcuda.so.1: cannot open shared object file"), 1,
     "fastglorot warmup: error: libcuda.so.1: cannot open shared object file"),
    (RuntimeError("a broken\ninvariant"), 1, "fastglorot warmup: internal error (RuntimeError: a broken invariant); "
                                             "this is a bug in fastglorot, please report it with the command line; "
                                             "FASTGLOROT_TRACEBACK=1 shows the traceback"),
], ids=["interrupt", "oserror", "memoryerror", "importerror", "bug"])
def test_an_exception_escaping_a_command_is_one_line(monkeypatch, capsys, error, status, line):
    from fastglorot import _cli

    def fail(argv):
        raise error

    monkeypatch.delenv("FASTGLOROT_TRACEBACK", raising=False)
    monkeypatch.setattr(_cli, "_main", fail)
    assert _cli.main(["warmup", "--dtypes", "float32"]) == status
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [line] and captured.out == ""


def _failing_init(tmp_path: Path, env: dict) -> subprocess.CompletedProcess:
    """``fastglorot init`` in a fresh interpreter whose writer has a bug (it raises a RuntimeError)."""
    (tmp_path / "spec.json").write_text('{"w": {"shape": [8, 8], "init": "glorot_uniform"}}')
    code = ("import sys\nimport fastglorot.io\n"
            "def write_checkpoint(*args, **kwargs):\n    raise RuntimeError('shard plan of w is empty')\n"
            "fastglorot.io.write_checkpoint = write_checkpoint\n"
            "from fastglorot._cli import main\nsys.exit(main(['init', 'w.safetensors', '--spec', 'spec.json']))")
    full_env = {name: value for name, value in os.environ.items() if name != "FASTGLOROT_TRACEBACK"}
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), full_env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={**full_env, **env}, capture_output=True,
                          text=True, timeout=120)


def test_a_bug_in_init_is_one_line_and_the_traceback_on_request(tmp_path):
    result = _failing_init(tmp_path, {})
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "fastglorot init: internal error (RuntimeError: shard plan of w is empty); this is a bug in fastglorot, "
        "please report it with the command line; FASTGLOROT_TRACEBACK=1 shows the traceback"]
    shown = _failing_init(tmp_path, {"FASTGLOROT_TRACEBACK": "1"})
    lines = shown.stderr.splitlines()
    assert shown.returncode == 1 and lines[0] == "Traceback (most recent call last):"
    assert "RuntimeError: shard plan of w is empty" in lines and "in write_checkpoint" in shown.stderr
    assert lines[-1] == ("fastglorot init: internal error (RuntimeError: shard plan of w is empty); this is a bug "
                         "in fastglorot, please report it with the command line")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.json"]


def test_a_user_error_shows_its_traceback_only_on_request(tmp_path, monkeypatch, capsys):
    from fastglorot import _cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.json").write_text('{"w": {"shape": [8, 8], "init": "no_such_init"}}')
    monkeypatch.delenv("FASTGLOROT_TRACEBACK", raising=False)
    assert _cli.main(["init", "w.safetensors", "--spec", "spec.json"]) == 1
    quiet = capsys.readouterr().err
    assert len(quiet.splitlines()) == 1 and quiet.startswith("fastglorot init: error: ") and "no_such_init" in quiet
    monkeypatch.setenv("FASTGLOROT_TRACEBACK", "1")
    assert _cli.main(["init", "w.safetensors", "--spec", "spec.json"]) == 1
    loud = capsys.readouterr().err
    assert loud.startswith("Traceback (most recent call last):") and loud.splitlines()[-1] == quiet.strip()


def test_help_names_the_traceback_variable():
    assert "FASTGLOROT_TRACEBACK=1" in " ".join(fastglorot_cli("--help").stdout.split())


def test_a_config_that_transformers_refuses_is_one_line(tmp_path):
    """transformers' own validation errors (huggingface_hub's, no ValueError) are the user's config, not a bug."""
    pytest.importorskip("transformers")
    config = tmp_path / "config.json"
    config.write_text('{"model_type": "llama", "hidden_size": "wide", "num_hidden_layers": 1}')
    result = fastglorot_cli("init", str(tmp_path / "out"), "--config", str(config), "--seed", "1")
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"fastglorot init: error: {config}: transformers cannot read this config: ")
    assert "hidden_size" in result.stderr and "internal error" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]


# -- python -m fastglorot._codegen says what it changed, and "unchanged" when nothing did ----------------------------

def test_codegen_says_unchanged_when_nothing_changed(tmp_path, monkeypatch, capsys):
    """Run on copies of the checkout's generated module and README (the real ones are never written here)."""
    from fastglorot import _codegen

    generated, readme = tmp_path / "_generated_api.py", tmp_path / "README.md"
    generated.write_text(_codegen.generate())
    readme.write_text((REPO / "README.md").read_text())
    if _codegen.readme_table() not in readme.read_text():
        pytest.skip("the README's Initializers table is stale (tests/test_registry.py reports it)")
    monkeypatch.setattr(_codegen, "GENERATED", generated)
    monkeypatch.setattr(_codegen, "README", readme)
    os.utime(generated, ns=(1, 1))
    os.utime(readme, ns=(1, 1))
    _codegen.main()
    assert capsys.readouterr().out.splitlines() == [f"{generated}: unchanged",
                                                    f"{readme}: the Initializers table is unchanged"]
    assert generated.stat().st_mtime_ns == readme.stat().st_mtime_ns == 1  # not even rewritten

    generated.write_text(generated.read_text() + "# edited by hand\n")
    readme.write_text(readme.read_text().replace(_codegen.readme_table(), "| fastglorot | distribution | torch.nn.init "
                                                                          "|\n| stale |"))
    _codegen.main()
    assert capsys.readouterr().out.splitlines() == [f"wrote {generated}",
                                                    f"updated the Initializers table in {readme}"]
    assert generated.read_text() == _codegen.generate()
    assert _codegen.readme_table() in readme.read_text()


# -- warnings are one line in the command's terms -------------------------------------------------------------------

def test_init_shows_a_warning_as_one_line_without_the_library_source(tmp_path):
    """A warning that a command's input causes (here a zero-element tensor, which the API warns about) is one
    ``fastglorot init: warning: ...`` line, not Python's file/line/source display; the output is still written."""
    (tmp_path / "spec.json").write_text('{"w": {"shape": [0, 8], "init": "glorot_uniform"}, '
                                        '"b": {"shape": [4], "init": "zeros"}}')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-m", "fastglorot", "init", "out.safetensors", "--spec", "spec.json",
                             "--quiet"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "fastglorot init: warning: 'w' (shape [0, 8]): Initializing zero-element tensors is a no-op"]
    assert (tmp_path / "out.safetensors").is_file()
    # the filters still decide: -W error turns the warning into the command's one-line error, nothing written
    (tmp_path / "out.safetensors").unlink()
    strict = subprocess.run([sys.executable, "-W", "error::UserWarning", "-m", "fastglorot", "init", "out.safetensors",
                             "--spec", "spec.json", "--quiet"], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=120)
    assert strict.returncode == 1 and len(strict.stderr.splitlines()) == 1, strict.stderr
    assert strict.stderr.startswith("fastglorot init: error: 'w' (shape [0, 8]): Initializing zero-element")
    assert not (tmp_path / "out.safetensors").exists()
