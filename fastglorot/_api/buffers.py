"""The caller's output buffers: writable NumPy views of host memory, or a CUDA array's description.

The CPU engines work on NumPy arrays.  The public functions accept any
writable host buffer (NumPy arrays, memmaps, torch CPU tensors, and objects
exposing ``__dlpack__``, ``__array_interface__``/``__array_struct__`` or the
buffer protocol) and fill it through a zero-copy NumPy view of its memory;
a CUDA array (``_engines.cuda_arrays.is_cuda_array``: torch CUDA tensors,
CuPy, numba device arrays) is recognised once, here, and carried as such to
the CUDA engine, which fills it on its GPU.
Nothing here ever copies: an object that cannot be viewed in place is
rejected before anything is written.  (One exception: a fill of a torch
tensor that autograd records goes through torch's ``copy_``; see
:func:`_torch_write`.)

float16 and bfloat16 outputs are viewed as 16-bit unsigned integers holding
the bits, so that the kernels never need a NumPy float16 or an ml_dtypes
bfloat16 dtype.  torch and ml_dtypes are never imported here: an object can
only be a torch tensor or an ml_dtypes array if its module is already loaded.
"""

from __future__ import annotations

import math
import sys
from typing import Any, Callable, NamedTuple, Optional, Tuple, cast

import numpy as np

from .._engines.cuda_arrays import CudaMemory, describe, is_cuda_array, memory_format, simulator_enabled
from .._format.tables import FORMATS, SUPPORTED, format_of, numpy_format, torch_formats
from .._interop import torch_refusal
from .._engines.memory import aligned_empty, check_no_self_overlap
from .._format.position import as_shape

__all__ = ["Output", "DeviceArray", "as_output", "allocate"]

# DLPack device types whose memory the CPU can write directly: kDLCPU,
# kDLCUDAHost (pinned) and kDLROCMHost (pinned).
_DLPACK_HOST_DEVICES = frozenset([1, 3, 11])
_DLPACK_DEVICE_NAMES = {
    2: "CUDA", 4: "OpenCL", 7: "Vulkan", 8: "Metal", 9: "VPI", 10: "ROCm", 12: "ExtDev",
    13: "CUDAManaged", 14: "OneAPI", 15: "WebGPU", 16: "Hexagon", 17: "MAIA",
}

_NUMPY_HAS_DLPACK_COPY = np.lib.NumpyVersion(np.__version__) >= "2.1.0"


class Output(NamedTuple):
    """A caller's buffer, ready for a fill kernel.

    Attributes
    ----------
    array : numpy.ndarray
        Writable view of the caller's memory (never a copy), with the
        caller's shape and strides.  float32 or float64 (either byte order)
        for those formats; uint16 holding the bits for float16 and bfloat16.
    format : str
        One of ``_format.tables.NAMES``.
    result : object
        What the public function returns: the caller's own object.
    finish : callable
        Call once after a successful write.  For torch tensors it bumps the
        autograd version counter, as an in-place torch op would; otherwise a
        no-op.
    """

    array: np.ndarray[Any, Any]
    format: str
    result: Any
    finish: Callable[[], None]
    device: str = "cpu"
    """``"cpu"``, or ``"cuda"``: then ``array`` is a :class:`DeviceArray` and the fill runs on the GPU."""


class DeviceArray(NamedTuple):
    """A CUDA output as the public functions see it: its shape and size, and the object ``_engines.cuda`` fills."""

    obj: Any
    """What the CUDA engine fills: the caller's array, or for a torch tensor its detached view
    (a 16-bit integer view for bfloat16 and float16, which the CUDA Array Interface cannot name)."""
    memory: CudaMemory
    """``obj``'s memory, described once here (``cuda_arrays.describe``) and carried to the engine."""
    shape: Tuple[int, ...]
    size: int
    nbytes: int


class CheckedTensor(NamedTuple):
    """A torch tensor that its adapter has checked already (``_interop.torch_refusal`` found nothing).

    ``fastglorot.torch`` decides whether it fills a tensor with one check
    (``torch._targets.plan``) and passes the tensor on wrapped in this, so
    that :func:`as_output` views it without checking it again.
    """

    tensor: Any
    format: str


def _nothing() -> None:
    pass


