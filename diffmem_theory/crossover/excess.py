r"""Training-loss approximations and the crossover point of Buchanan et al. (paper 000).

For an isotropic K-component Gaussian mixture with variance ``s2 = sigma_*^2`` in high dimension
``d`` (Sec. 3), the excess training losses over the memorizing denoiser ``xbar_mem`` are

* generalizing denoiser ``xbar_*`` (Thm 3.1 / F.1): ``d s2 / (psi_t s2 + 1)``, coefficient 1;
* partially memorizing ``xbar_pmem,M`` (Thm 3.2 / F.3): ``C (1 - M/N) d s2``, ``C in [1, 2]``.

Their weighted difference ``E_t[lambda(t) {C (1 - M/N) d s2 - d s2/(psi_t s2 + 1)}]`` decreases in
``M`` and vanishes at the crossover of eq. (14),

    M_* = N {1 - E_t[lambda/(psi_t s2 + 1)] / (C E_t[lambda])},

linear in ``N`` and independent of ``d`` and ``K``. This module evaluates all of it for any loss
weighting ``lambda``: continuous ``t ~ Unif(t_min, t_max)`` by quadrature (weightings such as
``lambda = psi_t`` that are not integrable at ``t -> 0`` give the limit ``M_* = N``; ``mpmath``
takes over where float64 overflows), on a discrete time grid, and in the argmin form of Sec. 4.1.
The non-asymptotic residuals of Thm F.1 and Prop F.2 are exposed with their unspecified numerical
constants as arguments.

The constant ``C`` of Thm 3.2 lies in [1, 2]; every function taking ``C`` accepts any ``C > 0``
(a measured :func:`empirical_constant` may fall outside) but **warns** with
:class:`~diffmem_theory._validation.OutOfRangeWarning` outside [1, 2], where the theorem makes
no claim.

Weightings
----------
A weighting is one of the unit names ``"x0"`` (``lambda = 1``), ``"eps"`` (``lambda = psi_t``, the
noise-prediction weighting used for training), ``"score"`` (``alpha_t^2/sigma_t^4``) and ``"v"``
(``((alpha_t^2 + sigma_t^2)/sigma_t)^2``) -- the factor that turns an x0 loss into that unit's loss
(:func:`diffmem_theory.core.schedules.loss_scale`) -- or a callable ``lambda(t)`` of a float64
array, or (on a grid only) an array of non-negative values ``lambda(t_l)``.

>>> round(crossover_ratio("x0", C=1.0), 6)   # continuous t: 1 - 1/(3C) for VPTrig, s2 = 1
0.666667
>>> round(crossover_ratio("x0", times=VPTrig().time_grid(), C=1.0), 5)   # the 26-point grid
0.66036
"""

from __future__ import annotations

import math
from typing import Any

import mpmath
import numpy as np
from numpy.typing import ArrayLike
from scipy import integrate
from scipy.special import expit

from diffmem_theory._validation import (
    as_float_array,
    check_allocation,
    check_dps,
    check_int,
    check_positive,
    check_scalar,
    finite_result,
    warn_out_of_range,
)
from diffmem_theory.core.losses import Weighting, grid_weights, log_loss_weighting
from diffmem_theory.core.schedules import Schedule, VPTrig, as_schedule

__all__ = [
    "approx_loss_difference",
    "approx_losses",
    "crossover_M",
    "crossover_argmin",
    "crossover_ratio",
    "empirical_constant",
    "gen_excess_loss",
    "kappa",
    "pmem_excess_loss",
    "prop_f_2_residual",
    "thm_f_1_residual",
]


# Local power-law exponent of lambda at t -> 0 is read off between these two times; a weighting
# behaving like t^p with p <= -1 + _DIVERGENCE_TOL is not integrable at 0.
_PROBE_TIMES = (1e-60, 1e-30)
_DIVERGENCE_TOL = 1e-6
_MP_PIECE = 40  # length in u = log t of one mpmath quadrature piece
_LOG_TINY = math.log(np.finfo(np.float64).tiny)


def _var_star(var_star: ArrayLike) -> np.ndarray:
    return check_positive(var_star, "var_star")


def _constant_c(C: float) -> float:
    """The constant of Thm 3.2: any C > 0 is evaluated; outside [1, 2] with a warning."""
    c = check_scalar(C, "C", low=0.0, low_open=True)
    if not 1.0 <= c <= 2.0:
        warn_out_of_range(
            f"C = {c!r} is outside [1, 2], the range of the constant in Thm 3.2 / F.3 of paper "
            "000 (excess loss C (1 - M/N) d s2); the value is extrapolated",
            stacklevel=4,
        )
    return c


# ----------------------------------------------------------------------------------------------
# Theorems 3.1 and 3.2: the excess losses
# ----------------------------------------------------------------------------------------------


def _gen_fraction(t: np.ndarray, s2: np.ndarray, schedule: Schedule) -> np.ndarray:
    """1/(psi_t s2 + 1) = sigmoid(-(log psi_t + log s2)), finite for every t in the domain."""
    return expit(-(schedule.log_snr(t) + np.log(s2)))


def _log_gen_excess(t: np.ndarray, d: np.ndarray, s2: np.ndarray, schedule: Schedule) -> Any:
    """log(d s2 / (psi_t s2 + 1)) = log d + log s2 - softplus(log psi_t + log s2)."""
    x = schedule.log_snr(t) + np.log(s2)
    return np.log(d) + np.log(s2) - np.logaddexp(0.0, x)


def _exp_finite(log_value: Any, what: str) -> np.ndarray:
    """e^log_value, ``ValueError`` where it exceeds float64."""
    with np.errstate(over="ignore"):
        return finite_result(np.exp(log_value), what)


