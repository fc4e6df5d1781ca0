"""fastglorot.io and ``fastglorot init``: checkpoints written to disk, read back by their own libraries."""

import json
import os
import re
import signal
import subprocess
import sys
import warnings

import ml_dtypes
import numpy as np
import pytest

import fastglorot
from fastglorot import io
from fastglorot.io import _shards, _writers

safetensors = pytest.importorskip("safetensors")
from safetensors import safe_open  # noqa: E402

# SPEC's "empty" tensor warns as fastglorot.lecun_normal((0, 4)) does (test_a_zero_element_tensor_warns_...).
pytestmark = pytest.mark.filterwarnings(r"ignore:'empty' \(shape \[0, 4\]\)")

SEED = 20261129
SPEC = {
    "embed.weight": {"shape": [50, 16], "dtype": "bfloat16", "init": "normal", "std": 0.02},
    "layers.0.attn.weight": {"shape": [16, 16], "init": "glorot_uniform", "gain": 2.0},
    "layers.0.conv.weight": {"shape": [8, 4, 3, 3], "dtype": "float64", "init": "kaiming_normal",
                             "nonlinearity": "relu", "mode": "fan_out"},
    "layers.0.mlp.weight": {"shape": [64, 16], "dtype": "float16", "init": "trunc_normal", "std": 0.5,
                            "a": -0.4, "b": 0.6},
    "layers.0.mlp.bias": {"shape": [64], "init": "zeros"},
    "layers.0.norm.weight": {"shape": [16], "init": "ones"},
    "head.weight": {"shape": [7, 16], "init": "uniform", "low": -0.1, "high": 0.3},
    "scale": {"shape": [], "init": "normal"},
    "empty": {"shape": [0, 4], "init": "lecun_normal"},
    "jax.kernel": {"shape": [16, 8], "init": "he_uniform", "layout": "jax"},
}


def expected(name, entry, seed=SEED, stream_format=None):
    """``fastglorot.<init>(shape, dtype=..., seed=seed, stream=name, stream_format=..., **kwargs)``: the
    reproducibility rule, in the core's own values (``stream_format`` None: the current one, 1)."""
    kwargs = {k: v for k, v in entry.items() if k not in ("shape", "dtype", "init")}
    dtype = entry.get("dtype", "float32")
    numpy_dtype = ml_dtypes.bfloat16 if dtype == "bfloat16" else np.dtype(dtype)
    if entry["init"] == "zeros":
        return np.zeros(entry["shape"], numpy_dtype)
    if entry["init"] == "ones":
        return np.ones(entry["shape"], numpy_dtype)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Initializing zero-element tensors is a no-op")  # the "empty" tensor
        return getattr(fastglorot, entry["init"])(tuple(entry["shape"]), dtype=dtype, seed=seed, stream=name,
                                                  stream_format=stream_format, **kwargs)


def assert_bits(actual, wanted, name):
    actual = np.asarray(actual)
    assert actual.shape == wanted.shape and actual.dtype.itemsize == wanted.dtype.itemsize, name
    assert actual.tobytes() == wanted.tobytes(), name


@pytest.fixture
def small_slabs(monkeypatch):
    monkeypatch.setattr(_shards, "SLAB_BYTES", 1000)  # many slabs per tensor, a partial last one


def test_safetensors_file_equals_the_allocating_initializers(tmp_path, small_slabs):
    path = tmp_path / "model.safetensors"
    assert io.write_checkpoint(path, SPEC, seed=SEED) == [path]
    torch = pytest.importorskip("torch")
    with safe_open(str(path), framework="pt") as f:
        assert list(f.keys()) == sorted(SPEC)  # the library lists names sorted
        assert f.metadata()["fastglorot_seed"] == str(SEED)
        assert f.metadata()["fastglorot_stream_format"] == "1"  # the default, recorded
        for name, entry in SPEC.items():
            tensor = f.get_tensor(name)
            if tensor.dtype == torch.bfloat16:
                tensor = tensor.view(torch.int16)
            assert_bits(tensor.numpy(), expected(name, entry), name)
    with safe_open(str(path), framework="numpy") as f:
        for name, entry in SPEC.items():
            if entry.get("dtype") != "bfloat16":
                assert_bits(f.get_tensor(name), expected(name, entry), name)


def test_slab_size_does_not_change_the_values(tmp_path, monkeypatch):
    big = {"w": {"shape": [300, 70], "init": "glorot_normal"}}
    io.write_checkpoint(tmp_path / "a.safetensors", big, seed=1)
    monkeypatch.setattr(_shards, "SLAB_BYTES", 4 * 999)
    io.write_checkpoint(tmp_path / "b.safetensors", big, seed=1)
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()


