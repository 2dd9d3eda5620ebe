"""The audit's paper-000 section: known answers (the empirical and the true denoiser), eq. (14)
for the fitted parameters, and the standard errors of a subsample."""

import json
import math

import numpy as np
import pytest

from diffmem_theory.audit.base import AuditInputs
from diffmem_theory.audit.crossover import ratio_mean, section, subsample, subsample_mean
from diffmem_theory.core.denoisers import as_denoiser
from diffmem_theory.core.distributions import (
    EmpiricalDistribution,
    IsotropicGaussianMixture,
    sphere_means,
)
from diffmem_theory.core.fit import fit_gmm
from diffmem_theory.core.losses import LossEstimate
from diffmem_theory.core.schedules import VPExp, VPTrig
from diffmem_theory.crossover.excess import crossover_ratio

SCHED = VPTrig()
TIMES = np.array([0.1, 0.2, 0.36, 0.6])  # all below kappa(30) = 0.85
# paper 000's laboratory: K = 4 means on the sphere of radius sqrt(d), s2 = 1, d = 30
MIX = IsotropicGaussianMixture(sphere_means(4, 30, np.random.default_rng(0)), 1.0)


def _inputs(model, train, held, times=TIMES, n_noise=4):
    return AuditInputs(
        train,
        held,
        as_denoiser(model, SCHED),
        "m",
        SCHED,
        train[:4],
        None,
        None,
        times,
        n_noise,
        0,
    )


@pytest.fixture(scope="module")
def data():
    X, _ = MIX.sample(300, np.random.default_rng(1))
    return X[:200], X[200:]


def test_empirical_denoiser_audited_against_itself_is_memorizing(data):
    train, held = data
    sec = section(_inputs(EmpiricalDistribution(train), train, held), k=4)
    phi = sec.value("memorization index (training loss)")
    assert (phi.value, phi.se) == (1.0, 0.0)  # the same denoiser on the same noise, bit for bit
    assert sec.value("memorization index (held-out loss)").value == 1.0
    assert sec.value("model - memorizing training loss").value == 0.0
    assert sec.value("Thm 3.1 excess of the model: measured / predicted").value == 0.0
    assert "memorizing" in sec.verdict
    assert set(sec.figures) == {"crossover_losses"}
    json.dumps(sec.to_dict())  # every value and curve is JSON-ready


def test_true_mixture_denoiser_generalizes_and_meets_thm_3_1(data):
    train, held = data
    sec = section(_inputs(MIX, train, held), k=4)
    phi = sec.value("memorization index (training loss)")
    # xbar_* is the fitted mixture's denoiser up to the fit's error: the index is 0 within
    # the band (the fit of 200 points is slightly closer to them than the true law)
    assert abs(phi.value) < 0.1 and phi.se < 0.01
    assert sec.value("Thm 3.1 holds for the model").value is True
    assert sec.value("Thm 3.1 holds for the fitted mixture").value is True
    # Thm 3.1 with s2 = 1 at t <= 0.6: measured / predicted ~ 1 (the check paper000.thm3_1
    # finds 2% at t <= 0.36; the fitted s_k^2 carry the fit's few-percent error)
    ratio = sec.value("Thm 3.1 excess of the model: measured / predicted")
    assert abs(ratio.value - 1.0) < 0.1
    assert "generalizing" in sec.verdict


def test_crossover_of_a_one_component_fit_is_eq_14_with_its_variance(data):
    train, _ = data
    var = float(fit_gmm(train, 1).var[0])  # K = 1 is deterministic: no start to choose
    sec = section(_inputs(MIX, train, None), k=1, weighting="eps")
    for C in (1.0, 2.0):
        expected = crossover_ratio("eps", times=TIMES, var_star=var, C=C)
        assert sec.value(f"M*/N (eq. 14, C = {C:g})").value == pytest.approx(expected, rel=1e-12)
        assert sec.value(f"M* (eq. 14, C = {C:g})").value == pytest.approx(200 * expected)
    continuous = section(_inputs(MIX, train, None), k=1, t_law="continuous")
    expected = crossover_ratio("x0", var_star=var, C=1.0, t_min=0.1, t_max=0.6)
    assert continuous.value("M*/N (eq. 14, C = 1)").value == pytest.approx(expected, rel=1e-12)


def test_crossover_of_per_component_variances_is_the_variance_weighted_average(data):
    train, _ = data
    sec = section(_inputs(MIX, train, None), k=4, weighting="x0")
    # VPTrig on a grid: r_k = 1 - mean_t(1/(psi_t s_k^2 + 1)) / C; the section's fit is
    # reproduced by the same seeded starts, so recompute r_k from the curves' Thm 3.1 excess:
    # sum_k pi_k d s_k^2 (1 - r_k) C = mean_t excess_t
    excess = np.asarray(sec.curves["thm_3_1_excess"])
    d_s2bar = sec.value("fitted d s2bar").value
    for C in (1.0, 2.0):
        expected = 1.0 - excess.mean() / (C * d_s2bar)
        assert sec.value(f"M*/N (eq. 14, C = {C:g})").value == pytest.approx(expected, rel=1e-9)


def test_no_held_out_points_leaves_the_held_out_values_out(data):
    train, _ = data
    sec = section(_inputs(MIX, train, None), k=4, n_points=50)
    names = [v.name for v in sec.values]
    assert "memorization index (held-out loss)" not in names
    assert "on held-out points" not in sec.verdict.lower()


