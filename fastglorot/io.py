"""Randomly initialized checkpoints written straight to disk: ``.safetensors`` (one file or Hugging Face's
sharded layout), ``.npy`` and zarr.

A checkpoint is described by a *spec*: tensor names mapped to their shape,
dtype, initializer and the initializer's keyword arguments::

    {"model.embed_tokens.weight": {"shape": [32000, 4096], "dtype": "bfloat16", "init": "normal", "std": 0.02},
     "model.norm.weight": {"shape": [4096], "dtype": "bfloat16", "init": "ones"}}

``init`` is any initializer of :mod:`fastglorot` (``glorot_uniform``,
``kaiming_normal``, ``lecun_normal``, ``variance_scaling``, ... and their
aliases), a sampler (``uniform``: low 0, high 1; ``normal``: mean 0, std 1;
``trunc_normal``: mean 0, std 1, a -2, b 2: torch's defaults), or ``zeros`` /
``ones``.

Reproducibility rule: tensor ``name`` is filled with ``seed`` and
``stream=name``, so it equals ``fastglorot.<init>(shape, dtype=dtype,
seed=seed, stream=name, **kwargs)`` bit for bit, whatever the file format,
sharding or slab size: a 70B checkpoint can be regenerated, or checked,
tensor by tensor.

How it is written (README "Writing checkpoints"):

* Bounded memory: every tensor is filled in flat slabs of
  :data:`SLAB_BYTES` (fastglorot's ``offset=`` places a slab in its tensor)
  and written with positional writes, double-buffered so that filling one
  slab overlaps writing the previous one.  The working set is two slabs,
  whatever the checkpoint's size.
* safetensors has no streaming writer in its library: the header (the
  documented format, ``fastglorot._safetensors``) is written by this module,
  and the tests read every file back with the ``safetensors`` library.
* Atomic: a file is created unnamed (Linux ``O_TMPFILE``; elsewhere a
  hidden temporary name that is removed on any error), written, flushed and
  fsynced, and only then linked under its name; an existing output is never
  replaced without ``force``.  An interrupt, a kill, a full disk or a
  file-size limit leaves no partial output.  Shards are linked after all of
  them are written, the index last.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import dataclasses
import errno
import fnmatch
import functools
import io as _io
import json
import math
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

import fastglorot

from . import _safetensors
from ._formats import FORMATS, NAMES

__all__ = ["TensorSpec", "SpecError", "SLAB_BYTES", "INITS", "DTYPES", "EXAMPLES", "read_spec", "load_spec",
           "llama_spec", "spec_like", "write_checkpoint", "like_default_init"]

SLAB_BYTES = 8 << 20
"""Bytes filled and written at a time (two slabs are in memory at once)."""

DTYPES = NAMES
SAMPLERS = {"uniform": {"low": 0.0, "high": 1.0}, "normal": {"mean": 0.0, "std": 1.0},
            "trunc_normal": {"mean": 0.0, "std": 1.0, "a": -2.0, "b": 2.0}}
CONSTANTS = {"zeros": 0.0, "ones": 1.0}
INITS = tuple(sorted([*fastglorot.INITIALIZERS, *SAMPLERS, *CONSTANTS]))
"""Every ``init`` a spec may name (initializer aliases are accepted too)."""

PathLike = Union[str, "os.PathLike[str]"]


class SpecError(ValueError):
    """A spec that cannot be written: raised before anything is written, naming the tensor."""


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """One tensor of a checkpoint: ``init(shape, dtype=dtype, seed=seed, stream=name, **kwargs)``."""

    name: str
    shape: Tuple[int, ...]
    dtype: str
    init: str
    kwargs: Mapping[str, Any]

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * FORMATS[self.dtype].itemsize


def _numpy_dtype(dtype: str) -> Any:
    return FORMATS[dtype].numpy_dtype()


# -- specs -------------------------------------------------------------------------------

def _fill_function(spec: TensorSpec) -> Callable[[np.ndarray[Any, Any], int, int], None]:
    """``fill(out, offset, seed)``: the flat range ``offset .. offset + out.size`` of the tensor, in place."""
    if spec.init in CONSTANTS:
        value = CONSTANTS[spec.init]
        return lambda out, offset, seed: out.fill(value)
    if spec.init in SAMPLERS:
        sample = getattr(fastglorot, spec.init + "_")
        arguments = {**SAMPLERS[spec.init], **spec.kwargs}
        return lambda out, offset, seed: sample(out, **arguments, seed=seed, stream=spec.name, offset=offset)
    initializer = getattr(fastglorot, fastglorot.get_initializer(spec.init).name + "_")
    arguments = dict(spec.kwargs)
    if arguments.get("fan_in") is None or arguments.get("fan_out") is None:
        # A slab is flat, so the fans come from the tensor's shape (explicit fans in the spec win).
        fans = dict(zip(("fan_in", "fan_out"), fastglorot.compute_fans(spec.shape, arguments.get("layout", "torch"))))
        arguments.update({k: v for k, v in fans.items() if arguments.get(k) is None})
    return lambda out, offset, seed: initializer(out, **arguments, seed=seed, stream=spec.name, offset=offset)


def _checked(name: object, entry: object, dtype_override: Optional[str]) -> TensorSpec:
    if not isinstance(name, str) or not name:
        raise SpecError(f"tensor names must be non-empty strings, got {name!r}")
    if name == "__metadata__":
        raise SpecError("'__metadata__' is reserved by safetensors and cannot name a tensor")
    if not isinstance(entry, Mapping):
        raise SpecError(f"{name}: the spec entry must be an object with shape, dtype and init, got "
                        f"{type(entry).__name__}")
    fields = dict(entry)
    shape = fields.pop("shape", None)
    if not isinstance(shape, (list, tuple)) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                                       for d in shape):
        raise SpecError(f"{name}: shape must be a list of non-negative integers, got {shape!r}")
    dtype = fields.pop("dtype", "float32")
    if dtype_override is not None:
        dtype = dtype_override
    if dtype not in DTYPES:
        raise SpecError(f"{name}: unknown dtype {dtype!r}; known: {', '.join(DTYPES)}")
    init = fields.pop("init", None)
    if not isinstance(init, str):
        raise SpecError(f"{name}: init must name an initializer ({', '.join(INITS)}), got {init!r}")
    if init not in SAMPLERS and init not in CONSTANTS:
        try:
            init = fastglorot.get_initializer(init).name
        except KeyError:
            raise SpecError(f"{name}: unknown init {init!r}; known: {', '.join(INITS)}") from None
    for reserved in ("seed", "stream", "offset", "global_shape", "global_offset", "out", "shape", "dtype"):
        if reserved in fields:
            raise SpecError(f"{name}: {reserved!r} is set by the writer, not by the spec")
    if init in CONSTANTS and fields:
        raise SpecError(f"{name}: {init} takes no arguments, got {', '.join(fields)}")
    spec = TensorSpec(name, tuple(shape), dtype, init, fields)
    _try_fill(spec)
    return spec


def _try_fill(spec: TensorSpec) -> None:
    """Every argument checked by the library itself, on one element (nothing the size of the tensor)."""
    try:
        fill = _fill_function(spec)
        if spec.size:
            fill(np.empty(1, _numpy_dtype(spec.dtype)), 0, 0)
    except (TypeError, ValueError, ZeroDivisionError) as error:
        raise SpecError(f"{spec.name}: {error}") from None


def read_spec(path: PathLike) -> Dict[str, Any]:
    """The JSON object of a spec file, unchecked (:func:`load_spec` checks it)."""
    def unique(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
        names = [name for name, _ in pairs]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:  # json.loads would silently keep the last one
            raise SpecError(f"{path}: names given more than once: {', '.join(repeated)}")
        return dict(pairs)

    try:
        spec = json.loads(Path(path).read_text(encoding="utf-8"), object_pairs_hook=unique)
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


def load_spec(spec: Union[Mapping[str, Any], PathLike], *, dtype: Optional[str] = None) -> List[TensorSpec]:
    """The checked tensors of a spec (a mapping, or the path of a JSON file holding one).

    Parameters
    ----------
    spec : mapping or path
        Tensor name -> ``{"shape": [...], "dtype": "float32", "init": "glorot_uniform", **kwargs}``;
        ``dtype`` defaults to float32.
    dtype : str, optional
        Every tensor in this dtype instead (float32, float64, float16, bfloat16).

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
    if not spec:
        raise SpecError("the spec names no tensor")
    return [_checked(name, entry, dtype) for name, entry in spec.items()]


