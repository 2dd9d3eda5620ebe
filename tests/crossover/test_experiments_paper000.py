"""Paper 000 experiments ``paper000.fig1`` and ``paper000.crossover_theory`` (quick mode).

The science asserted: Thm 3.1 (generalizing excess ``d t^2``), Thm 3.2 (``1 <= C_emp <= 2`` when
every cluster is covered, independent of ``t``), eq. (14) (crossover ratios), and that the
figures render and the CLI writes them.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from diffmem_theory.cli import main
from diffmem_theory.core.schedules import VPTrig
from diffmem_theory.registry import get_experiment

GRID = VPTrig().time_grid()


@pytest.fixture(scope="module")
def fig1():
    return get_experiment("paper000.fig1").run(quick=True, seed=0)


@pytest.fixture(scope="module")
def theory():
    return get_experiment("paper000.crossover_theory").run(quick=True)


# ------------------------------------------------------------------------------------------------
# paper000.fig1: Monte Carlo
# ------------------------------------------------------------------------------------------------


def test_fig1_setting(fig1):
    assert (fig1["d"], fig1["K"], fig1["N"], fig1["C"]) == (50, 12, 200, 2.0)
    np.testing.assert_array_equal(fig1["M"], np.arange(20, 201, 20))
    np.testing.assert_allclose(fig1["times"], GRID[[23, 20, 16, 10, 5]])
    j16 = fig1["j16"]
    assert fig1["times"][j16] == pytest.approx(0.36028, abs=1e-12)
    assert fig1["psi"][j16] == pytest.approx(6.70406, abs=1e-5)
    assert fig1["loss_pmem"].shape == fig1["excess_pmem"].shape == (10, 5)


def test_generalizing_excess_is_d_t2_at_t16(fig1):
    """Thm 3.1: L(xbar_*) - L(xbar_mem) ~ d s2/(psi s2 + 1) = 50 t^2 = 6.4901 at t_16."""
    j16 = fig1["j16"]
    ref = 50 * 0.36028**2
    assert fig1["excess_gen_theory"][j16] == pytest.approx(ref, rel=1e-12)
    value, se = fig1["excess_gen"][j16], fig1["stderr_excess_gen"][j16]
    assert abs(value - ref) <= max(0.02 * ref, 4 * se)
    # common random numbers: the difference is far more precise than 2% of the value
    assert 0 < se < 0.005 * ref


def test_generalizing_excess_at_every_high_snr_time(fig1):
    """Thm 3.1 within 2% wherever psi_t >~ 1 (t <= 0.6); it degrades as t -> 1 (psi_t -> 0)."""
    t = fig1["times"]
    np.testing.assert_allclose(fig1["excess_gen_theory"], 50 * t**2, rtol=1e-12)
    high = fig1["psi"] >= 1.0
    assert high.sum() == 4
    np.testing.assert_allclose(fig1["excess_gen"][high], 50 * t[high] ** 2, rtol=0.02)
    # L_mem vanishes at high SNR and is small but positive at t = 0.8 (we measured 0.18)
    assert np.all(fig1["loss_mem"][high] < 1e-6)
    assert 0.05 < fig1["loss_mem"][~high][0] < 0.4


def test_empirical_constant_in_theorem_range_when_clusters_covered(fig1):
    """Thm 3.2: 1 <= C_emp <= 2 (+ MC slack 0.1) where every cluster has a memorized point."""
    covered = fig1["C_emp_covered"]
    assert covered.sum() >= 7  # M >= 40 covers all 12 clusters for this seed
    c_emp = fig1["C_emp"][covered]
    assert np.all((c_emp >= 0.9) & (c_emp <= 2.1))
    # ... and not trivially: it lies strictly inside, well away from both ends (1.4-2.0)
    assert 1.3 < c_emp.min() and c_emp.max() < 2.0


def test_empirical_constant_does_not_depend_on_t(fig1):
    """Thm 3.2's excess is t-independent: C_emp agrees across t = 0.08 ... 0.80."""
    covered = fig1["C_emp_covered"]
    spread = np.ptp(fig1["C_emp"][covered], axis=1)
    assert spread.max() < 0.1
    # it does depend on M (decreasing from about 2 to about 1.5)
    j16 = fig1["j16"]
    assert np.ptp(fig1["C_emp"][covered, j16]) > 0.2


def test_empirical_constant_near_reference_values(fig1):
    """Our Monte Carlo reference: C_emp ~ 1.50 (M = 100), 1.44 (M = 160), one data seed.

    +-0.15 across seeds.
    """
    j16 = fig1["j16"]
    for m, ref in ((100, 1.50), (160, 1.44)):
        i = int(np.flatnonzero(fig1["C_emp_M"] == m)[0])
        assert abs(fig1["C_emp"][i, j16] - ref) < 0.15


def test_empirical_constant_matches_its_definition(fig1):
    m, n, d = fig1["C_emp_M"], fig1["N"], fig1["d"]
    rows = fig1["M"] < n
    expected = (fig1["loss_pmem"][rows] - fig1["loss_mem"]) / ((1 - m / n)[:, None] * d)
    np.testing.assert_allclose(fig1["C_emp"], expected, rtol=1e-9)


def test_pmem_loss_decreases_in_M(fig1):
    assert np.all(np.diff(fig1["loss_pmem"], axis=0) < 0)


def test_pmem_with_M_equal_N_is_mem(fig1):
    np.testing.assert_allclose(fig1["loss_pmem"][-1], fig1["loss_mem"], rtol=1e-9, atol=1e-12)
    assert np.all(np.abs(fig1["excess_pmem"][-1]) < 1e-9)


