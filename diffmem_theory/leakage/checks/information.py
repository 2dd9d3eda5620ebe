"""Checks of the information-leakage lemmas of Shah et al. (paper 004, Lemma 4.2 and Lemma D.1).

Reference values at d = 1, Sigma = 1, sigma_tn = 0.5 (SNR = 3), m = 10, worked out by hand from
the closed forms (ln 2, 1/2 ln 31 = 1.7169936, the printed 10 ln 2 = 6.9314718, MMSE 1/4 and 1/31),
Monte Carlo information densities against the closed forms, the mpmath twins, the I-MMSE relation
and Lemma D.1 against an independent Monte Carlo / quadrature value of ``I(A; S)``. The errata of
Lemma 4.2 (DDPM leakage "m times" the ambient one) and of Lemma D.1's proof are checks of
:mod:`diffmem_theory.leakage.errata`.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
from scipy.special import logsumexp

from diffmem_theory.leakage import information as lk
from diffmem_theory.registry import Outcome, check

_SIGMA, _M = 0.5, 10  # reference setting: d = 1, Sigma = 1, sigma_tn = 0.5 (SNR = 3), m = 10
_LOG_2PI = math.log(2.0 * math.pi)


def _random_spd(d: int, seed: int) -> np.ndarray:
    g = np.random.default_rng(seed).standard_normal((d, d))
    return g @ g.T / d + 0.2 * np.eye(d)


@check("paper004.lemma42_reference", equation="Shah et al., Lemma 4.2 / eq. (11)")
def lemma_4_2_reference() -> Outcome:
    """Closed forms hit the hand-computed values at d = 1, Sigma = 1, sigma_tn = 0.5, m = 10.

    I(A) = ln 2, paper I(D) = 10 ln 2 = 6.9314718, exact I(D) = 1/2 ln 31 = 1.7169936, MMSE 0.25
    (ambient) and 1/31 (DDPM). Value = largest absolute deviation; tolerance 1e-12.
    """
    got = [
        lk.mi_ambient([1.0], _SIGMA),
        lk.mi_ddpm([1.0], _SIGMA, _M, printed=True),
        lk.mi_ddpm([1.0], _SIGMA, _M),
        lk.mmse_x0([1.0], _SIGMA, _M, "ambient"),
        lk.mmse_x0([1.0], _SIGMA, _M, "ddpm"),
    ]
    want = [math.log(2.0), 10 * math.log(2.0), 0.5 * math.log(31.0), 0.25, 1.0 / 31.0]
    worst = max(abs(float(g) - w) for g, w in zip(got, want, strict=True))
    return Outcome(worst, 0.0, 1e-12, worst <= 1e-12)


@check("paper004.lemma42_mc", equation="Shah et al., Lemma 4.2 (corrected)")
def lemma_4_2_mc(seed: int = 0) -> Outcome:
    """Monte Carlo leakage agrees with both closed forms within 3 s.e. (d = 2, random SPD Sigma).

    sigma_tn = 0.6, m = 5, ambient and DDPM models.
    Value = the largest |MC - exact| / s.e.; tolerance 3.
    """
    cov = _random_spd(2, seed)
    exact = {"ambient": lk.mi_ambient(cov, 0.6), "ddpm": lk.mi_ddpm(cov, 0.6, 5)}
    z, note = 0.0, []
    for i, (model, value) in enumerate(exact.items()):
        est = lk.leakage_mc(cov, 0.6, 5, model, n_samples=20_000, rng=seed + i)
        z = max(z, abs(est.estimate - float(value)) / est.stderr)
        note.append(f"{model}: MC {est.estimate:.4f} +- {est.stderr:.4f} vs {float(value):.4f}")
    return Outcome(z, 0.0, 3.0, z <= 3.0, "; ".join(note))


def _mi_ddpm_printed(cov: np.ndarray, sigma_tn: float, m: int, **kw: int) -> float:
    return lk.mi_ddpm(cov, sigma_tn, m, printed=True, **kw)


@check("paper004.lemma42_mpmath", equation="Shah et al., Lemma 4.2, eq. (11); Lemma D.1")
def lemma_4_2_mpmath(dps: int = 40) -> Outcome:
    """float64 leakage, MMSE and Lemma D.1 bound equal their mpmath twins (``dps`` digits, 40).

    sigma_tn from 1e-6 to 0.999999, m in {1, 7, 1000}, a 3x3 SPD Sigma. Value = largest relative
    difference; tolerance 1e-12.
    """
    cov = _random_spd(3, 3)
    worst = 0.0
    for s in (1e-6, 0.05, 0.5, 0.9, 0.999999):
        for m in (1, 7, 1000):
            for func in (lk.mi_ddpm, _mi_ddpm_printed, lk.mmse_x0):
                fast, slow = func(cov, s, m), func(cov, s, m, dps=dps)
                worst = max(worst, abs(fast - float(slow)) / float(slow))
            bound = lk.mi_ambient_dataset_bound(3, s, m, 5, dps=dps)
            worst = max(worst, abs(lk.mi_ambient_dataset_bound(3, s, m, 5) / float(bound) - 1))
    return Outcome(worst, 0.0, 1e-12, worst <= 1e-12)


@check("paper004.lemma42_i_mmse", equation="Shah et al., Lemma 4.2; Guo-Shamai-Verdu I-MMSE")
def lemma_4_2_i_mmse() -> Outcome:
    """I-MMSE: d I(D; x0) / d sigma_tn = (mmse / 2) d(m SNR) / d sigma_tn (mpmath derivative).

    d(m SNR)/d sigma = -2 m / sigma^3; ``mpmath.diff`` at 30 digits of the dps = 60 leakage;
    3x3 SPD Sigma, sigma_tn in {0.2, 0.6, 0.95}, m in {1, 10}. Value = largest relative
    difference; tolerance 1e-10.
    """
    cov = _random_spd(3, 5)
    worst = 0.0
    with mpmath.workdps(30):
        for s in (0.2, 0.6, 0.95):
            for m in (1, 10):
                slope = mpmath.diff(lambda v, m=m: lk.mi_ddpm(cov, v, m, dps=60), s)
                pred = lk.mmse_x0(cov, s, m, dps=30) / 2 * (-2 * m / mpmath.mpf(s) ** 3)
                worst = max(worst, float(abs(slope / pred - 1)))
    return Outcome(worst, 0.0, 1e-10, worst <= 1e-10)


def _ambient_info_mc(sigma: float, N: int, draws: int, seed: int) -> tuple[float, float]:
    """I(A; S) for one ambient sample, d = 1, S = N points of N(0, 1), by MC over S + quadrature.

    A | S is the mixture (1/N) sum_i N(a X_i, sigma^2) and A ~ N(0, 1), so I = h(A) - E h(A | S).
    """
    a = math.sqrt(1.0 - sigma * sigma)
    grid = np.linspace(-10.0, 10.0, 2001)
    X = np.random.default_rng(seed).standard_normal((draws, N))
    z = (grid[None, :, None] - a * X[:, None, :]) / sigma
    logp = logsumexp(-0.5 * z * z, axis=2) - math.log(N * sigma) - 0.5 * _LOG_2PI
    h_cond = -np.sum(np.exp(logp) * logp, axis=1) * (grid[1] - grid[0])
    info = 0.5 * (_LOG_2PI + 1.0) - h_cond
    return float(info.mean()), float(info.std(ddof=1) / math.sqrt(draws))


@check("paper004.lemmaD1_bound", equation="Shah et al., Lemma D.1 (proof corrected)")
def lemma_d_1_bound(seed: int = 0) -> Outcome:
    """I(A; S) of one ambient sample from N = 3 points is below the Lemma D.1 bound (1/2)ln(1/s^2).

    d = 1, m = 1, sigma_tn = 0.5: I(A; S) by Monte Carlo over S (600 datasets) and quadrature of
    the mixture entropy; also checks the Sigma = I consistency mi_ambient(I_d) = (d/2) ln(1/s^2) =
    bound(m = N = 1) for d = 4. Value = I(A; S) estimate; reference = the bound; passes when the
    estimate is below the bound + 3 s.e. and the consistency holds to 1e-12.
    """
    info, se = _ambient_info_mc(_SIGMA, 3, 600, seed)
    bound = float(lk.mi_ambient_dataset_bound(1, _SIGMA, 1, 3))
    d4 = 2.0 * math.log(1.0 / _SIGMA**2)
    consistent = max(
        abs(lk.mi_ambient(np.ones(4), _SIGMA) - d4),
        abs(lk.mi_ambient_dataset_bound(4, _SIGMA, 1, 1, printed=True) - d4),
    )
    ok = info <= bound + 3 * se and consistent <= 1e-12
    note = f"I(A;S) = {info:.4f} +- {se:.4f}; consistency error {consistent:.1e}"
    return Outcome(info, bound, 3 * se, ok, note)
