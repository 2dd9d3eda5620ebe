"""Tests of the empirical-score reverse dynamics (paper 002, §4, App. C, §5)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from diffmem_theory.core.metrics import memorization_fraction
from diffmem_theory.core.schedules import OU, VE, FlowMatching, VPExp, VPLinear, VPTrig
from diffmem_theory.kernels import _dopri
from diffmem_theory.voronoi.dynamics import (
    SCORES,
    initial_states,
    reverse_ode,
    reverse_sde,
    s_time_velocity,
    solve_s_time,
    t_time_velocity,
    voronoi_ode,
)
from diffmem_theory.voronoi.geometry import convergence_rate_fit

SEED1 = np.random.RandomState(1).randn(20, 2)
VE_EXP = VE.exp()
VP_LIN = VPLinear(0.001, 3.0)
T_SCHEDULES = [
    VE_EXP,
    VE.linear2t(),
    VE.power(2.0),
    VP_LIN,
    OU(),
    VPExp(),
    VPTrig(),
    FlowMatching(),
]


def _nearest(x: np.ndarray, X0: np.ndarray) -> np.ndarray:
    return np.argmin(((x[:, None, :] - X0[None]) ** 2).sum(-1), axis=1)


# --- the compiled vector field against its NumPy twins -------------------------------------
@pytest.mark.parametrize("family", ["VE", "VP"])
@pytest.mark.parametrize("score", SCORES)
def test_s_field_matches_numpy(family: str, score: str) -> None:
    rng = np.random.default_rng(3)
    X0, y = rng.normal(size=(7, 3)), 2.0 * rng.normal(size=(25, 3))
    c = 1e-2 if score == "tikhonov" else 0.3
    mode = _dopri.S_VE if family == "VE" else _dopri.S_VP
    code = {"empirical": 0, "tikhonov": 0, "eb": 1, "eb_normalized": 2}[score]
    c_map = c if score == "tikhonov" else 0.0
    log_ceb = np.log(c) if score.startswith("eb") else 0.0
    for s in (0.2, 1.0, 2.0):
        ours = _dopri.velocity_batch(
            s, y, np.ascontiguousarray(X0.T), mode, 0, np.zeros(3), c_map, code, log_ceb
        )
        twin = s_time_velocity(y, s, X0, family=family, score=score, c=c)
        np.testing.assert_allclose(ours, twin, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("schedule", T_SCHEDULES, ids=lambda s: s.name)
@pytest.mark.parametrize("score", SCORES)
def test_t_field_matches_scores(schedule, score: str) -> None:
    from diffmem_theory.voronoi.dynamics import _score_args

    rng = np.random.default_rng(4)
    X0, x = rng.normal(size=(6, 2)), 2.0 * rng.normal(size=(20, 2))
    c = 1e-2 if score == "tikhonov" else 0.5
    spec = schedule.kernel_spec()  # the schedule describes itself to the kernel
    kind, params = _dopri.KINDS[spec.kind], np.array(spec.params)
    kernel_score, c_map, log_ceb = _score_args(score, c)
    code = _dopri.SCORES[kernel_score]
    XT = np.ascontiguousarray(X0.T)
    for t in (0.05, 0.4, 0.9):
        ours = _dopri.velocity_batch(t, x, XT, _dopri.T_TIME, kind, params, c_map, code, log_ceb)
        twin = t_time_velocity(x, t, X0, schedule, score=score, c=c)
        np.testing.assert_allclose(ours, twin, rtol=1e-10, atol=1e-10)


def test_s_and_t_fields_agree_through_ds_dt() -> None:
    """dx/dt = (ds/dt) dx/ds: the s-time ODEs (4.24), (C.6) are (4.1) in another clock."""
    rng = np.random.default_rng(5)
    X0, x = rng.normal(size=(5, 2)), rng.normal(size=(10, 2))
    for sched, family in ((VE_EXP, "VE"), (VP_LIN, "VP")):
        for t in (0.1, 0.6):
            s = float(sched.s_time(t))
            lhs = t_time_velocity(x, t, X0, sched)
            rhs = float(sched.ds_dt(t)) * s_time_velocity(x, s, X0, family=family)
            np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-12)


# --- exact single-point trajectories (notes §2, [mine]) -------------------------------------
@pytest.mark.parametrize("time", ["s", "t"])
@pytest.mark.parametrize("schedule", [VE_EXP, VP_LIN], ids=["VE", "VP"])
def test_one_data_point_is_exact(schedule, time: str) -> None:
    rng = np.random.default_rng(6)
    x0 = rng.normal(size=(1, 3))
    x_T = 2.0 * rng.normal(size=(8, 3))
    save = np.geomspace(1.0, 1e-6, 13)
    sol = reverse_ode(x_T, x0, schedule, 1e-6, time=time, save_t=save, rtol=1e-11, atol=1e-13)
    assert sol.success
    m, sig = schedule.alpha(save), schedule.sigma(save)
    exact = m[None, :, None] * x0[0] + (sig / sig[0])[None, :, None] * (
        x_T[:, None, :] - m[0] * x0[0]
    )
    np.testing.assert_allclose(sol.x, exact, rtol=0.0, atol=1e-8)


def test_one_data_point_tikhonov_to_t0() -> None:
    """Tikhonov (5.8) with N = 1 is linear: x(0) = x_0 + sqrt(c/(sigma_T^2 + c)) (x_T - x_0)."""
    x0, x_T, c = np.array([[0.3, -0.4]]), np.array([[2.0, 1.0]]), 1e-2
    for time in ("s", "t"):
        sol = reverse_ode(x_T, x0, VE_EXP, 0.0, time=time, score="tikhonov", c=c, rtol=1e-10)
        ratio = np.sqrt(c / (float(VE_EXP.sigma2(1.0)) + c))
        np.testing.assert_allclose(sol.final, x0 + ratio * (x_T - x0), atol=1e-8)


# --- against SciPy's RK45 ----------------------------------------------------------------
@settings(max_examples=12, deadline=None)
@given(
    n=st.integers(2, 6),
    d=st.integers(1, 3),
    seed=st.integers(0, 2**31 - 1),
    vp=st.booleans(),
)
def test_matches_solve_ivp(n: int, d: int, seed: int, vp: bool) -> None:
    """Same tableau and controller as RK45: per trajectory, the same limits and positions."""
    rng = np.random.default_rng(seed)
    sched = VP_LIN if vp else VE_EXP
    X0 = rng.uniform(-2, 2, (n, d))
    x_T = float(sched.sigma(1.0)) * rng.normal(size=(3, d))
    save = np.geomspace(1.0, 1e-3, 7)
    sol = reverse_ode(x_T, X0, sched, 1e-3, time="t", save_t=save, rtol=1e-8, atol=1e-8)
    for b in range(3):
        ref = solve_ivp(
            lambda t, y: t_time_velocity(y, t, X0, sched),
            (1.0, 1e-3),
            x_T[b],
            method="RK45",
            rtol=1e-8,
            atol=1e-8,
            t_eval=save,
        )
        assert ref.success
        np.testing.assert_allclose(sol.x[b], ref.y.T, rtol=0, atol=1e-6)
        assert _nearest(sol.x[b, -1:], X0)[0] == _nearest(ref.y.T[-1:], X0)[0]


def test_same_steps_as_solve_ivp() -> None:
    """On one trajectory the step sequence is SciPy's (identical step counts)."""
    x_T = np.array([1.3, -2.2])
    sol = reverse_ode(x_T, SEED1, VE_EXP, 1e-2, time="t", rtol=1e-6, atol=1e-6)
    ref = solve_ivp(
        lambda t, y: t_time_velocity(y, t, SEED1, VE_EXP),
        (1.0, 1e-2),
        x_T,
        method="RK45",
        rtol=1e-6,
        atol=1e-6,
    )
    assert sol.nfev[0] == ref.nfev
    np.testing.assert_allclose(sol.final[0], ref.y[:, -1], atol=1e-12)


