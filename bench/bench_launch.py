"""fastglorot's launch design (serial nogil kernels on a thread pool) vs prange.

Defines a numba ``parallel=True`` variant of the float32 uniform and normal
fills: a ``prange`` over whole tiles, each iteration with its own scratch
words, calling the same inlined tile helpers as the library
(``fastglorot._engines.kernels._philox_tile`` and the float32 tile converters).
Checks that it is bit-identical to ``uniform_`` / ``normal_`` for the same
seed (so only the launch differs), then measures, interleaved, medians:

1. 1 GiB float32 (pre-touched): memset_, uniform_ and normal_ against their
   prange twins, plus a prange constant fill (how much of memset_, the
   yardstick, is the launcher's own cost);
2. per-call cost on a small array (default 4096 elements): public
   ``uniform_``, the serial kernel called directly (no argument checks, no
   launcher) and the prange kernel, microseconds per call;
3. mid-size arrays (default 1 to 64 MiB): uniform_ at all threads and at 1
   thread against prange, microseconds per call;
4. chunk-size sensitivity: uniform_ with ``fastglorot._engines.launch.CHUNK_BYTES``
   temporarily set to 1, 2, 4, 8 and 16 MiB (restored afterwards).

The prange kernels are compiled without ``cache=True`` (``parallel=True`` with
caching has segfault reports), so each run compiles them (several seconds).

OpenMP spin: GNU OpenMP workers keep spinning for a few milliseconds after a
prange region (~5 ms here), stealing CPU from whatever runs next (a 16 MiB
uniform_ right after a prange call: 1.6 -> 2.1 ms on 2 cores).  OpenMP keeps
its default wait policy; instead section 1 puts an untimed pause (default
20 ms) before every timed action, and section 3 runs the single-threaded
fastglorot call between prange and the multi-threaded one.  Section 2 is
single-threaded on fastglorot's side, which the spin does not disturb.

Arrays up to a few tens of MiB stay in the last-level cache when filled back
to back, so section 3 measures the in-cache, compute-bound case.

Run:  python bench/bench_launch.py [--size-mib 1024] [--repeats 7] [--json PATH]
"""

from __future__ import annotations

import os
import sys
import time

import _common
import numba
import numpy as np

from fastglorot._engines import launch as _launch
from fastglorot._api import sampling as _sampling
from fastglorot import normal_, uniform_
from numba.np.unsafe.ndarray import to_fixed_tuple

from fastglorot._engines.kernels import TILE_CONVERTERS, TILE_COUNTERS, WORDS_PER_TILE, _philox_tile
from fastglorot.benchmarks.measure import interleaved_times, median, memset_

PRANGE_OPTIONS = dict(parallel=True, nogil=True, error_model="numpy")  # no cache=True
_uniform_f32_tile = TILE_CONVERTERS["uniform", "float32", 1]
_normal_f32_tile = TILE_CONVERTERS["normal", "float32", 1]


