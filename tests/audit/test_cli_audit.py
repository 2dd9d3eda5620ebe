"""``diffmem audit``: the report's JSON schema, the exit codes (0 done, 1 a section failed, 2 bad
arguments or inputs, one line and no traceback), and the same report for a model given in eps
units and in x0 units."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest

from diffmem_theory.cli import main
from diffmem_theory.data import digits

FAST = ["--n-samples", "10", "--steps", "5", "--no-progress"]


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "digits60.npy"
    np.save(path, digits(limit=60).x)
    return path


def _audit(capsys, *args):
    status = main(["audit", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


def test_json_schema_files_and_exit_0(capsys, data_file, tmp_path):
    status, out, err = _audit(
        capsys,
        "--data", data_file, "--model", "empirical", "--out", tmp_path / "r",
        "--sections", "memorization", "--held-out", "12", "--json", *FAST,
    )  # fmt: skip
    assert status == 0, err
    doc = json.loads(out)
    assert set(doc) == {"version", "inputs", "sections", "errors", "timings", "environment"}
    assert doc["version"] == 1 and doc["errors"] == []
    inputs = doc["inputs"]
    assert (inputs["n_train"], inputs["n_held_out"], inputs["d"]) == (48, 12, 64)
    assert inputs["model"].startswith("empirical") and inputs["n_samples"] == 10
    assert inputs["data"]["source"] == str(data_file)
    (sec,) = doc["sections"]
    assert sec["key"] == "memorization" and sec["title"] and sec["theorem"]
    assert sec["values"] and all(v["source"] for v in sec["values"])
    for v in sec["values"]:
        assert set(v) == {"name", "value", "se", "source", "note"}
    assert json.loads((tmp_path / "r" / "report.json").read_text()) == doc
    page = (tmp_path / "r" / "index.html").read_text()
    assert "<script" not in page
    for name in sec["figures"]:
        assert (tmp_path / "r" / name).read_bytes()[:4] == b"\x89PNG"
        assert f"src='{name}'" in page


def test_text_summary(capsys, data_file, tmp_path):
    status, out, _ = _audit(
        capsys, "--data", data_file, "--model", "empirical", "--out", tmp_path,
        "--sections", "memorization", *FAST,
    )  # fmt: skip
    assert status == 0
    assert out.startswith("diffmem audit of model 'empirical (memorizing denoiser")
    assert "[memorization]" in out and f"report: {tmp_path / 'index.html'}" in out


@pytest.mark.parametrize("scale", ["none", "[-1,1]"])
def test_scale_of_the_data_file(capsys, tmp_path, scale):
    """The data reach the model in the units it was trained on: --scale none keeps them."""
    path = tmp_path / "pm1.npy"
    np.save(path, 2.0 * digits(limit=60).x - 1.0)
    status, out, err = _audit(
        capsys, "--data", path, "--model", "empirical", "--out", tmp_path / "r", "--scale", scale,
        "--sections", "memorization", "--held-out", "0", "--json", *FAST,
    )  # fmt: skip
    assert status == 0, err
    data = json.loads(out)["inputs"]["data"]
    assert data["scale"] == scale and data["held_out"] == "none"
    assert data["value_range"] == (None if scale == "none" else [-1.0, 1.0])


def test_a_failing_section_exits_1(capsys, data_file, tmp_path, monkeypatch):
    broken = types.ModuleType("diffmem_theory.audit.mixing")

    def section(inputs):
        raise RuntimeError("boom")

    broken.section = section
    monkeypatch.setitem(sys.modules, "diffmem_theory.audit.mixing", broken)
    status, out, err = _audit(
        capsys, "--data", data_file, "--model", "empirical", "--out", tmp_path,
        "--sections", "memorization,mixing", "--json", *FAST,
    )  # fmt: skip
    assert status == 1
    doc = json.loads(out)
    assert [s["key"] for s in doc["sections"]] == ["memorization"]
    assert doc["errors"][0]["section"] == "mixing"
    assert doc["errors"][0]["message"] == "RuntimeError: boom"
    assert "RuntimeError: boom" in err and (tmp_path / "index.html").exists()


def _refused(capsys, args, match):
    status, out, err = _audit(capsys, *args)
    assert status == 2, (out, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith(("diffmem: error: ", "diffmem audit: error: "))
    assert match in err, err


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--held-out", "1.5"], "argument --held-out"),
        (["--held-out", "abc"], "argument --held-out"),
        (["--held-out", "60"], "held_out"),
        (["--sections", "memorization,nope"], "argument --sections"),
        (["--schedule", "nope"], "schedule"),
        (["--n-samples", "0"], "argument --n-samples"),
        (["--prediction", "logits"], "argument --prediction"),
        (["--seed", "-1"], "argument --seed"),
        (["--scale", "[0,255]"], "argument --scale"),
        (["--option", "crossover"], "argument --option"),
        (["--option", "nope.k=1"], "argument --option"),
        (["--option", "crossover.nope=1"], "options['crossover'] does not fit"),
        (["--option", "crossover.k=1", "--sections", "mixing"], "not run"),
    ],
)
def test_bad_arguments_exit_2(capsys, data_file, tmp_path, extra, match):
    args = ["--data", data_file, "--model", "empirical", "--out", tmp_path, *FAST, *extra]
    _refused(capsys, args, match)


def test_bad_inputs_exit_2(capsys, data_file, tmp_path):
    x = digits(limit=60).x
    nan = tmp_path / "nan.npy"
    np.save(nan, np.where(x > 0.5, np.nan, x))
    base = ["--model", "empirical", *FAST]
    _refused(capsys, ["--data", nan, "--out", tmp_path / "a", *base], "nan.npy")
    _refused(capsys, ["--data", tmp_path / "missing.npy", "--out", tmp_path, *base], "missing")
    samples = tmp_path / "s.npy"
    np.save(samples, np.zeros((5, 10)))
    _refused(
        capsys,
        ["--data", data_file, "--samples", samples, "--out", tmp_path / "b", *base],
        "samples must have shape (B, 64)",
    )
    out_file = tmp_path / "file"
    out_file.write_text("")
    _refused(capsys, ["--data", data_file, "--out", out_file, *base], "--out")


MODELS = """
import numpy as np
from diffmem_theory.core.distributions import IsotropicGaussianMixture
from diffmem_theory.core.schedules import VPTrig
from diffmem_theory.data import digits

