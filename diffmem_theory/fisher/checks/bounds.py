"""Checks of the supporting lemmas and the separation construction of Ye et al. (paper 003).

Lemma A.1 (Laurent-Massart) and the corrected Lemma A.2 against exact chi-square tails,
Lemma A.6 against 1-D quadrature, Lemma B.1 on random data, Lemma B.8 against mpmath,
Lemma C.1 (the n = 2 reference value and the Hessian against finite differences of the
empirical score), the Gaussian Lipschitz constant, and the (B.17)-(B.19) Taylor truncation on
random data. The printed statements that fail (Lemma A.2's lower end, Lemma B.18's formula,
Lemma C.1's midpoint) are checked in :mod:`diffmem_theory.fisher.errata`.
"""

from __future__ import annotations

import mpmath
import numpy as np
from scipy import stats

from diffmem_theory.core.distributions import EmpiricalDistribution
from diffmem_theory.core.schedules import VPExp
from diffmem_theory.fisher import bounds as fb
from diffmem_theory.fisher import separation as sep
from diffmem_theory.registry import Outcome, check

_VP = VPExp()


@check("paper003.lemmaA1", equation="Ye et al., Lemma A.1 (Laurent & Massart 2000)")
def lemma_a_1() -> Outcome:
    """Exact chi-square tails never exceed e^{-t} (d in 1..256, t in 0.01..20).

    value = largest P(tail) / e^{-t} over both tails; passes when <= 1.
    """
    d, t = np.meshgrid([1, 2, 5, 16, 64, 256], np.geomspace(0.01, 20.0, 25))
    up = fb.laurent_massart(d, t)
    lo = fb.laurent_massart(d, t, tail="lower")
    worst = max(
        float(np.max(stats.chi2.sf(up.value, d) / up.failure_probability)),
        float(np.max(stats.chi2.cdf(lo.value, d) / lo.failure_probability)),
    )
    return Outcome(worst, 1.0, 0.0, worst <= 1.0, "max exact tail / e^{-t}")


@check("paper003.lemmaA2_corrected", equation="Ye et al., Lemma A.2 with x_l = -W_0(-e^{-1-tau})")
def lemma_a_2_corrected() -> Outcome:
    """The corrected interval (Lambert-W lower end, printed y_u) holds for chi-square on a grid.

    d in 1..1024, delta in 1e-8..0.5 (C = 1, B/c_f = 1); value = largest
    (P_low + P_up) / delta, passes when <= 1. Note: the Lambert roots at d = 8, delta = 0.01.
    """
    d, delta = np.meshgrid([1, 2, 3, 8, 32, 128, 1024], np.geomspace(1e-8, 0.5, 30))
    b = fb.norm_concentration_interval(delta, d)
    miss = stats.chi2.cdf(b.lower, d) + stats.chi2.sf(b.upper, d)
    worst = float(np.max(miss / delta))
    x_l, x_u = fb.chi2_rate_roots(fb.norm_tau(0.01, 8))
    note = f"x_l={x_l:.6f}, x_u={x_u:.6f}"
    return Outcome(worst, 1.0, 0.0, worst <= 1.0, note)


def _posterior_mean_1d(x_t: float, mu: float, t: float, a: float, omega: float) -> float:
    """E[X_0 | X_t = x_t] for X_0 = mu + eps, eps density ∝ e^{-x^2/2}(1 + a cos(omega x))."""
    e = np.linspace(-12.0, 12.0, 24001)
    alpha, s2 = float(_VP.alpha(t)), float(_VP.sigma2(t))
    log_w = -0.5 * e * e - (x_t - alpha * (mu + e)) ** 2 / (2.0 * s2)
    w = np.exp(log_w - log_w.max()) * (1.0 + a * np.cos(omega * e))
    return float(mu + np.sum(w * e) / np.sum(w))


