"""The shard layer: tensors filled slab by slab into safetensors files, and the files of a sharded checkpoint.

Every tensor is filled in flat slabs of :data:`SLAB_BYTES` (fastglorot's
``offset=`` places a slab in its tensor) and written with positional writes
on one writer thread, double-buffered: the working set is two slabs whatever
the checkpoint's size.  Sharded checkpoints use Hugging Face's layout: the
tensors grouped into shards (:func:`shard_groups`), the shard file names
(:func:`shard_names`) and the index (:func:`write_index`, written last).
:func:`write_shard` writes one shard file whole (what a Dask worker's task
does, ``_distributed``).

This layer is below the writers that use it: the entry point
(``_writers.write_checkpoint``), the Dask shard tasks (``_distributed``) and the
Hugging Face config writer (``_hf``); it imports none of them.  The progress
bar is tqdm's, imported only when a checkpoint is written.
"""

from __future__ import annotations

import concurrent.futures
import functools
import json
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Protocol, Sequence, Tuple, TypeVar

import numpy as np

from .._format.tables import FORMATS
from ._atomic import AtomicFile
from ._filewrites import WriteBehind, pwrite_all, set_size
from ._safetensors import encode_header
from ._spec import TensorSpec, fill_function

__all__ = ["SLAB_BYTES", "progress_bar", "write_tensors", "write_safetensors", "shard_groups", "shard_names",
           "write_index", "write_shard"]

SLAB_BYTES = 8 << 20
"""Bytes filled and written at a time (two slabs are in memory at once)."""


def progress_bar(total: int, show: bool) -> Any:
    """tqdm's bar over ``total`` bytes on stderr, or a disabled one (its update and close do nothing)."""
    from tqdm import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr, desc="fastglorot init",
                dynamic_ncols=True, disable=not show)


def _slabs(spec: TensorSpec) -> Iterator[Tuple[int, int]]:
    """``(offset, count)`` of the flat slabs of one tensor."""
    step = max(1, SLAB_BYTES // FORMATS[spec.dtype].itemsize)
    for offset in range(0, spec.size, step):
        yield offset, min(step, spec.size - offset)


def _advance(bar: Any, nbytes: int, _done: object) -> None:
    bar.update(nbytes)


def write_tensors(fd: int, placed: Sequence[Tuple[TensorSpec, int]], seed: int, stream_format: int, bar: Any,
                  writer: concurrent.futures.ThreadPoolExecutor) -> None:
    """Fill and write each tensor at its file position, two slabs in flight (fill one while the other is written).

    ``stream_format`` is the checkpoint's, resolved by the caller (this may run on a Dask worker).
    """
    buffers: Dict[str, List[np.ndarray[Any, Any]]] = {}
    pending: List[concurrent.futures.Future[None]] = []
    turn = 0
    output = WriteBehind(fd)
    for spec, position in placed:
        if not spec.size:
            continue
        fmt = FORMATS[spec.dtype]
        pair = buffers.setdefault(spec.dtype, [np.empty(SLAB_BYTES // fmt.itemsize, fmt.numpy_dtype())
                                               for _ in range(2)])
        fill = fill_function(spec, stream_format)
        for offset, count in _slabs(spec):
            if len(pending) == 2:
                pending.pop(0).result()  # the buffer about to be refilled has been written
            slab = pair[turn][:count]
            turn ^= 1
            fill(slab, offset, seed)
            view = memoryview(slab.view(np.uint8))  # type: ignore[arg-type]
            at = position + offset * slab.itemsize
            pending.append(writer.submit(output.write, view, at))
            pending[-1].add_done_callback(functools.partial(_advance, bar, slab.nbytes))
    for future in pending:
        future.result()


def write_safetensors(files: List[AtomicFile], groups: List[List[TensorSpec]], seed: int, stream_format: int,
                      bar: Any, metadata: Dict[str, str]) -> None:
    """Each file of ``files`` as a safetensors file holding the tensors of its group (its header, then its data)."""
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="fastglorot-write") as writer:
        for file, group in zip(files, groups):
            prefix, entries = encode_header([(s.name, FORMATS[s.dtype].safetensors, s.shape) for s in group], metadata)
            total = len(prefix) + (entries[-1].end if entries else 0)
            set_size(file.fd, total)
            pwrite_all(file.fd, memoryview(prefix), 0)
            write_tensors(file.fd, [(s, len(prefix) + e.begin) for s, e in zip(group, entries)], seed, stream_format,
                          bar, writer)


class _Sized(Protocol):
    @property
    def nbytes(self) -> int: ...


_T = TypeVar("_T", bound=_Sized)


def shard_groups(tensors: Sequence[_T], max_shard_size: int) -> List[List[_T]]:
    """Consecutive tensors per shard, each shard's data at most ``max_shard_size`` (a bigger tensor alone)."""
    groups: List[List[_T]] = [[]]
    size = 0
    for tensor in tensors:
        if groups[-1] and size + tensor.nbytes > max_shard_size:
            groups.append([])
            size = 0
        groups[-1].append(tensor)
        size += tensor.nbytes
    return groups


def shard_names(count: int) -> List[str]:
    """Hugging Face's shard file names: ``model.safetensors`` alone, else ``model-0000k-of-0000N.safetensors``."""
    if count == 1:
        return ["model.safetensors"]
    return [f"model-{i:05d}-of-{count:05d}.safetensors" for i in range(1, count + 1)]


def write_index(staging: Path, total: int, metadata: Dict[str, str], weight_map: Dict[str, str]) -> None:
    """``model.safetensors.index.json`` (written last, once every shard is complete)."""
    index = AtomicFile(staging / "model.safetensors.index.json")
    try:
        content = json.dumps({"metadata": {"total_size": total, **metadata}, "weight_map": weight_map},
                             indent=2).encode()
        pwrite_all(index.fd, memoryview(content), 0)
        index.commit(False)
    finally:
        index.discard()


def write_shard(path: Path, group: List[TensorSpec], seed: int, stream_format: int, metadata: Dict[str, str]) -> None:
    """Write one shard file whole, with no progress bar: committed only when every byte is written."""
    file = AtomicFile(path)
    try:
        with progress_bar(0, False) as bar:
            write_safetensors([file], [group], seed, stream_format, bar, metadata)
        file.commit(False)
    finally:
        file.discard()
