"""The array-API (CuPy) code path, run on NumPy against the Numba kernels and plain NumPy twins.

Covers the per-query softmax of ``kernels._array_api``, the lock-step Dormand-Prince twin
(``kernels._dopri_xp``, through ``voronoi_dynamics``), the GMM loss-and-gradient twin
(``kernels._training_xp``, through ``training``), the samplers' ``backend`` argument, and the
error raised for ``backend="cupy"`` without CuPy.
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp, softmax

from diffmem_theory.core import dynamics as sampling
from diffmem_theory.core import training
from diffmem_theory.core.schedules import OU, VE, FlowMatching, VEPower, VPLinear, VPTrig
from diffmem_theory.kernels import _dopri, softmax_weighted_sum
from diffmem_theory.kernels._array_api import softmax_weighted_sum_xp
from diffmem_theory.kernels._dopri_xp import coefficients, velocity, weighted_mean
from diffmem_theory.kernels._training import loss_and_grad_cpu
from diffmem_theory.kernels._training_xp import loss_and_grad_xp
from diffmem_theory.voronoi import dynamics as vd

HAS_CUPY = importlib.util.find_spec("cupy") is not None
RNG = np.random.default_rng(20240519)
X0 = RNG.standard_normal((12, 3))
STARTS = 2.0 * RNG.standard_normal((16, 3))


# ----------------------------------------------------------------------------------------------
# the per-query softmax
# ----------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.tuples(st.integers(1, 9), st.integers(1, 7), st.integers(1, 4)),
    log_var=st.floats(-24.0, 2.0),
    chunks=st.tuples(st.integers(1, 5), st.integers(1, 5)),
)
def test_per_query_softmax_matches_twin(seed, shape, log_var, chunks):
    """l_ij = -u_i |x_i - a_i c_j|^2 with per-row a_i, u_i = 1/(2 v_i), v down to e^-24: the
    expanded square + refinement equals exact differences (plain broadcasting)."""
    rng = np.random.default_rng(seed)
    B, N, d = shape
    c = rng.standard_normal((N, d))
    a = rng.uniform(0.2, 1.5, B)
    x = a[:, None] * c[rng.integers(0, N, B)] + 1e-3 * rng.standard_normal((B, d))
    v = np.exp(log_var + rng.uniform(-1.0, 1.0, B))
    out, lse = softmax_weighted_sum_xp(
        x, c, c, a, np.ones(N), np.zeros(N), *chunks, True, 0.5 / v
    )  # fmt: skip
    logits = -(((x[:, None, :] - a[:, None, None] * c[None]) ** 2).sum(-1)) / (2.0 * v[:, None])
    size = 1.0 + np.abs(logits).max()
    np.testing.assert_allclose(out, softmax(logits, axis=1) @ c, rtol=0, atol=1e-12 * size)
    np.testing.assert_allclose(lse, logsumexp(logits, axis=1), rtol=0, atol=1e-12 * size)


def test_scalar_scale_path_unchanged():
    """The kernels' scalar-scale call (a float, no query precision) equals the per-query form."""
    x, c = STARTS, X0
    w = np.full(c.shape[0], 0.5 / 0.3)
    one, _ = softmax_weighted_sum_xp(x, c, c, 0.7, w, np.zeros(12), 5, 4)
    rows, _ = softmax_weighted_sum_xp(x, c, c, np.full(16, 0.7), w, np.zeros(12), 5, 4)
    np.testing.assert_allclose(one, rows, rtol=0, atol=1e-14)
    np.testing.assert_allclose(one, softmax_weighted_sum(x, c, scale=0.7, var=0.3), atol=1e-13)


# ----------------------------------------------------------------------------------------------
# the lock-step Dormand-Prince twin
# ----------------------------------------------------------------------------------------------


