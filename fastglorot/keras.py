r"""Keras 3 initializers drawn by fastglorot.

``fastglorot.keras`` provides subclasses of Keras' own random initializers
with the same constructor arguments, defaults, argument checks, error
messages and ``get_config()`` keys, whose ``__call__(shape, dtype=None)``
draws with fastglorot's parallel Philox kernels instead of the backend's
random ops::

    import keras
    import fastglorot.keras

    layer = keras.layers.Dense(512, kernel_initializer=fastglorot.keras.GlorotUniform(seed=3))

===================  ======================================  ==============================================
fastglorot.keras     Keras counterpart                       draw
===================  ======================================  ==============================================
``VarianceScaling``  ``keras.initializers.VarianceScaling``  variance ``scale / n`` (below)
``GlorotUniform``    ``keras.initializers.GlorotUniform``    scale 1, ``"fan_avg"``, ``"uniform"``
``GlorotNormal``     ``keras.initializers.GlorotNormal``     scale 1, ``"fan_avg"``, ``"truncated_normal"``
``HeUniform``        ``keras.initializers.HeUniform``        scale 2, ``"fan_in"``, ``"uniform"``
``HeNormal``         ``keras.initializers.HeNormal``         scale 2, ``"fan_in"``, ``"truncated_normal"``
``LecunUniform``     ``keras.initializers.LecunUniform``     scale 1, ``"fan_in"``, ``"uniform"``
``LecunNormal``      ``keras.initializers.LecunNormal``      scale 1, ``"fan_in"``, ``"truncated_normal"``
``RandomUniform``    ``keras.initializers.RandomUniform``    U(minval, maxval)
``RandomNormal``     ``keras.initializers.RandomNormal``     N(mean, stddev²)
``TruncatedNormal``  ``keras.initializers.TruncatedNormal``  N(mean, stddev²) on [mean ± 2 stddev]
===================  ======================================  ==============================================

Each class is a subclass of its Keras counterpart (``isinstance`` checks
hold).

Serialization
    Each class is registered with
    ``keras.saving.register_keras_serializable(package="fastglorot")``:
    ``keras.initializers.serialize`` records ``registered_name:
    "fastglorot>ClassName"``, ``keras.initializers.deserialize`` and
    ``keras.initializers.get("fastglorot>ClassName")`` give the class back,
    and models saved with ``model.save("m.keras")`` keep it in their layer
    configs.  Keras imports no module outside Keras when loading: import
    ``fastglorot.keras`` first, or Keras reads such a config as its own class
    of the same name (same arguments, Keras' draw).

Variance scaling
    Fans are Keras' ``compute_fans(shape, input_axes, output_axes)``: the
    product of ``shape`` over ``input_axes`` and ``output_axes`` when both are
    given, else ``(1, 1)`` for a scalar, ``(n, n)`` for shape ``(n,)`` and
    ``(in·r, out·r)`` for ``(*kernel, in, out)`` with ``r = ∏kernel``; then
    ``n = max(1, fan_in)``, ``max(1, fan_out)`` or ``max(1, (fan_in +
    fan_out)/2)`` for ``mode = "fan_in"``, ``"fan_out"``, ``"fan_avg"``.
    ``"uniform"`` draws U(-L, L) with :math:`L = \sqrt{3\,\text{scale}/n}`;
    ``"untruncated_normal"`` draws N(0, scale/n), std
    :math:`\sqrt{\text{scale}/n}`; ``"truncated_normal"`` (Keras' ``"normal"``)
    draws N(0, s²) truncated to [-2s, 2s] with
    :math:`s = \sqrt{\text{scale}/n}\,/\,0.87962566103423978`, so the
    variance stays ``scale / n``.  The fans are passed to
    :func:`fastglorot.variance_scaling` explicitly, so for shapes of rank
    >= 2 without axes the values equal fastglorot's own functions with
    ``layout="keras"`` (``GlorotUniform(seed=7)(shape)`` equals
    ``fastglorot.glorot_uniform(shape, seed=7, layout="keras")`` bit for bit).

Seed rule
    Keras' documented semantics, with fastglorot's key and stream:

    * ``seed=s`` (an int): fastglorot ``seed = s mod 2**64``, stream 0, on
      every call: the same values every time.
    * ``seed=None``: a 64-bit fastglorot seed drawn from OS entropy
      (``secrets.randbits(64)``) once, at construction; stream 0.  Every call
      of that initializer gives the same values, another instance other
      values.  ``get_config()`` keeps ``seed: None`` as Keras does, so
      ``from_config`` (and ``clone()``) draw a new seed.
    * ``seed=keras.random.SeedGenerator(...)``: each call takes the
      generator's next state ``(s0, s1)`` (advancing it, as Keras' own draws
      do) and uses fastglorot ``seed = s0 mod 2**32``, ``stream = s1 mod
      2**32``: fresh values on every call, and the first call of
      ``SeedGenerator(7)`` equals ``seed=7``.  A dict seed (a serialized
      ``SeedGenerator``) is deserialized as Keras does; any other seed raises
      Keras' ``ValueError``.

    The values differ from Keras' own (another generator); the
    distributions, scales and fans are the same.

dtypes and backends
    ``dtype=None`` means ``keras.backend.floatx()``.  float32, float64,
    float16 and bfloat16 are drawn by fastglorot (16-bit values are the
    float32 draw rounded to nearest even).  On jax without
    ``jax_enable_x64``, float64 requests give float32 tensors as Keras' own
    draws do (without jax's truncation warning), holding the float32 draw.
    The result is the backend's tensor: on ``"jax"`` a fastglorot-allocated,
    64-byte-aligned NumPy array handed to ``jax.device_put(...,
    may_alias=True)`` (zero-copy on the CPU); on ``"torch"`` a CPU tensor
    filled in place (zero-copy), then moved to Keras' device if that is not
    the CPU; on other backends ``keras.ops.convert_to_tensor(array, dtype)``.
    Zero-element shapes give an empty tensor (no warning, as Keras).

Fallback rule
    dtypes fastglorot does not draw fall back to Keras' own draw: the Keras
    counterpart's ``__call__`` runs unchanged, with its seed, its values and
    its errors (an integer dtype raises exactly Keras' error).  So do
    argument values Keras accepts but fastglorot does not sample: a
    non-finite ``scale``, ``mean`` or ``stddev``, a negative ``stddev``
    (zero for ``TruncatedNormal``), ``minval > maxval``, bounds outside the
    dtype's range, or values that are not real numbers.

Limitations
    ``__call__`` has Keras' plain ``(shape, dtype=None)`` signature (no
    ``layout``): under ``keras.distribution`` the whole value is drawn on the
    host and Keras shards it afterwards; no shard is drawn on its own.

``import fastglorot`` does not import Keras; this module does.
"""

