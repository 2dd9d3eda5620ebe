"""Paper 003 (Ye et al.), Sec. 6.1: memorization vs capacity M and n with trained GMM denoisers."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from diffmem_theory.core.denoisers import memorizing_denoiser
from diffmem_theory.core.distributions import IsotropicGaussianMixture
from diffmem_theory.fisher.figures import memorization as mem
from diffmem_theory.registry import get_experiment

matplotlib.use("Agg")


def test_sanity_reference_empirical_one_true_zero():
    """d=8, K=4, n=200, EM 1000 steps T=8 -> 1e-3, 500 samples: ratios 1.00 and 0.00."""
    gmm, X = mem.laboratory(200, d=8, K=4, seed=0)
    test = X[:10]
    empirical = mem.evaluate(IsotropicGaussianMixture(X, 0.0), gmm, X, test, 500, seed=1)
    true = mem.evaluate(gmm, gmm, X, test, 500, seed=1)
    assert empirical["ratio"] == 1.0
    assert true["ratio"] == 0.0


def test_variance_zero_mixture_is_the_memorizing_denoiser():
    """The empirical-score model (variance 0) is ``memorizing_denoiser`` (paper 000, eq. (7))."""
    _, X = mem.laboratory(30, d=3, K=2, seed=2)
    x = np.random.default_rng(3).standard_normal((7, 3))
    for t in (1e-3, 0.5, 8.0):
        np.testing.assert_allclose(
            IsotropicGaussianMixture(X, 0.0).denoiser(x, t, mem.SCHED),
            memorizing_denoiser(x, t, X, mem.SCHED),
            rtol=1e-12,
            atol=1e-12,
        )


def test_laboratory_means_scale_and_nesting():
    gmm, X = mem.laboratory(4000, d=6, K=2000, seed=4)
    se = 4.0 * np.sqrt(2.0 / gmm.means.size)  # mu_k ~ N(0, 4 I): se of the sample variance
    assert abs(gmm.means.var() - 4.0) < 4 * se
    np.testing.assert_array_equal(X[:100], mem.laboratory(100, 6, 2000, seed=4)[1])
    with pytest.raises(ValueError, match="n"):
        mem.laboratory(1, 2, 2, seed=0)


@settings(max_examples=40, deadline=None)
@given(
    K=st.integers(1, 4),
    d=st.integers(1, 5),
    var=st.floats(0.05, 5.0),
    seed=st.integers(0, 2**16),
)
def test_data_log_likelihood_matches_scipy(K, d, var, seed):
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.ones(K))
    mix = IsotropicGaussianMixture(rng.normal(0.0, 2.0, (K, d)), var, w)
    x = rng.normal(0.0, 3.0, (6, d))
    twin = logsumexp(
        [np.log(w[k]) + multivariate_normal(mix.means[k], var * np.eye(d)).logpdf(x) for k in
         range(K)],
        axis=0,
    )  # fmt: skip
    np.testing.assert_allclose(mem.data_log_likelihood(x, mix), np.reshape(twin, -1), rtol=1e-12)


def test_data_log_likelihood_is_the_t_to_0_limit_and_validates():
    gmm, X = mem.laboratory(20, d=4, K=3, seed=5)
    np.testing.assert_allclose(
        mem.data_log_likelihood(X, gmm), gmm.log_prob_t(X, 1e-10, mem.SCHED), rtol=1e-8
    )
    with pytest.raises(ValueError, match=r"mixture\.var"):
        mem.data_log_likelihood(X, IsotropicGaussianMixture(X, 0.0))
    with pytest.raises(ValueError, match="x"):
        mem.data_log_likelihood(X[:, :3], gmm)
    with pytest.raises(TypeError, match="mixture"):
        mem.data_log_likelihood(X, "gmm")


@pytest.fixture(scope="module")
def quick():
    return get_experiment("paper003.memorization").run(quick=True)


def test_baselines(quick):
    base, ns = quick["baselines"], quick["ns"]
    assert base["true"]["ratio"] == 0.0
    for n in ns:
        assert base[f"empirical_{n}"]["ratio"] == 1.0
        # the KDE of bandwidth sigma_{t0} ~ 0.03 fits held-out data far worse than the truth
        assert base[f"empirical_{n}"]["test_ll"] < base["true"]["test_ll"] - 100


def test_larger_capacity_memorizes_more(quick):
    """Paper 003, Fig. 2a: the memorization ratio grows with M (up to MC noise) from ~0 to ~1."""
    for n in quick["ns"]:
        c = quick["curves"][n]
        assert np.all(np.diff(c["ratio"]) >= -0.03), (n, c["ratio"])
        assert c["ratio"][0] <= 0.02  # M = K generalizes
        assert c["ratio"][-1] - c["ratio"][0] >= 0.2
        assert np.all(np.diff(c["var"]) < 0)  # the learned variance shrinks with M
    small = quick["curves"][quick["ns"][0]]
    assert small["M"][-1] == quick["ns"][0] and small["ratio"][-1] >= 0.99


def test_larger_n_memorizes_less(quick):
    """Paper 003, Fig. 2a: at a common capacity M, the larger training set memorizes less."""
    lo, hi = (quick["curves"][n] for n in quick["ns"])
    common = np.intersect1d(lo["M"], hi["M"])
    r_lo = lo["ratio"][np.isin(lo["M"], common)]
    r_hi = hi["ratio"][np.isin(hi["M"], common)]
    assert np.all(r_lo >= r_hi - 0.02)
    assert np.max(r_lo - r_hi) >= 0.5  # at M = 50 = n_small


def test_memorization_costs_test_likelihood(quick):
    """Paper 003, Fig. 2b (dashed): memorizing models have poor (held-out) likelihood."""
    for n in quick["ns"]:
        c = quick["curves"][n]
        assert c["test_ll"][-1] < c["test_ll"][0] - 10
        assert c["test_ll"][0] > quick["baselines"]["true"]["test_ll"] - 3


def test_plot(quick):
    fig = get_experiment("paper003.memorization").plot(quick)
    assert len(fig.get_axes()) == 3
    matplotlib.pyplot.close(fig)


def test_bad_arguments_are_refused_before_sampling():
    """Bad input: AttributeError for a model that is not a mixture, IndexError for an empty X or
    a huge n_steps, NaN for an empty test set, -inf for a log-density beyond float64."""
    gmm, X = mem.laboratory(30, 4, 2, seed=0)
    with pytest.raises(TypeError, match="model must be an IsotropicGaussianMixture"):
        mem.evaluate(None, gmm, X, X[:5], n_samples=5, seed=0, n_steps=10)
    with pytest.raises(TypeError, match="gmm must be an IsotropicGaussianMixture"):
        mem.evaluate(gmm, 1.0, X, X[:5], n_samples=5, seed=0, n_steps=10)
    with pytest.raises(ValueError, match="X must have 2 dimension"):
        mem.evaluate(gmm, gmm, np.empty(0), X[:5], n_samples=5, seed=0, n_steps=10)
    with pytest.raises(ValueError, match="test must hold at least one point"):
        mem.evaluate(gmm, gmm, X, np.empty((0, 4)), n_samples=5, seed=0, n_steps=10)
    with pytest.raises(ValueError, match="n_steps must be <= 1000000"):
        mem.sampling_grid(2**63 - 1)
    with pytest.raises(ValueError, match="log-density is outside the float64 range"):
        mem.data_log_likelihood(np.full((1, 4), 1e300), gmm)


def test_huge_data_is_refused():
    """Bad input: X ~ 1e300 reached the memorization ratio, whose squared distances overflowed."""
    gmm, X = mem.laboratory(30, 4, 2, seed=0)
    huge = X.copy()
    huge[0, 0] = 1e300
    with pytest.raises(ValueError, match="X has coordinates up to 1e\\+300"):
        mem.evaluate(gmm, gmm, huge, X[:5], n_samples=5, seed=0, n_steps=10)
