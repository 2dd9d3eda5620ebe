"""Checks of the concentration, softmax and coupon-collector bounds of Buchanan et al. (paper 000),
Appendices C, D and E (:mod:`diffmem_theory.crossover.concentration`).

Exact statements (C.1, C.4, D.1, D.2) are compared with exact values (``scipy.stats.chi2`` tails,
exact rational coupon probabilities, exact softmax norms). High-probability statements (C.2, C.3,
E.1-E.6) are compared with seeded Monte Carlo: the frequency with which the event fails must not
exceed the stated failure probability by more than three binomial standard errors, and for the
denoiser bounds (E.4-E.6, often far below the smallest float64) the comparison is made in log
space, on the empirical quantile at level ``1 - failure_probability``. Parameters are chosen so
that each lemma's coupling conditions hold and its failure probability is below 1 (non-vacuous);
each check asserts both.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import log_softmax, logsumexp, softmax
from scipy.stats import chi2

from diffmem_theory import Bound
from diffmem_theory.core.schedules import VPTrig
from diffmem_theory.crossover import concentration as cc
from diffmem_theory.registry import Outcome, check

_SCHED = VPTrig()
_Z = 3.0  # allowed excess of a Monte Carlo failure frequency, in binomial standard errors


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def _z_excess(freq: float, prob: float, n: int) -> float:
    """(freq - prob) / SE with SE = sqrt(p (1 - p) / n), p = min(prob, 1/2) floored at 1/n."""
    p = min(max(prob, 1.0 / n), 0.5)
    return (freq - prob) / math.sqrt(p * (1.0 - p) / n)


def _axis_means(K: int, d: int, r: float) -> np.ndarray:
    """``K`` means ``r e_k``: separation exactly ``r sqrt(2)``, norms exactly ``r``."""
    mu = np.zeros((K, d))
    mu[np.arange(K), np.arange(K)] = r
    return mu


def _noisy(rng: np.random.Generator, x0: np.ndarray, t: float) -> np.ndarray:
    a, s = float(_SCHED.alpha(t)), float(_SCHED.sigma(t))
    return a * x0 + s * rng.standard_normal(x0.shape)


def _log_weighted_norm(logits: np.ndarray, vecs: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``log |sum_{j: keep} softmax(logits)_j vecs_j|`` per row, without underflow.

    ``logits`` (B, n), ``vecs`` (B, n, d), ``keep`` (B, n) boolean; the softmax is over all ``n``.
    Rows where nothing is kept give ``-inf``.
    """
    ls = log_softmax(logits, axis=1)
    ls = np.where(keep, ls, -np.inf)
    top = ls.max(axis=1)
    safe = np.where(np.isfinite(top), top, 0.0)
    w = np.exp(ls - safe[:, None])
    norm = np.linalg.norm(np.einsum("bn,bnd->bd", w, vecs), axis=1)
    with np.errstate(divide="ignore"):
        return np.where(np.isfinite(top), safe + np.log(norm), -np.inf)


def _quantile_outcome(log_lhs: np.ndarray, bound: Bound, what: str, extra: str = "") -> Outcome:
    """Compare the (1 - failure_probability) quantile of log LHS with log(bound)."""
    fp = float(bound.failure_probability)
    if not (bool(bound.conditions_hold) and fp < 1.0):
        return Outcome(math.nan, None, None, False, f"bad parameters: conditions/fp={fp:.3g}")
    n = log_lhs.size
    level = 1.0 - fp
    q = float(np.quantile(log_lhs, level, method="higher"))
    gap = q - float(bound.log_value)
    freq = float(np.mean(~bound.holds_log(log_lhs)))
    passed = gap <= 0.0 and _z_excess(freq, fp, n) <= _Z
    note = (
        f"{what}: {level:.3f}-quantile of log LHS minus log bound (nats) over {n} draws; "
        f"violation frequency {freq:.4f} vs failure probability {fp:.4f}; "
        f"log bound {float(bound.log_value):.2f}, median log LHS {float(np.median(log_lhs)):.2f}"
        + (f"; {extra}" if extra else "")
    )
    return Outcome(gap, 0.0, 0.0, passed, note)


