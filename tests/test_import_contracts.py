"""The import contracts of pyproject.toml (import-linter) hold, and a violation breaks them.

The contracts are the layers of the package: core imports no theory package and no neural
networks, the neural networks import no theory package, no theory package imports another,
the mathematics imports no registry, plotting, sweep, report, CLI, checks or figures, checks
import no figures, and nothing outside ``kernels/`` imports a private kernel module.
``.ci/run`` runs ``lint-imports`` on the repository; these tests run it on a scratch copy of
the package, unchanged (the contracts are kept) and with one deliberate violation of each kind
(the contract named in it is broken).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("importlinter")


def _lint(tmp_path: Path, violation: tuple[str, str] | None = None) -> subprocess.CompletedProcess:
    """``lint-imports`` on a copy of the package and of pyproject.toml in ``tmp_path``, with
    ``violation = (module file, import line)`` appended to one module."""
    shutil.copytree(
        ROOT / "diffmem_theory",
        tmp_path / "diffmem_theory",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    if violation is not None:
        path = tmp_path / "diffmem_theory" / violation[0]
        path.write_text(path.read_text() + f"\n{violation[1]}\n")
    # the copy, not an installed (editable) diffmem_theory, must be the one analysed
    script = (
        "import sys; sys.meta_path[:] = [f for f in sys.meta_path "
        "if 'editable' not in getattr(f, '__module__', '')]; "
        "import importlib.util; assert importlib.util.find_spec('diffmem_theory').origin"
        f".startswith({str(tmp_path)!r}); "
        "from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_contracts_are_kept(tmp_path):
    out = _lint(tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "BROKEN" not in out.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("core/losses.py", "import diffmem_theory.crossover.excess", "core imports no theory"),
        ("fisher/bounds.py", "import diffmem_theory.voronoi.geometry", "no theory imports another"),
        ("mixing/mixing_time.py", "import diffmem_theory.registry", "the mathematics imports no"),
        (
            "voronoi/checks/scores.py",
            "import diffmem_theory.voronoi.figures.trajectories",
            "checks import no figures",
        ),
        ("core/dynamics.py", "import diffmem_theory.kernels._numba", "nothing outside kernels/"),
        ("core/training.py", "import diffmem_theory.nn.models", "core imports no theory and no"),
        ("nn/losses.py", "import diffmem_theory.voronoi.scores", "nn imports no theory"),
    ],
)
def test_a_violation_breaks_its_contract(tmp_path, module, line, contract):
    out = _lint(tmp_path, (module, line))
    assert out.returncode != 0
    broken = [ln for ln in out.stdout.splitlines() if "BROKEN" in ln]
    assert (
        any(contract in ln for ln in broken) or contract in out.stdout.split("Broken contracts")[-1]
    ), out.stdout
