"""compute_fans and calculate_gain against torch.nn.init (and jax/keras when installed)."""

import fractions
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fastglorot._api.fans import LAYOUTS, calculate_gain, compute_fans

FEWER_THAN_2 = "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"
HYPOTHESIS = settings(max_examples=200, deadline=None, derandomize=True, database=None)

EXPLICIT_SHAPES = [
    (4096, 4096), (512, 512, 3, 3), (50304, 4096), (64, 3, 7, 7), (0, 5),
    (5, 0), (0, 0), (1, 1), (1, 7), (7, 1), (3, 5), (10, 20, 0), (10, 20, 1), (10, 20, 5),
    (16, 8, 1, 1), (256, 128, 3, 3, 3), (2, 3, 0, 4, 5), (128, 1, 1, 1, 1), (1, 1, 1, 1, 1),
    (2**27, 2**27 + 1), (3, 2**20, 2**20), (65536, 65536, 2, 2),
]

# Stay well below torch's int64 byte-size limit (numel * 4 for float32) so the meta tensor can be built.
_NUMEL_LIMIT = 2**56


@st.composite
def torch_shapes(draw, min_dims=2, max_dims=5):
    """Shapes mixing zeros, ones, small and large dimensions, with a bounded element count."""
    ndim = draw(st.integers(min_dims, max_dims))
    dims, budget = [], _NUMEL_LIMIT
    for _ in range(ndim):
        cap = min(2**24, budget)
        d = draw(st.one_of(st.sampled_from([0, 1, 2, 3]), st.integers(0, 16), st.integers(0, cap)))
        dims.append(d)
        budget //= max(d, 1)
    return tuple(dims)


def torch_fans(shape):
    return torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape, device="meta"))


def jax_formula(shape):
    receptive = 1
    for d in shape[:-2]:
        receptive *= d
    return shape[-2] * receptive, shape[-1] * receptive


def to_jax_layout(torch_shape):
    """``(out, in, *kernel)`` -> ``(*kernel, in, out)``."""
    return (*torch_shape[2:], torch_shape[1], torch_shape[0])


def assert_int_pair(result):
    assert type(result) is tuple and len(result) == 2
    assert all(type(v) is int for v in result)


# --------------------------------------------------------------------------- compute_fans


@pytest.mark.parametrize("shape", EXPLICIT_SHAPES)
def test_torch_layout_matches_torch_explicit(shape):
    ours = compute_fans(shape)
    assert ours == torch_fans(shape)
    assert compute_fans(shape, layout="torch") == ours
    assert_int_pair(ours)


@HYPOTHESIS
@given(torch_shapes())
def test_torch_layout_matches_torch(shape):
    ours = compute_fans(shape, layout="torch")
    assert ours == torch_fans(shape)
    assert_int_pair(ours)


@pytest.mark.parametrize("layout", ["jax", "keras"])
@pytest.mark.parametrize("shape", EXPLICIT_SHAPES)
def test_jax_layout_explicit(shape, layout):
    jax_shape = to_jax_layout(shape)
    ours = compute_fans(jax_shape, layout=layout)
    assert ours == jax_formula(jax_shape)
    assert ours == compute_fans(shape, layout="torch") == torch_fans(shape)
    assert_int_pair(ours)


@HYPOTHESIS
@given(torch_shapes(), st.sampled_from(["jax", "keras"]))
def test_jax_layout_formula_and_transpose_consistency(shape, layout):
    jax_shape = to_jax_layout(shape)
    ours = compute_fans(jax_shape, layout=layout)
    assert ours == jax_formula(jax_shape)
    assert ours == torch_fans(shape)
    # The formula on the shape read as jax, independent of the transposition.
    assert compute_fans(shape, layout=layout) == jax_formula(shape)


def test_layout_examples():
    # Dense: torch (out, in) vs flax/keras (in, out).
    assert compute_fans((300, 100)) == (100, 300)
    assert compute_fans((100, 300), layout="jax") == (100, 300)
    # Conv2d 3x3, 64 -> 128 channels.
    assert compute_fans((128, 64, 3, 3)) == (64 * 9, 128 * 9)
    assert compute_fans((3, 3, 64, 128), layout="keras") == (64 * 9, 128 * 9)
    # The same 4-D shape read in both layouts differs.
    assert compute_fans((2, 3, 5, 7)) == (3 * 35, 2 * 35)
    assert compute_fans((2, 3, 5, 7), layout="jax") == (5 * 6, 7 * 6)


