r"""mpmath twins of the linear-model distances of Halder (paper 001), Sec. 3 and App. B.

Each function takes a ``dps`` (decimal digits, default 50) and returns ``mpmath.mpf`` values; it
is the high-precision twin of the float64 function of :mod:`diffmem_theory.mixing.linear_model`
with the same name less ``_mp`` (the module is named after the module it twins):

* :func:`hellinger_sq_mp` (and :func:`log_bhattacharyya_mp` = log(1 - H^2)) -- Hellinger (3.4)
  between N(mu_G, Sigma_G) and N(mu, sigma^2 I);
* :func:`kl_gaussian_mp` -- the Gaussian KL (B.3);
* :func:`kl_generated_mp` -- KL(rho_G || rho) (B.4) with its mean / variance split (B.10);
* :func:`expected_kl_var_b_17_mp`, :func:`expected_kl_var_b_17_u_mp` -- the deterministic
  equivalent <KL_var> (B.17), as printed and in the simplified u-form.

The mixing time t_M (2.9) at ``dps`` is :func:`diffmem_theory.mixing.mixing_time.t_mixing` with
``dps=``.

Matrices are handled without an eigen-decomposition: every quantity is a log-determinant, a
trace or a quadratic form, computed from Cholesky factors at ``dps`` digits (O(d^3) mpf
operations: ~0.3 s per factor at d = 100; ``mpmath.eigsy`` takes ~14 s there). A 1-D
``Sigma`` is read as the diagonal of a diagonal covariance (O(d), the isotropic / diagonal
specialisation). Array entries may be floats (converted exactly), ints, decimal strings or
``mpf``, so perturbations below float64 resolution can be expressed. A covariance whose Cholesky
factorisation meets a pivot <= 0 at ``dps`` digits is singular: then H^2 = 1 and KL = +inf (the
float64 code instead uses a relative tolerance ~1e3 d eps). A covariance that is not symmetric
positive semi-definite (a negative diagonal entry, or a negative eigenvalue beyond float64
rounding) raises ``ValueError``, as in :mod:`diffmem_theory.mixing.linear_model`.

>>> print(mpmath.nstr(hellinger_sq_mp([0.0], [[2.0]], 0.0, 1.0, dps=30), 20))
0.029016456585353159433
>>> print(mpmath.nstr(kl_gaussian_mp([0.0], [[2.0]], [1.0], [[1.0]], dps=30), 20))
0.65342640972002734529
"""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np
from numpy.typing import ArrayLike

from diffmem_theory._mp import mpf, pos_mpf, vec
from diffmem_theory._validation import check_allocation, check_covariance, check_dps, check_int
from diffmem_theory.mixing.linear_model import b_17_domain_error

__all__ = [
    "expected_kl_var_b_17_mp",
    "expected_kl_var_b_17_u_mp",
    "hellinger_sq_mp",
    "kl_gaussian_mp",
    "kl_generated_mp",
    "log_bhattacharyya_mp",
]

_DEFAULT_DPS = 50


# --- conversion and validation -----------------------------------------------------------------


def _cov(S: ArrayLike, name: str) -> tuple[int, list[list[mpmath.mpf]] | list[mpmath.mpf], bool]:
    """(d, entries, diagonal): a 1-D input is a diagonal covariance, a 2-D one is symmetrised.

    The matrix must be symmetric positive semi-definite: a negative diagonal entry, or a
    negative eigenvalue beyond float64 rounding of the matrix scaled to max |entry| = 1
    (:func:`diffmem_theory._validation.check_covariance`), raises ``ValueError``.
    """
    a = np.asarray(S, dtype=object)
    if a.ndim == 1:
        if a.shape[0] < 1:
            raise ValueError(f"{name} must be non-empty")
        diag = [mpf(v, name) for v in a.tolist()]
        low = min(diag)
        if low < 0:
            raise ValueError(f"{name} must have diagonal entries >= 0, got {mpmath.nstr(low, 6)}")
        return a.shape[0], diag, True
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] < 1:
        raise ValueError(f"{name} must be a square (d, d) matrix or a (d,) diagonal, got {a.shape}")
    d = a.shape[0]
    check_allocation(d * d, f"{name} of shape {a.shape} in mpmath", itemsize=256)
    rows = [[mpf(v, name) for v in r] for r in a.tolist()]
    scale = max(abs(v) for r in rows for v in r)
    if scale > 0:
        check_covariance([[float(v / scale) for v in r] for r in rows], name)
    half = mpmath.mpf(1) / 2
    return d, [[half * (rows[i][j] + rows[j][i]) for j in range(d)] for i in range(d)], False


