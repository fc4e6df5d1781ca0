"""``fastglorot init``: write a checkpoint from a spec, another checkpoint, an example or a Hugging Face config.

The checks of what the options combine to, the writer's run under SIGTERM
and a file-size limit, and the report, in ``fastglorot init``'s terms (its
option names in the library's messages).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import Any, Iterator, Optional

from .._format.seeding import resolve_seed
from .errors import one_line, report_traceback

__all__ = ["run_init", "in_cli_terms", "CLI_TERMS"]


CLI_TERMS = (("pass force=True (--force)", "pass --force"), ("max_shard_size", "--max-shard-size"),
              ("force=True", "--force"))
"""The library's argument names in its messages, and the options that set them on the command line."""


def in_cli_terms(message: str) -> str:
    """``message`` with the Python argument names replaced by ``fastglorot init``'s options."""
    for python, option in CLI_TERMS:
        message = message.replace(python, option)
    return message


@contextlib.contextmanager
def scheduler(address: Optional[str]) -> Iterator[Any]:
    """A Dask client of ``--scheduler ADDRESS`` for the block (closed after), or None without one."""
    if address is None:
        yield None
        return
    from ..io._distributed import connect

    client = connect(address)
    try:
        yield client
    finally:
        client.close()


class Terminated(Exception):
    """SIGTERM, raised in the main thread so that the writer removes what it started."""


def run_init(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import signal
    import time

    from .. import io
    from .._api.stream_format import resolve_stream_format
    from ..io._spec import checkpoint_stream_format, printable

    if args.config is not None:
        if args.spec is not None or args.like is not None or args.example is not None:
            parser.error("--config is a source of its own: not with --spec, --like or --example")
    elif args.example is not None:
        if args.spec is not None or args.like is not None:
            parser.error("--example is a spec of its own: not with --spec or --like")
        spec = io.EXAMPLES[args.example]()
    elif args.spec is None and args.like is None:
        parser.error("give --spec SPEC.json, --like CHECKPOINT, --example NAME, --config CONFIG, or --spec with "
                     "--like")
    if args.out is None and not args.print_spec:
        parser.error("the following arguments are required: OUT")

    def terminate(signum: int, frame: object) -> None:
        raise Terminated()

    signal.signal(signal.SIGTERM, terminate)
    if hasattr(signal, "SIGXFSZ"):  # a file-size limit: fail the write (EFBIG) instead of killing the process
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    start = time.perf_counter()
    try:
        if args.config is not None:  # a Hugging Face config: the model's own init, module by module
            from ..io import _hf

            config_format = resolve_stream_format(args.stream_format)  # None: the current one (1 unless changed)
            if args.print_spec:  # a listing (names, shapes, dtypes, stream format), not a spec --spec takes
                print(json.dumps(_hf.config_spec(args.config, dtype=args.dtype, stream_format=config_format),
                                 indent=1))
                return 0
            seed = resolve_seed(args.seed)
            with scheduler(args.scheduler) as client:
                written = io.write_checkpoint(args.out, config=args.config, seed=seed, dtype=args.dtype,
                                              max_shard_size=args.max_shard_size, force=args.force,
                                              progress=False if args.quiet else (args.progress or None),
                                              client=client, stream_format=config_format)
            if not args.quiet:
                seconds = time.perf_counter() - start
                nbytes = sum(p.stat().st_size for p in written if p.suffix == ".safetensors")
                print(f"wrote {nbytes / 2**30:.2f} GiB in {seconds:.1f} s ({nbytes / seconds / 1e9:.2f} GB/s), "
                      f"seed {seed}, stream format {config_format}: {', '.join(str(p) for p in written)}")
            return 0
        if args.example is not None:
            specs = io.load_spec(spec, dtype=args.dtype)
        elif args.like is not None:
            overrides = io.read_spec(args.spec) if args.spec is not None else None
            specs = io.spec_like(args.like, overrides, matrix_init=args.like_init, dtype=args.dtype)
        else:
            specs = io.load_spec(args.spec, dtype=args.dtype)
        # --stream-format, else the spec's entries' (they must agree), else 1: the one the file records
        fmt = checkpoint_stream_format(specs, args.stream_format)
        if args.print_spec:  # the resolved spec, whatever its source; nothing is written
            print(json.dumps(printable(specs, fmt), indent=1))
            return 0
        seed = resolve_seed(args.seed)  # drawn here when not given, so that the report can name it
        with scheduler(args.scheduler) as client:
            written = io.write_checkpoint(args.out, specs, seed=seed, max_shard_size=args.max_shard_size,
                                          force=args.force, progress=False if args.quiet else (args.progress or None),
                                          client=client, stream_format=fmt)
    except KeyboardInterrupt:
        print("fastglorot init: interrupted; no output was written", file=sys.stderr)
        return 130
    except Terminated:
        print("fastglorot init: terminated (SIGTERM); no output was written", file=sys.stderr)
        return 143
    except BrokenPipeError:  # stdout's reader went away (--print-spec | head): main exits quietly
        raise
    except (OSError, ValueError, ImportError) as error:  # the user's input or system; ImportError: a missing package
        report_traceback()
        print(f"fastglorot init: error: {in_cli_terms(one_line(error))}", file=sys.stderr)
        return 1
    if not args.quiet:
        seconds = time.perf_counter() - start
        nbytes = sum(s.nbytes for s in specs)
        print(f"wrote {len(specs)} tensors, {nbytes / 2**30:.2f} GiB, in {seconds:.1f} s "
              f"({nbytes / seconds / 1e9:.2f} GB/s), seed {seed}, stream format {fmt}: "
              f"{', '.join(str(p) for p in written)}")
    return 0
