"""fastglorot.keras against Keras' own initializers: signatures, configs, serialization, seeds, fans, values.

The suite runs Keras on jax (tests/conftest.py sets KERAS_BACKEND before Keras
is imported); the torch and numpy backends run in subprocesses.
"""

from __future__ import annotations

import inspect
import math
import textwrap
import warnings

import numpy as np
import pytest

import fastglorot

keras = pytest.importorskip("keras", reason="fastglorot.keras needs Keras 3 (pip install 'fastglorot[keras]')")
fk = pytest.importorskip("fastglorot.keras", reason="fastglorot.keras could not be imported")

from conftest import run_python  # noqa: E402  (after the skips: keras may be missing)
from keras.src.initializers.random_initializers import compute_fans as keras_compute_fans  # noqa: E402

NAMES = ["VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "LecunNormal",
         "RandomUniform", "RandomNormal", "TruncatedNormal"]
VARIANCE_SCALING = NAMES[:7]

# Non-default arguments per class (seed added by the tests).
ARGS = {
    "VarianceScaling": {"scale": 0.3, "mode": "fan_out", "distribution": "uniform"},
    "RandomUniform": {"minval": -0.2, "maxval": 0.3},
    "RandomNormal": {"mean": 0.1, "stddev": 0.2},
    "TruncatedNormal": {"mean": 0.1, "stddev": 0.2},
}

DTYPES = ["float32", "bfloat16", "float16"]  # float64 is float32 on jax without x64 (test below)
SHAPES = [(64, 32), (3, 3, 8, 16)]


def ours(name, **kwargs):
    return getattr(fk, name)(**{**ARGS.get(name, {}), **kwargs})


def theirs(name, **kwargs):
    return getattr(keras.initializers, name)(**{**ARGS.get(name, {}), **kwargs})


def expected(name, shape, dtype="float32", seed=7, stream=0, stream_format=None, **overrides):
    """The fastglorot function the fastglorot.keras class ``name`` equals (rank >= 2, no axes)."""
    kw = {"dtype": dtype, "seed": seed, "stream": stream, "stream_format": stream_format}
    vs = {**kw, "layout": "keras"}
    args = {**ARGS.get(name, {}), **overrides}
    if name == "VarianceScaling":
        distribution = {"normal": "truncated_normal"}.get(args["distribution"], args["distribution"])
        return fastglorot.variance_scaling(shape, args["scale"], args["mode"], distribution, **vs)
    if name == "GlorotNormal":
        return fastglorot.glorot_normal(shape, truncated=True, **vs)
    if name in VARIANCE_SCALING:
        function = {"GlorotUniform": "glorot_uniform", "HeUniform": "he_uniform", "HeNormal": "he_normal",
                    "LecunUniform": "lecun_uniform", "LecunNormal": "lecun_normal"}[name]
        return getattr(fastglorot, function)(shape, **vs)
    if name == "RandomUniform":
        return fastglorot.uniform(shape, args["minval"], args["maxval"], **kw)
    if name == "RandomNormal":
        return fastglorot.normal(shape, args["mean"], args["stddev"], **kw)
    mean, std = args["mean"], args["stddev"]
    return fastglorot.trunc_normal(shape, mean, std, a=mean - 2 * std, b=mean + 2 * std, **kw)


def bits(x):
    """The raw bits of a tensor or array (so float16/bfloat16 compare exactly, NaNs included)."""
    array = np.asarray(keras.ops.convert_to_numpy(x))
    return array.view(f"u{array.dtype.itemsize}")


def same(a, b):
    a, b = np.asarray(keras.ops.convert_to_numpy(a)), np.asarray(keras.ops.convert_to_numpy(b))
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(bits(a), bits(b))


# -- import, classes, signatures, configs ---------------------------------------------------------

def test_import_fastglorot_does_not_import_keras():
    code = ("import sys, fastglorot\n"
            "assert 'keras' not in sys.modules and 'fastglorot.keras' not in sys.modules, "
            "sorted(m for m in sys.modules if 'keras' in m)\n")
    run_python(code)