def _cholesky(A: list[list[mpmath.mpf]]) -> list[list[mpmath.mpf]] | None:
    """Lower Cholesky factor of a symmetric matrix at the working precision; None if not PD."""
    d = len(A)
    L = [[mpmath.mpf(0)] * d for _ in range(d)]
    for j in range(d):
        Lj = L[j]
        s = A[j][j] - mpmath.fsum(v * v for v in Lj[:j])
        if s <= 0:
            return None
        ljj = mpmath.sqrt(s)
        Lj[j] = ljj
        for i in range(j + 1, d):
            Li = L[i]
            Li[j] = (A[i][j] - mpmath.fdot(Li[:j], Lj[:j])) / ljj
    return L


def _forward(L: list[list[mpmath.mpf]], b: list[mpmath.mpf]) -> list[mpmath.mpf]:
    """Solve L z = b for lower-triangular L."""
    z: list[mpmath.mpf] = []
    for i, Li in enumerate(L):
        z.append((b[i] - mpmath.fdot(Li[:i], z)) / Li[i])
    return z


def _logdet_chol(L: list[list[mpmath.mpf]]) -> mpmath.mpf:
    return 2 * mpmath.fsum(mpmath.log(L[i][i]) for i in range(len(L)))


# --- Hellinger (3.4) ---------------------------------------------------------------------------


def log_bhattacharyya_mp(
    mu_G: ArrayLike, Sigma_G: ArrayLike, mu: Any, sigma: Any, *, dps: int = _DEFAULT_DPS
) -> mpmath.mpf:
    r"""log BC = log(1 - H^2) between N(mu_G, Sigma_G) and N(mu, sigma^2 I), eq. (3.4), at ``dps``.

        log BC = (d/2) log 2 + (1/4) log det Sigma_G + (d/4) log sigma^2
                 - (1/2) log det(Sigma_G + sigma^2 I)
                 - (1/4) (mu_G - mu)^T (Sigma_G + sigma^2 I)^{-1} (mu_G - mu).

    Resolves 1 - H^2 when H^2 rounds to 1 in float64 (log BC < -37).

    Parameters
    ----------
    mu_G : array_like
        Mean (d,) of rho_G; entries floats (exact), ints, decimal strings or ``mpf``.
    Sigma_G : array_like
        Covariance (d, d), or its (d,) diagonal; symmetric positive semi-definite.
    mu : array_like
        Target mean, scalar or (d,).
    sigma : float or str
        Target standard deviation, > 0.
    dps : int, default 50
        Decimal digits.

    Returns
    -------
    mpmath.mpf
        log BC <= 0; ``-inf`` if Sigma_G is singular.

    See Also
    --------
    hellinger_sq_mp : H^2 = -expm1(log BC).
    diffmem_theory.mixing.linear_model.hellinger_sq : the float64 twin.

    References
    ----------
    Halder, Sec. 3.1, eq. (3.4).

    Examples
    --------
    >>> print(mpmath.nstr(log_bhattacharyya_mp([60.0], [1.0], 0.0, 1.0), 15))
    -450.0
    """
    p = check_dps(dps)
    with mpmath.workdps(p + 10):
        d, S, diag = _cov(Sigma_G, "Sigma_G")
        diff = [a - b for a, b in zip(vec(mu_G, "mu_G", d), vec(mu, "mu", d), strict=True)]
        s2 = pos_mpf(sigma, "sigma") ** 2
        if diag:
            if min(S) <= 0:
                out = mpmath.mpf("-inf")
            else:
                out = mpmath.fsum(
                    mpmath.log(2 * mpmath.sqrt(w * s2) / (w + s2)) / 2 - z * z / (4 * (w + s2))
                    for w, z in zip(S, diff, strict=True)
                )
        else:
            L = _cholesky(S)
            if L is None:
                out = mpmath.mpf("-inf")
            else:
                A = [[S[i][j] + (s2 if i == j else 0) for j in range(d)] for i in range(d)]
                LA = _cholesky(A)
                if LA is None:  # cannot happen for PD Sigma_G; guard against bad input
                    raise ValueError("Sigma_G + sigma^2 I is not positive definite")
                z = _forward(LA, diff)
                out = (
                    d * mpmath.log(2) / 2
                    + _logdet_chol(L) / 4
                    + d * mpmath.log(s2) / 4
                    - _logdet_chol(LA) / 2
                    - mpmath.fdot(z, z) / 4
                )
        out = min(out, mpmath.mpf(0))
    with mpmath.workdps(p):
        return +out


