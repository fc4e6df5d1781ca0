"""fastglorot as torch's initialization backend.

Four ways to use it (README "torch"):

1. **Drop-in module.**  ``import fastglorot.torch as init`` works wherever
   ``import torch.nn.init as init`` did: same functions, signatures, defaults,
   argument checks and error messages; the random ones fill CPU tensors with
   fastglorot's parallel kernels, and CUDA tensors on their GPU when
   numba-cuda is installed (same bits; README "GPU"; without it, CUDA
   tensors stay with torch's own functions)::

       import fastglorot.torch as init
       init.xavier_uniform_(layer.weight, gain=init.calculate_gain("relu"))

2. **Switch for code you do not own.**  Inside :func:`fast_init` (or between
   :func:`enable` and :func:`disable`), every random fill that torch model
   code performs on the calling thread (``torch.nn.init.*``, also through
   references other libraries captured earlier, and ``Tensor.uniform_`` /
   ``Tensor.normal_`` such as Hugging Face's ``weight.data.normal_(0, std)``)
   is done by fastglorot::

       with fastglorot.torch.fast_init():
           model = transformers.AutoModelForCausalLM.from_config(config)

3. **Explicit calls** of :mod:`fastglorot`'s own functions on tensors
   (``fastglorot.glorot_uniform_(w, seed=7, stream="w")``): fastglorot's
   seeds and named streams instead of torch's generator.

4. **Name-addressed, sharding-invariant model init**: :func:`init_module`
   re-runs each submodule's init with every tensor drawn from the stream of
   its fully qualified name, and :func:`materialize` does it for models built
   on the ``meta`` device; ``DTensor`` shards (FSDP2, ``distribute_tensor``)
   are filled as blocks of their global tensor (README "Sharded and deferred
   initialization")::

       with torch.device("meta"):
           model = build_model()
       fastglorot.torch.materialize(model, seed=2024)

Seeding rule
    Each random fill takes a fresh 64-bit fastglorot key by drawing two
    32-bit words from a torch generator: ``generator=`` if given, else torch's
    default CPU generator.  So ``torch.manual_seed(s)`` makes a whole model's
    initialization reproducible, consecutive calls give different values, and
    ``generator=g`` after ``g.manual_seed(s)`` equals the default path after
    ``torch.manual_seed(s)``.  The values differ from torch's own (another
    generator); the distributions and scales are the same.

Fallback rule
    fastglorot fills a tensor only when :func:`supports` says so: a plain
    ``torch.Tensor`` or ``torch.nn.Parameter`` (no other subclass), on the
    CPU, dense (strided, not nested or quantized), of dtype float32, float64,
    float16 or bfloat16, whose elements do not alias one another (no zero
    strides), not an inference tensor outside ``torch.inference_mode()``, and
    not a tensor inside a ``torch.func`` transform.
    CUDA tensors qualify too where numba-cuda is installed (README "GPU").
    Everything else (MPS, meta, integer or complex dtypes, sparse
    tensors, DTensor and other subclasses, lazy parameters) goes to torch's
    own function, unchanged, so a model never breaks because the backend is
    on.  So do argument values fastglorot does not sample but torch accepts
    (a non-finite mean; for ``trunc_normal_``, ``std <= 0`` or ``a >= b``),
    and fills that autograd records (below).

Autograd rule
    The initializers fill under ``torch.no_grad()``, as ``torch.nn.init``'s:
    parameters that require grad are filled, nothing is recorded, the
    version counter moves.  ``Tensor.uniform_``/``normal_`` under
    :func:`fast_init` run in the caller's grad mode, as torch's: where
    autograd records the write (grad mode on and the tensor requires grad,
    or it carries a forward-mode tangent), torch's own method runs, so its
    checks, ``grad_fn`` and gradients are torch's by construction.

Stream format rule
    Every entry point that fills (the drop-ins, :func:`fast_init`,
    :func:`enable`, :func:`init_module`, :func:`materialize`) takes a
    keyword-only ``stream_format`` (README "Stream format": 1, the default,
    or 2, whose float32/float16/bfloat16 normal and truncated-normal values
    differ and are computed faster; uniform and float64 values are the same
    in both).  It is checked where the user calls, before anything is drawn
    or written; where torch fills (the fallback rule) it is checked and
    otherwise ignored.  ``None`` means the current format: that of the
    innermost :func:`fast_init`/:func:`enable` block on this thread that
    names one, else ``fastglorot.get_stream_format()``, so
    ``with fastglorot.stream_format(2):`` around (or inside a plain
    ``fast_init()`` around) model code applies to its fills.  The drop-ins
    read it at each call, ``fast_init()`` without a format at each fill it
    takes over, and :func:`init_module`/:func:`materialize` once, at the
    call: one format for the whole model, recorded in the report.

torch is imported by this module, not by ``import fastglorot``.
"""

from __future__ import annotations

from typing import Any

from .._interop import missing

try:
    import torch
except ModuleNotFoundError as error:
    if error.name != "torch":
        raise
    raise missing(__name__, "torch", "torch") from None

from ._nn_init import (
    FanMode,
    calculate_gain,
    constant_,
    dirac_,
    draw_seed,
    eye_,
    kaiming_normal_,
    kaiming_uniform_,
    normal_,
    ones_,
    orthogonal_,
    sparse_,
    supports,
    trunc_normal_,
    uniform_,
    xavier_normal_,
    xavier_uniform_,
    zeros_,
)
from ._modules import InitReport, init_module, materialize
from ._switch import FastInitMode, disable, enable, fast_init, is_enabled

__all__ = [
    # the random initializers of torch.nn.init, filled by fastglorot
    "uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
    "kaiming_normal_",
    # torch.nn.init's own, re-exported
    "calculate_gain", "constant_", "ones_", "zeros_", "eye_", "dirac_", "orthogonal_", "sparse_",
    # the switch
    "fast_init", "enable", "disable", "is_enabled", "FastInitMode",
    # name-addressed, sharding-invariant model initialization
    "init_module", "materialize", "InitReport",
    # the rules
    "supports", "draw_seed", "FanMode",
]


def __getattr__(name: str) -> Any:
    """Anything else of ``torch.nn.init`` (its deprecated aliases, private helpers
    such as ``_calculate_fan_in_and_fan_out`` that other libraries import)."""
    try:
        return getattr(torch.nn.init, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
