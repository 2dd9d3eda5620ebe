"""The README's promises: its Python example runs and its commands are the ones CI uses."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_python_example_runs_and_shows_theorem_3_1():
    example = _blocks("python")[0]
    assert len(example.strip().splitlines()) <= 14
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(example, "README.md", "exec"), {})
    excess, predicted = map(float, buf.getvalue().split())
    # Thm 3.1: the generalizing denoiser's excess loss is d t^2 (VPTrig, sigma_*^2 = 1);
    # one draw of 200 points x 1 noise: the relative standard error is about 1/sqrt(200 * 50 / 2)
    assert abs(excess - predicted) / predicted < 0.1


def test_own_model_example_samples_a_jax_model_in_jax():
    pytest.importorskip("jax")
    example = _blocks("python")[1]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(example, "README.md", "exec"), {})
    kind, ratio = buf.getvalue().split()
    assert kind == "ArrayImpl"  # the state stayed a JAX array through the sampler
    assert float(ratio) >= 0.9  # the empirical law memorizes (README: 0.96)


def test_setup_commands_present():
    bash = _blocks("bash")
    assert any("diffmem reproduce --quick" in b and "pip install" in b for b in bash)
    assert any(re.search(r"pip install.*&&.*pytest", b) for b in bash)


def test_ci_runs_the_readme_test_command():
    marker = README.index("<!-- test-command -->")
    cmd = next(b for b in _blocks("bash") if README.index(b) > marker).strip()
    proc = subprocess.run(
        ["bash", str(ROOT / ".ci" / "run"), "--print-command"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.strip() == cmd


def test_readme_doctests_run():
    """The README's `>>>` examples (the paper-000 crossover) give the printed output."""
    import doctest

    result = doctest.testfile(str(ROOT / "README.md"), module_relative=False, verbose=False)
    assert result.attempted >= 3 and result.failed == 0


def test_audit_example_tells_the_memorizing_baseline_from_the_generalizing_one():
    pytest.importorskip("sklearn")
    example = _blocks("python")[2]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(example, "README.md", "exec"), {})
    rows = [line.split() for line in buf.getvalue().splitlines()]
    (name_e, memo_e, index_e), (name_g, memo_g, index_g) = rows
    assert (name_e, name_g) == ("empirical", "gmm:10")
    assert float(memo_e) == 1.0 and float(memo_g) < 0.05  # 200 samples: 0.05 is 10 per cent
    assert float(index_e) == 1.0 and abs(float(index_g)) < 0.25