def _frequency_outcome(fails: np.ndarray, bound: Bound, what: str, extra: str = "") -> Outcome:
    """Compare the failure frequency of an event with its stated failure probability."""
    fp = float(bound.failure_probability)
    if not (bool(bound.conditions_hold) and fp < 1.0):
        return Outcome(math.nan, None, None, False, f"bad parameters: conditions/fp={fp:.3g}")
    n = fails.size
    freq = float(np.mean(fails))
    z = _z_excess(freq, fp, n)
    note = f"{what}: z = (failure frequency {freq:.4f} - stated {fp:.4f}) / SE over {n} draws" + (
        f"; {extra}" if extra else ""
    )
    return Outcome(z, 0.0, _Z, z <= _Z, note)


# ---------------------------------------------------------------------------------------------
# Appendix C
# ---------------------------------------------------------------------------------------------


@check("paper000.c1_chi2_chernoff", equation="Buchanan et al., Theorem C.1, eqs. (17)-(19)")
def c1_chi2_chernoff() -> Outcome:
    """Eqs. (17)-(19) dominate the exact chi-square tails (scipy) on a (p, eps) grid.

    p in {1, 2, 3, 5, 10, 30, 100, 300, 1000, 5000}, eps in 199 points of (0, 1) (and up to 3 for
    eq. (18)); value = max over the grid and the three equations of log(exact / bound) (<= 0).
    """
    p = np.array([1, 2, 3, 5, 10, 30, 100, 300, 1000, 5000], dtype=float)[:, None]
    eps = np.linspace(0.005, 0.995, 199)[None, :]
    lo = chi2.logcdf((1 - eps) * p, p) - cc.chi2_lower_tail_bound(p, eps, log=True)
    eps_up = np.concatenate([eps, np.linspace(1.0, 3.0, 41)[None, :]], axis=1)
    up = chi2.logsf((1 + eps_up) * p, p) - cc.chi2_upper_tail_bound(p, eps_up, log=True)
    two = np.logaddexp(chi2.logcdf((1 - eps) * p, p), chi2.logsf((1 + eps) * p, p))
    two = two - cc.chi2_two_sided_bound(p, eps, log=True)
    worst = float(max(lo.max(), up.max(), two.max()))
    return Outcome(
        worst,
        0.0,
        1e-12,
        worst <= 1e-12,
        f"max log(exact/bound): (17) {lo.max():.3f}, (18) {up.max():.3f}, (19) {two.max():.3f}",
    )


@check("paper000.c2_gaussian_norm", equation="Buchanan et al., Lemma C.2")
def c2_gaussian_norm(seed: int = 0) -> Outcome:
    """MC frequency of | |g|^2 - E|g|^2 | >= threshold vs 4 exp(-d eps^2/8), g ~ N(mu, s^2 I).

    Eight random configurations (d in [30, 120], eps with 4 e^{-d eps^2/8} in (0.05, 0.9), s^2 in
    [0.2, 5], |mu| in [0, 3 sqrt(d)]), 4000 Gaussian vectors each; value = max z-excess.
    """
    rng = np.random.default_rng(seed)
    zs, worst_ratio, n = [], 0.0, 4000
    for _ in range(8):
        d = int(rng.integers(30, 121))
        fp_target = float(rng.uniform(0.05, 0.9))
        eps = min(1.0, math.sqrt(8.0 * math.log(4.0 / fp_target) / d))
        var, mnorm = float(rng.uniform(0.2, 5.0)), float(rng.uniform(0.0, 3.0)) * math.sqrt(d)
        mu = np.zeros(d)
        mu[0] = mnorm
        g = mu + math.sqrt(var) * rng.standard_normal((n, d))
        b = cc.gaussian_norm_deviation(d, eps, var=var, mean_norm=mnorm)
        freq = float(np.mean(~b.holds((g * g).sum(1))))
        zs.append(_z_excess(freq, b.failure_probability, n))
        worst_ratio = max(worst_ratio, freq / b.failure_probability)
    z = float(max(zs))
    return Outcome(
        z, 0.0, _Z, z <= _Z, f"max over 8 configs; max frequency/bound = {worst_ratio:.3f}"
    )


