"""Empirical, regularized and conditional scores of Baptista et al. (paper 002).

Baptista, Dasgupta, Kovachki, Oberai, Stuart, "Memorization and Regularization in Generative
Diffusion Models". For training points ``X0`` (rows x_0^n, shape ``(N, d)``) and a schedule
with signal scale m(t) (``schedule.alpha``) and noise scale sigma(t) (``schedule.sigma``), the
empirical density (3.4)-(3.5) is the Gaussian mixture

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
* :func:`conditional_empirical_score` -- the corrected score of Thm 6.4 (notes §5, A4);
* :func:`gaussian_score` -- the true score of p_0 = N(mu, C), with Remark 3.7's m^2 (notes A2).

Conventions follow :mod:`diffmem_theory.core.denoisers`: ``x`` is ``(B, d)`` or ``(d,)``, ``t`` is
a scalar or ``(B,)``, results are float64 and shaped like ``x``.

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
    check_last_dim,
    check_scalar,
    unbatch,
)
from diffmem_theory.core.denoisers import _map_over_times
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
    x_n, lse, m, s2 = _map_over_times(xq, t, schedule, _mixture_terms, X0=data, backend=backend)
    return xq, single, x_n, lse, m[:, None], s2[:, None]


def log_empirical_density(
    x: ArrayLike, t: ArrayLike, X0: ArrayLike, schedule: Schedule, *, backend: str = "numba"
) -> np.ndarray:
    r"""Log of the empirical density p^N(x, t), eqs. (3.4)-(3.5).

        log p^N(x, t) = log sum_n exp(-|x - m x_0^n|^2 / (2 sigma^2)) - log N
                        - (d/2) log(2 pi sigma^2),

    in log-sum-exp form (the kernel's ``lse``). Returns shape ``(B,)`` (a float for ``(d,)``).

    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VE
    >>> X0 = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> round(float(log_empirical_density(np.array([0.5, 0.5]), 0.5, X0, VE.linear2t())), 6)
    -2.12658
    """
    xq, single, _, lse, _, s2 = _mixture(x, t, X0, schedule, backend)
    n = np.asarray(X0).shape[0]
    out = lse - math.log(n) - 0.5 * xq.shape[1] * (_LOG_2PI + np.log(s2[:, 0]))
    return out[0] if single else out


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

        s^N(x, t) = -(x - m(t) sum_n w_n x_0^n) / sigma^2(t),
        w_n = exp(-|x - m x_0^n|^2 / (2 sigma^2)) / sum_l exp(-|x - m x_0^l|^2 / (2 sigma^2)).

    VE (m = 1, (4.15)-(4.18)) and VP (m = exp(-B/2), Ex. 3.5) alike. It equals Tweedie's
    identity applied to the memorizing denoiser (paper 000, eq. (7)).

    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPLinear
    >>> X0 = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> print(np.round(empirical_score(np.array([0.5, 0.5]), 0.5, X0, VPLinear(0.001, 3)), 6))
    [ 0.700773 -1.597605]
    """
    xq, single, x_n, _, m, s2 = _mixture(x, t, X0, schedule, backend)
    return unbatch(-(xq - m * x_n) / s2, single)


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

        s^N_reg(x, t) = -(x - m(t) sum_n w_n x_0^n) / (c + sigma^2(t))
                      = s^N(x, t) sigma^2 / (sigma^2 + c),

    bounded as t -> 0 for c > 0; ``c = 0`` gives :func:`empirical_score`. ``c >= 0``.

    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VE
    >>> X0 = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> print(np.round(tikhonov_score(np.array([0.5, 0.5]), 0.5, X0, VE.linear2t(), 0.25), 6))
    [ 0.928055 -1.      ]
    """
    cc = check_scalar(c, "c", low=0.0)
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

        s^N_reg(x, t) = -((I + Gamma(t)) sigma^2(t))^{-1} (x - m(t) sum_n w_n x_0^n)
                      = (I + Gamma(t))^{-1} s^N(x, t)   (the minimizer (5.3) for p = p^N).

    ``gamma`` is a symmetric positive-definite ``(d, d)`` matrix, or a callable
    ``gamma(t) -> (d, d)`` for a time-dependent Gamma(t) (evaluated once per distinct time;
    Thm 5.1 asks for Gamma uniformly SPD). Gamma = (c/sigma^2) I gives (5.7), i.e.
    :func:`tikhonov_score`.

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

    (5.11): s_eb = grad p^N / max(p^N, c) = s^N min(1, p^N / c), with the normalized density
    p^N of (3.5). (5.12) (and the authors' code, used for Figs. 6-7) thresholds the
    unnormalized sum S = sum_n w~_n, w~_n = exp(-|x - m x_0^n|^2 / (2 sigma^2)):

        s_eb = -(1/sigma^2) sum_n (x - m x_0^n) w~_n / max(S, c) = s^N min(1, S / c),

    so the two c's differ by c_(5.12) = c_(5.11) N (2 pi sigma^2)^{d/2} (notes §5, A8). (5.12)
    is printed for VE (m = 1); m(t) is kept for VP. ``c >= 0``; ``c = 0`` gives s^N. The
    factor min(1, .) is computed in log space.

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
    xq, single, x_n, lse, m, s2 = _mixture(x, t, X0, schedule, backend)
    score = -(xq - m * x_n) / s2
    if cc == 0.0:
        return unbatch(score, single)
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
    backend: str = "numba",
) -> np.ndarray:
    r"""Conditional empirical score at an observed y = y^j, Thm 6.4 as corrected (notes §5, A4).

        s^N(x, y^j, t) = -(1/sigma^2) sum_{n in I_j} (x - m x_0^n) w~_n / sum_{l in I_j} w~_l,
        I_j = {n : y^n = y^j}  (Def. 6.2),

    i.e. grad_x log p^N(x, t | y^j) = :func:`empirical_score` of the points ``X0[I_j]``. The
    printed theorem lacks the minus sign, has a spurious 1/|I_j| and normalizes the weights
    over all N points. ``Y`` holds one observation per training point (shape ``(N,)`` or
    ``(N, k)``), ``y`` one observation (scalar or ``(k,)``), matched exactly. The score is
    undefined for y outside {y^n}: that raises ``ValueError``.

    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VE
    >>> X0 = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0]])
    >>> Y = np.array([0.0, 1.0, 0.0])
    >>> s = conditional_empirical_score(np.array([0.5, 0.5]), 0.5, 1.0, X0, Y, VE.linear2t())
    >>> print(np.round(s, 6))
    [-6. -2.]
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
    return unbatch(empirical_score(xq, t, data[keep], schedule, backend=backend), single)


def gaussian_score(
    x: ArrayLike,
    t: ArrayLike,
    C: ArrayLike,
    schedule: Schedule,
    mean: ArrayLike | None = None,
) -> np.ndarray:
    r"""True score of p(., t) for Gaussian data p_0 = N(mu, C), Remark 3.7 corrected (notes A2).

        grad log p(x, t) = -(m^2(t) C + sigma^2(t) I)^{-1} (x - m(t) mu).

    The printed Remark 3.7 omits m^2 (its VE form) although it cites the VP process of
    Ex. 3.5. ``C`` is a symmetric positive semi-definite ``(d, d)`` matrix; ``mean``
    defaults to 0; ``schedule`` a Schedule or its name. Fully vectorized over ``t``.

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
    mats = m[:, None, None] ** 2 * cov + s2[:, None, None] * np.eye(d)
    rhs = xq - m[:, None] * mu
    out = -np.linalg.solve(mats, rhs[:, :, None])[:, :, 0]
    return unbatch(out, single)
