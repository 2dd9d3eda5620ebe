"""Paper 000, Fig. 3: the (N, d, K) sweep of trained denoisers, M_pt per tuple and the
loss-weighting regression, end to end on a tiny setting (the full quick run is marked slow)."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from diffmem_theory.crossover.figures import fig3, phase
from diffmem_theory.crossover.regression import LossWeightingFit
from diffmem_theory.registry import get_experiment
from diffmem_theory.sweep import get_sweep

matplotlib.use("Agg")

TINY_TUPLES = ((20, 5, 2), (30, 5, 2))
TINY_TRAINING = {"n_epochs": 300, "n_dup": 4, "peak_lr": 1e-2, "adam_b2": 0.99}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("sweeps")
    mp.setenv("DIFFMEM_SWEEPS", str(root))
    mp.setattr(fig3, "QUICK_TUPLES", TINY_TUPLES)
    mp.setattr(phase, "QUICK", TINY_TRAINING)
    yield root
    mp.undo()


@pytest.fixture(scope="module")
def tiny_result(tiny):
    return get_experiment("paper000.fig3").run(quick=True, seed=0)


def test_grids_and_named_sweep():
    assert len(fig3.FULL_TUPLES) == 64 and len(set(fig3.FULL_TUPLES)) == 64
    assert {t[0] for t in fig3.FULL_TUPLES} == {50, 100, 150, 200}
    assert {t[1] for t in fig3.FULL_TUPLES} == {30, 40, 50, 60}
    assert {t[2] for t in fig3.FULL_TUPLES} == {3, 6, 9, 12}
    spec = get_sweep("paper000.fig3")
    task, quick = spec.specs(quick=True)
    assert task == phase.TASK and len(quick) == 10 * len(fig3.QUICK_TUPLES)
    assert all(c["n_epochs"] == phase.QUICK["n_epochs"] for c in quick)
    _, full = spec.specs(quick=False)
    assert len(full) == 640 and all(c["n_epochs"] == 50_000 for c in full)
    Ms = sorted(c["M"] for c in full if (c["N"], c["d"], c["K"]) == (150, 40, 9))
    assert Ms == [15 * j for j in range(1, 11)]


def test_tiny_pipeline_produces_transitions_and_a_fit(tiny_result):
    obs, fit = tiny_result["observed"], tiny_result["fit"]
    assert obs["N"].tolist() == [20, 30] and obs["d"].tolist() == [5, 5]
    assert np.all(np.isfinite(obs["M_pt"]))  # M = N memorizes: the transition is on the grid
    for (Ms, ratios), N, m_pt in zip(obs["curves"], obs["N"], obs["M_pt"], strict=True):
        np.testing.assert_array_equal(Ms, [N // 10 * j for j in range(1, 11)])  # no refinement
        assert m_pt == Ms[np.flatnonzero(ratios >= 0.5)[0]]
        assert ratios[-1] >= 0.5
    assert isinstance(fit, LossWeightingFit)
    assert fit.weights.shape == (26,) and fit.weights.sum() == pytest.approx(1.0)
    assert (fit.train.size, fit.test.size) == (1, 1)
    assert np.isfinite(fit.train_mse) and np.isfinite(fit.test_mse)
    # one ratio for both tuples (approximate losses): the argmin is N r rounded
    assert np.all(np.abs(fit.M_hard - fit.N * fit.ratio) <= 0.5 + 1e-9)
    # it fits the training tuple, as far as the reachable range [1 - t_0^2/C, 1) allows
    i = fit.train[0]
    lowest = 1 - fit.times.max() ** 2 / tiny_result["C"]  # 0.501 at C = 2: all weight on t_0
    assert fit.ratio >= lowest - 1e-9
    target = max(fit.observed_ratio[i], lowest)
    assert fit.predicted_ratio[i] == pytest.approx(target, abs=0.02)
    assert tiny_result["excluded"] == []


def test_runs_are_shared_through_the_phase_sweep_directory(tiny, tiny_result):
    out = tiny / "paper000.phase-quick"
    assert len(list(out.glob("*.json"))) == 20
    again = fig3.fig3_runs(quick=True, seed=0)
    assert all(r["status"] == "skipped" for recs in again.values() for r in recs)


def test_refinement_adds_models_across_the_transition(tiny, tiny_result):
    runs = fig3.fig3_runs(quick=True, seed=0, refine=True)
    for (N, _, _), recs in runs.items():
        Ms = [r["config"]["M"] for r in recs]
        assert Ms == sorted(Ms) and set(range(N // 10, N + 1, N // 10)) <= set(Ms)
    obs = fig3.observed_transitions(runs)
    assert np.all(np.isfinite(obs["M_pt"]))


def test_plot_has_two_panels(tiny_result):
    fig = get_experiment("paper000.fig3").plot(tiny_result)
    assert len(fig.axes) == 2
    left, right = fig.axes
    assert len(left.lines[0].get_xdata()) == 26
    labels = [t.get_text() for t in right.get_legend().get_texts()]
    assert "$y = x$" in labels and "0.8 (paper)" in labels


@pytest.mark.slow
def test_quick_fig3_end_to_end(tmp_path, monkeypatch):
    """The real quick mode: 4 tuples (N in {50, 100}, d = 30, K in {3, 6}), QUICK settings."""
    monkeypatch.setenv("DIFFMEM_SWEEPS", str(tmp_path))
    spec = get_experiment("paper000.fig3")
    result = spec.run(quick=True, seed=0)
    obs, fit = result["observed"], result["fit"]
    assert obs["N"].tolist() == [50, 50, 100, 100]
    assert np.all(np.isfinite(obs["M_pt"]))
    assert (fit.train.size, fit.test.size) == (3, 1)
    assert 0.5 < fit.ratio < 1.0
    assert len(spec.plot(result).axes) == 2
