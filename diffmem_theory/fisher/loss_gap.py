r"""The loss gap of Ye, Zhu, Tao, Chen (paper 003) as a Fisher divergence, and its size.

Ye et al., "Provable Separations between Memorization and Generalization in Diffusion
Models", Sec. 3-4 and App. A: the empirical DSM loss (3.1), the loss gap of Sec. 4,
Prop 4.1 (the gap is a Fisher divergence), Thm 4.3 (its size for Gaussian-mixture data) and
the closed form of the gap for Gaussian components with its time integral. Forward process
(Sec. 3): the VP/OU process with beta = 1, alpha_t = e^{-t/2}, sigma_t^2 = 1 - e^{-t}
(:class:`~diffmem_theory.core.schedules.VPExp`, the default schedule here; any
:class:`~diffmem_theory.core.schedules.Schedule` is accepted by the Monte Carlo functions).
Every loss is in **score units**.

* Empirical DSM loss, eq. (3.1), at one time and integrated over [t0, T]:

      L_t(s) = (1/n) sum_i E_Z |-(X_t - alpha_t x_i)/sigma_t^2 - s(X_t, t)|^2
             = (1/n) sum_i E_Z |-Z/sigma_t - s(alpha_t x_i + sigma_t Z, t)|^2,
      L(s)   = int_{t0}^{T} L_t(s) dt                   (no time weighting);

  :func:`dsm_loss_t`, :func:`dsm_loss`.
* Loss gap (Sec. 4): Loss-Gap_t(s) = L_t(s) - L_t(s_hat) >= 0, s_hat = grad log p_hat_t the
  empirical score (the minimizer of (3.1)); with s = grad log p_t it is the paper's Loss-Gap_t.
  :func:`loss_gap_t`, :func:`loss_gap_integral`, :func:`expected_loss_gap_t`,
  :func:`loss_gap_curve`.
* Prop 4.1: Loss-Gap_t(s) = Fisher(P_hat_t, P_t) = E_{X ~ P_hat_t} |s_hat(X) - s(X)|^2 (exact,
  no 1/2, any s): :func:`fisher_divergence_t` (either direction), :func:`prop_4_1_sides` (both
  sides on common random numbers, with a z-score).
* Gaussian closed form (our leading-order evaluation of the proof of Thm 4.3, App. A.2.3):
  :func:`loss_gap_asymptotic_gaussian` F_t = (alpha_t^2/sigma_t^2)
  tr(Sigma (alpha_t^2 Sigma + sigma_t^2 I)^{-1}), its time integral
  :func:`loss_gap_integral_asymptotic`, and mpmath twins (``*_mp``); the sympy derivation is
  :mod:`diffmem_theory.fisher.symbolic`.
* Thm 4.3: E_D[Loss-Gap_t] = Omega(d/sigma_t^2 + tr Sigma): :func:`thm_4_3_rhs_shape`,
  :func:`thm_4_3_conditions`.

Monte Carlo estimates reuse the machinery of :mod:`diffmem_theory.core.losses`: the noise is
a pure function of ``(seed, index of t)``, so estimates made with the same ``seed`` share their
noise (common random numbers) -- with :func:`~diffmem_theory.core.losses.training_losses`
too -- and are returned as :class:`~diffmem_theory.core.losses.LossEstimate` with
``unit="score"``; ``est.to_unit("x0", schedule)`` multiplies by sigma_t^4/alpha_t^2.
Sizes are bounded, with a ``ValueError`` before anything is allocated: the working memory of
one time (~8 arrays of n n_noise d values) and the draws (T n n_noise values per term) are
capped at 8 GiB (``_validation.check_allocation``), at most 10^5 times are evaluated, a
Gauss-Legendre rule has at most 1000 nodes, :func:`expected_loss_gap_t` averages at most 10^4
datasets, and ``dps`` is at most 10^4. A score returning NaN, inf or the wrong shape raises
``ValueError``.

A score is a callable ``score(x, t) -> (B, d)`` (``t`` a float, ``x`` of shape ``(B, d)``) or a
distribution with ``score_t(x, t, schedule)`` such as
:class:`~diffmem_theory.core.distributions.GaussianMixture` (its true score under ``schedule``).

>>> import numpy as np
>>> from diffmem_theory.core.distributions import IsotropicGaussianMixture
>>> rng = np.random.default_rng(0)
>>> gmm = IsotropicGaussianMixture(rng.normal(0.0, 2.0, (8, 32)), 1.0)
>>> X, _ = gmm.sample(300, rng)
>>> gap = loss_gap_t(X, gmm, 0.1, n_noise=4)             # L_t(true score) - L_t(empirical)
>>> closed = loss_gap_asymptotic_gaussian(0.1, np.ones(32))    # 32 / (e^0.1 - 1)
>>> round(float(closed), 3), bool(abs(gap.mean[0] / closed - 1) < 0.03)
(304.267, True)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import mpmath
import numpy as np
from numpy.typing import ArrayLike
from scipy.special import logsumexp

from diffmem_theory._mp import pos_mpf, vec
from diffmem_theory._validation import (
    as_float_array,
    check_allocation,
    check_bool,
    check_choice,
    check_dps,
    check_int,
    check_positive,
    check_scalar,
    covariance_spectrum,
)
from diffmem_theory.core.distributions import (
    EmpiricalDistribution,
    GaussianMixture,
    IsotropicGaussianMixture,
)
from diffmem_theory.core.losses import (
    LossEstimate,
    common_noise_setup,
    noised_points,
    squared_error,
)
from diffmem_theory.core.schedules import Schedule, VPExp, as_schedule

__all__ = [
    "LossGapCurve",
    "Prop41Result",
    "Thm43Conditions",
    "dsm_loss",
    "dsm_loss_t",
    "expected_loss_gap_t",
    "fisher_divergence_t",
    "loss_gap_asymptotic_gaussian",
    "loss_gap_asymptotic_gaussian_mp",
    "loss_gap_curve",
    "loss_gap_integral",
    "loss_gap_integral_asymptotic",
    "loss_gap_integral_asymptotic_mp",
    "loss_gap_t",
    "prop_4_1_sides",
    "reference_anisotropic",
    "reference_isotropic",
    "thm_4_3_conditions",
    "thm_4_3_rhs_shape",
]

ScoreFn = Callable[[float, np.ndarray], np.ndarray]
_INTEGRATION = ("gauss-log", "uniform")
_DEFAULT_DPS = 50
# Relative size below which the Prop 4.1 residual is rounding (when both posteriors have
# collapsed, target - s_hat is exactly 0 or ~1e-15): the z-score's standard error is floored
# at this fraction of the Fisher divergence.
_ROUNDING = 1e-9
# Sizes (ValueError beyond them, checked before anything is allocated): the working memory of
# one time (about 8 arrays of n n_noise d values) and the draws of an estimate (up to 3 arrays
# of T n n_noise values) are capped by check_allocation; at most 10^5 times are evaluated, a
# Gauss-Legendre rule has at most 1000 nodes (its construction costs O(m^2) memory) and
# expected_loss_gap_t averages at most 10^4 datasets.
_ARRAYS_PER_TIME, _DRAW_ARRAYS = 8, 3
_LOG_MAX = math.log(np.finfo(np.float64).max)
_MAX_TIMES = 10**5
_MAX_GAUSS_NODES = 1000
_MAX_DATASETS = 10**4


# ----------------------------------------------------------------------------------------------
# inputs
# ----------------------------------------------------------------------------------------------


def _schedule(schedule: Schedule | None) -> Schedule:
    """``schedule``, or paper 003's VP process with beta = 1 (:class:`VPExp`) when None."""
    return as_schedule(schedule, VPExp())


def _vp_exp(schedule: VPExp | None) -> VPExp:
    """A :class:`VPExp` schedule (the closed-form time integrals need e^{-beta t})."""
    sched = _schedule(schedule)
    if not isinstance(sched, VPExp):
        raise TypeError(
            f"schedule must be a VPExp (alpha = e^(-beta t/2), the process of paper 003), "
            f"got {type(sched).__name__}"
        )
    return sched


