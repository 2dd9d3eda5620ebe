"""Tests for diffmem_theory.crossover.template_data and .template_model (paper 000, Sec. 4.2,
App. H.1, H.4) and Figs. 4-5.
"""

from __future__ import annotations

import gzip

import matplotlib.pyplot as plt
import numpy as np
import pytest

from diffmem_theory.core.denoisers import template_denoiser
from diffmem_theory.core.distributions import TemplateMixture
from diffmem_theory.core.dynamics import ddim_sample
from diffmem_theory.core.metrics import memorization_ratio
from diffmem_theory.core.schedules import VPTrig
from diffmem_theory.core.training import TrainConfig
from diffmem_theory.crossover import template_data as td
from diffmem_theory.crossover import template_model as tm
from diffmem_theory.data import read_idx
from diffmem_theory.registry import get_experiment

SCHED = VPTrig()
GRID = SCHED.time_grid()


# ----------------------------------------------------------------------------------------------
# templates
# ----------------------------------------------------------------------------------------------


def test_generated_templates_deterministic_in_unit_range_and_distinct():
    tpl = td.generated_templates(12)
    assert tpl.shape == (12, 15, 15)
    assert tpl.min() == 0.0 and tpl.max() == 1.0
    assert np.array_equal(tpl, td.generated_templates(12))
    assert not np.array_equal(tpl, td.generated_templates(12, seed=1))
    flat = tpl.reshape(12, -1)
    dist = np.linalg.norm(flat[:, None] - flat[None], axis=-1)
    assert dist[~np.eye(12, dtype=bool)].min() > 0.5  # visually distinct, also the jittered ones
    assert (np.einsum("kp,kp->k", flat, flat) > 0).all()
    # the first templates do not depend on K (up to the joint normalization)
    small = td.generated_templates(3, size=8)
    assert small.shape == (3, 8, 8)


def _write_idx(path, arr, code=0x08, compress=False):
    header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    raw = header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


@pytest.fixture
def fmnist(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (30, 28, 28), dtype=np.uint8)
    labels = np.repeat(np.arange(10, dtype=np.uint8), 3)
    plain, zipped = tmp_path / "plain", tmp_path / "zipped"
    plain.mkdir()
    zipped.mkdir()
    _write_idx(plain / "train-images-idx3-ubyte", images)
    _write_idx(plain / "train-labels-idx1-ubyte", labels)
    _write_idx(zipped / "train-images-idx3-ubyte.gz", images, compress=True)
    _write_idx(zipped / "train-labels-idx1-ubyte.gz", labels, compress=True)
    return images, labels, plain, zipped


def test_read_idx_round_trip(fmnist, tmp_path):
    images, labels, plain, zipped = fmnist
    for folder, suffix in ((plain, ""), (zipped, ".gz")):
        assert np.array_equal(read_idx(folder / f"train-images-idx3-ubyte{suffix}"), images)
        assert np.array_equal(read_idx(folder / f"train-labels-idx1-ubyte{suffix}"), labels)
    floats = np.linspace(-1, 1, 12).reshape(3, 4)
    _write_idx(tmp_path / "f", floats, code=0x0E)
    assert np.array_equal(read_idx(tmp_path / "f"), floats)


def test_fashion_mnist_loader(fmnist):
    from PIL import Image

    images, labels, plain, zipped = fmnist
    tpl = td.load_fashion_mnist_templates(plain, 4)
    assert tpl.shape == (4, 15, 15) and tpl.min() == 0.0 and tpl.max() == 1.0
    assert np.array_equal(tpl, td.load_fashion_mnist_templates(zipped, 4))
    # one image per class, and the result is PIL bicubic + joint min-max of those images
    ref = np.stack(
        [
            np.asarray(Image.fromarray(im).resize((15, 15), Image.Resampling.BICUBIC), float)
            for im in images
        ]
    )
    # exact reconstruction of the pipeline for explicit labels
    got = td.load_fashion_mnist_templates(plain, 3, labels=[0, 5, 9], seed=3)
    gen = np.random.default_rng(3)
    idx = [int(gen.choice(np.flatnonzero(labels == lab))) for lab in (0, 5, 9)]
    assert np.allclose(got, td.minmax_normalize(ref[idx]), atol=0, rtol=0)
    # per_class: distinct labels; without per_class: uniform distinct images
    gen = np.random.default_rng(1)
    classes = gen.permutation(np.arange(10))[:4]
    idx = [int(gen.choice(np.flatnonzero(labels == lab))) for lab in classes]
    assert np.array_equal(tpl, td.minmax_normalize(ref[idx]))
    uni = td.load_fashion_mnist_templates(plain, 4, per_class=False)
    idx = np.random.default_rng(1).choice(30, size=4, replace=False)
    assert np.array_equal(uni, td.minmax_normalize(ref[idx]))
    # the images file itself as the path; scipy resampling is close to PIL's
    assert np.array_equal(
        td.load_fashion_mnist_templates(plain / "train-images-idx3-ubyte", 4), tpl
    )
    sc = td.load_fashion_mnist_templates(plain, 4, method="scipy")
    assert sc.shape == (4, 15, 15) and sc.min() == 0.0 and sc.max() == 1.0


