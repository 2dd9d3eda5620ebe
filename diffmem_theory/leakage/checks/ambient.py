"""Checks of the ambient-diffusion part of Shah et al. (paper 004): noise-scale conversions, the
coefficients and minimizer of eq. (6) (Lemma C.1), the ambient-optimal score (App. D.1.1), the
reverse ODE eq. (5) (corrected; the printed form is the check ``paper004.eq5_printed`` of
:mod:`diffmem_theory.leakage.errata`) and Lemma 4.1.

The schedule is ``VPTrig`` (sigma(t) = t, the paper's VP parametrisation of eq. (1)).
"""

from __future__ import annotations

import numpy as np

from diffmem_theory.core.schedules import VPTrig
from diffmem_theory.leakage.ambient import (
    ambient_coeffs,
    ambient_loss,
    extra_noise_scales,
    lemma41_collapse,
    lemma_c1_coeffs,
    noisy_copies,
    noisy_optimal_score,
    pf_ode_velocity,
    sd2_sigma,
    ve_to_vp,
    vp_alpha,
    vp_to_ve,
    x0_proxy,
)
from diffmem_theory.leakage.errata import DATA_STD, STD_TOL, gaussian_flow_std
from diffmem_theory.registry import Outcome, check

#: EDM (VE) noise scales of Fig. 2 / Tables 3-4 and their VP levels s / sqrt(1 + s^2), worked
#: out by hand to 7 decimals.
VE_TO_VP_TABLE = {
    0.1: 0.0995037,
    0.25: 0.2425356,
    0.3: 0.2873479,
    0.4: 0.3713907,
    0.5: 0.4472136,
    4.0: 0.9701425,
}
#: SD2 scaled-linear sigma_VP = sqrt(1 - abar_t) at DDPM timesteps 25, 50, 100 (Sec. 5.2's t_n,
#: read as timesteps), with beta_i = (sqrt(0.00085) + i (sqrt(0.012) - sqrt(0.00085))/999)^2 and
#: abar_t = prod_{i <= t} (1 - beta_i) evaluated as a plain cumulative product, to 6 decimals.
SD2_TABLE = {25: 0.152950, 50: 0.220052, 100: 0.325233}


