"""fastglorot.torch.init_module and materialize: name-addressed, order-independent model initialization."""

import math
import warnings

import numpy as np
import pytest

import fastglorot

torch = pytest.importorskip("torch")
fi = pytest.importorskip("fastglorot.torch")
nn = torch.nn

SEED = 20261129


def state(model):
    return {k: v.detach().clone() for k, v in model.state_dict(keep_vars=True).items()}


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


class Block(nn.Module):
    """Two layers whose creation order is a constructor argument; names do not depend on it."""

    def __init__(self, reverse=False):
        super().__init__()
        makers = [("attn", lambda: nn.Linear(32, 32)), ("norm", lambda: nn.LayerNorm(32)),
                  ("mlp", lambda: nn.Sequential(nn.Linear(32, 64), nn.GELU(), nn.Linear(64, 32))),
                  ("embed", lambda: nn.Embedding(100, 32))]
        for name, make in (reversed(makers) if reverse else makers):
            setattr(self, name, make())


def test_creation_order_does_not_matter():
    torch.manual_seed(0)
    first = Block()
    torch.manual_seed(0)
    second = Block(reverse=True)
    assert not torch.equal(first.attn.weight, second.attn.weight)  # torch's own init depends on the order
    fi.init_module(first, SEED)
    fi.init_module(second, SEED)
    assert_same_state(state(first), state(second))


def test_adding_a_layer_leaves_the_others_unchanged():
    small = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 8))
    large = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 8), nn.Linear(8, 8))
    fi.init_module(small, SEED)
    fi.init_module(large, SEED)
    for name, value in state(small).items():
        assert torch.equal(value, state(large)[name]), name


def test_values_are_fastglorot_streams_named_by_the_tensor():
    # Linear.reset_parameters: kaiming_uniform_(a=sqrt(5)) -> U(+-1/sqrt(fan_in)); bias U(+-1/sqrt(fan_in)).
    model = nn.Sequential(nn.Linear(24, 40))
    fi.init_module(model, SEED, prefix="encoder.")
    bound = 1 / math.sqrt(24)
    gain = math.sqrt(2.0 / (1 + 5))
    weight_bound = math.sqrt(3.0) * gain / math.sqrt(24)
    expected_weight = fastglorot.uniform_(np.empty((40, 24), np.float32), -weight_bound, weight_bound, seed=SEED,
                                          stream="encoder.0.weight")
    expected_bias = fastglorot.uniform_(np.empty(40, np.float32), -bound, bound, seed=SEED, stream="encoder.0.bias")
    np.testing.assert_array_equal(model[0].weight.detach().numpy(), expected_weight)
    np.testing.assert_array_equal(model[0].bias.detach().numpy(), expected_bias)


def test_prefix_initializes_a_submodule_as_the_whole_model_would():
    whole = Block()
    fi.init_module(whole, SEED)
    alone = nn.Sequential(nn.Linear(32, 64), nn.GELU(), nn.Linear(64, 32))
    fi.init_module(alone, SEED, prefix="mlp.")
    for name, value in state(alone).items():
        assert torch.equal(value, state(whole)["mlp." + name]), name


def test_seed_changes_values_and_none_draws_one_that_replays():
    a, b = nn.Linear(8, 8), nn.Linear(8, 8)
    fi.init_module(a, 1)
    fi.init_module(b, 2)
    assert not torch.equal(a.weight, b.weight)
    report = fi.init_module(a)
    fi.init_module(b, report.seed)
    assert torch.equal(a.weight, b.weight)
    with pytest.raises(ValueError):
        fi.init_module(a, -1)
    with pytest.raises(TypeError, match="prefix"):
        fi.init_module(a, 1, prefix=3)


def test_torch_generator_state_does_not_enter():
    a, b = nn.Linear(8, 8), nn.Linear(8, 8)
    torch.manual_seed(1)
    fi.init_module(a, SEED)
    torch.manual_seed(2)
    fi.init_module(b, SEED)
    assert torch.equal(a.weight, b.weight)


