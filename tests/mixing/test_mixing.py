"""Tests for diffmem_theory.mixing.mixing_time (paper 001, Sec. 2: t_M, bandwidths, MISE, eqs.
2.7-2.12).
"""

from __future__ import annotations

import itertools
import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from diffmem_theory.core.distributions import EmpiricalDistribution
from diffmem_theory.core.schedules import OU
from diffmem_theory.mixing import mixing_time as mx
from diffmem_theory.mixing.checks.mixing_time import BANDWIDTH_REFS, MISE_OPT_REFS, T_M_REFS
from diffmem_theory.registry import get_check

SIGMA = st.floats(0.05, 20.0)
DIM = st.integers(1, 2000)
LAM = st.floats(0.05, 5.0)


@st.composite
def sdn(draw):
    """(sigma, d, log n, lam) with 2 <= n <= e^{10 d}."""
    d = draw(DIM)
    log_n = draw(st.floats(math.log(2.0), 10.0 * d))
    return draw(SIGMA), d, log_n, draw(LAM)


# --- reference values: eqs. (2.9)-(2.11) in high precision, the exact-MISE optimum ------------


@pytest.mark.parametrize(("key", "ref"), list(T_M_REFS.items()))
def test_t_mixing_reference_values(key, ref):
    assert mx.t_mixing(*key) == pytest.approx(ref, rel=1e-10)


@pytest.mark.parametrize(("key", "ref"), list(BANDWIDTH_REFS.items()))
def test_bandwidth_reference_values(key, ref):
    sigma, d, n, rule = key
    assert mx.kde_bandwidth(sigma, d, n, rule=rule) == pytest.approx(ref, rel=1e-10)


def test_figure_bandwidths_eps_o():
    assert mx.kde_bandwidth(1.0, 16, 10**4) == pytest.approx(0.5623413251903491, rel=1e-10)
    assert mx.kde_bandwidth(1.0, 100, 10**4) == pytest.approx(0.9120108393559097, rel=1e-10)
    assert mx.kde_bandwidth(1.0, 16, 25, rule="mixing") == pytest.approx(1.0511, abs=1e-4)


@pytest.mark.parametrize(
    ("c", "ratios"),
    [
        (1.0, (0.843, 1.029, 1.038, 1.037)),
        (3.0, (0.459, 0.920, 0.994, 1.0002)),
        (5.0, (0.259, 0.851, 0.986, 0.9988)),
    ],
)
def test_mixing_over_silverman_ratio_table(c, ratios):
    """sqrt(2 t_M)/eps_Silverman at fixed c = log n / d, d = 10 ... 10^4 (eq. (2.11)).

    Reference ratios computed from the closed forms (2.9)-(2.11) in high precision; at c = 1 they
    tend to e sqrt(2 - log(e^2 - 1)) = 1.0366, not 1 (erratum paper001.eq2_11_silverman_leading).
    """
    for d, ref in zip((10, 100, 1000, 10000), ratios, strict=True):
        r = mx.kde_bandwidth(1.0, d, log_n=c * d, rule="mixing") / mx.kde_bandwidth(
            1.0, d, log_n=c * d, rule="silverman"
        )
        assert r == pytest.approx(ref, abs=1.5e-3 if ref < 1.0001 or ref > 1.0003 else 1e-4)


@pytest.mark.parametrize(("key", "ref"), list(MISE_OPT_REFS.items()))
def test_mise_optimum_reference_values(key, ref):
    d, log_n = key
    assert mx.kde_mise_optimal_bandwidth(1.0, d, log_n=log_n) == pytest.approx(ref, abs=6e-4)


# --- t_M properties ---------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(p=sdn())
def test_t_mixing_is_root_of_defining_equation(p):
    sigma, d, log_n, lam = p
    t = mx.t_mixing(sigma, d, log_n=log_n, lam=lam)
    assert t > 0
    delta = -math.expm1(-2 * t)
    rhs = math.log((lam * delta + sigma**2 * math.exp(-2 * t)) / (lam * delta))
    assert rhs == pytest.approx(2 * log_n / d, rel=1e-12, abs=1e-300)


