"""Tests of diffmem_theory.mixing.symbolic: the t_M (2.9) and (B.17) derivations vs numeric code.

The twins are :func:`diffmem_theory.mixing.mixing_time.t_mixing` (float64 and ``dps``),
:func:`diffmem_theory.mixing.mixing_time.t_mixing_leading`,
:func:`diffmem_theory.mixing.linear_model.expected_kl_var_b_17` (and ``_u``) and the mpmath
versions of :mod:`diffmem_theory.mixing.linear_model_mp`. Symbolic expressions are evaluated with
``sympy.lambdify(..., "mpmath")`` at 50 digits.
"""

from __future__ import annotations

import functools
import itertools
import math

import mpmath as mp
import pytest
import sympy as sp

from diffmem_theory.mixing import linear_model as lm
from diffmem_theory.mixing import linear_model_mp as hp
from diffmem_theory.mixing import mixing_time as mixing
from diffmem_theory.mixing import symbolic as sl
from diffmem_theory.mixing.symbolic import ALPHA, LAM, SIGMA, T_CUT, TR1, TR2, D, N, T, U, X

TM_ARGS = (SIGMA, D, N, LAM)
TM_CASES = list(itertools.product((0.3, 1.0, 2.5), (1, 16, 100), (2, 25, 10**4), (1.0, 0.2)))
B17_ARGS = (D, ALPHA, T_CUT, SIGMA, LAM)


@functools.cache
def mp_fn(name: str, args: tuple):
    return sp.lambdify(args, getattr(sl, name)(), "mpmath")


# --- t_M (2.9) ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sigma, d, n, lam", TM_CASES)
def test_t_mixing_expr_matches_numeric(sigma, d, n, lam):
    f = mp_fn("t_mixing_expr", TM_ARGS)
    with mp.workdps(50):
        v = f(mp.mpf(sigma), mp.mpf(d), mp.mpf(n), mp.mpf(lam))
        ref = mixing.t_mixing(sigma, d, n, lam=lam, dps=50)
        assert abs(v - ref) <= mp.mpf(10) ** -40 * ref  # log(1 + tiny) in the expression
    assert abs(float(v) - mixing.t_mixing(sigma, d, n, lam=lam)) <= 1e-13 * float(v)
    lead = sp.lambdify(TM_ARGS, sl.t_mixing_leading_expr())(sigma, d, n, lam)
    assert math.isclose(lead, mixing.t_mixing_leading(sigma, d, n, lam=lam), rel_tol=1e-13)


def test_t_mixing_reference_values():
    """Notes §4 table (rel 1e-10)."""
    f = mp_fn("t_mixing_expr", TM_ARGS)
    for (d, n), ref in {
        (16, 10**4): 0.19006520403308577,
        (100, 10**4): 0.8911930814285833,
        (16, 25): 0.5524263170571487,
        (100, 100): 1.215270823294753,
    }.items():
        assert math.isclose(float(f(1, d, n, 1)), ref, rel_tol=1e-10)


def test_t_mixing_solved_is_the_root_of_the_condition():
    solved = sl.t_mixing_solved()
    assert T not in solved.free_symbols
    assert sp.simplify(sp.exp(2 * solved) - sp.exp(2 * sl.t_mixing_expr())) == 0
    cond = sl.t_mixing_condition()
    residual = (cond.lhs - cond.rhs).subs(T, solved)
    assert sp.simplify(residual) == 0
    # numerically, at 50 digits, the numeric t_M is the root
    g = sp.lambdify((T, *TM_ARGS), cond.lhs - cond.rhs, "mpmath")
    with mp.workdps(50):
        for sigma, d, n, lam in TM_CASES[::5]:
            t = mixing.t_mixing(sigma, d, n, lam=lam, dps=50)
            val = g(t, mp.mpf(sigma), mp.mpf(d), mp.mpf(n), mp.mpf(lam))
            assert abs(val) < mp.mpf(10) ** -40 * n ** (2 / d)


def test_t_mixing_series_terms():
    s1, s2 = sl.t_mixing_series(1), sl.t_mixing_series(2)
    leading = sl.t_mixing_leading_expr().subs(N ** (2 / D), 1 / X)
    assert sp.simplify(s1 - leading) == 0
    assert sp.expand(s2.coeff(X, 2) - (SIGMA**2 / (2 * LAM) - SIGMA**4 / (4 * LAM**2))) == 0
    # the series is the expansion of (2.9) with x = n^(-2/d)
    exact_x = sl.t_mixing_expr().subs(N, X ** (-D / 2))
    assert sp.simplify(sp.series(exact_x, X, 0, 3).removeO() - s2) == 0


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_t_mixing_series_error_is_next_order(order):
    """|t_M - series_K| / x^{K+1} tends to the x^{K+1} coefficient as x -> 0 (large log n / d)."""
    ser = sp.lambdify((X, SIGMA, LAM), sl.t_mixing_series(order), "mpmath")
    nxt = sp.lambdify((SIGMA, LAM), sl.t_mixing_series(order + 1).coeff(X, order + 1), "mpmath")
    sigma, lam, d = 1.3, 0.7, 10
    with mp.workdps(60):
        for log_n in (60, 120):
            x = mp.exp(-2 * mp.mpf(log_n) / d)
            tm = mixing.t_mixing(sigma, d, log_n=log_n, lam=lam, dps=60)
            ratio = (tm - ser(x, mp.mpf(sigma), mp.mpf(lam))) / x ** (order + 1)
            c = nxt(mp.mpf(sigma), mp.mpf(lam))
            assert abs(ratio - c) < 10 * x * (1 + abs(c))