@pytest.mark.parametrize("name", NAMES)
def test_subclass_signature_and_defaults_are_keras(name):
    cls, keras_cls = getattr(fk, name), getattr(keras.initializers, name)
    assert issubclass(cls, keras_cls) and issubclass(cls, keras.initializers.Initializer)
    assert name in fk.__all__

    def parameters(function):
        return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]

    # Keras' parameters, then fastglorot's keyword-only stream_format.
    assert parameters(cls) == parameters(keras_cls) + [("stream_format", inspect.Parameter.KEYWORD_ONLY, None)]
    assert parameters(cls.__call__) == parameters(keras_cls.__call__) == [
        ("self", inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.empty),
        ("shape", inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.empty),
        ("dtype", inspect.Parameter.POSITIONAL_OR_KEYWORD, None)]
    # Defaults produce Keras' attributes and config (seed None in both).
    assert cls().get_config() == keras_cls().get_config()
    if name in VARIANCE_SCALING:
        mine, kerass = cls(), keras_cls()
        assert (mine.scale, mine.mode, mine.distribution) == (kerass.scale, kerass.mode, kerass.distribution)


@pytest.mark.parametrize("name", NAMES)
def test_get_config_is_keras_config(name):
    extra = {"input_axes": [0], "output_axes": [1]} if name in VARIANCE_SCALING else {}
    config = ours(name, seed=5, **extra).get_config()
    assert config == theirs(name, seed=5, **extra).get_config()
    assert config["seed"] == 5


@pytest.mark.parametrize("name", NAMES)
def test_from_config_and_clone_give_identical_values(name):
    init = ours(name, seed=5)
    for copy in (type(init).from_config(init.get_config()), init.clone()):
        assert type(copy) is type(init)
        assert same(copy((16, 8)), init((16, 8)))


def test_variance_scaling_normal_is_truncated_normal_as_in_keras():
    init = fk.VarianceScaling(distribution="Normal", seed=2)
    assert init.get_config()["distribution"] == keras.initializers.VarianceScaling(distribution="Normal").distribution
    assert same(init((32, 16)), fastglorot.variance_scaling((32, 16), 1.0, "fan_in", "truncated_normal", seed=2,
                                                            layout="keras"))


# -- stream format --------------------------------------------------------------------------------

# The classes whose draws (with ARGS) are normal or truncated normal: VarianceScaling's ARGS draw a uniform.
NORMALS = {"GlorotNormal", "HeNormal", "LecunNormal", "RandomNormal", "TruncatedNormal"}


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_stream_format_2_values_equal_the_fastglorot_functions(dtype):
    """``stream_format=2`` gives the core's ``fastglorot.<function>(..., stream_format=2)`` bits."""
    shape = (24, 40)
    for name in NAMES:
        init = ours(name, seed=7, stream_format=2)
        assert init.stream_format == 2
        v2 = expected(name, shape, dtype=dtype, stream_format=2)
        assert same(init(shape, dtype=dtype), v2), name
        assert same(ours(name, seed=7, stream_format=1)(shape, dtype=dtype), expected(name, shape, dtype=dtype,
                                                                                     stream_format=1)), name
        if dtype == "float32":  # the formats differ exactly for the normal draws (README "Stream format")
            assert same(v2, expected(name, shape, stream_format=1)) == (name not in NORMALS), name
    init = fk.VarianceScaling(2.0, "fan_avg", "untruncated_normal", seed=3, stream_format=2)
    assert same(init(shape, dtype=dtype), fastglorot.variance_scaling(shape, 2.0, "fan_avg", "normal", seed=3,
                                                                      layout="keras", dtype=dtype, stream_format=2))
    generator = keras.random.SeedGenerator(7)
    init = fk.HeNormal(seed=generator, stream_format=2)
    init(shape, dtype=dtype)
    assert same(init(shape, dtype=dtype), expected("HeNormal", shape, dtype=dtype, seed=7, stream=1, stream_format=2))


