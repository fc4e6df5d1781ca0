"""fastglorot's launch design (serial nogil kernels on a thread pool) vs prange.

Defines a numba ``parallel=True`` variant of the float32 uniform and normal
fills: a ``prange`` over whole tiles, each iteration with its own scratch
words, calling the same inlined tile helpers as the library
(``fastglorot._kernels._philox_tile`` and the float32 tile converters).
Checks that it is bit-identical to ``uniform_`` / ``normal_`` for the same
seed (so only the launch differs), then measures:

1. 1 GiB float32 (pre-touched): memset_, uniform_ and normal_ against their
   prange twins, interleaved, medians;
2. per-call overhead on a small array (default 4096 elements): public
   ``uniform_``, the serial kernel called directly (no argument checks, no
   launcher) and the prange kernel, median microseconds per call;
3. chunk-size sensitivity: ``uniform_`` with ``fastglorot._launch.CHUNK_BYTES``
   temporarily set to 1, 2, 4, 8 and 16 MiB (restored afterwards).

The prange kernels are compiled without ``cache=True`` (``parallel=True`` with
caching has segfault reports), so each run compiles them (a few seconds).

Run:  python bench/bench_launch.py [--size-mib 1024] [--repeats 7] [--json PATH]
"""

from __future__ import annotations

import sys

import _common
import numba
import numpy as np

from fastglorot import _kernels, _launch, _sampling, normal_, uniform_
from fastglorot._kernels import WORDS_PER_TILE, _normal_f32_tile, _philox_tile, _uniform_f32_tile
from fastglorot._measure import interleaved_times, median, memset_

PRANGE_OPTIONS = dict(parallel=True, nogil=True, error_model="numpy")  # no cache=True


