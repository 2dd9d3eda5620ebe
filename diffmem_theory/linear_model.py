"""The solvable linear one-step diffusion model of Halder (paper 001, Sec. 3 and App. B).

Training pairs are drawn from either data model of the paper (``data_model="forward"``:
Y ~ N(mu, sigma^2 I), X = e^{-T} Y + sqrt(Delta_T) Z, eq. (3.8); ``"appendixB"``: X ~
N(e^{-T} mu, sigma_X^2 I), Y = e^T X + sqrt(Delta_T) Z, eq. (B.1)), with Delta_T = lam (1 -
e^{-2T}). The least-squares denoiser (3.1) uses the min-norm (Moore-Penrose) solution, so
n <= d is allowed. The generated law (3.3) is N(theta0 + theta1 mu_X, sigma_X^2 theta1 theta1^T)
(``convention="correct"``) or, as printed, sigma_X^2 theta1^T theta1 (``convention="paper"``).

Distances to the target N(mu, sigma^2 I): Hellinger (3.4) and the Gaussian KL (B.3, B.4) with its
mean/variance split (B.10), both in log/eigen space; L^2 distances to Gaussian KDEs (3.7) and
Delta = E_TG - E_OG, in which the divergent term int rho_G^2 and the KDE self terms cancel
analytically; Monte Carlo P(Delta > 0) and <H^2> over training sets. Expectations: the
deterministic equivalent <KL_var> (B.17) and exact finite-n Wishart formulas (notes §2.1).
Per-coordinate L^2 metric (4.1), exact and on a grid. All randomness goes through an explicit
``rng`` (``numpy.random.Generator`` or int seed).

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
    check_choice,
    check_int,
    check_scalar,
)

__all__ = [
    "LinearDiffusionConfig",
    "delta_stat",
    "expected_hellinger",
    "expected_kl_var_B17",
    "expected_kl_var_B17_u",
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
    "wishart_inverse_moments",
]

_DATA_MODELS = ("forward", "appendixB")
_CONVENTIONS = ("correct", "paper")
_LOG_2PI = math.log(2.0 * math.pi)


def _rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise ValueError(f"rng must be a numpy.random.Generator or an int seed, got {rng!r}")


def _pos(x, name: str) -> float:
    return check_scalar(x, name, low=0.0, low_open=True)


def noise_variance(T: float, lam: float) -> float:
    """Delta_T = lam (1 - e^{-2T}), the one-step noise variance of (3.8) (footnote 5).

    >>> round(noise_variance(2.0, math.exp(-4)), 12)
    0.017980176261
    """
    T, lam = _pos(T, "T"), _pos(lam, "lam")
    return -lam * math.expm1(-2.0 * T)


@dataclass(frozen=True)
class LinearDiffusionConfig:
    """Setting of the linear model (defaults: Figs. 3-4 of paper 001, mu = 10, sigma = 1, T = 2).

    ``lam`` is the noise scale (Figs. 3-4: e^{-4}, i.e. lambda-hat = 1); ``data_model`` is
    ``"forward"`` (Sec. 3) or ``"appendixB"`` (B.1); ``convention`` the generated covariance
    (``"correct"`` theta theta^T or ``"paper"`` theta^T theta); ``empirical_late_time`` uses the
    estimates (3.2) for mu_X, sigma_X^2 (True) instead of the population values.

    >>> c = LinearDiffusionConfig(d=4)
    >>> round(c.delta_T, 6), round(c.sigma_X2, 6), round(c.u, 6)
    (0.01798, 0.036296, 0.981684)
    """

    d: int
    mu: float = 10.0
    sigma: float = 1.0
    T: float = 2.0
    lam: float = math.exp(-4.0)
    data_model: str = "forward"
    convention: str = "correct"
    empirical_late_time: bool = True

    def __post_init__(self) -> None:
        check_int(self.d, "d", low=1)
        check_scalar(self.mu, "mu")
        _pos(self.sigma, "sigma")
        _pos(self.T, "T")
        _pos(self.lam, "lam")
        check_choice(self.data_model, "data_model", _DATA_MODELS)
        check_choice(self.convention, "convention", _CONVENTIONS)

    @property
    def delta_T(self) -> float:
        """Delta_T = lam (1 - e^{-2T})."""
        return noise_variance(self.T, self.lam)

    @property
    def sigma_X2(self) -> float:
        """Population sigma_X^2 = e^{-2T} sigma^2 + Delta_T."""
        return math.exp(-2.0 * self.T) * self.sigma**2 + self.delta_T

    @property
    def u(self) -> float:
        """u = e^{2T} Delta_T / sigma^2 (late-time: lambda-hat (1 - e^{-2T}))."""
        return math.exp(2.0 * self.T) * self.delta_T / self.sigma**2


def sample_training_pairs(cfg: LinearDiffusionConfig, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Draw n training pairs (X, Y), each (n, d), from ``cfg.data_model`` ((3.8) or (B.1)).

    >>> X, Y = sample_training_pairs(LinearDiffusionConfig(d=3), 5, rng=0)
    >>> X.shape, Y.shape
    ((5, 3), (5, 3))
    """
    n = check_int(n, "n", low=1)
    g = _rng(rng)
    d, eT, dT = cfg.d, math.exp(-cfg.T), cfg.delta_T
    if cfg.data_model == "forward":
        Y = cfg.mu + cfg.sigma * g.standard_normal((n, d))
        X = eT * Y + math.sqrt(dT) * g.standard_normal((n, d))
    else:
        X = eT * cfg.mu + math.sqrt(cfg.sigma_X2) * g.standard_normal((n, d))
        Y = X / eT + math.sqrt(dT) * g.standard_normal((n, d))
    return X, Y


