"""The ``fastglorot`` command line (also ``python -m fastglorot``).

The help texts here are plain text: argparse prints them verbatim.  The
benchmark harness (:mod:`fastglorot.benchmarks`) is imported only when
``fastglorot bench`` runs, so ``import fastglorot`` and ``fastglorot --help``
load none of it.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import sys
import tempfile
from io import TextIOWrapper
from pathlib import Path
from typing import Sequence

from .. import __version__
from .._format.tables import DEFAULT_STREAM_FORMAT, FORMATS, STREAM_FORMATS
from .._engines.memory import available_memory
from .._engines.warmup import cache_problem, warmup
from .errors import (TRACEBACK_VARIABLE, command_name, one_line, quiet_broken_pipe, report_traceback,
                     warnings_as_lines)
from .init_command import run_init
from ..benchmarks import LAYER_COLUMNS  # the package's light __init__: not the harness

_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(?:([KMGT])(i)?B?|B?)\s*$", re.IGNORECASE)
_POWERS = {"K": 1, "M": 2, "G": 3, "T": 4}
_ITEMSIZE = {name: fmt.itemsize for name, fmt in FORMATS.items()}



DESCRIPTION = """\
fastglorot: fast, bit-reproducible weight initialization (Philox4x32-10
streams, Numba kernels on all cores).

Run "fastglorot COMMAND --help" for a command's options. Errors are
reported in one line (exit status 1; 2 for bad arguments); set
FASTGLOROT_TRACEBACK=1 to see a traceback as well."""

BENCH_DESCRIPTION = f"""\
Compare fastglorot's Glorot uniform and normal fills with NumPy (one thread
and all cores), torch and parallel-numpy-rng on one big layer, side by side
with a parallel constant fill ("memset") of the same buffer.

Every implementation fills the same pre-touched buffer, interleaved
round-robin in one process; the report gives the median time, GB/s, the
ratio to memset and fastglorot's speed-up over each. Implementations that
are not installed are skipped with a note.

The layer: --size bytes of --dtype, shaped (rows, {LAYER_COLUMNS}) (square when the
element count is a perfect square), rounded down to whole rows; --size must
hold at least one {LAYER_COLUMNS}-element row. The default, 1GiB of float32, is a
16384 x 16384 layer.

fastglorot fills in --stream-format (default 1): 2 gives other float32 and
16-bit normal values, computed faster (README "Stream format"); the header
line and the JSON's "stream_format" say which.

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
CI set-up steps: run it as the user, with the NUMBA_CACHE_DIR (and on the kind
of CPU) the application will use. Prints the seconds each kernel took, then
where the cache is: NUMBA_CACHE_DIR if set, else the user cache directory
($XDG_CACHE_HOME/fastglorot or ~/.cache/fastglorot on Linux), never inside the
installed package.

By default both stream formats' kernels are compiled (format 2 has its own
float32 and 16-bit normal and truncated-normal kernels; its uniform and
float64 kernels are format 1's): a cache warmed by default serves code
running in either format. --stream-format 1 (or 2) compiles one format's
kernels only."""


INIT_DESCRIPTION = """\
Write a randomly initialized checkpoint straight to disk, tensor by tensor,
in bounded memory (two 8 MiB slabs), filling one slab while writing the other.

OUT's extension picks the format: .safetensors (one file), .npy (one
tensor), .zarr (a zarr group); with --max-shard-size, OUT is a directory
that receives Hugging Face's sharded layout (model-00001-of-0000N.safetensors
and model.safetensors.index.json).

SPEC is a JSON object mapping tensor names to entries such as
  {"shape": [4096, 4096], "dtype": "bfloat16", "init": "glorot_uniform", "gain": 1.0}
where init is any fastglorot initializer (glorot_uniform, kaiming_normal,
lecun_normal, variance_scaling, ...), uniform (low, high), normal (mean,
std), trunc_normal (mean, std, a, b), zeros or ones; dtype is float32
(default), float64, float16 or bfloat16. With --like, names, shapes and
dtypes come from an existing .safetensors file or model.safetensors.index.json
(headers only); 1-D tensors get ones (norm weights) or zeros (biases and the
rest), others --like-init; SPEC, optional then, overrides entries by name or
glob.

