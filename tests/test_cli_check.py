"""`diffmem check` as a CI tool: JSON schema, exit status, selection, precision."""

from __future__ import annotations

import json

import pytest

from diffmem_theory import registry
from diffmem_theory.cli import main
from diffmem_theory.registry import Outcome, check

SCHEMA = {
    "name": str,
    "paper": str,
    "equation": str,
    "description": str,
    "erratum": bool,
    "value": (float, type(None)),
    "reference": (float, type(None)),
    "tolerance": (float, type(None)),
    "passed": bool,
    "status": str,
    "note": str,
    "seconds": float,
    "options": dict,
}


@pytest.fixture
def scratch_registry(monkeypatch):
    monkeypatch.setattr(registry, "_CHECKS", dict(registry._CHECKS))


def _json(capsys) -> list[dict]:
    return json.loads(capsys.readouterr().out)


def test_json_records_follow_the_schema(capsys):
    assert main(["check", "--paper", "002", "--name", "paper002.thm3_2", "--json"]) == 0
    rows = _json(capsys)
    assert rows and all(r["paper"] == "paper002" for r in rows)
    for row in rows:
        assert set(row) == set(SCHEMA)
        for key, kind in SCHEMA.items():
            assert isinstance(row[key], kind), key
        assert row["status"] in ("pass", "fail", "erratum", "error")


def test_precision_and_seed_reach_the_checks_that_take_them(capsys, scratch_registry):
    seen = {}

    @check("core.takes_dps", equation="-")
    def _takes_dps(dps: int = 15, seed: int = 0) -> Outcome:
        seen.update(dps=dps, seed=seed)
        return Outcome(value=float(dps), reference=None, tolerance=None, passed=True)

    @check("core.takes_nothing", equation="-")
    def _takes_nothing() -> Outcome:
        return Outcome(value=0.0, reference=None, tolerance=None, passed=True)

    argv = ["check", "core.takes_dps", "--name", "core.takes_nothing", "--precision", "60"]
    assert main([*argv, "--seed", "3", "--json"]) == 0
    rows = {r["name"]: r for r in _json(capsys)}
    assert seen == {"dps": 60, "seed": 3}
    assert rows["core.takes_dps"]["options"] == {"dps": 60, "seed": 3}
    assert rows["core.takes_dps"]["value"] == 60.0
    assert rows["core.takes_nothing"]["options"] == {}


def test_real_mpmath_check_runs_at_the_requested_precision(capsys):
    assert main(["check", "paper003.gap_integral", "--precision", "45", "--json"]) == 0
    (row,) = _json(capsys)
    assert row["options"]["dps"] == 45 and row["status"] == "pass"


@pytest.mark.parametrize(
    ("passed", "raises", "erratum", "code"),
    [
        (True, False, False, 0),
        (True, False, True, 0),
        (False, False, False, 1),
        (True, True, False, 1),
    ],
)
def test_exit_status(capsys, scratch_registry, passed, raises, erratum, code):
    @check("core.scripted", equation="-", erratum=erratum)
    def _scripted() -> Outcome:
        if raises:
            raise RuntimeError("boom")
        return Outcome(value=1.0, reference=1.0, tolerance=0.0, passed=passed)

    assert main(["check", "core.scripted", "--json"]) == code
    (row,) = _json(capsys)
    expected = "error" if raises else ("erratum" if erratum else "pass") if passed else "fail"
    assert row["status"] == expected