def fit_linear_denoiser(X, Y) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares fit Y ~ theta0 + theta1 X (3.1)/(B.2); min-norm solution when n <= d.

    Returns theta0 (d,) and theta1 (d, d) with theta1^T = (x^T x)^+ x^T y on centred data.

    >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> t0, t1 = fit_linear_denoiser(X, 2 * X + 1)
    >>> np.round(t0, 12).tolist(), np.abs(np.round(t1, 12)).tolist()
    ([1.0, 1.0], [[2.0, 0.0], [0.0, 2.0]])
    """
    X = as_float_array(X, "X", ndim=2, dtype=np.float64)
    Y = as_float_array(Y, "Y", ndim=2, dtype=np.float64)
    if X.shape[0] != Y.shape[0] or X.shape[0] < 2:
        raise ValueError(f"X and Y need the same number n >= 2 of rows, got {X.shape}, {Y.shape}")
    Xb, Yb = X.mean(axis=0), Y.mean(axis=0)
    theta1_T = np.linalg.lstsq(X - Xb, Y - Yb, rcond=None)[0]
    theta1 = theta1_T.T
    return Yb - theta1 @ Xb, theta1


def late_time_params(Y, T: float, lam: float) -> tuple[np.ndarray, float]:
    """Estimates (3.2): mu_X = e^{-T} Y-bar, sigma_X^2 = e^{-2T} sum|Y_k - Y-bar|^2/(nd) + Delta_T.

    >>> mu_X, s2 = late_time_params(np.array([[0.0], [2.0]]), 1.0, 1.0)
    >>> round(float(mu_X[0]), 6), round(s2, 6)
    (0.367879, 1.0)
    """
    Y = as_float_array(Y, "Y", ndim=2, dtype=np.float64)
    dT = noise_variance(T, lam)
    eT = math.exp(-T)
    Yb = Y.mean(axis=0)
    return eT * Yb, eT**2 * float(np.mean((Y - Yb) ** 2)) + dT


def generated_gaussian(
    theta0, theta1, mu_X, sigma_X2: float, convention: str = "correct"
) -> tuple[np.ndarray, np.ndarray]:
    """Generated law (3.3): mean theta0 + theta1 mu_X, covariance sigma_X^2 theta1 theta1^T.

    ``convention="paper"`` gives the printed sigma_X^2 theta1^T theta1 (notes §5.1).

    >>> t1 = np.array([[1.0, 1.0], [0.0, 0.0]])
    >>> generated_gaussian(np.zeros(2), t1, np.ones(2), 1.0)[1].tolist()
    [[2.0, 0.0], [0.0, 0.0]]
    >>> generated_gaussian(np.zeros(2), t1, np.ones(2), 1.0, "paper")[1].tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    check_choice(convention, "convention", _CONVENTIONS)
    theta1 = as_float_array(theta1, "theta1", ndim=2)
    theta0 = as_float_array(theta0, "theta0", ndim=1)
    s2 = _pos(sigma_X2, "sigma_X2")
    mu_G = theta0 + theta1 @ np.broadcast_to(as_float_array(mu_X, "mu_X"), theta0.shape)
    S = theta1 @ theta1.T if convention == "correct" else theta1.T @ theta1
    return mu_G, s2 * 0.5 * (S + S.T)


