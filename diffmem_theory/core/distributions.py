r"""The laws of the data (Gaussian mixtures, the empirical distribution) and their noised marginals.

Buchanan et al. (paper 000), eq. (8): ``pi_* = sum_k pi_k N(mu_k, Sigma_k)`` (the paper uses equal
weights ``1/K``); eq. (5): the empirical distribution ``(1/N) sum_i delta_{x^i}`` of a training
set, the limit ``Sigma_k = 0`` with one component per point. Under the forward process
``X_t = alpha_t X_0 + sigma_t Z`` the noised marginal of a mixture is again a mixture (proof of
Lemma 2.1, App. A),

    p_t(x) = sum_k pi_k N(x; alpha_t mu_k, alpha_t^2 Sigma_k + sigma_t^2 I),

whose log-density, score (eq. (16)) and posterior mean (eq. (9)) every class below evaluates in
log-sum-exp form. Four laws, one object each:

* :class:`GaussianMixture`: general (positive semi-definite) covariances, one Cholesky factor per
  component and a streaming log-sum-exp;
* :class:`IsotropicGaussianMixture`: ``Sigma_k = s_k^2 I``, the paper's theory and Sec. 4.1 model;
* :class:`TemplateMixture`: the low-rank colored-template image model of Sec. 4.2 / App. H.4
  (Sherman-Morrison-Woodbury, cost ``O(B K d)``);
* :class:`EmpiricalDistribution`: the empirical law of a data set, whose posterior mean is the
  memorizing denoiser (eq. (7)).

The isotropic and empirical laws run on the fused kernel
:func:`diffmem_theory.kernels.softmax_weighted_sum` (``backend="numba" | "numpy" | "cupy"``,
float64 by default, ``dtype=float32`` allowed: the kernel takes logits relative to a per-query
reference); with at most ``DIRECT_MAX_COMPONENTS`` components (float64, Numba) a compiled loop
computes each logit from its differences and writes the prediction in the same pass instead
(for a few components the kernel's tiles and BLAS calls cost more than the arithmetic). The
functions of :mod:`diffmem_theory.core.denoisers` are one-line uses of these
objects.

Every law answers ``denoiser(x, t, schedule, prediction=unit)`` in any unit of
:data:`~diffmem_theory.core.schedules.PREDICTIONS` directly: the posterior mean and the score of
each component (``mu + alpha Sigma A^{-1} r`` and ``-A^{-1} r`` with ``r = x - alpha mu`` and
``A = alpha^2 Sigma + sigma^2 I``) are averaged with the same softmax weights, and
``eps = -sigma score``, ``v = alpha eps - sigma x0`` are combined per component. Converting an
x0-prediction with Tweedie's identity instead, ``score = (alpha x0 - x)/sigma^2``, cancels about
``log10(|x| / (sigma^2 |score|))`` digits: at ``t = 1e-6`` on a low-rank mixture the converted
score has a relative error near 1e-4, the direct one near 1e-15.

Conventions: all classes are frozen dataclasses holding read-only float64 arrays (the data of
:class:`EmpiricalDistribution` stays float32 when given in float32); sampling takes
an explicit ``np.random.Generator`` (or an integer seed). Methods take ``x`` of shape ``(B, d)``
(or ``(d,)``, giving ``(d,)``) and ``t`` scalar or ``(B,)`` (one time per query; queries are
grouped by distinct time, see :func:`map_over_times`). No formula divides by ``alpha_t``: the
posterior mean of each component is ``mu + alpha Sigma (alpha^2 Sigma + sigma^2 I)^{-1}
(x - alpha mu)``, which equals eq. (9) and stays finite as ``alpha_t -> 0``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numba
import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from diffmem_theory._validation import (
    as_covariances,
    as_float_array,
    as_points,
    as_queries,
    as_rng,
    check_allocation,
    check_callable,
    check_choice,
    check_dtype,
    check_int,
    check_last_dim,
    check_positive,
    check_scalar,
    finite_result,
    unbatch,
)
from diffmem_theory.core.schedules import PREDICTIONS, Schedule, as_schedule
from diffmem_theory.kernels import BACKENDS, single_threaded_blas, softmax_weighted_sum

__all__ = [
    "EmpiricalDistribution",
    "GaussianMixture",
    "IsotropicGaussianMixture",
    "TemplateMixture",
    "map_over_times",
    "sphere_means",
]

_LOG_2PI = float(np.log(2.0 * np.pi))
#: Isotropic mixtures with at most this many components (float64, ``backend="numba"``) run on
#: :func:`_iso_direct`; more components go to the fused BLAS kernel.
DIRECT_MAX_COMPONENTS = 16
_DIRECT_ROWS = 64  # queries per parallel block of _iso_direct
_DIRECT_PARALLEL_WORK = 1 << 21  # below this many flops (~0.2 ms) _iso_direct runs serially
_WEIGHT_SUM_TOL = 1e-6


# ----------------------------------------------------------------------------------------------
# validation and evaluation over (B,) times
# ----------------------------------------------------------------------------------------------


def _variances(var: ArrayLike, m: int, name: str = "var") -> np.ndarray:
    """A variance >= 0, scalar (0-d array) or one per component ``(m,)``."""
    v = check_positive(
        as_float_array(var, name, ndim=(0, 1), dtype=np.float64), name, allow_zero=True
    )
    if v.ndim == 1 and v.shape[0] != m:
        raise ValueError(
            f"{name} must be a scalar or have shape ({m},) (one per component), got shape {v.shape}"
        )
    return v


def _log_weights(weights: ArrayLike | None, m: int, name: str = "weights") -> np.ndarray:
    """``log pi_i`` of mixture weights ``pi`` (> 0, summing to 1); ``None`` means uniform 1/m."""
    if weights is None:
        return np.full(m, -np.log(m))
    w = as_float_array(weights, name, ndim=1, dtype=np.float64)
    if w.shape[0] != m:
        raise ValueError(f"{name} must have shape ({m},) (one per component), got shape {w.shape}")
    check_positive(w, name)
    total = float(w.sum())
    if abs(total - 1.0) > _WEIGHT_SUM_TOL:
        raise ValueError(f"{name} must sum to 1, got sum {total!r}")
    return np.log(w) - np.log(total)


def _templates(templates: ArrayLike, name: str = "templates") -> np.ndarray:
    """Templates ``(K, h, w)`` or ``(K, p)`` flattened to ``(K, p)``; each must be nonzero."""
    tpl = as_float_array(templates, name, ndim=(2, 3), dtype=np.float64)
    flat = tpl.reshape(tpl.shape[0], -1)
    if flat.shape[0] == 0 or flat.shape[1] == 0:
        raise ValueError(f"{name} must have shape (K, h, w) with K, h, w >= 1, got {tpl.shape}")
    zero = np.flatnonzero(np.einsum("kp,kp->k", flat, flat) == 0.0)
    if zero.size:
        raise ValueError(f"{name} must be nonzero images, but template {int(zero[0])} is all zeros")
    return flat


def _times(t: ArrayLike, schedule: Schedule, n: int) -> np.ndarray:
    """Validated times: a 0-d array, or shape ``(n,)`` (one per query)."""
    arr = as_float_array(t, "t", ndim=(0, 1), dtype=np.float64)
    if arr.ndim == 1 and arr.shape[0] != n:
        raise ValueError(
            f"t must be a scalar or have shape ({n},) (one time per query), got shape {arr.shape}"
        )
    schedule.check_time(arr, "t")
    return arr


def _alpha_sigma(schedule: Schedule, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    alpha = np.asarray(schedule.alpha(t), dtype=np.float64)
    sigma = np.asarray(schedule.sigma(t), dtype=np.float64)
    if np.any(sigma <= 0.0):
        raise ValueError(
            f"t must give sigma_t > 0 (denoisers are undefined at sigma_t = 0), got t={t}"
        )
    return alpha, sigma


def map_over_times(
    x: np.ndarray,
    t: ArrayLike,
    schedule: Schedule,
    fn: Callable[..., tuple[np.ndarray, ...]],
    **params: Any,
) -> tuple[np.ndarray, ...]:
    r"""Evaluate a per-time formula on queries with one time each, once per distinct time.

    The engine behind every law of this module: ``t`` is validated against ``schedule``
    (a scalar, or shape ``(B,)`` with one time per row of ``x``), the rows are grouped by
    distinct time, and ``fn(alpha_t, sigma_t, x_rows, **params)`` is called once per group
    (so a 26-point time grid costs 26 vectorized calls whatever ``B`` is); its outputs (arrays
    with one leading row per query) are scattered back in the order of ``x``.

    Parameters
    ----------
    x : ndarray, shape (B, d)
        Queries (finite floats; a float32 array stays float32).
    t : float or array_like, shape (B,)
        Times in the domain of ``schedule``, giving ``sigma_t > 0``.
    schedule : Schedule or str
        The noise schedule ``X_t = alpha_t X_0 + sigma_t Z``.
    fn : callable
        ``fn(alpha, sigma, x_rows, **params) -> tuple of arrays`` with leading dimension
        ``len(x_rows)``; ``alpha`` and ``sigma`` are Python floats.
    **params
        Passed to ``fn`` unchanged.

    Returns
    -------
    tuple of ndarray
        The outputs of ``fn``, one row per query.

    Raises
    ------
    ValueError
        For a ``t`` of the wrong shape or outside the schedule's domain, and for an output
        beyond the float64 range (a query or a mean so far out that a squared distance
        overflows: rescale the data) instead of an inf or NaN.

    See Also
    --------
    EmpiricalDistribution, IsotropicGaussianMixture, GaussianMixture : Laws evaluated on it.

    Examples
    --------
    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> x = np.ones((3, 2))
    >>> (ratio,) = map_over_times(x, [0.6, 0.8, 0.6], VPTrig(), lambda a, s, rows: (rows * a / s,))
    >>> print(np.round(ratio[:, 0], 6))
    [1.333333 0.75     1.333333]
    """
    x = as_float_array(x, "x", ndim=2)
    check_callable(fn, "fn", "a callable fn(alpha, sigma, x_rows, **params) -> tuple of arrays")
    return _map_over_times(x, t, schedule, fn, **params)


def _map_over_times(
    x: np.ndarray,
    t: ArrayLike,
    schedule: Schedule,
    fn: Callable[..., tuple[np.ndarray, ...]],
    **params: Any,
) -> tuple[np.ndarray, ...]:
    """:func:`map_over_times` on queries already validated (finite floats, shape (B, d)), as
    the laws' methods have them: one pass over ``x`` fewer."""
    schedule = as_schedule(schedule, required=True)
    t = _times(t, schedule, x.shape[0])
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        outs = _evaluate_over_times(x, t, schedule, fn, **params)
    for out in outs:
        if not np.all(np.isfinite(out)):
            raise ValueError(
                "the posterior mean (or log-density) is outside the float64 range at these "
                "inputs: a squared distance ||x - alpha_t mu||^2 / sigma_t^2 overflows; rescale "
                "the data"
            )
    return outs


