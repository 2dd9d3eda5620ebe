"""Tests for diffmem_theory.core.denoisers (paper 000: Lemma 2.1, eqs. (7), (9)-(12), Lemma E.4,
H.4).
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp, softmax

from diffmem_theory.core import denoisers as dn
from diffmem_theory.core.distributions import (
    GaussianMixture,
    IsotropicGaussianMixture,
    TemplateMixture,
)
from diffmem_theory.core.schedules import OU, VE, FlowMatching, VPLinear, VPTrig
from diffmem_theory.registry import get_check

SCHED = VPTrig()
SEEDS = st.integers(0, 2**31 - 1)
TIMES = st.floats(0.05, 0.95)


# ---------------------------------------------------------------------------------------------
# plain NumPy twins, written from the paper's formulas (with the 1/alpha of eq. (9))
# ---------------------------------------------------------------------------------------------


def twin_eq9(x, t, means, covs, schedule, weights=None):
    """Lemma 2.1, eq. (9) literally: dense inverses, slogdet, softmax, the 1/alpha prefactor."""
    a, s = float(schedule.alpha(t)), float(schedule.sigma(t))
    m, d = means.shape
    logw = np.log(np.full(m, 1 / m) if weights is None else weights)
    A = a**2 * covs + s**2 * np.eye(d)
    Ainv = np.linalg.inv(A)
    r = x[:, None, :] - a * means[None]  # (B, M, d)
    quad = np.einsum("bmi,mij,bmj->bm", r, Ainv, r)
    w = softmax(logw - 0.5 * np.linalg.slogdet(A)[1] - 0.5 * quad, axis=1)
    return (x - s**2 * np.einsum("bm,mij,bmj->bi", w, Ainv, r)) / a


def twin_eq11(x, t, means, s2, schedule):
    """Eqs. (11)-(12) literally (scalar variance, uniform weights)."""
    a, s = float(schedule.alpha(t)), float(schedule.sigma(t))
    V = a**2 * s2 + s**2
    w = softmax(-0.5 * ((a * means[None] - x[:, None]) ** 2).sum(-1) / V, axis=1)
    return a * s2 / V * x + s**2 / V * w @ means


def twin_iso_per_component(x, t, means, var, weights, schedule):
    """Eqs. (11)-(12) with variances s_k^2 per component, literally, in log-sum-exp form.

    V_k = alpha^2 s_k^2 + sigma^2, logits log pi_k - (d/2) log V_k - |x - alpha mu_k|^2 / (2 V_k);
    returns (x0, score) = sum_k softmax_k (mu_k + alpha s_k^2 r_k / V_k, -r_k / V_k).
    """
    a, s = float(schedule.alpha(t)), float(schedule.sigma(t))
    V = a**2 * var + s**2
    r = x[:, None, :] - a * means[None]  # (B, K, d)
    logits = np.log(weights) - 0.5 * x.shape[1] * np.log(V) - 0.5 * (r**2).sum(-1) / V
    p = np.exp(logits - logsumexp(logits, axis=1, keepdims=True))
    x0 = np.einsum("bk,bkd->bd", p, means[None] + (a * var / V)[None, :, None] * r)
    return x0, -np.einsum("bk,bkd->bd", p, r / V[None, :, None])


def twin_eq7(x, t, X, schedule):
    """Eq. (7) literally."""
    a, s = float(schedule.alpha(t)), float(schedule.sigma(t))
    logits = -0.5 * ((a * X[None] - x[:, None]) ** 2).sum(-1) / s**2
    return np.exp(logits - logsumexp(logits, axis=1, keepdims=True)) @ X


def random_covs(rng, m, d, singular=False):
    rank = max(1, d - 1) if singular else d
    g = rng.standard_normal((m, d, rank))
    return g @ g.transpose(0, 2, 1) / rank + (0.0 if singular else 0.05) * np.eye(d)


def random_weights(rng, m):
    w = rng.uniform(0.2, 1.0, m)
    return w / w.sum()


# ---------------------------------------------------------------------------------------------
# Lemma 2.1 (general covariances)
# ---------------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(seed=SEEDS, d=st.integers(1, 4), m=st.integers(1, 4), t=TIMES, singular=st.booleans())
def test_gmm_denoiser_equals_eq9(seed, d, m, t, singular):
    rng = np.random.default_rng(seed)
    means, covs = rng.standard_normal((m, d)) * 2, random_covs(rng, m, d, singular)
    w = random_weights(rng, m)
    x = rng.standard_normal((5, d)) * 2
    got = dn.gmm_denoiser(x, t, means, covs, SCHED, weights=w)
    np.testing.assert_allclose(got, twin_eq9(x, t, means, covs, SCHED, w), rtol=1e-8, atol=1e-9)


@settings(max_examples=20, deadline=None)
@given(seed=SEEDS, d=st.integers(1, 3), m=st.integers(1, 3), t=TIMES)
def test_tweedie_score_matches_finite_difference_of_log_p(seed, d, m, t):
    """Eq. (4): (alpha xbar - x)/sigma^2 is the gradient of log p_t (central differences)."""
    rng = np.random.default_rng(seed)
    gm = GaussianMixture(
        rng.standard_normal((m, d)), random_covs(rng, m, d), random_weights(rng, m)
    )
    x = rng.standard_normal((4, d)) * 1.5
    score = dn.score_from_denoiser(
        x, t, dn.gmm_denoiser(x, t, gm.means, gm.covs, SCHED, gm.weights), SCHED
    )
    h = 1e-5
    fd = np.stack(
        [
            (gm.log_prob_t(x + h * e, t, SCHED) - gm.log_prob_t(x - h * e, t, SCHED)) / (2 * h)
            for e in np.eye(d)
        ],
        axis=1,
    )
    np.testing.assert_allclose(score, fd, rtol=1e-6, atol=1e-6 * max(1.0, np.abs(fd).max()))


def test_gmm_denoiser_on_other_schedules():
    rng = np.random.default_rng(3)
    means, covs, x = (
        rng.standard_normal((3, 2)),
        random_covs(rng, 3, 2),
        rng.standard_normal((4, 2)),
    )
    for sched, t in ((OU(lam=0.5), 0.7), (VPLinear(), 0.4), (VE.linear2t(), 0.6)):
        np.testing.assert_allclose(
            dn.gmm_denoiser(x, t, means, covs, sched), twin_eq9(x, t, means, covs, sched), rtol=1e-9
        )


# ---------------------------------------------------------------------------------------------
# isotropic, memorizing, partially memorizing, nominal
# ---------------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(seed=SEEDS, d=st.integers(1, 5), m=st.integers(1, 6), t=TIMES, per_comp=st.booleans())
def test_iso_equals_general(seed, d, m, t, per_comp):
    rng = np.random.default_rng(seed)
    means, w = rng.standard_normal((m, d)) * 2, random_weights(rng, m)
    var = rng.uniform(0.1, 2.0, m) if per_comp else float(rng.uniform(0.1, 2.0))
    covs = np.broadcast_to(np.asarray(var).reshape(-1, 1, 1), (m, 1, 1)) * np.eye(d)
    x = rng.standard_normal((6, d)) * 2
    np.testing.assert_allclose(
        dn.iso_gmm_denoiser(x, t, means, var, SCHED, weights=w),
        dn.gmm_denoiser(x, t, means, covs, SCHED, weights=w),
        rtol=1e-9,
        atol=1e-10,
    )


@settings(max_examples=15, deadline=None)
@given(seed=SEEDS, t=TIMES)
def test_iso_equals_eq11_literal(seed, t):
    rng = np.random.default_rng(seed)
    means, x = rng.standard_normal((7, 3)) * 2, rng.standard_normal((5, 3)) * 2
    np.testing.assert_allclose(
        dn.iso_gmm_denoiser(x, t, means, 0.7, SCHED),
        twin_eq11(x, t, means, 0.7, SCHED),
        rtol=1e-10,
        atol=1e-12,
    )


@pytest.mark.parametrize("sched", [VPTrig(), FlowMatching()], ids=["VPTrig", "FlowMatching"])
@pytest.mark.parametrize("t", [0.02, 0.36, 0.9])
def test_iso_per_component_equals_numpy_twin(sched, t):
    """The per-component-variance mixture at the peer benchmark's shape (d = 50, K = 12), every
    unit, against the literal log-sum-exp formula."""
    rng = np.random.default_rng(13)
    means = 2.0 * rng.standard_normal((12, 50)) / np.sqrt(50)
    var, w = rng.uniform(0.25, 2.0, 12), random_weights(rng, 12)
    x = float(sched.alpha(t)) * means[rng.integers(0, 12, 300)] + rng.standard_normal((300, 50))
    x0, score = twin_iso_per_component(x, t, means, var, w, sched)
    a, s = float(sched.alpha(t)), float(sched.sigma(t))
    law = IsotropicGaussianMixture(means, var, w)
    for unit, want in (
        ("x0", x0),
        ("score", score),
        ("eps", -s * score),
        ("v", -s * (x0 + a * score)),
    ):
        got = law.denoiser(x, t, sched, prediction=unit)
        scale = np.abs(want).max()
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12 * scale, err_msg=unit)
    np.testing.assert_array_equal(
        dn.iso_gmm_denoiser(x, t, means, var, sched, weights=w), law.denoiser(x, t, sched)
    )


# The mixture denoisers at the peer benchmark's shape (B = 4096: the kernel runs in parallel).
THREADS_SCRIPT = r"""
import hashlib
import numpy as np
from diffmem_theory.core.distributions import GaussianMixture, IsotropicGaussianMixture
from diffmem_theory.core.schedules import FlowMatching
rng = np.random.default_rng(0)
means, var = rng.standard_normal((12, 50)), rng.uniform(0.25, 2.0, 12)
g = rng.standard_normal((12, 50, 50)) / np.sqrt(50)
iso = IsotropicGaussianMixture(means, var)
general = GaussianMixture(means, g @ g.mT + 0.1 * np.eye(50))
x = rng.standard_normal((4096, 50))
h = hashlib.sha256()
for unit in ("x0", "score", "velocity"):
    h.update(iso.denoiser(x, 0.36, FlowMatching(), prediction=unit).tobytes())
    h.update(general.denoiser(x[:512], 0.36, FlowMatching(), prediction=unit).tobytes())
