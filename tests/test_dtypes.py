"""float16 and bfloat16 outputs.

Specification (README "Stream format" and the ``uniform_`` docstring): a
float16/bfloat16 output holds exactly the round-to-nearest-even of the
float32 draw, so its bits equal ``float32_result.astype(np.float16)`` /
``.astype(ml_dtypes.bfloat16)``, where ``float32_result`` is the same call
(same seed, stream, offset and parameters) on a float32 array of the same
shape.  NumPy's and ml_dtypes' ``astype`` are the independent reference for
the rounding; every comparison below is on the 16-bit patterns, so signed
zeros, subnormals and infinities must match too.
"""

import tracemalloc

import ml_dtypes
import numba
import numpy as np
import pytest

import fastglorot
from fastglorot._engines import launch as _launch

BF16 = np.dtype(ml_dtypes.bfloat16)
F16 = np.dtype(np.float16)
HALVES = [F16, BF16]
HALF_IDS = ["float16", "bfloat16"]


def bits(array) -> np.ndarray:
    """The 16-bit patterns of a float16/bfloat16 array, in native order."""
    array = np.asarray(array)
    if array.dtype.kind == "f" and not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    return array.view(np.uint16)


def rounded_bits(float32_result: np.ndarray, half: np.dtype) -> np.ndarray:
    """The reference: NumPy's (float16) or ml_dtypes' (bfloat16) round-to-nearest-even."""
    assert float32_result.dtype == np.float32
    with np.errstate(over="ignore"):  # float16 overflow to inf (test_round_float16_overflows_like_astype)
        return float32_result.astype(half).view(np.uint16)


# -- samplers, every layout ------------------------------------------------------

SAMPLERS = {
    "uniform_symmetric": lambda o, **k: fastglorot.uniform_(o, -1.0, 1.0, **k),
    # Values in (1 - 2**-12, 1) round up to 1.0 in float16 (2**-9 for bfloat16).
    "uniform_unit": lambda o, **k: fastglorot.uniform_(o, 0.0, 1.0, **k),
    # Every float16 result is subnormal (|x| < 2**-14 ~ 6.1e-5) or a signed zero.
    "uniform_subnormal": lambda o, **k: fastglorot.uniform_(o, -1e-5, 1e-5, **k),
    # Bounds that are not representable in either 16-bit format.
    "uniform_offcenter": lambda o, **k: fastglorot.uniform_(o, 0.1, 0.7, **k),
    "normal_standard": lambda o, **k: fastglorot.normal_(o, **k),
    "normal_shifted": lambda o, **k: fastglorot.normal_(o, 3.0, 0.25, **k),
    # |z| reaches 6.7637: about the largest float16 std (6.7637 * 9680 = 65473 < 65520, where
    # float16 overflows; a larger std is a ValueError, see test_bad_arguments.py).
    "normal_wide": lambda o, **k: fastglorot.normal_(o, 0.0, 9680.0, **k),
    # Mean near the float16 maximum: many results in [65504, 65520) round down to 65504.
    "normal_near_max": lambda o, **k: fastglorot.normal_(o, 65500.0, 2.5, **k),
    "normal_zero_std": lambda o, **k: fastglorot.normal_(o, 0.3, 0.0, **k),
    "trunc_normal_default": lambda o, **k: fastglorot.trunc_normal_(o, **k),
    "trunc_normal_tail": lambda o, **k: fastglorot.trunc_normal_(o, 0.0, 1.0, 3.0, 5.0, **k),
    "trunc_normal_narrow": lambda o, **k: fastglorot.trunc_normal_(o, 1.0, 0.02, 0.97, 1.05, **k),
}