@numba.njit(**PRANGE_OPTIONS)
def prange_uniform_f32(out, key_stream, params):
    """Whole tiles only: ``out.size`` a multiple of WORDS_PER_TILE, offset 0."""
    state = to_fixed_tuple(params, 4)  # as the kernels pass their parameters
    for t in numba.prange(out.size // WORDS_PER_TILE):
        words = np.empty(WORDS_PER_TILE, np.uint32)
        _philox_tile(words, t, key_stream, 0, TILE_COUNTERS)
        _uniform_f32_tile(out[t * WORDS_PER_TILE : (t + 1) * WORDS_PER_TILE], words, state, 0, TILE_COUNTERS, 0, 4)


@numba.njit(**PRANGE_OPTIONS)
def prange_normal_f32(out, key_stream, params):
    """Whole tiles only: ``out.size`` a multiple of WORDS_PER_TILE, offset 0."""
    state = to_fixed_tuple(params, 2)
    for t in numba.prange(out.size // WORDS_PER_TILE):
        words = np.empty(WORDS_PER_TILE, np.uint32)
        _philox_tile(words, t, key_stream, 0, TILE_COUNTERS)
        _normal_f32_tile(out[t * WORDS_PER_TILE : (t + 1) * WORDS_PER_TILE], words, state, 0, TILE_COUNTERS, 0, 4)


@numba.njit(**PRANGE_OPTIONS)
def prange_constant(out, value):
    for i in numba.prange(out.size):
        out[i] = value


def launch_args(fill, out, *args, **kwargs):
    """The kernel and its arguments ``(key_stream, params)`` fastglorot derives for a call.

    Intercepts the library's launcher for one call instead of re-deriving the
    parameters here, so the prange twins get exactly the library's inputs.
    """
    captured = []
    saved = _sampling.run_fill
    _sampling.run_fill = lambda kernel, out, runs, tile, kernel_args, *rest: captured.append((kernel, kernel_args))
    try:
        fill(out, *args, **kwargs)
    finally:
        _sampling.run_fill = saved
    return captured[0]


def twins(out, seed):
    """``{name: (fastglorot call, prange call)}`` over ``out``, same distribution and seed."""
    _, (u_key, u_params) = launch_args(uniform_, out, -1.0, 1.0, seed=seed)
    _, (n_key, n_params) = launch_args(normal_, out, 0.0, 1.0, seed=seed)
    return {
        "uniform_": (lambda: uniform_(out, -1.0, 1.0, seed=seed),
                     lambda: prange_uniform_f32(out, u_key, u_params)),
        "normal_": (lambda: normal_(out, 0.0, 1.0, seed=seed),
                    lambda: prange_normal_f32(out, n_key, n_params)),
    }


def verify(out, seed):
    """Bit-identity of each prange twin with the library on all of ``out``."""
    expected = np.empty_like(out)
    checks = {}
    for name, (library, prange) in twins(out, seed).items():
        prange()
        expected[...] = out
        library()
        checks[name] = bool(np.array_equal(expected.view(np.uint32), out.view(np.uint32)))
    return checks


def paced_medians(actions, repeats, pause=0.0):
    """Median seconds per action, interleaved, each action after an untimed ``pause``."""
    paced = {}
    for name, action in actions.items():
        if pause:
            paced[("pause", name)] = lambda: time.sleep(pause)
        paced[name] = action
    times = interleaved_times(paced, repeats)
    return {name: median(times[name]) for name in actions}


def per_call_us(actions, calls, repeats):
    """Median microseconds per call, interleaved, each sample timing ``calls`` calls in a row."""
    batched = {name: (lambda a=action: [a() for _ in range(calls)])
               for name, action in actions.items()}
    return {name: s / calls * 1e6 for name, s in paced_medians(batched, repeats).items()}


def with_chunk(chunk_bytes, fill):
    """``fill`` run with ``fastglorot._engines.launch.CHUNK_BYTES = chunk_bytes`` (then restored)."""

    def action():
        saved = _launch.CHUNK_BYTES
        _launch.CHUNK_BYTES = chunk_bytes
        try:
            fill()
        finally:
            _launch.CHUNK_BYTES = saved

    return action


def big_arrays(out, repeats, pause):
    """1. memset_, uniform_ and normal_ against prange on the big buffer."""
    nbytes = out.nbytes
    actions = {"memset_": lambda: memset_(out),
               "prange constant fill": lambda: prange_constant(out, np.float32(0.5))}
    for name, (library, prange) in twins(out, seed=1).items():
        actions[f"fastglorot {name}"] = library
        actions[f"prange {name}"] = prange
    seconds = paced_medians(actions, repeats, pause)
    rows = [[name, s * 1e3, _common.gbps(nbytes, s), seconds["memset_"] / s]
            for name, s in seconds.items()]
    _common.print_table(
        f"1. {nbytes / _common.GiB:.2f} GiB float32, {numba.get_num_threads()} threads, "
        f"median of {repeats}, {pause * 1e3:g} ms pause before each",
        ["launch", "ms", "GB/s", "x memset_"], rows)
    pairs = [("memset_", "prange constant fill")]
    pairs += [(f"fastglorot {name}", f"prange {name}") for name in ("uniform_", "normal_")]
    for mine, theirs in pairs:
        print(f"{mine} speed / {theirs} speed: {seconds[theirs] / seconds[mine]:.3f}")
    return {name: {"median_s": s, "gb_per_s": _common.gbps(nbytes, s)}
            for name, s in seconds.items()}


def small_array(elements, calls, repeats):
    """2. Per-call cost of a small fill."""
    small = np.zeros(elements, np.float32)
    library, prange = twins(small, seed=1)["uniform_"]
    kernel, (key, params) = launch_args(uniform_, small, -1.0, 1.0, seed=1)
    rows, firsts = small.reshape(1, -1), np.zeros(1, np.int64)  # one run from global index 0
    us = per_call_us({
        "fastglorot uniform_": library,
        "serial kernel only": lambda: kernel(rows, firsts, key, params),
        "prange uniform_": prange,
    }, calls, repeats)
    _common.print_table(f"2. Per-call cost, {elements} float32 elements ({calls} calls per sample)",
                        ["call", "us/call"], [[k, v] for k, v in us.items()])
    return {"elements": elements, "us_per_call": us}


def mid_sizes(sizes_mib, repeats):
    """3. uniform_ on mid-size arrays: thread speed-up and prange."""
    threads = numba.get_num_threads()
    rows, results = [], []
    for mib in sizes_mib:
        out = np.ones(int(mib * _common.MiB) // 4 // WORDS_PER_TILE * WORDS_PER_TILE, np.float32)
        library, prange = twins(out, seed=1)["uniform_"]
        # Order matters: the 1-thread call absorbs prange's OpenMP spin (see docstring).
        us = per_call_us({"prange": prange, "one": _common.at_threads(1, library), "all": library},
                         max(1, int(64 / mib)), repeats)
        chunk = _launch._chunk_elements(out.nbytes, out.itemsize, WORDS_PER_TILE, threads)
        chunks = -(-out.size // chunk) if out.nbytes >= _launch.PARALLEL_MIN_BYTES else 1
        rows.append([mib, chunks, us["all"], us["one"], us["one"] / us["all"], us["prange"],
                     us["all"] / us["prange"]])
        results.append({"mib": mib, "chunks": chunks, "us_fastglorot": us["all"],
                        "us_fastglorot_1_thread": us["one"], "us_prange": us["prange"]})
    _common.print_table(
        f"3. uniform_ float32, mid sizes, us per call ({threads} threads unless noted)",
        ["MiB", "chunks", "fastglorot", "fg 1 thr", "fg speed-up", "prange", "prange / fg speed"],
        rows)
    return results


def chunk_sizes(out, chunks_mib, repeats):
    """4. uniform_ on the big buffer with other CHUNK_BYTES values."""
    default = _launch.CHUNK_BYTES
    library = twins(out, seed=1)["uniform_"][0]
    actions = {f"memset_ {default // _common.MiB} MiB": lambda: memset_(out)}
    for mib in chunks_mib:
        actions[f"uniform_ {mib} MiB"] = with_chunk(mib * _common.MiB, library)
    seconds = paced_medians(actions, repeats)
    memset_s = next(iter(seconds.values()))
    rows = [[name, s * 1e3, _common.gbps(out.nbytes, s), memset_s / s]
            for name, s in seconds.items()]
    _common.print_table(f"4. uniform_ vs CHUNK_BYTES (default {default // _common.MiB} MiB)",
                        ["fill, chunk", "ms", "GB/s", "x memset_"], rows)
    return {name: {"median_s": s, "gb_per_s": _common.gbps(out.nbytes, s)}
            for name, s in seconds.items()}


def main() -> int:
    # Kernels throughout: the NumPy path serves a process's first small fills (bench/bench_numpy_path.py measures
    # it) and would otherwise stand in for the kernels this script times.
    os.environ["FASTGLOROT_NUMPY_MAX_BYTES"] = "0"
    parser = _common.parser(__doc__)
    parser.add_argument("--size-mib", type=int, default=1024, help="big buffer (default 1024)")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved repeats (default 7)")
    parser.add_argument("--small", type=int, default=4096,
                        help="small array elements, a multiple of 512 (default 4096)")
    parser.add_argument("--calls", type=int, default=200,
                        help="calls per small-array sample (default 200)")
    parser.add_argument("--mid-mib", type=float, nargs="+", default=[1, 2, 4, 8, 16, 64],
                        help="mid-size arrays, MiB (default 1 2 4 8 16 64)")
    parser.add_argument("--chunks-mib", type=int, nargs="+", default=[1, 2, 4, 8, 16],
                        help="CHUNK_BYTES values to try, MiB (default 1 2 4 8 16)")
    parser.add_argument("--pause-ms", type=float, default=20.0,
                        help="section 1: untimed pause before each timed action (default 20)")
    args = parser.parse_args()
    if args.small % WORDS_PER_TILE:
        parser.error(f"--small must be a multiple of {WORDS_PER_TILE}")

    env = _common.environment()
    out = np.empty(args.size_mib * _common.MiB // 4 // WORDS_PER_TILE * WORDS_PER_TILE, np.float32)
    memset_(out)  # first touch outside timing
    checks = verify(out, seed=7)  # also compiles everything but the constant fill
    prange_constant(out[:WORDS_PER_TILE], np.float32(0.5))
    env["threading_layer"] = numba.threading_layer()

    _common.print_environment(env)
    print(f"# prange: numba threading layer {env['threading_layer']}")
    print("prange twin bit-identical to fastglorot: "
          + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in checks.items()))
    results = {"size_bytes": out.nbytes, "repeats": args.repeats, "bit_identical": checks}
    results["big"] = big_arrays(out, args.repeats, args.pause_ms / 1e3)
    results["small"] = small_array(args.small, args.calls, max(args.repeats, 11))
    results["mid"] = mid_sizes(args.mid_mib, args.repeats)
    results["chunks"] = chunk_sizes(out, args.chunks_mib, args.repeats)
    _common.write_json(args.json, results, env)
    if not all(checks.values()):  # an error, not a speed target: the twins must compute the same bits
        print("bench_launch: error: a prange twin wrote different bits from fastglorot's fill: "
              + ", ".join(k for k, v in checks.items() if not v), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
