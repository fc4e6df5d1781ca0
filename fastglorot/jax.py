"""JAX and Flax initializers drawn by fastglorot.

Every factory of ``jax.nn.initializers`` that draws random numbers has a twin
here with the same signature (plus a keyword ``stream_format``), defaults and
fan rules, returning an initializer ``init(key, shape, dtype=...,
out_sharding=None, *, sharding=None) -> jax.Array`` that fits wherever JAX's does (Flax ``kernel_init=``,
``nnx.Param`` factories, Optax code)::

    import fastglorot.jax as init
    layer = flax.nnx.Linear(4096, 4096, kernel_init=init.glorot_uniform(), rngs=flax.nnx.Rngs(0))
    w = init.he_normal()(jax.random.key(0), (3, 3, 64, 128), jnp.bfloat16)

Key rule
    The key's data words become the fastglorot seed and stream 0 is used:
    for the two-word keys of JAX's default ``threefry2x32`` implementation
    (``jax.random.key(s)`` and raw ``jax.random.PRNGKey(s)`` alike),
    ``seed = (w0 << 32) | w1``, so ``key(s)`` maps to fastglorot seed ``s``
    for ``0 <= s < 2**32`` and
    ``init.glorot_uniform()(jax.random.key(s), shape) ==
    fastglorot.glorot_uniform(shape, seed=s, layout="jax")`` bit for bit.
    Keys of other lengths (``rbg``: four words) use the first 8 bytes of
    ``BLAKE2b(b"fastglorot jax key:" + words as little-endian uint32)`` as
    the seed.  The same key gives the same array (typed or raw); keys from
    ``jax.random.split`` / ``fold_in`` give different arrays.  The values
    are not JAX's (another generator); distributions and scales are.

Fans
    Exactly ``jax.nn.initializers``': ``in_axis``, ``out_axis`` and
    ``batch_axis`` (ints or sequences), every other axis a receptive-field
    axis; ``mode`` may be ``"fan_in"``, ``"fan_out"``, ``"fan_avg"`` or
    ``"fan_geo_avg"``.  The fans are passed to fastglorot explicitly, so the
    axes never change which element gets which value, only the scale.

dtypes and memory
    float32, float64 (with ``jax_enable_x64``; otherwise JAX's rule applies:
    a warning and float32), float16 and bfloat16 are drawn by fastglorot
    into a 64-byte-aligned host buffer that the CPU device adopts without a
    copy (``jax.device_put(..., may_alias=True)``); on a GPU/TPU default
    device it is one host-to-device copy.  Other dtypes (complex, float8)
    are handed to ``jax.nn.initializers``' own initializer of the same
    configuration, with the same key.

Sharded arrays
    ``out_sharding`` (JAX's argument: a ``NamedSharding``, or a
    ``PartitionSpec`` resolved against the mesh of ``jax.set_mesh``) or
    ``sharding`` (any ``jax.sharding.Sharding``) builds the global array with
    ``jax.make_array_from_callback``: each device's block is filled on its
    own as a block of the whole array (README "Sharding and blocks"), so the
    global array is bit-identical for every mesh and sharding of the same
    shape, and a replicated block is computed once per call.

Under ``jax.jit``, ``vmap`` and ``eval_shape``
    A traced key is turned into values by ``jax.pure_callback`` (host code,
    ``vmap_method="sequential"``: one call per mapped key, as ``nnx.vmap``
    over split keys does), with the same values as the eager call.  Under
    tracing the whole array is produced on the host and then constrained to
    the requested sharding; ``eval_shape`` runs nothing.

Stream format
    Every factory takes a keyword ``stream_format`` (1 or 2; README "Stream
    format"), resolved when the initializer is **made**: ``None`` (the
    default) means :func:`fastglorot.get_stream_format` at that moment, so
    ``with fastglorot.stream_format(2): init = glorot_normal()`` gives an
    initializer that draws format 2 wherever and whenever it is called
    (eagerly, under ``jax.jit``, sharded, in other threads); the context at
    call time does not change a made initializer.  Formats 1 and 2 differ
    only for float32, float16 and bfloat16 normal and truncated-normal draws
    (``glorot_normal``, ``he_normal``, ``lecun_normal``, ``normal``,
    ``truncated_normal``, ``variance_scaling`` with a normal distribution).

JAX is imported by this module, not by ``import fastglorot``
(an ImportError at import names the install command when JAX is missing).
"""

