"""Tests of diffmem_theory.mixing.linear_model_mp: mpmath twins of the linear-model distances.

Agreement with the float64 functions of :mod:`diffmem_theory.mixing.linear_model` where float64 is
accurate (~1e-12), and cases where float64 loses its digits (H^2 near 0 or 1, tiny KL) that the
mpmath versions resolve, checked against exact closed forms for the same (float) inputs.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

from diffmem_theory.mixing import linear_model as lm
from diffmem_theory.mixing import linear_model_mp as hp


def spd(d: int, seed: int, scale: float = 1.0) -> np.ndarray:
    A = np.random.default_rng(seed).standard_normal((d, d))
    return scale * (A @ A.T / d + 0.5 * np.eye(d))


def rel(a, b) -> float:
    return abs(float(a) - float(b)) / max(abs(float(b)), 1e-300)


# --- agreement with float64 ----------------------------------------------------------------------


@pytest.mark.parametrize("d, seed", [(1, 0), (3, 1), (8, 2)])
def test_hellinger_matches_float64(d, seed):
    rng = np.random.default_rng(seed)
    S, mG, mu = spd(d, seed), rng.normal(size=d), rng.normal(size=d)
    for sigma in (0.7, 1.0, 1.6):
        h64 = lm.hellinger_sq(mG, S, mu, sigma)
        hmp = hp.hellinger_sq_mp(mG, S, mu, sigma, dps=40)
        assert isinstance(hmp, mp.mpf)
        assert abs(float(hmp) - h64) < 1e-13
        assert rel(hmp, h64) < 1e-12


@pytest.mark.parametrize("d, seed", [(1, 3), (4, 4), (8, 5)])
def test_kl_gaussian_matches_float64(d, seed):
    rng = np.random.default_rng(seed)
    S1, S2 = spd(d, seed), spd(d, seed + 10, 2.0)
    m1, m2 = rng.normal(size=d), rng.normal(size=d)
    assert rel(hp.kl_gaussian_mp(m1, S1, m2, S2, dps=40), lm.kl_gaussian(m1, S1, m2, S2)) < 1e-12
    # diagonal specialisation == general path
    w1, w2 = np.diag(S1).copy(), np.diag(S2).copy()
    a = hp.kl_gaussian_mp(m1, w1, m2, w2, dps=40)
    b = hp.kl_gaussian_mp(m1, np.diag(w1), m2, np.diag(w2), dps=40)
    assert rel(a, b) < 1e-35
    assert rel(a, lm.kl_gaussian(m1, np.diag(w1), m2, np.diag(w2))) < 1e-12


def test_kl_generated_matches_float64_on_a_simulated_training_set():
    cfg = lm.LinearDiffusionConfig(d=16)
    mG, SG, _ = lm.simulate_generated(cfg, 200, rng=0)
    r64 = lm.kl_generated(mG, SG, cfg.mu, cfg.sigma)
    rmp = hp.kl_generated_mp(mG, SG, cfg.mu, cfg.sigma, dps=40)
    assert set(rmp) == set(r64)
    for key in r64:
        assert rel(rmp[key], r64[key]) < 1e-11, key
    h64 = lm.hellinger_sq(mG, SG, cfg.mu, cfg.sigma)
    assert rel(hp.hellinger_sq_mp(mG, SG, cfg.mu, cfg.sigma, dps=40), h64) < 1e-12
    # the exact KL of kl_generated is kl_gaussian against N(mu, sigma^2 I)
    full = hp.kl_gaussian_mp(mG, SG, np.full(16, cfg.mu), np.eye(16) * cfg.sigma**2, dps=40)
    assert rel(full, rmp["exact"]) < 1e-30


def test_diagonal_hellinger_and_kl_generated_match_general():
    rng = np.random.default_rng(7)
    w, mG = rng.uniform(0.3, 2.0, 5), rng.normal(size=5)
    assert (
        rel(hp.hellinger_sq_mp(mG, w, 0.1, 1.2), hp.hellinger_sq_mp(mG, np.diag(w), 0.1, 1.2))
        < 1e-40
    )
    a, b = hp.kl_generated_mp(mG, w, 0.0, 0.9), hp.kl_generated_mp(mG, np.diag(w), 0.0, 0.9)
    for key in a:
        assert rel(a[key], b[key]) < 1e-40


@pytest.mark.parametrize("d", [16, 100])
@pytest.mark.parametrize("lam_hat", [1e-4, 1e-2, 1.0])
def test_b17_matches_float64_and_u_form(d, lam_hat):
    T, sigma, n = 2.0, 1.0, 10**4
    lam = lam_hat * math.exp(-4.0)
    v64 = lm.expected_kl_var_b_17(d, n, T, sigma, lam)
    vmp = hp.expected_kl_var_b_17_mp(d, n, T, sigma, lam, dps=60)
    assert rel(vmp, v64) < 1e-13
    with mp.workdps(60):
        u = mp.exp(2 * mp.mpf(T)) * (-mp.mpf(lam) * mp.expm1(-2 * mp.mpf(T))) / mp.mpf(sigma) ** 2
        vu = hp.expected_kl_var_b_17_u_mp(d, mp.mpf(d) / n, T, u, dps=60)
        assert abs(vu - vmp) <= mp.mpf(10) ** -55 * vmp
    assert (
        rel(
            hp.expected_kl_var_b_17_u_mp(d, d / n, T, float(u)),
            lm.expected_kl_var_b_17_u(d, d / n, T, float(u)),
        )
        < 1e-13
    )


def test_b17_reference_table():
    """Notes §3 Fig. 2 table, (B.17) column (rel 1e-5)."""
    for lam_hat, d, ref in [(1e-4, 16, 6.15673e-08), (1.0, 16, 3.8555), (1e-1, 100, 0.242002)]:
        v = hp.expected_kl_var_b_17_mp(d, 10**4, 2, 1, mp.mpf(lam_hat) * mp.exp(-4))
        assert rel(v, ref) < 1e-5


# --- where float64 loses digits --------------------------------------------------------------


def test_hellinger_near_zero_resolved():
    """Sigma_G = (1 + e) I: H^2 = -expm1(d/2 [log 2 + log(1+e)/2 - log(2+e)]) ~ d e^2 / 16."""
    d, e = 3, 2.0**-34
    S = np.eye(d) * (1.0 + e)  # exact in float64
    with mp.workdps(80):
        ee = mp.mpf(e)
        truth = -mp.expm1(d * (mp.log(2) + mp.log1p(ee) / 2 - mp.log(2 + ee)) / 2)
    h = hp.hellinger_sq_mp(np.zeros(d), S, 0.0, 1.0, dps=50)
    assert abs(h - truth) <= mp.mpf(10) ** -35 * truth
    assert rel(h, d * e**2 / 16) < 1e-9
    # float64 cannot resolve H^2 ~ 1e-21: it is off by orders of magnitude (or exactly 0)
    h64 = lm.hellinger_sq(np.zeros(d), S, 0.0, 1.0)
    assert abs(h64 - float(truth)) > 0.5 * float(truth)


def test_hellinger_near_one_resolved():
    """|mu_G - mu| = 60, Sigma_G = sigma^2 = 1 (d = 1): 1 - H^2 = e^{-450}, float64 H^2 = 1."""
    assert lm.hellinger_sq([60.0], [[1.0]], 0.0, 1.0) == 1.0
    h = hp.hellinger_sq_mp([60.0], [[1.0]], 0.0, 1.0, dps=250)
    with mp.workdps(250):
        assert abs((1 - h) / mp.exp(-450) - 1) < mp.mpf(10) ** -30
    assert hp.log_bhattacharyya_mp([60.0], [[1.0]], 0.0, 1.0) == -450


def test_tiny_kl_resolved():
    """S1 = (1 + e) S2 exactly in float64: KL = (d/2)(e - log(1 + e)) ~ d e^2 / 4."""
    e = 2.0**-30
    S2 = np.array([[2.0, 0.5], [0.5, 1.0]])
    S1 = S2 * (1.0 + e)  # exact: the entries of S2 have few bits
    assert np.array_equal((S1 - S2) / S2, np.full((2, 2), e))
    with mp.workdps(80):
        truth = mp.mpf(e) - mp.log1p(mp.mpf(e))  # (d/2) * (...) with d = 2
    k = hp.kl_gaussian_mp([0.0, 0.0], S1, [0.0, 0.0], S2, dps=50)
    assert abs(k - truth) <= mp.mpf(10) ** -35 * truth
    k64 = lm.kl_gaussian([0.0, 0.0], S1, [0.0, 0.0], S2)
    # truth ~ 4.3e-19, below the ~1e-16 cancellation error of tr - d - log det in float64
    assert abs(k64 - float(truth)) > 0.5 * float(truth)


def test_below_float64_resolution_via_strings():
    e = mp.mpf("1e-30")
    r = hp.kl_generated_mp([0.0], ["1.000000000000000000000000000001"], 0.0, 1.0, dps=80)
    with mp.workdps(80):
        assert abs(r["var_exact"] - (e - mp.log1p(e)) / 2) < mp.mpf(10) ** -75
        assert abs(r["var_quad"] - e**2 / 4) < mp.mpf(10) ** -75


def test_d100_general_path():
    d = 100
    S = spd(d, 11)
    mG = np.random.default_rng(11).normal(size=d) * 0.1
    assert (
        rel(hp.hellinger_sq_mp(mG, S, 0.0, 1.0, dps=20), lm.hellinger_sq(mG, S, 0.0, 1.0)) < 1e-12
    )


# --- singular and bad input ------------------------------------------------------------------


def test_singular_covariances():
    S = np.array([[1.0, 1.0], [1.0, 1.0]])
    assert hp.hellinger_sq_mp([0, 0], S, 0, 1) == 1
    assert hp.log_bhattacharyya_mp([0, 0], [1.0, 0.0], 0, 1) == mp.mpf("-inf")
    assert hp.kl_gaussian_mp([0, 0], S, [0, 0], np.eye(2)) == mp.inf
    r = hp.kl_generated_mp([0, 0], S, 0, 1)
    assert r["var_exact"] == mp.inf and r["exact"] == mp.inf
    assert r["var_quad"] == mp.mpf(1) / 2  # sigma-hat eigenvalues 1, -1


@pytest.mark.parametrize(
    "call",
    [
        lambda: hp.hellinger_sq_mp([0.0], [[1.0]], 0.0, 0.0),
        lambda: hp.hellinger_sq_mp([0.0], [[1.0]], 0.0, -1.0),
        lambda: hp.hellinger_sq_mp([0.0, 1.0], [[1.0]], 0.0, 1.0),
        lambda: hp.hellinger_sq_mp([0.0], [[1.0, 0.0]], 0.0, 1.0),
        lambda: hp.hellinger_sq_mp([math.nan], [[1.0]], 0.0, 1.0),
        lambda: hp.hellinger_sq_mp([0.0], [[1.0]], 0.0, 1.0, dps=2),
        lambda: hp.kl_gaussian_mp([0.0], [[1.0]], [0.0], [[0.0]]),
        lambda: hp.kl_gaussian_mp([0.0], [[1.0]], [0.0, 0.0], np.eye(2)),
        lambda: hp.kl_generated_mp([0.0], [[1.0]], 0.0, "abc"),
        lambda: hp.expected_kl_var_b_17_mp(0, 10, 1.0, 1.0, 1.0),
        lambda: hp.expected_kl_var_b_17_mp(4, 1, 1.0, 1.0, 1.0),
        lambda: hp.expected_kl_var_b_17_mp(4, 10, 1.0, 1.0, 0.0),
        lambda: hp.expected_kl_var_b_17_u_mp(4, -0.1, 1.0, 1.0),
        lambda: hp.expected_kl_var_b_17_u_mp(4, 0.1, 0.0, 1.0),
    ],
)
def test_bad_input_raises(call):
    with pytest.raises(ValueError):
        call()


# --- negative-definite covariances, (B.17) at alpha >= 1 (fuzz findings) -------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: hp.log_bhattacharyya_mp(np.zeros(2), -np.eye(2), 0.0, 1.0),
        lambda: hp.log_bhattacharyya_mp(np.zeros(2), [-1.0, 1.0], 0.0, 1.0),
        lambda: hp.hellinger_sq_mp(np.zeros(2), [[1.0, 2.0], [2.0, 1.0]], 0.0, 1.0),
        lambda: hp.kl_generated_mp(np.zeros(2), -np.eye(2), 0.0, 1.0),
        lambda: hp.kl_gaussian_mp(np.zeros(2), -np.eye(2), np.zeros(2), np.eye(2)),
        lambda: hp.kl_gaussian_mp(np.zeros(2), np.eye(2), np.zeros(2), -np.eye(2)),
    ],
)
def test_negative_definite_covariance_raises_instead_of_inf(call):
    with pytest.raises(ValueError, match=r"(Sigma_G|S1|S2) must"):
        call()


def test_b17_refuses_alpha_at_least_one():
    with pytest.raises(ValueError, match="alpha = d/n < 1"):
        hp.expected_kl_var_b_17_mp(50, 20, 2.0, 1.0, 0.1)
    with pytest.raises(ValueError, match="alpha = d/n < 1"):
        hp.expected_kl_var_b_17_u_mp(4, 1, 1.0, 1.0)


def test_dps_is_bounded():
    with pytest.raises(ValueError, match="dps"):
        hp.hellinger_sq_mp([0.0], [[1.0]], 0.0, 1.0, dps=10**9)