@settings(max_examples=100, deadline=None)
@given(p=sdn(), f=st.floats(1.01, 10.0))
def test_t_mixing_monotone(p, f):
    sigma, d, log_n, lam = p
    t = mx.t_mixing(sigma, d, log_n=log_n, lam=lam)
    assert mx.t_mixing(sigma, d, log_n=log_n * f, lam=lam) <= t
    assert mx.t_mixing(sigma * f, d, log_n=log_n, lam=lam) >= t
    assert mx.t_mixing(sigma, d, log_n=log_n, lam=lam * f) <= t


@settings(max_examples=100, deadline=None)
@given(sigma=SIGMA, d=DIM, c=st.floats(0.7, 200.0), lam=LAM)
def test_leading_order_agreement(sigma, d, c, lam):
    """|t_M / t_lead - 1| <= 1/(N - 1) + x with N = n^{2/d}, x = sigma^2/(lam (N - 1))."""
    log_n = c * d
    N1 = math.expm1(2 * c)
    x = sigma**2 / (lam * N1)
    ratio = mx.t_mixing(sigma, d, log_n=log_n, lam=lam) / mx.t_mixing_leading(
        sigma, d, log_n=log_n, lam=lam
    )
    assert abs(ratio - 1.0) <= 1.0 / N1 + x + 1e-14


def test_leading_order_converges():
    devs = [
        abs(mx.t_mixing(1.0, 50, log_n=c * 50) / mx.t_mixing_leading(1.0, 50, log_n=c * 50) - 1)
        for c in (1, 2, 4, 8)
    ]
    assert all(a > b for a, b in itertools.pairwise(devs)) and devs[-1] < 1e-6


@settings(max_examples=60, deadline=None)
@given(p=sdn())
def test_mpmath_agrees_with_float64(p):
    sigma, d, log_n, lam = p
    hp = mx.t_mixing(sigma, d, log_n=log_n, lam=lam, dps=40)
    assert isinstance(hp, mpmath.mpf)
    assert mx.t_mixing(sigma, d, log_n=log_n, lam=lam) == pytest.approx(float(hp), rel=1e-12)


def test_mpmath_integer_n_and_huge_n():
    ref = mx.t_mixing(1.0, 16, 10**4, dps=50)
    assert float(ref) == pytest.approx(T_M_REFS[(1.0, 16, 10**4)], rel=1e-15)
    # n = e^d with d = 10^6: finite, positive, no overflow
    t = mx.t_mixing(1.0, 10**6, log_n=1e6)
    assert 0 < t < 1 and t == pytest.approx(0.5 * math.log1p(1 / math.expm1(2.0)), rel=1e-14)
    assert mx.t_mixing(2.0, 16, 1e4) == mx.t_mixing(2.0, 16, 10**4)


def test_speciation_time():
    assert mx.t_speciation(4.0) == pytest.approx(math.log(2.0))
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((500, 3)) * np.array([3.0, 1.0, 0.5])
    lam_max = np.linalg.eigvalsh(np.cov(Y, rowvar=False, bias=True))[-1]
    assert mx.t_speciation(samples=Y) == pytest.approx(0.5 * math.log(lam_max), rel=1e-12)
    assert mx.t_speciation(cov=np.diag([0.25, 0.1])) < 0


# --- MISE -------------------------------------------------------------------------------------


def mise_twin(h, sigma, d, n):
    return (
        (1 / n) * (4 * math.pi * h * h) ** (-d / 2)
        + (1 - 1 / n) * (4 * math.pi * (sigma**2 + h * h)) ** (-d / 2)
        - 2 * (2 * math.pi * (2 * sigma**2 + h * h)) ** (-d / 2)
        + (4 * math.pi * sigma**2) ** (-d / 2)
    )


