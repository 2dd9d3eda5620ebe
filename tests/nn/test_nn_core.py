"""A trained network is a denoiser of core: solve, the Monte Carlo losses, the empirical score."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from diffmem_theory import nn
from diffmem_theory.core.denoisers import as_denoiser
from diffmem_theory.core.distributions import EmpiricalDistribution
from diffmem_theory.core.dynamics import solve
from diffmem_theory.core.losses import noise_draws, training_losses
from diffmem_theory.core.schedules import VPLinear

SCHED = VPLinear(0.001, 3.0)
X = np.random.default_rng(0).standard_normal((5, 2))


@pytest.fixture(scope="module")
def trained():
    net = nn.mlp(2, 16, 2, key=jax.random.key(0), prediction="score")
    return nn.train(net, X, SCHED, epochs=200, chunk=100, progress=False).ema


@pytest.mark.parametrize("method", ["ddim", "heun", "rk4", "dopri5", "euler_maruyama"])
@pytest.mark.parametrize("wrap", ["nn", "core", "callable", "mlp"])
def test_solve_runs_with_a_trained_network(trained, method, wrap):
    model = {
        "nn": lambda: nn.as_denoiser(trained, SCHED),
        "core": lambda: as_denoiser(nn.numpy_callable(trained), SCHED, prediction="score"),
        "callable": lambda: nn.numpy_callable(trained),  # solve reads its prediction attribute
        "mlp": lambda: trained,  # the network itself: JAX arrays out, its prediction attribute
    }[wrap]()
    x_T = np.random.default_rng(1).standard_normal((4, 2))
    out = solve(model, SCHED, x_T, np.linspace(0.99, 0.05, 9), method=method, rng=0)
    assert out.final.shape == (4, 2) and np.all(np.isfinite(out.final))


@pytest.mark.parametrize("prediction", ["score", "eps", "x0"])
def test_core_monte_carlo_loss_equals_nn_loss(prediction):
    """training_losses (eq. (6), x0 units) on its noise = the nn objective with lambda = 1."""
    n_noise, seed, t = 3, 4, 0.3
    with jax.enable_x64(True):
        net = nn.mlp(2, 8, 2, key=jax.random.key(2), prediction=prediction, dtype=np.float64)
        core = training_losses({"net": nn.as_denoiser(net, SCHED)}, X, t, SCHED,
                               n_noise=n_noise, seed=seed)["net"]  # fmt: skip
        batch = nn.make_batch(np.repeat(X, n_noise, axis=0), t, SCHED, prediction,
                              weighting="x0", dtype=np.float64)  # fmt: skip
        eta = noise_draws(seed, 0, X.shape[0], n_noise, 2).reshape(-1, 2)
        ours = np.asarray(nn.dsm_per_example(net, batch, eta)).reshape(X.shape[0], n_noise)
    np.testing.assert_allclose(ours, core.draws[0], rtol=1e-9)
    np.testing.assert_allclose(ours.mean(), core.mean[0], rtol=1e-9)


def test_wide_network_on_two_points_learns_the_empirical_score():
    """Trained long enough, an eps network approaches grad log p_t^N at small t (Thm 3.2)."""
    two = np.array([[1.0, 0.0], [-1.0, 0.5]])
    net = nn.mlp(2, 128, 3, key=jax.random.key(0), prediction="eps")
    res = nn.train(net, np.repeat(two, 64, axis=0), SCHED, epochs=2000, ema_decay=0.99,
                   t_min=0.01, progress=False)  # fmt: skip
    emp, rng = EmpiricalDistribution(two), np.random.default_rng(1)
    for t in (0.02, 0.05):
        x = SCHED.alpha(t) * two[rng.integers(0, 2, 400)]
        x = x + SCHED.sigma(t) * rng.standard_normal((400, 2))
        target = emp.score_t(x, t, SCHED)
        norm = np.mean((target**2).sum(-1))
        errs = [
            np.mean(((nn.as_denoiser(m, SCHED).predict(x, t, "score") - target) ** 2).sum(-1))
            for m in (res.ema, net)
        ]
        assert errs[0] / norm < 0.1, (t, errs[0] / norm)  # trained: within 10% (squared)
        assert errs[1] / norm > 0.5  # untrained: no better than zero
