"""The README as a front page: its table of contents, its length, its links, and its code blocks run.

tests/test_project.py runs the README's main examples in this process; the
tests here check the structure (every link resolves, the contents list every
section), run the blocks that need a fresh interpreter or a smaller size, and
pin the figures the README states about the library's own behaviour.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
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
MAX_LINES = 1000  # 900 until 0.6.0; stream format 2's definition (#30) belongs here, not in the lab notes

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

def test_readme_has_at_most_1000_lines():
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


# (d) every python and bash block runs as written, in a fresh directory

BLOCK = re.compile(r"^(?P<indent>[ \t]*)```(?P<language>[^\n`]*)\n(?P<code>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)
RUN_LANGUAGES = ("python", "bash")
NOT_CODE = ("", "text")
"""Fences of blocks that are not programs (formulas, layouts); any other language is refused (see the test)."""

NOT_RUN = {
    'python -m pip install ".[bench]" && fastglorot bench':
        "Quickstart: installs fastglorot from the network, then runs the whole benchmark and the whole suite; "
        ".ci/run runs these commands itself (tests/test_project.py checks that)",
    'python -m pip install -e ".[test,bench]"':
        "Development: installs from the network, runs the whole suite (this test included), compiles every kernel and "
        "benchmarks 1 GiB; its commands have their own tests (_codegen: tests/test_registry.py and "
        "tests/test_cli.py; warmup: tests/test_first_use.py; bench: tests/test_cli.py)",
    "dask scheduler                                    # on one machine: tcp://HOST:8786":
        "starts a Dask scheduler and workers on several machines (servers that run until stopped); "
        "tests/test_io_distributed.py runs --scheduler on a LocalCluster",
    "fill(block, global_shape=G, global_offset=o) == fill(np.empty(G))[o0:o0+b0, o1:o1+b1, ...]   # bit for bit":
        "an equation in Python notation (fill, G, o and b are placeholders), not a program; "
        "tests/test_blocks.py tests it for every distribution and dtype",
}
"""Blocks not run here, keyed by their first line, and why (a new block is run unless it is listed here)."""

NEEDS_GPU = {"import torch, fastglorot"}
"""Blocks that fill on a CUDA GPU: run where torch sees one and numba-cuda is installed, skipped elsewhere."""

SCALED = {
    "import fastglorot.dask": (("(131072, 65536)", "(1024, 512)"), ("chunks=(2048, 8192)", "chunks=(256, 128)")),
    "fastglorot init --example llama-7b --print-spec > llama-7b.json     # a 7B-shaped spec to start from":
        (("--example llama-7b --print-spec", "--example llama-tiny --print-spec"),),
}
"""Blocks run smaller than written (32 GiB and 12.6 GiB outputs), by exact substitutions, each of which must apply.

The blocks stay correct as written: ``FASTGLOROT_README_FULL_SIZE=1`` runs them unchanged (minutes, and the disk).
"""

WRITES = {
    "import fastglorot.dask": {"w.zarr"},
    "fastglorot init --example llama-7b --print-spec > llama-7b.json     # a 7B-shaped spec to start from":
        {"llama-7b.json", "llama-7b", "w.json", "w.npy", "tiny-config", "tiny-llama", "like-tiny.safetensors"},
    "import fastglorot.io": {"model.safetensors"},
    'fastglorot init --example llama-tiny --print-spec --stream-format 2 > tiny-v2.json   # every entry: "stream_format": 2': {"tiny-v2", "tiny-v2.json"},
}
"""The files a block is there to write, in its working directory; every other block leaves that directory empty."""


@dataclasses.dataclass(frozen=True)
class Block:
    """A fenced code block of README.md."""

    language: str
    code: str
    line: int
    section: str

    @property
    def key(self) -> str:
        """Its first non-empty line, which names it in the lists above."""
        return next(line.strip() for line in self.code.splitlines() if line.strip())


def readme_blocks(text: str = TEXT) -> list[Block]:
    """Every fenced block, indented ones (in list items) included, dedented, with its line and ``##`` section."""
    blocks = []
    for match in BLOCK.finditer(text):
        before = text[:match.start()]
        sections = re.findall(r"^## (.+)$", FENCE.sub("", before), re.M)
        blocks.append(Block(match.group("language").strip(), textwrap.dedent(match.group("code")),
                            before.count("\n") + 1, sections[-1] if sections else ""))
    return blocks


def _listed() -> list[str]:
    """Every block key the lists here name (each must name a README block)."""
    return [key for listing in (NOT_RUN, NEEDS_GPU, SCALED, WRITES, CHECKS) for key in listing]


def _runnable() -> list[Block]:
    return [block for block in readme_blocks() if block.language in RUN_LANGUAGES and block.key not in NOT_RUN]