@settings(max_examples=100, deadline=None)
@given(
    h=st.floats(0.05, 5.0), sigma=st.floats(0.2, 5.0), d=st.integers(1, 6), n=st.integers(2, 10**6)
)
def test_mise_matches_direct_formula(h, sigma, d, n):
    got = mx.kde_mise_gaussian(h, sigma, d, n)
    ref = mise_twin(h, sigma, d, n)
    assert got == pytest.approx(ref, rel=1e-8, abs=1e-13 * (4 * math.pi * sigma**2) ** (-d / 2))
    assert got > 0
    assert mx.kde_mise_gaussian(h, sigma, d, n, log=True) == pytest.approx(math.log(got), abs=1e-9)


def test_mise_large_d_is_finite():
    v = mx.kde_mise_gaussian(0.4, 1.0, 10**4, log_n=10**4, log=True)
    assert math.isfinite(v)


# --- empirical density, score, decomposition --------------------------------------------------


def log_rho_twin(q, X, t, lam=1.0):
    a, v = math.exp(-t), lam * (1 - math.exp(-2 * t))
    sq = np.sum((q[:, None, :] - a * X[None]) ** 2, axis=-1)
    return (
        logsumexp(-sq / (2 * v), axis=1)
        - math.log(len(X))
        - X.shape[1] / 2 * math.log(2 * math.pi * v)
    )


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    n=st.integers(1, 60),
    d=st.integers(1, 40),
    t=st.floats(0.01, 5.0),
    lam=LAM,
)
def test_log_rho_hat_and_score_vs_twin(seed, n, d, t, lam):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * 2
    q = rng.standard_normal((4, d))
    ref = log_rho_twin(q, X, t, lam)
    for backend in ("numba", "numpy"):
        got = mx.log_rho_hat(q, t, X, lam=lam, backend=backend)
        np.testing.assert_allclose(got, ref, rtol=1e-11, atol=1e-9)
    # score = gradient of the twin (analytic softmax form)
    a, v = math.exp(-t), lam * (1 - math.exp(-2 * t))
    sq = np.sum((q[:, None, :] - a * X[None]) ** 2, axis=-1)
    w = np.exp(-sq / (2 * v) - logsumexp(-sq / (2 * v), axis=1, keepdims=True))
    np.testing.assert_allclose(
        mx.score_rho_hat(q, t, X, lam=lam), (a * w @ X - q) / v, rtol=1e-9, atol=1e-9
    )


def test_single_point_is_gaussian_and_shapes():
    x0, t = np.array([0.5, -1.0, 2.0]), 0.7
    x = np.array([0.1, 0.2, 0.3])
    d = 1 - math.exp(-2 * t)
    ref = multivariate_normal(x0 * math.exp(-t), d * np.eye(3)).logpdf(x)
    assert mx.log_rho_hat(x, t, x0[None]) == pytest.approx(ref, rel=1e-12)
    assert isinstance(mx.log_rho_hat(x, t, x0[None]), float)
    assert mx.score_rho_hat(x, t, x0[None]).shape == (3,)
    np.testing.assert_allclose(mx.score_rho_hat(x, t, x0[None]), (x0 * math.exp(-t) - x) / d)


def test_rho_hat_is_the_empirical_distribution_under_ou():
    """log_rho_hat and score_rho_hat are EmpiricalDistribution(samples) under OU(lam), (x, t, X)."""
    rng = np.random.default_rng(5)
    X, x, t, lam = rng.standard_normal((30, 4)), rng.standard_normal((6, 4)), 0.8, 0.3
    law, ou = EmpiricalDistribution(X), OU(lam=lam)
    np.testing.assert_array_equal(mx.log_rho_hat(x, t, X, lam=lam), law.log_prob_t(x, t, ou))
    np.testing.assert_array_equal(mx.score_rho_hat(x, t, X, lam=lam), law.score_t(x, t, ou))


