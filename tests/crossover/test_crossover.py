"""Tests for diffmem_theory.crossover.excess (paper 000: Thms 3.1/3.2, eq. (14), Sec. 4.1, F.1,
F.2).
"""

from __future__ import annotations

import math
import warnings

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diffmem_theory._validation import OutOfRangeWarning
from diffmem_theory.core.denoisers import memorizing_denoiser
from diffmem_theory.core.distributions import IsotropicGaussianMixture, sphere_means
from diffmem_theory.core.losses import loss_weighting, training_losses
from diffmem_theory.core.schedules import OU, VPExp, VPTrig
from diffmem_theory.crossover import excess as cx
from diffmem_theory.registry import get_check

SCHED = VPTrig()
GRID = SCHED.time_grid()
T16 = float(GRID[16])
CS = st.floats(1.0, 2.0)
S2 = st.floats(0.05, 20.0)


def twin_grid_ratio(lam, times, s2, C, schedule=SCHED):
    """Eq. (14) on a grid, literally: 1 - mean(lambda/(psi s2 + 1)) / (C mean(lambda))."""
    psi = schedule.snr(times)
    return 1.0 - np.mean(lam / (psi * s2 + 1.0)) / (C * np.mean(lam))


# --- Thms 3.1 / 3.2 closed forms --------------------------------------------------------------


def test_reference_values_t16():
    assert T16 == pytest.approx(0.36028, abs=1e-12)
    assert float(SCHED.snr(T16)) == pytest.approx(6.70406, abs=1e-5)
    assert float(cx.gen_excess_loss(T16, 50)) == pytest.approx(6.4901, abs=1e-4)
    assert float(cx.gen_excess_loss(T16, 50)) == pytest.approx(50 * T16**2, rel=1e-13)


@settings(max_examples=40, deadline=None)
@given(t=st.floats(1e-8, 1 - 1e-8), s2=S2, d=st.integers(1, 500))
def test_gen_excess_is_nominal_mmse_against_mpmath(t, s2, d):
    """d s2 sigma^2/(alpha^2 s2 + sigma^2) in 40 digits, including t -> 0 and t -> 1."""
    with mpmath.workdps(40):
        tm = mpmath.mpf(t)
        ref = d * s2 * tm**2 / ((1 - tm**2) * s2 + tm**2)
    assert float(cx.gen_excess_loss(t, d, s2)) == pytest.approx(float(ref), rel=1e-13)


def test_gen_excess_other_schedules_and_vectorization():
    out = cx.gen_excess_loss(np.array([0.5, 1.0, 2.0]), 10, 0.5, OU())
    psi = OU().snr(np.array([0.5, 1.0, 2.0]))
    np.testing.assert_allclose(out, 10 * 0.5 / (psi * 0.5 + 1), rtol=1e-14)


def test_pmem_excess_and_approx_losses():
    np.testing.assert_allclose(cx.pmem_excess_loss([0, 50, 200], 200, 50), [100, 75, 0])
    np.testing.assert_allclose(cx.pmem_excess_loss(50, 200, 50, 2.0, C=1.0), 75.0)
    gen, pmem = cx.approx_losses(T16, 100, 200, 50, loss_mem=0.25)
    assert float(gen) == pytest.approx(0.25 + 50 * T16**2)
    assert float(pmem) == pytest.approx(50.25)


def test_kappa_reference_values():
    np.testing.assert_allclose(cx.kappa([30, 40, 50, 60]), [0.850, 0.864, 0.875, 0.884], atol=6e-4)
    d = np.array([10.0, 1e4])
    np.testing.assert_allclose(cx.kappa(d, c=2.0), (1 + 2 * np.log(d) ** 2 / d) ** -0.5)
    assert np.all(np.diff(cx.kappa(np.geomspace(10, 1e8, 20))) > 0)  # kappa(d) -> 1


def test_empirical_constant_inverts_pmem_excess():
    M, N, d, s2 = np.array([10, 100, 190]), 200, 50, 1.7
    loss = 0.3 + cx.pmem_excess_loss(M, N, d, s2, C=1.37)
    np.testing.assert_allclose(cx.empirical_constant(loss, 0.3, M, N, d, s2), 1.37)


# --- eq. (14) -----------------------------------------------------------------------------------


