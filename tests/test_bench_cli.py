"""``fastglorot bench``: the peers it compares and the report it writes.

Speed itself is measured by ``fastglorot bench`` and ``bench/``, never
asserted here; these tests check that every implementation computes the
right thing and that the CLI's outputs have the documented shape.
"""

import json
import math

import ml_dtypes
import numpy as np
import pytest

import fastglorot
from fastglorot.benchmarks import harness, measure, peers

IMPL_NAMES = {"fastglorot", "memset", "numpy", "numpy-threads", "torch", "parallel-numpy-rng", "mkl-vsl", "mkl-vsl-icdf"}


@pytest.mark.parametrize("name", [n for n in peers.PEERS if n != "memset"])
@pytest.mark.parametrize("dist", peers.DISTS)
@pytest.mark.parametrize("dtype", [np.float32, ml_dtypes.bfloat16])
def test_every_peer_draws_glorot(name, dist, dtype):
    """A peer with the wrong scale (or no fill at all) must not post a time."""
    peer = peers.PEERS[name]
    if not peer.available():
        pytest.skip(f"{peer.module} not installed")
    out = np.zeros((600, 500), dtype)
    peer.make(out, dist, 2)()
    x = out.astype(np.float64)
    scale = math.sqrt((6.0 if dist == "uniform" else 2.0) / 1100)
    if dist == "uniform":
        assert np.abs(x).max() <= scale * (1 + 2**-7) and np.abs(x).max() > 0.99 * scale
        assert x.std() == pytest.approx(scale / math.sqrt(3), rel=0.02)
    else:
        assert x.std() == pytest.approx(scale, rel=0.02)
    assert abs(x.mean()) < 0.01 * scale


@pytest.mark.parametrize("dtype", [ml_dtypes.bfloat16, np.float16, np.float32, np.float64])
def test_memset_fills_the_buffer(dtype):
    out = np.zeros((64, 64), dtype)
    peers.PEERS["memset"].make(out, "uniform", 2)()
    assert np.all(out.astype(np.float32) == 0.5)


@pytest.mark.parametrize("elements, shape", [(2**28, (16384, 16384)), (4096 * 3, (3, 4096)), (4096, (64, 64)),
                                             (4096 * 3 + 7, (3, 4096)), (4096 * 2 - 1, (1, 4096))])
def test_layer_shapes(elements, shape):
    """Square when possible, else whole rows of LAYER_COLUMNS (the remainder dropped)."""
    assert peers.layer_shape(elements) == shape


@pytest.mark.parametrize("elements", [0, 1, 7, 4095])
def test_no_layer_below_one_row(elements):
    with pytest.raises(ValueError, match="at least one row of 4096 elements"):
        peers.layer_shape(elements)


@pytest.mark.parametrize("dtype, row_bytes", [("float32", 16384), ("bfloat16", 8192), ("float16", 8192),
                                              ("float64", 32768)])
def test_smallest_layer_is_one_row(dtype, row_bytes):
    assert harness.layer_for(row_bytes, dtype) == (64, 64)  # 4096 elements: square
    assert harness.layer_for(row_bytes + 1024, dtype) == (1, 4096)
    with pytest.raises(ValueError):
        harness.layer_for(row_bytes - 1, dtype)


def test_bench_quick_json_and_plot(python_runner, tmp_path):
    report, png = tmp_path / "bench.json", tmp_path / "bench.png"
    pytest.importorskip("matplotlib")
    result = python_runner(
        "import sys; from fastglorot._cli import main; "
        f"sys.exit(main(['bench', '--size', '4MiB', '--repeats', '2', '--quick', '--threads', '2', "
        f"'--json', {str(report)!r}, '--plot', {str(png)!r}]))")
    data = json.loads(report.read_text())
    assert set(data) >= {"machine", "size_bytes", "dtype", "threads", "results", "busy"}
    assert set(data["busy"]) >= {"busy", "reasons", "memset_scaling", "spread", "other_cpus"}
    assert data["busy"]["busy"] == bool(data["busy"]["reasons"])
    assert ("WARNING: the machine was busy" in result.stdout) == data["busy"]["busy"]
    assert data["machine"]["isa"] == measure.vector_isa()
    assert f"kernels compiled for {data['machine']['isa']['isa']} " in result.stdout
    assert data["size_bytes"] == 4 << 20 and data["dtype"] == "float32" and data["threads"] == 2
    assert data["stream_format"] == 1 and "fastglorot in stream format 1" in result.stdout  # the default
    assert {r["impl"] for r in data["results"]} <= IMPL_NAMES
    assert {"fastglorot", "memset", "numpy", "numpy-threads"} <= {r["impl"] for r in data["results"]}
    if peers.PEERS["mkl-vsl"].available():  # the best CPU library, when the mkl wheel is installed
        assert {"mkl-vsl", "mkl-vsl-icdf"} <= {r["impl"] for r in data["results"]}
    for row in data["results"]:
        assert set(row) == {"impl", "dist", "gbps", "seconds"}
        assert row["dist"] in ("uniform", "normal") and row["gbps"] > 0 and row["seconds"] > 0
        assert row["gbps"] == pytest.approx(data["size_bytes"] / row["seconds"] / 1e9)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for heading in ("Glorot uniform", "Glorot normal", "x memset", "fastglorot x", "fastest peer"):
        assert heading in result.stdout