# --- Thm 4.3: limits and rates ----------------------------------------------------------
def test_gaussian_starts_end_at_data() -> None:
    """Notes §4: fraction within 1e-2 of the data at t = 1e-6 is >= 0.998 (VE and VP)."""
    rng = np.random.default_rng(7)
    for sched in (VE_EXP, VP_LIN):
        x_T = float(sched.sigma(1.0)) * rng.normal(size=(1000, 2))
        sol = reverse_ode(x_T, SEED1, sched, 1e-6, rtol=1e-6, atol=1e-8)
        assert sol.success
        assert memorization_fraction(sol.final, SEED1, 1e-2) >= 0.998


@settings(max_examples=10, deadline=None)
@given(n=st.integers(2, 30), d=st.integers(1, 5), seed=st.integers(0, 2**31 - 1))
def test_random_data_sets_memorize(n: int, d: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    X0 = rng.normal(size=(n, d))
    x_T = float(VE_EXP.sigma(1.0)) * rng.normal(size=(50, d))
    sol = reverse_ode(x_T, X0, VE_EXP, 1e-6, rtol=1e-6, atol=1e-8)
    assert memorization_fraction(sol.final, X0, 1e-2) >= 0.98


def test_rate_slope_is_one() -> None:
    """Thm 4.3 (4.7): log|x(t) - x*| vs log sigma(t) has slope 1.00 +- 0.02 on [1e-5, 1e-3]."""
    rng = np.random.default_rng(8)
    save = np.concatenate([[1.0], np.geomspace(1e-3, 1e-5, 15)])
    for sched in (VE_EXP, VP_LIN):
        x_T = float(sched.sigma(1.0)) * rng.normal(size=(30, 2))
        sol = reverse_ode(x_T, SEED1, sched, 1e-5, save_t=save, rtol=1e-9, atol=1e-11)
        star = SEED1[_nearest(sol.final, SEED1)]
        dist = np.linalg.norm(sol.x[:, 1:] - star[:, None], axis=-1)
        sig = sched.sigma(save[1:])
        slopes = [convergence_rate_fit(sig, dist[b]).slope for b in range(30)]
        assert abs(np.median(slopes) - 1.0) <= 0.02
        assert np.max(dist / sig) < 4.0


# --- structured examples --------------------------------------------------------------------
def test_fig3_limits() -> None:
    """Notes §3.1 / A11: N = 2 bisector starts go to 0, N = 4 corners to (+-1/2, +-1/2)."""
    side = 2.1 * np.linspace(-1.0, 1.0, 21)
    square = np.concatenate(
        [np.stack([side, np.full(21, 2.1)], 1), np.stack([side, np.full(21, -2.1)], 1)]
    )
    two = np.array([[1.0, 0.0], [-1.0, 0.0]])
    end2 = solve_s_time(square, two, (0.0, 40.0), rtol=1e-7, atol=1e-7).final
    on_bisector = square[:, 0] == 0.0
    np.testing.assert_allclose(end2[on_bisector], 0.0, atol=1e-6)
    np.testing.assert_allclose(np.abs(end2[~on_bisector, 0]), 1.0, atol=1e-6)
    four = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    corners = np.array([[2.1, 2.1], [-2.1, 2.1], [2.1, -2.1], [-2.1, -2.1]])
    end4 = solve_s_time(corners, four, (0.0, 100.0), rtol=1e-7, atol=1e-7).final
    np.testing.assert_allclose(end4, 0.5 * np.sign(corners), atol=1e-3)


def test_ex4_4_perpendicular_component_is_exact() -> None:
    """Ex. 4.4: for x_0 = +-a e_1, x_perp(t) = x_perp(T) sigma(t)/sigma(T) (any VE g)."""
    X0 = np.array([[0.7, 0.0], [-0.7, 0.0]])
    save = np.geomspace(1.0, 1e-4, 9)
    sol = reverse_ode(
        [[0.2, 1.5], [0.0, -3.0]], X0, VE_EXP, 1e-4, save_t=save, rtol=1e-11, atol=1e-13
    )
    ratio = VE_EXP.sigma(save) / VE_EXP.sigma(1.0)
    np.testing.assert_allclose(sol.x[:, :, 1], np.outer([1.5, -3.0], ratio), atol=1e-9)
    np.testing.assert_allclose(sol.final[:, 0], [0.7, 0.0], atol=3 * VE_EXP.sigma(1e-4))


def test_voronoi_ode_matches_integrator_at_large_s() -> None:
    rng = np.random.default_rng(9)
    X0 = rng.normal(size=(6, 2))
    y1 = X0[_nearest(rng.normal(size=(40, 2)), X0)] + 0.01 * rng.normal(size=(40, 2))
    s = np.array([8.0, 9.0, 11.0])
    sol = solve_s_time(y1, X0, (8.0, 11.0), save_s=s, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(sol.x, voronoi_ode(y1, X0, s, s1=8.0), atol=1e-10)


# --- regularized scores ---------------------------------------------------------------------
def test_tikhonov_s_and_t_agree_and_stay_off_data() -> None:
    rng = np.random.default_rng(10)
    x_T = float(VE_EXP.sigma(1.0)) * rng.normal(size=(200, 2))
    c = 1e-2
    a = reverse_ode(x_T, SEED1, VE_EXP, 0.0, time="s", score="tikhonov", c=c, rtol=1e-9)
    b = reverse_ode(x_T, SEED1, VE_EXP, 0.0, time="t", score="tikhonov", c=c, rtol=1e-9)
    assert a.success and b.success
    np.testing.assert_allclose(a.final, b.final, atol=1e-5)
    assert memorization_fraction(a.final, SEED1, 1e-2) < 0.05


def test_eb_large_threshold_freezes() -> None:
    """(5.12) with a huge c: rho ~ S/c is tiny, the flow barely moves (VE)."""
    x_T = np.array([[3.0, 3.0]])
    sol = reverse_ode(x_T, SEED1, VE_EXP, 1e-6, score="eb", c=1e30)
    np.testing.assert_allclose(sol.final, x_T, atol=1e-8)
    plain = reverse_ode(x_T, SEED1, VE_EXP, 1e-6, score="eb", c=0.0)
    assert memorization_fraction(plain.final, SEED1) == 1.0


# --- reverse SDE ------------------------------------------------------------------------------
def test_reverse_sde_one_point_law() -> None:
    """Reverse SDE (2.8) with N = 1 keeps the exact marginal N(m x_0, sigma^2 I)."""
    x0 = np.array([[0.4, -0.3]])
    sched = VP_LIN
    rng = np.random.default_rng(11)
    n = 20000
    x_T = sched.alpha(1.0) * x0 + sched.sigma(1.0) * rng.normal(size=(n, 2))
    grid = np.linspace(1.0, 0.3, 400)
    out = reverse_sde(x_T, x0, sched, grid, rng=12)
    mean, sd = sched.alpha(0.3) * x0[0], float(sched.sigma(0.3))
    se = sd / np.sqrt(n)
    assert np.all(np.abs(out.mean(0) - mean) < 4 * se + 2e-3)
    assert np.all(np.abs(out.std(0) - sd) < 4 * sd / np.sqrt(2 * n) + 4e-3)


def test_reverse_sde_alpha2_zero_is_euler_for_the_ode() -> None:
    x_T = np.array([[1.0, 2.0], [-2.0, 0.5]])
    grid = np.geomspace(1.0, 0.05, 4000)
    euler = reverse_sde(x_T, SEED1, VE_EXP, grid, alpha2=0.0, rng=0)
    exact = reverse_ode(x_T, SEED1, VE_EXP, 0.05, rtol=1e-10).final
    np.testing.assert_allclose(euler, exact, atol=5e-3)


# --- validation -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"time": "x"}, "time"),
        ({"score": "nope"}, "score"),
        ({"c": -1.0}, "c"),
        ({"t_end": 0.0}, "t_end"),
        ({"t_end": 2.0}, "t_end"),
        ({"rtol": 0.0}, "rtol"),
        ({"save_t": [0.5, 0.9]}, "save_t"),
        ({"save_t": [2.0]}, "save_t"),
        ({"max_steps": 0}, "max_steps"),
    ],
)
def test_reverse_ode_rejects(kwargs: dict, match: str) -> None:
    args = {"t_end": 1e-3, **kwargs}
    with pytest.raises(ValueError, match=match):
        reverse_ode(np.zeros((2, 2)), SEED1, VE_EXP, **args)


