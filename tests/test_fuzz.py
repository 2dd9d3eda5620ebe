"""The fuzz suite (issue 14, item 9): every public callable, one argument mutated per call.

The harness is ``tests/fuzzing.py``: base calls from the docstring examples, hypothesis strategies
of bad and extreme arguments, an oracle that allows a ``ValueError``/``TypeError`` or a finite
result, and child processes so that a crash or a hang is a finding, not a dead pytest.

* default ``pytest``: a fixed sample (``fuzzing.SAMPLE_CASES`` mutated calls per callable, chosen
  by a seed fixed by the callable's name), the modules shared between two child processes;
* ``pytest -m slow``: every callable x every mutation kind, one child per module.

The deliberately broken functions of ``tests/fuzz_selftest.py`` check that the harness sees each
kind of failure (``test_fuzz_harness_*``).
"""

from __future__ import annotations

import warnings

import fuzzing
import numpy as np
import pytest

MODULES = fuzzing.public_modules()


def _report(records: list[fuzzing.Record]) -> str:
    lines = [fuzzing.format_record(r) for r in records[:40]]
    more = len(records) - len(lines)
    return "\n".join(lines + ([f"... and {more} more"] if more > 0 else []))


@pytest.fixture(scope="module")
def sample() -> fuzzing.RunResult:
    return fuzzing.run(fuzzing.discover_targets(), "sample", jobs=2)


@pytest.mark.parametrize("module", MODULES)
def test_fuzz_sample(sample: fuzzing.RunResult, module: str) -> None:
    """A fixed sample of mutated calls: each a clean error or a finite result."""
    failures = sample.failures(module)
    assert not failures, f"{len(failures)} fuzz findings in {module}:\n{_report(failures)}"


def test_fuzz_sample_reaches_the_callables(sample: fuzzing.RunResult) -> None:
    """Fuzzing only means something where a valid base call exists: most callables have one
    (from their docstring examples) and are actually mutated."""
    infos = list(sample.targets.values())
    with_base = [i for i in infos if i.error is None]
    assert len(infos) >= 400
    assert len(with_base) >= 0.95 * len(infos), [i.target for i in infos if i.error][:20]
    mutated = {r.target for r in sample.records if r.param is not None}
    assert len(mutated) >= 0.9 * len(with_base)


def test_fuzz_exclusions_are_public_callables() -> None:
    """Every exclusion names a callable that exists (a renamed one would hide nothing)."""
    for name in fuzzing.EXCLUDED:
        module, _, qualname = name.rpartition(".")
        if qualname and module.rsplit(".", 1)[-1][:1].isupper():  # a method: module.Class.meth
            module, _, owner = module.rpartition(".")
            qualname = f"{owner}.{qualname}"
        obj = __import__(module, fromlist=["_"])
        for part in qualname.split("."):
            obj = getattr(obj, part)
        assert callable(obj), name


@pytest.mark.slow
@pytest.mark.parametrize("module", MODULES)
def test_fuzz_full(module: str) -> None:
    """Every callable of ``module`` x every mutation kind."""
    result = fuzzing.run(fuzzing.discover_targets([module]), "full")
    failures = result.failures()
    assert not failures, f"{len(failures)} fuzz findings in {module}:\n{_report(failures)}"


# ----------------------------------------------------------------------------------------------
# the harness itself: deliberately broken functions, fuzzed with a few mutation kinds
# ----------------------------------------------------------------------------------------------


SELFTESTS = ["crash", "hang", "index", "nan", "warn", "clean", "inf"]


@pytest.fixture(scope="module")
def harness() -> fuzzing.RunResult:
    targets = [fuzzing.Target("fuzz_selftest", f"selftest_{name}") for name in SELFTESTS]
    kinds = ["huge_int", "negative", "nan", "huge", "zero"]
    return fuzzing.run(targets, "full", timeout=1.5, kinds=kinds)


