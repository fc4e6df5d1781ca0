"""Checkpoint specs: tensor names mapped to shape, dtype and initializer, checked before anything is written.

Where a spec comes from: a mapping, a JSON file (:func:`read_spec`, strict:
a name given twice is an error), a built-in example (:data:`EXAMPLES`,
``fastglorot init --example``), or the headers of an existing safetensors
checkpoint (:func:`spec_like`, ``--like``).  :func:`load_spec` checks every
entry (every argument by the initializer itself, on one element) and
returns :class:`TensorSpec` records; :func:`fill_function` is how the
writers fill a flat slab of one, in the checkpoint's stream format
(:func:`checkpoint_stream_format`: one per checkpoint, recorded in its
metadata as :data:`STREAM_FORMAT_KEY`).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import math
import os
import re
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

import fastglorot

from .._api.stream_format import get_stream_format, resolve_stream_format
from .._format.tables import DEFAULT_STREAM_FORMAT, FORMATS, NAMES
from .._interop import probe
from ._safetensors import HeaderError, TensorEntry, _show
from ._safetensors_reader import read_header, read_index
from ._strictjson import DuplicateKeyError, loads

__all__ = ["TensorSpec", "SpecError", "DTYPES", "INITS", "EXAMPLES", "PathLike", "read_spec", "load_spec",
           "llama_spec", "spec_like", "like_default_init", "fill_function", "checkpoint_stream_format",
           "recorded_stream_format", "STREAM_FORMAT_KEY", "printable"]

DTYPES = NAMES
SAMPLERS = {"uniform": {"low": 0.0, "high": 1.0}, "normal": {"mean": 0.0, "std": 1.0},
            "trunc_normal": {"mean": 0.0, "std": 1.0, "a": -2.0, "b": 2.0}}
CONSTANTS = {"zeros": 0.0, "ones": 1.0}
INITS = tuple(sorted([*fastglorot.INITIALIZERS, *SAMPLERS, *CONSTANTS]))
"""Every ``init`` a spec may name (initializer aliases are accepted too)."""

PathLike = Union[str, "os.PathLike[str]"]

STREAM_FORMAT_KEY = "fastglorot_stream_format"
"""The metadata key recording a checkpoint's stream format ("1" or "2"): safetensors ``__metadata__``, the
sharded index's ``metadata``, zarr group attributes.  A file without it was written in format 1 (fastglorot
0.5 and earlier knew no other)."""


class SpecError(ValueError):
    """A spec that cannot be written: raised before anything is written, naming the tensor."""


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """One tensor of a checkpoint: ``init(shape, dtype=dtype, seed=seed, stream=name, stream_format=..., **kwargs)``.

    ``stream_format`` is the one the spec entry names (``"stream_format": 2``),
    or None; the checkpoint's format (:func:`checkpoint_stream_format`) is
    the one every tensor is filled in.
    """

    name: str
    shape: Tuple[int, ...]
    dtype: str
    init: str
    kwargs: Mapping[str, Any]
    stream_format: Optional[int] = None

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * FORMATS[self.dtype].itemsize


def fill_function(spec: TensorSpec, stream_format: int) -> Callable[[np.ndarray[Any, Any], int, int], None]:
    """``fill(out, offset, seed)``: the flat range ``offset .. offset + out.size`` of the tensor, in place.

    ``stream_format`` is the checkpoint's, resolved by the caller: a fill may
    run in another thread or process, where the caller's
    :func:`fastglorot.stream_format` block does not hold.
    """
    if spec.init in CONSTANTS:
        value = CONSTANTS[spec.init]
        return lambda out, offset, seed: out.fill(value)
    if spec.init in SAMPLERS:
        sample = getattr(fastglorot, spec.init + "_")
        arguments = {**SAMPLERS[spec.init], **spec.kwargs}
        return lambda out, offset, seed: sample(out, **arguments, seed=seed, stream=spec.name, offset=offset,
                                                stream_format=stream_format)
    initializer = getattr(fastglorot, fastglorot.get_initializer(spec.init).name + "_")
    arguments = dict(spec.kwargs)
    if arguments.get("fan_in") is None or arguments.get("fan_out") is None:
        # A slab is flat, so the fans come from the tensor's shape (explicit fans in the spec win).
        fans = dict(zip(("fan_in", "fan_out"), fastglorot.compute_fans(spec.shape, arguments.get("layout", "torch"))))
        arguments.update({k: v for k, v in fans.items() if arguments.get(k) is None})
    return lambda out, offset, seed: initializer(out, **arguments, seed=seed, stream=spec.name, offset=offset,
                                                 stream_format=stream_format)


def checkpoint_stream_format(specs: Sequence[TensorSpec], stream_format: object = None) -> int:
    """The one stream format a checkpoint of ``specs`` is written in.

    ``stream_format`` given (1 or 2): that one, for every tensor (as
    ``dtype=`` overrides the spec's dtypes).  None: the format the spec's
    entries name (they must agree), else the current one
    (:func:`fastglorot.get_stream_format`, resolved here, in the caller's
    thread).

    Raises
    ------
    TypeError, ValueError
        ``stream_format`` is not None, 1 or 2.
    SpecError
        ``stream_format`` is None and the entries name different formats.
    """
    if stream_format is not None:
        return resolve_stream_format(stream_format)
    named: Dict[int, List[str]] = {}
    for spec in specs:
        if spec.stream_format is not None:
            named.setdefault(spec.stream_format, []).append(spec.name)
    if len(named) > 1:
        which = "; ".join(f"{fmt} by {', '.join(map(_show, names[:3]))}{', ...' if len(names) > 3 else ''}"
                          for fmt, names in sorted(named.items()))
        raise SpecError(f"the spec's entries name different stream formats ({which}): a checkpoint is written in "
                        f"one stream format, recorded in its metadata; give every entry the same one, or pass "
                        f"stream_format (--stream-format) to write every tensor in it")
    return next(iter(named)) if named else get_stream_format()


def recorded_stream_format(metadata: Optional[Mapping[str, str]]) -> int:
    """The stream format a checkpoint's metadata records (:data:`STREAM_FORMAT_KEY`); 1 where it records none.

    Parameters
    ----------
    metadata : mapping of str to str, or None
        A safetensors file's metadata (``safe_open(...).metadata()``, None
        for a file without any), a sharded index's ``"metadata"``, or a zarr
        group's attributes.

    Returns
    -------
    int
        1 or 2: the ``stream_format`` that regenerates the file's tensors.

    Raises
    ------
    ValueError
        The metadata names a stream format this fastglorot does not know
        (written by a newer one).
    """
    value = None if metadata is None else metadata.get(STREAM_FORMAT_KEY)
    if value is None:
        return DEFAULT_STREAM_FORMAT
    try:
        return resolve_stream_format(int(value), STREAM_FORMAT_KEY)
    except (TypeError, ValueError) as error:
        raise ValueError(f"the checkpoint's metadata {STREAM_FORMAT_KEY}={value!r} is not a stream format this "
                         f"fastglorot {fastglorot.__version__} knows ({error})") from None


def printable(specs: Sequence[TensorSpec], stream_format: int) -> Dict[str, Dict[str, Any]]:
    """The spec JSON of ``specs`` written in ``stream_format`` (``fastglorot init --print-spec``).

    Every entry names the format, so that the printed spec, given back to
    ``--spec``, writes the same checkpoint.
    """
    return {s.name: {"shape": list(s.shape), "dtype": s.dtype, "init": s.init, **s.kwargs,
                     "stream_format": stream_format} for s in specs}


def _checked(name: object, entry: object, dtype_override: Optional[str],
             stream_format_override: Optional[int] = None) -> TensorSpec:
    if not isinstance(name, str) or not name:
        raise SpecError(f"tensor names must be non-empty strings, got {name!r}")
    if name == "__metadata__":
        raise SpecError("'__metadata__' is reserved by safetensors and cannot name a tensor")
    shown = _show(name)  # the user's name exactly, quoted: 'w ' and 'w' must look different
    if not isinstance(entry, Mapping):
        raise SpecError(f"{shown}: the spec entry must be an object with shape, dtype and init, got "
                        f"{type(entry).__name__}")
    fields = dict(entry)
    shape = fields.pop("shape", None)
    if not isinstance(shape, (list, tuple)) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                                       for d in shape):
        raise SpecError(f"{shown}: shape must be a list of non-negative integers, got {shape!r}")
    dtype = fields.pop("dtype", "float32")
    if dtype_override is not None:
        dtype = dtype_override
    if dtype not in DTYPES:
        raise SpecError(f"{shown}: unknown dtype {dtype!r}; known: {', '.join(DTYPES)}")
    init = fields.pop("init", None)
    if not isinstance(init, str):
        raise SpecError(f"{shown}: init must name an initializer ({', '.join(INITS)}), got {init!r}")
    if init not in SAMPLERS and init not in CONSTANTS:
        try:
            init = fastglorot.get_initializer(init).name
        except KeyError:
            raise SpecError(f"{shown}: unknown init {init!r}; known: {', '.join(INITS)}") from None
    for reserved in ("seed", "stream", "offset", "global_shape", "global_offset", "out", "shape", "dtype"):
        if reserved in fields:
            raise SpecError(f"{shown}: {reserved!r} is set by the writer, not by the spec")
    stream_format = stream_format_override
    if "stream_format" in fields:  # one per checkpoint (checkpoint_stream_format); zeros and ones may name it too
        value = fields.pop("stream_format")
        try:
            if value is None:  # (resolve_stream_format reads None as "the current one")
                raise TypeError(f"stream_format must be 1 or 2 (an int), got {value!r}")
            named = resolve_stream_format(value)
        except (TypeError, ValueError) as error:
            raise SpecError(f"{shown}: {error}") from None
        stream_format = named if stream_format_override is None else stream_format_override
    if init in CONSTANTS and fields:
        raise SpecError(f"{shown}: {init} takes no arguments, got {', '.join(fields)}")
    spec = TensorSpec(name, tuple(shape), dtype, init, fields, stream_format)
    _try_fill(spec)
    return spec


def _try_fill(spec: TensorSpec) -> None:
    """Every argument checked by the library itself, on one element (nothing the size of the tensor).

    A zero-element tensor is checked by the allocating function the
    reproducibility rule names, ``fastglorot.<init>(shape, ...)``, which
    costs nothing at that size and warns as it does for any zero-element
    array; its warnings are given again, naming the tensor.
    """
    if not spec.size:
        if spec.init in CONSTANTS:
            return
        function = getattr(fastglorot, spec.init)
        arguments = {**SAMPLERS.get(spec.init, {}), **spec.kwargs}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            refused = probe(function, spec.shape, dtype=spec.dtype, seed=0, stream=spec.name, **arguments,
                            refusals=(TypeError, ValueError, ZeroDivisionError))
        if isinstance(refused, Exception):
            raise SpecError(f"{_show(spec.name)}: {refused}") from None
        for warning in caught:
            warnings.warn(f"{_show(spec.name)} (shape {list(spec.shape)}): {warning.message}", warning.category,
                          stacklevel=5)
        return

    def fill_one() -> None:  # the arguments' checks are the same in every stream format
        fill_function(spec, DEFAULT_STREAM_FORMAT)(np.empty(1, FORMATS[spec.dtype].numpy_dtype()), 0, 0)

    refused = probe(lambda _: fill_one(), None, refusals=(TypeError, ValueError, ZeroDivisionError))
    if isinstance(refused, Exception):
        raise SpecError(f"{_show(spec.name)}: {refused}") from None


def read_spec(path: PathLike) -> Dict[str, Any]:
    """The JSON object of a spec file, unchecked (:func:`load_spec` checks it)."""
    try:
        # NaN and Infinity parse: the initializer's own check then names the argument ("std must be finite").
        spec = loads(Path(path).read_text(encoding="utf-8"), allow_nan=True)
    except DuplicateKeyError as error:  # json.loads would silently keep the last one
        raise SpecError(f"{path}: names given more than once: {', '.join(map(_show, sorted(error.keys)))}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SpecError(f"cannot read the spec {path}: {error}") from None
    if not isinstance(spec, dict):
        raise SpecError(f"{path}: a spec is a JSON object mapping tensor names to entries")
    return spec


def llama_spec(*, hidden: int = 4096, intermediate: int = 11008, layers: int = 32, heads: int = 32,
               kv_heads: Optional[int] = None, vocab: int = 32000, dtype: str = "bfloat16",
               std: float = 0.02) -> Dict[str, Dict[str, Any]]:
    """The spec of a Llama-architecture checkpoint (defaults: Llama-2-7B's shapes, 6.74e9 parameters).

    Tensor names and shapes as Hugging Face's ``LlamaForCausalLM`` stores
    them (untied embeddings); matrices ``normal`` with ``std`` (its
    ``initializer_range``), norm weights ``ones``.
    """
    kv = heads if kv_heads is None else kv_heads
    head_dim = hidden // heads

    def matrix(rows: int, columns: int) -> Dict[str, Any]:
        return {"shape": [rows, columns], "dtype": dtype, "init": "normal", "std": std}

    spec = {"model.embed_tokens.weight": matrix(vocab, hidden)}
    for i in range(layers):
        layer = f"model.layers.{i}."
        spec.update({
            layer + "self_attn.q_proj.weight": matrix(heads * head_dim, hidden),
            layer + "self_attn.k_proj.weight": matrix(kv * head_dim, hidden),
            layer + "self_attn.v_proj.weight": matrix(kv * head_dim, hidden),
            layer + "self_attn.o_proj.weight": matrix(hidden, heads * head_dim),
            layer + "mlp.gate_proj.weight": matrix(intermediate, hidden),
            layer + "mlp.up_proj.weight": matrix(intermediate, hidden),
            layer + "mlp.down_proj.weight": matrix(hidden, intermediate),
            layer + "input_layernorm.weight": {"shape": [hidden], "dtype": dtype, "init": "ones"},
            layer + "post_attention_layernorm.weight": {"shape": [hidden], "dtype": dtype, "init": "ones"},
        })
    spec["model.norm.weight"] = {"shape": [hidden], "dtype": dtype, "init": "ones"}
    spec["lm_head.weight"] = matrix(vocab, hidden)
    return spec


EXAMPLES: Dict[str, Callable[[], Dict[str, Dict[str, Any]]]] = {
    "llama-7b": llama_spec,
    "llama-tiny": lambda: llama_spec(hidden=256, intermediate=688, layers=2, heads=4, vocab=1000),
}
"""Example specs by name (``fastglorot init --example NAME``)."""


def load_spec(spec: Union[Mapping[str, Any], PathLike], *, dtype: Optional[str] = None,
              stream_format: Optional[int] = None) -> List[TensorSpec]:
    """The checked tensors of a spec (a mapping, or the path of a JSON file holding one).

    Parameters
    ----------
    spec : mapping or path
        Tensor name -> ``{"shape": [...], "dtype": "float32", "init": "glorot_uniform", **kwargs}``;
        ``dtype`` defaults to float32.  An entry may name ``"stream_format"``
        (1 or 2; one for the whole checkpoint: see :func:`checkpoint_stream_format`).
    dtype : str, optional
        Every tensor in this dtype instead (float32, float64, float16, bfloat16).
    stream_format : {1, 2}, optional
        Every tensor in this stream format instead of the one its entry names.

    Raises
    ------
    SpecError
        Unknown init or dtype, bad shape, arguments the initializer rejects,
        a name safetensors cannot hold: the message names the tensor.
    """
    if not isinstance(spec, Mapping):
        spec = read_spec(spec)
    if dtype is not None and dtype not in DTYPES:
        raise SpecError(f"unknown dtype {dtype!r}; known: {', '.join(DTYPES)}")
    override = None if stream_format is None else resolve_stream_format(stream_format)
    if not spec:
        raise SpecError("the spec names no tensor")
    return [_checked(name, entry, dtype, override) for name, entry in spec.items()]


# -- --like: specs from an existing checkpoint's headers ------------------------------------------

_NORM = re.compile(r"norm|(^|[._])ln", re.IGNORECASE)
_FORMAT_OF_CODE = {fmt.safetensors: name for name, fmt in FORMATS.items()}


def like_default_init(name: str, shape: Sequence[int], matrix_init: str = "glorot_uniform") -> Dict[str, Any]:
    """The default spec entry (without shape and dtype) for a tensor of an existing checkpoint.

    Tensors of 0 or 1 dimensions: ``ones`` if the name looks like a
    normalization weight (contains ``norm``, or ``ln`` at the start of a
    name part: ``ln_f.weight``, ``layers.0.ln1.weight``) and does not end in
    ``bias``; else ``zeros`` (biases, and everything else 1-D).  Tensors of 2
    or more dimensions: ``matrix_init``.
    """
    if len(shape) >= 2:
        return {"init": matrix_init}
    if _NORM.search(name) and not name.endswith("bias"):
        return {"init": "ones"}
    return {"init": "zeros"}


def spec_like(like: PathLike, overrides: Optional[Mapping[str, Mapping[str, Any]]] = None, *,
              matrix_init: str = "glorot_uniform", dtype: Optional[str] = None) -> List[TensorSpec]:
    """A spec with the names, shapes and dtypes of an existing checkpoint.

    Parameters
    ----------
    like : path
        A ``.safetensors`` file or a Hugging Face ``model.safetensors.index.json``
        (its shards are read from the same directory).  Only headers are read,
        as untrusted input.
    overrides : mapping, optional
        Spec entries by tensor name or glob (``"*.mlp.*.weight"``): an exact
        name wins over globs, then the first matching glob in order.  An entry
        replaces the default init (see :func:`like_default_init`) and may set
        ``dtype``; ``shape`` must not be given.
    matrix_init : str, default "glorot_uniform"
        The init of tensors with 2 or more dimensions.
    dtype : str, optional
        Every tensor in this dtype.
    """
    path = Path(like)
    entries = _like_entries(path)
    overrides = dict(overrides or {})
    for key, override in overrides.items():
        if isinstance(override, Mapping) and "shape" in override:
            raise SpecError(f"{_show(key)}: with a --like checkpoint, shapes come from the checkpoint")
    names = set()
    spec: Dict[str, Dict[str, Any]] = {}
    for entry in entries:
        if entry.name in names:
            raise SpecError(f"{path}: tensor {entry.name!r} appears twice")
        names.add(entry.name)
        if entry.dtype not in _FORMAT_OF_CODE and dtype is None:
            raise SpecError(f"{_show(entry.name)}: dtype {entry.dtype} is not one fastglorot writes "
                            f"({', '.join(_FORMAT_OF_CODE)}); pass a dtype")
        chosen = overrides.get(entry.name)
        if chosen is None:
            chosen = next((v for k, v in overrides.items() if fnmatch.fnmatchcase(entry.name, k)), None)
        base = like_default_init(entry.name, entry.shape, matrix_init) if chosen is None else dict(chosen)
        spec[entry.name] = {"dtype": _FORMAT_OF_CODE.get(entry.dtype, "float32"), **base, "shape": list(entry.shape)}
    unused = [k for k in overrides if k not in names and not any(fnmatch.fnmatchcase(n, k) for n in names)]
    if unused:
        raise SpecError(f"spec entries match no tensor of {path}: {', '.join(map(_show, unused))}")
    return load_spec(spec, dtype=dtype)


_LIKE_TAKES = "--like takes a .safetensors file or a Hugging Face model.safetensors.index.json"

_MAGIC = ((b"\x93NUMPY", "a NumPy .npy file"), (b"PK\x03\x04", "a zip archive (a .npz, or a torch.save checkpoint)"),
          (b"\x89HDF\r\n\x1a\n", "an HDF5 file (a Keras .h5?)"), (b"GGUF", "a GGUF file"),
          (b"\x80\x02", "a pickle (a torch .bin or .pt checkpoint?)"),
          (b"\x80\x04", "a pickle (a torch .bin or .pt checkpoint?)"))
"""The first bytes of the files most often given to ``--like`` by mistake, and what to call them."""


def _not_safetensors(path: Path) -> Optional[SpecError]:
    """For a file the header reader refused: what ``--like`` takes and what the file is (None: a damaged one)."""
    try:
        with open(path, "rb") as handle:
            start = handle.read(16)
    except OSError:
        start = b""
    what = next((name for magic, name in _MAGIC if start.startswith(magic)), None)
    if what is None and len(start) > 8 and start[8:9] != b"{":  # a safetensors header is a JSON object
        what = "not a safetensors file (no safetensors header at its start)"
    if what is None:  # a safetensors file, damaged: the reader's words say where
        return None
    if not what.startswith("not "):
        what = f"{what}, not a safetensors file"
    return SpecError(f"{path} is {what}: {_LIKE_TAKES}")


def _like_entries(path: Path) -> List[TensorEntry]:
    if path.is_dir():
        raise SpecError(f"{path} is a directory: {_LIKE_TAKES} (such as {path / 'model.safetensors.index.json'})")
    if path.name.endswith(".json"):
        try:
            weight_map = read_index(path)
        except HeaderError as error:
            raise SpecError(f"{error}: {_LIKE_TAKES}") from None
        entries: List[TensorEntry] = []
        for shard in sorted(set(weight_map.values())):
            shard_entries, _ = read_header(path.parent / shard)
            entries.extend(e for e in shard_entries if weight_map.get(e.name) == shard)
        missing = set(weight_map) - {e.name for e in entries}
        if missing:
            raise SpecError(f"{path}: the index names tensors its shards do not hold: "
                            f"{', '.join(map(_show, sorted(missing)))}")
        return entries
    try:
        entries, _ = read_header(path)
    except HeaderError:
        explained = _not_safetensors(path)
        if explained is None:
            raise
        raise explained from None
    return entries