def _typed_view(array: np.ndarray[Any, Any]) -> Tuple[np.ndarray[Any, Any], str]:
    """``(view, format)``: float arrays as they are, 16-bit floats as their bits."""
    dtype = array.dtype
    name = numpy_format(dtype)
    if name is None:
        raise TypeError(f"out must have dtype {SUPPORTED}, got {dtype}")
    # 16-bit formats as their bits, in the array's byte order (each uint16 value is a float's bits).
    bits = FORMATS[name].bits_dtype
    return (array if bits.kind == "f" else array.view(bits.newbyteorder(dtype.byteorder))), name


def _finalize(array: np.ndarray[Any, Any], result: object, finish: Callable[[], None] = _nothing,
              format_: Optional[str] = None) -> Output:
    """Checks shared by all kinds of buffers, in the order users hit them."""
    if not array.flags.writeable:
        hint = ("a broadcast or stride-0 view (np.broadcast_to, .expand) can never be filled: allocate a real "
                "array" if 0 in array.strides and array.size > 1 else
                "fill a writable copy instead, e.g. out = out.copy(), or set out.flags.writeable = True "
                "if you own its memory")
        raise ValueError(f"out is read-only ({type(result).__name__}); {hint}")
    if format_ is None:
        array, format_ = _typed_view(array)
    check_no_self_overlap(array)
    return Output(array, format_, result, finish)


# -- torch --------------------------------------------------------------------

def _torch_format(out: Any, torch: Any, checked: Optional[str]) -> str:
    """The format of torch tensor ``out``, refused in the user's terms unless the caller checked it (``checked``)."""
    if checked is not None:
        return checked
    refusal = torch_refusal(out)
    if refusal is not None:
        raise refusal.error(refusal.message)
    return str(torch_formats(torch)[out.dtype])


def _torch_output(out: Any, torch: Any, checked: Optional[str] = None) -> Output:
    """A CPU tensor's view; ``checked``: its format, where the caller has run ``torch_refusal`` already."""
    format_ = _torch_format(out, torch, checked)
    tensor, finish = _torch_write(out, torch)
    as_bits = FORMATS[format_].bits_dtype.kind != "f"
    if as_bits:  # 16-bit formats as their bits (NumPy has no bfloat16); same-size views keep strides
        tensor = tensor.view(torch.int16)
    try:
        array = tensor.numpy()
    except (RuntimeError, TypeError) as error:  # e.g. tensor subclasses without storage
        raise TypeError(f"out cannot be viewed as a NumPy array: {error}") from None
    if as_bits:
        array = array.view(np.uint16)
    return _finalize(array, out, finish, format_)


def _autograd_records(out: Any, torch: Any) -> bool:
    """Whether autograd records an in-place write of ``out``: backward mode (grad mode on and ``out``
    requires grad) or forward mode (``out`` carries a tangent, which torch's fills zero even under no_grad)."""
    if torch.is_grad_enabled() and out.requires_grad:
        return True
    forward_ad = sys.modules.get("torch.autograd.forward_ad")  # loaded by torch; a tangent implies it
    return forward_ad is not None and forward_ad.unpack_dual(out).tangent is not None


def _torch_write(out: Any, torch: Any) -> Tuple[Any, Callable[[], None]]:
    """``(tensor, finish)``: the detached tensor a fill of the torch tensor ``out`` writes, and the
    ``Output.finish`` that makes autograd see the write as it sees torch's own ``Tensor.uniform_``.

    Where autograd records nothing (``torch.no_grad()``, ``torch.inference_mode()``, a tensor that does not
    require grad: every initializer in a module constructor), the fill writes ``out``'s own memory and
    bumps its version counter once, so saved tensors notice it.  Where it records the write (``out`` is part
    of a graph), the fill goes to a fresh tensor that torch's ``out.copy_`` then writes in: torch's own
    in-place checks (a leaf or a view of a leaf that requires grad, a view made under no_grad or by a
    multi-output op, ... raise torch's errors), one version bump, and ``out``'s ``grad_fn`` replaced
    (``CopySlices`` for views), so gradients through the overwritten values are zero, as for
    ``Tensor.uniform_``.  A failed fill leaves ``out`` and its graph untouched.
    """
    detached = out.detach()  # so that tensors requiring grad can be viewed
    if not _autograd_records(out, torch):
        def bump_version() -> None:
            increment = getattr(getattr(torch.autograd, "graph", None), "increment_version", None)
            if increment is not None:
                increment(out)

        return detached, bump_version
    if torch.is_grad_enabled() and out.requires_grad and (out._base if out._is_view() else out).is_leaf:
        # A leaf, or a view of one, that requires grad: torch refuses in-place writes.  This copy of
        # out onto itself raises torch's own error now, before a fill is computed in vain.
        out.copy_(detached)
    fresh = torch.empty(out.shape, dtype=out.dtype, device=out.device)

    def write_in() -> None:
        out.copy_(fresh)

    return fresh, write_in


