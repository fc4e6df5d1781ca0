"""The safetensors header reader, for files that may be hostile: :func:`read_header` and :func:`read_index`.

The format and the rules the reference library enforces are described in
:mod:`fastglorot.io._safetensors`.  This reader is stricter than the library
in a few places, because it is meant for untrusted files and an ambiguous
header is a hazard (two parsers may disagree about it): duplicate JSON keys,
unknown keys in a tensor entry, and shapes whose running element count
exceeds ``2**62`` are errors here (JSON is parsed by
:func:`fastglorot.io._strictjson.loads`, which also refuses ``NaN`` and
``Infinity``, as serde_json does).  A ``"__metadata__": null`` is read as no
metadata, as the library does.

Memory use of :func:`read_header` is bounded by the header size (the JSON
parse); the data section is never read and nothing is sized by a shape.
"""

from __future__ import annotations

import os
from typing import Any, BinaryIO, Dict, List, Optional, Tuple

from ._safetensors import (BITSIZE, MAX_HEADER_BYTES, HeaderError, PathLike, TensorEntry, _brief, _check_metadata,
                           _checked_size, _is_utf8, _LENGTH, _METADATA_KEY, _show, _U64_LIMIT)
from ._strictjson import DuplicateKeyError, loads

__all__ = ["read_header", "read_index"]

_ENTRY_KEYS = frozenset(("dtype", "shape", "data_offsets"))


def _is_uint(value: object) -> bool:
    """Whether ``value`` is a JSON integer that fits the library's ``usize`` (bool is an int in Python)."""
    return type(value) is int and 0 <= value < _U64_LIMIT


def _load_json(path: PathLike, text: bytes, what: str) -> Any:
    """Decode and parse ``text`` (UTF-8 JSON), every failure a HeaderError naming ``path``."""
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HeaderError(f"{os.fspath(path)}: {what} is not valid UTF-8 (byte {exc.start})") from None
    try:
        return loads(decoded)
    except DuplicateKeyError as exc:  # before ValueError, of which it is one
        raise HeaderError(f"{os.fspath(path)}: {what} has duplicate key {_show(exc.keys[0])}") from None
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