def _evaluate_over_times(
    x: np.ndarray,
    t: np.ndarray,
    schedule: Schedule,
    fn: Callable[..., tuple[np.ndarray, ...]],
    **params: Any,
) -> tuple[np.ndarray, ...]:
    if t.ndim == 0:
        alpha, sigma = _alpha_sigma(schedule, t)
        return fn(float(alpha), float(sigma), x, **params)
    unique, inverse = np.unique(t, return_inverse=True)
    alphas, sigmas = _alpha_sigma(schedule, unique)
    order = np.argsort(inverse, kind="stable")
    groups = np.split(order, np.cumsum(np.bincount(inverse))[:-1])
    outs: tuple[np.ndarray, ...] = ()
    for alpha, sigma, rows in zip(alphas, sigmas, groups, strict=True):
        parts = fn(float(alpha), float(sigma), x[rows], **params)
        if not outs:
            outs = tuple(np.empty((x.shape[0], *p.shape[1:]), dtype=p.dtype) for p in parts)
        for out, part in zip(outs, parts, strict=True):
            out[rows] = part
    return outs


def _host(arr: Any, dtype: DTypeLike | None = np.float64) -> np.ndarray:
    """A kernel result as a NumPy array of ``dtype`` (None: its own dtype, no copy on the host;
    CuPy results are copied back from the device)."""
    return np.asarray(arr.get() if hasattr(arr, "get") else arr, dtype=dtype)


