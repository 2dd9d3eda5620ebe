r"""Concentration, softmax-sparsity and coupon-collector bounds of Buchanan et al. (paper 000).

Appendices C, D and E of "On the Edge of Memorization in Diffusion Models" (Buchanan, Pai, Ma,
De Bortoli) as plain, vectorized functions, with the paper's mistakes corrected and the printed
forms kept available (``printed=True``) for :mod:`diffmem_theory.crossover.counterexamples`:

* **Theorem C.1** (Chernoff--Cramér for chi-square, eqs. (17)-(19)):
  :func:`chi2_lower_tail_bound`, :func:`chi2_upper_tail_bound`, :func:`chi2_two_sided_bound`.
* **Lemma C.2** (norm of ``N(mu, s^2 I)``): :func:`gaussian_norm_deviation`.
* **Proposition C.3** (softmax average of Gaussians vs a held-out one): :func:`prop_c_3_bounds`.
* **Proposition C.4** (coupon collector, false as printed): :func:`coupon_min_draws`,
  :func:`coupon_probability_exact`, :func:`coupon_bound` (``printed=True``: the statement
  as printed).
* **Lemmas D.1 / D.2** (low-temperature softmax): :func:`softmax_onehot_bound`,
  :func:`softmax_subset_bound`.
* **Lemmas E.1-E.6** (gap events and denoiser approximations): :func:`lemma_e_1` ...
  :func:`lemma_e_6`, each returning a :class:`Bound`; :func:`coupling_conditions`;
  :func:`gamma_star`; :func:`gap_means_failure_exact` (the exact law behind Lemma E.1).

Conventions: ``log`` is the natural logarithm; ``V = alpha_t^2 s_*^2 + sigma_t^2`` and
``V_2 = 2 alpha_t^2 s_*^2 + sigma_t^2`` where ``s_*^2 = var_star``; ``gamma`` is the minimal
separation ``min_{k != k'} |mu_k - mu_k'|`` and ``Gamma`` the maximal norm ``max_k |mu_k|`` of the
true means. Failure probabilities are returned as computed (not clipped to 1): a value >= 1 means
the statement is vacuous at those parameters. Scalars in give Python floats out; arrays broadcast.
A bound, threshold or failure probability beyond the float64 range (e.g. ``gamma = 1e300``) raises
``ValueError``; a ``log_value`` (or ``log=True`` result) is -inf where the bound is exactly 0 or
its logarithm is below the float64 range (e.g. ``t -> 0``), where the bound itself is 0.0.

Example
-------
>>> from diffmem_theory.crossover.concentration import (
...     coupon_bound, coupon_probability_exact)
>>> round(coupon_probability_exact(12, 78), 6), round(coupon_bound(12, 5, printed=True), 6)
(0.893773, 0.908371)
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import log_ndtr

from diffmem_theory._bounds import (
    Bound,
    bound_field,
    finite_output,
    log_output,
    overflow_checked,
    ranged,
    to_output,
)
from diffmem_theory._validation import (
    check_bool,
    check_choice,
    check_int,
    finite_result,
)
from diffmem_theory.core.schedules import Schedule, as_schedule

__all__ = [
    "LEMMAS",
    "chi2_lower_tail_bound",
    "chi2_two_sided_bound",
    "chi2_upper_tail_bound",
    "coupling_conditions",
    "coupon_bound",
    "coupon_min_draws",
    "coupon_probability_exact",
    "gamma_star",
    "gap_means_failure_exact",
    "gaussian_norm_deviation",
    "lemma_e_1",
    "lemma_e_2",
    "lemma_e_3",
    "lemma_e_4",
    "lemma_e_5",
    "lemma_e_6",
    "prop_c_3_bounds",
    "softmax_onehot_bound",
    "softmax_subset_bound",
]

#: Lemma names accepted by :func:`coupling_conditions`.
LEMMAS: tuple[str, ...] = ("E.1", "E.2", "E.3", "E.4", "E.5", "E.6", "E.6ii", "F.1", "F.3")


# ---------------------------------------------------------------------------------------------
# the result type and small helpers
# ---------------------------------------------------------------------------------------------


def _alpha2_sigma2(t: ArrayLike, schedule: Schedule | None) -> tuple[np.ndarray, np.ndarray]:
    sched = as_schedule(schedule)
    a = np.asarray(sched.alpha(t), dtype=np.float64)
    return a * a, np.asarray(sched.sigma2(t), dtype=np.float64)


def _log_sigma2(t: ArrayLike, schedule: Schedule | None) -> np.ndarray:
    """log sigma_t^2, finite even where sigma_t^2 underflows (t -> 0)."""
    return np.asarray(as_schedule(schedule).log_sigma2(t), dtype=np.float64)


def _over_sigma2(x: np.ndarray, t: ArrayLike, schedule: Schedule | None) -> np.ndarray:
    """x / sigma_t^2 for x >= 0 in log space: inf (not a 0/0 NaN) where it overflows."""
    return np.exp(_log(x) - _log_sigma2(t, schedule))


def _log(x: Any) -> np.ndarray:
    """log of a nonnegative array, -inf at 0 without a warning."""
    arr = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.log(arr)


def _tail(d: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """The recurring Chernoff factor exp(-d eps^2 / 8)."""
    return np.exp(-d * eps * eps / 8.0)


# ---------------------------------------------------------------------------------------------
# Theorem C.1: Chernoff--Cramér bounds for chi-square
# ---------------------------------------------------------------------------------------------


@overflow_checked
def chi2_lower_tail_bound(p: ArrayLike, eps: ArrayLike, *, log: bool = False) -> Any:
    r"""Chernoff bound on the lower tail of a chi-square: ``P(X <= (1 - eps) p)``, ``X ~ chi2(p)``.

    Buchanan et al. (paper 000), Theorem C.1, eq. (17):

        P(X <= (1 - eps) p) <= exp[(p/2)(eps + log(1 - eps))],   0 <= eps < 1,

    the Chernoff--Cramér bound ``inf_{s>0} M(-s) e^{s a}`` at ``a = (1 - eps) p``, evaluated with
    ``log1p``. It holds for any real ``p > 0`` (a Gamma(p/2, 2) variable), not only integers.
    ``eps = 0`` gives the trivial bound 1. Vectorized over ``p`` and ``eps``; ``log=True``
    returns the logarithm of the bound (finite where the bound underflows).

    Parameters
    ----------
    p : float or array_like
        Degrees of freedom, ``p > 0`` (any real: a Gamma(p/2, 2) variable).
    eps : float or array_like
        Relative deviation, ``0 <= eps < 1``.
    log : bool, default False
        Return the logarithm of the bound (finite where the bound underflows).

    Returns
    -------
    float or ndarray
        The bound on the probability (or its logarithm), broadcast over ``p`` and ``eps``.

    See Also
    --------
    chi2_upper_tail_bound : the other bound of Theorem C.1.
    chi2_two_sided_bound : the other bound of Theorem C.1.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Theorem C.1, eq. (17) (App. C).

    Examples
    --------
    >>> round(chi2_lower_tail_bound(100, 0.3), 6)   # exact: chi2.cdf(70, 100) = 0.009846
    0.058792
    """
    check_bool(log, "log")
    pp = ranged(p, "p", 0.0, low_open=True)
    e = ranged(eps, "eps", 0.0, 1.0, high_open=True)
    log_bound = 0.5 * pp * (e + np.log1p(-e))
    return log_output(log_bound, "the log-bound") if log else to_output(np.exp(log_bound))


@overflow_checked
def chi2_upper_tail_bound(p: ArrayLike, eps: ArrayLike, *, log: bool = False) -> Any:
    r"""Chernoff bound on the upper tail of a chi-square: ``P(X >= (1 + eps) p)``, ``X ~ chi2(p)``.

    Buchanan et al. (paper 000), Theorem C.1, eq. (18):

        P(X >= (1 + eps) p) <= exp[-(p/2)(eps - log(1 + eps))],   eps >= 0.

    (The paper states it for ``eps`` in (0, 1); the Chernoff argument gives it for every
    ``eps >= 0``.) Uses ``log1p``; vectorized over ``p`` and ``eps``; ``log=True`` returns the
    logarithm of the bound.

    Parameters
    ----------
    p : float or array_like
        Degrees of freedom, ``p > 0`` (any real: a Gamma(p/2, 2) variable).
    eps : float or array_like
        Relative deviation, ``eps >= 0``.
    log : bool, default False
        Return the logarithm of the bound (finite where the bound underflows).

    Returns
    -------
    float or ndarray
        The bound on the probability (or its logarithm), broadcast over ``p`` and ``eps``.

    See Also
    --------
    chi2_lower_tail_bound : the other bound of Theorem C.1.
    chi2_two_sided_bound : the other bound of Theorem C.1.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Theorem C.1, eq. (18) (App. C).

    Examples
    --------
    >>> round(chi2_upper_tail_bound(100, 0.3), 6)   # exact: chi2.sf(130, 100) = 0.023512
    0.152318
    """
    check_bool(log, "log")
    pp = ranged(p, "p", 0.0, low_open=True)
    e = ranged(eps, "eps", 0.0)
    log_bound = -0.5 * pp * (e - np.log1p(e))
    return log_output(log_bound, "the log-bound") if log else to_output(np.exp(log_bound))


@overflow_checked
def chi2_two_sided_bound(p: ArrayLike, eps: ArrayLike, *, log: bool = False) -> Any:
    r"""Two-sided chi-square concentration ``P(|X - p| >= eps p) <= 2 exp(-p eps^2 / 8)``.

    Buchanan et al. (paper 000), Theorem C.1, eq. (19), for ``0 <= eps <= 1``. The printed proof
    is garbled (it claims ``log(1+x) - x <= -x^2/2 + x^3/6`` and then only reaches ``p eps^2/16``),
    but the statement is true: on [0, 1], ``eps - log(1 + eps) >= eps^2/4`` and
    ``-eps - log(1 - eps) >= eps^2/2``, so eqs. (17)-(18) are each ``<= exp(-p eps^2/8)``.
    ``log=True`` returns ``log 2 - p eps^2/8``.

    Parameters
    ----------
    p : float or array_like
        Degrees of freedom, ``p > 0`` (any real: a Gamma(p/2, 2) variable).
    eps : float or array_like
        Relative deviation, ``0 <= eps <= 1``.
    log : bool, default False
        Return the logarithm of the bound (finite where the bound underflows).

    Returns
    -------
    float or ndarray
        The bound on the probability (or its logarithm), broadcast over ``p`` and ``eps``.

    See Also
    --------
    chi2_lower_tail_bound : the other bound of Theorem C.1.
    chi2_upper_tail_bound : the other bound of Theorem C.1.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Theorem C.1, eq. (19) (App. C).

    Examples
    --------
    >>> round(chi2_two_sided_bound(100, 0.3), 6)
    0.649305
    """
    check_bool(log, "log")
    pp = ranged(p, "p", 0.0, low_open=True)
    e = ranged(eps, "eps", 0.0, 1.0)
    log_bound = math.log(2.0) - pp * e * e / 8.0
    return log_output(log_bound, "the log-bound") if log else to_output(np.exp(log_bound))


# ---------------------------------------------------------------------------------------------
# Lemma C.2 and Proposition C.3
# ---------------------------------------------------------------------------------------------


@overflow_checked
def gaussian_norm_deviation(
    d: ArrayLike, eps: ArrayLike, var: ArrayLike = 1.0, mean_norm: ArrayLike = 0.0
) -> Bound:
    r"""Concentration of ``|g|^2`` for ``g ~ N(mu, s^2 I_d)`` (a ``"deviation"`` :class:`Bound`).

    Buchanan et al. (paper 000), Lemma C.2: for ``0 <= eps <= 1``,

        P[ | |g|^2 - (|mu|^2 + s^2 d) | >= eps s sqrt(d) (s sqrt(d) + |mu|) ] <= 4 exp(-d eps^2/8),

    with ``E|g|^2 = |mu|^2 + s^2 d`` (returned as ``center``), ``value`` the threshold
    ``eps s sqrt(d)(s sqrt(d) + |mu|)``. The proven constant is 4 (two chi-square tails plus two
    Gaussian tails); Lemmas E.1, E.5 and E.6 quote it as 3, which their proofs do not justify --
    this function always uses 4. ``var = s^2 > 0``, ``mean_norm = |mu| >= 0``.

    Parameters
    ----------
    d : float or array_like
        Dimension, ``d > 0``.
    eps : float or array_like
        Relative deviation, ``0 <= eps <= 1``.
    var : float or array_like, default 1.0
        The variance ``s^2 > 0`` of each coordinate.
    mean_norm : float or array_like, default 0.0
        ``|mu| >= 0``.

    Returns
    -------
    Bound
        A ``"deviation"`` bound: ``value`` (the threshold), ``center`` (``E|g|^2``) and
        ``failure_probability``.

    See Also
    --------
    chi2_two_sided_bound : the chi-square part of the proof.
    gamma_star : the norm bound of Lemmas E.5, E.6 that follows from it.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Lemma C.2 (App. C).

    Examples
    --------
    >>> b = gaussian_norm_deviation(100, 0.5, var=2.0, mean_norm=3.0)
    >>> round(b.value, 4), b.center, round(b.failure_probability, 6)
    (121.2132, 209.0, 0.175748)
    """
    dd = ranged(d, "d", 0.0, low_open=True)
    e = ranged(eps, "eps", 0.0, 1.0)
    s2 = ranged(var, "var", 0.0, low_open=True)
    mn = ranged(mean_norm, "mean_norm", 0.0)
    s_sqrt_d = np.sqrt(s2 * dd)
    return Bound(
        value=bound_field("value", e * s_sqrt_d * (s_sqrt_d + mn)),
        failure_probability=bound_field("failure_probability", 4.0 * _tail(dd, e)),
        kind="deviation",
        center=bound_field("center", mn * mn + s2 * dd),
        statement="Buchanan et al., Lemma C.2",
    )


@overflow_checked
def prop_c_3_bounds(
    d: ArrayLike, n: int, eps: ArrayLike, var_star: ArrayLike = 1.0, printed: bool = False
) -> Bound:
    r"""Two-sided bound on ``|sum_{j<n} softmax(w)_j x^j - x^n|^2``, i.i.d. ``x^j ~ N(0, s^2 I)``.

    Buchanan et al. (paper 000), Proposition C.3: for ``eps`` in (0, 1), with probability at
    least ``1 - 6 n exp(-d eps^2/8)``,

        d s^2 (1 - 3 eps) <= |sum_{j=1}^{n-1} softmax(w)_j x^j - x^n|^2 <= 2 d s^2 (1 + 3 eps).

    Corrections (ours, from the paper's proof): the printed failure probability ``6 n exp(-d
    eps^2/2)`` is not what the proof gives (``exp(-d eps^2/8)``), and the printed lower end ``d (1 -
    3 eps)`` drops ``s^2``; ``printed=True`` returns the printed statement. The proof's event (every
    ``|x^j - x^n|^2``, ``|x^n|^2`` and projection ``<x^j, x^n>/|x^n|`` concentrates) does not
    involve ``w``, so the bound holds uniformly over all weights, even weights that depend on the
    points (e.g. the softmax weights of the partially memorizing denoiser).

    Returns an ``"interval"`` :class:`Bound` (``lower``, ``upper``, ``failure_probability``).

    Parameters
    ----------
    d : float or array_like
        Dimension, ``d > 0``.
    n : int
        Number of points, ``n >= 2`` (``n - 1`` averaged, one held out).
    eps : float or array_like
        ``0 < eps < 1``.
    var_star : float or array_like, default 1.0
        The variance ``s^2 > 0`` of the points.
    printed : bool, default False
        ``True`` returns the statement as printed (rate ``d eps^2/2``, no ``s^2`` in the lower
        end).

    Returns
    -------
    Bound
        An ``"interval"`` bound (``lower``, ``value`` = upper end, ``failure_probability``).

    See Also
    --------
    softmax_subset_bound : Lemma D.2, used with it in Thm F.3.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Proposition C.3 (App. C).

    Examples
    --------
    >>> b = prop_c_3_bounds(1000, 3, 0.2, var_star=0.5)
    >>> round(b.lower, 9), b.upper, round(b.failure_probability, 6)
    (200.0, 1600.0, 0.121283)
    >>> round(prop_c_3_bounds(1000, 3, 0.2, var_star=0.5, printed=True).lower, 9)
    400.0
    """
    check_bool(printed, "printed")
    dd = ranged(d, "d", 0.0, low_open=True)
    nn = check_int(n, "n", low=2)
    e = ranged(eps, "eps", 0.0, 1.0, low_open=True, high_open=True)
    s2 = ranged(var_star, "var_star", 0.0, low_open=True)
    lower = dd * (1.0 - 3.0 * e) * (1.0 if printed else s2)
    rate = 2.0 if printed else 8.0
    return Bound(
        value=bound_field("value", 2.0 * dd * s2 * (1.0 + 3.0 * e)),
        failure_probability=bound_field(
            "failure_probability", 6.0 * nn * np.exp(-dd * e * e / rate)
        ),
        kind="interval",
        lower=bound_field("lower", lower),
        statement="Buchanan et al., Proposition C.3" + (" (as printed)" if printed else ""),
    )


# ---------------------------------------------------------------------------------------------
# Proposition C.4: coupon collector
# ---------------------------------------------------------------------------------------------


@overflow_checked
def coupon_min_draws(K: ArrayLike, d: ArrayLike) -> Any:
    r"""The number of draws ``l = ceil((1 + log d) K log K)`` assumed by Proposition C.4.

    Buchanan et al. (paper 000), Proposition C.4 (``l >= (1 + log d) K log K``). ``K >= 1``
    (integer), ``d >= 1``; vectorized (returns a Python int for scalars).

    Parameters
    ----------
    K : int or array_like of int
        Number of labels, ``K >= 1``.
    d : float or array_like
        Dimension, ``d >= 1``.

    Returns
    -------
    int or ndarray of int64
        ``ceil((1 + log d) K log K)``.

    See Also
    --------
    coupon_probability_exact, coupon_bound

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Proposition C.4 (App. C).

    Examples
    --------
    >>> coupon_min_draws(12, 5), coupon_min_draws(12, 50)
    (78, 147)
    """
    kk = ranged(K, "K", 1.0, integer=True)
    dd = ranged(d, "d", 1.0)
    out = finite_result(np.ceil((1.0 + np.log(dd)) * kk * np.log(kk)), "(1 + log d) K log K")
    if out.ndim == 0:
        return int(out)
    if np.any(out >= 2.0**63):
        raise ValueError("(1 + log d) K log K exceeds int64; pass scalars for an exact Python int")
    return out.astype(np.int64)


def _binomial_convolution(a: list[int], b: list[int], top: int, only_top: bool) -> list[int]:
    """c[m] = sum_j C(m, j) a[j] b[m - j] for m <= top (EGF product, integer coefficients)."""
    c = [0] * (top + 1)
    for m in range(top if only_top else 0, top + 1):
        acc, binom = 0, 1
        for j in range(m + 1):
            if a[j] and b[m - j]:
                acc += binom * a[j] * b[m - j]
            binom = binom * (m - j) // (j + 1)
        c[m] = acc
    return c


def _count_egf(K: int, l: int) -> int:
    """l! [x^l] (e^x - 1 - x)^K by binary powering of the EGF (exact integers)."""
    base = [0, 0] + [1] * max(0, l - 1)
    base = base[: l + 1]
    result: list[int] | None = None
    power, k = base, K
    while k:
        if k & 1:
            last = k == 1
            result = (
                power if result is None else _binomial_convolution(result, power, l, only_top=last)
            )
        k >>= 1
        if k:
            power = _binomial_convolution(power, power, l, only_top=False)
    assert result is not None
    return result[l]


def _count_inclusion_exclusion(K: int, l: int) -> int:
    """Sum over the labels forced to count 0 (i) and to count exactly 1 (j)."""
    total = 0
    fact_k = math.factorial(K)
    for i in range(K + 1):
        for j in range(min(K - i, l) + 1):
            r = K - i - j
            multinom = fact_k // (math.factorial(i) * math.factorial(j) * math.factorial(r))
            falling = math.perm(l, j)
            term = multinom * falling * r ** (l - j)
            total += -term if (i + j) % 2 else term
    return total


#: Limits of the exact coupon count (a few seconds of big-integer arithmetic at most).
_COUPON_L_MAX = 200_000
_COUPON_EXPAND_WORK = 2 * 10**8  # K min(K, l) l
_COUPON_DP_L_MAX = 1000


def _check_coupon_cost(k: int, n: int, method: str) -> None:
    if method == "dp":
        if n > _COUPON_DP_L_MAX:
            raise ValueError(
                f"l must be <= {_COUPON_DP_L_MAX} for method='dp' (O(l^3) big-integer work), "
                f"got {n}; use method='expand'"
            )
        return
    if n > _COUPON_L_MAX or k * min(k, n) * n > _COUPON_EXPAND_WORK:
        raise ValueError(
            f"K = {k}, l = {n} is too large for the exact count (needs l <= {_COUPON_L_MAX} and "
            f"K min(K, l) l <= {_COUPON_EXPAND_WORK:.0e}); use coupon_bound"
        )


def coupon_probability_exact(
    K: int, l: int, *, exact: bool = False, method: str = "expand"
) -> float | Fraction:
    r"""Exact probability that each of K labels appears at least twice among l uniform labels.

    Buchanan et al. (paper 000), Proposition C.4 (the event ``A = cap_k A_k``, ``A_k`` = label
    ``k`` is drawn at least twice). Counting sequences with exponential generating functions,

        P[A] = l! K^{-l} [x^l] (e^x - 1 - x)^K,

    computed in exact integer arithmetic in one of two ways. ``method="expand"`` (default) expands
    ``(e^x - 1 - x)^K`` by the multinomial theorem and reads off the coefficient:
    ``sum_{i,j} (-1)^{i+j} K!/(i! j! (K-i-j)!) l!/(l-j)! (K-i-j)^{l-j}`` (inclusion-exclusion over
    the ``i`` labels forced absent and the ``j`` forced to appear once; ``O(K^2)`` big-integer
    terms, milliseconds for ``l ~ 1000``). ``method="dp"`` is the EGF dynamic program: it raises
    ``sum_{m>=2} x^m/m!`` to the power ``K`` by binary powering with binomial convolutions
    (``O(l^2 log K)`` operations, seconds for ``l ~ 1000``). Both are exact and agree.
    Returns a float (correctly rounded) or, with ``exact=True``, a :class:`fractions.Fraction`.
    ``K >= 1``, ``l >= 0``. The exact count is refused (``ValueError``) beyond a few seconds of
    work: ``l <= 200,000`` and ``K min(K, l) l <= 2e8`` for ``"expand"``, ``l <= 1000`` for
    ``"dp"``.

    Parameters
    ----------
    K : int
        Number of labels, ``K >= 1``.
    l : int
        Number of draws, ``l >= 0``.
    exact : bool, default False
        Return a :class:`fractions.Fraction` instead of a float.
    method : {"expand", "dp"}
        Inclusion-exclusion expansion (default) or the EGF dynamic program.

    Returns
    -------
    float or fractions.Fraction
        ``P[A]``.

    See Also
    --------
    coupon_bound : the corrected lower bounds and (``printed=True``) the printed one.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Proposition C.4 (App. C).

    Examples
    --------
    >>> round(coupon_probability_exact(12, 78), 6)
    0.893773
    >>> coupon_probability_exact(2, 4, exact=True)   # aabb-type sequences: 6 of 16
    Fraction(3, 8)
    """
    check_bool(exact, "exact")
    k = check_int(K, "K", low=1)
    n = check_int(l, "l", low=0)
    check_choice(method, "method", ("expand", "dp"))
    if n >= 2 * k:
        _check_coupon_cost(k, n, method)
    if n < 2 * k:
        prob = Fraction(0)
    else:
        count = _count_egf(k, n) if method == "dp" else _count_inclusion_exclusion(k, n)
        prob = Fraction(count, k**n)
    return prob if exact else float(prob)


@overflow_checked
def coupon_bound(
    K: ArrayLike,
    d: ArrayLike,
    l: ArrayLike | None = None,
    *,
    form: str = "union",
    printed: bool = False,
) -> Any:
    r"""Lower bound on ``P[A]`` of Proposition C.4: every one of ``K`` labels drawn at least twice.

    Buchanan et al. (paper 000), Proposition C.4: among ``l >= (1 + log d) K log K`` i.i.d.
    labels uniform on ``{1..K}``, the event ``A`` that every label appears at least twice has

        printed:  P[A] >= 1 - K^{-log d} (1 + log K log d).

    **The printed statement is false for small d**: at ``K = 12, d = 5, l = 78`` it gives
    0.908371 while the exact probability is 0.893773 (also at ``(K, d, l) = (5, 3, 17)``: exact
    0.47966 < 0.52762, and ``(20, 10, 198)``: 0.99115 < 0.99202; exact values from
    :func:`coupon_probability_exact`). The proof's union bound loses a ``1 +`` (``1 + log d``,
    not ``log d``) and its last line carries a factor 2 that the statement drops.

    The corrected bounds (our derivation, the default): exactly,
    ``P[A_k^c] = (1 - 1/K)^l (1 + l/(K - 1))`` (label ``k`` drawn at most once), so by a union
    bound over the ``K`` labels

        form="union":   P[A] >= 1 - K (1 - 1/K)^l (1 + l/(K - 1))              (any l >= 0),

    and, since ``(1 - 1/K)^l <= e^{-l/K}`` and ``e^{-s/K} (1 + s/(K - 1))`` decreases for
    ``s >= 1``, for every ``l >= (1 + log d) K log K``

        form="closed":  P[A] >= 1 - K^{-log d} (1 + (K/(K-1)) log K (1 + log d)).

    The union form is the sharper of the two. Both hold at ``(K, d) = (5, 3), (12, 5), (20, 10),
    (12, 10), (12, 30)`` with ``l = coupon_min_draws(K, d)`` (exact ``P[A]`` = 0.47966,
    0.893773, 0.99115, 0.97833, 0.998397; the printed bound fails in the first three) and under
    the property tests of ``tests/crossover/test_concentration.py``. One function for the
    printed and the corrected bounds: they are the same quantity (a lower bound on ``P[A]``).

    Parameters
    ----------
    K : int or array_like of int
        Number of labels; ``K >= 2`` (``K >= 1`` with ``printed=True``).
    d : float or array_like
        Dimension in the hypothesis ``l >= (1 + log d) K log K``; ``d >= 1``.
    l : int or array_like of int, optional
        Number of draws; default :func:`coupon_min_draws` ``(K, d)``. The closed and printed
        forms need ``l >= (1 + log d) K log K`` (``ValueError`` otherwise) and do not depend on
        ``l``; the union form holds for every ``l >= 0``.
    form : {"union", "closed"}
        Which corrected bound; not used with ``printed=True``.
    printed : bool, default False
        ``True`` returns the statement as printed (false for small ``d``, see above).

    Returns
    -------
    float or ndarray
        The lower bound on ``P[A]`` (a float for scalar input), broadcast over the arguments.

    See Also
    --------
    coupon_probability_exact : the exact ``P[A]`` in integer arithmetic.
    coupon_min_draws : the smallest ``l`` allowed by the hypothesis.
    lemma_e_6 : uses the corrected bound for its coupon term.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Proposition C.4 (App. C).

    Examples
    --------
    >>> round(coupon_bound(12, 5), 6)     # exact P[A] = 0.893773
    0.890435
    >>> round(coupon_bound(12, 5, form="closed"), 6)
    0.852022
    >>> round(coupon_bound(12, 5, printed=True), 6)   # above the exact probability: false
    0.908371
    """
    check_choice(form, "form", ("union", "closed"))
    check_bool(printed, "printed")
    kk = ranged(K, "K", 1.0 if printed else 2.0, integer=True)
    dd = ranged(d, "d", 1.0)
    l_min = finite_result((1.0 + np.log(dd)) * kk * np.log(kk), "(1 + log d) K log K")
    if l is None:
        ll = np.ceil(l_min)
    else:
        ll = ranged(l, "l", 0.0, integer=True)
        if (printed or form == "closed") and np.any(ll < l_min):
            which = "printed=True" if printed else "form='closed'"
            raise ValueError(
                f"l must be >= (1 + log d) K log K for {which} "
                f"(got l = {ll.min():g} < {np.max(l_min):g}); use form='union' for any l"
            )
    lk = np.log(kk)
    if printed:
        ld = np.log(dd)
        return finite_output(1.0 - np.exp(-lk * ld) * (1.0 + lk * ld), "the bound")
    if form == "closed":
        return finite_output(
            1.0 - np.exp(-lk * np.log(dd)) * (1.0 + kk / (kk - 1.0) * lk * (1.0 + np.log(dd))),
            "the bound",
        )
    log_miss = ll * np.log1p(-1.0 / kk) + np.log1p(ll / (kk - 1.0))
    return finite_output(1.0 - kk * np.exp(log_miss), "the bound")


# ---------------------------------------------------------------------------------------------
# Lemmas D.1, D.2: low-temperature softmax
# ---------------------------------------------------------------------------------------------


@overflow_checked
def softmax_onehot_bound(n: ArrayLike, gap: ArrayLike, T: ArrayLike, p: float | None = None) -> Any:
    r"""Distance of a low-temperature softmax from the one-hot vector of its argmax.

    Buchanan et al. (paper 000), Lemma D.1: for ``v`` in R^n with distinct entries, argmax ``k``
    and gap ``gamma = min_{i != k} (v_k - v_i)``, for every ``p >= 1``

        |softmax(v/T) - e_k|_p <= 2 (n - 1) exp(-gamma/T).

    With ``p`` given, returns the sharper bound that the proof's two facts (``softmax_i <=
    e^{-gamma/T}`` for ``i != k`` and ``1 - softmax_k <= (n-1) e^{-gamma/T}``) give for that norm,
    ``(n - 1) e^{-gamma/T} (1 + (n - 1)^{1-p})^{1/p}`` (``(n - 1) e^{-gamma/T}`` for
    ``p = inf``), which is at most the printed one. ``n >= 1``, ``gap >= 0``, ``T > 0``.

    Parameters
    ----------
    n : int or array_like of int
        Length of ``v``, ``n >= 1``.
    gap : float or array_like
        ``gamma = min_{i != k} (v_k - v_i) >= 0``.
    T : float or array_like
        Temperature, ``T > 0``.
    p : float, optional
        The norm order (``>= 1`` or ``math.inf``); ``None`` gives the printed bound.

    Returns
    -------
    float or ndarray
        The bound on ``|softmax(v/T) - e_k|_p``.

    See Also
    --------
    softmax_subset_bound : Lemma D.2.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Lemma D.1 (App. D).

    Examples
    --------
    >>> round(softmax_onehot_bound(10, 3.0, 1.0), 6)
    0.896167
    >>> round(softmax_onehot_bound(10, 3.0, 1.0, p=2), 6)
    0.472322
    """
    nn = ranged(n, "n", 1.0, integer=True)
    g = ranged(gap, "gap", 0.0)
    tt = ranged(T, "T", 0.0, low_open=True)
    base = (nn - 1.0) * np.exp(-g / tt)
    if p is None:
        return finite_output(2.0 * base, "the bound")
    pp = _norm_order(p)
    if math.isinf(pp):
        return finite_output(base, "the bound")
    factor = np.where(nn > 1, (1.0 + np.maximum(nn - 1.0, 1.0) ** (1.0 - pp)) ** (1.0 / pp), 0.0)
    return finite_output(base * factor, "the bound")


def _norm_order(p: Any) -> float:
    if isinstance(p, (int, float, np.integer, np.floating)) and not isinstance(p, bool):
        pp = float(p)
        if pp == math.inf or (math.isfinite(pp) and pp >= 1.0):
            return pp
    raise ValueError(f"p must be a real number >= 1 or math.inf, got {p!r}")


@overflow_checked
def softmax_subset_bound(
    n: ArrayLike, S_size: ArrayLike, gap_S: ArrayLike, T: ArrayLike, p: float = 1.0
) -> Any:
    r"""Distance between a softmax and its renormalization on a subset ``S`` containing the argmax.

    Buchanan et al. (paper 000), Lemma D.2: with ``k = argmax v`` in ``S`` and
    ``gamma_S = min_{i not in S}(v_k - v_i)``, for ``p >= 1`` (``p = math.inf`` allowed)

        |softmax(v/T) - softmax(v_S/T)|_p <= (1 + |S|)^{1/p} (n - |S|) exp(-gamma_S/T),

    where ``softmax(v_S/T)`` is renormalized on ``S`` and zero outside. ``S = {k}`` is Lemma D.1
    up to its constant; ``S = [n]`` gives 0. ``1 <= S_size <= n``, ``gap_S >= 0``, ``T > 0``.

    Parameters
    ----------
    n : int or array_like of int
        Length of ``v``, ``n >= 1``.
    S_size : int or array_like of int
        ``|S|``, ``1 <= |S| <= n``.
    gap_S : float or array_like
        ``gamma_S = min_{i not in S} (v_k - v_i) >= 0``.
    T : float or array_like
        Temperature, ``T > 0``.
    p : float, default 1.0
        The norm order (``>= 1`` or ``math.inf``).

    Returns
    -------
    float or ndarray
        The bound on ``|softmax(v/T) - softmax(v_S/T)|_p``.

    See Also
    --------
    softmax_onehot_bound : Lemma D.1.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Lemma D.2 (App. D).

    Examples
    --------
    >>> round(softmax_subset_bound(10, 3, 2.0, 0.5, p=2), 6)
    0.256419
    """
    nn = ranged(n, "n", 1.0, integer=True)
    ss = ranged(S_size, "S_size", 1.0, integer=True)
    if np.any(ss > nn):
        raise ValueError(f"S_size must be <= n, got S_size = {ss.max():g} > n = {nn.min():g}")
    g = ranged(gap_S, "gap_S", 0.0)
    tt = ranged(T, "T", 0.0, low_open=True)
    pp = _norm_order(p)
    lead = 1.0 if math.isinf(pp) else (1.0 + ss) ** (1.0 / pp)
    return finite_output(lead * (nn - ss) * np.exp(-g / tt), "the bound")


# ---------------------------------------------------------------------------------------------
# Appendix E: coupling conditions, gap events, denoiser approximations
# ---------------------------------------------------------------------------------------------


def _common(
    t: ArrayLike, eps: ArrayLike, d: ArrayLike, gamma: ArrayLike, var_star: ArrayLike, schedule
) -> tuple[np.ndarray, ...]:
    e = ranged(eps, "eps", 0.0, 1.0)
    dd = ranged(d, "d", 0.0, low_open=True)
    g = ranged(gamma, "gamma", 0.0, low_open=True)
    s2 = ranged(var_star, "var_star", 0.0, low_open=True)
    a2, sig2 = _alpha2_sigma2(t, schedule)
    return e, dd, g, s2, a2, sig2


@overflow_checked
def coupling_conditions(
    t: ArrayLike,
    eps: ArrayLike,
    d: ArrayLike,
    gamma: ArrayLike,
    var_star: ArrayLike = 1.0,
    schedule: Schedule | None = None,
    *,
    lemma: str = "F.1",
    printed: bool = False,
    sharp: bool = False,
) -> Any:
    r"""Whether ``eps`` satisfies the coupling conditions of a Lemma E.x / Theorem F.x at ``t``.

    Buchanan et al. (paper 000), Appendices E-F. With ``V = alpha^2 s^2 + sigma^2``,
    ``V_2 = 2 alpha^2 s^2 + sigma^2`` (``s^2 = var_star``) and always ``0 <= eps <= 1``:

    * ``"E.1"``, ``"E.4"`` -- printed: ``eps <= alpha gamma / (4 sqrt(d V))``. The proof needs
      ``max(eps, sqrt(eps)) <= alpha gamma/(4 sqrt(d V))`` (the proof uses the threshold for
      ``sqrt(eps)``, i.e. ``eps <= alpha^2 gamma^2/(16 d V)``), the default here.
      ``sharp=True``: ``eps <= alpha gamma/(2 sqrt(d V))`` -- the claim of E.1 holds under this
      weaker condition, because each gap is exactly Gaussian (see :func:`gap_means_failure_exact`).
    * ``"E.2"``, ``"E.3"``, ``"E.5"``, ``"E.6"`` (printed = default):
      ``eps <= alpha gamma / (2 sqrt(d V_2))`` and ``eps^2/(1 - eps) <= alpha^2 s^2/(2 sigma^2)``.
    * ``"E.6ii"`` -- the held-out case of Lemma E.6 as corrected here (see :func:`lemma_e_6`):
      ``eps <= alpha gamma/(4 sqrt(d V_2))`` and
      ``8 eps d (alpha^2 s^2 + sqrt(2) alpha s sqrt(V)) <= alpha^2 gamma^2``, plus the second E.2
      condition. ``printed=True`` gives the E.2 conditions that the paper states for it.
    * ``"F.1"``, ``"F.3"`` -- printed: ``eps <= alpha gamma/(2 sqrt(d V))`` and the second E.2
      condition (the coupling conditions of Thm F.1). Their proofs use Lemmas E.4 (E.1) and E.5 /
      E.6 (E.2), so the default is the E.1 condition above *and* the E.2 conditions; with
      ``sharp=True`` the E.2 conditions alone (they imply the sharp E.1 condition, since
      ``V_2 > V``).

    The second condition is evaluated as ``2 sigma^2 eps^2 <= (1 - eps) alpha^2 s^2`` (no
    division, so ``eps = 1`` is simply ``False``). Vectorized over ``t`` (and ``eps``, ``d``...);
    returns a bool for scalar inputs.

    Parameters
    ----------
    t : float or array_like
        Diffusion time(s) in the schedule's domain.
    eps : float or array_like
        The concentration parameter, ``0 <= eps <= 1``.
    d : float or array_like
        Dimension, ``d > 0``.
    gamma : float or array_like
        Minimal separation ``min_{k != k'} |mu_k - mu_k'| > 0`` of the true means.
    var_star : float or array_like, default 1.0
        The cluster variance ``s^2 > 0``.
    schedule : Schedule, optional
        Default :class:`~diffmem_theory.core.schedules.VPTrig`.
    lemma : str, default "F.1"
        One of :data:`LEMMAS`.
    printed : bool, default False
        The conditions as printed.
    sharp : bool, default False
        The weaker conditions under which the claims still hold (see above).

    Returns
    -------
    bool or ndarray of bool
        Whether the conditions hold, broadcast over the arguments.

    See Also
    --------
    lemma_e_1, lemma_e_2, lemma_e_3, lemma_e_4, lemma_e_5, lemma_e_6 : the lemmas.
    gap_means_failure_exact : the exact law behind the sharp E.1 condition.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Appendices E and F.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([0.1, 0.5, 0.9])
    >>> coupling_conditions(t, 0.1, 50, 10.0, lemma="F.1").tolist()
    [True, False, False]
    >>> coupling_conditions(t, 0.1, 50, 10.0, lemma="F.1", printed=True).tolist()
    [True, True, True]
    >>> coupling_conditions(0.3, 0.1, 50, 9.0, lemma="E.1", printed=True)
    True
    >>> coupling_conditions(0.3, 0.1, 50, 9.0, lemma="E.1")   # sqrt(eps) is too large
    False
    """
    check_bool(printed, "printed")
    check_bool(sharp, "sharp")
    check_choice(lemma, "lemma", LEMMAS)
    e, dd, g, s2, a2, sig2 = _common(t, eps, d, gamma, var_star, schedule)
    alpha = np.sqrt(a2)
    v1 = a2 * s2 + sig2
    v2 = 2.0 * a2 * s2 + sig2
    second = 2.0 * sig2 * e * e <= (1.0 - e) * a2 * s2
    e2_pair = (e <= alpha * g / (2.0 * np.sqrt(dd * v2))) & second

    def e1(sharp_e1: bool) -> np.ndarray:
        if sharp_e1:
            return e <= alpha * g / (2.0 * np.sqrt(dd * v1))
        return np.sqrt(e) <= alpha * g / (4.0 * np.sqrt(dd * v1))

    if lemma in ("E.1", "E.4"):
        ok = e <= alpha * g / (4.0 * np.sqrt(dd * v1)) if printed else e1(sharp)
    elif lemma in ("E.2", "E.3", "E.5", "E.6"):
        ok = e2_pair
    elif lemma == "E.6ii":
        if printed:
            ok = e2_pair
        else:
            first = e <= alpha * g / (4.0 * np.sqrt(dd * v2))
            extra = 8.0 * e * dd * (a2 * s2 + np.sqrt(2.0 * a2 * s2 * v1)) <= a2 * g * g
            ok = first & extra & second
    elif printed:  # F.1, F.3 as printed
        ok = (e <= alpha * g / (2.0 * np.sqrt(dd * v1))) & second
    else:
        ok = e2_pair if sharp else e1(False) & e2_pair
    return to_output(ok)


@overflow_checked
def gap_means_failure_exact(
    t: ArrayLike,
    K: ArrayLike,
    gamma: ArrayLike,
    var_star: ArrayLike = 1.0,
    schedule: Schedule | None = None,
) -> Any:
    r"""A sharp bound on ``P[Lemma E.1's event fails]``: ``(K - 1) Phi(-alpha gamma/(4 sqrt V))``.

    Buchanan et al. (paper 000), Lemma E.1 (derived here). With ``z = alpha s w + sigma g ~
    N(0, V I)`` and ``Delta_k = mu_k - mu_{k_i}``, each gap is *exactly* Gaussian,

        |alpha mu_k - x|^2 - |alpha mu_{k_i} - x|^2 = alpha^2 |Delta_k|^2 - 2 alpha <Delta_k, z>,

    (the chi-square terms that the paper's proof bounds separately cancel), so it falls below
    ``alpha^2 gamma^2/2`` with probability
    ``Phi(-(alpha/(2 sqrt V))(|Delta_k| - gamma^2/(2|Delta_k|))) <= Phi(-alpha gamma/(4 sqrt V))``;
    a union bound over the ``K - 1`` other means gives the result, which is exact for ``K = 2``
    and ``|Delta| = gamma``. It does not depend on ``d``.
    Consequence: E.1's claim ``P >= 1 - 4K exp(-d eps^2/8)`` holds whenever
    ``eps <= alpha gamma/(2 sqrt(d V))`` (``Phi(-x) <= e^{-x^2/2}/2``), a weaker condition than
    the printed one -- only the printed *proof* needs ``sqrt(eps)``.

    Parameters
    ----------
    t : float or array_like
        Diffusion time(s) in the schedule's domain.
    K : int or array_like of int
        Number of clusters, ``K >= 1``.
    gamma : float or array_like
        Minimal separation ``min_{k != k'} |mu_k - mu_k'| > 0`` of the true means.
    var_star : float or array_like, default 1.0
        The cluster variance ``s^2 > 0``.
    schedule : Schedule, optional
        Default :class:`~diffmem_theory.core.schedules.VPTrig`.

    Returns
    -------
    float or ndarray
        ``(K - 1) Phi(-alpha gamma/(4 sqrt V))``.

    See Also
    --------
    lemma_e_1 : the lemma whose failure probability this bounds.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Lemma E.1 (App. E); the bound is ours.

    Examples
    --------
    >>> round(gap_means_failure_exact(0.5, 2, 4.0), 6)   # Phi(-0.866 * 4 / 4)
    0.193238
    """
    kk = ranged(K, "K", 1.0, integer=True)
    g = ranged(gamma, "gamma", 0.0, low_open=True)
    s2 = ranged(var_star, "var_star", 0.0, low_open=True)
    a2, sig2 = _alpha2_sigma2(t, schedule)
    x = np.sqrt(a2) * g / (4.0 * np.sqrt(a2 * s2 + sig2))
    return finite_output((kk - 1.0) * np.exp(log_ndtr(-x)), "the bound")


@overflow_checked
def gamma_star(Gamma: ArrayLike, eps: ArrayLike, d: ArrayLike, var_star: ArrayLike = 1.0) -> Any:
    r"""``Gamma_* = sqrt(Gamma^2 + eps s sqrt(d) Gamma + (1 + eps) s^2 d)`` of Lemmas E.5 / E.6.

    Buchanan et al. (paper 000), Lemmas E.5, E.6: by Lemma C.2, every training point has
    ``|x^j| <= Gamma_*`` except with probability ``4 exp(-d eps^2/8)`` per point (the function of
    ``|mu_k|`` is increasing, so its maximum over ``k`` is attained at ``Gamma = max_k |mu_k|``).

    Parameters
    ----------
    Gamma : float or array_like
        Maximal mean norm ``max_k |mu_k| >= 0``.
    eps : float or array_like
        ``0 <= eps <= 1``.
    d : float or array_like
        Dimension, ``d > 0``.
    var_star : float or array_like, default 1.0
        The cluster variance ``s^2 > 0``.

    Returns
    -------
    float or ndarray
        ``Gamma_*``.

    See Also
    --------
    gaussian_norm_deviation : Lemma C.2.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Lemmas E.5 and E.6 (App. E).

    Examples
    --------
    >>> round(gamma_star(10.0, 0.5, 100, 1.0), 6)   # sqrt(100 + 50 + 150)
    17.320508
    """
    G = ranged(Gamma, "Gamma", 0.0)
    e = ranged(eps, "eps", 0.0, 1.0)
    dd = ranged(d, "d", 0.0, low_open=True)
    s2 = ranged(var_star, "var_star", 0.0, low_open=True)
    s_sqrt_d = np.sqrt(s2 * dd)
    scale = np.maximum(G, s_sqrt_d)  # > 0; scaled so that the squares cannot overflow
    g, s = G / scale, s_sqrt_d / scale
    return finite_output(scale * np.sqrt(g * g + e * s * g + (1.0 + e) * s * s), "Gamma_*")


def _count(value: Any, name: str, low: int = 1) -> np.ndarray:
    return ranged(value, name, float(low), integer=True)


def _check_unused(N: Any = None, K: Any = None, Gamma: Any = None) -> None:
    """Validate the arguments a lemma ignores (kept for a uniform signature) all the same."""
    if N is not None:
        _count(N, "N")
    if K is not None:
        _count(K, "K")
    if Gamma is not None:
        ranged(Gamma, "Gamma", 0.0)


def _need_gamma_max(Gamma: Any, lemma: str) -> np.ndarray:
    if Gamma is None:
        raise ValueError(f"Gamma (the maximal mean norm max_k |mu_k|) is required by Lemma {lemma}")
    return ranged(Gamma, "Gamma", 0.0)


@overflow_checked
def lemma_e_1(
    t: ArrayLike,
    eps: ArrayLike,
    d: ArrayLike,
    N: ArrayLike,
    K: ArrayLike,
    gamma: ArrayLike,
    Gamma: ArrayLike | None = None,
    var_star: ArrayLike = 1.0,
    schedule: Schedule | None = None,
    *,
    printed: bool = False,
) -> Bound:
    r"""Lemma E.1: the noisy point is closer to its own mean by ``alpha^2 gamma^2 / 2``.

    Buchanan et al. (paper 000), Lemma E.1: for ``x = alpha_t x^i + sigma_t g``,
    ``x^i ~ N(mu_{k_i}, s^2 I)``, with probability at least ``1 - 4 K exp(-d eps^2/8)``,

        min_{k != k_i} |alpha mu_k - x|^2 - |alpha mu_{k_i} - x|^2 >= alpha^2 gamma^2 / 2.

    A ``"lower"`` :class:`Bound` (``value = alpha^2 gamma^2/2``). ``conditions_hold`` uses the
    condition the proof needs, ``sqrt(eps) <= alpha gamma/(4 sqrt(d V))`` (printed:
    ``eps <= ...``, which the proof does not justify; the claim is nonetheless true under it, see
    :func:`gap_means_failure_exact`). The constant 4 is right (the proof writes 3, quoting Lemma
    C.2 wrongly). ``N`` and ``Gamma`` are unused (the six lemmas share one signature).

    Parameters
    ----------
    t : float or array_like
        Diffusion time(s) in the schedule's domain.
    eps : float or array_like
        The concentration parameter, ``0 <= eps <= 1``.
    d : float or array_like
        Dimension, ``d > 0``.
    N : int or array_like of int
        Number of training points.
    K : int or array_like of int
        Number of clusters.
    gamma : float or array_like
        Minimal separation ``min_{k != k'} |mu_k - mu_k'| > 0`` of the true means.
    Gamma : float or array_like, optional
        Maximal mean norm ``max_k |mu_k|``.
    var_star : float or array_like, default 1.0
        The cluster variance ``s^2 > 0``.
    schedule : Schedule, optional
        Default :class:`~diffmem_theory.core.schedules.VPTrig`.
    printed : bool, default False
        The statement as printed.

    Returns
    -------
    Bound
        A ``"lower"`` :class:`Bound` with ``failure_probability`` and ``conditions_hold``.

    See Also
    --------
    coupling_conditions : the conditions on ``eps``.
    lemma_e_2, lemma_e_3, lemma_e_4, lemma_e_5, lemma_e_6 : the other lemmas of Appendix E.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Lemma E.1 (App. E).

    Examples
    --------
    >>> b = lemma_e_1(0.3, 0.5, 200, 10, 3, 39.6, var_star=0.8)
    >>> round(b.value, 3), round(b.failure_probability, 6), b.conditions_hold
    (713.513, 0.023165, True)
    """
    check_bool(printed, "printed")
    e, dd, g, _, a2, _ = _common(t, eps, d, gamma, var_star, schedule)
    kk = _count(K, "K")
    _check_unused(N=N, Gamma=Gamma)
    return Bound(
        value=bound_field("value", a2 * g * g / 2.0),
        failure_probability=bound_field("failure_probability", 4.0 * kk * _tail(dd, e)),
        kind="lower",
        conditions_hold=coupling_conditions(
            t, eps, d, gamma, var_star, schedule, lemma="E.1", printed=printed
        ),
        statement="Buchanan et al., Lemma E.1" + (" (as printed)" if printed else ""),
    )


@overflow_checked
def lemma_e_2(
    t: ArrayLike,
    eps: ArrayLike,
    d: ArrayLike,
    N: ArrayLike,
    K: ArrayLike,
    gamma: ArrayLike,
    Gamma: ArrayLike | None = None,
    var_star: ArrayLike = 1.0,
    schedule: Schedule | None = None,
    *,
    printed: bool = False,
) -> Bound:
    r"""Lemma E.2: the noisy point is closer to its own training point than to any other.

    Buchanan et al. (paper 000), Lemma E.2: for ``x = alpha_t x^i + sigma_t g`` and ``N`` i.i.d.
    training points, with probability at least ``1 - 4 N exp(-d eps^2/8)``,

        min_{j != i} |alpha x^j - x|^2 - |alpha x^i - x|^2 >= alpha^2 s^2 (1 - eps) d

    (softmax gap ``psi_t s^2 (1 - eps) d / 2``), under ``eps <= alpha gamma/(2 sqrt(d V_2))`` and
    ``eps^2/(1 - eps) <= alpha^2 s^2/(2 sigma^2)``. The proof's union bound actually collects
    ``4 (N-1) e^{-d eps^2/8} + (N-1) e^{-d eps^2/4}``, which is below ``4 N e^{-d eps^2/8}``
    whenever the latter is < 1, so the statement stands. ``K``, ``Gamma`` unused; ``printed``
    changes nothing (kept for a uniform signature).

    Parameters
    ----------
    t : float or array_like
        Diffusion time(s) in the schedule's domain.
    eps : float or array_like
        The concentration parameter, ``0 <= eps <= 1``.
    d : float or array_like
        Dimension, ``d > 0``.
    N : int or array_like of int
        Number of training points.
    K : int or array_like of int
        Number of clusters.
    gamma : float or array_like
        Minimal separation ``min_{k != k'} |mu_k - mu_k'| > 0`` of the true means.
    Gamma : float or array_like, optional
        Maximal mean norm ``max_k |mu_k|``.
    var_star : float or array_like, default 1.0
        The cluster variance ``s^2 > 0``.
    schedule : Schedule, optional
        Default :class:`~diffmem_theory.core.schedules.VPTrig`.
    printed : bool, default False
        Changes nothing (uniform signature).

    Returns
    -------
    Bound
        A ``"lower"`` :class:`Bound` with ``failure_probability`` and ``conditions_hold``.

    See Also
    --------
    coupling_conditions : the conditions on ``eps``.
    lemma_e_1, lemma_e_3, lemma_e_4, lemma_e_5, lemma_e_6 : the other lemmas of Appendix E.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Lemma E.2 (App. E).

    Examples
    --------
    >>> b = lemma_e_2(0.6, 0.55, 200, 10, 3, 25.46, var_star=0.8)
    >>> round(b.value, 4), round(b.failure_probability, 6), b.conditions_hold
    (46.08, 0.020783, True)
    """
    check_bool(printed, "printed")
    e, dd, _, s2, a2, _ = _common(t, eps, d, gamma, var_star, schedule)
    nn = _count(N, "N", 2)
    _check_unused(K=K, Gamma=Gamma)
    return Bound(
        value=bound_field("value", a2 * s2 * (1.0 - e) * dd),
        failure_probability=bound_field("failure_probability", 4.0 * nn * _tail(dd, e)),
        kind="lower",
        conditions_hold=coupling_conditions(t, eps, d, gamma, var_star, schedule, lemma="E.2"),
        statement="Buchanan et al., Lemma E.2",
    )


@overflow_checked
def lemma_e_3(
    t: ArrayLike,
    eps: ArrayLike,
    d: ArrayLike,
    N: ArrayLike,
    K: ArrayLike,
    gamma: ArrayLike,
    Gamma: ArrayLike | None = None,
    var_star: ArrayLike = 1.0,
    schedule: Schedule | None = None,
    *,
    strong: bool = False,
    printed: bool = False,
) -> Bound:
    r"""Lemma E.3: training points of other clusters are farther by ``alpha^2 gamma^2 / 2``.

    Buchanan et al. (paper 000), Lemma E.3: with ``S_i = {j : k_j = k_i}``, with probability at
    least ``1 - 4 N exp(-d eps^2/8)`` (conditions of E.2),

        min_{j not in S_i} |alpha x^j - x|^2 - |alpha x^i - x|^2 >= alpha^2 gamma^2 / 2;

    the proof gives the stronger ``alpha^2 s^2 (1 - eps) d + alpha^2 gamma^2/2`` (``strong=True``).
    ``K``, ``Gamma`` unused; ``printed`` changes nothing.

    Parameters
    ----------
    t : float or array_like
        Diffusion time(s) in the schedule's domain.
    eps : float or array_like
        The concentration parameter, ``0 <= eps <= 1``.
    d : float or array_like
        Dimension, ``d > 0``.
    N : int or array_like of int
        Number of training points.
    K : int or array_like of int
        Number of clusters.
    gamma : float or array_like
        Minimal separation ``min_{k != k'} |mu_k - mu_k'| > 0`` of the true means.
    Gamma : float or array_like, optional
        Maximal mean norm ``max_k |mu_k|``.
    var_star : float or array_like, default 1.0
        The cluster variance ``s^2 > 0``.
    schedule : Schedule, optional
        Default :class:`~diffmem_theory.core.schedules.VPTrig`.
    strong : bool, default False
        The proof's stronger bound.
    printed : bool, default False
        Changes nothing (uniform signature).

    Returns
    -------
    Bound
        A ``"lower"`` :class:`Bound` with ``failure_probability`` and ``conditions_hold``.

    See Also
    --------
    coupling_conditions : the conditions on ``eps``.
    lemma_e_1, lemma_e_2, lemma_e_4, lemma_e_5, lemma_e_6 : the other lemmas of Appendix E.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Lemma E.3 (App. E).

    Examples
    --------
    >>> b = lemma_e_3(0.6, 0.55, 200, 10, 3, 25.46, var_star=0.8, strong=True)
    >>> round(b.value, 4), b.conditions_hold
    (253.5077, True)
    """
    check_bool(strong, "strong")
    check_bool(printed, "printed")
    e, dd, g, s2, a2, _ = _common(t, eps, d, gamma, var_star, schedule)
    nn = _count(N, "N", 2)
    _check_unused(K=K, Gamma=Gamma)
    value = a2 * g * g / 2.0 + (a2 * s2 * (1.0 - e) * dd if strong else 0.0)
    return Bound(
        value=bound_field("value", value),
        failure_probability=bound_field("failure_probability", 4.0 * nn * _tail(dd, e)),
        kind="lower",
        conditions_hold=coupling_conditions(t, eps, d, gamma, var_star, schedule, lemma="E.3"),
        statement="Buchanan et al., Lemma E.3" + (" (proof's stronger form)" if strong else ""),
    )


@overflow_checked
def lemma_e_4(
    t: ArrayLike,
    eps: ArrayLike,
    d: ArrayLike,
    N: ArrayLike,
    K: ArrayLike,
    gamma: ArrayLike,
    Gamma: ArrayLike | None = None,
    var_star: ArrayLike = 1.0,
    schedule: Schedule | None = None,
    *,
    printed: bool = False,
) -> Bound:
    r"""Lemma E.4: the true denoiser is the nominal (one-cluster) denoiser up to ``e^{-gap}``.

    Buchanan et al. (paper 000), Lemma E.4: with probability at least ``1 - 4K exp(-d eps^2/8)``,

        |xbar_*(x_t^i, t) - xbar_nom(x_t^i, t)|
            <= [2 (K-1) Gamma sigma^2 / V] exp(-alpha^2 gamma^2/(4V)),

    an ``"upper"`` :class:`Bound`. The statement prints ``2K``; the proof gives ``2(K-1)`` (both
    valid; ``printed=True`` uses ``2K`` and the printed E.1 condition). Conditions: Lemma E.1's
    (see :func:`coupling_conditions`). ``N`` unused. ``Gamma = max_k |mu_k|`` is required.

    Parameters
    ----------
    t : float or array_like
        Diffusion time(s) in the schedule's domain.
    eps : float or array_like
        The concentration parameter, ``0 <= eps <= 1``.
    d : float or array_like
        Dimension, ``d > 0``.
    N : int or array_like of int
        Number of training points.
    K : int or array_like of int
        Number of clusters.
    gamma : float or array_like
        Minimal separation ``min_{k != k'} |mu_k - mu_k'| > 0`` of the true means.
    Gamma : float or array_like, optional
        Maximal mean norm ``max_k |mu_k|``.
    var_star : float or array_like, default 1.0
        The cluster variance ``s^2 > 0``.
    schedule : Schedule, optional
        Default :class:`~diffmem_theory.core.schedules.VPTrig`.
    printed : bool, default False
        The statement as printed.

    Returns
    -------
    Bound
        An ``"upper"`` :class:`Bound` with ``failure_probability`` and ``conditions_hold``.

    See Also
    --------
    coupling_conditions : the conditions on ``eps``.
    lemma_e_1, lemma_e_2, lemma_e_3, lemma_e_5, lemma_e_6 : the other lemmas of Appendix E.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Lemma E.4 (App. E).

    Examples
    --------
    >>> b = lemma_e_4(0.3, 0.5, 200, 10, 3, 39.6, Gamma=28.0, var_star=0.8)
    >>> round(b.log_value, 3), round(b.failure_probability, 6), b.conditions_hold
    (-433.621, 0.023165, True)
    """
    check_bool(printed, "printed")
    e, dd, g, s2, a2, sig2 = _common(t, eps, d, gamma, var_star, schedule)
    kk = _count(K, "K")
    G = _need_gamma_max(Gamma, "E.4")
    _check_unused(N=N)
    v1 = a2 * s2 + sig2
    pref = 2.0 * (kk if printed else kk - 1.0) * G / v1  # times sigma^2, in log space
    log_value = _log(pref) + _log_sigma2(t, schedule) - a2 * g * g / (4.0 * v1)
    return Bound(
        value=bound_field("value", np.exp(log_value)),
        log_value=bound_field("log_value", log_value),
        failure_probability=bound_field("failure_probability", 4.0 * kk * _tail(dd, e)),
        kind="upper",
        conditions_hold=coupling_conditions(
            t, eps, d, gamma, var_star, schedule, lemma="E.4", printed=printed
        ),
        statement="Buchanan et al., Lemma E.4" + (" (as printed)" if printed else ""),
    )


@overflow_checked
def lemma_e_5(
    t: ArrayLike,
    eps: ArrayLike,
    d: ArrayLike,
    N: ArrayLike,
    K: ArrayLike,
    gamma: ArrayLike,
    Gamma: ArrayLike | None = None,
    var_star: ArrayLike = 1.0,
    schedule: Schedule | None = None,
    *,
    printed: bool = False,
) -> Bound:
    r"""Lemma E.5: the memorizing denoiser returns the training point up to ``e^{-gap}``.

    Buchanan et al. (paper 000), Lemma E.5: with probability at least ``1 - 8N exp(-d eps^2/8)``
    (conditions of E.2),

        |xbar_mem(x_t^i, t) - x^i| <= 2 (N - 1) Gamma_* exp(-alpha^2 s^2 (1 - eps) d / (2 sigma^2)),

    with ``Gamma_*`` from :func:`gamma_star`. The statement prints ``2N``; the proof gives
    ``2(N-1)`` (``printed=True`` uses ``2N``). The ``8N`` counts ``4N`` (E.2) plus ``4N``
    (Lemma C.2 with its proven constant 4; the proof writes 3 but still sums to ``4N``).
    ``K`` unused; ``Gamma`` required.

    Parameters
    ----------
    t : float or array_like
        Diffusion time(s) in the schedule's domain.
    eps : float or array_like
        The concentration parameter, ``0 <= eps <= 1``.
    d : float or array_like
        Dimension, ``d > 0``.
    N : int or array_like of int
        Number of training points.
    K : int or array_like of int
        Number of clusters.
    gamma : float or array_like
        Minimal separation ``min_{k != k'} |mu_k - mu_k'| > 0`` of the true means.
    Gamma : float or array_like, optional
        Maximal mean norm ``max_k |mu_k|``.
    var_star : float or array_like, default 1.0
        The cluster variance ``s^2 > 0``.
    schedule : Schedule, optional
        Default :class:`~diffmem_theory.core.schedules.VPTrig`.
    printed : bool, default False
        The statement as printed.

    Returns
    -------
    Bound
        An ``"upper"`` :class:`Bound` with ``failure_probability`` and ``conditions_hold``.

    See Also
    --------
    coupling_conditions : the conditions on ``eps``.
    lemma_e_1, lemma_e_2, lemma_e_3, lemma_e_4, lemma_e_6 : the other lemmas of Appendix E.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Lemma E.5 (App. E).

    Examples
    --------
    >>> b = lemma_e_5(0.6, 0.55, 200, 10, 3, 25.46, Gamma=18.0, var_star=0.8)
    >>> round(b.log_value, 3), round(b.failure_probability, 6), b.conditions_hold
    (-57.836, 0.041566, True)
    """
    check_bool(printed, "printed")
    e, dd, _, s2, a2, _ = _common(t, eps, d, gamma, var_star, schedule)
    nn = _count(N, "N", 2)
    G = _need_gamma_max(Gamma, "E.5")
    _check_unused(K=K)
    pref = 2.0 * (nn if printed else nn - 1.0) * gamma_star(G, e, dd, s2)
    log_value = _log(pref) - _over_sigma2(a2 * s2 * (1.0 - e) * dd / 2.0, t, schedule)
    return Bound(
        value=bound_field("value", np.exp(log_value)),
        log_value=bound_field("log_value", log_value),
        failure_probability=bound_field("failure_probability", 8.0 * nn * _tail(dd, e)),
        kind="upper",
        conditions_hold=coupling_conditions(t, eps, d, gamma, var_star, schedule, lemma="E.5"),
        statement="Buchanan et al., Lemma E.5" + (" (as printed)" if printed else ""),
    )


@overflow_checked
def lemma_e_6(
    t: ArrayLike,
    eps: ArrayLike,
    d: ArrayLike,
    N: ArrayLike,
    K: ArrayLike,
    gamma: ArrayLike,
    Gamma: ArrayLike | None = None,
    var_star: ArrayLike = 1.0,
    schedule: Schedule | None = None,
    *,
    M: int,
    memorized: bool = False,
    printed: bool = False,
    coupon: str = "union",
) -> Bound:
    r"""Lemma E.6: the partially memorizing denoiser (``M`` memorized points) at a training point.

    Buchanan et al. (paper 000), Lemma E.6, an ``"upper"`` :class:`Bound`; ``M`` (the paper's
    ``l``) is keyword-only, ``1 <= M <= N``.

    **(i)** ``memorized=True`` (``i`` among the ``M`` memorized points): Lemma E.5 applied to the
    ``M`` memorized points,

        |xbar_pmem,M(x_t^i, t) - x^i| <= 2 (M - 1) Gamma_* exp(-alpha^2 s^2 (1-eps) d / (2 sigma^2))

    with probability ``>= 1 - 8 M exp(-d eps^2/8)`` (printed: ``2N Gamma_*`` and ``8N``).

    **(ii)** ``memorized=False`` (``i`` held out, ``M <= N - 1``): with ``S_i`` the memorized
    points of the cluster of ``i`` and ``s_S`` the softmax renormalized on ``S_i``,

        |xbar_pmem,M(x_t^i, t) - sum_{j in S_i} s_S,j x^j|
            <= 2 (M - 1) Gamma_* exp(-alpha^2 gamma^2/(4 sigma^2))

    with probability ``>= 1 - (10 M + 1) exp(-d eps^2/8) - c``, where ``c`` is the coupon term
    ``K (1 - 1/K)^M (1 + M/(K-1))`` (``coupon="union"``, any ``M``) or
    ``K^{-log d}(1 + (K/(K-1)) log K (1 + log d))`` (``coupon="closed"``, needs
    ``M >= (1 + log d) K log K``), i.e. ``1 -`` :func:`coupon_bound` at ``l = M``.

    The printed (ii) -- ``Gamma_* (1+N)^2 exp(-alpha^2 gamma^2/(2 sigma^2))`` with probability
    ``1 - 8N e^{-d eps^2/8} - K^{-log d}(1 + log K log d)`` under the E.2 conditions
    (``printed=True``) -- does not follow from its proof: a squared-distance gap of
    ``alpha^2 gamma^2/2`` is a softmax gap of ``alpha^2 gamma^2/(4 sigma^2)``, and the gap of
    Lemma E.3 is measured from the held-out point, not from the best memorized point of ``S_i``.
    The corrected form above is proved here as follows: with ``c = alpha s w^i + sigma g`` and
    ``a_j = alpha (mu_{k_j} - mu_{k_i})``, on the event that for every memorized ``j``
    ``| |w^j|^2 - d | <= eps d``, ``|<w^j, c>| <= |c| eps sqrt(d)/2``,
    ``|<a_j, alpha s w^j - c>| <= |a_j| eps sqrt(d V_2)/2`` and ``|c|^2 <= (1+eps) d V``
    (``6M + 1`` Chernoff terms), every ``j`` outside ``S_i`` is farther than every ``k`` in
    ``S_i`` by ``|a_j|^2 - eps |a_j| sqrt(d V_2) - 2 eps d (alpha^2 s^2 + sqrt(2) alpha s sqrt(V))
    >= alpha^2 gamma^2/2`` under the ``"E.6ii"`` conditions of :func:`coupling_conditions`; then
    ``|s - s_S|_1 = 2 sum_{j not in S_i} s_j <= 2 (M - |S_i|) e^{-alpha^2 gamma^2/(4 sigma^2)}``
    (Lemma D.2's first step) and ``|x^j| <= Gamma_*`` (Lemma C.2, ``4M`` terms).

    Parameters
    ----------
    t : float or array_like
        Diffusion time(s) in the schedule's domain.
    eps : float or array_like
        The concentration parameter, ``0 <= eps <= 1``.
    d : float or array_like
        Dimension, ``d > 0``.
    N : int or array_like of int
        Number of training points.
    K : int or array_like of int
        Number of clusters.
    gamma : float or array_like
        Minimal separation ``min_{k != k'} |mu_k - mu_k'| > 0`` of the true means.
    Gamma : float or array_like, optional
        Maximal mean norm ``max_k |mu_k|``.
    var_star : float or array_like, default 1.0
        The cluster variance ``s^2 > 0``.
    schedule : Schedule, optional
        Default :class:`~diffmem_theory.core.schedules.VPTrig`.
    M : int
        Number of memorized points (the paper's ``l``), ``1 <= M <= N``.
    memorized : bool, default False
        Part (i) (``i`` memorized) or (ii) (``i`` held out).
    coupon : {"union", "closed"}
        The coupon term of the corrected (ii).
    printed : bool, default False
        The statement as printed.

    Returns
    -------
    Bound
        An ``"upper"`` :class:`Bound` with ``failure_probability`` and ``conditions_hold``.

    See Also
    --------
    coupling_conditions : the conditions on ``eps``.
    lemma_e_1, lemma_e_2, lemma_e_3, lemma_e_4, lemma_e_5 : the other lemmas of Appendix E.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Lemma E.6 (App. E).

    Examples
    --------
    >>> b = lemma_e_6(0.5, 0.4, 400, 31, 3, 59.4, Gamma=42.0, M=30)
    >>> round(b.log_value, 2), round(b.failure_probability, 4), b.conditions_hold
    (-2638.27, 0.1012, True)
    """
    check_bool(memorized, "memorized")
    check_bool(printed, "printed")
    check_choice(coupon, "coupon", ("union", "closed"))
    e, dd, g, s2, a2, _ = _common(t, eps, d, gamma, var_star, schedule)
    nn = _count(N, "N", 2)
    kk = _count(K, "K", 2)
    mm = _count(M, "M")
    if np.any(mm > nn) or (not memorized and np.any(mm > nn - 1)):
        limit = "N" if memorized else "N - 1 (i is held out)"
        raise ValueError(f"M must be <= {limit}, got M = {mm.max():g} with N = {nn.min():g}")
    gs = gamma_star(_need_gamma_max(Gamma, "E.6"), e, dd, s2)
    tail = _tail(dd, e)
    name = "Buchanan et al., Lemma E.6 " + ("(i)" if memorized else "(ii)")
    if memorized:
        count = nn if printed else mm
        log_value = _log(2.0 * (count if printed else count - 1.0) * gs) - _over_sigma2(
            a2 * s2 * (1.0 - e) * dd / 2.0, t, schedule
        )
        return Bound(
            value=bound_field("value", np.exp(log_value)),
            log_value=bound_field("log_value", log_value),
            failure_probability=bound_field("failure_probability", 8.0 * count * tail),
            kind="upper",
            conditions_hold=coupling_conditions(t, eps, d, gamma, var_star, schedule, lemma="E.6"),
            statement=name + (" (as printed)" if printed else ""),
        )
    if printed:
        lk, ld = np.log(kk), np.log(dd)
        log_value = _log(gs * (1.0 + nn) ** 2) - _over_sigma2(a2 * g * g / 2.0, t, schedule)
        return Bound(
            value=bound_field("value", np.exp(log_value)),
            log_value=bound_field("log_value", log_value),
            failure_probability=bound_field(
                "failure_probability", 8.0 * nn * tail + np.exp(-lk * ld) * (1.0 + lk * ld)
            ),
            kind="upper",
            conditions_hold=coupling_conditions(
                t, eps, d, gamma, var_star, schedule, lemma="E.6ii", printed=True
            ),
            statement=name + " (as printed)",
        )
    miss = 1.0 - np.asarray(coupon_bound(kk, dd, mm, form=coupon))
    log_value = _log(2.0 * (mm - 1.0) * gs) - _over_sigma2(a2 * g * g / 4.0, t, schedule)
    return Bound(
        value=bound_field("value", np.exp(log_value)),
        log_value=bound_field("log_value", log_value),
        failure_probability=bound_field("failure_probability", (10.0 * mm + 1.0) * tail + miss),
        kind="upper",
        conditions_hold=coupling_conditions(t, eps, d, gamma, var_star, schedule, lemma="E.6ii"),
        statement=name + " (corrected: exponent alpha^2 gamma^2/(4 sigma^2))",
    )