def test_sharded_layout_is_read_by_transformers(tmp_path, small_slabs):
    out = tmp_path / "ckpt"
    files = io.write_checkpoint(out, SPEC, seed=SEED, max_shard_size=2000)
    index = out / "model.safetensors.index.json"
    assert files[-1] == index and len(files) > 3
    shards = len(files) - 1
    assert [f.name for f in files[:-1]] == [f"model-{i:05d}-of-{shards:05d}.safetensors" for i in range(1, shards + 1)]
    hub = pytest.importorskip("transformers.utils.hub")
    shard_files, metadata = hub.get_checkpoint_shard_files(str(out), str(index))
    assert sorted(map(os.path.basename, shard_files)) == [f.name for f in files[:-1]]
    weight_map = json.loads(index.read_text())["weight_map"]
    assert set(weight_map) == set(SPEC)
    seen = set()
    for shard in shard_files:
        with safe_open(shard, framework="pt") as f:
            for name in f.keys():
                assert weight_map[name] == os.path.basename(shard)
                tensor = f.get_tensor(name)
                raw = tensor.view(__import__("torch").int16) if SPEC[name].get("dtype") == "bfloat16" else tensor
                assert_bits(raw.numpy(), expected(name, SPEC[name]), name)
                seen.add(name)
    assert seen == set(SPEC)


def test_one_shard_is_a_single_model_safetensors(tmp_path):
    files = io.write_checkpoint(tmp_path / "ckpt", SPEC, seed=SEED, max_shard_size=10**9)
    assert [f.name for f in files] == ["model.safetensors"]


def test_npy_and_zarr(tmp_path, small_slabs):
    entry = {"shape": [40, 30], "dtype": "float16", "init": "kaiming_uniform", "a": 0.1}
    io.write_checkpoint(tmp_path / "w.npy", {"w": entry}, seed=SEED)
    assert_bits(np.load(tmp_path / "w.npy", mmap_mode="r"), expected("w", entry), "w")
    zarr = pytest.importorskip("zarr")
    spec = {k: v for k, v in SPEC.items() if v.get("dtype") != "bfloat16"}
    io.write_checkpoint(tmp_path / "m.zarr", spec, seed=SEED)
    group = zarr.open_group(str(tmp_path / "m.zarr"), mode="r")
    for name, entry in spec.items():
        assert_bits(group[name][...], expected(name, entry), name)


@pytest.mark.parametrize("path, spec, match", [
    ("w.npy", SPEC, "one tensor"),
    ("w.npy", {"w": {"shape": [4, 4], "dtype": "bfloat16", "init": "zeros"}}, "bfloat16"),
    ("w.zarr", {"w": {"shape": [4, 4], "dtype": "bfloat16", "init": "zeros"}}, "bfloat16"),
    ("w.zarr", {"../w": {"shape": [4, 4], "init": "zeros"}}, "zarr array path"),
    ("w.bin", {"w": {"shape": [4, 4], "init": "zeros"}}, "extension"),
])
def test_format_limits_are_checked_before_writing(tmp_path, path, spec, match):
    with pytest.raises(io.SpecError, match=match):
        io.write_checkpoint(tmp_path / path, spec, seed=1)
    assert list(tmp_path.iterdir()) == []