@check("paper000.c3_softmax_average", equation="Buchanan et al., Proposition C.3 (corrected)")
def c3_softmax_average(seed: int = 0) -> Outcome:
    """MC: d s^2 (1 - 3 eps) <= |sum softmax(w)_j x^j - x^n|^2 <= 2 d s^2 (1 + 3 eps), s^2 = 0.25.

    d = 1000, n = 3, eps = 0.2 (failure probability 6 n e^{-d eps^2/8} = 0.121), 3000 draws for
    each of three weight laws: Dirichlet(1) independent of the points, the one-hot nearest
    neighbour of x^n, and softmax(-|x^j - x^n|^2) (both depend on x^n -- the bound holds for any
    weights). value = max z-excess of the failure frequency.
    """
    rng = np.random.default_rng(seed)
    d, n, eps, s2, trials = 1000, 3, 0.2, 0.25, 3000
    b = cc.prop_c_3_bounds(d, n, eps, var_star=s2)
    x = math.sqrt(s2) * rng.standard_normal((trials, n, d))
    diff = x[:, :-1] - x[:, -1:]
    dist2 = (diff * diff).sum(-1)
    laws = {
        "dirichlet": rng.dirichlet(np.ones(n - 1), trials),
        "nearest": np.eye(n - 1)[np.argmin(dist2, axis=1)],
        "softmax": softmax(-dist2 / (s2 * math.sqrt(d)), axis=1),
    }
    zs, ranges = [], []
    for name, w in laws.items():
        lhs = (np.einsum("bj,bjd->bd", w, diff) ** 2).sum(-1)
        fails = ~b.holds(lhs)
        zs.append(_z_excess(float(np.mean(fails)), b.failure_probability, trials))
        ranges.append(f"{name} [{lhs.min() / (d * s2):.3f}, {lhs.max() / (d * s2):.3f}]")
    z = float(max(zs))
    note = (
        f"bounds [{b.lower / (d * s2):.2f}, {b.upper / (d * s2):.2f}] d s^2; observed (units of "
        f"d s^2): " + ", ".join(ranges)
    )
    return Outcome(z, 0.0, _Z, z <= _Z, note)


_COUPON_TABLE = ((5, 3, 0.47966), (12, 5, 0.893773), (20, 10, 0.99115), (12, 10, 0.97833),
                 (12, 30, 0.998397))  # fmt: skip


@check("paper000.c4_coupon_exact", equation="Buchanan et al., Proposition C.4 (event A)")
def c4_coupon_exact(seed: int = 0) -> Outcome:
    """Exact P[every label at least twice] (EGF) = Monte Carlo frequency, K = 12, l = 78.

    200 000 sequences of 78 uniform labels; value = |MC - exact| / SE (<= 4). The check also
    requires that the EGF dynamic program gives the same fraction and that it equals the
    reference 0.893773 (our exact count, 1e-6).
    """
    rng = np.random.default_rng(seed)
    K, l, n = 12, 78, 200_000
    exact = cc.coupon_probability_exact(K, l)
    labels = rng.integers(0, K, (n, l))
    counts = np.bincount((labels + K * np.arange(n)[:, None]).ravel(), minlength=n * K)
    freq = float(np.mean(counts.reshape(n, K).min(axis=1) >= 2))
    z = abs(freq - exact) / math.sqrt(exact * (1 - exact) / n)
    same = cc.coupon_probability_exact(K, l, method="dp", exact=True)
    agree = same == cc.coupon_probability_exact(K, l, exact=True) and abs(exact - 0.893773) < 1e-6
    note = f"exact {exact:.6f}, MC {freq:.6f}; expansion == EGF DP, reference to 1e-6: {agree}"
    return Outcome(z, 0.0, 4.0, z <= 4.0 and agree, note)


