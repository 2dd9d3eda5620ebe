"""Tests for diffmem_theory.core.training (paper 000, Sec. 4 / App. H.1) and
diffmem_theory.core.optim.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import softmax

from diffmem_theory.core import training as tr
from diffmem_theory.core.denoisers import as_denoiser
from diffmem_theory.core.distributions import IsotropicGaussianMixture, sphere_means
from diffmem_theory.core.optim import Adam, WarmupDecay
from diffmem_theory.core.schedules import PREDICTIONS, VPTrig

SCHED = VPTrig()
GRID = SCHED.time_grid()


def twin_loss(means, var, xt, x0, t, weighting="eps"):
    """eqs. (11)-(12) and the weighted loss in plain NumPy broadcasting."""
    a, s2t = SCHED.alpha(t), SCHED.sigma2(t)
    lam = SCHED.snr(t) if weighting == "eps" else np.ones_like(t)
    v = a**2 * var + s2t
    D = ((xt[:, None, :] - a[:, None, None] * means[None]) ** 2).sum(-1)
    P = softmax(-D / (2 * v[:, None]), axis=1)
    xbar = (a * var / v)[:, None] * xt + (s2t / v)[:, None] * (P @ means)
    return float((lam * ((xbar - x0) ** 2).sum(1)).mean())


def _problem(seed, B, M, d):
    rng = np.random.default_rng(seed)
    x0 = rng.normal(size=(B, d)) * 2
    t = rng.choice(GRID[2:-2], B)
    xt = SCHED.alpha(t)[:, None] * x0 + SCHED.sigma(t)[:, None] * rng.normal(size=(B, d))
    means = x0[rng.choice(B, M)] + 0.3 * rng.normal(size=(M, d))
    return xt, x0, t, means, float(rng.uniform(0.05, 2.0))


@pytest.mark.parametrize("M", [1, 3, 17])
@pytest.mark.parametrize("weighting", ["eps", "x0"])
def test_gradient_matches_finite_differences(M, weighting):
    xt, x0, t, means, var = _problem(M, 300, M, 6)
    loss, g_mu, g_var = tr.gmm_loss_and_grad(
        tr.GMMDenoiser(means, var), xt, x0, t, SCHED, weighting
    )
    assert loss == pytest.approx(twin_loss(means, var, xt, x0, t, weighting), rel=1e-12)
    h = 1e-6
    fd = np.empty_like(means)
    for idx in np.ndindex(means.shape):
        e = np.zeros_like(means)
        e[idx] = h
        fd[idx] = (
            twin_loss(means + e, var, xt, x0, t, weighting)
            - twin_loss(means - e, var, xt, x0, t, weighting)
        ) / (2 * h)
    fd_var = (
        twin_loss(means, var + h, xt, x0, t, weighting)
        - twin_loss(means, var - h, xt, x0, t, weighting)
    ) / (2 * h)
    assert np.abs(g_mu - fd).max() <= 1e-6 * np.abs(fd).max()
    assert g_var == pytest.approx(fd_var, rel=1e-6)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), B=st.integers(1, 600), M=st.integers(1, 40))
def test_kernel_against_twin_over_shapes(seed, B, M):
    """Blocks (256 queries), slots and tiny shapes: the loss equals the broadcasting twin."""
    xt, x0, t, means, var = _problem(seed, B, M, 3)
    loss, g_mu, _ = tr.gmm_loss_and_grad(tr.GMMDenoiser(means, var), xt, x0, t, SCHED)
    assert loss == pytest.approx(twin_loss(means, var, xt, x0, t), rel=1e-11)
    assert np.all(np.isfinite(g_mu))


def test_fused_epoch_equals_the_materialized_batch():
    """The trainer's fused kernel (queries formed from the noise per block) = the public API."""
    X = np.random.default_rng(0).normal(size=(30, 4))
    model = tr.GMMDenoiser(tr.partial_memorization_init(X, 5, 0).means, 0.3)
    xt, x0, t = tr._epoch_batch(X, GRID, SCHED, 7, 3, 11)
    ref = tr.gmm_loss_and_grad(model, xt, x0, t, SCHED)
    idx = tr._epoch_time_index(3, 11, 30, GRID.size)
    z = tr._epoch_noise(3, 11, 210, 4, np.dtype(np.float64))
    lam = SCHED.snr(GRID)[idx]
    fused = tr.kernel_loss_and_grad(
        z, X, SCHED.alpha(GRID)[idx], SCHED.sigma2(GRID)[idx], lam, model.means, 0.3, n_dup=7
    )
    assert fused[0] == pytest.approx(ref[0], rel=1e-14)
    np.testing.assert_allclose(fused[1], ref[1], rtol=1e-13, atol=0)
    assert fused[2] == pytest.approx(ref[2], rel=1e-13)


