"""Tests of :func:`diffmem_theory.core.dynamics.solve`: every method against the loop it replaced
(plain NumPy twins of the samplers before ``solve``), Dormand-Prince against SciPy, models in
other units, ``saveat``, the flow-matching schedule, and bad input."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from diffmem_theory.core.denoisers import memorizing_denoiser
from diffmem_theory.core.distributions import EmpiricalDistribution
from diffmem_theory.core.dynamics import (
    METHODS,
    Trajectories,
    ddim_sample,
    euler_maruyama_sample,
    probability_flow_sample,
    solve,
)
from diffmem_theory.core.schedules import (
    OU,
    VE,
    FlowMatching,
    VPLinear,
    VPTrig,
    convert_prediction,
    unit_coefficients,
)
from diffmem_theory.kernels import EmpiricalField, integrate
from diffmem_theory.leakage import ambient
from diffmem_theory.voronoi.dynamics import EmpiricalScoreModel, reverse_sde

SCHED = VPTrig()
X = np.random.default_rng(0).standard_normal((12, 3))
GRID = SCHED.time_grid(30, t_max=0.9)


def memorizer(schedule=SCHED, data=X):
    return lambda x, t: memorizing_denoiser(x, t, data, schedule)


def gaussian(schedule, mu=1.5, s2=0.3):
    """Exact x0-denoiser of data N(mu, s2 I)."""

    def den(x, t):
        a, v = float(schedule.alpha(t)), float(schedule.sigma2(t))
        return mu + a * s2 / (a * a * s2 + v) * (x - a * mu)

    return den


# ---------------------------------------------------------------------------------------------
# the loops before solve, as plain NumPy twins
# ---------------------------------------------------------------------------------------------


def old_ddim(den, sched, x, grid):
    alpha, sigma = sched.alpha(grid).tolist(), sched.sigma(grid).tolist()
    for l in range(len(grid) - 1):
        ratio = sigma[l + 1] / sigma[l]
        x = ratio * x + (alpha[l + 1] - ratio * alpha[l]) * den(x, float(grid[l]))
    return x


def old_heun(den, sched, x, grid):
    a = (sched.dsigma(grid) / sched.sigma(grid)).tolist()
    b = (sched.dalpha(grid) - sched.alpha(grid) * np.array(a)).tolist()
    for l in range(len(grid) - 1):
        h = float(grid[l + 1] - grid[l])
        v0 = a[l] * x + b[l] * den(x, float(grid[l]))
        xp = x + h * v0
        v1 = a[l + 1] * xp + b[l + 1] * den(xp, float(grid[l + 1]))
        x = x + 0.5 * h * (v0 + v1)
    return x


def old_euler_maruyama(den, sched, x, grid, gen):
    t = grid[:-1]
    f, g2, alpha, s2 = sched.drift(t), sched.diffusion2(t), sched.alpha(t), sched.sigma2(t)
    h = -np.diff(grid)
    c_x, c_bar, c_z = 1.0 - h * (f + g2 / s2), h * g2 * alpha / s2, np.sqrt(g2 * h)
    for l in range(len(grid) - 1):
        z = gen.standard_normal(x.shape)
        x = c_x[l] * x + c_bar[l] * den(x, float(grid[l])) + c_z[l] * z
    return x


def old_rk4_eq5(score, sched, x, grid):
    """leakage.ambient.pf_ode_sample before solve: RK4 on -(sigma sigma'/alpha^2)(x + score)."""

    def v(y, t):
        return -0.5 * float(sched.dsigma2(t)) / float(sched.alpha(t)) ** 2 * (y + score(y, t))

    for t0, t1 in itertools.pairwise(grid):
        h, tm = float(t1 - t0), float(0.5 * (t0 + t1))
        k1 = v(x, float(t0))
        k2 = v(x + 0.5 * h * k1, tm)
        k3 = v(x + 0.5 * h * k2, tm)
        k4 = v(x + h * k3, float(t1))
        x = x + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return x


def old_reverse_sde(x, data, sched, grid, alpha2, gen):
    """voronoi.dynamics.reverse_sde before solve: Euler-Maruyama on (2.10)."""
    for l in range(len(grid) - 1):
        t, h = float(grid[l]), float(grid[l] - grid[l + 1])
        a, s2 = float(sched.alpha(t)), float(sched.sigma2(t))
        f, g2 = float(sched.drift(t)), float(sched.diffusion2(t))
        score = (a * memorizing_denoiser(x, t, data, sched) - x) / s2
        flow = f * x - 0.5 * g2 * score
        drift = (1.0 + alpha2) * flow - alpha2 * f * x
        x = x - h * drift + math.sqrt(alpha2 * g2 * h) * gen.standard_normal(x.shape)
    return x


X_T = np.random.default_rng(1).standard_normal((6, 3))


@pytest.mark.parametrize("schedule", [SCHED, VPLinear(), VE.linear2t()], ids=lambda s: s.name)
def test_ddim_heun_euler_maruyama_match_the_old_loops(schedule):
    grid = schedule.time_grid(30, t_max=0.9 if schedule.name == "VPTrig" else None)
    den = memorizer(schedule)
    x_T = X_T * math.sqrt(float(schedule.sigma2(grid[0])) + float(schedule.alpha(grid[0])) ** 2)
    for method, twin in (("ddim", old_ddim), ("heun", old_heun)):
        ours = solve(den, schedule, x_T, grid, method=method).final
        np.testing.assert_allclose(ours, twin(den, schedule, x_T, grid), rtol=1e-12, atol=1e-12)
    ours = solve(den, schedule, x_T, grid, method="euler_maruyama", rng=7).final
    ref = old_euler_maruyama(den, schedule, x_T, grid, np.random.default_rng(7))
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12)


