"""Statements of Buchanan et al. (paper 000) that are false or misprinted, with counterexamples.

Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models". Each falsifiable
erratum has a function here that *produces* the counterexample (or the demonstrable
inconsistency) and returns a :class:`Counterexample` whose ``erratum`` is the name of the
erratum in the catalogue (``"paper000.<what>"``). The catalogue itself (where each statement is,
as printed, its correction and the counterexample) and the checks that run these functions
(``paper000.erratum_<what>``, status ``"erratum"`` when the printed statement fails as predicted)
are registered by :mod:`diffmem_theory.crossover.errata`; ``diffmem list --errata`` prints them.
This module is the mathematics only and imports no registry.

Two misprinted constants are searched numerically without finding a counterexample; their
functions return a :class:`Counterexample` with ``printed_fails=False`` and the catalogue lists
them as misprints only:

* Lemma C.2's probability ``4 exp[-d eps^2/8]``, quoted as ``3 exp[...]`` in Lemmas
  E.1/E.5/E.6: the exact (noncentral chi-square) tail stays far below ``3 exp[-d eps^2/8]``
  (:func:`lemma_c2_quoted_constant_scan`);
* Prop. C.3's failure probability ``6n exp[-d eps^2/2]`` (the proof gives ``/8``): for weights
  independent of the points the exact failure probability stays below it
  (:func:`prop_c3_failure_scan`).

Where the library implements a corrected statement, the correction lives with the statement
(:mod:`diffmem_theory.crossover.concentration`, :mod:`diffmem_theory.core.schedules`, ...); this
module only holds the evidence.

>>> result = coupon_counterexample(12, 5)
>>> result.erratum, result.printed_fails, result.corrected_holds
('paper000.coupon_c4', True, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special, stats

from diffmem_theory._validation import (
    as_rng,
    check_allocation,
    check_int,
    check_scalar,
    finite_result,
)
from diffmem_theory.core.schedules import VPTrig
from diffmem_theory.crossover.concentration import (
    chi2_two_sided_bound,
    coupling_conditions,
    coupon_bound,
    coupon_min_draws,
    coupon_probability_exact,
    gap_means_failure_exact,
    lemma_e_6,
    prop_c_3_bounds,
)

__all__ = [
    "Counterexample",
    "chi2_proof_step",
    "coupon_counterexample",
    "coupon_violations",
    "h4_code_logdet",
    "lemma_c2_quoted_constant_scan",
    "lemma_e1_coupling",
    "lemma_e6_exponent",
    "prop_c3_failure_scan",
    "prop_c3_missing_variance",
    "prop_f2_condition",
    "regression_temperature",
    "snr_quoted_time",
    "time_grid_h1_count",
    "time_grid_h1_formula",
    "time_grid_h2",
]

_GRID_L = 25
_GRID_EPS = 1e-3


@dataclass(frozen=True)
class Counterexample:
    """What an erratum function returns.

    ``erratum`` is the name of the erratum in the catalogue (``"paper000.<what>"``, see
    :func:`diffmem_theory.registry.list_errata`); ``printed`` is the value the printed statement
    asserts (a bound, a quoted number, a count), ``actual`` the independently computed one;
    ``printed_fails`` says the printed statement is false here, ``corrected_holds`` that the
    corrected statement (the catalogue's ``correction``) holds
    here. ``params`` are the parameters used, ``details`` further numbers worth reporting.
    """

    erratum: str
    printed: float
    actual: float
    printed_fails: bool
    corrected_holds: bool
    params: Mapping[str, float] = field(default_factory=dict)
    details: Mapping[str, float] = field(default_factory=dict)
    note: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.erratum, str) or not isinstance(self.note, str):
            raise TypeError("erratum and note must be str")
        for name in ("printed", "actual"):
            finite_result(_real(getattr(self, name), name), f"{name} of erratum {self.erratum}")
        for name in ("printed_fails", "corrected_holds"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        for name in ("params", "details"):
            values = getattr(self, name)
            if not isinstance(values, Mapping):
                raise TypeError(f"{name} must be a mapping, got {type(values).__name__}")
            for key, value in values.items():
                if np.isnan(_real(value, f"{name}[{key!r}]")):
                    raise ValueError(f"{name}[{key!r}] must not be NaN")


def _real(value: object, name: str) -> float:
    """A real number (bool, int or float) as a float; anything else raises ``ValueError``."""
    if not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a real number, got {value!r:.60}")
    return float(value)


# ----------------------------------------------------------------------------------------------
# App. H.1/H.2 time grids, the SNR quoted in Figs. 2 and 5
# ----------------------------------------------------------------------------------------------


def _steps(L: int) -> tuple[int, np.ndarray, np.ndarray]:
    L = check_int(L, "L", low=1)
    check_allocation(L + 1, f"a grid of L + 1 = {L + 1} times")
    ell = np.arange(L + 1)
    return L, ell, VPTrig().time_grid(L, eps=_GRID_EPS)


def time_grid_h1_formula(L: int = _GRID_L) -> Counterexample:
    """App. H.1's two forms of the time grid disagree, and the first leaves (0, 1).

    Printed (Buchanan et al., App. H.1): ``t_l = 0.01 + 0.998(L - l)/L = 0.999 - 0.998 l/L in
    (0, 1)``. The two sides differ by 0.009 at every ``l``, and the left one gives
    ``t_0 = 1.008 > 1``. Correction: ``0.001 + 0.998(L - l)/L``, which is the right-hand side and
    :meth:`VPTrig.time_grid` (``np.linspace(0.001, 0.999, 26)[::-1]``).
    ``printed`` is the left form's ``t_0``, ``actual`` the grid's ``t_0``.

    >>> ce = time_grid_h1_formula()
    >>> round(ce.printed, 6), round(ce.actual, 6), ce.printed_fails, ce.corrected_holds
    (1.008, 0.999, True, True)
    >>> round(ce.details["max_gap_between_forms"], 6)
    0.009
    """
    L, ell, ref = _steps(L)
    left = 0.01 + 0.998 * (L - ell) / L
    right = 0.999 - 0.998 * ell / L
    corrected = 0.001 + 0.998 * (L - ell) / L
    gap = float(np.max(np.abs(left - right)))
    fails = gap > 1e-12 or not bool(np.all((left > 0) & (left < 1)))
    holds = bool(np.allclose(corrected, right, rtol=0, atol=1e-12)) and bool(
        np.allclose(right, ref, rtol=0, atol=1e-12)
    )
    return Counterexample(
        "paper000.time_grid_h1_formula",
        float(left[0]),
        float(ref[0]),
        fails,
        holds,
        {"L": L},
        {"max_gap_between_forms": gap, "left_max": float(left.max())},
        "H.1's left form 0.01 + 0.998(L-l)/L is not its right form 0.999 - 0.998 l/L",
    )


def time_grid_h1_count(L: int = _GRID_L) -> Counterexample:
    """App. H.1 calls the grid "L = 25 decreasing timesteps"; l = 0..L gives L + 1 = 26.

    Printed (Buchanan et al., App. H.1): "we use L = 25 decreasing timesteps t_l". Sec. 4
    discretizes [eps, 1 - eps] "into L + 1 timesteps (t_l)_{l=0}^L". Correction: 26 points,
    the length of :meth:`VPTrig.time_grid`. ``printed`` = 25, ``actual`` = the grid's length.

    >>> ce = time_grid_h1_count()
    >>> ce.printed, ce.actual, ce.printed_fails, ce.corrected_holds
    (25.0, 26.0, True, True)
    """
    L, ell, ref = _steps(L)
    n = float(ref.size)
    return Counterexample(
        "paper000.time_grid_h1_count",
        float(L),
        n,
        n != L,
        n == L + 1 and ell.size == ref.size,
        {"L": L},
        note="the grid (t_l)_{l=0}^L has L + 1 points",
    )


def time_grid_h2(L: int = _GRID_L) -> Counterexample:
    """App. H.2's "increasing timesteps t_l = 0.999 - l/L" decrease and end below zero.

    Printed (Buchanan et al., App. H.2): "we use increasing timesteps t_l = 0.999 - l/L for
    L = 25 and l in {0, ..., L}". These decrease and ``t_L = -0.001 < 0`` is outside [0, 1].
    Correction: decreasing ``t_l = 0.999 - 0.998 l/L`` (the training grid,
    :meth:`VPTrig.time_grid`).
    ``printed`` is the printed ``t_L``, ``actual`` the grid's ``t_L``.

    >>> ce = time_grid_h2()
    >>> round(ce.printed, 6), round(ce.actual, 6), ce.printed_fails, ce.corrected_holds
    (-0.001, 0.001, True, True)
    """
    L, ell, ref = _steps(L)
    printed = 0.999 - ell / L
    increasing = bool(np.all(np.diff(printed) > 0))
    fails = (not increasing) or bool(printed.min() < 0)
    corrected = 0.999 - 0.998 * ell / L
    holds = (
        bool(np.allclose(corrected, ref, rtol=0, atol=1e-12))
        and bool(np.all(np.diff(ref) < 0))
        and bool(np.all((ref > 0) & (ref < 1)))
    )
    return Counterexample(
        "paper000.time_grid_h2",
        float(printed[-1]),
        float(ref[-1]),
        fails,
        holds,
        {"L": L},
        {"printed_is_increasing": float(increasing)},
        "printed grid decreases and ends at -0.001",
    )


def snr_quoted_time(t_quoted: float = 0.3, psi_quoted: float = 6.704) -> Counterexample:
    """Figs. 2/5 quote "t ~ 0.3 with SNR psi_t ~ 6.704"; psi(0.3) = 10.11, psi = 6.704 at t_16.

    Printed (Buchanan et al., captions of Figs. 2 and 5): "a representative t ~ 0.3 with SNR
    psi_t ~ 6.704". For the VP schedule psi_t = (1 - t^2)/t^2, so psi(0.3) = 10.111 (51% off),
    while psi = 6.704 belongs to t = (1 + psi)^{-1/2} = 0.36028 = t_16 of the 26-point grid.
    Correction: t = t_16 = 0.36028. ``printed`` = 6.704, ``actual`` = psi(0.3).

    >>> ce = snr_quoted_time()
    >>> round(ce.actual, 4), round(ce.details["t_of_psi"], 5), round(ce.details["psi_t16"], 5)
    (10.1111, 0.36028, 6.70406)
    >>> ce.printed_fails, ce.corrected_holds
    (True, True)
    """
    t_quoted = check_scalar(t_quoted, "t_quoted", low=0.0, high=1.0, low_open=True, high_open=True)
    psi_quoted = check_scalar(psi_quoted, "psi_quoted", low=0.0, low_open=True)
    sched = VPTrig()
    psi_at_t = float(sched.snr(t_quoted))
    t_of_psi = float(sched.inverse_snr(psi_quoted))
    grid = sched.time_grid()
    idx = int(np.argmin(np.abs(grid - t_of_psi)))
    psi_grid = float(sched.snr(grid[idx]))
    with np.errstate(over="ignore"):
        rel = abs(psi_at_t - psi_quoted) / np.float64(psi_quoted)
    rel = float(finite_result(rel, "the relative error"))
    return Counterexample(
        "paper000.snr_quoted_time",
        psi_quoted,
        psi_at_t,
        rel > 0.05,
        abs(psi_grid - psi_quoted) / psi_quoted < 1e-3,
        {"t_quoted": t_quoted, "psi_quoted": psi_quoted},
        {
            "relative_error": rel,
            "t_of_psi": t_of_psi,
            "grid_index": float(idx),
            "psi_t16": psi_grid,
        },
        f"psi({t_quoted}) = {psi_at_t:.4f}; psi = {psi_quoted} is t_{idx} = {grid[idx]:.5f}",
    )


# ----------------------------------------------------------------------------------------------
# the proof of Thm C.1, the constant of Lemma C.2 as quoted in App. E
# ----------------------------------------------------------------------------------------------


def _chi2_two_sided_exact(p: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """Exact P(|X - p| >= eps p) for X ~ chi^2(p)."""
    return stats.chi2.sf((1 + eps) * p, p) + stats.chi2.cdf((1 - eps) * p, p)


def chi2_proof_step(
    x: float = 0.5,
    p_values: tuple[int, ...] = (1, 2, 3, 5, 10, 20, 50, 100, 200, 500),
    n_eps: int = 100,
) -> Counterexample:
    """The proof of Thm C.1 uses log(1 + x) - x <= -x^2/2 + x^3/6, false on all of (0, 1].

    Printed (Buchanan et al., App. C, proof of Thm C.1): "for any x in [0, 1] ... log(1 + x) - x
    <= -x^2/2 + x^3/6. Hence ... log(1 - x) + x <= -x^2/8 and log(1 + x) - x <= -x^2/8 which
    concludes the proof of (19)". The Taylor series gives x^3/3, not x^3/6: at x = 0.5 the left
    side is -0.094535 and the right side -0.104167. And the "-x^2/8" route would only give the
    exponent p eps^2/16 in (19). Correction: log(1 + x) - x <= -x^2/2 + x^3/3, and (19) holds with
    p eps^2/8 because eps - log(1 + eps) >= eps^2/4 on [0, 1] (the minimum of
    (eps - log(1 + eps))/eps^2 there is 1 - log 2 = 0.307). ``corrected_holds`` also requires the
    exact chi-square two-sided tail to stay below (19) on the grid ``p_values`` x ``n_eps`` values
    of eps in (0, 1]. ``printed`` / ``actual`` are the printed right side and the true left side.

    >>> ce = chi2_proof_step()
    >>> round(ce.actual, 6), round(ce.printed, 6), ce.printed_fails, ce.corrected_holds
    (-0.094535, -0.104167, True, True)
    >>> round(ce.details["min_rate_over_eps2"], 4), ce.details["max_tail_over_bound"] < 1
    (0.3069, True)
    """
    x = check_scalar(x, "x", low=0.0, high=1.0, low_open=True)
    n_eps = check_int(n_eps, "n_eps", low=1)
    ps = np.array([check_int(p, "p_values[i]", low=1) for p in p_values], dtype=float)
    lhs = math.log1p(x) - x
    rhs = -(x**2) / 2 + x**3 / 6
    grid = np.linspace(0.0, 1.0, 1001)[1:]
    fails_everywhere = bool(np.all(np.log1p(grid) - grid > -(grid**2) / 2 + grid**3 / 6))
    corrected_ok = bool(np.all(np.log1p(grid) - grid <= -(grid**2) / 2 + grid**3 / 3 + 1e-15))
    rate = (grid - np.log1p(grid)) / grid**2
    eps = np.linspace(0.0, 1.0, n_eps + 1)[1:]
    P, E = np.meshgrid(ps, eps, indexing="ij")
    exact = _chi2_two_sided_exact(P, E)
    bound = np.asarray(chi2_two_sided_bound(P, E), dtype=float)
    ratio = float(np.max(exact / bound))
    return Counterexample(
        "paper000.chi2_proof_step",
        rhs,
        lhs,
        lhs > rhs,
        corrected_ok and float(rate.min()) >= 0.25 and ratio <= 1.0,
        {"x": x},
        {
            "fails_on_all_of_(0,1]": float(fails_everywhere),
            "min_rate_over_eps2": float(rate.min()),
            "max_tail_over_bound": ratio,
            "proof_route_exponent_divisor": 16.0,
        },
        "the printed cubic term x^3/6 should be x^3/3; (19) itself holds",
    )


#: Largest |mu| / sqrt(d) scanned: |mu|^2 + d and the noncentral chi-square stay in range.
_MEAN_RATIO_MAX = 1e100


def lemma_c2_quoted_constant_scan(
    d_values: tuple[int, ...] = (9, 10, 15, 20, 30, 50, 100, 200, 500, 1000),
    n_eps: int = 25,
    mean_ratios: tuple[float, ...] = (0.0, 0.1, 0.3, 0.5, 1.0, 3.0, 10.0, 100.0),
) -> Counterexample:
    """Search for a counterexample to Lemma C.2 with the constant 3 that Lemmas E.1/E.5/E.6 quote.

    Lemma C.2 (Buchanan et al., App. C): for g ~ N(mu, s^2 I_d) and 0 <= eps <= 1,
    P[| |g|^2 - (|mu|^2 + s^2 d) | >= eps s sqrt(d) (s sqrt(d) + |mu|)] <= 4 exp[-d eps^2/8];
    Lemmas E.1, E.5 and E.6 quote it with 3 instead of 4
    (a misquote). The exact probability
    (|g|^2/s^2 is noncentral chi-square with d degrees of freedom and noncentrality |mu|^2/s^2; it
    does not depend on s) is evaluated on a grid of d, eps and |mu| = m sqrt(d), where the quoted
    bound is below 1. No counterexample exists there: ``actual`` is the largest ratio
    exact / (3 exp[-d eps^2/8]), far below 1 (so even the constant 1 would do); the misquote is
    harmless (``printed_fails`` is False). ``printed`` is 1 (the ratio the quote
    needs to stay below). ``0 <= mean_ratios[i] <= 1e100``.

    >>> ce = lemma_c2_quoted_constant_scan()
    >>> ce.printed_fails, ce.actual < 0.2
    (False, True)
    """
    n_eps = check_int(n_eps, "n_eps", low=1)
    check_allocation(n_eps + 1, f"n_eps = {n_eps} values of eps")
    worst, arg = 0.0, (0.0, 0.0, 0.0)
    for d in d_values:
        d = check_int(d, "d_values[i]", low=1)
        eps = np.linspace(0.0, 1.0, n_eps + 1)[1:]
        for m in mean_ratios:
            m = check_scalar(m, "mean_ratios[i]", low=0.0, high=_MEAN_RATIO_MAX)
            mu = m * math.sqrt(d)
            thr = eps * math.sqrt(d) * (math.sqrt(d) + mu)
            centre = mu**2 + d
            if mu == 0.0:
                prob = stats.chi2.sf(centre + thr, d) + stats.chi2.cdf(centre - thr, d)
            else:
                nc = mu**2
                prob = stats.ncx2.sf(centre + thr, d, nc) + stats.ncx2.cdf(centre - thr, d, nc)
            bound = 3.0 * np.exp(-d * eps**2 / 8)
            ratio = np.where(bound < 1.0, prob / bound, 0.0)
            k = int(np.argmax(ratio))
            if ratio[k] > worst:
                worst, arg = float(ratio[k]), (float(d), float(eps[k]), float(m))
    return Counterexample(
        "paper000.lemma_c2_quoted_constant",
        1.0,
        worst,
        worst > 1.0,
        True,
        {"n_eps": n_eps},
        {"worst_d": arg[0], "worst_eps": arg[1], "worst_mean_ratio": arg[2]},
        "no counterexample: the exact tail is below 3 exp[-d eps^2/8] on the whole grid",
    )


# ----------------------------------------------------------------------------------------------
# Prop. C.3
# ----------------------------------------------------------------------------------------------


def prop_c3_missing_variance(
    d: int = 1000,
    n: int = 5,
    eps: float = 0.1,
    var_star: float = 0.25,
    n_trials: int = 2000,
    seed: int | np.random.Generator = 0,
) -> Counterexample:
    """Prop. C.3's printed lower bound d(1 - 3 eps) drops sigma_*^2 and fails for sigma_*^2 < 1.

    Printed (Buchanan et al., App. C, Prop. C.3 and the last line of its proof): for
    g^1..g^n iid N(0, sigma_*^2 I_d) and positive weights w, with probability at least
    1 - 6n exp[-d eps^2/2], ``|sum_{j<n} softmax(w)_j g^j - g^n|^2 >= d(1 - 3 eps)``. Correction:
    ``>= d sigma_*^2 (1 - 3 eps)`` (as in the statement's display). Monte Carlo with weights
    independent of the points (softmax of iid N(0, 1) logits): the printed event fails in
    essentially every trial, far above the stated failure probability (``printed``), while the
    corrected two-sided event ``[d s^2 (1 - 3 eps), 2 d s^2 (1 + 3 eps)]`` fails in none.
    ``actual`` is the empirical failure frequency of the printed lower bound.

    >>> ce = prop_c3_missing_variance(n_trials=400)
    >>> round(ce.printed, 4), ce.actual, ce.printed_fails, ce.corrected_holds
    (0.2021, 1.0, True, True)
    """
    d = check_int(d, "d", low=1)
    n = check_int(n, "n", low=2)
    eps = check_scalar(eps, "eps", low=0.0, high=1.0, low_open=True, high_open=True)
    var_star = check_scalar(var_star, "var_star", low=0.0, low_open=True)
    n_trials = check_int(n_trials, "n_trials", low=1)
    check_allocation(n_trials * n * (d + 1), f"{n_trials} trials of {n} points in d = {d}")
    rng = as_rng(seed, "seed")
    printed = prop_c_3_bounds(d, n, eps, var_star=var_star, printed=True)
    corrected = prop_c_3_bounds(d, n, eps, var_star=var_star, printed=False)
    logits = rng.standard_normal((n_trials, n - 1))
    w = special.softmax(logits, axis=1)
    g = math.sqrt(var_star) * rng.standard_normal((n_trials, n, d))
    value = np.sum((np.einsum("bj,bjd->bd", w, g[:, :-1]) - g[:, -1]) ** 2, axis=1)
    printed_fail = float(np.mean(value < printed.lower))
    corrected_fail = float(np.mean((value < corrected.lower) | (value > corrected.upper)))
    p_bound = float(printed.failure_probability)
    se = math.sqrt(max(p_bound * (1 - p_bound), 1e-12) / n_trials)
    return Counterexample(
        "paper000.prop_c3_variance",
        p_bound,
        printed_fail,
        printed_fail > p_bound + 4 * se,
        corrected_fail <= p_bound,
        {"d": d, "n": n, "eps": eps, "var_star": var_star, "n_trials": n_trials},
        {
            "printed_lower": float(printed.lower),
            "corrected_lower": float(corrected.lower),
            "corrected_upper": float(corrected.upper),
            "median_value": float(np.median(value)),
            "corrected_failure_frequency": corrected_fail,
        },
        "printed lower bound d(1 - 3 eps) exceeds the typical value d s^2 (1 + sum w^2)",
    )


def prop_c3_failure_scan(
    d_values: tuple[int, ...] = (5, 10, 20, 50, 100, 200, 500, 1000, 5000),
    n_values: tuple[int, ...] = (2, 3, 5, 10, 100),
    n_eps: int = 99,
    n_weights: int = 20,
) -> Counterexample:
    """Search for a counterexample to Prop. C.3's failure probability 6n exp[-d eps^2/2].

    Printed (Buchanan et al., App. C, Prop. C.3): the two-sided event
    ``d s^2 (1 - 3 eps) <= |sum_j softmax(w)_j g^j - g^n|^2 <= 2 d s^2 (1 + 3 eps)`` (with the
    sigma_*^2 restored) fails with probability at most 6n exp[-d eps^2/2]; the proof only yields
    exp[-d eps^2/8]. For weights independent of the points the quantity is exactly
    ``s^2 c chi^2_d`` with ``c = 1 + sum_j softmax(w)_j^2 in [1 + 1/(n - 1), 2]``, so the failure
    probability is a chi-square tail. Scanning d, n, eps in (0, 1) and c (where the printed bound
    is below 1) finds no counterexample: ``actual`` is the largest ratio exact / bound, tiny.
    ``printed_fails`` is False (the misprint is in the proof, not a false statement here).

    >>> ce = prop_c3_failure_scan()
    >>> ce.printed_fails, ce.actual < 1e-3
    (False, True)
    """
    n_eps = check_int(n_eps, "n_eps", low=1)
    n_weights = check_int(n_weights, "n_weights", low=1)
    check_allocation(n_eps + 2 + n_weights, f"n_eps = {n_eps} and n_weights = {n_weights}")
    eps = np.linspace(0.0, 1.0, n_eps + 2)[1:-1]
    worst, arg = 0.0, (0.0, 0.0, 0.0, 0.0)
    for d in d_values:
        d = check_int(d, "d_values[i]", low=1)
        for n in n_values:
            n = check_int(n, "n_values[i]", low=2)
            log_bound = math.log(6 * n) - d * eps**2 / 2
            live = log_bound < 0
            if not np.any(live):
                continue
            e, log_b = eps[live], log_bound[live]
            cs = np.linspace(1 + 1 / (n - 1), 2.0, n_weights) if n > 2 else np.array([2.0])
            for c in cs:
                log_up = stats.chi2.logsf(2 * d * (1 + 3 * e) / c, d)
                lower_live = e < 1 / 3
                log_low = np.full_like(e, -np.inf)
                log_low[lower_live] = stats.chi2.logcdf(d * (1 - 3 * e[lower_live]) / c, d)
                ratio = np.exp(np.logaddexp(log_low, log_up) - log_b)
                k = int(np.argmax(ratio))
                if ratio[k] > worst:
                    worst, arg = float(ratio[k]), (float(d), float(n), float(e[k]), float(c))
    return Counterexample(
        "paper000.prop_c3_failure_probability",
        1.0,
        worst,
        worst > 1.0,
        True,
        {"n_eps": n_eps, "n_weights": n_weights},
        {"worst_d": arg[0], "worst_n": arg[1], "worst_eps": arg[2], "worst_c": arg[3]},
        "no counterexample for independent weights",
    )


# ----------------------------------------------------------------------------------------------
# Prop. C.4
# ----------------------------------------------------------------------------------------------


def coupon_counterexample(K: int = 12, d: int = 5) -> Counterexample:
    """Prop. C.4's coupon-collector bound is false: K = 12, d = 5 gives 0.893773 < 0.908371.

    Printed (Buchanan et al., App. C.2, Prop. C.4): with l >= (1 + log d) K log K uniform labels
    on [K], P[every label appears at least twice] >= 1 - K^{-log d}(1 + log K log d). At the
    smallest allowed l = ceil((1 + log d) K log K) the exact probability (EGF dynamic program,
    :func:`~diffmem_theory.crossover.concentration.coupon_probability_exact`) is below the printed
    bound for (K, d) = (12, 5), (5, 3), (20, 10), among others. Correction: the union bound
    1 - K(1 - 1/K)^l (1 + l/(K - 1))
    (:func:`~diffmem_theory.crossover.concentration.coupon_bound`),
    which holds. ``printed`` is the printed bound, ``actual`` the exact probability.

    >>> ce = coupon_counterexample()
    >>> ce.params["l"], round(ce.actual, 6), round(ce.printed, 6)
    (78, 0.893773, 0.908371)
    >>> ce.printed_fails, ce.corrected_holds
    (True, True)
    """
    K = check_int(K, "K", low=2)
    d = check_int(d, "d", low=2)
    l = int(coupon_min_draws(K, d))
    exact = float(coupon_probability_exact(K, l))
    printed = float(coupon_bound(K, d, printed=True))
    rigorous = float(coupon_bound(K, d, l))
    return Counterexample(
        "paper000.coupon_c4",
        printed,
        exact,
        printed > exact,
        rigorous <= exact,
        {"K": K, "d": d, "l": l},
        {"rigorous_bound": rigorous, "gap": printed - exact},
        f"exact P[A] = {exact:.6f} < printed bound {printed:.6f} at l = {l}",
    )


def coupon_violations(
    K_values: tuple[int, ...] = tuple(range(2, 21)), d_values: tuple[int, ...] = tuple(range(2, 11))
) -> list[tuple[int, int, int, float, float]]:
    """All (K, d) of a grid where Prop. C.4's printed bound exceeds the exact probability.

    Returns ``(K, d, l, exact, printed)`` rows at ``l = ceil((1 + log d) K log K)``; see
    :func:`coupon_counterexample`. Small d is where the statement fails.

    >>> [(K, d, l) for K, d, l, *_ in coupon_violations((12,), (3, 5, 10, 30))]
    [(12, 3, 63), (12, 5, 78)]
    """
    rows = []
    for K in K_values:
        for d in d_values:
            ce = coupon_counterexample(K, d)
            if ce.printed_fails:
                rows.append((int(K), int(d), int(ce.params["l"]), ce.actual, ce.printed))
    return rows


# ----------------------------------------------------------------------------------------------
# Lemma E.1, Lemma E.6 (ii)
# ----------------------------------------------------------------------------------------------


def lemma_e1_coupling(
    d: int = 400,
    gamma: float | None = None,
    t: float = 0.36028,
    var_star: float = 1.0,
    K: int = 2,
    eps: float | None = None,
) -> Counterexample:
    """Lemma E.1's printed coupling condition does not support its proof (the lemma still holds).

    Printed (Buchanan et al., App. E, Lemma E.1): for 0 <= eps <= 1 with
    ``eps <= alpha_t gamma / (4 sqrt(d V))``, ``V = alpha_t^2 sigma_*^2 + sigma_t^2``, with
    probability >= 1 - 4K exp[-d eps^2/8] the gap ``min_{k != k_i} |alpha mu^k - x|^2 -
    |alpha mu^{k_i} - x|^2`` is >= gamma^2 alpha^2/2. The proof bounds the gap on its event by
    ``alpha^2 gamma^2 - eps (2 d V + alpha sqrt(d V) gamma)`` and needs this >= alpha^2 gamma^2/2,
    which requires ``sqrt(eps) <= alpha_t gamma / (4 sqrt(d V))``. With the printed condition at
    equality (default ``eps``) the proof's bound is below gamma^2 alpha^2/2 (``actual`` vs
    ``printed``): the proof step fails. The conclusion is nevertheless true: the gap is exactly
    ``alpha^2 |D|^2 - 2 alpha sqrt(V) |D| Z`` per competitor, so the failure probability is at
    most ``(K - 1) Q(alpha gamma / (4 sqrt V))``, which is below 4K exp[-d eps^2/8] whenever
    ``d eps^2 <= (alpha gamma / (4 sqrt V))^2`` (the printed condition). ``corrected_holds`` says
    the proof's bound reaches gamma^2 alpha^2/2 at the corrected eps and that the exact failure
    bound is below the stated one. Defaults: d = 400, gamma = sqrt(2d) (two orthogonal means of
    norm sqrt d), t = t_16 (V = 1 for sigma_*^2 = 1).

    >>> ce = lemma_e1_coupling()
    >>> round(ce.printed, 2), round(ce.actual, 2), ce.printed_fails, ce.corrected_holds
    (348.08, 258.27, True, True)
    >>> ce.details["exact_failure_bound"] < 1e-9 < ce.details["stated_failure"] < 0.05
    True
    """
    d = check_int(d, "d", low=1)
    K = check_int(K, "K", low=2)
    t = check_scalar(t, "t", low=0.0, high=1.0, low_open=True, high_open=True)
    var_star = check_scalar(var_star, "var_star", low=0.0, low_open=True)
    gamma = math.sqrt(2 * d) if gamma is None else check_scalar(gamma, "gamma", low=0.0)
    sched = VPTrig()
    a, s2 = float(sched.alpha(t)), float(sched.sigma2(t))
    V = a * a * var_star + s2
    r = a * gamma / (4 * math.sqrt(d * V))
    eps = min(r, 1.0) if eps is None else check_scalar(eps, "eps", low=0.0, high=1.0)
    ok_printed = bool(
        coupling_conditions(t, eps, d, gamma, var_star, sched, lemma="E.1", printed=True)
    )
    ok_corrected = bool(
        coupling_conditions(t, eps, d, gamma, var_star, sched, lemma="E.1", printed=False)
    )
    eps_corr = min(eps, r * r)

    def proof_bound(e: float) -> float:
        value = a * a * gamma * gamma - e * (2 * d * V + a * math.sqrt(d * V) * gamma)
        return float(finite_result(value, "the proof's gap bound"))

    target = float(finite_result(a * a * gamma * gamma / 2, "gamma^2 alpha^2 / 2"))
    exact_fail = float(gap_means_failure_exact(t, K, gamma, var_star, sched))
    stated_fail = 4 * K * math.exp(-d * eps**2 / 8)
    return Counterexample(
        "paper000.lemma_e1_coupling",
        target,
        proof_bound(eps),
        ok_printed and not ok_corrected and proof_bound(eps) < target,
        proof_bound(eps_corr) >= target and exact_fail <= stated_fail,
        {"d": d, "gamma": gamma, "t": t, "var_star": var_star, "K": K, "eps": eps},
        {
            "printed_condition_holds": float(ok_printed),
            "corrected_condition_holds": float(ok_corrected),
            "corrected_eps": eps_corr,
            "proof_bound_at_corrected_eps": proof_bound(eps_corr),
            "exact_failure_bound": exact_fail,
            "stated_failure": stated_fail,
        },
        "the proof's gap bound falls below gamma^2 alpha^2/2; the lemma's conclusion still holds",
    )


def lemma_e6_exponent(
    d: int = 200,
    N: int = 20,
    ell: int = 10,
    t: float = 0.3,
    eps: float = 0.69,
    n_trials: int = 2000,
    seed: int | np.random.Generator = 0,
) -> Counterexample:
    """Lemma E.6 (ii) fails: its event is violated far more often than its failure probability.

    Printed (Buchanan et al., App. E, Lemma E.6 (ii)): for i not among the l memorized points,
    with probability >= 1 - 8N exp[-d eps^2/8] - K^{-log d}(1 + log K log d), S_i (memorized
    points of x^i's cluster) is non-empty and
    ``|xbar_pmem(x_t^i, t) - sum_{j in S_i} softmax(w|S_i)_j x^j| <= Gamma_*(1 + N)^2
    exp[-alpha_t^2 gamma^2/(2 sigma_t^2)]``. Monte Carlo with K = 2 antipodal means +-sqrt(d) e_1
    (gamma = 2 sqrt d, sigma_*^2 = 1) at parameters that satisfy both coupling conditions: the
    event fails in about 2/3 of the draws (``actual``) against the stated 0.12 (``printed``). The
    logit gap between the nearest out-of-cluster and in-cluster memorized points fluctuates by
    O(alpha^2 gamma / sigma^2) around alpha^2 gamma^2/(2 sigma^2), so the exponent cannot hold
    with high probability. Correction: exponent alpha^2 gamma^2/(4 sigma^2), whose
    failure frequency (``details``) is below the stated probability. The printed bound and
    probability come from :func:`~diffmem_theory.crossover.concentration.lemma_e_6`
    (``printed=True``, which
    also evaluates the coupling conditions); the comparison is made in the log domain.

    >>> ce = lemma_e6_exponent(n_trials=500)
    >>> round(ce.printed, 3), round(ce.actual, 2), ce.printed_fails, ce.corrected_holds
    (0.12, 0.66, True, True)
    """
    d = check_int(d, "d", low=1)
    N = check_int(N, "N", low=2)
    ell = check_int(ell, "ell", low=1, high=N - 1)
    t = check_scalar(t, "t", low=0.0, high=1.0, low_open=True, high_open=True)
    eps = check_scalar(eps, "eps", low=0.0, high=1.0, high_open=True)
    n_trials = check_int(n_trials, "n_trials", low=1)
    rng = as_rng(seed, "seed")
    sched = VPTrig()
    a, s = float(sched.alpha(t)), float(sched.sigma(t))
    if s * s < 1e-150:
        raise ValueError(
            f"t = {t!r} is too small for this Monte Carlo: the logits |.|^2/sigma_t^2 overflow"
        )
    check_allocation(n_trials * (ell + 2) * d, f"{n_trials} trials of {ell + 1} points in d = {d}")
    K, var_star = 2, 1.0
    mu = np.zeros((K, d))
    mu[0, 0], mu[1, 0] = math.sqrt(d), -math.sqrt(d)
    gamma = 2 * math.sqrt(d)
    printed = lemma_e_6(
        t,
        eps,
        d,
        N,
        K,
        gamma,
        Gamma=math.sqrt(d),
        var_star=var_star,
        schedule=sched,
        M=ell,
        printed=True,
    )
    conditions = bool(printed.conditions_hold)
    log_rhs = float(printed.log_value)
    log_rhs_corr = log_rhs + a * a * gamma**2 / (4 * s * s)  # same prefactor, exponent /4
    stated = float(printed.failure_probability)

    labels = rng.integers(0, K, (n_trials, ell + 1))
    X = mu[labels] + math.sqrt(var_star) * rng.standard_normal((n_trials, ell + 1, d))
    xt = a * X[:, -1] + s * rng.standard_normal((n_trials, d))
    Xm = X[:, :-1]
    logits = -np.sum((a * Xm - xt[:, None, :]) ** 2, axis=2) / (2 * s * s)
    in_s = labels[:, :-1] == labels[:, -1:]
    n_in = in_s.sum(1)
    mixed = (n_in > 0) & (n_in < ell)
    lhs = np.full(n_trials, -np.inf)
    if np.any(mixed):
        lg, ins, xm = logits[mixed], in_s[mixed], Xm[mixed]
        lin = np.where(ins, lg, -np.inf)
        lout = np.where(ins, -np.inf, lg)
        top_in, top_out = lin.max(1, keepdims=True), lout.max(1, keepdims=True)
        e_in, e_out = np.exp(lin - top_in), np.exp(lout - top_out)
        z_in, z_out = e_in.sum(1), e_out.sum(1)
        avg_in = np.einsum("bj,bjd->bd", e_in / z_in[:, None], xm)
        avg_out = np.einsum("bj,bjd->bd", e_out / z_out[:, None], xm)
        log_z_in = top_in[:, 0] + np.log(z_in)
        log_z_out = top_out[:, 0] + np.log(z_out)
        log_p_out = log_z_out - np.logaddexp(log_z_in, log_z_out)
        lhs[mixed] = log_p_out + np.log(np.linalg.norm(avg_out - avg_in, axis=1))
    empty = n_in == 0
    fail = float(np.mean(empty | (lhs > log_rhs)))
    fail_corr = float(np.mean(empty | (lhs > log_rhs_corr)))
    se = math.sqrt(max(stated * (1 - stated), 1e-12) / n_trials)
    return Counterexample(
        "paper000.lemma_e6_exponent",
        stated,
        fail,
        conditions and stated < 1 and fail > stated + 4 * se,
        fail_corr <= stated,
        {
            "d": d,
            "N": N,
            "ell": ell,
            "t": t,
            "eps": eps,
            "K": K,
            "gamma": gamma,
            "n_trials": n_trials,
        },
        {
            "log_bound": log_rhs,
            "median_log_lhs": float(np.median(lhs[mixed])) if np.any(mixed) else -math.inf,
            "corrected_failure_frequency": fail_corr,
            "coupling_conditions_hold": float(conditions),
        },
        "failure frequency of the printed event vs its stated failure probability",
    )


# ----------------------------------------------------------------------------------------------
# Prop. F.2, the H.3 temperature, the H.4 log-det of the authors' code
# ----------------------------------------------------------------------------------------------


def prop_f2_condition(d: float = 1000.0, c: float = 1.0) -> Counterexample:
    """Prop. F.2's proof assumes "d large enough so that 1 - eps <= 1/2": false for all large d.

    Printed (Buchanan et al., App. F, proof of Prop. F.2): with eps = Theta(log d / sqrt d),
    "if we assume that d is large enough so that 1 - eps <= 1/2". Since eps -> 0, 1 - eps -> 1 and
    the assumption fails for every d beyond a finite threshold (d > 74.19 for eps = log d/sqrt d);
    the proof needs 1 - eps >= 1/2 (to bound exp[-alpha^2 sigma_*^2 (1 - eps) d/(2 sigma^2)] by
    exp[-psi sigma_*^2 d/4]), which does hold for all large d. Correction: 1 - eps >= 1/2.
    ``eps = c log d / sqrt d``; ``printed`` = 1/2 (the printed upper bound on 1 - eps), ``actual``
    = 1 - eps; ``details["d_max_printed"]`` is the largest d where the printed one holds
    (1.0, the lower end of d > 1, when it holds for no d).

    >>> ce = prop_f2_condition()
    >>> round(ce.actual, 4), ce.printed_fails, ce.corrected_holds
    (0.7816, True, True)
    >>> round(ce.details["d_max_printed"], 2)
    74.19
    """
    d = check_scalar(d, "d", low=1.0, low_open=True)
    c = check_scalar(c, "c", low=0.0, low_open=True)

    def eps_of(x: float) -> float:
        return c * math.log(x) / math.sqrt(x)

    eps = eps_of(d)
    peak = math.exp(2.0)  # log x / sqrt x is maximal at x = e^2
    if eps_of(peak) < 0.5:
        d_max = 1.0  # the printed assumption holds for no d > 1
    else:
        hi = peak
        while eps_of(hi) >= 0.5:
            hi *= 2
        d_max = float(optimize.brentq(lambda x: eps_of(x) - 0.5, peak, hi, xtol=1e-12))
    return Counterexample(
        "paper000.prop_f2_direction",
        0.5,
        1 - eps,
        1 - eps > 0.5,
        1 - eps >= 0.5,
        {"d": d, "c": c},
        {"eps": eps, "d_max_printed": d_max},
        "1 - eps -> 1 as d grows, so '1 - eps <= 1/2' fails for all large d",
    )


def _entropy(logits: np.ndarray) -> float:
    p = special.softmax(logits)
    return float(-np.sum(special.xlogy(p, p)))


def regression_temperature(tau: float = 1 / 20, N: int = 200, C: float = 2.0) -> Counterexample:
    """App. H.3's "high temperature tau = 1/20" is a low temperature: the softmax gets sharper.

    Printed (Buchanan et al., App. H.3): the distribution over M is a "temperature-weighted
    softmax with high temperature tau = 1/20" of ``-(1/tau) (sum_l lambda(t_l) Delta_l(M))^2``.
    Dividing the logits by tau = 1/20 multiplies them by 20, so the softmax is *sharper* than at
    tau = 1: lower entropy. Example: the normalized approximate loss difference with uniform
    lambda on the 26-point grid, ``Delta(M) = C (1 - M/N) - mean_l t_l^2`` (Thms 3.1/3.2, per
    d sigma_*^2 with sigma_*^2 = 1), on the baseline grid M = N/10, ..., N. ``printed`` is the
    entropy at tau = 1 (a "high" temperature must not lower it), ``actual`` the entropy at tau;
    ``printed_fails`` says the entropy at tau is below it. Correction: call tau = 1/20 a low
    temperature (entropy increases with tau, ``corrected_holds`` checks this on a grid).
    ``details["inverse_temperature"]`` is ``1/tau``: inf for a tau below 1/1.8e308, where the
    softmax is one-hot (entropy 0).

    >>> ce = regression_temperature()
    >>> round(ce.actual, 4) < round(ce.printed, 4), ce.printed_fails, ce.corrected_holds
    (True, True, True)
    """
    tau = check_scalar(tau, "tau", low=0.0, low_open=True)
    N = check_int(N, "N", low=10)
    C = check_scalar(C, "C", low=0.0, low_open=True)
    grid = VPTrig().time_grid()
    Ms = (N // 10) * np.arange(1, 11)
    delta = np.abs(C * (1 - Ms / N) - float(np.mean(grid**2)))
    # the logits -delta^2/tau shifted by their maximum (softmax is shift-invariant): <= 0, no
    # inf - inf; an overflow to -inf is a weight that rounds to 0
    low = float(delta.min())
    with np.errstate(over="ignore"):
        gaps = (delta - low) * (delta + low)

    def neg_logits(x: float) -> np.ndarray:
        with np.errstate(over="ignore"):
            return -gaps / x

    taus = np.geomspace(1e-2, 1e2, 41)
    entropies = np.array([_entropy(neg_logits(x)) for x in taus])
    h_tau, h_one = _entropy(neg_logits(tau)), _entropy(neg_logits(1.0))
    return Counterexample(
        "paper000.h3_temperature",
        h_one,
        h_tau,
        h_tau < h_one,
        bool(np.all(np.diff(entropies) >= -1e-12)),
        {"tau": tau, "N": N, "C": C},
        {"entropy_max": math.log(Ms.size), "inverse_temperature": 1 / tau},
        f"entropy {h_tau:.4f} at tau = {tau:g} vs {h_one:.4f} at tau = 1",
    )


def h4_code_logdet(
    t: float = 0.7,
    templates: np.ndarray | None = None,
    color_var: float = 1.0,
    n_colors: int = 3,
    n_queries: int = 32,
    seed: int | np.random.Generator = 0,
) -> Counterexample:
    """The authors' public code drops the factor c in the H.4 log-det (an erratum of the code).

    Buchanan et al., App. H.4 (correct): for Sigma_i = s^2 (I_c (x) x_i x_i^T) with x_i a template
    of p = d^2 pixels, ``log det(alpha^2 Sigma_i + sigma^2 I) = c (2 d^2 log sigma + log(1 +
    alpha^2 s^2 |x_i|^2 / sigma^2))``. The code (github.com/DruvPai/diffusion_mem_gen,
    ``colored_signal_template_x0``) computes ``2 c d^2 log sigma + log(1 + ...)``: the second term
    lacks c. Against ``numpy.linalg.slogdet`` of the dense covariance the paper's formula is exact
    and the code's is not; because the error depends on |x_i|, templates of different norms get
    different component weights (``details["max_weight_change"]``, the largest change of a
    component's posterior weight over ``n_queries`` queries drawn from the noised mixture).
    ``printed`` / ``actual`` are the code's and the dense log-det of the template with the
    largest error. Default: three 3x3 templates with norms scaled 0.5, 1, 2.

    >>> ce = h4_code_logdet()
    >>> ce.printed_fails, ce.corrected_holds, ce.details["max_weight_change"] > 0.01
    (True, True, True)
    """
    t = check_scalar(t, "t", low=0.0, high=1.0, low_open=True, high_open=True)
    color_var = check_scalar(color_var, "color_var", low=0.0, low_open=True)
    c = check_int(n_colors, "n_colors", low=2)
    n_queries = check_int(n_queries, "n_queries", low=1)
    rng = as_rng(seed, "seed")
    if templates is None:
        templates = rng.uniform(0.0, 1.0, (3, 3, 3)) * np.array([0.5, 1.0, 2.0])[:, None, None]
    tpl = np.asarray(templates, dtype=float)
    if tpl.ndim < 2 or not np.all(np.isfinite(tpl)):
        raise ValueError(f"templates must be a finite (K, h, w) or (K, p) array, got {tpl.shape}")
    flat = tpl.reshape(tpl.shape[0], -1)
    p = flat.shape[1]
    check_allocation(
        flat.shape[0] * (c * p) ** 2 + n_queries * c * p,
        f"{flat.shape[0]} dense {c * p}^2 covariances",
    )
    sched = VPTrig()
    a2, s2 = float(sched.alpha(t)) ** 2, float(sched.sigma2(t))
    norms2 = np.sum(flat**2, axis=1)
    log1 = np.log1p(a2 * color_var * norms2 / s2)
    paper = c * (p * math.log(s2) + log1)
    code = c * p * math.log(s2) + log1
    eye = np.eye(c)
    covs = [a2 * color_var * np.kron(eye, np.outer(x, x)) + s2 * np.eye(c * p) for x in flat]
    dense = np.array([np.linalg.slogdet(cov)[1] for cov in covs])
    # component weights at queries from the noised mixture (color means 0)
    k = rng.integers(flat.shape[0], size=n_queries)
    colors = math.sqrt(color_var) * rng.standard_normal((n_queries, c))
    x0 = (colors[:, :, None] * flat[k][:, None, :]).reshape(n_queries, -1)
    x = math.sqrt(a2) * x0 + math.sqrt(s2) * rng.standard_normal((n_queries, c * p))
    maha = np.stack([np.sum(x * np.linalg.solve(cov, x.T).T, axis=1) for cov in covs], axis=1)
    w_true = special.softmax(-0.5 * (dense + maha), axis=1)
    w_code = special.softmax(-0.5 * (code + maha), axis=1)
    err_code = code - dense
    worst = int(np.argmax(np.abs(err_code)))
    scale = max(1.0, float(np.max(np.abs(dense))))
    return Counterexample(
        "paper000.h4_code_logdet",
        float(code[worst]),
        float(dense[worst]),
        float(np.ptp(err_code)) > 1e-8 * scale,
        float(np.max(np.abs(paper - dense))) <= 1e-9 * scale,
        {"t": t, "color_var": color_var, "n_colors": c, "K": flat.shape[0], "pixels": p},
        {
            "max_abs_error_code": float(np.max(np.abs(err_code))),
            "max_abs_error_paper": float(np.max(np.abs(paper - dense))),
            "max_weight_change": float(np.max(np.abs(w_true - w_code))),
        },
        "erratum of the public code (missing factor c), not of the paper",
    )
