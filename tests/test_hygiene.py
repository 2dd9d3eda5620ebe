"""The test suite must pass on any machine: no timed assertions, no doctest on a float's last bits.

A loaded machine makes any wall-time assertion flaky, and another libm, BLAS or CPU can change
the last bits of a float64 result; doctests therefore print rounded values (mpmath output at a
stated precision is exact and may print every digit).
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import diffmem_theory

ROOT = Path(__file__).resolve().parents[1]

# A float printed with 16 or more significant digits (e.g. 0.6666666666666666 or
# 0.8301798200000001): its last digit is the last bit of a float64 and may differ elsewhere.
FULL_PRECISION = re.compile(r"(?<![\w.])-?\d+\.\d+(?:e[+-]?\d+)?")
TIMED = re.compile(r"assert\b.*\b(seconds|elapsed|wall_time|perf_counter|monotonic)\b.*[<>]")


def _significant_digits(literal: str) -> int:
    mantissa = literal.lstrip("-").split("e")[0].replace(".", "").lstrip("0")
    return len(mantissa)


def _modules() -> list[str]:
    names = ["diffmem_theory"]
    names += [m.name for m in pkgutil.walk_packages(diffmem_theory.__path__, "diffmem_theory.")]
    return sorted(names)


def full_precision_floats(want: str) -> list[str]:
    """The float literals of a doctest's expected output with >= 16 significant digits.

    >>> full_precision_floats("{'ratio': 0.6666666666666667} 0.25 1e-300")
    ['0.6666666666666667']
    """
    return [s for s in FULL_PRECISION.findall(want) if _significant_digits(s) >= 16]


@pytest.mark.parametrize("module", _modules())
def test_doctests_print_rounded_floats(module):
    mod = importlib.import_module(module)
    bad = []
    for test in doctest.DocTestFinder(exclude_empty=True).find(mod, module):
        for example in test.examples:
            if "mpmath" in example.source or "nstr" in example.source:
                continue  # arbitrary precision: every printed digit is exact
            for literal in full_precision_floats(example.want):
                bad.append(f"{test.name}: {example.source.strip()} -> {literal}")
    assert not bad, "doctests that depend on the last bits of a float:\n" + "\n".join(bad)


def test_readme_examples_print_rounded_floats():
    text = (ROOT / "README.md").read_text()
    examples = doctest.DocTestParser().get_examples(text)
    bad = [
        f"{ex.source.strip()} -> {lit}"
        for ex in examples
        if "mpmath" not in ex.source
        for lit in full_precision_floats(ex.want)
    ]
    assert not bad, bad


def test_no_timed_assertions():
    bad = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if path.name == Path(__file__).name:
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if TIMED.search(line):
                bad.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not bad, "tests that assert on wall time:\n" + "\n".join(bad)


def test_check_status_does_not_depend_on_wall_time(monkeypatch):
    """A check's pass/fail comes from its value, never from how long it took: a clock that
    jumps by a day during the run changes the recorded seconds, not the status."""
    from diffmem_theory import registry

    ticks = iter(range(0, 10**9, 86_400))
    monkeypatch.setattr(registry.time, "perf_counter", lambda: float(next(ticks)))
    result = registry.get_check("paper000.erratum_coupon_c4").run()
    assert result.seconds >= 86_400
    assert result.status == "erratum" and result.passed


def test_test_modules_have_distinct_names():
    """Tests live in one folder per package (``tests/core``, ``tests/voronoi``, ...) without
    ``__init__.py``; pytest imports them by file name, so two test files of the same name in
    different folders would stop the whole run at collection."""
    names = [p.name for p in (ROOT / "tests").rglob("test_*.py")]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})
