"""``fastglorot.Generator`` and named streams.

Specification: ``Generator(seed)`` records the seed it uses (drawn from OS
entropy for ``None``); its methods mirror the module-level samplers and
initializers with ``seed`` supplied and ``stream`` optional.  The n-th call
without an explicit stream (counting from 0) uses stream n, so
``Generator(7).normal_(a)`` equals ``fastglorot.normal_(a, seed=7,
stream=0)``.  An explicit ``stream=`` (int or name) is used as given and
does not advance the count.  The module functions are the reference for
every expected value below.

Named streams: ``stream_id(name)`` is the little-endian integer of the first
8 bytes of ``sha256(b"fastglorot stream:" + name.encode("utf-8"))``, and
``stream="name"`` means ``stream=stream_id("name")`` everywhere.
"""

import hashlib
import inspect
import threading

import numpy as np
import pytest

import fastglorot
from fastglorot import Generator, stream_id

# -- mirrored methods ----------------------------------------------------------

IN_PLACE = ["uniform_", "normal_", "trunc_normal_", "variance_scaling_", "glorot_uniform_", "glorot_normal_",
            "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "he_uniform_",
            "he_normal_", "lecun_uniform_", "lecun_normal_"]
ALLOCATING = ["uniform", "normal", "trunc_normal", "variance_scaling", "glorot_uniform", "glorot_normal",
              "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "he_uniform", "he_normal",
              "lecun_uniform", "lecun_normal"]
MIRRORED = ["random_bits"] + IN_PLACE + ALLOCATING


def test_mirrored_list_is_complete():
    """Every public sampler/initializer (anything taking seed= and stream=) is in MIRRORED."""
    takes_seed = {name for name in fastglorot.__all__
                  if inspect.isfunction(getattr(fastglorot, name))
                  and {"seed", "stream"} <= set(inspect.signature(getattr(fastglorot, name)).parameters)}
    assert takes_seed == set(MIRRORED)


def _call(name, target, stream=None, seed=None):
    """Call ``name`` on ``target`` (a Generator, or the module with ``seed``) on fixed arguments."""
    kwargs = {} if stream is None else {"stream": stream}
    if seed is not None:
        kwargs["seed"] = seed
    function = getattr(target, name)
    if name == "random_bits":
        return function(37, offset=3, **kwargs)
    if name in IN_PLACE:
        out = np.empty((12, 10), np.float32)
        result = function(out, **kwargs)
        assert result is out
        return result
    return function((12, 10), **kwargs)


@pytest.mark.parametrize("name", MIRRORED)
def test_method_calls_use_streams_0_1_2(name):
    """Calls n = 0, 1, 2 of a fresh generator equal the module function with stream=n."""
    gen = Generator(7)
    assert hasattr(Generator, name), f"Generator has no method {name}"
    for n in range(3):
        assert gen.calls == n
        got = _call(name, gen)
        np.testing.assert_array_equal(got, _call(name, fastglorot, stream=n, seed=7))
    assert gen.calls == 3


def test_mixed_sequence_equals_module_functions():
    """A model-like sequence of different calls takes streams 0, 1, 2, ... in order."""
    gen = Generator(2**64 - 1)
    a = gen.normal_(np.empty(1000, np.float32))
    b = gen.uniform_(np.empty((30, 7), np.float64), -2.0, 3.0, offset=11)
    c = gen.trunc_normal_(np.empty(513, np.float32), 0.0, 1.0, -1.0, 1.5)
    d = gen.random_bits(10)
    e = gen.glorot_uniform((64, 32))
    f = gen.kaiming_normal((16, 8, 3, 3), mode="fan_out", dtype=np.float16)
    g = gen.variance_scaling_(np.empty((20, 30), np.float32), 2.0, "fan_avg", "uniform")
    h = gen.glorot_normal((40, 50), truncated=True, gain=0.5)
    assert gen.calls == 8

    seed = 2**64 - 1
    np.testing.assert_array_equal(a, fastglorot.normal_(np.empty(1000, np.float32), seed=seed, stream=0))
    np.testing.assert_array_equal(b, fastglorot.uniform_(np.empty((30, 7)), -2.0, 3.0, seed=seed, stream=1,
                                                         offset=11))
    np.testing.assert_array_equal(c, fastglorot.trunc_normal_(np.empty(513, np.float32), 0.0, 1.0, -1.0, 1.5,
                                                              seed=seed, stream=2))
    np.testing.assert_array_equal(d, fastglorot.random_bits(10, seed=seed, stream=3))
    np.testing.assert_array_equal(e, fastglorot.glorot_uniform((64, 32), seed=seed, stream=4))
    expected_f = fastglorot.kaiming_normal((16, 8, 3, 3), mode="fan_out", dtype=np.float16, seed=seed, stream=5)
    assert f.dtype == np.float16
    np.testing.assert_array_equal(f.view(np.uint16), expected_f.view(np.uint16))
    np.testing.assert_array_equal(g, fastglorot.variance_scaling_(np.empty((20, 30), np.float32), 2.0, "fan_avg",
                                                                  "uniform", seed=seed, stream=6))
    np.testing.assert_array_equal(h, fastglorot.glorot_normal((40, 50), truncated=True, gain=0.5, seed=seed,
                                                              stream=7))


