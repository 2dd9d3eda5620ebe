r"""Voronoi geometry of a training set: cells, shrunk cells, constants, limits and rates.

Baptista, Dasgupta, Kovachki, Oberai, Stuart, "Memorization and Regularization in Generative
Diffusion Models" (paper 002), Sec. 4 and App. C. For training points x_0^1, ..., x_0^N the
Voronoi cell of x_0^n is ``V(x_0^n) = {x : |x - x_0^n| < |x - x_0^l|, l != n}`` (4.3), its
shrunk cell ``V_delta(x_0^n)`` asks a gap ``delta^2`` in squared distances (Sec. 4.2), and
``V^r_delta`` intersects it with the ball ``B(0, r)``:

* :func:`voronoi_index` -- the cell ``V(x_0^n)`` (4.3) holding each point;
* :func:`in_shrunk_cell` -- membership of ``V_delta(x_0^n)``, the exact squared-gap test;
* :func:`d_minus`, :func:`d_plus`, :func:`x_inf` -- the constants (4.2), (4.29), (4.27);
* :func:`l_eps` -- the active faces ``L_eps(x; x_0^n)`` (4.11);
* :func:`alpha_n`, :func:`s_alpha` -- the Lemma 4.11 constants (4.30), (4.31);
* :func:`classify_limit` -- a trajectory's end point as a data point or a boundary point
  (Thm 4.3);
* :func:`convergence_rate_fit` -- least-squares slope of ``log |x(t) - x*|`` against
  ``log sigma(t)`` (rate (4.7): slope 1).

The fraction of samples within ``tau`` of the training set is
:func:`diffmem_theory.core.metrics.memorization_fraction`.

Nearest and second-nearest distances come from :func:`diffmem_theory.core.metrics.two_nearest`
(exact ``sum((x - x_0^n)^2)`` for the two nearest points). Points whose coordinates exceed
~1e150 / sqrt(d) are refused with a ``ValueError`` (their squared distances would overflow
float64; rescale the data), and a gap ``delta^2`` or ``eps^2`` beyond float64 counts as
infinite.

>>> import numpy as np
>>> X0 = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 3.0]])
>>> voronoi_index(np.array([[0.2, 0.1], [1.9, -1.0]]), X0).tolist()
[0, 1]
>>> float(d_minus(X0)), float(x_inf(X0))
(2.0, 3.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from diffmem_theory._validation import (
    as_float_array,
    as_points,
    as_queries,
    bounded_points,
    check_int,
    check_scalar,
)
from diffmem_theory.core.metrics import (
    diameter,
    min_pairwise_distance,
    nearest_other_sq,
    two_nearest,
)

__all__ = [
    "LimitClassification",
    "RateFit",
    "alpha_n",
    "classify_limit",
    "convergence_rate_fit",
    "d_minus",
    "d_plus",
    "in_shrunk_cell",
    "l_eps",
    "s_alpha",
    "voronoi_index",
    "x_inf",
]

_LIMIT_KINDS = ("data", "boundary", "neither")


def _pts(value: ArrayLike, name: str, d: int | None = None, other: str = "") -> np.ndarray:
    """Points ``(N, d)`` (metrics' checks) within the range of :func:`bounded_points`."""
    return bounded_points(as_points(value, name, d, other), name)


def _qry(value: ArrayLike, name: str) -> tuple[np.ndarray, bool]:
    """Queries ``(B, d)`` or one ``(d,)`` (metrics' checks) within the range of
    :func:`bounded_points`.
    """
    arr, single = as_queries(value, name)
    return bounded_points(arr, name), single


def _square(value: float) -> float:
    """value^2, ``inf`` beyond float64 (a gap that no finite squared distance exceeds)."""
    return value * value if abs(value) < 1e154 else math.inf


def data_points(X0: ArrayLike, min_points: int = 1) -> np.ndarray:
    """The training points ``X0`` as a float64 ``(N, d)`` array with ``N >= min_points``.

    Squared distances between them must fit in float64 (:func:`bounded_points`); otherwise, or
    with fewer than ``min_points`` rows, ``ValueError`` names ``X0``.

    >>> data_points([[0.0, 1.0], [2.0, 3.0]], 2).shape
    (2, 2)
    """
    data = _pts(X0, "X0")
    if data.shape[0] < min_points:
        raise ValueError(f"X0 must hold at least {min_points} data points, got shape {data.shape}")
    return data


def _check_distinct(data: np.ndarray, nn_sq: np.ndarray) -> None:
    if np.any(nn_sq == 0.0):
        i = int(np.flatnonzero(nn_sq == 0.0)[0])
        raise ValueError(f"X0 must hold distinct points (Assumption 4.1), but row {i} is repeated")


# ----------------------------------------------------------------------------------------------
# cells
# ----------------------------------------------------------------------------------------------


def voronoi_index(x: ArrayLike, X0: ArrayLike) -> np.ndarray | int:
    r"""Index ``n`` of the Voronoi cell (4.3) holding each point: ``argmin_n |x - x_0^n|``.

    (4.3): ``V(x_0^n) = {x : |x - x_0^n|^2 < |x - x_0^l|^2 for all l != n}``. On a boundary
    (4.4) one of the tied indices is returned (which one is unspecified).

    Parameters
    ----------
    x : array_like, shape (B, d) or (d,)
        Points.
    X0 : array_like, shape (N, d)
        Training points.

    Returns
    -------
    ndarray of int, shape (B,), or int
        The cell index of each point (an int for a single ``(d,)`` point).

    See Also
    --------
    in_shrunk_cell : membership of the shrunk cells ``V_delta(x_0^n)``.
    classify_limit : data point or boundary point.

    References
    ----------
    Baptista et al., Sec. 4.1, eqs. (4.3)-(4.4).

    Examples
    --------
    >>> import numpy as np
    >>> voronoi_index(np.array([0.9, 5.0]), np.array([[0.0, 0.0], [1.0, 0.0]]))
    1
    """
    Y, single = _qry(x, "x")
    data = _pts(X0, "X0", Y.shape[1], "x")
    _, idx = two_nearest(Y, data)
    out = idx[:, 0].astype(np.intp)
    return int(out[0]) if single else out


def in_shrunk_cell(x: ArrayLike, n: int | None, delta: float, X0: ArrayLike) -> np.ndarray | bool:
    r"""Membership of the shrunk cell ``V_delta(x_0^n)`` (Sec. 4.2, before (4.10)).

    ``V_delta(x_0^n) = {x : |x - x_0^n|^2 < |x - x_0^l|^2 - delta^2 for all l != n}``, the exact
    squared-gap test of the definition (the paper's gloss "separated from the boundary by
    distance at least delta" is imprecise: the Euclidean distance of the ``l``-face to the
    bisector is ``delta^2 / (2 |x_0^n - x_0^l|)``). Equivalently ``x_0^n`` is the nearest point
    and the second-nearest squared distance exceeds the nearest by more than ``delta^2``.
    With one data point the cell is the whole space.

    Parameters
    ----------
    x : array_like, shape (B, d) or (d,)
        Points.
    n : int or None
        Cell index; ``None`` tests each point against its own (nearest) cell, i.e.
        membership of ``V_delta``, the union of the ``V_delta(x_0^n)``.
    delta : float
        Gap, ``>= 0``; ``0`` gives the open cell (4.3).
    X0 : array_like, shape (N, d)
        Training points.

    Returns
    -------
    ndarray of bool, shape (B,), or bool
        Membership of each point.

    See Also
    --------
    voronoi_index : the cell holding each point.
    diffmem_theory.voronoi.bounds.shrunk_hyperplane : the faces of ``V_delta(x_0^n)``.

    References
    ----------
    Baptista et al., Sec. 4.2, eqs. (4.10)-(4.14).

    Examples
    --------
    >>> import numpy as np
    >>> X0 = np.array([[0.0], [2.0]])
    >>> in_shrunk_cell(np.array([[0.0], [0.7], [1.2]]), 0, 1.0, X0).tolist()  # gaps 4, 1.2, -0.8
    [True, True, False]
    """
    Y, single = _qry(x, "x")
    data = _pts(X0, "X0", Y.shape[1], "x")
    N = data.shape[0]
    if n is not None:
        n = check_int(n, "n", low=0, high=N - 1)
    d2 = _square(check_scalar(delta, "delta", low=0.0))
    if N == 1:
        out = np.ones(Y.shape[0], dtype=bool)
    else:
        sq, idx = two_nearest(Y, data)
        out = sq[:, 1] - sq[:, 0] > d2
        if n is not None:
            out &= idx[:, 0] == n
    return bool(out[0]) if single else out


# ----------------------------------------------------------------------------------------------
# constants
# ----------------------------------------------------------------------------------------------


def d_minus(X0: ArrayLike) -> float:
    r"""``D_- = min_{l != m} |x_0^l - x_0^m|`` (4.2), the smallest pairwise distance.

    Paper 002's name for :func:`diffmem_theory.core.metrics.min_pairwise_distance`;
    Assumption 4.1 asks ``D_- > 0`` (repeated points give ``0``).

    Parameters
    ----------
    X0 : array_like, shape (N, d)
        Training points, ``N >= 2``.

    Returns
    -------
    float
        ``D_-``.

    See Also
    --------
    d_plus, x_inf : the other constants of the data set.

    References
    ----------
    Baptista et al., Sec. 4.1, eq. (4.2), Assumption 4.1.

    Examples
    --------
    >>> import numpy as np
    >>> d_minus(np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]]))
    1.0
    """
    return min_pairwise_distance(X0, "X0")


def d_plus(X0: ArrayLike) -> float:
    r"""``D^+ = max_{l, m} |x_0^l - x_0^m|`` (4.29), the diameter of the data set.

    Paper 002's name for :func:`diffmem_theory.core.metrics.diameter`.

    Parameters
    ----------
    X0 : array_like, shape (N, d)
        Training points.

    Returns
    -------
    float
        ``D^+``.

    See Also
    --------
    d_minus, x_inf : the other constants of the data set.

    References
    ----------
    Baptista et al., Sec. 4.3, eq. (4.29).

    Examples
    --------
    >>> import numpy as np
    >>> d_plus(np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]]))
    5.0
    """
    return diameter(X0, "X0")


def x_inf(X0: ArrayLike) -> float:
    r"""``|x|_inf = max_n |x_0^n|`` (4.27), the largest Euclidean norm of a data point.

    Parameters
    ----------
    X0 : array_like, shape (N, d)
        Training points.

    Returns
    -------
    float
        ``|x|_inf``.

    See Also
    --------
    d_minus, d_plus : the other constants of the data set.

    References
    ----------
    Baptista et al., Sec. 4.3, eq. (4.27).

    Examples
    --------
    >>> import numpy as np
    >>> x_inf(np.array([[0.0, 0.0], [3.0, 4.0]]))
    5.0
    """
    data = data_points(X0, 1)
    return float(np.sqrt((data * data).sum(-1).max()))


def l_eps(x: ArrayLike, n: int, eps: float, X0: ArrayLike, *, rtol: float = 1e-9) -> np.ndarray:
    r"""Active faces ``L_eps(x; x_0^n) = {l : |x - x_0^n|^2 = |x - x_0^l|^2 - eps^2}`` (4.11).

    Equality is tested as
    ``| |x - x_0^l|^2 - |x - x_0^n|^2 - eps^2 | <= rtol * max(1, |x - x_0^l|^2, |x - x_0^n|^2)``.

    Parameters
    ----------
    x : array_like, shape (d,)
        One point.
    n : int
        Cell index.
    eps : float
        Gap, ``>= 0``.
    X0 : array_like, shape (N, d)
        Training points.
    rtol : float, optional
        Relative tolerance of the equality (default ``1e-9``).

    Returns
    -------
    ndarray of int
        The sorted indices ``l != n`` (empty off every face).

    See Also
    --------
    in_shrunk_cell : membership of ``V_eps(x_0^n)``, whose faces these are.
    diffmem_theory.voronoi.bounds.shrunk_hyperplane : a face as a hyperplane.

    References
    ----------
    Baptista et al., Sec. 4.2, eq. (4.11).

    Examples
    --------
    >>> import numpy as np
    >>> X0 = np.array([[0.0, 0.0], [2.0, 0.0], [-2.0, 0.0]])
    >>> l_eps(np.array([0.75, 0.3]), 0, 1.0, X0).tolist()   # 0.6525 = 1.6525 - 1 on face 1
    [1]
    """
    y = bounded_points(as_float_array(x, "x", ndim=1, dtype=np.float64), "x")
    data = _pts(X0, "X0", y.shape[0], "x")
    N = data.shape[0]
    n = check_int(n, "n", low=0, high=N - 1)
    e2 = _square(check_scalar(eps, "eps", low=0.0))
    tol = check_scalar(rtol, "rtol", low=0.0)
    diff = y - data
    sq = (diff * diff).sum(-1)
    gap = sq - sq[n] - e2
    hit = np.abs(gap) <= tol * np.maximum(1.0, np.maximum(sq, sq[n]))
    hit[n] = False
    return np.flatnonzero(hit)


def alpha_n(delta: float, X0: ArrayLike, n: int | None = None) -> np.ndarray | float:
    r"""Lemma 4.11's ``alpha_n`` (4.30) in closed form: ``(D_n^2 - delta^2) / 2``.

    ``D_n = min_{l != n} |x_0^n - x_0^l|``. (4.30): ``alpha_n = inf_{y in dV_delta^r(x_0^n)}
    min_{l in L_delta(y)} <x_0^n - y, x_0^n - x_0^l>`` for ``delta in (0, D_-)`` and
    ``r > |x|_inf``. By (4.13) the inner product is the constant
    ``(|x_0^n - x_0^l|^2 - delta^2) / 2`` on face ``l``, so ``alpha_n`` is the minimum of that
    over the faces that meet ``B(0, r)``. The face of the nearest neighbour ``x_0^l*``
    (distance ``D_n``) always does: ``y = x_0^n + t u``, ``u`` the unit vector to ``x_0^l*``,
    ``t = (D_n^2 - delta^2) / (2 D_n)``, has gap ``delta^2`` to ``l*`` and, for any other ``m``
    at distance ``e >= D_n >= t``, gap ``>= e^2 - 2 t e >= D_n^2 - 2 t D_n = delta^2``; and
    ``|y| <= max(|x_0^n|, |x_0^l*|) < r``. Hence ``alpha_n = (D_n^2 - delta^2) / 2`` for every
    ``r > |x|_inf``, in particular ``alpha_n >= (D_-^2 - delta^2) / 2``.

    Parameters
    ----------
    delta : float
        Gap, ``0 < delta < D_-``.
    X0 : array_like, shape (N, d)
        Distinct training points, ``N >= 2`` (Assumption 4.1).
    n : int, optional
        Cell index; ``None`` returns all ``N`` values.

    Returns
    -------
    float or ndarray, shape (N,)
        ``alpha_n``.

    See Also
    --------
    s_alpha : the time of (4.31) built on ``alpha_n``.
    d_minus : ``D_-``.

    References
    ----------
    Baptista et al., Lemma 4.11, eqs. (4.13), (4.30).

    Examples
    --------
    >>> import numpy as np
    >>> X0 = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 3.0]])
    >>> alpha_n(1.0, X0).tolist()    # nearest-neighbour distances 2, 2, sqrt(13)
    [1.5, 1.5, 4.0]
    """
    data = data_points(X0, 2)
    nn_sq = nearest_other_sq(data)
    _check_distinct(data, nn_sq)
    dm = float(np.sqrt(nn_sq.min()))
    dl = check_scalar(delta, "delta", low=0.0, high=dm, low_open=True, high_open=True)
    out = 0.5 * (nn_sq - dl * dl)
    if n is None:
        return out
    n = check_int(n, "n", low=0, high=data.shape[0] - 1)
    return float(out[n])


def s_alpha(delta: float, X0: ArrayLike, n: int | None = None, s0: float = -np.inf) -> float:
    r"""Infimum of the times ``s^alpha`` admissible in (4.31) (Lemma 4.11), at least ``s0``.

    (4.31): ``(N - 1) exp(-e^{2 s} delta^2 / 2) |x|_inf < alpha_n / (4 D^+)``, i.e.

    .. math::

        s > \tfrac{1}{2} \ln\Bigl(\frac{2}{\delta^2} \ln A\Bigr), \qquad
        A = \frac{4 D^+ (N - 1) |x|_\infty}{\alpha_n}

    (always ``A >= 4 (N - 1) > 1``, as ``alpha_n <= (D^+)^2 / 2`` and ``D^+ <= 2 |x|_inf``),
    computed in logarithms (no overflow for extreme ``delta``). Every ``s > s_alpha`` (and
    ``> s0``) satisfies (4.31).

    Parameters
    ----------
    delta : float
        Gap, ``0 < delta < D_-``.
    X0 : array_like, shape (N, d)
        Distinct training points, ``N >= 2``.
    n : int, optional
        Cell index; ``None`` uses ``min_n alpha_n``, so the time is valid for all cells.
    s0 : float, optional
        A lower bound on the result (default ``-inf``).

    Returns
    -------
    float
        ``max(s0, s^alpha)``.

    See Also
    --------
    alpha_n : the constant of (4.30).
    diffmem_theory.voronoi.bounds.s_one_two_vp : the VP times of Lemma C.6.

    References
    ----------
    Baptista et al., Lemma 4.11, eq. (4.31).

    Examples
    --------
    >>> import numpy as np
    >>> X0 = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 3.0]])
    >>> s = s_alpha(1.0, X0)
    >>> bool(np.isclose(2 * np.exp(-np.exp(2 * s) / 2) * 3.0, 1.5 / (4 * d_plus(X0))))
    True
    """
    data = data_points(X0, 2)
    alphas = alpha_n(delta, data)
    a = (
        float(alphas.min())
        if n is None
        else float(alphas[check_int(n, "n", low=0, high=len(alphas) - 1)])
    )
    start = -np.inf if np.ndim(s0) == 0 and s0 == -np.inf else check_scalar(s0, "s0")
    log_a = math.log(4.0 * (data.shape[0] - 1)) + math.log(d_plus(data)) + math.log(x_inf(data))
    log_a -= math.log(a)  # log A, in logs: no ZeroDivisionError or overflow for extreme delta
    bound = 0.5 * (math.log(2.0) - 2.0 * math.log(float(delta)) + math.log(log_a))
    return float(max(start, bound))


# ----------------------------------------------------------------------------------------------
# limits, rates, memorization
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LimitClassification:
    """Result of :func:`classify_limit`, arrays of shape ``(B,)``.

    ``kind``: ``"data"``, ``"boundary"`` or ``"neither"``; ``index``: nearest data point;
    ``distance``: ``|x - x^(1)|``; ``bisector_distance``: distance to the bisector of the two
    nearest points, ``(|x - x^(2)|^2 - |x - x^(1)|^2) / (2 |x^(1) - x^(2)|)`` (``inf`` for N = 1).
    The four arrays share one 1-D shape; ``kind`` holds only the three labels, ``index``
    integers >= 0, ``distance`` finite values >= 0 and ``bisector_distance`` values >= 0 or
    ``inf`` (``ValueError`` otherwise).

    >>> LimitClassification(np.array(["data"]), np.array([0]), [0.0], [np.inf]).bisector_distance
    array([inf])
    """

    kind: np.ndarray
    index: np.ndarray
    distance: np.ndarray
    bisector_distance: np.ndarray

    def __post_init__(self) -> None:
        kind = np.asarray(self.kind)
        index = np.asarray(self.index)
        if kind.ndim != 1 or not np.all(np.isin(kind, _LIMIT_KINDS)):
            raise ValueError(f"kind must be a 1-D array of labels in {list(_LIMIT_KINDS)}")
        if index.shape != kind.shape or index.dtype.kind not in "iu" or np.any(index < 0):
            raise ValueError(f"index must hold {kind.shape[0]} integers >= 0")
        distance = as_float_array(self.distance, "distance", ndim=1, dtype=np.float64)
        bisector = as_float_array(
            self.bisector_distance, "bisector_distance", ndim=1, dtype=np.float64, finite=False
        )
        for name, arr in (("distance", distance), ("bisector_distance", bisector)):
            if arr.shape != kind.shape or np.any(~(arr >= 0)):
                raise ValueError(f"{name} must hold {kind.shape[0]} values >= 0 (no NaN)")
        for name, value in (("kind", kind), ("index", index), ("distance", distance)):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "bisector_distance", bisector)