def gen_excess_loss(
    t: ArrayLike, d: ArrayLike, var_star: ArrayLike = 1.0, schedule: Schedule | None = None
) -> np.ndarray:
    r"""Excess training loss of the generalizing denoiser over the memorizing one (Thm 3.1).

    Buchanan et al. (paper 000), Thm 3.1 / Thm F.1:

        E[L_{N,t}(xbar_*) - L_{N,t}(xbar_mem)] ~ d s2 / (psi_t s2 + 1)
                                               = d s2 sigma_t^2 / (alpha_t^2 s2 + sigma_t^2),

    the exact MMSE of the per-cluster (nominal) denoiser. For VPTrig and ``s2 = 1`` it is ``d t^2``.
    Vectorized over ``t``, ``d`` and ``var_star`` (broadcast); ``schedule`` defaults to VPTrig.

    Parameters
    ----------
    t : float or array_like
        Diffusion time(s) in the schedule's domain (``(0, 1)`` for VPTrig).
    d : float or array_like
        Data dimension, ``d > 0``.
    var_star : float or array_like, default 1.0
        The cluster variance ``s2 = sigma_*^2 > 0`` (a variance).
    schedule : Schedule, optional
        The noise schedule; default :class:`~diffmem_theory.core.schedules.VPTrig`.

    Returns
    -------
    ndarray
        ``d s2 / (psi_t s2 + 1)``, broadcast over the arguments.

    See Also
    --------
    pmem_excess_loss : the partially memorizing excess loss (Thm 3.2).
    thm_f_1_residual : the non-asymptotic residual of Thm F.1.
    diffmem_theory.crossover.symbolic.gen_excess_expr : the sympy twin.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Theorem 3.1 (Sec. 3) and Theorem F.1 (App. F).

    Examples
    --------
    >>> round(float(gen_excess_loss(0.36028, 50)), 4)   # t_16, d = 50: 50 t^2
    6.4901
    """
    sched = as_schedule(schedule)
    tt = sched.check_time(t)
    dd = check_positive(d, "d")
    s2 = _var_star(var_star)
    return _exp_finite(_log_gen_excess(tt, dd, s2, sched), "the excess loss d s2/(psi_t s2 + 1)")


def _ratio_mn(M: ArrayLike, N: ArrayLike) -> np.ndarray:
    m = as_float_array(M, "M")
    n = check_positive(N, "N")
    if np.any(m < 0) or np.any(m > n):
        raise ValueError(f"M must lie in [0, N] (N = {N!r}), got {M!r}")
    return m / n


def pmem_excess_loss(
    M: ArrayLike, N: ArrayLike, d: ArrayLike, var_star: ArrayLike = 1.0, C: float = 2.0
) -> np.ndarray:
    r"""Excess training loss of the partially memorizing denoiser over the memorizing one (Thm 3.2).

    Buchanan et al. (paper 000), Thm 3.2 / Thm F.3:

        E[L_{N,t}(xbar_pmem,M) - L_{N,t}(xbar_mem)] ~ C (1 - M/N) d s2,   1 <= C <= 2,

    independent of ``t`` in the high-SNR range. ``C = 2`` (default) is the theorem's upper
    constant, used in the paper's Fig. 1; the authors' evaluation script uses ``C = 1``, and the
    empirical constant (:func:`empirical_constant`) depends on ``M`` (1.4-2.0 for d = 50, K = 12,
    N = 200). ``0 <= M <= N``; vectorized with broadcasting. ``C`` outside [1, 2] (where the
    theorem makes no claim) is evaluated with an
    :class:`~diffmem_theory._validation.OutOfRangeWarning`.

    Parameters
    ----------
    M : float or array_like
        Number of memorized training points, ``0 <= M <= N``.
    N : float or array_like
        Number of training points, ``N > 0``.
    d : float or array_like
        Data dimension, ``d > 0``.
    var_star : float or array_like, default 1.0
        The cluster variance ``s2 = sigma_*^2 > 0`` (a variance).
    C : float, default 2.0
        The constant of Thm 3.2, in [1, 2] (other ``C > 0`` warn with ``OutOfRangeWarning``).

    Returns
    -------
    ndarray
        ``C (1 - M/N) d s2``, broadcast over the arguments.

    See Also
    --------
    gen_excess_loss : the generalizing excess loss (Thm 3.1).
    empirical_constant : the constant ``C`` measured from losses.
    diffmem_theory.crossover.symbolic.pmem_excess_expr : the sympy twin.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Theorem 3.2 (Sec. 3) and Theorem F.3 (App. F).

    Examples
    --------
    >>> pmem_excess_loss([20, 100, 200], 200, 50).tolist()
    [90.0, 50.0, 0.0]
    """
    r = _ratio_mn(M, N)
    c, dd, s2 = _constant_c(C), check_positive(d, "d"), _var_star(var_star)
    with np.errstate(over="ignore"):
        return finite_result(c * (1.0 - r) * dd * s2, "the excess loss C (1 - M/N) d s2")