# -- --like ---------------------------------------------------------------------------------

_NORM = re.compile(r"norm|(^|[._])ln", re.IGNORECASE)
_FORMATS = {code: name for name, code in _safetensors.DTYPE_CODES.items()}


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
            raise SpecError(f"{key}: with a --like checkpoint, shapes come from the checkpoint")
    names = set()
    spec: Dict[str, Dict[str, Any]] = {}
    for entry in entries:
        if entry.name in names:
            raise SpecError(f"{path}: tensor {entry.name!r} appears twice")
        names.add(entry.name)
        if entry.dtype not in _FORMATS and dtype is None:
            raise SpecError(f"{entry.name}: dtype {entry.dtype} is not one fastglorot writes "
                            f"({', '.join(_safetensors.DTYPE_CODES.values())}); pass a dtype")
        chosen = overrides.get(entry.name)
        if chosen is None:
            chosen = next((v for k, v in overrides.items() if fnmatch.fnmatchcase(entry.name, k)), None)
        base = like_default_init(entry.name, entry.shape, matrix_init) if chosen is None else dict(chosen)
        spec[entry.name] = {"dtype": _FORMATS.get(entry.dtype, "float32"), **base, "shape": list(entry.shape)}
    unused = [k for k in overrides if k not in names and not any(fnmatch.fnmatchcase(n, k) for n in names)]
    if unused:
        raise SpecError(f"spec entries match no tensor of {path}: {', '.join(unused)}")
    return load_spec(spec, dtype=dtype)