from __future__ import annotations

import inspect
import math
import operator
import secrets
from typing import Any, Callable, ClassVar, Dict, NamedTuple, Optional, Sequence, Tuple

import numpy as np

try:
    import keras
except ImportError:  # pragma: no cover - exercised only without keras
    raise ImportError('fastglorot.keras needs Keras 3: pip install "fastglorot[keras]"') from None

import fastglorot
from fastglorot._formats import NAMES

__all__ = [
    "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "LecunNormal",
    "RandomUniform", "RandomNormal", "TruncatedNormal",
]

# The dtypes fastglorot draws (Keras' standardized names); fastglorot's
# allocating functions accept these strings, and torch has dtypes of the same names.
_DRAWN_DTYPES = NAMES

_TRUNCATED_STD = 0.87962566103423978
"""Standard deviation of N(0, 1) truncated to [-2, 2] (Keras' constant)."""

# Note on typing: Keras ships no type information, so mypy sees its classes
# as ``Any``.  Subclassing them is the point of this module (isinstance checks,
# Keras' argument checks and get_config), so each class statement carries
# ``type: ignore[misc]`` for mypy's "cannot subclass Any" under --strict.


def _compute_fans(shape: Sequence[int], input_axes: Optional[Sequence[int]] = None,
                  output_axes: Optional[Sequence[int]] = None) -> Tuple[int, int]:
    """Keras' ``compute_fans``: ``(fan_in, fan_out)`` of a weight shape.

    With both ``input_axes`` and ``output_axes``, the products of ``shape``
    over them; else ``(1, 1)`` for rank 0, ``(n, n)`` for ``(n,)``,
    ``shape`` itself for rank 2, and ``(in·r, out·r)`` for ``(*kernel, in,
    out)``, ``r = ∏kernel``.
    """
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        fan_in = 1
        for axis in input_axes:
            fan_in *= shape[axis]
        fan_out = 1
        for axis in output_axes:
            fan_out *= shape[axis]
        return int(fan_in), int(fan_out)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return int(shape[0]), int(shape[0])
    receptive_field = 1
    for dim in shape[:-2]:
        receptive_field *= dim
    return int(shape[-2] * receptive_field), int(shape[-1] * receptive_field)


