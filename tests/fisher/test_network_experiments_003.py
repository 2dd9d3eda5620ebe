"""Paper 003's network experiments (Figs. 1-2, the loss-gap figure) and the width-threshold
check, on the quick settings (one sweep, cached, shared by every test of this module)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from diffmem_theory.core.metrics import fraction_se

pytest.importorskip("jax")
pytest.importorskip("equinox")
pytest.importorskip("optax")

from diffmem_theory.fisher import networks
from diffmem_theory.registry import get_experiment


def test_threshold_decision_fails_on_reversed_and_flat_series():
    widths = [4, 16, 64, 256]
    small, large = [0.3, 0.55, 0.7, 0.8], [0.1, 0.15, 0.2, 0.3]
    assert networks.threshold_decision(widths, small, large, 200)[1]
    assert not networks.threshold_decision(widths, large, small, 200)[1]  # reversed in n
    flat = [0.6, 0.6, 0.6, 0.6]
    assert not networks.threshold_decision(widths, flat, flat, 200)[1]  # no growth with n
    z, ok, _ = networks.threshold_decision(widths, large, large, 200)  # nothing memorizes
    assert z == -math.inf and not ok
    # a difference within Monte Carlo error at the threshold fails
    assert not networks.threshold_decision(
        widths, [0.1, 0.55, 0.6, 0.7], [0.1, 0.45, 0.7, 0.8], 200
    )[1]


def test_memorizing_width_and_stderr():
    assert networks.memorizing_width([4, 8], [0.5, 0.51]) == 8.0  # strictly above 1/2
    assert networks.memorizing_width([4, 8], [0.5, 0.5]) == math.inf
    np.testing.assert_allclose(fraction_se([1.0, 0.25], 100), [0.01, math.sqrt(0.1875) / 10])


#: Tiny settings for the machinery (the quick check itself runs in tests/test_registry.py and
#: in the paper 003 notebook).
TINY = {"ns": (4, 8), "widths": (4, 8), "epochs": 200, "n_samples": 20}


def test_figures_run_and_plot(monkeypatch):
    monkeypatch.setattr(networks, "QUICK", TINY)
    fig1 = get_experiment("paper003.fig1")
    res1 = fig1.run(quick=True, seed=0)
    widths = [p["width"] for p in res1["panels"]]
    assert widths == sorted(widths)
    fig1.plot(res1)
    fig2 = get_experiment("paper003.fig2")
    res2 = fig2.run(quick=True, seed=0)
    assert res2["ratio"].shape == (len(res2["ns"]), len(res2["widths"]))
    assert np.all((res2["ratio"] >= 0) & (res2["ratio"] <= 1))
    # Thm 5.1's width grows linearly in n
    tw = res2["taylor_width"]
    np.testing.assert_allclose(tw / tw[0], np.array(res2["ns"]) / res2["ns"][0])
    fig2.plot(res2)
    gap = get_experiment("paper003.loss_gap_network")
    res3 = gap.run(quick=True, seed=0)
    assert len(res3["curves"]) == 4
    gap.plot(res3)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n": 1, "width": 8, "epochs": 10}, "n"),
        ({"n": 4, "width": 0, "epochs": 10}, "width"),
        ({"n": 4, "width": 8, "epochs": 0}, "epochs"),
        ({"n": 4, "width": 8, "epochs": 10, "seed": -1}, "seed"),
    ],
)
def test_bad_settings_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        networks.trained_network(**kwargs)


def test_bad_sweep_and_pairs():
    with pytest.raises(TypeError, match="ns"):
        networks.width_sweep([8], (4,), 10, 10)
    with pytest.raises(ValueError, match="n_samples"):
        networks.width_sweep((8,), (4,), 10, 0)
    with pytest.raises(ValueError, match="nets"):
        networks.loss_gap_sides(((8, 4, 1),), 10, (0.1,))
    with pytest.raises(ValueError, match="t"):
        networks.loss_gap_sides(((8, 4),), 10, (-0.1,))
    with pytest.raises(ValueError, match="widths"):
        networks.memorizing_width([4, 8], [0.1])


def test_laboratory_is_nested_and_balanced():
    gmm, X = networks.laboratory(12, seed=3)
    assert np.array_equal(networks.laboratory(8, seed=3)[1], X[:8])
    noise = np.random.default_rng(3).standard_normal((12, 2))  # the first 12 of the pool
    np.testing.assert_allclose(X - gmm.means[np.arange(12) % 4], noise, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"ns": (8,)}, "missing"),
        ({"ns": np.empty(0), "widths": (4,)}, r"settings\['ns'\] must be a non-empty"),
        ({"ns": (8,), "widths": np.full((2, 3), 0.5)}, r"settings\['widths'\] must be an integer"),
        ({"ns": [1.0, None], "widths": (4,)}, r"settings\['ns'\] must be an integer"),
    ],
)
def test_loss_gap_pairs_names_a_bad_setting(settings, match):
    """Found by the fuzz harness: IndexError and KeyError."""
    with pytest.raises(ValueError, match=match):
        networks.loss_gap_pairs(settings)