BAD = {
    "unknown init": ({"w": {"shape": [4, 4], "init": "glorious"}}, "^'w': unknown init 'glorious'"),
    "bad shape": ({"w": {"shape": [4, -1], "init": "zeros"}}, "^'w': shape must be"),
    "shape not a list": ({"w": {"shape": "4x4", "init": "zeros"}}, "^'w': shape must be"),
    "unknown dtype": ({"w": {"shape": [4], "dtype": "int8", "init": "zeros"}}, "^'w': unknown dtype 'int8'"),
    "bad argument value": ({"w": {"shape": [4, 4], "init": "glorot_uniform", "gain": -1.0}}, "^'w': gain must be"),
    "unknown argument": ({"w": {"shape": [4, 4], "init": "normal", "sigma": 1.0}}, "^'w': .*sigma"),
    "1-D glorot": ({"b": {"shape": [4], "init": "glorot_uniform"}}, "^'b': Fan in and fan out"),
    "reserved name": ({"__metadata__": {"shape": [4], "init": "zeros"}}, "reserved"),
    "reserved argument": ({"w": {"shape": [4], "init": "normal", "seed": 3}}, "^'w': 'seed' is set by the writer"),
    "entry not an object": ({"w": [4, 4]}, "^'w': the spec entry must be an object"),
    "arguments to zeros": ({"w": {"shape": [4], "init": "zeros", "value": 3}}, "^'w': zeros takes no arguments"),
    "empty spec": ({}, "names no tensor"),
    # A zero-element tensor's arguments are checked too (they were not: nothing was filled to check them).
    "bad argument of an empty tensor": ({"w": {"shape": [0, 4], "init": "normal", "std": -1.0}}, "^'w': std must"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_specs_are_rejected_before_anything_is_written(tmp_path, case):
    spec, match = BAD[case]
    with pytest.raises(io.SpecError, match=match):
        io.write_checkpoint(tmp_path / "m.safetensors", spec, seed=1)
    assert list(tmp_path.iterdir()) == []


def test_duplicate_names_are_rejected(tmp_path):
    specs = io.load_spec({"w": {"shape": [2], "init": "zeros"}}) * 2
    with pytest.raises(io.SpecError, match="unique: 'w'"):
        io.write_checkpoint(tmp_path / "m.safetensors", specs, seed=1)


def test_existing_output_needs_force(tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="force"):
        io.write_checkpoint(path, SPEC, seed=1)
    assert path.read_bytes() == b"keep me"
    io.write_checkpoint(path, SPEC, seed=1, force=True)
    with safe_open(str(path), framework="numpy") as f:
        assert "head.weight" in f.keys()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


@pytest.mark.parametrize("stream_format", [1, 2])
def test_seed_none_is_recorded_in_the_metadata(tmp_path, stream_format):
    """The file says how to regenerate it: its seed and its stream format."""
    path = tmp_path / "m.safetensors"
    spec = {"w": {"shape": [8, 8], "init": "glorot_normal"}}
    io.write_checkpoint(path, spec, stream_format=stream_format)
    with safe_open(str(path), framework="numpy") as f:
        seed = int(f.metadata()["fastglorot_seed"])
        recorded = io.recorded_stream_format(f.metadata())
        assert recorded == stream_format
        assert_bits(f.get_tensor("w"), expected("w", spec["w"], seed, recorded), "w")


# -- stream format 2 (#30) ---------------------------------------------------------------

V2_SPEC = {**SPEC,
           # float32 normal and truncated normal: where v2's values differ from v1's in most elements (16-bit
           # outputs round most of the differences away)
           "f32.normal": {"shape": [40, 30], "init": "glorot_normal"},
           "f32.trunc": {"shape": [40, 30], "init": "trunc_normal", "std": 0.02, "a": -0.03, "b": 0.05}}


def read_back(path, names):
    """name -> raw numpy array (bfloat16 as int16) of the tensors of one safetensors file, by the library."""
    torch = pytest.importorskip("torch")
    with safe_open(str(path), framework="pt") as f:
        tensors = {name: f.get_tensor(name) for name in f.keys()}
        metadata = f.metadata()
    assert set(tensors) <= set(names)
    return {n: (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy() for n, t in tensors.items()}, metadata


def test_v2_differs_from_v1_where_the_tests_below_rely_on_it():
    """The v2 tests below would pass on v1 values if the formats agreed on their tensors: they do not."""
    for name in ("f32.normal", "f32.trunc"):
        v1, v2 = (expected(name, V2_SPEC[name], stream_format=n) for n in (1, 2))
        assert (v1 != v2).mean() > 0.01, name


@pytest.mark.parametrize("layout", ["file", "sharded"])
def test_v2_checkpoints_hold_the_cores_v2_values_and_say_so(tmp_path, small_slabs, layout):
    """``stream_format=2``: every tensor equals the core's ``fastglorot.<init>(..., stream_format=2)`` bit for bit
    (the writer gives the core's bits), and every file's metadata, and the sharded index, records format 2."""
    if layout == "file":
        files = io.write_checkpoint(tmp_path / "m.safetensors", V2_SPEC, seed=SEED, stream_format=2)
    else:
        files = io.write_checkpoint(tmp_path / "ckpt", V2_SPEC, seed=SEED, stream_format=2, max_shard_size=3000)
    shards = [f for f in files if f.suffix == ".safetensors"]
    assert (len(shards) > 2) == (layout == "sharded")
    seen = set()
    for shard in shards:
        tensors, metadata = read_back(shard, V2_SPEC)
        assert metadata["fastglorot_stream_format"] == "2" and io.recorded_stream_format(metadata) == 2
        assert metadata["fastglorot_seed"] == str(SEED)
        for name, tensor in tensors.items():
            assert_bits(tensor, expected(name, V2_SPEC[name], stream_format=2), name)
        seen.update(tensors)
    assert seen == set(V2_SPEC)
    if layout == "sharded":  # the index, as transformers' shard reader returns it
        hub = pytest.importorskip("transformers.utils.hub")
        _, index_metadata = hub.get_checkpoint_shard_files(str(tmp_path / "ckpt"), str(files[-1]))
        assert index_metadata["fastglorot_stream_format"] == "2" and index_metadata["fastglorot_seed"] == str(SEED)


def test_v2_npy_and_zarr(tmp_path, small_slabs):
    """zarr records the format in the group's attributes; .npy has no metadata (the values are v2's)."""
    entry = V2_SPEC["f32.trunc"]
    io.write_checkpoint(tmp_path / "w.npy", {"f32.trunc": entry}, seed=SEED, stream_format=2)
    assert_bits(np.load(tmp_path / "w.npy", mmap_mode="r"), expected("f32.trunc", entry, stream_format=2), "npy")
    zarr = pytest.importorskip("zarr")
    spec = {k: v for k, v in V2_SPEC.items() if v.get("dtype") != "bfloat16"}
    io.write_checkpoint(tmp_path / "m.zarr", spec, seed=SEED, stream_format=2)
    group = zarr.open_group(str(tmp_path / "m.zarr"), mode="r")
    assert dict(group.attrs) == {"fastglorot_seed": str(SEED), "fastglorot_version": fastglorot.__version__,
                                 "fastglorot_stream_format": "2"}
    assert io.recorded_stream_format(dict(group.attrs)) == 2
    for name, entry in spec.items():
        assert_bits(group[name][...], expected(name, entry, stream_format=2), name)


def test_the_format_comes_from_the_argument_the_spec_or_the_callers_block(tmp_path):
    """None: the spec's entries' format, else the caller's ``fastglorot.stream_format`` block; an argument
    overrides both (as ``dtype=`` overrides the spec's dtypes)."""
    spec = {"w": V2_SPEC["f32.normal"], "b": {"shape": [4], "init": "zeros"}}
    named = {"w": {**spec["w"], "stream_format": 2}, "b": {**spec["b"], "stream_format": 2}}

    def write(name, spec, **kwargs):
        io.write_checkpoint(tmp_path / name, spec, seed=1, **kwargs)
        return (tmp_path / name).read_bytes()

    v2 = write("v2.safetensors", spec, stream_format=2)
    v1 = write("v1.safetensors", spec)
    assert v1 != v2
    with fastglorot.stream_format(2):
        assert write("block.safetensors", spec) == v2
        assert write("block-argument.safetensors", spec, stream_format=1) == v1
    assert write("entries.safetensors", named) == v2
    assert write("entries-argument.safetensors", named, stream_format=1) == v1


BAD_FORMATS = {
    "entry 3": ({"w": {"shape": [4], "init": "normal", "stream_format": 3}}, {}, io.SpecError,
                r"^'w': stream_format must be 1 or 2, got 3"),
    "entry string": ({"w": {"shape": [4], "init": "normal", "stream_format": "2"}}, {}, io.SpecError,
                     r"^'w': stream_format must be 1 or 2 \(an int\), got '2'"),
    "entry null": ({"w": {"shape": [4], "init": "normal", "stream_format": None}}, {}, io.SpecError,
                   r"^'w': stream_format must be 1 or 2 \(an int\), got None"),
    "entries disagree": ({"a": {"shape": [4], "init": "normal", "stream_format": 1},
                          "b": {"shape": [4], "init": "zeros", "stream_format": 2}}, {}, io.SpecError,
                         r"^the spec's entries name different stream formats \(1 by 'a'; 2 by 'b'\): .* pass "
                         r"stream_format \(--stream-format\)"),
    "argument 3": ({"w": {"shape": [4], "init": "normal"}}, {"stream_format": 3}, ValueError,
                   r"^stream_format must be 1 or 2, got 3"),
    "argument bool": ({"w": {"shape": [4], "init": "normal"}}, {"stream_format": True}, TypeError,
                      r"^stream_format must be 1 or 2 \(an int\), got True"),
}


@pytest.mark.parametrize("case", BAD_FORMATS)
def test_bad_stream_formats_are_refused_before_anything_is_written(tmp_path, case):
    spec, kwargs, error, match = BAD_FORMATS[case]
    for out in (tmp_path / "m.safetensors", tmp_path / "sharded"):
        with pytest.raises(error, match=match):
            io.write_checkpoint(out, spec, seed=1, max_shard_size=None if out.suffix else 1000, **kwargs)
    with pytest.raises(ValueError, match="stream_format must be 1 or 2, got 3"):  # before the config is read
        io.write_checkpoint(tmp_path / "out", config=tmp_path / "no-config.json", stream_format=3)
    assert list(tmp_path.iterdir()) == []


def test_recorded_stream_format_of_a_file_without_the_key_is_1(tmp_path):
    """Files of fastglorot 0.5 (and any other writer's) record no format: they are format 1."""
    from safetensors.numpy import save_file

    save_file({"w": np.ones(2, np.float32)}, str(tmp_path / "plain.safetensors"), metadata={"format": "np"})
    with safe_open(str(tmp_path / "plain.safetensors"), framework="numpy") as f:
        assert io.recorded_stream_format(f.metadata()) == 1
    assert io.recorded_stream_format(None) == 1  # (what safe_open's metadata() gives for a file without any)
    with pytest.raises(ValueError, match="fastglorot_stream_format='3' is not a stream format this fastglorot"):
        io.recorded_stream_format({"fastglorot_stream_format": "3"})


def test_cli_stream_format_is_printed_recorded_and_a_printed_spec_writes_it_again(tmp_path, monkeypatch, capsys):
    from fastglorot import _cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.json").write_text(json.dumps({"w": V2_SPEC["f32.normal"], "b": {"shape": [4], "init": "zeros"}}))
    assert _cli.main(["init", "--spec", "spec.json", "--print-spec"]) == 0
    default = json.loads(capsys.readouterr().out)
    assert default["w"] == {"shape": [40, 30], "dtype": "float32", "init": "glorot_normal", "stream_format": 1}
    assert _cli.main(["init", "--spec", "spec.json", "--print-spec", "--stream-format", "2"]) == 0
    printed = capsys.readouterr().out
    assert {entry["stream_format"] for entry in json.loads(printed).values()} == {2}
    (tmp_path / "v2.json").write_text(printed)
    assert _cli.main(["init", "m.safetensors", "--spec", "v2.json", "--seed", "5"]) == 0  # no --stream-format
    assert "seed 5, stream format 2: m.safetensors" in capsys.readouterr().out
    tensors, metadata = read_back(tmp_path / "m.safetensors", ["w", "b"])
    assert metadata["fastglorot_stream_format"] == "2"
    assert_bits(tensors["w"], expected("w", V2_SPEC["f32.normal"], seed=5, stream_format=2), "w")
    assert _cli.main(["init", "m1.safetensors", "--spec", "v2.json", "--seed", "5", "--stream-format", "1",
                      "--quiet"]) == 0
    tensors, metadata = read_back(tmp_path / "m1.safetensors", ["w", "b"])
    assert metadata["fastglorot_stream_format"] == "1"
    assert_bits(tensors["w"], expected("w", V2_SPEC["f32.normal"], seed=5, stream_format=1), "w")


# -- --like --------------------------------------------------------------------------------

def test_like_takes_names_shapes_and_dtypes_with_the_default_rule(tmp_path):
    from safetensors.numpy import save_file

    source = tmp_path / "source.safetensors"
    save_file({"blocks.0.ln_1.weight": np.ones(8, np.float16), "blocks.0.attn.bias": np.ones(8, np.float32),
               "blocks.0.attn.weight": np.ones((8, 8), np.float32), "final_norm.weight": np.ones(8, np.float32),
               "wte.weight": np.ones((20, 8), np.float64)}, str(source))
    specs = {s.name: s for s in io.spec_like(source, {"wte.*": {"init": "normal", "std": 0.5}})}
    assert {n: (s.init, s.shape, s.dtype) for n, s in specs.items()} == {
        "blocks.0.ln_1.weight": ("ones", (8,), "float16"),
        "blocks.0.attn.bias": ("zeros", (8,), "float32"),
        "blocks.0.attn.weight": ("glorot_uniform", (8, 8), "float32"),
        "final_norm.weight": ("ones", (8,), "float32"),
        "wte.weight": ("normal", (20, 8), "float64"),
    }
    out = tmp_path / "out.safetensors"
    io.write_checkpoint(out, list(specs.values()), seed=SEED)
    with safe_open(str(out), framework="numpy") as f, safe_open(str(source), framework="numpy") as g:
        for name in g.keys():
            assert f.get_slice(name).get_shape() == g.get_slice(name).get_shape()
            assert f.get_tensor(name).dtype == g.get_tensor(name).dtype
        assert_bits(f.get_tensor("wte.weight"), expected("wte.weight", {"shape": [20, 8], "dtype": "float64",
                                                                        "init": "normal", "std": 0.5}), "wte")


def test_like_reads_a_sharded_index_and_rejects_unmatched_overrides(tmp_path):
    io.write_checkpoint(tmp_path / "src", SPEC, seed=1, max_shard_size=2000)
    specs = io.spec_like(tmp_path / "src" / "model.safetensors.index.json", dtype="float32")
    assert {s.name for s in specs} == set(SPEC) and {s.dtype for s in specs} == {"float32"}
    with pytest.raises(io.SpecError, match="match no tensor"):
        io.spec_like(tmp_path / "src" / "model.safetensors.index.json", {"nothing.*": {"init": "zeros"}})
    with pytest.raises(io.SpecError, match="shapes come from the checkpoint"):
        io.spec_like(tmp_path / "src" / "model.safetensors.index.json", {"scale": {"shape": [2], "init": "ones"}})


def test_like_rejects_a_broken_file(tmp_path):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes((10**6).to_bytes(8, "little") + b"{}")
    with pytest.raises(ValueError, match="broken.safetensors"):
        io.spec_like(broken)


def test_like_says_what_it_takes_and_what_the_file_is(tmp_path):
    """Reproduction: --like x.npy said only that the header length (the .npy magic read as a number) was too large:
    not what --like takes, nor that x.npy is a NumPy file.  File types from their own libraries' writers."""
    import pickle

    takes = "--like takes a .safetensors file or a Hugging Face model.safetensors.index.json"
    np.save(tmp_path / "x.npy", np.zeros(3))
    np.savez(tmp_path / "x.npz", a=np.zeros(3))
    (tmp_path / "x.pt").write_bytes(pickle.dumps({"w": [0.0]}, protocol=2))
    (tmp_path / "x.bin").write_bytes(b"\x00" * 7 + b"\x01" + b"not json at all")
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    cases = {"x.npy": "is a NumPy .npy file, not a safetensors file", "x.npz": "is a zip archive",
             "x.pt": "is a pickle", "x.bin": "is not a safetensors file (no safetensors header at its start)",
             "config.json": "index has no 'weight_map'", ".": "is a directory"}
    for name, what in cases.items():
        with pytest.raises(io.SpecError) as raised:
            io.spec_like(tmp_path / name)
        assert what in str(raised.value) and takes in str(raised.value), str(raised.value)
    result = cli(tmp_path / "out.safetensors", "--like", tmp_path / "x.npy")
    assert result.returncode == 1
    assert result.stderr == f"fastglorot init: error: {tmp_path / 'x.npy'} is a NumPy .npy file, not a safetensors " \
                            f"file: {takes}\n"


def test_tensor_names_in_errors_are_quoted_as_the_user_wrote_them(tmp_path):
    """Reproduction: a name with a trailing space was shown as 'w : unknown init', indistinguishable from 'w'."""
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"w ": {"shape": [4, 4], "init": "glorious"}}))
    result = cli(tmp_path / "m.safetensors", "--spec", spec)
    assert result.returncode == 1 and result.stderr.startswith("fastglorot init: error: 'w ': unknown init 'glorious'")
    io.write_checkpoint(tmp_path / "src.safetensors", {"w": {"shape": [2], "init": "zeros"}}, seed=1)
    with pytest.raises(io.SpecError, match=r"^spec entries match no tensor of .*: 'nothing\.\*'$"):
        io.spec_like(tmp_path / "src.safetensors", {"nothing.*": {"init": "zeros"}})


