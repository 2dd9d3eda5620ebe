"""Deliberately broken functions: ``tests/test_fuzz.py`` checks that the fuzz harness
(``tests/fuzzing.py``) reports each kind of failure they have. Not part of the package."""

from __future__ import annotations

import ctypes

import numpy as np


def selftest_crash(n: int) -> int:
    """Segfaults for n = 2**62.

    >>> selftest_crash(3)
    3
    """
    if n == 2**62:
        ctypes.string_at(0)
    return n


def selftest_hang(n: int) -> int:
    """Never returns for integers above 2**62.

    >>> selftest_hang(3)
    3
    """
    while isinstance(n, int) and n > 2**62:
        pass
    return n


def selftest_index(n: int) -> float:
    """IndexError for n < 0 or n > 1 (and TypeError for a float).

    >>> selftest_index(1)
    2.0
    """
    if n < 0:
        return [][0]
    return [1.0, 2.0][n]


def selftest_nan(x: float) -> float:
    """The square root, unchecked: the bug is a negative argument.

    >>> selftest_nan(4.0)
    2.0
    """
    return float(np.sqrt(x)) if x >= 0 else float("nan")


def selftest_warn(x: float) -> float:
    """Finite, but through an overflow (a RuntimeWarning) for huge arguments.

    >>> selftest_warn(1.0)
    1.0
    """
    with np.errstate(over="warn"):
        return float(min(np.exp(np.float64(x)), 1.0))


def selftest_clean(x: float) -> float:
    """A clean ValueError naming ``x``, or a finite result.

    >>> selftest_clean(2.0)
    4.0
    """
    if not np.isfinite(x):
        raise ValueError(f"x must be finite, got {x!r}")
    return min(x * x, 1e300)


def selftest_inf(x: float) -> float:
    """Infinity for x = 0, as documented: 1 / x, inf at 0.

    >>> selftest_inf(2.0)
    0.5
    """
    return float("inf") if x == 0 else 1.0 / x
