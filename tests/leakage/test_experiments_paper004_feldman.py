"""paper004.separation and paper004.feldman (Shah et al., Sec. 4.2 / App. B): science and plots."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from diffmem_theory.leakage.feldman import sigma_merge
from diffmem_theory.registry import get_experiment

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def separation():
    return get_experiment("paper004.separation").run(quick=True)


@pytest.fixture(scope="module")
def feldman():
    return get_experiment("paper004.feldman").run(quick=True)


def test_separation_thresholds(separation):
    r = separation
    assert np.all(r["printed_merge_fails"]) and np.all(r["printed_sep_holds"])
    assert np.all(r["merge_exact"] > r["merge_paper"])
    assert np.all(r["sep_exact"] >= r["sep_paper"])
    np.testing.assert_allclose(r["merge_exact"], sigma_merge(r["eps"], r["C"]))
    excess = r["merge_excess"]
    assert np.all(np.diff(excess) > 0)  # the erratum grows with C
    assert excess[0] < 1e-8 and excess[-1] > 0.4
    assert np.all(np.diff(r["tv_over_C"], axis=1) <= 0)  # TV falls as sigma grows


def test_feldman_zipf_tau1_order_one_over_n(feldman):
    for n, z in zip(feldman["n"], feldman["zipf"], strict=True):
        assert np.all(z["n_tau1"] >= z["n_b4"])  # Lemma B.4
        wide = z["ratio"] >= 1.0
        assert np.all((z["n_tau1"][wide] > 0.2) & (z["n_tau1"][wide] < 1.0)), n
        assert np.all(z["weight"][wide] > 0.05)  # eq. (7): heavy-tailed for N >= n


def test_feldman_merging_extension(feldman):
    g = feldman["gmm"]
    assert np.all(np.diff(g["n_components"]) <= 0)
    assert g["weight"][-1] < 0.1 * g["weight"][0]
    assert g["singleton_mass"][-1] < 0.1 * g["singleton_mass"][0]
    finite = np.isfinite(g["tau1"])
    assert np.nanmax(g["n_tau1"]) > 1.3 * g["n_tau1"][0]  # tau_1 itself is not monotone
    assert finite[0]


@pytest.mark.parametrize("name", ["paper004.separation", "paper004.feldman"])
def test_plots_build(name, separation, feldman):
    result = separation if name.endswith("separation") else feldman
    fig = get_experiment(name).plot(result)
    assert len(fig.axes) == 2
    matplotlib.pyplot.close(fig)
