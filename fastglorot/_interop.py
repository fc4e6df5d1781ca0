"""The adapters' shared toolkit: the steps ``fastglorot.jax``, ``.keras``, ``.dask`` and ``.torch`` take alike.

* :func:`adopt_jax`: a filled host buffer as a ``jax.Array``, zero-copy on a
  CPU device.
* :func:`probe`: the library's own argument checks, run on a tiny output
  before the real work (or the decision to leave a request to the framework).
* :func:`torch_refusal`: why a torch tensor cannot be filled in place, or
  None; the buffer views raise it, ``fastglorot.torch.supports`` falls back
  on it.
* :func:`missing` / :func:`require`: the one import rule of the adapters:
  importing an adapter whose framework is not installed raises ImportError
  at once, with an install command that works from a clone and from an
  installed package.

Imports no framework: a function that needs one imports it when called (or
takes it from ``sys.modules``, where an object of that framework implies it
is loaded), so ``import fastglorot`` stays free of them.  Core modules may
import this one; it imports no adapter.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Optional, Tuple, Type, TypeVar, Union

from ._formats import SUPPORTED, torch_formats

if TYPE_CHECKING:
    import jax
    from numpy.typing import NDArray

__all__ = ["ARGUMENT_ERRORS", "EXTRAS", "Refusal", "adopt_jax", "cuda_fills_available", "install_hint", "missing",
           "probe", "require", "torch_refusal"]

T = TypeVar("T")

ARGUMENT_ERRORS: Tuple[Type[Exception], ...] = (TypeError, ValueError)
"""What the library raises for arguments it refuses (README "Buffers, dtypes and arguments")."""

EXTRAS = {
    "dask": ("dask[array,distributed]>=2024.12", "zarr>=3"),
    "jax": ("jax>=0.6",),
    "keras": ("keras>=3.5",),
    "cuda": ("numba-cuda>=0.30",),
}
"""The requirements of each optional extra, as in ``pyproject.toml`` (a test keeps them equal).

