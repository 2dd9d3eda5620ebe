"""``core.schedules``: the noise processes of the five papers side by side, and flow matching.

Three panels over t in (0, 1]: the signal and noise scales alpha_t and sigma_t, the
log signal-to-noise ratio log psi_t = log(alpha_t^2 / sigma_t^2), and the transformed
time s = -1/2 log sigma_t^2 of Baptista et al. (paper 002, eq. (4.20)). Paper 000's
26-point training/sampling grid is marked on the VPTrig curve with t_16 (psi = 6.70406).

Example
-------
>>> from diffmem_theory.registry import get_experiment
>>> result = get_experiment("core.schedules").run(quick=True)
>>> round(float(result["psi_t16"]), 5)
6.70406
"""

from __future__ import annotations

from typing import Any

import numpy as np

from diffmem_theory.core.schedules import OU, VE, FlowMatching, VPExp, VPLinear, VPTrig
from diffmem_theory.plotting import figure
from diffmem_theory.registry import experiment

_SCHEDULES = {
    "VPTrig (paper 000)": VPTrig(),
    "OU, lambda = 1 (paper 001)": OU(lam=1.0),
    "VE exp, sigma_max = 10 (paper 002)": VE.exp(),
    "VP linear 0.001-3 (paper 002)": VPLinear(0.001, 3.0),
    "VP exp (papers 003/004)": VPExp(),
    "flow matching (Lipman et al., 2023)": FlowMatching(),
}


def plot(result: dict[str, Any]) -> Any:
    """Draw the three panels from :func:`run`'s result."""
    fig, (ax_scale, ax_snr, ax_s) = figure(ncols=3, aspect=0.85)
    t = result["t"]
    for label, curves in result["curves"].items():
        (line,) = ax_scale.plot(t, curves["alpha"], label=label)
        ax_scale.plot(t, curves["sigma"], linestyle="--", color=line.get_color())
        ax_snr.plot(t, curves["log_snr"], color=line.get_color())
        ax_s.plot(t, curves["s"], color=line.get_color())
    grid, psi = result["grid"], result["grid_log_snr"]
    ax_snr.plot(grid, psi, "o", color="k", markersize=2, label="paper 000 grid")
    ax_snr.annotate(
        rf"$t_{{16}}$: $\psi$ = {result['psi_t16']:.5f}",
        (grid[16], psi[16]),
        xytext=(0.45, 6.0),
        arrowprops={"arrowstyle": "->", "linewidth": 0.6},
        fontsize=7,
    )
    ax_scale.set(xlabel="$t$", ylabel=r"$\alpha_t$ (solid), $\sigma_t$ (dashed)", ylim=(0, 2.5))
    ax_snr.set(xlabel="$t$", ylabel=r"$\log \psi_t$")
    ax_s.set(xlabel="$t$", ylabel=r"$s = -\frac{1}{2}\log \sigma_t^2$")
    ax_scale.legend(loc="upper left", fontsize=5.5)
    ax_snr.legend(loc="upper right", fontsize=6)
    return fig


@experiment(
    "core.schedules",
    plot=plot,
    figure="schedules",
    title="alpha_t, sigma_t, log-SNR and s-time of every noise process, with paper 000's grid",
)
def run(quick: bool = True, seed: int = 0) -> dict[str, Any]:
    """Evaluate every schedule on a fine grid (closed forms: ``quick`` and ``seed`` unused)."""
    t = np.linspace(1e-3, 1 - 1e-3, 400 if quick else 4000)
    curves = {
        label: {
            "alpha": sched.alpha(t),
            "sigma": sched.sigma(t),
            "log_snr": sched.log_snr(t),
            "s": sched.s_time(t),
        }
        for label, sched in _SCHEDULES.items()
    }
    vp = VPTrig()
    grid = vp.time_grid()
    return {
        "t": t,
        "curves": curves,
        "grid": grid,
        "grid_log_snr": vp.log_snr(grid),
        "psi_t16": float(vp.snr(grid[16])),
    }
