"""The NumPy path (``fastglorot._engines.numpy_kernels``) against the numba kernels, bit for bit; the choice
between the two (``fastglorot._engines.dispatch``); and imports that load no numba, llvmlite, scipy,
ml_dtypes, tqdm or matplotlib.

Every comparison runs the same public call twice, once on each engine, and
compares the bytes; the expected values are the kernels', whose own values are
pinned by test_golden.py (which also runs on both engines).
"""

from __future__ import annotations

import json
import math
import warnings

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastglorot
from fastglorot._engines import dispatch as _engines, numpy_kernels as _numpy_kernels
from fastglorot._validate import INDEX_LIMIT
from fill_engines import engine

HEAVY = ("numba", "llvmlite", "scipy", "ml_dtypes", "tqdm", "matplotlib")
DTYPES = ("float32", "float64", "float16", "bfloat16")
DISTRIBUTIONS = ("uniform", "normal", "truncated", "normal v2", "truncated v2")
"""The distributions; ``v2``: in stream format 2 (its own kernels for float32 and the 16-bit formats)."""


def both(fill):
    """``fill()`` on the kernels and on the NumPy path."""
    with engine("kernels"):
        expected = fill()
    with engine("numpy"):
        got = fill()
    return expected, got


def assert_same_bits(expected, got):
    expected, got = np.asarray(expected), np.asarray(got)
    assert expected.shape == got.shape and expected.dtype == got.dtype
    a = np.ascontiguousarray(expected).reshape(-1)
    b = np.ascontiguousarray(got).reshape(-1)
    differ = np.any(a.view(np.uint8).reshape(a.size, -1) != b.view(np.uint8).reshape(b.size, -1), axis=1)
    if differ.any():
        first = np.nonzero(differ)[0][:3]
        raise AssertionError(f"{int(differ.sum())} elements differ, first at {first.tolist()}: "
                             f"{a[first]} (kernels) vs {b[first]} (NumPy)")


def numpy_dtype(name):
    return np.dtype(ml_dtypes.bfloat16) if name == "bfloat16" else np.dtype(name)


def sample(distribution, dtype, shape, **kwargs):
    """An allocating public call of ``distribution`` with parameters that exercise every branch."""
    with warnings.catch_warnings():
        # extreme parameters (the property test's tiny bounds) make float16 fills all 0, on purpose
        warnings.filterwarnings("ignore", ".*every value of this float16 fill is 0")
        return _sample(distribution, dtype, shape, **kwargs)


def _sample(distribution, dtype, shape, **kwargs):
    params = dict(kwargs)
    if distribution.endswith(" v2"):
        distribution = distribution[:-3]
        params["stream_format"] = 2
    if distribution == "uniform":
        return fastglorot.uniform(shape, params.pop("low", -0.3), params.pop("high", 0.7), dtype=dtype, **params)
    if distribution == "normal":
        return fastglorot.normal(shape, params.pop("mean", 0.1), params.pop("std", 2.0), dtype=dtype, **params)
    # [-1.5, 2.5] standard deviations: both tails of AS 241 (|z| > 1.44) and the central rational.
    return fastglorot.trunc_normal(shape, params.pop("mean", 0.0), params.pop("std", 1.0), params.pop("a", -1.5),
                                   params.pop("b", 2.5), dtype=dtype, **params)


# Offsets at and across tile boundaries (128 counters, 512 words / 256 float64s a tile), where the
# counter's low word wraps (element 2**39 of a 32-bit stream is counter 2**32), and at the index limit.
OFFSETS = [0, 1, 127, 128, 255, 256, 511, 512, 2**32 - 1, 2**39 - 700, 2**38 - 300, INDEX_LIMIT - 1300]
SIZES = [1, 3, 200, 700, 1300]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_every_distribution_and_dtype_at_tile_boundaries(distribution, dtype):
    for offset in OFFSETS:
        for size in SIZES:
            assert_same_bits(*both(lambda: sample(distribution, dtype, (size,), seed=2**64 - 1 - offset % 7,
                                                  stream=offset, offset=offset)))


