r"""Information leakage of the ambient and the standard (DDPM) optimum at time t_n (paper 004).

Shah, Kalavasis, Klivans, Daras, "Does Generation Require Memorization? Creative Diffusion Models
using Ambient Diffusion" (ICML 2025), Sec. 4.1: Lemma 4.2 (proof in App. D.1.2), the estimation
claim after it, and Lemma D.1 (App. D.1.3). VP noise, ``x_tn = sqrt(1 - sigma_tn^2) x0 +
sigma_tn z`` (eq. (1)), ``SNR = (1 - sigma_tn^2) / sigma_tn^2``; information in nats (the paper
does not state the base of its logarithm).

A training point ``x0 ~ N(mu, Sigma)``. The ambient optimum at t_n is ``delta(x - x_tn)`` for one
fixed noisy copy (Lemma 4.1), so its m samples ``A`` are m copies of ``x_tn``; the DDPM optimum is
``N(sqrt(1 - sigma_tn^2) x0, sigma_tn^2 I)``, so its m samples ``D`` are i.i.d. given ``x0``.

* :func:`mi_ambient` -- ``I(A; x0) = 1/2 log det(I + SNR Sigma)`` for every m (Lemma 4.2, correct);
* :func:`mi_ddpm` -- ``I(D; x0) = 1/2 log det(I + m SNR Sigma)`` (the sample mean is
  sufficient), the **corrected** DDPM side of Lemma 4.2; ``printed=True`` gives the paper's
  ``m I(A; x0)`` (an erratum: the m draws are i.i.d. only given x0), an upper bound by
  subadditivity;
* :func:`mmse_x0` -- the posterior MMSE ``tr((Sigma^{-1} + m SNR I)^{-1})`` behind the paper's
  "poly(1/m) error for DDPM, no consistent estimator for ambient";
* :func:`mi_ambient_dataset_bound` -- Lemma D.1 for N training points and ``Sigma = I``: the
  distinct-index bound (ours) and, with ``printed=True``, the printed ``m d/2 log(1/sigma_tn^2)``;
* :func:`leakage_mc` -- a seeded Monte Carlo estimate of either leakage that simulates the samples
  and averages the information density with the joint Gaussian log-density (no log-det formula).

Every closed form is vectorized over ``sigma_tn`` and ``m`` (broadcast together) and has an mpmath
twin through ``dps=`` (scalar arguments, an ``mpmath.mpf`` result). A 1-D ``cov`` is the spectrum
(eigenvalues) of Sigma, a 2-D one the symmetric PSD matrix; ``sigma_tn`` lies in (0, 1], where
``sigma_tn = 1`` (SNR = 0) leaks nothing. Terms use ``log1p`` / ``logaddexp`` in ``log(m SNR
lambda)``, so sigma_tn -> 0 (SNR -> inf) does not overflow.

The exact optimum of Algorithm 1 still reproduces the noisy copies; these bounds quantify what the
copies reveal, and the paper's memorization reduction remains empirical (Sec. 4.1 states it as a
conjecture; Sec. 5 measures it).

Examples
--------
>>> round(float(mi_ambient([1.0], 0.5)), 8), round(float(mi_ddpm([1.0], 0.5, 10)), 8)
(0.69314718, 1.7169936)
>>> round(float(mi_ddpm([1.0], 0.5, 10, printed=True)), 7)
6.9314718
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import mpmath
import numpy as np
from numpy.typing import ArrayLike
from scipy.special import expit
from scipy.stats import multivariate_normal

from diffmem_theory._mp import mpf
from diffmem_theory._validation import (
    as_float_array,
    as_rng,
    check_allocation,
    check_bool,
    check_choice,
    check_dps,
    check_int,
    check_scalar,
    covariance_spectrum,
    finite_result,
)

__all__ = [
    "LeakageEstimate",
    "leakage_mc",
    "log_snr",
    "mi_ambient",
    "mi_ambient_dataset_bound",
    "mi_ddpm",
    "mmse_x0",
]

MODELS: tuple[str, ...] = ("ambient", "ddpm")
# leakage_mc: the joint Gaussian of the k distinct samples has dimension k d <= this (its
# log-density needs an eigendecomposition, O((k d)^3)).
_MAX_JOINT_DIM = 4096


# --- validation --------------------------------------------------------------------------------


def _sigma_tn(sigma_tn: ArrayLike) -> np.ndarray:
    s = as_float_array(sigma_tn, "sigma_tn", dtype=np.float64)
    if np.any((s <= 0.0) | (s > 1.0)):
        raise ValueError(f"sigma_tn must lie in (0, 1] (VP noise level), got min {s.min()!r}")
    return s


def _copies(m: ArrayLike, name: str = "m") -> np.ndarray:
    """An integer count (array) >= 1 as float64; a Python int beyond int64 is accepted."""
    if isinstance(m, int) and not isinstance(m, bool) and m >= 1:
        return np.asarray(float(m))
    arr = np.asarray(m)
    if arr.dtype.kind not in "iu" or np.any(arr < 1):
        raise ValueError(f"{name} must be an integer (array) >= 1, got {m!r}")
    return arr.astype(np.float64)


def _out(arr: np.ndarray) -> np.ndarray | float:
    return float(arr) if arr.ndim == 0 else arr


def _sigma_mp(sigma_tn: Any) -> mpmath.mpf:
    s = mpf(sigma_tn, "sigma_tn")
    if not 0 < s <= 1:
        raise ValueError(f"sigma_tn must lie in (0, 1] (VP noise level), got {sigma_tn!r}")
    return s


def _spectrum_mp(cov: ArrayLike) -> list[mpmath.mpf]:
    """Eigenvalues of Sigma at the working precision (``mpmath.eigsy``, O(d^3): keep d small)."""
    arr = np.asarray(cov, dtype=object)
    if arr.ndim == 1 and arr.size:
        lam = [mpf(v, "cov") for v in arr.tolist()]
    elif arr.ndim == 2 and arr.shape[0] == arr.shape[1] and arr.size:
        mat = mpmath.matrix([[mpf(v, "cov") for v in row] for row in arr.tolist()])
        if mpmath.mnorm(mat - mat.T, 1) > mpmath.mpf(10) ** (-mpmath.mp.dps + 3) * (
            1 + mpmath.mnorm(mat, 1)
        ):
            raise ValueError(f"cov must be a symmetric (d, d) matrix, got shape {arr.shape}")
        lam = list(mpmath.eigsy(mat, eigvals_only=True))
    else:
        raise ValueError(f"cov must be a non-empty spectrum (d,) or matrix (d, d), got {arr.shape}")
    if any(v < 0 for v in lam):
        raise ValueError("cov must have eigenvalues >= 0")
    return lam


# --- signal-to-noise ratio ---------------------------------------------------------------------


def log_snr(sigma_tn: ArrayLike) -> np.ndarray | float:
    r"""``log SNR = log((1 - sigma_tn^2) / sigma_tn^2)`` at VP level sigma_tn (Shah et al., D.1.2).

    Computed as ``log1p(-sigma) + log1p(sigma) - 2 log sigma`` (no cancellation near 1); ``-inf``
    at sigma_tn = 1 (no signal). This is :meth:`diffmem_theory.core.schedules.VPTrig.log_snr` at
    ``t = sigma_tn`` extended to the closed end t = 1, where the leakage is 0 and which the
    schedule's open domain excludes.

    Parameters
    ----------
    sigma_tn : array_like
        VP noise level(s) in (0, 1] (standard deviations).

    Returns
    -------
    float or ndarray
        The log signal-to-noise ratio, of the shape of ``sigma_tn``.

    Examples
    --------
    >>> round(float(log_snr(0.5)), 12) == round(math.log(3.0), 12)
    True
    >>> float(log_snr(1.0))
    -inf
    """
    s = _sigma_tn(sigma_tn)
    with np.errstate(divide="ignore"):
        return _out(np.log1p(-s) + np.log1p(s) - 2.0 * np.log(s))


def _log_signal(cov: ArrayLike, sigma_tn: ArrayLike, m: ArrayLike) -> np.ndarray:
    """``log(m SNR lambda_k)`` with the spectrum on the last axis (``-inf`` where it is 0)."""
    lam = covariance_spectrum(cov)
    base = np.asarray(log_snr(sigma_tn)) + np.log(_copies(m))
    with np.errstate(divide="ignore"):
        return base[..., None] + np.log(lam)


def _snr_mp(sigma_tn: Any) -> mpmath.mpf:
    s2 = _sigma_mp(sigma_tn) ** 2
    return (1 - s2) / s2


def _half_logdet_mp(cov: ArrayLike, c: mpmath.mpf) -> mpmath.mpf:
    return mpmath.fsum(mpmath.log1p(c * v) for v in _spectrum_mp(cov)) / 2


def _at_dps(dps: Any, func: Any, *args: Any) -> mpmath.mpf:
    with mpmath.workdps(check_dps(dps)):
        return +func(*args)


# --- Lemma 4.2 ---------------------------------------------------------------------------------


def mi_ambient(cov: ArrayLike, sigma_tn: ArrayLike, *, dps: int | None = None) -> Any:
    r"""Leakage of the ambient optimum, ``I(A; x0) = 1/2 log det(I + SNR Sigma)`` (nats).

    Shah et al., Lemma 4.2 and eq. (11): the m samples ``A`` of the ambient optimum at t_n are m
    copies of one noisy point ``x_tn = sqrt(1 - sigma_tn^2) x0 + sigma_tn z``, so
    ``I(A; x0) = I(x_tn; x0)`` for every m. For ``Sigma = I_d`` it is
    ``(d/2) log(1/sigma_tn^2)``. This half of Lemma 4.2 is correct as printed.

    Parameters
    ----------
    cov : array_like
        The covariance Sigma of the training point ``x0 ~ N(mu, Sigma)``: its spectrum, shape
        ``(d,)``, or the symmetric PSD matrix, shape ``(d, d)``.
    sigma_tn : array_like
        VP noise level(s) of the noisy copy, in (0, 1] (a standard deviation); vectorized.
    dps : int, optional
        Decimal digits of an mpmath evaluation (scalar ``sigma_tn``); ``None`` for float64.

    Returns
    -------
    float, ndarray or mpmath.mpf
        ``I(A; x0)`` in nats, of the shape of ``sigma_tn`` (an ``mpf`` when ``dps`` is given).

    See Also
    --------
    mi_ddpm : the DDPM side of Lemma 4.2 (``mi_ddpm(cov, sigma_tn, 1)`` equals this).
    leakage_mc : a Monte Carlo estimate of the same information.

    References
    ----------
    Shah, Kalavasis, Klivans, Daras (2025), Lemma 4.2, eq. (11), App. D.1.2.

    Examples
    --------
    >>> round(float(mi_ambient([1.0], 0.5)), 12) == round(math.log(2.0), 12)
    True
    >>> print(mpmath.nstr(mi_ambient([[2.0, 0.5], [0.5, 1.0]], "0.3", dps=30), 20))
    2.6741339694500156257
    """
    if dps is not None:
        return _at_dps(dps, lambda: _half_logdet_mp(cov, _snr_mp(sigma_tn)))
    return mi_ddpm(cov, sigma_tn, 1)


def mi_ddpm(
    cov: ArrayLike,
    sigma_tn: ArrayLike,
    m: ArrayLike,
    *,
    printed: bool = False,
    dps: int | None = None,
) -> Any:
    r"""Leakage of m DDPM samples, ``I(D; x0) = 1/2 log det(I + m SNR Sigma)`` (nats).

    Shah et al., Lemma 4.2 corrected. The m samples ``x_i = sqrt(1 - sigma_tn^2) x0 + sigma_tn
    z_i`` of the DDPM optimum are i.i.d. only given x0; their mean is a sufficient statistic with
    noise covariance ``sigma_tn^2 I / m``, hence the factor m inside the log-det (our
    derivation: the Gaussian channel ``x0 -> mean`` has SNR ``m SNR``). It satisfies ``I(A) <=
    I(D) <= m I(A)`` and ``I(D) - I(A) <= (d/2) log m``.

    The paper prints ``I(D; x0) = m I(A; x0) = (m/2) log det(I + SNR Sigma)`` (``printed=True``):
    it treats the m draws as independent. It is only an upper bound (subadditivity), tight as
    sigma_tn -> 1 (ratio -> m) and off by a factor m as sigma_tn -> 0 (ratio -> 1).

    Parameters
    ----------
    cov : array_like
        Spectrum ``(d,)`` or PSD matrix ``(d, d)`` of Sigma.
    sigma_tn : array_like
        VP noise level(s) in (0, 1]; broadcast with ``m``.
    m : array_like of int
        Number of DDPM samples, integers >= 1 (a Python int beyond int64 is accepted).
    printed : bool, default False
        ``True``: the printed ``m I(A; x0)`` instead of the exact leakage.
    dps : int, optional
        Decimal digits of an mpmath evaluation (scalar arguments); ``None`` for float64.

    Returns
    -------
    float, ndarray or mpmath.mpf
        ``I(D; x0)`` in nats, of the broadcast shape of ``sigma_tn`` and ``m``. A printed value
        beyond float64 raises ``ValueError``.

    See Also
    --------
    mi_ambient : ``I(A; x0)``, the ambient leakage (``m = 1``).
    mmse_x0 : the posterior MMSE of x0, ``2 dI / d(m SNR)`` (I-MMSE relation).
    leakage_mc : Monte Carlo estimate of the exact leakage.

    References
    ----------
    Shah, Kalavasis, Klivans, Daras (2025), Lemma 4.2, App. D.1.2.

    Examples
    --------
    >>> round(float(mi_ddpm([1.0], 0.5, 10)), 12) == round(0.5 * math.log(31.0), 12)
    True
    >>> round(float(mi_ddpm([1.0], 0.5, 10, printed=True)), 7)
    6.9314718
    >>> mi_ddpm([1.0, 0.5], [0.3, 0.9], [[1], [100]]).shape
    (2, 2)
    """
    if check_bool(printed, "printed"):
        if dps is not None:
            c = check_int(m, "m", low=1)
            return _at_dps(dps, lambda: c * mi_ambient(cov, sigma_tn, dps=mpmath.mp.dps))
        with np.errstate(over="ignore"):
            value = _copies(m) * np.asarray(mi_ambient(cov, sigma_tn))
        return _out(finite_result(value, "m I(A; x0)"))
    if dps is not None:
        c = check_int(m, "m", low=1)
        return _at_dps(dps, lambda: _half_logdet_mp(cov, c * _snr_mp(sigma_tn)))
    return _out(0.5 * np.sum(np.logaddexp(0.0, _log_signal(cov, sigma_tn, m)), axis=-1))


def mmse_x0(
    cov: ArrayLike,
    sigma_tn: ArrayLike,
    m: ArrayLike = 1,
    kind: str = "ddpm",
    *,
    dps: int | None = None,
) -> Any:
    r"""Posterior MMSE of x0 from the samples, ``tr((Sigma^{-1} + m SNR I)^{-1})``.

    Shah et al., Sec. 4.1 after Lemma 4.2 ("poly(1/m) error for DDPM; no consistent estimator
    for ambient"), made exact here: for a Gaussian x0 observed through the sufficient statistic
    of the samples, the posterior covariance is ``(Sigma^{-1} + m SNR I)^{-1}``. ``kind="ddpm"``
    uses the m i.i.d. samples (O(1/m)); ``kind="ambient"`` gives ``tr((Sigma^{-1} + SNR
    I)^{-1})`` whatever m, since the m ambient samples are copies of one noisy point (the
    result still broadcasts with m). Written as ``sum_k lambda_k / (1 + m SNR lambda_k)``, so a
    singular Sigma is allowed. By the I-MMSE relation, ``d I / d(m SNR) = mmse / 2``.

    Parameters
    ----------
    cov : array_like
        Spectrum ``(d,)`` or PSD matrix ``(d, d)`` of Sigma.
    sigma_tn : array_like
        VP noise level(s) in (0, 1]; broadcast with ``m``.
    m : array_like of int, default 1
        Number of samples, integers >= 1 (validated for either kind).
    kind : {"ddpm", "ambient"}, default "ddpm"
        Which optimum produced the samples.
    dps : int, optional
        Decimal digits of an mpmath evaluation (scalar arguments); ``None`` for float64.

    Returns
    -------
    float, ndarray or mpmath.mpf
        The MMSE (sum over the d coordinates).

    See Also
    --------
    mi_ddpm : the leakage whose derivative in ``m SNR`` is half this MMSE.

    References
    ----------
    Shah, Kalavasis, Klivans, Daras (2025), Sec. 4.1; Guo, Shamai, Verdu (2005), I-MMSE.

    Examples
    --------
    >>> round(float(mmse_x0([1.0], 0.5, 10)), 6)
    0.032258
    >>> [round(float(mmse_x0([1.0], 0.5, 10, kind)), 12) for kind in ("ambient", "ddpm")]
    [0.25, 0.032258064516]
    """
    ambient = check_choice(kind, "kind", MODELS) == "ambient"
    if dps is not None:
        c = check_int(m, "m", low=1)
        c = 1 if ambient else c

        def mmse() -> mpmath.mpf:
            snr = c * _snr_mp(sigma_tn)
            return mpmath.fsum(v / (1 + snr * v) for v in _spectrum_mp(cov))

        return _at_dps(dps, mmse)
    copies = _copies(m)
    copies = np.ones(copies.shape, dtype=int) if ambient else m  # same shape for either kind
    lam = covariance_spectrum(cov)
    return _out(np.sum(lam * expit(-_log_signal(cov, sigma_tn, copies)), axis=-1))


# --- Lemma D.1 ---------------------------------------------------------------------------------


def mi_ambient_dataset_bound(
    d: int,
    sigma_tn: ArrayLike,
    m: ArrayLike,
    N: ArrayLike,
    *,
    printed: bool = False,
    dps: int | None = None,
) -> Any:
    r"""Lemma D.1: bound on ``I(A; S)`` for m ambient samples from N points ``S ~ N(mu, I_d)``.

    Shah et al., Lemma D.1 (App. D.1.3) states ``I(D; S) <= m (d/2) log(1/sigma_tn^2)``
    (``printed=True``). Its proof has three slips: the left side is ``I(A; S)``, the noisy
    copies are ``Y_i = sqrt(1 - sigma_tn^2) X_i + sigma_tn Z_i`` (the proof omits the square
    root) and ``I(Y; S) = N I(Y_1; X_1)``, not ``m I(Y_1; X_1)``. The stated bound still holds,
    by our route through the sample indices J: ``I(A; S) <= I(A, J; S) = E[#distinct J]
    I(Y_1; X_1)``, and m uniform draws from N indices have ``E[#distinct J] = N (1 - (1 -
    1/N)^m) <= min(m, N)``. The default is that tighter bound,
    ``N (1 - (1 - 1/N)^m) (d/2) log(1/sigma_tn^2)``.

    Parameters
    ----------
    d : int
        Dimension, >= 1.
    sigma_tn : array_like
        VP noise level(s) in (0, 1]; broadcast with ``m`` and ``N``.
    m : array_like of int
        Number of ambient samples, >= 1.
    N : array_like of int
        Number of training points, >= 1.
    printed : bool, default False
        ``True``: the printed bound ``m (d/2) log(1/sigma_tn^2)`` (valid, but looser).
    dps : int, optional
        Decimal digits of an mpmath evaluation (scalar arguments); ``None`` for float64.

    Returns
    -------
    float, ndarray or mpmath.mpf
        The bound in nats; 0 at sigma_tn = 1 and, at m = N = 1, equal to :func:`mi_ambient` with
        ``Sigma = I_d``. A bound beyond float64 raises ``ValueError``.

    See Also
    --------
    mi_ambient : the per-point leakage ``I(Y_1; X_1)``.

    References
    ----------
    Shah, Kalavasis, Klivans, Daras (2025), Lemma D.1, App. D.1.3.

    Examples
    --------
    >>> round(float(mi_ambient_dataset_bound(2, 0.5, 10, 3, printed=True)), 6)
    13.862944
    >>> round(float(mi_ambient_dataset_bound(2, 0.5, 10, 3)), 6)
    4.086762
    """
    d = check_int(d, "d", low=1, high=2**63 - 1)
    as_printed = check_bool(printed, "printed")
    if dps is not None:
        mm, nn = check_int(m, "m", low=1), check_int(N, "N", low=1)

        def bound() -> mpmath.mpf:
            per_point = -d * mpmath.log(_sigma_mp(sigma_tn))
            count = mm if as_printed else nn * (1 - (1 - mpmath.mpf(1) / nn) ** mm)
            return count * per_point

        return _at_dps(dps, bound)
    per_point = -float(d) * np.log(_sigma_tn(sigma_tn))
    mm, nn = _copies(m), _copies(N, "N")
    with np.errstate(divide="ignore", over="ignore"):  # N = 1: log1p(-1) = -inf, expm1 -> -1
        if as_printed:
            value = mm * per_point
        else:
            value = -nn * np.expm1(mm * np.log1p(-1.0 / nn)) * per_point
    return _out(finite_result(value, "the Lemma D.1 bound"))


# --- Monte Carlo ---------------------------------------------------------------------------------


class _Estimate(NamedTuple):
    estimate: float
    stderr: float


class LeakageEstimate(_Estimate):
    """A Monte Carlo estimate of a mutual information (nats) and its standard error.

    Both fields are finite real numbers, ``stderr >= 0`` (``ValueError`` otherwise).

    >>> LeakageEstimate(1.5, 0.25)
    LeakageEstimate(estimate=1.5, stderr=0.25)
    """

    __slots__ = ()

    def __new__(cls, estimate: float, stderr: float) -> LeakageEstimate:
        return super().__new__(
            cls, check_scalar(estimate, "estimate"), check_scalar(stderr, "stderr", low=0.0)
        )


def _sample_leakage(
    root: np.ndarray, a: float, s: float, m: int, model: str, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw (x0, distinct samples): n draws of x0, then 1 (ambient) or m (ddpm) noisy points."""
    d = root.shape[0]
    x0 = rng.standard_normal((n, d)) @ root.T
    draws = 1 if model == "ambient" else m
    samples = a * x0[:, None, :] + s * rng.standard_normal((n, draws, d))
    return x0, samples


def leakage_mc(
    cov: ArrayLike,
    sigma_tn: float,
    m: int,
    model: str = "ddpm",
    *,
    n_samples: int = 20_000,
    rng: Any = 0,
) -> LeakageEstimate:
    r"""Monte Carlo estimate of ``I(samples; x0)`` for the ambient or the DDPM optimum at t_n.

    Simulates Lemma 4.2's setting (Shah et al., Sec. 4.1; mu = 0 without loss of generality):
    ``x0 ~ N(0, Sigma)``; ``model="ddpm"`` draws m i.i.d. points ``sqrt(1 - sigma_tn^2) x0 +
    sigma_tn z_i``; ``model="ambient"`` draws one noisy copy and repeats it m times, so the sample
    set has one distinct point. The estimate is the mean of the information density
    ``log p(samples | x0) - log p(samples)``, with the joint ``(k d)``-dimensional Gaussian
    ``p(samples) = N(0, alpha^2 (1 1^T kron Sigma) + sigma_tn^2 I)`` (k distinct samples),
    independently of the log-det closed forms.

    Parameters
    ----------
    cov : array_like
        Spectrum ``(d,)`` or PSD matrix ``(d, d)`` of Sigma.
    sigma_tn : float
        VP noise level in (0, 1].
    m : int
        Number of samples, >= 1.
    model : {"ddpm", "ambient"}, default "ddpm"
        Which optimum draws the samples.
    n_samples : int, default 20000
        Monte Carlo draws of ``(x0, samples)``, >= 2.
    rng : numpy.random.Generator or int, default 0
        Generator or seed.

    Returns
    -------
    LeakageEstimate
        The estimate (nats) and its standard error.

    Raises
    ------
    ValueError
        When the joint dimension ``k d`` exceeds 4096 (its log-density needs an
        ``O((k d)^3)`` factorization) or the draws exceed the memory cap of
        ``_validation.check_allocation``.

    See Also
    --------
    mi_ambient, mi_ddpm : the closed forms it estimates.

    References
    ----------
    Shah, Kalavasis, Klivans, Daras (2025), Lemma 4.2.

    Examples
    --------
    >>> est = leakage_mc([1.0], 0.5, 10, n_samples=4000, rng=1)
    >>> abs(est.estimate - mi_ddpm([1.0], 0.5, 10)) < 3 * est.stderr
    True
    """
    lam = covariance_spectrum(cov)
    cov_mat = np.diag(lam) if np.ndim(cov) == 1 else as_float_array(cov, "cov", dtype=np.float64)
    s = float(_sigma_tn(check_scalar(sigma_tn, "sigma_tn")))
    copies = check_int(m, "m", low=1)
    check_choice(model, "model", MODELS)
    n = check_int(n_samples, "n_samples", low=2)
    joint_dim = (1 if model == "ambient" else copies) * lam.size
    if joint_dim > _MAX_JOINT_DIM:
        raise ValueError(
            f"the joint dimension m d = {joint_dim} of the samples exceeds {_MAX_JOINT_DIM}; "
            "use fewer copies m or a smaller dimension"
        )
    check_allocation(4 * n * joint_dim, f"n_samples = {n} draws of dimension {joint_dim}")
    gen = as_rng(rng)
    w, v = np.linalg.eigh(cov_mat)
    root = v * np.sqrt(np.clip(w, 0.0, None))
    a = math.sqrt((1.0 - s) * (1.0 + s))
    x0, samples = _sample_leakage(root, a, s, m, model, n, gen)
    k, d = samples.shape[1], samples.shape[2]
    flat = samples.reshape(n, k * d)
    joint = a * a * np.kron(np.ones((k, k)), cov_mat) + s * s * np.eye(k * d)
    resid = (samples - a * x0[:, None, :]).reshape(n, k * d) / s
    log_cond = -0.5 * np.sum(resid * resid, axis=1) - k * d * (0.5 * math.log(2 * math.pi))
    log_cond -= k * d * math.log(s)
    info = log_cond - multivariate_normal(np.zeros(k * d), joint).logpdf(flat)
    return LeakageEstimate(float(info.mean()), float(info.std(ddof=1) / math.sqrt(n)))
