"""fastglorot.torch: the drop-in torch.nn.init, its seeding, fallback and stream format rules, and fast_init()."""

import contextlib
import inspect
import math
import random
import re
import threading
import warnings

import numpy as np
import pytest

import fastglorot

torch = pytest.importorskip("torch")
fi = pytest.importorskip("fastglorot.torch")

RANDOM = ["uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
          "kaiming_normal_"]
DELEGATED = ["calculate_gain", "constant_", "ones_", "zeros_", "eye_", "dirac_", "orthogonal_", "sparse_"]


def outcome(call):
    """``("ok", result)`` or ``("error", type, message)``, and the warning messages."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = ("ok", call())
        except Exception as error:  # noqa: BLE001 - comparing torch's and ours
            # "<function uniform_ at 0x...>" names the function object: ours or torch's
            result = ("error", type(error), re.sub(r" at 0x[0-9a-f]+>", ">", str(error)))
    return result, [str(w.message) for w in caught]


def seeded(seed, call):
    torch.manual_seed(seed)
    return call()


# -- the drop-in surface ------------------------------------------------------------

@pytest.mark.parametrize("name", RANDOM)
def test_signatures_match_torch(name):
    # torch's parameters, in torch's order and kinds (so positional calls mean the same), then fastglorot's one
    # addition, keyword-only.
    ours = inspect.signature(getattr(fi, name)).parameters
    theirs = inspect.signature(getattr(torch.nn.init, name)).parameters
    assert [(p.name, p.kind, p.default) for p in ours.values()] == \
        [(p.name, p.kind, p.default) for p in theirs.values()] + [("stream_format", inspect.Parameter.KEYWORD_ONLY,
                                                                   None)]


@pytest.mark.parametrize("name", DELEGATED)
def test_deterministic_and_structured_initializers_are_torchs(name):
    assert getattr(fi, name) is getattr(torch.nn.init, name)


def test_everything_else_of_torch_nn_init_is_forwarded():
    # timm and others import torch.nn.init's private helpers; old code uses the deprecated aliases.
    assert fi._calculate_fan_in_and_fan_out is torch.nn.init._calculate_fan_in_and_fan_out
    assert fi.xavier_uniform is torch.nn.init.xavier_uniform
    with pytest.raises(AttributeError, match="no_such_initializer"):
        fi.no_such_initializer
    # Every public name of torch.nn.init: fastglorot's own fill for the random ones, torch's own object otherwise.
    for name in torch.nn.init.__all__:
        ours, theirs = getattr(fi, name), getattr(torch.nn.init, name)
        if name in RANDOM:
            assert ours is not theirs and ours.__module__.startswith("fastglorot."), name
        else:
            assert ours is theirs, name
    # Every private helper is torch's own, not a fastglorot name that shadows it.
    private = [name for name in dir(torch.nn.init) if name.startswith("_") and not name.startswith("__")]
    for name in private:
        assert getattr(fi, name) is getattr(torch.nn.init, name), name


@pytest.mark.parametrize("name", RANDOM)
def test_returns_the_tensor_filled_without_autograd(name):
    weight = torch.nn.Parameter(torch.zeros(16, 8))
    version = weight._version
    assert getattr(fi, name)(weight) is weight
    assert weight.requires_grad and weight.grad_fn is None and weight.is_leaf
    assert weight._version > version
    assert torch.count_nonzero(weight) == weight.numel()


BAD_CALLS = {
    "uniform_ a > b": ("uniform_", (3, 4), {"a": 1.0, "b": 0.0}),
    "uniform_ infinite bound": ("uniform_", (3, 4), {"b": math.inf}),
    "uniform_ range overflow": ("uniform_", (3, 4), {"a": -3e38, "b": 3e38}),
    "uniform_ bound outside float16": ("uniform_", (3, 4, torch.float16), {"a": -1e6, "b": 1e6}),
    "uniform_ bound not a number": ("uniform_", (3, 4), {"a": "zero"}),
    "normal_ negative std": ("normal_", (3, 4), {"std": -1.0}),
    "normal_ nan std": ("normal_", (3, 4), {"std": math.nan}),
    "xavier_uniform_ 1-D": ("xavier_uniform_", (5,), {}),
    "xavier_normal_ 0-D": ("xavier_normal_", (), {}),
    "xavier_uniform_ 0x0": ("xavier_uniform_", (0, 0), {}),
    "kaiming_uniform_ 1-D": ("kaiming_uniform_", (5,), {}),
    "kaiming_normal_ bad mode": ("kaiming_normal_", (3, 4), {"mode": "fan_avg"}),
    "kaiming_uniform_ bad nonlinearity": ("kaiming_uniform_", (3, 4), {"nonlinearity": "swish"}),
    "kaiming_uniform_ bad slope": ("kaiming_uniform_", (3, 4), {"a": "steep"}),
    "kaiming_normal_ zero elements": ("kaiming_normal_", (0, 4), {}),
    "kaiming_uniform_ zero elements": ("kaiming_uniform_", (3, 0, 2), {}),
    "xavier_uniform_ zero elements": ("xavier_uniform_", (0, 4), {}),
    "trunc_normal_ zero std": ("trunc_normal_", (3, 4), {"std": 0.0}),
    "kaiming_normal_ upper-case mode": ("kaiming_normal_", (3, 4), {"mode": "FAN_OUT"}),
}


@pytest.mark.parametrize("case", BAD_CALLS)
def test_errors_and_warnings_match_torch(case):
    name, shape, kwargs = BAD_CALLS[case]
    dtype = torch.float32
    if shape and isinstance(shape[-1], torch.dtype):
        shape, dtype = shape[:-1], shape[-1]

    def run(module):
        return outcome(lambda: getattr(module, name)(torch.zeros(shape, dtype=dtype), **kwargs))

    (ours, our_warnings), (theirs, their_warnings) = run(fi), run(torch.nn.init)
    assert our_warnings == their_warnings
    if theirs[0] == "error":
        assert ours == theirs
    else:
        assert ours[0] == "ok" and ours[1].shape == theirs[1].shape


def test_not_a_tensor_fails_as_in_torch():
    ours, theirs = outcome(lambda: fi.uniform_(np.zeros(3)))[0], outcome(lambda: torch.nn.init.uniform_(np.zeros(3)))[0]
    assert ours == theirs and ours[0] == "error"


def test_positional_arguments_follow_torchs_order():
    torch.manual_seed(1)
    by_position = fi.kaiming_uniform_(torch.empty(8, 4), 0.3, "fan_out", "leaky_relu")
    torch.manual_seed(1)
    by_name = fi.kaiming_uniform_(torch.empty(8, 4), a=0.3, mode="fan_out", nonlinearity="leaky_relu")
    assert torch.equal(by_position, by_name)
    bound = math.sqrt(3.0) * torch.nn.init.calculate_gain("leaky_relu", 0.3) / math.sqrt(8)
    assert by_name.abs().max() < bound


# -- seeding -----------------------------------------------------------------------------

def test_key_is_two_words_from_the_torch_generator():
    # The rule in the module docstring, re-derived: key = w0 + 2**32 * w1 with
    # (w0, w1) = torch.randint(0, 2**32, (2,)); the values are then fastglorot's
    # own uniform_ with that seed.
    g = torch.Generator().manual_seed(42)
    w0, w1 = torch.randint(0, 2**32, (2,), dtype=torch.int64, generator=g).tolist()
    expected = fastglorot.uniform_(np.empty((30, 20), np.float32), -0.5, 0.5, seed=w0 + (w1 << 32))
    got = fi.uniform_(torch.empty(30, 20), -0.5, 0.5, generator=torch.Generator().manual_seed(42))
    np.testing.assert_array_equal(got.numpy(), expected)
    assert fi.draw_seed(torch.Generator().manual_seed(42)) == w0 + (w1 << 32)


@pytest.mark.parametrize("name", RANDOM)
def test_manual_seed_reproduces_and_consecutive_calls_differ(name):
    init = getattr(fi, name)
    first = seeded(5, lambda: (init(torch.empty(64, 32)), init(torch.empty(64, 32))))
    again = seeded(5, lambda: (init(torch.empty(64, 32)), init(torch.empty(64, 32))))
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert not torch.equal(first[0], first[1])


@pytest.mark.parametrize("name", RANDOM)
def test_explicit_generator_equals_default_path(name):
    init = getattr(fi, name)
    default = seeded(11, lambda: init(torch.empty(40, 24)))
    explicit = init(torch.empty(40, 24), generator=torch.Generator().manual_seed(11))
    assert torch.equal(default, explicit)
    # and the explicit generator leaves the default one alone
    torch.manual_seed(11)
    init(torch.empty(3, 3), generator=torch.Generator().manual_seed(0))
    assert torch.equal(torch.rand(4), seeded(11, lambda: torch.rand(4)))


@pytest.mark.parametrize("stream_format", [1, 2])
def test_values_differ_from_torchs_own_but_share_its_distribution(stream_format):
    from scipy import stats

    ours = seeded(3, lambda: fi.xavier_normal_(torch.empty(400, 300), stream_format=stream_format))
    theirs = seeded(3, lambda: torch.nn.init.xavier_normal_(torch.empty(400, 300)))
    assert not torch.equal(ours, theirs)
    # Two-sample KS, fixed seed, alpha = 1e-3: same distribution (std sqrt(2/700)).
    assert stats.ks_2samp(ours.flatten().numpy(), theirs.flatten().numpy()).pvalue > 1e-3


@pytest.mark.parametrize("dtype, numpy_dtype", [(torch.float32, np.float32), (torch.float64, np.float64),
                                                (torch.float16, np.float16), (torch.bfloat16, "bfloat16")])
def test_every_float_dtype_is_filled_by_fastglorot(dtype, numpy_dtype):
    import ml_dtypes

    numpy_dtype = ml_dtypes.bfloat16 if numpy_dtype == "bfloat16" else numpy_dtype
    got = fi.normal_(torch.empty(50, 20, dtype=dtype), 0.5, 2.0, generator=torch.Generator().manual_seed(8))
    seed = fi.draw_seed(torch.Generator().manual_seed(8))
    expected = fastglorot.normal_(np.empty((50, 20), numpy_dtype), 0.5, 2.0, seed=seed)
    np.testing.assert_array_equal(got.view(torch.int16 if dtype.itemsize == 2 else dtype).numpy().view(np.uint8),
                                  expected.view(np.uint8))


def test_trunc_normal_is_fastglorots_inverse_cdf():
    got = fi.trunc_normal_(torch.empty(100, 10), 0.1, 0.5, -0.2, 0.6, generator=torch.Generator().manual_seed(2))
    seed = fi.draw_seed(torch.Generator().manual_seed(2))
    expected = fastglorot.trunc_normal_(np.empty((100, 10), np.float32), 0.1, 0.5, -0.2, 0.6, seed=seed)
    np.testing.assert_array_equal(got.numpy(), expected)
    assert got.min() >= -0.2 and got.max() <= 0.6


def test_trunc_normal_far_in_a_tail_does_not_warn():
    # torch warns because its rejection method degrades there; inverse CDF does not.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = fi.trunc_normal_(torch.empty(1000), mean=0.0, std=1.0, a=5.0, b=6.0)
    assert got.min() >= 5.0 and got.max() <= 6.0


# -- the fallback rule ------------------------------------------------------------------

class Tagged(torch.Tensor):
    """A tensor subclass fastglorot does not know."""


def make_subclass():
    return torch.Tensor._make_subclass(Tagged, torch.zeros(6, 4))


FALLBACKS = {
    "meta": lambda: torch.empty(6, 4, device="meta"),
    "int64": lambda: torch.zeros(6, 4, dtype=torch.int64),
    "complex64": lambda: torch.zeros(6, 4, dtype=torch.complex64),
    "sparse": lambda: torch.zeros(6, 4).to_sparse(),
    "subclass": make_subclass,
    "expanded (aliased)": lambda: torch.zeros(6, 1).expand(6, 4),
    "uninitialized parameter": lambda: torch.nn.parameter.UninitializedParameter(),
}


@pytest.mark.parametrize("case", FALLBACKS)
@pytest.mark.parametrize("name", ["uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "kaiming_normal_"])
def test_tensors_fastglorot_cannot_fill_get_torchs_own_function(case, name):
    assert not fi.supports(FALLBACKS[case]())
    ours = outcome(lambda: seeded(4, lambda: getattr(fi, name)(FALLBACKS[case]())))[0]
    theirs = outcome(lambda: seeded(4, lambda: getattr(torch.nn.init, name)(FALLBACKS[case]())))[0]
    assert ours[0] == theirs[0]
    if ours[0] == "error":
        assert ours == theirs
    else:
        a, b = ours[1], theirs[1]
        assert type(a) is type(b) and a.dtype == b.dtype and a.device == b.device
        if a.device.type != "meta":  # same generator draws: torch's own values
            assert torch.equal(a.to_dense() if a.is_sparse else a, b.to_dense() if b.is_sparse else b)


def test_inference_tensor_outside_inference_mode_gets_torchs_error():
    with torch.inference_mode():
        tensor = torch.zeros(3, 3)
    assert not fi.supports(tensor)
    assert outcome(lambda: fi.normal_(tensor))[0] == outcome(lambda: torch.nn.init.normal_(tensor))[0]
    with torch.inference_mode():
        assert fi.supports(tensor)
        assert torch.count_nonzero(fi.normal_(tensor)) == 9


def test_non_finite_mean_is_left_to_torch():
    assert torch.isinf(fi.normal_(torch.zeros(4), mean=math.inf)).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_tensors_are_filled_by_fastglorot_with_the_cpu_bits():  # pragma: no cover - no GPU on CI
    """README "GPU": with numba-cuda, a CUDA tensor gets the values of the CPU fill of the same arguments."""
    pytest.importorskip("numba_cuda")
    for dtype in (torch.float32, torch.bfloat16):
        tensor = torch.zeros(600, 40, device="cuda", dtype=dtype)
        assert fi.supports(tensor)
        fastglorot.trunc_normal_(tensor, 0.0, 0.02, -0.04, 0.04, seed=4, stream="w")
        cpu = fastglorot.trunc_normal_(torch.zeros(600, 40, dtype=dtype), 0.0, 0.02, -0.04, 0.04, seed=4, stream="w")
        assert torch.equal(tensor.cpu(), cpu)


def test_supports_accepts_what_fastglorot_fills():
    assert fi.supports(torch.empty(3, 4))
    assert fi.supports(torch.nn.Parameter(torch.empty(3, 4, dtype=torch.bfloat16)))
    assert fi.supports(torch.empty(4, 3).t())
    assert fi.supports(torch.empty(1, 4).expand(1, 4))  # a zero stride on a length-1 axis aliases nothing
    assert not fi.supports(np.zeros(3))
    assert not fi.supports(torch.zeros(3, dtype=torch.complex64).conj())


@pytest.mark.parametrize("name, how", [(name, "drop-in") for name in RANDOM]
                         + [("uniform_", "fast_init"), ("normal_", "fast_init")])  # the Tensor methods it reaches
def test_each_fill_checks_its_tensor_once(name, how, monkeypatch):
    """One drop-in call, or one Tensor method under fast_init(), runs ``torch_refusal`` once: the adapter's
    ``plan`` carries the verdict to the fill and to ``as_output`` (0.5.0 checked a ``normal_`` tensor 4 times)."""
    from fastglorot._api import buffers
    from fastglorot.torch import _targets

    calls = []
    real = _targets.torch_refusal

    def counting(tensor):
        calls.append(tensor)
        return real(tensor)

    monkeypatch.setattr(_targets, "torch_refusal", counting)
    monkeypatch.setattr(buffers, "torch_refusal", counting)
    weight = torch.nn.Parameter(torch.empty(64, 32))
    expected = getattr(fi, name)(torch.empty(64, 32), generator=torch.Generator().manual_seed(5))
    calls.clear()
    if how == "drop-in":
        getattr(fi, name)(weight, generator=torch.Generator().manual_seed(5))
    else:
        torch.manual_seed(5)
        with fi.fast_init(), torch.no_grad():
            getattr(weight, name)()
        torch.manual_seed(5)
        expected = getattr(fi, name)(torch.empty(64, 32))
    assert sum(tensor is weight for tensor in calls) == 1, calls  # (fast_init also sees torch's own argument check)
    assert torch.equal(weight.detach(), expected)


# -- fast_init() --------------------------------------------------------------------------

def _no_grad(fill):
    """``fill`` under torch.no_grad(), where model code writes parameters with Tensor methods (outside it,
    torch refuses in-place writes to a leaf that requires grad: tests/test_torch_autograd.py)."""
    def call(tensor):
        with torch.no_grad():
            return fill(tensor)
    return call


# How a fast_init() block gets its stream format: (the blocks entered, outermost first; the format its fills use).
FORMAT_CHOICES = {
    "default": ((fi.fast_init,), 1),
    "fast_init(stream_format=2)": ((lambda: fi.fast_init(stream_format=2),), 2),
    "stream_format(2) around fast_init()": ((lambda: fastglorot.stream_format(2), fi.fast_init), 2),
    "stream_format(2) inside fast_init()": ((fi.fast_init, lambda: fastglorot.stream_format(2)), 2),
    "fast_init() inside fast_init(stream_format=2)": ((lambda: fi.fast_init(stream_format=2), fi.fast_init), 2),
    # an explicit format holds for its block, as an explicit argument does
    "fast_init(stream_format=1) around stream_format(2)": ((lambda: fi.fast_init(stream_format=1),
                                                            lambda: fastglorot.stream_format(2)), 1),
    "fast_init(stream_format=2) inside fast_init(stream_format=1)": ((lambda: fi.fast_init(stream_format=1),
                                                                      lambda: fi.fast_init(stream_format=2)), 2),
}


def entered(blocks):
    stack = contextlib.ExitStack()
    for block in blocks:
        stack.enter_context(block())
    return stack


@pytest.mark.parametrize("choice", FORMAT_CHOICES)
def test_fast_init_routes_every_kind_of_fill_to_fastglorot(choice):
    blocks, stream_format = FORMAT_CHOICES[choice]
    captured = torch.nn.init.xavier_uniform_  # as libraries keep references taken at import
    calls = {
        "Tensor.uniform_": (_no_grad(lambda t: t.uniform_(-0.5, 0.5)), lambda t: fi.uniform_(t, -0.5, 0.5)),
        "Tensor.uniform_ keywords": (_no_grad(lambda t: t.uniform_(to=2.0)), lambda t: fi.uniform_(t, 0.0, 2.0)),
        "Tensor.normal_ (Hugging Face style)": (lambda t: t.data.normal_(mean=0.0, std=0.02),
                                                lambda t: fi.normal_(t, 0.0, 0.02)),
        "Tensor.normal_ positional": (_no_grad(lambda t: t.normal_(1.0)), lambda t: fi.normal_(t, 1.0)),
        "torch.nn.init.uniform_": (lambda t: torch.nn.init.uniform_(t, b=3.0), lambda t: fi.uniform_(t, b=3.0)),
        "torch.nn.init.normal_": (lambda t: torch.nn.init.normal_(t), lambda t: fi.normal_(t)),
        "torch.nn.init.kaiming_uniform_": (lambda t: torch.nn.init.kaiming_uniform_(t, a=math.sqrt(5)),
                                           lambda t: fi.kaiming_uniform_(t, a=math.sqrt(5))),
        "torch.nn.init.kaiming_normal_": (lambda t: torch.nn.init.kaiming_normal_(t, mode="fan_out"),
                                          lambda t: fi.kaiming_normal_(t, mode="fan_out")),
        "captured xavier_uniform_": (lambda t: captured(t, gain=2.0), lambda t: fi.xavier_uniform_(t, gain=2.0)),
        "torch.nn.init.xavier_normal_": (lambda t: torch.nn.init.xavier_normal_(t), lambda t: fi.xavier_normal_(t)),
    }
    for what, (call, reference) in calls.items():
        weight = torch.nn.Parameter(torch.empty(32, 16))
        with entered(blocks):
            seeded(9, lambda: call(weight))
        with fastglorot.stream_format(stream_format):  # the drop-ins' own format rule: tested below
            expected = seeded(9, lambda: reference(torch.empty(32, 16)))
        assert torch.equal(weight.detach(), expected), what
        assert weight.requires_grad and weight.grad_fn is None, what


def test_fast_init_sees_wrappers_patched_into_torch_nn_init():
    # transformers' post_init runs inside guard_torch_init_functions(), which
    # replaces torch.nn.init's functions by wrappers that skip tensors marked
    # as loaded (_is_hf_initialized) and otherwise call the original torch
    # functions it captured at import.  Those dispatch the *patched* name to
    # the mode; the wrapper's check must still run and the fill must be ours.
    transformers_init = pytest.importorskip("transformers.initialization")
    weight, loaded = torch.zeros(32, 16), torch.zeros(8, 8)
    loaded._is_hf_initialized = True
    with fi.fast_init(), transformers_init.guard_torch_init_functions():
        assert torch.nn.init.normal_ is transformers_init.normal_
        torch.manual_seed(6)
        transformers_init.normal_(weight, std=0.5)
        transformers_init.normal_(loaded, std=0.5)
    expected = fi.normal_(torch.empty(32, 16), std=0.5, generator=torch.Generator().manual_seed(6))
    assert torch.equal(weight, expected)
    assert torch.count_nonzero(loaded) == 0  # the wrapper's check ran: not filled
    assert torch.nn.init.normal_ is not transformers_init.normal_


@pytest.mark.parametrize("stream_format", [1, 2])
def test_fast_init_trunc_normal_through_torch_keeps_the_distribution(stream_format):
    # torch's trunc_normal_ for an interval holding > 30% of the mass: Tensor.normal_ draws and rejection.
    from scipy import stats

    with fi.fast_init(stream_format=stream_format):
        got = seeded(1, lambda: torch.nn.init.trunc_normal_(torch.empty(20000), std=0.5, a=-1.0, b=0.75))
    plain = seeded(1, lambda: torch.nn.init.trunc_normal_(torch.empty(20000), std=0.5, a=-1.0, b=0.75))
    assert not torch.equal(got, plain)  # torch's rejection loop ran on fastglorot's normal draws
    reference = stats.truncnorm(-1.0 / 0.5, 0.75 / 0.5, scale=0.5)
    assert stats.kstest(got.numpy(), reference.cdf).pvalue > 1e-3  # fixed seed, alpha = 1e-3


def test_fast_init_leaves_other_torch_calls_alone():
    x = torch.randn(8, 8, generator=torch.Generator().manual_seed(0))
    with fi.fast_init():
        inside = (x @ x.T, torch.softmax(x, 1), x.sum(), torch.zeros(3), torch.rand(3, generator=torch.Generator()
                                                                                    .manual_seed(1)))
    outside = (x @ x.T, torch.softmax(x, 1), x.sum(), torch.zeros(3), torch.rand(3, generator=torch.Generator()
                                                                                 .manual_seed(1)))
    for a, b in zip(inside, outside):
        assert torch.equal(a, b)


def test_restored_on_exit_even_after_an_exception():
    assert not fi.is_enabled()
    with pytest.raises(KeyError):
        with fi.fast_init():
            assert fi.is_enabled()
            raise KeyError("boom")
    assert not fi.is_enabled()
    assert torch.equal(seeded(2, lambda: torch.empty(5).uniform_()), seeded(2, lambda: torch.rand(5)))


def test_nesting_and_enable_disable():
    with fi.fast_init():
        with fi.fast_init():
            assert fi.is_enabled()
        assert fi.is_enabled()
        fi.enable()
        fi.enable()
        fi.disable()
        assert fi.is_enabled()
        fi.disable()
        assert fi.is_enabled()
    assert not fi.is_enabled()
    with pytest.raises(RuntimeError, match="without a matching enable"):
        fi.disable()
    fi.enable()
    try:
        with fi.FastInitMode():  # another mode above the enabled one
            with pytest.raises(RuntimeError, match="exit it first"):
                fi.disable()
    finally:
        fi.disable()
    assert not fi.is_enabled()


def test_other_threads_keep_torchs_own_init():
    # torch keeps __torch_function__ modes per thread: a thread started inside
    # fast_init() (or while another thread has enable()d) uses torch's init.
    results = {}

    def other_thread():
        results["enabled"] = fi.is_enabled()
        results["values"] = torch.empty(6).uniform_(generator=torch.Generator().manual_seed(3))

    with fi.fast_init():
        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
    assert results["enabled"] is False
    assert torch.equal(results["values"], torch.rand(6, generator=torch.Generator().manual_seed(3)))

    def enable_elsewhere():
        fi.enable()
        results["there"] = fi.is_enabled()
        fi.disable()

    worker = threading.Thread(target=enable_elsewhere)
    worker.start()
    worker.join()
    assert results["there"] is True and not fi.is_enabled()


def test_concurrent_threads_each_in_fast_init_are_reproducible():
    reference = {s: fi.kaiming_uniform_(torch.empty(128, 256), a=math.sqrt(5),
                                        generator=torch.Generator().manual_seed(s)) for s in (1, 2)}
    got = []

    def worker(seed):
        generator = torch.Generator().manual_seed(seed)
        with fi.fast_init():
            got.append((seed, torch.nn.init.kaiming_uniform_(torch.empty(128, 256), a=math.sqrt(5),
                                                             generator=generator)))

    threads = [threading.Thread(target=worker, args=(s,)) for s in (1, 2, 1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 4
    for seed, values in got:
        assert torch.equal(values, reference[seed])


def test_import_fastglorot_imports_neither_torch_nor_the_adapter(python_runner):
    result = python_runner("import sys, numpy, fastglorot\n"
                           "fastglorot.uniform_(numpy.zeros(4, 'f4'), seed=1)\n"
                           "print(sorted(set(sys.modules) & {'torch', 'fastglorot.torch', 'transformers'}))")
    assert result.stdout.strip() == "[]"


# -- stream format (README "Stream format"; module docstring, "Stream format rule") ------------------------------

def _fans(shape):
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


# Each drop-in with non-default arguments, and the core call that gives its values: the same distribution and
# parameters by torch's documented formulas (torch.nn.init's docstrings), the key drawn from the generator.
SHAPE = (512, 128, 4)  # 2**18 elements: enough that format 2 changes some bfloat16 values (about 1 in 2**14 rounds
                       # differently) and the format tests below cannot pass by chance
FAN_IN, FAN_OUT = _fans(SHAPE)
AS_CORE = {
    "uniform_": ({"a": -0.5, "b": 0.25}, lambda out, **k: fastglorot.uniform_(out, -0.5, 0.25, **k)),
    "normal_": ({"mean": 0.5, "std": 2.0}, lambda out, **k: fastglorot.normal_(out, 0.5, 2.0, **k)),
    "trunc_normal_": ({"mean": 0.1, "std": 0.5, "a": -0.2, "b": 0.6},
                      lambda out, **k: fastglorot.trunc_normal_(out, 0.1, 0.5, -0.2, 0.6, **k)),
    "xavier_uniform_": ({"gain": 2.0}, lambda out, **k: fastglorot.uniform_(
        out, -math.sqrt(3.0) * 2.0 * math.sqrt(2.0 / (FAN_IN + FAN_OUT)),
        math.sqrt(3.0) * 2.0 * math.sqrt(2.0 / (FAN_IN + FAN_OUT)), **k)),
    "xavier_normal_": ({"gain": 2.0}, lambda out, **k: fastglorot.normal_(
        out, 0.0, 2.0 * math.sqrt(2.0 / (FAN_IN + FAN_OUT)), **k)),
    "kaiming_uniform_": ({"a": math.sqrt(5)}, lambda out, **k: fastglorot.uniform_(
        out, -math.sqrt(3.0) * fi.calculate_gain("leaky_relu", math.sqrt(5)) / math.sqrt(FAN_IN),
        math.sqrt(3.0) * fi.calculate_gain("leaky_relu", math.sqrt(5)) / math.sqrt(FAN_IN), **k)),
    "kaiming_normal_": ({"mode": "fan_out", "nonlinearity": "relu"}, lambda out, **k: fastglorot.normal_(
        out, 0.0, fi.calculate_gain("relu") / math.sqrt(FAN_OUT), **k)),
}
NORMAL_FAMILY = ["normal_", "trunc_normal_", "xavier_normal_", "kaiming_normal_"]
FLOAT_DTYPES = [torch.float32, torch.bfloat16, torch.float16, torch.float64]


def bits(tensor):
    """The tensor's bit patterns (so that -0.0 and 0.0 differ and NaN equals itself)."""
    tensor = tensor.detach()
    return tensor.view({1: torch.int8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[tensor.element_size()])


def drop_in(name, dtype=torch.float32, seed=13, **extra):
    arguments, _ = AS_CORE[name]
    return getattr(fi, name)(torch.empty(SHAPE, dtype=dtype), **arguments,
                             generator=torch.Generator().manual_seed(seed), **extra)


def core(name, dtype, stream_format, seed=13):
    _, call = AS_CORE[name]
    return call(torch.empty(SHAPE, dtype=dtype), seed=fi.draw_seed(torch.Generator().manual_seed(seed)),
                stream_format=stream_format)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("name", RANDOM)
def test_each_format_gives_the_cores_bits(name, dtype):
    """Expected values: the core's own ``fastglorot.<sampler>(..., stream_format=n)`` on a tensor of the same dtype
    with the key the adapter draws (the seeding rule), i.e. the adapter gives the same bits as the core."""
    v1, v2 = drop_in(name, dtype, stream_format=1), drop_in(name, dtype, stream_format=2)
    assert torch.equal(bits(v1), bits(core(name, dtype, 1)))
    assert torch.equal(bits(v2), bits(core(name, dtype, 2)))
    # Format 2 changes exactly the float32/float16/bfloat16 normals and truncated normals.
    changes = name in NORMAL_FAMILY and dtype != torch.float64
    assert torch.equal(bits(v1), bits(v2)) is not changes
    assert torch.equal(bits(drop_in(name, dtype)), bits(v1))  # the default is format 1


@pytest.mark.parametrize("name", NORMAL_FAMILY)
def test_stream_format_context_reaches_the_drop_ins(name):
    v1, v2 = drop_in(name, stream_format=1), drop_in(name, stream_format=2)
    with fastglorot.stream_format(2):
        assert torch.equal(drop_in(name), v2)
        assert torch.equal(drop_in(name, stream_format=1), v1)  # an explicit argument wins
    assert torch.equal(drop_in(name), v1)  # restored on exit


BAD_FORMATS = [(3, ValueError, "got 3"), (0, ValueError, "got 0"), ("2", TypeError, "got '2'"),
               (True, TypeError, "got True"), (2.0, TypeError, "got 2.0")]


@pytest.mark.parametrize("bad, error, shown", BAD_FORMATS, ids=repr)
@pytest.mark.parametrize("dtype", [torch.float32, torch.int64], ids=["filled by fastglorot", "torch's fallback"])
@pytest.mark.parametrize("name", RANDOM)
def test_bad_stream_format_is_refused_before_anything_happens(name, dtype, bad, error, shown):
    tensor = torch.full((6, 4), 7, dtype=dtype)
    generator = torch.Generator().manual_seed(1)
    states = generator.get_state(), torch.get_rng_state()
    with pytest.raises(error, match=rf"^stream_format must be 1 or 2.*{re.escape(shown)}"):
        getattr(fi, name)(tensor, generator=generator, stream_format=bad)
    assert torch.all(tensor == 7)  # nothing written
    assert torch.equal(generator.get_state(), states[0]) and torch.equal(torch.get_rng_state(), states[1])  # nor drawn


@pytest.mark.parametrize("bad, error, shown", BAD_FORMATS, ids=repr)
def test_fast_init_and_enable_refuse_a_bad_stream_format_before_switching_on(bad, error, shown):
    for switch in (fi.fast_init, fi.enable, fi.FastInitMode):
        with pytest.raises(error, match=rf"^stream_format must be 1 or 2.*{re.escape(shown)}"):
            switch(stream_format=bad)
        assert not fi.is_enabled()
    with pytest.raises(RuntimeError, match="without a matching enable"):
        fi.disable()  # the failed enable() left nothing to undo


def test_enable_with_a_stream_format_holds_until_disable():
    weight = torch.empty(30, 20)
    fi.enable(stream_format=2)
    try:
        seeded(4, lambda: weight.normal_(0.0, 0.5))  # a fill the switch takes over
        direct = drop_in("trunc_normal_")  # fastglorot.torch's own, without stream_format
        with fastglorot.stream_format(1):
            inner = drop_in("trunc_normal_")  # the block's explicit format holds
    finally:
        fi.disable()
    assert torch.equal(weight, seeded(4, lambda: fi.normal_(torch.empty(30, 20), 0.0, 0.5, stream_format=2)))
    assert torch.equal(direct, drop_in("trunc_normal_", stream_format=2))
    assert torch.equal(inner, direct)
    assert torch.equal(drop_in("trunc_normal_"), drop_in("trunc_normal_", stream_format=1))  # off again


def test_each_thread_keeps_its_own_stream_format():
    # Four threads in fast_init() blocks at once, two of them in format 2: the choice is per thread (a thread
    # started inside a block, like the two plain ones here, does not inherit it).
    reference = {f: fi.normal_(torch.empty(128, 256), 0.0, 0.1, generator=torch.Generator().manual_seed(1),
                               stream_format=f) for f in (1, 2)}
    assert not torch.equal(reference[1], reference[2])
    inside = threading.Barrier(4)
    got = []

    def worker(stream_format):
        with fi.fast_init(stream_format=stream_format):
            inside.wait(timeout=60)  # every thread is inside its block before any fills
            values = torch.nn.init.normal_(torch.empty(128, 256), 0.0, 0.1, generator=torch.Generator().manual_seed(1))
            got.append((stream_format or 1, values))

    with fi.fast_init(stream_format=2):
        threads = [threading.Thread(target=worker, args=(f,)) for f in (None, 2, None, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(got) == 4
    for stream_format, values in got:
        assert torch.equal(values, reference[stream_format])


# -- torch's own statistical checks (test/nn/test_init.py), in both formats --------------------------------------
# As torch's TestNNInit: random sizes and parameters, then a one-sample Kolmogorov–Smirnov test against the
# documented distribution, p > 1e-4.  Here the sizes and parameters come from a seeded random.Random and the
# values from a seeded torch generator, so each case is one fixed sample.

P_MIN = 1e-4


def _random_tensor(rng, dims, size_min, size_max):
    return torch.zeros([rng.randint(size_min, size_max) for _ in range(dims)])


def _is_normal(tensor, mean, std):
    from scipy import stats

    return stats.kstest(tensor.flatten().double().numpy(), "norm", args=(mean, std)).pvalue > P_MIN


def _is_trunc_normal(tensor, mean, std, a, b):
    from scipy import stats

    z = (tensor.flatten().double().numpy() - mean) / std  # scipy's truncnorm is for N(0, 1)
    return stats.kstest(z, "truncnorm", args=((a - mean) / std, (b - mean) / std)).pvalue > P_MIN


@pytest.mark.parametrize("stream_format", [1, 2])
def test_torch_test_init_normal(stream_format):
    rng = random.Random(10)
    torch.manual_seed(10)
    for dims in [1, 2, 4]:
        tensor = _random_tensor(rng, dims, 30, 50)
        mean, std = rng.uniform(-3, 3), rng.uniform(1, 5)
        fi.normal_(tensor, mean=mean, std=std, stream_format=stream_format)
        assert _is_normal(tensor, mean, std), dims


@pytest.mark.parametrize("stream_format", [1, 2])
def test_torch_test_init_trunc_normal(stream_format):
    rng = random.Random(11)
    torch.manual_seed(11)
    for dims in [1, 2, 4]:
        tensor = _random_tensor(rng, dims, 30, 50)
        mean, std = rng.uniform(-3, 3), rng.uniform(0.01, 1)
        a, b = rng.uniform(mean - 2 * std, mean), rng.uniform(mean, mean + 2 * std)
        fi.trunc_normal_(tensor, mean=mean, std=std, a=a, b=b, stream_format=stream_format)
        assert _is_trunc_normal(tensor, mean, std, a, b), dims


@pytest.mark.parametrize("stream_format", [1, 2])
def test_torch_test_init_xavier_normal(stream_format):
    rng = random.Random(12)
    torch.manual_seed(12)
    for use_gain in [True, False]:
        for dims in [2, 4]:
            tensor = _random_tensor(rng, dims, 20, 25)
            gain = rng.uniform(0.1, 2) if use_gain else 1
            if use_gain:
                fi.xavier_normal_(tensor, gain=gain, stream_format=stream_format)
            else:
                fi.xavier_normal_(tensor, stream_format=stream_format)
            fan_in, fan_out = _fans(tuple(tensor.shape))
            assert _is_normal(tensor, 0, gain * math.sqrt(2.0 / (fan_in + fan_out))), (use_gain, dims)


@pytest.mark.parametrize("stream_format", [1, 2])
def test_torch_test_init_kaiming_normal(stream_format):
    rng = random.Random(13)
    torch.manual_seed(13)
    for use_a in [True, False]:
        for dims in [2, 4]:
            for mode in ["fan_in", "fan_out"]:
                tensor = _random_tensor(rng, dims, 20, 25)
                a = rng.uniform(0.1, 2) if use_a else 0
                if use_a:
                    fi.kaiming_normal_(tensor, a=a, mode=mode, stream_format=stream_format)
                else:
                    fi.kaiming_normal_(tensor, mode=mode, stream_format=stream_format)
                fan_in, fan_out = _fans(tuple(tensor.shape))
                n = fan_in if mode == "fan_in" else fan_out
                assert _is_normal(tensor, 0, math.sqrt(2.0 / ((1 + a**2) * n))), (use_a, dims, mode)
