"""fastglorot command line: ``fastglorot bench`` compares fastglorot with other samplers."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Sequence

from . import _benchmark

_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(?:([KMGT])(i)?B?|B?)\s*$", re.IGNORECASE)
_POWERS = {"K": 1, "M": 2, "G": 3, "T": 4}


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fastglorot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    bench_parser = commands.add_parser(
        "bench", help="compare fastglorot with numpy, torch and others on one big layer",
        description=_benchmark.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench_parser.add_argument("--size", type=parse_size, default=1 << 30,
                              help="layer size in bytes: 1GiB (default), 256MiB, 1G, 1GB ...")
    bench_parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16", "float64"])
    bench_parser.add_argument("--dist", default="both", choices=["uniform", "normal", "both"])
    bench_parser.add_argument("--threads", type=int, help="threads for every implementation (default: numba's)")
    bench_parser.add_argument("--repeats", type=int, default=5, help="interleaved timed runs (default 5)")
    bench_parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    bench_parser.add_argument("--plot", metavar="PATH", help="save a bar chart (PNG; needs matplotlib)")
    bench_parser.add_argument("--quick", action="store_true",
                              help="skip thread scaling, peak memory and cold start")
    args = parser.parse_args(argv)
    dists = ("uniform", "normal") if args.dist == "both" else (args.dist,)
    return _benchmark.run_bench(args.size, args.dtype, dists, args.threads, args.repeats, args.json, args.plot,
                                args.quick)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