print(h.hexdigest())
"""


def test_mixture_denoisers_are_bit_identical_for_1_and_2_threads():
    """Numba's and OpenBLAS's thread counts change no bit of the isotropic (per-component
    variances) and general mixtures' predictions."""
    digests = set()
    for n in (1, 2):
        env = dict(os.environ, NUMBA_NUM_THREADS=str(n), OPENBLAS_NUM_THREADS=str(n))
        run = subprocess.run(
            [sys.executable, "-c", THREADS_SCRIPT], env=env, capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr[-2000:]
        digests.add(run.stdout.strip())
    assert len(digests) == 1


@settings(max_examples=15, deadline=None)
@given(seed=SEEDS, t=TIMES, n=st.integers(1, 30))
def test_memorizing_equals_eq7(seed, t, n):
    rng = np.random.default_rng(seed)
    X, x = rng.standard_normal((n, 4)), rng.standard_normal((6, 4))
    np.testing.assert_allclose(
        dn.memorizing_denoiser(x, t, X, SCHED), twin_eq7(x, t, X, SCHED), rtol=1e-10, atol=1e-12
    )


@pytest.mark.parametrize("t", [0.1, 0.5, 0.9])
def test_vanishing_variance_gives_memorizing(t):
    """Lemma 2.1 with mu_i = x^i and Sigma_i = s^2 I -> 0 is eq. (7); the gap is O(s^2)."""
    rng = np.random.default_rng(1)
    X, x = rng.standard_normal((12, 3)), rng.standard_normal((5, 3))
    mem = dn.memorizing_denoiser(x, t, X, SCHED)
    gaps = [
        np.abs(dn.gmm_denoiser(x, t, X, s2 * np.ones((12, 1, 1)) * np.eye(3), SCHED) - mem).max()
        for s2 in (1e-4, 1e-6, 1e-8)
    ]
    assert gaps[2] < 1e-5 and gaps[2] < gaps[1] / 50 < gaps[0] / 2500
    np.testing.assert_allclose(dn.iso_gmm_denoiser(x, t, X, 0.0, SCHED), mem, rtol=1e-12)


def test_generalizing_denoiser_is_mixture_posterior_mean():
    rng = np.random.default_rng(2)
    mix = IsotropicGaussianMixture(rng.standard_normal((4, 3)) * 2, 0.8)
    x = rng.standard_normal((6, 3))
    np.testing.assert_allclose(
        dn.iso_gmm_denoiser(x, 0.4, mix.means, mix.var, SCHED),
        mix.denoiser(x, 0.4, SCHED),
        rtol=1e-12,
    )
    result = get_check("paper000.generalizing_is_true_posterior").run(seed=0)
    assert result.status == "pass", result


def test_partial_memorizing():
    rng = np.random.default_rng(4)
    X, x = rng.standard_normal((10, 3)), rng.standard_normal((5, 3))
    full = dn.memorizing_denoiser(x, 0.3, X, SCHED)
    np.testing.assert_allclose(
        dn.partial_memorizing_denoiser(x, 0.3, X, M=10, schedule=SCHED), full, rtol=1e-12
    )
    first = dn.partial_memorizing_denoiser(x, 0.3, X, M=4, schedule=SCHED)
    np.testing.assert_allclose(first, dn.memorizing_denoiser(x, 0.3, X[:4], SCHED), rtol=1e-12)
    idx = np.array([7, 2, 5])
    np.testing.assert_allclose(
        dn.partial_memorizing_denoiser(x, 0.3, X, idx=idx, schedule=SCHED),
        dn.memorizing_denoiser(x, 0.3, X[idx], SCHED),
        rtol=1e-12,
    )
    sub = dn.memorized_subset(10, M=4, rng=np.random.default_rng(9))
    assert sub.size == 4 and np.unique(sub).size == 4 and sub.min() >= 0 and sub.max() < 10
    np.testing.assert_array_equal(sub, dn.memorized_subset(10, M=4, rng=9))
    np.testing.assert_allclose(
        dn.partial_memorizing_denoiser(x, 0.3, X, M=4, rng=9, schedule=SCHED),
        dn.memorizing_denoiser(x, 0.3, X[sub], SCHED),
        rtol=1e-12,
    )


def test_nominal_denoiser():
    rng = np.random.default_rng(5)
    means, labels = rng.standard_normal((3, 4)), np.array([2, 0, 1, 2])
    x, t = rng.standard_normal((4, 4)), np.array([0.2, 0.5, 0.5, 0.8])
    got = dn.nominal_denoiser(x, t, means, 0.6, labels, SCHED)
    for i in range(4):  # one-component Lemma 2.1 with the true mean
        np.testing.assert_allclose(
            got[i], dn.iso_gmm_denoiser(x[i], t[i], means[labels[i]][None], 0.6, SCHED), rtol=1e-12
        )
    per = dn.nominal_denoiser(x, t, means, np.array([0.6, 0.6, 0.6]), labels, SCHED)
    np.testing.assert_allclose(per, got, rtol=1e-14)
    assert get_check("paper000.nominal_error_law").run(seed=1).status == "pass"


# ---------------------------------------------------------------------------------------------
# H.4 template denoiser
# ---------------------------------------------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(
    seed=SEEDS,
    k=st.integers(1, 3),
    c=st.integers(1, 3),
    h=st.integers(1, 3),
    w=st.integers(1, 3),
    t=st.floats(0.02, 0.98),
)
def test_template_denoiser_equals_dense(seed, k, c, h, w, t):
    rng = np.random.default_rng(seed)
    templates = rng.uniform(0, 1, (k, h, w)) * rng.uniform(0.3, 3.0, (k, 1, 1))  # unequal norms
    tm = TemplateMixture(
        templates, rng.standard_normal((k, c)), float(rng.uniform(0.2, 2)), random_weights(rng, k)
    )
    gm = tm.to_gaussian_mixture()
    x = np.concatenate([tm.sample(3, rng)[0] * SCHED.alpha(t), rng.standard_normal((3, tm.dim))])
    got = dn.template_denoiser(x, t, templates, tm.color_means, tm.color_var, SCHED, tm.weights)
    dense = dn.gmm_denoiser(x, t, gm.means, gm.covs, SCHED, gm.weights)
    np.testing.assert_allclose(got, dense, rtol=1e-7, atol=1e-8)


