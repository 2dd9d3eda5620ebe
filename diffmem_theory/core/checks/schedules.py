"""Checks of the noise-process closed forms in :mod:`diffmem_theory.core.schedules`.

* ``paper000.snr_t16`` -- psi at t_16 of paper 000's 26-point grid is 6.70406.
* ``paper002.lemma3_1`` -- Euler-Maruyama moments of the forward SDE match Lemma 3.1.
* ``paper001.ou_transition`` -- the same for the noise-scaled OU process of paper 001.
* ``paper002.schedule_refs`` -- sigma(T), m(T) and s_0 of paper 002's two schedules.
* ``core.g2_consistency`` -- f = d log alpha/dt and g^2 = d sigma^2/dt - 2 f sigma^2.

Example
-------
>>> from diffmem_theory.core.checks.schedules import snr_t16
>>> result = snr_t16.run()
>>> result.status, round(result.value, 5)
('pass', 6.70406)
"""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate

from diffmem_theory._validation import as_rng
from diffmem_theory.core.schedules import OU, VE, Schedule, VEPower, VPExp, VPLinear, VPTrig
from diffmem_theory.registry import Outcome, check

PSI_T16 = 6.70406  # (1 - t^2)/t^2 at t_16 = 0.36028 (paper 000 §4 prints "psi ~ 6.704")
T16 = 0.36028
Z_MAX = 4.0  # standard errors allowed between a Monte Carlo moment and its closed form


@check(
    "paper000.snr_t16",
    equation="Buchanan et al., §4 / App. H.1: t_l = 0.999 - 0.998 l/25, psi = (1 - t^2)/t^2",
    description="psi(t_16) on paper 000's 26-point VPTrig grid equals 6.70406",
)
def snr_t16() -> Outcome:
    """psi(t_16) on paper 000's 26-point VPTrig grid equals 6.70406 (t_16 = 0.36028)."""
    sched = VPTrig()
    t16 = float(sched.time_grid()[16])
    psi = float(sched.snr(t16))
    t_printed = 0.999 - 0.998 * 16 / 25  # the paper's formula, independent of time_grid
    psi_printed = (1.0 - t_printed**2) / t_printed**2
    tol = 1e-5
    passed = abs(psi - PSI_T16) <= tol and abs(psi - psi_printed) <= 1e-12 and t16 == T16
    note = f"t_16 = {t16!r}, psi from the printed formula = {psi_printed:.9f}"
    return Outcome(value=psi, reference=PSI_T16, tolerance=tol, passed=passed, note=note)