def assert_same_run(ref, ours, atol, saved=slice(None)):
    """Same statuses and step counts (the same steps were taken), ``saved`` states within
    ``atol`` (with empirical Bayes, rho = min(1, S/c) has a kink that the error control meets
    at slightly different points: 1e-8)."""
    np.testing.assert_array_equal(ours.status, ref.status)
    np.testing.assert_array_equal(ours.n_steps, ref.n_steps)
    np.testing.assert_array_equal(ours.n_rejected, ref.n_rejected)
    np.testing.assert_array_equal(ours.nfev, ref.nfev)
    np.testing.assert_allclose(ours.x[:, saved], ref.x[:, saved], rtol=0, atol=atol)


@pytest.mark.parametrize(
    "options, span, atol",
    [
        ({}, (0.0, 9.0), 1e-11),
        ({"family": "VP"}, (0.1, 9.0), 1e-11),
        ({"score": "tikhonov", "c": 1e-4}, (0.0, -0.5 * math.log(1e-4)), 1e-11),
        ({"score": "eb", "c": 0.5}, (0.0, 8.0), 1e-8),  # rho = min(1, S/c): a kink
        ({"score": "eb_normalized", "c": 0.01}, (0.0, 8.0), 1e-8),
    ],
)
def test_solve_s_time_numpy_equals_numba(options, span, atol):
    save = np.linspace(*span, 6)
    ref = vd.solve_s_time(STARTS, X0, span, save_s=save, **options)
    ours = vd.solve_s_time(STARTS, X0, span, save_s=save, backend="numpy", **options)
    assert ref.success
    assert_same_run(ref, ours, atol)


@pytest.mark.parametrize(
    "schedule, T, t_end, time",
    [
        (VE.exp(), 1.0, 1e-3, "t"),
        (VEPower(2.0, 3.0), 1.0, 1e-2, "t"),
        (VPLinear(0.1, 20.0), 1.0, 1e-3, "t"),
        (OU(), 5.0, 1e-2, "t"),
        (VPTrig(), 0.99, 1e-2, "t"),
        (FlowMatching(), 0.99, 1e-2, "t"),
        (VPLinear(0.1, 20.0), 1.0, 1e-5, "s"),
    ],
)
def test_reverse_ode_numpy_equals_numba(schedule, T, t_end, time):
    save = np.geomspace(T, t_end, 5)
    ref = vd.reverse_ode(STARTS, X0, schedule, t_end, time=time, save_t=save, t_start=T)
    ours = vd.reverse_ode(
        STARTS, X0, schedule, t_end, time=time, save_t=save, t_start=T, backend="numpy"
    )
    assert ref.success
    assert_same_run(ref, ours, 1e-10)


def test_tikhonov_to_t_zero_takes_the_voronoi_indicator():
    """Tikhonov down to t = 0 (v = 0 at the last point): nearest training point, as Numba."""
    ref = vd.reverse_ode(STARTS, X0, VE.exp(), 0.0, score="tikhonov", c=1e-3)
    ours = vd.reverse_ode(STARTS, X0, VE.exp(), 0.0, score="tikhonov", c=1e-3, backend="numpy")
    assert_same_run(ref, ours, 1e-11)


def test_max_steps_status_matches():
    ref = vd.solve_s_time(STARTS, X0, (0.0, 9.0), max_steps=5, rtol=1e-10, atol=1e-10)
    ours = vd.solve_s_time(
        STARTS, X0, (0.0, 9.0), max_steps=5, rtol=1e-10, atol=1e-10, backend="numpy"
    )
    assert np.all(ref.status == 1)
    assert_same_run(ref, ours, 0.0, saved=0)  # only the start was saved
    assert np.all(np.isnan(ours.x[:, 1]))  # the end was never reached


