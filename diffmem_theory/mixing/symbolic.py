r"""Sympy derivations for Halder (paper 001): the mixing time (2.9) and the <KL_var> of (B.17).

Each function returns sympy expressions in the module-level symbols below; the tests hold them
against the numeric twins :func:`diffmem_theory.mixing.mixing_time.t_mixing`,
:func:`diffmem_theory.mixing.mixing_time.t_mixing_leading` and
:func:`diffmem_theory.mixing.linear_model.expected_kl_var_b_17` (and the mpmath versions of
:mod:`diffmem_theory.mixing.linear_model_mp`).

Mixing time (Sec. 2.2), OU noise scale ``lam`` (footnote 5; 1 in the paper):

* :func:`t_mixing_condition` -- n^{2/d} = (lam delta_t + sigma^2 e^{-2t}) / (lam delta_t);
* :func:`t_mixing_solved` -- that condition solved for t (it is linear in y = e^{-2t}), which
  gives (2.9) t_M = 1/2 log(1 + sigma^2 / (lam (n^{2/d} - 1))) (:func:`t_mixing_expr`);
* :func:`t_mixing_series` -- the expansion of (2.9) in x = n^{-2/d}: sigma^2 x / (2 lam) +
  (sigma^2/(2 lam) - sigma^4/(4 lam^2)) x^2 + ..., whose first term is t_mixing_leading and whose
  second holds both O(.) corrections of the paper (the -1 and the log).

(B.17) (App. B), with T_CUT the one-step noising time T of the linear model:

* :func:`kl_var_quadratic_expr` -- (B.10)-(B.11): 1/4 tr sigma-hat_G^2 with sigma-hat_G =
  k Sigma-hat_theta + u I (B.6) written through the traces tr Sigma-hat, tr Sigma-hat^2;
* :func:`b_17_derived_expr` -- that expression with the deterministic equivalents (B.12),
  (B.14), (B.16) substituted; :func:`b_17_printed_expr` -- (B.17) as printed;
  :func:`b_17_u_expr` -- the simplified u-form; :func:`b_17_u_form_residual` -- all three agree;
* :func:`b_17_structure` -- the alpha -> 0 limit d u^2/4, d/dalpha > 0, and the late-time
  parameterisation u = lam-hat (1 - e^{-2T}) making the leading term proportional to lam^2.

>>> t_mixing_series(1)
sigma**2*x/(2*lam)
>>> sp.expand(t_mixing_series(2).coeff(X, 2) - (SIGMA**2 / (2 * LAM) - SIGMA**4 / (4 * LAM**2)))
0
>>> sp.simplify(b_17_u_form_residual())
0
"""

from __future__ import annotations

import functools

import sympy as sp

from diffmem_theory._validation import check_int

__all__ = [
    "ALPHA",
    "DELTA_T",
    "LAM",
    "LAM_HAT",
    "SIGMA",
    "TR1",
    "TR2",
    "T_CUT",
    "D",
    "N",
    "T",
    "U",
    "X",
    "b_17_derived_expr",
    "b_17_printed_expr",
    "b_17_structure",
    "b_17_u_expr",
    "b_17_u_form_residual",
    "kl_var_quadratic_expr",
    "t_mixing_condition",
    "t_mixing_expr",
    "t_mixing_leading_expr",
    "t_mixing_series",
    "t_mixing_solved",
]

# --- symbols (paper 001 notation) --------------------------------------------------------------
SIGMA = sp.Symbol("sigma", positive=True)  # data standard deviation
D = sp.Symbol("d", positive=True)  # dimension
N = sp.Symbol("n", positive=True)  # number of training samples
T = sp.Symbol("t", positive=True)  # OU time
LAM = sp.Symbol("lam", positive=True)  # OU noise scale (footnote 5)
X = sp.Symbol("x", positive=True)  # x = n^{-2/d}
T_CUT = sp.Symbol("T", positive=True)  # the one-step noising time of the linear model
ALPHA = sp.Symbol("alpha", nonnegative=True)  # alpha = d / n
U = sp.Symbol("u", nonnegative=True)  # u = e^{2T} Delta_T / sigma^2
LAM_HAT = sp.Symbol("lamhat", positive=True)  # lam = lamhat sigma^2 e^{-2T}
DELTA_T = sp.Symbol("Delta_T", positive=True)  # Delta_T = lam (1 - e^{-2T})
TR1 = sp.Symbol("Tr1")  # tr Sigma-hat_theta
TR2 = sp.Symbol("Tr2")  # tr Sigma-hat_theta^2
_Y = sp.Symbol("y", positive=True)  # y = e^{-2t}
_P = sp.Symbol("p")  # a generic eigenvalue of Sigma-hat_theta


# --- mixing time (2.9) -------------------------------------------------------------------------


def t_mixing_expr() -> sp.Expr:
    """(2.9) with the OU noise scale: t_M = 1/2 log(1 + sigma^2 / (lam (n^{2/d} - 1))).

    See Also
    --------
    diffmem_theory.mixing.mixing_time.t_mixing : the float64 twin (``dps=`` the mpmath twin).
    t_mixing_solved : the same expression derived from its defining condition.

    Examples
    --------
    >>> t_mixing_expr()
    log(1 + sigma**2/(lam*(n**(2/d) - 1)))/2
    """
    return sp.log(1 + SIGMA**2 / (LAM * (N ** (2 / D) - 1))) / 2


