"""Public functions on torch CPU tensors: zero-copy, in place, same values as NumPy."""

import numpy as np
import pytest

import fastglorot as fg

torch = pytest.importorskip("torch")

CALLS = {
    "uniform_": lambda out: fg.uniform_(out, -0.5, 0.25, seed=1, stream=2, offset=3),
    "normal_": lambda out: fg.normal_(out, 0.1, 2.0, seed=1, stream=2),
    "trunc_normal_": lambda out: fg.trunc_normal_(out, 0.0, 1.0, -1.0, 2.0, seed=1, stream=2),
    "glorot_uniform_": lambda out: fg.glorot_uniform_(out, gain=2.0, seed=1, stream="w"),
    "glorot_normal_": lambda out: fg.glorot_normal_(out, truncated=True, seed=1, stream="w"),
    "kaiming_uniform_": lambda out: fg.kaiming_uniform_(out, a=0.1, seed=1),
    "lecun_normal_": lambda out: fg.lecun_normal_(out, seed=1),
    # stream format 2 (README "Stream format"): other float32 normals, the same float64 ones
    "normal_ v2": lambda out: fg.normal_(out, 0.1, 2.0, seed=1, stream=2, stream_format=2),
    "trunc_normal_ v2": lambda out: fg.trunc_normal_(out, 0.0, 1.0, -1.0, 2.0, seed=1, stream=2, stream_format=2),
    "glorot_normal_ v2": lambda out: fg.glorot_normal_(out, truncated=True, seed=1, stream="w", stream_format=2),
}
DTYPES = [(torch.float32, np.float32), (torch.float64, np.float64)]


def as_numpy(tensor):
    return tensor.detach().numpy()


@pytest.mark.parametrize("name", CALLS)
@pytest.mark.parametrize("torch_dtype, numpy_dtype", DTYPES)
def test_tensor_fill_equals_numpy_fill(name, torch_dtype, numpy_dtype):
    expected = CALLS[name](np.empty((40, 30), numpy_dtype))
    tensor = torch.empty((40, 30), dtype=torch_dtype)
    assert CALLS[name](tensor) is tensor
    np.testing.assert_array_equal(as_numpy(tensor), expected)


@pytest.mark.parametrize("name", ["normal_ v2", "trunc_normal_ v2"])
@pytest.mark.parametrize("torch_dtype, numpy_dtype", [(torch.bfloat16, "bfloat16"), (torch.float16, np.float16)])
def test_half_precision_tensor_fill_equals_numpy_fill(name, torch_dtype, numpy_dtype):
    import ml_dtypes

    numpy_dtype = ml_dtypes.bfloat16 if numpy_dtype == "bfloat16" else numpy_dtype
    expected = CALLS[name](np.empty((40, 30), numpy_dtype))
    tensor = CALLS[name](torch.empty((40, 30), dtype=torch_dtype))
    np.testing.assert_array_equal(tensor.view(torch.int16).numpy(), expected.view(np.int16))


@pytest.mark.parametrize("name", CALLS)
def test_non_contiguous_tensors(name):
    expected = CALLS[name](np.empty((40, 30), np.float32))
    transposed = torch.empty((30, 40)).t()
    CALLS[name](transposed)
    np.testing.assert_array_equal(as_numpy(transposed), expected)
    base = torch.full((40, 60), 9.0)
    strided = base[:, ::2]
    CALLS[name](strided)
    np.testing.assert_array_equal(as_numpy(strided), expected)
    assert torch.all(base[:, 1::2] == 9.0), "wrote outside the view"


def test_parameters_with_grad_and_version_counter():
    layer = torch.nn.Linear(30, 40)
    before = layer.weight._version
    with torch.no_grad():
        fg.glorot_uniform_(layer.weight, seed=5)
    assert layer.weight._version > before
    assert layer.weight.requires_grad
    np.testing.assert_array_equal(as_numpy(layer.weight), fg.glorot_uniform((40, 30), seed=5))
    loss = layer(torch.ones(2, 30)).sum()
    loss.backward()
    assert layer.weight.grad is not None


def test_tensor_fans_match_torch_layouts():
    conv = torch.nn.Conv2d(16, 32, kernel_size=3)
    fg.kaiming_normal_(conv.weight.data, nonlinearity="relu", seed=6)
    fan_in = torch.nn.init._calculate_correct_fan(conv.weight, "fan_in")
    std = torch.nn.init.calculate_gain("relu") / np.sqrt(fan_in)
    np.testing.assert_array_equal(as_numpy(conv.weight), fg.normal_(np.empty((32, 16, 3, 3), np.float32), 0.0,
                                                                    np.sqrt(2.0 / fan_in), seed=6))
    assert float(conv.weight.detach().std()) == pytest.approx(std, rel=0.1)


@pytest.mark.parametrize("make", [
    lambda: torch.empty(4, 4, device="meta"),
    lambda: torch.zeros(4, 4, dtype=torch.int32),
    lambda: torch.zeros(4, 4, dtype=torch.complex64),
])
def test_unsupported_tensors_are_rejected(make):
    tensor = make()
    with pytest.raises((TypeError, ValueError)):
        fg.glorot_uniform_(tensor, seed=1)
    if tensor.device.type == "cpu":
        assert torch.all(tensor == 0)


def test_error_leaves_tensor_untouched():
    tensor = torch.full((8, 8), 3.0)
    with pytest.raises(ValueError):
        fg.uniform_(tensor, 1.0, 0.0, seed=1)
    assert torch.all(tensor == 3.0)
