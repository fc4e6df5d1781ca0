"""Keras 3 initializers drawn by fastglorot.

Subclasses of Keras' random initializers (``VarianceScaling``,
``GlorotUniform``, ``GlorotNormal``, ``HeUniform``, ``HeNormal``,
``LecunUniform``, ``LecunNormal``, ``RandomUniform``, ``RandomNormal``,
``TruncatedNormal``) with Keras' own constructor arguments, defaults, checks,
error messages and ``get_config()``, registered for serialization as
``"fastglorot>ClassName"``.  Only ``__call__(shape, dtype=None)`` changes: it
draws with fastglorot's kernels and returns the backend's tensor::

    layer = keras.layers.Dense(512, kernel_initializer=fastglorot.keras.GlorotUniform(seed=3))

Notes
-----
Seed rule: an int ``seed=s`` is fastglorot seed ``s mod 2**64`` with stream
0 on every call; ``seed=None`` draws a 64-bit seed from OS entropy once per
instance; a ``keras.random.SeedGenerator`` gives each call seed ``s0 mod
2**32`` and stream ``s1 mod 2**32`` from its next state ``(s0, s1)``.

Fallback rule: dtypes other than float32, float64, float16 and bfloat16, and
argument values Keras accepts but fastglorot does not sample, go to the Keras
class's own ``__call__``, unchanged.

Stream format rule: keyword ``stream_format`` (1, 2, or ``None``: the current format), resolved when
the instance is made and kept in ``.stream_format``.  ``get_config()`` adds ``"stream_format": 2`` for
format 2 only (a format-1 config stays Keras' own); ``from_config`` reads a config without the key as
format 1, the format such configs were drawn in (a saved model rebuilds the same weights in any context).

README "Keras" has the fans, the class table, dtypes, backends (zero copy)
and serialization.  ``import fastglorot`` does not import Keras; this module
does.
"""

from __future__ import annotations

import inspect
import math
import operator
import secrets
from typing import Any, Callable, ClassVar, Dict, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from fastglorot._interop import PROVIDERS, adopt_jax, missing, probe

try:
    import keras
except ModuleNotFoundError as error:
    if error.name == "keras":
        raise missing(__name__, PROVIDERS["keras"], "keras") from None  # Keras with a backend, as README "Keras"
    # Keras is there; the backend KERAS_BACKEND names (default tensorflow) is not.
    raise ImportError(f"fastglorot.keras: Keras could not load its backend ({error}). Keras uses the "
                      "backend named by KERAS_BACKEND (default tensorflow): install it, or set "
                      "KERAS_BACKEND=jax or KERAS_BACKEND=torch before keras is imported") from None

import fastglorot
from fastglorot._api.stream_format import StreamFormat, resolve_stream_format
from fastglorot._format.tables import NAMES
from fastglorot._format.params import variance_draw

__all__ = [
    "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "LecunNormal",
    "RandomUniform", "RandomNormal", "TruncatedNormal",
]

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


def _finite_float(value: object) -> Optional[float]:
    """``float(value)`` for a finite real scalar (Python number, NumPy or backend scalar), else None.

    None sends the value to Keras' own draw (the fallback rule), without raising.
    """
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


_EMPTY = (0,)
"""The shape the samplers are probed with: they check every argument before the zero-element no-op (and do
not warn on it), so an empty draw is the check (``fastglorot._interop.probe``)."""


def _backend_dtype(dtype: str) -> str:
    """The dtype the backend's tensor will have: float64 is float32 on jax without x64."""
    if dtype == "float64" and keras.backend.backend() == "jax":
        import jax

        return str(np.dtype(jax.dtypes.canonicalize_dtype(np.float64)).name)
    return dtype