def test_grid_reference_values():
    assert cx.crossover_ratio("x0", times=GRID, C=1.0) == pytest.approx(0.66036, abs=5e-6)
    assert cx.crossover_ratio("x0", times=GRID, C=2.0) == pytest.approx(0.83018, abs=5e-6)
    assert cx.crossover_ratio("eps", times=GRID, C=1.0) == pytest.approx(0.9999828, abs=5e-8)
    assert cx.crossover_ratio("eps", times=GRID, C=2.0) == pytest.approx(0.9999914, abs=5e-8)
    assert cx.crossover_ratio("x0", times=[T16], C=1.0) == pytest.approx(0.8702, abs=1e-4)
    assert cx.crossover_ratio("x0", times=[T16], C=2.0) == pytest.approx(0.9351, abs=1e-4)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), s2=S2, C=CS, name=st.sampled_from(["x0", "eps", "v"]))
def test_grid_ratio_against_twin(seed, s2, C, name):
    times = np.sort(np.random.default_rng(seed).uniform(1e-3, 0.999, 7))
    lam = loss_weighting(name, times)
    expected = twin_grid_ratio(lam, times, s2, C)
    assert cx.crossover_ratio(name, times=times, var_star=s2, C=C) == pytest.approx(expected)
    assert cx.crossover_ratio(lam, times=times, var_star=s2, C=C) == pytest.approx(expected)


@settings(max_examples=30, deadline=None)
@given(p=st.floats(-0.95, 3.0), C=CS)
def test_continuous_power_weightings_closed_form(p, C):
    """lambda = t^p, s2 = 1 (g = t^2): E[lambda g]/E[lambda] = (p + 1)/(p + 3)."""
    ratio = cx.crossover_ratio(lambda t: t**p, C=C)
    assert ratio == pytest.approx(1 - (p + 1) / ((p + 3) * C), rel=1e-8)


@pytest.mark.parametrize("weighting", ["eps", "score", "v", lambda t: 1 / t, lambda t: t**-1.5])
def test_non_integrable_weightings_give_M_star_equal_N(weighting):
    assert cx.crossover_ratio(weighting) == 1.0
    with pytest.raises(ValueError, match="not integrable"):
        cx.approx_loss_difference(100, 200, 50, weighting=weighting)


@settings(max_examples=20, deadline=None)
@given(t_min=st.floats(1e-6, 0.5), C=CS)
def test_eps_weighting_with_cutoff_closed_form(t_min, C):
    B = 1 / t_min + t_min - 2  # int psi, VPTrig
    A = (1 - t_min) - (1 - t_min**3) / 3  # int psi t^2
    assert cx.crossover_ratio("eps", t_min=t_min, C=C) == pytest.approx(1 - A / (C * B), rel=1e-10)


def test_mpmath_where_float64_fails():
    """lambda = psi on (1e-40, 1): 1 - M_*/N = 3.3e-41 is below float64's resolution near 1."""
    with mpmath.workdps(60):
        tm = mpmath.mpf(1e-40)
        B = 1 / tm + tm - 2
        A = (1 - tm) - (1 - tm**3) / 3
        ref = 1 - A / (2 * B)
        hp = cx.crossover_ratio("eps", t_min=1e-40, dps=60)
        assert isinstance(hp, mpmath.mpf)
        assert abs((1 - hp) / (1 - ref) - 1) < mpmath.mpf("1e-15")
    assert cx.crossover_ratio("eps", t_min=1e-40) == 1.0  # float64: rounds to 1
    # lambda t = alpha^2/sigma^4 t overflows float64 at t = 1e-200: the float path uses mpmath
    with mpmath.workdps(30):
        tm = mpmath.mpf(1e-200)
        B = (1 / tm**3 - 1) / 3 - (1 / tm - 1)  # int (1 - t^2)/t^4
        A = 1 / tm + tm - 2  # int (1 - t^2)/t^2 (g = t^2)
        ref = float(1 - A / (2 * B))
    assert cx.crossover_ratio("score", t_min=1e-200) == pytest.approx(ref, abs=1e-15)


@settings(max_examples=15, deadline=None)
@given(s2=S2, C=CS)
def test_continuous_float_vs_mpmath(s2, C):
    hp = cx.crossover_ratio("x0", var_star=s2, C=C, dps=30)
    assert cx.crossover_ratio("x0", var_star=s2, C=C) == pytest.approx(float(hp), rel=1e-11)


def test_continuous_on_other_schedules_needs_finite_t_max():
    with pytest.raises(ValueError, match="t_max is required"):
        cx.crossover_ratio("x0", schedule=OU())
    r = cx.crossover_ratio("x0", schedule=VPExp(), t_max=1.0)
    assert 0.5 < r < 1.0
    with pytest.raises(ValueError, match="VPTrig only"):
        cx.crossover_ratio("x0", schedule=VPExp(), t_max=1.0, dps=20)


