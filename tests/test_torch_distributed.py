"""DTensor and FSDP2 on a CPU mesh: two spawned processes, gloo on 127.0.0.1, bounded in time.

The ranks run tests/torch_distributed_worker.py once per test session (a
module-scoped fixture); each test asserts one group of its outcomes.
"""

import json
import socket
import time

import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
pytest.importorskip("fastglorot.torch")

if not (dist.is_available() and dist.is_gloo_available()):
    pytest.skip("torch.distributed with gloo is not available", allow_module_level=True)

TIMEOUT_S = 300


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    import torch.multiprocessing as mp

    import torch_distributed_worker

    out = tmp_path_factory.mktemp("distributed") / "results.json"
    context = mp.start_processes(torch_distributed_worker.run, args=(2, free_port(), str(out)), nprocs=2,
                                 join=False, start_method="spawn")
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while not context.join(timeout=1):
            if time.monotonic() > deadline:
                pytest.fail(f"the 2 ranks did not finish within {TIMEOUT_S} s")
    finally:
        for process in context.processes:
            if process.is_alive():
                process.kill()
    return json.loads(out.read_text())


@pytest.mark.slow
def test_initializers_on_shards_equal_the_single_process_result(outcomes):
    cases = {k: v for k, v in outcomes.items() if not k.startswith(("FSDP2", "fast_init"))}
    # shapes x placements x initializers (5 in stream format 1, 3 in format 2), and format 2 in bfloat16 on a
    # larger tensor: 2 placements and the check that its values are not format 1's
    assert len(cases) == 3 * 3 * (5 + 3) + 2 + 1
    assert [k for k, ok in cases.items() if not ok] == []


@pytest.mark.slow
def test_fast_init_fills_dtensors_shard_correctly(outcomes):
    assert outcomes["fast_init on DTensor"]
    assert outcomes["fast_init v2 on DTensor"]


@pytest.mark.slow
def test_fsdp2_init_module_and_materialize_equal_the_single_process_state_dict(outcomes):
    assert outcomes["FSDP2 parameters are DTensors"]
    assert outcomes["FSDP2 init_module"]
    assert outcomes["FSDP2 all tensors initialized"]
    assert outcomes["FSDP2 materialize from meta"]


@pytest.mark.slow
def test_fsdp2_in_stream_format_2(outcomes):
    assert outcomes["FSDP2 v2 differs from v1"]
    assert outcomes["FSDP2 init_module v2"]
    assert outcomes["FSDP2 materialize from meta v2"]
