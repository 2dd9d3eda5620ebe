"""Paper 003 (Ye et al.): loss gap, gap vs n, Lipschitz constant, network sizes."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from diffmem_theory.core.schedules import VPExp
from diffmem_theory.fisher.figures import fisher as p3
from diffmem_theory.fisher.separation import relu_size_empirical, relu_size_true
from diffmem_theory.registry import get_experiment

matplotlib.use("Agg")

NAMES = ("loss_gap", "gap_vs_n", "lipschitz", "sizes")
VP = VPExp()


@pytest.fixture(scope="module")
def results():
    return {name: get_experiment(f"paper003.{name}").run(quick=True) for name in NAMES}


def test_full_mode_follows_the_reference_setting():
    """20 noise draws per point as for the reference values; full mode is denser, n to 10^4."""
    assert p3.GAP_NOISE == 20
    assert max(p3._GAP_N[False]) == 10_000
    assert len(p3._EXTRA_TIMES[False]) > len(p3._EXTRA_TIMES[True])
    assert len(p3._LIP_TIMES[False]) > len(p3._LIP_TIMES[True])


@pytest.mark.parametrize("setting", ["isotropic", "anisotropic"])
def test_loss_gap_matches_closed_form_and_quoted_numbers(results, setting):
    """|MC/F_t - 1| <= 2% for t <= 0.5 (0.2); reference MC numbers within 4 combined SE."""
    r = results["loss_gap"][setting]
    small = r["times"] <= p3.CLOSED_FORM_TMAX[setting]
    assert np.all(np.abs(r["gap"][small] / r["closed_form"][small] - 1) <= 0.02)
    assert r["max_rel_err_small_t"] <= 0.02
    assert np.all(np.abs(list(r["reference_z"].values())) < 4.0)
    # Thm 4.3: the gap is of order d/sigma_t^2 + tr Sigma at small t (ratio >= 0.5, c = 1)
    tiny = r["times"] <= 0.01
    assert np.all(r["gap"][tiny] / r["thm_4_3_shape"][tiny] >= 0.5)
    # beyond the asymptotic regime the gap falls far below F_t (t = 4)
    assert r["gap"][-1] < 0.3 * r["closed_form"][-1]


def test_quoted_isotropic_numbers_directly(results):
    """The z-scores are those of the quoted numbers (not of the closed form)."""
    r = results["loss_gap"]["isotropic"]
    j = int(np.flatnonzero(np.isclose(r["times"], 0.1))[0])
    value, se = p3.ISO_MC_REFERENCE[0.1]
    expected = (r["gap"][j] - value) / np.hypot(r["stderr"][j], se)
    assert r["reference_z"][0.1] == pytest.approx(expected)
    assert abs(r["gap"][j] - 303.67) < 4 * np.hypot(r["stderr"][j], 0.62)


def test_prop_4_1_sides_agree(results):
    r = results["loss_gap"]
    assert r["prop_4_1_max_z"] < 4.0
    for setting in r["prop_4_1"].values():
        for p in setting.values():
            assert np.all(p["lhs"] > 0)
            np.testing.assert_allclose(p["lhs"], p["rhs"], rtol=0.02)


def test_gap_vs_n_regimes(results):
    r = results["gap_vs_n"]
    ratio, se = r["gap"] / r["closed_form"], r["stderr"] / r["closed_form"]
    small = r["times"] <= 0.1
    # asymptotic regime: E_D[gap] = F_t at every n
    assert np.all(np.abs(ratio[:, small] - 1) <= 4 * se[:, small] + 0.03)
    # larger t: the gap shrinks as n grows
    late = ratio[:, r["times"] == 2.0].ravel()
    assert np.all(np.diff(late) < 0) and late[-1] < 0.3
    assert ratio[-1, r["times"] == 1.0][0] < 0.9


def test_lipschitz_reference_and_bounds(results):
    r = results["lipschitz"]
    ref = r["n2_reference"]
    assert ref["value"] == pytest.approx(2399.478, abs=5e-4)
    assert ref["lower"] == pytest.approx(524.494, abs=5e-4)
    assert ref["upper"] == pytest.approx(2600.480, abs=5e-4)
    assert ref["within"] and ref["matches_reference"]
    t = r["times"]
    for key in ("two_point", "gmm"):
        c = r[key]
        assert np.all(c["C_L"] <= c["upper"] * (1 + 1e-10))
        held = c["conditions_hold"]
        assert np.all(c["C_L"][held] >= c["lower_sharp"][held])
        assert np.all(c["C_L"][t <= 0.01] > 100 * c["gaussian"][t <= 0.01])
    two = r["two_point"]
    # n = 2: the midpoint is the maximizer at small t, so the estimate is the exact C_L
    np.testing.assert_allclose(two["C_L"][t <= 0.01], two["exact"][t <= 0.01], rtol=1e-9)
    assert np.all(two["C_L"] <= two["exact"] * (1 + 1e-10))
    # C_L = Omega(sigma_t^-4): slope -2 against sigma_t^2 at small t
    s2 = VP.sigma2(t[:2])
    slope = np.log(r["gmm"]["C_L"][1] / r["gmm"]["C_L"][0]) / np.log(s2[1] / s2[0])
    assert -2.1 < slope < -1.9


def test_sizes_crossover_and_taylor_error(results):
    r = results["sizes"]
    d, beta = r["d_beta_panel"]
    for eps, n_star in zip(r["eps_panel"], r["n_star_panel"], strict=True):
        n1 = relu_size_empirical(n_star, eps).size
        assert n1 == pytest.approx(relu_size_true(eps, d, beta).size, rel=1e-9)
        assert n1 == pytest.approx(n_star * np.log(1 / eps) ** 4, rel=1e-12)
    assert np.all(np.diff(r["n_star"], axis=1) > 0)  # n* grows as eps shrinks
    eps = r["taylor_eps"]
    assert np.all(r["err_D1"] <= 2 * eps) and np.all(r["err_D2"] <= 2 * eps)
    assert np.all(r["err_score"] <= 4 * eps)
    assert np.all(r["err_D1"] > 0)  # the truncation is measured, not trivially exact


def test_taylor_errors_against_numpy_twin():
    """D_1 from a plain sum: |D_1~ - D_1| of the module equals the twin's."""
    from diffmem_theory.fisher.separation import taylor_density_terms

    X = p3._taylor_data(0)
    q = X[:5] + 0.1
    r = ((q[:, None, :] - float(VP.alpha(p3.TAYLOR_T)) * X[None]) ** 2).sum(-1)
    d1 = np.exp(-r / (2 * float(VP.sigma2(p3.TAYLOR_T)))).mean(axis=1)
    err = np.abs(taylor_density_terms(q, p3.TAYLOR_T, X, 1e-3)[0] - d1).max()
    assert p3._taylor_errors(X, q, 1e-3)[0] == pytest.approx(err, rel=1e-6, abs=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_plots(results, name):
    fig = get_experiment(f"paper003.{name}").plot(results[name])
    assert len(fig.get_axes()) >= 2
    matplotlib.pyplot.close(fig)