@check("paper003.lemmaA6", equation="Ye et al., Lemma A.6 (Stein's identity bound)")
def lemma_a_6() -> Outcome:
    """|E_k| of Lemma A.6 against 1-D quadrature, f = 1 + a cos(omega x) (C = 1, d = 1).

    a = 0.5, omega = 1 (B = a omega = 0.5, c_f = 1 - a); t in {0.01, 0.1, 0.5};
    value = largest |E_k| / bound, passes when <= 1.
    """
    a, omega, mu = 0.5, 1.0, 0.3
    worst = 0.0
    for t in (0.01, 0.1, 0.5):
        bound = fb.lemma_a_6_error_bound(t, 1, B=a * omega, c_f=1.0 - a)
        for x_t in (-1.0, 0.2, 1.5):
            approx = float(fb.component_posterior_mean_approx([x_t], t, [mu])[0])
            err = abs(_posterior_mean_1d(x_t, mu, t, a, omega) - approx)
            worst = max(worst, err / bound)
    return Outcome(worst, 1.0, 0.0, worst <= 1.0, "max |E_k| / (B sqrt(d)/(c_f gamma_t^2))")


@check("paper003.lemmaB1", equation="Ye et al., Lemma B.1")
def lemma_b_1(seed: int = 0) -> Outcome:
    """|grad log p^_t|_inf <= (|x|_inf + B_D)/sigma_t^2 on random data (n = 20, d = 4).

    value = largest ratio over 3 times and 64 queries; passes when <= 1.
    """
    rng = np.random.default_rng(seed)
    X0, x = rng.normal(0.0, 2.0, (20, 4)), rng.normal(0.0, 3.0, (64, 4))
    worst = 0.0
    for t in (0.01, 0.3, 2.0):
        s = np.abs(EmpiricalDistribution(X0).score_t(x, t, _VP)).max(axis=1)
        worst = max(worst, float(np.max(s / fb.empirical_score_sup_bound(x, t, X0))))
    return Outcome(worst, 1.0, 0.0, worst <= 1.0, "max |score|_inf / bound")


@check("paper003.lemmaB8", equation="Ye et al., Lemma B.8 (Pinelis 2020)")
def lemma_b_8() -> Outcome:
    """Gamma(a, x) <= G_a(x) <= x^{a-1}e^{-x} (a <= 1) and the a > 1 bound, against mpmath.

    a in (-1, 5], x in 0.01..50 (x > a - 1 for a > 1); value = largest Gamma / bound.
    """
    worst = 0.0
    for a in (-0.9, -0.5, -0.1, 0.0, 0.2, 0.5, 0.9, 1.0, 1.5, 3.0, 5.0):
        for x in (0.01, 0.3, 1.0, 4.5, 12.0, 50.0):
            if a > 1 and x <= a - 1:
                continue
            exact = float(mpmath.gammainc(a, x))
            bound = fb.incgamma_upper_bound(a, x)
            ratio = exact / bound
            if a <= 1:
                ratio = max(ratio, bound / (x ** (a - 1) * np.exp(-x)))
            worst = max(worst, ratio)
    return Outcome(worst, 1.0, 1e-12, worst <= 1.0 + 1e-12, "max Gamma(a,x) / bound")


@check("paper003.lemmaC1", equation="Ye et al., Lemma C.1, eq. (C.2)")
def lemma_c_1() -> Outcome:
    """n = 2, d = 1, Delta = 1, t = 0.01: C_L = 2399.478 within (C.2)'s [524.494, 2600.480].

    value = sup of |Hessian| over a fine grid (the maximum sits at the alpha-midpoint).
    """
    X0 = np.array([[0.0], [1.0]])
    grid = np.linspace(-0.5, 1.5, 4001)[:, None]
    c_l = float(np.max(fb.empirical_score_lipschitz(grid, 0.01, X0)))
    b = fb.lipschitz_bounds(0.01, X0)
    ok = b.lower <= c_l <= b.upper and abs(c_l - 2399.478) < 1e-3
    note = f"bounds [{b.lower:.3f}, {b.upper:.3f}]"
    return Outcome(c_l, 2399.478, 1e-3, ok, note)


