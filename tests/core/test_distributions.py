"""Tests for diffmem_theory.core.distributions (paper 000: eq. (8), proof of Lemma 2.1, eq. (16),
H.4).
"""

from __future__ import annotations

import dataclasses

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from diffmem_theory.core import denoisers as dn
from diffmem_theory.core.distributions import (
    GaussianMixture,
    IsotropicGaussianMixture,
    TemplateMixture,
    sphere_means,
)
from diffmem_theory.core.schedules import (
    PREDICTIONS,
    VE,
    FlowMatching,
    VPTrig,
    convert_prediction,
)

SCHED = VPTrig()
SEEDS = st.integers(0, 2**31 - 1)


def random_covs(rng, m, d):
    g = rng.standard_normal((m, d, d))
    return g @ g.transpose(0, 2, 1) / d + 0.1 * np.eye(d)


def random_weights(rng, m):
    w = rng.uniform(0.2, 1.0, m)
    return w / w.sum()


def random_mixtures(rng):
    """One mixture of each kind with comparable scales (dimension 6 for all)."""
    m = 3
    tpl = rng.uniform(0.1, 1.0, (m, 1, 2)) * np.array([0.5, 1.0, 2.0])[:, None, None]
    return {
        "general": GaussianMixture(
            rng.standard_normal((m, 6)), random_covs(rng, m, 6), random_weights(rng, m)
        ),
        "iso": IsotropicGaussianMixture(rng.standard_normal((m, 6)), 0.7, random_weights(rng, m)),
        "iso_per_comp": IsotropicGaussianMixture(
            rng.standard_normal((m, 6)), np.array([0.3, 1.0, 2.0])
        ),
        "template": TemplateMixture(tpl, rng.standard_normal((m, 3)), 0.6, random_weights(rng, m)),
    }


def dense_params(mix):
    """(weights, means (K, d), covs (K, d, d)) of any mixture, for the scipy twin."""
    if isinstance(mix, TemplateMixture):
        mix = mix.to_gaussian_mixture()
    if isinstance(mix, IsotropicGaussianMixture):
        var = np.broadcast_to(np.asarray(mix.var), (mix.n_components,))
        return mix.weights, mix.means, var[:, None, None] * np.eye(mix.dim)
    return mix.weights, mix.means, mix.covs


def scipy_log_prob_t(mix, x, t, schedule):
    """log sum_k pi_k N(x; alpha mu_k, alpha^2 Sigma_k + sigma^2 I) with scipy.stats."""
    w, mu, cov = dense_params(mix)
    a, s = float(schedule.alpha(t)), float(schedule.sigma(t))
    terms = [
        np.log(wk) + multivariate_normal(a * m, a**2 * c + s**2 * np.eye(len(m))).logpdf(x)
        for wk, m, c in zip(w, mu, cov, strict=True)
    ]
    return logsumexp(np.stack(terms, axis=-1), axis=-1)


@settings(max_examples=15, deadline=None)
@given(seed=SEEDS, t=st.floats(0.01, 0.99))
def test_log_prob_t_matches_scipy(seed, t):
    rng = np.random.default_rng(seed)
    for name, mix in random_mixtures(rng).items():
        x = rng.standard_normal((5, mix.dim)) * 2
        np.testing.assert_allclose(
            mix.log_prob_t(x, t, SCHED),
            scipy_log_prob_t(mix, x, t, SCHED),
            rtol=1e-9,
            atol=1e-9,
            err_msg=name,
        )


def test_log_prob_t_on_ve_schedule_and_per_query_times():
    rng = np.random.default_rng(1)
    sched = VE.linear2t()
    for name, mix in random_mixtures(rng).items():
        x, t = rng.standard_normal((4, mix.dim)), np.array([0.3, 0.9, 0.3, 1.0])
        want = [scipy_log_prob_t(mix, xi, ti, sched) for xi, ti in zip(x, t, strict=True)]
        np.testing.assert_allclose(mix.log_prob_t(x, t, sched), want, rtol=1e-10, err_msg=name)