def test_samplers_are_solve_with_their_initial_noise():
    """ddim_sample & co. draw x_T ~ N(0, (alpha^2 + sigma^2) I) from rng, then solve."""
    den = memorizer()
    for sampler, method in (
        (ddim_sample, "ddim"),
        (probability_flow_sample, "heun"),
        (euler_maruyama_sample, "euler_maruyama"),
    ):
        gen = np.random.default_rng(3)
        out = sampler(den, SCHED, n=5, d=3, times=GRID, rng=gen)
        gen = np.random.default_rng(3)
        x_T = gen.standard_normal((5, 3))  # alpha^2 + sigma^2 = 1 on VPTrig
        ref = solve(den, SCHED, x_T, GRID, method=method, rng=gen).final
        np.testing.assert_array_equal(out, ref)


def test_rk4_matches_the_old_eq5_loop():
    """pf_ode_sample is RK4 in solve: the score model (converted to the velocity unit) and the
    eq. (5) velocity model both give the old loop to 1e-12."""
    score = lambda x, t: (float(SCHED.alpha(t)) * memorizer()(x, t) - x) / t**2  # noqa: E731
    grid = np.geomspace(0.9, 2e-2, 120)
    ref = old_rk4_eq5(score, SCHED, X_T, grid)
    ours = solve(score, SCHED, X_T, grid, method="rk4", prediction="score").final
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        ambient.pf_ode_sample(score, SCHED, X_T, grid), ref, rtol=1e-12, atol=1e-12
    )


def test_reverse_sde_matches_the_old_loop():
    grid = np.geomspace(1.0, 1e-3, 80)
    sched = VE.exp()
    x_T = float(sched.sigma(1.0)) * X_T
    for alpha2 in (1.0, 0.0, 0.5):
        ours = reverse_sde(x_T, X, sched, grid, alpha2=alpha2, rng=5)
        ref = old_reverse_sde(x_T, X, sched, grid, alpha2, np.random.default_rng(5))
        np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Dormand-Prince against SciPy
# ---------------------------------------------------------------------------------------------


def _flat_velocity(den, sched, shape):
    """The probability-flow velocity of the flattened batch (SciPy's right-hand side)."""

    def fun(t, y):
        x = y.reshape(shape)
        a, b = (float(c) for c in unit_coefficients("velocity", t, sched))
        return (a * x + b * den(x, t)).ravel()

    return fun


