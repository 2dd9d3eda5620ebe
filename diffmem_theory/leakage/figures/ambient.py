r"""``paper004.ambient``: a synthetic analogue of Shah et al.'s Fig. 2 / Table 4 (paper 004).

Setting (our small CPU analogue of Sec. 5.1): the true law is a 3-component isotropic Gaussian
mixture in d = 2 (means on the circle of radius 2, variance 0.3), the training set has n = 16
points. An under-parameterized M = 8 component GMM denoiser
(:class:`~diffmem_theory.core.training.GMMDenoiser`, started from 8 training points) is trained by
full-batch Adam (:func:`~diffmem_theory.core.training.fit`) either on the DDPM x0-objective eq. (3)
(:func:`~diffmem_theory.leakage.ambient.ddpm_objective`) or on Algorithm 1
(:func:`~diffmem_theory.leakage.ambient.algorithm1_objective`, clean data for t <= t_n, one fixed
noisy copy per point above) over a sweep of sigma_tn (VP units; VPTrig, so t_n = sigma_tn). Samples
are DDIM end points (2000 per model). Reported per model:

* memorization: the fraction of samples memorized in the 1/3 nearest-neighbour-ratio sense
  (:func:`~diffmem_theory.core.metrics.memorization_ratio`, c = 1/9), the fraction within r = 0.1
  of a training point, and the mean / median nearest-training-point distance (Table 4 analogue, a
  distance instead of a DINOv2 similarity: larger = less copying);
* quality: the closed-form Gaussian Frechet distance (FD) of the samples to the true mixture
  (:func:`~diffmem_theory.core.metrics.gaussian_frechet_distance` on means and covariances).

The exact optimum of either objective reproduces the training set (Sec. 2.2; Algorithm 1 trains
on the clean points for t <= t_n, so its exact optimum ends on them too), whose FD is reported as
``fd_training_set``; the effect needs imperfect fitting.

Quick mode: one seed, sigma_tn in {0 (DDPM), 0.3, 0.45, 0.6, 0.8}, 500 epochs, 4 noise draws
per point and epoch (~10 s). Full mode: seeds ``seed..seed+2``, nine levels up to 0.9, 3000
epochs, 16 draws.

Examples
--------
>>> from diffmem_theory.registry import get_experiment
>>> r = get_experiment("paper004.ambient").run(quick=True)   # doctest: +SKIP
>>> bool(r["memorized"][:, 0].mean() > r["memorized"][:, 2].mean())   # doctest: +SKIP
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from diffmem_theory.core.distributions import IsotropicGaussianMixture, sphere_means
from diffmem_theory.core.dynamics import ddim_sample
from diffmem_theory.core.metrics import (
    gaussian_frechet_distance,
    memorization_fraction,
    memorization_ratio,
    nearest_distances,
)
from diffmem_theory.core.optim import WarmupDecay
from diffmem_theory.core.schedules import VPTrig
from diffmem_theory.core.training import GMMDenoiser, fit, partial_memorization_init
from diffmem_theory.leakage.ambient import algorithm1_objective, ddpm_objective, noisy_copies
from diffmem_theory.plotting import PALETTE, figure, paper_style
from diffmem_theory.registry import experiment

SCHED = VPTrig()
K, D, RADIUS, VAR = 3, 2, 2.0, 0.3
N_TRAIN, M = 16, 8
N_GEN, RADIUS_NEAR = 2000, 0.1
PEAK_LR, FINAL_LR, VAR0 = 0.02, 1e-4, 1e-2
SETTINGS: dict[bool, dict[str, Any]] = {
    True: {"levels": (0.0, 0.3, 0.45, 0.6, 0.8), "epochs": 500, "n_dup": 4, "n_seeds": 1},
    False: {
        "levels": (0.0, 0.1, 0.2, 0.3, 0.45, 0.6, 0.7, 0.8, 0.9),
        "epochs": 3000,
        "n_dup": 16,
        "n_seeds": 3,
    },
}


def mixture_moments(gmm: IsotropicGaussianMixture) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of an isotropic mixture: sum pi mu, sum pi (mu-m)(mu-m)^T + s^2 I.

    >>> g = IsotropicGaussianMixture(np.array([[1.0, 0.0], [-1.0, 0.0]]), 0.5)
    >>> m, C = mixture_moments(g)
    >>> m.tolist(), C.tolist()
    ([0.0, 0.0], [[1.5, 0.0], [0.0, 0.5]])
    """
    mean = gmm.weights @ gmm.means
    centred = gmm.means - mean
    return mean, (centred.T * gmm.weights) @ centred + float(np.mean(gmm.var)) * np.eye(gmm.dim)


