"""Tests for diffmem_theory.core.dynamics (paper 000 App. H.2 DDIM, eqs. (2)-(4); Song et al.
PF-ODE).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from diffmem_theory.core.denoisers import memorizing_denoiser
from diffmem_theory.core.distributions import IsotropicGaussianMixture, sphere_means
from diffmem_theory.core.dynamics import ddim_sample, euler_maruyama_sample, probability_flow_sample
from diffmem_theory.core.metrics import is_memorized, memorization_ratio, two_nearest
from diffmem_theory.core.schedules import OU, VEPower, VPLinear, VPTrig

SCHED = VPTrig()
SAMPLERS = (ddim_sample, probability_flow_sample, euler_maruyama_sample)


def gaussian_denoiser(schedule, mu, s2):
    """Exact posterior mean of data N(mu, s2 I): mu + alpha s2 / V (x - alpha mu)."""

    def denoiser(x, t):
        a, v = float(schedule.alpha(t)), float(schedule.sigma2(t))
        return mu + a * s2 / (a * a * s2 + v) * (x - a * mu)

    return denoiser


def gaussian_flow(schedule, mu, s2, t_from, t_to, x):
    """Exact PF-ODE flow for data N(mu, s2 I): x - alpha mu scales as sqrt(alpha^2 s2 + sigma^2)."""
    a0, a1 = float(schedule.alpha(t_from)), float(schedule.alpha(t_to))
    v0 = a0**2 * s2 + float(schedule.sigma2(t_from))
    v1 = a1**2 * s2 + float(schedule.sigma2(t_to))
    return a1 * mu + math.sqrt(v1 / v0) * (x - a0 * mu)


def observed_orders(errors):
    errors = np.asarray(errors)
    return np.log2(errors[:-1] / errors[1:])


# ---------------------------------------------------------------------------------------------
# DDIM (App. H.2)
# ---------------------------------------------------------------------------------------------


def twin_ddim(denoise_one, schedule, x_init, times):
    """H.2 written as a plain Python loop over samples, steps and coordinates."""
    out = []
    for row in x_init.tolist():
        x = list(row)
        for l in range(len(times) - 1):
            t, s = float(times[l]), float(times[l + 1])
            a_l, a_n = math.sqrt(1 - t * t), math.sqrt(1 - s * s)  # VPTrig, sigma = t
            xbar = denoise_one(x, t)
            x = [(s / t) * xi + (a_n - (s / t) * a_l) * bi for xi, bi in zip(x, xbar, strict=True)]
        out.append(x)
    return np.array(out)


def test_ddim_matches_plain_python_twin():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((7, 3))

    def denoise_one(x, t):  # memorizing denoiser eq. (7) for one query, in plain Python
        a = math.sqrt(1 - t * t)
        logits = [
            -sum((xi - a * pi) ** 2 for xi, pi in zip(x, p, strict=True)) / (2 * t * t)
            for p in X.tolist()
        ]
        top = max(logits)
        w = [math.exp(v - top) for v in logits]
        z = sum(w)
        return [sum(wi * p[k] for wi, p in zip(w, X.tolist(), strict=True)) / z for k in range(3)]

    x_init = rng.standard_normal((5, 3))
    for times in (SCHED.time_grid(), np.array([0.9, 0.5, 0.31, 0.02])):
        got = ddim_sample(
            lambda x, t: memorizing_denoiser(x, t, X, SCHED), SCHED, x_init, times=times
        )
        np.testing.assert_allclose(
            got, twin_ddim(denoise_one, SCHED, x_init, times), rtol=1e-11, atol=1e-11
        )


def test_ddim_with_memorizing_denoiser_reproduces_training_points():
    """Eq. (7) + H.2 on the paper's grid: every sample lands on a training point (ratio 1)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 10))
    out = ddim_sample(lambda x, t: memorizing_denoiser(x, t, X, SCHED), SCHED, n=200, d=10, rng=rng)
    assert memorization_ratio(out, X) == 1.0
    sq, _ = two_nearest(out, X)
    # x_{t_L} = alpha_L x^i + sigma_L eps_hat, with sigma_L = 0.001
    assert np.sqrt(sq[:, 0]).max() < 0.01 < np.sqrt(sq[:, 1]).min()


