"""Checks of the denoiser identities of Buchanan et al. (paper 000): Lemma 2.1, eqs. (7), (9)-(12),
(16), Tweedie (4), Lemma E.4 / Thm F.1 (nominal error law) and the H.4 Woodbury forms.

Each check draws a random instance from ``seed``, computes both sides independently and returns an
:class:`~diffmem_theory.registry.Outcome`.
"""

from __future__ import annotations

import numpy as np

from diffmem_theory.core.denoisers import (
    gmm_denoiser,
    iso_gmm_denoiser,
    memorizing_denoiser,
    nominal_denoiser,
    score_from_denoiser,
    template_denoiser,
)
from diffmem_theory.core.distributions import (
    GaussianMixture,
    IsotropicGaussianMixture,
    TemplateMixture,
    sphere_means,
)
from diffmem_theory.core.schedules import VPTrig
from diffmem_theory.registry import Outcome, check

_SCHED = VPTrig()


def _random_covs(rng: np.random.Generator, m: int, d: int) -> np.ndarray:
    g = rng.standard_normal((m, d, d))
    return g @ g.transpose(0, 2, 1) / d + 0.1 * np.eye(d)


def _rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(1.0, float(np.abs(b).max())))


@check(
    "paper000.lemma2_1_tweedie", equation="Buchanan et al., Lemma 2.1 (eq. (9)) + Tweedie eq. (4)"
)
def lemma2_1_tweedie(seed: int = 0) -> Outcome:
    """Tweedie score (alpha xbar - x)/sigma^2 of the Lemma 2.1 denoiser = FD gradient of log p_t.

    General-covariance mixture (d = 3, M = 4, random SPD covariances and weights); the gradient of
    log p_t is taken by central differences (h = 1e-5) of the log-sum-exp mixture density.
    """
    rng = np.random.default_rng(seed)
    d, m = 3, 4
    w = rng.uniform(0.2, 1.0, m)
    mix = GaussianMixture(rng.standard_normal((m, d)) * 1.5, _random_covs(rng, m, d), w / w.sum())
    t = float(rng.uniform(0.2, 0.8))
    x = rng.standard_normal((5, d)) * 1.5
    xbar = gmm_denoiser(x, t, mix.means, mix.covs, _SCHED, mix.weights)
    score = score_from_denoiser(x, t, xbar, _SCHED)
    h = 1e-5
    fd = np.stack(
        [
            (mix.log_prob_t(x + h * e, t, _SCHED) - mix.log_prob_t(x - h * e, t, _SCHED)) / (2 * h)
            for e in np.eye(d)
        ],
        axis=1,
    )
    err, tol = _rel_err(score, fd), 1e-6
    return Outcome(err, 0.0, tol, err <= tol, f"t={t:.3f}; max relative |score - FD grad|")


@check("paper000.iso_equals_general", equation="Buchanan et al., eqs. (11)-(12) vs eq. (9)")
def iso_equals_general(seed: int = 0) -> Outcome:
    """The isotropic denoiser (11)-(12) equals the general denoiser (9) with Sigma = s^2 I."""
    rng = np.random.default_rng(seed)
    d, m = 5, 6
    means, s2 = rng.standard_normal((m, d)) * 2, float(rng.uniform(0.2, 2.0))
    t = float(rng.uniform(0.05, 0.95))
    x = rng.standard_normal((8, d)) * 2
    iso = iso_gmm_denoiser(x, t, means, s2, _SCHED)
    general = gmm_denoiser(x, t, means, np.broadcast_to(s2 * np.eye(d), (m, d, d)), _SCHED)
    err, tol = _rel_err(iso, general), 1e-9
    return Outcome(err, 0.0, tol, err <= tol, f"t={t:.3f}, s^2={s2:.3f}")


@check("paper000.eq9_memorizing_limit", equation="Buchanan et al., Lemma 2.1 -> eq. (7)")
def eq9_memorizing_limit(seed: int = 0) -> Outcome:
    """Lemma 2.1 with mu_i = x^i and Sigma_i = s^2 I, s^2 = 1e-9, is the memorizing denoiser (7).

    The gap is O(s^2 / sigma_t^2); the tolerance is 1e-6.
    """
    rng = np.random.default_rng(seed)
    n, d = 20, 4
    X, x = rng.standard_normal((n, d)), rng.standard_normal((6, d))
    t = float(rng.uniform(0.2, 0.9))
    limit = gmm_denoiser(x, t, X, np.broadcast_to(1e-9 * np.eye(d), (n, d, d)), _SCHED)
    mem = memorizing_denoiser(x, t, X, _SCHED)
    err, tol = _rel_err(limit, mem), 1e-6
    return Outcome(err, 0.0, tol, err <= tol, f"t={t:.3f}, N={n}, s^2=1e-9")


