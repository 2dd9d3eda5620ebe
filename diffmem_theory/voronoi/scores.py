"""Empirical, regularized and conditional scores of Baptista et al. (paper 002).

Baptista, Dasgupta, Kovachki, Oberai, Stuart, "Memorization and Regularization in Generative
Diffusion Models", Secs. 3, 5 and 6. For training points ``X0`` (rows x_0^n, shape ``(N, d)``)
and a schedule with signal scale m(t) (``schedule.alpha``) and noise scale sigma(t)
(``schedule.sigma``), the empirical density (3.4)-(3.5) is the Gaussian mixture

    p^N(x, t) = (1/N) sum_n N(x; m(t) x_0^n, sigma^2(t) I),

and every score here is built from its softmax weights (3.9)

    w_n(x, t) = softmax_n(-|x - m(t) x_0^n|^2 / (2 sigma^2(t))),   x_N(x, t) = sum_n w_n x_0^n,

evaluated by the fused log-sum-exp kernel
:func:`diffmem_theory.kernels.softmax_weighted_sum` (``scale = m(t)``, ``var = sigma^2(t)``).

* :func:`log_empirical_density` -- log p^N (3.5);
* :func:`empirical_score` -- s^N (3.8)/(3.9), VE and VP;
* :func:`tikhonov_score` -- the Tikhonov-regularized score (5.7), Gamma = (c/sigma^2) I;
* :func:`tikhonov_score_gamma` -- its general form (5.6) for an SPD Gamma, constant or Gamma(t);
* :func:`eb_score` -- the empirical-Bayes score (5.11) (``normalized=True``) or (5.12);
* :func:`conditional_empirical_score` -- the conditional score of Thm 6.4, corrected
  (``printed=True``: the formula as printed);
* :func:`gaussian_score` -- the true score of p_0 = N(mu, C), Remark 3.7 with the factor m^2
  of the VP process (``printed=True``: without it).

Conventions follow :mod:`diffmem_theory.core.denoisers`: ``x`` is ``(B, d)`` or ``(d,)``, ``t`` is
a scalar or ``(B,)``, results are float64 and shaped like ``x``. The errata of Thm 6.4 and
Remark 3.7 are catalogued, with their counterexamples, in :mod:`diffmem_theory.voronoi.errata`.

Example
-------
>>> import numpy as np
>>> from diffmem_theory.core.schedules import VE
>>> X0 = np.array([[1.0, 0.0], [-1.0, 0.0]])
>>> print(np.round(empirical_score(np.array([0.5, 0.5]), 0.5, X0, VE.linear2t()), 6))
[ 1.85611 -2.     ]
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from diffmem_theory._validation import (
    as_covariances,
    as_float_array,
    as_points,
    as_queries,
    check_bool,
    check_last_dim,
    check_scalar,
    unbatch,
)
from diffmem_theory.core.distributions import EmpiricalDistribution, map_over_times
from diffmem_theory.core.schedules import Schedule, as_schedule
from diffmem_theory.kernels import softmax_weighted_sum

__all__ = [
    "conditional_empirical_score",
    "eb_score",
    "empirical_score",
    "gaussian_score",
    "log_empirical_density",
    "tikhonov_score",
    "tikhonov_score_gamma",
]

_LOG_2PI = math.log(2.0 * math.pi)


def _mixture_terms(
    alpha: float, sigma: float, x: np.ndarray, X0: np.ndarray, backend: str
) -> tuple[np.ndarray, ...]:
    """At one time: (x_N, log sum_n w~_n, m, sigma^2) for the rows of ``x``."""
    s2 = sigma * sigma
    x_n, lse = softmax_weighted_sum(
        x, X0, scale=alpha, var=s2, return_logsumexp=True, backend=backend
    )
    b = x.shape[0]
    return (
        np.asarray(x_n, dtype=np.float64),
        np.asarray(lse, dtype=np.float64),
        np.full(b, alpha),
        np.full(b, s2),
    )


def _mixture(
    x: ArrayLike, t: ArrayLike, X0: ArrayLike, schedule: Schedule, backend: str
) -> tuple[np.ndarray, bool, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validated queries and, per query, x_N (4.16), lse = log sum_n w~_n, m(t), sigma^2(t)."""
    xq, single = as_queries(x)
    data = as_points(X0, "X0", xq.shape[1])
    x_n, lse, m, s2 = map_over_times(xq, t, schedule, _mixture_terms, X0=data, backend=backend)
    return xq, single, x_n, lse, m[:, None], s2[:, None]