def test_same_seed_same_sequence_and_layers_differ():
    first, second = Generator(123), Generator(123)
    layers = [first.glorot_uniform((64, 64)) for _ in range(3)]
    replay = [second.glorot_uniform((64, 64)) for _ in range(3)]
    for layer, again in zip(layers, replay):
        np.testing.assert_array_equal(layer, again)
    # Different streams: the layers are unrelated (equal values only by chance,
    # about 4096 / 2**24 per element).
    for i in range(3):
        for j in range(i):
            assert np.mean(layers[i] == layers[j]) < 0.01
    other = Generator(124).glorot_uniform((64, 64))
    assert np.mean(other == layers[0]) < 0.01


def test_explicit_stream_is_used_and_does_not_advance():
    gen = Generator(3)
    out = gen.normal_(np.empty(300, np.float32), stream=5)
    np.testing.assert_array_equal(out, fastglorot.normal_(np.empty(300, np.float32), seed=3, stream=5))
    assert gen.calls == 0
    out = gen.glorot_uniform((10, 20), stream="encoder.weight")
    np.testing.assert_array_equal(out, fastglorot.glorot_uniform((10, 20), seed=3, stream="encoder.weight"))
    assert gen.calls == 0
    out = gen.random_bits(8, stream=0)  # an explicit 0 is not "no stream"
    np.testing.assert_array_equal(out, fastglorot.random_bits(8, seed=3, stream=0))
    assert gen.calls == 0
    # The automatic sequence then starts at 0 regardless of the explicit calls.
    out = gen.normal_(np.empty(300, np.float32))
    np.testing.assert_array_equal(out, fastglorot.normal_(np.empty(300, np.float32), seed=3, stream=0))
    assert gen.calls == 1
    out = gen.normal_(np.empty(300, np.float32), stream=None)  # None means "the next one"
    np.testing.assert_array_equal(out, fastglorot.normal_(np.empty(300, np.float32), seed=3, stream=1))
    assert gen.calls == 2


def test_threads_use_each_stream_exactly_once():
    """8 threads x 60 calls: the streams used are exactly range(480)."""
    seed, threads, per_thread = 99, 8, 60
    total = threads * per_thread
    gen = Generator(seed)
    start = threading.Barrier(threads)
    results = [[] for _ in range(threads)]

    def work(i):
        start.wait()
        for k in range(per_thread):
            if k % 2:
                results[i].append(gen.random_bits(4))
            else:
                out = np.empty(4096, np.float32)  # long enough to release the GIL in the kernel
                results[i].append(gen.uniform_(out).view(np.uint32)[:4].copy())

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert gen.calls == total

    # Identify each result's stream by its first four words (raw words or uniform bits).
    by_value = {}
    for stream in range(total):
        by_value[tuple(fastglorot.random_bits(4, seed=seed, stream=stream))] = stream
        uniform = fastglorot.uniform_(np.empty(4, np.float32), seed=seed, stream=stream)
        by_value[tuple(uniform.view(np.uint32))] = stream
    assert len(by_value) == 2 * total
    used = sorted(by_value[tuple(r)] for per in results for r in per)
    assert used == list(range(total))


# -- seeds ---------------------------------------------------------------------

