"""Erratum checks for Buchanan et al. (paper 000): each reproduces a counterexample (notes §5).

Every check is registered with ``erratum=True``: it returns ``passed=True`` (status ``"erratum"``)
when the printed statement fails *and* the corrected statement holds at the same parameters, so a
check also fails if a correction stops holding. ``value`` is the computed quantity, ``reference``
what the printed statement asserts (see
:class:`diffmem_theory.crossover.counterexamples.Counterexample`). The
catalogue (printed statements, corrections) is
:data:`diffmem_theory.crossover.counterexamples.CATALOGUE`.
"""

from __future__ import annotations

from diffmem_theory.crossover import counterexamples as errata
from diffmem_theory.crossover.counterexamples import Counterexample
from diffmem_theory.registry import Outcome, check


def _outcome(ce: Counterexample) -> Outcome:
    extras = ", ".join(f"{k}={v:.6g}" for k, v in ce.details.items())
    note = f"[{ce.erratum}] {ce.note}" + (f" ({extras})" if extras else "")
    if not ce.printed_fails:
        note += " | printed statement did NOT fail"
    if not ce.corrected_holds:
        note += " | corrected statement did NOT hold"
    return Outcome(
        value=ce.actual,
        reference=ce.printed,
        tolerance=None,
        passed=ce.printed_fails and ce.corrected_holds,
        note=note,
    )


@check(
    "paper000.erratum_time_grid_h1_formula",
    equation="Buchanan et al., App. H.1: t_l = 0.01 + 0.998(L-l)/L = 0.999 - 0.998 l/L",
    erratum=True,
)
def erratum_time_grid_h1_formula() -> Outcome:
    """H.1's two forms of the time grid differ by 0.009; the first gives t_0 = 1.008 > 1."""
    return _outcome(errata.time_grid_h1_formula())


@check(
    "paper000.erratum_time_grid_h1_count",
    equation="Buchanan et al., App. H.1: 'L = 25 decreasing timesteps' (l = 0..L)",
    erratum=True,
)
def erratum_time_grid_h1_count() -> Outcome:
    """H.1 counts L = 25 timesteps; the grid (t_l)_{l=0}^{25} has 26 points."""
    return _outcome(errata.time_grid_h1_count())


@check(
    "paper000.erratum_time_grid_h2",
    equation="Buchanan et al., App. H.2: 'increasing timesteps t_l = 0.999 - l/L'",
    erratum=True,
)
def erratum_time_grid_h2() -> Outcome:
    """H.2's printed grid decreases and ends at t_25 = -0.001 < 0; the grid is 0.999 - 0.998 l/L."""
    return _outcome(errata.time_grid_h2())


@check(
    "paper000.erratum_snr_quoted_time",
    equation="Buchanan et al., Figs. 2, 5: 't ~ 0.3 with SNR psi_t ~ 6.704'",
    erratum=True,
)
def erratum_snr_quoted_time() -> Outcome:
    """psi(0.3) = 10.11, not 6.704; psi = 6.704 is t_16 = 0.36028 of the 26-point grid."""
    return _outcome(errata.snr_quoted_time())


@check(
    "paper000.erratum_chi2_proof_step",
    equation="Buchanan et al., proof of Thm C.1: log(1+x) - x <= -x^2/2 + x^3/6",
    erratum=True,
)
def erratum_chi2_proof_step() -> Outcome:
    """The proof's log(1+x) - x <= -x^2/2 + x^3/6 fails at x = 0.5; (19) itself holds."""
    return _outcome(errata.chi2_proof_step())


@check(
    "paper000.erratum_prop_c3_variance",
    equation="Buchanan et al., Prop. C.3: |sum softmax(w)_j x^j - x^n|^2 >= d(1 - 3 eps)",
    erratum=True,
)
def erratum_prop_c3_variance(seed: int = 0) -> Outcome:
    """Prop. C.3's lower bound d(1 - 3 eps) drops sigma_*^2: with sigma_*^2 = 1/4 it fails always.

    Monte Carlo, d = 1000, n = 5, eps = 0.1, 2000 draws, weights independent of the points; value =
    failure frequency of the printed bound, reference = its stated failure probability 0.202.
    """
    return _outcome(errata.prop_c3_missing_variance(seed=seed))