def _law(x: ArrayLike, X0: ArrayLike) -> EmpiricalDistribution:
    """The empirical distribution of ``X0``, validated (as ``X0``) against the queries ``x``."""
    xq, _ = as_queries(x)
    return EmpiricalDistribution(as_points(X0, "X0", xq.shape[1]))


def log_empirical_density(
    x: ArrayLike, t: ArrayLike, X0: ArrayLike, schedule: Schedule, *, backend: str = "numba"
) -> np.ndarray:
    r"""Log of the empirical density p^N(x, t), eqs. (3.4)-(3.5).

    .. math::

        \log p^N(x, t) = \log \sum_n e^{-|x - m x_0^n|^2 / (2 \sigma^2)} - \log N
                         - \tfrac{d}{2} \log(2 \pi \sigma^2),

    in log-sum-exp form, so it stays finite where every Gaussian underflows. It is
    ``EmpiricalDistribution(X0).log_prob_t(x, t, schedule)``
    (:class:`diffmem_theory.core.distributions.EmpiricalDistribution`), under paper 002's name.

    Parameters
    ----------
    x : array_like, shape (B, d) or (d,)
        Query points.
    t : float or array_like, shape (B,)
        Time(s) in the schedule's range, one for all queries or one per query.
    X0 : array_like, shape (N, d)
        Training points x_0^n.
    schedule : Schedule
        Noise schedule: m(t) = ``schedule.alpha(t)``, sigma(t) = ``schedule.sigma(t)``.
    backend : {"numba", "numpy", ...}, optional
        Backend of :func:`diffmem_theory.kernels.softmax_weighted_sum`.

    Returns
    -------
    ndarray, shape (B,), or float
        log p^N at each query (a float for a single ``(d,)`` query).

    See Also
    --------
    empirical_score : its gradient, s^N (3.8).
    diffmem_theory.core.distributions.EmpiricalDistribution : the same law as an object.

    References
    ----------
    Baptista, Dasgupta, Kovachki, Oberai, Stuart, "Memorization and Regularization in
    Generative Diffusion Models", Sec. 3.1, eqs. (3.4)-(3.5).

    Examples
    --------
    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VE
    >>> X0 = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> round(float(log_empirical_density(np.array([0.5, 0.5]), 0.5, X0, VE.linear2t())), 6)
    -2.12658
    """
    return _law(x, X0).log_prob_t(x, t, schedule, backend=backend)


def _symmetric_matrix(value: ArrayLike, name: str, d: int, *, definite: bool) -> np.ndarray:
    """A symmetric positive semi-definite (``definite``: definite) ``(d, d)`` matrix.

    The symmetry and semi-definiteness tests are the covariance checks of
    :mod:`diffmem_theory.core.denoisers` (one component).
    """
    mat = as_float_array(value, name, ndim=2, dtype=np.float64)
    if mat.shape != (d, d):
        raise ValueError(f"{name} must have shape ({d}, {d}), got shape {mat.shape}")
    mat = as_covariances(mat[None], 1, d, name)[0]
    if definite and float(np.linalg.eigvalsh(mat).min()) <= 0.0:
        raise ValueError(f"{name} must be positive definite")
    return mat