class Halves(nn.Module):
    """Initializes its weight in two column blocks, and a buffer through torch's trunc_normal_."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(6, 10))
        self.register_buffer("noise", torch.empty(50))
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.uniform_(self.weight[:, :4], -1.0, 1.0)
        nn.init.uniform_(self.weight.data[:, 4:], -1.0, 1.0)
        torch.nn.init.trunc_normal_(self.noise, std=1.0, a=-0.5, b=0.5)  # rejection buffers: unnamed fills


def test_blocks_of_a_named_tensor_are_filled_as_blocks_of_it():
    model = Halves()
    fi.init_module(model, SEED)
    whole = fastglorot.uniform_(np.empty((6, 10), np.float32), -1.0, 1.0, seed=SEED, stream="weight")
    np.testing.assert_array_equal(model.weight.detach().numpy(), whole)
    assert model.noise.abs().max() <= 0.5
    again = Halves()
    fi.init_module(again, SEED)
    assert torch.equal(model.noise, again.noise)  # temporaries are addressed too: reproducible


class TiedLM(nn.Module):
    def __init__(self, head_first):
        super().__init__()
        if head_first:
            self.head = nn.Linear(16, 50, bias=False)
            self.embed = nn.Embedding(50, 16)
        else:
            self.embed = nn.Embedding(50, 16)
            self.head = nn.Linear(16, 50, bias=False)
        self.head.weight = self.embed.weight


@pytest.mark.parametrize("head_first", [False, True])
def test_tied_weights_are_initialized_once_by_their_first_name(head_first):
    model = TiedLM(head_first)
    report = fi.init_module(model, SEED)
    first = next(iter(dict(model.named_parameters())))
    other = "embed.weight" if first == "head.weight" else "head.weight"
    assert report.tied == {first: [other]}
    # The owner's init alone: Embedding -> N(0, 1); Linear -> U(+-sqrt(3) * sqrt(1/3) / 4).
    if first == "embed.weight":
        expected = fastglorot.normal_(np.empty((50, 16), np.float32), 0.0, 1.0, seed=SEED, stream=first)
    else:
        bound = math.sqrt(3.0) * math.sqrt(2.0 / 6) / 4
        expected = fastglorot.uniform_(np.empty((50, 16), np.float32), -bound, bound, seed=SEED, stream=first)
    np.testing.assert_array_equal(model.embed.weight.detach().numpy(), expected)


class Custom(nn.Module):
    """A raw parameter and a computed non-persistent buffer, with no init method."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(4))
        self.register_buffer("table", torch.arange(5.0), persistent=False)
        self.proj = nn.Linear(4, 4)


def test_tensors_no_init_writes_are_reported_by_name():
    model = Custom()
    with pytest.warns(UserWarning, match=r"no init wrote 2 tensor\(s\).*scale, table"):
        report = fi.init_module(model, SEED)
    assert report.untouched == ["scale", "table"]
    assert report.modules_without_init == [""]
    assert set(report.initialized) == {"proj.weight", "proj.bias"}


def test_init_fn_replaces_reset_parameters():
    def init_fn(module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)
        if isinstance(module, Custom):
            nn.init.ones_(module.scale)
            module.table.copy_(torch.arange(5.0))

    model = Custom()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = fi.init_module(model, SEED, init_fn=init_fn)
    assert report.untouched == [] and report.modules_without_init == []
    expected = fastglorot.normal_(np.empty((4, 4), np.float32), 0.0, 0.02, seed=SEED, stream="proj.weight")
    np.testing.assert_array_equal(model.proj.weight.detach().numpy(), expected)