def _like_entries(path: Path) -> List[_safetensors.TensorEntry]:
    if path.name.endswith(".json"):
        weight_map = _safetensors.read_index(path)
        entries: List[_safetensors.TensorEntry] = []
        for shard in sorted(set(weight_map.values())):
            shard_entries, _ = _safetensors.read_header(path.parent / shard)
            entries.extend(e for e in shard_entries if weight_map.get(e.name) == shard)
        missing = set(weight_map) - {e.name for e in entries}
        if missing:
            raise SpecError(f"{path}: the index names tensors its shards do not hold: {', '.join(sorted(missing))}")
        return entries
    entries, _ = _safetensors.read_header(path)
    return entries


# -- atomic files ---------------------------------------------------------------------------

class _AtomicFile:
    """A new file that appears under ``target`` only when :meth:`commit` succeeds.

    Created unnamed in the target's directory (``O_TMPFILE``), so that even a
    kill leaves nothing behind; where the file system cannot, a hidden
    temporary name that :meth:`discard` removes.
    """

    def __init__(self, target: Path) -> None:
        self.target = target
        self.temporary: Optional[Path] = None
        flag = getattr(os, "O_TMPFILE", None)
        fd = -1
        if flag is not None:
            try:
                fd = os.open(target.parent, flag | os.O_RDWR, 0o644)
            except OSError:
                fd = -1
        if fd < 0:
            fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
            self.temporary = Path(name)
        self.fd = fd

    def commit(self, force: bool) -> None:
        os.fsync(self.fd)
        if self.temporary is None:
            if not force:
                self._link(self.target)  # fails if the target exists: never overwritten
            else:
                staging = self.target.with_name(f".{self.target.name}.{os.getpid()}.partial")
                self._link(staging)
                os.replace(staging, self.target)
        else:
            if not force and self.target.exists():
                raise FileExistsError(f"{self.target} exists (use force to replace it)")
            os.replace(self.temporary, self.target)
            self.temporary = None
        os.close(self.fd)
        self.fd = -1
        _fsync_directory(self.target.parent)

    def _link(self, name: Path) -> None:
        """Give the unnamed file ``name``: ``linkat`` of ``/proc/self/fd/N`` with ``AT_SYMLINK_FOLLOW``.

        ``os.link`` uses plain ``link(2)`` (which links the /proc symlink
        itself and fails across devices) unless a directory fd is given.
        """
        directory = os.open("/proc/self/fd", os.O_RDONLY)
        try:
            os.link(str(self.fd), name, src_dir_fd=directory, follow_symlinks=True)
        finally:
            os.close(directory)

    def discard(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.temporary is not None:
            with contextlib.suppress(FileNotFoundError):
                self.temporary.unlink()
            self.temporary = None


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _size(fd: int, size: int) -> None:
    """Give the file its final size (sparse until written).

    ``ftruncate``, not ``posix_fallocate``: reserving the blocks first made
    the writes slower (ext4's unwritten extents: 0.27 against 0.37 GB/s for a
    16 GiB bfloat16 checkpoint on this project's VM).  A file-size limit
    still fails here, before any data is written; free space is checked
    before any file is created (:func:`_check_free_space`).
    """
    os.ftruncate(fd, size)


def _check_free_space(directory: Path, nbytes: int) -> None:
    """A clear error, before anything is created, when ``directory``'s file system lacks ``nbytes``."""
    try:
        stats = os.statvfs(directory)
    except (AttributeError, OSError):  # no statvfs here: the writes will say it
        return
    free = stats.f_bavail * stats.f_frsize
    if free < nbytes:
        raise OSError(errno.ENOSPC, f"{directory} has {free / 2**30:.2f} GiB free; the checkpoint needs "
                                    f"{nbytes / 2**30:.2f} GiB")


def _pwrite_all(fd: int, data: memoryview, position: int) -> None:
    while len(data):
        written = os.pwrite(fd, data, position)
        data, position = data[written:], position + written


# -- the writer --------------------------------------------------------------------------------

class _Progress:
    """A tqdm bar over bytes, or nothing."""

    def __init__(self, total: int, show: bool) -> None:
        self.bar = None
        if show:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr,
                            desc="fastglorot init", dynamic_ncols=True)

    def update(self, nbytes: int) -> None:
        if self.bar is not None:
            self.bar.update(nbytes)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _slabs(spec: TensorSpec) -> Iterator[Tuple[int, int]]:
    """``(offset, count)`` of the flat slabs of one tensor."""
    itemsize = np.dtype(_numpy_dtype(spec.dtype)).itemsize
    step = max(1, SLAB_BYTES // itemsize)
    for offset in range(0, spec.size, step):
        yield offset, min(step, spec.size - offset)


def _advance(progress: _Progress, nbytes: int, _done: object) -> None:
    progress.update(nbytes)


def _write_tensors(fd: int, placed: Sequence[Tuple[TensorSpec, int]], seed: int, progress: _Progress,
                   writer: concurrent.futures.ThreadPoolExecutor) -> None:
    """Fill and write each tensor at its file position, two slabs in flight (fill one while the other is written)."""
    buffers: Dict[str, List[np.ndarray[Any, Any]]] = {}
    pending: List[concurrent.futures.Future[None]] = []
    turn = 0
    for spec, position in placed:
        if not spec.size:
            continue
        dtype = _numpy_dtype(spec.dtype)
        pair = buffers.setdefault(spec.dtype, [np.empty(SLAB_BYTES // np.dtype(dtype).itemsize, dtype)
                                               for _ in range(2)])
        fill = _fill_function(spec)
        for offset, count in _slabs(spec):
            if len(pending) == 2:
                pending.pop(0).result()  # the buffer about to be refilled has been written
            slab = pair[turn][:count]
            turn ^= 1
            fill(slab, offset, seed)
            view = memoryview(slab.view(np.uint8))  # type: ignore[arg-type]
            at = position + offset * slab.itemsize
            pending.append(writer.submit(_pwrite_all, fd, view, at))
            pending[-1].add_done_callback(functools.partial(_advance, progress, slab.nbytes))
    for future in pending:
        future.result()


def _write_safetensors(files: List[_AtomicFile], groups: List[List[TensorSpec]], seed: int, progress: _Progress,
                       metadata: Dict[str, str]) -> None:
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="fastglorot-write") as writer:
        for file, group in zip(files, groups):
            prefix, entries = _safetensors.encode_header(
                [(s.name, _safetensors.DTYPE_CODES[s.dtype], s.shape) for s in group], metadata)
            total = len(prefix) + (entries[-1].end if entries else 0)
            _size(file.fd, total)
            _pwrite_all(file.fd, memoryview(prefix), 0)
            _write_tensors(file.fd, [(s, len(prefix) + e.begin) for s, e in zip(group, entries)], seed, progress,
                           writer)


def _npy_header(spec: TensorSpec) -> bytes:
    header = _io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": np.lib.format.dtype_to_descr(np.dtype(spec.dtype)),
                                                  "fortran_order": False, "shape": spec.shape})
    return header.getvalue()