def test_idx_bad_files(fmnist, tmp_path):
    images, labels, plain, _ = fmnist
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x00\x00\x07\x03" + b"\x00" * 20)
    with pytest.raises(ValueError, match="magic"):
        read_idx(bad)
    bad.write_bytes(b"")
    with pytest.raises(ValueError, match="magic"):
        read_idx(bad)
    raw = (plain / "train-images-idx3-ubyte").read_bytes()
    bad.write_bytes(raw[:-5])
    with pytest.raises(ValueError, match="data bytes"):
        read_idx(bad)
    bad.write_bytes(raw[:10])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(bad)
    bad.write_bytes(gzip.compress(raw)[:-30])
    with pytest.raises(ValueError, match="gzip"):
        read_idx(bad)
    with pytest.raises(ValueError, match="does not exist"):
        read_idx(tmp_path / "missing")
    with pytest.raises(ValueError, match="train-images"):
        td.load_fashion_mnist_templates(tmp_path, 3)
    other = tmp_path / "other"
    other.mkdir()
    _write_idx(other / "train-images-idx3-ubyte", images)
    _write_idx(other / "train-labels-idx1-ubyte", labels[:10])
    with pytest.raises(ValueError, match="labels but there are 30 images"):
        td.load_fashion_mnist_templates(other, 3)
    _write_idx(other / "train-labels-idx1-ubyte", images[:, 0, 0])
    with pytest.raises(ValueError, match="no image has label"):
        td.load_fashion_mnist_templates(other, 1, labels=[int(images[:, 0, 0].max()) + 1])
    with pytest.raises(ValueError, match="labels must be"):
        td.load_fashion_mnist_templates(plain, 2, labels=[1])
    with pytest.raises(ValueError, match="K = 40"):
        td.load_fashion_mnist_templates(plain, 40)
    _write_idx(other / "train-images-idx3-ubyte", images[:, 0])
    with pytest.raises(ValueError, match="must hold"):
        td.load_fashion_mnist_templates(other, 3)


# ----------------------------------------------------------------------------------------------
# loss and gradient
# ----------------------------------------------------------------------------------------------


def twin_loss(T, U, s2, xt, x0, t):
    """The eps-weighted loss through the independent H.4 denoiser of denoisers.py."""
    out = template_denoiser(xt, t, T, U, s2, SCHED)
    return float((SCHED.snr(t) * ((out - x0) ** 2).sum(1)).mean())


@pytest.mark.parametrize("M", [1, 3])
def test_gradient_matches_finite_differences(M):
    rng = np.random.default_rng(M)
    c, h, w, B = 3, 3, 4, 150
    T = rng.uniform(0.1, 1.0, (M, h, w))
    U = rng.normal(size=(M, c))
    s2 = 0.7
    x0 = rng.normal(size=(B, c * h * w))
    t = rng.choice(GRID[2:-2], B)
    xt = SCHED.alpha(t)[:, None] * x0 + SCHED.sigma(t)[:, None] * rng.normal(size=x0.shape)
    loss, gT, gU, gv = tm.template_loss_and_grad(tm.TemplateDenoiser(T, U, s2), xt, x0, t, SCHED)
    assert loss == pytest.approx(twin_loss(T, U, s2, xt, x0, t), rel=1e-12)
    h_ = 1e-6

    def fd(arr, f):
        out = np.empty_like(arr)
        for idx in np.ndindex(arr.shape):
            e = np.zeros_like(arr)
            e[idx] = h_
            out[idx] = (f(arr + e) - f(arr - e)) / (2 * h_)
        return out

    fT = fd(T, lambda a: twin_loss(a, U, s2, xt, x0, t))
    fU = fd(U, lambda a: twin_loss(T, a, s2, xt, x0, t))
    fv = (twin_loss(T, U, s2 + h_, xt, x0, t) - twin_loss(T, U, s2 - h_, xt, x0, t)) / (2 * h_)
    assert np.abs(gT - fT).max() <= 1e-6 * np.abs(fT).max()
    assert np.abs(gU - fU).max() <= 1e-6 * np.abs(fU).max()
    assert gv == pytest.approx(fv, rel=1e-6)


