"""Lazy Dask arrays of fastglorot samples: weights beyond one machine's memory, or one machine.

Every allocating initializer and sampler of :mod:`fastglorot` has a twin
here that returns a lazy ``dask.array.Array`` instead of a NumPy array::

    import fastglorot.dask
    w = fastglorot.dask.glorot_normal((131072, 65536), chunks=(2048, 8192), seed=7, stream="w")
    w.to_zarr("w.zarr")          # 32 GiB written chunk by chunk, never all in memory

Each chunk is one task that fills its block with ``global_shape=`` /
``global_offset=`` (README "Sharding and blocks"), so for any chunking, any
scheduler and any number of workers, ``w.compute()`` equals
``fastglorot.glorot_normal(shape, seed=7, stream="w")`` bit for bit.  The
graph holds no data: one small task per chunk (the function, its keyword
arguments and the chunk's position); nothing runs until compute.

Arguments are those of the NumPy function, plus ``chunks`` (anything
``dask.array`` accepts: ``"auto"``, an int, a tuple, explicit block sizes such
as ``((3, 5, 8), (7, 9))``).  They are checked when the array is created (by
computing one element on the client), so a bad argument fails there, not in
a worker.  ``seed=None`` draws one seed from OS entropy on the client, once:
every chunk uses it (pass an explicit seed to be able to reproduce the array).

``stream_format`` (README "Stream format") is resolved on the client too,
when the array is created: ``None`` (the default) is
:func:`fastglorot.get_stream_format` at that moment, so an array made under
``with fastglorot.stream_format(2):`` computes format 2 on any scheduler,
although worker threads and processes never see the client's context (each
task is given the format as an int).  The format is part of the graph's name
(``fastglorot-<function>-v<format>-<token>``): arrays of formats 1 and 2 never
share keys, even where their values agree (uniforms, float64).

Importing this module checks that dask is installed (ImportError naming the
install command otherwise, as every adapter does) but loads dask only on
first use, so the import stays cheap.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Dict, Mapping, Optional, Tuple

import numpy as np

import fastglorot

from ._interop import probe, require
from ._api.stream_format import resolve_stream_format
from ._format.seeding import resolve_seed

if TYPE_CHECKING:
    from dask.array import Array
    from numpy.typing import DTypeLike, NDArray

    from ._format.position import Shape

require(__name__, "dask", "dask")

__all__ = [
    "variance_scaling", "glorot_uniform", "glorot_normal", "xavier_uniform", "xavier_normal",
    "kaiming_uniform", "kaiming_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal",
    "uniform", "normal", "trunc_normal",
]


def _dask_array() -> ModuleType:
    import dask.array  # checked at import (require above); loaded here, at first use

    return dask.array


def _fill_chunk(function: str, args: Tuple[Any, ...], kwargs: Dict[str, Any],
                block_info: Optional[Mapping[Optional[int], Mapping[str, Any]]] = None) -> NDArray[Any]:
    """One chunk: the block of the whole array at this chunk's location (a dask task)."""
    assert block_info is not None, "dask passes block_info to a function that takes it"
    info = block_info[None]
    start = tuple(begin for begin, _ in info["array-location"])
    fill: Callable[..., NDArray[Any]] = getattr(fastglorot, function)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the zero-element warning was given on the client
        return fill(info["chunk-shape"], *args, global_shape=info["shape"], global_offset=start, **kwargs)


def _lazy(function: str, shape: Shape, args: Tuple[Any, ...], chunks: object, dtype: DTypeLike,
          kwargs: Dict[str, Any]) -> Array:
    """The lazy array of ``fastglorot.<function>(shape, *args, dtype=dtype, **kwargs)``."""
    da = _dask_array()
    from dask.base import tokenize

    for name in ("global_shape", "global_offset", "offset"):
        if name in kwargs:
            raise TypeError(f"fastglorot.dask.{function}() got an unexpected keyword argument {name!r}: "
                            "each chunk's position comes from the chunking")
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    shape = tuple(shape)
    fill: Callable[..., NDArray[Any]] = getattr(fastglorot, function)
    # The format as an int, resolved here, in the caller's context: a worker's thread or process has its own
    # context (the default format), so a task must never resolve None itself.  Checked first, before the seed's
    # entropy is drawn.
    version = kwargs["stream_format"] = resolve_stream_format(kwargs.get("stream_format"))
    kwargs["seed"] = resolve_seed(kwargs.get("seed"))  # entropy drawn once, here
    # Check every argument on the client with the real function: the first
    # element (or the empty array, which warns as the NumPy twin does).
    first = tuple(min(1, n) for n in shape) if all(shape) else shape
    example = probe(fill, first, *args, dtype=dtype, global_shape=shape, **kwargs)
    if isinstance(example, Exception):
        raise example
    kwargs["dtype"] = example.dtype
    chunks = da.core.normalize_chunks(chunks, shape, dtype=example.dtype)
    task = functools.partial(_fill_chunk, function, args, kwargs)
    # kwargs holds the format, so the token differs between formats; the name says which too (dashboards).
    name = f"fastglorot-{function}-v{version}-{tokenize(function, shape, chunks, args, kwargs)}"
    array: Array = da.map_blocks(task, name=name, chunks=chunks, dtype=example.dtype,
                                 meta=np.empty((0,) * len(shape), example.dtype))
    return array


def _twin(function: str) -> Callable[..., Array]:
    numpy_twin = getattr(fastglorot, function)

    def lazy(shape: Shape, *args: Any, chunks: object = "auto", dtype: DTypeLike = np.float32, **kwargs: Any) -> Array:
        return _lazy(function, shape, args, chunks, dtype, kwargs)

    signature = inspect.signature(numpy_twin)
    parameters = [p for p in signature.parameters.values()
                  if p.name not in ("offset", "global_shape", "global_offset")]
    at = next(i for i, p in enumerate(parameters) if p.name == "dtype")
    parameters.insert(at, inspect.Parameter("chunks", inspect.Parameter.KEYWORD_ONLY, default="auto"))
    # inspect.signature reads __signature__; mypy knows no such attribute of a function.
    setattr(lazy, "__signature__", inspect.Signature(parameters, return_annotation="dask.array.Array"))
    lazy.__name__ = lazy.__qualname__ = function
    lazy.__module__ = __name__
    lazy.__doc__ = (
        f"Lazy ``dask.array.Array`` equal to :func:`fastglorot.{function}` (same arguments), one task per chunk.\n\n"
        "``chunks`` is anything ``dask.array`` accepts (default ``\"auto\"``); every chunking gives the\n"
        "same values.  ``seed=None`` and ``stream_format=None`` are resolved once, here, when the array is\n"
        "created.  See :mod:`fastglorot.dask`.\n"
    )
    return lazy


variance_scaling = _twin("variance_scaling")
glorot_uniform = xavier_uniform = _twin("glorot_uniform")
glorot_normal = xavier_normal = _twin("glorot_normal")
kaiming_uniform = _twin("kaiming_uniform")
kaiming_normal = _twin("kaiming_normal")
he_uniform = _twin("he_uniform")
he_normal = _twin("he_normal")
lecun_uniform = _twin("lecun_uniform")
lecun_normal = _twin("lecun_normal")
uniform = _twin("uniform")
normal = _twin("normal")
trunc_normal = _twin("trunc_normal")