@settings(max_examples=30, deadline=None)
@given(
    kind=st.sampled_from(sorted(_dopri.KINDS.values())),
    tau=st.floats(1e-4, 0.95),
    code=st.sampled_from([_dopri.EMPIRICAL, _dopri.EB, _dopri.EB_NORMALIZED]),
)
def test_velocity_matches_numba_field(kind, tau, code):
    params = np.array([1.5, 2.0, 1.0]) if kind != _dopri.VE_EXP else np.array([3.0, 0.0, 0.0])
    field = (_dopri.T_TIME, kind, tuple(params), 0.0, code, math.log(0.2))
    ref = _dopri.velocity_batch(tau, STARTS, X0.T.copy(), *field[:2], params, *field[3:])
    ours = velocity(np.full(16, tau), STARTS, X0, field)
    np.testing.assert_allclose(ours, ref, rtol=1e-11, atol=1e-11 * np.abs(ref).max())
    f, g2, m, v = coefficients(kind, tuple(params), np.array([tau]))
    want = _dopri.coefficients(kind, params, tau)
    np.testing.assert_allclose([f[0], g2[0], m[0], v[0]], want, rtol=1e-14)


def test_voronoi_indicator_rows_share_ties():
    x = np.array([[0.0, 0.3], [0.4, 0.0], [0.0, 0.0]])
    data = np.array([[1.0, 0.0], [-1.0, 0.0]])
    x_n, log_s = weighted_mean(x, data, np.ones(3), np.array([0.0, 0.25, 0.0]))
    exact = np.tanh(0.4 / 0.25)  # the smooth row: softmax of two points
    np.testing.assert_allclose(x_n, [[0.0, 0.0], [exact, 0.0], [0.0, 0.0]], atol=1e-15)
    assert log_s[0] == 0.0 and log_s[2] == 0.0


# ----------------------------------------------------------------------------------------------
# the GMM loss-and-gradient twin
# ----------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.tuples(st.integers(1, 300), st.integers(1, 6), st.integers(1, 5)),
    log_var=st.floats(-6.0, 1.0),
    weighting=st.sampled_from(["eps", "x0", "v"]),
)
def test_gmm_loss_and_grad_numpy_equals_numba(seed, shape, log_var, weighting):
    rng = np.random.default_rng(seed)
    B, M, d = shape
    model = training.GMMDenoiser(rng.standard_normal((M, d)), 10.0**log_var)
    sched = VPTrig()
    t = rng.uniform(0.01, 0.99, B)
    x0 = rng.standard_normal((B, d))
    xt = sched.alpha(t)[:, None] * x0 + sched.sigma(t)[:, None] * rng.standard_normal((B, d))
    ref = training.gmm_loss_and_grad(model, xt, x0, t, sched, weighting)
    ours = training.gmm_loss_and_grad(model, xt, x0, t, sched, weighting, backend="numpy")
    scale = abs(ref[0]) + np.abs(ref[1]).max() + abs(ref[2])
    assert ours[0] == pytest.approx(ref[0], rel=1e-10)
    np.testing.assert_allclose(ours[1], ref[1], rtol=0, atol=1e-10 * scale)
    assert ours[2] == pytest.approx(ref[2], rel=1e-10, abs=1e-10 * scale)


def test_fused_epoch_form_matches_numba():
    """``n_dup > 0``: queries alpha_i x^i + sigma_i z formed per block, blocks of 7 rows."""
    rng = np.random.default_rng(3)
    n, n_dup, d, M = 11, 4, 3, 5
    X, z = rng.standard_normal((n, d)), rng.standard_normal((n * n_dup, d))
    t = rng.uniform(0.05, 0.95, n)
    alpha, sigma2, lam = np.sqrt(1 - t * t), t * t, rng.uniform(0.5, 2.0, n)
    means = rng.standard_normal((M, d))
    ref = loss_and_grad_cpu(z, X, alpha, sigma2, lam, means, 0.2, n_dup=n_dup)
    ours = loss_and_grad_xp(z, X, alpha, sigma2, lam, means, 0.2, n_dup=n_dup, chunk=7)
    assert ours[0] == pytest.approx(ref[0], rel=1e-12)
    np.testing.assert_allclose(ours[1], ref[1], rtol=1e-11, atol=1e-13)
    assert ours[2] == pytest.approx(ref[2], rel=1e-11)


