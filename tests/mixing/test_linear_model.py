"""Tests for diffmem_theory.mixing.linear_model (paper 001, Sec. 3 and App. B)."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp

import diffmem_theory.mixing.checks.linear_model  # noqa: F401  (registers the checks)
from diffmem_theory.mixing import linear_model as lm
from diffmem_theory.registry import get_check

E4 = math.exp(-4.0)
SEEDS = st.integers(0, 2**31 - 1)


# --- reference values of the Figs. 2-4 setting (closed forms in high precision) -----------------


def test_fig3_constants():
    cfg = lm.LinearDiffusionConfig(d=16)
    s2, c, tau2 = lm.model_params(cfg)
    assert cfg.lam == pytest.approx(0.018315638888734, abs=1e-15)
    assert cfg.delta_T == pytest.approx(0.017980176260832, abs=1e-15)
    assert cfg.var_X == pytest.approx(0.036295815149566, abs=1e-15)
    assert s2 == cfg.var_X
    assert cfg.u == pytest.approx(0.981684361111266, abs=1e-13)
    assert c == pytest.approx(3.728674578017612, abs=1e-12)
    assert tau2 == pytest.approx(0.495378769886829, abs=1e-13)
    assert 1 / (1 + cfg.u) == pytest.approx(0.504621230113171, abs=1e-13)
    # r = s2 c^2/sigma^2 equals 1/(1+u) in the forward model
    assert s2 * c * c == pytest.approx(1 / (1 + cfg.u), rel=1e-13)


def test_hellinger_asymptotes():
    assert lm.hellinger_asymptote(16, 2.0, E4, 1.0) == pytest.approx(0.368047328815, abs=1e-12)
    assert lm.hellinger_asymptote(100, 2.0, E4, 1.0) == pytest.approx(0.943209137847, abs=1e-12)


# (lambda-hat, d): (B.17), App-B (var, mean), main (var, mean), KL_inf main, KL_inf App-B
FIG2 = {
    (1e-4, 16): (6.15673e-08, 6.305e-08, 1.44e-09, 1.37565e-06, 7.87e-08, 3.85431e-08, 3.85456e-08),
    (1e-3, 16): (
        4.08541e-06,
        4.10025e-06,
        1.44e-08,
        1.71837e-05,
        7.86e-07,
        3.84978e-06,
        3.8523e-06,
    ),
    (1e-2, 16): (
        3.87828e-04,
        3.87978e-04,
        1.44e-07,
        5.07975e-04,
        7.79e-06,
        3.80491e-04,
        3.82977e-04,
    ),
    (1e-1, 16): (0.0385757, 0.0385773, 1.44e-06, 0.0329711, 7.16e-05, 0.0340069, 0.0361976),
    (1.0, 16): (3.8555, 3.85553, 1.44e-05, 0.981865, 3.97e-04, 1.50855, 2.3819),
    (1e-4, 100): (
        1.14011e-06,
        1.15846e-06,
        9.08e-09,
        5.03122e-05,
        4.96e-07,
        2.40895e-07,
        2.4091e-07,
    ),
    (1e-3, 100): (
        3.31003e-05,
        3.32841e-05,
        9.08e-08,
        5.23442e-04,
        4.95e-06,
        2.40611e-05,
        2.40768e-05,
    ),
    (1e-2, 100): (
        2.50093e-03,
        2.50279e-03,
        9.08e-07,
        7.22708e-03,
        4.91e-05,
        2.37807e-03,
        2.39361e-03,
    ),
    (1e-1, 100): (0.242002, 0.242023, 9.08e-06, 0.237313, 4.51e-04, 0.212543, 0.226235),
    (1.0, 100): (24.1192, 24.1197, 9.08e-05, 6.13984, 2.50e-03, 9.42842, 14.8869),
}


@pytest.mark.parametrize(("key", "row"), list(FIG2.items()))
def test_fig2_table(key, row):
    lh, d = key
    b17, bvar, bmean, mvar, mmean, kinf_main, kinf_b = row
    lam = lh * E4
    assert lm.expected_kl_var_b_17(d, 10**4, 2.0, 1.0, lam) == pytest.approx(b17, rel=1e-5)
    cb = lm.LinearDiffusionConfig(d=d, lam=lam, data_model="appendixB")
    cm = lm.LinearDiffusionConfig(d=d, lam=lam)
    eb = lm.expected_kl_wishart(d, 10**4, *lm.model_params(cb), 1.0)
    em = lm.expected_kl_wishart(d, 10**4, *lm.model_params(cm), 1.0)
    assert eb["var"] == pytest.approx(bvar, rel=1e-4)
    assert em["var"] == pytest.approx(mvar, rel=1e-4)
    assert eb["mean"] == pytest.approx(bmean, rel=6e-3)
    assert em["mean"] == pytest.approx(mmean, rel=6e-3)
    mu = np.full(d, 10.0)
    main = lm.kl_generated(mu, np.eye(d) / (1 + cm.u), 10.0, 1.0)["exact"]
    appb = lm.kl_generated(mu, np.eye(d) * (1 + cb.u), 10.0, 1.0)["exact"]
    assert main == pytest.approx(kinf_main, rel=1e-4)
    assert appb == pytest.approx(kinf_b, rel=1e-4)


def test_b17_vs_exact_at_alpha_quarter():
    """d/n = 1/4 (d = 100, n = 400, lambda-hat = 0.1, App-B): (B.17) 0.2678, exact 0.2774."""
    lam = 0.1 * E4
    cfg = lm.LinearDiffusionConfig(d=100, lam=lam, data_model="appendixB")
    assert lm.expected_kl_var_b_17(100, 400, 2.0, 1.0, lam) == pytest.approx(0.2678, abs=1e-4)
    ex = lm.expected_kl_wishart(100, 400, *lm.model_params(cfg), 1.0)["var"]
    assert ex == pytest.approx(0.2774, abs=1e-4)
    # (B.12) exact form E Tr Sigma-hat = d^2 Delta_T/(sigma_X^2 (n - d - 2))
    tr = lm.expected_kl_wishart(100, 400, *lm.model_params(cfg), 1.0)["tr_sigma"]
    assert tr == pytest.approx(100**2 * cfg.delta_T / (cfg.var_X * 298), rel=1e-13)


def test_expected_hellinger_fig3_d16():
    """Notes §3: <H^2> = 1 for n <= d and 0.772 at n = 50 (per-trial SD ~0.08)."""
    cfg = lm.LinearDiffusionConfig(d=16)
    assert lm.expected_hellinger(cfg, 16, 5, 0)[0] == 1.0
    m, se = lm.expected_hellinger(cfg, 50, 100, 3)
    assert abs(m - 0.772) < 3 * se + 0.01


def test_delta_log_space_regression_near_interpolation_peak():
    """d = 100, n = 101: every Delta < 0 and finite in log space, so P = 0 (not a spurious 0.5)."""
    cfg = lm.LinearDiffusionConfig(d=100)
    rng = np.random.default_rng(5)
    for _ in range(3):
        mG, SG, Y = lm.simulate_generated(cfg, 101, rng)
        Yo = 10.0 + rng.standard_normal((1500, 100))
        s, lg = lm.delta_stat(mG, SG, Y, Yo, 101 ** (-0.01), 1500 ** (-0.01))
        assert s == -1 and np.isfinite(lg)
        assert lm.hellinger_sq(mG, SG, 10.0, 1.0) > 0.99
    assert lm.prob_delta_positive(cfg, 101, 3, 11, N=1500) == (0.0, 0.0)


# --- closed forms and properties ---------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(d=st.integers(1, 8), v=st.floats(0.05, 5.0), sigma=st.floats(0.2, 3.0), seed=SEEDS)
def test_hellinger_isotropic_closed_form(d, v, sigma, seed):
    dm = np.random.default_rng(seed).standard_normal(d)
    h = lm.hellinger_sq(5.0 + dm, v * np.eye(d), 5.0, sigma)
    s2 = sigma**2
    bc = (2 * math.sqrt(v * s2) / (v + s2)) ** (d / 2) * math.exp(-(dm @ dm) / (4 * (v + s2)))
    assert h == pytest.approx(1 - bc, abs=1e-12)
    assert 0.0 <= h <= 1.0
    assert lm.hellinger_sq(np.full(d, 5.0), s2 * np.eye(d), 5.0, sigma) == pytest.approx(
        0, abs=1e-13
    )


@settings(max_examples=30, deadline=None)
@given(d=st.integers(1, 6), sigma=st.floats(0.3, 3.0), seed=SEEDS)
def test_kl_split_properties(d, sigma, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((d, d))
    S = A @ A.T + 0.1 * np.eye(d)
    m = rng.standard_normal(d)
    r = lm.kl_generated(m, S, 0.5, sigma)
    full = lm.kl_gaussian(m, S, np.full(d, 0.5), sigma**2 * np.eye(d))
    assert r["exact"] == pytest.approx(full, rel=1e-9, abs=1e-12)
    assert r["exact"] >= r["var_exact"] >= 0 and r["mean"] >= 0
    assert lm.kl_gaussian(m, S, m, S) == pytest.approx(0, abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(d=st.integers(1, 5), eps=st.floats(1e-3, 0.05), seed=SEEDS)
def test_kl_var_quadratic_is_second_order(d, eps, seed):
    """(B.9): var_exact - var_quad = O(|sigma-hat|^3)."""
    s = eps * np.random.default_rng(seed).uniform(-1, 1, d)
    r = lm.kl_generated(np.zeros(d), np.diag(1 + s), 0.0, 1.0)
    assert abs(r["var_exact"] - r["var_quad"]) <= np.sum(np.abs(s) ** 3)


@settings(max_examples=25, deadline=None)
@given(
    d=st.integers(1, 3),
    n=st.integers(2, 7),
    N=st.integers(2, 12),
    eT=st.floats(0.2, 1.0),
    eO=st.floats(0.2, 1.0),
    leading=st.booleans(),
    seed=SEEDS,
)
def test_delta_stat_equals_direct_difference(d, n, N, eT, eO, leading, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((d, d))
    S = A @ A.T + 0.2 * np.eye(d)
    m = rng.standard_normal(d)
    Yt, Yo = rng.standard_normal((n, d)), rng.standard_normal((N, d))
    if leading:
        eT, eO = n ** (-1 / d), N ** (-1 / d)
    s, lg = lm.delta_stat(m, S, Yt, Yo, eT, eO)
    direct = lm.l2_gauss_kde(m, S, Yt, eT) - lm.l2_gauss_kde(m, S, Yo, eO)
    assert s * math.exp(lg) == pytest.approx(direct, rel=1e-8, abs=1e-12)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(2, 40), d=st.integers(1, 4), eps=st.floats(0.1, 2.0), seed=SEEDS)
def test_pair_offdiag_brute_force_and_chunks(n, d, eps, seed):
    Y = np.random.default_rng(seed).standard_normal((n, d))
    D = np.sum((Y[:, None] - Y[None]) ** 2, axis=-1)[~np.eye(n, dtype=bool)]
    # the off-diagonal log-kernels summed in log space (K.sum() - trace(K) cancels)
    brute = float(logsumexp(-D / (4 * eps**2))) - 0.5 * d * math.log(4 * math.pi * eps**2)
    # GEMM distances |a|^2 + |b|^2 - 2 a.b on centred data: ~1e-16 relative in the exponent
    assert lm.log_kde_pair_offdiag(Y, eps) == pytest.approx(brute, rel=1e-9, abs=1e-9)
    assert lm.log_kde_pair_offdiag(Y, eps, chunk=3) == pytest.approx(brute, rel=1e-9, abs=1e-9)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(2, 30), d=st.integers(1, 12), seed=SEEDS)
def test_fit_is_min_norm_lstsq(n, d, seed):
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    t0, t1 = lm.fit_linear_denoiser(X, Y)
    xc, yc = X - X.mean(0), Y - Y.mean(0)
    np.testing.assert_allclose(t1.T, np.linalg.pinv(xc) @ yc, atol=1e-8)
    np.testing.assert_allclose(t0 + t1 @ X.mean(0), Y.mean(0), atol=1e-10)
    if n <= d:  # interpolation
        np.testing.assert_allclose(xc @ t1.T, yc, atol=1e-8)


@settings(max_examples=20, deadline=None)
@given(d=st.integers(1, 6), seed=SEEDS)
def test_conventions_share_spectrum(d, seed):
    rng = np.random.default_rng(seed)
    t1 = rng.standard_normal((d, d))
    _, Sc = lm.generated_gaussian(np.zeros(d), t1, np.ones(d), 0.7)
    _, Sp = lm.generated_gaussian(np.zeros(d), t1, np.ones(d), 0.7, printed=True)
    np.testing.assert_allclose(np.linalg.eigvalsh(Sc), np.linalg.eigvalsh(Sp), atol=1e-10)
    kc = lm.kl_generated(np.zeros(d), Sc, 0.0, 1.0)
    kp = lm.kl_generated(np.zeros(d), Sp, 0.0, 1.0)
    assert kc["var_quad"] == pytest.approx(kp["var_quad"], rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    d=st.integers(1, 200),
    n=st.integers(2, 10**5),
    T=st.floats(0.1, 5.0),
    sigma=st.floats(0.2, 5.0),
    lam=st.floats(1e-4, 2.0),
)
def test_b17_literal_equals_u_form(d, n, T, sigma, lam):
    assume(d < n)  # (B.17) is refused at alpha = d/n >= 1
    u = math.exp(2 * T) * lm.noise_variance(T, lam) / sigma**2
    lit = lm.expected_kl_var_b_17(d, n, T, sigma, lam)
    assert lit == pytest.approx(lm.expected_kl_var_b_17_u(d, d / n, T, u), rel=1e-11)
    # increasing in alpha (d/dalpha of the u-form > 0), floor (d/4) u^2 at alpha = 0
    assert lm.expected_kl_var_b_17_u(d, 0.0, T, u) == pytest.approx(d * u * u / 4, rel=1e-14)
    assert lit >= d * u * u / 4


@settings(max_examples=20, deadline=None)
@given(d=st.integers(1, 4), na=st.integers(1, 8), nb=st.integers(1, 8), seed=SEEDS)
def test_marginal_l2_properties(d, na, nb, seed):
    rng = np.random.default_rng(seed)
    A, B = rng.standard_normal((na, d)), rng.standard_normal((nb, d))
    v = lm.marginal_l2_exact(A, 0.3, B, 0.5)
    assert v >= -1e-12
    assert v == pytest.approx(lm.marginal_l2_exact(B, 0.5, A, 0.3), rel=1e-12, abs=1e-14)
    assert lm.marginal_l2_exact(A, 0.3, A, 0.3) == pytest.approx(0, abs=1e-12)
    assert lm.marginal_l2_grid(A, 0.3, A, 0.3) == 0.0


def test_sampling_models_moments():
    rng = np.random.default_rng(0)
    for model in ("forward", "appendixB"):
        cfg = lm.LinearDiffusionConfig(d=2, data_model=model)
        X, Y = lm.sample_training_pairs(cfg, 40_000, rng)
        assert abs(Y.mean() - 10.0) < 0.05
        assert X.var() == pytest.approx(cfg.var_X, rel=0.03)
    X1, _ = lm.sample_training_pairs(lm.LinearDiffusionConfig(d=3), 4, 7)
    X2, _ = lm.sample_training_pairs(lm.LinearDiffusionConfig(d=3), 4, np.random.default_rng(7))
    np.testing.assert_array_equal(X1, X2)


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: lm.LinearDiffusionConfig(d=0),
        lambda: lm.LinearDiffusionConfig(d=2, sigma=0.0),
        lambda: lm.LinearDiffusionConfig(d=2, lam=-1.0),
        lambda: lm.LinearDiffusionConfig(d=2, T=0.0),
        lambda: lm.LinearDiffusionConfig(d=2, printed="other"),
        lambda: lm.LinearDiffusionConfig(d=2, data_model="other"),
        lambda: lm.fit_linear_denoiser(np.zeros((1, 2)), np.zeros((1, 2))),
        lambda: lm.simulate_generated(lm.LinearDiffusionConfig(d=2), 1, 0),
        lambda: lm.prob_delta_positive(lm.LinearDiffusionConfig(d=2), 1, 2, 0),
        lambda: lm.expected_hellinger(lm.LinearDiffusionConfig(d=2), 1, 2, 0),
        lambda: lm.expected_kl_var_b_17(4, 1, 2.0, 1.0, 0.1),
        lambda: lm.expected_kl_var_b_17(0, 10, 2.0, 1.0, 0.1),
        lambda: lm.expected_kl_var_b_17(4, 10, 2.0, -1.0, 0.1),
        lambda: lm.expected_kl_var_b_17(4, 10, 2.0, 1.0, 0.0),
        lambda: lm.wishart_inverse_moments(4, 8, 1.0),
        lambda: lm.hellinger_sq([0.0], [[1.0]], 0.0, 0.0),
        lambda: lm.hellinger_asymptote(0, 2.0, 0.1, 1.0),
        lambda: lm.noise_variance(2.0, 0.0),
        lambda: lm.kl_gaussian([0.0], [[1.0]], [0.0], [[-1.0]]),
        lambda: lm.delta_stat([0.0], [[1.0]], np.zeros((2, 1)), np.zeros((2, 1)), 0.0, 1.0),
        lambda: lm.marginal_l2_exact(np.zeros((2, 1)), 0.1, np.zeros((2, 2)), 0.1),
    ],
)
def test_bad_input_raises(call):
    with pytest.raises(ValueError):
        call()


def test_bad_rng_raises_type_error():
    with pytest.raises(TypeError, match="rng"):
        lm.sample_training_pairs(lm.LinearDiffusionConfig(d=2), 3, rng="seed")


# --- registered checks -------------------------------------------------------------------------

CHECKS = [
    "paper001.hellinger_quadrature",
    "paper001.kl_quadrature",
    "paper001.l2_quadrature",
    "paper001.marginal_l2_quadrature",
    "paper001.b17_table",
    "paper001.wishart_mc",
    "paper001.hellinger_asymptote",
    "paper001.min_norm_ols",
    "paper001.delta_log_space",
]
ERRATA = ["paper001.cov_convention", "paper001.kl_lower_bound", "paper001.b12_b14_factors"]


@pytest.mark.parametrize("name", CHECKS)
def test_checks_pass(name):
    result = get_check(name).run(seed=0)
    assert result.status == "pass", result


@pytest.mark.parametrize("name", ERRATA)
@pytest.mark.parametrize("seed", [0, 3])
def test_errata_reproduced(name, seed):
    result = get_check(name).run(seed=seed)
    assert result.status == "erratum", result


# --- covariances, extreme floats, (B.17) outside alpha < 1 (fuzz findings) ----------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: lm.hellinger_sq(np.zeros(2), -np.eye(2), 0.0, 1.0),
        lambda: lm.kl_generated(np.zeros(2), -np.eye(2), 0.0, 1.0),
        lambda: lm.kl_gaussian(np.zeros(2), -np.eye(2), np.zeros(2), np.eye(2)),
        lambda: lm.kl_gaussian(np.zeros(2), np.eye(2), np.zeros(2), np.diag([1.0, -1.0])),
        lambda: lm.log_kde_cross(np.zeros(2), -np.eye(2), np.zeros((3, 2)), 0.1),
        lambda: lm.l2_gauss_kde(np.zeros(2), -np.eye(2), np.zeros((3, 2)), 0.1),
        lambda: lm.hellinger_sq(np.zeros(2), [[1.0, 0.5], [0.0, 1.0]], 0.0, 1.0),  # asymmetric
    ],
)
def test_covariance_that_is_not_psd_raises(call):
    with pytest.raises(ValueError, match=r"(Sigma_G|S1|S2) must be symmetric"):
        call()


def test_mean_of_the_wrong_dimension_raises():
    with pytest.raises(ValueError, match="mu_G"):
        lm.kl_generated(np.zeros(3), np.eye(2), 0.0, 1.0)
    with pytest.raises(ValueError, match="mu1"):
        lm.kl_gaussian(np.zeros(3), np.eye(2), np.zeros(2), np.eye(2))


def _hellinger_asymptote_mp(d, T, lam, sigma):
    with mp.workdps(60):
        u = mp.mpf(lam) * mp.expm1(2 * mp.mpf(T)) / mp.mpf(sigma) ** 2
        r = 1 / (1 + u)
        return float(-mp.expm1(mp.mpf(d) / 2 * mp.log(2 * mp.sqrt(r) / (1 + r))))


@pytest.mark.parametrize(
    "args",
    [
        (5, 2.0, 0.1, 1e-300),  # a fuzz finding: ZeroDivisionError
        (5, 2.0, 1e-300, 1e-140),
        (3, 1e-300, 1.0, 1.0),
        (7, 400.0, 1e-300, 1.0),  # e^{2T} overflows, u does not
        (4, 2.0, 0.1, 1e300),
        (16, 2.0, E4, 1.0),
    ],
)
def test_hellinger_asymptote_extreme_floats(args):
    assert lm.hellinger_asymptote(*args) == pytest.approx(_hellinger_asymptote_mp(*args), rel=1e-12)


def test_b17_refuses_alpha_at_least_one():
    for d, n in [(50, 20), (20, 20)]:
        with pytest.raises(ValueError, match="alpha = d/n < 1"):
            lm.expected_kl_var_b_17(d, n, 2.0, 1.0, 0.1)
    with pytest.raises(ValueError, match="alpha = d/n < 1"):
        lm.expected_kl_var_b_17_u(4, 1.5, 2.0, 1.0)


def test_b17_where_exp_2t_overflows_uses_the_u_form():
    d, n, T, sigma, lam = 16, 10**4, 400.0, 1.0, 1e-300
    with mp.workdps(50):
        u = mp.mpf(lam) * mp.expm1(2 * mp.mpf(T)) / mp.mpf(sigma) ** 2
        a, e2 = mp.mpf(d) / n, mp.exp(-2 * mp.mpf(T))
        ref = d * (u**2 / 4 + a * e2 * u * (1 + 2 * u) / 2 + a**2 * e2**2 * u**2 / 4)
    assert lm.expected_kl_var_b_17(d, n, T, sigma, lam) == pytest.approx(float(ref), rel=1e-12)
    with pytest.raises(ValueError, match="float64 range"):
        lm.expected_kl_var_b_17(d, n, 1e300, sigma, 1.0)
    with pytest.raises(ValueError, match="float64 range"):
        lm.expected_kl_var_b_17(d, n, 2.0, 1e-300, 1.0)


def test_kl_generated_huge_sigma_is_finite_and_right():
    # s = 1/sigma^2 - 1 ~ -1: var_exact = (d/2)(s - log1p(s)) = (d/2)(2 log sigma - 1) to 1e-600
    r = lm.kl_generated([0.0, 0.0], np.eye(2), 0.0, 1e300)
    assert r["var_exact"] == pytest.approx(2 * math.log(1e300) - 1, rel=1e-14)
    with pytest.raises(ValueError, match="float64 range"):
        lm.kl_generated([0.0, 0.0], np.eye(2), 0.0, 1e-300)


@pytest.mark.parametrize(
    "call",
    [
        lambda: lm.LinearDiffusionConfig(d=2, T=1e300).u,
        lambda: lm.noise_variance(1e-300, 1e-300),
        lambda: lm.wishart_inverse_moments(4, 100, 1e-300),
        lambda: lm.expected_kl_var_b_17_u(4, 0.5, 1.0, 1e300),
        lambda: lm.log_kde_pair_offdiag(np.array([[0.0], [1.0]]), 1e-300),
        lambda: lm.marginal_l2_grid(np.zeros((1, 1)), 1e-300, np.ones((1, 1)), 1.0),
    ],
)
def test_results_beyond_float64_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_tiny_bandwidths_give_the_right_finite_value():
    # one point per set: the self terms (4 pi eps^2)^{-1/2} dominate; no 0 * inf
    v = lm.marginal_l2_exact(np.zeros((1, 1)), 1e-300, np.ones((1, 1)), 1.0)
    assert v == pytest.approx(1e300 / math.sqrt(4 * math.pi), rel=1e-12)
    v = lm.l2_gauss_kde([0.0], [[1.0]], np.zeros((1, 1)), 1e-300)
    assert v == pytest.approx(1e300 / math.sqrt(4 * math.pi), rel=1e-12)


@pytest.mark.parametrize(
    "call",
    [
        lambda: lm.late_time_params(np.zeros((0, 2)), 1.0, 1.0),
        lambda: lm.generated_gaussian(np.zeros(2), np.eye(3), 0.0, 1.0),
        lambda: lm.marginal_l2_grid(np.zeros((1, 1)), 0.1, np.ones((1, 1)), 0.1, grid=[]),
        lambda: lm.prob_delta_positive(lm.LinearDiffusionConfig(d=2), 5, 1, 0),
        lambda: lm.prob_delta_positive(lm.LinearDiffusionConfig(d=2), 5, 2, 0, N=2**40),
    ],
)
def test_empty_mismatched_or_huge_sizes_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_a_config_is_required():
    with pytest.raises(TypeError, match="LinearDiffusionConfig"):
        lm.simulate_generated(None, 10, 0)


def test_fuzz_findings_linear_model():
    with pytest.raises(ValueError, match="sigma_X"):  # was OverflowError
        lm.LinearDiffusionConfig(d=2, sigma=1e300)
    with pytest.raises(ValueError, match="n_sim must be <="):  # hung
        lm.expected_hellinger(lm.LinearDiffusionConfig(d=2), 5, 2**62, 0)
    with pytest.raises(ValueError, match="sigma_X"):  # returned inf
        lm.late_time_params(np.array([[1e300], [0.0]]), 1.0, 1.0)
    with pytest.raises(TypeError, match="cfg must be a LinearDiffusionConfig"):
        lm.model_params(None)  # AttributeError
    _, s2 = lm.late_time_params(np.array([[1e150], [0.0]]), 1.0, 1.0)
    assert s2 == pytest.approx(math.exp(-2.0) * 0.25e300 + lm.noise_variance(1.0, 1.0), rel=1e-14)


def test_log_kde_cross_far_points_raise():
    # a fuzz finding: -inf from |Y - mu_G|^2 = 1e600
    with pytest.raises(ValueError, match="rescale"):
        lm.log_kde_cross([0.0], [[1.0]], np.full((1, 1), 1e300), 1.0)
    with pytest.raises(ValueError, match="rescale"):
        lm.log_kde_cross([1e300], [[1.0]], np.zeros((1, 1)), 1.0)


def test_half_crossing_validates_its_input():
    from diffmem_theory.mixing.figures.linear import half_crossing

    with pytest.raises(ValueError, match="p must be finite"):  # inf was accepted
        half_crossing([1, 2, 3], np.array([0.2, np.inf, 0.6]))
    with pytest.raises(ValueError, match="one value per n"):
        half_crossing([1, 2], np.array([0.2, 0.4, 0.6]))
    assert half_crossing([1, 2, 3], np.array([0.2, 0.4, 0.6])) == pytest.approx(2.5)


def test_simulate_slope_deviations():
    """theta1^T = c I + P per training set; an int seed draws fresh sets, reproducibly."""
    cfg = lm.LinearDiffusionConfig(d=3, data_model="appendixB")
    P, dm, s2, c = lm.simulate_slope_deviations(cfg, 12, 4, rng=7)
    assert P.shape == (4, 3, 3) and dm.shape == (4, 3)
    assert (s2, c) == lm.model_params(cfg)[:2]
    assert not np.allclose(P[0], P[1])  # one generator for all repetitions
    np.testing.assert_array_equal(P, lm.simulate_slope_deviations(cfg, 12, 4, rng=7)[0])
    g = np.random.default_rng(7)
    X, Y = lm.sample_training_pairs(cfg, 12, g)
    t0, t1 = lm.fit_linear_denoiser(X, Y)
    np.testing.assert_allclose(P[0], t1.T - c * np.eye(3), rtol=0, atol=1e-12)
    mu_X = np.full(3, math.exp(-cfg.T) * cfg.mu)
    np.testing.assert_allclose(dm[0], t0 + t1 @ mu_X - cfg.mu, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="reps"):
        lm.simulate_slope_deviations(cfg, 12, 0, rng=0)
