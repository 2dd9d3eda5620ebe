"""Tests for diffmem_theory.crossover.concentration (paper 000, Appendices C, D, E) and its checks.

Exact statements are tested against exact values (scipy chi2 / ncx2 tails, brute-force
enumeration and exact fractions for the coupon collector, exact softmax norms); high-probability
statements against seeded Monte Carlo with tolerances of a few binomial standard errors.
"""

from __future__ import annotations

import itertools
import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.special import softmax
from scipy.stats import chi2, ncx2, norm

from diffmem_theory import Bound
from diffmem_theory.core.denoisers import (
    iso_gmm_denoiser,
    memorizing_denoiser,
    nominal_denoiser,
    partial_memorizing_denoiser,
)
from diffmem_theory.core.schedules import OU, VPTrig
from diffmem_theory.crossover import concentration as cc
from diffmem_theory.crossover.checks import concentration as ck
from diffmem_theory.registry import get_check

SCHED = VPTrig()
SEEDS = st.integers(0, 2**31 - 1)
Z = 3.0  # Monte Carlo tolerance in binomial standard errors


def excess_z(freq: float, prob: float, n: int) -> float:
    p = min(max(prob, 1.0 / n), 0.5)
    return (freq - prob) / math.sqrt(p * (1 - p) / n)


# ---------------------------------------------------------------------------------------------
# Theorem C.1
# ---------------------------------------------------------------------------------------------

P_DOF = st.one_of(st.integers(1, 5000), st.floats(0.5, 5000.0))


@settings(max_examples=200, deadline=None)
@given(p=P_DOF, eps=st.floats(1e-4, 0.999))
def test_chi2_lower_tail_dominates_exact(p, eps):
    exact = chi2.logcdf((1 - eps) * p, p)
    assert exact <= cc.chi2_lower_tail_bound(p, eps, log=True) + 1e-9


@settings(max_examples=200, deadline=None)
@given(p=P_DOF, eps=st.floats(1e-4, 10.0))
def test_chi2_upper_tail_dominates_exact(p, eps):
    exact = chi2.logsf((1 + eps) * p, p)
    assert exact <= cc.chi2_upper_tail_bound(p, eps, log=True) + 1e-9


@settings(max_examples=200, deadline=None)
@given(p=P_DOF, eps=st.floats(0.0, 1.0))
def test_chi2_two_sided_dominates_exact_and_the_one_sided_sum(p, eps):
    exact = np.logaddexp(chi2.logcdf((1 - eps) * p, p), chi2.logsf((1 + eps) * p, p))
    bound = cc.chi2_two_sided_bound(p, eps, log=True)
    assert exact <= bound + 1e-9
    if eps < 1:  # the corrected proof of (19): (17) + (18) <= 2 exp(-p eps^2/8)
        one_sided = np.logaddexp(
            cc.chi2_lower_tail_bound(p, eps, log=True), cc.chi2_upper_tail_bound(p, eps, log=True)
        )
        assert one_sided <= bound + 1e-12


@pytest.mark.parametrize("eps", [0.05, 0.2, 0.5])
def test_chernoff_exponents_are_asymptotically_exact(eps):
    # log P / log bound -> 1 as p -> infinity: a wrong constant in the exponent would fail here.
    # p is chosen so that the bound is e^{-300} (scipy's log tails underflow near e^{-700})
    p = 600 / -(eps + math.log1p(-eps))
    ratio_lo = chi2.logcdf((1 - eps) * p, p) / cc.chi2_lower_tail_bound(p, eps, log=True)
    p = 600 / (eps - math.log1p(eps))
    ratio_up = chi2.logsf((1 + eps) * p, p) / cc.chi2_upper_tail_bound(p, eps, log=True)
    assert 1.0 < ratio_lo < 1.03 and 1.0 < ratio_up < 1.03


def test_chi2_bounds_vectorize_and_log_matches():
    p, eps = np.array([[10.0], [100.0]]), np.array([0.1, 0.5, 0.9])
    for f in (cc.chi2_lower_tail_bound, cc.chi2_upper_tail_bound, cc.chi2_two_sided_bound):
        out = f(p, eps)
        assert out.shape == (2, 3) and out.dtype == np.float64
        np.testing.assert_allclose(np.log(out), f(p, eps, log=True), rtol=1e-13)
    assert isinstance(cc.chi2_lower_tail_bound(3, 0.5), float)
    assert cc.chi2_lower_tail_bound(7, 0.0) == 1.0


# ---------------------------------------------------------------------------------------------
# Lemma C.2 (exact: |g|^2 / s^2 is noncentral chi-square)
# ---------------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    d=st.integers(1, 600),
    eps=st.floats(0.0, 1.0),
    var=st.floats(0.01, 100.0),
    rel_norm=st.floats(0.0, 5.0),
)
def test_gaussian_norm_deviation_dominates_exact_ncx2(d, eps, var, rel_norm):
    mnorm = rel_norm * math.sqrt(var * d)
    b = cc.gaussian_norm_deviation(d, eps, var=var, mean_norm=mnorm)
    assert b.center == pytest.approx(mnorm**2 + var * d)
    nc = mnorm**2 / var
    lo, hi = (b.center - b.value) / var, (b.center + b.value) / var
    law = chi2(d) if nc == 0 else ncx2(d, nc)
    exact = (law.cdf(lo) if lo > 0 else 0.0) + law.sf(hi)
    assert exact <= b.failure_probability * (1 + 1e-9) + 1e-300


