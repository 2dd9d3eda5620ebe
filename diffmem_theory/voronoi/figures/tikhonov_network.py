r"""``paper002.fig12``-``fig14``: score networks trained with the Tikhonov objective.

Baptista et al. (paper 002), Sec. 5.3: the MLP score network trained on J_reg,0^N (eq. (5.5),
lambda = sigma^2, Gamma = c / sigma^2) on the 20 points, linear VP schedule, samples by the
reverse probability-flow ODE (:mod:`diffmem_theory.voronoi.tikhonov_network`).

* ``paper002.fig12`` (Fig. 12): 400 samples for c = 0.001, 0.01, 0.1 with the data.
* ``paper002.fig13`` (Fig. 13): ``|s(x*, t)|`` against ``t`` in ``10^linspace(-5, 0, 100)``
  (log axes) at ``x* = x_0^1 + 0.2 z`` for each network, against the empirical score
  ``s^N`` (the paper's "GMM score", with the VP mean factor ``m(t)`` that the authors' code
  omits) and the exact regularized score ``s_reg^N`` of eq. (5.7), the minimizer of each
  network's objective.
* ``paper002.fig14`` (Fig. 14): the fraction of 1000 samples within ``tau = 0.1`` of the data
  against ``c``, with binomial standard errors, beside the fraction of the flow of the exact
  minimizer (5.7) from the same starts (what a perfectly trained network would give).

Full mode is the authors' code: width 256, 500,000 epochs, lr = 1e-3, c in {0, 1e-4, 1e-3,
1e-2, 0.1}; quick mode width 128, 40,000 epochs, lr = 3e-3, c in {0, 1e-3, 1e-2, 0.1}
(:func:`~diffmem_theory.voronoi.tikhonov_network.tikhonov_settings` says why the trend
survives). The three figures and the checks ``paper002.nn_tikhonov_trend`` and
``paper002.nn_score_limit`` share one set of trained networks per seed (cached in-process).
Registered only with the ``nn`` extra.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from diffmem_theory._optional import HAVE_NN
from diffmem_theory.plotting import PALETTE, figure, paper_style
from diffmem_theory.registry import experiment
from diffmem_theory.voronoi.data import SEED1_DATA

#: The values of c shown in Fig. 12 (and the paper's panels of Fig. 13).
FIG12_C = (1e-3, 1e-2, 1e-1)
#: Samples drawn per panel of Fig. 12 (the paper's).
N_SCATTER = 400


def _plot_fig12(result: dict[str, Any]) -> Any:
    cs = result["c"]
    fig, axes = figure(ncols=len(cs), aspect=1.0)
    with paper_style():
        for ax, c, x, f in zip(axes, cs, result["samples"], result["fraction"], strict=True):
            ax.plot(x[:, 0], x[:, 1], "o", color=PALETTE[1], mfc="none", markersize=3.5)
            ax.plot(SEED1_DATA[:, 0], SEED1_DATA[:, 1], "o", color=PALETTE[0], markersize=3)
            ax.set(xlim=(-2.5, 2.5), ylim=(-2.8, 2.2), aspect="equal", xlabel="$x_1$")
            ax.set_title(f"$c = {c:g}$: {f:.0%} within $0.1$")
        axes[0].set_ylabel("$x_2$")
    return fig


def _plot_fig13(result: dict[str, Any]) -> Any:
    cs, t = result["c"], result["t"]
    fig, axes = figure(ncols=len(cs), aspect=1.0)
    with paper_style():
        for i, (ax, c) in enumerate(zip(axes, cs, strict=True)):
            ax.plot(t, result["empirical"], color=PALETTE[2], label="empirical $s^N$")
            ax.plot(t, result["tikhonov"][i], "--", color=PALETTE[0], label="exact (5.7)")
            ax.plot(t, result["network"][i], color=PALETTE[1], label="network")
            ax.set(xscale="log", yscale="log", xlabel="$t$", title=f"$c = {c:g}$")
        axes[0].set_ylabel(r"$|s(x^*, t)|$")
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=3)
        fig.suptitle(
            f"$x^* = ({result['x_star'][0]:.2f}, {result['x_star'][1]:.2f})$, "
            f"{result['distance']:.2f} from the nearest data point"
        )
    return fig


def _plot_fig14(result: dict[str, Any]) -> Any:
    cs = result["c"]
    pos = np.arange(len(cs))
    fig, (ax,) = figure(ncols=1, width="single", aspect=0.8)
    with paper_style():
        ax.errorbar(
            pos, result["fraction"], yerr=3 * result["se"], fmt="o-", color=PALETTE[0],
            capsize=2, label=r"network, $\pm 3$ s.e.",
        )  # fmt: skip
        ax.plot(pos, result["exact_fraction"], "s--", color=PALETTE[2], label="exact (5.7)")
        ax.set_xticks(pos, [f"{c:g}" for c in cs])
        ax.set(xlabel="$c$", ylabel=r"fraction within $\tau = 0.1$ of the data", ylim=(0, 1.02))
        ax.set_title(
            f"width {result['width']}, {result['epochs']:,} epochs: {result['n_samples']} samples"
        )
        ax.legend(loc="best")
    return fig


if HAVE_NN:
    from diffmem_theory.voronoi.tikhonov_network import (
        score_curves,
        tikhonov_settings,
        tikhonov_sweep,
    )

    @experiment(
        "paper002.fig12",
        plot=_plot_fig12,
        figure="Fig. 12",
        title="Networks trained on the Tikhonov objective: 400 samples for c = 0.001, 0.01, 0.1",
    )
    def run_fig12(quick: bool = True, seed: int = 0) -> dict[str, Any]:
        """The first 400 of the sweep's 1000 samples for c = 0.001, 0.01, 0.1."""
        res = tikhonov_sweep(tikhonov_settings(quick), seed)
        rows = [int(np.flatnonzero(res["c"] == c)[0]) for c in FIG12_C]
        return {
            "c": res["c"][rows], "samples": res["samples"][rows, :N_SCATTER],
            "fraction": res["fraction"][rows], "seed": seed,
        }  # fmt: skip

    @experiment(
        "paper002.fig13",
        plot=_plot_fig13,
        figure="Fig. 13",
        title="|s(x*, t)| of the Tikhonov-trained networks vs the empirical and exact (5.7) scores",
    )
    def run_fig13(quick: bool = True, seed: int = 0) -> dict[str, Any]:
        """|s(x*, t)| of each network, of s^N and of s_reg^N (5.7) on Fig. 13's time grid."""
        return score_curves(tikhonov_settings(quick), seed)

    @experiment(
        "paper002.fig14",
        plot=_plot_fig14,
        figure="Fig. 14",
        title="Tikhonov-trained networks: fraction of 1000 samples within 0.1 of the data vs c",
    )
    def run_fig14(quick: bool = True, seed: int = 0) -> dict[str, Any]:
        """The fraction within tau = 0.1 and its standard error for each c."""
        res = tikhonov_sweep(tikhonov_settings(quick), seed)
        return {k: v for k, v in res.items() if k != "samples"}
