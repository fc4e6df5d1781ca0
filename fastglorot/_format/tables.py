"""The tables of the stream format: output formats, their roundings, and the distributions.

Everything the package knows about float32, float64, float16 and bfloat16
lives in :data:`FORMATS`: sizes, the dtype samples are drawn in, the rounding
of the draw to the output, the NumPy dtype (ml_dtypes' bfloat16 loaded
lazily), the safetensors code, the torch name, the largest finite value and
the largest normal sample written as a finite value.  :data:`ROUNDINGS`
names each rounding's element function, :data:`DISTRIBUTIONS` each
distribution's parameter builder, parameter count and, per draw dtype, its
element functions (``_format.stream_v1``; where stream format 2 differs,
``_format.stream_v2``) with how they read a counter's words (:class:`Element`).  The engines build their kernels from these tables: adding
a format means adding one row (a new rounding: one row of :data:`ROUNDINGS`
and its element function; a new draw dtype: its kernels); adding a
distribution, one row of :data:`DISTRIBUTIONS` and its element functions.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

__all__ = ["Format", "FORMATS", "NAMES", "SUPPORTED", "format_of", "torch_formats", "Rounding", "ROUNDINGS",
           "Element", "ELEMENT_KINDS", "Distribution", "DISTRIBUTIONS", "KERNEL_DISTRIBUTIONS", "STREAM_FORMATS",
           "DEFAULT_STREAM_FORMAT"]

STREAM_FORMATS: Tuple[int, ...] = (1, 2)
"""The stream formats (README "Stream format"): 2 differs from 1 only in the rows' ``elements_v2``."""

DEFAULT_STREAM_FORMAT = 1
"""The format fills use unless told otherwise."""


@dataclass(frozen=True)
class Rounding:
    """How a float32 draw becomes a 16-bit output (or ``"none"``: written as drawn).

    Attributes
    ----------
    name : str
        ``"none"``, ``"float16"`` or ``"bfloat16"``.
    element : str
        The element function of ``_format.stream_v1`` giving the output's bits
        (``""`` for ``"none"``).
    kernel_flag : tuple
        What the 16-bit kernels take after the parameters to pick it
        (``bfloat16``: True or False); empty for ``"none"``.
    """

    name: str
    element: str
    kernel_flag: Tuple[Any, ...]


ROUNDINGS: Dict[str, Rounding] = {r.name: r for r in (
    Rounding("none", "", ()),
    Rounding("float16", "round_float16", (False,)),
    Rounding("bfloat16", "round_bfloat16", (True,)),
)}


ELEMENT_KINDS = ("value", "pair", "normal_quantile", "quantile")
"""How an element function turns a counter's words into outputs (:class:`Element`)."""


@dataclass(frozen=True)
class Element:
    """How one draw dtype of a distribution turns Philox words into outputs.

    Every engine's driver follows these fields alone, so a distribution is a
    row of :data:`DISTRIBUTIONS` plus its element functions: no engine code
    names a distribution.  A counter's four words ``x0 .. x3`` make ``4 /
    words`` outputs (its lanes, README "Stream format"); lane ``j`` reads
    words ``words*j .. words*j + words - 1``.

    Attributes
    ----------
    kind : str
        One of :data:`ELEMENT_KINDS`:

        * ``"value"``: ``functions[0](*lane_words, params) -> value``, one output per lane;
        * ``"pair"``: ``functions[0](*words_of_lanes_2p_and_2p1, params) -> (value_2p, value_2p1)``,
          two lanes from one call (Box–Muller's cosine and sine);
        * ``"normal_quantile"``: ``functions[0](*lane_words, params) -> signed`` (a probability
          ``p``, negative for ``-(1 - P)``), then ``functions[1](z, params) -> value`` with
          ``z = sign(signed) * Phi^-1(|signed|)`` by the format's AS 241 (``_format.stream_v1``);
          the CPU tiles take the quantile's costly tail branch only where it is needed;
        * ``"quantile"``: an inverse CDF with its own pieces, ``functions = (split, central,
          in_tail, tail, signed, value)``: ``q, p = split(*lane_words, params)``; ``z =
          central(q)`` where ``not in_tail(q)``, else ``signed(q, tail(p, params))``; the
          output is ``value(z, params)`` (stream format 2's float32 truncated normal).
    words : int
        Words per output: 1 (32-bit outputs, float32 draws) or 2 (float64 draws).
    functions : tuple of str
        The element functions (``_format.elements``).
    params : str
        ``""``: the functions take the distribution's parameters; else the
        host function (``_format.elements.element_params``) that turns them
        into the functions' own, of the draw dtype.
    param_count : int
        How many parameters ``params`` makes (0 with ``params == ""``).
    """

    kind: str
    words: int
    functions: Tuple[str, ...]
    params: str = ""
    param_count: int = 0

    @property
    def lanes(self) -> int:
        """Outputs per counter."""
        return 4 // self.words

    @property
    def values(self) -> int:
        """Outputs per call of ``functions[0]``."""
        return 2 if self.kind == "pair" else 1