def test_multihead_attention_and_transformer_modules():
    def make():
        layer = nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64)
        return nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)

    torch.manual_seed(0)
    first = make()
    torch.manual_seed(1)
    second = make()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every tensor has an init (MultiheadAttention's _reset_parameters)
        fi.init_module(first, SEED)
        fi.init_module(second, SEED)
    assert_same_state(state(first), state(second))
    assert torch.count_nonzero(first.layers[0].self_attn.in_proj_bias) == 0


def test_materialize_equals_cpu_build_plus_init_module():
    with torch.device("meta"):
        meta = Block()
    assert meta.attn.weight.is_meta
    assert fi.materialize(meta, SEED) is meta
    cpu = Block()
    fi.init_module(cpu, SEED)
    assert_same_state(state(meta), state(cpu))


def test_materialize_warns_about_computed_buffers_it_cannot_restore():
    with torch.device("meta"):
        meta = Custom()
    with pytest.warns(UserWarning, match="table"):
        fi.materialize(meta, SEED)


def llama(device):
    transformers = pytest.importorskip("transformers")
    config = transformers.LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                                      tie_word_embeddings=True)
    with torch.device(device):
        return transformers.AutoModelForCausalLM.from_config(config)


def test_hugging_face_llama_materialized_from_meta():
    meta = llama("meta")
    fi.materialize(meta, SEED, init_fn=meta._init_weights)
    cpu = llama("cpu")
    report = fi.init_module(cpu, SEED, init_fn=cpu._init_weights)
    assert report.untouched == []
    assert report.tied == {"model.embed_tokens.weight": ["lm_head.weight"]}
    assert_same_state(state(meta), state(cpu))
    assert meta.lm_head.weight is meta.model.embed_tokens.weight  # still tied after to_empty
    inv_freq = cpu.model.rotary_emb.inv_freq  # recomputed by _init_weights, not left as to_empty garbage
    assert torch.equal(meta.model.rotary_emb.inv_freq, inv_freq) and torch.isfinite(inv_freq).all()
    expected = fastglorot.normal_(np.empty((256, 64), np.float32), 0.0, 0.02, seed=SEED,
                                  stream="model.embed_tokens.weight")
    np.testing.assert_array_equal(cpu.model.embed_tokens.weight.detach().numpy(), expected)


# -- arguments in the caller's terms ------------------------------------------------------------------------------

@pytest.mark.parametrize("function", ["init_module", "materialize"])
def test_a_tensor_instead_of_a_module_is_a_type_error_that_says_what_to_call(function):
    """The report's reproduction: init_module(torch.zeros(3)) raised AttributeError 'named_modules'."""
    with pytest.raises(TypeError, match=rf"^fastglorot\.torch\.{function}\(\) expects a torch\.nn\.Module, got "
                                        r"torch\.Tensor \(to fill a tensor, call an initializer on it: "):
        getattr(fastglorot.torch, function)(torch.zeros(3), seed=1)


@pytest.mark.parametrize("function", ["init_module", "materialize"])
@pytest.mark.parametrize("module, name", [([1, 2], "list"), (None, "NoneType"), ("model", "str")])
def test_other_non_modules_are_type_errors(function, module, name):
    with pytest.raises(TypeError, match=rf"expects a torch\.nn\.Module, got {name}$"):
        getattr(fastglorot.torch, function)(module, seed=1)


@pytest.mark.parametrize("function", ["init_module", "materialize"])
def test_uncallable_init_fn_is_a_type_error(function):
    model = torch.nn.Linear(4, 4, device="meta" if function == "materialize" else "cpu")
    with pytest.raises(TypeError, match=r"init_fn must be callable \(called with each submodule\), got int"):
        getattr(fastglorot.torch, function)(model, seed=1, init_fn=3)


def test_materialize_checks_the_seed_before_allocating():
    model = torch.nn.Linear(4, 4, device="meta")
    with pytest.raises(ValueError, match=r"seed must lie in \[0, 2\*\*64\)"):
        fastglorot.torch.materialize(model, seed=-1)
    assert model.weight.is_meta  # nothing was allocated


# -- stream format (README "Stream format"): one per call, resolved where the user calls ---------------------------