def hellinger_sq_mp(
    mu_G: ArrayLike, Sigma_G: ArrayLike, mu: Any, sigma: Any, *, dps: int = _DEFAULT_DPS
) -> mpmath.mpf:
    r"""Squared Hellinger distance (3.4) at ``dps`` digits: H^2 = -expm1(log BC).

    Near H^2 = 0 (Sigma_G ~ sigma^2 I, mu_G ~ mu) the float64 version loses all digits below
    ~1e-16 and this one does not: for Sigma_G = sigma^2 (1 + e) I, H^2 = d e^2/16 + O(e^3).

    Parameters
    ----------
    mu_G : array_like
        Mean (d,) of rho_G; entries floats (exact), ints, decimal strings or ``mpf``.
    Sigma_G : array_like
        Covariance (d, d), or its (d,) diagonal; symmetric positive semi-definite.
    mu : array_like
        Target mean, scalar or (d,).
    sigma : float or str
        Target standard deviation, > 0.
    dps : int, default 50
        Decimal digits.

    Returns
    -------
    mpmath.mpf
        H^2 in [0, 1]; 1 for a singular Sigma_G.

    See Also
    --------
    diffmem_theory.mixing.linear_model.hellinger_sq : the float64 twin.
    log_bhattacharyya_mp : log(1 - H^2).

    References
    ----------
    Halder, Sec. 3.1, eq. (3.4).

    Examples
    --------
    >>> print(mpmath.nstr(hellinger_sq_mp([0, 0], ["1.0000000001"] * 2, 0, 1), 6))
    1.25e-21
    """
    lbc = log_bhattacharyya_mp(mu_G, Sigma_G, mu, sigma, dps=dps)
    with mpmath.workdps(check_dps(dps)):
        return -mpmath.expm1(lbc)


# --- KL (B.3), (B.4), (B.10) ---------------------------------------------------------------------


def kl_gaussian_mp(
    mu1: ArrayLike, S1: ArrayLike, mu2: ArrayLike, S2: ArrayLike, *, dps: int = _DEFAULT_DPS
) -> mpmath.mpf:
    r"""KL(N(mu1, S1) || N(mu2, S2)) of (B.3) at ``dps`` digits.

        KL = (1/2)[tr(S2^{-1} S1) - d - log det(S2^{-1} S1) + (mu1 - mu2)^T S2^{-1} (mu1 - mu2)]

    with tr(S2^{-1} S1) = ||L2^{-1} L1||_F^2 from the Cholesky factors. Resolves tiny KL
    (S1 ~ S2), where the float64 twin cancels tr - d - log det to ~1e-16.

    Parameters
    ----------
    mu1, mu2 : array_like
        Means, (d,).
    S1 : array_like
        Covariance (d, d) or its (d,) diagonal, symmetric positive semi-definite.
    S2 : array_like
        Covariance (d, d) or its (d,) diagonal, symmetric positive definite (``ValueError``).
    dps : int, default 50
        Decimal digits.

    Returns
    -------
    mpmath.mpf
        The KL; +inf if S1 is singular.

    See Also
    --------
    diffmem_theory.mixing.linear_model.kl_gaussian : the float64 twin.

    References
    ----------
    Halder, App. B, eq. (B.3).

    Examples
    --------
    >>> print(mpmath.nstr(kl_gaussian_mp([0.0], ["1.000000001"], [0.0], [1.0]), 8))
    2.5e-19
    """
    p = check_dps(dps)
    with mpmath.workdps(p + 10):
        d1, A1, diag1 = _cov(S1, "S1")
        d2, A2, diag2 = _cov(S2, "S2")
        if d1 != d2:
            raise ValueError(f"S1 and S2 need the same dimension, got {d1} and {d2}")
        d = d1
        m = [a - b for a, b in zip(vec(mu1, "mu1", d), vec(mu2, "mu2", d), strict=True)]
        if diag1 and diag2:
            if min(A2) <= 0:
                raise ValueError("S2 must be symmetric positive definite")
            if min(A1) <= 0:
                return mpmath.inf
            out = mpmath.fsum(
                (r - 1 - mpmath.log(r) + z * z / b) / 2
                for r, z, b in ((a / b, z, b) for a, b, z in zip(A1, A2, m, strict=True))
            )
        else:
            M1 = A1 if not diag1 else [[A1[i] if i == j else 0 for j in range(d)] for i in range(d)]
            M2 = A2 if not diag2 else [[A2[i] if i == j else 0 for j in range(d)] for i in range(d)]
            L2 = _cholesky(M2)
            if L2 is None:
                raise ValueError("S2 must be symmetric positive definite")
            L1 = _cholesky(M1)
            if L1 is None:
                return mpmath.inf
            # columns of L2^{-1} L1: forward-solve each column of L1 (zero above the diagonal)
            tr = mpmath.mpf(0)
            for j in range(d):
                col = _forward(L2, [L1[i][j] for i in range(d)])
                tr += mpmath.fdot(col, col)
            z = _forward(L2, m)
            out = (tr - d - _logdet_chol(L1) + _logdet_chol(L2) + mpmath.fdot(z, z)) / 2
        out = max(out, mpmath.mpf(0))
    with mpmath.workdps(p):
        return +out