def test_seed_is_recorded():
    assert Generator(7).seed == 7
    assert Generator(0).seed == 0
    assert Generator(2**64 - 1).seed == 2**64 - 1
    seed = Generator(np.uint64(2**63 + 5)).seed
    assert seed == 2**63 + 5 and type(seed) is int


def test_entropy_seed_is_recorded_and_reproducible():
    first, second = Generator(), Generator(None)
    for gen in (first, second):
        assert type(gen.seed) is int and 0 <= gen.seed < 2**64
    assert first.seed != second.seed  # 64 bits of entropy each: equal with probability 2**-64
    values = [first.normal_(np.empty(100, np.float32)) for _ in range(2)]
    replay = Generator(first.seed)
    for value in values:
        np.testing.assert_array_equal(replay.normal_(np.empty(100, np.float32)), value)


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (2**64, ValueError), (1.5, TypeError),
                                        (True, TypeError), ("7", TypeError), (np.float64(3.0), TypeError)],
                         ids=["negative", "2**64", "float", "bool", "str", "np_float"])
def test_invalid_seed_raises_like_the_functions(bad, error):
    with pytest.raises(error) as from_generator:
        Generator(bad)
    with pytest.raises(error) as from_function:
        fastglorot.uniform_(np.empty(4, np.float32), seed=bad)
    assert str(from_generator.value) == str(from_function.value)
    with pytest.raises(error):
        fastglorot.glorot_uniform_(np.empty((4, 4), np.float32), seed=bad)


# -- signatures, docs, repr ----------------------------------------------------------

@pytest.mark.parametrize("name", MIRRORED)
def test_signature_has_no_seed_and_optional_stream(name):
    signature = inspect.signature(getattr(Generator, name))
    function_signature = inspect.signature(getattr(fastglorot, name))
    parameters = signature.parameters
    assert "seed" not in parameters
    assert list(parameters)[0] == "self"
    assert parameters["stream"].default is None
    assert parameters["stream"].kind is inspect.Parameter.KEYWORD_ONLY
    expected = [p for p in function_signature.parameters if p != "seed"]
    assert list(parameters)[1:] == expected
    for p in expected:
        if p != "stream":
            assert parameters[p].default == function_signature.parameters[p].default
            assert parameters[p].kind == function_signature.parameters[p].kind
    bound = inspect.signature(getattr(Generator(1), name))
    assert "self" not in bound.parameters and "seed" not in bound.parameters
    assert getattr(Generator, name).__doc__


def test_glorot_uniform_signature():
    parameters = inspect.signature(Generator.glorot_uniform_).parameters
    assert list(parameters) == ["self", "out", "gain", "stream", "layout", "fan_in", "fan_out", "offset",
                                "global_shape", "global_offset", "stream_format"]
    assert parameters["stream"].default is None
    assert parameters["stream_format"].default is None


def test_stream_format_of_a_generator_and_of_its_calls():
    """``Generator(seed, stream_format=2)`` draws format 2 wherever a call passes none; a call's own argument wins;
    ``None`` follows ``fastglorot.stream_format`` (expected values: the module-level functions)."""
    gen = Generator(11, stream_format=2)
    assert gen.stream_format == 2 and "stream_format=2" in repr(gen)
    assert np.array_equal(gen.normal((5, 7)), fastglorot.normal((5, 7), seed=11, stream=0, stream_format=2))
    assert np.array_equal(gen.normal((5, 7), stream_format=1), fastglorot.normal((5, 7), seed=11, stream=1))
    plain = Generator(11)
    assert plain.stream_format is None
    with fastglorot.stream_format(2):
        assert np.array_equal(plain.trunc_normal((6,)), fastglorot.trunc_normal((6,), seed=11, stream_format=2))
    assert np.array_equal(plain.trunc_normal((6,)), fastglorot.trunc_normal((6,), seed=11, stream=1))
    with pytest.raises(ValueError, match="stream_format must be 1 or 2, got 3"):
        Generator(1, stream_format=3)


def test_repr_shows_seed_and_calls():
    gen = Generator(5)
    assert "seed=5" in repr(gen) and "calls=0" in repr(gen)
    gen.random_bits(1)
    gen.random_bits(1, stream=9)
    assert "seed=5" in repr(gen) and "calls=1" in repr(gen)


# -- named streams -------------------------------------------------------------