@check("paper000.c4_coupon_rigorous", equation="Buchanan et al., Proposition C.4 (corrected)")
def c4_coupon_rigorous() -> Outcome:
    """The corrected coupon bounds (union and closed form) are <= the exact probability.

    The five rows of the reference table ``_COUPON_TABLE`` (our exact values at
    l = ceil((1 + log d) K log K)) plus K in {2..40} x
    d in {1, 2, 5, 50, 1e4}; value = min(exact - bound) over both forms (>= 0). The note counts
    the grid points where the printed bound exceeds the exact probability.
    """
    margins, printed_false, ref_err = [], 0, 0.0
    grid = [(K, d, None) for K in range(2, 41) for d in (1, 2, 5, 50, 1e4)]
    for K, d, ref in [*_COUPON_TABLE, *grid]:
        l = cc.coupon_min_draws(K, d)
        exact = cc.coupon_probability_exact(K, l)
        if ref is not None:
            ref_err = max(ref_err, abs(exact - ref))
        for form in ("union", "closed"):
            margins.append(exact - cc.coupon_bound(K, d, form=form))
        printed_false += cc.coupon_bound(K, d, printed=True) > exact
    worst = float(min(margins))
    passed = worst >= 0.0 and ref_err < 6e-6
    note = (
        f"{len(margins) // 2} (K, d) pairs; printed bound exceeds the exact probability at "
        f"{printed_false}; max |exact - reference table| = {ref_err:.1e}"
    )
    return Outcome(worst, 0.0, 0.0, passed, note)


# ---------------------------------------------------------------------------------------------
# Appendix D
# ---------------------------------------------------------------------------------------------


def _random_logits(rng: np.random.Generator, n: int) -> tuple[np.ndarray, float]:
    v = rng.standard_normal(n) * rng.uniform(0.1, 10.0)
    return v, float(10.0 ** rng.uniform(-2, 1.5))


def _pnorm(x: np.ndarray, p: float) -> float:
    return float(np.max(np.abs(x))) if math.isinf(p) else float(np.sum(np.abs(x) ** p) ** (1 / p))


@check("paper000.d1_softmax_onehot", equation="Buchanan et al., Lemma D.1")
def d1_softmax_onehot(seed: int = 0) -> Outcome:
    """|softmax(v/T) - e_k|_p <= 2 (n-1) e^{-gap/T} (and the sharper per-p form), random v, T.

    2000 random (n in [2, 60], v, T, p in {1, 2, 3, inf}); value = max ratio norm/bound over the
    printed and the per-p bound (<= 1).
    """
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(2000):
        n = int(rng.integers(2, 61))
        v, T = _random_logits(rng, n)
        k = int(np.argmax(v))
        gap = float(v[k] - np.delete(v, k).max())
        s = softmax(v / T)
        r = s.copy()
        r[k] = -np.delete(s, k).sum()  # s - e_k, with 1 - s_k summed exactly
        p = float(rng.choice([1.0, 2.0, 3.0, math.inf]))
        norm = _pnorm(r, p)
        for bound in (cc.softmax_onehot_bound(n, gap, T), cc.softmax_onehot_bound(n, gap, T, p=p)):
            if bound > 0:
                worst = max(worst, norm / bound)
    return Outcome(worst, 1.0, 1e-12, worst <= 1.0 + 1e-12, "max |softmax - e_k|_p / bound")


@check("paper000.d2_softmax_subset", equation="Buchanan et al., Lemma D.2")
def d2_softmax_subset(seed: int = 0) -> Outcome:
    """|softmax(v/T) - softmax(v_S/T)|_p <= (1+|S|)^{1/p} (n-|S|) e^{-gap_S/T}, random v, T, S.

    2000 random (n in [2, 60], S = the argmax plus the next |S| - 1 largest entries or random
    others, p in {1, 2, 3, inf}); value = max ratio norm/bound (<= 1). On S the difference is
    formed as s_S,l (sum_{i not in S} s_i) (exact algebra), which avoids cancellation.
    """
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(2000):
        n = int(rng.integers(2, 61))
        v, T = _random_logits(rng, n)
        order = np.argsort(v)[::-1]
        size = int(rng.integers(1, n + 1))
        rest = order[1:size] if rng.random() < 0.5 else rng.permutation(order[1:])[: size - 1]
        S = np.concatenate([order[:1], rest])
        outside = np.setdiff1d(np.arange(n), S)
        gap = float(v[order[0]] - v[outside].max()) if outside.size else 0.0
        s = softmax(v / T)
        diff = s.copy()  # s - s_S: s_j off S; on S, s_S,l - s_l = s_S,l * (mass of s off S)
        diff[S] = -softmax(v[S] / T) * s[outside].sum()
        p = float(rng.choice([1.0, 2.0, 3.0, math.inf]))
        bound = cc.softmax_subset_bound(n, S.size, gap, T, p=p)
        norm = _pnorm(diff, p)
        if bound > 0:
            worst = max(worst, norm / bound)
        elif norm > 1e-15:
            worst = math.inf
    return Outcome(worst, 1.0, 1e-12, worst <= 1.0 + 1e-12, "max |softmax - softmax_S|_p / bound")