def test_template_log_det_has_factor_c():
    """With unequal template norms, dropping c in the log-det (the authors' code) changes xbar."""
    rng = np.random.default_rng(6)
    templates, u = np.stack([np.ones((2, 2)), 3 * np.ones((2, 2))]), np.zeros((2, 3))
    x = rng.standard_normal((4, 12))
    got = dn.template_denoiser(x, 0.5, templates, u, 1.0, SCHED)
    a, s = float(SCHED.alpha(0.5)), float(SCHED.sigma(0.5))
    n2 = np.array([4.0, 36.0])
    # log-weights that turn the correct c*log(1+..) term into the code's 1*log(1+..) term
    wrong = softmax(0.5 * (3 - 1) * np.log1p(a**2 * n2 / s**2))
    dropped = dn.template_denoiser(x, 0.5, templates, u, 1.0, SCHED, weights=wrong)
    assert np.abs(got - dropped).max() > 1e-3
    gm = TemplateMixture(templates, u, 1.0).to_gaussian_mixture()
    np.testing.assert_allclose(got, dn.gmm_denoiser(x, 0.5, gm.means, gm.covs, SCHED), rtol=1e-8)


# ---------------------------------------------------------------------------------------------
# times, shapes, backends, dtypes, stability
# ---------------------------------------------------------------------------------------------


