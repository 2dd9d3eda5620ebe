r"""The loss-weighting regression of Buchanan et al. (paper 000): eq. (15) and its smoothing (30).

Sec. 4.1 predicts the memorization phase transition ``M_pt(N, d, K)`` of trained denoisers as
the crossover of the approximate training losses under a fitted weighting ``lambda~`` of the
L + 1 = 26 grid times. With ``D_{N,d}(M, t) = Ltilde_{N,t}(pmem, M) - Ltilde_{N,t}(xbar_*)`` the
(normalized, see below) loss difference and ``Delta(M) = sum_l lambda~_l D(M, t_l)``, eq. (15) is

    min_{lambda~} sum_{(N,d,K)} (Mtilde_pt/N - M_pt/N)^2,   Mtilde_pt = argmin_M Delta(M)^2,

and App. H.3, eq. (30), replaces the argmin by a softmax at temperature ``tau = 1/20`` with an
entropy penalty ``beta = 1e-3``:

    min_{lambda~} sum_tuples (Mbar_pt/N - M_pt/N)^2 - beta sum_tuples sum_M p~(M) log p~(M),
    Mbar_pt = sum_M M p~(M),   p~ = softmax_M(-(1/tau) Delta(M)^2).

Choices the paper leaves open (Sec. 4.1 and App. H.3 leave the normalization of the
"normalized approximate losses", the parameterization of ``lambda~``, the train/test split, the
optimizer, the M grid and the constant ``C`` unspecified), fixed here:

* **Loss differences.** By default the closed forms of Thms 3.1/3.2,
  ``D(M, t) = C (1 - M/N) d s2 - d s2/(psi_t s2 + 1)`` (``L_mem`` cancels), with ``C = 2``
  (a parameter). Measured differences can be given instead (``loss_differences``).
* **Normalization** ("normalized approximate losses"): ``normalization="d_s2"`` (default) divides
  the per-time differences by ``d s2``, so ``D(M, t) = C (1 - M/N) - 1/(psi_t s2 + 1)`` is O(1)
  for every tuple; ``"none"`` keeps the raw differences.
* **Parameterization**: ``lambda~ = softmax(theta)``, i.e. ``lambda~ >= 0`` and
  ``sum_l lambda~_l = 1``. The hard argmin of eq. (15) is invariant to both the normalization and
  the scale of ``lambda~``; the tau-smoothing is not -- it sets the width of ``p~`` through the
  scale of ``Delta`` (with ``"d_s2"`` and the approximate losses, ``p~`` is a discretized
  Gaussian in ``M`` of standard deviation ``N sqrt(tau/2)/C``, i.e. 0.079 N at ``C = 2``;
  without a scale constraint the optimizer could shrink the smoothing away by inflating
  ``lambda~``).
* **M grid** for the argmin and the softmax: ``M = 1..N`` (``m_grid="all"``) or the authors'
  baseline grid ``{s, 2s, ..., N}``, ``s = max(N // 100, 1)`` (``"baseline"``).
* **Errors** are mean squared errors in ``M/N`` over the tuples of a seeded random 80/20
  train/test split; the paper reports the MSE part of (30) only.
* **Optimizer**: L-BFGS-B on ``theta`` with the analytic gradient, from ``theta = 0`` (uniform
  weights) and ``n_starts - 1`` seeded random starts.

Identifiability (our derivation from eq. (14)). With the approximate losses and ``"d_s2"``,
``Delta(M) = C (1 - M/N) - G(lambda~)`` with ``G = sum_l lambda~_l/(psi_l s2 + 1)``: ``d`` and
``K`` drop out and the objective depends on ``lambda~`` only through the scalar ``G``. Every fit
therefore predicts one ratio,

    Mtilde_pt/N ~ r(lambda~) = 1 - G/C = crossover_ratio(lambda~, times=grid, C=C)   (eq. 14),

for all tuples (up to the ``1/N`` rounding of the argmin and the smoothing bias of ``Mbar``),
and ``lambda~`` itself is determined only up to the 25-dimensional set of weightings with the
same ``G``. Among the starts that reach the best objective (relative tolerance 1e-9), the fit
returns the ``lambda~`` of largest entropy (closest to uniform). Hitting the paper's 0.8 needs
``G = 0.2 C``. Since ``G`` is a convex combination of the ``1/(psi_l s2 + 1)`` (``t_l^2`` for
VPTrig, s2 = 1), the reachable ratios are ``[1 - t_0^2/C, 1 - t_L^2/C]``, i.e. [0.501, 1) at
``C = 2``: lower observed ratios are fitted at the edge (all weight on ``t_0``).

Smoothing bias. ``Mbar`` averages ``M`` over a Gaussian of width ``N sqrt(tau/2)/C`` cut off at
``M = N``, so ``Mbar/N`` sits slightly below ``r(lambda~)`` (by 1.1e-3 at ``r = 0.8``, ``C = 2``;
more as ``r -> 1`` or for ``C = 1``), and the entropy penalty pulls ``Mbar`` towards that edge
(+4e-4). A fit to targets 0.8 therefore returns ``r(lambda~) ~ 0.8015``; the hard argmin is
unaffected at the ``1/N`` resolution.

>>> import numpy as np
>>> N = np.array([50, 100, 150, 200]); d = np.array([30, 40, 50, 60]); K = np.array([3, 6, 9, 12])
>>> fit = fit_loss_weighting(N, d, K, 0.8 * N, test_fraction=0.25, n_starts=2)
>>> round(fit.ratio, 3), fit.M_hard.tolist()      # one ratio for every tuple
(0.801, [40, 80, 120, 160])
>>> bool(fit.train_mse < 1e-5 and fit.test_mse < 1e-5), fit.weights.shape
(True, (26,))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax

from diffmem_theory._validation import (
    as_float_array,
    check_allocation,
    check_choice,
    check_int,
    check_positive,
    check_scalar,
    finite_result,
)
from diffmem_theory.core.schedules import Schedule, as_schedule
from diffmem_theory.crossover.excess import crossover_ratio, gen_excess_loss, pmem_excess_loss

__all__ = [
    "LossWeightingFit",
    "fit_loss_weighting",
    "loss_difference_table",
    "predict_M_pt",
    "regression_objective",
    "train_test_split",
]

TAU = 1.0 / 20.0
BETA = 1e-3
NORMALIZATIONS = ("d_s2", "none")
M_GRIDS = ("all", "baseline")
_BEST_RTOL = 1e-9  # starts within this relative objective gap of the best count as optimal
_MAX_STARTS = 10_000  # optimizer starts accepted by fit_loss_weighting


def _times(times: ArrayLike | None, schedule: Schedule) -> np.ndarray:
    if times is None:
        return schedule.time_grid()
    tt = schedule.check_time(as_float_array(times, "times", ndim=1))
    if tt.size == 0:
        raise ValueError("times must hold at least one time")
    return tt


def _m_grid(N: int, m_grid: str) -> np.ndarray:
    check_choice(m_grid, "m_grid", M_GRIDS)
    step = 1 if m_grid == "all" else max(N // 100, 1)
    check_allocation(27 * (N // step), f"the M grid of N = {N} ({m_grid!r}) on the time grid")
    return np.arange(step, N + 1, step, dtype=np.float64)


# ----------------------------------------------------------------------------------------------
# the (normalized) loss differences D(M, t_l)
# ----------------------------------------------------------------------------------------------


def loss_difference_table(
    N: int,
    d: float,
    *,
    times: ArrayLike | None = None,
    m_grid: str = "all",
    var_star: float = 1.0,
    C: float = 2.0,
    normalization: str = "d_s2",
    schedule: Schedule | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""The approximate loss differences ``D(M, t_l)`` of one tuple: ``(Ms, D)``, D is (|Ms|, L+1).

    Buchanan et al. (paper 000), eq. (15) with Thms 3.1/3.2 (``L_mem`` cancels):

        D(M, t) = Lhat_{N,t}(pmem, M) - Lhat_{N,t}(xbar_*) = C (1 - M/N) d s2 - d s2/(psi_t s2 + 1),

    divided by ``d s2`` for ``normalization="d_s2"`` (then independent of ``d``). ``Ms`` is
    ``1..N`` (``m_grid="all"``) or ``{s, 2s, ..., N}``, ``s = max(N // 100, 1)`` (``"baseline"``);
    ``times`` defaults to the 26-point grid of ``schedule`` (VPTrig).

    Parameters
    ----------
    N : int
        Number of training points, ``N >= 1``.
    d : float
        Dimension, ``d > 0``.
    times : array_like, optional
        The time grid; default the 26-point grid of ``schedule``.
    m_grid : {"all", "baseline"}
        ``M = 1..N`` or the authors' baseline grid.
    var_star : float, default 1.0
        The cluster variance ``s2 > 0``.
    C : float, default 2.0
        The constant of Thm 3.2.
    normalization : {"d_s2", "none"}
        Divide by ``d s2`` (default) or not.
    schedule : Schedule, optional
        Default :class:`~diffmem_theory.core.schedules.VPTrig`.

    Returns
    -------
    Ms : ndarray
        The M grid.
    D : ndarray
        The differences, shape ``(len(Ms), len(times))``.

    See Also
    --------
    diffmem_theory.crossover.excess.approx_loss_difference : the same difference averaged over t.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), eq. (15), Theorems 3.1 and 3.2.

    Examples
    --------
    >>> Ms, D = loss_difference_table(10, 30)
    >>> D.shape, round(float(D[4, 16]), 5)   # M = 5, t_16: 2 (1 - 1/2) - t_16^2
    ((10, 26), 0.8702)
    """
    n = check_int(N, "N", low=1)
    dd = float(check_positive(d, "d"))
    s2 = float(check_positive(var_star, "var_star"))
    check_choice(normalization, "normalization", NORMALIZATIONS)
    sched = as_schedule(schedule)
    tt = _times(times, sched)
    ms = _m_grid(n, m_grid)
    diff = pmem_excess_loss(ms[:, None], n, dd, s2, C) - gen_excess_loss(tt, dd, s2, sched)[None]
    if normalization == "d_s2":
        diff = diff / (dd * s2)
    return ms, diff


