"""The nn objectives: gradients against finite differences (float64), values, validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffmem_theory.core.schedules import VPLinear, VPTrig
from diffmem_theory.nn.losses import (
    dsm_loss,
    dsm_per_example,
    i_0_n,
    j_0_n,
    make_batch,
    sample_times,
    weight_decay,
)
from diffmem_theory.nn.models import mlp

SCHED = VPLinear(0.001, 3.0)


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def _setup(prediction, weighting="eps", c=0.0, dtype=np.float64):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 2))
    t = sample_times(rng, 6, SCHED, t_min=0.05)
    net = mlp(2, 5, 2, key=jax.random.key(3), prediction=prediction, dtype=dtype)
    return net, make_batch(X, t, SCHED, prediction, weighting=weighting, c=c, dtype=dtype)


def _fd_check(loss, net):
    """Central differences along a random direction against <grad, direction>."""
    params, static = jax.tree_util.tree_flatten(net)
    keys = jax.random.split(jax.random.key(7), len(params))
    direction = [
        jax.random.normal(k, p.shape, p.dtype) if jnp.issubdtype(p.dtype, jnp.floating) else None
        for k, p in zip(keys, params, strict=True)
    ]

    def shifted(h):
        leaves = [p if v is None else p + h * v for p, v in zip(params, direction, strict=True)]
        return float(loss(jax.tree_util.tree_unflatten(static, leaves)))

    grads = jax.tree_util.tree_leaves(jax.grad(loss)(net))
    analytic = sum(
        float(jnp.vdot(g, v))
        for g, v in zip(grads, [v for v in direction if v is not None], strict=True)
    )
    h = 1e-6
    numeric = (shifted(h) - shifted(-h)) / (2 * h)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


CASES = [
    ("j_0_n", "score", "eps", 0.0),
    ("j_0_n tikhonov", "score", "eps", 0.1),
    ("i_0_n", "eps", "eps", 0.0),
    ("i_0_n tikhonov", "eps", "eps", 0.01),
    ("eq 6 x0", "x0", "x0", 0.0),
    ("eq 6 x0 tikhonov", "x0", "eps", 0.05),
    ("eq 3.1", "score", "score", 0.0),
    ("eq 6 v", "eps", "v", 0.0),
]


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize(("name", "prediction", "weighting", "c"), CASES)
def test_gradients_match_finite_differences(name, prediction, weighting, c):
    net, batch = _setup(prediction, weighting, c)
    key = jax.random.key(11)
    fn = {"j_0_n": j_0_n, "i_0_n": i_0_n}.get(name.split()[0], dsm_loss)
    _fd_check(lambda m: fn(m, batch, key), net)


@pytest.mark.usefixtures("x64")
def test_weight_decay_gradient():
    net, batch = _setup("score")
    key = jax.random.key(1)
    _fd_check(lambda m: j_0_n(m, batch, key) + weight_decay(m, 0.3), net)
    grads = jax.grad(lambda m: weight_decay(m, 0.3))(net)
    np.testing.assert_allclose(grads.layers[1].weight, 0.6 * net.layers[1].weight)
    assert float(jnp.abs(grads.layers[1].bias).max()) == 0.0


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("prediction", ["score", "eps", "x0"])
def test_values_against_the_papers_formulas(prediction):
    """J_reg,0^N = |sigma s + eta|^2 + c|s|^2 whatever unit the network predicts in."""
    c = 0.07
    net, batch = _setup(prediction, "eps", c)
    eta = np.random.default_rng(5).standard_normal(batch.x0.shape)
    x0, t = np.asarray(batch.x0), np.asarray(batch.t)
    a, s = SCHED.alpha(t)[:, None], SCHED.sigma(t)[:, None]
    xt = a * x0 + s * eta
    p = np.asarray(net(xt, t))
    score = {"score": p, "eps": -p / s, "x0": (a * p - xt) / s**2}[prediction]
    want = ((s * score + eta) ** 2).sum(-1) + c * (score**2).sum(-1)
    np.testing.assert_allclose(dsm_per_example(net, batch, eta), want, rtol=1e-10)


@pytest.mark.usefixtures("x64")
def test_eq_3_1_and_x0_weighting_values():
    rng = np.random.default_rng(2)
    X, t = rng.standard_normal((4, 2)), np.full(4, 0.3)
    eta = rng.standard_normal((4, 2))
    a, s = VPTrig().alpha(t)[:, None], VPTrig().sigma(t)[:, None]
    xt = a * X + s * eta
    for prediction, weighting in (("score", "score"), ("x0", "x0"), ("x0", "eps")):
        net = mlp(2, 4, 1, key=jax.random.key(0), prediction=prediction, dtype=np.float64)
        b = make_batch(X, t, VPTrig(), prediction, weighting=weighting, dtype=np.float64)
        p = np.asarray(net(xt, t))
        want = {
            ("score", "score"): ((p + eta / s) ** 2).sum(-1),  # paper 003, (3.1)
            ("x0", "x0"): ((p - X) ** 2).sum(-1),  # paper 000, eq. (6), lambda = 1
            ("x0", "eps"): (a**2 / s**2 * (p - X) ** 2).sum(-1),  # lambda = psi_t
        }[prediction, weighting]
        np.testing.assert_allclose(dsm_per_example(net, b, eta), want, rtol=1e-10)


def test_j_0_n_small_t_has_no_cancellation():
    b = make_batch(np.ones((1, 2)), 1e-9, SCHED, "score")
    assert float(b.w_eps[0]) == -1.0 and 0 < float(b.w_pred[0]) < 1e-4


def test_float32_default():
    net, batch = _setup("score", dtype=np.float32)
    assert j_0_n(net, batch, jax.random.key(0)).dtype == np.float32


def test_bad_configurations():
    X = np.ones((3, 2))
    with pytest.raises(ValueError, match=r"c must be >= 0\.0, got -0\.1"):
        make_batch(X, 0.5, SCHED, "score", c=-0.1)
    with pytest.raises(ValueError, match="x0 must be finite"):
        make_batch(np.array([[np.nan, 1.0]]), 0.5, SCHED, "score")
    with pytest.raises(ValueError, match=r"t must lie in"):
        make_batch(X, 0.0, SCHED, "score")
    with pytest.raises(ValueError, match=r"t must be a scalar or of shape \(3,\)"):
        make_batch(X, [0.5, 0.5], SCHED, "score")
    with pytest.raises(ValueError, match="prediction must be one of"):
        make_batch(X, 0.5, SCHED, "v")
    with pytest.raises(ValueError, match="weighting must be one of"):
        make_batch(X, 0.5, SCHED, "score", weighting="bogus")
    net = mlp(2, 4, 1, key=jax.random.key(0))
    with pytest.raises(ValueError, match="data_dim is 2"):
        dsm_loss(net, make_batch(np.ones((3, 3)), 0.5, SCHED, "score"), jax.random.key(0))
    with pytest.raises(ValueError, match="the batch was made for a network in 'eps' units"):
        dsm_loss(net, make_batch(X, 0.5, SCHED, "eps"), jax.random.key(0))
    with pytest.raises(ValueError, match="I_0\\^N needs a network in 'eps' units"):
        i_0_n(net, make_batch(X, 0.5, SCHED, "score"), jax.random.key(0))
    with pytest.raises(ValueError, match="J_0\\^N needs"):
        j_0_n(net, make_batch(X, 0.5, SCHED, "score", weighting="x0"), jax.random.key(0))
    with pytest.raises(ValueError, match=r"rate must be >= 0\.0"):
        weight_decay(net, -1.0)
    with pytest.raises(ValueError, match="t_max must be >= t_min"):
        sample_times(np.random.default_rng(0), 3, SCHED, t_min=0.5, t_max=0.1)


def test_wrong_kinds_of_objects_are_type_errors():
    """Found by the fuzz harness: a number or a list where a network, a batch or a generator
    belongs raised AttributeError."""
    net = mlp(2, 4, 1, key=jax.random.key(0))
    with pytest.raises(TypeError, match="model"):
        weight_decay("nope", 0.1)
    with pytest.raises(TypeError, match="model"):
        i_0_n(-1.0, None, jax.random.key(0))
    with pytest.raises(TypeError, match="batch"):
        j_0_n(net, [1.0, "a", None], jax.random.key(0))
    with pytest.raises(TypeError, match="rng"):
        sample_times([1.0, "a", None], 3, "VPTrig")


def test_values_that_overflow_the_network_dtype_are_refused():
    """Found by the fuzz harness: these warned of an overflow in the float32 cast."""
    X = np.ones((3, 2))
    with pytest.raises(ValueError, match=r"c must be <= 1000000\.0"):
        make_batch(X, 0.5, SCHED, "score", c=1e300)
    with pytest.raises(ValueError, match="x0 has coordinates up to 1e"):
        make_batch(np.array([[1e300, 1.0]]), 0.5, SCHED, "score")
    assert make_batch(np.array([[1e4, 1.0]]), 0.5, SCHED, "score").x0.dtype == np.float32
    with pytest.raises(ValueError, match="overflow float32 at some t"):
        make_batch(X, 1e-300, SCHED, "score", weighting="score")
    net = mlp(2, 4, 1, key=jax.random.key(0), prediction="x0")
    batch = make_batch(X, 0.5, SCHED, "x0", weighting="x0")
    with pytest.raises(ValueError, match="noise has entries up to 1e"):
        dsm_per_example(net, batch, np.full((3, 2), 1e300))
    with pytest.raises(ValueError, match="noise must be a real"):
        dsm_per_example(net, batch, np.full((3, 2), 1j))
    with pytest.raises(TypeError, match="batch"):
        dsm_loss(net, 1.0, jax.random.key(0))
