"""The :class:`Bound` result type shared by every probabilistic bound of the package, and the
argument and result helpers of bound functions.

A bound function validates its arguments with :func:`ranged`, computes with float overflow
silenced (:func:`overflow_checked`) and returns a :class:`Bound` whose fields pass through
:func:`bound_field`: finite, or ``-inf`` for a ``log_value``; anything beyond the float64 range
raises ``ValueError`` instead of returning ``inf`` or ``NaN``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike

from diffmem_theory._validation import as_float_array, check_choice, finite_result

__all__ = [
    "Bound",
    "bound_field",
    "finite_output",
    "log_output",
    "observed_array",
    "overflow_checked",
    "ranged",
    "to_output",
]


_KINDS = ("upper", "lower", "interval", "deviation")


@dataclass(frozen=True)
class Bound:
    """A high-probability bound: ``P[the event fails] <= failure_probability``.

    ``kind`` says what the event is, for an observed quantity ``q``:

    * ``"upper"``: ``q <= value``;  ``"lower"``: ``q >= value``;
    * ``"interval"``: ``lower <= q <= value`` (``value`` is the upper end, see :attr:`upper`);
    * ``"deviation"``: ``|q - center| < value`` (Lemma C.2).

    ``conditions_hold`` records whether the lemma's hypotheses (coupling conditions) hold at the
    given parameters; where they do not, the statement makes no claim. ``statement`` cites it.
    The denoiser bounds of Lemmas E.4-E.6 are often far below the smallest float64, so they also
    carry ``log_value = log(value)``, computed without forming ``value`` (see :meth:`holds_log`).
    Fields are floats for scalar inputs and arrays (broadcast over ``t``, ``eps`` ...) otherwise.

    >>> b = Bound(value=2.0, failure_probability=0.1, kind="upper")
    >>> b.holds([1.0, 3.0]).tolist(), b.success_probability
    ([True, False], 0.9)
    """

    value: Any
    failure_probability: Any
    kind: str = "upper"
    lower: Any = None
    center: Any = None
    conditions_hold: Any = True
    statement: str = ""
    log_value: Any = None

    def __post_init__(self) -> None:
        check_choice(self.kind, "kind", _KINDS)
        if self.kind == "interval" and self.lower is None:
            raise ValueError("lower must be given for kind='interval'")
        if not isinstance(self.statement, str):
            raise TypeError(f"statement must be a str, got {type(self.statement).__name__}")
        for name in ("value", "failure_probability", "lower", "center", "log_value"):
            field = getattr(self, name)
            if field is not None and np.any(np.isnan(as_float_array(field, name, finite=False))):
                raise ValueError(f"{name} must not be NaN, got {field!r}")
        held = np.asarray(self.conditions_hold)
        if held.dtype != bool:
            raise ValueError(f"conditions_hold must be a bool or bool array, got {held.dtype}")

    @property
    def upper(self) -> Any:
        """The upper end of the event (``value`` for upper, interval and deviation bounds)."""
        return None if self.kind == "lower" else self.value

    @property
    def success_probability(self) -> Any:
        """The guaranteed probability of the event, ``max(0, 1 - failure_probability)``."""
        return to_output(np.maximum(0.0, 1.0 - np.asarray(self.failure_probability, dtype=float)))

    def holds(self, observed: ArrayLike) -> np.ndarray:
        """Elementwise: does the event hold for the observed quantity ``q`` (broadcast)?

        ``q`` is real (+-inf allowed); NaN raises ``ValueError``.
        """
        q = observed_array(observed, "observed")
        if self.kind == "upper":
            return q <= self.value
        if self.kind == "lower":
            return q >= self.value
        if self.kind == "interval":
            return (q >= self.lower) & (q <= self.value)
        center = 0.0 if self.center is None else self.center
        return np.abs(q - center) < self.value

    def holds_log(self, log_observed: ArrayLike) -> np.ndarray:
        """Like :meth:`holds` for an ``"upper"`` bound, from ``log q`` and ``log_value``.

        >>> Bound(value=0.0, failure_probability=0.1, log_value=-800.0).holds_log([-900.0, -700.0])
        array([ True, False])
        """
        if self.kind != "upper" or self.log_value is None:
            raise ValueError("holds_log needs an 'upper' bound with a log_value")
        return observed_array(log_observed, "log_observed") <= self.log_value


def observed_array(value: ArrayLike, name: str) -> np.ndarray:
    """An observed quantity: real, +-inf allowed (q = 0 has log q = -inf), NaN rejected."""
    arr = as_float_array(value, name, finite=False)
    if np.any(np.isnan(arr)):
        raise ValueError(f"{name} must not be NaN")
    return arr


def to_output(x: Any) -> Any:
    """A 0-d array (or NumPy scalar) becomes a Python float/bool; arrays are returned as is."""
    arr = np.asarray(x)
    if arr.ndim == 0:
        return bool(arr) if arr.dtype == bool else float(arr)
    return arr


def bound_field(name: str, x: Any) -> Any:
    """A numeric field of a returned :class:`Bound`: finite, or -inf for ``log_value``."""
    return log_output(x, name) if name == "log_value" else finite_output(x, name)


def finite_output(x: Any, what: str) -> Any:
    """:func:`to_output` of ``x``, or ``ValueError`` if it is beyond float64 (inf) or NaN."""
    return to_output(finite_result(x, what))


def log_output(x: Any, what: str) -> Any:
    """:func:`to_output` of a log-bound: -inf allowed (the bound is 0 or below the float64
    range).
    """
    arr = np.asarray(x)
    if np.any(np.isnan(arr) | np.isposinf(arr)):
        raise ValueError(f"{what} is outside the float64 range at these inputs")
    return to_output(arr)


_F = TypeVar("_F", bound=Callable[..., Any])


def overflow_checked(func: _F) -> _F:
    """Run ``func`` with float overflow, underflow and division by zero silent: its results are
    checked by :func:`finite_output` / :func:`log_output` instead (a clean ``ValueError``)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with np.errstate(over="ignore", under="ignore", divide="ignore"):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def ranged(
    value: ArrayLike,
    name: str,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    integer: bool = False,
) -> np.ndarray:
    """``value`` as a float64 array whose entries lie in the given interval, else ``ValueError``."""
    raw = np.asarray(value)
    if integer and (raw.dtype.kind not in "iu" and not integral_floats(raw)):
        raise ValueError(f"{name} must be an integer (or integer array), got {value!r}")
    arr = as_float_array(value, name).astype(np.float64, copy=False)
    bad = np.zeros(arr.shape, dtype=bool)
    if low is not None:
        bad |= (arr <= low) if low_open else (arr < low)
    if high is not None:
        bad |= (arr >= high) if high_open else (arr > high)
    if np.any(bad):
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        left = "(" if low_open or low is None else "["
        right = ")" if high_open or high is None else "]"
        interval = f"{left}{lo}, {hi}{right}"
        raise ValueError(f"{name} must lie in {interval}, got {float(arr[bad].flat[0])!r}")
    return arr


def integral_floats(raw: np.ndarray) -> bool:
    if raw.dtype.kind != "f" or raw.dtype == bool:
        return False
    return bool(np.all(np.isfinite(raw)) and np.all(raw == np.round(raw)))