def test_gaussian_norm_deviation_monte_carlo_and_holds():
    rng = np.random.default_rng(5)
    d, eps, var, mnorm, n = 60, 0.6, 2.5, 7.0, 20_000
    mu = np.zeros(d)
    mu[3] = mnorm
    g = mu + math.sqrt(var) * rng.standard_normal((n, d))
    b = cc.gaussian_norm_deviation(d, eps, var=var, mean_norm=mnorm)
    sq = (g * g).sum(1)
    assert abs(sq.mean() - b.center) < 4 * sq.std() / math.sqrt(n)  # E|g|^2 = |mu|^2 + s^2 d
    freq = float(np.mean(~b.holds(sq)))
    assert excess_z(freq, b.failure_probability, n) <= Z
    assert freq > 0  # the event is not trivially always true at these parameters


# ---------------------------------------------------------------------------------------------
# Proposition C.3
# ---------------------------------------------------------------------------------------------


def c3_values(rng, d, n, s2, trials, law):
    x = math.sqrt(s2) * rng.standard_normal((trials, n, d))
    diff = x[:, :-1] - x[:, -1:]
    dist2 = (diff * diff).sum(-1)
    if law == "dirichlet":
        w = rng.dirichlet(np.ones(n - 1), trials)
    elif law == "nearest":
        w = np.eye(n - 1)[np.argmin(dist2, axis=1)]
    else:
        w = softmax(-dist2 / (s2 * math.sqrt(d)), axis=1)
    return (np.einsum("bj,bjd->bd", w, diff) ** 2).sum(-1)


@settings(max_examples=12, deadline=None)
@given(
    seed=SEEDS,
    d=st.integers(150, 400),
    n=st.integers(2, 5),
    target=st.floats(0.05, 0.9),
    s2=st.floats(0.1, 5.0),
    law=st.sampled_from(["dirichlet", "nearest", "softmax"]),
)
def test_prop_c3_monte_carlo(seed, d, n, target, s2, law):
    eps = math.sqrt(8 * math.log(6 * n / target) / d)
    assume(eps < 1)
    b = cc.prop_c_3_bounds(d, n, eps, var_star=s2)
    assert b.failure_probability == pytest.approx(target)
    lhs = c3_values(np.random.default_rng(seed), d, n, s2, 400, law)
    freq = float(np.mean(~b.holds(lhs)))
    assert excess_z(freq, b.failure_probability, 400) <= Z


def test_prop_c3_printed_lower_bound_drops_var_star():
    # printed lower end d(1 - 3 eps) with s^2 = 0.25 sits above most observed values
    d, n, eps, s2 = 1000, 3, 0.1, 0.25
    printed = cc.prop_c_3_bounds(d, n, eps, var_star=s2, printed=True)
    fixed = cc.prop_c_3_bounds(d, n, eps, var_star=s2)
    assert printed.lower == pytest.approx(d * 0.7) and fixed.lower == pytest.approx(d * s2 * 0.7)
    assert printed.failure_probability == pytest.approx(18 * math.exp(-d * eps**2 / 2))
    lhs = c3_values(np.random.default_rng(0), d, n, s2, 500, "dirichlet")
    assert np.mean(~printed.holds(lhs)) > 0.9
    assert np.all(fixed.holds(lhs))


# ---------------------------------------------------------------------------------------------
# Proposition C.4
# ---------------------------------------------------------------------------------------------

REFERENCE_TABLE = [  # K, d, l, exact P[A] (our exact counts), printed bound (Prop. C.4)
    (5, 3, 17, 0.47966, 0.52762),
    (12, 5, 78, 0.89377, 0.90837),
    (20, 10, 198, 0.99115, 0.99202),
    (12, 10, 99, 0.97833, 0.97799),
    (12, 30, 132, 0.998397, 0.997982),
]


@pytest.mark.parametrize(("K", "d", "l", "exact", "printed"), REFERENCE_TABLE)
def test_coupon_reference_table(K, d, l, exact, printed):
    assert cc.coupon_min_draws(K, d) == l
    digits = 6 if exact > 0.998 else 5
    assert round(cc.coupon_probability_exact(K, l), digits) == exact
    assert round(cc.coupon_bound(K, d, printed=True), digits) == printed
    p = cc.coupon_probability_exact(K, l)
    assert (cc.coupon_bound(K, d, printed=True) > p) == (printed > exact)  # first 3 rows: false
    assert cc.coupon_bound(K, d) <= p
    assert cc.coupon_bound(K, d, form="closed") <= p


def test_coupon_reference_value_and_printed_counterexample():
    assert abs(cc.coupon_probability_exact(12, 78) - 0.893773) < 1e-6
    assert cc.coupon_bound(12, 5, printed=True) == pytest.approx(0.908371, abs=1e-6)
    assert cc.coupon_bound(12, 5, printed=True) > cc.coupon_probability_exact(12, 78)


def test_coupon_bound_printed_is_the_printed_closed_form():
    # one function, one keyword: printed=True is 1 - K^(-log d) (1 + log K log d) for every
    # admissible l (the statement does not depend on l); K = 1 gives the trivial bound 0
    K, d = 12, 5
    lk, ld = math.log(K), math.log(d)
    printed = 1.0 - math.exp(-lk * ld) * (1.0 + lk * ld)
    for l in (None, 78, 500):
        assert cc.coupon_bound(K, d, l, printed=True) == pytest.approx(printed, rel=1e-15)
    assert cc.coupon_bound(1, 5, printed=True) == 0.0
    assert cc.coupon_bound(K, d, printed=True) > cc.coupon_bound(K, d, form="closed")


@pytest.mark.parametrize(("K", "l"), [(1, 0), (1, 1), (1, 3), (2, 3), (2, 5), (3, 6), (3, 8)])
def test_coupon_exact_matches_brute_force_enumeration(K, l):
    good = sum(
        all(seq.count(k) >= 2 for k in range(K)) for seq in itertools.product(range(K), repeat=l)
    )
    want = Fraction(good, K**l)
    assert cc.coupon_probability_exact(K, l, exact=True) == want
    assert cc.coupon_probability_exact(K, l, exact=True, method="dp") == want


