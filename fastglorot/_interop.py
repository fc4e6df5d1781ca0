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
* :func:`load`: the same rule for every other use of an optional package
  (zarr output, ``--scheduler``, ``--config``): one ImportError naming every
  missing package and one command that installs them all.

Imports no framework: a function that needs one imports it when called (or
takes it from ``sys.modules``, where an object of that framework implies it
is loaded), so ``import fastglorot`` stays free of them.  Core modules may
import this one; it imports no adapter.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Dict, NamedTuple, Optional, Sequence, Tuple, Type, TypeVar, Union

from ._format.tables import SUPPORTED, torch_formats

if TYPE_CHECKING:
    import jax
    from numpy.typing import NDArray

__all__ = ["ARGUMENT_ERRORS", "EXTRAS", "PACKAGES", "PROVIDERS", "Refusal", "adopt_jax", "cuda_fills_available",
           "install_hint", "load", "missing", "probe", "require", "torch_refusal"]

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

PACKAGES = {
    "torch": "torch",
    "transformers": "transformers>=4.45",
}
"""Optional packages that no extra installs, with the requirement a hint names.

torch has no extra because the right build depends on the platform (the
hint links to pytorch.org); transformers (``--config``) at the version the
test extra pins (a test keeps them equal).
"""

PROVIDERS: Dict[str, Tuple[str, ...]] = {
    "torch": ("torch",),
    "transformers": ("transformers",),
    "jax": ("jax",),
    # Keras 3 needs a backend: the README installs jax with it (torch works too).
    "keras": ("keras", "jax"),
    "dask": ("dask",),
    "distributed": ("dask",),
    "zarr": ("dask",),
    "numba_cuda": ("cuda",),
}
"""Top-level module -> the extras (:data:`EXTRAS`) or packages (:data:`PACKAGES`) whose install provides it.

The one rule every hint follows, adapters and the command line alike: a
missing module is reported with ``install_hint(*PROVIDERS[module])``.
"""


def install_hint(*names: str) -> str:
    """The one command that installs the extras or packages ``names``, from a clone or an installed package alike.

    ``'python -m pip install "jax>=0.6" (in a fastglorot clone: python -m
    pip install ".[jax]")'``; ``install_hint("keras", "jax")`` installs both
    (``".[keras,jax]"`` in a clone); for ``"torch"`` (no extra: the right
    build depends on the platform), ``python -m pip install torch`` and where
    to pick that build.  The clone form is given only when every name is an
    extra.

    Parameters
    ----------
    *names : str
        Keys of :data:`EXTRAS` or :data:`PACKAGES`, at least one.
    """
    if not names:
        raise TypeError("install_hint() needs at least one extra or package name")
    requirements = [r for name in names for r in (EXTRAS[name] if name in EXTRAS else (PACKAGES[name],))]
    command = "python -m pip install " + " ".join(_quoted(r) for r in requirements)
    notes = []
    if "torch" in names:
        notes.append("pick torch's build for your platform: https://pytorch.org")
    if all(name in EXTRAS for name in names):
        notes.append(f'in a fastglorot clone: python -m pip install ".[{",".join(names)}]"')
    return command + "".join(f" ({note})" for note in notes)


def _quoted(requirement: str) -> str:
    """``requirement`` quoted for a shell where it needs it (``>``, ``[``): ``torch``, ``"jax>=0.6"``."""
    return requirement if re.fullmatch(r"[A-Za-z0-9._-]+", requirement) else f'"{requirement}"'


def missing(adapter: str, extra: Union[str, Sequence[str]], module: str) -> ImportError:
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
        The adapter's module name, for the message (``"fastglorot.dask"``),
        or what needs the module (``"a .zarr output"``).
    extra : str or sequence of str
        Its key(s) in :data:`EXTRAS` or :data:`PACKAGES`, as
        :data:`PROVIDERS` gives them.
    module : str
        The missing top-level module.
    """
    names = (extra,) if isinstance(extra, str) else tuple(extra)
    return ImportError(f"{adapter} needs {module}, which is not installed: {install_hint(*names)}")


def require(adapter: str, extra: str, module: str) -> None:
    """Raise :func:`missing`'s ImportError now if ``module`` is not installed; import nothing.

    ``importlib.util.find_spec`` finds a top-level module without executing
    it, so an adapter that loads its framework lazily still fails at import.
    """
    if _find_spec(module) is None:
        raise missing(adapter, extra, module)


def load(user: str, *modules: str) -> Tuple[ModuleType, ...]:
    """Import the optional top-level ``modules`` for ``user``, or raise one ImportError that says what to install.

    Every module that is not installed is named in one message, with one
    command that installs them all (:data:`PROVIDERS`): ``"a checkpoint from
    a config needs torch and transformers, which are not installed: python
    -m pip install torch "transformers>=4.45" (pick ...)"``.  A module that
    is installed but fails to import (a broken install) raises an
    ImportError that says so, with the original error.

    Parameters
    ----------
    user : str
        What needs them, in the user's terms (``"--scheduler"``, ``"a .zarr
        output"``).
    *modules : str
        Keys of :data:`PROVIDERS`.

    Returns
    -------
    tuple of module
        The imported modules, in order.
    """
    absent = [module for module in modules if _find_spec(module) is None]
    if absent:
        names = tuple(dict.fromkeys(name for module in absent for name in PROVIDERS[module]))
        which = "which is" if len(absent) == 1 else "which are"
        raise ImportError(f"{user} needs {' and '.join(absent)}, {which} not installed: {install_hint(*names)}")
    loaded = []
    for module in modules:
        try:
            loaded.append(importlib.import_module(module))
        except ImportError as error:
            raise ImportError(f"{user} needs {module}, which is installed but failed to import: {error}") from error
    return tuple(loaded)


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


def _functorch_wrapped(torch: Any, tensor: Any) -> bool:
    """Whether ``tensor`` is a ``torch.func`` wrapper (``grad``/``vmap``/``jvp`` levels): storage-less, the
    transform's own autograd and batching rules."""
    functorch = getattr(torch._C, "_functorch", None)
    return functorch is not None and bool(functorch.is_functorch_wrapped_tensor(tensor))


def torch_refusal(tensor: Any) -> Optional[Refusal]:
    """Why fastglorot cannot fill the torch tensor ``tensor`` in place, or None if it can.

    In order: not on the CPU or a CUDA GPU (CUDA needs numba-cuda), not dense (strided, not nested), quantized,
    not float32/float64/float16/bfloat16, a conjugate or negative bit, an
    inference tensor outside ``torch.inference_mode()``, a tensor of a
    ``torch.func`` transform.  The element layout
    (aliasing strides) is checked where the memory is viewed.  torch is
    taken from ``sys.modules``: a tensor implies it is loaded.
    """
    torch = sys.modules["torch"]
    if _functorch_wrapped(torch, tensor):
        return Refusal(TypeError, "out is a tensor inside a torch.func transform (grad, vmap, jvp, ...), which has "
                                  "no memory of its own to write; fill it outside the transform, or use torch's own "
                                  "function")
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