# ----------------------------------------------------------------------------------------------
# the smoothed objective (30) and the predictions
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Problem:
    """Tuples padded to a common M grid length: Ms (n, m), D (n, m, L+1), mask (n, m), N (n,)."""

    Ms: np.ndarray
    D: np.ndarray
    mask: np.ndarray
    N: np.ndarray

    def subset(self, idx: np.ndarray) -> _Problem:
        return _Problem(self.Ms[idx], self.D[idx], self.mask[idx], self.N[idx])


def _pack(grids: Sequence[tuple[np.ndarray, np.ndarray]], N: np.ndarray) -> _Problem:
    width = max(ms.size for ms, _ in grids)
    n_times = grids[0][1].shape[1]
    Ms = np.zeros((len(grids), width))
    D = np.zeros((len(grids), width, n_times))
    mask = np.zeros((len(grids), width), dtype=bool)
    for i, (ms, diff) in enumerate(grids):
        Ms[i, : ms.size], D[i, : ms.size], mask[i, : ms.size] = ms, diff, True
    return _Problem(Ms, D, mask, N.astype(np.float64))


def _smoothed(prob: _Problem, w: np.ndarray, tau: float) -> tuple[np.ndarray, ...]:
    """(Delta, z, log p, p, Mbar) of eq. (30) for the weights w (padded entries have p = 0).

    ``z = -(Delta^2 - min_M Delta^2)/tau``: the softmax logits shifted per tuple (the softmax,
    its entropy and ``z - sum p z`` are shift-invariant), so they are <= 0 with a 0 at the
    argmin and never ``inf - inf``; an overflow to -inf is a weight that rounds to 0.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        delta = finite_result(prob.D @ w, "Delta(M) = sum_l lambda~_l D(M, t_l)")
        size = np.where(prob.mask, np.abs(delta), np.inf)
        low = size.min(axis=1, keepdims=True)
        z = np.where(prob.mask, -((size - low) * (size + low)) / tau, -np.inf)
    logp = log_softmax(z, axis=1)
    p = np.exp(logp)
    logp = np.where(prob.mask, logp, 0.0)
    z = np.where(prob.mask, z, 0.0)
    mbar = np.sum(p * prob.Ms, axis=1)
    return delta, z, logp, p, mbar


def _hard(prob: _Problem, w: np.ndarray) -> np.ndarray:
    """Eq. (15)'s argmin_M Delta(M)^2 per tuple (ties go to the smallest M)."""
    with np.errstate(over="ignore", invalid="ignore"):
        delta = finite_result(prob.D @ w, "Delta(M) = sum_l lambda~_l D(M, t_l)")
    obj = np.where(prob.mask, np.abs(delta), np.inf)  # argmin |Delta| = argmin Delta^2
    return prob.Ms[np.arange(prob.Ms.shape[0]), np.argmin(obj, axis=1)]


