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
``stream=name`` in the checkpoint's stream format, so it equals
``fastglorot.<init>(shape, dtype=dtype, seed=seed, stream=name,
stream_format=stream_format, **kwargs)`` bit for bit, whatever the file
format, sharding or slab size: a 70B checkpoint can be regenerated, or
checked, tensor by tensor.  The seed and the stream format are recorded in
the metadata (``fastglorot_seed``, ``fastglorot_stream_format``: safetensors
``__metadata__``, the sharded index, zarr group attributes);
:func:`recorded_stream_format` reads the format back (1 where a file, such
as one of fastglorot 0.5, records none).

How it is written (README "Writing checkpoints"):

* Bounded memory: every tensor is filled in flat slabs of
  :data:`SLAB_BYTES` (fastglorot's ``offset=`` places a slab in its tensor)
  and written with positional writes, double-buffered so that filling one
  slab overlaps writing the previous one.  The working set is two slabs,
  whatever the checkpoint's size.
* safetensors has no streaming writer in its library: the header (the
  documented format, ``fastglorot.io._safetensors``) is written by this
  package, and the tests read every file back with the ``safetensors``
  library.
* Atomic: a file is created unnamed (Linux ``O_TMPFILE``; elsewhere a
  hidden temporary name that is removed on any error), written, flushed and
  fsynced, and only then linked under its name; an existing output is never
  replaced without ``force``.  An interrupt, a kill, a full disk or a
  file-size limit leaves no partial output.  Shards are linked after all of
  them are written, the index last.

Modules: ``_spec`` (:class:`TensorSpec`, spec files, :data:`EXAMPLES`,
:func:`spec_like`), ``_writers`` (:func:`write_checkpoint` and the
per-format writers), ``_shards`` (slabs into safetensors files, shard
grouping, names and index: the layer below ``_writers``, ``_distributed``
and ``_hf``), ``_atomic`` (atomic files and directories, free-space
and existing-output checks), ``_safetensors`` / ``_safetensors_reader`` (the
header writer and the untrusted-header reader), ``_strictjson`` (JSON
with duplicate keys refused, for spec files and headers alike) and ``_hf``
(``write_checkpoint(OUT, config=...)``: a Hugging Face config's model,
materialized and written module by module; it alone imports torch and
transformers, and only when a config is used).
"""

from ._spec import (DTYPES, EXAMPLES, INITS, STREAM_FORMAT_KEY, SpecError, TensorSpec, like_default_init, llama_spec,
                    load_spec, read_spec, recorded_stream_format, spec_like)
from ._shards import SLAB_BYTES
from ._writers import write_checkpoint

__all__ = ["TensorSpec", "SpecError", "SLAB_BYTES", "INITS", "DTYPES", "EXAMPLES", "read_spec", "load_spec",
           "llama_spec", "spec_like", "write_checkpoint", "like_default_init", "recorded_stream_format",
           "STREAM_FORMAT_KEY"]
