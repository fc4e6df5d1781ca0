"""fastglorot.jax against jax.nn.initializers: signatures, key rule, fans, dtypes, sharding, jit, Flax."""

from __future__ import annotations

import hashlib
import inspect
import textwrap
import warnings

import numpy as np
import pytest

jax = pytest.importorskip("jax", reason="fastglorot.jax needs JAX (pip install 'fastglorot[jax]')")
jnp = pytest.importorskip("jax.numpy")
stats = pytest.importorskip("scipy.stats")

import fastglorot  # noqa: E402
import fastglorot.jax as fj  # noqa: E402

from jax._src.nn.initializers import _compute_fans as jax_compute_fans  # noqa: E402  (JAX's own fan rule)

FACTORIES = ["variance_scaling", "glorot_uniform", "glorot_normal", "xavier_uniform", "xavier_normal", "he_uniform",
             "he_normal", "kaiming_uniform", "kaiming_normal", "lecun_uniform", "lecun_normal", "uniform", "normal",
             "truncated_normal"]
PRESETS = {  # name: (scale, mode, distribution), from jax.nn.initializers' definitions
    "glorot_uniform": (1.0, "fan_avg", "uniform"),
    "glorot_normal": (1.0, "fan_avg", "truncated_normal"),
    "lecun_uniform": (1.0, "fan_in", "uniform"),
    "lecun_normal": (1.0, "fan_in", "truncated_normal"),
    "he_uniform": (2.0, "fan_in", "uniform"),
    "he_normal": (2.0, "fan_in", "truncated_normal"),
}
# KS tests: 23 two-sample comparisons below, each at alpha / 23 (Bonferroni), fixed keys.
ALPHA = 1e-3 / 23


@pytest.mark.parametrize("name", FACTORIES)
def test_factory_signatures_are_jaxs_plus_keyword_stream_format(name):
    ours, theirs = inspect.signature(getattr(fj, name)), inspect.signature(getattr(jax.nn.initializers, name))
    *same, extra = ours.parameters.values()
    assert [p.name for p in same] == list(theirs.parameters)
    for p, q in zip(same, theirs.parameters.values()):
        assert (p.default, p.kind) == (q.default, q.kind), p.name
    assert (extra.name, extra.kind, extra.default) == ("stream_format", inspect.Parameter.KEYWORD_ONLY, None)


def test_init_signature_is_jaxs_plus_keyword_sharding():
    ours = inspect.signature(fj.glorot_uniform())
    theirs = inspect.signature(jax.nn.initializers.glorot_uniform())
    assert list(ours.parameters)[:4] == list(theirs.parameters)
    assert ours.parameters["sharding"].kind is inspect.Parameter.KEYWORD_ONLY
    assert isinstance(fj.glorot_uniform(), jax.nn.initializers.Initializer)


@pytest.mark.parametrize("name", list(PRESETS))
def test_key_rule_matches_fastglorot_functions(name):
    scale, mode, distribution = PRESETS[name]
    shape = (3, 5, 24, 40)
    got = getattr(fj, name)()(jax.random.key(7), shape)
    expected = fastglorot.variance_scaling(shape, scale, mode, distribution, seed=7, layout="jax")
    np.testing.assert_array_equal(np.asarray(got), expected)
    assert got.dtype == jnp.float32 and isinstance(got, jax.Array)


def test_samplers_follow_the_key_rule():
    key, shape = jax.random.key(11), (50, 30)
    np.testing.assert_array_equal(np.asarray(fj.uniform(0.5)(key, shape)), fastglorot.uniform(shape, 0.0, 0.5, seed=11))
    np.testing.assert_array_equal(np.asarray(fj.normal(0.02)(key, shape)), fastglorot.normal(shape, 0.0, 0.02, seed=11))
    np.testing.assert_array_equal(np.asarray(fj.truncated_normal(0.1, lower=-1.0, upper=3.0)(key, shape)),
                                  fastglorot.trunc_normal(shape, 0.0, 0.1, -0.1, 0.30000000000000004, seed=11))
    negative = np.asarray(fj.uniform(-2.0)(key, shape))
    assert negative.min() > -2.0 and negative.max() < 0.0