def _stream_softmax(
    terms: Iterable[tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    """``(sum_i softmax(l)_i v_i, logsumexp_i l_i)`` from pairs ``(l_i (B,), v_i (B, k))``."""
    top = total = acc = None
    for logit, value in terms:
        if top is None:
            top, total, acc = logit, np.ones_like(logit), np.array(value, dtype=np.float64)
            continue
        new_top = np.maximum(top, logit)
        old, new = np.exp(top - new_top), np.exp(logit - new_top)
        total = total * old + new
        if not np.all(old == 1.0):  # (a factor 1 would change no bit of acc)
            acc *= old[:, None]
        acc += new[:, None] * value
        top = new_top
    assert top is not None and total is not None and acc is not None
    return acc / total[:, None], top + np.log(total)


# ----------------------------------------------------------------------------------------------
# per-time engines: (alpha, sigma, x) -> (prediction in unit `target`, log p_t(x))
# ----------------------------------------------------------------------------------------------


#: Internal target of the engines: the posterior mean and the score side by side, ``(B, 2d)``.
_PAIR = "x0+score"


def _unit_weights(unit: str, alpha: float, sigma: float) -> list[tuple[float, float]]:
    """``[(w_x0, w_score), ...]``: each output is ``w_x0 x0 + w_score score`` per component.

    With ``x = alpha x0 + sigma eps`` and the score ``-eps/sigma``: ``eps = -sigma score`` and
    ``v = alpha eps - sigma x0 = -sigma (x0 + alpha score)``. Applied to the posterior mean and
    the score of each component before the softmax average, every unit comes from the same
    log-sum-exp terms, without the Tweedie cancellation ``alpha x0 - x`` of a conversion.
    ``_PAIR`` asks for the posterior mean and the score (columns ``[:d]`` and ``[d:]``).
    """
    weights = {
        "x0": [(1.0, 0.0)],
        "score": [(0.0, 1.0)],
        "eps": [(0.0, -sigma)],
        "v": [(-sigma, -alpha * sigma)],
        _PAIR: [(1.0, 0.0), (0.0, 1.0)],
    }
    return weights[unit]  # "velocity" is combined from _PAIR by _Mixture.denoiser


def _combine(weights: tuple[float, float], x0: Any, score: Any) -> Any:
    """``w_x0 x0 + w_score score``; a term with weight 0 is skipped (and may be ``None``)."""
    w_x0, w_score = weights
    if w_score == 0.0:
        return x0 if w_x0 == 1.0 else w_x0 * x0
    if w_x0 == 0.0:
        return score if w_score == 1.0 else w_score * score
    return w_x0 * x0 + w_score * score


def _component_values(
    units: list[tuple[float, float]], x0: np.ndarray | None, score: np.ndarray | None
) -> np.ndarray:
    """The outputs of ``units`` side by side along the last axis (see :func:`_needs`)."""
    outs = [_combine(w, x0, score) for w in units]
    return outs[0] if len(outs) == 1 else np.concatenate(outs, axis=-1)


def _needs(units: list[tuple[float, float]]) -> tuple[bool, bool]:
    """Whether ``units`` need the posterior mean and whether they need the score."""
    return any(w[0] for w in units), any(w[1] for w in units)


@numba.njit(fastmath={"contract", "reassoc"}, cache=True)
def _iso_direct_rows(
    x, means, centres, w, b, coef_mu, coef_x, out, lse, i0, i1
):  # pragma: no cover
    """Rows ``i0 .. i1 - 1`` of :func:`_iso_direct` (compiled; the same code serially or in a
    parallel block, so a row's result does not depend on how the rows are split);
    ``centres = alpha * means``."""
    d = x.shape[1]
    K, k = coef_mu.shape
    p = np.empty(K)
    cx = np.empty(k)
    for i in range(i0, i1):
        top = -np.inf
        for j in range(K):
            total = 0.0
            for t in range(d):
                diff = x[i, t] - centres[j, t]
                total += diff * diff
            p[j] = b[j] - w[j] * total
            top = max(top, p[j])
        s = 0.0
        for j in range(K):
            p[j] = np.exp(p[j] - top)
            s += p[j]
        inv = 1.0 / s
        cx[:] = 0.0
        out[i, :] = 0.0
        for j in range(K):
            q = p[j] * inv
            for u in range(k):
                cx[u] += q * coef_x[j, u]
                c = q * coef_mu[j, u]
                for t in range(d):
                    out[i, u * d + t] += c * means[j, t]
        for u in range(k):
            for t in range(d):
                out[i, u * d + t] += cx[u] * x[i, t]
        lse[i] = top + np.log(s)


@numba.njit(parallel=True, cache=True)
def _iso_direct_blocks(x, means, centres, w, b, coef_mu, coef_x, out, lse):  # pragma: no cover
    """:func:`_iso_direct_rows` over fixed blocks of ``_DIRECT_ROWS`` rows, in parallel."""
    B = x.shape[0]
    for blk in numba.prange((B + _DIRECT_ROWS - 1) // _DIRECT_ROWS):
        i0 = blk * _DIRECT_ROWS
        i1 = min(B, i0 + _DIRECT_ROWS)
        _iso_direct_rows(x, means, centres, w, b, coef_mu, coef_x, out, lse, i0, i1)


def _iso_direct(
    x: np.ndarray,
    means: np.ndarray,
    alpha: float,
    w: np.ndarray,
    b: np.ndarray,
    coef_mu: np.ndarray,
    coef_x: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """``(out, lse)``: ``out[:, u d : (u + 1) d] = sum_j softmax_j(l) (coef_mu[j, u] mu_j +
    coef_x[j, u] x)`` and ``lse = logsumexp_j(l)`` with ``l_j = b_j - w_j |x - alpha mu_j|^2``.

    Each squared distance is summed from its differences (no expanded square, so no
    cancellation) and each row is computed on its own, so the result is bit-identical for any
    thread count; small problems (below ``_DIRECT_PARALLEL_WORK``) run serially. A row whose
    logits are all ``-inf`` (a distance beyond the float64 range) gives NaN, which
    :func:`map_over_times` refuses.
    """
    (B, d), (K, k) = x.shape, coef_mu.shape
    out, lse = np.empty((B, k * d)), np.empty(B)
    args = (np.ascontiguousarray(x), means, alpha * means, w, b, coef_mu, coef_x, out, lse)
    if B * K * d * (k + 1) < _DIRECT_PARALLEL_WORK or numba.get_num_threads() == 1:
        _iso_direct_rows(*args, 0, B)
    else:
        _iso_direct_blocks(*args)
    return out, lse


def _iso_terms(
    alpha: float,
    sigma: float,
    x: np.ndarray,
    means: np.ndarray,
    var: np.ndarray,
    log_w: np.ndarray,
    target: str,
    backend: str,
    dtype: np.dtype,
) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic mixture at one time (eqs. (11)-(12), (16)).

    With ``V_j = alpha^2 s_j^2 + sigma^2`` each component contributes ``a_j mu_j + b_j x`` where
    ``(a, b) = (sigma^2/V, alpha s^2/V)`` for the posterior mean and ``(alpha/V, -1/V)`` for the
    score, and the other units combine the two (:func:`_unit_weights`). Up to
    ``DIRECT_MAX_COMPONENTS`` components (float64, Numba backend) :func:`_iso_direct` evaluates
    every logit from its differences and writes the result in one pass. Otherwise the fused
    kernel does: a scalar variance gives one common ``(a, b)`` per output; per-component
    variances put the ``b_j`` in extra value columns and ``-(d/2) log V_j`` in the log-weights.
    """
    d, n_comp = x.shape[1], means.shape[0]
    noised = alpha**2 * var + sigma**2
    coefs = [
        (
            w_x0 * (sigma**2 / noised) + w_score * (alpha / noised),
            w_x0 * (alpha * var / noised) + w_score * (-1.0 / noised),
        )
        for w_x0, w_score in _unit_weights(target, alpha, sigma)
    ]
    if backend == "numba" and dtype == np.float64 and n_comp <= DIRECT_MAX_COMPONENTS:
        v = np.broadcast_to(noised, (n_comp,))
        coef_mu, coef_x = (
            np.column_stack([np.broadcast_to(c[i], (n_comp,)) for c in coefs]) for i in (0, 1)
        )
        log_b = log_w - 0.5 * d * np.log(v)
        mu = means.astype(np.float64, copy=False)  # (float32 data: alpha mu formed in float64)
        out, lse = _iso_direct(x, mu, alpha, 0.5 / v, log_b, coef_mu, coef_x)
        return out, lse - 0.5 * d * _LOG_2PI
    common = dict(scale=alpha, return_logsumexp=True, backend=backend, dtype=dtype)
    if var.ndim == 0:
        mean, lse = softmax_weighted_sum(x, means, var=float(noised), log_weights=log_w, **common)
        log_p = _host(lse) - 0.5 * d * np.log(noised) - 0.5 * d * _LOG_2PI
        if coefs == [(1.0, 0.0)]:  # the posterior mean of var = 0 (the empirical law): as is,
            return _host(mean, None), log_p  # in the kernel's dtype, no pass over (B, d)
        mean, x64 = _host(mean), x.astype(np.float64, copy=False)
        outs = [a * mean + b * x64 for a, b in coefs]
        out = outs[0] if len(outs) == 1 else np.concatenate(outs, axis=1)
        return out, log_p
    k = len(coefs)
    values = np.column_stack([a[:, None] * means for a, _ in coefs] + [b for _, b in coefs])
    mean, lse = softmax_weighted_sum(
        x, means, var=noised, log_weights=log_w - 0.5 * d * np.log(noised), values=values, **common
    )
    mean, x64 = _host(mean), x.astype(np.float64, copy=False)
    out = np.empty((x.shape[0], k * d))
    for i in range(k):  # in place: one pass over (B, d) per unit, no temporaries
        part = out[:, i * d : (i + 1) * d]
        np.multiply(mean[:, k * d + i, None], x64, out=part)
        part += mean[:, i * d : (i + 1) * d]
    return out, _host(lse) - 0.5 * d * _LOG_2PI


def _gmm_terms(
    alpha: float,
    sigma: float,
    x: np.ndarray,
    means: np.ndarray,
    covs: np.ndarray,
    log_w: np.ndarray,
    target: str,
) -> tuple[np.ndarray, np.ndarray]:
    """General-covariance mixture at one time (Lemma 2.1, eqs. (9), (16)), a Cholesky per component.

    With ``A_i = alpha^2 Sigma_i + sigma^2 I = L_i L_i^T``, ``r_i = x - alpha mu_i`` and
    ``u_i = A_i^{-1} r_i``: logit ``w_i = log pi_i - sum log diag L_i - |L_i^{-1} r_i|^2 / 2``,
    component posterior mean ``mu_i + alpha Sigma_i u_i = mu_i + alpha (L_i^{-1} Sigma_i)^T
    L_i^{-1} r_i`` (two triangular solves: ``L_i^{-1} r_i``, shared with the logit, and the
    ``d x d`` matrix ``L_i^{-1} Sigma_i``, then one product) and component score ``-u_i``. The
    ``B`` right-hand sides go to BLAS ``trsm`` as one Fortran-ordered ``(B, d)`` block
    (``R L^{-T}``), which runs about twice as fast as LAPACK's ``trtrs`` on ``(d, B)``. BLAS runs
    single-threaded: these ``d x d`` by ``d x B`` products gain little from threads and lose
    much when another process holds the cores.
    """
    from scipy.linalg import solve_triangular  # SciPy's linalg costs ~0.2 s to import
    from scipy.linalg.blas import dtrsm

    d = x.shape[1]
    eye = np.eye(d)
    units = _unit_weights(target, alpha, sigma)
    need_x0, need_score = _needs(units)

    def terms() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for mu, cov, lw in zip(means, covs, log_w, strict=True):
            chol = np.linalg.cholesky(alpha**2 * cov + sigma**2 * eye)
            # rows L^{-1} r_i: X L^T = R, solved in place in the Fortran-ordered R
            white = dtrsm(
                1.0,
                chol,
                np.subtract(x, alpha * mu, order="F"),
                side=1,
                lower=1,
                trans_a=1,
                overwrite_b=1,
            )
            logit = lw - np.log(np.diag(chol)).sum() - 0.5 * np.einsum("ij,ij->i", white, white)
            post = score = None
            if need_x0:
                lsig = solve_triangular(chol, cov, lower=True, check_finite=False)
                post = mu + white @ (alpha * lsig)
            if need_score:  # rows u_i = L^{-T} L^{-1} r_i: X L = white
                score = -dtrsm(1.0, chol, white, side=1, lower=1)
            yield logit, _component_values(units, post, score)

    with single_threaded_blas("numpy"), single_threaded_blas("scipy"):
        out, lse = _stream_softmax(terms())
    return out, lse - 0.5 * d * _LOG_2PI


def _template_terms(
    alpha: float,
    sigma: float,
    x: np.ndarray,
    templates: np.ndarray,
    color_means: np.ndarray,
    color_var: float,
    log_w: np.ndarray,
    target: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Low-rank template mixture at one time via Sherman-Morrison-Woodbury (App. H.4).

    Component i: ``A_i = I_c (x) x_i``, ``n_i^2 = |x_i|^2``, ``D_i = sigma^2 + alpha^2 s^2 n_i^2``,
    ``P_i = A_i^T x`` (channel-wise projections), ``r = x - alpha A_i u_i``. Then
    ``r^T (alpha^2 Sigma_i + sigma^2 I)^{-1} r = |x_perp|^2/sigma^2 + |A_i^T r|^2/(n_i^2 D_i)``
    with ``x_perp = x - A_i P_i / n_i^2``; the log-determinant is
    ``c((p - 1) log sigma^2 + log D_i) = c(2p log sigma + log(1 + alpha^2 s^2 n_i^2/sigma^2))``;
    the component posterior mean is ``A_i (sigma^2 u_i + alpha s^2 P_i) / D_i``.
    """
    n, k = x.shape[0], templates.shape[0]
    c, p = color_means.shape[1], templates.shape[1]
    xc = x.reshape(n, c, p)
    norm2 = np.einsum("kp,kp->k", templates, templates)
    noised = sigma**2 + alpha**2 * color_var * norm2
    proj = np.einsum("ncp,kp->knc", xc, templates)
    units = _unit_weights(target, alpha, sigma)
    need_x0, need_score = _needs(units)

    def terms() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for i in range(k):
            tpl = templates[i]
            par = proj[i] - alpha * norm2[i] * color_means[i]
            perp = xc - (proj[i] / norm2[i])[:, :, None] * tpl
            quad = np.einsum("ncp,ncp->n", perp, perp) / sigma**2 + np.einsum(
                "nc,nc->n", par, par
            ) / (norm2[i] * noised[i])
            logit = log_w[i] - 0.5 * c * np.log(noised[i]) - 0.5 * quad
            post = score = None
            if need_x0:
                color = (sigma**2 * color_means[i] + alpha * color_var * proj[i]) / noised[i]
                post = (color[:, :, None] * tpl).reshape(n, c * p)
            if need_score:
                score = -(perp / sigma**2 + (par / (norm2[i] * noised[i]))[:, :, None] * tpl)
                score = score.reshape(n, c * p)
            yield logit, _component_values(units, post, score)

    out, lse = _stream_softmax(terms())
    return out, lse - 0.5 * c * (p - 1) * np.log(sigma**2) - 0.5 * c * p * _LOG_2PI


def _template_params(
    templates: ArrayLike, color_means: ArrayLike, color_var: ArrayLike
) -> tuple[np.ndarray, np.ndarray, float]:
    tpl = _templates(templates)
    u = as_float_array(color_means, "color_means", ndim=2, dtype=np.float64)
    if u.shape[0] != tpl.shape[0] or u.shape[1] == 0:
        raise ValueError(
            f"color_means must have shape ({tpl.shape[0]}, c) with c >= 1 (one color mean per "
            f"template), got shape {u.shape}"
        )
    s2 = _variances(color_var, tpl.shape[0], "color_var")
    if s2.ndim != 0:
        raise ValueError(
            f"color_var must be a scalar (shared color variance), got shape {s2.shape}"
        )
    return tpl, u, float(s2)


# ----------------------------------------------------------------------------------------------
# the laws
# ----------------------------------------------------------------------------------------------


def _frozen(arr: np.ndarray, dtype: DTypeLike = np.float64) -> np.ndarray:
    """A read-only copy of ``arr`` in ``dtype``."""
    out = np.array(arr, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out


def _in_dtype(out: np.ndarray, dtype: DTypeLike | None) -> np.ndarray:
    """``out`` (computed in float64) in the requested ``dtype`` (float64 by default)."""
    return out.astype(check_dtype(np.float64 if dtype is None else dtype), copy=False)


class _Mixture:
    """The methods every law shares: ``sample``, ``log_prob_t``, ``score_t``, ``denoiser``.

    Subclasses provide ``dim``, ``weights``, ``_log_w`` (the log-weights the engine uses),
    ``_draw(labels, rng)`` and ``_eval(x, t, schedule, target, backend, dtype)`` returning
    ``(prediction in unit target, log p_t(x))``.
    """

    weights: np.ndarray
    _what = "the mixture's means"
    #: Whether ``_eval`` runs the fused kernel in the requested dtype (:func:`_iso_eval`), so
    #: that float32 queries stay float32 when float32 is asked for (no float64 round trip).
    _kernel_dtype = False

    @property
    def dim(self) -> int:
        """The data dimension ``d``."""
        raise NotImplementedError

    @property
    def n_components(self) -> int:
        """The number of components ``K`` (data points for :class:`EmpiricalDistribution`)."""
        return int(self.weights.shape[0])

    def _draw(self, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def _eval(
        self,
        x: np.ndarray,
        t: ArrayLike,
        schedule: Schedule,
        target: str,
        backend: str,
        dtype: DTypeLike | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def sample(self, n: int, rng: np.random.Generator | int) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` i.i.d. samples: a component ``k ~ pi``, then ``X`` from component ``k``.

        Parameters
        ----------
        n : int
            The number of samples, ``n >= 0``.
        rng : numpy.random.Generator or int
            The source of randomness (an integer is a seed: same seed, same samples).

        Returns
        -------
        X : ndarray, shape (n, d)
            The samples.
        labels : ndarray of int, shape (n,)
            The component of each sample (for :class:`EmpiricalDistribution`, the index of the
            data point drawn).

        Examples
        --------
        >>> import numpy as np
        >>> X, labels = EmpiricalDistribution(np.eye(3)).sample(4, rng=0)
        >>> bool(np.array_equal(X, np.eye(3)[labels]))
        True
        """
        count = check_int(n, "n", low=0)
        check_allocation(count * (self.dim + 1), f"{count} samples in dimension {self.dim}")
        gen = as_rng(rng)
        labels = gen.choice(self.n_components, size=count, p=self.weights)
        with np.errstate(over="ignore", invalid="ignore"):
            X = finite_result(self._draw(labels, gen), "the samples")
        return X, labels

    def _query(
        self, x: ArrayLike, backend: str, dtype: DTypeLike | None = None
    ) -> tuple[np.ndarray, bool]:
        check_choice(backend, "backend", BACKENDS)
        keep = self._kernel_dtype and dtype is not None and check_dtype(dtype) == np.float32
        xq, single = as_queries(x, dtype=None if keep else np.float64)
        check_last_dim(xq, self.dim, "x", self._what)
        return xq, single

    def log_prob_t(
        self, x: ArrayLike, t: ArrayLike, schedule: Schedule, *, backend: str = "numba"
    ) -> np.ndarray:
        r"""``log p_t(x)``, the log-density of ``X_t = alpha_t X_0 + sigma_t Z`` (the noised law).

        ``p_t = sum_k pi_k N(alpha_t mu_k, alpha_t^2 Sigma_k + sigma_t^2 I)`` (Buchanan et al.
        (paper 000), proof of Lemma 2.1, App. A), in log-sum-exp form.

        Parameters
        ----------
        x : array_like, shape (B, d) or (d,)
            Noisy states.
        t : float or array_like, shape (B,)
            Times with ``sigma_t > 0``.
        schedule : Schedule or str
            The noise schedule.
        backend : {"numba", "numpy", "cupy"}
            The fused-kernel backend (isotropic and empirical laws; the others evaluate in
            NumPy).

        Returns
        -------
        ndarray, shape (B,), or float
            Float64 log-densities (a float for a single query).

        See Also
        --------
        score_t : Its gradient.
        denoiser : The posterior mean, in any prediction unit.

        Examples
        --------
        >>> import numpy as np
        >>> from diffmem_theory.core.schedules import VPTrig
        >>> law = EmpiricalDistribution(np.zeros((1, 2)))      # N(0, sigma_t^2 I) at time t
        >>> round(float(law.log_prob_t(np.zeros(2), 0.5, VPTrig())), 6)   # -log(2 pi 0.25)
        -0.451583
        """
        xq, single = self._query(x, backend)
        _, log_p = self._eval(xq, t, schedule, "x0", backend, None)
        return unbatch(log_p, single)

    def score_t(
        self,
        x: ArrayLike,
        t: ArrayLike,
        schedule: Schedule,
        *,
        backend: str = "numba",
        dtype: DTypeLike | None = None,
    ) -> np.ndarray:
        r"""Score ``grad log p_t(x) = sum_k softmax(w)_k A_k^{-1} (alpha_t mu_k - x)``.

        Buchanan et al. (paper 000), eq. (16), with ``A_k = alpha_t^2 Sigma_k + sigma_t^2 I`` and
        the Lemma 2.1 logits ``w``; evaluated directly, not through Tweedie's identity (the same
        as ``denoiser(x, t, schedule, prediction="score")``).

        Parameters
        ----------
        x : array_like, shape (B, d) or (d,)
            Noisy states.
        t : float or array_like, shape (B,)
            Times with ``sigma_t > 0``.
        schedule : Schedule or str
            The noise schedule.
        backend : {"numba", "numpy", "cupy"}
            The fused-kernel backend (isotropic and empirical laws).
        dtype : {None, float64, float32}
            The result's dtype; the fused kernel computes in it, the other laws in float64.

        Returns
        -------
        ndarray, shaped like ``x``

        See Also
        --------
        log_prob_t : Its potential.
        denoiser : The same in any unit.
        diffmem_theory.core.denoisers.score_from_denoiser : Tweedie's identity.

        Examples
        --------
        >>> import numpy as np
        >>> from diffmem_theory.core.schedules import VPTrig
        >>> law = EmpiricalDistribution(np.zeros((1, 2)))
        >>> print(np.round(law.score_t(np.ones(2), 0.5, VPTrig()), 6))    # -x / sigma_t^2
        [-4. -4.]
        """
        return self.denoiser(x, t, schedule, prediction="score", backend=backend, dtype=dtype)

    def denoiser(
        self,
        x: ArrayLike,
        t: ArrayLike,
        schedule: Schedule,
        *,
        prediction: str = "x0",
        backend: str = "numba",
        dtype: DTypeLike | None = None,
    ) -> np.ndarray:
        r"""Posterior mean ``E[X_0 | X_t = x]``, or the prediction in another unit, directly.

        Buchanan et al. (paper 000), Lemma 2.1, eq. (9): with ``A_k = alpha_t^2 Sigma_k +
        sigma_t^2 I``, ``r_k = x - alpha_t mu_k`` and the logits
        ``w_k = log pi_k - (1/2) log det A_k - (1/2) r_k^T A_k^{-1} r_k``,

            x0 = sum_k softmax(w)_k (mu_k + alpha_t Sigma_k A_k^{-1} r_k),
            score = -sum_k softmax(w)_k A_k^{-1} r_k                        (eq. (16)),
            eps = -sigma_t score,   v = alpha_t eps - sigma_t x0   (Salimans & Ho, 2022),
            velocity = dx_t/dt = alpha_t' x0 + sigma_t' eps = alpha_t' x0 - (sigma_t^2)'/2 score,

        every unit averaged over the components with the same softmax weights (the velocity
        combines the averaged x0 and score of one pass). None is obtained by converting the
        x0-prediction (which loses digits at small ``t``, see the module docstring). The
        Salimans-Ho ``v`` is the velocity in the angle ``phi = arctan(sigma_t/alpha_t)`` of a
        variance-preserving schedule, ``"velocity"`` the one in ``t`` that flow-matching models
        predict. When the law is the data distribution this is the generalizing denoiser
        ``xbar_*`` of paper 000; for :class:`EmpiricalDistribution` it is the memorizing
        denoiser, eq. (7).

        Parameters
        ----------
        x : array_like, shape (B, d) or (d,)
            Noisy states.
        t : float or array_like, shape (B,)
            Times with ``sigma_t > 0``.
        schedule : Schedule or str
            The noise schedule.
        prediction : str, default "x0"
            The unit, one of :data:`~diffmem_theory.core.schedules.PREDICTIONS`.
        backend : {"numba", "numpy", "cupy"}
            The fused-kernel backend (isotropic and empirical laws).
        dtype : {None, float64, float32}
            The result's dtype; the fused kernel computes in it, the other laws in float64.

        Returns
        -------
        ndarray, shaped like ``x``

        See Also
        --------
        score_t : The score (``prediction="score"``).
        diffmem_theory.core.denoisers.as_denoiser : Wraps a law for the samplers.
        diffmem_theory.core.schedules.convert_prediction : The Tweedie conversion.

        References
        ----------
        Buchanan et al. (paper 000), Lemma 2.1 / A.1 and eqs. (4), (9), (16). T. Salimans and
        J. Ho, "Progressive distillation for fast sampling of diffusion models", ICLR 2022.

        Examples
        --------
        >>> import numpy as np
        >>> from diffmem_theory.core.schedules import VPTrig
        >>> law = IsotropicGaussianMixture(np.zeros((1, 2)), 1.0)   # N(0, I): x0 = alpha_t x
        >>> print(np.round(law.denoiser(np.ones(2), 0.6, VPTrig()), 6))
        [0.8 0.8]
        >>> print(np.round(law.denoiser(np.ones(2), 0.6, VPTrig(), prediction="eps"), 6))
        [0.6 0.6]
        """
        check_choice(prediction, "prediction", PREDICTIONS)
        xq, single = self._query(x, backend, dtype)
        if prediction != "velocity":
            out, _ = self._eval(xq, t, schedule, prediction, backend, dtype)
            return unbatch(out, single)
        pair, _ = self._eval(xq, t, schedule, _PAIR, backend, dtype)
        sched = as_schedule(schedule, required=True)
        tt = np.asarray(t, dtype=np.float64)
        tt = tt[:, None] if tt.ndim else tt
        d = xq.shape[1]
        with np.errstate(over="ignore", invalid="ignore"):
            out = sched.dalpha(tt) * pair[:, :d] - 0.5 * sched.dsigma2(tt) * pair[:, d:]
        out = finite_result(out, "the velocity prediction").astype(pair.dtype, copy=False)
        return unbatch(out, single)


@dataclass(frozen=True, eq=False)
class GaussianMixture(_Mixture):
    """Gaussian mixture ``sum_k pi_k N(mu_k, Sigma_k)`` with general covariances.

    Buchanan et al. (paper 000), eq. (8) and Lemma 2.1. Methods evaluate one Cholesky factor of
    ``alpha_t^2 Sigma_k + sigma_t^2 I`` per component with a streaming log-sum-exp (cost
    ``K d^3 + B K d^2``, memory ``O(B d)``), meant for a moderate number ``K`` of components.

    Parameters
    ----------
    means : array_like, shape (K, d)
        Component means ``mu_k``.
    covs : array_like, shape (K, d, d)
        Symmetric positive semi-definite covariances ``Sigma_k`` (singular ones are allowed,
        e.g. the dense form of :class:`TemplateMixture`).
    weights : array_like, shape (K,), optional
        Positive weights summing to 1 (default ``1/K``, as in the paper).

    See Also
    --------
    IsotropicGaussianMixture : ``Sigma_k = s_k^2 I`` on the fused kernel.
    diffmem_theory.core.denoisers.gmm_denoiser : Its posterior mean as a function.

    References
    ----------
    Buchanan et al. (paper 000), eq. (8), Lemma 2.1 / A.1, eqs. (9), (16).

    Examples
    --------
    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> gm = GaussianMixture(np.array([[1.0, 0.0], [-1.0, 0.0]]), np.array([np.eye(2), np.eye(2)]))
    >>> gm.dim, gm.n_components
    (2, 2)
    >>> round(float(gm.log_prob_t(np.zeros(2), 0.5, VPTrig())), 6)
    -2.212877
    """

    means: np.ndarray
    covs: np.ndarray
    weights: np.ndarray | None = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        mu = as_points(self.means, "means", None)
        cov = as_covariances(self.covs, *mu.shape)
        log_w = _log_weights(self.weights, mu.shape[0])
        for name, value in (("means", mu), ("covs", cov), ("weights", np.exp(log_w))):
            object.__setattr__(self, name, _frozen(value))
        object.__setattr__(self, "_log_w", _frozen(log_w))

    @property
    def dim(self) -> int:
        """The data dimension ``d``."""
        return int(self.means.shape[1])

    @cached_property
    def _roots(self) -> np.ndarray:
        """Symmetric square roots ``Sigma_k^{1/2}`` (by eigendecomposition: fine if singular)."""
        lam, vec = np.linalg.eigh(self.covs)
        return np.einsum("kij,kj,klj->kil", vec, np.sqrt(np.clip(lam, 0.0, None)), vec)

    def _draw(self, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        z = rng.standard_normal((labels.size, self.dim))
        return self.means[labels] + np.einsum("nij,nj->ni", self._roots[labels], z)

    def _eval(
        self,
        x: np.ndarray,
        t: ArrayLike,
        schedule: Schedule,
        target: str,
        backend: str,
        dtype: DTypeLike | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        out, log_p = _map_over_times(
            x,
            t,
            schedule,
            _gmm_terms,
            means=self.means,
            covs=self.covs,
            log_w=self._log_w,
            target=target,
        )
        return _in_dtype(out, dtype), log_p


def _iso_eval(
    law: _Mixture,
    x: np.ndarray,
    t: ArrayLike,
    schedule: Schedule,
    means: np.ndarray,
    var: np.ndarray,
    target: str,
    backend: str,
    dtype: DTypeLike | None,
) -> tuple[np.ndarray, np.ndarray]:
    """The isotropic engine over ``(B,)`` times, in the kernel's ``dtype`` (float64 default)."""
    dt = check_dtype(np.float64 if dtype is None else dtype)
    out, log_p = _map_over_times(
        x,
        t,
        schedule,
        _iso_terms,
        means=means,
        var=var,
        log_w=law._log_w,
        target=target,
        backend=backend,
        dtype=dt,
    )
    return out.astype(dt, copy=False), log_p


@dataclass(frozen=True, eq=False)
class IsotropicGaussianMixture(_Mixture):
    """Isotropic Gaussian mixture ``sum_k pi_k N(mu_k, s_k^2 I)``.

    Buchanan et al. (paper 000), eq. (8) with ``Sigma_k = s^2 I`` (Sec. 3, Sec. 4.1; the paper's
    experiments use :func:`sphere_means` and ``s^2 = 1``), evaluated on the fused kernel with
    eqs. (11)-(12): with ``V = alpha_t^2 s^2 + sigma_t^2``,

        xbar(x, t) = (alpha_t s^2 / V) x + (sigma_t^2 / V) sum_k mu_k softmax(w)_k,
        w_k = log pi_k - |alpha_t mu_k - x|^2 / (2 V).

    Per-component variances give ``V_k`` per component, ``w_k`` gains ``-(d/2) log V_k`` and
    the coefficient ``alpha_t s_k^2 / V_k`` on ``x`` is averaged with the same softmax weights.

    Parameters
    ----------
    means : array_like, shape (K, d)
        Component means ``mu_k``.
    var : float or array_like, shape (K,)
        The variance ``s^2 >= 0`` (a variance, not a standard deviation), shared or one per
        component. ``var = 0`` puts a point mass at each mean: :class:`EmpiricalDistribution`
        is that law with uniform weights.
    weights : array_like, shape (K,), optional
        Positive weights summing to 1 (default ``1/K``).

    See Also
    --------
    GaussianMixture : General covariances.
    EmpiricalDistribution : The point masses of a data set.
    diffmem_theory.core.denoisers.iso_gmm_denoiser : Its posterior mean as a function.
    diffmem_theory.core.denoisers.nominal_denoiser : :meth:`component_denoiser` as a function.

    References
    ----------
    Buchanan et al. (paper 000), eqs. (8), (11)-(12), (16), Lemma E.4.

    Examples
    --------
    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> mix = IsotropicGaussianMixture(np.array([[1.0, 0.0], [-1.0, 0.0]]), 1.0)
    >>> round(float(mix.log_prob_t(np.zeros(2), 0.5, VPTrig())), 6)
    -2.212877
    >>> X, labels = mix.sample(3, np.random.default_rng(0))
    >>> X.shape, labels.shape
    ((3, 2), (3,))
    """

    means: np.ndarray
    var: np.ndarray | float
    weights: np.ndarray | None = None  # type: ignore[assignment]
    _kernel_dtype = True

    def __post_init__(self) -> None:
        mu = as_points(self.means, "means", None)
        v = _variances(self.var, mu.shape[0])
        log_w = _log_weights(self.weights, mu.shape[0])
        for name, value in (("means", mu), ("weights", np.exp(log_w))):
            object.__setattr__(self, name, _frozen(value))
        object.__setattr__(self, "var", float(v) if v.ndim == 0 else _frozen(v))
        object.__setattr__(self, "_log_w", _frozen(log_w))

    @property
    def dim(self) -> int:
        """The data dimension ``d``."""
        return int(self.means.shape[1])

    def _draw(self, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        z = rng.standard_normal((labels.size, self.dim))
        var = np.asarray(self.var)
        scale = np.sqrt(var) if var.ndim == 0 else np.sqrt(var[labels])[:, None]
        return self.means[labels] + scale * z

    def _eval(
        self,
        x: np.ndarray,
        t: ArrayLike,
        schedule: Schedule,
        target: str,
        backend: str,
        dtype: DTypeLike | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        var = np.asarray(self.var)
        return _iso_eval(self, x, t, schedule, self.means, var, target, backend, dtype)

    def component_denoiser(
        self, x: ArrayLike, t: ArrayLike, schedule: Schedule, labels: ArrayLike
    ) -> np.ndarray:
        r"""Posterior mean given the component: ``E[X_0 | X_t = x, k]`` for a known label ``k``.

        Buchanan et al. (paper 000), Lemma E.4 (the nominal, one-sparse denoiser): with
        ``V = alpha_t^2 s_k^2 + sigma_t^2``,

            xbar_nom(x, t) = (alpha_t s_k^2 / V) x + (sigma_t^2 / V) mu_k,

        the posterior mean of the single Gaussian ``N(mu_k, s_k^2 I)``. For
        ``x = alpha_t x^i + sigma_t g`` with ``x^i ~ N(mu_k, s^2 I)``,
        ``xbar_nom - x^i ~ N(0, s^2 sigma_t^2 / V I)``, so
        ``E|xbar_nom - x^i|^2 = d s^2 / (psi_t s^2 + 1)`` (proof of Thm F.1). Fully vectorized
        over ``t`` (no grouping by time).

        Parameters
        ----------
        x : array_like, shape (B, d) or (d,)
            Noisy states.
        t : float or array_like, shape (B,)
            Times with ``sigma_t > 0``.
        schedule : Schedule or str
            The noise schedule.
        labels : array_like of int, shape (B,) (a scalar for one query)
            The component of each query, in ``[0, K)``.

        Returns
        -------
        ndarray, shaped like ``x``

        See Also
        --------
        denoiser : The posterior mean without the label.
        diffmem_theory.core.denoisers.nominal_denoiser : This method as a function.

        Examples
        --------
        >>> import numpy as np
        >>> from diffmem_theory.core.schedules import VPTrig
        >>> mix = IsotropicGaussianMixture(np.array([[1.0, 0.0], [-1.0, 0.0]]), 1.0)
        >>> print(np.round(mix.component_denoiser(np.array([[0.3, -0.4]]), 0.5, VPTrig(), [1]), 6))
        [[ 0.009808 -0.34641 ]]
        """
        xq, single = as_queries(x)
        check_last_dim(xq, self.dim, "x", self._what)
        lab = np.asarray(labels)
        if lab.dtype.kind not in "iu" or lab.size != xq.shape[0] or lab.ndim > 1:
            raise ValueError(
                f"labels must be integers, one per query (shape ({xq.shape[0]},)), got {lab!r}"
            )
        lab = lab.reshape(-1)
        if lab.min() < 0 or lab.max() >= self.n_components:
            raise ValueError(
                f"labels must lie in [0, {self.n_components}), got range [{lab.min()}, {lab.max()}]"
            )
        schedule = as_schedule(schedule, required=True)
        tt = _times(t, schedule, xq.shape[0])
        alpha, sigma = (a.reshape(-1, 1) for a in _alpha_sigma(schedule, tt))
        v = np.asarray(self.var)
        s2 = v if v.ndim == 0 else v[lab][:, None]
        with np.errstate(over="ignore", invalid="ignore"):
            noised = alpha**2 * s2 + sigma**2
            out = (alpha * s2 / noised) * xq + (sigma**2 / noised) * self.means[lab]
        return unbatch(finite_result(out, "the nominal posterior mean (rescale the data)"), single)


@dataclass(frozen=True, eq=False)
class EmpiricalDistribution(_Mixture):
    r"""The empirical distribution ``(1/N) sum_i delta_{x^i}`` of a data set ``X``.

    Buchanan et al. (paper 000), eqs. (5)-(7): the law a denoiser trained to optimality on ``N``
    samples learns. Under ``X_t = alpha_t X_0 + sigma_t Z`` its noised marginal is the mixture
    ``p_t = (1/N) sum_i N(alpha_t x^i, sigma_t^2 I)`` (Baptista et al. (paper 002),
    eqs. (3.4)-(3.5)), with

        log p_t(x) = logsumexp_i w_i - log N - (d/2) log(2 pi sigma_t^2),
        w_i = -|x - alpha_t x^i|^2 / (2 sigma_t^2),
        E[X_0 | X_t = x] = sum_i softmax(w)_i x^i                     (eq. (7)),
        grad log p_t(x) = sum_i softmax(w)_i (alpha_t x^i - x) / sigma_t^2,

    the memorizing denoiser and the empirical score. It is :class:`IsotropicGaussianMixture`
    with ``var = 0`` and uniform weights, evaluated on the fused kernel
    :func:`diffmem_theory.kernels.softmax_weighted_sum` (``backend``, ``dtype`` of the methods).

    Parameters
    ----------
    X : array_like, shape (N, d)
        The data points ``x^i``, kept as a read-only copy in their own precision: float32 data
        stay float32 (half the memory of float64; the methods' ``dtype=float32`` then computes
        on them as they are, and the default float64 on a float64 copy made for the call),
        anything else becomes float64.

    See Also
    --------
    diffmem_theory.core.denoisers.memorizing_denoiser : Its posterior mean as a function.
    diffmem_theory.core.denoisers.partial_memorizing_denoiser : That of a subset (eq. (10)).
    IsotropicGaussianMixture : The smoothed law ``var > 0``.

    References
    ----------
    Buchanan et al. (paper 000), eqs. (5)-(7), (16); Baptista et al. (paper 002),
    eqs. (3.4)-(3.5).

    Examples
    --------
    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> law = EmpiricalDistribution(np.array([[1.0, 0.0], [0.0, 1.0]]))
    >>> law.dim, law.n_components
    (2, 2)
    >>> print(np.round(law.denoiser(np.array([0.8, 0.1]), 0.5, VPTrig()), 6))
    [0.918704 0.081296]
    >>> print(np.round(law.score_t(np.array([0.8, 0.1]), 0.5, VPTrig()), 6))
    [-0.017515 -0.118383]
    """

    X: np.ndarray
    _what = "the data X"
    _kernel_dtype = True

    def __post_init__(self) -> None:
        data = as_points(self.X, "X", None, dtype=None)
        n = data.shape[0]
        object.__setattr__(self, "X", _frozen(data, data.dtype))
        object.__setattr__(self, "_log_w", _frozen(np.full(n, -np.log(n))))

    @property
    def dim(self) -> int:
        """The data dimension ``d``."""
        return int(self.X.shape[1])

    @cached_property
    def weights(self) -> np.ndarray:  # type: ignore[override]
        """The uniform weights ``1/N``, shape ``(N,)``."""
        return _frozen(np.full(self.X.shape[0], 1.0 / self.X.shape[0]))

    def _draw(self, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.X[labels]

    def _eval(
        self,
        x: np.ndarray,
        t: ArrayLike,
        schedule: Schedule,
        target: str,
        backend: str,
        dtype: DTypeLike | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        zero = np.asarray(0.0)
        single = dtype is not None and check_dtype(dtype) == np.float32
        centres = self._x_float32 if single else self.X
        return _iso_eval(self, x, t, schedule, centres, zero, target, backend, dtype)

    @cached_property
    def _x_float32(self) -> np.ndarray:
        """``X`` in float32: itself for float32 data, else cast once, on the first float32
        evaluation (a float32 sampler loop would otherwise cast ``N x d`` every call)."""
        return self.X if self.X.dtype == np.float32 else _frozen(self.X, np.float32)


@dataclass(frozen=True, eq=False)
class TemplateMixture(_Mixture):
    """Mixture of low-rank colored templates (the simple image model).

    Buchanan et al. (paper 000), Sec. 4.2 and App. H.4: component ``k`` draws a color
    ``c ~ N(u_k, s^2 I_c)`` and outputs ``y = c (x) x_k`` (Kronecker product, channel-major, i.e.
    ``y.reshape(c, h, w)[j] = c_j x_k``), so ``y ~ N(u_k (x) x_k, s^2 (I_c (x) x_k x_k^T))``, a
    rank-``c`` Gaussian in dimension ``d = c h w``. Densities, scores and denoisers use the
    Sherman-Morrison-Woodbury and determinant identities of H.4 (cost ``O(B K d)``; see
    :func:`diffmem_theory.core.denoisers.template_denoiser` for the formulas);
    :meth:`to_gaussian_mixture` gives the dense equivalent (``d x d`` covariances, small sizes
    only).

    Parameters
    ----------
    templates : array_like, shape (K, h, w)
        Nonzero templates ``x_k``.
    color_means : array_like, shape (K, c)
        Mean colors ``u_k``.
    color_var : float
        The shared color variance ``s^2 >= 0`` (a variance).
    weights : array_like, shape (K,), optional
        Positive weights summing to 1 (default ``1/K``).

    See Also
    --------
    GaussianMixture : The dense form (:meth:`to_gaussian_mixture`).
    diffmem_theory.core.denoisers.template_denoiser : Its posterior mean as a function.

    References
    ----------
    Buchanan et al. (paper 000), Sec. 4.2 and App. H.4.

    Examples
    --------
    >>> import numpy as np
    >>> templates = np.ones((2, 2, 2)) * np.array([1.0, 2.0])[:, None, None]
    >>> tm = TemplateMixture(templates, np.zeros((2, 3)), 1.0)
    >>> tm.dim, tm.image_shape
    (12, (3, 2, 2))
    >>> X, labels = tm.sample(4, 0)
    >>> X.reshape(4, *tm.image_shape).shape
    (4, 3, 2, 2)
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> tm.denoiser(X, 0.5, VPTrig()).shape, tm.score_t(X[0], 0.5, VPTrig()).shape
    ((4, 12), (12,))
    >>> tm.log_prob_t(X, 0.5, VPTrig()).shape
    (4,)
    """

    templates: np.ndarray
    color_means: np.ndarray
    color_var: float
    weights: np.ndarray | None = None  # type: ignore[assignment]
    _what = "the template model (c * h * w)"

    def __post_init__(self) -> None:
        _, u, s2 = _template_params(self.templates, self.color_means, self.color_var)
        log_w = _log_weights(self.weights, u.shape[0])
        for name, value in (
            ("templates", np.asarray(self.templates)),
            ("color_means", u),
            ("weights", np.exp(log_w)),
        ):
            object.__setattr__(self, name, _frozen(value))
        object.__setattr__(self, "color_var", s2)
        object.__setattr__(self, "_log_w", _frozen(log_w))

    @property
    def image_shape(self) -> tuple[int, ...]:
        """``(c, h, w)``: the shape of one sample as a colored image."""
        return (int(self.color_means.shape[1]), *self.templates.shape[1:])

    @property
    def dim(self) -> int:
        """The data dimension ``d = c h w``."""
        return int(np.prod(self.image_shape))

    @property
    def _flat(self) -> np.ndarray:
        return self.templates.reshape(self.templates.shape[0], -1)

    def _draw(self, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        colors = self.color_means[labels] + np.sqrt(self.color_var) * rng.standard_normal(
            (labels.size, self.color_means.shape[1])
        )
        return (colors[:, :, None] * self._flat[labels][:, None, :]).reshape(labels.size, -1)

    def _eval(
        self,
        x: np.ndarray,
        t: ArrayLike,
        schedule: Schedule,
        target: str,
        backend: str,
        dtype: DTypeLike | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        out, log_p = _map_over_times(
            x,
            t,
            schedule,
            _template_terms,
            templates=self._flat,
            color_means=self.color_means,
            color_var=self.color_var,
            log_w=self._log_w,
            target=target,
        )
        return _in_dtype(out, dtype), log_p

    def to_gaussian_mixture(self) -> GaussianMixture:
        """The same distribution as a dense :class:`GaussianMixture` (App. H.4).

        ``mu_k = u_k (x) x_k`` and ``Sigma_k = s^2 (I_c (x) x_k x_k^T)``; the covariances are
        ``d x d`` with ``d = c h w``, so use this for tests at small sizes.

        Returns
        -------
        GaussianMixture
            With the same weights; refused (``ValueError``) when the ``K d^2`` covariance
            entries exceed the allocation limit.

        See Also
        --------
        GaussianMixture : The general law.

        References
        ----------
        Buchanan et al. (paper 000), App. H.4.

        Examples
        --------
        >>> import numpy as np
        >>> tm = TemplateMixture(np.ones((1, 1, 2)), np.array([[1.0, 2.0]]), 0.5)
        >>> gm = tm.to_gaussian_mixture()
        >>> gm.means
        array([[1., 1., 2., 2.]])
        >>> int(np.linalg.matrix_rank(gm.covs[0]))
        2
        """
        flat, u = self._flat, self.color_means
        means = (u[:, :, None] * flat[:, None, :]).reshape(flat.shape[0], -1)
        check_allocation(flat.shape[0] * self.dim**2, f"{flat.shape[0]} dense covariances")
        eye = np.eye(u.shape[1])
        covs = np.stack([self.color_var * np.kron(eye, np.outer(x, x)) for x in flat])
        return GaussianMixture(means, covs, self.weights)


def sphere_means(
    K: int, d: int, rng: np.random.Generator | int, radius: float | None = None
) -> np.ndarray:
    """``K`` means uniform on the sphere of radius ``sqrt(d)`` (normalized Gaussian vectors).

    Buchanan et al. (paper 000), Sec. 4.1: ``mu_k = r g_k / |g_k|`` with ``g_k ~ N(0, I_d)``
    and ``r = sqrt(d)`` unless ``radius`` is given.

    Parameters
    ----------
    K : int
        The number of means, ``K >= 1``.
    d : int
        The dimension, ``d >= 1``.
    rng : numpy.random.Generator or int
        The source of randomness (an integer is a seed).
    radius : float, optional
        The sphere's radius ``r > 0`` (default ``sqrt(d)``).

    Returns
    -------
    ndarray, shape (K, d)

    See Also
    --------
    IsotropicGaussianMixture : The mixture the paper puts on these means.

    References
    ----------
    Buchanan et al. (paper 000), Sec. 4.1.

    Examples
    --------
    >>> import numpy as np
    >>> mu = sphere_means(4, 9, np.random.default_rng(0))
    >>> mu.shape, np.round(np.linalg.norm(mu, axis=1), 12).tolist()
    ((4, 9), [3.0, 3.0, 3.0, 3.0])
    """
    k = check_int(K, "K", low=1)
    dim = check_int(d, "d", low=1)
    check_allocation(k * dim, f"{k} means in dimension {dim}")
    r = np.sqrt(dim) if radius is None else check_scalar(radius, "radius", low=0.0, low_open=True)
    g = as_rng(rng).standard_normal((k, dim))
    return r * g / np.linalg.norm(g, axis=1, keepdims=True)
