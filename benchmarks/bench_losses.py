"""Benchmark of paper 000's Monte Carlo losses and crossover quadrature, as ratios in one run.

    python benchmarks/bench_losses.py

One line per case (best of several interleaved repetitions, see ``bench_kernels.best_of``):

* ``training_losses``: eq. (6) for xbar_*, xbar_mem and xbar_pmem,100 on common noise
  (d = 50, K = 12, N = 200, 100 draws per point at t_16; Fig. 1's full-mode workload per M)
  against its floor -- one draw of the 20,000 x 50 Gaussian noise plus the three denoisers
  called once on the 20,000 queries (so the ratio is the cost of forming x_t and reducing the
  errors) -- and against plain NumPy broadcasting of the same three denoisers.
* ``crossover_ratio``: eq. (14) for continuous t (lambda = 1, s2 = 0.3; vectorized tanh-sinh in
  log t, any schedule and weighting) against ``scipy.integrate.quad`` of the two VPTrig
  t-integrands written inline, against ``scipy.integrate.quad`` on the same schedule-generic
  integrand, and the 30-digit mpmath path against the float64 one.
* ``coupon_probability_exact``: the exact P[A] of Prop. C.4 at K = 12, l = 78 by multinomial
  expansion against the EGF dynamic program.
"""

from __future__ import annotations

import numpy as np
from bench_kernels import best_of, calibrated
from scipy import integrate
from scipy.special import expit, softmax

from diffmem_theory.core.denoisers import memorizing_denoiser
from diffmem_theory.core.distributions import IsotropicGaussianMixture, sphere_means
from diffmem_theory.core.losses import log_loss_weighting, noise_draws, training_losses
from diffmem_theory.core.schedules import VPTrig
from diffmem_theory.crossover.concentration import coupon_probability_exact
from diffmem_theory.crossover.excess import crossover_ratio

SCHED = VPTrig()
T16 = float(SCHED.time_grid()[16])


def _broadcast_denoiser(x: np.ndarray, t: float, centers: np.ndarray, s2: float) -> np.ndarray:
    """Eqs. (11)-(12) in plain NumPy (s2 = 0: the memorizing denoiser (7))."""
    a, s = float(SCHED.alpha(t)), float(SCHED.sigma(t))
    v = a**2 * s2 + s**2
    logits = -((x[:, None, :] - a * centers[None]) ** 2).sum(-1) / (2 * v)
    return (a * s2 / v) * x + (s**2 / v) * softmax(logits, axis=1) @ centers


def bench_training_losses(repeats: int = 5) -> str:
    rng = np.random.default_rng(0)
    gmm = IsotropicGaussianMixture(sphere_means(12, 50, rng), 1.0)
    X, _ = gmm.sample(200, rng)
    sub = X[:100]
    dens = {
        "gen": lambda x, t: gmm.denoiser(x, t, SCHED),
        "mem": lambda x, t: memorizing_denoiser(x, t, X, SCHED),
        "pmem": lambda x, t: memorizing_denoiser(x, t, sub, SCHED),
    }
    z = noise_draws(0, 0, 200, 100, 50).reshape(-1, 50)
    xt = float(SCHED.alpha(T16)) * np.repeat(X, 100, axis=0) + float(SCHED.sigma(T16)) * z
    pairs = ((gmm.means, 1.0), (X, 0.0), (sub, 0.0))

    def floor() -> None:
        noise_draws(0, 0, 200, 100, 50)
        for f in dens.values():
            f(T16, xt)

    def naive() -> None:
        for centers, s2 in pairs:
            for chunk in np.array_split(xt, 10):  # keep B x N x d below ~160 MB
                _broadcast_denoiser(chunk, T16, centers, s2)

    best = best_of(
        {
            "losses": calibrated(lambda: training_losses(dens, X, T16, SCHED, n_noise=100)),
            "floor": calibrated(floor),
            "naive": calibrated(naive),
        },
        repeats,
    )
    return (
        f"training_losses (3 denoisers, 20000 x 50 queries): {best['losses'] * 1e3:.1f} ms; "
        f"/ floor (noise draw + denoiser calls) = {best['losses'] / best['floor']:.2f}; "
        f"naive NumPy / it = {best['naive'] / best['losses']:.1f}x"
    )


def bench_crossover(repeats: int = 5) -> str:
    s2 = 0.3

    def scipy_direct() -> float:
        g = lambda t: t**2 / ((1 - t**2) * s2 + t**2)  # noqa: E731
        a = integrate.quad(g, 0.0, 1.0, epsabs=0.0, epsrel=1e-12)[0]
        return 1.0 - a / 2.0

    def scipy_generic() -> float:  # scipy.quad on the same schedule-generic integrand
        def part(u: float, gen: bool) -> float:
            t = np.array([min(max(np.exp(u), 1e-300), np.nextafter(1.0, 0.0))])
            w = float(np.exp(log_loss_weighting("x0", t, SCHED)[0] + u))
            # 1/(psi_t s2 + 1) = sigmoid(-(log psi_t + log s2)), as the library evaluates it
            return w * float(expit(-(SCHED.log_snr(t)[0] + np.log(s2)))) if gen else w

        kw = {"epsabs": 0.0, "epsrel": 1e-12, "limit": 500}
        w = integrate.quad(part, -np.inf, 0.0, args=(False,), **kw)[0]
        return 1.0 - integrate.quad(part, -np.inf, 0.0, args=(True,), **kw)[0] / (2.0 * w)

    best = best_of(
        {
            "ours": calibrated(lambda: crossover_ratio("x0", var_star=s2)),
            "scipy": calibrated(scipy_direct),
            "generic": calibrated(scipy_generic),
            "mp30": calibrated(lambda: crossover_ratio("x0", var_star=s2, dps=30)),
        },
        repeats,
    )
    err = abs(crossover_ratio("x0", var_star=s2) - scipy_direct())
    return (
        f"crossover_ratio (continuous, lambda = 1, s2 = 0.3): {best['ours'] * 1e3:.2f} ms; "
        f"/ scipy.quad inline = {best['ours'] / best['scipy']:.0f} (|diff| = {err:.1e}); "
        f"scipy.quad on the same generic integrand / ours = {best['generic'] / best['ours']:.1f}; "
        f"mpmath dps=30 / float64 = {best['mp30'] / best['ours']:.1f}"
    )


def bench_coupon(repeats: int = 5) -> str:
    best = best_of(
        {
            "expand": calibrated(lambda: coupon_probability_exact(12, 78)),
            "dp": calibrated(lambda: coupon_probability_exact(12, 78, method="dp")),
        },
        repeats,
    )
    return (
        f"coupon_probability_exact (K = 12, l = 78): {best['expand'] * 1e3:.2f} ms; "
        f"EGF DP / expansion = {best['dp'] / best['expand']:.1f}"
    )


def main() -> None:
    for bench in (bench_training_losses, bench_crossover, bench_coupon):
        print(bench(), flush=True)


if __name__ == "__main__":
    main()