def classify_limit(x_end: ArrayLike, X0: ArrayLike, tol: float = 1e-2) -> LimitClassification:
    r"""Classify trajectory end points as data points or Voronoi-boundary points (Thm 4.3).

    Thm 4.3: every limit point lies in ``V^r`` (then it is a data point) or on ``dV^r`` (4.4).
    A point is ``"data"`` if ``|x - x^(1)| <= tol``; otherwise ``"boundary"`` if its distance
    to the bisector of its two nearest data points,
    ``(|x - x^(2)|^2 - |x - x^(1)|^2) / (2 |x^(1) - x^(2)|)``, is ``<= tol``; else
    ``"neither"``. (That bisector distance bounds the distance to ``dV`` from above; from below
    it is ``>= (|x - x^(2)| - |x - x^(1)|) / 2``.)

    Parameters
    ----------
    x_end : array_like, shape (B, d) or (d,)
        End points of trajectories.
    X0 : array_like, shape (N, d)
        Training points.
    tol : float, optional
        Distance tolerance, ``>= 0`` (default ``1e-2``).

    Returns
    -------
    LimitClassification
        ``kind``, ``index`` (nearest data point), ``distance`` and ``bisector_distance``.

    See Also
    --------
    voronoi_index : the cell holding each point.
    convergence_rate_fit : the rate at which trajectories reach their limit.

    References
    ----------
    Baptista et al., Thm 4.3, Ex. 4.4.

    Examples
    --------
    >>> import numpy as np
    >>> X0 = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> classify_limit(np.array([[0.999, 0.0], [0.0, 0.3], [0.5, 0.0]]), X0).kind.tolist()
    ['data', 'boundary', 'neither']
    """
    Y, _ = _qry(x_end, "x_end")
    data = _pts(X0, "X0", Y.shape[1], "x_end")
    t = check_scalar(tol, "tol", low=0.0)
    sq, idx = two_nearest(Y, data)
    dist = np.sqrt(sq[:, 0])
    if data.shape[0] == 1:
        bis = np.full(Y.shape[0], np.inf)
    else:
        sep = np.sqrt(((data[idx[:, 0]] - data[idx[:, 1]]) ** 2).sum(-1))
        with np.errstate(divide="ignore", invalid="ignore"):
            bis = np.where(sep > 0, (sq[:, 1] - sq[:, 0]) / (2.0 * sep), 0.0)
    kind = np.where(dist <= t, "data", np.where(bis <= t, "boundary", "neither"))
    return LimitClassification(kind, idx[:, 0].astype(np.intp), dist, bis)


