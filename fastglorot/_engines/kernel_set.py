"""The kernels every engine builds, read off the format tables.

One kernel per distribution and format family (``_format.tables``): raw
words; each distribution's float32 and float64 draws; and its 16-bit outputs
(float16 and bfloat16 share one kernel, which takes the rounding's flag).
The numba CPU kernels (``_engines.kernels``), their NumPy twins
(``_engines.numpy_kernels``) and the CUDA kernels (``_engines.cuda_kernels``)
each build this set from :func:`kernel_specs`, with the drivers of their own
engine, so a new row of ``DISTRIBUTIONS`` or ``FORMATS`` reaches every engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

from .._format.tables import DISTRIBUTIONS, FORMATS, ROUNDINGS, Element

__all__ = ["KernelSpec", "kernel_name", "kernel_specs", "flag_roundings"]


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
    rounded : bool
        Whether the kernel writes the 16-bit bits of float32 draws (it takes
        the rounding's flag, ``Format.kernel_args``, after the parameters).
    """

    name: str
    distribution: str
    draw: str
    element: Element
    param_count: int
    rounded: bool

    @property
    def doc(self) -> str:
        """A kernel's docstring."""
        what = "raw stream words" if self.distribution == "bits" else \
            f"{self.distribution.replace('_', '-')} samples"
        if self.rounded:
            return f"float16 (or bfloat16) bits of the float32 {what}, into uint16 ``out``."
        return f"{self.draw} {what} into the rows of ``out``."


def kernel_name(distribution: str, fmt: str) -> str:
    """The name a fill's kernel has in every engine (``"bits"`` for raw words, whose ``fmt`` is ``"uint32"``)."""
    if distribution == "bits":
        return "fill_bits"
    return f"fill_{distribution}_{FORMATS[fmt].family}"


def kernel_specs() -> Tuple[KernelSpec, ...]:
    """Every kernel, in the tables' order."""
    specs = {}
    for distribution, row in DISTRIBUTIONS.items():
        for fmt in row.elements if distribution == "bits" else FORMATS:
            name = kernel_name(distribution, fmt)
            if name not in specs:
                spec = FORMATS.get(fmt)
                draw = spec.draw if spec is not None else fmt
                specs[name] = KernelSpec(name, distribution, draw, row.elements[draw], row.param_count,
                                         spec is not None and spec.rounding != "none")
    return tuple(specs.values())


def flag_roundings() -> Tuple[str, str]:
    """The element functions (``_format.stream_v1``) that the 16-bit kernels' rounding flag picks:
    ``(if False, if True)``, from the rows of ``ROUNDINGS``."""
    by_flag = {rounding.kernel_flag[0]: rounding.element for rounding in ROUNDINGS.values() if rounding.kernel_flag}
    return by_flag[False], by_flag[True]
