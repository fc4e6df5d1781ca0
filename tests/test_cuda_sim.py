"""The CUDA kernels (``fastglorot._engines.cuda_kernels``) against the CPU fills, bit for bit.

CI has no GPU: :func:`test_simulator` runs :func:`checks` in a subprocess
under numba-cuda's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1`` must be set
before ``numba.cuda`` is imported), which runs the kernels' Python source
thread by thread, with the kernels' explicit IEEE operations as NumPy
float32/float64 operations.  Sizes are small but cross tile boundaries (a
tile is 512 words: 512 float32/16-bit elements, 256 float64).
:func:`test_real_gpu` runs the same checks on a GPU where there is one, and
:func:`test_ptx` compiles every kernel for sm_90 (no GPU needed, but NVVM and
NVRTC: the ``nvidia-nvvm`` and ``nvidia-cuda-nvrtc`` wheels) and checks the
PTX for contracted or approximate float arithmetic.

The CPU reference is the public functions on NumPy arrays, through the NumPy
path (bit-identical to the numba kernels: tests/test_numpy_path.py), so the
subprocess compiles no CPU kernel.  Run by hand:
``NUMBA_ENABLE_CUDASIM=1 python tests/test_cuda_sim.py sim``.
"""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import pytest

HERE = Path(__file__).resolve()
REPO = HERE.parents[1]

needs_numba_cuda = pytest.mark.skipif(importlib.util.find_spec("numba_cuda") is None,
                                      reason="numba-cuda is not installed (pip install 'fastglorot[cuda]')")


def _run(mode: str, timeout: float, simulator: bool) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["NUMBA_ENABLE_CUDASIM"] = "1" if simulator else "0"
    # The CPU reference takes the NumPy path (no CPU kernel to compile in the subprocess).
    env["FASTGLOROT_NUMPY_MAX_BYTES"] = str(1 << 40)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p])
    return subprocess.run([sys.executable, str(HERE), mode], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=str(REPO))


def _check_output(result: subprocess.CompletedProcess[str]) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "checks passed" in result.stdout, output[-6000:]


# -- in the test process: no numba.cuda ----------------------------------------------------


