"""Denoisers ``E[X_0 | X_t = x]`` as functions, Tweedie conversions, and the denoiser protocol.

Buchanan et al. (paper 000): the Gaussian-mixture denoiser of Lemma 2.1 / A.1 (eq. (9)), its
isotropic form (eqs. (11)-(12)), the memorizing denoiser (eq. (7)), the partially memorizing
denoiser (eq. (10)), the nominal one-sparse denoiser (Lemma E.4) and the low-rank colored-template
denoiser (App. H.4). Each is a one-line use of the law it belongs to in
:mod:`diffmem_theory.core.distributions` (:class:`GaussianMixture`,
:class:`IsotropicGaussianMixture`, :class:`EmpiricalDistribution`, :class:`TemplateMixture`),
whose methods also give the log-density, the score and every other prediction unit directly.
Tweedie's identity (eq. (4)) turns an x0-prediction into a score or a noise prediction
(:func:`score_from_denoiser`, :func:`eps_from_denoiser`), and :func:`as_denoiser` wraps any model
(a callable in any prediction unit, or a law) into the one :class:`Denoiser` protocol that the
samplers of :mod:`diffmem_theory.core.dynamics` use. A callable may compute with any array-API
library (NumPy, CuPy, JAX, PyTorch, ...): :func:`model_output` brings its output to the library
and device of its input by DLPack (no copy on the same device) and :func:`change_unit` changes
its unit there.

Conventions
-----------
* Every denoiser returns an x0-prediction ``E[X_0 | X_t = x]`` for ``X_t = alpha_t X_0 + sigma_t Z``
  (float64 unless a kernel-backed denoiser is asked for ``dtype=float32``).
* ``x`` has shape ``(B, d)``; a single query of shape ``(d,)`` is accepted and gives shape ``(d,)``.
* ``t`` is a scalar or an array of shape ``(B,)`` (one time per query). Queries are grouped by
  unique time and each group is one vectorized evaluation, so a 26-point training grid costs 26
  kernel calls whatever the batch size.
* Softmaxes are in log-sum-exp form and no formula divides by ``alpha_t``.
* The isotropic and empirical (memorizing) denoisers run on the package's fused kernel
  :func:`diffmem_theory.kernels.softmax_weighted_sum` (``backend="numba" | "numpy" | "cupy"``,
  ``dtype=float64`` by default, ``float32`` allowed). The general-covariance and template denoisers
  loop over components (a Cholesky factor or a closed-form Woodbury inverse per component) with a
  streaming log-sum-exp, which suits a moderate number of components.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from typing import Any

import numpy as np
from array_api_compat import array_namespace, device
from numpy.typing import ArrayLike, DTypeLike

from diffmem_theory._validation import (
    as_float_array,
    as_points,
    as_rng,
    check_callable,
    check_choice,
    check_int,
)
from diffmem_theory.core.distributions import (
    EmpiricalDistribution,
    GaussianMixture,
    IsotropicGaussianMixture,
    TemplateMixture,
)
from diffmem_theory.core.schedules import (
    PREDICTIONS,
    Schedule,
    as_schedule,
    convert_prediction,
    unit_coefficients,
)
from diffmem_theory.kernels import to_host

__all__ = [
    "Denoiser",
    "as_denoiser",
    "change_unit",
    "eps_from_denoiser",
    "gmm_denoiser",
    "iso_gmm_denoiser",
    "memorized_subset",
    "memorizing_denoiser",
    "model_output",
    "nominal_denoiser",
    "partial_memorizing_denoiser",
    "score_from_denoiser",
    "template_denoiser",
    "to_namespace",
]

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
    ``GaussianMixture(means, covs, weights).denoiser(x, t, schedule)``.

    Parameters
    ----------
    x : array_like, shape (B, d) or (d,)
        Noisy states ``x_t`` (a single ``(d,)`` query gives a ``(d,)`` result).
    t : float or array_like, shape (B,)
        Times in the domain of ``schedule`` (``sigma_t > 0``), one for all queries or one each.
    means : array_like, shape (M, d)
        Component means ``mu_i``.
    covs : array_like, shape (M, d, d)
        Symmetric positive semi-definite covariances (singular ones are fine: ``A_i`` is
        positive definite for ``sigma_t > 0``).
    schedule : Schedule or str
        The noise schedule ``X_t = alpha_t X_0 + sigma_t Z``.
    weights : array_like, shape (M,), optional
        Positive weights summing to 1 (default uniform ``1/M``, as in the paper).

    Returns
    -------
    ndarray, shaped like ``x``
        The x0-prediction ``E[X_0 | X_t = x]``.

    See Also
    --------
    diffmem_theory.core.distributions.GaussianMixture : The law, with the score, the
        log-density and every prediction unit.
    iso_gmm_denoiser : ``Sigma_i = s^2 I`` on the fused kernel.

    References
    ----------
    Buchanan et al. (paper 000), Lemma 2.1 / A.1, eq. (9).

    Examples
    --------
    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> means = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> covs = np.array([np.eye(2) * 0.5, np.diag([0.2, 1.0])])
    >>> out = gmm_denoiser(np.array([[0.3, -0.4]]), 0.5, means, covs, VPTrig())
    >>> print(np.round(out, 6))
    [[ 0.390901 -0.290756]]
    """
    return GaussianMixture(means, covs, weights).denoiser(x, t, schedule)


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

    With one variance per component, ``V_i`` differs per component, ``w_i`` gains
    ``-(d/2) log V_i`` and the coefficient ``alpha_t s_i^2 / V_i`` on ``x`` is averaged with the
    same softmax weights. ``var = 0`` gives the memorizing denoiser eq. (7).
    ``IsotropicGaussianMixture(means, var, weights).denoiser(x, t, schedule)``.

    Parameters
    ----------
    x : array_like, shape (B, d) or (d,)
        Noisy states ``x_t`` (a single ``(d,)`` query gives a ``(d,)`` result).
    t : float or array_like, shape (B,)
        Times in the domain of ``schedule`` (``sigma_t > 0``), one for all queries or one each.
    means : array_like, shape (M, d)
        Component means ``mu_i``.
    var : float or array_like, shape (M,)
        The variance ``s^2 >= 0`` of the paper (a variance, not a standard deviation), shared
        or one per component.
    schedule : Schedule or str
        The noise schedule.
    weights : array_like, shape (M,), optional
        Positive weights summing to 1 (default ``1/M``).
    backend : {"numba", "numpy", "cupy"}
        Backend of :func:`diffmem_theory.kernels.softmax_weighted_sum`.
    dtype : {None, float64, float32}
        The kernel's and the result's dtype (float64 by default).

    Returns
    -------
    ndarray, shaped like ``x``
        The x0-prediction.

    See Also
    --------
    diffmem_theory.core.distributions.IsotropicGaussianMixture : The law.
    gmm_denoiser : General covariances.
    memorizing_denoiser : ``var = 0`` with uniform weights.

    References
    ----------
    Buchanan et al. (paper 000), eqs. (11)-(12).

    Examples
    --------
    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> means = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> out = iso_gmm_denoiser(np.array([[0.3, -0.4]]), 0.5, means, 0.5, VPTrig())
    >>> print(np.round(out, 6))
    [[ 0.365164 -0.277128]]
    """
    law = IsotropicGaussianMixture(means, var, weights)
    return law.denoiser(x, t, schedule, backend=backend, dtype=dtype)


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

    (Lemma 2.1 with ``M = N``, ``Sigma_i = 0``, ``mu_i = x^i``). This is
    ``EmpiricalDistribution(X).denoiser(x, t, schedule)``; build the law once to evaluate many
    times, or for its score and log-density.

    Parameters
    ----------
    x : array_like, shape (B, d) or (d,)
        Noisy states ``x_t`` (a single ``(d,)`` query gives a ``(d,)`` result).
    t : float or array_like, shape (B,)
        Times in the domain of ``schedule`` (``sigma_t > 0``), one for all queries or one each.
    X : array_like, shape (N, d)
        The training points ``x^i``.
    schedule : Schedule or str
        The noise schedule.
    backend : {"numba", "numpy", "cupy"}
        Backend of the fused kernel.
    dtype : {None, float64, float32}
        The kernel's and the result's dtype (float64 by default).

    Returns
    -------
    ndarray, shaped like ``x``
        The x0-prediction.

    See Also
    --------
    diffmem_theory.core.distributions.EmpiricalDistribution : The law.
    partial_memorizing_denoiser : That of ``M`` of the points (eq. (10)).

    References
    ----------
    Buchanan et al. (paper 000), eqs. (6)-(7).

    Examples
    --------
    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> print(np.round(memorizing_denoiser(np.array([0.8, 0.1]), 0.5, X, VPTrig()), 6))
    [0.918704 0.081296]
    """
    return EmpiricalDistribution(X).denoiser(x, t, schedule, backend=backend, dtype=dtype)