@settings(max_examples=25, deadline=None)
@given(N=st.integers(2, 10_000), scale=st.floats(1e-3, 1e3), s2=S2, C=CS)
def test_linear_in_N_and_invariant_to_lambda_scale(N, scale, s2, C):
    r = cx.crossover_ratio("x0", times=GRID, var_star=s2, C=C)
    lam = loss_weighting("eps", GRID)
    assert float(cx.crossover_M(N, times=GRID, var_star=s2, C=C)) == pytest.approx(N * r)
    assert cx.crossover_ratio(scale * lam, times=GRID, var_star=s2, C=C) == pytest.approx(
        cx.crossover_ratio(lam, times=GRID, var_star=s2, C=C), rel=1e-12
    )
    assert cx.crossover_ratio(lambda t: scale * t, var_star=s2, C=C) == pytest.approx(
        cx.crossover_ratio(lambda t: t, var_star=s2, C=C), rel=1e-10
    )


@settings(max_examples=25, deadline=None)
@given(d=st.integers(1, 1000), N=st.integers(10, 1000), s2=S2, C=CS)
def test_loss_difference_decreasing_and_zero_at_crossover(d, N, s2, C):
    M = np.linspace(0, N, 11)
    diff = cx.approx_loss_difference(M, N, d, times=GRID, var_star=s2, C=C)
    assert np.all(np.diff(diff) < 0)  # monotone decreasing in M
    M_star = float(cx.crossover_M(N, times=GRID, var_star=s2, C=C))
    at = cx.approx_loss_difference(M_star, N, d, times=GRID, var_star=s2, C=C)
    assert abs(float(at)) <= 1e-9 * d * s2 * C
    # invariance to d (and K, which never enters): the argmin form picks the same M
    assert cx.crossover_argmin(N, times=GRID, d=d, var_star=s2, C=C) == cx.crossover_argmin(
        N, times=GRID, d=1.0, var_star=s2, C=C
    )


def test_argmin_form_nearest_grid_point_and_measured_losses():
    for N in (50, 100, 150, 200):
        M = cx.crossover_argmin(N, times=GRID)
        assert abs(M - float(cx.crossover_M(N, times=GRID))) <= 0.5
    # with measured losses: a pmem table whose excess is C (1 - M/N) d exactly recovers M_*
    Ms = np.arange(1, 201)
    gen = cx.gen_excess_loss(GRID, 50) + 0.1
    pmem = cx.pmem_excess_loss(Ms[:, None], 200, 50) + 0.1 + 0 * GRID
    assert cx.crossover_argmin(200, Ms, times=GRID, loss_pmem=pmem, loss_gen=gen) == 166


def test_mc_argmin_matches_prediction_with_empirical_constant():
    """Sec. 4.1 with measured losses: the MC argmin equals eq. (14) evaluated with C_emp."""
    rng = np.random.default_rng(5)
    gmm = IsotropicGaussianMixture(sphere_means(4, 30, rng), 1.0)
    X, _ = gmm.sample(60, rng)
    times, Ms = GRID[[12, 16, 20]], np.arange(6, 61, 6)
    dens = {"gen": lambda x, t: gmm.denoiser(x, t, SCHED)}
    for M in Ms:
        dens[M] = lambda x, t, S=X[:M]: memorizing_denoiser(x, t, S, SCHED)
    out = training_losses(dens, X, times, SCHED, n_noise=5)
    pmem = np.stack([out[M].mean for M in Ms])
    M_mc = cx.crossover_argmin(60, Ms, times=times, loss_pmem=pmem, loss_gen=out["gen"].mean)
    # eq. (14) with the measured constant at that M reproduces the same grid point
    c_emp = float(cx.empirical_constant(out[M_mc].mean.mean(), out[60].mean.mean(), M_mc, 60, 30))
    predicted = float(cx.crossover_M(60, times=times, C=c_emp))
    assert abs(M_mc - predicted) <= 6
    assert 1.0 <= c_emp <= 2.2


# --- Thm F.1 / Prop F.2 -------------------------------------------------------------------------


