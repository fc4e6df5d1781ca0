"""Checkpoints from a Hugging Face config: ``write_checkpoint(OUT, config=...)`` and ``fastglorot init --config``.

Real transformers models from tiny configs built here (nothing is
downloaded): the output loads with ``from_pretrained`` with no missing and no
unexpected keys, and every tensor equals, bit for bit, an in-memory
``fastglorot.torch.materialize(model_on_meta, seed, init_fn=model._init_weights)``.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import fastglorot
from fastglorot import io
from fastglorot.io import SpecError

from conftest import run_python

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
safetensors = pytest.importorskip("safetensors")
import fastglorot.torch as fi  # noqa: E402

SEED = 20261203


def llama(**overrides):
    """Untied embeddings (Llama's default), float32 (no dtype in the config)."""
    fields = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, vocab_size=256)
    fields.update(overrides)
    return transformers.LlamaConfig(**fields)


def gpt2():
    """Tied embeddings (GPT-2's default); GPT-2's attention init writes its child's c_proj.weight."""
    return transformers.GPT2Config(n_embd=64, n_layer=2, n_head=4, vocab_size=256, n_positions=64, bos_token_id=0,
                                   eos_token_id=0)


def qwen2():
    """Tied embeddings, bfloat16 named by the config."""
    return transformers.Qwen2Config(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                                    num_key_value_heads=2, vocab_size=256, tie_word_embeddings=True, dtype="bfloat16")


def materialized(config, dtype, seed=SEED):
    """The reference: the model built on meta, materialized in memory."""
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(config, dtype=dtype)
    fi.materialize(model, seed, init_fn=model._init_weights)
    return model


def read_checkpoint(directory: Path):
    """name -> tensor of every tensor in ``directory`` (one file or shards), and the shard metadata."""
    from safetensors import safe_open

    index = directory / "model.safetensors.index.json"
    files = sorted(set(json.loads(index.read_text())["weight_map"].values())) if index.exists() else \
        ["model.safetensors"]
    tensors, metadata = {}, {}
    for name in files:
        with safe_open(str(directory / name), framework="pt") as handle:
            metadata = handle.metadata()
            for key in handle.keys():
                assert key not in tensors
                tensors[key] = handle.get_tensor(key)
    return tensors, metadata


def same_bits(a, b) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a.contiguous().view(torch.uint8),
                                                                     b.contiguous().view(torch.uint8))