# (builder of an uninitialized view of a given dtype, offset): sizes that are
# not multiples of the 512-element tile, odd offsets, non-contiguous layouts.
LAYOUTS = {
    "1d_1000": (lambda dt: np.empty(1000, dt), 0),
    "1d_4099_offset3": (lambda dt: np.empty(4099, dt), 3),
    "c_37x53_offset511": (lambda dt: np.empty((37, 53), dt), 511),
    "fortran_61x45_offset1": (lambda dt: np.empty((61, 45), dt, order="F"), 1),
    "strided_offset_2pow33": (lambda dt: np.empty((40, 90), dt)[::3, 1::2], 2**33 + 7),
    "permuted_3d_offset513": (lambda dt: np.empty((5, 6, 70), dt).transpose(2, 0, 1), 513),
    "reversed_step2": (lambda dt: np.empty(3001, dt)[::-2], 0),
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("half", HALVES, ids=HALF_IDS)
def test_samplers_equal_rounded_float32(half, sampler, layout):
    make, offset = LAYOUTS[layout]
    fill = SAMPLERS[sampler]
    kwargs = dict(seed=20240611, stream=5, offset=offset)
    out = make(half)
    assert fill(out, **kwargs) is out
    reference = make(np.float32)
    fill(reference, **kwargs)
    np.testing.assert_array_equal(bits(out), rounded_bits(reference, half))


@pytest.mark.parametrize("sampler", ["uniform_unit", "normal_standard", "trunc_normal_default"])
def test_big_endian_float16(sampler):
    """A byte-swapped float16 array holds the same values (its bytes swapped)."""
    out = np.empty((33, 47), ">f2")
    SAMPLERS[sampler](out, seed=3, stream=9, offset=17)
    reference = np.empty((33, 47), np.float32)
    SAMPLERS[sampler](reference, seed=3, stream=9, offset=17)
    np.testing.assert_array_equal(bits(out), rounded_bits(reference, F16))


# -- the rounding edge cases actually occur --------------------------------------

def _pair(fill, n, half, seed=11, stream=0):
    out, reference = np.empty(n, half), np.empty(n, np.float32)
    fill(out, seed=seed, stream=stream)
    fill(reference, seed=seed, stream=stream)
    return out, reference


def test_float16_subnormals():
    out, reference = _pair(SAMPLERS["uniform_subnormal"], 1 << 16, F16)
    np.testing.assert_array_equal(bits(out), rounded_bits(reference, F16))
    magnitude = bits(out) & 0x7FFF
    assert np.all(magnitude < 0x0400)  # all subnormal or zero: exponent field 0
    assert np.count_nonzero(magnitude) > 60000  # nonzero subnormals dominate
    assert np.any(bits(out) == 0x8000) or np.any(bits(out) == 0x0000)  # tiny draws round to +-0
    # 2**-14 - 2**-25 and above would round to the smallest normal; 1e-5 < that,
    # so the largest subnormal magnitude reached is about 1e-5 / 2**-24 = 168 ulps.
    assert 160 <= magnitude.max() <= 168


@pytest.mark.parametrize("half, threshold", [(F16, 1 - 2.0**-12), (BF16, 1 - 2.0**-9)], ids=HALF_IDS)
def test_values_near_one_round_up(half, threshold):
    out, reference = _pair(SAMPLERS["uniform_unit"], 1 << 17, half)
    np.testing.assert_array_equal(bits(out), rounded_bits(reference, half))
    assert reference.max() < 1.0  # the float32 draw is strictly inside (0, 1)
    ones = out.astype(np.float32) == 1.0
    assert np.count_nonzero(ones) > 5
    # Exactly the float32 values above the midpoint below 1 became 1.0 (the
    # midpoint itself is a tie that rounds to the even 1.0 as well).
    np.testing.assert_array_equal(ones, reference >= threshold)


def test_float16_wide_normal_stays_finite():
    out, reference = _pair(SAMPLERS["normal_wide"], 1 << 16, F16)
    np.testing.assert_array_equal(bits(out), rounded_bits(reference, F16))
    assert np.all(np.isfinite(out))
    assert np.max(np.abs(reference)) > 30000.0  # the draw does reach far out


def test_float16_near_max_rounds_down_like_astype():
    # Just below the overflow threshold: [65504, 65520) rounds down to 65504.
    out, reference = _pair(SAMPLERS["normal_near_max"], 1 << 12, F16)
    np.testing.assert_array_equal(bits(out), rounded_bits(reference, F16))
    band = (reference >= 65504.0) & (reference < 65520.0)
    assert np.count_nonzero(band) > 100
    assert np.all(out[band] == 65504.0)
    assert np.all(np.isfinite(out)) and reference.max() < 65520.0


@pytest.mark.parametrize("half, limit", [(F16, 65520.0), (BF16, float(np.uint32(0x7F7F8000).view(np.float32)))],
                         ids=HALF_IDS)
def test_half_rounding_overflows_like_astype(half, limit):
    """The kernels' rounding helper sends exactly astype's values to inf: the midpoint above the
    largest finite value (a tie, rounding to the even inf) and beyond.  No fill reaches them any
    more (normal_ rejects such arguments), so the helper is checked directly."""
    from fastglorot._engines.numba_elements import round_bfloat16, round_float16

    round_bits = round_bfloat16 if half == BF16 else round_float16
    edge = np.float32(limit)
    values = [edge, np.nextafter(edge, np.float32(0)), np.nextafter(edge, np.float32(np.inf)),
              np.float32(np.finfo(np.float32).max), np.float32(np.inf), np.float32(65504.0), np.float32(65519.0)]
    values = np.array(values + [-v for v in values], np.float32)
    got = np.array([round_bits(v) for v in values], np.uint16)
    np.testing.assert_array_equal(got, rounded_bits(values, half))
    assert np.isinf(got[:1].view(half)).all() and np.isfinite(got[1:2].view(half)).all()


@pytest.mark.parametrize("half, tie_mask, tie", [(F16, 0x1FFF, 0x1000), (BF16, 0xFFFF, 0x8000)], ids=HALF_IDS)
def test_ties_round_to_even(half, tie_mask, tie):
    """Normal draws whose discarded float32 bits are exactly half an ulp round to even."""
    out, reference = _pair(SAMPLERS["normal_standard"], 1 << 19, half, seed=3)
    np.testing.assert_array_equal(bits(out), rounded_bits(reference, half))
    reference_bits = reference.view(np.uint32)
    normal = np.abs(reference) >= 2.0**-14
    ties = normal & ((reference_bits & tie_mask) == tie)
    assert np.count_nonzero(ties) >= 5  # the case is exercised (seed chosen so)
    # Independent of astype: a tie rounds the kept bits up only when they are odd.
    sign = reference_bits[ties] >> 31
    kept = (reference_bits[ties] & 0x7FFFFFFF) >> (13 if half == F16 else 16)
    even = kept + (kept & 1)
    if half == F16:
        even = even - (112 << 10)  # re-bias the exponent: (127 - 15) << 10
    np.testing.assert_array_equal(bits(out)[ties], (even | (sign << 15)).astype(np.uint16))


# -- initializers ------------------------------------------------------------

INITIALIZERS = {
    "glorot_uniform_": lambda o, **k: fastglorot.glorot_uniform_(o, gain=1.3, **k),
    "glorot_normal_": lambda o, **k: fastglorot.glorot_normal_(o, **k),
    "glorot_normal_truncated": lambda o, **k: fastglorot.glorot_normal_(o, truncated=True, **k),
    "kaiming_normal_": lambda o, **k: fastglorot.kaiming_normal_(o, a=0.2, mode="fan_out", **k),
    "kaiming_uniform_": lambda o, **k: fastglorot.kaiming_uniform_(o, **k),
    "lecun_normal_": lambda o, **k: fastglorot.lecun_normal_(o, **k),
    "lecun_uniform_": lambda o, **k: fastglorot.lecun_uniform_(o, **k),
    "he_normal_": lambda o, **k: fastglorot.he_normal_(o, **k),
    "he_uniform_": lambda o, **k: fastglorot.he_uniform_(o, **k),
    **{f"variance_scaling_{d}": (lambda d: lambda o, **k: fastglorot.variance_scaling_(o, 2.0, "fan_avg", d, **k))(d)
       for d in ("truncated_normal", "normal", "untruncated_normal", "uniform")},
}

INIT_LAYOUTS = {
    "conv_64x33x3_offset1": (lambda dt: np.empty((64, 33, 3), dt), 1),
    "fortran_48x40": (lambda dt: np.empty((48, 40), dt, order="F"), 0),
    "strided_offset_odd": (lambda dt: np.empty((90, 80), dt)[1::2, ::3], 12345),
}


@pytest.mark.parametrize("layout", INIT_LAYOUTS)
@pytest.mark.parametrize("init", INITIALIZERS)
@pytest.mark.parametrize("half", HALVES, ids=HALF_IDS)
def test_initializers_equal_rounded_float32(half, init, layout):
    make, offset = INIT_LAYOUTS[layout]
    kwargs = dict(seed=77, stream="decoder.proj.weight", offset=offset)
    out = make(half)
    assert INITIALIZERS[init](out, **kwargs) is out
    reference = make(np.float32)
    INITIALIZERS[init](reference, **kwargs)
    np.testing.assert_array_equal(bits(out), rounded_bits(reference, half))


# -- many chunks, several threads ---------------------------------------------------

CHUNKED_LAYOUTS = {
    "1d_100003_offset77": (lambda dt: np.empty(100_003, dt), 77),
    "fortran_300x211": (lambda dt: np.empty((300, 211), dt, order="F"), 0),
    "strided_offset5": (lambda dt: np.empty((600, 500), dt)[::2, 1::3], 5),
}


@pytest.mark.parametrize("layout", CHUNKED_LAYOUTS)
@pytest.mark.parametrize("sampler", ["uniform_symmetric", "normal_wide", "trunc_normal_narrow",
                                     "glorot_normal_fans"])
@pytest.mark.parametrize("half", HALVES, ids=HALF_IDS)
def test_many_chunks_and_threads(monkeypatch, half, sampler, layout):
    """8 KiB chunks (4096 16-bit elements) and no serial threshold: dozens of
    chunks shared by all threads give the same bits as the rounded float32."""
    fill = {**SAMPLERS, "glorot_normal_fans": lambda o, **k: fastglorot.glorot_normal_(
        o, truncated=True, fan_in=1000, fan_out=300, **k)}[sampler]
    make, offset = CHUNKED_LAYOUTS[layout]
    kwargs = dict(seed=2**64 - 1, stream=2**63 + 1, offset=offset)
    reference = make(np.float32)
    fill(reference, **kwargs)  # default chunking: one serial chunk

    monkeypatch.setattr(_launch, "CHUNK_BYTES", 8 << 10)
    monkeypatch.setattr(_launch, "MIN_CHUNK_BYTES", 8 << 10)
    monkeypatch.setattr(_launch, "PARALLEL_MIN_BYTES", 0)
    runs = []
    run_tasks = _launch._run_tasks

    def spy(tasks, work, threads):
        runs.append((len(tasks), threads))
        return run_tasks(tasks, work, threads)

    monkeypatch.setattr(_launch, "_run_tasks", spy)
    out = make(half)
    fill(out, **kwargs)
    np.testing.assert_array_equal(bits(out), rounded_bits(reference, half))
    assert len(runs) == 1
    tasks, threads = runs[0]
    assert tasks > 10
    assert threads == _launch.thread_count() == max(1, numba.get_num_threads())


# -- bounds ---------------------------------------------------------------------

BOUNDED = [
    ("uniform -1..1", lambda o: fastglorot.uniform_(o, -1.0, 1.0, seed=4), -1.0, 1.0),
    ("uniform 0..1", lambda o: fastglorot.uniform_(o, 0.0, 1.0, seed=4), 0.0, 1.0),
    ("uniform 0.5..0.75", lambda o: fastglorot.uniform_(o, 0.5, 0.75, seed=4), 0.5, 0.75),
    ("trunc -2..2", lambda o: fastglorot.trunc_normal_(o, 0.0, 1.0, -2.0, 2.0, seed=4), -2.0, 2.0),
    ("trunc wide std", lambda o: fastglorot.trunc_normal_(o, 0.0, 50.0, -2.0, 2.0, seed=4), -2.0, 2.0),
    ("trunc 0.5..0.75", lambda o: fastglorot.trunc_normal_(o, 0.625, 1.0, 0.5, 0.75, seed=4), 0.5, 0.75),
]


@pytest.mark.parametrize("name, fill, a, b", BOUNDED, ids=[c[0] for c in BOUNDED])
@pytest.mark.parametrize("half", HALVES, ids=HALF_IDS)
def test_representable_bounds_are_never_left(half, name, fill, a, b):
    """Bounds exactly representable in the 16-bit format: rounding may reach
    them (closed interval) but never pass them."""
    assert float(half.type(a)) == a and float(half.type(b)) == b
    out = np.empty(1 << 17, half)
    fill(out)
    values = out.astype(np.float64)
    assert values.min() >= a and values.max() <= b
    # The bounds are approached closely, so the check is not vacuous.
    ulp = 2.0**-10 if half == F16 else 2.0**-7
    assert values.min() <= a + 2 * ulp * max(abs(a), 1) and values.max() >= b - 2 * ulp * max(abs(b), 1)


def test_unrepresentable_bound_is_reached_rounded():
    """README "Buffers, dtypes and arguments": a 16-bit output is the rounded
    float32 draw, so a bound the 16-bit format cannot hold (0.1) is reached
    as its 16-bit rounding (0.100097656 in bfloat16, 0.099975586 in float16)
    -- never passed by more than that rounding.  float32 keeps its values
    strictly inside.  The reproduction of the report: 2**24 bfloat16 values
    on [-0.1, 0.1], seed 0."""
    out = fastglorot.uniform_(np.empty(1 << 24, BF16), -0.1, 0.1, seed=0)
    values = out.astype(np.float64)
    rounded = float(BF16.type(0.1))
    assert rounded == 0.10009765625
    assert values.max() == rounded and values.min() == -rounded
    assert 0 < np.count_nonzero(np.abs(values) == rounded) < 2e-3 * out.size
    exact = fastglorot.uniform_(np.empty(1 << 20, np.float32), -0.1, 0.1, seed=0)
    assert np.abs(exact).max() < np.float32(0.1)


WIDE = dict(fan_in=10**17, fan_out=10**17)  # largest |value| <= 2.2e-8 < 2**-25 (float16 rounds it to 0)


@pytest.mark.parametrize("call", [
    lambda: fastglorot.glorot_uniform((64, 64), dtype=np.float16, seed=0, **WIDE),
    lambda: fastglorot.glorot_normal((64, 64), dtype=np.float16, seed=0, **WIDE),
    lambda: fastglorot.variance_scaling((64, 64), 1.0, "fan_avg", "truncated_normal", dtype=np.float16, seed=0,
                                        **WIDE),
    lambda: fastglorot.uniform_(np.empty(64, np.float16), -1e-8, 1e-8, seed=0),
    lambda: fastglorot.normal_(np.empty(64, np.float16), 0.0, 1e-9, seed=0),
    lambda: fastglorot.trunc_normal_(np.empty(64, np.float16), 0.0, 1e-8, -2e-8, 2e-8, seed=0),
], ids=["glorot_uniform", "glorot_normal", "variance_scaling truncated", "uniform_", "normal_", "trunc_normal_"])
def test_float16_fill_that_rounds_to_zero_warns_at_the_callers_line(call):
    with pytest.warns(UserWarning, match="every value of this float16 fill is 0") as record:
        out = call()
    assert not np.any(out)
    assert record[0].filename == __file__  # attributed to the user's call, not to fastglorot's internals


@pytest.mark.parametrize("call", [
    lambda: fastglorot.glorot_uniform((64, 64), dtype=ml_dtypes.bfloat16, seed=0, **WIDE),  # bfloat16: float32 range
    lambda: fastglorot.glorot_uniform((64, 64), dtype=np.float32, seed=0, **WIDE),
    lambda: fastglorot.glorot_uniform((64, 64), dtype=np.float16, seed=0, fan_in=10**14, fan_out=10**14),
    lambda: fastglorot.uniform_(np.empty(64, np.float16), 0.0, 0.0, seed=0),  # zeros asked for
    lambda: fastglorot.normal_(np.empty(64, np.float16), 0.0, 0.0, seed=0),
], ids=["bfloat16", "float32", "float16 bound above the limit", "low == high == 0", "std == 0"])
def test_no_warning_when_values_survive_or_zeros_are_asked_for(call):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        call()


def test_torch_float16_fill_that_rounds_to_zero_warns(torch_module):
    import fastglorot.torch

    t = torch_module.empty(8, 8, dtype=torch_module.float16)
    with pytest.warns(UserWarning, match="every value of this float16 fill is 0") as record:
        fastglorot.torch.uniform_(t, -1e-8, 1e-8)
    assert record[0].filename == __file__ and not t.any()


# -- no full float32 temporary ---------------------------------------------------

@pytest.mark.parametrize("order", ["C", "F"])
def test_no_full_float32_temporary(order):
    """A 16 Mi-element bfloat16 fill allocates well under the 64 MiB a float32
    copy of the output would take (peak NumPy allocations, via tracemalloc)."""
    n_rows, n_cols = 4096, 4096
    n = n_rows * n_cols
    out = np.empty((n_rows, n_cols), BF16, order=order)
    tracemalloc.start()
    try:
        np.empty(n, np.float32)  # positive control: tracemalloc sees NumPy buffers
        _, control_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        fastglorot.normal_(out, seed=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    if control_peak < 4 * n:
        pytest.skip("tracemalloc does not trace NumPy allocations here")
    assert peak < 3 * n, f"peak {peak / 2**20:.1f} MiB"
    assert np.isfinite(out[::97, ::89].astype(np.float32)).all()


# -- torch tensors -----------------------------------------------------------------

@pytest.fixture
def torch_module():
    return pytest.importorskip("torch")


TORCH_VIEWS = {
    "contiguous": lambda t, dt: t.empty(48, 40, dtype=dt),
    "transposed": lambda t, dt: t.empty(40, 48, dtype=dt).t(),
    "sliced_step": lambda t, dt: t.empty(100, 90, dtype=dt)[::3, 2::4],
    "permuted_3d": lambda t, dt: t.empty(4, 5, 60, dtype=dt).permute(2, 0, 1),
}

TORCH_FILLS = {
    "glorot_uniform_": lambda o: fastglorot.glorot_uniform_(o, seed=8, stream=1, offset=3),
    "normal_": lambda o: fastglorot.normal_(o, 0.0, 0.02, seed=8, stream="h", offset=0),
    "trunc_normal_": lambda o: fastglorot.trunc_normal_(o, 0.0, 1.0, -2.0, 2.0, seed=8, stream=2, offset=513),
    "kaiming_normal_": lambda o: fastglorot.kaiming_normal_(o, seed=8, stream=3, offset=1),
}


@pytest.mark.parametrize("fill", TORCH_FILLS)
@pytest.mark.parametrize("view", TORCH_VIEWS)
@pytest.mark.parametrize("half", HALF_IDS)
def test_torch_half_tensors(torch_module, half, view, fill):
    torch = torch_module
    torch_dtype = getattr(torch, half)
    tensor = TORCH_VIEWS[view](torch, torch_dtype)
    assert TORCH_FILLS[fill](tensor) is tensor
    got = tensor.view(torch.int16).numpy().view(np.uint16)

    expected = np.empty(tuple(tensor.shape), F16 if half == "float16" else BF16)
    TORCH_FILLS[fill](expected)
    np.testing.assert_array_equal(got, bits(expected))

    # torch's own float32 -> half conversion (also round to nearest even) agrees.
    reference = TORCH_VIEWS[view](torch, torch.float32)
    TORCH_FILLS[fill](reference)
    np.testing.assert_array_equal(got, reference.to(torch_dtype).view(torch.int16).numpy().view(np.uint16))


# -- allocating initializers ---------------------------------------------------

@pytest.mark.parametrize("dtype, half", [("bfloat16", BF16), (ml_dtypes.bfloat16, BF16), (BF16, BF16),
                                         (np.float16, F16), ("float16", F16), ("<f2", F16)],
                         ids=["str_bfloat16", "ml_dtypes_type", "ml_dtypes_dtype", "np_float16", "str_float16",
                              "str_f2"])
def test_allocating_half(dtype, half):
    result = fastglorot.glorot_uniform((64, 32), dtype=dtype, seed=1)
    assert isinstance(result, np.ndarray)
    assert result.dtype == half and result.shape == (64, 32)
    in_place = fastglorot.glorot_uniform_(np.empty((64, 32), half), seed=1)
    np.testing.assert_array_equal(bits(result), bits(in_place))
    reference = fastglorot.glorot_uniform((64, 32), seed=1)
    assert reference.dtype == np.float32
    np.testing.assert_array_equal(bits(result), rounded_bits(reference, half))


ALLOCATORS = {
    "glorot_normal": lambda shape, **k: fastglorot.glorot_normal(shape, truncated=True, **k),
    "kaiming_normal": lambda shape, **k: fastglorot.kaiming_normal(shape, mode="fan_out", **k),
    "lecun_normal": lambda shape, **k: fastglorot.lecun_normal(shape, **k),
    "variance_scaling": lambda shape, **k: fastglorot.variance_scaling(shape, 0.5, "fan_avg", "uniform", **k),
    "trunc_normal": lambda shape, **k: fastglorot.trunc_normal(shape, 0.0, 0.02, -0.04, 0.04, **k),
}


@pytest.mark.parametrize("name", ALLOCATORS)
@pytest.mark.parametrize("half", HALVES, ids=HALF_IDS)
def test_allocating_initializers(half, name):
    result = ALLOCATORS[name]((24, 16, 3), dtype=half, seed=5, stream=4, offset=9)
    assert result.dtype == half and result.shape == (24, 16, 3)
    reference = ALLOCATORS[name]((24, 16, 3), dtype=np.float32, seed=5, stream=4, offset=9)
    np.testing.assert_array_equal(bits(result), rounded_bits(reference, half))


@pytest.mark.parametrize("dtype", [np.int32, "float8_e4m3fn", np.complex64, ml_dtypes.float8_e4m3fn, np.int16,
                                   "int16", np.uint16, None],
                         ids=["int32", "str_float8", "complex64", "ml_float8", "int16", "str_int16", "uint16",
                              "None"])
@pytest.mark.parametrize("name", ["glorot_uniform", "trunc_normal", "variance_scaling"])
def test_allocating_unsupported_dtype(name, dtype):
    with pytest.raises(TypeError):
        getattr(fastglorot, name)((8, 8), dtype=dtype, seed=0)
