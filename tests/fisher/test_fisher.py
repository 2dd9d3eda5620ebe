"""Tests of diffmem_theory.fisher.loss_gap: paper 003's loss gap, Prop 4.1, closed forms, Thm
4.3.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from diffmem_theory.core.distributions import (
    EmpiricalDistribution,
    GaussianMixture,
    IsotropicGaussianMixture,
    TemplateMixture,
)
from diffmem_theory.core.schedules import VPExp, VPTrig
from diffmem_theory.fisher import loss_gap as fi

VP = VPExp()


def _aniso_lambda() -> np.ndarray:
    return np.random.default_rng(3).uniform(0.1, 3.0, 16)


def _random_spd(rng: np.random.Generator, d: int) -> np.ndarray:
    root = rng.normal(0.0, 1.0, (d, d)) / math.sqrt(d)
    return root @ root.T + 0.05 * np.eye(d)


def _matrix_twin(t: float, cov: np.ndarray, sched=VP) -> float:
    """F_t from matrices: (alpha^2/sigma^2) tr(Sigma (alpha^2 Sigma + sigma^2 I)^{-1})."""
    a2, s2 = float(sched.alpha(t)) ** 2, float(sched.sigma2(t))
    return a2 / s2 * float(np.trace(cov @ np.linalg.inv(a2 * cov + s2 * np.eye(len(cov)))))


# --- reference values (independent Monte Carlo and closed forms) ------------------------------


@pytest.mark.parametrize(
    ("var", "times", "expected"),
    [
        (1.0, [0.01, 0.1, 0.5, 1.0, 2.0], [3184.027, 304.267, 49.328, 18.623, 5.009]),
        (4.0, [0.01, 0.1, 0.5], [3207.97, 327.65, 69.98]),
        (0.25, [0.01, 0.1, 0.5], [3091.74, 236.69, 22.62]),
    ],
)
def test_closed_form_reference_isotropic(var, times, expected):
    got = fi.loss_gap_asymptotic_gaussian(times, np.full(32, var))
    np.testing.assert_allclose(got, expected, atol=0.006)


def test_closed_form_reference_anisotropic_and_integrals():
    lam = _aniso_lambda()
    got = fi.loss_gap_asymptotic_gaussian([0.01, 0.05, 0.2], lam)
    np.testing.assert_allclose(got, [1590.85, 311.33, 72.59], atol=0.006)
    assert float(fi.loss_gap_integral_asymptotic(1e-3, 0.7, lam)) == pytest.approx(
        99.98219, abs=5e-6
    )
    assert float(fi.loss_gap_integral_asymptotic(1e-3, 0.5, np.ones(32))) == pytest.approx(
        191.2161, abs=5e-5
    )
    # Sigma = I: d log(sigma_t1^2 / sigma_t0^2)
    assert float(fi.loss_gap_integral_asymptotic(1e-3, 0.5, np.ones(32))) == pytest.approx(
        32 * math.log(-math.expm1(-0.5) / -math.expm1(-1e-3)), rel=1e-14
    )


def test_mc_gap_isotropic_reference():
    """|MC/F - 1| <= 0.02 for t <= 0.5; at t = 1, 2 the gap is far below F (15.27 vs 18.62)."""
    gmm, X = fi.reference_isotropic()
    times = np.array([0.01, 0.1, 0.5, 1.0, 2.0])
    gap = fi.loss_gap_t(X, gmm, times, n_noise=10)
    closed = fi.loss_gap_asymptotic_gaussian(times, np.ones(32))
    assert np.all(np.abs(gap.mean[:3] / closed[:3] - 1) <= 0.02)
    np.testing.assert_allclose(gap.mean[3:], [15.27, 0.945], rtol=0.05)  # other dataset
    assert gap.mean[4] < 0.3 * closed[4]


def test_mc_gap_anisotropic_reference():
    lam = _aniso_lambda()
    rng = np.random.default_rng(3)
    rng.uniform(0.1, 3.0, 16)
    gm = GaussianMixture(rng.normal(0.0, 3.0, (4, 16)), np.repeat(np.diag(lam)[None], 4, axis=0))
    X, _ = gm.sample(800, rng)
    curve = fi.loss_gap_curve(X, gm, [0.01, 0.05, 0.2], n_noise=20)
    np.testing.assert_allclose(curve.closed_form, fi.loss_gap_asymptotic_gaussian(curve.times, lam))
    err = np.abs(curve.gap.mean - curve.closed_form)
    assert np.all(err < 4 * curve.gap.stderr + 0.005 * curve.closed_form)
    np.testing.assert_allclose(curve.thm_4_3_shape, 16 / VP.sigma2(curve.times) + lam.sum())


def test_single_point_single_gaussian_is_exact():
    """n = 1, K = 1: the gap of x_1 is (alpha^4/sigma^2) tr(Sigma^2 M^2) + alpha^2 eps^T M^2 eps
    exactly (M = (alpha^2 Sigma + sigma^2 I)^{-1}); its mean over eps is F_t, at every t."""
    rng = np.random.default_rng(5)
    d = 4
    cov = _random_spd(rng, d)
    mu = rng.normal(0.0, 1.0, d)
    gm = GaussianMixture(mu[None], cov[None])
    x1 = gm.sample(1, rng)[0]
    eps = x1[0] - mu
    for t in (0.05, 1.0, 3.0):
        a2, s2 = float(VP.alpha(t)) ** 2, float(VP.sigma2(t))
        M = np.linalg.inv(a2 * cov + s2 * np.eye(d))
        exact = a2**2 / s2 * np.trace(cov @ cov @ M @ M) + a2 * eps @ M @ M @ eps
        gap = fi.loss_gap_t(x1, gm, t, n_noise=20000, seed=1)
        assert abs(gap.mean[0] - exact) < 4 * gap.stderr[0]
        mean_over_eps = a2**2 / s2 * np.trace(cov @ cov @ M @ M) + a2 * np.trace(M @ M @ cov)
        assert mean_over_eps == pytest.approx(float(fi.loss_gap_asymptotic_gaussian(t, cov)))


# --- Prop 4.1 -------------------------------------------------------------------------------


def _random_problem(seed: int):
    rng = np.random.default_rng(seed)
    K, d = 3, 5
    roots = rng.normal(0.0, 0.7, (K, d, d))
    gm = GaussianMixture(rng.normal(0.0, 2.0, (K, d)), roots @ roots.transpose(0, 2, 1))
    X, _ = gm.sample(120, rng)
    A, b = rng.normal(0.0, 0.5, (d, d)), rng.normal(0.0, 1.0, d)
    return gm, X, (lambda x, t: x @ A + b)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_prop_4_1_random_mixture_and_wrong_score(seed):
    gm, X, wrong = _random_problem(seed)
    for score in (gm, wrong):
        res = fi.prop_4_1_sides(X, score, [0.02, 0.3, 2.0], n_noise=100, seed=seed)
        assert np.all(np.abs(res.z) < 4)
        assert np.all(res.lhs.mean > 0)
        # lhs - rhs = 2 <target - s_hat, s_hat - s> draw by draw (algebra, up to rounding)
        scale = np.abs(res.lhs.draws).max() + np.abs(res.rhs.draws).max()
        assert np.abs(res.lhs.draws - res.rhs.draws - res.residual.draws).max() < 1e-10 * scale


def test_prop_4_1_fails_for_a_wrong_identity():
    """The z-score can fail: compare the gap with half the Fisher divergence (a 1/2 factor)."""
    _, X, wrong = _random_problem(0)
    res = fi.prop_4_1_sides(X, wrong, 0.3, n_noise=20)
    double = fi.LossEstimate(res.rhs.times, 2.0 * res.rhs.draws, res.rhs.noise_key, "score")
    half = res.lhs - double
    assert abs(half.mean[0] / half.stderr[0]) > 4


def test_gap_is_difference_of_dsm_losses_on_common_noise():
    _, X, wrong = _random_problem(1)
    times = [0.1, 0.7]
    gap = fi.loss_gap_t(X, wrong, times, n_noise=6, seed=4)
    emp = fi.dsm_loss_t(
        X, lambda x, t: EmpiricalDistribution(X).score_t(x, t, VP), times, n_noise=6, seed=4
    )
    diff = fi.dsm_loss_t(X, wrong, times, n_noise=6, seed=4) - emp
    np.testing.assert_allclose(gap.draws, diff.draws, rtol=1e-9, atol=1e-9)


def test_fisher_divergence_matches_rhs_and_direction():
    gm, X, _ = _random_problem(2)
    res = fi.prop_4_1_sides(X, gm, 0.2, n_noise=5, seed=3)
    emp = fi.fisher_divergence_t(X, gm, 0.2, n_noise=5, seed=3)
    np.testing.assert_allclose(emp.draws, res.rhs.draws)
    held_out, _ = gm.sample(120, 9)
    true = fi.fisher_divergence_t(X, gm, 0.2, under=held_out, n_noise=5, seed=3)
    assert true.mean[0] > emp.mean[0]  # generalization error exceeds the loss gap here


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), t=st.floats(0.01, 3.0), shrink=st.floats(-0.9, 0.9))
def test_empirical_score_minimizes_the_loss(seed, t, shrink):
    """Loss-Gap_t(s) >= 0 for perturbed scores s = (1 + shrink) s_hat + noise-free shift."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0.0, 2.0, (30, 3))
    shift = rng.normal(0.0, 0.3, 3)

    def score(x, tt):
        return (1 + shrink) * EmpiricalDistribution(X).score_t(x, tt, VP) + shift

    res = fi.prop_4_1_sides(X, score, t, n_noise=8, seed=seed)
    assert res.lhs.mean[0] > -4 * res.lhs.stderr[0]
    assert abs(res.z[0]) < 4.5


