"""Tests of diffmem_theory.fisher.separation (Ye et al., paper 003, Thm 5.1 and App.
B.3.4-B.3.5).
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diffmem_theory.core.distributions import EmpiricalDistribution
from diffmem_theory.core.schedules import VPExp
from diffmem_theory.fisher import separation as sep
from diffmem_theory.fisher.bounds import empirical_score_sup_bound

VP = VPExp()
PROPS = settings(max_examples=30, deadline=None)


# --- reference values (the Taylor constants u and c) --------------------------------------------


def test_taylor_constants():
    assert sep.TAYLOR_U == pytest.approx(1.2938570, abs=1e-7)
    assert 3 * sep.TAYLOR_U * math.log(sep.TAYLOR_U) == pytest.approx(1.0, rel=1e-14)
    assert sep.TAYLOR_C_SHARP == pytest.approx(3.5911215, abs=1e-7)
    c = sep.TAYLOR_C_SHARP
    assert c * math.log(c / math.e) == pytest.approx(1.0, rel=1e-14)
    assert (sep.taylor_order(1e-2), sep.taylor_order(1e-2, c)) == (18, 17)
    ell = math.log(100.0)
    assert sep.taylor_remainder_bound(ell, 18) == pytest.approx(1.355e-4, rel=1e-3)
    assert sep.taylor_remainder_bound(ell, 17) == pytest.approx(5.298e-4, rel=1e-3)


@PROPS
@given(log_inv_eps=st.floats(0.05, 200.0), c=st.sampled_from([sep.TAYLOR_C_SHARP, 3.8816, 5.0]))
def test_taylor_order_remainder_at_most_eps(log_inv_eps, c):
    eps = math.exp(-log_inv_eps)
    p = sep.taylor_order(eps, c)
    assert sep.taylor_remainder_bound(log_inv_eps, p) <= eps * (1 + 1e-9)


@PROPS
@given(r_max=st.floats(0.0, 80.0), log_tol=st.floats(-40.0, 0.0), pf=st.floats(0.1, 10.0))
def test_minimal_taylor_order_is_minimal(r_max, log_tol, pf):
    tol = math.exp(log_tol)
    p = sep.minimal_taylor_order(r_max, tol, pf)
    assert pf * sep.taylor_remainder_bound(r_max, p) <= tol * (1 + 1e-12)
    if p > 1:
        assert pf * sep.taylor_remainder_bound(r_max, p - 1) > tol * (1 - 1e-12)


# --- truncated exponential: float64 vs exact arithmetic ------------------------------------------


@PROPS
@given(r=st.floats(0.0, 120.0), p=st.integers(1, 250))
def test_truncated_exp_vs_mpmath(r, p):
    with mpmath.workdps(400):
        rr = mpmath.mpf(r)
        exact = mpmath.fsum((-rr) ** k / mpmath.factorial(k) for k in range(p))
        scale = max(math.exp(-r), float(rr**p / mpmath.factorial(p)))
    assert abs(sep.truncated_exp(r, p) - float(exact)) <= 1e-12 * scale + 1e-300


def test_truncated_exp_naive_float_twin_small_r():
    r = np.linspace(0.0, 3.0, 31)
    naive = sum((-r) ** k / math.factorial(k) for k in range(12))
    np.testing.assert_allclose(sep.truncated_exp(r, 12), naive, atol=1e-14)


@PROPS
@given(r=st.floats(0.0, 60.0), p=st.integers(1, 120))
def test_remainder_bound_holds(r, p):
    assert (
        abs(sep.truncated_exp(r, p) - math.exp(-r))
        <= sep.taylor_remainder_bound(r, p) * (1 + 1e-10) + 4e-16
    )


# --- the (B.17)-(B.19) guarantee on data ---------------------------------------------------------


def _data(seed: int, n: int, d: int, t: float):
    rng = np.random.default_rng(seed)
    X0 = rng.normal(0.0, 1.0, (n, d))
    near = float(VP.alpha(t)) * X0[rng.integers(0, n, 12)]
    x = near + float(VP.sigma(t)) * rng.normal(0.0, 1.5, (12, d))
    return X0, np.concatenate([x, rng.normal(0.0, 2.0, (4, d))])


@PROPS
@given(
    seed=st.integers(0, 10**6),
    n=st.integers(1, 60),
    d=st.integers(1, 4),
    t=st.floats(1e-3, 3.0),
    log_inv_eps=st.floats(0.5, 25.0),
)
def test_taylor_error_at_most_2eps(seed, n, d, t, log_inv_eps):
    eps = math.exp(-log_inv_eps)
    X0, x = _data(seed, n, d, t)
    D1, D2 = sep.density_terms(x, t, X0)
    A1, A2 = sep.taylor_density_terms(x, t, X0, eps)
    assert np.all(np.abs(A1 - D1) <= 2 * eps)
    assert np.all(np.abs(A2 - D2) <= 2 * eps)


def test_taylor_error_can_fail_with_too_low_order():
    X0, x = _data(0, 30, 2, 0.05)
    D1, _ = sep.density_terms(x, 0.05, X0)
    A1, _ = sep.taylor_density_terms(x, 0.05, X0, 1e-6, order=3)
    assert np.max(np.abs(A1 - D1)) > 2e-6


def test_density_terms_plain_numpy_twin():
    X0, x = _data(1, 25, 3, 0.3)
    a, s = float(VP.alpha(0.3)), float(VP.sigma(0.3))
    diff = a * X0[None] - x[:, None]
    w = np.exp(-(diff**2).sum(-1) / (2 * s * s)) / X0.shape[0]
    D1, D2 = sep.density_terms(x, 0.3, X0)
    np.testing.assert_allclose(D1, w.sum(1), rtol=1e-12)
    np.testing.assert_allclose(D2, (w[:, :, None] * diff / s).sum(1), rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(
        D2 / (s * D1[:, None]),
        EmpiricalDistribution(X0).score_t(x, 0.3, VP),
        rtol=1e-10,
        atol=1e-12,
    )


def test_truncated_set_radii():
    X0 = np.array([[0.0], [1.0], [2.0]])
    t, eps = 0.5, 1e-2
    r = (0.0 - float(VP.alpha(t)) * X0[:, 0]) ** 2 / (2 * float(VP.sigma2(t)))
    ell = math.log(1 / eps)
    assert sep.truncated_set_U([0.0], t, X0, eps).tolist() == (r <= ell).tolist()
    assert (
        sep.truncated_set_U([0.0], t, X0, eps, numerator=True).tolist() == (r <= 2 * ell).tolist()
    )


@PROPS
@given(seed=st.integers(0, 10**6), t=st.floats(1e-2, 2.0), log_inv_eps=st.floats(2.0, 20.0))
def test_taylor_score_error_where_density_is_large(seed, t, log_inv_eps):
    eps = math.exp(-log_inv_eps)
    X0, x = _data(seed, 20, 2, t)
    D1, _ = sep.density_terms(x, t, X0)
    s = EmpiricalDistribution(X0).score_t(x, t, VP)
    approx = sep.taylor_score(x, t, X0, eps)
    sigma = float(VP.sigma(t))
    keep = D1 >= 4 * eps
    err = np.abs(approx - s).max(1)
    bound = 4 * eps * (1 + sigma * np.abs(s).max(1)) / (sigma * np.where(keep, D1, 1.0))
    assert np.all(err[keep] <= bound[keep] * (1 + 1e-9) + 1e-12)
    clip = empirical_score_sup_bound(x, t, X0)
    assert np.all(np.abs(approx) <= clip[:, None] * (1 + 1e-12))


# --- Theorem 5.1 sizes ---------------------------------------------------------------------------


@PROPS
@given(
    n=st.integers(1, 10**7),
    log_inv_eps=st.floats(0.1, 50.0),
    d=st.integers(1, 64),
    beta=st.floats(0.2, 4.0),
)
def test_size_shapes_and_crossover(n, log_inv_eps, d, beta):
    eps = math.exp(-log_inv_eps)
    emp, true = sep.relu_size_empirical(n, eps), sep.relu_size_true(eps, d, beta)
    ell = log_inv_eps
    assert emp.width == pytest.approx(n * ell**3, rel=1e-9)
    assert emp.depth == pytest.approx(ell**2, rel=1e-9)
    assert true.depth == pytest.approx(ell**4, rel=1e-9)
    log_n_star = sep.size_crossover_n(eps, d, beta, log=True)
    assert log_n_star == pytest.approx(d * ell / (2 * beta) + 5 * math.log(ell), rel=1e-9, abs=1e-9)
    n_star = sep.size_crossover_n(eps, d, beta)
    if 1.0 <= n_star and true.size < 1e300:
        assert sep.relu_size_empirical(n_star, eps).size == pytest.approx(true.size, rel=1e-9)


def test_size_true_rate_and_constants():
    a = sep.relu_size_true(1e-2, 4, 1.0, rate=1.0)
    b = sep.relu_size_true(1e-2, 4, 1.0)
    assert a.size / b.size == pytest.approx(100.0**2, rel=1e-12)
    c = sep.relu_size_empirical(10, 1e-2, c_size=3.0)
    assert c.size == pytest.approx(3 * sep.relu_size_empirical(10, 1e-2).size)
    assert sep.size_crossover_n(1e-2, 2, 1.0, c_size_true=2.0) == pytest.approx(
        2 * sep.size_crossover_n(1e-2, 2, 1.0)
    )
    assert math.isinf(sep.relu_size_true(1e-10, 1000, 0.5).size)


def test_score_error_scales_ratio_is_sigma2():
    t = np.array([1e-3, 0.1, 2.0])
    e4, e2 = sep.score_error_scales(t, 1e-3)
    np.testing.assert_allclose(e2 / e4, VP.sigma2(t), rtol=1e-14)


# --- Lemma B.18 ----------------------------------------------------------------------------------


@PROPS
@given(x=st.floats(-20.0, 20.0), B=st.floats(0.1, 10.0), tau=st.floats(0.01, 1.0))
def test_interval_indicator_pieces(x, B, tau):
    f = sep.relu_interval_indicator(x, B, tau)
    assert 0.0 <= f <= 1.0
    if abs(x) <= B:
        assert f == pytest.approx(1.0, abs=1e-12)
    elif abs(x) >= B + tau:
        assert f == pytest.approx(0.0, abs=1e-12)
    else:
        assert f == pytest.approx((B + tau - abs(x)) / tau, abs=1e-9)


def test_interval_indicator_printed_fails():
    assert sep.relu_interval_indicator(-2.0, 2.0, 0.5, printed=True) == 0.0
    assert sep.relu_interval_indicator(-2.0, 2.0, 0.5) == 1.0


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: sep.relu_size_empirical(0, 1e-2), "n must"),
        (lambda: sep.relu_size_empirical(10, 1.0), "eps must"),
        (lambda: sep.relu_size_true(1e-2, 2, 0.0), "beta must"),
        (lambda: sep.relu_size_true(1e-2, 2, 1.0, rate=0.0), "rate must"),
        (lambda: sep.size_crossover_n(1e-2, 2, 1.0, c_size_true=-1.0), "c_size_true must"),
        (lambda: sep.taylor_order(0.0), "eps must"),
        (lambda: sep.taylor_order(1e-2, c=3.0), "c must"),
        (lambda: sep.truncated_exp(-1.0, 3), "r must"),
        (lambda: sep.truncated_exp(1.0, 0), "p must"),
        (lambda: sep.taylor_density_terms([0.0], [0.1, 0.2], [[0.0]], 1e-2), "t must be a scalar"),
        (lambda: sep.taylor_density_terms([0.0, 1.0], 0.1, [[0.0]], 1e-2), "dimension"),
        (lambda: sep.taylor_score([0.0], 0.1, [[0.0]], 1e-2, eps_low=0.0), "eps_low must"),
        (lambda: sep.relu_interval_indicator(0.0, 1.0, 2.0), "tau must"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --- bad input: large arguments (NaN, hangs, overflow) ------------------------------------------


def _exact_truncated_exp(r: float, p: int) -> tuple[float, float, float]:
    """(T_p(r), max(e^{-r}, r^p/p!), log|T_p(r)|) in exact arithmetic (digits enough for the
    cancellation); the first two are inf beyond float64."""
    with mpmath.workdps(40 + int(r)):
        rr = mpmath.mpf(r)
        exact = mpmath.fsum((-rr) ** k / mpmath.factorial(k) for k in range(p))
        scale = max(mpmath.exp(-rr), rr**p / mpmath.factorial(p))
        big = float(np.finfo(float).max)
        as_float = [float(v) if abs(v) < big else math.inf for v in (exact, scale)]
        return as_float[0], as_float[1], float(mpmath.log(abs(exact)))


def test_truncated_exp_large_r_is_the_polynomial():
    # the Kummer form gave NaN at r = 1000 (0 * inf) and hung at r = 1e20
    assert sep.truncated_exp(1000.0, 3) == pytest.approx(499001.0, rel=1e-14)
    assert sep.truncated_exp(1e20, 3) == pytest.approx(5e39, rel=1e-14)
    assert sep.truncated_exp(1e300, 1) == 1.0
    r = np.array([0.0, 5e-324, 1e-200, 0.5, 3.0, 1e3, 1e20])
    out = sep.truncated_exp(r, 4)
    np.testing.assert_allclose(out, 1 - r + r**2 / 2 - r**3 / 6, rtol=1e-14)


@PROPS
@given(r=st.floats(0.0, 1500.0), p=st.integers(1, 300))
def test_truncated_exp_vs_mpmath_every_regime(r, p):
    exact, scale, log_abs = _exact_truncated_exp(r, p)
    if log_abs > 710.0:  # beyond float64: refused
        with pytest.raises(ValueError, match="overflows"):
            sep.truncated_exp(r, p)
        return
    try:
        value = sep.truncated_exp(r, p)
    except ValueError as err:  # within a factor 2 of the float64 maximum, refusal is allowed
        assert log_abs > 708.0 and "overflows" in str(err)
        return
    assert abs(value - exact) <= 1e-12 * scale + 1e-300


def test_truncated_exp_overflow_is_refused():
    with pytest.raises(ValueError, match="truncated_exp overflows float64 at r = 1e"):
        sep.truncated_exp([1.0, 1e20], 90)


def test_minimal_taylor_order_large_r_is_fast_and_minimal():
    p = sep.minimal_taylor_order(1e9, 0.01)  # took over 15 s by linear search
    assert p == 2718281822
    with mpmath.workdps(40):
        log_term = lambda q: q * mpmath.log(10**9) - mpmath.loggamma(q + 1)  # noqa: E731
        assert log_term(p) <= mpmath.log(mpmath.mpf("0.01")) < log_term(p - 1)
    with pytest.raises(ValueError, match="exceeds 1e"):
        sep.minimal_taylor_order(1e300, 0.01)


@PROPS
@given(log_r=st.floats(-5.0, 14.0), log_tol=st.floats(-300.0, 0.0), pf=st.floats(0.1, 10.0))
def test_minimal_taylor_order_is_minimal_wide(log_r, log_tol, pf):
    r_max, tol = math.exp(log_r), math.exp(log_tol)
    p = sep.minimal_taylor_order(r_max, tol, pf)
    bound = lambda q: math.log(pf) + q * log_r - math.lgamma(q + 1)  # noqa: E731
    assert bound(p) <= log_tol + 1e-9 * max(1.0, abs(log_tol))
    if p > 1:
        assert bound(p - 1) > log_tol - 1e-9 * max(1.0, abs(log_tol))


def test_extreme_floats_raise_or_stay_exact():
    with pytest.raises(ValueError, match="eps / sigma_t\\^4 overflows"):
        sep.score_error_scales(5e-324, 1e308)  # was inf with a RuntimeWarning
    with pytest.raises(ValueError, match="r\\^p/p! overflows"):
        sep.taylor_remainder_bound(1e308, 10**20)
    with pytest.raises(ValueError, match="c log\\(1/eps\\) overflows"):
        sep.taylor_order(1e-300, 1e307)  # was an OverflowError from ceil(inf)
    # the ramps are clips: ReLU(v) - ReLU(v - 1) rounded to 0 for v ~ 1e17 and gave inf - inf
    x = [0.0, -1e17, 1e17, -1e308, 1e308, 1e17 + 2**16]
    assert sep.relu_interval_indicator(x, 1e17, 0.5).tolist() == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    assert sep.relu_interval_indicator(1e308, 1e308, 1e-300) == 1.0
    # network sizes beyond float64 are inf, as documented, without a RuntimeWarning
    size = sep.relu_size_empirical(1e308, 1e-300)
    assert math.isinf(size.width) and math.isinf(size.size) and math.isfinite(size.depth)
    assert math.isinf(sep.size_crossover_n(1e-300, 1e308, 1e-300))


def test_printed_flag_is_a_bool():
    with pytest.raises(ValueError, match="printed must be True or False"):
        sep.relu_interval_indicator(0.0, 1.0, 0.5, printed=math.nan)  # NaN was read as True


def test_flags_and_network_size_fields():
    with pytest.raises(ValueError, match="log must be True or False"):
        sep.size_crossover_n(1e-2, 2, 1.0, log=math.nan)
    with pytest.raises(ValueError, match="numerator must be True or False"):
        sep.truncated_set_U([0.0], 0.01, [[0.0], [1.0]], 1e-2, numerator=math.nan)
    with pytest.raises(ValueError, match="width must be >= 0"):
        sep.NetworkSize(math.nan, 1.0, 1.0)
    with pytest.raises(ValueError, match="size must be a real"):
        sep.NetworkSize(1.0, 1.0, 1j)
    assert math.isinf(sep.NetworkSize(math.inf, 1.0, math.inf).size)
