r"""Sympy derivation of the Gaussian loss gap of Ye et al. (paper 003) and of its time integral.

Each function returns sympy expressions in the module-level symbols below; the tests hold them
against the numeric twins :func:`diffmem_theory.fisher.loss_gap.loss_gap_asymptotic_gaussian`,
:func:`diffmem_theory.fisher.loss_gap.loss_gap_integral_asymptotic` (and the mpmath ``*_mp``
versions) and against paper 000's :func:`diffmem_theory.crossover.symbolic.gen_excess_expr`.

Derivation (ours: the leading order of the final display of the proof of Thm 4.3, App. A.2.3,
evaluated exactly). In the regime of Thm 4.3 a noised training point X_t = alpha x_i +
sigma Z, x_i = mu_k + eps (eps ~ N(0, Sigma)), has empirical score s_hat = -Z/sigma (the
empirical posterior sits on x_i) and true score s = -(alpha^2 Sigma + sigma^2 I)^{-1}(alpha eps +
sigma Z) (the true posterior sits on component k); both are exact when n = 1 and K = 1. Sigma,
the inverse and the noise decouple along the eigenvectors of Sigma, so the gap is a sum over the
eigenvalues lambda of one scalar expectation, taken here with E Z^2 = 1, E eps^2 = lambda,
E Z eps = E Z = E eps = 0:

* :func:`gap_direction_expr` -- E (s_hat - s)^2 = alpha^2 lambda/(sigma^2 (alpha^2 lambda +
  sigma^2)) in (alpha, sigma, lambda);
* :func:`gap_vp_expr` -- the same on the paper's process alpha^2 = e^{-t}, sigma^2 = 1 - e^{-t},
  and :func:`gap_vp_unit_expr` -- lambda = 1: 1/(e^t - 1);
* :func:`gap_integral_expr` -- int_{t0}^{t1} of :func:`gap_vp_expr`, by u = e^{-t} and partial
  fractions in u (each term c/(a + b u) integrated by hand as (c/b) log(a + b u): sympy's own
  antiderivative here is log(u - 1), complex on (0, 1));
* :func:`gap_x0_units_expr` -- times sigma^4/alpha^2: lambda sigma^2/(alpha^2 lambda + sigma^2),
  paper 000's Thm 3.1 excess per direction.

>>> gap_direction_expr()
alpha**2*lambda/(sigma**2*(alpha**2*lambda + sigma**2))
>>> gap_vp_unit_expr()
1/(exp(t) - 1)
"""

from __future__ import annotations

import functools

import sympy as sp

__all__ = [
    "ALPHA",
    "EPS",
    "LAM",
    "SIGMA",
    "T0",
    "T1",
    "T",
    "U",
    "Z",
    "gap_direction_expr",
    "gap_integral_expr",
    "gap_vp_expr",
    "gap_vp_unit_expr",
    "gap_x0_units_expr",
]

# --- symbols (paper 003 notation) ------------------------------------------------------------
ALPHA = sp.Symbol("alpha", positive=True)  # signal scale alpha_t
SIGMA = sp.Symbol("sigma", positive=True)  # noise scale sigma_t
LAM = sp.Symbol("lambda", nonnegative=True)  # an eigenvalue of the component covariance Sigma
T = sp.Symbol("t", positive=True)  # diffusion time
T0 = sp.Symbol("t0", positive=True)  # early-stopping time
T1 = sp.Symbol("t1", positive=True)  # upper end of the integral
U = sp.Symbol("u", positive=True)  # u = e^{-t} = alpha_t^2
Z = sp.Symbol("Z", real=True)  # the injected noise (one eigen-direction)
EPS = sp.Symbol("epsilon", real=True)  # x_i - mu_k (one eigen-direction)

_MOMENTS = {(2, 0): 1, (0, 2): LAM, (1, 1): 0, (1, 0): 0, (0, 1): 0, (0, 0): 1}


@functools.cache
def gap_direction_expr() -> sp.Expr:
    r"""E (s_hat - s)^2 along one eigen-direction of Sigma (eigenvalue lambda).

    Ye et al., Prop 4.1 with the dominant-weight scores of the proof of Thm 4.3 (App. A.2.3):
    s_hat = -Z/sigma, s = -(alpha eps + sigma Z)/(alpha^2 lambda + sigma^2). The square is
    expanded in (Z, eps) and each monomial replaced by its moment (E Z^2 = 1, E eps^2 =
    lambda, odd and mixed moments 0).

    See Also
    --------
    diffmem_theory.fisher.loss_gap.loss_gap_asymptotic_gaussian : its sum over the spectrum.
    gap_x0_units_expr : the same in x0 units.

    Examples
    --------
    >>> sp.limit(gap_direction_expr() * SIGMA**2, SIGMA, 0)     # lambda > 0: 1/sigma^2
    1
    >>> gap_direction_expr().subs(LAM, 0)                       # no variance: no gap
    0
    """
    s_hat = -Z / SIGMA
    s = -(ALPHA * EPS + SIGMA * Z) / (ALPHA**2 * LAM + SIGMA**2)
    poly = sp.Poly(sp.expand((s_hat - s) ** 2), Z, EPS)
    expectation = sum(coeff * _MOMENTS[monom] for monom, coeff in poly.terms())
    return sp.factor(sp.simplify(expectation))