def _euler_maruyama(
    schedule: Schedule,
    x0: float,
    t_end: float,
    n_paths: int,
    n_steps: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """X_{t_end} of dX = f_t X dt + g_t dW from X_0 = x0 (coefficients at step midpoints)."""
    dt = t_end / n_steps
    mid = (np.arange(n_steps) + 0.5) * dt
    growth = 1.0 + schedule.drift(mid) * dt
    noise = np.sqrt(schedule.diffusion2(mid) * dt)
    x = np.full(n_paths, x0)
    for k in range(n_steps):
        x = growth[k] * x + noise[k] * rng.standard_normal(n_paths)
    return x


def _moment_z_scores(samples: np.ndarray, mean: float, var: float) -> tuple[float, float]:
    """z-scores of the sample mean and variance against (mean, var), from sample moments."""
    n = samples.size
    centred = samples - samples.mean()
    s2 = float(np.mean(centred**2))
    m4 = float(np.mean(centred**4))
    z_mean = (float(samples.mean()) - mean) / math.sqrt(s2 / n)
    z_var = (s2 - var) / math.sqrt((m4 - s2**2) / n)
    return z_mean, z_var


def _transition_outcome(cases: dict[str, Schedule], x0: float, seed: int, quick: bool) -> Outcome:
    """Compare EM moments at t = T (or t = 2 when T = inf) with alpha_t x0 and sigma_t^2."""
    rng = as_rng(seed)
    n_paths, n_steps = (40_000, 400) if quick else (200_000, 1_000)
    worst, parts = 0.0, []
    for label, sched in cases.items():
        t_end = 2.0 if math.isinf(sched.T) else sched.T
        x = _euler_maruyama(sched, x0, t_end, n_paths, n_steps, rng)
        mean, var = x0 * float(sched.alpha(t_end)), float(sched.sigma2(t_end))
        z_mean, z_var = _moment_z_scores(x, mean, var)
        worst = max(worst, abs(z_mean), abs(z_var))
        parts.append(f"{label}: z(mean) = {z_mean:+.2f}, z(var) = {z_var:+.2f}")
    note = f"{n_paths} paths, {n_steps} steps, x0 = {x0}; " + "; ".join(parts)
    return Outcome(value=worst, reference=0.0, tolerance=Z_MAX, passed=worst <= Z_MAX, note=note)


@check(
    "paper002.lemma3_1",
    equation="Baptista et al., Lemma 3.1, eq. (3.6): x(t) | x0 ~ N(m(t) x0, sigma^2(t) I)",
    description="Euler-Maruyama moments of the forward SDE match m(T) x0 and sigma^2(T)",
)
def lemma3_1(seed: int = 0, quick: bool = True) -> Outcome:
    """Euler-Maruyama moments of dX = f X dt + g dW at T match m(T) x0 and sigma^2(T).

    For VE.exp() (sigma_max = 10) and VPLinear(0.001, 3); the value is the largest
    |z-score| of the sample mean and variance (tolerance 4 standard errors).
    """
    cases = {"VE.exp()": VE.exp(), "VPLinear(0.001, 3)": VPLinear(0.001, 3.0)}
    return _transition_outcome(cases, x0=1.5, seed=seed, quick=quick)


@check(
    "paper001.ou_transition",
    equation="Halder, eq. (2.4) and footnote 5: X_t | x0 ~ N(x0 e^{-t}, lam (1 - e^{-2t}))",
    description="Euler-Maruyama moments of dX = -X dt + sqrt(2 lam) dW match the OU transition",
)
def ou_transition(seed: int = 0, quick: bool = True) -> Outcome:
    """Euler-Maruyama moments of the noise-scaled OU process at t = 2 match the closed form.

    Halder (paper 001), eq. (2.1) with noise scale lam = 0.5 (footnote 5); the value is
    the largest |z-score| of the sample mean and variance (tolerance 4 standard errors).
    """
    return _transition_outcome({"OU(lam=0.5)": OU(lam=0.5)}, x0=1.5, seed=seed, quick=quick)


@check(
    "paper002.schedule_refs",
    equation="Baptista et al., §4.4 and App. C.2: sigma(T), m(T), s_0 = -ln sigma(T)",
    description="sigma(T), m(T) and s_0 of paper 002's VE and VP schedules match the paper",
)
def schedule_refs() -> Outcome:
    """sigma(1), m(1), s_0 of VE.exp() and VPLinear(0.001, 3) match the reference values.

    Reference values: s_0 = -1.5340 printed in §4.4 (VE with sqrt(g) = 10^t, the authors'
    code), sigma(1) = 0.8815 of App. C.2 (VP, beta from 0.001 to 3), and the values that follow
    from them in closed form (m(1) = sqrt(1 - sigma(1)^2), s_0 = -ln sigma(1), and the literal
    g = 10^t of §4.4); the closed forms are also held against sigma^2 = int_0^1 g and
    B = int_0^1 beta by quadrature (scipy.integrate.quad).
    """
    ve, ve_lit, vp = VE.exp(), VE.exp_literal(), VPLinear(0.001, 3.0)
    computed = {
        "VE.exp sigma(1)": (float(ve.sigma(1.0)), 4.636548),
        "VE.exp s_0": (float(ve.s_time(1.0)), -1.533970),
        "VE.exp_literal sigma(1)": (float(ve_lit.sigma(1.0)), 1.977031),
        "VPLinear sigma(1)": (float(vp.sigma(1.0)), 0.881465),
        "VPLinear m(1)": (float(vp.alpha(1.0)), 0.472248),
        "VPLinear s_0": (float(vp.s_time(1.0)), 0.126169),
    }
    var_ve = integrate.quad(lambda t: 100.0**t, 0.0, 1.0, epsabs=0, epsrel=1e-13)[0]
    big_b = integrate.quad(lambda t: 0.001 + 2.999 * t, 0.0, 1.0, epsabs=0, epsrel=1e-13)[0]
    quadrature = {
        "VE.exp sigma^2(1) by quadrature": (float(ve.sigma2(1.0)), var_ve),
        "VPLinear m(1) by quadrature": (float(vp.alpha(1.0)), math.exp(-0.5 * big_b)),
    }
    deviations = {k: abs(v - ref) for k, (v, ref) in {**computed, **quadrature}.items()}
    worst = max(deviations, key=deviations.__getitem__)
    tol = 1e-6  # the references are printed to 6 decimals
    note = ", ".join(f"{k} = {v:.7f}" for k, (v, _) in computed.items())
    return Outcome(
        value=deviations[worst],
        reference=0.0,
        tolerance=tol,
        passed=deviations[worst] <= tol,
        note=f"largest deviation: {worst}; {note}",
    )


def _schedule_zoo() -> dict[str, Schedule]:
    return {
        "VPTrig()": VPTrig(),
        "OU()": OU(),
        "OU(lam=0.25)": OU(lam=0.25),
        "VPLinear()": VPLinear(),
        "VPLinear(0.1, 20, T=2)": VPLinear(0.1, 20.0, T=2.0),
        "VPExp()": VPExp(),
        "VPExp(3, T=5)": VPExp(beta=3.0, T=5.0),
        "VE.linear2t()": VE.linear2t(),
        "VE.power(2.5)": VE.power(2.5),
        "VEPower(0, 3)": VEPower(a=0.0, scale=3.0),
        "VE.exp()": VE.exp(),
        "VE.exp_literal()": VE.exp_literal(),
    }


def _central_difference(func, t: np.ndarray) -> np.ndarray:
    h = 1e-5 * t
    return (func(t + h) - func(t - h)) / (2.0 * h)


@check(
    "core.g2_consistency",
    equation="f = d log alpha/dt, g^2 = d sigma^2/dt - 2 f sigma^2 (Buchanan et al., eq. (2))",
    description="closed-form drift and diffusion of every schedule match finite differences",
)
def g2_consistency() -> Outcome:
    """Closed-form f_t and g_t^2 of every schedule match central finite differences.

    f is compared with the central difference of log alpha, g^2 with
    d sigma^2/dt - 2 f sigma^2 built from central differences of sigma^2 and log alpha
    (step 1e-5 t), on 19 times inside each domain; the value is the largest error
    relative to max(|closed form|, 1).
    """
    worst, where = 0.0, ""
    for label, sched in _schedule_zoo().items():
        t_hi = 6.0 if math.isinf(sched.T) else 0.95 * sched.T
        t = np.linspace(0.05 * min(sched.T, 1.0), t_hi, 19)
        f_fd = _central_difference(sched.log_alpha, t)
        g2_fd = _central_difference(sched.sigma2, t) - 2.0 * f_fd * sched.sigma2(t)
        for what, closed, fd in (("f", sched.drift(t), f_fd), ("g^2", sched.diffusion2(t), g2_fd)):
            err = float(np.max(np.abs(closed - fd) / np.maximum(np.abs(closed), 1.0)))
            if err > worst:
                worst, where = err, f"{label} {what}"
    tol = 1e-6
    note = f"largest relative error {worst:.2e} at {where}" if where else "all errors are 0"
    return Outcome(value=worst, reference=0.0, tolerance=tol, passed=worst <= tol, note=note)
