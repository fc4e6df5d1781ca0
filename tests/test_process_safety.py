"""Process and thread safety: concurrent callers, fork, Ctrl-C, thread counts,
lazy compilation, the on-disk cache, unwritable caches and a generic CPU.

Most checks run in a fresh interpreter (``python_runner`` / ``subprocess``)
because they depend on process-wide state: the numba threading layer, the
thread count fixed at numba import, signals, fork, and compilation.  The
subprocesses inherit the session's ``NUMBA_CACHE_DIR`` (see conftest.py), so
they load the kernels compiled by earlier tests instead of compiling again;
only the cache tests and the generic-CPU test compile on their own.

Results are compared through SHA-256 digests of the output bytes, computed in
the process that filled the array.
"""

from __future__ import annotations

import hashlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numba
import numpy as np
import pytest

import fastglorot as fg
from conftest import USER_DEFAULTS

REPO = Path(__file__).resolve().parents[1]
MiB = 1 << 20

# Code shared by every subprocess: imports, a digest, and a spy that records
# which threads ran kernel chunks (it wraps the kernel the sampler picks).
PRELUDE = r'''
import hashlib, os, sys, threading, time
import numba
import numpy as np
import fastglorot as fg
from fastglorot._engines import launch as _launch
from fastglorot._api import sampling as _sampling  # not the kernels: the first fill imports them

MiB = 1 << 20

def digest(a):
    return hashlib.sha256(np.ascontiguousarray(a).view(np.uint8)).hexdigest()

def case_digests(cases):
    """Digests of (kind, dtype, n, seed, stream, offset) fills."""
    digests = []
    for kind, dtype, n, seed, stream, offset in cases:
        a = np.empty(n, dtype)
        if kind == "uniform":
            fg.uniform_(a, -0.75, 1.25, seed=seed, stream=stream, offset=offset)
        elif kind.startswith("truncated"):
            fmt = 2 if kind.endswith("v2") else 1
            fg.trunc_normal_(a, 0.5, 2.0, -1.0, 4.0, seed=seed, stream=stream, offset=offset, stream_format=fmt)
        else:
            fmt = 2 if kind.endswith("v2") else 1
            fg.normal_(a, 0.5, 2.0, seed=seed, stream=stream, offset=offset, stream_format=fmt)
        digests.append(digest(a))
    return digests

class ThreadSpy:
    """Record the threads that run kernel chunks, and when each thread's last
    chunk ended (wraps the kernel that _sampling hands to run_fill)."""

    def __init__(self):
        self.idents = set()
        self.last_end = {}
        self._orig = _sampling.run_fill

    def __enter__(self):
        orig, idents, last_end = self._orig, self.idents, self.last_end

        def run_fill(kernel, *rest):
            def spy(*args):
                ident = threading.get_ident()
                idents.add(ident)
                try:
                    return kernel(*args)
                finally:
                    last_end[ident] = time.monotonic()
            return orig(spy, *rest)

        _sampling.run_fill = run_fill
        return self

    def __exit__(self, *exc):
        _sampling.run_fill = self._orig
'''


def digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).view(np.uint8)).hexdigest()


def _namespace() -> dict:
    """The PRELUDE's definitions, for use in this process."""
    namespace: dict = {}
    exec(compile(PRELUDE, "<prelude>", "exec"), namespace)
    return namespace


def _fill(kind: str, dtype, n: int, seed: int, stream: int, offset: int) -> np.ndarray:
    a = np.empty(n, dtype)
    if kind == "uniform":
        fg.uniform_(a, -0.75, 1.25, seed=seed, stream=stream, offset=offset)
    elif kind.startswith("truncated"):
        fmt = 2 if kind.endswith("v2") else 1
        fg.trunc_normal_(a, 0.5, 2.0, -1.0, 4.0, seed=seed, stream=stream, offset=offset, stream_format=fmt)
    else:
        fmt = 2 if kind.endswith("v2") else 1
        fg.normal_(a, 0.5, 2.0, seed=seed, stream=stream, offset=offset, stream_format=fmt)
    return a


# ---------------------------------------------------------------------------
# 1. Several Python threads filling at once
# ---------------------------------------------------------------------------

