"""What a CUDA array is: recognise device arrays and describe their memory.

The public functions ask :func:`is_cuda_array` about every output before
they view it as a CPU buffer (``_api.buffers``); a CUDA array goes to the GPU
fill (``_engines.cuda.fill_cuda``), which reads its shape, strides, dtype, address and
stream through :func:`describe`.  Nothing here imports ``numba.cuda``, and
nothing here launches anything: this module describes arrays, ``_engines.cuda``
runs the kernels on them.

Under numba-cuda's simulator (``NUMBA_ENABLE_CUDASIM=1``, set before
``numba.cuda`` is imported) its device arrays (``numba.cuda.to_device``,
``device_array``, ...) are CUDA arrays too: they expose only
``__array_interface__``, not ``__cuda_array_interface__``, so without this
module they would be filled as CPU buffers, and CI without a GPU would not
run the CUDA kernels.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from .._format.tables import SUPPORTED, numpy_format

__all__ = ["is_cuda_array", "simulator_enabled", "CudaMemory", "describe", "c_strides", "cuda_format",
           "memory_format"]

_DLPACK_CUDA_DEVICES = frozenset([2, 13])  # kDLCUDA, kDLCUDAManaged


def is_cuda_array(obj: object) -> bool:
    """Whether ``obj`` is an array in CUDA device memory, to be filled by ``_engines.cuda.fill_cuda``.

    True for objects with ``__cuda_array_interface__`` (numba device arrays,
    torch CUDA tensors, CuPy and JAX GPU arrays), objects whose
    ``__dlpack_device__()`` is a CUDA device (``kDLCUDA`` or
    ``kDLCUDAManaged``), and numba-cuda's device arrays, including the CUDA
    simulator's (which only expose ``__array_interface__``).  Imports
    nothing and never raises.

    Parameters
    ----------
    obj : object
        Any object a public function was given as ``out``.

    Returns
    -------
    bool
    """
    if isinstance(obj, np.ndarray):
        return False
    # numba's DeviceNDArray and the simulator's FakeCUDAArray mark their class.
    if getattr(type(obj), "__cuda_ndarray__", False) is True:
        return True
    try:
        if getattr(obj, "__cuda_array_interface__", None) is not None:
            return True
    except Exception:  # e.g. torch refuses tensors that require grad; DLPack may still say CUDA
        pass
    device = getattr(obj, "__dlpack_device__", None)
    if device is None:
        return False
    try:
        return int(device()[0]) in _DLPACK_CUDA_DEVICES
    except Exception:
        return False


def simulator_enabled() -> bool:
    """Whether numba-cuda's simulator is (or will be, once ``numba.cuda`` is imported) in use."""
    if "numba.cuda" in sys.modules:
        try:
            from numba.cuda.core import config  # numba-cuda
        except ImportError:
            from numba.core import config  # numba's own (deprecated) CUDA target
        return bool(getattr(config, "ENABLE_CUDASIM", 0))
    try:
        return int(os.environ.get("NUMBA_ENABLE_CUDASIM", "0") or 0) != 0
    except ValueError:
        return False


# -- the memory ----------------------------------------------------------------------------


class CudaMemory(NamedTuple):
    """An output as the kernels need it: where its elements are, and on which stream to write them."""

    shape: Tuple[int, ...]
    strides: Tuple[int, ...]
    """In bytes, signed."""
    dtype: np.dtype[Any]
    pointer: int
    """Address of element (0, ..., 0); 0 under the simulator."""
    readonly: bool
    stream: Optional[int]
    """The producer's stream (CUDA Array Interface), or None."""
    device: Optional[int]
    """Device ordinal, or None for the current device."""
    host: Optional[np.ndarray[Any, Any]]
    """The simulator's NumPy array behind a simulated device array."""


def c_strides(shape: Sequence[int], itemsize: int) -> Tuple[int, ...]:
    """C-order strides of ``shape`` in units of ``itemsize`` (a length-0 axis counts as length 1)."""
    strides = []
    step = itemsize
    for n in reversed(shape):
        strides.append(step)
        step *= max(int(n), 1)
    return tuple(reversed(strides))