def memorized_subset(
    N: int,
    M: int | None = None,
    idx: ArrayLike | None = None,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Indices of the training points memorized by the partially memorizing denoiser (eq. (10)).

    Buchanan et al. (paper 000), eq. (10) and footnote 2: the paper memorizes "the first M"
    samples, and any size-M subset chosen independently of the samples works (the authors' code
    draws a uniformly random one).

    Parameters
    ----------
    N : int
        The number of training points, ``N >= 1``.
    M : int, optional
        The number of memorized points, ``1 <= M <= N``: the first ``M`` indices, or a uniformly
        random ``M``-subset without replacement when ``rng`` is given.
    idx : array_like of int, optional
        Distinct indices in ``[0, N)`` (instead of ``M``; ``M``, if also given, must equal
        ``len(idx)``).
    rng : numpy.random.Generator or int, optional
        Draws the random subset (not allowed with ``idx``).

    Returns
    -------
    ndarray of intp, shape (M,)

    See Also
    --------
    partial_memorizing_denoiser : Uses it.

    References
    ----------
    Buchanan et al. (paper 000), eq. (10), footnote 2.

    Examples
    --------
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
    This is ``EmpiricalDistribution(X[S]).denoiser(x, t, schedule)``.

    Parameters
    ----------
    x : array_like, shape (B, d) or (d,)
        Noisy states ``x_t`` (a single ``(d,)`` query gives a ``(d,)`` result).
    t : float or array_like, shape (B,)
        Times in the domain of ``schedule`` (``sigma_t > 0``), one for all queries or one each.
    X : array_like, shape (N, d)
        The training points.
    M, idx, rng
        The memorized subset ``S``, as in :func:`memorized_subset`.
    schedule : Schedule or str
        The noise schedule (keyword-only).
    backend : {"numba", "numpy", "cupy"}
        Backend of the fused kernel.
    dtype : {None, float64, float32}
        The kernel's and the result's dtype (float64 by default).

    Returns
    -------
    ndarray, shaped like ``x``
        The x0-prediction.

    See Also
    --------
    memorizing_denoiser : ``M = N``.
    memorized_subset : The subset ``S``.

    References
    ----------
    Buchanan et al. (paper 000), eq. (10).

    Examples
    --------
    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    >>> out = partial_memorizing_denoiser(np.array([-0.8, 0.1]), 0.5, X, M=2, schedule=VPTrig())
    >>> print(np.round(out, 6))
    [0.042383 0.957617]
    """
    data = as_points(X, "X")
    law = EmpiricalDistribution(data[memorized_subset(data.shape[0], M, idx, rng)])
    return law.denoiser(x, t, schedule, backend=backend, dtype=dtype)


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
    ``E|xbar_nom - x^i|^2 = d s^2 / (psi_t s^2 + 1)`` (proof of Thm F.1). Fully vectorized
    over ``t``; ``IsotropicGaussianMixture(means, var).component_denoiser(x, t, schedule, labels)``.

    Parameters
    ----------
    x : array_like, shape (B, d) or (d,)
        Noisy states ``x_t`` (a single ``(d,)`` query gives a ``(d,)`` result).
    t : float or array_like, shape (B,)
        Times in the domain of ``schedule`` (``sigma_t > 0``), one for all queries or one each.
    means : array_like, shape (K, d)
        Cluster means ``mu_k``.
    var : float or array_like, shape (K,)
        The variance ``s^2 >= 0``, shared or one per cluster.
    labels : array_like of int, shape (B,) (a scalar for a single query)
        The cluster of each query, in ``[0, K)``.
    schedule : Schedule or str
        The noise schedule.

    Returns
    -------
    ndarray, shaped like ``x``
        The x0-prediction.

    See Also
    --------
    diffmem_theory.core.distributions.IsotropicGaussianMixture.component_denoiser : The method.
    iso_gmm_denoiser : The posterior mean without the label (the generalizing denoiser).

    References
    ----------
    Buchanan et al. (paper 000), Lemma E.4 and the proof of Thm F.1.

    Examples
    --------
    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> means = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> out = nominal_denoiser(np.array([[0.3, -0.4]]), 0.5, means, 1.0, [1], VPTrig())
    >>> print(np.round(out, 6))
    [[ 0.009808 -0.34641 ]]
    """
    return IsotropicGaussianMixture(means, var).component_denoiser(x, t, schedule, labels)


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
        log det(alpha^2 Sigma_i + sigma^2 I)
            = c (2p log sigma + log(1 + alpha^2 s^2 |x_i|^2 / sigma^2))
            = c ((p - 1) log sigma^2 + log D_i),

    and the component posterior mean ``A_i (sigma^2 u_i + alpha s^2 A_i^T x) / D_i`` (no
    ``1/alpha``). Cost ``O(B K c p)``. Note the factor ``c`` on the second log-det term: it is
    in the paper (H.4) but the authors' code drops it, which changes the softmax weights when
    template norms differ; this function follows the paper. This is
    ``TemplateMixture(templates, color_means, color_var, weights).denoiser(x, t, schedule)``.

    Parameters
    ----------
    x : array_like, shape (B, c*h*w) or (c*h*w,)
        Noisy images in channel-major order (reshape to ``(B, c, h, w)`` for images).
    t : float or array_like, shape (B,)
        Times in the domain of ``schedule`` (``sigma_t > 0``).
    templates : array_like, shape (K, h, w) or (K, p)
        Nonzero templates ``x_i``.
    color_means : array_like, shape (K, c)
        Mean colors ``u_i``.
    color_var : float
        The shared color variance ``s^2 >= 0``.
    schedule : Schedule or str
        The noise schedule.
    weights : array_like, shape (K,), optional
        Positive weights summing to 1 (default ``1/K``).

    Returns
    -------
    ndarray, shaped like ``x``
        The x0-prediction.

    See Also
    --------
    diffmem_theory.core.distributions.TemplateMixture : The law.
    gmm_denoiser : The dense equivalent (``TemplateMixture.to_gaussian_mixture``).

    References
    ----------
    Buchanan et al. (paper 000), Sec. 4.2 and App. H.4.

    Examples
    --------
    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> templates = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 1.0]]])
    >>> x = np.arange(8.0) / 8
    >>> out = template_denoiser(x, 0.5, templates, np.zeros((2, 2)), 1.0, VPTrig())
    >>> print(np.round(out, 4))
    [0.0405 0.2032 0.2032 0.2436 0.1484 0.6095 0.6095 0.7578]
    """
    return TemplateMixture(templates, color_means, color_var, weights).denoiser(x, t, schedule)


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
    target ``"score"``). The subtraction ``alpha_t xbar - x`` cancels digits at small ``t``:
    a law's own score (``score_t``, or ``denoiser(..., prediction="score")``) is exact there.

    Parameters
    ----------
    x : array_like, shape (B, d) or (d,)
        Noisy states ``x_t``.
    t : float or array_like, shape (B,)
        Times in the domain of ``schedule``.
    x0_hat : array_like, shaped like ``x``
        The x0-prediction ``xbar(x, t)``.
    schedule : Schedule or str
        The noise schedule.

    Returns
    -------
    ndarray, shaped like ``x``
        The score.

    See Also
    --------
    eps_from_denoiser : The same identity in noise units.
    diffmem_theory.core.distributions.EmpiricalDistribution.score_t : A law's direct score.

    References
    ----------
    Buchanan et al. (paper 000), eq. (4).

    Examples
    --------
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

    Parameters
    ----------
    x : array_like, shape (B, d) or (d,)
        Noisy states ``x_t``.
    t : float or array_like, shape (B,)
        Times in the domain of ``schedule``.
    x0_hat : array_like, shaped like ``x``
        The x0-prediction ``xbar(x, t)``.
    schedule : Schedule or str
        The noise schedule.

    Returns
    -------
    ndarray, shaped like ``x``
        The noise prediction.

    See Also
    --------
    score_from_denoiser : The same identity in score units.
    as_denoiser : A model in any unit.

    References
    ----------
    Buchanan et al. (paper 000), eq. (4) and Sec. 2.

    Examples
    --------
    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> x, x0_hat = np.array([1.0, 2.0]), np.array([0.5, 1.0])
    >>> print(np.round(eps_from_denoiser(x, 0.5, x0_hat, VPTrig()), 6))
    [1.133975 2.267949]
    """
    xq, pred = _checked_prediction(x, x0_hat)
    return convert_prediction(pred, xq, t, schedule, source="x0", target="eps")