def test_loss_blocks_and_threads_do_not_change_the_result(monkeypatch):
    import numba

    rng = np.random.default_rng(5)
    model = tm.TemplateDenoiser(rng.uniform(0.1, 1, (4, 3, 3)), rng.normal(size=(4, 2)), 0.3)
    x0 = rng.normal(size=(700, 18))
    t = rng.choice(GRID, 700)
    xt = SCHED.alpha(t)[:, None] * x0 + SCHED.sigma(t)[:, None] * rng.normal(size=x0.shape)
    ref = tm.template_loss_and_grad(model, xt, x0, t, SCHED, "x0")
    monkeypatch.setattr(tm, "QUERY_BLOCK", 64)
    small = tm.template_loss_and_grad(model, xt, x0, t, SCHED, "x0")
    assert small[0] == pytest.approx(ref[0], rel=1e-12)
    assert np.allclose(small[1], ref[1], rtol=1e-10, atol=0)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        one = tm.template_loss_and_grad(model, xt, x0, t, SCHED, "x0")
    finally:
        numba.set_num_threads(threads)
    assert one[0] == small[0] and np.array_equal(one[1], small[1])
    # 4-D inputs are accepted
    four = tm.template_loss_and_grad(
        model, xt.reshape(-1, 2, 3, 3), x0.reshape(-1, 2, 3, 3), t, SCHED, "x0"
    )
    assert four[0] == small[0]


# ----------------------------------------------------------------------------------------------
# model, initialization, training
# ----------------------------------------------------------------------------------------------


def _data(K=2, size=5, N=12, seed=0):
    tpl = td.generated_templates(K, size=size)
    Y, labels = TemplateMixture(tpl, np.zeros((K, 3)), 1.0).sample(N, seed)
    return tpl, Y, labels


def test_model_denoiser_is_the_h4_denoiser():
    rng = np.random.default_rng(2)
    model = tm.TemplateDenoiser(rng.uniform(0.1, 1, (3, 4, 4)), rng.normal(size=(3, 3)), 0.4)
    x = rng.normal(size=(7, 48))
    t = rng.choice(GRID, 7)
    ref = template_denoiser(x, t, model.templates, model.color_means, 0.4, SCHED)
    assert np.array_equal(model.denoiser(x, t, SCHED), ref)
    assert np.allclose(model.to_mixture().denoiser(x, t, SCHED), ref, rtol=1e-12)
    back = tm.TemplateDenoiser.unpack(model.pack(), model.image_shape, 3)
    assert np.array_equal(back.templates, model.templates) and back.color_var == pytest.approx(0.4)


def test_partial_memorization_init_reproduces_samples():
    tpl, Y, labels = _data(N=8)
    init = tm.template_partial_memorization_init(Y, 8, 0, templates=tpl, labels=labels)
    assert init.color_var == 1e-6
    comps = (init.color_means[:, :, None] * init.templates.reshape(8, 1, -1)).reshape(8, -1)
    # the components are the 8 distinct training samples (in some order)
    d = np.linalg.norm(comps[:, None] - Y[None], axis=-1)
    assert np.allclose(d.min(axis=1), 0, atol=1e-12)
    assert np.unique(d.argmin(axis=1)).size == 8
    # without templates: the rank-one factorization gives the same components
    blind = tm.template_partial_memorization_init(Y, 8, 0, image_shape=(3, 5, 5))
    comps2 = (blind.color_means[:, :, None] * blind.templates.reshape(8, 1, -1)).reshape(8, -1)
    assert np.allclose(comps2, comps, atol=1e-10)
    assert np.isclose(np.abs(blind.templates).reshape(8, -1).max(axis=1), 1.0).all()
    more = tm.template_partial_memorization_init(Y, 20, 0, templates=tpl, labels=labels)
    assert more.templates.shape == (20, 5, 5)


