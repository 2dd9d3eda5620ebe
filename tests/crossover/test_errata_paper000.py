"""Errata of paper 000: the checks reproduce, the corrections hold, the catalogue is complete."""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from diffmem_theory import registry
from diffmem_theory.core.schedules import VPTrig
from diffmem_theory.crossover import counterexamples as errata
from diffmem_theory.crossover import errata as paper000_errata
from diffmem_theory.crossover.concentration import (
    coupon_bound,
    coupon_min_draws,
    coupon_probability_exact,
)
from diffmem_theory.crossover.counterexamples import Counterexample
from diffmem_theory.crossover.errata import _outcome
from diffmem_theory.registry import CheckSpec, list_checks, list_errata, run_check

# the catalogue of paper 000, registered by importing crossover.errata (without discovering the
# other papers' modules at collection time)
CATALOGUE = sorted(
    (e for e in registry._ERRATA.values() if e.paper == "paper000"), key=lambda e: e.name
)
CHECKED = [e for e in CATALOGUE if e.check is not None]
#: the checks that crossover.errata registers itself
MODULE_CHECKS = sorted(
    spec.name for spec in vars(paper000_errata).values() if isinstance(spec, CheckSpec)
)
#: every function of counterexamples that returns a Counterexample (with its default arguments)
FUNCTIONS = [
    errata.time_grid_h1_formula,
    errata.time_grid_h1_count,
    errata.time_grid_h2,
    errata.snr_quoted_time,
    errata.chi2_proof_step,
    errata.lemma_c2_quoted_constant_scan,
    errata.prop_c3_missing_variance,
    errata.prop_c3_failure_scan,
    errata.coupon_counterexample,
    errata.lemma_e1_coupling,
    errata.lemma_e6_exponent,
    errata.prop_f2_condition,
    errata.regression_temperature,
    errata.h4_code_logdet,
]


@functools.cache
def _at_defaults(func) -> Counterexample:
    """``func()`` computed once per test session (some are Monte Carlo runs of seconds)."""
    return func()


# ----------------------------------------------------------------------------------------------
# the checks and the catalogue
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", CHECKED, ids=[e.name for e in CHECKED])
def test_erratum_check_reproduces(entry):
    result = run_check(entry.check, seed=0)
    assert result.erratum
    assert result.status == "erratum", result.note


def test_erratum_checks_with_other_seeds():
    for name in ("paper000.erratum_prop_c3_variance", "paper000.erratum_lemma_e6_exponent"):
        for seed in (1, 2):
            assert run_check(name, seed=seed).status == "erratum"


def test_catalogue_matches_registry():
    assert list_errata("000") == CATALOGUE  # discovery adds no paper-000 entry elsewhere
    registered = {c.name for c in list_checks("paper000") if c.erratum}
    catalogued = {e.check for e in CHECKED}
    assert registered == catalogued  # every erratum check is catalogued and vice versa
    mine = {
        c.name for c in list_checks("paper000") if c.func.__module__.endswith("crossover.errata")
    }
    assert mine == set(MODULE_CHECKS) == catalogued  # every erratum check lives in errata.py
    assert all(n.startswith("paper000.erratum_") for n in mine - {"paper000.eq13_termwise"})


def test_catalogue_is_complete_and_consistent():
    # 24 items: the time grid (3 entries) and Prop. C.3 (3 entries) count as one item each
    assert len(CATALOGUE) == 28 and len(CHECKED) == 13
    for e in CATALOGUE:
        assert e.where and e.printed and e.correction, e.name
        # a counterexample exactly where a check reproduces it; misprints have neither
        assert bool(e.counterexample) == (e.check is not None), e.name
        assert "notes" not in f"{e.where} {e.printed} {e.correction} {e.counterexample}"


