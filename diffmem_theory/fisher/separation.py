r"""Architectural separation of Ye, Zhu, Tao, Chen (paper 003), Thm 5.1 and its App. B construction.

Ye et al., "Provable Separations between Memorization and Generalization in Diffusion Models".
Theorem 5.1 gives *upper* bounds on the size of ReLU networks (width W, depth L, non-zero
parameters N) that approximate the empirical score (5.1)/(5.3) and the true score of a
beta-Hölder sub-Gaussian density (5.2)/(5.4); the paper gives no lower bound on the size of a
network that approximates the empirical score: its "separation" compares two upper bounds (and
the Lipschitz lower bound of Lemma C.1).

* :func:`relu_size_empirical`, :func:`relu_size_true` -- the O(.) shapes (5.3)/(5.4) with the
  hidden constants as explicit arguments; :func:`size_crossover_n` -- the n* where N_1 = N_2;
  :func:`score_error_scales` -- the error scales eps/sigma_t^4 (5.1) and eps/sigma_t^2 (5.2);
* the explicit Taylor truncation of App. B.3.4 / B.3.5 (B.17)-(B.19), runnable on data:
  :func:`density_terms` (the exact D_1, D_2 of App. B.2), :func:`truncated_set_U`,
  :func:`taylor_order`, :func:`truncated_exp`, :func:`taylor_density_terms` (each within 2 eps of
  D_1, D_2) and :func:`taylor_score`; the constants :data:`TAYLOR_U`, :data:`TAYLOR_C_PAPER`,
  :data:`TAYLOR_C_SHARP`;
* :func:`relu_interval_indicator` -- Lemma B.18 with the corrected formula.

Times use the paper's VP process alpha_t = e^{-t/2}, sigma_t^2 = 1 - e^{-t}
(:class:`~diffmem_theory.core.schedules.VPExp`) unless a ``schedule`` is given.

>>> relu_size_empirical(100, 1e-2).size > relu_size_empirical(10, 1e-2).size
True
>>> taylor_order(1e-2), taylor_order(1e-2, TAYLOR_C_SHARP)
(18, 17)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.spatial.distance import cdist
from scipy.special import gammaln, hyp1f1, lambertw, xlogy

from diffmem_theory._bounds import ranged, to_output
from diffmem_theory._validation import (
    as_float_array,
    as_points,
    as_queries,
    check_bool,
    check_int,
    check_scalar,
    unbatch,
)
from diffmem_theory.core.schedules import Schedule
from diffmem_theory.fisher.bounds import alpha2_sigma2, empirical_score_sup_bound
from diffmem_theory.kernels import softmax_weighted_sum

__all__ = [
    "TAYLOR_C_PAPER",
    "TAYLOR_C_SHARP",
    "TAYLOR_U",
    "NetworkSize",
    "density_terms",
    "minimal_taylor_order",
    "relu_interval_indicator",
    "relu_size_empirical",
    "relu_size_true",
    "score_error_scales",
    "size_crossover_n",
    "taylor_density_terms",
    "taylor_order",
    "taylor_remainder_bound",
    "taylor_score",
    "truncated_exp",
    "truncated_set_U",
]

#: u with 3 u log u = 1, i.e. u = exp(W(1/3)) (App. B.3.4 as printed): 1.2938570...
TAYLOR_U: float = float(math.exp(lambertw(1.0 / 3.0).real))
#: The paper's order constant 3u = 3.8816 (p = ceil(3u log(1/eps))).
TAYLOR_C_PAPER: float = 3.0 * TAYLOR_U
#: The smallest valid constant c, c log(c/e) = 1, i.e. c = 1/W(1/e) = 3.5911215... (our bound:
#: r^p/p! <= (e r/p)^p <= eps for r <= log(1/eps) and p = c log(1/eps) needs c log(c/e) >= 1).
TAYLOR_C_SHARP: float = float(1.0 / lambertw(1.0 / math.e).real)

_LOG_MAX = math.log(np.finfo(np.float64).max)
# Terms of the series of truncated_exp: for r < 1 the k-th is below 1/k!, for r > 2p their
# ratios are below 1/2.
_SMALL_TERMS, _FAR_TERMS = 25, 61


# ---------------------------------------------------------------------------------------------
# Theorem 5.1: network sizes
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkSize:
    """Width W, depth L and number of non-zero parameters N of a ReLU class F(W, L, N).

    Each field is a real number or array >= 0; ``inf`` stands for a size beyond float64 (see
    :func:`relu_size_true`), NaN and complex values raise ``ValueError``.

    >>> NetworkSize(97665.0, 21.2, 449762.0).depth
    21.2
    """

    width: Any
    depth: Any
    size: Any

    def __post_init__(self) -> None:
        for name in ("width", "depth", "size"):
            arr = as_float_array(getattr(self, name), name, finite=False)
            if np.any(~(arr >= 0)):
                raise ValueError(f"{name} must be >= 0 (inf allowed), got {getattr(self, name)!r}")


def _log_inv_eps(eps: ArrayLike) -> np.ndarray:
    return -np.log(ranged(eps, "eps", 0.0, 1.0, low_open=True, high_open=True))


def _constant(value: float, name: str) -> float:
    return check_scalar(value, name, low=0.0, low_open=True)


def relu_size_empirical(
    n: ArrayLike,
    eps: ArrayLike,
    *,
    c_width: float = 1.0,
    c_depth: float = 1.0,
    c_size: float = 1.0,
) -> NetworkSize:
    r"""Network size for the empirical score, Ye et al., Thm 5.1, eq. (5.3) (an upper bound).

        W_1 = c_W n log^3(1/eps),  L_1 = c_L log^2(1/eps),  N_1 = c_N n log^4(1/eps),

    for error E_D E_{P^_t} |s_1 - grad log p^_t|^2 <~ eps / sigma_t^4 (5.1). The constants
    hidden in O(.) are the keyword arguments (default 1); only the shapes are meaningful.

    Parameters
    ----------
    n : array_like
        Sample size, >= 1.
    eps : array_like
        Accuracy, in (0, 1) (broadcast with ``n``).
    c_width, c_depth, c_size : float, default 1
        The constants hidden in the O(.) of W_1, L_1, N_1, > 0.

    Returns
    -------
    NetworkSize
        ``width``, ``depth``, ``size``; a size beyond float64 is ``inf``.

    See Also
    --------
    relu_size_true : the bound for the true score, (5.4).
    size_crossover_n : the n where N_1 = N_2.

    References
    ----------
    Ye et al., Thm 5.1, eqs. (5.1), (5.3); App. B.3 (Lemma B.6).

    Examples
    --------
    >>> s = relu_size_empirical(1000, 1e-2)
    >>> round(s.width), round(s.depth, 4), round(s.size)
    (97665, 21.2076, 449762)
    """
    nn = ranged(n, "n", 1.0)
    ell = _log_inv_eps(eps)
    with np.errstate(over="ignore"):
        return NetworkSize(
            width=to_output(_constant(c_width, "c_width") * nn * ell**3),
            depth=to_output(_constant(c_depth, "c_depth") * ell**2),
            size=to_output(_constant(c_size, "c_size") * nn * ell**4),
        )


def _dimension_exponent(d: ArrayLike, beta: ArrayLike, rate: float) -> np.ndarray:
    dd = ranged(d, "d", 1.0)
    bb = ranged(beta, "beta", 0.0, low_open=True)
    with np.errstate(over="ignore"):  # d/(rate beta) beyond float64: inf, the sizes are inf
        return dd / (_constant(rate, "rate") * bb)


def relu_size_true(
    eps: ArrayLike,
    d: ArrayLike,
    beta: ArrayLike,
    *,
    rate: float = 2.0,
    c_width: float = 1.0,
    c_depth: float = 1.0,
    c_size: float = 1.0,
) -> NetworkSize:
    r"""Network size for the true score, Ye et al., Thm 5.1, eq. (5.4) (an upper bound).

        W_2 = c_W eps^{-d/(rate beta)} log^7(1/eps),  L_2 = c_L log^4(1/eps),
        N_2 = c_N eps^{-d/(rate beta)} log^9(1/eps),

    for error <~ eps / sigma_t^2 (5.2), independent of n. ``rate = 2`` reads the error of
    (B.7) as N^{-2 beta/d}; ``rate = 1`` gives Fu et al.'s N^{-beta/d} reading (the exponent
    is garbled in our copy of the paper).

    Parameters
    ----------
    eps : array_like
        Accuracy, in (0, 1).
    d : array_like
        Dimension, >= 1.
    beta : array_like
        Hoelder index of the data density (Def. 3.2), > 0.
    rate : float, default 2
        The exponent reading described above, > 0.
    c_width, c_depth, c_size : float, default 1
        The constants hidden in the O(.), > 0.

    Returns
    -------
    NetworkSize
        ``width``, ``depth``, ``size``; overflow gives ``inf``.

    See Also
    --------
    relu_size_empirical : the bound for the empirical score, (5.3).
    size_crossover_n : the n where N_1 = N_2.

    References
    ----------
    Ye et al., Thm 5.1, eqs. (5.2), (5.4); Thm B.5 and (B.7)-(B.8).

    Examples
    --------
    >>> s = relu_size_true(1e-2, 2, 1.0)
    >>> round(s.width), round(s.depth, 3), round(s.size)
    (4392581, 449.762, 93156070)
    """
    ell = _log_inv_eps(eps)
    with np.errstate(over="ignore"):
        log_scale = _dimension_exponent(d, beta, rate) * ell
        log_w = math.log(_constant(c_width, "c_width")) + log_scale + 7.0 * np.log(ell)
        log_n = math.log(_constant(c_size, "c_size")) + log_scale + 9.0 * np.log(ell)
        width, size = np.exp(log_w), np.exp(log_n)
        depth = _constant(c_depth, "c_depth") * ell**4
    return NetworkSize(width=to_output(width), depth=to_output(depth), size=to_output(size))


def size_crossover_n(
    eps: ArrayLike,
    d: ArrayLike,
    beta: ArrayLike,
    *,
    rate: float = 2.0,
    c_size_empirical: float = 1.0,
    c_size_true: float = 1.0,
    log: bool = False,
) -> Any:
    r"""Sample size n* at which the two bounds of Thm 5.1 on N coincide (ours, from (5.3)/(5.4)).

    Solving N_1(n*) = N_2 with (5.3)/(5.4):

        n* = (c_N2 / c_N1) eps^{-d/(rate beta)} log^5(1/eps).

    For n > n* the empirical-score bound exceeds the true-score bound. Both are upper bounds,
    so n* is a comparison of bounds, not a proven threshold.

    Parameters
    ----------
    eps, d, beta, rate
        As in :func:`relu_size_true`.
    c_size_empirical, c_size_true : float, default 1
        The constants of N_1 and N_2, > 0.
    log : bool, default False
        Return log n* (finite unless d/(rate beta) overflows).

    Returns
    -------
    float or ndarray
        n* (``inf`` beyond float64) or log n*.

    See Also
    --------
    relu_size_empirical, relu_size_true

    References
    ----------
    Ye et al., Thm 5.1.

    Examples
    --------
    >>> round(size_crossover_n(1e-2, 2, 1.0))
    207123
    >>> round(size_crossover_n(1e-2, 2, 1.0, log=True), 6)
    12.241068
    """
    ell = _log_inv_eps(eps)
    log_ratio = math.log(_constant(c_size_true, "c_size_true")) - math.log(
        _constant(c_size_empirical, "c_size_empirical")
    )
    with np.errstate(over="ignore"):
        log_n = log_ratio + _dimension_exponent(d, beta, rate) * ell + 5.0 * np.log(ell)
        return to_output(log_n if check_bool(log, "log") else np.exp(log_n))


def score_error_scales(
    t: ArrayLike, eps: ArrayLike, schedule: Schedule | None = None
) -> tuple[Any, Any]:
    r"""The error scales of Thm 5.1: eps / sigma_t^4 (5.1) and eps / sigma_t^2 (5.2).

    The empirical score is harder to represent near t = 0 (one more factor 1/sigma_t^2).
    Vectorized over ``t`` and ``eps``; a scale beyond float64 raises ``ValueError``.

    >>> [round(v, 4) for v in score_error_scales(0.01, 1e-3)]
    [10.1004, 0.1005]
    """
    _, s2 = alpha2_sigma2(t, schedule)
    e = ranged(eps, "eps", 0.0, low_open=True)
    with np.errstate(over="ignore"):
        empirical, true = e / s2 / s2, e / s2
    if not np.all(np.isfinite(empirical)):
        raise ValueError("eps / sigma_t^4 overflows float64: t is too small or eps too large")
    return to_output(empirical), to_output(true)


# ---------------------------------------------------------------------------------------------
# App. B.3.4-B.3.5: truncated Taylor approximation of D_1 and D_2
# ---------------------------------------------------------------------------------------------


def taylor_order(eps: float, c: float = TAYLOR_C_PAPER) -> int:
    r"""Taylor order p = ceil(c log(1/eps)), Ye et al., App. B.3.4 (before (B.18)).

    On U_x every r = |x - alpha_t x_i|^2/(2 sigma_t^2) <= log(1/eps), and p! >= (p/e)^p gives
    r^p/p! <= (e/c)^{c log(1/eps)} <= eps whenever c log(c/e) >= 1, i.e.
    c >= :data:`TAYLOR_C_SHARP` = 3.5911. The paper's c = 3u with 3u log u = 1
    (:data:`TAYLOR_C_PAPER` = 3.8816) satisfies it.

    >>> taylor_order(1e-2), taylor_order(1e-6)
    (18, 54)
    """
    e = check_scalar(eps, "eps", low=0.0, high=1.0, low_open=True, high_open=True)
    cc = check_scalar(c, "c", low=TAYLOR_C_SHARP * (1.0 - 1e-12))
    order = cc * -math.log(e)
    if not math.isfinite(order):
        raise ValueError(f"c log(1/eps) overflows float64, got c = {cc!r}, eps = {e!r}")
    return max(1, math.ceil(order))


def taylor_remainder_bound(r: ArrayLike, p: int) -> Any:
    r"""The alternating-series remainder bound |e^{-r} - sum_{k<p} (-r)^k/k!| <= r^p/p!, r >= 0.

    Ye et al., App. B.3.4 (B.18); computed as exp(p log r - log p!). At r = log(1/eps) and
    p = :func:`taylor_order` it is <= eps. A bound beyond float64 raises ``ValueError``.

    >>> round(taylor_remainder_bound(np.log(100.0), 18), 7)   # eps = 1e-2, p = 18
    0.0001355
    """
    rr = ranged(r, "r", 0.0)
    pp = check_int(p, "p", low=1)
    log_bound = xlogy(pp, rr) - gammaln(pp + 1.0)
    if np.any(log_bound > _LOG_MAX):
        raise ValueError(
            f"r^p/p! overflows float64 (log {float(np.max(log_bound)):.6g}), got p = {pp} and "
            f"max r = {float(np.max(rr))!r}"
        )
    return to_output(np.exp(log_bound))


def _log_taylor_term(r: float, p: int) -> float:
    """log(r^p / p!) for r >= 0, p >= 1 (-inf at r = 0)."""
    return (p * math.log(r) if r > 0 else -math.inf) - math.lgamma(p + 1.0)


#: Largest order :func:`minimal_taylor_order` returns (beyond it ``ValueError``): the order is
#: about e r_max there, and float64 no longer resolves log(r^p / p!) to the unit.
_MAX_TAYLOR_ORDER: int = 10**12


def minimal_taylor_order(r_max: float, tol: float, prefactor: float = 1.0) -> int:
    r"""Smallest p with prefactor * r_max^p / p! <= tol (our explicit order for App. B.3.5).

    The D_2 truncation (App. B.3.5) gives no explicit order; there the terms carry the factor
    |[alpha_t x_i - x]_j|/sigma_t <= sqrt(2 r) <= 2 sqrt(log(1/eps)) with r <= 2 log(1/eps),
    so :func:`taylor_density_terms` uses ``minimal_taylor_order(2 l, eps, 2 sqrt(l))``.

    f(p) = log(prefactor) + p log r_max - log p! is concave in p, so the p with f(p) <= log(tol)
    form a tail [p*, inf) of the integers >= 2 (or include p = 1); p* is found by doubling and
    bisection in O(log p*) evaluations. p* grows like e r_max: a ``ValueError`` beyond
    10^12 (r_max above ~3.7e11).

    >>> minimal_taylor_order(np.log(100.0), 1e-2)
    15
    >>> minimal_taylor_order(1e9, 0.01)
    2718281822
    """
    rm = check_scalar(r_max, "r_max", low=0.0)
    tl = check_scalar(tol, "tol", low=0.0, low_open=True)
    pf = check_scalar(prefactor, "prefactor", low=0.0, low_open=True)
    log_pf, log_tol = math.log(pf), math.log(tl)

    def small_enough(p: int) -> bool:
        return log_pf + _log_taylor_term(rm, p) <= log_tol

    if small_enough(1):
        return 1
    lo, hi = 1, 2  # small_enough(lo) is False
    while not small_enough(hi):
        if hi >= _MAX_TAYLOR_ORDER:
            raise ValueError(
                f"the Taylor order for r_max = {rm!r}, tol = {tl!r}, prefactor = {pf!r} exceeds "
                f"{_MAX_TAYLOR_ORDER:.0e} (it is about e r_max = {math.e * rm:.3g}); reduce r_max"
            )
        lo, hi = hi, min(2 * hi, _MAX_TAYLOR_ORDER)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if small_enough(mid) else (mid, hi)
    return hi


def _series(ratio: Any, n_terms: int, like: np.ndarray) -> np.ndarray:
    """sum_{m < n_terms} prod_{i=1}^{m} ratio(i), elementwise (``ratio(i)`` an array like
    ``like``)."""
    total, term = np.ones_like(like), np.ones_like(like)
    for i in range(1, n_terms):
        term = term * ratio(i)
        total = total + term
    return total


def truncated_exp(r: ArrayLike, p: int) -> Any:
    r"""The truncated series T_p(r) = sum_{k<p} (-r)^k / k! of e^{-r}, r >= 0, without cancellation.

    Ye et al., App. B.3.4: the polynomial a ReLU network emulates. Summing the alternating
    series in float64 loses ~e^{r} u (u the unit roundoff: the terms reach e^{r}/sqrt(2 pi r)
    while the sum is e^{-r}); instead, by regime,

    * r < 1: the series itself (terms below 1, their sum above e^{-1}; 25 terms, the rest is
      below 1/25!);
    * 1 <= r <= 2p: the remainder in Kummer form (a positive-term integral, e^{-r} - T_p(r) =
      (-1)^p/(p-1)! int_0^r (r-s)^{p-1} e^{-s} ds),

          T_p(r) = e^{-r} - (-1)^p (r^p / p!) 1F1(1; p+1; -r),   0 < 1F1(1; p+1; -r) <= 1

      (SciPy ``hyp1f1``);
    * r > 2p: the series read from its largest term,
      T_p(r) = ((-r)^{p-1}/(p-1)!) sum_{m<p} prod_{i=1}^{m} (-(p-i)/r), whose ratios are
      below 1/2 (no cancellation; 61 terms, the rest is below 2^-60 of the first).

    r^p/p! is formed in log space. Accurate to ~1e-12 relative to max(e^{-r}, r^p/p!); a value
    beyond the float64 range raises ``ValueError`` (e.g. T_90(1e20) ~ e^3785).

    >>> round(truncated_exp(2.0, 3), 12)        # 1 - 2 + 2
    1.0
    >>> f"{truncated_exp(30.0, 90) - np.exp(-30.0):.6e}"   # mpmath: -4.415098e-06
    '-4.415098e-06'
    >>> [round(float(truncated_exp(r, 3)) / (1 - r + r * r / 2), 12) for r in (1e3, 1e20)]
    [1.0, 1.0]
    """
    rr = ranged(r, "r", 0.0)
    pp = check_int(p, "p", low=1)
    small, far = rr < 1.0, rr > 2.0 * pp
    mid = ~(small | far)
    r_small, r_mid, r_far = (np.where(m, rr, v) for m, v in ((small, 0.0), (mid, 1.0), (far, 1.0)))
    # log r^p/p! (mid) and log r^{p-1}/(p-1)! (far) where they are used, 0 elsewhere
    log_mag = np.where(mid, pp * np.log(r_mid) - gammaln(pp + 1.0), 0.0)
    log_mag = np.where(far, (pp - 1.0) * np.log(r_far) - gammaln(float(pp)), log_mag)
    if np.any(log_mag > _LOG_MAX):
        k = int(np.argmax(log_mag))
        raise ValueError(
            f"truncated_exp overflows float64 at r = {float(rr.flat[k])!r}, p = {pp} "
            f"(|T_p(r)| ~ e^{float(log_mag.flat[k]):.6g})"
        )
    mag = np.exp(log_mag)
    head = _series(lambda k: -r_small / k, min(pp, _SMALL_TERMS), r_small)
    body = np.exp(-r_mid) - (-1.0) ** pp * mag * hyp1f1(1.0, pp + 1.0, -r_mid)
    tail = (
        (-1.0) ** (pp - 1)
        * mag
        * _series(lambda i: np.where(far, -(pp - i) / r_far, 0.0), min(pp, _FAR_TERMS), r_far)
    )
    return to_output(np.where(small, head, np.where(far, tail, body)))


def _scaled_distances(
    x: np.ndarray, t: float, data: np.ndarray, schedule: Schedule | None
) -> tuple[np.ndarray, float, float]:
    """(r_ij = |x_i - alpha x_j|^2 / (2 sigma^2), alpha, sigma) at one time."""
    a2, s2 = alpha2_sigma2(t, schedule)
    if a2.ndim != 0:
        raise ValueError(f"t must be a scalar, got shape {a2.shape}")
    alpha, s2f = math.sqrt(float(a2)), float(s2)
    with np.errstate(over="ignore"):  # r = inf: the point is outside every truncated set
        r = cdist(x, alpha * data, "sqeuclidean") / (2.0 * s2f)
    return r, alpha, math.sqrt(s2f)


def _inputs(x: ArrayLike, X0: ArrayLike) -> tuple[np.ndarray, bool, np.ndarray]:
    xq, single = as_queries(x)
    return xq, single, as_points(X0, "X0", xq.shape[1])


def truncated_set_U(
    x: ArrayLike,
    t: float,
    X0: ArrayLike,
    eps: float,
    schedule: Schedule | None = None,
    *,
    numerator: bool = False,
) -> np.ndarray:
    r"""Membership of the truncated index sets U_x (B.17) and U'_x (App. B.3.5).

        U_x  = {i : |x - alpha_t x_i| / sigma_t <= sqrt(2 log(1/eps))}   (D_1),
        U'_x = {i : |x - alpha_t x_i| / sigma_t <= sqrt(4 log(1/eps))}   (D_2, ``numerator``).

    Returns a boolean ``(B, n)`` array (``(n,)`` for a single ``(d,)`` query).

    >>> truncated_set_U([0.0], 0.01, [[0.0], [1.0]], 1e-2).tolist()
    [True, False]
    """
    xq, single, data = _inputs(x, X0)
    e = check_scalar(eps, "eps", low=0.0, high=1.0, low_open=True, high_open=True)
    r, _, _ = _scaled_distances(xq, t, data, schedule)
    radius = (2.0 if check_bool(numerator, "numerator") else 1.0) * math.log(1.0 / e)
    return unbatch(r <= radius, single)


def density_terms(
    x: ArrayLike, t: float, X0: ArrayLike, schedule: Schedule | None = None
) -> tuple[Any, np.ndarray]:
    r"""The exact D_1 and D_2 of Ye et al., App. B.2 (Prop. B.4), unnormalized.

        D_1(x) = (1/n) sum_i exp(-r_i),
        D_2^(j)(x) = (1/n) sum_i ([alpha_t x_i - x]_j / sigma_t) exp(-r_i),
        r_i = |x - alpha_t x_i|^2 / (2 sigma_t^2),

    so that grad log p^_t = D_2 / (sigma_t D_1) (no (2 pi sigma_t^2)^{-d/2} factor,
    which cancels in the score).
    Computed from the log-sum-exp kernel: D_1 = e^{lse}/n, D_2 = D_1 (alpha_t mu^ - x)/sigma_t.
    Returns ``D_1`` ``(B,)`` and ``D_2`` ``(B, d)`` (a float and ``(d,)`` for one query).

    Parameters
    ----------
    x : array_like, shape (B, d) or (d,)
        Query points.
    t : float
        Time.
    X0 : array_like, shape (n, d)
        The training points.
    schedule : Schedule, optional
        Default :class:`~diffmem_theory.core.schedules.VPExp`.

    Returns
    -------
    (ndarray, ndarray)
        D_1, shape (B,), and D_2, shape (B, d).

    See Also
    --------
    taylor_density_terms : their truncated-Taylor approximations.

    References
    ----------
    Ye et al., App. B.2 (Prop. B.4).

    Examples
    --------
    >>> D1, D2 = density_terms([0.0], 1.0, [[0.0], [1.0]])
    >>> round(D1, 6), np.round(D2, 6).tolist()
    (0.873762, [0.285133])
    """
    xq, single, data = _inputs(x, X0)
    a2, s2 = alpha2_sigma2(t, schedule)
    alpha, sigma = math.sqrt(float(a2)), math.sqrt(float(s2))
    mean, lse = softmax_weighted_sum(
        xq, data, scale=alpha, var=float(s2), return_logsumexp=True, backend="numpy"
    )
    d1 = np.exp(lse - math.log(data.shape[0]))
    d2 = d1[:, None] * (alpha * mean - xq) / sigma
    return (to_output(d1[0]), d2[0]) if single else (d1, d2)


def taylor_density_terms(
    x: ArrayLike,
    t: float,
    X0: ArrayLike,
    eps: float,
    schedule: Schedule | None = None,
    *,
    order: int | None = None,
    order_numerator: int | None = None,
) -> tuple[Any, np.ndarray]:
    r"""Truncated-Taylor approximations of D_1, D_2, Ye et al., (B.17)-(B.19) and App. B.3.5.

        D_1~(x) = (1/n) sum_{i in U_x} T_p(r_i),
        D_2~(x) = (1/n) sum_{i in U'_x} ([alpha_t x_i - x]/sigma_t) T_{p'}(r_i),

    with T_p = :func:`truncated_exp`, U_x, U'_x from :func:`truncated_set_U`,
    p = :func:`taylor_order` (eps) and p' = :func:`minimal_taylor_order`
    (2 l, eps, 2 sqrt(l)), l = log(1/eps) (the paper leaves p' implicit). Guarantee (B.19):
    |D_1~ - D_1| <= 2 eps and |D_2~ - D_2|_inf <= 2 eps at every x (the dropped terms cost
    <= eps, the truncation <= eps). ``order`` / ``order_numerator`` override p / p'.

    Parameters
    ----------
    x : array_like, shape (B, d) or (d,)
        Query points.
    t : float
        Time.
    X0 : array_like, shape (n, d)
        The training points.
    eps : float
        Accuracy, in (0, 1).
    schedule : Schedule, optional
        Default :class:`~diffmem_theory.core.schedules.VPExp`.
    order, order_numerator : int, optional
        The Taylor orders p and p', >= 1.

    Returns
    -------
    (ndarray, ndarray)
        D_1~, shape (B,), and D_2~, shape (B, d).

    See Also
    --------
    density_terms : the exact D_1, D_2.
    taylor_score : the score built from them.

    References
    ----------
    Ye et al., Lemmas B.6-B.7, (B.17)-(B.19), App. B.3.4-B.3.5.

    Examples
    --------
    >>> D1t, D2t = taylor_density_terms([0.0], 1.0, [[0.0], [1.0]], 1e-3)
    >>> D1, D2 = density_terms([0.0], 1.0, [[0.0], [1.0]])
    >>> bool(abs(D1t - D1) <= 2e-3), bool(np.all(np.abs(D2t - D2) <= 2e-3))
    (True, True)
    """
    xq, single, data = _inputs(x, X0)
    e = check_scalar(eps, "eps", low=0.0, high=1.0, low_open=True, high_open=True)
    ell = math.log(1.0 / e)
    p = taylor_order(e) if order is None else check_int(order, "order", low=1)
    p2 = (
        minimal_taylor_order(2.0 * ell, e, 2.0 * math.sqrt(ell))
        if order_numerator is None
        else check_int(order_numerator, "order_numerator", low=1)
    )
    r, alpha, sigma = _scaled_distances(xq, t, data, schedule)
    n = data.shape[0]
    d1 = np.where(r <= ell, truncated_exp(np.minimum(r, ell), p), 0.0).sum(axis=1) / n
    w2 = np.where(r <= 2.0 * ell, truncated_exp(np.minimum(r, 2.0 * ell), p2), 0.0) / n
    d2 = (w2 @ (alpha * data) - w2.sum(axis=1)[:, None] * xq) / sigma
    return (to_output(d1[0]), d2[0]) if single else (d1, d2)


def taylor_score(
    x: ArrayLike,
    t: float,
    X0: ArrayLike,
    eps: float,
    schedule: Schedule | None = None,
    *,
    eps_low: float | None = None,
) -> np.ndarray:
    r"""The score approximant built from the truncated D_1~, D_2~, Ye et al., App. B.2 (Prop. B.4).

        s~_j(x) = clip( D_2~^(j) / (sigma_t max(D_1~, eps_low)),  +/- (|x|_inf + B_D)/sigma_t^2 ),

    eps_low = 4 eps by default (the proof's choice); the clip is Lemma B.1's bound
    (:func:`diffmem_theory.fisher.bounds.empirical_score_sup_bound`). Where D_1 >= eps_low,
    D_1 sigma_t |s~ - grad log p^_t|_inf <= 4 eps (1 + sigma_t |grad log p^_t|_inf) (ours, from
    the 2 eps guarantees of (B.19); Prop. B.4 states it as p^_t |grad log p^_t - s^|_inf <~
    eps/sigma_t).

    Parameters
    ----------
    x : array_like, shape (B, d) or (d,)
        Query points.
    t : float
        Time.
    X0 : array_like, shape (n, d)
        The training points.
    eps : float
        Accuracy, in (0, 1).
    schedule : Schedule, optional
        Default :class:`~diffmem_theory.core.schedules.VPExp`.
    eps_low : float, optional
        The floor of D_1~, > 0 (default 4 eps).

    Returns
    -------
    ndarray
        s~, the shape of ``x``.

    See Also
    --------
    taylor_density_terms : D_1~ and D_2~.
    density_terms : the exact D_1 and D_2.
    diffmem_theory.core.distributions.EmpiricalDistribution.score_t : the exact score.

    References
    ----------
    Ye et al., Prop. B.4, Lemmas B.1, B.6-B.7, (B.17)-(B.19).

    Examples
    --------
    >>> from diffmem_theory.core.distributions import EmpiricalDistribution
    >>> from diffmem_theory.core.schedules import VPExp
    >>> X0 = [[0.0], [1.0]]
    >>> s = taylor_score([0.2], 1.0, X0, 1e-6)
    >>> exact = EmpiricalDistribution(X0).score_t([[0.2]], 1.0, VPExp())[0]
    >>> bool(abs(s[0] - exact[0]) < 1e-4)
    True
    """
    xq, single, data = _inputs(x, X0)
    e = check_scalar(eps, "eps", low=0.0, high=1.0, low_open=True, high_open=True)
    low = 4.0 * e if eps_low is None else check_scalar(eps_low, "eps_low", low=0.0, low_open=True)
    d1, d2 = taylor_density_terms(xq, t, data, e, schedule)
    _, s2 = alpha2_sigma2(t, schedule)
    raw = d2 / (math.sqrt(float(s2)) * np.maximum(d1, low)[:, None])
    bound = np.asarray(empirical_score_sup_bound(xq, t, data, schedule))[:, None]
    return unbatch(np.clip(raw, -bound, bound), single)


# ---------------------------------------------------------------------------------------------
# Lemma B.18: interval indicator
# ---------------------------------------------------------------------------------------------


def _unit_ramp(u: np.ndarray, tau: float) -> np.ndarray:
    """r_tau(u) = ReLU(u/tau) - ReLU(u/tau - 1) = clip(u/tau, 0, 1) (two ReLUs), evaluated as
    the clip: the difference of ReLUs rounds to 0 for u/tau >~ 1e16, and u/tau may overflow."""
    with np.errstate(over="ignore"):
        return np.clip(u / tau, 0.0, 1.0)


def relu_interval_indicator(x: ArrayLike, B: float, tau: float, *, printed: bool = False) -> Any:
    r"""Four-ReLU approximation of 1{|x| <= B}, Ye et al., Lemma B.18 (corrected).

        f_{B,tau}(x) = r_tau(x + B + tau) - r_tau(x - B),
        r_tau(u) = ReLU(u/tau) - ReLU(u/tau - 1):

    1 on |x| <= B, 0 on |x| >= B + tau, linear in between; one hidden layer of width 4 (so
    L = 2, W = 4 and at most 13 non-zero parameters, not the printed N = 1). The printed
    r_tau(x + B) - r_tau(x - B) is 0 at x = -B and never reaches 1 on [-B, -B + tau) -- it
    does not have the stated properties (see :mod:`diffmem_theory.fisher.errata`). Each ramp
    is evaluated as clip(u/tau, 0, 1), its value, exact for every x.

    Parameters
    ----------
    x : array_like
        Points.
    B : float
        Half-width of the interval, > 0.
    tau : float
        Margin, in (0, 1].
    printed : bool, default False
        The formula as printed, r_tau(x + B) - r_tau(x - B).

    Returns
    -------
    float or ndarray
        f_{B,tau}(x), the shape of ``x``.

    References
    ----------
    Ye et al., Lemma B.18.

    Examples
    --------
    >>> relu_interval_indicator([-1.6, -1.5, -1.0, 0.0, 1.0, 1.25, 1.5], 1.0, 0.5).tolist()
    [0.0, 0.0, 1.0, 1.0, 1.0, 0.5, 0.0]
    >>> float(relu_interval_indicator(-1.0, 1.0, 0.5, printed=True))
    0.0
    """
    xx = ranged(x, "x")
    b = check_scalar(B, "B", low=0.0, low_open=True)
    ta = check_scalar(tau, "tau", low=0.0, high=1.0, low_open=True)
    with np.errstate(over="ignore"):  # x +- B beyond float64: +-inf, where the ramps are 0 or 1
        left = xx + b if check_bool(printed, "printed") else (xx + b) + ta  # x + B first
        return to_output(_unit_ramp(left, ta) - _unit_ramp(xx - b, ta))