def test_stream_format_is_fixed_when_the_instance_is_made():
    shape = (24, 40)
    v1, v2 = (expected("GlorotNormal", shape, stream_format=n) for n in (1, 2))
    with fastglorot.stream_format(2):
        made_in_2 = fk.GlorotNormal(seed=7)
        explicit_1 = fk.GlorotNormal(seed=7, stream_format=1)
    made_in_1 = fk.GlorotNormal(seed=7)
    assert (made_in_2.stream_format, explicit_1.stream_format, made_in_1.stream_format) == (2, 1, 1)
    assert same(made_in_2(shape), v2) and same(explicit_1(shape), v1)
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # a thread of its own (format 1) calls it
        assert pool.submit(fastglorot.get_stream_format).result() == 1
        assert same(pool.submit(made_in_2, shape).result(), v2)
    with fastglorot.stream_format(2):
        assert same(made_in_1(shape), v1)  # a block entered after making changes nothing
    layer = keras.layers.Dense(40, kernel_initializer=made_in_2)
    layer.build((None, 24))
    assert same(layer.kernel.value, v2)


@pytest.mark.parametrize("name", NAMES)
def test_config_round_trip_keeps_the_stream_format(name):
    shape = (16, 8)
    v2 = ours(name, seed=5, stream_format=2)
    config = v2.get_config()
    assert config == {**theirs(name, seed=5).get_config(), "stream_format": 2}
    serialized = keras.initializers.serialize(v2)
    with fastglorot.stream_format(1):  # the config, not the context at load time, decides
        copies = [type(v2).from_config(config), v2.clone(), keras.initializers.deserialize(serialized)]
    for copy in copies:
        assert type(copy) is type(v2) and copy.stream_format == 2 and copy.get_config() == config
        assert same(copy(shape), v2(shape))
    # Format 1: Keras' own config, unchanged; a config without the key (also every config written before the
    # key existed) is format 1, under any block.
    v1 = ours(name, seed=5, stream_format=1)
    assert v1.get_config() == theirs(name, seed=5).get_config()
    with fastglorot.stream_format(2):
        copies = [type(v1).from_config(v1.get_config()), v1.clone(),
                  keras.initializers.deserialize(keras.initializers.serialize(v1))]
    for copy in copies:
        assert copy.stream_format == 1 and same(copy(shape), v1(shape))
    if name in NORMALS:
        assert not same(v1(shape), v2(shape))
    with pytest.raises(ValueError, match="stream_format must be 1 or 2, got 3"):
        type(v2).from_config({**config, "stream_format": 3})


# Keras' own saving code converts its variables with np.array(copy=False) (a NumPy 2 deprecation in Keras).
@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")
def test_saved_model_keeps_the_stream_format(tmp_path):
    with fastglorot.stream_format(2):
        model = keras.Sequential([keras.Input((12,)), keras.layers.Dense(6, kernel_initializer=fk.HeNormal(seed=1),
                                                                         bias_initializer=fk.RandomNormal(seed=2))])
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert loaded.layers[0].kernel_initializer.stream_format == 2
    rebuilt = keras.Sequential.from_config(loaded.get_config())  # fresh weights: the same format-2 draws
    assert same(rebuilt.layers[0].kernel, fastglorot.he_normal((12, 6), seed=1, layout="keras", stream_format=2))
    assert same(rebuilt.layers[0].bias, fastglorot.normal((6,), 0.0, 0.05, seed=2, stream_format=2))


@pytest.mark.parametrize("name", NAMES)
def test_bad_stream_formats_raise_clear_errors(name):
    generator = keras.random.SeedGenerator(4)
    for bad, error, match in [(3, ValueError, "stream_format must be 1 or 2, got 3"),
                              ("2", TypeError, r"stream_format must be 1 or 2 \(an int\), got '2'"),
                              (True, TypeError, "got True"), (2.0, TypeError, "got 2.0")]:
        with pytest.raises(error, match=match):
            ours(name, seed=generator, stream_format=bad)
    assert keras.ops.convert_to_numpy(generator.state.value).tolist() == [4, 0]  # untouched


# -- serialization --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_serialization_by_registered_name(name):
    init = ours(name, seed=9)
    config = keras.initializers.serialize(init)
    assert config["registered_name"] == f"fastglorot>{name}"
    assert config["module"] == "fastglorot.keras"
    back = keras.initializers.deserialize(config)
    assert type(back) is type(init) and back.get_config() == init.get_config()
    assert same(back((8, 4)), init((8, 4)))
    assert type(keras.saving.deserialize_keras_object(config)) is type(init)
    assert type(keras.initializers.get(config)) is type(init)
    # By name: the registered name; Keras' own names keep meaning Keras' own classes.
    assert type(keras.initializers.get(f"fastglorot>{name}")) is type(init)
    assert type(keras.initializers.get(name)) is getattr(keras.initializers, name)
    assert keras.saving.get_registered_object(f"fastglorot>{name}") is type(init)
    assert keras.saving.get_registered_name(type(init)) == f"fastglorot>{name}"