def approx_losses(
    t: ArrayLike,
    M: ArrayLike,
    N: ArrayLike,
    d: ArrayLike,
    loss_mem: ArrayLike,
    var_star: ArrayLike = 1.0,
    C: float = 2.0,
    schedule: Schedule | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""The approximate training losses ``(Lhat_gen, Lhat_pmem)`` of Fig. 1 (Thms 3.1 and 3.2).

    Buchanan et al. (paper 000), Sec. 3 and Fig. 1: the approximations add the excess losses to
    the memorizing denoiser's (empirical) loss ``loss_mem = L_{N,t}(xbar_mem)``:

        Lhat_gen  = L_{N,t}(xbar_mem) + d s2 / (psi_t s2 + 1),
        Lhat_pmem = L_{N,t}(xbar_mem) + C (1 - M/N) d s2.

    Arguments broadcast together.

    Parameters
    ----------
    t : float or array_like
        Diffusion time(s) in the schedule's domain (``(0, 1)`` for VPTrig).
    M : float or array_like
        Number of memorized training points, ``0 <= M <= N``.
    N : float or array_like
        Number of training points, ``N > 0``.
    d : float or array_like
        Data dimension, ``d > 0``.
    loss_mem : float or array_like
        The memorizing denoiser's training loss ``L_{N,t}(xbar_mem) >= 0``.
    var_star : float or array_like, default 1.0
        The cluster variance ``s2 = sigma_*^2 > 0`` (a variance).
    C : float, default 2.0
        The constant of Thm 3.2, in [1, 2] (other ``C > 0`` warn with ``OutOfRangeWarning``).
    schedule : Schedule, optional
        The noise schedule; default :class:`~diffmem_theory.core.schedules.VPTrig`.

    Returns
    -------
    tuple of ndarray
        ``(Lhat_gen, Lhat_pmem)``, broadcast over the arguments.

    See Also
    --------
    gen_excess_loss, pmem_excess_loss : the two excess losses.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Sec. 3 and Fig. 1.

    Examples
    --------
    >>> gen, pmem = approx_losses(0.36028, [100, 200], 200, 50, loss_mem=0.0)
    >>> round(float(gen), 4), pmem.tolist()
    (6.4901, [50.0, 0.0])
    """
    lm = check_positive(loss_mem, "loss_mem", allow_zero=True)
    gen, pmem = gen_excess_loss(t, d, var_star, schedule), pmem_excess_loss(M, N, d, var_star, C)
    with np.errstate(over="ignore"):
        return finite_result(lm + gen, "Lhat_gen"), finite_result(lm + pmem, "Lhat_pmem")


def kappa(d: ArrayLike, c: float = 1.0, schedule: Schedule | None = None) -> np.ndarray:
    r"""Upper end ``kappa(d) = varsigma(c log(d)^2 / d)`` of the time range of Thms 3.1 and 3.2.

    Buchanan et al. (paper 000), Thm 3.1, Props F.2 and F.4: the excess-loss laws hold uniformly
    on ``t in (0, kappa(d)]`` with ``kappa(d) = varsigma(Theta(log(d)^2/d))``, ``varsigma`` the
    inverse SNR. The constant inside Theta(.) is unspecified (Prop F.4 drops the Theta): it is the
    argument ``c``. For VPTrig, ``kappa(d) = (1 + c log(d)^2/d)^{-1/2} -> 1`` as d grows.
    ``d > 1``.

    Parameters
    ----------
    d : float or array_like
        Data dimension, ``d > 1``.
    c : float, default 1.0
        The unspecified constant inside ``Theta(log(d)^2/d)``, ``c > 0``.
    schedule : Schedule, optional
        The noise schedule; default :class:`~diffmem_theory.core.schedules.VPTrig`.

    Returns
    -------
    ndarray
        ``kappa(d)``, the largest time at which the excess-loss laws are claimed.

    See Also
    --------
    diffmem_theory.crossover.symbolic.kappa_expr : the sympy twin.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Theorem 3.1, Propositions F.2 and F.4.

    Examples
    --------
    >>> kappa([30, 50]).round(3).tolist()
    [0.85, 0.875]
    """
    sched = as_schedule(schedule)
    dd = as_float_array(d, "d")
    if np.any(dd <= 1):
        raise ValueError(f"d must be > 1 (log(d)^2/d must be positive), got {d!r}")
    c = check_scalar(c, "c", low=0.0, low_open=True)
    return sched.inverse_snr(c * np.log(dd) ** 2 / dd)


def empirical_constant(
    loss_pmem: ArrayLike,
    loss_mem: ArrayLike,
    M: ArrayLike,
    N: ArrayLike,
    d: ArrayLike,
    var_star: ArrayLike = 1.0,
) -> np.ndarray:
    r"""The empirical constant of Thm 3.2, ``C_emp(M) = (L_pmem - L_mem) / ((1 - M/N) d s2)``.

    Buchanan et al. (paper 000), Thm 3.2 predicts ``1 <= C_emp <= 2`` when every cluster has a
    memorized representative (Prop C.4). We measured (Monte Carlo, one data seed, 20 noise draws per
    point) 1.96, 1.50, 1.44, 1.58 for ``M = 20, 100, 160, 190`` (d = 50, K = 12, N = 200), the same
    at every ``t`` in {0.08, 0.20, 0.36, 0.60, 0.80}: ``C_emp`` depends on ``M``, not on ``t``.
    Needs ``M < N``.

    Parameters
    ----------
    loss_pmem, loss_mem : float or array_like
        Measured training losses of ``xbar_pmem,M`` and ``xbar_mem``.
    M : float or array_like
        Number of memorized points, ``0 <= M < N``.
    N : float or array_like
        Number of training points.
    d : float or array_like
        Data dimension, ``d > 0``.
    var_star : float or array_like, default 1.0
        The cluster variance ``s2 = sigma_*^2 > 0`` (a variance).

    Returns
    -------
    ndarray
        ``C_emp(M)``, broadcast over the arguments.

    See Also
    --------
    pmem_excess_loss : the prediction ``C (1 - M/N) d s2``.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Theorem 3.2 and Fig. 1(d).

    Examples
    --------
    >>> float(empirical_constant(41.0, 2.0, 100, 200, 50))
    1.56
    """
    r = _ratio_mn(M, N)
    if np.any(r >= 1):
        raise ValueError(f"M must be < N for the empirical constant (1 - M/N > 0), got M={M!r}")
    dd, s2 = check_positive(d, "d"), _var_star(var_star)
    with np.errstate(over="ignore", under="ignore"):
        excess = as_float_array(loss_pmem, "loss_pmem") - as_float_array(loss_mem, "loss_mem")
        out = excess / (1.0 - r) / dd / s2
    return finite_result(out, "the empirical constant")


# ----------------------------------------------------------------------------------------------
# loss weightings
# ----------------------------------------------------------------------------------------------


def _times(times: ArrayLike, schedule: Schedule) -> np.ndarray:
    tt = schedule.check_time(as_float_array(times, "times", ndim=1))
    if tt.size == 0:
        raise ValueError("times must hold at least one time")
    return tt


# ----------------------------------------------------------------------------------------------
# eq. (14): the crossover
# ----------------------------------------------------------------------------------------------


def approx_loss_difference(
    M: ArrayLike,
    N: ArrayLike,
    d: ArrayLike,
    *,
    weighting: Weighting = "x0",
    times: ArrayLike | None = None,
    var_star: float = 1.0,
    C: float = 2.0,
    schedule: Schedule | None = None,
) -> np.ndarray:
    r"""Approximate expected loss difference ``L_N(xbar_pmem,M, lambda) - L_N(xbar_*, lambda)``.

    Buchanan et al. (paper 000), Sec. 3 (display before eq. (14)):

        E[L_N(xbar_pmem,M) - L_N(xbar_*)] ~ E_t[lambda(t) {C (1 - M/N) d s2 - d s2/(psi_t s2 + 1)}],

    with ``t`` uniform on ``times`` (a grid, as in the experiments) or on the continuous domain
    (``times=None``; the weighting must then be integrable, see :func:`crossover_ratio`). It is
    decreasing in ``M`` and vanishes at ``M = crossover_M(N, ...)``. Vectorized over ``M``.

    Parameters
    ----------
    M : float or array_like
        Number of memorized training points, ``0 <= M <= N``.
    N : float or array_like
        Number of training points, ``N > 0``.
    d : float or array_like
        Data dimension, ``d > 0``.
    weighting : str, callable or array_like, default "x0"
        The loss weighting ``lambda``: ``"x0"``, ``"eps"``, ``"score"``, ``"v"``, a callable
        ``lambda(t)`` or (with ``times``) an array of grid values.
    times : array_like, optional
        A time grid (``t`` uniform on it); ``None``: ``t`` uniform on the whole domain.
    var_star : float, default 1.0
        The cluster variance ``s2 = sigma_*^2 > 0``.
    C : float, default 2.0
        The constant of Thm 3.2, in [1, 2] (other ``C > 0`` warn with ``OutOfRangeWarning``).
    schedule : Schedule, optional
        The noise schedule; default :class:`~diffmem_theory.core.schedules.VPTrig`.

    Returns
    -------
    ndarray
        The approximate expected loss difference, broadcast over ``M``, ``N`` and ``d``.

    See Also
    --------
    crossover_ratio : where the difference vanishes, ``M_*/N``.
    diffmem_theory.crossover.symbolic.approx_loss_difference_expr : the sympy twin.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Sec. 3, the display before eq. (14).

    Examples
    --------
    >>> g = VPTrig().time_grid()
    >>> approx_loss_difference([100, 200], 200, 50, times=g).round(3).tolist()
    [33.018, -16.982]
    """
    sched = as_schedule(schedule)
    c = _constant_c(C)
    s2 = float(_var_star(var_star))
    excess = c * (1.0 - _ratio_mn(M, N))
    if times is None:
        mean_w, mean_wg = _continuous_moments(weighting, sched, s2, 0.0, None, None)
    else:
        tt = _times(times, sched)
        lam = grid_weights(weighting, tt, sched)
        mean_w, mean_wg = lam.mean(), (lam * _gen_fraction(tt, np.asarray(s2), sched)).mean()
        if not (math.isfinite(mean_w) and math.isfinite(mean_wg)):
            raise ValueError("weighting overflows float64 on the grid")
    if not math.isfinite(mean_w):
        raise ValueError("the weighting is not integrable on the domain: E_t[lambda] = inf")
    dd = check_positive(d, "d")
    with np.errstate(over="ignore", invalid="ignore"):
        out = dd * s2 * (excess * float(mean_w) - float(mean_wg))
    return finite_result(out, "the loss difference")


def crossover_ratio(
    weighting: Weighting = "x0",
    *,
    times: ArrayLike | None = None,
    var_star: float = 1.0,
    C: float = 2.0,
    schedule: Schedule | None = None,
    t_min: float = 0.0,
    t_max: float | None = None,
    dps: int | None = None,
) -> Any:
    r"""The predicted crossover ratio ``M_*/N`` of eq. (14).

    Buchanan et al. (paper 000), eq. (14):

        M_*/N = 1 - E_t[lambda(t)/(psi_t s2 + 1)] / (C E_t[lambda(t)]).

    It depends only on ``lambda``, ``C``, ``s2 = sigma_*^2`` and the law of ``t`` -- not on ``N``,
    ``d`` or ``K`` -- and is invariant to a positive rescaling of ``lambda``. Thm 3.2 has
    ``C in [1, 2]``: another ``C > 0`` is evaluated but **warns**
    (:class:`~diffmem_theory._validation.OutOfRangeWarning`), since the crossover is then an
    extrapolation of the theorem (e.g. ``C = 0.5`` gives a negative ratio for ``lambda = 1``).

    * ``times`` given: ``t`` uniform on that grid (the experiments' 26-point grid); ``weighting``
      may also be an array of grid values (a fitted ``lambda~``).
    * ``times=None``: ``t`` uniform on ``(t_min, t_max)`` (default the whole domain), by
      vectorized tanh-sinh quadrature (``scipy.integrate.tanhsinh``) in ``u = log t``. With
      ``t_min = 0`` a weighting that behaves like ``t^p`` with ``p <= -1`` as ``t -> 0`` (e.g.
      ``lambda = psi_t``, p = -2) has ``E_t[lambda] = inf``; its normalized weight concentrates
      where ``1/(psi_t s2 + 1) -> 0``, so the ratio is exactly 1 (``M_* = N``). The exponent is
      read off ``lambda`` at ``t = 1e-60`` and ``1e-30``.
    * ``dps``: evaluate the quadrature with ``mpmath`` at that many digits (returns an ``mpf``),
      e.g. to resolve ``1 - M_*/N = 3.3e-41`` for ``lambda = psi`` with ``t_min = 1e-40``, which
      float64 rounds to 1. The float64 path switches to mpmath (30 digits) by itself when
      ``lambda t`` overflows (e.g. ``weighting="score"`` with ``t_min = 1e-200``). The mpmath
      path needs VPTrig (closed forms ``alpha^2 = 1 - t^2``, ``sigma^2 = t^2``) or a callable
      that accepts ``mpf`` values.

    Reference values (VPTrig, ``s2 = 1``; ours: there ``1/(psi_t + 1) = t^2``, so on the grid the
    ratio is ``1 - mean_l(t_l^2)/C`` with ``mean_l t_l^2 = 0.33964``): grid, ``lambda = 1``: 0.66036
    (C = 1), 0.83018 (C = 2); grid, ``lambda = psi``: 0.99998 / 0.99999; continuous ``lambda = 1``:
    ``1 - 1/(3C)``; continuous ``lambda = psi``: 1.

    Parameters
    ----------
    weighting : str, callable or array_like, default "x0"
        The loss weighting ``lambda``: ``"x0"``, ``"eps"``, ``"score"``, ``"v"``, a callable
        ``lambda(t)`` or (with ``times``) an array of grid values.
    times : array_like, optional
        A time grid (``t`` uniform on it); ``None``: continuous ``t`` on ``(t_min, t_max)``.
    var_star : float, default 1.0
        The cluster variance ``s2 = sigma_*^2 > 0``.
    C : float, default 2.0
        The constant of Thm 3.2, in [1, 2] (other ``C > 0`` warn with ``OutOfRangeWarning``).
    schedule : Schedule, optional
        The noise schedule; default :class:`~diffmem_theory.core.schedules.VPTrig`.
    t_min, t_max : float, optional
        The range of continuous ``t`` (default the whole domain); only with ``times=None``.
    dps : int, optional
        Evaluate the quadrature with mpmath at this many digits (returns an ``mpf``).

    Returns
    -------
    float or mpmath.mpf
        The predicted ``M_*/N``.

    See Also
    --------
    crossover_M : ``N`` times the ratio.
    crossover_argmin : the argmin form of Sec. 4.1 on a grid.
    diffmem_theory.crossover.symbolic.crossover_ratio_expr : the closed form for continuous ``t``.
    diffmem_theory.crossover.symbolic.crossover_ratio_grid_expr : the exact rational on the grid.
    diffmem_theory.crossover.symbolic.crossover_ratio_times_expr : the same on any set of times.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), eq. (14), Sec. 3.

    Examples
    --------
    >>> g = VPTrig().time_grid()
    >>> round(crossover_ratio("x0", times=g), 5), round(crossover_ratio("eps", times=g, C=1), 5)
    (0.83018, 0.99998)
    >>> crossover_ratio("eps")   # lambda = psi is not integrable at t = 0: M_* = N
    1.0
    >>> print(mpmath.nstr(crossover_ratio("eps", t_min=1e-3, dps=30), 12))   # closed form
    0.9996665
    """
    sched = as_schedule(schedule)
    c = _constant_c(C)
    s2 = float(_var_star(var_star))
    if times is not None:
        if dps is not None or t_min != 0.0 or t_max is not None:
            raise ValueError("t_min, t_max and dps apply to continuous t only (times=None)")
        tt = _times(times, sched)
        lam = grid_weights(weighting, tt, sched)
        lam = lam / lam.max()
        with np.errstate(over="ignore"):
            ratio = 1.0 - (lam * _gen_fraction(tt, np.asarray(s2), sched)).sum() / (c * lam.sum())
        return float(finite_result(ratio, "M_*/N"))
    mean_w, mean_wg = _continuous_moments(weighting, sched, s2, t_min, t_max, dps)
    if dps is None:
        if mean_w == math.inf:
            return 1.0
        return float(finite_result(float(1 - mean_wg / (c * mean_w)), "M_*/N"))
    with mpmath.workdps(dps):
        return mpmath.mpf(1) if mean_w == math.inf else 1 - mean_wg / (c * mean_w)


def crossover_M(N: ArrayLike, **kwargs: Any) -> np.ndarray:
    r"""The predicted crossover ``M_* = N * crossover_ratio(**kwargs)`` of eq. (14) (linear in N).

    Buchanan et al. (paper 000), eq. (14); see :func:`crossover_ratio` for the keyword arguments.

    Parameters
    ----------
    N : float or array_like
        Number of training points, ``N > 0``.
    **kwargs
        The keyword arguments of :func:`crossover_ratio`.

    Returns
    -------
    ndarray
        ``M_* = N M_*/N``.

    See Also
    --------
    crossover_ratio : the ratio ``M_*/N``.
    diffmem_theory.crossover.symbolic.crossover_expr : the symbolic twin (root in ``M``).

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), eq. (14).

    Examples
    --------
    >>> crossover_M([100, 200], times=VPTrig().time_grid()).round(3).tolist()
    [83.018, 166.036]
    """
    return check_positive(N, "N") * float(crossover_ratio(**kwargs))


def crossover_argmin(
    N: int,
    Ms: ArrayLike | None = None,
    *,
    times: ArrayLike,
    weighting: Weighting = "x0",
    loss_pmem: ArrayLike | None = None,
    loss_gen: ArrayLike | None = None,
    d: float = 1.0,
    var_star: float = 1.0,
    C: float = 2.0,
    schedule: Schedule | None = None,
) -> int:
    r"""The crossover in the argmin form of Sec. 4.1: the ``M`` closest to zero loss difference.

    Buchanan et al. (paper 000), Sec. 4.1 / eq. (15):

        Mtilde_pt = argmin_M (sum_l lambda(t_l) {Lhat_{N,t_l}(pmem,M) - Lhat_{N,t_l}(xbar_*)})^2

    By default the losses are the approximations of Thms 3.1-3.2 (then ``L_mem`` and ``d`` cancel
    and ``Mtilde_pt`` is the grid point nearest ``crossover_M``); give ``loss_pmem`` (shape
    ``(len(Ms), len(times))``) and ``loss_gen`` (``(len(times),)``) to use measured losses. ``Ms``
    defaults to ``1..N``. Ties go to the smallest ``M``.

    Parameters
    ----------
    N : int
        Number of training points, ``N >= 1``.
    Ms : array_like, optional
        Candidate values of ``M`` in ``[0, N]``; default ``1..N``.
    times : array_like
        The time grid ``t_l``.
    weighting : str, callable or array_like, default "x0"
        The loss weighting ``lambda``: ``"x0"``, ``"eps"``, ``"score"``, ``"v"``, a callable
        ``lambda(t)`` or (with ``times``) an array of grid values.
    loss_pmem, loss_gen : array_like, optional
        Measured losses, shapes ``(len(Ms), len(times))`` and ``(len(times),)``; give both or
        neither (default the approximations of Thms 3.1-3.2).
    d : float, default 1.0
        Data dimension (cancels with the approximate losses).
    var_star : float, default 1.0
        The cluster variance ``s2 = sigma_*^2 > 0``.
    C : float, default 2.0
        The constant of Thm 3.2, in [1, 2] (other ``C > 0`` warn with ``OutOfRangeWarning``).
    schedule : Schedule, optional
        The noise schedule; default :class:`~diffmem_theory.core.schedules.VPTrig`.

    Returns
    -------
    int or float
        ``Mtilde_pt``, the candidate ``M`` closest to a zero weighted loss difference.

    See Also
    --------
    crossover_M : the continuous prediction of eq. (14).
    diffmem_theory.crossover.regression.predict_M_pt : the tau-smoothed version of App. H.3.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Sec. 4.1, eq. (15).

    Examples
    --------
    >>> crossover_argmin(200, times=VPTrig().time_grid())
    166
    """
    n = check_int(N, "N", low=1)
    sched = as_schedule(schedule)
    tt = _times(times, sched)
    if Ms is None:
        check_allocation(2 * n * tt.size, f"the objective at M = 1..N = {n} on {tt.size} times")
    ms = np.arange(1, n + 1) if Ms is None else as_float_array(Ms, "Ms", ndim=1)
    if ms.size == 0 or np.any(ms < 0) or np.any(ms > n):
        raise ValueError(f"Ms must be a non-empty 1-D array of values in [0, N={n}]")
    lam = grid_weights(weighting, tt, sched)
    if (loss_pmem is None) != (loss_gen is None):
        raise ValueError("give both loss_pmem and loss_gen, or neither")
    if loss_pmem is None:
        gen = gen_excess_loss(tt, d, var_star, sched)
        pmem = pmem_excess_loss(ms[:, None], n, d, var_star, C) * np.ones_like(tt)
    else:
        pmem = as_float_array(loss_pmem, "loss_pmem", ndim=2)
        gen = as_float_array(loss_gen, "loss_gen", ndim=1)
        if pmem.shape != (ms.size, tt.size) or gen.shape != tt.shape:
            raise ValueError(
                f"loss_pmem must have shape ({ms.size}, {tt.size}) and loss_gen ({tt.size},), "
                f"got {pmem.shape} and {gen.shape}"
            )
    with np.errstate(over="ignore", invalid="ignore"):
        gap = finite_result((pmem - gen) @ lam, "sum_l lambda(t_l) (L_pmem - L_gen)")
    best = ms[int(np.argmin(np.abs(gap)))]  # the argmin of the square, without overflow
    return int(best) if float(best).is_integer() else float(best)


# ----------------------------------------------------------------------------------------------
# continuous E_t[lambda] and E_t[lambda g] by quadrature
# ----------------------------------------------------------------------------------------------


def _continuous_moments(
    weighting: Weighting,
    schedule: Schedule,
    s2: float,
    t_min: float,
    t_max: float | None,
    dps: int | None,
) -> tuple[Any, Any]:
    """(E_t[lambda], E_t[lambda g]) for t ~ Unif(t_min, t_max); E_t[lambda] = inf if divergent."""
    if not (isinstance(weighting, str) or callable(weighting)):
        raise ValueError("an array weighting needs times= (continuous t needs a name or callable)")
    if t_max is None:
        if math.isinf(schedule.T):
            raise ValueError(f"t_max is required for {schedule.name} because its T is inf")
        t_max = schedule.T
    t_max = check_scalar(t_max, "t_max", low=0.0, low_open=True, high=schedule.T)
    t_min = check_scalar(t_min, "t_min", low=0.0, high=t_max, high_open=True)
    if t_min == 0.0 and _diverges_at_zero(weighting, schedule):
        return math.inf, math.nan
    if dps is None:
        try:
            return _moments_float(weighting, schedule, s2, t_min, t_max)
        except FloatingPointError:
            pass  # lambda overflowed float64: fall through to mpmath
        dps = 30
    out = _moments_mp(weighting, schedule, s2, t_min, t_max, check_dps(dps))
    return out


def _diverges_at_zero(weighting: Weighting, schedule: Schedule) -> bool:
    """lambda ~ t^p near 0 with p <= -1 (local exponent between the two probe times)."""
    t_hi = min(_PROBE_TIMES[1], 0.5 * schedule.T)
    probe = np.array([_PROBE_TIMES[0], t_hi])
    log_lam = log_loss_weighting(weighting, probe, schedule)
    if np.any(np.isposinf(log_lam)):
        return True
    if np.any(np.isneginf(log_lam)):
        return False  # lambda vanishes near 0
    p = (log_lam[1] - log_lam[0]) / (np.log(probe[1]) - np.log(probe[0]))
    return bool(p <= -1.0 + _DIVERGENCE_TOL)


def _moments_float(
    weighting: Weighting, schedule: Schedule, s2: float, t_min: float, t_max: float
) -> tuple[float, float]:
    """Both integrals at once by vectorized tanh-sinh quadrature in u = log t (dt = t du).

    Raises FloatingPointError (the caller switches to mpmath) when lambda t overflows float64
    or the quadrature does not converge.
    """
    s2_arr = np.asarray(s2)
    t_cap = float(np.nextafter(schedule.T, 0.0)) if schedule.domain.endswith(")") else schedule.T

    def integrands(u: np.ndarray, which: np.ndarray) -> np.ndarray:
        live = u > _LOG_TINY  # below: lambda t ~ t^(p+1) -> 0 (integrable, p > -1)
        t = np.where(live, np.minimum(np.exp(np.maximum(u, _LOG_TINY)), t_cap), t_cap)
        log_w = log_loss_weighting(weighting, t, schedule) + u
        if np.any(live & (log_w > 700.0)):
            raise FloatingPointError("lambda t overflows float64")
        w = np.where(live, np.exp(np.minimum(log_w, 700.0)), 0.0)
        return np.where(which == 0, w, w * _gen_fraction(t, s2_arr, schedule))

    lo = -math.inf if t_min == 0.0 else math.log(t_min)
    res = integrate.tanhsinh(
        integrands, lo, math.log(t_max), args=(np.array([0, 1]),), rtol=1e-12, atol=0.0
    )
    if np.any(res.status != 0):
        raise FloatingPointError(f"tanh-sinh quadrature did not converge (status {res.status})")
    width = t_max - t_min
    return float(res.integral[0]) / width, float(res.integral[1]) / width


def _mp_pieces(t_min: float, t_max: float) -> list[Any]:
    """Breakpoints in u = log t: pieces of length <= _MP_PIECE from log t_min to log t_max.

    A weighting ~ t^p is exp((p + 1) u) in u: smooth on each piece, so tanh-sinh keeps full
    precision across hundreds of decades. With t_min = 0 (an integrable weighting) the first piece
    runs from -inf to 3 _MP_PIECE below log t_max.
    """
    hi = mpmath.log(mpmath.mpf(t_max))
    lo = hi - 3 * _MP_PIECE if t_min == 0.0 else mpmath.log(mpmath.mpf(t_min))
    n = max(1, int(mpmath.ceil((hi - lo) / _MP_PIECE)))
    pts = [lo + (hi - lo) * k / n for k in range(n + 1)]
    return [-mpmath.inf, *pts] if t_min == 0.0 else pts


def _moments_mp(
    weighting: Weighting, schedule: Schedule, s2: float, t_min: float, t_max: float, dps: int
) -> tuple[Any, Any]:
    if isinstance(weighting, str) and not isinstance(schedule, VPTrig):
        raise ValueError(
            f"the mpmath path evaluates named weightings on VPTrig only, got {schedule.name}; "
            "pass a callable weighting that accepts mpmath numbers"
        )
    with mpmath.workdps(dps):
        s2m = mpmath.mpf(s2)

        def lam(t: Any) -> Any:
            if callable(weighting):
                return weighting(t)
            a2, v = 1 - t**2, t**2
            return {"x0": 1, "eps": a2 / v, "score": a2 / v**2, "v": (a2 + v) ** 2 / v}[weighting]

        def gen(t: Any) -> Any:
            return t**2 / ((1 - t**2) * s2m + t**2)

        def w_du(u: Any) -> Any:  # lambda(t) dt with t = e^u
            t = mpmath.exp(u)
            return lam(t) * t

        pts = _mp_pieces(t_min, t_max)
        w = mpmath.quad(w_du, pts)
        wg = mpmath.quad(lambda u: w_du(u) * gen(mpmath.exp(u)), pts)
        width = mpmath.mpf(t_max) - mpmath.mpf(t_min)
        return w / width, wg / width


# ----------------------------------------------------------------------------------------------
# Thm F.1 and Prop F.2: non-asymptotic residuals
# ----------------------------------------------------------------------------------------------


def _residual_instance(
    t: ArrayLike,
    eps: ArrayLike | None,
    d: ArrayLike,
    N: ArrayLike,
    K: ArrayLike,
    gamma: ArrayLike,
    Gamma: ArrayLike,
    var_star: ArrayLike,
    schedule: Schedule | None,
) -> tuple[np.ndarray, ...]:
    """Validated (eps, d, N, K, gamma, Gamma, s2, log psi_t, v) of Thm F.1 / Prop F.2.

    ``eps=None`` is Prop F.2's ``log(d)/sqrt(d)`` (then ``d > 1``);
    ``v = s2 sigma_t^2/(alpha_t^2 s2 + sigma_t^2) = s2/(psi_t s2 + 1)``.
    """
    sched = as_schedule(schedule)
    tt = sched.check_time(t)
    dd = check_positive(d, "d")
    if eps is None:
        if np.any(dd <= 1):
            raise ValueError(f"d must be > 1 for eps = log(d)/sqrt(d), got {d!r}")
        e = np.log(dd) / np.sqrt(dd)
    else:
        e = as_float_array(eps, "eps")
    if np.any((e < 0) | (e > 1)):
        raise ValueError(f"eps must lie in [0, 1], got {eps!r}")
    n, k = check_positive(N, "N"), check_positive(K, "K")
    g = check_positive(gamma, "gamma")
    big = check_positive(Gamma, "Gamma", allow_zero=True)
    s2 = _var_star(var_star)
    return e, dd, n, k, g, big, s2, sched.log_snr(tt), s2 * _gen_fraction(tt, s2, sched)


def _alpha2_gamma2_over_v(g: np.ndarray, s2: np.ndarray, log_psi: np.ndarray) -> np.ndarray:
    """gamma^2 psi/(psi s2 + 1) = alpha^2 gamma^2 / V = gamma^2 / (s2 + 1/psi), no inf/inf."""
    return g * g / (s2 + np.exp(-log_psi))


def _log_sum_squares(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log(a^2 + b^2) for a, b >= 0 without overflow (log(0) = -inf)."""
    return np.logaddexp(2.0 * np.log(a), 2.0 * np.log(b))