# Keras' VarianceScaling family takes input_axes/output_axes since keras-team/keras#22789 (2026); on
# an older Keras the classes below work without them (and reject non-None axes).
_KERAS_TAKES_AXES = "input_axes" in inspect.signature(keras.initializers.VarianceScaling).parameters


def _axes(input_axes: Optional[Sequence[int]], output_axes: Optional[Sequence[int]]) -> Dict[str, Any]:
    """The axes arguments for Keras' constructor (none on a Keras that does not take them)."""
    if _KERAS_TAKES_AXES:
        return {"input_axes": input_axes, "output_axes": output_axes}
    if input_axes is not None or output_axes is not None:
        raise TypeError("input_axes and output_axes need a Keras version whose initializers take them; "
                        f"this is Keras {keras.__version__}")
    return {}


class _Draw(NamedTuple):
    """One fastglorot draw: ``allocate(shape, *args, dtype=, seed=, stream=, **kwargs)`` or
    ``fill(out, *args, seed=, stream=, **kwargs)``."""

    allocate: Callable[..., Any]
    fill: Callable[..., Any]
    args: Tuple[Any, ...]
    kwargs: Dict[str, Any]


def _real(value: object) -> Optional[float]:
    """``float(value)`` for a finite real scalar (Python number, NumPy or backend scalar), else None."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _samples(probe: Callable[..., Any], dtype: str, *params: float) -> bool:
    """Whether fastglorot's sampler ``probe`` accepts ``params`` for ``dtype``.

    The samplers check every argument before the zero-element no-op (and do
    not warn on it), so an empty draw is the check.
    """
    try:
        probe((0,), *params, dtype=dtype, seed=0)
    except (TypeError, ValueError):
        return False
    return True


def _backend_dtype(dtype: str) -> str:
    """The dtype the backend's tensor will have: float64 is float32 on jax without x64."""
    if dtype == "float64" and keras.backend.backend() == "jax":
        import jax

        return str(np.dtype(jax.dtypes.canonicalize_dtype(np.float64)).name)
    return dtype


def _to_jax(array: Any) -> Any:
    import jax

    try:
        return jax.device_put(array, may_alias=True)  # zero-copy on the CPU for an aligned array
    except TypeError:  # a jax without may_alias
        return jax.device_put(array)


def _tensor(shape: Tuple[int, ...], dtype: str, draw: _Draw, seed: int, stream: int) -> Any:
    """The backend tensor of ``draw`` (module docstring, "dtypes and backends")."""
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        out = torch.empty(shape, dtype=getattr(torch, dtype))
        draw.fill(out, *draw.args, seed=seed, stream=stream, **draw.kwargs)
        return keras.ops.convert_to_tensor(out)  # moves it to Keras' device; no copy on the CPU
    array = draw.allocate(shape, *draw.args, dtype=dtype, seed=seed, stream=stream, **draw.kwargs)
    if backend == "jax":
        return _to_jax(array)
    return keras.ops.convert_to_tensor(array, dtype=dtype)


