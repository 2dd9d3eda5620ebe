r"""Mixing time, KDE bandwidths and the OU-evolved empirical density of Halder (paper 001), Sec. 2.

Notation: the OU process dX = -X dt + sqrt(2 lam) dW (Halder eq. (2.1), footnote 5; lam = 1 in the
paper) carries a point x0 to N(x0 e^{-t}, lam delta_t I) with delta_t = 1 - e^{-2t}
(:class:`diffmem_theory.core.schedules.OU`). Data are N(mu, sigma^2 I_d) with n training points.

* :func:`t_mixing` -- the mixing (collapse) time t_M of eq. (2.9), the exact root of
  n^{2/d} = (lam delta_t + sigma^2 e^{-2t}) / (lam delta_t); :func:`t_mixing_leading` its
  leading order; :func:`t_speciation` the speciation time t_S = 1/2 log Lambda of Biroli et al.
* :func:`kde_bandwidth` -- the "mixing" sqrt(2 t_M) (2.10), "leading" sigma n^{-1/d} (the
  figures) and Silverman (2.11) bandwidths; :func:`kde_mise_gaussian` the exact MISE of the
  Gaussian KDE for Gaussian data and :func:`kde_mise_optimal_bandwidth` its minimiser.
* :func:`log_rho_hat`, :func:`score_rho_hat` -- the empirical OU density (2.7) and its score:
  :class:`diffmem_theory.core.distributions.EmpiricalDistribution` of the samples under the
  :class:`~diffmem_theory.core.schedules.OU` schedule (its fused log-sum-exp kernel).
* :func:`log_z1_z1c`, :func:`mixing_crossing_time` -- the decomposition (2.8) and the
  statistical (random-energy-model) check of t_M.
* :func:`late_time_quadratic`, :func:`t_relaxation` -- the late-time expansion (2.12) with the
  missing 1/delta_t restored (``printed=False``) or as printed (``printed=True``), and t_R.

The errata of Sec. 2 (eqs. (2.8), (2.10), (2.11), (2.12)) are catalogued in
:mod:`diffmem_theory.mixing.errata`.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import mpmath
import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import brentq, minimize_scalar

from diffmem_theory._validation import (
    as_float_array,
    check_bool,
    check_choice,
    check_covariance,
    check_dps,
    check_int,
    check_scalar,
    exp_or_raise,
    finite_result,
)
from diffmem_theory.core.distributions import EmpiricalDistribution
from diffmem_theory.core.schedules import OU

__all__ = [
    "BANDWIDTH_RULES",
    "LateTimeQuadratic",
    "kde_bandwidth",
    "kde_mise_gaussian",
    "kde_mise_optimal_bandwidth",
    "late_time_quadratic",
    "log_rho_hat",
    "log_z1_z1c",
    "mixing_crossing_time",
    "score_rho_hat",
    "t_mixing",
    "t_mixing_leading",
    "t_relaxation",
    "t_speciation",
]

BANDWIDTH_RULES = ("leading", "mixing", "silverman")
_T_MAX_LATE = 350.0  # e^{2t} of Sigma_t in eq. (2.12) is finite up to t ~ 354.9
_LOG2 = math.log(2.0)


# --- validation helpers -----------------------------------------------------------------------


def _sigma_d_lam(sigma: Any, d: Any, lam: Any) -> tuple[float, int, float]:
    s = check_scalar(sigma, "sigma", low=0.0, low_open=True)
    dd = check_int(d, "d", low=1)
    lm = check_scalar(lam, "lam", low=0.0, low_open=True)
    return s, dd, lm


def _log_n(n: Any, log_n: Any) -> float:
    """log n from exactly one of ``n`` (integer >= 2) or ``log_n`` (>= log 2)."""
    if (n is None) == (log_n is None):
        raise ValueError("give exactly one of n and log_n")
    if n is not None:
        if isinstance(n, (float, np.floating)) and float(n).is_integer():
            n = int(n)
        return math.log(check_int(n, "n", low=2))
    ln = check_scalar(log_n, "log_n", low=_LOG2)
    return ln


def _softplus(x: float) -> float:
    """log(1 + e^x) without overflow."""
    return float(np.logaddexp(0.0, x))


def _log_expm1(y: float) -> float:
    """log(e^y - 1) for y > 0 without overflow (y + log(1 - e^{-y}))."""
    return y + math.log(-math.expm1(-y))


def _normal(x: float) -> bool:
    """A positive float far from both ends of the float64 range (full relative precision)."""
    return 1e-300 < x < 1e300


def _t_mixing_float(s: float, dd: int, lm: float, ln: float) -> float:
    """t_M = 1/2 log1p(x), x = sigma^2 / (lam (n^{2/d} - 1)) (eq. 2.9), in float64.

    Direct where every factor is a normal float (a few ulp); otherwise in log space,
    log1p(x) = softplus(log x), which has no overflow but an error ~ |log x| ulp.
    """
    y = 2.0 * ln / dd
    num, den = s * s, lm * math.expm1(y) if y < 690.0 else math.inf
    if _normal(num) and _normal(den) and _normal(num / den):
        return 0.5 * math.log1p(num / den)
    return 0.5 * _softplus(2.0 * math.log(s) - math.log(lm) - _log_expm1(y))


def _out_finite(out: Any, what: str) -> Any:
    """A float for a 0-d result, the array otherwise; ``ValueError`` if beyond float64."""
    finite_result(out, what)
    return float(out) if np.ndim(out) == 0 else out


def _empirical(x: Any, t: Any, samples: Any, lam: Any) -> tuple[EmpiricalDistribution, OU, float]:
    """The law of the samples, the OU schedule and t, with x, t, samples, lam validated."""
    X = _samples(samples)
    _queries(x, X.shape[1])
    tt = _time(t)
    return EmpiricalDistribution(X), OU(lam=check_scalar(lam, "lam", low=0.0, low_open=True)), tt


def _time(t: Any) -> float:
    return check_scalar(t, "t", low=0.0, low_open=True)


def _samples(samples: Any) -> np.ndarray:
    X = as_float_array(samples, "samples", ndim=2, dtype=np.float64)
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"samples must have shape (n, d) with n, d >= 1, got {X.shape}")
    return X


def _queries(x: Any, d: int, name: str = "x") -> tuple[np.ndarray, bool]:
    q = as_float_array(x, name, ndim=(1, 2), dtype=np.float64)
    single = q.ndim == 1
    q = np.atleast_2d(q)
    if q.shape[1] != d:
        raise ValueError(f"{name} has dimension {q.shape[1]} but samples have dimension {d}")
    return q, single


# --- mixing time and bandwidths ---------------------------------------------------------------


def t_mixing(
    sigma: float,
    d: int,
    n: int | None = None,
    *,
    log_n: float | None = None,
    lam: float = 1.0,
    dps: int | None = None,
) -> Any:
    r"""Mixing (collapse) time t_M of Halder eq. (2.9), computed stably.

        t_M = 1/2 log(1 + sigma^2 / (lam (n^{2/d} - 1)))
            = 1/2 log1p(sigma^2 / (lam expm1(2 log(n) / d))),

    the exact root of n^{2/d} = (lam delta_t + sigma^2 e^{-2t}) / (lam delta_t): the time at
    which the self term of the empirical density (2.7) at a training point equals the n - 1
    others, each of which carries the data spread sigma^2 e^{-2t} (Halder, Sec. 2.2; the
    condition is linear in y = e^{-2t}, see :func:`diffmem_theory.mixing.symbolic.t_mixing_solved`).
    It is Biroli et al.'s collapse time t_C.

    Parameters
    ----------
    sigma : float
        Standard deviation of the data N(mu, sigma^2 I_d), > 0.
    d : int
        Dimension, >= 1.
    n : int, optional
        Number of training points, >= 2. Give exactly one of ``n`` and ``log_n``.
    log_n : float, optional
        log n (>= log 2), for n beyond any integer type (e.g. n = e^d).
    lam : float, default 1.0
        OU noise scale of footnote 5 (dX = -X dt + sqrt(2 lam) dW), > 0; 1 in the paper.
    dps : int, optional
        If given, evaluate in mpmath at ``dps`` decimal digits and return an ``mpmath.mpf``.

    Returns
    -------
    float or mpmath.mpf
        t_M >= 0. The float64 path works in log space (log1p(x) = softplus(log x)), so huge or
        tiny sigma, lam and n give the right value (0.0 where t_M underflows).

    Raises
    ------
    ValueError
        For sigma <= 0, d < 1, n < 2 (log_n < log 2), lam <= 0, or both or neither of ``n``
        and ``log_n``.

    See Also
    --------
    t_mixing_leading : the leading order sigma^2 / (2 lam n^{2/d}).
    diffmem_theory.mixing.symbolic.t_mixing_expr : the sympy form (``dps=`` is the mpmath twin).
    kde_bandwidth : ``rule="mixing"`` is sqrt(2 t_M), eq. (2.10).

    References
    ----------
    Halder, "From memorization to generalization: a theoretical framework for diffusion-based
    generative models", Sec. 2.2, eq. (2.9). Biroli, Bonnaire, de Bortoli, Mezard, "Dynamical
    regimes of diffusion models" (collapse time t_C).

    Examples
    --------
    >>> round(t_mixing(1.0, 16, 10**4), 12)
    0.190065204033
    >>> round(t_mixing(1.0, 1000, log_n=1000.0), 12)   # n = e^d
    0.072706728934
    >>> print(mpmath.nstr(t_mixing(1.0, 16, 10**4, dps=30), 20))
    0.19006520403308579697
    """
    s, dd, lm = _sigma_d_lam(sigma, d, lam)
    if dps is not None:
        dps = check_dps(dps)
        with mpmath.workdps(dps):
            ln = mpmath.log(int(n)) if n is not None and log_n is None else None
            if ln is None:
                ln = mpmath.mpf(_log_n(n, log_n))
            else:
                _log_n(n, None)
            s2 = mpmath.mpf(s) ** 2
            return mpmath.log1p(s2 / (mpmath.mpf(lm) * mpmath.expm1(2 * ln / dd))) / 2
    ln = _log_n(n, log_n)
    return _t_mixing_float(s, dd, lm, ln)


def t_mixing_leading(
    sigma: float, d: int, n: int | None = None, *, log_n: float | None = None, lam: float = 1.0
) -> float:
    r"""Leading order of eq. (2.9): t_M ~ sigma^2 / (2 lam n^{2/d}).

    Valid when sigma^2 / n^{2/d} << 1 and n^{2/d} >> 1 (log n / d >> log sigma); the relative
    error of :func:`t_mixing` against it is O(sigma^2 n^{-2/d}) + O(n^{-2/d}) (the second term
    of the series in x = n^{-2/d}, :func:`diffmem_theory.mixing.symbolic.t_mixing_series`).

    Parameters
    ----------
    sigma, d, n, log_n, lam
        As in :func:`t_mixing`.

    Returns
    -------
    float
        sigma^2 n^{-2/d} / (2 lam), computed in log space where a factor leaves the normal range.

    See Also
    --------
    t_mixing : the exact root of (2.9).
    diffmem_theory.mixing.symbolic.t_mixing_leading_expr : the sympy form.

    References
    ----------
    Halder, Sec. 2.2, eq. (2.9) (the "~" form).

    Examples
    --------
    >>> round(t_mixing_leading(1.0, 16, 10**4), 12)
    0.158113883008
    >>> round(t_mixing_leading(1.0, 10, log_n=100.0) / t_mixing(1.0, 10, log_n=100.0), 6)
    1.0
    """
    s, dd, lm = _sigma_d_lam(sigma, d, lam)
    ln = _log_n(n, log_n)
    if _normal(s * s) and _normal(s * s / lm):
        return 0.5 * s * s / lm * math.exp(-2.0 * ln / dd)
    log_t = math.log(0.5) + 2.0 * math.log(s) - math.log(lm) - 2.0 * ln / dd
    return exp_or_raise(log_t, "the leading-order t_M")


def t_speciation(
    Lambda: float | None = None, *, cov: ArrayLike | None = None, samples: ArrayLike | None = None
) -> float:
    r"""Speciation time t_S = 1/2 log Lambda of Biroli et al. (OU convention, lam = 1).

    Lambda is the largest eigenvalue of the data covariance: given directly, from ``cov``, or
    from the (biased) sample covariance of ``samples``. For t > t_S the printed Sigma_t of
    eq. (2.12), e^{2t} I - Cov_{pi_t}(y), is positive definite whenever the tilt of pi_t does
    not enlarge the covariance, Cov_{pi_t}(y) <= Lambda I (our sufficient condition; it holds for
    Gaussian data, whose tilted covariance is C (I + aC)^{-1} <= C, and for two-point data +-m);
    the corrected Sigma_t = e^{2t} I - Cov_{pi_t}(y) / delta_t needs t > 1/2 log(1 + Lambda).
    t_S < 0 (Lambda < 1) means no speciation transition. It sits next to the collapse time
    t_C = t_M of :func:`t_mixing`.

    Parameters
    ----------
    Lambda : float, optional
        The largest covariance eigenvalue, > 0.
    cov : array_like, optional
        A (d, d) symmetric positive semi-definite data covariance.
    samples : array_like, optional
        Data of shape (n, d); the biased sample covariance is used.

    Returns
    -------
    float
        1/2 log Lambda (give exactly one of the three inputs).

    See Also
    --------
    t_relaxation : the time after which Sigma_t of (2.12) is positive definite.

    References
    ----------
    Biroli, Bonnaire, de Bortoli, Mezard, "Dynamical regimes of diffusion models" (t_S);
    Halder, Sec. 2.3, text after eq. (2.12).

    Examples
    --------
    >>> round(t_speciation(math.e ** 2), 12)
    1.0
    >>> round(t_speciation(cov=np.diag([4.0, 1.0])), 12) == round(math.log(2.0), 12)
    True
    """
    given = [v is not None for v in (Lambda, cov, samples)]
    if sum(given) != 1:
        raise ValueError("give exactly one of Lambda, cov and samples")
    if Lambda is None:
        if cov is not None:
            Lambda = float(check_covariance(cov, "cov")[1][-1])
        else:
            X = _samples(samples)
            with np.errstate(over="ignore", invalid="ignore"):
                C = np.cov(X, rowvar=False, bias=True).reshape(X.shape[1], X.shape[1])
            finite_result(C, "the sample covariance of samples")
            Lambda = float(np.linalg.eigvalsh(C)[-1])
        if Lambda <= 0:
            raise ValueError(f"the data covariance must have a positive eigenvalue, got {Lambda}")
    lam_max = check_scalar(Lambda, "Lambda", low=0.0, low_open=True)
    return 0.5 * math.log(lam_max)


def kde_bandwidth(
    sigma: float,
    d: int,
    n: int | None = None,
    *,
    log_n: float | None = None,
    rule: str = "leading",
) -> float:
    r"""Gaussian-kernel bandwidth epsilon of the train distribution rho_T, Halder Sec. 2.2.

    * ``"leading"``: sigma n^{-1/d}, the leading term of (2.11), used in Figs. 3-4;
    * ``"mixing"``: sqrt(2 t_M), eq. (2.10) with t_M of :func:`t_mixing`;
    * ``"silverman"``: (4/(d+2))^{1/(d+4)} sigma n^{-1/(d+4)}, eq. (2.11) (AMISE-optimal).

    The paper identifies the three to leading order; they differ at moderate d (d = 16, n = 25:
    0.818 leading vs 1.051 mixing) and, at fixed log n / d, even as d -> infinity (errata
    ``paper001.eq2_10_bandwidth`` and ``paper001.eq2_11_silverman_leading``).

    Parameters
    ----------
    sigma : float
        Standard deviation of the data, > 0.
    d : int
        Dimension, >= 1.
    n, log_n
        The number of samples or its logarithm (exactly one), as in :func:`t_mixing`.
    rule : {"leading", "mixing", "silverman"}
        Which bandwidth.

    Returns
    -------
    float
        The bandwidth epsilon (a standard deviation of the Gaussian kernel).

    See Also
    --------
    kde_mise_optimal_bandwidth : the exact-MISE optimum for Gaussian data.
    t_mixing : t_M of eq. (2.9).

    References
    ----------
    Halder, Sec. 2.2, eqs. (2.10), (2.11); B. W. Silverman, "Density Estimation for Statistics
    and Data Analysis" (1986), Sec. 4.3 (the normal-reference rule).

    Examples
    --------
    >>> round(kde_bandwidth(1.0, 16, 10**4), 10)
    0.5623413252
    >>> [round(kde_bandwidth(1.0, 16, 10**4, rule=r), 10) for r in BANDWIDTH_RULES]
    [0.5623413252, 0.6165471661, 0.5852472401]
    """
    s, dd, _ = _sigma_d_lam(sigma, d, 1.0)
    check_choice(rule, "rule", BANDWIDTH_RULES)
    ln = _log_n(n, log_n)
    if rule == "leading":
        return s * math.exp(-ln / dd)
    if rule == "mixing":
        return math.sqrt(2.0 * t_mixing(s, dd, log_n=ln))
    log_h = math.log(4.0 / (dd + 2.0)) / (dd + 4.0) + math.log(s) - ln / (dd + 4.0)
    return exp_or_raise(log_h, "the Silverman bandwidth")


def kde_mise_gaussian(
    h: float,
    sigma: float,
    d: int,
    n: int | None = None,
    *,
    log_n: float | None = None,
    log: bool = False,
) -> float:
    r"""Exact MISE of the Gaussian KDE with bandwidth h for n samples of N(mu, sigma^2 I_d).

        MISE = (1/n)(4 pi h^2)^{-d/2} + (1 - 1/n)(4 pi (sigma^2 + h^2))^{-d/2}
               - 2 (2 pi (2 sigma^2 + h^2))^{-d/2} + (4 pi sigma^2)^{-d/2}

    (classical: each term is an integral of a product of two Gaussians, int N(x|a, A) N(x|b, B) dx =
    N(a|b, A + B), averaged over the samples). Evaluated as (4 pi sigma^2)^{-d/2} times a bracket in
    r = h^2/sigma^2 with ``expm1`` so that the cancellation 1 - 2(1 + r/2)^{-d/2} + (1 + r)^{-d/2} =
    O(r^2) is benign; ``log=True`` returns log MISE (no underflow for large d). Everything is in log
    space (log r = 2 log(h/sigma), log1p(r) = softplus(log r)), so any h, sigma > 0 work; a MISE
    beyond float64 (tiny sigma or h) raises ``ValueError`` unless ``log=True``.

    Parameters
    ----------
    h : float
        Bandwidth (kernel standard deviation), > 0.
    sigma : float
        Standard deviation of the data, > 0.
    d : int
        Dimension, >= 1.
    n, log_n
        The number of samples or its logarithm (exactly one), as in :func:`t_mixing`.
    log : bool, default False
        Return log MISE.

    Returns
    -------
    float
        MISE (or its logarithm).

    See Also
    --------
    kde_mise_optimal_bandwidth : the minimiser in h.
    kde_bandwidth : the bandwidths of Halder eqs. (2.10), (2.11).

    References
    ----------
    M. P. Wand and M. C. Jones, "Kernel Smoothing" (1995) (exact MISE of a Gaussian KDE for
    normal data); Halder, Sec. 2.2.

    Examples
    --------
    >>> round(kde_mise_gaussian(0.5, 1.0, 1, 100), 10)
    0.0056037668
    >>> round(kde_mise_gaussian(0.5, 1.0, 1000, 10**6, log=True), 4)
    -586.1805
    """
    s, dd, _ = _sigma_d_lam(sigma, d, 1.0)
    hh = check_scalar(h, "h", low=0.0, low_open=True)
    ln = _log_n(n, log_n)
    check_bool(log, "log")
    log_r = 2.0 * (math.log(hh) - math.log(s))  # r = h^2 / sigma^2
    half = 0.5 * dd
    u = -half * _softplus(log_r - _LOG2)  # log (1 + r/2)^{-d/2}
    v = -half * _softplus(log_r)  # log (1 + r)^{-d/2}
    log_a = -ln - half * log_r  # (1/n) r^{-d/2}
    # bracket = a + (1 - 2 e^u + e^v) - e^v / n, each piece >= 0 except the last.
    core = -2.0 * math.expm1(u) + math.expm1(v)
    rest = core - math.exp(v - ln)
    if log_a > 700.0:
        log_bracket = log_a + math.log1p(rest * math.exp(-log_a))
    else:
        log_bracket = math.log(math.exp(log_a) + rest)
    out = log_bracket - half * (math.log(4.0 * math.pi) + 2.0 * math.log(s))
    return out if log else exp_or_raise(out, "the MISE")


def kde_mise_optimal_bandwidth(
    sigma: float, d: int, n: int | None = None, *, log_n: float | None = None
) -> float:
    r"""The bandwidth h minimising :func:`kde_mise_gaussian` (bounded search on log h).

    Compare with :func:`kde_bandwidth`: at (sigma, d, n) = (1, 16, 10^4) the optimum is 0.6730
    against Silverman 0.5852, sigma n^{-1/d} = 0.5623, sqrt(2 t_M) = 0.6165, so the mixing-time
    bandwidth is the closest of the paper's three ("the mixing time-scale is optimal", Sec. 2.2).

    The search (a 1501-point grid on log h in [log sigma - 12, log sigma + 3], refined by a
    bounded Brent search to 1e-12) maximises log(1 - MISE/(4 pi sigma^2)^{-d/2}), which resolves
    the shallow minimum at large d (d = 100, n = 10^4: 1.197) where MISE itself is flat to 1e-14.

    Parameters
    ----------
    sigma, d, n, log_n
        As in :func:`kde_mise_gaussian`.

    Returns
    -------
    float
        The optimal bandwidth h.

    See Also
    --------
    kde_mise_gaussian, kde_bandwidth

    References
    ----------
    Halder, Sec. 2.2, eqs. (2.10), (2.11).

    Examples
    --------
    >>> round(kde_mise_optimal_bandwidth(1.0, 16, 10**4), 4)
    0.673
    """
    s, dd, _ = _sigma_d_lam(sigma, d, 1.0)
    ln = _log_n(n, log_n)

    half = 0.5 * dd

    def gain(log_h: float) -> float:
        # MISE / (4 pi sigma^2)^{-d/2} - 1 = a - 2 e^u + (1 - 1/n) e^v = -e^u k; return log k + u
        r = math.exp(2.0 * (log_h - math.log(s)))
        u, v = -half * math.log1p(0.5 * r), -half * math.log1p(r)
        log_a = -ln - half * math.log(r)
        k = 2.0 - math.exp(min(log_a - u, 700.0)) + math.expm1(-ln) * math.exp(v - u)
        return u + math.log(k) if k > 0 else -math.inf

    grid = np.linspace(math.log(s) - 12.0, math.log(s) + 3.0, 1501)
    vals = np.array([gain(float(g)) for g in grid])
    j = int(np.argmax(vals))
    lo, hi = grid[max(j - 1, 0)], grid[min(j + 1, grid.size - 1)]
    res = minimize_scalar(
        lambda g: -gain(g), bounds=(lo, hi), method="bounded", options={"xatol": 1e-12}
    )
    return float(math.exp(res.x))


# --- empirical OU density and its score -------------------------------------------------------


def log_rho_hat(
    x: ArrayLike, t: float, samples: ArrayLike, *, lam: float = 1.0, backend: str = "numba"
) -> Any:
    r"""log of the OU-evolved empirical density, Halder eq. (2.7):

        rho_hat(t, x) = (1/n) sum_k N(x | x_k e^{-t}, lam delta_t I_d),

    that is ``EmpiricalDistribution(samples).log_prob_t(x, t, OU(lam=lam))`` (the fused
    log-sum-exp kernel: lse - log n - (d/2) log(2 pi lam delta_t)), with the arguments checked
    under this function's names.

    Parameters
    ----------
    x : array_like
        Query points, (d,) or (B, d).
    t : float
        OU time, > 0.
    samples : array_like
        The training set x_1, ..., x_n, shape (n, d).
    lam : float, default 1.0
        OU noise scale (footnote 5), > 0.
    backend : str, default "numba"
        Backend of the fused kernel (``"numba"``, ``"numpy"`` or ``"cupy"``).

    Returns
    -------
    float or numpy.ndarray
        log rho_hat(t, x): a float for (d,) input, shape (B,) for (B, d).

    See Also
    --------
    diffmem_theory.core.distributions.EmpiricalDistribution.log_prob_t : the general form.
    score_rho_hat : its gradient in x.
    log_z1_z1c : the split (2.8) into the self term and the others.

    References
    ----------
    Halder, Sec. 2.2, eq. (2.7).

    Examples
    --------
    >>> X = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> round(float(log_rho_hat([0.0, 0.0], 1.0, X)), 10)
    -1.7707224299
    """
    law, ou, tt = _empirical(x, t, samples, lam)
    return law.log_prob_t(x, tt, ou, backend=backend)


def score_rho_hat(
    x: ArrayLike, t: float, samples: ArrayLike, *, lam: float = 1.0, backend: str = "numba"
) -> np.ndarray:
    r"""Score of the empirical OU density (2.7): grad_x log rho_hat(t, x) (eq. 2.2),

        s(x, t) = (e^{-t} sum_k w_k x_k - x) / (lam delta_t),
        w_k = softmax_k(-|x - x_k e^{-t}|^2 / (2 lam delta_t)),

    that is ``EmpiricalDistribution(samples).score_t(x, t, OU(lam=lam))`` (evaluated directly,
    not through Tweedie's identity), with the arguments checked under this function's names. It
    is the score that the memorizing reverse dynamics (2.2) follows: driven by it, the reverse
    process returns to the training points.

    Parameters
    ----------
    x : array_like
        Query points, (d,) or (B, d).
    t : float
        OU time, > 0.
    samples : array_like
        The training set, shape (n, d).
    lam : float, default 1.0
        OU noise scale (footnote 5), > 0.
    backend : str, default "numba"
        Backend of the fused kernel (``"numba"``, ``"numpy"`` or ``"cupy"``).

    Returns
    -------
    numpy.ndarray
        The score, (d,) for (d,) input, (B, d) for (B, d).

    See Also
    --------
    diffmem_theory.core.distributions.EmpiricalDistribution.score_t : the general form.
    log_rho_hat : the log-density whose gradient this is.

    References
    ----------
    Halder, Sec. 2.1-2.2, eqs. (2.2), (2.7).

    Examples
    --------
    >>> X = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> score_rho_hat([0.0, 0.5], 1.0, X).round(6).tolist()
    [0.0, -0.578259]
    """
    law, ou, tt = _empirical(x, t, samples, lam)
    return law.score_t(x, tt, ou, backend=backend)


# --- decomposition (2.8) and the statistical check of t_M ------------------------------------


def log_z1_z1c(
    z: ArrayLike, t: float, samples: ArrayLike, *, index: int = 0, lam: float = 1.0
) -> tuple[Any, Any]:
    r"""(log Z_1, log Z_{1^c}) of Halder eq. (2.8) at x = x_i e^{-t} + sqrt(lam delta_t) z.

        Z_1    = (1/n) N(x | x_i e^{-t}, lam delta_t),
        Z_{1^c} = (1/n) sum_{k != i} N(x | x_k e^{-t}, lam delta_t),

    so rho_hat(t, x) = Z_1 + Z_{1^c} (the paper's "rho_T(t, x)" is a typo for rho_hat, erratum
    ``paper001.eq2_8_rho_T``). Both include the normaliser (2 pi lam delta_t)^{-d/2} that the
    paper drops.

    Parameters
    ----------
    z : array_like
        The standard-normal noise that places the state, (d,) or (R, d) (R draws).
    t : float
        OU time, > 0.
    samples : array_like
        The training set, shape (n, d) with n >= 2.
    index : int, default 0
        The training point i the state starts from.
    lam : float, default 1.0
        OU noise scale (footnote 5), > 0.

    Returns
    -------
    (log_z1, log_z1c) : tuple of float or of numpy.ndarray
        Floats for (d,) ``z``, arrays of shape (R,) for (R, d).

    See Also
    --------
    log_rho_hat : log(Z_1 + Z_{1^c}).
    mixing_crossing_time : where log Z_{1^c} overtakes log Z_1.

    References
    ----------
    Halder, Sec. 2.2, eq. (2.8).

    Examples
    --------
    >>> X = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> l1, l1c = log_z1_z1c([0.0, 0.0], 1.0, X)
    >>> bool(np.isclose(np.logaddexp(l1, l1c), log_rho_hat(X[0] / math.e, 1.0, X)))
    True
    """
    X = _samples(samples)
    n, d = X.shape
    if n < 2:
        raise ValueError(f"samples must have n >= 2 rows for the decomposition, got n = {n}")
    i = check_int(index, "index", low=0, high=n - 1)
    Z, single = _queries(z, d, "z")
    tt = _time(t)
    ou = OU(lam=check_scalar(lam, "lam", low=0.0, low_open=True))
    a, v = float(ou.alpha(tt)), float(ou.sigma2(tt))
    q = a * X[i] + math.sqrt(v) * Z
    log_z1 = -math.log(n) - 0.5 * d * math.log(2.0 * math.pi * v) - 0.5 * np.sum(Z * Z, axis=1)
    others = EmpiricalDistribution(np.delete(X, i, axis=0))  # Z_{1^c} = (n - 1)/n rho_hat_others
    log_z1c = math.log1p(-1.0 / n) + np.atleast_1d(others.log_prob_t(q, tt, ou))
    if single:
        return float(log_z1[0]), float(log_z1c[0])
    return log_z1, log_z1c


def mixing_crossing_time(
    z: ArrayLike, t_grid: ArrayLike, samples: ArrayLike, *, index: int = 0, lam: float = 1.0
) -> float:
    r"""First time on ``t_grid`` where log Z_{1^c} - log Z_1 of eq. (2.8) turns positive.

    The statistical (random-energy-model) counterpart of t_M (text after eq. 2.8): Z_{1^c} < Z_1
    for t < t_M. The crossing is linearly interpolated between grid points.

    Parameters
    ----------
    z : array_like
        One fixed (d,) standard-normal draw, reused at every t.
    t_grid : array_like
        Increasing positive times, at least 2.
    samples : array_like
        The training set, shape (n, d) with n >= 2.
    index : int, default 0
        The training point the state starts from.
    lam : float, default 1.0
        OU noise scale (footnote 5), > 0.

    Returns
    -------
    float
        The crossing time; nan if there is no crossing on the grid, ``t_grid[0]`` if the
        difference is already positive there.

    See Also
    --------
    log_z1_z1c : the two terms of (2.8).
    t_mixing : the annealed prediction t_M of eq. (2.9).

    References
    ----------
    Halder, Sec. 2.2, eq. (2.8) and the text after it.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((148, 50))
    >>> tc = mixing_crossing_time(rng.standard_normal(50), np.linspace(0.05, 3, 60), X)
    >>> abs(tc - t_mixing(1.0, 50, 148)) < 0.6
    True
    """
    X = _samples(samples)
    tg = as_float_array(t_grid, "t_grid", ndim=1, dtype=np.float64)
    if tg.size < 2 or np.any(np.diff(tg) <= 0) or tg[0] <= 0:
        raise ValueError("t_grid must be increasing, positive, with at least 2 points")
    zz = as_float_array(z, "z", ndim=1, dtype=np.float64)
    diff = np.empty(tg.size)
    for j, tj in enumerate(tg):
        l1, l1c = log_z1_z1c(zz, float(tj), X, index=index, lam=lam)
        diff[j] = l1c - l1
    pos = np.nonzero(diff > 0)[0]
    if pos.size == 0:
        return math.nan
    j = int(pos[0])
    if j == 0:
        return float(tg[0])
    f0, f1 = diff[j - 1], diff[j]
    return float(tg[j - 1] + (tg[j] - tg[j - 1]) * (-f0) / (f1 - f0))


# --- late-time quadratic approximation (2.12) and t_R ----------------------------------------


class LateTimeQuadratic(NamedTuple):
    r"""Quadratic model of log rho_hat(t, x) in u = x e^{-t} (Halder eq. 2.12, lam = 1):

        log rho_hat ~ constant + u . mean / delta_t - u . Sigma_t u / (2 delta_t).

    ``mean`` = <y>_{pi_t}, ``cov`` = Cov_{pi_t}(y) of the tilted law pi_t(y) ~ rho(0, y)
    exp(-|y|^2 e^{-2t} / (2 delta_t)); ``constant`` = -(d/2) log(2 pi delta_t) + log E_rho0 of
    the tilt (the x-independent term missing in the paper); ``Sigma_t`` the matrix of the
    quadratic term (corrected or as printed, see :func:`late_time_quadratic`).
    """

    t: float
    constant: float
    mean: np.ndarray
    cov: np.ndarray
    Sigma_t: np.ndarray

    def log_density(self, x: ArrayLike) -> Any:
        """Evaluate the quadratic model at x of shape (d,) or (B, d).

        >>> q = late_time_quadratic(3.0, mean=np.zeros(2), cov=np.eye(2))
        >>> round(float(q.log_density(np.zeros(2))), 6) == round(-math.log(2 * math.pi), 6)
        True
        """
        t = self.t
        d = self.mean.shape[0]
        xx = as_float_array(x, "x", ndim=(1, 2), dtype=np.float64)
        if xx.shape[-1] != d:
            raise ValueError(f"x must have shape (d,) or (B, d) with d = {d}, got {xx.shape}")
        delta = -math.expm1(-2.0 * t)
        with np.errstate(over="ignore", invalid="ignore"):
            u = xx * math.exp(-t)
            lin = u @ self.mean
            quad = np.einsum("...i,ij,...j->...", u, self.Sigma_t, u)
            out = self.constant + lin / delta - 0.5 * quad / delta
        return _out_finite(out, "the quadratic model of log rho")


def late_time_quadratic(
    t: float,
    samples: ArrayLike | None = None,
    *,
    mean: ArrayLike | None = None,
    cov: ArrayLike | None = None,
    printed: bool = False,
) -> LateTimeQuadratic:
    r"""Late-time quadratic expansion of log rho(t, x), Halder eq. (2.12) (OU, lam = 1).

    With u = x e^{-t}, a = e^{-2t}/delta_t and pi_t(y) ~ rho(0, y) e^{-a |y|^2 / 2}:

        log rho(t, x) = -(d/2) log(2 pi delta_t) + log E_rho0[e^{-a|y|^2/2}]
                        + u . <y>_{pi_t} / delta_t - u . Sigma_t u / (2 delta_t) + O(u^3),
        Sigma_t = e^{2t} I - Cov_{pi_t}(y) / delta_t       (``printed=False``, corrected),
        Sigma_t = e^{2t} I - Cov_{pi_t}(y)                 (``printed=True``, as printed).

    Our derivation: rho(t, x) = E_rho0 N(x | y e^{-t}, delta_t I); expanding the exponent,
    -|x|^2/(2 delta_t) + u.y/delta_t - a|y|^2/2 with |x|^2 = e^{2t}|u|^2, the y-integral is the
    cumulant generating function of pi_t at u/delta_t, whose second-order term is
    u . Cov_{pi_t}(y) u / (2 delta_t^2): hence the 1/delta_t in Sigma_t that the printed form
    misses (erratum ``paper001.eq2_12_printed_sigma``), and the constant log E_rho0[e^{-a|y|^2/2}]
    that the paper drops.

    Parameters
    ----------
    t : float
        OU time, > 0 (e^{2t} must fit in float64).
    samples : array_like, optional
        rho(0) is the empirical measure of these (n, d) points (then rho(t) = rho_hat of (2.7)).
    mean, cov : array_like, optional
        Or rho(0) = N(mean, cov) (then the corrected expansion is exact: no O(u^3) term).
    printed : bool, default False
        Use Sigma_t as printed (without 1/delta_t).

    Returns
    -------
    LateTimeQuadratic
        The constant, the tilted mean and covariance, Sigma_t; ``.log_density(x)`` evaluates it.

    See Also
    --------
    t_relaxation : the time after which Sigma_t is positive definite.
    log_rho_hat : the exact log-density for the empirical measure.

    References
    ----------
    Halder, Sec. 2.3, eq. (2.12).

    Examples
    --------
    >>> q = late_time_quadratic(1.0, mean=np.zeros(1), cov=np.eye(1))
    >>> round(float(q.Sigma_t[0, 0]), 12)   # e^{2t} - 1/(delta_t (1 + a)) = e^{2t} - 1
    6.389056098931
    """
    tt = _time(t)
    check_bool(printed, "printed")
    e2t = exp_or_raise(2.0 * tt, "e^{2t} (the Sigma_t of eq. (2.12))")
    delta = -math.expm1(-2.0 * tt)
    a = 1.0 / (e2t * delta)  # e^{-2t} / delta_t
    if samples is not None:
        if mean is not None or cov is not None:
            raise ValueError("give either samples or (mean, cov), not both")
        Y = _samples(samples)
        d = Y.shape[1]
        with np.errstate(over="ignore"):
            logw = -0.5 * a * np.sum(Y * Y, axis=1)
        if not np.all(np.isfinite(logw)):
            raise ValueError(
                f"t = {tt!r} is too early for the late-time expansion of these samples: "
                "e^{-2t} |y|^2 / delta_t overflows float64"
            )
        m = logw.max()
        w = np.exp(logw - m)
        log_tilt = m + math.log(w.sum()) - math.log(Y.shape[0])
        w /= w.sum()
        mu = w @ Y
        Yc = Y - mu
        C = (Yc * w[:, None]).T @ Yc
    else:
        if mean is None or cov is None:
            raise ValueError("give samples, or both mean and cov")
        m0 = as_float_array(mean, "mean", ndim=1, dtype=np.float64)
        C0 = check_covariance(cov, "cov")[0]
        d = m0.shape[0]
        if C0.shape != (d, d):
            raise ValueError(f"cov must have shape ({d}, {d}), got {C0.shape}")
        with np.errstate(over="ignore"):
            A = np.eye(d) + a * C0  # tilted: cov = C (I + aC)^{-1}, mean = (I + aC)^{-1} m
        if not np.all(np.isfinite(A)):
            raise ValueError(f"t = {tt!r} is too early: e^{{-2t}} cov / delta_t overflows float64")
        mu = np.linalg.solve(A, m0)
        C = np.linalg.solve(A, C0)
        C = 0.5 * (C + C.T)
        log_tilt = -0.5 * np.linalg.slogdet(A)[1] - 0.5 * a * float(m0 @ mu)
    Sigma = e2t * np.eye(d) - (C if printed else C / delta)
    const = -0.5 * d * math.log(2.0 * math.pi * delta) + log_tilt
    finite_result(Sigma, "Sigma_t")
    return LateTimeQuadratic(tt, float(finite_result(const, "the constant term")), mu, C, Sigma)


def t_relaxation(
    samples: ArrayLike | None = None,
    *,
    mean: ArrayLike | None = None,
    cov: ArrayLike | None = None,
    printed: bool = False,
    t_max: float = 20.0,
) -> float:
    r"""t_R: the time after which lambda_min(Sigma_t) > 0 in eq. (2.12).

    The paper names t_R (text after eq. (2.12)) but gives no formula; we define it as the last
    time at which the quadratic model stops being a (concave) Gaussian in x. Sigma_t from
    :func:`late_time_quadratic`. Found as the last sign change of lambda_min(Sigma_t) on a
    log-spaced grid of (1e-4, t_max], refined with Brent's method; 0.0 if lambda_min > 0 on the
    whole grid (e.g. any single Gaussian, for either form). Bounds where the tilt does not
    enlarge the covariance, Cov_{pi_t}(y) <= Lambda I (Lambda = largest data-covariance
    eigenvalue; see :func:`t_speciation`): t_R <= 1/2 log(1 + Lambda)
    (corrected) and t_R <= 1/2 log Lambda = :func:`t_speciation` (printed form); both are
    attained for two-point data +-m 1_d.

    Parameters
    ----------
    samples, mean, cov
        rho(0), as in :func:`late_time_quadratic`.
    printed : bool, default False
        Use Sigma_t as printed in (2.12).
    t_max : float, default 20.0
        End of the search grid, in (1e-3, 350] (e^{2t} must fit in float64).

    Returns
    -------
    float
        t_R >= 0.

    Raises
    ------
    ValueError
        If lambda_min(Sigma_t) is still <= 0 at ``t_max``.

    See Also
    --------
    late_time_quadratic, t_speciation

    References
    ----------
    Halder, Sec. 2.3, text after eq. (2.12).

    Examples
    --------
    >>> t_relaxation(mean=np.zeros(3), cov=np.diag([9.0, 1.0, 0.1]))
    0.0
    >>> Y = np.array([[3.0, 0.0], [-3.0, 0.0]])   # Lambda = 9
    >>> t_relaxation(Y) <= 0.5 * math.log(10.0) + 1e-9
    True
    """
    tm = check_scalar(t_max, "t_max", low=1e-3, low_open=True, high=_T_MAX_LATE)

    def lam_min(t: float) -> float:
        q = late_time_quadratic(t, samples, mean=mean, cov=cov, printed=printed)
        return float(np.linalg.eigvalsh(q.Sigma_t)[0])

    grid = np.geomspace(1e-4, tm, 400)
    vals = np.array([lam_min(float(t)) for t in grid])
    bad = np.nonzero(vals <= 0)[0]
    if bad.size == 0:
        return 0.0
    j = int(bad[-1])
    if j == grid.size - 1:
        raise ValueError(f"lambda_min(Sigma_t) is still <= 0 at t_max = {tm}; increase t_max")
    return float(brentq(lam_min, grid[j], grid[j + 1], xtol=1e-13))
