"""Tests of diffmem_theory.leakage.information: Lemma 4.2 (corrected) and Lemma D.1 of Shah et al.
(paper 004).

Reference values at d = 1, Sigma = 1, sigma_tn = 0.5 (SNR = 3), m = 10 are worked out by hand:
I(A) = ln 2, the printed I(D) = 10 ln 2, the exact I(D) = 1/2 ln 31, MMSE 1/4 and 1/31. Elsewhere
the closed forms are tested against joint-covariance log-determinants and inequalities.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diffmem_theory.core.schedules import VPTrig
from diffmem_theory.leakage import information as lk
from diffmem_theory.registry import get_check

SIGMAS = st.floats(0.01, 0.99)
COPIES = st.integers(1, 200)
SEEDS = st.integers(0, 2**31 - 1)
DIMS = st.integers(1, 4)


def _spd(d: int, seed: int) -> np.ndarray:
    g = np.random.default_rng(seed).standard_normal((d, d))
    return g @ g.T / d + 0.1 * np.eye(d)


def _gaussian_mi(joint: np.ndarray, k: int) -> float:
    """I(U; V) = 1/2 log(det C_U det C_V / det C) for a joint covariance, U = the first k coords."""
    logdet = lambda c: np.linalg.slogdet(c)[1]  # noqa: E731
    return 0.5 * (logdet(joint[:k, :k]) + logdet(joint[k:, k:]) - logdet(joint))


def _mi_ddpm_printed(cov, sigma, m, **kw):
    return lk.mi_ddpm(cov, sigma, m, printed=True, **kw)


def _joint_x0_samples(cov: np.ndarray, sigma: float, m: int) -> np.ndarray:
    """Covariance of (x0, x_1..x_m), x_i = a x0 + sigma z_i (DDPM samples, Lemma 4.2)."""
    a = math.sqrt(1.0 - sigma**2)
    d = cov.shape[0]
    cross = np.kron(np.ones((1, m)), a * cov)
    block = a * a * np.kron(np.ones((m, m)), cov) + sigma**2 * np.eye(m * d)
    return np.block([[cov, cross], [cross.T, block]])


# --- reference values ------------------------------------------------------------------------


def test_reference_values():
    assert lk.mi_ambient([1.0], 0.5) == pytest.approx(math.log(2.0), abs=1e-12)
    assert lk.mi_ddpm([1.0], 0.5, 10, printed=True) == pytest.approx(6.9314718056, abs=1e-9)
    assert lk.mi_ddpm([1.0], 0.5, 10) == pytest.approx(1.7169936022, abs=1e-9)
    assert lk.mmse_x0([1.0], 0.5, 10, "ambient") == pytest.approx(0.25, abs=1e-12)
    assert lk.mmse_x0([1.0], 0.5, 10) == pytest.approx(1.0 / 31.0, abs=1e-12)


def test_table_d1():
    sigma = np.array([0.1, 0.5, 0.9, 0.99])[:, None]
    m = np.array([1, 10, 100])
    snr = (1 - sigma**2) / sigma**2
    np.testing.assert_allclose(lk.mi_ddpm([1.0], sigma, m), 0.5 * np.log(1 + m * snr))
    np.testing.assert_allclose(lk.mi_ddpm([1.0], sigma, m, printed=True), 0.5 * m * np.log(1 + snr))


def test_identity_covariance_is_d_half_log_inverse_variance():
    for d in (1, 3, 8):
        want = 0.5 * d * math.log(1.0 / 0.3**2)
        assert lk.mi_ambient(np.eye(d), 0.3) == pytest.approx(want, abs=1e-12)
        assert lk.mi_ambient_dataset_bound(d, 0.3, 1, 1) == pytest.approx(want, abs=1e-12)
        assert lk.mi_ambient_dataset_bound(d, 0.3, 1, 1, printed=True) == pytest.approx(
            want, abs=1e-12
        )


# --- closed forms against the joint-covariance log-determinant (eq. (11)) ----------------------


@settings(max_examples=40, deadline=None)
@given(DIMS, SIGMAS, st.integers(1, 6), SEEDS)
def test_closed_forms_match_joint_gaussian_logdet(d, sigma, m, seed):
    cov = _spd(d, seed)
    joint = _joint_x0_samples(cov, sigma, m)
    assert lk.mi_ddpm(cov, sigma, m) == pytest.approx(_gaussian_mi(joint, d), rel=1e-9)
    one = _joint_x0_samples(cov, sigma, 1)
    assert lk.mi_ambient(cov, sigma) == pytest.approx(_gaussian_mi(one, d), rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(DIMS, SIGMAS, COPIES, SEEDS)
def test_mmse_matches_posterior_covariance(d, sigma, m, seed):
    cov = _spd(d, seed)
    snr = (1 - sigma**2) / sigma**2
    post = np.linalg.inv(np.linalg.inv(cov) + m * snr * np.eye(d))
    assert lk.mmse_x0(cov, sigma, m) == pytest.approx(np.trace(post), rel=1e-10)
    amb = np.linalg.inv(np.linalg.inv(cov) + snr * np.eye(d))
    assert lk.mmse_x0(cov, sigma, m, "ambient") == pytest.approx(np.trace(amb), rel=1e-10)


def test_spectrum_and_matrix_inputs_agree():
    cov = _spd(3, 1)
    lam = np.linalg.eigvalsh(cov)
    for func in (lk.mi_ddpm, _mi_ddpm_printed, lk.mmse_x0):
        assert func(lam, 0.4, 7) == pytest.approx(func(cov, 0.4, 7), rel=1e-12)


def test_log_snr_matches_vptrig():
    s = np.linspace(0.01, 0.99, 25)
    np.testing.assert_allclose(lk.log_snr(s), VPTrig().log_snr(s), rtol=1e-12, atol=1e-12)


# --- inequalities and limits of Lemma 4.2 -----------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(DIMS, SIGMAS, COPIES, SEEDS)
def test_lemma_4_2_inequalities(d, sigma, m, seed):
    cov = _spd(d, seed)
    i_a = lk.mi_ambient(cov, sigma)
    i_d = lk.mi_ddpm(cov, sigma, m)
    assert i_a - 1e-12 <= i_d <= lk.mi_ddpm(cov, sigma, m, printed=True) + 1e-12  # subadditivity
    assert i_d - i_a <= 0.5 * d * math.log(m) + 1e-12
    assert lk.mi_ddpm(cov, sigma, 1) == pytest.approx(i_a, rel=1e-14)
    assert lk.mmse_x0(cov, sigma, m) <= lk.mmse_x0(cov, sigma, m, "ambient") + 1e-15


@settings(max_examples=40, deadline=None)
@given(DIMS, st.floats(0.01, 0.98), st.floats(1e-4, 0.01), COPIES, SEEDS)
def test_leakage_decreasing_in_noise(d, sigma, step, m, seed):
    cov = _spd(d, seed)
    for func in (lk.mi_ambient, lambda c, s: lk.mi_ddpm(c, s, m)):
        assert func(cov, sigma + step) < func(cov, sigma)
    assert lk.mmse_x0(cov, sigma + step, m) > lk.mmse_x0(cov, sigma, m)


def test_limits_in_sigma():
    cov = _spd(2, 4)
    assert lk.mi_ambient(cov, 1.0) == 0.0
    assert lk.mi_ddpm(cov, 1.0, 50) == 0.0
    assert lk.mi_ambient(cov, 1e-150) > 600  # -> inf, without overflow
    ratio_high = lk.mi_ddpm(cov, 1 - 1e-9, 50) / lk.mi_ambient(cov, 1 - 1e-9)
    ratio_low = lk.mi_ddpm(cov, 1e-100, 50) / lk.mi_ambient(cov, 1e-100)
    assert ratio_high == pytest.approx(50, rel=1e-6)  # paper's m-times is tight only here
    assert 1.0 < ratio_low < 1.01  # and off by a factor m here (ratio -> 1 like 1/log SNR)
    assert lk.mmse_x0(cov, 1.0, 5) == pytest.approx(np.trace(cov), rel=1e-12)


def test_mmse_is_order_one_over_m():
    cov = _spd(3, 2)
    snr = (1 - 0.3**2) / 0.3**2
    m = np.array([10, 100, 1000, 10**6])
    scaled = m * lk.mmse_x0(cov, 0.3, m)
    assert np.all(np.diff(scaled) > 0)
    assert scaled[-1] == pytest.approx(3 / snr, rel=1e-4)  # m mmse -> d / SNR
    assert np.ptp(lk.mmse_x0(cov, 0.3, m, "ambient")) == 0.0  # no consistent estimator


def test_vectorized_shapes_and_singular_covariance():
    out = lk.mi_ddpm([1.0, 0.0], np.array([0.2, 0.5, 1.0]), np.array([[1], [10]]))
    assert out.shape == (2, 3)
    single = [lk.mi_ddpm([1.0], s, m) for m in (1, 10) for s in (0.2, 0.5, 1.0)]
    np.testing.assert_allclose(out.ravel(), single, rtol=1e-14)
    assert lk.mmse_x0([[1.0, 1.0], [1.0, 1.0]], 0.5, 3) == pytest.approx(2 / (1 + 3 * 3 * 2))


# --- Lemma D.1 ---------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(DIMS, SIGMAS, COPIES, st.integers(1, 500), st.floats(1e-4, 0.01))
def test_dataset_bound_properties(d, sigma, m, N, step):
    tight = lk.mi_ambient_dataset_bound(d, sigma, m, N)
    paper = lk.mi_ambient_dataset_bound(d, sigma, m, N, printed=True)
    per_point = lk.mi_ambient(np.ones(d), sigma)
    assert 0.0 <= tight <= min(m, N) * per_point * (1 + 1e-12) + 1e-12
    assert tight <= paper * (1 + 1e-12)
    assert lk.mi_ambient_dataset_bound(d, min(sigma + step, 1.0), m, N) < tight
    assert lk.mi_ambient_dataset_bound(d, 1.0, m, N) == 0.0


def test_dataset_bound_counts_distinct_indices():
    # E[#distinct of m uniform draws from N] by exact enumeration, N = 3, m = 4
    idx = np.array(np.meshgrid(*[range(3)] * 4)).reshape(4, -1).T
    distinct = np.mean([len(set(row)) for row in idx])
    want = distinct * lk.mi_ambient(np.ones(2), 0.4)
    assert lk.mi_ambient_dataset_bound(2, 0.4, 4, 3) == pytest.approx(want, rel=1e-12)


# --- mpmath twins ------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 3), st.floats(1e-6, 1.0), st.integers(1, 10**4), SEEDS)
def test_mpmath_twins(d, sigma, m, seed):
    cov = _spd(d, seed)
    for func in (lk.mi_ddpm, _mi_ddpm_printed, lk.mmse_x0):
        fast, slow = func(cov, sigma, m), func(cov, sigma, m, dps=30)
        assert isinstance(slow, mpmath.mpf)
        assert fast == pytest.approx(float(slow), rel=1e-12, abs=1e-300)
    assert lk.mi_ambient(cov, sigma) == pytest.approx(
        float(lk.mi_ambient(cov, sigma, dps=30)), rel=1e-12, abs=1e-300
    )
    for printed in (False, True):
        fast = lk.mi_ambient_dataset_bound(d, sigma, m, 7, printed=printed)
        slow = lk.mi_ambient_dataset_bound(d, sigma, m, 7, printed=printed, dps=30)
        assert fast == pytest.approx(float(slow), rel=1e-12, abs=1e-300)


def test_mpmath_beyond_float64():
    tiny = mpmath.mpf("1e-400")  # underflows in float64
    got = lk.mi_ambient([1.0], tiny, dps=30)
    assert got == pytest.approx(float(-mpmath.log(tiny)), rel=1e-25)


# --- Monte Carlo -------------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "sigma", "m"), [("ddpm", 0.6, 5), ("ambient", 0.6, 5)])
def test_mc_within_three_standard_errors(model, sigma, m):
    cov = _spd(2, 11)
    exact = lk.mi_ddpm(cov, sigma, m) if model == "ddpm" else lk.mi_ambient(cov, sigma)
    est = lk.leakage_mc(cov, sigma, m, model, n_samples=20_000, rng=3)
    assert abs(est.estimate - exact) < 3 * est.stderr
    assert est.stderr < 0.02


def test_mc_rejects_the_printed_m_times_formula():
    est = lk.leakage_mc([1.0], 0.5, 10, n_samples=20_000, rng=5)
    assert lk.mi_ddpm([1.0], 0.5, 10, printed=True) - est.estimate > 50 * est.stderr


def test_mc_is_seeded_and_ambient_ignores_m():
    a = lk.leakage_mc([1.0, 2.0], 0.4, 3, "ambient", n_samples=500, rng=7)
    b = lk.leakage_mc([1.0, 2.0], 0.4, 9, "ambient", n_samples=500, rng=np.random.default_rng(7))
    assert a == b


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "word"),
    [
        (lambda: lk.mi_ambient([1.0], 0.0), "sigma_tn"),
        (lambda: lk.mi_ambient([1.0], 1.5), "sigma_tn"),
        (lambda: lk.mi_ambient([1.0], "-1e-500", dps=30), "sigma_tn"),
        (lambda: lk.mi_ddpm([1.0], 0.5, 0), "m"),
        (lambda: lk.mi_ddpm([1.0], 0.5, 2.5), "m"),
        (lambda: lk.mi_ddpm([1.0], 0.5, 2.5, dps=30), "m"),
        (lambda: lk.mi_ambient([[1.0, 0.3], [0.0, 1.0]], 0.5), "cov"),
        (lambda: lk.mi_ambient([-1.0], 0.5), "cov"),
        (lambda: lk.mi_ambient([[1.0, 2.0], [2.0, 1.0]], 0.5, dps=20), "cov"),
        (lambda: lk.mmse_x0([1.0], 0.5, 2, "both"), "kind"),
        (lambda: lk.mi_ambient_dataset_bound(0, 0.5, 2, 3), "d"),
        (lambda: lk.mi_ambient_dataset_bound(2, 0.5, 2, 0), "N"),
        (lambda: lk.mi_ambient_dataset_bound(2, 0.5, 2, 3, printed="loose"), "printed"),
        (lambda: lk.mi_ambient([1.0], 0.5, dps=2), "dps"),
        (lambda: lk.leakage_mc([1.0], 0.5, 2, "vae"), "model"),
        (lambda: lk.leakage_mc([1.0], 0.5, 2, n_samples=1), "n_samples"),
    ],
)
def test_bad_input_names_the_argument(call, word):
    with pytest.raises(ValueError, match=word):
        call()


# --- registered checks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "paper004.lemma42_reference",
        "paper004.erratum_lemma42_ddpm_m_times",
        "paper004.lemma42_mc",
        "paper004.lemma42_mpmath",
        "paper004.lemma42_i_mmse",
        "paper004.lemmaD1_bound",
        "paper004.erratum_lemmaD1_proof",
    ],
)
def test_checks_pass(name):
    spec = get_check(name)
    result = spec.run()
    assert result.status == ("erratum" if spec.erratum else "pass"), result.note


# --- counts, sizes, results beyond float64 ----------------------------------------------------


@pytest.mark.parametrize("m", [math.nan, 1.5, 0, 1j, "2"])
def test_mmse_ambient_validates_m(m):
    # kind="ambient" ignored m: mmse_x0([1.], .5, nan, kind="ambient") returned 0.25
    with pytest.raises(ValueError, match="m must be"):
        lk.mmse_x0([1.0], 0.5, m, kind="ambient")
    with pytest.raises(ValueError, match="m must be"):
        lk.mmse_x0([1.0], 0.5, m, kind="ambient", dps=30)


def test_counts_beyond_int64_and_sizes():
    # a Python int beyond int64 is a valid count
    assert lk.mi_ddpm([1.0], 0.5, 10**30) == pytest.approx(0.5 * math.log1p(3e30))
    with pytest.raises(ValueError, match="joint dimension m d = 1000000"):
        lk.leakage_mc([1.0], 0.5, 10**6)  # was a MemoryError
    with pytest.raises(ValueError, match="GiB of working memory"):
        lk.leakage_mc([1.0], 0.5, 3, n_samples=2**62)
    with pytest.raises(ValueError, match="dps must be <= 10000"):
        lk.mi_ambient([1.0], "0.5", dps=10**9)
    with pytest.raises(ValueError, match="outside the float64 range"):
        lk.mi_ambient_dataset_bound(2**62, 5e-324, 10**300, 2, printed=True)


def test_leakage_estimate_fields_are_real():
    with pytest.raises(ValueError, match="estimate must be a real scalar"):
        lk.LeakageEstimate(1j, 0.1)
    with pytest.raises(ValueError, match="stderr must be >= 0"):
        lk.LeakageEstimate(1.0, -0.1)
    assert lk.LeakageEstimate(1, 0) == (1.0, 0.0)


def test_mmse_default_kind_is_ddpm():
    assert lk.mmse_x0([1.0], 0.5, 10) == pytest.approx(1.0 / 31.0)
