"""Model construction with torch's own random init vs inside ``fastglorot.torch.fast_init()``.

Builds each model on the CPU in float32, timing the constructor call (wall
clock), in four variants interleaved round-robin (torch, fast, skipped, zero,
... for ``--repeats`` rounds), medians reported:

* **torch**: plain construction, torch's own ``uniform_``/``normal_``;
* **fast**: the same inside ``fastglorot.torch.fast_init()``;
* **fills skipped**: the same inside a ``TorchFunctionMode`` (``SkipFills``
  below) that turns ``Tensor.uniform_``, ``Tensor.normal_`` and the
  ``torch.nn.init`` functions that dispatch to modes (``uniform_``,
  ``normal_``, ``kaiming_uniform_``) into no-ops returning the tensor:
  allocation plus module set-up, no random fills.  The ratio skipped / fast
  is the share of the fast_init time spent outside the fills.  Caveat: a
  skipped fill leaves its ``torch.empty`` pages untouched, so they are never
  faulted in; the first-touch page faults (a few hundred ms per GiB) are
  counted in the fill time of the other two variants, not in "set-up".
  The mode also counts the fills it skips, which gives the fills per build
  and the bytes they write.
* **zero fills**: the same mode, but each skipped fill becomes torch's
  parallel ``zero_()``: allocation, first touch of every page and module
  set-up, the floor of any initialization that writes every parameter.
  zero fills / fast is the share of the fast_init time that is not
  fastglorot's sampling.  It also skips transformers' wrappers of those
  initializers, which its ``post_init`` swaps into ``torch.nn.init`` (see
  ``is_fill``).

Models (each built, measured, then deleted with ``gc.collect()`` before the
next build, so two never coexist):

A. ``torch.nn.Sequential`` of ``--linear-layers`` ``torch.nn.Linear(W, W)``
   (default 16 of 8192: 4 GiB of float32 parameters).  torch fills each
   weight with ``kaiming_uniform_`` and each bias with ``uniform_``.
B. A Llama-style causal LM from ``transformers.AutoModelForCausalLM.from_config``
   with the shape of TinyLlama-1.1B (hidden 2048, intermediate 5632, 22
   layers, 32 heads, 4 key/value heads, vocabulary 32000, untied embeddings:
   1.10e9 parameters, 4.1 GiB); ``--llama-layers`` and ``--llama-scale``
   (multiplies the widths) shrink it.  Skipped with a note if transformers
   is missing.  Here every weight is filled twice: torch's default init in
   each module's constructor, then Hugging Face's ``_init_weights``
   (``normal_(0, initializer_range)``) in ``post_init``.

Compilation is excluded: each variant builds small versions of both models
first.  Before its timed rounds each model is built once more, untimed,
inside fast_init with ``fastglorot.uniform_``/``normal_``/``trunc_normal_``
wrapped in counters: the fills (and share of the fill bytes) fast_init really
hands to fastglorot, the rest having run in torch; this build also settles
the process's memory (the first multi-GiB builds of a process are slower).
GB/s are parameter bytes (decimal GB) per second of construction.
Ends with a line per model for the bar, met or missed: construction inside
fast_init at least 3x faster than torch's own at this process's thread
counts (aim 5x), both printed.  The exit status is 0 either way unless
``--check`` is given (then PASS/FAIL lines, and 1 for a missed bar).

First use in a fresh process, separately (``run_python``, FASTGLOROT_QUIET=1):
per round, a new empty ``NUMBA_CACHE_DIR`` (a temporary directory), one
process with it cold and one more with the cache it left (warm), each
timing ``import torch``, ``import fastglorot.torch``, then a first and a
second build of a small model that needs the kernels a model build uses
(``Linear(1024, 1024)``: uniform float32; ``Embedding(1000, 64)``: normal
float32) inside fast_init; and, for reference, a process building the same
model with plain torch.  Medians over ``--first-use-repeats`` rounds.

``--stream-format 2`` runs every fastglorot fill in stream format 2 (README
"Stream format": ``fast_init(stream_format=2)``), which changes the float32
normals, so model B's ``_init_weights``, not model A's uniform fills.

Run:  python bench/bench_torch_init.py [--repeats 3] [--linear-layers 16] [--linear-width 8192]
      [--llama-layers 22] [--llama-scale 1.0] [--first-use-repeats 3] [--stream-format 1] [--quick] [--check]
      [--json PATH]
"""