def test_typed_and_raw_keys_agree_and_split_keys_differ():
    shape = (64, 32)
    init = fj.glorot_normal()
    typed = np.asarray(init(jax.random.key(5), shape))
    np.testing.assert_array_equal(typed, np.asarray(init(jax.random.PRNGKey(5), shape)))
    np.testing.assert_array_equal(typed, np.asarray(init(jax.random.key(5), shape)))
    a, b = jax.random.split(jax.random.key(5))
    assert not np.array_equal(np.asarray(init(a, shape)), np.asarray(init(b, shape)))
    assert not np.array_equal(np.asarray(init(a, shape)), typed)
    # Two-word keys: seed = (w0 << 32) | w1 (module docstring), e.g. a split key.
    w0, w1 = (int(w) for w in np.asarray(jax.random.key_data(a)))
    assert fj.seed_of_key(a) == (w0 << 32) | w1
    np.testing.assert_array_equal(np.asarray(init(a, shape)),
                                  fastglorot.glorot_normal(shape, truncated=True, seed=(w0 << 32) | w1, layout="jax"))


def test_keys_of_other_lengths_are_hashed():
    key = jax.random.key(3, impl="rbg")
    words = np.asarray(jax.random.key_data(key), dtype="<u4")
    assert words.size == 4
    expected = int.from_bytes(hashlib.blake2b(b"fastglorot jax key:" + words.tobytes(), digest_size=8).digest(),
                              "little")
    assert fj.seed_of_key(key) == expected
    np.testing.assert_array_equal(np.asarray(fj.lecun_uniform()(key, (8, 8))),
                                  fastglorot.lecun_uniform((8, 8), seed=expected, layout="jax"))


@pytest.mark.parametrize("shape, axes", [
    ((4, 6), {}),
    ((3, 3, 16, 32), {}),
    ((5, 7, 3, 3, 8), {"in_axis": 0, "out_axis": 1}),
    ((6, 3, 3, 8, 16), {"batch_axis": 0}),
    ((2, 3, 4, 5, 6), {"in_axis": (1, 2), "out_axis": -1, "batch_axis": (0,)}),
    ((10,), {"in_axis": 0, "out_axis": 0}),
    ((8, 4, 9), {"in_axis": -1, "out_axis": -3}),
])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg", "fan_geo_avg"])
def test_fans_follow_jax(shape, axes, mode):
    fan_in, fan_out = jax_compute_fans(shape, **axes)
    got = fj.variance_scaling(0.7, mode, "uniform", **axes)(jax.random.key(2), shape)
    expected = fastglorot.variance_scaling(shape, 0.7, mode, "uniform", seed=2, fan_in=int(fan_in),
                                           fan_out=int(fan_out))
    np.testing.assert_array_equal(np.asarray(got), expected)


@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg", "fan_geo_avg"])
def test_fractional_fans_of_overlapping_axes_follow_jax(mode):
    shape, axes = (4, 6), {"in_axis": 1, "out_axis": (0, 1), "batch_axis": 0}
    fan_in, fan_out = jax_compute_fans(shape, **axes)
    assert (fan_in, fan_out) == (0.25, 1.0)  # JAX's: receptive field 24 / 6 / 24 / 4
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
         "fan_geo_avg": (fan_in * fan_out) ** 0.5}[mode]  # jax.nn.initializers.variance_scaling's denominators
    got = fj.variance_scaling(0.7, mode, "normal", **axes)(jax.random.key(2), shape)
    expected = fastglorot.variance_scaling(shape, 0.7 / n, "fan_in", "normal", seed=2, fan_in=1, fan_out=1)
    np.testing.assert_array_equal(np.asarray(got), expected)


