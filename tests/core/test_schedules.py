"""Tests of diffmem_theory.core.schedules: closed forms, inverses, reference values, conversions.

Independent computations used here: an mpmath twin of every schedule built from the
papers' definitions (integrals by quadrature, derivatives by mpmath.diff), central finite
differences, sympy derivations of f and g^2, and plain NumPy unit conversions.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from diffmem_theory import registry
from diffmem_theory.core.checks import schedules as schedule_checks
from diffmem_theory.core.schedules import (
    OU,
    PREDICTIONS,
    SCHEDULE_NAMES,
    VE,
    FlowMatching,
    Schedule,
    VEExp,
    VEPower,
    VPExp,
    VPLinear,
    VPTrig,
    as_schedule,
    convert_prediction,
    loss_scale,
)

EPS64 = np.finfo(np.float64).eps

SCHEDULES = {
    "VPTrig": VPTrig(),
    "OU": OU(),
    "OU-lam0.3": OU(lam=0.3),
    "VPLinear": VPLinear(),
    "VPLinear-steep-T2": VPLinear(0.1, 20.0, T=2.0),
    "VPExp": VPExp(),
    "VPExp-2.5-T4": VPExp(beta=2.5, T=4.0),
    "VE-linear2t": VE.linear2t(),
    "VE-power2.5": VE.power(2.5),
    "VEPower-a0-scale3": VEPower(a=0.0, scale=3.0),
    "VE-exp": VE.exp(),
    "VE-exp-literal": VE.exp_literal(),
    "VEExp-3-T2": VEExp(sigma_max=3.0, T=2.0),
    "FlowMatching": FlowMatching(),
}
IDS = list(SCHEDULES)
VP_FAMILY = ["VPTrig", "VPLinear", "VPLinear-steep-T2", "VPExp", "VPExp-2.5-T4"]


def _t_hi(sched: Schedule) -> float:
    """A large time inside the domain (50 for T = inf)."""
    if math.isinf(sched.T):
        return 50.0
    return sched.T * (1.0 - 1e-6) if sched.domain.endswith(")") else sched.T


def _interior(sched: Schedule, u: float) -> float:
    """Map u in [0, 1] to an interior time away from the ends (for finite differences)."""
    hi = 8.0 if math.isinf(sched.T) else 0.98 * sched.T
    lo = 0.01 * min(hi, 1.0)
    return lo + u * (hi - lo)


def _anywhere(sched: Schedule, u: float) -> float:
    """Map u in [0, 1] log-uniformly onto [1e-6, t_hi]."""
    t_hi = _t_hi(sched)
    return min(math.exp(math.log(1e-6) + u * (math.log(t_hi) - math.log(1e-6))), t_hi)


def _sup_sigma2(sched: Schedule) -> float:
    """sigma^2 at the end of the domain (its limit when T = inf), from the definitions."""
    if math.isinf(sched.T):
        return getattr(sched, "lam", 1.0)  # OU: lam; VPExp: 1
    return 1.0 if isinstance(sched, (VPTrig, FlowMatching)) else float(sched.sigma2(sched.T))


unit = st.floats(0.0, 1.0)

# --- mpmath twins from the definitions ------------------------------------------------


def _twin(sched: Schedule):
    """(alpha(t), sigma^2(t)) in mpmath, from the papers' definitions."""
    if isinstance(sched, VPTrig):  # paper 000, §2
        return (lambda t: mp.sqrt(1 - t**2)), (lambda t: t**2)
    if isinstance(sched, FlowMatching):  # Lipman et al. (2023): alpha = 1 - t, sigma = t
        return (lambda t: 1 - t), (lambda t: t**2)
    if isinstance(sched, OU):  # paper 001, (2.4) and footnote 5
        lam = mp.mpf(sched.lam)
        return (lambda t: mp.exp(-t)), (lambda t: lam * (1 - mp.exp(-2 * t)))
    if isinstance(sched, (VPLinear, VPExp)):  # paper 002, Lemma 3.1 with beta = g
        if isinstance(sched, VPLinear):
            b0, b1 = mp.mpf(sched.beta_min), mp.mpf(sched.beta_max) - mp.mpf(sched.beta_min)
        else:
            b0, b1 = mp.mpf(sched.beta), mp.mpf(0)

        def big_b(t):
            return mp.quad(lambda u: b0 + b1 * u, [0, t])

        return (lambda t: mp.exp(-big_b(t) / 2)), (lambda t: 1 - mp.exp(-big_b(t)))
    if isinstance(sched, VEPower):  # paper 002, Ex. 2.5: sigma^2 = int_0^t g
        a, c = mp.mpf(sched.a), mp.mpf(sched.scale)
        return (lambda t: mp.mpf(1)), (lambda t: mp.quad(lambda u: c * u**a, [0, t]))
    assert isinstance(sched, VEExp)  # paper 002, §4.4: sqrt(g) = sigma_max^t
    sm = mp.mpf(sched.sigma_max)
    return (lambda t: mp.mpf(1)), (lambda t: mp.quad(lambda u: sm ** (2 * u), [0, t]))


