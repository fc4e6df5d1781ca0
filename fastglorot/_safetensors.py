"""The safetensors file format, header side only.

A safetensors file (https://github.com/huggingface/safetensors, "Format") is

1. 8 bytes: ``N``, the header size, an unsigned 64-bit little-endian integer;
2. ``N`` bytes: a UTF-8 JSON object mapping each tensor name to
   ``{"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}``, plus an
   optional ``"__metadata__"`` object of str -> str;
3. the data section: the tensors' bytes, little-endian, C order.

``data_offsets`` are relative to the start of the data section, ``end``
exclusive.  The rules below are the ones the reference implementation
(``safetensors`` 0.8, ``Metadata::validate`` and ``read_metadata`` in
``safetensors/src/tensor.rs``) enforces when it opens a file:

* ``N <= 100_000_000`` (decimal, not 100 MiB);
* the header may have JSON whitespace around the object; the library's own
  writer pads it with spaces so that the data section starts at a multiple
  of 8 bytes, but readers do not require that alignment;
* sorted by ``(begin, end)``, the tensors must tile the data section exactly:
  the first starts at 0, each starts where the previous one ends (no gaps, no
  overlaps; zero-byte tensors may share an offset), and the last one ends at
  the end of the file (no trailing bytes);
* ``end - begin`` equals the element count times the dtype's bit width / 8,
  which must be a whole number of bytes (sub-byte dtypes such as ``F4``).

This module is stricter than the library in a few places, because its reader
is meant for untrusted files and an ambiguous header is a hazard (two parsers
may disagree about it): duplicate JSON keys, unknown keys in a tensor entry,
and shapes whose running element count exceeds ``2**62`` are errors here.  A
``"__metadata__": null`` is read as no metadata, as the library does.

Memory use of :func:`read_header` is bounded by the header size (the JSON
parse); the data section is never read and nothing is sized by a shape.
"""

from __future__ import annotations

import json
import operator
import os
import reprlib
import struct
from typing import Any, BinaryIO, Dict, List, Mapping, NamedTuple, NoReturn, Optional, Sequence, Tuple, Union

from ._formats import FORMATS

__all__ = [
    "DTYPE_CODES",
    "BITSIZE",
    "ITEMSIZE",
    "MAX_HEADER_BYTES",
    "MAX_ELEMENTS",
    "HeaderError",
    "TensorEntry",
    "encode_header",
    "read_header",
    "read_index",
]

PathLike = Union[str, "os.PathLike[str]"]

#: fastglorot format names -> safetensors dtype codes.
DTYPE_CODES: Dict[str, str] = {name: fmt.safetensors for name, fmt in FORMATS.items()}

#: Bits per element of every dtype code safetensors 0.8 defines (the ``Dtype``
#: enum in ``safetensors/src/tensor.rs``).  Bits, not bytes, because of the
#: 4- and 6-bit microscaling formats.
BITSIZE: Dict[str, int] = {
    "BOOL": 8,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "F8_E4M3FNUZ": 8,
    "F8_E5M2FNUZ": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "C64": 64,
    "F64": 64,
    "I64": 64,
    "U64": 64,
}

