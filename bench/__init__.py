"""The benchmarks, a package only for pytest's sake.

``setup.cfg`` collects ``bench`` beside ``tests``.  Without this file both
directories' ``conftest.py`` would be imported as the top-level module
``conftest``, the later one replacing the earlier in ``sys.modules``, and the
test modules that ``from conftest import run_python`` would get this
directory's.  As a package, its files import as ``bench.conftest`` and
``bench.test_layers``.  The ``bench_*.py`` scripts run as programs
(``python bench/NAME.py``) and do not use it.
"""