def _twin_values(sched: Schedule, t: float, c: float) -> dict[str, mp.mpf]:
    alpha, sigma2 = _twin(sched)
    t = mp.mpf(t)
    a, v = alpha(t), sigma2(t)
    f = mp.diff(lambda u: mp.log(alpha(u)), t)
    dv = mp.diff(sigma2, t)
    return {
        "alpha": a,
        "sigma": mp.sqrt(v),
        "sigma2": v,
        "log_alpha": mp.log(a),
        "log_sigma2": mp.log(v),
        "snr": a**2 / v,
        "log_snr": mp.log(a**2 / v),
        "dalpha": mp.diff(alpha, t),
        "dsigma": mp.diff(lambda u: mp.sqrt(sigma2(u)), t),
        "dsigma2": dv,
        "drift": f,
        "diffusion2": dv - 2 * f * v,
        "s_time": -mp.log(v) / 2,
        "s_time_c": -mp.log(v + c) / 2,
        "ds_dt_c": -dv / (2 * (v + c)),
    }


def _ours(sched: Schedule, t: float, c: float) -> dict[str, float]:
    names = [
        "alpha", "sigma", "sigma2", "log_alpha", "log_sigma2", "snr", "log_snr",
        "dalpha", "dsigma", "dsigma2", "drift", "diffusion2", "s_time",
    ]  # fmt: skip
    out = {name: float(getattr(sched, name)(t)) for name in names}
    out["s_time_c"] = float(sched.s_time(t, c))
    out["ds_dt_c"] = float(sched.ds_dt(t, c))
    return out


@pytest.mark.parametrize("key", IDS)
def test_every_quantity_matches_the_mpmath_twin_near_both_ends(key):
    sched = SCHEDULES[key]
    mid = 0.3 if math.isinf(sched.T) else 0.3 * sched.T
    c = 0.3
    with mp.workdps(80):  # sigma^2(50) = 1 - e^{-100}: its derivative needs > 44 digits
        for t in (1e-6, 1e-3, mid, _t_hi(sched)):
            ours, ref = _ours(sched, t, c), _twin_values(sched, t, c)
            for name, value in ours.items():
                want = float(ref[name])
                assert math.isfinite(value), (name, t)
                assert abs(value - want) <= 1e-12 * abs(want) + 1e-300, (key, name, t, value, want)


# --- finite differences and identities -----------------------------------------------


def _central(func, t: float, h: float) -> tuple[float, float]:
    """Central difference and its rounding-error bound (a few ulps of f over 2h)."""
    hi, lo = float(func(t + h)), float(func(t - h))
    return (hi - lo) / (2.0 * h), 4.0 * EPS64 * max(abs(hi), abs(lo)) / h


@pytest.mark.parametrize("key", IDS)
@settings(max_examples=25, deadline=None)
@given(u=unit, c=st.sampled_from([0.0, 0.05, 2.0]))
def test_derivatives_match_central_differences(key, u, c):
    sched = SCHEDULES[key]
    t = _interior(sched, u)
    h = 1e-5 * t
    pairs = [
        (sched.dalpha(t), _central(sched.alpha, t, h)),
        (sched.dsigma(t), _central(sched.sigma, t, h)),
        (sched.dsigma2(t), _central(sched.sigma2, t, h)),
        (sched.drift(t), _central(sched.log_alpha, t, h)),
        (sched.ds_dt(t, c), _central(lambda r: sched.s_time(r, c), t, h)),
    ]
    if hasattr(sched, "integrated_beta"):  # the VP family: dB/dt = beta = -2 f
        pairs.append((-2.0 * sched.drift(t), _central(sched.integrated_beta, t, h)))
    if isinstance(sched, VPLinear):
        pairs.append((sched.beta(t), _central(sched.integrated_beta, t, h)))
    for closed, (fd, rounding) in pairs:
        assert abs(float(closed) - fd) <= 1e-6 * max(abs(fd), 1e-3) + rounding, (t, closed, fd)


@pytest.mark.parametrize("key", IDS)
@settings(max_examples=25, deadline=None)
@given(u=unit)
def test_diffusion_is_the_sde_identity(key, u):
    # g^2 = d sigma^2/dt - 2 f sigma^2 = alpha^2 d(sigma^2/alpha^2)/dt (paper 001, (A.11))
    sched = SCHEDULES[key]
    t = _interior(sched, u)
    g2 = float(sched.diffusion2(t))
    identity = float(sched.dsigma2(t) - 2.0 * sched.drift(t) * sched.sigma2(t))
    h = 1e-5 * t
    ratio_fd, rounding = _central(lambda r: sched.sigma2(r) / sched.alpha(r) ** 2, t, h)
    a2 = float(sched.alpha(t)) ** 2
    assert g2 > 0
    assert abs(g2 - identity) <= 1e-12 * g2
    assert abs(g2 - a2 * ratio_fd) <= 1e-6 * g2 + a2 * rounding