def test_function_results_name_their_catalogue_entries():
    entries = {e.name: e for e in CATALOGUE}
    produced = set()
    for func in FUNCTIONS:
        ce = _at_defaults(func)
        assert isinstance(ce, Counterexample) and ce.erratum in entries, func.__name__
        assert ce.printed_fails == (entries[ce.erratum].check is not None), ce.erratum
        assert ce.corrected_holds, ce.erratum
        assert func.__doc__
        produced.add(ce.erratum)
    assert {e.name for e in CHECKED} - produced == {"paper000.eq13_termwise"}
    assert sorted(produced - {e.name for e in CHECKED}) == [
        "paper000.lemma_c2_quoted_constant",
        "paper000.prop_c3_failure_probability",
    ]


@pytest.mark.parametrize(
    ("name", "numbers"),
    [
        (
            "paper000.time_grid_h1_formula",
            lambda: [f"{_at_defaults(errata.time_grid_h1_formula).printed:.3f}"],
        ),
        ("paper000.time_grid_h2", lambda: [f"{_at_defaults(errata.time_grid_h2).printed:.3f}"]),
        (
            "paper000.eq13_termwise",
            lambda: [f"{run_check('paper000.eq13_termwise', seed=0).value:.1f}"],
        ),
        (
            "paper000.snr_quoted_time",
            lambda: [f"{_at_defaults(errata.snr_quoted_time).actual:.4f}"],
        ),
        (
            "paper000.chi2_proof_step",
            lambda: [
                f"{_at_defaults(errata.chi2_proof_step).actual:.6f}",
                f"{_at_defaults(errata.chi2_proof_step).printed:.6f}",
            ],
        ),
        (
            "paper000.prop_c3_variance",
            lambda: [
                f"{_at_defaults(errata.prop_c3_missing_variance).printed:.4f}",
                f"{_at_defaults(errata.prop_c3_missing_variance).actual:.0%}",
            ],
        ),
        (
            "paper000.coupon_c4",
            lambda: (
                [
                    f"{ce.actual:.6f} < {ce.printed:.6f}"
                    for ce in [errata.coupon_counterexample(12, 5)]
                ]
                + [
                    f"{ce.actual:.5f} < {ce.printed:.5f}"
                    for ce in (
                        errata.coupon_counterexample(5, 3),
                        errata.coupon_counterexample(20, 10),
                    )
                ]
            ),
        ),
        (
            "paper000.lemma_e1_coupling",
            lambda: [
                f"{_at_defaults(errata.lemma_e1_coupling).actual:.2f}",
                f"{_at_defaults(errata.lemma_e1_coupling).printed:.2f}",
                f"{_at_defaults(errata.lemma_e1_coupling).details['corrected_eps']:.4f}",
            ],
        ),
        (
            "paper000.lemma_e6_exponent",
            lambda: [
                f"{_at_defaults(errata.lemma_e6_exponent).actual:.0%}",
                f"{_at_defaults(errata.lemma_e6_exponent).printed:.2f}",
            ],
        ),
        (
            "paper000.prop_f2_direction",
            lambda: [
                f"{_at_defaults(errata.prop_f2_condition).details['d_max_printed']:.2f}",
                f"{_at_defaults(errata.prop_f2_condition).actual:.4f}",
            ],
        ),
        (
            "paper000.h3_temperature",
            lambda: [
                f"{_at_defaults(errata.regression_temperature).actual:.4f}",
                f"{_at_defaults(errata.regression_temperature).printed:.4f}",
            ],
        ),
        (
            "paper000.h4_code_logdet",
            lambda: [
                f"{_at_defaults(errata.h4_code_logdet).details['max_abs_error_code']:.2f}",
                f"{_at_defaults(errata.h4_code_logdet).details['max_weight_change']:.2f}",
            ],
        ),
    ],
)
def test_catalogue_numbers_are_those_the_functions_compute(name, numbers):
    text = {e.name: e.counterexample for e in CATALOGUE}[name]
    for number in numbers():
        assert number in text, (name, number)


def test_catalogue_numbers_of_the_searches():
    entries = {e.name: e.correction for e in CATALOGUE}
    assert _at_defaults(errata.lemma_c2_quoted_constant_scan).actual < 0.14
    assert "below 0.14 times" in entries["paper000.lemma_c2_quoted_constant"]
    assert _at_defaults(errata.prop_c3_failure_scan).actual < 6e-4
    assert "below 6e-4 times" in entries["paper000.prop_c3_failure_probability"]