@pytest.mark.parametrize(
    ("option", "value", "error"),
    [
        ("n_points", 1, ValueError),
        ("k", 0, ValueError),
        ("k", 201, ValueError),
        ("n_init", 0, ValueError),
        ("n_fit", 3, ValueError),
        ("t_law", "uniform", ValueError),
        ("weighting", "x1", ValueError),
        ("weighting", 3.0, TypeError),
        ("band", 0.7, ValueError),
    ],
)
def test_bad_options_name_themselves(data, option, value, error):
    train, _ = data
    with pytest.raises(error, match=option):
        section(_inputs(MIX, train, None), **{option: value})


def test_subsample_mean_with_every_point_is_the_loss_estimate_of_the_fixed_set():
    draws = np.random.default_rng(0).normal(size=(3, 20, 5))
    est = LossEstimate(np.array([0.1, 0.2, 0.3]), draws, (0, 5, 20, 1))
    for i in range(3):
        value, se = subsample_mean(draws, np.eye(3)[i], 20)
        assert value == pytest.approx(est.mean[i]) and se == pytest.approx(est.stderr[i])


def test_subsample_mean_standard_error_is_calibrated_over_repeated_subsamples():
    # a population of 2,000 points with spread-out means; 50 points x 4 draws per estimate
    rng = np.random.default_rng(0)
    mu = rng.normal(0.0, 2.0, 2000)
    estimates, ses = [], []
    for rep in range(400):
        idx = subsample(np.arange(2000.0)[:, None], 50, seed=rep).ravel().astype(int)
        draws = (mu[idx][None, :, None] + rng.normal(size=(2, 50, 4))) * np.array([1.0, 0.5])[
            :, None, None
        ]
        v, s = subsample_mean(draws, np.array([1.0, 2.0]), 2000)
        estimates.append(v)
        ses.append(s)
    # the spread of 400 estimates has a relative SE of 1/sqrt(800) = 3.5%
    assert np.std(estimates, ddof=1) == pytest.approx(np.sqrt(np.mean(np.square(ses))), rel=0.12)
    assert np.mean(estimates) == pytest.approx(2 * mu.mean(), abs=4 * np.std(estimates) / 20)


def test_ratio_mean_of_proportional_draws_is_exact_and_of_a_zero_denominator_nan():
    a = np.random.default_rng(0).normal(size=(2, 10, 3))
    assert ratio_mean(3 * a, a, np.ones(2), 10)[0] == pytest.approx(3.0)
    value, se = ratio_mean(a, np.zeros_like(a), np.ones(2), 10)
    assert math.isnan(value) and se == math.inf


def test_the_same_model_in_eps_and_x0_units_gets_the_same_section(data):
    train, held = data
    eps_model = as_denoiser(
        lambda x, t: MIX.denoiser(x, t, SCHED, prediction="eps"), SCHED, prediction="eps"
    )
    inputs = AuditInputs(train, held, eps_model, "eps", SCHED, train[:4], None, None, TIMES, 4, 0)
    a, b = section(_inputs(MIX, train, held), k=4), section(inputs, k=4)
    for va, vb in zip(a.values, b.values, strict=True):
        assert va.name == vb.name
        if isinstance(va.value, float):
            assert vb.value == pytest.approx(va.value, rel=1e-7, abs=1e-9), va.name


def test_a_schedule_on_an_unbounded_domain_is_audited(data):
    train, _ = data
    sched = VPExp()
    inputs = AuditInputs(
        train,
        None,
        as_denoiser(MIX, sched),
        "m",
        sched,
        train[:4],
        None,
        None,
        np.array([0.05, 0.5, 2.0]),
        2,
        0,
    )
    sec = section(inputs, k=4)
    assert abs(sec.value("memorization index (training loss)").value) < 0.1
    assert 0.0 < sec.value("M*/N (eq. 14, C = 1)").value < 1.0


@pytest.mark.parametrize("points", [None, 1.0, "a", np.zeros(3), np.zeros((0, 2)), [[1.0], ["a"]]])
def test_subsample_refuses_what_is_not_a_set_of_points(points):
    with pytest.raises(ValueError, match="points"):
        subsample(points, 3, seed=0)


def test_subsample_mean_and_ratio_are_scale_free_and_refuse_an_overflowing_result():
    draws = np.array([[[1.0, 3.0], [5.0, 7.0]]])
    value, se = subsample_mean(draws, [1.0], 2)
    big_value, big_se = subsample_mean(1e300 * draws, [1.0], 2)  # the variance is ~1e600
    assert (big_value, big_se) == pytest.approx((1e300 * value, 1e300 * se), rel=1e-15)
    # a power of 2 scales exactly
    assert subsample_mean(draws, [2.0**-1070], 2) == (value * 2.0**-1070, se * 2.0**-1070)
    with pytest.raises(ValueError, match="float64 range"):
        subsample_mean(np.full((2, 1, 2), 1.5e308), [1.0, 1.0], 1)
    a = np.array([[[1.0, 2.0], [3.0, 2.0]]])
    a[0, 0, 0] = 1e300
    rho, rho_se = ratio_mean(a, 2 * a, [1.0], 2)
    assert rho == 0.5 and math.isfinite(rho_se)
    with pytest.raises(ValueError, match="ratio"):
        ratio_mean(np.full((1, 2, 2), 1e300), np.full((1, 2, 2), 1e-300), [1.0], 2)
