"""Tests for diffmem_theory.core.losses (paper 000: eqs. (5), (6), (13); common random numbers)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diffmem_theory.core import losses
from diffmem_theory.core.denoisers import as_denoiser, memorizing_denoiser
from diffmem_theory.core.distributions import IsotropicGaussianMixture, sphere_means
from diffmem_theory.core.schedules import PREDICTIONS, VPTrig, as_schedule, loss_scale

SCHED = VPTrig()
SEEDS = st.integers(0, 2**31 - 1)


def twin_loss(denoiser, X, t, n_noise, seed, time_index=0):
    """eq. (6) literally, one point and one draw at a time, with the same noise."""
    z = losses.noise_draws(seed, time_index, *X.shape[:1], n_noise, X.shape[1])
    a, s = float(SCHED.alpha(t)), float(SCHED.sigma(t))
    per_draw = np.empty((X.shape[0], n_noise))
    for i, x0 in enumerate(X):
        for r in range(n_noise):
            xt = a * x0 + s * z[i, r]
            per_draw[i, r] = ((denoiser(xt[None], t)[0] - x0) ** 2).sum()
    return per_draw


@settings(max_examples=15, deadline=None)
@given(seed=SEEDS, t=st.floats(0.05, 0.95), n=st.integers(1, 6), d=st.integers(1, 4))
def test_training_loss_equals_twin(seed, t, n, d):
    X = np.random.default_rng(seed).normal(size=(n, d))
    den = lambda x, s: memorizing_denoiser(x, s, X[: max(1, n - 1)], SCHED)  # noqa: E731
    est = losses.training_loss(den, X, t, SCHED, n_noise=3, seed=seed % 1000)
    np.testing.assert_allclose(est.draws[0], twin_loss(den, X, t, 3, seed % 1000), rtol=1e-12)
    assert est.mean.shape == est.stderr.shape == (1,)
    np.testing.assert_allclose(est.per_sample[0], est.draws[0].mean(1))


@settings(max_examples=20, deadline=None)
@given(seed=SEEDS, t=st.floats(0.05, 0.95), c=st.floats(-1.0, 2.0))
def test_linear_denoiser_closed_form(seed, t, c):
    """xbar = c x_t: E|xbar - x0|^2 = (c alpha - 1)^2 |x0|^2 + c^2 sigma^2 d, within 4.5 SE."""
    X = np.random.default_rng(seed).normal(size=(20, 3))
    est = losses.training_loss(lambda x, s: c * x, X, t, SCHED, n_noise=200, seed=seed % 97)
    a, s = float(SCHED.alpha(t)), float(SCHED.sigma(t))
    exact = ((c * a - 1) ** 2 * (X**2).sum(1) + c**2 * s**2 * 3).mean()
    assert abs(est.mean[0] - exact) <= 4.5 * est.stderr[0] + 1e-12


def test_stderr_formula_and_single_draw_fallback():
    draws = np.random.default_rng(0).gamma(2.0, size=(2, 30, 8))
    est = losses.LossEstimate(np.array([0.3, 0.6]), draws, (0, 8, 30, 1))
    # independent draws: Var(mean) = sum_i Var_i / (N^2 R)
    expected = np.sqrt(draws.var(axis=2, ddof=1).sum(axis=1) / (30**2 * 8))
    np.testing.assert_allclose(est.stderr, expected)
    one = losses.LossEstimate(np.array([0.3]), draws[:1, :, :1], (0, 1, 30, 1))
    np.testing.assert_allclose(one.stderr, draws[0, :, 0].std(ddof=1) / np.sqrt(30))


def test_stderr_is_calibrated():
    """Across 200 independent seeds the spread of the estimates matches the reported stderr."""
    X = np.random.default_rng(1).normal(size=(10, 2))
    den = lambda x, s: 0.5 * x  # noqa: E731
    ests = [losses.training_loss(den, X, 0.5, SCHED, n_noise=4, seed=k) for k in range(200)]
    means = np.array([e.mean[0] for e in ests])
    ses = np.array([e.stderr[0] for e in ests])
    ratio = means.std(ddof=1) / np.sqrt(np.mean(ses**2))
    assert 0.8 < ratio < 1.2  # the sd of a sample sd of 200 values is about 5%


def test_common_random_numbers():
    rng = np.random.default_rng(2)
    gmm = IsotropicGaussianMixture(sphere_means(3, 10, rng), 1.0)
    X, _ = gmm.sample(40, rng)
    near = IsotropicGaussianMixture(gmm.means, 1.2)
    dens = {
        "gen": lambda x, t: gmm.denoiser(x, t, SCHED),
        "near": lambda x, t: near.denoiser(x, t, SCHED),
    }
    out = losses.training_losses(dens, X, [0.3, 0.6], SCHED, n_noise=10, seed=4)
    again = losses.training_loss(dens["gen"], X, [0.3, 0.6], SCHED, n_noise=10, seed=4)
    np.testing.assert_array_equal(out["gen"].draws, again.draws)  # same seed, same noise
    diff = out["gen"] - again
    assert np.all(diff.draws == 0)
    # CRN: the difference of two similar denoisers is far tighter than independent estimates
    excess = out["near"] - out["gen"]
    independent = np.hypot(out["near"].stderr, out["gen"].stderr)
    assert np.all(excess.stderr < 0.2 * independent)
    other = losses.training_loss(dens["gen"], X, [0.3, 0.6], SCHED, n_noise=10, seed=5)
    assert not np.array_equal(other.draws, again.draws)
    with pytest.raises(ValueError, match="different noise"):
        _ = out["gen"] - other


def test_units_and_weighting():
    X = np.random.default_rng(3).normal(size=(5, 2))
    times = SCHED.time_grid()[[10, 16, 20]]
    est = losses.training_loss(lambda x, t: 0.9 * x, X, times, SCHED, n_noise=6)
    eps = est.to_unit("eps", SCHED)
    np.testing.assert_allclose(eps.mean, est.mean * loss_scale(times, SCHED, "x0", "eps"))
    assert (est.unit, eps.unit) == ("x0", "eps")
    np.testing.assert_allclose(eps.to_unit("x0", SCHED).mean, est.mean)  # and back
    value, se = est.weighted("eps", SCHED)
    psi = SCHED.snr(times)
    assert value == pytest.approx(np.mean(psi * est.mean))
    assert se == pytest.approx(np.sqrt(np.sum((psi * est.stderr) ** 2)) / 3)
    assert losses.weighted_loss(lambda x, t: 0.9 * x, X, times, SCHED, n_noise=6) == (value, se)
    assert est.weighted([1.0, 0.0, 0.0], SCHED)[0] == pytest.approx(est.mean[0] / 3)


def test_test_loss_draws_fresh_samples():
    rng = np.random.default_rng(4)
    gmm = IsotropicGaussianMixture(sphere_means(3, 8, rng), 1.0)
    X, _ = gmm.sample(50, rng)
    mem = lambda x, t: memorizing_denoiser(x, t, X, SCHED)  # noqa: E731
    gen = lambda x, t: gmm.denoiser(x, t, SCHED)  # noqa: E731
    t = 0.36028
    train = losses.training_losses({"mem": mem, "gen": gen}, X, t, SCHED, n_noise=10)
    test_mem = losses.test_loss(mem, gmm, t, SCHED, n_test=100, n_noise=10, seed=1)
    test_gen = losses.test_loss(gen, gmm, t, SCHED, n_test=100, n_noise=10, seed=1)
    # the memorizing denoiser is perfect on its training set and bad on held-out data ...
    assert train["mem"].mean[0] < 0.01 * test_mem.mean[0]
    # ... while xbar_* has the same loss d t^2 on both (Thm 3.1 / its generalization)
    for est in (train["gen"], test_gen):
        assert abs(est.mean[0] - 8 * t**2) < 4 * est.stderr[0]
    assert test_mem.mean[0] > test_gen.mean[0]
    again = losses.test_loss(mem, gmm, t, SCHED, n_test=100, n_noise=10, seed=1)
    np.testing.assert_array_equal(again.draws, test_mem.draws)


@settings(max_examples=10, deadline=None)
@given(seed=SEEDS, t=st.floats(0.2, 0.95), c=st.floats(0.0, 1.5))
def test_orthogonality_identity_averaged_over_i(seed, t, c):
    """eq. (13): the averaged residual is mean-zero for any denoiser (|z| < 4.5)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(15, 3)) * 2
    res = losses.orthogonality_residual(
        lambda x, s: c * x + np.sin(x), X, t, SCHED, n_noise=60, seed=seed % 1000
    )
    assert abs(res.mean[0]) <= 4.5 * res.stderr[0]


