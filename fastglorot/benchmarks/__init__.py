"""The benchmark harness behind ``fastglorot bench`` and the scripts under ``bench/``.

Not part of the library: ``import fastglorot`` never imports this package.
This ``__init__`` holds only the layer geometry that the command line's help
text shares with the peers (:data:`LAYER_COLUMNS`) and imports nothing; the
command line imports the modules below only when ``fastglorot bench`` runs.

``harness``
    ``run_bench``: the side-by-side comparison, its report, JSON and plot.
``peers``
    The implementations compared (fastglorot, memset, NumPy, torch, ...).
``measure``
    Timing, machine facts, tables, fresh-process runs and the memset
    yardstick (``memset_``).
"""

LAYER_COLUMNS = 4096
"""Elements in one row of a ``fastglorot bench`` layer (``peers.layer_shape``); ``fastglorot bench --help`` names it."""