# ----------------------------------------------------------------------------------------------
# models of any array library: outputs, namespaces, units
# ----------------------------------------------------------------------------------------------


def _namespace(value: Any) -> Any:
    """The array-API namespace of ``value``, or None when it is not an array of one."""
    try:
        return array_namespace(value)
    except TypeError:
        return None


def to_namespace(a: Any, like: Any) -> Any:
    r"""The array ``a`` in the namespace and on the device of the array ``like``.

    ``a`` is returned as is when it already lives there; otherwise it crosses by DLPack
    (``xp.from_dlpack``), which shares the memory when both arrays are on the same device
    (NumPy, JAX on the CPU, PyTorch on the CPU and ``array_api_strict`` all share host memory).
    Only between devices (a CUDA tensor into NumPy, ...) is a copy unavoidable: the array is
    then moved to the host (``to_device(a, "cpu")``, or JAX's own transfer) and from there to
    the device of ``like``.

    Parameters
    ----------
    a : array
        An array of any array-API library (NumPy, CuPy, JAX, PyTorch, ``array_api_strict``).
    like : array or None
        The array whose namespace and device are wanted; ``None`` or a non-array (a list, a
        float) means NumPy on the host.

    Returns
    -------
    array
        ``a`` in the namespace of ``like`` (a read-only NumPy view of a JAX array, for one).

    Raises
    ------
    TypeError
        If ``a`` is not an array of an array-API library.

    See Also
    --------
    model_output : The check of a model's output that uses it.

    Examples
    --------
    >>> import numpy as np
    >>> import array_api_strict as xps
    >>> out = to_namespace(xps.asarray([1.0, 2.0]), np.zeros(2))
    >>> type(out).__name__, out.tolist()
    ('ndarray', [1.0, 2.0])
    """
    if isinstance(a, np.ndarray) and isinstance(like, np.ndarray):
        return a
    source = _namespace(a)
    if source is None:
        raise TypeError(
            f"expected an array of an array-API library (NumPy, CuPy, JAX, PyTorch, ...), got "
            f"{type(a).__name__} {a!r:.80}"
        )
    target = _namespace(like) or array_namespace(np.empty(0))
    if source is target:
        return a
    try:
        return target.from_dlpack(a)
    except (BufferError, RuntimeError, TypeError, ValueError):
        # different devices: the one unavoidable copy, through the host
        host = to_host(a)
        if target is array_namespace(host):
            return host
        return target.asarray(host, device=device(like))