def test_residuals_reduce_to_eps_dv_and_grow_with_constants():
    dv = float(cx.gen_excess_loss(T16, 50))
    assert float(cx.thm_f_1_residual(T16, 0.3, 50, 200, 12, 10.0, 7.0, C3=0.0)) == pytest.approx(
        0.3 * dv
    )
    lo = cx.thm_f_1_residual(T16, 0.3, 50, 200, 12, 10.0, 7.0, C3=1.0)
    hi = cx.thm_f_1_residual(T16, 0.3, 50, 200, 12, 10.0, 7.0, C3=2.0)
    assert lo > 0.3 * dv and hi - 0.3 * dv == pytest.approx(2 * (lo - 0.3 * dv))
    eps = math.log(50) / math.sqrt(50)
    assert float(cx.prop_f_2_residual(T16, 50, 200, 12, 10.0, 7.0, C4=0.0)) == pytest.approx(
        eps * dv
    )
    # the exponential part decays with d at fixed N, K (the separation grows like sqrt d)
    d = np.array([100.0, 1e4, 1e6])
    ex = cx.prop_f_2_residual(T16, d, 200, 12, np.sqrt(d), np.sqrt(d)) - np.log(d) / np.sqrt(
        d
    ) * cx.gen_excess_loss(T16, d)
    assert np.all(np.diff(ex / cx.gen_excess_loss(T16, d)) < 0)


# --- registered checks and the documented limitation of Thm 3.2 -------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "paper000.thm3_1",
        "paper000.thm3_2",
        "paper000.eq13_orthogonality",
        "paper000.eq14_grid",
        "paper000.eq14_continuous",
        "paper000.thm_f1",
    ],
)
@pytest.mark.parametrize("seed", [0, 7])
def test_checks_pass(name, seed):
    result = get_check(name).run(seed=seed)
    assert result.status == "pass", result


def test_eq13_termwise_erratum_reproduced():
    assert get_check("paper000.eq13_termwise").run(seed=3).status == "erratum"


def test_thm3_2_fails_when_clusters_are_not_represented():
    """Documented limitation: memorizing only one cluster pushes C_emp above 2 (Prop. C.4 fails)."""
    rng = np.random.default_rng(0)
    gmm = IsotropicGaussianMixture(sphere_means(12, 50, rng), 1.0)
    X, labels = gmm.sample(200, rng)
    keep = np.flatnonzero(labels == 0)
    dens = {
        "mem": lambda x, t: memorizing_denoiser(x, t, X, SCHED),
        "pmem": lambda x, t: memorizing_denoiser(x, t, X[keep], SCHED),
    }
    out = training_losses(dens, X, T16, SCHED, n_noise=5)
    diff = out["pmem"] - out["mem"]
    c_emp = float(cx.empirical_constant(diff.mean[0], 0.0, keep.size, 200, 50))
    assert c_emp > 2.0 + 5 * float(diff.stderr[0]) / ((1 - keep.size / 200) * 50)


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: cx.gen_excess_loss(0.0, 50), "t must lie in"),
        (lambda: cx.gen_excess_loss(0.5, -1), "d must be > 0"),
        (lambda: cx.gen_excess_loss(0.5, 50, 0.0), "var_star must be > 0"),
        (lambda: cx.pmem_excess_loss(300, 200, 50), "M must lie in"),
        (lambda: cx.pmem_excess_loss(10, 200, 50, C=0.0), "C must be > 0"),
        (lambda: cx.kappa(1.0), "d must be > 1"),
        (lambda: cx.empirical_constant(1.0, 0.0, 200, 200, 50), "M must be < N"),
        (lambda: cx.crossover_ratio("x1"), "weighting must be one of"),
        (lambda: cx.crossover_ratio(np.ones(3)), "needs times"),
        (lambda: cx.crossover_ratio(np.ones(3), times=GRID), "give one weight per grid time"),
        (lambda: cx.crossover_ratio(-np.ones(26), times=GRID), "must be >= 0"),
        (lambda: cx.crossover_ratio(np.zeros(26), times=GRID), "positive somewhere"),
        (lambda: cx.crossover_ratio("x0", times=GRID, dps=20), "continuous t only"),
        (lambda: cx.crossover_ratio("x0", t_min=0.5, t_max=0.4), "t_min must be"),
        (lambda: cx.crossover_ratio(lambda t: -t), "non-negative"),
        (lambda: cx.crossover_ratio("x0", times=[0.5, 1.0]), "t must lie in"),
        (lambda: cx.crossover_argmin(200, [300], times=GRID), "Ms must be"),
        (lambda: cx.crossover_argmin(200, times=GRID, loss_gen=GRID), "give both"),
        (
            lambda: cx.crossover_argmin(
                200, [1, 2], times=GRID, loss_pmem=np.ones((3, 26)), loss_gen=GRID
            ),
            "loss_pmem must have shape",
        ),
        (lambda: cx.thm_f_1_residual(0.5, 1.5, 50, 200, 12, 10, 7), "eps must lie in"),
        (lambda: cx.prop_f_2_residual(0.5, 1.0, 200, 12, 10, 7), "d must be > 1"),
    ],
)
def test_value_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_schedule_type_checked():
    with pytest.raises(TypeError, match="schedule must be a Schedule"):
        cx.gen_excess_loss(0.5, 10, schedule=object())
    assert cx.gen_excess_loss(0.5, 10, schedule="VPTrig") == cx.gen_excess_loss(0.5, 10)


