"""Where the float32 uniform's time goes, per core, next to Intel MKL's Philox4x32-10.

The float32 uniform of stream format v1 is one Philox4x32-10 word per
element, its top 24 bits scaled into ``[low, high]`` and clamped
(``_format.stream_v1.uniform_f32``).  This script rebuilds the kernel's tile
loop from the library's own jitted pieces (``_engines.kernels._philox_tile``
and the float32 uniform's tile converter), stopping after each stage,
single-threaded, on a pre-touched buffer of ``--mib`` MiB (default 256), so
each stage's cost is the difference to the previous row:

1. Philox words into the L1-resident scratch tile only (nothing stored to the buffer);
2. + the words copied to the buffer (what ``random_bits`` does);
3. + the conversion to float32 without the clamp;
4. + the clamp: the library's float32 uniform, checked bit for bit against ``fastglorot.uniform_``.

Then a **fused** variant (Philox and the conversion in one pass, no scratch
tile; the same bits, checked), the library's ``uniform_`` and
raw-words kernel (``random_bits``' ``fill_bits``) at one thread, and, with the ``mkl`` wheel installed, MKL's
VSL on the same buffer (``viRngUniformBits32`` raw words, ``vsRngUniform``
with its fast and accurate methods).  Figures are ns and cycles per
element; cycles use ``--ghz`` (default: the first CPU's current clock from
``/proc/cpuinfo``, stated in the output).

Run:  python bench/bench_uniform_stages.py [--mib 256] [--repeats 7] [--ghz 2.6] [--json PATH]
"""

from __future__ import annotations

import statistics
from typing import Any, Callable, Dict

import _common
import numba
import numpy as np
from numba.np.unsafe.ndarray import to_fixed_tuple

import fastglorot
from fastglorot._engines import kernels as _kernels
from fastglorot._engines.numba_elements import uniform_f32
from fastglorot._format.params import uniform_params
from fastglorot._validate import key_stream_words
from fastglorot.benchmarks import mkl_vsl

_L = _kernels.TILE_COUNTERS
_W = _kernels.WORDS_PER_TILE
_CONVERT = _kernels.TILE_CONVERTERS["uniform", "float32", 1]
STAGES = ["Philox words (scratch tile only)", "+ words stored to the buffer", "+ float32 conversion (no clamp)",
          "+ clamp = v1 uniform"]