@settings(max_examples=60, deadline=None)
@given(K=st.integers(1, 9), l=st.integers(0, 60))
def test_coupon_expansion_equals_egf_dp(K, l):
    a = cc.coupon_probability_exact(K, l, exact=True)
    assert a == cc.coupon_probability_exact(K, l, exact=True, method="dp")
    assert 0 <= a <= 1 and isinstance(a, Fraction)
    assert cc.coupon_probability_exact(K, l) == float(a)


@settings(max_examples=8, deadline=None)
@given(seed=SEEDS, K=st.integers(2, 15), extra=st.floats(1.0, 4.0))
def test_coupon_exact_matches_monte_carlo(seed, K, extra):
    l = int(2 * K + extra * K * math.log(K))
    n = 20_000
    labels = np.random.default_rng(seed).integers(0, K, (n, l))
    counts = np.bincount((labels + K * np.arange(n)[:, None]).ravel(), minlength=n * K)
    freq = float(np.mean(counts.reshape(n, K).min(1) >= 2))
    p = cc.coupon_probability_exact(K, l)
    assert abs(freq - p) <= 4 * math.sqrt(max(p * (1 - p), 1 / n) / n)


@settings(max_examples=60, deadline=None)
@given(K=st.integers(2, 40), d=st.floats(1.0, 1e6))
def test_coupon_rigorous_bounds_hold_at_min_draws(K, d):
    l = cc.coupon_min_draws(K, d)
    exact = cc.coupon_probability_exact(K, l)
    union = cc.coupon_bound(K, d)
    closed = cc.coupon_bound(K, d, form="closed")
    assert union <= exact + 1e-12 and closed <= union + 1e-12


@settings(max_examples=60, deadline=None)
@given(K=st.integers(2, 30), l=st.integers(0, 400))
def test_coupon_union_bound_holds_for_every_l(K, l):
    exact = cc.coupon_probability_exact(K, l)
    assert cc.coupon_bound(K, 1.0, l) <= exact + 1e-12
    # P[A_k^c] = (1 - 1/K)^l (1 + l/(K-1)) exactly; for K = 2 and l >= 3 the events A_1^c, A_2^c
    # are disjoint, so the union bound is exact there
    if K == 2 and l >= 3:
        assert cc.coupon_bound(K, 1.0, l) == pytest.approx(exact, abs=1e-12)


def test_coupon_printed_bound_fails_for_small_d_often():
    fails = [
        (K, d)
        for K in range(2, 30)
        for d in (2, 3, 5)
        if cc.coupon_bound(K, d, printed=True)
        > cc.coupon_probability_exact(K, cc.coupon_min_draws(K, d))
    ]
    assert len(fails) > 20


def test_coupon_vectorized():
    K = np.array([5, 12, 20])
    d = np.array([3, 5, 10])
    np.testing.assert_array_equal(cc.coupon_min_draws(K, d), [17, 78, 198])
    np.testing.assert_allclose(
        cc.coupon_bound(K, d, printed=True), [0.52762, 0.90837, 0.99202], atol=5e-6
    )
    assert cc.coupon_bound(K, d).shape == (3,)


# ---------------------------------------------------------------------------------------------
# Lemmas D.1, D.2
# ---------------------------------------------------------------------------------------------

VECTORS = st.lists(st.floats(-50, 50), min_size=2, max_size=30, unique=True)
TEMPS = st.floats(0.01, 30.0)
NORMS = st.sampled_from([1.0, 1.5, 2.0, 3.0, math.inf])


def pnorm(x, p):
    return float(np.max(np.abs(x))) if math.isinf(p) else float(np.sum(np.abs(x) ** p) ** (1 / p))


@settings(max_examples=200, deadline=None)
@given(v=VECTORS, T=TEMPS, p=NORMS)
def test_softmax_onehot_bound(v, T, p):
    v = np.array(v)
    n, k = v.size, int(np.argmax(v))
    gap = float(v[k] - np.delete(v, k).max())
    s = softmax(v / T)
    r = s.copy()
    r[k] = -np.delete(s, k).sum()
    printed, sharp = cc.softmax_onehot_bound(n, gap, T), cc.softmax_onehot_bound(n, gap, T, p=p)
    assert sharp <= printed * (1 + 1e-12)
    assert pnorm(r, p) <= sharp * (1 + 1e-10) + 1e-300
    # the proof's intermediate facts
    assert np.all(np.delete(s, k) <= math.exp(-gap / T) * (1 + 1e-12))
    assert s[k] >= 1 - (n - 1) * math.exp(-gap / T) - 1e-12


def test_softmax_onehot_sharp_form_is_attained_for_two_entries():
    # n = 2, p = inf: |s - e_k|_inf = e^{-g/T}/(1 + e^{-g/T}); the per-p bound is e^{-g/T}
    g, T = 8.0, 1.0
    s = softmax(np.array([g, 0.0]) / T)
    assert s[1] / cc.softmax_onehot_bound(2, g, T, p=math.inf) == pytest.approx(1, rel=1e-3)


