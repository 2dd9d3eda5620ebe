"""audit.models.resolve_model: every form of model spec, its label, and its clear errors."""

from __future__ import annotations

import textwrap

import array_api_strict as xps
import jax
import numpy as np
import pytest

from diffmem_theory import nn
from diffmem_theory.audit.models import resolve_model
from diffmem_theory.core.denoisers import as_denoiser
from diffmem_theory.core.distributions import (
    EmpiricalDistribution,
    GaussianMixture,
    IsotropicGaussianMixture,
)
from diffmem_theory.core.fit import fit_gmm
from diffmem_theory.core.schedules import VPTrig

SCHEDULE = VPTrig()
TRAIN = np.random.default_rng(0).normal(size=(30, 3))
X = 0.6 * TRAIN[:5] + 0.8 * np.random.default_rng(1).normal(size=(5, 3))
T = 0.8


def test_empirical_baseline_is_the_memorizing_denoiser():
    den, label = resolve_model("empirical", TRAIN, SCHEDULE)
    assert isinstance(den.model, EmpiricalDistribution)
    assert np.array_equal(den(X, T), EmpiricalDistribution(TRAIN).denoiser(X, T, SCHEDULE))
    assert label == "empirical (memorizing denoiser of the 30 training points)"


def test_fitted_baselines():
    den, label = resolve_model("gaussian", TRAIN, "VPTrig")
    assert isinstance(den.model, GaussianMixture) and den.model.n_components == 1
    assert label.startswith("gaussian")
    den, label = resolve_model("gmm:3", TRAIN, SCHEDULE, seed=5)
    assert isinstance(den.model, IsotropicGaussianMixture)
    assert np.array_equal(den.model.means, fit_gmm(TRAIN, 3, seed=5).means)
    assert "K = 3" in label and "seed 5" in label


@pytest.mark.parametrize("spec", ["empirical", "gaussian", "gmm:2"])
def test_baselines_refuse_a_prediction(spec):
    with pytest.raises(ValueError, match="prediction must not be given"):
        resolve_model(spec, TRAIN, SCHEDULE, prediction="eps")


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("gmm:x", "needs an integer K >= 1"),
        ("gmm:0", "needs an integer K >= 1"),
        ("gmm:31", "exceeds the 30 training points"),
        ("memorizer", "not a known model or an existing file"),
        ("net.eqx", "not a known model or an existing file"),
        ("model.py", r"needs ':callable'"),
    ],
)
def test_unknown_or_malformed_strings(spec, match):
    with pytest.raises(ValueError, match=match):
        resolve_model(spec, TRAIN, SCHEDULE)


def test_callable_needs_its_unit_and_eps_equals_x0():
    law = IsotropicGaussianMixture(np.zeros((1, 3)), 1.0)

    def x0_model(x, t):
        return law.denoiser(x, t, SCHEDULE)

    def eps_model(x, t):
        return law.denoiser(x, t, SCHEDULE, prediction="eps")

    with pytest.raises(ValueError, match=r"prediction is required.*'x0', 'eps', 'score'"):
        resolve_model(eps_model, TRAIN, SCHEDULE)
    a, label = resolve_model(x0_model, TRAIN, SCHEDULE, prediction="x0")
    b, _ = resolve_model(eps_model, TRAIN, SCHEDULE, prediction="eps")
    assert label == "callable test_callable_needs_its_unit_and_eps_equals_x0.<locals>.x0_model"
    assert np.allclose(a(X, T), b(X, T), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="prediction must be one of"):
        resolve_model(eps_model, TRAIN, SCHEDULE, prediction="noise")


def test_callables_of_other_array_libraries():
    def strict(x, t):
        return 0.5 * xps.asarray(x)

    def jax_model(x, t):
        return 0.5 * jax.numpy.asarray(x)

    for f in (strict, jax_model):
        den, _ = resolve_model(f, TRAIN, SCHEDULE, prediction="x0")
        assert np.allclose(np.asarray(den(X, T)), 0.5 * X)


@pytest.mark.parametrize(
    ("model", "match"),
    [
        (lambda x, t: x[:, :2], r"has shape \(4, 2\) but x has shape \(4, 3\)"),
        (lambda x, t: np.where(x > 0, np.nan, x), "returned NaN or inf on 4 noised"),
        (lambda x, t: [[0.0]], "must return an array shaped like x"),
        (lambda x, t: 1 / 0, "failed when called on 4 noised training points.*ZeroDivision"),
    ],
)
def test_probe_catches_bad_models(model, match):
    with pytest.raises(ValueError, match=match) as err:
        resolve_model(model, TRAIN, SCHEDULE, prediction="eps")
    assert "model callable <lambda>" in str(err.value)