from __future__ import annotations

import contextlib
import gc
import math
import sys
import tempfile
import time
from typing import Any, Callable, ContextManager, Dict, List, Optional, Tuple

import _common
import numba
import torch
from torch.overrides import TorchFunctionMode

import fastglorot.torch
from fastglorot.benchmarks.measure import median, run_python

MINIMUM_SPEEDUP, AIM_SPEEDUP = 3.0, 5.0

# Full-size and --quick defaults; an option given explicitly wins over both.
DEFAULTS = {"repeats": 3, "linear_layers": 16, "linear_width": 8192, "llama_layers": 22, "llama_scale": 1.0,
            "first_use_repeats": 3}
QUICK = {"repeats": 1, "linear_layers": 2, "linear_width": 2048, "llama_layers": 2, "llama_scale": 0.125,
         "first_use_repeats": 1}

VARIANTS = ("torch", "fast_init", "fills skipped", "zero fills")


# What SkipFills skips.  Tensor methods by identity; initializers by module and
# name, because transformers' post_init (guard_torch_init_functions) swaps
# torch.nn.init's functions for its own wrappers while it runs: torch.nn.init's
# dispatch then hands a mode transformers' ``normal_`` (its module global), and
# that wrapper's own torch fill runs inside the mode's handler, where torch has
# the mode switched off, so matching torch's function objects would let those
# fills through.
_TENSOR_FILLS = (torch.Tensor.uniform_, torch.Tensor.normal_)
_INIT_FILLS = frozenset(["uniform_", "normal_", "kaiming_uniform_"])
_INIT_MODULES = frozenset(["torch.nn.init", "transformers.initialization"])


def is_fill(func: Any) -> bool:
    if any(func is method for method in _TENSOR_FILLS):
        return True
    return getattr(func, "__name__", None) in _INIT_FILLS and getattr(func, "__module__", None) in _INIT_MODULES


class SkipFills(TorchFunctionMode):
    """Random fills become no-ops returning the tensor; everything else runs unchanged.

    ``torch.nn.init.uniform_``/``normal_``/``kaiming_uniform_`` (and
    transformers' wrappers of them) are caught whole: they dispatch to modes
    themselves, with the tensor as keyword ``tensor``.  The other
    initializers end in ``Tensor.uniform_``/``normal_``, caught too.  Counts
    the skipped fills and their bytes.
    """

    def __init__(self, touch: bool = False) -> None:
        super().__init__()
        self.touch = touch
        self.fills = 0
        self.nbytes = 0

    def __torch_function__(self, func: Any, types: Any, args: Tuple[Any, ...] = (),
                           kwargs: Optional[Dict[str, Any]] = None) -> Any:
        kwargs = kwargs or {}
        if not is_fill(func):
            return func(*args, **kwargs)
        tensor = args[0] if args else kwargs["tensor"]
        self.fills += 1
        self.nbytes += tensor.numel() * tensor.element_size()
        if self.touch:  # torch's parallel memset: the pages are faulted in, as by any fill
            with torch.no_grad():
                tensor.zero_()
        return tensor


def linear_stack(layers: int, width: int) -> Callable[[], torch.nn.Module]:
    return lambda: torch.nn.Sequential(*(torch.nn.Linear(width, width) for _ in range(layers)))


def llama_config(layers: int, scale: float) -> Any:
    """TinyLlama-1.1B's shape, widths times ``scale`` (multiples of 64, head_dim 64)."""
    from transformers import LlamaConfig

    hidden = max(64, round(2048 * scale / 64) * 64)
    heads = hidden // 64
    return LlamaConfig(hidden_size=hidden, intermediate_size=max(64, round(5632 * scale / 64) * 64),
                       num_hidden_layers=layers, num_attention_heads=heads,
                       num_key_value_heads=math.gcd(heads, 4), vocab_size=32000, tie_word_embeddings=False)


def llama(layers: int, scale: float) -> Callable[[], torch.nn.Module]:
    from transformers import AutoModelForCausalLM

    config = llama_config(layers, scale)
    # dtype pinned: from_config would otherwise follow config.dtype / torch's default.
    return lambda: AutoModelForCausalLM.from_config(config, dtype=torch.float32)


STREAM_FORMAT = 1  # set by --stream-format