def _objective(
    theta: np.ndarray, prob: _Problem, target: np.ndarray, tau: float, beta: float
) -> tuple[float, np.ndarray]:
    """Value and analytic gradient of eq. (30) in theta (lambda~ = softmax(theta)).

    With ``r = Mbar/N - y``, ``H = -sum_M p log p`` and ``z = -Delta^2/tau``:
    ``dF/dz_M = 2 r p_M (M - Mbar)/N - beta p_M (z_M - sum_k p_k z_k)``,
    ``dz/dDelta = -2 Delta/tau``, ``dDelta_M/dlambda~ = D(M, .)`` and
    ``dlambda~/dtheta = diag(lambda~) - lambda~ lambda~^T``.
    """
    w = softmax(theta)
    delta, z, logp, p, mbar = _smoothed(prob, w, tau)
    n = prob.N
    r = mbar / n - target
    with np.errstate(invalid="ignore"):
        entropy = -np.sum(np.where(p > 0, p * logp, 0.0), axis=1)  # 0 log 0 = 0
    value = float(np.sum(r**2) + beta * np.sum(entropy))
    with np.errstate(over="ignore", invalid="ignore"):
        pz = np.where(p > 0, p * z, 0.0)  # p log p -> 0 where the weight is 0
        zbar = np.sum(pz, axis=1)
        dz = 2.0 * (r / n)[:, None] * p * (prob.Ms - mbar[:, None]) - beta * (
            pz - p * zbar[:, None]
        )
        ddelta = np.where(prob.mask & (dz != 0), dz * (-2.0 * delta / tau), 0.0)
        grad_w = np.einsum("nm,nml->l", ddelta, prob.D)
        grad = w * (grad_w - w @ grad_w)
    finite_result(value, "the objective (30)")
    return value, finite_result(grad, "the gradient of (30) (tau too small or D too large)")


