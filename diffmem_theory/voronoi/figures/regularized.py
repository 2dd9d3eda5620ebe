r"""``paper002.fig4``-``fig7``: Tikhonov and empirical-Bayes regularization of the empirical score.

Baptista et al. (paper 002, §5.1-5.2). Same 20 points and VE
schedule (g = 10^{2t}) as :mod:`~diffmem_theory.voronoi.figures.trajectories`; samples are
the end points of the probability-flow ODE from x_T ~ N(0, sigma(1)^2 I), integrated as the
authors' code does (RK45 tolerances rtol = atol = 1e-5), by the package's Dormand-Prince
integrator in s-time.

* ``paper002.fig4`` (Fig. 4): 100 samples of the Tikhonov-regularized flow (5.7)-(5.8),
  integrated to t = 0 (where the weights are the indicator of the nearest data point, their
  t -> 0 limit), for c = 1e-4, 1e-2, 1e-1.
* ``paper002.fig5`` (Fig. 5): the fraction of samples within tau = 1e-2 of the training set
  against c in ``logspace(-1, -5, 9)``, with the fraction within 0.1 and the median distance;
  the reference table (3 seeds) is :data:`~diffmem_theory.voronoi.regularized.TIKHONOV_TABLE`.
* ``paper002.fig6`` (Fig. 6): 100 samples of the empirical-Bayes flow (5.12) (threshold on the
  unnormalized sum of weights, as in the authors' code), integrated to t = 1e-6, for
  c = 0.01, 0.1, 1.
* ``paper002.fig7`` (Fig. 7): the fraction within 1e-2 against c in ``logspace(-2, 1, 7)``;
  reference :data:`~diffmem_theory.voronoi.regularized.EB_TABLE`.

Quick mode: 1000 samples from one seed (the paper's sample size); full mode: three seeds
(``seed``, ``seed + 1``, ``seed + 2``), as for the reference tables. Each run takes about a second.

Example
-------
>>> from diffmem_theory.registry import get_experiment
>>> r = get_experiment("paper002.fig7").run(quick=True)
>>> bool(r["within_table"].all())
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from diffmem_theory.core.metrics import memorization_fraction
from diffmem_theory.plotting import PALETTE, figure, paper_style
from diffmem_theory.registry import experiment
from diffmem_theory.voronoi.data import SEED1_DATA
from diffmem_theory.voronoi.regularized import (
    EB_TABLE,
    N_SAMPLES,
    TABLE_SLACK,
    TAU,
    TIKHONOV_TABLE,
    regularization_sweep,
    regularized_samples,
)

#: Samples per panel of Figs. 4 and 6 (as in the paper).
N_SCATTER = 100

FIG4_C = (1e-4, 1e-2, 1e-1)
FIG6_C = (1e-2, 1e-1, 1.0)


def _plot_sweep(result: dict[str, Any]) -> Any:
    fig, (ax,) = figure(ncols=1, width="single", aspect=0.8)
    cs = result["c"]
    with paper_style():
        ax.fill_between(
            cs,
            result["table_low"] - TABLE_SLACK,
            result["table_high"] + TABLE_SLACK,
            color="0.85",
            label=r"reference $\pm 0.04$",
        )
        for i, seed in enumerate(result["seeds"]):
            ax.plot(cs, result["fraction"][i], "o-", color=PALETTE[i], label=f"seed {seed}")
        if result["score"] == "tikhonov":
            ax.plot(cs, result["fraction_0.1"][0], "s:", color="0.4", label=r"within $0.1$")
        ax.set(xscale="log", xlabel="$c$", ylabel=r"fraction within $10^{-2}$ of the data")
        name = "Tikhonov (5.7)" if result["score"] == "tikhonov" else "empirical Bayes (5.12)"
        ax.set_title(f"{name}: {N_SAMPLES} samples")
        ax.legend(loc="best")
    return fig


def _plot_scatter(result: dict[str, Any]) -> Any:
    cs = result["c"]
    fig, axes = figure(ncols=len(cs), aspect=1.0)
    with paper_style():
        for ax, c, x in zip(axes, cs, result["samples"], strict=True):
            ax.plot(x[:, 0], x[:, 1], "o", color=PALETTE[1], mfc="none", markersize=3.5)
            ax.plot(SEED1_DATA[:, 0], SEED1_DATA[:, 1], "o", color=PALETTE[0], markersize=3)
            frac = memorization_fraction(x, SEED1_DATA, TAU)
            ax.set(xlim=(-2.5, 2.5), ylim=(-2.8, 2.2), aspect="equal", xlabel="$x_1$")
            ax.set_title(f"$c = {c:g}$: {frac:.0%} within $10^{{-2}}$")
        axes[0].set_ylabel("$x_2$")
    return fig


def _scatter(score: str, cs: tuple[float, ...], seed: int) -> dict[str, Any]:
    samples = np.stack([regularized_samples(score, c, N_SCATTER, seed) for c in cs])
    return {"score": score, "c": np.array(cs), "samples": samples}


@experiment(
    "paper002.fig4",
    plot=_plot_scatter,
    figure="Fig. 4",
    title="Tikhonov-regularized empirical score: 100 samples for c = 1e-4, 1e-2, 1e-1",
)
def run_fig4(quick: bool = True, seed: int = 0) -> dict[str, Any]:
    """100 samples of the Tikhonov flow (t -> 0) per c."""
    return _scatter("tikhonov", FIG4_C, seed)


@experiment(
    "paper002.fig5",
    plot=_plot_sweep,
    figure="Fig. 5",
    title="Tikhonov: fraction of samples within 1e-2 of the data vs c (table +- 0.04)",
)
def run_fig5(quick: bool = True, seed: int = 0) -> dict[str, Any]:
    """Fractions within 1e-2 and 0.1 and the median distance for the 9 values of c."""
    return regularization_sweep("tikhonov", TIKHONOV_TABLE, quick, seed)


@experiment(
    "paper002.fig6",
    plot=_plot_scatter,
    figure="Fig. 6",
    title="Empirical-Bayes score (5.12): 100 samples for c = 0.01, 0.1, 1",
)
def run_fig6(quick: bool = True, seed: int = 0) -> dict[str, Any]:
    """100 samples of the empirical-Bayes flow (t -> 1e-6) per c."""
    return _scatter("eb", FIG6_C, seed)


@experiment(
    "paper002.fig7",
    plot=_plot_sweep,
    figure="Fig. 7",
    title="Empirical Bayes: fraction of samples within 1e-2 of the data vs c (table +- 0.04)",
)
def run_fig7(quick: bool = True, seed: int = 0) -> dict[str, Any]:
    """Fractions within 1e-2 for the 7 values of c of the authors' sweep."""
    return regularization_sweep("eb", EB_TABLE, quick, seed)
