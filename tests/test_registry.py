"""The check/experiment registry: registration, statuses, discovery and selection."""

from __future__ import annotations

import pytest

from diffmem_theory import registry
from diffmem_theory.registry import Outcome, check, list_checks, list_experiments


def _spec(passed: bool, *, erratum: bool = False, raises: bool = False):
    def func(seed: int = 0) -> Outcome:
        if raises:
            raise RuntimeError("boom")
        return Outcome(value=float(seed), reference=0.0, tolerance=0.5, passed=passed)

    return check("core.test_only", equation="eq. (0)", erratum=erratum, register=False)(func)


@pytest.mark.parametrize(
    ("passed", "erratum", "raises", "status"),
    [
        (True, False, False, "pass"),
        (False, False, False, "fail"),
        (True, True, False, "erratum"),
        (False, True, False, "fail"),
        (True, False, True, "error"),
    ],
)
def test_status_reflects_outcome(passed, erratum, raises, status):
    result = _spec(passed, erratum=erratum, raises=raises).run(seed=3)
    assert result.status == status
    assert result.passed == (status in ("pass", "erratum"))
    if status == "error":
        assert "boom" in result.note and result.value is None
    else:
        assert result.value == 3.0  # the seed option reached the function


def test_options_not_in_signature_are_dropped():
    spec = check("core.no_options", equation="-", register=False)(
        lambda: Outcome(value=1.0, reference=1.0, tolerance=0.0, passed=True)
    )
    assert spec.run(seed=5, dps=50, quick=False).status == "pass"


def test_non_outcome_return_is_an_error():
    spec = check("core.bad_return", equation="-", register=False)(lambda: 1.0)
    assert spec.run().status == "error"


@pytest.mark.parametrize("name", ["nodot", "paper999.x", "core"])
def test_bad_names_rejected(name):
    with pytest.raises(ValueError, match="name must look like"):
        check(name, equation="-", register=False)(lambda: None)


def test_duplicate_registration_rejected(monkeypatch):
    monkeypatch.setattr(registry, "_CHECKS", {})

    @check("core.dup", equation="-")
    def first() -> Outcome:
        return Outcome(1.0, 1.0, 0.0, True)

    with pytest.raises(ValueError, match="already registered"):

        @check("core.dup", equation="-")
        def second() -> Outcome:
            return Outcome(1.0, 1.0, 0.0, True)


def test_discovery_finds_registered_checks_and_experiments():
    checks = list_checks()
    assert checks, "no checks registered"
    assert [c.name for c in checks] == sorted(c.name for c in checks)
    assert all(c.description for c in checks), "every check needs a one-line statement"
    assert list_experiments(), "no experiments registered"


def test_selection_by_paper_and_prefix():
    everything = list_checks()
    core = list_checks(paper="core")
    assert core and all(c.paper == "core" for c in core)
    assert list_checks(paper="000") == list_checks(paper="paper000")
    first = everything[0].name
    assert [c.name for c in list_checks(names=[first])] == [first]
    with pytest.raises(ValueError, match="unknown check"):
        list_checks(names=["paper000.no_such_check"])
    with pytest.raises(ValueError, match="paper must be one of"):
        list_checks(paper="007")


def test_every_registered_check_passes():
    """The registry's own statement: each check's prediction meets its independent computation."""
    results = [spec.run(seed=0) for spec in list_checks()]
    bad = [(r.name, r.status, r.note[:300]) for r in results if not r.passed]
    assert not bad, bad
