"""Benchmark of one training epoch of the M-component GMM denoiser (paper 000, App. H.1).

    python benchmarks/bench_training.py

For N = 200, d = 50, N_dup = 100 (B = 20,000 noisy queries per epoch) and M in {20, 100, 200},
one line per M (best of several interleaved repetitions, see ``bench_kernels.best_of``):

* kernel: the fused loss + analytic gradient
  (:func:`diffmem_theory.core.training.gmm_loss_and_grad`) on one epoch's batch;
* epoch: a whole epoch as ``train_gmm_denoiser`` runs it (draw the times and the 20,000 x 50
  Gaussian noise, the fused kernel that forms the queries block by block, Adam);
* noise: drawing that noise alone (8 chunks on a thread pool), an unavoidable cost of
  N_dup = 100 fresh draws per sample;
* floor: the two matmuls of a forward + backward pass of the same shapes, ``x @ mu.T``
  (B x d x M) and ``P @ mu`` (B x M x d), timed in the same run; the ratios kernel / floor and
  epoch / floor (the kernel also needs g mu^T, (p b)^T g and c^T x for the gradient: five
  products of this size in all, so 2.5 is the flop ratio to the floor);
* projected: the wall time of paper 000's 50,000 epochs at this M.
"""

from __future__ import annotations

import numpy as np
from bench_kernels import best_of, calibrated

from diffmem_theory.core.distributions import IsotropicGaussianMixture, sphere_means
from diffmem_theory.core.optim import Adam, WarmupDecay
from diffmem_theory.core.schedules import VPTrig
from diffmem_theory.core.training import (
    GMMDenoiser,
    _epoch_batch,
    _epoch_noise,
    _epoch_time_index,
    gmm_loss_and_grad,
    partial_memorization_init,
)
from diffmem_theory.kernels import gmm_loss_and_grad as kernel_loss_and_grad

SCHED = VPTrig()
GRID = SCHED.time_grid()


def bench(M: int, repeats: int = 5) -> str:
    rng = np.random.default_rng(0)
    gmm = IsotropicGaussianMixture(sphere_means(12, 50, rng), 1.0)
    X, _ = gmm.sample(200, rng)
    model = partial_memorization_init(X, M, rng)
    model = GMMDenoiser(model.means, 0.3)
    xt, x0, t = _epoch_batch(X, GRID, SCHED, 100, 0, 0)
    P = rng.random((xt.shape[0], M))
    opt = Adam(WarmupDecay(50_000))
    theta = model.pack()
    state = opt.init(theta)

    lam, alpha, sigma2 = SCHED.snr(GRID), SCHED.alpha(GRID), SCHED.sigma2(GRID)

    def epoch() -> None:  # what train_gmm_denoiser's objective and fit do per epoch
        idx = _epoch_time_index(0, 1, 200, GRID.size)
        z = _epoch_noise(0, 1, 20_000, 50, np.dtype(np.float64))
        _, g_mu, g_var = kernel_loss_and_grad(
            z, X, alpha[idx], sigma2[idx], lam[idx], model.means, model.var, n_dup=100
        )
        opt.step(theta, np.concatenate([g_mu.ravel(), [g_var]]), state)

    def noise() -> None:
        _epoch_noise(0, 1, 20_000, 50, np.dtype(np.float64))

    def floor() -> None:
        np.dot(xt, model.means.T)
        np.dot(P, model.means)

    best = best_of(
        {
            "kernel": calibrated(lambda: gmm_loss_and_grad(model, xt, x0, t, SCHED)),
            "epoch": calibrated(epoch),
            "floor": calibrated(floor),
            "noise": calibrated(noise),
        },
        repeats,
    )
    k, e, f, z = best["kernel"], best["epoch"], best["floor"], best["noise"]
    return (
        f"M = {M:3d}: kernel {k * 1e3:6.2f} ms, epoch {e * 1e3:6.2f} ms, floor {f * 1e3:6.2f} ms, "
        f"noise {z * 1e3:5.2f} ms; kernel / floor = {k / f:.2f}, epoch / floor = {e / f:.2f}, "
        f"epoch / (floor + noise) = {e / (f + z):.2f}; "
        f"50,000 epochs: {e * 50_000 / 60:.0f} min"
    )


def main() -> None:
    for M in (20, 100, 200):
        print(bench(M), flush=True)


if __name__ == "__main__":
    main()
