"""Tests of diffmem_theory.fisher.bounds (Ye et al., paper 003: Lemmas A.1-A.6, B.1, B.8, C.1)."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from diffmem_theory.core.denoisers import gmm_denoiser
from diffmem_theory.core.distributions import EmpiricalDistribution
from diffmem_theory.core.schedules import VPExp, VPTrig
from diffmem_theory.fisher import bounds as fb
from diffmem_theory.registry import get_check

VP = VPExp()
PROPS = settings(max_examples=40, deadline=None)
times = st.floats(1e-3, 5.0)

# --- reference values (exact chi-square tails, Lambert W) --------------------------------------


def test_lemma_a2_counterexample_reference_values():
    tau = fb.norm_tau(0.01, 8)
    y_l, y_u = fb.chi2_rate_roots(tau, printed=True)
    x_l, x_u = fb.chi2_rate_roots(tau)
    assert tau == pytest.approx(1.32459, abs=2e-5)  # (1/4) log 200 = 1.3245793
    assert (y_l, y_u) == pytest.approx((0.226087, 4.42307), abs=2e-6)
    assert (x_l, x_u) == pytest.approx((0.109101, 3.607631), abs=1e-6)
    assert stats.chi2.cdf(8 * y_l, 8) == pytest.approx(0.013670, abs=1e-5)
    assert stats.chi2.sf(8 * y_u, 8) == pytest.approx(2.27e-5, abs=1e-7)
    assert stats.chi2.cdf(8 * y_l, 8) > 0.01  # the printed two-sided claim fails


@pytest.mark.parametrize(("d", "delta", "p_low"), [(2, 0.1, 0.119), (32, 1e-4, 2.13e-4)])
def test_lemma_a2_more_failures(d, delta, p_low):
    y_l, _ = fb.chi2_rate_roots(fb.norm_tau(delta, d), printed=True)
    assert stats.chi2.cdf(d * y_l, d) == pytest.approx(p_low, rel=5e-3)


def test_lemma_c1_reference_values():
    X0 = [[0.0], [1.0]]
    b = fb.lipschitz_bounds(0.01, X0)
    assert (b.lower, b.upper) == pytest.approx((524.494, 2600.480), abs=1e-3)
    assert fb.empirical_score_lipschitz_max(0.01, X0) == pytest.approx(2399.478, abs=1e-3)
    s2, a2 = -math.expm1(-0.01), math.exp(-0.01)
    assert fb.empirical_score_lipschitz_max(0.01, X0) == pytest.approx(
        max(1 / s2, a2 / (4 * s2 * s2) - 1 / s2), rel=1e-12
    )


def test_gaussian_lipschitz_reference_values():
    got = fb.gaussian_score_lipschitz([1e-3, 0.1, 1.0, 5.0], 0.3)
    np.testing.assert_allclose(got, [3.3256, 2.7277, 1.3468, 1.0047], atol=5e-5)


# --- Lemma A.1 / A.2 ----------------------------------------------------------------------------


@PROPS
@given(d=st.integers(1, 500), t=st.floats(1e-3, 30.0))
def test_laurent_massart_holds(d, t):
    up, lo = fb.laurent_massart(d, t), fb.laurent_massart(d, t, tail="lower")
    assert stats.chi2.sf(up.value, d) <= up.failure_probability
    assert stats.chi2.cdf(lo.value, d) <= lo.failure_probability


@PROPS
@given(d=st.integers(1, 200), eta=st.floats(0.01, 5.0))
def test_norm_tails_bound_chi2(d, eta):
    assert stats.chi2.sf((1 + eta) * d, d) <= fb.norm_tail_bound(d, eta)
    if eta < 1:
        assert stats.chi2.cdf((1 - eta) * d, d) <= fb.norm_tail_bound(d, eta, tail="lower")


@PROPS
@given(d=st.integers(1, 100), eta=st.floats(0.01, 3.0), C=st.floats(0.2, 5.0))
def test_norm_tails_scaled_gaussian(d, eta, C):
    """eps ~ N(0, I/C): |eps|^2 = chi2_d / C (density e^{-C|x|^2/2} f with f constant)."""
    if eta > 1 / C - 1:
        assert stats.chi2.sf(C * (1 + eta) * d, d) <= fb.norm_tail_bound(d, eta, C=C) * (1 + 1e-12)
    if 1 - 1 / C < eta < 1:
        bound = fb.norm_tail_bound(d, eta, tail="lower", C=C)
        assert stats.chi2.cdf(C * (1 - eta) * d, d) <= bound * (1 + 1e-12)


@PROPS
@given(d=st.integers(1, 1024), log_delta=st.floats(-18.0, math.log(0.5)))
def test_corrected_interval_holds(d, log_delta):
    delta = math.exp(log_delta)
    for lower in ("lambert", "quadratic"):
        b = fb.norm_concentration_interval(delta, d, lower=lower)
        assert stats.chi2.cdf(b.lower, d) + stats.chi2.sf(b.upper, d) <= delta
    lam = fb.norm_concentration_interval(delta, d)
    quad = fb.norm_concentration_interval(delta, d, lower="quadratic")
    printed = fb.norm_concentration_interval(delta, d, printed=True)
    assert quad.lower <= lam.lower < printed.lower


@PROPS
@given(tau=st.floats(1e-6, 50.0))
def test_roots_solve_h_equals_tau(tau):
    x_l, x_u = fb.chi2_rate_roots(tau)
    y_l, y_u = fb.chi2_rate_roots(tau, printed=True)
    assert fb.chi2_rate(x_u) == pytest.approx(tau, rel=1e-6, abs=1e-9)
    assert fb.chi2_rate(x_l) == pytest.approx(tau, rel=1e-6, abs=1e-9)
    assert x_l < y_l <= 1 <= x_u <= y_u
    assert y_l * y_u == pytest.approx(1.0, rel=1e-12)


def test_chi2_rate_mpmath():
    """Full relative precision, near x = 1 too (the reference at 50 digits, whatever precision
    other tests leave mpmath in)."""
    for x in (1e-8, 0.3, 0.875, 1.0 - 1e-5, 1.0 + 1e-9, 1.1, 1.126, 2.0, 1e6):
        with mpmath.workdps(50):
            want = mpmath.mpf(x) - 1 - mpmath.log(mpmath.mpf(x))
        assert fb.chi2_rate(x) == pytest.approx(float(want), rel=1e-13, abs=1e-300)


# --- Lemma A.6 ----------------------------------------------------------------------------------


def test_lemma_a6_gaussian_component_exact():
    """For a N(mu, I/C) component the approximation is the exact posterior mean (E_k = 0)."""
    rng = np.random.default_rng(1)
    C, mu, t = 2.0, np.array([0.5, -1.0]), 0.3
    x = rng.normal(size=(5, 2))
    exact = gmm_denoiser(x, t, mu[None], np.eye(2)[None] / C, VP)
    np.testing.assert_allclose(fb.component_posterior_mean_approx(x, t, mu, C=C), exact, atol=1e-12)


def test_lemma_a6_bound_shrinks_like_sigma2():
    b1 = fb.lemma_a_6_error_bound(1e-3, 4, B=1.0, c_f=0.5)
    b2 = fb.lemma_a_6_error_bound(1e-4, 4, B=1.0, c_f=0.5)
    assert b1 / b2 == pytest.approx(10.0, rel=1e-3)


# --- Lemma B.1 ----------------------------------------------------------------------------------


@PROPS
@given(seed=st.integers(0, 10**6), t=times)
def test_lemma_b1(seed, t):
    rng = np.random.default_rng(seed)
    X0, x = rng.normal(0, 2, (7, 3)), rng.normal(0, 4, (5, 3))
    s = np.abs(EmpiricalDistribution(X0).score_t(x, t, VP)).max(axis=1)
    assert np.all(s <= fb.empirical_score_sup_bound(x, t, X0) * (1 + 1e-12))


# --- Lemma B.8 ----------------------------------------------------------------------------------


@PROPS
@given(a=st.floats(-0.99, 1.0), x=st.floats(1e-3, 60.0))
def test_pinelis_small_a(a, x):
    exact = mpmath.gammainc(a, x)
    G = fb.incgamma_upper_bound(a, x)
    assert G == pytest.approx(float(fb.incgamma_upper_bound_mp(a, x)), rel=1e-11)
    assert float(exact) <= G * (1 + 1e-12)
    assert G <= x ** (a - 1) * math.exp(-x) * (1 + 1e-12)


@PROPS
@given(a=st.floats(1.0001, 20.0), gap=st.floats(1e-3, 40.0))
def test_pinelis_large_a(a, gap):
    x = a - 1 + gap
    assert float(mpmath.gammainc(a, x)) <= fb.incgamma_upper_bound(a, x) * (1 + 1e-12)


@PROPS
@given(a=st.floats(-0.99, 10.0), x=st.floats(1e-3, 50.0))
def test_upper_incomplete_gamma_vs_mpmath(a, x):
    if abs(a) < 1e-2 and a != 0:
        a = 1e-2
    got = fb.upper_incomplete_gamma(a, x)
    want = float(fb.upper_incomplete_gamma_mp(a, x))
    assert got == pytest.approx(want, rel=1e-9 * (1 + x))


def test_pinelis_is_continuous_at_a0_and_a1():
    for x in (0.1, 1.0, 7.0):
        assert fb.incgamma_upper_bound(1e-9, x) == pytest.approx(fb.incgamma_upper_bound(0, x))
        assert fb.incgamma_upper_bound(1 - 1e-9, x) == pytest.approx(math.exp(-x), rel=1e-7)


# --- Lemma C.1 ----------------------------------------------------------------------------------


@PROPS
@given(seed=st.integers(0, 10**6), t=st.floats(0.01, 3.0))
def test_hessian_matches_finite_differences(seed, t):
    rng = np.random.default_rng(seed)
    X0, x = rng.uniform(-2, 2, (6, 2)), rng.uniform(-2, 2, (3, 2))
    H = fb.empirical_score_hessian(x, t, X0)
    h = 1e-5 * float(VP.sigma(t))
    for k in range(2):
        e = np.zeros(2)
        e[k] = h
        fd = (
            EmpiricalDistribution(X0).score_t(x + e, t, VP)
            - EmpiricalDistribution(X0).score_t(x - e, t, VP)
        ) / (2 * h)
        np.testing.assert_allclose(H[:, :, k], fd, atol=1e-6 * max(1.0, np.abs(H).max()))
    np.testing.assert_allclose(H, np.swapaxes(H, 1, 2))


def test_hessian_plain_numpy_twin():
    rng = np.random.default_rng(3)
    X0, x, t = rng.normal(size=(9, 3)), rng.normal(size=(4, 3)), 0.4
    a, s2 = float(VP.alpha(t)), float(VP.sigma2(t))
    logits = -((x[:, None, :] - a * X0[None]) ** 2).sum(-1) / (2 * s2)
    w = np.exp(logits - logits.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    mean = w @ X0
    dev = X0[None] - mean[:, None]
    cov = np.einsum("bn,bni,bnj->bij", w, dev, dev)
    want = a * a / s2**2 * cov - np.eye(3) / s2
    np.testing.assert_allclose(fb.empirical_score_hessian(x, t, X0), want, atol=1e-10)
    assert fb.empirical_score_hessian(x[0], t, X0).shape == (3, 3)


@PROPS
@given(seed=st.integers(0, 10**6), t=st.floats(1e-3, 2.0), n=st.integers(2, 6))
def test_lipschitz_bounds_hold(seed, t, n):
    rng = np.random.default_rng(seed)
    X0 = rng.normal(0, 2, (n, 2))
    b = fb.lipschitz_bounds(t, X0)
    x = rng.normal(0, 3, (20, 2))
    assert np.all(fb.empirical_score_lipschitz(x, t, X0) <= b.upper * (1 + 1e-12))
    if b.conditions_hold:
        sharp = fb.lipschitz_bounds(t, X0, constant=1 / 8).lower
        assert fb.empirical_score_lipschitz_max(t, X0) >= sharp - 1e-9 * abs(sharp)


def test_lipschitz_printed_midpoint_fails():
    spec = get_check("paper003.lemmaC1_midpoint_printed")
    assert spec.run().status == "erratum"


def test_gaussian_lipschitz_vs_hessian_eigenvalues():
    lam = np.array([0.3, 1.5])
    for t in (0.01, 1.0):
        a2, s2 = float(VP.alpha(t)) ** 2, float(VP.sigma2(t))
        want = np.abs(1 / (a2 * lam + s2)).max()
        assert fb.gaussian_score_lipschitz(t, 0.3) == pytest.approx(want, rel=1e-14)
    assert fb.gaussian_score_lipschitz(0.5, 0.3, VPTrig()) == pytest.approx(1 / (0.25 + 0.75 * 0.3))


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: fb.laurent_massart(0, 1.0), "d must"),
        (lambda: fb.laurent_massart(3, 1.0, tail="both"), "tail must"),
        (lambda: fb.norm_tail_bound(3, 0.0, C=0.5), "eta must"),
        (lambda: fb.norm_tail_bound(3, 1.0, tail="lower"), "eta must"),
        (lambda: fb.norm_tau(1.5, 3), "delta must"),
        (lambda: fb.norm_concentration_interval(0.1, 3, lower="bogus"), "lower must"),
        (lambda: fb.incgamma_upper_bound(-1.0, 1.0), "a must"),
        (lambda: fb.incgamma_upper_bound(3.0, 1.5), "x must exceed"),
        (lambda: fb.incgamma_upper_bound_mp(3.0, 1.5), "x > a - 1"),
        (lambda: fb.lipschitz_bounds(0.1, [[0.0]]), "at least 2"),
        (lambda: fb.lipschitz_bounds(0.1, [[0.0], [1.0]], constant=0.2), "constant must"),
        (lambda: fb.empirical_score_hessian([0.0], 0.0, [[0.0], [1.0]]), "t must"),
        (lambda: fb.empirical_score_hessian([0.0, 1.0], 0.1, [[0.0], [1.0]]), "dimension"),
        (lambda: fb.gaussian_score_lipschitz(0.1, -1.0), "lambda_min must"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --- bad input: branch point, extreme floats, precision and sizes --------------------------------


@pytest.mark.parametrize("tau", [0.0, 5e-324, 1e-300, 1e-14, 1e-9, 1e-7, 3e-6, 2e-5, 0.5, 650.0])
def test_chi2_rate_roots_near_the_branch_point(tau):
    # tau = 0 gave NaN, and at tau = 1e-9 the upper root was 1 + 3e-9 instead of 1 + 4.47e-5
    x_l, x_u = fb.chi2_rate_roots(tau)
    with mpmath.workdps(60):
        z = -mpmath.exp(-1 - mpmath.mpf(tau))
        exact = (-mpmath.lambertw(z, 0), -mpmath.lambertw(z, -1))
    for got, want in zip((x_l, x_u), exact, strict=True):
        assert abs(got - float(want)) <= 1e-14 * float(want)


def test_chi2_rate_roots_huge_tau():
    x_l, x_u = fb.chi2_rate_roots([701.0, 1e300, 1.797e308])
    assert x_l.tolist() == [0.0, 0.0, 0.0]  # e^{-1-tau} underflows
    assert x_u[0] == pytest.approx(708.563239313176, rel=1e-14)
    assert x_u[1] == pytest.approx(1e300, rel=1e-14) and x_u[2] == pytest.approx(1.797e308)
    bound = fb.norm_concentration_interval(0.01, 1e300)  # lower end was NaN
    assert math.isfinite(bound.lower) and bound.lower <= bound.value


def test_extreme_floats_raise_instead_of_inf_or_nan():
    for call in (
        lambda: fb.laurent_massart(1e308, 1e308),
        lambda: fb.norm_tau(0.01, 5e-324),
        lambda: fb.chi2_rate_roots(1e308, printed=True),
        lambda: fb.norm_concentration_interval(0.01, 8, C=5e-324),
        lambda: fb.lemma_a_6_error_bound(0.1, 1, B=0.5, c_f=5e-324),
        lambda: fb.empirical_score_sup_bound([1.0, 0.0], 5e-324, [[1.0, 0.0]]),
        lambda: fb.upper_incomplete_gamma(200.0, 1.0),
        lambda: fb.incgamma_upper_bound(300.0, 300.0),
        lambda: fb.empirical_score_hessian([0.5], 1e-300, [[0.0], [1.0]]),  # ZeroDivisionError
        lambda: fb.lipschitz_bounds(5e-324, [[0.0], [1.0]]),
        lambda: fb.gaussian_score_lipschitz(5e-324, 0.0),
    ):
        with pytest.raises(ValueError, match="float64 range"):
            call()
    assert fb.chi2_rate_roots(1e200, printed=True)[1] == pytest.approx(2e200)
    assert fb.laurent_massart(8, 1e308, tail="lower").value == pytest.approx(
        -2 * math.sqrt(8) * math.sqrt(1e308)
    )
    assert fb.norm_tail_bound(1e308, 1e308) == 0.0


def test_incomplete_gamma_tiny_a_and_x():
    # a = 5e-324 gave NaN (0 * inf); Gamma(a, x) -> E_1(x) as a -> 0
    e1 = float(mpmath.e1(1.0))
    out = fb.upper_incomplete_gamma([5e-324, -1e-30, 1e-30, 0.0], 1.0)
    np.testing.assert_allclose(out, e1, rtol=4e-15)
    # x = 5e-324 gave NaN: b_a/x overflowed
    for a in (0.5, 0.0, -0.5, 1.0):
        bound = fb.incgamma_upper_bound(a, 5e-324)
        exact = float(mpmath.gammainc(a, mpmath.mpf(5e-324)))
        assert math.isfinite(bound) and bound >= exact * (1 - 1e-12)


def test_mpmath_twins_validate():
    with pytest.raises(ValueError, match="dps must be <= 10000"):
        fb.upper_incomplete_gamma_mp(0.5, 1.0, dps=2**62)  # hung
    with pytest.raises(ValueError, match="dps must be <= 10000"):
        fb.incgamma_upper_bound_mp(0.5, 1.0, dps=2**62)
    with pytest.raises(ValueError, match="x must be > 0"):
        fb.upper_incomplete_gamma_mp(0.5, -1.0)  # was a complex result
    with pytest.raises(ValueError, match="a must be finite"):
        fb.incgamma_upper_bound_mp(math.nan, 1.0)  # was nan
    with pytest.raises(ValueError, match="x must be finite"):
        fb.upper_incomplete_gamma_mp(0.5, math.inf)


def test_shapes_and_sizes():
    with pytest.raises(ValueError, match="t must be a scalar or have shape \\(1,\\)"):
        fb.empirical_score_sup_bound([1.0, 0.0], [], [[1.0, 0.0]])  # was an IndexError
    with pytest.raises(ValueError, match="midpoints of 200000 points"):
        fb.empirical_score_lipschitz_max(0.01, np.zeros((200_000, 1)))
    # alpha_t = 0 (t -> inf): no RuntimeWarning; n <= 4 makes the condition vacuous
    bound = fb.lipschitz_bounds(1e300, [[0.0], [1.0]])
    assert bound.conditions_hold and (bound.lower, bound.value) == (-1.0, 1.0)
