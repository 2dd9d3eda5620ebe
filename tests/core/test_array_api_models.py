"""Models of any array-API library in ``core``: solve, the Monte Carlo losses, the metrics.

A JAX model (``jax.numpy``, float32 and float64) and ``array_api_strict`` arrays must give the
samples and losses of the same model written in NumPy, and a model returning something that is
not an array, or an array of the wrong shape, must raise a clear ``TypeError`` / ``ValueError``.
"""

import numpy as np
import pytest
from array_api_compat import array_namespace

from diffmem_theory.core.denoisers import as_denoiser, change_unit, model_output, to_namespace
from diffmem_theory.core.dynamics import METHODS, solve
from diffmem_theory.core.losses import orthogonality_residual, training_losses
from diffmem_theory.core.metrics import is_memorized, memorization_fraction, memorization_ratio
from diffmem_theory.core.schedules import VPTrig, convert_prediction

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
xps = pytest.importorskip("array_api_strict")

SCHED = VPTrig()
X = np.random.default_rng(0).standard_normal((5, 3))
X_T = np.random.default_rng(1).standard_normal((4, 3))
GRID = SCHED.time_grid(30, t_max=0.9)


def memorizing(x, t):
    """The memorizing denoiser (paper 000, eq. (7)) in the namespace and dtype of ``x``."""
    xp = array_namespace(x)
    data = xp.asarray(X, dtype=x.dtype)
    a, s2 = float(SCHED.alpha(t)), float(SCHED.sigma2(t))
    logits = -xp.sum((x[:, None, :] - a * data[None, ...]) ** 2, axis=-1) / (2.0 * s2)
    w = xp.exp(logits - xp.max(logits, axis=1, keepdims=True))
    return (w / xp.sum(w, axis=1, keepdims=True)) @ data


def jax_model(x, t):
    """A JAX model that takes any array (NumPy included) and returns a JAX array."""
    return memorizing(jnp.asarray(x), t)


def strict_model(x, t):
    """A model on ``array_api_strict`` arrays, fed NumPy states by DLPack."""
    return memorizing(xps.from_dlpack(x) if isinstance(x, np.ndarray) else x, t)


def _np(a):
    return np.asarray(to_namespace(a, None))


@pytest.mark.parametrize("method", METHODS)
def test_solve_jax_float64_matches_numpy(method):
    ref = solve(memorizing, SCHED, X_T, GRID, method=method, rng=0, saveat="t_span")
    with jax.enable_x64(True):
        native = solve(memorizing, SCHED, jnp.asarray(X_T), GRID, method=method, rng=0)
        mixed = solve(jax_model, SCHED, X_T, GRID, method=method, rng=0, saveat="t_span")
        assert isinstance(native.final, jax.Array)  # the state stays in x_T's library
        assert native.final.dtype == jnp.float64
    assert isinstance(mixed.final, np.ndarray)  # a NumPy state: JAX outputs read by DLPack
    np.testing.assert_allclose(_np(native.final), ref.final, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mixed.x, ref.x, rtol=1e-12, atol=1e-12)
    assert np.array_equal(native.nfev, ref.nfev)


@pytest.mark.parametrize("method", ["ddim", "heun", "rk4", "euler_maruyama"])
def test_solve_jax_float32_matches_numpy_float32(method):
    x32 = X_T.astype(np.float32)
    ref = solve(memorizing, SCHED, x32, GRID, method=method, rng=0).final
    out = solve(memorizing, SCHED, jnp.asarray(x32), GRID, method=method, rng=0).final
    assert out.dtype == jnp.float32 and ref.dtype == np.float32
    # float32 rounding through 29 steps of a memorizing flow; the samples are O(1)
    np.testing.assert_allclose(_np(out), ref, rtol=0, atol=1e-4)


