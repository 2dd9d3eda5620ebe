"""The audit's worked example: the digits split, the two networks written as files, and
``diffmem audit`` run on those files (the notebook ``audit_digits.ipynb`` runs the real
settings and asserts that the audit tells the two networks apart)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("jax")
pytest.importorskip("sklearn")

from diffmem_theory.audit import example
from diffmem_theory.cli import main

TINY = {
    "n_train": 6,
    "replicas": 2,
    "memorizing": {"width": 8, "epochs": 20, "lr": 1e-3},
    "generalizing": {"width": 4, "epochs": 10, "lr": 1e-3},
}


def test_split_is_disjoint_and_keeps_the_images():
    train, held = example.digits_split(20)
    assert train.x.shape == (20, 64) and held.x.shape == (359, 64)
    assert train.image_shape == held.image_shape == (8, 8)
    assert len(train.labels) == 20
    rows = {r.tobytes() for r in held.x}
    assert not any(r.tobytes() in rows for r in train.x if r.tobytes())  # no digit in both
    assert np.array_equal(example.digits_split(20)[0].x, train.x)  # seeded


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ("quick", "settings must be a dict"),
        ({**TINY, "n_train": 0}, "n_train"),
        ({**TINY, "replicas": 0}, "replicas"),
        ({**TINY, "memorizing": {"width": 8}}, "settings\\['memorizing'\\]"),
        ({**TINY, "generalizing": {"width": 0, "epochs": 1, "lr": 1e-3}}, "width"),
        ({**TINY, "n_train": 5000}, "n_train must be <= 1438"),
    ],
)
def test_bad_settings_are_named(settings, match):
    with pytest.raises((ValueError, TypeError), match=match):
        example.train_networks(settings=settings)


def test_files_audited_by_the_cli(tmp_path, capsys):
    paths = example.write_files(tmp_path / "ex", settings=TINY)
    assert np.load(paths["train"]).shape == (6, 8, 8)
    status = main(
        [
            "audit", "--data", str(paths["train"]), "--held-out", str(paths["held_out"]),
            "--scale", "none", "--model", str(paths["memorizing"]), "--sections", "memorization",
            "--n-samples", "12", "--steps", "4", "--no-progress", "--json",
            "--out", str(tmp_path / "report"),
        ]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert status == 0, err
    doc = json.loads(out)
    assert (doc["inputs"]["n_train"], doc["inputs"]["n_held_out"]) == (6, 359)
    assert doc["inputs"]["data"]["held_out"] == "given"
    (sec,) = doc["sections"]
    assert "memorization_nearest_images.png" in sec["figures"]
    for name in sec["figures"]:
        assert (tmp_path / "report" / name).stat().st_size > 0
    assert np.load(tmp_path / "report" / "samples.npy").shape == (12, 64)


def test_main_reports_bad_input_in_one_line(tmp_path, capsys):
    assert example.main([str(tmp_path / "x"), "--seed", "-1"]) == 2
    assert "seed" in capsys.readouterr().err