# Keras' own saving code converts its variables with np.array(copy=False) (a NumPy 2 deprecation in Keras).
@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")
def test_saved_model_keeps_fastglorot_initializers(tmp_path):
    def model():
        return keras.Sequential([
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3, kernel_initializer=fk.HeNormal(seed=1),
                                bias_initializer=fk.RandomUniform(-0.1, 0.1, seed=4)),
            keras.layers.Flatten(),
            keras.layers.Dense(5, kernel_initializer=fk.GlorotUniform(seed=2),
                               bias_initializer=fk.TruncatedNormal(0.0, 0.02, seed=3)),
        ])

    original = model()
    path = tmp_path / "model.keras"
    original.save(path)
    loaded = keras.models.load_model(path)
    pairs = [(original.layers[0], loaded.layers[0]), (original.layers[2], loaded.layers[2])]
    for before, after in pairs:
        for attribute in ("kernel_initializer", "bias_initializer"):
            mine, back = getattr(before, attribute), getattr(after, attribute)
            assert type(back) is type(mine) and back.get_config() == mine.get_config()
            assert type(back).__module__ == "fastglorot.keras"
        assert all(same(a, b) for a, b in zip(before.weights, after.weights))
    # The loaded config rebuilds the same model: its fresh weights are the same fastglorot draws.
    rebuilt = keras.Sequential.from_config(loaded.get_config())
    assert all(same(a, b) for a, b in zip(original.weights, rebuilt.weights))
    assert same(original.layers[2].kernel, fastglorot.glorot_uniform((6 * 6 * 4, 5), seed=2, layout="keras"))
    assert same(original.layers[0].kernel, fastglorot.he_normal((3, 3, 3, 4), seed=1, layout="keras"))


# -- seeds ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_int_seed_gives_the_same_values_on_every_call(name):
    init = ours(name, seed=11)
    first = init((32, 16))
    assert same(init((32, 16)), first)
    assert same(ours(name, seed=11)((32, 16)), first)
    assert not same(ours(name, seed=12)((32, 16)), first)


def test_int_seed_is_taken_mod_2_64():
    for seed, key in [(-1, 2**64 - 1), (2**64 + 5, 5), (2**70 + 3, 3), (True, 1)]:
        want = fastglorot.glorot_uniform((16, 8), seed=key, layout="keras")
        assert same(fk.GlorotUniform(seed=seed)((16, 8)), want), seed


@pytest.mark.parametrize("name", NAMES)
def test_none_seed_is_fixed_per_instance_and_fresh_per_instance(name):
    init = ours(name)
    first = init((32, 16))
    assert same(init((32, 16)), first)
    other = ours(name)
    assert not same(other((32, 16)), first)
    assert init.get_config()["seed"] is None
    assert not same(type(init).from_config(init.get_config())((32, 16)), first)  # a new seed, as Keras


def test_none_seed_comes_from_os_entropy(monkeypatch):
    monkeypatch.setattr(fk.secrets, "randbits", lambda k: 2**64 - 3 if k == 64 else pytest.fail(str(k)))
    assert same(fk.LecunNormal()((16, 8)), fastglorot.lecun_normal((16, 8), seed=2**64 - 3, layout="keras"))


@pytest.mark.parametrize("name", NAMES)
def test_seed_generator_gives_fresh_values_and_starts_at_the_int_seed(name):
    generator = keras.random.SeedGenerator(7)
    init = ours(name, seed=generator)
    first, second = init((32, 16)), init((32, 16))
    assert same(first, ours(name, seed=7)((32, 16)))
    assert not same(first, second)
    assert same(second, expected(name, (32, 16), seed=7, stream=1))
    assert keras.ops.convert_to_numpy(generator.state.value).tolist() == [7, 2]  # one state per call


def test_seed_generator_state_gives_seed_and_stream():
    generator = keras.random.SeedGenerator(3_000_000_000)
    init = fk.RandomNormal(seed=generator)
    init((4, 4))
    assert same(init((4, 4)), fastglorot.normal((4, 4), 0.0, 0.05, seed=3_000_000_000, stream=1))
    assert not same(init((4, 4)), fastglorot.normal((4, 4), 0.0, 0.05, seed=3_000_000_000, stream=1))