def test_laws_and_denoisers():
    law = IsotropicGaussianMixture(np.zeros((2, 3)), np.array([1.0, 2.0]))
    den, label = resolve_model(law, TRAIN, SCHEDULE)
    assert label == "IsotropicGaussianMixture law"
    assert np.array_equal(den(X, T), law.denoiser(X, T, SCHEDULE))
    bound = as_denoiser(law, SCHEDULE)
    assert resolve_model(bound, TRAIN, SCHEDULE)[0].model is law
    with pytest.raises(ValueError, match="prediction must not be given"):
        resolve_model(law, TRAIN, SCHEDULE, prediction="x0")
    with pytest.raises(ValueError, match="bound to the schedule VPLinear"):
        resolve_model(as_denoiser(law, "VPLinear"), TRAIN, SCHEDULE)
    with pytest.raises(ValueError, match="has dimension 2 but train has dimension 3"):
        resolve_model(IsotropicGaussianMixture(np.zeros((1, 2)), 1.0), TRAIN, SCHEDULE)
    with pytest.raises(TypeError, match="model must be a callable"):
        resolve_model(42, TRAIN, SCHEDULE)


def test_networks_and_saved_networks(tmp_path):
    net = nn.mlp(3, 8, 2, key=jax.random.key(0), prediction="eps")
    den, label = resolve_model(net, TRAIN, SCHEDULE)
    assert den.prediction == "eps" and "network" in label
    resolve_model(net, TRAIN, SCHEDULE, prediction="eps")  # repeating its unit is fine
    with pytest.raises(ValueError, match="which predicts 'eps' itself"):
        resolve_model(net, TRAIN, SCHEDULE, prediction="x0")
    path = tmp_path / "net.eqx"
    nn.save(path, net, schedule=SCHEDULE)
    saved, label = resolve_model(str(path), TRAIN, SCHEDULE)
    assert label == "saved network net.eqx (MLP of width 8, depth 2, eps-prediction)"
    assert np.array_equal(saved(X, T), den(X, T))
    assert resolve_model(path, TRAIN, SCHEDULE)[1] == label  # a PathLike works too
    with pytest.raises(ValueError, match="trained on the schedule VPTrig"):
        resolve_model(str(path), TRAIN, "VPLinear")
    with pytest.raises(ValueError, match="has dimension 3 but train has dimension 2"):
        resolve_model(str(path), TRAIN[:, :2], SCHEDULE)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\0\1\2")
    with pytest.raises(ValueError, match=r"junk\.bin' is not a network saved"):
        resolve_model(str(junk), TRAIN, SCHEDULE)


MODULE = textwrap.dedent(
    """
    import numpy as np

    def shrink(x, t):
        return 0.5 * x

    def make():
        return shrink

    def broken_factory():
        raise RuntimeError("no weights")

    class Model:
        prediction = "x0"

        def __call__(self, x, t):
            return 0.25 * x

    class Holder:
        model = staticmethod(shrink)

    not_a_model = 3
    """
)


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    path = tmp_path / "user_models_f.py"
    path.write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return path


def test_module_callable_specs(user_module):
    for spec in ("user_models_f:shrink", f"{user_module}:shrink", "user_models_f:Holder.model"):
        den, label = resolve_model(spec, TRAIN, SCHEDULE, prediction="x0")
        assert label == spec and np.allclose(den(X, T), 0.5 * X)
    # a zero-argument function is a factory: its result is the model
    den, _ = resolve_model("user_models_f:make", TRAIN, SCHEDULE, prediction="x0")
    assert np.allclose(den(X, T), 0.5 * X)
    # a class is a factory too; its instance declares its unit
    den, _ = resolve_model(f"{user_module}:Model", TRAIN, SCHEDULE)
    assert den.prediction == "x0" and np.allclose(den(X, T), 0.25 * X)


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("no_such_module_f:f", "no module named 'no_such_module_f'"),
        ("user_models_f:missing", "has no attribute 'missing'"),
        ("/nonexistent/dir/m.py:f", "does not exist"),
        ("user_models_f:broken_factory", r"calling the factory broken_factory\(\) failed"),
        ("user_models_f:not_a_model", "model must be a callable"),
        (":f", "got an empty part"),
    ],
)
def test_module_callable_errors(user_module, spec, match):
    with pytest.raises((ValueError, TypeError), match=match):
        resolve_model(spec, TRAIN, SCHEDULE, prediction="x0")


def test_module_that_fails_to_import(tmp_path):
    bad = tmp_path / "bad_module_f.py"
    bad.write_text("raise ImportError('needs torch')\n")
    with pytest.raises(ValueError, match=r"importing .*bad_module_f\.py.* failed: ImportError"):
        resolve_model(f"{bad}:f", TRAIN, SCHEDULE, prediction="x0")


def test_baseline_that_cannot_be_fitted():
    with pytest.raises(ValueError, match="model 'gaussian' cannot be fitted to train: X must hold"):
        resolve_model("gaussian", np.ones((5, 3)), SCHEDULE)
    with pytest.raises(ValueError, match=r"model 'gmm:3' cannot be fitted.*distinct point"):
        resolve_model("gmm:3", np.repeat(TRAIN[:2], 3, axis=0), SCHEDULE)


def test_bad_train_and_schedule():
    with pytest.raises(ValueError, match="train must be finite"):
        resolve_model("empirical", np.full((3, 2), np.nan), SCHEDULE)
    with pytest.raises(TypeError, match="schedule must be"):
        resolve_model("empirical", TRAIN, 3)
