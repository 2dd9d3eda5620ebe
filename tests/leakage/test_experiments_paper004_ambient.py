"""Paper 004 (Shah et al.): the synthetic Fig. 2 / Table 4 analogue ``paper004.ambient``."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from diffmem_theory.core.distributions import IsotropicGaussianMixture
from diffmem_theory.leakage.figures import ambient as exp
from diffmem_theory.registry import get_experiment

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def quick():
    return get_experiment("paper004.ambient").run(quick=True)


def test_algorithm1_memorizes_less_than_ddpm(quick):
    """Fig. 2's claim on the toy: some sigma_tn memorizes less than DDPM (sigma_tn = 0)."""
    mem, near = quick["memorized"][0], quick["within_r"][0]
    assert quick["sigma_tn"][0] == 0.0 and mem.shape == quick["sigma_tn"].shape
    assert mem[0] > mem[1:].min()
    assert near[0] > near[-1]
    assert quick["best_sigma_tn"] > 0.0


def test_quality_is_finite_and_of_the_right_size(quick):
    fd = quick["fd"]
    assert np.all(np.isfinite(fd)) and np.all(fd > 0)
    assert np.all(fd < 1.0)  # the true mixture has total variance ~3; a broken model is far off
    assert quick["fd_training_set"][0] > 0


def test_mixture_moments_against_monte_carlo():
    gmm = IsotropicGaussianMixture(np.array([[2.0, 0.0], [-1.0, 1.0]]), 0.3)
    mean, cov = exp.mixture_moments(gmm)
    X, _ = gmm.sample(200_000, np.random.default_rng(0))
    np.testing.assert_allclose(X.mean(0), mean, atol=4 * np.sqrt(cov.diagonal().max() / 2e5))
    np.testing.assert_allclose(np.cov(X.T), cov, atol=0.03)


def test_plot_builds(quick):
    fig = get_experiment("paper004.ambient").plot(quick)
    assert len(fig.axes) == 2
