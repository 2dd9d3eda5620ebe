r"""Paper 000 with MLP denoisers: memorization ratio against parameters relative to ``N d``.

Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models" (paper 000),
Sec. 4.1 and eq. (14). ``paper000.mlp_phase`` draws, on one axis "parameters / (N d)", the
memorization ratio (Def. 2.2, ``c = 1/9``) of

* ReLU MLP denoisers of increasing width against ``P/(N d)`` (``P`` their parameter count;
  :func:`diffmem_theory.crossover.networks.network_phase`, which documents the training, the
  sampler, the quick and full settings and our choices where the paper is silent);
* the trained GMM denoisers of ``paper000.fig2`` (:func:`~.phase.phase_runs`) on the same
  laboratory against ``(M d)/(N d) = M/N``;
* eq. (14)'s ``M_*/N`` for the networks' training weighting ``lambda = psi_t`` (0.9997) and for
  ``lambda = 1`` on the 26-point grid (0.830), both with ``C = 2``.

The laboratory is ``N = 20, d = 10, K = 2``, not Fig. 2's ``N = 200, d = 50, K = 12``: at
that size the networks do not begin to memorize in minutes of training (see the networks
module). The result's ``predicted`` says whether eq. (14)'s ``M_*/N`` falls in the bracket
where the network's ratio first reaches 1/2; the plot's title states it.

Measured (2-core CPU, seed 0). Quick mode (widths 8-128, 20,000 epochs at lr 3e-3, 200
samples): the networks' ratios are 0, 0, 0.095, 0.515, 0.82 at ``P/(N d)`` = 1.95, 5.11,
15.3, 51.0, 184, so they first reach 1/2 in the bracket (15.3, 51.0]; the quick GMMs of the
same laboratory start the transition (ratio >= 1/10) at ``M/N = 0.6``, reach 1/2 and 9/10 at
0.9, around eq. (14)'s 0.83-1.0. A network needs some 15-50 times the data's size
``N d`` in parameters where a GMM needs about ``N d``: eq. (14)'s ``M_*/N`` does not predict
the network's transition (and the network's transition moves with the training length,
which eq. (14) does not see). Full mode's networks (widths 4-256, 50,000 epochs at lr 1e-3,
50 samples) give 0, 0, 0, 0.22, 0.74, 0.80, 1.0 at ``P/(N d)`` = 0.85, 1.95, 5.11, 15.3,
51.0, 184, 695: the same bracket (15.3, 51.0].

Wall time on a shared 2-core machine: quick mode trains the five networks in about 15 s of
CPU (JIT compilation included) and the ten quick GMMs of the laboratory in about 3 s (two
sweep workers, already started in a ``diffmem reproduce`` run); full mode's networks take
about 1 min of CPU (3.5 min on the loaded machine), and full mode's GMMs (50,000 epochs,
N_dup = 100) about 100 s each on the loaded machine (0.3 s in quick mode), some 20 runs with
the refinement grid: about a quarter of an hour with two sweep workers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from diffmem_theory._optional import HAVE_NN
from diffmem_theory.core.metrics import fraction_se, phase_transition
from diffmem_theory.crossover.figures.phase import phase_runs
from diffmem_theory.plotting import PALETTE, figure, paper_style
from diffmem_theory.registry import experiment

__all__: list[str] = []


def _gmm_side(quick: bool, seed: int, lab: dict) -> dict[str, Any]:
    records = phase_runs(quick, seeds=(seed,), lab=lab)[seed]
    M = np.array([r["config"]["M"] for r in records], dtype=float)
    ratio = np.array([r["result"]["ratio"] for r in records], dtype=float)
    n_eval = int(records[0]["config"].get("n_eval", 50))
    return {"x": M / lab["N"], "ratio": ratio, "n_eval": n_eval,
            "transition": phase_transition(M / lab["N"], ratio)}  # fmt: skip


def _verdict(result: dict[str, Any]) -> str:
    net = result["network"]
    if net["predicted"] is None:
        return "no network reached ratio 1/2: eq. (14) untested"
    lo, hi = net["bracket"]
    where = f"P/(N d) in ({0.0 if lo is None else lo:.3g}, {hi:.3g}]"
    return f"the networks first reach ratio 1/2 at {where}; eq. (14) " + (
        "predicts it" if net["predicted"] else "does not predict it"
    )


def plot_mlp_phase(result: dict[str, Any]) -> Any:
    """One panel: memorization ratio vs parameters / (N d), networks and GMMs, eq. (14)."""
    fig, (ax,) = figure(ncols=1, width="double", aspect=0.45)
    net, gmm = result["network"], result["gmm"]
    with paper_style():
        ax.errorbar(gmm["x"], gmm["ratio"], yerr=fraction_se(gmm["ratio"], gmm["n_eval"]), fmt="o-",
                    color=PALETTE[0], markersize=3, capsize=2,
                    label=r"GMM denoisers, $(M d)/(N d)$")  # fmt: skip
        ax.errorbar(net["x"], net["ratio"], yerr=fraction_se(net["ratio"], net["n_eval"]), fmt="s-",
                    color=PALETTE[1], markersize=3, capsize=2,
                    label=r"MLP denoisers, $P/(N d)$")  # fmt: skip
        ax.axvline(net["crossover_psi"], color="0.3", linestyle="--", linewidth=0.8,
                   label=rf"eq. (14), $\lambda=\psi_t$: {net['crossover_psi']:.4f}")  # fmt: skip
        ax.axvline(net["crossover_x0"], color="0.3", linestyle=":", linewidth=0.8,
                   label=rf"eq. (14), $\lambda=1$: {net['crossover_x0']:.3f}")  # fmt: skip
        ax.axhline(0.5, color="0.7", linewidth=0.6)
        ax.set(
            xscale="log", ylim=(-0.03, 1.03), xlabel=r"parameters / $(N d)$",
            ylabel="memorization ratio",
            title=f"N = {net['N']}, d = {net['d']}, K = {net['K']}: {_verdict(result)}",
        )  # fmt: skip
        ax.title.set_fontsize(7)
        ax.legend(loc="upper center", fontsize=6)
    return fig


if HAVE_NN:

    @experiment(
        "paper000.mlp_phase",
        plot=plot_mlp_phase,
        figure="Fig. 2 (MLP analogue)",
        title="memorization ratio of MLP denoisers vs P/(N d) beside the GMM phase transition",
    )
    def run_mlp_phase(quick: bool = True, seed: int = 0) -> dict[str, Any]:
        """Networks vs ``P/(N d)`` and GMMs vs ``M/N`` on one laboratory, with eq. (14)."""
        from diffmem_theory.crossover.networks import LAB, network_phase

        out = {"network": network_phase(quick, seed), "gmm": _gmm_side(quick, seed, LAB)}
        out["verdict"] = _verdict(out)
        return out
