"""Bad arguments stay clean (issue #12): extreme finite values never escape as another exception.

Every public sampler and in-place initializer either returns its buffer
filled with finite values, or raises ``TypeError``/``ValueError`` before
writing anything.  A hypothesis property drives each one with extreme
arguments (subnormals, 0, the dtype maxima, 1e308, integers too large for a
float, numpy scalars, fractions, wrong types); explicit regression tests pin
the messages of the cases that used to raise ``OverflowError``, write inf or
say something unclear.
"""

from __future__ import annotations

import math
import warnings
from decimal import Decimal
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastglorot
from fastglorot._format import params as _params
from fastglorot._format.tables import FORMATS

BF16 = np.dtype(ml_dtypes.bfloat16)
DTYPES = [np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16), BF16]
F32_MAX = float(np.finfo(np.float32).max)
F64_MAX = float(np.finfo(np.float64).max)
BF16_MAX = float(ml_dtypes.finfo(ml_dtypes.bfloat16).max)
Z32, Z64 = math.sqrt(66 * math.log(2)), math.sqrt(106 * math.log(2))

# -- strategies -----------------------------------------------------------------------

_EXTREMES = [
    0.0, -0.0, 5e-324, 1e-320, 2.2250738585072014e-308, 1e-300, 1e-162, 1e-45, 1e-40, 6e-8, 1e-5, 0.5, 1.0, 2.0,
    9686.0, 9700.0, 65504.0, 65519.0, 65520.0, 1e5, 5e37, BF16_MAX, 3e38, F32_MAX, 3.5e38, 1e39, 1e77, 1e154,
    1.3407807929942596e154, 1.35e154, 1e200, 1e300, 1e308, F64_MAX,
]
EXTREME_FLOATS = st.sampled_from(_EXTREMES + [-x for x in _EXTREMES])
ODD_REALS = st.sampled_from([
    10**400, -10**400, 2**1024, 2**63, 3, -2, 0, np.int64(3), np.uint64(2**64 - 1), np.float32(3e38),
    np.float32(1e-45), np.float16(65504), np.float64(1e308), np.longdouble(1e308), Fraction(1, 3),
    Fraction(10**400, 3), Fraction(1, 10**400),
])
WRONG_KINDS = st.sampled_from([True, np.bool_(False), Decimal("1.5"), "1.0", None, 1j, float("nan"), float("inf"),
                               -float("inf")])
# Branches are picked about equally often: extreme floats dominate, wrong kinds are one draw in ten.
REALS = st.one_of(
    EXTREME_FLOATS, EXTREME_FLOATS, EXTREME_FLOATS,
    st.floats(allow_nan=False, allow_infinity=False),  # anything finite, subnormals included
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=-100.0, max_value=100.0),  # in range: the calls that succeed
    st.floats(min_value=-100.0, max_value=100.0),
    st.floats(min_value=1e-6, max_value=10.0),
    ODD_REALS,
    WRONG_KINDS,
)
POSITIVE_REALS = st.one_of(st.floats(min_value=1e-6, max_value=10.0),
                           REALS.map(lambda x: abs(x) if type(x) is float else x), REALS)
FANS = st.one_of(st.none(), st.none(), st.integers(min_value=1, max_value=4096), st.sampled_from([
    1, 2**31, 2**53 + 1, 2**62, 2**63 - 1, 2**63, 2**64, 10**400, 0, -1, np.int64(5), np.uint64(2**63 - 1),
    np.uint64(2**64 - 1), True, 2.0, "3",
]))
# seed, stream and offset: mostly valid (the numeric arguments are the subject), sometimes extreme.
SEEDS = st.one_of(*[st.integers(min_value=0, max_value=2**64 - 1)] * 5,
                  st.sampled_from([0, 2**64 - 1, -1, 2**64, 10**400, 1.5, True, np.uint64(7), None]))
STREAMS = st.one_of(*[st.integers(min_value=0, max_value=2**64 - 1)] * 5,
                    st.sampled_from([0, "layer.weight", 2**64, -1, 10**400, 2.0, b"x"]))