@settings(max_examples=10, deadline=None)
@given(seed=SEEDS, t=st.floats(0.1, 0.9))
def test_score_t_is_gradient_and_tweedie(seed, t):
    """Eq. (16) = finite-difference gradient of log p_t = Tweedie's (alpha xbar - x)/sigma^2."""
    rng = np.random.default_rng(seed)
    h = 1e-5
    for name, mix in random_mixtures(rng).items():
        x = rng.standard_normal((3, mix.dim))
        score = mix.score_t(x, t, SCHED)
        fd = np.stack(
            [
                (mix.log_prob_t(x + h * e, t, SCHED) - mix.log_prob_t(x - h * e, t, SCHED))
                / (2 * h)
                for e in np.eye(mix.dim)
            ],
            axis=1,
        )
        scale = max(1.0, np.abs(fd).max())
        np.testing.assert_allclose(score, fd, rtol=1e-6, atol=1e-6 * scale, err_msg=name)
        tweedie = dn.score_from_denoiser(x, t, mix.denoiser(x, t, SCHED), SCHED)
        np.testing.assert_allclose(score, tweedie, rtol=1e-9, atol=1e-9 * scale, err_msg=name)


def test_template_matches_dense_mixture():
    rng = np.random.default_rng(2)
    tm = random_mixtures(rng)["template"]
    gm = tm.to_gaussian_mixture()
    x = np.concatenate([tm.sample(3, rng)[0] * 0.8, rng.standard_normal((3, tm.dim))])
    t = np.array([0.05, 0.3, 0.6, 0.6, 0.9, 0.99])
    for method in ("log_prob_t", "score_t"):
        np.testing.assert_allclose(
            getattr(tm, method)(x, t, SCHED),
            getattr(gm, method)(x, t, SCHED),
            rtol=1e-8,
            atol=1e-8,
            err_msg=method,
        )
    np.testing.assert_allclose(
        tm.denoiser(x, t, SCHED), gm.denoiser(x, t, SCHED), rtol=1e-8, atol=1e-10
    )
    np.testing.assert_allclose(
        tm.denoiser(x, t, SCHED),
        dn.template_denoiser(x, t, tm.templates, tm.color_means, tm.color_var, SCHED, tm.weights),
        rtol=1e-14,
    )


def test_dense_template_structure():
    tpl = np.array([[[1.0, 2.0]], [[0.0, 3.0]]])
    tm = TemplateMixture(tpl, np.array([[1.0, -1.0, 2.0], [0.5, 0.0, 1.0]]), 0.25)
    gm = tm.to_gaussian_mixture()
    np.testing.assert_allclose(gm.means[0], [1.0, 2.0, -1.0, -2.0, 2.0, 4.0])
    np.testing.assert_allclose(gm.covs[1], 0.25 * np.kron(np.eye(3), [[0.0, 0.0], [0.0, 9.0]]))
    assert [np.linalg.matrix_rank(c) for c in gm.covs] == [3, 3]
    X, labels = tm.sample(50, np.random.default_rng(0))
    images = X.reshape(50, *tm.image_shape).reshape(50, 3, -1)
    # every channel of a sample is a multiple of its template (rank one per sample)
    flat = tpl.reshape(2, -1)[labels]
    resid = images - (images @ flat[:, :, None] / (flat**2).sum(1)[:, None, None]) * flat[:, None]
    assert np.abs(resid).max() < 1e-12