def train_denoiser(
    X: np.ndarray, sigma_tn: float, epochs: int, n_dup: int, seed: int
) -> GMMDenoiser:
    """Train the M-component GMM denoiser with DDPM (sigma_tn = 0) or Algorithm 1 (t_n = sigma_tn).

    >>> X = np.random.default_rng(0).standard_normal((16, 2))
    >>> train_denoiser(X, 0.5, 20, 1, 0).means.shape
    (8, 2)
    """
    if sigma_tn == 0.0:
        obj = ddpm_objective(X, SCHED, n_dup=n_dup, seed=seed)
    else:
        copies = noisy_copies(X, sigma_tn, np.random.default_rng([seed, 1]))
        obj = algorithm1_objective(X, copies, sigma_tn, SCHED, n_dup=n_dup, seed=seed)
    init = partial_memorization_init(X, M, np.random.default_rng([seed, 2]), VAR0)
    lr = WarmupDecay(epochs, PEAK_LR, FINAL_LR)
    return GMMDenoiser.unpack(fit(obj, init.pack(), epochs, lr=lr, progress=False).params, D)


def evaluate(
    samples: np.ndarray, X: np.ndarray, moments: tuple[np.ndarray, np.ndarray]
) -> dict[str, float]:
    """Memorization (1/3 ratio, within r, NN distances) and FD to the truth of ``samples``.

    >>> X = np.array([[0.0, 0.0], [3.0, 0.0]])
    >>> r = evaluate(X + 0.01, X, (np.zeros(2), np.eye(2)))
    >>> r["memorized"], r["within_r"]
    (1.0, 1.0)
    """
    near = nearest_distances(samples, X, (50,))
    fd = gaussian_frechet_distance(samples.mean(0), np.cov(samples.T), *moments)
    return {
        "memorized": memorization_ratio(samples, X),
        "within_r": memorization_fraction(samples, X, RADIUS_NEAR),
        "nn_mean": near.mean,
        "nn_median": near.percentiles[50.0],
        "fd": fd,
    }


def _one_seed(seed: int, cfg: dict[str, Any]) -> tuple[dict[str, list[float]], float]:
    rng = np.random.default_rng(seed)
    gmm = IsotropicGaussianMixture(sphere_means(K, D, rng, radius=RADIUS), VAR)
    X, _ = gmm.sample(N_TRAIN, rng)
    moments = mixture_moments(gmm)
    rows: dict[str, list[float]] = {}
    for level in cfg["levels"]:
        model = train_denoiser(X, level, cfg["epochs"], cfg["n_dup"], seed)
        samples = ddim_sample(
            lambda x, t, m=model: m.denoiser(x, t, SCHED), SCHED, n=N_GEN, d=D, rng=seed + 7
        )
        for key, value in evaluate(samples, X, moments).items():
            rows.setdefault(key, []).append(value)
        rows.setdefault("model_var", []).append(model.var)
    fd_train = gaussian_frechet_distance(X.mean(0), np.cov(X.T), *moments)
    return rows, fd_train


def _plot(result: dict[str, Any]) -> Any:
    levels = result["sigma_tn"]
    fig, (ax0, ax1) = figure(ncols=2, aspect=0.6)
    with paper_style():
        mem, fd = result["memorized"].mean(0), result["fd"].mean(0)
        ax0.plot(levels, mem, "o-", color=PALETTE[0], label="memorized (1/3 NN ratio)")
        ax0.plot(
            levels, result["within_r"].mean(0), "s--", color=PALETTE[2], label="within r = 0.1"
        )
        ax0.set(xlabel=r"$\sigma_{t_n}$ (VP; 0 = DDPM)", ylabel="fraction of samples")
        ax0.set_ylim(bottom=0)
        ax0.legend(loc="best")
        ax0.set_title("memorization vs $t_n$")
        ax1.plot(mem[1:], fd[1:], "o", color=PALETTE[1], label="Algorithm 1")
        for x, y, s in zip(mem[1:], fd[1:], levels[1:], strict=True):
            ax1.annotate(f"{s:g}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
        ax1.plot(mem[:1], fd[:1], "*", color="k", markersize=11, label="DDPM")
        ax1.axhline(result["fd_training_set"].mean(), color="0.5", ls=":", label="training set")
        ax1.set(xlabel="memorized fraction", ylabel="Frechet distance to the true mixture")
        ax1.legend(loc="best")
        ax1.set_title(f"quality vs memorization (n = {N_TRAIN}, M = {M})")
    return fig


@experiment(
    "paper004.ambient",
    plot=_plot,
    figure="Fig. 2 / Table 4 (synthetic analogue)",
    title="Ambient Algorithm 1 vs DDPM: memorization and Frechet distance over sigma_tn",
)
def run(quick: bool = True, seed: int = 0) -> dict[str, Any]:
    """Train DDPM and Algorithm 1 GMM denoisers over the sigma_tn sweep; score their samples."""
    cfg = SETTINGS[quick]
    per_seed = [_one_seed(seed + s, cfg) for s in range(cfg["n_seeds"])]
    out: dict[str, Any] = {
        "sigma_tn": np.array(cfg["levels"]),
        "seeds": seed + np.arange(len(per_seed)),
    }
    for key in per_seed[0][0]:
        out[key] = np.array([rows[key] for rows, _ in per_seed])
    out["fd_training_set"] = np.array([fd for _, fd in per_seed])
    best = 1 + int(np.argmin(out["memorized"].mean(0)[1:]))
    out["best_sigma_tn"] = float(out["sigma_tn"][best])
    return out