def test_score_finite_differences():
    rng = np.random.default_rng(3)
    X, x, t = rng.standard_normal((40, 3)), rng.standard_normal(3), 0.4
    eps = 1e-5
    fd = [
        (mx.log_rho_hat(x + eps * e, t, X) - mx.log_rho_hat(x - eps * e, t, X)) / (2 * eps)
        for e in np.eye(3)
    ]
    np.testing.assert_allclose(mx.score_rho_hat(x, t, X), fd, rtol=1e-6)


def test_z_decomposition_sums_to_rho_hat():
    rng = np.random.default_rng(1)
    X, Z, t = rng.standard_normal((30, 4)), rng.standard_normal((5, 4)), 0.6
    for i in (0, 7):
        l1, l1c = mx.log_z1_z1c(Z, t, X, index=i)
        q = X[i] * math.exp(-t) + math.sqrt(1 - math.exp(-2 * t)) * Z
        np.testing.assert_allclose(np.logaddexp(l1, l1c), mx.log_rho_hat(q, t, X), rtol=1e-12)
        assert l1.shape == (5,)


def test_crossing_time_edge_cases():
    rng = np.random.default_rng(0)
    X, z = rng.standard_normal((148, 50)), rng.standard_normal(50)
    assert math.isnan(mx.mixing_crossing_time(z, [0.01, 0.02], X))
    assert mx.mixing_crossing_time(z, [20.0, 21.0], X) == 20.0
    tc = mx.mixing_crossing_time(z, np.linspace(0.05, 3, 100), X)
    assert 0.05 < tc < 3


# --- late-time expansion and t_R --------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), d=st.integers(1, 5), t=st.floats(0.05, 6.0))
def test_late_time_corrected_exact_for_gaussian(seed, d, t):
    rng = np.random.default_rng(seed)
    m, B = rng.standard_normal(d), rng.standard_normal((d, d))
    C = B @ B.T + 0.1 * np.eye(d)
    x = rng.standard_normal((3, d))
    q = mx.late_time_quadratic(t, mean=m, cov=C)
    S = (1 - math.exp(-2 * t)) * np.eye(d) + math.exp(-2 * t) * C
    ref = multivariate_normal(m * math.exp(-t), S).logpdf(x)
    np.testing.assert_allclose(q.log_density(x), ref, rtol=1e-9, atol=1e-9)


def test_late_time_empirical_matches_log_rho_hat_at_origin():
    rng = np.random.default_rng(2)
    Y = rng.standard_normal((25, 3))
    q = mx.late_time_quadratic(2.0, Y)
    assert q.log_density(np.zeros(3)) == pytest.approx(mx.log_rho_hat(np.zeros(3), 2.0, Y))
    qp = mx.late_time_quadratic(2.0, Y, printed=True)
    np.testing.assert_allclose(qp.Sigma_t - q.Sigma_t, q.cov * (1 / (1 - math.exp(-4)) - 1))


