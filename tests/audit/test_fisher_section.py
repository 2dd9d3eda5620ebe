"""The audit's paper-003 section: the empirical score audited against itself (gap 0), the true
score of a known mixture (Ye et al.'s leading-order gap), Prop 4.1 and the subsample errors."""

import json

import numpy as np
import pytest

from diffmem_theory.audit.base import AuditInputs
from diffmem_theory.audit.fisher import log_trapezoid_weights, section
from diffmem_theory.core.denoisers import as_denoiser
from diffmem_theory.core.distributions import (
    EmpiricalDistribution,
    IsotropicGaussianMixture,
    sphere_means,
)
from diffmem_theory.core.schedules import VPTrig
from diffmem_theory.fisher.loss_gap import loss_gap_asymptotic_gaussian

SCHED = VPTrig()
D = 30
MIX = IsotropicGaussianMixture(sphere_means(4, D, np.random.default_rng(0)), 1.0)
TIMES = np.array([0.05, 0.1, 0.2, 0.4])


def _inputs(model, train, times=TIMES, n_noise=8):
    return AuditInputs(
        train,
        None,
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
def train():
    return MIX.sample(200, np.random.default_rng(1))[0]


def test_empirical_score_audited_against_itself_has_no_gap(train):
    sec = section(_inputs(EmpiricalDistribution(train), train))
    for name in (
        "integrated loss gap",
        "integrated Fisher divergence",
        "integrated Prop 4.1 residual (gap - Fisher)",
        "relative gap (model / Gaussian fit)",
    ):
        v = sec.value(name)
        assert abs(v.value) <= 2 * v.se or v.value == 0.0, name  # 0 to Monte Carlo error
    assert sec.value("largest |z| of the Prop 4.1 residual over t").value == 0.0
    assert "memorizes" in sec.verdict
    assert set(sec.figures) == {"fisher_gap"}
    json.dumps(sec.to_dict())


def test_true_mixture_score_has_ye_et_al_leading_order_gap_and_meets_prop_4_1(train):
    sec = section(_inputs(MIX, train))
    gap, se = np.asarray(sec.curves["gap"]), np.asarray(sec.curves["gap_se"])
    # Thm 4.3's leading order for unit components, F_t = d psi_t / (psi_t + 1): the empirical
    # posterior sits on the training point while sigma_t << the nearest-neighbour distance
    closed = loss_gap_asymptotic_gaussian(TIMES[:2], np.ones(D), SCHED)
    assert np.all(np.abs(gap[:2] / closed - 1) < 0.03)
    assert np.all(gap > 4 * se)
    residual = sec.value("integrated Prop 4.1 residual (gap - Fisher)")
    assert abs(residual.value) <= 4 * residual.se
    assert sec.value("largest |z| of the Prop 4.1 residual over t").value < 4
    gap_int, fisher_int = (
        sec.value("integrated loss gap"),
        sec.value("integrated Fisher divergence"),
    )
    assert gap_int.value == pytest.approx(fisher_int.value, rel=1e-6)
    assert "memorizes" not in sec.verdict


def test_a_subsample_estimates_the_whole_training_set_within_its_standard_error(train):
    model = as_denoiser(lambda x, t: 0.8 * x, SCHED)
    full = section(_inputs(model, train)).value("integrated loss gap")
    part = section(_inputs(model, train), n_points=40).value("integrated loss gap")
    assert part.se > full.se
    assert abs(part.value - full.value) <= 4 * np.hypot(part.se, full.se)


def test_one_time_gives_the_values_at_that_time(train):
    sec = section(_inputs(MIX, train, times=np.array([0.1])))
    assert sec.value("integrated loss gap").value == pytest.approx(sec.curves["gap"][0])
    assert "no integral" in sec.value("integrated loss gap").note


@pytest.mark.parametrize(("option", "value"), [("n_points", 1), ("band", 1.5)])
def test_bad_options_name_themselves(train, option, value):
    with pytest.raises(ValueError, match=option):
        section(_inputs(MIX, train), **{option: value})


def test_log_trapezoid_weights_integrate_power_laws():
    t = np.geomspace(1e-3, 1.0, 200)
    w = log_trapezoid_weights(t)
    assert w @ (1 / t) == pytest.approx(np.log(1e3), rel=1e-12)  # exact: constant in log t
    assert w @ (t**-2) == pytest.approx(1e3 - 1, rel=1e-3)
    for bad in (np.array([0.1]), np.array([0.2, 0.1]), np.array([0.0, 0.1])):
        with pytest.raises(ValueError, match="times"):
            log_trapezoid_weights(bad)


@pytest.mark.parametrize("times", [[None, 0.1, 1.0], ["a", "b"], [[0.1, 1.0]], [0.1, np.nan]])
def test_log_trapezoid_weights_refuse_non_numeric_times(times):
    with pytest.raises(ValueError, match="times"):
        log_trapezoid_weights(np.array(times, dtype=object) if None in times else times)