def test_training_decreases_loss_reproducible_and_resumes(tmp_path):
    tpl, Y, labels = _data()
    cfg = TrainConfig(n_epochs=120, n_dup=3, peak_lr=2e-3, adam_b2=0.9, seed=4)
    kw = {"templates": tpl, "labels": labels, "progress": False}
    res = tm.train_template_denoiser(Y, 3, cfg, **kw)
    assert res.losses[-20:].mean() < 0.1 * res.losses[:5].mean()
    assert res.model.color_var > 1e-4  # M < N: the variance grows from 1e-6
    again = tm.train_template_denoiser(Y, 3, cfg, **kw)
    assert np.array_equal(again.model.pack(), res.model.pack())
    assert np.array_equal(again.losses, res.losses)
    # interrupted at epoch 60 and resumed: bit-identical
    ck = tmp_path / "ck.npz"
    half = TrainConfig(**{**cfg.__dict__, "n_epochs": 120})
    tm.train_template_denoiser(Y, 3, half, checkpoint=ck, checkpoint_every=60, **kw)
    resumed = tm.train_template_denoiser(Y, 3, half, checkpoint=ck, **kw)
    assert np.array_equal(resumed.model.pack(), res.model.pack())
    # stratified time sampling and EMA
    strat = TrainConfig(**{**cfg.__dict__, "extra": {"time_sampling": "stratified"}, "ema": 0.9})
    res_s = tm.train_template_denoiser(Y.reshape(12, 3, 5, 5), 3, strat, **kw)
    assert res_s.ema_model is not None and res_s.losses[-20:].mean() < res_s.losses[:5].mean()


def test_lock_step_training_gives_each_model_its_bits_alone(tmp_path, monkeypatch):
    """Fig. 5's models trained together (one noise draw per epoch for all) are bit for bit the
    models trained one by one, with EMA and stratified times, for 1 and 2 threads, and the joint
    run resumes from its checkpoint."""
    tpl, Y, labels = _data()
    cfg = TrainConfig(n_epochs=40, n_dup=3, peak_lr=2e-3, adam_b2=0.9, seed=2, ema=0.9,
                      extra={"time_sampling": "stratified"})  # fmt: skip
    kw = {"templates": tpl, "labels": labels, "progress": False}
    alone = [tm.train_template_denoiser(Y, m, cfg, **kw) for m in (2, 5, 12)]
    for threads in (1, 2):
        monkeypatch.setattr(tm, "_n_threads", lambda threads=threads: threads)
        joint = tm.train_template_denoisers(Y, (2, 5, 12), cfg, **kw)
        for a, b in zip(alone, joint, strict=True):
            assert np.array_equal(a.model.pack(), b.model.pack())
            assert np.array_equal(a.ema_model.pack(), b.ema_model.pack())
            assert np.array_equal(a.losses, b.losses) and b.losses.shape == (40,)
    ck = tmp_path / "joint.npz"
    tm.train_template_denoisers(Y, (2, 5, 12), cfg, checkpoint=ck, checkpoint_every=20, **kw)
    resumed = tm.train_template_denoisers(Y, (2, 5, 12), cfg, checkpoint=ck, **kw)
    assert all(np.array_equal(a.losses, b.losses) for a, b in zip(alone, resumed, strict=True))
    with pytest.raises(ValueError, match="at least one"):
        tm.train_template_denoisers(Y, [], cfg, **kw)
    with pytest.raises(ValueError, match=r"Ms\[1\]"):
        tm.train_template_denoisers(Y, [2, 0], cfg, **kw)
    with pytest.raises(TypeError, match="sequence"):
        tm.train_template_denoisers(Y, 3, cfg, **kw)


def test_phase_transition_smoke():
    """Fig. 5 in miniature: M = N stays memorizing, M << N generalizes (no memorized sample)."""
    tpl, Y, labels = _data(K=2, size=6, N=16, seed=3)
    cfg = TrainConfig(
        n_epochs=1000,
        n_dup=6,
        peak_lr=5e-3,
        adam_b2=0.9,
        seed=0,
        extra={"time_sampling": "stratified"},
    )
    ratios = {}
    for m in (2, 16):
        res = tm.train_template_denoiser(Y, m, cfg, templates=tpl, labels=labels, progress=False)
        smp = ddim_sample(
            lambda x, t, mod=res.model: mod.denoiser(x, t, SCHED), SCHED, n=40, d=108, rng=1
        )
        ratios[m] = memorization_ratio(smp, Y)
    assert ratios[2] <= 0.1
    assert ratios[16] >= 0.9