def t_mixing_leading_expr() -> sp.Expr:
    """Leading order sigma^2 / (2 lam n^{2/d}) of (2.9).

    See Also
    --------
    diffmem_theory.mixing.mixing_time.t_mixing_leading : the float64 twin.

    Examples
    --------
    >>> t_mixing_leading_expr()
    sigma**2/(2*lam*n**(2/d))
    """
    return SIGMA**2 / (2 * LAM * N ** (2 / D))


def t_mixing_condition() -> sp.Eq:
    """The defining condition n^{2/d} = (lam delta_t + sigma^2 e^{-2t}) / (lam delta_t).

    >>> t_mixing_condition()
    Eq(n**(2/d), (lam*(1 - exp(-2*t)) + sigma**2*exp(-2*t))/(lam*(1 - exp(-2*t))))
    """
    delta = 1 - sp.exp(-2 * T)
    return sp.Eq(N ** (2 / D), (LAM * delta + SIGMA**2 * sp.exp(-2 * T)) / (LAM * delta))


@functools.cache
def t_mixing_solved() -> sp.Expr:
    """The condition of :func:`t_mixing_condition` solved for t (unique root; via y = e^{-2t}).

    >>> t_mixing_solved()
    log((lam*n**(2/d) - lam + sigma**2)/(lam*n**(2/d) - lam))/2
    >>> sp.simplify(sp.exp(2 * t_mixing_solved()) - sp.exp(2 * t_mixing_expr()))
    0
    """
    cond = t_mixing_condition()
    eq = (cond.lhs - cond.rhs).subs(sp.exp(-2 * T), _Y)
    roots = sp.solve(sp.Eq(sp.numer(sp.together(eq)), 0), _Y)
    if len(roots) != 1:  # pragma: no cover - the condition is linear in y
        raise RuntimeError(f"expected one root in y = e^(-2t), got {roots}")
    return sp.log(sp.cancel(1 / roots[0])) / 2


@functools.cache
def t_mixing_series(order: int = 3) -> sp.Expr:
    """Series of (2.9) in x = n^{-2/d} up to and including x^order (the O-term removed).

    t_M = 1/2 log(1 + sigma^2 x / (lam (1 - x))); the x^1 term is :func:`t_mixing_leading_expr`.
    ``1 <= order <= 20`` (a few seconds of sympy series expansion at 20).

    >>> t_mixing_series(1)
    sigma**2*x/(2*lam)
    """
    order = check_int(order, "order", low=1, high=20)
    expr = sp.log(1 + SIGMA**2 * X / (LAM * (1 - X))) / 2
    ser = sp.series(expr, X, 0, order + 1).removeO()
    return sp.collect(sp.expand(ser), X)


# --- (B.17) ------------------------------------------------------------------------------------


def _b17_parts() -> tuple[sp.Expr, sp.Expr, sp.Expr, sp.Expr]:
    """(k, u, sigma_X^2, Delta_T) in (T, sigma, lam), Delta_T = lam (1 - e^{-2T})."""
    dT = LAM * (1 - sp.exp(-2 * T_CUT))
    sX2 = sp.exp(-2 * T_CUT) * SIGMA**2 + dT
    k = sp.exp(-2 * T_CUT) + dT / SIGMA**2
    u = sp.exp(2 * T_CUT) * dT / SIGMA**2
    return k, u, sX2, dT


@functools.cache
def kl_var_quadratic_expr() -> sp.Expr:
    r"""(B.10)-(B.11): KL_var = 1/4 tr sigma-hat_G^2 in terms of TR1 = tr Sigma-hat_theta, TR2.

    From (B.5)-(B.6): Sigma_G / sigma^2 = (sigma_X^2 / sigma^2)(e^{2T} I + Sigma-hat_theta) =
    I + sigma-hat_G, so sigma-hat_G = k Sigma-hat_theta + u I with k = sigma_X^2 / sigma^2 and
    u = sigma_X^2 e^{2T} / sigma^2 - 1 (both checked to equal the forms e^{-2T} + Delta_T / sigma^2
    and e^{2T} Delta_T / sigma^2 of (B.6)). A generic
    eigenvalue p of Sigma-hat_theta gives (k p + u)^2; summing, p^2 -> TR2, p -> TR1, 1 -> d.

    >>> kl_var_quadratic_expr().free_symbols == {TR1, TR2, D, T_CUT, SIGMA, LAM}
    True
    """
    k, u, sX2, _ = _b17_parts()
    k_def = sX2 / SIGMA**2
    u_def = sX2 * sp.exp(2 * T_CUT) / SIGMA**2 - 1
    if sp.simplify(k_def - k) != 0 or sp.simplify(u_def - u) != 0:  # pragma: no cover
        raise RuntimeError("(B.6) coefficients disagree with their definitions")
    poly = sp.Poly(sp.expand((k_def * _P + u_def) ** 2), _P)
    c2, c1, c0 = (poly.coeff_monomial(_P**j) for j in (2, 1, 0))
    return (c2 * TR2 + c1 * TR1 + c0 * D) / 4


