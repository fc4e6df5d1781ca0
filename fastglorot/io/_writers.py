"""The entry point: checked specs written as ``.safetensors`` (one file or sharded), ``.npy`` or zarr.

:func:`write_checkpoint` picks the format from the output path, and hands a
config to ``_hf`` and a Dask client's shards to ``_distributed``.  The
tensors are filled slab by slab and written by the shard layer
(``_shards``: :data:`~._shards.SLAB_BYTES`, safetensors files, shard names
and index), which all writers share.  Files are
:class:`~._atomic.AtomicFile` objects, committed only when every byte is
written (shards first, the index last); directories (sharded checkpoints,
zarr groups) are built in a :func:`~._atomic.staged_checkpoint`.
"""

from __future__ import annotations

import collections
import concurrent.futures
import io as _io
import math
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

import fastglorot

from .._api.stream_format import StreamFormat, resolve_stream_format
from .._format.tables import FORMATS
from .._format.seeding import resolve_seed
from .._interop import load
from . import _shards
from ._atomic import OWN_ALL, AtomicFile, prepare_file, staged_checkpoint
from ._checks import explained_write_errors, output_place
from ._distributed import write_shards
from ._filewrites import pwrite_all, set_size
from ._hf import write_from_config  # imports torch and transformers only when it runs
from ._shards import progress_bar, shard_groups, shard_names, write_index, write_safetensors, write_tensors
from ._spec import (STREAM_FORMAT_KEY, PathLike, SpecError, TensorSpec, checkpoint_stream_format, fill_function,
                    load_spec)

__all__ = ["write_checkpoint"]

def _npy_header(spec: TensorSpec) -> bytes:
    header = _io.BytesIO()
    descr = np.lib.format.dtype_to_descr(FORMATS[spec.dtype].numpy_dtype())
    np.lib.format.write_array_header_1_0(header, {"descr": descr, "fortran_order": False, "shape": spec.shape})
    return header.getvalue()