def model_output(out: Any, x: Any, name: str = "the model's prediction") -> Any:
    r"""A model's output checked and brought to the namespace and device of its input ``x``.

    A model ``f(x, t)`` of any framework may return an array of any array-API library; the
    package computes with it in the namespace of the state ``x`` it passed in. The output must
    be an array shaped like ``x``; it is moved with :func:`to_namespace` (no copy when it is
    already there or on the same device).

    Parameters
    ----------
    out : array
        What the model returned.
    x : array
        The states the model was called with (any array-API library; a non-array means NumPy).
    name : str
        How error messages name ``out``.

    Returns
    -------
    array, shaped like ``x``
        ``out`` in the namespace of ``x``, with its own dtype.

    Raises
    ------
    TypeError
        If ``out`` is not an array of an array-API library.
    ValueError
        If ``out`` is not shaped like ``x``.

    See Also
    --------
    to_namespace : The transfer.
    Denoiser.predict : Uses it on every call of a callable model.

    Examples
    --------
    >>> import numpy as np
    >>> import array_api_strict as xps
    >>> model_output(xps.ones((2, 3)), np.zeros((2, 3))).shape
    (2, 3)
    >>> model_output([[1.0, 2.0, 3.0]], np.zeros((1, 3)))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: the model must return an array shaped like x, of an array-API library ...
    """
    shape = getattr(out, "shape", None)
    if shape is None or (not isinstance(out, np.ndarray) and _namespace(out) is None):
        raise TypeError(
            f"the model must return an array shaped like x, of an array-API library (NumPy, "
            f"CuPy, JAX, PyTorch, ...), for {name}; got {type(out).__name__} {out!r:.80}"
        )
    want = tuple(getattr(x, "shape", None) or np.shape(x))
    if tuple(shape) != want:
        raise ValueError(
            f"{name} has shape {tuple(shape)} but x has shape {want}; a denoiser must return "
            f"one prediction per state"
        )
    return to_namespace(out, x)


