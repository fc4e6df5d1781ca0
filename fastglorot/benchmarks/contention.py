"""Was the machine busy while a benchmark measured?  Signs that other work shared the CPUs.

A benchmark that shares its CPUs with another job reports figures that may be
half what the machine can do, and nothing in the figures themselves says so.
Three signs, each cheap to collect during the measurement:

``other_cpus``
    CPU time used by everything else (other processes, and the hypervisor's
    *steal* time on a virtual machine) on the CPUs this process may run on,
    per second of the measurement, from ``/proc/stat`` (Linux) minus this
    process's own CPU time.  The most direct sign: it sees a job that slows
    every repeat alike, which the spread cannot.
``memset_scaling``
    The memset at all the benchmark's threads over the memset at one thread,
    interleaved with the other contenders.  Most idle machines give ~1.3x or
    more from two threads (memory bandwidth grows with cores); a job on the
    other CPUs gives ~1.0x (issue #28: 1-thread and 2-thread memset equal
    while a second job ran).  But on some machines one core alone reaches
    the memory bandwidth (an idle AMD EPYC guest: 1.06x), so a low scaling
    counts as a reason only where ``other_cpus`` cannot be measured or
    agrees; otherwise it is a ``note``.  Judged only when the memset takes
    long enough for thread start-up not to matter (:data:`MIN_SECONDS`).
``spread``
    How much repeats of the same fill differ: ``(slowest kept - fastest) /
    fastest`` per contender, the slowest tenth of the repeats (at least one)
    dropped so that a hiccup does not count (of 5 repeats, the second
    slowest is kept), the median over the contenders.  Another job that
    comes and goes shows up here.

:func:`busy_report` turns the signs into a verdict with reasons, for the
report and its JSON; :func:`busy_text` words it for the report.  The
thresholds are deliberately loose: a flag means the figures are suspect, not
that a quiet machine could never reach them.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Set

__all__ = ["CpuSnapshot", "cpu_snapshot", "other_cpu_use", "spread", "busy_report", "busy_text",
           "MIN_MEMSET_SCALING", "MAX_SPREAD", "MAX_OTHER_SHARE", "MIN_OTHER_CPUS", "MIN_SECONDS"]

MIN_MEMSET_SCALING = 1.2
"""All-thread memset over one-thread memset below this (more threads than one): busy, unless ``other_cpus``
says not."""

MAX_SPREAD = 0.25
"""Median contender's spread of repeats above this: busy."""

MAX_OTHER_SHARE = 0.1
"""Other work's CPU use beyond the CPUs the benchmark leaves idle, as a share of its threads, above this: busy."""

MIN_OTHER_CPUS = 0.25
"""...and at least this many CPUs (a floor for one- and two-thread runs: daemons, the terminal)."""

MIN_SECONDS = 0.01
"""Timings shorter than this (median) are not judged for scaling or spread: thread hand-off and timer noise."""

MIN_WALL_SECONDS = 0.2
"""CPU accounting over a shorter measurement is not judged (``/proc/stat`` counts in 10 ms ticks)."""


class CpuSnapshot(NamedTuple):
    """CPU counters at one instant (see :func:`cpu_snapshot`)."""

    wall: float  # time.perf_counter()
    own: float  # this process's CPU seconds, all threads
    busy: float  # CPU seconds the CPUs in ``cpus`` spent on anything but idling and steal
    steal: float  # CPU seconds stolen from them by the hypervisor
    cpus: int  # how many CPUs this process may run on


def _allowed_cpus() -> Optional[Set[int]]:
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return None


def cpu_snapshot(stat_path: str = "/proc/stat") -> Optional[CpuSnapshot]:
    """The counters now, or None where ``/proc/stat`` is unavailable (not Linux)."""
    allowed = _allowed_cpus()
    try:
        with open(stat_path) as stat:
            lines = [line.split() for line in stat if line.startswith("cpu") and line[3:4].isdigit()]
        tick = float(os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, AttributeError):
        return None
    busy = steal = 0.0
    cpus = 0
    for fields in lines:
        if allowed is not None and int(fields[0][3:]) not in allowed:
            continue
        # user nice system idle iowait irq softirq steal (guest time is already inside user and nice)
        values = [float(v) for v in fields[1:9]] + [0.0] * max(0, 9 - len(fields))
        busy += values[0] + values[1] + values[2] + values[5] + values[6]
        steal += values[7]
        cpus += 1
    if not cpus:
        return None
    return CpuSnapshot(time.perf_counter(), time.process_time(), busy / tick, steal / tick, cpus)


def other_cpu_use(before: Optional[CpuSnapshot], after: Optional[CpuSnapshot]) -> Optional[Dict[str, float]]:
    """CPUs used on average by other work between two snapshots, or None if not measurable.

    Returns ``{"other_cpus", "steal_cpus", "cpus", "wall_s"}``: ``other_cpus``
    counts other processes and steal, ``steal_cpus`` steal alone, ``cpus`` the
    CPUs this process may use.
    """
    if before is None or after is None:
        return None
    wall = after.wall - before.wall
    if wall < MIN_WALL_SECONDS:
        return None
    others = max(0.0, (after.busy - before.busy) - (after.own - before.own))
    steal = max(0.0, after.steal - before.steal)
    return {"other_cpus": (others + steal) / wall, "steal_cpus": steal / wall, "cpus": after.cpus, "wall_s": wall}


