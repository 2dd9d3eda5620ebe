"""The errata of Baptista et al. (paper 002): catalogue, erratum checks and ``printed=`` forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from diffmem_theory.core.schedules import VE, VPLinear
from diffmem_theory.registry import get_check, list_checks, list_errata
from diffmem_theory.voronoi.bounds import ball_bound, s_time_log_weights
from diffmem_theory.voronoi.scores import conditional_empirical_score, gaussian_score

ERRATUM_CHECKS = (
    "paper002.thm6_4_printed",
    "paper002.remark3_7_printed",
    "paper002.lemma4_13_delta_printed",
    "paper002.lemmaC_5_sD_printed",
    "paper002.g_exp_printed",
)


def test_every_erratum_check_has_a_catalogue_entry():
    checks = {c.name for c in list_checks("002") if c.erratum}
    assert checks == set(ERRATUM_CHECKS)
    entries = list_errata("002")
    assert {e.check for e in entries if e.check is not None} == checks
    for e in entries:
        assert e.where and e.printed and e.correction
        assert bool(e.counterexample) == (e.check is not None), e.name


def test_erratum_checks_live_in_the_errata_module():
    for name in ERRATUM_CHECKS:
        spec = get_check(name)
        assert spec.erratum
        assert spec.func.__module__ == "diffmem_theory.voronoi.errata"


@pytest.mark.parametrize("name", ERRATUM_CHECKS)
def test_erratum_checks_reproduce_the_counterexample(name):
    result = get_check(name).run()
    assert result.status == "erratum", result.note


def test_conditional_score_printed_is_the_printed_formula():
    """Thm 6.4 as printed, summed directly: (1/|I_j|) sum_{I_j} (x - m x_0^n) w_n / sigma^2."""
    rng = np.random.default_rng(3)
    X0, x = rng.uniform(-2, 2, (9, 2)), rng.uniform(-2.5, 2.5, (12, 2))
    Y = np.array([0.0, 1.0, 0.0, 2.0, 1.0, 0.0, 3.0, 1.0, 0.0])
    for sched, t in ((VE.exp(), 0.3), (VPLinear(0.001, 3.0), 0.6)):
        m, s2 = float(sched.alpha(t)), float(sched.sigma2(t))
        keep = Y == 1.0
        diff = x[:, None, :] - m * X0[None, :, :]
        logits = -np.sum(diff**2, axis=2) / (2.0 * s2)
        w = np.exp(logits - logits.max(axis=1, keepdims=True))
        w /= w.sum(axis=1, keepdims=True)
        want = np.einsum("bn,bnd->bd", w[:, keep], diff[:, keep]) / (keep.sum() * s2)
        got = conditional_empirical_score(x, t, 1.0, X0, Y, sched, printed=True)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
        assert got.shape == x.shape
        one = conditional_empirical_score(x[0], t, 1.0, X0, Y, sched, printed=True)
        np.testing.assert_allclose(one, want[0], rtol=1e-12, atol=1e-14)


def test_gaussian_score_printed_drops_m_squared():
    sched = VPLinear(0.001, 3.0)
    C = np.array([[2.0, 0.3], [0.3, 1.0]])
    x = np.array([[0.3, 0.4], [-1.0, 2.0]])
    s2 = float(sched.sigma2(0.5))
    want = -np.linalg.solve(C + s2 * np.eye(2), x.T).T
    got = gaussian_score(x, 0.5, C, sched, printed=True)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    ve = VE.exp()  # m = 1: the printed form is right
    np.testing.assert_array_equal(
        gaussian_score(x, 0.5, C, ve, printed=True), gaussian_score(x, 0.5, C, ve)
    )
    with pytest.raises(ValueError, match="printed"):
        gaussian_score(x, 0.5, C, sched, printed="yes")


@pytest.mark.parametrize("vp", [False, True])
def test_s_time_log_weights(vp):
    rng = np.random.default_rng(1)
    X0, Y = rng.normal(size=(7, 3)), rng.normal(size=(5, 3))
    s = 0.8
    m = math.sqrt(-math.expm1(-2.0 * s)) if vp else 1.0
    logits = -0.5 * math.exp(2 * s) * ((Y[:, None] - m * X0[None]) ** 2).sum(-1)
    want = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    np.testing.assert_allclose(s_time_log_weights(Y, s, X0, vp=vp), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(s_time_log_weights(Y[0], s, X0, vp=vp), want[0], atol=1e-12)
    far = s_time_log_weights(Y, 400.0, X0, vp=vp)  # e^{800}: weights 0 and 1, logs -inf and 0
    assert np.all(np.isfinite(far.max(axis=1))) and np.all(far.max(axis=1) == 0.0)
    assert not np.any(np.isnan(far))


def test_s_time_log_weights_value_errors():
    X0 = np.zeros((2, 2)) + np.array([[0.0], [1.0]])
    with pytest.raises(ValueError, match="s must be > 0"):
        s_time_log_weights([0.0, 0.0], 0.0, X0, vp=True)
    with pytest.raises(ValueError, match="y"):
        s_time_log_weights([0.0, 0.0, 0.0], 1.0, X0)
    with pytest.raises(ValueError, match="vp"):
        s_time_log_weights([0.0, 0.0], 1.0, X0, vp="no")


def test_ball_bound_default_centre_is_the_origin():
    X0 = np.array([[1.0, 0.0], [-1.0, 0.5]])
    x_T = np.array([[3.0, 4.0], [-2.0, 1.0]])
    s = np.array([[0.0], [0.5], [3.0]])
    np.testing.assert_array_equal(ball_bound(x_T, s, X0, 0.0), ball_bound(x_T, s, X0, 0.0, [0, 0]))