def _torch_if_tensor(out: object) -> Any:
    """The torch module if ``out`` is a torch tensor (torch is never imported here)."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(out, getattr(torch, "Tensor", ())):
        return torch
    return None


# -- CUDA --------------------------------------------------------------------

def _cuda_output(out: Any, checked: Optional[str] = None) -> Output:
    """A CUDA array (``__cuda_array_interface__``, CUDA DLPack, numba device arrays, simulated ones too).

    The GPU fills it (``_engines.cuda.fill_cuda``); checks of dtype, layout and
    writability happen there, before anything is launched.
    """
    torch = _torch_if_tensor(out)
    finish = _nothing
    if torch is not None:
        format_ = _torch_format(out, torch, checked)
        obj, finish = _torch_write(out, torch)  # detached: one that requires grad exports no CUDA Array Interface
        if FORMATS[format_].bits_dtype.kind != "f":
            obj = obj.view(torch.int16)
    else:
        obj, format_ = out, ""
    memory = describe(obj, simulator_enabled())  # the one description of the array: the fill carries it
    format_ = format_ or memory_format(memory)
    size = math.prod(memory.shape)
    array = DeviceArray(obj, memory, memory.shape, size, size * FORMATS[format_].itemsize)
    return Output(cast(Any, array), format_, out, finish, "cuda")


# -- DLPack ------------------------------------------------------------------

def _dlpack_output(out: Any) -> Output:
    device = getattr(out, "__dlpack_device__", None)
    if device is None:
        raise TypeError(f"out ({type(out).__name__}) has __dlpack__ but no __dlpack_device__")
    device_type, device_id = device()
    device_type = int(device_type)
    if device_type not in _DLPACK_HOST_DEVICES:
        name = _DLPACK_DEVICE_NAMES.get(device_type, "unknown")
        raise ValueError(f"out lives on DLPack device type {device_type} ({name}, id {device_id}); "
                         "only CPU and CUDA memory can be filled in place (CUDA with numba-cuda installed)")
    legacy = not _NUMPY_HAS_DLPACK_COPY
    try:
        try:
            array = np.from_dlpack(out, copy=False) if _NUMPY_HAS_DLPACK_COPY else np.from_dlpack(out)
        except TypeError:
            # Exporters predating DLPack 1.0 reject the keyword arguments;
            # they cannot copy, so the plain call is zero-copy too.
            legacy = True
            array = np.from_dlpack(out)
    except (BufferError, RuntimeError, TypeError, ValueError) as error:
        message = str(error)
        if "read" in message.lower() and "only" in message.lower():
            raise ValueError(f"out is read-only: {message}") from None
        hint = " (NumPy cannot import bfloat16 through DLPack)" if "dtype" in message.lower() else ""
        raise TypeError(f"out ({type(out).__name__}) cannot be viewed through DLPack{hint}: {message}") from None
    if legacy and not array.flags.writeable:
        raise ValueError(f"out ({type(out).__name__}) exports DLPack without version 1.0 flags, which NumPy "
                         "imports read-only; pass a NumPy view of its memory instead")
    return _finalize(array, out)


# -- __array_interface__ and the buffer protocol -------------------------------

def _interface_output(out: Any) -> Output:
    try:
        array = np.asarray(out)
    except (TypeError, ValueError) as error:
        raise TypeError(f"out ({type(out).__name__}) cannot be viewed as a NumPy array: {error}") from None
    # NumPy never copies here, but a copy would silently fill the wrong
    # memory, so make sure: a copy owns its data and has its own address.
    interface = getattr(out, "__array_interface__", None)
    data = interface.get("data") if isinstance(interface, dict) else None
    copied = array.flags.owndata
    if isinstance(data, tuple) and array.size:
        copied = copied or array.__array_interface__["data"][0] != data[0]
    if copied:
        raise TypeError(f"out ({type(out).__name__}) could not be viewed without a copy")
    return _finalize(array, out)


def _buffer_output(out: Any) -> Output:
    try:
        view = memoryview(out)
    except TypeError:
        raise TypeError(f"out must be a writable buffer (NumPy array, tensor, or an object with "
                        f"__dlpack__, __array_interface__ or the buffer protocol), got {type(out).__name__}") from None
    try:
        array = np.asarray(view)
    except (TypeError, ValueError) as error:
        raise TypeError(f"out's buffer format {view.format!r} is not supported: {error}") from None
    return _finalize(array, out)


def as_output(out: object) -> Output:
    """A writable, zero-copy NumPy view of ``out`` for the fill kernels.

    Parameters
    ----------
    out : object
        A writable buffer of float32, float64, float16 or bfloat16
        elements: a CUDA array (:func:`_engines.cuda_arrays.is_cuda_array`,
        described once here and filled by the CUDA engine), a ``numpy.ndarray`` (any layout, strides or byte order,
        including ``np.memmap`` and ml_dtypes bfloat16 arrays), a torch CPU
        tensor (contiguous or not, requiring grad or not), or an object
        exposing ``__dlpack__``, ``__array_interface__``,
        ``__array_struct__`` or the buffer protocol.

    Returns
    -------
    Output

    Raises
    ------
    TypeError
        ``out`` is not a buffer (list, scalar, None, ...), cannot be viewed
        without a copy, or has an unsupported element type.
    ValueError
        ``out`` is read-only, lives on a non-CPU device (CUDA, meta, ...),
        has overlapping elements (a zero stride), or is a torch tensor with
        its conjugate or negative bit set.
    """
    if isinstance(out, np.ndarray):
        return _finalize(out, out)
    if isinstance(out, CheckedTensor):  # the torch adapter's tensors: checked once, there
        if out.tensor.device.type == "cuda":
            return _cuda_output(out.tensor, out.format)
        return _torch_output(out.tensor, sys.modules["torch"], out.format)
    if is_cuda_array(out):
        return _cuda_output(out)
    torch = _torch_if_tensor(out)
    if torch is not None:
        return _torch_output(out, torch)
    if out is None or isinstance(out, (str, list, tuple, int, float, complex, np.generic)):
        raise TypeError(f"out must be a writable buffer, got {type(out).__name__}")
    if hasattr(out, "__dlpack__"):
        return _dlpack_output(out)
    if hasattr(out, "__array_interface__") or hasattr(out, "__array_struct__"):
        return _interface_output(out)
    return _buffer_output(out)


# -- allocation ---------------------------------------------------------------

def allocate(shape: Any, dtype: object) -> np.ndarray[Any, Any]:
    """An uninitialized native-order array of ``shape`` and ``dtype``.

    Parameters
    ----------
    shape : int or sequence of int
        Non-negative integers (``torch.Size`` too).
    dtype : dtype-like
        A NumPy dtype (or name) of float32, float64, float16 or bfloat16;
        bfloat16 gives an ml_dtypes bfloat16 array.  The allocating functions
        return NumPy arrays: a torch dtype is rejected (fill a torch tensor
        in place instead).

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    TypeError
        A shape that is not integers, a torch dtype, or an unsupported dtype.
    ValueError
        A negative dimension, or more bytes than NumPy can address.
    MemoryError
        Not enough memory (the message names the shape, dtype and size).
    """
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(dtype, getattr(torch, "dtype", ())):
        raise TypeError(f"dtype={dtype} is a torch dtype, but the allocating functions return NumPy arrays; "
                        f"pass a NumPy dtype (e.g. {format_of(dtype)!r}), or fill a tensor in place: "
                        f"glorot_uniform_(torch.empty(shape, dtype={dtype}))")
    fmt = FORMATS[format_of(dtype)]
    return aligned_empty(as_shape("shape", shape), fmt.numpy_dtype(), fmt.name)