def thm_f_1_residual(
    t: ArrayLike,
    eps: ArrayLike,
    d: ArrayLike,
    N: ArrayLike,
    K: ArrayLike,
    gamma: ArrayLike,
    Gamma: ArrayLike,
    var_star: ArrayLike = 1.0,
    C3: float = 1.0,
    schedule: Schedule | None = None,
) -> np.ndarray:
    r"""The residual ``Xi`` of Thm F.1 (non-asymptotic Thm 3.1), with the constant ``C3``.

    Buchanan et al. (paper 000), Thm F.1: under the coupling conditions on ``eps in [0, 1]``
    (:func:`diffmem_theory.crossover.concentration.coupling_conditions`),

        |E[L_N(mu_*, s2)] - E[L_N(x^{1..N}, 0)] - d s2 sigma_t^2/(alpha_t^2 s2 + sigma_t^2)| <= Xi,

        Xi = eps d v + C3 (Gamma^2 + (1 + s2) d)(K^2 + N^2)
             * { exp[-gamma^2 alpha_t^2 / (2(alpha_t^2 s2 + sigma_t^2))]
                 + exp[-alpha_t^2 s2 (1 - eps) d / (2 sigma_t^2)] + exp[-eps^2 d / 16] },

    with ``v = s2 sigma_t^2/(alpha_t^2 s2 + sigma_t^2)``, ``gamma`` the minimum and ``Gamma`` the
    maximum norm of the means' separations/norms. ``C3`` is an unspecified numerical constant in
    the paper. Vectorized with broadcasting; the whole second term is evaluated in log space (no
    0 * inf at ``t -> 0`` or huge ``Gamma``); a residual beyond float64 raises ``ValueError``.

    Parameters
    ----------
    t : float or array_like
        Diffusion time(s) in the schedule's domain (``(0, 1)`` for VPTrig).
    eps : float or array_like
        The concentration parameter ``eps in [0, 1]``.
    d : float or array_like
        Data dimension, ``d > 0``.
    N, K : float or array_like
        Number of training points and of clusters.
    gamma, Gamma : float or array_like
        Minimal separation ``min_{k != k'} |mu_k - mu_k'| > 0`` and maximal norm ``max_k |mu_k|``.
    var_star : float or array_like, default 1.0
        The cluster variance ``s2 = sigma_*^2 > 0`` (a variance).
    C3 : float, default 1.0
        The unspecified numerical constant of Thm F.1, ``C3 >= 0``.
    schedule : Schedule, optional
        The noise schedule; default :class:`~diffmem_theory.core.schedules.VPTrig`.

    Returns
    -------
    ndarray
        The residual ``Xi``, broadcast over the arguments.

    See Also
    --------
    gen_excess_loss : the leading term.
    prop_f_2_residual : the residual with ``eps = log(d)/sqrt(d)``.
    diffmem_theory.crossover.concentration.coupling_conditions : the conditions on ``eps``.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Theorem F.1 (App. F).

    Examples
    --------
    >>> round(float(thm_f_1_residual(0.36028, 0.5, 50, 200, 12, 10.0, 7.07, C3=0.0)), 3)  # eps d v
    3.245
    """
    e, dd, n, k, g, big, s2, log_psi, v = _residual_instance(
        t, eps, d, N, K, gamma, Gamma, var_star, schedule
    )
    c3 = check_scalar(C3, "C3", low=0.0)
    with np.errstate(over="ignore", divide="ignore"):
        log_tails = np.logaddexp(
            np.logaddexp(
                -0.5 * _alpha2_gamma2_over_v(g, s2, log_psi),  # alpha^2 gamma^2 / (2 V)
                -0.5 * np.exp(log_psi + np.log(s2 * (1.0 - e) * dd)),
            ),
            -(e**2) * dd / 16.0,
        )
        log_coef = (
            np.log(c3) + _log_sum_squares(big, np.sqrt((1.0 + s2) * dd)) + _log_sum_squares(k, n)
        )
        out = e * dd * v + np.exp(log_coef + log_tails)
    return finite_result(out, "the residual Xi of Thm F.1")