def spread(samples: Sequence[float]) -> Optional[float]:
    """``(slowest kept - fastest) / fastest`` of a contender's repeats, the slowest tenth (at least one) dropped.

    Two repeats: ``(max - min) / min``.  None for fewer than two.
    """
    if len(samples) < 2:
        return None
    ordered = sorted(samples)
    dropped = max(1, len(ordered) // 10) if len(ordered) >= 3 else 0
    top = ordered[len(ordered) - 1 - dropped]
    return (top - ordered[0]) / ordered[0] if ordered[0] > 0 else None


def busy_report(threads: int, *, memset_all: Optional[Sequence[float]] = None,
                memset_one: Optional[Sequence[float]] = None,
                samples: Optional[Mapping[Any, Sequence[float]]] = None,
                cpu: Optional[Mapping[str, float]] = None) -> Dict[str, Any]:
    """The verdict on one measurement, for its report and JSON.

    Parameters
    ----------
    threads : int
        Threads the benchmark ran on.
    memset_all, memset_one : sequence of float, optional
        Seconds of the memset's repeats at ``threads`` and at one thread.
    samples : mapping of name to sequence of float, optional
        Seconds of every contender's repeats (the spread).
    cpu : mapping, optional
        :func:`other_cpu_use` over the measurement.

    Returns
    -------
    dict
        ``busy`` (bool), ``reasons`` (one sentence per sign that fired),
        ``notes`` (a low memset scaling that the CPU accounting contradicts),
        the signs (``memset_scaling``, ``spread``, ``other_cpus``,
        ``steal_cpus``, ``cpus``; None where not measured or not judged) and
        the ``thresholds`` used.
    """
    reasons: List[str] = []
    notes: List[str] = []
    other = steal = None
    cpus = None
    cpu_busy = False
    if cpu is not None:
        other, steal, cpus = cpu["other_cpus"], cpu["steal_cpus"], int(cpu["cpus"])
        idle = max(0, cpus - threads)
        allowance = idle + max(MIN_OTHER_CPUS, MAX_OTHER_SHARE * threads)
        if other > allowance:
            cpu_busy = True
            reasons.append(f"other work used {other:.2f} of the {cpus} CPUs this process may run on, on average, "
                           f"while it measured on {threads} threads" + (f" ({steal:.2f} of them stolen by the "
                                                                         "hypervisor)" if steal >= 0.05 else ""))
    scaling = None
    if threads > 1 and memset_all and memset_one:
        fast, slow = statistics.median(memset_all), statistics.median(memset_one)
        if fast >= MIN_SECONDS and fast > 0:
            scaling = slow / fast
            if scaling < MIN_MEMSET_SCALING:
                text = f"memset at {threads} threads was only {scaling:.2f}x as fast as at 1 thread"
                if cpu is None:  # no CPU accounting here: the scaling is the best sign there is
                    reasons.append(text + f" (idle machines mostly give >= {MIN_MEMSET_SCALING}x): its threads "
                                          "probably did not get CPUs of their own")
                elif cpu_busy:
                    reasons.append(text + ": its threads did not get CPUs of their own")
                else:  # seen on an idle AMD EPYC guest: one core there fills memory as fast as two
                    notes.append(text + f" while other work used {other:.2f} CPUs: one core reaches this "
                                        "machine's memory bandwidth, so thread scaling says nothing about other "
                                        "work here")
    spread_median = None
    if samples:
        spreads = [s for times in samples.values() if len(times) >= 2 and statistics.median(times) >= MIN_SECONDS
                   for s in [spread(times)] if s is not None]
        if spreads:
            spread_median = float(statistics.median(spreads))
            if spread_median > MAX_SPREAD:
                reasons.append(f"repeats of the same fill differed by {spread_median:.0%} (median over "
                               f"{len(spreads)} contenders; > {MAX_SPREAD:.0%} flags a busy machine)")
    return {"busy": bool(reasons), "reasons": reasons, "notes": notes, "memset_scaling": scaling,
            "spread": spread_median, "other_cpus": other, "steal_cpus": steal, "cpus": cpus,
            "thresholds": {"min_memset_scaling": MIN_MEMSET_SCALING, "max_spread": MAX_SPREAD,
                           "max_other_share": MAX_OTHER_SHARE, "min_other_cpus": MIN_OTHER_CPUS,
                           "min_seconds": MIN_SECONDS}}


def busy_text(report: Mapping[str, Any]) -> Optional[str]:
    """The report's warning for a busy verdict (None when not busy)."""
    if not report["busy"]:
        return None
    lines = ["WARNING: the machine was busy while this measured; the figures above are likely too low:"]
    lines += [f"  - {reason}" for reason in report["reasons"]]
    lines.append("Rerun when nothing else runs (see top), or on fewer threads than there are idle CPUs.")
    return "\n".join(lines)
