"""Helpers shared by the ``bench/`` scripts: checkout import, tables, JSON.

Importing this module puts the repository root first on ``sys.path`` so that
``python bench/NAME.py`` measures the checkout it lives in, installed or not.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

GiB = 1 << 30
MiB = 1 << 20


def parser(doc: Optional[str]) -> argparse.ArgumentParser:
    """An argument parser showing the script's docstring, with ``--json PATH``."""
    result = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    result.add_argument("--json", metavar="PATH", help="also write the results to PATH as JSON")
    return result


def at_threads(threads: int, action: Callable[[], object]) -> Callable[[], None]:
    """``action`` run with ``numba.set_num_threads(threads)``, the old count restored after."""
    import numba

    def run() -> None:
        saved = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            action()
        finally:
            numba.set_num_threads(saved)

    return run


def gbps(nbytes: int, seconds: float) -> float:
    """Decimal GB/s."""
    return nbytes / seconds / 1e9


def environment() -> Dict[str, Any]:
    """Versions and machine facts recorded with every result."""
    from fastglorot.benchmarks.measure import machine

    return machine()


def print_environment(env: Dict[str, Any]) -> None:
    from fastglorot.benchmarks.measure import machine_line

    print(machine_line(env))


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    from fastglorot.benchmarks.measure import format_table

    print(f"\n{title}")
    print(format_table(headers, rows))


def write_json(path: Optional[str], results: Dict[str, Any], env: Dict[str, Any]) -> None:
    """Write ``{"script", "environment", "results"}`` to ``path`` (if given)."""
    if not path:
        return
    payload = {"script": Path(sys.argv[0]).name, "environment": env, "results": results}
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwrote {target}")
