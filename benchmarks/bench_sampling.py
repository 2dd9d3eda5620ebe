"""Benchmark of DDIM sampling with the memorizing denoiser, and of the memorization metric.

    python benchmarks/bench_sampling.py [--quick]

DDIM (Buchanan et al., paper 000, App. H.2) on the paper's 26-point VPTrig grid (25 denoiser
calls) with the memorizing denoiser eq. (7) of N = 200 training points in d = 50, for B = 50
(the paper's N_eval) and B = 1000 samples. One line per case:

* time per sample (best run of the whole sampler, validation included);
* denoiser: the summed time of the 25 denoiser calls inside that same run (each call timed by a
  wrapper), and overhead = sampler time / denoiser time (1.00 means the sampler costs nothing
  beyond its denoiser calls).

Then one line per case of ``memorization_ratio`` (Def. 2.2) on the B samples: its time, the
floor of its unavoidable primitive (the B x N BLAS matmul ``samples @ X.T``) and the plain NumPy
broadcast version (B x N x d differences, full sort), timed in the same run.
"""

from __future__ import annotations

import argparse
import os
import time

import numba
import numpy as np

from diffmem_theory.core.denoisers import memorizing_denoiser
from diffmem_theory.core.dynamics import ddim_sample
from diffmem_theory.core.metrics import memorization_ratio
from diffmem_theory.core.schedules import VPTrig

N, D = 200, 50
BATCHES = (50, 1000)
PAUSE = 0.2  # seconds between measurements: OpenBLAS threads keep spinning after a matmul


def instrumented(X: np.ndarray, sched: VPTrig) -> tuple[object, list[float]]:
    """The memorizing denoiser, accumulating the wall time of each call in a list."""
    spent: list[float] = []

    def denoiser(x: np.ndarray, t: float) -> np.ndarray:
        start = time.perf_counter()
        out = memorizing_denoiser(x, t, X, sched)
        spent.append(time.perf_counter() - start)
        return out

    return denoiser, spent


def run_ddim(B: int, repeats: int) -> str:
    rng = np.random.default_rng(0)
    sched = VPTrig()
    X = rng.standard_normal((N, D))
    x_init = rng.standard_normal((B, D))
    ddim_sample(lambda x, t: memorizing_denoiser(x, t, X, sched), sched, x_init)  # warm-up
    best_total, best_den, calls = np.inf, np.inf, 0
    for _ in range(repeats):
        time.sleep(PAUSE)
        denoiser, spent = instrumented(X, sched)
        start = time.perf_counter()
        out = ddim_sample(denoiser, sched, x_init)
        total = time.perf_counter() - start
        if total < best_total:
            best_total, best_den, calls = total, sum(spent), len(spent)
    ratio = memorization_ratio(out, X)
    return (
        f"DDIM  B={B:<5d}N={N} d={D} steps={calls} | {best_total / B * 1e6:8.2f} us/sample "
        f"| total {best_total * 1e3:8.3f} ms | denoiser {best_den * 1e3:8.3f} ms "
        f"| overhead {best_total / best_den:5.3f} | memorization ratio {ratio:.2f}"
    )


def best_time(f, repeats: int) -> float:
    f()
    best = np.inf
    for _ in range(repeats):
        time.sleep(PAUSE)
        start = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - start)
    return best


def broadcast_ratio(samples: np.ndarray, X: np.ndarray, c: float = 1 / 9) -> float:
    diff = samples[:, None, :] - X[None, :, :]
    sq = np.sort((diff * diff).sum(-1), axis=1)
    return float(np.mean(sq[:, 0] <= c * sq[:, 1]))


def run_metric(B: int, repeats: int) -> str:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((N, D))
    samples = X[rng.integers(0, N, B)] + rng.choice([0.01, 1.0], (B, 1)) * rng.standard_normal(
        (B, D)
    )
    assert memorization_ratio(samples, X) == broadcast_ratio(samples, X)
    t = best_time(lambda: memorization_ratio(samples, X), repeats)
    t_mm = best_time(lambda: samples @ X.T, repeats)
    t_bc = best_time(lambda: broadcast_ratio(samples, X), repeats)
    return (
        f"ratio B={B:<5d}N={N} d={D}          | memorization_ratio {t * 1e3:8.3f} ms "
        f"| matmul floor {t_mm * 1e3:8.3f} ms (ratio {t / t_mm:6.1f}) "
        f"| broadcast {t_bc * 1e3:8.3f} ms (speed-up {t_bc / t:5.1f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    repeats = 3 if args.quick else 10
    print(
        f"DDIM (paper 000 H.2) + memorizing denoiser (eq. (7)); numba threads "
        f"{numba.get_num_threads()}, numpy {np.__version__}, load average "
        f"{os.getloadavg()[0]:.2f}; best of {repeats}"
    )
    for B in BATCHES:
        print(run_ddim(B, repeats), flush=True)
    for B in BATCHES:
        print(run_metric(B, repeats), flush=True)


if __name__ == "__main__":
    main()
