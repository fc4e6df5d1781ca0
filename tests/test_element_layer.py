"""The stream format is written once (``_format.stream_v1``): its constants live in one element layer, and its
element functions give the same bits run by NumPy (plain Python on arrays) and compiled by numba."""

from __future__ import annotations

import ast
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import fastglorot
from fastglorot._format import floatops as _floatops, stream_v1 as _stream_v1, stream_v2 as _stream_v2

PACKAGE = pathlib.Path(fastglorot.__file__).parent


def _numbers(tree: ast.AST) -> set:
    """Every int and float literal of a module (docstrings and other prose are strings: not counted)."""
    return {node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and type(node.value) in (int, float)}


def test_each_stream_format_constant_is_held_by_one_module():
    """Issue #29's promise: the Philox multipliers and Weyl constants, the atanh series, the sin/cos
    coefficients, the quarter-turn scales and AS 241's coefficients are written in one module of the package,
    the element layer that uses them (before, up to four modules held copies).  Values derived at import
    (the series, ``pi / 2 / 2**30``) are recognised by their literals' inputs."""
    held = {
        "Philox multipliers/Weyl": {_stream_v1.PHILOX_M0, _stream_v1.PHILOX_M1, _stream_v1.PHILOX_W0,
                                    _stream_v1.PHILOX_W1},
        "AS 241": {float(c) for c in _stream_v1.CENTRAL_NUM + _stream_v1.NEAR_NUM + _stream_v1.FAR_DEN[1:]},
        "sqrt(2) mantissa": {0x6A09E667F3BCD},
        "central split": {0.180625},
    }
    v2_held = {
        "PPND7": {float(c) for c in _stream_v2.PPND7_A + _stream_v2.PPND7_B[1:] + _stream_v2.PPND7_C
                  + _stream_v2.PPND7_D[1:] + _stream_v2.PPND7_E + _stream_v2.PPND7_F[1:]},
        "12-bit ln 2": {0.693115234375},
    }
    modules = {path.relative_to(PACKAGE).as_posix(): _numbers(ast.parse(path.read_text()))
               for path in PACKAGE.rglob("*.py")}
    for what, values in held.items():
        holders = sorted(name for name, numbers in modules.items() if numbers & values)
        assert holders == ["_format/stream_v1.py"], (what, holders)
    for what, values in v2_held.items():  # format 2's own constants (float32: its literals rounded), in one module
        holders = sorted(name for name, numbers in modules.items()
                         if {float(np.float32(n)) for n in numbers if abs(n) < 2.0**64} & values)
        assert holders == ["_format/stream_v2.py"], (what, holders)
    # The derived constants: their values, wherever a module computes them, are the element layer's.
    assert float(_stream_v1.QUARTER_TURN_2_30) == math.pi / 2 / 2**30
    assert [float(c) for c in _stream_v1.SIN_F64] == [(-1) ** j / math.factorial(2 * j + 1) for j in range(1, 9)]


