"""The Gaussian and Gaussian-mixture fits of ``core.fit`` (the audit's generalizing baselines)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from diffmem_theory.core import fit
from diffmem_theory.core.distributions import (
    GaussianMixture,
    IsotropicGaussianMixture,
)
from diffmem_theory.core.fit import ConvergenceWarning, fit_gaussian, fit_gmm


def _known_mixture() -> tuple[IsotropicGaussianMixture, np.ndarray]:
    means = np.zeros((3, 5))
    means[0, 0], means[1, 1], means[2, 2] = 12.0, 12.0, 12.0
    law = IsotropicGaussianMixture(means, np.array([1.0, 0.25, 4.0]), np.array([0.5, 0.3, 0.2]))
    X, _ = law.sample(4000, 0)
    return law, X


def test_recovers_a_well_separated_mixture_within_standard_errors():
    true, X = _known_mixture()
    law = fit_gmm(X, 3, seed=1)
    n, d = X.shape
    match = np.argmin(
        ((law.means[:, None, :] - true.means[None, :, :]) ** 2).sum(-1), axis=1
    )  # fitted component -> true component
    assert sorted(match.tolist()) == [0, 1, 2]
    for k, j in enumerate(match):
        n_k = n * true.weights[j]
        s2 = true.var[j]
        # mean: SE sqrt(s^2 / N_k) per coordinate; variance: SE s^2 sqrt(2 / (d N_k))
        assert np.all(np.abs(law.means[k] - true.means[j]) < 4 * np.sqrt(s2 / n_k))
        assert abs(law.var[k] - s2) < 4 * s2 * np.sqrt(2.0 / (d * n_k))
        p = true.weights[j]
        assert abs(law.weights[k] - p) < 4 * np.sqrt(p * (1 - p) / n)


def test_log_likelihood_never_decreases():
    rng = np.random.default_rng(3)
    X = np.concatenate([rng.normal(size=(150, 4)), rng.normal(size=(150, 4)) + 1.5])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _, info = fit_gmm(X, 6, seed=2, return_info=True, max_iter=100, tol=0.0)
    assert info.reseeded == ()
    steps = np.diff(info.log_likelihood)
    assert info.n_iter == steps.size and info.n_iter > 20
    assert np.all(steps >= -1e-12 * np.abs(info.log_likelihood[1:]))
    assert steps.sum() > 0


def test_one_component_is_the_isotropic_gaussian_fit_bit_for_bit():
    X = np.random.default_rng(5).normal(size=(300, 7)) * np.arange(1, 8)
    gmm, info = fit_gmm(X, 1, seed=4, return_info=True)
    gauss = fit_gaussian(X, covariance="isotropic")
    assert info.converged and info.n_iter == 1
    for field in ("means", "var", "weights"):
        assert np.array_equal(getattr(gmm, field), getattr(gauss, field))
    assert np.allclose(gauss.means[0], X.mean(axis=0), rtol=0, atol=1e-12)
    assert gauss.var[0] == pytest.approx(X.var(axis=0).mean(), rel=1e-12)


def test_full_gaussian_fit_is_the_sample_covariance_shifted_to_positive_definite():
    X = np.random.default_rng(6).normal(size=(400, 3)) @ np.array(
        [[2.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.5, 0.3]]
    )
    law = fit_gaussian(X)
    assert isinstance(law, GaussianMixture) and law.n_components == 1
    shift = 1e-6 * X.var(axis=0).mean() * np.eye(3)
    assert np.allclose(law.covs[0], np.cov(X.T, bias=True) + shift, rtol=1e-12, atol=1e-12)
    # N <= d: the sample covariance is singular; the fit is positive definite with floor c
    few = np.random.default_rng(7).normal(size=(4, 10))
    wide = fit_gaussian(few, reg=1e-3)
    lam = np.linalg.eigvalsh(wide.covs[0])
    floor = 1e-3 * few.var(axis=0).mean()
    assert lam.min() == pytest.approx(floor, rel=1e-9)
    assert np.sum(lam > 2 * floor) == 3  # rank N - 1 of S kept
    np.linalg.cholesky(wide.covs[0])


def test_fits_give_working_denoisers():
    _, X = _known_mixture()
    x = X[:5]
    for law in (fit_gaussian(X), fit_gaussian(X, covariance="isotropic"), fit_gmm(X, 3)):
        out = law.denoiser(x, 0.5, "VPTrig")
        assert out.shape == x.shape and np.all(np.isfinite(out))


def test_empty_component_is_reseeded(monkeypatch):
    # a component below the emptiness threshold is moved onto the worst-explained point
    rng = np.random.default_rng(8)
    X = np.concatenate([rng.normal(size=(100, 2)), rng.normal(size=(3, 2)) * 0.1 + 30.0])
    monkeypatch.setattr(fit, "_EMPTY", 5.0)
    with pytest.warns(ConvergenceWarning, match="max_iter = 3"):
        law, info = fit_gmm(X, 2, seed=0, max_iter=3, return_info=True)
    assert info.reseeded == (1, 2, 3) and not info.converged
    assert np.all(law.weights > 0) and law.weights.sum() == pytest.approx(1.0)
    assert np.all(np.isfinite(law.means)) and np.all(law.var > 0)


def test_same_seed_same_bits_and_seed_matters():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(200, 3)) + 3 * rng.integers(0, 4, size=(200, 1))
    a, b = fit_gmm(X, 4, seed=11), fit_gmm(X, 4, seed=11)
    assert np.array_equal(a.means, b.means) and np.array_equal(a.var, b.var)
    c = fit_gmm(X, 4, seed=np.random.default_rng(12))
    assert c.n_components == 4


_THREAD_SCRIPT = r"""
import hashlib, json
import numpy as np
from diffmem_theory.core.fit import fit_gaussian, fit_gmm
rng = np.random.default_rng(0)
X = rng.normal(size=(3000, 160)) + 0.5 * rng.integers(0, 5, size=(3000, 1))
law = fit_gmm(X, 5, seed=0)
full = fit_gaussian(X)
h = hashlib.sha256()
for a in (law.means, law.var, law.weights, full.means, full.covs):
    h.update(np.ascontiguousarray(a).tobytes())
