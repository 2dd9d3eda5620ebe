"""Checks of the empirical-score dynamics of Baptista et al. (paper 002) along trajectories.

Thm 4.3 (every trajectory ends at a data point, at the rate sigma(t)), Ex. 4.4 (a boundary limit
point), the exact single-point solutions (also the distinct-label case of Thm 6.4), the a-priori
bounds of Lemma 4.8 / A.2 / 4.9 (VE) and C.3 (VP), the invariance and rate constants of Lemmas
4.12-4.13 (VE) and C.7-C.8 (VP), and the Tikhonov / empirical-Bayes tables of §5.1-5.2. The data
set is the authors' 20 points (:data:`diffmem_theory.voronoi.data.SEED1_DATA`); trajectories come
from :func:`diffmem_theory.voronoi.dynamics.reverse_ode` and
:func:`diffmem_theory.voronoi.dynamics.solve_s_time` (Dormand-Prince 5(4), tolerances as stated
per check).
"""

from __future__ import annotations

import numpy as np

from diffmem_theory.core.metrics import memorization_fraction
from diffmem_theory.registry import Outcome, check
from diffmem_theory.voronoi.bounds import (
    ball_bound,
    ball_bound_vp,
    lemma_4_13_k,
    lemma_c_8_k,
    s_one_two_vp,
    s_weight_vp,
)
from diffmem_theory.voronoi.data import SCHEDULES, SEED1_DATA
from diffmem_theory.voronoi.dynamics import initial_states, reverse_ode, solve_s_time
from diffmem_theory.voronoi.geometry import (
    classify_limit,
    convergence_rate_fit,
    d_minus,
    in_shrunk_cell,
    s_alpha,
    voronoi_index,
    x_inf,
)
from diffmem_theory.voronoi.regularized import EB_TABLE, TIKHONOV_TABLE, regularization_sweep

_X0 = SEED1_DATA
_VE, _VP = SCHEDULES["VE"], SCHEDULES["VP"]


def _starts(sched, n: int, seed: int) -> np.ndarray:
    return initial_states(sched, n, 2, seed)


@check("paper002.thm4_3_limits", equation="Baptista et al., Thm 4.3 (limit points), Secs. 4.2, 7")
def thm_4_3_limits(seed: int = 0) -> Outcome:
    """1000 trajectories from the initial law (VE and VP), t = 1 -> 1e-6: the fraction within
    1e-2 of a data point (value: the smaller of the two) is >= 0.998.

    Secs. 4.2 and 7 conjecture (without proof) that limit points on the Voronoi boundary have
    probability zero for Gaussian x_T; on the seed-1 data every one of 1000 trajectories, VE
    and VP, ends at a data point (fraction 1.000).
    """
    fracs = []
    for sched in (_VE, _VP):
        sol = reverse_ode(_starts(sched, 1000, seed), _X0, sched, 1e-6, rtol=1e-6, atol=1e-8)
        fracs.append(memorization_fraction(sol.final, _X0, 1e-2) if sol.success else 0.0)
    value = min(fracs)
    note = f"VE {fracs[0]:.3f}, VP {fracs[1]:.3f}"
    return Outcome(value, 1.0, 0.002, value >= 0.998, note)


@check("paper002.thm4_3_rate", equation="Baptista et al., Thm 4.3, (4.7), (4.26)/(C.7)")
def thm_4_3_rate(seed: int = 0) -> Outcome:
    """|x(t) - x*| ~ sigma(t): median slope of log|x - x*| vs log sigma(t) over 30 trajectories
    on t in [1e-5, 1e-3] (rtol 1e-9) is 1.00 +- 0.02 for VE and VP; |x - x*|/sigma stays bounded
    (below 10; its maximum is about 2.7-2.9 on this data set). Value: the median slope farthest
    from 1.
    """
    save = np.concatenate([[1.0], np.geomspace(1e-3, 1e-5, 21)])
    worst, ratios = 1.0, []
    for sched in (_VE, _VP):
        sol = reverse_ode(_starts(sched, 30, seed), _X0, sched, 1e-5, save_t=save, rtol=1e-9,
                          atol=1e-11)  # fmt: skip
        star = _X0[classify_limit(sol.final, _X0).index]
        dist = np.linalg.norm(sol.x[:, 1:] - star[:, None], axis=-1)
        sig = sched.sigma(save[1:])
        med = float(np.median([convergence_rate_fit(sig, row).slope for row in dist]))
        worst = med if abs(med - 1.0) > abs(worst - 1.0) else worst
        ratios.append(float(np.max(dist / sig)))
    ok = abs(worst - 1.0) <= 0.02 and max(ratios) < 10.0
    note = f"max |x - x*|/sigma: VE {ratios[0]:.2f}, VP {ratios[1]:.2f}"
    return Outcome(worst, 1.0, 0.02, ok, note)


