"""Hypothesis profiles: CI runs a fixed, derandomized set of examples; locally they vary."""

import os

import mpmath
import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(autouse=True)
def _mpmath_precision_is_left_as_found():
    """A test (or a function it calls) that changes mpmath's global precision changes the
    reference values of every later test: it must use ``mpmath.workdps`` instead."""
    prec = mpmath.mp.prec
    yield
    changed = mpmath.mp.prec
    mpmath.mp.prec = prec
    assert changed == prec, f"mpmath's global precision was left at {changed} bits (was {prec})"