def _all_denoisers(rng, d=4):
    means, X = rng.standard_normal((3, d)) * 2, rng.standard_normal((9, d))
    covs = random_covs(rng, 3, d)
    return {
        "gmm": lambda x, t: dn.gmm_denoiser(x, t, means, covs, SCHED),
        "iso": lambda x, t: dn.iso_gmm_denoiser(x, t, means, np.array([0.5, 1.0, 2.0]), SCHED),
        "mem": lambda x, t: dn.memorizing_denoiser(x, t, X, SCHED),
        "pmem": lambda x, t: dn.partial_memorizing_denoiser(x, t, X, M=5, schedule=SCHED),
        "nom": lambda x, t: dn.nominal_denoiser(x, t, means, 1.0, np.arange(len(x)) % 3, SCHED),
        "tpl": lambda x, t: dn.template_denoiser(
            x, t, np.abs(means[:, :2]) + 0.1, np.ones((3, 2)), 1.0, SCHED
        ),
    }


def test_per_query_times_equal_scalar_calls():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((7, 4))
    t = np.array([0.2, 0.7, 0.2, 0.5, 0.7, 0.7, 0.9])
    for name, f in _all_denoisers(rng).items():
        rows = np.stack([f(x, float(ti))[i] for i, ti in enumerate(t)])
        np.testing.assert_allclose(f(x, t), rows, rtol=1e-12, err_msg=name)


