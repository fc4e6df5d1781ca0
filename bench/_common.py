"""Helpers shared by the ``bench/`` scripts: checkout import, tables, targets, JSON.

Importing this module puts the repository root first on ``sys.path`` so that
``python bench/NAME.py`` measures the checkout it lives in, installed or not.

A script reports; it does not judge.  Its exit status is 1 on an error (a
child process failed, a result is wrong), never because the machine is
slower than a target, unless the user asked with ``--check``
(:data:`CHECK_HELP`, :func:`report_targets`): the targets are the project's
aims, and many healthy machines miss some of them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple

if TYPE_CHECKING:
    import numpy as np

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


CHECK_HELP = ("exit with status 1 if a target is missed (without --check, targets are reported and the exit "
              "status is 0)")
"""Help of the ``--check`` option of every script with targets (each script declares ``"--check"`` itself)."""


def report_targets(targets: Sequence[Tuple[bool, str]], check: bool) -> int:
    """Print one line per ``(met, description)`` target and a summary; return the exit status.

    Without ``check`` the lines say "met" or "missed" and the status is 0;
    with it they say PASS or FAIL and a missed target makes the status 1.
    """
    missed = sum(not met for met, _ in targets)
    print()
    for met, text in targets:
        label = ("PASS" if met else "FAIL") if check else ("met" if met else "missed")
        print(f"{label:6s} {text}")
    summary = f"targets met: {len(targets) - missed} of {len(targets)}"
    if check:
        print(summary + ("; --check: exit status 1" if missed else ""))
    else:
        print(summary + " (reported only: --check makes a missed target an exit status of 1)")
    return 1 if check and missed else 0


def busy_report(threads: int, **signs: Any) -> Dict[str, Any]:
    """``contention.busy_report`` of a script's measurement, its warning printed when the machine was busy."""
    from fastglorot.benchmarks import contention

    report = contention.busy_report(threads, **signs)
    warning = contention.busy_text(report)
    if warning:
        print("\n" + warning)
    return report


def at_threads(threads: int, action: Callable[[], object]) -> Callable[[], None]:
    """``action`` run with ``numba.set_num_threads(threads)``, the old count restored after."""
    from fastglorot.benchmarks.measure import at_threads as run_at

    return run_at(threads, action)


def gbps(nbytes: int, seconds: float) -> float:
    """Decimal GB/s."""
    return nbytes / seconds / 1e9


def clock_ghz() -> Optional[float]:
    """The first CPU's current clock from ``/proc/cpuinfo`` (GHz), for cycles per element; None where unknown."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("cpu MHz"):
                    return float(line.split(":")[1]) / 1000
    except (OSError, ValueError):
        pass
    return None


def sample_words(samples: int, centers: Sequence[int]) -> np.ndarray:
    """``samples`` 32-bit words spread evenly over the whole range, plus every word within 2**16 of each of
    ``centers`` (inside [0, 2**32)), sorted, without repeats: the inputs of the accuracy checks."""
    import numpy as np

    spread = np.linspace(0, 2**32 - 1, samples, dtype=np.float64).astype(np.uint64)
    edges = [np.arange(max(c - (1 << 16), 0), min(c + (1 << 16), 1 << 32), dtype=np.uint64) for c in centers]
    return np.unique(np.concatenate([spread] + edges)).astype(np.uint32)


def time_warm(actions: Dict[str, Callable[[], object]], repeats: int) -> Dict[str, List[float]]:
    """Seconds per call of each action, after one warm call each (compiled, loaded, pages touched),
    interleaved round-robin (``fastglorot.benchmarks.measure.interleaved_times``)."""
    from fastglorot.benchmarks.measure import interleaved_times

    for action in actions.values():
        action()
    return interleaved_times(actions, repeats)


def print_per_element(title: str, times: Dict[str, List[float]], elements: int, ghz: Optional[float],
                      reference: str) -> Dict[str, float]:
    """Print each action's median as ms, ns and cycles per element (at ``ghz``) and its speed relative to
    ``reference``; return the medians."""
    import statistics

    medians = {name: statistics.median(samples) for name, samples in times.items()}
    rows = [[name, f"{m * 1e3:.1f}", f"{1e9 * m / elements:.3f}",
             "-" if ghz is None else f"{1e9 * m / elements * ghz:.2f}", f"{medians[reference] / m:.2f}x"]
            for name, m in medians.items()]
    print_table(title + ("" if ghz is None else f" (cycles at {ghz:.2f} GHz)"),
                ["fill", "ms", "ns/elem", "cycles/elem", f"speed vs {reference}"], rows)
    return medians


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
