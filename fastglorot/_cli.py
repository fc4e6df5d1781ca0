"""``fastglorot`` command line."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Sequence

import numpy as np

from ._launch import thread_count
from ._measure import interleaved_times, median, memset_
from ._sampling import normal_, uniform_

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


def demo(size: int, repeats: int) -> int:
    out = np.empty(size // 4, dtype=np.float32)
    memset_(out)  # first touch outside the timed region
    uniform_(out[:4096], -1.0, 1.0, seed=0)  # compile (or load from cache)
    normal_(out[:4096], seed=0)
    runs = {"memset": lambda: memset_(out),
            "uniform_": lambda: uniform_(out, -1.0, 1.0, seed=1),
            "normal_": lambda: normal_(out, 0.0, 1.0, seed=1)}
    times = interleaved_times(runs, repeats)
    print(f"fastglorot demo: {out.nbytes / 2**30:.2f} GiB float32, {thread_count()} threads, "
          f"median of {repeats}")
    memset_s = median(times["memset"])
    for name, samples in times.items():
        seconds = median(samples)
        print(f"  {name:9s} {out.nbytes / seconds / 1e9:7.2f} GB/s  {memset_s / seconds:5.2f}x memset")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fastglorot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser("demo", help="fill a float32 layer and print GB/s")
    demo_parser.add_argument("--size", type=parse_size, default=1 << 30, help="bytes (default 1GiB)")
    demo_parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo(args.size, args.repeats)
    return 2  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