def _tensor(shape: Tuple[int, ...], dtype: str, draw: _Draw, seed: int, stream: int, stream_format: int) -> Any:
    """The backend tensor of ``draw``: zero-copy on jax's CPU device and for torch CPU tensors (README "Keras")."""
    backend = keras.backend.backend()
    kwargs = {"seed": seed, "stream": stream, "stream_format": stream_format, **draw.kwargs}
    if backend == "torch":
        import torch

        out = torch.empty(shape, dtype=getattr(torch, dtype))
        draw.fill(out, *draw.args, **kwargs)
        return keras.ops.convert_to_tensor(out)  # moves it to Keras' device; no copy on the CPU
    array = draw.allocate(shape, *draw.args, dtype=dtype, **kwargs)
    if backend == "jax":
        return adopt_jax(array)
    return keras.ops.convert_to_tensor(array, dtype=dtype)


_CONFIG_STREAM_FORMAT = 1  # a config without the key: format 1, or written before the key existed (< 0.6.0)


class _FastglorotInitializer:
    """The fastglorot ``__call__`` shared by the classes below (a mixin placed before the Keras class)."""

    _keras_class: ClassVar[Any]  # the Keras counterpart: its __call__ is the fallback
    _fastglorot_seed: Optional[int]  # None: keys come from a SeedGenerator
    _init_seed: Any  # set by Keras' RandomInitializer
    seed: Any  # Keras' resolved seed: an int or a SeedGenerator
    # README "Stream format": resolved by each constructor first (a bad value fails before Keras' constructor
    # runs), in the caller's context, then fixed.
    stream_format: int

    def get_config(self) -> Dict[str, Any]:
        """Keras' config, plus ``"stream_format"`` unless the format is 1 (a format-1 config is Keras' own)."""
        # mypy sees object here; at run time the next class in the MRO is the Keras initializer.
        config: Dict[str, Any] = super().get_config()  # type: ignore[misc]
        if self.stream_format != _CONFIG_STREAM_FORMAT:
            config["stream_format"] = self.stream_format
        return config

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> Any:
        """The instance ``config`` describes; no ``"stream_format"`` means format 1 (the stream format rule)."""
        config = {"stream_format": _CONFIG_STREAM_FORMAT, **config}
        return super().from_config(config)  # type: ignore[misc]

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
            others go to Keras' own draw (the fallback rule of :mod:`fastglorot.keras`).
        """
        try:
            name = keras.backend.standardize_dtype(keras.backend.floatx() if dtype is None else dtype)
        except (TypeError, ValueError):
            name = None
        # NAMES: the dtypes fastglorot draws, in Keras' standardized names (torch's too)
        if name not in NAMES:  # also None: a dtype Keras does not know
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
        return _tensor(shape, name, draw, seed, stream, self.stream_format)


class _VarianceScalingDraw(_FastglorotInitializer):
    """The draw of ``keras.initializers.VarianceScaling`` and its subclasses."""

    scale: Any
    mode: str
    distribution: str
    input_axes: Optional[Sequence[int]]
    output_axes: Optional[Sequence[int]]

    def _draw(self, shape: Tuple[int, ...], dtype: str) -> Optional[_Draw]:
        scale = _finite_float(self.scale)
        if scale is None or not scale > 0:
            return None
        fan_in, fan_out = _compute_fans(shape, getattr(self, "input_axes", None), getattr(self, "output_axes", None))
        # Keras' max(1.0, fan) rule; non-empty shapes have fans >= 1, so it equals max(1, n) for every mode.
        fan_in, fan_out = max(1, fan_in), max(1, fan_out)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        try:  # the draw fastglorot.variance_scaling will make, checked for this dtype
            variance_draw(scale, n, self.distribution, dtype)
        except ValueError:
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
                 output_axes: Optional[Sequence[int]] = None, *, stream_format: StreamFormat = None) -> None:
        self.stream_format = resolve_stream_format(stream_format)
        # mypy sees object.__init__ here; at run time the next class in the MRO is the Keras initializer.
        super().__init__(seed=seed, **_axes(input_axes, output_axes))  # type: ignore[call-arg]
        self._set_key()


@_register
class VarianceScaling(_VarianceScalingDraw, keras.initializers.VarianceScaling):  # type: ignore[misc]
    r"""``keras.initializers.VarianceScaling`` drawn by fastglorot.

    Draws with variance ``scale / n`` (``n`` from the fans and ``mode``, see
    README "Keras"): ``"uniform"``: U(-L, L),
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
        The seed rule of :mod:`fastglorot.keras`.
    input_axes, output_axes : list of int, optional
        Axes whose sizes multiply into ``fan_in`` and ``fan_out`` (both needed).
    stream_format : {1, 2}, optional, keyword-only
        README "Stream format"; the stream format rule of :mod:`fastglorot.keras`.
    """

    _keras_class = keras.initializers.VarianceScaling

    def __init__(self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal",
                 seed: Any = None, input_axes: Optional[Sequence[int]] = None,
                 output_axes: Optional[Sequence[int]] = None, *, stream_format: StreamFormat = None) -> None:
        self.stream_format = resolve_stream_format(stream_format)
        super().__init__(scale=scale, mode=mode, distribution=distribution, seed=seed,
                         **_axes(input_axes, output_axes))
        self._set_key()


@_register
class GlorotUniform(_PresetDraw, keras.initializers.GlorotUniform):  # type: ignore[misc]
    r"""``keras.initializers.GlorotUniform`` drawn by fastglorot.

    U(-L, L) with :math:`L = \sqrt{6/(\text{fan\_in} + \text{fan\_out})}`
    (scale 1, ``"fan_avg"``, ``"uniform"``); ``seed``, ``input_axes``,
    ``output_axes`` and ``stream_format`` as :class:`VarianceScaling`.
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
        The seed rule of :mod:`fastglorot.keras`.
    stream_format : {1, 2}, optional, keyword-only
        The stream format rule of :mod:`fastglorot.keras`.
    """

    _keras_class = keras.initializers.RandomUniform
    minval: Any
    maxval: Any

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: Any = None, *,
                 stream_format: StreamFormat = None) -> None:
        self.stream_format = resolve_stream_format(stream_format)
        super().__init__(minval=minval, maxval=maxval, seed=seed)
        self._set_key()

    def _draw(self, shape: Tuple[int, ...], dtype: str) -> Optional[_Draw]:
        low, high = _finite_float(self.minval), _finite_float(self.maxval)
        if low is None or high is None:
            return None
        if isinstance(probe(fastglorot.uniform, _EMPTY, low, high, dtype=dtype, seed=0), Exception):
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
        The seed rule of :mod:`fastglorot.keras`.
    stream_format : {1, 2}, optional, keyword-only
        The stream format rule of :mod:`fastglorot.keras`.
    """

    _keras_class = keras.initializers.RandomNormal
    mean: Any
    stddev: Any

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: Any = None, *,
                 stream_format: StreamFormat = None) -> None:
        self.stream_format = resolve_stream_format(stream_format)
        super().__init__(mean=mean, stddev=stddev, seed=seed)
        self._set_key()

    def _draw(self, shape: Tuple[int, ...], dtype: str) -> Optional[_Draw]:
        mean, std = _finite_float(self.mean), _finite_float(self.stddev)
        if mean is None or std is None:
            return None
        if isinstance(probe(fastglorot.normal, _EMPTY, mean, std, dtype=dtype, seed=0), Exception):
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
        The seed rule of :mod:`fastglorot.keras`.
    stream_format : {1, 2}, optional, keyword-only
        The stream format rule of :mod:`fastglorot.keras`.
    """

    _keras_class = keras.initializers.TruncatedNormal
    mean: Any
    stddev: Any

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: Any = None, *,
                 stream_format: StreamFormat = None) -> None:
        self.stream_format = resolve_stream_format(stream_format)
        super().__init__(mean=mean, stddev=stddev, seed=seed)
        self._set_key()

    def _draw(self, shape: Tuple[int, ...], dtype: str) -> Optional[_Draw]:
        mean, std = _finite_float(self.mean), _finite_float(self.stddev)
        if mean is None or std is None:
            return None
        bounds = (mean - 2.0 * std, mean + 2.0 * std)
        if isinstance(probe(fastglorot.trunc_normal, _EMPTY, mean, std, *bounds, dtype=dtype, seed=0), Exception):
            return None
        return _Draw(fastglorot.trunc_normal, fastglorot.trunc_normal_, (mean, std, *bounds), {})
