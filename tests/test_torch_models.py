"""Real models built inside fastglorot.torch.fast_init(): every parameter against torch's own init.

For each model, the same architecture is built twice from the same torch
seed: once with torch's default initialization and once inside
``fast_init()``.  Parameter by parameter:

* deterministic initializations (zeros, ones, rotary frequencies: the
  tensors torch's own builds from two seeds agree on) must be equal;
* random ones must come from fastglorot (values differ from torch's) and
  have torch's distribution and scale: two-sample Kolmogorov–Smirnov test
  between the two builds, fixed seeds, alpha = 1e-3 divided by the number of
  random parameters of the model (Bonferroni: the whole model fails with
  probability below 1e-3 if every parameter is right).

A few are also checked against the closed-form distribution torch documents
(one-sample KS, same alpha), so that the comparison does not rest on torch
alone.  Models initialized with normals are checked in both stream formats
(``fast_init(stream_format=n)``; README "Stream format").
"""

import math

import numpy as np
import pytest

import fastglorot

torch = pytest.importorskip("torch")
fi = pytest.importorskip("fastglorot.torch")
stats = pytest.importorskip("scipy.stats")

ALPHA = 1e-3
SEED = 20261129


def build(factory, fast, seed=SEED, stream_format=None):
    torch.manual_seed(seed)
    if fast:
        with fi.fast_init(stream_format=stream_format):
            return factory()
    return factory()


class CountFills(torch.overrides.TorchFunctionMode):
    """Counts the random fills of a build, each once.

    The torch.nn.init functions that dispatch to modes (and wrappers other
    libraries put in their place, such as transformers' during post_init)
    are seen whole, and their inner Tensor.uniform_/normal_ are not (torch
    switches the mode off inside its handler); the other initializers are
    seen as their Tensor.uniform_/normal_ calls.
    """

    def __init__(self):
        super().__init__()
        self.fills = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in (torch.Tensor.uniform_, torch.Tensor.normal_) or (
                getattr(func, "__name__", None) in ("uniform_", "normal_", "kaiming_uniform_")
                and getattr(torch.nn.init, func.__name__) is func):
            self.fills += 1
        return func(*args, **(kwargs or {}))


def fills_done_by_fastglorot(factory, monkeypatch, stream_format=None):
    """(random fills of a torch build, fills fastglorot did in a fast_init build, in the format asked for)."""
    counter = CountFills()
    torch.manual_seed(SEED)
    with counter:
        factory()
    done = []
    for name in ("uniform_", "normal_", "trunc_normal_"):
        original = getattr(fastglorot, name)
        monkeypatch.setattr(fastglorot, name,
                            lambda *a, _f=original, **k: done.append(k["stream_format"]) or _f(*a, **k))
    build(factory, True, stream_format=stream_format)
    monkeypatch.undo()
    assert set(done) <= {stream_format or 1}, done
    return counter.fills, len(done)


def tensors_of(model):
    named = dict(model.named_parameters())
    named.update({name: b for name, b in model.named_buffers() if b.is_floating_point()})
    return named


def check_against_torch(factory, monkeypatch, stream_format=None):
    """Build twice, compare every parameter; returns the fast model."""
    torch_fills, fastglorot_fills = fills_done_by_fastglorot(factory, monkeypatch, stream_format)
    assert torch_fills > 0 and fastglorot_fills == torch_fills, "some random fills were left to torch"
    fast, plain = build(factory, True, stream_format=stream_format), build(factory, False)
    ours, theirs, other_seed = tensors_of(fast), tensors_of(plain), tensors_of(build(factory, False, SEED + 1))
    assert ours.keys() == theirs.keys()
    # Random: torch's own values change with the seed (constants and
    # deterministic buffers such as rotary frequencies do not).
    random = [name for name, t in theirs.items() if not torch.equal(t, other_seed[name])]
    assert random, "no random parameter: nothing tested"
    for name, theirs_t in theirs.items():
        ours_t = ours[name]
        assert ours_t.shape == theirs_t.shape and ours_t.dtype == theirs_t.dtype, name
        if name not in random:
            assert torch.equal(ours_t, theirs_t), f"{name}: deterministic init changed"
            continue
        a, b = ours_t.detach().flatten().double().numpy(), theirs_t.detach().flatten().double().numpy()
        assert not np.array_equal(a, b), f"{name}: not filled by fastglorot"
        p = stats.ks_2samp(a, b).pvalue
        assert p > ALPHA / len(random), f"{name}: KS p = {p:.3g} against torch's own init"
    return fast