def test_default_in_axis_needs_two_dimensions_as_in_jax():
    with pytest.raises(ValueError, match="Must be at least 2D") as ours:
        fj.glorot_uniform()(jax.random.key(0), (5,))
    with pytest.raises(ValueError) as theirs:
        jax.nn.initializers.glorot_uniform()(jax.random.key(0), (5,))
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16, jnp.float16])
def test_dtypes_are_the_fastglorot_dtype_draws(dtype):
    shape = (40, 24)
    got = fj.he_uniform(dtype=dtype)(jax.random.key(4), shape)
    assert got.dtype == dtype
    expected = fastglorot.he_uniform(shape, dtype=np.dtype(dtype), seed=4, layout="jax")
    np.testing.assert_array_equal(np.asarray(got).view(np.uint8), expected.view(np.uint8))
    # the call's dtype overrides the factory's default, as in JAX
    assert fj.he_uniform(dtype=jnp.float16)(jax.random.key(4), shape, jnp.bfloat16).dtype == jnp.bfloat16


def test_float64_without_x64_warns_and_gives_float32_as_jax():
    with pytest.warns(UserWarning, match="float64") as ours:
        got = fj.normal(1.0)(jax.random.key(1), (4, 4), jnp.float64)
    with pytest.warns(UserWarning, match="float64"):
        theirs = jax.nn.initializers.normal(1.0)(jax.random.key(1), (4, 4), jnp.float64)
    assert got.dtype == theirs.dtype == jnp.float32
    assert "jax_enable_x64" in str(ours[0].message)


def test_float64_with_x64_in_a_subprocess(python_runner):
    code = textwrap.dedent("""
        import jax, numpy as np, fastglorot, fastglorot.jax as fj
        jax.config.update("jax_enable_x64", True)
        got = fj.glorot_normal()(jax.random.key(9), (30, 20))
        assert got.dtype == np.float64, got.dtype
        np.testing.assert_array_equal(np.asarray(got), fastglorot.glorot_normal((30, 20), truncated=True, seed=9,
                                      dtype=np.float64, layout="jax"))
        print("ok")
    """)
    assert python_runner(code, env={"FASTGLOROT_QUIET": "1"}).stdout.strip().endswith("ok")


def test_other_dtypes_fall_back_to_jax_with_the_same_key():
    key = jax.random.key(8)
    for factory, args in [("variance_scaling", (1.0, "fan_in", "normal")), ("glorot_uniform", ()),
                          ("normal", (0.5,))]:
        got = getattr(fj, factory)(*args)(key, (6, 4), jnp.complex64)
        expected = getattr(jax.nn.initializers, factory)(*args)(key, (6, 4), jnp.complex64)
        assert got.dtype == jnp.complex64
        np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))


def test_result_adopts_the_filled_buffer_without_a_copy(monkeypatch):
    filled = []
    real = fastglorot.variance_scaling

    def recording(*args, **kwargs):
        filled.append(real(*args, **kwargs))
        return filled[-1]

    monkeypatch.setattr(fastglorot, "variance_scaling", recording)
    for dtype in (jnp.float32, jnp.bfloat16):
        got = fj.glorot_uniform()(jax.random.key(1), (256, 128), dtype)
        assert got.unsafe_buffer_pointer() == filled[-1].ctypes.data


def test_empty_shapes_give_empty_arrays_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = fj.glorot_uniform()(jax.random.key(0), (0, 7))
    assert got.shape == (0, 7) and got.dtype == jnp.float32


def test_traced_keys_jit_vmap_and_eval_shape_give_the_eager_values():
    init = fj.he_normal()
    key, shape = jax.random.key(21), (48, 16)
    eager = np.asarray(init(key, shape))
    np.testing.assert_array_equal(np.asarray(jax.jit(lambda k: init(k, shape))(key)), eager)
    keys = jax.random.split(key, 3)
    mapped = jax.vmap(lambda k: init(k, shape))(keys)
    for i in range(3):
        np.testing.assert_array_equal(np.asarray(mapped[i]), np.asarray(init(keys[i], shape)))
    abstract = jax.eval_shape(lambda k: init(k, shape, jnp.bfloat16), key)
    assert abstract.shape == shape and abstract.dtype == jnp.bfloat16


