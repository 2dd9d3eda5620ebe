"""Tests for diffmem_theory.leakage.feldman (paper 004, Thm B.2, eq. (7), Lemmas B.4-B.9, App.
B.3).
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq
from scipy.stats import chi2

from diffmem_theory.leakage.checks.feldman import ZIPF_TABLE, random_prior, zipf_row
from diffmem_theory.leakage.feldman import (
    FrequencyPrior,
    expected_singletons,
    heavy_tail_weight,
    is_heavy_tailed,
    lemma_b_4_constant,
    lemma_b_4_rhs,
    lemma_b_5_applies,
    mc_smoothed_diameter,
    merge_weights,
    sigma_merge,
    sigma_merge_proof,
    sigma_sep,
    sigma_sep_proof,
    singletons_lower_bound,
    smoothed_diameter_bound,
    smoothed_failure_bound,
    tau1_vs_noise,
    tau_dirichlet,
    tau_ell,
    tv_at_noise,
    tv_isotropic,
    weight,
    zipf_frequencies,
)
from diffmem_theory.registry import list_checks

# --- reference values ----------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "ref"), list(ZIPF_TABLE.items()))
def test_zipf_table(key, ref):
    np.testing.assert_allclose(zipf_row(*key), ref, atol=1e-4)


def test_zipf_monte_carlo_prior():
    """Notes: 200 replicas of D give n tau_1 ~ 0.568 +- 0.02 for (N, n) = (1000, 1000)."""
    prior = FrequencyPrior.from_list(zipf_frequencies(1000), method="mc", replicas=200, rng=3)
    assert abs(1000 * tau_ell(1, 1000, prior) - 0.568) <= 0.02
    assert abs(prior.total_weight - 1.0) < 1e-12


def test_light_tail_and_heavy_tail():
    uniform = FrequencyPrior([0.01], N=100)
    assert tau_ell(1, 1000, uniform) == pytest.approx(0.01, abs=1e-15)
    assert not is_heavy_tailed(uniform, 1000)
    assert is_heavy_tailed(FrequencyPrior.from_list(zipf_frequencies(1000)), 1000)


def test_tau_posterior_reference():
    prior = FrequencyPrior([0.001, 0.004, 0.01, 0.05, 0.2], [0.3, 0.3, 0.2, 0.15, 0.05], N=100)
    np.testing.assert_allclose(
        tau_ell([0, 1, 2, 5], 100, prior), [0.0033884, 0.0070950, 0.0156918, 0.0491377], atol=1e-7
    )


def test_singleton_reference_and_erratum():
    prior = FrequencyPrior([0.1], N=10)
    assert expected_singletons(prior, 10) == pytest.approx(3.874205, abs=1e-6)
    assert singletons_lower_bound(prior, 10, printed=True) == 5.0  # the printed bound fails
    big = FrequencyPrior([1e-3], N=1000)
    assert expected_singletons(big, 1000) == pytest.approx(368.06, abs=0.01)


def test_tv_and_threshold_references():
    assert tv_isotropic(0.7) == pytest.approx(0.2736613, abs=1e-7)
    assert sigma_merge(0.125, 0.5, printed=True) == pytest.approx(0.968246, abs=1e-6)
    assert tv_at_noise(0.5, sigma_merge(0.125, 0.5, printed=True)) == pytest.approx(
        0.133906, abs=1e-6
    )
    assert sigma_merge(0.125, 0.5) == pytest.approx(0.972422, abs=1e-6)
    C = 1 / 600
    assert sigma_merge(C / 4, C, printed=True) == pytest.approx(0.96824584, abs=1e-8)
    assert sigma_merge(C / 4, C) == pytest.approx(0.96824588, abs=1e-8)


def test_lemma_b_4_constant_values():
    np.testing.assert_allclose(
        lemma_b_4_constant([3, 4, 5, 10]), [1.111, 1.25, 1.2647, 1.2284], atol=1e-3
    )
    assert lemma_b_4_constant(10**7) == pytest.approx(5 / 3 * math.exp(-1 / 3), abs=1e-5)
    assert lemma_b_4_constant(2) < 1.0  # n = 2: the degenerate case a = 1 breaks the lemma


# --- tau_l against twins -------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_tau_matches_plain_numpy_and_mpmath(n, seed):
    rng = np.random.default_rng(seed)
    atoms = rng.uniform(0.0, 1.0, 5)
    probs = rng.dirichlet(np.ones(5))
    prior = FrequencyPrior(atoms, probs, N=7)
    ell = np.arange(n + 1)
    num = np.array([probs @ (atoms ** (k + 1) * (1 - atoms) ** (n - k)) for k in ell])
    den = np.array([probs @ (atoms**k * (1 - atoms) ** (n - k)) for k in ell])
    np.testing.assert_allclose(tau_ell(ell, n, prior), num / den, rtol=1e-10)
    k = int(rng.integers(0, n + 1))
    with mpmath.workdps(40):
        a = [mpmath.mpf(float(x)) for x in atoms]
        p = [mpmath.mpf(float(x)) for x in probs]
        mp = sum(pi * x ** (k + 1) * (1 - x) ** (n - k) for pi, x in zip(p, a, strict=True)) / sum(
            pi * x**k * (1 - x) ** (n - k) for pi, x in zip(p, a, strict=True)
        )
    assert tau_ell(k, n, prior) == pytest.approx(float(mp), rel=1e-12)


def test_tau_large_n_no_underflow():
    """Both likelihoods underflow in plain powers ((1 - 1e-3)^1e6 = e^-1000); log-sum-exp copes."""
    prior = FrequencyPrior([1e-3, 2e-3], [0.5, 0.5], N=700)
    assert (1 - 1e-3) ** 1_000_000 == 0.0
    expected = (1e-3 + 2e-3 * 2 * math.exp(1e6 * (math.log1p(-2e-3) - math.log1p(-1e-3)))) / (
        1 + 2 * math.exp(1e6 * (math.log1p(-2e-3) - math.log1p(-1e-3)))
    )
    assert tau_ell(1, 1_000_000, prior) == pytest.approx(expected, rel=1e-9)


def test_tau_atoms_at_zero_and_one():
    prior = FrequencyPrior([0.0, 0.2, 1.0], [0.2, 0.6, 0.2], N=5)
    assert tau_ell(0, 10, prior) == pytest.approx(0.6 * 0.2 * 0.8**10 / (0.2 + 0.6 * 0.8**10))
    assert tau_ell(10, 10, prior) == pytest.approx((0.6 * 0.2**11 + 0.2) / (0.6 * 0.2**10 + 0.2))
    with pytest.raises(ValueError, match="probability 0"):
        tau_ell(1, 10, FrequencyPrior([0.0, 1.0], N=1))


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 30), st.integers(1, 60), st.floats(0.1, 5.0))
def test_tau_dirichlet_is_beta_posterior_mean(N, n, k):
    """(k + l)/(Nk + n) equals tau_l of pi_bar = Beta(k, (N-1)k) (mpmath quadrature)."""
    ell = n // 2
    with mpmath.workdps(30):
        a, b = mpmath.mpf(k), mpmath.mpf((N - 1) * k)

        def moment(j, r):
            return mpmath.beta(a + j, b + r)

        ref = moment(ell + 1, n - ell) / moment(ell, n - ell)
    assert tau_dirichlet(ell, n, N, k) == pytest.approx(float(ref), rel=1e-12)


# --- Lemma B.4 / B.5 / singletons (property tests) -----------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.integers(3, 2000), st.integers(0, 2**32 - 1))
def test_lemma_b_4_no_violation_for_n_at_least_3(n, seed):
    prior = random_prior(np.random.default_rng(seed), n)
    assert prior.total_weight == pytest.approx(1.0)
    assert tau_ell(1, n, prior) >= lemma_b_4_rhs(prior, n) * (1 - 1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(3, 10**6))
def test_lemma_b_4_constant_at_least_one(n):
    assert lemma_b_4_constant(n) >= 1.0


def test_lemma_b_4_can_fail_at_n_2():
    """A prior with all mass at a = 1 = 2/n: tau_1 = 0 < RHS (the degenerate case n = 2)."""
    prior = FrequencyPrior([1.0, 1e-6], [0.5, 0.5], N=1)
    assert lemma_b_4_rhs(prior, 2) == pytest.approx(0.05)
    assert tau_ell(1, 2, prior) < 1e-5


@settings(max_examples=60, deadline=None)
@given(
    st.integers(3, 3000),
    st.floats(0.01, 1.0),
    st.floats(1e-4, 1.0),
    st.floats(0.3, 0.999),
    st.floats(1.0, 3.0),
)
def test_lemma_b_5_no_violation(n, theta_frac, small_frac, q, big_factor):
    theta = theta_frac / (2 * n)
    small = small_frac * theta
    beta_guess = q * small / (q * small + (1 - q) * 0.5)
    big = min(1.0, big_factor * math.log(1 / (theta * beta_guess)) / n)
    prior = FrequencyPrior(
        [small, big], [q, 1 - q], N=max(1, round(1 / (q * small + (1 - q) * big)))
    )
    if lemma_b_5_applies(prior, n, theta):
        assert tau_ell(1, n, prior) <= 2 * theta


def test_lemma_b_5_hypothesis_rejects():
    zipf = FrequencyPrior.from_list(zipf_frequencies(1000))
    assert not lemma_b_5_applies(zipf, 1000, 1e-4)  # heavy tail: no gap
    assert not lemma_b_5_applies(zipf, 1000, 1e-3)  # theta > 1/(2n)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 500), st.integers(0, 2**32 - 1))
def test_corrected_singleton_bound_holds(n, seed):
    prior = random_prior(np.random.default_rng(seed), max(n, 3))
    assert expected_singletons(prior, n) >= singletons_lower_bound(prior, n) * (1 - 1e-12)


def test_weight_definitions():
    prior = FrequencyPrior([0.1, 0.4], [0.5, 0.5], N=4)
    assert weight(prior, 0.0, 1.0) == pytest.approx(prior.total_weight)
    assert weight(prior, 0.2, 0.3) == 0.0
    assert heavy_tail_weight(prior, 10) == pytest.approx(4 * 0.5 * 0.1)
    with pytest.raises(ValueError, match="hi"):
        weight(prior, 0.5, 0.1)


# --- Lemma B.7 -----------------------------------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 12), st.integers(1, 6), st.floats(1e-3, 0.3), st.floats(0.0, 20.0))
def test_lemma_b_7_corrected_failure_rate(d, m, sigma, R):
    x0 = np.zeros(d)
    x0[0] = R
    diam = mc_smoothed_diameter(x0, sigma, m, 2000, rng=d * 100 + m)
    rate = np.mean(diam > smoothed_diameter_bound(sigma, d, R))
    bound = min(1.0, smoothed_failure_bound(m, d))
    assert rate <= bound + 3 * math.sqrt(bound * (1 - bound) / diam.size) + 1e-12


def test_lemma_b_7_printed_concentration_fails():
    assert chi2.sf(100, 100) == pytest.approx(0.48, abs=0.01)  # P(|z| > sqrt d), not <= e^{-50}
    d = np.arange(1, 300)
    assert np.all(chi2.logsf(4 * d, d) <= -d / 2)  # P(|z| >= 2 sqrt d) <= e^{-d/2}


def test_smoothed_diameter_is_not_vacuous():
    """Half the bound's noise term is exceeded often: the MC can detect a wrong bound."""
    diam = mc_smoothed_diameter(np.zeros(10), 0.1, 5, 500, rng=0)
    assert np.mean(diam > 0.5 * 4 * 0.1 * math.sqrt(10) / 2) > 0.5