@pytest.mark.parametrize("name", ["general", "iso", "iso_per_comp", "template"])
def test_sample_moments(name):
    """Mean and covariance of 40000 samples within 5 standard errors of the mixture's moments."""
    mix = random_mixtures(np.random.default_rng(3))[name]
    n = 40_000
    X, labels = mix.sample(n, np.random.default_rng(4))
    assert X.shape == (n, mix.dim) and labels.shape == (n,)
    w, mu, cov = dense_params(mix)
    mean = w @ mu
    second = np.einsum("k,kij->ij", w, cov + mu[:, :, None] * mu[:, None, :])
    true_cov = second - np.outer(mean, mean)
    se_mean = np.sqrt(np.diag(true_cov) / n)
    assert np.all(np.abs(X.mean(0) - mean) < 5 * se_mean)
    centered = X - mean
    prods = centered[:, :, None] * centered[:, None, :]
    se_cov = prods.std(0) / np.sqrt(n)
    assert np.all(np.abs(prods.mean(0) - true_cov) < 5 * se_cov + 1e-12)
    freq = np.bincount(labels, minlength=mix.n_components) / n
    assert np.all(np.abs(freq - w) < 5 * np.sqrt(w * (1 - w) / n))


def test_sampling_is_reproducible_and_seedable():
    mix = random_mixtures(np.random.default_rng(5))["general"]
    a, la = mix.sample(10, np.random.default_rng(7))
    b, lb = mix.sample(10, 7)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(la, lb)
    assert mix.sample(0, 1)[0].shape == (0, mix.dim)
    with pytest.raises(TypeError, match="rng"):
        mix.sample(3, "seed")


def test_sphere_means():
    mu = sphere_means(50, 7, np.random.default_rng(0))
    np.testing.assert_allclose(np.linalg.norm(mu, axis=1), np.sqrt(7), rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(sphere_means(3, 4, 1, radius=2.5), axis=1), 2.5)
    np.testing.assert_array_equal(sphere_means(5, 3, 11), sphere_means(5, 3, 11))
    # uniform on the sphere: the mean direction of many draws is near 0 (SE 1/sqrt(n))
    big = sphere_means(20_000, 3, 2) / np.sqrt(3)
    assert np.abs(big.mean(0)).max() < 5 * np.sqrt(1 / 3 / 20_000)