def _shard_groups(specs: List[TensorSpec], max_shard_size: int) -> List[List[TensorSpec]]:
    """Consecutive tensors per shard, each shard's data at most ``max_shard_size`` (a bigger tensor alone)."""
    groups: List[List[TensorSpec]] = [[]]
    size = 0
    for spec in specs:
        if groups[-1] and size + spec.nbytes > max_shard_size:
            groups.append([])
            size = 0
        groups[-1].append(spec)
        size += spec.nbytes
    return groups


def write_checkpoint(path: PathLike, spec: Union[Mapping[str, Any], PathLike, Sequence[TensorSpec]], *,
                     seed: Optional[int] = None, dtype: Optional[str] = None, max_shard_size: Optional[int] = None,
                     force: bool = False, progress: Optional[bool] = None) -> List[Path]:
    """Write a randomly initialized checkpoint, tensor by tensor, in bounded memory.

    Parameters
    ----------
    path : path
        ``*.safetensors``: one safetensors file; ``*.npy``: one tensor (the
        spec must hold exactly one; not bfloat16, which ``numpy.load`` cannot
        read); ``*.zarr``: a zarr group with one array per tensor (not
        bfloat16).  With ``max_shard_size``: a directory receiving Hugging
        Face's sharded layout, ``model-00001-of-0000N.safetensors`` and
        ``model.safetensors.index.json`` (``model.safetensors`` alone when
        everything fits one shard).
    spec : mapping, path of a JSON spec, or list of TensorSpec
        See the module docstring; :func:`spec_like` builds one from an
        existing checkpoint.
    seed : int or None, default None
        Philox key; ``None`` draws one from OS entropy (then recorded in the
        safetensors metadata, ``fastglorot_seed``, so the file can be
        regenerated).
    dtype : str, optional
        Every tensor in this dtype.
    max_shard_size : int, optional
        Bytes of tensor data per shard (Hugging Face's ``5GB`` is 5 * 10**9).
    force : bool, default False
        Replace existing output files.
    progress : bool, optional
        A progress bar on stderr; default: only when stderr is a terminal.

    Returns
    -------
    list of Path
        The files written (the index last).

    Raises
    ------
    SpecError
        A bad spec (before anything is written).
    FileExistsError
        An output exists and ``force`` is False (before anything is written).
    OSError
        A write failed (full disk, file-size limit): nothing is left behind.
    """
    target = Path(path)
    specs = list(spec) if isinstance(spec, Sequence) and not isinstance(spec, (str, bytes)) else \
        load_spec(spec, dtype=dtype)
    if dtype is not None and any(s.dtype != dtype for s in specs):
        specs = load_spec({s.name: {"shape": list(s.shape), "init": s.init, **s.kwargs} for s in specs}, dtype=dtype)
    counts = collections.Counter(s.name for s in specs)
    duplicates = sorted(name for name, count in counts.items() if count > 1)
    if duplicates:
        raise SpecError(f"tensor names must be unique: {', '.join(duplicates)}")
    if max_shard_size is not None and (not isinstance(max_shard_size, int) or max_shard_size <= 0):
        raise SpecError(f"max_shard_size must be a positive number of bytes, got {max_shard_size!r}")
    resolved_seed = fastglorot.Generator(seed).seed
    show = sys.stderr.isatty() if progress is None else progress
    metadata = {"format": "pt", "fastglorot_seed": str(resolved_seed),
                "fastglorot_version": fastglorot.__version__}
    suffix = target.suffix.lower()
    if max_shard_size is not None:
        return _write_sharded(target, specs, resolved_seed, max_shard_size, force, show, metadata)
    if suffix == ".zarr":
        return [_write_zarr(target, specs, resolved_seed, force, show)]
    if suffix not in (".safetensors", ".npy"):
        raise SpecError(f"{target}: the output's extension says its format: .safetensors, .npy or .zarr "
                        "(or pass max_shard_size for a sharded directory)")
    if suffix == ".npy":
        if len(specs) != 1:
            raise SpecError(f"{target}: a .npy file holds one tensor, the spec has {len(specs)}")
        if not FORMATS[specs[0].dtype].numpy_native:
            raise SpecError(f"{specs[0].name}: numpy.load cannot read bfloat16 .npy files; use .safetensors")
    _refuse_existing([target], force)
    _check_free_space(target.parent, sum(s.nbytes for s in specs))
    file = _AtomicFile(target)
    bar = _Progress(sum(s.nbytes for s in specs), show)
    try:
        if suffix == ".npy":
            header = _npy_header(specs[0])
            _size(file.fd, len(header) + specs[0].nbytes)
            _pwrite_all(file.fd, memoryview(header), 0)
            with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="fastglorot-write") as writer:
                _write_tensors(file.fd, [(specs[0], len(header))], resolved_seed, bar, writer)
        else:
            _write_safetensors([file], [specs], resolved_seed, bar, metadata)
        file.commit(force)
    finally:
        file.discard()
        bar.close()
    return [target]