def write_checkpoint(path: PathLike, spec: Union[Mapping[str, Any], PathLike, Sequence[TensorSpec], None] = None, *,
                     config: Any = None, seed: Optional[int] = None, dtype: Optional[str] = None,
                     max_shard_size: Optional[int] = None, force: bool = False, progress: Optional[bool] = None,
                     client: Any = None, stream_format: StreamFormat = None) -> List[Path]:
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
        See :mod:`fastglorot.io`; :func:`spec_like` builds one from an
        existing checkpoint.  Give ``spec`` or ``config``, not both.
    config : path or transformers.PretrainedConfig, optional
        A Hugging Face config (a ``config.json``, a directory holding one, or
        the object) instead of a spec: ``path`` becomes a directory that
        ``from_pretrained(path)`` loads with no missing or unexpected keys
        (``model.safetensors``, or ``model-0000k-of-0000N.safetensors`` and
        the index past ``max_shard_size``, default 50 GB as
        ``save_pretrained``; ``config.json``; ``generation_config.json``
        where the model generates), built whole in a hidden directory and
        swapped in.  Names, shapes and dtypes are those of the model built on
        the ``meta`` device (its ``architectures`` class, else
        ``AutoModelForCausalLM``; the config's dtype, else float32, or
        ``dtype``), tied weights written once as ``save_pretrained`` does;
        every tensor equals, bit for bit,
        ``fastglorot.torch.materialize(model, seed, init_fn=model._init_weights)``,
        computed and written module by module (peak memory: the largest
        module's tensors plus a constant).  Needs torch and transformers
        (imported only then).
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
    client : dask.distributed.Client, optional
        Write the shards (``max_shard_size`` is required) on this cluster's
        workers, each file whole by one worker, into a directory on a file
        system the workers share; the index is written last, here.  The
        bytes equal a single-process write.
    stream_format : {1, 2} or None, default None
        The stream format of every tensor (README "Stream format"), recorded
        in the metadata as ``fastglorot_stream_format`` (safetensors
        ``__metadata__``, the sharded index's ``metadata``, zarr group
        attributes; ``.npy`` has no place for it).  None: the format the
        spec's entries name (``"stream_format": 2``; they must agree), else
        the current one (:func:`fastglorot.get_stream_format`, read here, in
        the calling thread; the writer threads and Dask workers get it
        explicitly).  With ``config``: the format of the fills the model's
        init makes through fastglorot (None: the current one).

    Returns
    -------
    list of Path
        The files written (the index last; with ``config``, then
        ``config.json`` and ``generation_config.json``).

    Raises
    ------
    SpecError
        A bad spec (entries naming different stream formats among its
        faults), or a config transformers cannot build (before anything is
        written).
    TypeError, ValueError
        ``stream_format`` is not None, 1 or 2.
    ImportError
        ``config`` without torch or transformers installed.
    FileExistsError
        An output exists and ``force`` is False (before anything is written).
    OSError
        A write failed (full disk, file-size limit): nothing is left behind.
    """
    if config is not None:
        if spec is not None:
            raise SpecError("give a spec or a config, not both")
        return write_from_config(path, config, seed=seed, dtype=dtype, max_shard_size=max_shard_size, force=force,
                                 progress=progress, client=client, stream_format=resolve_stream_format(stream_format))
    if spec is None:
        raise TypeError("write_checkpoint() needs a spec (or config=)")
    target = Path(path)
    specs = list(spec) if isinstance(spec, Sequence) and not isinstance(spec, (str, bytes)) else \
        load_spec(spec, dtype=dtype)
    if dtype is not None and any(s.dtype != dtype for s in specs):
        specs = load_spec({s.name: {"shape": list(s.shape), "init": s.init, **s.kwargs,
                                    **({} if s.stream_format is None else {"stream_format": s.stream_format})}
                           for s in specs}, dtype=dtype)
    fmt = checkpoint_stream_format(specs, stream_format)  # here, in the caller's thread: its stream_format block
    counts = collections.Counter(s.name for s in specs)
    duplicates = sorted(name for name, count in counts.items() if count > 1)
    if duplicates:
        raise SpecError(f"tensor names must be unique: {', '.join(map(repr, duplicates))}")
    if max_shard_size is not None and (not isinstance(max_shard_size, int) or max_shard_size <= 0):
        raise SpecError(f"max_shard_size must be a positive number of bytes, got {max_shard_size!r}")
    resolved_seed = resolve_seed(seed)
    show = sys.stderr.isatty() if progress is None else progress
    metadata = {"format": "pt", "fastglorot_seed": str(resolved_seed),
                "fastglorot_version": fastglorot.__version__, STREAM_FORMAT_KEY: str(fmt)}
    suffix = target.suffix.lower()
    if client is not None and max_shard_size is None:
        raise SpecError(f"{target}: a Dask client writes the shard files of a sharded checkpoint in parallel: "
                        "pass max_shard_size too")
    if max_shard_size is not None:
        return _write_sharded(target, specs, resolved_seed, fmt, max_shard_size, force, show, metadata, client)
    if suffix == ".zarr":
        return [_write_zarr(target, specs, resolved_seed, fmt, force, show, metadata)]
    if suffix not in (".safetensors", ".npy"):
        raise SpecError(f"{target}: the output's extension says its format: .safetensors, .npy or .zarr "
                        "(or pass max_shard_size for a sharded directory)")
    if suffix == ".npy":
        if len(specs) != 1:
            raise SpecError(f"{target}: a .npy file holds one tensor, the spec has {len(specs)}")
        if not FORMATS[specs[0].dtype].numpy_native:
            raise SpecError(f"{specs[0].name!r}: numpy.load cannot read bfloat16 .npy files; use .safetensors")
    if output_place(target).is_dir():
        raise SpecError(f"{target} is a directory; a {suffix} checkpoint is a file: remove the directory or choose "
                        "another path (or pass max_shard_size for a sharded directory)")
    total = sum(s.nbytes for s in specs)
    place, replacing = prepare_file(target, total, force)  # (a link is written through, as cp does)
    file = AtomicFile(place)
    bar = progress_bar(total, show)
    try:
        with explained_write_errors(target, total, replacing):
            if suffix == ".npy":
                header = _npy_header(specs[0])
                set_size(file.fd, len(header) + specs[0].nbytes)
                pwrite_all(file.fd, memoryview(header), 0)
                with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="fastglorot-write") as writer:
                    write_tensors(file.fd, [(specs[0], len(header))], resolved_seed, fmt, bar, writer)
            else:
                write_safetensors([file], [specs], resolved_seed, fmt, bar, metadata)
            file.commit(force, shown=target)
    finally:
        file.discard()
        bar.close()
    return [target]


_OWNED = re.compile(r"model(-\d{5}-of-\d{5})?\.safetensors|model\.safetensors\.index\.json")
"""The names a sharded checkpoint consists of: replaced as a whole; anything else in the directory is kept."""


def _write_sharded(directory: Path, specs: List[TensorSpec], seed: int, stream_format: int, max_shard_size: int,
                   force: bool, show: bool, metadata: Dict[str, str], client: Any = None) -> List[Path]:
    """A Hugging Face sharded checkpoint, built in a hidden directory and swapped into place whole.

    Afterwards ``directory`` holds exactly the new layout plus the entries the
    writer does not own (:data:`_OWNED`), which are kept; a failure or an
    interrupt leaves ``directory`` as it was (no new directory when there was
    none) and nothing else behind.
    """
    groups = shard_groups(specs, max_shard_size)
    names = shard_names(len(groups))
    if directory.exists() and not directory.is_dir():
        raise SpecError(f"{directory} is a file, but with max_shard_size the checkpoint is a directory of shards: "
                        "remove the file or choose another path")
    total = sum(s.nbytes for s in specs)
    with staged_checkpoint(directory, _OWNED, total, force) as staging:
        files = [] if client is not None else [AtomicFile(staging / n) for n in names]
        with progress_bar(total, show and client is None) as bar:
            try:
                if client is not None:
                    # each file whole, on a worker
                    write_shards(client, staging, names, groups, seed, stream_format, metadata)
                else:
                    write_safetensors(files, groups, seed, stream_format, bar, metadata)
                for file in files:
                    file.commit(False)
            finally:
                for file in files:
                    file.discard()
        if len(groups) > 1:
            write_index(staging, total, metadata, {s.name: name for name, group in zip(names, groups) for s in group})
    return [directory / n for n in names] + ([directory / "model.safetensors.index.json"] if len(groups) > 1 else [])


def _write_zarr(target: Path, specs: List[TensorSpec], seed: int, stream_format: int, force: bool, show: bool,
                metadata: Dict[str, str]) -> Path:
    """A zarr group written in a hidden staging directory beside ``target``, swapped into place at the end.

    The whole store belongs to the checkpoint (:data:`~._atomic.OWN_ALL`):
    an existing one is replaced only with ``force``, and entirely.  The
    group's attributes record what the safetensors metadata records (seed,
    version, stream format).
    """
    (zarr,) = load("a .zarr output", "zarr")  # one line naming the install command when missing

    for spec in specs:
        if not FORMATS[spec.dtype].numpy_native:
            raise SpecError(f"{spec.name!r}: zarr has no bfloat16 data type; use .safetensors")
        parts = spec.name.split("/")
        if any(p in ("", ".", "..") for p in parts) or spec.name.startswith("__"):
            raise SpecError(f"{spec.name!r} is not a valid zarr array path")
    total = sum(s.nbytes for s in specs)
    with progress_bar(total, show) as bar, staged_checkpoint(target, OWN_ALL, total, force) as staging:
        # "w-", not "w": "w" deletes and re-creates the directory, losing its lock, group and mode.
        attributes = {key: value for key, value in metadata.items() if key.startswith("fastglorot_")}  # not "pt"
        group = zarr.open_group(str(staging), mode="w-", attributes=attributes)
        for spec in specs:
            _write_zarr_array(group, spec, seed, stream_format, bar)
    return target


def _write_zarr_array(group: Any, spec: TensorSpec, seed: int, stream_format: int, bar: Any) -> None:
    """Chunks of whole rows (axis 0), about one slab each: every chunk is a flat range of the tensor."""
    itemsize = FORMATS[spec.dtype].itemsize
    row = math.prod(spec.shape[1:]) if spec.shape else 1
    rows = max(1, _shards.SLAB_BYTES // max(1, row * itemsize))  # read at each write: one setting for every writer
    chunks = (min(rows, spec.shape[0]) or 1, *spec.shape[1:]) if spec.shape else ()
    array = group.create_array(spec.name, shape=spec.shape, chunks=chunks, dtype=spec.dtype, fill_value=0)
    if not spec.size:
        return
    fill = fill_function(spec, stream_format)
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