def test_t_relaxation_and_bounds():
    assert mx.t_relaxation(mean=np.zeros(2), cov=np.diag([25.0, 1.0])) == 0.0
    assert mx.t_relaxation(mean=np.zeros(2), cov=np.diag([25.0, 1.0]), printed=True) == 0.0
    d, m = 3, 2.0
    Y = np.stack([m * np.ones(d), -m * np.ones(d)])
    assert mx.t_relaxation(Y) == pytest.approx(0.5 * math.log1p(d * m * m), abs=1e-10)
    assert mx.t_relaxation(Y, printed=True) == pytest.approx(mx.t_speciation(samples=Y))
    # spread clusters: the tilt only shrinks the covariance, so the bounds hold
    rng = np.random.default_rng(0)
    Y2 = np.concatenate(
        [Y[:1] + rng.standard_normal((40, d)), Y[1:] + rng.standard_normal((40, d))]
    )
    lam_max = np.linalg.eigvalsh(np.cov(Y2, rowvar=False, bias=True))[-1]
    assert mx.t_relaxation(Y2) <= 0.5 * math.log1p(lam_max) + 1e-9
    assert mx.t_relaxation(Y2, printed=True) <= 0.5 * math.log(lam_max) + 1e-9


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "word"),
    [
        (lambda: mx.t_mixing(1.0, 16, 1), "n"),
        (lambda: mx.t_mixing(1.0, 0, 100), "d"),
        (lambda: mx.t_mixing(0.0, 16, 100), "sigma"),
        (lambda: mx.t_mixing(-1.0, 16, 100), "sigma"),
        (lambda: mx.t_mixing(1.0, 16, 100, lam=0.0), "lam"),
        (lambda: mx.t_mixing(1.0, 16, log_n=0.5), "log_n"),
        (lambda: mx.t_mixing(1.0, 16), "log_n"),
        (lambda: mx.t_mixing(1.0, 16, 100, log_n=3.0), "log_n"),
        (lambda: mx.t_mixing(1.0, 16, 100, dps=2), "dps"),
        (lambda: mx.t_mixing(1.0, 16, 1, dps=30), "n"),
        (lambda: mx.t_mixing_leading(1.0, 16, 1), "n"),
        (lambda: mx.kde_bandwidth(1.0, 16, 100, rule="scott"), "rule"),
        (lambda: mx.kde_bandwidth(0.0, 16, 100), "sigma"),
        (lambda: mx.kde_mise_gaussian(0.0, 1.0, 2, 10), "h"),
        (lambda: mx.kde_mise_gaussian(0.5, 1.0, 0, 10), "d"),
        (lambda: mx.kde_mise_optimal_bandwidth(1.0, 2, 1), "n"),
        (lambda: mx.t_speciation(-1.0), "Lambda"),
        (lambda: mx.t_speciation(), "Lambda"),
        (lambda: mx.log_rho_hat(np.zeros(3), 1.0, np.zeros((4, 2))), "x"),
        (lambda: mx.log_rho_hat(np.zeros(2), 0.0, np.zeros((4, 2))), "t"),
        (lambda: mx.log_rho_hat(np.zeros(2), 1.0, np.zeros((4, 2)), lam=-1.0), "lam"),
        (lambda: mx.score_rho_hat(np.zeros(2), 1.0, np.zeros(4)), "samples"),
        (lambda: mx.log_z1_z1c(np.zeros(2), 1.0, np.zeros((1, 2))), "n >= 2"),
        (lambda: mx.log_z1_z1c(np.zeros(2), 1.0, np.zeros((3, 2)), index=3), "index"),
        (lambda: mx.mixing_crossing_time(np.zeros(2), [1.0, 0.5], np.zeros((3, 2))), "t_grid"),
        (lambda: mx.late_time_quadratic(1.0), "samples"),
        (lambda: mx.late_time_quadratic(1.0, mean=np.zeros(2), cov=np.eye(3)), "cov"),
        (lambda: mx.late_time_quadratic(1.0, np.zeros((2, 2)), printed=1), "printed"),
        (lambda: mx.t_relaxation(np.zeros((2, 2)), t_max=0.0), "t_max"),
    ],
)
def test_bad_input_raises_naming_argument(call, word):
    with pytest.raises(ValueError, match=word):
        call()


# --- registered checks ------------------------------------------------------------------------

CHECKS = [
    "paper001.t_mixing_root",
    "paper001.kde_bandwidths",
    "paper001.kde_mise",
    "paper001.rho_hat",
    "paper001.rem_crossing",
    "paper001.late_time_quadratic",
    "paper001.t_relaxation",
]
ERRATA = [
    "paper001.eq2_12_printed_sigma",
    "paper001.eq2_11_silverman_leading",
    "paper001.eq2_10_bandwidth",
]


@pytest.mark.parametrize("name", CHECKS + ERRATA)
def test_registered_checks(name):
    res = get_check(name).run()
    assert res.status == ("erratum" if name in ERRATA else "pass"), res.note


# --- extreme valid floats, covariances (fuzz findings) -----------------------------------------


