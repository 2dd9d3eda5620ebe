"""Start-up: importing the package or its mathematics loads none of the heavy optional libraries.

Each import runs in a fresh interpreter (``sys.modules`` of this one already holds everything
the other tests imported). SymPy, Matplotlib and JAX are imported only by the modules that use
them (``symbolic``, ``plotting`` and the figures, the audit's report, ``nn`` and the
``networks`` modules), so that ``diffmem --help`` starts fast; SciPy's
``linalg`` (about 0.2 s) only by the first computation that needs it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("sympy", "matplotlib", "jax")

SCRIPT = """
import importlib, json, sys
module, watched = sys.argv[1], sys.argv[2:]
importlib.import_module(module)
hits = [m for m in sys.modules if any(m == w or m.startswith(w + ".") for w in watched)]
print(json.dumps(sorted(hits)))
"""


def loaded_after_import(module: str, watched: tuple[str, ...]) -> list[str]:
    """The modules among ``watched`` (and their submodules) that importing ``module`` loads."""
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, module, *watched], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout)


@pytest.mark.parametrize(
    "module",
    [
        "diffmem_theory",
        "diffmem_theory.core",
        "diffmem_theory.crossover",
        "diffmem_theory.mixing",
        "diffmem_theory.voronoi",
        "diffmem_theory.fisher",
        "diffmem_theory.leakage",
        "diffmem_theory.audit",
        "diffmem_theory.cli",
    ],
)
def test_package_import_loads_no_sympy_matplotlib_or_jax(module):
    assert loaded_after_import(module, HEAVY) == []


@pytest.mark.parametrize(
    "module", ["diffmem_theory.core.distributions", "diffmem_theory.core.denoisers"]
)
def test_laws_and_denoisers_import_without_scipy_linalg(module):
    """The general mixture's triangular solves import ``scipy.linalg`` when first used."""
    assert loaded_after_import(module, (*HEAVY, "scipy.linalg")) == []