#: Bytes per element of every dtype code whose elements are whole bytes (all
#: but ``F4``, ``F6_E2M3`` and ``F6_E3M2``; use :data:`BITSIZE` for those).
ITEMSIZE: Dict[str, int] = {code: bits // 8 for code, bits in BITSIZE.items() if bits % 8 == 0}

#: The reference implementation's ``MAX_HEADER_SIZE``: it refuses to write or
#: read a larger header, so nothing bigger is a file anyone can load.
MAX_HEADER_BYTES = 100_000_000

#: Largest element count accepted for one tensor (and for every prefix of its
#: shape): far beyond any real tensor, and ``2**62 * 64`` bits still fits the
#: library's 64-bit size arithmetic, so every shape accepted here is
#: representable there.
MAX_ELEMENTS = 2**62

_METADATA_KEY = "__metadata__"
_ENTRY_KEYS = frozenset(("dtype", "shape", "data_offsets"))
_U64_LIMIT = 2**64  # shape dims and offsets are usize in the library
_LENGTH = struct.Struct("<Q")
_ALIGN = 8
_SHOWN_CHARS = 60  # names can be megabytes long; keep messages one short line
_REPR = reprlib.Repr()
_REPR.maxlist = _REPR.maxdict = 8
_REPR.maxstring = _REPR.maxother = _SHOWN_CHARS


class HeaderError(ValueError):
    """A safetensors header, file or index is malformed (or input to :func:`encode_header` is invalid)."""


class TensorEntry(NamedTuple):
    """One tensor as described by a safetensors header.

    Attributes
    ----------
    name : str
        The tensor's name (the header key).
    dtype : str
        Its safetensors dtype code, a key of :data:`BITSIZE`.
    shape : tuple of int
        Its shape; ``()`` for a 0-d scalar.
    begin, end : int
        Its byte range ``[begin, end)`` within the data section (which starts
        right after the header).
    """

    name: str
    dtype: str
    shape: Tuple[int, ...]
    begin: int
    end: int


def _show(text: str) -> str:
    """``repr`` of ``text``, shortened: messages must stay one readable line."""
    if len(text) > _SHOWN_CHARS:
        return repr(text[:_SHOWN_CHARS]) + f"... ({len(text)} chars)"
    return repr(text)


def _brief(value: object) -> str:
    """A bounded ``repr`` of a JSON value: a hostile header's lists can hold millions of items."""
    return _REPR.repr(value)


def _is_utf8(text: str) -> bool:
    """Whether ``text`` encodes to UTF-8 (json accepts lone surrogate escapes; Rust's serde does not)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_uint(value: object) -> bool:
    """Whether ``value`` is a JSON integer that fits the library's ``usize`` (bool is an int in Python)."""
    return type(value) is int and 0 <= value < _U64_LIMIT


def _element_count(shape: Sequence[int]) -> Optional[int]:
    """Product of ``shape``, or None if a running product exceeds :data:`MAX_ELEMENTS`.

    Checked per step, like the library's ``checked_mul`` fold, so that a long
    shape of huge dimensions never builds a huge Python integer.
    """
    count = 1
    for dim in shape:
        count *= dim
        if count > MAX_ELEMENTS:
            return None
    return count


def _byte_size(dtype: str, count: int) -> Optional[int]:
    """Bytes taken by ``count`` elements of ``dtype``, or None if not a whole number of bytes."""
    bits = count * BITSIZE[dtype]
    return bits // 8 if bits % 8 == 0 else None


def _checked_size(label: str, dtype: str, shape: Sequence[int]) -> int:
    """Bytes of ``shape`` elements of ``dtype``; a HeaderError past 2**62 elements or for partial bytes."""
    count = _element_count(shape)
    if count is None:
        raise HeaderError(f"{label}: shape {_brief(list(shape))} has more than 2**62 elements")
    size = _byte_size(dtype, count)
    if size is None:
        raise HeaderError(f"{label}: {count} elements of {dtype} are not a whole number of bytes")
    return size


def _check_metadata(metadata: object) -> Optional[str]:
    """Why ``metadata`` is not a str -> str mapping (None when it is)."""
    if not isinstance(metadata, Mapping):
        return f"must be an object of strings, not {type(metadata).__name__}"
    for key, value in metadata.items():
        if not isinstance(key, str) or not _is_utf8(key):
            return f"key {_brief(key)} is not a UTF-8 string"
        if not isinstance(value, str) or not _is_utf8(value):
            return f"value of {_show(key)} is not a UTF-8 string ({type(value).__name__})"
    return None


def encode_header(
    entries: Sequence[Tuple[str, str, Sequence[int]]],
    metadata: Optional[Mapping[str, str]] = None,
) -> Tuple[bytes, List[TensorEntry]]:
    """Lay out tensors back to back and encode the file prefix describing them.

    Parameters
    ----------
    entries : sequence of (name, dtype_code, shape)
        The tensors in the order their data will be written.  Names must be
        non-empty, unique and not ``"__metadata__"``; ``dtype_code`` is a key
        of :data:`BITSIZE` (see :data:`DTYPE_CODES` for fastglorot's formats);
        ``shape`` holds non-negative integers (``()`` for a scalar).
    metadata : mapping of str to str, optional
        Stored as ``"__metadata__"``.

    Returns
    -------
    prefix : bytes
        The 8-byte length and the JSON header, padded with spaces so that
        ``len(prefix)`` is a multiple of 8 (the data section is 8-byte
        aligned, as the library's own writer does).
    layout : list of TensorEntry
        ``entries`` with their byte ranges: tensor ``i`` occupies
        ``[layout[i].begin, layout[i].end)`` of the data section, which
        starts at ``len(prefix)``.  The complete file is
        ``len(prefix) + layout[-1].end`` bytes (``len(prefix)`` if empty).

    Raises
    ------
    HeaderError
        On an invalid name, dtype, shape or metadata, or a header larger
        than :data:`MAX_HEADER_BYTES`.
    """
    header: Dict[str, Any] = {}
    if metadata is not None:
        problem = _check_metadata(metadata)
        if problem is not None:
            raise HeaderError(f"metadata {problem}")
        # First, as the library writes it; a copy so a later change to the caller's mapping cannot matter.
        header[_METADATA_KEY] = dict(metadata)
    layout: List[TensorEntry] = []
    offset = 0
    for item in entries:
        try:
            name, dtype, raw_shape = item
        except (TypeError, ValueError):
            raise HeaderError(f"entry {_brief(item)} is not a (name, dtype_code, shape) triple") from None
        if not isinstance(name, str) or not name:
            raise HeaderError(f"tensor name {_brief(name)} must be a non-empty string")
        if not _is_utf8(name):
            raise HeaderError(f"tensor name {_show(name)} is not valid UTF-8")
        if name == _METADATA_KEY:
            raise HeaderError(f"tensor name {name!r} is reserved for the header's metadata")
        if name in header:
            raise HeaderError(f"duplicate tensor name {_show(name)}")
        if not isinstance(dtype, str) or dtype not in BITSIZE:
            known = isinstance(dtype, str) and dtype in DTYPE_CODES
            hint = f" (the safetensors code for it is {DTYPE_CODES[dtype]!r})" if known else ""
            raise HeaderError(f"tensor {_show(name)}: unknown safetensors dtype code {_brief(dtype)}{hint}")
        shape = _encode_shape(name, raw_shape)
        size = _checked_size(f"tensor {_show(name)}", dtype, shape)
        entry = TensorEntry(name, dtype, shape, offset, offset + size)
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [entry.begin, entry.end]}
        layout.append(entry)
        offset = entry.end
    # ensure_ascii=False writes names as UTF-8, like serde_json does; compact separators like it too.
    text = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % _ALIGN)  # the 8-byte length prefix keeps the total aligned
    if len(text) > MAX_HEADER_BYTES:
        raise HeaderError(f"header of {len(text)} bytes exceeds the format's limit of {MAX_HEADER_BYTES} bytes")
    return _LENGTH.pack(len(text)) + text, layout