@pytest.mark.parametrize("offset", OFFSETS)
def test_random_bits(offset):
    for size in SIZES:
        assert_same_bits(*both(lambda: fastglorot.random_bits(size, seed=offset, stream=7, offset=offset)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
@pytest.mark.parametrize("block_shape, global_shape, global_offset", [
    ((3, 1000), (9, 1000), (2, 0)),          # whole rows: one run, tiles
    ((40, 3), (64, 700), (5, 333)),          # a narrow column block: many short rows, element by element
    ((7, 600), (20, 2000), (3, 1001)),       # long rows cut inside tiles
    ((2, 3, 130), (4, 5, 257), (1, 2, 127)),  # 3-D, rows crossing a counter group
])
def test_blocks(distribution, dtype, block_shape, global_shape, global_offset):
    expected, got = both(lambda: sample(distribution, dtype, block_shape, seed=11, stream="layer.weight",
                                        global_shape=global_shape, global_offset=global_offset))
    assert_same_bits(expected, got)
    whole = sample(distribution, dtype, global_shape, seed=11, stream="layer.weight")
    index = tuple(slice(o, o + b) for o, b in zip(global_offset, block_shape))
    assert_same_bits(whole[index], got)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_layouts(distribution, dtype):
    """Fortran order, strided views, non-native byte order: filled through the launcher's slabs."""
    dt = numpy_dtype(dtype)

    stream_format = 2 if distribution.endswith(" v2") else 1

    def fill(make):
        def run():
            out = make()
            if distribution == "uniform":
                fastglorot.uniform_(out, -2.0, 3.0, seed=5, stream=9)
            elif distribution.startswith("normal"):
                fastglorot.normal_(out, 0.0, 0.5, seed=5, stream=9, stream_format=stream_format)
            else:
                fastglorot.trunc_normal_(out, 1.0, 2.0, -1.0, 4.0, seed=5, stream=9, stream_format=stream_format)
            return np.array(out)
        return run

    layouts = [lambda: np.zeros((37, 41), dt, order="F"),
               lambda: np.zeros((40, 90), dt)[3::2, 1::3],
               lambda: np.zeros((5, 7, 9), dt).transpose(2, 0, 1)]
    if dt.itemsize > 2:
        layouts.append(lambda: np.zeros((33, 29), dt.newbyteorder(">")))
    for make in layouts:
        assert_same_bits(*both(fill(make)))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_sixteen_bit_rounding(dtype):
    """Ties, subnormals and values near the 16-bit limits round alike (float16 via NumPy's astype, bfloat16
    by integer arithmetic on the NumPy path; by integer arithmetic in the kernels)."""
    largest = 65504.0 if dtype == "float16" else 3.3e38
    cases = [("uniform", dict(low=-1e-6, high=1e-6)),      # float16 subnormals
             ("uniform", dict(low=-6e-8, high=6e-8)),      # at float16's smallest subnormal
             ("uniform", dict(low=0.999, high=1.002)),     # float32 values between 16-bit neighbours
             ("uniform", dict(low=-largest, high=largest)),
             ("normal", dict(mean=0.0, std=largest / 7)),
             ("normal", dict(mean=1.0, std=1e-5)),
             ("truncated", dict(mean=0.0, std=1e-7, a=-2e-7, b=1e-7))]
    for distribution, params in cases:
        assert_same_bits(*both(lambda: sample(distribution, dtype, (3000,), seed=3, offset=100, **params)))


EXTREMES = [
    ("uniform", dict(low=0.25, high=0.25)),
    ("uniform", dict(low=-0.0, high=-0.0)),
    ("uniform", dict(low=1.0, high=float(np.nextafter(np.float32(1), np.float32(2))))),
    ("uniform", dict(low=-3.0e38, high=3.0e38)),
    ("uniform", dict(low=-1e-40, high=1e-40)),               # float32 subnormals
    ("normal", dict(mean=0.0, std=0.0)),
    ("normal", dict(mean=-7.5, std=1e-30)),
    ("normal", dict(mean=0.0, std=5.0e37)),                   # near the float32 limit
    ("truncated", dict(mean=0.0, std=1.0, a=30.0, b=37.0)),   # far upper tail
    ("truncated", dict(mean=0.0, std=1.0, a=-37.5, b=-36.0)),  # far lower tail
    ("truncated", dict(mean=0.0, std=1.0, a=-0.001, b=0.001)),  # central only
    ("truncated", dict(mean=5.0, std=1e-3, a=4.0, b=6.0)),    # all mass inside
    ("truncated", dict(mean=0.0, std=1.0, a=-50.0, b=50.0)),  # clipped to +-37.5
    # stream format 2: its far tails are scaled by 2**shift (README "Stream format 2")
    ("normal v2", dict(mean=-7.5, std=1e-30)),
    ("normal v2", dict(mean=0.0, std=5.0e37)),
    ("truncated v2", dict(mean=0.0, std=1.0, a=30.0, b=37.0)),
    ("truncated v2", dict(mean=0.0, std=1.0, a=-37.5, b=-36.0)),
    ("truncated v2", dict(mean=0.0, std=1.0, a=-0.001, b=0.001)),
    ("truncated v2", dict(mean=0.0, std=1.0, a=-50.0, b=50.0)),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("distribution, params", EXTREMES, ids=lambda p: str(p) if isinstance(p, dict) else p)
def test_extreme_parameters(distribution, params, dtype):
    assert_same_bits(*both(lambda: sample(distribution, dtype, (1100,), seed=1, stream=2, offset=300, **params)))


@pytest.mark.parametrize("name, kwargs", [
    ("glorot_uniform", {}), ("xavier_normal", {"gain": 2.0}), ("kaiming_uniform", {"a": 0.1}),
    ("kaiming_normal", {"mode": "fan_out"}), ("lecun_normal", {}),
    ("variance_scaling", {"scale": 2.0, "mode": "fan_avg", "distribution": "truncated_normal"}),
    ("variance_scaling", {"scale": 0.3, "mode": "fan_geo_avg", "distribution": "untruncated_normal"}),
])
def test_initializers(name, kwargs):
    function = getattr(fastglorot, name)
    for dtype in DTYPES:
        for stream_format in (1, 2):
            assert_same_bits(*both(lambda: function((64, 3, 5), dtype=dtype, seed=99, stream="conv",
                                                    stream_format=stream_format, **kwargs)))


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(distribution=st.sampled_from(DISTRIBUTIONS), dtype=st.sampled_from(DTYPES),
       seed=st.integers(0, 2**64 - 1), stream=st.integers(0, 2**64 - 1),
       offset=st.one_of(st.integers(0, 4096), st.integers(0, INDEX_LIMIT - 5000)),
       size=st.integers(1, 3000), a=st.floats(-4.0, 4.0), width=st.floats(1e-3, 8.0),
       scale=st.sampled_from([1e-30, 1e-3, 1.0, 1e3]))
def test_numpy_path_equals_kernels_property(distribution, dtype, seed, stream, offset, size, a, width, scale):
    """Hypothesis over every distribution, dtype, seed, stream, position and a range of parameters."""
    if distribution == "uniform":
        params = dict(low=a * scale, high=(a + width) * scale)
    elif distribution.startswith("normal"):
        params = dict(mean=a * scale, std=width * scale)
    else:
        params = dict(mean=a * scale, std=width * scale, a=(a - width) * scale, b=(a + width / 2) * scale)
    if dtype == "float16" and scale > 1:
        params = {key: value / 1e3 for key, value in params.items()}
    assert_same_bits(*both(lambda: sample(distribution, dtype, (size,), seed=seed, stream=stream, offset=offset,
                                          **params)))


# -- the choice of engine -----------------------------------------------------

@pytest.fixture
def fresh_budget(monkeypatch):
    """The engine choice as a fresh process sees it: no kernel loaded, nothing filled through NumPy yet."""
    monkeypatch.setattr(_engines, "_numpy_bytes", 0)
    monkeypatch.setattr(_engines, "is_loaded", lambda name: False)
    return monkeypatch


def test_budget_is_per_process_then_kernels(fresh_budget):
    fresh_budget.setenv(_engines.ENVIRONMENT_VARIABLE, str(3 * 4096))
    chosen = [_engines.select("fill_uniform_float32", 4096, "uniform float32")[0] for _ in range(4)]
    twin = _numpy_kernels.fill_uniform_float32
    assert chosen[:3] == [twin] * 3 and chosen[3] is not twin  # the fourth fill exceeds the budget
    assert _engines.select("fill_uniform_float32", 1, "uniform float32")[0] is not twin  # budget spent
    assert _engines.select("fill_normal_float64", 0, "normal float64")[0] is _numpy_kernels.fill_normal_float64


def test_a_fill_larger_than_the_budget_goes_to_the_kernel(fresh_budget):
    fresh_budget.setenv(_engines.ENVIRONMENT_VARIABLE, "1000")
    fill, parallel = _engines.select("fill_normal_half", 1001, "normal bfloat16")
    assert fill is _engines.kernel("fill_normal_half") and parallel
    assert _engines._numpy_bytes == 0


def test_budget_zero_means_kernels_only(fresh_budget):
    fresh_budget.setenv(_engines.ENVIRONMENT_VARIABLE, "0")
    assert _engines.select("fill_bits", 0, "raw bits")[0] is _engines.kernel("fill_bits")


def test_a_loaded_kernel_is_used_for_every_size(monkeypatch):
    monkeypatch.setenv(_engines.ENVIRONMENT_VARIABLE, str(1 << 40))
    _engines.load("uniform", "float64")
    assert _engines.is_loaded("fill_uniform_float64")
    assert _engines.select("fill_uniform_float64", 8, "uniform float64")[0] is _engines.kernel("fill_uniform_float64")


@pytest.mark.parametrize("value", ["lots", "-1", "1.5"])
def test_a_bad_budget_is_a_clear_error_and_writes_nothing(fresh_budget, value):
    fresh_budget.setenv(_engines.ENVIRONMENT_VARIABLE, value)
    out = np.full((4, 4), 7.0, np.float32)
    with pytest.raises(ValueError, match=f"FASTGLOROT_NUMPY_MAX_BYTES={value!r}: expected a non-negative number"):
        fastglorot.glorot_uniform_(out, seed=1)
    assert np.all(out == 7.0)


# -- fresh processes: what is imported, and when numba loads ------------------

def modules_after(python_runner, code, env=None, before=""):
    """The heavy modules a fresh interpreter has loaded after ``code`` and not after ``before``."""
    probe = ("import sys\n{0}\nbaseline = set(sys.modules)\n{1}\n"
             "print(__import__('json').dumps(sorted(m for m in {2!r} if m in sys.modules and m not in baseline)))")
    result = python_runner(probe.format(before, code, HEAVY), env=dict(env or {}, FASTGLOROT_NUMPY_MAX_BYTES=""))
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize("code, before", [
    ("import fastglorot", ""),
    ("import fastglorot.torch", "import torch"),
    ("import fastglorot.io", ""),
    ("import fastglorot.dask", ""),
    ("from fastglorot._cli import main\ntry:\n    main(['--version'])\nexcept SystemExit:\n    pass", ""),
    ("import fastglorot.jax", "import jax"),
])
def test_imports_load_no_heavy_module(python_runner, code, before):
    assert modules_after(python_runner, code, before=before) == []


def test_small_fills_load_no_numba_and_bfloat16_by_name_loads_ml_dtypes(python_runner):
    small = ("import numpy as np, fastglorot\n"
             "fastglorot.glorot_uniform((256, 256), seed=0)\n"
             "fastglorot.trunc_normal_(np.empty((64, 64), np.float16), seed=0)\n"
             "fastglorot.random_bits(1000, seed=0)")
    assert modules_after(python_runner, small) == []
    assert modules_after(python_runner, "import fastglorot\nfastglorot.normal((8,), dtype='bfloat16', seed=0)") == \
        ["ml_dtypes"]
    torch_bf16 = "import torch, fastglorot\nfastglorot.normal_(torch.empty(8, dtype=torch.bfloat16), seed=0)"
    assert modules_after(python_runner, torch_bf16, before="import torch") == []


def test_past_the_budget_numba_loads_once(python_runner):
    code = ("import sys, numpy as np, fastglorot\n"
            "from fastglorot._engines import dispatch as _engines\n"
            "fastglorot.uniform_(np.empty(100_000), seed=0)\n"  # 800 kB: NumPy
            "print('numba' in sys.modules)\n"
            "fastglorot.uniform_(np.empty(200_000), seed=0)\n"  # 1.6 MB more: past the 2 MB budget
            "print('numba' in sys.modules, _engines.is_loaded('fill_uniform_float64'))\n")
    result = python_runner(code, env={"FASTGLOROT_NUMPY_MAX_BYTES": "2000000"})
    assert result.stdout.split() == ["False", "True", "True"]


def test_numpy_path_values_in_a_fresh_process(python_runner):
    """The default engine choice in a fresh process (NumPy for this size) gives the kernels' values."""
    code = ("import hashlib, fastglorot\n"
            "x = fastglorot.glorot_normal((300, 200), seed=4, stream='w', dtype='float32')\n"
            "print(hashlib.sha256(x.tobytes()).hexdigest())")
    fresh = python_runner(code, env={"FASTGLOROT_NUMPY_MAX_BYTES": ""}).stdout.split()
    with engine("kernels"):
        expected = fastglorot.glorot_normal((300, 200), seed=4, stream="w", dtype="float32")
    import hashlib

    assert fresh == [hashlib.sha256(expected.tobytes()).hexdigest()]


def test_chunks_bound_the_temporaries():
    """A fill of many chunks equals one of a single chunk (chunk edges are invisible)."""
    size = 3 * _numpy_kernels.CHUNK_ELEMENTS + 1234
    with engine("numpy"):
        long = fastglorot.normal((size,), seed=8, offset=77)
        parts = [fastglorot.normal((n,), seed=8, offset=77 + start) for start, n in
                 [(0, 1000), (1000, size - 1000)]]
    assert_same_bits(np.concatenate(parts), long)
    assert math.isfinite(float(np.abs(long).max()))