def test_epoch_noise_does_not_depend_on_the_thread_pool(monkeypatch):
    z = tr._epoch_noise(1, 2, 1000, 3, np.dtype(np.float64))
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(tr, "_POOL", ThreadPoolExecutor(max_workers=1))
    np.testing.assert_array_equal(tr._epoch_noise(1, 2, 1000, 3, np.dtype(np.float64)), z)
    assert abs(z.mean()) < 0.1 and abs(z.std() - 1) < 0.05


def test_float32_kernel_close_to_float64():
    xt, x0, t, means, var = _problem(0, 500, 8, 5)
    l64, g64, _ = tr.gmm_loss_and_grad(tr.GMMDenoiser(means, var), xt, x0, t, SCHED)
    m32 = tr.GMMDenoiser(means.astype(np.float32), var)
    l32, g32, _ = tr.gmm_loss_and_grad(m32, xt.astype(np.float32), x0, t, SCHED)
    assert l32 == pytest.approx(l64, rel=1e-4)
    assert np.abs(g32 - g64).max() <= 1e-3 * np.abs(g64).max()


def test_pack_unpack_and_init():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10, 3))
    init = tr.partial_memorization_init(X, 4, rng=1)
    assert init.var == 1e-6
    assert all(any(np.array_equal(mu, x) for x in X) for mu in init.means)
    assert len({tuple(mu) for mu in init.means}) == 4  # distinct samples
    back = tr.GMMDenoiser.unpack(init.pack(), 3)
    np.testing.assert_array_equal(back.means, init.means)
    assert back.var == pytest.approx(init.var, rel=1e-15)
    assert tr.partial_memorization_init(X, 25, rng=1).means.shape == (25, 3)  # M > N allowed


def test_warmup_decay_schedule():
    lr = WarmupDecay(1000)
    assert lr(0) == 0.0 and lr(50) == pytest.approx(5e-4) and lr(100) == pytest.approx(1e-3)
    assert lr(999) == pytest.approx(1e-6)
    assert np.all(np.diff([lr(k) for k in range(100, 1000)]) < 0)
    with pytest.raises(ValueError, match="final"):
        WarmupDecay(10, peak=1e-3, final=1e-2)


def test_adam_matches_reference_update():
    """Adam (bias-corrected) against a hand-written loop (optax.adam semantics)."""
    rng = np.random.default_rng(3)
    grads = rng.normal(size=(5, 4))
    opt = Adam(lambda k: 0.01 * (k + 1))
    x, state = np.zeros(4), opt.init(np.zeros(4))
    m = v = np.zeros(4)
    ref = np.zeros(4)
    for k, g in enumerate(grads):
        x, state = opt.step(x, g, state)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        ref = ref - 0.01 * (k + 1) * (m / (1 - 0.9 ** (k + 1))) / (
            np.sqrt(v / (1 - 0.999 ** (k + 1))) + 1e-8
        )
    np.testing.assert_allclose(x, ref, rtol=1e-14)


def _data():
    rng = np.random.default_rng(0)
    means = rng.normal(size=(3, 4)) * 3
    return means[rng.integers(0, 3, 40)] + rng.normal(size=(40, 4))


def test_training_decreases_loss_and_is_bit_reproducible():
    X = _data()
    cfg = tr.TrainConfig(n_epochs=400, n_dup=5, seed=2, peak_lr=1e-2)
    a = tr.train_gmm_denoiser(X, 6, cfg, progress=False)
    b = tr.train_gmm_denoiser(X, 6, cfg, progress=False)
    np.testing.assert_array_equal(a.model.means, b.model.means)
    assert a.model.var == b.model.var
    np.testing.assert_array_equal(a.losses, b.losses)
    first, last = a.losses[:50].mean(), a.losses[-50:].mean()
    assert last < 0.5 * first
    # the loss decreases on average: each quarter of the run is below the one before it
    quarters = a.losses.reshape(4, 100).mean(1)
    assert np.all(np.diff(quarters) < 0), quarters
    other = tr.train_gmm_denoiser(
        X, 6, tr.TrainConfig(400, 5, seed=3, peak_lr=1e-2), progress=False
    )
    assert not np.array_equal(other.model.means, a.model.means)


