"""The sympy derivations of diffmem_theory.fisher.symbolic against the numeric code."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from diffmem_theory.core.schedules import VPExp, VPTrig
from diffmem_theory.crossover import symbolic as sym000
from diffmem_theory.fisher import loss_gap as fi
from diffmem_theory.fisher import symbolic as sf

VP = VPExp()
_direction = sp.lambdify((sf.ALPHA, sf.SIGMA, sf.LAM), sf.gap_direction_expr(), "math")
_vp = sp.lambdify((sf.T, sf.LAM), sf.gap_vp_expr(), "math")
_integral = sp.lambdify((sf.T0, sf.T1, sf.LAM), sf.gap_integral_expr(), "math")

lams = st.lists(st.floats(0.0, 10.0), min_size=1, max_size=5)


@settings(max_examples=50, deadline=None)
@given(lam=lams, t=st.floats(1e-3, 0.99), trig=st.booleans())
def test_direction_expr_is_the_numeric_closed_form(lam, t, trig):
    """Summed over eigenvalues, the derived expectation is loss_gap_asymptotic_gaussian."""
    sched = VPTrig() if trig else VP
    a, s = float(sched.alpha(t)), float(sched.sigma(t))
    derived = math.fsum(_direction(a, s, v) for v in lam)
    assert derived == pytest.approx(float(fi.loss_gap_asymptotic_gaussian(t, lam, sched)))


@settings(max_examples=50, deadline=None)
@given(lam=lams, t=st.floats(1e-3, 20.0))
def test_vp_expr(lam, t):
    derived = math.fsum(_vp(t, v) for v in lam)
    assert derived == pytest.approx(float(fi.loss_gap_asymptotic_gaussian(t, lam)), rel=1e-10)


@settings(max_examples=40, deadline=None)
@given(lam=lams, t0=st.floats(1e-3, 3.0), width=st.floats(1e-3, 10.0))
def test_integral_expr_vs_numeric(lam, t0, width):
    t1 = t0 + width
    derived = math.fsum(_integral(t0, t1, v) for v in lam)
    numeric = float(fi.loss_gap_integral_asymptotic(t0, t1, lam))
    assert derived == pytest.approx(numeric, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(
    ("t0", "t1", "lam"), [(1e-3, 0.5, [1.0]), (1e-6, 7.5, [0.0, 0.25, 3.0]), (0.3, 0.30001, [9.0])]
)
def test_integral_expr_vs_mp_at_40_digits(t0, t1, lam):
    subs = {sf.T0: sp.Rational(t0), sf.T1: sp.Rational(t1)}  # the exact binary floats
    exact = sum(sf.gap_integral_expr().subs({**subs, sf.LAM: sp.Rational(v)}) for v in lam)
    with mpmath.workdps(40):
        mp = fi.loss_gap_integral_asymptotic_mp(t0, t1, lam, dps=40)
        assert abs(mpmath.mpf(str(sp.N(exact, 45))) - mp) <= mpmath.mpf(10) ** -35 * (1 + abs(mp))


def test_integral_expr_derivative_and_reference():
    expr = sf.gap_integral_expr()
    assert sp.simplify(sp.diff(expr, sf.T1) - sf.gap_vp_expr().subs(sf.T, sf.T1)) == 0
    assert sp.simplify(sp.diff(expr, sf.T0) + sf.gap_vp_expr().subs(sf.T, sf.T0)) == 0
    assert expr.subs(sf.T1, sf.T0) == 0
    value = 32 * expr.subs({sf.LAM: 1, sf.T0: sp.Rational(1, 1000), sf.T1: sp.Rational(1, 2)})
    assert float(value) == pytest.approx(191.2161, abs=5e-5)


def test_limits():
    F = sf.gap_direction_expr()
    assert sp.limit(F * sf.SIGMA**2, sf.SIGMA, 0) == 1  # d / sigma^2 at small t (full rank)
    assert F.subs(sf.LAM, 0) == 0  # null directions do not count
    assert sp.simplify(sf.gap_vp_unit_expr() - 1 / (sp.exp(sf.T) - 1)) == 0
    assert float(32 * sf.gap_vp_unit_expr().subs(sf.T, sp.Rational(1, 100))) == pytest.approx(
        3184.027, abs=1e-3
    )
    # the gap increases with the variance (d/dlambda > 0)
    assert (
        sp.simplify(sp.diff(F, sf.LAM) - sf.ALPHA**2 / (sf.ALPHA**2 * sf.LAM + sf.SIGMA**2) ** 2)
        == 0
    )


def test_x0_units_is_paper000_thm3_1():
    """VPTrig (alpha^2 = 1 - t^2, sigma^2 = t^2): the x0-unit gap is gen_excess_expr / d."""
    sch = sym000.vptrig_schedule()
    ours = sf.gap_x0_units_expr().subs(
        {sf.ALPHA: sp.sqrt(sch["alpha2"]), sf.SIGMA: sp.sqrt(sch["sigma2"]), sf.LAM: sym000.S2}
    )
    assert sp.simplify(ours - sym000.gen_excess_expr() / sym000.D) == 0


def test_derivation_fails_for_a_wrong_moment():
    """The moment substitution matters: with E eps^2 = 1 instead of lambda the result differs."""
    s_hat = -sf.Z / sf.SIGMA
    s = -(sf.ALPHA * sf.EPS + sf.SIGMA * sf.Z) / (sf.ALPHA**2 * sf.LAM + sf.SIGMA**2)
    poly = sp.Poly(sp.expand((s_hat - s) ** 2), sf.Z, sf.EPS)
    wrong = {(2, 0): 1, (0, 2): 1, (1, 1): 0, (1, 0): 0, (0, 1): 0, (0, 0): 1}
    expr = sum(c * wrong[m] for m, c in poly.terms())
    value = float(expr.subs({sf.ALPHA: 0.9, sf.SIGMA: 0.4, sf.LAM: 3.0}))
    assert value != pytest.approx(_direction(0.9, 0.4, 3.0), rel=1e-3)
    assert np.isfinite(value)