@numba.njit(**PRANGE_OPTIONS)
def prange_uniform_f32(out, key_stream, params):
    """Whole tiles only: ``out.size`` a multiple of WORDS_PER_TILE, offset 0."""
    for t in numba.prange(out.size // WORDS_PER_TILE):
        words = np.empty(WORDS_PER_TILE, np.uint32)
        _philox_tile(words, t, key_stream)
        _uniform_f32_tile(out[t * WORDS_PER_TILE : (t + 1) * WORDS_PER_TILE], words, params)


@numba.njit(**PRANGE_OPTIONS)
def prange_normal_f32(out, key_stream, params):
    """Whole tiles only: ``out.size`` a multiple of WORDS_PER_TILE, offset 0."""
    for t in numba.prange(out.size // WORDS_PER_TILE):
        words = np.empty(WORDS_PER_TILE, np.uint32)
        _philox_tile(words, t, key_stream)
        _normal_f32_tile(out[t * WORDS_PER_TILE : (t + 1) * WORDS_PER_TILE], words, params)


def launch_args(fill, out, *args, **kwargs):
    """The kernel arguments ``(kind, key_stream, params)`` fastglorot derives for a call.

    Intercepts the library's launcher for one call instead of re-deriving the
    parameters here, so the prange twins get exactly the library's inputs.
    """
    captured = []
    saved = _sampling.run_fill
    _sampling.run_fill = lambda kernel, out, first, tile, kernel_args: captured.append(kernel_args)
    try:
        fill(out, *args, **kwargs)
    finally:
        _sampling.run_fill = saved
    return captured[0]


def twins(out, seed):
    """name -> (fastglorot call, prange call) over ``out``, same distribution and seed."""
    u_kind, u_key, u_params = launch_args(uniform_, out, -1.0, 1.0, seed=seed)
    n_kind, n_key, n_params = launch_args(normal_, out, 0.0, 1.0, seed=seed)
    return {
        "uniform_": (lambda: uniform_(out, -1.0, 1.0, seed=seed),
                     lambda: prange_uniform_f32(out, u_key, u_params)),
        "normal_": (lambda: normal_(out, 0.0, 1.0, seed=seed),
                    lambda: prange_normal_f32(out, n_key, n_params)),
    }, (u_kind, u_key, u_params)


def verify(out, seed):
    """Bit-identity of each prange twin with the library on all of ``out``."""
    expected = np.empty_like(out)
    checks = {}
    for name, (library, prange) in twins(out, seed)[0].items():
        prange()
        expected[...] = out
        library()
        checks[name] = bool(np.array_equal(expected.view(np.uint32), out.view(np.uint32)))
    return checks


def per_call_times(actions, calls, repeats):
    """Median microseconds per call, each sample averaging ``calls`` calls."""
    batched = {name: (lambda a=action: [a() for _ in range(calls)]) for name, action in actions.items()}
    samples = interleaved_times(batched, repeats)
    return {name: median(s) / calls * 1e6 for name, s in samples.items()}


def with_chunk(chunk_bytes, fill):
    def action():
        saved = _launch.CHUNK_BYTES
        _launch.CHUNK_BYTES = chunk_bytes
        try:
            fill()
        finally:
            _launch.CHUNK_BYTES = saved

    return action


def main() -> int:
    parser = _common.parser(__doc__)
    parser.add_argument("--size-mib", type=int, default=1024, help="big buffer (default 1024)")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved repeats (default 7)")
    parser.add_argument("--small", type=int, default=4096,
                        help="small array elements, a multiple of 512 (default 4096)")
    parser.add_argument("--calls", type=int, default=200, help="calls per small sample (default 200)")
    parser.add_argument("--chunks-mib", type=int, nargs="+", default=[1, 2, 4, 8, 16],
                        help="CHUNK_BYTES values to try, MiB (default 1 2 4 8 16)")
    args = parser.parse_args()
    if args.small % WORDS_PER_TILE:
        parser.error(f"--small must be a multiple of {WORDS_PER_TILE}")

    env = _common.environment()
    threads = env["numba_threads"]
    out = np.empty(args.size_mib * _common.MiB // 4 // WORDS_PER_TILE * WORDS_PER_TILE, np.float32)
    nbytes = out.nbytes
    memset_(out)  # first touch outside timing
    checks = verify(out, seed=7)  # also compiles everything
    env["threading_layer"] = numba.threading_layer()
    results = {"size_bytes": nbytes, "repeats": args.repeats, "bit_identical": checks}

    pairs, _ = twins(out, seed=1)
    actions = {"memset_": lambda: memset_(out)}
    for name, (library, prange) in pairs.items():
        actions[f"fastglorot {name}"] = library
        actions[f"prange {name}"] = prange
    seconds = {k: median(v) for k, v in interleaved_times(actions, args.repeats).items()}

    small = np.zeros(args.small, np.float32)
    small_pairs, (kind, key, params) = twins(small, seed=1)
    small_library, small_prange = small_pairs["uniform_"]
    overhead = per_call_times({
        "fastglorot uniform_": small_library,
        "fastglorot kernel only": lambda: _kernels.fill_float32(small, 0, kind, key, params),
        "prange uniform_": small_prange,
    }, args.calls, max(args.repeats, 11))

    chunk_actions = {"memset_ (4 MiB)": with_chunk(_launch.CHUNK_BYTES, lambda: memset_(out))}
    for mib in args.chunks_mib:
        chunk_actions[f"uniform_ {mib} MiB"] = with_chunk(mib * _common.MiB, pairs["uniform_"][0])
    chunk_s = {k: median(v) for k, v in interleaved_times(chunk_actions, args.repeats).items()}

    _common.print_environment(env)
    print(f"# numba threading layer (prange): {env['threading_layer']}")
    print("prange twin bit-identical to fastglorot: "
          + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in checks.items()))

    rows = []
    for name, s in seconds.items():
        rows.append([name, s * 1e3, _common.gbps(nbytes, s), seconds["memset_"] / s])
    _common.print_table(
        f"{nbytes / _common.GiB:.2f} GiB float32, {threads} threads, median of {args.repeats}",
        ["launch", "ms", "GB/s", "x memset"], rows)
    for name in pairs:
        print(f"fastglorot / prange speed, {name}: "
              f"{seconds[f'prange {name}'] / seconds[f'fastglorot {name}']:.3f}x")
    results["big"] = {name: {"median_s": s, "gb_per_s": _common.gbps(nbytes, s)}
                      for name, s in seconds.items()}

    _common.print_table(
        f"Per-call cost, {args.small} float32 elements ({args.calls} calls per sample)",
        ["call", "us/call"], [[k, v] for k, v in overhead.items()])
    results["small"] = {"elements": args.small, "us_per_call": overhead}

    rows = [[name, s * 1e3, _common.gbps(nbytes, s), chunk_s["memset_ (4 MiB)"] / s]
            for name, s in chunk_s.items()]
    _common.print_table(f"uniform_ vs CHUNK_BYTES (default {_launch.CHUNK_BYTES // _common.MiB} MiB)",
                        ["fill", "ms", "GB/s", "x memset"], rows)
    results["chunks"] = {name: {"median_s": s, "gb_per_s": _common.gbps(nbytes, s)}
                         for name, s in chunk_s.items()}

    _common.write_json(args.json, results, env)
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
