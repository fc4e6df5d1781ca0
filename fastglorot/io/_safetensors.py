"""The safetensors file format, header side only: its tables and the header writer.

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

The writer side, :func:`encode_header`, is here with the format's tables;
the reader for untrusted files (:func:`read_header`, :func:`read_index`) is
:mod:`fastglorot.io._safetensors_reader`.
"""

from __future__ import annotations

import json
import operator
import os
import reprlib
import struct
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

from .._format.tables import FORMATS

__all__ = [
    "DTYPE_CODES",
    "BITSIZE",
    "ITEMSIZE",
    "MAX_HEADER_BYTES",
    "MAX_ELEMENTS",
    "HeaderError",
    "TensorEntry",
    "encode_header",
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