def test_sympy_derivations_of_drift_and_diffusion():
    t, lam, b0, b1, sm = sp.symbols("t lambda beta_0 beta_1 sigma_max", positive=True)
    cases = {  # schedule: (alpha, sigma^2, printed f, printed g^2)
        VPTrig(): (sp.sqrt(1 - t**2), t**2, -t / (1 - t**2), 2 * t / (1 - t**2)),
        OU(lam=0.7): (sp.exp(-t), lam * (1 - sp.exp(-2 * t)), -1, 2 * lam),
        VPLinear(0.2, 5.0): (
            sp.exp(-(b0 * t + b1 * t**2 / 2) / 2),
            1 - sp.exp(-(b0 * t + b1 * t**2 / 2)),
            -(b0 + b1 * t) / 2,
            b0 + b1 * t,
        ),
        VE.exp(3.0): (sp.Integer(1), (sm ** (2 * t) - 1) / (2 * sp.log(sm)), 0, sm ** (2 * t)),
    }
    values = {lam: 0.7, b0: 0.2, b1: 4.8, sm: 3.0}
    for sched, (alpha, var, f_printed, g2_printed) in cases.items():
        f = sp.diff(sp.log(alpha), t)
        g2 = sp.diff(var, t) - 2 * f * var
        assert sp.simplify(f - f_printed) == 0
        assert sp.simplify(g2 - g2_printed) == 0
        g2_num = sp.lambdify(t, g2_printed.subs(values) if g2_printed != 0 else 0)
        for tv in (0.1, 0.45, 0.9):
            assert math.isclose(float(sched.diffusion2(tv)), float(g2_num(tv)), rel_tol=1e-12)


@pytest.mark.parametrize("key", VP_FAMILY)
@settings(max_examples=30, deadline=None)
@given(u=unit)
def test_variance_preserving_identities(key, u):
    sched = SCHEDULES[key]
    t = _anywhere(sched, u)
    assert abs(float(sched.alpha(t)) ** 2 + float(sched.sigma2(t)) - 1.0) <= 4 * EPS64
    # paper 002 (C.3): alpha^2 = 1 - e^{-2s} with s = -1/2 log sigma^2
    s = float(sched.s_time(t))
    assert math.isclose(float(sched.alpha(t)) ** 2, -math.expm1(-2 * s), rel_tol=1e-9)


@settings(max_examples=30, deadline=None)
@given(u=unit, lam=st.floats(1e-3, 50.0))
def test_ou_noise_scale(u, lam):
    sched = OU(lam=lam)
    t = _anywhere(sched, u)
    alpha, var = float(sched.alpha(t)), float(sched.sigma2(t))
    assert abs(alpha**2 + var / lam - 1.0) <= 4 * EPS64
    assert math.isclose(var, lam * float(OU().sigma2(t)), rel_tol=1e-14)
    assert float(sched.drift(t)) == -1.0 and math.isclose(float(sched.diffusion2(t)), 2 * lam)


def test_shared_vp_family_and_presets():
    t = np.array([1e-6, 0.01, 0.5, 3.0, 40.0])
    for a, b in [(OU(lam=1.0), VPExp(beta=2.0)), (VPExp(1.7), VPLinear(1.7, 1.7, T=math.inf))]:
        np.testing.assert_allclose(a.alpha(t), b.alpha(t), rtol=1e-15)
        np.testing.assert_allclose(a.sigma2(t), b.sigma2(t), rtol=1e-15)
        np.testing.assert_allclose(a.diffusion2(t), b.diffusion2(t), rtol=1e-15)
    assert VE.exp_literal() == VEExp(sigma_max=math.sqrt(10.0))
    assert VE.exp() == VEExp(sigma_max=10.0) and VE.power(2) == VEPower(a=2.0)
    u = np.linspace(0.01, 1.0, 7)
    np.testing.assert_allclose(VE.exp_literal().diffusion2(u), 10.0**u, rtol=1e-14)
    np.testing.assert_allclose(VE.exp().diffusion2(u), 100.0**u, rtol=1e-14)
    np.testing.assert_allclose(VE.linear2t().sigma2(u), u**2, rtol=1e-15)
    np.testing.assert_allclose(VE.linear2t().diffusion2(u), 2 * u, rtol=1e-15)
    # Remark 4.6: t g / (2 sigma^2) = (p + 1)/2 for g ~ t^p; VE.exp has p = 0 at t -> 0
    for a in (0.0, 1.0, 2.5):
        ratio = u * VE.power(a).diffusion2(u) / (2 * VE.power(a).sigma2(u))
        np.testing.assert_allclose(ratio, (a + 1) / 2, rtol=1e-14)
    small = 1e-7
    ratio = small * VE.exp().diffusion2(small) / (2 * VE.exp().sigma2(small))
    assert abs(ratio - 0.5) <= 1e-6


