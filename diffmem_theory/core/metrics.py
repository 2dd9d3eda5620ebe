r"""Memorization criteria, the phase-transition finder and learned-parameter diagnostics.

Buchanan et al. (paper 000):

* :func:`is_memorized`, :func:`memorization_ratio` -- Def. 2.2: a generated sample ``x`` is
  memorized if ``|x - x^(1)|^2 <= c |x - x^(2)|^2``, ``x^(k)`` its k-th nearest training point,
  with ``c = 1/9`` in every experiment (Sec. 4); the ratio is the memorized fraction of
  ``N_eval = 50`` samples.
* :func:`phase_transition`, :func:`refinement_grid` -- the model sizes where the ratio first
  reaches 1/10 (start), 1/2 (``M_pt``, "memorizing on average") and 9/10 (end), and the extra
  model sizes of App. H.1 between start and end.
* :func:`nearest_distances`, :func:`near_counts` -- the learned-mean diagnostics of Fig. 6
  (distance of each learned mean to its nearest training sample / ground-truth mean, and the
  authors' "near" counts with the 1/3 distance-ratio rule).

Sample quality: :func:`gaussian_frechet_distance`, the closed-form Frechet distance between
Gaussians (the FID formula; paper 004's synthetic ambient experiment).

The nearest-neighbour search (:func:`two_nearest`) forms squared distances with one BLAS matmul
``|y|^2 - 2 y.x + |x|^2`` per chunk of queries (chunks of at most ~32 MiB of distances), keeps a
three candidates per query and recomputes their distances exactly as ``sum((y - x)^2)``; a query
whose candidates cannot be certified against the rounding error of the expansion is redone by
brute force, so the result equals the brute-force one.

Samples and training points may be arrays of any array-API library (the samples of a JAX or
PyTorch model from :func:`diffmem_theory.core.dynamics.solve`): they are read as NumPy by DLPack,
without a copy for an array in host memory; an array on a GPU is copied to the host once (the
search runs on NumPy and BLAS).

>>> import numpy as np
>>> X = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 9.0]])
>>> is_memorized(np.array([[0.5, 0.0], [2.0, 0.0]]), X).tolist()   # 0.25 <= 12.25/9; 4 > 4/9
[True, False]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from diffmem_theory._validation import (
    as_float_array,
    as_points,
    as_queries,
    bounded_points,
    check_allocation,
    check_bool,
    check_choice,
    check_covariance,
    check_int,
    check_last_dim,
    check_scalar,
    finite_result,
)
from diffmem_theory.core.denoisers import to_namespace

__all__ = [
    "NearCounts",
    "NearestDistances",
    "PhaseTransition",
    "Trend",
    "diameter",
    "fraction_se",
    "gaussian_frechet_distance",
    "is_memorized",
    "memorization_fraction",
    "memorization_ratio",
    "min_pairwise_distance",
    "near_counts",
    "nearest_distances",
    "nearest_other_sq",
    "phase_transition",
    "refinement_grid",
    "rising_trend",
    "two_nearest",
]

_CHUNK_BYTES = 32 * 2**20  # one chunk of the B x N matrix of squared distances
_N_CANDIDATES = 3  # candidates per query whose distances are recomputed exactly
_EPS = float(np.finfo(np.float64).eps)


def _on_host(value: ArrayLike) -> ArrayLike:
    """An array of another array-API library (JAX, PyTorch, CuPy, ...) read as NumPy: by DLPack,
    without a copy on the CPU; copied from a GPU (the search runs on NumPy and BLAS). Anything
    else as is, for the NumPy validation."""
    try:
        return to_namespace(value, None)
    except TypeError:
        return value


# ----------------------------------------------------------------------------------------------
# nearest neighbours
# ----------------------------------------------------------------------------------------------


def _exact_sq(y: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """``sum((y - p)^2)`` over the last axis, the brute-force formula."""
    diff = y - pts
    return (diff * diff).sum(-1)


def _two_nearest(
    Y: np.ndarray, X: np.ndarray, chunk_size: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Squared distances ``(B, k)`` and indices ``(B, k)`` of the ``k = min(N, 2)`` nearest.

    Per chunk: ``P = -2 y X^T + |X|^2`` (one BLAS matmul and one pass; ``|y|^2`` is constant per
    row), the ``k = min(N, 3)`` smallest entries of each row by repeated ``argmin``, their exact
    distances, and a certificate that no other point can be nearer than the second: every other
    ``P_j`` is at least the k-th smallest, and the expansion errs by at most ``tol``.
    """
    B, d = Y.shape
    N = X.shape[0]
    top = max(float(np.abs(Y).max()), float(np.abs(X).max()))
    if not np.isfinite(4.0 * top * top * d):
        raise ValueError(
            f"the points are too large for squared distances in float64 (max |coordinate| = "
            f"{top:.3g} in dimension {d}); rescale the data"
        )
    k_out = min(N, 2)
    k = min(N, _N_CANDIDATES)
    chunk = chunk_size or max(1, _CHUNK_BYTES // (8 * N))
    x_sq = np.einsum("ij,ij->i", X, X)
    x_sq_max = float(x_sq.max())
    minus_2xt = -2.0 * X.T
    sq = np.empty((B, k_out))
    idx = np.empty((B, k_out), dtype=np.intp)
    rows_b = np.arange(min(chunk, B))
    for lo in range(0, B, chunk):
        y = Y[lo : lo + chunk]
        b = y.shape[0]
        rows = rows_b[:b]
        partial = y @ minus_2xt
        partial += x_sq
        cand = np.empty((b, k), dtype=np.intp)
        for j in range(k):  # k passes of argmin beat a full argpartition for k this small
            cand[:, j] = partial.argmin(axis=1)
            kth = partial[rows, cand[:, j]]
            partial[rows, cand[:, j]] = np.inf
        exact = _exact_sq(y[:, None, :], X[cand])  # (b, k)
        order = np.argsort(exact, axis=1, kind="stable")[:, :k_out]
        sq[lo : lo + b] = np.take_along_axis(exact, order, axis=1)
        idx[lo : lo + b] = np.take_along_axis(cand, order, axis=1)
        if k < N:
            # every other point j has |y - x_j|^2 >= |y|^2 + kth - tol
            y_sq = np.einsum("ij,ij->i", y, y)
            tol = 4.0 * (d + 4) * _EPS * (y_sq + x_sq_max)
            unsure = np.flatnonzero(y_sq + kth - tol < sq[lo : lo + b, k_out - 1])
            for i in unsure:  # rare: near-ties with many points; redo this query by brute force
                full = _exact_sq(y[i], X)
                best = np.argsort(full, kind="stable")[:k_out]
                sq[lo + i], idx[lo + i] = full[best], best
    return sq, idx


def two_nearest(
    samples: ArrayLike, X: ArrayLike, *, chunk_size: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    r"""Squared distances and indices of the two nearest points of ``X`` to each sample.

    ``sq[:, 0] = |x - x^(1)|^2 <= sq[:, 1] = |x - x^(2)|^2``, computed exactly as
    ``sum((x - x^(k))^2)`` (which of several exactly tied points is reported is unspecified).
    The search is one BLAS matmul per chunk of ``chunk_size`` samples (default: ~32 MiB of
    distances) plus an exact recomputation of three candidates, certified against the rounding
    error of the expansion ``|x|^2 - 2 x.y + |y|^2`` (uncertified queries fall back to brute
    force), so the result equals the brute-force one.

    Parameters
    ----------
    samples : array_like, shape (B, d) or (d,)
        The query points (generated samples). An array of any array-API library
        (JAX, PyTorch, CuPy, ...) is read as NumPy by DLPack (no copy on the CPU).
    X : array_like, shape (N, d)
        The training points.
    chunk_size : int, optional
        Samples per chunk of the distance matrix.

    Returns
    -------
    sq : ndarray, shape (B, 2)
        Squared distances to the nearest and second-nearest point (``(B, 1)`` when ``N = 1``;
        ``(2,)`` for a single sample).
    idx : ndarray of intp, shaped like ``sq``
        Their indices in ``X``.

    See Also
    --------
    is_memorized : Def. 2.2 on these distances.
    nearest_other_sq : The nearest *other* point of a set.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 0.0], [3.0, 0.0], [1.0, 1.0]])
    >>> sq, idx = two_nearest(np.array([[1.0, 0.5]]), X)
    >>> sq.tolist(), idx.tolist()
    ([[0.25, 1.25]], [[2, 0]])
    """
    Y, single = as_queries(_on_host(samples), "samples")
    data = as_points(_on_host(X), "X", Y.shape[1], "samples")
    if chunk_size is not None:
        chunk_size = check_int(chunk_size, "chunk_size", low=1)
    sq, idx = _two_nearest(Y, data, chunk_size)
    return (sq[0], idx[0]) if single else (sq, idx)


# ----------------------------------------------------------------------------------------------
# memorization (Def. 2.2)
# ----------------------------------------------------------------------------------------------


def is_memorized(
    samples: ArrayLike,
    X: ArrayLike,
    c: float = 1 / 9,
    *,
    strict: bool = False,
    chunk_size: int | None = None,
) -> np.ndarray:
    r"""Whether each sample is memorized in the sense of Buchanan et al. (paper 000), Def. 2.2.

    A sample ``x`` is memorized if

        |x - x^(1)|^2 <= c |x - x^(2)|^2,

    ``x^(k)`` the k-th nearest training point of ``X`` in l2 (with multiplicity) and
    ``c in (0, 1)``; the paper's experiments use ``c = 1/9``. This function follows the
    definition (non-strict, on squared distances). The authors' code tests
    ``|x - x^(1)| < (1/3) |x - x^(2)|`` (strict, on distances); ``strict=True`` gives that rule
    (``d1^2 < c d2^2``, the same set for ``c = 1/9``). The two differ only on the boundary, e.g.
    for a sample equal to a point that appears twice in ``X`` (``0 <= 0`` but not ``0 < 0``).

    Parameters
    ----------
    samples : array_like, shape (B, d) or (d,)
        Generated samples. An array of any array-API library
        (JAX, PyTorch, CuPy, ...) is read as NumPy by DLPack (no copy on the CPU).
    X : array_like, shape (N, d)
        The training points, ``N >= 2``.
    c : float, default 1/9
        The ratio of squared distances, ``0 < c < 1``.
    strict : bool, default False
        The authors' strict rule instead of the definition's.
    chunk_size : int, optional
        As in :func:`two_nearest` (whose exact distances are used).

    Returns
    -------
    ndarray of bool, shape (B,), or bool for a single sample

    See Also
    --------
    memorization_ratio : The memorized fraction.
    two_nearest : The distances.

    References
    ----------
    Buchanan et al. (paper 000), Def. 2.2 and Sec. 4.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [3.0]])
    >>> is_memorized(np.array([[0.0], [0.75], [1.0]]), X).tolist()   # 1 <= 4/9? no
    [True, True, False]
    """
    Y, single = as_queries(_on_host(samples), "samples")
    data = as_points(_on_host(X), "X", Y.shape[1], "samples")
    if data.shape[0] < 2:
        raise ValueError(
            f"X must hold at least 2 training points (Def. 2.2 compares the nearest with the "
            f"second nearest, undefined for N = 1), got shape {data.shape}"
        )
    ratio = check_scalar(c, "c", low=0.0, high=1.0, low_open=True, high_open=True)
    strict = check_bool(strict, "strict")
    if chunk_size is not None:
        chunk_size = check_int(chunk_size, "chunk_size", low=1)
    sq, _ = _two_nearest(Y, data, chunk_size)
    out = sq[:, 0] < ratio * sq[:, 1] if strict else sq[:, 0] <= ratio * sq[:, 1]
    return bool(out[0]) if single else out


def memorization_ratio(
    samples: ArrayLike,
    X: ArrayLike,
    c: float = 1 / 9,
    *,
    strict: bool = False,
    chunk_size: int | None = None,
) -> float:
    r"""Fraction of ``samples`` memorized in the sense of Def. 2.2 (:func:`is_memorized`).

    Buchanan et al. (paper 000), Sec. 4: the memorization ratio of a trained denoiser is this
    fraction over ``N_eval = 50`` DDIM samples, with ``c = 1/9``; ``>= 1/2`` is "memorizing on
    average".

    Parameters
    ----------
    samples : array_like, shape (B, d)
        Generated samples, ``B >= 1``. An array of any array-API library
        (JAX, PyTorch, CuPy, ...) is read as NumPy by DLPack (no copy on the CPU).
    X, c, strict, chunk_size
        As in :func:`is_memorized`.

    Returns
    -------
    float
        In ``[0, 1]``.

    See Also
    --------
    is_memorized, phase_transition, memorization_fraction

    References
    ----------
    Buchanan et al. (paper 000), Def. 2.2 and Sec. 4.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [3.0]])
    >>> memorization_ratio(np.array([[0.1], [2.9], [1.5], [1.4]]), X)
    0.5
    """
    Y, _ = as_queries(_on_host(samples), "samples")
    if Y.shape[0] == 0:
        raise ValueError("samples must hold at least one sample, got shape (0, d)")
    flags = is_memorized(Y, X, c, strict=strict, chunk_size=chunk_size)
    return float(np.mean(flags))


# ----------------------------------------------------------------------------------------------
# phase transition
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhaseTransition:
    r"""Model sizes bracketing the memorization phase transition (paper 000, Sec. 4).

    Attributes
    ----------
    M_start : int, float or None
        Where the memorization ratio reaches 1/10.
    M_pt : int, float or None
        Where it reaches 1/2 ("memorizing on average", the paper's ``M_pt(N, d, K)``).
    M_end : int, float or None
        Where it reaches 9/10. ``None`` when a threshold is never reached.

    See Also
    --------
    phase_transition : Finds them.
    """

    M_start: int | float | None
    M_pt: int | float | None
    M_end: int | float | None


def _first_at_least(Ms: np.ndarray, ratios: np.ndarray, level: float) -> int | None:
    hits = np.flatnonzero(ratios >= level)
    return int(hits[0]) if hits.size else None


def _first_crossing(ratios: np.ndarray, level: float) -> int | None:
    """First i with ratios[i] < level <= ratios[i + 1] (the authors' loop)."""
    hits = np.flatnonzero((ratios[:-1] < level) & (ratios[1:] >= level))
    return int(hits[0]) if hits.size else None


def phase_transition(
    Ms: ArrayLike,
    ratios: ArrayLike,
    start: float = 0.1,
    mid: float = 0.5,
    end: float = 0.9,
    *,
    convention: str = "paper",
) -> PhaseTransition:
    r"""Locate the memorization phase transition on a memorization-ratio curve.

    Buchanan et al. (paper 000), Sec. 4: the denoiser has *started* the phase transition when
    its memorization ratio is ``>= 1/10``, is memorizing on average (``M_pt``) when ``>= 1/2``
    and has *ended* it when ``>= 9/10``. With ``convention="paper"`` each of
    ``M_start, M_pt, M_end`` is the first ``M`` of the grid whose ratio reaches the threshold
    (``None`` if none does); the curve need not be monotone.

    ``convention="code"`` reproduces the authors' sweep script: with ``i`` the first index where
    the ratio crosses a level upward (``r_i < level <= r_{i+1}``), ``M_start = Ms[i]`` is the
    last grid ``M`` *before* crossing ``start`` (default ``Ms[0]``) and ``M_end = Ms[i + 1]`` the
    first after crossing ``end`` (default ``Ms[-1]``); ``M_pt`` keeps the paper's definition (the
    code has none). Only the refinement grid (:func:`refinement_grid`) depends on this choice.

    Parameters
    ----------
    Ms : array_like, shape (n,)
        Model sizes, strictly increasing.
    ratios : array_like, shape (n,)
        Memorization ratios in ``[0, 1]``.
    start, mid, end : float
        The levels, ``0 < start <= mid <= end <= 1`` (default 1/10, 1/2, 9/10).
    convention : {"paper", "code"}
        The definition of the start and end.

    Returns
    -------
    PhaseTransition

    See Also
    --------
    memorization_ratio, refinement_grid

    References
    ----------
    Buchanan et al. (paper 000), Sec. 4 and App. H.1.

    Examples
    --------
    >>> Ms = [20, 40, 60, 80, 100, 120, 140, 160, 180, 200]
    >>> ratios = [0, 0, 0.04, 0.3, 0.5, 0.8, 0.92, 1, 1, 1]
    >>> phase_transition(Ms, ratios)
    PhaseTransition(M_start=80, M_pt=100, M_end=140)
    >>> phase_transition(Ms, ratios, convention="code")
    PhaseTransition(M_start=60, M_pt=100, M_end=140)
    """
    grid = as_float_array(Ms, "Ms", ndim=1)
    r = as_float_array(ratios, "ratios", ndim=1, dtype=np.float64)
    if grid.shape[0] == 0:
        raise ValueError("Ms must hold at least one model size, got an empty array")
    if r.shape != grid.shape:
        raise ValueError(f"ratios must have the shape of Ms {grid.shape}, got shape {r.shape}")
    if np.any(np.diff(grid) <= 0):
        raise ValueError(f"Ms must be strictly increasing, got {np.asarray(Ms).tolist()}")
    if np.any((r < 0) | (r > 1)):
        raise ValueError(f"ratios must lie in [0, 1], got min {r.min()!r}, max {r.max()!r}")
    lo = check_scalar(start, "start", low=0.0, high=1.0, low_open=True)
    md = check_scalar(mid, "mid", low=lo, high=1.0)
    hi = check_scalar(end, "end", low=md, high=1.0)
    check_choice(convention, "convention", ("paper", "code"))
    values = np.asarray(Ms)
    as_int = values.dtype.kind in "iu"

    def pick(i: int | None) -> int | float | None:
        if i is None:
            return None
        return int(values[i]) if as_int else float(values[i])

    i_pt = _first_at_least(grid, r, md)
    if convention == "paper":
        return PhaseTransition(
            pick(_first_at_least(grid, r, lo)), pick(i_pt), pick(_first_at_least(grid, r, hi))
        )
    i_start, i_end = _first_crossing(r, lo), _first_crossing(r, hi)
    return PhaseTransition(
        pick(0 if i_start is None else i_start),
        pick(i_pt),
        pick(len(r) - 1 if i_end is None else i_end + 1),
    )


def refinement_grid(M_start: int, M_end: int, n_models: int = 10) -> np.ndarray:
    r"""The extra model sizes trained between the phase-transition start and end (App. H.1).

    Buchanan et al. (paper 000), App. H.1: "10 more [models] with M equally spaced between the
    PT-start and the PT-end M"; the authors' code builds ``range(M_start, M_end + 1,
    max((M_end - M_start) // n_models, 1))``, which this returns. That is every integer when the
    gap ``M_end - M_start`` is below ``2 n_models``, and otherwise between ``n_models + 1`` and
    ``2 n_models`` sizes; ``M_end`` is included only when the step divides the gap
    (``refinement_grid(0, 25)`` stops at 24).

    Parameters
    ----------
    M_start : int
        The start, ``>= 0``.
    M_end : int
        The end, ``>= M_start``.
    n_models : int, default 10
        The number of steps, ``>= 1``.

    Returns
    -------
    ndarray of int64

    See Also
    --------
    phase_transition : ``M_start`` and ``M_end``.

    References
    ----------
    Buchanan et al. (paper 000), App. H.1.

    Examples
    --------
    >>> refinement_grid(60, 140).tolist()
    [60, 68, 76, 84, 92, 100, 108, 116, 124, 132, 140]
    >>> refinement_grid(60, 75).tolist()[:4], len(refinement_grid(60, 75))
    ([60, 61, 62, 63], 16)
    """
    lo = check_int(M_start, "M_start", low=0)
    hi = check_int(M_end, "M_end", low=lo)
    n = check_int(n_models, "n_models", low=1)
    step = max((hi - lo) // n, 1)
    check_allocation((hi - lo) // step + 1, f"a grid of {(hi - lo) // step + 1} model sizes")
    return np.arange(lo, hi + 1, step, dtype=np.int64)


# ----------------------------------------------------------------------------------------------
# learned-parameter diagnostics (Fig. 6)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class NearestDistances:
    r"""Distances from each learned mean to its nearest and second-nearest point of a set.

    Attributes
    ----------
    nearest, second : ndarray, shape (M,)
        The nearest and second-nearest distances (``second`` is NaN when the set has one point).
    index : ndarray of intp, shape (M,)
        The index of the nearest point.
    mean : float
        The average nearest distance (Fig. 6, middle/right).
    percentiles : dict of float to float
        Percentiles of the nearest distances (linear interpolation, as ``np.percentile``).

    See Also
    --------
    nearest_distances : Makes it.
    """

    nearest: np.ndarray
    second: np.ndarray
    index: np.ndarray
    mean: float
    percentiles: dict[float, float]


def _nearest(means: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sq, idx = _two_nearest(means, pts, None)
    dist = np.sqrt(sq)
    second = dist[:, 1] if dist.shape[1] > 1 else np.full(dist.shape[0], np.nan)
    return dist[:, 0], second, idx[:, 0]


def nearest_distances(
    means: ArrayLike, points: ArrayLike, percentiles: Sequence[float] = (10, 25, 50, 75, 90)
) -> NearestDistances:
    r"""Distance from each learned mean to its nearest point of ``points`` (Fig. 6 of paper 000).

    Buchanan et al. (paper 000), Fig. 6: the average distance from each learned mean to its
    nearest training sample (middle panel, ``points = X_train``) and to its nearest ground-truth
    mean (right panel, ``points = true_means``), against M. The authors' code also records the
    10/25/50/75/90th percentiles and the distance to the second-nearest point.

    Parameters
    ----------
    means : array_like, shape (M, d)
        Learned means.
    points : array_like, shape (N, d)
        Training samples or ground-truth means (``N = 1`` gives NaN second distances).
    percentiles : sequence of float, default (10, 25, 50, 75, 90)
        Levels in ``[0, 100]``.

    Returns
    -------
    NearestDistances

    See Also
    --------
    near_counts : The authors' "near" counts.

    References
    ----------
    Buchanan et al. (paper 000), Fig. 6.

    Examples
    --------
    >>> import numpy as np
    >>> means, X = np.array([[0.0, 1.0], [5.0, 0.0]]), np.array([[0.0, 0.0], [4.0, 0.0]])
    >>> res = nearest_distances(means, X)
    >>> res.nearest.tolist(), res.index.tolist(), res.mean, res.percentiles[50]
    ([1.0, 1.0], [0, 1], 1.0, 1.0)
    """
    mu = as_points(means, "means")
    pts = as_points(points, "points", mu.shape[1], "means")
    levels = as_float_array(percentiles, "percentiles", ndim=1, dtype=np.float64)
    if np.any((levels < 0) | (levels > 100)):
        raise ValueError(f"percentiles must lie in [0, 100], got {levels.tolist()}")
    near, second, index = _nearest(mu, pts)
    values = np.percentile(near, levels) if levels.size else np.empty(0)
    return NearestDistances(
        near,
        second,
        index,
        float(near.mean()),
        {float(p): float(v) for p, v in zip(levels, values, strict=True)},
    )


@dataclass(frozen=True, eq=False)
class NearCounts:
    r"""Which learned means are near a ground-truth mean / a training sample (authors' rule).

    Attributes
    ----------
    near_true_mean, near_sample : ndarray of bool, shape (M,)
        The masks; :attr:`n_near_true_mean` and :attr:`n_near_sample` are their counts.

    See Also
    --------
    near_counts : Makes it.
    """

    near_true_mean: np.ndarray
    near_sample: np.ndarray

    @property
    def n_near_true_mean(self) -> int:
        """Number of learned means near a ground-truth mean."""
        return int(self.near_true_mean.sum())

    @property
    def n_near_sample(self) -> int:
        """Number of learned means near a training sample."""
        return int(self.near_sample.sum())


def near_counts(
    means: ArrayLike, X_train: ArrayLike, true_means: ArrayLike, ratio: float = 1 / 3
) -> NearCounts:
    r"""The "learned mean near true mean / near sample" counts of the authors' code (Fig. 6).

    Buchanan et al. (paper 000), Fig. 6, with the rule of the authors' analysis script: with
    ``m1, m2`` the distances from a learned mean to its nearest and second-nearest ground-truth
    mean and ``s1, s2`` those to the training samples, the distance-ratio rule of Def. 2.2
    (strict, on distances, ``ratio = 1/3`` i.e. ``c = 1/9``) is applied against both sets:

        near true mean:  m1 < ratio s1  and  m1 < ratio m2   (second test only if K > 1),
        near sample:     s1 < ratio m1  and  s1 < ratio s2   (second test only if N > 1).

    Parameters
    ----------
    means : array_like, shape (M, d)
        Learned means.
    X_train : array_like, shape (N, d)
        Training samples.
    true_means : array_like, shape (K, d)
        Ground-truth means.
    ratio : float, default 1/3
        The distance ratio, ``0 < ratio < 1``.

    Returns
    -------
    NearCounts

    See Also
    --------
    nearest_distances, is_memorized

    References
    ----------
    Buchanan et al. (paper 000), Def. 2.2 and Fig. 6.

    Examples
    --------
    >>> import numpy as np
    >>> X, mu = np.array([[0.0, 0.0], [10.0, 0.0]]), np.array([[0.0, 5.0], [10.0, 5.0]])
    >>> res = near_counts(np.array([[0.0, 0.1], [0.2, 4.9], [5.0, 2.5]]), X, mu)
    >>> res.near_sample.tolist(), res.near_true_mean.tolist(), res.n_near_sample
    ([True, False, False], [False, True, False], 1)
    """
    mu = as_points(means, "means")
    X = as_points(X_train, "X_train", mu.shape[1], "means")
    truth = as_points(true_means, "true_means", mu.shape[1], "means")
    r = check_scalar(ratio, "ratio", low=0.0, high=1.0, low_open=True, high_open=True)
    m1, m2, _ = _nearest(mu, truth)
    s1, s2, _ = _nearest(mu, X)
    near_true = m1 < r * s1
    if truth.shape[0] > 1:
        near_true &= m1 < r * m2
    near_sample = s1 < r * m1
    if X.shape[0] > 1:
        near_sample &= s1 < r * s2
    return NearCounts(near_true, near_sample)


def _psd_sqrt(A: np.ndarray) -> np.ndarray:
    w, V = np.linalg.eigh(0.5 * (A + A.T))
    return (V * np.sqrt(np.clip(w, 0.0, None))) @ V.T


def gaussian_frechet_distance(
    mu1: ArrayLike, cov1: ArrayLike, mu2: ArrayLike, cov2: ArrayLike
) -> float:
    r"""Frechet (2-Wasserstein squared) distance between N(mu1, C1) and N(mu2, C2), closed form.

    ``FD = |mu1 - mu2|^2 + tr(C1 + C2 - 2 (C1^{1/2} C2 C1^{1/2})^{1/2})``. Square roots by
    symmetric eigendecomposition (negative rounding clipped to 0).

    Parameters
    ----------
    mu1, mu2 : array_like, shape (d,)
        The means.
    cov1, cov2 : array_like, shape (d, d)
        Symmetric positive semi-definite covariances.

    Returns
    -------
    float
        ``>= 0``; a distance beyond float64 raises ``ValueError``.

    References
    ----------
    D. C. Dowson and B. V. Landau, "The Frechet distance between multivariate normal
    distributions", J. Multivariate Anal. 12 (1982); M. Heusel et al., "GANs trained by a two
    time-scale update rule converge to a local Nash equilibrium", NeurIPS 2017 (the FID); Shah
    et al. (paper 004), Sec. 5, on DINOv2/Inception features.

    Examples
    --------
    >>> gaussian_frechet_distance([0.0, 0.0], np.eye(2), [1.0, 0.0], 4.0 * np.eye(2))
    3.0
    """
    m1 = as_float_array(mu1, "mu1", ndim=1, dtype=np.float64)
    m2 = as_float_array(mu2, "mu2", ndim=1, dtype=np.float64)
    d = m1.shape[0]
    if d < 1:
        raise ValueError("mu1 must hold at least one coordinate")
    covs = []
    for value, name in ((cov1, "cov1"), (cov2, "cov2")):
        c = check_covariance(value, name)[0]
        if c.shape != (d, d):
            raise ValueError(f"{name} must have shape ({d}, {d}), got {c.shape}")
        covs.append(c)
    check_last_dim(m2, d, "mu2", "mu1")
    with np.errstate(over="ignore", invalid="ignore"):
        r1 = _psd_sqrt(covs[0])
        cross = np.trace(_psd_sqrt(r1 @ covs[1] @ r1))
        diff = m1 - m2
        value = float(diff @ diff + np.trace(covs[0]) + np.trace(covs[1]) - 2.0 * cross)
    return max(finite_result(value, "the Frechet distance"), 0.0)


def nearest_other_sq(data: ArrayLike) -> np.ndarray:
    r"""Squared distance from each point of a set to its nearest *other* point.

    A repeated point has distance 0.

    Parameters
    ----------
    data : array_like, shape (N, d)
        The points, ``N >= 2``.

    Returns
    -------
    ndarray, shape (N,)

    See Also
    --------
    min_pairwise_distance : Its minimum, square-rooted.
    two_nearest : The search.

    Examples
    --------
    >>> nearest_other_sq(np.array([[0.0], [1.0], [3.0]])).tolist()
    [1.0, 1.0, 4.0]
    """
    pts = bounded_points(as_points(data, "data"), "data")
    if pts.shape[0] < 2:
        raise ValueError(f"data must hold at least 2 points, got shape {pts.shape}")
    sq, idx = _two_nearest(pts, pts, None)
    own = np.arange(pts.shape[0])
    # a point is its own nearest (distance 0) unless it has an exact duplicate
    other = np.where(idx[:, 0] == own, sq[:, 1], sq[:, 0])
    return other


def min_pairwise_distance(X: ArrayLike, name: str = "X") -> float:
    r"""The smallest distance between two points of a data set, ``min_{l != m} |x_l - x_m|``.

    Baptista et al. (paper 002) call it ``D_-`` (eq. (4.2)). A repeated point gives ``0``.

    Parameters
    ----------
    X : array_like, shape (N, d)
        The data, ``N >= 2``.
    name : str, default "X"
        The name of ``X`` in error messages.

    Returns
    -------
    float

    See Also
    --------
    diameter : The largest distance ``D^+``.

    References
    ----------
    Baptista et al. (paper 002), eq. (4.2).

    Examples
    --------
    >>> min_pairwise_distance(np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]]))
    1.0
    """
    data = bounded_points(as_points(X, name), name)
    if data.shape[0] < 2:
        raise ValueError(f"{name} must hold at least 2 data points, got shape {data.shape}")
    return float(np.sqrt(nearest_other_sq(data).min()))


def diameter(X: ArrayLike, name: str = "X") -> float:
    r"""The diameter of a data set, ``max_{l, m} |x_l - x_m|``.

    Exact brute force ``sum((x_l - x_m)^2)`` in chunks of rows (~32 MiB each). Baptista et al.
    (paper 002) call it ``D^+`` (eq. (4.29)).

    Parameters
    ----------
    X : array_like, shape (N, d)
        The data.
    name : str, default "X"
        The name of ``X`` in error messages.

    Returns
    -------
    float

    See Also
    --------
    min_pairwise_distance : The smallest distance ``D_-``.

    References
    ----------
    Baptista et al. (paper 002), eq. (4.29).

    Examples
    --------
    >>> diameter(np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]]))
    5.0
    """
    data = bounded_points(as_points(X, name), name)
    N, d = data.shape
    chunk = max(1, _CHUNK_BYTES // (8 * N * d))
    best = 0.0
    for lo in range(0, N, chunk):
        diff = data[lo : lo + chunk, None, :] - data[None, :, :]
        best = max(best, float((diff * diff).sum(-1).max()))
    return float(np.sqrt(best))


def memorization_fraction(samples: ArrayLike, X0: ArrayLike, tau: float = 1e-2) -> float:
    r"""Fraction of samples within ``tau`` of the training set: ``mean(min_n |x - x_0^n| < tau)``.

    Baptista et al. (paper 002), Secs. 5.1-5.3: ``tau = 1e-2`` for analytic scores, ``tau = 0.1``
    for learned ones (strict inequality).

    Parameters
    ----------
    samples : array_like, shape (B, d)
        Generated samples, ``B >= 1``. An array of any array-API library
        (JAX, PyTorch, CuPy, ...) is read as NumPy by DLPack (no copy on the CPU).
    X0 : array_like, shape (N, d)
        The training points.
    tau : float, default 1e-2
        The radius, ``> 0``.

    Returns
    -------
    float
        In ``[0, 1]``.

    See Also
    --------
    memorization_ratio : The criterion of paper 000 (Def. 2.2).

    References
    ----------
    Baptista et al. (paper 002), Secs. 5.1-5.3.

    Examples
    --------
    >>> import numpy as np
    >>> X0 = np.array([[0.0, 0.0], [1.0, 1.0]])
    >>> round(memorization_fraction(np.array([[0.001, 0.0], [0.5, 0.5], [1.0, 0.995]]), X0), 12)
    0.666666666667
    """
    Y, _ = as_queries(_on_host(samples), "samples")
    bounded_points(Y, "samples")
    if Y.shape[0] == 0:
        raise ValueError("samples must hold at least one sample, got shape (0, d)")
    data = bounded_points(as_points(_on_host(X0), "X0", Y.shape[1], "samples"), "X0")
    t = check_scalar(tau, "tau", low=0.0, low_open=True)
    sq, _ = two_nearest(Y, data)
    return float(np.mean(sq[:, 0] < t * t))


def fraction_se(p: ArrayLike, n: int) -> Any:
    r"""Binomial standard error of fractions of ``n`` samples, floored at ``1 / n``.

    .. math:: \mathrm{se}(p) = \max\bigl(\sqrt{p (1 - p) / n},\ 1 / n\bigr);

    the floor keeps a fraction of 0 or 1 from counting as exact (the error of a fraction
    measured on ``n`` samples is never below one sample's weight).

    Parameters
    ----------
    p : float or array_like
        Fractions in ``[0, 1]``.
    n : int
        Samples per fraction, ``>= 1``.

    Returns
    -------
    float or ndarray
        A float for a scalar ``p``, else an array of ``p``'s shape.

    Raises
    ------
    ValueError
        ``p`` outside ``[0, 1]`` or not finite, ``n < 1``.

    See Also
    --------
    rising_trend : The trend decision built on it.

    Examples
    --------
    >>> fraction_se([0.0, 0.5], 100).tolist()
    [0.01, 0.05]
    >>> round(fraction_se(0.25, 300), 4)
    0.025
    """
    arr = as_float_array(p, "p", dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any((arr < 0.0) | (arr > 1.0)):
        raise ValueError(f"p must hold fractions in [0, 1], got {p!r:.80}")
    n = check_int(n, "n", low=1)
    se = np.maximum(np.sqrt(arr * (1.0 - arr) / n), 1.0 / n)
    return float(se) if se.ndim == 0 else se


@dataclass(frozen=True)
class Trend:
    """The decision of :func:`rising_trend`.

    Attributes
    ----------
    rise : float
        ``(p_last - p_first) / sqrt(se_first^2 + se_last^2)``.
    worst_fall : float
        The largest fall of one step in combined standard errors (``<= 0`` when none falls).
    worst_step : int
        The index ``i`` of that step (``p_i -> p_{i+1}``).
    passed : bool
        ``rise > z`` and ``worst_fall <= z``.
    """

    rise: float
    worst_fall: float
    worst_step: int
    passed: bool


def rising_trend(p: ArrayLike, n: int, z: float = 3.0) -> Trend:
    r"""Do fractions ``p_0, ..., p_{m-1}`` (each of ``n`` samples) rise beyond Monte Carlo error?

    With ``s_i`` = :func:`fraction_se` ``(p_i, n)``: the rise between the ends,
    ``(p_{m-1} - p_0) / sqrt(s_0^2 + s_{m-1}^2)``, must exceed ``z``, and no step may fall by
    more than ``z`` combined standard errors, ``(p_i - p_{i+1}) / sqrt(s_i^2 + s_{i+1}^2) <= z``.
    The trend checks of the trained networks (papers 000, 002, 003: memorization rises with
    training, width and capacity, and as a regularizer weakens) use it.

    Parameters
    ----------
    p : array_like, shape (m,)
        Fractions in ``[0, 1]`` in the order the trend should rise, ``m >= 2``.
    n : int
        Samples behind each fraction, ``>= 1``.
    z : float, default 3
        Standard errors, ``> 0``.

    Returns
    -------
    Trend

    Raises
    ------
    ValueError
        Fewer than two fractions, a fraction outside ``[0, 1]``, ``n < 1`` or ``z <= 0``.

    Examples
    --------
    >>> t = rising_trend([0.0, 0.1, 0.5, 0.8], 200)
    >>> round(t.rise, 1), t.passed
    (27.9, True)
    >>> rising_trend([0.8, 0.5, 0.1, 0.0], 200).passed
    False
    """
    arr = as_float_array(p, "p", dtype=np.float64)
    if arr.ndim != 1 or arr.shape[0] < 2:
        raise ValueError(f"p must be a 1-d series of at least 2 fractions, got shape {arr.shape}")
    z = check_scalar(z, "z", low=0.0, low_open=True)
    se = fraction_se(arr, n)
    rise = float((arr[-1] - arr[0]) / np.hypot(se[0], se[-1]))
    falls = (arr[:-1] - arr[1:]) / np.hypot(se[:-1], se[1:])
    worst = int(np.argmax(falls))
    fall = float(falls[worst])
    return Trend(rise, fall, worst, bool(rise > z and fall <= z))