CONCURRENCY_SRC = PRELUDE + r'''
THREADS, ROUNDS = 8, 3


def spec(t, r):
    """Fill parameters of thread t, round r.  Threads t and t + 4 in round 0 do
    identical fills (same seed, stream, offset, dtype) into different arrays;
    all threads share seed 11 and streams 0/1; thread 3 writes strided views."""
    u = t % 4 if r == 0 else t
    kind = "uniform" if (u + r) % 2 else "normal"
    dtype = np.float32 if (u // 2 + r) % 2 else np.float64
    nbytes = (4 + (u + 2 * r) % 5) * MiB            # 4..8 MiB: 1..2 chunks a call
    n = nbytes // np.dtype(dtype).itemsize + 37 * u + r
    offset = 1_000_003 * u + 7 * r
    return dict(kind=kind, dtype=dtype, n=n, seed=11, stream=u % 2, offset=offset,
                strided=(t == 3))


def run(s):
    if s["strided"]:
        base = np.full((s["n"] // 512 + 1, 1024), np.nan, s["dtype"])
        out = base[:, ::2]
    else:
        base = out = np.empty(s["n"], s["dtype"])
    if s["kind"] == "uniform":
        fg.uniform_(out, -0.75, 1.25, seed=s["seed"], stream=s["stream"], offset=s["offset"])
    else:
        fg.normal_(out, 0.5, 2.0, seed=s["seed"], stream=s["stream"], offset=s["offset"])
    untouched = bool(np.isnan(base[:, 1::2]).all()) if s["strided"] else True
    return digest(out), untouched


def main():
    specs = {(t, r): spec(t, r) for t in range(THREADS) for r in range(ROUNDS)}
    got, errors = {}, []
    barrier = threading.Barrier(THREADS)

    def worker(t):
        try:
            barrier.wait(timeout=60)
            for r in range(ROUNDS):
                got[t, r] = run(specs[t, r])
        except BaseException as exc:
            errors.append((t, repr(exc)))

    with ThreadSpy() as spy:
        threads = [threading.Thread(target=worker, args=(t,), daemon=True)
                   for t in range(THREADS)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 120
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
    hung = [thread.name for thread in threads if thread.is_alive()]
    assert not hung, f"fill threads still running after 120 s: {hung}"
    assert not errors, errors
    # The reference, after the threads (so that in a fresh process they are the first to fill, and
    # load the kernels): the same fills, one at a time, on one thread.
    saved = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        want = {key: run(s) for key, s in specs.items()}
    finally:
        numba.set_num_threads(saved)
    assert want[0, 0] == want[4, 0] and want[1, 0] == want[5, 0]
    bad = sorted(key for key in specs if got.get(key) != want[key])
    assert not bad, f"concurrent fills differ from serial ones: {bad}"
    callers = {thread.ident for thread in threads}
    helpers = spy.idents - callers
    if numba.config.NUMBA_NUM_THREADS > 1:
        assert helpers, "no chunk ran on a pool thread: the pool was never used"
    return numba.threading_layer(), len(helpers)
'''

CONCURRENCY_MAIN = r'''
requested = os.environ.get("NUMBA_THREADING_LAYER")
try:
    numba.get_num_threads()  # launches the threading layer
except ValueError as exc:
    print("LAYER-UNAVAILABLE", exc)
    sys.exit(0)
layer, helpers = main()
assert layer == requested, (layer, requested)
print("CONCURRENCY-OK", layer, helpers)
sys.stdout.flush()
os._exit(0)  # never wait on a stuck daemon thread at exit
'''


BUDGETS = {"kernels only": {"FASTGLOROT_NUMPY_MAX_BYTES": "0"}, "default budget": USER_DEFAULTS}
"""The suite's setting (every fill on the kernels), and the users' default: the first fills of a
process take the NumPy path and the kernels load while other threads fill (issue #28)."""