def test_resume_gives_the_uninterrupted_result(tmp_path, monkeypatch):
    X = _data()
    cfg = tr.TrainConfig(n_epochs=120, n_dup=3, seed=5, peak_lr=1e-2, ema=0.9)
    full = tr.train_gmm_denoiser(X, 5, cfg, progress=False)
    ck = tmp_path / "run.npz"
    calls = {"n": 0}
    real = tr.kernel_loss_and_grad

    def crashing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 75:
            raise KeyboardInterrupt  # interrupted after the checkpoint at epoch 50
        return real(*args, **kwargs)

    monkeypatch.setattr(tr, "kernel_loss_and_grad", crashing)
    with pytest.raises(KeyboardInterrupt):
        tr.train_gmm_denoiser(X, 5, cfg, checkpoint=ck, checkpoint_every=50, progress=False)
    assert ck.exists() and not list(tmp_path.glob("*.tmp.npz"))
    with np.load(ck) as saved:
        assert int(saved["epoch"]) == 50
    monkeypatch.setattr(tr, "kernel_loss_and_grad", real)
    resumed = tr.train_gmm_denoiser(X, 5, cfg, checkpoint=ck, checkpoint_every=50, progress=False)
    np.testing.assert_array_equal(resumed.model.means, full.model.means)
    np.testing.assert_array_equal(resumed.ema_model.means, full.ema_model.means)
    np.testing.assert_array_equal(resumed.losses, full.losses)
    with pytest.raises(ValueError, match="another run"):
        tr.train_gmm_denoiser(X, 4, cfg, checkpoint=ck, progress=False)


def test_partial_memorization_start_pushes_the_variance_up():
    """At the H.1 initialization the loss falls as the variance grows iff M < N.

    With M = N every noisy sample has its own training point among the means (the memorizing
    minimum); with M < N the held-out samples pull the variance up -- the mechanism behind the
    generalizing phase of Sec. 4.1 (the trained-model phase transition is tested in
    tests/test_experiments_phase.py).
    """
    rng = np.random.default_rng(0)
    mix = IsotropicGaussianMixture(sphere_means(4, 20, rng), 1.0)
    X, _ = mix.sample(60, rng)
    xt, x0, t = tr._epoch_batch(X, GRID, SCHED, 20, 0, 0)
    for M, sign in ((10, -1), (60, 1)):
        init = tr.partial_memorization_init(X, M, rng=1)
        g_var = tr.gmm_loss_and_grad(init, xt, x0, t, SCHED)[2]
        assert np.sign(g_var) == sign
    cfg = tr.TrainConfig(n_epochs=200, n_dup=4, seed=0, peak_lr=1e-2, adam_b2=0.99)
    assert tr.train_gmm_denoiser(X, 60, cfg, progress=False).model.var < 1e-4


def test_float32_training_runs():
    X = _data()
    res = tr.train_gmm_denoiser(
        X, 3, tr.TrainConfig(n_epochs=50, n_dup=2, dtype="float32", peak_lr=1e-2), progress=False
    )
    assert res.model.means.dtype == np.float32 and np.isfinite(res.losses).all()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: tr.TrainConfig(n_epochs=0), "n_epochs"),
        (lambda: tr.TrainConfig(dtype="float16"), "float32 or float64"),
        (lambda: tr.TrainConfig(ema=1.0), "ema"),
        (lambda: tr.TrainConfig(adam_b2=1.0), "adam_b2"),
        (lambda: tr.train_gmm_denoiser(np.ones(3), 2, progress=False), "X must have 2"),
        (lambda: tr.train_gmm_denoiser(np.ones((3, 2)), 0, progress=False), "M must be >= 1"),
        (
            lambda: tr.gmm_loss_and_grad(
                tr.GMMDenoiser(np.ones((2, 3)), 1.0), np.ones((4, 2)), np.ones((4, 2)), 0.5, SCHED
            ),
            "must share",
        ),
        (
            lambda: tr.gmm_loss_and_grad(
                tr.GMMDenoiser(np.ones((2, 2)), 0.0), np.ones((4, 2)), np.ones((4, 2)), 0.5, SCHED
            ),
            "model.var",
        ),
        (lambda: tr.partial_memorization_init(np.eye(2), 1, 0, var0=0.0), "var0"),
    ],
)
def test_value_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --- thread independence (the subprocess test is tests/test_determinism.py) ----------------------
def test_kernel_bits_do_not_depend_on_the_slot_count():
    """Fixed block groups summed in group order: any number of slots gives the same bits."""
    from diffmem_theory.kernels._training import loss_and_grad_numba

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 7))
    z = rng.normal(size=(60 * 40, 7))  # B = 2,400: 10 blocks
    idx = rng.integers(0, GRID.size, 60)
    args = (z, X, SCHED.alpha(GRID)[idx], SCHED.sigma2(GRID)[idx], SCHED.snr(GRID)[idx], 40)
    means = X[:9].copy()
    runs = [loss_and_grad_numba(*args, means, 0.2, 256, 1e300, n) for n in (1, 2, 3, 8)]
    for status, loss, grad, dvar in runs:
        assert status == 0
        assert (loss, dvar) == runs[0][1::2] and grad.tobytes() == runs[0][2].tobytes()