@pytest.mark.parametrize("bad, error, match", [
    (lambda: fj.variance_scaling(1.0, "fan_sum", "uniform"), ValueError, "invalid mode"),
    (lambda: fj.variance_scaling(1.0, "fan_in", "cauchy"), ValueError, "invalid distribution"),
    (lambda: fj.variance_scaling(0.0, "fan_in", "uniform"), ValueError, "scale must be positive"),
    (lambda: fj.variance_scaling(float("nan"), "fan_in", "uniform"), ValueError, "scale must be positive"),
    (lambda: fj.normal(-1.0), ValueError, "stddev must be non-negative"),
    (lambda: fj.truncated_normal(0.0), ValueError, "stddev must be positive"),
    (lambda: fj.truncated_normal(1.0, lower=2.0, upper=1.0), ValueError, "lower must be less than upper"),
    (lambda: fj.uniform("big"), TypeError, "scale must be a real number"),
    (lambda: fj.glorot_uniform()(np.arange(2), (3, 3)), TypeError, "key must be a JAX PRNG key"),
    (lambda: fj.glorot_uniform()(jax.random.split(jax.random.key(0)), (3, 3)), ValueError, "one PRNG key"),
    (lambda: fj.glorot_uniform()(jax.random.key(0), (3, 3), sharding=1), TypeError, "sharding must be"),
    (lambda: fj.glorot_uniform()(jax.random.key(0), (3, 3), None, jax.sharding.PartitionSpec()), ValueError,
     "needs a mesh"),
    (lambda: fj.glorot_uniform()(jax.random.key(0), (3, -3)), ValueError, "non-negative"),
])
def test_bad_arguments_raise_clear_errors(bad, error, match):
    with pytest.raises(error, match=match):
        bad()


# -- stream format -------------------------------------------------------------------------------

V2_SHAPE = (6, 24, 40)  # fan_in 144, fan_out 240 (JAX's rule: receptive field 6)
V2_CASES = [(name, (), dict(zip(("scale", "mode", "distribution"), spec))) for name, spec in PRESETS.items()] + [
    ("variance_scaling", (0.7, "fan_out", "normal"), {"scale": 0.7, "mode": "fan_out", "distribution": "normal"}),
    ("normal", (0.02,), None), ("truncated_normal", (0.1, None, -1.0, 3.0), None), ("uniform", (0.5,), None),
]


def _core(factory, dtype, stream_format, seed=13):
    """What the initializer of V2_CASES' ``factory`` must give: the core function of the key rule's seed."""
    kw = dict(dtype=np.dtype(dtype), seed=seed, stream_format=stream_format)
    name, _, spec = next(case for case in V2_CASES if case[0] == factory)
    if spec is not None:
        return fastglorot.variance_scaling(V2_SHAPE, **spec, layout="jax", **kw)
    if name == "normal":
        return fastglorot.normal(V2_SHAPE, 0.0, 0.02, **kw)
    if name == "uniform":
        return fastglorot.uniform(V2_SHAPE, 0.0, 0.5, **kw)
    return fastglorot.trunc_normal(V2_SHAPE, 0.0, 0.1, -0.1, 0.30000000000000004, **kw)


def _bits(x):
    return np.ascontiguousarray(np.asarray(x)).view(np.uint8)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_stream_format_2_values_are_the_core_format_2_values(dtype):
    """Every factory with stream_format=2 gives fastglorot.<function>(..., stream_format=2) bit for bit."""
    key = jax.random.key(13)
    for name, args, spec in V2_CASES:
        got = getattr(fj, name)(*args, stream_format=2)(key, V2_SHAPE, dtype)
        v2, v1 = _core(name, dtype, 2), _core(name, dtype, 1)
        np.testing.assert_array_equal(_bits(got), _bits(v2), err_msg=name)
        np.testing.assert_array_equal(_bits(getattr(fj, name)(*args, stream_format=1)(key, V2_SHAPE, dtype)),
                                      _bits(v1), err_msg=name)
        if dtype == jnp.float32:  # the formats differ where README "Stream format" says: normal draws
            # (in bfloat16 the float32 and float64 computations mostly round to the same values: no check there)
            assert np.array_equal(_bits(v1), _bits(v2)) == (name == "uniform" or "uniform" in (spec or {}).values())