@pytest.mark.parametrize("init", ["glorot_uniform", "kaiming_normal", "lecun_normal", "uniform", "normal",
                                  "trunc_normal", "zeros"])
def test_a_zero_element_tensor_warns_as_the_api_does(tmp_path, init):
    """Reproduction: a zero-element tensor in a spec was written without the warning fastglorot.<init> gives for a
    zero-element array.  The expected warnings are the API's own, for the same shape."""
    with warnings.catch_warnings(record=True) as api:
        warnings.simplefilter("always")
        if init != "zeros":  # (zeros and ones are the writer's own: no API function, no warning)
            getattr(fastglorot, init)((0, 4), seed=1)
    with warnings.catch_warnings(record=True) as written:
        warnings.simplefilter("always")
        io.write_checkpoint(tmp_path / "m.safetensors", {"e": {"shape": [0, 4], "init": init}}, seed=1)
    assert [str(w.message) for w in written] == [f"'e' (shape [0, 4]): {w.message}" for w in api]
    assert [w.category for w in written] == [w.category for w in api]
    with safe_open(str(tmp_path / "m.safetensors"), framework="numpy") as f:
        assert f.get_tensor("e").shape == (0, 4)


# -- the command line ----------------------------------------------------------------------

def cli(*args, env=None, **kwargs):
    return subprocess.run([sys.executable, "-m", "fastglorot", "init", *map(str, args)], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "FASTGLOROT_QUIET": "1", **(env or {})},
                          **kwargs)