def prop_f_2_residual(
    t: ArrayLike,
    d: ArrayLike,
    N: ArrayLike,
    K: ArrayLike,
    gamma: ArrayLike,
    Gamma: ArrayLike,
    var_star: ArrayLike = 1.0,
    C4: float = 1.0,
    eps: ArrayLike | None = None,
    schedule: Schedule | None = None,
) -> np.ndarray:
    r"""The residual of Prop F.2 (Thm 3.1 with ``eps = log(d)/sqrt(d)``), with the constant ``C4``.

    Buchanan et al. (paper 000), Prop F.2:

        eps d v + C4 (1 + Gamma^2/d + s2) Poly(d) d v (1/s2 + psi_t)
            * exp[-(1/16) min(log(d)^2, psi_t s2 d, gamma^2 psi_t / (1 + s2 psi_t))],

    ``v = s2/(psi_t s2 + 1)``, ``eps = Theta(log d/sqrt d)`` (default ``log(d)/sqrt(d)``) and
    ``Poly(d) = K^2 + N^2``, the polynomial factor inherited from Thm F.1 (``N = poly(d)``); ``C4``
    is unspecified in the paper. The proof's condition "1 - eps <= 1/2" is a misprint for ``1 - eps
    >= 1/2`` (the proof needs ``eps <= 1/2``). Vectorized with broadcasting; ``d > 1``. Evaluated in
    log space with ``v (1/s2 + psi_t) = 1``; a residual beyond float64 raises ``ValueError``.

    Parameters
    ----------
    t : float or array_like
        Diffusion time(s) in the schedule's domain (``(0, 1)`` for VPTrig).
    d : float or array_like
        Data dimension, ``d > 1``.
    N, K : float or array_like
        Number of training points and of clusters.
    gamma, Gamma : float or array_like
        Minimal separation of the means and maximal mean norm.
    var_star : float or array_like, default 1.0
        The cluster variance ``s2 = sigma_*^2 > 0`` (a variance).
    C4 : float, default 1.0
        The unspecified numerical constant of Prop F.2, ``C4 >= 0``.
    eps : float or array_like, optional
        Default ``log(d)/sqrt(d)``.
    schedule : Schedule, optional
        The noise schedule; default :class:`~diffmem_theory.core.schedules.VPTrig`.

    Returns
    -------
    ndarray
        The residual of Prop F.2, broadcast over the arguments.

    See Also
    --------
    thm_f_1_residual : the general residual of Thm F.1.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Proposition F.2 (App. F).

    Examples
    --------
    >>> round(float(prop_f_2_residual(0.36028, 50, 200, 12, 10.0, 7.07, C4=0.0)), 4)
    3.5906
    """
    e, dd, n, k, g, big, s2, log_psi, v = _residual_instance(
        t, eps, d, N, K, gamma, Gamma, var_star, schedule
    )
    c4 = check_scalar(C4, "C4", low=0.0)
    with np.errstate(over="ignore", divide="ignore"):
        psi_s2_d = np.exp(log_psi + np.log(s2 * dd))
        rate = np.minimum(
            np.minimum(np.log(dd) ** 2, psi_s2_d), _alpha2_gamma2_over_v(g, s2, log_psi)
        )
        # v (1/s2 + psi) = 1 exactly; (1 + Gamma^2/d + s2) d = Gamma^2 + (1 + s2) d
        log_rest = (
            np.log(c4)
            + _log_sum_squares(big, np.sqrt((1.0 + s2) * dd))
            + _log_sum_squares(k, n)
            - rate / 16.0
        )
        out = e * dd * v + np.exp(log_rest)
    return finite_result(out, "the residual of Prop F.2")