def _mise_mp(h, sigma, d, n):
    with mpmath.workdps(60):
        h, s, n = mpmath.mpf(h), mpmath.mpf(sigma), mpmath.mpf(n)
        pi = mpmath.pi
        return (
            (4 * pi * h**2) ** (-mpmath.mpf(d) / 2) / n
            + (1 - 1 / n) * (4 * pi * (s**2 + h**2)) ** (-mpmath.mpf(d) / 2)
            - 2 * (2 * pi * (2 * s**2 + h**2)) ** (-mpmath.mpf(d) / 2)
            + (4 * pi * s**2) ** (-mpmath.mpf(d) / 2)
        )


@pytest.mark.parametrize(
    "args",
    [(1e300, 1.0, 2, 100), (0.5, 1e300, 2, 100), (1e-150, 1.0, 2, 100), (3.0, 1e-100, 1, 10)],
)
def test_mise_extreme_valid_floats(args):
    # a fuzz finding: kde_mise_gaussian(1e300, 1., 2, 100) raised OverflowError
    assert mx.kde_mise_gaussian(*args) == pytest.approx(float(_mise_mp(*args)), rel=1e-10)
    log_mise = mx.kde_mise_gaussian(*args, log=True)
    assert log_mise == pytest.approx(float(mpmath.log(_mise_mp(*args))), rel=1e-12)


def test_mise_beyond_float64_raises_but_log_is_finite():
    with pytest.raises(ValueError, match=r"MISE = e\^.* is outside the float64 range"):
        mx.kde_mise_gaussian(1e-300, 1.0, 2, 100)
    log_mise = mx.kde_mise_gaussian(1e-300, 1.0, 2, 100, log=True)
    assert log_mise == pytest.approx(float(mpmath.log(_mise_mp(1e-300, 1.0, 2, 100))), rel=1e-12)


@pytest.mark.parametrize(
    ("sigma", "d", "log_n", "lam"),
    [(1e300, 16, math.log(1e4), 1.0), (1.0, 16, 1e300, 1.0), (1.0, 16, 1e4, 1e-300)],
)
def test_t_mixing_extreme_valid_floats(sigma, d, log_n, lam):
    ref = mx.t_mixing(sigma, d, log_n=log_n, lam=lam, dps=40)
    assert mx.t_mixing(sigma, d, log_n=log_n, lam=lam) == pytest.approx(float(ref), rel=1e-12)


def test_leading_t_mixing_overflow_raises():
    with pytest.raises(ValueError, match="outside the float64 range"):
        mx.t_mixing_leading(1e300, 16, 10**4, lam=1e-300)


def test_covariances_must_be_psd():
    with pytest.raises(ValueError, match="cov must be symmetric positive semi-definite"):
        mx.t_speciation(cov=-np.eye(2))
    with pytest.raises(ValueError, match="cov must be symmetric positive semi-definite"):
        mx.late_time_quadratic(1.0, mean=np.zeros(2), cov=np.diag([1.0, -0.5]))


def test_late_time_range():
    with pytest.raises(ValueError, match="float64 range"):
        mx.late_time_quadratic(1000.0, mean=np.zeros(2), cov=np.eye(2))
    with pytest.raises(ValueError, match="t_max must be <= 350"):
        mx.t_relaxation(mean=np.zeros(2), cov=np.eye(2), t_max=1e300)
    with pytest.raises(ValueError, match="printed"):
        mx.late_time_quadratic(1.0, mean=np.zeros(2), cov=np.eye(2), printed="no")


def test_late_time_log_density_validates_x():
    q = mx.late_time_quadratic(3.0, mean=np.zeros(2), cov=np.eye(2))
    with pytest.raises(ValueError, match="x must be a real"):  # complex was cast to real
        q.log_density([1j, 0.0])
    with pytest.raises(ValueError, match="x must be a real"):  # None gave NaN
        q.log_density(np.array([None, 0.0], dtype=object))
    with pytest.raises(ValueError, match="float64"):  # inf
        q.log_density([1e300, 0.0])
    with pytest.raises(ValueError, match="shape"):
        q.log_density(np.zeros(3))