def test_training_run_numpy_equals_numba():
    X = np.random.default_rng(0).standard_normal((25, 3))
    config = training.TrainConfig(n_epochs=20, n_dup=3, seed=2)
    ref = training.train_gmm_denoiser(X, 4, config, progress=False)
    ours = training.train_gmm_denoiser(X, 4, config, progress=False, backend="numpy")
    np.testing.assert_allclose(ours.model.means, ref.model.means, rtol=0, atol=1e-10)
    assert ours.model.var == pytest.approx(ref.model.var, rel=1e-8)
    np.testing.assert_allclose(ours.losses, ref.losses, rtol=1e-10)


# ----------------------------------------------------------------------------------------------
# the samplers
# ----------------------------------------------------------------------------------------------

SAMPLERS = [
    (sampling.ddim_sample, VPTrig().time_grid()),
    (sampling.probability_flow_sample, VPTrig().time_grid(30, t_max=0.9)),
    (sampling.euler_maruyama_sample, VPTrig().time_grid(30, t_max=0.9)),
]


@pytest.mark.parametrize("sampler, grid", SAMPLERS)
def test_samplers_numpy_path_equals_numba_denoiser(sampler, grid):
    """backend="numpy" with the array-API kernel in the denoiser == the default run with the
    Numba kernel; the denoiser receives arrays of the state's namespace."""
    data = np.random.default_rng(1).standard_normal((15, 4))
    seen = []

    def denoiser(backend):
        def call(x, t):
            seen.append(type(x))
            return sampling_denoiser(x, t, data, backend)

        return call

    ref, ref_path = sampler(
        denoiser("numba"), VPTrig(), n=40, d=4, times=grid, rng=5, return_trajectory=True
    )
    ours, path = sampler(
        denoiser("numpy"), VPTrig(), n=40, d=4, times=grid, rng=5, return_trajectory=True,
        backend="numpy",
    )  # fmt: skip
    assert set(seen) == {np.ndarray}
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(path, ref_path, rtol=0, atol=1e-10)


def sampling_denoiser(x, t, data, backend):
    """The memorizing denoiser (paper 000, eq. (7)) on one kernel backend."""
    sched = VPTrig()
    a, s2 = float(sched.alpha(t)), float(sched.sigma2(t))
    return softmax_weighted_sum(x, data, scale=a, var=s2, backend=backend)


def test_sampler_rejects_unknown_backend():
    with pytest.raises(ValueError, match="backend"):
        sampling.ddim_sample(lambda x, t: x, VPTrig(), n=2, d=2, rng=0, backend="jax")


# ----------------------------------------------------------------------------------------------
# backend="cupy" without CuPy
# ----------------------------------------------------------------------------------------------

CUPY_CALLS = {
    "softmax_weighted_sum": lambda: softmax_weighted_sum(STARTS, X0, backend="cupy"),
    "ddim_sample": lambda: sampling.ddim_sample(
        lambda x, t: x, VPTrig(), n=2, d=2, rng=0, backend="cupy"
    ),
    "solve_s_time": lambda: vd.solve_s_time(STARTS, X0, (0.0, 1.0), backend="cupy"),
    "reverse_ode": lambda: vd.reverse_ode(STARTS, X0, VE.exp(), backend="cupy"),
    "solve": lambda: sampling.solve(lambda x, t: x, VPTrig(), STARTS, [0.9, 0.1], backend="cupy"),
    "gmm_loss_and_grad": lambda: training.gmm_loss_and_grad(
        training.GMMDenoiser(X0, 1.0), STARTS[:, :3], STARTS[:, :3], 0.5, VPTrig(), backend="cupy"
    ),
}


@pytest.mark.skipif(HAS_CUPY, reason="CuPy is installed: the missing-CuPy error cannot occur")
@pytest.mark.parametrize("name", sorted(CUPY_CALLS))
def test_cupy_backend_without_cupy_names_the_gpu_extra(name):
    with pytest.raises(ImportError, match=r"diffmem-theory\[gpu\]"):
        CUPY_CALLS[name]()
