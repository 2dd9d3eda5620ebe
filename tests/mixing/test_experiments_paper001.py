"""Paper 001 (Halder), Figs. 2-4 of the linear model on tiny settings: science, plots, CLI."""

from __future__ import annotations

import math

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from diffmem_theory.cli import main
from diffmem_theory.mixing.figures import linear as p1
from diffmem_theory.mixing.linear_model import (
    LinearDiffusionConfig,
    delta_stat,
    log_kde_pair_offdiag,
)
from diffmem_theory.registry import get_experiment

matplotlib.use("Agg")

TINY_N_ORIG = 2000


@pytest.fixture
def tiny(monkeypatch):
    """d = 16 only, short n grids, few simulations, N = 2000 original samples."""
    monkeypatch.setattr(p1, "DIMS", (16,))
    monkeypatch.setattr(p1, "FIG2_N", 2000)
    monkeypatch.setitem(p1.FIG2_LAMBDA_HAT, True, np.array([1e-3, 0.1, 1.0]))
    monkeypatch.setitem(p1.FIG2_REPS, True, 30)
    monkeypatch.setitem(p1.FIG3_GRIDS, True, {16: (5, 10, 16, 17, 30, 100, 1000, 10**4)})
    monkeypatch.setitem(p1.FIG3_REPS, True, {16: 8})
    monkeypatch.setitem(p1.FIG4_GRIDS, True, {16: (5, 10, 15, 20, 50, TINY_N_ORIG)})
    monkeypatch.setitem(p1.FIG4_REPS, True, {16: 40})
    monkeypatch.setitem(p1.FIG4_N, True, {16: TINY_N_ORIG})


def _axes_ok(fig, n_axes, xlabel, ylabel, xscale=None):
    axes = fig.get_axes()
    assert len(axes) == n_axes
    for ax in axes:
        assert xlabel in ax.get_xlabel() and ylabel in ax.get_ylabel()
        if xscale is not None:
            assert ax.get_xscale() == xscale
    return axes


def test_registered_and_paper_settings():
    for name in ("paper001.fig2", "paper001.fig3", "paper001.fig4"):
        assert get_experiment(name).name == name
    assert p1.DIMS == (16, 100)
    assert p1.FIG2_N == 10**4 and set(p1.FIG4_N[False].values()) == {10**4}
    np.testing.assert_allclose(p1.FIG2_LAMBDA_HAT[False][[0, -1]], [1e-4, 1.0])
    assert round(p1.ASYMPTOTE[16], 12) == 0.368047328815
    assert round(p1.ASYMPTOTE[100], 12) == 0.943209137847


def test_fig2_kl_matches_exact_wishart_formula(tiny):
    spec = get_experiment("paper001.fig2")
    r = spec.run(quick=True, seed=0)
    assert r["mc_appendixB_var_quad"].shape == (1, 3)
    for model in ("appendixB", "forward"):
        for stat in ("var", "mean"):
            key = "var_quad" if stat == "var" else "mean"
            mc, se = r[f"mc_{model}_{key}"], r[f"se_{model}_{key}"]
            assert np.all(np.abs(mc - r[f"wishart_{stat}_{model}"]) <= 3 * se), (model, stat)
    # KL_mean << KL_var, and (B.17) is the App-B E[KL_var] up to O(alpha) corrections
    assert np.all(r["mc_appendixB_mean"] < 0.05 * r["mc_appendixB_var_quad"])
    np.testing.assert_allclose(r["B17"], r["wishart_var_appendixB"], rtol=0.03)
    # the exact KL falls below KL_var at lambda-hat = 1 (erratum paper001.kl_lower_bound), not at
    # small lambda-hat
    assert r["mc_appendixB_exact"][0, -1] < 0.7 * r["mc_appendixB_var_quad"][0, -1]
    assert abs(r["mc_appendixB_exact"][0, 0] / r["mc_appendixB_var_quad"][0, 0] - 1) < 0.1
    fig = spec.plot(r)
    for ax in _axes_ok(fig, 2, r"\hat\lambda", "KL", "log"):
        assert ax.get_yscale() == "log"
    plt.close(fig)


def test_fig3_hellinger_is_one_below_d_then_decays_to_asymptote(tiny):
    spec = get_experiment("paper001.fig3")
    r = spec.run(quick=True, seed=0)[16]
    ns, asym = r["n"], r["asymptote"]
    assert math.isclose(asym, 0.368047328815, rel_tol=1e-10)
    for conv in p1.CONVENTIONS:
        h = r["H2"][conv]
        assert np.all(h[ns <= 16] == 1.0)
        above = h[ns > 16]
        assert np.all(np.diff(above) < 0) and np.all(above < 1.0)
        assert np.all(above > asym)
        assert h[-1] - asym < 0.02  # n = 10^4: 0.3707 in full mode
    assert r["onset"] == 17
    fig = spec.plot({"dims": np.array([16]), 16: r})
    _axes_ok(fig, 1, "n", "H^2", "log")
    plt.close(fig)


