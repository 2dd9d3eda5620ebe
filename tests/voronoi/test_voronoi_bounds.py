"""Tests for diffmem_theory.voronoi.bounds (paper 002, Lemmas 4.5-4.13, A.2, C.3-C.8, Thm 5.1)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp
from scipy.special import logsumexp, softmax

from diffmem_theory.registry import run_check
from diffmem_theory.voronoi.bounds import (
    ball_bound,
    ball_bound_vp,
    lemma_4_13_k,
    lemma_c_8_k,
    s_one_two_vp,
    s_weight_vp,
    shrunk_face_points,
    shrunk_hyperplane,
    tikhonov_excess,
    weight_bounds_ve,
    weight_bounds_vp,
)
from diffmem_theory.voronoi.errata import _two_point_scaled_error
from diffmem_theory.voronoi.geometry import (
    alpha_n,
    d_minus,
    d_plus,
    in_shrunk_cell,
    l_eps,
    s_alpha,
    x_inf,
)

SEEDS = st.integers(0, 2**31 - 1)


def seed1():
    X0 = np.random.RandomState(1).randn(20, 2)
    return X0, 0.5 * d_minus(X0), x_inf(X0) + 0.1


def random_data(rng, n_max=15, d_max=4):
    """N in 2..n_max distinct points in d in 1..d_max, well separated (D_- >= 0.05)."""
    while True:
        N, d = int(rng.integers(2, n_max + 1)), int(rng.integers(1, d_max + 1))
        X0 = rng.normal(size=(N, d))
        if d_minus(X0) >= 0.05:
            return X0


def log_weights(Y, X0, s, m=1.0):
    """Plain NumPy twin: log softmax_n(-e^{2s} |y - m x_0^n|^2 / 2)."""
    logits = -0.5 * math.exp(2 * s) * ((Y[:, None, :] - m * X0[None]) ** 2).sum(-1)
    return logits - logsumexp(logits, axis=1, keepdims=True)


def cell_points(rng, X0, delta, r, n_draw=400):
    """Random points of V_delta^r (any cell) and their cell index."""
    d = X0.shape[1]
    Y = rng.uniform(-r, r, (n_draw, d))
    Y = Y[(Y * Y).sum(1) < r * r]
    inside = in_shrunk_cell(Y, None, delta, X0)
    Y = Y[inside]
    idx = ((Y[:, None, :] - X0[None]) ** 2).sum(-1).argmin(1)
    return Y, idx


def face_points_inside(rng, X0, n, delta, factor=1.0 + 1e-6):
    """Points on the l-faces of V_{factor delta}(x_0^n) that are in V_delta(x_0^n)."""
    out = []
    for l in range(X0.shape[0]):
        if l == n or np.linalg.norm(X0[n] - X0[l]) <= factor * delta:
            continue
        Y = shrunk_face_points(n, l, factor * delta, X0, rng.normal(size=(20, X0.shape[1])))
        out.append(Y[in_shrunk_cell(Y, n, delta, X0)])
    return np.concatenate(out) if out else np.empty((0, X0.shape[1]))


def assert_weight_bounds(Y, idx, X0, s, delta, vp):
    m = math.sqrt(-math.expm1(-2 * s)) if vp else 1.0
    lw = log_weights(Y, X0, s, m)
    bounds = weight_bounds_vp if vp else weight_bounds_ve
    log_lo, log_up = bounds(s, delta, X0.shape[0], log=True)
    tol = 1e-12 * max(1.0, abs(log_up))
    rows = np.arange(len(Y))
    others = lw.copy()
    others[rows, idx] = -np.inf
    assert np.all(others.max(1) <= log_up + tol)
    assert np.all(lw[rows, idx] >= log_lo - tol)
    assert np.all(lw[rows, idx] <= 1e-15)


def ve_rhs(X0):
    def rhs(s, y):
        w = softmax(-0.5 * math.exp(2 * s) * ((y - X0) ** 2).sum(1))
        return -(y - w @ X0)

    return rhs


def vp_rhs(X0):
    def rhs(s, y):
        m = math.sqrt(-math.expm1(-2 * s))
        w = softmax(-0.5 * math.exp(2 * s) * ((y - m * X0) ** 2).sum(1))
        return -(y - w @ X0 / m)

    return rhs


# ---------------------------------------------------------------------------------------------
# reference values (seed-1 data set, delta = D_- / 2, r = |x|_inf + 0.1)
# ---------------------------------------------------------------------------------------------


def test_seed1_constants():
    X0, delta, r = seed1()
    assert float(alpha_n(delta, X0).min()) == pytest.approx(0.00217789, abs=1e-8)
    assert s_alpha(delta, X0) == pytest.approx(4.888679, abs=1e-6)
    assert s_weight_vp(delta, X0, r) == pytest.approx(5.149283, abs=1e-6)
    assert s_weight_vp(delta, X0, r, printed=True) == pytest.approx(4.436739, abs=1e-6)
    s1, s2 = s_one_two_vp(delta, X0)
    assert s1 == pytest.approx(5.235252, abs=1e-6)
    assert s2 == pytest.approx(4.580602, abs=1e-6)


def test_weight_bounds_closed_form():
    s = np.linspace(-2.0, 2.0, 9)
    lo, up = weight_bounds_ve(s, 0.7, 5)
    u = np.exp(-np.exp(2 * s) * 0.49 / 2)
    np.testing.assert_allclose(up, u, rtol=1e-14)
    np.testing.assert_allclose(lo, 1 / (1 + 4 * u), rtol=1e-14)
    _, up4 = weight_bounds_vp(s, 0.7, 5)
    np.testing.assert_allclose(up4, np.sqrt(u), rtol=1e-14)
    log_lo, log_up = weight_bounds_ve(s, 0.7, 5, log=True)
    np.testing.assert_allclose(np.exp(log_lo), lo, rtol=1e-14)
    np.testing.assert_allclose(log_up, -np.exp(2 * s) * 0.49 / 2, rtol=1e-14)
    # far in s the bounds saturate without overflow warnings
    lo, up = weight_bounds_ve(400.0, 0.5, 3)
    assert (lo, up) == (1.0, 0.0)


@pytest.mark.parametrize(
    "name",
    [
        "lemma4_5",
        "lemma4_10",
        "lemmaC_5",
        "lemma4_11",
        "lemmaC_6",
        "thm5_1",
        "lemma4_13_delta_printed",
        "lemmaC_5_sD_printed",
        "g_exp_printed",
    ],
)
def test_registered_checks(name):
    result = run_check(f"paper002.{name}")
    assert result.status in ("pass", "erratum"), result.note
    assert result.erratum == (result.status == "erratum")


# ---------------------------------------------------------------------------------------------
# Lemma 4.5: faces of the shrunk cells
# ---------------------------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(SEEDS, st.floats(0.0, 0.99))
def test_lemma4_5_face(seed, frac):
    rng = np.random.default_rng(seed)
    X0 = random_data(rng)
    N, d = X0.shape
    n, l = (int(i) for i in rng.choice(N, 2, replace=False))
    eps = frac * d_minus(X0)
    q = rng.normal(scale=2.0, size=(30, d))
    Y = shrunk_face_points(n, l, eps, X0, q)
    dn, dl = ((Y - X0[n]) ** 2).sum(1), ((Y - X0[l]) ** 2).sum(1)
    diff = X0[n] - X0[l]
    np.testing.assert_allclose(dn, dl - eps**2, atol=1e-12 * max(1.0, dl.max()))  # (4.12)
    np.testing.assert_allclose(2 * (X0[n] - Y) @ diff, diff @ diff - eps**2, atol=1e-11)  # (4.13)
    nu, b = shrunk_hyperplane(n, l, eps, X0)
    assert np.linalg.norm(nu) == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_allclose(Y @ nu, b, atol=1e-12 * max(1.0, abs(b)))
    # (A.5) recovers q's component orthogonal to x_0^n - x_0^l
    q_perp = (X0[n] - Y) - (0.5 - 0.5 * eps**2 / (diff @ diff)) * diff
    np.testing.assert_allclose(q_perp @ diff, 0.0, atol=1e-11)
    # x_0^n on the positive side, x_0^l on the negative one, at the (4.13) distances
    sep = np.sqrt(diff @ diff)
    assert X0[n] @ nu - b == pytest.approx((sep**2 - eps**2) / (2 * sep), rel=1e-10, abs=1e-12)
    assert X0[l] @ nu - b == pytest.approx(-(sep**2 + eps**2) / (2 * sep), rel=1e-10)
    # a point in V_eps(x_0^n) with active face l is on the face: l in L_eps(y; x_0^n)
    inside = in_shrunk_cell(Y + 1e-9 * nu, n, 0.999 * eps, X0) if eps > 0 else None
    if inside is not None and inside.any():
        y = Y[np.flatnonzero(inside)[0]]
        assert l in l_eps(y, n, eps, X0, rtol=1e-8).tolist()


# ---------------------------------------------------------------------------------------------
# Lemma 4.10 / C.5: weights in the shrunk cells
# ---------------------------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(SEEDS, st.floats(0.05, 0.99), st.floats(-2.0, 5.0))
def test_lemma4_10_weights(seed, frac, s):
    rng = np.random.default_rng(seed)
    X0 = random_data(rng)
    delta = frac * d_minus(X0)
    r = x_inf(X0) + 1.0
    Y, idx = cell_points(rng, X0, delta, r)
    n = int(rng.integers(X0.shape[0]))
    F = face_points_inside(rng, X0, n, delta)
    Y, idx = np.concatenate([Y, F]), np.concatenate([idx, np.full(len(F), n)])
    if len(Y):
        assert_weight_bounds(Y, idx, X0, s, delta, vp=False)


@settings(max_examples=50, deadline=None)
@given(SEEDS, st.floats(0.05, 0.99), st.floats(0.0, 3.0), st.floats(1e-3, 2.0))
def test_lemmaC_5_weights(seed, frac, ds, margin):
    rng = np.random.default_rng(seed)
    X0 = random_data(rng)
    delta = frac * d_minus(X0)
    r = x_inf(X0) + margin
    s = s_weight_vp(delta, X0, r) + ds
    Y, idx = cell_points(rng, X0, delta, r)
    n = int(rng.integers(X0.shape[0]))
    F = face_points_inside(rng, X0, n, delta)
    F = F[(F * F).sum(1) < r * r]
    Y, idx = np.concatenate([Y, F]), np.concatenate([idx, np.full(len(F), n)])
    if len(Y):
        assert_weight_bounds(Y, idx, X0, s, delta, vp=True)


@settings(max_examples=40, deadline=None)
@given(SEEDS, st.floats(0.05, 0.99), st.floats(1e-3, 2.0))
def test_vp_times_are_infima(seed, frac, margin):
    rng = np.random.default_rng(seed)
    X0 = random_data(rng)
    delta = frac * d_minus(X0)
    xi, Dp = x_inf(X0), d_plus(X0)
    r = xi + margin
    gap = lambda s: 1 - math.sqrt(-math.expm1(-2 * s))  # noqa: E731
    sD = s_weight_vp(delta, X0, r)
    c = delta**2 / (8 * Dp * r)
    assert gap(sD * (1 + 1e-9)) < c < gap(sD * (1 - 1e-9))
    sD_printed = s_weight_vp(delta, X0, r, printed=True)
    assert sD_printed < sD  # the printed (C.10) asks less
    assert gap(sD_printed) == pytest.approx(delta**2 / (2 * Dp * xi), rel=1e-9)
    s1, s2 = s_one_two_vp(delta, X0)
    a = float(alpha_n(delta, X0).min())
    N = X0.shape[0]
    assert (N - 1) * math.exp(-math.exp(2 * s1) * delta**2 / 4) * xi == pytest.approx(
        a / (4 * Dp), rel=1e-9
    )
    assert (1 / math.sqrt(-math.expm1(-2 * s2)) - 1) * xi == pytest.approx(a / (4 * Dp), rel=1e-9)
    n = int(rng.integers(N))
    assert s_one_two_vp(delta, X0, n)[1] <= s2 + 1e-12  # alpha_n >= min alpha


# ---------------------------------------------------------------------------------------------
# Lemma 4.13 / C.8: the rate constants along exact trajectories
# ---------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.floats(0.05, 2.0), st.floats(0.3, 0.99), st.floats(0.0, 1.0), st.floats(0.0, 1.5))
def test_lemma4_13_two_points(a, frac, pos, ds):
    delta = frac * 2 * a
    X0 = np.array([[a], [-a]])
    s_star = s_alpha(delta, X0) + ds
    y_star = delta**2 / (4 * a) * (1 + 1e-6) + pos * (x_inf(X0) - delta**2 / (4 * a))
    sol = _two_point_scaled_error(a, y_star, s_star, s_star + 4.0)
    assert sol.success
    K = lemma_4_13_k([y_star], s_star, [a], 2, a, delta)
    assert np.abs(sol.y[0]).max() <= K * (1 + 1e-9)
    if delta < 1:
        assert lemma_4_13_k([y_star], s_star, [a], 2, a, delta, printed=True) <= K


@settings(max_examples=10, deadline=None)
@given(SEEDS, st.floats(0.3, 0.9))
def test_lemma4_13_and_C8_trajectories(seed, frac):
    rng = np.random.default_rng(seed)
    X0 = random_data(rng, n_max=6, d_max=3)
    N = X0.shape[0]
    delta = frac * d_minus(X0)
    xi = x_inf(X0)
    r = xi + 0.1
    n = int(rng.integers(N))
    y_star = X0[n] + 0.3 * (rng.uniform(size=X0.shape[1]) - 0.5) * d_minus(X0)
    if not in_shrunk_cell(y_star, n, delta, X0) or y_star @ y_star >= r * r:
        return
    grid = np.linspace(0.0, 3.0, 31)
    s_ve = s_alpha(delta, X0) + 0.01
    sol = solve_ivp(
        ve_rhs(X0), (s_ve, s_ve + 3), y_star, t_eval=s_ve + grid, rtol=1e-10, atol=1e-13
    )
    dist = np.linalg.norm(sol.y.T - X0[n], axis=1)
    assert np.all(dist <= lemma_4_13_k(y_star, s_ve, X0[n], N, xi, delta) * np.exp(-sol.t) + 1e-12)
    s_vp = max(s_weight_vp(delta, X0, r), *s_one_two_vp(delta, X0), s_alpha(delta, X0)) + 0.01
    sol = solve_ivp(
        vp_rhs(X0), (s_vp, s_vp + 3), y_star, t_eval=s_vp + grid, rtol=1e-10, atol=1e-13
    )
    dist = np.linalg.norm(sol.y.T - X0[n], axis=1)
    assert np.all(dist <= lemma_c_8_k(y_star, s_vp, X0[n], N, xi, delta) * np.exp(-sol.t) + 1e-12)


def test_rate_constants_closed_form():
    y, x = np.array([[0.3, 0.4], [0.0, 0.0]]), np.zeros(2)
    K = lemma_4_13_k(y, 0.5, x, 3, 2.0, 0.6)
    tail = 2 * 2 * 2.0 / 0.36 * math.exp(-0.5) * math.exp(-math.e * 0.36 / 2)
    np.testing.assert_allclose(K, [0.5 * math.exp(0.5) + tail, tail], rtol=1e-14)
    KC = lemma_c_8_k(y, 0.5, x, 3, 2.0, 0.6)
    tailC = 4 * 2 * 2.0 / 0.36 * math.exp(-0.5) * math.exp(-math.e * 0.36 / 4)
    last = 2.0 * (1 + math.exp(0.5) * (1 - math.sqrt(1 - math.exp(-1.0))))
    np.testing.assert_allclose(KC, [0.5 * math.exp(0.5) + tailC + last, tailC + last], rtol=1e-13)


# ---------------------------------------------------------------------------------------------
# Lemma A.2 / C.3: a-priori bounds along trajectories
# ---------------------------------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(SEEDS)
def test_ball_bounds_along_trajectories(seed):
    rng = np.random.default_rng(seed)
    X0 = random_data(rng, n_max=8, d_max=3)
    d = X0.shape[1]
    x_T = rng.normal(scale=3.0, size=d)
    z = rng.normal(scale=2.0, size=(5, d))
    s_eval = np.linspace(0.0, 2.5, 26)
    sol = solve_ivp(ve_rhs(X0), (0.0, 2.5), x_T, t_eval=s_eval, rtol=1e-10, atol=1e-12)
    dist = np.linalg.norm(sol.y.T[:, None, :] - z[None], axis=2)  # (times, z)
    bound = ball_bound(x_T, s_eval[:, None], X0, 0.0, z[None])
    assert np.all(dist <= bound + 1e-9)
    far = np.linalg.norm(z[:, None] - X0[None], axis=2).max(1)
    assert np.all(bound <= np.maximum(np.linalg.norm(x_T - z, axis=1), far) + 1e-12)  # (A.2a)
    s0 = 0.2
    sv = np.linspace(s0, s0 + 2.5, 26)
    sol = solve_ivp(vp_rhs(X0), (s0, sv[-1]), x_T, t_eval=sv, rtol=1e-10, atol=1e-12)
    norms = np.linalg.norm(sol.y.T, axis=1)
    bound_vp = ball_bound_vp(x_T, sv, X0)
    assert np.all(norms <= bound_vp + 1e-9)
    R = max(np.linalg.norm(x_T), x_inf(X0))
    assert np.all(bound_vp <= math.sqrt(2) * R * (1 + 1e-15))  # (C.8)


def test_ball_bound_limits():
    X0 = np.array([[1.0, 0.0], [-1.0, 0.0]])
    assert ball_bound([3.0, 4.0], 0.0, X0, 0.0, [0.0, 0.0]) == pytest.approx(5.0)
    assert ball_bound([3.0, 4.0], 60.0, X0, 0.0, [0.0, 0.0]) == pytest.approx(1.0)
    assert ball_bound_vp([0.0, 0.0], 40.0, X0) == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------------
# Thm 5.1
# ---------------------------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(SEEDS, st.integers(1, 5))
def test_tikhonov_excess(seed, d):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(d, d))
    G = A @ A.T * rng.uniform(0.0, 10.0)
    s, v = rng.normal(size=(7, d)), rng.normal(scale=5.0, size=(7, d))
    lhs, rhs = tikhonov_excess(s, v, G)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12, atol=1e-12)
    inv = np.linalg.inv(np.eye(d) + G)
    excess = np.einsum("bi,ij,jk,bk->b", v, G, inv, v)  # twin: v^T Gamma (I + Gamma)^{-1} v
    u = v @ inv.T
    twin = np.einsum("bi,ij,bj->b", s - u, np.eye(d) + G, s - u) + excess
    np.testing.assert_allclose(rhs, twin, rtol=1e-11, atol=1e-11)
    lhs_min, _ = tikhonov_excess(u, v, G)
    np.testing.assert_allclose(lhs_min, excess, rtol=1e-11, atol=1e-11)
    assert np.all(lhs_min <= lhs + 1e-12)


# ---------------------------------------------------------------------------------------------
# invalid input
# ---------------------------------------------------------------------------------------------


def test_invalid_input():
    X0, delta, _ = seed1()
    with pytest.raises(ValueError, match="N must be >= 2"):
        weight_bounds_ve(0.0, 0.1, 1)
    with pytest.raises(ValueError, match="delta must be > 0"):
        weight_bounds_vp(0.0, 0.0, 3)
    with pytest.raises(ValueError, match="s must be finite"):
        weight_bounds_ve(np.inf, 0.1, 3)
    with pytest.raises(ValueError, match="l must differ from n"):
        shrunk_hyperplane(2, 2, 0.01, X0)
    with pytest.raises(ValueError, match="eps must be <"):
        shrunk_hyperplane(0, 1, 10.0, X0)
    with pytest.raises(ValueError, match="l must be <= 19"):
        shrunk_face_points(0, 20, 0.01, X0, np.zeros(2))
    with pytest.raises(ValueError, match="q must have last dimension 2"):
        shrunk_face_points(0, 1, 0.01, X0, np.zeros(3))
    with pytest.raises(ValueError, match="r must be >"):
        s_weight_vp(delta, X0, x_inf(X0))
    with pytest.raises(ValueError, match="delta must be <"):
        s_one_two_vp(d_minus(X0), X0)
    with pytest.raises(ValueError, match="X0 must hold at least 2"):
        s_one_two_vp(0.1, X0[:1])
    with pytest.raises(ValueError, match="y_star and x_n must be points"):
        lemma_4_13_k([0.0, 1.0], 1.0, [0.0], 3, 1.0, 0.1)
    with pytest.raises(ValueError, match="s_star must be > 0"):
        lemma_c_8_k([0.0], 0.0, [0.0], 3, 1.0, 0.1)
    with pytest.raises(ValueError, match="xinf must be > 0"):
        lemma_4_13_k([0.0], 1.0, [0.0], 3, 0.0, 0.1)
    with pytest.raises(ValueError, match="s must be >= s0"):
        ball_bound([1.0, 1.0], -1.0, X0, 0.0, [0.0, 0.0])
    with pytest.raises(ValueError, match="z must be points"):
        ball_bound([1.0, 1.0], 1.0, X0, 0.0, [0.0])
    with pytest.raises(ValueError, match="s must be > 0"):
        ball_bound_vp([1.0, 1.0], 0.0, X0)
    with pytest.raises(ValueError, match="Gamma must have shape"):
        tikhonov_excess([1.0, 0.0], [0.0, 1.0], np.eye(3))
    with pytest.raises(ValueError, match="Gamma"):
        tikhonov_excess([1.0, 0.0], [0.0, 1.0], [[1.0, 0.5], [0.0, 1.0]])
    with pytest.raises(ValueError, match="s and v must be vectors"):
        tikhonov_excess([1.0, 0.0], [0.0, 1.0, 2.0], np.eye(2))


# --- tiny delta, extreme s*, huge points, flags (no overflow, no silent NaN) -----------------

_X2 = np.array([[0.0, 0.0], [2.0, 0.0]])
_X3 = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 3.0]])


def test_constants_for_extreme_arguments():
    # delta = 5e-324 gave ZeroDivisionError; s* = 1e300 gave NaN (0 * inf)
    assert lemma_4_13_k([0.1], 1e300, [0.1], 2, 1.0, 1.0) == 0.0
    assert lemma_c_8_k([0.1], 1e300, [0.1], 2, 1.0, 1.0) == 1.0  # -> |x|_inf
    assert lemma_c_8_k([0.1], 1.797e308, [0.1], 2, 1.0, 1.0) == 1.0  # 2 s overflows
    # s* -> 0: log1p(-1) warned; K -> 4 (N-1) |x|_inf e^{-delta^2/4}/delta^2 + 2 |x|_inf
    assert lemma_c_8_k([0.1], 5e-324, [0.1], 2, 1.0, 1.0) == pytest.approx(4 * math.exp(-0.25) + 2)
    for call in (
        lambda: lemma_4_13_k([0.1], 0.0, [0.1], 2, 1.0, 5e-324),
        lambda: lemma_4_13_k([0.1], 1e300, [0.2], 2, 1.0, 1.0),
        lambda: lemma_c_8_k([0.1], 1.0, [0.1], 2, 1.0, 5e-324),
        lambda: tikhonov_excess([1e300, 0.0], [3.0, 0.0], np.eye(2)),
    ):
        with pytest.raises(ValueError, match="outside the float64 range"):
            call()
    s1, s2 = s_one_two_vp(5e-324, _X3)
    assert math.isfinite(s1) and math.isfinite(s2)
    assert s_weight_vp(5e-324, _X2, 2.5) == pytest.approx(
        -0.5 * (2 * math.log(5e-324) - math.log(2.0 * 8.0 * 2.5) + math.log(2.0))
    )


def test_huge_points_and_flags_are_refused():
    huge = np.array([[1e300, 0.0], [2.0, 0.0]])
    for call in (
        lambda: shrunk_hyperplane(0, 1, 1.0, huge),  # NaN offset
        lambda: shrunk_face_points(0, 1, 1.0, huge, [3.0, 0.5]),
        lambda: ball_bound([3.0, 4.0], 1.0, _X2, 0.0, [1e300, 0.0]),  # inf
        lambda: ball_bound_vp([1e300, 0.0], 1.0, _X2),
    ):
        with pytest.raises(ValueError, match="squared distances overflow"):
            call()
    for call in (
        lambda: weight_bounds_ve(1.0, 0.5, 3, log=np.nan),  # NaN was read as True
        lambda: weight_bounds_vp(1.0, 0.5, 3, log="yes"),
        lambda: s_weight_vp(1.0, _X2, 2.5, printed=1j),
        lambda: lemma_4_13_k([0.1], 0.0, [0.1], 2, 1.0, 1.0, printed=np.nan),
    ):
        with pytest.raises(ValueError, match="must be True or False"):
            call()


def test_lemma4_13_two_points_subnormal_stages():
    """A hypothesis example whose DOP853 stages went subnormal: 0/0 in scipy's error norm."""
    a = 1.0
    frac = pos = ds = 0.7665553923903363
    test_lemma4_13_two_points.hypothesis.inner_test(a, frac, pos, ds)
