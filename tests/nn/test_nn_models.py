"""The MLP networks: shapes, units, parameter counts (paper 002), dtypes and validation."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from diffmem_theory.nn.models import (
    FourierFeatures,
    mlp,
    numpy_callable,
    paper_002_network,
    paper_002_parameter_count,
    parameter_count,
)

KEY = jax.random.key(0)


def test_paper_002_printed_counts():
    assert [paper_002_parameter_count(w) for w in (8, 32, 128)] == [508, 5068, 69388]


@pytest.mark.parametrize("width", [1, 8, 32])
def test_trainable_count_formula(width):
    assert parameter_count(paper_002_network(width, key=KEY)) == 2 * width**2 + 15 * width + 6


def test_fixed_frequencies_are_not_parameters_and_do_not_move():
    net = mlp(2, 4, 2, key=KEY, learn_fourier=False)
    assert parameter_count(net) == parameter_count(mlp(2, 4, 2, key=KEY)) - 4
    grads = jax.grad(lambda m: m(np.ones((3, 2)), 0.3).sum())(net)
    assert float(np.abs(grads.time_features.frequencies).max()) == 0.0


def test_general_depth_count():
    d, w, depth, e = 3, 5, 4, 8
    want = (d + e) * w + w + (depth - 1) * (w * w + w) + w * d + d + e // 2
    assert parameter_count(mlp(d, w, depth, key=KEY)) == want


def test_batched_equals_rowwise_and_per_row_times():
    net = mlp(2, 8, 3, key=KEY, prediction="eps")
    x = np.random.default_rng(0).standard_normal((4, 2))
    t = np.array([0.1, 0.2, 0.3, 0.4])
    rows = np.stack([np.asarray(net(x[i], t[i])) for i in range(4)])
    np.testing.assert_allclose(np.asarray(net(x, t)), rows, rtol=1e-6)
    assert net(x.reshape(2, 2, 2), t.reshape(2, 2)).shape == (2, 2, 2)


def test_float32_default_and_float64_on_request():
    assert net_dtype(mlp(2, 4, 1, key=KEY)) == np.float32
    with jax.enable_x64(True):
        net = mlp(2, 4, 1, key=KEY, dtype=np.float64)
        assert net_dtype(net) == np.float64
        assert net(np.ones((2, 2)), 0.5).dtype == np.float64


def net_dtype(net):
    return net.layers[0].weight.dtype


def test_float64_without_x64_refused():
    with jax.enable_x64(False), pytest.raises(ValueError, match="jax_enable_x64"):
        mlp(2, 4, 1, key=KEY, dtype=np.float64)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"width": 0}, "width must be >= 1, got 0"),
        ({"depth": 0}, "depth must be >= 1, got 0"),
        ({"data_dim": 0}, "data_dim must be >= 1, got 0"),
        ({"prediction": "v"}, "prediction must be one of"),
        ({"n_fourier": 3}, "n_fourier must be even"),
        ({"fourier_scale": -1.0}, "scale must be > 0"),
        ({"dtype": np.int32}, "dtype must be float32 or float64"),
    ],
)
def test_bad_configurations(kwargs, match):
    args = {"data_dim": 2, "width": 4, "depth": 2} | kwargs
    with pytest.raises(ValueError, match=match):
        mlp(args.pop("data_dim"), args.pop("width"), args.pop("depth"), key=KEY, **args)


def test_wrong_data_dimension_refused():
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., 2\)"):
        mlp(2, 4, 1, key=KEY)(np.ones((3, 5)), 0.5)


def test_numpy_callable():
    f = numpy_callable(mlp(2, 4, 1, key=KEY, prediction="x0"))
    out = f(np.ones((3, 2)), np.full(3, 0.5))
    assert isinstance(out, np.ndarray) and out.dtype == np.float64 and f.prediction == "x0"
    with pytest.raises(TypeError, match=r"model must be an nn\.models\.MLP"):
        numpy_callable(lambda x, t: x)


@pytest.mark.parametrize("name", ["data_dim", "width", "depth", "n_fourier"])
def test_networks_too_large_to_allocate_are_refused(name):
    """Found by the fuzz harness: 2**62 aborted the process or raised NotImplementedError."""
    args = {"data_dim": 2, "width": 4, "depth": 2, "n_fourier": 8} | {name: 2**62}
    with pytest.raises(ValueError, match=f"{name} {2**62}.*GiB of working memory"):
        mlp(args.pop("data_dim"), args.pop("width"), args.pop("depth"), key=KEY, **args)
    with pytest.raises(ValueError, match="n_features = 4611686018427387904"):
        FourierFeatures(2**62, 1.0, True, key=KEY)
    with pytest.raises(ValueError, match="width 4611686018427387904"):
        paper_002_parameter_count(2**62)
