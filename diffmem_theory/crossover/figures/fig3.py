r"""Predicting the memorization phase transition with a fitted loss weighting (paper 000, Fig. 3).

Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models", Sec. 4.1,
eq. (15), App. H.1 and H.3 (eq. 30). For every tuple (N, d, K) of the sweep

    (N, d, K) in {50, 100, 150, 200} x {30, 40, 50, 60} x {3, 6, 9, 12}   (64 tuples, H.1)

M-component GMM denoisers are trained on N samples of a K-cluster isotropic mixture in d
dimensions (:func:`diffmem_theory.crossover.figures.phase.train_and_evaluate`, the sweep task
shared with fig2/6/7) for ``M = (N/10) j``, j = 1..10, plus the refinement models across the
transition (:func:`diffmem_theory.core.metrics.refinement_grid` between the authors'-code start and
end, ``phase_transition(..., convention="code")``); ``M_pt(N, d, K)`` is the first M whose
memorization ratio is >= 1/2 (``phase_transition``, paper convention). The loss weighting
``lambda~`` of the 26 grid times is then fitted by eq. (30)
(:func:`diffmem_theory.crossover.regression.fit_loss_weighting`: normalized approximate losses of
Thms 3.1/3.2 with C = 2, tau = 1/20, beta = 1e-3, seeded 80/20 train/test split of the tuples).

Paper: train and test MSE <= 2e-4 and ``Mtilde_pt = 0.8 N`` for every tuple. The approximate
losses make the prediction independent of d and K (``d`` cancels from eq. (14) and ``K`` never
enters it), so the fit can only
return one ratio ``crossover_ratio(lambda~)``; the figure shows how well one ratio explains the
observed ``M_pt/N``.

Modes. Full mode is the paper's: 64 tuples, the FULL training settings (50,000 epochs,
N_dup = 100), the 10-point M grid plus refinement -- about 1,300 training runs, days of CPU.
Quick mode (under 10 minutes on 2 cores) fits 4 tuples, N in {50, 100}, d = 30, K in {3, 6},
with the QUICK settings of paper000_phase (1,000 epochs, N_dup = 5, peak lr 1e-2, Adam
b2 = 0.9) on the 10-point M grid only (no refinement), so ``M_pt/N`` is resolved to 0.1 and
the test set holds one tuple. Runs go through :func:`diffmem_theory.sweep.run_sweep` into
``$DIFFMEM_SWEEPS/paper000.phase-{quick,full}``, the directory fig2/6/7 use: cached runs are
shared (fig2's N = 200, d = 50, K = 12 is one of the 64 tuples) and an interrupted run resumes.
The named sweep ``paper000.fig3`` holds the base M grid of every tuple (the refinement depends
on its results and is added by the experiment).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from diffmem_theory._validation import as_float_array, check_bool, check_config, check_int
from diffmem_theory.core.metrics import phase_transition, refinement_grid
from diffmem_theory.crossover.figures import phase
from diffmem_theory.crossover.regression import LossWeightingFit, fit_loss_weighting
from diffmem_theory.plotting import figure
from diffmem_theory.registry import experiment
from diffmem_theory.sweep import run_sweep, sweep_spec

__all__ = ["FULL_TUPLES", "QUICK_TUPLES", "fig3_runs", "observed_transitions", "tuples"]

FULL_TUPLES = tuple(
    (N, d, K) for N in (50, 100, 150, 200) for d in (30, 40, 50, 60) for K in (3, 6, 9, 12)
)
QUICK_TUPLES = tuple((N, 30, K) for N in (50, 100) for K in (3, 6))
C = 2.0  # the constant of Thm 3.2 in the approximate losses (Fig. 1 of the paper uses 2)


def tuples(quick: bool) -> tuple[tuple[int, int, int], ...]:
    """The (N, d, K) tuples of the quick or full sweep.

    >>> len(tuples(quick=False)), tuples(quick=True)[0]
    (64, (50, 30, 3))
    """
    return QUICK_TUPLES if check_bool(quick, "quick") else FULL_TUPLES


def _base_grid(N: int) -> list[int]:
    return [N // 10 * j for j in range(1, 11)]


def _lab(tup: tuple[int, int, int]) -> dict[str, int]:
    return {"N": int(tup[0]), "d": int(tup[1]), "K": int(tup[2])}


def _settings(quick: bool) -> dict:
    return phase.QUICK if quick else phase.FULL


def _base_configs(quick: bool, seed: int) -> list[dict]:
    out: list[dict] = []
    for tup in tuples(quick):
        out += phase.phase_configs(_base_grid(tup[0]), seed, _settings(quick), _lab(tup))
    return out


@sweep_spec("paper000.fig3")
def fig3_specs(quick: bool) -> tuple[str, list[dict]]:
    """The base M grid (N/10 j) of every (N, d, K) tuple of Fig. 3 (seed 0; quick: 4 tuples)."""
    return phase.TASK, _base_configs(quick, 0)


def _key(config: dict) -> tuple[int, int, int]:
    return int(config["N"]), int(config["d"]), int(config["K"])


def fig3_runs(
    quick: bool, seed: int = 0, refine: bool | None = None, workers: int | None = None
) -> dict[tuple[int, int, int], list[dict]]:
    """Run (or load) every tuple's M grid, plus (full mode) the refinement across the transition.

    Returns the run records (``config`` and ``result``) per ``(N, d, K)``, sorted by M.
    """
    refine = (not quick) if refine is None else bool(refine)
    settings = _settings(quick)
    out_dir = phase.sweep_dir(f"paper000.phase-{'quick' if quick else 'full'}")
    records = run_sweep(
        phase.TASK,
        phase._cost_order(_base_configs(quick, seed)),
        out_dir,
        workers=workers,
        progress=True,
    )
    if refine:
        extra: list[dict] = []
        for tup in tuples(quick):
            base = _base_grid(tup[0])
            by_m = {r["config"]["M"]: r for r in records if _key(r["config"]) == tup}
            if any(by_m.get(m, {}).get("status") == "failed" for m in base):
                continue  # reported below
            ratios = [by_m[m]["result"]["ratio"] for m in base]
            pt = phase_transition(base, ratios, convention="code")
            if pt.M_start is not None and pt.M_end is not None:
                Ms = [int(m) for m in refinement_grid(pt.M_start, pt.M_end) if m not in base]
                extra += phase.phase_configs(Ms, seed, settings, _lab(tup))
        if extra:
            records += run_sweep(
                phase.TASK, phase._cost_order(extra), out_dir, workers=workers, progress=True
            )
    failed = [r for r in records if r["status"] == "failed"]
    if failed:
        raise RuntimeError(f"{len(failed)} training runs failed, e.g. {failed[0]['error']}")
    runs: dict[tuple[int, int, int], list[dict]] = {tuple(t): [] for t in tuples(quick)}
    for r in records:
        runs[_key(r["config"])].append(r)
    return {k: sorted(v, key=lambda r: r["config"]["M"]) for k, v in runs.items()}


def observed_transitions(runs: dict[tuple[int, int, int], list[dict]]) -> dict[str, np.ndarray]:
    """Per tuple: N, d, K, M_pt (NaN if the ratio never reaches 1/2), M_start, M_end (paper
    convention: first M with ratio >= 1/10, 1/2, 9/10) and the M grid and ratios.

    >>> rec = lambda M, r: {"config": {"N": 20, "d": 5, "K": 2, "M": M}, "result": {"ratio": r}}
    >>> out = observed_transitions({(20, 5, 2): [rec(m, r) for m, r in
    ...                             ((4, 0.0), (8, 0.2), (12, 0.6), (16, 1.0))]})
    >>> out["M_pt"].tolist(), out["M_start"].tolist(), out["M_end"].tolist()
    ([12.0], [8.0], [16.0])
    """
    check_config(runs, "runs")
    cols: dict[str, list] = {k: [] for k in ("N", "d", "K", "M_pt", "M_start", "M_end")}
    curves = []
    for key, recs in runs.items():
        if not isinstance(key, tuple) or len(key) != 3:
            raise ValueError(f"runs must be keyed by (N, d, K) tuples, got the key {key!r:.60}")
        N, d, K = key
        if isinstance(recs, (str, bytes)) or not hasattr(recs, "__iter__"):
            raise TypeError(f"runs[{key}] must be a list of run records, got {type(recs).__name__}")
        for rec in recs:
            check_config(rec, f"a record of runs[{key}]", ("config", "result"))
            check_config(rec["config"], f"a record's config in runs[{key}]", ("M",))
            check_config(rec["result"], f"a record's result in runs[{key}]", ("ratio",))
        Ms = np.array([check_int(r["config"]["M"], "config['M']", low=1) for r in recs])
        ratios = as_float_array([r["result"]["ratio"] for r in recs], "result['ratio']", ndim=1)
        pt = phase_transition(Ms, ratios)
        for key, value in (
            ("N", N),
            ("d", d),
            ("K", K),
            ("M_pt", pt.M_pt),
            ("M_start", pt.M_start),
            ("M_end", pt.M_end),
        ):
            cols[key].append(np.nan if value is None else float(value))
        curves.append((Ms, ratios))
    out: dict[str, Any] = {k: np.array(v) for k, v in cols.items()}
    out["curves"] = curves
    return out


# ----------------------------------------------------------------------------------------------
# plot
# ----------------------------------------------------------------------------------------------


def plot_fig3(result: dict[str, Any]) -> Any:
    """(left) fitted lambda~(t_l) vs t; (right) predicted vs observed M_pt/N with y = x and 0.8."""
    fit: LossWeightingFit = result["fit"]
    fig, (ax_w, ax_p) = figure(ncols=2, aspect=0.8)
    ax_w.plot(
        fit.times,
        fit.weights,
        "o-",
        color="C0",
        markersize=3,
        label=rf"fitted $\tilde\lambda$ (implied $M/N$ = {fit.ratio:.3f})",
    )
    ax_w.axhline(
        1.0 / fit.times.size, color="0.5", linestyle=":", linewidth=0.8, label="uniform (1/26)"
    )
    ax_w.set(xlabel="$t_\\ell$", ylabel=r"$\tilde\lambda(t_\ell)$ (sum 1)", ylim=(0, None))
    ax_w.legend(loc="best", fontsize=6)

    obs, pred, hard = fit.observed_ratio, fit.predicted_ratio, fit.predicted_ratio_hard
    lo = min(obs.min(), pred.min(), 0.8) - 0.05
    hi = max(obs.max(), pred.max(), 0.8) + 0.05
    ax_p.plot([lo, hi], [lo, hi], "-", color="0.4", linewidth=0.8, label="$y = x$")
    ax_p.axhline(0.8, color="C1", linestyle="--", linewidth=0.8, label="0.8 (paper)")
    ax_p.axvline(0.8, color="C1", linestyle="--", linewidth=0.8)
    for idx, marker, name, mse in (
        (fit.train, "o", "train", fit.train_mse),
        (fit.test, "s", "test", fit.test_mse),
    ):
        if idx.size:
            ax_p.scatter(
                obs[idx],
                pred[idx],
                marker=marker,
                s=14,
                color="C0",
                zorder=3,
                label=rf"{name} $\bar M_{{pt}}/N$ (MSE {mse:.1e})",
            )
            ax_p.scatter(
                obs[idx],
                hard[idx],
                marker=marker,
                s=14,
                facecolors="none",
                edgecolors="C2",
                zorder=3,
                label=rf"{name} $\tilde M_{{pt}}/N$ (argmin)",
            )
    ax_p.set(
        xlabel=r"observed $M_{pt}/N$",
        ylabel=r"predicted $M_{pt}/N$",
        xlim=(lo, hi),
        ylim=(lo, hi),
        aspect="equal",
    )
    ax_p.legend(loc="upper left", fontsize=5)
    return fig


# ----------------------------------------------------------------------------------------------
# experiment
# ----------------------------------------------------------------------------------------------


@experiment(
    "paper000.fig3",
    plot=plot_fig3,
    figure="loss_weighting_regression",
    title="fitted loss weighting (eq. 15/30) and predicted vs observed M_pt/N over (N, d, K)",
)
def run_fig3(quick: bool = True, seed: int = 0) -> dict[str, Any]:
    """Fig. 3: the (N, d, K) sweep, M_pt per tuple, and the loss-weighting regression.

    Quick: 4 tuples (N in {50, 100}, d = 30, K in {3, 6}), QUICK settings, no refinement.
    Returns the per-tuple observed transitions, the fit (:class:`LossWeightingFit`: fitted
    weights, ``M_bar``/``M_hard`` per tuple, train/test MSE, implied ratio) and the tuples left
    out of the fit because their ratio never reached 1/2.
    """
    runs = fig3_runs(quick, seed=seed)
    obs = observed_transitions(runs)
    ok = np.isfinite(obs["M_pt"])
    if ok.sum() < 1:
        raise RuntimeError("no tuple reached memorization ratio 1/2: nothing to regress")
    fit = fit_loss_weighting(
        obs["N"][ok], obs["d"][ok], obs["K"][ok], obs["M_pt"][ok], C=C, seed=seed
    )
    excluded = [
        (int(n), int(d), int(k))
        for n, d, k, good in zip(obs["N"], obs["d"], obs["K"], ok, strict=True)
        if not good
    ]
    return {
        "mode": "quick" if quick else "full",
        "observed": obs,
        "fit": fit,
        "excluded": excluded,
        "C": C,
        "paper": {"M_pt_over_N": 0.8, "mse_bound": 2e-4},
    }
