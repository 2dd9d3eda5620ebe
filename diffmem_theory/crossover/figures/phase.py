r"""The generalization -> memorization phase transition of trained GMM denoisers (paper 000).

Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models", Sec. 4.1 and
App. H.1-H.2: M-component isotropic GMM denoisers (:mod:`diffmem_theory.core.training`) trained on
N = 200 samples of a K = 12 mixture in d = 50 generalize for small M and memorize past a sharp
transition. One run (:func:`train_and_evaluate`, the task of the sweeps) trains one model, draws
N_eval = 50 DDIM samples (H.2), measures the memorization ratio (Def. 2.2, c = 1/9), the train and
test losses at t_16 (x0 units) next to the pmem / mem / ground-truth baselines, and the learned
parameters of Fig. 6. The experiments:

* ``paper000.fig2``: memorization ratio, train and test loss vs M/N (one seed);
* ``paper000.fig6``: learned variance, mean-to-nearest-sample and mean-to-nearest-true-mean
  distances vs M with the transition marked;
* ``paper000.fig7``: Fig. 2 over three data seeds with min-max bands.

Settings. Full mode is the paper's (50,000 epochs, N_dup = 100, Adam 1e-3 -> 1e-6, b2 = 0.999;
the M grid N/10 j plus 10 models across the transition). Quick mode compresses the schedule to
1,000 epochs with N_dup = 5, peak learning rate 1e-2 and Adam ``b2 = 0.9``: with b2 = 0.999,
Adam's second moment remembers the huge gradients of the 1e-6 initial variance for ~10^4 steps,
which is why the paper needs 50,000 epochs before the variance of a small-M model grows; with
``b2 = 0.9`` it forgets them within tens of steps. Seed 0 at N = 200: the learned variances of
M = 20..180 are within 0.06 of those after 5,000 epochs with ``b2 = 0.99`` and N_dup = 10
(0.94 / 0.65 / 0.24 / 0.08 at M = 20 / 60 / 140 / 180), and the ratio is 0 up to M/N = 0.6,
then 0.02, 0.50, 0.76, 1.0 at M/N = 0.7, 0.8, 0.9, 1 (M_pt/N = 0.8, as in the paper; seeds 1
and 2: 0.54 and 0.50 at 0.8N, also 0.8); N_dup = 10 gives the same variances at twice the cost
(ratio 0.44 at 0.8N for seed 0, so M_pt/N = 0.9 there, within 1 SE of 1/2); 500 epochs leave the
small-M variance short (0.66 at M = 20), and 1,000 epochs with ``b2 = 0.99`` never let it grow
(every model memorizes). Runs go
through :func:`diffmem_theory.sweep.run_sweep` (2 worker processes here) into
``$DIFFMEM_SWEEPS`` (default ``~/.cache/diffmem_theory/sweeps``): an interrupted full run resumes
where it stopped, and fig2, fig6 and fig7 share the runs they have in common.

Example
-------
>>> cfg = {"N": 30, "d": 5, "K": 2, "M": 30, "seed": 0, "n_epochs": 20, "n_dup": 2, "n_eval": 10}
>>> out = train_and_evaluate(cfg)
>>> out["ratio"]   # M = N from the memorizing initialization: every sample is a training point
1.0
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from diffmem_theory._validation import check_config, check_int
from diffmem_theory.core.denoisers import memorized_subset, memorizing_denoiser
from diffmem_theory.core.dynamics import ddim_sample
from diffmem_theory.core.losses import test_loss, training_losses
from diffmem_theory.core.metrics import memorization_ratio, nearest_distances, phase_transition
from diffmem_theory.core.metrics import refinement_grid as _refinement
from diffmem_theory.core.schedules import VPTrig
from diffmem_theory.core.training import TrainConfig, train_gmm_denoiser
from diffmem_theory.crossover.laboratory import laboratory
from diffmem_theory.plotting import figure
from diffmem_theory.registry import experiment
from diffmem_theory.sweep import run_sweep, sweep_spec

__all__ = [
    "FULL",
    "QUICK",
    "phase_configs",
    "phase_runs",
    "sweep_dir",
    "train_and_evaluate",
]

TASK = "diffmem_theory.crossover.figures.phase:train_and_evaluate"
# Bump when train_and_evaluate changes what it computes: cached sweep results are keyed by it.
# 2: the training kernel reduces over a fixed partition (results independent of the thread
# count), which changes the last bits of every trained model.
TASK_VERSION = 2
QUICK = {"n_epochs": 1000, "n_dup": 5, "peak_lr": 1e-2, "adam_b2": 0.9}
FULL = {"n_epochs": 50_000, "n_dup": 100, "peak_lr": 1e-3, "adam_b2": 0.999}
_TRAIN_KEYS = ("n_epochs", "n_dup", "peak_lr", "adam_b2")
_SCHED = VPTrig()
_T16 = float(_SCHED.time_grid()[16])
LAB = {"N": 200, "d": 50, "K": 12}


def train_and_evaluate(config: dict) -> dict:
    r"""One model of Sec. 4.1: train, sample, measure (the sweep task of fig2/3/6/7).

    ``config``: ``N, d, K, M, seed`` (data, initialization and noise seed) and optionally the
    training settings ``n_epochs, n_dup, peak_lr, adam_b2`` (default :data:`QUICK`), ``n_eval``
    (50 DDIM samples, H.2), ``n_test`` (100 held-out samples, as the authors' code) and
    ``n_noise`` (20 draws per point for the losses at t_16). Returns the memorization ratio
    (Def. 2.2, c = 1/9), the learned variance, the mean distance of each learned mean to its
    nearest training sample and nearest true mean (Fig. 6), and the train/test losses at t_16
    (x0 units) of the model and of the pmem (random M-subset), mem and ground-truth denoisers.

    Parameters
    ----------
    config : dict
        ``N, d, K, M, seed`` and optionally ``n_epochs, n_dup, peak_lr, adam_b2, n_eval, n_test,
        n_noise``.

    Returns
    -------
    dict
        ``ratio``, ``var``, ``mean_to_sample``, ``mean_to_true``, ``final_loss`` and
        ``train_<name>``, ``test_<name>`` for ``name`` in ``model, pmem, mem, gen``.

    See Also
    --------
    laboratory : the data.
    diffmem_theory.core.training.train_gmm_denoiser : the training.
    diffmem_theory.core.metrics.memorization_ratio : the memorization criterion.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Sec. 4.1, App. H.1-H.2, Def. 2.2.
    """
    keys = ("N", "d", "K", "M", "seed")
    check_config(config, "config", keys)
    N, d, K, M, seed = (
        check_int(config[k], f"config[{k!r}]", low=0 if k == "seed" else 1) for k in keys
    )
    settings = {k: config.get(k, QUICK[k]) for k in _TRAIN_KEYS}
    gmm, X = laboratory(N, d, K, seed)
    res = train_gmm_denoiser(X, M, TrainConfig(seed=seed, **settings), progress=False)
    model = res.model
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7,)))
    samples = ddim_sample(
        lambda x, t: model.denoiser(x, t, _SCHED), _SCHED, n=int(config.get("n_eval", 50)), d=d,
        rng=rng,
    )  # fmt: skip
    keep = memorized_subset(N, min(M, N), rng=rng)
    dens = {
        "model": lambda x, t: model.denoiser(x, t, _SCHED),
        "pmem": lambda x, t: memorizing_denoiser(x, t, X[keep], _SCHED),
        "mem": lambda x, t: memorizing_denoiser(x, t, X, _SCHED),
        "gen": lambda x, t: gmm.denoiser(x, t, _SCHED),
    }
    n_noise, n_test = int(config.get("n_noise", 20)), int(config.get("n_test", 100))
    train = training_losses(dens, X, _T16, _SCHED, n_noise=n_noise, seed=seed)
    out: dict[str, Any] = {
        "ratio": memorization_ratio(samples, X),
        "var": model.var,
        "mean_to_sample": float(nearest_distances(model.means, X).mean),
        "mean_to_true": float(nearest_distances(model.means, gmm.means).mean),
        "final_loss": float(np.mean(res.losses[-max(1, len(res.losses) // 100) :])),
    }
    for name, f in dens.items():
        out[f"train_{name}"] = float(train[name].mean[0])
        est = test_loss(f, gmm, _T16, _SCHED, n_test=n_test, n_noise=n_noise, seed=seed)
        out[f"test_{name}"] = float(est.mean[0])
    return out


def sweep_dir(name: str) -> Path:
    """Where the runs of sweep ``name`` live: ``$DIFFMEM_SWEEPS/name`` (default ~/.cache/...).

    >>> sweep_dir("paper000.phase-quick").name
    'paper000.phase-quick'
    """
    root = os.environ.get(
        "DIFFMEM_SWEEPS", str(Path.home() / ".cache" / "diffmem_theory" / "sweeps")
    )
    return Path(root) / name


def phase_configs(Ms: Any, seed: int, settings: dict, lab: dict) -> list[dict]:
    """Sweep configs of :func:`train_and_evaluate` for model sizes ``Ms`` of one laboratory.

    >>> phase_configs([20], 0, QUICK, LAB)[0]["M"]
    20
    """
    seed = check_int(seed, "seed", low=0)
    check_config(settings, "settings")
    check_config(lab, "lab", ("N", "d", "K"))
    if isinstance(Ms, (str, bytes)) or not hasattr(Ms, "__iter__"):
        raise TypeError(f"Ms must be a sequence of model sizes, got {type(Ms).__name__}")
    sizes = [check_int(M, "Ms[i]", low=1) for M in Ms]
    return [{**lab, "M": M, "seed": seed, **settings, "version": TASK_VERSION} for M in sizes]


def _cost_order(configs: list[dict]) -> list[dict]:
    """Longest runs first (cost ~ N M d per epoch), so that the workers finish together."""
    return sorted(configs, key=lambda c: -c["N"] * c["M"] * c["d"])


def phase_runs(
    quick: bool, seeds: tuple[int, ...] = (0,), lab: dict | None = None, refine: bool | None = None
) -> dict[int, list[dict]]:
    """Run (or load) the M grid ``N/10 j`` (plus, in full mode, 10 models across the transition).

    The runs of all seeds go to one pool of workers, longest first (each run is a pure function
    of its config, so the grouping changes no result). Returns, per seed, the run records sorted
    by M (each with ``config`` and ``result``).
    """
    lab = dict(LAB if lab is None else lab)
    settings = QUICK if quick else FULL
    refine = (not quick) if refine is None else refine
    out_dir = sweep_dir(f"paper000.phase-{'quick' if quick else 'full'}")
    base = [lab["N"] // 10 * j for j in range(1, 11)]
    configs = [c for seed in seeds for c in phase_configs(base, seed, settings, lab)]
    records = run_sweep(TASK, _cost_order(configs), out_dir, progress=True)
    if refine:
        extra: list[dict] = []
        for seed in seeds:
            by_m = {r["config"]["M"]: r for r in records if r["config"]["seed"] == seed}
            if any(by_m[m]["status"] == "failed" for m in base):
                continue  # reported below
            ratios = [by_m[m]["result"]["ratio"] for m in base]
            pt = phase_transition(base, ratios, convention="code")
            if pt.M_start is not None and pt.M_end is not None:
                Ms = [m for m in _refinement(pt.M_start, pt.M_end) if m not in base]
                extra += phase_configs(Ms, seed, settings, lab)
        if extra:
            records += run_sweep(TASK, _cost_order(extra), out_dir, progress=True)
    failed = [r for r in records if r["status"] == "failed"]
    if failed:
        raise RuntimeError(f"{len(failed)} training runs failed, e.g. {failed[0]['error']}")
    return {
        seed: sorted(
            (r for r in records if r["config"]["seed"] == seed), key=lambda r: r["config"]["M"]
        )
        for seed in seeds
    }


@sweep_spec("paper000.phase")
def phase_specs(quick: bool) -> tuple[str, list[dict]]:
    """Fig. 2's M grid (N = 200, d = 50, K = 12, seed 0) with the quick or the paper's settings."""
    settings = QUICK if quick else FULL
    return TASK, phase_configs([LAB["N"] // 10 * j for j in range(1, 11)], 0, settings, LAB)


def _table(records: list[dict]) -> dict[str, np.ndarray]:
    keys = records[0]["result"].keys()
    table = {k: np.array([r["result"][k] for r in records], dtype=float) for k in keys}
    table["M"] = np.array([r["config"]["M"] for r in records], dtype=float)
    return table


def _summary(runs: dict[int, list[dict]]) -> dict[str, Any]:
    tables = {seed: _table(records) for seed, records in runs.items()}
    first = next(iter(tables.values()))
    N = runs[next(iter(runs))][0]["config"]["N"]
    pts = {
        seed: phase_transition(t["M"], t["ratio"]) for seed, t in tables.items()
    }  # paper convention: first M with ratio >= 0.1 / 0.5 / 0.9
    return {"N": N, "tables": tables, "M": first["M"], "transitions": pts}


# ----------------------------------------------------------------------------------------------
# plots
# ----------------------------------------------------------------------------------------------

_BASELINES = (("pmem", r"$\bar x_{\mathrm{pmem},M}$", ":"), ("mem", r"$\bar x_{\mathrm{mem}}$",
              "--"), ("gen", r"$\bar x_*$ (ground truth)", "-."))  # fmt: skip


def _shade(ax: Any, pt: Any, N: int) -> None:
    if pt.M_start is not None and pt.M_end is not None:
        ax.axvspan(pt.M_start / N, pt.M_end / N, color="0.88", zorder=0, label="transition")


def plot_fig2(result: dict[str, Any]) -> Any:
    """Three panels: memorization ratio, train loss and test loss at t_16 vs M/N (log y)."""
    fig, (ax_r, ax_tr, ax_te) = figure(ncols=3, aspect=0.8)
    N = result["N"]
    for k, (seed, t) in enumerate(result["tables"].items()):
        x = t["M"] / N
        label = None if k else "trained"
        _shade(ax_r, result["transitions"][seed], N) if k == 0 else None
        ax_r.plot(x, t["ratio"], "o-", color="C0", markersize=3, label=label)
        for ax, split in ((ax_tr, "train"), (ax_te, "test")):
            ax.plot(x, t[f"{split}_model"], "o-", color="C0", markersize=3, label=label)
            if k == 0:
                for name, lab, style in _BASELINES:
                    y = t[f"{split}_{name}"]
                    shown = y > 0  # log axis: exact zeros (xbar_mem on its training set) noted
                    label = lab if shown.all() else f"{lab} (= 0 where not drawn)"
                    ax.plot(x[shown], y[shown], style, color="0.3", label=label)
    ax_r.set(xlabel="$M/N$", ylabel="memorization ratio", ylim=(-0.03, 1.03))
    ax_tr.set(xlabel="$M/N$", ylabel=r"training loss at $t_{16}$ ($x_0$ units)", yscale="log")
    ax_te.set(xlabel="$M/N$", ylabel=r"test loss at $t_{16}$ ($x_0$ units)", yscale="log")
    ax_r.legend(loc="upper left", fontsize=6)
    ax_tr.legend(loc="lower left", fontsize=6)
    return fig


def plot_fig6(result: dict[str, Any]) -> Any:
    """Three panels vs M: learned variance, distance to nearest sample and to nearest true mean."""
    fig, axes = figure(ncols=3, aspect=0.8)
    seed, t = next(iter(result["tables"].items()))
    pt = result["transitions"][seed]
    for ax, key, label in zip(
        axes,
        ("var", "mean_to_sample", "mean_to_true"),
        (r"learned variance $\sigma^2$", "mean to nearest sample", "mean to nearest true mean"),
        strict=True,
    ):
        ax.plot(t["M"], t[key], "o-", color="C0", markersize=3)
        for level in (pt.M_start, pt.M_end):
            if level is not None:
                ax.axvline(level, color="0.5", linestyle="--", linewidth=0.8)
        ax.set(xlabel="$M$", ylabel=label)
    return fig


def plot_fig7(result: dict[str, Any]) -> Any:
    """Fig. 2's panels with the min-max band over the seeds."""
    fig, axes = figure(ncols=3, aspect=0.8)
    N, tables = result["N"], list(result["tables"].values())
    x = tables[0]["M"] / N
    for ax, key, label in zip(
        axes,
        ("ratio", "train_model", "test_model"),
        ("memorization ratio", r"training loss at $t_{16}$", r"test loss at $t_{16}$"),
        strict=True,
    ):
        stack = np.stack([t[key] for t in tables])
        ax.fill_between(x, stack.min(0), stack.max(0), color="C0", alpha=0.3, linewidth=0)
        ax.plot(x, np.median(stack, 0), "o-", color="C0", markersize=3,
                label=f"{len(tables)} seeds: median, min-max")  # fmt: skip
        if key != "ratio":
            ax.set_yscale("log")
            for name, lab, style in _BASELINES:
                base = np.stack([t[key.replace("model", name)] for t in tables])
                ax.plot(x, np.median(base, 0), style, color="0.3", label=lab)
        ax.set(xlabel="$M/N$", ylabel=label)
    axes[0].legend(loc="upper left", fontsize=6)
    axes[1].legend(loc="lower left", fontsize=6)
    return fig


# ----------------------------------------------------------------------------------------------
# experiments
# ----------------------------------------------------------------------------------------------


@experiment(
    "paper000.fig2",
    plot=plot_fig2,
    figure="phase_transition",
    title="memorization ratio, train and test loss at t_16 of trained GMM denoisers vs M/N",
)
def run_fig2(quick: bool = True, seed: int = 0) -> dict[str, Any]:
    """Fig. 2: N = 200, d = 50, K = 12, M = 20, 40, ..., 200 (quick: compressed schedule)."""
    return _summary(phase_runs(quick, seeds=(seed,)))


@experiment(
    "paper000.fig6",
    plot=plot_fig6,
    figure="learned_parameters",
    title="learned variance and mean distances of trained GMM denoisers vs M",
)
def run_fig6(quick: bool = True, seed: int = 0) -> dict[str, Any]:
    """Fig. 6: the learned parameters of fig2's runs (shared through the sweep directory)."""
    return _summary(phase_runs(quick, seeds=(seed,)))


@experiment(
    "paper000.fig7",
    plot=plot_fig7,
    figure="phase_transition_seeds",
    title="Fig. 2 over three data seeds with min-max bands",
)
def run_fig7(quick: bool = True, seed: int = 0) -> dict[str, Any]:
    """Fig. 7: Fig. 2 for seeds ``seed, seed + 1, seed + 2`` (the refinement runs are left out)."""
    return _summary(phase_runs(quick, seeds=(seed, seed + 1, seed + 2), refine=False))