def test_stream_format_is_fixed_when_the_initializer_is_made():
    key = jax.random.key(13)
    v1, v2 = _core("he_normal", jnp.float32, 1), _core("he_normal", jnp.float32, 2)
    with fastglorot.stream_format(2):
        made_in_2 = fj.he_normal()
        assert np.array_equal(_bits(fj.he_normal(stream_format=1)(key, V2_SHAPE)), _bits(v1))  # explicit wins
    made_in_1 = fj.he_normal()
    assert "stream format 2" in made_in_2.__doc__ and "stream format 1" in made_in_1.__doc__
    # Called outside the block: eagerly, under jit (host callback), vmapped, in another thread (fresh context).
    np.testing.assert_array_equal(_bits(made_in_2(key, V2_SHAPE)), _bits(v2))
    np.testing.assert_array_equal(_bits(jax.jit(lambda k: made_in_2(k, V2_SHAPE))(key)), _bits(v2))
    np.testing.assert_array_equal(_bits(jax.vmap(lambda k: made_in_2(k, V2_SHAPE))(key[None])[0]), _bits(v2))
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        assert pool.submit(fastglorot.get_stream_format).result() == 1
        np.testing.assert_array_equal(_bits(pool.submit(made_in_2, key, V2_SHAPE).result()), _bits(v2))
    # ... and a block entered after making does not change a made initializer.
    with fastglorot.stream_format(2):
        np.testing.assert_array_equal(_bits(made_in_1(key, V2_SHAPE)), _bits(v1))
        np.testing.assert_array_equal(_bits(jax.jit(lambda k: made_in_1(k, V2_SHAPE))(key)), _bits(v1))


@pytest.mark.parametrize("name", FACTORIES)
def test_bad_stream_formats_fail_when_the_initializer_is_made(name):
    args = {"variance_scaling": (1.0, "fan_in", "normal")}.get(name, ())
    for bad, error, match in [(3, ValueError, "stream_format must be 1 or 2, got 3"),
                              (0, ValueError, "stream_format must be 1 or 2, got 0"),
                              ("2", TypeError, "stream_format must be 1 or 2 \\(an int\\), got '2'"),
                              (True, TypeError, "got True"), (2.0, TypeError, "got 2.0")]:
        with pytest.raises(error, match=match):
            getattr(fj, name)(*args, stream_format=bad)


def _ks(ours, theirs):
    return stats.ks_2samp(np.asarray(ours, np.float64).ravel(), np.asarray(theirs, np.float64).ravel()).pvalue


@pytest.mark.parametrize("name", list(PRESETS))
def test_distributions_match_jaxs_own_draws(name):
    shape = (3, 3, 48, 64)  # receptive field 9: fan_in 432, fan_out 576
    ours = getattr(fj, name)()(jax.random.key(100), shape)
    theirs = getattr(jax.nn.initializers, name)()(jax.random.key(200), shape)
    assert _ks(ours, theirs) > ALPHA


@pytest.mark.parametrize("factory, args", [
    ("uniform", (0.3,)), ("normal", (0.02,)), ("truncated_normal", (0.5,)),
    ("truncated_normal", (1.0, None, -0.5, 2.5)),
])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_sampler_distributions_match_jaxs_own_draws(factory, args, dtype):
    ours = getattr(fj, factory)(*args)(jax.random.key(1), (160, 128), dtype)
    theirs = getattr(jax.nn.initializers, factory)(*args)(jax.random.key(2), (160, 128), dtype)
    assert _ks(ours, theirs) > ALPHA