def test_single_query_shape():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((1, 4))
    for name, f in _all_denoisers(rng).items():
        if name == "nom":
            continue
        single = f(x[0], 0.3)
        assert single.shape == (4,), name
        np.testing.assert_allclose(single, f(x, 0.3)[0], rtol=1e-14, err_msg=name)


@pytest.mark.parametrize("t", [1e-6, 1 - 1e-6])
@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_finite_at_extreme_times_and_far_queries(t, scale):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((5, 4))
    x = scale * x / np.linalg.norm(x, axis=1, keepdims=True)
    for name, f in _all_denoisers(rng).items():
        out = f(x, t)
        assert np.all(np.isfinite(out)), (name, t, scale)
        if t > 0.5:  # alpha ~ 1.4e-3: xbar ~ prior mean + alpha Cov x, bounded by |x| alpha
            assert np.abs(out).max() < 10 + 10 * scale * 1.5e-3, name


def test_extreme_t_matches_limits():
    """t -> 1: xbar -> E[X_0] + alpha Cov[X_0] x; t -> 0 at a training point: that point."""
    rng = np.random.default_rng(10)
    means, x = rng.standard_normal((3, 2)) * 3, rng.standard_normal((4, 2))
    w = random_weights(rng, 3)
    t = 1 - 1e-9
    far = dn.iso_gmm_denoiser(x, t, means, 0.5, SCHED, weights=w)
    # first order in alpha: E[X_0] + alpha Cov[X_0] x, with error O(alpha^2) ~ 2e-9
    mean = w @ means
    cov = 0.5 * np.eye(2) + np.einsum("k,ki,kj->ij", w, means, means) - np.outer(mean, mean)
    np.testing.assert_allclose(far, mean + float(SCHED.alpha(t)) * x @ cov, atol=1e-7)
    X = rng.standard_normal((6, 2))
    near = dn.memorizing_denoiser(X[[3]] + 1e-7, 1e-6, X, SCHED)
    np.testing.assert_allclose(near, X[[3]], rtol=1e-12)


