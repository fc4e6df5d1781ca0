"""First use: the compile notice, ``fastglorot.warmup`` / ``fastglorot warmup``, and the test cache cleanup.

Each test that needs a cold compile gets its own empty ``NUMBA_CACHE_DIR``
and runs in fresh interpreters; float64 uniform is used as the cheapest
kernel to compile (~2 s on the project's 2-core machines).
"""

from __future__ import annotations

import json
import os

import pytest

import fastglorot

NOTICE = "fastglorot: compiling the uniform float64 kernel"
FILL_TWICE = ("import numpy as np, fastglorot\n"
              "fastglorot.uniform_(np.empty(8), seed=1)\n"
              "fastglorot.uniform_(np.empty(8), seed=2)\n"
              "from fastglorot._engines import kernels as _kernels\n"
              "stats = _kernels.fill_uniform_float64.stats\n"
              "print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))\n")


@pytest.mark.slow
def test_notice_once_on_a_cold_cache_never_when_cached_or_quiet(python_runner, tmp_path):
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    cold = python_runner(FILL_TWICE, env=env)
    assert cold.stderr.count(NOTICE) == 1, cold.stderr
    assert "fastglorot warmup" in cold.stderr and "FASTGLOROT_QUIET" in cold.stderr
    assert cold.stdout.split() == ["0", "1"]  # it did compile
    warm = python_runner(FILL_TWICE, env=env)
    assert warm.stdout.split() == ["1", "0"] and NOTICE not in warm.stderr  # loaded from the disk cache
    quiet = python_runner(FILL_TWICE, env={"NUMBA_CACHE_DIR": str(tmp_path / "other"), "FASTGLOROT_QUIET": "1"})
    assert quiet.stdout.split() == ["0", "1"] and quiet.stderr == ""


@pytest.mark.slow
def test_warmup_fills_the_disk_cache_for_later_processes(python_runner, tmp_path):
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    result = python_runner("import json, fastglorot\n"
                           "print(json.dumps(fastglorot.warmup(dtypes=['float64'], distributions=['uniform'], "
                           "processes=2)))", env=env)
    times = json.loads(result.stdout)
    assert set(times) == {"uniform float64", "total"} and times["total"] > 0
    assert result.stderr == ""  # warmup reports times itself, no notices
    later = python_runner(FILL_TWICE, env=env)
    assert later.stdout.split() == ["1", "0"] and NOTICE not in later.stderr


@pytest.mark.slow
def test_cli_warmup_compiles_in_parallel_processes(python_runner, tmp_path):
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    result = python_runner("import sys\nfrom fastglorot._cli import main\n"
                           "sys.exit(main(['warmup', '--dtypes', 'float64', 'float16', '--distributions', 'uniform', "
                           "'--processes', '2']))", env=env)
    lines = result.stdout.splitlines()
    expected = [["uniform", "float64"], ["uniform", "float16/bfloat16"], ["total", "(wall)"]]
    assert [line.split()[:2] for line in lines[:-1]] == expected
    assert lines[-1].startswith(f"cached in {tmp_path / 'cache'}")
    later = python_runner("import numpy as np, ml_dtypes, fastglorot\n"
                          "fastglorot.uniform_(np.empty(8, ml_dtypes.bfloat16), seed=1)\n"
                          "from fastglorot._engines import kernels as _kernels\n"
                          "print(sum(_kernels.fill_uniform_half.stats.cache_hits.values()))", env=env)
    assert later.stdout.strip() == "1" and later.stderr == ""


@pytest.mark.parametrize("kwargs, match", [(dict(dtypes=["int8"]), "dtype must be one of"),
                                           (dict(distributions=["cauchy"]), "distribution must be one of")])
def test_warmup_rejects_unknown_names(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fastglorot.warmup(**kwargs)


def test_the_suite_removes_its_numba_cache_directory(python_runner, tmp_path):
    """conftest registers the session's cache directory for removal at exit; check the mechanism."""
    code = ("import os, sys, tempfile\n"
            f"sys.path.insert(0, {os.path.dirname(__file__)!r})\n"
            "import conftest\n"
            "print(os.environ['NUMBA_CACHE_DIR'])\n")
    env = {"TMPDIR": str(tmp_path)}
    env.pop("FASTGLOROT_TEST_KEEP_CACHE", None)
    result = python_runner(code, env=env)
    created = result.stdout.strip()
    assert created.startswith(str(tmp_path)) and not os.path.exists(created)


def test_huge_page_advice_covers_only_whole_huge_pages_inside_large_outputs(monkeypatch):
    import numpy as np

    from fastglorot._engines import memory as _memory

    calls = []
    monkeypatch.setattr(_memory, "_madvise", lambda start, length, advice: calls.append((start, length, advice)))
    fastglorot.uniform_(np.empty(3 * _memory.HUGE_PAGE_BYTES, np.float32), seed=1)
    assert calls == []  # opt-in (FASTGLOROT_HUGE_PAGES=1): off by default
    monkeypatch.setattr(_memory, "huge_pages", True)
    big = np.empty(3 * _memory.HUGE_PAGE_BYTES + 12345, np.uint8)[4:]  # not 2 MiB aligned
    fastglorot.uniform_(big[: big.size // 4 * 4].view(np.float32), seed=1)
    assert len(calls) == 1
    start, length, advice = calls[0]
    address, end = big.ctypes.data, big.ctypes.data + big.size
    assert advice == 14 and start % _memory.HUGE_PAGE_BYTES == 0 and length % _memory.HUGE_PAGE_BYTES == 0
    assert address <= start and start + length <= end and length >= _memory.HUGE_PAGE_BYTES
    fastglorot.uniform_(np.empty(1000, np.float32), seed=1)  # small outputs: no advice
    fastglorot.uniform_(np.empty((4096, 1024), np.float32).T, seed=1)  # not contiguous: no advice
    assert len(calls) == 1
