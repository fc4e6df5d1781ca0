"""The README as a front page: its table of contents, its length, its links, and its code blocks run.

tests/test_project.py runs the README's main examples in this process; the
tests here check the structure (every link resolves, the contents list every
section), run the blocks that need a fresh interpreter or a smaller size, and
pin the figures the README states about the library's own behaviour.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
BENCH_README = REPO / "bench" / "README.md"
TEXT = README.read_text()
MAX_LINES = 900

FENCE = re.compile(r"^\s*```.*?^\s*```[ \t]*$", re.M | re.S)
LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^)\s]+)\)")


def _prose(text: str) -> str:
    """``text`` without fenced code blocks and inline code spans (whose brackets are not links)."""
    return re.sub(r"`[^`\n]*`", "", FENCE.sub("", text))


def _headings(text: str) -> list[tuple[int, str]]:
    """(level, title) of every heading outside code blocks (a ``# comment`` in a block is not one)."""
    return [(len(m.group(1)), m.group(2).strip())
            for m in re.finditer(r"^(#{1,6}) (.+)$", FENCE.sub("", text), re.M)]


def github_slug(title: str) -> str:
    """GitHub's heading anchor: rendered text, lowercased, only letters, digits, ``_``, ``-`` and spaces kept,
    spaces to hyphens."""
    text = LINK.sub(r"\1", title)
    text = re.sub(r"[`*]", "", text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading anchor of a Markdown file, duplicates numbered ``-1``, ``-2`` as GitHub does."""
    seen: dict[str, int] = {}
    result = set()
    for _, title in _headings(text):
        slug = github_slug(title)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def _section(title: str, text: str = TEXT) -> str:
    return re.search(rf"^## {re.escape(title)}\s*$(.*?)(?=^## |\Z)", text, re.M | re.S).group(1)


def _code_blocks(title: str, language: str = "[a-z]*") -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", _section(title), re.S)


def _contents() -> str:
    """The contents list: from the ``**Contents**`` line to the first ``##`` section."""
    match = re.search(r"^\*\*Contents\*\*\s*$(.*?)^## ", TEXT, re.M | re.S)
    assert match, "README has no **Contents** list before its first section"
    return match.group(1)


@pytest.mark.parametrize("title, slug", [
    ("Buffers, dtypes and arguments", "buffers-dtypes-and-arguments"),
    ("Threads, safety and compilation", "threads-safety-and-compilation"),
    ("`fastglorot bench`", "fastglorot-bench"),
    ("JAX and Flax", "jax-and-flax"),
    ("Install and optional frameworks", "install-and-optional-frameworks"),
])
def test_github_slug(title, slug):
    assert github_slug(title) == slug


def test_anchors_number_duplicates():
    assert anchors("## A b\n\n```python\n# not a heading\n```\n### A b\n") == {"a-b", "a-b-1"}


# (a) table of contents

def test_contents_come_right_after_the_introduction():
    start = TEXT.index("**Contents**")
    assert _headings(TEXT[:start]) == [(1, "fastglorot")]
    assert TEXT.index("## Quickstart") > start


def test_every_contents_link_resolves_to_a_heading():
    targets = [target for _, target in LINK.findall(_contents())]
    local = [target[1:] for target in targets if target.startswith("#")]
    assert local, "the contents list has no section links"
    missing = sorted(set(local) - anchors(TEXT))
    assert not missing, f"contents links without a heading: {missing}"
    assert "bench/README.md" in targets


def test_every_section_is_in_the_contents():
    listed = {target[1:] for _, target in LINK.findall(_contents()) if target.startswith("#")}
    sections = [title for level, title in _headings(TEXT) if level == 2]
    assert len(sections) >= 15
    missing = [title for title in sections if github_slug(title) not in listed]
    assert not missing, f"sections missing from the contents: {missing}"


# (b) length

def test_readme_has_at_most_900_lines():
    lines = len(TEXT.splitlines())
    assert lines <= MAX_LINES, (f"README.md has {lines} lines (at most {MAX_LINES}): move measurements and "
                                "analyses to bench/README.md")


def test_readme_keeps_no_lab_notes():
    """Targets, stage analyses and per-round histories live in bench/README.md."""
    notes = BENCH_README.read_text()
    for phrase in ("Targets for AVX2", "where the time goes", "per round", "Found on the way"):
        assert phrase not in TEXT and phrase in notes, phrase


# (c) links

@pytest.mark.parametrize("path", [README, BENCH_README], ids=["README.md", "bench/README.md"])
def test_relative_links_point_to_existing_files_and_headings(path):
    text = path.read_text()
    links = LINK.findall(_prose(text))
    assert links
    broken = []
    for _, target in links:
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        file = (path.parent / file_part).resolve() if file_part else path
        if not file.exists():
            broken.append(f"{target}: no file {file}")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file.read_text()):
            broken.append(f"{target}: no heading #{anchor} in {file.relative_to(REPO)}")
    assert not broken, broken


def test_readme_and_bench_notes_link_to_each_other():
    assert "(bench/README.md" in TEXT
    assert "(../README.md" in BENCH_README.read_text()


# (d) the Keras block in a fresh interpreter

def test_keras_block_sets_its_backend_before_importing_keras():
    code = _code_blocks("Keras", "python")[0]
    assert code.index('os.environ.setdefault("KERAS_BACKEND"') < code.index("import keras")


def test_keras_block_runs_in_a_fresh_interpreter_without_keras_backend(tmp_path):
    for module in ("keras", "jax"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")
    env = {name: value for name, value in os.environ.items() if name != "KERAS_BACKEND"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PYTHONWARNINGS"] = "ignore::DeprecationWarning"  # Keras' own saving code on NumPy 2
    code = _code_blocks("Keras", "python")[0]
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, timeout=300,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "model.keras").exists()


# (e) the other blocks that are meant to run

def test_usage_torch_block_runs_after_the_usage_example():
    pytest.importorskip("torch")
    usage, with_torch = _code_blocks("Usage", "python")[:2]
    namespace: dict = {}
    exec(compile(usage + "\n" + with_torch, "README.md", "exec"), namespace)
    layer = namespace["layer"]
    expected = namespace["fastglorot"].glorot_uniform((4096, 1024), seed=2024, stream="decoder.proj.weight")
    assert np.array_equal(layer.weight.detach().numpy(), expected)


def test_dask_block_runs_at_a_smaller_size(tmp_path, monkeypatch):
    pytest.importorskip("dask.array")
    zarr = pytest.importorskip("zarr")
    code = _code_blocks("Dask", "python")[0]
    small = code.replace("(131072, 65536)", "(1024, 512)").replace("chunks=(2048, 8192)", "chunks=(256, 128)")
    assert small.count("(1024, 512)") == 1 and "chunks=(256, 128)" in small, "the README's Dask block changed"
    monkeypatch.chdir(tmp_path)
    exec(compile(small, "README.md", "exec"), {})
    import fastglorot

    written = zarr.open(str(tmp_path / "w.zarr"), mode="r")
    assert np.array_equal(written[...], fastglorot.glorot_normal((1024, 512), seed=7, stream="w"))


def _cli_lines(text: str) -> list[list[str]]:
    """Every ``fastglorot ...`` command of the bash blocks in ``text``, as argument lists."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        block = block.replace("\\\n", " ")
        for line in block.splitlines():
            line = line.strip().split("#", 1)[0].split("&&")[-1].split(">")[0].split("|")[0].strip()
            if line.startswith("fastglorot "):
                commands.append(shlex.split(line))
    return commands


@lru_cache(maxsize=None)
def _help(subcommand: str) -> str:
    return subprocess.run([sys.executable, "-m", "fastglorot._cli", subcommand, "--help"], capture_output=True,
                          text=True, cwd=REPO, timeout=120, check=True).stdout


def test_every_cli_option_in_the_readme_exists():
    commands = _cli_lines(TEXT)
    assert {argv[1] for argv in commands} >= {"bench", "init", "warmup"}
    unknown = [f"{' '.join(argv)}: {flag}" for argv in commands for flag in argv[2:]
               if flag.startswith("--") and flag.split("=")[0] not in _help(argv[1])]
    assert not unknown, unknown
    for flag in re.findall(r"`fastglorot (\w+) [^`]*?(--[a-z-]+)", TEXT):
        assert flag[1] in _help(flag[0]), flag


def test_readme_print_spec_command_writes_a_spec(tmp_path):
    argv = next(argv for argv in _cli_lines(TEXT) if "--print-spec" in argv and "--example" in argv)
    result = subprocess.run([sys.executable, "-m", "fastglorot._cli", *argv[1:]], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    spec = json.loads(result.stdout)
    assert len(spec) > 100 and all("shape" in entry for entry in spec.values())


def test_every_bench_script_is_documented_with_options_it_has():
    notes = BENCH_README.read_text()
    scripts = sorted(path.name for path in (REPO / "bench").glob("bench_*.py"))
    assert scripts
    missing = [name for name in scripts if f"python bench/{name}" not in notes]
    assert not missing, f"bench scripts missing from bench/README.md: {missing}"
    for text in (notes, TEXT):
        for name, options in re.findall(r"python bench/(\w+\.py)((?: --[a-z-]+(?: [^\s`|]+)?)*)", text):
            source = (REPO / "bench" / name)
            assert source.exists(), name
            for flag in re.findall(r"--[a-z-]+", options):
                assert f'"{flag}"' in source.read_text() or flag == "--json", f"{name} has no {flag}"


def test_install_hints_name_the_extras_of_pyproject():
    """From a clone the extra (``".[jax]"``), elsewhere the extra's own requirements: both must exist."""
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for names in re.findall(r'pip install (?:-e )?"\.\[([a-z,]+)\]"', TEXT):
        for name in names.split(","):
            assert name in extras, name
    for name in ("jax", "keras", "dask"):
        for requirement in extras[name]:
            assert f'"{requirement}"' in TEXT, requirement
    for block in FENCE.findall(TEXT):
        assert "fastglorot[" not in block, "pip install fastglorot[extra] needs fastglorot on an index"
    for match in re.finditer(r"fastglorot\[", TEXT):
        assert "only where fastglorot is on an index" in TEXT[match.start():match.start() + 120]


def test_adapter_import_rule_is_documented_once_in_usage():
    usage = _section("Usage")
    assert "One import rule for every adapter" in usage
    for adapter in ("fastglorot.torch", "fastglorot.jax", "fastglorot.keras", "fastglorot.dask"):
        assert adapter in usage
    assert TEXT.count("One import rule for every adapter") == 1


# Figures the README states about the library's own behaviour

def _bound_counts(values: np.ndarray, bound: float) -> tuple[int, int]:
    as64 = values.astype(np.float64)
    return int((as64 == bound).sum()), int((as64 == -bound).sum())


def test_readme_16_bit_bound_figures():
    """README "Buffers, dtypes and arguments": 16-bit uniform values reach the bounds rounded to 16 bits."""
    import ml_dtypes

    import fastglorot

    n = 2**24
    for dtype, bound, counts in [(ml_dtypes.bfloat16, 0.10009765625, (12_275, 12_062)),
                                 (np.float16, 0.0999755859375, (4_461, 4_586))]:
        assert float(np.asarray(0.1, dtype=dtype)) == bound
        x = np.empty(n, dtype=dtype)
        fastglorot.uniform_(x, -0.1, 0.1, seed=1)
        assert _bound_counts(x, bound) == counts
        assert f"{counts[0]:,}" in TEXT and f"{counts[1]:,}" in TEXT
    x32 = np.empty(n, dtype=np.float32)
    fastglorot.uniform_(x32, -0.1, 0.1, seed=1)
    assert -0.1 < x32.min() and x32.max() < 0.1  # float32: strictly inside


def test_readme_torch_16_bit_bound_figures():
    torch = pytest.importorskip("torch")
    for dtype, bound, below in [(torch.bfloat16, 0.10009765625, 24_534), (torch.float16, 0.0999755859375, 9_175)]:
        with torch.random.fork_rng(devices=[]):  # the README's torch.manual_seed(1), not leaking into other tests
            torch.manual_seed(1)
            values = torch.empty(2**24, dtype=dtype).uniform_(-0.1, 0.1).double().numpy()
        upper, lower = _bound_counts(values, bound)
        assert upper == 0 and lower > 0
        if torch.__version__.startswith("2.13."):  # the version the README names
            assert lower == below
            assert f"{below:,}" in TEXT


def test_readme_float16_underflow_warning():
    import fastglorot

    assert "fans of 3.4e15 or more" in TEXT
    with pytest.warns(UserWarning, match="is 0"):
        fastglorot.glorot_uniform((64,), dtype=np.float16, fan_in=3_400_000_000_000_000,
                                  fan_out=3_400_000_000_000_000, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = fastglorot.glorot_uniform((64,), dtype=np.float16, fan_in=10**13, fan_out=10**13, seed=1)
    assert np.count_nonzero(out) > 0