Tensor NAME is filled with --seed and stream NAME in --stream-format: it
equals fastglorot.<init>(shape, dtype=..., seed=SEED, stream=NAME,
stream_format=N, **kwargs) bit for bit. The seed and the stream format are
recorded in the safetensors metadata, the sharded index and zarr attributes
(fastglorot_seed, fastglorot_stream_format). Files appear only when complete
(written unnamed, fsynced, then linked); an existing output is replaced only
with --force. A 7B example:
  fastglorot init --example llama-7b --print-spec > llama-7b.json
  fastglorot init llama-7b --example llama-7b --max-shard-size 5GB"""


def _parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser, argparse.ArgumentParser]:
    """The parser and its ``bench`` and ``init`` subparsers."""
    parser = argparse.ArgumentParser(prog="fastglorot", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"fastglorot {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    bench = commands.add_parser(
        "bench", help="compare fastglorot with NumPy, torch and others on one big layer",
        description=BENCH_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench.add_argument("--size", type=parse_size, default=1 << 30,
                       help=f"layer size in bytes: 1GiB (default), 256MiB, 1G (binary), 1GB (decimal), 4096; "
                            f"at least one {LAYER_COLUMNS}-element row (16KiB of float32). Also the size of the "
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
    bench.add_argument("--stream-format", type=int, choices=list(STREAM_FORMATS), default=DEFAULT_STREAM_FORMAT,
                       help=f"fastglorot's stream format (default {DEFAULT_STREAM_FORMAT}); 2: other, faster float32 "
                            "and 16-bit normal values (the other implementations are the same either way)")
    warm = commands.add_parser("warmup", help="compile and cache every kernel ahead of time (all cores)",
                               description=WARMUP_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    warm.add_argument("--dtypes", nargs="+", default=list(_ITEMSIZE), choices=list(_ITEMSIZE), metavar="DTYPE",
                      help=f"element types to compile for (default: all of {', '.join(_ITEMSIZE)})")
    warm.add_argument("--distributions", nargs="+", default=["uniform", "normal", "truncated_normal"],
                      choices=["uniform", "normal", "truncated_normal"], metavar="DIST",
                      help="uniform, normal, truncated_normal (default: all; every initializer uses one of them)")
    warm.add_argument("--stream-format", "--stream-formats", dest="stream_formats", nargs="+", type=int,
                      choices=list(STREAM_FORMATS), default=list(STREAM_FORMATS), metavar="N",
                      help="the stream formats whose kernels to compile: 1, 2 (default: both; format 2 adds its own "
                           "float32 and 16-bit normal and truncated-normal kernels)")
    warm.add_argument("--processes", type=positive_int, help="parallel compiler processes (default: all cores)")
    init = commands.add_parser("init", help="write a randomly initialized checkpoint (.safetensors, sharded, "
                                            ".npy, zarr) in bounded memory",
                               description=INIT_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    init.add_argument("out", metavar="OUT", nargs="?", help="output file (.safetensors, .npy, .zarr) or, with "
                                                            "--max-shard-size, directory")
    init.add_argument("--spec", metavar="SPEC.json", help="tensor names -> shape, dtype, init and its arguments")
    init.add_argument("--like", metavar="CHECKPOINT",
                      help="take names, shapes and dtypes from this .safetensors file or model.safetensors.index.json")
    init.add_argument("--like-init", default="glorot_uniform", metavar="INIT",
                      help="with --like: the init of tensors with 2 or more dimensions (default glorot_uniform)")
    init.add_argument("--example", choices=["llama-7b", "llama-tiny"],
                      help="a built-in spec instead of SPEC.json: llama-7b (Llama-2-7B's shapes, bfloat16, 12.6 GiB), "
                           "llama-tiny (a 2-layer toy)")
    init.add_argument("--config", metavar="CONFIG",
                      help="a Hugging Face config.json, or a directory holding one: OUT becomes a directory that "
                           "from_pretrained loads (config.json, generation_config.json, model.safetensors or "
                           "shards), every tensor as fastglorot.torch.materialize(model, SEED, "
                           "init_fn=model._init_weights) gives it, written module by module; needs transformers. "
                           "With --print-spec: the names, shapes and dtypes it would write, as JSON (a listing, "
                           "not a spec --spec takes)")
    init.add_argument("--print-spec", action="store_true",
                      help="print the resolved spec (of --spec, --like or --example, with --dtype) as JSON and "
                           "exit without writing; OUT is not needed")
    init.add_argument("--seed", type=int, help="Philox key in [0, 2**64) (default: from OS entropy, recorded "
                                               "in the safetensors metadata and printed)")
    init.add_argument("--dtype", choices=list(_ITEMSIZE), help="write every tensor in this dtype")
    init.add_argument("--stream-format", type=int, choices=list(STREAM_FORMATS),
                      help="write every tensor in this stream format: 1 or 2 (2: other, faster float32 and 16-bit "
                           "normal and truncated-normal values; README \"Stream format\"); recorded in the metadata "
                           "(fastglorot_stream_format) and shown by --print-spec. Default: the one the spec's entries "
                           f"name (\"stream_format\": 2), else {DEFAULT_STREAM_FORMAT}")
    init.add_argument("--max-shard-size", type=parse_size, metavar="SIZE",
                      help="shard into Hugging Face's layout, SIZE of tensor data per file (5GB = 5*10**9 bytes, "
                           "5GiB = 5*2**30)")
    init.add_argument("--force", action="store_true", help="replace existing output files")
    init.add_argument("--scheduler", metavar="ADDRESS",
                      help="with --max-shard-size: write the shard files on this Dask cluster's workers "
                           "(tcp://HOST:8786; OUT on a file system they share)")
    shown = init.add_mutually_exclusive_group()
    shown.add_argument("--quiet", action="store_true", help="no progress bar and no summary line")
    shown.add_argument("--progress", action="store_true", help="a progress bar even when stderr is not a terminal")
    return parser, bench, init


BENCH_MEMORY_HEADROOM = 512 << 20
"""Memory ``fastglorot bench`` needs beyond the layer: the interpreters, numba, torch and the peers' scratch."""