def kl_generated_mp(
    mu_G: ArrayLike, Sigma_G: ArrayLike, mu: Any, sigma: Any, *, dps: int = _DEFAULT_DPS
) -> dict[str, mpmath.mpf]:
    r"""KL(rho_G || rho), rho = N(mu, sigma^2 I), (B.4) and its split (B.10), at ``dps`` digits.

    With sigma-hat_G = Sigma_G / sigma^2 - I: ``mean`` = |mu - mu_G|^2 / (2 sigma^2),
    ``var_exact`` = (1/2)(tr sigma-hat_G - log det(I + sigma-hat_G)), ``var_quad`` =
    (1/4) tr sigma-hat_G^2 = (1/4)||sigma-hat_G||_F^2 (B.10), ``exact`` = mean + var_exact.

    Parameters
    ----------
    mu_G : array_like
        Mean (d,) of rho_G; entries floats (exact), ints, decimal strings or ``mpf``.
    Sigma_G : array_like
        Covariance (d, d), or its (d,) diagonal; symmetric positive semi-definite.
    mu : array_like
        Target mean, scalar or (d,).
    sigma : float or str
        Target standard deviation, > 0.
    dps : int, default 50
        Decimal digits.

    Returns
    -------
    dict of mpmath.mpf
        ``exact``, ``mean``, ``var_exact`` (inf if Sigma_G is singular), ``var_quad``.

    See Also
    --------
    diffmem_theory.mixing.linear_model.kl_generated : the float64 twin.

    References
    ----------
    Halder, App. B, eqs. (B.4), (B.10).

    Examples
    --------
    >>> r = kl_generated_mp([0.0, 0.0], [[2.0, 0.0], [0.0, 2.0]], 0.0, 1.0, dps=20)
    >>> print(mpmath.nstr(r["exact"], 15), r["var_quad"], r["mean"])
    0.306852819440055 0.5 0.0
    """
    p = check_dps(dps)
    with mpmath.workdps(p + 10):
        d, S, diag = _cov(Sigma_G, "Sigma_G")
        diff = [a - b for a, b in zip(vec(mu_G, "mu_G", d), vec(mu, "mu", d), strict=True)]
        s2 = pos_mpf(sigma, "sigma") ** 2
        mean = mpmath.fdot(diff, diff) / (2 * s2)
        if diag:
            sh = [w / s2 - 1 for w in S]
            quad = mpmath.fdot(sh, sh) / 4
            if min(S) <= 0:
                var = mpmath.inf
            else:
                var = mpmath.fsum(s - mpmath.log1p(s) for s in sh) / 2
        else:
            sh2 = [[S[i][j] / s2 - (1 if i == j else 0) for j in range(d)] for i in range(d)]
            quad = mpmath.fsum(v * v for row in sh2 for v in row) / 4
            L = _cholesky(S)
            if L is None:
                var = mpmath.inf
            else:
                tr = mpmath.fsum(sh2[i][i] for i in range(d))
                var = (tr - _logdet_chol(L) + d * mpmath.log(s2)) / 2
                var = max(var, mpmath.mpf(0))
        res = {"exact": mean + var, "mean": mean, "var_exact": var, "var_quad": quad}
    with mpmath.workdps(p):
        return {k: +v for k, v in res.items()}


# --- (B.17) -------------------------------------------------------------------------------------