def test_dict_seed_is_a_serialized_seed_generator():
    config = keras.saving.serialize_keras_object(keras.random.SeedGenerator(7))
    init = fk.HeUniform(seed=config)
    assert isinstance(init.seed, keras.random.SeedGenerator)
    assert same(init((8, 8)), fk.HeUniform(seed=7)((8, 8)))
    assert not same(init((8, 8)), fk.HeUniform(seed=7)((8, 8)))
    assert init.get_config() == keras.initializers.HeUniform(seed=config).get_config()


# -- values ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_values_equal_the_fastglorot_functions(name, dtype):
    for shape in SHAPES:
        value = ours(name, seed=7)(shape, dtype=dtype)
        assert str(value.dtype) == dtype
        assert same(value, expected(name, shape, dtype=dtype)), (name, shape)


@pytest.mark.parametrize("distribution", ["uniform", "truncated_normal", "untruncated_normal", "normal"])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
def test_variance_scaling_values_for_every_mode_and_distribution(mode, distribution):
    init = fk.VarianceScaling(2.5, mode, distribution, seed=3)
    assert same(init((5, 7, 6)), expected("VarianceScaling", (5, 7, 6), seed=3, scale=2.5, mode=mode,
                                          distribution=distribution))


def test_float64_gives_the_backend_dtype_of_keras():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # jax's "float64 is not available" on Keras' own draw
        keras_value = keras.initializers.GlorotUniform(seed=1)((8, 4), dtype="float64")
    value = fk.GlorotUniform(seed=1)((8, 4), dtype="float64")
    assert value.dtype == keras_value.dtype
    assert same(value, fastglorot.glorot_uniform((8, 4), seed=1, layout="keras", dtype=str(keras_value.dtype)))


def test_default_dtype_is_floatx():
    keras.config.set_floatx("float16")
    try:
        want = fastglorot.he_normal((8, 4), seed=1, layout="keras", dtype="float16")
        assert same(fk.HeNormal(seed=1)((8, 4)), want)
    finally:
        keras.config.set_floatx("float32")
    assert same(fk.HeNormal(seed=1)((8, 4), dtype=np.float32), fk.HeNormal(seed=1)((8, 4)))