LAW = IsotropicGaussianMixture(digits(limit=5).x, 0.05)


def x0(x, t):
    return LAW.denoiser(x, t, VPTrig(), prediction="x0")


def eps(x, t):
    return LAW.denoiser(x, t, VPTrig(), prediction="eps")


def short(x, t):
    return x[:, :3]


def nan(x, t):
    return x * np.nan
"""


@pytest.fixture(scope="module")
def models_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "my_models.py"
    path.write_text(MODELS)
    return path


def test_eps_and_x0_units_give_the_same_report(capsys, data_file, models_file, tmp_path):
    docs = []
    for unit in ("x0", "eps"):
        status, out, err = _audit(
            capsys, "--data", data_file, "--model", f"{models_file}:{unit}", "--prediction", unit,
            "--out", tmp_path / unit, "--sections", "memorization,crossover,leakage",
            "--option", "crossover.n_points=20", "--option", "crossover.t_law=continuous",
            "--json", *FAST,
        )  # fmt: skip
        assert status == 0, err
        docs.append(json.loads(out))
    a, b = (d["sections"] for d in docs)
    assert [s["key"] for s in a] == ["memorization", "crossover", "leakage"]
    assert docs[0]["inputs"]["options"]["crossover"] == {"n_points": 20, "t_law": "continuous"}
    for sa, sb in zip(a, b, strict=True):
        for va, vb in zip(sa["values"], sb["values"], strict=True):
            assert va["name"] == vb["name"]
            if isinstance(va["value"], float):
                assert va["value"] == pytest.approx(vb["value"], rel=1e-9, abs=1e-12), va["name"]
            else:
                assert va["value"] == vb["value"], va["name"]


@pytest.mark.parametrize(
    ("model", "extra", "match"),
    [
        ("{models}:x0", [], "prediction is required"),
        ("{models}:short", ["--prediction", "x0"], "shape"),
        ("{models}:nan", ["--prediction", "eps"], "NaN"),
        ("{models}:missing", ["--prediction", "x0"], "missing"),
        ("gmm:0", [], "gmm:K"),
        ("no_such_model", [], "not a known model"),
        ("empirical", ["--prediction", "eps"], "prediction must not be given"),
    ],
)
def test_bad_models_exit_2(capsys, data_file, models_file, tmp_path, model, extra, match):
    spec = model.format(models=models_file)
    args = ["--data", data_file, "--model", spec, "--out", tmp_path, *FAST, *extra]
    _refused(capsys, args, match)


def test_a_saved_network(capsys, data_file, tmp_path):
    """A network saved by nn.save is audited from its file (it knows its unit and schedule)."""
    jax = pytest.importorskip("jax")
    from diffmem_theory import nn

    path = tmp_path / "net.eqx"
    nn.save(path, nn.mlp(64, 16, 2, key=jax.random.key(0), prediction="eps"), schedule="VPTrig")
    args = ["--data", data_file, "--model", path, "--sections", "memorization", *FAST]
    status, out, err = _audit(capsys, *args, "--out", tmp_path / "r", "--json")
    assert status == 0, err
    inputs = json.loads(out)["inputs"]
    assert inputs["model"].startswith("saved network net.eqx") and inputs["prediction"] == "eps"
    _refused(capsys, [*args, "--out", tmp_path / "s", "--schedule", "OU"], "trained on")
    _refused(capsys, [*args, "--out", tmp_path / "t", "--prediction", "x0"], "prediction")