OFFSETS = st.sampled_from([0] * 12 + [1, 2**62 - 64, 2**62, -1, 10**400, 1.5, np.int64(3)])
SHAPES = st.sampled_from([(2, 3), (3, 2, 2), (4, 1), (1, 1), (2, 3), (3, 2, 2), (4, 1), (1, 1), (5,), (0, 3)])
MODES = st.sampled_from(["fan_in", "fan_out", "fan_avg", "fan_geo_avg"] * 3 + ["fan_sideways"])
KAIMING_MODES = st.sampled_from(["fan_in", "fan_out", "fan_avg"])
DISTRIBUTIONS = st.sampled_from(["truncated_normal", "normal", "untruncated_normal", "uniform"] * 3 + ["cauchy"])
NONLINEARITIES = st.sampled_from(["leaky_relu"] * 6 + ["relu", "tanh", "selu", "linear", "swish"])
LAYOUTS = st.sampled_from(["torch", "jax", "keras"])


def _common():
    return dict(seed=SEEDS, stream=STREAMS, offset=OFFSETS, layout=LAYOUTS, fan_in=FANS, fan_out=FANS)


def _ordered(pair):
    """Half the (low, high) pairs sorted, so that ordered extreme bounds are exercised as often as bad ones."""
    return st.tuples(pair, st.booleans()).map(
        lambda t: tuple(sorted(t[0])) if t[1] and all(isinstance(v, float) for v in t[0]) else t[0])


_SPANS = st.one_of(st.sampled_from([0.0, 1e-300, 1e-8, 0.5, 2.0, 37.0, 38.0, 1e10, 1e300]),
                   st.floats(min_value=-40.0, max_value=40.0))
# (mean, std, a, b) with a, b = mean + span * std: extreme means and stds with bounds that are often in reach.
_TRUNCATED = st.tuples(st.one_of(EXTREME_FLOATS, st.floats(min_value=-100.0, max_value=100.0)),
                       st.one_of(EXTREME_FLOATS.map(abs), st.floats(min_value=1e-6, max_value=100.0)),
                       _SPANS, _SPANS).map(
    lambda t: (t[0], t[1], t[0] + min(t[2], t[3]) * t[1], t[0] + (max(t[2], t[3]) + 0.5) * t[1]))


# Each public function: positional arguments and keyword arguments, as strategies.
CALLS = {
    "uniform_": (_ordered(st.tuples(REALS, REALS)), dict(seed=SEEDS, stream=STREAMS, offset=OFFSETS)),
    "normal_": (st.tuples(REALS, POSITIVE_REALS), dict(seed=SEEDS, stream=STREAMS, offset=OFFSETS)),
    "trunc_normal_": (st.one_of(st.tuples(REALS, POSITIVE_REALS).flatmap(
        lambda ms: _ordered(st.tuples(REALS, REALS)).map(lambda ab: ms + ab)), _TRUNCATED),
        dict(seed=SEEDS, stream=STREAMS, offset=OFFSETS)),
    "variance_scaling_": (st.tuples(POSITIVE_REALS, MODES, DISTRIBUTIONS), _common()),
    "glorot_uniform_": (st.just(()), dict(gain=POSITIVE_REALS, **_common())),  # xavier_*: the same functions
    "glorot_normal_": (st.just(()), dict(gain=POSITIVE_REALS, truncated=st.sampled_from([False, True, True, 1]),
                                         **_common())),
    "kaiming_uniform_": (st.tuples(REALS, KAIMING_MODES, NONLINEARITIES), _common()),
    "kaiming_normal_": (st.tuples(REALS, KAIMING_MODES, NONLINEARITIES), _common()),
    "he_uniform_": (st.just(()), _common()),
    "he_normal_": (st.just(()), _common()),
    "lecun_uniform_": (st.just(()), _common()),
    "lecun_normal_": (st.just(()), _common()),
}
XAVIER = {"xavier_uniform_": "glorot_uniform_", "xavier_normal_": "glorot_normal_"}
ALLOCATING = ["uniform", "normal", "trunc_normal", "variance_scaling", "glorot_uniform", "glorot_normal",
              "kaiming_normal", "lecun_uniform"]