def test_approximations_and_crossover_at_t16(fig1):
    """Fig. 1: L_mem + C(1 - M/N) d and L_mem + d t^2 (C = 2); M_*/N = 1 - t^2/C."""
    j16, t = fig1["j16"], 0.36028
    lm = fig1["loss_mem"][j16]
    np.testing.assert_allclose(
        fig1["approx_pmem"][:, j16], lm + 2 * (1 - fig1["ratio"]) * 50, rtol=1e-12
    )
    assert fig1["approx_gen"][j16] == pytest.approx(lm + 50 * t**2, rel=1e-12)
    assert fig1["crossover_pred"][j16] == pytest.approx(1 - t**2 / 2, abs=1e-12)
    # C_emp < 2 moves the MC crossover below the C = 2 prediction, but not below C = 1's
    emp = fig1["crossover_emp"][j16]
    assert 1 - t**2 - 0.01 < emp < fig1["crossover_pred"][j16]
    # the MC crossover is where pmem - gen changes sign
    diff, ratio = fig1["pmem_minus_gen"][:, j16], fig1["ratio"]
    assert diff[ratio < emp].min() > 0 > diff[ratio > emp].max()


def test_crossover_moves_down_as_t_grows(fig1):
    """A larger t means a larger gen excess t^2, hence an earlier crossover (1 - t^2/C)."""
    assert np.all(np.diff(fig1["crossover_pred"]) < 0)
    assert np.all(np.diff(fig1["crossover_emp"]) < 0)


def test_fig1_is_reproducible():
    a = get_experiment("paper000.fig1").run(quick=True, seed=3)
    b = get_experiment("paper000.fig1").run(quick=True, seed=3)
    np.testing.assert_array_equal(a["loss_pmem"], b["loss_pmem"])


# ------------------------------------------------------------------------------------------------
# paper000.crossover_theory: closed forms
# ------------------------------------------------------------------------------------------------


def test_theory_reference_crossovers(theory):
    """Eq. (14) on the grid: lambda = 1: 0.83018 (C = 2), 0.66036 (C = 1); lambda = psi: ~1.

    For lambda = 1 the ratio is 1 - mean_l(t_l^2)/C with mean_l t_l^2 = 0.33964.
    """
    assert theory["ratio_grid"]["x0"] == pytest.approx(0.83018, abs=1e-5)
    c = theory["C_values"]
    assert c[0] == 1.0 and c[-1] == 2.0
    assert theory["ratio_grid_C"]["x0"][0] == pytest.approx(0.66036, abs=1e-5)
    assert theory["ratio_grid_C"]["x0"][-1] == pytest.approx(0.83018, abs=1e-5)
    assert theory["ratio_grid"]["eps"] == pytest.approx(0.9999914, abs=1e-6)
    assert theory["ratio_grid_C"]["eps"][0] == pytest.approx(0.9999828, abs=1e-6)
    # continuous t: 1 - 1/(3C) for lambda = 1; exactly 1 for non-integrable psi and v = 1/t^2
    np.testing.assert_allclose(theory["ratio_cont_C"]["x0"], 1 - 1 / (3 * c), rtol=1e-9)
    assert theory["ratio_cont"]["eps"] == theory["ratio_cont"]["v"] == 1.0


def test_theory_truncated_weighting_independently(theory):
    """lambda = 1{t >= 0.3}: M_*/N = 1 - mean(t^2 over t >= 0.3)/C; continuous 1 - E[t^2]/C."""
    t = GRID[GRID >= 0.3]
    c = theory["C_values"]
    np.testing.assert_allclose(theory["ratio_grid_C"]["x0_cut"], 1 - np.mean(t**2) / c, rtol=1e-12)
    mean_t2 = (1 - 0.3**3) / (3 * 0.7)  # E[t^2], t ~ Unif(0.3, 1)
    np.testing.assert_allclose(theory["ratio_cont_C"]["x0_cut"], 1 - mean_t2 / c, rtol=1e-8)
    psi = (1 - t**2) / t**2
    ref = 1 - np.sum(psi * t**2) / (2 * np.sum(psi))
    assert theory["ratio_grid"]["eps_cut"] == pytest.approx(ref, rel=1e-12)


def test_theory_normalized_differences_are_lines_through_the_crossover(theory):
    """Divided by d s2 E[lambda], the difference is C (1 - M/N) - C (1 - M_*/N)."""
    r, c = theory["ratio"], theory["C"]
    for key, diff in theory["difference"].items():
        expected = c * (theory["ratio_grid"][key] - r)
        np.testing.assert_allclose(diff, expected, atol=1e-9, err_msg=key)


def test_theory_crossover_increases_with_C(theory):
    for key in theory["labels"]:
        assert np.all(np.diff(theory["ratio_grid_C"][key]) >= 0), key
        assert np.all(theory["ratio_grid_C"][key] <= 1.0), key


# ------------------------------------------------------------------------------------------------
# plots and the CLI
# ------------------------------------------------------------------------------------------------


def test_plots_return_figures(fig1, theory):
    for name, result, n_axes in (
        ("paper000.fig1", fig1, 4),
        ("paper000.crossover_theory", theory, 2),
    ):
        fig = get_experiment(name).plot(result)
        assert isinstance(fig, Figure)
        assert len(fig.axes) == n_axes
        assert all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)
        plt.close(fig)


def test_cli_writes_png_and_pdf(tmp_path):
    assert main(["figure", "paper000.fig1", "--quick", "--out", str(tmp_path)]) == 0
    for suffix in (".png", ".pdf"):
        assert (tmp_path / "figures" / f"paper000_fig1{suffix}").stat().st_size > 1000
