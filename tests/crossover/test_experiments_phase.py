"""Paper 000's trained-denoiser phase transition (Sec. 4.1): the task, the sweeps and fig2/6/7."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from diffmem_theory.crossover.figures import phase
from diffmem_theory.registry import get_experiment

matplotlib.use("Agg")

TINY = {"N": 30, "d": 5, "K": 2}
TINY_TRAINING = {"n_epochs": 300, "n_dup": 4, "peak_lr": 1e-2, "adam_b2": 0.99}


def test_phase_transition_at_the_paper_scale():
    """The phenomenon with the quick settings (N = 200, d = 50, K = 12): M = N/10 generalizes
    (ratio < 0.1, variance near s2 = 1, train and test loss near the ground truth's) and M = N
    memorizes (ratio >= 0.9, variance ~ 0, train loss ~ 0, test loss that of xbar_mem)."""
    small = phase.train_and_evaluate({**phase.LAB, "M": 20, "seed": 0, **phase.QUICK})
    full = phase.train_and_evaluate({**phase.LAB, "M": 200, "seed": 0, **phase.QUICK})
    assert small["ratio"] < 0.1 and full["ratio"] >= 0.9
    assert 0.5 < small["var"] < 1.5 and full["var"] < 1e-4
    assert small["train_model"] == pytest.approx(small["train_gen"], rel=0.1)
    assert small["test_model"] == pytest.approx(small["test_gen"], rel=0.1)
    assert full["train_model"] < 0.01 * full["train_gen"]
    assert full["test_model"] == pytest.approx(full["test_mem"], rel=0.05)
    # the baselines behave as Thms 3.1/3.2 say: xbar_* has loss ~ d t^2 on train and test
    assert small["train_gen"] == pytest.approx(50 * 0.36028**2, rel=0.05)
    assert small["train_pmem"] > small["train_gen"] > full["train_mem"]


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("DIFFMEM_SWEEPS", str(tmp_path_factory.mktemp("sweeps")))
    mp.setattr(phase, "LAB", TINY)
    mp.setattr(phase, "QUICK", TINY_TRAINING)
    yield mp
    mp.undo()


def test_runs_are_cached_and_shared(tiny_runs):
    first = phase.phase_runs(quick=True, seeds=(0,), refine=False)
    again = phase.phase_runs(quick=True, seeds=(0,), refine=False)
    assert [r["config"]["M"] for r in first[0]] == [3 * j for j in range(1, 11)]
    assert all(r["status"] == "skipped" for r in again[0])  # second call loads from disk
    assert [r["result"] for r in again[0]] == [r["result"] for r in first[0]]


def test_figures_build_from_the_runs(tiny_runs):
    for name, n_axes in (("paper000.fig2", 3), ("paper000.fig6", 3), ("paper000.fig7", 3)):
        spec = get_experiment(name)
        result = spec.run(quick=True, seed=0)
        assert len(spec.plot(result).axes) == n_axes
        table = next(iter(result["tables"].values()))
        assert np.all((table["ratio"] >= 0) & (table["ratio"] <= 1))
    fig7 = get_experiment("paper000.fig7").run(quick=True, seed=0)
    assert sorted(fig7["tables"]) == [0, 1, 2]


def test_refinement_adds_models_across_the_transition(tiny_runs):
    runs = phase.phase_runs(quick=True, seeds=(0,), refine=True)[0]
    Ms = [r["config"]["M"] for r in runs]
    assert Ms == sorted(Ms) and len(Ms) >= 10
    assert set(range(3, 31, 3)) <= set(Ms)


def test_seeds_share_one_pool_with_the_results_of_separate_runs(tiny_runs, tmp_path):
    """fig7's seeds run in one pool of workers, longest first: each seed's records are those
    of a sweep of that seed alone (same configs, same results, sorted by M)."""
    together = phase.phase_runs(quick=True, seeds=(0, 1), refine=False)
    tiny_runs.setenv("DIFFMEM_SWEEPS", str(tmp_path))
    for seed in (0, 1):
        alone = phase.phase_runs(quick=True, seeds=(seed,), refine=False)[seed]
        assert [r["config"] for r in alone] == [r["config"] for r in together[seed]]
        assert [r["result"] for r in alone] == [r["result"] for r in together[seed]]