def empirical_score(
    x: ArrayLike, t: ArrayLike, X0: ArrayLike, schedule: Schedule, *, backend: str = "numba"
) -> np.ndarray:
    r"""The empirical score s^N = grad log p^N, Thm 3.2, eqs. (3.8)/(3.9).

    .. math::

        s^N(x, t) = -\frac{x - m(t) \sum_n w_n x_0^n}{\sigma^2(t)},\qquad
        w_n = \operatorname{softmax}_n\bigl(-|x - m x_0^n|^2 / (2 \sigma^2)\bigr).

    VE (m = 1, (4.15)-(4.18)) and VP (m = exp(-B/2), Ex. 3.5) alike. It is
    ``EmpiricalDistribution(X0).score_t(x, t, schedule)``
    (:class:`diffmem_theory.core.distributions.EmpiricalDistribution`), under paper 002's name,
    and equals Tweedie's identity applied to the memorizing denoiser (the minimizer of the
    empirical denoising loss), which the check ``paper002.thm3_2_tweedie`` verifies.

    Parameters
    ----------
    x : array_like, shape (B, d) or (d,)
        Query points.
    t : float or array_like, shape (B,)
        Time(s) in the schedule's range, one for all queries or one per query.
    X0 : array_like, shape (N, d)
        Training points x_0^n.
    schedule : Schedule
        Noise schedule: m(t) = ``schedule.alpha(t)``, sigma(t) = ``schedule.sigma(t)``.
    backend : {"numba", "numpy", ...}, optional
        Backend of :func:`diffmem_theory.kernels.softmax_weighted_sum`.

    Returns
    -------
    ndarray, shape like ``x``
        s^N(x, t).

    See Also
    --------
    log_empirical_density : log p^N, whose gradient this is.
    tikhonov_score, eb_score : the regularized scores of Sec. 5.
    diffmem_theory.core.distributions.EmpiricalDistribution : the same law as an object.

    References
    ----------
    Baptista et al., Thm 3.2, eqs. (3.8)-(3.9); Sec. 4 (VE) and App. C (VP).

    Examples
    --------
    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPLinear
    >>> X0 = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> print(np.round(empirical_score(np.array([0.5, 0.5]), 0.5, X0, VPLinear(0.001, 3)), 6))
    [ 0.700773 -1.597605]
    """
    return _law(x, X0).score_t(x, t, schedule, backend=backend)


def tikhonov_score(
    x: ArrayLike,
    t: ArrayLike,
    X0: ArrayLike,
    schedule: Schedule,
    c: float,
    *,
    backend: str = "numba",
) -> np.ndarray:
    r"""Tikhonov-regularized empirical score with Gamma(t) = (c / sigma^2(t)) I, eq. (5.7).

    .. math::

        s^N_{reg}(x, t) = -\frac{x - m(t) \sum_n w_n x_0^n}{c + \sigma^2(t)}
                        = s^N(x, t)\, \frac{\sigma^2}{\sigma^2 + c},

    bounded as t -> 0 for c > 0 (by (|x| + m |x|_inf) / c); ``c = 0`` gives
    :func:`empirical_score`.

    Parameters
    ----------
    x : array_like, shape (B, d) or (d,)
        Query points.
    t : float or array_like, shape (B,)
        Time(s), one for all queries or one per query.
    X0 : array_like, shape (N, d)
        Training points.
    schedule : Schedule
        Noise schedule.
    c : float
        Regularization strength, ``c >= 0``.
    backend : {"numba", "numpy", ...}, optional
        Backend of :func:`diffmem_theory.kernels.softmax_weighted_sum`.

    Returns
    -------
    ndarray, shape like ``x``
        The regularized score.

    See Also
    --------
    tikhonov_score_gamma : the general form (5.6) for any SPD Gamma(t).
    empirical_score : the unregularized score (``c = 0``).
    diffmem_theory.voronoi.regularized.regularized_samples : samples of its probability flow.

    References
    ----------
    Baptista et al., Sec. 5.1, eqs. (5.6)-(5.8), Thm 5.1.

    Examples
    --------
    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VE
    >>> X0 = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> print(np.round(tikhonov_score(np.array([0.5, 0.5]), 0.5, X0, VE.linear2t(), 0.25), 6))
    [ 0.928055 -1.      ]
    """
    cc = check_scalar(c, "c", low=0.0)
    if cc == 0.0:
        return empirical_score(x, t, X0, schedule, backend=backend)
    xq, single, x_n, _, m, s2 = _mixture(x, t, X0, schedule, backend)
    return unbatch(-(xq - m * x_n) / (s2 + cc), single)