# ---------------------------------------------------------------------------------------------
# Appendix E: gap events
# ---------------------------------------------------------------------------------------------

# Lemma E.1 / E.4 setting: K = 3 means r e_k (gamma = r sqrt 2, Gamma = r), d = 200, eps = 0.5,
# t = 0.3, s^2 = 0.8; sqrt(eps) <= alpha gamma / (4 sqrt(d V)) holds and 4K e^{-d eps^2/8} = 0.023.
_E1 = {"t": 0.3, "eps": 0.5, "d": 200, "K": 3, "r": 28.0, "s2": 0.8}
# Lemma E.2 / E.3 / E.5 / E.6(i) setting: N = 10, d = 200, eps = 0.55, t = 0.6, s^2 = 0.8, r = 18.
_E2 = {"t": 0.6, "eps": 0.55, "d": 200, "N": 10, "K": 3, "r": 18.0, "s2": 0.8}


def _draw_points(rng, n_trials, n, mu, s2):
    labels = rng.integers(0, mu.shape[0], (n_trials, n))
    x = mu[labels] + math.sqrt(s2) * rng.standard_normal((n_trials, n, mu.shape[1]))
    return x, labels


def _sq_dist_to(x: np.ndarray, pts: np.ndarray, alpha: float) -> np.ndarray:
    """|alpha pts_j - x|^2 for x (B, d), pts (B, n, d) or (n, d)."""
    diff = alpha * pts - x[:, None, :]
    return (diff * diff).sum(-1)


@check("paper000.e1_gap_means", equation="Buchanan et al., Lemma E.1 (corrected condition)")
def e1_gap_means(seed: int = 0) -> Outcome:
    """MC failure frequency of min_{k != k_i} |a mu_k - x|^2 - |a mu_{k_i} - x|^2 >= a^2 gamma^2/2.

    K = 3, d = 200, eps = 0.5, t = 0.3, s^2 = 0.8, gamma = 39.6 (coupling condition with sqrt(eps)
    holds; stated failure probability 0.023); 10 000 draws; value = z-excess.
    """
    p = _E1
    rng = np.random.default_rng(seed)
    mu = _axis_means(p["K"], p["d"], p["r"])
    gamma = p["r"] * math.sqrt(2.0)
    b = cc.lemma_e_1(p["t"], p["eps"], p["d"], 1, p["K"], gamma, var_star=p["s2"])
    n = 10_000
    x0, lab = _draw_points(rng, n, 1, mu, p["s2"])
    x = _noisy(rng, x0[:, 0], p["t"])
    dist = _sq_dist_to(x, mu, float(_SCHED.alpha(p["t"])))
    own = dist[np.arange(n), lab[:, 0]]
    dist[np.arange(n), lab[:, 0]] = np.inf
    gap = dist.min(1) - own
    extra = f"min gap / bound = {gap.min() / b.value:.3f}"
    return _frequency_outcome(~b.holds(gap), b, "E.1", extra)