def change_unit(
    pred: Any, x: Any, t: ArrayLike, schedule: Schedule, source: str, target: str
) -> Any:
    r"""Change the unit of a prediction, in the namespace of the prediction (any array library).

    With ``x = alpha_t x0 + sigma_t eps`` every unit is affine in the x0-prediction,
    ``p_u = a_u x + b_u x0`` (:func:`~diffmem_theory.core.schedules.unit_coefficients`), so

        x0 = (p_source - a_source x) / b_source,    p_target = a_target x + b_target x0,

    the arithmetic of :func:`~diffmem_theory.core.schedules.convert_prediction` (bit for bit on
    NumPy float64), done with the operators of the arrays' own namespace: a CuPy, JAX or PyTorch
    prediction is converted where it lives. The coefficients are computed on the host in
    float64; a scalar ``t`` enters as Python floats (weak scalars: a float32 array stays
    float32), one time per row as an array of the result dtype of ``pred`` and ``x`` on the
    prediction's device.
    The x0 steps are skipped when ``source`` or ``target`` is ``"x0"``. NaN/inf propagate (the
    callers check).

    Parameters
    ----------
    pred : array, shape (B, d) or (d,)
        The prediction in unit ``source``.
    x : array, shaped like ``pred``
        The states, in the namespace of ``pred``.
    t : float or array_like, shape (B,)
        Times in the domain of ``schedule``, one for all rows or one per row.
    schedule : Schedule
        The noise schedule.
    source, target : str
        Units of :data:`~diffmem_theory.core.schedules.PREDICTIONS`.

    Returns
    -------
    array, shaped like ``pred``
        The prediction in unit ``target``.

    Raises
    ------
    ValueError
        An unknown unit, times outside the domain, or one time per row that does not match
        the rows of ``x``.

    See Also
    --------
    diffmem_theory.core.schedules.convert_prediction : The NumPy conversion with validation.
    diffmem_theory.core.schedules.unit_coefficients : The affine coefficients.

    References
    ----------
    Buchanan et al. (paper 000), eq. (4) (Tweedie's identity).

    Examples
    --------
    >>> import numpy as np
    >>> import array_api_strict as xps
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> x, x0 = xps.asarray([[1.0, 2.0]]), xps.asarray([[0.5, 1.0]])
    >>> eps = change_unit(x0, x, 0.5, VPTrig(), "x0", "eps")
    >>> print(np.round(np.from_dlpack(eps), 6))
    [[1.133975 2.267949]]
    """
    x0 = pred  # unit_coefficients checks the units that are not "x0"
    if source != "x0":
        a_src, b_src = _coefficients(unit_coefficients(source, t, schedule), pred, x)
        x0 = (pred - a_src * x) / b_src
    if target == "x0":
        return x0
    a_tgt, b_tgt = _coefficients(unit_coefficients(target, t, schedule), pred, x)
    return a_tgt * x + b_tgt * x0


