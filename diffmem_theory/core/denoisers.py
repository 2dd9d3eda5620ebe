"""Posterior-mean denoisers E[X_0 | X_t = x] of Gaussian mixtures and of the empirical distribution.

Buchanan et al. (paper 000): the Gaussian-mixture denoiser of Lemma 2.1 / A.1 (eq. (9)), its
isotropic form (eqs. (11)-(12)), the memorizing denoiser (eq. (7)), the partially memorizing
denoiser (eq. (10)), the nominal one-sparse denoiser (Lemma E.4) and the low-rank colored-template
denoiser (App. H.4). Tweedie's identity (eq. (4)) turns any of them into a score or a noise
prediction (:func:`score_from_denoiser`, :func:`eps_from_denoiser`).

Conventions
-----------
* Every denoiser returns an x0-prediction ``E[X_0 | X_t = x]`` for ``X_t = alpha_t X_0 + sigma_t Z``
  (float64 unless a kernel-backed denoiser is asked for ``dtype=float32``).
* ``x`` has shape ``(B, d)``; a single query of shape ``(d,)`` is accepted and gives shape ``(d,)``.
* ``t`` is a scalar or an array of shape ``(B,)`` (one time per query). Queries are grouped by
  unique time and each group is one vectorized evaluation, so a 26-point training grid costs 26
  kernel calls whatever the batch size.
* Softmaxes are in log-sum-exp form and no formula divides by ``alpha_t``: the posterior mean of
  each component is written as ``mu + alpha Sigma (alpha^2 Sigma + sigma^2 I)^{-1} (x - alpha mu)``,
  which equals eq. (9) and stays finite as ``alpha_t -> 0``.
* The isotropic and empirical (memorizing) denoisers run on the package's fused kernel
  :func:`diffmem_theory.kernels.softmax_weighted_sum` (``backend="numba" | "numpy" | "cupy"``,
  ``dtype=float64`` by default, ``float32`` allowed). The general-covariance and template denoisers
  loop over components (a Cholesky factor or a closed-form Woodbury inverse per component) with a
  streaming log-sum-exp, which suits a moderate number of components.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike
from scipy.linalg import solve_triangular

from diffmem_theory._validation import (
    as_covariances,
    as_float_array,
    as_points,
    as_queries,
    as_rng,
    check_callable,
    check_choice,
    check_dtype,
    check_int,
    check_last_dim,
    check_positive,
    finite_result,
    unbatch,
)
from diffmem_theory.core.schedules import PREDICTIONS, Schedule, as_schedule, convert_prediction
from diffmem_theory.kernels import softmax_weighted_sum

__all__ = [
    "Denoiser",
    "as_denoiser",
    "eps_from_denoiser",
    "gmm_denoiser",
    "iso_gmm_denoiser",
    "memorized_subset",
    "memorizing_denoiser",
    "nominal_denoiser",
    "partial_memorizing_denoiser",
    "score_from_denoiser",
    "template_denoiser",
]

_LOG_2PI = float(np.log(2.0 * np.pi))
_WEIGHT_SUM_TOL = 1e-6


# ----------------------------------------------------------------------------------------------
# validation (shared with mixtures.py)
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


def _map_over_times(
    x: np.ndarray,
    t: ArrayLike,
    schedule: Schedule,
    fn: Callable[..., tuple[np.ndarray, ...]],
    **params: Any,
) -> tuple[np.ndarray, ...]:
    """Validate ``t`` and evaluate ``fn(alpha_t, sigma_t, x_rows, **params)`` once per unique
    time, scattering the rows back. Results beyond float64 (a query or a mean so far out that
    its squared distance overflows) raise ``ValueError`` instead of giving inf or NaN."""
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


def _host(arr: Any) -> np.ndarray:
    """A float64 NumPy copy of a kernel result (CuPy results are copied back from the device)."""
    return np.asarray(arr.get() if hasattr(arr, "get") else arr, dtype=np.float64)


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
        acc = acc * old[:, None] + new[:, None] * value
        top = new_top
    assert top is not None and total is not None and acc is not None
    return acc / total[:, None], top + np.log(total)


# ----------------------------------------------------------------------------------------------
# per-time engines: (alpha, sigma, x) -> (prediction in unit `target`, log p_t(x))
# ----------------------------------------------------------------------------------------------


def _unit_weights(unit: str, alpha: float, sigma: float) -> tuple[float, float]:
    """``(w_x0, w_score)`` with ``unit = w_x0 x0 + w_score score``, per mixture component.

    With ``x = alpha x0 + sigma eps`` and the score ``-eps/sigma``: ``eps = -sigma score`` and
    ``v = alpha eps - sigma x0 = -sigma (x0 + alpha score)``. Applied to the posterior mean and
    the score of each component before the softmax average, every unit comes from the same
    log-sum-exp terms, without the Tweedie cancellation ``alpha x0 - x`` of a conversion.
    """
    if unit == "x0":
        return 1.0, 0.0
    if unit == "score":
        return 0.0, 1.0
    if unit == "eps":
        return 0.0, -sigma
    return -sigma, -alpha * sigma


def _combine(weights: tuple[float, float], x0: Any, score: Any) -> Any:
    """``w_x0 x0 + w_score score``; a term with weight 0 is skipped (and may be ``None``)."""
    w_x0, w_score = weights
    if w_score == 0.0:
        return x0 if w_x0 == 1.0 else w_x0 * x0
    if w_x0 == 0.0:
        return score if w_score == 1.0 else w_score * score
    return w_x0 * x0 + w_score * score


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
    """Isotropic mixture at one time, on the fused kernel (eqs. (11)-(12), (16)).

    With ``V_j = alpha^2 s_j^2 + sigma^2`` each component contributes ``a_j mu_j + b_j x`` where
    ``(a, b) = (sigma^2/V, alpha s^2/V)`` for the posterior mean and ``(alpha/V, -1/V)`` for the
    score, and the other units combine the two (:func:`_unit_weights`). A scalar variance gives
    one common ``(a, b)``; per-component variances put ``b_j`` in
    an extra value column and ``-(d/2) log V_j`` in the log-weights.
    """
    d = x.shape[1]
    noised = alpha**2 * var + sigma**2
    w_x0, w_score = _unit_weights(target, alpha, sigma)
    a = w_x0 * (sigma**2 / noised) + w_score * (alpha / noised)
    b = w_x0 * (alpha * var / noised) + w_score * (-1.0 / noised)
    common = dict(scale=alpha, return_logsumexp=True, backend=backend, dtype=dtype)
    if var.ndim == 0:
        mean, lse = softmax_weighted_sum(x, means, var=float(noised), log_weights=log_w, **common)
        out = a * _host(mean) + b * x
        log_norm = 0.5 * d * np.log(noised)
    else:
        values = np.column_stack([a[:, None] * means, b])
        mean, lse = softmax_weighted_sum(
            x,
            means,
            var=noised,
            log_weights=log_w - 0.5 * d * np.log(noised),
            values=values,
            **common,
        )
        mean = _host(mean)
        out = mean[:, :d] + mean[:, d:] * x
        log_norm = 0.0
    return out, _host(lse) - log_norm - 0.5 * d * _LOG_2PI


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
    component posterior mean ``mu_i + alpha Sigma_i u_i`` and component score ``-u_i``.
    """
    d = x.shape[1]
    eye = np.eye(d)
    weights = _unit_weights(target, alpha, sigma)

    def terms() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for mu, cov, lw in zip(means, covs, log_w, strict=True):
            chol = np.linalg.cholesky(alpha**2 * cov + sigma**2 * eye)
            white = solve_triangular(chol, (x - alpha * mu).T, lower=True)
            u = solve_triangular(chol, white, lower=True, trans="T").T
            logit = lw - np.log(np.diag(chol)).sum() - 0.5 * np.einsum("ij,ij->j", white, white)
            post = mu + alpha * (u @ cov) if weights[0] else None
            yield logit, _combine(weights, post, -u)

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
    weights = _unit_weights(target, alpha, sigma)

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
            if weights[0]:
                color = (sigma**2 * color_means[i] + alpha * color_var * proj[i]) / noised[i]
                post = color[:, :, None] * tpl
            if weights[1]:
                score = -(perp / sigma**2 + (par / (norm2[i] * noised[i]))[:, :, None] * tpl)
            value = _combine(weights, post, score)
            yield logit, value.reshape(n, c * p)

    out, lse = _stream_softmax(terms())
    return out, lse - 0.5 * c * (p - 1) * np.log(sigma**2) - 0.5 * c * p * _LOG_2PI