def test_value_errors():
    tpl, Y, labels = _data()
    with pytest.raises(ValueError, match="float64"):
        tm.train_template_denoiser(Y, 2, TrainConfig(n_epochs=1, dtype="float32"), templates=tpl)
    with pytest.raises(ValueError, match="image_shape"):
        tm.train_template_denoiser(Y, 2, TrainConfig(n_epochs=1))
    with pytest.raises(ValueError, match="does not match"):
        tm.train_template_denoiser(Y, 2, TrainConfig(n_epochs=1), image_shape=(3, 4, 4))
    with pytest.raises(ValueError, match="both templates and labels"):
        tm.train_template_denoiser(Y, 2, TrainConfig(n_epochs=1), templates=tpl)
    with pytest.raises(ValueError, match="init must have"):
        bad = tm.TemplateDenoiser(np.ones((3, 5, 5)), np.zeros((3, 3)), 1.0)
        tm.train_template_denoiser(Y, 2, TrainConfig(n_epochs=1), templates=tpl, init=bad)
    with pytest.raises(ValueError, match="time_sampling"):
        cfg = TrainConfig(n_epochs=1, extra={"time_sampling": "sobol"})
        tm.train_template_denoiser(Y, 2, cfg, templates=tpl, labels=labels)
    with pytest.raises(ValueError, match="labels must be"):
        tm.template_partial_memorization_init(Y, 2, 0, templates=tpl, labels=labels[:3])
    with pytest.raises(ValueError, match="M must be"):
        tm.template_partial_memorization_init(Y, 0, 0, templates=tpl, labels=labels)
    model = tm.TemplateDenoiser(np.ones((2, 5, 5)), np.zeros((2, 3)), 1.0)
    with pytest.raises(ValueError, match="must both be"):
        tm.template_loss_and_grad(model, Y[:, :10], Y[:, :10], 0.5, SCHED)
    with pytest.raises(ValueError, match="nonzero"):
        zero = tm.TemplateDenoiser(np.zeros((2, 5, 5)), np.zeros((2, 3)), 1.0)
        tm.template_loss_and_grad(zero, Y, Y, 0.5, SCHED)
    with pytest.raises(ValueError, match="K must be"):
        td.generated_templates(0)
    with pytest.raises(ValueError, match="constant"):
        td.minmax_normalize(np.ones(3))
    with pytest.raises(ValueError, match="method"):
        td.resize_bicubic(np.ones((1, 4, 4)), 2, method="lanczos")


def _objective_args():
    Y = np.ones((2, 3, 4))
    return [Y, 2, TrainConfig(n_dup=1), SCHED, SCHED.time_grid()]


@pytest.mark.parametrize(
    ("position", "value", "error", "match"),
    [
        (0, np.full((2, 3, 4), np.nan), ValueError, "Y must be finite"),
        (0, np.ones((2, 12)), ValueError, "Y must have 3"),
        (0, np.ones((0, 3, 4)), ValueError, "N, c, p >= 1"),
        (1, 0, ValueError, "M must be >= 1"),
        (1, 2.5, ValueError, "M must be an integer"),
        (2, None, TypeError, "config must be a TrainConfig"),
        (3, None, TypeError, "schedule is required"),
        (3, 1.0, TypeError, "schedule must be a Schedule"),
        (4, np.array([0.5, 1.5]), ValueError, "times must lie in"),
        (4, np.array([]), ValueError, "at least one time"),
        (4, np.array([[0.5]]), ValueError, "times must have 1"),
    ],
)
def test_template_objective_validates_every_argument(position, value, error, match):
    # regression: template_objective checked nothing
    args = _objective_args()
    args[position] = value
    with pytest.raises(error, match=match):
        tm.template_objective(*args)


