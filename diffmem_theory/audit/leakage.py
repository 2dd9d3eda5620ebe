r"""Paper 004 applied to a user's data: how much m samples at noise level sigma_tn reveal.

Shah, Kalavasis, Klivans, Daras, "Does Generation Require Memorization? Creative Diffusion
Models using Ambient Diffusion" (ICML 2025), Sec. 4.1, Lemma 4.2. A training point
``x0 ~ N(mu, Sigma)`` is seen at the VP noise level ``sigma_tn``,
``x_tn = sqrt(1 - sigma_tn^2) x0 + sigma_tn z`` (``SNR = (1 - sigma_tn^2)/sigma_tn^2``):

* the ambient optimum (Lemma 4.1) reproduces one fixed noisy copy, so its ``m`` samples ``A``
  leak ``I(A; x0) = 1/2 log det(I + SNR Sigma)`` nats whatever ``m``
  (:func:`diffmem_theory.leakage.information.mi_ambient`);
* the DDPM optimum's ``m`` samples ``D`` are i.i.d. given ``x0``; their mean is sufficient, so
  ``I(D; x0) = 1/2 log det(I + m SNR Sigma)`` (:func:`~diffmem_theory.leakage.information.mi_ddpm`;
  the paper prints ``m I(A; x0)``, an upper bound: an erratum, given beside it);
* the posterior MMSE of ``x0`` from the samples, ``tr((Sigma^{-1} + m SNR I)^{-1})`` (ambient:
  ``m = 1``) (:func:`~diffmem_theory.leakage.information.mmse_x0`), reported as a fraction of
  ``tr Sigma``: the share of a training point's variance the samples leave unknown.

The data enter through their Gaussian fit (:func:`diffmem_theory.core.fit.fit_gaussian`, full
covariance: the maximum-likelihood ``Sigma`` with eigenvalues floored at ``1e-6 tr(S)/d``), and
only through its spectrum: the log-determinants and traces are invariant under rotations, so
the full covariance is used, not a per-coordinate (diagonal) one. For data that are not
Gaussian the values are **upper bounds** on the leakage (and on the MMSE) of a point with the
same covariance: ``I(x0; x_tn) = h(x_tn) - h(sigma_tn z)`` and ``h(x_tn)`` is at most the
entropy of the Gaussian of the same covariance ``(1 - sigma_tn^2) Sigma + sigma_tn^2 I``
(Cover and Thomas, *Elements of Information Theory*, 2nd ed., Thm 8.6.5), which gives
``1/2 log det(I + SNR Sigma)``; the sample mean stays sufficient for ``m`` DDPM samples
whatever the prior (so the same bound holds with ``m SNR``), and the linear (Gaussian)
estimator's error bounds the MMSE.

The VP level is also given as a time of the model's schedule, ``t_n`` with the same
signal-to-noise ratio (``psi_{t_n} = SNR``). Nothing here evaluates the model: the section is
the theory for the user's data, at the user's ``sigma_tn`` and ``m``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from diffmem_theory._validation import check_int, check_scalar, covariance_spectrum
from diffmem_theory.audit.base import AuditInputs, Section, Value, check_inputs
from diffmem_theory.core.fit import fit_gaussian
from diffmem_theory.leakage.ambient import sd2_sigma
from diffmem_theory.leakage.information import mi_ambient, mi_ddpm, mmse_x0
from diffmem_theory.plotting import PALETTE, figure, paper_style

__all__ = ["DEFAULT_SIGMA_TN", "section"]

#: The VP level of Shah et al.'s largest t_n (timestep 100 of Stable Diffusion 2's schedule,
#: Sec. 5.2), 0.325.
DEFAULT_SIGMA_TN = float(sd2_sigma(100))

_SOURCE_A = "Shah et al., Lemma 4.2 and eq. (11) (ambient optimum)"
_SOURCE_D = "Shah et al., Lemma 4.2, DDPM side corrected (the sample mean is sufficient)"
_SOURCE_P = "Shah et al., Lemma 4.2 as printed (m I(A; x0), an upper bound)"
_SOURCE_M = "Shah et al., Sec. 4.1 after Lemma 4.2 (posterior MMSE, exact for Gaussian x0)"
_GRID = np.geomspace(1e-3, 1.0, 61)


def _time_of_level(schedule: Any, sigma_tn: float) -> tuple[float | None, str]:
    """The time of ``schedule`` whose SNR is that of the VP level, or None with the reason."""
    if sigma_tn == 1.0:
        return None, "SNR = 0: no time of a schedule with alpha_t > 0 has it"
    snr = (1.0 - sigma_tn) * (1.0 + sigma_tn) / sigma_tn / sigma_tn  # inf, not 0/0, when tiny
    try:
        return float(schedule.inverse_snr(snr)), "psi_(t_n) = (1 - sigma_tn^2) / sigma_tn^2"
    except ValueError as exc:
        return None, f"outside the schedule's range of SNR ({exc})"


def section(inputs: AuditInputs, *, sigma_tn: float = DEFAULT_SIGMA_TN, m: Any = None) -> Section:
    r"""Paper 004's section: Lemma 4.2's leakage of the data's Gaussian fit at ``sigma_tn``, ``m``.

    See the module docstring. Values: ``I(A; x0)`` (ambient), ``I(D; x0)`` (DDPM, ``m``
    samples), the printed ``m I(A; x0)``, the MMSE fractions ``mmse / tr Sigma`` for both,
    the dimension and ``tr Sigma``, and ``t_n`` on the model's schedule.

    Parameters
    ----------
    inputs : AuditInputs
        The audit's inputs (the training points; the model's schedule for ``t_n``; the
        number of samples for the default ``m``).
    sigma_tn : float, default :data:`DEFAULT_SIGMA_TN` (0.325)
        The VP noise level of the noisy copies, in ``(0, 1]`` (a standard deviation):
        Shah et al.'s largest ``t_n`` (timestep 100 of Stable Diffusion 2, Sec. 5.2).
    m : int, optional
        Number of samples drawn, ``>= 1``; default the number of the model's samples
        (``len(inputs.samples)``).

    Returns
    -------
    Section
        Key ``"leakage"``, with the figure ``leakage_vs_sigma`` (both leakages, the printed
        one and the MMSE fractions against ``sigma_tn``).

    Raises
    ------
    TypeError, ValueError
        A bad option (the message names it).

    References
    ----------
    Shah, Kalavasis, Klivans, Daras (2025), Lemma 4.1, Lemma 4.2, eq. (11), Sec. 4.1.

    Examples
    --------
    >>> from diffmem_theory.core.denoisers import as_denoiser
    >>> from diffmem_theory.core.distributions import EmpiricalDistribution
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> X = np.random.default_rng(0).normal(size=(2000, 2))
    >>> inputs = AuditInputs(X, None, as_denoiser(EmpiricalDistribution(X), VPTrig()), "e",
    ...                      VPTrig(), X[:10], None, None, np.array([0.5]), 1, 0)
    >>> sec = section(inputs, sigma_tn=0.5, m=10)
    >>> round(sec.value("ambient leakage I(A; x0)").value, 1)        # log 2 per unit dimension
    1.4
    >>> round(sec.value("t_n on the model's schedule").value, 6)     # VPTrig: sigma_t = t
    0.5
    """
    check_inputs(inputs)
    level = check_scalar(sigma_tn, "sigma_tn", low=0.0, low_open=True, high=1.0)
    copies = len(inputs.samples) if m is None else check_int(m, "m", low=1)
    law = fit_gaussian(inputs.train)
    spectrum = covariance_spectrum(law.covs[0])
    trace, d = float(spectrum.sum()), inputs.d

    ambient = float(mi_ambient(spectrum, level))
    ddpm = float(mi_ddpm(spectrum, level, copies))
    printed = float(mi_ddpm(spectrum, level, copies, printed=True))
    mmse_a = float(mmse_x0(spectrum, level, copies, "ambient")) / trace
    mmse_d = float(mmse_x0(spectrum, level, copies, "ddpm")) / trace
    t_n, t_note = _time_of_level(inputs.schedule, level)

    curves: dict[str, Any] = {
        "sigma_tn": _GRID,
        "ambient": mi_ambient(spectrum, _GRID),
        "ddpm": mi_ddpm(spectrum, _GRID, copies),
        "ddpm_printed": mi_ddpm(spectrum, _GRID, copies, printed=True),
        "mmse_fraction_ambient": mmse_x0(spectrum, _GRID, copies, "ambient") / trace,
        "mmse_fraction_ddpm": mmse_x0(spectrum, _GRID, copies, "ddpm") / trace,
    }
    at = f"sigma_tn = {level:.3g}"
    values = [
        Value(
            "ambient leakage I(A; x0)",
            ambient,
            None,
            _SOURCE_A,
            f"nats, {at}, any m; an upper bound for non-Gaussian data of this covariance",
        ),
        Value(
            "DDPM leakage I(D; x0)",
            ddpm,
            None,
            _SOURCE_D,
            f"nats, {at}, m = {copies} samples; an upper bound for non-Gaussian data",
        ),
        Value(
            "DDPM leakage as printed, m I(A; x0)",
            printed,
            None,
            _SOURCE_P,
            "the paper treats the m draws as independent; the exact value is the one above",
        ),
        Value(
            "ambient MMSE of x0 / tr Sigma",
            mmse_a,
            None,
            _SOURCE_M,
            "the share of a training point's variance the ambient samples leave unknown",
        ),
        Value(
            "DDPM MMSE of x0 / tr Sigma",
            mmse_d,
            None,
            _SOURCE_M,
            f"the same for m = {copies} DDPM samples (-> 0 like 1/m)",
        ),
        Value(
            "tr Sigma of the data's Gaussian fit",
            trace,
            None,
            "maximum-likelihood covariance (core.fit.fit_gaussian)",
            f"d = {d}",
        ),
        Value(
            "t_n on the model's schedule",
            t_n,
            None,
            "the time of the same signal-to-noise ratio",
            t_note,
        ),
    ]
    verdict = (
        f"At {at} (t_n = {'n/a' if t_n is None else f'{t_n:.3g}'} on the model's schedule) "
        f"the ambient optimum's samples reveal at most {ambient:.3g} nats about a training "
        f"point (d = {d}) and leave {mmse_a:.1%} of its variance unknown; {copies} DDPM "
        f"samples reveal at most {ddpm:.3g} nats (the printed m I(A; x0) = {printed:.3g} "
        f"overstates it) and leave {mmse_d:.1%}."
    )
    assumptions = [
        "Lemma 4.2's setting: a training point x0 ~ N(mu, Sigma), here the data's Gaussian "
        "fit (full covariance; only its spectrum enters, the values do not depend on the "
        "basis), seen through VP noise at sigma_tn.",
        "For non-Gaussian data of the same covariance the leakages and MMSEs are upper bounds "
        "(the Gaussian maximizes the information of an additive Gaussian channel under a "
        "covariance constraint; the sample mean is sufficient for m DDPM samples).",
        "The samples are those of the exact optima at t_n (Lemma 4.1: the ambient optimum "
        "reproduces the noisy copies); a trained model is not evaluated here, and that "
        "ambient training reduces memorization remains the paper's conjecture (Sec. 4.1).",
        "The covariance is estimated from N training points: with N <= d its null directions "
        "carry only the floor 1e-6 tr(S)/d and the leakage along them is underestimated.",
    ]
    return Section(
        key="leakage",
        title="Paper 004: leakage of a training point at noise level sigma_tn",
        theorem="Shah et al., Lemma 4.2 (with the DDPM side corrected), Sec. 4.1",
        assumptions=assumptions,
        values=values,
        verdict=verdict,
        figures={"leakage_vs_sigma": _figure(curves, level, copies)},
        curves=curves,
    )


def _figure(curves: dict[str, Any], level: float, copies: int) -> Any:
    fig, (ax, ax_m) = figure(ncols=2, aspect=0.8, pyplot=False)
    s = curves["sigma_tn"]
    with paper_style():
        ax.plot(s, curves["ambient"], color=PALETTE[0], label="ambient I(A; x0)")
        ax.plot(s, curves["ddpm"], color=PALETTE[1], label=f"DDPM I(D; x0), m = {copies}")
        ax.plot(s, curves["ddpm_printed"], color=PALETTE[1], ls=":", label="m I(A; x0) (printed)")
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_ylabel("leakage (nats)")
        ax_m.plot(s, curves["mmse_fraction_ambient"], color=PALETTE[0], label="ambient")
        ax_m.plot(s, curves["mmse_fraction_ddpm"], color=PALETTE[1], label=f"DDPM, m = {copies}")
        ax_m.set_ylabel("MMSE of x0 / tr Sigma")
        for a in (ax, ax_m):
            a.axvline(level, color="0.5", lw=0.6)
            a.set_xscale("log")
            a.set_xlabel("sigma_tn")
            a.legend()
    return fig