from __future__ import annotations

import functools
import hashlib
import math
import operator
import warnings
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Sequence, Tuple, Union, cast

import numpy as np

import fastglorot
from fastglorot._api.stream_format import StreamFormat, resolve_stream_format
from fastglorot._format.tables import NAMES
from fastglorot._interop import adopt_jax, missing

try:
    import jax
    import jax.numpy as jnp
except ModuleNotFoundError as error:
    if error.name != "jax":
        raise
    raise missing(__name__, "jax", "jax") from None

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "Initializer", "variance_scaling", "glorot_uniform", "glorot_normal", "xavier_uniform", "xavier_normal",
    "he_uniform", "he_normal", "kaiming_uniform", "kaiming_normal", "lecun_uniform", "lecun_normal",
    "uniform", "normal", "truncated_normal", "seed_of_key",
]

Axes = Union[int, Sequence[int]]
Initializer = Callable[..., jax.Array]
"""``init(key, shape, dtype=..., out_sharding=None, *, sharding=None) -> jax.Array``."""

_KEY_PERSONAL = b"fastglorot jax key:"
_MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
_DISTRIBUTIONS = ("truncated_normal", "normal", "uniform")


# --- keys ---------------------------------------------------------------------------------------------------------


def _key_words(key: Any) -> Any:
    """The key's raw uint32 words (a traced array under jit), checked to be one key."""
    if isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(f"an initializer takes one PRNG key, got a key array of shape {key.shape}")
        return jax.random.key_data(key)
    words = key if isinstance(key, jax.Array) else np.asarray(key)
    if words.ndim != 1 or words.dtype != np.uint32 or words.shape[0] < 2:
        raise TypeError(f"key must be a JAX PRNG key (jax.random.key(...)) or a raw uint32 key "
                        f"(jax.random.PRNGKey(...)), got {type(key).__name__} of shape "
                        f"{getattr(key, 'shape', None)} and dtype {getattr(key, 'dtype', None)}")
    return words