@pytest.mark.parametrize("schedule", [SCHED, VPLinear(), FlowMatching()], ids=lambda s: s.name)
def test_dopri5_takes_the_steps_of_solve_ivp_rk45(schedule):
    """A callable model is one system: the steps, the dense output and the end are SciPy's."""
    den = memorizer(schedule)
    t_span = [0.8, 0.05]
    save = np.array([0.8, 0.5, 0.2, 0.05])
    sol = solve(den, schedule, X_T, t_span, method="dopri5", saveat=save, rtol=1e-9, atol=1e-9)
    fun = _flat_velocity(den, schedule, X_T.shape)
    ref = solve_ivp(fun, t_span, X_T.ravel(), method="RK45", rtol=1e-9, atol=1e-9, t_eval=save)
    assert sol.success and ref.success
    assert int(sol.nfev[0]) == ref.nfev
    saved = ref.y.T.reshape(len(save), *X_T.shape).transpose(1, 0, 2)
    np.testing.assert_allclose(sol.x, saved, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(sol.final, saved[:, -1], rtol=1e-11, atol=1e-11)
    # and it is accurate: DOP853 at tight tolerance
    tight = solve(den, schedule, X_T, t_span, method="dopri5", rtol=1e-12, atol=1e-12)
    exact = solve_ivp(fun, t_span, X_T.ravel(), method="DOP853", rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(tight.final.ravel(), exact.y[:, -1], rtol=0, atol=1e-9)


def test_dopri5_kernel_field_matches_solve_ivp_per_trajectory():
    """A model with a kernel field: every trajectory its own controller, SciPy's steps."""
    sched = VPLinear()
    model = EmpiricalScoreModel(X, sched)
    sol = solve(model, sched, X_T, [1.0, 1e-2], method="dopri5", rtol=1e-8, atol=1e-8)
    for b in range(X_T.shape[0]):
        fun = _flat_velocity(memorizer(sched), sched, (1, 3))
        ref = solve_ivp(fun, (1.0, 1e-2), X_T[b], method="RK45", rtol=1e-8, atol=1e-8)
        assert int(sol.nfev[b]) == ref.nfev
        np.testing.assert_allclose(sol.final[b], ref.y[:, -1], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("schedule", [VE.exp(), VPTrig(), FlowMatching()], ids=lambda s: s.name)
def test_kernel_field_and_callable_agree(schedule):
    """The compiled field (its schedule from kernel_spec(), FlowMatching included) and the same
    model called from Python integrate the same ODE."""
    model = EmpiricalScoreModel(X, schedule)
    t_span = [0.9, 0.02]
    kernel = solve(model, schedule, X_T, t_span, method="dopri5", rtol=1e-11, atol=1e-11)
    python = solve(
        lambda x, t: model(x, t), schedule, X_T, t_span, method="dopri5", prediction="score",
        rtol=1e-11, atol=1e-11,
    )  # fmt: skip
    np.testing.assert_allclose(kernel.final, python.final, rtol=0, atol=1e-8)


def test_dopri5_in_s_time():
    """time="s": the kernel field in s, and a callable in s (dx/ds = u / (ds/dt)), agree with t."""
    sched = VE.exp()
    model = EmpiricalScoreModel(X, sched)
    kw = {"method": "dopri5", "rtol": 1e-10, "atol": 1e-10}
    t_run = solve(model, sched, X_T, [1.0, 1e-3], **kw)
    s_run = solve(model, sched, X_T, [1.0, 1e-3], time="s", **kw)
    call = solve(memorizer(sched), sched, X_T, [1.0, 1e-3], time="s", **kw)
    np.testing.assert_allclose(s_run.final, t_run.final, atol=1e-7)
    np.testing.assert_allclose(call.final, t_run.final, atol=1e-7)
    np.testing.assert_allclose(s_run.s, sched.s_time([1e-3]), rtol=1e-14)


# ---------------------------------------------------------------------------------------------
# models in other units
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("unit", ["eps", "score", "v", "velocity"])
@pytest.mark.parametrize("method", METHODS)
def test_a_user_model_in_any_unit_gives_the_same_samples(unit, method):
    den = memorizer()

    def user_model(x, t):  # e.g. a network trained on the eps objective
        return convert_prediction(den(x, t), x, t, SCHED, "x0", unit)

    user_model.prediction = unit
    kw = {"method": method, "rng": 4, "rtol": 1e-9, "atol": 1e-9}
    ref = solve(den, SCHED, X_T, GRID, **kw)
    ours = solve(user_model, SCHED, X_T, GRID, **kw)
    np.testing.assert_allclose(ours.final, ref.final, rtol=1e-9, atol=1e-9)
    # the prediction argument says the same as the attribute
    plain = solve(lambda x, t: user_model(x, t), SCHED, X_T, GRID, prediction=unit, **kw)
    np.testing.assert_array_equal(plain.final, ours.final)


@pytest.mark.parametrize("method", METHODS)
def test_a_law_gives_the_samples_of_its_denoiser(method):
    """EmpiricalDistribution answers the unit asked for directly (x0 for DDIM, velocity for
    the ODE methods, score for the SDE)."""
    law = EmpiricalDistribution(X)
    ref = solve(memorizer(), SCHED, X_T, GRID, method=method, rng=2)
    ours = solve(law, SCHED, X_T, GRID, method=method, rng=2)
    np.testing.assert_allclose(ours.final, ref.final, rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------------------------------------
# saveat and the result
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_saveat_variants_and_the_final_state(method):
    den = memorizer()
    kw = {"method": method, "rng": 9}
    end = solve(den, SCHED, X_T, GRID, **kw)
    assert isinstance(end, Trajectories)
    assert end.x.shape == (6, 1, 3) and end.t.tolist() == [GRID[-1]]
    np.testing.assert_array_equal(end.x[:, 0], end.final)
    every = solve(den, SCHED, X_T, GRID, saveat="t_span", **kw)
    assert every.x.shape == (6, len(GRID), 3)
    np.testing.assert_array_equal(every.t, GRID)
    np.testing.assert_array_equal(every.x[:, 0], X_T)
    np.testing.assert_array_equal(every.final, end.final)
    some = solve(den, SCHED, X_T, GRID, saveat=GRID[[0, 7, 11]], **kw)
    np.testing.assert_array_equal(some.x, every.x[:, [0, 7, 11]])
    np.testing.assert_array_equal(some.final, end.final)  # the end of t_span, always
    np.testing.assert_allclose(every.s, SCHED.s_time(GRID), rtol=1e-15)
    assert end.success and end.messages() == ["success"] * 6
    if method != "dopri5":  # (adaptive steps otherwise)
        assert np.all(end.n_steps == len(GRID) - 1) and np.all(end.n_rejected == 0)


def test_dopri5_saveat_is_dense_output():
    den = memorizer()
    save = np.array([0.85, 0.4, 0.1])  # between grid times
    sol = solve(den, SCHED, X_T, [0.9, 0.02], method="dopri5", saveat=save, rtol=1e-10)
    for i, t in enumerate(save):
        alone = solve(den, SCHED, X_T, [0.9, t], method="dopri5", rtol=1e-10)
        np.testing.assert_allclose(sol.x[:, i], alone.final, atol=1e-7)
    assert not np.allclose(sol.final, sol.x[:, -1])  # the final state is at t = 0.02


def test_x_T_is_not_modified_and_float32_stays_float32():
    den = memorizer()
    x = X_T.copy()
    solve(den, SCHED, x, GRID, method="heun")
    np.testing.assert_array_equal(x, X_T)
    out32 = solve(den, SCHED, X_T.astype(np.float32), GRID, method="rk4").final
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, solve(den, SCHED, X_T, GRID, method="rk4").final, atol=1e-4)


# ---------------------------------------------------------------------------------------------
# the flow-matching schedule
# ---------------------------------------------------------------------------------------------


def test_flow_matching_point_mass():
    """alpha = 1 - t, sigma = t, data = one point p: the flow is the straight line
    x_t = p + (t / t_0)(x_{t_0} - p); its velocity (x - p)/t = eps - x0."""
    fm, p = FlowMatching(), np.array([[2.0, -1.0, 0.5]])
    t0, t1 = 0.95, 0.01
    exact = p + (t1 / t0) * (X_T - p)
    point = lambda x, t: np.repeat(p, len(x), 0)  # noqa: E731
    velocity = lambda x, t: (x - p) / t  # noqa: E731
    grid = fm.time_grid(40, eps=t1, t_max=t0 + t1)
    ddim = solve(point, fm, X_T, grid, method="ddim").final
    np.testing.assert_allclose(ddim, exact, rtol=1e-13, atol=1e-13)
    for method in ("rk4", "dopri5"):
        for model, unit in ((point, "x0"), (velocity, "velocity")):
            out = solve(model, fm, X_T, grid, method=method, prediction=unit, rtol=1e-11).final
            np.testing.assert_allclose(out, exact, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"method": "euler"}, ValueError, "method"),
        ({"t_span": [0.5, 0.6]}, ValueError, "t_span must be strictly decreasing"),
        ({"t_span": [0.5]}, ValueError, "t_span must hold at least 2"),
        ({"t_span": [1.0, 0.5]}, ValueError, "t_span must lie in"),
        ({"t_span": [0.5, 0.0]}, ValueError, "t_span must lie in"),
        ({"saveat": [0.33]}, ValueError, "saveat"),
        ({"saveat": "all"}, ValueError, "saveat"),
        ({"saveat": [0.1, 0.5]}, ValueError, "saveat"),
        ({"x_T": np.zeros(3)}, ValueError, "x_T"),
        ({"x_T": np.full((2, 3), np.nan)}, ValueError, "x_T"),
        ({"prediction": "noise"}, ValueError, "prediction"),
        ({"method": "euler_maruyama"}, ValueError, "rng is required"),
        ({"time": "s"}, ValueError, "time"),
        ({"time": "u", "method": "dopri5"}, ValueError, "time"),
        ({"method": "dopri5", "rtol": 0.0}, ValueError, "rtol"),
        ({"method": "dopri5", "max_steps": 0}, ValueError, "max_steps"),
        ({"method": "dopri5", "saveat": [0.95]}, ValueError, "saveat"),
        ({"backend": "jax"}, ValueError, "backend"),
        ({"noise_scale": -1.0, "method": "euler_maruyama", "rng": 0}, ValueError, "noise_scale"),
        ({"rng": 1.5}, TypeError, "rng"),
        ({"denoiser": "not a model"}, TypeError, "denoiser"),
        ({"schedule": 3}, TypeError, "schedule"),
        (
            {
                "t_span": np.linspace(0.9, 0.1, 10**6),
                "x_T": np.zeros((1000, 3)),
                "saveat": "t_span",
            },
            ValueError,
            "saveat",
        ),
        (
            {
                "t_span": np.linspace(0.9, 0.1, 10**6),
                "x_T": np.zeros((1000, 3)),
                "saveat": "t_span",
                "method": "dopri5",
            },
            ValueError,
            "saveat",
        ),
    ],
)
def test_bad_input_names_the_argument(kwargs, error, match):
    args = {"denoiser": memorizer(), "schedule": SCHED, "x_T": X_T, "t_span": [0.9, 0.5, 0.1]}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        solve(**args)


