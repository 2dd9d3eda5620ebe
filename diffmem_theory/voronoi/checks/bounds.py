"""Checks of the lemma constants and bounds of Baptista et al. (paper 002), Sec. 4.3, App. A, C.

The shrunk-cell faces (Lemma 4.5), the weight bounds (Lemma 4.10, Lemma C.5), the inward-pointing
fields (Lemma 4.11, Lemma C.6) on sampled face points of ``dV_delta^r`` and the completed square
of Thm 5.1. The data set is the authors' 20 points (:data:`diffmem_theory.voronoi.data.SEED1_DATA`,
``np.random.seed(1); randn(20, 2)``) with ``delta = D_- / 2`` and ``r = |x|_inf + 0.1``; face
points are drawn from ``seed``. The errata of (4.33b), (C.10) and Sec. 4.4's ``g = 10^t`` are
checked in :mod:`diffmem_theory.voronoi.errata`.
"""

from __future__ import annotations

import math

import numpy as np

from diffmem_theory.core.schedules import VE
from diffmem_theory.kernels import softmax_weighted_sum
from diffmem_theory.registry import Outcome, check
from diffmem_theory.voronoi.bounds import (
    s_one_two_vp,
    s_time_log_weights,
    s_weight_vp,
    shrunk_face_points,
    shrunk_hyperplane,
    tikhonov_excess,
    weight_bounds_ve,
    weight_bounds_vp,
)
from diffmem_theory.voronoi.data import SEED1_DATA
from diffmem_theory.voronoi.geometry import alpha_n, d_minus, s_alpha, x_inf

_PER_PAIR = 192  # random face parameters q per pair (n, l)
_FACE_TOL = 1e-9  # relative slack of the squared-gap test for points on a face


def _seed1() -> tuple[np.ndarray, float, float]:
    """The seed-1 data set, delta = D_- / 2 and r = |x|_inf + 0.1."""
    X0 = SEED1_DATA
    return X0, 0.5 * d_minus(X0), x_inf(X0) + 0.1


def _sq_dist(Y: np.ndarray, X0: np.ndarray) -> np.ndarray:
    diff = Y[:, None, :] - X0[None, :, :]
    return (diff * diff).sum(-1)


def _face_points(
    X0: np.ndarray, eps: float, r: float, seed: int
) -> list[tuple[int, int, np.ndarray]]:
    """Sampled points of dV_eps^r(x_0^n) on the face l, as (n, l, Y) with Y non-empty.

    Face points by (A.5) with random q in [-2r, 2r]^d, kept when |y| < r and every other gap
    |y - x_0^m|^2 - |y - x_0^n|^2 is >= eps^2 (up to _FACE_TOL), i.e. y is on the boundary of
    the shrunk cell and not behind another face.
    """
    rng = np.random.default_rng(seed)
    N, d = X0.shape
    out = []
    for n in range(N):
        for l in range(N):
            if l == n:
                continue
            Y = shrunk_face_points(n, l, eps, X0, rng.uniform(-2 * r, 2 * r, (_PER_PAIR, d)))
            sq = _sq_dist(Y, X0)
            gap = sq - sq[:, [n]]
            gap[:, n] = np.inf
            keep = (gap.min(1) >= eps * eps * (1 - _FACE_TOL)) & ((Y * Y).sum(1) < r * r)
            if keep.any():
                out.append((n, l, Y[keep]))
    return out


def _cell_samples(
    X0: np.ndarray, delta: float, r: float, seed: int
) -> list[tuple[int, np.ndarray]]:
    """Points of V_delta^r(x_0^n): near-face points (face eps = 1.001 delta) and random ones."""
    rng = np.random.default_rng(seed + 1)
    near = _face_points(X0, 1.001 * delta, r, seed)
    cloud = rng.uniform(-r, r, (4000, X0.shape[1]))
    cloud = cloud[(cloud * cloud).sum(1) < r * r]
    sq = _sq_dist(cloud, X0)
    order = np.sort(sq, axis=1)
    inside = order[:, 1] - order[:, 0] > delta * delta
    nearest = sq.argmin(1)
    groups = [(n, Y) for n, _, Y in near]
    groups += [(n, cloud[inside & (nearest == n)]) for n in range(X0.shape[0])]
    return [(n, Y) for n, Y in groups if len(Y)]