@numba.njit(nogil=True, error_model="numpy")
def stages(out: Any, words: Any, key_stream: Any, params: Any, stage: int) -> None:
    """The v1 float32 uniform of whole tiles of ``out``, stopped after ``stage``."""
    state = to_fixed_tuple(params, 4)
    mid, scale = state[0], state[1]
    bits = out.view(np.uint32)
    for t in range(out.size // _W):
        _kernels._philox_tile(words, t, key_stream, 0, _L)
        if stage == 0:
            continue
        base = t * _W
        if stage == 1:
            for j in range(_W):
                bits[base + j] = words[j]
        elif stage == 2:
            for j in range(_W):
                odd = np.int32(np.int32(words[j] ^ np.uint32(1 << 31)) >> np.int32(7)) | np.int32(1)
                out[base + j] = mid + scale * np.float32(odd)
        else:
            _CONVERT(out[base : base + _W], words, state, 0, _L, 0, 4)


@numba.njit(nogil=True, error_model="numpy")
def fused(out: Any, key_stream: Any, params: Any) -> None:
    """Philox and the conversion in one pass over whole tiles: no scratch tile (the same values)."""
    state = to_fixed_tuple(params, 4)
    k0, k1, s0, s1 = key_stream[0], key_stream[1], key_stream[2], key_stream[3]
    for t in range(out.size // _W):
        base = t * _W
        for m in range(_L):
            counter = np.uint64(t) * np.uint64(_L) + np.uint64(m)
            x0, x1, x2, x3 = _kernels.philox4x32_10(np.uint32(counter & np.uint64(0xFFFFFFFF)),
                                                     np.uint32(counter >> np.uint64(32)), s0, s1, k0, k1)
            out[base + m] = uniform_f32(x0, state)
            out[base + _L + m] = uniform_f32(x1, state)
            out[base + 2 * _L + m] = uniform_f32(x2, state)
            out[base + 3 * _L + m] = uniform_f32(x3, state)


def main() -> None:
    parser = _common.parser(__doc__)
    parser.add_argument("--mib", type=int, default=256, help="buffer size in MiB (whole tiles)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--ghz", type=float, help="clock for cycles per element (default: /proc/cpuinfo)")
    args = parser.parse_args()
    ghz = args.ghz or _common.clock_ghz()
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    env = _common.environment()
    _common.print_environment(env)
    n = (args.mib << 20) // 4 // _W * _W
    out = np.zeros(n, np.float32)
    reference = np.zeros(n, np.float32)
    words = np.empty(_W, np.uint32)
    seed = 11
    key_stream = key_stream_words(seed, 0)
    params = uniform_params(-1.0, 1.0, "float32")
    fastglorot.uniform_(reference, -1.0, 1.0, seed=seed)
    stages(out, words, key_stream, params, 3)
    assert np.array_equal(out.view(np.uint32), reference.view(np.uint32)), "stage rebuild differs from v1"
    out[:] = 0
    fused(out, key_stream, params)
    assert np.array_equal(out.view(np.uint32), reference.view(np.uint32)), "fused variant differs from v1"

    actions: Dict[str, Callable[[], Any]] = {
        name: (lambda s=s: stages(out, words, key_stream, params, s)) for s, name in enumerate(STAGES)}
    actions["fused Philox + conversion (same bits)"] = lambda: fused(out, key_stream, params)
    actions["library uniform_"] = lambda: fastglorot.uniform_(out, -1.0, 1.0, seed=seed)
    rows_2d, firsts, no_params = out.view(np.uint32).reshape(1, -1), np.zeros(1, np.int64), np.zeros(1, np.uint32)
    actions["library raw-words kernel (fill_bits)"] = lambda: _kernels.fill_bits(rows_2d, firsts, key_stream, no_params)
    if mkl_vsl.available():
        library = mkl_vsl.load()
        streams = mkl_vsl.Streams(seed, 1, 0)
        handle = streams.handles[0]
        chunk = 1 << 24

        def mkl(kind: str, method: int = 0) -> Callable[[], None]:
            def run() -> None:
                for start in range(0, n, chunk):
                    count = min(chunk, n - start)
                    address = out.ctypes.data + 4 * start
                    if kind == "words":
                        library.viRngUniformBits32(0, handle, count, address)
                    else:
                        library.vsRngUniform(method, handle, count, address, -1.0, 1.0)
            return run
        actions["MKL viRngUniformBits32 (words)"] = mkl("words")
        actions["MKL vsRngUniform STD"] = mkl("uniform", mkl_vsl.METHOD_UNIFORM_STD)
        actions["MKL vsRngUniform STD_ACCURATE"] = mkl("uniform", mkl_vsl.METHOD_UNIFORM_STD_ACCURATE)
    times = _common.time_warm(actions, args.repeats)
    numba.set_num_threads(threads)

    medians = {name: statistics.median(samples) for name, samples in times.items()}
    uniform = medians["library uniform_"]
    rows = []
    previous = 0.0
    for name, median in medians.items():
        stage_cost = median - previous if name in STAGES else None
        previous = median if name in STAGES else previous
        ns = 1e9 * median / n
        rows.append([name, f"{median * 1e3:.1f}", "-" if stage_cost is None else f"{stage_cost * 1e3:+.1f}",
                     f"{ns:.3f}", "-" if ghz is None else f"{ns * ghz:.2f}", f"{uniform / median:.2f}x"])
    clock = "unknown clock" if ghz is None else f"cycles at {ghz:.2f} GHz"
    _common.print_table(f"float32 U(-1, 1), {out.nbytes >> 20} MiB, 1 thread, medians of {args.repeats} ({clock})",
                        ["stage / fill", "ms", "stage", "ns/elem", "cycles/elem", "speed vs uniform_"], rows)
    results = {"medians_s": medians, "samples_s": times, "elements": n, "ghz": ghz}
    _common.write_json(args.json, results, env)


if __name__ == "__main__":
    main()
