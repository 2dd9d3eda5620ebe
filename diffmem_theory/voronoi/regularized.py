r"""Samples of the regularized probability-flow ODE and their distance to the data (paper 002).

Baptista et al., Secs. 5.1-5.2: the Tikhonov-regularized score (5.7)-(5.8) and the
empirical-Bayes score (5.12) stop the reverse flow from collapsing onto the training points.
On the authors' 20 points and VE schedule (:mod:`diffmem_theory.voronoi.data`), samples are
the end points of the probability-flow ODE from ``x_T ~ N(0, sigma(1)^2 I)``, integrated with
the authors' RK45 tolerances (``rtol = atol = 1e-5``) by the package's Dormand-Prince
integrator in s-time. :data:`TIKHONOV_TABLE` and :data:`EB_TABLE` hold reference fractions of
samples within ``1e-2`` of the data, computed independently of this package: the same setup
integrated by SciPy's RK45 (``rtol = atol = 1e-5``, to t = 0 for Tikhonov and t = 1e-6 for
empirical Bayes), 1000 samples per ``c``, three seeds; each entry is the range over the seeds.

>>> x = regularized_samples("tikhonov", 1e-5, 200, 0)
>>> bool(memorization_fraction(x, SEED1_DATA, 1e-2) > 0.95)
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from diffmem_theory._validation import check_bool, check_choice, check_int
from diffmem_theory.core.metrics import memorization_fraction, nearest_distances
from diffmem_theory.voronoi.data import SCHEDULES, SEED1_DATA
from diffmem_theory.voronoi.dynamics import initial_states, reverse_ode

__all__ = [
    "EB_TABLE",
    "N_SAMPLES",
    "SCHED",
    "TABLE_SLACK",
    "TAU",
    "TIKHONOV_TABLE",
    "TOL",
    "regularization_sweep",
    "regularized_samples",
]

#: The VE schedule of the experiments (g = 10^{2t}, sigma(1) = 4.636548).
SCHED = SCHEDULES["VE"]
#: ``rtol = atol`` of the probability-flow ODE (the authors' RK45 tolerances).
TOL = 1e-5
#: Samples per value of ``c`` in the sweeps (the paper's sample size).
N_SAMPLES = 1000
#: Seed offsets of a sweep: one seed in quick mode, three (as for the tables) in full mode.
SEEDS = {True: (0,), False: (0, 1, 2)}
#: Absolute tolerance on the tables' ranges: the Monte Carlo spread of a fraction over 1000
#: samples (binomial standard error at most 0.016; 0.04 is 2.5 of them).
TABLE_SLACK = 0.04
#: The memorization radius of Figs. 5 and 7: a sample within ``TAU`` of a data point.
TAU = 1e-2


#: Fraction of Tikhonov samples within 1e-2 of the data (3 seeds, ranges) for each c (Fig. 5,
#: c in ``logspace(-1, -5, 9)`` as in the authors' code).
TIKHONOV_TABLE: dict[float, tuple[float, float]] = {
    1e-5: (0.994, 0.998),
    10**-4.5: (0.79, 0.79),
    1e-4: (0.38, 0.40),
    10**-3.5: (0.13, 0.16),
    1e-3: (0.04, 0.06),
    10**-2.5: (0.012, 0.018),
    1e-2: (0.002, 0.006),
    10**-1.5: (0.0, 0.002),
    1e-1: (0.0, 0.002),
}


#: Fraction within 1e-2 for each empirical-Bayes threshold c of (5.12) (Fig. 7, c in
#: ``logspace(-2, 1, 7)``).
EB_TABLE: dict[float, tuple[float, float]] = {
    1e-2: (0.988, 0.996),
    10**-1.5: (0.967, 0.972),
    1e-1: (0.896, 0.922),
    10**-0.5: (0.68, 0.70),
    1.0: (0.14, 0.17),
    10**0.5: (0.0, 0.005),
    10.0: (0.0, 0.001),
}


def regularized_samples(score: str, c: float, n: int, seed: int) -> np.ndarray:
    r"""End points of the regularized VE probability flow from ``n`` starts.

    Starts ``x_T ~ N(0, sigma(1)^2 I)`` (``seed``) on the authors' 20 points, integrated by
    :func:`diffmem_theory.voronoi.dynamics.reverse_ode` with ``rtol = atol = 1e-5``. The
    Tikhonov flow (5.7)-(5.8) ends at t = 0: its score is bounded there, and at sigma = 0 the
    softmax weights become the indicator of the nearest data point (their t -> 0 limit). The
    empirical-Bayes flow (5.12) ends at t = 1e-6, as in the authors' code.

    Parameters
    ----------
    score : {"tikhonov", "eb"}
        The regularized score: Tikhonov (5.7) or empirical Bayes (5.12).
    c : float
        Regularization constant, ``c >= 0``.
    n : int
        Number of samples, ``n >= 1``.
    seed : int
        Seed of the starts.

    Returns
    -------
    ndarray, shape (n, 2)
        The samples.

    Raises
    ------
    RuntimeError
        If the integrator fails.

    See Also
    --------
    regularization_sweep : the fractions near the data over a range of ``c``.
    diffmem_theory.voronoi.scores.tikhonov_score, diffmem_theory.voronoi.scores.eb_score :
        the scores.

    References
    ----------
    Baptista et al., Sec. 5.1 (Figs. 4-5) and Sec. 5.2 (Figs. 6-7).

    Examples
    --------
    >>> x = regularized_samples("tikhonov", 1e-5, 200, 0)
    >>> x.shape, bool(memorization_fraction(x, SEED1_DATA, 1e-2) > 0.95)
    ((200, 2), True)
    """
    score = check_choice(score, "score", ("tikhonov", "eb"))
    x_T = initial_states(SCHED, check_int(n, "n", low=1), 2, check_int(seed, "seed", low=0))
    t_end = 0.0 if score == "tikhonov" else 1e-6
    sol = reverse_ode(x_T, SEED1_DATA, SCHED, t_end, score=score, c=c, rtol=TOL, atol=TOL)
    if not sol.success:
        raise RuntimeError(f"integration failed: {set(sol.messages())}")
    return sol.final


def regularization_sweep(
    score: str, table: dict[float, tuple[float, float]], quick: bool, seed: int
) -> dict[str, Any]:
    r"""The fraction of regularized samples near the data for each ``c`` of a reference table.

    For each seed (``seed`` in quick mode; ``seed``, ``seed + 1``, ``seed + 2`` in full mode)
    and each ``c`` of ``table``, draws :data:`N_SAMPLES` samples with
    :func:`regularized_samples` and records the fraction within ``TAU = 1e-2`` and ``0.1`` of
    the data and the median nearest distance.

    Parameters
    ----------
    score : {"tikhonov", "eb"}
        The regularized score.
    table : dict of float to (float, float)
        Reference range of the fraction within ``TAU`` for each ``c``
        (:data:`TIKHONOV_TABLE`, :data:`EB_TABLE`).
    quick : bool
        One seed instead of three.
    seed : int
        The first seed.

    Returns
    -------
    dict
        ``score``; ``c`` (sorted); ``seeds``; ``fraction``, ``fraction_0.1`` and
        ``median_distance`` of shape ``(seeds, c)``; ``table_low``, ``table_high`` (the
        table's ranges); ``within_table`` (the fractions within the ranges widened by
        :data:`TABLE_SLACK`); ``monotone`` (the fraction non-increasing in ``c``, up to 0.02).

    See Also
    --------
    regularized_samples : the samples of one ``c``.

    References
    ----------
    Baptista et al., Sec. 5.1, Fig. 5 and Sec. 5.2, Fig. 7.

    Examples
    --------
    >>> r = regularization_sweep("eb", {10.0: (0.0, 0.001)}, True, 0)
    >>> r["fraction"].shape, bool(r["within_table"].all())
    ((1, 1), True)
    """
    quick = check_bool(quick, "quick")
    seeds = tuple(check_int(seed, "seed", low=0) + s for s in SEEDS[quick])
    cs = np.array(sorted(table))
    frac = np.empty((len(seeds), cs.size))
    frac01 = np.empty_like(frac)
    median = np.empty_like(frac)
    for i, sd in enumerate(seeds):
        for j, c in enumerate(cs):
            x = regularized_samples(score, float(c), N_SAMPLES, sd)
            frac[i, j] = memorization_fraction(x, SEED1_DATA, TAU)
            frac01[i, j] = memorization_fraction(x, SEED1_DATA, 0.1)
            median[i, j] = nearest_distances(x, SEED1_DATA).percentiles[50]
    lo = np.array([table[c][0] for c in cs]) - TABLE_SLACK
    hi = np.array([table[c][1] for c in cs]) + TABLE_SLACK
    within = (frac >= lo) & (frac <= hi)
    return {
        "score": score,
        "c": cs,
        "seeds": np.array(seeds),
        "fraction": frac,
        "fraction_0.1": frac01,
        "median_distance": median,
        "table_low": lo + TABLE_SLACK,
        "table_high": hi - TABLE_SLACK,
        "within_table": within,
        "monotone": bool(np.all(np.diff(frac, axis=1) <= 0.02)),
    }