@dataclass(frozen=True)
class RateFit:
    """Least-squares fit ``log distance = slope * log sigma + intercept``, with standard errors.

    ``slope`` and ``intercept`` are finite reals, the standard errors finite and >= 0,
    ``n_points >= 3`` an integer (``ValueError`` otherwise).
    """

    slope: float
    intercept: float
    stderr: float
    intercept_stderr: float
    n_points: int

    def __post_init__(self) -> None:
        for name in ("slope", "intercept"):
            object.__setattr__(self, name, check_scalar(getattr(self, name), name))
        for name in ("stderr", "intercept_stderr"):
            object.__setattr__(self, name, check_scalar(getattr(self, name), name, low=0.0))
        object.__setattr__(self, "n_points", check_int(self.n_points, "n_points", low=3))


def convergence_rate_fit(sigma: ArrayLike, distance: ArrayLike) -> RateFit:
    r"""Slope of ``log |x(t) - x*|`` against ``log sigma(t)`` by ordinary least squares.

    Thm 4.3 (4.7): ``|x(t) - x*| <~ sigma(t)``, so the slope is 1 (on the authors' 20 points,
    the median slope over trajectories is 1.00 +- 0.02 on ``t in [1e-5, 1e-3]``, VE and VP).
    With ``u = log sigma``, ``v = log distance``, ``m`` points: ``slope = S_uv / S_uu``,
    residual variance ``s^2 = sum(res^2) / (m - 2)``, ``stderr = sqrt(s^2 / S_uu)``,
    ``intercept_stderr = sqrt(s^2 (1/m + mean(u)^2 / S_uu))``.

    Parameters
    ----------
    sigma : array_like, shape (m,)
        Noise standard deviations sigma(t) > 0, at least two distinct, ``m >= 3``.
    distance : array_like, shape (m,)
        Distances ``|x(t) - x*| > 0`` at the same times.

    Returns
    -------
    RateFit
        Slope, intercept, their standard errors and ``m``.

    See Also
    --------
    classify_limit : the limit ``x*`` of each trajectory.

    References
    ----------
    Baptista et al., Thm 4.3, eq. (4.7); (4.26) and (C.7).

    Examples
    --------
    >>> import numpy as np
    >>> sig = np.geomspace(1e-3, 1e-1, 5)
    >>> fit = convergence_rate_fit(sig, 2.0 * sig)
    >>> round(fit.slope, 12), round(fit.intercept, 12) == round(float(np.log(2.0)), 12)
    (1.0, True)
    """
    s = as_float_array(sigma, "sigma", ndim=1, dtype=np.float64)
    d = as_float_array(distance, "distance", ndim=1, dtype=np.float64)
    if s.shape != d.shape:
        raise ValueError(
            f"sigma and distance must have the same length, got {s.shape[0]} and {d.shape[0]}"
        )
    if s.shape[0] < 3:
        raise ValueError(f"sigma and distance need at least 3 points, got {s.shape[0]}")
    if np.any(s <= 0):
        raise ValueError(f"sigma must be > 0, got min {s.min()!r}")
    if np.any(d <= 0):
        raise ValueError(f"distance must be > 0, got min {d.min()!r}")
    u, v = np.log(s), np.log(d)
    m = u.shape[0]
    um, vm = u.mean(), v.mean()
    suu = float(((u - um) ** 2).sum())
    if suu <= 0.0:
        raise ValueError("sigma must take at least two distinct values")
    slope = float(((u - um) * (v - vm)).sum() / suu)
    intercept = float(vm - slope * um)
    res = v - (slope * u + intercept)
    s2 = float((res * res).sum() / (m - 2))
    return RateFit(
        slope=slope,
        intercept=intercept,
        stderr=float(np.sqrt(s2 / suu)),
        intercept_stderr=float(np.sqrt(s2 * (1.0 / m + um * um / suu))),
        n_points=m,
    )