@check(
    "paper000.erratum_coupon_c4",
    equation="Buchanan et al., Prop. C.4: P[A] >= 1 - K^{-log d}(1 + log K log d)",
    erratum=True,
)
def erratum_coupon_c4() -> Outcome:
    """Prop. C.4 is false: exact 0.893773 < printed 0.908371 at K = 12, d = 5, l = 78.

    Also requires the violations at (K, d) = (5, 3) and (20, 10), and the rigorous union bound to
    hold at all three.
    """
    main = errata.coupon_counterexample(12, 5)
    others = [errata.coupon_counterexample(K, d) for K, d in ((5, 3), (20, 10))]
    fails = main.printed_fails and all(ce.printed_fails for ce in others)
    holds = main.corrected_holds and all(ce.corrected_holds for ce in others)
    rows = "; ".join(
        f"K={ce.params['K']}, d={ce.params['d']}: exact {ce.actual:.6f} < printed {ce.printed:.6f}"
        for ce in (main, *others)
    )
    return _outcome(
        Counterexample(main.erratum, main.printed, main.actual, fails, holds, main.params, {}, rows)
    )


@check(
    "paper000.erratum_lemma_e1_coupling",
    equation="Buchanan et al., Lemma E.1: coupling condition eps <= alpha gamma / (4 sqrt(d V))",
    erratum=True,
)
def erratum_lemma_e1_coupling() -> Outcome:
    """Under E.1's printed coupling condition the proof's gap bound falls below gamma^2 alpha^2/2.

    d = 400, gamma = sqrt(2d), t = t_16, eps at the printed limit (0.33; the corrected condition
    needs eps <= 0.109). The lemma's conclusion still holds (exact failure bound 2e-11 < 0.035).
    """
    return _outcome(errata.lemma_e1_coupling())


@check(
    "paper000.erratum_lemma_e6_exponent",
    equation="Buchanan et al., Lemma E.6 (ii): ... <= Gamma_*(1+N)^2 exp[-a^2 gamma^2/(2 sigma^2)]",
    erratum=True,
)
def erratum_lemma_e6_exponent(seed: int = 0) -> Outcome:
    """Lemma E.6 (ii)'s event fails in ~68% of draws against a stated failure probability of 0.12.

    Monte Carlo, K = 2 antipodal means, d = 200, N = 20, l = 10, t = 0.3, eps = 0.69 (both
    coupling conditions hold), 2000 draws; with the exponent /4 the failure frequency is ~0.002.
    """
    return _outcome(errata.lemma_e6_exponent(seed=seed))


@check(
    "paper000.erratum_prop_f2_direction",
    equation="Buchanan et al., proof of Prop. F.2: 'd large enough so that 1 - eps <= 1/2'",
    erratum=True,
)
def erratum_prop_f2_direction() -> Outcome:
    """With eps = log d / sqrt d, 1 - eps <= 1/2 fails for every d > 74.19; the proof needs >=."""
    return _outcome(errata.prop_f2_condition(1000.0))


@check(
    "paper000.erratum_h3_temperature",
    equation="Buchanan et al., App. H.3: softmax with 'high temperature tau = 1/20'",
    erratum=True,
)
def erratum_h3_temperature() -> Outcome:
    """tau = 1/20 sharpens the H.3 softmax (entropy 1.17 < 2.16 at tau = 1): a low temperature."""
    return _outcome(errata.regression_temperature())


@check(
    "paper000.erratum_h4_code_logdet",
    equation="Authors' code for App. H.4: log-det 2 c d^2 log sigma + log(1 + ...) (missing c)",
    erratum=True,
)
def erratum_h4_code_logdet(seed: int = 0) -> Outcome:
    """The public code's H.4 log-det (missing factor c) is not slogdet; the paper's formula is.

    An erratum of the authors' code, not of the paper: templates of unequal norms get wrong
    component weights (3 templates 3x3, norms x0.5, x1, x2, c = 3, t = 0.7).
    """
    return _outcome(errata.h4_code_logdet(seed=seed))