# Golden stream ids: part of stream format v1 (README "Stream format"; the
# stream_id docstring promises stability across versions and platforms).
# Computed once from the formula in the module docstring; never change them.
GOLDEN_STREAM_IDS = {
    "encoder.layers.3.attn.q_proj.weight": 0xB4096A6B685E7302,
    "": 0x10079B43E4815CB0,
    "\u00fcn\u00efc\u00f6d\u00e9": 0x9AC82DF0D5020DD1,  # "ünïcödé", NFC code points
}


@pytest.mark.parametrize("name", GOLDEN_STREAM_IDS, ids=["q_proj", "empty", "unicode"])
def test_stream_id_golden(name):
    assert stream_id(name) == GOLDEN_STREAM_IDS[name]


@pytest.mark.parametrize("name", ["encoder.layers.3.attn.q_proj.weight", "", "\u00fcn\u00efc\u00f6d\u00e9", "0",
                                  "a" * 1000, "\U0001f600 emoji", "layer.1.weight"])
def test_stream_id_formula(name):
    digest = hashlib.sha256(b"fastglorot stream:" + name.encode("utf-8")).digest()
    expected = int.from_bytes(digest[:8], "little")
    assert stream_id(name) == expected
    assert type(stream_id(name)) is int and 0 <= stream_id(name) < 2**64


def test_stream_id_rejects_non_str():
    for bad in (b"name", 3, None, 1.5):
        with pytest.raises(TypeError):
            stream_id(bad)


NAMED = {
    "uniform_": lambda **k: fastglorot.uniform_(np.empty((17, 31), np.float32), -0.5, 0.5, **k),
    "normal_": lambda **k: fastglorot.normal_(np.empty(1001, np.float64), 1.0, 2.0, **k),
    "trunc_normal_": lambda **k: fastglorot.trunc_normal_(np.empty(600, np.float32), **k),
    "glorot_uniform_": lambda **k: fastglorot.glorot_uniform_(np.empty((64, 32), np.float32), **k),
    "glorot_uniform": lambda **k: fastglorot.glorot_uniform((64, 32), **k),
    "random_bits": lambda **k: fastglorot.random_bits(100, **k),
}


@pytest.mark.parametrize("fill", NAMED)
def test_named_stream_equals_its_id(fill):
    name = "encoder.layers.3.attn.q_proj.weight"
    by_name = NAMED[fill](seed=42, stream=name, offset=5)
    np.testing.assert_array_equal(by_name, NAMED[fill](seed=42, stream=stream_id(name), offset=5))
    np.testing.assert_array_equal(by_name, NAMED[fill](seed=42, stream=GOLDEN_STREAM_IDS[name], offset=5))
    # Different names (and a name versus the integer it spells) give unrelated values.
    for other in ("encoder.layers.3.attn.k_proj.weight", "", "0"):
        assert np.mean(NAMED[fill](seed=42, stream=other, offset=5) == by_name) < 0.05
    assert np.mean(NAMED[fill](seed=42, stream=0, offset=5) == NAMED[fill](seed=42, stream="0", offset=5)) < 0.05


def test_generator_named_stream():
    gen = Generator(42)
    out = gen.uniform_(np.empty(50, np.float32), stream="bias")
    np.testing.assert_array_equal(out, fastglorot.uniform_(np.empty(50, np.float32), seed=42,
                                                           stream=stream_id("bias")))
    assert gen.calls == 0


@pytest.mark.parametrize("bad, error", [(1.5, TypeError), (b"bytes", TypeError), (None, TypeError),
                                        (True, TypeError), (["a"], TypeError), (-1, ValueError),
                                        (2**64, ValueError)],
                         ids=["float", "bytes", "None", "bool", "list", "negative", "2**64"])
@pytest.mark.parametrize("fill", ["uniform_", "normal_", "glorot_uniform_", "random_bits"])
def test_invalid_stream(fill, bad, error):
    with pytest.raises(error):
        NAMED[fill](seed=1, stream=bad)


@pytest.mark.parametrize("bad", [1.5, b"bytes", True])
def test_generator_invalid_stream(bad):
    gen = Generator(1)
    out = np.zeros(8, np.float32)
    with pytest.raises(TypeError):
        gen.uniform_(out, stream=bad)
    assert gen.calls == 0
    assert not out.any()