def _seed_of_words(words: NDArray[np.uint32]) -> int:
    words = np.asarray(words, dtype=np.uint32).reshape(-1)
    if words.size == 2:
        return (int(words[0]) << 32) | int(words[1])
    digest = hashlib.blake2b(_KEY_PERSONAL + words.astype("<u4").tobytes(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def seed_of_key(key: Any) -> int:
    """The fastglorot seed a JAX PRNG key stands for (the module's key rule).

    Parameters
    ----------
    key : jax.Array
        A typed key (``jax.random.key``) or a raw uint32 key
        (``jax.random.PRNGKey``), concrete (not traced).

    Returns
    -------
    int
        ``(w0 << 32) | w1`` for two-word keys; for longer keys the first 8
        bytes (little-endian) of ``BLAKE2b(b"fastglorot jax key:" + words)``.
    """
    return _seed_of_words(np.asarray(_key_words(key)))


def _is_traced(x: Any) -> bool:
    return isinstance(x, jax.core.Tracer)


# --- shapes, dtypes, fans ----------------------------------------------------------------------------------------


def _shape(shape: Any) -> Tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        return (operator.index(shape),)
    try:
        return tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"shape must be a sequence of integers, got {shape!r}") from None


def _dtype(dtype: Any, where: str) -> np.dtype[Any]:
    """JAX's dtype rule: ``None`` is the default float; 64-bit types need x64 (else a warning, 32-bit)."""
    requested = jnp.dtype(jnp.float64 if dtype is None else dtype)
    canonical: np.dtype[Any] = jax.dtypes.canonicalize_dtype(requested)
    if dtype is not None and canonical != requested:
        warnings.warn(f"Explicitly requested dtype {requested} requested in {where} is not available, and will be "
                      f"truncated to dtype {canonical}. To enable more dtypes, set the jax_enable_x64 configuration "
                      f"option or the JAX_ENABLE_X64 shell environment variable.", UserWarning, stacklevel=4)
    return canonical


def _axis_size(shape: Tuple[int, ...], axes: Axes) -> int:
    if isinstance(axes, (int, np.integer)):
        return shape[axes]
    return math.prod(shape[i] for i in axes)


def _fans(shape: Tuple[int, ...], in_axis: Axes, out_axis: Axes, batch_axis: Axes
          ) -> Tuple[Union[int, float], Union[int, float]]:
    """``jax.nn.initializers``' fans: in/out sizes times the receptive field (the remaining axes).

    Integers when the receptive field is a whole number of elements (distinct
    axes); otherwise (overlapping axes, e.g. ``in_axis=out_axis=0`` for a
    vector) JAX's floating-point quotient.
    """
    if isinstance(in_axis, int) and in_axis == -2 and len(shape) <= 1:
        raise ValueError(f"Can't compute input and output sizes of a {len(shape)}-dimensional weights tensor "
                         f"with default in_axis. Must be at least 2D or specify in_axis explicitly.")
    in_size, out_size = _axis_size(shape, in_axis), _axis_size(shape, out_axis)
    batch_size = _axis_size(shape, batch_axis)
    # JAX divides in floating point; when the quotient is an integer, exact
    # integer arithmetic gives the same fans for any size.
    receptive, remainder = divmod(math.prod(shape), in_size * out_size * batch_size)
    if remainder:
        fraction = math.prod(shape) / in_size / out_size / batch_size
        return in_size * fraction, out_size * fraction
    return in_size * receptive, out_size * receptive


def _denominator(mode: str, fan_in: float, fan_out: float) -> float:
    """JAX's ``n`` for ``mode`` (only for fans that are not whole numbers)."""
    return float({"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
                  "fan_geo_avg": (fan_in * fan_out) ** 0.5}[mode])


# --- building arrays ---------------------------------------------------------------------------------------------

# fill(shape, dtype, seed, global_shape, global_offset) -> NumPy array holding that block of the global array.
_Fill = Callable[[Tuple[int, ...], np.dtype[Any], int, Optional[Tuple[int, ...]], Optional[Tuple[int, ...]]],
                 "NDArray[Any]"]


def _resolve_sharding(out_sharding: Any, sharding: Any) -> Any:
    if out_sharding is not None and sharding is not None:
        raise TypeError("pass out_sharding (JAX's name) or sharding, not both")
    given = sharding if sharding is not None else out_sharding
    if given is None or isinstance(given, jax.sharding.Sharding):
        return given
    if isinstance(given, jax.sharding.PartitionSpec):
        get_mesh = getattr(jax.sharding, "get_mesh", None)  # JAX >= 0.7: the mesh of jax.set_mesh
        mesh = get_mesh() if get_mesh is not None else None
        if mesh is None or mesh.empty:
            raise ValueError(f"out_sharding={given} is a PartitionSpec, which needs a mesh: call it under "
                             f"jax.set_mesh(mesh), or pass a jax.sharding.NamedSharding")
        return jax.sharding.NamedSharding(mesh, given)
    raise TypeError(f"sharding must be a jax.sharding.Sharding or a PartitionSpec, got {type(given).__name__}")


def _sharded(fill: _Fill, shape: Tuple[int, ...], dtype: np.dtype[Any], seed: int, sharding: Any) -> jax.Array:
    """The global array, each device's block filled as a block of it (memoized per call: replicas share one)."""
    blocks: Dict[Tuple[Tuple[int, int], ...], NDArray[Any]] = {}

    def block(index: Optional[Tuple[slice, ...]]) -> NDArray[Any]:
        bounds = tuple(s.indices(n)[:2] for s, n in zip(index or (), shape))
        bounds += tuple((0, n) for n in shape[len(bounds):])
        if bounds not in blocks:
            start = tuple(lo for lo, _ in bounds)
            size = tuple(hi - lo for lo, hi in bounds)
            blocks[bounds] = fill(size, dtype, seed, shape, start)
        return blocks[bounds]

    return jax.make_array_from_callback(shape, sharding, block, dtype=dtype)


def _build(fill: _Fill, fallback: Callable[[], Any], name: str, key: Any, shape: Any, dtype: Any,
           out_sharding: Any, sharding: Any) -> jax.Array:
    """Shared body of every initializer: key, shape, dtype and sharding rules, then the fill."""
    words = _key_words(key)
    shape = _shape(shape)
    dtype = _dtype(dtype, name)
    target = _resolve_sharding(out_sharding, sharding)
    if dtype.name not in NAMES:  # not drawn by fastglorot
        return fallback()(key, shape, dtype, out_sharding=target)  # type: ignore[no-any-return]
    if math.prod(shape) == 0:  # nothing to draw (and no fans to compute); JAX gives no warning either
        empty = np.empty(shape, dtype)
        placed: jax.Array = adopt_jax(empty) if target is None else jax.device_put(empty, target)
        return placed
    if _is_traced(words):
        def host(words: NDArray[np.uint32]) -> NDArray[Any]:
            return fill(shape, dtype, _seed_of_words(words), None, None)

        result_type = jax.ShapeDtypeStruct(shape, dtype)  # type: ignore[no-untyped-call]
        values: jax.Array = jax.pure_callback(host, result_type, words, vmap_method="sequential")
        if target is not None:
            values = jax.lax.with_sharding_constraint(values, target)  # type: ignore[no-untyped-call]
        return values
    seed = _seed_of_words(np.asarray(words))
    if target is not None:
        return _sharded(fill, shape, dtype, seed, target)
    return adopt_jax(fill(shape, dtype, seed, None, None))


def _initializer(fill: _Fill, fallback: Callable[[], Any], name: str, default_dtype: Any, doc: str) -> Initializer:
    def init(key: Any, shape: Any, dtype: Any = default_dtype, out_sharding: Any = None, *,
             sharding: Any = None) -> jax.Array:
        return _build(fill, fallback, name, key, shape, dtype, out_sharding, sharding)

    init.__doc__ = doc
    init.__qualname__ = init.__name__ = f"{name}.init"
    return init


def _checked_float(name: str, value: Any, *, positive: bool = False, nonnegative: bool = False) -> float:
    """A factory argument as ``float(value)``, raising unless finite (and positive or non-negative if asked).

    ``TypeError`` if ``float()`` refuses the value, ``ValueError`` if it breaks
    the rule; checked when the initializer is made (empty arrays draw nothing).
    """
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}") from None
    if not math.isfinite(x) or (positive and not x > 0) or (nonnegative and not x >= 0):
        rule = "positive and finite" if positive else "non-negative and finite" if nonnegative else "finite"
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    return x


