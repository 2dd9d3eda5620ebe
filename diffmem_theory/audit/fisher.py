r"""Paper 003 applied to a user's model: its loss gap to the empirical score = a Fisher divergence.

Ye, Zhu, Tao, Chen, "Provable Separations between Memorization and Generalization in Diffusion
Models" (paper 003). The empirical score ``s_hat = grad log p_hat_t`` of the training set
minimizes the empirical denoising score-matching loss (3.1); the *loss gap* of the model's
score ``s`` (Sec. 4),

    Loss-Gap_t(s) = L_t(s) - L_t(s_hat),
    L_t(s) = (1/N) sum_i E_Z |-Z/sigma_t - s(alpha_t x_i + sigma_t Z, t)|^2       (eq. (3.1)),

equals the Fisher divergence ``E_{X ~ P_hat_t} |s_hat(X) - s(X)|^2`` (Prop 4.1; the proof holds
for any ``s``, not only the true score). Both sides are estimated at each time of
``inputs.times`` on the same noise (common random numbers: the draws of
:mod:`diffmem_theory.core.losses`) with :func:`diffmem_theory.fisher.loss_gap.dsm_loss_t`
(the two losses, on ``n_points`` training points) and
:func:`diffmem_theory.fisher.loss_gap.fisher_divergence_t` (``under`` those points, the
empirical score of the whole training set), so their difference -- Prop 4.1's residual, mean
zero -- has its own standard error. (``prop_4_1_sides`` builds the empirical score of the
points it averages over, so it cannot subsample; the two functions above can.) Everything is
in score units, as in the paper.

The integral over t is eq. (3.1)'s (no time weighting), ``int_{t_1}^{t_k} Loss-Gap_t dt``,
by the trapezoid rule in ``u = log t`` (``dt = t du``; the gap behaves like a power of ``t``),
over the range of ``inputs.times``; its standard error adds the per-point aggregates of the
times (:func:`diffmem_theory.audit.crossover.subsample_mean`).

As a scale the section gives the leading-order gap of Thm 4.3 for Gaussian components with
the data's covariance ``Sigma`` (the maximum-likelihood sample covariance),
``F_t = (alpha_t^2/sigma_t^2) tr(Sigma (alpha_t^2 Sigma + sigma_t^2 I)^{-1})``
(:func:`diffmem_theory.fisher.loss_gap.loss_gap_asymptotic_gaussian`): the gap of a score that
generalizes like a Gaussian law of the data's covariance while the empirical posterior still
sits on one training point.

Cost: the empirical score is evaluated ``2 len(inputs.times) n_points n_noise`` times (once
for ``L_t(s_hat)``, once for the Fisher divergence), the model's score as often.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from diffmem_theory._validation import as_float_array, check_int, check_scalar, covariance_spectrum
from diffmem_theory.audit.base import AuditInputs, Section, Value, check_inputs
from diffmem_theory.audit.crossover import subsample, subsample_mean
from diffmem_theory.core.distributions import EmpiricalDistribution
from diffmem_theory.fisher.loss_gap import (
    dsm_loss_t,
    fisher_divergence_t,
    loss_gap_asymptotic_gaussian,
)
from diffmem_theory.kernels import to_host
from diffmem_theory.plotting import PALETTE, figure, paper_style

__all__ = ["log_trapezoid_weights", "section"]

_ROUNDING = 1e-9
_SOURCE_GAP = "Ye et al., eq. (3.1) and Sec. 4 (Loss-Gap_t)"
_SOURCE_41 = "Ye et al., Prop 4.1 (Loss-Gap_t = Fisher divergence, any score)"
_SOURCE_43 = "Ye et al., Thm 4.3 (leading order, App. A.2.3) for the data's covariance"


def log_trapezoid_weights(times: np.ndarray) -> np.ndarray:
    r"""Weights ``w`` with ``sum_l w_l f(t_l) ~ int_{t_1}^{t_k} f(t) dt``: trapezoid in ``log t``.

    With ``u = log t``, ``int f dt = int f(t) t du``; the trapezoid rule on the nodes ``u_l``
    gives ``w_l = t_l (u_{l+1} - u_{l-1}) / 2`` (one-sided at the ends). Exact for
    ``f = c / t`` (a constant in ``u``).

    Parameters
    ----------
    times : ndarray, shape (k,)
        Increasing positive times, ``k >= 2``.

    Returns
    -------
    ndarray, shape (k,)

    Examples
    --------
    >>> t = np.array([0.01, 0.1, 1.0])
    >>> round(float(log_trapezoid_weights(t) @ (1 / t)), 6), round(float(np.log(100)), 6)
    (4.60517, 4.60517)
    """
    t = as_float_array(times, "times", ndim=1, dtype=np.float64)
    if t.size < 2 or np.any(t <= 0) or np.any(np.diff(t) <= 0):
        raise ValueError(f"times must be >= 2 increasing positive times, got {times!r}")
    du = np.diff(np.log(t))
    return t * 0.5 * (np.concatenate([du, [0.0]]) + np.concatenate([[0.0], du]))


def _per_time(draws: np.ndarray, n_total: int) -> tuple[np.ndarray, np.ndarray]:
    pairs = [subsample_mean(draws, row, n_total) for row in np.eye(draws.shape[0])]
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def section(inputs: AuditInputs, *, n_points: int = 250, band: float = 0.1) -> Section:
    r"""Paper 003's section: Loss-Gap_t of the model = Fisher divergence to the empirical score.

    See the module docstring. Values: the integrated loss gap and Fisher divergence (score
    units, ``int dt`` over the range of ``inputs.times``, trapezoid in ``log t``), the
    integrated Prop 4.1 residual and the largest per-time ``|z|`` of the residual, the
    integrated leading-order gap ``F_t`` of the data's Gaussian covariance, and the model's
    gap relative to it.

    Parameters
    ----------
    inputs : AuditInputs
        The audit's inputs.
    n_points : int, default 250
        Training points the losses average over (without replacement, seeded), ``>= 2``; the
        standard errors are for the whole training set.
    band : float, default 0.1
        A relative gap (model / Gaussian fit) within ``band`` of 0, or a gap within 2 standard
        errors of 0, reads "the model's score is the empirical score"; in ``[0, 1]``.

    Returns
    -------
    Section
        Key ``"fisher"``, with the figure ``fisher_gap`` (both sides of Prop 4.1 over t with
        ``F_t``, and the residual's z-score).

    Raises
    ------
    TypeError, ValueError
        A bad option (the message names it) or a model returning a bad prediction.

    References
    ----------
    Ye, Zhu, Tao, Chen, "Provable Separations between Memorization and Generalization in
    Diffusion Models", eq. (3.1), Sec. 4, Prop 4.1, Thm 4.3.

    Examples
    --------
    >>> from diffmem_theory.core.denoisers import as_denoiser
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> sched, X = VPTrig(), np.random.default_rng(0).normal(size=(30, 3))
    >>> law = EmpiricalDistribution(X)
    >>> inputs = AuditInputs(X, None, as_denoiser(law, sched), "empirical", sched, X[:4], None,
    ...                      None, np.array([0.2, 0.5]), 2, 0)
    >>> section(inputs).value("integrated loss gap").value
    0.0
    """
    check_inputs(inputs)
    n_pts = check_int(n_points, "n_points", low=2)
    tol = check_scalar(band, "band", low=0.0, high=1.0)
    sched, times, seed, N = inputs.schedule, np.asarray(inputs.times), inputs.seed, inputs.n
    train = subsample(inputs.train, n_pts, seed, 0)
    emp = EmpiricalDistribution(inputs.train)

    def score(x: np.ndarray, t: float) -> np.ndarray:
        return to_host(inputs.model.predict(x, t, "score"))

    kw = {"n_noise": inputs.n_noise, "seed": seed}
    gap = dsm_loss_t(train, score, times, sched, **kw) - dsm_loss_t(
        train, lambda x, t: emp.score_t(x, t, sched), times, sched, **kw
    )
    fisher = fisher_divergence_t(inputs.train, score, times, sched, under=train, **kw)
    residual = gap - fisher
    spectrum = covariance_spectrum(
        np.cov(inputs.train, rowvar=False, bias=True).reshape(inputs.d, inputs.d)
    )
    f_t = loss_gap_asymptotic_gaussian(times, spectrum, sched)

    curves: dict[str, Any] = {"times": times, "gaussian_fit_gap": f_t}
    curves["gap"], curves["gap_se"] = _per_time(gap.draws, N)
    curves["fisher"], curves["fisher_se"] = _per_time(fisher.draws, N)
    res, res_se = _per_time(residual.draws, N)
    # the residual is a difference of two sums: below 1e-9 of the Fisher divergence it is
    # rounding (the floor of fisher.loss_gap.prop_4_1_sides); 0/0 where s = s_hat: z = 0
    scale = np.maximum(res_se, _ROUNDING * np.abs(curves["fisher"]))
    z = np.divide(res, scale, out=np.zeros_like(res), where=scale > 0)
    curves["z"] = z
    max_z = float(np.max(np.abs(z)))

    if len(times) >= 2:
        w = log_trapezoid_weights(times)
        g, g_se = subsample_mean(gap.draws, w, N)
        fi, fi_se = subsample_mean(fisher.draws, w, N)
        r, r_se = subsample_mean(residual.draws, w, N)
        scale = float(w @ f_t)
        rel, rel_se = g / scale, g_se / scale
        span = f"int dt over [{times[0]:.3g}, {times[-1]:.3g}], trapezoid in log t"
    else:  # one time: the values at that time
        (g, fi, r), (g_se, fi_se, r_se) = zip(
            *(subsample_mean(e.draws, np.ones(1), N) for e in (gap, fisher, residual)),
            strict=True,
        )
        scale = float(f_t[0])
        rel, rel_se = g / scale, g_se / scale
        span = f"at the one time t = {times[0]:.3g} (no integral)"
    values = [
        Value(
            "integrated loss gap",
            g,
            g_se,
            _SOURCE_GAP,
            f"L(model) - L(empirical score), score units, {span}",
        ),
        Value(
            "integrated Fisher divergence",
            fi,
            fi_se,
            _SOURCE_41,
            f"E_(P_hat_t) |s_hat - s_model|^2, {span}",
        ),
        Value(
            "integrated Prop 4.1 residual (gap - Fisher)",
            r,
            r_se,
            _SOURCE_41,
            "mean 0 by Prop 4.1: a value beyond a few standard errors means the estimate "
            "needs more noise draws",
        ),
        Value(
            "largest |z| of the Prop 4.1 residual over t",
            max_z,
            None,
            _SOURCE_41,
            "below 4 where the identity is resolved; at small t the residual is "
            "heavy-tailed and its SE reliable only with ~100 draws per point",
        ),
        Value(
            "integrated leading-order gap of the data's Gaussian fit",
            scale,
            None,
            _SOURCE_43,
            f"F_t with the data's sample covariance, {span}",
        ),
        Value(
            "relative gap (model / Gaussian fit)",
            rel,
            rel_se,
            _SOURCE_43,
            "0: the model's score is the empirical score (memorizing); ~1: as far from it "
            "as a Gaussian law of the data's covariance",
        ),
    ]
    memorizes = abs(g) <= 2.0 * g_se or abs(rel) <= tol
    reading = (
        "indistinguishable from the empirical score: the model memorizes (its DSM loss is the "
        "minimal, memorizing one)"
        if memorizes
        else f"{rel:.3g} +- {rel_se:.2g} of the leading-order gap of a Gaussian law of the "
        "data's covariance away from the empirical score"
    )
    verdict = (
        f"Loss gap to the empirical score {g:.4g} +- {g_se:.2g} (= Fisher divergence "
        f"{fi:.4g} +- {fi_se:.2g} by Prop 4.1): the model's score is {reading}."
    )
    assumptions = [
        "Prop 4.1 holds for any score and any data (no assumption on the data law); the gap "
        "is in score units and weighs small t heavily (it grows like d/sigma_t^2).",
        "F_t is Thm 4.3's leading order for Gaussian components with the data's covariance "
        "(taken as one Gaussian: with K separated clusters the within-cluster covariance is "
        "smaller, and so is the gap of a score that generalizes like them); it is not a "
        "bound, and at large t the gap falls below it.",
        f"Losses are averaged over {train.shape[0]} of the {N} training points with "
        f"{inputs.n_noise} noise draws each; standard errors are for the whole training set.",
    ]
    return Section(
        key="fisher",
        title="Paper 003: loss gap to the empirical score = Fisher divergence",
        theorem="Ye et al., eq. (3.1), Prop 4.1, Thm 4.3",
        assumptions=assumptions,
        values=values,
        verdict=verdict,
        figures={"fisher_gap": _figure(curves, inputs.label)},
        curves=curves,
    )


def _figure(curves: dict[str, Any], label: str) -> Any:
    fig, (ax, ax_z) = figure(ncols=2, aspect=0.8, pyplot=False)
    t = curves["times"]
    with paper_style():
        ax.errorbar(
            t,
            curves["gap"],
            curves["gap_se"],
            color=PALETTE[0],
            marker="o",
            label=f"Loss-Gap_t ({label})",
        )
        ax.errorbar(
            t,
            curves["fisher"],
            curves["fisher_se"],
            color=PALETTE[1],
            marker="s",
            mfc="none",
            ls="--",
            label="Fisher divergence (Prop 4.1)",
        )
        ax.plot(
            t,
            curves["gaussian_fit_gap"],
            color=PALETTE[2],
            ls=":",
            label="F_t, data's Gaussian fit (Thm 4.3)",
        )
        ax.set_xscale("log")
        if np.all(np.asarray(curves["gap"]) > 0):
            ax.set_yscale("log")
        ax.set_xlabel("t")
        ax.set_ylabel("score units")
        ax.legend()
        ax_z.plot(t, curves["z"], color=PALETTE[0], marker="o")
        for level in (-4.0, 4.0):
            ax_z.axhline(level, color="0.5", lw=0.6)
        ax_z.set_xscale("log")
        ax_z.set_xlabel("t")
        ax_z.set_ylabel("Prop 4.1 residual z-score")
    return fig