def test_orthogonality_residual_matches_decomposition():
    X = np.random.default_rng(5).normal(size=(6, 2))
    den = lambda x, s: 0.7 * x  # noqa: E731
    mem = lambda x, s: memorizing_denoiser(x, s, X, SCHED)  # noqa: E731
    res = losses.orthogonality_residual(den, X, 0.5, SCHED, n_noise=3, seed=2)
    z = losses.noise_draws(2, 0, 6, 3, 2)
    xt = float(SCHED.alpha(0.5)) * X[:, None] + float(SCHED.sigma(0.5)) * z
    f, m = den(xt.reshape(-1, 2), 0.5), mem(xt.reshape(-1, 2), 0.5)
    x0 = np.repeat(X, 3, axis=0)
    lhs = ((f - x0) ** 2).sum(1) - ((f - m) ** 2).sum(1) - ((m - x0) ** 2).sum(1)
    np.testing.assert_allclose(res.draws[0].ravel(), lhs, atol=1e-12)


def test_large_batches_are_chunked(monkeypatch):
    monkeypatch.setattr(losses, "_MAX_BATCH", 7)
    X = np.random.default_rng(6).normal(size=(5, 2))
    calls = []

    def den(x, t):
        calls.append(x.shape[0])
        return 0.5 * x

    est = losses.training_loss(den, X, 0.5, SCHED, n_noise=4)
    assert max(calls) == 7 and sum(calls) == 20
    monkeypatch.setattr(losses, "_MAX_BATCH", 1 << 16)
    np.testing.assert_allclose(
        est.draws, losses.training_loss(lambda x, t: 0.5 * x, X, 0.5, SCHED, n_noise=4).draws
    )


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: losses.training_loss(1.0, np.eye(2), 0.5, SCHED), "denoiser must be callable"),
        (lambda: losses.training_losses({}, np.eye(2), 0.5, SCHED), "non-empty mapping"),
        (lambda: losses.training_losses({"a": 3}, np.eye(2), 0.5, SCHED), r"denoisers\['a'\]"),
        (lambda: losses.training_loss(lambda x, t: x, np.ones(3), 0.5, SCHED), "X must have 2"),
        (lambda: losses.training_loss(lambda x, t: x, np.eye(2), 1.0, SCHED), "t must lie in"),
        (
            lambda: losses.training_loss(lambda x, t: x, np.eye(2), 0.5, SCHED, n_noise=0),
            "n_noise must be >= 1",
        ),
        (
            lambda: losses.training_loss(lambda x, t: x, np.eye(2), 0.5, SCHED, seed=-1),
            "seed must be >= 0",
        ),
        (lambda: losses.training_loss(lambda x, t: x[:, :1], np.eye(2), 0.5, SCHED), "returned"),
        (lambda: losses.test_loss(lambda x, t: x, object(), 0.5, SCHED), "sample"),
        (lambda: losses.test_loss(lambda x, t: x, None, 0.5, SCHED, n_test=0), "n_test"),
    ],
)
def test_value_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_schedule_type_checked():
    with pytest.raises(TypeError, match="schedule must be a Schedule"):
        losses.training_loss(lambda x, t: x, np.eye(2), 0.5, 1.0)
    by_name = losses.training_loss(lambda x, t: x, np.eye(2), 0.5, "VPTrig", n_noise=3)
    assert np.array_equal(
        by_name.draws,
        losses.training_loss(lambda x, t: x, np.eye(2), 0.5, VPTrig(), n_noise=3).draws,
    )


