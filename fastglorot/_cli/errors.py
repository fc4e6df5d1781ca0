"""How the command line reports what went wrong: one line in the user's terms, never a traceback.

An error a user can cause is one ``fastglorot COMMAND: error: ...`` line;
warnings are ``fastglorot COMMAND: warning: ...`` lines; a closed stdout pipe
ends the command quietly; ``FASTGLOROT_TRACEBACK=1`` adds the traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from typing import Iterator, Optional, Sequence, TextIO

__all__ = ["TRACEBACK_VARIABLE", "quiet_broken_pipe", "report_traceback", "one_line", "command_name",
           "warnings_as_lines"]


def quiet_broken_pipe() -> int:
    """After the reader of stdout went away (``fastglorot bench | head -1``): exit as Unix tools do, quietly.

    Python would print a traceback, and another one when it flushes stdout at
    exit; stdout is pointed at /dev/null for that final flush.  The status is
    128 + SIGPIPE, what a tool killed by the signal returns.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 128 + 13


TRACEBACK_VARIABLE = "FASTGLOROT_TRACEBACK"
"""Set to 1 to get the traceback of an error the command line reports in one line."""


def report_traceback() -> bool:
    """Print the traceback of the exception being handled if ``FASTGLOROT_TRACEBACK=1``; whether it did."""
    if os.environ.get(TRACEBACK_VARIABLE, "") in ("", "0"):
        return False
    import traceback

    traceback.print_exc()
    return True


def one_line(error: BaseException) -> str:
    """``error``'s message on one line (some libraries put the reason on a second line), or its type's name."""
    return " ".join(str(error).split()) or type(error).__name__


def command_name(argv: Optional[Sequence[str]]) -> str:
    """``"fastglorot init"`` (the subcommand ``argv`` runs) for messages, or ``"fastglorot"``."""
    words = sys.argv[1:] if argv is None else argv
    name = next((word for word in words if not word.startswith("-")), None)
    return f"fastglorot {name}" if name in ("bench", "init", "warmup") else "fastglorot"


@contextlib.contextmanager
def warnings_as_lines(command: str) -> Iterator[None]:
    """Show each warning as one ``fastglorot init: warning: ...`` line on stderr.

    Python's default display adds the library's file, line and source line,
    which mean nothing to a user of the command.  Only the display changes:
    the warning filters (``-W``, ``PYTHONWARNINGS``) still decide what is
    shown, ignored or raised.
    """

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: Optional[TextIO] = None, line: Optional[str] = None) -> None:
        text = " ".join(str(message).split()) or category.__name__
        print(f"{command}: warning: {text}", file=sys.stderr if file is None else file)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield
