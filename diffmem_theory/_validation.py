"""Input validation shared by every public function.

Bad input at a public boundary raises :class:`ValueError` (or :class:`TypeError` for a
wrong kind of object) whose message names the argument, the offending value and what
is allowed. These helpers keep those messages uniform; they are private to the package.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _describe(value: Any) -> str:
    arr = np.asarray(value) if not isinstance(value, np.ndarray) else value
    if arr.ndim == 0:
        return repr(value)
    return f"array of shape {arr.shape} and dtype {arr.dtype}"


def as_float_array(
    value: Any,
    name: str,
    *,
    ndim: int | Sequence[int] | None = None,
    dtype: Any = None,
    finite: bool = True,
) -> np.ndarray:
    """Return ``value`` as a floating NumPy array, or raise a ``ValueError`` naming ``name``.

    ``dtype=None`` keeps float32/float64 inputs as they are and converts integers and
    Python scalars to float64. Complex, boolean, object and string inputs are rejected.
    """
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiu":
        raise ValueError(
            f"{name} must be a real floating-point array, got dtype {arr.dtype} "
            f"(allowed: float32, float64, or integers converted to float64)"
        )
    if dtype is not None:
        target = np.dtype(dtype)
        if target not in FLOAT_DTYPES:
            raise ValueError(f"dtype must be float32 or float64, got {target}")
        arr = arr.astype(target, copy=False)
    elif arr.dtype.kind in "iu" or arr.dtype not in FLOAT_DTYPES:
        arr = arr.astype(np.float64)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(str(n) for n in allowed)
            raise ValueError(f"{name} must have {want} dimension(s), got {_describe(arr)}")
    if finite and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf), got {_describe(arr)}")
    return arr


def check_dtype(dtype: Any, name: str = "dtype") -> np.dtype:
    """Return ``np.dtype(dtype)`` if it is float32 or float64, else raise ``ValueError``."""
    try:
        target = np.dtype(dtype)
    except TypeError as err:
        raise ValueError(f"{name} must be float32 or float64, got {dtype!r}") from err
    if target not in FLOAT_DTYPES:
        raise ValueError(f"{name} must be float32 or float64, got {target}")
    return target


def check_positive(value: Any, name: str, *, allow_zero: bool = False) -> np.ndarray:
    """Validate that ``value`` is finite and > 0 (or >= 0 with ``allow_zero``) elementwise."""
    arr = as_float_array(value, name)
    bad = arr < 0 if allow_zero else arr <= 0
    if np.any(bad):
        rule = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {rule}, got {_describe(value)} with min {arr.min()!r}")
    return arr


def check_scalar(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Validate a finite real scalar in the interval given by ``low``/``high``."""
    arr = np.asarray(value)
    if arr.ndim != 0 or arr.dtype.kind not in "fiu":
        raise ValueError(f"{name} must be a real scalar, got {_describe(value)}")
    x = float(arr)
    if not np.isfinite(x):
        raise ValueError(f"{name} must be finite, got {x!r}")
    if low is not None and (x < low or (low_open and x == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {x!r}")
    if high is not None and (x > high or (high_open and x == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {x!r}")
    return x


def check_int(value: Any, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """Validate an integer (Python or NumPy) within ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    v = int(value)
    if low is not None and v < low:
        raise ValueError(f"{name} must be >= {low}, got {v}")
    if high is not None and v > high:
        raise ValueError(f"{name} must be <= {high}, got {v}")
    return v


def check_choice(value: Any, name: str, allowed: Sequence[str]) -> str:
    """Validate that ``value`` is one of the strings in ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")
    return value


def check_last_dim(arr: np.ndarray, d: int, name: str, other: str) -> None:
    """Raise if the last axis of ``arr`` does not have length ``d`` (the dimension of ``other``)."""
    if arr.shape[-1] != d:
        raise ValueError(
            f"{name} has last dimension {arr.shape[-1]} but {other} has dimension {d}; "
            f"they must match"
        )


def as_rng(rng: Any, name: str = "rng") -> np.random.Generator:
    """Accept a ``np.random.Generator`` or an integer seed; anything else raises."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"{name} must be a numpy.random.Generator or an integer seed, got {rng!r}")


def covariance_spectrum(cov: Any, name: str = "cov") -> np.ndarray:
    """Eigenvalues of a covariance: a 1-D input is the spectrum, a 2-D one a symmetric PSD matrix.

    Eigenvalues within rounding of 0 are set to 0; a negative eigenvalue, an asymmetric or
    non-square matrix, or an empty input raises ``ValueError`` naming ``name``.
    """
    arr = as_float_array(cov, name, ndim=(1, 2), dtype=np.float64)
    if arr.ndim == 2:
        if arr.shape[0] != arr.shape[1] or not np.allclose(arr, arr.T, rtol=1e-12, atol=1e-12):
            raise ValueError(f"{name} must be a symmetric (d, d) matrix, got shape {arr.shape}")
        arr = np.linalg.eigvalsh(arr)
        arr = np.where(np.abs(arr) <= 1e3 * arr.size * np.finfo(float).eps * arr.max(), 0, arr)
    if arr.size == 0 or np.any(arr < 0):
        raise ValueError(
            f"{name} must be a non-empty spectrum (d,) or matrix (d, d) with eigenvalues >= 0"
        )
    return arr