def test_layouts_constant():
    assert LAYOUTS == ("torch", "jax", "keras")


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", [(), (5,), [], [5], np.zeros(0, np.int64), np.array([5]), torch.Size([5])])
def test_fewer_than_two_dims(shape, layout):
    with pytest.raises(ValueError) as excinfo:
        compute_fans(shape, layout=layout)
    assert str(excinfo.value) == FEWER_THAN_2


@pytest.mark.parametrize("shape", [(), (5,)])
def test_fewer_than_two_dims_message_is_torchs(shape):
    with pytest.raises(ValueError) as excinfo:
        torch_fans(shape)
    assert str(excinfo.value) == FEWER_THAN_2


@pytest.mark.parametrize("layout", ["tf", "flax", "TORCH", "Jax", "", None, "torch ", 0])
def test_unknown_layout(layout):
    with pytest.raises(ValueError, match="layout"):
        compute_fans((3, 4), layout=layout)


@pytest.mark.parametrize(
    "shape",
    [
        (64, 3, 7, 7),
        [64, 3, 7, 7],
        torch.Size([64, 3, 7, 7]),
        np.array([64, 3, 7, 7]),
        np.array([64, 3, 7, 7], dtype=np.int32),
        np.array([64, 3, 7, 7], dtype=np.uint64),
        (np.int64(64), np.int64(3), np.int64(7), np.int64(7)),
        [np.int32(64), 3, np.uint8(7), np.int16(7)],
        torch.empty((64, 3, 7, 7), device="meta").shape,
        np.empty((64, 3, 7, 7)).shape,
    ],
    ids=lambda s: type(s).__name__,
)
def test_shape_types(shape):
    expected = {"torch": (3 * 49, 64 * 49), "jax": (7 * 64 * 3, 7 * 64 * 3), "keras": (7 * 64 * 3, 7 * 64 * 3)}
    for layout in LAYOUTS:
        result = compute_fans(shape, layout=layout)
        assert result == expected[layout]
        assert_int_pair(result)  # numpy integers come back as Python ints


@pytest.mark.parametrize("shape", [(3.0, 4), (3, 4.5), np.array([3.0, 4.0]), ("3", 4), (3, None)])
def test_non_integer_dims_rejected(shape):
    with pytest.raises(TypeError):
        compute_fans(shape)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", [(-1, 3), (3, -1), (4, 4, -2), (4, 4, 3, -3, 3)])
def test_negative_dims_rejected(shape, layout):
    with pytest.raises(ValueError, match="non-negative"):
        compute_fans(shape, layout=layout)


def test_python_ints_do_not_overflow():
    shape = (2**40, 2**40, 2**40)
    assert compute_fans(shape) == (2**80, 2**80)
    assert compute_fans(shape, layout="jax") == (2**80, 2**80)


def _nonzero(shape):
    return all(d > 0 for d in shape)


@HYPOTHESIS
@given(torch_shapes().filter(_nonzero))
def test_matches_jax_initializers(shape):
    pytest.importorskip("jax")
    try:
        from jax._src.nn.initializers import _compute_fans
    except ImportError:  # private helper moved
        pytest.skip("jax._src.nn.initializers._compute_fans not available")
    jax_shape = to_jax_layout(shape)
    # jax divides the total size by the two axes (floats), hence the non-zero shapes.
    assert tuple(map(float, compute_fans(jax_shape, layout="jax"))) == tuple(map(float, _compute_fans(jax_shape)))


def test_matches_keras():
    pytest.importorskip("keras")
    try:
        from keras.src.initializers.random_initializers import compute_fans as keras_compute_fans
    except ImportError:
        pytest.skip("keras.src.initializers.random_initializers.compute_fans not available")
    for shape in EXPLICIT_SHAPES:
        jax_shape = to_jax_layout(shape)
        assert compute_fans(jax_shape, layout="keras") == tuple(keras_compute_fans(jax_shape)), shape


# --------------------------------------------------------------------------- calculate_gain

TORCH_NAMES = [
    "linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "sigmoid", "tanh", "relu", "leaky_relu", "selu",
]
EXPECTED_GAINS = {
    **dict.fromkeys(TORCH_NAMES[:8], 1.0),
    "tanh": 5 / 3, "relu": math.sqrt(2), "leaky_relu": math.sqrt(2 / (1 + 0.01**2)), "selu": 0.75,
}


