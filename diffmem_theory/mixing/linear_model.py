"""The solvable linear one-step diffusion model of Halder (paper 001, Sec. 3 and App. B).

Training pairs are drawn from either data model of the paper (``data_model="forward"``:
Y ~ N(mu, sigma^2 I), X = e^{-T} Y + sqrt(Delta_T) Z, eq. (3.8); ``"appendixB"``: X ~
N(e^{-T} mu, sigma_X^2 I), Y = e^T X + sqrt(Delta_T) Z, eq. (B.1)), with Delta_T = lam (1 -
e^{-2T}). The least-squares denoiser (3.1) uses the min-norm (Moore-Penrose) solution, so
n <= d is allowed. The generated law (3.3) is N(theta0 + theta1 mu_X, sigma_X^2 theta1 theta1^T)
(``printed=False``) or, as printed, sigma_X^2 theta1^T theta1 (``printed=True``).

Distances to the target N(mu, sigma^2 I): Hellinger (3.4) and the Gaussian KL (B.3, B.4) with its
mean/variance split (B.10), both in log/eigen space; L^2 distances to Gaussian KDEs (3.7) and
Delta = E_TG - E_OG, in which the divergent term int rho_G^2 and the KDE self terms cancel
analytically; Monte Carlo P(Delta > 0) and <H^2> over training sets. Expectations: the
deterministic equivalent <KL_var> (B.17) and exact finite-n Wishart formulas
(:func:`expected_kl_wishart`, our derivation). Per-coordinate L^2 metric (4.1), exact and on a
grid. All randomness goes through an explicit ``rng`` (``numpy.random.Generator`` or int seed).

The mpmath twins are in :mod:`diffmem_theory.mixing.linear_model_mp`, the sympy derivation of
(B.17) in :mod:`diffmem_theory.mixing.symbolic`, the errata of Sec. 3 and App. B in
:mod:`diffmem_theory.mixing.errata`.

>>> cfg = LinearDiffusionConfig(d=16)
>>> round(hellinger_asymptote(cfg.d, cfg.T, cfg.lam, cfg.sigma), 10)
0.3680473288
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from diffmem_theory._validation import (
    as_float_array,
    as_rng,
    check_allocation,
    check_bool,
    check_choice,
    check_covariance,
    check_int,
    check_scalar,
    exp_or_raise,
    finite_result,
)

__all__ = [
    "LinearDiffusionConfig",
    "delta_stat",
    "expected_hellinger",
    "expected_kl_var_b_17",
    "expected_kl_var_b_17_u",
    "expected_kl_wishart",
    "fit_linear_denoiser",
    "generated_gaussian",
    "hellinger_asymptote",
    "hellinger_sq",
    "kl_gaussian",
    "kl_generated",
    "l2_gauss_kde",
    "late_time_params",
    "log_kde_cross",
    "log_kde_pair_offdiag",
    "marginal_l2_exact",
    "marginal_l2_grid",
    "model_params",
    "noise_variance",
    "prob_delta_positive",
    "sample_training_pairs",
    "simulate_generated",
    "simulate_slope_deviations",
    "wishart_inverse_moments",
]

_DATA_MODELS = ("forward", "appendixB")
_LOG_2PI = math.log(2.0 * math.pi)
_N_SIM_MAX = 10**6  # Monte Carlo repetitions accepted by one call


def _pos(x, name: str) -> float:
    return check_scalar(x, name, low=0.0, low_open=True)


def _log_u(T: float, lam: float, sigma: float) -> float:
    """log u, u = e^{2T} Delta_T / sigma^2 = lam (e^{2T} - 1) / sigma^2, without overflow."""
    return math.log(lam) + 2.0 * T + math.log(-math.expm1(-2.0 * T)) - 2.0 * math.log(sigma)


def noise_variance(T: float, lam: float) -> float:
    """Delta_T = lam (1 - e^{-2T}), the one-step noise variance of (3.8) (footnote 5).

    ``ValueError`` if Delta_T underflows to 0 in float64 (``lam`` and ``T`` both tiny).

    >>> round(noise_variance(2.0, math.exp(-4)), 12)
    0.017980176261
    """
    T, lam = _pos(T, "T"), _pos(lam, "lam")
    out = -lam * math.expm1(-2.0 * T)
    if out == 0.0:
        raise ValueError(f"Delta_T = lam (1 - e^(-2T)) underflows to 0 for T={T!r}, lam={lam!r}")
    return out


@dataclass(frozen=True)
class LinearDiffusionConfig:
    """Setting of the linear model (defaults: Figs. 3-4 of paper 001, mu = 10, sigma = 1, T = 2).

    Parameters
    ----------
    d : int
        Dimension, >= 1.
    mu : float, default 10.0
        Mean of every coordinate of the data N(mu 1_d, sigma^2 I_d).
    sigma : float, default 1.0
        Standard deviation of the data, > 0.
    T : float, default 2.0
        The one-step noising time, > 0.
    lam : float, default e^{-4}
        The OU noise scale (footnote 5); Figs. 3-4 use e^{-4}, i.e. lambda-hat = 1 in
        lam = lambda-hat sigma^2 e^{-2T}.
    data_model : {"forward", "appendixB"}
        Training pairs as in Sec. 3, eq. (3.8), or as in App. B, eq. (B.1).
    printed : bool, default False
        Generated covariance as printed in (3.3), sigma_X^2 theta1^T theta1, instead of the
        law of theta0 + theta1 X, sigma_X^2 theta1 theta1^T (erratum ``paper001.cov_convention``).
    empirical_late_time : bool, default True
        Use the estimates (3.2) for mu_X, sigma_X^2 instead of the population values.

    See Also
    --------
    simulate_generated, expected_hellinger, prob_delta_positive

    References
    ----------
    Halder, Sec. 3, eqs. (3.1)-(3.8), App. B, eq. (B.1); Figs. 2-4.

    Examples
    --------
    >>> c = LinearDiffusionConfig(d=4)
    >>> round(c.delta_T, 6), round(c.var_X, 6), round(c.u, 6)
    (0.01798, 0.036296, 0.981684)
    """

    d: int
    mu: float = 10.0
    sigma: float = 1.0
    T: float = 2.0
    lam: float = math.exp(-4.0)
    data_model: str = "forward"
    printed: bool = False
    empirical_late_time: bool = True

    def __post_init__(self) -> None:
        check_int(self.d, "d", low=1)
        check_scalar(self.mu, "mu")
        _pos(self.sigma, "sigma")
        _pos(self.T, "T")
        _pos(self.lam, "lam")
        check_choice(self.data_model, "data_model", _DATA_MODELS)
        check_bool(self.printed, "printed")
        check_bool(self.empirical_late_time, "empirical_late_time")
        finite_result(self.var_X, f"sigma_X^2 = e^(-2T) sigma^2 + Delta_T (sigma={self.sigma})")

    @property
    def delta_T(self) -> float:
        """Delta_T = lam (1 - e^{-2T})."""
        return noise_variance(self.T, self.lam)

    @property
    def var_X(self) -> float:
        """Population sigma_X^2 = e^{-2T} sigma^2 + Delta_T."""
        scaled = math.exp(-self.T) * self.sigma
        return scaled * scaled + self.delta_T  # inf (caught in __post_init__), not OverflowError

    @property
    def u(self) -> float:
        """u = e^{2T} Delta_T / sigma^2 (late-time: lambda-hat (1 - e^{-2T})); ValueError if inf."""
        return exp_or_raise(_log_u(self.T, self.lam, self.sigma), "u = e^(2T) Delta_T / sigma^2")


def _check_config(cfg: object) -> None:
    if not isinstance(cfg, LinearDiffusionConfig):
        raise TypeError(f"cfg must be a LinearDiffusionConfig, got {type(cfg).__name__}")


def sample_training_pairs(cfg: LinearDiffusionConfig, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Draw n training pairs (X, Y), each (n, d), from ``cfg.data_model`` ((3.8) or (B.1)).

    ``"forward"``: Y ~ N(mu, sigma^2 I), X = e^{-T} Y + sqrt(Delta_T) Z (3.8); ``"appendixB"``:
    X ~ N(e^{-T} mu, sigma_X^2 I), Y = e^T X + sqrt(Delta_T) Z (B.1).

    Parameters
    ----------
    cfg : LinearDiffusionConfig
        The setting.
    n : int
        Number of pairs, >= 1.
    rng : numpy.random.Generator or int
        Randomness.

    Returns
    -------
    (X, Y) : tuple of numpy.ndarray
        Noised inputs X and clean targets Y, each (n, d).

    See Also
    --------
    fit_linear_denoiser, simulate_generated

    References
    ----------
    Halder, Sec. 3, eq. (3.8); App. B, eq. (B.1).

    Examples
    --------
    >>> X, Y = sample_training_pairs(LinearDiffusionConfig(d=3), 5, rng=0)
    >>> X.shape, Y.shape
    ((5, 3), (5, 3))
    """
    _check_config(cfg)
    n = check_int(n, "n", low=1)
    check_allocation(2 * n * cfg.d, f"{n} training pairs in dimension {cfg.d}")
    g = as_rng(rng)
    d, eT, dT = cfg.d, math.exp(-cfg.T), cfg.delta_T
    if cfg.data_model == "forward":
        Y = cfg.mu + cfg.sigma * g.standard_normal((n, d))
        X = eT * Y + math.sqrt(dT) * g.standard_normal((n, d))
    else:
        X = eT * cfg.mu + math.sqrt(cfg.var_X) * g.standard_normal((n, d))
        Y = X / eT + math.sqrt(dT) * g.standard_normal((n, d))
    return X, Y


