"""Seeds and stream ids: entropy seeding and named streams."""

from __future__ import annotations

from typing import Optional, Union

from .._validate import as_uint64

__all__ = ["Seed", "Stream", "resolve_seed", "resolve_stream", "stream_id"]

Seed = Optional[int]
Stream = Union[int, str]

_STREAM_DOMAIN = b"fastglorot stream:"


def stream_id(name: str) -> int:
    """The 64-bit stream id of a stream name (e.g. a parameter's name).

    ``int.from_bytes(sha256(b"fastglorot stream:" + name.encode("utf-8"))[:8], "little")``.
    Part of the stream format: stable across versions and platforms, so a
    model's initialization can be keyed by parameter names instead of the
    order in which modules are created.

    Examples
    --------
    >>> stream_id("encoder.layers.3.attn.q_proj.weight") == stream_id("encoder.layers.3.attn.q_proj.weight")
    True
    """
    if not isinstance(name, str):
        raise TypeError(f"a stream name must be a str, got {type(name).__name__}")
    import hashlib  # here, not at import: hashing is only for named streams

    digest = hashlib.sha256(_STREAM_DOMAIN + name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little")


def resolve_seed(seed: Seed) -> int:
    """``seed`` checked to lie in [0, 2**64), or 64 bits of OS entropy for ``None``.

    README "Buffers, dtypes and arguments": every public function takes ``seed=None`` by default.
    """
    if seed is None:
        import secrets

        return secrets.randbits(64)
    return as_uint64("seed", seed)


def resolve_stream(stream: Stream) -> int:
    """An integer stream in [0, 2**64), or the :func:`stream_id` of a name."""
    if isinstance(stream, str):
        return stream_id(stream)
    try:
        return as_uint64("stream", stream)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{error}; a stream is an integer in [0, 2**64) or a str name such as "
                          "'encoder.layers.0.weight'") from None
