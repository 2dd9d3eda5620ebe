"""The audit's paper-004 section: Lemma 4.2 for the data's Gaussian fit (known answers), the
ordering of the leakages, t_n on the model's schedule, and the Gaussian upper bound."""

import json
import math

import numpy as np
import pytest

from diffmem_theory.audit.base import AuditInputs
from diffmem_theory.audit.leakage import DEFAULT_SIGMA_TN, section
from diffmem_theory.core.denoisers import as_denoiser
from diffmem_theory.core.distributions import EmpiricalDistribution
from diffmem_theory.core.fit import fit_gaussian
from diffmem_theory.core.schedules import VPExp, VPTrig
from diffmem_theory.leakage.information import mi_ambient, mi_ddpm, mmse_x0

D = 16
SCHED = VPTrig()


def _inputs(train, schedule=SCHED, n_samples=50):
    model = as_denoiser(EmpiricalDistribution(train), schedule)
    return AuditInputs(
        train, None, model, "e", schedule, train[:n_samples], None, None, np.array([0.5]), 1, 0
    )


@pytest.fixture(scope="module")
def train():
    return np.random.default_rng(0).normal(0.0, 1.0, (4000, D))  # Sigma = I_16


def test_values_are_lemma_4_2_for_the_fitted_spectrum_and_match_sigma_identity(train):
    sec = section(_inputs(train), sigma_tn=0.5, m=10)
    lam = np.linalg.eigvalsh(fit_gaussian(train).covs[0])
    assert sec.value("ambient leakage I(A; x0)").value == pytest.approx(mi_ambient(lam, 0.5))
    assert sec.value("DDPM leakage I(D; x0)").value == pytest.approx(mi_ddpm(lam, 0.5, 10))
    assert sec.value("DDPM MMSE of x0 / tr Sigma").value == pytest.approx(
        mmse_x0(lam, 0.5, 10) / lam.sum()
    )
    # Sigma = I: I(A) = (d/2) log(1/sigma^2) = 8 log 4, I(D) = (d/2) log(1 + 30); the fit of
    # 4,000 points has eigenvalues within ~0.1 of 1 (relative error of the sum ~ 1/sqrt(N d))
    assert sec.value("ambient leakage I(A; x0)").value == pytest.approx(8 * math.log(4), rel=0.02)
    assert sec.value("DDPM leakage I(D; x0)").value == pytest.approx(8 * math.log(31), rel=0.02)
    assert sec.value("ambient MMSE of x0 / tr Sigma").value == pytest.approx(0.25, rel=0.03)
    assert set(sec.figures) == {"leakage_vs_sigma"}
    json.dumps(sec.to_dict())


def test_leakages_are_ordered_and_m_defaults_to_the_number_of_samples(train):
    sec = section(_inputs(train, n_samples=37))
    amb = sec.value("ambient leakage I(A; x0)").value
    ddpm = sec.value("DDPM leakage I(D; x0)").value
    printed = sec.value("DDPM leakage as printed, m I(A; x0)").value
    assert amb < ddpm < printed
    assert printed == pytest.approx(37 * amb)
    assert ddpm - amb <= D / 2 * math.log(37)
    assert "37 DDPM samples" in sec.verdict
    assert DEFAULT_SIGMA_TN == pytest.approx(0.325233, abs=1e-6)


def test_t_n_is_the_time_of_the_same_snr_on_the_model_schedule(train):
    assert section(_inputs(train), sigma_tn=0.3).value(
        "t_n on the model's schedule"
    ).value == pytest.approx(0.3)  # VPTrig: sigma_t = t
    vpexp = section(_inputs(train, VPExp()), sigma_tn=0.3).value("t_n on the model's schedule")
    assert vpexp.value == pytest.approx(-math.log1p(-0.09))  # sigma_t^2 = 1 - e^{-t}
    none = section(_inputs(train), sigma_tn=1.0)
    assert none.value("t_n on the model's schedule").value is None
    assert none.value("ambient leakage I(A; x0)").value == 0.0


def test_gaussian_value_bounds_the_leakage_of_non_gaussian_data_of_the_same_covariance():
    # x0 = +-1 with probability 1/2 (variance 1): I(x_tn; x0) = h(Y) - h(Y | x0) by quadrature
    sigma = 0.5
    a = math.sqrt(1 - sigma**2)
    y = np.linspace(-12, 12, 200_001)
    dens = 0.5 * sum(np.exp(-((y - a * s) ** 2) / (2 * sigma**2)) for s in (-1, 1))
    dens /= math.sqrt(2 * math.pi) * sigma
    h_y = -np.sum(dens * np.log(dens)) * (y[1] - y[0])
    binary = h_y - 0.5 * math.log(2 * math.pi * math.e * sigma**2)
    X = np.repeat([[-1.0], [1.0]], 500, axis=0)
    gaussian = section(_inputs(X), sigma_tn=sigma, m=1).value("ambient leakage I(A; x0)").value
    assert gaussian == pytest.approx(0.5 * math.log(1 + 3.0))  # the fit's variance is exactly 1
    assert 0 < binary < gaussian


@pytest.mark.parametrize(
    ("option", "value", "error"),
    [
        ("sigma_tn", 0.0, ValueError),
        ("sigma_tn", 1.5, ValueError),
        ("m", 0, ValueError),
        ("m", 2.5, ValueError),
    ],
)
def test_bad_options_name_themselves(train, option, value, error):
    with pytest.raises(error, match=option):
        section(_inputs(train), **{option: value})
