"""Tests for diffmem_theory.voronoi.scores (paper 002: (3.8)/(3.9), (5.6)/(5.7), (5.11)/(5.12),
6.4).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diffmem_theory.core.schedules import VE, VPLinear
from diffmem_theory.registry import get_check
from diffmem_theory.voronoi import scores as vo

SCHEDULES = (VE.exp(), VE.linear2t(), VPLinear(0.001, 3.0))
SEEDS = st.integers(0, 2**31 - 1)
TIMES = st.floats(0.02, 1.0)
SCHED = st.sampled_from(SCHEDULES)


def _problem(seed, N=7, d=3, B=5):
    rng = np.random.default_rng(seed)
    return rng.uniform(-2, 2, (N, d)), rng.uniform(-2.5, 2.5, (B, d))


def twin_terms(x, t, X0, sched):
    """Plain NumPy (3.8)/(3.9): s^N, the unnormalized mass sum w~ and log p^N."""
    m, s2 = float(sched.alpha(t)), float(sched.sigma2(t))
    diff = x[:, None, :] - m * X0[None, :, :]
    logits = -np.sum(diff**2, axis=2) / (2 * s2)
    top = logits.max(axis=1, keepdims=True)
    w = np.exp(logits - top)
    w /= w.sum(axis=1, keepdims=True)
    score = -np.einsum("bn,bnd->bd", w, diff) / s2
    lse = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    log_p = lse - math.log(X0.shape[0]) - 0.5 * X0.shape[1] * math.log(2 * math.pi * s2)
    return score, lse, log_p


@settings(max_examples=25, deadline=None)
@given(seed=SEEDS, t=TIMES, sched=SCHED)
def test_empirical_score_and_density_match_twin(seed, t, sched):
    X0, x = _problem(seed)
    score, _, log_p = twin_terms(x, t, X0, sched)
    np.testing.assert_allclose(vo.empirical_score(x, t, X0, sched), score, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(vo.log_empirical_density(x, t, X0, sched), log_p, rtol=1e-12)
    np.testing.assert_allclose(
        vo.empirical_score(x, t, X0, sched, backend="numpy"), score, rtol=1e-10, atol=1e-10
    )


@settings(max_examples=25, deadline=None)
@given(seed=SEEDS, t=TIMES, sched=SCHED, c=st.floats(1e-4, 10.0))
def test_tikhonov_matches_twin(seed, t, sched, c):
    X0, x = _problem(seed)
    score, _, _ = twin_terms(x, t, X0, sched)
    s2 = float(sched.sigma2(t))
    np.testing.assert_allclose(
        vo.tikhonov_score(x, t, X0, sched, c), score * s2 / (s2 + c), rtol=1e-10, atol=1e-12
    )
    gamma = np.diag([c, 2 * c, 0.5])
    np.testing.assert_allclose(
        vo.tikhonov_score_gamma(x, t, X0, sched, gamma),
        score / (1 + np.diag(gamma)),
        rtol=1e-10,
        atol=1e-12,
    )


@settings(max_examples=25, deadline=None)
@given(seed=SEEDS, t=TIMES, sched=SCHED, log_c=st.floats(-30, 5), normalized=st.booleans())
def test_eb_matches_twin(seed, t, sched, log_c, normalized):
    X0, x = _problem(seed)
    score, lse, log_p = twin_terms(x, t, X0, sched)
    mass = np.exp(log_p if normalized else lse)
    c = math.exp(log_c)
    expected = score * (mass / np.maximum(mass, c))[:, None]
    out = vo.eb_score(x, t, X0, sched, c, normalized=normalized)
    np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-12)


def test_limits():
    X0, x = _problem(1)
    sched = VE.exp()
    s_n = vo.empirical_score(x, 0.3, X0, sched)
    np.testing.assert_array_equal(vo.tikhonov_score(x, 0.3, X0, sched, 0.0), s_n)
    np.testing.assert_array_equal(vo.eb_score(x, 0.3, X0, sched, 0.0), s_n)
    np.testing.assert_array_equal(vo.eb_score(x, 0.3, X0, sched, 0.0, normalized=True), s_n)
    # Tikhonov stays bounded as t -> 0; the empirical score blows up like 1/sigma^2
    assert np.all(np.isfinite(vo.tikhonov_score(x, 1e-9, X0, sched, 1e-3)))
    assert np.abs(vo.empirical_score(x, 1e-6, X0, sched)).max() > 1e5
    # a single training point: s^N = -(x - m x_0)/sigma^2 exactly (VP)
    vp = VPLinear(0.001, 3.0)
    m, s2 = float(vp.alpha(0.4)), float(vp.sigma2(0.4))
    np.testing.assert_allclose(
        vo.empirical_score(x, 0.4, X0[:1], vp), -(x - m * X0[0]) / s2, rtol=1e-12
    )


def test_per_query_times_and_single_query():
    X0, x = _problem(2)
    sched = VPLinear(0.001, 3.0)
    t = np.array([0.1, 0.5, 0.1, 0.9, 0.5])
    out = vo.empirical_score(x, t, X0, sched)
    for i in range(x.shape[0]):
        np.testing.assert_allclose(out[i], vo.empirical_score(x[i], t[i], X0, sched), rtol=1e-13)
    assert vo.empirical_score(x[0], 0.2, X0, sched).shape == (3,)
    g = vo.gaussian_score(x, t, np.eye(3), sched)
    m2s2 = sched.alpha(t) ** 2 + sched.sigma2(t)
    np.testing.assert_allclose(g, -x / m2s2[:, None], rtol=1e-12)


def test_conditional_score():
    X0, x = _problem(3, N=6)
    Y = np.array([[0.0, 1.0], [1.0, 1.0], [0.0, 1.0], [2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    sched = VE.exp()
    out = vo.conditional_empirical_score(x, 0.2, [0.0, 1.0], X0, Y, sched)
    np.testing.assert_allclose(out, vo.empirical_score(x, 0.2, X0[[0, 2, 4]], sched), rtol=1e-13)
    single = vo.conditional_empirical_score(x, 0.2, [2.0, 0.0], X0, Y, sched)
    np.testing.assert_allclose(single, -(x - X0[3]) / float(sched.sigma2(0.2)), rtol=1e-12)


def test_gaussian_score_with_mean_vp():
    sched = VPLinear(0.001, 3.0)
    C = np.array([[2.0, 0.5], [0.5, 1.0]])
    mu = np.array([1.0, -1.0])
    x = np.array([[0.3, 0.4], [-1.0, 2.0]])
    m, s2 = float(sched.alpha(0.7)), float(sched.sigma2(0.7))
    expected = -np.linalg.solve(m * m * C + s2 * np.eye(2), (x - m * mu).T).T
    np.testing.assert_allclose(vo.gaussian_score(x, 0.7, C, sched, mu), expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda X0, x, s: vo.tikhonov_score(x, 0.3, X0, s, -1.0), "c"),
        (lambda X0, x, s: vo.eb_score(x, 0.3, X0, s, -1.0), "c"),
        (lambda X0, x, s: vo.eb_score(x, 0.3, X0, s, 1.0, normalized="yes"), "normalized"),
        (lambda X0, x, s: vo.empirical_score(x, 0.0, X0, s), "t"),
        (lambda X0, x, s: vo.empirical_score(x, 0.3, X0[:, :2], s), "X0"),
        (lambda X0, x, s: vo.empirical_score(np.zeros((2, 2, 2)), 0.3, X0, s), "x"),
        (lambda X0, x, s: vo.tikhonov_score_gamma(x, 0.3, X0, s, np.eye(2)), "gamma"),
        (lambda X0, x, s: vo.tikhonov_score_gamma(x, 0.3, X0, s, -np.eye(3)), "gamma"),
        (
            lambda X0, x, s: vo.tikhonov_score_gamma(x, 0.3, X0, s, np.triu(np.ones((3, 3)))),
            "gamma",
        ),
        (lambda X0, x, s: vo.conditional_empirical_score(x, 0.3, 5.0, X0, np.zeros(7), s), "y"),
        (lambda X0, x, s: vo.conditional_empirical_score(x, 0.3, 0.0, X0, np.zeros(3), s), "Y"),
        (lambda X0, x, s: vo.gaussian_score(x, 0.3, np.eye(2), s), "C"),
        (lambda X0, x, s: vo.gaussian_score(x, 0.3, -np.eye(3), s), "C"),
        (lambda X0, x, s: vo.gaussian_score(x, 0.3, np.eye(3), s, np.zeros(2)), "mean"),
        (lambda X0, x, s: vo.gaussian_score(x, 2.0, np.eye(3), s), "t"),
    ],
)
def test_value_errors(call, match):
    X0, x = _problem(4)
    with pytest.raises(ValueError, match=match):
        call(X0, x, VE.exp())


@pytest.mark.parametrize(
    "name",
    [
        "thm3_2_tweedie",
        "thm3_2_gradient",
        "eq5_7_tikhonov",
        "eq5_11_eb",
        "thm6_4",
        "thm6_4_printed",
        "remark3_7_score",
        "remark3_7_printed",
    ],
)
def test_registered_checks(name):
    result = get_check(f"paper002.{name}").run()
    assert result.passed, result.note
    assert result.status == ("erratum" if name.endswith("printed") else "pass")


def test_tikhonov_gamma_time_dependent_per_row():
    """Gamma(t) callable with one time per row equals (5.7) row by row; non-SPD Gamma(t) raises."""
    rng = np.random.default_rng(21)
    X0, x = rng.normal(size=(6, 2)), rng.normal(size=(5, 2))
    sched, c = VE.exp(), 0.05
    t = np.array([0.1, 0.5, 0.1, 0.9, 0.5])
    gam = lambda s: (c / float(sched.sigma2(s))) * np.eye(2)  # noqa: E731
    np.testing.assert_allclose(
        vo.tikhonov_score_gamma(x, t, X0, sched, gam),
        vo.tikhonov_score(x, t, X0, sched, c),
        rtol=1e-12,
    )
    with pytest.raises(ValueError, match=r"gamma\(t\)"):
        vo.tikhonov_score_gamma(x, t, X0, sched, lambda s: -np.eye(2))


def test_gaussian_score_schedule_by_name_or_type_error():
    x, cov = np.array([1.0, 2.0]), np.diag([1.0, 4.0])
    by_name = vo.gaussian_score(x, 0.5, cov, "VPLinear")
    np.testing.assert_array_equal(by_name, vo.gaussian_score(x, 0.5, cov, VPLinear()))
    with pytest.raises(TypeError, match="schedule is required"):
        vo.gaussian_score(x, 0.5, cov, None)