def _encode_shape(name: str, shape: Sequence[int]) -> Tuple[int, ...]:
    """``shape`` as a tuple of Python ints, validated (numpy integers accepted, bools not)."""
    if isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence):
        raise HeaderError(f"tensor {_show(name)}: shape must be a sequence of integers, not {type(shape).__name__}")
    dims = []
    for dim in shape:
        if isinstance(dim, bool):
            raise HeaderError(f"tensor {_show(name)}: shape {_brief(shape)} contains a bool")
        try:
            value = operator.index(dim)
        except TypeError:
            raise HeaderError(f"tensor {_show(name)}: shape {_brief(shape)} contains a non-integer") from None
        if not 0 <= value < _U64_LIMIT:
            raise HeaderError(f"tensor {_show(name)}: shape {_brief(shape)} has a dimension outside [0, 2**64)")
        dims.append(value)
    return tuple(dims)


class _DuplicateKey(Exception):
    """Raised from the JSON object hook; turned into a HeaderError naming the file."""


def _unique_object(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    """json object hook: a dict, refusing duplicate keys (json keeps the last, which hides a conflict)."""
    result: Dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _reject_constant(token: str) -> NoReturn:
    """json ``parse_constant`` hook: NaN and Infinity are not JSON (serde_json refuses them too)."""
    raise ValueError(f"{token} is not valid JSON")


def _load_json(path: PathLike, text: bytes, what: str) -> Any:
    """Decode and parse ``text`` (UTF-8 JSON), every failure a HeaderError naming ``path``."""
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HeaderError(f"{os.fspath(path)}: {what} is not valid UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(decoded, object_pairs_hook=_unique_object, parse_constant=_reject_constant)
    except _DuplicateKey as exc:
        raise HeaderError(f"{os.fspath(path)}: {what} has duplicate key {_show(str(exc.args[0]))}") from None
    except RecursionError:
        # A deeply nested array from a hostile file.
        raise HeaderError(f"{os.fspath(path)}: {what} JSON is nested too deeply") from None
    except ValueError as exc:
        # JSONDecodeError, NaN/Infinity, and integers too long to convert all land here.
        message = " ".join(str(exc).split())[:200]
        raise HeaderError(f"{os.fspath(path)}: {what} is not valid JSON: {message}") from None


def _read_exactly(handle: BinaryIO, size: int) -> bytes:
    """``size`` bytes from ``handle`` (a short read only happens if the file shrank meanwhile)."""
    chunks = []
    while size > 0:
        chunk = handle.read(size)
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_header(
    path: PathLike, *, max_header_bytes: int = MAX_HEADER_BYTES
) -> Tuple[List[TensorEntry], Dict[str, str]]:
    """Read and validate the header of a safetensors file that may be hostile.

    Only the 8-byte length and the header are read; the data section's bytes
    are never touched, but its size (from the file size) is checked against
    the tensors' offsets.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    max_header_bytes : int, optional
        Refuse headers larger than this; the default is the reference
        implementation's limit, so every file it opens passes.

    Returns
    -------
    entries : list of TensorEntry
        The tensors, in data-offset order (zero-byte tensors at the same
        offset in header order).  They tile the data section exactly.
    metadata : dict of str to str
        The ``"__metadata__"`` object; empty when absent or null.

    Raises
    ------
    HeaderError
        If the file is not a valid safetensors file: too short; a header
        length beyond the file or above ``max_header_bytes``; a header that is
        not UTF-8 JSON, not an object, or has duplicate keys; a tensor entry
        that is not an object with exactly the keys ``dtype``, ``shape`` and
        ``data_offsets``; an unknown dtype; a shape that is not a list of
        non-negative integers or has more than :data:`MAX_ELEMENTS` elements;
        offsets that are not two non-negative integers with begin <= end, that
        disagree with the shape and dtype, overlap, leave gaps, run past the
        end of the file or stop short of it; or metadata that is not an object
        of strings.
    OSError
        If the file cannot be opened or read.
    """
    where = os.fspath(path)
    with open(path, "rb") as handle:
        file_size = os.fstat(handle.fileno()).st_size
        prefix = _read_exactly(handle, _LENGTH.size)
        if len(prefix) < _LENGTH.size:
            raise HeaderError(f"{where}: file of {len(prefix)} bytes is too short for the 8-byte header length")
        (header_size,) = _LENGTH.unpack(prefix)
        if header_size > max_header_bytes:
            raise HeaderError(f"{where}: header length {header_size} exceeds the limit of {max_header_bytes} bytes")
        if header_size > file_size - _LENGTH.size:
            raise HeaderError(f"{where}: header length {header_size} runs past the end of the {file_size}-byte file")
        text = _read_exactly(handle, header_size)
    if len(text) < header_size:
        raise HeaderError(f"{where}: file was truncated while reading its {header_size}-byte header")
    data_size = file_size - _LENGTH.size - header_size
    header = _load_json(path, text, "header")
    del text
    if not isinstance(header, dict):
        raise HeaderError(f"{where}: header must be a JSON object, not {type(header).__name__}")

    metadata: Dict[str, str] = {}
    entries: List[TensorEntry] = []
    for name, info in header.items():
        if not _is_utf8(name):
            raise HeaderError(f"{where}: key {_show(name)} is not valid UTF-8")
        if name == _METADATA_KEY:
            if info is not None:  # null means "no metadata" to the library
                problem = _check_metadata(info)
                if problem is not None:
                    raise HeaderError(f"{where}: {_METADATA_KEY} {problem}")
                metadata = info
            continue
        entries.append(_parse_entry(where, name, info, data_size))

    # The library's rule: sorted by offsets, the tensors start at 0 and follow each other without gaps.
    entries.sort(key=lambda entry: (entry.begin, entry.end))
    position = 0
    previous: Optional[TensorEntry] = None
    for entry in entries:
        if entry.begin > position:
            after = "the start of the data section" if previous is None else f"tensor {_show(previous.name)}"
            raise HeaderError(
                f"{where}: tensor {_show(entry.name)} starts at {entry.begin}, leaving a gap of "
                f"{entry.begin - position} bytes after {after} (tensors must be contiguous)"
            )
        if entry.begin < position:
            assert previous is not None  # position > 0 only after a tensor
            raise HeaderError(
                f"{where}: tensor {_show(entry.name)} at [{entry.begin}, {entry.end}) overlaps tensor "
                f"{_show(previous.name)} at [{previous.begin}, {previous.end})"
            )
        position = entry.end
        previous = entry
    if position != data_size:
        raise HeaderError(
            f"{where}: the tensors cover {position} bytes but the data section has {data_size} "
            f"({data_size - position} trailing bytes)"
        )
    return entries, metadata


def _parse_entry(where: str, name: str, info: object, data_size: int) -> TensorEntry:
    """Validate one header entry (everything but its position relative to the others)."""
    label = f"{where}: tensor {_show(name)}"
    if not isinstance(info, dict):
        raise HeaderError(f"{label}: entry must be an object, not {type(info).__name__}")
    keys = set(info)
    if keys != _ENTRY_KEYS:
        missing = sorted(_ENTRY_KEYS - keys)
        extra = sorted(keys - _ENTRY_KEYS)
        parts = ([f"missing {missing}"] if missing else []) + ([f"unexpected {extra}"] if extra else [])
        raise HeaderError(f"{label}: entry keys are wrong: {' and '.join(parts)}"[:300])

    dtype = info["dtype"]
    if not isinstance(dtype, str) or dtype not in BITSIZE:
        raise HeaderError(f"{label}: unknown dtype {_brief(dtype)}")

    shape = info["shape"]
    if not isinstance(shape, list) or not all(_is_uint(dim) for dim in shape):
        raise HeaderError(f"{label}: shape must be a list of non-negative 64-bit integers, got {_brief(shape)}")
    size = _checked_size(label, dtype, shape)

    offsets = info["data_offsets"]
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_uint(offset) for offset in offsets):
        raise HeaderError(f"{label}: data_offsets must be two non-negative 64-bit integers, got {_brief(offsets)}")
    begin, end = offsets
    if begin > end:
        raise HeaderError(f"{label}: data_offsets [{begin}, {end}] end before they begin")
    if end > data_size:
        raise HeaderError(
            f"{label}: data_offsets [{begin}, {end}] run past the end of the {data_size}-byte data section"
        )
    if end - begin != size:
        raise HeaderError(
            f"{label}: data_offsets [{begin}, {end}] span {end - begin} bytes but shape {shape} of {dtype} "
            f"needs {size}"
        )
    return TensorEntry(name, dtype, tuple(shape), begin, end)


def read_index(path: PathLike, *, max_bytes: int = MAX_HEADER_BYTES) -> Dict[str, str]:
    """Read a Hugging Face sharded-checkpoint index (``model.safetensors.index.json``).

    Parameters
    ----------
    path : str or os.PathLike
        The index file: ``{"metadata": {...}, "weight_map": {tensor: shard}}``.
    max_bytes : int, optional
        Refuse larger files (the index is untrusted too).

    Returns
    -------
    dict of str to str
        ``weight_map``: tensor name -> shard file name.  Shard names are plain
        file names (no directory part, not ``.`` or ``..``), so joining them
        to the index's directory cannot escape it.

    Raises
    ------
    HeaderError
        If the file is too large, not UTF-8 JSON, not an object, has a
        ``metadata`` that is not an object, or a ``weight_map`` that is
        missing, not an object of strings, or names a shard with a path.
    OSError
        If the file cannot be opened or read.
    """
    where = os.fspath(path)
    with open(path, "rb") as handle:
        text = handle.read(max_bytes + 1)  # one more byte tells "too large" apart from "exactly the limit"
    if len(text) > max_bytes:
        raise HeaderError(f"{where}: index file is larger than {max_bytes} bytes")
    index = _load_json(path, text, "index")
    del text
    if not isinstance(index, dict):
        raise HeaderError(f"{where}: index must be a JSON object, not {type(index).__name__}")
    if "metadata" in index and index["metadata"] is not None and not isinstance(index["metadata"], dict):
        raise HeaderError(f"{where}: index 'metadata' must be an object, not {type(index['metadata']).__name__}")
    if "weight_map" not in index:
        raise HeaderError(f"{where}: index has no 'weight_map'")
    weight_map = index["weight_map"]
    if not isinstance(weight_map, dict):
        raise HeaderError(f"{where}: index 'weight_map' must be an object, not {type(weight_map).__name__}")
    for name, shard in weight_map.items():
        if not _is_utf8(name):
            raise HeaderError(f"{where}: weight_map key {_show(name)} is not valid UTF-8")
        if not isinstance(shard, str):
            raise HeaderError(f"{where}: weight_map entry {_show(name)} must be a string, not {type(shard).__name__}")
        if (not shard or shard in (".", "..") or "/" in shard or "\\" in shard or "\0" in shard
                or os.path.basename(shard) != shard or not _is_utf8(shard)):
            raise HeaderError(
                f"{where}: weight_map entry {_show(name)} names shard {_show(shard)}, which is not a plain file name"
            )
    return weight_map