@pytest.mark.slow
@pytest.mark.parametrize("budget", BUDGETS)
@pytest.mark.parametrize("layer", ["workqueue", "omp"])
def test_concurrent_fills_match_serial_under_threading_layer(python_runner, layer, budget):
    """Eight Python threads filling different arrays at once (4-8 MiB each, so
    every call uses the pool; uniform/normal, float32/float64, shared seeds and
    streams, one thread writing strided views) give exactly the values of the
    same fills done one at a time on one thread, while pool threads really run
    chunks, under numba's ``workqueue`` layer (which aborts when parallel
    kernels are launched from several threads) and under ``omp``, with 4
    numba threads (3 pool helpers shared by all eight callers); with every
    fill on the kernels and with the default NumPy-path budget, where the
    eight threads' first fills load the kernels at once."""
    result = python_runner(CONCURRENCY_SRC + CONCURRENCY_MAIN,
                           env={"NUMBA_THREADING_LAYER": layer, "NUMBA_NUM_THREADS": "4", **BUDGETS[budget]},
                           timeout=240)
    if "LAYER-UNAVAILABLE" in result.stdout:
        pytest.skip(f"numba threading layer {layer!r} unavailable: {result.stdout.strip()}")
    assert f"CONCURRENCY-OK {layer}" in result.stdout, result.stdout + result.stderr


def test_concurrent_fills_match_serial_in_process():
    """The same eight-thread check in the test process itself (default layer
    and thread count): concurrent fills equal serial fills, and pool threads
    ran chunks."""
    namespace: dict = {}
    exec(compile(CONCURRENCY_SRC, "<concurrency>", "exec"), namespace)
    namespace["main"]()


# ---------------------------------------------------------------------------
# 2. fork
# ---------------------------------------------------------------------------

FORK_SRC = PRELUDE + r'''
import signal, traceback

N = (32 * MiB) // 4 + 5          # eight chunks: uses the pool
FORKS = 6


def expected(seed):
    a = np.empty(N, np.float32)
    fg.normal_(a, seed=seed, offset=3)
    return digest(a)


want = {k: expected(100 + k) for k in range(FORKS)}
assert _launch._pool is not None, "the parent's fills did not use the pool"

# A second thread keeps filling, so the forks happen while fills (and the
# pool's bookkeeping) are in flight in the parent.
stop = threading.Event()

def churn():
    b = np.empty(N, np.float32)
    i = 0
    while not stop.is_set():
        fg.uniform_(b, seed=i)
        i += 1

churner = threading.Thread(target=churn, daemon=True)
churner.start()
time.sleep(0.05)

parallel_children = 0
for k in range(FORKS):
    time.sleep(0.003 * k)  # vary where the parent's fill is when we fork
    pid = os.fork()
    if pid == 0:
        code = 2
        try:
            with ThreadSpy() as spy:
                c = np.empty(N, np.float32)
                fg.normal_(c, seed=100 + k, offset=3)
            ok = digest(c) == want[k]
            print(f"child {k}: values ok={ok}, threads={len(spy.idents)}", flush=True)
            code = (0 if len(spy.idents) >= 2 else 10) if ok else 1
        except BaseException:
            traceback.print_exc()
            sys.stderr.flush()
        finally:
            os._exit(code)
    deadline = time.monotonic() + 60
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            print(f"child {k} still running after 60 s: deadlock", flush=True)
            os._exit(1)
        time.sleep(0.01)
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 10):
        print(f"child {k} failed with exit code {code}", flush=True)
        os._exit(1)
    parallel_children += code == 0

stop.set()
churner.join(30)
# Timing may starve a child's helper of chunks now and then, never always.
assert parallel_children or numba.get_num_threads() < 2, "every child filled serially"
# The parent is unharmed too.
a = np.empty(N, np.float32)
fg.normal_(a, seed=100, offset=3)
assert digest(a) == want[0]
print("FORK-OK", flush=True)
'''


@pytest.mark.slow
@pytest.mark.parametrize("budget", BUDGETS)
def test_fork_after_fill_child_fills_correctly(python_runner, budget):
    """A process that used the pool, and keeps a second thread filling, forks
    six times; each child fills a large array (so it needs a pool of its own)
    and gets the expected values, children run chunks on two threads (the
    pool is rebuilt after fork, not left pointing at dead threads), and each exits
    within 60 s (a deadlock on state inherited from the parent, such as the
    pool or its lock, is detected and the child killed)."""
    result = python_runner(FORK_SRC, env=BUDGETS[budget], timeout=240)
    assert "FORK-OK" in result.stdout, result.stdout + result.stderr