def test_ddim_with_ground_truth_gmm_generalizes():
    """x̄_* (Lemma 2.1) on K = 4 well-separated components, d = 50, N = 200: ratio ~ 0, and the
    samples are spread like the data around the means (not collapsed onto them or onto X)."""
    rng = np.random.default_rng(1)
    gmm = IsotropicGaussianMixture(sphere_means(4, 50, rng), 1.0)
    X, _ = gmm.sample(200, rng)
    out = ddim_sample(lambda x, t: gmm.denoiser(x, t, SCHED), SCHED, n=100, d=50, rng=rng)
    assert memorization_ratio(out, X) <= 0.05
    nearest_mean_sq, _ = two_nearest(out, gmm.means)
    per_coord = nearest_mean_sq[:, 0] / 50  # ~ chi^2_50 / 50 for exact samples
    assert 0.8 < per_coord.mean() < 1.2
    assert np.bincount(two_nearest(out, gmm.means)[1][:, 0], minlength=4).min() >= 10


def test_ddim_is_exact_for_point_mass_and_first_order_for_gaussian():
    """One data point: DDIM is the exact flow. Gaussian data: DDIM converges to the exact
    PF-ODE flow with order 1 on the paper's grid (it is the first-order exponential integrator)."""
    p = np.array([[2.0, -1.0, 0.5]])
    x0 = np.random.default_rng(0).standard_normal((4, 3))
    out = ddim_sample(lambda x, t: np.repeat(p, len(x), 0), SCHED, x0)
    np.testing.assert_allclose(out, gaussian_flow(SCHED, p, 0.0, 0.999, 0.001, x0), rtol=1e-13)

    mu, s2, x = 1.5, 0.3, np.array([[0.7]])
    den = gaussian_denoiser(SCHED, mu, s2)
    errors = [
        abs(
            ddim_sample(den, SCHED, x, times=SCHED.time_grid(n))[0, 0]
            - gaussian_flow(SCHED, mu, s2, 0.999, 0.001, 0.7)
        )
        for n in (25, 50, 100, 200)
    ]
    assert np.all(np.abs(observed_orders(errors) - 1.0) < 0.1), errors


# ---------------------------------------------------------------------------------------------
# probability-flow ODE (Heun)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "t_max"), [(VPTrig(), 0.9), (VPLinear(), None), (VEPower(1.0, 2.0), None)]
)
def test_probability_flow_heun_has_order_two(schedule, t_max):
    """Gaussian data N(mu, s2 I): exact denoiser, affine exact flow; global error O(h^2)."""
    mu, s2 = np.array([2.0, -1.0]), 0.25
    x = np.array([[1.0, 0.5], [-2.0, 3.0]])
    den = gaussian_denoiser(schedule, mu, s2)
    errors = []
    for n in (10, 20, 40, 80):
        grid = schedule.time_grid(n, t_max=t_max)
        out = probability_flow_sample(den, schedule, x, times=grid)
        exact = gaussian_flow(schedule, mu, s2, grid[0], grid[-1], x)
        errors.append(np.abs(out - exact).max())
    orders = observed_orders(errors)
    assert np.all(np.abs(orders - 2.0) < 0.1), (errors, orders)
    assert errors[-1] < 1e-3