def _eig_sym(S: np.ndarray) -> np.ndarray:
    return np.linalg.eigvalsh(0.5 * (S + S.T))


def _singular(w: np.ndarray) -> bool:
    scale = max(float(np.max(np.abs(w))), np.finfo(float).tiny)
    return bool(w.min() <= 1e3 * len(w) * np.finfo(float).eps * scale)


def _target(mu, d: int) -> np.ndarray:
    return np.broadcast_to(as_float_array(mu, "mu", ndim=(0, 1)), (d,))


def hellinger_sq(mu_G, Sigma_G, mu, sigma: float) -> float:
    """Squared Hellinger distance (3.4) between N(mu_G, Sigma_G) and N(mu, sigma^2 I), log space.

    Returns 1.0 exactly for a (numerically) singular Sigma_G (n <= d). ``mu`` scalar or (d,).

    >>> round(hellinger_sq([0.0], [[1.0]], 0.0, 1.0), 15)
    0.0
    >>> hellinger_sq([0, 0], np.zeros((2, 2)), 0, 1)
    1.0
    """
    S = as_float_array(Sigma_G, "Sigma_G", ndim=2)
    d = S.shape[0]
    mG = as_float_array(mu_G, "mu_G", ndim=1)
    s2 = _pos(sigma, "sigma") ** 2
    w, V = np.linalg.eigh(0.5 * (S + S.T))
    if _singular(w):
        return 1.0
    diff = V.T @ (mG - _target(mu, d))
    log_bc = (
        0.5 * d * math.log(2.0)
        + 0.25 * float(np.sum(np.log(w)))
        + 0.25 * d * math.log(s2)
        - 0.5 * float(np.sum(np.log(w + s2)))
        - 0.25 * float(np.sum(diff**2 / (w + s2)))
    )
    return float(min(1.0, max(0.0, -math.expm1(min(log_bc, 0.0)))))


def kl_gaussian(mu1, S1, mu2, S2) -> float:
    """KL(N(mu1, S1) || N(mu2, S2)) of (B.3); +inf if S1 is singular; S2 must be positive definite.

    >>> round(kl_gaussian([0.0], [[2.0]], [1.0], [[1.0]]), 12)
    0.65342640972
    """
    S1 = as_float_array(S1, "S1", ndim=2)
    S2 = as_float_array(S2, "S2", ndim=2)
    m = as_float_array(mu1, "mu1", ndim=1) - as_float_array(mu2, "mu2", ndim=1)
    d = S1.shape[0]
    try:
        L = np.linalg.cholesky(0.5 * (S2 + S2.T))
    except np.linalg.LinAlgError as err:
        raise ValueError("S2 must be symmetric positive definite") from err
    w1 = _eig_sym(S1)
    if _singular(w1):
        return math.inf
    A = np.linalg.solve(L, S1)
    tr = float(np.trace(np.linalg.solve(L, A.T)))
    z = np.linalg.solve(L, m)
    logdet2 = 2.0 * float(np.sum(np.log(np.diag(L))))
    return 0.5 * (tr - d - float(np.sum(np.log(w1))) + logdet2 + float(z @ z))


def kl_generated(mu_G, Sigma_G, mu, sigma: float) -> dict[str, float]:
    """KL(rho_G || rho) for rho = N(mu, sigma^2 I) (B.4) and its split (B.10).

    With sigma-hat_G = Sigma_G/sigma^2 - I (eigenvalues s_i): ``mean`` = |mu - mu_G|^2/(2 sigma^2),
    ``var_exact`` = (1/2) sum (s_i - log(1 + s_i)), ``var_quad`` = (1/4) sum s_i^2 (B.10),
    ``exact`` = mean + var_exact. Note exact >= var_quad fails in general (notes §5.12).

    >>> r = kl_generated([0.0, 0.0], 2 * np.eye(2), 0.0, 1.0)
    >>> round(r["exact"], 12), r["var_quad"], r["mean"]
    (0.30685281944, 0.5, 0.0)
    """
    S = as_float_array(Sigma_G, "Sigma_G", ndim=2)
    d = S.shape[0]
    s2 = _pos(sigma, "sigma") ** 2
    diff = as_float_array(mu_G, "mu_G", ndim=1) - _target(mu, d)
    w = _eig_sym(S)
    s = w / s2 - 1.0
    mean = float(diff @ diff) / (2.0 * s2)
    if _singular(w):
        var_exact = math.inf
    else:
        var_exact = 0.5 * float(np.sum(s - np.log1p(s)))
    return {
        "exact": mean + var_exact,
        "mean": mean,
        "var_exact": var_exact,
        "var_quad": 0.25 * float(np.sum(s**2)),
    }