class Normals(nn.Module):
    """Float32 and bfloat16 weights that an init_fn fills with the normal-family initializers."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(96, 64)
        self.low = nn.Linear(64, 512, dtype=torch.bfloat16)
        self.embed = nn.Embedding(300, 96)


def normals_init(module):
    # A Hugging Face style Tensor.normal_ (taken over from torch) and fastglorot.torch's own drop-in called
    # without stream_format: both get the call's format.
    if isinstance(module, nn.Linear):
        fi.trunc_normal_(module.weight, std=0.02, a=-0.03, b=0.05)
        nn.init.zeros_(module.bias)
    if isinstance(module, nn.Embedding):
        module.weight.data.normal_(mean=0.0, std=0.5)


def normals_expected(stream_format):
    """The core's own values for each tensor: ``fastglorot.<sampler>(..., seed=SEED, stream=<name>,
    stream_format=n)`` on a tensor of the same shape and dtype."""
    def trunc(shape, dtype, name):
        return fastglorot.trunc_normal_(torch.empty(shape, dtype=dtype), 0.0, 0.02, -0.03, 0.05, seed=SEED,
                                        stream=name, stream_format=stream_format)

    return {"proj.weight": trunc((64, 96), torch.float32, "proj.weight"),
            "low.weight": trunc((512, 64), torch.bfloat16, "low.weight"),
            "embed.weight": fastglorot.normal_(torch.empty(300, 96), 0.0, 0.5, seed=SEED, stream="embed.weight",
                                               stream_format=stream_format)}


def assert_bits(model, expected):
    for name, values in expected.items():
        got = model.get_parameter(name).detach()
        assert torch.equal(got.view(torch.int16 if got.element_size() == 2 else torch.int32),
                           values.view(torch.int16 if values.element_size() == 2 else torch.int32)), name


@pytest.mark.parametrize("stream_format", [1, 2])
def test_init_module_gives_the_cores_bits_in_each_format(stream_format):
    model = Normals()
    report = fi.init_module(model, SEED, init_fn=normals_init, stream_format=stream_format)
    assert report.stream_format == stream_format
    assert_bits(model, normals_expected(stream_format))


def test_init_module_formats_differ_and_the_default_is_1():
    v1, v2 = normals_expected(1), normals_expected(2)
    for name in v1:  # not vacuous: format 2 changes every one of these tensors
        assert not torch.equal(v1[name], v2[name]), name
    model = Normals()
    assert fi.init_module(model, SEED, init_fn=normals_init).stream_format == 1
    assert_bits(model, v1)


def test_init_module_reads_the_current_format_once_where_it_is_called():
    def init_fn(module):
        with fastglorot.stream_format(1):  # inside the call: the call's format holds
            normals_init(module)

    model, explicit = Normals(), Normals()
    with fastglorot.stream_format(2):
        report = fi.init_module(model, SEED, init_fn=init_fn)
    fi.init_module(explicit, SEED, init_fn=normals_init, stream_format=2)
    assert report.stream_format == 2
    assert_same_state(state(model), state(explicit))
    with fi.fast_init(stream_format=2):  # an enclosing fast_init's format is the current one too
        assert fi.init_module(Normals(), SEED, init_fn=normals_init).stream_format == 2


@pytest.mark.parametrize("stream_format", [1, 2])
def test_materialize_in_each_format_equals_cpu_build_plus_init_module(stream_format):
    with torch.device("meta"):
        meta = Normals()
    with fastglorot.stream_format(stream_format):  # read by materialize, where it is called
        fi.materialize(meta, SEED, init_fn=normals_init)
    cpu = Normals()
    fi.init_module(cpu, SEED, init_fn=normals_init, stream_format=stream_format)
    assert_same_state(state(meta), state(cpu))
    assert_bits(meta, normals_expected(stream_format))


@pytest.mark.parametrize("bad, error", [(3, ValueError), ("2", TypeError), (True, TypeError)], ids=repr)
def test_a_bad_stream_format_is_refused_before_anything_is_written_or_allocated(bad, error):
    model = Normals()
    before = state(model)
    with pytest.raises(error, match=r"^stream_format must be 1 or 2"):
        fi.init_module(model, SEED, init_fn=normals_init, stream_format=bad)
    assert_same_state(state(model), before)
    with torch.device("meta"):
        meta = Normals()
    with pytest.raises(error, match=r"^stream_format must be 1 or 2"):
        fi.materialize(meta, SEED, stream_format=bad)
    assert all(p.is_meta for p in meta.parameters())  # nothing was allocated