# ----------------------------------------------------------------------------------------------
# validation of the tuples
# ----------------------------------------------------------------------------------------------


def _tuples(
    N: ArrayLike, d: ArrayLike, K: ArrayLike | None, M_pt: ArrayLike | None
) -> tuple[np.ndarray, ...]:
    n_arr = as_float_array(N, "N", ndim=1)
    if n_arr.size == 0:
        raise ValueError("give at least one (N, d, K) tuple")
    if np.any(n_arr < 1) or np.any(n_arr != np.round(n_arr)):
        raise ValueError(f"N must hold integers >= 1, got {np.asarray(N).tolist()}")
    d_arr = check_positive(as_float_array(d, "d", ndim=1), "d")
    k_arr = np.full(n_arr.shape, np.nan) if K is None else as_float_array(K, "K", ndim=1)
    arrays = [n_arr.astype(np.int64), d_arr, k_arr]
    if M_pt is not None:
        m_arr = as_float_array(M_pt, "M_pt", ndim=1)
        arrays.append(m_arr)
    if any(a.shape != n_arr.shape for a in arrays):
        raise ValueError(
            f"N, d, K and M_pt must have one entry per tuple, got shapes "
            f"{[a.shape for a in arrays]}"
        )
    if M_pt is not None and (np.any(m_arr <= 0) or np.any(m_arr > n_arr)):
        raise ValueError(f"M_pt must lie in (0, N], got {np.asarray(M_pt).tolist()}")
    return tuple(arrays)


def _grids(
    N: np.ndarray,
    d: np.ndarray,
    measured: Sequence[tuple[ArrayLike, ArrayLike]] | None,
    tt: np.ndarray,
    opts: dict[str, Any],
) -> list[tuple[np.ndarray, np.ndarray]]:
    if measured is None:
        return [
            loss_difference_table(int(n), dd, times=tt, **opts) for n, dd in zip(N, d, strict=True)
        ]
    if len(measured) != N.size:
        raise ValueError(f"loss_differences must hold one (Ms, D) per tuple ({N.size})")
    out = []
    for i, item in enumerate(measured):
        if len(item) != 2:
            raise ValueError(f"loss_differences[{i}] must be a pair (Ms, D)")
        ms = as_float_array(item[0], f"loss_differences[{i}] Ms", ndim=1)
        diff = as_float_array(item[1], f"loss_differences[{i}] D", ndim=2)
        if ms.size == 0 or diff.shape != (ms.size, tt.size):
            raise ValueError(
                f"loss_differences[{i}]: D must have shape ({ms.size}, {tt.size}) for "
                f"{ms.size} model sizes and {tt.size} times, got {diff.shape}"
            )
        if np.any(ms <= 0) or np.any(ms > N[i]) or np.any(np.diff(ms) <= 0):
            raise ValueError(f"loss_differences[{i}]: Ms must increase within (0, N = {N[i]}]")
        if opts["normalization"] == "d_s2":
            diff = diff / (d[i] * opts["var_star"])
        out.append((ms, diff))
    return out