def _levels(seed: int, n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Random VP pairs sigma_t > sigma_tn in (0, 1)."""
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0.01, 0.99, (2, n))
    return np.maximum(a, b), np.minimum(a, b)


@check("paper004.ve_vp", equation="Shah et al., §1.1 (EDM VE sigma -> VP sigma)")
def ve_vp(seed: int = 0) -> Outcome:
    """sigma_VP = s/sqrt(1+s^2) at six EDM scales of Sec. 5.1 (1e-7), and the round trip."""
    s = np.array(list(VE_TO_VP_TABLE))
    err = float(np.max(np.abs(ve_to_vp(s) - np.array(list(VE_TO_VP_TABLE.values())))))
    trip = float(np.max(np.abs(vp_to_ve(ve_to_vp(s)) - s) / s))
    return Outcome(err, 0.0, 1e-7, err <= 1e-7 and trip <= 1e-12, f"round trip rel {trip:.1e}")


@check("paper004.sd2_sigma", equation="Shah et al., Sec. 5.2 (SD2 scaled_linear, t_n timesteps)")
def sd2(seed: int = 0) -> Outcome:
    """SD2's sigma_VP at timesteps 25, 50, 100 against SD2_TABLE (1e-6)."""
    t = np.array(list(SD2_TABLE))
    ours = sd2_sigma(t)
    err = float(np.max(np.abs(ours - np.array(list(SD2_TABLE.values())))))
    return Outcome(float(ours[0]), SD2_TABLE[25], 1e-6, err <= 1e-6, f"max err {err:.1e}")


@check("paper004.lemma_c1_coeffs", equation="Shah et al., eq. (6) and Lemma C.1")
def lemma_c_1(seed: int = 0) -> Outcome:
    """eq. (6)'s (c1, c2) and the VE form equal Lemma C.1 with alpha = sqrt(1-sigma^2) / 1.

    Also gamma^2 of Alg. 1 line 10 equals sigma_{t|tn}^2 (App. C). 64 random pairs, rel 1e-12.
    """
    st, sn = _levels(seed)
    vp = np.array(ambient_coeffs(st, sn))
    gen = np.array(lemma_c1_coeffs(vp_alpha(st), st, vp_alpha(sn), sn))
    s_t, s_n = vp_to_ve(st), vp_to_ve(sn)
    ve = np.array(ambient_coeffs(s_t, s_n, param="ve"))
    ve_gen = np.array(lemma_c1_coeffs(1.0, s_t, 1.0, s_n))
    gamma2 = extra_noise_scales(st, sn)[1]
    cond = st**2 - (vp_alpha(st) / vp_alpha(sn)) ** 2 * sn**2
    worst = max(
        float(np.max(np.abs(vp - gen) / np.abs(gen))),
        float(np.max(np.abs(ve - ve_gen) / np.abs(ve_gen))),
        float(np.max(np.abs(gamma2 - cond) / cond)),
    )
    return Outcome(worst, 0.0, 1e-12, worst <= 1e-12, "max rel diff eq.(6) vs Lemma C.1")


@check("paper004.ambient_loss_ve_vp", equation="Shah et al., eq. (6), VP vs VE (EDM) form")
def loss_ve_vp(seed: int = 0) -> Outcome:
    """VP residual / alpha_tn = VE residual on the same draws: loss_VP = alpha_tn^2 loss_VE."""
    rng = np.random.default_rng(seed)
    st, sn = _levels(seed)
    x0, z1, z2, h = rng.standard_normal((4, st.size, 3))
    x_tn = vp_alpha(sn)[:, None] * x0 + sn[:, None] * z1
    beta, gamma2 = extra_noise_scales(st, sn)
    x_t = beta[:, None] * x_tn + np.sqrt(gamma2)[:, None] * z2
    s_t, s_n = vp_to_ve(st), vp_to_ve(sn)
    vp = ambient_loss(h, x_t, x_tn, st, sn)
    ve = ambient_loss(h, x_t / vp_alpha(st)[:, None], x_tn / vp_alpha(sn)[:, None], s_t, s_n, "ve")
    worst = float(np.max(np.abs(vp / vp_alpha(sn) ** 2 - ve) / np.maximum(ve, 1e-300)))
    return Outcome(worst, 0.0, 1e-12, worst <= 1e-12, "max rel |loss_VP/alpha_tn^2 - loss_VE|")


@check("paper004.lemma_c1_minimizer", equation="Shah et al., Lemma C.1: argmin eq. (6) = E[X0|X_t]")
def lemma_c1_minimizer(seed: int = 0, n: int = 400_000) -> Outcome:
    """Least squares of eq. (6) over linear h = k x_t recovers the posterior slope of N(0, v) data.

    X0 ~ N(0, 0.5), sigma_tn = 0.5, sigma_t = 0.8; only noisy x_tn enter the fit. Exact slope
    alpha_t v/(alpha_t^2 v + sigma_t^2); tolerance 4 standard errors of the regression.
    """
    rng = np.random.default_rng(seed)
    v, st, sn = 0.5, 0.8, 0.5
    x0 = np.sqrt(v) * rng.standard_normal(n)
    x_tn = float(vp_alpha(sn)) * x0 + sn * rng.standard_normal(n)
    beta, gamma2 = extra_noise_scales(st, sn)
    x_t = float(beta) * x_tn + float(np.sqrt(gamma2)) * rng.standard_normal(n)
    proxy = x0_proxy(x_t[:, None], x_tn[:, None], st, sn)[:, 0]
    k = float(x_t @ proxy / (x_t @ x_t))  # argmin of c1^2 |k x_t - proxy|^2 = eq. (6)
    at = float(vp_alpha(st))
    exact = at * v / (at * at * v + st * st)
    resid = proxy - k * x_t
    se = float(np.sqrt(resid @ resid / (n - 1)) / np.sqrt(x_t @ x_t))
    return Outcome(k, exact, 4 * se, abs(k - exact) <= 4 * se, f"s.e. {se:.1e}")


def _empirical_posterior_mean(x: np.ndarray, Y: np.ndarray, beta: float, gamma2: float):
    """Plain NumPy E[y | x] for x ~ (1/n) sum N(beta y, gamma2 I), and log q (no kernel)."""
    logits = -np.sum((x[:, None, :] - beta * Y[None]) ** 2, axis=-1) / (2 * gamma2)
    top = logits.max(axis=1, keepdims=True)
    w = np.exp(logits - top)
    log_q = top[:, 0] + np.log(w.sum(axis=1)) - np.log(Y.shape[0])
    log_q -= 0.5 * x.shape[1] * np.log(2 * np.pi * gamma2)
    return (w / w.sum(axis=1, keepdims=True)) @ Y, log_q


@check("paper004.ambient_score", equation="Shah et al., App. D.1.1 and eqs. (2), (6)")
def ambient_score(seed: int = 0) -> Outcome:
    """s_amb equals Tweedie (2) of h* = (E[x_tn|x_t] - c2 x_t)/c1 and the FD gradient of log q_t.

    n = 7 noisy copies in d = 3, 20 queries, sigma_tn = 0.6, sigma_t in {0.65, 0.8, 0.95};
    value = max relative difference to Tweedie (tolerance 1e-12); the FD check uses 1e-7.
    """
    rng = np.random.default_rng(seed)
    sn = 0.6
    Y = noisy_copies(rng.uniform(-2, 2, (7, 3)), sn, rng)
    x = rng.uniform(-2, 2, (20, 3))
    tweedie_err, fd_err = 0.0, 0.0
    for st in (0.65, 0.8, 0.95):
        beta, gamma2 = (float(v) for v in extra_noise_scales(st, sn))
        ours = noisy_optimal_score(x, st, Y, sn)
        mean_tn, _ = _empirical_posterior_mean(x, Y, beta, gamma2)
        c1, c2 = (float(c) for c in ambient_coeffs(st, sn))
        h_star = (mean_tn - c2 * x) / c1
        tweedie = (float(vp_alpha(st)) * h_star - x) / st**2
        scale = max(1.0, float(np.abs(tweedie).max()))
        tweedie_err = max(tweedie_err, float(np.abs(ours - tweedie).max()) / scale)
        step = 1e-5 * np.sqrt(gamma2)
        fd = np.empty_like(x)
        for k in range(3):
            e = np.zeros(3)
            e[k] = step
            up = _empirical_posterior_mean(x + e, Y, beta, gamma2)[1]
            down = _empirical_posterior_mean(x - e, Y, beta, gamma2)[1]
            fd[:, k] = (up - down) / (2 * step)
        fd_err = max(fd_err, float(np.abs(ours - fd).max()) / scale)
    ok = tweedie_err <= 1e-12 and fd_err <= 1e-7
    return Outcome(tweedie_err, 0.0, 1e-12, ok, f"FD gradient rel err {fd_err:.1e} (tol 1e-7)")


@check("paper004.pf_ode", equation="Shah et al., eq. (5) corrected (probability flow of eq. (1))")
def pf_ode(seed: int = 0) -> Outcome:
    """The corrected reverse ODE sends N(0, I) to N(0, 0.3^2) data: final std 0.300 +- 0.005."""
    std = gaussian_flow_std(pf_ode_velocity, seed)
    return Outcome(std, DATA_STD, STD_TOL, abs(std - DATA_STD) <= STD_TOL, "20k samples, RK4")


@check("paper004.lemma4_1", equation="Shah et al., Lemma 4.1 (proof D.1.1)")
def lemma_4_1(seed: int = 0) -> Outcome:
    """The ambient-optimal flow from N(0, I) collapses onto the noisy copies S_tn at t_n.

    d = 2, n = 5 copies, sigma_tn = 0.6, 2000 particles stopped at t_n + 1e-3:
    value = median nearest-copy distance, reference gamma(t) sqrt(d), passes when the median is
    below 3 gamma sqrt(d) and the occupancy chi-square (4 d.o.f.) is below 18.5 (p = 0.001).
    """
    rng = np.random.default_rng(seed)
    S_tn = noisy_copies(rng.uniform(-2, 2, (5, 2)), 0.6, rng)
    out = lemma41_collapse(S_tn, 0.6, VPTrig(), rng, n_particles=2000, n_steps=150)
    median = float(np.median(out["nn_distance"]))
    scale = out["gamma"] * np.sqrt(2.0)
    n = 2000
    chi2 = float(np.sum((out["occupancy"] * n - n / 5) ** 2 / (n / 5)))
    ok = median <= 3 * scale and chi2 <= 18.5
    note = f"occupancy {np.round(out['occupancy'], 3).tolist()}, chi2 {chi2:.2f}"
    return Outcome(median, float(scale), float(2 * scale), ok, note)