def test_cli_writes_a_checkpoint_and_prints_one_line(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC))
    result = cli(tmp_path / "m.safetensors", "--spec", spec, "--seed", SEED)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"wrote {len(SPEC)} tensors") and f"seed {SEED}" in result.stdout
    # No bar (stderr is not a terminal): only the zero-element tensor's warning, the API's, as one line.
    assert result.stderr.splitlines() == [
        "fastglorot init: warning: 'empty' (shape [0, 4]): Initializing zero-element tensors is a no-op"]
    with safe_open(str(tmp_path / "m.safetensors"), framework="numpy") as f:
        assert_bits(f.get_tensor("head.weight"), expected("head.weight", SPEC["head.weight"]), "head")


def test_cli_errors_are_one_line_and_write_nothing(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"w": {"shape": [3], "init": "glorot_uniform"}}))
    result = cli(tmp_path / "m.safetensors", "--spec", spec)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("fastglorot init: error: 'w': Fan in")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.json"]
    assert cli(tmp_path / "m.safetensors").returncode == 2  # no spec at all: usage error


def test_cli_example_spec_and_progress(tmp_path):
    printed = cli("--example", "llama-7b", "--print-spec")
    spec = json.loads(printed.stdout)
    assert sum(np.prod(e["shape"]) for e in spec.values()) == 6_738_415_616  # Llama-2-7B's parameter count
    result = cli(tmp_path / "tiny", "--example", "llama-tiny", "--max-shard-size", "1MB", "--progress",
                 "--seed", 3)
    assert result.returncode == 0, result.stderr
    assert "fastglorot init" in result.stderr and "B/s" in result.stderr  # the tqdm bar, forced
    assert (tmp_path / "tiny" / "model.safetensors.index.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize("sig, code, sharded", [(signal.SIGINT, 130, False), (signal.SIGTERM, 143, False),
                                                (signal.SIGTERM, 143, True)])