# --- integrated losses, expected gap, curve ------------------------------------------------


@pytest.mark.parametrize("method", ["gauss-log", "uniform"])
def test_dsm_loss_zero_score(method):
    X = np.zeros((20, 2))
    val, se = fi.dsm_loss(X, lambda x, t: 0 * x, 0.1, 1.0, n_noise=50, method=method)
    exact = 2 * (math.log(math.e - 1) - math.log(math.expm1(0.1)))
    assert abs(val - exact) < 4 * se


def test_loss_gap_integral_vs_closed_form():
    rng = np.random.default_rng(0)
    gmm = IsotropicGaussianMixture(rng.normal(0.0, 3.0, (4, 8)), 1.0)
    X, _ = gmm.sample(200, rng)
    val, se = fi.loss_gap_integral(X, gmm, 1e-3, 0.3, n_times=12, n_noise=4)
    closed = float(fi.loss_gap_integral_asymptotic(1e-3, 0.3, np.ones(8)))
    assert abs(val / closed - 1) < 0.02
    assert se > 0


def test_expected_loss_gap_and_curve_shapes():
    gmm, _ = fi.reference_isotropic(n=1)
    mean, se = fi.expected_loss_gap_t(gmm, 100, [0.01, 0.1], n_datasets=3, n_noise=2)
    assert mean.shape == se.shape == (2,)
    closed = fi.loss_gap_asymptotic_gaussian([0.01, 0.1], np.ones(32))
    assert np.all(np.abs(mean / closed - 1) < 0.03)
    assert np.all(se > 0)


