"""The benchmark harness behind ``fastglorot bench`` and the scripts under ``bench/``.

Not part of the library: ``import fastglorot`` never imports this package,
and the command line imports it only when ``fastglorot bench`` runs.

``harness``
    ``run_bench``: the side-by-side comparison, its report, JSON and plot.
``peers``
    The implementations compared (fastglorot, memset, NumPy, torch, ...).
``measure``
    Timing, machine facts, tables, fresh-process runs and the memset
    yardstick (``memset_``).
"""