# --- factories ---------------------------------------------------------------------------------------------------


def variance_scaling(scale: float, mode: str, distribution: str, in_axis: Axes = -2, out_axis: Axes = -1,
                     batch_axis: Axes = (), dtype: Any = None, *, stream_format: StreamFormat = None) -> Initializer:
    """Initializer with variance ``scale / n``: ``jax.nn.initializers.variance_scaling``, drawn by fastglorot.

    Parameters
    ----------
    scale : float
        Positive variance scale.
    mode : {"fan_in", "fan_out", "fan_avg", "fan_geo_avg"}
        ``n`` is ``fan_in``, ``fan_out``, ``(fan_in + fan_out) / 2`` or
        ``sqrt(fan_in * fan_out)``.
    distribution : {"truncated_normal", "normal", "uniform"}
        ``"uniform"``: U(-L, L), ``L = sqrt(3 scale / n)``; ``"normal"``:
        N(0, scale / n); ``"truncated_normal"``: N(0, s**2) truncated to
        ``[-2 s, 2 s]`` with ``s = sqrt(scale / n) / 0.87962566103423978``
        (the std after truncation is ``sqrt(scale / n)``).
    in_axis, out_axis, batch_axis : int or sequence of int
        Axes of the inputs, outputs and batch; the rest form the receptive
        field: ``fan_in = prod(shape[in_axis]) * receptive``,
        ``fan_out = prod(shape[out_axis]) * receptive``.
    dtype : dtype, optional
        The initializer's default dtype (JAX's default float if ``None``).
    stream_format : {1, 2}, optional
        The stream format the initializer draws (README "Stream format");
        ``None``: :func:`fastglorot.get_stream_format` now, when the
        initializer is made (module docstring, "Stream format").

    Returns
    -------
    callable
        ``init(key, shape, dtype=dtype, out_sharding=None, *, sharding=None)``
        returning a ``jax.Array`` (module docstring: key rule, sharding, jit).

    Raises
    ------
    ValueError
        An unknown ``mode`` or ``distribution`` (here, when the initializer is
        made; JAX raises when it is called), a non-positive ``scale``, a
        ``stream_format`` other than 1 or 2 (``TypeError`` if not an int).
    """
    version = resolve_stream_format(stream_format)  # captured now: the made initializer keeps it
    if mode not in _MODES:
        raise ValueError(f"invalid mode for variance scaling initializer: {mode}")
    if distribution not in _DISTRIBUTIONS:
        raise ValueError(f"invalid distribution for variance scaling initializer: {distribution}")
    scale_ = _checked_float("scale", scale, positive=True)
    checked_mode, checked_distribution = cast(fastglorot.Mode, mode), cast(fastglorot.Distribution, distribution)

    def fill(shape: Tuple[int, ...], dtype: np.dtype[Any], seed: int, global_shape: Optional[Tuple[int, ...]],
             global_offset: Optional[Tuple[int, ...]]) -> NDArray[Any]:
        fan_in, fan_out = _fans(global_shape or shape, in_axis, out_axis, batch_axis)
        if isinstance(fan_in, int) and isinstance(fan_out, int):
            scaled, fans_mode = scale_, checked_mode
        else:  # fractional fans: fastglorot's fans are integers, so fold n into the scale (n = 1)
            scaled, fans_mode, fan_in, fan_out = scale_ / _denominator(mode, fan_in, fan_out), "fan_in", 1, 1
        return fastglorot.variance_scaling(shape, scaled, fans_mode, checked_distribution, dtype=dtype, seed=seed,
                                           fan_in=fan_in, fan_out=fan_out, global_shape=global_shape,
                                           global_offset=global_offset, stream_format=version)

    def fallback() -> Any:
        return jax.nn.initializers.variance_scaling(scale, mode, distribution,  # type: ignore[arg-type]
                                                    in_axis, out_axis, batch_axis, dtype)

    return _initializer(fill, fallback, "variance_scaling", dtype,
                        f"variance_scaling({scale}, {mode!r}, {distribution!r}) drawn by fastglorot "
                        f"(stream format {version}).")