@check("paper003.lemmaC1_hessian", equation="Ye et al., Lemma C.1, eq. (C.1)")
def lemma_c_1_hessian(seed: int = 0) -> Outcome:
    """The Hessian (C.1) equals central finite differences of the empirical score.

    n = 15, d = 3, 8 queries, t in {0.05, 0.5}; value = largest relative difference.
    """
    rng = np.random.default_rng(seed)
    X0, x = rng.uniform(-2.0, 2.0, (15, 3)), rng.uniform(-2.0, 2.0, (8, 3))
    law = EmpiricalDistribution(X0)
    worst = 0.0
    for t in (0.05, 0.5):
        h = 1e-5 * float(_VP.sigma(t))
        hess = fb.empirical_score_hessian(x, t, X0)
        for k in range(3):
            e = np.zeros(3)
            e[k] = h
            fd = (law.score_t(x + e, t, _VP) - law.score_t(x - e, t, _VP)) / (2 * h)
            scale = max(1.0, float(np.abs(hess).max()))
            worst = max(worst, float(np.abs(hess[:, :, k] - fd).max()) / scale)
    return Outcome(worst, 0.0, 1e-6, worst <= 1e-6, "max rel |H - FD Jacobian|")


@check("paper003.gaussian_lipschitz", equation="Ye et al., Sec. 5: 1/(sigma_t^2 + alpha_t^2 l_min)")
def gaussian_lipschitz() -> Outcome:
    """|grad^2 log p_t|_2 for N(0, diag(0.3, 1, 2)) from the eigenvalues of the exact Hessian.

    Reference values for lambda_min = 0.3 (our evaluation of 1/(sigma_t^2 + 0.3 alpha_t^2),
    rounded to 4 digits): 3.3256, 2.7277, 1.3468, 1.0047 at t = 1e-3, 0.1, 1, 5; value = largest
    |formula - eigen norm|.
    """
    lam = np.array([0.3, 1.0, 2.0])
    worst = 0.0
    for t, ref in zip((1e-3, 0.1, 1.0, 5.0), (3.3256, 2.7277, 1.3468, 1.0047), strict=True):
        a2, s2 = float(_VP.alpha(t)) ** 2, float(_VP.sigma2(t))
        eig = np.abs(-1.0 / (a2 * lam + s2)).max()
        val = fb.gaussian_score_lipschitz(t, 0.3)
        worst = max(worst, abs(val - eig), abs(round(val, 4) - ref))
    return Outcome(worst, 0.0, 1e-12, worst <= 1e-12, "formula vs eigenvalues and references")


@check("paper003.taylor_error", equation="Ye et al., (B.17)-(B.19) and App. B.3.5")
def taylor_error(seed: int = 0) -> Outcome:
    """Truncated-Taylor D_1, D_2 are within 2 eps of the exact ones on random data.

    n = 200, d = 2, queries near and between the data; eps in {1e-2, 1e-4, 1e-8},
    t in {0.01, 0.2}; value = largest error / (2 eps). Note: Taylor constants.
    """
    rng = np.random.default_rng(seed)
    X0 = rng.normal(0.0, 1.0, (200, 2))
    worst = 0.0
    for t in (0.01, 0.2):
        x = float(_VP.alpha(t)) * X0[:40] + float(_VP.sigma(t)) * rng.normal(0.0, 1.5, (40, 2))
        D1, D2 = sep.density_terms(x, t, X0)
        for eps in (1e-2, 1e-4, 1e-8):
            A1, A2 = sep.taylor_density_terms(x, t, X0, eps)
            err = max(float(np.abs(A1 - D1).max()), float(np.abs(A2 - D2).max()))
            worst = max(worst, err / (2.0 * eps))
    note = (
        f"u={sep.TAYLOR_U:.7f} (1.2938570), c={sep.TAYLOR_C_SHARP:.7f} (3.5911215), "
        f"p(1e-2)={sep.taylor_order(1e-2)}"
    )
    return Outcome(worst, 1.0, 0.0, worst <= 1.0, note)