@settings(max_examples=200, deadline=None)
@given(v=VECTORS, T=TEMPS, p=NORMS, data=st.data())
def test_softmax_subset_bound(v, T, p, data):
    v = np.array(v)
    n = v.size
    order = np.argsort(v)[::-1]
    others = data.draw(st.permutations(list(order[1:])))
    size = data.draw(st.integers(1, n))
    S = np.array([order[0], *others[: size - 1]], dtype=int)
    outside = np.setdiff1d(np.arange(n), S)
    gap = float(v[order[0]] - v[outside].max()) if outside.size else 0.0
    s = softmax(v / T)
    diff = s.copy()
    diff[S] = -softmax(v[S] / T) * s[outside].sum()  # exact algebra, no cancellation
    np.testing.assert_allclose(s[S] - softmax(v[S] / T), diff[S], atol=1e-12)  # the identity
    bound = cc.softmax_subset_bound(n, S.size, gap, T, p=p)
    assert pnorm(diff, p) <= bound * (1 + 1e-10) + 1e-300
    if size == 1 and math.isfinite(p):  # D.1 is D.2 with S = {k} (up to its constant)
        assert bound <= cc.softmax_onehot_bound(n, gap, T) * 2 ** (1 / p) / 2 * (1 + 1e-12)


def test_softmax_subset_full_set_is_zero():
    assert cc.softmax_subset_bound(7, 7, 0.0, 1.0, p=2) == 0.0
    assert cc.softmax_onehot_bound(1, 0.0, 1.0) == 0.0


# ---------------------------------------------------------------------------------------------
# coupling conditions and the exact E.1 gap law
# ---------------------------------------------------------------------------------------------

TIMES = st.floats(0.02, 0.98)


@settings(max_examples=150, deadline=None)
@given(
    t=TIMES,
    eps=st.floats(0.0, 1.0),
    d=st.integers(1, 2000),
    gamma=st.floats(0.1, 200.0),
    s2=st.floats(0.05, 5.0),
)
def test_coupling_conditions_implications(t, eps, d, gamma, s2):
    def cond(**kw):
        return cc.coupling_conditions(t, eps, d, gamma, s2, **kw)

    assert not cond(lemma="E.1") or cond(lemma="E.1", printed=True)
    assert not cond(lemma="E.1", printed=True) or cond(lemma="E.1", sharp=True)
    assert not cond(lemma="F.1") or cond(lemma="F.1", printed=True)
    assert not cond(lemma="F.1") or (cond(lemma="E.1") and cond(lemma="E.2"))
    assert cond(lemma="F.1", sharp=True) == cond(lemma="E.2")
    assert not cond(lemma="E.2") or cond(lemma="E.1", sharp=True)
    assert not cond(lemma="E.6ii") or cond(lemma="E.2")
    assert cond(lemma="E.6ii", printed=True) == cond(lemma="E.2")
    for lemma in cc.LEMMAS:  # monotone in eps
        if cond(lemma=lemma):
            assert cc.coupling_conditions(t, eps / 2, d, gamma, s2, lemma=lemma)


def test_coupling_conditions_vectorized_over_t():
    t = np.linspace(0.05, 0.95, 7)
    out = cc.coupling_conditions(t, 0.4, 100, 30.0, lemma="E.2")
    assert out.shape == (7,) and out.dtype == bool
    assert out[0] and not out[-1]  # high SNR satisfies, low SNR violates
    assert isinstance(cc.coupling_conditions(0.5, 0.4, 100, 30.0), bool)
    assert cc.coupling_conditions(0.1, 1.0, 1, 1e6, lemma="E.2") is False  # eps = 1


@settings(max_examples=150, deadline=None)
@given(
    t=TIMES,
    eps=st.floats(0.01, 1.0),
    d=st.integers(1, 5000),
    K=st.integers(2, 50),
    gamma=st.floats(0.1, 500.0),
    s2=st.floats(0.05, 5.0),
)
def test_sharp_e1_failure_is_below_stated_under_sharp_condition(t, eps, d, K, gamma, s2):
    # the claim of Lemma E.1 holds under eps <= alpha gamma / (2 sqrt(d V)) (weaker than printed)
    if cc.coupling_conditions(t, eps, d, gamma, s2, lemma="E.1", sharp=True):
        sharp = cc.gap_means_failure_exact(t, K, gamma, s2)
        assert sharp <= cc.lemma_e_1(t, eps, d, 1, K, gamma, None, s2).failure_probability


@settings(max_examples=10, deadline=None)
@given(seed=SEEDS, t=st.floats(0.1, 0.9), target=st.floats(0.02, 0.45), s2=st.floats(0.2, 3.0))
def test_e1_gap_is_exactly_gaussian_for_two_means(seed, t, target, s2):
    a, sig2 = float(SCHED.alpha(t)), float(SCHED.sigma2(t))
    V = a * a * s2 + sig2
    gamma = 4 * math.sqrt(V) / a * float(-norm.ppf(target))  # P[fail] = target
    assert cc.gap_means_failure_exact(t, 2, gamma, s2) == pytest.approx(target, rel=1e-9)
    rng, n, d = np.random.default_rng(seed), 8000, 5
    mu = np.zeros((2, d))
    mu[1, 0] = gamma
    lab = rng.integers(0, 2, n)
    x = a * (mu[lab] + math.sqrt(s2) * rng.standard_normal((n, d)))
    x += math.sqrt(sig2) * rng.standard_normal((n, d))
    dist = ((a * mu[None] - x[:, None]) ** 2).sum(-1)
    gap = dist[np.arange(n), 1 - lab] - dist[np.arange(n), lab]
    freq = float(np.mean(gap < a * a * gamma**2 / 2))
    assert abs(freq - target) <= 4 * math.sqrt(target * (1 - target) / n)


# ---------------------------------------------------------------------------------------------
# Lemmas E.1-E.6: formulas, printed forms, Monte Carlo
# ---------------------------------------------------------------------------------------------


