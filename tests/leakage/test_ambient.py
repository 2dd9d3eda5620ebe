"""Ambient diffusion (paper 004): conversions, eq. (6), Alg. 1, exact optima, eq. (5), Lemma 4.1."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from diffmem_theory.core.dynamics import probability_flow_sample
from diffmem_theory.core.metrics import gaussian_frechet_distance
from diffmem_theory.core.schedules import OU, VPLinear, VPTrig
from diffmem_theory.core.training import GMMDenoiser
from diffmem_theory.leakage import ambient as amb
from diffmem_theory.leakage import errata as leakage_errata
from diffmem_theory.leakage.checks import ambient as checks
from diffmem_theory.voronoi.scores import empirical_score

SETTINGS = settings(max_examples=40, deadline=None)
level = st.floats(0.01, 0.98)


def pair(a: float, b: float) -> tuple[float, float]:
    """(sigma_t, sigma_tn) with sigma_t > sigma_tn."""
    return max(a, b) + 0.01, min(a, b)


# --- noise scales ------------------------------------------------------------------------------


def test_reference_values_of_the_notes():
    s = np.array(list(checks.VE_TO_VP_TABLE))
    np.testing.assert_allclose(amb.ve_to_vp(s), list(checks.VE_TO_VP_TABLE.values()), atol=1e-7)
    t = np.array(list(checks.SD2_TABLE))
    np.testing.assert_allclose(amb.sd2_sigma(t), list(checks.SD2_TABLE.values()), atol=1e-6)
    assert round(float(1 - amb.sd2_sigma(25) ** 2), 6) == 0.976606  # abar_25


def test_sd2_against_plain_cumprod():
    betas = np.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=np.float64) ** 2
    abar = np.cumprod(1.0 - betas)
    t = np.arange(1000)
    np.testing.assert_allclose(amb.sd2_sigma(t), np.sqrt(1.0 - abar), rtol=1e-12, atol=1e-15)
    assert np.all(np.diff(amb.sd2_sigma(t)) > 0)


@SETTINGS
@given(st.floats(0.0, 1e3))
def test_ve_vp_round_trip(s):
    sig = amb.ve_to_vp(s)
    assert 0.0 <= sig < 1.0
    # sigma_VP = 1 - O(1/s^2): the round trip is conditioned like 1 + s^2
    np.testing.assert_allclose(amb.vp_to_ve(sig), s, rtol=1e-14 + 1e-15 * s * s, atol=1e-300)
    np.testing.assert_allclose(
        float(amb.vp_alpha(sig)), 1.0 / np.sqrt(1.0 + s * s), rtol=1e-14 + 1e-15 * s * s
    )
    x = np.array([[1.0, -2.0]])
    np.testing.assert_allclose(amb.ve_state_to_vp(x, s), x / np.sqrt(1 + s * s), rtol=1e-14)


# --- eq. (6), Lemma C.1, line 10 ---------------------------------------------------------------


def test_lemma_c1_sympy_identity():
    """c1, c2 of eq. (6) are Lemma C.1's coefficients with alpha = sqrt(1 - sigma^2)."""
    s, n = sp.symbols("sigma_t sigma_n", positive=True)
    a, an = sp.sqrt(1 - s**2), sp.sqrt(1 - n**2)
    cond = s**2 - a**2 * n**2 / an**2
    c1_lemma, c2_lemma = an * cond / s**2, a * n**2 / (s**2 * an)
    c1_eq6 = (s**2 - n**2) / (s**2 * an)
    c2_eq6 = (n**2 / s**2) * sp.sqrt((1 - s**2) / (1 - n**2))
    assert sp.simplify(c1_lemma - c1_eq6) == 0
    assert sp.simplify((c2_lemma - c2_eq6).subs({s: sp.Rational(4, 5), n: sp.Rational(3, 5)})) == 0
    gamma2 = (s**2 - n**2) / (1 - n**2)
    assert sp.simplify(gamma2 - cond) == 0
    val = {s: 0.8, n: 0.6}
    np.testing.assert_allclose(
        [float(e.subs(val)) for e in (c1_eq6, c2_eq6)], amb.ambient_coeffs(0.8, 0.6), rtol=1e-14
    )