def test_outcome_fails_when_printed_statement_holds():
    ce = errata.h4_code_logdet(templates=np.ones((3, 2, 2)))  # equal norms: code is harmless
    assert not ce.printed_fails and ce.details["max_weight_change"] == 0.0
    out = _outcome(ce)
    assert not out.passed and "did NOT fail" in out.note
    broken = Counterexample("x", 0.0, 1.0, True, False)
    assert not _outcome(broken).passed


# ----------------------------------------------------------------------------------------------
# reference numbers
# ----------------------------------------------------------------------------------------------


def test_reference_numbers():
    ce = errata.coupon_counterexample(12, 5)
    assert ce.params["l"] == 78
    assert ce.actual == pytest.approx(0.893773, abs=1e-6)
    assert ce.printed == pytest.approx(0.908371, abs=1e-6)
    rows = {
        (K, d): (ex, pr) for K, d, _, ex, pr in errata.coupon_violations((5, 12, 20), (3, 5, 10))
    }
    assert {(5, 3), (12, 5), (20, 10)} <= set(rows)
    assert (5, 10) not in rows and (12, 10) not in rows
    assert rows[(5, 3)] == pytest.approx((0.47966, 0.52762), abs=1e-5)
    assert rows[(20, 10)] == pytest.approx((0.99115, 0.99202), abs=1e-5)
    # (12, 10) and (12, 30) do not violate
    assert not errata.coupon_counterexample(12, 10).printed_fails
    assert not errata.coupon_counterexample(12, 30).printed_fails
    snr = errata.snr_quoted_time()
    assert snr.details["t_of_psi"] == pytest.approx(0.36028, abs=1e-5)
    assert snr.details["grid_index"] == 16
    assert snr.actual == pytest.approx(91 / 9, rel=1e-12)


# ----------------------------------------------------------------------------------------------
# the corrected statements hold (property tests)
# ----------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(K=st.integers(2, 14), d=st.integers(2, 40), extra=st.integers(0, 30))
def test_rigorous_coupon_bound_below_exact(K, d, extra):
    l = int(coupon_min_draws(K, d)) + extra
    exact = float(coupon_probability_exact(K, l))
    assert float(coupon_bound(K, d, l)) <= exact + 1e-12
    assert 0.0 <= exact <= 1.0


def test_printed_coupon_bound_fails_only_for_small_d():
    rows = errata.coupon_violations(tuple(range(2, 16)), (2, 3, 5, 30, 60))
    assert rows and max(d for _, d, *_ in rows) <= 5
    for K, d, _l, exact, printed in rows:
        assert printed == pytest.approx(coupon_bound(K, d, printed=True))
        assert exact < printed


@given(p=st.integers(1, 2000), eps=st.floats(1e-3, 1.0))
def test_chi2_two_sided_19_holds(p, eps):
    exact = stats.chi2.sf((1 + eps) * p, p) + stats.chi2.cdf((1 - eps) * p, p)
    assert exact <= 2 * math.exp(-p * eps**2 / 8)


@given(x=st.floats(1e-4, 1.0))
def test_log1p_cubic_bounds(x):
    lhs = math.log1p(x) - x
    assert lhs > -(x**2) / 2 + x**3 / 6  # the printed step is false everywhere on (0, 1]
    assert lhs <= -(x**2) / 2 + x**3 / 3 + 1e-15  # the corrected one holds
    assert x - math.log1p(x) >= x**2 / 4  # what (19) needs


@given(
    d=st.integers(2, 5000),
    t=st.floats(0.01, 0.99),
    var_star=st.floats(0.1, 4.0),
    K=st.integers(2, 50),
    sep=st.floats(0.1, 4.0),
    frac=st.floats(0.0, 1.0),
)
def test_lemma_e1_conclusion_holds_under_printed_condition(d, t, var_star, K, sep, frac):
    gamma = sep * math.sqrt(d)
    sched = VPTrig()
    a, s2 = float(sched.alpha(t)), float(sched.sigma2(t))
    V = a * a * var_star + s2
    r = a * gamma / (4 * math.sqrt(d * V))
    eps = frac * min(r, 1.0)
    exact_fail = (K - 1) * stats.norm.sf(a * gamma / (4 * math.sqrt(V)))
    assert exact_fail <= 4 * K * math.exp(-d * eps**2 / 8)
    eps_corr = min(eps, r * r)
    bound = a * a * gamma**2 - eps_corr * (2 * d * V + a * math.sqrt(d * V) * gamma)
    assert bound >= a * a * gamma**2 / 2 * (1 - 1e-12)