# --- inverses and round trips ----------------------------------------------------------


@pytest.mark.parametrize("key", IDS)
@settings(max_examples=40, deadline=None)
@given(u=unit)
def test_inverse_snr_and_inverse_sigma2_round_trip(key, u):
    sched = SCHEDULES[key]
    t = _anywhere(sched, u)
    # the rounding of psi (or log psi) moves t by about eps / |d log psi/dt|
    dlogpsi = abs(2 * float(sched.drift(t)) - float(sched.dsigma2(t) / sched.sigma2(t)))
    t_back = float(sched.inverse_snr(sched.snr(t)))
    assert abs(t_back - t) <= 1e-12 * t + 64 * EPS64 * (1 + abs(sched.log_snr(t))) / dlogpsi
    v = float(sched.sigma2(t))
    assume(v < _sup_sigma2(sched) or sched.domain.endswith("]"))  # else v rounded to the end
    dlogv = float(sched.dsigma2(t)) / v
    t_back = float(sched.inverse_sigma2(v))
    assert abs(t_back - t) <= 1e-12 * t + 64 * EPS64 / dlogv


@pytest.mark.parametrize("key", IDS)
@settings(max_examples=40, deadline=None)
@given(u=unit, c=st.sampled_from([0.0, 0.01, 0.5, 3.0]))
def test_s_time_round_trip(key, u, c):
    sched = SCHEDULES[key]
    t = _anywhere(sched, u)
    s = sched.s_time(t, c)
    s_end = -0.5 * math.log(_sup_sigma2(sched) + c)
    assume(float(s) > s_end or sched.domain.endswith("]"))  # else s rounded to the end
    assume(c == 0.0 or float(s) < -0.5 * math.log(c))  # else s rounded to the other end
    # s is stored with relative error eps; t moves by that over |ds/dt|
    tol = 1e-12 * t + 64 * EPS64 * (1 + abs(float(s))) / abs(float(sched.ds_dt(t, c)))
    assert abs(float(sched.t_of_s(s, c)) - t) <= tol


def test_inverses_at_the_end_of_a_closed_domain_return_T():
    for sched in (VPLinear(), VE.exp(), VE.power(2.0)):
        assert float(sched.inverse_sigma2(sched.sigma2(1.0))) == pytest.approx(1.0, abs=1e-14)
        assert float(sched.inverse_snr(sched.snr(1.0))) <= 1.0
        assert float(sched.t_of_s(sched.s_time(1.0))) <= 1.0
    assert float(VPTrig().inverse_snr(3.0)) == pytest.approx(0.5, rel=1e-15)
    assert float(VPTrig().t_of_s(-math.log(0.25))) == pytest.approx(0.25, rel=1e-15)


# --- reference values, grids and stability --------------------------------------------


def test_paper002_reference_values():
    ve, vp = VE.exp(), VPLinear(0.001, 3.0)
    assert abs(float(ve.sigma(1.0)) - 4.636548) <= 1e-6
    assert abs(float(ve.s_time(1.0)) - (-1.533970)) <= 1e-6
    assert abs(float(VE.exp_literal().sigma(1.0)) - 1.977031) <= 1e-6
    assert abs(float(vp.sigma(1.0)) - 0.881465) <= 1e-6
    assert abs(float(vp.alpha(1.0)) - 0.472248) <= 1e-6
    assert abs(float(vp.s_time(1.0)) - 0.126169) <= 1e-6
    assert abs(float(vp.integrated_beta(1.0)) - 1.5005) <= 1e-12
    # the authors' notebook prints the s-intervals (-1.5340, 8.4660) and (0.1262, 20.1262)
    assert round(float(ve.s_time(1.0)), 4) == -1.5340 and round(float(vp.s_time(1.0)), 4) == 0.1262


def test_paper000_grid_and_snr_t16():
    grid = VPTrig().time_grid()
    assert np.array_equal(grid, np.linspace(0.001, 0.999, 26)[::-1])
    ell = np.arange(26)
    np.testing.assert_allclose(grid, 0.999 - 0.998 * ell / 25, rtol=0, atol=2e-16)
    assert grid[16] == 0.36028
    assert abs(float(VPTrig().snr(grid[16])) - 6.70406) <= 1e-5
    psi = VPTrig().snr(grid)
    assert abs(psi[0] - 0.002003) <= 1e-6 and abs(psi[-1] - 999999.0) <= 1e-6


