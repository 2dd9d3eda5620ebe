"""Paper 002, Sec. 5.3 (Figs. 8-11, 15): the network sweeps, their figures and trend checks."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("jax")

import matplotlib

from diffmem_theory.registry import get_check, get_experiment, list_checks
from diffmem_theory.voronoi import networks
from diffmem_theory.voronoi.checks import network as checks
from diffmem_theory.voronoi.figures import network as figs

matplotlib.use("Agg")

#: A tiny sweep through the same code as QUICK and FULL.
TINY = networks.Sweep(8, (20, 40), (20, 40), (4, 8), 40, (4, 8), n_samples=50)
CHECKS = ("paper002.nn_epochs_trend", "paper002.nn_width_trend", "paper002.nn_i_vs_j")
FIGURES = ("fig8", "fig9", "fig10", "fig11", "fig15")


@pytest.fixture(scope="module")
def tiny_fig15():
    return figs._fig15(0, TINY)


def test_tiny_sweep_shapes_counts_and_sharing(tiny_fig15):
    """Both sweeps of both objectives; width 8 at 40 epochs is the epoch run's snapshot."""
    for over, x in (("widths", [4, 8]), ("epochs", [20, 40])):
        for obj in ("J", "I"):
            r = tiny_fig15[over][obj]
            assert r["x"].tolist() == x and r["n"] == 50 and r["taus"] == (0.1, 1e-2)
            assert r["fraction"].shape == r["se"].shape == (2, 2)
            assert np.all((r["fraction"] >= 0) & (r["fraction"] <= 1))
            assert np.all(r["fraction"][1] <= r["fraction"][0])  # a smaller ball
    assert tiny_fig15["widths"]["J"]["params"].tolist() == [196, 508]
    shared = networks.sweep_samples(8, 40, seed=0, sweep=TINY)
    assert shared is networks._sweep_samples(8, 40, "J", 0, TINY)
    assert not shared.flags.writeable
    np.testing.assert_array_equal(
        tiny_fig15["widths"]["J"]["fraction"][:, 1], tiny_fig15["epochs"]["J"]["fraction"][:, 1]
    )


def test_checks_run_on_the_tiny_sweep(tiny_fig15, monkeypatch):
    """The registered checks through the tiny sweep's (cached) runs: an outcome, not an error."""
    monkeypatch.setattr(checks, "QUICK", TINY)
    for name in CHECKS:
        result = get_check(name).run(seed=0, quick=True)
        assert result.status in ("pass", "fail"), result.note
    note = get_check("paper002.nn_i_vs_j").run(seed=0).note
    assert note.endswith("of 3 points")  # widths 4, 8 and 20 epochs: the shared point once


def test_tiny_figures_draw(tiny_fig15):
    figs._plot_fig15(tiny_fig15)
    figs._plot_fractions(figs._fractions("epochs", ("J",), 0, TINY))
    for over in ("epochs", "widths"):
        r = figs._scatter(over, 0, TINY)
        assert r["samples"].shape == (2, 50, 2) and r["fraction"].shape == (2,)
        figs._plot_scatter(r)
    assert figs._scatter("widths", 0, TINY)["labels"][1] == "width 8 (508 par.)"
    assert figs._tick_labels(np.array([5000, 10_000, 20_000, 30_000])) == ["5k", "10k", "", "30k"]