def _block_id(block: Block) -> str:
    same = [b for b in readme_blocks() if b.section == block.section and b.language in RUN_LANGUAGES]
    return f"{block.section}-{same.index(block) + 1}"


def test_every_block_is_run_or_listed_with_a_reason():
    blocks = readme_blocks()
    assert len(blocks) >= 15
    strange = [f"line {b.line}: ```{b.language}" for b in blocks if b.language not in RUN_LANGUAGES + NOT_CODE]
    assert not strange, (f"README blocks in a language this test neither runs nor knows: {strange}; use ```python or "
                         "```bash (run here) or ```text (not a program)")
    keys = [b.key for b in blocks if b.language in RUN_LANGUAGES]
    stale = set(_listed()) - set(keys)
    assert not stale, f"listed here but no README block starts with it any more: {stale}"
    ambiguous = {key for key in _listed() if keys.count(key) > 1}
    assert not ambiguous, f"several blocks start with these listed lines, the lists cannot tell them apart: {ambiguous}"
    assert all(len(reason) > 40 for reason in NOT_RUN.values())


def test_block_parser_finds_indented_blocks_and_sections():
    text = "## A\n\n```bash\necho 1\n```\n\n- item:\n\n  ```python\n  x = 1\n  ```\n## B\n```text\nformula\n```\n"
    assert [(b.language, b.code, b.section) for b in readme_blocks(text)] == [
        ("bash", "echo 1\n", "A"), ("python", "x = 1\n", "A"), ("text", "formula\n", "B")]


def _scaled(block: Block) -> str:
    code = block.code
    if os.environ.get("FASTGLOROT_README_FULL_SIZE") == "1":
        return code
    for old, new in SCALED.get(block.key, ()):
        assert code.count(old) == 1, f"README block at line {block.line} changed: {old!r} is not in it once"
        code = code.replace(old, new)
    return code


def _imports(code: str) -> set[str]:
    """Top-level modules a Python program imports."""
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _skip_reason(block: Block) -> str | None:
    """Why this machine cannot run ``block`` (a framework the block imports is not installed, no GPU), or None."""
    needed = set()
    if block.language == "python":
        needed = _imports(block.code)
    else:
        for program in re.findall(r"python -c '([^']*)'", block.code):
            needed |= _imports(program)
        if "--config" in block.code:
            needed |= {"torch", "transformers"}
        if ".safetensors" in block.code:
            needed.add("safetensors")
    absent = sorted(name for name in needed if importlib.util.find_spec(name) is None)
    if absent:
        return f"not installed: {', '.join(absent)}"
    if block.key in NEEDS_GPU:
        import torch

        if not torch.cuda.is_available() or importlib.util.find_spec("numba_cuda") is None:
            return "needs a CUDA GPU and numba-cuda"
    return None