def test_time_grid_options():
    g = VPLinear().time_grid(10, eps=0.01)
    assert g.shape == (11,) and g[0] == 0.99 and g[-1] == 0.01 and np.all(np.diff(g) < 0)
    g = OU().time_grid(8, eps=1e-3, t_max=5.0, spacing="log")
    np.testing.assert_allclose(g[:-1] / g[1:], (4.999 / 1e-3) ** (1 / 8), rtol=1e-12)
    assert g[0] == pytest.approx(4.999, rel=1e-15) and g[-1] == pytest.approx(1e-3, rel=1e-15)
    grid = VE.exp().time_grid(4, t_max=0.5)
    np.testing.assert_allclose(grid, [0.499, 0.3745, 0.25, 0.1255, 0.001], rtol=1e-15)


def test_no_nan_or_inf_near_the_ends():
    names = [
        "alpha", "sigma", "sigma2", "log_alpha", "log_sigma2", "snr", "log_snr",
        "dalpha", "dsigma", "dsigma2", "drift", "diffusion2", "s_time", "ds_dt",
    ]  # fmt: skip
    cases = [(VPTrig(), [1e-6, 1 - 1e-6]), (OU(), [1e-6, 50.0]), (VPExp(), [1e-6, 50.0])]
    cases += [(s, [1e-6, s.T]) for s in (VPLinear(), VE.exp(), VE.linear2t())]
    for sched, ts in cases:
        t = np.array(ts)
        for name in names:
            assert np.all(np.isfinite(getattr(sched, name)(t))), (sched.name, name)
        assert np.all(np.isfinite(sched.inverse_snr(sched.snr(t))))
        np.testing.assert_allclose(sched.t_of_s(sched.s_time(t)), t, rtol=1e-9)
    # accurate, not just finite: alpha at 1 - 1e-6 and sigma^2 at 1e-6 keep full precision
    t = 1 - 1e-6
    assert math.isclose(float(VPTrig().alpha(t)), math.sqrt((1 - t) * (1 + t)), rel_tol=1e-15)
    assert math.isclose(float(VPExp().sigma2(1e-6)), -math.expm1(-1e-6), rel_tol=1e-15)
    assert float(OU().log_alpha(800.0)) == -800.0 and float(OU().alpha(800.0)) == 0.0
    assert math.isfinite(float(OU().log_snr(800.0)))


@pytest.mark.parametrize("key", IDS)
def test_vectorized_shapes_and_float32(key):
    sched = SCHEDULES[key]
    t64 = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]) * min(sched.T, 1.5)
    t32 = t64.astype(np.float32)
    for name in ["alpha", "sigma", "sigma2", "snr", "log_snr", "drift", "diffusion2", "dsigma"]:
        out64, out32 = getattr(sched, name)(t64), getattr(sched, name)(t32)
        assert out64.shape == t64.shape and out64.dtype == np.float64
        assert out32.dtype == np.float32, name
        np.testing.assert_allclose(out32, out64, rtol=2e-5, atol=1e-30)
        scalar = getattr(sched, name)(float(t64[1, 2]))
        assert np.shape(scalar) == () and float(scalar) == pytest.approx(out64[1, 2], rel=1e-15)
    assert sched.inverse_snr(sched.snr(t32)).dtype == np.float32
    if not isinstance(sched, (VPTrig, FlowMatching)):  # integer t = 1 is in the domain: float64
        assert sched.alpha(np.array([1, 1])).dtype == np.float64


# --- prediction units ---------------------------------------------------------------


def _all_units(sched: Schedule, x0: np.ndarray, eps: np.ndarray, t) -> tuple[np.ndarray, dict]:
    """Plain NumPy twin: x_t and every unit from the definitions."""
    a = np.asarray(sched.alpha(t))[..., None]
    s = np.asarray(sched.sigma(t))[..., None]
    x = a * x0 + s * eps
    da = np.asarray(sched.dalpha(t))[..., None]
    ds = np.asarray(sched.dsigma(t))[..., None]
    return x, {
        "x0": x0,
        "eps": eps,
        "score": (a * x0 - x) / s**2,
        "v": a * eps - s * x0,
        "velocity": da * x0 + ds * eps,
    }


CONVERT_KEYS = ["VPTrig", "OU-lam0.3", "VPLinear", "VE-exp", "VE-power2.5", "FlowMatching"]


@settings(max_examples=60, deadline=None)
@given(
    key=st.sampled_from(CONVERT_KEYS),
    log_psi=st.floats(-5.0, 5.0),
    source=st.sampled_from(PREDICTIONS),
    target=st.sampled_from(PREDICTIONS),
    seed=st.integers(0, 2**16),
)
def test_convert_prediction_matches_the_definitions(key, log_psi, source, target, seed):
    sched = SCHEDULES[key]
    psi = max(math.exp(log_psi), sched._snr_min() * 1.01)
    t = float(sched.inverse_snr(psi))
    rng = np.random.default_rng(seed)
    x0, eps = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    x, units = _all_units(sched, x0, eps, t)
    out = convert_prediction(units[source], x, t, sched, source, target)
    scale = max(np.abs(u).max() for u in units.values())
    np.testing.assert_allclose(out, units[target], rtol=0, atol=1e-11 * scale * (1 + psi))
    back = convert_prediction(out, x, t, sched, target, source)
    np.testing.assert_allclose(back, units[source], rtol=0, atol=1e-11 * scale * (1 + psi))