class _FastglorotInitializer:
    """The fastglorot ``__call__`` shared by the classes below (a mixin placed before the Keras class)."""

    _keras_class: ClassVar[Any]  # the Keras counterpart: its __call__ is the fallback
    _fastglorot_seed: Optional[int]  # None: keys come from a SeedGenerator
    _init_seed: Any  # set by Keras' RandomInitializer
    seed: Any  # Keras' resolved seed: an int or a SeedGenerator

    def _set_key(self) -> None:
        """The seed rule (module docstring), after Keras' constructor has checked and resolved ``seed``."""
        if isinstance(self.seed, keras.random.SeedGenerator):
            self._fastglorot_seed = None
        elif self._init_seed is None:
            self._fastglorot_seed = secrets.randbits(64)
        else:
            self._fastglorot_seed = int(self.seed) % 2**64

    def _key(self) -> Tuple[int, int]:
        """``(seed, stream)`` of the next draw."""
        if self._fastglorot_seed is not None:
            return self._fastglorot_seed, 0
        state = keras.ops.convert_to_numpy(self.seed.next())
        return int(state[0]) % 2**32, int(state[1]) % 2**32

    def _draw(self, shape: Tuple[int, ...], dtype: str) -> Optional[_Draw]:
        """fastglorot's draw for ``shape`` and ``dtype``, or None where Keras' own draw runs."""
        raise NotImplementedError

    def __call__(self, shape: Any, dtype: Any = None) -> Any:
        """A tensor of ``shape`` and ``dtype`` (default ``keras.backend.floatx()``) drawn by fastglorot.

        Parameters
        ----------
        shape : tuple of int
            Shape of the tensor.
        dtype : str or dtype, optional
            float32, float64, float16 or bfloat16 are drawn by fastglorot;
            others go to Keras' own draw (module docstring, "Fallback rule").
        """
        try:
            name = keras.backend.standardize_dtype(keras.backend.floatx() if dtype is None else dtype)
        except (TypeError, ValueError):
            name = None
        if name not in _DRAWN_DTYPES:  # also None: a dtype Keras does not know
            return self._keras_class.__call__(self, shape, dtype)
        try:
            shape = tuple(operator.index(dim) for dim in shape)
        except TypeError:  # not a shape of integers: Keras' own call, with its own error
            return self._keras_class.__call__(self, shape, dtype)
        name = _backend_dtype(str(name))
        if math.prod(shape) == 0:
            return keras.ops.zeros(shape, dtype=name)
        draw = self._draw(shape, name)
        if draw is None:
            return self._keras_class.__call__(self, shape, dtype)
        seed, stream = self._key()
        return _tensor(shape, name, draw, seed, stream)


class _VarianceScalingDraw(_FastglorotInitializer):
    """The draw of ``keras.initializers.VarianceScaling`` and its subclasses."""

    scale: Any
    mode: str
    distribution: str
    input_axes: Optional[Sequence[int]]
    output_axes: Optional[Sequence[int]]

    def _draw(self, shape: Tuple[int, ...], dtype: str) -> Optional[_Draw]:
        scale = _real(self.scale)
        if scale is None or not scale > 0:
            return None
        fan_in, fan_out = _compute_fans(shape, getattr(self, "input_axes", None), getattr(self, "output_axes", None))
        # Keras' max(1.0, fan) rule; non-empty shapes have fans >= 1, so it equals max(1, n) for every mode.
        fan_in, fan_out = max(1, fan_in), max(1, fan_out)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = scale / n
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            ok = _samples(fastglorot.uniform, dtype, -limit, limit)
        elif self.distribution == "untruncated_normal":
            ok = _samples(fastglorot.normal, dtype, 0.0, math.sqrt(variance))
        else:
            std = math.sqrt(variance) / _TRUNCATED_STD
            ok = _samples(fastglorot.trunc_normal, dtype, 0.0, std, -2.0 * std, 2.0 * std)
        if not ok:
            return None
        return _Draw(fastglorot.variance_scaling, fastglorot.variance_scaling_,
                     (scale, self.mode, self.distribution),
                     {"layout": "keras", "fan_in": fan_in, "fan_out": fan_out})


_register = keras.saving.register_keras_serializable(package="fastglorot")


class _PresetDraw(_VarianceScalingDraw):
    """The constructor of Keras' fixed-scale variance-scaling initializers (Glorot, He, LeCun).

    Placed before the Keras class, so ``super().__init__`` is Keras' own
    (its checks and its ``seed`` resolution), then the seed rule.
    """

    def __init__(self, seed: Any = None, input_axes: Optional[Sequence[int]] = None,
                 output_axes: Optional[Sequence[int]] = None) -> None:
        # mypy sees object.__init__ here; at run time the next class in the MRO is the Keras initializer.
        super().__init__(seed=seed, **_axes(input_axes, output_axes))  # type: ignore[call-arg]
        self._set_key()