def test_interrupted_write_leaves_nothing(tmp_path, sig, code, sharded):
    """Also a sharded write into a new directory: it must not leave that directory behind (reproduction)."""
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"w": {"shape": [1 << 30], "init": "normal"}}))  # 4 GiB: seconds to write
    out = tmp_path / "out"
    out.mkdir()
    target = [str(out / "new-dir"), "--max-shard-size", "8GiB"] if sharded else [str(out / "m.safetensors")]
    # A child inherits an ignored SIGINT (jobs started in the background of a
    # non-interactive shell, as CI may run us) and Python then keeps ignoring
    # it: give the child the default disposition, as a terminal's would be.
    process = subprocess.Popen([sys.executable, "-m", "fastglorot", "init", *target, "--spec", str(spec),
                                "--progress"], stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "FASTGLOROT_QUIET": "1"},
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    shown = ""
    while not re.search(r"[1-9][0-9.]*[MG]/", shown):  # the bar shows megabytes written: data is flowing
        character = process.stderr.read(1)
        assert character, f"the writer ended before any progress: {shown!r}"
        shown += character
    process.send_signal(sig)
    _, rest = process.communicate(timeout=120)
    assert process.returncode == code, rest
    assert "no output was written" in rest
    assert list(out.iterdir()) == []


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE")
def test_file_size_limit_gives_a_clear_error_and_no_file(tmp_path):
    import resource

    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"w": {"shape": [4 << 20], "init": "normal"}}))  # 16 MiB
    out = tmp_path / "out"
    out.mkdir()

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    result = cli(out / "m.safetensors", "--spec", spec, preexec_fn=limit)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("fastglorot init: error:") and "File too large" in result.stderr
    assert list(out.iterdir()) == []