@settings(max_examples=40, deadline=None)
@given(
    key=st.sampled_from(CONVERT_KEYS),
    u=unit,
    source=st.sampled_from(PREDICTIONS),
    target=st.sampled_from(PREDICTIONS),
    seed=st.integers(0, 2**16),
)
def test_loss_scale_is_the_ratio_of_squared_errors(key, u, source, target, seed):
    sched = SCHEDULES[key]
    t = _interior(sched, u)
    rng = np.random.default_rng(seed)
    x0, eps = rng.normal(size=5), rng.normal(size=5)
    x, units = _all_units(sched, x0, eps, t)
    x0_hat = x0 + rng.normal(size=5)  # an imperfect denoiser
    src_err = convert_prediction(x0_hat, x, t, sched, "x0", source) - units[source]
    tgt_err = convert_prediction(x0_hat, x, t, sched, "x0", target) - units[target]
    r = float(loss_scale(t, sched, source, target))
    assert math.isclose(np.sum(tgt_err**2), r * np.sum(src_err**2), rel_tol=1e-8)
    assert math.isclose(r * float(loss_scale(t, sched, target, source)), 1.0, rel_tol=1e-12)


def test_loss_scale_closed_forms():
    t = np.array([0.1, 0.5, 0.9])
    for sched in (VPTrig(), OU(lam=2.0), VE.exp()):
        a, s2 = sched.alpha(t), sched.sigma2(t)
        np.testing.assert_allclose(loss_scale(t, sched, "x0", "eps"), sched.snr(t), rtol=1e-14)
        np.testing.assert_allclose(loss_scale(t, sched, "x0", "score"), a**2 / s2**2, rtol=1e-14)
        np.testing.assert_allclose(
            loss_scale(t, sched, "x0", "v"), (a**2 + s2) ** 2 / s2, rtol=1e-14
        )
        np.testing.assert_allclose(loss_scale(t, sched, "eps", "score"), 1 / s2, rtol=1e-14)
    # paper 000 §1.2: ||eps_hat - eps||^2 = psi_t ||x_hat - x_0||^2, i.e. lambda = psi_t
    np.testing.assert_allclose(loss_scale(t, VPTrig()), (1 - t**2) / t**2, rtol=1e-14)


def test_convert_prediction_batched_times_and_dtypes():
    sched, rng = VPLinear(), np.random.default_rng(7)
    t = np.array([0.05, 0.4, 0.9])
    x0, eps = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    x, units = _all_units(sched, x0, eps, t)
    out = convert_prediction(units["x0"], x, t, sched, "x0", "score")
    for i in range(3):
        row = convert_prediction(units["x0"][i], x[i], t[i], sched, "x0", "score")
        np.testing.assert_allclose(out[i], row, rtol=1e-15)
    np.testing.assert_allclose(out, units["score"], rtol=1e-12)
    # t of shape (3, 1) broadcasts against x of shape (3, 5, 2)
    xb = rng.normal(size=(3, 5, 2))
    out = convert_prediction(xb, xb, t[:, None], sched, "eps", "v")
    assert out.shape == xb.shape
    out32 = convert_prediction(x.astype(np.float32), x.astype(np.float32), 0.3, sched, "eps", "x0")
    assert out32.dtype == np.float32
    same = convert_prediction(units["v"], x, t, sched, "v", "v")
    assert np.array_equal(same, units["v"]) and same is not units["v"]