def test_probability_flow_order_drops_on_the_full_vptrig_grid():
    """Documented: alpha' = -t/sqrt(1 - t^2) is singular at t = 1, so from t_0 = 0.999 Heun's
    observed order falls below 2 (and on the 25-step paper grid DDIM is the more accurate)."""
    mu, s2, x = 2.0, 0.25, np.array([[1.0]])
    den = gaussian_denoiser(SCHED, mu, s2)
    errors = [
        abs(
            probability_flow_sample(den, SCHED, x, times=SCHED.time_grid(n))[0, 0]
            - gaussian_flow(SCHED, mu, s2, 0.999, 0.001, 1.0)
        )
        for n in (25, 50, 100, 200)
    ]
    orders = observed_orders(errors)
    assert np.all((orders > 1.0) & (orders < 1.8)), orders
    ddim_err = abs(ddim_sample(den, SCHED, x)[0, 0] - gaussian_flow(SCHED, mu, s2, 0.999, 0.001, 1))
    assert ddim_err < errors[0] / 5


# ---------------------------------------------------------------------------------------------
# reverse SDE (Euler-Maruyama)
# ---------------------------------------------------------------------------------------------


def _em_gaussian_run(schedule, grid, mu, s2, n, d, seed):
    rng = np.random.default_rng(seed)
    a0, v0 = float(schedule.alpha(grid[0])), float(schedule.sigma2(grid[0]))
    x0 = a0 * mu + math.sqrt(a0**2 * s2 + v0) * rng.standard_normal((n, d))  # exact p_{t_0}
    return euler_maruyama_sample(
        gaussian_denoiser(schedule, mu, s2), schedule, x0, times=grid, rng=rng
    )


@pytest.mark.parametrize(("schedule", "t_max"), [(VPTrig(), 0.9), (VPLinear(), None)])
def test_euler_maruyama_reproduces_gaussian_data(schedule, t_max):
    """Fine grid: the output mean and variance match the data N(mu, s2 I) (z-scores < 4)."""
    mu, s2, n, d = 1.0, 0.5, 5000, 10
    out = _em_gaussian_run(schedule, schedule.time_grid(400, t_max=t_max), mu, s2, n, d, seed=7)
    y = out.ravel()
    z_mean = (y.mean() - mu) / math.sqrt(s2 / y.size)
    z_var = (y.var() / s2 - 1.0) / math.sqrt(2.0 / y.size)
    assert abs(z_mean) < 4 and abs(z_var) < 4, (z_mean, z_var)
    # the coordinates stay uncorrelated (an isotropic target)
    corr = np.corrcoef(out[:, 0], out[:, 1])[0, 1]
    assert abs(corr) < 4 / math.sqrt(n)


def test_euler_maruyama_has_weak_order_one():
    """The weak error of E[x] halves with the step; the tolerance on each observed order comes
    from the Monte Carlo standard errors of the two error estimates."""
    schedule, mu, s2, n, d = VPTrig(), 10.0, 0.5, 2000, 10
    errors, ses = [], []
    for steps in (10, 20, 40, 80):
        grid = schedule.time_grid(steps, t_max=0.9)
        y = _em_gaussian_run(schedule, grid, mu, s2, n, d, seed=steps).ravel()
        errors.append(y.mean() - float(schedule.alpha(grid[-1])) * mu)
        ses.append(y.std() / math.sqrt(y.size))
    errors, ses = np.array(errors), np.array(ses)
    assert np.all(errors > 10 * ses)  # the bias is resolved
    orders = observed_orders(errors)
    rel = ses / errors
    tol = 4 * np.sqrt(rel[:-1] ** 2 + rel[1:] ** 2) / math.log(2) + 0.15  # + pre-asymptotic slack
    assert np.all(np.abs(orders - 1.0) < tol), (errors, orders, tol)


def test_euler_maruyama_is_reproducible_and_uses_rng():
    X = np.random.default_rng(0).standard_normal((5, 3))

    def den(x, t):
        return memorizing_denoiser(x, t, X, SCHED)

    grid = SCHED.time_grid(30, t_max=0.9)
    a = euler_maruyama_sample(den, SCHED, n=4, d=3, times=grid, rng=11)
    b = euler_maruyama_sample(den, SCHED, n=4, d=3, times=grid, rng=np.random.default_rng(11))
    c = euler_maruyama_sample(den, SCHED, n=4, d=3, times=grid, rng=12)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    x0 = np.zeros((4, 3))
    assert not np.allclose(
        euler_maruyama_sample(den, SCHED, x0, times=grid, rng=1),
        euler_maruyama_sample(den, SCHED, x0, times=grid, rng=2),
    )