def _refuse_existing(paths: Sequence[Path], force: bool) -> None:
    if not force:
        existing = [str(p) for p in paths if p.exists()]
        if existing:
            raise FileExistsError(f"{', '.join(existing)} exists: pass force=True (--force) to replace it")
    for p in paths:
        if not p.parent.is_dir():
            raise FileNotFoundError(f"{p.parent} is not a directory")


def _write_sharded(directory: Path, specs: List[TensorSpec], seed: int, max_shard_size: int, force: bool,
                   show: bool, metadata: Dict[str, str]) -> List[Path]:
    groups = _shard_groups(specs, max_shard_size)
    if len(groups) == 1:
        names = ["model.safetensors"]
    else:
        names = [f"model-{i:05d}-of-{len(groups):05d}.safetensors" for i in range(1, len(groups) + 1)]
    directory.mkdir(parents=True, exist_ok=True)
    targets = [directory / n for n in names]
    index_path = directory / "model.safetensors.index.json"
    outputs = targets + ([index_path] if len(groups) > 1 else [])
    _refuse_existing(outputs, force)
    _check_free_space(directory, sum(s.nbytes for s in specs))
    files = [_AtomicFile(t) for t in targets]
    bar = _Progress(sum(s.nbytes for s in specs), show)
    index: Optional[_AtomicFile] = None
    try:
        _write_safetensors(files, groups, seed, bar, metadata)
        if len(groups) > 1:
            index = _AtomicFile(index_path)
            content = json.dumps({"metadata": {"total_size": sum(s.nbytes for s in specs), **metadata},
                                  "weight_map": {s.name: name for name, group in zip(names, groups) for s in group}},
                                 indent=2).encode()
            _pwrite_all(index.fd, memoryview(content), 0)
        for file in files:
            file.commit(force)
        if index is not None:
            index.commit(force)
    finally:
        for file in files:
            file.discard()
        if index is not None:
            index.discard()
        bar.close()
    return outputs