@pytest.mark.parametrize("method", METHODS)
def test_solve_array_api_strict_state_matches_numpy(method):
    ref = solve(memorizing, SCHED, X_T, GRID, method=method, rng=0, saveat="t_span")
    out = solve(memorizing, SCHED, xps.asarray(X_T), GRID, method=method, rng=0, saveat="t_span")
    assert array_namespace(out.final) is array_namespace(xps.asarray(1.0))
    np.testing.assert_allclose(_np(out.x), ref.x, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("unit", ["eps", "score", "v", "velocity"])
def test_solve_model_in_other_units_in_its_namespace(unit):
    eps_np = as_denoiser(memorizing, SCHED)
    ref = solve(lambda x, t: eps_np.predict(x, t, unit), SCHED, X_T, GRID, prediction=unit)
    den = as_denoiser(memorizing, SCHED)
    out = solve(
        lambda x, t: den.predict(x, t, unit), SCHED, xps.asarray(X_T), GRID, prediction=unit
    )
    np.testing.assert_allclose(_np(out.final), ref.final, rtol=1e-12, atol=1e-12)


def test_change_unit_equals_convert_prediction_bitwise_on_numpy():
    x = X_T
    pred = memorizing(x, 0.4)
    times = np.array([0.2, 0.4, 0.6, 0.8])
    for src in ("x0", "eps", "score", "v", "velocity"):
        for tgt in ("x0", "eps", "score", "v", "velocity"):
            for t in (0.4, times):
                p = convert_prediction(pred, x, t, SCHED, "x0", src)
                want = convert_prediction(p, x, t, SCHED, src, tgt)
                got = change_unit(p, x, t, SCHED, src, tgt)
                assert np.array_equal(got, want), (src, tgt)
                strict = change_unit(xps.asarray(p), xps.asarray(x), t, SCHED, src, tgt)
                assert np.array_equal(_np(strict), want), (src, tgt)
    with pytest.raises(ValueError, match="rows of x"):
        change_unit(pred, x, times[:3], SCHED, "x0", "eps")


def test_denoiser_predict_converts_in_the_model_namespace():
    eps_model = as_denoiser(lambda x, t: 0.5 * x, SCHED, prediction="eps")  # t per row
    x = xps.asarray(X_T)
    out = eps_model.predict(x, xps.asarray([0.2, 0.4, 0.6, 0.8]), "score")
    assert array_namespace(out) is array_namespace(x)
    want = eps_model.predict(X_T, np.array([0.2, 0.4, 0.6, 0.8]), "score")
    assert np.array_equal(_np(out), want)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_losses_of_a_jax_model_match_numpy(dtype):
    ref = training_losses({"m": memorizing}, X, [0.2, 0.5], SCHED, n_noise=7, seed=3)["m"]
    if dtype == "float64":
        with jax.enable_x64(True):
            est = training_losses({"m": jax_model}, X, [0.2, 0.5], SCHED, n_noise=7, seed=3)["m"]
        np.testing.assert_allclose(est.draws, ref.draws, rtol=1e-12, atol=1e-14)
    else:
        f32 = lambda x, t: memorizing(jnp.asarray(x, dtype=jnp.float32), t)  # noqa: E731
        est = training_losses({"m": f32}, X, [0.2, 0.5], SCHED, n_noise=7, seed=3)["m"]
        # float32 predictions of O(1) values: squared errors within ~1e-6 absolute
        np.testing.assert_allclose(est.draws, ref.draws, rtol=1e-4, atol=1e-5)
    assert (est - ref).noise_key == ref.noise_key


def test_losses_of_an_array_api_strict_model_match_numpy():
    ref = orthogonality_residual(memorizing, X, [0.3, 0.7], SCHED, n_noise=5, seed=1)
    est = orthogonality_residual(strict_model, X, [0.3, 0.7], SCHED, n_noise=5, seed=1)
    np.testing.assert_allclose(est.draws, ref.draws, rtol=1e-12, atol=1e-14)


def test_metrics_take_samples_of_any_library():
    samples = np.vstack([X[:2] + 1e-3, X[2:4] * 3.0])
    want = is_memorized(samples, X)
    with jax.enable_x64(True):
        assert np.array_equal(is_memorized(jnp.asarray(samples), jnp.asarray(X)), want)
    assert memorization_ratio(xps.asarray(samples), X) == memorization_ratio(samples, X)
    assert memorization_fraction(xps.asarray(samples), xps.asarray(X), 0.1) == (
        memorization_fraction(samples, X, 0.1)
    )


def test_jax_output_crosses_to_numpy_without_a_copy():
    a = jnp.arange(6.0).reshape(2, 3)
    out = to_namespace(a, np.zeros((2, 3)))
    assert isinstance(out, np.ndarray)
    assert out.ctypes.data == a.unsafe_buffer_pointer()  # the same memory (DLPack)
    same = np.ones(3)
    assert to_namespace(same, np.zeros(3)) is same


@pytest.mark.parametrize(
    "bad, error, match",
    [
        (lambda x, t: np.asarray(x).tolist(), TypeError, "array-API library"),
        (lambda x, t: None, TypeError, "NoneType"),
        (lambda x, t: jnp.asarray(_np(x))[:, :2], ValueError, r"shape \(4, 2\) but x has shape"),
        (lambda x, t: jnp.asarray(_np(x))[0], ValueError, r"shape \(3,\)"),
    ],
)
def test_bad_model_outputs_raise(bad, error, match):
    for method in ("ddim", "heun", "dopri5", "euler_maruyama"):
        with pytest.raises(error, match=match):
            solve(bad, SCHED, X_T, GRID, method=method, rng=0)
    with pytest.raises(error, match=match):
        solve(bad, SCHED, xps.asarray(X_T), GRID)
    with pytest.raises(error, match=match):
        as_denoiser(bad, SCHED, prediction="eps").predict(X_T, 0.5, "x0")
    with pytest.raises(error, match=match):
        training_losses({"bad": bad}, X[:4], 0.5, SCHED, n_noise=1)
    with pytest.raises(TypeError, match="array-API library"):
        model_output(3.0, X_T)


def test_bad_states_of_another_library_raise():
    with pytest.raises(ValueError, match="x_T must have shape"):
        solve(memorizing, SCHED, jnp.ones((2, 3, 1)), GRID)
    with pytest.raises(ValueError, match="x_T must have shape"):
        solve(memorizing, SCHED, xps.ones((0, 3)), GRID)
    with pytest.raises(TypeError, match="x_T must hold real floating"):
        solve(memorizing, SCHED, jnp.ones((2, 3), dtype=jnp.int32), GRID)
    with pytest.raises(ValueError, match="x_T must be finite"):
        solve(memorizing, SCHED, xps.asarray([[0.0, float("nan"), 0.0]]), GRID)
    with pytest.raises(ValueError, match="non-finite"):
        solve(lambda x, t: x * float("nan"), SCHED, xps.asarray(X_T), GRID, method="ddim")


@pytest.mark.parametrize("method", METHODS)
def test_the_model_receives_the_library_of_x_T(method):
    seen = set()

    def model(x, t):
        seen.add(type(x).__name__)
        assert isinstance(t, float)
        return memorizing(x, t)

    with jax.enable_x64(True):
        sol = solve(model, SCHED, jnp.asarray(X_T), GRID, method=method, rng=0, saveat="t_span")
    assert seen == {"ArrayImpl"}  # JAX arrays at every evaluation, dopri5 included
    assert isinstance(sol.x, jax.Array) and sol.x.shape == (4, len(GRID), 3)


def test_an_explicit_backend_keeps_the_numpy_state():
    with jax.enable_x64(True):
        sol = solve(memorizing, SCHED, jnp.asarray(X_T), GRID, method="ddim", backend="numpy")
    assert isinstance(sol.final, np.ndarray)
    ref = solve(memorizing, SCHED, X_T, GRID, method="ddim")
    assert np.array_equal(sol.final, ref.final)