def test_lemma_formulas_and_printed_forms():
    t, eps, d, N, K, gamma, G, s2 = 0.4, 0.3, 300, 20, 4, 40.0, 30.0, 0.7
    a2, sig2 = 1 - t * t, t * t
    V = a2 * s2 + sig2
    tail = math.exp(-d * eps**2 / 8)
    e1 = cc.lemma_e_1(t, eps, d, N, K, gamma, G, s2)
    assert e1.kind == "lower" and e1.value == pytest.approx(a2 * gamma**2 / 2)
    assert e1.failure_probability == pytest.approx(4 * K * tail)
    e2 = cc.lemma_e_2(t, eps, d, N, K, gamma, G, s2)
    assert e2.value == pytest.approx(a2 * s2 * (1 - eps) * d)
    assert e2.failure_probability == pytest.approx(4 * N * tail)
    e3 = cc.lemma_e_3(t, eps, d, N, K, gamma, G, s2, strong=True)
    assert e3.value == pytest.approx(a2 * gamma**2 / 2 + e2.value)
    e4, e4p = (cc.lemma_e_4(t, eps, d, N, K, gamma, G, s2, printed=pr) for pr in (False, True))
    assert e4.log_value == pytest.approx(
        math.log(2 * (K - 1) * G * sig2 / V) - a2 * gamma**2 / (4 * V)
    )
    assert e4p.log_value - e4.log_value == pytest.approx(math.log(K / (K - 1)))
    gs = math.sqrt(G**2 + eps * math.sqrt(s2 * d) * G + (1 + eps) * s2 * d)
    assert cc.gamma_star(G, eps, d, s2) == pytest.approx(gs)
    e5, e5p = (cc.lemma_e_5(t, eps, d, N, K, gamma, G, s2, printed=pr) for pr in (False, True))
    assert e5.log_value == pytest.approx(
        math.log(2 * (N - 1) * gs) - a2 * s2 * (1 - eps) * d / (2 * sig2)
    )
    assert e5p.log_value - e5.log_value == pytest.approx(math.log(N / (N - 1)))
    assert e5.failure_probability == pytest.approx(8 * N * tail)
    M = 12
    e6 = cc.lemma_e_6(t, eps, d, N, K, gamma, G, s2, M=M)
    assert e6.log_value == pytest.approx(math.log(2 * (M - 1) * gs) - a2 * gamma**2 / (4 * sig2))
    coupon = K * (1 - 1 / K) ** M * (1 + M / (K - 1))
    assert e6.failure_probability == pytest.approx((10 * M + 1) * tail + coupon)
    e6p = cc.lemma_e_6(t, eps, d, N, K, gamma, G, s2, M=M, printed=True)
    assert e6p.log_value == pytest.approx(math.log(gs * (1 + N) ** 2) - a2 * gamma**2 / (2 * sig2))
    lk, ld = math.log(K), math.log(d)
    assert e6p.failure_probability == pytest.approx(8 * N * tail + K**-ld * (1 + lk * ld))
    e6i = cc.lemma_e_6(t, eps, d, N, K, gamma, G, s2, M=M, memorized=True)
    assert e6i.failure_probability == pytest.approx(8 * M * tail)
    assert e6i.value == pytest.approx(2 * (M - 1) / (2 * (N - 1)) * e5.value)
    closed = cc.lemma_e_6(t, eps, 300, 200, K, gamma, G, s2, M=150, coupon="closed")
    assert (
        closed.failure_probability
        >= cc.lemma_e_6(t, eps, 300, 200, K, gamma, G, s2, M=150).failure_probability
    )


def test_lemma_bounds_vectorize_over_t():
    t = np.array([0.1, 0.3, 0.6])
    for f in (cc.lemma_e_1, cc.lemma_e_2, cc.lemma_e_3, cc.lemma_e_4, cc.lemma_e_5):
        b = f(t, 0.3, 200, 10, 3, 30.0, 20.0, 1.0)
        assert np.shape(b.value) == (3,) and np.shape(b.conditions_hold) == (3,)
    b = cc.lemma_e_6(t, 0.3, 200, 10, 3, 30.0, 20.0, M=5)
    assert b.log_value.shape == (3,) and np.all(np.diff(b.log_value) > 0)  # looser at low SNR


def test_other_schedules_are_accepted():
    b = cc.lemma_e_2(0.5, 0.3, 100, 5, 3, 30.0, schedule=OU())
    a2 = math.exp(-1.0)
    assert b.value == pytest.approx(a2 * 0.7 * 100)


def valid_e2_params(d, N, target, u, c, s2):
    """eps with 4 N e^{-d eps^2/8} = target, t and gamma such that the E.2 conditions hold."""
    eps = math.sqrt(8 * math.log(4 * N / target) / d)
    psi_min = 2 * eps**2 / ((1 - eps) * s2)
    t = u / math.sqrt(1 + psi_min)
    a2, sig2 = 1 - t * t, t * t
    gamma = c * 2 * eps * math.sqrt(d * (2 * a2 * s2 + sig2)) / math.sqrt(a2)
    return t, eps, gamma


E2_PARAMS = {
    "seed": SEEDS,
    "d": st.integers(100, 250),
    "N": st.integers(3, 8),
    "target": st.floats(0.05, 0.6),
    "u": st.floats(0.3, 0.99),
    "c": st.floats(1.0, 1.4),
    "s2": st.floats(0.3, 2.0),
}


def draw_e2(seed, d, N, t, gamma, s2, trials, K=3):
    """Means r e_k with r = gamma/sqrt 2; N points; x = alpha x^0 + sigma g."""
    rng = np.random.default_rng(seed)
    mu = ck._axis_means(K, d, gamma / math.sqrt(2))
    X, lab = ck._draw_points(rng, trials, N, mu, s2)
    x = ck._noisy(rng, X[:, 0], t)
    return mu, X, lab, x


