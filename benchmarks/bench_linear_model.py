"""Benchmark of one Delta = E_TG - E_OG evaluation of the linear model (Halder, paper 001, Fig. 4).

    python benchmarks/bench_linear_model.py [--quick]

One generated Gaussian (``simulate_generated``, forward data model, d = 100, n training
points) and N = 10^4 fresh original samples; the timed call is ``delta_stat`` (the O(N^2) KDE
pair sum over the original set dominates, plus the O(n^2) train pair sum and the two cross
terms). It is compared with the floor of one BLAS Gram matrix ``Yo @ Yo.T`` (N x N x d) measured
in the same run (interleaved best-of, ``bench_kernels.best_of``), and the script prints one line:

    delta_stat N=10000 d=100 n=...: <t> s  gram floor: <t> s  ratio <r> (target <= 2)

plus the time of the pair sum ``log_kde_pair_offdiag(Yo)`` alone for reference.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from bench_kernels import best_of, calibrated

from diffmem_theory.mixing.linear_model import (
    LinearDiffusionConfig,
    delta_stat,
    log_kde_pair_offdiag,
    simulate_generated,
)

N_ORIG, D, N_TRAIN = 10**4, 100, 1000


def problem(seed: int = 0) -> tuple[tuple, np.ndarray, float]:
    """(delta_stat arguments, original set Yo, eps_O) for Fig. 4's setting at d = 100."""
    cfg = LinearDiffusionConfig(d=D)
    rng = np.random.default_rng(seed)
    mG, SG, Y = simulate_generated(cfg, N_TRAIN, rng)
    Yo = cfg.mu + cfg.sigma * rng.standard_normal((N_ORIG, D))
    eps_T, eps_O = cfg.sigma * N_TRAIN ** (-1.0 / D), cfg.sigma * N_ORIG ** (-1.0 / D)
    return (mG, SG, Y, Yo, eps_T, eps_O), Yo, eps_O


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    repeats = 2 if args.quick else 5
    dargs, Yo, eps_O = problem()
    sign, log_abs = delta_stat(*dargs)
    timers = {
        "delta": calibrated(lambda: delta_stat(*dargs), 0.0),
        "gram": calibrated(lambda: Yo @ Yo.T, 0.0),
        "pairs": calibrated(lambda: log_kde_pair_offdiag(Yo, eps_O), 0.0),
    }
    best = best_of(timers, repeats)
    ratio = best["delta"] / best["gram"]
    print(
        f"delta_stat N={N_ORIG} d={D} n={N_TRAIN}: {best['delta']:.3f} s  "
        f"gram floor: {best['gram']:.3f} s  ratio {ratio:.2f} (target <= 2)  "
        f"[pair sum alone {best['pairs']:.3f} s; Delta = {sign * math.exp(log_abs):.3e}]"
    )


if __name__ == "__main__":
    main()