def test_is_cuda_array_imports_nothing() -> None:
    """``is_cuda_array`` answers for CPU buffers without importing numba.cuda (or numba)."""
    code = ("import sys, numpy as np, array; import fastglorot\n"
            "from fastglorot._engines.cuda_arrays import is_cuda_array\n"
            "class Interface:\n"
            "    __cuda_array_interface__ = {'shape': (1,), 'typestr': '<f4', 'data': (0, False), 'version': 3}\n"
            "class Raises:\n"
            "    @property\n"
            "    def __cuda_array_interface__(self): raise RuntimeError('requires grad')\n"
            "    def __dlpack_device__(self): return (2, 0)\n"
            "class Host:\n"
            "    def __dlpack_device__(self): return (1, 0)\n"
            "assert not is_cuda_array(np.zeros(3)) and not is_cuda_array(array.array('f', [1.0]))\n"
            "assert not is_cuda_array(memoryview(b'ab')) and not is_cuda_array(Host()) and not is_cuda_array(None)\n"
            "assert is_cuda_array(Interface()) and is_cuda_array(Raises())\n"
            "assert 'numba.cuda' not in sys.modules and 'numba' not in sys.modules, sorted(sys.modules)\n"
            "print('ok')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=str(REPO))
    assert result.returncode == 0 and "ok" in result.stdout, result.stdout + result.stderr


def test_plan_merges_axes() -> None:
    """Rows of consecutive global indices from shapes, strides and blocks (``_engines.cuda.plan``)."""
    from fastglorot._engines.cuda import plan
    from fastglorot._format.position import resolve_position

    # A C-contiguous array is one row.
    p = plan((4, 5, 30), (150, 30, 1), resolve_position((4, 5, 30), 7, None, None), 512)
    assert p.geometry == (0, 7, 1, 600, 1) and p.span == 600 and p.work == 128 * 3  # 600 elements touch <= 3 tiles
    p = plan((4, 30), (30, 1), resolve_position((4, 30), 7, None, None), 512)
    assert p.work == 120  # a row shorter than 128: one work item per element
    # F order: rows of the last axis, far apart in memory.
    p = plan((3, 4), (1, 3), resolve_position((3, 4), 0, None, None), 512)
    assert p.geometry == (0, 0, 3, 4, 3) and p.outer_n[-1] == 3 and p.outer_g[-1] == 4 and p.outer_s[-1] == 1
    # A block of whole rows merges into one run; a column block is rows of its width.
    p = plan((5, 64), (64, 1), resolve_position((5, 64), 0, (20, 64), (3, 0)), 256)
    assert p.geometry == (0, 192, 1, 320, 1)
    p = plan((9, 50), (50, 1), resolve_position((9, 50), 0, (30, 1100), (3, 1000)), 512)
    assert p.geometry == (0, 4300, 1, 50, 9) and p.outer_g[-1] == 1100 and p.work == 9 * 50
    # Trailing axes of length 1: rows of one element.
    p = plan((12, 1), (1, 1), resolve_position((12, 1), 0, (40, 30), (3, 7)), 512)
    assert p.geometry == (0, 97, 0, 1, 12) and p.outer_g[-1] == 30
    # Negative strides: the span starts at the lowest address.
    p = plan((4, 3), (-3, -1), resolve_position((4, 3), 0, None, None), 512)
    assert p.lowest == -11 and p.span == 12 and p.geometry[0] == 11
    with pytest.raises(ValueError, match="cannot be merged"):
        shape = (2,) * 10
        strides = tuple(3**k for k in range(10))  # no two axes merge
        plan(shape, strides, resolve_position(shape, 0, None, None), 512)


# -- the kernels ----------------------------------------------------------------------------------


@needs_numba_cuda
def test_simulator() -> None:
    """Every distribution x format, offsets, blocks and layouts on the CUDA simulator equal the CPU fills."""
    _check_output(_run("sim", timeout=300, simulator=True))


@needs_numba_cuda
def test_real_gpu() -> None:
    """The same checks on a real GPU (skipped without one)."""
    probe = subprocess.run([sys.executable, "-c", "from numba import cuda; print(cuda.is_available())"],
                           capture_output=True, text=True, timeout=300, env={**os.environ, "NUMBA_ENABLE_CUDASIM": "0"})
    if probe.stdout.strip() != "True":
        pytest.skip("no CUDA GPU")
    _check_output(_run("gpu", timeout=600, simulator=False))


@needs_numba_cuda
def test_ptx() -> None:
    """The kernels compile for sm_90 without fused, approximate or flush-to-zero float arithmetic."""
    result = _run("ptx", timeout=300, simulator=False)
    if result.returncode == 3:
        pytest.skip(result.stdout.strip().splitlines()[-1])
    _check_output(result)


# -- the checks (run in the subprocess) -----------------------------------------------------------

SEED, STREAM = 0xC0FFEE_1234_5678, "layers.0.weight"
WRAP4, WRAP8 = 1 << 34, 1 << 33  # global index where a counter's low word wraps (4-, 8-byte elements)
LIMIT = 1 << 62


class _Interface:
    """A strided view of a numba device array as a bare ``__cuda_array_interface__`` (as CuPy and torch export)."""

    def __init__(self, parent: Any, host: np.ndarray, index: Any) -> None:
        view = host[index]
        offset = view.__array_interface__["data"][0] - host.__array_interface__["data"][0]
        self.parent = parent
        self.__cuda_array_interface__ = {
            "shape": view.shape, "strides": view.strides, "typestr": view.dtype.str, "version": 3,
            "data": (parent.__cuda_array_interface__["data"][0] + offset, False), "stream": None}


def checks(mode: str) -> None:
    """Compare CUDA fills with CPU fills; raise AssertionError listing every mismatch."""
    import time
    import warnings

    import ml_dtypes
    from numba import cuda

    import fastglorot
    from fastglorot._engines import cuda as _cuda, cuda_arrays as _cuda_arrays
    from fastglorot._format.params import normal_params, truncated_params, uniform_params
    from fastglorot._api.sampling import locate
    from fastglorot._validate import key_stream_words

    warnings.simplefilter("error", RuntimeWarning)  # NumPy overflow in the simulated kernels would be a bug
    assert _cuda_arrays.simulator_enabled() == (mode == "sim")
    started = time.perf_counter()
    failures: List[str] = []
    counts = {"fills": 0, "elements": 0}

    np_dtypes = {"float32": np.dtype(np.float32), "float64": np.dtype(np.float64),
                 "float16": np.dtype(np.float16), "bfloat16": np.dtype(ml_dtypes.bfloat16),
                 "uint32": np.dtype(np.uint32)}
    bits_of = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}

    Case = Tuple[str, Tuple[float, ...]]
    cases: Dict[str, List[Case]] = {
        # "@2": stream format 2 (its own kernels for float32 and the 16-bit formats)
        "float32": [("uniform", (-1.0, 2.0)), ("normal", (0.5, 2.0)), ("truncated_normal", (0.0, 1.0, -2.0, 2.0)),
                    ("truncated_normal", (0.0, 1.0, 7.0, 9.0)), ("normal@2", (0.5, 2.0)),
                    ("truncated_normal@2", (0.0, 1.0, -2.0, 2.0)), ("truncated_normal@2", (0.0, 1.0, 30.0, 37.0))],
        "float64": [("uniform", (-1.0, 2.0)), ("normal", (0.5, 2.0)), ("truncated_normal", (0.0, 1.0, -2.0, 2.0)),
                    ("truncated_normal", (1.0, 2.0, -20.0, -5.0))],
        "float16": [("uniform", (-1e-4, 1e-4)), ("normal", (0.0, 1.0)), ("truncated_normal", (0.0, 0.02, -0.04, 0.04)),
                    ("normal@2", (0.0, 1.0))],
        "bfloat16": [("uniform", (-0.1, 0.1)), ("normal", (3.0, 0.5)), ("truncated_normal", (0.0, 1.0, -2.0, 2.0)),
                     ("truncated_normal@2", (0.0, 1.0, -2.0, 2.0))],
    }

    def params_of(distribution: str, args: Tuple[float, ...], fmt: str) -> np.ndarray:
        distribution = distribution.partition("@")[0]
        if distribution == "bits":
            return np.zeros(1, np.uint32)
        make: Callable[..., np.ndarray] = {"uniform": uniform_params, "normal": normal_params,
                                           "truncated_normal": truncated_params}[distribution]
        return make(*args, fmt)

    def cpu(shape: Tuple[int, ...], distribution: str, args: Tuple[float, ...], fmt: str, **where: Any) -> np.ndarray:
        """The CPU fill's values of an output of ``shape`` (C order), as unsigned bits."""
        if distribution == "bits":
            if "global_shape" in where:
                whole = fastglorot.random_bits(math.prod(where["global_shape"]), seed=SEED, stream=STREAM)
                whole = whole.reshape(where["global_shape"])
                return whole[tuple(slice(o, o + n) for o, n in zip(where["global_offset"], shape))].copy()
            return fastglorot.random_bits(math.prod(shape), seed=SEED, stream=STREAM,
                                          offset=where.get("offset", 0)).reshape(shape)
        out = np.empty(shape, np_dtypes[fmt])
        name, _, stream_format = distribution.partition("@")
        fill = {"uniform": fastglorot.uniform_, "normal": fastglorot.normal_,
                "truncated_normal": fastglorot.trunc_normal_}[name]
        fill(out, *args, seed=SEED, stream=STREAM, stream_format=int(stream_format or 1), **where)
        return out.view(bits_of[out.itemsize])

    def gpu(out: Any, distribution: str, args: Tuple[float, ...], fmt: str, **where: Any) -> None:
        """What the public functions will do with a CUDA ``out``."""
        place = locate(tuple(out.shape), SEED, STREAM, where.get("offset", 0), where.get("global_shape"),
                       where.get("global_offset"))
        name, _, stream_format = distribution.partition("@")
        _cuda.fill_cuda(out, name, fmt, key_stream_words(place.seed, place.stream),
                        params_of(distribution, args, fmt), place.runs, stream_format=int(stream_format or 1))

    def compare(label: str, got: np.ndarray, expected: np.ndarray) -> None:
        counts["fills"] += 1
        counts["elements"] += expected.size
        got = got.view(expected.dtype) if got.dtype.itemsize == expected.dtype.itemsize else got
        if got.shape != expected.shape or not np.array_equal(got, expected):
            bad = np.argwhere(got != expected) if got.shape == expected.shape else []
            failures.append(f"{label}: {len(bad)} of {expected.size} differ, first at {bad[:3].tolist()}: "
                            f"{got[tuple(bad[0])] if len(bad) else got.shape} != "
                            f"{expected[tuple(bad[0])] if len(bad) else expected.shape}")

    def device_zeros(shape: Tuple[int, ...], fmt: str, order: str = "C", dtype: Optional[np.dtype] = None) -> Any:
        return cuda.to_device(np.zeros(shape, dtype or np_dtypes[fmt], order=order))

    def host(dev: Any) -> np.ndarray:
        return dev.copy_to_host()

    def all_cases() -> List[Tuple[str, str, Tuple[float, ...]]]:
        return [("uint32", "bits", ())] + [(fmt, d, a) for fmt, cs in cases.items() for d, a in cs]

    # 1. Flat outputs at offsets: tile boundaries, the counter's low word wrapping, the 2**62 limit.
    for fmt, distribution, args in all_cases():
        for offset, n in [(0, 1100), (1, 700), (127, 300), (128, 129), (511, 530), (512, 1), (WRAP8 - 300, 700),
                          (WRAP4 - 300, 700), (LIMIT - 777, 777)]:
            label = f"{distribution}{args} {fmt} offset={offset} n={n}"
            dev = device_zeros((n,), fmt)
            gpu(dev, distribution, args, fmt, offset=offset)
            compare(label, host(dev), cpu((n,), distribution, args, fmt, offset=offset))

    # 2. Blocks of 2-D and 3-D tensors: wide and narrow rows, whole rows, rows of one element.
    blocks = [((37, 1100), (5, 300), (3, 600)), ((30, 1100), (3, 1000), (9, 50)), ((20, 64), (3, 0), (5, 64)),
              ((40, 30), (3, 7), (12, 1)), ((6, 9, 130), (2, 3, 41), (3, 4, 70)), ((4, 3, 300), (1, 0, 0), (2, 3, 300)),
              ((3, 5, 7, 129), (1, 2, 3, 5), (2, 2, 3, 100))]
    for fmt, distribution, args in all_cases():
        for global_shape, global_offset, shape in blocks:
            label = f"{distribution}{args} {fmt} block {shape} at {global_offset} of {global_shape}"
            dev = device_zeros(shape, fmt)
            gpu(dev, distribution, args, fmt, global_shape=global_shape, global_offset=global_offset)
            compare(label, host(dev), cpu(shape, distribution, args, fmt, global_shape=global_shape,
                                          global_offset=global_offset))

    # 3. Layouts: F order, strided and negative-stride views of a larger array (nothing outside the view is
    #    written), a block in F order.
    views = [((12, 1200), (slice(3, 11, 2), slice(5, 1105, 3))),
             ((6, 700), (slice(None, None, -1), slice(None, None, -2))),
             ((8, 5, 300), (slice(1, 7), 2, slice(299, 10, -7))), ((3, 600), (slice(None), slice(50, 560)))]
    for fmt, distribution, args in all_cases():
        label = f"{distribution}{args} {fmt}"
        dev = device_zeros((9, 13, 7), fmt, order="F")
        gpu(dev, distribution, args, fmt, offset=500)
        compare(f"{label} F order", host(dev), cpu((9, 13, 7), distribution, args, fmt, offset=500))
        dev = device_zeros((9, 140), fmt, order="F")
        gpu(dev, distribution, args, fmt, global_shape=(20, 300), global_offset=(4, 100))
        compare(f"{label} F-order block", host(dev), cpu((9, 140), distribution, args, fmt, global_shape=(20, 300),
                                                         global_offset=(4, 100)))
        for parent_shape, index in views:
            parent_host = np.zeros(parent_shape, np_dtypes[fmt])
            parent_host.view(np.uint8)[...] = 0x5A
            parent = cuda.to_device(parent_host)
            view = parent[index] if mode == "sim" else _Interface(parent, parent_host, index)
            shape = parent_host[index].shape
            gpu(view, distribution, args, fmt, offset=77)
            after = host(parent)
            compare(f"{label} view {index} of {parent_shape}", after[index], cpu(shape, distribution, args, fmt,
                                                                                 offset=77))
            outside = np.ones(parent_shape, bool)
            outside[index] = False
            if not np.all(after.view(np.uint8).reshape(parent_shape + (-1,))[outside] == 0x5A):
                failures.append(f"{label} view {index} of {parent_shape}: wrote outside the view")

    # 4. 16-bit outputs as their bits, and bfloat16 as ml_dtypes' dtype: the same values.
    for fmt, bits_dtype in [("float16", np.uint16), ("float16", np.int16), ("bfloat16", np.uint16),
                            ("bfloat16", np.int16)]:
        for distribution, args in cases[fmt]:
            dev = device_zeros((600,), fmt, dtype=np.dtype(bits_dtype))
            gpu(dev, distribution, args, fmt, offset=300)
            expected = cpu((600,), distribution, args, fmt, offset=300)
            compare(f"{distribution} {fmt} as {np.dtype(bits_dtype)}", host(dev), expected)

    # 5. Arguments refused before anything is written; empty outputs.
    dev = device_zeros((10,), "float32")
    for bad_fmt, bad_dist, bad_args in [("float64", "uniform", (0.0, 1.0)), ("float16", "normal", (0.0, 1.0)),
                                        ("uint32", "bits", ())]:
        try:
            gpu(dev, bad_dist, bad_args, bad_fmt)
        except TypeError:
            pass
        else:
            failures.append(f"a float32 array was filled as {bad_fmt}")
    if mode == "sim":
        base = device_zeros((10,), "float32")
        overlapping = type(base)(np.lib.stride_tricks.as_strided(base._ary, (10,), (0,)))
        try:
            gpu(overlapping, "uniform", (0.0, 1.0), "float32")
        except ValueError:
            pass
        else:
            failures.append("a zero-stride array was filled")
    empty = device_zeros((0, 5), "float32")
    gpu(empty, "uniform", (0.0, 1.0), "float32")
    assert _cuda_arrays.is_cuda_array(dev) and not _cuda_arrays.is_cuda_array(host(dev))
    assert _cuda_arrays.cuda_format(dev) == "float32"
    assert _cuda_arrays.cuda_format(device_zeros((2,), "bfloat16")) == "bfloat16"

    elapsed = time.perf_counter() - started
    if failures:
        raise AssertionError(f"{len(failures)} of {counts['fills']} CUDA fills differ from the CPU:\n"
                             + "\n".join(failures[:40]))
    print(f"{mode}: {counts['fills']} fills, {counts['elements']} elements in {elapsed:.1f} s: all checks passed")


