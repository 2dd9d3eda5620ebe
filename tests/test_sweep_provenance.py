"""A sweep folder holds one sweep: what produced each result is recorded, and mixing is refused.

Before: an ``--out`` folder holding another sweep's results (or another mode's, or results
computed with other library versions) was accepted and the results mixed silently.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from diffmem_theory import sweep
from diffmem_theory.sweep import load_results, result_path, run_sweep

TASK = f"{__name__}:square"
CONFIGS = [{"x": x} for x in range(3)]


def square(config: dict) -> dict:
    return {"square": config["x"] ** 2}


def _run(out, **kwargs) -> list[dict]:
    return run_sweep(TASK, CONFIGS, out, workers=1, progress=False, **kwargs)


def _snapshot(out) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


def test_every_file_and_the_folder_record_what_produced_them(tmp_path):
    _run(tmp_path, name="core.toy", mode="quick")
    manifest = json.loads((tmp_path / sweep.MANIFEST).read_text())
    env = manifest["environment"]
    assert env["numpy"] == np.__version__ and {"python", "platform", "numba", "scipy"} <= set(env)
    assert len(manifest["fingerprint"]) == 16
    for record in load_results(tmp_path):
        for field in ("task", "sweep", "mode", "fingerprint", "environment"):
            assert record[field] == manifest[field]
        assert (record["task"], record["sweep"], record["mode"]) == (TASK, "core.toy", "quick")


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        ({"name": "core.toy", "mode": "quick"}, {"name": "core.toy", "mode": "full"}, "(full)"),
        ({"name": "core.toy", "mode": "quick"}, {"name": "core.other", "mode": "quick"}, "other"),
        ({"name": "core.toy"}, {}, "not of an unnamed sweep"),
    ],
)
def test_another_sweep_or_mode_is_refused_before_anything_runs(tmp_path, first, second, message):
    _run(tmp_path, **first)
    before = _snapshot(tmp_path)
    with pytest.raises(ValueError, match="use another out_dir") as err:
        _run(tmp_path, **second)
    assert "holds results of sweep 'core.toy'" in str(err.value) and message in str(err.value)
    assert _snapshot(tmp_path) == before
    assert [r["status"] for r in _run(tmp_path, **first)] == ["skipped"] * 3


def test_results_of_another_environment_are_refused(tmp_path):
    _run(tmp_path, name="core.toy", mode="quick")
    path = tmp_path / sweep.MANIFEST
    manifest = json.loads(path.read_text())
    manifest["environment"]["numpy"] = "1.0.0"
    manifest["fingerprint"] = "0" * 16
    path.write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=rf"numpy 1\.0\.0 there, {np.__version__} here"):
        _run(tmp_path, name="core.toy", mode="quick")


def test_a_result_file_of_another_sweep_is_refused(tmp_path):
    _run(tmp_path / "a", name="core.toy", mode="full")
    _run(
        tmp_path / "b",
        name="core.toy",
        mode="quick",
    )
    stray = result_path(tmp_path / "a", CONFIGS[1])
    result_path(tmp_path / "b", CONFIGS[1]).write_bytes(stray.read_bytes())
    with pytest.raises(ValueError, match=r"\(full\), not of sweep 'core.toy' \(quick\)"):
        _run(tmp_path / "b", name="core.toy", mode="quick")


def test_a_folder_of_files_without_a_record_is_refused(tmp_path):
    (tmp_path / "x=0.json").write_text('{"config": {"x": 0}, "result": {"square": 0}}')
    with pytest.raises(ValueError, match=r"no sweep\.manifest"):
        _run(tmp_path)
    (tmp_path / "x=0.json").unlink()
    (tmp_path / "notes.txt").write_text("not a result")  # other files do not matter
    assert [r["status"] for r in _run(tmp_path)] == ["done"] * 3


def test_a_run_from_a_worker_with_another_environment_is_not_kept(tmp_path):
    """Dask workers may run other versions than the client: such a run is a failure."""
    ident = sweep._identity(TASK, None, None)
    book = sweep._Book(tmp_path, ident, CONFIGS, ["x=0", "x=1", "x=2"], bar=None)
    book.bar = type("Bar", (), {"update": lambda *a: None, "set_postfix": lambda *a, **k: None})()
    outcome = {"status": "done", "result": {"square": 0}, "attempts": 1, "seconds": 0.0}
    book.record(0, {**outcome, "environment": ident["environment"]})
    book.record(1, {**outcome, "environment": {**ident["environment"], "numpy": "1.0.0"}})
    assert book.records[0]["status"] == "done"
    assert book.records[1]["status"] == "failed" and "numpy 1.0.0" in book.records[1]["error"]
    assert [r["key"] for r in load_results(tmp_path)] == ["x=0"]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [({"mode": "fast"}, "mode must be one of"), ({"name": ""}, "name must be")],
)
def test_bad_name_or_mode(tmp_path, kwargs, error):
    with pytest.raises(ValueError, match=error):
        _run(tmp_path, **kwargs)
