r"""The audit's mixing-time section: Halder (paper 001), Sec. 2, on the user's n, d and scale.

Paper 001 models the data as ``N(mu, sigma^2 I_d)`` with ``n`` training points, noised by the
Ornstein-Uhlenbeck process ``dX = -X dt + sqrt(2) dW`` (eq. (2.1): ``alpha_t = e^{-t}``,
``sigma_t^2 = 1 - e^{-2t}``). The empirical density (2.7) is a sum of ``n`` Gaussians; at the
mixing (collapse) time

    t_M = 1/2 log(1 + sigma^2 / (n^{2/d} - 1))                                     (2.9)

the term of a training point at its own position equals, on average, the sum of the ``n - 1``
others (the random-energy-model argument after (2.8), ``n -> inf`` with ``log n / d`` fixed).
For ``t > t_M`` the others dominate: the empirical density is a smooth kernel density of the
data, and the empirical score is near the score of the smoothed data distribution. For
``t < t_M`` each training point's own term dominates: the empirical score draws every
trajectory onto a training point (Baptista et al. (paper 002), Thm 4.3). A model that follows
the empirical score below ``t_M`` memorizes; one that generalizes must leave it there.

The data's scale is estimated as footnote 4 says (empirical ``mu`` and ``sigma``):
``sigma^2 = tr(C) / d``, the per-coordinate variance of the training points averaged over the
coordinates (``C`` their covariance, ``N - 1`` in the denominator).

Schedules. Our derivation: for ``X_t = alpha_t X_0 + sigma_t Z`` the self term's normaliser is
``(2 pi sigma_t^2)^{-d/2}`` and the average of the others' is
``(2 pi (sigma_t^2 + alpha_t^2 sigma^2))^{-d/2}``, so the condition of (2.9),
``n = (1 + sigma^2 psi_t)^{d/2}``, depends on the schedule only through the signal-to-noise
ratio ``psi_t = alpha_t^2 / sigma_t^2``:

    psi_M = (n^{2/d} - 1) / sigma^2,   psi_OU(t_M) = 1 / (e^{2 t_M} - 1) = psi_M.

``t_M`` is therefore carried to the model's schedule exactly by matching log-SNR,
``t = schedule.inverse_snr(psi_M)`` (not an approximation; the OU time itself is reported too).

KDE bandwidths (Sec. 2.2): the train distribution ``rho_T`` is a Gaussian KDE with bandwidth
``sqrt(2 t_M)`` (2.10), to leading order ``sigma n^{-1/d}`` and Silverman's rule (2.11)
(:func:`diffmem_theory.mixing.mixing_time.kde_bandwidth`), beside the bandwidth minimising the
exact MISE for Gaussian data
(:func:`diffmem_theory.mixing.mixing_time.kde_mise_optimal_bandwidth`).

The isotropic-Gaussian assumption is tested by the participation-ratio dimension
``d_PR = tr(C)^2 / tr(C^2)`` (``d`` for isotropic data; far smaller for images, whose variance
sits in a few directions): ``t_M`` at ``d_PR`` (our sensitivity check, not in the paper) shows
how much the prediction moves. No denoiser is evaluated; the cost is the ``d x d`` covariance
and its eigenvalues.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from diffmem_theory._validation import as_points, check_int, finite_result
from diffmem_theory.audit.base import AuditInputs, Section, Value, check_inputs
from diffmem_theory.core.schedules import Schedule, VPTrig, as_schedule
from diffmem_theory.mixing.mixing_time import (
    BANDWIDTH_RULES,
    kde_bandwidth,
    kde_mise_optimal_bandwidth,
    t_mixing,
    t_speciation,
)
from diffmem_theory.plotting import PALETTE, figure, paper_style

__all__ = ["ScheduleMixingTime", "data_sigma", "default_grid", "schedule_mixing_time", "section"]

_START_SNR = float(VPTrig().snr(0.999))  # where paper 000's VPTrig grid starts
_EQ_2_9 = "Halder (paper 001), Sec. 2.2, eq. (2.9)"
_SNR_MAP = "eq. (2.9) as n^{2/d} = 1 + sigma^2 psi_t (our derivation): matched log-SNR"
_BANDWIDTH_SOURCE = {
    "leading": "Halder (paper 001), eq. (2.11), leading term sigma n^{-1/d}",
    "mixing": "Halder (paper 001), eq. (2.10), sqrt(2 t_M)",
    "silverman": "Halder (paper 001), eq. (2.11) (Silverman's rule)",
}


def data_sigma(train: np.ndarray) -> float:
    r"""The data's scale as paper 001 uses it: ``sigma^2 = tr(C) / d``.

    ``C`` is the covariance of the training points (``N - 1`` in the denominator); Halder
    (paper 001), footnote 4: unknown ``mu``, ``sigma`` are replaced by empirical values.

    Parameters
    ----------
    train : (N, d) ndarray
        The training points, ``N >= 2``.

    Returns
    -------
    float
        ``sigma > 0``.

    Examples
    --------
    >>> data_sigma(np.array([[0.0, 0.0], [2.0, 0.0]]))   # variances 2 and 0
    1.0
    """
    train = as_points(train, "train")
    if train.shape[0] < 2:
        raise ValueError(f"train must hold at least 2 points, got shape {train.shape}")
    # computed on train / 2^e (max |entry| in [1/2, 1)): exact, and no overflow or underflow of
    # the squares at any scale
    e = int(np.frexp(np.abs(train).max())[1])
    var = float(np.mean(np.var(np.ldexp(train, -e), axis=0, ddof=1)))
    if not var > 0.0:
        raise ValueError("train: every training point is the same, so sigma = 0 and t_M = 0")
    with np.errstate(over="ignore"):
        return finite_result(float(np.ldexp(math.sqrt(var), e)), "sigma")


@dataclass(frozen=True)
class ScheduleMixingTime:
    r"""``t_M`` of eq. (2.9) in OU time and in a schedule's time.

    Attributes
    ----------
    t_ou : float
        ``t_M`` of the OU process (paper 001's time).
    log_snr : float
        ``log psi_M = log((n^{2/d} - 1) / sigma^2)``, the log-SNR at ``t_M`` (any schedule).
    t : float or None
        The time of the schedule with that log-SNR; None when it lies outside the schedule's
        domain.
    note : str
        Where ``t`` lies when it is None.
    """

    t_ou: float
    log_snr: float
    t: float | None
    note: str


def schedule_mixing_time(sigma: float, d: int, n: int, schedule: Schedule) -> ScheduleMixingTime:
    r"""``t_M`` of Halder eq. (2.9) carried to ``schedule`` by matching log-SNR.

    ``t_ou = t_mixing(sigma, d, n)``; ``log psi_M = log expm1(2 log(n) / d) - 2 log sigma``
    (the same condition in terms of the SNR, exact for every schedule: module docstring);
    ``t = schedule.inverse_snr(psi_M)``.

    Parameters
    ----------
    sigma : float
        The data's scale, ``> 0``.
    d : int
        Dimension, ``>= 1``.
    n : int
        Training points, ``>= 2``.
    schedule : Schedule
        The model's schedule.

    Returns
    -------
    ScheduleMixingTime

    Examples
    --------
    >>> from diffmem_theory.core.schedules import OU, VPTrig
    >>> m = schedule_mixing_time(1.0, 16, 10**4, OU())
    >>> round(m.t_ou, 9), round(m.t, 9)   # the OU schedule gives t_M back
    (0.190065204, 0.190065204)
    >>> round(schedule_mixing_time(1.0, 16, 10**4, VPTrig()).t, 6)   # (1 + psi_M)^{-1/2}
    0.562341
    """
    schedule = as_schedule(schedule, required=True)
    t_ou = float(t_mixing(sigma, d, n))
    log_psi = math.log(math.expm1(2.0 * math.log(n) / d)) - 2.0 * math.log(sigma)
    try:
        t = float(schedule.inverse_snr(math.exp(log_psi))) if log_psi < 700.0 else None
    except ValueError:
        t = None
    if t is not None:
        note = f"t_M = {t:.4g} in {schedule.name} time"
    elif log_psi > 0.0:
        note = f"the SNR at t_M is beyond what {schedule.name} reaches near t = 0"
    else:
        note = (
            f"the SNR at t_M is below the SNR at the end T = {schedule.T} of {schedule.name}: "
            "the whole schedule lies before t_M (in the collapse regime)"
        )
    return ScheduleMixingTime(t_ou, log_psi, t, note)


def default_grid(schedule: Schedule, n_steps: int = 25) -> np.ndarray:
    r"""The decreasing grid of the empirical flow when the model's grid is unknown.

    ``schedule.time_grid(n_steps)`` (paper 000's 25 steps from ``T - 1e-3`` to ``1e-3`` for
    VPTrig); for an infinite horizon (OU, VE with ``T = inf``) the grid starts where the SNR is
    that of VPTrig at ``t = 0.999`` (``0.999^{-2} - 1 = 0.002``), the start of paper 000's grid.

    Examples
    --------
    >>> from diffmem_theory.core.schedules import OU, VPTrig
    >>> float(default_grid(VPTrig())[0]), round(float(default_grid(OU())[0]), 3)
    (0.999, 3.107)
    """
    schedule = as_schedule(schedule, required=True)
    n_steps = check_int(n_steps, "n_steps", low=1)
    if math.isfinite(schedule.T):
        return schedule.time_grid(n_steps)
    return schedule.time_grid(n_steps, t_max=float(schedule.inverse_snr(_START_SNR)))


def _log_self_advantage(log_snr: np.ndarray, sigma: float, d: float, n: int) -> np.ndarray:
    """``(d/2) log(1 + sigma^2 psi) - log n``: log of the self term over the others, annealed."""
    return 0.5 * d * np.logaddexp(0.0, 2.0 * math.log(sigma) + log_snr) - math.log(n)


def section(inputs: AuditInputs, *, n_grid: int = 200) -> Section:
    r"""Paper 001's mixing time ``t_M`` and KDE bandwidths for the data's ``n``, ``d`` and scale.

    Values: ``n``, ``d``, ``sigma`` (:func:`data_sigma`); ``t_M`` of eq. (2.9) in OU time, its
    log-SNR and its time in the model's schedule (:func:`schedule_mixing_time`); the KDE
    bandwidths of eqs. (2.10)-(2.11) and the exact-MISE optimum for Gaussian data; the
    speciation time ``t_S = 1/2 log Lambda`` (Biroli et al., cited in Sec. 2.3;
    ``Lambda`` the largest eigenvalue of ``C``); the participation-ratio dimension ``d_PR`` and
    ``t_M`` at ``d_PR`` (our sensitivity check of the isotropy assumption).

    The verdict says what ``t_M`` means for this model: above it the empirical score is near
    the smoothed data's score; below it the empirical score commits to training points, and
    where the sampler's last time ``inputs.t_span[-1]`` lies.

    Parameters
    ----------
    inputs : AuditInputs
        The training points and the model's schedule (and grid, when known).
    n_grid : int, default 200
        Points of the curve in the figure, ``>= 2``.

    Returns
    -------
    Section
        Key ``"mixing"``; figure ``"mixing_time"``: the annealed log-ratio of a training
        point's own term to the others' in the empirical density,
        ``(d/2) log(1 + sigma^2 psi_t) - log n``, over the model's time (zero at ``t_M``),
        for ``d`` and ``d_PR``.

    Examples
    --------
    >>> from diffmem_theory.core.denoisers import as_denoiser
    >>> from diffmem_theory.core.distributions import EmpiricalDistribution
    >>> from diffmem_theory.core.schedules import OU
    >>> train = np.random.default_rng(0).standard_normal((10**4, 16))
    >>> model = as_denoiser(EmpiricalDistribution(train), OU())
    >>> inputs = AuditInputs(train, None, model, "empirical", OU(), train[:2], None, None,
    ...                      np.array([0.5]), 1, 0)
    >>> round(section(inputs).value("t_M (OU time)").value, 2)   # t_mixing(1, 16, 10^4) = 0.19
    0.19
    """
    check_inputs(inputs)
    n_grid = check_int(n_grid, "n_grid", low=2, high=100_000)
    train, schedule = inputs.train, inputs.schedule
    n, d = inputs.n, inputs.d
    if n < 2:
        raise ValueError(f"train must hold at least 2 points for t_M (eq. (2.9)), got n = {n}")
    sigma = data_sigma(train)
    cov = np.atleast_2d(np.cov(train, rowvar=False))
    eig = np.clip(np.linalg.eigvalsh(cov), 0.0, None)
    d_pr = float(eig.sum() ** 2 / np.sum(eig * eig))
    m = schedule_mixing_time(sigma, d, n, schedule)
    t_end = None if inputs.t_span is None else float(inputs.t_span[-1])

    values = [
        Value("n", n, None, "training points", ""),
        Value("d", d, None, "dimension", ""),
        Value(
            "sigma",
            sigma,
            None,
            "Halder (paper 001), footnote 4 (empirical sigma)",
            "sqrt(tr C / d): the per-coordinate standard deviation, averaged",
        ),
        Value("t_M (OU time)", m.t_ou, None, _EQ_2_9, "OU process (2.1), lam = 1"),
        Value("log-SNR at t_M", m.log_snr, None, _SNR_MAP, "log((n^{2/d} - 1) / sigma^2)"),
        Value("t_M (model time)", m.t, None, _SNR_MAP, m.note),
    ]
    for rule in BANDWIDTH_RULES:
        values.append(
            Value(
                f"KDE bandwidth ({rule})",
                kde_bandwidth(sigma, d, n, rule=rule),
                None,
                _BANDWIDTH_SOURCE[rule],
                "the standard deviation of the Gaussian kernel of the train distribution",
            )
        )
    values.append(
        Value(
            "KDE bandwidth (exact-MISE optimum)",
            kde_mise_optimal_bandwidth(sigma, d, n),
            None,
            "exact MISE of a Gaussian KDE for N(mu, sigma^2 I_d) data (Wand and Jones, 1995)",
            "the bandwidth paper 001's three rules approximate",
        )
    )
    lam_max = float(eig[-1])
    values.append(
        Value(
            "t_S (OU time)",
            t_speciation(lam_max),
            None,
            "Biroli et al., speciation time 1/2 log Lambda (Halder (paper 001), Sec. 2.3)",
            f"Lambda = {lam_max:.4g}, the largest eigenvalue of the data covariance; "
            "t_S < 0: no speciation transition",
        )
    )
    d_eff = max(1, round(d_pr))
    sigma_pr = sigma * math.sqrt(d / d_eff)  # the total variance d sigma^2 kept
    m_pr = schedule_mixing_time(sigma_pr, d_eff, n, schedule)
    values += [
        Value(
            "participation-ratio dimension d_PR",
            d_pr,
            None,
            "tr(C)^2 / tr(C^2): the isotropy assumption of (2.9) gives d",
            f"d_PR / d = {d_pr / d:.3g}",
        ),
        Value(
            "t_M at d_PR (model time)",
            m_pr.t,
            None,
            "our sensitivity check: eq. (2.9) with d -> round(d_PR), the total variance kept",
            m_pr.note,
        ),
    ]

    # the annealed self-term advantage over the model's time range
    grid = default_grid(schedule) if inputs.t_span is None else inputs.t_span
    lo, hi = float(grid[-1]), float(grid[0])
    t_grid = np.geomspace(lo, hi, n_grid)
    log_snr = schedule.log_snr(t_grid)
    adv = _log_self_advantage(log_snr, sigma, d, n)
    adv_pr = _log_self_advantage(log_snr, sigma_pr, d_eff, n)
    fig, axes = figure(width="single", aspect=0.75, pyplot=False)
    with paper_style():
        ax = axes[0]
        ax.plot(t_grid, adv, color=PALETTE[0], label=f"d = {d}")
        ax.plot(t_grid, adv_pr, color=PALETTE[1], linestyle="--", label=f"d_PR = {d_pr:.1f}")
        ax.axhline(0.0, color="k", linewidth=0.6)
        for mt, col in ((m, PALETTE[0]), (m_pr, PALETTE[1])):
            if mt.t is not None and lo <= mt.t <= hi:
                ax.axvline(mt.t, color=col, linestyle=":", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_xlabel(f"t ({schedule.name})")
        ax.set_ylabel("log(own term / others), annealed")
        ax.set_title(r"$t_M$: where the curve crosses 0")
        ax.legend()

    return Section(
        key="mixing",
        title="Paper 001: mixing time t_M and KDE bandwidths",
        theorem=f"{_EQ_2_9}; eqs. (2.10)-(2.11) (bandwidths)",
        assumptions=[
            "data N(mu, sigma^2 I_d) with sigma^2 = tr(C)/d (paper 001's model, footnote 4); "
            f"this data set's participation-ratio dimension is {d_pr:.1f} of d = {d}",
            "the OU process (2.1) with lam = 1; t_M carried to the model's schedule "
            f"({schedule.name}) by matching log-SNR, exact for the condition of (2.9)",
            "n -> inf with log n / d fixed (random-energy-model argument after (2.8)): t_M is "
            "where a training point's own term equals the others' on average",
            "Gaussian kernels for the bandwidths; the three rules of (2.10)-(2.11) agree only "
            "to leading order",
        ],
        values=values,
        verdict=_verdict(m, m_pr, schedule, t_end),
        figures={"mixing_time": fig},
        curves={"t": t_grid, "log_self_advantage": adv, "log_self_advantage_d_pr": adv_pr},
    )


def _verdict(
    m: ScheduleMixingTime, m_pr: ScheduleMixingTime, schedule: Schedule, t_end: float | None
) -> str:
    """What t_M means for this model, and where the sampler's grid ends."""
    if m.t is None:
        return f"t_M = {m.t_ou:.3g} (OU time); {m.note}."
    text = (
        f"t_M = {m.t:.3g} in {schedule.name} time (log-SNR {m.log_snr:.3g}): above it the "
        "empirical score is close to the score of the smoothed data, so a memorizing and a "
        "generalizing model agree there; below it the empirical score draws each trajectory "
        "onto a training point, and a model that still follows it memorizes."
    )
    if m_pr.t is not None:
        text += (
            f" With the participation-ratio dimension instead of d, t_M = {m_pr.t:.3g}: "
            "the isotropic prediction is only as good as the data are isotropic."
        )
    if t_end is not None:
        where = "below" if t_end < m.t else "above"
        text += f" The sampler ends at t = {t_end:.3g}, {where} t_M."
    return text