# --- expectations over training sets -------------------------------------------------------


def expected_kl_var_B17_u(d: int, alpha: float, T: float, u: float) -> float:
    """Simplified (B.17): d [u^2/4 + alpha e^{-2T} u (1 + 2u)/2 + alpha^2 e^{-4T} u^2/4].

    >>> expected_kl_var_B17_u(4, 0.0, 1.0, 1.0)
    1.0
    """
    d = check_int(d, "d", low=1)
    alpha = check_scalar(alpha, "alpha", low=0.0)
    T = _pos(T, "T")
    u = check_scalar(u, "u", low=0.0)
    e2 = math.exp(-2.0 * T)
    return d * (0.25 * u**2 + 0.5 * alpha * e2 * u * (1 + 2 * u) + 0.25 * alpha**2 * e2**2 * u**2)


def expected_kl_var_B17(d: int, n: int, T: float, sigma: float, lam: float) -> float:
    """Deterministic equivalent <KL_var> of (B.17), literally as printed (alpha = d/n).

    >>> f"{expected_kl_var_B17(16, 10**4, 2.0, 1.0, math.exp(-4)):.5g}"
    '3.8555'
    """
    d, n = check_int(d, "d", low=1), check_int(n, "n", low=2)
    T, sigma, lam = _pos(T, "T"), _pos(sigma, "sigma"), _pos(lam, "lam")
    a = d / n
    s2 = sigma**2
    dT = noise_variance(T, lam)
    sX2 = math.exp(-2 * T) * s2 + dT
    k = math.exp(-2 * T) + dT / s2
    e2T = math.exp(2 * T)
    return (
        0.25 * k**2 * (a**2 * d * dT**2 / sX2**2 + 2 * e2T * a * d * dT / sX2)
        + 0.5 * k * dT / s2 * e2T * a * d * dT / sX2
        + 0.25 * d * (e2T * dT / s2) ** 2
    )


def wishart_inverse_moments(d: int, n: int, s2: float) -> tuple[float, float, float]:
    """(E tr W^-1, E tr W^-2, E (tr W^-1)^2) for W ~ Wishart_d(s2 I, m = n - 1), n > d + 4.

    >>> [round(v, 12) for v in wishart_inverse_moments(1, 10, 1.0)]
    [0.142857142857, 0.028571428571, 0.028571428571]
    """
    d, n = check_int(d, "d", low=1), check_int(n, "n", low=2)
    s2 = _pos(s2, "s2")
    m = n - 1
    if m - d - 3 <= 0:
        raise ValueError(f"the Wishart moments need n > d + 4, got n={n}, d={d}")
    a, b, c = m - d - 1, m - d, m - d - 3
    t1 = d / (s2 * a)
    t2 = d * (m - 1) / (s2**2 * b * a * c)
    t11 = (d**2 / a**2 + (2 * d**2 / a + 2 * d) / (b * a * c)) / s2**2
    return t1, t2, t11


def model_params(cfg: LinearDiffusionConfig) -> tuple[float, float, float]:
    """(s2, c, tau2) of the well-specified model X ~ N(., s2 I), Y = b + c X + N(0, tau2 I).

    App-B: (sigma_X^2, e^T, Delta_T); forward: (sigma_X^2, e^{-T} sigma^2/sigma_X^2,
    sigma^2 Delta_T/sigma_X^2) with population sigma_X^2 (notes §1.4, §2.1).

    >>> [round(v, 9) for v in model_params(LinearDiffusionConfig(d=16))]
    [0.036295815, 3.728674578, 0.49537877]
    """
    s2 = cfg.sigma_X2
    if cfg.data_model == "appendixB":
        return s2, math.exp(cfg.T), cfg.delta_T
    return s2, math.exp(-cfg.T) * cfg.sigma**2 / s2, cfg.sigma**2 * cfg.delta_T / s2


