r"""``paper004.leakage``: information leakage of the ambient and the DDPM optimum vs noise level.

Shah et al., "Does Generation Require Memorization?" (paper 004), Lemma 4.2 (Sec. 4.1, proof in
App. D.1.2; its DDPM side is an erratum, see :mod:`diffmem_theory.leakage.errata`). Not a figure
of the paper: it plots the lemma. A training point ``x0 ~ N(0, Sigma)`` with ``d = 1``,
``Sigma = 1``, VP noise level ``sigma_tn`` and ``m in {1, 10, 100}`` generated samples at t_n:

* (a) ``I(samples; x0)`` (nats) against sigma_tn: ambient (m copies of one noisy point,
  ``1/2 log(1 + SNR)`` for every m), DDPM exact ``1/2 log(1 + m SNR)`` and the paper's printed
  ``m I(A)`` (dashed), with seeded Monte Carlo estimates +- 2 s.e. at a few sigma_tn (m = 10);
* (b) the ratio ``I(D) / I(A)``: exact (solid) against the printed ``m`` (dashed) -- the printed
  value is an upper bound, tight only as sigma_tn -> 1;
* (c) the posterior MMSE of x0 at sigma_tn = 0.5 against m: O(1/m) for DDPM, flat for ambient.

At sigma_tn = 0.5, m = 10: I(A) = ln 2, printed 6.9314718, exact 1.7169936. Quick mode: 60 noise
levels, Monte Carlo at 3 levels with 4000 draws; full: 200 levels, 6 levels with 20000 draws.
Both run in about a second.

Examples
--------
>>> r = run.run(quick=True)
>>> round(float(r["reference"]["exact"]), 7), round(float(r["reference"]["printed"]), 7)
(1.7169936, 6.9314718)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from diffmem_theory.leakage.information import (
    leakage_mc,
    mi_ambient,
    mi_ddpm,
    mmse_x0,
)
from diffmem_theory.plotting import PALETTE, figure, paper_style
from diffmem_theory.registry import experiment

COV = np.array([1.0])  # spectrum of Sigma: d = 1, Sigma = 1
COPIES = np.array([1, 10, 100])
MC_COPIES = 10
REFERENCE_SIGMA = 0.5


def _monte_carlo(levels: np.ndarray, n_samples: int, seed: int) -> dict[str, np.ndarray]:
    seeds = np.random.SeedSequence(seed).spawn(2 * len(levels))
    out = {}
    for k, model in enumerate(("ambient", "ddpm")):
        est = [
            leakage_mc(COV, s, MC_COPIES, model, n_samples=n_samples, rng=np.random.default_rng(q))
            for s, q in zip(levels, seeds[k::2], strict=True)
        ]
        out[model] = np.array(est)  # columns: estimate, stderr
    return out


def _plot(result: dict[str, Any]) -> Any:
    fig, (ax_mi, ax_ratio, ax_mmse) = figure(ncols=3, aspect=0.85)
    s, m = result["sigma"], result["m"]
    with paper_style():
        ax_mi.plot(s, result["ambient"], color="0.6", lw=4, label="ambient (any m)")
        for i, mm in enumerate(m):
            col = PALETTE[i % len(PALETTE)]
            ax_mi.plot(s, result["exact"][i], color=col, label=f"DDPM exact, m={mm}")
            ax_mi.plot(s, result["printed"][i], color=col, ls="--", lw=1)
            ax_ratio.plot(s, result["exact"][i] / result["ambient"], color=col, label=f"m={mm}")
            ax_ratio.axhline(mm, color=col, ls="--", lw=1)
        for model, marker in (("ambient", "s"), ("ddpm", "o")):
            est = result["mc"][model]
            ax_mi.errorbar(
                result["mc_sigma"], est[:, 0], yerr=2 * est[:, 1], fmt=marker, ms=3.5,
                color="0.35", mfc="none", ls="none",
            )  # fmt: skip
        ax_mi.plot([], [], "k--", lw=1, label="printed m I(A)")
        ax_mi.plot([], [], "o", color="0.35", mfc="none", ms=3.5, label=f"MC DDPM, m={MC_COPIES}")
        ax_mi.plot([], [], "s", color="0.35", mfc="none", ms=3.5, label="MC ambient")
        ax_mi.set(xlabel=r"$\sigma_{t_n}$", ylabel="I(samples; x0) [nats]", yscale="log")
        ax_mi.set_ylim(1e-7, None)  # room for the legend below the curves
        ax_mi.set_title("(a) leakage vs noise level")
        ax_mi.legend(fontsize=5.5, loc="lower left", framealpha=0.9)
        ax_ratio.set(xlabel=r"$\sigma_{t_n}$", ylabel="I(D) / I(A)", yscale="log")
        ax_ratio.set_title("(b) exact ratio vs printed m (dashed)")
        ax_ratio.legend(fontsize=6)
        mm = result["mmse_m"]
        ax_mmse.plot(mm, result["mmse_ddpm"], color=PALETTE[0], marker="o", ms=3, label="DDPM")
        ax_mmse.plot(mm, result["mmse_ambient"], color="black", marker="s", ms=3, label="ambient")
        ax_mmse.set(xlabel="m (samples)", ylabel="MMSE of x0", xscale="log", yscale="log")
        ax_mmse.set_title(rf"(c) estimation, $\sigma_{{t_n}}$ = {REFERENCE_SIGMA}")
        ax_mmse.legend(fontsize=6)
    return fig


@experiment(
    "paper004.leakage",
    plot=_plot,
    figure="Lemma 4.2",
    title="Leakage I(samples; x0) vs sigma_tn: ambient, DDPM exact and the printed m-times bound",
)
def run(quick: bool = True, seed: int = 0) -> dict[str, Any]:
    """Closed forms on a sigma_tn grid, Monte Carlo at a few levels, MMSE vs m."""
    sigma = np.linspace(0.02, 0.99, 60 if quick else 200)
    mc_sigma = np.array([0.2, 0.5, 0.8]) if quick else np.linspace(0.15, 0.9, 6)
    mmse_m = np.unique(np.logspace(0, 3, 13).astype(int))
    m = COPIES[:, None]
    return {
        "sigma": sigma,
        "m": COPIES,
        "ambient": mi_ambient(COV, sigma),
        "exact": mi_ddpm(COV, sigma, m),
        "printed": mi_ddpm(COV, sigma, m, printed=True),
        "mc_sigma": mc_sigma,
        "mc_exact": {
            "ambient": mi_ambient(COV, mc_sigma),
            "ddpm": mi_ddpm(COV, mc_sigma, MC_COPIES),
        },
        "mc": _monte_carlo(mc_sigma, 4000 if quick else 20_000, seed),
        "mmse_m": mmse_m,
        "mmse_ddpm": mmse_x0(COV, REFERENCE_SIGMA, mmse_m),
        "mmse_ambient": mmse_x0(COV, REFERENCE_SIGMA, mmse_m, "ambient"),
        "reference": {
            "ambient": mi_ambient(COV, REFERENCE_SIGMA),
            "exact": mi_ddpm(COV, REFERENCE_SIGMA, MC_COPIES),
            "printed": mi_ddpm(COV, REFERENCE_SIGMA, MC_COPIES, printed=True),
        },
    }