@pytest.mark.parametrize("mode, distribution, axes", [
    ("fan_geo_avg", "normal", {"batch_axis": 0}),
    ("fan_out", "truncated_normal", {"in_axis": 1, "out_axis": 0}),
    ("fan_avg", "uniform", {"in_axis": (1, 2), "out_axis": 3}),
])
def test_variance_scaling_options_match_jaxs_own_draws(mode, distribution, axes):
    shape = (4, 20, 6, 150)
    ours = fj.variance_scaling(1.7, mode, distribution, **axes)(jax.random.key(3), shape)
    theirs = jax.nn.initializers.variance_scaling(1.7, mode, distribution, **axes)(jax.random.key(4), shape)
    assert _ks(ours, theirs) > ALPHA


def test_flax_nnx_layers_use_the_initializer():
    nnx = pytest.importorskip("flax.nnx", reason="Flax is not installed")
    seen = []

    def recording(init):
        def wrapped(key, shape, dtype=jnp.float32, *args, **kwargs):
            seen.append((fj.seed_of_key(key), tuple(shape)))
            return init(key, shape, dtype, *args, **kwargs)
        return wrapped

    linear = nnx.Linear(64, 32, kernel_init=recording(fj.glorot_uniform()), rngs=nnx.Rngs(0))
    seed, shape = seen[-1]
    np.testing.assert_array_equal(np.asarray(linear.kernel[...]),
                                  fastglorot.glorot_uniform(shape, seed=seed, layout="jax"))
    conv = nnx.Conv(8, 16, kernel_size=(3, 3), kernel_init=recording(fj.he_normal()), rngs=nnx.Rngs(1))
    seed, shape = seen[-1]
    assert shape == (3, 3, 8, 16)
    np.testing.assert_array_equal(np.asarray(conv.kernel[...]),
                                  fastglorot.he_normal(shape, seed=seed, layout="jax"))

    @nnx.jit
    def build():
        return nnx.Linear(64, 32, kernel_init=fj.glorot_uniform(), rngs=nnx.Rngs(0))

    np.testing.assert_array_equal(np.asarray(build().kernel[...]), np.asarray(linear.kernel[...]))

    @nnx.split_rngs(splits=3)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def stacked(rngs):
        return nnx.Linear(16, 16, kernel_init=fj.lecun_normal(), rngs=rngs)

    kernels = np.asarray(stacked(nnx.Rngs(5)).kernel[...])
    assert kernels.shape == (3, 16, 16) and len({k.tobytes() for k in kernels}) == 3


def test_flax_linen_dense_eager_and_jitted_init_agree():
    nn = pytest.importorskip("flax.linen", reason="Flax is not installed")
    dense = nn.Dense(24, kernel_init=fj.lecun_normal())
    x = jnp.ones((1, 40))
    eager = dense.init(jax.random.key(0), x)["params"]["kernel"]
    jitted = jax.jit(dense.init)(jax.random.key(0), x)["params"]["kernel"]
    assert eager.shape == (40, 24)
    np.testing.assert_array_equal(np.asarray(eager), np.asarray(jitted))


