"""nn.save / nn.load: one file, the architecture in its header, the same network back."""

from __future__ import annotations

import json
import os

import equinox as eqx
import jax
import numpy as np
import pytest

from diffmem_theory import nn
from diffmem_theory.nn.serialization import FORMAT, read_header


def _same_outputs(a, b, d):
    x = np.random.default_rng(0).normal(size=(7, d))
    t = np.linspace(0.05, 0.95, 7)
    return np.array_equal(np.asarray(a(x, t)), np.asarray(b(x, t)))


@pytest.mark.parametrize(
    "settings",
    [
        dict(data_dim=3, width=8, depth=2, prediction="eps"),
        dict(data_dim=5, width=4, depth=1, prediction="x0", n_fourier=4, learn_fourier=False),
        dict(data_dim=2, width=16, depth=3, prediction="score", fourier_scale=7.0),
    ],
)
def test_round_trip_is_bit_identical(tmp_path, settings):
    net = nn.mlp(key=jax.random.key(3), **settings)
    path = tmp_path / "net.eqx"
    nn.save(path, net, schedule="VPTrig", metadata={"epochs": 12})
    back = nn.load(path)
    assert back.prediction == net.prediction and back.data_dim == net.data_dim
    assert back.time_features.learnable == net.time_features.learnable
    for a, b in zip(jax.tree.leaves(net), jax.tree.leaves(back), strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(b)) and a.dtype == b.dtype
    assert _same_outputs(net, back, net.data_dim)
    header = read_header(path)
    assert header["format"] == FORMAT and header["metadata"] == {"epochs": 12}
    assert header["schedule"] == "VPTrig(T=1.0)"
    assert (header["width"], header["depth"]) == (settings["width"], settings["depth"])


def test_trained_network_round_trip(tmp_path):
    res = nn.train(nn.mlp(2, 8, 2, key=jax.random.key(0)), np.eye(2), "VPTrig", epochs=30,
                   progress=False)  # fmt: skip
    nn.save(str(tmp_path / "ema.eqx"), res.ema)
    assert _same_outputs(res.ema, nn.load(str(tmp_path / "ema.eqx")), 2)


def test_float64_network(tmp_path):
    with jax.enable_x64(True):
        net = nn.mlp(2, 4, 1, key=jax.random.key(1), dtype=np.float64)
        nn.save(tmp_path / "f64.eqx", net)
        back = nn.load(tmp_path / "f64.eqx")
        assert back.layers[0].weight.dtype == np.float64
        assert _same_outputs(net, back, 2)
    with pytest.raises(ValueError, match=r"f64\.eqx.*64-bit mode"):
        nn.load(tmp_path / "f64.eqx")


def test_save_replaces_atomically_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "net.eqx"
    nn.save(path, nn.mlp(2, 4, 1, key=jax.random.key(0)))
    nn.save(path, nn.mlp(2, 6, 1, key=jax.random.key(0)))
    assert read_header(path)["width"] == 6
    assert os.listdir(tmp_path) == ["net.eqx"]
    with pytest.raises(TypeError, match="metadata must be JSON-serializable"):
        nn.save(path, nn.mlp(2, 4, 1, key=jax.random.key(0)), metadata={"x": object()})
    assert read_header(path)["width"] == 6 and os.listdir(tmp_path) == ["net.eqx"]


def _corrupt(path, tmp_path, how):
    data = path.read_bytes()
    header, _, body = data.partition(b"\n")
    out = tmp_path / f"bad_{how}.eqx"
    if how == "truncated":
        out.write_bytes(data[: len(header) + 1 + len(body) // 2])
    elif how == "trailing":
        out.write_bytes(data + b"\0")
    elif how == "not_json":
        out.write_bytes(b"\x89PNG\r\n" + body)
    elif how == "other_format":
        out.write_bytes(json.dumps({"format": "something/2"}).encode() + b"\n" + body)
    elif how == "wrong_width":
        fields = json.loads(header)
        fields["width"] = 5
        out.write_bytes(json.dumps(fields).encode() + b"\n" + body)
    elif how == "bad_field":
        fields = json.loads(header)
        fields["depth"] = -1
        out.write_bytes(json.dumps(fields).encode() + b"\n" + body)
    elif how == "empty":
        out.write_bytes(b"")
    return out


@pytest.mark.parametrize(
    ("how", "match"),
    [
        ("truncated", "truncated, corrupt.*EOF"),
        ("trailing", "do not fit its header"),
        ("not_json", "not a JSON header"),
        ("other_format", "format is 'something/2'"),
        ("wrong_width", "do not fit its header.*changed shape"),
        ("bad_field", "depth must be a positive integer"),
        ("empty", "not a JSON header"),
    ],
)
def test_bad_file_is_a_value_error_naming_it(tmp_path, how, match):
    path = tmp_path / "net.eqx"
    nn.save(path, nn.mlp(3, 8, 2, key=jax.random.key(0)))
    bad = _corrupt(path, tmp_path, how)
    with pytest.raises(ValueError, match=match) as err:
        nn.load(bad)
    assert f"bad_{how}.eqx" in str(err.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ValueError, match=r"cannot read the network file .*nope\.eqx"):
        nn.load(tmp_path / "nope.eqx")
    with pytest.raises(ValueError, match=r"directory .*missing.* does not exist"):
        nn.save(tmp_path / "missing" / "net.eqx", nn.mlp(2, 4, 1, key=jax.random.key(0)))


def test_saved_file_has_the_permissions_of_a_new_file(tmp_path):
    (tmp_path / "plain").write_bytes(b"")
    nn.save(tmp_path / "net.eqx", nn.mlp(2, 4, 1, key=jax.random.key(0)))
    assert (tmp_path / "net.eqx").stat().st_mode == (tmp_path / "plain").stat().st_mode
    with pytest.raises(ValueError, match="is a directory"):
        nn.save(tmp_path, nn.mlp(2, 4, 1, key=jax.random.key(0)))


def test_only_networks_built_by_mlp(tmp_path):
    with pytest.raises(TypeError, match=r"model must be an nn\.MLP"):
        nn.save(tmp_path / "x.eqx", {"weights": np.ones(3)})
    res = nn.train(nn.mlp(2, 4, 1, key=jax.random.key(0)), np.eye(2), "VPTrig", epochs=2,
                   progress=False)  # fmt: skip
    with pytest.raises(TypeError, match=r"got TrainResult \(save its \.ema or \.model\)"):
        nn.save(tmp_path / "x.eqx", res)
    net = nn.mlp(2, 4, 2, key=jax.random.key(0))
    ragged = eqx.tree_at(
        lambda m: m.layers, net, (net.layers[0], eqx.nn.Linear(4, 3, key=jax.random.key(1)))
    )
    with pytest.raises(ValueError, match=r"built by nn\.mlp"):
        nn.save(tmp_path / "x.eqx", ragged)
