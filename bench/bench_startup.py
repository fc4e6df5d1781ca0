"""Whole-process startup costs: imports, a first small fill, and model builds, each in a fresh ``python``.

Every figure is the wall time of one fresh interpreter, ``python -c CODE``
(this process's environment, ``FASTGLOROT_QUIET=1``, the checkout first on
``PYTHONPATH``), from launch to exit: interpreter start-up, imports, the
work, and tear-down.  Each comparison pairs a candidate with a baseline and
runs them back to back for ``--repeats`` rounds (default 5), alternating
which of the two goes first; reported are the median wall time of each and
the median of the per-round ratios candidate / baseline.

Groups (``--only``) and cases:

* **import**: ``import fastglorot`` vs ``import numpy`` (target: ratio
  <= 1.5); ``import fastglorot.torch`` vs ``import torch`` (target: ratio
  <= 1.1).
* **first-fill**: ``import fastglorot; fastglorot.glorot_uniform((256, 256),
  seed=0)`` vs ``import numpy``, once with an empty numba cache (a new empty
  ``NUMBA_CACHE_DIR`` for every run, deleted after; target: candidate median
  <= 0.5 s) and once with the warm cache (no target).
* **fast_init**: building a model inside ``fastglorot.torch.fast_init()``
  (``import torch, fastglorot.torch as ft``) vs plain torch (``import torch``
  only; no fastglorot import), both after ``torch.manual_seed(0)``, float32,
  torch's default constructors.  Models (``--sizes``):
  ``small``: ``Sequential`` of 4 x ``Linear(512, 512)`` plus a 2-layer
  ``TransformerEncoder(TransformerEncoderLayer(256, 4, batch_first=True))``;
  ``256MiB``, ``1GiB``, ``4GiB``: 4, 16, 64 x ``Linear(4096, 4096)``.
  Targets: small <= 1.15x plain torch with the warm cache and with an empty
  one (both run), 1GiB <= 1.05x, 4GiB at least 1.3x faster (ratio
  <= 1/1.3).
* **init_module**: the model built on ``torch.device("meta")``, then
  ``model.to_empty(device="cpu")`` and ``ft.init_module(model, seed=0)``,
  vs the plain torch build (no targets).
* **materialize**: built on meta, then ``ft.materialize(model, seed=0)``,
  vs the plain torch build (no targets).

Every child of the model groups ends by checking that all parameters are
float32 CPU tensors (the same check on both sides).  Before anything is
measured, one shared numba cache directory is warmed, unmeasured: ``python
-m fastglorot warmup`` there, then each selected candidate once (models at
the ``small`` size), which also brings torch's and numpy's files into the
page cache.  Every row uses that warm cache except the ones marked "empty
cache".  Each round's times go to stderr as they complete.  A child gets 600
s; a failing or overrunning child stops the script with its stderr and exit
status 1.  Targets are reported (the "met" column); a missed one makes the
exit status 1 only with ``--check``.

Run:  python bench/bench_startup.py [--repeats 5] [--sizes small,256MiB,1GiB,4GiB]
      [--only import,first-fill,fast_init,init_module,materialize] [--check] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import _common

from fastglorot.benchmarks.measure import median

CHILD_TIMEOUT_S = 600
SIZES = ("small", "256MiB", "1GiB", "4GiB")
GROUPS = ("import", "first-fill", "fast_init", "init_module", "materialize")
MODEL_GROUPS = ("fast_init", "init_module", "materialize")

# ``build()`` per size: one module (the small model's two parts in a ModuleList).
BUILDERS = {
    "small": "def build():\n"
             "    return torch.nn.ModuleList([\n"
             "        torch.nn.Sequential(*[torch.nn.Linear(512, 512) for _ in range(4)]),\n"
             "        torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(256, 4, batch_first=True),\n"
             "                                    num_layers=2)])\n",
    **{size: f"def build():\n"
             f"    return torch.nn.Sequential(*[torch.nn.Linear(4096, 4096) for _ in range({layers})])\n"
       for size, layers in (("256MiB", 4), ("1GiB", 16), ("4GiB", 64))},
}

# The same check at the end of both sides of every model comparison.
CHECK = ("assert all(p.dtype == torch.float32 and p.device.type == 'cpu' for p in model.parameters()), "
         "'parameters not float32 on the CPU'\n")

FIRST_FILL = "import fastglorot; fastglorot.glorot_uniform((256, 256), seed=0)"


def model_code(group: str, size: str) -> str:
    """The child program of ``group`` (``torch`` for the plain-torch baseline) at ``size``."""
    imports = "import torch\n" if group == "torch" else "import torch, fastglorot.torch as ft\n"
    body = {
        "torch": "model = build()\n",
        "fast_init": "with ft.fast_init():\n    model = build()\n",
        "init_module": "with torch.device('meta'):\n    model = build()\n"
                       "model.to_empty(device='cpu')\nft.init_module(model, seed=0)\n",
        "materialize": "with torch.device('meta'):\n    model = build()\nft.materialize(model, seed=0)\n",
    }[group]
    return imports + BUILDERS[size] + "torch.manual_seed(0)\n" + body + CHECK


@dataclass
class Case:
    group: str
    case: str
    candidate: str  # code
    baseline: str  # code
    baseline_name: str
    empty_cache: bool = False  # a new empty NUMBA_CACHE_DIR for every run (both sides)
    max_ratio: Optional[float] = None  # target on the median of the per-round ratios
    max_seconds: Optional[float] = None  # target on the candidate's median wall time

    def target(self) -> str:
        if self.max_ratio is not None:
            text = f"ratio <= {self.max_ratio:.3g}"
            return text + (f" ({1 / self.max_ratio:.3g}x faster)" if self.max_ratio < 1 else "")
        if self.max_seconds is not None:
            return f"candidate <= {self.max_seconds:g} s"
        return "-"

    def met(self, candidate_s: float, ratio: float) -> Optional[bool]:
        if self.max_ratio is not None:
            return ratio <= self.max_ratio
        if self.max_seconds is not None:
            return candidate_s <= self.max_seconds
        return None


def cases(groups: Sequence[str], sizes: Sequence[str]) -> List[Case]:
    result: List[Case] = []
    if "import" in groups:
        result += [Case("import", "import fastglorot", "import fastglorot", "import numpy", "import numpy",
                        max_ratio=1.5),
                   Case("import", "import fastglorot.torch", "import fastglorot.torch", "import torch",
                        "import torch", max_ratio=1.1)]
    if "first-fill" in groups:
        result += [Case("first-fill", "glorot_uniform((256, 256)), empty cache", FIRST_FILL, "import numpy",
                        "import numpy", empty_cache=True, max_seconds=0.5),
                   Case("first-fill", "glorot_uniform((256, 256)), warm cache", FIRST_FILL, "import numpy",
                        "import numpy")]
    fast_init_ratio = {"small": 1.15, "1GiB": 1.05, "4GiB": 1 / 1.3}
    for group in MODEL_GROUPS:
        if group not in groups:
            continue
        for size in sizes:
            limit = fast_init_ratio.get(size) if group == "fast_init" else None
            candidate, baseline = model_code(group, size), model_code("torch", size)
            if group == "fast_init" and size == "small":
                result += [Case(group, "small, warm cache", candidate, baseline, "plain torch", max_ratio=limit),
                           Case(group, "small, empty cache", candidate, baseline, "plain torch",
                                empty_cache=True, max_ratio=limit)]
            else:
                result.append(Case(group, size, candidate, baseline, "plain torch", max_ratio=limit))
    return result


class ChildFailed(RuntimeError):
    pass


def run_child(args: Sequence[str], cache_dir: str) -> float:
    """Wall seconds of ``python ARGS`` with ``NUMBA_CACHE_DIR=cache_dir``; ChildFailed if it fails."""
    env = dict(os.environ, FASTGLOROT_QUIET="1", NUMBA_CACHE_DIR=cache_dir,
               PYTHONPATH=os.pathsep.join(filter(None, [str(_common.ROOT), os.environ.get("PYTHONPATH")])))
    command = [sys.executable, *args]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired as expired:
        stderr = expired.stderr.decode(errors="replace") if isinstance(expired.stderr, bytes) else expired.stderr
        raise ChildFailed(f"child ran past {CHILD_TIMEOUT_S} s and was killed: {command!r}\n"
                          f"--- its stderr ---\n{stderr or ''}") from None
    seconds = time.perf_counter() - start
    if done.returncode:
        raise ChildFailed(f"child exited with status {done.returncode}: {command!r}\n"
                          f"--- its stderr ---\n{done.stderr}")
    return seconds


def timed_code(code: str, empty_cache: bool, warm_dir: str) -> float:
    """Wall seconds of ``python -c code``: in the warm cache, or in a new empty one deleted after."""
    if not empty_cache:
        return run_child(["-c", code], warm_dir)
    fresh = tempfile.mkdtemp(prefix="fastglorot-startup-empty-")
    try:
        return run_child(["-c", code], fresh)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)


def measure(case: Case, repeats: int, warm_dir: str) -> Dict[str, Any]:
    """Paired rounds, the first side alternating; medians and per-round times."""
    label = f"{case.group} | {case.case}"
    candidate: List[float] = []
    baseline: List[float] = []
    for round_ in range(repeats):
        order = ("candidate", "baseline") if round_ % 2 == 0 else ("baseline", "candidate")
        for side in order:
            code = case.candidate if side == "candidate" else case.baseline
            try:
                seconds = timed_code(code, case.empty_cache, warm_dir)
            except ChildFailed as failure:
                raise ChildFailed(f"{label}, round {round_ + 1}, {side}: {failure}") from None
            (candidate if side == "candidate" else baseline).append(seconds)
        print(f"  {label}: round {round_ + 1}/{repeats} ({order[0]} first): candidate {candidate[-1]:.3f} s, "
              f"baseline {baseline[-1]:.3f} s, ratio {candidate[-1] / baseline[-1]:.3f}", file=sys.stderr, flush=True)
    ratios = [c / b for c, b in zip(candidate, baseline)]
    candidate_s, ratio = median(candidate), median(ratios)
    return {"group": case.group, "case": case.case, "baseline": case.baseline_name,
            "empty_cache": case.empty_cache, "candidate_median_s": candidate_s,
            "baseline_median_s": median(baseline), "ratio_median": ratio, "target": case.target(),
            "met": case.met(candidate_s, ratio), "candidate_s": candidate, "baseline_s": baseline,
            "ratios": ratios, "candidate_code": case.candidate, "baseline_code": case.baseline}


def warm_cache(warm_dir: str, selected: Sequence[Case]) -> None:
    """Unmeasured: ``python -m fastglorot warmup`` in ``warm_dir``, then every distinct child once.

    Model children run at the ``small`` size: the kernels are the same, and
    the runs also bring torch's and numpy's files into the page cache.
    """
    start = time.perf_counter()
    run_child(["-m", "fastglorot", "warmup"], warm_dir)
    print(f"warming: python -m fastglorot warmup {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    primers: List[str] = []
    for case in selected:
        if case.group in MODEL_GROUPS:
            pair = (model_code(case.group, "small"), model_code("torch", "small"))
        else:
            pair = (case.candidate, case.baseline)
        primers += [code for code in pair if code not in primers]
    start = time.perf_counter()
    for code in primers:
        run_child(["-c", code], warm_dir)
    print(f"warming: {len(primers)} primer processes {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)


def comma_list(choices: Sequence[str]) -> Any:
    def parse(text: str) -> List[str]:
        items = [item.strip() for item in text.split(",") if item.strip()]
        unknown = [item for item in items if item not in choices]
        if unknown or not items:
            raise argparse.ArgumentTypeError(f"expected a comma list of {', '.join(choices)}; got {text!r}")
        return [choice for choice in choices if choice in items]  # canonical order, no duplicates
    return parse


def main() -> int:
    parser = _common.parser(__doc__)
    parser.add_argument("--repeats", type=int, default=5, help="paired rounds per comparison (default 5)")
    parser.add_argument("--sizes", type=comma_list(SIZES), default=list(SIZES),
                        help=f"model sizes, comma list of {','.join(SIZES)} (default all)")
    parser.add_argument("--only", type=comma_list(GROUPS), default=list(GROUPS),
                        help=f"groups, comma list of {','.join(GROUPS)} (default all)")
    parser.add_argument("--check", action="store_true", help=_common.CHECK_HELP)
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    env = _common.environment()
    selected = cases(args.only, args.sizes)
    results: List[Dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="fastglorot-startup-warm-") as warm_dir:
        try:
            warm_cache(warm_dir, selected)
            for case in selected:
                results.append(measure(case, args.repeats, warm_dir))
        except ChildFailed as failure:
            print(f"\nbench_startup: a child process failed, stopping.\n{failure}", file=sys.stderr)
            return 1

    print()
    _common.print_environment(env)
    rows = [[r["group"], f"{r['case']} vs {r['baseline']}", f"{r['candidate_median_s']:.3f}",
             f"{r['baseline_median_s']:.3f}", f"{r['ratio_median']:.3f}", r["target"],
             "-" if r["met"] is None else ("yes" if r["met"] else "NO")] for r in results]
    _common.print_table(f"Fresh-process wall time, median of {args.repeats} paired rounds (first side alternating)",
                        ["group", "case", "candidate median s", "baseline median s",
                         "ratio (median of per-round ratios)", "target", "met"], rows)
    status = _common.report_targets(
        [(r["met"], f"{r['group']} | {r['case']}: ratio {r['ratio_median']:.3f}, candidate "
                    f"{r['candidate_median_s']:.3f} s (target {r['target']})")
         for r in results if r["met"] is not None], args.check)
    _common.write_json(args.json, {"options": {"repeats": args.repeats, "sizes": args.sizes, "only": args.only},
                                   "child_timeout_s": CHILD_TIMEOUT_S, "rows": results}, env)
    return status


if __name__ == "__main__":
    sys.exit(main())