# ----------------------------------------------------------------------------------------------
# evaluation over (B,) times, shared with mixtures.py
# ----------------------------------------------------------------------------------------------


def _iso_eval(
    xq: np.ndarray,
    t: ArrayLike,
    means: np.ndarray,
    var: np.ndarray,
    log_w: np.ndarray,
    schedule: Schedule,
    target: str,
    backend: str = "numba",
    dtype: DTypeLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    dt = check_dtype(np.float64 if dtype is None else dtype)
    out, log_p = _map_over_times(
        xq,
        t,
        schedule,
        _iso_terms,
        means=means,
        var=var,
        log_w=log_w,
        target=target,
        backend=backend,
        dtype=dt,
    )
    return out.astype(dt, copy=False), log_p


def _gmm_eval(
    xq: np.ndarray,
    t: ArrayLike,
    means: np.ndarray,
    covs: np.ndarray,
    log_w: np.ndarray,
    schedule: Schedule,
    target: str,
) -> tuple[np.ndarray, np.ndarray]:
    return _map_over_times(
        xq, t, schedule, _gmm_terms, means=means, covs=covs, log_w=log_w, target=target
    )


def _template_eval(
    xq: np.ndarray,
    t: ArrayLike,
    templates: np.ndarray,
    color_means: np.ndarray,
    color_var: float,
    log_w: np.ndarray,
    schedule: Schedule,
    target: str,
) -> tuple[np.ndarray, np.ndarray]:
    return _map_over_times(
        xq,
        t,
        schedule,
        _template_terms,
        templates=templates,
        color_means=color_means,
        color_var=color_var,
        log_w=log_w,
        target=target,
    )


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
# public denoisers
# ----------------------------------------------------------------------------------------------


def gmm_denoiser(
    x: ArrayLike,
    t: ArrayLike,
    means: ArrayLike,
    covs: ArrayLike,
    schedule: Schedule,
    weights: ArrayLike | None = None,
) -> np.ndarray:
    r"""Posterior mean of a Gaussian mixture with general covariances.

    Buchanan et al. (paper 000), Lemma 2.1 / A.1, eq. (9): for
    ``pi = sum_i pi_i N(mu_i, Sigma_i)`` and ``A_i = alpha_t^2 Sigma_i + sigma_t^2 I``,

        xbar(x, t) = (1/alpha_t) (x - sigma_t^2 sum_i A_i^{-1} (x - alpha_t mu_i) softmax(w)_i),
        w_i = log pi_i - (1/2) log det A_i - (1/2) (x - alpha_t mu_i)^T A_i^{-1} (x - alpha_t mu_i).

    It is evaluated in the equivalent form without ``1/alpha_t``,
    ``xbar = sum_i softmax(w)_i [mu_i + alpha_t Sigma_i A_i^{-1} (x - alpha_t mu_i)]``,
    with one Cholesky factor per component: cost ``M d^3 + B M d^2`` and memory ``O(B d)``, meant
    for a moderate number ``M`` of components. Isotropic and empirical mixtures should use
    :func:`iso_gmm_denoiser` / :func:`memorizing_denoiser`, which run on the fused kernel.

    Parameters: ``t`` scalar or ``(B,)``; ``x`` ``(B, d)`` or ``(d,)``; ``means`` ``(M, d)``;
    ``covs`` ``(M, d, d)`` symmetric positive semi-definite (singular covariances are fine:
    ``A_i`` is positive definite for ``sigma_t > 0``); ``weights`` ``(M,)`` positive, summing to 1
    (default uniform ``1/M``, as in the paper). Returns the x0-prediction, shaped like ``x``.

    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> means = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> covs = np.array([np.eye(2) * 0.5, np.diag([0.2, 1.0])])
    >>> out = gmm_denoiser(np.array([[0.3, -0.4]]), 0.5, means, covs, VPTrig())
    >>> print(np.round(out, 6))
    [[ 0.390901 -0.290756]]
    """
    xq, single = as_queries(x)
    mu = as_points(means, "means", xq.shape[1])
    cov = as_covariances(covs, mu.shape[0], mu.shape[1])
    out, _ = _gmm_eval(xq, t, mu, cov, _log_weights(weights, mu.shape[0]), schedule, "x0")
    return unbatch(out, single)


def iso_gmm_denoiser(
    x: ArrayLike,
    t: ArrayLike,
    means: ArrayLike,
    var: ArrayLike,
    schedule: Schedule,
    weights: ArrayLike | None = None,
    *,
    backend: str = "numba",
    dtype: DTypeLike | None = None,
) -> np.ndarray:
    r"""Posterior mean of an isotropic Gaussian mixture ``sum_i pi_i N(mu_i, s_i^2 I)``.

    Buchanan et al. (paper 000), eqs. (11)-(12) (Lemma 2.1 with ``Sigma_i = s^2 I``): with
    ``V = alpha_t^2 s^2 + sigma_t^2``,

        xbar(x, t) = (alpha_t s^2 / V) x + (sigma_t^2 / V) sum_i mu_i softmax(w)_i,
        w_i = log pi_i - |alpha_t mu_i - x|^2 / (2 V).

    ``var`` is the scalar ``s^2 >= 0`` of the paper, or one variance per component ``(M,)``; then
    ``V_i`` differs per component, ``w_i`` gains ``-(d/2) log V_i`` and the coefficient
    ``alpha_t s_i^2 / V_i`` on ``x`` is averaged with the same softmax weights. ``var = 0`` gives
    the memorizing denoiser eq. (7). Runs on :func:`diffmem_theory.kernels.softmax_weighted_sum`
    (``backend``, ``dtype`` passed through; the result has dtype ``dtype``, float64 by default).

    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> means = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> out = iso_gmm_denoiser(np.array([[0.3, -0.4]]), 0.5, means, 0.5, VPTrig())
    >>> print(np.round(out, 6))
    [[ 0.365164 -0.277128]]
    """
    xq, single = as_queries(x)
    mu = as_points(means, "means", xq.shape[1])
    v = _variances(var, mu.shape[0])
    log_w = _log_weights(weights, mu.shape[0])
    out, _ = _iso_eval(xq, t, mu, v, log_w, schedule, "x0", backend, dtype)
    return unbatch(out, single)


def memorizing_denoiser(
    x: ArrayLike,
    t: ArrayLike,
    X: ArrayLike,
    schedule: Schedule,
    *,
    backend: str = "numba",
    dtype: DTypeLike | None = None,
) -> np.ndarray:
    r"""The memorizing (empirical) denoiser: posterior mean of the empirical distribution of ``X``.

    Buchanan et al. (paper 000), eq. (7): the minimizer of the training loss (6),

        xbar_mem(x, t) = sum_{i=1}^N x^i softmax(w(x))_i,  w_i = -|alpha_t x^i - x|^2/(2 sigma_t^2)

    (Lemma 2.1 with ``M = N``, ``Sigma_i = 0``, ``mu_i = x^i``). ``X`` has shape ``(N, d)``.
    Runs on the fused kernel (``backend``, ``dtype`` passed through).

    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> print(np.round(memorizing_denoiser(np.array([0.8, 0.1]), 0.5, X, VPTrig()), 6))
    [0.918704 0.081296]
    """
    xq, single = as_queries(x)
    data = as_points(X, "X", xq.shape[1])
    log_w = _log_weights(None, data.shape[0])
    out, _ = _iso_eval(xq, t, data, np.asarray(0.0), log_w, schedule, "x0", backend, dtype)
    return unbatch(out, single)


def memorized_subset(
    N: int,
    M: int | None = None,
    idx: ArrayLike | None = None,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Indices of the training points memorized by the partially memorizing denoiser (eq. (10)).

    Buchanan et al. (paper 000), eq. (10) and footnote 2: the paper memorizes "the first M"
    samples, and any size-M subset chosen independently of the samples works (the authors' code
    draws a uniformly random one). Give either ``M`` (the first ``M`` indices, or a uniformly random
    ``M``-subset without replacement when ``rng`` is given) or ``idx`` (distinct indices in
    ``[0, N)``); ``1 <= M <= N``.

    >>> memorized_subset(5, M=3)
    array([0, 1, 2])
    >>> memorized_subset(5, M=3, rng=0)
    array([3, 4, 2])
    """
    n = check_int(N, "N", low=1)
    if idx is not None:
        if rng is not None:
            raise ValueError("give either idx or rng (a random subset), not both")
        keep = np.asarray(idx)
        if keep.ndim != 1 or keep.size == 0 or keep.dtype.kind not in "iu":
            raise ValueError(f"idx must be a non-empty 1-D integer array, got {keep!r}")
        if keep.min() < 0 or keep.max() >= n or np.unique(keep).size != keep.size:
            raise ValueError(f"idx must hold distinct indices in [0, {n}), got {keep.tolist()}")
        if M is not None and check_int(M, "M") != keep.size:
            raise ValueError(f"M must equal len(idx) = {keep.size} when both are given, got {M}")
        return keep.astype(np.intp)
    if M is None:
        raise ValueError("give M (the number of memorized points) or idx (their indices)")
    m = check_int(M, "M", low=1)
    if m > n:
        raise ValueError(f"M must be <= N = {n} (the number of training points), got M = {m}")
    if rng is None:
        return np.arange(m)
    return as_rng(rng).choice(n, size=m, replace=False)


def partial_memorizing_denoiser(
    x: ArrayLike,
    t: ArrayLike,
    X: ArrayLike,
    M: int | None = None,
    idx: ArrayLike | None = None,
    rng: np.random.Generator | int | None = None,
    *,
    schedule: Schedule,
    backend: str = "numba",
    dtype: DTypeLike | None = None,
) -> np.ndarray:
    r"""The partially memorizing denoiser: the memorizing denoiser of ``M`` of the ``N`` points.

    Buchanan et al. (paper 000), eq. (10):

        xbar_pmem,M(t, x) = sum_{i in S} x^i softmax(w(x))_i,
        w_i = -|alpha_t x^i - x|^2 / (2 sigma_t^2),

    with ``S`` the first ``M`` indices (default), the given ``idx``, or a uniformly random
    ``M``-subset drawn with ``rng`` (see :func:`memorized_subset`). ``M = N`` gives eq. (7).
    ``schedule`` is keyword-only.

    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    >>> out = partial_memorizing_denoiser(np.array([-0.8, 0.1]), 0.5, X, M=2, schedule=VPTrig())
    >>> print(np.round(out, 6))
    [0.042383 0.957617]
    """
    xq, single = as_queries(x)
    data = as_points(X, "X", xq.shape[1])
    keep = memorized_subset(data.shape[0], M, idx, rng)
    log_w = _log_weights(None, keep.size)
    out, _ = _iso_eval(xq, t, data[keep], np.asarray(0.0), log_w, schedule, "x0", backend, dtype)
    return unbatch(out, single)


def nominal_denoiser(
    x: ArrayLike,
    t: ArrayLike,
    means: ArrayLike,
    var: ArrayLike,
    labels: ArrayLike,
    schedule: Schedule,
) -> np.ndarray:
    r"""The nominal (one-sparse) denoiser, which knows the true cluster ``k`` of each query.

    Buchanan et al. (paper 000), Lemma E.4: with ``V = alpha_t^2 s^2 + sigma_t^2``,

        xbar_nom(x, t) = (alpha_t s^2 / V) x + (sigma_t^2 / V) mu_k,

    the posterior mean of the single Gaussian ``N(mu_k, s^2 I)``. For
    ``x = alpha_t x^i + sigma_t g`` with ``x^i ~ N(mu_k, s^2 I)``,
    ``xbar_nom - x^i ~ N(0, s^2 sigma_t^2 / V I)``, so
    ``E|xbar_nom - x^i|^2 = d s^2 / (psi_t s^2 + 1)`` (proof of Thm F.1). ``labels`` holds one
    cluster index in ``[0, K)`` per query (shape ``(B,)``, or a scalar for a single query);
    ``var`` is a scalar or one variance per cluster ``(K,)``. Fully vectorized over ``t``.

    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> means = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> out = nominal_denoiser(np.array([[0.3, -0.4]]), 0.5, means, 1.0, [1], VPTrig())
    >>> print(np.round(out, 6))
    [[ 0.009808 -0.34641 ]]
    """
    xq, single = as_queries(x)
    mu = as_points(means, "means", xq.shape[1])
    v = _variances(var, mu.shape[0])
    lab = np.asarray(labels)
    if lab.dtype.kind not in "iu" or lab.size != xq.shape[0] or lab.ndim > 1:
        raise ValueError(
            f"labels must be integers, one per query (shape ({xq.shape[0]},)), got {lab!r}"
        )
    lab = lab.reshape(-1)
    if lab.min() < 0 or lab.max() >= mu.shape[0]:
        raise ValueError(
            f"labels must lie in [0, {mu.shape[0]}), got range [{lab.min()}, {lab.max()}]"
        )
    schedule = as_schedule(schedule, required=True)
    tt = _times(t, schedule, xq.shape[0])
    alpha, sigma = (a.reshape(-1, 1) for a in _alpha_sigma(schedule, tt))
    s2 = v if v.ndim == 0 else v[lab][:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        noised = alpha**2 * s2 + sigma**2
        out = (alpha * s2 / noised) * xq + (sigma**2 / noised) * mu[lab]
    return unbatch(finite_result(out, "the nominal posterior mean (rescale the data)"), single)


def template_denoiser(
    x: ArrayLike,
    t: ArrayLike,
    templates: ArrayLike,
    color_means: ArrayLike,
    color_var: ArrayLike,
    schedule: Schedule,
    weights: ArrayLike | None = None,
) -> np.ndarray:
    r"""Posterior mean of the low-rank colored-template mixture, via Sherman-Morrison-Woodbury.

    Buchanan et al. (paper 000), Sec. 4.2 and App. H.4: component ``i`` is
    ``y = c (x) x_i`` with color ``c ~ N(u_i, s^2 I_c)`` and template ``x_i`` (``p = h w`` pixels),
    i.e. ``N(A_i u_i, s^2 A_i A_i^T)`` with ``A_i = I_c (x) x_i`` (rank ``c``). Lemma 2.1 applies
    with ``D_i = sigma^2 + alpha^2 s^2 |x_i|^2`` and

    (alpha^2 Sigma_i + sigma^2 I)^{-1} = (1/sigma^2) (I - (alpha^2 s^2 / D_i) A_i A_i^T),
    log det(alpha^2 Sigma_i + sigma^2 I) = c (2p log sigma + log(1 + alpha^2 s^2 |x_i|^2 / sigma^2))
                                        = c ((p - 1) log sigma^2 + log D_i),

    and the component posterior mean ``A_i (sigma^2 u_i + alpha s^2 A_i^T x) / D_i`` (no
    ``1/alpha``). Cost ``O(B K c p)``. Note the factor ``c`` on the second log-det term: it is
    in the paper (H.4) but the authors' code drops it, which changes the softmax weights when
    template norms differ; this function follows the paper (notes on paper 000, §5 item 18).

    ``templates`` ``(K, h, w)`` (or flattened ``(K, p)``, each nonzero), ``color_means`` ``(K, c)``,
    ``color_var`` scalar ``>= 0`` (shared), ``x`` ``(B, c*p)`` in channel-major order (reshape to
    ``(B, c, h, w)`` for images). Returns the x0-prediction, shaped like ``x``.

    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> templates = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 1.0]]])
    >>> x = np.arange(8.0) / 8
    >>> out = template_denoiser(x, 0.5, templates, np.zeros((2, 2)), 1.0, VPTrig())
    >>> print(np.round(out, 4))
    [0.0405 0.2032 0.2032 0.2436 0.1484 0.6095 0.6095 0.7578]
    """
    xq, single = as_queries(x)
    tpl, u, s2 = _template_params(templates, color_means, color_var)
    check_last_dim(xq, u.shape[1] * tpl.shape[1], "x", "the template model (c * h * w)")
    log_w = _log_weights(weights, tpl.shape[0])
    out, _ = _template_eval(xq, t, tpl, u, s2, log_w, schedule, "x0")
    return unbatch(out, single)


# ----------------------------------------------------------------------------------------------
# Tweedie conversions
# ----------------------------------------------------------------------------------------------


def _checked_prediction(x: ArrayLike, x0_hat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    xq = as_float_array(x, "x", ndim=(1, 2))
    pred = as_float_array(x0_hat, "x0_hat", ndim=(1, 2))
    if pred.shape != xq.shape:
        raise ValueError(f"x0_hat must have the shape of x {xq.shape}, got shape {pred.shape}")
    return xq, pred


def score_from_denoiser(
    x: ArrayLike, t: ArrayLike, x0_hat: ArrayLike, schedule: Schedule
) -> np.ndarray:
    r"""Score ``grad log p_t(x)`` from an x0-prediction, by Tweedie's identity.

    Buchanan et al. (paper 000), eq. (4): ``grad log p_t(x) = (alpha_t xbar(x, t) - x)/sigma_t^2``.
    A thin wrapper over :func:`diffmem_theory.core.schedules.convert_prediction` (source ``"x0"``,
    target ``"score"``); ``t`` is a scalar or ``(B,)`` for ``x`` of shape ``(B, d)``.

    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> x, x0_hat = np.array([1.0, 2.0]), np.array([0.5, 1.0])
    >>> print(np.round(score_from_denoiser(x, 0.5, x0_hat, VPTrig()), 6))
    [-2.267949 -4.535898]
    """
    xq, pred = _checked_prediction(x, x0_hat)
    return convert_prediction(pred, xq, t, schedule, source="x0", target="score")


def eps_from_denoiser(
    x: ArrayLike, t: ArrayLike, x0_hat: ArrayLike, schedule: Schedule
) -> np.ndarray:
    r"""Noise prediction from an x0-prediction: ``eps = (x - alpha_t xbar(x, t)) / sigma_t``.

    Buchanan et al. (paper 000), eq. (4) rewritten in noise units (``|eps_hat - eps|^2 =
    psi_t |xbar - x_0|^2``, Sec. 2). A thin wrapper over
    :func:`diffmem_theory.core.schedules.convert_prediction` (source ``"x0"``, target ``"eps"``).

    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> x, x0_hat = np.array([1.0, 2.0]), np.array([0.5, 1.0])
    >>> print(np.round(eps_from_denoiser(x, 0.5, x0_hat, VPTrig()), 6))
    [1.133975 2.267949]
    """
    xq, pred = _checked_prediction(x, x0_hat)
    return convert_prediction(pred, xq, t, schedule, source="x0", target="eps")


# ----------------------------------------------------------------------------------------------
# the denoiser protocol: any model in any prediction unit
# ----------------------------------------------------------------------------------------------


def _is_distribution(model: Any) -> bool:
    """A law answers ``denoiser(x, t, schedule, prediction=...)`` (e.g. a Gaussian mixture)."""
    return not isinstance(model, Denoiser) and callable(getattr(model, "denoiser", None))


class Denoiser:
    r"""A model's prediction in every unit: the object :func:`as_denoiser` returns.

    Calling it gives the x0-prediction ``xbar(x, t) ~ E[X_0 | X_t = x]``;
    :meth:`predict` gives the prediction in any unit of
    :data:`diffmem_theory.core.schedules.PREDICTIONS`. Build it with :func:`as_denoiser`.

    Attributes
    ----------
    model : callable or distribution
        The wrapped model: a callable ``model(x, t)`` returning a prediction in unit
        ``prediction``, or a law with a method ``denoiser(x, t, schedule, *, prediction)``.
    schedule : Schedule or None
        The noise schedule ``X_t = alpha_t X_0 + sigma_t Z`` the model was trained on (``None``
        for a callable x0 model used only in x0 units).
    prediction : str
        The unit the model returns natively. A law answers every unit directly from its own
        closed form, so for a law it only records the unit a caller prefers.

    See Also
    --------
    as_denoiser : Builds it, with the validation of the model and the units.
    diffmem_theory.core.schedules.convert_prediction : The affine change of unit.
    """

    __slots__ = ("_law", "model", "prediction", "schedule")

    def __init__(self, model: Any, schedule: Schedule | None, prediction: str) -> None:
        self.model = model
        self.schedule = schedule
        self.prediction = prediction
        self._law = _is_distribution(model)

    def __repr__(self) -> str:
        schedule = None if self.schedule is None else self.schedule.name
        return (
            f"Denoiser(model={self.model!r:.60}, schedule={schedule}, "
            f"prediction={self.prediction!r})"
        )

    def __call__(self, x: Any, t: Any) -> Any:
        """The x0-prediction ``E[X_0 | X_t = x]`` at ``(x, t)`` (see :meth:`predict`)."""
        return self.predict(x, t, "x0")

    def predict(self, x: Any, t: Any, unit: str) -> Any:
        r"""The prediction at ``(x, t)`` in unit ``unit``.

        Parameters
        ----------
        x : array, shape (B, d) or (d,)
            Noisy states ``x_t``.
        t : float or array of shape (B,)
            Times, one for all rows or one per row.
        unit : {"x0", "eps", "score", "v", ...}
            A unit of :data:`~diffmem_theory.core.schedules.PREDICTIONS`. With
            ``x_t = alpha_t x0 + sigma_t eps``: ``eps = (x - alpha_t x0)/sigma_t``,
            ``score = (alpha_t x0 - x)/sigma_t^2`` (Tweedie, Buchanan et al. (paper 000),
            eq. (4)) and the Salimans-Ho ``v = alpha_t eps - sigma_t x0``.

        Returns
        -------
        array, shaped like ``x``
            A law computes the unit directly from its closed form (no Tweedie cancellation at
            small ``t``); a callable's output is converted by
            :func:`~diffmem_theory.core.schedules.convert_prediction` only when ``unit``
            differs from its own unit, and returned as is otherwise.

        Raises
        ------
        ValueError
            For an unknown ``unit``, or a model output that is not shaped like ``x``.
        TypeError
            For a model output that is not an array.
        """
        check_choice(unit, "unit", PREDICTIONS)
        if self._law:
            return self.model.denoiser(x, t, self.schedule, prediction=unit)
        out = self.model(x, t)
        shape = getattr(out, "shape", None)
        if shape is None:
            raise TypeError(
                f"the model must return an array shaped like x, got {type(out).__name__} "
                f"{out!r:.80}"
            )
        if tuple(shape) != tuple(np.shape(x)):
            raise ValueError(
                f"the model's {self.prediction}-prediction has shape {tuple(shape)} but x has "
                f"shape {tuple(np.shape(x))}; a denoiser must return one prediction per state"
            )
        if unit == self.prediction:
            return out
        assert self.schedule is not None  # as_denoiser requires it for a non-x0 model
        return convert_prediction(out, x, t, self.schedule, source=self.prediction, target=unit)


def as_denoiser(
    model: Any, schedule: Schedule | str | None = None, *, prediction: str = "x0"
) -> Denoiser:
    r"""Wrap a model (a callable in any prediction unit, or a law) as a :class:`Denoiser`.

    The one protocol by which the samplers, losses and metrics of the package use a model:
    the result ``den`` gives the x0-prediction ``den(x, t) ~ E[X_0 | X_t = x]`` and the
    prediction in any unit ``den.predict(x, t, unit)``. With ``x_t = alpha_t x0 + sigma_t eps``
    every unit is affine in the x0-prediction given ``x``:

        eps = (x - alpha_t x0) / sigma_t,
        score = (alpha_t x0 - x) / sigma_t^2        (Tweedie; Buchanan et al. (paper 000), eq. (4)),
        v = alpha_t eps - sigma_t x0                (Salimans & Ho, 2022).

    Parameters
    ----------
    model : callable or distribution
        Either a callable ``model(x, t)`` returning, for ``x`` of shape ``(B, d)`` and ``t`` a
        float or shape ``(B,)``, an array shaped like ``x`` in unit ``prediction`` (a trained
        network, :func:`memorizing_denoiser` with its data bound, ...), or a law with a method
        ``denoiser(x, t, schedule, *, prediction)``
        (:class:`~diffmem_theory.core.distributions.GaussianMixture`,
        :class:`~diffmem_theory.core.distributions.EmpiricalDistribution`, ...), which answers
        every unit directly. A :class:`Denoiser` is returned as is (re-bound to ``schedule``
        when one is given).
    schedule : Schedule or str, optional
        The noise schedule (a :class:`~diffmem_theory.core.schedules.Schedule` or one of its
        names). Required for a law and for a callable whose ``prediction`` is not ``"x0"``
        (its conversion to x0 needs ``alpha_t`` and ``sigma_t``).
    prediction : str, default "x0"
        The unit the callable returns, one of
        :data:`~diffmem_theory.core.schedules.PREDICTIONS`. For a law, the unit a caller
        prefers; it answers every unit directly. Ignored for a :class:`Denoiser`, which knows
        its unit.

    Returns
    -------
    Denoiser
        With attributes ``model``, ``schedule``, ``prediction``.

    Raises
    ------
    TypeError
        If ``model`` is neither callable nor a law, or ``schedule`` is missing where it is
        required or not a schedule.
    ValueError
        If ``prediction`` is not a known unit.

    See Also
    --------
    diffmem_theory.core.schedules.convert_prediction : The change of unit of a callable.
    diffmem_theory.core.distributions.EmpiricalDistribution.denoiser : A law's direct units.

    References
    ----------
    Buchanan et al. (paper 000), eq. (4) (Tweedie's identity). T. Salimans and J. Ho,
    "Progressive distillation for fast sampling of diffusion models", ICLR 2022 (the ``v`` unit).

    Examples
    --------
    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> den = as_denoiser(lambda x, t: memorizing_denoiser(x, t, X, VPTrig()), VPTrig())
    >>> x = np.array([[0.8, 0.1]])
    >>> print(np.round(den(x, 0.5), 6))
    [[0.918704 0.081296]]
    >>> eps_model = as_denoiser(lambda x, t: den.predict(x, t, "eps"), VPTrig(), prediction="eps")
    >>> print(np.round(eps_model(x, 0.5), 6))    # back to x0
    [[0.918704 0.081296]]
    """
    if isinstance(model, Denoiser):
        if schedule is None:
            return model
        return as_denoiser(model.model, schedule, prediction=model.prediction)
    check_choice(prediction, "prediction", PREDICTIONS)
    if _is_distribution(model):
        return Denoiser(model, as_schedule(schedule, required=True), prediction)
    check_callable(
        model,
        "model",
        "a callable model(x, t) or a law with a denoiser(x, t, schedule, prediction=...) method",
    )
    if schedule is None and prediction != "x0":
        raise TypeError(
            f"schedule is required for a model in {prediction!r} units (converting it to x0 "
            f"needs alpha_t and sigma_t), got None"
        )
    return Denoiser(model, None if schedule is None else as_schedule(schedule), prediction)