def test_non_finite_states_raise_and_dopri5_reports_them():
    nan = lambda x, t: np.full_like(x, np.nan)  # noqa: E731
    with pytest.raises(ValueError, match="non-finite"):
        solve(nan, SCHED, X_T, GRID, method="rk4")
    sol = solve(nan, SCHED, X_T, GRID, method="dopri5")
    assert not sol.success and set(sol.messages()) == {"nonfinite"}


def test_integrate_refuses_a_callable_on_numba_and_a_non_field():
    with pytest.raises(ValueError, match="backend"):
        integrate(np.ones((1, 1)), (1.0, 0.0), np.array([0.0]), lambda tau, y: -y)
    with pytest.raises(TypeError, match="field"):
        integrate(np.ones((1, 1)), (1.0, 0.0), np.array([0.0]), "field", backend="numpy")
    with pytest.raises(ValueError, match=r"field\.kind"):
        integrate(np.ones((1, 1)), (1.0, 0.5), np.array([0.5]), EmpiricalField(X[:, :1], "x"))


def test_s_time_needs_a_ve_or_vp_schedule_for_the_kernel_field():
    with pytest.raises(ValueError, match="time='t'"):
        solve(EmpiricalScoreModel(X, OU(lam=2.0)), OU(lam=2.0), X_T, [2.0, 0.1],
              method="dopri5", time="s")  # fmt: skip