def test_jax_result_aliases_the_fastglorot_array(monkeypatch):
    jax = pytest.importorskip("jax")
    if keras.backend.backend() != "jax":
        pytest.skip("the suite's Keras backend is not jax")
    made, variance_scaling = [], fastglorot.variance_scaling

    def allocate(*args, **kwargs):
        made.append(variance_scaling(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(fastglorot, "variance_scaling", allocate)
    value = fk.GlorotUniform(seed=3)((64, 64))
    assert isinstance(value, jax.Array) and value.devices() == {jax.devices("cpu")[0]}
    assert value.unsafe_buffer_pointer() == made[0].ctypes.data  # zero-copy


# -- fans -----------------------------------------------------------------------------------------

FAN_CASES = [((), None, None), ((7,), None, None), ((5, 3), None, None), ((3, 3, 4, 8), None, None),
             ((2, 3, 4, 5, 6), None, None), ((4, 6, 8), [0], [1, 2]), ((4, 6, 8), [0, 1], [2]),
             ((4, 6, 8), [], [2]), ((4, 6, 8), [0], None)]


@pytest.mark.parametrize("shape, input_axes, output_axes", FAN_CASES)
def test_fans_are_keras_compute_fans(shape, input_axes, output_axes):
    fans = keras_compute_fans(shape, input_axes=input_axes, output_axes=output_axes)
    assert fk._compute_fans(shape, input_axes, output_axes) == fans
    for mode in ("fan_in", "fan_out", "fan_avg"):
        init = fk.VarianceScaling(1.5, mode, "uniform", seed=4, input_axes=input_axes, output_axes=output_axes)
        want = fastglorot.variance_scaling(shape, 1.5, mode, "uniform", seed=4, fan_in=max(1, fans[0]),
                                           fan_out=max(1, fans[1]))
        assert same(init(shape), want), (shape, mode)
        # The bound is Keras' sqrt(3 scale / max(1, n)).
        n = {"fan_in": fans[0], "fan_out": fans[1], "fan_avg": (fans[0] + fans[1]) / 2}[mode]
        limit = math.sqrt(3 * 1.5 / max(1.0, n))
        values = np.asarray(init(shape)).ravel()
        assert np.all(np.abs(values) < limit)
        if values.size >= 100:
            assert np.abs(values).max() > 0.9 * limit


def test_empty_shapes_give_empty_tensors_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in NAMES:
            for shape in [(0, 4), (3, 0, 2)]:
                value = ours(name, seed=1)(shape, dtype="bfloat16")
                reference = theirs(name, seed=1)(shape, dtype="bfloat16")
                assert tuple(value.shape) == shape and value.dtype == reference.dtype
                assert type(value) is type(reference)


# -- distributions vs Keras' own draws ------------------------------------------------------------

KS_CASES = [(name, {}) for name in NAMES] + [
    ("VarianceScaling", {"distribution": "untruncated_normal", "mode": "fan_avg"}),
    ("VarianceScaling", {"distribution": "truncated_normal", "scale": 4.0}),
]
ALPHA = 1e-3  # family-wise; each case tested at ALPHA / len(KS_CASES) (Bonferroni)


@pytest.mark.parametrize("name, overrides", KS_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(KS_CASES)])
def test_distribution_matches_keras_own_draw(name, overrides):
    stats = pytest.importorskip("scipy.stats")
    shape = (160, 125)  # 20000 samples
    mine = np.asarray(ours(name, seed=2024, **overrides)(shape)).ravel()
    kerass = np.asarray(theirs(name, seed=2024, **overrides)(shape)).ravel()
    result = stats.ks_2samp(mine, kerass)
    assert result.pvalue > ALPHA / len(KS_CASES), (name, overrides, result)
    if "untruncated" not in overrides.get("distribution", "") and name != "RandomNormal":
        # Bounded distributions: the same support, whose ends both samples reach to within 2 %.
        assert abs(np.abs(mine).max() - np.abs(kerass).max()) <= 0.02 * np.abs(kerass).max()


# -- layers ---------------------------------------------------------------------------------------

def test_dense_and_conv2d_kernels_are_fastglorot_draws():
    dense = keras.layers.Dense(16, kernel_initializer=fk.GlorotUniform(seed=3))
    dense.build((None, 32))
    assert same(dense.kernel.value, fastglorot.glorot_uniform((32, 16), seed=3, layout="keras"))
    conv = keras.layers.Conv2D(8, (3, 3), kernel_initializer=fk.GlorotUniform(seed=3),
                               bias_initializer=fk.RandomNormal(seed=5))
    conv.build((None, 10, 10, 4))
    assert same(conv.kernel.value, fastglorot.glorot_uniform((3, 3, 4, 8), seed=3, layout="keras"))
    assert same(conv.bias.value, fastglorot.normal((8,), 0.0, 0.05, seed=5))
    out = conv(np.ones((1, 10, 10, 4), np.float32))
    assert tuple(out.shape) == (1, 8, 8, 8) and np.all(np.isfinite(keras.ops.convert_to_numpy(out)))


def test_a_string_identifier_in_a_layer():
    dense = keras.layers.Dense(4, kernel_initializer="fastglorot>HeUniform")
    assert type(dense.kernel_initializer) is fk.HeUniform
    dense.build((None, 6))
    assert dense.kernel.shape == (6, 4)


# -- errors and fallbacks -------------------------------------------------------------------------

def _raised(make):
    try:
        make()
    except Exception as error:  # noqa: BLE001 - the error itself is what is compared
        return type(error), str(error)
    return None


CONSTRUCTION_ERRORS = [
    ("VarianceScaling", {"scale": 0.0}), ("VarianceScaling", {"scale": -1}), ("VarianceScaling", {"mode": "fan"}),
    ("VarianceScaling", {"mode": "FAN_IN"}), ("VarianceScaling", {"distribution": "cauchy"}),
    ("VarianceScaling", {"distribution": 3}), ("VarianceScaling", {"scale": "big"}),
] + [(name, {"seed": seed}) for name in NAMES for seed in ("7", 1.5, [1, 2])]


@pytest.mark.parametrize("name, kwargs", CONSTRUCTION_ERRORS)
def test_construction_errors_are_keras_errors(name, kwargs):
    error = _raised(lambda: getattr(fk, name)(**kwargs))
    assert error is not None
    assert error == _raised(lambda: getattr(keras.initializers, name)(**kwargs))


@pytest.mark.parametrize("dtype", ["int32", "uint8", "bool", "complex64", "float8_e4m3fn", "floaty"])
@pytest.mark.parametrize("name", ["GlorotNormal", "RandomUniform", "RandomNormal", "TruncatedNormal"])
def test_dtypes_fastglorot_does_not_draw_are_keras_own_draws(name, dtype):
    mine, kerass = ours(name, seed=6), theirs(name, seed=6)
    error = _raised(lambda: mine((4, 4), dtype=dtype))
    assert error == _raised(lambda: kerass((4, 4), dtype=dtype))
    if error is None:
        value = mine((4, 4), dtype=dtype)
        assert same(value, kerass((4, 4), dtype=dtype))


@pytest.mark.parametrize("name, kwargs", [
    ("RandomUniform", {"minval": 1.0, "maxval": -1.0}),
    ("RandomUniform", {"minval": -1e6, "maxval": 1e6}),  # outside float16: Keras gives inf, fastglorot refuses
    ("RandomNormal", {"stddev": -0.5}),
    ("RandomNormal", {"mean": float("inf")}),
    ("TruncatedNormal", {"stddev": 0.0}),
    ("VarianceScaling", {"scale": float("inf")}),
    ("VarianceScaling", {"scale": float("nan"), "distribution": "untruncated_normal"}),
])
def test_arguments_fastglorot_does_not_sample_are_keras_own_draws(name, kwargs):
    dtype = "float16" if kwargs.get("minval") == -1e6 else "float32"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras' own overflow and invalid-value warnings
        value = getattr(fk, name)(seed=8, **kwargs)((6, 5), dtype=dtype)
        reference = getattr(keras.initializers, name)(seed=8, **kwargs)((6, 5), dtype=dtype)
    assert same(value, reference)


def test_argument_fallback_keeps_the_seed_generator_sequence():
    generator, reference = keras.random.SeedGenerator(3), keras.random.SeedGenerator(3)
    value = fk.RandomUniform(1.0, -1.0, seed=generator)((4,))
    assert same(value, keras.initializers.RandomUniform(1.0, -1.0, seed=reference)((4,)))
    assert same(generator.state.value, reference.state.value)


def test_edge_arguments_fastglorot_draws():
    assert same(fk.RandomUniform(0.25, 0.25, seed=1)((3,)), np.full(3, 0.25, np.float32))
    assert same(fk.RandomNormal(0.5, 0.0, seed=1)((3,)), np.full(3, 0.5, np.float32))
    assert same(fk.RandomNormal(np.float32(0.1), np.float64(0.2), seed=1)((4, 4)),
                fastglorot.normal((4, 4), 0.1, 0.2, seed=1))
    assert same(fk.HeUniform(seed=1)([np.int64(4), 3]), fastglorot.he_uniform((4, 3), seed=1, layout="keras"))


# -- other backends (subprocesses) ----------------------------------------------------------------

TORCH_CHECK = textwrap.dedent("""
    import numpy as np, torch, keras, fastglorot
    import fastglorot.keras as fk
    assert keras.backend.backend() == "torch"

    dense = keras.layers.Dense(16, kernel_initializer=fk.GlorotUniform(seed=3))
    dense.build((None, 32))
    kernel = dense.kernel.value
    assert isinstance(kernel, torch.Tensor) and kernel.dtype == torch.float32, type(kernel)
    assert np.array_equal(kernel.detach().cpu().numpy(), fastglorot.glorot_uniform((32, 16), seed=3, layout="keras"))

    conv = keras.layers.Conv2D(8, 3, kernel_initializer=fk.HeNormal(seed=4))
    conv.build((None, 9, 9, 2))
    assert np.array_equal(conv.kernel.value.detach().cpu().numpy(),
                          fastglorot.he_normal((3, 3, 2, 8), seed=4, layout="keras"))

    names = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
             "bfloat16": torch.bfloat16}
    for dtype, torch_dtype in names.items():
        for init, want in [
            (fk.LecunNormal(seed=5), fastglorot.lecun_normal((12, 7), seed=5, layout="keras", dtype=dtype)),
            (fk.TruncatedNormal(0.1, 0.2, seed=5), fastglorot.trunc_normal((12, 7), 0.1, 0.2, -0.3, 0.5, seed=5,
                                                                        dtype=dtype)),
            (fk.RandomUniform(seed=5), fastglorot.uniform((12, 7), -0.05, 0.05, seed=5, dtype=dtype)),
        ]:
            value = init((12, 7), dtype=dtype)
            assert isinstance(value, torch.Tensor) and value.dtype == torch_dtype, (dtype, value.dtype)
            got = value.view(torch.int16).numpy() if value.itemsize == 2 else value.numpy()
            assert np.array_equal(got, want.view(np.int16) if want.itemsize == 2 else want), (init, dtype)

    for dtype in ("float32", "bfloat16"):  # stream format 2 through the torch fill path
        value = fk.HeNormal(seed=4, stream_format=2)((12, 7), dtype=dtype)
        want = fastglorot.he_normal((12, 7), seed=4, layout="keras", dtype=dtype, stream_format=2)
        got = value.view(torch.int16).numpy() if value.itemsize == 2 else value.numpy()
        assert np.array_equal(got, want.view(np.int16) if want.itemsize == 2 else want), dtype

    generator = keras.random.SeedGenerator(7)
    init = fk.GlorotNormal(seed=generator)
    first, second = init((8, 8)), init((8, 8))
    assert torch.equal(first, fk.GlorotNormal(seed=7)((8, 8))) and not torch.equal(first, second)
    empty = fk.GlorotUniform(seed=1)((0, 5))
    assert isinstance(empty, torch.Tensor) and tuple(empty.shape) == (0, 5)
    try:
        fk.GlorotUniform(seed=1)((2, 2), dtype="int32")
    except Exception as error:
        mine = (type(error), str(error))
    try:
        keras.initializers.GlorotUniform(seed=1)((2, 2), dtype="int32")
    except Exception as error:
        theirs = (type(error), str(error))
    assert mine == theirs, (mine, theirs)
    print("torch backend OK")
""")


def test_torch_backend():
    pytest.importorskip("torch", reason="the Keras torch backend needs torch")
    result = run_python(TORCH_CHECK, env={"KERAS_BACKEND": "torch"})
    assert "torch backend OK" in result.stdout


NUMPY_CHECK = """
import keras
# Keras imports no module outside Keras when loading: before fastglorot.keras is imported, it reads
# the configs as its own classes of the same names; after, as fastglorot's.
print(type(keras.models.load_model(PATH).layers[2].kernel_initializer).__module__)
import numpy as np, fastglorot
import fastglorot.keras as fk
loaded = keras.models.load_model(PATH)
print(type(loaded.layers[2].kernel_initializer).__module__)

assert keras.backend.backend() == "numpy"
value = fk.GlorotUniform(seed=7)((64, 32), dtype="float64")
assert isinstance(value, np.ndarray) and value.dtype == np.float64
assert np.array_equal(value, fastglorot.glorot_uniform((64, 32), seed=7, layout="keras", dtype="float64"))
dense = keras.layers.Dense(4, kernel_initializer=fk.HeUniform(seed=2))
dense.build((None, 3))
assert np.array_equal(dense.kernel.numpy(), fastglorot.he_uniform((3, 4), seed=2, layout="keras"))
print("numpy backend OK")
"""


# Keras' own saving code converts its variables with np.array(copy=False) (a NumPy 2 deprecation in Keras).
@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")
def test_numpy_backend_and_loading_in_a_fresh_process(tmp_path):
    path = tmp_path / "model.keras"
    keras.Sequential([keras.Input((6,)), keras.layers.Dense(5), keras.layers.Dense(3),
                      keras.layers.Dense(2, kernel_initializer=fk.LecunUniform(seed=1))]).save(path)
    result = run_python(f"PATH = {str(path)!r}\n" + NUMPY_CHECK, env={"KERAS_BACKEND": "numpy"})
    lines = result.stdout.split()
    assert lines == ["keras.src.initializers.random_initializers", "fastglorot.keras", "numpy", "backend", "OK"]