CASES = {
    "llama-float32": (llama, None, None, torch.float32, None),
    "gpt2-tied-dtype-override": (gpt2, "bfloat16", None, torch.bfloat16, ("lm_head.weight", "transformer.wte.weight")),
    "qwen2-tied-config-dtype-sharded": (qwen2, None, 40_000, torch.bfloat16,
                                        ("lm_head.weight", "model.embed_tokens.weight")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_from_pretrained_loads_every_key_and_values_equal_materialize(tmp_path, case):
    make_config, dtype, max_shard_size, torch_dtype, tie = CASES[case]
    out = tmp_path / "out"
    written = io.write_checkpoint(out, config=make_config(), seed=SEED, dtype=dtype, max_shard_size=max_shard_size)
    assert all(p.is_file() for p in written)
    assert {p.name for p in written} == {p.name for p in out.iterdir()}  # nothing else, no staging left
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert (out / "config.json").is_file() and (out / "generation_config.json").is_file()
    saved = json.loads((out / "config.json").read_text())
    assert saved["dtype"] == str(torch_dtype).removeprefix("torch.") and len(saved["architectures"]) == 1
    sharded = max_shard_size is not None
    assert (out / "model.safetensors.index.json").exists() == sharded and (out / "model.safetensors").exists() != \
        sharded

    reference = materialized(make_config(), torch_dtype).state_dict()
    tensors, metadata = read_checkpoint(out)
    assert metadata["fastglorot_seed"] == str(SEED) and metadata["fastglorot_stream_format"] == "1"
    if tie is not None:  # written once, as save_pretrained does
        assert tie[0] not in tensors and tie[1] in tensors
    assert set(tensors) == set(reference) - ({tie[0]} if tie else set())
    differing = [name for name, tensor in tensors.items() if not same_bits(tensor, reference[name])]
    assert not differing

    model, info = transformers.AutoModelForCausalLM.from_pretrained(out, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"], info
    assert model.dtype == torch_dtype
    loaded = model.state_dict()
    assert set(loaded) == set(reference)
    assert all(same_bits(loaded[name], reference[name]) for name in reference)
    if tie is not None:  # tied again on load
        assert model.get_parameter(tie[0]) is model.get_parameter(tie[1])


def test_a_v2_config_checkpoint_equals_materialize_in_a_v2_block_and_says_so(tmp_path):
    """``stream_format=2``: the model's inits fill through fastglorot in format 2, as ``materialize`` run in a
    ``fastglorot.stream_format(2)`` block does; the metadata says so.  The caller's block works too."""
    out = tmp_path / "out"
    io.write_checkpoint(out, config=llama(), seed=SEED, stream_format=2, max_shard_size=40_000)
    tensors, metadata = read_checkpoint(out)
    assert metadata["fastglorot_stream_format"] == "2"
    index = json.loads((out / "model.safetensors.index.json").read_text())
    assert index["metadata"]["fastglorot_stream_format"] == "2"
    with fastglorot.stream_format(2):
        reference = materialized(llama(), torch.float32).state_dict()
        io.write_checkpoint(tmp_path / "block", config=llama(), seed=SEED, max_shard_size=40_000)
    assert set(tensors) == set(reference)
    assert all(same_bits(tensor, reference[name]) for name, tensor in tensors.items())
    v1 = materialized(llama(), torch.float32).state_dict()  # the format took effect: Llama's normal(std=0.02)
    assert not same_bits(tensors["model.layers.0.mlp.up_proj.weight"], v1["model.layers.0.mlp.up_proj.weight"])
    block = tmp_path / "block"  # the caller's block: the same files
    assert {p.name: p.read_bytes() for p in out.iterdir()} == {p.name: p.read_bytes() for p in block.iterdir()}


def test_same_seed_same_bytes_other_seed_other_values(tmp_path):
    """Another seed, other values; the same seed, the same bytes (the file is a function of config and seed)."""
    a, b, c = (tmp_path / n for n in "abc")
    io.write_checkpoint(a, config=llama(), seed=1)
    io.write_checkpoint(b, config=llama(), seed=1)
    io.write_checkpoint(c, config=llama(), seed=2)
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()
    first, _ = read_checkpoint(a)
    other, _ = read_checkpoint(c)
    assert not torch.equal(first["model.layers.0.mlp.up_proj.weight"], other["model.layers.0.mlp.up_proj.weight"])
    assert torch.equal(first["model.norm.weight"], torch.ones(64))


def test_tensors_no_init_writes_are_zeros_and_named_in_a_warning(tmp_path, monkeypatch):
    """materialize would leave them uninitialized memory; a file gets zeros, never stale process memory."""
    init_weights = transformers.LlamaPreTrainedModel._init_weights

    def skipping_norms(self, module):
        if "RMSNorm" not in type(module).__name__:
            init_weights(self, module)

    monkeypatch.setattr(transformers.LlamaPreTrainedModel, "_init_weights", skipping_norms)
    with pytest.warns(UserWarning, match=r"no init of the model wrote 5 tensor\(s\), written as zeros: .*model.norm"):
        io.write_checkpoint(tmp_path / "out", config=llama(), seed=1)
    tensors, _ = read_checkpoint(tmp_path / "out")
    assert torch.equal(tensors["model.norm.weight"], torch.zeros(64))
    assert tensors["model.layers.0.mlp.up_proj.weight"].std() > 0.01


def test_existing_output_needs_force_and_keeps_files_it_does_not_own(tmp_path):
    out = tmp_path / "out"
    io.write_checkpoint(out, config=llama(), seed=1)
    (out / "README.md").write_text("mine")
    before = (out / "model.safetensors").read_bytes()
    with pytest.raises(FileExistsError, match="config.json"):
        io.write_checkpoint(out, config=llama(), seed=2)
    assert (out / "model.safetensors").read_bytes() == before
    io.write_checkpoint(out, config=llama(), seed=2, max_shard_size=100_000, force=True)
    names = sorted(p.name for p in out.iterdir())
    assert "model.safetensors" not in names and "model.safetensors.index.json" in names  # the old layout is gone
    assert (out / "README.md").read_text() == "mine" and "config.json" in names


def test_bad_input_is_refused_in_the_users_terms_and_nothing_is_written(tmp_path):
    out = tmp_path / "out"
    bad = tmp_path / "bad"
    bad.mkdir()
    cases = {
        tmp_path / "missing.json": (FileNotFoundError, "no such file"),
        bad: (FileNotFoundError, "holds no config.json"),
    }
    (bad / "broken.json").write_text('{"model_type": "llama",')
    cases[bad / "broken.json"] = (SpecError, "not a JSON config")
    (bad / "unknown.json").write_text('{"model_type": "no-such-model"}')
    cases[bad / "unknown.json"] = (SpecError, "'no-such-model' is not an architecture transformers")
    (bad / "nameless.json").write_text('{"hidden_size": 64}')
    cases[bad / "nameless.json"] = (SpecError, "no \"model_type\"")
    (bad / "architecture.json").write_text(json.dumps({**llama().to_dict(), "architectures": ["NoSuchForCausalLM"]}))
    cases[bad / "architecture.json"] = (SpecError, "'NoSuchForCausalLM', a model transformers")
    for config, (error, message) in cases.items():
        with pytest.raises(error, match=message):
            io.write_checkpoint(out, config=config, seed=1)
    with pytest.raises(SpecError, match="not both"):
        io.write_checkpoint(out, {"w": {"shape": [2], "init": "zeros"}}, config=llama())
    with pytest.raises(TypeError, match="needs a spec"):
        io.write_checkpoint(out)
    with pytest.raises(SpecError, match="a directory .* not a .safetensors file"):
        io.write_checkpoint(tmp_path / "model.safetensors", config=llama())
    with pytest.raises(SpecError, match="fastglorot writes float32"):
        io.write_checkpoint(out, config=llama(), dtype="int8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad"]


def test_cli_config_directory_file_and_print_spec(tmp_path):
    """One interpreter for the CLI runs (importing torch and transformers costs seconds each)."""
    directory = tmp_path / "llama"
    llama().save_pretrained(directory)
    code = f"""
import contextlib, io, json, sys
from fastglorot._cli import main
runs = []
for argv in {[
    ["init", str(tmp_path / "from-dir"), "--config", str(directory), "--seed", str(SEED)],
    ["init", str(tmp_path / "from-file"), "--config", str(directory / "config.json"), "--seed", str(SEED), "--quiet"],
    ["init", "--config", str(directory), "--print-spec", "--dtype", "bfloat16"],
    ["init", str(tmp_path / "x"), "--config", str(tmp_path / "nowhere")],
    ["init", str(tmp_path / "x"), "--config", str(directory), "--like", "other.safetensors"],
    ["init", "--config", str(directory), "--print-spec", "--stream-format", "2"],
    ["init", str(tmp_path / "v2"), "--config", str(directory), "--seed", str(SEED), "--stream-format", "2"],
]!r}:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit:
            code = exit.code
    runs.append([code, out.getvalue(), err.getvalue()])
print(json.dumps(runs))
"""
    runs = json.loads(run_python(code).stdout.splitlines()[-1])
    (code, out, err), (code2, out2, _) = runs[0], runs[1]
    assert code == 0 and code2 == 0 and out2 == ""
    assert f"seed {SEED}" in out and "model.safetensors" in out and "config.json" in out
    assert (tmp_path / "from-dir" / "model.safetensors").read_bytes() == \
        (tmp_path / "from-file" / "model.safetensors").read_bytes()
    reference = materialized(llama(), torch.float32).state_dict()
    tensors, _ = read_checkpoint(tmp_path / "from-file")
    assert all(same_bits(tensor, reference[name]) for name, tensor in tensors.items())

    code, out, _ = runs[2]
    listing = json.loads(out)
    assert code == 0 and sorted(listing) == sorted(tensors)
    assert listing["model.embed_tokens.weight"] == {"shape": [256, 64], "dtype": "bfloat16",
                                                    "init": "LlamaForCausalLM._init_weights", "stream_format": 1}
    code, out, _ = runs[5]
    assert code == 0 and {entry["stream_format"] for entry in json.loads(out).values()} == {2}
    code, out, _ = runs[6]
    assert code == 0 and f"seed {SEED}, stream format 2: " in out
    v2, metadata = read_checkpoint(tmp_path / "v2")
    assert metadata["fastglorot_stream_format"] == "2"
    assert not same_bits(v2["model.layers.0.mlp.up_proj.weight"], tensors["model.layers.0.mlp.up_proj.weight"])
    for (code, out, err), (status, message) in zip(runs[3:5], [(1, "nowhere: no such file or directory"),
                                                               (2, "--config is a source of its own")]):
        last = err.strip().splitlines()[-1]
        assert code == status and last.startswith("fastglorot init: error:") and message in last, err
        assert status == 2 or err.strip() == last  # a usage line before argparse's errors; else one line
    assert not (tmp_path / "x").exists()


def test_without_transformers_a_one_line_error_and_nothing_written(tmp_path):
    code = f"""
import sys
sys.modules["transformers"] = None  # as if not installed
from fastglorot._cli import main
sys.exit(main(["init", {str(tmp_path / "out")!r}, "--config", {str(tmp_path)!r}]))
"""
    result = run_python(code, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == result.stderr.strip().splitlines()[0]
    assert 'needs transformers, which is not installed: python -m pip install "transformers>=4.45"' in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_importing_fastglorot_io_imports_neither_torch_nor_transformers():
    result = run_python("import sys, fastglorot.io\n"
                        "print([m for m in ('torch', 'transformers', 'numba') if m in sys.modules])")
    assert result.stdout.strip() == "[]"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_peak_memory_is_bounded_by_the_largest_module_not_the_model(tmp_path):
    """A 12-layer model of ~650 MiB whose largest module (the embedding, the head) is 32 MiB.

    The growth is measured from the resident size just before the write
    (after a warm-up write: imports and kernel compilation) to the peak
    resident size during it (``VmHWM``, reset through ``/proc/self/clear_refs``).
    """
    code = f"""
import json, os, resource
import transformers
from fastglorot.io import write_checkpoint

def config(**small):
    fields = dict(hidden_size=1024, intermediate_size=2816, num_hidden_layers=12, num_attention_heads=8,
                  num_key_value_heads=8, vocab_size=8192)
    fields.update(small)
    return transformers.LlamaConfig(**fields)

write_checkpoint({str(tmp_path / "warm")!r}, config=config(hidden_size=64, intermediate_size=128, vocab_size=256,
                 num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=4), seed=1)
def rss(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith(field))

with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # reset the peak (VmHWM) to the current RSS: the warm-up's own peak does not count
before = rss("VmRSS:")
written = write_checkpoint({str(tmp_path / "big")!r}, config=config(), seed=1)
peak = rss("VmHWM:")
print(json.dumps({{"growth": peak - before,
                   "model": sum(os.path.getsize(p) for p in written if p.suffix == ".safetensors")}}))
"""
    try:
        measured = json.loads(run_python(code, timeout=300).stdout.splitlines()[-1])
    finally:  # 650 MiB: not left in pytest's temporary directory (it keeps the last three runs)
        shutil.rmtree(tmp_path / "big", ignore_errors=True)
    largest = 8192 * 1024 * 4
    assert measured["model"] > 600 * 2**20
    print(f"peak RSS growth {measured['growth'] / 2**20:.0f} MiB for a {measured['model'] / 2**20:.0f} MiB model "
          f"(largest module {largest >> 20} MiB)")
    assert measured["growth"] < measured["model"] / 4, measured


def test_written_tensor_order_and_header_come_from_the_meta_model(tmp_path):
    """The header lists state_dict order; the index maps every tensor; total_size is the data size."""
    out = tmp_path / "out"
    io.write_checkpoint(out, config=llama(), seed=1, max_shard_size=50_000)
    index = json.loads((out / "model.safetensors.index.json").read_text())
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(llama())
    names = list(model.state_dict())
    assert list(index["weight_map"]) == names
    assert index["metadata"]["total_size"] == sum(t.numel() * t.element_size() for t in model.state_dict().values())
    assert os.path.getsize(out / "config.json") > 0


# -- what a config checkpoint leaves on disk (#28) -----------------------------------------------------------------

def test_a_new_config_directory_gets_mkdirs_mode_and_an_existing_one_keeps_its_own(tmp_path):
    """Reproduction: drwx------ under umask 022 (tempfile.mkdtemp's staging directory was swapped in)."""
    previous = os.umask(0o022)
    try:
        io.write_checkpoint(tmp_path / "out", config=llama(), seed=1)
        (tmp_path / "by-mkdir").mkdir()
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(tmp_path / "out").st_mode) == stat.S_IMODE(os.stat(tmp_path / "by-mkdir").st_mode) \
        == 0o755
    os.chmod(tmp_path / "out", 0o2770)  # group-shared, setgid
    io.write_checkpoint(tmp_path / "out", config=llama(), seed=2, force=True)
    assert stat.S_IMODE(os.stat(tmp_path / "out").st_mode) == 0o2770


def test_a_missing_parent_is_refused_as_for_every_output(tmp_path):
    out = tmp_path / "nope" / "out"
    with pytest.raises(FileNotFoundError, match=f"^cannot write {out}: directory {out.parent} does not exist"):
        io.write_checkpoint(out, config=llama(), seed=1)
    assert list(tmp_path.iterdir()) == []


def test_a_config_checkpoint_that_appears_meanwhile_is_not_replaced(tmp_path, monkeypatch):
    """Reproduction: the last of two writers of one new OUT silently replaced the first one's checkpoint."""
    from fastglorot.io import _hf

    real, done = _hf._write_shards, []

    def write_then_let_another_writer_finish(*args, **kwargs):
        real(*args, **kwargs)
        if not done:
            done.append(True)
            io.write_checkpoint(tmp_path / "out", config=llama(), seed=2)

    monkeypatch.setattr(_hf, "_write_shards", write_then_let_another_writer_finish)
    with pytest.raises(FileExistsError, match="out appeared while this checkpoint was being written"):
        io.write_checkpoint(tmp_path / "out", config=llama(), seed=1)
    monkeypatch.undo()
    io.write_checkpoint(tmp_path / "reference", config=llama(), seed=2)
    assert (tmp_path / "out" / "model.safetensors").read_bytes() == \
        (tmp_path / "reference" / "model.safetensors").read_bytes()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_killed_config_writers_staging_is_removed_by_the_next_write(tmp_path):
    """Reproduction: SIGKILL during a --config write left a hidden .out.XXXXXXXX.partial directory holding
    config.json, one more per kill."""
    config = tmp_path / "llama"
    llama().save_pretrained(config)
    code = """
import sys
from fastglorot.io import _hf
from fastglorot._cli import main
real = _hf._write_shards
def paused(*args, **kwargs):
    real(*args, **kwargs)
    print("written", flush=True)
    sys.stdin.readline()
_hf._write_shards = paused
sys.exit(main(sys.argv[1:]))
"""
    out = tmp_path / "out"
    writer = subprocess.Popen([sys.executable, "-c", code, "init", str(out), "--config", str(config), "--quiet"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "FASTGLOROT_QUIET": "1"})
    try:
        assert writer.stdout.readline() == "written\n", writer.communicate()
    finally:
        writer.kill()
        writer.communicate(timeout=60)
    (staging,) = [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert staging.name.startswith(".out.") and (staging / "config.json").is_file()
    io.write_checkpoint(out, config=llama(), seed=1)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert (out / "config.json").is_file()
