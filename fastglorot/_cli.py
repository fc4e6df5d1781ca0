"""The ``fastglorot`` command line (also ``python -m fastglorot``).

The help texts here are plain text: argparse prints them verbatim.  The
benchmark harness (:mod:`fastglorot.benchmarks`) is imported only when
``fastglorot bench`` runs, so ``import fastglorot`` and ``fastglorot --help``
load none of it.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Sequence

from . import __version__

_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(?:([KMGT])(i)?B?|B?)\s*$", re.IGNORECASE)
_POWERS = {"K": 1, "M": 2, "G": 3, "T": 4}
_ITEMSIZE = {"float32": 4, "bfloat16": 2, "float16": 2, "float64": 8}

LAYER_ROW = 4096
"""Elements in one row of a benchmark layer (``benchmarks.peers.LAYER_COLUMNS``; a test keeps them equal)."""

DESCRIPTION = """\
fastglorot: fast, bit-reproducible weight initialization (Philox4x32-10
streams, Numba kernels on all cores).

Run "fastglorot COMMAND --help" for a command's options."""

BENCH_DESCRIPTION = f"""\
Compare fastglorot's Glorot uniform and normal fills with NumPy (one thread
and all cores), torch and parallel-numpy-rng on one big layer, side by side
with a parallel constant fill ("memset") of the same buffer.

Every implementation fills the same pre-touched buffer, interleaved
round-robin in one process; the report gives the median time, GB/s, the
ratio to memset and fastglorot's speed-up over each. Implementations that
are not installed are skipped with a note.

The layer: --size bytes of --dtype, shaped (rows, {LAYER_ROW}) (square when the
element count is a perfect square), rounded down to whole rows; --size must
hold at least one {LAYER_ROW}-element row. The default, 1GiB of float32, is a
16384 x 16384 layer.

Unless --quick, three more sections follow, each on its own:
  thread scaling   fastglorot and memset on the same layer, 1 .. --threads threads;
  peak memory      an allocating glorot_uniform of the same layer (--size and
                   --dtype) in a fresh process, against its output (target: at
                   most 64 MiB beyond it);
  cold start       fresh processes filling a fixed 256 x 256 float32 array: the
                   first-ever compile, then import + first fill with a warm
                   compile cache."""


def parse_size(text: str) -> int:
    """Bytes from ``"1GiB"``, ``"1G"`` (binary), ``"1GB"`` (decimal) or ``"4096"``."""
    match = _SIZE.match(text)
    if not match or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 1GiB, 256MiB, 4096)")
    value, prefix, binary = match.groups()
    if not prefix:
        return int(float(value))
    power = _POWERS[prefix.upper()]
    decimal = text.strip().upper().endswith("B") and not binary
    base = 1000 if decimal else 1024
    return int(float(value) * base**power)


def positive_int(text: str) -> int:
    """An integer >= 1 (``--repeats``, ``--threads``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


WARMUP_DESCRIPTION = """\
Compile every kernel and write numba's disk cache, in parallel processes on
all cores, so that later first calls load compiled code (well under a second)
instead of compiling (seconds per kernel). Meant for Docker image builds and
CI set-up steps: run it with the NUMBA_CACHE_DIR (and on the kind of CPU) the
application will use. Prints the seconds each kernel took."""


def _parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The parser and its ``bench`` subparser."""
    parser = argparse.ArgumentParser(prog="fastglorot", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"fastglorot {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    bench = commands.add_parser(
        "bench", help="compare fastglorot with NumPy, torch and others on one big layer",
        description=BENCH_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench.add_argument("--size", type=parse_size, default=1 << 30,
                       help=f"layer size in bytes: 1GiB (default), 256MiB, 1G (binary), 1GB (decimal), 4096; "
                            f"at least one {LAYER_ROW}-element row (16KiB of float32). Also the size of the "
                            f"thread-scaling and peak-memory sections")
    bench.add_argument("--dtype", default="float32", choices=list(_ITEMSIZE),
                       help="element type of the layer (default float32)")
    bench.add_argument("--dist", default="both", choices=["uniform", "normal", "both"],
                       help="Glorot distribution(s) to compare (default both)")
    bench.add_argument("--threads", type=positive_int,
                       help="threads for every implementation (default: numba's count: all cores, "
                            "unless NUMBA_NUM_THREADS says otherwise)")
    bench.add_argument("--repeats", type=positive_int, default=5, help="interleaved timed runs (default 5)")
    bench.add_argument("--json", metavar="PATH", help="write the results as JSON")
    bench.add_argument("--plot", metavar="PATH", help="save a bar chart (PNG; needs matplotlib)")
    bench.add_argument("--quick", action="store_true",
                       help="only the side-by-side comparison: skip thread scaling, peak memory and cold start")
    warm = commands.add_parser("warmup", help="compile and cache every kernel ahead of time (all cores)",
                               description=WARMUP_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    warm.add_argument("--dtypes", nargs="+", default=list(_ITEMSIZE), choices=list(_ITEMSIZE), metavar="DTYPE",
                      help=f"element types to compile for (default: all of {', '.join(_ITEMSIZE)})")
    warm.add_argument("--distributions", nargs="+", default=["uniform", "normal", "truncated_normal"],
                      choices=["uniform", "normal", "truncated_normal"], metavar="DIST",
                      help="uniform, normal, truncated_normal (default: all; every initializer uses one of them)")
    warm.add_argument("--processes", type=positive_int, help="parallel compiler processes (default: all cores)")
    return parser, bench


def main(argv: Sequence[str] | None = None) -> int:
    parser, bench_parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "warmup":
        from ._warmup import warmup

        times = warmup(args.dtypes, args.distributions, args.processes)
        total = times.pop("total")
        for name, seconds in times.items():
            print(f"{name:28s} {seconds:6.2f} s")
        print(f"{'total (wall)':28s} {total:6.2f} s")
        return 0
    # Imported here, not at the top: only "fastglorot bench" needs the harness.
    from .benchmarks import harness, peers

    row_bytes = peers.LAYER_COLUMNS * _ITEMSIZE[args.dtype]
    if args.size < row_bytes:
        bench_parser.error(
            f"argument --size: {args.size} bytes is less than one layer row; the benchmark layer has rows of "
            f"{peers.LAYER_COLUMNS} elements, so --size must be at least {row_bytes // 1024}KiB "
            f"({row_bytes} bytes) for {args.dtype}")
    dists = ("uniform", "normal") if args.dist == "both" else (args.dist,)
    return harness.run_bench(args.size, args.dtype, dists, args.threads, args.repeats, args.json, args.plot,
                             args.quick)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