@settings(max_examples=10, deadline=None)
@given(**E2_PARAMS)
def test_lemmas_e2_e3_e5_monte_carlo(seed, d, N, target, u, c, s2):
    t, eps, gamma = valid_e2_params(d, N, target, u, c, s2)
    assume(eps < 0.95)
    args = (t, eps, d, N, 3, gamma, gamma / math.sqrt(2), s2)
    e2, e3, e5 = cc.lemma_e_2(*args), cc.lemma_e_3(*args, strong=True), cc.lemma_e_5(*args)
    assert e2.conditions_hold and e2.failure_probability == pytest.approx(target)
    trials = 300
    _, X, lab, x = draw_e2(seed, d, N, t, gamma, s2, trials)
    dist = ck._sq_dist_to(x, X, math.sqrt(1 - t * t))
    gaps = dist[:, 1:] - dist[:, :1]
    fails2 = ~e2.holds(gaps.min(1))
    other = np.where(lab[:, 1:] == lab[:, :1], np.inf, gaps).min(1)
    fails3 = ~e3.holds(other)
    fails5 = ~e5.holds_log(ck._log_mem_minus_point(x, t, X))
    for fails, b in ((fails2, e2), (fails3, e3), (fails5, e5)):
        assert excess_z(float(np.mean(fails)), b.failure_probability, trials) <= Z


@settings(max_examples=8, deadline=None)
@given(seed=SEEDS, d=st.integers(120, 300), K=st.integers(2, 5), u=st.floats(0.2, 0.95))
def test_lemmas_e1_e4_monte_carlo(seed, d, K, u):
    eps = math.sqrt(8 * math.log(4 * K / 0.3) / d)  # failure probability 0.3
    t, s2 = 0.5 * u, 0.8
    a2, sig2 = 1 - t * t, t * t
    gamma = 1.05 * 4 * math.sqrt(eps * d * (a2 * s2 + sig2) / a2)
    e1 = cc.lemma_e_1(t, eps, d, 1, K, gamma, None, s2)
    e4 = cc.lemma_e_4(t, eps, d, 1, K, gamma, gamma / math.sqrt(2), s2)
    assert e1.conditions_hold and e4.conditions_hold
    trials = 2000
    rng = np.random.default_rng(seed)
    mu = ck._axis_means(K, d, gamma / math.sqrt(2))
    x0, lab = ck._draw_points(rng, trials, 1, mu, s2)
    x = ck._noisy(rng, x0[:, 0], t)
    dist = ck._sq_dist_to(x, mu, math.sqrt(a2))
    own = dist[np.arange(trials), lab[:, 0]].copy()
    dist[np.arange(trials), lab[:, 0]] = np.inf
    fails1 = ~e1.holds(dist.min(1) - own)
    fails4 = ~e4.holds_log(ck._log_true_minus_nominal(x, t, mu, s2, lab[:, 0]))
    for fails, b in ((fails1, e1), (fails4, e4)):
        assert excess_z(float(np.mean(fails)), b.failure_probability, trials) <= Z


# ---------------------------------------------------------------------------------------------
# the log-space residuals used by the checks equal the package's denoisers
# ---------------------------------------------------------------------------------------------


def test_log_residual_helpers_match_denoisers():
    rng = np.random.default_rng(3)
    d, K, s2, t, N, M = 6, 3, 0.6, 0.8, 9, 6
    mu = ck._axis_means(K, d, 2.0)
    X, lab = ck._draw_points(rng, 1, N, mu, s2)
    X, lab = X[0], lab[0]
    x = ck._noisy(rng, X[:1], t)  # a noisy copy of X[0], shape (1, d)
    true = iso_gmm_denoiser(x, t, mu, s2, SCHED) - nominal_denoiser(x, t, mu, s2, lab[:1], SCHED)
    got = ck._log_true_minus_nominal(x, t, mu, s2, lab[:1])
    assert got[0] == pytest.approx(math.log(np.linalg.norm(true)), rel=1e-9)
    mem = memorizing_denoiser(x, t, X, SCHED) - X[0]
    got = ck._log_mem_minus_point(x, t, X[None])
    assert got[0] == pytest.approx(math.log(np.linalg.norm(mem)), rel=1e-9)
    held = X[0]  # hold out point 0; memorize points 1..M
    idx = np.arange(1, M + 1)
    pmem = partial_memorizing_denoiser(x, t, X, idx=idx, schedule=SCHED)
    S = idx[lab[idx] == lab[0]]
    assert S.size > 0
    w = softmax(-((math.sqrt(1 - t * t) * X[S] - x) ** 2).sum(1) / (2 * t * t))
    want = np.linalg.norm(pmem[0] - w @ X[S])
    got, nonempty = ck._log_pmem_minus_subset(x, t, X[None, idx], lab[None, idx], lab[:1])
    assert nonempty[0] and got[0] == pytest.approx(math.log(want), rel=1e-9)
    assert held.shape == (d,)


def test_e6_heldout_printed_statement_fails_but_corrected_holds():
    # the printed exponent alpha^2 gamma^2 / (2 sigma^2) is violated in most draws (erratum)
    p = ck._E6
    args = (p["t"], p["eps"], p["d"], p["M"] + 1, p["K"], p["r"] * math.sqrt(2), p["r"], p["s2"])
    printed = cc.lemma_e_6(*args, M=p["M"], printed=True)
    fixed = cc.lemma_e_6(*args, M=p["M"])
    assert printed.conditions_hold and printed.failure_probability < 0.1
    log_lhs, _ = ck._pmem_heldout_log_residual(np.random.default_rng(11), 300, p)
    assert np.mean(~printed.holds_log(log_lhs)) > 0.5
    assert np.mean(~fixed.holds_log(log_lhs)) <= fixed.failure_probability


