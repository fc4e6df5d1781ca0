"""fastglorot.jax against jax.nn.initializers on one 1 GiB float32 layer.

For each initializer (``glorot_uniform``, ``glorot_normal``, which is a
truncated normal in JAX, and ``normal(0.02)``), interleaved round-robin for
``--repeats`` rounds, medians reported, each call ended by
``block_until_ready()`` and the result deleted before the next:

* **jax.nn**: ``jax.nn.initializers.<name>()(key, shape)``, eager (how Flax
  and most user code call it);
* **jax.nn, jit**: the same initializer compiled once with ``jax.jit``
  (shape static), compile time excluded;
* **fastglorot.jax**: ``fastglorot.jax.<name>()(key, shape)``, eager;
* with ``--devices N`` (N > 1, host devices made by
  ``--xla_force_host_platform_device_count``): sharded arrays over an
  N-device mesh, rows split across devices (``NamedSharding(mesh, P("x"))``):
  JAX's initializer jitted with ``out_shardings=`` (its ``out_sharding``
  argument needs explicit mesh axes), and fastglorot.jax with ``sharding=``.

Every variant is called once before timing (compiles excluded), and
fastglorot's result is checked to equal ``fastglorot.<name>`` of the key's
seed (the key rule).  GB/s are output bytes (decimal GB) per second.
``--stream-format 2`` times fastglorot's stream format 2 (README "Stream
format"; ``glorot_normal`` and ``normal`` differ from format 1, the uniform
does not); JAX's variants are the same for both.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from typing import Any, Callable, Dict, List

import _common


def main() -> None:
    parser = _common.parser(__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rows", type=int, default=16384, help="layer is rows x rows float32 (16384: 1 GiB)")
    parser.add_argument("--devices", type=int, default=1, help="also time sharded arrays over this many devices")
    parser.add_argument("--stream-format", type=int, choices=(1, 2), default=1,
                        help="fastglorot's stream format (README \"Stream format\"; default 1)")
    args = parser.parse_args()
    if args.devices > 1:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                                   + f" --xla_force_host_platform_device_count={args.devices}")
    os.environ.setdefault("FASTGLOROT_QUIET", "1")
    import jax
    import numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    import fastglorot
    import fastglorot.jax as fj

    env = _common.environment()
    env["jax"] = jax.__version__
    env["jax_devices"] = len(jax.devices())
    env["stream_format"] = args.stream_format
    _common.print_environment(env)
    print(f"jax {jax.__version__}, {len(jax.devices())} device(s): {jax.devices()[0].platform}")

    shape = (args.rows, args.rows)
    nbytes = args.rows * args.rows * 4
    key = jax.random.key(2024)
    seed, version = fj.seed_of_key(key), args.stream_format
    initializers: Dict[str, Any] = {
        "glorot_uniform": ((), lambda: fastglorot.glorot_uniform(shape, seed=seed, layout="jax",
                                                                 stream_format=version)),
        "glorot_normal": ((), lambda: fastglorot.glorot_normal(shape, truncated=True, seed=seed, layout="jax",
                                                               stream_format=version)),
        "normal": ((0.02,), lambda: fastglorot.normal(shape, 0.0, 0.02, seed=seed, stream_format=version)),
    }
    sharding = None
    if args.devices > 1:
        mesh = Mesh(np.array(jax.devices()[:args.devices]), ("x",))
        sharding = NamedSharding(mesh, PartitionSpec("x"))

    results: Dict[str, Any] = {}
    rows: List[List[Any]] = []
    for name, (factory_args, reference) in initializers.items():
        theirs = getattr(jax.nn.initializers, name)(*factory_args)
        ours = getattr(fj, name)(*factory_args, stream_format=version)
        jitted = jax.jit(theirs, static_argnums=1)
        variants: Dict[str, Callable[[], Any]] = {
            "jax.nn": lambda: theirs(key, shape),
            "jax.nn, jit": lambda: jitted(key, shape),
            "fastglorot.jax": lambda: ours(key, shape),
        }
        if sharding is not None:
            jitted_sharded = jax.jit(theirs, static_argnums=1, out_shardings=sharding)
            variants["jax.nn, jit sharded"] = lambda: jitted_sharded(key, shape)
            variants["fastglorot.jax, sharded"] = lambda: ours(key, shape, sharding=sharding)
        check = np.asarray(ours(key, shape))
        assert np.array_equal(check, reference()), f"{name}: fastglorot.jax differs from the key rule"
        del check
        times: Dict[str, List[float]] = {v: [] for v in variants}
        for call in variants.values():  # compile and settle
            call().block_until_ready()
        for _ in range(args.repeats):
            for variant, call in variants.items():
                start = time.perf_counter()
                out = call()
                out.block_until_ready()
                times[variant].append(time.perf_counter() - start)
                del out
        base = statistics.median(times["jax.nn"])
        results[name] = {}
        for variant, samples in times.items():
            median = statistics.median(samples)
            results[name][variant] = {"median_s": median, "samples_s": samples, "GBps": _common.gbps(nbytes, median)}
            rows.append([name, variant, f"{median * 1e3:.0f}", f"{_common.gbps(nbytes, median):.2f}",
                         f"{base / median:.2f}x"])
        sys.stdout.flush()
    _common.print_table(f"{shape[0]}x{shape[1]} float32 ({nbytes / _common.GiB:.0f} GiB), medians of {args.repeats}, "
                        f"fastglorot stream format {version}",
                        ["initializer", "variant", "ms", "GB/s", "vs jax.nn eager"], rows)
    _common.write_json(args.json, results, env)


if __name__ == "__main__":
    main()
