r"""``paper002.fig8``-``fig11``, ``fig15``: trained score networks (with the ``nn`` extra).

Baptista et al. (paper 002, Sec. 5.3) train a ReLU MLP score network
(:func:`~diffmem_theory.nn.models.paper_002_network`: three hidden layers of one width,
fixed Fourier time features) on the 20 points under the linear VP schedule (beta_min = 0.001,
beta_max = 3, T = 1), full batch, Adam with lr = 1e-3, EMA 0.9999, and sample with the
reverse probability-flow ODE (:mod:`~diffmem_theory.voronoi.networks`).

* ``paper002.fig8`` (Fig. 8): 400 samples (red circles) and the data (blue) after 5e3, 3e4
  and 3e5 epochs (width 256, J_0^N).
* ``paper002.fig9`` (Fig. 9): the fraction of 1000 samples within tau of the data against
  the epochs (width 256). The paper's text measures it with tau = 10^{-1} (Sec. 5.3: "inside
  a Euclidean ball of size tau = 10^{-1}"), so its figure shows tau = 0.1; we draw tau = 1e-2
  (the radius of the analytic scores' Figs. 5 and 7) beside it.
* ``paper002.fig10`` (Fig. 10): 400 samples for widths 8, 32, 128 (508, 5,068 and 69,388
  parameters counted the paper's way, :func:`~diffmem_theory.nn.models.paper_002_parameter_count`:
  the network and its EMA copy) after 2e5 epochs.
* ``paper002.fig11`` (Fig. 11): the fraction against the width and parameter count.
* ``paper002.fig15`` (Fig. 15): J_0^N (blue) against I_0^N (orange): the fraction against
  the width after 2e5 epochs (left) and against the epochs at width 256 (right).

Full mode (:data:`~diffmem_theory.voronoi.networks.FULL`) uses the paper's settings; the
paper does not give the epoch grid of Fig. 9 or the widths of Fig. 11 beyond 8, 32, 128: we
take 1e3-3e5 epochs (8 points) and widths 8-512 (7 points). Quick mode
(:data:`~diffmem_theory.voronoi.networks.QUICK`) keeps the networks, learning rate and EMA
and stops at 3e4 epochs: epochs 5e3, 1e4, 2e4, 3e4 at width 256, and widths 8, 32, 128, 256
at 3e4 epochs. The trends survive the shorter training: after 5e3-1e4 epochs the EMA network
(decay 0.9999, which after 5e3 steps still gives its initialization the weight
0.9999^5000 = 0.61) puts 2-4% of the samples within 0.1 of the data, after 3e4 epochs width 256
puts about a third there and width 8 only 5-8% (seeds 0-2), and I_0^N puts more there than
J_0^N (about half at width 256). Only the absolute fractions are lower than after 2e5-3e5
epochs. The networks are trained once per process and shared by the figures and the checks
``paper002.nn_*``; quick mode takes about a minute of CPU time on two cores.

Full mode (seed 0) gives, within 0.1 of the data: width 256 after 1e3-3e5 epochs
2/2/2/4/32/90/96/97% (J_0^N) and 2/3/3/5/51/94/98/98% (I_0^N); after 2e5 epochs widths
8/16/32/64/128/256/512 put 9/26/51/84/94/96/94% (J_0^N) and 17/47/75/95/97/98/97% (I_0^N)
there (saturated from width 128 on: 256 -> 512 falls by 2 standard errors). Within 1e-2 the
fractions reach 19% (J_0^N) and 29% (I_0^N) after 3e5 epochs. Its training costs about
0.33 ms per epoch at width 256, 1 ms at 512 and under 0.1 ms at widths 8-128 on a quiet
machine: about 12 minutes in all, 7 of them for width 512.

Needs the ``nn`` extra (JAX, Equinox, Optax); without it the figures are not registered.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.ticker import NullFormatter

from diffmem_theory._optional import HAVE_NN
from diffmem_theory.plotting import PALETTE, figure, paper_style
from diffmem_theory.registry import experiment
from diffmem_theory.voronoi.data import SEED1_DATA

#: Samples drawn per panel of Figs. 8 and 10 (as in the paper).
N_SHOWN = 400


def _plot_scatter(result: dict[str, Any]) -> Any:
    fig, axes = figure(ncols=len(result["labels"]), aspect=1.0)
    with paper_style():
        for ax, label, x, f in zip(
            axes, result["labels"], result["samples"], result["fraction"], strict=True
        ):
            ax.plot(x[:, 0], x[:, 1], "o", color=PALETTE[1], mfc="none", markersize=3.5)
            ax.plot(SEED1_DATA[:, 0], SEED1_DATA[:, 1], "o", color=PALETTE[0], markersize=3)
            ax.set(xlim=(-3.0, 3.0), ylim=(-3.2, 2.8), aspect="equal", xlabel="$x_1$")
            ax.set_title(f"{label}\n{f:.0%} within $0.1$")
        axes[0].set_ylabel("$x_2$")
    return fig


def _tick_labels(x: np.ndarray) -> list[str]:
    """``"5k"``-style labels of the epoch counts, blank where one would crowd a later one."""
    labels, last = [], np.inf
    for e in x[::-1]:
        show = last - np.log10(e) >= 0.25
        labels.append(f"{e / 1000:g}k" if show else "")
        last = np.log10(e) if show else last
    return labels[::-1]


def _plot_sweep(ax: Any, r: dict[str, Any], color: str, name: str, *, both: bool) -> None:
    x = r["params"] if r["over"] == "widths" else r["x"]
    for k, tau in enumerate(r["taus"]):
        if k and not both:
            continue
        ax.errorbar(
            x, r["fraction"][k], yerr=r["se"][k], fmt="o-" if k == 0 else "s:", color=color,
            mfc=color if k == 0 else "none", capsize=2, label=f"{name}, $\\tau = {tau:g}$",
        )  # fmt: skip
    if r["over"] == "widths":
        ax.set(xscale="log", xlabel="parameters (paper's count)")
        for p, w in zip(r["params"], r["x"], strict=True):
            ax.annotate(f"w {w}", (p, 1.0), textcoords="offset points", xytext=(0, -3),
                        ha="center", va="top", fontsize=7, color="0.4")  # fmt: skip
    else:
        ax.set(xscale="log", xlabel="epochs")
        ax.set_xticks(x, _tick_labels(x))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set(ylim=(0.0, 1.0), ylabel="fraction of samples within $\\tau$")
    ax.legend(loc="center left")


def _plot_fractions(result: dict[str, Any]) -> Any:
    fig, (ax,) = figure(ncols=1, width="single", aspect=0.8)
    with paper_style():
        _plot_sweep(ax, result["J"], PALETTE[0], "$J_0^N$", both=True)
        ax.set_title(f"{result['n']} samples, $J_0^N$")
    return fig


def _plot_fig15(result: dict[str, Any]) -> Any:
    fig, axes = figure(ncols=2, aspect=0.8)
    with paper_style():
        for ax, over in zip(axes, ("widths", "epochs"), strict=True):
            for color, obj in zip(PALETTE[:2], ("J", "I"), strict=True):
                _plot_sweep(ax, result[over][obj], color, f"${obj}_0^N$", both=False)
        axes[0].set_title(f"widths, {result['width_epochs']} epochs")
        axes[1].set_title(f"width {result['epoch_width']}")
    return fig


if HAVE_NN:
    from diffmem_theory.core.metrics import memorization_fraction
    from diffmem_theory.nn import paper_002_parameter_count
    from diffmem_theory.voronoi.networks import (
        FULL,
        QUICK,
        Sweep,
        sweep_fractions,
        sweep_samples,
    )

    def _sweep(quick: bool) -> Sweep:
        return QUICK if quick else FULL

    def _scatter(over: str, seed: int, sweep: Sweep) -> dict[str, Any]:
        """The first 400 of the samples of Fig. 8's (``over="epochs"``) or Fig. 10's networks."""
        if over == "epochs":
            points = [(sweep.epoch_width, e) for e in sweep.scatter_epochs]
            labels = [f"{e:,} epochs" for e in sweep.scatter_epochs]
        else:
            points = [(w, sweep.width_epochs) for w in sweep.scatter_widths]
            labels = [
                f"width {w} ({paper_002_parameter_count(w):,} par.)" for w in sweep.scatter_widths
            ]
        xs = [sweep_samples(w, e, seed=seed, sweep=sweep) for w, e in points]
        return {
            "over": over,
            "points": points,
            "labels": labels,
            "samples": np.stack([x[:N_SHOWN] for x in xs]),
            "fraction": np.array([memorization_fraction(x, SEED1_DATA, 0.1) for x in xs]),
        }

    def _fractions(over: str, objectives: tuple[str, ...], seed: int, sweep: Sweep) -> dict:
        """The fractions of :func:`sweep_fractions` for each objective, keyed by it."""
        out: dict[str, Any] = {
            obj: sweep_fractions(over, objective=obj, seed=seed, sweep=sweep) for obj in objectives
        }
        out["n"] = sweep.n_samples
        return out

    def _fig15(seed: int, sweep: Sweep) -> dict[str, Any]:
        """Fig. 15's two panels: J_0^N and I_0^N along the width and the epoch sweeps."""
        return {
            "widths": _fractions("widths", ("J", "I"), seed, sweep),
            "epochs": _fractions("epochs", ("J", "I"), seed, sweep),
            "width_epochs": sweep.width_epochs,
            "epoch_width": sweep.epoch_width,
        }

    @experiment(
        "paper002.fig8",
        plot=_plot_scatter,
        figure="Fig. 8",
        title="Score network (width 256, J_0^N): 400 samples after increasing epochs",
    )
    def run_fig8(quick: bool = True, seed: int = 0) -> dict[str, Any]:
        """400 samples after 5e3, 3e4, 3e5 epochs (quick: 5e3, 1e4, 3e4)."""
        return _scatter("epochs", seed, _sweep(quick))

    @experiment(
        "paper002.fig9",
        plot=_plot_fractions,
        figure="Fig. 9",
        title="Score network (width 256): fraction of samples within tau of the data vs epochs",
    )
    def run_fig9(quick: bool = True, seed: int = 0) -> dict[str, Any]:
        """Fractions within 0.1 and 1e-2 after each number of epochs (one training run)."""
        return _fractions("epochs", ("J",), seed, _sweep(quick))

    @experiment(
        "paper002.fig10",
        plot=_plot_scatter,
        figure="Fig. 10",
        title="Score networks of widths 8, 32, 128: 400 samples after 2e5 epochs",
    )
    def run_fig10(quick: bool = True, seed: int = 0) -> dict[str, Any]:
        """400 samples for widths 8, 32, 128 after 2e5 epochs (quick: 3e4)."""
        return _scatter("widths", seed, _sweep(quick))

    @experiment(
        "paper002.fig11",
        plot=_plot_fractions,
        figure="Fig. 11",
        title="Score networks: fraction of samples within tau of the data vs width",
    )
    def run_fig11(quick: bool = True, seed: int = 0) -> dict[str, Any]:
        """Fractions within 0.1 and 1e-2 for widths 8-512 after 2e5 epochs (quick: 8-256, 3e4)."""
        return _fractions("widths", ("J",), seed, _sweep(quick))

    @experiment(
        "paper002.fig15",
        plot=_plot_fig15,
        figure="Fig. 15",
        title="J_0^N vs I_0^N: fraction within 0.1 of the data vs width and vs epochs",
    )
    def run_fig15(quick: bool = True, seed: int = 0) -> dict[str, Any]:
        """Fractions within 0.1 for both objectives along both sweeps."""
        return _fig15(seed, _sweep(quick))