# ---------------------------------------------------------------------------------------------
# shared behaviour
# ---------------------------------------------------------------------------------------------


class Recorder:
    """A denoiser (the memorizing one) that records its calls."""

    def __init__(self, X):
        self.X, self.calls = X, []

    def __call__(self, x, t):
        self.calls.append((t, x.shape))
        return memorizing_denoiser(x, t, self.X, SCHED)


@pytest.mark.parametrize(
    ("sampler", "evals"),
    [(ddim_sample, "left"), (probability_flow_sample, "both"), (euler_maruyama_sample, "left")],
)
def test_denoiser_calls_are_batched_at_grid_times(sampler, evals):
    X = np.random.default_rng(0).standard_normal((6, 4))
    rec = Recorder(X)
    grid = np.array([0.8, 0.6, 0.3, 0.05])
    sampler(rec, SCHED, n=9, d=4, times=grid, rng=0)
    expected = (
        grid[:-1].tolist()
        if evals == "left"
        else [t for l in range(3) for t in (grid[l], grid[l + 1])]
    )
    assert [t for t, _ in rec.calls] == expected
    assert all(isinstance(t, float) for t, _ in rec.calls)
    assert {shape for _, shape in rec.calls} == {(9, 4)}


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_trajectory_determinism_dtype_and_input_safety(sampler):
    X = np.random.default_rng(0).standard_normal((6, 4))

    def den(x, t):
        return memorizing_denoiser(x, t, X, SCHED)

    grid = SCHED.time_grid(12, t_max=0.9)
    x0 = np.random.default_rng(1).standard_normal((5, 4))
    keep = x0.copy()
    out, traj = sampler(den, SCHED, x0, times=grid, rng=3, return_trajectory=True)
    np.testing.assert_array_equal(x0, keep)  # x_init untouched
    assert traj.shape == (13, 5, 4)
    np.testing.assert_array_equal(traj[0], x0)
    np.testing.assert_array_equal(traj[-1], out)
    np.testing.assert_array_equal(out, sampler(den, SCHED, x0, times=grid, rng=3))
    # a single (d,) state gives a (d,) result
    single = sampler(den, SCHED, x0[0], times=grid, rng=3)
    assert single.shape == (4,)
    # float32 in, float32 out, close to float64
    out32 = sampler(den, SCHED, x0.astype(np.float32), times=grid, rng=3)
    assert out32.dtype == np.float32
    if sampler is not euler_maruyama_sample:  # (the float32 noise stream differs)
        np.testing.assert_allclose(out32, out, atol=1e-4)
    assert sampler(den, SCHED, n=2, d=4, times=grid, rng=0, dtype=np.float32).dtype == np.float32


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_denoiser_returning_its_input_is_safe(sampler):
    """An identity denoiser returns the very array it was given; no in-place update may alias."""
    grid = np.array([0.5, 0.4, 0.2])
    x0 = np.array([[1.0, -2.0]])
    out = sampler(lambda x, t: x, SCHED, x0, times=grid, rng=0)
    ref = sampler(lambda x, t: x.copy(), SCHED, x0, times=grid, rng=0)
    np.testing.assert_array_equal(out, ref)


