r"""Supporting lemmas of Ye, Zhu, Tao, Chen (paper 003), Apps. A-C, with their corrections.

Ye et al., "Provable Separations between Memorization and Generalization in Diffusion Models".
The paper's forward process is the OU / VP process with alpha_t = e^{-t/2}, sigma_t^2 = 1 - e^{-t}
(:class:`~diffmem_theory.core.schedules.VPExp`, the default schedule here).

* Lemma A.1 (Laurent-Massart): :func:`laurent_massart`;
* Lemma A.2 (norm concentration): :func:`chi2_rate` h, :func:`norm_tail_bound`,
  :func:`norm_tau`, :func:`chi2_rate_roots` (``printed=True``: the paper's roots) and
  :func:`norm_concentration_interval`. The printed lower end y_l(delta) is false (its proof
  uses h(x) >= (x-1)^2/(2x), which reverses for x < 1; d = 8, delta = 0.01 is a
  counterexample, see :mod:`diffmem_theory.fisher.errata`); the default lower end is the
  Lambert-W root of h(x) = tau;
* Lemma A.6 (component posterior mean): :func:`component_posterior_mean_approx`,
  :func:`lemma_a_6_error_bound`;
* Lemma B.1: :func:`empirical_score_sup_bound`;
* Lemma B.8 (Pinelis, incomplete gamma): :func:`upper_incomplete_gamma`,
  :func:`incgamma_upper_bound` and their mpmath twins;
* Lemma C.1 (Hessian and Lipschitz constant of the empirical score):
  :func:`empirical_score_hessian`, :func:`empirical_score_lipschitz`,
  :func:`empirical_score_lipschitz_max`, :func:`lipschitz_bounds` (C.2, corrected midpoint),
  :func:`gaussian_score_lipschitz` (the Gaussian contrast of Sec. 5).

The empirical score itself is
:meth:`diffmem_theory.core.distributions.EmpiricalDistribution.score_t`.

n = 2 points at distance 1, t = 0.01 (the exact C_L = 2399.478 lies in [524.494, 2600.480]):

>>> round(lipschitz_bounds(0.01, [[0.0], [1.0]]).lower, 3)
524.494
"""

from __future__ import annotations

import math
from typing import Any

import mpmath
import numpy as np
from numpy.typing import ArrayLike
from scipy.special import exp1, gammaincc, gammaln, lambertw

from diffmem_theory._bounds import Bound, ranged, to_output
from diffmem_theory._mp import mpf, pos_mpf
from diffmem_theory._validation import (
    as_float_array,
    as_points,
    as_queries,
    check_allocation,
    check_bool,
    check_choice,
    check_dps,
    check_scalar,
    finite_result,
    unbatch,
)
from diffmem_theory.core.distributions import map_over_times
from diffmem_theory.core.metrics import diameter, min_pairwise_distance
from diffmem_theory.core.schedules import Schedule, VPExp, as_schedule
from diffmem_theory.kernels import softmax_weighted_sum

__all__ = [
    "LOWER_ENDS",
    "chi2_rate",
    "chi2_rate_roots",
    "component_posterior_mean_approx",
    "empirical_score_hessian",
    "empirical_score_lipschitz",
    "empirical_score_lipschitz_max",
    "empirical_score_sup_bound",
    "gaussian_score_lipschitz",
    "incgamma_upper_bound",
    "incgamma_upper_bound_mp",
    "laurent_massart",
    "lemma_a_6_error_bound",
    "lipschitz_bounds",
    "norm_concentration_interval",
    "norm_tail_bound",
    "norm_tau",
    "upper_incomplete_gamma",
    "upper_incomplete_gamma_mp",
]

#: Lower ends accepted by :func:`norm_concentration_interval`.
LOWER_ENDS: tuple[str, ...] = ("lambert", "quadratic")

_EULER_GAMMA = 0.5772156649015329
_LOG_MAX = math.log(np.finfo(np.float64).max)
# |a| below which Gamma(a, x) = E_1(x) to double precision (the a-derivative is O(log x)).
_A_ZERO = 1e-20
# tau below which the roots of h(x) = tau come from the series of W at its branch point (SciPy's
# lambertw loses up to all digits of x - 1 there), and above which e^{-1-tau} underflows (the
# upper root then comes from Newton's method).
_TAU_SERIES, _TAU_UNDERFLOW = 1e-5, 700.0
# W(-1/e + q) = sum_k c_k p^k with p = +-sqrt(2 e q) (Corless, Gonnet, Hare, Jeffrey, Knuth,
# "On the Lambert W function", 1996): the + sign is W_0, the - sign W_{-1}.
_BRANCH_SERIES = (
    -1.0,
    1.0,
    -1.0 / 3.0,
    11.0 / 72.0,
    -43.0 / 540.0,
    769.0 / 17280.0,
    -221.0 / 8505.0,
)


def _schedule(schedule: Schedule | None) -> Schedule:
    """``schedule``, or paper 003's VP process with beta = 1 (:class:`VPExp`) when None."""
    return as_schedule(schedule, VPExp())


