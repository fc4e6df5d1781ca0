"""The initializer registry: one row per initializer, everything else derived.

:data:`INITIALIZERS` maps each initializer's name to an :class:`Initializer`
row: its own parameters, the variance scale, fan mode and distribution it
hands to the variance-scaling core, the formula and paper for its docstring,
and the names of its torch, JAX and Keras counterparts.  From the rows (and
the signatures of the samplers in ``_api.sampling``) ``_codegen`` generates
``fastglorot/_api/generated.py``: the in-place initializers, the allocating
twin of every sampler and initializer, and the ``Generator`` methods, as
plain typed Python that type checkers and ``help()`` read like hand-written
code.  Adding an initializer is one row here, then::

    python -m fastglorot._codegen        # rewrites fastglorot/_api/generated.py

``tests/test_registry.py`` fails when the generated file is stale, and checks
README's "Initializers" table against the rows.  Adapters (torch, Dask,
checkpoint specs, JAX, Keras) look initializers up by name with
:func:`get_initializer`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Tuple

__all__ = ["Parameter", "Initializer", "INITIALIZERS", "ALIASES", "SAMPLERS", "ROWS", "get_initializer"]


@dataclass(frozen=True)
class Parameter:
    """An initializer's own parameter (before the common keyword arguments)."""

    name: str
    annotation: str
    default: str
    doc: str
    keyword_only: bool = True


@dataclass(frozen=True)
class Initializer:
    """One registry row.

    ``scale``, ``mode`` and ``distribution`` are Python expressions over the
    row's (checked) parameters; the generated function passes their values
    to the variance-scaling core, which draws with variance ``scale / n``
    (``n`` the fan chosen by ``mode``).
    """

    name: str
    summary: str
    parameters: Tuple[Parameter, ...]
    scale: str
    mode: str
    distribution: str
    formula: str
    reference: str
    torch: str = ""
    jax: str = ""
    keras: str = ""
    aliases: Tuple[str, ...] = ()
    notes: str = ""
    table: str = ""
    """The distribution as README's "Initializers" table shows it."""

    @property
    def in_place(self) -> str:
        """Name of the in-place function (the allocating twin is :attr:`name`)."""
        return self.name + "_"


_GAIN = Parameter("gain", "float", "1.0", "Positive multiplier of the standard deviation.")
_A = Parameter("a", "float", "0.0", "Negative slope of the rectifier (``leaky_relu`` only).", keyword_only=False)
_KAIMING_MODE = Parameter("mode", "Mode", '"fan_in"', "Which fan ``n`` divides the variance: "
                          '``"fan_in"`` preserves forward activations, ``"fan_out"`` backward gradients.',
                          keyword_only=False)
_NONLINEARITY = Parameter("nonlinearity", "Nonlinearity", '"leaky_relu"',
                          "Gain from :func:`calculate_gain` (``\"relu\"``, ``\"leaky_relu\"``, ...).",
                          keyword_only=False)
_GLOROT = "X. Glorot and Y. Bengio, \"Understanding the difficulty of training deep feedforward neural " \
          "networks\", AISTATS 2010."
_HE = "K. He, X. Zhang, S. Ren and J. Sun, \"Delving deep into rectifiers: surpassing human-level " \
      "performance on ImageNet classification\", ICCV 2015."
_LECUN = "Y. LeCun, L. Bottou, G. Orr and K.-R. Mueller, \"Efficient BackProp\", Neural Networks: Tricks of " \
         "the Trade, 1998; G. Klambauer et al., \"Self-normalizing neural networks\", NeurIPS 2017."
_TRUNCATED = ("The truncated normal has standard deviation ``s / 0.87962566103423978`` before truncation "
              "at two of its own standard deviations, so the variance of the draw stays ``s**2``.")