def train_test_split(
    n: int, test_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random split of ``n`` tuples: ``(train, test)`` sorted index arrays.

    The test set has ``round(test_fraction n)`` tuples, at least 1 when ``test_fraction > 0`` and
    at most ``n - 1`` (the training set is never empty); ``test_fraction = 0`` gives no test set.

    Parameters
    ----------
    n : int
        Number of tuples, ``n >= 1``.
    test_fraction : float, default 0.2
        Fraction of test tuples, in ``[0, 1)``.
    seed : int, default 0
        Seed of the permutation.

    Returns
    -------
    train, test : ndarray of int
        Sorted index arrays.

    See Also
    --------
    fit_loss_weighting : uses this split.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), App. H.3 (the split itself is our choice).

    Examples
    --------
    >>> train, test = train_test_split(64)
    >>> len(train), len(test), sorted({*train, *test}) == list(range(64))
    (51, 13, True)
    """
    n = check_int(n, "n", low=1)
    frac = check_scalar(test_fraction, "test_fraction", low=0.0, high=1.0, high_open=True)
    n_test = 0 if frac == 0 else min(max(round(frac * n), 1), n - 1)
    perm = np.random.default_rng(check_int(seed, "seed", low=0)).permutation(n)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


# ----------------------------------------------------------------------------------------------
# public API
# ----------------------------------------------------------------------------------------------


def _options(var_star: float, C: float, normalization: str, m_grid: str) -> dict[str, Any]:
    check_choice(normalization, "normalization", NORMALIZATIONS)
    check_choice(m_grid, "m_grid", M_GRIDS)
    return {
        "var_star": float(check_positive(var_star, "var_star")),
        "C": check_scalar(C, "C", low=0.0, low_open=True),
        "normalization": normalization,
        "m_grid": m_grid,
    }


def _weights(weights: ArrayLike, n_times: int) -> np.ndarray:
    w = as_float_array(weights, "weights", ndim=1)
    if w.size != n_times:
        raise ValueError(f"weights has {w.size} values but there are {n_times} times")
    if np.any(w < 0) or w.sum() <= 0:
        raise ValueError("weights must be >= 0 and positive somewhere")
    return w


def predict_M_pt(
    weights: ArrayLike,
    N: ArrayLike,
    d: ArrayLike,
    *,
    times: ArrayLike | None = None,
    tau: float = TAU,
    var_star: float = 1.0,
    C: float = 2.0,
    normalization: str = "d_s2",
    m_grid: str = "all",
    loss_differences: Sequence[tuple[ArrayLike, ArrayLike]] | None = None,
    schedule: Schedule | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""The predicted transition ``(Mbar_pt, Mtilde_pt)`` per tuple for a weighting ``lambda~``.

    Buchanan et al. (paper 000): ``Mtilde_pt = argmin_M Delta(M)^2`` (eq. 15; ties to the smaller
    M) and ``Mbar_pt = sum_M M softmax_M(-Delta(M)^2/tau)`` (eq. 30), with
    ``Delta(M) = sum_l lambda~_l D(M, t_l)`` (:func:`loss_difference_table`, or measured
    differences).
    ``weights`` are used as given (no normalization to sum 1): the hard argmin is invariant to
    their scale and to ``normalization``, ``Mbar`` is not.

    Parameters
    ----------
    weights : array_like
        ``lambda~(t_l) >= 0`` on the time grid (positive somewhere).
    N, d : array_like
        Number of training points and dimension of each tuple.
    tau : float, default 1/20
        The softmax temperature of eq. (30).
    times : array_like, optional
        The time grid ``t_l``; default the 26-point grid of ``schedule``.
    var_star : float, default 1.0
        The cluster variance ``s2 = sigma_*^2 > 0``.
    C : float, default 2.0
        The constant of Thm 3.2 in the approximate losses.
    normalization : {"d_s2", "none"}
        Divide the per-time differences by ``d s2`` (default) or not.
    m_grid : {"all", "baseline"}
        The M grid of the argmin and the softmax.
    loss_differences : sequence of (Ms, D), optional
        Measured differences per tuple instead of the approximate losses.
    schedule : Schedule, optional
        Default :class:`~diffmem_theory.core.schedules.VPTrig`.

    Returns
    -------
    Mbar : ndarray
        The smoothed prediction ``Mbar_pt`` per tuple (eq. 30).
    Mtilde : ndarray
        The argmin ``Mtilde_pt`` per tuple (eq. 15).

    See Also
    --------
    fit_loss_weighting : fits the weights.
    diffmem_theory.crossover.excess.crossover_argmin : the argmin for one tuple.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), eqs. (15) and (30), App. H.3.

    Examples
    --------
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> g = VPTrig().time_grid()
    >>> Mbar, Mhard = predict_M_pt(np.ones(26) / 26, [100, 200], [30, 60])
    >>> Mhard.tolist(), (Mbar / [100, 200]).round(3).tolist()   # 1 - mean(t^2)/2 = 0.83018
    ([83, 166], [0.827, 0.827])
    """
    sched = as_schedule(schedule)
    tt = _times(times, sched)
    n_arr, d_arr, _ = _tuples(N, d, None, None)
    w = _weights(weights, tt.size)
    tau = check_scalar(tau, "tau", low=0.0, low_open=True)
    opts = _options(var_star, C, normalization, m_grid)
    prob = _pack(_grids(n_arr, d_arr, loss_differences, tt, {**opts, "schedule": sched}), n_arr)
    mbar = _smoothed(prob, w, tau)[4]
    hard = _hard(prob, w)
    return mbar, (hard.astype(np.int64) if np.all(hard == np.round(hard)) else hard)