def tikhonov_score_gamma(
    x: ArrayLike,
    t: ArrayLike,
    X0: ArrayLike,
    schedule: Schedule,
    gamma: ArrayLike | Callable[[float], ArrayLike],
    *,
    backend: str = "numba",
) -> np.ndarray:
    r"""Tikhonov-regularized empirical score for a general SPD Gamma(t), eq. (5.6).

    .. math::

        s^N_{reg}(x, t) = -\bigl((I + \Gamma(t)) \sigma^2(t)\bigr)^{-1}
                           \Bigl(x - m(t) \sum_n w_n x_0^n\Bigr)
                        = (I + \Gamma(t))^{-1} s^N(x, t),

    the minimizer (5.3) of the regularized loss (5.1) for p = p^N.

    Parameters
    ----------
    x : array_like, shape (B, d) or (d,)
        Query points.
    t : float or array_like, shape (B,)
        Time(s), one for all queries or one per query.
    X0 : array_like, shape (N, d)
        Training points.
    schedule : Schedule
        Noise schedule.
    gamma : array_like, shape (d, d), or callable
        A symmetric positive-definite matrix, or ``gamma(t) -> (d, d)`` for a time-dependent
        Gamma(t) (evaluated once per distinct time; Thm 5.1 asks for Gamma uniformly SPD).
    backend : {"numba", "numpy", ...}, optional
        Backend of :func:`diffmem_theory.kernels.softmax_weighted_sum`.

    Returns
    -------
    ndarray, shape like ``x``
        The regularized score.

    See Also
    --------
    tikhonov_score : the special case Gamma = (c / sigma^2) I, eq. (5.7).
    diffmem_theory.voronoi.bounds.tikhonov_excess : the completed square (5.4) behind Thm 5.1.

    References
    ----------
    Baptista et al., Sec. 5.1, eqs. (5.1)-(5.6), Thm 5.1.

    Examples
    --------
    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VE
    >>> X0, x, sched = np.array([[1.0, 0.0], [-1.0, 0.0]]), np.array([0.5, 0.5]), VE.linear2t()
    >>> print(np.round(tikhonov_score_gamma(x, 0.5, X0, sched, np.diag([1.0, 3.0])), 6))
    [ 0.928055 -0.5     ]
    >>> gam = lambda t: (0.25 / float(sched.sigma2(t))) * np.eye(2)     # (5.7) with c = 0.25
    >>> bool(np.allclose(tikhonov_score_gamma(x, 0.5, X0, sched, gam),
    ...                  tikhonov_score(x, 0.5, X0, sched, 0.25)))
    True
    """
    xq, single = as_queries(x)
    d = xq.shape[1]
    score = empirical_score(xq, t, X0, schedule, backend=backend)
    if not callable(gamma):
        gm = _symmetric_matrix(gamma, "gamma", d, definite=True)
        return unbatch(np.linalg.solve(np.eye(d) + gm, score.T).T, single)
    times = np.broadcast_to(np.asarray(t, dtype=np.float64), (xq.shape[0],))
    out = np.empty_like(score)
    for tu in np.unique(times):
        rows = times == tu
        gm = _symmetric_matrix(gamma(float(tu)), "gamma(t)", d, definite=True)
        out[rows] = np.linalg.solve(np.eye(d) + gm, score[rows].T).T
    return unbatch(out, single)


