"""Paper 002 (Baptista et al.): Figs. 1-7, 19, 20 -- science, tables and plots."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from diffmem_theory.core.metrics import memorization_fraction
from diffmem_theory.registry import get_experiment
from diffmem_theory.voronoi import regularized as sweeps
from diffmem_theory.voronoi.data import SCHEDULES, SEED1_DATA
from diffmem_theory.voronoi.figures import regularized as reg
from diffmem_theory.voronoi.figures import trajectories as traj
from diffmem_theory.voronoi.geometry import d_minus, d_plus, x_inf

matplotlib.use("Agg")

NAMES = ("fig1", "fig2", "fig3", "fig4", "fig5", "fig6", "fig7", "fig19", "fig20")


def test_data_set_and_schedules_are_the_papers():
    """Sec. 4.4 / App. C.2: the seed-1 data, its constants, sigma_VE(1) and s_0 (VE and VP)."""
    np.testing.assert_allclose(SEED1_DATA[0], [1.624345, -0.611756], atol=1e-6)
    np.testing.assert_allclose(SEED1_DATA[-1], [1.659802, 0.742044], atol=1e-6)
    assert round(d_minus(SEED1_DATA), 7) == 0.0762083
    assert round(d_plus(SEED1_DATA), 7) == 4.1035017
    assert round(x_inf(SEED1_DATA), 7) == 2.5262501
    ve, vp = SCHEDULES["VE"], SCHEDULES["VP"]
    assert round(float(ve.sigma(1.0)), 6) == 4.636548
    assert round(float(ve.s_time(1.0)), 6) == -1.53397
    assert round(float(vp.sigma(1.0)), 6) == 0.881465
    assert round(float(vp.alpha(1.0)), 6) == 0.472248
    assert round(float(vp.s_time(1.0)), 6) == 0.126169


@pytest.mark.parametrize("name", ["fig1", "fig19"])
def test_trajectories_end_at_data(name):
    r = get_experiment(f"paper002.{name}").run(quick=True)
    assert r["fraction_at_data"] >= 0.998
    assert r["x"].shape[0] == traj.N_TRAJ
    np.testing.assert_allclose(r["distance"][:, -1], 0.0, atol=3 * r["t"][-1] ** 0.5)


@pytest.mark.parametrize("name", ["fig2", "fig20"])
def test_rates_are_sigma(name):
    """Thm 4.3: slope 1.00 +- 0.02 vs log sigma; VE slope vs log t is 0.5 (sigma^2 ~ t)."""
    r = get_experiment(f"paper002.{name}").run(quick=True)
    assert abs(r["slope_sigma_median"] - 1.0) <= 0.02
    assert r["max_ratio"] < 4.0
    if name == "fig2":
        assert abs(r["slope_t_median"] - 0.5) <= 0.02


def test_fig3_boundary_limits():
    r = get_experiment("paper002.fig3").run(quick=True)
    assert r["n_origin"] == 2 and r["n_local_average"] == 4
    assert np.sum(r["kind_2"] == "data") == 78 and np.sum(r["kind_4"] == "data") == 76


@pytest.mark.parametrize(("name", "table"), [("fig5", reg.TIKHONOV_TABLE), ("fig7", reg.EB_TABLE)])
def test_tables_match_within_004(name, table):
    """Secs. 5.1-5.2, three seeds (full mode): every fraction within +-0.04 of the reference
    tables (an independent SciPy RK45 reimplementation, see ``voronoi.regularized``)."""
    r = get_experiment(f"paper002.{name}").run(quick=False)
    assert r["fraction"].shape == (3, len(table))
    assert r["within_table"].all() and r["monotone"]


def test_tikhonov_median_distance_scales_like_sqrt_c():
    """Sec. 5.1: the Tikhonov flow stops at s = -ln(c)/2, where the distance to the data is
    O(sqrt(c)); on the 20 points the median distance is 1.1-1.2 sqrt(c) for c <= 1e-3."""
    r = get_experiment("paper002.fig5").run(quick=True)
    small = r["c"] <= 1e-3
    ratio = r["median_distance"][0, small] / np.sqrt(r["c"][small])
    assert np.all((ratio > 1.0) & (ratio < 1.3))


@pytest.mark.parametrize("name", ["fig4", "fig6"])
def test_scatter_collapse_decreases_with_c(name):
    r = get_experiment(f"paper002.{name}").run(quick=True)
    assert r["samples"].shape == (3, reg.N_SCATTER, 2)
    frac = [memorization_fraction(x, SEED1_DATA, 1e-2) for x in r["samples"]]
    assert frac[0] >= frac[1] >= frac[2] and frac[0] - frac[2] > 0.3


@pytest.mark.parametrize("name", NAMES)
def test_plots(name):
    spec = get_experiment(f"paper002.{name}")
    fig = spec.plot(spec.run(quick=True))
    assert len(fig.get_axes()) >= 1
    matplotlib.pyplot.close(fig)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: sweeps.regularized_samples("ridge", 1e-3, 10, 0), "score must be one of"),
        (lambda: sweeps.regularized_samples("eb", 1e-3, 0, 0), "n must be"),
        (lambda: sweeps.regularized_samples("eb", 1e-3, 10, -1), "seed must be"),
        (lambda: sweeps.regularized_samples("eb", -1.0, 10, 0), "c must be"),
        (lambda: sweeps.regularization_sweep("eb", sweeps.EB_TABLE, "yes", 0), "quick"),
    ],
)
def test_regularized_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