def test_numpy_backend_equals_numba():
    rng = np.random.default_rng(11)
    means, X, x = (
        rng.standard_normal((5, 6)),
        rng.standard_normal((40, 6)),
        rng.standard_normal((9, 6)),
    )
    t = np.linspace(0.1, 0.9, 9)
    var = np.array([0.2, 0.5, 1.0, 1.5, 3.0])
    for f in (
        lambda b: dn.iso_gmm_denoiser(x, t, means, var, SCHED, backend=b),
        lambda b: dn.iso_gmm_denoiser(x, t, means, 0.7, SCHED, backend=b),
        lambda b: dn.memorizing_denoiser(x, t, X, SCHED, backend=b),
        lambda b: dn.partial_memorizing_denoiser(x, t, X, M=20, schedule=SCHED, backend=b),
    ):
        np.testing.assert_allclose(f("numba"), f("numpy"), rtol=1e-10, atol=1e-12)


def test_float32_close_to_float64():
    rng = np.random.default_rng(12)
    X, x = rng.standard_normal((30, 5)), rng.standard_normal((8, 5))
    out32 = dn.memorizing_denoiser(x, 0.4, X, SCHED, dtype=np.float32)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(
        out32, dn.memorizing_denoiser(x, 0.4, X, SCHED), rtol=1e-4, atol=1e-5
    )


def test_score_and_eps_wrappers():
    rng = np.random.default_rng(13)
    x, x0 = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    t = np.array([0.1, 0.4, 0.6, 0.9])
    a, s = SCHED.alpha(t)[:, None], SCHED.sigma(t)[:, None]
    np.testing.assert_allclose(
        dn.score_from_denoiser(x, t, x0, SCHED), (a * x0 - x) / s**2, rtol=1e-12
    )
    np.testing.assert_allclose(dn.eps_from_denoiser(x, t, x0, SCHED), (x - a * x0) / s, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------------

MEANS = np.array([[1.0, 0.0], [-1.0, 0.0]])
XQ = np.zeros((3, 2))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: dn.iso_gmm_denoiser(XQ, 0.5, np.zeros((2, 3)), 1.0, SCHED), "means"),
        (lambda: dn.iso_gmm_denoiser(XQ, 0.5, MEANS, -1.0, SCHED), "var"),
        (lambda: dn.iso_gmm_denoiser(XQ, 0.5, MEANS, [1.0, 2.0, 3.0], SCHED), "var"),
        (lambda: dn.iso_gmm_denoiser(XQ, 0.5, MEANS, 1.0, SCHED, weights=[0.5, 0.6]), "weights"),
        (lambda: dn.iso_gmm_denoiser(XQ, 0.5, MEANS, 1.0, SCHED, weights=[1.0, 0.0]), "weights"),
        (lambda: dn.iso_gmm_denoiser(XQ, 0.0, MEANS, 1.0, SCHED), "t"),
        (lambda: dn.iso_gmm_denoiser(XQ, 1.0, MEANS, 1.0, SCHED), "t"),
        (lambda: dn.iso_gmm_denoiser(XQ, np.array([0.5, 0.2]), MEANS, 1.0, SCHED), "t"),
        (lambda: dn.iso_gmm_denoiser(XQ, 0.5, MEANS, 1.0, SCHED, backend="fortran"), "backend"),
        (lambda: dn.iso_gmm_denoiser(XQ, 0.5, MEANS, 1.0, SCHED, dtype=np.int32), "dtype"),
        (lambda: dn.iso_gmm_denoiser(XQ + np.nan, 0.5, MEANS, 1.0, SCHED), "x"),
        (lambda: dn.iso_gmm_denoiser(XQ.astype(complex), 0.5, MEANS, 1.0, SCHED), "x"),
        (lambda: dn.iso_gmm_denoiser(np.zeros((2, 2, 2)), 0.5, MEANS, 1.0, SCHED), "x"),
        (
            lambda: dn.gmm_denoiser(XQ, 0.5, MEANS, np.ones((2, 2, 2)) * [[1, 0.5], [0, 1]], SCHED),
            "covs",
        ),
        (lambda: dn.gmm_denoiser(XQ, 0.5, MEANS, np.array([np.eye(2), -np.eye(2)]), SCHED), "covs"),
        (lambda: dn.gmm_denoiser(XQ, 0.5, MEANS, np.ones((3, 2, 2)), SCHED), "covs"),
        (lambda: dn.memorizing_denoiser(XQ, 0.5, np.zeros((4, 3)), SCHED), "X"),
        (
            lambda: dn.partial_memorizing_denoiser(XQ, 0.5, np.zeros((4, 2)), M=5, schedule=SCHED),
            "M",
        ),
        (
            lambda: dn.partial_memorizing_denoiser(XQ, 0.5, np.zeros((4, 2)), M=0, schedule=SCHED),
            "M",
        ),
        (lambda: dn.partial_memorizing_denoiser(XQ, 0.5, np.zeros((4, 2)), schedule=SCHED), "M"),
        (
            lambda: dn.partial_memorizing_denoiser(
                XQ, 0.5, np.zeros((4, 2)), idx=[1, 1], schedule=SCHED
            ),
            "idx",
        ),
        (
            lambda: dn.partial_memorizing_denoiser(
                XQ, 0.5, np.zeros((4, 2)), idx=[0, 4], schedule=SCHED
            ),
            "idx",
        ),
        (
            lambda: dn.partial_memorizing_denoiser(
                XQ, 0.5, np.zeros((4, 2)), M=3, idx=[0, 1], schedule=SCHED
            ),
            "M",
        ),
        (lambda: dn.nominal_denoiser(XQ, 0.5, MEANS, 1.0, [0, 1, 2], SCHED), "labels"),
        (lambda: dn.nominal_denoiser(XQ, 0.5, MEANS, 1.0, [0, 1], SCHED), "labels"),
        (lambda: dn.nominal_denoiser(XQ, 0.5, MEANS, 1.0, [0.0, 1.0, 1.0], SCHED), "labels"),
        (
            lambda: dn.template_denoiser(
                np.zeros((1, 8)), 0.5, np.zeros((2, 2, 2)), np.zeros((2, 2)), 1.0, SCHED
            ),
            "templates",
        ),
        (
            lambda: dn.template_denoiser(
                np.zeros((1, 9)), 0.5, np.ones((2, 2, 2)), np.zeros((2, 2)), 1.0, SCHED
            ),
            "x",
        ),
        (
            lambda: dn.template_denoiser(
                np.zeros((1, 8)), 0.5, np.ones((2, 2, 2)), np.zeros((3, 2)), 1.0, SCHED
            ),
            "color_means",
        ),
        (
            lambda: dn.template_denoiser(
                np.zeros((1, 8)), 0.5, np.ones((2, 2, 2)), np.zeros((2, 2)), [1.0, 1.0], SCHED
            ),
            "color_var",
        ),
        (lambda: dn.score_from_denoiser(XQ, 0.5, np.zeros((3, 3)), SCHED), "x0_hat"),
    ],
)
def test_value_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_checks_pass():
    for name in (
        "paper000.lemma2_1_tweedie",
        "paper000.iso_equals_general",
        "paper000.eq9_memorizing_limit",
        "paper000.h4_woodbury",
    ):
        result = get_check(name).run(seed=3)
        assert result.status == "pass", result