# --- Lemma 4.5 / B.8 / B.9 -----------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.floats(1e-4, 0.999), st.floats(1e-3, 0.499))
def test_low_noise_claim_holds(C, frac):
    """Lemma 4.5 / B.8 (low noise) holds for every C: TV_t > 2 eps at the printed sigma."""
    eps = frac * C
    assert tv_at_noise(C, sigma_sep(eps, C, printed=True)) > 2 * eps


@pytest.mark.xfail(strict=True, reason="Lemma 4.5 / B.9 high noise is false as printed (erratum)")
@settings(max_examples=30, deadline=None)
@given(st.floats(1e-3, 0.999), st.floats(0.01, 0.99))
def test_high_noise_claim_as_printed(C, frac):
    eps = frac * C
    assert tv_at_noise(C, sigma_merge(eps, C, printed=True)) <= eps


@settings(max_examples=40, deadline=None)
@given(st.floats(1e-3, 0.99), st.floats(0.01, 0.49))
def test_exact_thresholds_match_bisection(C, frac):
    eps = frac * C
    for level, exact in ((eps, sigma_merge(eps, C)), (2 * eps, sigma_sep(eps, C))):
        root = brentq(lambda s, lv=level: tv_at_noise(C, s) - lv, 0.0, 1.0, xtol=1e-15)
        assert abs(root - exact) <= 1e-12
    assert sigma_merge(eps, C) > sigma_merge(eps, C, printed=True)  # the printed one is too low
    assert sigma_sep(eps, C) >= sigma_sep(eps, C, printed=True)  # the printed one is conservative


