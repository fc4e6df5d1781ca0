"""Shard files written by the workers of a Dask cluster (``write_checkpoint(..., client=...)``, ``--scheduler``).

The caller builds the checkpoint in a hidden staging directory on a file
system every worker can reach (a shared mount); each shard is one task that
a worker writes whole, as an :class:`~._atomic.AtomicFile` (unnamed until
complete), so a worker that dies mid-file leaves nothing: Dask reruns the
task elsewhere (its ``allowed-failures`` setting), or the write fails and
the caller removes the staging directory.  The index is written last, by the
caller, once every shard is in place.  The bytes equal a single-process
write: every tensor is a pure function of the seed, its name and the stream
format, which the caller resolves and hands to every task.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence, Tuple

from .._interop import load
from ._temporaries import remove_temporaries
from ._shards import write_shard
from ._spec import TensorSpec

__all__ = ["write_shards", "run_shard_tasks", "worker_address", "connect"]


def worker_address() -> str:
    """The address of the Dask worker running the caller (``"local"`` outside a worker)."""
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except ValueError:  # not on a worker (a synchronous client)
        return "local"


def _write_shard(path: str, group: List[TensorSpec], seed: int, stream_format: int, metadata: Dict[str, str]) -> str:
    """Write one shard file whole (run on a worker); return the address of the worker that wrote it.

    ``stream_format`` comes resolved from the caller: a worker process does
    not see the caller's :func:`fastglorot.stream_format` block.
    """
    write_shard(Path(path), group, seed, stream_format, metadata)
    return worker_address()


def run_shard_tasks(client: Any, staging: Path, names: Sequence[str], function: Callable[..., str],
                    arguments: Sequence[Tuple[Any, ...]]) -> List[str]:
    """``function(str(staging / names[i]), *arguments[i])`` as one task per shard; who wrote each.

    No worker restrictions: the scheduler spreads the tasks over idle workers,
    and a restriction to a worker that died (its restart has a new address)
    would leave the rerun waiting for it.  Returns once every shard is
    written, or raises the first task's error (``KilledWorker`` when Dask
    gives up on a task whose workers died).
    """
    futures = [client.submit(function, str(staging / name), *args, pure=False,
                             key=f"fastglorot-shard-{name}-{staging.name}")
               for name, args in zip(names, arguments)]
    try:
        writers = [str(address) for address in client.gather(futures)]
    finally:
        for future in futures:
            future.cancel()
    # A worker that died mid-file where the file system has no O_TMPFILE (NFS) left its hidden temporary here:
    # every shard is now written by another, so it would end up in OUT (as large as its shard).
    remove_temporaries(staging, names)
    return writers


def write_shards(client: Any, staging: Path, names: Sequence[str], groups: Sequence[List[TensorSpec]], seed: int,
                 stream_format: int, metadata: Dict[str, str]) -> List[str]:
    """Write each shard ``staging / names[i]`` (the tensors ``groups[i]``, in ``stream_format``) on ``client``'s
    workers."""
    return run_shard_tasks(client, staging, names, _write_shard,
                           [(group, seed, stream_format, metadata) for group in groups])


def connect(address: str, timeout: float = 30.0) -> Any:
    """A ``dask.distributed.Client`` of the scheduler at ``address`` (``--scheduler``), with a clear error."""
    (distributed,) = load("--scheduler", "distributed")  # one line naming the install command when missing
    Client = distributed.Client
    try:
        return Client(address, timeout=timeout)
    except OSError as error:
        raise OSError(f"cannot reach the Dask scheduler at {address} within {timeout:g} s: {error}") from None