def alpha2_sigma2(t: ArrayLike, schedule: Schedule | None) -> tuple[np.ndarray, np.ndarray]:
    """``(alpha_t^2, sigma_t^2)`` at validated times ``t`` (default schedule: ``VPExp``).

    >>> a2, s2 = alpha2_sigma2(0.5, None)
    >>> round(float(a2 + s2), 12)
    1.0
    """
    sched = _schedule(schedule)
    tt = sched.check_time(as_float_array(t, "t", dtype=np.float64))
    alpha = np.asarray(sched.alpha(tt), dtype=np.float64)
    return alpha * alpha, np.asarray(sched.sigma2(tt), dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# Lemma A.1 (Laurent-Massart) and Lemma A.2 (norm concentration)
# ---------------------------------------------------------------------------------------------


def laurent_massart(d: ArrayLike, t: ArrayLike, tail: str = "upper") -> Bound:
    r"""Laurent-Massart chi-square tails, Ye et al., Lemma A.1 (Laurent & Massart 2000, Lemma 1).

    For X ~ chi^2_d and t > 0:

        P[X >= d + 2 sqrt(d t) + 2 t] <= e^{-t}   (``tail="upper"``),
        P[X <= d - 2 sqrt(d t)]       <= e^{-t}   (``tail="lower"``).

    Returns a :class:`~diffmem_theory.Bound` of kind ``"upper"`` / ``"lower"``
    (``value`` the threshold, ``failure_probability`` e^{-t}); vectorized over ``d > 0`` and
    ``t > 0``. A threshold beyond float64 raises ``ValueError``.

    Parameters
    ----------
    d : array_like
        Degrees of freedom, > 0.
    t : array_like
        The deviation parameter, > 0 (not a diffusion time).
    tail : {"upper", "lower"}, default "upper"
        Which tail.

    Returns
    -------
    Bound
        ``value`` the threshold, ``failure_probability`` e^{-t}.

    See Also
    --------
    norm_tail_bound : the Chernoff tails of Lemma A.2.

    References
    ----------
    Ye et al., Lemma A.1; Laurent & Massart (2000), Lemma 1.

    Examples
    --------
    >>> b = laurent_massart(8, 2.0)
    >>> round(b.value, 6), round(b.failure_probability, 6)
    (20.0, 0.135335)
    >>> round(laurent_massart(8, 2.0, tail="lower").value, 6)
    0.0
    """
    dd = ranged(d, "d", 0.0, low_open=True)
    tt = ranged(t, "t", 0.0, low_open=True)
    check_choice(tail, "tail", ("upper", "lower"))
    with np.errstate(over="ignore"):
        prod = dd * tt  # sqrt(d) sqrt(t) where d t overflows
        root = 2.0 * np.where(np.isfinite(prod), np.sqrt(prod), np.sqrt(dd) * np.sqrt(tt))
        value = dd + root + 2.0 * tt if tail == "upper" else dd - root
    return Bound(
        value=to_output(finite_result(value, "the Laurent-Massart threshold")),
        failure_probability=to_output(np.exp(-tt)),
        kind=tail,
        statement=f"Ye et al., Lemma A.1 ({tail} tail)",
    )


def chi2_rate(x: ArrayLike) -> Any:
    r"""The Cramér rate h(x) = x - 1 - log x of Lemma A.2 (Ye et al., App. A.4.1), x > 0.

    h >= 0 with equality only at x = 1; it is the per-(d/2) Chernoff exponent of a chi-square.
    Computed by its series in z = x - 1 near x = 1 (to full relative precision), as
    z - log1p(z) for x >= 1/2 and directly below.

    >>> round(chi2_rate(0.5), 6), chi2_rate(1.0)
    (0.193147, 0.0)
    """
    return to_output(_h(ranged(x, "x", 0.0, low_open=True)))


def _h(x: np.ndarray) -> np.ndarray:
    """h(x) = x - 1 - log x for x > 0, without cancellation near 1 or loss of x near 0.

    For |x - 1| < 1/8 the series h = sum_{k >= 2} (-z)^k / k (z = x - 1, 24 terms, remainder
    below 8^-24 of the leading term z^2/2), where z - log1p(z) would cancel to relative 1e-7 at
    z = 1e-9; z - log1p(z) up to x = 1/2 and x - 1 - log x below.
    """
    z = x - 1.0
    tiny = np.abs(z) < 0.125
    zs = np.where(tiny, z, 0.0)
    series = np.zeros_like(zs)
    for k in range(25, 1, -1):  # Horner in -z, from the highest term down
        series = (series + 1.0 / k) * (-zs)
    series = series * (-zs)
    near = x >= 0.5
    zn = np.where(near, z, 0.0)
    far = np.where(near, zn - np.log1p(zn), x - 1.0 - np.log(np.where(near, 1.0, x)))
    return np.where(tiny, series, far)


def norm_tail_bound(
    d: ArrayLike, eta: ArrayLike, tail: str = "upper", *, C: float = 1.0, B_over_cf: float = 1.0
) -> Any:
    r"""Chernoff tails of |eps|^2 for a sub-Gaussian Hölder density, Ye et al., Lemma A.2 (1)-(2).

    For eps with density e^{-C|x|^2/2} f(x), c_f <= f <= B (Def. 3.2):

        P(|eps|^2 >= (1 + eta) d) <= (B/c_f) exp(-(d/2) h(C (1 + eta))),  eta > 1/C - 1,
        P(|eps|^2 <= (1 - eta) d) <= (B/c_f) exp(-(d/2) h(C (1 - eta))),  eta in (1 - 1/C, 1),

    with h = :func:`chi2_rate`. Both one-sided bounds are correct; it is the two-sided
    step of the proof that fails (see :func:`norm_concentration_interval`). For N(0, I_d)
    (C = 1, B/c_f = 1) they are the chi-square Chernoff bounds.

    Parameters
    ----------
    d : array_like
        Dimension, > 0.
    eta : array_like
        Relative deviation, in the range of the chosen tail (above).
    tail : {"upper", "lower"}, default "upper"
        Which tail.
    C : float, default 1
        The sub-Gaussian constant of Def. 3.2.
    B_over_cf : float, default 1
        B/c_f >= 1.

    Returns
    -------
    float or ndarray
        The bound on the tail probability.

    See Also
    --------
    norm_concentration_interval : the two-sided statement.
    laurent_massart : the sharper Gaussian tails of Lemma A.1.

    References
    ----------
    Ye et al., Lemma A.2 (Parts 1-2) and its proof (App. A.4.1).

    Examples
    --------
    >>> round(norm_tail_bound(8, 1.0), 6)              # P(chi2_8 >= 16) = 0.042380
    0.29305
    >>> round(norm_tail_bound(8, 0.5, tail="lower"), 6)  # P(chi2_8 <= 4) = 0.142877
    0.461816
    """
    dd = ranged(d, "d", 0.0, low_open=True)
    c = check_scalar(C, "C", low=0.0, low_open=True)
    ratio = check_scalar(B_over_cf, "B_over_cf", low=1.0)
    check_choice(tail, "tail", ("upper", "lower"))
    if tail == "upper":
        e = ranged(eta, "eta", 1.0 / c - 1.0, low_open=True)
        x = c * (1.0 + e)
    else:
        e = ranged(eta, "eta", 1.0 - 1.0 / c, 1.0, low_open=True, high_open=True)
        x = c * (1.0 - e)
    with np.errstate(over="ignore"):  # d h = inf: the bound is exp(-inf) = 0
        return to_output(ratio * np.exp(-0.5 * dd * chi2_rate(x)))


def norm_tau(delta: ArrayLike, d: ArrayLike, B_over_cf: float = 1.0) -> Any:
    r"""tau(delta) = (2/d) log(2 B / (c_f delta)), Ye et al., Lemma A.2 (Part 3).

    Each one-sided tail of :func:`norm_tail_bound` is <= delta/2 exactly when h(x) >= tau.
    Corollary A.3 uses tau(delta/n). ``delta`` in (0, 1), ``d > 0``, ``B_over_cf >= 1``; a tau
    beyond float64 (d near 0) raises ``ValueError``.

    >>> round(norm_tau(0.01, 8), 6)        # (1/4) log 200
    1.324579
    """
    dl = ranged(delta, "delta", 0.0, 1.0, low_open=True, high_open=True)
    dd = ranged(d, "d", 0.0, low_open=True)
    ratio = check_scalar(B_over_cf, "B_over_cf", low=1.0)
    with np.errstate(over="ignore"):
        tau = (2.0 / dd) * (math.log(2.0 * ratio) - np.log(dl))
    return to_output(finite_result(tau, "tau"))


def _printed_roots(ta: np.ndarray) -> tuple[Any, Any]:
    """(y_l, y_u) = (1 + tau) -/+ sqrt(tau (2 + tau)) of Lemma A.2 as printed, y_l = 1/y_u."""
    with np.errstate(over="ignore"):
        y_u = finite_result(1.0 + ta + np.sqrt(ta) * np.sqrt(2.0 + ta), "y_u")
    return to_output(1.0 / y_u), to_output(y_u)


def chi2_rate_roots(tau: ArrayLike, *, printed: bool = False) -> tuple[Any, Any]:
    r"""The two roots x_l <= 1 <= x_u of h(x) = x - 1 - log x = tau (Lemma A.2, corrected).

    Ye et al., Lemma A.2 (Part 3) needs the ends of {h(x) <= tau}; each one-sided tail of
    :func:`norm_tail_bound` is <= delta/2 beyond them at tau = :func:`norm_tau`. Exactly
    (our correction, Lambert W):

        x_l = -W_0(-e^{-1-tau}),   x_u = -W_{-1}(-e^{-1-tau}).

    ``printed=True`` returns the paper's (y_l, y_u) = (1 + tau) -/+ sqrt(tau (2 + tau)), the roots
    of x^2 - 2(1 + tau) x + 1 = 0, i.e. of (x - 1)^2/(2x) = tau (y_l y_u = 1; y_l is computed as
    1/y_u). y_u >= x_u is a valid upper end (h(x) >= (x-1)^2/(2x) for x >= 1); y_l > x_l is
    **not** a valid lower end (the inequality reverses on (0, 1); see
    :func:`norm_concentration_interval`).

    Numerics of the exact roots: below tau = 1e-5 (near the branch point of W, where SciPy's
    ``lambertw`` loses the digits of x - 1) W comes from its branch-point series,
    W = sum_k c_k p^k, p = +-sqrt(2 (1 - e^{-tau})), 7 terms (tau = 0: both roots 1). Above
    tau = 700, where e^{-1-tau} underflows, x_l (< e^{-700}) is 0 in float64 and x_u comes from
    Newton's method on x - log x = 1 + tau started at 1 + tau + log(1 + tau). Each root is
    accurate to a few units of its last place. A printed y_u ~ 2 tau beyond float64 raises
    ``ValueError``.

    Parameters
    ----------
    tau : array_like
        The level, >= 0.
    printed : bool, default False
        The paper's roots (y_l, y_u) instead of the exact ones.

    Returns
    -------
    (float or ndarray, float or ndarray)
        The lower and the upper root.

    See Also
    --------
    chi2_rate : h.
    norm_tau : tau(delta).
    norm_concentration_interval : the interval of Lemma A.2.

    References
    ----------
    Ye et al., Lemma A.2; Corless, Gonnet, Hare, Jeffrey, Knuth, "On the Lambert W function"
    (1996) for the branch-point series.

    Examples
    --------
    d = 8, delta = 0.01:

    >>> [round(v, 6) for v in chi2_rate_roots(norm_tau(0.01, 8))]
    [0.109101, 3.607631]
    >>> [round(v, 6) for v in chi2_rate_roots(norm_tau(0.01, 8), printed=True)]
    [0.226087, 4.423071]
    """
    if check_bool(printed, "printed"):
        return _printed_roots(ranged(tau, "tau", 0.0))
    ta = ranged(tau, "tau", 0.0)
    series, huge = ta < _TAU_SERIES, ta > _TAU_UNDERFLOW
    mid = np.where(series | huge, 1.0, ta)
    z = -np.exp(-1.0 - mid)
    x_l = _newton_polish(np.minimum(-lambertw(z, 0).real, 1.0), mid)
    x_u = _newton_polish(np.maximum(-lambertw(z, -1).real, 1.0), mid)
    p = np.sqrt(-2.0 * np.expm1(-np.where(series, ta, 0.0)))
    x_l = np.where(series, -np.polynomial.polynomial.polyval(p, _BRANCH_SERIES), x_l)
    x_u = np.where(series, -np.polynomial.polynomial.polyval(-p, _BRANCH_SERIES), x_u)
    big = np.where(huge, ta, _TAU_UNDERFLOW)
    start = 1.0 + big + np.log1p(big)
    x_u = np.where(huge, _newton_polish(start, big), x_u)
    return to_output(np.where(huge, 0.0, x_l)), to_output(x_u)


def _newton_polish(x: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """Two Newton steps on h(x) = tau away from the branch point x = 1 (where h' = 0)."""
    for _ in range(2):
        far = np.abs(x - 1.0) > 1e-3
        safe = np.where(far, x, 2.0)
        step = (_h(safe) - tau) / (1.0 - 1.0 / safe)
        x = np.where(far, x - step, x)
    return x


def norm_concentration_interval(
    delta: ArrayLike,
    d: ArrayLike,
    *,
    C: float = 1.0,
    B_over_cf: float = 1.0,
    lower: str = "lambert",
    printed: bool = False,
) -> Bound:
    r"""Two-sided concentration of |eps|^2, Ye et al., Lemma A.2 (Part 3), corrected.

    The lemma claims P(y_l d/C <= |eps|^2 <= y_u d/C) >= 1 - delta with (y_l, y_u) =
    :func:`chi2_rate_roots` (tau, printed=True) and tau = :func:`norm_tau` (delta, d). The upper
    end is valid; the printed lower end is **false** (its proof uses h(x) >= (x-1)^2/(2x), which
    fails for x < 1): for N(0, I_8), delta = 0.01, P(chi2_8 <= 8 y_l) = 0.01367 > delta. The
    upper end is the printed y_u d/C; ``lower`` chooses the lower end:

    * ``"lambert"`` (default): x_l = -W_0(-e^{-1-tau}), the exact root of h = tau;
    * ``"quadratic"``: max(0, 1 - sqrt(2 tau)) (h(x) >= (1-x)^2/2 on (0, 1]), more conservative.

    Parameters
    ----------
    delta : array_like
        The failure probability, in (0, 1).
    d : array_like
        The dimension, > 0.
    C : float, default 1
        The sub-Gaussian constant of Def. 3.2 (the density is e^{-C|x|^2/2} f(x)).
    B_over_cf : float, default 1
        B/c_f >= 1, the ratio of the bounds on f (1 for a Gaussian).
    lower : {"lambert", "quadratic"}, default "lambert"
        The corrected lower end.
    printed : bool, default False
        The interval as printed, with the paper's lower end y_l d/C (for the erratum check;
        ``lower`` must then be left at its default).

    Returns
    -------
    Bound
        An ``"interval"`` bound on |eps|^2 (``lower``, ``upper``) with
        ``failure_probability`` delta; an end beyond float64 raises ``ValueError``.

    See Also
    --------
    chi2_rate_roots : the roots, exact and as printed.
    norm_tail_bound : the one-sided tails.

    References
    ----------
    Ye et al., Lemma A.2.

    Examples
    --------
    >>> b = norm_concentration_interval(0.01, 8)
    >>> round(b.lower, 6), round(b.upper, 6)
    (0.872811, 35.384572)
    >>> round(norm_concentration_interval(0.01, 8, printed=True).lower, 6)   # 8 y_l
    1.808698
    """
    check_choice(lower, "lower", LOWER_ENDS)
    if check_bool(printed, "printed") and lower != "lambert":
        raise ValueError(
            f"lower must be left at 'lambert' with printed=True (the printed interval has the "
            f"paper's lower end), got lower={lower!r}"
        )
    c = check_scalar(C, "C", low=0.0, low_open=True)
    ta = np.asarray(norm_tau(delta, d, B_over_cf))
    dd = np.asarray(d, dtype=np.float64)
    y_l, y_u = chi2_rate_roots(ta, printed=True)
    if printed:
        low, name = y_l, "printed"
    elif lower == "lambert":
        low, name = chi2_rate_roots(ta)[0], lower
    else:
        low, name = np.maximum(0.0, 1.0 - np.sqrt(2.0 * ta)), lower
    with np.errstate(over="ignore"):
        upper = finite_result(np.asarray(y_u) * dd / c, "the upper end y_u d/C")
        lower_end = np.asarray(low) * dd / c
    return Bound(
        value=to_output(upper),
        failure_probability=to_output(np.asarray(delta, dtype=np.float64)),
        kind="interval",
        lower=to_output(lower_end),
        statement=f"Ye et al., Lemma A.2 (lower end: {name})",
    )


# ---------------------------------------------------------------------------------------------
# Lemma A.6 and Lemma B.1
# ---------------------------------------------------------------------------------------------


def component_posterior_mean_approx(
    x_t: ArrayLike, t: float, mu_k: ArrayLike, *, C: float = 1.0, schedule: Schedule | None = None
) -> np.ndarray:
    r"""Leading term of the component posterior mean, Ye et al., Lemma A.6.

        mu_{0|t}^{(k)}(x_t) ~= mu^(k) + alpha_t / (alpha_t^2 + C sigma_t^2) (x_t - alpha_t mu^(k)).

    Exact (error E_k = 0) for the Gaussian component N(mu^(k), I/C); the error for a
    sub-Gaussian Hölder density is bounded by :func:`lemma_a_6_error_bound`. ``x_t`` is
    ``(B, d)`` or ``(d,)``, ``mu_k`` is ``(d,)``.

    >>> print(np.round(component_posterior_mean_approx([1.0, 0.0], 0.5, [0.0, 2.0]), 6))
    [0.778801 0.786939]
    """
    a2, s2 = alpha2_sigma2(t, schedule)
    if a2.ndim != 0:
        raise ValueError(f"t must be a scalar, got shape {a2.shape}")
    xq, single = as_queries(x_t, "x_t")
    mu = as_points(np.atleast_2d(mu_k), "mu_k", xq.shape[1], "x_t")[0]
    c = check_scalar(C, "C", low=0.0, low_open=True)
    alpha = math.sqrt(float(a2))
    out = mu + alpha / (float(a2) + c * float(s2)) * (xq - alpha * mu)
    return unbatch(out, single)


def lemma_a_6_error_bound(
    t: ArrayLike,
    d: ArrayLike,
    *,
    B: float,
    c_f: float,
    C: float = 1.0,
    schedule: Schedule | None = None,
) -> Any:
    r"""Bound on the error E_k of Lemma A.6 (Ye et al., App. A.4.2, Stein's identity).

        |E_k| = |E_Y[grad f(Y)]| / (gamma_t^2 E_Y[f(Y)]) <= B sqrt(d) / (c_f gamma_t^2),
        gamma_t^2 = alpha_t^2 / sigma_t^2 + C,

    where B bounds every partial derivative of f (so |grad f| <= B sqrt(d)) and c_f <= f. Stein's
    identity needs f differentiable, i.e. Hoelder index beta >= 1, which the lemma does not
    state. The bound is O(sigma_t^2) as t -> 0, which implies the printed O(sigma_t / alpha_t).

    Parameters
    ----------
    t : array_like
        Times.
    d : array_like
        Dimension, > 0.
    B : float
        Bound on the partial derivatives of f, >= 0.
    c_f : float
        Lower bound of f, > 0.
    C : float, default 1
        The sub-Gaussian constant of Def. 3.2.
    schedule : Schedule, optional
        Default :class:`~diffmem_theory.core.schedules.VPExp`.

    Returns
    -------
    float or ndarray
        The bound; ``ValueError`` beyond float64.

    See Also
    --------
    component_posterior_mean_approx : the leading term whose error this bounds.

    References
    ----------
    Ye et al., Lemma A.6 and its proof (App. A.4.2).

    Examples
    --------
    >>> round(lemma_a_6_error_bound(0.1, 1, B=0.5, c_f=0.5), 6)
    0.095163
    """
    a2, s2 = alpha2_sigma2(t, schedule)
    dd = ranged(d, "d", 0.0, low_open=True)
    b = check_scalar(B, "B", low=0.0)
    cf = check_scalar(c_f, "c_f", low=0.0, low_open=True)
    c = check_scalar(C, "C", low=0.0, low_open=True)
    with np.errstate(over="ignore"):
        bound = b * np.sqrt(dd) * s2 / (cf * (a2 + c * s2))
    return to_output(finite_result(bound, "the Lemma A.6 bound"))


def empirical_score_sup_bound(
    x: ArrayLike, t: ArrayLike, X0: ArrayLike, schedule: Schedule | None = None
) -> Any:
    r"""Sup-norm bound on the empirical score, Ye et al., Lemma B.1.

        |grad log p^_t(x)|_inf <= (|x|_inf + B_D) / sigma_t^2,   B_D = max_i |x_i|_inf.

    ``x`` is ``(B, d)`` or ``(d,)``; ``t`` a scalar or ``(B,)``. Returns ``(B,)`` (or a float);
    a bound beyond float64 raises ``ValueError``.

    Parameters
    ----------
    x : array_like, shape (B, d) or (d,)
        Query points.
    t : float or array_like, shape (B,)
        Times.
    X0 : array_like, shape (n, d)
        The training points.
    schedule : Schedule, optional
        Default :class:`~diffmem_theory.core.schedules.VPExp`.

    Returns
    -------
    float or ndarray, shape (B,)
        The bound per query.

    See Also
    --------
    diffmem_theory.core.distributions.EmpiricalDistribution.score_t : the score it bounds.
    diffmem_theory.fisher.separation.taylor_score : clips at this bound.

    References
    ----------
    Ye et al., Lemma B.1.

    Examples
    --------
    >>> round(empirical_score_sup_bound([0.5, -2.0], 1.0, [[1.0, 0.0], [0.0, 3.0]]), 6)
    7.909884
    """
    xq, single = as_queries(x)
    data = as_points(X0, "X0", xq.shape[1])
    _, s2 = alpha2_sigma2(t, schedule)
    if s2.ndim > 1 or (s2.ndim == 1 and s2.shape[0] != xq.shape[0]):
        raise ValueError(
            f"t must be a scalar or have shape ({xq.shape[0]},) (one per query), got {s2.shape}"
        )
    with np.errstate(over="ignore"):
        out = finite_result(
            (np.abs(xq).max(axis=1) + np.abs(data).max()) / s2, "the Lemma B.1 bound"
        )
    return to_output(out[0]) if single else out


# ---------------------------------------------------------------------------------------------
# Lemma B.8 (Pinelis 2020): upper incomplete gamma
# ---------------------------------------------------------------------------------------------


def _incgamma_args(a: ArrayLike, x: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    aa = ranged(a, "a", -1.0, low_open=True)
    xx = ranged(x, "x", 0.0, low_open=True)
    return np.broadcast_arrays(aa, xx)


def upper_incomplete_gamma(a: ArrayLike, x: ArrayLike) -> Any:
    r"""Gamma(a, x) = int_x^inf s^{a-1} e^{-s} ds for a > -1, x > 0 (float64).

    The function bounded by Lemma B.8 of Ye et al. By regime: |a| < 1e-20: E_1(x) (``exp1``;
    Gamma(a, x) - E_1(x) = O(a log x)); a > 0: ``gammaincc(a, x) * Gamma(a)`` (SciPy),
    multiplied in log space; a in (-1, 0): the recurrence Gamma(a, x) = (Gamma(a+1, x) -
    x^a e^{-x}) / a, whose relative error grows like 1e-16 (1 + x)/|a| near a = 0 (use
    :func:`upper_incomplete_gamma_mp` there).

    Parameters
    ----------
    a : array_like
        Order, > -1.
    x : array_like
        Argument, > 0 (broadcast with ``a``).

    Returns
    -------
    float or ndarray
        Gamma(a, x); ``ValueError`` beyond float64 (large a, or x -> 0 with a < 0).

    See Also
    --------
    upper_incomplete_gamma_mp : the mpmath twin.
    incgamma_upper_bound : Pinelis' bound on it (Lemma B.8).

    References
    ----------
    Ye et al., Lemma B.8.

    Examples
    --------
    >>> round(upper_incomplete_gamma(2.0, 1.0), 6), round(upper_incomplete_gamma(0.0, 1.0), 6)
    (0.735759, 0.219384)
    >>> round(upper_incomplete_gamma(-0.5, 1.0), 6)
    0.178148
    """
    aa, xx = _incgamma_args(a, x)
    zero = np.abs(aa) < _A_ZERO
    pos, neg = (aa > 0) & ~zero, (aa < 0) & ~zero
    ap = np.where(pos, aa, 1.0)
    with np.errstate(divide="ignore"):  # gammaincc underflows to 0 only where the value does
        log_pos = np.log(gammaincc(ap, xx)) + gammaln(ap)
    an = np.where(neg, aa, -0.5)
    log_power = np.where(neg, an * np.log(xx) - xx, 0.0)  # log(x^a e^{-x}) of the recurrence
    if np.any(pos & (log_pos > _LOG_MAX)) or np.any(log_power > _LOG_MAX):
        raise ValueError("Gamma(a, x) is outside the float64 range at these a, x")
    up = gammaincc(an + 1.0, xx) * np.exp(gammaln(an + 1.0))
    with np.errstate(over="ignore"):
        rec = (up - np.exp(log_power)) / an
    out = np.where(zero, exp1(xx), np.where(pos, np.exp(np.where(pos, log_pos, 0.0)), rec))
    return to_output(finite_result(out, "Gamma(a, x)"))


def upper_incomplete_gamma_mp(a: Any, x: Any, dps: int = 50) -> mpmath.mpf:
    r"""High-precision twin of :func:`upper_incomplete_gamma`: ``mpmath.gammainc(a, x)``.

    Parameters
    ----------
    a : float, int, str or mpf
        Any finite real.
    x : float, int, str or mpf
        Finite, > 0.
    dps : int, default 50
        Decimal digits, in [5, 10^4].

    Returns
    -------
    mpmath.mpf

    See Also
    --------
    upper_incomplete_gamma : the float64 function.
    incgamma_upper_bound_mp : the mpmath twin of the bound.

    Examples
    --------
    >>> print(mpmath.nstr(upper_incomplete_gamma_mp(-0.5, 1.0, dps=30), 15))
    0.178147711781561
    """
    with mpmath.workdps(check_dps(dps)):
        return mpmath.gammainc(mpf(a, "a"), pos_mpf(x, "x"))


def _pinelis_b(a: np.ndarray) -> np.ndarray:
    """b_a = Gamma(a+1)^{1/(a-1)}, with b_1 = e^{1-gamma} (the limit)."""
    one = a == 1.0
    safe = np.where(one, 0.0, a)
    return np.where(one, math.exp(1.0 - _EULER_GAMMA), np.exp(gammaln(safe + 1.0) / (safe - 1.0)))


def incgamma_upper_bound(a: ArrayLike, x: ArrayLike) -> Any:
    r"""Pinelis' upper bounds on Gamma(a, x), Ye et al., Lemma B.8 (Pinelis 2020, Thm 1.1/Prop 2.6).

    For -1 < a <= 1 and x > 0:

        Gamma(a, x) <= G_a(x) = ((x + b_a)^a - x^a) e^{-x} / (a b_a) <= x^{a-1} e^{-x},
        b_a = Gamma(a+1)^{1/(a-1)},  b_1 = e^{1-gamma},  G_0(x) = e^{-x} log(1 + 1/x);

    for a > 1 and x > a - 1:

        Gamma(a, x) <= x^{a-1} e^{-x} / (1 - (a-1)/x).

    G_a is evaluated as -(x + b_a)^a e^{-x} expm1(a log u) / (a b_a), u = x/(x + b_a)
    (continuous at a = 0, and no overflow of b_a/x as x -> 0).

    Parameters
    ----------
    a : array_like
        Order, > -1.
    x : array_like
        Argument, > 0, and > a - 1 where a > 1 (broadcast with ``a``).

    Returns
    -------
    float or ndarray
        The bound; ``ValueError`` outside the range above or beyond float64.

    See Also
    --------
    incgamma_upper_bound_mp : the mpmath twin.
    upper_incomplete_gamma : the function it bounds.

    References
    ----------
    Ye et al., Lemma B.8, citing Pinelis (2020), Thm 1.1 and Prop. 2.6.

    Examples
    --------
    >>> round(incgamma_upper_bound(0.0, 1.0), 6), round(incgamma_upper_bound(3.0, 4.0), 6)
    (0.254995, 0.5861)
    """
    aa, xx = _incgamma_args(a, x)
    big = aa > 1.0
    if np.any(big & (xx <= aa - 1.0)):
        bad = np.flatnonzero((big & (xx <= aa - 1.0)).ravel())[0]
        raise ValueError(
            f"x must exceed a - 1 when a > 1 (Lemma B.8), got a={aa.flat[bad]!r}, "
            f"x={xx.flat[bad]!r}"
        )
    small_a = np.where(big, 0.5, aa)
    b = _pinelis_b(small_a)
    # log u = log(x/(x + b)): from the logs where x < b (b/x may overflow), else -log1p(b/x)
    near = xx < b
    log_u = np.where(near, np.log(xx) - np.log(xx + b), -np.log1p(b / np.where(near, b, xx)))
    tiny = np.abs(small_a) < 1e-8  # -expm1(a L)/a = -L (1 + a L/2 + ...), also for subnormal a
    safe = np.where(tiny, 1.0, small_a)
    with np.errstate(over="ignore"):
        ratio = np.where(
            tiny, -log_u * (1.0 + 0.5 * small_a * log_u), -np.expm1(safe * log_u) / safe
        )
        g_small = np.exp(small_a * np.log(xx + b) - xx) * ratio / b
    xb = np.where(big, xx, 2.0)
    ab = np.where(big, aa, 1.5)
    with np.errstate(over="ignore"):
        log_big = (ab - 1.0) * np.log(xb) - xb
    if np.any(log_big > _LOG_MAX):
        raise ValueError("the bound x^{a-1} e^{-x}/(1 - (a-1)/x) is outside the float64 range")
    g_big = np.exp(log_big) / (1.0 - (ab - 1.0) / xb)
    return to_output(finite_result(np.where(big, g_big, g_small), "the Pinelis bound"))


def incgamma_upper_bound_mp(a: Any, x: Any, dps: int = 50) -> mpmath.mpf:
    r"""High-precision twin of :func:`incgamma_upper_bound` (same formulas, mpmath at ``dps``).

    Parameters
    ----------
    a, x : float, int, str or mpf
        As in :func:`incgamma_upper_bound` (``ValueError`` outside its range).
    dps : int, default 50
        Decimal digits, in [5, 10^4].

    Returns
    -------
    mpmath.mpf

    See Also
    --------
    incgamma_upper_bound : the float64 function.
    upper_incomplete_gamma_mp : the function it bounds, in mpmath.

    Examples
    --------
    >>> print(mpmath.nstr(incgamma_upper_bound_mp(0.0, 1.0, dps=30), 12))
    0.254994597434
    """
    with mpmath.workdps(check_dps(dps)):
        a, x = mpf(a, "a"), mpf(x, "x")
        if a <= -1 or x <= 0 or (a > 1 and x <= a - 1):
            raise ValueError(f"need a > -1, x > 0 and x > a - 1 when a > 1, got a={a}, x={x}")
        if a > 1:
            return x ** (a - 1) * mpmath.exp(-x) / (1 - (a - 1) / x)
        if a == 0:
            return mpmath.exp(-x) * mpmath.log(1 + 1 / x)
        b = mpmath.exp(1 - mpmath.euler) if a == 1 else mpmath.gamma(a + 1) ** (1 / (a - 1))
        return x**a * mpmath.expm1(a * mpmath.log1p(b / x)) * mpmath.exp(-x) / (a * b)


# ---------------------------------------------------------------------------------------------
# Lemma C.1: Hessian and Lipschitz constant of the empirical score
# ---------------------------------------------------------------------------------------------


def _hessian_terms(
    alpha: float, sigma: float, x: np.ndarray, X0: np.ndarray, backend: str
) -> tuple[np.ndarray]:
    """-I/sigma^2 + (alpha^2/sigma^4) Cov_w[X0] at one time (moments of the centred data)."""
    n, d = X0.shape
    Y = X0 - X0.mean(axis=0)
    values = np.concatenate([(Y[:, :, None] * Y[:, None, :]).reshape(n, d * d), Y], axis=1)
    s2 = sigma * sigma
    out = softmax_weighted_sum(x, X0, scale=alpha, var=s2, values=values, backend=backend)
    second = out[:, : d * d].reshape(-1, d, d)
    mean = out[:, d * d :]
    cov = second - mean[:, :, None] * mean[:, None, :]
    cov = 0.5 * (cov + np.swapaxes(cov, 1, 2))
    with np.errstate(over="ignore", invalid="ignore"):
        hess = alpha * alpha / s2 / s2 * cov - np.eye(d) / s2
    return (finite_result(hess, "the Hessian (alpha^2/sigma^4 scale)"),)


def empirical_score_hessian(
    x: ArrayLike,
    t: ArrayLike,
    X0: ArrayLike,
    schedule: Schedule | None = None,
    *,
    backend: str = "numba",
) -> np.ndarray:
    r"""Hessian of log p^_t = Jacobian of the empirical score, Ye et al., Lemma C.1, eq. (C.1).

        grad^2 log p^_t(x) = -I / sigma_t^2 + (alpha_t^2 / sigma_t^4) Cov_w[X_0],
        Cov_w[X_0] = sum_i w_i(x) (x_i - mu^(x)) (x_i - mu^(x))^T,
        w_i(x) = softmax_i(-|x - alpha_t x_i|^2 / (2 sigma_t^2)).

    The weighted moments come from :func:`diffmem_theory.kernels.softmax_weighted_sum`
    (log-sum-exp) on data centred at its mean (Cov is shift invariant). ``x`` is ``(B, d)``
    (returns ``(B, d, d)``) or ``(d,)`` (returns ``(d, d)``); ``t`` a scalar or ``(B,)``. The
    (n + B) d^2 moments are within the memory cap of ``_validation.check_allocation``, and a
    Hessian beyond float64 (t -> 0) raises ``ValueError``.

    Parameters
    ----------
    x : array_like, shape (B, d) or (d,)
        Query points.
    t : float or array_like, shape (B,)
        Times.
    X0 : array_like, shape (n, d)
        The training points.
    schedule : Schedule, optional
        Default :class:`~diffmem_theory.core.schedules.VPExp`.
    backend : str, default "numba"
        Backend of the kernel.

    Returns
    -------
    ndarray, shape (B, d, d) or (d, d)
        The Hessian, symmetric.

    See Also
    --------
    empirical_score_lipschitz : its spectral norm.
    lipschitz_bounds : the bounds (C.2) on its supremum.

    References
    ----------
    Ye et al., Lemma C.1, eq. (C.1).

    Examples
    --------
    >>> alpha = float(VPExp().alpha(0.01))
    >>> H = empirical_score_hessian([alpha / 2], 0.01, [[0.0], [1.0]])
    >>> round(float(H[0, 0]), 3)      # alpha^2/(4 sigma^4) - 1/sigma^2 at the midpoint
    2399.478
    """
    sched = _schedule(schedule)
    xq, single = as_queries(x)
    data = as_points(X0, "X0", xq.shape[1])
    d = data.shape[1]
    check_allocation(2 * (data.shape[0] + xq.shape[0]) * (d * d + d), "the d x d moments")
    (hess,) = map_over_times(xq, t, sched, _hessian_terms, X0=data, backend=backend)
    return unbatch(hess, single)


def empirical_score_lipschitz(
    x: ArrayLike, t: ArrayLike, X0: ArrayLike, schedule: Schedule | None = None
) -> Any:
    r"""Local Lipschitz constant |grad^2 log p^_t(x)|_2 of the empirical score (Lemma C.1).

    The spectral norm (largest |eigenvalue|) of :func:`empirical_score_hessian`; C_L of (C.2)
    is its supremum over x. Shape ``(B,)`` for ``(B, d)`` queries, a float for ``(d,)``.

    Parameters
    ----------
    x : array_like, shape (B, d) or (d,)
        Query points.
    t : float or array_like, shape (B,)
        Times.
    X0 : array_like, shape (n, d)
        The training points.
    schedule : Schedule, optional
        Default :class:`~diffmem_theory.core.schedules.VPExp`.

    Returns
    -------
    float or ndarray, shape (B,)

    See Also
    --------
    empirical_score_lipschitz_max : its maximum over points.
    lipschitz_bounds : the bounds (C.2).

    References
    ----------
    Ye et al., Lemma C.1.

    Examples
    --------
    >>> round(empirical_score_lipschitz([0.0], 0.01, [[0.0], [1.0]]), 4)
    100.5008
    """
    hess = empirical_score_hessian(x, t, X0, schedule)
    eig = np.linalg.eigvalsh(hess)
    return to_output(np.abs(eig).max(axis=-1))


def _pair_midpoints(data: np.ndarray) -> np.ndarray:
    i, j = np.triu_indices(data.shape[0], k=1)
    return 0.5 * (data[i] + data[j])


def empirical_score_lipschitz_max(
    t: float,
    X0: ArrayLike,
    points: ArrayLike | None = None,
    schedule: Schedule | None = None,
) -> float:
    r"""A certified lower estimate of C_L = sup_x |grad^2 log p^_t(x)|_2 (Lemma C.1).

    The largest local Lipschitz constant (:func:`empirical_score_lipschitz`) over ``points``
    (``(B, d)``), by default the alpha_t-scaled midpoints alpha_t (x_i + x_j)/2 of all pairs
    (where the proof of (C.2) evaluates it, once its midpoint is corrected) and the points
    alpha_t x_i. For n = 2 the midpoint is the maximizer, so the value is C_L itself. The
    n(n+1)/2 default points are within the memory cap of ``_validation.check_allocation``
    (``ValueError``).

    n = 2, d = 1, Delta = 1, t = 0.01: C_L = alpha^2 Delta^2/(4 sigma^4) - 1/sigma^2 exactly
    (the Hessian is -1/sigma^2 + (alpha^2/sigma^4) w (1 - w) Delta^2 with w (1 - w) <= 1/4):

    >>> round(empirical_score_lipschitz_max(0.01, [[0.0], [1.0]]), 3)
    2399.478
    """
    sched = _schedule(schedule)
    tt = check_scalar(t, "t", low=0.0, low_open=True)
    data = as_points(X0, "X0", None)
    if points is None:
        alpha = float(sched.alpha(tt))
        n = data.shape[0]
        check_allocation(3 * (n * (n + 1) // 2) * data.shape[1], f"the midpoints of {n} points")
        pts = alpha * np.concatenate([_pair_midpoints(data), data])
    else:
        pts = as_points(points, "points", data.shape[1], "X0")
    return float(np.max(empirical_score_lipschitz(pts, tt, data, sched)))


def lipschitz_bounds(
    t: ArrayLike,
    X0: ArrayLike,
    schedule: Schedule | None = None,
    *,
    constant: float = 1.0 / 16.0,
) -> Bound:
    r"""Bounds (C.2) on the Lipschitz constant C_L of the empirical score, Ye et al., Lemma C.1.

    With Delta_min = min_{i != j} |x_i - x_j| and Delta_max = max_{i,j} |x_i - x_j|:

        constant * alpha_t^2 Delta_min^2 / sigma_t^4 - 1/sigma_t^2 <= C_L
                                    <= 1/sigma_t^2 + alpha_t^2 Delta_max^2 / (4 sigma_t^4),

    the lower end under Delta_min >= (2 sigma_t/alpha_t) sqrt(log((n-2)/2)) (our reading of the
    garbled condition: it makes the (n - 2) e^{-alpha_t^2 Delta_min^2/(4 sigma_t^2)} weight of
    the other points at most 2; vacuous for n <= 4). The upper end (Popoviciu) holds always.
    The printed constant is 1/16; the same argument gives 1/8. The lower end is attained near
    the midpoint alpha_t (x_i + x_j)/2 of the closest pair -- the printed (x_i + x_j)/2 is a
    misprint (see :mod:`diffmem_theory.fisher.errata`).

    Parameters
    ----------
    t : array_like
        Times.
    X0 : array_like, shape (n, d)
        The training points, n >= 2.
    schedule : Schedule, optional
        Default :class:`~diffmem_theory.core.schedules.VPExp`.
    constant : float, default 1/16
        The constant of the lower end, in (0, 1/8].

    Returns
    -------
    Bound
        An ``"interval"`` bound (``lower``, ``upper``, ``failure_probability`` 0,
        ``conditions_hold`` the separation condition), vectorized over ``t``; ends beyond
        float64 (t -> 0) raise ``ValueError``.

    See Also
    --------
    empirical_score_lipschitz_max : C_L estimated from the Hessian.
    gaussian_score_lipschitz : the constant of a Gaussian's score, O(1) in t.

    References
    ----------
    Ye et al., Lemma C.1, eq. (C.2), and Lemmas C.2-C.4.

    Examples
    --------
    >>> b = lipschitz_bounds(0.01, [[0.0], [1.0]])
    >>> round(b.lower, 3), round(b.upper, 3), b.conditions_hold
    (524.494, 2600.48, True)
    """
    a2, s2 = alpha2_sigma2(t, schedule)
    data = as_points(X0, "X0", None)
    n = data.shape[0]
    if n < 2:
        raise ValueError(f"X0 must hold at least 2 points, got shape {data.shape}")
    c = check_scalar(constant, "constant", low=0.0, low_open=True, high=0.125)
    dmin, dmax = min_pairwise_distance(data), diameter(data)
    with np.errstate(over="ignore", invalid="ignore"):
        lower = c * a2 * (dmin / s2) * (dmin / s2) - 1.0 / s2
        upper = 1.0 / s2 + a2 * (dmax / s2) * (dmax / s2) / 4.0
    finite_result(lower, "the lower end of (C.2)")
    finite_result(upper, "the upper end of (C.2)")
    factor = math.sqrt(max(0.0, math.log(max(n - 2, 1) / 2.0)))  # 0 for n <= 4: vacuous
    with np.errstate(divide="ignore"):  # alpha_t^2 = 0 (t -> inf): the condition cannot hold
        threshold = 2.0 * np.sqrt(s2 / a2) * factor if factor > 0 else np.zeros_like(s2)
    return Bound(
        value=to_output(upper),
        failure_probability=0.0,
        kind="interval",
        lower=to_output(lower),
        conditions_hold=to_output(dmin >= threshold),
        statement="Ye et al., Lemma C.1, eq. (C.2)",
    )


def gaussian_score_lipschitz(
    t: ArrayLike, lambda_min: ArrayLike, schedule: Schedule | None = None
) -> Any:
    r"""Lipschitz constant of the score of N(mu, Sigma) data, Ye et al., Sec. 5 (vs Lemma C.1).

        |grad^2 log p_t|_2 = |(alpha_t^2 Sigma + sigma_t^2 I)^{-1}|_2
                           = 1 / (sigma_t^2 + alpha_t^2 lambda_min)

    for every x; O(1) uniformly in t when lambda_min(Sigma) > 0. Vectorized; lambda_min >= 0;
    a constant beyond float64 (t -> 0 with lambda_min = 0) raises ``ValueError``.

    Parameters
    ----------
    t : array_like
        Times.
    lambda_min : array_like
        The smallest eigenvalue of Sigma, >= 0.
    schedule : Schedule, optional
        Default :class:`~diffmem_theory.core.schedules.VPExp`.

    Returns
    -------
    float or ndarray

    See Also
    --------
    lipschitz_bounds : the empirical score's constant, O(sigma_t^{-4}).

    References
    ----------
    Ye et al., Sec. 5 (the contrast with Lemma C.1).

    Examples
    --------
    >>> round(gaussian_score_lipschitz(0.1, 0.3), 4)
    2.7277
    >>> [round(gaussian_score_lipschitz(t, 0.3), 4) for t in (1e-3, 0.1, 1.0, 5.0)]
    [3.3256, 2.7277, 1.3468, 1.0047]
    """
    a2, s2 = alpha2_sigma2(t, schedule)
    lam = ranged(lambda_min, "lambda_min", 0.0)
    with np.errstate(divide="ignore", over="ignore"):
        return to_output(
            finite_result(1.0 / (s2 + a2 * lam), "1/(sigma_t^2 + alpha_t^2 lambda_min)")
        )
