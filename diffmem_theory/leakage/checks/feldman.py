"""Checks of the Feldman-style argument of Shah et al. (paper 004, Sec. 4.2 and App. B).

tau_l against a Monte Carlo posterior and the exact Dirichlet form (Thm B.2), the Zipf reference
table (eq. (7), Lemma B.4), Lemmas B.4 / B.5 on random priors, Lemma B.7 (corrected) and the
separation / merging thresholds of Lemma 4.5 / B.8 / B.9. Also the data-integrity checks of the
transcribed Tables 1-5. The errata of App. B (the n/2 singleton count, the concentration step of
Lemma B.7's proof, the high-noise half of Lemma 4.5 / B.9) are checks of
:mod:`diffmem_theory.leakage.errata`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.integrate import quad
from scipy.optimize import brentq
from scipy.special import roots_jacobi
from scipy.stats import norm

from diffmem_theory.leakage.experiment_tables import (
    table2_table1_mismatches,
    table5_percentile_violations,
    threshold_violations,
)
from diffmem_theory.leakage.feldman import (
    FrequencyPrior,
    lemma_b_4_constant,
    lemma_b_4_rhs,
    lemma_b_5_applies,
    mc_smoothed_diameter,
    sigma_merge,
    sigma_merge_proof,
    sigma_sep,
    sigma_sep_proof,
    smoothed_diameter_bound,
    smoothed_failure_bound,
    tau_dirichlet,
    tau_ell,
    tv_at_noise,
    tv_isotropic,
    vp_contraction,
    weight,
    zipf_frequencies,
)
from diffmem_theory.registry import Outcome, check

#: Zipf reference table (eq. (7), Lemma B.4) for pi_k ~ 1/k and the 'approx' pi_bar of Def. B.1:
#: (N, n) -> n tau_1, w[1/2n, 1/n], w[1/3n, 2/n], w[0, 1/n], n x (B.4 bound), rounded to 5
#: decimals. Computed with mpmath at 50 digits from the atoms 1/(k H_N) (H_N the harmonic
#: number, uniform probabilities), eq. (10) with its powers written out, and the window sums:
#: independent of the float64 code.
ZIPF_TABLE: dict[tuple[int, int], tuple[float, ...]] = {
    (1000, 1000): (0.55881, 0.09285, 0.23987, 0.26907, 0.04797),
    (10000, 1000): (0.24640, 0.07057, 0.18223, 0.46799, 0.03645),
    (10000, 10000): (0.50060, 0.07084, 0.18315, 0.23309, 0.03663),
    (3000, 300): (0.25418, 0.08159, 0.20817, 0.52023, 0.04163),
}


def zipf_row(N: int, n: int) -> tuple[float, ...]:
    """The quantities of :data:`ZIPF_TABLE` for pi_k ~ 1/k ('approx' pi_bar)."""
    p = FrequencyPrior.from_list(zipf_frequencies(N))
    windows = ((1 / (2 * n), 1 / n), (1 / (3 * n), 2 / n), (0.0, 1 / n))
    return (n * tau_ell(1, n, p), *(weight(p, a, b) for a, b in windows), n * lemma_b_4_rhs(p, n))


def random_prior(rng: np.random.Generator, n: int) -> FrequencyPrior:
    """A random discrete prior with N E[alpha] = 1: atoms log-uniform on [1e-3/n, 10/n]."""
    atoms = np.minimum(np.exp(rng.uniform(np.log(1e-3 / n), np.log(10.0 / n), 6)), 0.5)
    probs = rng.dirichlet(np.full(6, 0.5))
    N = math.ceil(1.0 / float(probs @ atoms))
    return FrequencyPrior(atoms / (N * float(probs @ atoms)), probs, N=N)


# --- tau_l ---------------------------------------------------------------------------------------


@check("paper004.tau_posterior_mc", equation="Shah et al., Thm B.2 / eq. (10)")
def tau_posterior_mc(seed: int = 0) -> Outcome:
    """tau_l is the Monte Carlo posterior mean E[alpha | K = l], alpha ~ pi_bar, K ~ Bin(n, alpha).

    Prior: atoms {0.001, 0.004, 0.01, 0.05, 0.2}, probs {.3, .3, .2, .15, .05}, n = 100,
    l in {0, 1, 2, 5}; 10^6 draws. Value = largest |MC - tau| / s.e., tolerance 4.
    """
    prior = FrequencyPrior([0.001, 0.004, 0.01, 0.05, 0.2], [0.3, 0.3, 0.2, 0.15, 0.05], N=100)
    rng = np.random.default_rng(seed)
    alpha = rng.choice(prior.atoms, size=1_000_000, p=prior.probs)
    k = rng.binomial(100, alpha)
    ells = np.array([0, 1, 2, 5])
    tau = tau_ell(ells, 100, prior)
    z = [
        abs(alpha[k == ell].mean() - t) / (alpha[k == ell].std() / math.sqrt(np.sum(k == ell)))
        for ell, t in zip(ells, tau, strict=True)
    ]
    return Outcome(max(z), 0.0, 4.0, max(z) <= 4.0, f"tau = {np.round(tau, 7).tolist()}")


@check("paper004.tau_dirichlet_quadrature", equation="Shah et al., Thm B.2 (Dirichlet prior)")
def tau_dirichlet_quadrature() -> Outcome:
    """tau_l of the Beta(k, (N-1)k) prior (Gauss-Jacobi atoms) is (k + l)/(Nk + n) (Dirichlet).

    n nodes integrate the degree-(n+1) moments exactly. N = 20, n = 30, k in {0.5, 1, 3}, all l in
    [0, n]; value = largest relative error, tolerance 1e-10.
    """
    N, n, worst = 20, 30, 0.0
    ells = np.arange(n + 1)
    for k in (0.5, 1.0, 3.0):
        x, w = roots_jacobi(n, (N - 1) * k - 1.0, k - 1.0)  # weight (1-x)^a (1+x)^b on [-1, 1]
        prior = FrequencyPrior((1.0 + x) / 2.0, w / w.sum(), N=N)
        exact = tau_dirichlet(ells, n, N, k)
        worst = max(worst, float(np.max(np.abs(tau_ell(ells, n, prior) / exact - 1.0))))
    return Outcome(worst, 0.0, 1e-10, worst <= 1e-10, "Gauss-Jacobi with n nodes")


@check("paper004.tau_dirichlet_posterior", equation="Shah et al., Thm B.2 (Feldman Lemma 2.1)")
def tau_dirichlet_posterior(seed: int = 0) -> Outcome:
    """Under D ~ Dir(k), E[D_i | i seen l times in n draws] = (k + l)/(Nk + n) (Monte Carlo).

    N = 5, n = 8, k = 0.7, 200,000 replicas, l in {0, 1, 2, 3}; value = largest |z|, tol 4.
    """
    N, n, k = 5, 8, 0.7
    rng = np.random.default_rng(seed)
    D = rng.dirichlet(np.full(N, k), size=200_000)
    counts = rng.multinomial(n, D)
    z = []
    for ell in range(4):
        sel = D[counts == ell]
        z.append(abs(sel.mean() - tau_dirichlet(ell, n, N, k)) / (sel.std() / math.sqrt(sel.size)))
    return Outcome(max(z), 0.0, 4.0, max(z) <= 4.0, "posterior means of D_i by count")


# --- weights, Lemma B.4, Lemma B.5, singletons ---------------------------------------------------


@check("paper004.zipf_table", equation="Shah et al., eq. (7), Lemma B.4 (Zipf populations)")
def zipf_table() -> Outcome:
    """n tau_1, the eq. (7) weights and n x (Lemma B.4 bound) for Zipf lists match ZIPF_TABLE.

    Four (N, n) rows, five columns; value = largest absolute error, tolerance 1e-4 (the table
    is rounded to 5 decimals).
    """
    err = max(
        abs(a - b)
        for key, ref in ZIPF_TABLE.items()
        for a, b in zip(zipf_row(*key), ref, strict=True)
    )
    return Outcome(err, 0.0, 1e-4, err <= 1e-4, "rows (N, n) of the reference table")


@check("paper004.lemma_B4", equation="Shah et al., Lemma B.4 (Feldman 2020, Lemma 2.6)")
def lemma_b_4(seed: int = 0) -> Outcome:
    """tau_1 >= weight(pi_bar, [1/3n, 2/n]) / (5n) on 800 random priors, n in [3, 2000].

    Also the constant 5 n min a(1-a)^{n-1} >= 1 for every n in [3, 10^5]. Value = smallest
    tau_1 / RHS over the priors with RHS > 0; reference 1.
    """
    rng = np.random.default_rng(seed)
    ratios = []
    for _ in range(800):
        n = int(rng.integers(3, 2001))
        prior = random_prior(rng, n)
        rhs = lemma_b_4_rhs(prior, n)
        if rhs > 0:
            ratios.append(tau_ell(1, n, prior) / rhs)
    constant = float(np.min(lemma_b_4_constant(np.arange(3, 100_001))))
    worst = min(ratios)
    note = f"{len(ratios)} priors; min 5n min a(1-a)^(n-1) = {constant:.5f}"
    return Outcome(worst, 1.0, 0.0, worst >= 1.0 and constant >= 1.0, note)


@check("paper004.lemma_B5", equation="Shah et al., Lemma B.5 (Feldman 2020, Lemma 2.7)")
def lemma_b_5() -> Outcome:
    """tau_1 <= 2 theta whenever the gap hypothesis holds: adversarial two-atom priors.

    Small atom s <= theta (mass from beta), large atom just above t/n; n in {3, 10, 100, 1000},
    theta / (1/2n) and s / theta on grids. Value = largest tau_1 / (2 theta); reference 1.
    """
    worst, cases = 0.0, 0
    for n in (3, 10, 100, 1000):
        for theta in np.array([0.05, 0.2, 0.5, 1.0]) / (2 * n):
            for s in theta * np.array([1e-3, 0.1, 0.5, 1.0]):
                for q in (0.5, 0.9, 0.99):  # probability of the small atom
                    beta_guess = q * s / (q * s + (1 - q) * 0.5)
                    big = min(1.0, 1.001 * math.log(1.0 / (theta * beta_guess)) / n)
                    prior = FrequencyPrior(
                        [s, big], [q, 1 - q], N=round(1 / (q * s + (1 - q) * big))
                    )
                    if lemma_b_5_applies(prior, n, theta):
                        cases += 1
                        worst = max(worst, tau_ell(1, n, prior) / (2 * theta))
    return Outcome(worst, 1.0, 0.0, cases > 0 and worst <= 1.0, f"{cases} priors satisfy B.5")


# --- Lemma B.7 -----------------------------------------------------------------------------------


@check("paper004.lemma_B7_corrected", equation="Shah et al., Lemma B.7 (proof corrected)")
def lemma_b_7_corrected(seed: int = 0) -> Outcome:
    """Diameter of {x0, x_t^1..x_t^m} > 2 sigma^2 R + 4 sigma sqrt(d) with freq <= m e^{-d/2}.

    d = 6, m = 4, sigma = 0.05, |x0| = R = 10, 20,000 trials; value = failure rate, reference
    m e^{-d/2} = 0.199, tolerance 3 s.e.
    """
    d, m, sigma = 6, 4, 0.05
    x0 = np.full(d, 10.0 / math.sqrt(d))
    diam = mc_smoothed_diameter(x0, sigma, m, 20_000, seed)
    rate = float(np.mean(diam > smoothed_diameter_bound(sigma, d, 10.0)))
    bound = float(smoothed_failure_bound(m, d))
    tol = 3.0 * math.sqrt(bound * (1 - bound) / diam.size)
    return Outcome(rate, bound, tol, rate <= bound + tol, "Monte Carlo failure frequency")


# --- Lemma 4.5 / B.8 / B.9 -----------------------------------------------------------------------


@check("paper004.tv_isotropic", equation="TV(N(mu,I), N(mu',I)) = erf(Delta/(2 sqrt 2))")
def tv_isotropic_quadrature() -> Outcome:
    """The erf form of the TV equals 1-D quadrature of (phi(x) - phi(x - Delta))_+ .

    Delta in {0.01, 0.7, 2, 5}; value = largest absolute error, tolerance 1e-10 (0.2736613 at
    Delta = 0.7).
    """
    err = 0.0
    for delta in (0.01, 0.7, 2.0, 5.0):
        q, _ = quad(lambda x, dl=delta: norm.pdf(x) - norm.pdf(x - dl), -np.inf, delta / 2)
        err = max(err, abs(q - tv_isotropic(delta)))
    return Outcome(err, 0.0, 1e-10, err <= 1e-10, f"TV(0.7) = {tv_isotropic(0.7):.7f}")


def _c_eps_grid() -> tuple[np.ndarray, np.ndarray]:
    C = np.array([1 / 600, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99])
    frac = np.array([0.01, 0.1, 0.25, 0.4, 0.49])
    return np.repeat(C, frac.size), np.tile(frac, C.size) * np.repeat(C, frac.size)


@check("paper004.lemma_4_5_low_noise", equation="Shah et al., Lemma 4.5 (low noise) / Lemma B.8")
def lemma_4_5_low_noise() -> Outcome:
    """At the printed sigma = sqrt(1 - (2 eps/C)^2) the components are eps-separated (TV_t > 2 eps).

    Grid C in (1/600, 0.99), eps / C in [0.01, 0.49]; value = smallest TV_t / (2 eps), ref 1.
    """
    C, eps = _c_eps_grid()
    ratio = float(np.min(tv_at_noise(C, sigma_sep(eps, C, printed=True)) / (2 * eps)))
    return Outcome(ratio, 1.0, 0.0, ratio > 1.0, f"{C.size} (C, eps) pairs")


@check("paper004.exact_thresholds", equation="TV_t = erf(sqrt(1 - sigma^2) erfinv(C))")
def exact_thresholds() -> Outcome:
    """The exact merge / separation thresholds agree with bisection of TV_t = eps / 2 eps.

    Grid of (C, eps); value = largest |sigma_exact - sigma_bisection|, tolerance 1e-12.
    """
    C, eps = _c_eps_grid()
    err = 0.0
    for c, e in zip(C, eps, strict=True):
        for level, exact in ((e, sigma_merge(e, c)), (2 * e, sigma_sep(e, c))):
            root = brentq(lambda s, c=c, lv=level: tv_at_noise(c, s) - lv, 0.0, 1.0, xtol=1e-15)
            err = max(err, abs(root - exact))
    ok = err <= 1e-12 and round(sigma_merge(0.125, 0.5), 6) == 0.972422
    return Outcome(err, 0.0, 1e-12, ok, "sigma_merge(0.125, 0.5) = 0.972422")


@check("paper004.proof_thresholds", equation="Shah et al., App. D.2.3 (Arbas et al. constants)")
def proof_thresholds() -> Outcome:
    """The proof's Delta thresholds are sufficient: merged (TV_t <= eps) and separated (> 2 eps).

    Delta in {1e-3, 1e-2, 0.1, 1}, eps / Delta on grids; value = largest violation
    (TV_t / eps at the merge threshold, 2 eps / TV_t at the separation one); reference 1.
    """
    worst = 0.0
    for delta in (1e-3, 1e-2, 0.1, 1.0):
        for f in (0.01, 0.3, 0.7):
            e = f * delta
            merge_tv = tv_isotropic(delta * vp_contraction(sigma_merge_proof(e, delta)))
            worst = max(worst, merge_tv / e)
            e = f * delta / 400
            sep_tv = tv_isotropic(delta * vp_contraction(sigma_sep_proof(e, delta)))
            worst = max(worst, 2 * e / sep_tv)
    return Outcome(worst, 1.0, 0.0, worst <= 1.0, "largest ratio, must be <= 1")


# --- Tables 1-5 ----------------------------------------------------------------------------------


@check("paper004.tables_monotone", equation="Shah et al., Tables 1-2")
def tables_monotone() -> Outcome:
    """Every column of Tables 1-2: the % of samples above a threshold falls as it rises."""
    bad = threshold_violations()
    return Outcome(len(bad), 0.0, 0.0, not bad, "; ".join(bad) or "all columns monotone")


@check("paper004.table2_is_ffhq", equation="Shah et al., Tables 1-2 (Table 2 names no data set)")
def table2_is_ffhq() -> Outcome:
    """Table 2's DDPM / Ours columns equal Table 1's FFHQ rows (so Table 2 is FFHQ)."""
    bad = table2_table1_mismatches()
    return Outcome(len(bad), 0.0, 0.0, not bad, "; ".join(bad) or "identical")


@check("paper004.table5_percentile", equation="Shah et al., Table 5")
def table5_percentile() -> Outcome:
    """Table 5: the 95th percentile of the similarity is >= its mean in every row."""
    bad = table5_percentile_violations()
    return Outcome(len(bad), 0.0, 0.0, not bad, "; ".join(bad) or "all rows")