def _dlpack_device(obj: object) -> Optional[int]:
    device = getattr(obj, "__dlpack_device__", None)
    if device is None:
        return None
    try:
        kind, ordinal = device()
    except Exception:
        return None
    return int(ordinal) if int(kind) in _DLPACK_CUDA_DEVICES else None


def describe(out: object, simulator: bool) -> CudaMemory:
    """Describe ``out``'s memory (checked: a CUDA array, unmasked)."""
    if simulator:
        host = getattr(out, "_ary", None)
        if getattr(type(out), "__cuda_ndarray__", False) is not True or not isinstance(host, np.ndarray):
            raise TypeError(f"out is a {type(out).__name__}: under the CUDA simulator (NUMBA_ENABLE_CUDASIM=1) "
                            "only the simulator's own device arrays (numba.cuda.to_device, device_array) "
                            "can be filled")
        return CudaMemory(host.shape, host.strides, host.dtype, 0, not host.flags.writeable, None, None, host)
    interface = None
    try:
        interface = getattr(out, "__cuda_array_interface__", None)
    except Exception:
        interface = None
    if interface is not None:
        if interface.get("mask") is not None:
            raise ValueError("out is a masked CUDA array (__cuda_array_interface__ 'mask'): not supported")
        dtype = np.dtype(interface["typestr"])
        own = getattr(out, "dtype", None)  # keeps ml_dtypes' bfloat16, which the interface calls '<V2'
        if isinstance(own, np.dtype) and own.str == dtype.str:
            dtype = own
        shape = tuple(int(n) for n in interface["shape"])
        strides = interface.get("strides")
        strides = c_strides(shape, dtype.itemsize) if strides is None else tuple(int(s) for s in strides)
        pointer, readonly = interface["data"]
        stream = interface.get("stream")
        device = _dlpack_device(out)
        if device is None:
            context = getattr(getattr(out, "gpu_data", None), "context", None)  # numba's DeviceNDArray
            device = getattr(getattr(context, "device", None), "id", None)
        return CudaMemory(shape, strides, dtype, int(pointer or 0), bool(readonly),
                       None if stream is None else int(stream), device, None)
    # DLPack only (e.g. a torch CUDA tensor that requires grad exposes no CUDA Array Interface).
    from cuda.core.utils import StridedMemoryView

    # stream 1: the legacy default stream, on which the kernels run; the producer orders its work before it.
    view = StridedMemoryView.from_dlpack(out, stream_ptr=1)
    if not view.is_device_accessible:
        raise TypeError(f"out ({type(out).__name__}) is not in device memory")
    dtype = np.dtype(view.dtype)
    shape = tuple(int(n) for n in view.shape)
    strides = (c_strides(shape, dtype.itemsize) if view.strides is None
               else tuple(int(s) * dtype.itemsize for s in view.strides))
    return CudaMemory(shape, strides, dtype, int(view.ptr), bool(view.readonly), None, int(view.device_id), None)


# -- shape and format ---------------------------------------------------------------------

def cuda_format(out: object) -> str:
    """The format of a CUDA array, from its dtype: ``"float32"``, ``"float64"``, ``"float16"`` or ``"bfloat16"``.

    bfloat16 is recognised from ml_dtypes' dtype (a numba device array of
    it); a CUDA Array Interface has no code for bfloat16, so a bfloat16
    tensor is passed as its 16-bit integer view with ``fmt="bfloat16"``
    given to ``_engines.cuda.fill_cuda``.

    Raises
    ------
    TypeError
        ``out`` is no CUDA array, or its dtype is no float format.
    """
    if not is_cuda_array(out):
        raise TypeError(f"out ({type(out).__name__}) is not a CUDA array")
    return memory_format(describe(out, simulator_enabled()))


def memory_format(memory: CudaMemory) -> str:
    """:func:`cuda_format` of an array already described (:func:`describe`)."""
    dtype = memory.dtype
    name = numpy_format(dtype)
    if name is None:
        raise TypeError(f"out must have dtype {SUPPORTED}, got {dtype} (a 16-bit integer view of float16 or "
                        "bfloat16 bits needs the format named explicitly)")
    return name