@check("paper000.e1_gap_gaussian_law", equation="Buchanan et al., Lemma E.1 (exact gap law)")
def e1_gap_gaussian_law(seed: int = 0) -> Outcome:
    """For K = 2 the E.1 gap is exactly Gaussian: P[gap < a^2 gamma^2/2] = Phi(-a gamma/(4 sqrt V)).

    d = 20, gamma = 3, t = 0.5, s^2 = 0.7 (probability 0.230); 40 000 draws; value = |z|.
    This is the fact behind :func:`~diffmem_theory.crossover.concentration.gap_means_failure_exact`.
    """
    rng = np.random.default_rng(seed)
    d, gamma, t, s2, n = 20, 3.0, 0.5, 0.7, 40_000
    mu = np.zeros((2, d))
    mu[1, 0] = gamma
    x0, lab = _draw_points(rng, n, 1, mu, s2)
    x = _noisy(rng, x0[:, 0], t)
    dist = _sq_dist_to(x, mu, float(_SCHED.alpha(t)))
    own = dist[np.arange(n), lab[:, 0]]
    gap = dist[np.arange(n), 1 - lab[:, 0]] - own
    freq = float(np.mean(gap < float(_SCHED.alpha(t)) ** 2 * gamma**2 / 2))
    prob = cc.gap_means_failure_exact(t, 2, gamma, s2)
    z = abs(freq - prob) / math.sqrt(prob * (1 - prob) / n)
    return Outcome(z, 0.0, 4.0, z <= 4.0, f"MC {freq:.5f} vs Phi(-a gamma/(4 sqrt V)) {prob:.5f}")


def _e2_gaps(rng: np.random.Generator, n_trials: int, p: dict) -> tuple[np.ndarray, ...]:
    """Gaps |a x^j - x|^2 - |a x^0 - x|^2 (B, N-1) and same-cluster mask, for x = a x^0 + s g."""
    mu = _axis_means(p["K"], p["d"], p["r"])
    X, lab = _draw_points(rng, n_trials, p["N"], mu, p["s2"])
    x = _noisy(rng, X[:, 0], p["t"])
    dist = _sq_dist_to(x, X, float(_SCHED.alpha(p["t"])))
    return dist[:, 1:] - dist[:, :1], lab[:, 1:] == lab[:, :1]


@check("paper000.e2_gap_points", equation="Buchanan et al., Lemma E.2")
def e2_gap_points(seed: int = 0) -> Outcome:
    """MC failure frequency of min_{j != i} |a x^j - x|^2 - |a x^i - x|^2 >= a^2 s^2 (1 - eps) d.

    N = 10, K = 3, d = 200, eps = 0.55, t = 0.6, s^2 = 0.8, gamma = 25.5 (E.2 conditions hold;
    stated failure probability 0.021); 4000 draws; value = z-excess.
    """
    p = _E2
    b = cc.lemma_e_2(p["t"], p["eps"], p["d"], p["N"], p["K"], p["r"] * math.sqrt(2), None, p["s2"])
    gaps, _ = _e2_gaps(np.random.default_rng(seed), 4000, p)
    gap = gaps.min(1)
    return _frequency_outcome(
        ~b.holds(gap), b, "E.2", f"min gap / bound = {gap.min() / b.value:.3f}"
    )


@check("paper000.e3_gap_clusters", equation="Buchanan et al., Lemma E.3 (and its stronger form)")
def e3_gap_clusters(seed: int = 0) -> Outcome:
    """MC failure frequency of min_{j not in S_i} |a x^j - x|^2 - |a x^i - x|^2 >= bound.

    Same setting as E.2 (4000 draws); both the statement (a^2 gamma^2/2) and the proof's stronger
    form (+ a^2 s^2 (1 - eps) d) are checked; value = the larger z-excess.
    """
    p = _E2
    args = (p["t"], p["eps"], p["d"], p["N"], p["K"], p["r"] * math.sqrt(2), None, p["s2"])
    weak, strong = cc.lemma_e_3(*args), cc.lemma_e_3(*args, strong=True)
    gaps, same = _e2_gaps(np.random.default_rng(seed), 4000, p)
    gap = np.where(same, np.inf, gaps).min(1)
    a = _frequency_outcome(~weak.holds(gap), weak, "E.3")
    b = _frequency_outcome(~strong.holds(gap), strong, "E.3 strong")
    finite = gap[np.isfinite(gap)]
    note = f"{a.note}; {b.note}; min gap / strong bound = {finite.min() / strong.value:.3f}"
    return Outcome(max(a.value, b.value), 0.0, _Z, a.passed and b.passed, note)


# ---------------------------------------------------------------------------------------------
# Appendix E: denoiser approximations (log space)
# ---------------------------------------------------------------------------------------------