def eb_score(
    x: ArrayLike,
    t: ArrayLike,
    X0: ArrayLike,
    schedule: Schedule,
    c: float,
    *,
    normalized: bool = False,
    backend: str = "numba",
) -> np.ndarray:
    r"""Empirical-Bayes score, eq. (5.11) (``normalized=True``) or eq. (5.12) (default).

    (5.11) thresholds the normalized density p^N of (3.5):
    s_eb = grad p^N / max(p^N, c) = s^N min(1, p^N / c). (5.12), and the authors' code for
    Figs. 6-7, threshold the unnormalized sum S = sum_n w~_n,
    w~_n = exp(-|x - m x_0^n|^2 / (2 sigma^2)):

    .. math::

        s_{eb} = -\frac{1}{\sigma^2} \frac{\sum_n (x - m x_0^n) \tilde w_n}{\max(S, c)}
               = s^N \min(1, S / c).

    As p^N = S / (N (2 pi sigma^2)^{d/2}), the two thresholds correspond by
    c_(5.12) = c_(5.11) N (2 pi sigma^2(t))^{d/2}, a time-dependent map (the paper presents
    (5.12) as the discrete form of (5.11) without it). (5.12) is printed for VE (m = 1); m(t)
    is kept for VP. The factor min(1, .) is computed in log space.

    Parameters
    ----------
    x : array_like, shape (B, d) or (d,)
        Query points.
    t : float or array_like, shape (B,)
        Time(s), one for all queries or one per query.
    X0 : array_like, shape (N, d)
        Training points.
    schedule : Schedule
        Noise schedule.
    c : float
        Threshold, ``c >= 0``; ``c = 0`` gives :func:`empirical_score`.
    normalized : bool, optional
        Threshold the normalized density p^N, (5.11) (default: the unnormalized sum, (5.12)).
    backend : {"numba", "numpy", ...}, optional
        Backend of :func:`diffmem_theory.kernels.softmax_weighted_sum`.

    Returns
    -------
    ndarray, shape like ``x``
        The empirical-Bayes score.

    See Also
    --------
    empirical_score : the unthresholded score.
    log_empirical_density : log p^N, thresholded by (5.11).
    diffmem_theory.voronoi.regularized.regularized_samples : samples of its probability flow.

    References
    ----------
    Baptista et al., Sec. 5.2, eqs. (5.9)-(5.12).

    Examples
    --------
    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VE
    >>> X0 = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> x = np.array([0.5, 0.5])
    >>> print(np.round(eb_score(x, 0.5, X0, VE.linear2t(), 0.5), 6))
    [ 1.390662 -1.49847 ]
    """
    cc = check_scalar(c, "c", low=0.0)
    if not isinstance(normalized, (bool, np.bool_)):
        raise ValueError(f"normalized must be a bool, got {normalized!r}")
    if cc == 0.0:
        return empirical_score(x, t, X0, schedule, backend=backend)
    xq, single, x_n, lse, m, s2 = _mixture(x, t, X0, schedule, backend)
    score = -(xq - m * x_n) / s2
    log_mass = lse
    if normalized:
        n = np.asarray(X0).shape[0]
        log_mass = lse - math.log(n) - 0.5 * xq.shape[1] * (_LOG_2PI + np.log(s2[:, 0]))
    factor = np.exp(np.minimum(0.0, log_mass - math.log(cc)))
    return unbatch(score * factor[:, None], single)