def _sentinel(shape, dtype):
    """A buffer prefilled with a byte pattern (some elements are NaN patterns: the fill must replace them)."""
    out = np.empty(shape, dtype)
    raw = out.reshape(-1).view(np.uint8)
    raw[:] = (np.arange(raw.size) * 37 + 11) % 251
    return out


def _call(function, out, args, kwargs):
    """``function(out, *args, **kwargs)`` with RuntimeWarnings (numpy overflow in a cast) as errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.filterwarnings("ignore", "Initializing zero-element tensors is a no-op")
        warnings.filterwarnings("ignore", ".*every value of this float16 fill is 0")  # extreme arguments, on purpose
        return function(out, *args, **kwargs)


def _finite(array):
    return bool(np.isfinite(np.asarray(array).astype(np.float64)).all())


PROPERTY = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@pytest.mark.parametrize("name", list(CALLS))
@PROPERTY
@given(data=st.data())
def test_success_is_finite_or_the_error_is_clean(name, data):
    positional, keywords = CALLS[name]
    args = data.draw(positional, label="args")
    kwargs = data.draw(st.fixed_dictionaries({}, optional=keywords), label="kwargs")
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    shape = data.draw(SHAPES, label="shape")
    out = _sentinel(shape, dtype)
    before = out.tobytes()
    try:
        result = _call(getattr(fastglorot, name), out, args, kwargs)
    except (TypeError, ValueError) as error:
        assert str(error), "errors carry a message"
        assert out.tobytes() == before, f"{name} raised {error!r} after writing"
        return
    assert result is out
    assert _finite(out), f"{name}{args} {kwargs} wrote non-finite values into {dtype}"


def test_every_public_fill_is_covered():
    public = {"uniform_", "normal_", "trunc_normal_", *(row.in_place for row in fastglorot.INITIALIZERS.values())}
    assert public | set(XAVIER) <= set(CALLS) | set(XAVIER) and set(CALLS) <= public
    for alias, name in XAVIER.items():
        assert getattr(fastglorot, alias) is getattr(fastglorot, name)


@pytest.mark.parametrize("name", ALLOCATING)
@settings(PROPERTY, max_examples=30)
@given(data=st.data())
def test_allocating_twins_give_finite_arrays_or_clean_errors(name, data):
    in_place = name + "_"
    positional, keywords = CALLS[in_place]
    args = data.draw(positional, label="args")
    kwargs = data.draw(st.fixed_dictionaries({}, optional=keywords), label="kwargs")
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    shape = data.draw(SHAPES, label="shape")
    try:
        result = _call(getattr(fastglorot, name), shape, args, dict(kwargs, dtype=dtype))
    except (TypeError, ValueError):
        return
    assert result.shape == shape and result.dtype == dtype
    assert _finite(result)


@settings(PROPERTY, max_examples=200)
@given(nonlinearity=NONLINEARITIES, param=st.one_of(st.none(), REALS))
def test_calculate_gain_returns_a_float_or_raises_value_error(nonlinearity, param):
    try:
        gain = fastglorot.calculate_gain(nonlinearity, param)
    except ValueError:
        return
    assert type(gain) is float
    if nonlinearity == "leaky_relu" and isinstance(param, float) and not math.isfinite(param):
        return  # torch's values for inf and nan slopes (0.0 and nan) are kept
    assert 0 < gain <= 5.0 / 3


# -- regressions: the reported cases ------------------------------------------------

def fresh(dtype=np.float32, shape=(4, 5)):
    return _sentinel(shape, dtype)


@pytest.mark.parametrize("call, error, fragment", [
    # OverflowError before #12
    (lambda w: fastglorot.glorot_uniform_(w, gain=1e300, seed=0), ValueError,
     r"gain=1e\+300 is too large: the variance scale gain\*\*2 overflows float64; gain must be below 1.34e154"),
    (lambda w: fastglorot.glorot_normal_(w, gain=1e200, seed=0), ValueError, r"gain\*\*2 overflows"),
    (lambda w: fastglorot.xavier_normal_(w, gain=-1e200, seed=0), ValueError, "gain must be positive"),
    (lambda w: fastglorot.kaiming_normal_(w, a=-1e300, seed=0), ValueError,
     r"negative_slope -1e\+300 is too large: negative_slope\*\*2 overflows float64"),
    (lambda w: fastglorot.kaiming_uniform_(w, a=1e155, seed=0), ValueError, r"kaiming's a\) must be below 1.34e154"),
    (lambda w: fastglorot.variance_scaling_(w, 1.0, "fan_in", "uniform", fan_in=10**400, seed=0), ValueError,
     r"fan_in must be at most 2\*\*63 - 1, got 1000.*\(401 characters\)"),
    (lambda w: fastglorot.variance_scaling_(w, 1.0, "fan_geo_avg", "uniform", fan_in=10**200, fan_out=10**200,
                                            seed=0), ValueError, r"fan_in must be at most 2\*\*63 - 1"),
    (lambda w: fastglorot.he_normal_(w, fan_out=2**63, seed=0), ValueError, r"fan_out must be at most 2\*\*63 - 1"),
    (lambda w: fastglorot.glorot_uniform_(w, gain=10**400, seed=0), ValueError,
     "gain must be finite, got 1000.*which overflows float64"),
    (lambda w: fastglorot.glorot_uniform_(w, gain=Fraction(10**400, 3), seed=0), ValueError, "gain must be finite"),
    (lambda w: fastglorot.variance_scaling_(w, 10**400, seed=0), ValueError, "scale must be finite"),
    (lambda w: fastglorot.normal_(w, 10**400, seed=0), ValueError, "mean must be finite.*overflows float64"),
    (lambda w: fastglorot.uniform_(w, -(10**400), 0.0, seed=0), ValueError, "low must be finite"),
    (lambda w: fastglorot.trunc_normal_(w, 0.0, 1.0, -2.0, 2**1024, seed=0), ValueError, "b must be finite"),
    (lambda w: fastglorot.calculate_gain("leaky_relu", 10**400), ValueError, "too large for a float"),
    # unclear messages before #12
    (lambda w: fastglorot.glorot_uniform_(w, gain=1e-300, seed=0), ValueError,
     r"gain=1e-300 is too small: the variance scale gain\*\*2 underflows to 0 in float64; gain must be at least"),
    (lambda w: fastglorot.variance_scaling_(w, 1e308, "fan_in", "uniform", seed=0), ValueError,
     r"variance scale / n = 1e\+308 / 5 .*the uniform bound sqrt\(3 \* scale / n\) = 7.74597e\+153 is outside "
     r"the float32 range .*scale / n must be at most about 3.86e\+76"),
    (lambda w: fastglorot.variance_scaling_(w, 1e308, "fan_in", "uniform", fan_in=1, seed=0), ValueError,
     r"sqrt\(3 \* scale / n\) = inf \(overflows float64\)"),
    (lambda w: fastglorot.variance_scaling_(w, 1e300, "fan_in", "normal", seed=0), ValueError,
     r"the normal std sqrt\(scale / n\) = .* beyond the float32 range"),
    (lambda w: fastglorot.variance_scaling_(w, 1e300, "fan_in", "truncated_normal", seed=0), ValueError,
     r"the truncated normal's bound 2 \* sqrt\(scale / n\) / 0.8796.* is outside the float32 range"),
    (lambda w: fastglorot.variance_scaling_(w, 1e-320, "fan_in", "truncated_normal", fan_in=10**6, seed=0),
     ValueError, "the variance underflows to 0 in float64"),
    # non-finite output before #12
    (lambda w: fastglorot.normal_(w, 0.0, 3e38, seed=0), ValueError,
     r"normal_ with mean=0.0, std=3e\+38: samples mean \+ std\*z with \|z\| up to 6.7637 reach .* beyond the "
     r"float32 range .* would be written as inf; std must be at most 5.03"),
    (lambda w: fastglorot.normal_(w, 3e38, 3e38, seed=0), ValueError, "beyond the float32 range"),
    (lambda w: fastglorot.normal_(w, -3e38, 1e37, seed=0), ValueError, "beyond the float32 range"),
    # wrong kinds
    (lambda w: fastglorot.glorot_uniform_(w, gain=True, seed=0), TypeError, "gain must be a real number"),
    (lambda w: fastglorot.glorot_uniform_(w, gain=Decimal("1.5"), seed=0), TypeError, "got Decimal"),
    (lambda w: fastglorot.normal_(w, 0.0, np.bool_(True), seed=0), TypeError, "std must be a real number"),
    (lambda w: fastglorot.he_uniform_(w, fan_in=2.0, seed=0), TypeError, "fan_in must be a positive integer"),
    (lambda w: fastglorot.kaiming_normal_(w, a=Decimal(1), seed=0), ValueError, "not a valid number"),
    # seed, stream, offset extremes
    (lambda w: fastglorot.uniform_(w, seed=10**400), ValueError, r"seed must lie in \[0, 2\*\*64\), got 1000.*"
     r"\(401 characters\)"),
    (lambda w: fastglorot.uniform_(w, seed=np.uint64(1), stream=10**400), ValueError, "stream must lie in"),
    (lambda w: fastglorot.uniform_(w, seed=0, offset=10**400), ValueError, "offset.* must not exceed 2\\*\\*62"),
    (lambda w: fastglorot.uniform_(w, seed=0, offset=-(10**400)), ValueError, "offset must be non-negative"),
    (lambda w: fastglorot.uniform_(w, seed=0, offset=1.0), TypeError, "offset must be an integer"),
])
def test_reported_cases_raise_clean_errors(call, error, fragment):
    w = fresh()
    before = w.tobytes()
    with pytest.raises(error, match=fragment):
        call(w)
    assert w.tobytes() == before


def test_float16_normal_that_would_overflow_is_rejected():
    w = np.full(4, 1.5, np.float16)
    with pytest.raises(ValueError, match=r"beyond the float16 range \(largest finite value 65504\).*inf"):
        fastglorot.normal_(w, 0.0, 6e4, seed=0)
    with pytest.raises(ValueError, match="beyond the float16 range"):
        fastglorot.normal_(w, 65504.0, 3.0, seed=0)
    with pytest.raises(ValueError, match=r"scale is gain\*\*2.*beyond the float16 range"):
        fastglorot.glorot_normal_(np.zeros((2, 2), np.float16), gain=50000.0, seed=0)
    assert (w == 1.5).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_normal_limit_is_sharp_and_sound(dtype):
    """The largest accepted std fills finite values even at the extreme |z|; a slightly larger one is refused.

    The worst case is emulated with the kernels' own arithmetic: ``mean + (r * std) * c`` with the radius ``r``
    of the smallest uniform and ``|c| = 1``, in the draw dtype, then rounded to the output dtype.
    """
    fmt = dtype.name
    ftype = np.float64 if fmt == "float64" else np.float32
    z = Z64 if fmt == "float64" else Z32
    for mean in (0.0, 1.0, FORMATS[fmt].normal_limit / 2):
        lo, hi = 0.0, FORMATS[fmt].normal_limit
        for _ in range(200):  # bisect for the largest std accepted
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if _params.normal_fits(fmt, mean, mid) else (lo, mid)
        largest = lo
        assert largest >= (FORMATS[fmt].normal_limit - mean) / z * (1 - 2e-6)  # at most the 2**-20 margin lost
        assert not _params.normal_fits(fmt, mean, largest * (1 + 1e-5))
        if fmt == "float64":
            radius = np.float64(8.571674348652905) * (1 + 2**-50)  # minus_two_log(0.5 * 2**-52), a few ulps up
        else:
            from fastglorot._engines.numba_elements import normal_radius_f32
            radius = normal_radius_f32(np.uint32(0))
        with np.errstate(over="raise"):
            worst = ftype(mean) + (ftype(radius) * ftype(largest)) * ftype(1.0)
            assert np.isfinite(np.array([worst, -worst]).astype(dtype).astype(np.float64)).all()
        w = np.zeros(1024, dtype)
        fastglorot.normal_(w, mean, largest, seed=1)
        assert _finite(w)
        before = w.tobytes()
        with pytest.raises(ValueError, match=f"beyond the {fmt} range"):
            fastglorot.normal_(w, mean, largest * (1 + 1e-5), seed=1)
        assert w.tobytes() == before


@pytest.mark.parametrize("dtype, maximum", [(np.float32, F32_MAX), (np.float16, 65504.0), (BF16, BF16_MAX),
                                            (np.float64, F64_MAX)], ids=["float32", "float16", "bfloat16",
                                                                         "float64"])
def test_normal_at_the_dtype_maximum_still_works(dtype, maximum):
    """A zero or small std at the largest mean was finite before #12 and keeps its bits."""
    w = fastglorot.normal_(np.zeros(8, dtype), maximum, 0.0, seed=0)
    assert (w.astype(np.float64) == maximum).all()
    w = fastglorot.normal_(np.zeros(8, dtype), -maximum, 0.0, seed=0)
    assert (w.astype(np.float64) == -maximum).all()
    if dtype in (np.float32, np.float64):
        w = fastglorot.normal_(np.zeros(8, dtype), maximum, 1.0, seed=0)
        assert (w == maximum).all()