def variant_context(variant: str) -> ContextManager[Any]:
    if variant == "fast_init":
        return fastglorot.torch.fast_init(stream_format=STREAM_FORMAT)
    if variant == "fills skipped":
        return SkipFills()
    if variant == "zero fills":
        return SkipFills(touch=True)
    return contextlib.nullcontext()


def parameter_facts(model: torch.nn.Module) -> Tuple[int, int]:
    """(parameters, bytes); insists on float32 on the CPU (parameters() skips tied duplicates)."""
    params = list(model.parameters())
    odd = {(p.dtype, p.device.type) for p in params} - {(torch.float32, "cpu")}
    if odd:
        raise RuntimeError(f"expected float32 CPU parameters, found {sorted(map(str, odd))}")
    return sum(p.numel() for p in params), sum(p.numel() * p.element_size() for p in params)


def build(factory: Callable[[], torch.nn.Module], variant: str) -> Dict[str, Any]:
    """Build once under ``variant``; seconds, parameter facts and skipped fills.  The model is freed."""
    context = variant_context(variant)
    gc.collect()  # a previous model's memory back to the allocator before the clock starts
    start = time.perf_counter()
    with context:
        model = factory()
    seconds = time.perf_counter() - start
    params, nbytes = parameter_facts(model)
    del model
    gc.collect()  # never two models at once: 4 GiB each, 24 GiB machines
    result = {"seconds": seconds, "params": params, "nbytes": nbytes}
    if isinstance(context, SkipFills):
        result.update(fills=context.fills, filled_bytes=context.nbytes)
    return result


def fastglorot_fills(factory: Callable[[], torch.nn.Module]) -> Tuple[int, int]:
    """(fills, bytes) fastglorot itself did in one fast_init build, untimed: how much fast_init reaches.

    Counts calls of ``fastglorot.uniform_``/``normal_``/``trunc_normal_``,
    which ``fastglorot.torch`` calls through the module attribute; any fill
    it leaves to torch is missing from the count.
    """
    counts = [0, 0]
    saved = {name: getattr(fastglorot, name) for name in ("uniform_", "normal_", "trunc_normal_")}

    def counting(fill: Callable[..., Any]) -> Callable[..., Any]:
        def call(out: Any, *args: Any, **kwargs: Any) -> Any:
            tensor = getattr(out, "tensor", out)  # fastglorot.torch passes a checked tensor (CheckedTensor)
            counts[0] += 1
            counts[1] += tensor.numel() * tensor.element_size()
            return fill(out, *args, **kwargs)
        return call

    try:
        for name, fill in saved.items():
            setattr(fastglorot, name, counting(fill))
        with fastglorot.torch.fast_init(stream_format=STREAM_FORMAT):
            model = factory()
        del model
    finally:
        for name, fill in saved.items():
            setattr(fastglorot, name, fill)
    gc.collect()
    return counts[0], counts[1]