def conditional_empirical_score(
    x: ArrayLike,
    t: ArrayLike,
    y: ArrayLike,
    X0: ArrayLike,
    Y: ArrayLike,
    schedule: Schedule,
    *,
    printed: bool = False,
    backend: str = "numba",
) -> np.ndarray:
    r"""Conditional empirical score at an observed y = y^j, Thm 6.4 (corrected by default).

    With I_j = {n : y^n = y^j} (Def. 6.2) and w~_n = exp(-|x - m x_0^n|^2 / (2 sigma^2)):

    .. math::

        s^N(x, y^j, t) = -\frac{1}{\sigma^2}
            \frac{\sum_{n \in I_j} (x - m x_0^n) \tilde w_n}{\sum_{l \in I_j} \tilde w_l},

    i.e. grad_x log p^N(x, t | y^j) = :func:`empirical_score` of the points ``X0[I_j]``. This
    is what the proof of Thm 6.4 yields when the conditional density p^N(x, t | y^j), a
    mixture over I_j only, is differentiated. The theorem as printed (``printed=True``) reads

    .. math::

        \frac{1}{|I_j|} \frac{1}{\sigma^2} \sum_{n \in I_j} (x - m x_0^n) w_n,
        \qquad w_n = \tilde w_n / \sum_{l=1}^{N} \tilde w_l,

    with no minus sign, a spurious 1/|I_j| and weights normalized over all N points; it is
    not a gradient of log p^N(x, t | y^j) (erratum ``paper002.thm_6_4``).

    Parameters
    ----------
    x : array_like, shape (B, d) or (d,)
        Query points.
    t : float or array_like, shape (B,)
        Time(s), one for all queries or one per query.
    y : float or array_like, shape (k,)
        One observation, matched exactly against the rows of ``Y``.
    X0 : array_like, shape (N, d)
        Training points.
    Y : array_like, shape (N,) or (N, k)
        One observation per training point.
    schedule : Schedule
        Noise schedule.
    printed : bool, optional
        Return the formula as printed in Thm 6.4 instead of the correct score.
    backend : {"numba", "numpy", ...}, optional
        Backend of :func:`diffmem_theory.kernels.softmax_weighted_sum`.

    Returns
    -------
    ndarray, shape like ``x``
        The conditional score (or the printed formula).

    Raises
    ------
    ValueError
        For ``y`` outside {y^n}, where the score is undefined (Def. 6.2).

    See Also
    --------
    empirical_score : the unconditional score (one observation for all points).

    References
    ----------
    Baptista et al., Sec. 6, Def. 6.2, Prop. 6.3, Thm 6.4.

    Examples
    --------
    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VE
    >>> X0 = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0]])
    >>> Y = np.array([0.0, 1.0, 0.0])
    >>> s = conditional_empirical_score(np.array([0.5, 0.5]), 0.5, 1.0, X0, Y, VE.linear2t())
    >>> print(np.round(s, 6))
    [-6. -2.]
    >>> p = conditional_empirical_score([0.5, 0.5], 0.5, 1.0, X0, Y, VE.linear2t(), printed=True)
    >>> print(np.round(p, 6))
    [0.106011 0.035337]
    """
    xq, single = as_queries(x)
    data = as_points(X0, "X0", xq.shape[1])
    obs = as_float_array(Y, "Y", ndim=(1, 2), dtype=np.float64)
    if obs.shape[0] != data.shape[0]:
        raise ValueError(
            f"Y must have one row per training point ({data.shape[0]}), got shape {obs.shape}"
        )
    obs = obs.reshape(obs.shape[0], -1)
    yy = as_float_array(y, "y", ndim=(0, 1), dtype=np.float64).reshape(-1)
    check_last_dim(obs, yy.shape[0], "Y", "y")
    keep = np.flatnonzero(np.all(obs == yy, axis=1))
    if keep.size == 0:
        raise ValueError(
            f"y must be one of the observed y^n (the conditional empirical score is undefined "
            f"elsewhere, paper 002 Def. 6.2), got y = {yy.tolist()}"
        )
    if not check_bool(printed, "printed"):
        return unbatch(empirical_score(xq, t, data[keep], schedule, backend=backend), single)
    # printed: (1/|I_j|) (1/sigma^2) sum_{I_j} (x - m x_0^n) w_n, w over all N; with
    # W_j = sum_{I_j} w_n = exp(lse_j - lse) this is W_j (x - m x_N^{(j)}) / (|I_j| sigma^2)
    _, _, x_j, lse_j, m, s2 = _mixture(xq, t, data[keep], schedule, backend)
    _, _, _, lse, _, _ = _mixture(xq, t, data, schedule, backend)
    mass = np.exp(lse_j - lse)[:, None]
    return unbatch(mass * (xq - m * x_j) / (keep.size * s2), single)