def regression_objective(
    theta: ArrayLike,
    N: ArrayLike,
    d: ArrayLike,
    M_pt: ArrayLike,
    *,
    times: ArrayLike | None = None,
    tau: float = TAU,
    beta: float = BETA,
    var_star: float = 1.0,
    C: float = 2.0,
    normalization: str = "d_s2",
    m_grid: str = "all",
    loss_differences: Sequence[tuple[ArrayLike, ArrayLike]] | None = None,
    schedule: Schedule | None = None,
) -> tuple[float, np.ndarray]:
    r"""Eq. (30) and its analytic gradient at ``theta`` (``lambda~ = softmax(theta)``).

    Buchanan et al. (paper 000), App. H.3:

        F(theta) = sum_tuples (Mbar_pt/N - M_pt/N)^2 + beta sum_tuples H(p~),
        H(p~) = -sum_M p~(M) log p~(M),   p~ = softmax_M(-(1/tau) Delta(M)^2).

    Returns ``(F, dF/dtheta)``; the gradient is exact (chain rule through both softmaxes), and
    ``F`` is invariant to ``theta -> theta + c`` (so the gradient sums to 0).

    Parameters
    ----------
    theta : array_like
        Parameters, ``lambda~ = softmax(theta)``, one per grid time.
    N, d : array_like
        Number of training points and dimension of each tuple.
    M_pt : array_like
        Observed transitions of the tuples.
    tau : float, default 1/20
        The softmax temperature.
    beta : float, default 1e-3
        The weight of the entropy penalty.
    times : array_like, optional
        The time grid ``t_l``; default the 26-point grid of ``schedule``.
    var_star : float, default 1.0
        The cluster variance ``s2 = sigma_*^2 > 0``.
    C : float, default 2.0
        The constant of Thm 3.2 in the approximate losses.
    normalization : {"d_s2", "none"}
        Divide the per-time differences by ``d s2`` (default) or not.
    m_grid : {"all", "baseline"}
        The M grid of the argmin and the softmax.
    loss_differences : sequence of (Ms, D), optional
        Measured differences per tuple instead of the approximate losses.
    schedule : Schedule, optional
        Default :class:`~diffmem_theory.core.schedules.VPTrig`.

    Returns
    -------
    value : float
        ``F(theta)``.
    grad : ndarray
        ``dF/dtheta``.

    See Also
    --------
    fit_loss_weighting : minimizes it.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), eq. (30), App. H.3.

    Examples
    --------
    >>> theta = np.zeros(26)
    >>> value, grad = regression_objective(theta, [100], [30], [80], beta=0.0)
    >>> round(value, 6), abs(float(grad.sum())) < 1e-15   # (0.82745 - 0.8)^2
    (0.000752, True)
    """
    sched = as_schedule(schedule)
    tt = _times(times, sched)
    n_arr, d_arr, _, m_arr = _tuples(N, d, None, M_pt)
    th = as_float_array(theta, "theta", ndim=1)
    if th.size != tt.size:
        raise ValueError(f"theta has {th.size} values but there are {tt.size} times")
    tau = check_scalar(tau, "tau", low=0.0, low_open=True)
    beta = check_scalar(beta, "beta", low=0.0)
    opts = _options(var_star, C, normalization, m_grid)
    prob = _pack(_grids(n_arr, d_arr, loss_differences, tt, {**opts, "schedule": sched}), n_arr)
    return _objective(th, prob, m_arr / n_arr, tau, beta)