@functools.cache
def gap_vp_expr() -> sp.Expr:
    r""":func:`gap_direction_expr` on the VP/OU process of paper 003: alpha^2 = e^{-t},
    sigma^2 = 1 - e^{-t} (Ye et al., Sec. 3).

    See Also
    --------
    diffmem_theory.fisher.loss_gap.loss_gap_asymptotic_gaussian_mp : the mpmath twin.

    Examples
    --------
    >>> gap_vp_expr()
    lambda*exp(t)/((exp(t) - 1)*(lambda + exp(t) - 1))
    """
    expr = gap_direction_expr().subs({ALPHA: sp.exp(-T / 2), SIGMA: sp.sqrt(1 - sp.exp(-T))})
    return sp.factor(sp.simplify(expr))


@functools.cache
def gap_vp_unit_expr() -> sp.Expr:
    r"""Unit variance (lambda = 1): F_t per direction = 1/(e^t - 1), so d/(e^t - 1) for Sigma = I.

    With Sigma = I: F = d alpha_t^2/sigma_t^2 = d/(e^t - 1).

    >>> sp.limit(gap_vp_unit_expr() * T, T, 0)
    1
    """
    return sp.simplify(gap_vp_expr().subs(LAM, 1))


def _log_antiderivative(expr: sp.Expr) -> sp.Expr:
    """An antiderivative in U of a sum of terms c/(a + b U): sum (c/b) log(+-(a + b U)), the
    sign making the argument positive on 0 < U < 1 (read off at U = 1/2, lambda = 1; the
    denominators here, 1 - U and 1 + (lambda - 1) U, keep their sign for every lambda >= 0)."""
    total = sp.Integer(0)
    for term in sp.Add.make_args(sp.apart(sp.together(expr), U)):
        num, den = sp.fraction(sp.factor(term))
        a, b = sp.Poly(den, U).all_coeffs()[::-1]
        sign = sp.sign(den.subs({U: sp.Rational(1, 2), LAM: 1}))
        total += sp.cancel(num / b) * sp.log(sp.expand(sign * (a + b * U)))
    return total


@functools.cache
def gap_integral_expr() -> sp.Expr:
    r"""int_{t0}^{t1} F_t dt per direction, derived with u = e^{-t}.

    dt = -du/u turns F_t dt into -lambda du/((1 - u)(1 + (lambda - 1) u)), whose partial
    fractions -1/(1 - u) - (lambda - 1)/(1 + (lambda - 1) u) integrate to logs of the positive
    quantities 1 - u = sigma^2 and 1 + (lambda - 1) u = alpha^2 lambda + sigma^2:

        log(sigma_{t1}^2/sigma_{t0}^2) + log((alpha_{t0}^2 lambda + sigma_{t0}^2)
                                              / (alpha_{t1}^2 lambda + sigma_{t1}^2)).

    See Also
    --------
    diffmem_theory.fisher.loss_gap.loss_gap_integral_asymptotic : the float64 twin.
    diffmem_theory.fisher.loss_gap.loss_gap_integral_asymptotic_mp : the mpmath twin.

    Examples
    --------
    >>> sp.simplify(sp.diff(gap_integral_expr(), T1) - gap_vp_expr().subs(T, T1))
    0
    >>> gap_integral_expr().subs(LAM, 1)
    -log(1 - exp(-t0)) + log(1 - exp(-t1))
    """
    f_u = sp.simplify(gap_vp_expr().subs(T, -sp.log(U)))
    antiderivative = _log_antiderivative(sp.cancel(-f_u / U))
    value = antiderivative.subs(U, sp.exp(-T1)) - antiderivative.subs(U, sp.exp(-T0))
    return value


@functools.cache
def gap_x0_units_expr() -> sp.Expr:
    r"""The gap per direction in x0 units, times sigma^4/alpha^2 (paper 000's loss units).

    Buchanan et al. (paper 000), Thm 3.1 / F.1 per direction with s2 = lambda: lambda sigma^2/
    (alpha^2 lambda + sigma^2) -- the two papers agree.

    See Also
    --------
    diffmem_theory.crossover.symbolic.gen_excess_expr : paper 000's excess loss.

    Examples
    --------
    >>> gap_x0_units_expr()
    lambda*sigma**2/(alpha**2*lambda + sigma**2)
    """
    return sp.factor(sp.simplify(gap_direction_expr() * SIGMA**4 / ALPHA**2))