def test_t_mixing_leading_ratio_tends_to_one_numeric():
    for log_n in (50.0, 200.0, 800.0):
        r = mixing.t_mixing_leading(1.0, 10, log_n=log_n) / mixing.t_mixing(1.0, 10, log_n=log_n)
        assert abs(r - 1) < 2 * math.exp(-2 * log_n / 10) + 4e-16


# --- (B.17) --------------------------------------------------------------------------------------


def test_b17_derivation_and_forms_agree_symbolically():
    q = sl.kl_var_quadratic_expr()
    assert q.free_symbols == {TR1, TR2, D, T_CUT, SIGMA, LAM}
    assert sp.simplify(sl.b_17_derived_expr() - sl.b_17_printed_expr()) == 0
    assert sp.simplify(sl.b_17_u_form_residual()) == 0


def test_kl_var_quadratic_expr_is_quarter_frobenius():
    """(B.11) equals 1/4 tr sigma-hat_G^2 on an explicit 2 x 2 Sigma-hat_theta."""
    vals = {T_CUT: sp.Rational(1, 2), SIGMA: sp.Rational(3, 2), LAM: sp.Rational(1, 3)}
    M = sp.Matrix([[sp.Rational(1, 5), sp.Rational(-1, 7)], [sp.Rational(-1, 7), 2]])
    sX2 = sp.exp(-2 * T_CUT) * SIGMA**2 + LAM * (1 - sp.exp(-2 * T_CUT))
    sig_hat = sX2 / SIGMA**2 * (sp.exp(2 * T_CUT) * sp.eye(2) + M) - sp.eye(2)
    direct = (sig_hat**2).trace() / 4
    via = sl.kl_var_quadratic_expr().subs({TR1: M.trace(), TR2: (M**2).trace(), D: 2})
    assert sp.simplify((direct - via).subs(vals)) == 0


@pytest.mark.parametrize(
    "d, n, T_, sigma, lam",
    [
        (16, 10**4, 2.0, 1.0, math.exp(-4)),
        (100, 400, 2.0, 1.0, 0.1 * math.exp(-4)),
        (5, 7, 0.3, 0.8, 1.5),
        (100, 10**4, 2.0, 1.0, 1e-4 * math.exp(-4)),
    ],
)
def test_b17_matches_numeric(d, n, T_, sigma, lam):
    f = mp_fn("b_17_printed_expr", B17_ARGS)
    with mp.workdps(50):
        a = mp.mpf(d) / n
        v = f(d, a, mp.mpf(T_), mp.mpf(sigma), mp.mpf(lam))
        ref = hp.expected_kl_var_b_17_mp(d, n, T_, sigma, lam, dps=50)
        assert abs(v - ref) <= mp.mpf(10) ** -40 * ref
    assert math.isclose(float(v), lm.expected_kl_var_b_17(d, n, T_, sigma, lam), rel_tol=1e-12)
    u = math.exp(2 * T_) * lm.noise_variance(T_, lam) / sigma**2
    fu = sp.lambdify((D, ALPHA, T_CUT, U), sl.b_17_u_expr())
    assert math.isclose(
        fu(d, d / n, T_, u), lm.expected_kl_var_b_17_u(d, d / n, T_, u), rel_tol=1e-13
    )


def test_b17_structure():
    st = sl.b_17_structure()
    assert sp.simplify(st["alpha0"] - D * U**2 / 4) == 0
    expected = D * (
        ALPHA * U**2 * sp.exp(-4 * T_CUT) / 2 + U * (2 * U + 1) * sp.exp(-2 * T_CUT) / 2
    )
    assert sp.simplify(st["dalpha"] - expected) == 0
    # every term of d/dalpha is a product of non-negative symbols: increasing in alpha
    assert all(term.is_nonnegative for term in sp.Add.make_args(sp.expand(st["dalpha"])))
    assert sp.simplify(st["u_late"] - sl.LAM_HAT * (1 - sp.exp(-2 * T_CUT))) == 0
    # lam -> 0: linear in lam through the alpha cross term; quadratic at alpha = 0 (d u^2 / 4)
    assert sp.degree(st["lam_leading"], LAM) == 1
    assert sp.simplify(st["lam_leading"].subs(ALPHA, 0)) == 0
    lam2 = D * sp.exp(4 * T_CUT) * (1 - sp.exp(-2 * T_CUT)) ** 2 * LAM**2 / (4 * SIGMA**4)
    assert sp.simplify(st["alpha0_lam_leading"] - lam2) == 0
    # the floor d u^2/4 is the alpha -> 0 value of (B.17) (d = 16, lamhat = 1: 3.85482)
    u = sl.b_17_structure()["u_late"].subs({sl.LAM_HAT: 1, T_CUT: 2})
    assert math.isclose(float((D * U**2 / 4).subs({D: 16, U: u})), 3.85482, rel_tol=1e-5)


@pytest.mark.parametrize("order", [0, 21, 2**62, math.inf])
def test_t_mixing_series_order_is_bounded(order):
    # fuzz findings: inf gave OverflowError, 2**62 hung
    with pytest.raises(ValueError, match="order"):
        sl.t_mixing_series(order)