SHARDING_CHECK = """
import numpy as np, jax, jax.numpy as jnp, fastglorot, fastglorot.jax as fj
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
assert len(jax.devices()) == 4, jax.devices()
key = jax.random.key(77)
with fastglorot.stream_format(2):  # stream format 2, chosen when the initializer is made
    he_normal_2 = fj.he_normal()
v2 = dict(seed=77, stream_format=2)  # the core's format-2 values (key rule: key(77) is seed 77)
cases = [((64, 48), fj.glorot_uniform(), jnp.float32, None), ((64, 48), fj.he_normal(), jnp.bfloat16, None),
         ((8, 12, 20), fj.variance_scaling(2.0, "fan_avg", "normal", in_axis=0, out_axis=2), jnp.float32, None),
         ((64, 48), fj.truncated_normal(0.5), jnp.float16, None),
         ((64, 48), he_normal_2, jnp.bfloat16, fastglorot.he_normal((64, 48), dtype="bfloat16", layout="jax", **v2)),
         ((8, 12, 20), fj.variance_scaling(2.0, "fan_avg", "normal", in_axis=0, out_axis=2, stream_format=2),
          jnp.float32, fastglorot.variance_scaling((8, 12, 20), 2.0, "fan_avg", "normal", fan_in=8 * 12,
                                                   fan_out=20 * 12, **v2))]
meshes = {"1x4": (1, 4), "2x2": (2, 2), "4x1": (4, 1)}
checked = 0
for shape, init, dtype, expected in cases:
    whole = np.asarray(init(key, shape, dtype)).view(np.uint8)
    if expected is not None:
        assert np.array_equal(whole, expected.view(np.uint8)), shape
    specs = [P(), P("x"), P(None, "y"), P("x", "y"), P("y", "x"), P(("x", "y")), P(None, ("y", "x"))]
    for name, grid in meshes.items():
        mesh = Mesh(np.array(jax.devices()).reshape(grid), ("x", "y"))
        for spec in specs:
            sharding = NamedSharding(mesh, spec)
            got = init(key, shape, dtype, sharding=sharding)
            assert got.sharding == sharding, (got.sharding, sharding)
            assert np.array_equal(np.asarray(got).view(np.uint8), whole), (shape, name, spec)
            for shard in got.addressable_shards:
                assert np.array_equal(np.asarray(shard.data).view(np.uint8),
                                      np.asarray(got)[shard.index].view(np.uint8))
            checked += 1
    with jax.set_mesh(Mesh(np.array(jax.devices()).reshape(2, 2), ("x", "y"))):
        got = init(key, shape, dtype, P("x"))
    assert np.array_equal(np.asarray(got).view(np.uint8), whole)
    single = jax.sharding.SingleDeviceSharding(jax.devices()[3])
    got = init(key, shape, dtype, sharding=single)
    assert got.devices() == {jax.devices()[3]} and np.array_equal(np.asarray(got).view(np.uint8), whole)
    traced = jax.jit(lambda k: init(k, shape, dtype, sharding=NamedSharding(mesh, P("x"))))(key)
    assert np.array_equal(np.asarray(traced).view(np.uint8), whole)
print("checked", checked)
"""


def test_every_sharding_gives_the_same_global_array(python_runner):
    env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=4", "FASTGLOROT_QUIET": "1"}
    result = python_runner(SHARDING_CHECK, env=env, timeout=300)
    assert result.stdout.split()[-1] == str(6 * 3 * 7)


def test_sharded_blocks_are_filled_as_blocks(monkeypatch):
    """Each device's block is one block fill (global_shape / global_offset), computed once per distinct block."""
    calls = []
    real = fastglorot.variance_scaling

    def recording(shape, *args, **kwargs):
        calls.append((tuple(shape), kwargs.get("global_shape"), kwargs.get("global_offset")))
        return real(shape, *args, **kwargs)

    monkeypatch.setattr(fastglorot, "variance_scaling", recording)
    device = jax.devices()[0]
    mesh = jax.sharding.Mesh(np.array([device]), ("x",))
    got = fj.glorot_uniform()(jax.random.key(1), (32, 16), sharding=jax.sharding.NamedSharding(
        mesh, jax.sharding.PartitionSpec("x")))
    assert calls == [((32, 16), (32, 16), (0, 0))]
    np.testing.assert_array_equal(np.asarray(got), fastglorot.glorot_uniform((32, 16), seed=1, layout="jax"))


def test_import_fastglorot_does_not_import_jax(python_runner):
    result = python_runner("import sys, fastglorot\n"
                           "print(sorted(m for m in ('jax', 'jaxlib', 'flax', 'fastglorot.jax') if m in sys.modules))")
    assert result.stdout.strip() == "[]"