@dataclass(frozen=True, eq=False)
class LossWeightingFit:
    r"""The fitted loss weighting of eq. (15)/(30) and its predictions.

    ``weights`` is ``lambda~(t_l)`` on ``times`` (sum 1); ``N, d, K, M_pt`` the tuples and their
    observed transitions; ``M_bar`` the smoothed prediction ``Mbar_pt`` (eq. 30) and ``M_hard``
    the argmin ``Mtilde_pt`` (eq. 15); ``train``/``test`` the index arrays of the split;
    ``train_mse``/``test_mse`` the mean of ``(Mbar_pt/N - M_pt/N)^2`` over each set (the paper's
    reported error; NaN for an empty test set) and ``*_mse_hard`` the same for ``Mtilde_pt``;
    ``ratio`` the crossover ratio of eq. (14) implied by the weights,
    ``crossover_ratio(weights, times=times, C=C)`` -- the single ``M/N`` every tuple gets with the
    approximate losses. ``objective`` is the minimized value of (30) on the training tuples,
    ``starts`` the objective reached from each start, ``converged`` whether L-BFGS-B reported
    success for the returned start.
    """

    times: np.ndarray
    weights: np.ndarray
    N: np.ndarray
    d: np.ndarray
    K: np.ndarray
    M_pt: np.ndarray
    M_bar: np.ndarray
    M_hard: np.ndarray
    train: np.ndarray
    test: np.ndarray
    train_mse: float
    test_mse: float
    train_mse_hard: float
    test_mse_hard: float
    ratio: float
    objective: float
    converged: bool
    starts: np.ndarray
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        finite = ("times", "weights", "N", "d", "M_pt", "M_bar", "M_hard", "starts")
        for name in finite:
            as_float_array(getattr(self, name), name, ndim=1)
        as_float_array(self.K, "K", ndim=1, finite=False)  # NaN: K not given
        for name in ("train", "test"):
            idx = np.asarray(getattr(self, name))
            if idx.ndim != 1 or idx.dtype.kind not in "iu":
                raise ValueError(f"{name} must be a 1-D integer index array, got {idx.dtype}")
        for name in ("train_mse", "train_mse_hard", "ratio", "objective"):
            check_scalar(getattr(self, name), name)
        for name in ("test_mse", "test_mse_hard"):  # NaN for an empty test set
            value = np.asarray(getattr(self, name))
            if value.ndim or value.dtype.kind != "f" or np.isinf(value):
                raise ValueError(f"{name} must be a real number or NaN, got {value!r}")
        if not isinstance(self.converged, (bool, np.bool_)):
            raise ValueError(f"converged must be True or False, got {self.converged!r}")
        if not isinstance(self.settings, dict):
            raise TypeError(f"settings must be a dict, got {type(self.settings).__name__}")

    @property
    def observed_ratio(self) -> np.ndarray:
        """``M_pt/N`` per tuple (the regression targets)."""
        return self.M_pt / self.N

    @property
    def predicted_ratio(self) -> np.ndarray:
        """``Mbar_pt/N`` per tuple (the smoothed prediction)."""
        return self.M_bar / self.N

    @property
    def predicted_ratio_hard(self) -> np.ndarray:
        """``Mtilde_pt/N`` per tuple (the argmin of eq. 15)."""
        return self.M_hard / self.N

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serializable summary: lists instead of arrays, ``None`` (JSON null) for NaN.

        NaN marks what is absent (``test_mse`` without a test set, ``K`` not given), and NaN is
        not valid JSON.

        >>> fit = fit_loss_weighting([50, 100], [30, 30], None, [40, 80], test_fraction=0.0,
        ...                          n_starts=1)
        >>> summary = fit.as_dict()
        >>> summary["test_mse"], summary["K"], summary["N"]
        (None, [None, None], [50, 100])
        """

        def plain(value: Any) -> Any:
            if isinstance(value, float) and math.isnan(value):
                return None
            if isinstance(value, list):
                return [plain(v) for v in value]
            return value

        out: dict[str, Any] = {}
        for key in self.__dataclass_fields__:
            value = getattr(self, key)
            out[key] = plain(value.tolist() if isinstance(value, np.ndarray) else value)
        return out


def _mse(pred: np.ndarray, obs: np.ndarray, idx: np.ndarray) -> float:
    return float(np.mean((pred[idx] - obs[idx]) ** 2)) if idx.size else float("nan")


def fit_loss_weighting(
    N: ArrayLike,
    d: ArrayLike,
    K: ArrayLike | None,
    M_pt: ArrayLike,
    *,
    times: ArrayLike | None = None,
    tau: float = TAU,
    beta: float = BETA,
    var_star: float = 1.0,
    C: float = 2.0,
    normalization: str = "d_s2",
    m_grid: str = "all",
    loss_differences: Sequence[tuple[ArrayLike, ArrayLike]] | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
    n_starts: int = 8,
    start_scale: float = 2.0,
    maxiter: int = 1000,
    schedule: Schedule | None = None,
) -> LossWeightingFit:
    r"""Fit the loss weighting ``lambda~`` of eq. (15) by minimizing its smoothed form (30).

    Buchanan et al. (paper 000), Sec. 4.1 and App. H.3: one ``(N, d, K, M_pt)`` per tuple (``K``
    is bookkeeping only -- neither approximate loss depends on it -- and may be None), ``M_pt``
    the observed transition (first ``M`` with memorization ratio >= 1/2). The tuples are split
    80/20 at random (:func:`train_test_split` with ``test_fraction`` and ``seed``); eq. (30) with
    ``tau = 1/20`` and ``beta = 1e-3`` is minimized on the training tuples over
    ``lambda~ = softmax(theta)`` by L-BFGS-B with the analytic gradient
    (:func:`regression_objective`) from ``theta = 0`` and ``n_starts - 1`` random starts
    ``theta ~ N(0, start_scale^2)`` (seeded by ``seed``; ``n_starts <= 10,000``). See the module
    docstring for the
    normalization, the M grid, ``loss_differences`` (measured ``(Ms, D)`` per tuple, normalized by
    ``d s2`` under ``"d_s2"``) and why the approximate losses make the fit predict a single ratio
    ``M/N = crossover_ratio(lambda~, times=grid, C=C)`` for all tuples.

    Parameters
    ----------
    N, d : array_like
        Number of training points and dimension of each tuple.
    K : array_like or None
        Number of clusters of each tuple (bookkeeping only).
    M_pt : array_like
        Observed transitions of the tuples.
    tau, beta : float
        Temperature and entropy weight of eq. (30) (defaults 1/20 and 1e-3).
    times : array_like, optional
        The time grid ``t_l``; default the 26-point grid of ``schedule``.
    var_star : float, default 1.0
        The cluster variance ``s2 = sigma_*^2 > 0``.
    C : float, default 2.0
        The constant of Thm 3.2 in the approximate losses.
    normalization : {"d_s2", "none"}
        Divide the per-time differences by ``d s2`` (default) or not.
    m_grid : {"all", "baseline"}
        The M grid of the argmin and the softmax.
    loss_differences : sequence of (Ms, D), optional
        Measured differences per tuple instead of the approximate losses.
    schedule : Schedule, optional
        Default :class:`~diffmem_theory.core.schedules.VPTrig`.
    test_fraction : float, default 0.2
        Fraction of test tuples.
    seed : int, default 0
        Seed of the split and of the random starts.
    n_starts : int, default 8
        Number of L-BFGS-B starts (``<= 10,000``).
    start_scale : float, default 2.0
        Standard deviation of the random starts.
    maxiter : int, default 1000
        L-BFGS-B iterations per start.

    Returns
    -------
    LossWeightingFit
        The weights, predictions, errors and diagnostics.

    See Also
    --------
    regression_objective : the objective and its gradient.
    predict_M_pt : predictions for given weights.
    diffmem_theory.crossover.excess.crossover_ratio : the single ratio the fit predicts.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Sec. 4.1, eq. (15); App. H.3, eq. (30).

    Examples
    --------
    >>> fit = fit_loss_weighting([50, 100], [30, 30], [3, 6], [40, 80], test_fraction=0.0,
    ...                          n_starts=1)
    >>> fit.M_hard.tolist(), round(fit.ratio, 2), fit.test.size
    ([40, 80], 0.8, 0)
    """
    sched = as_schedule(schedule)
    tt = _times(times, sched)
    n_arr, d_arr, k_arr, m_arr = _tuples(N, d, K, M_pt)
    tau = check_scalar(tau, "tau", low=0.0, low_open=True)
    beta = check_scalar(beta, "beta", low=0.0)
    n_starts = check_int(n_starts, "n_starts", low=1, high=_MAX_STARTS)
    start_scale = check_scalar(start_scale, "start_scale", low=0.0)
    maxiter = check_int(maxiter, "maxiter", low=1)
    opts = _options(var_star, C, normalization, m_grid)
    train, test = train_test_split(n_arr.size, test_fraction, seed)
    prob = _pack(_grids(n_arr, d_arr, loss_differences, tt, {**opts, "schedule": sched}), n_arr)
    target = m_arr / n_arr
    sub, sub_target = prob.subset(train), target[train]

    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(15,)))
    starts = [np.zeros(tt.size)] + [
        start_scale * rng.standard_normal(tt.size) for _ in range(n_starts - 1)
    ]
    results = [
        minimize(
            _objective,
            x0,
            args=(sub, sub_target, tau, beta),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": maxiter, "ftol": 1e-15, "gtol": 1e-12},
        )
        for x0 in starts
    ]
    values = np.array([float(r.fun) for r in results])
    best = values.min()
    near = np.flatnonzero(values <= best + _BEST_RTOL * max(abs(best), 1e-12))

    def entropy(res: Any) -> float:
        w = softmax(res.x)
        return float(-np.sum(w * np.log(np.maximum(w, 1e-300))))

    chosen = results[max(near, key=lambda i: entropy(results[i]))]
    w = softmax(chosen.x)
    mbar = _smoothed(prob, w, tau)[4]
    hard = _hard(prob, w)
    if np.all(hard == np.round(hard)):
        hard = hard.astype(np.int64)
    pred, pred_hard = mbar / n_arr, hard / n_arr
    return LossWeightingFit(
        times=tt,
        weights=w,
        N=n_arr,
        d=d_arr,
        K=k_arr,
        M_pt=m_arr,
        M_bar=mbar,
        M_hard=hard,
        train=train,
        test=test,
        train_mse=_mse(pred, target, train),
        test_mse=_mse(pred, target, test),
        train_mse_hard=_mse(pred_hard, target, train),
        test_mse_hard=_mse(pred_hard, target, test),
        ratio=float(
            crossover_ratio(w, times=tt, var_star=opts["var_star"], C=opts["C"], schedule=sched)
        ),
        objective=float(chosen.fun),
        converged=bool(chosen.success),
        starts=values,
        settings={
            "tau": tau,
            "beta": beta,
            **opts,
            "seed": seed,
            "n_starts": n_starts,
            "measured": loss_differences is not None,
        },
    )
