"""Paper 002, Sec. 5.3 (Figs. 12-14): networks trained on the Tikhonov objective, the figures and
the checks ``paper002.nn_tikhonov_trend`` and ``paper002.nn_score_limit``."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from diffmem_theory.core.metrics import fraction_se

pytest.importorskip("jax")
pytest.importorskip("equinox")
pytest.importorskip("optax")

import matplotlib

from diffmem_theory.registry import get_check, get_experiment
from diffmem_theory.voronoi import tikhonov_network as tn
from diffmem_theory.voronoi.checks.network import rising
from diffmem_theory.voronoi.data import SEED1_DATA
from diffmem_theory.voronoi.networks import SCHEDULE

matplotlib.use("Agg")

#: A tiny sweep through the code of the quick and full settings.
TINY = tn.TikhonovSettings(width=8, epochs=20, lr=1e-3, cs=(0.0, 1e-3, 1e-2, 0.1), n_samples=20)
CHECKS = ("paper002.nn_tikhonov_trend", "paper002.nn_score_limit")
FIGURES = ("paper002.fig12", "paper002.fig13", "paper002.fig14")


@pytest.fixture
def tiny_mode(monkeypatch):
    """The registered checks and figures with quick mode's settings replaced by TINY."""
    monkeypatch.setitem(tn._SETTINGS, True, TINY)


def test_registered_checks_and_figures_run_through_the_settings(tiny_mode):
    for name in CHECKS:
        result = get_check(name).run(seed=0, quick=True)
        assert result.status in ("pass", "fail"), (name, result.note)  # no error
    # 20 epochs do not memorize: the score-limit check fails on them (it can fail)
    assert get_check("paper002.nn_score_limit").run(seed=0).status == "fail"
    for name in FIGURES:
        spec = get_experiment(name)
        result = spec.run(quick=True, seed=0)
        fig = spec.plot(result)
        assert len(fig.axes) >= 1
        matplotlib.pyplot.close(fig)
    fig12 = get_experiment("paper002.fig12").run(quick=True, seed=0)
    assert fig12["samples"].shape == (3, 20, 2)
    np.testing.assert_array_equal(fig12["c"], [1e-3, 1e-2, 1e-1])
    fig13 = get_experiment("paper002.fig13").run(quick=True, seed=0)
    assert fig13["network"].shape == (4, tn.FIG13_TIMES.size)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_quick_mode_shows_the_trends(seed):
    """Quick mode (about 17 s of training on a quiet machine): both checks pass, seeds 0-2."""
    for name in CHECKS:
        result = get_check(name).run(seed=seed, quick=True)
        assert result.status == "pass", (name, result.note)
    fig14 = get_experiment("paper002.fig14").run(quick=True, seed=seed)
    assert fig14["fraction"][0] > fig14["fraction"][-1] + 3 * np.hypot(*fig14["se"][[0, -1]])
    fig13 = get_experiment("paper002.fig13").run(quick=True, seed=seed)
    # the network of the smallest c reaches a larger score near t = 0 than that of the largest
    assert fig13["network"][0, 0] > fig13["network"][-1, 0]


def test_tiny_sweep_shapes_and_shared_x_T():
    res = tn.tikhonov_sweep(TINY, seed=0)
    assert res["samples"].shape == (4, 20, 2)
    assert not res["samples"].flags.writeable
    np.testing.assert_array_equal(res["se"], fraction_se(res["fraction"], 20))
    assert tn.tikhonov_sweep(TINY, seed=0)["samples"] is res["samples"]  # cached
    other = tn.tikhonov_sweep(TINY, seed=1)["samples"]
    assert not np.array_equal(other, res["samples"])


def test_tiny_score_curves_against_the_exact_scores():
    t = np.array([1e-5, 1e-2, 1.0])
    res = tn.score_curves(TINY, 0, t)
    assert res["network"].shape == (4, 3)
    # c = 0: the exact minimizer is the empirical score; c > 0: bounded by (|x| + |x|_inf) / c
    np.testing.assert_allclose(res["tikhonov"][0], res["empirical"], rtol=1e-12)
    reach = np.linalg.norm(res["x_star"]) + np.linalg.norm(SEED1_DATA, axis=1).max()
    for c, row in zip(TINY.cs[1:], res["tikhonov"][1:], strict=True):
        assert np.all(row <= reach / c)
    assert res["empirical"][0] > 1e3 * res["tikhonov"][-1][0]
    assert res["distance"] == pytest.approx(
        np.linalg.norm(SEED1_DATA - res["x_star"], axis=1).min()
    )


