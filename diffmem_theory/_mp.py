"""mpmath helpers shared by the high-precision twins of every theory package.

Each converts a user's number (Python, NumPy or mpmath) to :class:`mpmath.mpf` at the caller's
working precision and raises ``ValueError`` naming the argument when it is not a finite real
number.
"""

from __future__ import annotations

import math
from typing import Any

import mpmath
import numpy as np
from numpy.typing import ArrayLike

__all__ = ["mpf", "pos_mpf", "vec"]


def mpf(x: Any, name: str) -> mpmath.mpf:
    if isinstance(x, (float, np.floating)) and not math.isfinite(float(x)):
        raise ValueError(f"{name} must be finite, got {x!r}")
    try:
        v = mpmath.mpf(x.item() if isinstance(x, np.generic) else x)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a real number, got {x!r}") from err
    if not mpmath.isfinite(v):
        raise ValueError(f"{name} must be finite, got {x!r}")
    return v


def pos_mpf(x: Any, name: str) -> mpmath.mpf:
    v = mpf(x, name)
    if v <= 0:
        raise ValueError(f"{name} must be > 0, got {x!r}")
    return v


def vec(x: ArrayLike, name: str, d: int | None = None) -> list[mpmath.mpf]:
    a = np.asarray(x, dtype=object)
    if a.ndim == 0 and d is not None:
        a = np.full(d, a.item(), dtype=object)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if d is not None and a.shape[0] != d:
        raise ValueError(f"{name} has length {a.shape[0]}, expected {d}")
    return [mpf(v, name) for v in a.tolist()]
