"""Tests of diffmem_theory.crossover.symbolic: every sympy derivation against its numeric twin.

The twins are the float64 / mpmath functions of :mod:`diffmem_theory.crossover.excess` and
:mod:`diffmem_theory.core.schedules`; the closed-form integrals are also checked by differentiation
and by independent ``mpmath.quad`` quadrature. Symbolic expressions are evaluated with
``sympy.lambdify(..., "mpmath")`` at 50 digits, so cancellation in the closed forms (e.g. near
``s2 = 1``) cannot hide a disagreement.
"""

from __future__ import annotations

import functools
import math

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from diffmem_theory.core.losses import loss_weighting
from diffmem_theory.core.schedules import VPTrig
from diffmem_theory.crossover import excess as cx
from diffmem_theory.crossover import symbolic as sym
from diffmem_theory.crossover.symbolic import E_LAMBDA, E_LAMBDA_GEN, S2, T_MIN, C, D, K, M, N, T

VP = VPTrig()
GRID = VP.time_grid()
S2_RANGE = st.floats(0.05, 20.0)
EPS64 = float(np.finfo(np.float64).eps)
C_RANGE = st.floats(1.0, 2.0)
WEIGHTINGS = ("x0", "eps", "score", "v")


def rel_err(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


@functools.cache
def ratio_fn(weighting: str, symbolic_t_min: bool):
    """M_*/N as an mpmath function of (s2, C[, t_min]) from the Piecewise closed form."""
    t_min = T_MIN if symbolic_t_min else 0
    expr = sym.crossover_ratio_expr(weighting, s2=None, t_min=t_min)
    args = (S2, C, T_MIN) if symbolic_t_min else (S2, C)
    return sp.lambdify(args, expr, modules="mpmath")


def mp_eval(fn, *args, dps: int = 50):
    with mp.workdps(dps):
        return fn(*(mp.mpf(a) for a in args))


# --- eq. (14) and its structure ------------------------------------------------------------------


def test_crossover_expr_is_eq14_and_root_of_the_difference():
    m_star = sym.crossover_expr()
    assert sp.simplify(m_star - N * (1 - E_LAMBDA_GEN / (C * E_LAMBDA))) == 0
    assert sp.simplify(sym.approx_loss_difference_expr().subs(M, m_star)) == 0
    # a wrong constant is detected: the difference does not vanish at N (1 - E_g/E_lambda)
    wrong = N * (1 - E_LAMBDA_GEN / E_LAMBDA)
    assert sp.simplify(sym.approx_loss_difference_expr().subs(M, wrong)) != 0


def test_d_cancels_and_K_never_appears():
    st_ = sym.crossover_structure()
    assert st_["free_symbols"] == {N, C, E_LAMBDA, E_LAMBDA_GEN}
    assert D in sym.approx_loss_difference_expr().free_symbols  # d is there before solving
    assert K not in sym.approx_loss_difference_expr().free_symbols
    assert st_["ratio"].free_symbols == {C, E_LAMBDA, E_LAMBDA_GEN}


def test_difference_decreasing_in_M_and_linear_in_N():
    st_ = sym.crossover_structure()
    assert sp.simplify(st_["dDelta_dM"] + C * D * S2 * E_LAMBDA / N) == 0
    assert st_["dDelta_dM"].is_negative  # all symbols positive
    assert st_["d2M_dN2"] == 0 and st_["M_at_N0"] == 0
    assert st_["rescale_invariant"] is True


@settings(max_examples=30, deadline=None)
@given(
    N_=st.integers(2, 5000),
    d=st.floats(1.0, 1e4),
    C_=C_RANGE,
    s2=S2_RANGE,
    frac=st.floats(0.0, 1.0),
)
def test_loss_difference_vs_numeric_on_the_grid(N_, d, C_, s2, frac):
    """approx_loss_difference_expr with the exact grid means vs crossover.approx_loss_difference."""
    s2q = sp.Rational(s2)
    mean_w, mean_wg = sym.crossover_moments_times_expr(sym.grid_times(), "x0", s2q)
    M_ = frac * N_
    expr = sym.approx_loss_difference_expr(mean_w, mean_wg)
    exact = expr.subs({M: sp.Rational(M_), N: N_, D: sp.Rational(d), C: sp.Rational(C_), S2: s2q})
    num = float(cx.approx_loss_difference(M_, N_, d, times=GRID, var_star=s2, C=C_))
    scale = d * s2 * (C_ * float(mean_w) + float(mean_wg))  # size of the cancelling terms
    assert abs(num - float(exact)) <= 1e-12 * scale


@settings(max_examples=20, deadline=None)
@given(N_=st.floats(1.0, 1e6), C_=C_RANGE)
def test_crossover_M_vs_numeric(N_, C_):
    mean_w, mean_wg = sym.crossover_moments_times_expr(sym.grid_times(), "x0", 1)
    m_star = sym.crossover_expr().subs({E_LAMBDA: mean_w, E_LAMBDA_GEN: mean_wg, N: N_, C: C_})
    num = float(cx.crossover_M(N_, times=GRID, C=C_))
    assert rel_err(num, float(m_star)) < 1e-12
    # the continuous x0 case: M_* = N (1 - 1/(3C))
    cont = sym.crossover_expr().subs(
        dict(zip((E_LAMBDA, E_LAMBDA_GEN), sym.crossover_moments_expr("x0", 1, 0), strict=True))
    )
    assert rel_err(float(cx.crossover_M(N_, C=C_)), float(cont.subs({N: N_, C: C_}))) < 1e-10


def test_continuous_difference_vanishes_at_the_crossover():
    mean_w, mean_wg = sym.crossover_moments_expr("x0", 1, 0)
    assert (mean_w, mean_wg) == (1, sp.Rational(1, 3))
    m_star = sym.crossover_expr().subs({E_LAMBDA: mean_w, E_LAMBDA_GEN: mean_wg, N: 200, C: 2})
    assert m_star == sp.Rational(500, 3)
    assert abs(float(cx.approx_loss_difference(float(m_star), 200, 50))) < 1e-10


# --- schedule, kappa and the excess losses -------------------------------------------------------


def test_vptrig_schedule_expressions():
    sch = sym.vptrig_schedule()
    assert sch["gen_s2_1"] == T**2 and sp.simplify(sch["psi_frac"] - sch["alpha2"]) == 0
    ts = np.array([1e-4, 0.1, 0.36028, 0.7, 0.999])
    for key, method in (("alpha2", VP.alpha), ("sigma2", VP.sigma2), ("psi", VP.snr)):
        f = sp.lambdify(T, sch[key], "numpy")
        ref = method(ts) ** 2 if key == "alpha2" else method(ts)
        np.testing.assert_allclose(f(ts), ref, rtol=1e-12)
    s2 = 0.37
    g = sp.lambdify(T, sch["gen"].subs(S2, s2), "numpy")(ts)
    np.testing.assert_allclose(g, 1.0 / (VP.snr(ts) * s2 + 1.0), rtol=1e-12)


@settings(max_examples=30, deadline=None)
@given(psi=st.floats(1e-12, 1e12))
def test_inverse_snr_vs_numeric(psi):
    f = sp.lambdify(sym.PSI, sym.inverse_snr_expr(), "mpmath")
    assert rel_err(float(VP.inverse_snr(psi)), float(mp_eval(f, psi))) < 1e-14


@settings(max_examples=30, deadline=None)
@given(d=st.floats(1.01, 1e8), c=st.floats(0.01, 10.0))
def test_kappa_vs_numeric(d, c):
    f = sp.lambdify((D, sym.C_KAPPA), sym.kappa_expr(), "mpmath")
    assert rel_err(float(cx.kappa(d, c=c)), float(mp_eval(f, d, c))) < 1e-14


def test_kappa_reference_values():
    vals = [float(sym.kappa_expr().subs({D: d, sym.C_KAPPA: 1})) for d in (30, 40, 50, 60)]
    assert np.round(vals, 3).tolist() == [0.85, 0.864, 0.875, 0.884]


@settings(max_examples=40, deadline=None)
@given(t=st.floats(1e-6, 1 - 1e-6), d=st.floats(1.0, 1e4), s2=S2_RANGE)
def test_gen_excess_vs_numeric(t, d, s2):
    f = sp.lambdify((T, D, S2), sym.gen_excess_expr(), "mpmath")
    num = float(cx.gen_excess_loss(t, d, var_star=s2))
    assert rel_err(num, float(mp_eval(f, t, d, s2))) < 1e-13
    # s2 = 1: exactly d t^2 (1/(psi_t + 1) = t^2 for VPTrig)
    assert rel_err(float(cx.gen_excess_loss(t, d)), d * t * t) < 1e-13


def test_gen_excess_reference_value():
    assert sym.gen_excess_expr(1) == D * T**2
    t16 = sp.Rational("0.36028")
    assert round(float(sym.gen_excess_expr(1).subs({D: 50, T: t16})), 4) == 6.4901


@settings(max_examples=30, deadline=None)
@given(N_=st.integers(1, 10_000), frac=st.floats(0, 1), d=st.floats(1, 1e4), s2=S2_RANGE)
def test_pmem_excess_vs_numeric(N_, frac, d, s2):
    M_ = frac * N_
    ref = sym.pmem_excess_expr().subs({M: M_, N: N_, D: d, S2: s2, C: 1.5})
    assert math.isclose(
        float(cx.pmem_excess_loss(M_, N_, d, s2, C=1.5)), float(ref), rel_tol=1e-12, abs_tol=1e-9
    )


@pytest.mark.parametrize("weighting", WEIGHTINGS)
def test_weighting_vs_numeric(weighting):
    ts = np.array([1e-3, 0.2, 0.5, 0.9])
    f = sp.lambdify(T, sym.weighting_expr(weighting), "numpy")
    np.testing.assert_allclose(
        np.broadcast_to(f(ts), ts.shape), loss_weighting(weighting, ts), rtol=1e-12
    )


# --- the kernel integral and the continuous ratios ------------------------------------------------


@pytest.mark.parametrize("branch", ["lt", "gt"])
def test_kernel_integral_by_differentiation(branch):
    anti = sym.kernel_integral_expr(T, S2, branch)
    assert sp.simplify(sp.diff(anti, T) - 1 / (S2 + (1 - S2) * T**2)) == 0
    assert anti.subs(T, 0) == 0


@pytest.mark.parametrize("s2", [0.05, 0.5, 0.999, 1.0, 1.001, 3.0, 20.0])
def test_kernel_integral_vs_quadrature(s2):
    s2q = sp.Rational(s2)
    val = sym.kernel_integral_expr(sp.Rational(7, 10), s2q)
    with mp.workdps(30):
        ref = mp.quad(lambda t: 1 / (s2q + (1 - s2q) * t**2), [0, mp.mpf(7) / 10])
        assert abs(sp.N(val, 30) - ref) < mp.mpf(10) ** -25 * abs(ref)


def test_sympy_integrate_bug_is_why_the_kernel_is_integrated_by_hand():
    """sympy's integrate drops the atan term of int t^2/(1 - a + a t^2) dt (a > 0)."""
    a = sp.Symbol("a", positive=True)
    integrand = T**2 / (1 - a + a * T**2)
    by_sympy = sp.integrate(integrand, T)
    if sp.simplify(sp.diff(by_sympy, T) - integrand) == 0:
        pytest.skip("sympy's integrate is correct in this version")
    by_hand = sym._definite(integrand.subs(a, 1 - S2), 0, T, S2, "lt")
    assert sp.simplify(sp.diff(by_hand, T) - integrand.subs(a, 1 - S2)) == 0


@pytest.mark.parametrize("weighting", WEIGHTINGS)
@pytest.mark.parametrize("s2", [sp.Rational(1, 3), sp.Integer(1), sp.Rational(7, 2)])
def test_moments_vs_quadrature(weighting, s2):
    """Both closed-form means against mpmath.quad of the integrands (independent of crossover)."""
    lo, hi = sp.Rational(1, 20), sp.Rational(9, 10)
    e_w, e_wg = sym.crossover_moments_expr(weighting, s2, lo, hi)
    lam = sp.lambdify(T, sym.weighting_expr(weighting), "mpmath")
    with mp.workdps(30):
        g = lambda t: t**2 / (s2 * (1 - t**2) + t**2)  # noqa: E731
        width = mp.mpf(hi - lo)
        ref_w = mp.quad(lam, [lo, hi]) / width
        ref_wg = mp.quad(lambda t: lam(t) * g(t), [lo, hi]) / width
        assert abs(sp.N(e_w, 30) - ref_w) < mp.mpf(10) ** -25 * ref_w
        assert abs(sp.N(e_wg, 30) - ref_wg) < mp.mpf(10) ** -25 * ref_wg


def test_x0_closed_forms():
    assert sym.crossover_ratio_expr("x0", s2=1) == 1 - 1 / (3 * C)
    half = sym.crossover_ratio_expr("x0", s2=sp.Rational(1, 2))
    assert sp.simplify(half - (1 - (2 - sp.pi / 2) / C)) == 0
    # the general forms of the docstring: E_t[g] = (1 - atan(sqrt(u))/sqrt(u))/(1 - s2)
    u = (1 - S2) / S2
    lt = 1 - (1 - sp.atan(sp.sqrt(u)) / sp.sqrt(u)) / (C * (1 - S2))
    gt = 1 - (sp.atanh(sp.sqrt(-u)) / sp.sqrt(-u) - 1) / (C * (S2 - 1))
    pw = sym.crossover_ratio_expr("x0")
    for s2, ref in ((sp.Rational(1, 5), lt), (sp.Rational(17, 4), gt)):
        assert abs(sp.N((pw - ref).subs({S2: s2, C: sp.Rational(3, 2)}), 30)) < 1e-28
    # continuity at s2 = 1: both branches tend to 1 - 1/(3C)
    for ref in (lt, gt):
        assert sp.simplify(sp.limit(ref, S2, 1) - (1 - 1 / (3 * C))) == 0


@settings(max_examples=40, deadline=None)
@given(s2=S2_RANGE, C_=C_RANGE)
def test_x0_ratio_vs_numeric(s2, C_):
    """crossover_ratio_expr("x0") at any s2 vs crossover_ratio("x0", var_star=s2) to 1e-9."""
    exact = float(mp_eval(ratio_fn("x0", False), s2, C_))
    assert rel_err(cx.crossover_ratio("x0", var_star=s2, C=C_), exact) < 1e-9


@pytest.mark.parametrize("s2", [0.05, 1 - 2**-40, 1.0, 1 + 2**-40, 20.0])
def test_x0_ratio_vs_numeric_edges(s2):
    exact = float(mp_eval(ratio_fn("x0", False), s2, 1.0))
    assert rel_err(cx.crossover_ratio("x0", var_star=s2, C=1.0), exact) < 1e-9


@settings(max_examples=25, deadline=None)
@given(s2=S2_RANGE, C_=C_RANGE, t_min=st.floats(1e-6, 0.5), weighting=st.sampled_from(WEIGHTINGS))
def test_truncated_ratio_vs_numeric(s2, C_, t_min, weighting):
    """t ~ Unif(t_min, 1), every named weighting, vs crossover_ratio(t_min=...), to 1e-9."""
    exact = mp_eval(ratio_fn(weighting, True), s2, C_, t_min)
    num = cx.crossover_ratio(weighting, var_star=s2, C=C_, t_min=t_min)
    assert rel_err(num, float(exact)) < 1e-9
    # the deficit 1 - M_*/N (tiny for lambda = psi at small t_min): 1e-6 relative, up to the
    # float64 rounding of num itself
    assert abs((1.0 - num) - float(1 - exact)) < 1e-6 * float(1 - exact) + 4 * EPS64


@settings(max_examples=25, deadline=None)
@given(t_min=st.floats(1e-6, 0.5), C_=C_RANGE)
def test_eps_ratio_closed_form_vs_numeric(t_min, C_):
    """lambda = psi, s2 = 1: M_*/N = 1 - t_min (2 + t_min)/(3C)."""
    expr = sym.crossover_ratio_expr("eps", s2=1, t_min=T_MIN)
    assert sp.simplify(expr - (1 - T_MIN * (2 + T_MIN) / (3 * C))) == 0
    closed = 1 - t_min * (2 + t_min) / (3 * C_)
    assert rel_err(cx.crossover_ratio("eps", t_min=t_min, C=C_), closed) < 1e-12


@pytest.mark.parametrize("weighting", ["eps", "score", "v"])
def test_non_integrable_weightings_give_ratio_one(weighting):
    """E_t[lambda] = oo at t_min = 0: sympy.limit gives M_*/N = 1 (crossover returns 1.0)."""
    assert sym.crossover_ratio_expr(weighting, s2=1) == 1
    assert sym.crossover_ratio_expr(weighting, s2=sp.Rational(5, 2)) == 1
    assert sym.crossover_moments_expr(weighting, 1, 0)[0] == sp.oo
    assert cx.crossover_ratio(weighting) == 1.0


def _eps_deficit(s2: int = 1):
    """1 - M_*/N for lambda = psi as an mpmath function of (C, t_min)."""
    expr = sp.factor(1 - sym.crossover_ratio_expr("eps", s2=s2, t_min=T_MIN))
    return sp.lambdify((C, T_MIN), expr, "mpmath")


@pytest.mark.parametrize("t_min", [1e-300, 1e-200, 1e-30, 1e-20, 1e-3, 0.4])
def test_eps_moments_at_30_digits(t_min):
    """The mpmath quadrature of crossover (dps=30) vs the closed-form means, to 1e-28."""
    e_w, e_wg = sym.crossover_moments_expr("eps", 1, T_MIN)
    f = sp.lambdify(T_MIN, (e_w, e_wg), "mpmath")
    w, wg = cx._continuous_moments("eps", VP, 1.0, t_min, None, 30)
    with mp.workdps(30):
        ref_w, ref_wg = f(mp.mpf(t_min))
        assert abs(w / ref_w - 1) < mp.mpf(10) ** -28
        assert abs(wg / ref_wg - 1) < mp.mpf(10) ** -28


@pytest.mark.parametrize("t_min", [1e-200, 1e-20, 1e-3, 0.4])
@pytest.mark.parametrize("C_", [1.0, 2.0])
def test_eps_ratio_dps30_to_30_digits(t_min, C_):
    """crossover_ratio(dps=30) returns M_*/N to 30 digits (float64 rounds 1 - 3e-21 to 1)."""
    deficit = _eps_deficit()
    num = cx.crossover_ratio("eps", t_min=t_min, C=C_, dps=30)
    with mp.workdps(30):
        exact = 1 - deficit(mp.mpf(C_), mp.mpf(t_min))
        assert abs(num - exact) < mp.mpf(10) ** -28
    if t_min <= 1e-20:
        assert cx.crossover_ratio("eps", t_min=t_min, C=C_) == 1.0


# --- the 26-point grid ----------------------------------------------------------------------------


def test_grid_times_vs_schedule():
    exact = np.array([float(t) for t in sym.grid_times()])
    np.testing.assert_allclose(exact, GRID, rtol=0, atol=1e-15)
    assert sym.grid_times()[16] == sp.Rational("0.36028")


def test_grid_reference_values():
    r = sym.crossover_ratio_grid_expr("x0")
    assert r == 1 - sp.Rational(8491009, 25000000) / C
    assert r.subs(C, 1) == sp.Rational(16508991, 25000000)
    assert r.subs(C, 2) == sp.Rational(41508991, 50000000)
    assert round(float(r.subs(C, 1)), 5) == 0.66036 and round(float(r.subs(C, 2)), 5) == 0.83018
    e = sym.crossover_ratio_grid_expr("eps")
    assert round(float(e.subs(C, 1)), 7) == 0.9999828 and round(float(e.subs(C, 2)), 7) == 0.9999914


@pytest.mark.parametrize("weighting", WEIGHTINGS)
@pytest.mark.parametrize("C_", [1, 2])
def test_grid_ratio_vs_numeric(weighting, C_):
    exact = sym.crossover_ratio_grid_expr(weighting).subs(C, C_)
    num = cx.crossover_ratio(weighting, times=GRID, C=float(C_))
    assert rel_err(num, float(exact)) < 1e-13


@settings(max_examples=15, deadline=None)
@given(s2=S2_RANGE, C_=C_RANGE)
def test_grid_ratio_vs_numeric_any_s2(s2, C_):
    exact = sym.crossover_ratio_grid_expr("x0", s2=sp.Rational(s2)).subs(C, sp.Rational(C_))
    num = cx.crossover_ratio("x0", times=GRID, var_star=s2, C=C_)
    assert rel_err(num, float(exact)) < 1e-13


def test_single_time_reference_values():
    t16 = [sym.grid_times()[16]]
    r = sym.crossover_ratio_times_expr(t16)
    assert r == 1 - t16[0] ** 2 / C
    assert round(float(r.subs(C, 1)), 4) == 0.8702 and round(float(r.subs(C, 2)), 4) == 0.9351
    num = cx.crossover_ratio("x0", times=[float(t16[0])], C=1.0)
    assert rel_err(num, float(r.subs(C, 1))) < 1e-14


# --- bad input -----------------------------------------------------------------------------------


def test_bad_input():
    with pytest.raises(ValueError, match="weighting"):
        sym.crossover_ratio_expr("x1")
    with pytest.raises(ValueError, match="s2"):
        sym.crossover_ratio_expr("x0", s2=-1)
    with pytest.raises(ValueError, match="s2"):
        sym.crossover_moments_expr("x0", S2)
    with pytest.raises(ValueError, match="branch"):
        sym.kernel_integral_expr(T, S2)
    with pytest.raises(ValueError, match="times"):
        sym.crossover_ratio_times_expr([])


@pytest.mark.parametrize("weighting", WEIGHTINGS)
@pytest.mark.parametrize("s2", [0.3, 1.0, 4.0])
def test_ratio_with_t_max_vs_numeric(weighting, s2):
    """t ~ Unif(t_min, t_max) with both ends symbolic, vs crossover_ratio(t_min=, t_max=)."""
    expr = sym.crossover_ratio_expr(weighting, s2=None, t_min=T_MIN, t_max=sym.T_MAX)
    f = sp.lambdify((S2, C, T_MIN, sym.T_MAX), expr, "mpmath")
    exact = float(mp_eval(f, s2, 1.5, 0.01, 0.8))
    num = cx.crossover_ratio(weighting, var_star=s2, C=1.5, t_min=0.01, t_max=0.8)
    assert rel_err(num, exact) < 1e-10


# --- fuzzing findings: bad symbolic arguments ----------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: sym.gen_excess_expr(True),  # AttributeError
        lambda: sym.crossover_moments_expr("x0", None),  # AttributeError
        lambda: sym.crossover_ratio_expr("x0", s2=[1.0, "a", None]),
        lambda: sym.crossover_ratio_expr("x0", s2=1, t_max=0),  # NaN
        lambda: sym.crossover_ratio_grid_expr("x0", s2=np.empty(0)),
        lambda: sym.crossover_ratio_grid_expr("x0", n_steps=0),  # NaN
        lambda: sym.grid_times(2**62),  # hung
        lambda: sym.grid_times(eps=math.inf),  # accepted
        lambda: sym.kernel_integral_expr(np.full((2, 3), 0.5), S2, "lt"),  # AttributeError
        lambda: sym.kernel_integral_expr(T, 0.0),  # ZeroDivisionError
        lambda: sym.crossover_moments_times_expr([0.5], "x0", s2=math.inf),
        lambda: sym.approx_loss_difference_expr(1 + 1j),  # complex accepted
        lambda: sym.crossover_moments_expr("x0", 1, 1 + 1j),
    ],
)
def test_bad_symbolic_arguments_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_kernel_integral_float_one_is_the_s2_equal_one_branch():
    # s2 = 1.0 took the s2 != 1 branch: atan(0)/0 = NaN
    assert sym.kernel_integral_expr(sp.Rational(1, 2), 1.0) == sp.Rational(1, 2)