def _gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.1f} GiB"


def _check_bench_size(size: int, parser: argparse.ArgumentParser) -> None:
    """Refuse a ``--size`` that cannot fit in memory now, before anything is allocated, saying what fits."""
    available = available_memory()
    if available is None or size + BENCH_MEMORY_HEADROOM <= available:
        return
    fits = max(available - BENCH_MEMORY_HEADROOM, 0) >> 20  # MiB
    advice = (f"use --size {fits >> 10}GiB or less" if fits >= 1024 else
              f"use --size {fits}MiB or less" if fits >= 16 else "free some memory first")
    parser.error(f"argument --size: the layer ({_gib(size)}) and about {BENCH_MEMORY_HEADROOM >> 20}MiB for the "
                 f"libraries do not fit in the {_gib(available)} of memory available now; {advice}")


def _check_output_path(option: str, path: str, parser: argparse.ArgumentParser) -> None:
    """Refuse an output path that cannot be written, before the benchmark spends minutes measuring."""
    target = Path(path)
    if target.is_dir():
        parser.error(f"argument {option}: {path} is a directory; give a file name (such as {target / 'bench'}"
                     f"{'.json' if option == '--json' else '.png'})")
    parent = target.parent
    if not parent.is_dir():
        parser.error(f"argument {option}: {path}: directory {parent} does not exist")
    try:  # writable: a file can be created next to it (and the file itself, if it exists, opened for writing)
        handle, probe = tempfile.mkstemp(prefix=".fastglorot-bench-", dir=parent)
        os.close(handle)
        os.unlink(probe)
        if target.exists():
            with open(target, "r+b"):
                pass
    except OSError as error:
        parser.error(f"argument {option}: cannot write {path} ({parent}: {error.strerror or error})")