def test_values_that_were_finite_keep_their_bits():
    """Arguments near the new limits: same bits as the same call with a comfortably valid std scaled."""
    # normal_ is mean + std * z: std 9680 on float16 (accepted) equals 9680 * (std 1 draw), rounded.
    seed = 5
    unit = fastglorot.normal_(np.zeros(4096, np.float32), 0.0, 1.0, seed=seed)
    wide = fastglorot.normal_(np.zeros(4096, np.float32), 0.0, 2.0**13, seed=seed)
    np.testing.assert_array_equal(wide, unit * np.float32(2.0**13))  # exact power-of-two scaling
    # gain: the generated code's gain ** 2 is unchanged; gain * gain is the same correctly rounded square.
    for gain in (1e-150, 1e-5, 1.0, math.sqrt(2.0), 1e150):
        a = fastglorot.glorot_uniform_(np.zeros((3, 4), np.float64), gain=gain, seed=3)
        b = fastglorot.variance_scaling_(np.zeros((3, 4), np.float64), gain * gain, "fan_avg", "uniform", seed=3)
        np.testing.assert_array_equal(a, b)


def test_subnormal_and_zero_variances_fill_zeros():
    """Underflow of the *variance* (not of gain**2) stays the finite fill it was: zeros for uniform and normal,
    and a truncated normal whose std is tiny but positive."""
    w = fastglorot.variance_scaling_(fresh(), 1e-320, "fan_in", "uniform", fan_in=10**6, seed=0)
    assert (w == 0).all()
    w = fastglorot.variance_scaling_(fresh(), 1e-320, "fan_in", "normal", fan_in=10**6, seed=0)
    assert (w == 0).all()
    w = fastglorot.variance_scaling_(fresh(np.float64), 1e-320, "fan_in", "truncated_normal", seed=0)
    assert _finite(w) and np.abs(w).max() < 1e-150
    w = fastglorot.trunc_normal_(fresh(), 0.0, 1e-320, -1.0, 1.0, seed=0)
    assert (w == 0).all()
    w = fastglorot.normal_(fresh(np.float64), 0.0, 5e-324, seed=0)
    assert _finite(w)