@_register
class VarianceScaling(_VarianceScalingDraw, keras.initializers.VarianceScaling):  # type: ignore[misc]
    r"""``keras.initializers.VarianceScaling`` drawn by fastglorot.

    Draws with variance ``scale / n`` (``n`` from the fans and ``mode``, see
    the module docstring): ``"uniform"``: U(-L, L),
    :math:`L = \sqrt{3\,\text{scale}/n}`; ``"untruncated_normal"``:
    N(0, scale/n), std :math:`\sqrt{\text{scale}/n}`; ``"truncated_normal"``
    (also spelled ``"normal"``, as in Keras): N(0, s²) on [-2s, 2s],
    :math:`s = \sqrt{\text{scale}/n}/0.87962566103423978`.

    Parameters
    ----------
    scale : float, default 1.0
        Positive scaling factor.
    mode : {"fan_in", "fan_out", "fan_avg"}, default "fan_in"
    distribution : {"truncated_normal", "untruncated_normal", "uniform"}, default "truncated_normal"
    seed : int, keras.random.SeedGenerator or None
        Module docstring, "Seed rule".
    input_axes, output_axes : list of int, optional
        Axes whose sizes multiply into ``fan_in`` and ``fan_out`` (both needed).
    """

    _keras_class = keras.initializers.VarianceScaling

    def __init__(self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal",
                 seed: Any = None, input_axes: Optional[Sequence[int]] = None,
                 output_axes: Optional[Sequence[int]] = None) -> None:
        super().__init__(scale=scale, mode=mode, distribution=distribution, seed=seed,
                         **_axes(input_axes, output_axes))
        self._set_key()


@_register
class GlorotUniform(_PresetDraw, keras.initializers.GlorotUniform):  # type: ignore[misc]
    r"""``keras.initializers.GlorotUniform`` drawn by fastglorot.

    U(-L, L) with :math:`L = \sqrt{6/(\text{fan\_in} + \text{fan\_out})}`
    (scale 1, ``"fan_avg"``, ``"uniform"``); ``seed``, ``input_axes`` and
    ``output_axes`` as :class:`VarianceScaling`.
    """

    _keras_class = keras.initializers.GlorotUniform


@_register
class GlorotNormal(_PresetDraw, keras.initializers.GlorotNormal):  # type: ignore[misc]
    r"""``keras.initializers.GlorotNormal`` drawn by fastglorot.

    Truncated normal on ±2s, :math:`s = \sqrt{2/(\text{fan\_in} +
    \text{fan\_out})}/0.8796\ldots` (variance ``2/(fan_in + fan_out)``; scale
    1, ``"fan_avg"``, ``"truncated_normal"``); arguments as :class:`GlorotUniform`.
    """

    _keras_class = keras.initializers.GlorotNormal


@_register
class HeUniform(_PresetDraw, keras.initializers.HeUniform):  # type: ignore[misc]
    r"""``keras.initializers.HeUniform`` drawn by fastglorot.

    U(-L, L) with :math:`L = \sqrt{6/\text{fan\_in}}` (scale 2, ``"fan_in"``,
    ``"uniform"``); arguments as :class:`GlorotUniform`.
    """

    _keras_class = keras.initializers.HeUniform


@_register
class HeNormal(_PresetDraw, keras.initializers.HeNormal):  # type: ignore[misc]
    r"""``keras.initializers.HeNormal`` drawn by fastglorot.

    Truncated normal on ±2s, :math:`s = \sqrt{2/\text{fan\_in}}/0.8796\ldots`
    (scale 2, ``"fan_in"``, ``"truncated_normal"``); arguments as :class:`GlorotUniform`.
    """

    _keras_class = keras.initializers.HeNormal


@_register
class LecunUniform(_PresetDraw, keras.initializers.LecunUniform):  # type: ignore[misc]
    r"""``keras.initializers.LecunUniform`` drawn by fastglorot.

    U(-L, L) with :math:`L = \sqrt{3/\text{fan\_in}}` (scale 1, ``"fan_in"``,
    ``"uniform"``); arguments as :class:`GlorotUniform`.
    """

    _keras_class = keras.initializers.LecunUniform