@check("paper002.ex4_4", equation="Baptista et al., Ex. 4.4, (4.8)")
def ex_4_4(seed: int = 0) -> Outcome:
    """x_0 = +-a e_1 (a = 0.8, VE): starts on the bisector x_1 = 0 converge to the origin, a
    limit point on the Voronoi boundary that is not a data point; off-axis starts converge to
    sign(x_1) a e_1. Value: largest distance of the end points (t = 1e-8) to their predicted
    limit, over 8 bisector and 8 off-axis starts, tolerance 3 sigma(1e-8) ~ 3e-4.
    """
    rng = np.random.default_rng(seed)
    data = np.array([[0.8, 0.0], [-0.8, 0.0]])
    on = np.stack([np.zeros(8), rng.uniform(-4, 4, 8)], 1)
    off = rng.uniform(-4, 4, (8, 2))
    end = reverse_ode(np.concatenate([on, off]), data, _VE, 1e-8, rtol=1e-10, atol=1e-12).final
    target = np.concatenate(
        [np.zeros((8, 2)), np.stack([0.8 * np.sign(off[:, 0]), 0 * off[:, 1]], 1)]
    )
    value = float(np.max(np.linalg.norm(end - target, axis=1)))
    kinds = classify_limit(end[:8], data, tol=1e-3).kind
    tol = 3.0 * float(_VE.sigma(1e-8))
    ok = value <= tol and bool(np.all(kinds == "boundary"))
    return Outcome(value, 0.0, tol, ok, "bisector starts classified as boundary limits")


@check("paper002.single_point_exact", equation="Baptista et al., (4.1), Thm 6.4 (|I_j| = 1)")
def single_point_exact(seed: int = 0) -> Outcome:
    """N = 1 (also the conditional score of Thm 6.4 with distinct labels): the reverse ODE is
    x(t) = m(t) x_0 + (sigma(t)/sigma(T)) (x_T - m(T) x_0) (exact: the score is
    -(x - m x_0)/sigma^2, and this x(t) solves dx/dt = f x - g^2 s / 2 because
    d(sigma^2)/dt = 2 f sigma^2 + g^2), so x(t) -> x_0 for every x_T. Integrated in s and in t
    (rtol 1e-11), VE and VP, to t = 1e-6; value: the largest deviation at 9 saved times,
    tolerance 1e-8.
    """
    rng = np.random.default_rng(seed)
    x0, x_T = rng.normal(size=(1, 2)), 3.0 * rng.normal(size=(10, 2))
    save = np.geomspace(1.0, 1e-6, 9)
    worst = 0.0
    for sched in (_VE, _VP):
        m, sig = sched.alpha(save), sched.sigma(save)
        exact = m[None, :, None] * x0[0] + (sig / sig[0])[None, :, None] * (
            x_T[:, None, :] - m[0] * x0[0]
        )
        for time in ("s", "t"):
            sol = reverse_ode(x_T, x0, sched, 1e-6, time=time, save_t=save, rtol=1e-11,
                              atol=1e-13)  # fmt: skip
            worst = max(worst, float(np.max(np.abs(sol.x - exact))))
    return Outcome(worst, 0.0, 1e-8, worst <= 1e-8, "VE and VP, s- and t-time")


def _s_paths(sched, family: str, n: int, seed: int, s_end: float) -> tuple:
    x_T = _starts(sched, n, seed)
    s0 = float(sched.s_time(1.0))
    s = np.linspace(s0, s_end, 301)
    sol = solve_s_time(x_T, _X0, (s0, s_end), family=family, save_s=s, rtol=1e-10, atol=1e-12)
    return x_T, s0, s, sol.x


