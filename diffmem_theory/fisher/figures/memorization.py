r"""``paper003.memorization``: memorization ratio and likelihood against model capacity and n.

Ye, Zhu, Tao, Chen, "Provable Separations between Memorization and Generalization in Diffusion
Models" (paper 003), Sec. 6.1, Figs. 1-2. Data: the mixture
``(1/K) sum_k N(mu_k, I_d)`` with ``mu_k ~ N(0, 4 I_d)`` i.i.d.; the two training sets are nested
(the smaller is the first ``n`` points of the larger). Process: the paper's VP process with
beta = 1 (:class:`~diffmem_theory.core.schedules.VPExp`, ``alpha_t = e^{-t/2}``, §1.1). Samples: the
reverse SDE by Euler-Maruyama on a geometric grid of 1000 steps from ``T = 8`` to ``t_0 = 1e-3``,
started from ``N(0, I)`` (the paper leaves its sampler unspecified), output at ``t_0``.

Models. The paper's ReLU networks are replaced by M-component isotropic GMM denoisers trained as
in paper 000 (:func:`~diffmem_theory.core.training.train_gmm_denoiser`, eps-weighted loss, partial
memorization start), whose number of components M plays the role of network size; they are
trained on VPExp at 26 geometric grid times in ``[t_0, T]`` (the trainer draws t uniformly on a
grid) and sampled on the same schedule. Every model is an isotropic mixture: the empirical score
(the memorizing denoiser, the training points with variance 0), the true mixture, and the trained
``(means, var)``. Measures for each model, on the same sampler noise:

* memorization ratio: the fraction of samples with ``|x - x_(1)| <= (1/3) |x - x_(2)|``
  (unsquared l2, Sec. 6.1; :func:`~diffmem_theory.core.metrics.memorization_ratio` with
  ``c = 1/9`` on squared distances is the same set);
* sample log-likelihood: mean ``log p_data(x_hat)`` under the true mixture (our choice of
  quality measure: the paper does not say under which density its likelihood is taken). It
  does *not* penalize memorization: a memorized sample is a training point, i.e. a draw from
  ``p_data``;
* test log-likelihood: mean log-density of held-out data under the model's own marginal at
  ``t_0`` (a mixture with variances ``alpha^2 s^2 + sigma^2``), which a memorizing model loses
  (its density at ``t_0`` is a kernel density estimate of bandwidth ``sigma_{t_0} ~ 0.03``).

The paper's claims (qualitative, no numbers): larger capacity memorizes more, larger n memorizes
less. Quick mode: K = 4, d = 8, n in {50, 200}, M in {4, 12, 25, 38, 50, 100, 150} (M <= n;
M = n is the memorizing start, which training keeps: the empirical score stands for it at
n = 200), paper 000's compressed training (2000 epochs, N_dup = 5, peak lr 1e-2, Adam
b2 = 0.99), 500 samples, 2000 test points; about 20 s. (N_dup = 10 gives the same curves, every
ratio within 0.02 and every learned variance within 0.03, at 1.3 times the cost.) Full mode:
the paper's K = 8, d = 32, with n in {400, 1600} (the paper's 3.2K and 10K are out of reach of
exact GMM training on a CPU), M from 8 to n, 10,000 epochs, 2000 samples; hours on 2 cores.

Example
-------
>>> gmm, X = laboratory(20, d=2, K=2, seed=0)
>>> X.shape, gmm.means.shape, gmm.var
((20, 2), (2, 2), 1.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.random import SeedSequence
from numpy.typing import ArrayLike
from scipy.special import logsumexp
from tqdm.auto import tqdm

from diffmem_theory import _progress as bars
from diffmem_theory._validation import (
    as_float_array,
    bounded_points,
    check_allocation,
    check_int,
    check_last_dim,
    finite_result,
)
from diffmem_theory.core.distributions import IsotropicGaussianMixture
from diffmem_theory.core.dynamics import euler_maruyama_sample
from diffmem_theory.core.metrics import memorization_ratio
from diffmem_theory.core.schedules import VPExp
from diffmem_theory.core.training import TrainConfig, train_gmm_denoiser
from diffmem_theory.plotting import PALETTE, figure, paper_style
from diffmem_theory.registry import experiment

__all__ = [
    "FULL",
    "QUICK",
    "SCHED",
    "data_log_likelihood",
    "evaluate",
    "laboratory",
    "sampling_grid",
    "trained_mixture",
]

SCHED = VPExp()
T_MAX, T_MIN = 8.0, 1e-3
_MAX_STEPS = 10**6  # sampling_grid: at most this many Euler-Maruyama steps
MEANS_SCALE = 2.0  # mu_k ~ N(0, 4 I)
TRAIN_TIMES = tuple(np.geomspace(T_MAX, T_MIN, 26).tolist())
QUICK: dict[str, Any] = {
    "K": 4,
    "d": 8,
    "ns": (50, 200),
    "Ms": (4, 12, 25, 38, 50, 100, 150),
    "train": {"n_epochs": 2000, "n_dup": 5, "peak_lr": 1e-2, "adam_b2": 0.99},
    "n_samples": 500,
    "n_test": 2000,
}
FULL: dict[str, Any] = {
    "K": 8,
    "d": 32,
    "ns": (400, 1600),
    "Ms": (8, 16, 32, 64, 100, 200, 300, 400, 800, 1200, 1600),
    "train": {"n_epochs": 10_000, "n_dup": 10, "peak_lr": 1e-2, "adam_b2": 0.99},
    "n_samples": 2000,
    "n_test": 5000,
}


def laboratory(n: int, d: int, K: int, seed: int) -> tuple[IsotropicGaussianMixture, np.ndarray]:
    r"""The data of Sec. 6.1: ``(1/K) sum_k N(mu_k, I_d)``, ``mu_k ~ N(0, 4 I_d)``, n samples.

    Ye et al. (paper 003), Sec. 6.1 ("K = 8, mu^(k) ~ N(0, 4 I_d)"). The means and
    the labels and the noise come from three generators spawned from ``seed``, so a larger ``n``
    extends the same sample.

    >>> _, X = laboratory(5, 3, 2, seed=1)
    >>> bool(np.array_equal(X, laboratory(8, 3, 2, seed=1)[1][:5]))
    True
    """
    count, dim, k = check_int(n, "n", low=2), check_int(d, "d", low=1), check_int(K, "K", low=1)
    means_rng, label_rng, noise_rng = (
        np.random.default_rng(s) for s in SeedSequence(seed).spawn(3)
    )
    gmm = IsotropicGaussianMixture(means_rng.normal(0.0, MEANS_SCALE, (k, dim)), 1.0)
    labels = label_rng.integers(0, k, count)
    return gmm, gmm.means[labels] + noise_rng.standard_normal((count, dim))


def data_log_likelihood(x: ArrayLike, mixture: IsotropicGaussianMixture) -> np.ndarray:
    r"""Exact log-density at t = 0 of an isotropic mixture with positive variances.

    ``log p(x) = logsumexp_k [log pi_k - (d/2) log(2 pi s_k^2) - |x - mu_k|^2 / (2 s_k^2)]``, the
    mean log-likelihood of Ye et al. (paper 003), Fig. 2 (dashed lines), evaluated under the true
    mixture (our reading: the paper does not say under which density). ``x`` has shape
    ``(B, d)``; returns ``(B,)``. The (B, K, d) differences are within the memory cap of
    ``_validation.check_allocation``, and a log-density beyond float64 (|x| ~ 1e155 and more)
    raises ``ValueError``.

    >>> mix = IsotropicGaussianMixture(np.zeros((1, 2)), 1.0)
    >>> data_log_likelihood(np.zeros((1, 2)), mix).round(6).tolist()   # -log(2 pi)
    [-1.837877]
    """
    if not isinstance(mixture, IsotropicGaussianMixture):
        raise TypeError(f"mixture must be an IsotropicGaussianMixture, got {type(mixture)!r}")
    var = np.broadcast_to(np.asarray(mixture.var, dtype=np.float64), mixture.weights.shape)
    if np.any(var <= 0.0):
        raise ValueError(
            f"mixture.var must be > 0 (a density at t = 0), got {mixture.var!r}; for var = 0 "
            f"use log_prob_t at t > 0"
        )
    pts = as_float_array(x, "x", ndim=2)
    check_last_dim(pts, mixture.dim, "x", "the mixture")
    check_allocation(2 * pts.shape[0] * mixture.means.size, "the (B, K, d) differences")
    with np.errstate(over="ignore"):
        sq = np.sum((pts[:, None, :] - mixture.means[None]) ** 2, axis=-1)
    logits = np.log(mixture.weights) - 0.5 * mixture.dim * np.log(2 * np.pi * var) - sq / (2 * var)
    return finite_result(logsumexp(logits, axis=1), "the log-density")


def sampling_grid(n_steps: int = 1000) -> np.ndarray:
    """Our sampling grid: ``n_steps + 1`` geometric times from T = 8 down to t_0 = 1e-3.

    ``1 <= n_steps <= 10^6``.

    >>> g = sampling_grid()
    >>> g.size, float(g[0]), float(g[-1])
    (1001, 8.0, 0.001)
    """
    return np.geomspace(T_MAX, T_MIN, check_int(n_steps, "n_steps", low=1, high=_MAX_STEPS) + 1)


def trained_mixture(X: np.ndarray, M: int, train: dict[str, Any], seed: int) -> Any:
    r"""An M-component GMM denoiser trained on ``X`` (paper 000, Sec. 4 / App. H.1) on VPExp.

    ``train`` holds the :class:`~diffmem_theory.core.training.TrainConfig` settings (epochs, N_dup,
    peak learning rate, Adam b2); times are :data:`TRAIN_TIMES`. Returns the learned model as an
    :class:`~diffmem_theory.core.distributions.IsotropicGaussianMixture` ``(means, var)``, whose
    ``denoiser`` is the trained ``xbar_theta`` of eqs. (11)-(12).

    >>> _, X = laboratory(12, 2, 2, seed=0)
    >>> trained_mixture(X, 12, {"n_epochs": 20, "n_dup": 2}, seed=0).var < 1e-3   # M = n
    True
    """
    config = TrainConfig(seed=seed, times=TRAIN_TIMES, **train)
    model = train_gmm_denoiser(X, M, config, schedule=SCHED, progress=False).model
    return IsotropicGaussianMixture(model.means, model.var)


def evaluate(
    model: IsotropicGaussianMixture,
    gmm: IsotropicGaussianMixture,
    X: np.ndarray,
    test: np.ndarray,
    n_samples: int,
    seed: int,
    n_steps: int = 1000,
) -> dict[str, float]:
    r"""Sample a model by the reverse SDE and measure memorization and likelihoods.

    Euler-Maruyama (:func:`~diffmem_theory.core.dynamics.euler_maruyama_sample`) with the model's
    denoiser on :func:`sampling_grid`, from ``N(0, I)``; returns the memorization ratio
    (``|x - x_(1)| <= |x - x_(2)|/3``, Ye et al., Sec. 6.1), the mean true log-likelihood of
    the samples (:func:`data_log_likelihood`) and the mean log-density of ``test`` under the
    model's marginal at ``t_0``. ``model`` and ``gmm`` are
    :class:`~diffmem_theory.core.distributions.IsotropicGaussianMixture` (``TypeError`` otherwise),
    ``X`` and ``test`` non-empty ``(n, d)`` arrays in the mixtures' dimension (coordinates below
    ~1e150, so that squared distances are finite), ``n_samples >= 1``.

    >>> gmm, X = laboratory(30, 4, 2, seed=0)
    >>> memorizer = IsotropicGaussianMixture(X, 0.0)   # the empirical score
    >>> evaluate(memorizer, gmm, X, X[:5], n_samples=20, seed=0, n_steps=400)["ratio"]
    1.0
    """
    for value, name in ((model, "model"), (gmm, "gmm")):
        if not isinstance(value, IsotropicGaussianMixture):
            raise TypeError(f"{name} must be an IsotropicGaussianMixture, got {type(value)!r}")
    data, held_out = (
        as_float_array(v, name, ndim=2, dtype=np.float64) for v, name in ((X, "X"), (test, "test"))
    )
    for arr, name in ((data, "X"), (held_out, "test")):
        if arr.shape[0] == 0:
            raise ValueError(f"{name} must hold at least one point, got shape {arr.shape}")
        check_last_dim(arr, gmm.dim, name, "gmm")
        bounded_points(arr, name)  # the memorization ratio needs finite squared distances
    check_last_dim(data, model.dim, "X", "model")
    count = check_int(n_samples, "n_samples", low=1)
    check_allocation(4 * count * data.shape[1], f"n_samples = {count} samples")
    samples = euler_maruyama_sample(
        lambda x, t: model.denoiser(x, t, SCHED),
        SCHED,
        n=count,
        d=data.shape[1],
        times=sampling_grid(n_steps),
        rng=np.random.default_rng(check_int(seed, "seed", low=0)),
    )
    return {
        "ratio": memorization_ratio(samples, data),
        "sample_ll": float(np.mean(data_log_likelihood(samples, gmm))),
        "test_ll": float(np.mean(model.log_prob_t(held_out, T_MIN, SCHED))),
    }


def _run(setting: dict[str, Any], seed: int) -> dict[str, Any]:
    K, d, ns = setting["K"], setting["d"], tuple(setting["ns"])
    gmm, data = laboratory(max(ns), d, K, seed)
    test = gmm.sample(setting["n_test"], np.random.default_rng([seed, 1]))[0]
    sample_seed = seed + 1  # the same sampler noise for every model
    n_samples = setting["n_samples"]
    keys = ("ratio", "sample_ll", "test_ll")
    curves: dict[int, dict[str, np.ndarray]] = {}
    baselines: dict[str, dict[str, float]] = {
        "true": evaluate(gmm, gmm, data, test, n_samples, sample_seed)
    }
    jobs = [(n, M) for n in ns for M in setting["Ms"] if K <= M <= n]
    bar = tqdm(
        total=len(jobs), desc="paper003.memorization", leave=False, disable=bars.disable(None)
    )
    for n in ns:
        X = data[:n]
        baselines[f"empirical_{n}"] = evaluate(
            IsotropicGaussianMixture(X, 0.0), gmm, X, test, n_samples, sample_seed
        )
        Ms = [M for M in setting["Ms"] if K <= M <= n]
        rows = []
        for M in Ms:
            model = trained_mixture(X, M, setting["train"], seed)
            rows.append({**evaluate(model, gmm, X, test, n_samples, sample_seed), "var": model.var})
            bar.update(1)
        curves[n] = {k: np.array([r[k] for r in rows]) for k in (*keys, "var")}
        curves[n]["M"] = np.array(Ms)
    bar.close()
    return {"setting": setting, "ns": ns, "curves": curves, "baselines": baselines}


def _plot(result: dict[str, Any]) -> Any:
    fig, axes = figure(ncols=3, aspect=0.85)
    base, ns = result["baselines"], result["ns"]
    panels = (  # (key, sign, label): the test likelihood is shown as a negative log-likelihood
        ("ratio", 1.0, "memorization ratio"),
        ("test_ll", -1.0, r"test NLL under the model at $t_0$"),
        ("sample_ll", 1.0, r"sample log-likelihood under $p_{\mathrm{data}}$"),
    )
    with paper_style():
        for ax, (key, sign, label) in zip(axes, panels, strict=True):
            for i, n in enumerate(ns):
                c = result["curves"][n]
                ax.plot(c["M"], sign * c[key], "o-", color=PALETTE[i], label=f"GMM, $n = {n}$")
                emp = sign * base[f"empirical_{n}"][key]
                ax.axhline(emp, color=PALETTE[i], ls="--", lw=0.8, label=f"empirical, $n = {n}$")
            ax.axhline(sign * base["true"][key], color="0.3", ls=":", label="true score")
            ax.set(xscale="log", xlabel="components $M$ (capacity)", ylabel=label)
        axes[0].set_ylim(-0.03, 1.03)
        axes[1].set_yscale("log")
        axes[0].legend(loc="center left", fontsize=6)
    return fig


@experiment(
    "paper003.memorization",
    plot=_plot,
    figure="Figs. 1-2",
    title="GMM denoisers: memorization ratio and log-likelihood vs capacity M for two n",
)
def run_memorization(quick: bool = True, seed: int = 0) -> dict[str, Any]:
    """Trained GMM denoisers of capacity M, the empirical and the true score, for two n."""
    return _run(QUICK if quick else FULL, seed)