def ptx() -> int:
    """Compile every kernel for sm_90 and check its PTX; exit status 3 (skip) without NVVM/NVRTC."""
    import re

    from numba import cuda

    if not cuda.is_available():
        # Device functions compile for the current device's compute capability: sm_90 stands in.
        import numba.cuda.dispatcher as dispatcher

        class _Device:
            compute_capability = (9, 0)

        dispatcher.get_current_device = lambda: _Device()  # type: ignore[attr-defined]
    try:
        cuda.compile_ptx(lambda a: None, "void(float32[::1])", cc=(9, 0))
    except Exception as exc:  # no libnvvm / libnvrtc: nothing to check here
        print(f"NVVM or NVRTC unavailable: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        return 3
    from numba.cuda import types as t

    from fastglorot._engines import cuda_kernels as kernels

    tuple_ = t.UniTuple
    layout = (tuple_(t.int64, 5), tuple_(t.int64, 8), tuple_(t.int64, 8), tuple_(t.int64, 8))
    signatures = {
        "fill_bits": (t.uint32, tuple_(t.uint32, 1)),
        "fill_uniform_float32": (t.float32, tuple_(t.float32, 4)),
        "fill_normal_float32": (t.float32, tuple_(t.float32, 2)),
        "fill_truncated_normal_float32": (t.float32, tuple_(t.float64, 7)),
        "fill_uniform_float64": (t.float64, tuple_(t.float64, 4)),
        "fill_normal_float64": (t.float64, tuple_(t.float64, 2)),
        "fill_truncated_normal_float64": (t.float64, tuple_(t.float64, 7)),
        "fill_uniform_half": (t.uint16, tuple_(t.float32, 4)),
        "fill_normal_half": (t.uint16, tuple_(t.float32, 2)),
        "fill_truncated_normal_half": (t.uint16, tuple_(t.float64, 7)),
        # stream format 2's own kernels: float32 arithmetic, float32 parameters
        "fill_normal_float32_v2": (t.float32, tuple_(t.float32, 2)),
        "fill_normal_half_v2": (t.uint16, tuple_(t.float32, 2)),
        "fill_truncated_normal_float32_v2": (t.float32, tuple_(t.float32, 11)),
        "fill_truncated_normal_half_v2": (t.uint16, tuple_(t.float32, 11)),
    }
    assert set(signatures) == set(kernels.KERNELS)
    problems = []
    for name, (out, params) in signatures.items():
        signature = t.void(out[::1], tuple_(t.uint32, 4), params, t.boolean, *layout)
        code, _ = cuda.compile_ptx(kernels.KERNELS[name].py_func, signature, cc=(9, 0), fastmath=False)
        instructions = [line.split()[0] for line in code.splitlines()
                        if line.startswith("\t") and line.split() and not line.split()[0].startswith(("//", "."))]
        floats = [i for i in instructions
                  if re.search(r"\.f(16|32|64)$", i) and not i.startswith(("ld.", "st.", "mov."))]
        found = {
            "fused multiply-add": [i for i in instructions if i.startswith(("fma", "mad.")) and ".f" in i],
            "flush to zero": [i for i in instructions if ".ftz" in i],
            "approximate": [i for i in instructions if ".approx" in i or i.startswith(("rcp", "rsqrt", "ex2", "lg2"))],
            "arithmetic without a rounding modifier (ptxas may fuse it)":
                [i for i in floats if re.match(r"(add|sub|mul|div|sqrt)\.", i) and ".rn." not in i],
            "min/max (either zero of a +-0 pair)": [i for i in floats if i.startswith(("min.", "max."))],
            "calls": [i for i in instructions if i.startswith("call")],
        }
        problems += [f"{name}: {what}: {sorted(set(items))}" for what, items in found.items() if items]
        rounded = sorted({i for i in floats if ".rn." in i})
        print(f"{name}: {len(instructions)} instructions, float ops {rounded}")
    assert not problems, "\n".join(problems)
    print("ptx: all checks passed")
    return 0


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "sim"
    if mode == "ptx":
        sys.exit(ptx())
    checks(mode)