@settings(max_examples=40, deadline=None)
@given(st.floats(1e-3, 2.0), st.floats(0.01, 0.7))
def test_proof_thresholds_are_sufficient(delta, frac):
    eps = frac * delta
    a = math.sqrt(1 - sigma_merge_proof(eps, delta) ** 2)
    assert tv_isotropic(a * delta) <= eps
    eps_sep = frac * delta / 400
    a = math.sqrt(1 - sigma_sep_proof(eps_sep, delta) ** 2)
    assert tv_isotropic(a * delta) > 2 * eps_sep


def test_tv_at_noise_limits_and_monotone():
    C = np.array([0.01, 0.3, 0.9])
    np.testing.assert_allclose(tv_at_noise(C, 0.0), C, rtol=1e-14)
    assert np.all(tv_at_noise(C, 1.0) == 0.0)
    sig = np.linspace(0, 1, 50)
    assert np.all(np.diff(tv_at_noise(0.5, sig)) < 0)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: sigma_sep(0.3, 0.5, printed=True), "eps must be < C/2"),
        (lambda: sigma_merge(0.6, 0.5), "eps must be < C"),
        (lambda: tv_at_noise(1.0, 0.5), "C must lie"),
        (lambda: tv_at_noise(0.5, 1.5), "sigma must lie"),
        (lambda: sigma_sep_proof(0.01, 1.0), "eps must be < delta/400"),
        (lambda: tau_ell(5, 3, FrequencyPrior([0.1], N=10)), "ell must lie"),
        (lambda: FrequencyPrior([0.1, 2.0], N=3), "atoms must lie"),
        (lambda: FrequencyPrior([0.1, 0.2], [0.3, 0.3], N=3), "probs must"),
        (lambda: FrequencyPrior.from_list([1.0, 2.0], method="exact"), "method must be"),
        (lambda: merge_weights([0.5, 0.5], [[0.0]], 0.1, 0.1), "means must have 2 rows"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --- extension: merging --------------------------------------------------------------------------


def test_merge_weights_conserves_mass_and_merges_all_at_sigma_one():
    rng = np.random.default_rng(1)
    w = zipf_frequencies(40)
    mu = rng.uniform(0, 20, (40, 2))
    for s in (0.0, 0.5, 0.99, 1.0):
        merged = merge_weights(w, mu, s, 0.2)
        assert merged.sum() == pytest.approx(1.0)
    assert merge_weights(w, mu, 1.0, 0.2).size == 1
    assert merge_weights(w, mu, 0.0, 0.0).size == 40


def test_tau1_vs_noise_singleton_mass_identity():
    rng = np.random.default_rng(2)
    r = tau1_vs_noise(
        zipf_frequencies(200), rng.uniform(0, 40, (200, 2)), [0.0, 0.9, 1.0], 0.3, 200
    )
    assert np.all(np.diff(r["n_components"]) <= 0)
    assert r["n_components"][-1] == 1 and np.isnan(r["tau1"][-1]) and r["singleton_mass"][-1] == 0
    assert r["singleton_mass"][1] < r["singleton_mass"][0]


# the errata of App. B and Lemma 4.5, registered in diffmem_theory.leakage.errata
FELDMAN_ERRATA = {
    "paper004.singletons_n_over_2",
    "paper004.lemma_B7_concentration",
    "paper004.lemma_4_5_high_noise",
    "paper004.lemma_B9_high_noise",
}


def test_checks_registered_and_pass():
    specs = list_checks(paper="paper004")
    mine = [
        s
        for s in specs
        if s.func.__module__ == "diffmem_theory.leakage.checks.feldman" or s.name in FELDMAN_ERRATA
    ]
    assert FELDMAN_ERRATA <= {s.name for s in mine}
    assert len(mine) >= 17
    for spec in mine:
        result = spec.run(seed=0)
        assert result.status == ("erratum" if spec.erratum else "pass"), (spec.name, result.note)


# --- extreme valid floats ----------------------------------------------------------------------


def test_extreme_floats_stay_finite():
    # n = 1.8e308 gave NaN (5 n overflowed against exp(-inf)); the limit is (5/3) e^{-1/3}
    assert lemma_b_4_constant(1.797e308) == pytest.approx(5 / 3 * math.exp(-1 / 3), rel=1e-12)
    # k = 1.8e308: N k overflowed (RuntimeWarning) and tau was 0 instead of ~1/N
    assert tau_dirichlet(1, 1000, 1000, 1.797e308) == pytest.approx(1e-3, rel=1e-12)
    # x0 ~ 1e300: squared distances overflowed to an infinite diameter
    x0 = np.zeros(50)
    x0[0] = 1e300
    diam = mc_smoothed_diameter(x0, 0.01, 5, 3)
    assert np.all(np.isfinite(diam)) and np.allclose(diam, (1 - math.sqrt(1 - 1e-4)) * 1e300)
    with pytest.raises(ValueError, match="GiB of working memory"):
        mc_smoothed_diameter(np.ones(50), 0.01, 2**40, 2**20)


def test_tau_ell_for_huge_n_and_bounded_sizes():
    # n = 2^62: the two log-sums (~ -5e17) lost every digit of their difference, tau was 1.0
    prior = FrequencyPrior([0.1, 0.4], N=4)
    np.testing.assert_allclose(tau_ell(np.arange(3), 2**62, prior), 0.1, rtol=1e-12)
    with pytest.raises(ValueError, match="GiB of working memory"):
        zipf_frequencies(2**62)
    with pytest.raises(ValueError, match="GiB of working memory"):
        FrequencyPrior.from_list([1.0, 2.0], method="mc", replicas=2**62)
    with pytest.raises(ValueError, match="GiB of working memory"):
        merge_weights(np.full(10**5, 1e-5), np.zeros((10**5, 1)), 0.5, 0.1)  # MemoryError
    with pytest.raises(ValueError, match="printed must be True or False"):
        singletons_lower_bound(FrequencyPrior([0.1], N=10), 10, printed=math.nan)


def test_from_list_validates_unused_arguments():
    # with method="approx", replicas and rng were not looked at (NaN accepted)
    with pytest.raises(ValueError, match="replicas must be an integer"):
        FrequencyPrior.from_list([1.0, 2.0], replicas=math.nan)
    with pytest.raises(TypeError, match="rng must be"):
        FrequencyPrior.from_list([1.0, 2.0], rng=math.nan)