@check(
    "paper000.generalizing_is_true_posterior",
    equation="Buchanan et al., Lemma 2.1 with M = K (xbar_*) = E[X_0 | X_t]",
)
def generalizing_is_true_posterior(seed: int = 0) -> Outcome:
    """xbar_* (eq. (11), M = K, true parameters) = importance-weighted Monte Carlo E[X_0 | X_t = x].

    X_0 ~ pi_* (2e5 prior draws) weighted by N(x; alpha X_0, sigma^2 I) (self-normalized importance
    sampling); value = max |z| over queries and coordinates, z = (MC - xbar_*)/SE, passes at 4.
    """
    rng = np.random.default_rng(seed)
    d, k = 2, 3
    mix = IsotropicGaussianMixture(sphere_means(k, d, rng), 0.5)
    t = 0.6
    alpha, sigma = float(_SCHED.alpha(t)), float(_SCHED.sigma(t))
    x0, _ = mix.sample(3, rng)
    x = alpha * x0 + sigma * rng.standard_normal(x0.shape)
    prior, _ = mix.sample(200_000, rng)
    xbar = mix.denoiser(x, t, _SCHED)
    z = []
    for xi, xb in zip(x, xbar, strict=True):
        logw = -0.5 * ((xi - alpha * prior) ** 2).sum(1) / sigma**2
        w = np.exp(logw - logw.max())
        w /= w.sum()
        est = w @ prior
        se = np.sqrt((w[:, None] ** 2 * (prior - est) ** 2).sum(0))
        z.append(np.abs(est - xb) / se)
    value = float(np.max(z))
    return Outcome(
        value, 0.0, 4.0, value <= 4.0, "max |MC - xbar_*| / SE over 3 queries x 2 coords"
    )


@check("paper000.h4_woodbury", equation="Buchanan et al., App. H.4 (Sherman-Morrison-Woodbury)")
def h4_woodbury(seed: int = 0) -> Outcome:
    """The H.4 low-rank template denoiser, density and score equal the dense Lemma 2.1 forms.

    K = 3 templates of 3x3 pixels with unequal norms, c = 3 colors, nonzero color means; the
    dense mixture has d = 27 and rank-3 covariances s^2 (I_c (x) x_k x_k^T).
    """
    rng = np.random.default_rng(seed)
    templates = rng.uniform(0.0, 1.0, (3, 3, 3)) * np.array([0.5, 1.0, 2.0])[:, None, None]
    tm = TemplateMixture(templates, rng.standard_normal((3, 3)), 0.8)
    gm = tm.to_gaussian_mixture()
    t = float(rng.uniform(0.1, 0.9))
    x = np.concatenate(
        [float(_SCHED.alpha(t)) * tm.sample(3, rng)[0], rng.standard_normal((3, tm.dim))]
    )
    woodbury = template_denoiser(x, t, templates, tm.color_means, tm.color_var, _SCHED)
    errs = [
        _rel_err(woodbury, gmm_denoiser(x, t, gm.means, gm.covs, _SCHED)),
        _rel_err(tm.log_prob_t(x, t, _SCHED), gm.log_prob_t(x, t, _SCHED)),
        _rel_err(tm.score_t(x, t, _SCHED), gm.score_t(x, t, _SCHED)),
    ]
    err, tol = max(errs), 1e-8
    return Outcome(
        err, 0.0, tol, err <= tol, f"t={t:.3f}; max rel. error of (xbar, log p_t, score)"
    )


@check(
    "paper000.nominal_error_law",
    equation="Buchanan et al., Lemma E.4, proof of Thm F.1: E|xbar_nom - x|^2 = d s^2/(psi s^2+1)",
)
def nominal_error_law(seed: int = 0) -> Outcome:
    """The nominal denoiser's mean squared error is exactly d s^2/(psi_t s^2 + 1) (MC, 4 SE).

    x^i ~ pi_* (K = 4 sphere means, d = 20, s^2 = 0.7), x_t = alpha_t x^i + sigma_t g at t = 0.5,
    4000 draws; xbar_nom - x^i ~ N(0, v I) with v = s^2 sigma_t^2 / (alpha_t^2 s^2 + sigma_t^2).
    """
    rng = np.random.default_rng(seed)
    d, k, s2, t, n = 20, 4, 0.7, 0.5, 4000
    mix = IsotropicGaussianMixture(sphere_means(k, d, rng), s2)
    X, labels = mix.sample(n, rng)
    xt = float(_SCHED.alpha(t)) * X + float(_SCHED.sigma(t)) * rng.standard_normal(X.shape)
    err2 = ((nominal_denoiser(xt, t, mix.means, s2, labels, _SCHED) - X) ** 2).sum(1)
    reference = d * s2 / (float(_SCHED.snr(t)) * s2 + 1.0)
    mean, tol = float(err2.mean()), 4.0 * float(err2.std(ddof=1)) / np.sqrt(n)
    return Outcome(mean, reference, tol, abs(mean - reference) <= tol, f"t={t}, d={d}, n={n}")