def test_largest_fans_are_accepted():
    w = fastglorot.variance_scaling_(fresh(np.float64), 1.0, "fan_geo_avg", "normal", fan_in=2**63 - 1,
                                     fan_out=np.uint64(2**63 - 1), seed=0)
    assert _finite(w) and 0 < np.abs(w).max() < 1e-8


def test_numpy_scalars_and_fractions_are_reals():
    a = fastglorot.glorot_uniform_(np.zeros((3, 4)), gain=Fraction(1, 3), seed=1)
    b = fastglorot.glorot_uniform_(np.zeros((3, 4)), gain=1 / 3, seed=1)
    np.testing.assert_array_equal(a, b)
    w = fastglorot.glorot_uniform_(np.zeros((3, 4), np.float32), gain=np.float32(1e19), seed=1)
    assert _finite(w)
    with pytest.raises(ValueError, match="uniform bound"):  # gain**2 = 9e76 is fine; the bound is not float16
        fastglorot.glorot_uniform_(np.zeros((3, 4), np.float16), gain=np.float32(3e38), seed=1)
    w = fastglorot.kaiming_uniform_(np.zeros((3, 4)), np.int64(-3), fan_in=np.int64(7), seed=1)
    assert _finite(w)


# -- calculate_gain ---------------------------------------------------------------------