@pytest.mark.parametrize("name", TORCH_NAMES)
def test_gain_matches_torch(name):
    ours = calculate_gain(name)
    assert type(ours) is float
    assert ours == torch.nn.init.calculate_gain(name)
    assert ours == EXPECTED_GAINS[name]


@pytest.mark.parametrize("param", [None, 0, 0.0, 0.2, -0.5, 3, 1e-3, 1, -1, 100.0, np.float64(0.2)])
def test_leaky_relu_matches_torch(param):
    ours = calculate_gain("leaky_relu", param)
    assert type(ours) is float
    assert ours == torch.nn.init.calculate_gain("leaky_relu", param)
    slope = 0.01 if param is None else param
    assert ours == pytest.approx(math.sqrt(2 / (1 + slope**2)), rel=1e-15)


def test_leaky_relu_default_slope():
    assert calculate_gain("leaky_relu") == calculate_gain("leaky_relu", 0.01) == calculate_gain("leaky_relu", None)


@pytest.mark.parametrize("name", [n for n in TORCH_NAMES if n != "leaky_relu"])
@pytest.mark.parametrize("param", [0.2, 3, True, "x"])
def test_param_ignored_outside_leaky_relu(name, param):
    ours = calculate_gain(name, param)
    assert ours == torch.nn.init.calculate_gain(name, param) == EXPECTED_GAINS[name]
    assert type(ours) is float


@pytest.mark.parametrize(
    "name", ["identity", "Relu", "RELU", "gelu", "silu", "softplus", "conv4d", "leaky-relu", " relu", "", None, 1,
             ["relu"], ("relu",), {"relu": 1}, b"relu"],
    ids=repr,
)
def test_unknown_nonlinearity(name):
    with pytest.raises(ValueError):
        calculate_gain(name)
    with pytest.raises(ValueError):
        torch.nn.init.calculate_gain(name)


@pytest.mark.parametrize("param", [True, False, np.True_, np.False_])
def test_bool_slope_rejected(param):
    with pytest.raises(ValueError, match="negative_slope"):
        calculate_gain("leaky_relu", param)
    with pytest.raises(ValueError):
        torch.nn.init.calculate_gain("leaky_relu", param)


@pytest.mark.parametrize("param", ["0.2", [0.2], (0.2,), {0.2}, complex(0.2, 0), 0.2j, b"0.2", None.__class__,
                                   torch.tensor(0.2), np.array([0.2])], ids=repr)
def test_non_number_slope_rejected(param):
    with pytest.raises(ValueError, match="negative_slope"):
        calculate_gain("leaky_relu", param)
    with pytest.raises(ValueError):
        torch.nn.init.calculate_gain("leaky_relu", param)


@pytest.mark.parametrize(
    "param, slope",
    [
        (np.float32(0.2), 0.2), (np.float16(-0.5), -0.5), (np.int64(3), 3), (np.int32(0), 0),
        (np.uint8(2), 2), (fractions.Fraction(1, 5), 0.2),
    ],
    ids=repr,
)
def test_any_real_slope_accepted(param, slope):
    """Deliberate difference: torch only takes int/float; we take any numbers.Real but bool."""
    ours = calculate_gain("leaky_relu", param)
    assert type(ours) is float
    assert ours == pytest.approx(math.sqrt(2 / (1 + slope**2)), rel=1e-7)
    assert ours == pytest.approx(torch.nn.init.calculate_gain("leaky_relu", float(param)), rel=1e-7)


def test_np_float32_slope_is_a_deliberate_difference_from_torch():
    with pytest.raises(ValueError):
        torch.nn.init.calculate_gain("leaky_relu", np.float32(0.2))
    assert calculate_gain("leaky_relu", np.float32(0.2)) == pytest.approx(math.sqrt(2 / 1.04), rel=1e-7)


@pytest.mark.parametrize("param", [float("inf"), float("-inf"), float("nan")])
def test_non_finite_slope_like_torch(param):
    ours = calculate_gain("leaky_relu", param)
    theirs = torch.nn.init.calculate_gain("leaky_relu", param)
    assert ours == theirs or (math.isnan(ours) and math.isnan(theirs))
