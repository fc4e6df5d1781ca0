"""CUDA arrays through the public functions: the same dispatch and kernels as on a real GPU.

Under numba-cuda's simulator (``NUMBA_ENABLE_CUDASIM=1``, in a subprocess) a
numba device array exposes only ``__array_interface__``; the public
functions must still recognise it as a CUDA array and fill it with the CUDA
kernels (``_engines.cuda.fill_described``), never as a CPU buffer, recognising
and describing the array once.  Every fill is compared,
bit for bit, with the same call on a NumPy array.  ``tests/test_cuda_sim.py``
checks the kernels themselves in depth (offsets, layouts, every format).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

SCRIPT = r'''
import numpy as np, ml_dtypes
from numba import cuda
import fastglorot
from fastglorot._api import buffers as _buffers, sampling as _sampling
from fastglorot._engines import cuda as _cuda

launches = []
real_fill = _cuda.fill_described
def counting(out, memory, distribution, fmt, *args, **kwargs):
    launches.append((distribution, fmt))
    return real_fill(out, memory, distribution, fmt, *args, **kwargs)
_cuda.fill_described = counting  # sampling.fill imports it at each CUDA fill

# Each fill recognises its array once and describes its memory once (as_output), and carries both to the launch.
looks = {"is_cuda_array": 0, "describe": 0}
def counted(module, name):
    real = getattr(module, name)
    def wrapper(*args, **kwargs):
        looks[name] += 1
        return real(*args, **kwargs)
    setattr(module, name, wrapper)
for module in (_buffers, _cuda):
    counted(module, "is_cuda_array")
    counted(module, "describe")

CALLS = [
    ("uniform_", (-0.3, 0.7), {}),
    ("normal_", (0.1, 2.0), {}),
    ("trunc_normal_", (0.0, 1.0, -1.5, 2.5), {}),
    ("glorot_uniform_", (), {}),
    ("kaiming_normal_", (), {"nonlinearity": "relu"}),
    ("lecun_normal_", (), {}),
    ("variance_scaling_", (2.0, "fan_avg", "truncated_normal"), {}),
]
checked = 0
for dtype in (np.float32, np.float64, np.float16, ml_dtypes.bfloat16):
    for name, args, kwargs in CALLS:
        for shape, extra in [((3, 200), {"offset": 0}),
                             ((5, 40), {"global_shape": (9, 300), "global_offset": (2, 130)})]:
            if "offset" in extra and name not in ("uniform_", "normal_", "trunc_normal_"):
                extra = {}
            host = np.zeros(shape, dtype)
            device = cuda.to_device(host)
            before = len(launches)
            looks.update(is_cuda_array=0, describe=0)
            result = getattr(fastglorot, name)(device, *args, seed=11, stream="w", **kwargs, **extra)
            assert result is device and len(launches) == before + 1, (name, dtype)
            assert looks == {"is_cuda_array": 1, "describe": 1}, (name, dtype, looks)
            expected = getattr(fastglorot, name)(np.zeros(shape, dtype), *args, seed=11, stream="w", **kwargs,
                                                 **extra)
            got = device.copy_to_host()
            assert got.dtype == expected.dtype
            assert np.array_equal(got.view(np.uint8), expected.view(np.uint8)), (name, dtype, shape, extra)
            checked += 1
# A Fortran-ordered device array: the same values at the same logical positions.
host = np.asfortranarray(np.zeros((70, 9), np.float32))
device = cuda.to_device(host)
fastglorot.glorot_normal_(device, seed=3)
assert np.array_equal(device.copy_to_host(), fastglorot.glorot_normal((70, 9), seed=3))
# Errors in the user's terms, before a launch.
try:
    fastglorot.uniform_(cuda.to_device(np.zeros(4, np.int32)), seed=1)
except TypeError as error:
    assert "dtype" in str(error), error
else:
    raise AssertionError("an int32 device array was filled")
print("checked", checked + 1, "launches", len(launches))
'''


@pytest.mark.skipif(importlib.util.find_spec("numba_cuda") is None, reason="numba-cuda is not installed")
def test_simulated_device_arrays_take_the_cuda_path_with_the_cpu_bits():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", FASTGLOROT_NUMPY_MAX_BYTES="")  # CPU side: the NumPy path
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == ["checked", "57", "launches", "57"]


def test_a_cuda_array_interface_object_is_never_viewed_as_a_cpu_buffer():
    """An object that only says it lives on a GPU goes to the CUDA path (and names the install without it)."""
    import fastglorot
    from fastglorot._api import buffers as _buffers

    class OnGPU:
        __cuda_array_interface__ = {"shape": (4,), "typestr": "<f4", "data": (0, False), "version": 3}

    target = _buffers.as_output(OnGPU())
    assert target.device == "cuda" and target.format == "float32" and target.array.shape == (4,)
    if importlib.util.find_spec("numba_cuda") is None:
        with pytest.raises(ImportError, match="numba-cuda"):
            fastglorot.uniform_(OnGPU(), seed=0)