def _preset(scale: float, mode: str, distribution: str, name: str, formula: str) -> Callable[..., Initializer]:
    """One of JAX's named variance-scaling factories (same signature: axes and dtype)."""

    def factory(in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (), dtype: Any = None, *,
                stream_format: StreamFormat = None) -> Initializer:
        return variance_scaling(scale, mode, distribution, in_axis, out_axis, batch_axis, dtype,
                                stream_format=stream_format)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = (f"``jax.nn.initializers.{name}`` drawn by fastglorot: {formula}\n\n"
                       f"Same as ``variance_scaling({scale}, {mode!r}, {distribution!r}, in_axis, out_axis, "
                       f"batch_axis, dtype, stream_format=stream_format)``; see :func:`variance_scaling`.")
    return factory


glorot_uniform = _preset(1.0, "fan_avg", "uniform", "glorot_uniform",
                         "U(-b, b), b = sqrt(6 / (fan_in + fan_out)).")
glorot_normal = _preset(1.0, "fan_avg", "truncated_normal", "glorot_normal",
                        "truncated normal (+-2 of its std) of variance 2 / (fan_in + fan_out).")
lecun_uniform = _preset(1.0, "fan_in", "uniform", "lecun_uniform", "U(-b, b), b = sqrt(3 / fan_in).")
lecun_normal = _preset(1.0, "fan_in", "truncated_normal", "lecun_normal",
                       "truncated normal (+-2 of its std) of variance 1 / fan_in.")
he_uniform = _preset(2.0, "fan_in", "uniform", "he_uniform", "U(-b, b), b = sqrt(6 / fan_in).")
he_normal = _preset(2.0, "fan_in", "truncated_normal", "he_normal",
                    "truncated normal (+-2 of its std) of variance 2 / fan_in.")