def test_group_count_bounds_the_partials_memory():
    from diffmem_theory.kernels._training import GROUP_BUDGET, MIN_GROUPS, n_groups

    assert n_groups(8, 20, 50) == 8  # quick paper size: one group per block
    assert n_groups(79, 200, 50) == 64  # paper size, M = 200
    for M, d in ((1000, 3072), (100, 3072), (10, 10)):
        assert n_groups(1000, M, d) * M * d <= max(GROUP_BUDGET, MIN_GROUPS * M * d)


# --- errors instead of silent zeros, SystemError or AttributeError --------------------------------
ONE = tr.GMMDenoiser(np.array([[1.0]]), 1.0)


def test_squared_norm_overflow_is_a_value_error_not_zeros():
    """|x|^2 = inf used to give (0.0, [[0.]], 0.0)."""
    with pytest.raises(ValueError, match="x_t must have squared row norms"):
        tr.gmm_loss_and_grad(ONE, np.full((1, 1), 1e300), np.zeros((1, 1)), 0.6, SCHED)
    with pytest.raises(ValueError, match="x0 must have squared row norms"):
        tr.gmm_loss_and_grad(ONE, np.zeros((1, 1)), np.full((1, 1), -1e300), 0.6, SCHED)
    big = tr.GMMDenoiser(np.array([[1e160]]), 1.0)
    with pytest.raises(ValueError, match=r"model\.means must have squared row norms"):
        tr.gmm_loss_and_grad(big, np.zeros((1, 1)), np.zeros((1, 1)), 0.6, SCHED)


def test_overflow_inside_the_kernel_is_a_value_error():
    """Finite squared norms, but the loss and dL/ds2 terms overflow float64 (and float32)."""
    with pytest.raises(ValueError, match="would overflow float64"):
        tr.gmm_loss_and_grad(ONE, np.full((1, 1), 1e150), np.zeros((1, 1)), 0.6, SCHED)
    one32 = tr.GMMDenoiser(np.array([[1.0]], np.float32), 1.0)
    with pytest.raises(ValueError, match="would overflow float32"):
        tr.gmm_loss_and_grad(one32, np.full((1, 1), 1e17), np.zeros((1, 1)), 0.6, SCHED)
    tiny = tr.GMMDenoiser(np.array([[1.0]]), 1e-300)
    with pytest.raises(ValueError, match="would overflow"):  # 1/v^2 with v ~ 1e-300
        tr.gmm_loss_and_grad(tiny, np.ones((1, 1)), np.zeros((1, 1)), 1e-150, SCHED, "x0")


def test_overflow_in_the_array_api_twin_is_a_value_error():
    """The NumPy backend has no row bounds: its non-finite results are caught (no warning)."""
    with pytest.raises(ValueError, match="not finite"):
        tr.gmm_loss_and_grad(
            ONE, np.full((1, 1), 1e154), np.zeros((1, 1)), 0.6, SCHED, backend="numpy"
        )


def test_infinite_weighting_is_a_value_error():
    """psi_t overflows float64 at t = 1e-200: no RuntimeWarning, no inf into the kernel."""
    with pytest.raises(ValueError, match="weighting"):
        tr.gmm_loss_and_grad(ONE, np.ones((1, 1)), np.zeros((1, 1)), 1e-200, SCHED)


def test_training_on_huge_data_is_a_value_error_not_system_error():
    X = _data()
    cfg = tr.TrainConfig(n_epochs=3, n_dup=2)
    with pytest.raises(ValueError, match="X must have squared row norms"):
        tr.train_gmm_denoiser(X * 1e200, 3, cfg, progress=False)
    with pytest.raises(ValueError, match=r"training epoch 0: .* would overflow"):
        tr.train_gmm_denoiser(X * 1e100, 3, cfg, progress=False)