def ks_uniform(values, bound):
    return stats.kstest(values.detach().flatten().double().numpy(), stats.uniform(-bound, 2 * bound).cdf).pvalue


def ks_normal(values, std):
    return stats.kstest(values.detach().flatten().double().numpy(), stats.norm(0, std).cdf).pvalue


def test_linear(monkeypatch):
    model = check_against_torch(lambda: torch.nn.Linear(300, 200), monkeypatch)
    # torch: kaiming_uniform_(a=sqrt(5)) -> U(+-1/sqrt(fan_in)); bias U(+-1/sqrt(fan_in))
    assert ks_uniform(model.weight, 1 / math.sqrt(300)) > ALPHA
    assert ks_uniform(model.bias, 1 / math.sqrt(300)) > ALPHA


@pytest.mark.parametrize("conv, kernel", [(torch.nn.Conv1d, 5), (torch.nn.Conv2d, (3, 3)), (torch.nn.Conv3d, 3)])
def test_convolutions(conv, kernel, monkeypatch):
    model = check_against_torch(lambda: conv(16, 32, kernel), monkeypatch)
    fan_in = 16 * int(np.prod(model.weight.shape[2:]))
    assert ks_uniform(model.weight, 1 / math.sqrt(fan_in)) > ALPHA


@pytest.mark.parametrize("stream_format", [1, 2])
def test_embedding(monkeypatch, stream_format):
    model = check_against_torch(lambda: torch.nn.Embedding(1000, 32, padding_idx=0), monkeypatch, stream_format)
    assert torch.count_nonzero(model.weight[0]) == 0  # padding row zeroed after the fill, as in torch
    assert ks_normal(model.weight[1:], 1.0) > ALPHA


def test_multihead_attention(monkeypatch):
    model = check_against_torch(lambda: torch.nn.MultiheadAttention(64, 4), monkeypatch)
    # in_proj_weight (192, 64): xavier_uniform_ -> U(+-sqrt(6 / (64 + 192)))
    assert ks_uniform(model.in_proj_weight, math.sqrt(6 / 256)) > ALPHA


def test_transformer_encoder(monkeypatch):
    def factory():
        layer = torch.nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128)
        return torch.nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)

    check_against_torch(factory, monkeypatch)


def test_lstm(monkeypatch):
    model = check_against_torch(lambda: torch.nn.LSTM(32, 64, num_layers=2), monkeypatch)
    for name, parameter in model.named_parameters():  # every LSTM tensor: U(+-1/sqrt(hidden))
        assert ks_uniform(parameter, 1 / math.sqrt(64)) > ALPHA / 8, name


def test_model_in_float16_and_bfloat16(monkeypatch):
    for dtype in (torch.float16, torch.bfloat16):
        check_against_torch(lambda: torch.nn.Linear(256, 256, dtype=dtype), monkeypatch)


def test_meta_device_model_builds_untouched():
    # Model code run under torch.device("meta") (large-model loading) never reaches fastglorot.
    with fi.fast_init(), torch.device("meta"):
        model = torch.nn.Linear(4096, 4096)
    assert model.weight.is_meta


def test_whole_model_reproducible_from_torch_manual_seed():
    def factory():
        return torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 8))

    first, second = build(factory, True), build(factory, True)
    for (name, a), (_, b) in zip(first.named_parameters(), second.named_parameters()):
        assert torch.equal(a, b), name


def llama_factory():
    transformers = pytest.importorskip("transformers")
    config = transformers.LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
    return lambda: transformers.AutoModelForCausalLM.from_config(config)


@pytest.mark.parametrize("stream_format", [1, 2])
def test_hugging_face_llama_from_config(monkeypatch, stream_format):
    factory = llama_factory()
    model = check_against_torch(factory, monkeypatch, stream_format)
    # transformers' _init_weights: Linear and Embedding weights N(0, initializer_range = 0.02)
    std = model.config.initializer_range
    assert ks_normal(model.model.embed_tokens.weight, std) > ALPHA
    assert ks_normal(model.model.layers[0].self_attn.q_proj.weight, std) > ALPHA
    assert ks_normal(model.lm_head.weight, std) > ALPHA