def test_template_objective_checks_theta_and_epoch_and_accepts_a_schedule_name():
    args = _objective_args()
    f = tm.template_objective(*args)
    theta = np.concatenate([np.ones(8), np.zeros(6), [0.5]])
    args[3] = "VPTrig"
    loss, grad = tm.template_objective(*args)(theta, 3)
    assert (loss, grad.tolist()) == (f(theta, 3)[0], f(theta, 3)[1].tolist())
    with pytest.raises(ValueError, match="theta must have 15 entries"):
        f(theta[:-1], 0)
    with pytest.raises(ValueError, match="epoch must be >= 0"):
        f(theta, -1)


def test_template_model_is_validated():
    with pytest.raises(ValueError, match="color_var must be finite"):
        tm.TemplateDenoiser(np.ones((1, 2, 2)), np.zeros((1, 3)), float("nan"))
    with pytest.raises(ValueError, match="same M"):
        tm.TemplateDenoiser(np.ones((2, 2, 2)), np.zeros((1, 3)), 1.0)
    with pytest.raises(TypeError, match="model must be a TemplateDenoiser"):
        tm.template_loss_and_grad(None, np.ones((1, 4)), np.ones((1, 4)), 0.5, SCHED)
    model = tm.TemplateDenoiser(np.ones((1, 1, 2)), np.array([[0.5, 1.0]]), 1.0)
    with pytest.raises(TypeError, match="schedule is required"):
        tm.template_loss_and_grad(model, np.ones((1, 4)), np.zeros((1, 4)), 0.6, None)
    by_name = tm.template_loss_and_grad(model, np.ones((1, 4)), np.zeros((1, 4)), 0.6, "VPTrig")
    assert (
        by_name[0]
        == tm.template_loss_and_grad(model, np.ones((1, 4)), np.zeros((1, 4)), 0.6, SCHED)[0]
    )


def test_minmax_and_resize_edge_cases():
    out = td.minmax_normalize([-1e308, 0.0, 1e308])  # hi - lo overflows float64
    assert out.tolist() == [0.0, 0.5, 1.0]
    with pytest.raises(ValueError, match="empty"):
        td.minmax_normalize([])
    with pytest.raises(ValueError, match="non-empty"):
        td.resize_bicubic(np.ones((0, 4, 4)), 2)
    with pytest.raises(ValueError, match="GiB"):
        td.resize_bicubic(np.ones((1, 4, 4)), 10**6)
    with pytest.raises(ValueError, match="GiB"):
        td.generated_templates(10**9)


# ----------------------------------------------------------------------------------------------
# experiments
# ----------------------------------------------------------------------------------------------


def test_fig4_runs_and_plots():
    spec = get_experiment("paper000.fig4")
    result = spec.run(quick=True)
    assert result["templates"].shape == (8, 15, 15) and result["source"] == "generated"
    # each sample is color (x) its template, and the colors are recovered exactly
    k = result["samples"]
    rebuilt = result["colors"][:, :, None, None] * result["templates"][:, None]
    assert np.allclose(k, rebuilt, atol=1e-12)
    fig = spec.plot(result)
    assert len(fig.axes) == 16
    plt.close(fig)


def test_fuzz_findings_templates():
    m = tm.TemplateDenoiser(np.ones((1, 1, 2)), np.array([[0.5, 1.0]]), 1.0)
    x, y = np.ones((1, 4)), np.zeros((1, 4))
    with pytest.raises(ValueError, match="sigma_t"):  # was NaN: sigma_t^2 underflows
        tm.template_loss_and_grad(m, x, y, 1e-300, SCHED, "x0")
    with pytest.raises(ValueError, match="float64"):  # was NaN / inf
        tm.template_loss_and_grad(m, np.full((1, 4), 1e300), y, 0.6, SCHED, "x0")
    with pytest.raises(ValueError, match="float64"):
        tm.template_loss_and_grad(m, x, np.full((1, 4), 1e300), 0.6, SCHED, "x0")
    with pytest.raises(ValueError, match="float32 range"):  # Pillow gave inf
        td.resize_bicubic(np.full((1, 28, 28), 1e300), 15)
    tpl, Y, labels = _data()
    with pytest.raises(ValueError, match="image_shape"):  # NaN image_shape was ignored
        tm.template_partial_memorization_init(
            Y, 2, 0, templates=tpl, labels=labels, image_shape=float("nan")
        )
    with pytest.raises(ValueError, match="progress"):
        tm.train_template_denoiser(Y, 2, TrainConfig(n_epochs=1), progress=float("nan"))
