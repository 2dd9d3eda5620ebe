"""Checks of the memorization laboratory of Buchanan et al. (paper 000): Thms 3.1 and 3.2 (Monte
Carlo excess losses), the orthogonality identity (13), the crossover of eq. (14) (grid reference
values, quadrature against closed forms, the argmin form) and the residuals of Thm F.1 / Prop F.2.

Each Monte Carlo check draws the laboratory (K means on the sphere of radius sqrt(d), s2 = 1,
N training points) from ``seed`` and evaluates every denoiser on common random numbers
(:func:`diffmem_theory.core.losses.training_losses`).
"""

from __future__ import annotations

import math

import numpy as np

from diffmem_theory.core.denoisers import memorized_subset, memorizing_denoiser
from diffmem_theory.core.distributions import IsotropicGaussianMixture, sphere_means
from diffmem_theory.core.losses import orthogonality_residual, training_losses
from diffmem_theory.core.schedules import VPTrig
from diffmem_theory.crossover.concentration import coupling_conditions
from diffmem_theory.crossover.excess import (
    crossover_argmin,
    crossover_M,
    crossover_ratio,
    empirical_constant,
    gen_excess_loss,
    prop_f_2_residual,
    thm_f_1_residual,
)
from diffmem_theory.registry import Outcome, check

_SCHED = VPTrig()
_GRID = _SCHED.time_grid()
_T16 = float(_GRID[16])


def _laboratory(seed: int, d: int, K: int = 12, N: int = 200):
    rng = np.random.default_rng(seed)
    gmm = IsotropicGaussianMixture(sphere_means(K, d, rng), 1.0)
    X, labels = gmm.sample(N, rng)
    return rng, gmm, X, labels


def _gen_and_mem(gmm: IsotropicGaussianMixture, X: np.ndarray) -> dict:
    return {
        "gen": lambda x, t: gmm.denoiser(x, t, _SCHED),
        "mem": lambda x, t: memorizing_denoiser(x, t, X, _SCHED),
    }


@check("paper000.thm3_1", equation="Buchanan et al., Thm 3.1 / Thm F.1")
def thm3_1(seed: int = 0) -> Outcome:
    """MC excess loss L(xbar_*) - L(xbar_mem) = d s2/(psi_t s2 + 1) = d t^2 within 2% (d = 30, 50).

    K = 12, N = 200, t_16 = 0.36028 and t = 0.2006 (grid indices 16 and 20), 20 noise draws per
    point on common random numbers; value = largest relative deviation from d t^2.
    """
    worst, parts = 0.0, []
    for d in (30, 50):
        _, gmm, X, _ = _laboratory(seed, d)
        out = training_losses(_gen_and_mem(gmm, X), X, _GRID[[16, 20]], _SCHED, n_noise=20)
        excess = out["gen"] - out["mem"]
        predicted = gen_excess_loss(excess.times, d)
        rel = np.abs(excess.mean - predicted) / predicted
        worst = max(worst, float(rel.max()))
        parts.append(f"d={d}: MC {np.round(excess.mean, 3).tolist()} vs {predicted.round(3)}")
    return Outcome(worst, 0.0, 0.02, worst <= 0.02, "; ".join(parts))


@check("paper000.thm3_2", equation="Buchanan et al., Thm 3.2 / Thm F.3 (1 <= C <= 2)")
def thm3_2(seed: int = 0) -> Outcome:
    """Empirical constant C_emp(M) = (L_pmem - L_mem)/((1 - M/N) d s2) lies in [1, 2].

    d = 50, K = 12, N = 200 at t_16, random memorized subsets of M = 100, 160, 190 points that
    represent every cluster (Prop C.4's event; re-drawn otherwise); value = largest distance of
    C_emp outside [1, 2], tolerance 3 standard errors of C_emp.
    """
    rng, gmm, X, labels = _laboratory(seed, 50)
    N, d = X.shape
    dens = _gen_and_mem(gmm, X)
    subsets = {}
    for M in (100, 160, 190):
        keep = memorized_subset(N, M, rng=rng)
        while np.unique(labels[keep]).size < gmm.n_components:
            keep = memorized_subset(N, M, rng=rng)
        subsets[M] = keep
        dens[f"pmem{M}"] = lambda x, t, S=X[keep]: memorizing_denoiser(x, t, S, _SCHED)
    out = training_losses(dens, X, _T16, _SCHED, n_noise=10)
    worst, tol, values = 0.0, 0.0, []
    for M in subsets:
        diff = out[f"pmem{M}"] - out["mem"]
        c_emp = float(empirical_constant(diff.mean[0], 0.0, M, N, d))
        se = float(diff.stderr[0]) / ((1 - M / N) * d)
        values.append(round(c_emp, 3))
        worst = max(worst, 1.0 - c_emp, c_emp - 2.0, 0.0)
        tol = max(tol, 3.0 * se)
    return Outcome(worst, 0.0, tol, worst <= tol, f"C_emp at M = 100, 160, 190: {values}")


@check("paper000.eq13_orthogonality", equation="Buchanan et al., eq. (13)")
def eq13_orthogonality(seed: int = 0) -> Outcome:
    """L(xbar) = mean |xbar - xbar_mem|^2 + L(xbar_mem), averaged over i: residual z-score <= 4.

    xbar = xbar_* and a partially memorizing denoiser (M = 50), d = 20, K = 4, N = 100, at
    t = 0.36 and 0.6, 20 draws per point; value = largest |mean residual| / standard error.
    """
    rng, gmm, X, _ = _laboratory(seed, 20, K=4, N=100)
    keep = memorized_subset(X.shape[0], 50, rng=rng)
    worst = 0.0
    for den in (
        lambda x, t: gmm.denoiser(x, t, _SCHED),
        lambda x, t: memorizing_denoiser(x, t, X[keep], _SCHED),
    ):
        res = orthogonality_residual(den, X, [_T16, 0.6], _SCHED, n_noise=20, seed=seed)
        worst = max(worst, float(np.max(np.abs(res.mean) / res.stderr)))
    return Outcome(worst, 0.0, 4.0, worst <= 4.0, "max |z| over 2 denoisers x 2 times")