def test_score_errors_of_the_exact_minimizers_are_c_over_var_plus_c():
    """|s_reg - s^N| / |s^N| = c / (sigma^2 + c) at every point (eq. (5.7)): the medians."""
    res = tn.score_errors(TINY, 0)
    var = SCHEDULE.sigma(res["t"]) ** 2
    expected = [np.mean(c / (var + c)) for c in TINY.cs]
    np.testing.assert_allclose(res["exact"], expected, atol=1e-12)
    assert np.all((SCHEDULE.sigma(res["t"]) >= 0.1) & (SCHEDULE.sigma(res["t"]) <= 0.3))
    # a network trained 20 epochs has not learned s^N; nor is the data law's score s^N
    assert res["network"][0] > tn.R_MAX
    assert res["generalizing"] > tn.R_MAX


def test_x_star_is_seeded_and_near_x_0_1():
    np.testing.assert_array_equal(tn.x_star(3), tn.x_star(3))
    assert not np.array_equal(tn.x_star(0), tn.x_star(1))
    draws = np.array([tn.x_star(s) - SEED1_DATA[0] for s in range(200)]) / tn.X_STAR_SPREAD
    assert abs(draws.std() - 1.0) < 0.1


def test_the_trend_decision_fails_on_reversed_flat_and_falling_series():
    """The check's decision (``rising``) on series of fractions of 1000 samples, c falling."""
    labels = ["c = 0.1", "c = 0.01", "c = 0.001", "c = 0"]
    assert rising([0.094, 0.199, 0.39, 0.406], 1000, labels).passed  # seed 0, quick mode
    assert not rising([0.406, 0.39, 0.199, 0.094], 1000, labels).passed  # reversed
    assert not rising([0.3, 0.3, 0.3, 0.3], 1000, labels).passed  # flat
    assert not rising([0.1, 0.4, 0.3, 0.45], 1000, labels).passed  # a step falls by 4.7 SE
    assert not rising([0.1, 0.11, 0.12, 0.13], 1000, labels).passed  # a rise of 2.1 SE only


def test_score_limit_verdict_fails_without_the_limit():
    exact = [0.0, 0.04, 0.26, 0.74]
    assert tn.score_limit_verdict([0.35, 0.35, 0.49, 0.81], exact).passed
    assert not tn.score_limit_verdict([0.81, 0.49, 0.35, 0.35], exact).passed  # reversed
    assert not tn.score_limit_verdict([0.6, 0.7, 0.9, 1.0], exact).passed  # c = 0 not near s^N
    assert not tn.score_limit_verdict([0.35, 0.35, 0.4, 0.5], exact).passed  # c has no effect


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"width": 0}, "width"),
        ({"epochs": 0}, "epochs"),
        ({"lr": 0.0}, "lr"),
        ({"cs": (-1e-3, 0.1)}, "cs"),
        ({"cs": (0.1, 0.01)}, "cs"),
        ({"cs": ()}, "cs"),
        ({"cs": (0.0, float("nan"))}, "cs"),
        ({"n_samples": 0}, "n_samples"),
    ],
)
def test_bad_settings_raise_naming_the_argument(kwargs, name):
    good = {"width": 8, "epochs": 20, "lr": 1e-3, "cs": (0.0, 0.1)}
    with pytest.raises(ValueError, match=name):
        tn.TikhonovSettings(**{**good, **kwargs})


def test_bad_arguments_raise_naming_the_argument():
    with pytest.raises(TypeError, match="settings"):
        tn.tikhonov_sweep({"width": 8})
    with pytest.raises(ValueError, match="seed"):
        tn.tikhonov_sweep(TINY, seed=-1)
    with pytest.raises(ValueError, match="t must"):
        tn.score_curves(TINY, 0, [0.0, 0.5])
    with pytest.raises(ValueError, match="quick"):
        tn.tikhonov_settings("yes")
    with pytest.raises(ValueError, match="exact"):
        tn.score_limit_verdict([0.1, 0.2], [0.0])


def test_without_jax_nothing_is_registered_and_the_modules_import():
    """``diffmem`` works without the nn extra: the modules import and register nothing."""
    code = (
        "import sys\n"
        "sys.modules['jax'] = None\n"
        "import diffmem_theory.voronoi.checks.tikhonov_network\n"
        "import diffmem_theory.voronoi.figures.tikhonov_network\n"
        "from diffmem_theory import registry\n"
        "names = [c.name for c in registry.list_checks()]\n"
        "names += [e.name for e in registry.list_experiments()]\n"
        "assert 'jax' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
        "assert not {'paper002.nn_tikhonov_trend', 'paper002.fig13'} & set(names), names\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
