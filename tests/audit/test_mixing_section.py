"""The audit's mixing-time section: t_M of paper 001 on the data, carried to the schedule."""

import math

import numpy as np
import pytest

from diffmem_theory.audit.base import AuditInputs
from diffmem_theory.audit.mixing import data_sigma, schedule_mixing_time, section
from diffmem_theory.core.denoisers import as_denoiser
from diffmem_theory.core.distributions import EmpiricalDistribution
from diffmem_theory.core.schedules import OU, VE, VPTrig
from diffmem_theory.mixing.mixing_time import kde_bandwidth, t_mixing


def _inputs(train, schedule, t_span=None):
    model = as_denoiser(EmpiricalDistribution(train), schedule)
    return AuditInputs(
        train, None, model, "m", schedule, train[:2], None, t_span, np.array([0.5]), 1, 0
    )


@pytest.fixture(scope="module")
def gaussian():
    """Isotropic Gaussian data, sigma = 2, the model of paper 001."""
    return 2.0 * np.random.default_rng(0).standard_normal((4000, 10))


def test_ou_schedule_gives_paper_001_t_m_back(gaussian):
    sec = section(_inputs(gaussian, OU()))
    sigma = data_sigma(gaussian)
    assert sigma == pytest.approx(2.0, rel=0.02)  # SE of a variance of 40,000 draws: 0.7%
    t_m = t_mixing(sigma, 10, 4000)
    assert sec.value("t_M (OU time)").value == t_m
    assert sec.value("t_M (OU time)").source.endswith("eq. (2.9)")
    # the OU schedule maps t_M onto itself
    assert sec.value("t_M (OU time)").value == pytest.approx(
        schedule_mixing_time(sigma, 10, 4000, OU()).t, rel=1e-12
    )
    for rule in ("leading", "mixing", "silverman"):
        assert sec.value(f"KDE bandwidth ({rule})").value == kde_bandwidth(
            sigma, 10, 4000, rule=rule
        )
    # eq. (2.10): the mixing bandwidth is sqrt(2 t_M)
    assert sec.value("KDE bandwidth (mixing)").value == pytest.approx(math.sqrt(2 * t_m))
    # isotropic data: d_PR = d / (1 + d/N) to leading order (Marchenko-Pastur)
    assert sec.value("participation-ratio dimension d_PR").value == pytest.approx(10, abs=0.1)


@pytest.mark.parametrize("schedule", [VPTrig(), OU(lam=0.5), VE.linear2t(T=100.0)])
def test_mapped_time_meets_the_condition_of_eq_2_9_in_every_schedule(gaussian, schedule):
    sigma, n, d = data_sigma(gaussian), 4000, 10
    m = schedule_mixing_time(sigma, d, n, schedule)
    # n = (1 + sigma^2 psi_t)^{d/2} at the mapped time
    psi = float(schedule.snr(m.t))
    assert (d / 2) * math.log1p(sigma**2 * psi) == pytest.approx(math.log(n), rel=1e-10)
    # and OU time t_M has the same SNR: psi = 1 / (e^{2 t_M} - 1)
    assert psi == pytest.approx(1 / math.expm1(2 * m.t_ou), rel=1e-10)


def test_figure_curve_crosses_zero_at_t_m(gaussian):
    grid = VPTrig().time_grid(25)
    sec = section(_inputs(gaussian, VPTrig(), grid))
    t, adv = np.asarray(sec.curves["t"]), np.asarray(sec.curves["log_self_advantage"])
    t_m = sec.value("t_M (model time)").value
    assert adv[0] > 0 > adv[-1]  # own term dominates at small t, the others at large t
    j = int(np.argmax(adv < 0))
    assert t[j - 1] <= t_m <= t[j]
    assert set(sec.figures) == {"mixing_time"}
    assert "The sampler ends at t = 0.001, below t_M" in sec.verdict


def test_schedule_that_never_reaches_the_snr_of_t_m_says_so():
    # VE.linear2t on (0, 1]: psi_t = 1/t^2 >= 1, but psi_M = (n^{2/d} - 1) / sigma^2 is tiny
    train = 10.0 * np.random.default_rng(1).standard_normal((50, 4))
    sec = section(_inputs(train, VE.linear2t()))
    v = sec.value("t_M (model time)")
    assert v.value is None
    assert "before t_M" in v.note
    assert "(OU time)" in sec.verdict


def test_anisotropic_data_have_a_small_participation_ratio():
    # variance in 2 of 20 directions: d_PR ~ 2, and t_M at d_PR is the t_M of the 2-D
    # isotropic Gaussian the data are, far below the t_M of 20 isotropic dimensions
    rng = np.random.default_rng(2)
    train = np.zeros((2000, 20))
    train[:, :2] = rng.standard_normal((2000, 2))
    train[:, 2:] = 1e-3 * rng.standard_normal((2000, 18))
    sec = section(_inputs(train, VPTrig()))
    assert sec.value("participation-ratio dimension d_PR").value == pytest.approx(2, abs=0.1)
    t_pr = sec.value("t_M at d_PR (model time)").value
    assert t_pr < sec.value("t_M (model time)").value / 10
    t_2d = schedule_mixing_time(data_sigma(train[:, :2]), 2, 2000, VPTrig()).t
    assert t_pr == pytest.approx(t_2d, rel=0.01)


def test_bad_inputs():
    with pytest.raises(ValueError, match="train"):
        data_sigma(np.ones((5, 3)))
    with pytest.raises(ValueError, match="n_grid"):
        section(_inputs(np.random.default_rng(0).standard_normal((5, 2)), VPTrig()), n_grid=1)


@pytest.mark.parametrize("scale", [1e300, 1e-300, 2.0**-1074 * 2**20])
def test_data_sigma_is_scale_free(scale):
    train = np.array([[0.0, 0.0], [2.0, 0.0]])
    assert data_sigma(scale * train) == pytest.approx(scale * data_sigma(train), rel=1e-12)
    with pytest.raises(ValueError, match="sigma"):
        data_sigma(np.array([[1.7e308], [-1.7e308]]))  # sigma = sqrt(2) 1.7e308