def expected_kl_wishart(
    d: int, n: int, s2: float, c: float, tau2: float, sigma2: float
) -> dict[str, float]:
    """Exact finite-n E[KL_var] (quadratic, B.10) and E[KL_mean] (notes §2.1), n > d + 4.

    Also returns E Tr Sigma-hat and E Tr Sigma-hat^2 (Sigma-hat = PP^T + c(P + P^T)); the
    KL_mean value assumes mu_G built with the population mu_X; ``sigma2`` is the target variance.

    >>> s2, c, t2 = model_params(LinearDiffusionConfig(d=16, data_model="appendixB"))
    >>> round(expected_kl_wishart(16, 10**4, s2, c, t2, 1.0)["var"], 4)
    3.8555
    """
    d, n = check_int(d, "d", low=1), check_int(n, "n", low=2)
    s2, c, tau2, sigma2 = (
        _pos(v, k) for v, k in ((s2, "s2"), (c, "c"), (tau2, "tau2"), (sigma2, "sigma2"))
    )
    t1, t2, t11 = wishart_inverse_moments(d, n, s2)
    m = n - 1
    e_tr = d * tau2 * t1
    e_tr2 = tau2**2 * ((d * d + d) * t2 + d * t11) + c * c * tau2 * (2 + 2 * d) * t1
    r = s2 * c * c / sigma2
    var = 0.25 * (d * (r - 1) ** 2 + 2 * (r - 1) * r / c**2 * e_tr + r**2 / c**4 * e_tr2)
    mean = (d * tau2 / n + d * d * tau2 / (n * (m - d - 1))) / (2 * sigma2)
    return {"var": var, "mean": mean, "tr_sigma": e_tr, "tr_sigma2": e_tr2}


def hellinger_asymptote(d: int, T: float, lam: float, sigma: float) -> float:
    """Large-n limit H^2_inf = 1 - (2 sqrt(r)/(1+r))^{d/2}, r = 1/(1+u), forward data model.

    >>> round(hellinger_asymptote(100, 2.0, math.exp(-4), 1.0), 12)
    0.943209137847
    """
    d = check_int(d, "d", low=1)
    cfg = LinearDiffusionConfig(d=d, sigma=sigma, T=T, lam=lam)
    r = 1.0 / (1.0 + cfg.u)
    return -math.expm1(0.5 * d * (math.log(2.0) + 0.5 * math.log(r) - math.log1p(r)))


# --- L^2 distances to Gaussian KDEs (3.7) and Delta ----------------------------------------


def log_kde_cross(mu_G, Sigma_G, Y, eps: float) -> float:
    """log sum_k N(mu_G | Y_k, Sigma_G + eps^2 I), the cross term of (3.7), in log space.

    >>> round(log_kde_cross([0.0], [[0.0]], np.zeros((1, 1)), 1.0), 12)
    -0.918938533205
    """
    S = as_float_array(Sigma_G, "Sigma_G", ndim=2)
    Y = as_float_array(Y, "Y", ndim=2, dtype=np.float64)
    eps = _pos(eps, "eps")
    d = S.shape[0]
    A = 0.5 * (S + S.T) + eps**2 * np.eye(d)
    L = np.linalg.cholesky(A)
    z = np.linalg.solve(L, (Y - as_float_array(mu_G, "mu_G", ndim=1)).T)
    logdet = 2.0 * float(np.sum(np.log(np.diag(L))))
    logs = -0.5 * np.einsum("ij,ij->j", z, z) - 0.5 * (d * _LOG_2PI + logdet)
    return float(logsumexp(logs))


def log_kde_pair_offdiag(Y, eps: float, chunk: int = 512) -> float:
    """log sum_{i != j} N(Y_i | Y_j, 2 eps^2 I) (off-diagonal part of int rho_KDE^2), chunked GEMM.

    Returns -inf for a single sample.

    >>> round(log_kde_pair_offdiag(np.zeros((2, 1)), 1.0), 12)
    -0.572364942925
    """
    Y = as_float_array(Y, "Y", ndim=2, dtype=np.float64)
    eps = _pos(eps, "eps")
    chunk = check_int(chunk, "chunk", low=1)
    n, d = Y.shape
    if n < 2:
        return -math.inf
    Yc = Y - Y.mean(axis=0)
    sq = np.einsum("ij,ij->i", Yc, Yc)
    sc = 1.0 / (4.0 * eps**2)
    maxes, sums = [], []
    for i0 in range(0, n - 1, chunk):  # upper triangle j > i, doubled
        i1 = min(i0 + chunk, n)
        G = Yc[i0:i1] @ Yc[i0:].T
        G *= 2.0 * sc
        G -= sc * sq[None, i0:]
        G -= (sc * sq[i0:i1])[:, None]
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
    return math.log(2.0) + top + math.log(total) - 0.5 * d * math.log(4.0 * math.pi * eps**2)