# --- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: VPTrig().alpha(1.0), r"t must lie in \(0, 1\) for VPTrig, got 1.0"),
        (lambda: VPTrig().sigma(0.0), r"t must lie in \(0, 1\) for VPTrig, got 0.0"),
        (lambda: VPTrig().snr([0.5, -0.1]), r"got -0.1"),
        (lambda: VPLinear().drift(1.5), r"t must lie in \(0, 1\] for VPLinear, got 1.5"),
        (lambda: OU().sigma2(np.inf), r"t must lie in \(0, inf\) for OU, got inf"),
        (lambda: OU().sigma2(np.nan), r"t must lie in \(0, inf\) for OU, got nan"),
        (lambda: VE.exp().sigma2(np.array([0.5, np.nan])), r"got nan"),
        (lambda: VPTrig().alpha(np.array([0.5 + 0j])), r"t must be a real"),
        (lambda: VPTrig().alpha(True), r"t must be a real"),
        (lambda: VPTrig().alpha("0.5"), r"t must be a real"),
        (lambda: VPTrig().check_time(2.0, name="t_end"), r"t_end must lie in \(0, 1\)"),
        (lambda: OU(lam=-1.0), r"lam must be > 0"),
        (lambda: OU(lam=0.0), r"lam must be > 0"),
        (lambda: OU(lam=np.nan), r"lam must be finite"),
        (lambda: VPExp(beta=0.0), r"beta must be > 0"),
        (lambda: VPExp(T=-1.0), r"T must be > 0"),
        (lambda: VPLinear(beta_min=-1.0), r"beta_min must be >= 0"),
        (lambda: VPLinear(beta_min=2.0, beta_max=1.0), r"beta_max must be >= beta_min"),
        (lambda: VPLinear(beta_min=0.0, beta_max=0.0), r"beta_max must be > 0"),
        (lambda: VPLinear(T=0.0), r"T must be > 0"),
        (lambda: VEExp(sigma_max=1.0), r"sigma_max must be > 1"),
        (lambda: VEExp(sigma_max=0.5), r"sigma_max must be > 1"),
        (lambda: VEPower(a=-0.5), r"a must be >= 0"),
        (lambda: VEPower(scale=0.0), r"scale must be > 0"),
        (lambda: VPTrig().inverse_snr(0.0), r"psi must lie in \(0, inf\)"),
        (lambda: VPTrig().inverse_snr(-1.0), r"psi must lie in"),
        (lambda: VE.exp().inverse_snr(0.01), r"psi must lie in \[0.0465168705"),
        (lambda: VPTrig().inverse_sigma2(1.0), r"v must lie in \(0, 1\)"),
        (lambda: OU(lam=2.0).inverse_sigma2(2.0), r"v must lie in \(0, 2\)"),
        (lambda: VPLinear().inverse_sigma2(0.9), r"v must lie in \(0, 0.776"),
        (lambda: VE.exp().t_of_s(-2.0), r"s must lie in \[-1.533970"),
        (lambda: VPTrig().t_of_s(0.0), r"s must lie in \(0, inf\) .* for VPTrig"),
        (lambda: VPTrig().t_of_s(1.0, c=0.5), r"s must lie in \(-0.2027.*, 0.3465"),
        (lambda: VPTrig().t_of_s(-1e3), r"got -1000.0"),
        (lambda: VPTrig().t_of_s(np.nan), r"got nan"),
        (lambda: VPTrig().s_time(0.5, c=-0.1), r"c must be >= 0"),
        (lambda: VPTrig().ds_dt(0.5, c=np.inf), r"c must be finite"),
        (lambda: VPTrig().time_grid(0), r"n_steps must be >= 1"),
        (lambda: VPTrig().time_grid(2.5), r"n_steps must be an integer"),
        (lambda: VPTrig().time_grid(eps=0.0), r"eps must be > 0"),
        (lambda: VPTrig().time_grid(eps=0.6), r"t_max must be > 1.2"),
        (lambda: VPTrig().time_grid(t_max=1.5), r"t_max must be <= 1"),
        (lambda: VPTrig().time_grid(spacing="cosine"), r"spacing must be one of"),
        (lambda: OU().time_grid(), r"t_max is required for OU"),
        (lambda: loss_scale(0.5, VPTrig(), "x0", "noise"), r"target must be one of"),
        (lambda: loss_scale(1.5, VPTrig()), r"t must lie in \(0, 1\)"),
        (
            lambda: convert_prediction(np.ones(2), np.ones(2), 0.5, VPTrig(), "x", "eps"),
            r"source must be one of",
        ),
        (lambda: convert_prediction(np.ones(2), np.ones(3), 0.5, VPTrig()), r"pred has shape"),
        (lambda: convert_prediction(1.0, 1.0, 0.5, VPTrig()), r"x must have shape"),
        (
            lambda: convert_prediction(np.ones((3, 2)), np.ones((3, 2)), np.full(4, 0.5), VPTrig()),
            r"t has shape \(4,\)",
        ),
        (
            lambda: convert_prediction(
                np.ones((3, 2)), np.ones((3, 2)), np.full((2, 3), 0.5), VPTrig()
            ),
            r"does not broadcast",
        ),
        (lambda: convert_prediction(np.ones(2), np.ones(2), 1.0, VPTrig()), r"got 1.0"),
        (
            lambda: convert_prediction(np.array([np.nan, 1.0]), np.ones(2), 0.5, VPTrig()),
            r"pred must be finite",
        ),
    ],
)
def test_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_type_errors():
    with pytest.raises(TypeError, match="schedule must be a Schedule"):
        loss_scale(0.5, 1.0)
    with pytest.raises(TypeError, match="schedule is required"):
        loss_scale(0.5, None)
    with pytest.raises(TypeError):
        VE()  # abstract: a VE needs a concrete g
    with pytest.raises(TypeError):
        VPTrig(T=2.0)  # T is fixed to 1