def _as_score(score: Any, schedule: Schedule, name: str = "score") -> ScoreFn:
    """A callable ``score(x, t)``; a mixture with ``score_t`` becomes its true score."""
    if callable(score):
        return score
    if callable(getattr(score, "score_t", None)):
        return lambda x, t: score.score_t(x, t, schedule)
    raise TypeError(
        f"{name} must be a callable score(x, t) or a mixture with a score_t(x, t, schedule) "
        f"method, got {type(score).__name__}"
    )


def _score_at(score: ScoreFn, t: float, xt: np.ndarray, name: str) -> np.ndarray:
    out = np.asarray(score(xt, t))
    if out.dtype.kind not in "fiu":
        raise ValueError(f"{name} must return real scores, got dtype {out.dtype} at t = {t!r}")
    if out.shape != xt.shape:
        raise ValueError(
            f"{name} returned shape {out.shape} for queries of shape {xt.shape}; it must return "
            "one score per query"
        )
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} returned non-finite values (NaN or inf) at t = {t!r}")
    return out.astype(np.float64, copy=False)


def reference_isotropic(
    seed: int = 0, n: int = 1000, var: float = 1.0
) -> tuple[IsotropicGaussianMixture, np.ndarray]:
    """Our isotropic reference setting: K = 8, d = 32, mu_k ~ N(0, 4 I), components N(mu_k,
    var I), and n training points, all from ``default_rng(seed)`` (means first).

    The mixture of Ye et al., Sec. 6.1 (K = 8, mu_k ~ N(0, 4 I_d)) at d = 32 with n = 1000,
    the setting of the checks and figures of the loss gap. Our Monte Carlo reference values
    for it (20 noise draws per point, ``seed = 0``): Loss-Gap_t = 3188.8 +- 6.1, 303.67 +- 0.62,
    49.08 +- 0.07, 15.27, 0.945 at t = 0.01, 0.1, 0.5, 1, 2, against F_t = 32/(e^t - 1) =
    3184.027, 304.267, 49.328, 18.623, 5.009 (:func:`loss_gap_asymptotic_gaussian`).

    >>> gmm, X = reference_isotropic(n=5)
    >>> gmm.means.shape, X.shape
    ((8, 32), (5, 32))
    """
    rng = np.random.default_rng(seed)
    gmm = IsotropicGaussianMixture(rng.normal(0.0, 2.0, (8, 32)), var)
    return gmm, gmm.sample(n, rng)[0]


def reference_anisotropic(
    seed: int = 3, n: int = 800
) -> tuple[GaussianMixture, np.ndarray, np.ndarray]:
    """Our anisotropic reference setting: K = 4, d = 16, Sigma = diag(lambda) with
    lambda ~ U(0.1, 3) (drawn first), mu ~ N(0, 9 I); returns (mixture, X, lambda).

    A shared non-isotropic covariance, as Thm 4.3 of Ye et al. allows. Our Monte Carlo
    reference values (20 noise draws per point): Loss-Gap_t = 1588.9 +- 5.6, 311.42 +- 1.05,
    72.76 +- 0.20 at t = 0.01, 0.05, 0.2, against F_t = 1590.85, 311.33, 72.59.

    >>> gm, X, lam = reference_anisotropic(n=4)
    >>> X.shape, round(float(lam[0]), 6)
    ((4, 16), 0.348383)
    """
    rng = np.random.default_rng(seed)
    lam = rng.uniform(0.1, 3.0, 16)
    means = rng.normal(0.0, 3.0, (4, 16))
    gm = GaussianMixture(means, np.repeat(np.diag(lam)[None], 4, axis=0))
    return gm, gm.sample(n, rng)[0], lam


def _mixture_spectra(mixture: Any) -> tuple[np.ndarray, np.ndarray]:
    """(weights (K,), covariance eigenvalues (K, d)) of a Gaussian mixture."""
    if isinstance(mixture, IsotropicGaussianMixture):
        var = np.broadcast_to(np.asarray(mixture.var, dtype=np.float64), (mixture.n_components,))
        return mixture.weights, np.repeat(var[:, None], mixture.dim, axis=1)
    if isinstance(mixture, GaussianMixture):
        return mixture.weights, np.clip(np.linalg.eigvalsh(mixture.covs), 0.0, None)
    raise TypeError(
        "mixture must be an IsotropicGaussianMixture or a GaussianMixture, "
        f"got {type(mixture).__name__}"
    )


# ----------------------------------------------------------------------------------------------
# Monte Carlo: the DSM loss (3.1), the loss gap and the Fisher divergence (Prop 4.1)
# ----------------------------------------------------------------------------------------------


def _draw_terms(
    points: ArrayLike,
    t: ArrayLike,
    schedule: Schedule,
    n_noise: int,
    seed: int,
    terms: Callable[[float, np.ndarray, np.ndarray], tuple[np.ndarray, ...]],
    name: str = "X",
) -> tuple[LossEstimate, ...]:
    """Per-draw terms at X_t = alpha_t x_i + sigma_t Z (paper 000's noise for ``seed``).

    ``terms(x_t, t, target)`` gets the DSM target -Z/sigma_t = (alpha_t x_i - x_t)/sigma_t^2
    for the ``(n n_noise, d)`` rows ``x_t`` and returns row-wise values; each becomes a
    :class:`LossEstimate` of shape ``(T, n, n_noise)``.
    """
    pts, times, key = common_noise_setup(points, t, schedule, n_noise, seed, name)
    (n, d), r = pts.shape, key[1]
    if not 1 <= times.size <= _MAX_TIMES:
        raise ValueError(f"t must hold between 1 and {_MAX_TIMES} times, got {times.size}")
    check_allocation(
        _ARRAYS_PER_TIME * n * r * d,
        f"n_noise = {r} draws for each of the {n} rows of {name} (d = {d})",
    )
    check_allocation(
        _DRAW_ARRAYS * times.size * n * r,
        f"{times.size} times x {n} rows of {name} x n_noise = {r} draws",
    )
    draws: list[np.ndarray] = []
    for ell, tt, xt, x0 in noised_points(pts, times, schedule, r, seed):
        alpha, sigma2 = float(schedule.alpha(tt)), float(schedule.sigma2(tt))
        with np.errstate(over="ignore", invalid="ignore"):
            values = terms(xt, tt, (alpha * x0 - xt) / sigma2)
        if not all(np.all(np.isfinite(v)) for v in values):
            raise ValueError(
                f"the loss at t = {tt!r} overflows float64 (sigma_t^2 = {sigma2!r}); use t "
                "further from 0 or smaller data"
            )
        if not draws:
            draws = [np.empty((times.size, n, r)) for _ in values]
        for out, value in zip(draws, values, strict=True):
            out[ell] = value.reshape(n, r)
    return tuple(LossEstimate(times, d, key, "score") for d in draws)


