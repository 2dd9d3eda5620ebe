"""Paper 000's laboratory with MLP denoisers: crossover.networks, paper000.mlp_phase and
paper000.nn_capacity_trend (tiny settings; the quick check itself runs in test_registry)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("jax")

import matplotlib

matplotlib.use("Agg")

from diffmem_theory import nn
from diffmem_theory.crossover import networks
from diffmem_theory.crossover.figures.network import plot_mlp_phase
from diffmem_theory.registry import get_check, get_experiment

TINY = {"widths": (4,), "epochs": 20, "lr": 3e-3, "n_eval": 4}


def test_registered():
    assert get_check("paper000.nn_capacity_trend").name == "paper000.nn_capacity_trend"
    assert get_experiment("paper000.mlp_phase").name == "paper000.mlp_phase"


def test_half_bracket():
    assert networks.half_bracket([1.0, 2.0], [0.6, 1.0], [0.5]) == ((None, 1.0), True)
    assert networks.half_bracket([1.0, 2.0], [0.0, 0.2], [0.5]) == ((2.0, None), None)
    assert networks.half_bracket([1.0, 2.0, 4.0], [0.0, 0.4, 0.9], [1.0, 5.0]) == (
        (2.0, 4.0),
        False,
    )
    with pytest.raises(ValueError, match="x must be > 0"):
        networks.half_bracket([0.0, 1.0], [0.0, 1.0], [0.5])


def test_trained_denoiser_cached_and_seeded():
    a = networks.trained_denoiser(4, epochs=20, lr=3e-3, seed=0)
    assert a is networks.trained_denoiser(4, epochs=20, lr=3e-3, seed=0)
    b = networks.trained_denoiser(4, epochs=20, lr=3e-3, seed=1)
    assert not bool((a.layers[0].weight == b.layers[0].weight).all())
    assert a.prediction == "eps" and a.data_dim == networks.LAB["d"]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"width": 0}, "width"), ({"epochs": 0}, "epochs"), ({"lr": -1.0}, "lr"), ({"N": 0}, "N")],
)
def test_trained_denoiser_bad_settings(kwargs, name):
    args = {"width": 4, "epochs": 10, "lr": 1e-3, **kwargs}
    with pytest.raises(ValueError, match=name):
        networks.trained_denoiser(args.pop("width"), **args)


def test_network_phase_tiny():
    out = networks.network_phase(seed=0, **TINY)
    P = nn.parameter_count(networks.trained_denoiser(4, epochs=20, lr=3e-3))
    assert out["P"].tolist() == [P]
    np.testing.assert_allclose(out["x"], [P / (out["N"] * out["d"])])
    assert out["ratio"].shape == (1,) and out["n_eval"] == 4
    assert 0.0 < out["crossover_x0"] < out["crossover_psi"] <= 1.0
    assert networks.network_phase(seed=0, **TINY)["ratio"].tolist() == out["ratio"].tolist()


def test_network_phase_bad_settings():
    with pytest.raises(ValueError, match="widths"):
        networks.network_phase(widths=(8, 4), epochs=5)
    with pytest.raises(TypeError, match="widths"):
        networks.network_phase(widths=[4, 8], epochs=5)
    with pytest.raises(ValueError, match="n_eval"):
        networks.network_phase(widths=(4,), epochs=5, n_eval=0)


def test_plot_draws_both_sides():
    net = networks.network_phase(seed=0, **TINY)
    gmm = {"x": np.array([0.5, 1.0]), "ratio": np.array([0.0, 1.0]), "n_eval": 50}
    fig = plot_mlp_phase({"network": net, "gmm": gmm})
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and len(ax.get_legend().get_texts()) == 4
    matplotlib.pyplot.close(fig)


@pytest.mark.slow
def test_quick_experiment_runs():
    spec = get_experiment("paper000.mlp_phase")
    res = spec.run(quick=True, seed=0)
    assert res["network"]["predicted"] is not None
    assert res["gmm"]["ratio"][-1] >= 0.5
    matplotlib.pyplot.close(spec.plot(res))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"width": 2**62}, "width 4611686018427387904"),
        ({"epochs": 2**62}, "epochs must be <= 1000000000"),
    ],
)
def test_sizes_that_cannot_be_allocated_or_run_are_named(kwargs, match):
    """Found by the fuzz harness: NotImplementedError (width) and a hang (epochs)."""
    with pytest.raises(ValueError, match=match):
        networks.trained_denoiser(**({"width": 4, "epochs": 10, "lr": 1e-3} | kwargs))
