r"""``paper000.fig1`` and ``paper000.crossover_theory``: the loss approximations and the crossover.

Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models" (paper 000).

``paper000.fig1`` (Fig. 1; Thms 3.1 and 3.2). An isotropic mixture of
``K = 12`` Gaussians in ``d = 50`` with means on the sphere of radius ``sqrt(d)`` and
``sigma_*^2 = 1``, ``N = 200`` training points, VPTrig (``alpha_t = sqrt(1 - t^2)``,
``sigma_t = t``). Four panels:

(a) at the grid time ``t_16 = 0.36028`` (``psi = 6.70406``): the Monte Carlo training loss (eq. (6))
    of the partially memorizing denoiser ``xbar_pmem,M`` (eq. (10), a uniformly random ``M``-subset
    as in the authors' code) and of the generalizing denoiser ``xbar_*`` against the approximations
    ``L_mem + C (1 - M/N) d s2`` (``C = 2``, as in the paper's figure) and
    ``L_mem + d s2/(psi_t s2 + 1) = L_mem + d t^2``;
(b) a zoom on the crossover, with the predicted ``M_*/N = 1 - t^2/C`` and the Monte Carlo one;
(c) the excess losses over ``L_mem`` normalized by ``d s2`` at five grid times
    ``t = 0.08 ... 0.80``: the partially memorizing excess collapses onto one curve (Thm 3.2 is
    ``t``-independent) inside the band ``C (1 - M/N)``, ``C in [1, 2]``; the generalizing excess
    is ``t^2`` (Thm 3.1, dashed), and where the two cross is the crossover at that ``t``;
(d) the empirical constant ``C_emp(M) = (L_pmem - L_mem) / ((1 - M/N) d s2)`` at the same times:
    about 1.4-2.0, depending on ``M`` but not on ``t``. Circled: some cluster has no memorized
    point (Prop. C.4 fails and ``C_emp`` may exceed 2).

All losses share common random numbers (every denoiser sees the same noise draws), so the
differences -- the quantities the theorems are about -- have small standard errors.

``paper000.crossover_theory`` (eq. (14); closed forms only). (a) The approximate loss
difference ``E_t[lambda {C (1 - M/N) d s2 - d s2/(psi_t s2 + 1)}]`` on the 26-point grid, divided by
``d s2 E_t[lambda]`` so that every weighting shares the axes, for ``lambda = 1`` ("x0"),
``lambda = psi_t`` ("eps", the training weighting), ``"v"`` and two truncated weightings
``1{t >= 0.3}`` and ``psi_t 1{t >= 0.3}``, each with its crossover ``M_*/N``; (b) ``M_*/N`` against
``C in [1, 2]`` on the grid (solid) and for continuous ``t`` (dashed), with the ratio 0.8 that the
paper observes for trained models (Sec. 4.1).

Example
-------
>>> from diffmem_theory.registry import get_experiment
>>> theory = get_experiment("paper000.crossover_theory").run(quick=True)
>>> round(theory["ratio_grid"]["x0"], 5), round(theory["ratio_grid"]["eps"], 5)
(0.83018, 0.99999)
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from tqdm import tqdm

from diffmem_theory import _progress as bars
from diffmem_theory.core.denoisers import (
    memorized_subset,
    memorizing_denoiser,
    partial_memorizing_denoiser,
)
from diffmem_theory.core.distributions import IsotropicGaussianMixture, sphere_means
from diffmem_theory.core.losses import LossEstimate, loss_weighting, training_losses
from diffmem_theory.core.schedules import VPTrig
from diffmem_theory.crossover.excess import (
    approx_loss_difference,
    approx_losses,
    crossover_ratio,
    empirical_constant,
    gen_excess_loss,
)
from diffmem_theory.plotting import PALETTE, figure, paper_style
from diffmem_theory.registry import experiment

# Paper 000, Sec. 4.1 / Fig. 1 setting.
_D, _K, _N, _VAR_STAR, _C_FIG1 = 50, 12, 200, 1.0, 2.0
# Grid indices of t = 0.0808, 0.2006, 0.36028 (t_16), 0.5998, 0.7994 on the 26-point grid.
_TIME_INDICES = (23, 20, 16, 10, 5)
_T16 = 16
# Random streams of the data and of the memorized subsets, apart from the noise streams
# (losses.noise_draws uses spawn_key=(index of t,), small integers).
_DATA_KEY, _SUBSET_KEY = 2**30, 2**30 + 1
# The memorization ratio M_pt/N that the paper observes for trained models (Sec. 4.1).
_OBSERVED_RATIO = 0.8


# ----------------------------------------------------------------------------------------------
# paper000.fig1
# ----------------------------------------------------------------------------------------------


def _rng(seed: int, key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(key,)))


def _first_crossing(ratio: np.ndarray, diff: np.ndarray) -> float:
    """M/N where ``diff`` (decreasing in M) first reaches 0, by linear interpolation."""
    below = np.flatnonzero(diff <= 0.0)
    if below.size == 0:
        return float("nan")
    j = int(below[0])
    if j == 0:
        return float(ratio[0])
    r0, r1, f0, f1 = ratio[j - 1], ratio[j], diff[j - 1], diff[j]
    return float(r0 + (r1 - r0) * f0 / (f0 - f1))


_MARKERS = ("o", "s", "^", "D", "v")


def _time_colors(n: int) -> np.ndarray:
    return plt.get_cmap("viridis")(np.linspace(0.0, 0.85, n))


def _draw_t16(ax: Any, result: dict[str, Any], legend: str) -> None:
    """Losses at t_16 against the approximations; ``legend`` is "losses" or "crossover"."""
    ratio, j16, c = result["ratio"], result["j16"], result["C"]
    c_pmem, c_gen, c_mem = PALETTE[0], PALETTE[1], PALETTE[6]
    ax.errorbar(
        ratio,
        result["loss_pmem"][:, j16],
        yerr=2 * result["stderr_pmem"][:, j16],
        fmt="o",
        color=c_pmem,
        markersize=2.5,
        label=r"$\bar x_{\mathrm{pmem},M}$ (MC $\pm$ 2 SE)",
    )
    ax.plot(
        ratio,
        result["approx_pmem"][:, j16],
        "--",
        color=c_pmem,
        label=rf"$L_{{\mathrm{{mem}}}} + {c:g}\,(1-M/N)\,d\sigma_*^2$ (Thm 3.2)",
    )
    gen, se_gen = result["loss_gen"][j16], result["stderr_gen"][j16]
    ax.axhspan(gen - 2 * se_gen, gen + 2 * se_gen, color=c_gen, alpha=0.35, linewidth=0)
    ax.axhline(gen, color=c_gen, label=r"$\bar x_*$ (MC)")
    ax.axhline(
        result["approx_gen"][j16],
        color=c_gen,
        linestyle="--",
        label=r"$L_{\mathrm{mem}} + d\sigma_*^2/(\psi_t\sigma_*^2+1)$ (Thm 3.1)",
    )
    ax.axhline(
        result["loss_mem"][j16], color=c_mem, linewidth=0.8, label=r"$\bar x_{\mathrm{mem}}$ (MC)"
    )
    pred, emp = result["crossover_pred"][j16], result["crossover_emp"][j16]
    lp = ax.axvline(pred, color="0.35", linestyle=":", label=rf"predicted $M_*/N$ = {pred:.3f}")
    le = ax.axvline(emp, color="0.35", linestyle="-.", label=rf"MC $M_*/N$ = {emp:.3f}")
    if legend == "losses":
        handles = [h for h in ax.get_legend_handles_labels()[0] if h not in (lp, le)]
        ax.legend(handles=handles, loc="upper right", fontsize=6)
    else:
        ax.legend(handles=[lp, le], loc="upper right", fontsize=6, frameon=True, framealpha=1.0)


def _plot_fig1(result: dict[str, Any]) -> Any:
    fig, axes = figure(ncols=2, nrows=2, aspect=0.66)
    ax_loss, ax_zoom, ax_norm, ax_c = axes
    ratio, times, j16 = result["ratio"], result["times"], result["j16"]
    ds2 = result["d"] * result["var_star"]
    colors = _time_colors(times.size)
    with paper_style():
        # (a) losses at t_16 against the approximations, and (b) a zoom on the crossover
        _draw_t16(ax_loss, result, "losses")
        top = max(
            1.6 * float(np.max(result["approx_pmem"][:, j16])),
            1.05 * float(np.max(result["loss_pmem"][:, j16])),
        )
        ax_loss.set(
            xlabel="$M/N$",
            ylabel=r"training loss $L_{N,t}$",
            title=rf"(a) training loss at $t = {times[j16]:.5f}$ ($\psi_t = "
            rf"{result['psi'][j16]:.3f}$), $d = {result['d']}$, $N = {result['N']}$",
            xlim=(0, 1.02),
            ylim=(-0.013 * top, top),
        )
        _draw_t16(ax_zoom, result, "crossover")
        lo = max(0.0, min(result["crossover_pred"][j16], result["crossover_emp"][j16]) - 0.2)
        gen = result["loss_gen"][j16]
        ax_zoom.set(
            xlabel="$M/N$",
            ylabel=r"training loss $L_{N,t}$",
            title="(b) zoom on the crossover $L_{\\mathrm{pmem},M} = L_*$",
            xlim=(lo, 1.005),
            ylim=(-0.05 * gen, 4.0 * gen),
        )

        # (c) normalized excess losses at several t
        many = ratio.size > 25  # full mode: lines without markers
        ax = ax_norm
        grid = np.linspace(0.0, 1.0, 101)
        ax.fill_between(
            grid, 1 - grid, 2 * (1 - grid), color="0.88", lw=0, label="$C(1-M/N)$, $C\\in[1,2]$"
        )
        norm = result["excess_pmem"] / ds2
        for j, t in enumerate(times):
            col, mk = colors[j], _MARKERS[j % len(_MARKERS)]
            ax.plot(
                ratio,
                norm[:, j],
                linestyle="-",
                marker="" if many else mk,
                color=col,
                markersize=3.2 - 0.3 * j,
                mfc="none",
                lw=0.7,
                label=f"$t = {t:.2f}$",
            )
            ax.axhline(result["excess_gen"][j] / ds2, color=col, linestyle="--", lw=0.8)
        ax.plot([], [], "--", color="0.4", lw=0.8, label=r"$\bar x_*$ (MC): $\approx t^2$")
        ax.set(
            xlabel="$M/N$",
            ylabel=r"excess loss over $L_{\mathrm{mem}}$, $/\,d\sigma_*^2$",
            title=r"(c) $(L_{\mathrm{pmem},M} - L_{\mathrm{mem}})/d\sigma_*^2$ at five $t$",
            xlim=(0, 1.02),
            ylim=(0, max(2.05, 1.05 * float(np.max(norm)))),
        )
        ax.legend(loc="upper right", fontsize=6, ncols=2)

        # (d) the empirical constant of Thm 3.2
        ax = ax_c
        ax.axhspan(1.0, 2.0, color="0.9", linewidth=0, label="Thm 3.2: $1 \\leq C \\leq 2$")
        m_ratio, covered = result["C_emp_ratio"], result["C_emp_covered"]
        for j, t in enumerate(times):
            col, mk = colors[j], _MARKERS[j % len(_MARKERS)]
            ax.errorbar(
                m_ratio,
                result["C_emp"][:, j],
                yerr=2 * result["C_emp_stderr"][:, j],
                fmt="-" if many else f"{mk}-",
                color=col,
                lw=0.7,
                markersize=3.2 - 0.3 * j,
                label=f"$t = {t:.2f}$",
            )
        ax.plot(
            m_ratio[~covered],
            result["C_emp"][~covered, j16],
            "o",
            mfc="none",
            mec="k",
            markersize=4.5,
            zorder=4,
            label="a cluster has no\nmemorized point",
        )
        lo = min(0.9, float(np.min(result["C_emp"])) - 0.05)
        hi = max(2.45, float(np.max(result["C_emp"])) + 0.3)
        ax.set(
            xlabel="$M/N$",
            ylabel=r"$C_{\mathrm{emp}}(M)$ ($\pm$ 2 SE)",
            title=r"(d) $C_{\mathrm{emp}} = (L_{\mathrm{pmem},M}-L_{\mathrm{mem}})"
            r"\,/\,(1-M/N)\,d\sigma_*^2$",
            xlim=(0, 1.02),
            ylim=(lo, hi),
        )
        ax.legend(loc="upper right", fontsize=6, ncols=3)
    return fig


@experiment(
    "paper000.fig1",
    plot=_plot_fig1,
    figure="Fig. 1",
    title="MC training losses of pmem_M and xbar_* vs the Thm 3.1/3.2 approximations "
    "(d=50, K=12, N=200), C_emp(M) at five t",
)
def run_fig1(quick: bool = True, seed: int = 0) -> dict[str, Any]:
    """Monte Carlo training losses of ``xbar_pmem,M``, ``xbar_*`` and ``xbar_mem`` (Fig. 1).

    Quick mode: ``M = N/10, 2N/10, ..., N`` and 20 noise draws per training point; full mode (the
    paper's settings): ``M = N/100, ..., N`` and 100 draws (``N_dup``). Times: grid indices
    ``23, 20, 16, 10, 5`` (``t = 0.08, 0.20, 0.36, 0.60, 0.80``). Arrays indexed ``[M, t]``.
    """
    sched = VPTrig()
    d, k, n, s2, c = _D, _K, _N, _VAR_STAR, _C_FIG1
    n_noise = 20 if quick else 100
    step = n // 10 if quick else n // 100
    ms = np.arange(step, n + 1, step)
    grid = sched.time_grid()
    times = grid[list(_TIME_INDICES)]
    j16 = _TIME_INDICES.index(_T16)

    data_rng = _rng(seed, _DATA_KEY)
    gmm = IsotropicGaussianMixture(sphere_means(k, d, data_rng), s2)
    X, labels = gmm.sample(n, data_rng)
    subset_rng = _rng(seed, _SUBSET_KEY)
    subsets = [memorized_subset(n, int(m), rng=subset_rng) for m in ms]

    def losses(denoisers: dict[str, Callable[..., Any]]) -> dict[str, LossEstimate]:
        return training_losses(denoisers, X, times, sched, n_noise=n_noise, seed=seed)

    base = losses(
        {
            "gen": lambda x, t: gmm.denoiser(x, t, sched),
            "mem": lambda x, t: memorizing_denoiser(x, t, X, sched),
        }
    )
    gen, mem = base["gen"], base["mem"]
    ex_gen = gen - mem  # common random numbers
    shape = (ms.size, times.size)
    out = {key: np.empty(shape) for key in ("pmem", "se_pmem", "ex", "se_ex", "vs", "se_vs")}
    bar = tqdm(
        subsets, desc="paper000.fig1", leave=False, file=sys.stderr, disable=bars.disable(None)
    )
    for i, keep in enumerate(bar):
        est = losses(
            {
                "pmem": lambda x, t, keep=keep: partial_memorizing_denoiser(
                    x, t, X, idx=keep, schedule=sched
                )
            }
        )["pmem"]
        ex, vs = est - mem, est - gen
        out["pmem"][i], out["se_pmem"][i] = est.mean, est.stderr
        out["ex"][i], out["se_ex"][i] = ex.mean, ex.stderr
        out["vs"][i], out["se_vs"][i] = vs.mean, vs.stderr

    approx_gen, approx_pmem = approx_losses(
        times[None, :], ms[:, None], n, d, mem.mean[None, :], s2, C=c, schedule=sched
    )
    below = ms < n
    scale = (1.0 - ms[below] / n)[:, None] * d * s2
    c_emp = empirical_constant(out["pmem"][below], mem.mean[None, :], ms[below, None], n, d, s2)
    covered = np.array([np.unique(labels[keep]).size == k for keep in subsets])
    ratio = ms / n
    return {
        "d": d,
        "K": k,
        "N": n,
        "var_star": s2,
        "C": c,
        "n_noise": n_noise,
        "seed": seed,
        "quick": quick,
        "M": ms,
        "ratio": ratio,
        "times": times,
        "time_indices": np.asarray(_TIME_INDICES),
        "j16": j16,
        "psi": sched.snr(times),
        "loss_pmem": out["pmem"],
        "stderr_pmem": out["se_pmem"],
        "loss_gen": gen.mean,
        "stderr_gen": gen.stderr,
        "loss_mem": mem.mean,
        "stderr_mem": mem.stderr,
        "excess_pmem": out["ex"],
        "stderr_excess_pmem": out["se_ex"],
        "excess_gen": ex_gen.mean,
        "stderr_excess_gen": ex_gen.stderr,
        "excess_gen_theory": gen_excess_loss(times, d, s2, sched),
        "pmem_minus_gen": out["vs"],
        "stderr_pmem_minus_gen": out["se_vs"],
        "approx_gen": approx_gen[0],
        "approx_pmem": approx_pmem,
        "C_emp_M": ms[below],
        "C_emp_ratio": ratio[below],
        "C_emp": c_emp,
        "C_emp_stderr": out["se_ex"][below] / scale,
        "C_emp_covered": covered[below],
        "covered": covered,
        "crossover_pred": np.array(
            [crossover_ratio("x0", times=[t], var_star=s2, C=c, schedule=sched) for t in times]
        ),
        "crossover_emp": np.array(
            [_first_crossing(ratio, out["vs"][:, j]) for j in range(times.size)]
        ),
    }


# ----------------------------------------------------------------------------------------------
# paper000.crossover_theory
# ----------------------------------------------------------------------------------------------

_T_CUT = 0.3


def _truncated(name: str) -> Callable[[np.ndarray], np.ndarray]:
    sched = VPTrig()

    def lam(t: np.ndarray) -> np.ndarray:
        return np.where(t >= _T_CUT, loss_weighting(name, t, sched), 0.0)

    return lam


# key -> (label, grid weighting, continuous weighting, continuous t_min)
_WEIGHTINGS: dict[str, tuple[str, Any, str, float]] = {
    "x0": (r"$\lambda = 1$ (x0)", "x0", "x0", 0.0),
    "v": (r"$\lambda = (\alpha_t^2+\sigma_t^2)^2/\sigma_t^2$ (v)", "v", "v", 0.0),
    "eps": (r"$\lambda = \psi_t$ (eps)", "eps", "eps", 0.0),
    "x0_cut": (rf"$\lambda = 1\{{t \geq {_T_CUT}\}}$", _truncated("x0"), "x0", _T_CUT),
    "eps_cut": (rf"$\lambda = \psi_t 1\{{t \geq {_T_CUT}\}}$", _truncated("eps"), "eps", _T_CUT),
}


# the eps and v weightings give M_*/N ~ 1 alike: v is drawn wide underneath, eps thin on top
_LINE_WIDTH = {"v": 2.6}


def _plot_theory(result: dict[str, Any]) -> Any:
    fig, (ax_diff, ax_c) = figure(ncols=2, aspect=0.78)
    ratio, c_ref = result["ratio"], result["C"]
    with paper_style():
        for j, (key, label) in enumerate(result["labels"].items()):
            col, lw = PALETTE[j % len(PALETTE)], _LINE_WIDTH.get(key, 1.2)
            r = result["ratio_grid"][key]
            ax_diff.plot(
                ratio, result["difference"][key], color=col, lw=lw, label=f"{label}: {r:.5f}"
            )
            ax_diff.plot([r], [0.0], "o", color=col, markersize=4, mfc="white", zorder=3)
            ax_c.plot(result["C_values"], result["ratio_grid_C"][key], color=col, lw=lw)
            ax_c.plot(result["C_values"], result["ratio_cont_C"][key], "--", color=col, lw=0.9)
        ax_diff.axhline(0.0, color="k", linewidth=0.6)
        ax_diff.set(
            xlabel="$M/N$",
            ylabel=r"$\frac{L_N(\bar x_{\mathrm{pmem},M},\lambda) - L_N(\bar x_*,\lambda)}"
            r"{d\sigma_*^2\, E_t[\lambda]}$ (approx.)",
            title=rf"(a) approximate loss difference, $C = {c_ref:g}$, 26-point grid",
            xlim=(0, 1),
        )
        ax_diff.legend(
            loc="upper right", fontsize=6, title=r"weighting: $M_*/N$ (circles)", title_fontsize=6
        )
        ax_c.axhline(_OBSERVED_RATIO, color="0.3", linestyle=":", linewidth=0.9)
        ax_c.text(
            1.02,
            _OBSERVED_RATIO + 0.006,
            r"observed $M_{\mathrm{pt}}/N = 0.8$ (Sec. 4.1)",
            fontsize=6,
        )
        ax_c.plot([], [], "k-", label="26-point grid")
        ax_c.plot([], [], "k--", lw=0.9, label="continuous $t$")
        ax_c.set(
            xlabel="constant $C$ of Thm 3.2",
            ylabel=r"crossover $M_*/N$",
            title=r"(b) eq. (14): $1 - E_t[\lambda/(\psi_t\sigma_*^2+1)]\,/\,C\,E_t[\lambda]$",
            xlim=(1, 2),
        )
        ax_c.legend(loc="lower right", fontsize=6)
    return fig


@experiment(
    "paper000.crossover_theory",
    plot=_plot_theory,
    figure="theory (eq. 14)",
    title="Approximate loss difference vs M/N and crossover M_*/N vs C for several weightings",
)
def run_crossover_theory(quick: bool = True, seed: int = 0) -> dict[str, Any]:
    """Closed forms of eq. (14) for several loss weightings (``seed`` unused).

    Quick and full mode differ only in the resolution of the ``M/N`` and ``C`` axes.
    """
    sched = VPTrig()
    grid = sched.time_grid()
    n, d, s2, c = _N, _D, _VAR_STAR, _C_FIG1
    ratio = np.linspace(0.0, 1.0, 101 if quick else 401)
    c_values = np.linspace(1.0, 2.0, 21 if quick else 101)
    labels, difference, ratio_grid, ratio_cont = {}, {}, {}, {}
    ratio_grid_c, ratio_cont_c = {}, {}
    for key, (label, grid_w, cont_w, t_min) in _WEIGHTINGS.items():
        lam = loss_weighting(grid_w, grid, sched)
        mean_lam = float(lam.mean())
        diff = approx_loss_difference(
            ratio * n, n, d, weighting=lam, times=grid, var_star=s2, C=c, schedule=sched
        )
        labels[key] = label
        difference[key] = diff / (d * s2 * mean_lam)
        ratio_grid[key] = crossover_ratio(lam, times=grid, var_star=s2, C=c, schedule=sched)
        ratio_cont[key] = float(
            crossover_ratio(cont_w, var_star=s2, C=c, schedule=sched, t_min=t_min)
        )
        ratio_grid_c[key] = np.array(
            [crossover_ratio(lam, times=grid, var_star=s2, C=cc, schedule=sched) for cc in c_values]
        )
        ratio_cont_c[key] = np.array(
            [
                float(crossover_ratio(cont_w, var_star=s2, C=cc, schedule=sched, t_min=t_min))
                for cc in c_values
            ]
        )
    return {
        "N": n,
        "d": d,
        "var_star": s2,
        "C": c,
        "times": grid,
        "ratio": ratio,
        "C_values": c_values,
        "labels": labels,
        "difference": difference,
        "ratio_grid": ratio_grid,
        "ratio_cont": ratio_cont,
        "ratio_grid_C": ratio_grid_c,
        "ratio_cont_C": ratio_cont_c,
    }