def dsm_loss_t(
    X: ArrayLike,
    score: Any,
    t: ArrayLike,
    schedule: Schedule | None = None,
    *,
    n_noise: int = 20,
    seed: int = 0,
) -> LossEstimate:
    r"""Monte Carlo empirical DSM loss L_t(s) at each time ``t``, eq. (3.1) (score units).

    Ye et al., eq. (3.1), with the target grad log phi_t(X_t | x_i) = -(X_t - alpha_t x_i)/
    sigma_t^2 (the conditional score of X_t given x_i; no time weighting):

        L_t(s) = (1/n) sum_i E_Z |-Z/sigma_t - s(alpha_t x_i + sigma_t Z, t)|^2.

    Parameters
    ----------
    X : array_like, shape (n, d)
        The training points x_i.
    score : callable or distribution
        ``score(x, t) -> (B, d)``, or an object with ``score_t(x, t, schedule)`` (its own score
        under ``schedule``).
    t : float or array_like, shape (T,)
        Times in the range of ``schedule``.
    schedule : Schedule, optional
        The forward process; default :class:`~diffmem_theory.core.schedules.VPExp` (beta = 1,
        the process of the paper).
    n_noise : int, default 20
        Draws of Z per training point.
    seed : int, default 0
        The noise depends only on ``(seed, index of t)`` (common random numbers).

    Returns
    -------
    LossEstimate
        Per-draw losses of shape ``(T, n, n_noise)`` with ``mean`` and ``stderr`` per time,
        ``unit="score"``.

    Raises
    ------
    ValueError
        Where the arrays would exceed the memory cap (see the module docstring), or the score
        returns NaN, inf or the wrong shape.

    See Also
    --------
    dsm_loss : the time integral of L_t.
    loss_gap_t : L_t(s) - L_t(s_hat) on the same noise.

    References
    ----------
    Ye, Zhu, Tao, Chen, "Provable Separations between Memorization and Generalization in
    Diffusion Models", eq. (3.1).

    Examples
    --------
    The zero score has loss E|Z|^2/sigma_t^2 = d/sigma_t^2:

    >>> import numpy as np
    >>> X = np.zeros((50, 3))
    >>> est = dsm_loss_t(X, lambda x, t: 0 * x, 0.5, n_noise=400)
    >>> exact = 3 / -np.expm1(-0.5)
    >>> round(float(exact), 3), bool(abs(est.mean[0] - exact) < 4 * est.stderr[0])
    (7.624, True)
    """
    sched = _schedule(schedule)
    s = _as_score(score, sched)
    (est,) = _draw_terms(
        X,
        t,
        sched,
        n_noise,
        seed,
        lambda xt, tt, target: (squared_error(_score_at(s, tt, xt, "score"), target),),
    )
    return est


def _empirical(X: np.ndarray, schedule: Schedule, backend: str) -> ScoreFn:
    """The empirical score grad log p_hat_t of the rows of ``X`` (Ye et al., Sec. 3)."""
    law = EmpiricalDistribution(X)
    return lambda x, t: law.score_t(x, t, schedule, backend=backend)


def _gap_terms(s: ScoreFn, s_hat: ScoreFn) -> Callable[..., tuple[np.ndarray, ...]]:
    """Per draw: the gap |target - s|^2 - |target - s_hat|^2, the Fisher term |s_hat - s|^2
    and their difference 2 <target - s_hat, s_hat - s> (computed directly, no cancellation)."""

    def terms(xt: np.ndarray, t: float, target: np.ndarray) -> tuple[np.ndarray, ...]:
        true, emp = _score_at(s, t, xt, "score"), _score_at(s_hat, t, xt, "empirical score")
        gap = squared_error(true, target) - squared_error(emp, target)
        cross = 2.0 * np.einsum("ij,ij->i", target - emp, emp - true)
        return gap, squared_error(emp, true), cross

    return terms


def _training_points(X: ArrayLike) -> np.ndarray:
    arr = as_float_array(X, "X", ndim=2, dtype=np.float64)
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"X must have shape (n, d) with n, d >= 1, got {arr.shape}")
    return arr


def loss_gap_t(
    X: ArrayLike,
    score: Any,
    t: ArrayLike,
    schedule: Schedule | None = None,
    *,
    n_noise: int = 20,
    seed: int = 0,
    backend: str = "numba",
) -> LossEstimate:
    r"""Monte Carlo loss gap L_t(s) - L_t(s_hat) of a score ``s`` over the empirical score.

    Ye et al., Sec. 4 (definition of Loss-Gap_t; the hats, lost in print, restored so that
    the gap is the true minus the empirical score's loss, >= 0):

        Loss-Gap_t(s) = (1/n) sum_i [l(x_i, s) - l(x_i, grad log p_hat_t)]  >= 0,

    with l the per-point loss of (3.1) and p_hat_t = (1/n) sum_i N(alpha_t x_i, sigma_t^2 I).
    With ``score`` the true score (e.g. the data mixture itself) it is the paper's Loss-Gap_t
    *for this dataset* (Thm 4.3 is about its mean over datasets, :func:`expected_loss_gap_t`).
    Both losses see the same noise, so the standard error is that of the difference.

    Parameters
    ----------
    X : array_like, shape (n, d)
        The training points; their empirical distribution gives s_hat.
    score : callable or distribution
        ``score(x, t) -> (B, d)`` or an object with ``score_t(x, t, schedule)``.
    t : float or array_like, shape (T,)
        Times.
    schedule : Schedule, optional
        Default :class:`~diffmem_theory.core.schedules.VPExp` (the paper's process).
    n_noise : int, default 20
        Draws of Z per training point.
    seed : int, default 0
        Noise seed (common random numbers with :func:`dsm_loss_t` and
        :func:`~diffmem_theory.core.losses.training_losses`).
    backend : {"numba", "numpy", ...}, default "numba"
        The fused-kernel backend of the empirical score.

    Returns
    -------
    LossEstimate
        Per-draw gaps of shape ``(T, n, n_noise)``, ``unit="score"``.

    See Also
    --------
    fisher_divergence_t : the right-hand side of Prop 4.1.
    prop_4_1_sides : both sides on the same draws, with a z-score.
    loss_gap_asymptotic_gaussian : the closed form for Gaussian components.
    loss_gap_integral : the time integral.

    References
    ----------
    Ye et al., Sec. 4 and Prop 4.1.

    Examples
    --------
    The empirical score itself has no gap in any draw:

    >>> import numpy as np
    >>> from diffmem_theory.core.distributions import EmpiricalDistribution
    >>> X = np.random.default_rng(0).normal(0.0, 3.0, (40, 2))
    >>> emp = EmpiricalDistribution(X)
    >>> zero = loss_gap_t(X, lambda x, t: emp.score_t(x, t, VPExp()), 0.3, n_noise=5)
    >>> float(np.abs(zero.draws).max())
    0.0
    """
    sched = _schedule(schedule)
    pts = _training_points(X)
    terms = _gap_terms(_as_score(score, sched), _empirical(pts, sched, backend))
    return _draw_terms(pts, t, sched, n_noise, seed, terms)[0]


def fisher_divergence_t(
    X: ArrayLike,
    score: Any,
    t: ArrayLike,
    schedule: Schedule | None = None,
    *,
    under: ArrayLike | None = None,
    n_noise: int = 20,
    seed: int = 0,
    backend: str = "numba",
) -> LossEstimate:
    r"""Monte Carlo E |grad log p_hat_t(X) - s(X)|^2 with X the noised law of ``under``.

    Ye et al., Prop 4.1: Fisher(P_hat_t, P_t) = E_{X ~ P_hat_t} |grad log p_hat_t(X) -
    grad log p_t(X)|^2 (no factor 1/2), p_hat_t built from the training points ``X``.

    * ``under=None``: X ~ P_hat_t (the noised training points), the right-hand side of
      Prop 4.1 -- it equals :func:`loss_gap_t` (see :func:`prop_4_1_sides`);
    * ``under`` = fresh draws from P_data: X ~ P_t, i.e. Fisher(P_t, P_hat_t), the
      generalization error of the empirical score (the remark after Prop 4.1).

    Parameters
    ----------
    X : array_like, shape (n, d)
        The training points.
    score : callable or distribution
        ``score(x, t)`` or an object with ``score_t(x, t, schedule)``.
    t : float or array_like, shape (T,)
        Times.
    schedule : Schedule, optional
        Default :class:`~diffmem_theory.core.schedules.VPExp`.
    under : array_like, shape (m, d), optional
        Points whose noised law X is drawn from (default: ``X``).
    n_noise : int, default 20
        Draws of Z per point of ``under``.
    seed : int, default 0
        Noise seed.
    backend : str, default "numba"
        Backend of the empirical score.

    Returns
    -------
    LossEstimate
        Per-draw squared differences, ``unit="score"``.

    See Also
    --------
    loss_gap_t : the left-hand side of Prop 4.1.
    prop_4_1_sides : both sides on the same draws.

    References
    ----------
    Ye et al., Prop 4.1 and the remark after it.

    Examples
    --------
    >>> import numpy as np
    >>> from diffmem_theory.core.distributions import IsotropicGaussianMixture
    >>> means = np.zeros((2, 8))
    >>> means[:, 0] = [5.0, -5.0]
    >>> gmm = IsotropicGaussianMixture(means, 1.0)
    >>> X, _ = gmm.sample(100, 0)
    >>> held_out, _ = gmm.sample(100, 1)
    >>> emp = fisher_divergence_t(X, gmm, 0.05, n_noise=4)     # ~ F_t = 156.0
    >>> true = fisher_divergence_t(X, gmm, 0.05, under=held_out, n_noise=4)
    >>> bool(140 < emp.mean[0] < 170), bool(true.mean[0] > 10 * emp.mean[0])
    (True, True)
    """
    sched = _schedule(schedule)
    pts = _training_points(X)
    s, s_hat = _as_score(score, sched), _empirical(pts, sched, backend)
    base = pts if under is None else as_float_array(under, "under", ndim=2, dtype=np.float64)
    if base.shape[1] != pts.shape[1]:
        raise ValueError(f"under has dimension {base.shape[1]} but X has dimension {pts.shape[1]}")
    (est,) = _draw_terms(
        base,
        t,
        sched,
        n_noise,
        seed,
        lambda xt, tt, _: (
            squared_error(
                _score_at(s_hat, tt, xt, "empirical score"), _score_at(s, tt, xt, "score")
            ),
        ),
        "under" if under is not None else "X",
    )
    return est


