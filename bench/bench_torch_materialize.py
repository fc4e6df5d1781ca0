"""Deferred initialization: a ~1B-parameter Llama built on ``meta`` and materialized, 1 process vs 2 ranks.

Each run is a fresh process (or two), timing from the start of construction
to the last rank's return, with its peak resident memory (``ru_maxrss``):

* **1 process**: ``AutoModelForCausalLM.from_config`` under
  ``torch.device("meta")``, then ``fastglorot.torch.materialize(model, seed,
  init_fn=model._init_weights)``: the whole model's storage and values in
  this process.
* **2 ranks**: the same on each of 2 spawned processes (gloo on 127.0.0.1),
  with FSDP2 ``fully_shard`` on each decoder layer and the root before
  materializing: each rank allocates and fills only its shards.  numba and
  torch use 1 thread per rank (the machine's cores are shared by the
  ranks); the 1-process run uses all of them.

Also printed: whether the 2-rank state dict equals the 1-process one (gathered
with ``full_tensor()`` for a small model of the same structure, checked once),
and torch's own ``torch.nn.init.uniform_`` on a column-sharded ``DTensor``
(``Shard(1)``, 2 ranks): whether it wrote the same values into both shards.

The model has TinyLlama-1.1B's shape (hidden 2048, intermediate 5632, 22
layers, 32 heads, 4 key/value heads, vocabulary 32000, untied embeddings,
float32: 1.10e9 parameters, 4.1 GiB); ``--layers`` and ``--scale`` shrink it.
``--stream-format 2`` materializes in stream format 2 (README "Stream
format"; ``materialize(..., stream_format=2)``): ``_init_weights`` draws
normals, whose float32 values and speed it changes.

Run:  python bench/bench_torch_materialize.py [--repeats 3] [--layers 22] [--scale 1.0] [--stream-format 1]
      [--json PATH]
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List

import _common

from fastglorot.benchmarks.measure import median

SEED = 20261129

CHILD = r'''
import datetime, json, math, os, resource, sys, time
import torch
import fastglorot.torch as fi
from transformers import AutoModelForCausalLM, LlamaConfig
from transformers.utils import logging
logging.set_verbosity_error()

rank, world, port, layers, scale, check = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]),
                                           float(sys.argv[5]), sys.argv[6] == "1")
stream_format = int(sys.argv[7])
hidden = max(64, round(2048 * scale / 64) * 64)
heads = hidden // 64
config = LlamaConfig(hidden_size=hidden, intermediate_size=max(64, round(5632 * scale / 64) * 64),
                     num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=math.gcd(heads, 4),
                     vocab_size=32000, tie_word_embeddings=False)
if world > 1:
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=datetime.timedelta(seconds=600))
    mesh = init_device_mesh("cpu", (world,))
    dist.barrier()

def build(config, sharded=world > 1):
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    if sharded:
        for layer in model.model.layers:
            fully_shard(layer, mesh=mesh)
        fully_shard(model, mesh=mesh)
    return fi.materialize(model, %(seed)d, init_fn=model._init_weights, stream_format=stream_format)

# compile or load the kernels first (not part of the timing)
small = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=1, num_attention_heads=1,
                    num_key_value_heads=1, vocab_size=128, tie_word_embeddings=False)
build(small)
if world > 1:
    dist.barrier()
start = time.perf_counter()
model = build(config)
if world > 1:
    dist.barrier()
seconds = time.perf_counter() - start
params = sum(p.numel() for p in model.parameters())
result = {"seconds": seconds, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
          "params_local": sum((p.to_local() if hasattr(p, "to_local") else p).numel() for p in model.parameters()),
          "params": params}
del model
if check:
    def state(model):
        return {k: (v.full_tensor() if hasattr(v, "full_tensor") else v).detach()
                for k, v in model.state_dict().items()}
    small_check = LlamaConfig(hidden_size=128, intermediate_size=352, num_hidden_layers=2, num_attention_heads=2,
                              num_key_value_heads=1, vocab_size=1000, tie_word_embeddings=False)
    sharded = state(build(small_check))
    single = state(build(small_check, sharded=False))
    result["equal_to_one_process"] = sharded.keys() == single.keys() and all(torch.equal(sharded[k], single[k])
                                                                            for k in sharded)
    if world > 1:
        from torch.distributed.tensor import Shard, distribute_tensor
        torch.manual_seed(0)
        columns = distribute_tensor(torch.zeros(4, 8), mesh, [Shard(1)])
        torch.nn.init.uniform_(columns)
        full = columns.full_tensor()
        result["torch_column_shards_identical"] = torch.equal(full[:, :4], full[:, 4:])
        columns = distribute_tensor(torch.zeros(4, 8), mesh, [Shard(1)])
        fi.uniform_(columns, generator=torch.Generator().manual_seed(0))
        full = columns.full_tensor()
        result["fastglorot_column_shards_identical"] = torch.equal(full[:, :4], full[:, 4:])
if world > 1:
    dist.barrier()
    dist.destroy_process_group()
print(json.dumps(result))
''' % {"seed": SEED}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(world: int, layers: int, scale: float, check: bool, stream_format: int = 1) -> List[Dict[str, Any]]:
    """One job of ``world`` processes; each rank's JSON result."""
    port = free_port()
    env = dict(os.environ, FASTGLOROT_QUIET="1", PYTHONPATH=str(_common.ROOT))
    if world > 1:  # the ranks share the cores
        threads = str(max(1, (os.cpu_count() or 1) // world))
        env.update(NUMBA_NUM_THREADS=threads, OMP_NUM_THREADS=threads)
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "child.py"
        script.write_text(CHILD)
        processes = [subprocess.Popen([sys.executable, str(script), str(rank), str(world), str(port), str(layers),
                                       str(scale), "1" if check else "0", str(stream_format)], env=env,
                                      stdout=subprocess.PIPE,
                                      text=True) for rank in range(world)]
        outputs = [p.communicate(timeout=1800)[0] for p in processes]
    if any(p.returncode for p in processes):
        raise RuntimeError(f"a rank failed: exit codes {[p.returncode for p in processes]}")
    return [json.loads(out.strip().splitlines()[-1]) for out in outputs]


def main() -> int:
    parser = _common.parser(__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--layers", type=int, default=22)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--stream-format", type=int, choices=(1, 2), default=1,
                        help="stream format of the fills (README \"Stream format\"; default 1)")
    args = parser.parse_args()
    env = _common.environment()
    checks = {"1 process": run(1, 1, 1 / 32, True, args.stream_format),
              "2 ranks": run(2, 1, 1 / 32, True, args.stream_format)}
    runs: Dict[str, List[List[Dict[str, Any]]]] = {"1 process": [], "2 ranks": []}
    for _ in range(args.repeats):
        for name, world in (("1 process", 1), ("2 ranks", 2)):
            runs[name].append(run(world, args.layers, args.scale, False, args.stream_format))
            print(".", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)

    _common.print_environment(env)
    params = runs["1 process"][0][0]["params"]
    rows = []
    summary = {}
    for name, jobs in runs.items():
        seconds = [max(rank["seconds"] for rank in job) for job in jobs]
        rss = [max(rank["peak_rss_mib"] for rank in job) for job in jobs]
        local = jobs[0][0]["params_local"]
        summary[name] = {"median_s": median(seconds), "samples_s": seconds, "peak_rss_mib": max(rss),
                         "params_rank0": local}
        rows.append([name, median(seconds), " ".join(f"{s:.2f}" for s in seconds), f"{local / 1e9:.3f}e9",
                     max(rss) / 1024])
    _common.print_table(f"Llama-style model, {params / 1e9:.3f}e9 parameters (float32, "
                        f"{params * 4 / _common.GiB:.2f} GiB), built on meta and materialized in stream format "
                        f"{args.stream_format}; "
                        f"median of {args.repeats}", ["job", "s", "runs (s)", "params on rank 0",
                                                      "peak RSS per process (GiB)"], rows)
    two = checks["2 ranks"][0]
    print(f"\n2-rank state dict equals the 1-process one (small model of the same structure): "
          f"{two['equal_to_one_process']}")
    print(f"torch.nn.init.uniform_ on a Shard(1) DTensor, 2 ranks: both column shards identical: "
          f"{two['torch_column_shards_identical']}; fastglorot.torch.uniform_: "
          f"{two['fastglorot_column_shards_identical']}")
    _common.write_json(args.json, {"params": params, "stream_format": args.stream_format, "jobs": summary,
                                   "checks": checks}, env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
