r"""Errata of Ye, Zhu, Tao, Chen (paper 003): the catalogue and the checks of its counterexamples.

Ye et al., "Provable Separations between Memorization and Generalization in Diffusion Models".
Each statement that is wrong as printed is entered in the catalogue with
:func:`diffmem_theory.registry.erratum` (where it is, the statement as printed, the correction
the package implements and the counterexample); those with a numerical consequence are also
registered checks (``erratum=True``) that return ``passed=True`` (status ``"erratum"``) when the
printed statement fails at the counterexample *and* the corrected statement holds there.

* ``paper003.lemma_a2_lower_end`` -- Lemma A.2's lower end y_l(delta) (check
  ``paper003.lemmaA2_lower_printed``); Corollary A.3 inherits it
  (``paper003.corollary_a3_lower_end``, no separate check);
* ``paper003.lemma_a6_smoothness`` -- Lemma A.6 needs beta >= 1 (no numerical check);
* ``paper003.lemma_b18_formula`` -- the interval indicator of Lemma B.18 (check
  ``paper003.lemmaB18_printed``) and ``paper003.lemma_b18_size`` -- its parameter count;
* ``paper003.lemma_c1_midpoint`` -- the midpoint in the proof of Lemma C.1 (check
  ``paper003.lemmaC1_midpoint_printed``).

>>> from diffmem_theory.registry import list_errata
>>> [e.name for e in list_errata("003")][:2]
['paper003.corollary_a3_lower_end', 'paper003.lemma_a2_lower_end']
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from diffmem_theory.core.schedules import VPExp
from diffmem_theory.fisher import bounds as fb
from diffmem_theory.fisher import separation as sep
from diffmem_theory.registry import Outcome, check, erratum

__all__ = [
    "lemma_a_2_lower_printed",
    "lemma_b_18_printed",
    "lemma_c_1_midpoint_printed",
]

_VP = VPExp()


# ---------------------------------------------------------------------------------------------
# Lemma A.2 and Corollary A.3: the lower end of the norm concentration
# ---------------------------------------------------------------------------------------------


@check(
    "paper003.lemmaA2_lower_printed",
    equation="Ye et al., Lemma A.2 (two-sided statement)",
    erratum=True,
)
def lemma_a_2_lower_printed() -> Outcome:
    """The printed lower end y_l is false: N(0, I_8), delta = 0.01 gives P_low = 0.01367 > delta.

    tau = (1/4) log 200 = 1.32459, y_l = 0.226087 (the printed root); value = P(chi2_8 <= 8 y_l)
    (the exact chi-square cdf), reference delta. The note gives both printed ends and both tail
    probabilities (P_low = 0.013675, P_up = 2.28e-5).
    """
    y_l, y_u = fb.chi2_rate_roots(fb.norm_tau(0.01, 8), printed=True)
    p_low = float(stats.chi2.cdf(8.0 * y_l, 8))
    p_up = float(stats.chi2.sf(8.0 * y_u, 8))
    note = f"y_l={y_l:.6f}, y_u={y_u:.6f}, P_low={p_low:.6f}, P_up={p_up:.3g}"
    return Outcome(p_low, 0.01, 0.0, p_low > 0.01 and abs(y_l - 0.226087) < 1e-6, note)


erratum(
    "paper003.lemma_a2_lower_end",
    where="Lemma A.2 (Part 3, two-sided statement) and its proof, App. A.4.1",
    printed=(
        "P(y_l(delta) d/C <= |eps|^2 <= y_u(delta) d/C) >= 1 - delta with tau(delta) = "
        "(2/d) log(2B/(c_f delta)) and y_{l,u}(delta) = (1 + tau) -/+ sqrt(tau (2 + tau)); the "
        "proof uses h(x) = x - 1 - log x >= (x - 1)^2/(2x) on both sides of 1"
    ),
    correction=(
        "h(x) >= (x - 1)^2/(2x) holds only for x >= 1, so y_u is a valid upper end but y_l is "
        "not a valid lower end. The exact lower root of h(x) = tau, x_l = -W_0(-e^{-1-tau}) "
        "(Lambert W), or the conservative max(0, 1 - sqrt(2 tau)) (from h(x) >= (1 - x)^2/2 on "
        "(0, 1]) gives a valid interval: fisher.bounds.norm_concentration_interval, "
        "lower='lambert' (default) or 'quadratic'; printed=True reproduces the paper"
    ),
    counterexample=(
        "eps ~ N(0, I_8) (C = 1, B/c_f = 1), delta = 0.01: tau = 1.32459, y_l = 0.226087, and "
        "P(chi2_8 <= 8 y_l) = 0.013675 > delta (the upper tail is 2.28e-5). Also d = 2, "
        "delta = 0.1: P_low = 0.119; d = 32, delta = 1e-4: P_low = 2.13e-4. The Lambert end "
        "x_l = 0.109101 holds (P_low + P_up <= delta on d in 1..1024, delta in 1e-8..0.5)"
    ),
    check="paper003.lemmaA2_lower_printed",
)

erratum(
    "paper003.corollary_a3_lower_end",
    where="Corollary A.3 (and the event E_1 in the proof of Thm 4.3)",
    printed=(
        "with probability >= 1 - delta, (y_l(delta/n)/C) d <= |eps_i|^2 for all i and "
        "|eps_i - eps_j|^2 >= (2 y_l(delta/n)/C) d - 2 sqrt((d/b) log(n^2/delta)) for i != j, "
        "with the y_l of Lemma A.2"
    ),
    correction=(
        "inherits the false lower end of Lemma A.2: replace y_l(delta/n) by the Lambert root "
        "x_l(delta/n) = -W_0(-e^{-1-tau(delta/n)}) (or max(0, 1 - sqrt(2 tau(delta/n)))); only "
        "the constants of Thm 4.3 change"
    ),
    counterexample=(
        "n = 1 reduces it to Lemma A.2, whose counterexample (d = 8, delta = 0.01) applies; "
        "see paper003.lemma_a2_lower_end"
    ),
)


# ---------------------------------------------------------------------------------------------
# Lemma A.6: the unstated smoothness
# ---------------------------------------------------------------------------------------------

erratum(
    "paper003.lemma_a6_smoothness",
    where="Lemma A.6 and its proof (App. A.4.2)",
    printed=(
        "mu_{0|t}^{(k)}(x_t) = mu^(k) + alpha_t/(alpha_t^2 + C sigma_t^2) (x_t - alpha_t mu^(k)) "
        "+ E_k with |E_k| = O(sigma_t/alpha_t), for data whose density is beta-Hoelder "
        "(Def. 3.2, any beta > 0)"
    ),
    correction=(
        "the proof applies Stein's identity to f, E_q[eps - mu_eps] = gamma_t^{-2} E_Y[grad "
        "f(Y)]/E_Y[f(Y)], which needs f differentiable: the lemma holds for beta >= 1, with "
        "|E_k| <= B sqrt(d)/(c_f gamma_t^2), gamma_t^2 = alpha_t^2/sigma_t^2 + C "
        "(fisher.bounds.lemma_a_6_error_bound)"
    ),
)


# ---------------------------------------------------------------------------------------------
# Lemma B.18: the interval indicator
# ---------------------------------------------------------------------------------------------


@check(
    "paper003.lemmaB18_printed",
    equation="Ye et al., Lemma B.18 (printed f = r(x+B) - r(x-B))",
    erratum=True,
)
def lemma_b_18_printed() -> Outcome:
    """The printed indicator r_tau(x+B) - r_tau(x-B) is 0, not 1, at x = -B; the fix is exact.

    B = 1, tau = 0.5; value = printed f(-B) (the lemma claims 1). The corrected formula is
    checked at the breakpoints and in between.
    """
    printed = float(sep.relu_interval_indicator(-1.0, 1.0, 0.5, printed=True))
    x = np.array([-2.0, -1.5, -1.25, -1.0, 0.0, 1.0, 1.25, 1.5, 2.0])
    want = np.array([0.0, 0.0, 0.5, 1.0, 1.0, 1.0, 0.5, 0.0, 0.0])
    fixed = bool(np.array_equal(sep.relu_interval_indicator(x, 1.0, 0.5), want))
    return Outcome(printed, 1.0, 0.0, printed != 1.0 and fixed, f"corrected formula exact: {fixed}")


erratum(
    "paper003.lemma_b18_formula",
    where="Lemma B.18 (ReLU approximation of the interval indicator)",
    printed=(
        "f_{B,tau}(x) = r_tau(x + B) - r_tau(x - B), r_tau(u) = ReLU(u/tau) - ReLU(u/tau - 1), "
        "is 0 for |x| >= B + tau, 1 for |x| <= B and linear in between"
    ),
    correction=(
        "f_{B,tau}(x) = r_tau(x + B + tau) - r_tau(x - B) has these properties "
        "(fisher.separation.relu_interval_indicator; printed=True reproduces the paper)"
    ),
    counterexample=(
        "B = 1, tau = 0.5: the printed f(-B) = r_tau(0) - r_tau(-2) = 0, not 1, and the printed "
        "f stays below 1 on [-B, -B + tau); the corrected f is exact at x = -2, -1.5, -1.25, "
        "-1, 0, 1, 1.25, 1.5, 2"
    ),
    check="paper003.lemmaB18_printed",
)

erratum(
    "paper003.lemma_b18_size",
    where="Lemma B.18 (network class)",
    printed="f_{B,tau} is in F(W, L, N) with L = 2, W = 4, N = 1",
    correction=(
        "four ReLUs in one hidden layer plus a linear output have up to 4 + 4 weights and "
        "biases in the hidden layer and 4 + 1 in the output: N <= 13 non-zero parameters "
        "(N = O(1)), with weights O((B + 1)/tau)"
    ),
)


# ---------------------------------------------------------------------------------------------
# Lemma C.1: the midpoint of the lower bound
# ---------------------------------------------------------------------------------------------


@check(
    "paper003.lemmaC1_midpoint_printed",
    equation="Ye et al., Lemma C.1 proof (x_t = (x_i + x_j)/2)",
    erratum=True,
)
def lemma_c_1_midpoint_printed() -> Outcome:
    """At the printed midpoint (x_i + x_j)/2 the Hessian norm falls below the (C.2) lower end.

    n = 2, d = 1, x = {0, 10}, t = 1: value = |H| at (x_i + x_j)/2; reference = the lower end;
    at the corrected alpha_t (x_i + x_j)/2 the lower end holds.
    """
    X0 = np.array([[0.0], [10.0]])
    alpha = float(_VP.alpha(1.0))
    printed = float(fb.empirical_score_lipschitz([5.0], 1.0, X0))
    fixed = float(fb.empirical_score_lipschitz([5.0 * alpha], 1.0, X0))
    lower = fb.lipschitz_bounds(1.0, X0).lower
    note = f"|H| at alpha-midpoint = {fixed:.4f} >= lower end {lower:.4f}"
    return Outcome(printed, lower, 0.0, printed < lower <= fixed, note)


erratum(
    "paper003.lemma_c1_midpoint",
    where="Lemma C.1, proof of the lower end of (C.2)",
    printed=(
        "the lower bound alpha_t^2 Delta_min^2/(16 sigma_t^4) - 1/sigma_t^2 <= C_L is obtained "
        "by evaluating the Hessian of log p_hat_t at x_t = (x_i + x_j)/2, the midpoint of the "
        "closest pair"
    ),
    correction=(
        "the noised points concentrate at alpha_t x_i, so the Hessian is large at the "
        "alpha-scaled midpoint x_t = alpha_t (x_i + x_j)/2 (fisher.bounds."
        "empirical_score_lipschitz_max uses it)"
    ),
    counterexample=(
        "n = 2, d = 1, x = {0, 10}, t = 1 (VP, alpha_1 = e^{-1/2}): |Hessian| at (x_i + x_j)/2 "
        "= 5 is 1.5820, below the (C.2) lower end 4.1722; at alpha_1 * 5 it is 21.4349"
    ),
    check="paper003.lemmaC1_midpoint_printed",
)