@dataclass(frozen=True, eq=False)
class Prop41Result:
    """Both sides of Prop 4.1 on common random numbers.

    ``lhs`` = Loss-Gap_t(s) (:func:`loss_gap_t`), ``rhs`` = E_{P_hat_t}|s_hat - s|^2
    (:func:`fisher_divergence_t`), ``residual = lhs - rhs`` per draw (2 <target - s_hat,
    s_hat - s>, computed directly; mean exactly zero averaged over the training points), and
    ``z`` = residual mean / its standard error (floored at 1e-9 times ``rhs.mean``, below which
    the residual is rounding), one per time.
    """

    lhs: LossEstimate
    rhs: LossEstimate
    residual: LossEstimate
    z: np.ndarray


def prop_4_1_sides(
    X: ArrayLike,
    score: Any,
    t: ArrayLike,
    schedule: Schedule | None = None,
    *,
    n_noise: int = 20,
    seed: int = 0,
    backend: str = "numba",
) -> Prop41Result:
    r"""Loss-Gap_t(s) and Fisher(P_hat_t, P_t) from the same draws, with a z-score (Prop 4.1).

    Ye et al., Prop 4.1 (proof in App. A.1): Loss-Gap_t = E_{X ~ P_hat_t}|s_hat(X) - s(X)|^2.
    The proof never uses that s is the true score, so the identity holds for any s (our
    generalization: the same proof with s in place of grad log p_t). Per draw, lhs - rhs =
    2 <target - s_hat, s_hat - s>, whose mean over the training points and the noise is exactly
    0 (s_hat is the posterior mean of the target given X_t under P_hat). |z| < 4 is the test.
    At small t the residual is heavy-tailed (it is carried by rare draws that fall between two
    training points), so its standard error is reliable only with many draws per point (~100;
    with 20, |z| > 4 happens).

    Parameters
    ----------
    X : array_like, shape (n, d)
        The training points.
    score : callable or distribution
        ``score(x, t)`` or an object with ``score_t(x, t, schedule)``; any score, not only the
        true one.
    t : float or array_like, shape (T,)
        Times.
    schedule : Schedule, optional
        Default :class:`~diffmem_theory.core.schedules.VPExp`.
    n_noise : int, default 20
        Draws of Z per training point.
    seed : int, default 0
        Noise seed.
    backend : str, default "numba"
        Backend of the empirical score.

    Returns
    -------
    Prop41Result
        ``lhs``, ``rhs``, ``residual`` (:class:`~diffmem_theory.core.losses.LossEstimate`) and
        ``z``, one per time.

    See Also
    --------
    loss_gap_t, fisher_divergence_t : each side alone.

    References
    ----------
    Ye et al., Prop 4.1 and App. A.1.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> X = rng.normal(0.0, 2.0, (60, 3))
    >>> res = prop_4_1_sides(X, lambda x, t: -0.7 * x + 0.3, [0.1, 1.0], n_noise=10)
    >>> bool(np.all(np.abs(res.z) < 4)), bool(np.all(res.lhs.mean > 0))
    (True, True)
    """
    sched = _schedule(schedule)
    pts = _training_points(X)
    terms = _gap_terms(_as_score(score, sched), _empirical(pts, sched, backend))
    lhs, rhs, residual = _draw_terms(pts, t, sched, n_noise, seed, terms)
    scale = np.maximum(residual.stderr, _ROUNDING * np.abs(rhs.mean))
    with np.errstate(invalid="ignore"):  # 0/0 only when s = s_hat exactly: z = 0
        z = np.where(scale > 0, residual.mean / np.where(scale > 0, scale, 1.0), 0.0)
    return Prop41Result(lhs, rhs, residual, z)