def test_frozen_and_read_only():
    mix = IsotropicGaussianMixture(np.zeros((2, 3)), 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        mix.var = 2.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        mix.means[0, 0] = 1.0
    user = np.ones((2, 3))
    IsotropicGaussianMixture(user, 1.0)
    user[0, 0] = 5.0  # the caller's array stays writable
    np.testing.assert_allclose(mix.weights, [0.5, 0.5])


@pytest.mark.parametrize("t", [1e-6, 1 - 1e-6])
def test_extreme_times_are_finite(t):
    for name, mix in random_mixtures(np.random.default_rng(6)).items():
        x = np.concatenate([mix.sample(2, 0)[0], np.full((1, mix.dim), 1e4 / np.sqrt(mix.dim))])
        for method in ("log_prob_t", "score_t"):
            assert np.all(np.isfinite(getattr(mix, method)(x, t, SCHED))), (name, method, t)
        assert np.all(np.isfinite(mix.denoiser(x, t, SCHED))), (name, t)


def test_iso_backends_agree():
    mix = random_mixtures(np.random.default_rng(8))["iso_per_comp"]
    x, t = np.random.default_rng(9).standard_normal((5, 6)), np.linspace(0.1, 0.9, 5)
    for method in ("log_prob_t", "score_t"):
        np.testing.assert_allclose(
            getattr(mix, method)(x, t, SCHED, backend="numpy"),
            getattr(mix, method)(x, t, SCHED, backend="numba"),
            rtol=1e-10,
        )


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: GaussianMixture(np.zeros((2, 2)), np.stack([np.eye(2), -np.eye(2)])), "covs"),
        (lambda: GaussianMixture(np.zeros((2, 2)), np.ones((2, 3, 3))), "covs"),
        (lambda: GaussianMixture(np.zeros(2), np.ones((1, 2, 2))), "means"),
        (lambda: IsotropicGaussianMixture(np.zeros((2, 2)), -0.5), "var"),
        (lambda: IsotropicGaussianMixture(np.zeros((2, 2)), 1.0, [0.2, 0.2]), "weights"),
        (lambda: IsotropicGaussianMixture(np.zeros((2, 2)), 1.0, [0.2, 0.3, 0.5]), "weights"),
        (lambda: IsotropicGaussianMixture(np.full((2, 2), np.inf), 1.0), "means"),
        (lambda: TemplateMixture(np.zeros((2, 2, 2)), np.zeros((2, 3)), 1.0), "templates"),
        (lambda: TemplateMixture(np.ones((2, 2, 2)), np.zeros((3, 3)), 1.0), "color_means"),
        (lambda: TemplateMixture(np.ones((2, 2, 2)), np.zeros((2, 3)), -1.0), "color_var"),
        (
            lambda: IsotropicGaussianMixture(np.zeros((2, 2)), 1.0).log_prob_t(
                np.zeros(3), 0.5, SCHED
            ),
            "x",
        ),
        (
            lambda: IsotropicGaussianMixture(np.zeros((2, 2)), 1.0).score_t(
                np.zeros(2), 1.5, SCHED
            ),
            "t",
        ),
        (lambda: IsotropicGaussianMixture(np.zeros((2, 2)), 1.0).sample(-1, 0), "n"),
        (lambda: sphere_means(0, 3, 0), "K"),
        (lambda: sphere_means(2, 3, 0, radius=-1.0), "radius"),
    ],
)
def test_value_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_fuzz_findings_mixtures():
    gmm = IsotropicGaussianMixture(np.array([[3.0, 0.0], [-3.0, 0.0]]), 1.0)
    with pytest.raises(ValueError, match="GiB"):  # OverflowError
        gmm.sample(2**64, 0)
    general = GaussianMixture(np.zeros((1, 2)), np.eye(2)[None])
    with pytest.raises(ValueError, match="float64 range"):  # NaN
        general.denoiser([1e300, 0.0], 0.5, VPTrig())
    with pytest.raises(ValueError, match="float64 range"):
        general.log_prob_t([1e300, 0.0], 0.5, VPTrig())
    with pytest.raises(ValueError, match="backend"):  # ignored before
        general.denoiser([1.0, 0.0], 0.5, VPTrig(), backend="nope")
    with pytest.raises(ValueError, match="GiB"):
        sphere_means(2**40, 2**30, 0)


# --- direct prediction units --------------------------------------------------------------------


@pytest.mark.parametrize("sched", [VPTrig(), VE.linear2t(), FlowMatching()])
def test_every_unit_equals_the_converted_x0_at_moderate_times(sched):
    """Away from t = 0 the direct units agree with the Tweedie conversion of the x0-prediction."""
    rng = np.random.default_rng(11)
    t = np.array([0.2, 0.5, 0.5, 0.8])
    for name, mix in random_mixtures(rng).items():
        x = rng.standard_normal((4, mix.dim))
        x0 = mix.denoiser(x, t, sched)
        for unit in PREDICTIONS:
            want = convert_prediction(x0, x, t, sched, source="x0", target=unit)
            got = mix.denoiser(x, t, sched, prediction=unit)
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10, err_msg=(name, unit))
            single = mix.denoiser(x[1], 0.5, sched, prediction=unit)
            np.testing.assert_allclose(single, want[1], rtol=1e-10, atol=1e-10)
        assert np.array_equal(
            mix.denoiser(x, t, sched, prediction="score"), mix.score_t(x, t, sched)
        )


def test_unknown_prediction_unit():
    mix = IsotropicGaussianMixture(np.zeros((2, 2)), 1.0)
    with pytest.raises(ValueError, match="prediction must be one of"):
        mix.denoiser(np.zeros(2), 0.5, SCHED, prediction="x0+score")