@pytest.mark.slow
def test_memory_stays_bounded_whatever_the_checkpoint_size(tmp_path, python_runner):
    # 1 GiB written; the process's peak RSS grows by two 8 MiB slabs and buffers, not by the checkpoint.
    code = ("import resource, fastglorot.io as io\n"
            f"io.write_checkpoint({str(tmp_path / 'warm.safetensors')!r}, "
            "{'w': {'shape': [1 << 10, 1 << 10], 'init': 'glorot_uniform'}}, seed=1)\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            f"io.write_checkpoint({str(tmp_path / 'big.safetensors')!r}, "
            "{'w': {'shape': [1 << 15, 1 << 13], 'init': 'glorot_uniform'}}, seed=1)\n"
            "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)\n")
    try:
        growth_mib = int(python_runner(code).stdout.strip())
    finally:  # 1 GiB: not left in pytest's temporary directory (it keeps the last three runs)
        (tmp_path / "big.safetensors").unlink(missing_ok=True)
    assert growth_mib < 64


def test_cli_like_with_overrides(tmp_path):
    io.write_checkpoint(tmp_path / "src.safetensors", SPEC, seed=1)
    overrides = tmp_path / "overrides.json"
    overrides.write_text(json.dumps({"layers.0.*.weight": {"init": "zeros"}}))
    result = cli(tmp_path / "out.safetensors", "--like", tmp_path / "src.safetensors", "--spec", overrides,
                 "--like-init", "lecun_uniform", "--seed", 9, "--quiet")
    assert result.returncode == 0 and result.stdout == "", result.stderr
    with safe_open(str(tmp_path / "out.safetensors"), framework="numpy") as f:
        assert not f.get_tensor("layers.0.attn.weight").any()
        head = {"shape": [7, 16], "init": "lecun_uniform"}
        assert_bits(f.get_tensor("head.weight"), expected("head.weight", head, seed=9), "head")
        assert (f.get_tensor("layers.0.mlp.bias") == 0).all()


def test_not_enough_disk_space_is_an_error_before_writing(tmp_path, monkeypatch):
    class Full:
        f_bavail, f_frsize = 1, 512  # 512 bytes free: less than SPEC needs

    monkeypatch.setattr(os, "statvfs", lambda path: Full())
    with pytest.raises(OSError, match=r"has 512 bytes free; the checkpoint needs 8\.07 KiB \(8260 bytes\)"):  # data
        io.write_checkpoint(tmp_path / "m.safetensors", SPEC, seed=1)
    assert list(tmp_path.iterdir()) == []


def test_duplicate_names_in_a_json_spec_are_rejected(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text('{"w": {"shape": [2], "init": "zeros"}, "w": {"shape": [3], "init": "ones"}}')
    with pytest.raises(io.SpecError, match="more than once: 'w'"):
        io.write_checkpoint(tmp_path / "m.safetensors", spec, seed=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.json"]


def test_every_name_repeated_in_one_object_of_a_json_spec_is_named(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text('{"w": {"shape": [2], "init": "zeros"}, "v": {"shape": [1], "init": "ones"}, '
                    '"v": {"shape": [3], "init": "ones"}, "w": {"shape": [3], "init": "ones"}}')
    with pytest.raises(io.SpecError, match=r"names given more than once: 'v', 'w'$"):
        io.read_spec(spec)
    spec.write_text('{"w": {"shape": [2], "init": "normal", "std": 0.1, "std": 0.2}}')  # inside an entry too
    with pytest.raises(io.SpecError, match=r"names given more than once: 'std'$"):
        io.read_spec(spec)


def test_a_seed_outside_64_bits_is_refused_before_writing(tmp_path):
    with pytest.raises(ValueError, match="seed"):
        io.write_checkpoint(tmp_path / "m.safetensors", SPEC, seed=2**64)
    assert list(tmp_path.iterdir()) == []


# -- nothing stale, nothing left behind (#22) ----------------------------------

THREE = {f"layers.{i}.weight": {"shape": [1024, 1024], "init": "glorot_uniform"} for i in range(3)}  # 3 x 4 MiB


def checkpoint_files(directory):
    return sorted(p.name for p in directory.iterdir())


def read_all(directory):
    """Every tensor of a (sharded) checkpoint, as the index or the single file says."""
    index = directory / "model.safetensors.index.json"
    files = sorted(set(json.loads(index.read_text())["weight_map"].values())) if index.exists() \
        else ["model.safetensors"]
    tensors = {}
    for name in files:
        with safe_open(directory / name, "np") as f:
            tensors.update({key: f.get_tensor(key) for key in f.keys()})
    return tensors


@pytest.mark.parametrize("second_size, second_files", [
    ("100MiB", ["README.md", "config.json", "model.safetensors"]),
    ("9MiB", ["README.md", "config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
              "model.safetensors.index.json"]),
])
def test_force_replaces_the_whole_layout_and_keeps_the_users_files(tmp_path, second_size, second_files):
    """Reproduction: 3 shards with seed 1, then --force with one file (or 2 shards) and seed 2 left the old shards
    and index beside the new file, and a loader reading the index got seed 1's weights."""
    spec = tmp_path / "three.json"
    spec.write_text(json.dumps(THREE))
    out = tmp_path / "stale"
    assert cli(out, "--spec", spec, "--seed", 1, "--max-shard-size", "4MiB", "--quiet").returncode == 0
    assert len(list(out.glob("model-*-of-00003.safetensors"))) == 3
    (out / "README.md").write_text("mine")
    (out / "config.json").write_text("{}")
    result = cli(out, "--spec", spec, "--seed", 2, "--max-shard-size", second_size, "--force", "--quiet")
    assert result.returncode == 0, result.stderr
    assert checkpoint_files(out) == second_files
    assert (out / "README.md").read_text() == "mine"
    tensors = read_all(out)
    for name, entry in THREE.items():
        assert_bits(tensors[name], expected(name, entry, seed=2), name)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left


def test_a_failed_replacement_leaves_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    out = tmp_path / "ckpt"
    io.write_checkpoint(out, THREE, seed=1, max_shard_size=4 << 20, progress=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device (simulated)")

    monkeypatch.setattr(_writers, "write_safetensors", fail)
    with pytest.raises(OSError, match="nothing was written and the previous checkpoint is intact"):
        io.write_checkpoint(out, THREE, seed=2, max_shard_size=100 << 20, force=True, progress=False)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # no hidden staging directory


def test_a_failed_sharded_write_creates_no_directory(tmp_path, monkeypatch):
    """Reproduction: a sharded write refused for lack of space left the empty output directory it had created."""
    monkeypatch.setattr(os, "statvfs", lambda path: os.statvfs_result((4096, 4096, 1, 1, 1, 1, 1, 1, 0, 255)))
    with pytest.raises(OSError, match="free; the checkpoint needs"):
        io.write_checkpoint(tmp_path / "ckpt", THREE, seed=1, max_shard_size=4 << 20)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", [".safetensors", ".npy"])
def test_a_directory_in_the_way_of_a_file_is_refused_and_nothing_is_left(tmp_path, suffix):
    """Reproduction: with --force, a directory named like the output failed in os.replace with
    '[Errno 21] Is a directory' and left the full-size hidden .partial file."""
    target = tmp_path / f"d{suffix}"
    target.mkdir()
    (target / "inside").write_text("kept")
    spec = tmp_path / "one.json"
    spec.write_text(json.dumps({"w": {"shape": [256, 256], "init": "glorot_uniform"}}))
    result = cli(target, "--spec", spec, "--force")
    assert result.returncode == 1
    assert result.stderr.startswith(f"fastglorot init: error: {target} is a directory") and "Errno" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"d{suffix}", "one.json"]
    assert (target / "inside").read_text() == "kept"


def test_a_file_in_the_way_of_a_sharded_checkpoint_is_explained(tmp_path):
    target = tmp_path / "ckpt"
    target.write_text("a file")
    spec = tmp_path / "one.json"
    spec.write_text(json.dumps({"w": {"shape": [4], "init": "zeros"}}))
    result = cli(target, "--spec", spec, "--max-shard-size", "1MiB", "--force")
    assert result.returncode == 1
    assert f"{target} is a file, but with --max-shard-size the checkpoint is a directory" in result.stderr
    assert target.read_text() == "a file"


def test_messages_use_the_command_line_options(tmp_path):
    spec = tmp_path / "one.json"
    spec.write_text(json.dumps({"w": {"shape": [4], "init": "zeros"}}))
    result = cli(tmp_path / "ckpt.bin", "--spec", spec)
    assert result.returncode == 1 and "--max-shard-size" in result.stderr and "max_shard_size" not in result.stderr
    (tmp_path / "m.safetensors").write_text("old")
    result = cli(tmp_path / "m.safetensors", "--spec", spec)
    assert result.returncode == 1 and "pass --force" in result.stderr and "force=True" not in result.stderr


def test_an_unwritable_target_says_so(tmp_path):
    spec = tmp_path / "one.json"
    spec.write_text(json.dumps({"w": {"shape": [4], "init": "zeros"}}))
    result = cli("/proc/x.safetensors", "--spec", spec)
    assert result.returncode == 1
    assert "/proc/x.safetensors cannot be written" in result.stderr and "the checkpoint needs" not in result.stderr
    result = cli("/proc/fastglorot-ckpt", "--spec", spec, "--max-shard-size", "1MiB")
    assert result.returncode == 1 and "cannot be written" in result.stderr


def test_an_immutable_directory_says_it_cannot_be_written(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    if subprocess.run(["chattr", "+i", str(locked)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        with pytest.raises(OSError, match="cannot be written"):
            io.write_checkpoint(locked / "m.safetensors", {"w": {"shape": [4], "init": "zeros"}}, seed=1)
    finally:
        subprocess.run(["chattr", "-i", str(locked)], check=True)
    assert list(locked.iterdir()) == []


@pytest.mark.parametrize("source", ["spec", "like", "example"])
def test_print_spec_prints_the_resolved_spec_of_any_source_and_writes_nothing(tmp_path, source):
    """Reproduction: --print-spec without --example was ignored and a checkpoint with a random seed written."""
    spec = tmp_path / "one.json"
    spec.write_text(json.dumps({"w": {"shape": [8, 4], "init": "normal", "std": 0.5}}))
    io.write_checkpoint(tmp_path / "like.safetensors", {"v": {"shape": [2, 3], "dtype": "float16", "init": "zeros"}},
                        seed=1)
    args = {"spec": ["--spec", spec], "like": ["--like", tmp_path / "like.safetensors"],
            "example": ["--example", "llama-tiny"]}[source]
    before = sorted(p.name for p in tmp_path.iterdir())
    result = cli(tmp_path / "out.safetensors", *args, "--print-spec", "--dtype", "bfloat16")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed and all(entry["dtype"] == "bfloat16" for entry in printed.values())
    if source == "spec":
        assert printed == {"w": {"shape": [8, 4], "dtype": "bfloat16", "init": "normal", "std": 0.5,
                                 "stream_format": 1}}  # the format it would be written in: the default
    assert sorted(p.name for p in tmp_path.iterdir()) == before