def measure_model(factory: Callable[[], torch.nn.Module], repeats: int) -> Dict[str, Any]:
    # One untimed full-size build first.  It counts what fast_init hands to
    # fastglorot, and it settles the process's memory: the first multi-GiB
    # builds of a process ran 2-5x slower than later ones here (fresh pages
    # from the OS, huge-page compaction), which would land on round 1's torch.
    fast_fills, fast_bytes = fastglorot_fills(factory)
    runs: Dict[str, List[Dict[str, Any]]] = {variant: [] for variant in VARIANTS}
    for _ in range(repeats):
        for variant in VARIANTS:
            runs[variant].append(build(factory, variant))
            print(".", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    first = runs["torch"][0]
    seconds = {variant: median([r["seconds"] for r in rs]) for variant, rs in runs.items()}
    skipped = runs["fills skipped"][0]  # (the zero-fills variant counts the same fills)
    return {"params": first["params"], "nbytes": first["nbytes"], "fills": skipped["fills"],
            "filled_bytes": skipped["filled_bytes"], "fastglorot_fills": fast_fills,
            "fastglorot_filled_bytes": fast_bytes, "median_s": seconds,
            "samples_s": {variant: [r["seconds"] for r in rs] for variant, rs in runs.items()},
            "speedup": seconds["torch"] / seconds["fast_init"],
            "share_outside_fills": seconds["fills skipped"] / seconds["fast_init"],
            "share_allocation_and_touch": seconds["zero fills"] / seconds["fast_init"]}


FIRST_USE = """
import json, time
start = time.perf_counter()
import torch
torch_imported = time.perf_counter()
{import_fastglorot}
imported = time.perf_counter()

def build():
    with {context}:
        torch.nn.Linear(1024, 1024)
        torch.nn.Embedding(1000, 64)

build()
built = time.perf_counter()
build()
rebuilt = time.perf_counter()
result = {{"import torch": torch_imported - start, "import fastglorot.torch": imported - torch_imported,
          "first build": built - imported, "second build": rebuilt - built}}
{cache_stats}
print(json.dumps(result))
"""

def fast_child(stream_format: int) -> str:
    """The first-use child inside ``fast_init(stream_format=...)``, with the cache statistics of its two kernels."""
    normal = "fill_normal_float32" + ("_v2" if stream_format == 2 else "")
    return FIRST_USE.format(
        import_fastglorot="import contextlib, fastglorot.torch",
        context=f"fastglorot.torch.fast_init(stream_format={stream_format})",
        cache_stats="from fastglorot._engines import kernels as _kernels\n"
                    f"stats = [_kernels.fill_uniform_float32.stats, _kernels.{normal}.stats]\n"
                    "result['cache hits'] = sum(sum(s.cache_hits.values()) for s in stats)\n"
                    "result['cache misses'] = sum(sum(s.cache_misses.values()) for s in stats)")


TORCH_CHILD = FIRST_USE.format(import_fastglorot="import contextlib", context="contextlib.nullcontext()",
                               cache_stats="")


def first_use(repeats: int) -> Dict[str, List[Dict[str, Any]]]:
    """Per round: cold (fresh empty cache), warm (the cache it left), plain torch; each a fresh process."""
    runs: Dict[str, List[Dict[str, Any]]] = {"cold cache": [], "warm cache": [], "plain torch": []}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="fastglorot-numba-cache-") as cache_dir:
            env = {"NUMBA_CACHE_DIR": cache_dir, "FASTGLOROT_QUIET": "1"}
            fast = fast_child(STREAM_FORMAT)
            for name, code in (("cold cache", fast), ("warm cache", fast), ("plain torch", TORCH_CHILD)):
                result, wall = run_python(code, env=env)
                runs[name].append(dict(result, **{"process wall": wall}))
                print(".", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return runs


def options() -> Dict[str, Any]:
    parser = _common.parser(__doc__)
    parser.add_argument("--repeats", type=int, help="interleaved rounds per model (default 3; --quick 1)")
    parser.add_argument("--linear-layers", type=int, help="model A: Linear layers (default 16; --quick 2)")
    parser.add_argument("--linear-width", type=int, help="model A: in = out features (default 8192; --quick 2048)")
    parser.add_argument("--llama-layers", type=int, help="model B: decoder layers (default 22; --quick 2)")
    parser.add_argument("--llama-scale", type=float,
                        help="model B: hidden and intermediate sizes times this (default 1.0; --quick 0.125)")
    parser.add_argument("--first-use-repeats", type=int, help="fresh-process rounds (default 3; --quick 1)")
    parser.add_argument("--stream-format", type=int, choices=(1, 2), default=1,
                        help="stream format of the fastglorot fills (README \"Stream format\"; default 1)")
    parser.add_argument("--quick", action="store_true", help="small models, one round: a smoke test")
    parser.add_argument("--check", action="store_true", help=_common.CHECK_HELP)
    args = vars(parser.parse_args())
    defaults = QUICK if args["quick"] else DEFAULTS
    chosen = {key: defaults[key] if args[key] is None else args[key] for key in DEFAULTS}
    chosen["json"], chosen["check"] = args["json"], args["check"]
    chosen["stream_format"] = args["stream_format"]
    return chosen


def main() -> int:
    global STREAM_FORMAT
    args = options()
    STREAM_FORMAT = args["stream_format"]
    env = _common.environment()
    threads = {"torch": torch.get_num_threads(), "numba": numba.get_num_threads()}
    try:
        import transformers
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
    except ImportError:
        transformers = None
        print("transformers is not installed: model B (Llama) skipped", file=sys.stderr)

    models: Dict[str, Callable[[], torch.nn.Module]] = {
        f"A: {args['linear_layers']} x Linear({args['linear_width']})":
            linear_stack(args["linear_layers"], args["linear_width"])}
    warmups = [linear_stack(1, 256)]
    if transformers is not None:
        models[f"B: Llama, {args['llama_layers']} layers, widths x {args['llama_scale']:g}"] = llama(
            args["llama_layers"], args["llama_scale"])
        warmups.append(llama(1, 1 / 32))  # also pays transformers' lazy imports outside the timings
    for factory in warmups:  # compile (or load) the kernels, warm every code path
        for variant in VARIANTS:
            build(factory, variant)

    results = {name: measure_model(factory, args["repeats"]) for name, factory in models.items()}
    first = first_use(args["first_use_repeats"])

    _common.print_environment(env)
    print(f"# torch {torch.__version__}, torch threads {threads['torch']}, numba threads {threads['numba']}"
          + (f", transformers {transformers.__version__}" if transformers is not None else "")
          + f", stream format {STREAM_FORMAT}")
    rows = []
    for name, r in results.items():
        for variant in VARIANTS:
            samples = r["samples_s"][variant]
            rows.append([f"{name}, {variant}", f"{median(samples):.3f}", _common.gbps(r["nbytes"], median(samples)),
                         " ".join(f"{s:.3f}" for s in samples)])
    _common.print_table(f"Construction, float32 on the CPU, median of {args['repeats']} interleaved rounds",
                        ["model, variant", "s", "GB/s", "runs (s)"], rows)
    rows = [[name, f"{r['params'] / 1e9:.3f}e9", r["nbytes"] / _common.GiB, r["fills"],
             r["filled_bytes"] / r["nbytes"], r["fastglorot_fills"], r["fastglorot_filled_bytes"] / r["filled_bytes"],
             r["speedup"], f"{r['share_outside_fills']:.2%}", f"{r['share_allocation_and_touch']:.0%}"]
            for name, r in results.items()]
    _common.print_table("Per model.  fills, written/params: random fills per build and their bytes over the "
                        "parameter bytes (counted by the skipping mode); by fastglorot: the fills fast_init "
                        "handed to fastglorot and their share of the bytes (the rest ran in torch); share outside "
                        "fills = fills skipped / fast_init (allocation and module set-up; pages never faulted); "
                        "allocation + first touch = zero fills / fast_init (every fill a torch memset)",
                        ["model", "params", "GiB", "fills", "written/params", "by fastglorot", "bytes share",
                         "speed-up", "share outside fills", "allocation + first touch"], rows)

    rows = []
    for name, rs in first.items():
        for step in ("import torch", "import fastglorot.torch", "first build", "second build", "process wall"):
            if name == "plain torch" and step == "import fastglorot.torch":
                continue
            samples = [r[step] for r in rs]
            rows.append([f"{name}: {step}", median(samples) * 1e3, " ".join(f"{s * 1e3:.0f}" for s in samples)])
    _common.print_table(f"First use in a fresh process (Linear(1024, 1024) + Embedding(1000, 64)), "
                        f"median of {args['first_use_repeats']}", ["process: step", "ms", "runs (ms)"], rows)
    print("fill kernel cache hits/misses: "
          + "; ".join(f"{name} " + ", ".join(f"{r['cache hits']}/{r['cache misses']}" for r in first[name])
                      for name in ("cold cache", "warm cache")))

    verdicts = {name: r["speedup"] >= MINIMUM_SPEEDUP for name, r in results.items()}
    status = _common.report_targets([
        (verdicts[name], f"{name}: fast_init {r['speedup']:.2f}x torch's own construction (bar "
                         f"{MINIMUM_SPEEDUP:g}x, aim {AIM_SPEEDUP:g}x; torch threads {threads['torch']}, "
                         f"numba threads {threads['numba']})") for name, r in results.items()], args["check"])
    _common.write_json(args["json"], {
        "options": {k: v for k, v in args.items() if k not in ("json", "check")}, "threads": threads,
        "torch": torch.__version__,
        "transformers": transformers.__version__ if transformers is not None else None,
        "bar": {"minimum": MINIMUM_SPEEDUP, "aim": AIM_SPEEDUP}, "models": results,
        "passed": verdicts, "first_use": first,
        "first_use_median": {name: {step: median([r[step] for r in rs]) for step in rs[0]}
                             for name, rs in first.items()}}, env)
    return status


if __name__ == "__main__":
    sys.exit(main())