# --- closed forms: properties and twins -----------------------------------------------------

spectra = st.lists(st.floats(0.0, 20.0), min_size=1, max_size=6).map(np.array)
times_st = st.floats(1e-6, 30.0)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), t=times_st, trig=st.booleans())
def test_closed_form_matrix_twin(seed, t, trig):
    rng = np.random.default_rng(seed)
    cov = _random_spd(rng, 4)
    sched = VPTrig() if trig else VP
    t = min(t, 0.999) if trig else t
    got = float(fi.loss_gap_asymptotic_gaussian(t, cov, sched))
    assert got == pytest.approx(_matrix_twin(t, cov, sched), rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(lam=spectra, t=times_st, bump=st.floats(0.0, 5.0))
def test_closed_form_bounds_and_monotone(lam, t, bump):
    F = float(fi.loss_gap_asymptotic_gaussian(t, lam))
    s2 = float(VP.sigma2(t))
    rank = int(np.count_nonzero(lam))
    assert 0.0 <= F <= rank / s2 * (1 + 1e-12)
    assert F <= float(fi.thm_4_3_rhs_shape(t, lam.size, lam.sum())) * (1 + 1e-12)
    assert float(fi.loss_gap_asymptotic_gaussian(t, lam + bump)) >= F * (1 - 1e-12)


@settings(max_examples=40, deadline=None)
@given(lam=spectra, t0=st.floats(1e-4, 2.0), width=st.floats(1e-3, 5.0), w2=st.floats(0, 3.0))
def test_integral_vs_quadrature_and_additive(lam, t0, width, w2):
    t1, t2 = t0 + width, t0 + width + w2
    closed = float(fi.loss_gap_integral_asymptotic(t0, t1, lam))
    quad, _ = integrate.quad(
        lambda u: float(fi.loss_gap_asymptotic_gaussian(math.exp(u), lam)) * math.exp(u),
        math.log(t0),
        math.log(t1),
        epsabs=1e-12,
        epsrel=1e-11,
        limit=200,
    )
    assert closed == pytest.approx(quad, rel=1e-8, abs=1e-10)
    whole = float(fi.loss_gap_integral_asymptotic(t0, t2, lam))
    assert whole == pytest.approx(closed + float(fi.loss_gap_integral_asymptotic(t1, t2, lam)))


@settings(max_examples=30, deadline=None)
@given(lam=spectra, t0=st.floats(1e-8, 5.0), width=st.floats(0.0, 20.0), beta=st.floats(0.2, 4))
def test_mpmath_twins(lam, t0, width, beta):
    sched = VPExp(beta=beta)
    t1 = t0 + width
    F = float(fi.loss_gap_asymptotic_gaussian(t0, lam, sched))
    F_mp = fi.loss_gap_asymptotic_gaussian_mp(t0, lam, sched, dps=40)
    assert F == pytest.approx(float(F_mp), rel=1e-12, abs=1e-300)
    I = float(fi.loss_gap_integral_asymptotic(t0, t1, lam, sched))
    I_mp = fi.loss_gap_integral_asymptotic_mp(t0, t1, lam, sched, dps=40)
    assert I == pytest.approx(float(I_mp), rel=1e-11, abs=1e-12)
    assert isinstance(I_mp, mpmath.mpf)


def test_closed_form_extremes_are_finite():
    lam = np.array([0.0, 1e-12, 1.0, 1e6])
    for t in (1e-300, 1e-12, 1e3):
        assert np.isfinite(fi.loss_gap_asymptotic_gaussian(t, lam))
    assert np.isfinite(fi.loss_gap_integral_asymptotic(1e-300, 1e3, lam))
    assert float(fi.loss_gap_asymptotic_gaussian(1.0, np.zeros(3))) == 0.0
    # rank r: F sigma_t^2 -> r as t -> 0
    r = float(fi.loss_gap_asymptotic_gaussian(1e-10, np.array([0.0, 2.0, 3.0]))) * 1e-10
    assert r == pytest.approx(2.0, rel=1e-6)


def test_thm_4_3_shape_and_conditions():
    np.testing.assert_allclose(
        fi.thm_4_3_rhs_shape([0.01, 0.1], 32, 32.0, c=2.0),
        2 * (32 / -np.expm1(-np.array([0.01, 0.1])) + 32),
    )
    base = dict(d=32, n=1000, K=8, delta_min=20.0, t0=1e-4, t1=5e-4)
    assert fi.thm_4_3_conditions(**base).holds
    assert not fi.thm_4_3_conditions(**{**base, "delta_min": 5.0}).separation
    assert not fi.thm_4_3_conditions(**{**base, "n": int(math.exp(33))}).sample_size
    assert not fi.thm_4_3_conditions(**{**base, "K": 33}).components
    assert not fi.thm_4_3_conditions(**{**base, "t0": 1e-30}).early
    assert not fi.thm_4_3_conditions(**{**base, "t1": 0.5}).late
    assert not fi.thm_4_3_conditions(**{**base, "t0": 1e-3}).ordered
    assert fi.thm_4_3_conditions(**{**base, "t1": 0.5}, c_1=0.1).late


# --- bad input ---------------------------------------------------------------------------------


def test_value_errors():
    X = np.zeros((5, 2))
    zero = lambda x, t: 0 * x  # noqa: E731
    with pytest.raises(ValueError, match="t must lie"):
        fi.loss_gap_asymptotic_gaussian(0.0, np.ones(2))
    with pytest.raises(ValueError, match="cov"):
        fi.loss_gap_asymptotic_gaussian(0.1, np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="symmetric"):
        fi.loss_gap_asymptotic_gaussian(0.1, np.array([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="t1 must be >= t0"):
        fi.loss_gap_integral_asymptotic(0.5, 0.1, np.ones(2))
    with pytest.raises(TypeError, match="VPExp"):
        fi.loss_gap_integral_asymptotic(0.1, 0.5, np.ones(2), VPTrig())
    with pytest.raises(ValueError, match="X must have 2"):
        fi.loss_gap_t(np.zeros(3), zero, 0.1)
    with pytest.raises(ValueError, match="n_noise"):
        fi.dsm_loss_t(X, zero, 0.1, n_noise=0)
    with pytest.raises(ValueError, match="seed"):
        fi.dsm_loss_t(X, zero, 0.1, seed=-1)
    with pytest.raises(ValueError, match="returned shape"):
        fi.dsm_loss_t(X, lambda x, t: x[:, :1], 0.1)
    with pytest.raises(TypeError, match="score must be"):
        fi.loss_gap_t(X, 3.0, 0.1)
    with pytest.raises(ValueError, match="method"):
        fi.dsm_loss(X, zero, 0.1, 1.0, method="simpson")
    with pytest.raises(ValueError, match="T must be"):
        fi.dsm_loss(X, zero, 0.5, 0.1)
    with pytest.raises(ValueError, match="under has dimension"):
        fi.fisher_divergence_t(X, zero, 0.1, under=np.zeros((3, 4)))
    with pytest.raises(ValueError, match="n_datasets"):
        fi.expected_loss_gap_t(
            IsotropicGaussianMixture(np.zeros((1, 2)), 1.0), 5, 0.1, n_datasets=1
        )
    with pytest.raises(TypeError, match="mixture must be"):
        tm = TemplateMixture(np.ones((1, 1, 2)), np.array([[1.0]]), 0.5)
        fi.loss_gap_curve(np.zeros((3, 2)), tm, [0.1])
    with pytest.raises(ValueError, match="eigvals"):
        fi.loss_gap_asymptotic_gaussian_mp(0.1, [1.0, -2.0])
    with pytest.raises(ValueError, match="dps"):
        fi.loss_gap_integral_asymptotic_mp(0.1, 0.2, [1.0], dps=2)
    with pytest.raises(ValueError, match="t must be > 0"):
        fi.loss_gap_asymptotic_gaussian_mp(0, [1.0])
    with pytest.raises(ValueError, match="c must be"):
        fi.thm_4_3_rhs_shape(0.1, 3, 1.0, c=0.0)
    with pytest.raises(ValueError, match="K must be"):
        fi.thm_4_3_conditions(4, 10, 0, 3.0, 0.1, 0.2)


def test_loss_estimates_carry_score_units():
    """fisher's estimates are in score units: to_unit("x0") multiplies by sigma^4/alpha^2, and
    differencing with an x0-unit estimate is refused."""
    from diffmem_theory.core.losses import LossEstimate
    from diffmem_theory.core.schedules import VPExp

    X = np.random.default_rng(0).normal(size=(6, 2))
    est = fi.dsm_loss_t(X, lambda x, t: -x, [0.2, 0.7], n_noise=3, seed=1)
    assert est.unit == "score"
    sched = VPExp()
    t = np.array([0.2, 0.7])
    scale = sched.sigma2(t) ** 2 / sched.alpha(t) ** 2
    np.testing.assert_allclose(est.to_unit("x0", sched).mean, est.mean * scale, rtol=1e-12)
    other = LossEstimate(est.times, est.draws, est.noise_key)  # x0 units
    with pytest.raises(ValueError, match="units"):
        est - other


# --- bad input: sizes, empty input, overflow ------------------------------------------------------

_GMM = IsotropicGaussianMixture(np.zeros((2, 3)), 1.0)
_X = np.zeros((4, 3))
_ZERO = lambda x, t: 0 * x  # noqa: E731
_HUGE = 2**62


@pytest.mark.parametrize(
    "call",
    [
        lambda: fi.dsm_loss_t(_X, _ZERO, 0.5, n_noise=_HUGE),
        lambda: fi.loss_gap_t(_X, _GMM, 0.5, n_noise=_HUGE),
        lambda: fi.fisher_divergence_t(_X, _GMM, 0.5, n_noise=_HUGE),
        lambda: fi.prop_4_1_sides(_X, _GMM, 0.5, n_noise=_HUGE),
        lambda: fi.dsm_loss(_X, _ZERO, 0.1, 1.0, n_noise=_HUGE),
        lambda: fi.loss_gap_integral(_X, _GMM, 0.1, 1.0, n_noise=_HUGE),
        lambda: fi.expected_loss_gap_t(_GMM, 5, 0.5, n_noise=_HUGE),
        lambda: fi.expected_loss_gap_t(_GMM, _HUGE, 0.5),
        lambda: fi.loss_gap_curve(_X, _GMM, [0.1], n_noise=_HUGE),
        lambda: fi.dsm_loss_t(_X, _ZERO, np.full(10**5, 0.5), n_noise=10**4),
    ],
)
def test_sizes_beyond_the_limit_raise_before_allocating(call):
    # n_noise = 2^62 segfaulted in np.repeat
    with pytest.raises(ValueError, match="GiB of working memory, more than the limit"):
        call()


def test_counts_are_bounded():
    with pytest.raises(ValueError, match="n_times must be <= 1000"):
        fi.dsm_loss(_X, _ZERO, 0.1, 1.0, n_times=10**6)
    with pytest.raises(ValueError, match="n_times must be <= 100000"):
        fi.dsm_loss(_X, _ZERO, 0.1, 1.0, n_times=10**6, method="uniform")
    with pytest.raises(ValueError, match="n_datasets must be <= 10000"):
        fi.expected_loss_gap_t(_GMM, 5, 0.5, n_datasets=10**5)
    with pytest.raises(ValueError, match="t must hold between 1 and 100000 times, got 0"):
        fi.loss_gap_curve(_X, _GMM, [])  # was an IndexError
    with pytest.raises(ValueError, match="t must hold between 1 and 100000 times, got 0"):
        fi.dsm_loss_t(_X, _ZERO, [])


def test_bad_scores_and_mixtures():
    with pytest.raises(ValueError, match="score returned non-finite values"):
        fi.dsm_loss_t(_X, lambda x, t: np.nan * x, 0.5)
    with pytest.raises(ValueError, match="score must return real scores"):
        fi.dsm_loss_t(_X, lambda x, t: 1j * x, 0.5)
    with pytest.raises(TypeError, match="mixture must be a mixture with a sample"):
        fi.expected_loss_gap_t(None, 5, 0.5)


def test_overflow_raises_or_is_avoided():
    # 3 * 1e300 is representable: the terms are summed in log space
    assert fi.loss_gap_asymptotic_gaussian(1e-300, [1e300] * 3) == pytest.approx(3e300, rel=1e-12)
    with pytest.raises(ValueError, match="F_t overflows float64"):
        fi.loss_gap_asymptotic_gaussian(5e-324, [1.0])
    with pytest.raises(ValueError, match="overflows float64"):
        fi.thm_4_3_rhs_shape(1e-300, 1e300, 1.0)
    with pytest.raises(ValueError, match="the integral over \\[t0, T\\] overflows"):
        fi.dsm_loss(np.zeros((2, 2)), _ZERO, 1e-300, 1e300, n_times=3)
    val, se = fi.dsm_loss(np.zeros((2, 2)), _ZERO, 1e-300, 1e300, n_times=3, method="uniform")
    assert math.isfinite(val) and math.isfinite(se)
    # d^k_power overflows a float: compared in logs (was an OverflowError)
    cond = fi.thm_4_3_conditions(32, 1000, 8, 20.0, 1e-4, 5e-4, k_power=1e3)
    assert cond.components


def test_mpmath_precision_is_bounded():
    with pytest.raises(ValueError, match="dps must be <= 10000"):
        fi.loss_gap_asymptotic_gaussian_mp(0.1, [1.0], dps=10**9)
    with pytest.raises(ValueError, match="dps must be <= 10000"):
        fi.loss_gap_integral_asymptotic_mp(0.1, 0.2, [1.0], dps=10**9)


def test_overflowing_loss_and_condition_fields():
    # t = 5e-324: |Z|^2 / sigma_t^2 overflowed to inf in the draws
    with pytest.raises(ValueError, match=r"overflow|outside the float64 range"):
        fi.dsm_loss_t(_X, _ZERO, 5e-324, n_noise=2)
    with pytest.raises(ValueError, match=r"overflow|outside the float64 range"):
        fi.loss_gap_t(_X, _ZERO, 5e-324, n_noise=2)
    with pytest.raises(ValueError, match="separation must be True or False"):
        fi.Thm43Conditions(1j, True, True, True, True, True)
    with pytest.raises(TypeError, match="takes the fields"):
        fi.Thm43Conditions(True, True)
    cond = fi.Thm43Conditions(True, True, True, True, False, np.True_)
    assert not cond.holds and cond.ordered is True
