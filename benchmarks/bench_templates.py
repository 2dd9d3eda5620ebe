"""Benchmark of the colored-template trainer of paper 000, Sec. 4.2, as a ratio to its BLAS floor.

    python benchmarks/bench_templates.py

One line per case M in {10, 50, 100} at the Fig. 5 full-mode workload (N = 100 images of K = 4
generated 15 x 15 templates with c = 3 colors, n_dup = 100, so B = 10,000 queries of d = 675 per
epoch): milliseconds per epoch of ``template_model.template_objective`` (loss and analytic gradient;
the Adam step is O(M p) and negligible) against its floor, the five unavoidable GEMMs of size (B c)
x p x M -- the projections P = X T^T, the output xbar = W T, the back-projection H = G T^T and the
two halves dT = W^T G + dP^T X of the template gradient -- run on the same query blocks and threads
(single-threaded BLAS per block, as in the trainer). The remainder is the B c p = 6.75e6 Gaussian
noise draws (~10 ns each: ~35 ms per epoch on two threads, the largest non-BLAS part at small M),
forming x_t and the residual, and O(B c M) element-wise work. On an idle 2-core machine: 89 / 138 /
208 ms per epoch for M = 10 / 50 / 100, ratios 5.6 / 3.2 / 2.6. Best of
several interleaved repetitions (``bench_kernels.best_of``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from bench_kernels import best_of, calibrated

from diffmem_theory.core.distributions import TemplateMixture
from diffmem_theory.core.schedules import VPTrig
from diffmem_theory.core.training import TrainConfig
from diffmem_theory.crossover.template_data import generated_templates
from diffmem_theory.crossover.template_model import (
    QUERY_BLOCK,
    template_objective,
    template_partial_memorization_init,
)
from diffmem_theory.kernels import single_threaded_blas

SCHED = VPTrig()
N, K, C, SIZE, N_DUP = 100, 4, 3, 15, 100


def bench_epoch(M: int, repeats: int = 5) -> str:
    tpl = generated_templates(K, SIZE)
    Y, labels = TemplateMixture(tpl, np.zeros((K, C)), 1.0).sample(N, 0)
    Y = Y.reshape(N, C, SIZE * SIZE)
    cfg = TrainConfig(n_epochs=10, n_dup=N_DUP)
    objective = template_objective(Y, M, cfg, SCHED, SCHED.time_grid())
    init = template_partial_memorization_init(
        Y.reshape(N, C, SIZE, SIZE), M, 0, templates=tpl, labels=labels
    )
    theta = init.pack()
    p = SIZE * SIZE
    per_block = max(1, QUERY_BLOCK // N_DUP)
    n_blocks = -(-N // per_block)
    rows = per_block * N_DUP * C
    rng = np.random.default_rng(1)
    X = rng.standard_normal((rows, p))
    T = rng.random((M, p))
    TT = np.ascontiguousarray(T.T)
    W = rng.standard_normal((rows, M))

    def gemms(_: int) -> None:
        X @ TT  # P = X T^T
        W @ T  # xbar = W T
        X @ TT  # H = G T^T
        W.T @ X  # W^T G
        W.T @ X  # dP^T X

    def floor() -> None:
        with single_threaded_blas("numpy") as pinned:
            workers = min(max(1, numba.get_num_threads()) if pinned else 1, n_blocks)
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(gemms, range(n_blocks)))

    best = best_of(
        {
            "epoch": calibrated(lambda: objective(theta, 0), min_seconds=0.2),
            "floor": calibrated(floor, min_seconds=0.2),
        },
        repeats,
    )
    gflop = 10 * N * N_DUP * C * p * M / 1e9
    return (
        f"template epoch M = {M:3d} (N = {N}, n_dup = {N_DUP}, 3 x 15 x 15): "
        f"{best['epoch'] * 1e3:.1f} ms; / floor (5 GEMMs, {gflop:.2f} GFLOP, "
        f"{best['floor'] * 1e3:.1f} ms) = {best['epoch'] / best['floor']:.2f}"
    )


def main() -> None:
    for m in (10, 50, 100):
        print(bench_epoch(m), flush=True)


if __name__ == "__main__":
    main()