# ---------------------------------------------------------------------------------------------
# the registered checks
# ---------------------------------------------------------------------------------------------

CHECKS = [
    "paper000.c1_chi2_chernoff",
    "paper000.c2_gaussian_norm",
    "paper000.c3_softmax_average",
    "paper000.c4_coupon_exact",
    "paper000.c4_coupon_rigorous",
    "paper000.d1_softmax_onehot",
    "paper000.d2_softmax_subset",
    "paper000.e1_gap_means",
    "paper000.e1_gap_gaussian_law",
    "paper000.e2_gap_points",
    "paper000.e3_gap_clusters",
    "paper000.e4_true_vs_nominal",
    "paper000.e5_memorizing_vs_point",
    "paper000.e6_pmem_memorized",
    "paper000.e6_pmem_heldout",
]


@pytest.mark.parametrize("name", CHECKS)
@pytest.mark.parametrize("seed", [0, 1])
def test_check_passes(name, seed):
    result = get_check(name).run(seed=seed)
    assert result.status == "pass", result.note
    assert not result.erratum and result.paper == "paper000"


# ---------------------------------------------------------------------------------------------
# the Bound type and input validation
# ---------------------------------------------------------------------------------------------


def test_bound_semantics():
    iv = Bound(value=3.0, failure_probability=1.5, kind="interval", lower=1.0)
    assert iv.holds([0.5, 2.0, 3.5]).tolist() == [False, True, False]
    assert iv.upper == 3.0 and iv.success_probability == 0.0
    dev = Bound(value=1.0, failure_probability=0.1, kind="deviation", center=5.0)
    assert dev.holds([4.5, 6.0]).tolist() == [True, False]
    low = Bound(value=2.0, failure_probability=0.1, kind="lower")
    assert low.upper is None and low.holds([2.0, 1.9]).tolist() == [True, False]
    with pytest.raises(ValueError, match="kind"):
        Bound(value=1.0, failure_probability=0.1, kind="sideways")
    with pytest.raises(ValueError, match="lower"):
        Bound(value=1.0, failure_probability=0.1, kind="interval")
    with pytest.raises(ValueError, match="log_value"):
        low.holds_log([0.0])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: cc.chi2_lower_tail_bound(10, 1.0), "eps must lie in"),
        (lambda: cc.chi2_lower_tail_bound(0, 0.5), "p must lie in"),
        (lambda: cc.chi2_upper_tail_bound(10, -0.1), "eps must lie in"),
        (lambda: cc.chi2_two_sided_bound(10, 1.5), "eps must lie in"),
        (lambda: cc.chi2_two_sided_bound(10, float("nan")), "eps must be finite"),
        (lambda: cc.gaussian_norm_deviation(10, 1.2), "eps"),
        (lambda: cc.gaussian_norm_deviation(10, 0.5, var=0.0), "var"),
        (lambda: cc.gaussian_norm_deviation(10, 0.5, mean_norm=-1.0), "mean_norm"),
        (lambda: cc.prop_c_3_bounds(10, 1, 0.5), "n must be >= 2"),
        (lambda: cc.prop_c_3_bounds(10, 3, 0.0), "eps"),
        (lambda: cc.coupon_min_draws(0, 5), "K must lie in"),
        (lambda: cc.coupon_min_draws(2.5, 5), "K must be an integer"),
        (lambda: cc.coupon_min_draws(3, 0.5), "d must lie in"),
        (lambda: cc.coupon_probability_exact(0, 5), "K must be >= 1"),
        (lambda: cc.coupon_probability_exact(3, -1), "l must be >= 0"),
        (lambda: cc.coupon_probability_exact(3, 5, method="fast"), "method"),
        (lambda: cc.coupon_bound(1, 5), "K must lie in"),
        (lambda: cc.coupon_bound(12, 5, 50, form="closed"), "l must be >="),
        (lambda: cc.coupon_bound(12, 5, form="tight"), "form"),
        (lambda: cc.coupon_bound(12, 5, 50, printed=True), "l must be >=.*printed=True"),
        (lambda: cc.coupon_bound(12, 5, printed=1), "printed"),
        (lambda: cc.softmax_onehot_bound(3, -1.0, 1.0), "gap"),
        (lambda: cc.softmax_onehot_bound(3, 1.0, 0.0), "T must lie in"),
        (lambda: cc.softmax_onehot_bound(3, 1.0, 1.0, p=0.5), "p must be"),
        (lambda: cc.softmax_subset_bound(3, 4, 1.0, 1.0), "S_size must be <= n"),
        (lambda: cc.softmax_subset_bound(3, 0, 1.0, 1.0), "S_size must lie in"),
        (lambda: cc.coupling_conditions(0.5, 0.1, 10, 1.0, lemma="G.7"), "lemma"),
        (lambda: cc.coupling_conditions(1.0, 0.1, 10, 1.0), "t must lie in"),
        (lambda: cc.coupling_conditions(0.5, 0.1, 10, 0.0), "gamma"),
        (lambda: cc.lemma_e_4(0.5, 0.1, 10, 5, 3, 1.0), "Gamma"),
        (lambda: cc.lemma_e_5(0.5, 0.1, 10, 1, 3, 1.0, 1.0), "N must lie in"),
        (lambda: cc.lemma_e_6(0.5, 0.1, 10, 5, 3, 1.0, 1.0, M=5), "M must be <= N - 1"),
        (lambda: cc.lemma_e_6(0.5, 0.1, 10, 5, 3, 1.0, 1.0, M=6, memorized=True), "M must be <="),
        (lambda: cc.lemma_e_6(0.5, 0.1, 10, 5, 3, 1.0, 1.0, M=2, coupon="x"), "coupon"),
        (lambda: cc.gamma_star(-1.0, 0.1, 10), "Gamma"),
    ],
)
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_schedule_raises_type_error():
    with pytest.raises(TypeError, match="schedule"):
        cc.lemma_e_1(0.5, 0.1, 10, 5, 3, 1.0, schedule=3)
    with pytest.raises(TypeError, match="schedule"):
        cc.lemma_e_1(0.5, 0.1, 10, 5, 3, 1.0, schedule="VPTrigg")