@check("paper000.e4_true_vs_nominal", equation="Buchanan et al., Lemma E.4")
def e4_true_vs_nominal(seed: int = 0) -> Outcome:
    """MC quantile of log |xbar_* - xbar_nom| vs log 2 (K-1) Gamma sigma^2/V e^{-a^2 gamma^2/(4V)}.

    The E.1 setting (failure probability 0.023), 20 000 draws. |xbar_* - xbar_nom| =
    (sigma^2/V) |sum_{k != k_i} softmax(w)_k (mu_k - mu_{k_i})| is evaluated in log space.
    """
    p = _E1
    rng = np.random.default_rng(seed)
    mu = _axis_means(p["K"], p["d"], p["r"])
    t, s2 = p["t"], p["s2"]
    b = cc.lemma_e_4(t, p["eps"], p["d"], 1, p["K"], p["r"] * math.sqrt(2), p["r"], s2)
    n = 20_000
    x0, lab = _draw_points(rng, n, 1, mu, s2)
    x = _noisy(rng, x0[:, 0], t)
    log_lhs = _log_true_minus_nominal(x, t, mu, s2, lab[:, 0])
    return _quantile_outcome(log_lhs, b, "E.4")


def _log_true_minus_nominal(
    x: np.ndarray, t: float, mu: np.ndarray, s2: float, labels: np.ndarray
) -> np.ndarray:
    """log |xbar_*(x, t) - xbar_nom(x, t)| = log (sigma^2/V) |sum_k softmax(w)_k (mu_k - mu_l)|."""
    a2, sig2 = float(_SCHED.alpha(t)) ** 2, float(_SCHED.sigma2(t))
    V = a2 * s2 + sig2
    logits = -_sq_dist_to(x, mu, math.sqrt(a2)) / (2 * V)
    vecs = mu[None, :, :] - mu[labels][:, None, :]
    keep = np.arange(mu.shape[0])[None, :] != labels[:, None]
    return math.log(sig2 / V) + _log_weighted_norm(logits, vecs, keep)


def _log_mem_minus_point(x: np.ndarray, t: float, X: np.ndarray) -> np.ndarray:
    """log |xbar_mem(x_b, t) - X_b0| for queries x (B, d) and training sets X (B, n, d)."""
    alpha, sig2 = float(_SCHED.alpha(t)), float(_SCHED.sigma2(t))
    logits = -_sq_dist_to(x, X, alpha) / (2 * sig2)
    return _log_weighted_norm(logits, X - X[:, :1], np.ones(logits.shape, dtype=bool))