@check("paper002.lemma4_8", equation="Baptista et al., Lemmas 4.8, 4.9, A.2, (4.28a), (A.4a)")
def lemma_4_8(seed: int = 0) -> Outcome:
    """Along 200 VE s-time trajectories (s_0 to 30): |y(s) - z| <= (A.4a) for z = 0 (this
    is (4.28a)) and 5 random z, and the end points lie within |x|_inf + 1e-6 of 0 (Lemma 4.9).
    Value: the largest excess of |y(s) - z| over its bound (tolerance 1e-6).
    """
    rng = np.random.default_rng(seed + 1)
    x_T, s0, s, y = _s_paths(_VE, "VE", 200, seed, 30.0)
    worst = -np.inf
    for z in np.concatenate([np.zeros((1, 2)), rng.uniform(-3, 3, (5, 2))]):
        bound = ball_bound(x_T[:, None, :], s[None, :], _X0, s0, z)
        worst = max(worst, float(np.max(np.linalg.norm(y - z, axis=-1) - bound)))
    end_excess = float(np.max(np.linalg.norm(y[:, -1], axis=-1)) - x_inf(_X0))
    value = max(worst, end_excess)
    return Outcome(value, 0.0, 1e-6, value <= 1e-6, f"Lemma 4.9 end excess {end_excess:.2e}")


@check("paper002.lemmaC_3", equation="Baptista et al., Lemma C.3, (C.8), (A.10)")
def lemma_c_3(seed: int = 0) -> Outcome:
    """Along 200 VP s-time trajectories (C.6) (s_0 to 30): |y(s)| <= [e^{-s} + sqrt(1 -
    e^{-2s})] R (A.10), |y(s)| <= sqrt(2) max(|x_T|, |x|_inf) (C.8), and limsup |y| <= |x|_inf
    (C.9, end points). Value: the largest excess over the bounds (tolerance 1e-6).
    """
    x_T, _, s, y = _s_paths(_VP, "VP", 200, seed, 30.0)
    norm = np.linalg.norm(y, axis=-1)
    a10 = float(np.max(norm - ball_bound_vp(x_T[:, None, :], s[None, :], _X0)))
    R = np.maximum(np.linalg.norm(x_T, axis=-1), x_inf(_X0))
    c8 = float(np.max(norm - np.sqrt(2.0) * R[:, None]))
    c9 = float(np.max(norm[:, -1]) - x_inf(_X0))
    value = max(a10, c8, c9)
    note = f"(A.10) {a10:.2e}, (C.8) {c8:.2e}, (C.9) {c9:.2e}"
    return Outcome(value, 0.0, 1e-6, value <= 1e-6, note)


def _invariance_and_rate(y: np.ndarray, s: np.ndarray, s_star: float, delta: float, K_fn) -> tuple:
    """For trajectories inside some V_delta(x_0^n) at s*: (checked count, violations of the
    invariance, largest |y(s) - x_0^n| e^{s} / K - 1 over s >= s*)."""
    i0 = int(np.searchsorted(s, s_star))
    n_idx = voronoi_index(y[:, i0], _X0)
    inside = np.array(
        [bool(in_shrunk_cell(y[b, i0], int(n_idx[b]), delta, _X0)) for b in range(len(y))]
    )
    leaves, worst = 0, -np.inf
    for b in np.flatnonzero(inside):
        n = int(n_idx[b])
        tail = y[b, i0:]
        leaves += int(not np.all(in_shrunk_cell(tail, n, delta, _X0)))
        K = K_fn(y[b, i0], _X0[n], s[i0])
        ratio = np.linalg.norm(tail - _X0[n], axis=-1) * np.exp(s[i0:]) / K
        worst = max(worst, float(np.max(ratio)) - 1.0)
    return int(inside.sum()), leaves, worst


def _s_r(x_T: np.ndarray, s0: float, r: float) -> float:
    """Entry time into B(0, r) from (A.4a) with z = 0 (proof of Lemma 4.9)."""
    xi = x_inf(_X0)
    return s0 + float(np.log(max(np.max(np.linalg.norm(x_T, axis=-1)) - xi, r - xi) / (r - xi)))


