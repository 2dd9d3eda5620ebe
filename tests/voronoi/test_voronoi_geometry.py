"""Tests for diffmem_theory.voronoi.geometry (paper 002, Voronoi cells, constants, rates)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial.distance import pdist

from diffmem_theory.core.metrics import memorization_fraction
from diffmem_theory.voronoi.geometry import (
    alpha_n,
    classify_limit,
    convergence_rate_fit,
    d_minus,
    d_plus,
    in_shrunk_cell,
    l_eps,
    s_alpha,
    voronoi_index,
    x_inf,
)

SEEDS = st.integers(0, 2**31 - 1)


def seed1_data():
    """The 20-point data set of Sec. 4.4 (authors' ``np.random.seed(1); randn(20, 2)``)."""
    return np.random.RandomState(1).randn(20, 2)  # same stream as np.random.seed(1)


def random_problem(seed, n_max=12, d_max=4, b=30):
    rng = np.random.default_rng(seed)
    N = int(rng.integers(2, n_max + 1))
    d = int(rng.integers(1, d_max + 1))
    return rng, rng.normal(size=(N, d)), rng.normal(scale=1.5, size=(b, d))


def brute_sq(samples, X):
    diff = samples[:, None, :] - X[None, :, :]
    return (diff * diff).sum(-1)


# ---------------------------------------------------------------------------------------------
# reference values of the 20 points (computed once with NumPy in float64)
# ---------------------------------------------------------------------------------------------


def test_seed1_constants():
    X0 = seed1_data()
    np.testing.assert_allclose(X0[0], [1.624345, -0.611756], atol=1e-6)
    np.testing.assert_allclose(X0[-1], [1.659802, 0.742044], atol=1e-6)
    assert d_minus(X0) == pytest.approx(0.0762083, abs=1e-7)
    assert d_plus(X0) == pytest.approx(4.1035017, abs=1e-7)
    assert x_inf(X0) == pytest.approx(2.5262501, abs=1e-7)
    nn = np.sqrt(2 * alpha_n(1e-12, X0))  # alpha_n(delta -> 0) = D_n^2 / 2
    assert nn.mean() == pytest.approx(0.43759, abs=1e-5)
    assert np.median(nn) == pytest.approx(0.37705, abs=1e-5)


def test_seed1_memorization_and_cells():
    X0 = seed1_data()
    assert memorization_fraction(X0 + 1e-3, X0) == 1.0
    assert memorization_fraction(X0 + 1e-3, X0, 1e-3) == 0.0
    assert voronoi_index(X0, X0).tolist() == list(range(20))
    assert in_shrunk_cell(X0, None, 0.99 * d_minus(X0), X0).all()


# ---------------------------------------------------------------------------------------------
# brute-force twins
# ---------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(SEEDS)
def test_cells_twin(seed):
    rng, X0, Y = random_problem(seed)
    sq = brute_sq(Y, X0)
    np.testing.assert_array_equal(voronoi_index(Y, X0), sq.argmin(1))
    delta = float(rng.uniform(0, 1))
    n = int(rng.integers(X0.shape[0]))
    others = np.delete(sq, n, axis=1)
    want = np.all(sq[:, [n]] < others - delta**2, axis=1)  # the definition, literally
    np.testing.assert_array_equal(in_shrunk_cell(Y, n, delta, X0), want)
    own = sq.argmin(1)
    want_any = [np.all(np.delete(r, k) - delta**2 > r[k]) for r, k in zip(sq, own, strict=True)]
    np.testing.assert_array_equal(in_shrunk_cell(Y, None, delta, X0), want_any)
    assert in_shrunk_cell(Y[0], n, delta, X0) == bool(want[0])


@settings(max_examples=40, deadline=None)
@given(SEEDS)
def test_constants_twin(seed):
    _, X0, Y = random_problem(seed)
    dist = pdist(X0)
    assert d_minus(X0) == pytest.approx(dist.min(), rel=1e-12)
    assert d_plus(X0) == pytest.approx(dist.max(), rel=1e-12)
    assert x_inf(X0) == pytest.approx(np.linalg.norm(X0, axis=1).max(), rel=1e-12)
    got = memorization_fraction(Y, X0, 0.7)
    assert got == np.mean(np.sqrt(brute_sq(Y, X0).min(1)) < 0.7)


@settings(max_examples=40, deadline=None)
@given(SEEDS)
def test_alpha_n_closed_form_and_witness(seed):
    """alpha_n = min over faces of (4.13)'s constant, attained on the nearest-neighbour face."""
    rng, X0, _ = random_problem(seed)
    N = X0.shape[0]
    delta = float(rng.uniform(0.05, 0.95)) * d_minus(X0)
    alphas = alpha_n(delta, X0)
    sq = brute_sq(X0, X0)
    for n in range(N):
        faces = 0.5 * (np.delete(sq[n], n) - delta**2)
        assert alphas[n] == pytest.approx(faces.min(), rel=1e-12)
        assert alpha_n(delta, X0, n) == alphas[n]
        # witness on the nearest-neighbour face: in the closure of V_delta, on face l*,
        # inside B(0, |x|_inf), and (4.13)'s inner product equals alpha_n
        row = sq[n].copy()
        row[n] = np.inf
        ls = int(row.argmin())
        D = np.sqrt(row[ls])
        y = X0[n] + (D**2 - delta**2) / (2 * D) * (X0[ls] - X0[n]) / D
        gaps = brute_sq(y[None], X0)[0] - np.sum((y - X0[n]) ** 2)
        assert np.all(np.delete(gaps, n) >= delta**2 - 1e-9)
        assert ls in l_eps(y, n, delta, X0).tolist()
        assert np.linalg.norm(y) <= x_inf(X0) + 1e-12
        assert np.dot(X0[n] - y, X0[n] - X0[ls]) == pytest.approx(alphas[n], rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(SEEDS)
def test_l_eps_on_a5_points(seed):
    """Lemma 4.5 (A.5): y built from a random q perpendicular to x_n - x_l lies on face l."""
    rng, X0, _ = random_problem(seed, d_max=3)
    N, d = X0.shape
    n, ell = rng.choice(N, size=2, replace=False)
    eps = float(rng.uniform(0, 0.9)) * d_minus(X0)
    v = X0[n] - X0[ell]
    q = rng.normal(size=d)
    q -= np.dot(q, v) / np.dot(v, v) * v
    y = X0[n] - (0.5 * v - 0.5 * eps**2 * v / np.dot(v, v) + q)
    assert int(ell) in l_eps(y, int(n), eps, X0).tolist()
    assert int(n) not in l_eps(y, int(n), eps, X0).tolist()
    assert l_eps(y + 0.1 * v / np.linalg.norm(v), int(n), eps, X0).tolist().count(int(ell)) == 0


@settings(max_examples=30, deadline=None)
@given(SEEDS)
def test_s_alpha_is_the_threshold_of_431(seed):
    rng, X0, _ = random_problem(seed)
    N = X0.shape[0]
    delta = float(rng.uniform(0.1, 0.9)) * d_minus(X0)
    a = float(alpha_n(delta, X0).min())
    lhs = lambda s: (N - 1) * np.exp(-np.exp(2 * s) * delta**2 / 2) * x_inf(X0)  # noqa: E731
    rhs = a / (4 * d_plus(X0))
    s = s_alpha(delta, X0)
    if np.isfinite(s):
        assert lhs(s + 1e-6) < rhs
        assert lhs(s - 1e-3) >= rhs
        assert lhs(s) == pytest.approx(rhs, rel=1e-6)
    assert s_alpha(delta, X0, s0=s + 5.0 if np.isfinite(s) else 1.0) >= s
    n = int(rng.integers(N))
    assert s_alpha(delta, X0, n) <= s + 1e-12


def test_s_alpha_clamped_at_s0():
    X0 = np.array([[0.0], [1.0]])
    s = s_alpha(0.5, X0)
    assert np.isfinite(s)
    assert s_alpha(0.5, X0, s0=10.0) == 10.0


# ---------------------------------------------------------------------------------------------
# limits and rates
# ---------------------------------------------------------------------------------------------


def test_classify_limit_example_4_4():
    """Ex. 4.4: x_0 = +-a e_1; the bisector x_1 = 0 is a boundary, off-axis limits are data."""
    X0 = np.array([[1.0, 0.0], [-1.0, 0.0]])
    pts = np.array([[1.0 + 1e-4, 0.0], [-1.0, 2e-3], [0.0, 0.0], [1e-4, 5.0], [0.4, 0.0]])
    res = classify_limit(pts, X0, tol=1e-2)
    assert res.kind.tolist() == ["data", "data", "boundary", "boundary", "neither"]
    assert res.index[:2].tolist() == [0, 1]
    np.testing.assert_allclose(res.distance[0], 1e-4, rtol=1e-9)
    np.testing.assert_allclose(res.bisector_distance[3], 1e-4, rtol=1e-6)
    one = classify_limit(np.array([[0.3, 0.0]]), X0[:1], tol=0.1)
    assert one.kind.tolist() == ["neither"] and np.isinf(one.bisector_distance[0])


@settings(max_examples=30, deadline=None)
@given(SEEDS)
def test_classify_limit_twin(seed):
    rng, X0, Y = random_problem(seed)
    tol = float(rng.uniform(0.05, 0.5))
    res = classify_limit(Y, X0, tol)
    sq = brute_sq(Y, X0)
    order = np.argsort(sq, axis=1)
    d1 = np.sqrt(sq[np.arange(len(Y)), order[:, 0]])
    sep = np.linalg.norm(X0[order[:, 0]] - X0[order[:, 1]], axis=1)
    bis = (np.sort(sq, axis=1)[:, 1] - d1**2) / (2 * sep)
    want = np.where(d1 <= tol, "data", np.where(bis <= tol, "boundary", "neither"))
    np.testing.assert_array_equal(res.kind, want)
    np.testing.assert_allclose(res.bisector_distance, bis, rtol=1e-9, atol=1e-12)
    # the bisector distance brackets the distance to dV from above; (d2 - d1)/2 from below
    d2 = np.sqrt(np.sort(sq, axis=1)[:, 1])
    assert np.all(res.bisector_distance >= (d2 - d1) / 2 - 1e-12)


def test_rate_fit_recovers_known_slope():
    rng = np.random.default_rng(0)
    sig = np.geomspace(1e-5, 1e-2, 60)
    dist = 2.7 * sig**1.0 * np.exp(rng.normal(scale=0.05, size=sig.size))
    fit = convergence_rate_fit(sig, dist)
    ref = stats.linregress(np.log(sig), np.log(dist))
    assert fit.slope == pytest.approx(ref.slope, rel=1e-12)
    assert fit.intercept == pytest.approx(ref.intercept, rel=1e-12)
    assert fit.stderr == pytest.approx(ref.stderr, rel=1e-10)
    assert fit.intercept_stderr == pytest.approx(ref.intercept_stderr, rel=1e-10)
    assert abs(fit.slope - 1.0) < 3 * fit.stderr + 1e-12
    assert fit.n_points == 60
    exact = convergence_rate_fit(sig, 0.5 * sig**0.5)
    assert exact.slope == pytest.approx(0.5, abs=1e-12)
    assert exact.stderr == pytest.approx(0.0, abs=1e-10)


def test_rate_fit_on_voronoi_ode_closed_form():
    """Sec. 1.7: y(s) = x_0^n + e^{-(s - s1)} (y(s1) - x_0^n); with sigma = e^{-s} slope 1."""
    X0 = seed1_data()
    y1 = X0[3] + np.array([0.01, -0.02])
    s = np.linspace(2.0, 12.0, 40)
    path = X0[3] + np.exp(-(s - 2.0))[:, None] * (y1 - X0[3])
    res = classify_limit(path[-1:], X0, 1e-2)
    assert res.kind[0] == "data" and res.index[0] == 3
    fit = convergence_rate_fit(np.exp(-s), np.linalg.norm(path - X0[3], axis=1))
    assert fit.slope == pytest.approx(1.0, abs=1e-10)


# ---------------------------------------------------------------------------------------------
# ValueErrors
# ---------------------------------------------------------------------------------------------


def test_value_errors():
    X0 = np.array([[0.0, 0.0], [1.0, 0.0]])
    with pytest.raises(ValueError, match="X0"):
        voronoi_index(np.zeros((3, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="x"):
        voronoi_index(np.array([[np.nan, 0.0]]), X0)
    with pytest.raises(ValueError, match="delta"):
        in_shrunk_cell(np.zeros(2), 0, -1.0, X0)
    with pytest.raises(ValueError, match="n"):
        in_shrunk_cell(np.zeros(2), 2, 0.1, X0)
    with pytest.raises(ValueError, match="X0"):
        d_minus(X0[:1])
    with pytest.raises(ValueError, match="X0"):
        d_plus(np.zeros((0, 2)))
    with pytest.raises(ValueError, match="delta"):
        alpha_n(1.0, X0)
    with pytest.raises(ValueError, match="delta"):
        alpha_n(0.0, X0)
    with pytest.raises(ValueError, match="distinct"):
        alpha_n(0.1, np.array([[0.0], [0.0], [1.0]]))
    with pytest.raises(ValueError, match="n"):
        alpha_n(0.1, X0, 5)
    with pytest.raises(ValueError, match="s0"):
        s_alpha(0.1, X0, s0=np.nan)
    with pytest.raises(ValueError, match="eps"):
        l_eps(np.zeros(2), 0, -0.1, X0)
    with pytest.raises(ValueError, match="x"):
        l_eps(np.zeros((1, 2)), 0, 0.1, X0)
    with pytest.raises(ValueError, match="tol"):
        classify_limit(np.zeros((1, 2)), X0, tol=-1.0)
    with pytest.raises(ValueError, match="same length"):
        convergence_rate_fit([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="at least 3"):
        convergence_rate_fit([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="sigma"):
        convergence_rate_fit([1.0, -2.0, 3.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="distance"):
        convergence_rate_fit([1.0, 2.0, 3.0], [1.0, 0.0, 3.0])
    with pytest.raises(ValueError, match="distinct"):
        convergence_rate_fit([1.0, 1.0, 1.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="tau"):
        memorization_fraction(np.zeros((1, 2)), X0, 0.0)
    with pytest.raises(ValueError, match="samples"):
        memorization_fraction(np.zeros((0, 2)), X0)


# --- huge coordinates, huge gaps, tiny delta, result records --------------------------------------

_X0 = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 3.0]])
_HUGE = np.array([[1e300, 0.0], [2.0, 0.0], [0.0, 3.0]])


@pytest.mark.parametrize(
    "call",
    [
        lambda: d_minus(_HUGE),  # RuntimeWarning (overflow) in the distances
        lambda: d_plus(_HUGE),  # inf
        lambda: x_inf(_HUGE),  # inf
        lambda: alpha_n(1.0, _HUGE),  # inf
        lambda: s_alpha(1.0, _HUGE),  # inf
        lambda: classify_limit(np.array([[1e300, 0.0]]), _X0),  # NaN bisector distance
        lambda: voronoi_index(np.array([1e300, 0.0]), _X0),
        lambda: memorization_fraction(np.array([[1e300, 0.0]]), _X0),
        lambda: in_shrunk_cell(np.array([[1e300, 0.0]]), 0, 1.0, _X0),
        lambda: l_eps(np.array([1e300, 0.0]), 0, 1.0, _X0),
    ],
)
def test_points_whose_squared_distances_overflow_are_refused(call):
    with pytest.raises(ValueError, match="squared distances overflow float64"):
        call()


def test_extreme_gaps_and_delta():
    assert d_plus(_X0 * 1e140) == pytest.approx(np.sqrt(13.0) * 1e140)
    # delta^2 overflowed (OverflowError): no finite gap exceeds an infinite one
    x = np.array([[0.0], [0.7]])
    assert in_shrunk_cell(x, 0, 1e300, np.array([[0.0], [2.0]])).tolist() == [False, False]
    assert l_eps(np.array([0.75, 0.3]), 0, 1e300, _X0).tolist() == []
    # delta = 5e-324 gave a ZeroDivisionError: s_alpha = (1/2) log((2/delta^2) log A)
    assert s_alpha(5e-324, _X0) == pytest.approx(
        0.5 * (np.log(2.0) - 2 * np.log(5e-324) + np.log(s_alpha_log_a(_X0))), rel=1e-12
    )


def s_alpha_log_a(X0):
    """log A = log(4 D^+ (N - 1) |x|_inf / min alpha_n) of (4.31), at delta -> 0."""
    return np.log(4.0 * d_plus(X0) * (len(X0) - 1) * x_inf(X0) / (0.5 * d_minus(X0) ** 2))


def test_result_records_validate_their_fields():
    from diffmem_theory.voronoi.geometry import LimitClassification, RateFit

    with pytest.raises(ValueError, match="slope must be"):
        RateFit(np.nan, 0.0, 0.1, 0.1, 5)
    with pytest.raises(ValueError, match="stderr must be >= 0"):
        RateFit(1.0, 0.0, -0.1, 0.1, 5)
    with pytest.raises(ValueError, match="n_points must be >= 3"):
        RateFit(1.0, 0.0, 0.1, 0.1, 2)
    good = classify_limit(np.array([[0.999, 0.0], [0.0, 0.3]]), np.array([[1.0, 0.0], [-1, 0]]))
    with pytest.raises(ValueError, match="distance must be finite"):
        LimitClassification(good.kind, good.index, np.array([np.nan, 1.0]), good.bisector_distance)
    with pytest.raises(ValueError, match="kind must be a 1-D array of labels"):
        LimitClassification(np.array(["x", "data"]), good.index, good.distance, good.distance)
    one = classify_limit(np.array([[0.5, 0.0]]), np.array([[1.0, 0.0]]))  # N = 1: inf allowed
    assert np.isinf(one.bisector_distance[0])