def _weight_excess(
    X0: np.ndarray, delta: float, r: float, times: np.ndarray, vp: bool, seed: int
) -> tuple[float, int]:
    """Largest (log omega_l - log upper) or (log lower - log omega_n), relative to
    max(1, |log upper|), over points of V_delta^r and the given times; and the point count."""
    N = X0.shape[0]
    bounds = weight_bounds_vp if vp else weight_bounds_ve
    worst, count = -np.inf, 0
    for n, Y in _cell_samples(X0, delta, r, seed):
        count += len(Y)
        for s in times:
            lw = s_time_log_weights(Y, s, X0, vp=vp)
            log_lo, log_up = bounds(s, delta, N, log=True)
            others = np.delete(lw, n, axis=1).max(1)
            excess = max(float((others - log_up).max()), float((log_lo - lw[:, n]).max()))
            worst = max(worst, excess / max(1.0, abs(log_up)))
    return worst, count


@check("paper002.lemma4_5", equation="Baptista et al., Lemma 4.5, (4.12)/(4.13)/(A.5)")
def lemma_4_5(seed: int = 0) -> Outcome:
    """Points built by (A.5) satisfy (4.12) and (4.13); the face separates x_0^n from x_0^l.

    Random data (N = 12, d = 3, eps = 0.9 D_-) and 64 random q per pair (n, l); also checks the
    hyperplane form <y, nu> = b of :func:`shrunk_hyperplane` and that y + t nu (t > 0) lies on
    x_0^n's side, i.e. in the half-space |x - x_0^n|^2 < |x - x_0^l|^2 - eps^2. Value = largest
    relative residual, tolerance 1e-12.
    """
    rng = np.random.default_rng(seed)
    X0 = rng.normal(size=(12, 3))
    eps = 0.9 * d_minus(X0)
    worst, sides_ok = 0.0, True
    for n in range(12):
        for l in range(12):
            if l == n:
                continue
            Y = shrunk_face_points(n, l, eps, X0, rng.normal(scale=3.0, size=(64, 3)))
            nu, b = shrunk_hyperplane(n, l, eps, X0)
            dn, dl = ((Y - X0[n]) ** 2).sum(1), ((Y - X0[l]) ** 2).sum(1)
            diff = X0[n] - X0[l]
            r412 = np.abs(dn - (dl - eps * eps)) / np.maximum(1.0, dl)
            r413 = np.abs(2 * (X0[n] - Y) @ diff - (diff @ diff - eps * eps)) / (diff @ diff)
            plane = np.abs(Y @ nu - b) / max(1.0, abs(b))
            worst = max(worst, float(r412.max()), float(r413.max()), float(plane.max()))
            X = Y + rng.uniform(1e-3, 2.0, (64, 1)) * nu
            gap_x = ((X - X0[l]) ** 2).sum(1) - ((X - X0[n]) ** 2).sum(1)
            sides_ok &= bool(np.all(gap_x > eps * eps))
            sides_ok &= bool(X0[n] @ nu - b > 0 > X0[l] @ nu - b)
    ok = worst <= 1e-12 and sides_ok
    return Outcome(worst, 0.0, 1e-12, ok, f"max relative residual; sides correct: {sides_ok}")


@check("paper002.lemma4_10", equation="Baptista et al., Lemma 4.10 (VE weight bounds)")
def lemma_4_10(seed: int = 0) -> Outcome:
    """The VE s-time weights on points of V_delta^r(x_0^n) obey the bounds of Lemma 4.10.

    Seed-1 data, delta = D_-/2, points next to the faces and random points of the shrunk cells,
    s from s_0 = -ln sigma_VE(1) to s_0 + 10 (11 values). Value = largest excess of a log weight
    over its log bound, relative to max(1, |log bound|); passes if <= 1e-12.
    """
    X0, delta, r = _seed1()
    s0 = float(VE.exp().s_time(1.0))
    worst, count = _weight_excess(X0, delta, r, s0 + np.linspace(0.0, 10.0, 11), False, seed)
    return Outcome(worst, 0.0, 1e-12, worst <= 1e-12, f"{count} points, 11 times")


@check("paper002.lemmaC_5", equation="Baptista et al., Lemma C.5, (C.10)/(C.11), proof constant")
def lemma_c_5(seed: int = 0) -> Outcome:
    """The VP s-time weights on V_delta^r(x_0^n) obey (C.11) for s >= s^D (proof constant).

    Seed-1 data, delta = D_-/2, r = |x|_inf + 0.1, s^D with 1 - sqrt(1 - e^{-2s}) <
    delta^2 / (8 D^+ r); s = s^D + (0, 0.25, ..., 5). Value as for ``paper002.lemma4_10``.
    """
    X0, delta, r = _seed1()
    times = s_weight_vp(delta, X0, r) + np.linspace(0.0, 5.0, 21)
    worst, count = _weight_excess(X0, delta, r, times, True, seed)
    return Outcome(worst, 0.0, 1e-12, worst <= 1e-12, f"{count} points, 21 times")