def test_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="X0"):
        reverse_ode(np.zeros((2, 3)), SEED1, VE_EXP)
    with pytest.raises(ValueError, match="time='t'"):
        reverse_ode(np.zeros((2, 2)), SEED1, OU(lam=2.0), t_start=1.0, time="s")
    with pytest.raises(ValueError, match="schedule"):
        reverse_ode(np.zeros((2, 2)), SEED1, object())
    with pytest.raises(ValueError, match="family"):
        solve_s_time(np.zeros(2), SEED1, (0.0, 1.0), family="VX")
    with pytest.raises(ValueError, match="s_span"):
        solve_s_time(np.zeros(2), SEED1, (1.0, 0.0))
    with pytest.raises(ValueError, match="-1/2 log c"):
        solve_s_time(np.zeros(2), SEED1, (0.0, 5.0), score="tikhonov", c=1e-2)
    with pytest.raises(ValueError, match="times"):
        reverse_sde(np.zeros(2), SEED1, VE_EXP, [0.1, 0.5], rng=0)
    with pytest.raises(ValueError, match=">= s1"):
        voronoi_ode(np.zeros(2), SEED1, [0.0], s1=1.0)


def test_status_reports_max_steps() -> None:
    sol = reverse_ode(np.ones((2, 2)), SEED1, VE_EXP, 1e-6, max_steps=3)
    assert not sol.success and sol.messages() == ["max_steps", "max_steps"]