def test_lemma_e1_gap_law_by_monte_carlo():
    """E.1's gap misses gamma^2 alpha^2/2 with probability Q(alpha gamma/(4 sqrt V)) (K = 2)."""
    rng = np.random.default_rng(1)
    d, t, n = 50, 0.36028, 40_000
    gamma = math.sqrt(2 * d)
    sched = VPTrig()
    a, s = float(sched.alpha(t)), float(sched.sigma(t))
    mu1, mu2 = np.zeros(d), np.zeros(d)
    mu1[0] = mu2[1] = math.sqrt(d)
    x = a * (mu1 + rng.standard_normal((n, d))) + s * rng.standard_normal((n, d))
    gap = np.sum((a * mu2 - x) ** 2, 1) - np.sum((a * mu1 - x) ** 2, 1)
    freq = float(np.mean(gap < a * a * gamma**2 / 2))
    p = stats.norm.sf(a * gamma / (4 * math.sqrt(a * a + s * s)))
    assert abs(freq - p) <= 4 * math.sqrt(p * (1 - p) / n)


def test_lemma_e6_corrected_exponent_and_no_failure_at_low_snr_gap():
    ce = errata.lemma_e6_exponent(n_trials=1000, seed=3)
    assert ce.details["coupling_conditions_hold"] == 1.0
    assert ce.details["corrected_failure_frequency"] <= ce.printed
    assert ce.actual > 0.5


def test_prop_c3_quantity_law_for_independent_weights():
    """|sum_j w_j g^j - g^n|^2 = s^2 (1 + |w|^2) chi^2_d for weights independent of the points."""
    rng = np.random.default_rng(2)
    d, n, s2, trials = 40, 4, 0.3, 20_000
    w = np.array([0.5, 0.3, 0.2])
    g = math.sqrt(s2) * rng.standard_normal((trials, n, d))
    value = np.sum((np.einsum("j,bjd->bd", w, g[:, :-1]) - g[:, -1]) ** 2, axis=1)
    scale = s2 * (1 + np.sum(w**2))
    ks = stats.kstest(value / scale, stats.chi2(d).cdf)
    assert ks.pvalue > 1e-3


def test_no_counterexample_scans():
    c2 = errata.lemma_c2_quoted_constant_scan()
    assert not c2.printed_fails and c2.actual < 0.2
    c3 = errata.prop_c3_failure_scan()
    assert not c3.printed_fails and c3.actual < 1e-3


@given(d=st.floats(75.0, 1e8), c=st.floats(0.5, 3.0))
def test_prop_f2_corrected_direction_holds_for_large_d(d, c):
    ce = errata.prop_f2_condition(d, c)
    if not math.isnan(ce.details["d_max_printed"]) and d > ce.details["d_max_printed"]:
        assert ce.printed_fails and ce.corrected_holds
    if math.isnan(ce.details["d_max_printed"]):
        assert ce.printed_fails  # the printed assumption holds for no d at all


def test_prop_f2_printed_assumption_region_is_bounded():
    ce = errata.prop_f2_condition(30.0)
    assert not ce.printed_fails  # 1 - eps <= 1/2 does hold at d = 30 ...
    assert errata.prop_f2_condition(75.0).printed_fails  # ... but at no d > 74.19
    assert ce.details["d_max_printed"] == pytest.approx(74.1867, abs=1e-3)