@dataclass(frozen=True)
class Distribution:
    """One distribution of the fills.

    Attributes
    ----------
    name : str
        The kernel name's distribution part (``fill_<name>_<family>``).
    params : str
        The function of ``_format.params`` that checks the caller's arguments and
        builds the kernels' parameters (``""``: raw words take none).
    param_count : int
        How many parameters the kernels take.
    params_in_draw_dtype : bool
        Whether the parameters are of the draw dtype (else float64).
    elements : dict
        The :class:`Element` of each draw dtype (``"float32"``, ``"float64"``;
        ``"uint32"`` for raw words) in stream format 1.  The element functions
        take the parameters as one sequence, in ``params``' order.
    elements_v2 : dict
        The draw dtypes whose elements stream format 2 changes, and their
        :class:`Element` there; every other draw is format 1's.
    """

    name: str
    params: str
    param_count: int
    params_in_draw_dtype: bool
    elements: Mapping[str, Element]
    elements_v2: Mapping[str, Element] = field(default_factory=dict)

    def element(self, draw: str, stream_format: int = DEFAULT_STREAM_FORMAT) -> Element:
        """The :class:`Element` of draw dtype ``draw`` in ``stream_format``."""
        if stream_format == 2 and draw in self.elements_v2:
            return self.elements_v2[draw]
        return self.elements[draw]


DISTRIBUTIONS: Dict[str, Distribution] = {d.name: d for d in (
    Distribution("bits", "", 1, False, {"uint32": Element("value", 1, ("raw_word",))}),
    Distribution("uniform", "uniform_params", 4, True, {
        "float32": Element("value", 1, ("uniform_f32",)),
        "float64": Element("value", 2, ("uniform_f64",))}),
    Distribution("normal", "normal_params", 2, True, {
        "float32": Element("pair", 1, ("normal_pair_f32",)),
        "float64": Element("pair", 2, ("normal_pair_f64",))},
        {"float32": Element("pair", 1, ("normal_pair_f32_v2",))}),
    Distribution("truncated_normal", "truncated_params", 7, False, {
        "float32": Element("normal_quantile", 1, ("truncated_probability_f32", "truncated_f32")),
        "float64": Element("normal_quantile", 2, ("truncated_probability_f64", "truncated_f64"))},
        {"float32": Element("quantile", 1, ("truncated_split_f32", "quantile_central_f32", "in_tail_f32",
                                            "quantile_tail_f32", "signed_tail_f32", "truncated_value_f32"),
                            "truncated_params_f32", 11)}),
)}

KERNEL_DISTRIBUTIONS: Tuple[str, ...] = tuple(name for name in DISTRIBUTIONS if name != "bits")
"""The distributions of float outputs (every one but raw words), in the package's order."""


@dataclass(frozen=True)
class Format:
    """One output format.

    Attributes
    ----------
    name : str
        The format's name, also its NumPy/torch dtype name.
    itemsize : int
        Bytes per element.
    draw : str
        The dtype samples are computed in: float16 and bfloat16 round a
        float32 draw (README "Stream format").
    rounding : str
        How the draw becomes the output (a key of :data:`ROUNDINGS`):
        ``"none"``, or ``"float16"``/``"bfloat16"`` for 16-bit bits rounded
        from a float32 draw.
    safetensors : str
        The safetensors dtype code.
    numpy_native : bool
        Whether NumPy itself has the dtype (bfloat16 comes from ml_dtypes,
        which ``.npy`` readers and zarr do not know).
    max : float
        The largest finite value.
    normal_limit : float
        The largest ``|mean + std * z|`` (exact) that a fill writes as a
        finite value: ``max`` for float32/float64; for the 16-bit formats the
        largest float32 below the rounding midpoint to inf.
    tiny : float
        The smallest positive (subnormal) value; magnitudes up to half of it
        round to 0.
    """

    name: str
    itemsize: int
    draw: str
    rounding: str
    safetensors: str
    numpy_native: bool
    max: float
    normal_limit: float
    tiny: float

    @property
    def family(self) -> str:
        """The kernels filling it: the draw dtype's, or ``"half"`` for 16-bit bits rounded from a float32 draw."""
        return self.draw if self.rounding == "none" else "half"

    @property
    def kernel_args(self) -> Tuple[Any, ...]:
        """The family's kernels' arguments after the parameters: the rounding's flag."""
        return ROUNDINGS[self.rounding].kernel_flag

    @property
    def torch_name(self) -> str:
        """The ``torch`` attribute naming this dtype."""
        return self.name

    @property
    def draw_dtype(self) -> type:
        """The NumPy scalar type samples are computed in."""
        return np.float64 if self.draw == "float64" else np.float32

    @property
    def bits_dtype(self) -> np.dtype[Any]:
        """The dtype the kernels write (the 16-bit formats as their uint16 bits)."""
        return np.dtype(np.uint16) if self.rounding != "none" else np.dtype(self.name)

    def numpy_dtype(self) -> np.dtype[Any]:
        """The NumPy dtype of allocated arrays (bfloat16 from ml_dtypes, imported here)."""
        if self.numpy_native:
            return np.dtype(self.name)
        try:
            import ml_dtypes
        except ImportError:
            raise ImportError("bfloat16 arrays need the ml_dtypes package (pip install ml_dtypes)") from None
        return np.dtype(ml_dtypes.bfloat16)  # type: ignore[no-any-return]