ROWS = (
    Initializer(
        name="variance_scaling", table="general form: variance scale / n",
        summary="Samples of variance ``scale / n``: the general form every other initializer uses.",
        parameters=(
            Parameter("scale", "float", "1.0", "Positive variance scale (``gain**2`` in torch terms).", False),
            Parameter("mode", "Mode", '"fan_in"', "``n`` is ``fan_in``, ``fan_out`` or "
                      "``(fan_in + fan_out) / 2`` for ``\"fan_in\"``, ``\"fan_out\"``, ``\"fan_avg\"``; "
                      "``sqrt(fan_in * fan_out)`` for ``\"fan_geo_avg\"`` (JAX's).", False),
            Parameter("distribution", "Distribution", '"truncated_normal"',
                      "``\"uniform\"``: U(-L, L), ``L = sqrt(3 scale / n)``; ``\"normal\"`` (Keras: "
                      "``\"untruncated_normal\"``): N(0, scale / n); ``\"truncated_normal\"``: see Notes.", False),
        ),
        scale="scale", mode="mode", distribution="distribution",
        formula=r"\operatorname{Var}(w) = \frac{\mathrm{scale}}{n},\quad n \in "
                r"\{\mathrm{fan\_in},\ \mathrm{fan\_out},\ (\mathrm{fan\_in} + \mathrm{fan\_out})/2\}",
        reference="JAX ``jax.nn.initializers.variance_scaling``; Keras ``VarianceScaling``.",
        jax="variance_scaling", keras="VarianceScaling", notes=_TRUNCATED,
    ),
    Initializer(
        name="glorot_uniform", table="U(±b), b = gain·√(6/(fan_in+fan_out))",
        summary="Glorot/Xavier uniform: U(-b, b) with ``b = gain * sqrt(6 / (fan_in + fan_out))``.",
        parameters=(_GAIN,),
        scale="gain ** 2", mode='"fan_avg"', distribution='"uniform"',
        formula=r"w \sim U(-b, b),\quad b = \mathrm{gain}\sqrt{\frac{6}{\mathrm{fan\_in} + \mathrm{fan\_out}}}",
        reference=_GLOROT, torch="xavier_uniform_", jax="glorot_uniform", keras="GlorotUniform",
        aliases=("xavier_uniform",),
        notes="The variance ``b**2 / 3 = gain**2 * 2 / (fan_in + fan_out)`` equals :func:`glorot_normal_`'s.",
    ),
    Initializer(
        name="glorot_normal",
        table="N(0, σ²), σ = gain·√(2/(fan_in+fan_out)); JAX/Keras form: `truncated=True` (±2 of its own std, "
              "same variance)",
        summary="Glorot/Xavier normal: N(0, s**2) with ``s = gain * sqrt(2 / (fan_in + fan_out))``.",
        parameters=(_GAIN, Parameter("truncated", "bool", "False",
                                     "``False``: torch's ``xavier_normal_``; ``True``: JAX/Keras "
                                     "``glorot_normal`` (truncated at two standard deviations, see Notes).")),
        scale="gain ** 2", mode='"fan_avg"', distribution='"truncated_normal" if truncated else "normal"',
        formula=r"w \sim \mathcal{N}(0, s^2),\quad s = \mathrm{gain}"
                r"\sqrt{\frac{2}{\mathrm{fan\_in} + \mathrm{fan\_out}}}",
        reference=_GLOROT, torch="xavier_normal_", jax="glorot_normal",
        keras="GlorotNormal", aliases=("xavier_normal",), notes=_TRUNCATED,
    ),
    Initializer(
        name="kaiming_uniform", table="U(±gain·√(3/fan))",
        summary="He/Kaiming uniform as torch: U(-b, b) with ``b = gain * sqrt(3 / fan)``.",
        parameters=(_A, _KAIMING_MODE, _NONLINEARITY),
        scale="calculate_gain(nonlinearity, a) ** 2", mode="mode", distribution='"uniform"',
        formula=r"w \sim U(-b, b),\quad b = \mathrm{gain}\sqrt{\frac{3}{\mathrm{fan}}}",
        reference=_HE, torch="kaiming_uniform_",
    ),
    Initializer(
        name="kaiming_normal", table="N(0, gain²/fan)",
        summary="He/Kaiming normal as torch: N(0, s**2) with ``s = gain / sqrt(fan)``.",
        parameters=(_A, _KAIMING_MODE, _NONLINEARITY),
        scale="calculate_gain(nonlinearity, a) ** 2", mode="mode", distribution='"normal"',
        formula=r"w \sim \mathcal{N}(0, s^2),\quad s = \frac{\mathrm{gain}}{\sqrt{\mathrm{fan}}}",
        reference=_HE, torch="kaiming_normal_",
    ),
    Initializer(
        name="he_uniform", table="scale 2, fan_in, uniform",
        summary="He uniform (JAX/Keras): U(-b, b) with ``b = sqrt(6 / fan_in)``.",
        parameters=(), scale="2.0", mode='"fan_in"', distribution='"uniform"',
        formula=r"w \sim U(-b, b),\quad b = \sqrt{\frac{6}{\mathrm{fan\_in}}}",
        reference=_HE, jax="he_uniform", keras="HeUniform",
    ),
    Initializer(
        name="he_normal", table="scale 2, fan_in, truncated normal",
        summary="He normal (JAX/Keras): truncated normal of variance ``2 / fan_in``.",
        parameters=(), scale="2.0", mode='"fan_in"', distribution='"truncated_normal"',
        formula=r"\operatorname{Var}(w) = \frac{2}{\mathrm{fan\_in}},\quad |w| \le 2\,\frac{"
                r"\sqrt{2/\mathrm{fan\_in}}}{0.8796}",
        reference=_HE, jax="he_normal", keras="HeNormal", notes=_TRUNCATED,
    ),
    Initializer(
        name="lecun_uniform", table="scale 1, fan_in, uniform",
        summary="LeCun uniform (JAX/Keras): U(-b, b) with ``b = sqrt(3 / fan_in)``.",
        parameters=(), scale="1.0", mode='"fan_in"', distribution='"uniform"',
        formula=r"w \sim U(-b, b),\quad b = \sqrt{\frac{3}{\mathrm{fan\_in}}}",
        reference=_LECUN, jax="lecun_uniform", keras="LecunUniform",
    ),
    Initializer(
        name="lecun_normal", table="scale 1, fan_in, truncated normal",
        summary="LeCun normal (JAX/Keras): truncated normal of variance ``1 / fan_in``.",
        parameters=(), scale="1.0", mode='"fan_in"', distribution='"truncated_normal"',
        formula=r"\operatorname{Var}(w) = \frac{1}{\mathrm{fan\_in}},\quad |w| \le 2\,\frac{"
                r"\sqrt{1/\mathrm{fan\_in}}}{0.8796}",
        reference=_LECUN, jax="lecun_normal", keras="LecunNormal", notes=_TRUNCATED,
    ),
)
"""The registry rows, in order."""

INITIALIZERS: Mapping[str, Initializer] = {row.name: row for row in ROWS}
"""Every initializer by name (``"glorot_uniform"``, ...), in registry order."""

ALIASES: Mapping[str, str] = {alias: row.name for row in ROWS for alias in row.aliases}
"""Alternative names (``"xavier_uniform"`` -> ``"glorot_uniform"``)."""

SAMPLERS = ("uniform_", "normal_", "trunc_normal_")
"""The hand-written samplers (``_api.sampling``) that get allocating twins and Generator methods too."""


def get_initializer(name: str) -> Initializer:
    """The registry row of ``name`` (an initializer's name or alias, with or without a trailing ``_``).

    Raises
    ------
    KeyError
        For an unknown name; the message lists the known ones.
    """
    key = name[:-1] if isinstance(name, str) and name.endswith("_") else name
    key = ALIASES.get(key, key)
    if key not in INITIALIZERS:
        known = ", ".join(sorted([*INITIALIZERS, *ALIASES]))
        raise KeyError(f"unknown initializer {name!r}; known: {known}")
    return INITIALIZERS[key]
