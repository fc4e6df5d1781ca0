"""The safetensors header codec (``fastglorot.io._safetensors`` and ``_safetensors_reader``) against the library.

Files written from ``encode_header`` must load with ``safetensors.safe_open``;
files the library writes must parse to what the library reports; malformed
files must raise ``HeaderError`` (and, where this module is no stricter than
the library, the library must refuse them too); and no byte string may make
``read_header`` raise anything else or allocate more than its header.
"""

import json
import math
import os
import struct
import tracemalloc

import ml_dtypes
import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors import safe_open

import fastglorot.io._safetensors
from fastglorot.io._safetensors import (
    BITSIZE,
    DTYPE_CODES,
    ITEMSIZE,
    MAX_HEADER_BYTES,
    HeaderError,
    TensorEntry,
    encode_header,
)
from fastglorot.io._safetensors_reader import read_header, read_index

HYPOTHESIS = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                      suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- helpers


def _raw(header, data=b"", *, length=None):
    """File bytes: length prefix (default: the real one), header (dict -> JSON, or bytes), data."""
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(text) if length is None else length) + text + data


def _tensor(dtype, shape, offsets):
    return {"dtype": dtype, "shape": shape, "data_offsets": offsets}


def _write(path, content):
    path.write_bytes(content)
    return path


def _write_encoded(path, entries, metadata=None):
    prefix, layout = encode_header(entries, metadata)
    size = layout[-1].end if layout else 0
    _write(path, prefix + bytes(size))
    return prefix, layout


def _library_opens(path):
    """Whether ``safe_open`` accepts the file; its (name -> (dtype, shape)) and metadata if so."""
    try:
        with safe_open(str(path), framework="numpy") as handle:
            info = {name: (handle.get_slice(name).get_dtype(), tuple(handle.get_slice(name).get_shape()))
                    for name in handle.keys()}
            return True, info, handle.metadata() or {}
    except Exception:  # the library's errors are SafetensorError, OSError, ... whatever it raises is a refusal
        return False, None, None


def _check_invariants(path, entries, metadata):
    """What every successful ``read_header`` result must satisfy."""
    with open(path, "rb") as handle:
        (header_size,) = struct.unpack("<Q", handle.read(8))
    data_size = os.path.getsize(path) - 8 - header_size
    position = 0
    for entry in entries:
        assert isinstance(entry, TensorEntry)
        assert isinstance(entry.name, str) and entry.name != "__metadata__"
        assert entry.dtype in BITSIZE
        assert all(type(dim) is int and dim >= 0 for dim in entry.shape)
        assert entry.begin == position  # tiled: contiguous, in order, from 0
        assert (entry.end - entry.begin) * 8 == math.prod(entry.shape) * BITSIZE[entry.dtype]
        position = entry.end
    assert position == data_size
    assert len({entry.name for entry in entries}) == len(entries)
    assert isinstance(metadata, dict)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())


# --------------------------------------------------------------------------- tables