def _log_self(m: int, d: int, eps: float) -> float:
    return -math.log(m) - 0.5 * d * math.log(4.0 * math.pi * eps**2)


def l2_gauss_kde(mu_G, Sigma_G, Y, eps: float) -> float:
    """E = int (rho_KDE - rho_G)^2 of (3.7), KDE (1/n) sum_k N(. | Y_k, eps^2 I); inf if singular.

    >>> round(l2_gauss_kde([0.0], [[1.0]], np.zeros((1, 1)), 1.0), 15)
    0.0
    """
    S = as_float_array(Sigma_G, "Sigma_G", ndim=2)
    Y = as_float_array(Y, "Y", ndim=2, dtype=np.float64)
    n, d = Y.shape
    w = _eig_sym(S)
    if _singular(w):
        return math.inf
    g2 = math.exp(-0.5 * d * math.log(4.0 * math.pi) - 0.5 * float(np.sum(np.log(w))))
    cross = math.exp(log_kde_cross(mu_G, S, Y, eps) - math.log(n))
    pairs = math.exp(_log_self(n, d, eps)) + math.exp(
        log_kde_pair_offdiag(Y, eps) - 2 * math.log(n)
    )
    return g2 - 2.0 * cross + pairs


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
    is a signed log-sum-exp of the four pieces (notes §3, Fig. 4 (a)-(c)).

    >>> Yt = np.array([[0.0], [1.0]]); Yo = np.array([[0.0], [0.5], [1.0], [2.0]])
    >>> s, lg = delta_stat([0.5], [[0.1]], Yt, Yo, 0.3, 0.3)
    >>> E = l2_gauss_kde([0.5], [[0.1]], Yt, 0.3) - l2_gauss_kde([0.5], [[0.1]], Yo, 0.3)
    >>> bool(np.isclose(s * math.exp(lg), E, rtol=1e-10))
    True
    """
    Yt = as_float_array(Y_train, "Y_train", ndim=2, dtype=np.float64)
    Yo = as_float_array(Y_orig, "Y_orig", ndim=2, dtype=np.float64)
    eps_T, eps_O = _pos(eps_T, "eps_T"), _pos(eps_O, "eps_O")
    n, d = Yt.shape
    N = Yo.shape[0]
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

    >>> mG, SG, Y = simulate_generated(LinearDiffusionConfig(d=3), 10, rng=1)
    >>> mG.shape, SG.shape, Y.shape
    ((3,), (3, 3), (10, 3))
    """
    n = check_int(n, "n", low=2)
    X, Y = sample_training_pairs(cfg, n, rng)
    theta0, theta1 = fit_linear_denoiser(X, Y)
    if cfg.empirical_late_time:
        mu_X, sX2 = late_time_params(Y, cfg.T, cfg.lam)
    else:
        mu_X, sX2 = np.full(cfg.d, math.exp(-cfg.T) * cfg.mu), cfg.sigma_X2
    mG, SG = generated_gaussian(theta0, theta1, mu_X, sX2, cfg.convention)
    return mG, SG, Y