def test_both_clocks_integrate_to_t_end_when_saving_earlier():
    """Saved times before t_end: the s-time run still reaches t_end, like the t-time run."""
    x_T = np.array([[1.0, 2.0]])
    for time in ("s", "t"):
        sol = reverse_ode(x_T, SEED1, VE_EXP, 1e-6, time=time, save_t=[1.0, 0.1], rtol=1e-8)
        full = reverse_ode(x_T, SEED1, VE_EXP, 0.1, time=time, rtol=1e-8)
        # the state saved at t = 0.1 (``final`` is always the state at t_end)
        np.testing.assert_allclose(sol.x[:, -1], full.final, atol=1e-6)
        assert sol.n_steps[0] > full.n_steps[0]
        end = reverse_ode(x_T, SEED1, VE_EXP, 1e-6, time=time, rtol=1e-8)
        np.testing.assert_array_equal(sol.final, end.final)


# --- thread independence and errors inside the kernel (issue 14, items 2, 5 and 6) -----------
def test_integrator_bits_do_not_depend_on_the_slot_count() -> None:
    """Trajectories handed out one at a time: any number of slots gives the same bits."""
    rng = np.random.default_rng(12)
    X0, y = rng.normal(size=(30, 3)), 4.0 * rng.normal(size=(40, 3))
    XT, save = np.ascontiguousarray(X0.T), np.array([0.0, 2.0, 9.0])
    args = (XT, 0.0, 9.0, save, _dopri.S_VE, 0, np.zeros(3), 0.0, 0, 0.0, 1e-7, 1e-7, 10_000)
    runs = [_dopri.integrate_batch(y.copy(), *args, n) for n in (1, 2, 3, 8)]
    for out, stats in runs:
        assert out.tobytes() == runs[0][0].tobytes() and np.array_equal(stats, runs[0][1])
    assert np.all(runs[0][1][:, 0] == _dopri.SUCCESS)