def test_as_schedule_accepts_registered_names():
    # issue 14: a schedule's name where a schedule is expected gave AttributeError
    for name in SCHEDULE_NAMES:
        sched = as_schedule(name)
        assert sched == as_schedule(name.lower()) and sched.name == name
        assert type(sched)() == sched  # the default parameters
    assert float(loss_scale(0.5, "VPTrig")) == float(loss_scale(0.5, VPTrig()))
    with pytest.raises(TypeError, match="unknown name 'VPTrigg'"):
        as_schedule("VPTrigg")
    for bad in (3, 1.5, object(), [VPTrig()]):
        with pytest.raises(TypeError, match="schedule must be a Schedule or one of the names"):
            as_schedule(bad)
    assert as_schedule(None, OU()) == OU()


# --- registered checks ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "attr"),
    [
        ("paper000.snr_t16", "snr_t16"),
        ("paper002.lemma3_1", "lemma3_1"),
        ("paper001.ou_transition", "ou_transition"),
        ("paper002.schedule_refs", "schedule_refs"),
        ("core.g2_consistency", "g2_consistency"),
    ],
)
def test_registered_checks_pass(name, attr):
    spec = getattr(schedule_checks, attr)  # the registered CheckSpec itself
    assert spec.name == name and registry._CHECKS[name] is spec
    result = spec.run(seed=3)
    assert result.status == "pass", result.note
    assert result.value is not None and result.tolerance is not None


@dataclass(frozen=True)
class _WrongNoise(VPExp):
    """A VP schedule whose SDE has twice the right g^2: its moments must not match."""

    def _diffusion2(self, t):
        return 2.0 * super()._diffusion2(t)


def test_transition_check_detects_a_wrong_diffusion():
    outcome = schedule_checks._transition_outcome({"wrong": _WrongNoise(T=1.0)}, 1.5, 0, True)
    assert not outcome.passed and outcome.value > 10 * schedule_checks.Z_MAX


def test_moment_z_scores_follow_the_standard_error():
    rng = np.random.default_rng(11)
    samples = rng.normal(0.3, 2.0, size=200_000)
    z_mean, z_var = schedule_checks._moment_z_scores(samples, 0.3, 4.0)
    assert abs(z_mean) < 4 and abs(z_var) < 4
    z_mean, z_var = schedule_checks._moment_z_scores(samples, 0.35, 4.2)
    assert z_mean < -4 and z_var < -4


# --- issue 14 fuzzing: quantities beyond float64 at valid times --------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: VPTrig().snr(1e-300),  # psi = 1e600
        lambda: VEPower().dsigma(1e-300),
        lambda: VPTrig().ds_dt(1e-300),
        lambda: OU().integrated_beta(1.797e308),
        lambda: OU().log_snr(1.797e308),
        lambda: loss_scale(1e-300, VPTrig()),
        lambda: convert_prediction(np.ones(2), np.ones(2), 1e-300, VPTrig(), "x0", "score"),
        lambda: convert_prediction(np.ones(2), np.array([1.0, 1.797e308]), 0.5, VPTrig()),
    ],
)
def test_quantities_beyond_float64_raise_value_error(call):
    with pytest.raises(ValueError, match="float64"):
        call()


def test_overflowing_intermediates_are_silent_where_the_result_is_finite():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # RuntimeWarning: overflow in B(t) = t (2 + 0 t)
        assert float(OU().sigma2(1.797e308)) == 1.0
        assert float(OU().alpha(1.797e308)) == 0.0
        assert float(VPTrig().log_snr(1e-300)) == pytest.approx(2 * 690.7755278982137, rel=1e-15)
        grid = VPExp().time_grid(4, t_max=np.finfo(np.float64).max, spacing="log")
        assert np.all(np.isfinite(grid))


def test_time_grid_and_as_schedule_bad_sizes_and_defaults():
    with pytest.raises(ValueError, match="GiB"):
        VPTrig().time_grid(2**63 - 1)  # IndexError from linspace
    with pytest.raises(TypeError, match="default must be a Schedule"):
        as_schedule(None, float("nan"))


def test_name_arguments_are_strings():
    # issue 14 fuzzing: a NaN or complex ``name`` was accepted
    with pytest.raises(TypeError, match="name must be a str"):
        VPTrig().check_time(0.5, name=float("nan"))
    with pytest.raises(TypeError, match="name must be a str"):
        as_schedule(None, name=1j)
    with pytest.raises(ValueError, match="required"):
        as_schedule(None, required=float("nan"))


def test_unit_coefficients_beyond_float64_raise():
    """1/t^2 of the score at t = 1e-300 overflows: ValueError, not inf (fuzz finding)."""
    from diffmem_theory.core.schedules import unit_coefficients

    a, b = unit_coefficients("velocity", 0.5, FlowMatching())
    assert (float(a), float(b)) == (2.0, -2.0)
    with pytest.raises(ValueError, match="velocity"):
        unit_coefficients("velocity", 1e-310, FlowMatching())
    with pytest.raises(ValueError, match="score"):
        unit_coefficients("score", 1e-300, VPTrig())