def _write_zarr(target: Path, specs: List[TensorSpec], seed: int, force: bool, show: bool) -> Path:
    """A zarr group written in a hidden temporary directory beside ``target``, renamed into place at the end."""
    import zarr

    for spec in specs:
        if not FORMATS[spec.dtype].numpy_native:
            raise SpecError(f"{spec.name}: zarr has no bfloat16 data type; use .safetensors")
        parts = spec.name.split("/")
        if any(p in ("", ".", "..") for p in parts) or spec.name.startswith("__"):
            raise SpecError(f"{spec.name!r} is not a valid zarr array path")
    _refuse_existing([target], force)
    _check_free_space(target.parent, sum(s.nbytes for s in specs))
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial"))
    bar = _Progress(sum(s.nbytes for s in specs), show)
    try:
        group = zarr.open_group(str(staging), mode="w")
        for spec in specs:
            _write_zarr_array(group, spec, seed, bar)
        replaced = None
        if target.exists():
            replaced = target.with_name(f".{target.name}.{os.getpid()}.replaced")
            os.rename(target, replaced)
        os.rename(staging, target)
        if replaced is not None:
            shutil.rmtree(replaced)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
        bar.close()
    return target


def _write_zarr_array(group: Any, spec: TensorSpec, seed: int, bar: _Progress) -> None:
    """Chunks of whole rows (axis 0), about one slab each: every chunk is a flat range of the tensor."""
    itemsize = np.dtype(spec.dtype).itemsize
    row = math.prod(spec.shape[1:]) if spec.shape else 1
    rows = max(1, SLAB_BYTES // max(1, row * itemsize))
    chunks = (min(rows, spec.shape[0]) or 1, *spec.shape[1:]) if spec.shape else ()
    array = group.create_array(spec.name, shape=spec.shape, chunks=chunks, dtype=spec.dtype, fill_value=0)
    if not spec.size:
        return
    fill = _fill_function(spec)
    if not spec.shape:
        block = np.empty(1, spec.dtype)
        fill(block, 0, seed)
        array[...] = block[0]
        bar.update(itemsize)
        return
    for first in range(0, spec.shape[0], chunks[0]):
        count = min(chunks[0], spec.shape[0] - first)
        block = np.empty((count, *spec.shape[1:]), spec.dtype)
        fill(block.reshape(-1), first * row, seed)
        array[first:first + count] = block
        bar.update(block.nbytes)