def _time_nodes(
    t0: float, T: float, schedule: Schedule, n_times: int, method: str, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(times, quadrature weights) for int_{t0}^{T} f(t) dt."""
    lo = check_scalar(t0, "t0", low=0.0, low_open=True)
    hi = check_scalar(T, "T", low=lo, low_open=True)
    schedule.check_time(np.array([lo, hi]), "[t0, T]")
    gauss = check_choice(method, "method", _INTEGRATION) == "gauss-log"
    m = check_int(n_times, "n_times", low=2, high=_MAX_GAUSS_NODES if gauss else _MAX_TIMES)
    if not gauss:
        seq = np.random.SeedSequence(check_int(seed, "seed", low=0), spawn_key=(2**30,))
        times = np.sort(np.random.default_rng(seq).uniform(lo, hi, m))
        return times, np.full(m, (hi - lo) / m)
    nodes, weights = np.polynomial.legendre.leggauss(m)  # on [-1, 1], in u = log t
    half = 0.5 * (math.log(hi) - math.log(lo))
    times = np.exp(math.log(lo) + half * (nodes + 1.0))
    return times, half * weights * times


def _integrated(est: LossEstimate, weights: np.ndarray, method: str) -> tuple[float, float]:
    """(integral, standard error): Gauss nodes add the noise variances; uniform nodes use
    the spread of the m values (T - t0) L_t(s), which includes the variation in t. Squares
    are taken of scaled values (no overflow); a value beyond float64 raises ``ValueError``."""
    with np.errstate(over="ignore", invalid="ignore"):
        value = float(weights @ est.mean)
        if method == "uniform":
            samples = weights.size * weights * est.mean
            scale = float(np.abs(samples).max())
            spread = scale * float((samples / scale).std(ddof=1)) if scale > 0 else 0.0
            err = spread / math.sqrt(weights.size)
        else:
            err = float(np.hypot.reduce(weights * est.stderr))
    if not (math.isfinite(value) and math.isfinite(err)):
        raise ValueError(
            f"the integral over [t0, T] overflows float64 (value {value!r}, standard error "
            f"{err!r}); shorten [t0, T]"
        )
    return value, err


def dsm_loss(
    X: ArrayLike,
    score: Any,
    t0: float,
    T: float,
    schedule: Schedule | None = None,
    *,
    n_times: int = 24,
    method: str = "gauss-log",
    n_noise: int = 8,
    seed: int = 0,
) -> tuple[float, float]:
    r"""The integrated empirical DSM loss L(s) = int_{t0}^{T} L_t(s) dt of eq. (3.1).

    Ye et al., eq. (3.1): no time weighting.

    * ``method="gauss-log"``: ``n_times``-point Gauss-Legendre rule in u = log t (the losses
      behave like powers of t near t0), dt = t du; the standard error is that of the noise
      (the quadrature error is not included);
    * ``method="uniform"``: t ~ Unif[t0, T] i.i.d. (drawn from ``seed``), as in training,
      times (T - t0); the standard error includes the spread over t.

    Parameters
    ----------
    X : array_like, shape (n, d)
        The training points.
    score : callable or distribution
        ``score(x, t)`` or an object with ``score_t(x, t, schedule)``.
    t0, T : float
        The time interval, 0 < t0 < T.
    schedule : Schedule, optional
        Default :class:`~diffmem_theory.core.schedules.VPExp`.
    n_times : int, default 24
        Quadrature nodes, at most 1000 (Gauss) or 10^5 (uniform).
    method : {"gauss-log", "uniform"}, default "gauss-log"
        The time quadrature.
    n_noise : int, default 8
        Draws of Z per training point and node.
    seed : int, default 0
        Noise seed (and the uniform nodes).

    Returns
    -------
    (float, float)
        The estimate and its standard error.

    See Also
    --------
    dsm_loss_t : the loss at given times.
    loss_gap_integral : the integrated gap.

    References
    ----------
    Ye et al., eq. (3.1).

    Examples
    --------
    The zero score: int_{0.1}^{1} 2/sigma_t^2 dt = 2 log((e - 1)/(e^{0.1} - 1)):

    >>> X = np.zeros((20, 2))
    >>> val, se = dsm_loss(X, lambda x, t: 0 * x, 0.1, 1.0, n_noise=50)
    >>> exact = 2 * (math.log(math.e - 1) - math.log(math.expm1(0.1)))
    >>> round(exact, 4), bool(abs(val - exact) < 4 * se)
    (5.587, True)
    """
    sched = _schedule(schedule)
    times, weights = _time_nodes(t0, T, sched, n_times, method, seed)
    est = dsm_loss_t(X, score, times, sched, n_noise=n_noise, seed=seed)
    return _integrated(est, weights, method)


def loss_gap_integral(
    X: ArrayLike,
    score: Any,
    t0: float,
    T: float,
    schedule: Schedule | None = None,
    *,
    n_times: int = 24,
    method: str = "gauss-log",
    n_noise: int = 8,
    seed: int = 0,
    backend: str = "numba",
) -> tuple[float, float]:
    r"""L(s) - L(s_hat) = int_{t0}^{T} Loss-Gap_t(s) dt, eq. (3.1) and Sec. 4.2.

    Ye et al., display after Thm 4.3: E_D[L(grad log p_t) - L(grad log p_hat_t)] =
    int E_D[Loss-Gap_t] dt >~ d log(1/t0) + (t1 - t0) tr Sigma. Common random numbers at each
    node; the quadrature as in :func:`dsm_loss`.

    Parameters
    ----------
    X : array_like, shape (n, d)
        The training points.
    score : callable or distribution
        ``score(x, t)`` or an object with ``score_t(x, t, schedule)``.
    t0, T : float
        The time interval, 0 < t0 < T.
    schedule : Schedule, optional
        Default :class:`~diffmem_theory.core.schedules.VPExp`.
    n_times, method, n_noise, seed
        As in :func:`dsm_loss`.
    backend : str, default "numba"
        Backend of the empirical score.

    Returns
    -------
    (float, float)
        The estimate and its standard error.

    See Also
    --------
    loss_gap_integral_asymptotic : the closed form for Gaussian components.
    loss_gap_integral_asymptotic_mp : its mpmath twin.
    diffmem_theory.fisher.symbolic.gap_integral_expr : its sympy derivation.

    References
    ----------
    Ye et al., Sec. 4.2 (display after Thm 4.3).

    Examples
    --------
    >>> from diffmem_theory.core.distributions import IsotropicGaussianMixture
    >>> rng = np.random.default_rng(0)
    >>> gmm = IsotropicGaussianMixture(rng.normal(0.0, 3.0, (4, 8)), 1.0)
    >>> X, _ = gmm.sample(100, rng)
    >>> val, se = loss_gap_integral(X, gmm, 1e-3, 0.3, n_times=8, n_noise=4)
    >>> closed = float(loss_gap_integral_asymptotic(1e-3, 0.3, np.ones(8)))
    >>> round(closed, 3), bool(abs(val / closed - 1) < 0.03)
    (44.464, True)
    """
    sched = _schedule(schedule)
    times, weights = _time_nodes(t0, T, sched, n_times, method, seed)
    est = loss_gap_t(X, score, times, sched, n_noise=n_noise, seed=seed, backend=backend)
    return _integrated(est, weights, method)


def expected_loss_gap_t(
    mixture: Any,
    n: int,
    t: ArrayLike,
    schedule: Schedule | None = None,
    *,
    n_datasets: int = 4,
    n_noise: int = 5,
    seed: int = 0,
    backend: str = "numba",
) -> tuple[np.ndarray, np.ndarray]:
    r"""E_D[Loss-Gap_t] over datasets of ``n`` i.i.d. draws from ``mixture`` (Thm 4.3's mean).

    Ye et al., Thm 4.3: the expectation over the dataset D of the loss gap of the true score
    (the mixture's own ``score_t``). Dataset j and its noise come from independent streams of
    ``seed``; the standard error is the spread over datasets, noise included.

    Parameters
    ----------
    mixture : distribution
        Needs ``sample(n, rng)``, ``dim`` and ``score_t`` (a ``TypeError`` otherwise), e.g. a
        :class:`~diffmem_theory.core.distributions.GaussianMixture`.
    n : int
        Points per dataset.
    t : float or array_like, shape (T,)
        Times.
    schedule : Schedule, optional
        Default :class:`~diffmem_theory.core.schedules.VPExp`.
    n_datasets : int, default 4
        Datasets averaged, 2 to 10^4.
    n_noise : int, default 5
        Draws of Z per training point.
    seed : int, default 0
        Seed of the datasets and their noise.
    backend : str, default "numba"
        Backend of the empirical score.

    Returns
    -------
    (ndarray, ndarray)
        Mean and standard error over the datasets, one per time.

    See Also
    --------
    loss_gap_t : the gap of one dataset.
    loss_gap_asymptotic_gaussian : its leading-order value.
    thm_4_3_rhs_shape : the shape of the lower bound.

    References
    ----------
    Ye et al., Thm 4.3.

    Examples
    --------
    >>> from diffmem_theory.core.distributions import IsotropicGaussianMixture
    >>> means = np.zeros((2, 8))
    >>> means[:, 0] = [5.0, -5.0]
    >>> gmm = IsotropicGaussianMixture(means, 1.0)
    >>> mean, se = expected_loss_gap_t(gmm, 20, 0.05, n_datasets=3)
    >>> round(float(loss_gap_asymptotic_gaussian(0.05, np.ones(8))), 3)
    156.033
    >>> bool(abs(mean[0] - 156.033) < 4 * se[0])
    True
    """
    m = check_int(n_datasets, "n_datasets", low=2, high=_MAX_DATASETS)
    count = check_int(n, "n", low=1)
    if not (callable(getattr(mixture, "sample", None)) and hasattr(mixture, "dim")):
        raise TypeError(
            "mixture must be a mixture with a sample(n, rng) method and a dim (e.g. a "
            f"GaussianMixture), got {type(mixture).__name__}"
        )
    check_allocation(
        count * int(mixture.dim), f"a dataset of n = {count} points (d = {mixture.dim})"
    )
    base = np.random.SeedSequence(check_int(seed, "seed", low=0), spawn_key=(2**30 + 1,))
    gaps = []
    for child in base.spawn(m):
        data_seq, noise_seq = child.spawn(2)
        X, _ = mixture.sample(count, np.random.default_rng(data_seq))
        noise_seed = int(noise_seq.generate_state(1)[0])
        gaps.append(
            loss_gap_t(
                X, mixture, t, schedule, n_noise=n_noise, seed=noise_seed, backend=backend
            ).mean
        )
    g = np.array(gaps)
    return g.mean(axis=0), g.std(axis=0, ddof=1) / math.sqrt(m)


@dataclass(frozen=True, eq=False)
class LossGapCurve:
    """Loss-Gap_t against t for one dataset, with the closed form and the Thm 4.3 shape.

    ``gap``: the Monte Carlo estimate (:func:`loss_gap_t`, score units); ``closed_form``:
    sum_k pi_k F_t(Sigma_k) (:func:`loss_gap_asymptotic_gaussian`); ``thm_4_3_shape``:
    d/sigma_t^2 + sum_k pi_k tr Sigma_k (:func:`thm_4_3_rhs_shape`, c = 1).
    """

    times: np.ndarray
    gap: LossEstimate
    closed_form: np.ndarray
    thm_4_3_shape: np.ndarray


def loss_gap_curve(
    X: ArrayLike,
    mixture: Any,
    times: ArrayLike,
    schedule: Schedule | None = None,
    *,
    n_noise: int = 20,
    seed: int = 0,
    backend: str = "numba",
) -> LossGapCurve:
    r"""Loss-Gap_t(grad log p_t) at ``times`` with its closed form and the Thm 4.3 shape.

    Ye et al., Sec. 4 and Thm 4.3, for data from a Gaussian ``mixture``: the Monte Carlo gap
    of the mixture's true score over the empirical score of ``X`` (one dataset), the
    leading-order value sum_k pi_k (alpha_t^2/sigma_t^2) tr(Sigma_k (alpha_t^2 Sigma_k +
    sigma_t^2 I)^{-1}) (:func:`loss_gap_asymptotic_gaussian`) and d/sigma_t^2 + tr Sigma. For
    log-log plots of the gap against t.

    Parameters
    ----------
    X : array_like, shape (n, d)
        The training points (drawn from ``mixture``).
    mixture : IsotropicGaussianMixture or GaussianMixture
        The data law; its ``score_t`` is the true score.
    times : array_like, shape (T,)
        Times.
    schedule : Schedule, optional
        Default :class:`~diffmem_theory.core.schedules.VPExp`.
    n_noise, seed, backend
        As in :func:`loss_gap_t`.

    Returns
    -------
    LossGapCurve
        ``times``, ``gap`` (Monte Carlo), ``closed_form`` and ``thm_4_3_shape``.

    See Also
    --------
    loss_gap_t, loss_gap_asymptotic_gaussian, thm_4_3_rhs_shape

    References
    ----------
    Ye et al., Sec. 4 and Thm 4.3.

    Examples
    --------
    >>> from diffmem_theory.core.distributions import IsotropicGaussianMixture
    >>> rng = np.random.default_rng(0)
    >>> gmm = IsotropicGaussianMixture(rng.normal(0.0, 2.0, (4, 16)), 1.0)
    >>> X, _ = gmm.sample(200, rng)
    >>> curve = loss_gap_curve(X, gmm, [0.01, 0.1], n_noise=4)
    >>> np.round(curve.closed_form, 3).tolist(), np.round(curve.thm_4_3_shape, 2).tolist()
    ([1592.013, 152.133], [1624.01, 184.13])
    >>> bool(np.all(np.abs(curve.gap.mean / curve.closed_form - 1) < 0.03))
    True
    """
    sched = _schedule(schedule)
    weights, spectra = _mixture_spectra(mixture)
    gap = loss_gap_t(X, mixture, times, sched, n_noise=n_noise, seed=seed, backend=backend)
    closed = sum(
        w * loss_gap_asymptotic_gaussian(gap.times, lam, sched)
        for w, lam in zip(weights, spectra, strict=True)
    )
    shape = thm_4_3_rhs_shape(gap.times, spectra.shape[1], float(weights @ spectra.sum(axis=1)))
    return LossGapCurve(gap.times, gap, np.asarray(closed), shape)


# ----------------------------------------------------------------------------------------------
# Closed forms for Gaussian components (our leading-order evaluation) and their mpmath twins
# ----------------------------------------------------------------------------------------------


def loss_gap_asymptotic_gaussian(
    t: ArrayLike, cov: ArrayLike, schedule: Schedule | None = None
) -> np.ndarray:
    r"""F_t = (alpha_t^2/sigma_t^2) tr(Sigma (alpha_t^2 Sigma + sigma_t^2 I)^{-1}).

    The leading-order loss gap of Ye et al., Thm 4.3, for Gaussian components N(mu_k, Sigma).
    The formula is ours: it evaluates the final display of the proof (App. A.2.3) exactly
    where the paper keeps only its order. In the regime of the theorem the empirical
    posterior of a noised training point X_t = alpha_t x_i + sigma_t Z sits on x_i and the
    true one on its component, so s_hat(X_t) = -Z/sigma_t and s(X_t) = -(alpha_t^2 Sigma +
    sigma_t^2 I)^{-1}(alpha_t eps_i + sigma_t Z) with eps_i = x_i - mu_k ~ N(0, Sigma), and
    E|s_hat - s|^2 over eps_i and Z is F_t (:mod:`diffmem_theory.fisher.symbolic` derives it).

    * It **equals** E_D[Loss-Gap_t] for one Gaussian N(mu, Sigma) and n = 1 training point, at
      every t (both posteriors are then exactly as above);
    * for a K-component mixture with this common Sigma it is the **leading-order** value of
      E_D[Loss-Gap_t] (and of Loss-Gap_t of one dataset, which concentrates around it) while
      sigma_t/alpha_t << min pairwise sample distance / sqrt(log n) and << Delta_min. With
      component covariances Sigma_k it is sum_k pi_k F_t(Sigma_k). It is not a bound: at
      larger t the gap falls below it (:func:`reference_isotropic`, t = 1: 15.27 vs 18.62).

    Per eigenvalue lambda of Sigma: psi_t lambda/(alpha_t^2 lambda + sigma_t^2), psi_t =
    alpha_t^2/sigma_t^2; F_t -> r/sigma_t^2 as t -> 0 for rank r. Sigma = s^2 I gives
    d alpha^2 s^2/(sigma^2 (alpha^2 s^2 + sigma^2)), and s = 1 (VPExp) gives d/(e^t - 1). In x0
    units (times sigma_t^4/alpha_t^2) it is Buchanan et al.'s (paper 000) Thm 3.1 excess loss
    d s^2 sigma^2/(alpha^2 s^2 + sigma^2). Evaluated in log space (log-sum-exp over the
    eigenvalues).

    Parameters
    ----------
    t : array_like
        Times, any shape (the output has its shape).
    cov : array_like
        The spectrum of Sigma (shape ``(d,)``, entries >= 0) or the symmetric PSD matrix.
    schedule : Schedule, optional
        Any schedule; default :class:`~diffmem_theory.core.schedules.VPExp` (the paper's).

    Returns
    -------
    ndarray
        F_t, shape of ``t``; ``ValueError`` where it exceeds float64 (t too small).

    See Also
    --------
    loss_gap_asymptotic_gaussian_mp : the mpmath twin.
    diffmem_theory.fisher.symbolic.gap_direction_expr : the sympy derivation.
    loss_gap_integral_asymptotic : its time integral.
    loss_gap_t : the Monte Carlo gap it approximates.

    References
    ----------
    Ye et al., Thm 4.3 and App. A.2.3; Buchanan et al., Thm 3.1 (the x0-units form).

    Examples
    --------
    >>> print(np.round(loss_gap_asymptotic_gaussian([0.01, 0.1, 0.5], np.ones(32)), 3))
    [3184.027  304.267   49.328]
    >>> print(np.round(loss_gap_asymptotic_gaussian(0.5, 4.0 * np.eye(32)), 2))   # s^2 = 4
    69.98
    """
    sched = _schedule(schedule)
    lam = covariance_spectrum(cov)
    tt = sched.check_time(as_float_array(t, "t", dtype=np.float64))
    with np.errstate(divide="ignore"):  # lambda = 0 contributes exp(-inf) = 0
        log_terms = (
            sched.log_snr(tt)[..., None] + np.log(lam) - _log_noised_variances(tt, lam, sched)
        )
    return _finite_exp(logsumexp(log_terms, axis=-1), "F_t")


def _finite_exp(log_value: np.ndarray, what: str) -> np.ndarray:
    """exp(log_value), or ``ValueError`` where it exceeds the float64 range."""
    if np.any(log_value > _LOG_MAX):
        raise ValueError(
            f"{what} overflows float64 (log value {float(np.max(log_value)):.6g} > "
            f"{_LOG_MAX:.6g}); t is too small"
        )
    return np.exp(log_value)


def _log_noised_variances(t: np.ndarray, lam: np.ndarray, sched: Schedule) -> np.ndarray:
    """log(alpha_t^2 lambda + sigma_t^2), shape t.shape + (d,), finite for lambda = 0."""
    with np.errstate(divide="ignore"):
        log_lam = np.log(lam)
    log_a2 = (2.0 * sched.log_alpha(t))[..., None]
    return np.logaddexp(log_a2 + log_lam, sched.log_sigma2(t)[..., None])


def loss_gap_integral_asymptotic(
    t0: ArrayLike, t1: ArrayLike, cov: ArrayLike, schedule: VPExp | None = None
) -> np.ndarray:
    r"""int_{t0}^{t1} F_t dt in closed form (F_t of :func:`loss_gap_asymptotic_gaussian`).

    The leading order of Ye et al.'s display after Thm 4.3 (int E_D[Loss-Gap_t] dt >~
    d log(1/t0) + (t1 - t0) tr Sigma). Our derivation: with u = e^{-beta t} (VPExp; beta = 1 in
    the paper), F_t dt = -lambda du/(beta (1 - u)(1 + (lambda - 1) u)) per eigenvalue lambda_j
    of Sigma, and partial fractions give

        int F dt = (1/beta) sum_j [log(sigma_{t1}^2/sigma_{t0}^2)
                                   + log((alpha_{t0}^2 lambda_j + sigma_{t0}^2)
                                         / (alpha_{t1}^2 lambda_j + sigma_{t1}^2))],

    evaluated in log space (log1mexp, logaddexp); Sigma = I gives d log(sigma_{t1}^2/
    sigma_{t0}^2) ~ d log(1/t0).

    Parameters
    ----------
    t0, t1 : array_like
        Ends of the interval, ``t0 <= t1``, broadcast together.
    cov : array_like
        The spectrum of Sigma (shape ``(d,)``) or the PSD matrix.
    schedule : VPExp, optional
        Default ``VPExp()`` (beta = 1); a ``TypeError`` for other schedules.

    Returns
    -------
    ndarray
        The integral, broadcast shape of ``t0`` and ``t1``.

    See Also
    --------
    loss_gap_integral_asymptotic_mp : the mpmath twin.
    diffmem_theory.fisher.symbolic.gap_integral_expr : the sympy derivation.
    loss_gap_integral : the Monte Carlo integral.

    References
    ----------
    Ye et al., Sec. 4.2 (display after Thm 4.3).

    Examples
    --------
    >>> round(float(loss_gap_integral_asymptotic(1e-3, 0.5, np.ones(32))), 4)
    191.2161
    """
    sched = _vp_exp(schedule)
    lam = covariance_spectrum(cov)
    lo = sched.check_time(as_float_array(t0, "t0", dtype=np.float64), "t0")
    hi = sched.check_time(as_float_array(t1, "t1", dtype=np.float64), "t1")
    if np.any(hi < lo):
        raise ValueError(f"t1 must be >= t0, got t0 = {t0!r}, t1 = {t1!r}")
    lo, hi = np.broadcast_arrays(lo, hi)
    per_direction = (
        (sched.log_sigma2(hi) - sched.log_sigma2(lo))[..., None]
        + _log_noised_variances(lo, lam, sched)
        - _log_noised_variances(hi, lam, sched)
    )
    return per_direction.sum(axis=-1) / sched.beta


def _mp_schedule(t: mpmath.mpf, beta: mpmath.mpf) -> tuple[mpmath.mpf, mpmath.mpf]:
    """(alpha_t^2, sigma_t^2) = (e^{-beta t}, -expm1(-beta t)) at the working precision."""
    return mpmath.exp(-beta * t), -mpmath.expm1(-beta * t)


def loss_gap_asymptotic_gaussian_mp(
    t: Any, eigvals: ArrayLike, schedule: VPExp | None = None, *, dps: int = _DEFAULT_DPS
) -> mpmath.mpf:
    r"""mpmath twin of :func:`loss_gap_asymptotic_gaussian` at ``dps`` digits (VPExp only).

    F_t = sum_j (alpha_t^2/sigma_t^2) lambda_j/(alpha_t^2 lambda_j + sigma_t^2), alpha_t^2 =
    e^{-beta t}, sigma_t^2 = 1 - e^{-beta t}.

    Parameters
    ----------
    t : float, int, str or mpf
        A time > 0 (a decimal string is read exactly).
    eigvals : sequence
        The eigenvalues of Sigma (>= 0; floats, ints, decimal strings or mpf).
    schedule : VPExp, optional
        Default ``VPExp()``.
    dps : int, default 50
        Decimal digits, at most 10^4.

    Returns
    -------
    mpmath.mpf

    See Also
    --------
    loss_gap_asymptotic_gaussian : the float64 function.
    diffmem_theory.fisher.symbolic.gap_vp_expr : the sympy expression.

    References
    ----------
    Ye et al., Thm 4.3 (leading order, see :func:`loss_gap_asymptotic_gaussian`).

    Examples
    --------
    >>> print(mpmath.nstr(loss_gap_asymptotic_gaussian_mp("0.01", [1] * 32, dps=30), 20))
    3184.026666622222328
    """
    beta = mpmath.mpf(_vp_exp(schedule).beta)
    with mpmath.workdps(check_dps(dps)):
        a2, s2 = _mp_schedule(pos_mpf(t, "t"), beta)
        lam = _eigvals_mp(eigvals)
        return +mpmath.fsum(a2 * v / (s2 * (a2 * v + s2)) for v in lam)


def _eigvals_mp(eigvals: ArrayLike) -> list[mpmath.mpf]:
    lam = vec(eigvals, "eigvals")
    if not lam or any(v < 0 for v in lam):
        raise ValueError("eigvals must be a non-empty 1-D spectrum with entries >= 0")
    return lam


def loss_gap_integral_asymptotic_mp(
    t0: Any, t1: Any, eigvals: ArrayLike, schedule: VPExp | None = None, *, dps: int = _DEFAULT_DPS
) -> mpmath.mpf:
    r"""mpmath twin of :func:`loss_gap_integral_asymptotic` at ``dps`` digits (VPExp only).

    (1/beta) sum_j [log(sigma_{t1}^2/sigma_{t0}^2) + log((alpha_{t0}^2 lambda_j + sigma_{t0}^2)/
    (alpha_{t1}^2 lambda_j + sigma_{t1}^2))], 0 < t0 <= t1.

    Parameters
    ----------
    t0, t1 : float, int, str or mpf
        Ends of the interval, 0 < t0 <= t1.
    eigvals : sequence
        The eigenvalues of Sigma (>= 0).
    schedule : VPExp, optional
        Default ``VPExp()``.
    dps : int, default 50
        Decimal digits, at most 10^4.

    Returns
    -------
    mpmath.mpf

    See Also
    --------
    loss_gap_integral_asymptotic : the float64 function.
    diffmem_theory.fisher.symbolic.gap_integral_expr : the sympy derivation.

    References
    ----------
    Ye et al., Sec. 4.2 (display after Thm 4.3).

    Examples
    --------
    >>> print(mpmath.nstr(loss_gap_integral_asymptotic_mp("0.001", "0.5", [1] * 32, dps=30), 15))
    191.216099447945
    """
    beta = mpmath.mpf(_vp_exp(schedule).beta)
    with mpmath.workdps(check_dps(dps)):
        lo, hi = pos_mpf(t0, "t0"), pos_mpf(t1, "t1")
        if hi < lo:
            raise ValueError(f"t1 must be >= t0, got t0 = {t0!r}, t1 = {t1!r}")
        (a0, s0), (a1, s1) = _mp_schedule(lo, beta), _mp_schedule(hi, beta)
        terms = (
            mpmath.log(s1 / s0) + mpmath.log((a0 * v + s0) / (a1 * v + s1))
            for v in _eigvals_mp(eigvals)
        )
        return +mpmath.fsum(terms) / beta


# ----------------------------------------------------------------------------------------------
# Theorem 4.3
# ----------------------------------------------------------------------------------------------


def thm_4_3_rhs_shape(
    t: ArrayLike,
    d: ArrayLike,
    trace_cov: ArrayLike,
    c: float = 1.0,
    schedule: Schedule | None = None,
) -> np.ndarray:
    r"""The shape c (d/sigma_t^2 + tr Sigma) of the lower bound of Thm 4.3.

    Ye et al., Thm 4.3: E_D[Loss-Gap_t] = Omega(d sigma_t^{-2} + tr(Sigma)) on [t0, t1]; ``c``
    stands for the unspecified constant. Caveat (ours, from the proof's final display): the
    proof's tr Sigma term is of C^2 tr Sigma type -- for Gaussian components (C = 1/s^2) the
    within-component term of F_t is alpha_t^2 tr(Sigma M_t^2), M_t = (alpha_t^2 Sigma +
    sigma_t^2 I)^{-1}, which tends to tr(Sigma^{-1})/alpha_t^2 and so *decreases* with the
    variance; under Assumption 4.2 (tr Sigma = O(d)) it never dominates d/sigma_t^2 on
    [t0, t1].

    Parameters
    ----------
    t : array_like
        Times.
    d : array_like
        Dimension, > 0.
    trace_cov : array_like
        tr Sigma, the trace of the component covariance, >= 0.
    c : float, default 1
        The constant of the Omega, > 0.
    schedule : Schedule, optional
        Default :class:`~diffmem_theory.core.schedules.VPExp`.

    Returns
    -------
    ndarray
        c (d/sigma_t^2 + tr Sigma), broadcast over the arguments; ``ValueError`` on overflow.

    See Also
    --------
    thm_4_3_conditions : the hypotheses of the theorem.
    loss_gap_asymptotic_gaussian : the leading-order value of the gap.

    References
    ----------
    Ye et al., Thm 4.3.

    Examples
    --------
    >>> print(np.round(thm_4_3_rhs_shape([0.01, 0.1], 32, 32.0), 2))
    [3248.03  368.27]
    """
    sched = _schedule(schedule)
    tt = sched.check_time(as_float_array(t, "t", dtype=np.float64))
    dd = check_positive(d, "d")
    tr = check_positive(trace_cov, "trace_cov", allow_zero=True)
    cc = check_scalar(c, "c", low=0.0, low_open=True)
    with np.errstate(over="ignore"):
        out = cc * (dd / sched.sigma2(tt) + tr)
    if not np.all(np.isfinite(out)):
        raise ValueError(
            "c (d/sigma_t^2 + tr Sigma) overflows float64; t is too small or d too large"
        )
    return out


class _Conditions(NamedTuple):
    separation: bool
    sample_size: bool
    components: bool
    early: bool
    late: bool
    ordered: bool


class Thm43Conditions(_Conditions):
    """The hypotheses of Thm 4.3 with explicit constants (see :func:`thm_4_3_conditions`).

    Every field is a bool (``True``/``False`` or a NumPy bool; ``TypeError`` otherwise).

    >>> Thm43Conditions(True, True, True, True, False, True).holds
    False
    """

    __slots__ = ()

    def __new__(cls, *flags: bool, **named: bool) -> Thm43Conditions:
        values = dict(zip(_Conditions._fields, flags, strict=False), **named)
        if set(values) != set(_Conditions._fields) or len(flags) > len(_Conditions._fields):
            raise TypeError(f"Thm43Conditions takes the fields {list(_Conditions._fields)}")
        return super().__new__(cls, **{k: check_bool(v, k) for k, v in values.items()})

    @property
    def holds(self) -> bool:
        """All hypotheses hold."""
        return all(self)


def thm_4_3_conditions(
    d: int,
    n: int,
    K: int,
    delta_min: float,
    t0: float,
    t1: float,
    *,
    c_sep: float = 1.0,
    c_n: float = 1.0,
    k_power: float = 1.0,
    c_0: float = 1.0,
    c_1: float = 1.0,
    schedule: Schedule | None = None,
) -> Thm43Conditions:
    r"""The hypotheses of Thm 4.3, with the constants of its O / Omega / Theta made explicit.

    Ye et al., Thm 4.3; each constant is an argument (defaults 1 are illustrative):

    * ``separation``: Delta_min >= c_sep sqrt(d) ("Delta_min = Theta(sqrt(d))" with a large
      enough constant; the proof needs c_sep = 2 (sqrt(y_u(delta/n)/C) + sqrt(y_l(delta/n)/C)/2)
      + 1, with y_u, y_l of Lemma A.2);
    * ``sample_size``: log n <= c_n d;
    * ``components``: K <= d^k_power (the proof takes K = poly(d));
    * ``early``: log sigma_{t0} >= -c_0 d;
    * ``late``: log sigma_{t1} <= -c_1 log d;
    * ``ordered``: t0 <= t1.

    Parameters
    ----------
    d, n, K : int
        Dimension, sample size and number of components, >= 1.
    delta_min : float
        The smallest distance between component means, >= 0.
    t0, t1 : float
        The time interval of the theorem.
    c_sep, c_n, k_power, c_0, c_1 : float, default 1
        The constants of the hypotheses, > 0.
    schedule : Schedule, optional
        Default :class:`~diffmem_theory.core.schedules.VPExp`.

    Returns
    -------
    Thm43Conditions
        One bool per hypothesis; ``.holds`` is their conjunction.

    See Also
    --------
    thm_4_3_rhs_shape : the shape of the bound.

    References
    ----------
    Ye et al., Thm 4.3.

    Examples
    --------
    >>> cond = thm_4_3_conditions(d=32, n=1000, K=8, delta_min=20.0, t0=1e-4, t1=5e-4)
    >>> cond.holds, cond.late
    (True, True)
    >>> thm_4_3_conditions(32, 1000, 8, 20.0, 1e-3, 0.5).late     # sigma_0.5 = 0.63 > 1/32
    False
    """
    sched = _schedule(schedule)
    dim = check_int(d, "d", low=1)
    size = check_int(n, "n", low=1)
    k = check_int(K, "K", low=1)
    sep = check_scalar(delta_min, "delta_min", low=0.0)
    times = sched.check_time(np.array([t0, t1], dtype=np.float64), "[t0, t1]")
    c = [
        check_scalar(v, name, low=0.0, low_open=True)
        for v, name in (
            (c_sep, "c_sep"),
            (c_n, "c_n"),
            (k_power, "k_power"),
            (c_0, "c_0"),
            (c_1, "c_1"),
        )
    ]
    log_sigma = 0.5 * sched.log_sigma2(times)
    log_k_max = c[2] * math.log(dim)  # K <= d^k_power, compared in logs where d^k_power overflows
    return Thm43Conditions(
        separation=bool(sep >= c[0] * math.sqrt(dim)),
        sample_size=bool(math.log(size) <= c[1] * dim),
        components=bool(k <= dim ** c[2] if log_k_max < 700.0 else math.log(k) <= log_k_max),
        early=bool(log_sigma[0] >= -c[3] * dim),
        late=bool(log_sigma[1] <= -c[4] * math.log(dim)),
        ordered=bool(times[0] <= times[1]),
    )