@pytest.mark.parametrize("dist", peers.DISTS)
def test_the_fastglorot_peer_fills_in_the_stream_format_asked_for(dist):
    """The core's own values: ``glorot_<dist>(shape, seed=1, stream_format=n)``, bit for bit (v2's normal differs)."""
    allocating = fastglorot.glorot_uniform if dist == "uniform" else fastglorot.glorot_normal
    filled = {}
    for stream_format in (1, 2):
        out = np.zeros((600, 500), np.float32)
        peers.PEERS["fastglorot"].fill_in(out, dist, 2, stream_format)()
        assert out.tobytes() == allocating((600, 500), seed=1, stream_format=stream_format).tobytes()
        filled[stream_format] = out
    assert (filled[1] != filled[2]).any() == (dist == "normal")
    out = np.zeros((600, 500), np.float32)
    with fastglorot.stream_format(2):  # None: the format where the fill is made, not where it is timed
        made = peers.PEERS["fastglorot"].fill_in(out, dist, 2)
    made()
    assert out.tobytes() == filled[2].tobytes()


def test_bench_stream_format_2_runs_fastglorot_in_it_and_says_so(python_runner, tmp_path):
    report = tmp_path / "bench.json"
    result = python_runner(
        "import sys; from fastglorot._cli import main; "
        f"sys.exit(main(['bench', '--size', '4MiB', '--repeats', '1', '--quick', '--threads', '2', '--dist', "
        f"'normal', '--stream-format', '2', '--json', {str(report)!r}]))")
    data = json.loads(report.read_text())
    assert data["stream_format"] == 2 and "fastglorot in stream format 2" in result.stdout.splitlines()[1]
    assert {r["dist"] for r in data["results"]} == {"normal"}
    assert {"fastglorot", "memset", "numpy"} <= {r["impl"] for r in data["results"]}


def test_bench_reports_missing_peers_and_extras(python_runner, tmp_path):
    """A peer whose module is absent is skipped with a note; the extras are measured."""
    report = tmp_path / "bench.json"
    result = python_runner(
        "import sys; from fastglorot import _cli; from fastglorot.benchmarks import peers\n"
        "peers.PEERS['torch'] = peers.PEERS['torch']._replace(module='no_such_module_xyz')\n"
        f"sys.exit(_cli.main(['bench', '--size', '2MiB', '--repeats', '1', '--dist', 'normal', "
        f"'--dtype', 'bfloat16', '--json', {str(report)!r}]))", timeout=600)
    assert "skipped, not installed: torch (needs no_such_module_xyz)" in result.stdout
    data = json.loads(report.read_text())
    assert data["dtype"] == "bfloat16" and {r["dist"] for r in data["results"]} == {"normal"}
    assert "torch" not in {r["impl"] for r in data["results"]}
    assert [row["threads"] for row in data["thread_scaling"]] == list(range(1, data["threads"] + 1))
    memory = data["peak_memory"]  # measured on the --size layer, not a fixed one
    assert memory["shape"] == data["shape"] and memory["dtype"] == "bfloat16"
    assert memory["output"] == data["size_bytes"] == 2 << 20
    assert memory["peak"] >= memory["before"] + memory["output"]
    assert f"Peak memory of glorot_uniform({tuple(data['shape'])}, dtype='bfloat16')" in result.stdout
    assert data["cold_start"]["cold"]["first uniform"] > data["cold_start"]["warm"]["first uniform"]
    # by default a 256x256 fill takes the NumPy path: no compile, no kernel load
    assert data["cold_start"]["numpy_path"]["first uniform"] < data["cold_start"]["cold"]["first uniform"]


def test_bench_rejects_bad_thread_counts(python_runner):
    result = python_runner("from fastglorot._cli import main; main(['bench', '--threads', '999'])", check=False)
    assert result.returncode != 0 and "--threads must lie in" in result.stderr


@pytest.mark.parametrize("cpu_name, features, isa", [
    (None, "+64bit,+avx,+avx2,+avx512f,+avx512bw,+fma,+sse4.2", "AVX-512"),
    (None, "+avx,+avx2,-avx512f,-avx512bw,+sse4.2", "AVX2"),
    ("haswell", "+avx,-avx2,-avx512f,+sse4.2", "AVX"),
    ("nehalem", "+sse4.2,-avx", "SSE4.2"),
    ("generic", "", "SSE2"),
    ("haswell", "", "AVX2"),
    ("skylake-avx512", "", "AVX-512"),
])
def test_vector_isa_follows_numbas_target(monkeypatch, cpu_name, features, isa):
    """The ISA comes from numba's JIT target: NUMBA_CPU_FEATURES (else the host's), NUMBA_CPU_NAME for empty ones."""
    from numba.core import config

    monkeypatch.setattr(config, "CPU_NAME", cpu_name, raising=False)
    monkeypatch.setattr(config, "CPU_FEATURES", features, raising=False)
    found = measure.vector_isa()
    assert found["isa"] == isa
    assert found["cpu_name"] == (cpu_name or __import__("llvmlite.binding").binding.get_host_cpu_name())
    assert "avx512f" not in found["features"] or isa == "AVX-512"


def test_vector_isa_of_the_host_matches_cpuinfo():
    """Without overrides, the host's own features: AVX-512 exactly when /proc/cpuinfo lists avx512f."""
    from numba.core import config

    if config.CPU_NAME is not None or config.CPU_FEATURES is not None:
        pytest.skip("NUMBA_CPU_NAME / NUMBA_CPU_FEATURES set for this run")
    try:
        flags = next(line for line in open("/proc/cpuinfo") if line.startswith("flags")).split()
    except (OSError, StopIteration):
        pytest.skip("no /proc/cpuinfo flags")
    expected = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else None
    if expected is None:
        pytest.skip("neither AVX2 nor AVX-512 host")
    assert measure.vector_isa()["isa"] == expected


def test_generic_target_reports_sse2(python_runner):
    result = python_runner("from fastglorot.benchmarks.measure import vector_isa; print(vector_isa()['isa'])",
                           env={"NUMBA_CPU_NAME": "generic"})
    assert result.stdout.strip() == "SSE2"