def test_fuzz_findings_losses():
    est = losses.LossEstimate(np.array([0.5, 0.6]), np.ones((2, 1, 2)), (0, 2, 1, 1))
    for bad in (None, 1.5, "nope"):  # AttributeError from est.weighted
        with pytest.raises((TypeError, ValueError), match="schedule"):
            est.weighted("eps", bad)
    with pytest.raises(ValueError, match="GiB"):  # OverflowError
        losses.test_loss(lambda x, t: x, None, 0.5, VPTrig(), n_test=10**30)
    with pytest.raises(ValueError, match="float64"):  # inf draws, NaN weighted loss
        losses.training_loss(lambda x, t: 0 * x, np.full((2, 2), 1e300), 0.5, VPTrig(), n_noise=2)
    with pytest.raises(ValueError, match="non-finite"):
        losses.training_loss(lambda x, t: np.nan * x, np.eye(2), 0.5, VPTrig(), n_noise=2)
    with pytest.raises(ValueError, match="draws must have shape"):
        losses.LossEstimate(np.array([0.5]), np.ones((2, 1, 2)), (0, 2, 1, 1))
    with pytest.raises(ValueError, match="draws must be finite"):
        losses.LossEstimate(np.array([0.5]), np.full((1, 1, 2), np.nan), (0, 2, 1, 1))
    one = losses.LossEstimate(np.array([0.5]), np.ones((1, 1, 1)), (0, 1, 1, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ddof=1 of one draw: RuntimeWarning and NaN
        assert one.stderr.tolist() == [np.inf]


def test_weighting_applies_to_the_x0_loss_whatever_the_unit():
    """A loss stored in eps units gives the same L_N as the same loss stored in x0 units."""
    X = np.random.default_rng(5).normal(size=(5, 2))
    times = SCHED.time_grid()[[10, 16, 20]]
    est = losses.training_loss(lambda x, t: 0.9 * x, X, times, SCHED, n_noise=4)
    eps = est.to_unit("eps", SCHED)
    for weighting in ("x0", "eps", "v"):
        np.testing.assert_allclose(eps.weighted(weighting, SCHED), est.weighted(weighting, SCHED))


@pytest.mark.parametrize("name", ["VPTrig", "FlowMatching", "VPLinear", "OU", "VEPower", "VEExp"])
def test_every_named_weighting_is_the_loss_scale(name):
    """lambda_unit(t) = loss_scale(x0 -> unit) for every unit, "velocity" included (it was the
    v weighting before: a unit not named fell through to v)."""
    sched = as_schedule(name)
    t = np.array([1e-6, 0.1, 0.5, 0.9])
    for unit in PREDICTIONS:
        np.testing.assert_allclose(
            losses.loss_weighting(unit, t, sched),
            loss_scale(t, sched, "x0", unit),
            rtol=1e-12,
            err_msg=unit,
        )
    log_w = losses.log_loss_weighting("velocity", np.array([1e-300]), VPTrig())
    np.testing.assert_allclose(log_w, 2 * np.log(1e300), rtol=1e-14)  # 1/t^2, in log space


def test_a_model_in_eps_units_has_the_same_loss():
    X = np.random.default_rng(3).standard_normal((6, 3))

    def eps_model(x, t):
        x0 = memorizing_denoiser(x, t, X, SCHED)
        return (x - SCHED.alpha(t) * x0) / SCHED.sigma(t)

    x0_model = as_denoiser(eps_model, SCHED, prediction="eps")
    est = losses.training_losses(
        {"eps": x0_model, "x0": lambda x, t: memorizing_denoiser(x, t, X, SCHED)},
        X,
        [0.3, 0.7],
        SCHED,
        n_noise=5,
    )
    np.testing.assert_allclose(est["eps"].draws, est["x0"].draws, rtol=1e-10, atol=1e-12)