def test_dtype_tables():
    assert DTYPE_CODES == {"float32": "F32", "float64": "F64", "float16": "F16", "bfloat16": "BF16"}
    for code, size in {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
                       "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8, "C64": 8}.items():
        assert ITEMSIZE[code] == size
    assert set(ITEMSIZE) <= set(BITSIZE)
    assert BITSIZE["F4"] == 4 and BITSIZE["F6_E2M3"] == BITSIZE["F6_E3M2"] == 6
    assert MAX_HEADER_BYTES == 100_000_000  # the library's MAX_HEADER_SIZE (decimal, not MiB)


def test_every_dtype_code_is_known_to_the_library(tmp_path):
    """BITSIZE names exactly the library's dtypes, with the library's sizes."""
    for code, bits in BITSIZE.items():
        count = 8  # a whole number of bytes for every bit width
        path = _write(tmp_path / f"{code}.safetensors",
                      _raw({"t": _tensor(code, [count], [0, count * bits // 8])}, bytes(count * bits // 8)))
        accepted, info, _ = _library_opens(path)
        assert accepted and info == {"t": (code, (count,))}
        assert read_header(path)[0] == [TensorEntry("t", code, (count,), 0, count * bits // 8)]
    path = _write(tmp_path / "bogus.safetensors", _raw({"t": _tensor("F128", [1], [0, 16])}, bytes(16)))
    assert not _library_opens(path)[0]


# --------------------------------------------------------------------------- round trips


NUMPY_ENTRIES = [
    ("weight", "F32", (3, 5)),
    ("scalar", "F64", ()),
    ("empty", "F16", (0, 7)),
    ("half", "F16", (3,)),  # 6 bytes: the following tensor starts unaligned, which the format allows
    ("bias", "F32", (5,)),
    ("zero-d-half", "F16", ()),
]


def test_round_trip_numpy(tmp_path):
    path = tmp_path / "model.safetensors"
    metadata = {"format": "np", "note": "ünïcode ✓"}
    prefix, layout = _write_encoded(path, NUMPY_ENTRIES, metadata)
    assert [(e.name, e.dtype, e.shape) for e in layout] == NUMPY_ENTRIES
    assert os.path.getsize(path) == len(prefix) + layout[-1].end

    numpy_types = {"F32": np.float32, "F64": np.float64, "F16": np.float16}
    with safe_open(str(path), framework="numpy") as handle:
        assert sorted(handle.keys()) == sorted(name for name, _, _ in NUMPY_ENTRIES)
        assert handle.metadata() == metadata
        for name, code, shape in NUMPY_ENTRIES:
            array = handle.get_tensor(name)
            assert array.shape == shape and array.dtype == numpy_types[code]
            assert not array.any()

    entries, got_metadata = read_header(path)
    assert entries == layout  # encoder order is data order
    assert got_metadata == metadata


def test_round_trip_torch(tmp_path):
    path = tmp_path / "model.safetensors"
    spec = [("embed", DTYPE_CODES["bfloat16"], (4, 3)), ("norm", "BF16", ()), ("proj", "F32", (2, 0, 2)),
            ("head", "F64", (1, 3)), ("gain", "F16", (5,))]
    _, layout = _write_encoded(path, spec)
    torch_types = {"BF16": torch.bfloat16, "F32": torch.float32, "F64": torch.float64, "F16": torch.float16}
    with safe_open(str(path), framework="pt") as handle:
        assert sorted(handle.keys()) == sorted(name for name, _, _ in spec)
        assert not handle.metadata()
        for name, code, shape in spec:
            tensor = handle.get_tensor(name)
            assert tuple(tensor.shape) == shape and tensor.dtype == torch_types[code]
            assert not tensor.any()
    assert read_header(path) == (layout, {})


def test_round_trip_data_lands_at_the_offsets(tmp_path):
    """Bytes written at ``len(prefix) + begin`` are what the library returns for that tensor."""
    rng = np.random.default_rng(0)
    arrays = {"a": rng.standard_normal((3, 4)).astype(np.float32),
              "b": rng.standard_normal(5).astype(ml_dtypes.bfloat16),
              "c": np.float64(2.5).reshape(()),
              "d": rng.standard_normal((2, 3)).astype(np.float16)}
    codes = {np.dtype(np.float32): "F32", np.dtype(ml_dtypes.bfloat16): "BF16", np.dtype(np.float64): "F64",
             np.dtype(np.float16): "F16"}
    prefix, layout = encode_header([(name, codes[a.dtype], a.shape) for name, a in arrays.items()])
    blob = bytearray(prefix + bytes(layout[-1].end))
    for entry in layout:
        blob[len(prefix) + entry.begin:len(prefix) + entry.end] = arrays[entry.name].tobytes()
    path = _write(tmp_path / "data.safetensors", bytes(blob))
    with safe_open(str(path), framework="pt") as handle:
        for name, array in arrays.items():
            got = handle.get_tensor(name)
            if name == "b":
                got = got.view(torch.int16)
                array = array.view(np.int16)
            np.testing.assert_array_equal(got.numpy(), array)


def test_empty_and_metadata_only(tmp_path):
    for metadata in (None, {"only": "metadata"}):
        path = tmp_path / "empty.safetensors"
        prefix, layout = _write_encoded(path, [], metadata)
        assert layout == [] and len(prefix) % 8 == 0
        assert _library_opens(path) == (True, {}, metadata or {})
        assert read_header(path) == ([], metadata or {})


@pytest.mark.parametrize("writer", ["numpy", "torch"])
def test_library_written_files(tmp_path, writer):
    """Headers the library writes (its own order, padding) parse to what the library reports."""
    metadata = {"format": writer, "step": "1000", "": "empty key"}
    arrays = {
        "model.layers.0.weight": np.arange(12, dtype=np.float32).reshape(3, 4),
        "scalar": np.array(-1.25, dtype=np.float64),
        "zero": np.zeros((0, 5), dtype=np.float16),
        "zero_rows": np.zeros((4, 0, 2), dtype=np.int64),
        "mask": np.array([True, False, True]),
        "bytes": np.arange(7, dtype=np.uint8),
        "small": np.arange(3, dtype=np.int8).reshape(3, 1),
        "ints": np.arange(6, dtype=np.int32).reshape(2, 3),
        "halfs": np.ones(5, dtype=np.float16),
    }
    path = tmp_path / f"{writer}.safetensors"
    if writer == "numpy":
        safetensors.numpy.save_file(arrays, str(path), metadata=metadata)
    else:
        tensors = {name: torch.from_numpy(a) for name, a in arrays.items()}
        tensors["bf16"] = torch.arange(6, dtype=torch.bfloat16).reshape(3, 2)
        tensors["bf16_scalar"] = torch.tensor(3.0, dtype=torch.bfloat16)
        safetensors.torch.save_file(tensors, str(path), metadata=metadata)

    entries, got_metadata = read_header(path)
    _check_invariants(path, entries, got_metadata)
    accepted, info, library_metadata = _library_opens(path)
    assert accepted
    assert {e.name: (e.dtype, e.shape) for e in entries} == info
    assert got_metadata == library_metadata == metadata
    assert len(entries) == len(info)

    with open(path, "rb") as handle:
        (header_size,) = struct.unpack("<Q", handle.read(8))
        assert (8 + header_size) % 8 == 0  # the library aligns its data section too
        handle.seek(8 + header_size)
        data = handle.read()
    with safe_open(str(path), framework="numpy" if writer == "numpy" else "pt") as handle:
        for entry in entries:
            value = handle.get_tensor(entry.name)
            if writer == "torch":
                value = value.view(torch.int16) if value.dtype == torch.bfloat16 else value
                value = value.numpy()
            assert data[entry.begin:entry.end] == np.ascontiguousarray(value).tobytes(), entry.name


# --------------------------------------------------------------------------- encoder


@pytest.mark.parametrize("name_length", range(1, 20))
def test_data_section_is_8_byte_aligned(tmp_path, name_length):
    prefix, layout = encode_header([("x" * name_length, "F16", (3,))])
    assert len(prefix) % 8 == 0
    (header_size,) = struct.unpack("<Q", prefix[:8])
    assert header_size == len(prefix) - 8
    json_end = len(prefix[8:].rstrip(b" "))
    assert prefix[8:].rstrip(b" ").endswith(b"}") and header_size - json_end < 8  # padded with spaces only
    path = tmp_path / "aligned.safetensors"
    _write(path, prefix + bytes(layout[-1].end))
    assert _library_opens(path)[0]


def test_encoder_accepts_numpy_integers_and_lists():
    _, layout = encode_header([("a", "F32", [np.int64(2), np.uint8(3)]), ("b", "U8", np.array([5]).tolist())])
    assert layout == [TensorEntry("a", "F32", (2, 3), 0, 24), TensorEntry("b", "U8", (5,), 24, 29)]
    assert all(type(dim) is int for dim in layout[0].shape)


@pytest.mark.parametrize("entries, metadata, fragment", [
    ([("", "F32", (1,))], None, "non-empty string"),
    ([(3, "F32", (1,))], None, "non-empty string"),
    ([("__metadata__", "F32", (1,))], None, "reserved"),
    ([("a", "F32", (1,)), ("a", "F16", (1,))], None, "duplicate tensor name 'a'"),
    ([("a\ud800", "F32", (1,))], None, "not valid UTF-8"),
    ([("a", "float32", (1,))], None, "'F32'"),  # a format name instead of a code: the hint names the code
    ([("a", "f32", (1,))], None, "unknown safetensors dtype code"),
    ([("a", ["F32"], (1,))], None, "unknown safetensors dtype code"),
    ([("a", "F32", (-1,))], None, "outside [0, 2**64)"),
    ([("a", "F32", (0, 2**64))], None, "outside [0, 2**64)"),
    ([("a", "F32", (1.0,))], None, "non-integer"),
    ([("a", "F32", (True,))], None, "bool"),
    ([("a", "F32", "12")], None, "sequence of integers"),
    ([("a", "F32", 12)], None, "sequence of integers"),
    ([("a", "F32", (2**31, 2**31, 2))], None, "more than 2**62"),
    ([("a", "F4", (3,))], None, "whole number of bytes"),
    ([("a", "F32")], None, "triple"),
    ([("a", "F32", (1,))], {"k": 1}, "metadata"),
    ([("a", "F32", (1,))], {1: "v"}, "metadata"),
    ([("a", "F32", (1,))], ["k"], "metadata"),
])
def test_encoder_rejects(entries, metadata, fragment):
    with pytest.raises(HeaderError) as info:
        encode_header(entries, metadata)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_encoder_rejects_headers_the_library_cannot_read(monkeypatch):
    """Headers above the library's 100_000_000-byte limit (lowered here to keep the test small) are refused."""
    spec = [("a" * 30, "F32", (1,))]
    prefix, _ = encode_header(spec)
    monkeypatch.setattr(fastglorot.io._safetensors, "MAX_HEADER_BYTES", len(prefix) - 8)
    assert encode_header(spec)[0] == prefix  # exactly at the limit
    with pytest.raises(HeaderError, match=f"header of {len(prefix)} bytes exceeds the format's limit"):
        encode_header([("a" * 38, "F32", (1,))])


# --------------------------------------------------------------------------- malformed files

_A4 = _tensor("F32", [1], [0, 4])

MALFORMED = [
    # id, file bytes, message fragment, whether safe_open refuses it too
    ("empty file", b"", "too short", True),
    ("3-byte file", b"abc", "file of 3 bytes is too short", True),
    ("7-byte file", b"\x00" * 7, "too short", True),
    ("length 2**63", _raw(b"{}", length=2**63), "header length 9223372036854775808 exceeds the limit", True),
    ("length 2**64-1", _raw(b"{}", length=2**64 - 1), "exceeds the limit", True),
    ("length past end of file", _raw(b"{}", length=3), "runs past the end", True),
    ("length 1 past end of file", _raw({"a": _A4}, bytes(4), length=len(json.dumps({"a": _A4})) + 5),
     "runs past the end", True),
    ("empty header", _raw(b""), "not valid JSON", True),
    ("not utf-8", _raw(b'{"\xff": 1}'), "not valid UTF-8", True),
    ("utf-8 surrogate", _raw(b'{"\xed\xa0\x80": 1}'), "not valid UTF-8", True),
    ("not json", _raw(b'{"a": '), "not valid JSON", True),
    ("trailing NUL padding", _raw(b"{}\0"), "not valid JSON", True),
    ("NaN", _raw(b'{"__metadata__": {"k": NaN}}'), "not valid JSON", True),
    ("deeply nested", _raw(b"[" * 100_000), "nested too deeply", True),
    ("integer too long to parse", _raw(b'{"a": {"dtype": "F32", "shape": [' + b"9" * 5000 + b'], '
                                       b'"data_offsets": [0, 4]}}', bytes(4)), "not valid JSON", True),
    ("header is a list", _raw([]), "must be a JSON object, not list", True),
    ("header is a string", _raw(b'"tensors"'), "must be a JSON object, not str", True),
    ("header is null", _raw(b"null"), "must be a JSON object, not NoneType", True),
    ("entry not an object", _raw({"a": [0, 4]}, bytes(4)), "tensor 'a': entry must be an object", True),
    ("entry missing key", _raw({"a": {"dtype": "F32", "shape": [1]}}, bytes(4)), "missing ['data_offsets']", True),
    ("entry extra key", _raw({"a": {**_A4, "offset": 0}}, bytes(4)), "unexpected ['offset']", False),
    ("duplicate tensor", _raw(b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, '
                              b'"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', bytes(4)),
     "duplicate key 'a'", False),
    ("unknown dtype", _raw({"a": _tensor("F128", [1], [0, 16])}, bytes(16)), "unknown dtype 'F128'", True),
    ("lower-case dtype", _raw({"a": _tensor("f32", [1], [0, 4])}, bytes(4)), "unknown dtype 'f32'", True),
    ("dtype not a string", _raw({"a": _tensor(4, [1], [0, 4])}, bytes(4)), "unknown dtype 4", True),
    ("shape not a list", _raw({"a": _tensor("F32", 1, [0, 4])}, bytes(4)), "shape must be a list", True),
    ("shape negative", _raw({"a": _tensor("F32", [-1], [0, 4])}, bytes(4)), "shape must be a list", True),
    ("shape float", _raw({"a": _tensor("F32", [1.0], [0, 4])}, bytes(4)), "shape must be a list", True),
    ("shape bool", _raw({"a": _tensor("F32", [True], [0, 4])}, bytes(4)), "shape must be a list", True),
    ("shape string", _raw({"a": _tensor("F32", ["1"], [0, 4])}, bytes(4)), "shape must be a list", True),
    ("shape nested", _raw({"a": _tensor("F32", [[1]], [0, 4])}, bytes(4)), "shape must be a list", True),
    ("shape dim 2**64", _raw({"a": _tensor("U8", [2**64, 0], [0, 0])}), "shape must be a list", True),
    ("more than 2**62 elements", _raw({"a": _tensor("F32", [2**31, 2**31, 2], [0, 4])}, bytes(4)),
     "has more than 2**62 elements", True),
    ("overflowing prefix of an empty shape", _raw({"a": _tensor("F32", [2**40, 2**40, 0], [0, 0])}),
     "has more than 2**62 elements", True),
    ("sub-byte size", _raw({"a": _tensor("F4", [3], [0, 2])}, bytes(2)), "not a whole number of bytes", True),
    ("offsets not a list", _raw({"a": _tensor("F32", [1], 4)}, bytes(4)), "data_offsets must be two", True),
    ("one offset", _raw({"a": _tensor("F32", [1], [4])}, bytes(4)), "data_offsets must be two", True),
    ("three offsets", _raw({"a": _tensor("F32", [1], [0, 4, 4])}, bytes(4)), "data_offsets must be two", True),
    ("negative offset", _raw({"a": _tensor("F32", [1], [-4, 0])}, bytes(4)), "data_offsets must be two", True),
    ("float offset", _raw({"a": _tensor("F32", [1], [0, 4.0])}, bytes(4)), "data_offsets must be two", True),
    ("offset 2**64", _raw({"a": _tensor("F32", [1], [2**64, 2**64 + 4])}, bytes(4)), "data_offsets must be two",
     True),
    ("begin after end", _raw({"a": _tensor("F32", [0], [4, 0])}, bytes(4)), "end before they begin", True),
    ("size disagrees with shape", _raw({"a": _tensor("F32", [2], [0, 4])}, bytes(4)), "span 4 bytes", True),
    ("size disagrees with dtype", _raw({"a": _tensor("F64", [1], [0, 4])}, bytes(4)), "needs 8", True),
    ("offsets past end of file", _raw({"a": _tensor("F32", [2], [0, 8])}, bytes(4)),
     "run past the end of the 4-byte data section", True),
    ("2**61 elements past end of file", _raw({"a": _tensor("U8", [2**61], [0, 2**61])}, bytes(4)),
     "run past the end", True),
    ("overlap", _raw({"a": _tensor("F32", [2], [0, 8]), "b": _tensor("F32", [2], [4, 12])}, bytes(12)),
     "tensor 'b' at [4, 12) overlaps tensor 'a' at [0, 8)", True),
    ("same range twice", _raw({"a": _A4, "b": _A4}, bytes(4)), "overlaps", True),
    ("zero-size tensor inside another", _raw({"a": _tensor("F32", [2], [0, 8]), "b": _tensor("F32", [0], [4, 4])},
                                             bytes(8)), "overlaps", True),
    ("gap", _raw({"a": _A4, "b": _tensor("F32", [1], [8, 12])}, bytes(12)), "gap of 4 bytes after tensor 'a'",
     True),
    ("not starting at 0", _raw({"a": _tensor("F32", [1], [4, 8])}, bytes(8)),
     "gap of 4 bytes after the start of the data section", True),
    ("trailing bytes", _raw({"a": _A4}, bytes(7)), "3 trailing bytes", True),
    ("data but no tensors", _raw({}, bytes(1)), "1 trailing bytes", True),
    ("metadata a list", _raw({"__metadata__": ["k", "v"]}), "__metadata__ must be an object", True),
    ("metadata a string", _raw({"__metadata__": "k=v"}), "__metadata__ must be an object", True),
    ("metadata int value", _raw({"__metadata__": {"k": 1}}), "value of 'k' is not a UTF-8 string (int)", True),
    ("metadata nested value", _raw({"__metadata__": {"k": {"x": "y"}}}), "value of 'k' is not", True),
    ("metadata surrogate", _raw(b'{"__metadata__": {"k": "\\ud800"}}'), "value of 'k' is not", True),
    ("tensor name surrogate", _raw(b'{"\\udc00": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0]}}'),
     "key '\\udc00' is not valid UTF-8", True),
]


@pytest.mark.parametrize("content, fragment, library_refuses", [case[1:] for case in MALFORMED],
                         ids=[case[0] for case in MALFORMED])
def test_malformed_files(tmp_path, content, fragment, library_refuses):
    path = _write(tmp_path / "bad.safetensors", content)
    with pytest.raises(HeaderError) as info:
        read_header(path)
    message = str(info.value)
    assert fragment in message
    assert message.startswith(f"{path}: ")  # names the file
    assert "\n" not in message and len(message) < 400
    # Where this module is not deliberately stricter, the reference implementation agrees.
    assert _library_opens(path)[0] is not library_refuses


def test_max_header_bytes(tmp_path):
    path = tmp_path / "model.safetensors"
    prefix, layout = _write_encoded(path, [("a", "F32", (2,))])
    assert read_header(path, max_header_bytes=len(prefix) - 8) == (layout, {})
    with pytest.raises(HeaderError, match=f"header length {len(prefix) - 8} exceeds the limit of 8 bytes"):
        read_header(path, max_header_bytes=8)


def test_library_leniencies_that_are_kept(tmp_path):
    """Null metadata, JSON whitespace, unaligned data, zero-size tensors sharing an offset: all fine."""
    header = (b' \t\n{"__metadata__": null, "c": {"dtype": "U8", "shape": [3], "data_offsets": [0, 3]}, '
              b'"z": {"dtype": "F32", "shape": [0], "data_offsets": [3, 3]}, '
              b'"y": {"dtype": "F64", "shape": [2, 0], "data_offsets": [3, 3]}, '
              b'"a": {"dtype": "I16", "shape": [], "data_offsets": [3, 5]}}\r\n ')
    path = _write(tmp_path / "lenient.safetensors", _raw(header, bytes(5)))
    assert (8 + len(header)) % 8 != 0
    entries, metadata = read_header(path)
    assert entries == [TensorEntry("c", "U8", (3,), 0, 3), TensorEntry("z", "F32", (0,), 3, 3),
                       TensorEntry("y", "F64", (2, 0), 3, 3), TensorEntry("a", "I16", (), 3, 5)]
    assert metadata == {}
    accepted, info, _ = _library_opens(path)
    assert accepted and info == {e.name: (e.dtype, e.shape) for e in entries}


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_header(tmp_path / "absent.safetensors")


# --------------------------------------------------------------------------- memory bounds


@pytest.mark.parametrize("header", [
    {"a": _tensor("U8", [2**61], [0, 2**61])},
    {"a": _tensor("F32", [2**20, 2**20, 2**21], [0, 2**63])},
    {"a": _tensor("F32", [2**61], [0, 4])},
    {"a": _tensor("BF16", [2**30, 2**31], [0, 2**62])},
], ids=["u8-2**61-offsets", "f32-2**61-elements", "size-mismatch", "bf16-2**61"])
def test_huge_claims_allocate_nothing(tmp_path, header):
    path = _write(tmp_path / "huge.safetensors", _raw(header, bytes(4)))
    tracemalloc.start()
    try:
        with pytest.raises(HeaderError):
            read_header(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * 2**20


def test_large_valid_file_is_not_read(tmp_path):
    """A 256 MiB (sparse) file: only its header is read."""
    path = tmp_path / "big.safetensors"
    prefix, layout = encode_header([("big", "F32", (2**26,)), ("tail", "F32", (1,))])
    with open(path, "wb") as handle:
        handle.write(prefix)
        handle.truncate(len(prefix) + layout[-1].end)
    tracemalloc.start()
    try:
        assert read_header(path) == (layout, {})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**20


# --------------------------------------------------------------------------- properties

_NAMES = st.text(st.characters(codec="utf-8"), min_size=1, max_size=12).filter(lambda s: s != "__metadata__")
_SPECS = st.lists(
    st.tuples(_NAMES, st.sampled_from(sorted(BITSIZE)), st.lists(st.integers(0, 4), max_size=3).map(tuple)),
    max_size=6, unique_by=lambda spec: spec[0],
).filter(lambda specs: all(math.prod(shape) * BITSIZE[dtype] % 8 == 0 for _, dtype, shape in specs))
_METADATA = st.none() | st.dictionaries(st.text(st.characters(codec="utf-8"), max_size=6),
                                        st.text(st.characters(codec="utf-8"), max_size=6), max_size=3)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("safetensors-properties") / "example.safetensors"


def _parse_or_header_error(path):
    """``read_header``'s result, or None for a HeaderError: any other exception fails the test."""
    try:
        entries, metadata = read_header(path)
    except HeaderError as error:
        assert "\n" not in str(error)
        return None
    _check_invariants(path, entries, metadata)
    # Never more lenient than the reference implementation: what is accepted here loads there, identically.
    accepted, info, library_metadata = _library_opens(path)
    assert accepted
    assert info == {e.name: (e.dtype, e.shape) for e in entries}
    assert library_metadata == metadata
    return entries, metadata


@HYPOTHESIS
@given(specs=_SPECS, metadata=_METADATA)
def test_encoded_headers_round_trip(scratch, specs, metadata):
    prefix, layout = encode_header(specs, metadata)
    assert len(prefix) % 8 == 0
    assert [(e.name, e.dtype, e.shape) for e in layout] == specs
    _write(scratch, prefix + bytes(layout[-1].end if layout else 0))
    result = _parse_or_header_error(scratch)
    assert result is not None
    entries, got_metadata = result
    assert got_metadata == (metadata or {})
    # Ties between zero-size tensors keep header (= encoder) order, so the whole list matches.
    assert entries == layout


@HYPOTHESIS
@given(content=st.binary(max_size=200) | st.binary(max_size=64).map(lambda b: struct.pack("<Q", len(b)) + b))
def test_arbitrary_bytes(scratch, content):
    _write(scratch, content)
    _parse_or_header_error(scratch)


def _mutate(content, mutation):
    kind, position, value = mutation
    if not content:
        return content
    position %= len(content)
    if kind == "truncate":
        return content[:position]
    if kind == "flip":
        return content[:position] + bytes([content[position] ^ (value % 255 + 1)]) + content[position + 1:]
    if kind == "set":
        return content[:position] + bytes([value % 256]) + content[position + 1:]
    if kind == "insert":
        return content[:position] + bytes([value % 256]) + content[position:]
    if kind == "delete":
        return content[:position] + content[position + 1:]
    if kind == "length":  # the length prefix: off by a little, or anything at all
        length = struct.unpack("<Q", content[:8])[0] if len(content) >= 8 else 0
        new = (length + (value % 17) - 8) % 2**64 if value < 2**32 else value % 2**64
        return struct.pack("<Q", new) + content[8:]
    assert kind == "append"
    return content + bytes([value % 256]) * (value % 9 + 1)


_MUTATIONS = st.lists(st.tuples(st.sampled_from(["truncate", "flip", "set", "insert", "delete", "length", "append"]),
                                st.integers(0, 2**16), st.integers(0, 2**64 - 1)), min_size=1, max_size=4)
_BASE_SPECS = [("w", "F32", (2, 3)), ("s", "BF16", ()), ("e", "F16", (0, 4)), ("b", "U8", (3,))]


@HYPOTHESIS
@given(metadata=_METADATA, mutations=_MUTATIONS)
def test_mutated_files(scratch, metadata, mutations):
    prefix, layout = encode_header(_BASE_SPECS, metadata)
    content = prefix + bytes(range(layout[-1].end))
    for mutation in mutations:
        content = _mutate(content, mutation)
    _write(scratch, content)
    _parse_or_header_error(scratch)


# --------------------------------------------------------------------------- index files


def _index(tmp_path, value):
    path = tmp_path / "model.safetensors.index.json"
    path.write_bytes(value if isinstance(value, bytes) else json.dumps(value).encode())
    return path


def test_read_index(tmp_path):
    weight_map = {"model.embed.weight": "model-00001-of-00002.safetensors",
                  "lm_head.weight": "model-00002-of-00002.safetensors"}
    path = _index(tmp_path, {"metadata": {"total_size": 1234}, "weight_map": weight_map})
    assert read_index(path) == weight_map
    assert read_index(_index(tmp_path, {"weight_map": {}})) == {}


@pytest.mark.parametrize("content, fragment", [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe{}", "not valid UTF-8"),
    (b"", "not valid JSON"),
    ([], "must be a JSON object"),
    ({"metadata": {}}, "no 'weight_map'"),
    ({"weight_map": ["a.safetensors"]}, "'weight_map' must be an object"),
    ({"weight_map": None}, "'weight_map' must be an object"),
    ({"metadata": [], "weight_map": {}}, "'metadata' must be an object"),
    ({"weight_map": {"a": 1}}, "must be a string, not int"),
    ({"weight_map": {"a": "shards/a.safetensors"}}, "not a plain file name"),
    ({"weight_map": {"a": "../a.safetensors"}}, "not a plain file name"),
    ({"weight_map": {"a": ".."}}, "not a plain file name"),
    ({"weight_map": {"a": "."}}, "not a plain file name"),
    ({"weight_map": {"a": ""}}, "not a plain file name"),
    ({"weight_map": {"a": "/etc/passwd"}}, "not a plain file name"),
    ({"weight_map": {"a": "..\\a.safetensors"}}, "not a plain file name"),
    ({"weight_map": {"a": "a\0.safetensors"}}, "not a plain file name"),
    (b'{"weight_map": {"a": "x.safetensors", "a": "y.safetensors"}}', "duplicate key 'a'"),
])
def test_read_index_rejects(tmp_path, content, fragment):
    path = _index(tmp_path, content)
    with pytest.raises(HeaderError) as info:
        read_index(path)
    assert fragment in str(info.value)
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)


def test_read_index_size_limit(tmp_path):
    path = _index(tmp_path, {"weight_map": {"a": "a.safetensors"}})
    assert read_index(path, max_bytes=os.path.getsize(path)) == {"a": "a.safetensors"}
    with pytest.raises(HeaderError, match="larger than 10 bytes"):
        read_index(path, max_bytes=10)