def gaussian_score(
    x: ArrayLike,
    t: ArrayLike,
    C: ArrayLike,
    schedule: Schedule,
    mean: ArrayLike | None = None,
    *,
    printed: bool = False,
) -> np.ndarray:
    r"""True score of p(., t) for Gaussian data p_0 = N(mu, C), Remark 3.7 (corrected).

    By Lemma 3.1, x(t) = m(t) x_0 + sigma(t) z, so p(., t) = N(m mu, m^2 C + sigma^2 I) and

    .. math::

        \nabla \log p(x, t) = -\bigl(m^2(t) C + \sigma^2(t) I\bigr)^{-1} (x - m(t) \mu).

    Remark 3.7 cites the VP process of Ex. 3.5 but prints the VE form
    -(C + sigma^2 I)^{-1} x, without m^2 (``printed=True``: -(C + sigma^2 I)^{-1}(x - m mu));
    the two agree only where m = 1 (erratum ``paper002.remark_3_7``).

    Parameters
    ----------
    x : array_like, shape (B, d) or (d,)
        Query points.
    t : float or array_like, shape (B,)
        Time(s), one for all queries or one per query; fully vectorized.
    C : array_like, shape (d, d)
        Symmetric positive semi-definite data covariance.
    schedule : Schedule or str
        Noise schedule, or its name.
    mean : array_like, shape (d,), optional
        Data mean mu (default 0).
    printed : bool, optional
        Return the printed form without m^2 instead of the correct score.

    Returns
    -------
    ndarray, shape like ``x``
        The score.

    See Also
    --------
    empirical_score : the score of the empirical distribution of a training set.

    References
    ----------
    Baptista et al., Lemma 3.1, Ex. 3.5, Remark 3.7.

    Examples
    --------
    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPLinear
    >>> s = gaussian_score(np.array([1.0, 2.0]), 0.5, np.diag([1.0, 4.0]), VPLinear(0.001, 3))
    >>> print(np.round(s, 6))
    [-1.       -0.653361]
    """
    schedule = as_schedule(schedule, required=True)
    xq, single = as_queries(x)
    d = xq.shape[1]
    cov = _symmetric_matrix(C, "C", d, definite=False)
    mu = np.zeros(d) if mean is None else as_float_array(mean, "mean", ndim=1, dtype=np.float64)
    if mu.shape != (d,):
        raise ValueError(f"mean must have shape ({d},), got shape {mu.shape}")
    tt = as_float_array(t, "t", ndim=(0, 1), dtype=np.float64)
    if tt.ndim == 1 and tt.shape[0] != xq.shape[0]:
        raise ValueError(
            f"t must be a scalar or have shape ({xq.shape[0]},) (one per query), got {tt.shape}"
        )
    schedule.check_time(tt, "t")
    m = np.broadcast_to(np.asarray(schedule.alpha(tt), dtype=np.float64), (xq.shape[0],))
    s2 = np.broadcast_to(np.asarray(schedule.sigma2(tt), dtype=np.float64), (xq.shape[0],))
    m2 = np.ones_like(m) if check_bool(printed, "printed") else m * m
    mats = m2[:, None, None] * cov + s2[:, None, None] * np.eye(d)
    rhs = xq - m[:, None] * mu
    out = -np.linalg.solve(mats, rhs[:, :, None])[:, :, 0]
    return unbatch(out, single)
