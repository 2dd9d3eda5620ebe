"""Input validation shared by every public function.

Bad input at a public boundary raises :class:`ValueError` (or :class:`TypeError` for a
wrong kind of object) whose message names the argument, the offending value and what
is allowed. These helpers keep those messages uniform; they are private to the package.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

#: Relative tolerance on max |S - S^T| / max |S| for a matrix to count as symmetric.
SYMMETRY_RTOL = 1e-10


class OutOfRangeWarning(UserWarning):
    """A formula is evaluated outside the range of parameters where its paper derived it.

    The value is still computed (the function's docstring says why that is allowed); where a
    formula is meaningless outside its range, the function raises ``ValueError`` instead.
    Silence it with ``warnings.simplefilter("ignore", OutOfRangeWarning)``.
    """


def warn_out_of_range(message: str, *, stacklevel: int = 3) -> None:
    """Issue an :class:`OutOfRangeWarning` pointing at the caller of the public function."""
    warnings.warn(message, OutOfRangeWarning, stacklevel=stacklevel)


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


#: The largest seed: NumPy's and JAX's (``jax.random.key``) integer seeds share [0, 2^32 - 1].
SEED_MAX = 2**32 - 1


def check_seed(value: Any, name: str = "seed") -> int:
    """Validate an integer seed in ``[0, SEED_MAX]`` (the range JAX's keys and NumPy share)."""
    return check_int(value, name, low=0, high=SEED_MAX)


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


def check_callable(value: Any, name: str, expected: str) -> Any:
    """Return ``value`` if it is callable, else raise ``TypeError`` saying what ``expected`` is."""
    if not callable(value):
        raise TypeError(f"{name} must be {expected}, got {type(value).__name__} {value!r:.80}")
    return value


def check_bool(value: Any, name: str) -> bool:
    """Validate a flag: ``True``/``False`` (or a NumPy bool); anything else raises ``ValueError``.

    (``ValueError`` like :func:`check_int` and :func:`check_scalar` for a scalar of the wrong kind.)
    """
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_covariance(
    cov: Any, name: str = "cov", *, definite: bool = False, stacked: bool = False, rtol: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a covariance matrix (or a stack of them); return it symmetrized, and its spectrum.

    ``cov`` must be a finite, non-empty, square ``(d, d)`` matrix (``(m, d, d)`` with
    ``stacked=True``), symmetric to ``SYMMETRY_RTOL`` relative to its largest entry, and
    positive semi-definite (``definite=True``: positive definite). An eigenvalue counts as
    negative below ``-rtol * max|cov|`` and as zero up to ``rtol * max|cov|``; the default
    ``rtol = 1e3 d eps`` is the rounding level of ``numpy.linalg.eigvalsh``. Raises
    ``ValueError`` naming ``name`` and the offending eigenvalue. Returns ``(0.5 (S + S^T),
    eigenvalues in ascending order)`` (shapes ``(..., d, d)`` and ``(..., d)``).
    """
    arr = as_float_array(cov, name, ndim=3 if stacked else 2, dtype=np.float64)
    want = "(m, d, d)" if stacked else "(d, d)"
    if arr.size == 0 or arr.shape[-1] != arr.shape[-2]:
        raise ValueError(f"{name} must be a non-empty square {want} matrix, got shape {arr.shape}")
    d = arr.shape[-1]
    half = 0.5 * arr  # no overflow in S + S^T for entries near the float64 maximum
    half_t = np.swapaxes(half, -1, -2)
    scale = float(np.abs(arr).max())
    asym = 2.0 * float(np.abs(half - half_t).max())
    if asym > SYMMETRY_RTOL * scale:
        raise ValueError(f"{name} must be symmetric, got max |S - S^T| = {asym:.3g}")
    sym = half + half_t
    w = np.linalg.eigvalsh(sym)
    tol = (1e3 * d * np.finfo(np.float64).eps if rtol is None else float(rtol)) * scale
    low = w[..., 0]
    bad = low <= tol if definite else low < -tol
    if np.any(bad):
        k = int(np.flatnonzero(np.atleast_1d(bad))[0])
        where = f" (matrix {k})" if stacked else ""
        rule = "positive definite" if definite else "positive semi-definite"
        raise ValueError(
            f"{name} must be symmetric {rule}, but{where} its smallest eigenvalue is "
            f"{float(np.atleast_1d(low)[k]):.6g}"
        )
    return sym, w


#: Largest array a public function allocates on the user's behalf (bytes); beyond it, ValueError.
MAX_ALLOCATION_BYTES = 2**33


def check_allocation(n_items: Any, what: str, *, itemsize: int = 8) -> int:
    """Refuse a request whose working array of ``n_items`` items would exceed the memory cap.

    ``n_items`` is the product of the requested sizes (a Python int, exact however large);
    raises ``ValueError`` naming ``what`` when ``n_items * itemsize`` exceeds
    :data:`MAX_ALLOCATION_BYTES` (8 GiB), instead of exhausting memory or overflowing a size.
    """
    count = int(n_items)
    if count * itemsize > MAX_ALLOCATION_BYTES:
        raise ValueError(
            f"{what} needs {count * itemsize / 2**30:.4g} GiB of working memory, more than the "
            f"limit of {MAX_ALLOCATION_BYTES / 2**30:g} GiB; reduce the sizes"
        )
    return count


def finite_result(value: Any, what: str) -> Any:
    """Return ``value`` if every entry is finite, else raise ``ValueError`` saying it overflows.

    For results whose true value exceeds the float64 range although every input is valid.
    """
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{what} is outside the float64 range (got {value!r:.80}) at these inputs")
    return value


#: Largest working precision (decimal digits) accepted by the mpmath paths.
MAX_DPS = 10_000


def check_dps(dps: Any, name: str = "dps") -> int:
    """Validate an mpmath working precision: an integer in [5, :data:`MAX_DPS`]."""
    return check_int(dps, name, low=5, high=MAX_DPS)


_LOG_FLOAT64_MAX = float(np.log(np.finfo(np.float64).max))


def exp_or_raise(log_value: float, what: str) -> float:
    """``e^log_value`` as a float, or ``ValueError`` saying that ``what`` exceeds float64.

    For a result computed in log space whose true value is beyond the float64 range
    (an underflow to 0 is the correctly rounded value and is returned as such).
    """
    if log_value > _LOG_FLOAT64_MAX:
        raise ValueError(f"{what} = e^{log_value:.6g} is outside the float64 range")
    return float(np.exp(log_value))


def check_config(config: Any, name: str = "config", required: Sequence[str] = ()) -> Any:
    """Validate a run configuration: a mapping holding every key of ``required``.

    A non-mapping raises ``TypeError``; a missing key ``ValueError`` naming it. The values are
    checked by the caller (e.g. ``check_int(config["N"], "config['N']")``).
    """
    from collections.abc import Mapping

    if not isinstance(config, Mapping):
        raise TypeError(f"{name} must be a dict, got {type(config).__name__}")
    missing = [key for key in required if key not in config]
    if missing:
        raise ValueError(f"{name} is missing {missing} (required keys: {list(required)})")
    return config


# ---- shared array helpers (queries, point sets, covariances) ----


_COV_RTOL = 1e-10


def as_queries(
    x: ArrayLike, name: str = "x", *, dtype: Any = np.float64
) -> tuple[np.ndarray, bool]:
    """Queries as a ``(B, d)`` array of ``dtype`` (None: float32 kept, anything else float64)
    and whether a single ``(d,)`` query was given."""
    arr = as_float_array(x, name, ndim=(1, 2), dtype=dtype)
    if arr.shape[-1] == 0:
        raise ValueError(f"{name} must have a positive dimension d, got shape {arr.shape}")
    return (arr[None, :], True) if arr.ndim == 1 else (arr, False)


def unbatch(out: np.ndarray, single: bool) -> np.ndarray:
    """``out[0]`` for a single query (see :func:`as_queries`), else ``out``."""
    return out[0] if single else out


def as_points(
    value: ArrayLike,
    name: str = "points",
    d: int | None = None,
    other: str = "x",
    *,
    dtype: Any = np.float64,
) -> np.ndarray:
    """Points (component means, data, centres) as an ``(n, d)`` array of ``dtype`` (None:
    float32 kept, anything else float64), ``n, d >= 1``.

    With ``d`` given, the last dimension must be ``d`` (``other`` names the argument that
    fixed it).

    >>> as_points([[1.0, 2.0]], "means", 2).shape
    (1, 2)
    >>> as_points(np.ones((1, 2), np.float32), "X", dtype=None).dtype
    dtype('float32')
    """
    mu = as_float_array(value, name, ndim=2, dtype=dtype)
    if mu.shape[0] == 0 or mu.shape[1] == 0:
        raise ValueError(f"{name} must have shape (n, d) with n, d >= 1, got shape {mu.shape}")
    if d is not None:
        check_last_dim(mu, d, name, other)
    return mu


def as_covariances(covs: ArrayLike, m: int, d: int, name: str = "covs") -> np.ndarray:
    """Symmetric positive semi-definite ``(m, d, d)`` covariances (symmetrized on return).

    Semi-definiteness is tested to a relative tolerance of ``1e-10`` (:func:`check_covariance`).
    """
    cov = as_float_array(covs, name, ndim=3, dtype=np.float64)
    if cov.shape != (m, d, d):
        raise ValueError(f"{name} must have shape ({m}, {d}, {d}), got shape {cov.shape}")
    return check_covariance(cov, name, stacked=True, rtol=_COV_RTOL)[0]


# Points whose largest coordinate times sqrt(d) exceeds 2^500 (~3e150) are refused: their squared
# distances (<= 4 d max|x|^2) could overflow float64. Rescaling the data is the remedy.
_MAX_SCALE = 2.0**500


def bounded_points(arr: np.ndarray, name: str) -> np.ndarray:
    """``arr`` if no squared distance between such points can overflow, else ``ValueError``.

    Points whose largest coordinate times ``sqrt(d)`` exceeds ``2^500`` are refused.

    >>> bounded_points(np.ones((2, 3)), "X").shape
    (2, 3)
    """
    top = float(np.abs(arr).max()) if arr.size else 0.0
    if top * math.sqrt(arr.shape[-1] if arr.ndim else 1) > _MAX_SCALE:
        raise ValueError(
            f"{name} has coordinates up to {top:.3g}: squared distances overflow float64 beyond "
            "~1e150 / sqrt(d); rescale the points"
        )
    return arr
