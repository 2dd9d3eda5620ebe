r"""``paper002.fig1``-``fig3``, ``fig19``, ``fig20``: empirical-score trajectories and their rates.

Baptista, Dasgupta, Kovachki, Oberai, Stuart, "Memorization and Regularization in Generative
Diffusion Models" (paper 002, §4.4 and App. C.2). Data: the 20 points
``np.random.RandomState(1).randn(20, 2)`` of the authors' code (D_- = 0.0762083,
D_+ = 4.1035017, |x|_inf = 2.5262501). Schedules: VE with g = 10^{2t} (sigma(1) = 4.636548,
s_0 = -1.533970; the printed g = 10^t is the erratum ``paper002.g_exp``) and VP with beta
linear from 0.001 to 3 (sigma(1) = 0.881465, s_0 = 0.126169). Trajectories of the
probability-flow ODE (4.1) with the empirical score start at x_T ~ N(0, sigma(1)^2 I) (VE) or
N(0, I) (VP, as the paper says; the authors' code draws sigma(T) N(0, I), variance 0.777) and
are integrated in s-time by the package's Dormand-Prince integrator (rtol 1e-9), saved on a
dense grid.

* ``paper002.fig1`` / ``fig19`` (Figs. 1 and 19): four VE / VP trajectories over the Voronoi
  tessellation (``scipy.spatial.Voronoi``) of the data; 30 are computed and all end at data
  points (Thm 4.3).
* ``paper002.fig2`` / ``fig20`` (Figs. 2 and 20): 30 trajectories, the distance |x(t) - x*| to the
  limit x* (nearest data point of the end state) against s (semilogy, reference e^{-s}) and against
  t (loglog, reference 2 sigma(t)). The slope of log|x - x*| against log sigma(t) on
  t in [1e-5, 1e-3] is 1.00 +- 0.02 (Thm 4.3, (4.7)); in t it is 0.5 for VE (sigma^2 ~ t).
* ``paper002.fig3`` (Fig. 3): the s-time ODE (4.24) with sigma = e^{-s} from 80 starts on the
  boundary of [-2.1, 2.1]^2 (the authors' code starts the s-time ODE at s = 0, sigma = 1, so the
  half-width is about 2 sigma; the paper says "a square of width 2 sigma(T)") for
  x_0 = (+-1, 0) and for x_0 = (+-1, 0), (0, +-1): starts on the bisector x_1 = 0 end at the
  origin, corner starts on the diagonals end at the "local averages" (+-1/2, +-1/2), which are
  limit points of the s-time ODE (erratum ``paper002.fig3_local_averages``), every other start
  at a data point.

The computations take seconds, so quick and full mode differ only in the number of trajectories
whose end points are classified (1000 quick, 10000 full).

Example
-------
>>> from diffmem_theory.registry import get_experiment
>>> r = get_experiment("paper002.fig3").run(quick=True)
>>> r["n_origin"], r["n_local_average"]
(2, 4)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial import Voronoi, voronoi_plot_2d

from diffmem_theory.core.metrics import memorization_fraction
from diffmem_theory.plotting import PALETTE, figure, paper_style
from diffmem_theory.registry import experiment
from diffmem_theory.voronoi.data import SCHEDULES, SEED1_DATA
from diffmem_theory.voronoi.dynamics import initial_states, reverse_ode, solve_s_time
from diffmem_theory.voronoi.geometry import classify_limit, convergence_rate_fit

#: s-range of the s-plots (VE: s_0 to s_0 + 10 as in Fig. 2; VP: up to s = 9 as in Fig. 20).
S_PLOT_END = {"VE": SCHEDULES["VE"].s_time(1.0) + 10.0, "VP": 9.0}
#: t-range of the t-plots.
T_PLOT_MIN = {"VE": 1e-5, "VP": 1e-4}
RATE_WINDOW = (1e-5, 1e-3)
RTOL, ATOL = 1e-9, 1e-11
N_TRAJ, N_DRAWN = 30, 4
N_CLASSIFY = {True: 1000, False: 10_000}
AXES = ((-2.2, 3.0), (-3.0, 2.2))  # Fig. 1 axes of the authors' code


def _paths(family: str, seed: int) -> dict[str, Any]:
    """N_TRAJ trajectories saved on a grid dense in s, from T to below the plot ranges."""
    sched = SCHEDULES[family]
    s0 = float(sched.s_time(1.0))
    t_min = min(RATE_WINDOW[0], T_PLOT_MIN[family], float(sched.t_of_s(S_PLOT_END[family])))
    s_end = float(sched.s_time(t_min))
    s_grid = np.linspace(s0, s_end, 400)
    t_grid = sched.t_of_s(s_grid)
    t_grid[0] = 1.0
    sol = reverse_ode(
        initial_states(sched, N_TRAJ, 2, seed),
        SEED1_DATA,
        sched,
        t_min,
        save_t=t_grid,
        rtol=RTOL,
        atol=ATOL,
    )
    star = classify_limit(sol.final, SEED1_DATA).index
    dist = np.linalg.norm(sol.x - SEED1_DATA[star][:, None, :], axis=-1)
    return {"s": sol.s, "t": sol.t, "x": sol.x, "limit_index": star, "distance": dist}


def _end_fraction(family: str, n: int, seed: int) -> float:
    """Fraction of n trajectories from the initial law ending within 1e-2 of data at 1e-6."""
    sched = SCHEDULES[family]
    sol = reverse_ode(
        initial_states(sched, n, 2, seed + 1), SEED1_DATA, sched, 1e-6, rtol=1e-6, atol=1e-8
    )
    return memorization_fraction(sol.final, SEED1_DATA, 1e-2)


def _voronoi_panel(ax: Any, paths: dict[str, Any], family: str) -> None:
    voronoi_plot_2d(
        Voronoi(SEED1_DATA),
        ax=ax,
        show_points=False,
        show_vertices=False,
        line_colors="0.6",
        line_width=0.6,
    )
    for b in range(N_DRAWN):
        xy = paths["x"][b]
        ax.plot(xy[:, 0], xy[:, 1], "-", color=PALETTE[1], lw=1.0)
        ax.plot(xy[0, 0], xy[0, 1], "o", color=PALETTE[1], mfc="none", markersize=4)
    ax.plot(SEED1_DATA[:, 0], SEED1_DATA[:, 1], "o", color=PALETTE[0], markersize=3.5)
    ax.set(xlim=AXES[0], ylim=AXES[1], aspect="equal", xlabel="$x_1$", ylabel="$x_2$")
    ax.set_title(f"{family}: empirical-score ODE (4.1), $t: 1 \\to 10^{{-5}}$")


def _plot_trajectories(result: dict[str, Any]) -> Any:
    fig, (ax,) = figure(ncols=1, width="single", aspect=1.0)
    with paper_style():
        _voronoi_panel(ax, result, result["family"])
    return fig


def _run_trajectories(family: str, quick: bool, seed: int) -> dict[str, Any]:
    out = _paths(family, seed)
    out["family"] = family
    out["fraction_at_data"] = _end_fraction(family, N_CLASSIFY[quick], seed)
    out["n_classified"] = N_CLASSIFY[quick]
    return out


@experiment(
    "paper002.fig1",
    plot=_plot_trajectories,
    figure="Fig. 1",
    title="VE empirical-score trajectories over the Voronoi tessellation of the 20 data points",
)
def run_fig1(quick: bool = True, seed: int = 0) -> dict[str, Any]:
    """Four (of 30) VE trajectories over the Voronoi diagram; fraction ending at data points."""
    return _run_trajectories("VE", quick, seed)


@experiment(
    "paper002.fig19",
    plot=_plot_trajectories,
    figure="Fig. 19",
    title="VP empirical-score trajectories over the Voronoi tessellation of the 20 data points",
)
def run_fig19(quick: bool = True, seed: int = 0) -> dict[str, Any]:
    """Four (of 30) VP trajectories over the Voronoi diagram; fraction ending at data points."""
    return _run_trajectories("VP", quick, seed)


# ----------------------------------------------------------------------------------------------
# rates: Figs. 2 and 20
# ----------------------------------------------------------------------------------------------
def rate_summary(family: str, t: np.ndarray, distance: np.ndarray) -> dict[str, Any]:
    """Per-trajectory slopes of log|x - x*| vs log sigma(t) and vs log t on RATE_WINDOW.

    Also the largest |x - x*| / sigma(t) over the window (bounded by Thm 4.3, (4.7)).

    >>> sched = SCHEDULES["VE"]
    >>> t = np.geomspace(1e-3, 1e-5, 9)
    >>> r = rate_summary("VE", t, 2.0 * sched.sigma(t)[None, :])
    >>> round(r["slope_sigma_median"], 12), round(r["max_ratio"], 12)
    (1.0, 2.0)
    """
    sched = SCHEDULES[family]
    window = (t >= RATE_WINDOW[0] * (1 - 1e-12)) & (t <= RATE_WINDOW[1] * (1 + 1e-12))
    sig = sched.sigma(t[window])
    dist = distance[:, window]
    slopes = np.array([convergence_rate_fit(sig, row).slope for row in dist])
    slopes_t = np.array([convergence_rate_fit(t[window], row).slope for row in dist])
    return {
        "slopes_sigma": slopes,
        "slope_sigma_median": float(np.median(slopes)),
        "slope_t_median": float(np.median(slopes_t)),
        "max_ratio": float(np.max(dist / sig[None, :])),
    }


def _plot_rates(result: dict[str, Any]) -> Any:
    fig, (ax_s, ax_t) = figure(ncols=2, aspect=0.75)
    family, sched = result["family"], SCHEDULES[result["family"]]
    s, t, dist = result["s"], result["t"], result["distance"]
    in_s = s <= S_PLOT_END[family] + 1e-9
    in_t = t >= T_PLOT_MIN[family] * (1 - 1e-9)
    with paper_style():
        for row in dist[:12]:
            ax_s.semilogy(s[in_s], row[in_s], color=PALETTE[0], lw=0.7, alpha=0.8)
        for row in dist:
            ax_t.loglog(t[in_t], row[in_t], color=PALETTE[0], lw=0.7, alpha=0.8)
        ax_s.semilogy(s[in_s], np.exp(-s[in_s]), "k--", lw=1.0, label="$e^{-s}$")
        ax_t.loglog(t[in_t], 2.0 * sched.sigma(t[in_t]), "k--", lw=1.0, label=r"$2\sigma(t)$")
        ax_s.set(xlabel="$s$", ylabel=r"$|y(s) - x^*|$", ylim=(5e-5, 4.0))
        ax_s.set_title(f"(a) {family}, s-time: rate $e^{{-s}}$")
        slope = result["slope_sigma_median"]
        ax_t.set(xlabel="$t$", ylabel=r"$|x(t) - x^*|$")
        ax_t.set_title(rf"(b) $t$-time: slope vs $\log\sigma$ = {slope:.3f}")
        ax_s.legend(loc="upper right")
        ax_t.legend(loc="lower right")
    return fig


def _run_rates(family: str, seed: int) -> dict[str, Any]:
    out = _paths(family, seed)
    out["family"] = family
    out.update(rate_summary(family, out["t"], out["distance"]))
    return out


@experiment(
    "paper002.fig2",
    plot=_plot_rates,
    figure="Fig. 2",
    title="VE: distance to the limit vs s and t, rate sigma(t) (Thm 4.3)",
)
def run_fig2(quick: bool = True, seed: int = 0) -> dict[str, Any]:
    """30 VE trajectories: |x - x*| vs s and t, slopes vs log sigma on [1e-5, 1e-3]."""
    return _run_rates("VE", seed)


@experiment(
    "paper002.fig20",
    plot=_plot_rates,
    figure="Fig. 20",
    title="VP: distance to the limit vs s and t, rate sigma(t) (Thm 4.3 / Lemma C.8)",
)
def run_fig20(quick: bool = True, seed: int = 0) -> dict[str, Any]:
    """30 VP trajectories: |x - x*| vs s and t, slopes vs log sigma on [1e-5, 1e-3]."""
    return _run_rates("VP", seed)


# ----------------------------------------------------------------------------------------------
# Fig. 3: structured data
# ----------------------------------------------------------------------------------------------
FIG3_DATA = {
    2: np.array([[1.0, 0.0], [-1.0, 0.0]]),
    4: np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]]),
}
FIG3_S_END = 100.0


def square_starts(half_width: float = 2.1) -> np.ndarray:
    """80 starts on the boundary of the square: 21 per horizontal, 19 per vertical side.

    >>> square_starts().shape
    (80, 2)
    """
    h = half_width * np.linspace(-1.0, 1.0, 21)
    v = h[1:-1]
    top, bottom = (
        np.stack([h, np.full(21, half_width)], 1),
        np.stack([h, np.full(21, -half_width)], 1),
    )
    left, right = (
        np.stack([np.full(19, -half_width), v], 1),
        np.stack([np.full(19, half_width), v], 1),
    )
    return np.concatenate([top, bottom, left, right])


def _plot_fig3(result: dict[str, Any]) -> Any:
    fig, axes = figure(ncols=2, aspect=1.0)
    with paper_style():
        for ax, n in zip(axes, (2, 4), strict=True):
            for xy in result[f"paths_{n}"]:
                ax.plot(xy[:, 0], xy[:, 1], "-", color="0.6", lw=0.6)
            end = result[f"end_{n}"]
            ax.plot(end[:, 0], end[:, 1], "o", color=PALETTE[1], mfc="none", markersize=5)
            data = FIG3_DATA[n]
            ax.plot(data[:, 0], data[:, 1], "o", color=PALETTE[0], markersize=4)
            ax.set(xlim=(-2.3, 2.3), ylim=(-2.3, 2.3), aspect="equal", xlabel="$y_1$")
            ax.set(ylabel="$y_2$")
            ax.set_title(f"$N = {n}$: limits (open circles) of (4.24), $s \\in [0, 100]$")
    return fig


@experiment(
    "paper002.fig3",
    plot=_plot_fig3,
    figure="Fig. 3",
    title="s-time Voronoi ODE for 2 and 4 symmetric points: boundary limit points",
)
def run_fig3(quick: bool = True, seed: int = 0) -> dict[str, Any]:
    """Limits of (4.24) from the square's boundary; counts of non-data limits."""
    starts = square_starts()
    s_save = np.concatenate([np.linspace(0.0, 10.0, 200), [FIG3_S_END]])
    out: dict[str, Any] = {"starts": starts}
    for n, data in FIG3_DATA.items():
        sol = solve_s_time(starts, data, (0.0, FIG3_S_END), save_s=s_save, rtol=1e-7, atol=1e-7)
        out[f"paths_{n}"], out[f"end_{n}"] = sol.x, sol.final
        out[f"kind_{n}"] = classify_limit(sol.final, data, tol=1e-3).kind
    out["n_origin"] = int(np.sum(np.linalg.norm(out["end_2"], axis=1) < 1e-3))
    local = np.abs(np.abs(out["end_4"]) - 0.5).max(axis=1) < 1e-3
    out["n_local_average"] = int(np.sum(local))
    return out
