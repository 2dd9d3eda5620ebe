"""Training: seeds give bit-identical parameters, resume equals an uninterrupted run, validation."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from diffmem_theory.core.schedules import VPLinear
from diffmem_theory.nn.models import mlp
from diffmem_theory.nn.training import train

SCHED = VPLinear(0.001, 3.0)
X = np.random.default_rng(0).standard_normal((6, 2))
NET = mlp(2, 8, 2, key=jax.random.key(0))


def _leaves(tree):
    return [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(tree)]


def _identical(a, b):
    return all(np.array_equal(u, v) for u, v in zip(_leaves(a), _leaves(b), strict=True))


def _run(**kwargs):
    args = {"epochs": 30, "chunk": 8, "batch_size": 4, "progress": False, "seed": 1} | kwargs
    return train(NET, X, SCHED, **args)


def test_same_seed_bit_identical_other_seed_not():
    a, b, c = _run(), _run(), _run(seed=2)
    assert _identical(a.model, b.model) and _identical(a.ema, b.ema)
    assert np.array_equal(a.losses, b.losses)
    assert not _identical(a.model, c.model)


def test_chunking_does_not_change_the_run_within_a_chunk_size():
    # the noise of a step and the data of an epoch do not depend on where a scan call ends
    a = _run(epochs=20, chunk=8)
    b = _run(epochs=13, chunk=8)
    assert np.array_equal(a.losses[:13], b.losses)


def test_resume_equals_uninterrupted(tmp_path):
    path = tmp_path / "run.npz"
    full = _run()
    part = _run(epochs=11, checkpoint=path)  # stops inside the second chunk
    assert part.epochs == 11 and path.exists()
    assert not list(tmp_path.glob("*.tmp"))
    resumed = _run(checkpoint=path)
    assert resumed.epochs == 30
    assert _identical(full.model, resumed.model) and _identical(full.ema, resumed.ema)
    assert np.array_equal(full.losses, resumed.losses)


def test_checkpoint_of_another_run_refused(tmp_path):
    path = tmp_path / "run.npz"
    _run(epochs=3, checkpoint=path)
    with pytest.raises(ValueError, match="is from another run: lr differ"):
        _run(checkpoint=path, lr=1e-2)
    with pytest.raises(ValueError, match="data differ"):
        train(NET, X + 1, SCHED, epochs=5, chunk=8, batch_size=4, progress=False, seed=1,
              checkpoint=path)  # fmt: skip


def test_loss_falls_and_ema_follows():
    res = train(NET, X, SCHED, epochs=300, chunk=100, progress=False, ema_decay=0.0)
    assert res.losses[-50:].mean() < res.losses[:50].mean()
    assert _identical(res.model, res.ema)  # decay 0: the EMA is the last iterate


def test_float64_training():
    with jax.enable_x64(True):
        net = mlp(2, 4, 1, key=jax.random.key(0), dtype=np.float64)
        res = train(net, X, SCHED, epochs=5, progress=False, c=0.01, weight_decay_rate=1e-3)
        assert res.model.layers[0].weight.dtype == np.float64 and np.all(np.isfinite(res.losses))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 0}, "epochs must be >= 1"),
        ({"batch_size": 0}, "batch_size must be >= 1"),
        ({"batch_size": 7}, "batch_size must be <= 6"),
        ({"ema_decay": 1.0}, "ema_decay must be < 1"),
        ({"lr": 0.0}, "lr must be > 0"),
        ({"c": -1.0}, "c must be >= 0"),
        ({"weight_decay_rate": -1.0}, "weight_decay_rate must be >= 0"),
        ({"t_min": 0.0}, "t_min must lie in"),
        ({"weighting": "bogus"}, "weighting must be one of"),
        ({"chunk": 0}, "chunk must be >= 1"),
    ],
)
def test_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        train(NET, X, SCHED, **({"epochs": 2, "progress": False} | kwargs))


def test_bad_data():
    with pytest.raises(ValueError, match="X has dimension 3 but the model's data_dim is 2"):
        train(NET, np.ones((4, 3)), SCHED, epochs=2, progress=False)
    with pytest.raises(ValueError, match="X must be finite"):
        train(NET, np.array([[np.nan, 0.0]]), SCHED, epochs=2, progress=False)
    with pytest.raises(TypeError, match=r"model must be an nn\.models\.MLP"):
        train(lambda x, t: x, X, SCHED, epochs=2, progress=False)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 2**62}, "epochs must be <= 1000000000"),
        ({"chunk": 2**62}, "chunk must be <= 1000000000"),
        ({"lr": 2.0**62}, "lr must be <= 1.0"),
        ({"c": 1e300}, "c must be <= 1000000.0"),
        ({"weight_decay_rate": 1e300}, "weight_decay_rate must be <= 1000000.0"),
    ],
)
def test_settings_that_would_hang_or_overflow_float32_are_refused(kwargs, match):
    """Found by the fuzz harness: these gave NaN losses (or ran for ever)."""
    with pytest.raises(ValueError, match=match):
        train(NET, X, SCHED, **({"epochs": 2, "progress": False} | kwargs))


def test_data_whose_squares_overflow_float32_are_refused():
    """Found by the fuzz harness: X = 1e300 gave NaN losses."""
    with pytest.raises(ValueError, match="X has coordinates up to 1e"):
        train(NET, np.array([[1e300, 0.0], [0.0, 1.0]]), SCHED, epochs=2, progress=False)
    with pytest.raises(ValueError, match="X has coordinates"):
        train(NET, np.array([[1e10, 0.0], [0.0, 1.0]]), SCHED, epochs=2, progress=False)
    res = train(NET, np.array([[1e4, 0.0], [0.0, 1.0]]), SCHED, epochs=2, progress=False)
    assert np.all(np.isfinite(res.losses))


def test_a_chunk_longer_than_the_run_is_drawn_only_as_far_as_needed():
    assert _identical(_run(epochs=5, chunk=10**9).ema, _run(epochs=5, chunk=8).ema)