Install hints name these requirements themselves, not ``fastglorot[extra]``:
the extra syntax needs fastglorot on a package index, which a clone is not.
"""


def install_hint(extra: str) -> str:
    """The command that installs ``extra``'s frameworks, from a clone or an installed package alike.

    ``'python -m pip install "jax>=0.6" (in a fastglorot clone: python -m
    pip install ".[jax]")'``; for ``"torch"`` (no extra: the right build
    depends on the platform), ``python -m pip install torch``.
    """
    if extra == "torch":
        return "python -m pip install torch (the build for your platform: https://pytorch.org)"
    requirements = " ".join(f'"{r}"' for r in EXTRAS[extra])
    return f'python -m pip install {requirements} (in a fastglorot clone: python -m pip install ".[{extra}]")'


def missing(adapter: str, extra: str, module: str) -> ImportError:
    """The ImportError of ``adapter`` when ``module`` (its framework) is not installed.

    The rule for every adapter (README "Usage"): ``import
    fastglorot.<adapter>`` fails at import, naming the install command, when
    its framework is missing.  Adapters that load the framework at import
    raise this from their ``import`` (for a ``ModuleNotFoundError`` of that
    module, not one from inside a broken install); ``fastglorot.dask``, which
    loads dask at first use, checks with :func:`require`.

    Parameters
    ----------
    adapter : str
        The adapter's module name, for the message (``"fastglorot.dask"``).
    extra : str
        Its key in :data:`EXTRAS` (or ``"torch"``).
    module : str
        The missing top-level module.
    """
    return ImportError(f"{adapter} needs {module}, which is not installed: {install_hint(extra)}")


def require(adapter: str, extra: str, module: str) -> None:
    """Raise :func:`missing`'s ImportError now if ``module`` is not installed; import nothing.

    ``importlib.util.find_spec`` finds a top-level module without executing
    it, so an adapter that loads its framework lazily still fails at import.
    """
    if _find_spec(module) is None:
        raise missing(adapter, extra, module)


def _find_spec(module: str) -> object:
    try:
        return importlib.util.find_spec(module)
    except (ImportError, ValueError):  # a parent package that fails, or a module without a spec
        return None


def adopt_jax(array: NDArray[Any]) -> jax.Array:
    """``array`` as a ``jax.Array`` on the default device, without a copy on a CPU device.

    ``jax.device_put(array, may_alias=True)``: the CPU device adopts a
    64-byte-aligned host buffer (fastglorot allocates those) as it is; a
    GPU/TPU default device gets one host-to-device copy.  A JAX without
    ``may_alias`` copies.
    """
    import jax

    try:
        adopted: jax.Array = jax.device_put(array, may_alias=True)
    except TypeError:  # pragma: no cover - JAX without may_alias
        adopted = jax.device_put(array)
    return adopted


def probe(function: Callable[..., T], tiny: object, *args: Any,
          refusals: Tuple[Type[Exception], ...] = ARGUMENT_ERRORS, **kwargs: Any) -> Union[T, Exception]:
    """``function(tiny, *args, **kwargs)``: whether the library accepts the arguments, asked of the library itself.

    An adapter that must know before the real work whether fastglorot takes
    a request (or fail early, on the caller's side) calls the real function
    on a tiny output instead of re-deriving its checks: the public functions
    check every argument before they look at the output's size, so a
    zero-element shape such as ``(0,)``, a one-element block, or a
    one-element buffer meets exactly the checks of the full-size call.

    Parameters
    ----------
    function : callable
        The library's function (an allocating function, a fill, or a closure
        over one).
    tiny : object
        Its first argument: a small shape or output buffer.
    *args, **kwargs
        Its other arguments.
    refusals : tuple of exception types, default (TypeError, ValueError)
        The exceptions that mean "refused"; others propagate.

    Returns
    -------
    object or Exception
        What ``function`` returned, or the refusal it raised (to test with
        ``isinstance(result, Exception)``, re-raise, or wrap).
    """
    try:
        return function(tiny, *args, **kwargs)
    except refusals as error:
        return error


class Refusal(NamedTuple):
    """Why a tensor cannot be filled in place: the exception class to raise and its message."""

    error: Type[Exception]
    """``TypeError`` for a tensor of the wrong kind, ``ValueError`` for one in the wrong state or place."""
    message: str


def cuda_fills_available() -> bool:
    """Whether CUDA arrays can be filled here: numba-cuda is installed (README "GPU")."""
    return _find_spec("numba_cuda") is not None


def torch_refusal(tensor: Any) -> Optional[Refusal]:
    """Why fastglorot cannot fill the torch tensor ``tensor`` in place, or None if it can.

    In order: not on the CPU or a CUDA GPU (CUDA needs numba-cuda), not dense (strided, not nested), quantized,
    not float32/float64/float16/bfloat16, a conjugate or negative bit, an
    inference tensor outside ``torch.inference_mode()``.  The element layout
    (aliasing strides) is checked where the memory is viewed.  torch is
    taken from ``sys.modules``: a tensor implies it is loaded.
    """
    torch = sys.modules["torch"]
    if tensor.device.type == "cuda" and not cuda_fills_available():
        return Refusal(ValueError, f"out is a torch tensor on device {tensor.device}; CUDA tensors are filled on "
                                   f"the GPU with numba-cuda, which is not installed: {install_hint('cuda')}")
    if tensor.device.type not in ("cpu", "cuda"):
        return Refusal(ValueError, f"out is a torch tensor on device {tensor.device}; only CPU and CUDA tensors "
                                   "can be filled in place (fill a CPU tensor, then copy it over)")
    if tensor.layout != torch.strided or getattr(tensor, "is_nested", False):
        return Refusal(TypeError, f"out must be a dense (strided) tensor, got layout {tensor.layout}")
    if tensor.is_quantized:
        return Refusal(TypeError, f"out must not be a quantized tensor, got dtype {tensor.dtype}")
    if tensor.dtype not in torch_formats(torch):
        return Refusal(TypeError, f"out must have dtype {SUPPORTED}, got {tensor.dtype}")
    if tensor.is_conj() or tensor.is_neg():
        # Writes through the raw memory would come out conjugated or negated.
        return Refusal(ValueError, "out has its conjugate or negative bit set; call resolve_conj()/resolve_neg() "
                                   "first")
    if tensor.is_inference() and not torch.is_inference_mode_enabled():
        # torch refuses in-place updates here: the tensor has no version
        # counter, so autograd could not notice the write.
        return Refusal(ValueError, "out is an inference tensor, which cannot be updated in place outside "
                                   "torch.inference_mode()")
    return None