@pytest.mark.parametrize(
    "call",
    [
        lambda C: cx.crossover_ratio(C=C),
        lambda C: cx.crossover_ratio("x0", times=GRID, C=C),
        lambda C: cx.pmem_excess_loss(10, 200, 50, C=C),
        lambda C: cx.approx_loss_difference(10, 200, 50, times=GRID, C=C),
        lambda C: cx.crossover_argmin(20, times=GRID, C=C),
    ],
)
def test_constant_outside_thm_3_2_range_warns(call):
    # regression: crossover_ratio(C=0.5) silently used Thm 3.2 outside C in [1, 2]
    for C in (0.5, 2.5):
        with pytest.warns(OutOfRangeWarning, match=r"C = .* outside \[1, 2\]"):
            call(C)
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutOfRangeWarning)
        for C in (1.0, 1.5, 2.0):
            call(C)


# --- fuzzing findings: extreme valid floats ------------------------------------------------------


def test_residuals_at_tiny_t_and_huge_gamma_are_finite():
    # were NaN: psi_t = inf gave inf/inf and 0 * inf
    for t in (1e-300, 5e-324):
        xi = cx.thm_f_1_residual(t, 0.5, 50, 200, 12, 10.0, 7.07)
        # t -> 0: v -> 0, every tail -> 0 but exp(-eps^2 d/16)
        ref = (7.07**2 + 2 * 50) * (12**2 + 200**2) * math.exp(-0.25 * 50 / 16)
        assert float(xi) == pytest.approx(ref, rel=1e-12)
        assert math.isfinite(float(cx.prop_f_2_residual(t, 50, 200, 12, 10.0, 7.07)))
    big = cx.thm_f_1_residual(0.36028, 0.5, 50, 200, 12, 10.0, 1e100)
    assert float(big) == pytest.approx(
        float(cx.thm_f_1_residual(0.36028, 0.5, 50, 200, 12, 10.0, 1e100, C3=0.0))
        + 1e200 * (12**2 + 200**2) * float(np.exp(-0.25 * 50 / 16)),
        rel=1e-6,
    )


def test_gen_excess_loss_huge_var_star_is_finite():
    # d s2/(psi s2 + 1) -> d/psi as s2 -> inf (was NaN: inf * 0)
    t = 0.36028
    psi = float(VPTrig().snr(t))
    assert float(cx.gen_excess_loss(t, 50, 1.797e308)) == pytest.approx(50 / psi, rel=1e-12)


@pytest.mark.parametrize(
    "call",
    [
        lambda: cx.pmem_excess_loss(10, 200, 50, var_star=1.797e308),
        lambda: cx.empirical_constant(41.0, 2.0, 100, 200, 5e-324),
        lambda: loss_weighting("eps", 1e-300),  # psi = 1e600
        lambda: cx.thm_f_1_residual(0.5, 0.5, 50, 200, 12, 10.0, 7.0, C3=1.797e308),
    ],
)
def test_results_beyond_float64_raise_value_error(call):
    with pytest.raises(ValueError, match="float64"):
        call()


def test_crossover_results_beyond_float64_raise_value_error():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfRangeWarning)
        with pytest.raises(ValueError, match="float64"):
            cx.crossover_ratio(C=5e-324)
        with pytest.raises(ValueError, match="float64"):
            cx.crossover_ratio("x0", times=GRID, C=5e-324)


def test_crossover_argmin_huge_d_no_overflow():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the square of the objective overflowed
        assert cx.crossover_argmin(200, times=GRID, d=1e300) == cx.crossover_argmin(200, times=GRID)


def test_crossover_task_validates_its_config():
    from diffmem_theory.crossover.figures.crossover_sweep import crossover_task

    with pytest.raises(TypeError, match="config must be a dict"):  # AttributeError
        crossover_task(1.5)
    with pytest.raises(ValueError, match=r"config is missing \['C'\]"):  # KeyError
        crossover_task({"weighting": "x0"})


def test_crossover_argmin_huge_N_is_refused_before_allocating():
    with pytest.raises(ValueError, match="GiB"):
        cx.crossover_argmin(2**62, times=GRID)