def _log_pmem_minus_subset(
    x: np.ndarray, t: float, mem: np.ndarray, mem_labels: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """log |xbar_pmem(x, t) - sum_{j in S} softmax(w|_S)_j x^j|, S = memorized points of ``labels``.

    ``mem`` (B, M, d) are the memorized points with labels ``mem_labels`` (B, M); ``labels`` (B,)
    the cluster of each held-out point. Returns (log residual, S non-empty); rows with an empty S
    give +inf. Uses ``xbar_pmem - xbar_S = sum_{j not in S} softmax(w)_j (x^j - xbar_S)``.
    """
    alpha, sig2 = float(_SCHED.alpha(t)), float(_SCHED.sigma2(t))
    logits = -_sq_dist_to(x, mem, alpha) / (2 * sig2)
    in_s = mem_labels == labels[:, None]
    nonempty = in_s.any(1)
    masked = np.where(in_s, logits, -np.inf)
    masked[~nonempty] = 0.0
    w_s = np.exp(masked - logsumexp(masked, axis=1, keepdims=True))
    xbar_s = np.einsum("bj,bjd->bd", w_s, mem)
    log_res = _log_weighted_norm(logits, mem - xbar_s[:, None, :], ~in_s)
    return np.where(nonempty, log_res, np.inf), nonempty


def _memorizing_log_residual(
    rng: np.random.Generator, n_trials: int, n_points: int, p: dict
) -> np.ndarray:
    """log |xbar_mem(x, t) - x^0| for x = a x^0 + s g, with n_points training points."""
    mu = _axis_means(p["K"], p["d"], p["r"])
    X, _ = _draw_points(rng, n_trials, n_points, mu, p["s2"])
    x = _noisy(rng, X[:, 0], p["t"])
    return _log_mem_minus_point(x, p["t"], X)


@check("paper000.e5_memorizing_vs_point", equation="Buchanan et al., Lemma E.5")
def e5_memorizing_vs_point(seed: int = 0) -> Outcome:
    """MC quantile of log |xbar_mem(x_t^i, t) - x^i| vs log of 2 (N-1) Gamma_* e^{-gap}.

    The E.2 setting (N = 10, failure probability 8 N e^{-d eps^2/8} = 0.042), 4000 draws.
    """
    p = _E2
    b = cc.lemma_e_5(
        p["t"], p["eps"], p["d"], p["N"], p["K"], p["r"] * math.sqrt(2), p["r"], p["s2"]
    )
    log_lhs = _memorizing_log_residual(np.random.default_rng(seed), 4000, p["N"], p)
    return _quantile_outcome(log_lhs, b, "E.5")


@check("paper000.e6_pmem_memorized", equation="Buchanan et al., Lemma E.6 (i)")
def e6_pmem_memorized(seed: int = 0) -> Outcome:
    """MC quantile of log |xbar_pmem,M(x_t^i, t) - x^i| for a memorized i, M = 8 of N = 40.

    The E.2 setting with M = 8 memorized points (failure probability 8 M e^{-d eps^2/8} = 0.033);
    the partially memorizing denoiser only sees the M memorized points; 4000 draws.
    """
    p = _E2
    M = 8
    b = cc.lemma_e_6(
        p["t"], p["eps"], p["d"], 40, p["K"], p["r"] * math.sqrt(2), p["r"], p["s2"],
        M=M, memorized=True,
    )  # fmt: skip
    log_lhs = _memorizing_log_residual(np.random.default_rng(seed), 4000, M, p)
    return _quantile_outcome(log_lhs, b, "E.6 (i)")


# Lemma E.6 (ii) setting: K = 3, d = 400, eps = 0.4, t = 0.5, s^2 = 1, r = 42 (gamma = 59.4),
# M = 30 memorized points, i held out; the corrected ("E.6ii") conditions hold.
_E6 = {"t": 0.5, "eps": 0.4, "d": 400, "K": 3, "r": 42.0, "s2": 1.0, "M": 30}


def _pmem_heldout_log_residual(
    rng: np.random.Generator, n_trials: int, p: dict
) -> tuple[np.ndarray, np.ndarray]:
    """Draw M memorized points and one held-out point x^0; see :func:`_log_pmem_minus_subset`."""
    mu = _axis_means(p["K"], p["d"], p["r"])
    X, lab = _draw_points(rng, n_trials, p["M"] + 1, mu, p["s2"])  # point 0 is held out
    x = _noisy(rng, X[:, 0], p["t"])
    return _log_pmem_minus_subset(x, p["t"], X[:, 1:], lab[:, 1:], lab[:, 0])


@check("paper000.e6_pmem_heldout", equation="Buchanan et al., Lemma E.6 (ii) (corrected)")
def e6_pmem_heldout(seed: int = 0) -> Outcome:
    """MC quantile of log |xbar_pmem,M - sum_{S_i} softmax(w|_S) x^j| for a held-out point.

    Corrected Lemma E.6 (ii): bound 2 (M-1) Gamma_* e^{-a^2 gamma^2/(4 sigma^2)}, failure
    probability (10 M + 1) e^{-d eps^2/8} + K (1-1/K)^M (1 + M/(K-1)) = 0.10 at K = 3, d = 400,
    eps = 0.4, t = 0.5, M = 30, gamma = 59.4; an empty S_i counts as a failure; 800 draws.
    """
    p = _E6
    b = cc.lemma_e_6(
        p["t"], p["eps"], p["d"], p["M"] + 1, p["K"], p["r"] * math.sqrt(2), p["r"], p["s2"],
        M=p["M"],
    )  # fmt: skip
    log_lhs, nonempty = _pmem_heldout_log_residual(np.random.default_rng(seed), 800, p)
    return _quantile_outcome(log_lhs, b, "E.6 (ii)", f"S_i empty in {np.mean(~nonempty):.4f}")