def _block_environment(bin_dir: Path) -> dict[str, str]:
    """A user's environment: this checkout on the path, ``fastglorot`` and ``python`` commands running it, and
    none of the suite's settings (the NumPy budget 0, KERAS_BACKEND); the suite's numba cache is kept."""
    bin_dir.mkdir()
    for name, command in (("fastglorot", f'exec "{sys.executable}" -m fastglorot "$@"'),
                          ("python", f'exec "{sys.executable}" "$@"')):
        (bin_dir / name).write_text(f"#!/bin/sh\n{command}\n")
        (bin_dir / name).chmod(0o755)
    env = {name: value for name, value in os.environ.items()
           if name not in ("FASTGLOROT_NUMPY_MAX_BYTES", "KERAS_BACKEND", "FASTGLOROT_TRACEBACK")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")])
    return env


def run_block(block: Block, tmp_path: Path) -> tuple[Path, subprocess.CompletedProcess]:
    """Run ``block`` (scaled) in a fresh interpreter or ``bash -e``, in the empty directory ``tmp_path / "cwd"``."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = _block_environment(tmp_path / "bin")
    code = _scaled(block)
    if block.language == "python":
        script = tmp_path / f"README-line-{block.line}.py"  # outside cwd: the block's own files only
        script.write_text(code)
        argv = [sys.executable, str(script)]
    else:
        argv = ["bash", "-e", "-o", "pipefail", "-c", code]
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    return cwd, result


def _check_dask(cwd: Path) -> None:
    import zarr

    import fastglorot

    written = zarr.open(str(cwd / "w.zarr"), mode="r")
    corner = fastglorot.glorot_normal((256, 128), seed=7, stream="w", global_shape=written.shape)
    assert np.array_equal(written[:256, :128], corner)


def _check_checkpoints(cwd: Path) -> None:
    import fastglorot

    assert np.array_equal(np.load(cwd / "w.npy"), fastglorot.kaiming_normal((1024, 1024), seed=1, stream="w"))
    assert json.loads((cwd / "tiny-config" / "config.json").read_text())["model_type"] == "llama"
    index = json.loads((cwd / "tiny-llama" / "model.safetensors.index.json").read_text())
    assert (cwd / "tiny-llama" / "config.json").is_file() and len(set(index["weight_map"].values())) > 1
    from safetensors import safe_open

    with safe_open(str(cwd / "like-tiny.safetensors"), framework="numpy") as f:
        assert set(f.keys()) == set(index["weight_map"])
    assert any((cwd / "llama-7b").glob("*.safetensors"))


def _check_python_checkpoint(cwd: Path) -> None:
    from safetensors import safe_open

    with safe_open(str(cwd / "model.safetensors"), framework="numpy") as f:
        assert sorted(f.keys()) == ["encoder.bias", "encoder.weight", "head.weight"]


def _check_stream_format_2_checkpoint(cwd: Path) -> None:
    """Written in format 2, as the printed spec says, and recorded so: the index's metadata and every tensor
    equal to the core's format-2 value of its initializer (the spec's entry)."""
    import fastglorot
    from safetensors import safe_open

    spec = json.loads((cwd / "tiny-v2.json").read_text())
    assert {entry["stream_format"] for entry in spec.values()} == {2}
    index = json.loads((cwd / "tiny-v2" / "model.safetensors.index.json").read_text())
    assert index["metadata"]["fastglorot_stream_format"] == "2"
    name, entry = next((n, e) for n, e in spec.items() if e["init"] in ("normal", "trunc_normal", "kaiming_normal"))
    with safe_open(str(cwd / "tiny-v2" / index["weight_map"][name]), framework="numpy") as f:
        kwargs = {k: v for k, v in entry.items() if k not in ("shape", "dtype", "init", "stream_format")}
        want = getattr(fastglorot, entry["init"])(tuple(entry["shape"]), dtype=entry.get("dtype", "float32"), seed=1,
                                                  stream=name, stream_format=2, **kwargs)
        assert np.array_equal(np.asarray(f.get_tensor(name)).view(np.uint16 if want.itemsize == 2 else np.uint32),
                              want.view(np.uint16 if want.itemsize == 2 else np.uint32))


CHECKS = {
    "import fastglorot.dask": _check_dask,
    'fastglorot init --example llama-tiny --print-spec --stream-format 2 > tiny-v2.json   # every entry: "stream_format": 2': _check_stream_format_2_checkpoint,
    "fastglorot init --example llama-7b --print-spec > llama-7b.json     # a 7B-shaped spec to start from":
        _check_checkpoints,
    "import fastglorot.io": _check_python_checkpoint,
}
"""What the blocks that write files wrote, read back (values from fastglorot's own functions)."""


@pytest.mark.parametrize("block", _runnable(), ids=_block_id)
def test_readme_block_runs_as_written_in_a_fresh_directory(block, tmp_path):
    keys = [b.key for b in readme_blocks()]
    unmatched = {key for key in _listed() if keys.count(key) != 1}
    assert not unmatched, f"listings that match no single README block (a block could run unscaled): {unmatched}"
    reason = _skip_reason(block)
    if reason:
        pytest.skip(f"README line {block.line}: {reason}")
    try:
        cwd, result = run_block(block, tmp_path)
        assert result.returncode == 0, f"README line {block.line}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        left = {path.name for path in cwd.iterdir()}
        assert left == WRITES.get(block.key, set()), f"README line {block.line} left {sorted(left)} in its directory"
        if block.key in CHECKS:
            CHECKS[block.key](cwd)
    finally:
        shutil.rmtree(tmp_path / "cwd", ignore_errors=True)  # written files (GiB at full size) go at once


def test_large_blocks_are_scaled_by_substitutions_that_apply():
    for key, substitutions in SCALED.items():
        block = next(b for b in readme_blocks() if b.key == key)
        for old, _ in substitutions:
            assert block.code.count(old) == 1, (key, old)


def test_keras_block_sets_its_backend_before_importing_keras():
    code = _code_blocks("Keras", "python")[0]
    assert code.index('os.environ.setdefault("KERAS_BACKEND"') < code.index("import keras")


def test_usage_torch_block_runs_on_its_own():
    pytest.importorskip("torch")
    with_torch = _code_blocks("Usage", "python")[1]
    namespace: dict = {}
    exec(compile(with_torch, "README.md", "exec"), namespace)
    layer = namespace["layer"]
    expected = namespace["fastglorot"].glorot_uniform((4096, 1024), seed=2024, stream="decoder.proj.weight")
    assert np.array_equal(layer.weight.detach().numpy(), expected)


# (e) the commands of the bash blocks

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