def _invariance_check(sched, family: str, extra_starts, K_fn, seed: int) -> Outcome:
    """Lemmas 4.12-4.13 / C.7-C.8 on 200 trajectories to s = 14 (delta = D_-/2, r = |x|_inf +
    0.1): s* = max(s^r, s^alpha, *extra_starts) + 0.1."""
    delta, r = d_minus(_X0) / 2.0, x_inf(_X0) + 0.1
    x_T, s0, s, y = _s_paths(sched, family, 200, seed, 14.0)
    starts = (_s_r(x_T, s0, r), s_alpha(delta, _X0, s0=s0), *extra_starts(delta, r))
    s_star = max(starts) + 0.1
    N, xi = _X0.shape[0], x_inf(_X0)
    count, leaves, worst = _invariance_and_rate(
        y, s, s_star, delta, lambda ys, xn, ss: K_fn(ys, ss, xn, N, xi, delta)
    )
    ok = count > 0 and leaves == 0 and worst <= 1e-9
    note = f"{count} trajectories in V_delta at s* = {s_star:.3f}, {leaves} left"
    return Outcome(worst, 0.0, 1e-9, ok, note)


@check("paper002.lemma4_12_4_13", equation="Baptista et al., Lemmas 4.12-4.13, (4.33) (delta^2)")
def lemma_4_12_4_13(seed: int = 0) -> Outcome:
    """VE, delta = D_-/2, r = |x|_inf + 0.1: trajectories inside V_delta^r(x_0^n) at
    s* = max(s^r, s^alpha) + 0.1 stay there (Lemma 4.12) and obey |y(s) - x_0^n| <= K e^{-s}
    with the corrected K (4.33b) (delta^2 for the printed delta). 200 trajectories to s = 14;
    value: the largest |y - x_0^n| e^s / K - 1 (must be <= 0), with no cell exits.
    """
    return _invariance_check(_VE, "VE", lambda delta, r: (), lemma_4_13_k, seed)


@check("paper002.lemmaC_7_C_8", equation="Baptista et al., Lemmas C.7-C.8, (C.14)")
def lemma_c_7_c_8(seed: int = 0) -> Outcome:
    """VP analogue: inside V_delta^r(x_0^n) at s* = max(s^r, s^D, s^1, s^2, s^alpha) + 0.1
    (the constants the proofs of Lemmas C.5-C.6 use) trajectories stay there and
    |y - x_0^n| <= K e^{-s} with K of (C.14b). 200 trajectories to s = 14; value as for
    Lemma 4.13.
    """

    def extra(delta: float, r: float) -> tuple[float, ...]:
        return (s_weight_vp(delta, _X0, r), *s_one_two_vp(delta, _X0))

    return _invariance_check(_VP, "VP", extra, lemma_c_8_k, seed)


def _table_check(score: str, table: dict, name: str, seed: int) -> Outcome:
    r = regularization_sweep(score, table, True, seed)
    miss = np.maximum(r["table_low"] - r["fraction"][0], r["fraction"][0] - r["table_high"])
    value = float(np.max(miss))
    ok = value <= 0.04 and r["monotone"]
    fr = ", ".join(f"{c:.3g}: {f:.3f}" for c, f in zip(r["c"], r["fraction"][0], strict=True))
    return Outcome(value, 0.0, 0.04, ok, f"{name} fractions within 1e-2: {fr}")


@check("paper002.tikhonov_table", equation="Baptista et al., §5.1, Fig. 5, (5.7)-(5.8)")
def tikhonov_table(seed: int = 0) -> Outcome:
    """Fraction of 1000 Tikhonov samples within 1e-2 of the data for the 9 values of c of Fig. 5
    within 0.04 of the reference table :data:`~diffmem_theory.voronoi.regularized.TIKHONOV_TABLE`
    (the authors' code, three seeds), and non-increasing in c. Value: the largest distance to the
    table's range.
    """
    return _table_check("tikhonov", TIKHONOV_TABLE, "Tikhonov", seed)


@check("paper002.eb_table", equation="Baptista et al., §5.2, Fig. 7, (5.12)")
def eb_table(seed: int = 0) -> Outcome:
    """As ``paper002.tikhonov_table`` for the empirical-Bayes score (5.12), the 7 values of c of
    Fig. 7.
    """
    return _table_check("eb", EB_TABLE, "empirical Bayes", seed)