@given(deltas=st.lists(st.floats(-1.0, 1.0), min_size=2, max_size=12, unique=True))
def test_softmax_entropy_increases_with_temperature(deltas):
    logits = -(np.asarray(deltas) ** 2)
    if np.ptp(logits) < 1e-6:
        return
    h = [errata._entropy(logits / tau) for tau in (1 / 20, 1.0, 20.0)]
    assert h[0] <= h[1] + 1e-12 <= h[2] + 2e-12


def test_regression_temperature_above_one_is_not_an_erratum():
    high = errata.regression_temperature(tau=20.0)
    assert not high.printed_fails  # tau = 20 would indeed be a high temperature
    assert high.actual > high.printed > errata.regression_temperature().actual


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), t=st.floats(0.05, 0.95), c=st.integers(2, 4))
def test_h4_paper_logdet_is_slogdet(seed, t, c):
    ce = errata.h4_code_logdet(t=t, n_colors=c, seed=seed, n_queries=2)
    assert ce.corrected_holds
    assert ce.printed_fails  # unequal norms: the code's log-det error differs between templates


@given(L=st.integers(1, 200))
def test_corrected_time_grid_is_vptrig_grid(L):
    for f in (errata.time_grid_h1_formula, errata.time_grid_h1_count, errata.time_grid_h2):
        ce = f(L)
        assert ce.corrected_holds
    assert errata.time_grid_h1_count(L).actual == L + 1


# ----------------------------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("func", "kwargs", "match"),
    [
        (errata.time_grid_h2, {"L": 0}, "L must be >= 1"),
        (errata.snr_quoted_time, {"t_quoted": 1.0}, "t_quoted"),
        (errata.chi2_proof_step, {"x": 0.0}, "x must be > 0"),
        (errata.prop_c3_missing_variance, {"var_star": -1.0}, "var_star"),
        (errata.coupon_counterexample, {"K": 1}, "K must be >= 2"),
        (errata.lemma_e1_coupling, {"eps": 2.0}, "eps"),
        (errata.lemma_e6_exponent, {"ell": 20}, "ell must be <= 19"),
        (errata.prop_f2_condition, {"d": 1.0}, "d must be > 1"),
        (errata.regression_temperature, {"tau": 0.0}, "tau"),
        (errata.h4_code_logdet, {"n_colors": 1}, "n_colors"),
    ],
)
def test_bad_input_raises(func, kwargs, match):
    with pytest.raises(ValueError, match=match):
        func(**kwargs)


@pytest.mark.parametrize(
    "call",
    [
        lambda: errata.lemma_c2_quoted_constant_scan(mean_ratios=(1e300,)),  # OverflowError
        lambda: errata.lemma_e1_coupling(gamma=1e300),  # OverflowError
        lambda: errata.lemma_e1_coupling(var_star=1.797e308),  # NaN
        lambda: errata.lemma_e6_exponent(t=1e-300),  # ZeroDivisionError
        lambda: errata.prop_c3_failure_scan(n_eps=2**63 - 1),  # IndexError
        lambda: errata.snr_quoted_time(psi_quoted=5e-324),  # inf relative error
    ],
)
def test_fuzz_findings_errata_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_fuzz_findings_errata_finite_limits():
    ce = errata.prop_f2_condition(c=1e-300)  # the printed assumption never holds: was NaN
    assert ce.details["d_max_printed"] == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tiny = errata.regression_temperature(tau=5e-324)  # one-hot softmax, was NaN
        assert tiny.actual == 0.0 and tiny.printed_fails
        huge = errata.regression_temperature(C=1e300)  # overflow in delta^2
        assert math.isfinite(huge.actual)
    with pytest.raises(ValueError, match="actual"):
        errata.Counterexample("x", 1.0, math.nan, True, True)
    with pytest.raises(ValueError, match="printed_fails"):
        errata.Counterexample("x", 1.0, 1.0, 1j, True)


@pytest.mark.parametrize(
    "call",
    [
        lambda: errata.time_grid_h1_formula(2**62),
        lambda: errata.prop_c3_missing_variance(n_trials=2**40),
        lambda: errata.h4_code_logdet(n_colors=2**20),
    ],
)
def test_errata_sizes_are_bounded(call):
    with pytest.raises(ValueError, match="GiB"):
        call()