def test_float_arguments_are_exact_rationals():
    # fuzzing finding: s2 = 1e300 rounded 1 - 1/s2 to 1, giving complex or infinite results
    expr = sym.crossover_ratio_expr("x0", s2=1e300)
    assert not expr.has(sp.I) and not expr.atoms(sp.Float)
    value = sp.N(expr.subs(C, 1), 400)  # 1 - 1/s2 = 1 - 1e-300 needs 300+ digits
    assert value.is_finite and value.is_real
    k = sym.kernel_integral_expr(1, 1e300)
    assert sp.N(k, 400).is_finite  # atanh(sqrt(1 - 1e-300)) / sqrt(s2 (s2 - 1)), exact
    assert sym.kernel_integral_expr(0.5, 0.5) == sym.kernel_integral_expr(
        sp.Rational(1, 2), sp.Rational(1, 2)
    )


def test_tiny_float_s2_is_the_decimal_it_prints_as():
    # fuzzing finding: s2 = 1e-308 as its binary value (a 1000-bit denominator) took > 15 s
    assert sym._real(1e-308, "s2") == sp.Rational(1, 10**308)
    moments = sym.crossover_moments_expr("eps", 1e-308, T_MIN)
    assert moments == sym.crossover_moments_expr("eps", sp.Rational(1, 10**308), T_MIN)