def test_the_element_layer_and_the_numpy_path_import_no_numba():
    code = ("import sys, numpy as np\n"
            "from fastglorot._format import floatops, stream_v1\n"
            "from fastglorot._engines import numpy_kernels as _numpy_kernels\n"
            "out = np.empty((1, 1000), np.float32)\n"
            "_numpy_kernels.fill_normal_float32(out, np.zeros(1, np.int64), np.arange(4, dtype=np.uint32),"
            " np.array([0, 1], np.float32))\n"
            "assert np.isfinite(out).all()\nprint(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('numba', 'llvmlite')))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_bind_needs_every_operation():
    with pytest.raises(ValueError, match="operations missing"):
        _floatops.bind(_stream_v1, ("clamp",), {"add": _floatops.add}, lambda f: f)


def _float32_patterns() -> np.ndarray:
    """Every finite float32 near the float16 range's edges, and random bit patterns."""
    rng = np.random.default_rng(29)
    edges = np.concatenate([np.arange(b - 4096, b + 4096, dtype=np.int64) for b in
                            (0x33000000, 0x38800000, 0x477FE000, 0x477FF000, 0x7F7F7FFF, 0)])
    bits = np.concatenate([edges, rng.integers(0, 2**32, 200_000)]).astype(np.uint32)
    values = bits.view(np.float32)
    return values[np.isfinite(values)]


def test_the_16_bit_roundings_match_numpy_and_ml_dtypes_on_arrays_and_compiled():
    """Expected bits from NumPy's own float16 cast and ml_dtypes' bfloat16 cast (independent
    implementations), against the element functions run on NumPy arrays and compiled by numba."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    from numba import njit

    from fastglorot._engines import numba_elements as _numba_elements

    values = _float32_patterns()
    with np.errstate(over="ignore"):
        expected_f16 = values.astype(np.float16).view(np.uint16)
    expected_bf16 = values.astype(ml_dtypes.bfloat16).view(np.uint16)
    assert np.array_equal(_stream_v1.round_float16(values), expected_f16)
    assert np.array_equal(_stream_v1.round_bfloat16(values), expected_bf16)

    @njit
    def compiled(x):
        f16 = np.empty(x.size, np.uint16)
        bf16 = np.empty(x.size, np.uint16)
        for i in range(x.size):
            f16[i] = _numba_elements.round_float16(x[i])
            bf16[i] = _numba_elements.round_bfloat16(x[i])
        return f16, bf16

    f16, bf16 = compiled(values)
    assert np.array_equal(f16, expected_f16) and np.array_equal(bf16, expected_bf16)


def test_the_math_elements_agree_between_numpy_arrays_numpy_scalars_and_numba():
    """The same element functions on arrays, on NumPy scalars (the CUDA simulator's way) and compiled."""
    from numba import njit

    from fastglorot._engines import numba_elements as jit

    rng = np.random.default_rng(7)
    words = rng.integers(0, 2**32, 4096).astype(np.uint32)
    k52 = (rng.integers(0, 2**52, 4096)).astype(np.uint64)
    p = np.concatenate([rng.uniform(1e-300, 0.5, 2048), rng.uniform(1e-6, 0.075, 2048)])

    @njit
    def compiled(words, k52, p):
        n = words.size
        out = np.empty((7, n))
        for i in range(n):
            s, c = jit.sincos_turn_f32(words[i])
            out[0, i], out[1, i] = s, c
            s, c = jit.sincos_turn_f64(k52[i])
            out[2, i], out[3, i] = s, c
            out[4, i] = jit.normal_radius_f32(words[i])
            out[5, i] = jit.normal_quantile_central(p[i]) if not jit.in_lower_tail(p[i]) else 0.0
            out[6, i] = jit.normal_quantile_tail(p[i]) if jit.in_lower_tail(p[i]) else 0.0
        return out

    tail = _stream_v1.in_lower_tail(p)
    arrays = np.stack([*_stream_v1.sincos_turn_f32(words), *_stream_v1.sincos_turn_f64(k52),
                       _stream_v1.normal_radius_f32(words),
                       np.where(tail, 0.0, _stream_v1.normal_quantile_central(p)),
                       np.where(tail, _stream_v1.normal_quantile_tail(p), 0.0)])
    assert np.array_equal(compiled(words, k52, p).view(np.int64), arrays.astype(np.float64).view(np.int64))
    for i in range(0, 4096, 257):  # NumPy scalars, one element at a time
        assert _stream_v1.sincos_turn_f32(words[i]) == (arrays[0, i], arrays[1, i])
        assert _stream_v1.sincos_turn_f64(k52[i]) == (arrays[2, i], arrays[3, i])
        assert _stream_v1.normal_radius_f32(words[i]) == arrays[4, i]


# -- a new distribution is a table row plus its element functions ----------------------------------------

_NEW_DISTRIBUTION = r'''
import os, sys
import numpy as np
from fastglorot._format import stream_v1, tables

# The element functions of an exponential distribution (scale params[0]), written against the float
# operations as the format's rules ask: -ln u = (-2 ln u) / 2 for u = (k + 1/2) / 2**bits.
exec("""
def exponential_f32(word, params):
    return F32(mul(mul(minus_two_log(add(F64(word), _HALF64), 32, TERMS_F32), _HALF64), F64(params[0])))

def exponential_f64(high_word, low_word, params):
    return mul(mul(minus_two_log(add(F64(bits52(high_word, low_word)), _HALF64), 52, TERMS_F64), _HALF64), params[0])
""", vars(stream_v1))
stream_v1.ELEMENTS += ("exponential_f32", "exponential_f64")
tables.DISTRIBUTIONS["exponential"] = tables.Distribution("exponential", "", 1, True, {
    "float32": tables.Element("value", 1, ("exponential_f32",)),
    "float64": tables.Element("value", 2, ("exponential_f64",))})

from fastglorot._engines import numpy_kernels
key = np.array([0x12345678, 0x9ABCDEF0, 7, 0], np.uint32)
firsts = np.array([0, 5, 1000, 127, 2**34 - 300], np.int64)
cases = [("fill_exponential_float32", np.float32, np.float32, ()),
         ("fill_exponential_float64", np.float64, np.float64, ()),
         ("fill_exponential_half", np.uint16, np.float32, (True,)),
         ("fill_exponential_half", np.uint16, np.float32, (False,))]


def outputs(kernels):
    result = []
    for name, out_dtype, params_dtype, extra in cases:
        for length in (1, 3, 129, 700, 2000):
            out = np.zeros((len(firsts), length), out_dtype)
            kernels[name](out, firsts, key, np.array([1.5], params_dtype), *extra)
            result.append(out)
    return result


expected = outputs(numpy_kernels.KERNELS)
if sys.argv[1] == "cuda":
    import ml_dtypes
    from numba import cuda as numba_cuda
    from fastglorot._engines import cuda
    from fastglorot._format.position import resolve_position
    dtypes = {"float32": np.float32, "float64": np.float64, "float16": np.float16, "bfloat16": ml_dtypes.bfloat16}
    for (name, out_dtype, params_dtype, extra), want in zip([c for c in cases for _ in range(5)], expected):
        fmt = ("bfloat16" if extra[0] else "float16") if extra else np.dtype(out_dtype).name
        for row, first in enumerate(firsts):
            n = want.shape[1]
            dev = numba_cuda.to_device(np.zeros(n, dtypes[fmt]))
            cuda.fill_cuda(dev, "exponential", fmt, key, np.array([1.5], params_dtype),
                           resolve_position((n,), int(first), None, None))
            got = dev.copy_to_host().view(want.dtype)
            assert np.array_equal(got, want[row]), (name, fmt, first, n)
else:
    from fastglorot._engines import kernels
    for got, want in zip(outputs(kernels.KERNELS), expected):
        assert np.array_equal(got, want)
    # Independently of the element layer: the float32 values are -1.5 ln u of the stream's own words.
    from fastglorot._format.philox import philox4x32
    words = np.array([philox4x32((m, 0, 7, 0), (0x12345678, 0x9ABCDEF0))[j] for j in range(4) for m in range(128)],
                     np.float64)  # tile 0: lane j of counter m is element 128 j + m
    reference = -1.5 * np.log((words + 0.5) / 2.0**32)
    np.testing.assert_allclose(expected[3][0, :512], reference, rtol=2e-7)
print("OK", len(expected))
'''


@pytest.mark.parametrize("engine", ["cpu", "cuda"])
def test_a_new_distribution_is_a_table_row_plus_its_element_functions(engine, tmp_path):
    """The engines build every kernel from ``DISTRIBUTIONS`` (``_engines.kernel_set``): a distribution added
    as a row and two element functions, in a fresh process, gets a numba CPU kernel, a NumPy twin and a CUDA
    kernel (numba-cuda's simulator) for float32, float64 and both 16-bit formats, all with the same bits, and
    the float32 values are the exponential of the stream's words (``philox4x32``, NumPy's ``log``)."""
    env = dict(os.environ)
    if engine == "cuda":
        pytest.importorskip("numba.cuda")
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    result = subprocess.run([sys.executable, "-c", _NEW_DISTRIBUTION, engine], capture_output=True, text=True,
                            timeout=600, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == ["OK", "20"]