def expected_kl_var_b_17_mp(
    d: int, n: int, T: Any, sigma: Any, lam: Any, *, dps: int = _DEFAULT_DPS
) -> mpmath.mpf:
    r"""Deterministic equivalent <KL_var> of (B.17) as printed (alpha = d/n), at ``dps`` digits.

    Refuses ``d >= n`` (alpha >= 1), as
    :func:`diffmem_theory.mixing.linear_model.expected_kl_var_b_17`:

        1/4 k^2 (alpha^2 d Delta_T^2 / sigma_X^4 + 2 e^{2T} alpha d Delta_T / sigma_X^2)
        + 1/2 k (Delta_T / sigma^2) e^{2T} alpha d Delta_T / sigma_X^2
        + d/4 (e^{2T} Delta_T / sigma^2)^2,

    k = e^{-2T} + Delta_T / sigma^2, Delta_T = lam (1 - e^{-2T}), sigma_X^2 = e^{-2T} sigma^2 +
    Delta_T.

    Parameters
    ----------
    d, n : int
        Dimension (>= 1) and training-set size (> d).
    T, sigma, lam : float or str
        Noising time, data standard deviation, OU noise scale (> 0; floats exact, or decimal
        strings).
    dps : int, default 50
        Decimal digits.

    Returns
    -------
    mpmath.mpf
        <KL_var> of (B.17).

    See Also
    --------
    diffmem_theory.mixing.linear_model.expected_kl_var_b_17 : the float64 twin.
    expected_kl_var_b_17_u_mp : the simplified u-form.
    diffmem_theory.mixing.symbolic.b_17_printed_expr : the sympy form.

    References
    ----------
    Halder, App. B, eq. (B.17).

    Examples
    --------
    >>> print(mpmath.nstr(expected_kl_var_b_17_mp(16, 10**4, 2, 1, mpmath.exp(-4)), 12))
    3.85549875093
    """
    p = check_dps(dps)
    d, n = check_int(d, "d", low=1), check_int(n, "n", low=2)
    if d >= n:
        raise b_17_domain_error(f"{d}/{n}")
    with mpmath.workdps(p + 10):
        T, sigma, lam = pos_mpf(T, "T"), pos_mpf(sigma, "sigma"), pos_mpf(lam, "lam")
        a = mpmath.mpf(d) / n
        s2 = sigma**2
        dT = -lam * mpmath.expm1(-2 * T)
        sX2 = mpmath.exp(-2 * T) * s2 + dT
        k = mpmath.exp(-2 * T) + dT / s2
        e2T = mpmath.exp(2 * T)
        out = (
            k**2 * (a**2 * d * dT**2 / sX2**2 + 2 * e2T * a * d * dT / sX2) / 4
            + k * dT / s2 * e2T * a * d * dT / sX2 / 2
            + d * (e2T * dT / s2) ** 2 / 4
        )
    with mpmath.workdps(p):
        return +out


def expected_kl_var_b_17_u_mp(
    d: int, alpha: Any, T: Any, u: Any, *, dps: int = _DEFAULT_DPS
) -> mpmath.mpf:
    r"""Simplified (B.17): d [u^2/4 + alpha e^{-2T} u (1 + 2u)/2 + alpha^2 e^{-4T} u^2/4].

    With u = e^{2T} Delta_T / sigma^2 and alpha = d/n it equals :func:`expected_kl_var_b_17_mp`
    identically (see :func:`diffmem_theory.mixing.symbolic.b_17_u_form_residual`). Refuses
    ``alpha >= 1`` (see :func:`diffmem_theory.mixing.linear_model.expected_kl_var_b_17`).

    Parameters
    ----------
    d : int
        Dimension, >= 1.
    alpha : float or str
        d / n, in [0, 1).
    T : float or str
        Noising time, > 0.
    u : float or str
        e^{2T} Delta_T / sigma^2, >= 0.
    dps : int, default 50
        Decimal digits.

    Returns
    -------
    mpmath.mpf
        <KL_var> of (B.17).

    See Also
    --------
    diffmem_theory.mixing.linear_model.expected_kl_var_b_17_u : the float64 twin.
    diffmem_theory.mixing.symbolic.b_17_u_expr : the sympy form.

    References
    ----------
    Halder, App. B, eq. (B.17).

    Examples
    --------
    >>> expected_kl_var_b_17_u_mp(4, 0, 1, 1)
    mpf('1.0')
    """
    p = check_dps(dps)
    d = check_int(d, "d", low=1)
    with mpmath.workdps(p + 10):
        alpha, u = mpf(alpha, "alpha"), mpf(u, "u")
        if alpha < 0 or u < 0:
            raise ValueError(f"alpha and u must be >= 0, got {alpha}, {u}")
        if alpha >= 1:
            raise b_17_domain_error(alpha)
        T = pos_mpf(T, "T")
        e2 = mpmath.exp(-2 * T)
        out = d * (u**2 / 4 + alpha * e2 * u * (1 + 2 * u) / 2 + alpha**2 * e2**2 * u**2 / 4)
    with mpmath.workdps(p):
        return +out
