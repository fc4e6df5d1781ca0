"""Checkpoints from a Hugging Face config: ``write_checkpoint(OUT, config=...)``, ``fastglorot init OUT --config``.

OUT becomes a directory that ``from_pretrained(OUT)`` loads with no missing
and no unexpected keys: ``model.safetensors`` (or Hugging Face's
``model-0000k-of-0000N.safetensors`` and ``model.safetensors.index.json``),
``config.json`` and, where the model generates, ``generation_config.json``.

What is written, and how it equals ``fastglorot.torch.materialize``:

* The model is built on the ``meta`` device from the config (its
  ``architectures`` class, else ``AutoModelForCausalLM``, else ``AutoModel``),
  in the config's dtype (float32 when it names none) or ``dtype``.  Its
  ``state_dict()`` names, shapes and dtypes, less the tied names that
  ``save_pretrained`` drops (transformers' own
  ``remove_tied_weights_from_state_dict``: a tied tensor is written once and
  tied again on load), make every header before any data is written.
* Values: tensor by tensor, bit for bit those of
  ``materialize(model, seed, init_fn=model._init_weights)`` (which runs
  ``init_fn`` on every submodule, children before parents, every random fill
  of a tensor drawing from ``(seed, stream_id(its first name))``), computed
  one *unit* at a time: a unit is the tensors one module registers first.
  For each unit, only its tensors get real storage (every name they are
  registered under, so ties hold); everything else stays on ``meta``.  Then
  ``init_fn`` runs, in materialize's order, on every module whose subtree
  registers one of those tensors: the owner, the modules holding an alias,
  and their ancestors (a parent's init may write a child's tensor, as
  GPT-2's attention does for ``c_proj.weight``).  The fills of the unit's
  tensors are those of the full run: the same inits run in the same order
  with the same name-addressed streams (the addressing comes from memory, as
  in :func:`~fastglorot.torch.init_module`, with the whole model's names and
  ties), the same tie rule (a random fill of a tied tensor by a module that
  does not own it is skipped), and an init's fill of a ``meta`` tensor is a
  no-op that draws no stream.  Inits of the other modules cannot write the
  unit's tensors: they neither hold them nor contain a module that does.
  The unit's tensors are then written at their file offsets and their
  storage released: peak memory is the largest module's own tensors plus a
  constant.
* Tensors that no init writes (``materialize`` leaves them uninitialized
  memory, and warns) are written as zeros, named in a ``UserWarning``.
* The stream format ``n`` (resolved where the user calls, handed to the Dask
  workers, recorded in the metadata) is the one the inits' fastglorot fills
  use, as in ``materialize(model, seed, init_fn=..., stream_format=n)``.

torch and transformers are imported only here, and this module only when a
config is used.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple

from .._api.stream_format import resolve_stream_format
from .._format.seeding import resolve_seed
from ._atomic import AtomicFile, staged_checkpoint
from ._filewrites import WriteBehind, pwrite_all, set_size
from ._distributed import run_shard_tasks, worker_address
from ._hf_model import (
    DEFAULT_MAX_SHARD_SIZE,
    OWNED,
    SAFETENSORS_CODES,
    Planned,
    build_meta_model,
    config_spec,
    load_config,
    plan,
    registrations,
)
from ._safetensors import encode_header
from ._shards import progress_bar, shard_groups, shard_names, write_index
from ._spec import STREAM_FORMAT_KEY, PathLike, SpecError

__all__ = ["DEFAULT_MAX_SHARD_SIZE", "load_config", "build_meta_model", "config_spec", "write_from_config"]

# -- materialize, one unit at a time ------------------------------------------------------------------


@dataclasses.dataclass
class _Unit:
    """The tensors one module registers first, the names of them to write, and the modules whose init runs."""

    tensors: List[Any]  # the meta tensor objects
    written: List[str]
    modules: List[Tuple[str, Any]]  # (name, module), in materialize's order (children before parents)


def _units(model: Any, written: List[str], registered: Dict[str, Tuple[Any, str, str]]) -> List[_Unit]:
    """The units holding ``written`` names, in the order their first written name appears."""
    from ..torch._checkpoint import named_tensors, post_order

    owner: Dict[int, str] = {}  # id(tensor) -> module that registers it first (named_parameters order)
    holders: Dict[int, Set[str]] = {}  # id(tensor) -> every module registering it
    objects: Dict[int, Any] = {}
    for module_name, name, tensor in named_tensors(model):
        owner.setdefault(id(tensor), module_name)
        holders.setdefault(id(tensor), set()).add(module_name)
        objects[id(tensor)] = tensor
    order = list(post_order(model))
    by_owner: Dict[str, _Unit] = {}
    for name in written:
        module, kind, local = registered[name]
        module_name = owner[id(getattr(module, kind)[local])]
        if module_name not in by_owner:
            tensor_ids = [i for i, o in owner.items() if o == module_name]
            involved: Set[str] = set()
            for i in tensor_ids:
                for holder in holders[i]:
                    parts = holder.split(".") if holder else []
                    involved.update(".".join(parts[:k]) for k in range(len(parts) + 1))  # it and its ancestors
            by_owner[module_name] = _Unit([objects[i] for i in tensor_ids], [],
                                          [(n, m) for n, m in order if n in involved])
        by_owner[module_name].written.append(name)
    return list(by_owner.values())


def _allocate(tensor: Any) -> Any:
    """Uninitialized CPU storage like ``tensor`` (as materialize's ``to_empty``): a Parameter for a Parameter."""
    import torch

    new = torch.empty_strided(tensor.size(), tensor.stride(), dtype=tensor.dtype, device="cpu")
    if isinstance(tensor, torch.nn.Parameter):
        return torch.nn.Parameter(new, requires_grad=tensor.requires_grad)
    return new


@contextlib.contextmanager
def _materialized(model: Any, unit: _Unit, seed: int, init_fn: Callable[[Any], Any],
                  registered: Dict[str, Tuple[Any, str, str]], stream_format: int
                  ) -> Iterator[Tuple[Dict[str, Any], List[str]]]:
    """``(written name -> its CPU tensor as materialize leaves it, names no init wrote)`` of one unit.

    On exit the unit's registrations are put back to ``meta`` and its
    storage is released (the caller must not keep the tensors).
    """
    import torch

    from ..torch._checkpoint import run_inits

    saved = [(module, {**module._parameters}, {**module._buffers}) for _, module in unit.modules]
    try:
        real = {id(t): _allocate(t) for t in unit.tensors}
        fresh = {id(t): t.data_ptr() for t in real.values()}  # storage no init has replaced
        for _, module in unit.modules:  # every name of each unit tensor gets the same storage: ties hold
            for kind in ("_parameters", "_buffers"):
                table = getattr(module, kind)
                for local, tensor in table.items():
                    if id(tensor) in real:
                        table[local] = real[id(tensor)]
        del real
        # the whole model's names; only the unit's memory is real
        names = run_inits(model, seed, unit.modules, init_fn, stream_format=stream_format)
        first = {alias: name for name, aliases in names.aliases.items() for alias in (name, *aliases)}
        tensors: Dict[str, Any] = {}
        untouched = []
        tensor = None
        for name in unit.written:
            module, kind, local = registered[name]
            tensor = getattr(module, kind)[local]
            written = first.get(name, name) in names.touched_names or fresh.get(id(tensor)) != tensor.data_ptr()
            if not written and tensor.numel():  # (an init that re-created it, or swapped its storage, wrote it)
                untouched.append(name)
                with torch.no_grad():
                    tensor.zero_()
            tensors[name] = tensor
        del names, tensor
        yield tensors, untouched
    finally:
        for module, parameters, buffers in saved:  # back to meta: the CPU storage is released
            module._parameters.clear()
            module._parameters.update(parameters)
            module._buffers.clear()
            module._buffers.update(buffers)


# -- writing ------------------------------------------------------------------------------------------


def _tensor_bytes(tensor: Any) -> memoryview:
    """The C-order bytes of a CPU tensor (any dtype, bfloat16 included)."""
    import torch

    flat = tensor.detach().contiguous().reshape(-1)
    return memoryview(flat.view(torch.uint8).numpy())


def _write_data(model: Any, planned: List[Planned], outputs: Dict[int, WriteBehind], seed: int, stream_format: int,
                bar: Any) -> None:
    """The bytes of every planned tensor of the shards in ``outputs`` at its position, one unit at a time."""
    by_name = {t.name: t for t in planned}
    registered = registrations(model)
    all_untouched = []
    for unit in _units(model, list(by_name), registered):
        if not any(by_name[name].shard in outputs for name in unit.written):
            continue  # (a unit split across shards is materialized by each shard's writer: the same values)
        with _materialized(model, unit, seed, model._init_weights, registered, stream_format) as (tensors, untouched):
            all_untouched.extend(untouched)
            for name in unit.written:
                tensor, plan = tensors.pop(name), by_name[name]
                if plan.shard not in outputs:
                    continue
                if tuple(tensor.shape) != plan.shape or tensor.dtype != plan.dtype:
                    raise RuntimeError(f"{name!r}: the model's init left a {tensor.dtype} tensor of shape "
                                       f"{tuple(tensor.shape)}, the header says {plan.dtype} {plan.shape}")
                if plan.nbytes:
                    outputs[plan.shard].write(_tensor_bytes(tensor), plan.position)
                bar.update(plan.nbytes)
                del tensor
    if all_untouched:
        warnings.warn(f"fastglorot.io: no init of the model wrote {len(all_untouched)} tensor(s), written as zeros: "
                      f"{', '.join(map(repr, all_untouched))}", UserWarning, stacklevel=4)


def _headers(groups: List[List[Planned]], metadata: Dict[str, str]) -> List[Tuple[bytes, int]]:
    """``(header bytes, file size)`` of every shard; sets each planned tensor's shard and file position."""
    headers = []
    for shard, group in enumerate(groups):
        prefix, entries = encode_header([(t.name, SAFETENSORS_CODES[str(t.dtype).removeprefix("torch.")], t.shape)
                                         for t in group], metadata)
        for tensor, entry in zip(group, entries):
            tensor.shard, tensor.position = shard, len(prefix) + entry.begin
        headers.append((prefix, len(prefix) + (entries[-1].end if entries else 0)))
    return headers


def _write_shards(model: Any, planned: List[Planned], headers: List[Tuple[bytes, int]], paths: Dict[int, Path],
                  seed: int, stream_format: int, bar: Any) -> None:
    """Write the shard files ``paths`` (shard index -> path) whole: header, data, commit."""
    files = {shard: AtomicFile(path) for shard, path in paths.items()}
    try:
        outputs = {}
        for shard, file in files.items():
            prefix, size = headers[shard]
            set_size(file.fd, size)
            pwrite_all(file.fd, memoryview(prefix), 0)
            outputs[shard] = WriteBehind(file.fd)
        _write_data(model, planned, outputs, seed, stream_format, bar)
        for file in files.values():
            file.commit(False)
    finally:
        for file in files.values():
            file.discard()


def _write_shard_on_worker(path: str, config: Any, dtype: Optional[str], max_shard_size: int, shard: int, seed: int,
                           stream_format: int, metadata: Dict[str, str]) -> str:
    """One shard of a config checkpoint, written whole on a Dask worker; returns the worker's address.

    The worker rebuilds the meta model and the layout from the config (the
    same functions, so the same header), and materializes only the units with
    a tensor in its shard.
    """
    model = build_meta_model(config, dtype)
    planned = plan(model)
    headers = _headers(shard_groups(planned, max_shard_size), metadata)
    with progress_bar(0, False) as bar:
        _write_shards(model, planned, headers, {shard: Path(path)}, seed, stream_format, bar)
    return worker_address()


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_from_config(path: PathLike, config: Any, *, seed: Optional[int] = None, dtype: Optional[str] = None,
                      max_shard_size: Optional[int] = None, force: bool = False, progress: Optional[bool] = None,
                      client: Any = None, stream_format: Optional[int] = None) -> List[Path]:
    """``write_checkpoint(path, config=config, ...)``: see :func:`fastglorot.io.write_checkpoint`."""
    import sys

    import fastglorot


    if max_shard_size is not None and (isinstance(max_shard_size, bool) or not isinstance(max_shard_size, int)
                                       or max_shard_size <= 0):
        raise SpecError(f"max_shard_size must be a positive number of bytes, got {max_shard_size!r}")
    directory = Path(path)
    if directory.suffix.lower() in (".safetensors", ".npy", ".zarr"):
        raise SpecError(f"{directory}: with a config the checkpoint is a directory (what from_pretrained loads), "
                        f"not a {directory.suffix} file: choose a directory name")
    if directory.exists() and not directory.is_dir():
        raise SpecError(f"{directory} is a file, but a checkpoint from a config is a directory: remove the file or "
                        "choose another path")
    resolved_seed = resolve_seed(seed)
    fmt = resolve_stream_format(stream_format)  # here, in the caller's thread
    loaded = load_config(config)
    model = build_meta_model(loaded, dtype)
    planned = plan(model)
    shard_size = DEFAULT_MAX_SHARD_SIZE if max_shard_size is None else max_shard_size
    groups = shard_groups(planned, shard_size)
    names = shard_names(len(groups))
    metadata = {"format": "pt", "fastglorot_seed": str(resolved_seed), "fastglorot_version": fastglorot.__version__,
                STREAM_FORMAT_KEY: str(fmt)}
    headers = _headers(groups, metadata)  # every header before any data
    total = sum(t.nbytes for t in planned)
    show = sys.stderr.isatty() if progress is None else progress
    with staged_checkpoint(directory, OWNED, sum(size for _, size in headers), force) as staging:
        extra = [staging / "config.json"]
        model.config.save_pretrained(staging)
        if model.can_generate() and getattr(model, "generation_config", None) is not None:
            model.generation_config.save_pretrained(staging)
            extra.append(staging / "generation_config.json")
        for saved in extra:
            _fsync_file(saved)
        if client is not None:  # each shard whole on a worker (fastglorot.io._distributed's rules)
            arguments = [(loaded, dtype, shard_size, shard, resolved_seed, fmt, metadata)
                         for shard in range(len(names))]
            run_shard_tasks(client, staging, names, _write_shard_on_worker, arguments)
        else:
            with progress_bar(total, show) as bar:
                _write_shards(model, planned, headers, {i: staging / n for i, n in enumerate(names)}, resolved_seed,
                              fmt, bar)
        if len(groups) > 1:
            write_index(staging, total, metadata, {t.name: names[t.shard] for t in planned})
    written = [directory / n for n in names]
    if len(groups) > 1:
        written.append(directory / "model.safetensors.index.json")
    return written + [directory / p.name for p in extra]