def _samples(Y, name: str, n_min: int = 1) -> np.ndarray:
    """A finite float64 (n, d) array with n >= n_min and d >= 1."""
    arr = as_float_array(Y, name, ndim=2, dtype=np.float64)
    if arr.shape[0] < n_min or arr.shape[1] < 1:
        raise ValueError(
            f"{name} must have shape (n, d) with n >= {n_min}, d >= 1, got {arr.shape}"
        )
    return arr


def fit_linear_denoiser(X, Y) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares fit Y ~ theta0 + theta1 X (3.1)/(B.2); min-norm solution when n <= d.

    Parameters
    ----------
    X, Y : array_like
        Inputs (noised) and targets (clean), each (n, d) with n >= 2.

    Returns
    -------
    (theta0, theta1) : tuple of numpy.ndarray
        theta0 (d,) and theta1 (d, d) with theta1^T = (x^T x)^+ x^T y on centred data x, y (the
        Moore-Penrose solution; (3.1) is undefined for n <= d).

    See Also
    --------
    sample_training_pairs, generated_gaussian

    References
    ----------
    Halder, Sec. 3, eq. (3.1); App. B, eq. (B.2).

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> t0, t1 = fit_linear_denoiser(X, 2 * X + 1)
    >>> np.round(t0, 12).tolist(), np.abs(np.round(t1, 12)).tolist()
    ([1.0, 1.0], [[2.0, 0.0], [0.0, 2.0]])
    """
    X = _samples(X, "X", 2)
    Y = _samples(Y, "Y", 2)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X and Y need the same number n >= 2 of rows, got {X.shape}, {Y.shape}")
    Xb, Yb = X.mean(axis=0), Y.mean(axis=0)
    theta1_T = np.linalg.lstsq(X - Xb, Y - Yb, rcond=None)[0]
    theta1 = theta1_T.T
    return Yb - theta1 @ Xb, theta1


def late_time_params(Y, T: float, lam: float) -> tuple[np.ndarray, float]:
    """Estimates (3.2): mu_X = e^{-T} Y-bar, sigma_X^2 = e^{-2T} sum|Y_k - Y-bar|^2/(nd) + Delta_T.

    The normalisation 1/(nd) is the paper's (biased).

    Parameters
    ----------
    Y : array_like
        Clean training samples, (n, d).
    T, lam : float
        Noising time and OU noise scale, > 0.

    Returns
    -------
    (mu_X, var_X) : tuple
        The late-time mean (d,) and the variance sigma_X^2 (a float).

    See Also
    --------
    generated_gaussian : the generated law built from them.

    References
    ----------
    Halder, Sec. 3, eq. (3.2).

    Examples
    --------
    >>> mu_X, s2 = late_time_params(np.array([[0.0], [2.0]]), 1.0, 1.0)
    >>> round(float(mu_X[0]), 6), round(s2, 6)
    (0.367879, 1.0)
    """
    Y = _samples(Y, "Y")
    dT = noise_variance(T, lam)
    eT = math.exp(-T)
    with np.errstate(over="ignore"):
        Yb = Y.mean(axis=0)
        s2 = float(np.mean(((Y - Yb) * eT) ** 2))  # e^{-2T} mean |Y_k - Y-bar|^2
    return finite_result(eT * Yb, "mu_X"), finite_result(s2 + dT, "sigma_X^2")


def generated_gaussian(
    theta0, theta1, mu_X, var_X: float, *, printed: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Generated law (3.3): mean theta0 + theta1 mu_X, covariance sigma_X^2 theta1 theta1^T.

    The late-time input X ~ N(mu_X, sigma_X^2 I) pushed through the fitted denoiser
    Y = theta0 + theta1 X is Gaussian with covariance sigma_X^2 theta1 theta1^T. The paper prints
    sigma_X^2 theta1^T theta1 (``printed=True``; it is also the authors' code): the same
    spectrum, so traces, determinants and KL_var agree, but mean quadratic forms and, for
    n <= d, the support differ (erratum ``paper001.cov_convention``).

    Parameters
    ----------
    theta0 : array_like
        Intercept, scalar or (d,).
    theta1 : array_like
        Slope, (d, d).
    mu_X : array_like
        Late-time mean, scalar or (d,).
    var_X : float
        Late-time variance sigma_X^2 per coordinate, > 0.
    printed : bool, default False
        Use the covariance as printed in (3.3).

    Returns
    -------
    (mu_G, Sigma_G) : tuple of numpy.ndarray
        Mean (d,) and covariance (d, d) of rho_G.

    See Also
    --------
    fit_linear_denoiser, late_time_params, simulate_generated

    References
    ----------
    Halder, Sec. 3, eq. (3.3); App. B, eq. (B.5).

    Examples
    --------
    >>> t1 = np.array([[1.0, 1.0], [0.0, 0.0]])
    >>> generated_gaussian(np.zeros(2), t1, np.ones(2), 1.0)[1].tolist()
    [[2.0, 0.0], [0.0, 0.0]]
    >>> generated_gaussian(np.zeros(2), t1, np.ones(2), 1.0, printed=True)[1].tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    check_bool(printed, "printed")
    theta1 = as_float_array(theta1, "theta1", ndim=2, dtype=np.float64)
    d = theta1.shape[0]
    if d < 1 or theta1.shape != (d, d):
        raise ValueError(f"theta1 must be a square (d, d) matrix with d >= 1, got {theta1.shape}")
    theta0 = _vector(theta0, "theta0", d)
    s2 = _pos(var_X, "var_X")
    mu_G = theta0 + theta1 @ _vector(mu_X, "mu_X", d)
    S = theta1.T @ theta1 if printed else theta1 @ theta1.T
    cov = s2 * (0.5 * S + 0.5 * S.T)
    return finite_result(mu_G, "the generated mean"), finite_result(cov, "the generated covariance")


def _singular(w: np.ndarray) -> bool:
    """Whether a PSD spectrum has an eigenvalue within rounding (1e3 d eps max|w|) of 0."""
    scale = max(float(np.max(np.abs(w))), np.finfo(float).tiny)
    return bool(w.min() <= 1e3 * len(w) * np.finfo(float).eps * scale)


def _vector(v, name: str, d: int) -> np.ndarray:
    """A scalar (broadcast) or a (d,) vector, as float64 of shape (d,)."""
    arr = as_float_array(v, name, ndim=(0, 1), dtype=np.float64)
    if arr.ndim == 1 and arr.shape[0] != d:
        raise ValueError(f"{name} must be a scalar or have shape ({d},), got shape {arr.shape}")
    return np.broadcast_to(arr, (d,))


def _target(mu, d: int) -> np.ndarray:
    return _vector(mu, "mu", d)


def _mean_vector(mu_G, d: int, name: str = "mu_G") -> np.ndarray:
    arr = as_float_array(mu_G, name, ndim=1, dtype=np.float64)
    if arr.shape != (d,):
        raise ValueError(f"{name} must have shape ({d},) to match the covariance, got {arr.shape}")
    return arr


def hellinger_sq(mu_G, Sigma_G, mu, sigma: float) -> float:
    """Squared Hellinger distance (3.4) between N(mu_G, Sigma_G) and N(mu, sigma^2 I), log space.

        H^2 = 1 - 2^{d/2} det(Sigma_G)^{1/4} sigma^{d/2} / det(Sigma_G + sigma^2 I)^{1/2}
                  exp(-(mu_G - mu)^T (Sigma_G + sigma^2 I)^{-1} (mu_G - mu) / 4).

    The paper prints (theta1^T theta1 + sigma^2 I)^{-1} in the exponent; it is
    (Sigma_G + sigma^2 I)^{-1} (the factor sigma_X^2 is missing; erratum
    ``paper001.eq3_4_exponent``).

    Parameters
    ----------
    mu_G : array_like
        Mean (d,) of rho_G.
    Sigma_G : array_like
        Covariance (d, d) of rho_G, symmetric positive semi-definite.
    mu : array_like
        Target mean, scalar or (d,).
    sigma : float
        Target standard deviation, > 0.

    Returns
    -------
    float
        H^2 in [0, 1]; exactly 1.0 for a (numerically) singular Sigma_G (n <= d).

    See Also
    --------
    diffmem_theory.mixing.linear_model_mp.hellinger_sq_mp : the mpmath twin.
    hellinger_asymptote : the large-n limit.
    expected_hellinger : the mean over training sets (Fig. 3).

    References
    ----------
    Halder, Sec. 3.1, eq. (3.4).

    Examples
    --------
    >>> round(hellinger_sq([0.0], [[1.0]], 0.0, 1.0), 15)
    0.0
    >>> hellinger_sq([0, 0], np.zeros((2, 2)), 0, 1)
    1.0
    """
    S, w = check_covariance(Sigma_G, "Sigma_G")
    d = S.shape[0]
    mG = _mean_vector(mu_G, d)
    sigma = _pos(sigma, "sigma")
    if _singular(w):
        return 1.0
    w, V = np.linalg.eigh(S)
    log_s2 = 2.0 * math.log(sigma)
    # log(w + s2) and 1/(w + s2) through log-sum-exp: no overflow or underflow of sigma^2
    log_ws2 = np.logaddexp(np.log(w), log_s2)
    diff = V.T @ (mG - _target(mu, d))
    with np.errstate(over="ignore"):  # an infinite quadratic form is the limit H^2 = 1
        quad = float(np.sum((diff * np.exp(-0.5 * log_ws2)) ** 2))
    log_bc = (
        0.5 * d * math.log(2.0)
        + 0.25 * float(np.sum(np.log(w)))
        + 0.25 * d * log_s2
        - 0.5 * float(np.sum(log_ws2))
        - 0.25 * quad
    )
    return float(min(1.0, max(0.0, -math.expm1(min(log_bc, 0.0)))))


def kl_gaussian(mu1, S1, mu2, S2) -> float:
    """KL(N(mu1, S1) || N(mu2, S2)) of (B.3); +inf if S1 is singular.

    Parameters
    ----------
    mu1, mu2 : array_like
        Means, (d,).
    S1 : array_like
        Covariance (d, d), symmetric positive semi-definite.
    S2 : array_like
        Covariance (d, d), symmetric positive definite.

    Returns
    -------
    float
        The KL (``ValueError`` naming the matrix for bad input, or if it overflows float64).

    See Also
    --------
    diffmem_theory.mixing.linear_model_mp.kl_gaussian_mp : the mpmath twin.
    kl_generated : KL(rho_G || rho) with its split (B.10).

    References
    ----------
    Halder, App. B, eq. (B.3).

    Examples
    --------
    >>> round(kl_gaussian([0.0], [[2.0]], [1.0], [[1.0]]), 12)
    0.65342640972
    """
    S1, w1 = check_covariance(S1, "S1")
    S2, _ = check_covariance(S2, "S2", definite=True)
    d = S1.shape[0]
    if S2.shape != (d, d):
        raise ValueError(f"S1 and S2 need the same shape, got {S1.shape} and {S2.shape}")
    m = _mean_vector(mu1, d, "mu1") - _mean_vector(mu2, d, "mu2")
    if _singular(w1):
        return math.inf
    L = np.linalg.cholesky(S2)
    with np.errstate(over="ignore"):
        A = np.linalg.solve(L, S1)
        tr = float(np.trace(np.linalg.solve(L, A.T)))
        z = np.linalg.solve(L, m)
        quad = float(z @ z)
    logdet2 = 2.0 * float(np.sum(np.log(np.diag(L))))
    out = 0.5 * (tr - d - float(np.sum(np.log(w1))) + logdet2 + quad)
    return finite_result(out, "KL(N(mu1, S1) || N(mu2, S2))")


def kl_generated(mu_G, Sigma_G, mu, sigma: float) -> dict[str, float]:
    """KL(rho_G || rho) for rho = N(mu, sigma^2 I) (B.4) and its split (B.10).

    With sigma-hat_G = Sigma_G/sigma^2 - I (eigenvalues s_i): ``mean`` = |mu - mu_G|^2/(2 sigma^2),
    ``var_exact`` = (1/2) sum (s_i - log(1 + s_i)), ``var_quad`` = (1/4) sum s_i^2 (B.10),
    ``exact`` = mean + var_exact. The paper's "KL >= KL_var" (after (B.10)) holds only within
    the quadratic approximation (B.9): exact < var_quad happens (erratum
    ``paper001.kl_lower_bound``); the rigorous bound is exact >= var_exact.

    Parameters
    ----------
    mu_G : array_like
        Mean (d,) of rho_G.
    Sigma_G : array_like
        Covariance (d, d), symmetric positive semi-definite.
    mu : array_like
        Target mean, scalar or (d,).
    sigma : float
        Target standard deviation, > 0.

    Returns
    -------
    dict
        ``exact``, ``mean``, ``var_exact``, ``var_quad``; ``var_exact`` (and ``exact``) is +inf
        for a singular ``Sigma_G``; a finite value beyond float64 raises ``ValueError``.

    See Also
    --------
    diffmem_theory.mixing.linear_model_mp.kl_generated_mp : the mpmath twin.
    expected_kl_wishart : the exact expectation of ``var_quad`` and ``mean``.
    expected_kl_var_b_17 : the paper's deterministic equivalent of ``var_quad``.

    References
    ----------
    Halder, App. B, eqs. (B.4), (B.9), (B.10); Sec. 3, eq. (3.5).

    Examples
    --------
    >>> r = kl_generated([0.0, 0.0], 2 * np.eye(2), 0.0, 1.0)
    >>> round(r["exact"], 12), r["var_quad"], r["mean"]
    (0.30685281944, 0.5, 0.0)
    """
    S, w = check_covariance(Sigma_G, "Sigma_G")
    d = S.shape[0]
    sigma = _pos(sigma, "sigma")
    what = f"KL(rho_G || rho) at sigma={sigma!r}"
    with np.errstate(over="ignore", divide="ignore"):
        diff = (_mean_vector(mu_G, d) - _target(mu, d)) / sigma
        mean = 0.5 * float(diff @ diff)
        # s_i = r_i - 1 with log r_i = log w_i - 2 log sigma: s - log1p(s) = expm1(log r) - log r
        log_r = np.log(w) - 2.0 * math.log(sigma)
        s = np.expm1(log_r)
        var_quad = 0.25 * float(np.sum(s**2))
    if _singular(w):
        var_exact = math.inf
    else:
        with np.errstate(over="ignore"):
            var_exact = finite_result(0.5 * float(np.sum(s - log_r)), what)
    return {
        "exact": mean + var_exact,
        "mean": finite_result(mean, what),
        "var_exact": var_exact,
        "var_quad": finite_result(var_quad, what),
    }


# --- expectations over training sets -------------------------------------------------------


def b_17_domain_error(alpha: object) -> ValueError:
    """The ``ValueError`` refusing (B.17) at ``alpha = d/n >= 1`` (float64 and mpmath forms).

    >>> str(b_17_domain_error(2.0)).startswith("(B.17) needs alpha = d/n < 1")
    True
    """
    return ValueError(
        f"(B.17) needs alpha = d/n < 1 (paper 001 derives it for n, d -> inf with alpha < 1 "
        f"fixed; for n <= d the generated covariance is singular and KL = inf), got alpha = {alpha}"
    )


def _check_alpha_b17(alpha: float) -> float:
    alpha = check_scalar(alpha, "alpha", low=0.0)
    if alpha >= 1.0:
        raise b_17_domain_error(alpha)
    return alpha


def expected_kl_var_b_17_u(d: int, alpha: float, T: float, u: float) -> float:
    """Simplified (B.17): d [u^2/4 + alpha e^{-2T} u (1 + 2u)/2 + alpha^2 e^{-4T} u^2/4].

    Our simplification of (B.17) with e^{-2T} + Delta_T / sigma^2 = sigma_X^2 / sigma^2 and
    u = e^{2T} Delta_T / sigma^2; it is identical to the printed form
    (:func:`diffmem_theory.mixing.symbolic.b_17_u_form_residual` simplifies to 0). It refuses
    (``ValueError``) ``alpha >= 1``, as :func:`expected_kl_var_b_17`, and a value beyond float64.

    Parameters
    ----------
    d : int
        Dimension, >= 1.
    alpha : float
        d / n, in [0, 1).
    T : float
        Noising time, > 0.
    u : float
        e^{2T} Delta_T / sigma^2 >= 0 (late time: lambda-hat (1 - e^{-2T})).

    Returns
    -------
    float
        <KL_var> of (B.17).

    See Also
    --------
    expected_kl_var_b_17 : the printed form.
    diffmem_theory.mixing.linear_model_mp.expected_kl_var_b_17_u_mp : the mpmath twin.
    diffmem_theory.mixing.symbolic.b_17_u_expr : the sympy form.

    References
    ----------
    Halder, App. B, eq. (B.17).

    Examples
    --------
    >>> expected_kl_var_b_17_u(4, 0.0, 1.0, 1.0)
    1.0
    """
    d = check_int(d, "d", low=1)
    alpha = _check_alpha_b17(alpha)
    T = _pos(T, "T")
    u = check_scalar(u, "u", low=0.0)
    e2 = math.exp(-2.0 * T)
    with np.errstate(over="ignore"):
        au = np.float64(alpha * e2) * u  # alpha e^{-2T} u
        out = d * (0.25 * np.float64(u) * u + 0.5 * au * (1 + 2 * np.float64(u)) + 0.25 * au * au)
    return float(finite_result(out, "(B.17)"))


def expected_kl_var_b_17(d: int, n: int, T: float, sigma: float, lam: float) -> float:
    """Deterministic equivalent <KL_var> of (B.17), literally as printed (alpha = d/n).

        <KL_var> = 1/4 k^2 (alpha^2 d Delta_T^2 / sigma_X^4 + 2 e^{2T} alpha d Delta_T / sigma_X^2)
                   + 1/2 k (Delta_T / sigma^2) e^{2T} alpha d Delta_T / sigma_X^2
                   + d/4 (e^{2T} Delta_T / sigma^2)^2,

    k = e^{-2T} + Delta_T / sigma^2, Delta_T = lam (1 - e^{-2T}), sigma_X^2 = e^{-2T} sigma^2 +
    Delta_T. Derived for n, d -> inf at fixed alpha = d/n < 1: it **refuses** (``ValueError``)
    alpha >= 1, where the generated covariance is singular (rank <= n - 1 < d) and the KL is
    infinite. Where the printed form's intermediate e^{2T} overflows float64 (T > ~350) it is
    evaluated in the identical u-form (:func:`expected_kl_var_b_17_u`, u in log space); a value
    beyond float64 raises ``ValueError``.

    This is a different quantity from the exact expectation :func:`expected_kl_wishart` (not a
    ``printed=`` variant of it): a large-n deterministic equivalent whose inputs (B.12) and
    (B.14) miss factors 1/(1 - alpha) and a Wick term (erratum ``paper001.b12_b14_factors``);
    at the paper's n = 10^4 it is within 3% of the exact value (Fig. 2 setting).

    Parameters
    ----------
    d : int
        Dimension, >= 1.
    n : int
        Training-set size, > d.
    T : float
        Noising time, > 0.
    sigma : float
        Standard deviation of the data, > 0.
    lam : float
        OU noise scale, > 0.

    Returns
    -------
    float
        <KL_var> of (B.17).

    See Also
    --------
    expected_kl_var_b_17_u : the simplified u-form.
    expected_kl_wishart : the exact finite-n expectation.
    diffmem_theory.mixing.linear_model_mp.expected_kl_var_b_17_mp : the mpmath twin.
    diffmem_theory.mixing.symbolic.b_17_printed_expr : the sympy form and its derivation.

    References
    ----------
    Halder, App. B, eqs. (B.11)-(B.17).

    Examples
    --------
    >>> f"{expected_kl_var_b_17(16, 10**4, 2.0, 1.0, math.exp(-4)):.5g}"
    '3.8555'
    """
    d, n = check_int(d, "d", low=1), check_int(n, "n", low=2)
    a = _check_alpha_b17(d / n)
    T, sigma, lam = _pos(T, "T"), _pos(sigma, "sigma"), _pos(lam, "lam")
    dT = noise_variance(T, lam)
    try:
        with np.errstate(all="raise"):
            s2 = np.float64(sigma) ** 2
            sX2 = math.exp(-2 * T) * s2 + dT
            k = math.exp(-2 * T) + dT / s2
            e2T = np.float64(math.exp(2 * T))
            out = (
                0.25 * k**2 * (a**2 * d * dT**2 / sX2**2 + 2 * e2T * a * d * dT / sX2)
                + 0.5 * k * dT / s2 * e2T * a * d * dT / sX2
                + 0.25 * d * (e2T * dT / s2) ** 2
            )
    except (OverflowError, FloatingPointError):
        u = exp_or_raise(_log_u(T, lam, sigma), "u = e^(2T) Delta_T / sigma^2")
        return expected_kl_var_b_17_u(d, a, T, u)
    return float(finite_result(out, "(B.17)"))


def wishart_inverse_moments(d: int, n: int, s2: float) -> tuple[float, float, float]:
    """(E tr W^-1, E tr W^-2, E (tr W^-1)^2) for W ~ Wishart_d(s2 I, m = n - 1), n > d + 4.

    Classical inverse-Wishart moments (e.g. von Rosen, "Moments for the inverted Wishart
    distribution", Scand. J. Stat. 15 (1988)): with a = m - d - 1, b = m - d, c = m - d - 3,

        E tr W^-1 = d / (a s2),   E tr W^-2 = d (m - 1) / (b a c s2^2),
        E (tr W^-1)^2 = [d^2 / a^2 + (2 d^2 / a + 2 d) / (b a c)] / s2^2.

    Parameters
    ----------
    d : int
        Dimension, >= 1.
    n : int
        Sample size (m = n - 1 degrees of freedom after centring), > d + 4.
    s2 : float
        Variance of the rows, > 0.

    Returns
    -------
    tuple of float
        The three moments.

    See Also
    --------
    expected_kl_wishart : where they enter.

    Examples
    --------
    >>> [round(v, 12) for v in wishart_inverse_moments(1, 10, 1.0)]
    [0.142857142857, 0.028571428571, 0.028571428571]
    """
    d, n = check_int(d, "d", low=1), check_int(n, "n", low=2)
    s2 = _pos(s2, "s2")
    m = n - 1
    if m - d - 3 <= 0:
        raise ValueError(f"the Wishart moments need n > d + 4, got n={n}, d={d}")
    a, b, c = m - d - 1, m - d, m - d - 3
    with np.errstate(over="ignore"):
        inv = 1.0 / np.float64(s2)
        t1 = d / a * inv
        t2 = d * (m - 1) / (b * a * c) * inv * inv
        t11 = (d**2 / a**2 + (2 * d**2 / a + 2 * d) / (b * a * c)) * inv * inv
    finite_result((t1, t2, t11), f"the inverse-Wishart moments at s2={s2!r}")
    return float(t1), float(t2), float(t11)


def model_params(cfg: LinearDiffusionConfig) -> tuple[float, float, float]:
    """(s2, c, tau2) of the well-specified model X ~ N(., s2 I), Y = b + c X + N(0, tau2 I).

    App-B: (sigma_X^2, e^T, Delta_T), read off (B.1); forward: (sigma_X^2, e^{-T} sigma^2 /
    sigma_X^2, sigma^2 Delta_T / sigma_X^2) with population sigma_X^2: the regression of Y on X
    for the jointly Gaussian pair of (3.8) (slope Cov(X, Y) / Var X, residual variance
    Var Y - Cov(X, Y)^2 / Var X).

    Parameters
    ----------
    cfg : LinearDiffusionConfig
        The setting (its ``data_model`` decides).

    Returns
    -------
    (s2, c, tau2) : tuple of float
        Variance of X, slope, noise variance; the inputs of :func:`expected_kl_wishart`.

    References
    ----------
    Halder, Sec. 3, eq. (3.8); App. B, eq. (B.1).

    Examples
    --------
    >>> [round(v, 9) for v in model_params(LinearDiffusionConfig(d=16))]
    [0.036295815, 3.728674578, 0.49537877]
    """
    _check_config(cfg)
    s2 = cfg.var_X
    if cfg.data_model == "appendixB":
        return s2, math.exp(cfg.T), cfg.delta_T
    return s2, math.exp(-cfg.T) * cfg.sigma**2 / s2, cfg.sigma**2 * cfg.delta_T / s2


def expected_kl_wishart(
    d: int, n: int, s2: float, c: float, tau2: float, var: float
) -> dict[str, float]:
    """Exact finite-n E[KL_var] (quadratic, B.10) and E[KL_mean], n > d + 4 (our derivation).

    For the well-specified model X ~ N(mu_X, s2 I), Y = b + c X + xi, xi ~ N(0, tau2 I), OLS
    with intercept on n pairs: theta1^T = c I + P with P = W^{-1} x^T xi and W = x^T x ~
    Wishart_d(s2 I, n - 1). Conditioning on x, the Gaussian moments of xi (Wick) give

        E Tr Sigma-hat   = d tau2 E tr W^{-1},
        E Tr Sigma-hat^2 = tau2^2 [(d^2 + d) E tr W^{-2} + d E (tr W^{-1})^2]
                           + c^2 tau2 (2 + 2d) E tr W^{-1},

    Sigma-hat = PP^T + c (P + P^T), with the inverse-Wishart moments of
    :func:`wishart_inverse_moments`; then with r = s2 c^2 / var

        E KL_var  = 1/4 [d (r - 1)^2 + 2 (r - 1) r c^{-2} E Tr Sigma-hat
                         + r^2 c^{-4} E Tr Sigma-hat^2],
        E KL_mean = (d tau2 / n + d^2 tau2 / (n (n - d - 2))) / (2 var),

    the latter for mu_G built with the population mu_X. Checked against Monte Carlo by the check
    ``paper001.wishart_mc``.

    Parameters
    ----------
    d : int
        Dimension, >= 1.
    n : int
        Training-set size, > d + 4.
    s2, c, tau2 : float
        Variance of X, slope and noise variance of the model (:func:`model_params`).
    var : float
        Variance sigma^2 of the target N(mu, sigma^2 I), > 0.

    Returns
    -------
    dict
        ``var`` (E KL_var), ``mean`` (E KL_mean), ``tr_sigma``, ``tr_sigma2``.

    See Also
    --------
    expected_kl_var_b_17 : the paper's large-n deterministic equivalent.
    model_params, wishart_inverse_moments

    References
    ----------
    Halder, App. B, eqs. (B.5)-(B.11) (the quantities whose expectations these are).

    Examples
    --------
    >>> s2, c, t2 = model_params(LinearDiffusionConfig(d=16, data_model="appendixB"))
    >>> round(expected_kl_wishart(16, 10**4, s2, c, t2, 1.0)["var"], 4)
    3.8555
    """
    d, n = check_int(d, "d", low=1), check_int(n, "n", low=2)
    s2, c, tau2, var = (_pos(v, k) for v, k in ((s2, "s2"), (c, "c"), (tau2, "tau2"), (var, "var")))
    t1, t2, t11 = wishart_inverse_moments(d, n, s2)
    m = n - 1
    with np.errstate(over="ignore", under="ignore"):
        s2, c, tau2, var = map(np.float64, (s2, c, tau2, var))
        e_tr = d * tau2 * t1
        e_tr2 = tau2**2 * ((d * d + d) * t2 + d * t11) + c * c * tau2 * (2 + 2 * d) * t1
        r = s2 * c * c / var
        kl_var = 0.25 * (d * (r - 1) ** 2 + 2 * (r - 1) * r / c**2 * e_tr + r**2 / c**4 * e_tr2)
        mean = (d * tau2 / n + d * d * tau2 / (n * (m - d - 1))) / (2 * var)
    out = {"var": kl_var, "mean": mean, "tr_sigma": e_tr, "tr_sigma2": e_tr2}
    finite_result(list(out.values()), "the Wishart expectations")
    return {k: float(v) for k, v in out.items()}


def hellinger_asymptote(d: int, T: float, lam: float, sigma: float) -> float:
    """Large-n limit H^2_inf = 1 - (2 sqrt(r)/(1+r))^{d/2}, r = 1/(1+u), forward data model.

    At n -> infinity the fit is the population regression and Sigma_G = sigma^2 r I, mu_G = mu
    (forward model, u = e^{2T} Delta_T / sigma^2), so (3.4) gives this closed form (0.368 at
    d = 16, 0.943 at d = 100 for the Fig. 3 setting). Evaluated from log u (log r = -log(1 + u)
    by log-sum-exp), so tiny or huge ``sigma``, ``T`` and ``lam`` give the right value in [0, 1].

    Parameters
    ----------
    d : int
        Dimension, >= 1.
    T, lam : float
        Noising time and OU noise scale, > 0.
    sigma : float
        Standard deviation of the data, > 0.

    Returns
    -------
    float
        H^2_inf in [0, 1].

    See Also
    --------
    hellinger_sq, expected_hellinger

    References
    ----------
    Halder, Sec. 3.1, eq. (3.4), Fig. 3.

    Examples
    --------
    >>> round(hellinger_asymptote(100, 2.0, math.exp(-4), 1.0), 12)
    0.943209137847
    """
    d = check_int(d, "d", low=1)
    T, lam, sigma = _pos(T, "T"), _pos(lam, "lam"), _pos(sigma, "sigma")
    log_r = -float(np.logaddexp(0.0, _log_u(T, lam, sigma)))
    log_bc = math.log(2.0) + 0.5 * log_r - math.log1p(math.exp(log_r))  # per coordinate, <= 0
    return -math.expm1(0.5 * d * log_bc)


# --- L^2 distances to Gaussian KDEs (3.7) and Delta ----------------------------------------


def log_kde_cross(mu_G, Sigma_G, Y, eps: float) -> float:
    """log sum_k N(mu_G | Y_k, Sigma_G + eps^2 I), the cross term of (3.7), in log space.

    ``Sigma_G`` symmetric positive semi-definite (d, d), ``mu_G`` (d,), ``Y`` (n, d).
    ``ValueError`` if Sigma_G + eps^2 I is singular or infinite in float64, or if the squared
    distances overflow.

    >>> round(log_kde_cross([0.0], [[0.0]], np.zeros((1, 1)), 1.0), 12)
    -0.918938533205
    """
    S, _ = check_covariance(Sigma_G, "Sigma_G")
    d = S.shape[0]
    Y = _samples(Y, "Y")
    _same_dimension(Y, d)
    eps = _pos(eps, "eps")
    with np.errstate(over="ignore"):
        A = S + np.float64(eps) ** 2 * np.eye(d)
    try:
        if not np.all(np.isfinite(A)):
            raise np.linalg.LinAlgError
        L = np.linalg.cholesky(A)
    except np.linalg.LinAlgError as err:
        raise ValueError(
            f"Sigma_G + eps^2 I is singular or infinite in float64 (eps = {eps!r})"
        ) from err
    with np.errstate(over="ignore"):
        z = np.linalg.solve(L, (Y - _mean_vector(mu_G, d)).T)
        sq = np.einsum("ij,ij->j", z, z)
    logdet = 2.0 * float(np.sum(np.log(np.diag(L))))
    logs = -0.5 * sq - 0.5 * (d * _LOG_2PI + logdet)
    out = float(logsumexp(logs))
    if not math.isfinite(out):
        raise ValueError(
            "log sum_k N(mu_G | Y_k, Sigma_G + eps^2 I) is below the float64 range: |Y_k - mu_G|^2 "
            "overflows (rescale the data)"
        )
    return out


def _same_dimension(Y: np.ndarray, d: int, name: str = "Y") -> None:
    if Y.shape[1] != d:
        raise ValueError(f"{name} has dimension {Y.shape[1]} but Sigma_G is ({d}, {d})")


def log_kde_pair_offdiag(Y, eps: float, chunk: int = 512) -> float:
    """log sum_{i != j} N(Y_i | Y_j, 2 eps^2 I) (off-diagonal part of int rho_KDE^2), chunked GEMM.

    Returns -inf for a single sample.

    >>> round(log_kde_pair_offdiag(np.zeros((2, 1)), 1.0), 12)
    -0.572364942925
    """
    Y = _samples(Y, "Y")
    eps = _pos(eps, "eps")
    chunk = check_int(chunk, "chunk", low=1)
    n, d = Y.shape
    if n < 2:
        return -math.inf
    chunk = min(chunk, n)
    check_allocation(chunk * n, f"log_kde_pair_offdiag with chunk={chunk} and n={n}")
    with np.errstate(over="ignore"):
        Z = (Y - Y.mean(axis=0)) / (2.0 * eps)  # |Y_i - Y_j|^2 / (4 eps^2) = |Z_i - Z_j|^2
        sq = np.einsum("ij,ij->i", Z, Z)
    if not np.all(np.isfinite(sq)):
        raise ValueError(f"eps = {eps!r} is too small for the spread of Y: |Y|^2 / eps^2 overflows")
    maxes, sums = [], []
    for i0 in range(0, n - 1, chunk):  # upper triangle j > i, doubled
        i1 = min(i0 + chunk, n)
        G = Z[i0:i1] @ Z[i0:].T
        G *= 2.0
        G -= sq[None, i0:]
        G -= sq[i0:i1][:, None]
        np.minimum(G, 0.0, out=G)
        r, c = np.tril_indices(i1 - i0)
        G[r, c] = -np.inf
        m = float(G.max())
        np.subtract(G, m, out=G)
        np.exp(G, out=G)
        maxes.append(m)
        sums.append(float(G.sum()))
    mx = np.array(maxes)
    top = float(mx.max())
    total = float(np.sum(np.array(sums) * np.exp(mx - top)))
    return math.log(2.0) + top + math.log(total) - 0.5 * d * _log_4pi_eps2(eps)


def _log_4pi_eps2(eps: float) -> float:
    return math.log(4.0 * math.pi) + 2.0 * math.log(eps)


def _log_self(m: int, d: int, eps: float) -> float:
    return -math.log(m) - 0.5 * d * _log_4pi_eps2(eps)


def l2_gauss_kde(mu_G, Sigma_G, Y, eps: float) -> float:
    """E = int (rho_KDE - rho_G)^2 of (3.7), KDE (1/n) sum_k N(. | Y_k, eps^2 I); inf if singular.

    Every term is a Gaussian integral: int rho_G^2 = (4 pi)^{-d/2} det(Sigma_G)^{-1/2}, the
    cross term (1/n) sum_k N(mu_G | Y_k, Sigma_G + eps^2 I) and the KDE pair sum.

    Parameters
    ----------
    mu_G, Sigma_G : array_like
        Mean (d,) and covariance (d, d) (symmetric positive semi-definite) of rho_G.
    Y : array_like
        The KDE centres, (n, d).
    eps : float
        KDE bandwidth (standard deviation), > 0.

    Returns
    -------
    float
        E; inf for a singular Sigma_G. A term beyond float64 (a tiny ``eps`` or Sigma_G) raises
        ``ValueError`` (use :func:`delta_stat`, which stays in log space).

    See Also
    --------
    delta_stat : E_TG - E_OG in log space.

    References
    ----------
    Halder, Sec. 3.2, eqs. (3.6), (3.7).

    Examples
    --------
    >>> round(l2_gauss_kde([0.0], [[1.0]], np.zeros((1, 1)), 1.0), 15)
    0.0
    """
    S, w = check_covariance(Sigma_G, "Sigma_G")
    Y = _samples(Y, "Y")
    n, d = Y.shape
    _same_dimension(Y, S.shape[0])
    eps = _pos(eps, "eps")
    if _singular(w):
        return math.inf
    g2 = exp_or_raise(
        -0.5 * d * math.log(4.0 * math.pi) - 0.5 * float(np.sum(np.log(w))), "int rho_G^2"
    )
    cross = exp_or_raise(log_kde_cross(mu_G, S, Y, eps) - math.log(n), "the cross term of (3.7)")
    pairs = exp_or_raise(_log_self(n, d, eps), "the KDE self term") + exp_or_raise(
        log_kde_pair_offdiag(Y, eps) - 2 * math.log(n), "the KDE pair term"
    )
    return finite_result(g2 - 2.0 * cross + pairs, "E of (3.7)")


def _signed_log_sum(pos: list[float], neg: list[float]) -> tuple[int, float]:
    lp = float(logsumexp(pos)) if any(np.isfinite(pos)) else -math.inf
    ln = float(logsumexp(neg)) if any(np.isfinite(neg)) else -math.inf
    if lp == ln:
        return 0, -math.inf
    hi, lo = max(lp, ln), min(lp, ln)
    return (1 if lp > ln else -1), hi + math.log(-math.expm1(lo - hi))


def delta_stat(mu_G, Sigma_G, Y_train, Y_orig, eps_T: float, eps_O: float) -> tuple[int, float]:
    """Delta = E_TG - E_OG (3.6)-(3.7) as (sign, log |Delta|), never via E_TG and E_OG.

    int rho_G^2 cancels and is dropped (it diverges for n <= d); the KDE self terms
    (1/m)(4 pi eps^2)^{-d/2} are combined analytically and cancel exactly (and are dropped) when
    eps_T^d n = eps_O^d N to relative 1e-9 in log space, as for eps = sigma m^{-1/d}; the rest
    is a signed log-sum-exp of the four pieces, so the sign is right where the linear-space
    terms underflow (d = 100 near n = d, Fig. 4 (c)). The paper's (3.7) uses one symbol eps for
    both KDEs; the Fig. 4 caption's eps_T and eps_O are used here.

    Parameters
    ----------
    mu_G, Sigma_G : array_like
        Mean (d,) and covariance (d, d) of rho_G.
    Y_train : array_like
        The training samples (n, d) (centres of the train KDE).
    Y_orig : array_like
        Fresh samples (N, d) of the data law (centres of the original KDE).
    eps_T, eps_O : float
        Bandwidths of the two KDEs, > 0.

    Returns
    -------
    (sign, log_abs) : tuple of int and float
        Delta = sign * exp(log_abs) (sign 0 and log_abs -inf for Delta = 0).

    See Also
    --------
    l2_gauss_kde, prob_delta_positive

    References
    ----------
    Halder, Sec. 3.2, eqs. (3.6), (3.7), Fig. 4.

    Examples
    --------
    >>> Yt = np.array([[0.0], [1.0]]); Yo = np.array([[0.0], [0.5], [1.0], [2.0]])
    >>> s, lg = delta_stat([0.5], [[0.1]], Yt, Yo, 0.3, 0.3)
    >>> E = l2_gauss_kde([0.5], [[0.1]], Yt, 0.3) - l2_gauss_kde([0.5], [[0.1]], Yo, 0.3)
    >>> bool(np.isclose(s * math.exp(lg), E, rtol=1e-10))
    True
    """
    Yt = _samples(Y_train, "Y_train")
    Yo = _samples(Y_orig, "Y_orig")
    eps_T, eps_O = _pos(eps_T, "eps_T"), _pos(eps_O, "eps_O")
    n, d = Yt.shape
    N = Yo.shape[0]
    _same_dimension(Yo, d, "Y_orig")
    pos = [
        log_kde_pair_offdiag(Yt, eps_T) - 2 * math.log(n),
        math.log(2.0) + log_kde_cross(mu_G, Sigma_G, Yo, eps_O) - math.log(N),
    ]
    neg = [
        log_kde_pair_offdiag(Yo, eps_O) - 2 * math.log(N),
        math.log(2.0) + log_kde_cross(mu_G, Sigma_G, Yt, eps_T) - math.log(n),
    ]
    a, b = _log_self(n, d, eps_T), _log_self(N, d, eps_O)
    if abs(a - b) > 1e-9 * max(1.0, abs(a)):
        pos.append(a)
        neg.append(b)
    return _signed_log_sum(pos, neg)


# --- Monte Carlo over training sets --------------------------------------------------------


def simulate_generated(
    cfg: LinearDiffusionConfig, n: int, rng
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One training set: sample (3.8)/(B.1), fit (3.1), late-time params, return (mu_G, Sigma_G, Y).

    mu_X, sigma_X^2 are the estimates (3.2) if ``cfg.empirical_late_time`` else population values.

    Parameters
    ----------
    cfg : LinearDiffusionConfig
        The setting (data model, covariance form).
    n : int
        Training-set size, >= 2.
    rng : numpy.random.Generator or int
        Randomness.

    Returns
    -------
    (mu_G, Sigma_G, Y) : tuple of numpy.ndarray
        The generated Gaussian and the clean training samples Y (n, d).

    See Also
    --------
    sample_training_pairs, fit_linear_denoiser, late_time_params, generated_gaussian

    References
    ----------
    Halder, Sec. 3, eqs. (3.1)-(3.3), (3.8); App. B, eq. (B.1).

    Examples
    --------
    >>> mG, SG, Y = simulate_generated(LinearDiffusionConfig(d=3), 10, rng=1)
    >>> mG.shape, SG.shape, Y.shape
    ((3,), (3, 3), (10, 3))
    """
    _check_config(cfg)
    n = check_int(n, "n", low=2)
    X, Y = sample_training_pairs(cfg, n, rng)
    theta0, theta1 = fit_linear_denoiser(X, Y)
    if cfg.empirical_late_time:
        mu_X, sX2 = late_time_params(Y, cfg.T, cfg.lam)
    else:
        mu_X, sX2 = np.full(cfg.d, math.exp(-cfg.T) * cfg.mu), cfg.var_X
    mG, SG = generated_gaussian(theta0, theta1, mu_X, sX2, printed=cfg.printed)
    return mG, SG, Y


def simulate_slope_deviations(
    cfg: LinearDiffusionConfig, n: int, reps: int, rng
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Fit ``reps`` training sets of size n: the slope deviations P and the mean errors.

    With (s2, c, tau2) of :func:`model_params`, the fitted slope is theta1^T = c I + P, where
    P = W^{-1} x^T xi is the App.-B deviation of (B.5) (W = x^T x the centred Gram matrix, xi the
    regression noise); Sigma-hat_theta = P P^T + c (P + P^T). The mean error mu_G - mu uses the
    population mu_X = e^{-T} mu (as the exact E[KL_mean] of :func:`expected_kl_wishart` does).

    Parameters
    ----------
    cfg : LinearDiffusionConfig
        The setting.
    n : int
        Training-set size, >= 2.
    reps : int
        Number of training sets, ``1 <= reps <= 10**6``.
    rng : numpy.random.Generator or int
        Randomness.

    Returns
    -------
    (P, dm, s2, c) : tuple
        P of shape (reps, d, d), dm = mu_G - mu of shape (reps, d), and s2, c.

    See Also
    --------
    expected_kl_wishart : the exact moments of Tr Sigma-hat and Tr Sigma-hat^2.

    References
    ----------
    Halder, App. B, eqs. (B.5)-(B.8).

    Examples
    --------
    >>> P, dm, s2, c = simulate_slope_deviations(LinearDiffusionConfig(d=2), 8, 3, rng=0)
    >>> P.shape, dm.shape, round(c, 6)
    ((3, 2, 2), (3, 2), 3.728675)
    """
    _check_config(cfg)
    n = check_int(n, "n", low=2)
    reps = check_int(reps, "reps", low=1, high=_N_SIM_MAX)
    check_allocation(reps * cfg.d * cfg.d, f"{reps} slope deviations in dimension {cfg.d}")
    g = as_rng(rng)
    s2, c, _ = model_params(cfg)
    Ps, dm = [], []
    mu_X = np.full(cfg.d, math.exp(-cfg.T) * cfg.mu)
    for _ in range(reps):
        X, Y = sample_training_pairs(cfg, n, g)
        t0, t1 = fit_linear_denoiser(X, Y)
        Ps.append(t1.T - c * np.eye(cfg.d))
        dm.append(t0 + t1 @ mu_X - cfg.mu)
    return np.array(Ps), np.array(dm), s2, c


def prob_delta_positive(
    cfg: LinearDiffusionConfig, n: int, n_sim: int, rng, N: int = 10**4
) -> tuple[float, float]:
    """P(Delta > 0) over training and original sets, as 0.5 + 0.5 mean(sign Delta), and its SE.

    Bandwidths eps_T = sigma n^{-1/d}, eps_O = sigma N^{-1/d} (Fig. 4); a fresh original set of N
    samples of N(mu, sigma^2 I) per simulation; ``2 <= n_sim <= 10**6`` (``>= 2`` for the
    standard error).

    Parameters
    ----------
    cfg : LinearDiffusionConfig
        The setting.
    n : int
        Training-set size, >= 2.
    n_sim : int
        Number of (training set, original set) draws.
    rng : numpy.random.Generator or int
        Randomness.
    N : int, default 10**4
        Size of each original set.

    Returns
    -------
    (p, se) : tuple of float
        The estimate of P(Delta > 0) and its standard error.

    See Also
    --------
    delta_stat

    References
    ----------
    Halder, Sec. 3.2, Fig. 4.

    Examples
    --------
    >>> p, se = prob_delta_positive(LinearDiffusionConfig(d=2), 50, 4, rng=0, N=200)
    >>> 0.0 <= p <= 1.0
    True
    """
    _check_config(cfg)
    n, n_sim = check_int(n, "n", low=2), check_int(n_sim, "n_sim", low=2, high=_N_SIM_MAX)
    N = check_int(N, "N", low=2)
    check_allocation(N * cfg.d, f"an original set of N={N} samples in dimension {cfg.d}")
    g = as_rng(rng)
    d, sig = cfg.d, cfg.sigma
    eps_T, eps_O = sig * n ** (-1.0 / d), sig * N ** (-1.0 / d)
    signs = np.empty(n_sim)
    for k in range(n_sim):
        mG, SG, Y = simulate_generated(cfg, n, g)
        Yo = cfg.mu + sig * g.standard_normal((N, d))
        signs[k] = delta_stat(mG, SG, Y, Yo, eps_T, eps_O)[0]
    vals = 0.5 + 0.5 * signs
    return float(vals.mean()), float(vals.std(ddof=1) / math.sqrt(n_sim))


def expected_hellinger(cfg: LinearDiffusionConfig, n: int, n_sim: int, rng) -> tuple[float, float]:
    """Monte Carlo <H^2> (3.4) over training sets (Fig. 3) and its standard error.

    Parameters
    ----------
    cfg : LinearDiffusionConfig
        The setting.
    n : int
        Training-set size, >= 2.
    n_sim : int
        Number of training sets, ``2 <= n_sim <= 10**6``.
    rng : numpy.random.Generator or int
        Randomness.

    Returns
    -------
    (mean, se) : tuple of float
        The Monte Carlo mean of H^2 and its standard error.

    See Also
    --------
    hellinger_sq, hellinger_asymptote

    References
    ----------
    Halder, Sec. 3.1, eq. (3.4), Fig. 3.

    Examples
    --------
    >>> expected_hellinger(LinearDiffusionConfig(d=16), 10, 3, rng=0)[0]
    1.0
    """
    _check_config(cfg)
    n, n_sim = check_int(n, "n", low=2), check_int(n_sim, "n_sim", low=2, high=_N_SIM_MAX)
    g = as_rng(rng)
    h = np.array(
        [hellinger_sq(*simulate_generated(cfg, n, g)[:2], cfg.mu, cfg.sigma) for _ in range(n_sim)]
    )
    return float(h.mean()), float(h.std(ddof=1) / math.sqrt(n_sim))


# --- per-coordinate metric (4.1) -----------------------------------------------------------


#: Elements of one (rows, nB, d) block of the per-coordinate cross sums.
_MARGINAL_BLOCK = 2**22


def _marginal_cross(A: np.ndarray, B: np.ndarray, s: float) -> float:
    """sum_{a, b, i} N(A_ai - B_bi | 0, s^2), in row blocks of A (bounded memory)."""
    rows = max(1, _MARGINAL_BLOCK // max(1, B.shape[0] * B.shape[1]))
    total = 0.0
    with np.errstate(over="ignore"):
        for i0 in range(0, A.shape[0], rows):
            z = (A[i0 : i0 + rows, None, :] - B[None, :, :]) / s
            total += float(np.sum(np.exp(-0.5 * z * z)))
        return total / (math.sqrt(2.0 * math.pi) * s)


def marginal_l2_exact(A, eps_A: float, B, eps_B: float) -> float:
    """Exact (4.1): sum_i int (rho_{A,i} - rho_{B,i})^2 for per-coordinate 1-D Gaussian KDEs.

    Each coordinate's integral is a double sum of Gaussian products,
    int N(x|a, e_A^2) N(x|b, e_B^2) dx = N(a - b | 0, e_A^2 + e_B^2), so no grid is needed.

    Parameters
    ----------
    A : array_like
        Samples (nA, d) of the first set.
    eps_A : float
        Its bandwidth (the paper: sigma / nA), > 0.
    B : array_like
        Samples (nB, d) of the second set.
    eps_B : float
        Its bandwidth, > 0.

    Returns
    -------
    float
        The sum over coordinates of the exact L^2 distance.

    See Also
    --------
    marginal_l2_grid : the paper's 16-point grid version.

    References
    ----------
    Halder, Sec. 4, eq. (4.1).

    Examples
    --------
    >>> round(marginal_l2_exact(np.zeros((1, 1)), 1.0, np.ones((1, 1)), 1.0), 12)
    0.12479829408
    """
    A, B = _samples(A, "A"), _samples(B, "B")
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"A and B need the same dimension, got {A.shape}, {B.shape}")
    ea, eb = _pos(eps_A, "eps_A"), _pos(eps_B, "eps_B")
    na, nb = A.shape[0], B.shape[0]
    root2 = math.sqrt(2.0)
    with np.errstate(over="ignore", invalid="ignore"):
        out = (
            _marginal_cross(A, A, root2 * ea) / na**2
            + _marginal_cross(B, B, root2 * eb) / nb**2
            - 2.0 * _marginal_cross(A, B, math.hypot(ea, eb)) / (na * nb)
        )
    return finite_result(out, f"(4.1) at eps_A={ea!r}, eps_B={eb!r}")


def marginal_l2_grid(A, eps_A: float, B, eps_B: float, grid=None) -> float:
    """(4.1) on the paper's grid: mean over coordinates and grid points of (rho_A,i - rho_B,i)^2.

    Default grid: 16 equidistant points of [0, 1] (= mu +- 5 sigma for mu = 0.5, sigma = 0.1);
    the normalisation of the author's code (a mean over grid points, no factor Delta x). With
    the paper's eps = sigma / n the kernels are far narrower than the grid spacing, so this
    under-resolves the integral; :func:`marginal_l2_exact` is exact. It stays a function of its
    own rather than a ``printed=True`` of :func:`marginal_l2_exact`: it is a different quantity
    (a grid average that depends on ``grid``), not another formula for the same integral.

    >>> round(marginal_l2_grid(np.full((1, 1), 0.5), 0.1, np.full((1, 1), 0.5), 0.1), 12)
    0.0
    """
    A, B = _samples(A, "A"), _samples(B, "B")
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"A and B need the same dimension, got {A.shape}, {B.shape}")
    x = np.linspace(0.0, 1.0, 16) if grid is None else as_float_array(grid, "grid", ndim=1)
    if x.size == 0:
        raise ValueError("grid must hold at least one point")
    check_allocation(max(A.shape[0], B.shape[0]) * A.shape[1] * x.size, "marginal_l2_grid")
    ea, eb = _pos(eps_A, "eps_A"), _pos(eps_B, "eps_B")

    def dens(S: np.ndarray, eps: float) -> np.ndarray:  # (d, grid)
        z = (x[None, None, :] - S[:, :, None]) / eps
        return np.exp(-0.5 * z**2).mean(axis=0) / (eps * math.sqrt(2.0 * math.pi))

    with np.errstate(over="ignore", invalid="ignore"):
        out = float(np.mean((dens(A, ea) - dens(B, eb)) ** 2))
    return finite_result(out, f"(4.1) on the grid at eps_A={ea!r}, eps_B={eb!r}")