def _low_rank_reference(x, t, means, var, unit):
    """eps or score of sum_k (1/K) N(mu_k, diag(var_k)) at VPTrig time t, with 60-digit mpmath."""
    with mp.workdps(60):
        tt = mp.mpf(t)
        alpha, sigma = mp.sqrt(1 - tt**2), tt
        logits, scores = [], []
        for mu, v in zip(means, var, strict=True):
            noised = [alpha**2 * mp.mpf(vj) + sigma**2 for vj in v]
            r = [mp.mpf(xj) - alpha * mp.mpf(mj) for xj, mj in zip(x, mu, strict=True)]
            logits.append(
                -sum(mp.log(a) for a in noised) / 2
                - sum(rj**2 / a for rj, a in zip(r, noised, strict=True)) / 2
            )
            scores.append([-rj / a for rj, a in zip(r, noised, strict=True)])
        top = max(logits)
        w = [mp.exp(lg - top) for lg in logits]
        score = [
            sum(wk * sk[j] for wk, sk in zip(w, scores, strict=True)) / sum(w)
            for j in range(len(x))
        ]
        return np.array([float(-sigma * s if unit == "eps" else s) for s in score])


@pytest.mark.parametrize("unit", ["eps", "score"])
def test_direct_units_are_exact_at_small_t_on_a_low_rank_mixture(unit):
    """At t = 1e-6 the direct eps/score keep every digit; Tweedie from x0 loses about 4 of 16.

    Rank-2 components in R^4 (means inside their ranges): converting x0 to the score computes
    (alpha x0 - x)/sigma^2 with x0 ~ x/alpha, cancelling ~log10(|x|/(sigma^2 |score|)) digits.
    """
    means = np.array([[1.0, 0.5, 0.0, 0.0], [0.0, 0.0, -1.0, 0.2]])
    var = np.array([[1.0, 0.3, 0.0, 0.0], [0.0, 0.0, 0.5, 1.0]])
    mix = GaussianMixture(means, np.array([np.diag(v) for v in var]))
    t = 1e-6
    rng = np.random.default_rng(0)
    x0 = means + np.sqrt(var) * rng.standard_normal((2, 4))
    x = SCHED.alpha(t) * x0 + SCHED.sigma(t) * rng.standard_normal((2, 4))
    ref = np.array([_low_rank_reference(xi, t, means, var, unit) for xi in x])
    direct = mix.denoiser(x, t, SCHED, prediction=unit)
    converted = convert_prediction(mix.denoiser(x, t, SCHED), x, t, SCHED, "x0", unit)
    assert np.max(np.abs(direct - ref) / np.abs(ref)) < 1e-12
    assert np.max(np.abs(converted - ref) / np.abs(ref)) > 1e-6


@pytest.mark.parametrize("t", [0.02, 0.36, 0.9])
def test_general_mixture_units_equal_dense_solve_at_d50(t):
    """x0 and score of a 12-component full-covariance mixture in d = 50 (the peer benchmark's
    shape) against a dense twin: A_k^{-1} r_k by np.linalg.solve, log det by slogdet."""
    rng = np.random.default_rng(14)
    means, covs, w = (
        rng.standard_normal((12, 50)),
        random_covs(rng, 12, 50),
        random_weights(rng, 12),
    )
    x = rng.standard_normal((200, 50))
    a, s = float(SCHED.alpha(t)), float(SCHED.sigma(t))
    A = a**2 * covs + s**2 * np.eye(50)
    r = x[None] - a * means[:, None]  # (K, B, d)
    u = np.linalg.solve(A, r.transpose(0, 2, 1)).transpose(0, 2, 1)  # A_k^{-1} r_k
    logits = np.log(w)[:, None] - 0.5 * np.linalg.slogdet(A)[1][:, None] - 0.5 * (r * u).sum(-1)
    p = np.exp(logits - logsumexp(logits, axis=0))
    x0 = np.einsum("kb,kbd->bd", p, means[:, None] + a * u @ covs)
    score = -np.einsum("kb,kbd->bd", p, u)
    mix = GaussianMixture(means, covs, w)
    for unit, want in (("x0", x0), ("score", score)):
        got = mix.denoiser(x, t, SCHED, prediction=unit)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11 * np.abs(want).max())
