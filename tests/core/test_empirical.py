"""Tests for diffmem_theory.core.distributions.EmpiricalDistribution (paper 000, eqs. (5)-(7);
paper 002, eqs. (3.4)-(3.5)).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp, softmax

from diffmem_theory.core.denoisers import (
    memorizing_denoiser,
    partial_memorizing_denoiser,
    score_from_denoiser,
)
from diffmem_theory.core.distributions import EmpiricalDistribution, IsotropicGaussianMixture
from diffmem_theory.core.schedules import OU, PREDICTIONS, VE, VPTrig, convert_prediction
from diffmem_theory.kernels import softmax_weighted_sum

SCHED = VPTrig()
RNG = np.random.default_rng(2024)
X = RNG.standard_normal((12, 5))
XQ = RNG.standard_normal((7, 5))
TIMES = np.array([0.1, 0.4, 0.4, 0.7, 0.9, 0.1, 0.55])


def numpy_twin(x, t, data, schedule):
    """Plain NumPy: logits w_i = -|x - alpha x^i|^2/(2 sigma^2); (x0, score, log p_t)."""
    a, s = float(schedule.alpha(t)), float(schedule.sigma(t))
    sq = ((x[:, None, :] - a * data[None]) ** 2).sum(-1)
    logits = -sq / (2 * s**2)
    w = softmax(logits, axis=1)
    x0 = w @ data
    score = (w[:, :, None] * (a * data[None] - x[:, None, :])).sum(1) / s**2
    d = data.shape[1]
    log_p = logsumexp(logits, axis=1) - np.log(len(data)) - 0.5 * d * np.log(2 * np.pi * s**2)
    return x0, score, log_p


@pytest.mark.parametrize("sched", [VPTrig(), OU(), VE.linear2t()])
@pytest.mark.parametrize("t", [0.05, 0.3, 0.8])
def test_matches_the_numpy_formula(sched, t):
    law = EmpiricalDistribution(X)
    x0, score, log_p = numpy_twin(XQ, t, X, sched)
    np.testing.assert_allclose(law.denoiser(XQ, t, sched), x0, rtol=1e-12, atol=1e-12)
    scale = np.abs(score).max()
    np.testing.assert_allclose(law.score_t(XQ, t, sched), score, rtol=1e-11, atol=1e-12 * scale)
    np.testing.assert_allclose(law.log_prob_t(XQ, t, sched), log_p, rtol=1e-12, atol=1e-12)


def test_one_time_per_row_and_single_query():
    law = EmpiricalDistribution(X)
    rows = law.denoiser(XQ, TIMES, SCHED)
    for i, ti in enumerate(TIMES):
        x0, _, log_p = numpy_twin(XQ[i : i + 1], ti, X, SCHED)
        np.testing.assert_allclose(rows[i], x0[0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(law.denoiser(XQ[i], ti, SCHED), x0[0], rtol=1e-12, atol=1e-12)
        assert law.log_prob_t(XQ[i], ti, SCHED).shape == ()
        np.testing.assert_allclose(law.log_prob_t(XQ[i], ti, SCHED), log_p[0], rtol=1e-12)


def test_is_the_memorizing_denoiser():
    law = EmpiricalDistribution(X)
    for backend in ("numba", "numpy"):
        assert np.array_equal(
            law.denoiser(XQ, TIMES, SCHED, backend=backend),
            memorizing_denoiser(XQ, TIMES, X, SCHED, backend=backend),
        )
    f32 = law.denoiser(XQ, TIMES, SCHED, dtype=np.float32)
    assert f32.dtype == np.float32
    assert np.array_equal(f32, memorizing_denoiser(XQ, TIMES, X, SCHED, dtype=np.float32))
    np.testing.assert_allclose(f32, law.denoiser(XQ, TIMES, SCHED), rtol=1e-4, atol=1e-5)
    sub = partial_memorizing_denoiser(XQ, TIMES, X, M=5, schedule=SCHED)
    assert np.array_equal(sub, EmpiricalDistribution(X[:5]).denoiser(XQ, TIMES, SCHED))


def test_float32_data_stay_float32_and_float32_calls_cast_nothing(monkeypatch):
    """float32 data are kept as they are (no float64 copy), float64 data get one float32 copy
    (made once), and a float32 evaluation hands the kernel float32 queries and centres (no
    N x d cast per call, no float64 round trip of the queries)."""
    from diffmem_theory.core import distributions

    x32, X32 = XQ.astype(np.float32), X.astype(np.float32)
    law32, law64 = EmpiricalDistribution(X32), EmpiricalDistribution(X)
    assert law32.X.dtype == np.float32 and law64.X.dtype == np.float64
    assert law32._x_float32 is law32.X
    assert law64._x_float32.dtype == np.float32 and law64._x_float32 is law64._x_float32
    assert not law32.X.flags.writeable and not np.shares_memory(law32.X, X32)
    seen = []

    def recording(x, centers, **kw):
        seen.append((x.dtype, centers.dtype))
        return softmax_weighted_sum(x, centers, **kw)

    softmax_weighted_sum = distributions.softmax_weighted_sum
    monkeypatch.setattr(distributions, "softmax_weighted_sum", recording)
    for law in (law32, law64):
        seen.clear()
        out = law.denoiser(x32, 0.4, SCHED, dtype=np.float32)
        assert out.dtype == np.float32 and seen == [(np.float32, np.float32)]
    # float64 evaluation of float32 data: the same bits as on a float64 copy of the data
    assert law32.denoiser(x32, TIMES, SCHED).dtype == np.float64
    same = EmpiricalDistribution(X32.astype(np.float64))
    for unit in PREDICTIONS:
        np.testing.assert_array_equal(
            law32.denoiser(x32, TIMES, SCHED, prediction=unit),
            same.denoiser(x32, TIMES, SCHED, prediction=unit),
        )


@pytest.mark.parametrize("unit", ["x0", "score"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_denoiser_is_the_raw_kernel_bit_for_bit(unit, dtype):
    """The posterior mean at one time is the kernel's output as it is (no pass over it that
    could change a bit); other units are combined in float64 from it, then rounded. (40
    points: more than DIRECT_MAX_COMPONENTS, so float64 runs the kernel too.)"""
    data = np.random.default_rng(7).standard_normal((40, 5))
    law = EmpiricalDistribution(data.astype(dtype))
    x, t = XQ.astype(dtype), 0.4
    a, s = float(SCHED.alpha(t)), float(SCHED.sigma(t))
    log_w = np.full(len(data), -np.log(len(data)))
    mean = softmax_weighted_sum(x, law.X, scale=a, var=s**2, log_weights=log_w, dtype=dtype)
    score = (a / s**2) * mean.astype(float) + (-1.0 / s**2) * x.astype(float)
    expect = mean if unit == "x0" else score.astype(dtype)
    out = law.denoiser(x, t, SCHED, prediction=unit, dtype=dtype)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, expect)
    assert np.array_equal(np.signbit(out), np.signbit(expect))


def test_is_the_isotropic_mixture_with_zero_variance():
    law, mix = EmpiricalDistribution(X), IsotropicGaussianMixture(X, 0.0)
    for method in ("denoiser", "score_t", "log_prob_t"):
        np.testing.assert_allclose(
            getattr(law, method)(XQ, TIMES, SCHED),
            getattr(mix, method)(XQ, TIMES, SCHED),
            rtol=1e-13,
            atol=1e-13,
        )


def test_tweedie_and_gradient_consistency():
    """score_t = (alpha x0 - x)/sigma^2 (eq. (4)) = the finite-difference gradient of log_prob_t."""
    law, t, h = EmpiricalDistribution(X), 0.6, 1e-5
    score = law.score_t(XQ, t, SCHED)
    tweedie = score_from_denoiser(XQ, t, law.denoiser(XQ, t, SCHED), SCHED)
    np.testing.assert_allclose(score, tweedie, rtol=1e-12, atol=1e-12)
    fd = np.stack(
        [
            (law.log_prob_t(XQ + h * e, t, SCHED) - law.log_prob_t(XQ - h * e, t, SCHED)) / (2 * h)
            for e in np.eye(X.shape[1])
        ],
        axis=1,
    )
    np.testing.assert_allclose(score, fd, rtol=1e-6, atol=1e-6)


def test_every_unit_directly():
    law = EmpiricalDistribution(X)
    x0 = law.denoiser(XQ, TIMES, SCHED)
    for unit in PREDICTIONS:
        want = convert_prediction(x0, XQ, TIMES, SCHED, source="x0", target=unit)
        got = law.denoiser(XQ, TIMES, SCHED, prediction=unit)
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-11, err_msg=unit)


def test_sampling_law():
    """Draws are data points, uniform over the N points (chi-square test), reproducible."""
    law = EmpiricalDistribution(X)
    samples, idx = law.sample(24_000, rng=5)
    assert samples.shape == (24_000, 5) and np.array_equal(samples, X[idx])
    counts = np.bincount(idx, minlength=len(X))
    assert stats.chisquare(counts).pvalue > 1e-3
    again, idx2 = law.sample(24_000, rng=np.random.default_rng(5))
    assert np.array_equal(again, samples) and np.array_equal(idx, idx2)
    assert law.sample(0, rng=1)[0].shape == (0, 5)


def test_frozen_copy():
    data = X.copy()
    law = EmpiricalDistribution(data)
    data[0, 0] = 99.0
    assert law.X[0, 0] == X[0, 0]
    with pytest.raises(ValueError, match="read-only"):
        law.X[0, 0] = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        law.X = X  # type: ignore[misc]
    assert (law.dim, law.n_components) == (5, 12)
    np.testing.assert_allclose(law.weights, np.full(12, 1 / 12))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: EmpiricalDistribution(np.zeros(3)), ValueError, "X"),
        (lambda: EmpiricalDistribution(np.zeros((0, 3))), ValueError, "X"),
        (lambda: EmpiricalDistribution([[np.nan, 1.0]]), ValueError, "X"),
        (lambda: EmpiricalDistribution(X).denoiser(np.zeros(4), 0.5, SCHED), ValueError, "X"),
        (lambda: EmpiricalDistribution(X).score_t(XQ, 0.0, SCHED), ValueError, "t"),
        (lambda: EmpiricalDistribution(X).score_t(XQ, TIMES[:3], SCHED), ValueError, "t"),
        (lambda: EmpiricalDistribution(X).log_prob_t(XQ, 0.5, None), TypeError, "schedule"),
        (
            lambda: EmpiricalDistribution(X).denoiser(XQ, 0.5, SCHED, prediction="noise"),
            ValueError,
            "prediction",
        ),
        (lambda: EmpiricalDistribution(X).sample(-1, 0), ValueError, "n"),
        (lambda: EmpiricalDistribution(X).sample(2, None), TypeError, "rng"),
    ],
)
def test_errors_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()