print(json.dumps(h.hexdigest()))
"""


def test_bit_identical_for_any_thread_count():
    found = set()
    for n in (1, 2, 4):
        env = {
            **os.environ,
            **{
                key: str(n)
                for key in (
                    "OPENBLAS_NUM_THREADS",
                    "OMP_NUM_THREADS",
                    "MKL_NUM_THREADS",
                    "NUMBA_NUM_THREADS",
                )
            },
        }
        run = subprocess.run(
            [sys.executable, "-c", _THREAD_SCRIPT], env=env, capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        found.add(json.loads(run.stdout.strip().splitlines()[-1]))
    assert len(found) == 1


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda X: fit_gmm(X, 0), "K must be >= 1"),
        (lambda X: fit_gmm(X, 11), "K must be <= the number of points N = 10"),
        (lambda X: fit_gmm(X, 2.0), "K must be an integer"),
        (lambda X: fit_gmm(np.where(X > 1, np.nan, X), 2), "X must be finite"),
        (lambda X: fit_gmm(np.ones((10, 3)), 2), "X must hold at least two distinct"),
        (lambda X: fit_gmm(np.repeat(X[:2], 5, axis=0), 3), "K must be at most the number"),
        (lambda X: fit_gmm(X, 2, max_iter=0), "max_iter must be >= 1"),
        (lambda X: fit_gmm(X, 2, tol=-1.0), "tol must be >= 0"),
        (lambda X: fit_gmm(X, 2, reg=0.0), "reg must be > 0"),
        (lambda X: fit_gmm(X[0], 1), "X must have 2 dimension"),
        (lambda X: fit_gaussian(X, covariance="diag"), "covariance must be one of"),
        (lambda X: fit_gaussian(np.full((3, 2), np.inf)), "X must be finite"),
        (lambda X: fit_gaussian(X[:1]), "X must hold at least two distinct"),
    ],
)
def test_bad_input_names_the_argument(call, match):
    X = np.random.default_rng(10).normal(size=(10, 3))
    with pytest.raises(ValueError, match=match):
        call(X)


def test_seed_of_the_wrong_kind_is_a_type_error():
    with pytest.raises(TypeError, match="seed must be"):
        fit_gmm(np.random.default_rng(0).normal(size=(10, 2)), 2, seed="zero")