def _coefficients(ab: tuple[np.ndarray, np.ndarray], pred: Any, x: Any) -> list[Any]:
    """Affine coefficients as Python floats (scalar t) or (B, 1) arrays beside ``pred``."""
    a, b = ab
    if a.ndim == 0:
        return [float(a), float(b)]
    rows = tuple(pred.shape[:-1])
    if a.shape != rows:
        raise ValueError(
            f"t has shape {a.shape}, which does not match the rows of x {rows}: give one time "
            f"for all rows or one per row"
        )
    xp = array_namespace(pred)
    dtype = xp.result_type(pred, x)
    return [xp.asarray(c[:, None], dtype=dtype, device=device(pred)) for c in (a, b)]


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
    :data:`diffmem_theory.core.schedules.PREDICTIONS`. :func:`as_denoiser` builds it (and passes
    a :class:`Denoiser` through); the arguments are validated as documented there.

    Parameters
    ----------
    model : callable or distribution
        As in :func:`as_denoiser`.
    schedule : Schedule or str, optional
        As in :func:`as_denoiser`.
    prediction : str, default "x0"
        As in :func:`as_denoiser`.

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

    Examples
    --------
    >>> import numpy as np
    >>> from diffmem_theory.core.distributions import EmpiricalDistribution
    >>> den = Denoiser(EmpiricalDistribution(np.eye(2)), "VPTrig")
    >>> den.prediction, den.schedule.name
    ('x0', 'VPTrig')
    >>> print(np.round(den.predict(np.array([0.8, 0.1]), 0.5, "eps"), 6))
    [0.008757 0.059192]
    """

    __slots__ = ("_law", "model", "prediction", "schedule")

    def __init__(
        self, model: Any, schedule: Schedule | str | None = None, *, prediction: str = "x0"
    ) -> None:
        check_choice(prediction, "prediction", PREDICTIONS)
        object.__setattr__(self, "_law", _is_distribution(model))
        if self._law:
            schedule = as_schedule(schedule, required=True)
        else:
            check_callable(
                model,
                "model",
                "a callable model(x, t) or a law with a denoiser(x, t, schedule, prediction=...) "
                "method",
            )
            if schedule is None and prediction != "x0":
                raise TypeError(
                    f"schedule is required for a model in {prediction!r} units (converting it to "
                    f"x0 needs alpha_t and sigma_t), got None"
                )
            schedule = None if schedule is None else as_schedule(schedule)
        for name, value in (("model", model), ("schedule", schedule), ("prediction", prediction)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}: a Denoiser is immutable")

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
            small ``t``). A callable's output, an array of any array-API library, is brought to
            the namespace and device of ``x`` (:func:`model_output`: as is when it is already
            there, else by DLPack, without a copy on the same device) and converted by
            :func:`change_unit` in that namespace only when ``unit`` differs from its own
            unit, and returned as is otherwise.

        Raises
        ------
        ValueError
            For an unknown ``unit``, a model output that is not shaped like ``x``, or a
            converted prediction that is not finite.
        TypeError
            For a model output that is not an array of an array-API library.

        Examples
        --------
        >>> import numpy as np
        >>> den = as_denoiser(lambda x, t: 0.5 * x, "VPTrig")     # an x0 model
        >>> print(np.round(den.predict(np.ones(2), 0.6, "score"), 6))   # (0.8 * 0.5 - 1) / 0.36
        [-1.666667 -1.666667]
        """
        check_choice(unit, "unit", PREDICTIONS)
        if self._law:
            return self.model.denoiser(x, t, self.schedule, prediction=unit)
        out = model_output(self.model(x, t), x, f"the model's {self.prediction}-prediction")
        if unit == self.prediction:
            return out
        assert self.schedule is not None  # as_denoiser requires it for a non-x0 model
        xp = array_namespace(out)
        state = to_namespace(xp.asarray(x) if _namespace(x) is None else x, out)
        # a float32 state with a float64 prediction is converted in float64
        state = xp.astype(state, xp.result_type(out, state), copy=False)
        out = change_unit(out, state, t, self.schedule, self.prediction, unit)
        if not bool(xp.all(xp.isfinite(out))):
            raise ValueError(
                f"the {unit}-prediction (from {self.prediction}) is not finite at these inputs "
                f"(the model returned NaN/inf, or the conversion overflows)"
            )
        return out


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
        network, :func:`memorizing_denoiser` with its data bound, ...; an array of any
        array-API library: NumPy, CuPy, JAX, PyTorch, ..., see :func:`model_output`), or a law
        with a method ``denoiser(x, t, schedule, *, prediction)``
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
        return Denoiser(model.model, schedule, prediction=model.prediction)
    return Denoiser(model, schedule, prediction=prediction)