MP_FORK_SRC = PRELUDE + r'''
import multiprocessing

N = (32 * MiB) // 8 + 3


def child_fill(seed):
    with ThreadSpy() as spy:
        a = np.empty(N, np.float64)
        fg.uniform_(a, seed=seed, stream=5)
    return digest(a), len(spy.idents)


if __name__ == "__main__":
    want = []
    for seed in range(4):
        a = np.empty(N, np.float64)
        fg.uniform_(a, seed=seed, stream=5)
        want.append(digest(a))
    assert _launch._pool is not None
    with multiprocessing.get_context("fork").Pool(2) as pool:
        got = pool.map_async(child_fill, range(4)).get(timeout=60)
    assert [d for d, _ in got] == want, "forked pool workers computed other values"
    if numba.get_num_threads() >= 2:
        # Timing may starve a worker's helper of chunks now and then, never always.
        assert max(n for _, n in got) >= 2, f"workers ran serially: {got}"
    print("MP-FORK-OK", flush=True)
'''


@pytest.mark.slow
@pytest.mark.parametrize("budget", BUDGETS)
def test_multiprocessing_fork_pool_workers_fill_correctly(python_runner, budget):
    """A ``multiprocessing`` pool of forked workers, created after the parent
    used fastglorot's thread pool, returns the same values as the parent and
    fills in parallel in each worker (a hang fails after 60 s)."""
    result = python_runner(MP_FORK_SRC, env=BUDGETS[budget], timeout=240)
    assert "MP-FORK-OK" in result.stdout, result.stdout + result.stderr


# ---------------------------------------------------------------------------
# 3. Ctrl-C
# ---------------------------------------------------------------------------

INTERRUPT_SRC = PRELUDE + r'''
import signal, traceback

signal.signal(signal.SIGINT, signal.default_int_handler)  # even if inherited as ignored
a = np.empty((1 << 30) // 8, np.float64)                  # 1 GiB
a.fill(0.0)                                               # touch every page
fg.normal_(a, seed=0)                                     # load kernel, start pool
t0 = time.monotonic()
fg.normal_(a, seed=1)
print(f"READY {time.monotonic() - t0:.6f}", flush=True)
i = 2
spy = ThreadSpy().__enter__()
try:
    while True:
        print(f"FILL {time.monotonic():.6f}", flush=True)
        fg.normal_(a, seed=i)
        i += 1
except KeyboardInterrupt as exc:
    caught = time.monotonic()
    frames = [f.filename for f in traceback.extract_tb(exc.__traceback__)]
    inside = any(name.endswith(os.path.join("_engines", "launch.py")) for name in frames)
    # No helper may still be writing: every 4 MiB chunk is sampled 512 times.
    sample = a[::1024].copy()
    time.sleep(0.3)
    quiet = bool(np.array_equal(sample, a[::1024]))
    # Every chunk, on every thread, had ended before the exception reached us.
    finished = max(spy.last_end.values()) < caught and len(spy.idents) >= 2
    spy.__exit__()
    # The library still works afterwards.
    b = np.empty(6 * MiB // 4, np.float32)
    fg.normal_(b, seed=9)
    numba.set_num_threads(1)
    c = np.empty_like(b)
    fg.normal_(c, seed=9)
    usable = bool(np.array_equal(b, c))
    print(f"CAUGHT {caught:.6f} inside={inside} finished={finished} quiet={quiet}"
          f" usable={usable}", flush=True)
'''


def _line_reader(stream, lines: "queue.Queue[str | None]") -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _next_line(lines: "queue.Queue[str | None]", deadline: float, want: str) -> str:
    while True:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"timed out waiting for {want!r} from the child") from None
        if line is None:
            raise AssertionError(f"child ended before printing {want!r}")
        if line.startswith(want):
            return line