xavier_uniform = glorot_uniform
xavier_normal = glorot_normal
kaiming_uniform = he_uniform
kaiming_normal = he_normal


def uniform(scale: float = 1e-2, dtype: Any = None, *, stream_format: StreamFormat = None) -> Initializer:
    """``jax.nn.initializers.uniform``: U(0, scale), drawn by fastglorot (``fastglorot.uniform``).

    Both ends are open (fastglorot's uniform rule; JAX's includes 0).  A
    negative ``scale`` gives U(scale, 0), as JAX's product does.
    ``stream_format`` as in :func:`variance_scaling` (the uniform is the same
    in both formats; the argument is checked and kept all the same).
    """
    version = resolve_stream_format(stream_format)
    low, high = min(0.0, _checked_float("scale", scale)), max(0.0, _checked_float("scale", scale))

    def fill(shape: Tuple[int, ...], dtype: np.dtype[Any], seed: int, global_shape: Optional[Tuple[int, ...]],
             global_offset: Optional[Tuple[int, ...]]) -> NDArray[Any]:
        return fastglorot.uniform(shape, low, high, dtype=dtype, seed=seed, global_shape=global_shape,
                                  global_offset=global_offset, stream_format=version)

    return _initializer(fill, functools.partial(jax.nn.initializers.uniform, scale, dtype), "uniform", dtype,
                        f"uniform({scale}) drawn by fastglorot (stream format {version}).")


def normal(stddev: float = 1e-2, dtype: Any = None, *, stream_format: StreamFormat = None) -> Initializer:
    """``jax.nn.initializers.normal``: N(0, stddev**2), drawn by fastglorot (``fastglorot.normal``, Box–Muller).

    ``stddev`` must be finite and non-negative (``ValueError`` otherwise).
    ``stream_format`` as in :func:`variance_scaling`.
    """
    version = resolve_stream_format(stream_format)
    std = _checked_float("stddev", stddev, nonnegative=True)

    def fill(shape: Tuple[int, ...], dtype: np.dtype[Any], seed: int, global_shape: Optional[Tuple[int, ...]],
             global_offset: Optional[Tuple[int, ...]]) -> NDArray[Any]:
        return fastglorot.normal(shape, 0.0, std, dtype=dtype, seed=seed, global_shape=global_shape,
                                 global_offset=global_offset, stream_format=version)

    return _initializer(fill, functools.partial(jax.nn.initializers.normal, stddev, dtype), "normal", dtype,
                        f"normal({stddev}) drawn by fastglorot (stream format {version}).")


def truncated_normal(stddev: float = 1e-2, dtype: Any = None, lower: float = -2.0,
                     upper: float = 2.0, *, stream_format: StreamFormat = None) -> Initializer:
    """``jax.nn.initializers.truncated_normal``: ``stddev * TN(lower, upper)``, drawn by fastglorot.

    N(0, stddev**2) truncated to ``[lower * stddev, upper * stddev]`` (no
    variance correction, as in JAX): ``fastglorot.trunc_normal(shape, 0,
    stddev, lower * stddev, upper * stddev)``.  ``stddev > 0`` and
    ``lower < upper`` are required (``ValueError``).  ``stream_format`` as in
    :func:`variance_scaling`.
    """
    version = resolve_stream_format(stream_format)
    s = _checked_float("stddev", stddev, positive=True)
    a, b = _checked_float("lower", lower) * s, _checked_float("upper", upper) * s
    if not a < b:
        raise ValueError(f"lower must be less than upper, got lower={lower}, upper={upper}")

    def fill(shape: Tuple[int, ...], dtype: np.dtype[Any], seed: int, global_shape: Optional[Tuple[int, ...]],
             global_offset: Optional[Tuple[int, ...]]) -> NDArray[Any]:
        return fastglorot.trunc_normal(shape, 0.0, s, a, b, dtype=dtype, seed=seed, global_shape=global_shape,
                                       global_offset=global_offset, stream_format=version)

    return _initializer(fill, functools.partial(jax.nn.initializers.truncated_normal, stddev, dtype, lower, upper),
                        "truncated_normal", dtype, f"truncated_normal({stddev}, lower={lower}, upper={upper}) "
                        f"drawn by fastglorot (stream format {version}).")