@SETTINGS
@given(level, level)
def test_coefficients_and_extra_noise(a, b):
    st_, sn = pair(a, b)
    c1, c2 = amb.ambient_coeffs(st_, sn)
    gen = amb.lemma_c1_coeffs(amb.vp_alpha(st_), st_, amb.vp_alpha(sn), sn)
    np.testing.assert_allclose([c1, c2], gen, rtol=1e-10)
    beta, gamma2 = amb.extra_noise_scales(st_, sn)
    # line 10 composes the forward process: beta alpha_tn = alpha_t, beta^2 sigma_tn^2 + gamma^2
    np.testing.assert_allclose(beta * amb.vp_alpha(sn), amb.vp_alpha(st_), rtol=1e-12)
    np.testing.assert_allclose(beta**2 * sn**2 + gamma2, st_**2, rtol=1e-12)
    assert 0 < c1 and 0 <= c2


def test_t_n_zero_is_ddpm():
    c1, c2 = amb.ambient_coeffs(0.7, 0.0)
    assert (float(c1), float(c2)) == (1.0, 0.0)
    h, x0 = np.array([[0.3, 1.0]]), np.array([[1.0, -1.0]])
    np.testing.assert_allclose(amb.ambient_loss(h, h + 5, x0, 0.7, 0.0), np.sum((h - x0) ** 2))


@SETTINGS
@given(level, level, st.integers(0, 2**32 - 1))
def test_loss_forms_agree(a, b, seed):
    """VP loss = c1^2 |h - proxy|^2 = alpha_tn^2 x (VE loss) on the same draws."""
    st_, sn = pair(a, b)
    rng = np.random.default_rng(seed)
    h, x_t, x_tn = rng.standard_normal((3, 5, 2))
    vp = amb.ambient_loss(h, x_t, x_tn, st_, sn)
    c1 = float(amb.ambient_coeffs(st_, sn)[0])
    proxy = amb.x0_proxy(x_t, x_tn, st_, sn)
    np.testing.assert_allclose(vp, c1**2 * np.sum((h - proxy) ** 2, axis=-1), rtol=1e-9)
    at, an = float(amb.vp_alpha(st_)), float(amb.vp_alpha(sn))
    ve = amb.ambient_loss(h, x_t / at, x_tn / an, amb.vp_to_ve(st_), amb.vp_to_ve(sn), "ve")
    np.testing.assert_allclose(vp / an**2, ve, rtol=1e-9)


def test_proxy_and_v_target_are_unbiased():
    """Monte Carlo over x_tn given x0 and x_t: E[proxy | x0-free regression] -> posterior slope."""
    out = checks.lemma_c1_minimizer.func(seed=3)
    assert out.passed, out
    rng = np.random.default_rng(1)
    x_t, x_tn = rng.standard_normal((2, 4, 3))
    v = amb.v_target_ambient(x_t, x_tn, 0.8, 0.5)
    np.testing.assert_allclose(v, (0.6 * x_t - amb.x0_proxy(x_t, x_tn, 0.8, 0.5)) / 0.8)


