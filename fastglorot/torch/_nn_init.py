"""The drop-in ``torch.nn.init`` functions: torch's signatures and checks, fastglorot's fills.

See :mod:`fastglorot.torch` for the seeding, fallback and stream format rules.
Each random initializer takes torch's arguments, in torch's order, plus the
keyword-only ``stream_format``, checked before anything else happens.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any, Callable, Literal, Optional, Tuple

import torch

import fastglorot
from fastglorot import Nonlinearity

from .._format.params import normal_fits
from .._format.tables import FORMATS, torch_formats
from ._targets import Plan, Target, addressing, draw_seed, fill_format, local_block, plan, resolve, supports

if TYPE_CHECKING:
    from torch import Generator, Tensor

__all__ = [
    "uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
    "kaiming_normal_", "calculate_gain", "constant_", "ones_", "zeros_", "eye_", "dirac_", "orthogonal_", "sparse_",
    "supports", "draw_seed", "FanMode",
]

# torch.nn.init's functions that fastglorot has no faster way to run: the
# deterministic fills and the two that need a QR decomposition or a random
# permutation.  Re-exported (the same objects), so behaviour and errors are
# torch's by construction.
calculate_gain = torch.nn.init.calculate_gain
constant_ = torch.nn.init.constant_
ones_ = torch.nn.init.ones_
zeros_ = torch.nn.init.zeros_
eye_ = torch.nn.init.eye_
dirac_ = torch.nn.init.dirac_
orthogonal_ = torch.nn.init.orthogonal_
sparse_ = torch.nn.init.sparse_

FanMode = Literal["fan_in", "fan_out"]

_ZERO_ELEMENTS = "Initializing zero-element tensors is a no-op"


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


# -- the fills --------------------------------------------------------------------
# Each checks its arguments with torch's own code first: the same call on a
# zero-element tensor of the same dtype raises exactly torch's errors (bounds
# order, values outside the dtype's range, negative std) and draws nothing.
# Zero-element tensors themselves go to torch too: nothing to fill, so no key
# is drawn from the generator (and under fast_init() the check's own call,
# which the mode sees, ends there instead of recursing).

def _fill(tensor: Tensor, checked: Optional[Plan], generator: Optional[Generator], stream_format: int,
          sample: Callable[..., Any], torch_fill: Callable[[], Tensor], *params: float) -> Tensor:
    """``sample(out, *params, seed=, stream=, ..., stream_format=)`` on the target of ``tensor`` (``checked``: its
    ``plan``), or ``torch_fill()``."""
    names = addressing()
    if names is not None:
        names.touched(tensor)
    target = None if checked is None else resolve(tensor, checked, generator)
    if target is None:  # in the caller's grad mode: the drop-ins' no_grad, Tensor.uniform_'s own under fast_init()
        return torch_fill()
    if isinstance(target, Target):
        sample(target.out, *params, seed=target.seed, stream=target.stream, global_shape=target.global_shape,
               global_offset=target.global_offset, stream_format=stream_format)
    return tensor


def _fill_uniform(tensor: Tensor, a: float, b: float, generator: Optional[Generator],
                  checked: Optional[Plan], stream_format: int) -> Tensor:
    if checked is not None:
        torch.empty(0, dtype=tensor.dtype).uniform_(a, b)
    return _fill(tensor, checked, generator, stream_format, fastglorot.uniform_,
                 lambda: tensor.uniform_(a, b, generator=generator), float(a), float(b))


_FORMATS = torch_formats(torch)


def _overflows(dtype: torch.dtype, mean: float, std: float) -> bool:
    """Whether samples of N(mean, std**2) could round to inf in ``dtype`` (fastglorot's normal_ refuses those)."""
    fmt = _FORMATS.get(dtype)
    if fmt is None:
        return False
    largest = FORMATS[fmt].max
    return abs(mean) <= largest and 0 <= std <= largest and not normal_fits(fmt, mean, std)


def _fill_normal(tensor: Tensor, mean: float, std: float, generator: Optional[Generator],
                 checked: Optional[Plan], stream_format: int) -> Tensor:
    if checked is not None:
        torch.empty(0, dtype=tensor.dtype).normal_(mean, std)
        # torch fills with inf/nan; fastglorot samples finite values only (and refuses arguments whose
        # samples could overflow the dtype), so those calls keep torch's behaviour.
        if not _finite(mean, std) or _overflows(tensor.dtype, float(mean), float(std)):
            return tensor.normal_(mean, std, generator=generator)
    return _fill(tensor, checked, generator, stream_format, fastglorot.normal_,
                 lambda: tensor.normal_(mean, std, generator=generator), float(mean), float(std))


def _fans(tensor: Tensor) -> Tuple[int, int]:
    """torch's fan rule: ``fastglorot.compute_fans`` with layout "torch" (torch's error for < 2 dimensions)."""
    return fastglorot.compute_fans(tuple(tensor.shape), layout="torch")


def _correct_fan(tensor: Tensor, mode: str) -> int:
    """torch's ``_calculate_correct_fan``: same case folding and error."""
    mode = mode.lower()
    valid_modes = ["fan_in", "fan_out"]
    if mode not in valid_modes:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid_modes}")
    fan_in, fan_out = _fans(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _initialize(fill: Callable[..., Tensor], tensor: Tensor, *args: Any) -> Tensor:
    """``fill(tensor, *args)`` as torch.nn.init fills: under ``torch.no_grad()``.

    So a leaf parameter that requires grad is filled (outside no_grad, torch
    refuses in-place writes to it), autograd records nothing (a non-leaf
    keeps its ``grad_fn``, exactly as with ``torch.nn.init``), and the version
    counter is bumped once.  ``Tensor.uniform_``/``normal_`` under
    :func:`fast_init` call the fills in the caller's own grad mode instead.
    """
    with torch.no_grad():
        return fill(tensor, *args)


# -- torch.nn.init's random initializers ------------------------------------------

def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Optional[Generator] = None, *,
             stream_format: Optional[int] = None) -> Tensor:
    r"""Fill ``tensor`` with values from :math:`\mathcal{U}(a, b)` (``torch.nn.init.uniform_``).

    Parameters
    ----------
    tensor : torch.Tensor
        Filled in place (under ``torch.no_grad()``) and returned.
    a, b : float
        Bounds, ``a <= b``.
    generator : torch.Generator, optional
        The generator the fastglorot key is drawn from (module docstring,
        "Seeding rule").
    stream_format : {1, 2} or None, keyword-only
        The stream format (README "Stream format"); None: the current one
        (module docstring, "Stream format rule").  Checked first: a bad value
        raises TypeError/ValueError before anything is drawn or written.
        Uniform values are the same in both formats.  Ignored where torch
        fills (the fallback rule).

    Notes
    -----
    Values lie strictly inside ``(a, b)`` (fastglorot's uniform: midpoints of
    ``2**24`` cells for float32, ``2**53`` for float64).
    """
    chosen = fill_format(stream_format)
    if torch.overrides.has_torch_function_variadic(tensor):
        return torch.overrides.handle_torch_function(uniform_, (tensor,), tensor=tensor, a=a, b=b,
                                                     generator=generator, stream_format=chosen)
    checked = plan(tensor)  # the one check of the tensor, carried to the fill
    if checked is None:
        return torch.nn.init.uniform_(tensor, a, b, generator)
    return _initialize(_fill_uniform, tensor, a, b, generator, checked, chosen)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Optional[Generator] = None, *,
            stream_format: Optional[int] = None) -> Tensor:
    r"""Fill ``tensor`` with values from :math:`\mathcal{N}(\text{mean}, \text{std}^2)` (``torch.nn.init.normal_``).

    Box–Muller from fastglorot's Philox streams; arguments as
    :func:`uniform_`.  ``stream_format=2`` gives format 2's values for
    float32, float16 and bfloat16 tensors (computed in float32, faster);
    float64 values are the same in both formats.
    """
    chosen = fill_format(stream_format)
    if torch.overrides.has_torch_function_variadic(tensor):
        return torch.overrides.handle_torch_function(normal_, (tensor,), tensor=tensor, mean=mean, std=std,
                                                     generator=generator, stream_format=chosen)
    checked = plan(tensor)  # the one check of the tensor, carried to the fill
    if checked is None:
        return torch.nn.init.normal_(tensor, mean, std, generator)
    return _initialize(_fill_normal, tensor, mean, std, generator, checked, chosen)


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator: Optional[Generator] = None, *, stream_format: Optional[int] = None) -> Tensor:
    r"""Fill ``tensor`` with :math:`\mathcal{N}(\text{mean}, \text{std}^2)` truncated to ``[a, b]``.

    Same signature and distribution as ``torch.nn.init.trunc_normal_``;
    ``a`` and ``b`` are absolute bounds.  fastglorot samples by inverse CDF
    (one uniform per value, exact far in the tails), so torch's warning that
    its rejection method degrades when the mean is more than 2 std from
    ``[a, b]`` does not apply and is not raised.  ``std <= 0``, ``a >= b``
    and non-finite arguments go to torch's own function.  ``stream_format``
    as :func:`uniform_`; format 2 changes float32, float16 and bfloat16
    values, not float64.
    """
    chosen = fill_format(stream_format)
    checked = plan(tensor)  # the one check of the tensor, carried to the fill
    if not (checked is not None and _finite(mean, std, a, b) and std > 0 and a < b):
        return torch.nn.init.trunc_normal_(tensor, mean, std, a, b, generator=generator)
    with torch.no_grad():
        return _fill(tensor, checked, generator, chosen, fastglorot.trunc_normal_,
                     lambda: torch.nn.init.trunc_normal_(tensor, mean, std, a, b, generator=generator),
                     float(mean), float(std), float(a), float(b))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Optional[Generator] = None, *,
                    stream_format: Optional[int] = None) -> Tensor:
    r"""Xavier/Glorot uniform (``torch.nn.init.xavier_uniform_``).

    :math:`\mathcal{U}(-a, a)`, :math:`a = \text{gain}\sqrt{6/(\text{fan\_in} + \text{fan\_out})}`,
    fans by torch's rule (``shape[1]·∏shape[2:]``, ``shape[0]·∏shape[2:]``).
    ``stream_format`` as :func:`uniform_` (checked; same values in both formats).
    """
    chosen = fill_format(stream_format)
    checked = plan(tensor)  # the one check of the tensor, carried to the fill
    if checked is None:
        return torch.nn.init.xavier_uniform_(tensor, gain, generator)
    fan_in, fan_out = _fans(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    return _initialize(_fill_uniform, tensor, -a, a, generator, checked, chosen)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Optional[Generator] = None, *,
                   stream_format: Optional[int] = None) -> Tensor:
    r"""Xavier/Glorot normal (``torch.nn.init.xavier_normal_``).

    :math:`\mathcal{N}(0, \text{std}^2)`, :math:`\text{std} = \text{gain}\sqrt{2/(\text{fan\_in} + \text{fan\_out})}`.
    ``stream_format`` as :func:`normal_`.
    """
    chosen = fill_format(stream_format)
    checked = plan(tensor)  # the one check of the tensor, carried to the fill
    if checked is None:
        return torch.nn.init.xavier_normal_(tensor, gain, generator)
    fan_in, fan_out = _fans(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return _initialize(_fill_normal, tensor, 0.0, std, generator, checked, chosen)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: Nonlinearity) -> Optional[float]:
    """torch's Kaiming ``gain / sqrt(fan_mode)``, or None (with torch's warning) for a zero-element tensor."""
    if 0 in tensor.shape:
        warnings.warn(_ZERO_ELEMENTS, stacklevel=3)  # at the caller of kaiming_*_, as torch's
        return None
    return calculate_gain(nonlinearity, a) / math.sqrt(_correct_fan(tensor, mode))


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: FanMode = "fan_in",
                     nonlinearity: Nonlinearity = "leaky_relu", generator: Optional[Generator] = None, *,
                     stream_format: Optional[int] = None) -> Tensor:
    r"""Kaiming/He uniform (``torch.nn.init.kaiming_uniform_``).

    :math:`\mathcal{U}(-\text{bound}, \text{bound})`,
    :math:`\text{bound} = \text{gain}\sqrt{3/\text{fan\_mode}}`, ``gain =
    calculate_gain(nonlinearity, a)``.  Zero-element tensors warn and are
    returned untouched, as in torch.  ``stream_format`` as :func:`uniform_`
    (checked; same values in both formats).
    """
    chosen = fill_format(stream_format)
    if torch.overrides.has_torch_function_variadic(tensor):
        return torch.overrides.handle_torch_function(kaiming_uniform_, (tensor,), tensor=tensor, a=a, mode=mode,
                                                     nonlinearity=nonlinearity, generator=generator,
                                                     stream_format=chosen)
    checked = plan(tensor)  # the one check of the tensor, carried to the fill
    if checked is None:
        return torch.nn.init.kaiming_uniform_(tensor, a, mode, nonlinearity, generator)
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return _initialize(_fill_uniform, tensor, -bound, bound, generator, checked, chosen)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: FanMode = "fan_in",
                    nonlinearity: Nonlinearity = "leaky_relu", generator: Optional[Generator] = None, *,
                    stream_format: Optional[int] = None) -> Tensor:
    r"""Kaiming/He normal (``torch.nn.init.kaiming_normal_``).

    :math:`\mathcal{N}(0, \text{std}^2)`, :math:`\text{std} = \text{gain}/\sqrt{\text{fan\_mode}}`.
    ``stream_format`` as :func:`normal_`.
    """
    chosen = fill_format(stream_format)
    checked = plan(tensor)  # the one check of the tensor, carried to the fill
    if checked is None:
        return torch.nn.init.kaiming_normal_(tensor, a, mode, nonlinearity, generator)
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    return _initialize(_fill_normal, tensor, 0.0, std, generator, checked, chosen)