def prob_delta_positive(
    cfg: LinearDiffusionConfig, n: int, n_sim: int, rng, N: int = 10**4
) -> tuple[float, float]:
    """P(Delta > 0) over training and original sets, as 0.5 + 0.5 mean(sign Delta), and its SE.

    Bandwidths eps_T = sigma n^{-1/d}, eps_O = sigma N^{-1/d} (Fig. 4); a fresh original set of N
    samples of N(mu, sigma^2 I) per simulation.

    >>> p, se = prob_delta_positive(LinearDiffusionConfig(d=2), 50, 4, rng=0, N=200)
    >>> 0.0 <= p <= 1.0
    True
    """
    n, n_sim = check_int(n, "n", low=2), check_int(n_sim, "n_sim", low=1)
    N = check_int(N, "N", low=2)
    g = _rng(rng)
    d, sig = cfg.d, cfg.sigma
    eps_T, eps_O = sig * n ** (-1.0 / d), sig * N ** (-1.0 / d)
    signs = np.empty(n_sim)
    for k in range(n_sim):
        mG, SG, Y = simulate_generated(cfg, n, g)
        Yo = cfg.mu + sig * g.standard_normal((N, d))
        signs[k] = delta_stat(mG, SG, Y, Yo, eps_T, eps_O)[0]
    vals = 0.5 + 0.5 * signs
    se = float(vals.std(ddof=1) / math.sqrt(n_sim)) if n_sim > 1 else math.nan
    return float(vals.mean()), se


def expected_hellinger(cfg: LinearDiffusionConfig, n: int, n_sim: int, rng) -> tuple[float, float]:
    """Monte Carlo <H^2> (3.4) over training sets (Fig. 3) and its standard error.

    >>> expected_hellinger(LinearDiffusionConfig(d=16), 10, 3, rng=0)[0]
    1.0
    """
    n, n_sim = check_int(n, "n", low=2), check_int(n_sim, "n_sim", low=1)
    g = _rng(rng)
    h = np.array(
        [hellinger_sq(*simulate_generated(cfg, n, g)[:2], cfg.mu, cfg.sigma) for _ in range(n_sim)]
    )
    se = float(h.std(ddof=1) / math.sqrt(n_sim)) if n_sim > 1 else math.nan
    return float(h.mean()), se


# --- per-coordinate metric (4.1) -----------------------------------------------------------


def _marginal_cross(A: np.ndarray, B: np.ndarray, v: float) -> float:
    diff = A[:, None, :] - B[None, :, :]
    return float(np.sum(np.exp(-0.5 * diff**2 / v)) / math.sqrt(2.0 * math.pi * v))


def marginal_l2_exact(A, eps_A: float, B, eps_B: float) -> float:
    """Exact (4.1): sum_i int (rho_{A,i} - rho_{B,i})^2 for per-coordinate 1-D Gaussian KDEs.

    ``A`` (nA, d) and ``B`` (nB, d) with bandwidths eps_A, eps_B (the paper: sigma/(set size)).

    >>> round(marginal_l2_exact(np.zeros((1, 1)), 1.0, np.ones((1, 1)), 1.0), 12)
    0.12479829408
    """
    A = as_float_array(A, "A", ndim=2, dtype=np.float64)
    B = as_float_array(B, "B", ndim=2, dtype=np.float64)
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"A and B need the same dimension, got {A.shape}, {B.shape}")
    va, vb = _pos(eps_A, "eps_A") ** 2, _pos(eps_B, "eps_B") ** 2
    na, nb = A.shape[0], B.shape[0]
    return (
        _marginal_cross(A, A, 2 * va) / na**2
        + _marginal_cross(B, B, 2 * vb) / nb**2
        - 2.0 * _marginal_cross(A, B, va + vb) / (na * nb)
    )


def marginal_l2_grid(A, eps_A: float, B, eps_B: float, grid=None) -> float:
    """(4.1) on the paper's grid: mean over coordinates and grid points of (rho_A,i - rho_B,i)^2.

    Default grid: 16 equidistant points of [0, 1] (= mu +- 5 sigma for mu = 0.5, sigma = 0.1);
    the author's normalisation (a mean, no Delta x), notes §5.19.

    >>> round(marginal_l2_grid(np.full((1, 1), 0.5), 0.1, np.full((1, 1), 0.5), 0.1), 12)
    0.0
    """
    A = as_float_array(A, "A", ndim=2, dtype=np.float64)
    B = as_float_array(B, "B", ndim=2, dtype=np.float64)
    x = np.linspace(0.0, 1.0, 16) if grid is None else as_float_array(grid, "grid", ndim=1)

    def dens(S: np.ndarray, eps: float) -> np.ndarray:  # (d, grid)
        z = (x[None, None, :] - S[:, :, None]) / eps
        return np.exp(-0.5 * z**2).mean(axis=0) / (eps * math.sqrt(2.0 * math.pi))

    diff = dens(A, _pos(eps_A, "eps_A")) - dens(B, _pos(eps_B, "eps_B"))
    return float(np.mean(diff**2))