def test_tiny_t_end_in_t_time_is_integrated_again_and_again() -> None:
    """t_end = 1e-30: the last stage time tau + h rounded to 0 (division by zero inside the
    parallel loop: IndexError, then SystemError on every later call). One data point: exact."""
    x0, x_T, sched = np.array([[0.5, -0.2]]), np.array([1.0, 1.0]), VPLinear()
    for _ in range(2):
        sol = reverse_ode(x_T, x0, sched, t_end=1e-30, time="t")
        assert sol.success
        np.testing.assert_allclose(sol.final[0], x0[0], atol=1e-6)


def test_t_end_whose_drift_overflows_is_refused_in_t_and_reached_in_s() -> None:
    x0, x_T = np.array([[0.5, -0.2]]), np.array([[1.0, 1.0]])
    with pytest.raises(ValueError, match="time='s'"):
        reverse_ode(x_T, x0, VPLinear(), t_end=1e-320, time="t")
    sol = reverse_ode(x_T, x0, VPLinear(), t_end=1e-320, time="s")
    assert sol.success
    np.testing.assert_allclose(sol.final, x0, atol=1e-12)


def test_huge_states_are_refused_and_a_runaway_state_is_reported() -> None:
    with pytest.raises(ValueError, match="x_T must have squared row norms"):
        reverse_ode(np.full((1, 2), 1e200), SEED1, VE_EXP, 1e-3)
    with pytest.raises(ValueError, match="X0 must have squared row norms"):
        reverse_ode(np.zeros((1, 2)), np.full((2, 2), 1e200), VE_EXP, 1e-3)
    XT = np.ascontiguousarray(SEED1.T)
    field = _dopri.velocity_batch(0.5, np.full((1, 2), 1e151), XT, _dopri.S_VE, 0, np.zeros(3),
                                  0.0, 0, 0.0)  # fmt: skip
    assert np.all(np.isnan(field))  # the integrator then reports status "nonfinite"


def test_saved_times_a_failed_trajectory_never_reached_are_nan() -> None:
    """A trajectory that stops (here: its state leaves STATE_MAX_SQ, status "nonfinite") keeps
    its saved states up to the failure and NaN after it (they were uninitialized memory); the
    other rows are unaffected."""
    XT, save = np.ascontiguousarray(SEED1.T), np.array([0.0, 2.0, 9.0])
    y = np.array([[0.5, 2.1], [1e150, 1e150]])
    args = (XT, 0.0, 9.0, save, _dopri.S_VE, 0, np.zeros(3), 0.0, 0, 0.0, 1e-7, 1e-7, 10_000)
    out, stats = _dopri.integrate_batch(y.copy(), *args, 2)
    assert stats[:, 0].tolist() == [_dopri.SUCCESS, _dopri.NONFINITE]
    assert np.all(np.isfinite(out[0])) and out[1, 0].tolist() == [1e150, 1e150]
    assert np.all(np.isnan(out[1, 1:]))