def test_default_initial_noise_is_standard_normal_on_vp():
    """x_{t_0} ~ N(0, (alpha^2 + sigma^2) I) = N(0, I) on VPTrig (paper's Y_0)."""
    _, traj = ddim_sample(
        lambda x, t: np.zeros_like(x), SCHED, n=4000, d=5, rng=0, return_trajectory=True
    )
    y = traj[0].ravel()
    assert abs(y.mean()) < 4 / math.sqrt(y.size)
    assert abs(y.var() - 1.0) < 4 * math.sqrt(2 / y.size)
    # on OU(lam) it is N(0, alpha^2 + sigma^2) ~ N(0, lam) at large t
    _, traj = ddim_sample(
        lambda x, t: np.zeros_like(x),
        OU(lam=4.0),
        n=4000,
        d=5,
        rng=0,
        times=[8.0, 1.0],
        return_trajectory=True,
    )
    assert abs(traj[0].var() / 4.0 - 1.0) < 4 * math.sqrt(2 / traj[0].size)


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_bad_input_raises_naming_the_argument(sampler):
    den = lambda x, t: x  # noqa: E731
    x0 = np.zeros((2, 3))
    cases = [
        (dict(x_init=x0, times=[0.5, 0.6]), "times"),
        (dict(x_init=x0, times=[0.5]), "times"),
        (dict(x_init=x0, times=[1.0, 0.5]), "times"),
        (dict(x_init=x0, times=[0.5, 0.0]), "times"),
        (dict(x_init=x0, times=[[0.5, 0.2]]), "times"),
        (dict(x_init=np.zeros((1, 2, 3)), rng=0), "x_init"),
        (dict(x_init=np.full((2, 3), np.nan), rng=0), "x_init"),
        (dict(n=2, rng=0), "n and d"),
        (dict(n=0, d=3, rng=0), "n"),
        (dict(x_init=x0, n=5, rng=0), "n=5"),
        (dict(x_init=x0, d=4, rng=0), "d=4"),
        (dict(n=2, d=3), "rng"),
        (dict(x_init=x0, rng=0, dtype=np.int32), "dtype"),
    ]
    for kwargs, word in cases:
        with pytest.raises(ValueError, match=word):
            sampler(den, SCHED, **kwargs)
    with pytest.raises(ValueError, match="times must be given for OU"):
        sampler(den, OU(), x0, rng=0)
    # the message names the shape of x (2, 3) and says that a denoiser must return it
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*denoiser must return"):
        sampler(lambda x, t: x[:, :2], SCHED, x0, rng=0)
    with pytest.raises(ValueError, match="denoiser led to non-finite"):
        sampler(lambda x, t: np.full_like(x, np.nan), SCHED, x0, rng=0)
    with pytest.raises(TypeError, match="denoiser"):
        sampler("not callable", SCHED, x0, rng=0)
    with pytest.raises(TypeError, match="schedule"):
        sampler(den, 1.0, x0, rng=0)
    with pytest.raises(TypeError, match="schedule"):
        sampler(den, "VPTrigg", x0, rng=0)
    with pytest.raises(TypeError, match="rng"):  # ignored with x_init before
        sampler(den, "VPTrig", x0, rng=float("nan"))
    with pytest.raises(ValueError, match="return_trajectory"):
        sampler(den, "VPTrig", x0, rng=0, return_trajectory=float("nan"))
    with pytest.raises(ValueError, match="GiB"):
        sampler(den, "VPTrig", n=2**40, d=2**30, rng=0)
    with pytest.raises(TypeError, match="rng"):
        sampler(den, SCHED, n=2, d=3, rng=1.5)


def test_euler_maruyama_requires_rng_even_with_x_init():
    with pytest.raises(ValueError, match="rng is required"):
        euler_maruyama_sample(lambda x, t: x, SCHED, np.zeros((2, 3)))


def test_is_memorized_flags_ddim_output_of_duplicated_training_point():
    """A sanity link between the modules: duplicated X rows give d1 = d2, never memorized."""
    X = np.repeat(np.random.default_rng(0).standard_normal((1, 4)), 2, axis=0)
    X = np.vstack([X, X + 10.0])
    out = ddim_sample(lambda x, t: memorizing_denoiser(x, t, X, SCHED), SCHED, n=20, d=4, rng=0)
    assert not is_memorized(out, X).any()