def test_schedule_by_name_or_type_error():
    X = _data()
    cfg = tr.TrainConfig(n_epochs=5, n_dup=2)
    by_name = tr.train_gmm_denoiser(X, 3, cfg, schedule="VPTrig", progress=False)
    by_object = tr.train_gmm_denoiser(X, 3, cfg, schedule=VPTrig(), progress=False)
    np.testing.assert_array_equal(by_name.model.means, by_object.model.means)
    with pytest.raises(TypeError, match="schedule"):
        tr.train_gmm_denoiser(X, 3, cfg, schedule=3, progress=False)
    with pytest.raises(TypeError, match="schedule"):
        tr.gmm_loss_and_grad(ONE, np.ones((1, 1)), np.zeros((1, 1)), 0.5, None)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: tr.gmm_loss_and_grad(None, np.ones((1, 1)), np.ones((1, 1)), 0.5, SCHED), "model"),
        (lambda: tr.train_gmm_denoiser(np.ones((3, 2)), 2, {"n_epochs": 3}), "config"),
        (lambda: tr.train_gmm_denoiser(np.ones((3, 2)), 2, init=np.ones((2, 2))), "init"),
        (lambda: tr.fit(None, np.zeros(2), 3), "objective"),
        (lambda: tr.fit(lambda p, k: (0.0, p), np.zeros(2), 3, lr=0.1), "lr"),
        (
            lambda: tr.fit_config(
                lambda p, k: (0.0, p), np.zeros(2), {}, identity={}, data=np.zeros(1)
            ),
            "config",
        ),
        (lambda: tr.TrainConfig(extra=[]), "extra"),
    ],
)
def test_type_errors_name_the_argument(call, match):
    with pytest.raises(TypeError, match=match):
        call()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: tr.TrainConfig(peak_lr=0.0), "peak_lr"),
        (lambda: tr.TrainConfig(peak_lr=1e-3, final_lr=1e-2), "final_lr"),
        (lambda: tr.TrainConfig(warmup=2.0), "warmup"),
        (lambda: tr.TrainConfig(var0=float("nan")), "var0"),
        (lambda: tr.TrainConfig(weighting="nope"), "weighting"),
        (lambda: tr.TrainConfig(times=(0.5j,)), "times"),
        (lambda: tr.fit(lambda p, k: (0.0, p), np.array([np.nan]), 3), "params0"),
        (lambda: tr.fit(lambda p, k: (0.0, p), np.zeros(1), 3, b2=1.0), "b2"),
        (lambda: tr.fit(lambda p, k: (0.0, p), np.zeros(1), 3, ema=float("nan")), "ema"),
        (
            lambda: tr.gmm_loss_and_grad(ONE, np.ones((0, 1)), np.ones((0, 1)), 0.5, SCHED),
            "B >= 1",
        ),
        (
            lambda: tr.gmm_loss_and_grad(ONE, np.ones((3, 1)), np.ones((3, 1)), [0.5, 0.6], SCHED),
            "t must be one time or one per query",
        ),
        (
            lambda: tr.gmm_loss_and_grad(
                tr.GMMDenoiser(np.array([[np.nan]]), 1.0),
                np.ones((1, 1)),
                np.ones((1, 1)),
                0.5,
                SCHED,
            ),
            r"model\.means must be finite",
        ),
        (
            lambda: tr.train_gmm_denoiser(
                np.ones((3, 2)), 2, init=tr.GMMDenoiser(np.ones((2, 2)), -1.0), progress=False
            ),
            "init.var",
        ),
    ],
)
def test_more_value_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_unpack_checks_the_layout():
    with pytest.raises(ValueError, match="theta must hold"):
        tr.GMMDenoiser.unpack(np.ones(4), 2)
    with pytest.raises(ValueError, match="d must be >= 1"):
        tr.GMMDenoiser.unpack(np.ones(3), 0)


def test_trained_model_is_a_law_for_as_denoiser():
    """GMMDenoiser.denoiser answers prediction=unit, so a trained model drops into as_denoiser."""
    model = tr.GMMDenoiser(np.array([[1.0, 0.0], [-1.0, 0.5]]), 0.3)
    den = as_denoiser(model, VPTrig())
    x, t = np.array([[0.2, -0.1], [1.5, 0.3]]), np.array([0.3, 0.7])
    law = IsotropicGaussianMixture(model.means, model.var)
    for unit in PREDICTIONS:
        assert np.array_equal(
            den.predict(x, t, unit), law.denoiser(x, t, VPTrig(), prediction=unit)
        )