@pytest.mark.slow
def test_ctrl_c_interrupts_a_long_fill_promptly():
    """SIGINT sent 0.03-0.06 s into a long fill (1 GiB float64 normal_,
    0.2-0.8 s on two cores) raises KeyboardInterrupt from inside the fill
    within min(1.5 s, a quarter of one fill's duration) of the signal -- a
    fill that only returned to Python at its end would take most of the
    fill's duration -- and when the exception reaches the caller no pool
    thread is still writing to the array (every kernel call, on every thread,
    had returned, and a sample of every chunk is unchanged 0.3 s later); the
    library keeps working afterwards.

    The latency runs from the parent's kill() to the child's ``except``
    (CLOCK_MONOTONIC is shared by both processes).  A Python-level signal
    handler in the child could not time the signal's arrival: it only runs
    once the main thread is back in the interpreter, which is what is tested.
    1 GiB rather than 2 GiB keeps page-touching time (~3 s/GiB here) down."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    proc = subprocess.Popen([sys.executable, "-c", INTERRUPT_SRC], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines: "queue.Queue[str | None]" = queue.Queue()
    threading.Thread(target=_line_reader, args=(proc.stdout, lines), daemon=True).start()
    try:
        ready = _next_line(lines, time.monotonic() + 180, "READY")
        full = float(ready.split()[1])
        deadline = time.monotonic() + 60
        while True:  # wait for a fill that has just started
            started = float(_next_line(lines, deadline, "FILL").split()[1])
            if time.monotonic() - started < 0.03:
                break
        time.sleep(0.03)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        report = _next_line(lines, time.monotonic() + 60, "CAUGHT")
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    fields = report.split()
    latency = float(fields[1]) - sent
    flags = dict(field.split("=") for field in fields[2:])
    print(f"one fill: {full:.3f} s; KeyboardInterrupt {latency * 1e3:.1f} ms after SIGINT")
    assert flags["inside"] == "True", "the signal did not land inside a fill"
    assert latency < min(1.5, full / 4), f"KeyboardInterrupt came {latency:.3f} s after SIGINT"
    assert flags["finished"] == "True", "a chunk was still running when KeyboardInterrupt arrived"
    assert flags["quiet"] == "True", "a pool thread kept writing after KeyboardInterrupt"
    assert flags["usable"] == "True", "fills after the interrupt give wrong values"


# ---------------------------------------------------------------------------
# 4. Thread count
# ---------------------------------------------------------------------------

THREAD_CASES = [  # kind, dtype, n, seed, stream, offset: 36-48 MiB each
    ("normal", np.float32, 12 * MiB + 333, 5, 1, 77_777),
    ("uniform", np.float32, 9 * MiB + 1, 6, 0, 1),
    ("normal", np.float64, 6 * MiB - 7, 5, 2, 123_457),
    ("uniform", np.float64, 5 * MiB + 255, 8, 3, 3),
]

THREADS_SRC = PRELUDE + r'''
cases = %r
with ThreadSpy() as spy:
    digests = case_digests(cases)
print("THREADS", numba.get_num_threads(), len(spy.idents))
print("DIGESTS", " ".join(digests))
''' % ([(k, np.dtype(d).name, n, s, st, o) for k, d, n, s, st, o in THREAD_CASES],)


def _thread_case_digests() -> tuple[list[str], int]:
    spy = _namespace()["ThreadSpy"]()
    with spy:
        digests = [digest(_fill(*case)) for case in THREAD_CASES]
    return digests, len(spy.idents)


@pytest.mark.slow
def test_thread_count_does_not_change_bits(python_runner):
    """Large fills (36-48 MiB, odd sizes and offsets, both dtypes and
    distributions) are bit-identical with ``numba.set_num_threads(1)`` (one
    thread runs every chunk) and with the default thread count (several
    threads run chunks), and in subprocesses started with NUMBA_NUM_THREADS=1
    and NUMBA_NUM_THREADS=3 (with the default NumPy-path budget: these fills are past it)."""
    default = numba.get_num_threads()
    parallel, used = _thread_case_digests()
    if default >= 2:
        assert used >= 2, "the default thread count ran every chunk on one thread"
    numba.set_num_threads(1)
    try:
        serial, used_serial = _thread_case_digests()
    finally:
        numba.set_num_threads(default)
    assert used_serial == 1
    assert serial == parallel

    for threads in ("1", "3"):
        out = python_runner(THREADS_SRC, env={"NUMBA_NUM_THREADS": threads, **USER_DEFAULTS}).stdout
        lines = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
        count, used_child = map(int, lines["THREADS"].split())
        assert count == int(threads)
        assert (used_child == 1) if count == 1 else (used_child >= 2)
        assert lines["DIGESTS"].split() == parallel, f"NUMBA_NUM_THREADS={threads} differs"


# ---------------------------------------------------------------------------
# 5. Lazy compilation
# ---------------------------------------------------------------------------

LAZY_SRC = r'''
import sys, threading
import numba
from numba.core import event
from numba.core.dispatcher import Dispatcher

events = []

class Recorder(event.Listener):
    def on_start(self, ev):
        events.append(ev.data["dispatcher"].py_func.__qualname__)
    def on_end(self, ev):
        pass

event.register("numba:compile", Recorder())
import fastglorot
from fastglorot._engines import kernels as _kernels

assert not events, f"importing fastglorot compiled {events}"
dispatchers = {}
for name, module in list(sys.modules.items()):
    if name == "fastglorot" or name.startswith("fastglorot."):
        for attr, value in vars(module).items():
            if isinstance(value, Dispatcher):
                dispatchers[id(value)] = (f"{name}.{attr}", value)
kernels = ["fill_bits", "fill_uniform_float32", "fill_normal_float32", "fill_uniform_float64",
           "fill_normal_float64"]
for kernel in kernels:
    assert id(getattr(_kernels, kernel)) in dispatchers, kernel
compiled = [name for name, d in dispatchers.values() if d.signatures or d.overloads]
assert not compiled, f"compiled at import: {compiled}"
for kernel in kernels:
    stats = getattr(_kernels, kernel).stats
    assert not stats.cache_hits and not stats.cache_misses, (kernel, stats)
parallel = sys.modules.get("numba.np.ufunc.parallel")
assert parallel is None or not parallel._is_initialized, "threading layer launched"
assert threading.active_count() == 1, threading.enumerate()
print("IMPORT-OK", len(dispatchers), "dispatchers", flush=True)

import numpy as np
a = np.empty(1000, np.float32)
fastglorot.uniform_(a, seed=1)
assert len(_kernels.fill_uniform_float32.signatures) == 1, _kernels.fill_uniform_float32.signatures
for kernel in set(kernels) - {"fill_uniform_float32"}:
    assert not getattr(_kernels, kernel).signatures, kernel
print("LAZY-OK", flush=True)
'''


@pytest.mark.slow
def test_import_compiles_nothing(python_runner):
    """``import fastglorot`` in a fresh interpreter triggers no numba
    compilation (no ``numba:compile`` event), leaves every numba dispatcher in
    the package (the kernels and all inlined helpers) without a
    signature, reads no cache entry, starts no thread and no threading layer;
    a small float32 uniform fill then gives ``fill_uniform_float32`` exactly
    one signature and leaves the other kernels uncompiled."""
    out = python_runner(LAZY_SRC).stdout
    assert "IMPORT-OK" in out and "LAZY-OK" in out, out


# ---------------------------------------------------------------------------
# 6. On-disk cache
# ---------------------------------------------------------------------------

CACHE_SRC = r'''
import time, numpy as np
t0 = time.perf_counter()
import fastglorot
from fastglorot._engines import kernels as _kernels
a = np.empty(4099, np.float32)
t1 = time.perf_counter()
fastglorot.normal_(a, seed=3, offset=11)
t2 = time.perf_counter()
stats = _kernels.fill_normal_float32.stats
print(f"TIMES import={t1 - t0:.3f} first_fill={t2 - t1:.3f}")
print(f"CACHE hits={sum(stats.cache_hits.values())} misses={sum(stats.cache_misses.values())}"
      f" path={stats.cache_path}")
print("DIGEST", __import__("hashlib").sha256(a.view(np.uint8)).hexdigest())
'''


def _parse_cache_run(out: str) -> dict:
    info = {}
    for line in out.splitlines():
        head, _, rest = line.partition(" ")
        info[head] = rest
    return info


@pytest.mark.slow
def test_disk_cache_is_reused_across_processes(python_runner, tmp_path):
    """With a fresh NUMBA_CACHE_DIR, a first process compiles ``fill_normal_float32``
    (a cache miss) and writes index and code files into that directory; a
    second process loads the kernel from it (a cache hit, no miss) and
    computes the same values."""
    cache = tmp_path / "numba-cache"
    env = {"NUMBA_CACHE_DIR": str(cache)}
    first = _parse_cache_run(python_runner(CACHE_SRC, env=env).stdout)
    assert first["CACHE"].startswith("hits=0 misses=1"), first
    assert str(cache) in first["CACHE"]
    assert list(cache.rglob("*fill_normal_float32*.nbi")) and list(cache.rglob("*fill_normal_float32*.nbc"))
    second = _parse_cache_run(python_runner(CACHE_SRC, env=env).stdout)
    assert second["CACHE"].startswith("hits=1 misses=0"), second
    assert second["DIGEST"] == first["DIGEST"]
    print(f"\ncold process: {first['TIMES']}\nwarm process: {second['TIMES']}")


# ---------------------------------------------------------------------------
# 7. No writable cache location
# ---------------------------------------------------------------------------

UNCACHED_SRC = r'''
import hashlib, numpy as np
import fastglorot
from fastglorot._engines import kernels as _kernels
a = np.empty(4099, np.float32)
fastglorot.normal_(a, seed=3, offset=11)
b = np.empty(4099, np.float32)
fastglorot.uniform_(b, -0.75, 1.25, seed=3, offset=11)
print("FILE", fastglorot.__file__)
print("CACHE", type(_kernels.fill_uniform_float32._cache).__name__)
print("DIGEST", hashlib.sha256(a.view(np.uint8)).hexdigest(),
      hashlib.sha256(b.view(np.uint8)).hexdigest())
'''

BREAK_LOCATORS = r'''
import numba.core.caching as caching

def refuse(self):
    raise PermissionError(13, "Permission denied (simulated)", self.get_cache_path())

caching._CacheLocator.ensure_cache_path = refuse
'''


def _expected_uncached() -> str:
    a = np.empty(4099, np.float32)
    fg.normal_(a, seed=3, offset=11)
    b = np.empty(4099, np.float32)
    fg.uniform_(b, -0.75, 1.25, seed=3, offset=11)
    return f"{digest(a)} {digest(b)}"


@pytest.mark.slow
def test_no_writable_cache_location_on_disk(python_runner, tmp_path):
    """A copy of the package whose ``__pycache__`` is a regular file, with
    NUMBA_CACHE_DIR and XDG_CACHE_HOME pointing below another regular file
    (unwritable even for root), leaves numba no cache locator: importing still
    works, the kernels fall back to in-memory compilation (``NullCache``) and
    fill the expected values, and nothing is written to disk."""
    site = tmp_path / "site"
    shutil.copytree(REPO / "fastglorot", site / "fastglorot",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (site / "fastglorot" / "__pycache__").write_text("not a directory\n")
    blocker = tmp_path / "afile"
    blocker.write_text("not a directory\n")
    env = {
        "PYTHONPATH": str(site),  # replaces the checkout on the path
        "PYTHONDONTWRITEBYTECODE": "1",
        "NUMBA_CACHE_DIR": str(blocker / "cache"),
        "XDG_CACHE_HOME": str(blocker / "xdg"),
    }
    info = _parse_cache_run(python_runner(UNCACHED_SRC, env=env, cwd=tmp_path).stdout)
    assert info["FILE"].startswith(str(site)), info["FILE"]
    assert info["CACHE"] == "NullCache", info
    assert info["DIGEST"] == _expected_uncached()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "site"]


@pytest.mark.slow
def test_no_cache_locator_at_all(python_runner):
    """When every numba cache locator refuses (``ensure_cache_path`` patched
    to raise PermissionError before the import, so ``cache=True`` raises
    RuntimeError at decoration), ``import fastglorot`` still succeeds, the
    kernels compile in memory (``NullCache``) and fill the expected values."""
    info = _parse_cache_run(python_runner(BREAK_LOCATORS + UNCACHED_SRC).stdout)
    assert info["CACHE"] == "NullCache", info
    assert info["DIGEST"] == _expected_uncached()


# ---------------------------------------------------------------------------
# 8. Generic CPU
# ---------------------------------------------------------------------------

GENERIC_CASES = [  # kind, dtype, n, seed, stream, offset
    ("uniform", np.float32, 300_007, 21, 1, 1_234_567),
    ("normal", np.float32, 250_001, 22, 0, 999_999_937),
    ("uniform", np.float64, 200_003, 23, 7, 333),
    ("normal", np.float64, 150_001, 24, 2, 5_000_000_001),
    ("normal v2", np.float32, 250_001, 25, 3, 77_777),  # stream format 2's own kernels
    ("truncated v2", np.float32, 200_003, 26, 4, 2**34 + 5),
    ("truncated", np.float32, 200_003, 27, 5, 3_333),  # format 1's: float64 inside
    ("truncated", np.float64, 100_003, 28, 6, 2**33 + 1),
]

GENERIC_SRC = PRELUDE + r'''
from numba.core.registry import cpu_target
from fastglorot._engines import kernels as _kernels
magic = cpu_target.target_context.codegen().magic_tuple()
print("MAGIC", repr(magic))
digests = case_digests(%r)
print("DIGESTS", " ".join(digests))
asm = "".join(_kernels.fill_normal_float64.inspect_asm().values())
assert len(asm) > 10_000, "no assembly to inspect"
print("WIDE", "ymm" in asm or "zmm" in asm)
''' % ([(k, np.dtype(d).name, n, s, st, o) for k, d, n, s, st, o in GENERIC_CASES],)


@pytest.mark.slow
def test_generic_cpu_gives_identical_bits(python_runner, tmp_path):
    """Kernels compiled for NUMBA_CPU_NAME=generic with no CPU features
    (baseline x86-64: SSE2 only, no FMA, no AVX -- checked on the generated
    assembly) produce bit-identical uniform_, normal_ and trunc_normal_ output
    (both stream formats), float32 and float64, at odd sizes and offsets, to
    the kernels compiled for this host.
    (A private cache directory: the generic kernels compile anyway, and code
    loaded from a cache cannot be inspected.)"""
    want = [digest(_fill(*case)) for case in GENERIC_CASES]
    env = {"NUMBA_CPU_NAME": "generic", "NUMBA_CPU_FEATURES": "",
           "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    out = python_runner(GENERIC_SRC, env=env).stdout
    info = _parse_cache_run(out)
    assert "'generic'" in info["MAGIC"], info["MAGIC"]
    assert info["WIDE"] == "False", "generic code uses AVX registers"
    assert info["DIGESTS"].split() == want


@pytest.mark.slow
def test_numba_without_avx_gives_identical_bits(python_runner, tmp_path):
    """``NUMBA_ENABLE_AVX=0`` on this host: numba drops every AVX feature from the host's, so the kernels must not
    use the AVX-512 or AVX2 gathers of format 2's truncated normal (LLVM aborted the process on them); they
    compile and give the same bits as this host's kernels."""
    want = [digest(_fill(*case)) for case in GENERIC_CASES]
    env = {"NUMBA_ENABLE_AVX": "0", "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    info = _parse_cache_run(python_runner(GENERIC_SRC, env=env).stdout)
    assert info["DIGESTS"].split() == want


def test_ctrl_c_while_waiting_for_the_helpers_is_raised_not_swallowed():
    """A KeyboardInterrupt that lands while the calling thread waits for the pool must reach the caller:
    swallowing it returned a half-filled output (the helpers stop at the cancel) as if complete.  Task 0 is
    instant, task 1 interrupts the main thread; when a helper takes task 1, the caller is waiting for it.

    ``interrupt_main`` does nothing where SIGINT is ignored (a suite started under ``nohup`` or as a
    background job of a script), so the test installs Python's handler for its duration."""
    import _thread
    import time

    from fastglorot._engines import launch as _launch

    def work(task, local):
        if task == 1:
            time.sleep(0.2)
            _thread.interrupt_main()
            time.sleep(0.2)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            _launch._run_tasks([0, 1], work, 2)
    finally:
        signal.signal(signal.SIGINT, previous)


def test_the_ctrl_c_test_passes_when_the_suite_starts_with_sigint_ignored():
    """``nohup`` and background jobs of a script start the suite with SIGINT ignored, which children
    inherit; the README's test command then failed the test above every time (``interrupt_main`` does
    nothing for an ignored signal).  Run it in such a pytest."""
    node = f"{Path(__file__).name}::test_ctrl_c_while_waiting_for_the_helpers_is_raised_not_swallowed"
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", node],
                            cwd=Path(__file__).parent, capture_output=True, text=True, timeout=120,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout + result.stderr