@check("paper000.eq14_grid", equation="Buchanan et al., eq. (14) on the 26-point grid")
def eq14_grid() -> Outcome:
    """Grid crossover ratios M_*/N (VPTrig, s2 = 1) against our exact values.

    The references are ``1 - mean_l(t_l^2)/C`` (``mean_l t_l^2 = 0.33964036`` exactly, see
    :func:`~diffmem_theory.crossover.symbolic.crossover_ratio_grid_expr`) and its analogue
    for ``lambda = psi``.

    lambda = 1: 0.66036 (C = 1), 0.83018 (C = 2); lambda = psi: 0.9999828 / 0.9999914; the argmin
    form of Sec. 4.1 at N = 200 must pick the grid point nearest N M_*/N.
    """
    refs = {("x0", 1.0): 0.66036, ("x0", 2.0): 0.83018}
    refs |= {("eps", 1.0): 0.9999828, ("eps", 2.0): 0.9999914}
    err = max(abs(crossover_ratio(w, times=_GRID, C=c) - r) for (w, c), r in refs.items())
    argmin = crossover_argmin(200, times=_GRID)
    predicted = float(crossover_M(200, times=_GRID))
    ok = err <= 1e-5 and abs(argmin - predicted) <= 0.5
    return Outcome(err, 0.0, 1e-5, ok, f"argmin M = {argmin}, N M_*/N = {predicted:.3f}")


@check("paper000.eq14_continuous", equation="Buchanan et al., eq. (14), t ~ Unif(0, 1), quadrature")
def eq14_continuous(dps: int = 30) -> Outcome:
    """Continuous-t crossover by quadrature against closed forms and mpmath (``dps`` = 30).

    lambda = 1, s2 = 1: 1 - 1/(3C); lambda = psi with t_min = 1e-3: 1 - A/(C B) with
    B = 1/t_min + t_min - 2, A = (1 - t_min) - (1 - t_min^3)/3; lambda = psi from 0: 1 (not
    integrable); lambda = 1 with s2 = 0.3 and 4: float64 vs mpmath.
    """
    errs = [abs(crossover_ratio("x0", C=c) - (1 - 1 / (3 * c))) for c in (1.0, 1.5, 2.0)]
    tm = 1e-3
    A, B = (1 - tm) - (1 - tm**3) / 3, 1 / tm + tm - 2
    errs.append(abs(crossover_ratio("eps", t_min=tm, C=1.0) - (1 - A / B)))
    errs.append(abs(crossover_ratio("eps") - 1.0))
    for s2 in (0.3, 4.0):
        hp = crossover_ratio("x0", var_star=s2, dps=dps)
        errs.append(abs(crossover_ratio("x0", var_star=s2) - float(hp)))
    err = max(errs)
    return Outcome(err, 0.0, 1e-10, err <= 1e-10, "max abs error over 7 cases")


@check("paper000.thm_f1", equation="Buchanan et al., Thm F.1 and Prop F.2")
def thm_f1(seed: int = 0) -> Outcome:
    """|MC excess - d v| <= eps d v, the leading residual term of Thm F.1 / Prop F.2.

    d = 50, K = 12, N = 200, eps = 0.05: the grid times (up to 0.85) where the corrected coupling
    conditions hold (:func:`~diffmem_theory.crossover.concentration.coupling_conditions`; at d = 50
    the Prop F.2 choice eps = log(d)/sqrt(d) = 0.55 satisfies none). value = largest |MC - d v| / Xi
    with the unspecified constants set to zero (C3 = C4 = 0, so Xi = eps d v); the note gives
    min Xi / (d v) with C3 = C4 = 1: at d = 50 the polynomial prefactor (K^2 + N^2)(Gamma^2 + 2d)
    makes the full residual vacuous, which is why the check tests the leading term.
    """
    _, gmm, X, _ = _laboratory(seed, 50)
    d, (N, K) = 50, (X.shape[0], gmm.n_components)
    diffs = gmm.means[:, None] - gmm.means[None]
    gamma = float(np.sqrt((diffs**2).sum(-1))[~np.eye(K, dtype=bool)].min())
    Gamma = float(np.linalg.norm(gmm.means, axis=1).max())
    eps = 0.05
    times = _GRID[(_GRID <= 0.85) & coupling_conditions(_GRID, eps, d, gamma, lemma="F.1")]
    if times.size == 0:
        return Outcome(math.nan, None, None, False, "no grid time satisfies the conditions")
    excess = (lambda o: o["gen"] - o["mem"])(
        training_losses(_gen_and_mem(gmm, X), X, times, _SCHED, n_noise=10)
    )
    dv = gen_excess_loss(times, d)
    lead = thm_f_1_residual(times, eps, d, N, K, gamma, Gamma, C3=0.0)
    full = np.minimum(
        thm_f_1_residual(times, eps, d, N, K, gamma, Gamma, C3=1.0),
        prop_f_2_residual(times, d, N, K, gamma, Gamma, C4=1.0, eps=eps),
    )
    ratio = float(np.max(np.abs(excess.mean - dv) / lead))
    note = f"{times.size} times; with C3 = C4 = 1: min Xi/(d v) = {np.min(full / dv):.3g}"
    return Outcome(ratio, 0.0, 1.0, ratio <= 1.0, note)
