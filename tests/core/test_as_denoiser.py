"""Tests for diffmem_theory.core.denoisers.as_denoiser: one protocol for callables and laws."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from diffmem_theory.core.denoisers import Denoiser, as_denoiser, memorizing_denoiser
from diffmem_theory.core.distributions import (
    GaussianMixture,
    IsotropicGaussianMixture,
    map_over_times,
)
from diffmem_theory.core.schedules import PREDICTIONS, VPTrig, convert_prediction

SCHED = VPTrig()
RNG = np.random.default_rng(7)
X = RNG.standard_normal((6, 3))
XQ = RNG.standard_normal((4, 3))
TIMES = np.array([0.2, 0.5, 0.5, 0.8])


def x0_model(x, t):
    return memorizing_denoiser(x, t, X, SCHED)


@pytest.mark.parametrize("t", [0.5, TIMES])
def test_callable_x0_model(t):
    den = as_denoiser(x0_model, SCHED)
    assert isinstance(den, Denoiser)
    assert den.prediction == "x0" and den.schedule is SCHED
    assert np.array_equal(den(XQ, t), x0_model(XQ, t))
    for unit in PREDICTIONS:
        expected = convert_prediction(x0_model(XQ, t), XQ, t, SCHED, source="x0", target=unit)
        assert np.array_equal(den.predict(XQ, t, unit), expected)


def test_x0_model_needs_no_schedule_in_x0_units():
    den = as_denoiser(x0_model)
    assert den.schedule is None
    assert np.array_equal(den(XQ, 0.4), x0_model(XQ, 0.4))


@pytest.mark.parametrize("unit", PREDICTIONS)
def test_callable_in_any_unit_gives_the_same_x0(unit):
    def model(x, t):
        return convert_prediction(x0_model(x, t), x, t, SCHED, source="x0", target=unit)

    den = as_denoiser(model, "vptrig", prediction=unit)
    assert den.prediction == unit
    np.testing.assert_allclose(den(XQ, TIMES), x0_model(XQ, TIMES), rtol=1e-12, atol=1e-12)
    assert np.array_equal(den.predict(XQ, TIMES, unit), model(XQ, TIMES))  # no round trip


def test_law_answers_every_unit_directly():
    means = np.array([[1.0, 0.0, 0.0], [-1.0, 0.5, 0.0]])
    covs = np.array([np.diag([0.5, 0.2, 0.0]), np.eye(3)])
    gm = GaussianMixture(means, covs)
    den = as_denoiser(gm, SCHED)
    assert den.model is gm
    assert np.array_equal(den(XQ, TIMES), gm.denoiser(XQ, TIMES, SCHED))
    assert np.array_equal(den.predict(XQ, TIMES, "score"), gm.score_t(XQ, TIMES, SCHED))
    x0 = gm.denoiser(XQ, TIMES, SCHED)
    for unit in PREDICTIONS:
        expected = convert_prediction(x0, XQ, TIMES, SCHED, source="x0", target=unit)
        np.testing.assert_allclose(den.predict(XQ, TIMES, unit), expected, rtol=1e-12, atol=1e-12)


def test_denoiser_is_returned_or_rebound():
    den = as_denoiser(IsotropicGaussianMixture(X, 0.5), SCHED)
    assert as_denoiser(den) is den
    other = as_denoiser(den, "VPLinear")
    assert other.schedule.name == "VPLinear" and other.model is den.model
    assert "Denoiser(" in repr(den)


def test_errors_name_the_problem():
    with pytest.raises(TypeError, match="model must be a callable"):
        as_denoiser(3.0, SCHED)
    with pytest.raises(ValueError, match="prediction must be one of"):
        as_denoiser(x0_model, SCHED, prediction="noise")
    with pytest.raises(TypeError, match="schedule is required"):
        as_denoiser(x0_model, prediction="eps")
    with pytest.raises(TypeError, match="schedule"):
        as_denoiser(IsotropicGaussianMixture(X, 0.5))
    with pytest.raises(TypeError, match="schedule"):
        as_denoiser(x0_model, 1.5)
    den = as_denoiser(x0_model, SCHED)
    with pytest.raises(ValueError, match="unit must be one of"):
        den.predict(XQ, 0.5, "x_0")
    with pytest.raises(ValueError, match=r"has shape \(4, 2\) but x has shape \(4, 3\)"):
        as_denoiser(lambda x, t: x[:, :2])(XQ, 0.5)
    with pytest.raises(TypeError, match="must return an array"):
        as_denoiser(lambda x, t: [0.0])(XQ, 0.5)


def test_denoiser_constructor_validates_like_as_denoiser():
    with pytest.raises(TypeError, match="model must be a callable"):
        Denoiser(None)
    with pytest.raises(ValueError, match="prediction must be one of"):
        Denoiser(x0_model, SCHED, prediction="x1")
    with pytest.raises(TypeError, match="schedule"):
        Denoiser(IsotropicGaussianMixture(X, 0.5))
    den = Denoiser(x0_model, "VPTrig", prediction="x0")
    assert den.schedule.name == "VPTrig" and np.array_equal(den(XQ, 0.3), x0_model(XQ, 0.3))


def test_map_over_times_validates_its_arguments():
    with pytest.raises(ValueError, match="x must have 2 dimension"):
        map_over_times(2.0, 0.5, SCHED, lambda a, s, rows: (rows,))
    with pytest.raises(TypeError, match="fn must be a callable"):
        map_over_times(XQ, 0.5, SCHED, None)
    (out,) = map_over_times(XQ, TIMES, SCHED, lambda a, s, rows: (rows * s,))
    np.testing.assert_allclose(out, XQ * SCHED.sigma(TIMES)[:, None], rtol=1e-15)


def test_denoiser_is_immutable():
    den = as_denoiser(x0_model, SCHED)
    with pytest.raises(dataclasses.FrozenInstanceError):
        den.prediction = "eps"  # would skip the schedule check of a non-x0 model