def test_paper_settings():
    """Full mode: width 256 to 3e5 epochs (Fig. 8's 5e3, 3e4, 3e5), widths 8-512 at 2e5."""
    full, quick = networks.FULL, networks.QUICK
    assert full.scatter_epochs == (5000, 30_000, 300_000) and full.width_epochs == 200_000
    assert full.scatter_widths == (8, 32, 128) and full.epoch_width == 256
    assert full.n_samples == quick.n_samples == 1000
    assert quick.width_epochs in quick.epochs and quick.epoch_width in quick.widths


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epoch_width": 0}, "epoch_width"),
        ({"epochs": (40, 20)}, "epochs must be strictly increasing"),
        ({"widths": ()}, "widths"),
        ({"scatter_widths": (16,)}, "scatter_widths must be a subset"),
        ({"width_epochs": -1}, "width_epochs"),
        ({"n_samples": 0}, "n_samples"),
    ],
)
def test_bad_sweep_settings_are_named(kwargs, match):
    fields = {
        "epoch_width": 8, "epochs": (20, 40), "scatter_epochs": (40,), "widths": (4, 8),
        "width_epochs": 40, "scatter_widths": (8,),
    }  # fmt: skip
    with pytest.raises((ValueError, TypeError), match=match):
        networks.Sweep(**{**fields, **kwargs})


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="not a point of the sweep"):
        networks.sweep_samples(4, 20, sweep=TINY)
    with pytest.raises(ValueError, match="objective"):
        networks.sweep_samples(8, 40, objective="K", sweep=TINY)
    with pytest.raises(ValueError, match="over"):
        networks.sweep_fractions("depths", sweep=TINY)
    with pytest.raises(TypeError, match="sweep"):
        networks.sweep_fractions("widths", sweep="quick")


@pytest.mark.parametrize(
    ("p", "passed"),
    [
        ([0.02, 0.05, 0.10, 0.30], True),
        ([0.30, 0.10, 0.05, 0.02], False),  # reversed
        ([0.10, 0.11, 0.10, 0.11], False),  # flat
        ([0.02, 0.30, 0.10, 0.35], False),  # a fall of > 3 SE on the way
        ([0.02, 0.02, 0.025, 0.04], False),  # a rise within 3 SE
    ],
)
def test_rising_decision(p, passed):
    out = checks.rising(np.array(p), 1000, [str(i) for i in range(len(p))])
    assert out.passed is passed


@pytest.mark.parametrize(
    ("hi", "lo", "passed"),
    [
        ([0.08, 0.20, 0.45], [0.08, 0.09, 0.23], True),
        ([0.08, 0.09, 0.23], [0.08, 0.20, 0.45], False),  # swapped
        ([0.08, 0.20, 0.45], [0.08, 0.20, 0.45], False),  # equal: nowhere strictly above
        ([0.01, 0.20, 0.45], [0.08, 0.09, 0.23], False),  # below beyond 3 SE at one point
    ],
)
def test_dominates_decision(hi, lo, passed):
    out = checks.dominates(np.array(hi), np.array(lo), 1000, ["a", "b", "c"])
    assert out.passed is passed


def test_registered():
    names = {c.name for c in list_checks("paper002")}
    assert set(CHECKS) <= names
    for fig in FIGURES:
        assert get_experiment(f"voronoi.{fig}").name == f"paper002.{fig}"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_quick_checks_pass(seed):
    """``diffmem reproduce --quick`` runs these checks in quick mode: they pass for seeds 0-2."""
    for name in CHECKS:
        result = get_check(name).run(seed=seed, quick=True)
        assert result.status == "pass", result.note


@pytest.mark.slow
@pytest.mark.parametrize("name", FIGURES)
def test_quick_figures(name):
    spec = get_experiment(f"paper002.{name}")
    spec.plot(spec.run(quick=True, seed=0))


def test_sizes_and_tolerances_out_of_range_are_named():
    """Found by the fuzz harness: NotImplementedError (width 2**62) and RuntimeWarnings."""
    with pytest.raises(ValueError, match="width 4611686018427387904"):
        networks.train_snapshots(2**62, (10,), seed=1)
    with pytest.raises(ValueError, match="c must be <= "):
        networks.train_snapshots(8, (10,), c=1e300, seed=1)
    (net,) = networks.train_snapshots(8, (10,), seed=1)
    with pytest.raises(ValueError, match=r"atol must be <= 1\.0"):
        networks.network_samples(net, 3, seed=1, atol=1e300)