def test_add_noise_has_the_forward_law():
    """x0 ~ N(0, v): x_tn at sigma_tn, then line 10 -> var alpha_t^2 v + sigma_t^2 (4 s.e.)."""
    rng = np.random.default_rng(0)
    n, v, st_, sn = 200_000, 2.0, 0.9, 0.3
    x0 = np.sqrt(v) * rng.standard_normal((n, 1))
    x_tn = amb.noisy_copies(x0, sn, rng)
    x_t = amb.ambient_add_noise(x_tn, st_, sn, rng.standard_normal((n, 1)))
    target = (1 - st_**2) * v + st_**2
    assert abs(x_t.var() - target) <= 4 * target * np.sqrt(2.0 / n)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: amb.ambient_coeffs(0.5, 0.6), "sigma_t must exceed sigma_tn"),
        (lambda: amb.ambient_coeffs(1.0, 0.5), "sigma_t must lie in"),
        (lambda: amb.ambient_coeffs(0.5, 0.1, param="edm"), "param must be one of"),
        (lambda: amb.ve_to_vp(-1.0), "s must be >= 0"),
        (lambda: amb.sd2_sigma(1000), "timestep must be integers"),
        (lambda: amb.sd2_sigma(2.5), "timestep must be integers"),
        (lambda: amb.ambient_add_noise(np.ones((2, 1)), 0.8, 0.6, np.ones(2)), "eps must have"),
        (lambda: gaussian_frechet_distance([0.0], np.eye(2), [0.0], np.eye(2)), "cov1"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --- Algorithm 1 ------------------------------------------------------------------------------


def _reference_loss(objective_batch, weight, model, sched):
    x_t, target, t = objective_batch
    h = model.denoiser(x_t, t, sched)
    return float(np.mean(weight(t) * np.sum((h - target) ** 2, axis=1)))


def test_algorithm1_loss_is_eq3_plus_eq6():
    """The objective's loss = (1/B)[sum_clean |h - x0|^2 + sum_noisy eq. (6)] on its own batch."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 2))
    t_n, sched = 0.4, VPTrig()
    X_tn = amb.noisy_copies(X, float(sched.sigma(t_n)), 1)
    model = GMMDenoiser(X[:3] + 0.1, 0.3)
    obj = amb.algorithm1_objective(X, X_tn, t_n, sched, n_dup=2, seed=5)
    loss, _ = obj(model.pack(), 7)
    gen = np.random.default_rng(np.random.SeedSequence(5, spawn_key=(7,)))
    x_t, target, t = amb.algorithm1_batch(X, X_tn, t_n, sched, gen, n_dup=2)
    h = model.denoiser(x_t, t, sched)
    half = t.size // 2
    clean = np.sum((h[:half] - target[:half]) ** 2, axis=1)
    noisy = amb.ambient_loss(
        h[half:], x_t[half:], np.repeat(X_tn, 2, axis=0), sched.sigma(t[half:]), 0.4
    )
    np.testing.assert_allclose(loss, np.mean(np.concatenate([clean, noisy])), rtol=1e-10)


@pytest.mark.parametrize("kind", ["ddpm", "alg1"])
def test_objective_gradient_matches_finite_differences(kind):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((5, 2))
    sched = VPTrig()
    if kind == "ddpm":
        obj = amb.ddpm_objective(X, sched, seed=2)
    else:
        obj = amb.algorithm1_objective(X, amb.noisy_copies(X, 0.5, 3), 0.5, sched, seed=2)
    theta = GMMDenoiser(X[:2] + 0.2, 0.4).pack()
    _, grad = obj(theta, 4)
    fd = np.empty_like(theta)
    for k in range(theta.size):
        e = np.zeros_like(theta)
        e[k] = 1e-6
        fd[k] = (obj(theta + e, 4)[0] - obj(theta - e, 4)[0]) / 2e-6
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-7)


def test_batch_is_half_clean_half_noisy():
    X = np.arange(8.0).reshape(4, 2)
    x_t, target, t = amb.algorithm1_batch(X, X + 1, 0.3, VPTrig(), 0, n_dup=3)
    assert x_t.shape == target.shape == (24, 2)
    assert np.all((t[:12] >= 1e-3) & (t[:12] <= 0.3)) and np.all((t[12:] > 0.3) & (t[12:] <= 0.999))
    np.testing.assert_array_equal(target[:12], np.repeat(X, 3, axis=0))


# --- exact optima -------------------------------------------------------------------------------


@SETTINGS
@given(level, level, st.integers(0, 2**32 - 1))
def test_noisy_score_against_numpy_twin(a, b, seed):
    st_, sn = pair(a, b)
    rng = np.random.default_rng(seed)
    Y, x = rng.uniform(-2, 2, (6, 3)), rng.uniform(-2, 2, (4, 3))
    beta, gamma2 = (float(v) for v in amb.extra_noise_scales(st_, sn))
    mean, _ = checks._empirical_posterior_mean(x, Y, beta, gamma2)
    twin = (beta * mean - x) / gamma2
    ours = amb.noisy_optimal_score(x, st_, Y, sn)
    np.testing.assert_allclose(ours, twin, rtol=1e-9, atol=1e-9 * np.abs(twin).max())


@SETTINGS
@given(st.floats(0.05, 0.95), st.integers(0, 2**32 - 1))
def test_clean_score_is_the_empirical_score(sig, seed):
    rng = np.random.default_rng(seed)
    S, x = rng.uniform(-2, 2, (5, 2)), rng.uniform(-2, 2, (3, 2))
    ours = amb.clean_optimal_score(x, sig, S)
    np.testing.assert_allclose(ours, empirical_score(x, sig, S, VPTrig()), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ours, amb.noisy_optimal_score(x, sig, S, 0.0), rtol=1e-12)
    np.testing.assert_allclose(amb.algorithm1_optimal_score(x[0], sig, S, S + 9, 0.99), ours[0])


def test_algorithm1_score_switches_at_t_n():
    S, S_tn, x = np.array([[1.0]]), np.array([[-1.0]]), np.array([[0.2]])
    above = amb.algorithm1_optimal_score(x, 0.7, S, S_tn, 0.5)
    below = amb.algorithm1_optimal_score(x, 0.5, S, S_tn, 0.5)
    np.testing.assert_allclose(above, amb.noisy_optimal_score(x, 0.7, S_tn, 0.5))
    np.testing.assert_allclose(below, amb.clean_optimal_score(x, 0.5, S))


# --- eq. (5) and Lemma 4.1 ----------------------------------------------------------------------


@pytest.mark.parametrize("sched", [VPTrig(), VPLinear(0.1, 20.0)])
def test_pf_ode_matches_the_package_sampler(sched):
    """RK4 on eq. (5) (sigma form) vs Heun on f x - g^2 s/2: one ODE, exact Gaussian flow."""
    s2, x = 0.25, np.linspace(-2.0, 2.0, 5)[:, None]

    def score(y, t):
        a = float(sched.alpha(t))
        return -(y - a * 1.0) / (a * a * s2 + float(sched.sigma2(t)))

    def denoiser(y, t):
        a, v = float(sched.alpha(t)), float(sched.sigma2(t))
        return 1.0 + a * s2 / (a * a * s2 + v) * (y - a)

    grid = np.geomspace(0.9, 1e-2, 400)
    ours = amb.pf_ode_sample(score, sched, x, grid)
    heun = probability_flow_sample(denoiser, sched, x, times=grid)
    a0, a1 = (float(sched.alpha(t)) for t in grid[[0, -1]])
    v0, v1 = (float(a * a * s2 + sched.sigma2(t)) for a, t in ((a0, grid[0]), (a1, grid[-1])))
    exact = a1 + np.sqrt(v1 / v0) * (x - a0)
    np.testing.assert_allclose(ours, exact, atol=1e-7)
    np.testing.assert_allclose(heun, exact, atol=1e-3)


def test_pf_ode_rejects_bad_grids_and_non_vp():
    score = lambda x, t: -x  # noqa: E731
    with pytest.raises(ValueError, match="strictly decreasing"):
        amb.pf_ode_sample(score, VPTrig(), np.zeros((1, 1)), [0.1, 0.5])
    with pytest.raises(ValueError, match="variance preserving"):
        amb.pf_ode_sample(score, OU(lam=2.0), np.zeros((1, 1)), [0.5, 0.1])


def test_erratum_eq5_and_corrected_flow():
    out = leakage_errata.eq5_printed.func()
    assert out.passed and abs(out.value - 0.95) < 0.01, out
    assert abs(checks.pf_ode.func(seed=1).value - 0.3) <= 0.005


def test_lemma41_collapse_and_exact_optimum_copies():
    """Lemma 4.1 at t_n; continuing with the exact clean score ends on training points."""
    assert checks.lemma_4_1.func(seed=2).passed
    rng = np.random.default_rng(4)
    S = rng.uniform(-2, 2, (5, 2))
    S_tn = amb.noisy_copies(S, 0.6, rng)
    out = amb.lemma41_collapse(S_tn, 0.6, VPTrig(), rng, n_particles=300, n_steps=120)
    grid = np.geomspace(0.6 + 1e-3, 2e-3, 200)
    sched = VPTrig()
    final = amb.pf_ode_sample(
        lambda x, t: amb.clean_optimal_score(x, float(sched.sigma(t)), S),
        sched,
        out["samples"],
        grid,
    )
    dist = np.min(np.linalg.norm(final[:, None] - S[None], axis=-1), axis=1)
    assert np.all(dist < 0.01)  # 100% copies: the reduction of memorization needs imperfect fits


# --- Frechet distance ---------------------------------------------------------------------------


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(1, 4))
def test_frechet_against_scipy_sqrtm(seed, d):
    rng = np.random.default_rng(seed)
    A, B = rng.standard_normal((2, d, d))
    C1, C2 = A @ A.T + 0.1 * np.eye(d), B @ B.T
    m1, m2 = rng.standard_normal((2, d))
    twin = np.sum((m1 - m2) ** 2) + np.trace(C1 + C2 - 2 * scipy.linalg.sqrtm(C1 @ C2).real)
    ours = gaussian_frechet_distance(m1, C1, m2, C2)
    np.testing.assert_allclose(ours, twin, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(
        ours, gaussian_frechet_distance(m2, C2, m1, C1), rtol=1e-8, atol=1e-9
    )
    assert gaussian_frechet_distance(m1, C1, m1, C1) < 1e-9


def test_frechet_one_dimensional_closed_form():
    assert gaussian_frechet_distance([1.0], [[4.0]], [0.0], [[1.0]]) == pytest.approx(2.0)


# --- issue 14: schedules, NaN/complex states, sizes, extreme floats -------------------------------

_X1 = np.array([1.0])
_ZERO1 = np.array([0.0])


@pytest.mark.parametrize(
    "call",
    [
        lambda s: amb.pf_ode_velocity(_X1, 0.5, _ZERO1, s),
        lambda s: amb.eq5_as_printed_velocity(_X1, 0.5, _ZERO1, s),
        lambda s: amb.pf_ode_sample(lambda x, t: -x, s, np.zeros((2, 1)), [0.9, 0.1]),
        lambda s: amb.algorithm1_batch(np.zeros((3, 2)), np.zeros((3, 2)), 0.5, s, 0),
        lambda s: amb.algorithm1_objective(np.zeros((3, 2)), np.zeros((3, 2)), 0.5, s),
        lambda s: amb.ddpm_objective(np.zeros((3, 2)), s),
        lambda s: amb.lemma41_collapse(np.zeros((2, 2)), 0.6, s, 0, n_steps=2),
    ],
)
def test_schedule_none_or_a_number_is_a_type_error(call):
    # was an AttributeError ('NoneType' object has no attribute 'dsigma2' / 'sigma')
    for bad in (None, 1.5, np.zeros(2)):
        with pytest.raises(TypeError, match="schedule"):
            call(bad)


def test_schedule_by_name():
    by_name = amb.pf_ode_velocity(_X1, 0.6, _ZERO1, "VPTrig")
    assert by_name.tolist() == amb.pf_ode_velocity(_X1, 0.6, _ZERO1, VPTrig()).tolist()


@pytest.mark.parametrize("velocity", [amb.pf_ode_velocity, amb.eq5_as_printed_velocity])
def test_velocity_rejects_nan_and_complex(velocity):
    for name, x, s in (
        ("x", np.array([np.nan]), _ZERO1),
        ("x", np.array([1j]), _ZERO1),
        ("score", _X1, np.array([np.nan])),
        ("score", _X1, np.array([1 + 1j])),
        ("score", _X1, np.zeros(3)),
    ):
        with pytest.raises(ValueError, match=name):
            velocity(x, 0.5, s, VPTrig())
    with pytest.raises(ValueError, match="t must lie"):
        velocity(_X1, 1.5, _ZERO1, VPTrig())


def test_pf_ode_sample_checks_the_score():
    x_T = np.zeros((2, 1))
    with pytest.raises(TypeError, match="score must be a callable"):
        amb.pf_ode_sample(None, VPTrig(), x_T, [0.9, 0.1])
    with pytest.raises(ValueError, match="score must be finite"):
        amb.pf_ode_sample(lambda x, t: np.nan * x, VPTrig(), x_T, [0.9, 0.1])
    with pytest.raises(ValueError, match="must return the shape of x"):
        amb.pf_ode_sample(lambda x, t: x[:1], VPTrig(), x_T, [0.9, 0.1])


def test_sizes_are_bounded():
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match="n_dup = 18446744073709551616"):
        amb.algorithm1_batch(X, X, 0.5, VPTrig(), 0, n_dup=2**64)  # was an OverflowError
    with pytest.raises(ValueError, match="GiB of working memory"):
        amb.ddpm_objective(X, VPTrig(), n_dup=10**30)
    with pytest.raises(ValueError, match="n_steps must be <= 100000"):
        amb.lemma41_collapse(X, 0.6, VPTrig(), 0, n_steps=2**63 - 1)  # was an IndexError


def test_extreme_levels_and_states():
    # sigma_t^2 underflowed: 0/0 = NaN
    c1, c2 = amb.ambient_coeffs(5e-324, 0.0)
    assert (float(c1), float(c2)) == (1.0, 0.0)
    assert [float(c) for c in amb.ambient_coeffs(1e-300, 0.5e-300)] == pytest.approx([0.75, 0.25])
    assert amb.ambient_loss([[1.0]], [[1.0]], [[0.0]], 1e-300, 0.0).tolist() == [1.0]
    with pytest.raises(ValueError, match="outside the float64 range"):
        amb.ambient_loss([[1e300]], [[1.0]], [[0.0]], 0.5, 0.0)
    with pytest.raises(ValueError, match="outside the float64 range"):
        amb.v_target_ambient(np.array([[1.0]]), np.array([[1.797e308]]), 0.8, 0.6)
    # general schedule: no square overflows; t < t_n (negative conditional variance) refused
    assert [float(c) for c in amb.lemma_c1_coeffs(1.0, 1e300, 1.0, 1.0)] == [1.0, 0.0]
    with pytest.raises(ValueError, match="conditional variance"):
        amb.lemma_c1_coeffs(1.0, 1.0, 1.0, 2.0)
    with pytest.raises(ValueError, match="alpha_t must be > 0"):
        amb.lemma_c1_coeffs(0.0, 1.0, 1.0, 0.5)


def test_optimal_score_validates_both_sets():
    good = np.array([[1.0]])
    with pytest.raises(ValueError, match="S must be finite"):
        amb.algorithm1_optimal_score(np.array([0.75]), 0.8, np.array([[np.nan]]), good, 0.6)
    with pytest.raises(ValueError, match="S_tn must be a real"):
        amb.algorithm1_optimal_score(np.array([0.75]), 0.3, good, np.array([[1j]]), 0.6)