@_register
class LecunNormal(_PresetDraw, keras.initializers.LecunNormal):  # type: ignore[misc]
    r"""``keras.initializers.LecunNormal`` drawn by fastglorot.

    Truncated normal on ±2s, :math:`s = \sqrt{1/\text{fan\_in}}/0.8796\ldots`
    (scale 1, ``"fan_in"``, ``"truncated_normal"``); arguments as :class:`GlorotUniform`.
    """

    _keras_class = keras.initializers.LecunNormal


@_register
class RandomUniform(_FastglorotInitializer, keras.initializers.RandomUniform):  # type: ignore[misc]
    """``keras.initializers.RandomUniform`` drawn by fastglorot: U(minval, maxval).

    Values lie strictly inside ``(minval, maxval)`` (fastglorot's uniform);
    ``minval == maxval`` gives ``minval``.

    Parameters
    ----------
    minval, maxval : float, default -0.05, 0.05
    seed : int, keras.random.SeedGenerator or None
        Module docstring, "Seed rule".
    """

    _keras_class = keras.initializers.RandomUniform
    minval: Any
    maxval: Any

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: Any = None) -> None:
        super().__init__(minval=minval, maxval=maxval, seed=seed)
        self._set_key()

    def _draw(self, shape: Tuple[int, ...], dtype: str) -> Optional[_Draw]:
        low, high = _real(self.minval), _real(self.maxval)
        if low is None or high is None or not _samples(fastglorot.uniform, dtype, low, high):
            return None
        return _Draw(fastglorot.uniform, fastglorot.uniform_, (low, high), {})


@_register
class RandomNormal(_FastglorotInitializer, keras.initializers.RandomNormal):  # type: ignore[misc]
    """``keras.initializers.RandomNormal`` drawn by fastglorot: N(mean, stddev²) (Box–Muller).

    Parameters
    ----------
    mean : float, default 0.0
    stddev : float, default 0.05
    seed : int, keras.random.SeedGenerator or None
        Module docstring, "Seed rule".
    """

    _keras_class = keras.initializers.RandomNormal
    mean: Any
    stddev: Any

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: Any = None) -> None:
        super().__init__(mean=mean, stddev=stddev, seed=seed)
        self._set_key()

    def _draw(self, shape: Tuple[int, ...], dtype: str) -> Optional[_Draw]:
        mean, std = _real(self.mean), _real(self.stddev)
        if mean is None or std is None or not _samples(fastglorot.normal, dtype, mean, std):
            return None
        return _Draw(fastglorot.normal, fastglorot.normal_, (mean, std), {})


@_register
class TruncatedNormal(_FastglorotInitializer, keras.initializers.TruncatedNormal):  # type: ignore[misc]
    """``keras.initializers.TruncatedNormal`` drawn by fastglorot.

    N(mean, stddev²) truncated to ``[mean - 2 stddev, mean + 2 stddev]``: the
    distribution of Keras' redraw-beyond-2-std rule, sampled by fastglorot's
    inverse CDF (one uniform per value).  ``stddev`` is the std of the
    untruncated normal, as in Keras.

    Parameters
    ----------
    mean : float, default 0.0
    stddev : float, default 0.05
    seed : int, keras.random.SeedGenerator or None
        Module docstring, "Seed rule".
    """

    _keras_class = keras.initializers.TruncatedNormal
    mean: Any
    stddev: Any

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: Any = None) -> None:
        super().__init__(mean=mean, stddev=stddev, seed=seed)
        self._set_key()

    def _draw(self, shape: Tuple[int, ...], dtype: str) -> Optional[_Draw]:
        mean, std = _real(self.mean), _real(self.stddev)
        if mean is None or std is None:
            return None
        bounds = (mean - 2.0 * std, mean + 2.0 * std)
        if not _samples(fastglorot.trunc_normal, dtype, mean, std, *bounds):
            return None
        return _Draw(fastglorot.trunc_normal, fastglorot.trunc_normal_, (mean, std, *bounds), {})