# --- fuzz findings: errors instead of NaN or AttributeError ------------------------------------


def test_fuzz_findings_denoisers():
    sched = VPTrig()
    means = np.array([[1.0, 0.0], [-1.0, 0.0]])
    covs = np.array([np.eye(2) * 0.5, np.diag([0.2, 1.0])])
    with pytest.raises(ValueError, match="float64 range"):  # was NaN
        dn.gmm_denoiser(np.array([[1e300, -1e300]]), 0.5, means, covs, sched)
    tpl = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 1.0]]])
    x = np.arange(8.0) / 8
    with pytest.raises(ValueError, match="float64 range"):  # was NaN
        dn.template_denoiser(np.where(x > 0.5, 1e300, x), 0.5, tpl, np.zeros((2, 2)), 1.0, sched)
    with pytest.raises(ValueError, match="float64 range"):
        dn.template_denoiser(x, 0.5, tpl, np.zeros((2, 2)), 1.797e308, sched)
    for bad in (None, 1.5, []):  # AttributeError
        with pytest.raises(TypeError, match="schedule"):
            dn.nominal_denoiser(np.array([[0.3, -0.4]]), 0.5, means, 1.0, [1], bad)
    out = dn.nominal_denoiser(np.array([[0.3, -0.4]]), 0.5, means, 1.0, [1], "VPTrig")
    assert np.array_equal(
        out, dn.nominal_denoiser(np.array([[0.3, -0.4]]), 0.5, means, 1.0, [1], sched)
    )