def test_fig4_transition_and_half_at_n_equals_N(tiny):
    spec = get_experiment("paper001.fig4")
    res = spec.run(quick=True, seed=0)
    r = res[16]
    ns, P, se = r["n"], r["P"], r["P_se"]
    assert r["N"] == TINY_N_ORIG
    assert np.all(P["correct"][ns <= 20] <= 0.1)  # memorizing well below n ~ 25
    assert P["correct"][ns == 50][0] >= 0.7  # non-memorizing past the transition
    for conv in p1.CONVENTIONS:
        assert abs(r["P_at_N"][conv] - 0.5) <= 0.2  # exchangeable-like sets: P -> 1/2
        assert np.all((se[conv] >= 0) & (se[conv] <= 0.5 / math.sqrt(r["reps"] - 1) + 1e-12))
    assert 20 < r["transition_n"]["correct"] <= 50
    fig = spec.plot(res)
    axes = fig.get_axes()
    assert len(axes) == 3
    for ax in axes[:2]:
        assert "n" in ax.get_xlabel() and r"P(\Delta > 0)" in ax.get_ylabel() and ax.lines
    assert axes[1].get_xscale() == "log" and axes[0].get_xscale() == "linear"
    assert not axes[2].lines and not axes[2].axison  # no d = 100 in the tiny run
    plt.close(fig)


@pytest.mark.parametrize(("d", "n"), [(4, 3), (4, 4), (4, 30), (16, 25)])
def test_delta_signs_agree_with_delta_stat(d, n):
    cfg = LinearDiffusionConfig(d=d)
    g = np.random.default_rng(7)
    N = 300
    Yo = cfg.mu + cfg.sigma * g.standard_normal((N, d))
    log_po = log_kde_pair_offdiag(Yo, cfg.sigma * N ** (-1.0 / d)) - 2 * math.log(N)
    signs = p1._delta_signs(cfg, n, Yo, log_po, np.random.default_rng(3))
    Y, gens = p1._fit(cfg, n, np.random.default_rng(3))
    eps_T, eps_O = cfg.sigma * n ** (-1.0 / d), cfg.sigma * N ** (-1.0 / d)
    for conv, (mG, SG) in gens.items():
        assert signs[conv] == delta_stat(mG, SG, Y, Yo, eps_T, eps_O)[0]


def test_half_crossing_edge_cases():
    assert p1.half_crossing([10, 20], np.array([0.6, 0.9]), after=5) == 10.0
    assert p1.half_crossing([10, 20, 30], np.array([0.9, 0.0, 1.0]), after=15) == 25.0
    assert math.isnan(p1.half_crossing([10, 20], np.array([0.9, 0.9]), after=25))


def test_cli_figure_fig3_writes_png_and_pdf(tiny, tmp_path):
    assert main(["figure", "paper001.fig3", "--quick", "--out", str(tmp_path)]) == 0
    for ext in ("png", "pdf"):
        path = tmp_path / "figures" / f"paper001_fig3.{ext}"
        assert path.is_file() and path.stat().st_size > 1000


def test_experiments_run_with_one_blas_thread(monkeypatch):
    """Thousands of small fits: OpenBLAS is pinned to one thread while an experiment runs (a
    second thread spin-waits when another process shares the cores) and restored after."""
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def openblas_threads() -> set[int]:
        info = threadpoolctl.threadpool_info()
        return {i["num_threads"] for i in info if i["internal_api"] == "openblas"}

    before = openblas_threads()
    if not before:
        pytest.skip("NumPy and SciPy do not use OpenBLAS here")
    seen: list[set[int]] = []

    class Stop(Exception):
        pass

    def spy(*args, **kwargs):
        seen.append(openblas_threads())
        raise Stop

    monkeypatch.setattr(p1, "expected_kl_var_b_17", spy)  # fig2's first computation
    with pytest.raises(Stop):
        get_experiment("paper001.fig2").run(quick=True)
    assert seen == [{1}]
    assert openblas_threads() == before


def test_fig2_and_fig4_give_the_same_bits_on_one_or_two_threads(monkeypatch):
    """Their independent cells (fig2: each d, lambda-hat and data model; fig4: each d) draw from
    their own generators, so running them on threads changes no bit."""
    numba = pytest.importorskip("numba")
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one Numba thread available")
    monkeypatch.setattr(p1, "DIMS", (4, 8))
    monkeypatch.setattr(p1, "FIG2_N", 200)
    monkeypatch.setitem(p1.FIG2_LAMBDA_HAT, True, np.array([1e-2, 1.0]))
    monkeypatch.setitem(p1.FIG2_REPS, True, 3)
    monkeypatch.setitem(p1.FIG4_GRIDS, True, {4: (3, 10, 50), 8: (5, 20)})
    monkeypatch.setitem(p1.FIG4_REPS, True, {4: 3, 8: 2})
    monkeypatch.setitem(p1.FIG4_N, True, {4: 100, 8: 100})
    before = numba.get_num_threads()
    runs = {}
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            runs[threads] = [
                get_experiment(f"paper001.{f}").run(quick=True) for f in ("fig2", "fig4")
            ]
    finally:
        numba.set_num_threads(before)
    np.testing.assert_equal(runs[1], runs[2])
