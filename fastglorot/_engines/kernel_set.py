"""The kernels every engine builds, read off the format tables.

One kernel per distribution and format family (``_format.tables``): raw
words; each distribution's float32 and float64 draws; and its 16-bit outputs
(float16 and bfloat16 share one kernel, which takes the rounding's flag).
Stream format 2 adds a kernel (named with ``_v2``) where its element differs
from format 1's; elsewhere both formats run the same kernel.
The numba CPU kernels (``_engines.kernels``), their NumPy twins
(``_engines.numpy_kernels``) and the CUDA kernels (``_engines.cuda_kernels``)
each build this set from :func:`kernel_specs`, with the drivers of their own
engine, so a new row of ``DISTRIBUTIONS`` or ``FORMATS`` reaches every engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Sequence, Tuple

import numpy as np

from .._format.elements import element_params
from .._format.tables import DEFAULT_STREAM_FORMAT, DISTRIBUTIONS, FORMATS, ROUNDINGS, STREAM_FORMATS, Element

__all__ = ["KernelSpec", "kernel_name", "kernel_specs", "kernel_params", "flag_roundings", "ELEMENT_GLOBALS",
           "element_globals"]

ELEMENT_GLOBALS: Dict[str, Tuple[str, ...]] = {
    "value": ("ELEMENT",), "pair": ("ELEMENT",), "normal_quantile": ("PROBABILITY", "VALUE"),
    "quantile": ("SPLIT", "CENTRAL", "IN_TAIL", "TAIL", "SIGNED", "VALUE")}
"""The globals through which every engine's converter templates of an ``Element.kind`` call its functions, in
the order of ``Element.functions`` (each engine binds them in its copies of the templates)."""


def element_globals(element: Element, functions: Sequence[Any]) -> Dict[str, Any]:
    """``{global name: function}`` for a template of ``element``'s kind, from its functions (an engine's copies,
    in ``element.functions``' order)."""
    return dict(zip(ELEMENT_GLOBALS[element.kind], functions, strict=True))


@dataclass(frozen=True)
class KernelSpec:
    """One kernel of the set.

    Attributes
    ----------
    name : str
        :func:`kernel_name`.
    distribution : str
        A key of ``DISTRIBUTIONS``.
    draw : str
        The dtype the element functions compute: ``"float32"``, ``"float64"``,
        or ``"uint32"`` for raw words.
    element : Element
        The distribution's element functions for ``draw``.
    param_count : int
        How many parameters the kernel takes.
    params_in_draw_dtype : bool
        Whether they are of the draw dtype (else float64).
    rounded : bool
        Whether the kernel writes the 16-bit bits of float32 draws (it takes
        the rounding's flag, ``Format.kernel_args``, after the parameters).
    """

    name: str
    distribution: str
    draw: str
    element: Element
    param_count: int
    params_in_draw_dtype: bool
    rounded: bool

    @property
    def doc(self) -> str:
        """A kernel's docstring."""
        what = "raw stream words" if self.distribution == "bits" else \
            f"{self.distribution.replace('_', '-')} samples"
        if self.rounded:
            return f"float16 (or bfloat16) bits of the float32 {what}, into uint16 ``out``."
        return f"{self.draw} {what} into the rows of ``out``."


def _draw(fmt: str) -> str:
    """The draw dtype of output ``fmt`` (``"uint32"`` for raw words)."""
    spec = FORMATS.get(fmt)
    return spec.draw if spec is not None else fmt


def kernel_name(distribution: str, fmt: str, stream_format: int = DEFAULT_STREAM_FORMAT) -> str:
    """The name a fill's kernel has in every engine (``"bits"`` for raw words, whose ``fmt`` is ``"uint32"``).

    Stream format 2's name ends in ``_v2`` where its element differs from format 1's.
    """
    if distribution == "bits":
        return "fill_bits"
    row = DISTRIBUTIONS[distribution]
    draw = _draw(fmt)
    suffix = "_v2" if row.element(draw, stream_format) != row.element(draw) else ""
    return f"fill_{distribution}_{FORMATS[fmt].family}{suffix}"


def kernel_specs() -> Tuple[KernelSpec, ...]:
    """Every kernel, in the tables' order (format 1's, then format 2's own)."""
    specs = {}
    for stream_format in STREAM_FORMATS:
        for distribution, row in DISTRIBUTIONS.items():
            for fmt in row.elements if distribution == "bits" else FORMATS:
                name = kernel_name(distribution, fmt, stream_format)
                if name not in specs:
                    spec = FORMATS.get(fmt)
                    element = row.element(_draw(fmt), stream_format)
                    specs[name] = KernelSpec(name, distribution, _draw(fmt), element,
                                             element.param_count or row.param_count,
                                             bool(element.params) or row.params_in_draw_dtype,
                                             spec is not None and spec.rounding != "none")
    return tuple(specs.values())


def kernel_params(distribution: str, fmt: str, stream_format: int, params: np.ndarray[Any, Any]
                  ) -> np.ndarray[Any, Any]:
    """The parameters the kernel of ``(distribution, fmt, stream_format)`` takes, from the distribution's
    (``_format.params``): the same array unless the element builds its own (``Element.params``)."""
    if distribution == "bits":
        return params
    return element_params(DISTRIBUTIONS[distribution].element(_draw(fmt), stream_format).params, params)


def flag_roundings() -> Tuple[str, str]:
    """The element functions (``_format.stream_v1``) that the 16-bit kernels' rounding flag picks:
    ``(if False, if True)``, from the rows of ``ROUNDINGS``."""
    by_flag = {rounding.kernel_flag[0]: rounding.element for rounding in ROUNDINGS.values() if rounding.kernel_flag}
    return by_flag[False], by_flag[True]