def _outcomes(result: fuzzing.RunResult, name: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in result.records:
        if r.target == f"fuzz_selftest.selftest_{name}":
            out.setdefault(r.category, set()).add(r.text)
    return out


def test_fuzz_harness_survives_a_crash_and_a_hang(harness: fuzzing.RunResult) -> None:
    crash = _outcomes(harness, "crash")
    assert crash.pop("crash:SIGSEGV") == {"2**62"}
    hang = _outcomes(harness, "hang").pop("hang")
    assert len(hang) == 1 and hang <= {"2**63-1", "2**64", "10**30"}
    # the calls after the crash and the hang ran in fresh children
    assert crash["finite"] >= {"-1", "0"}
    assert harness.restarts == 3  # the crash (confirmed once) and the hang
    assert [i.error for i in harness.targets.values()] == [None] * len(SELFTESTS)


def test_fuzz_harness_classifies(harness: fuzzing.RunResult) -> None:
    index = _outcomes(harness, "index")
    assert {"-1", "2**62"} <= index["exception:IndexError"]
    assert index["clean_error"] >= {"nan", "1e300"}  # TypeError: list indices must be integers
    nan = _outcomes(harness, "nan")
    assert "-1.0" in nan["nan_from_finite"]
    assert all(text.startswith("-") for text in nan["nan_from_finite"])
    assert nan["bad_input_passed_on"] == {"nan"}
    warn = _outcomes(harness, "warn")
    assert warn["runtime_warning"] >= {"1e300", "2**62"}
    clean = _outcomes(harness, "clean")
    assert set(clean) == {"clean_error", "finite"}
    inf = _outcomes(harness, "inf")
    assert inf["nonfinite_documented"] == {"0.0"}
    failing = {r.target.split("_")[-1] for r in harness.records if not r.ok}
    assert failing == {"crash", "hang", "index", "nan", "warn"}


def test_fuzz_harness_names_argument() -> None:
    outcome = fuzzing.classify(
        None,
        ValueError("x must be finite, got nan"),
        [],
        target=fuzzing.Target("fuzz_selftest", "selftest_clean"),
        param="x",
        mutated=float("nan"),
        base_scan=fuzzing.Scan(),
    )
    assert outcome.category == "clean_error" and outcome.names_argument


def test_fuzz_harness_draws_are_deterministic() -> None:
    value = np.arange(12.0).reshape(4, 3)
    for kind, strategy in sorted(fuzzing.mutation_strategies(value).items()):
        first = fuzzing.draw(strategy, 2, f"key:{kind}")
        again = fuzzing.draw(strategy, 2, f"key:{kind}")
        assert [m.text for m in first] == [m.text for m in again], kind


def test_fuzz_harness_warning_from_finite_input_only() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn("overflow", RuntimeWarning, stacklevel=1)
    target = fuzzing.Target("fuzz_selftest", "selftest_warn")
    finite = fuzzing.classify(
        1.0, None, caught, target=target, param="x", mutated=1e300, base_scan=fuzzing.Scan()
    )
    assert finite.category == "runtime_warning"
    nan = fuzzing.classify(
        1.0, None, caught, target=target, param="x", mutated=np.nan, base_scan=fuzzing.Scan()
    )
    assert nan.category == "finite_from_bad_input" and nan.ok


def test_fuzz_harness_sympy_infinity_exact_only_without_floats() -> None:
    import sympy as sp

    target = fuzzing.Target("fuzz_selftest", "selftest_clean")
    common = {"target": target, "param": "x", "mutated": 0, "base_scan": fuzzing.Scan()}
    exact = fuzzing.classify(sp.oo, None, [], exact_inputs=True, **common)
    assert exact.category == "exact_infinity" and exact.ok
    rounded = fuzzing.classify(sp.oo, None, [], exact_inputs=False, **common)
    assert rounded.category == "inf_from_finite"
    with_float = fuzzing.classify(
        sp.oo * sp.Float(2.0) + sp.Float(1e-300) * sp.I, None, [], exact_inputs=True, **common
    )
    assert with_float.category == "complex_result"


def test_fuzz_harness_documented_nonfinite() -> None:
    says = fuzzing._says_nonfinite
    assert says("Returns nan if there is no crossing on the grid.") == {"nan"}
    assert says("``second`` (NaN when the set has one point).") == {"nan"}
    assert says("a ``log_value`` is -inf where the bound is 0.", about="log_value") == {"-inf"}
    assert says("a ``log_value`` is -inf where the bound is 0.", about="value") == set()
    assert says("Overflow gives ``inf``.") == {"+inf"}
    # refusals and notation are not documentation of a returned value
    assert says("NaN or inf in x raise ValueError.") == set()
    assert says("Ornstein-Uhlenbeck process on (0, inf).") == set()
    assert says("``t_max`` defaults to T and is required when T = inf.") == set()
    assert says("Whether each sample is memorized in the sense of Buchanan et al.") == set()
