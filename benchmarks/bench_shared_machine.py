"""Benchmark of the parallel kernels on a shared machine (issue 14, item 3).

    python benchmarks/bench_shared_machine.py [--quick] [--threads 1,2] [--workloads ...]

Four workloads, each run in fresh worker processes (``NUMBA_NUM_THREADS`` is fixed when Numba
starts):

* ``epoch``: training epochs of paper 000's quick Fig. 2 setting through
  :func:`~diffmem_theory.core.training.train_gmm_denoiser` (N = 200, d = 50, K = 12, M = 100,
  N_dup = 10: 2,000 noisy queries an epoch; peak learning rate 1e-2, Adam b2 = 0.99);
* ``softmax``: ``kernels.softmax_weighted_sum`` with B = 4,096 queries, N = 10,000 centres,
  d = 50 (the memorizing denoiser at alpha = 0.8, sigma = 0.6);
* ``ode``: :func:`~diffmem_theory.voronoi.dynamics.reverse_ode` of 16 trajectories, N = 10^4,
  d = 50 (VE, g = 10^{2t}, s-time, from t = 1 to 1e-3, rtol = atol = 1e-5): the lock-step
  integrator of ``kernels.integrate`` (d >= 16), two blocks of 8 trajectories handed out to
  the threads one at a time;
* ``nn``: :func:`~diffmem_theory.nn.train` (JAX) of the ReLU MLP of the audit's worked example
  (width 256, 3 hidden layers, x0 units, VPTrig) on 320 points of d = 64, full batch, 100
  epochs (one jitted scan) per call; with n = 1 the worker also gives XLA one intra-op thread
  (``XLA_FLAGS``), with n = 2 XLA's default pool.

For each workload and each thread count n (default 1 and 2), three cases:

* quiet: the workload alone (it also calibrates the number of calls, to ``--seconds``);
* busy: beside one busy process (``python -c 'while True: pass'``), which the benchmark starts
  before and stops after the measurement;
* two copies: two worker processes of the workload at once, each with n threads (the slower one
  is reported);

and it prints the seconds per call and the ratio to the quiet time of the same n. The target is
a ratio <= 2.3 in every case (on a 2-core machine a fair share of the cores gives 1 with one
thread and 2 with two). A worker loads the kernels and warms up first, then waits for a "go" line
on stdin, so that concurrent copies start their timed calls together. One measurement per case
(``--repeats`` takes the median of several): on a machine that other people use, the numbers
are noisy. ``--env KEY=VALUE`` (repeatable) sets an environment variable in every worker, to
compare runtime settings, e.g. ``--env OMP_WAIT_POLICY=PASSIVE`` (GNU OpenMP threads sleep
instead of spinning between parallel regions) or ``--env NUMBA_THREADING_LAYER=workqueue``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np

TARGET = 2.3
BUSY = "while True: pass"


# ----------------------------------------------------------------------------------------------
# workloads (run inside a worker process)
# ----------------------------------------------------------------------------------------------


def _epoch() -> tuple[Callable[[int], None], int]:
    from diffmem_theory.core.distributions import IsotropicGaussianMixture, sphere_means
    from diffmem_theory.core.training import TrainConfig, train_gmm_denoiser

    rng = np.random.default_rng(0)
    X, _ = IsotropicGaussianMixture(sphere_means(12, 50, rng), 1.0).sample(200, rng)

    def run(calls: int) -> None:
        cfg = TrainConfig(n_epochs=calls, n_dup=10, seed=0, peak_lr=1e-2, adam_b2=0.99)
        train_gmm_denoiser(X, 100, cfg, progress=False)

    return run, 20  # calibrate on 20 epochs (one call also initializes the run)


def _softmax() -> tuple[Callable[[int], None], int]:
    from diffmem_theory.kernels import softmax_weighted_sum

    rng = np.random.default_rng(0)
    C = rng.standard_normal((10_000, 50))
    x = 0.8 * C[rng.integers(0, 10_000, 4096)] + 0.6 * rng.standard_normal((4096, 50))

    def run(calls: int) -> None:
        for _ in range(calls):
            softmax_weighted_sum(x, C, scale=0.8, var=0.36)

    return run, 1


def _ode() -> tuple[Callable[[int], None], int]:
    from diffmem_theory.core.schedules import VE
    from diffmem_theory.voronoi.dynamics import initial_states, reverse_ode

    sched = VE.exp()
    X0 = np.random.default_rng(1).standard_normal((10_000, 50))
    x_T = initial_states(sched, 16, 50, 0)

    def run(calls: int) -> None:
        for _ in range(calls):
            reverse_ode(x_T, X0, sched, 1e-3, rtol=1e-5, atol=1e-5)

    return run, 1


def _nn() -> tuple[Callable[[int], None], int]:
    import jax

    from diffmem_theory import nn
    from diffmem_theory.core.schedules import VPTrig

    X = np.random.default_rng(0).random((320, 64))
    net = nn.mlp(64, 256, 3, key=jax.random.key(0), prediction="x0")

    def run(calls: int) -> None:
        nn.train(net, X, VPTrig(), epochs=100 * calls, chunk=100, progress=False)

    return run, 2


WORKLOADS = {"epoch": _epoch, "softmax": _softmax, "ode": _ode, "nn": _nn}


def worker(name: str, calls: int, seconds: float) -> None:
    """Warm up, calibrate (``calls = 0``), say ready, wait for "go", time ``calls`` calls."""
    run, probe = WORKLOADS[name]()
    run(1)  # compile / load the cache, first-touch the memory
    if calls == 0:
        start = time.perf_counter()
        run(probe)
        calls = max(1, round(seconds * probe / (time.perf_counter() - start)))
    print(json.dumps({"ready": True}), flush=True)
    sys.stdin.readline()
    start = time.perf_counter()
    run(calls)
    elapsed = time.perf_counter() - start
    print(json.dumps({"seconds": elapsed / calls, "calls": calls}), flush=True)


# ----------------------------------------------------------------------------------------------
# the driver
# ----------------------------------------------------------------------------------------------


def _start(
    name: str, threads: int, calls: int, seconds: float, extra: dict[str, str]
) -> subprocess.Popen:
    env = {**os.environ, **extra, "NUMBA_NUM_THREADS": str(threads)}
    if threads == 1 and "XLA_FLAGS" not in extra:  # JAX: one intra-op thread
        env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    args = ["--worker", name, "--calls", str(calls), "--seconds", str(seconds)]
    return subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def _read(proc: subprocess.Popen) -> dict:
    line = proc.stdout.readline()
    if not line:
        proc.wait()
        raise RuntimeError(f"worker {proc.args} ended with status {proc.returncode}")
    return json.loads(line)


def _measure(
    name: str,
    threads: int,
    calls: int,
    seconds: float,
    extra: dict[str, str],
    copies: int = 1,
    busy: bool = False,
) -> tuple[float, int]:
    """Seconds per call (the slowest copy) and the number of calls."""
    procs = [_start(name, threads, calls, seconds, extra) for _ in range(copies)]
    hog = None
    try:
        for proc in procs:
            _read(proc)  # ready
        if busy:
            hog = subprocess.Popen([sys.executable, "-c", BUSY])
            time.sleep(0.3)  # let it take its core
        for proc in procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = [_read(proc) for proc in procs]
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    return max(r["seconds"] for r in results), results[0]["calls"]


def case(name: str, threads: int, seconds: float, repeats: int, extra: dict[str, str]) -> str:
    """One line: quiet time, busy and two-copies times with their ratios to the quiet time."""
    quiet, calls = _measure(name, threads, 0, seconds, extra)
    rows = {"quiet": [quiet]}
    for _ in range(repeats - 1):
        rows["quiet"].append(_measure(name, threads, calls, seconds, extra)[0])
    for label, copies, busy in (("busy", 1, True), ("two copies", 2, False)):
        rows[label] = [
            _measure(name, threads, calls, seconds, extra, copies, busy)[0] for _ in range(repeats)
        ]
    t = {label: statistics.median(v) for label, v in rows.items()}
    parts = [f"{name:<8} n={threads}  quiet {t['quiet'] * 1e3:8.1f} ms"]
    for label in ("busy", "two copies"):
        ratio = t[label] / t["quiet"]
        mark = "ok" if ratio <= TARGET else "OVER"
        parts.append(f"{label} {t[label] * 1e3:8.1f} ms = {ratio:4.2f}x {mark:<4}")
    return "  ".join(parts) + f"  ({calls} calls)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter timed runs (0.4 s)")
    parser.add_argument("--threads", default="1,2", help="NUMBA_NUM_THREADS values")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated")
    parser.add_argument("--repeats", type=int, default=1, help="median of this many runs")
    parser.add_argument("--seconds", type=float, default=None, help="timed run length")
    parser.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE", help="set in every worker"
    )
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    seconds = args.seconds if args.seconds is not None else (0.4 if args.quick else 1.5)
    if args.worker is not None:
        worker(args.worker, args.calls, seconds)
        return
    names = [w for w in args.workloads.split(",") if w]
    unknown = sorted(set(names) - set(WORKLOADS))
    if unknown:
        parser.error(f"unknown workloads {unknown}; choose from {list(WORKLOADS)}")
    if any("=" not in item for item in args.env):
        parser.error(f"--env takes KEY=VALUE, got {args.env}")
    extra = dict(item.split("=", 1) for item in args.env)
    print(f"{os.cpu_count()} CPUs; target: every ratio <= {TARGET}x its quiet time", flush=True)
    if extra:
        print(f"worker environment: {extra}", flush=True)
    start = time.perf_counter()
    for threads in (int(n) for n in args.threads.split(",")):
        for name in names:
            print(case(name, threads, seconds, max(1, args.repeats), extra), flush=True)
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
