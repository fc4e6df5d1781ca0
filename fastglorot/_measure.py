"""Measurement helpers shared by the CLI and the scripts under ``bench/``."""

from __future__ import annotations

import statistics
import time
from typing import Callable, Dict, List, Mapping

import numpy as np

from . import _kernels
from ._launch import run_fill

__all__ = ["memset_", "interleaved_times", "median"]


def memset_(out: np.ndarray) -> np.ndarray:
    """Parallel constant fill of ``out`` on fastglorot's launcher.

    The bandwidth yardstick for fills: same threads, same chunking, the
    cheapest possible kernel.
    """
    run_fill(_kernels.fill_constant, out, 0, 1, (out.dtype.type(0.5),))
    return out


def interleaved_times(actions: Mapping[str, Callable[[], object]], repeats: int) -> Dict[str, List[float]]:
    """Seconds per call, running the actions round-robin ``repeats`` times.

    Interleaving spreads machine drift (other load, thermal, page cache)
    over every contender instead of penalizing whichever runs last.
    """
    times: Dict[str, List[float]] = {name: [] for name in actions}
    for _ in range(repeats):
        for name, action in actions.items():
            start = time.perf_counter()
            action()
            times[name].append(time.perf_counter() - start)
    return times


def median(values: List[float]) -> float:
    return float(statistics.median(values))