@pytest.mark.parametrize("time", ["s", "t"])
def test_default_start_on_an_open_domain(time: str) -> None:
    """VPTrig's domain (0, 1) is open at T: the default start is its grid's top, 0.999."""
    x0, x_T = np.array([[0.5, -0.2]]), np.array([[1.0, 1.0]])
    sol = reverse_ode(x_T, x0, VPTrig(), 1e-3, time=time, rtol=1e-10, atol=1e-12)
    assert sol.success and sol.t[0] == 0.999
    ref = reverse_ode(x_T, x0, VPTrig(), 1e-3, time=time, t_start=0.999, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(sol.x, ref.x)
    with pytest.raises(ValueError, match="t_start is required for OU"):
        reverse_ode(x_T, x0, OU(), 1e-3, time=time)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"c": float("nan")}, "c must be finite"),
        ({"score": "tikhonov", "c": -1.0}, "c must be >= 0"),
        ({"times": np.array([1.0, 0.5]) + 0j}, "times must be a real"),
        ({"times": [2.0, 0.5]}, "times must lie in"),
        ({"alpha2": float("nan")}, "alpha2"),
    ],
)
def test_reverse_sde_rejects(kwargs: dict, match: str) -> None:
    args = {"times": [1.0, 0.5], "rng": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        reverse_sde(np.zeros(2), SEED1, VE_EXP, **args)


def test_missing_schedule_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="schedule"):
        reverse_sde(np.zeros(2), SEED1, None, [1.0, 0.5], rng=0)
    with pytest.raises(TypeError, match="schedule"):
        t_time_velocity(np.zeros(2), 0.5, SEED1, None)
    with pytest.raises(TypeError, match="schedule"):
        initial_states(object(), 3, 2, 0)


def test_other_unvalidated_arguments() -> None:
    with pytest.raises(ValueError, match="c must be finite"):
        t_time_velocity(np.zeros(2), 0.5, SEED1, VE_EXP, c=float("nan"))
    with pytest.raises(ValueError, match="s must be a real"):
        voronoi_ode(np.zeros(2), SEED1, 1.0 + 1j)
    with pytest.raises(ValueError, match="save_t must be a real"):
        reverse_ode(np.zeros(2), SEED1, VE_EXP, 1e-3, save_t=np.array([1.0, 0.1]) + 0j)
    for span in (5.0, (0.0, 1.0, 2.0), (0.0, float("nan"))):
        with pytest.raises(ValueError, match="s_span"):
            solve_s_time(np.zeros(2), SEED1, span)


def test_step_budget_and_s_range_are_bounded():
    """Fuzz findings (issue 14): a step budget beyond the kernel's int64 counter and an s whose
    variance e^(-2s) overflows were OverflowErrors; both are ValueErrors naming the argument."""
    from diffmem_theory.core.schedules import VPLinear

    with pytest.raises(ValueError, match="max_steps must be <="):
        reverse_ode([1.0, 1.0], np.array([[0.5, -0.2]]), VPLinear(), t_end=1e-3, max_steps=10**30)
    for s in (-1e300, -(2**62)):
        with pytest.raises(ValueError, match="s must be >="):
            s_time_velocity([0.5, 0.5], s, [[1.0, 0.0], [-1.0, 0.0]])
    assert np.all(np.isfinite(s_time_velocity([0.5, 0.5], -300.0, [[1.0, 0.0], [-1.0, 0.0]])))


def test_kernel_field_validates_the_schedule_and_the_clock():
    from diffmem_theory.voronoi.dynamics import EmpiricalScoreModel

    model = EmpiricalScoreModel(SEED1, VE_EXP)
    with pytest.raises(TypeError, match="schedule"):  # AttributeError before (fuzz finding)
        model.kernel_field(1.0, "t")
    with pytest.raises(ValueError, match="time"):
        model.kernel_field(VE_EXP, "u")
    assert model.kernel_field(VE_EXP, "s").time == "s_ve"
    assert model.kernel_field(VP_LIN, "s").time == "s_vp"