_F32_MAX = float(np.finfo(np.float32).max)
_F64_MAX = float(np.finfo(np.float64).max)

FORMATS: Dict[str, Format] = {fmt.name: fmt for fmt in (
    Format("float32", 4, "float32", "none", "F32", True, _F32_MAX, _F32_MAX, 2.0**-149),
    Format("float64", 8, "float64", "none", "F64", True, _F64_MAX, _F64_MAX, 2.0**-1074),
    # float16's largest finite value is 65504; float32 values up to the one below 65520 round to it.
    Format("float16", 2, "float32", "float16", "F16", True, float(np.finfo(np.float16).max),
           float(np.nextafter(np.float32(65520.0), np.float32(0.0))), 2.0**-24),
    # bfloat16 is float32's top half: largest finite bits 0x7F7F; float32 values below 0x7F7F8000
    # (the tie with inf, which rounds to even: inf) stay finite.
    Format("bfloat16", 2, "float32", "bfloat16", "BF16", False, float(np.uint32(0x7F7F0000).view(np.float32)),
           float(np.uint32(0x7F7F7FFF).view(np.float32)), 2.0**-133),
)}

NAMES: Tuple[str, ...] = tuple(FORMATS)
"""The format names, in the package's order."""

SUPPORTED = ", ".join(NAMES[:-1]) + " or " + NAMES[-1]
"""The names as a message lists them."""


def _is_bfloat16(dtype: np.dtype[Any]) -> bool:
    """ml_dtypes' bfloat16, recognised by its scalar type's name: ml_dtypes is never imported here.

    Not ``sys.modules["ml_dtypes"].bfloat16``: while another thread is still
    importing ml_dtypes, the module is in ``sys.modules`` before it has that
    attribute (the race #28 found for the kernels' module).
    """
    return dtype.kind == "V" and dtype.type.__module__ == "ml_dtypes" and dtype.type.__name__ == "bfloat16"


def numpy_format(dtype: np.dtype[Any]) -> Optional[str]:
    """The format of a NumPy dtype (either byte order), or None."""
    if dtype.kind == "f" and dtype.itemsize in (2, 4, 8):
        return f"float{8 * dtype.itemsize}"
    return "bfloat16" if _is_bfloat16(dtype) else None


def torch_formats(torch: Any) -> Dict[Any, str]:
    """torch dtype -> format name (``torch`` is the caller's module: never imported here)."""
    return {getattr(torch, fmt.torch_name): fmt.name for fmt in FORMATS.values()}


def format_of(dtype: object) -> str:
    """The format named by a dtype-like object.

    Parameters
    ----------
    dtype : dtype-like or torch.dtype
        Anything ``numpy.dtype`` accepts that means a supported float type
        (``np.float32``, ``"float16"``, ``ml_dtypes.bfloat16``, ...), the
        string ``"bfloat16"`` (also without ml_dtypes loaded), or a torch
        dtype.

    Returns
    -------
    str
        One of :data:`NAMES`.

    Raises
    ------
    TypeError
        For any other type, including None.
    """
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(dtype, getattr(torch, "dtype", ())):
        torch_format = torch_formats(torch).get(dtype)
        if torch_format is None:
            raise TypeError(f"dtype must be {SUPPORTED}, got {dtype}")
        return torch_format
    if isinstance(dtype, str) and dtype in FORMATS:  # "bfloat16" also without ml_dtypes loaded
        return dtype
    if dtype is None:  # numpy.dtype(None) would mean float64
        raise TypeError(f"dtype must be {SUPPORTED}, got None")
    try:
        numpy_dtype = np.dtype(dtype)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise TypeError(f"dtype must be {SUPPORTED}, got {dtype!r}") from None
    name = numpy_format(numpy_dtype)
    if name is None:
        raise TypeError(f"dtype must be {SUPPORTED}, got {numpy_dtype}")
    return name
