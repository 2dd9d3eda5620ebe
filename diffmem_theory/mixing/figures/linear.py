r"""``paper001.fig2``, ``paper001.fig3``, ``paper001.fig4``: the solvable linear diffusion model.

Halder, "From memorization to generalization: a theoretical framework for diffusion-based
generative models" (paper 001, Sec. 3 and App. B, Figs. 2-4). Common setting:
data ``N(mu 1_d, sigma^2 I_d)`` with ``mu = 10``, ``sigma = 1``, ``d = 16`` and ``100``, cut-off
``T = 2``, min-norm least-squares denoiser (3.1), generated Gaussian (3.3).

``paper001.fig2`` (Fig. 2). The KL divergence ``KL(rho_G || rho)`` at ``n = 10^4`` against the noise
scale ``lambda-hat`` (``lambda = lambda-hat sigma^2 e^{-2T}``), for the App.-B data model (B.1) with
population ``mu_X, sigma_X^2`` (the model of the paper's derivation; the paper does not say which
model Fig. 2 used): (a) Monte Carlo ``KL_mean`` and ``KL_var`` (B.10), mean +- SE over training
sets, against the exact finite-n Wishart expectations -- ``KL_mean << KL_var``; (b) the Monte Carlo
exact KL and quadratic ``KL_var`` against the deterministic equivalent (B.17) and the exact Wishart
``E[KL_var]``, plus the main-text (forward, Sec. 3) data model for contrast. (B.17) matches
``E[KL_var]`` at small ``lambda-hat``; the exact KL drops below it at ``lambda-hat = 1`` (2.38 vs
3.86 at ``d = 16``, erratum ``paper001.kl_lower_bound``). Quick: 5 values of ``lambda-hat``, 10
training sets; full: 13 values in ``[1e-4, 1]``, 20 training sets.

``paper001.fig3`` (Fig. 3). The expected squared Hellinger distance (3.4) over training sets against
the train size ``n`` at ``lambda = e^{-4}`` (``lambda-hat = 1``), forward data model with the
estimates (3.2), both covariance conventions (``"correct"`` ``theta theta^T``, ``"paper"`` ``theta^T
theta``, ``printed=True`` of :func:`~diffmem_theory.mixing.linear_model.generated_gaussian`) on the
same training sets, with the large-n asymptote ``H^2_inf = 1 - (2 sqrt(r)/(1+r))^{d/2}``, ``r =
1/(1+u)`` (0.368 at ``d = 16``, 0.943 at ``d = 100``). ``H^2 = 1`` exactly for ``n <= d`` and the
decay starts at ``n ~ d``. Quick: 30 (d = 16) and 10 (d = 100) training sets on coarse grids; full:
100 and 40 on finer grids.

``paper001.fig4`` (Fig. 4). ``P(Delta > 0)``, ``Delta = E_TG - E_OG`` (3.6)-(3.7) with KDE
bandwidths ``eps_T = sigma n^{-1/d}``, ``eps_O = sigma N^{-1/d}`` and ``N = 10^4`` original
samples, estimated as ``0.5 + 0.5 mean(sign Delta)`` +- its SE, for both covariance conventions
on the same training and original sets: (a) ``d = 16`` at small ``n`` (the transition, near
``n = 25-30`` with the correct convention), (b) ``d = 16`` up to ``n = N`` (``P -> 0.5``),
(c) ``d = 100``. ``Delta`` is evaluated in log space; the divergent ``int rho_G^2`` and the KDE self
terms cancel analytically (as in :func:`~diffmem_theory.mixing.linear_model.delta_stat`). Each
simulation
draws one fresh original set and uses it for every ``n`` of the grid (common random numbers across
``n``; the marginal ``P`` at each ``n`` is unchanged), so the ``O(N^2 d)`` original pair sum is paid
once per simulation. Quick: 30 (d = 16) and 20 (d = 100) simulations on coarse grids, ``N = 10^4``
for both dimensions (no reduction needed); full: 100 simulations for each ``d``.

Example
-------
>>> import numpy as np
>>> half_crossing([10, 20, 30, 40], np.array([0.0, 0.0, 1.0, 1.0]), after=16)
25.0
>>> round(ASYMPTOTE[16], 6), round(ASYMPTOTE[100], 6)
(0.368047, 0.943209)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numba
import numpy as np

from diffmem_theory._validation import as_float_array, check_scalar
from diffmem_theory.kernels import single_threaded_blas
from diffmem_theory.mixing.linear_model import (
    LinearDiffusionConfig,
    expected_kl_var_b_17,
    expected_kl_wishart,
    fit_linear_denoiser,
    generated_gaussian,
    hellinger_asymptote,
    hellinger_sq,
    kl_generated,
    late_time_params,
    log_kde_cross,
    log_kde_pair_offdiag,
    model_params,
    sample_training_pairs,
    simulate_generated,
)
from diffmem_theory.plotting import PALETTE, figure, paper_style
from diffmem_theory.registry import experiment

__all__ = ["ASYMPTOTE", "half_crossing", "run_fig2", "run_fig3", "run_fig4"]

# Paper 001, Sec. 3: mu = 10, sigma = 1, T = 2, lambda = e^{-4} (Figs. 3-4), d = 16 and 100.
_MU, _SIGMA, _T = 10.0, 1.0, 2.0
_LAM = math.exp(-4.0)
DIMS = (16, 100)
CONVENTIONS = ("correct", "paper")
#: Large-n Hellinger asymptote per dimension (eq. (3.4) at the population fit, Fig. 3).
ASYMPTOTE = {d: hellinger_asymptote(d, _T, _LAM, _SIGMA) for d in DIMS}

# Fig. 2: n = 10^4; lambda-hat grid and training sets per point (keyed by quick).
FIG2_N = 10**4
FIG2_LAMBDA_HAT = {True: np.logspace(-4.0, 0.0, 5), False: np.logspace(-4.0, 0.0, 13)}
FIG2_REPS = {True: 10, False: 20}

# Fig. 3: n grids and training sets per dimension.
FIG3_GRIDS = {
    True: {
        16: (5, 10, 16, 17, 20, 25, 30, 40, 50, 75, 100, 200, 500, 1000, 10**4),
        100: (50, 100, 101, 150, 200, 300, 500, 1000, 2000, 10**4),
    },
    False: {
        16: (5, 10, 15, 16, 17, 18, 20, 25, 30, 40, 50, 75, 100, 200, 500, 1000, 3000, 10**4),
        100: (25, 50, 100, 101, 110, 150, 200, 300, 500, 1000, 2000, 5000, 10**4),
    },
}
FIG3_REPS = {True: {16: 30, 100: 10}, False: {16: 100, 100: 40}}

# Fig. 4: n grids, simulations and original-set size N per dimension.
FIG4_GRIDS = {
    True: {
        16: (5, 10, 16, 20, 25, 30, 40, 50, 100, 1000, 10**4),
        100: (50, 100, 150, 300, 1000, 10**4),
    },
    False: {
        16: (5, 10, 15, 16, 17, 20, 25, 30, 35, 40, 50, 75, 100, 300, 1000, 3000, 10**4),
        100: (25, 50, 75, 100, 110, 150, 200, 300, 500, 1000, 2000, 5000, 10**4),
    },
}
FIG4_REPS = {True: {16: 30, 100: 20}, False: {16: 100, 100: 100}}
FIG4_N = {True: {16: 10**4, 100: 10**4}, False: {16: 10**4, 100: 10**4}}

_COLORS = {16: PALETTE[0], 100: PALETTE[1]}
_CONV_STYLE = {"correct": ("o", "-"), "paper": ("s", "--")}


def _one_blas_thread(run: Callable[..., Any]) -> Callable[..., Any]:
    """Run an experiment with NumPy's and SciPy's OpenBLAS on one thread.

    Its work is thousands of small products, least-squares fits and eigendecompositions
    (d <= 100), which a second BLAS thread barely speeds up on a quiet machine and slows down up
    to 8x when another process shares the cores (measured: 10 fits and KLs at n = 10^4,
    d = 100 took 70-87 s with the default threads, 7-10 s with one, at load 15 on 2 cores);
    one thread also makes the results independent of the BLAS thread count.
    """

    @functools.wraps(run)
    def pinned(*args: Any, **kwargs: Any) -> Any:
        with single_threaded_blas("numpy"), single_threaded_blas("scipy"):
            return run(*args, **kwargs)

    return pinned


def _parallel_map(func: Callable[..., Any], items: Any) -> list[Any]:
    """``[func(*item) for item in items]`` (or ``func(item)``) on ``numba.get_num_threads()``
    Python threads, results in order. Each item draws from its own generator, so the results
    are the same bits for any thread count; the work (least squares, eigendecompositions, BLAS
    on one thread each, see :func:`_one_blas_thread`) releases the GIL."""
    items = list(items)
    call = (lambda item: func(*item)) if items and isinstance(items[0], tuple) else func
    workers = min(len(items), numba.get_num_threads())
    if workers <= 1:
        return [call(item) for item in items]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(call, items))


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _mean_se(x: np.ndarray, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    m = x.shape[axis]
    se = (
        x.std(axis=axis, ddof=1) / math.sqrt(m)
        if m > 1
        else np.full(x.mean(axis=axis).shape, np.nan)
    )
    return x.mean(axis=axis), se


def half_crossing(ns, p: np.ndarray, after: float = 0.0) -> float:
    """First ``n > after`` where ``p`` reaches 0.5, linearly interpolated in ``n`` (nan if never).

    >>> half_crossing([1, 2, 3], np.array([0.2, 0.4, 0.45]))
    nan
    """
    ns = as_float_array(ns, "ns", ndim=1, dtype=np.float64)
    p = as_float_array(p, "p", ndim=1, dtype=np.float64)
    after = check_scalar(after, "after")
    if p.shape != ns.shape:
        raise ValueError(f"p must have one value per n, got shapes {p.shape} and {ns.shape}")
    idx = np.flatnonzero((ns > after) & (p >= 0.5))
    if idx.size == 0:
        return math.nan
    j = int(idx[0])
    if j == 0 or ns[j - 1] <= after or p[j - 1] >= 0.5:
        return float(ns[j])
    return float(ns[j - 1] + (0.5 - p[j - 1]) * (ns[j] - ns[j - 1]) / (p[j] - p[j - 1]))


# ----------------------------------------------------------------------------------------------
# paper001.fig2
# ----------------------------------------------------------------------------------------------

_FIG2_STATS = ("exact", "mean", "var_quad", "var_exact")
_FIG2_MODELS = ("appendixB", "forward")


def _plot_fig2(result: dict[str, Any]) -> Any:
    fig, (ax_split, ax_b17) = figure(ncols=2, aspect=0.8)
    lh = result["lambda_hat"]
    with paper_style():
        for i, d in enumerate(result["dims"]):
            col = _COLORS.get(int(d), PALETTE[i % len(PALETTE)])
            for stat, mk, lab in (("var_quad", "o", "KL_var"), ("mean", "^", "KL_mean")):
                ax_split.errorbar(
                    lh,
                    result[f"mc_appendixB_{stat}"][i],
                    yerr=result[f"se_appendixB_{stat}"][i],
                    fmt=mk,
                    color=col,
                    mfc="none",
                    markersize=3.5,
                    label=f"$d={d}$: MC {lab}",
                )
            ax_split.plot(lh, result["wishart_var_appendixB"][i], "-", color=col, lw=0.8)
            ax_split.plot(lh, result["wishart_mean_appendixB"][i], ":", color=col, lw=0.8)

            ax_b17.errorbar(
                lh,
                result["mc_appendixB_exact"][i],
                yerr=result["se_appendixB_exact"][i],
                fmt="o",
                color=col,
                markersize=3.5,
                label=f"$d={d}$: MC exact KL (App. B)",
            )
            ax_b17.errorbar(
                lh,
                result["mc_appendixB_var_quad"][i],
                yerr=result["se_appendixB_var_quad"][i],
                fmt="o",
                color=col,
                mfc="none",
                markersize=5,
                label=f"$d={d}$: MC KL_var (App. B)",
            )
            ax_b17.errorbar(
                lh,
                result["mc_forward_exact"][i],
                yerr=result["se_forward_exact"][i],
                fmt="s",
                color=col,
                mfc="none",
                markersize=3,
                alpha=0.7,
                label=f"$d={d}$: MC exact KL (Sec. 3 model)",
            )
            ax_b17.plot(lh, result["B17"][i], "--", color=col, lw=1.0, label=f"$d={d}$: (B.17)")
            ax_b17.plot(lh, result["wishart_var_appendixB"][i], "-", color=col, lw=0.6)
        ax_split.plot([], [], "k-", lw=0.8, label="exact Wishart E[KL_var]")
        ax_split.plot([], [], "k:", lw=0.8, label="exact Wishart E[KL_mean]")
        ax_split.set(
            xscale="log",
            yscale="log",
            xlabel=r"$\hat\lambda$",
            ylabel=r"$\langle \mathrm{KL}(\rho_G\|\rho)\rangle$ parts",
            title=rf"(a) KL$_{{\rm mean}} \ll$ KL$_{{\rm var}}$ (App.-B model, $n={result['n']}$)",
        )
        ax_split.legend(loc="upper left", fontsize=5.5)
        ax_b17.plot([], [], "k-", lw=0.6, label="exact Wishart E[KL_var]")
        top = float(np.nanmax(result["mc_appendixB_var_quad"]))
        ax_b17.set_ylim(1e-12, 30.0 * top)  # room for the legend below the data
        ax_b17.set(
            xscale="log",
            yscale="log",
            xlabel=r"$\hat\lambda$",
            ylabel=r"$\langle \mathrm{KL}(\rho_G\|\rho)\rangle$",
            title=r"(b) simulation vs (B.17), mean $\pm$ SE",
        )
        ax_b17.legend(loc="lower right", fontsize=5.5)
    return fig


@experiment(
    "paper001.fig2",
    plot=_plot_fig2,
    figure="Fig. 2",
    title="Linear model: KL(rho_G||rho) vs lambda-hat at n=1e4, d=16/100, MC vs (B.17) and the "
    "exact Wishart formula",
)
@_one_blas_thread
def run_fig2(quick: bool = True, seed: int = 0) -> dict[str, Any]:
    """Monte Carlo KL parts vs ``lambda-hat`` (Fig. 2) for both data models, with theory.

    Arrays are indexed ``[dimension, lambda-hat]``; ``mc_<model>_<stat>`` / ``se_<model>_<stat>``
    for ``model`` in (``appendixB``, ``forward``) and ``stat`` in (``exact``, ``mean``,
    ``var_quad``, ``var_exact``); population ``mu_X, sigma_X^2`` (the Wishart formulas' setting).
    """
    lh = np.asarray(FIG2_LAMBDA_HAT[quick], dtype=float)
    reps, n, dims = FIG2_REPS[quick], FIG2_N, tuple(DIMS)
    shape = (len(dims), lh.size)
    out: dict[str, Any] = {
        "dims": np.array(dims),
        "lambda_hat": lh,
        "lam": lh * _SIGMA**2 * math.exp(-2 * _T),
        "n": n,
        "reps": reps,
        "seed": seed,
        "quick": quick,
    }
    theory = [f"wishart_{s}_{m}" for s in ("var", "mean") for m in _FIG2_MODELS]
    for key in ("B17", "floor", *theory):
        out[key] = np.empty(shape)
    for m in _FIG2_MODELS:
        for s in _FIG2_STATS:
            out[f"mc_{m}_{s}"] = np.empty(shape)
            out[f"se_{m}_{s}"] = np.empty(shape)

    def cell(i: int, j: int, k: int) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
        """Theory and the Monte Carlo mean and SE of one (d, lambda-hat, data model) cell."""
        d, lam, model = dims[i], float(out["lam"][j]), _FIG2_MODELS[k]
        cfg = LinearDiffusionConfig(
            d=d, mu=_MU, sigma=_SIGMA, T=_T, lam=lam, data_model=model, empirical_late_time=False
        )
        w = expected_kl_wishart(d, n, *model_params(cfg), _SIGMA**2)
        theory = {"floor": 0.25 * d * cfg.u**2, f"wishart_var_{model}": w["var"],
                  f"wishart_mean_{model}": w["mean"]}  # fmt: skip
        g = _rng(seed, i, j, k)
        vals = np.empty((reps, len(_FIG2_STATS)))
        for r in range(reps):  # the four statistics of one training set
            kl = kl_generated(*simulate_generated(cfg, n, g)[:2], _MU, _SIGMA)
            vals[r] = [kl[s] for s in _FIG2_STATS]
        return (theory, *_mean_se(vals, axis=0))

    for i, d in enumerate(dims):
        for j, lam in enumerate(out["lam"]):
            out["B17"][i, j] = expected_kl_var_b_17(d, n, _T, _SIGMA, float(lam))
    cells = [(i, j, k) for i in range(len(dims)) for j in range(lh.size)
             for k in range(len(_FIG2_MODELS))]  # fmt: skip
    for (i, j, k), (theory, mean, se) in zip(cells, _parallel_map(cell, cells), strict=True):
        for key, value in theory.items():
            out[key][i, j] = value
        for q, s in enumerate(_FIG2_STATS):
            out[f"mc_{_FIG2_MODELS[k]}_{s}"][i, j] = mean[q]
            out[f"se_{_FIG2_MODELS[k]}_{s}"][i, j] = se[q]
    return out


# ----------------------------------------------------------------------------------------------
# paper001.fig3
# ----------------------------------------------------------------------------------------------


def _fit(cfg: LinearDiffusionConfig, n: int, g: np.random.Generator):
    """One training set: (Y, {convention: (mu_G, Sigma_G)}), estimates (3.2), min-norm OLS."""
    X, Y = sample_training_pairs(cfg, n, g)
    theta0, theta1 = fit_linear_denoiser(X, Y)
    mu_X, s2 = late_time_params(Y, cfg.T, cfg.lam)
    return Y, {
        c: generated_gaussian(theta0, theta1, mu_X, s2, printed=c == "paper") for c in CONVENTIONS
    }


def _plot_fig3(result: dict[str, Any]) -> Any:
    dims = result["dims"]
    fig, axes = figure(ncols=len(dims), aspect=0.8)
    with paper_style():
        for ax, d in zip(axes, dims, strict=True):
            r = result[int(d)]
            col = _COLORS.get(int(d), PALETTE[0])
            for c in CONVENTIONS:
                mk, ls = _CONV_STYLE[c]
                ax.errorbar(
                    r["n"],
                    r["H2"][c],
                    yerr=r["H2_se"][c],
                    fmt=f"{mk}{ls}",
                    color=col if c == "correct" else "0.45",
                    mfc="none" if c == "paper" else col,
                    markersize=3,
                    lw=0.8,
                    label=rf"$\langle H^2\rangle$ ({c}), $\pm$ SE",
                )
            ax.axhline(
                r["asymptote"],
                color="k",
                ls=":",
                lw=0.9,
                label=rf"$H^2_\infty = {r['asymptote']:.4f}$",
            )
            ax.axvline(d, color="0.6", ls="-.", lw=0.7, label=rf"$n = d = {d}$")
            ax.set(
                xscale="log",
                xlabel="train size $n$",
                ylabel=r"$\langle H^2(\rho, \rho_G)\rangle$",
                title=rf"$d = {d}$, $T = 2$, $\lambda = e^{{-4}}$ ({r['reps']} training sets)",
            )
            ax.legend(loc="lower left", fontsize=6)
    return fig


@experiment(
    "paper001.fig3",
    plot=_plot_fig3,
    figure="Fig. 3",
    title="Linear model: expected Hellinger H^2 vs train size n (d=16, 100) with the large-n "
    "asymptote, both covariance conventions",
)
@_one_blas_thread
def run_fig3(quick: bool = True, seed: int = 0) -> dict[str, Any]:
    """Monte Carlo ``<H^2>`` vs ``n`` (Fig. 3); ``result[d]`` holds ``n``, ``H2``, ``H2_se``.

    ``H2`` and ``H2_se`` map each convention to an array over ``n``; both conventions use the
    same training sets. ``result[d]["onset"]`` is the first ``n`` with ``<H^2> < 1 - 1e-9``.
    """
    out: dict[str, Any] = {"dims": np.array(DIMS), "seed": seed, "quick": quick}
    for i, d in enumerate(DIMS):
        ns = np.array(FIG3_GRIDS[quick][d])
        reps = FIG3_REPS[quick][d]
        cfg = LinearDiffusionConfig(d=d, mu=_MU, sigma=_SIGMA, T=_T, lam=_LAM)
        g = _rng(seed, 100 + i)
        h = {c: np.empty((ns.size, reps)) for c in CONVENTIONS}
        for a, n in enumerate(ns):
            for b in range(reps):
                gens = _fit(cfg, int(n), g)[1]
                for c in CONVENTIONS:
                    h[c][a, b] = hellinger_sq(*gens[c], _MU, _SIGMA)
        stats = {c: _mean_se(h[c]) for c in CONVENTIONS}
        mean = {c: stats[c][0] for c in CONVENTIONS}
        below = np.flatnonzero(mean["correct"] < 1.0 - 1e-9)
        out[d] = {
            "n": ns,
            "reps": reps,
            "H2": mean,
            "H2_se": {c: stats[c][1] for c in CONVENTIONS},
            "asymptote": hellinger_asymptote(d, _T, _LAM, _SIGMA),
            "onset": int(ns[below[0]]) if below.size else None,
        }
    return out


# ----------------------------------------------------------------------------------------------
# paper001.fig4
# ----------------------------------------------------------------------------------------------


def _delta_signs(
    cfg: LinearDiffusionConfig, n: int, Yo: np.ndarray, log_po: float, g: np.random.Generator
) -> dict[str, float]:
    """sign(Delta) per convention for one training set against the original set ``Yo``.

    ``log_po`` = log of the off-diagonal original pair sum / N^2 (shared across n). The self
    terms of both KDEs equal (4 pi sigma^2)^{-d/2} for eps = sigma m^{-1/d} and cancel.
    """
    d, N = cfg.d, Yo.shape[0]
    eps_T, eps_O = cfg.sigma * n ** (-1.0 / d), cfg.sigma * N ** (-1.0 / d)
    Y, gens = _fit(cfg, n, g)
    log_pt = log_kde_pair_offdiag(Y, eps_T) - 2.0 * math.log(n)
    signs = {}
    for c, (mG, SG) in gens.items():
        log_ct = math.log(2.0) + log_kde_cross(mG, SG, Y, eps_T) - math.log(n)
        log_co = math.log(2.0) + log_kde_cross(mG, SG, Yo, eps_O) - math.log(N)
        diff = float(np.logaddexp(log_pt, log_co) - np.logaddexp(log_po, log_ct))
        signs[c] = float(np.sign(diff))
    return signs


def _plot_fig4(result: dict[str, Any]) -> Any:
    fig, (ax_a, ax_b, ax_c) = figure(ncols=3, aspect=0.9)
    with paper_style():
        panels = (
            (ax_a, 16, True, "(a) $d = 16$: the transition"),
            (ax_b, 16, False, "(b) $d = 16$ up to $n = N$"),
            (ax_c, 100, False, "(c) $d = 100$"),
        )
        for ax, d, small, title in panels:
            if d not in result:
                ax.set_axis_off()
                continue
            r = result[d]
            ns = r["n"]
            keep = ns <= 6 * d if small else np.ones(ns.size, bool)
            for c in CONVENTIONS:
                mk, ls = _CONV_STYLE[c]
                col = _COLORS[d] if c == "correct" else "0.45"
                ax.errorbar(
                    ns[keep],
                    r["P"][c][keep],
                    yerr=r["P_se"][c][keep],
                    fmt=f"{mk}{ls}",
                    color=col,
                    mfc="none" if c == "paper" else col,
                    markersize=3,
                    lw=0.8,
                    capsize=1.5,
                    label=f"{c} convention",
                )
            ax.axhline(0.5, color="k", lw=0.6, ls=":")
            ax.axvline(d, color="0.6", ls="-.", lw=0.7, label="$n = d$")
            if not small:
                ax.axvline(r["N"], color="0.3", ls="--", lw=0.7, label=f"$n = N = {r['N']}$")
                ax.set_xscale("log")
            nh = r["transition_n"]["correct"]
            ax.set(
                xlabel="train size $n$",
                ylabel=r"$P(\Delta > 0)$ ($\pm$ SE)",
                ylim=(-0.05, 1.05),
                title=f"{title}\n{r['reps']} sims, P = 0.5 at n = {nh:.3g} (correct)",
            )
            ax.legend(loc="lower right", fontsize=6)
    return fig


@experiment(
    "paper001.fig4",
    plot=_plot_fig4,
    figure="Fig. 4",
    title="Linear model: P(Delta > 0) vs train size n with N = 1e4 original samples, d = 16 "
    "(transition and large n) and d = 100, both covariance conventions",
)
@_one_blas_thread
def run_fig4(quick: bool = True, seed: int = 0) -> dict[str, Any]:
    """Monte Carlo ``P(Delta > 0)`` vs ``n`` (Fig. 4); ``result[d]`` holds ``n``, ``P``, ``P_se``.

    ``P`` / ``P_se`` map each convention to an array over ``n`` (ties count 1/2);
    ``transition_n[c]`` is the first ``n > d`` where ``P`` reaches 0.5 (linear interpolation)
    and ``P_at_N[c]`` the value at ``n = N`` (if on the grid).
    """
    out: dict[str, Any] = {"dims": np.array(DIMS), "seed": seed, "quick": quick}

    def dimension(i: int) -> dict[str, Any]:
        d = DIMS[i]
        ns = np.array(FIG4_GRIDS[quick][d])
        reps, N = FIG4_REPS[quick][d], FIG4_N[quick][d]
        cfg = LinearDiffusionConfig(d=d, mu=_MU, sigma=_SIGMA, T=_T, lam=_LAM)
        g = _rng(seed, 200 + i)
        eps_O = _SIGMA * N ** (-1.0 / d)
        s = {c: np.empty((ns.size, reps)) for c in CONVENTIONS}
        for b in range(reps):
            Yo = _MU + _SIGMA * g.standard_normal((N, d))
            log_po = log_kde_pair_offdiag(Yo, eps_O) - 2.0 * math.log(N)
            for a, n in enumerate(ns):
                for c, v in _delta_signs(cfg, int(n), Yo, log_po, g).items():
                    s[c][a, b] = v
        stats = {c: _mean_se(0.5 + 0.5 * s[c]) for c in CONVENTIONS}
        P = {c: stats[c][0] for c in CONVENTIONS}
        at_N = np.flatnonzero(ns == N)
        return {
            "n": ns,
            "N": N,
            "reps": reps,
            "P": P,
            "P_se": {c: stats[c][1] for c in CONVENTIONS},
            "transition_n": {c: half_crossing(ns, P[c], after=d) for c in CONVENTIONS},
            "P_at_N": {c: float(P[c][at_N[0]]) if at_N.size else math.nan for c in CONVENTIONS},
        }

    for d, result in zip(DIMS, _parallel_map(dimension, range(len(DIMS))), strict=True):
        out[d] = result
    return out
