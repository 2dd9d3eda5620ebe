"""The per-trajectory Dormand-Prince integrator at tiny N (paper 002's N = 20, d = 2).

Its evaluation of the field is inlined into the step loop, takes the maximum logit in four
interleaved chains and takes a logarithm only for the empirical-Bayes scores: these tests pin
the pieces that changed for speed against plain NumPy and SciPy.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from diffmem_theory.kernels import _dopri
from diffmem_theory.voronoi.dynamics import s_time_velocity

SEED1 = np.random.RandomState(1).randn(20, 2)


@pytest.mark.parametrize("N", range(1, 10))
def test_logits_and_their_maximum_for_every_remainder(N: int) -> None:
    """Four chains of maxima plus a remainder: the exact maximum for N = 1..9 (ties too)."""
    rng = np.random.default_rng(N)
    X0 = rng.normal(size=(N, 3))
    X0[-1] = X0[0]  # a tie for the nearest point when x is nearest to X0[0]
    for x in (X0[0] + 0.1, X0[-1], rng.normal(size=3)):
        logits = np.empty(N)
        best = _dopri._logits(x, np.ascontiguousarray(X0.T), 0.7, logits)
        diff = x[None, :] - 0.7 * X0
        expected = -(diff[:, 0] ** 2) - diff[:, 1] ** 2 - diff[:, 2] ** 2  # the loop's order
        np.testing.assert_array_equal(logits, expected)
        assert best == expected.max()


@pytest.mark.parametrize("score", ["empirical", "eb", "eb_normalized"])
def test_s_time_matches_solve_ivp_per_trajectory(score: str) -> None:
    """N = 20, d = 2, s-time VE: every trajectory of the batch against SciPy's RK45 alone on it.

    The empirical score takes SciPy's steps exactly (same evaluation counts); the empirical-Bayes
    scores (whose field uses log sum_n w~_n) reach the same states within the tolerance.
    """
    code = _dopri.SCORES[score]
    log_ceb = {"empirical": 0.0, "eb": 3.0, "eb_normalized": -1.0}[score]
    y0 = 3.0 * np.random.default_rng(0).normal(size=(6, 2))
    save = np.array([0.0, 1.0, 4.0])
    XT = np.ascontiguousarray(SEED1.T)
    args = (XT, 0.0, 4.0, save, _dopri.S_VE, 0, np.zeros(3), 0.0, code, log_ceb, 1e-8, 1e-8)
    y = y0.copy()
    out, stats = _dopri.integrate_batch(y, *args, 10_000, 2)
    assert np.all(stats[:, 0] == _dopri.SUCCESS)
    ceb = float(np.exp(log_ceb))
    kw = {"score": score, "c_eb": ceb} if score != "empirical" else {}
    for b in range(y0.shape[0]):
        ref = solve_ivp(
            lambda s, v: _field(v, s, **kw),
            (0.0, 4.0),
            y0[b],
            method="RK45",
            rtol=1e-8,
            atol=1e-8,
            t_eval=save,
        )
        assert ref.success
        np.testing.assert_allclose(out[b], ref.y.T, rtol=0, atol=1e-6)
        np.testing.assert_array_equal(out[b, -1], y[b])
        if score == "empirical":
            assert stats[b, 3] == ref.nfev


def _field(y: np.ndarray, s: float, score: str = "empirical", c_eb: float = 1.0) -> np.ndarray:
    """dy/ds of (4.24) (empirical score) or (5.9) with rho = min(1, S / c_eb) (EB scores)."""
    if score == "empirical":
        return s_time_velocity(y, s, SEED1)
    v = np.exp(-2.0 * s)
    logits = -((y[None, :] - SEED1) ** 2).sum(-1) / (2.0 * v)
    big_s = np.exp(logits).sum()
    if score == "eb_normalized":  # p^N = S / (N (2 pi v)^{d/2})
        big_s /= len(SEED1) * 2.0 * np.pi * v
    w = np.exp(logits - logits.max())
    x_n = w @ SEED1 / w.sum()
    return -min(1.0, big_s / c_eb) * (y - x_n)