def _check_bench_arguments(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Everything about ``fastglorot bench``'s arguments that can fail, checked before it measures."""
    row_bytes = LAYER_COLUMNS * _ITEMSIZE[args.dtype]
    if args.size < row_bytes:
        parser.error(
            f"argument --size: {args.size} bytes is less than one layer row; the benchmark layer has rows of "
            f"{LAYER_COLUMNS} elements, so --size must be at least {row_bytes // 1024}KiB "
            f"({row_bytes} bytes) for {args.dtype}")
    _check_bench_size(args.size, parser)
    for option, path in (("--json", args.json), ("--plot", args.plot)):
        if path is not None:
            _check_output_path(option, path, parser)
    if args.plot is not None and importlib.util.find_spec("matplotlib") is None:
        parser.error("argument --plot: needs matplotlib, which is not installed: python -m pip install matplotlib")


def main(argv: Sequence[str] | None = None) -> int:
    """The ``fastglorot`` command: its exit status.

    No error escapes as a traceback: errors a user can cause (their
    arguments, files, system, a missing optional package) are reported by
    each command in one line in their terms; anything else that escapes
    (an ``OSError``, ``MemoryError`` or ``ImportError`` from the system or
    the environment, or a bug) is caught here and reported in one line too,
    exit status 1.  ``FASTGLOROT_TRACEBACK=1`` adds the traceback.
    """
    try:
        with warnings_as_lines(command_name(argv)):
            status = _main(argv)
        sys.stdout.flush()  # inside the try: a closed pipe surfaces here, not at interpreter exit
    except BrokenPipeError:
        return quiet_broken_pipe()
    except KeyboardInterrupt:
        print(f"{command_name(argv)}: interrupted", file=sys.stderr)
        return 130
    except (OSError, MemoryError, ImportError, Warning) as error:
        # the system or the environment, not fastglorot (a Warning: one that -W error turned into an exception)
        report_traceback()
        print(f"{command_name(argv)}: error: {one_line(error)}", file=sys.stderr)
        return 1
    except Exception as error:  # a bug: one clear line, the traceback on request
        shown = report_traceback()
        how = "" if shown else f"; {TRACEBACK_VARIABLE}=1 shows the traceback"
        print(f"{command_name(argv)}: internal error ({type(error).__name__}: {one_line(error)}); this is a bug in "
              f"fastglorot, please report it with the command line{how}", file=sys.stderr)
        return 1
    return status


def _main(argv: Sequence[str] | None) -> int:
    parser, bench_parser, init_parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "init":
        return run_init(args, init_parser)
    if args.command == "warmup":
        formats = sorted(set(args.stream_formats))
        directory, problem = cache_problem(args.dtypes, args.distributions, compiled=False, stream_formats=formats)
        if problem:  # before compiling: the cache is warmup's whole point
            print(f"fastglorot warmup: error: {problem}", file=sys.stderr)
            return 1
        times = warmup(args.dtypes, args.distributions, args.processes, stream_formats=formats)
        total = times.pop("total")
        width = max(28, *map(len, times))
        for name, seconds in times.items():
            print(f"{name:{width}s} {seconds:6.2f} s")
        print(f"{'total (wall)':{width}s} {total:6.2f} s")
        directory, problem = cache_problem(args.dtypes, args.distributions, stream_formats=formats)
        if problem:
            print(f"fastglorot warmup: error: {problem}", file=sys.stderr)
            return 1
        print(f"cached in {directory}")
        return 0
    _check_bench_arguments(args, bench_parser)
    # Imported here, not at the top: only "fastglorot bench" needs the harness.
    from ..benchmarks import harness

    if isinstance(sys.stdout, TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # progress as it comes; a closed pipe stops the run at once
    dists = ("uniform", "normal") if args.dist == "both" else (args.dist,)
    try:
        return harness.run_bench(args.size, args.dtype, dists, args.threads, args.repeats, args.json, args.plot,
                                 args.quick, args.stream_format)
    except KeyboardInterrupt:
        print("fastglorot bench: interrupted", file=sys.stderr)
        return 130