def _inward_ratio(X0: np.ndarray, delta: float, r: float, times, vp: bool, seed: int):
    """min over face points of <field, x_0^n - x_0^l> / alpha_n, and the number of points."""
    alphas = alpha_n(delta, X0)
    worst, count = np.inf, 0
    for n, l, Y in _face_points(X0, delta, r, seed):
        count += len(Y)
        for s in times:
            m = math.sqrt(-math.expm1(-2.0 * s)) if vp else 1.0
            yN = softmax_weighted_sum(Y, X0, scale=m, var=math.exp(-2.0 * s))
            field = yN / m - Y
            worst = min(worst, float((field @ (X0[n] - X0[l])).min()) / alphas[n])
    return worst, count


@check("paper002.lemma4_11", equation="Baptista et al., Lemma 4.11, (4.30)-(4.32)")
def lemma_4_11(seed: int = 0) -> Outcome:
    """The VE field y_N - y points into V_delta^r(x_0^n): (4.32) >= alpha_n / 2 for s >= s^alpha.

    Seed-1 data, delta = D_-/2, r = |x|_inf + 0.1; alpha_n in closed form, s^alpha from (4.31)
    (min over n); sampled points of dV_delta^r(x_0^n) on all faces; s = s^alpha + (0, 0.5, 2).
    Value = min <y_N - y, x_0^n - x_0^l> / alpha_n; the lemma asserts >= 1/2.
    """
    X0, delta, r = _seed1()
    times = s_alpha(delta, X0) + np.array([0.0, 0.5, 2.0])
    worst, count = _inward_ratio(X0, delta, r, times, False, seed)
    return Outcome(worst, 0.5, None, worst >= 0.5, f"{count} face points, 3 times")


@check("paper002.lemmaC_6", equation="Baptista et al., Lemma C.6, (C.12)/(C.13), proof constants")
def lemma_c_6(seed: int = 0) -> Outcome:
    """The VP field y_N/m - y points inward: >= alpha_n / 4 for s >= max(s^D, s^1, s^2, s^alpha).

    As ``paper002.lemma4_11`` with the VP weights (C.5) and the corrected s^1, s^2 (with the
    factor |x|_inf the proof uses). Value = min <y_N/m - y, x_0^n - x_0^l> / alpha_n (>= 1/4).
    """
    X0, delta, r = _seed1()
    start = max(s_weight_vp(delta, X0, r), *s_one_two_vp(delta, X0), s_alpha(delta, X0))
    worst, count = _inward_ratio(X0, delta, r, start + np.array([0.0, 0.5, 2.0]), True, seed)
    return Outcome(worst, 0.25, None, worst >= 0.25, f"{count} face points, s >= {start:.4f}")


@check("paper002.thm5_1", equation="Baptista et al., Thm 5.1, (5.2)-(5.4)")
def thm_5_1(seed: int = 0) -> Outcome:
    """|s - v|^2 + |s|_Gamma^2 = |s - (I+Gamma)^{-1} v|_{I+Gamma}^2 + v^T Gamma (I+Gamma)^{-1} v.

    200 random (s, v) in d = 4 and a random SPD Gamma; also s_reg = (I+Gamma)^{-1} v attains the
    minimum K_Gamma integrand. Value = largest relative difference of the two sides (tol 1e-12).
    """
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(4, 4))
    G = A @ A.T + 0.1 * np.eye(4)
    s, v = rng.normal(size=(200, 4)), rng.normal(scale=3.0, size=(200, 4))
    lhs, rhs = tikhonov_excess(s, v, G)
    worst = float((np.abs(lhs - rhs) / np.maximum(1.0, np.abs(lhs))).max())
    s_reg = np.linalg.solve(np.eye(4) + G, v.T).T
    at_min, excess = tikhonov_excess(s_reg, v, G)
    minimal = bool(np.all(at_min <= lhs + 1e-12) and np.allclose(at_min, excess, rtol=1e-12))
    ok = worst <= 1e-12 and minimal
    return Outcome(worst, 0.0, 1e-12, ok, f"s_reg attains the minimum K_Gamma integrand: {minimal}")