def test_schedule_by_name():
    by_name = cc.lemma_e_1(0.5, 0.1, 10, 5, 3, 1.0, schedule="OU")
    assert by_name == cc.lemma_e_1(0.5, 0.1, 10, 5, 3, 1.0, schedule=OU())


@pytest.mark.parametrize(
    "lemma", [cc.lemma_e_1, cc.lemma_e_2, cc.lemma_e_3, cc.lemma_e_4, cc.lemma_e_5]
)
@pytest.mark.parametrize("which", ["N", "K", "Gamma"])
def test_unused_arguments_are_validated(lemma, which):
    # regression: lemma_e_1(.3, .5, 200, nan, 3, 39.6, var_star=.8) accepted the NaN N
    args = {"N": 10, "K": 3, "Gamma": 28.0}
    args[which] = math.nan
    with pytest.raises(ValueError, match=which):
        lemma(0.3, 0.5, 200, args["N"], args["K"], 39.6, args["Gamma"], var_star=0.8)


# --- fuzzing findings: extreme valid floats, sizes, Bound fields ---------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: cc.lemma_e_1(0.3, 0.5, 200, 10, 3, 1e300),  # alpha^2 gamma^2 / 2 overflows
        lambda: cc.lemma_e_3(0.6, 0.55, 200, 1.797e308, 3, 25.46),  # 4 N e^{...} overflows
        lambda: cc.gaussian_norm_deviation(100, 0.5, mean_norm=1e300),  # center overflows
        lambda: cc.coupon_min_draws(1.797e308, 5),
        lambda: cc.coupon_probability_exact(12, 2**62),  # hung in the big-integer sum
        lambda: cc.coupon_probability_exact(300, 3000),
        lambda: cc.coupon_probability_exact(12, 2000, method="dp"),
    ],
)
def test_results_beyond_float64_or_too_costly_raise(call):
    with pytest.raises(ValueError):
        call()


def test_extreme_valid_floats_are_finite_and_right():
    assert cc.gamma_star(1e300, 0.5, 100, 1.0) == pytest.approx(1e300, rel=1e-15)  # was inf
    assert cc.coupon_min_draws(2**62, 5) == math.ceil((1 + math.log(5)) * 2**62 * math.log(2**62))
    b = cc.lemma_e_4(1e-300, 0.5, 200, 10, 3, 39.6, Gamma=28.0, var_star=0.8)
    # log of 2 (K-1) Gamma sigma^2 / V e^{-alpha^2 gamma^2/(4V)}: sigma^2 = 1e-600 underflows
    v = 0.8 * (1 - 1e-600)
    ref = math.log(2 * 2 * 28.0 / v) + 2 * math.log(1e-300) - 39.6**2 / (4 * v)
    assert b.log_value == pytest.approx(ref, rel=1e-12) and b.value == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from the overflow of an exponent
        assert cc.lemma_e_5(1e-300, 0.55, 200, 10, 3, 25.46, 18.0, 0.8).log_value == -math.inf
        assert cc.softmax_onehot_bound(10, 3.0, 5e-324) == 0.0
        assert cc.chi2_upper_tail_bound(100, 1.797e308, log=True) == -math.inf
        assert cc.coupling_conditions(0.5, 0.1, 1.797e308, 10.0) is False


@pytest.mark.parametrize(
    ("field", "value"),
    [("value", 1j), ("failure_probability", math.nan), ("lower", 1 + 1j), ("log_value", "x")],
)
def test_bound_fields_are_validated(field, value):
    kwargs = {"value": 1.0, "failure_probability": 0.1, "kind": "upper", field: value}
    with pytest.raises(ValueError, match=field):
        Bound(**kwargs)
    with pytest.raises(TypeError, match="statement"):
        Bound(value=1.0, failure_probability=0.1, statement=1j)
    with pytest.raises(ValueError, match="conditions_hold"):
        Bound(value=1.0, failure_probability=0.1, conditions_hold=1.5)


def test_flags_and_observed_quantities_are_validated():
    # fuzzing finding: NaN / complex flags were accepted as truthy, NaN observations as False
    with pytest.raises(ValueError, match="printed"):
        cc.lemma_e_1(0.3, 0.5, 200, 10, 3, 39.6, var_star=0.8, printed=float("nan"))
    with pytest.raises(ValueError, match="log"):
        cc.chi2_upper_tail_bound(100, 0.3, log=1j)
    with pytest.raises(ValueError, match="exact"):
        cc.coupon_probability_exact(2, 4, exact=float("inf"))
    with pytest.raises(ValueError, match="strong"):
        cc.lemma_e_3(0.6, 0.55, 200, 10, 3, 25.46, var_star=0.8, strong=float("nan"))
    b = Bound(value=2.0, failure_probability=0.1, kind="upper", log_value=0.5)
    assert b.holds([math.inf, -math.inf]).tolist() == [False, True]
    with pytest.raises(ValueError, match="observed must not be NaN"):
        b.holds([1.0, math.nan])
    with pytest.raises(ValueError, match="log_observed must not be NaN"):
        b.holds_log(math.nan)
