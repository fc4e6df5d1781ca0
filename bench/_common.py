"""Helpers shared by the ``bench/`` scripts: checkout import, tables, JSON.

Importing this module puts the repository root first on ``sys.path`` so that
``python bench/NAME.py`` measures the checkout it lives in, installed or not.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _transparent_hugepages() -> str:
    try:
        return Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text().strip()
    except OSError:
        return "unknown"


def environment() -> Dict[str, Any]:
    """Versions and machine facts recorded with every result."""
    import numba
    import numpy

    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "numba": numba.__version__,
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "numba_threads": numba.get_num_threads(),
        "transparent_hugepage": _transparent_hugepages(),
    }


def print_environment(env: Dict[str, Any]) -> None:
    print(
        f"# {env['cpu']}, {env['cpus']} CPUs, numba threads {env['numba_threads']}; "
        f"python {env['python']}, numpy {env['numpy']}, numba {env['numba']}; "
        f"THP {env['transparent_hugepage']}"
    )


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row):
        parts = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        return "  ".join(parts).rstrip()

    print(f"\n{title}")
    print(line(cells[0]))
    print("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        print(line(row))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def write_json(path: Optional[str], results: Dict[str, Any], env: Dict[str, Any]) -> None:
    """Write ``{"script", "environment", "results"}`` to ``path`` (if given)."""
    if not path:
        return
    payload = {"script": Path(sys.argv[0]).name, "environment": env, "results": results}
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwrote {target}")
