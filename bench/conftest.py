"""pytest-benchmark setup for ``bench/``: checkout import and machine facts.

``pytest bench/ --benchmark-only`` runs the suites here (``test_*.py``); the
``bench_*.py`` scripts are plain programs and are not collected. The regular
run (``python -m pytest``) never reaches this directory: ``testpaths = tests``.
"""

from __future__ import annotations

import _common  # first: puts the repository root on sys.path


def pytest_benchmark_update_machine_info(config, machine_info):
    """Record numba's thread count, versions and THP with every saved result."""
    machine_info["fastglorot"] = _common.environment()
