"""Experiment ``paper004.leakage`` (Shah et al., Lemma 4.2): the quick run's science and plot."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest

from diffmem_theory.registry import get_experiment

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def result():
    return get_experiment("paper004.leakage").run(quick=True, seed=0)


def test_reference_values(result):
    ref = result["reference"]
    assert ref["ambient"] == pytest.approx(math.log(2.0), abs=1e-12)
    assert ref["exact"] == pytest.approx(0.5 * math.log(31.0), abs=1e-12)
    assert ref["printed"] == pytest.approx(10 * math.log(2.0), abs=1e-12)


def test_leakage_ordering_and_printed_bound(result):
    amb, exact, printed = result["ambient"], result["exact"], result["printed"]
    m = result["m"][:, None]
    assert np.all(amb <= exact + 1e-12) and np.all(exact <= printed + 1e-12)
    assert np.all(exact - amb <= 0.5 * np.log(m) + 1e-12)
    assert np.all(np.diff(amb) < 0) and np.all(np.diff(exact, axis=1) < 0)
    ratio = exact[-1] / amb  # m = 100: -> 1 at low noise, -> m only near sigma_tn = 1
    assert ratio[0] < 2 and ratio[-1] > 50 and np.all(np.diff(ratio) > 0)


def test_monte_carlo_within_three_standard_errors(result):
    for model in ("ambient", "ddpm"):
        est = result["mc"][model]
        assert np.all(np.abs(est[:, 0] - result["mc_exact"][model]) < 3 * est[:, 1])


def test_mmse_decreases_like_one_over_m_for_ddpm_only(result):
    m, ddpm, amb = result["mmse_m"], result["mmse_ddpm"], result["mmse_ambient"]
    assert np.all(np.diff(ddpm) < 0) and np.ptp(amb) == 0.0
    assert m[-1] * ddpm[-1] == pytest.approx(1 / 3, rel=1e-2)  # m mmse -> 1/SNR, SNR = 3


def test_plot_builds(result):
    fig = get_experiment("paper004.leakage").plot(result)
    assert len(fig.axes) == 3
    matplotlib.pyplot.close(fig)