@pytest.mark.parametrize("slope", [1e155, -1e155, 1e300, F64_MAX, 2**600, np.float64(1e200)])
def test_calculate_gain_overflowing_slope_is_value_error(slope):
    with pytest.raises(ValueError, match="negative_slope .* is too large"):
        fastglorot.calculate_gain("leaky_relu", slope)


@pytest.mark.parametrize("slope", [0.0, 0.01, -0.2, 5e-324, 1e-200, 1e100, 1e154, -1.34e154, 3, Fraction(1, 5),
                                   np.float32(0.2), 2**500])
def test_calculate_gain_values_unchanged(slope):
    value = float(slope)
    assert fastglorot.calculate_gain("leaky_relu", slope) == math.sqrt(2.0 / (1 + value**2))


def test_calculate_gain_slope_ignored_by_other_nonlinearities():
    assert fastglorot.calculate_gain("relu", 1e300) == math.sqrt(2.0)
    w = fastglorot.kaiming_normal_(np.zeros((3, 4)), a=1e300, nonlinearity="relu", seed=0)
    assert _finite(w)


# -- fastglorot.torch keeps torch's behaviour ------------------------------------------------

def test_torch_drop_in_leaves_overflowing_normal_fills_to_torch():
    """torch.nn.init.normal_ writes inf for such arguments; the drop-in does what torch does (torch's fill)."""
    torch = pytest.importorskip("torch")
    fi = pytest.importorskip("fastglorot.torch")
    for dtype, std in ((torch.float32, 3e38), (torch.float16, 6e4), (torch.bfloat16, 1e38)):
        tensor = torch.zeros(64, 8, dtype=dtype)
        fi.normal_(tensor, 0.0, std, generator=torch.Generator().manual_seed(0))
        assert torch.isinf(tensor).any()
    tensor = torch.zeros(64, 8)
    fi.xavier_normal_(tensor, gain=1e37)  # std 3e36: finite, fastglorot's own fill
    assert torch.isfinite(tensor).all()
    assert fi.calculate_gain is torch.nn.init.calculate_gain  # torch's own, OverflowError included


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, BF16], ids=lambda d: np.dtype(d).name)
def test_uniform_at_the_dtype_maximum_warns_nothing(dtype):
    """``low == high == max``: no value strictly inside, so the closed interval (the bound itself) is used;
    the probe past the maximum must not leak numpy's "overflow encountered in nextafter" warning."""
    top = float(ml_dtypes.finfo(dtype).max)
    for low, high in ((top, top), (-top, -top), (-top, top)):
        w = _call(fastglorot.uniform_, np.zeros(16, dtype), (low, high), dict(seed=0))
        assert _finite(w) and (w.astype(np.float64) >= low).all() and (w.astype(np.float64) <= high).all()