@functools.cache
def b_17_derived_expr() -> sp.Expr:
    """<KL_var> from (B.11) with the paper's deterministic equivalents substituted.

    (B.12) <TR1> = alpha d Delta_T / sigma_X^2; (B.14) + (B.16) <TR2> = alpha^2 d Delta_T^2 /
    sigma_X^4 + 2 e^{2T} alpha d Delta_T / sigma_X^2 (the O(1) line (B.15) dropped, as in B.17).

    >>> sp.simplify(b_17_derived_expr() - b_17_printed_expr())
    0
    """
    _, _, sX2, dT = _b17_parts()
    tr1 = ALPHA * D * dT / sX2
    tr2 = ALPHA**2 * D * dT**2 / sX2**2 + 2 * sp.exp(2 * T_CUT) * ALPHA * D * dT / sX2
    return kl_var_quadratic_expr().subs({TR1: tr1, TR2: tr2})


def b_17_printed_expr() -> sp.Expr:
    """(B.17) exactly as printed, in (d, alpha, T, sigma, lam).

    See Also
    --------
    diffmem_theory.mixing.linear_model.expected_kl_var_b_17 : the float64 twin.
    diffmem_theory.mixing.linear_model_mp.expected_kl_var_b_17_mp : the mpmath twin.
    b_17_derived_expr : the derivation it equals.

    Examples
    --------
    >>> b_17_printed_expr().free_symbols == {D, ALPHA, T_CUT, SIGMA, LAM}
    True
    """
    k, _, sX2, dT = _b17_parts()
    e2T = sp.exp(2 * T_CUT)
    return (
        k**2 * (ALPHA**2 * D * dT**2 / sX2**2 + 2 * e2T * ALPHA * D * dT / sX2) / 4
        + k * dT / SIGMA**2 * e2T * ALPHA * D * dT / sX2 / 2
        + D * (e2T * dT / SIGMA**2) ** 2 / 4
    )


def b_17_u_expr() -> sp.Expr:
    """Simplified form d [u^2/4 + alpha e^{-2T} u (1 + 2u)/2 + alpha^2 e^{-4T} u^2/4].

    See Also
    --------
    diffmem_theory.mixing.linear_model.expected_kl_var_b_17_u : the float64 twin.
    diffmem_theory.mixing.linear_model_mp.expected_kl_var_b_17_u_mp : the mpmath twin.
    b_17_u_form_residual : its identity with the printed form.

    Examples
    --------
    >>> b_17_u_expr().subs(ALPHA, 0)
    d*u**2/4
    """
    e2 = sp.exp(-2 * T_CUT)
    return D * (U**2 / 4 + ALPHA * e2 * U * (1 + 2 * U) / 2 + ALPHA**2 * e2**2 * U**2 / 4)


@functools.cache
def b_17_u_form_residual() -> sp.Expr:
    """printed (B.17) minus the u-form with u = e^{2T} Delta_T / sigma^2 (simplifies to 0).

    >>> sp.simplify(b_17_u_form_residual())
    0
    """
    _, u, _, _ = _b17_parts()
    return sp.simplify(b_17_printed_expr() - b_17_u_expr().subs(U, u))


@functools.cache
def b_17_structure() -> dict[str, sp.Expr]:
    """Limits and structure of (B.17) (our analysis of the u-form).

    * ``alpha0``: the alpha -> 0 value, d u^2 / 4;
    * ``dalpha``: d/dalpha of the u-form, d (alpha u^2 e^{-4T} / 2 + u (2u + 1) e^{-2T} / 2) > 0;
    * ``u_late``: u under lam = lamhat sigma^2 e^{-2T}, i.e. lamhat (1 - e^{-2T});
    * ``lam_leading``: the lam -> 0 leading term of (B.17), proportional to lam (the alpha
      cross term); at alpha = 0 it is d e^{4T}(1 - e^{-2T})^2 lam^2 / (4 sigma^4).

    >>> b_17_structure()["u_late"]
    lamhat - lamhat*exp(-2*T)
    """
    _, u, _, _ = _b17_parts()
    expr = b_17_u_expr()
    dalpha = sp.factor(sp.diff(expr, ALPHA))
    u_late = sp.simplify(u.subs(LAM, LAM_HAT * SIGMA**2 * sp.exp(-2 * T_CUT)))
    printed = b_17_printed_expr()
    lam_leading = sp.simplify(sp.series(printed, LAM, 0, 2).removeO())
    alpha0_lam = sp.simplify(sp.series(printed.subs(ALPHA, 0), LAM, 0, 3).removeO())
    return {
        "alpha0": sp.simplify(expr.subs(ALPHA, 0)),
        "dalpha": dalpha,
        "u_late": u_late,
        "lam_leading": lam_leading,
        "alpha0_lam_leading": alpha0_lam,
    }
