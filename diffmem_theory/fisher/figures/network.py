r"""Paper 003's network figures with trained ReLU score networks (registered with the ``nn`` extra).

Ye, Zhu, Tao, Chen (paper 003), Sec. 6.1:

* ``paper003.fig1`` (Fig. 1): samples of networks of growing width trained on ``n`` points
  of a K = 4 mixture in d = 2: failing to capture the data (narrow), partial generalization,
  memorization (wide); memorized samples (``|x - x_(1)| <= |x - x_(2)|/3``, Sec. 6.1) in red.
* ``paper003.fig2`` (Fig. 2b left): memorization ratio (with its binomial standard error) and
  mean log-likelihood of the samples under the true mixture against width, for several n; and
  the memorizing width (ratio > 1/2) against n beside the Taylor-construction width
  ``W_1 = n log^3(1/eps)`` of Thm 5.1, eq. (5.3) (constants 1, eps = 0.1: only its growth in
  n is meaningful; the theorem is an upper bound).
* ``paper003.loss_gap_network`` (Prop 4.1): ``sigma_t^2 Loss-Gap_t(s)`` and
  ``sigma_t^2 E_{P_hat_t}|s_hat - s|^2`` (the two sides, with their Monte Carlo standard
  errors) over t for a memorizing network (the smaller n) and a generalizing one (the larger
  n, same width), each beside the true score's gap on its data (which tends to d = 2 as
  t -> 0, Thm 4.3). The factor ``sigma_t^2`` puts the gaps in eps units.

The settings, networks and measures are those of :mod:`diffmem_theory.fisher.networks`
(:data:`~diffmem_theory.fisher.networks.QUICK`, :data:`~diffmem_theory.fisher.networks.FULL`):
the paper's widths, depths, optimizer, process and sampler are not given, and its n = 3.2K and
10K with 12M-parameter networks are far beyond a CPU. Quick mode: n in {8, 32} (2 and 8 points
per cluster), widths 4, 16, 64, 128, 2 x 10^4 full-batch Adam steps, 200 samples; the trend
survives because n = 8 passes ratio 1/2 within 2 x 10^4 steps at width 64 while n = 32 stays
below it at every width (at 10^4 steps n = 8 reached only 0.49 for one of three seeds). Full
mode: n in {8, 32, 128} (the largest n that trains in minutes at width 512), widths 4 to 512,
4 x 10^4 steps, 1000 samples. One sweep serves the three figures and the check
``paper003.nn_width_threshold``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from diffmem_theory._optional import HAVE_NN
from diffmem_theory.plotting import PALETTE, figure, paper_style
from diffmem_theory.registry import experiment

if HAVE_NN:
    from diffmem_theory.fisher import networks as _net
    from diffmem_theory.fisher.separation import relu_size_empirical

    _EPS = 0.1  # the accuracy at which W_1 of (5.3) is drawn

    def _sweep(quick: bool, seed: int) -> dict[str, Any]:
        s = _net.setting(quick)
        return _net.width_sweep(s["ns"], s["widths"], s["epochs"], s["n_samples"], seed)

    @experiment(
        "paper003.fig1",
        plot=lambda result: _plot_fig1(result),
        figure="Fig. 1",
        title="ReLU score networks of growing width: fail, generalize, memorize (red)",
    )
    def run_fig1(quick: bool = True, seed: int = 0) -> dict[str, Any]:
        """Samples of the narrowest, a middle and the widest network at the smallest n."""
        sw = _sweep(quick, seed)
        n, ws = sw["ns"][0], sw["widths"]
        shown = (ws[0], ws[len(ws) // 2 - 1] if len(ws) > 2 else ws[0], ws[-1])
        return {
            "n": n,
            "data": sw["data"][n],
            "panels": [
                {
                    "width": w,
                    "samples": sw["samples"][(n, w)],
                    "memorized": sw["memorized"][(n, w)],
                    "ratio": float(sw["ratio"][0, sw["widths"].index(w)]),
                }
                for w in shown
            ],
        }

    def _plot_fig1(result: dict[str, Any]) -> Any:
        panels = result["panels"]
        fig, axes = figure(ncols=len(panels), aspect=1.0)
        with paper_style():
            for ax, p in zip(np.atleast_1d(axes), panels, strict=True):
                x, mem = p["samples"], p["memorized"]
                ax.scatter(*x[~mem].T, s=4, color=PALETTE[0], label="generated")
                ax.scatter(*x[mem].T, s=4, color="red", label="memorized")
                ax.scatter(*result["data"].T, s=14, marker="x", color="k", label="training")
                ax.set(
                    xlim=(-8, 8), ylim=(-8, 8), aspect="equal",
                    title=f"width {p['width']}: ratio {p['ratio']:.2f}",
                )  # fmt: skip
            np.atleast_1d(axes)[0].legend(loc="lower left", fontsize=6)
        return fig

    @experiment(
        "paper003.fig2",
        plot=lambda result: _plot_fig2(result),
        figure="Fig. 2b (left)",
        title="ReLU networks: memorization ratio, log-likelihood and memorizing width vs n",
    )
    def run_fig2(quick: bool = True, seed: int = 0) -> dict[str, Any]:
        """The width sweep for each n, the true score's ratio, and the memorizing widths."""
        sw = _sweep(quick, seed)
        ns = np.array(sw["ns"], dtype=np.float64)
        return {
            **{k: sw[k] for k in ("ns", "widths", "epochs", "n_samples", "ratio", "stderr")},
            "loglik": sw["loglik"],
            "true": _net.true_score_measures(sw["ns"], sw["n_samples"], seed),
            "memorizing_width": np.array(
                [_net.memorizing_width(sw["widths"], r) for r in sw["ratio"]]
            ),
            "taylor_width": np.asarray(relu_size_empirical(ns, _EPS).width, dtype=np.float64),
        }

    def _plot_fig2(result: dict[str, Any]) -> Any:
        fig, axes = figure(ncols=3, aspect=0.85)
        ws, ns = np.array(result["widths"]), result["ns"]
        with paper_style():
            for i, n in enumerate(ns):
                c = PALETTE[i % len(PALETTE)]
                axes[0].errorbar(
                    ws, result["ratio"][i], yerr=result["stderr"][i], fmt="o-", color=c,
                    ms=3, label=f"$n = {n}$",
                )  # fmt: skip
                axes[0].axhline(result["true"]["ratio"][i], color=c, ls=":", lw=0.8)
                axes[1].plot(ws, result["loglik"][i], "s--", color=c, ms=3, label=f"$n = {n}$")
                axes[1].axhline(result["true"]["loglik"][i], color=c, ls=":", lw=0.8)
            axes[0].axhline(0.5, color="0.6", lw=0.6)
            axes[0].set(xscale="log", xlabel="width", ylabel="memorization ratio", ylim=(0, 1))
            axes[1].set(xscale="log", xlabel="width", ylabel="mean log-likelihood of samples")
            axes[0].legend(fontsize=6, title="dotted: true score", title_fontsize=6)
            mw = result["memorizing_width"]
            top = 2.0 * ws[-1]
            finite = np.isfinite(mw)
            axes[2].plot(np.array(ns)[finite], mw[finite], "o", color="k", label="measured")
            axes[2].plot(
                np.array(ns)[~finite], np.full((~finite).sum(), top), "^", color="k",
                mfc="none", label=f"none up to {ws[-1]}",
            )  # fmt: skip
            axes[2].plot(
                ns, result["taylor_width"], "-", color=PALETTE[1],
                label=rf"Thm 5.1: $n\log^3(1/\epsilon)$, $\epsilon = {_EPS}$",
            )  # fmt: skip
            axes[2].set(
                xscale="log", yscale="log", xlabel="$n$", ylabel="memorizing width (ratio > 1/2)"
            )
            axes[2].legend(fontsize=6)
        return fig

    @experiment(
        "paper003.loss_gap_network",
        plot=lambda result: _plot_loss_gap(result),
        figure="Prop 4.1",
        title="Loss gap = Fisher divergence to the empirical score, memorizing vs generalizing",
    )
    def run_loss_gap(quick: bool = True, seed: int = 0) -> dict[str, Any]:
        """Both sides of Prop 4.1 over t for the memorizing/generalizing pair and the truth."""
        s = _net.setting(quick)
        pairs = _net.loss_gap_pairs(s)
        res = _net.loss_gap_sides(pairs, s["epochs"], _net.LOSS_GAP_TIMES, seed=seed)
        t = np.array(_net.LOSS_GAP_TIMES)
        scale = np.asarray(_net.SCHEDULE.sigma2(t))
        curves = {}
        for pair, (net, true) in res.items():
            for label, r in (("network", net), ("true score", true)):
                curves[(pair, label)] = {
                    side: (scale * getattr(r, side).mean, scale * getattr(r, side).stderr)
                    for side in ("lhs", "rhs")
                } | {"z": r.z}
        return {"t": t, "pairs": pairs, "curves": curves}

    def _plot_loss_gap(result: dict[str, Any]) -> Any:
        fig, axes = figure(ncols=1, aspect=0.75)
        ax = np.atleast_1d(axes)[0]
        t = result["t"]
        names = ("memorizing", "generalizing")
        with paper_style():
            for i, pair in enumerate(result["pairs"]):
                c = PALETTE[i % len(PALETTE)]
                n, w = pair
                for label, ls, mk in (("network", "-", "o"), ("true score", ":", "s")):
                    cur = result["curves"][(pair, label)]
                    name = (
                        f"{names[i]} net ($n = {n}$, width {w})"
                        if label == "network"
                        else (f"true score ($n = {n}$)")
                    )
                    ax.errorbar(
                        t, *cur["rhs"], fmt=mk + ls, color=c, ms=3, mfc="none",
                        label=name + r": $E|\hat s - s|^2$",
                    )  # fmt: skip
                    ax.errorbar(t * 1.08, *cur["lhs"], fmt="x", color=c, ms=3)
            ax.set(
                xscale="log", xlabel="$t$",
                ylabel=r"$\sigma_t^2\,$Loss-Gap$_t$ (x) and $\sigma_t^2\,$Fisher (o, s)",
            )  # fmt: skip
            ax.legend(fontsize=6)
        return fig
