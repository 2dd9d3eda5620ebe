r"""``paper000.fig4`` and ``paper000.fig5``: the colored-template image model (Sec. 4.2, App. H.4).

Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models" (paper 000).

Templates: :func:`diffmem_theory.crossover.template_data.generated_templates` (procedural garment
silhouettes, 15 x 15, jointly min-max normalized), or real FashionMNIST templates
(:func:`~diffmem_theory.crossover.template_data.load_fashion_mnist_templates`) when the environment
variable ``DIFFMEM_FASHION_MNIST`` names a directory holding the IDX files. Colors ``c ~ N(0, I_3)``
(``u_* = 0``, ``s_*^2 = 1``), sample ``y = c (x) x_k``.

``paper000.fig4`` (Fig. 4): ``N = K = 8``; the ``K`` templates (top row) and one colored sample of
each (bottom row; as the authors' code, the first sample of each template among 100 draws).
Each sample is shown as an RGB image with channel ``k = c_k x_*`` mapped linearly by
``0.5 + 0.5 y / max|y|`` (colors have both signs: the zero background shows as mid-gray, a
negative channel darker).

``paper000.fig5`` (Fig. 5, the image-model analogue of Fig. 2): ``N = 100`` samples of ``K = 4``
templates, ``c = 3``; ten models ``M = N/10, 2N/10, ..., N`` trained by
:func:`~diffmem_theory.crossover.template_model.train_template_denoiser` from the
partial-memorization initialization. Panels: (a) memorization ratio (``N_eval = 50`` DDIM samples on
the 26-point grid, Def. 2.2 with ``c = 1/9``) against ``M/N`` with the phase transition (ratio 1/10
to 9/10) shaded; (b) training loss ``L_{N,t}`` at ``t_16 = 0.36028`` (``psi = 6.704``, x0 units) of
the trained models against the partially memorizing ``xbar_pmem,M``, memorizing ``xbar_mem`` and
ground-truth ``xbar_*`` denoisers; (c) the test loss ``L_t`` on 100 held-out samples.

* Full mode: the paper's training (App. H.1): 100,000 epochs, ``n_dup = 100``, Adam (b2 = 0.999)
  with lr ``0 -> 1e-3`` over 1/10 of the epochs then ``-> 1e-6``, one grid time per sample and
  epoch; losses with 100 noise draws per point, baselines for every ``M = 1..N``. The ten models
  are trained in lock step
  (:func:`~diffmem_theory.crossover.template_model.train_template_denoisers`: one draw of each
  epoch's noise serves all ten, and each model gets the bits it gets alone);
  ``checkpoint_dir`` makes the run resumable.
* Quick mode (about 30 s of CPU; same data, ``N``, ``K`` and 15 x 15 images): a compressed
  schedule -- 1,000 epochs, ``n_dup = 5``, lr ``0 -> 2e-3`` over 100 epochs then ``-> 1e-6``, Adam
  ``b2 = 0.9``, and *stratified* grid times (draw ``r`` of a sample at grid index ``(k + r) mod
  26``: still an unbiased estimate of the same loss, with much less epoch-to-epoch noise, see
  :func:`~diffmem_theory.crossover.template_model.template_objective`). Why: the ``psi_t`` weighting
  makes the gradient heavy-tailed (``psi = 1e6`` at ``t = 0.001``); with ``b2 = 0.999`` or ``0.99``
  Adam's second moment remembers the large early gradients and a compressed run barely moves the
  variance (M = 10: ``s`` from 1e-3 to 0.05 in 600 epochs at lr 1e-2), while with ``b2 = 0.9`` it
  reaches the generalizing ``s2 ~ 1`` in a few hundred. A larger peak lr (1e-2) makes the Adam steps
  jitter the templates enough to knock even ``M = N`` out of the memorizing basin (it then
  generalizes too); 2e-3 keeps ``M = N`` memorizing. Losses with 20 noise draws per point, baselines
  on the grid of trained ``M``.
  Result (seed 0, generated templates): ratios 0-0.14 for ``M <= 90`` and 1.0 at
  ``M = N``, the learned color variance (in units of the true one) falling from 0.68 (M = 10) to
  0.05 (M = 90) and 0 (M = 100); with the eps weighting the transition sits at the very end
  (eq. (14) gives ``M_*/N ~ 1`` for ``lambda = psi_t``). ``n_dup = 10`` gives the same picture
  (ratios 0-0.14 up to M = 90, variance 0.72 to 0.06) at twice the cost.

Example
-------
>>> from diffmem_theory.registry import get_experiment
>>> fig4 = get_experiment("paper000.fig4").run(quick=True)
>>> fig4["templates"].shape, fig4["samples"].shape
((8, 15, 15), (8, 3, 15, 15))
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from diffmem_theory.core.denoisers import (
    memorized_subset,
    memorizing_denoiser,
    partial_memorizing_denoiser,
)
from diffmem_theory.core.distributions import TemplateMixture
from diffmem_theory.core.dynamics import ddim_sample
from diffmem_theory.core.losses import test_loss, training_losses
from diffmem_theory.core.metrics import memorization_ratio, phase_transition
from diffmem_theory.core.schedules import VPTrig
from diffmem_theory.core.training import TrainConfig
from diffmem_theory.crossover.template_data import (
    generated_templates,
    load_fashion_mnist_templates,
)
from diffmem_theory.crossover.template_model import train_template_denoisers
from diffmem_theory.plotting import PALETTE, figure, paper_style
from diffmem_theory.registry import experiment

_C, _SIZE, _VAR_STAR = 3, 15, 1.0
_T16 = 16
_N_EVAL, _MEM_C = 50, 1 / 9
# random streams (SeedSequence spawn keys) apart from the training noise (small epoch numbers)
_DATA_KEY, _SAMPLE_KEY, _FIG4_KEY, _SUBSET_KEY = 2**30 + 10, 2**30 + 11, 2**30 + 12, 2**30 + 13
#: environment variable naming a FashionMNIST directory (train-images-idx3-ubyte[.gz], ...)
FASHION_MNIST_ENV = "DIFFMEM_FASHION_MNIST"

#: Quick-mode training of Fig. 5 (see the module docstring).
QUICK_CONFIG = TrainConfig(
    n_epochs=1000,
    n_dup=5,
    peak_lr=2e-3,
    final_lr=1e-6,
    warmup=0.1,
    adam_b2=0.9,
    extra={"time_sampling": "stratified"},
)
#: Full-mode training of Fig. 5: the paper's App. H.1 settings for Sec. 4.2.
FULL_CONFIG = TrainConfig(n_epochs=100_000, n_dup=100)


def _rng(seed: int, key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(key,)))


def _templates(K: int, seed: int) -> tuple[np.ndarray, str]:
    path = os.environ.get(FASHION_MNIST_ENV)
    if path:
        return load_fashion_mnist_templates(path, K, _SIZE, seed=1), "FashionMNIST"
    return generated_templates(K, _SIZE, seed=seed), "generated"


def _rgb(image: np.ndarray) -> np.ndarray:
    """``(c, h, w)`` -> ``(h, w, 3)`` in [0, 1]: ``0.5 + 0.5 y / max|y|`` (for display only)."""
    scale = float(np.abs(image).max())
    img = 0.5 + 0.5 * image / scale if scale > 0 else np.full_like(image, 0.5)
    return np.moveaxis(img[:3], 0, -1)


# ----------------------------------------------------------------------------------------------
# paper000.fig4
# ----------------------------------------------------------------------------------------------


def _plot_fig4(result: dict[str, Any]) -> Any:
    k = result["K"]
    fig, axes = figure(ncols=k, nrows=2, aspect=1.0)
    with paper_style():
        for j in range(k):
            top, bottom = axes[j], axes[k + j]
            top.imshow(result["templates"][j], cmap="gray", vmin=0.0, vmax=1.0)
            bottom.imshow(_rgb(result["samples"][j]))
            c = result["colors"][j]
            bottom.set_title(f"c = ({c[0]:.1f}, {c[1]:.1f}, {c[2]:.1f})", fontsize=5.5)
            for ax in (top, bottom):
                ax.set_xticks([])
                ax.set_yticks([])
                ax.grid(False)
                for spine in ax.spines.values():
                    spine.set_visible(False)
        axes[0].set_ylabel("template $x_*$", fontsize=7)
        axes[k].set_ylabel(r"sample $c \otimes x_*$", fontsize=7)
        fig.suptitle(
            f"{result['source']} templates ({result['size']}$\\times${result['size']}) and "
            "colored samples, $c \\sim N(0, I_3)$",
            fontsize=8,
        )
    return fig


@experiment(
    "paper000.fig4",
    plot=_plot_fig4,
    figure="Fig. 4",
    title="Image-model templates (top) and colored samples (bottom), N = K = 8",
)
def run_fig4(quick: bool = True, seed: int = 0) -> dict[str, Any]:
    """``K = 8`` templates and the first of 100 samples drawn from each (same in both modes)."""
    k = 8
    tpl, source = _templates(k, seed)
    mix = TemplateMixture(tpl, np.zeros((k, _C)), _VAR_STAR)
    rng = _rng(seed, _FIG4_KEY)
    X, labels = mix.sample(100, rng)
    while np.unique(labels).size < k:  # (practically never: P < 8 (7/8)^100 ~ 1e-5)
        more, more_labels = mix.sample(100, rng)
        X, labels = np.concatenate([X, more]), np.concatenate([labels, more_labels])
    first = np.array([int(np.flatnonzero(labels == j)[0]) for j in range(k)])
    samples = X[first].reshape(k, _C, _SIZE, _SIZE)
    flat = tpl.reshape(k, -1)
    # the color of sample j given its template j (least squares, exact here)
    colors = (
        np.einsum("jcp,jp->jc", samples.reshape(k, _C, -1), flat)
        / np.einsum("jp,jp->j", flat, flat)[:, None]
    )
    return {
        "K": k,
        "N": k,
        "size": _SIZE,
        "source": source,
        "seed": seed,
        "templates": tpl,
        "samples": samples,
        "colors": colors,
        "sample_index": first,
    }


# ----------------------------------------------------------------------------------------------
# paper000.fig5
# ----------------------------------------------------------------------------------------------


_PMEM, _GEN = r"$\bar x_{\mathrm{pmem},M}$", r"$\bar x_*$ (ground truth)"


def _plot_fig5(result: dict[str, Any]) -> Any:
    fig, (ax_r, ax_train, ax_test) = figure(ncols=3, aspect=0.85)
    ratio_m = result["M"] / result["N"]
    base = result["M_baseline"] / result["N"]
    pt = result["phase_transition"]
    c_model, c_pmem, c_mem, c_gen = PALETTE[0], PALETTE[1], PALETTE[6], PALETTE[2]
    with paper_style():
        for ax in (ax_r, ax_train, ax_test):
            if pt["M_start"] is not None and pt["M_end"] is not None:
                ax.axvspan(
                    pt["M_start"] / result["N"],
                    pt["M_end"] / result["N"],
                    color="0.85",
                    linewidth=0,
                    label="phase transition",
                )
        ax_r.plot(ratio_m, result["ratio"], "o-", color=c_model, label="trained models")
        ax_r.axhline(0.5, color="0.4", linestyle=":", linewidth=0.8)
        ax_r.set(
            xlabel="$M/N$",
            ylabel=f"memorization ratio ($N_{{eval}} = {result['n_eval']}$)",
            title="(a) memorization ratio",
            xlim=(0, 1.03),
            ylim=(-0.03, 1.03),
        )
        ax_r.legend(loc="upper left", fontsize=6)
        t16, psi = result["t"], result["psi"]
        for ax, key, title in (
            (ax_train, "train", "(b) training loss"),
            (ax_test, "test", "(c) test loss (100 held-out)"),
        ):
            ax.plot(base, result[f"{key}_pmem"], "-", color=c_pmem, lw=0.9, label=_PMEM)
            ax.axhline(result[f"{key}_mem"], color=c_mem, lw=0.8, label=r"$\bar x_{\mathrm{mem}}$")
            ax.axhline(result[f"{key}_gen"], color=c_gen, linestyle="--", lw=0.9, label=_GEN)
            ax.plot(ratio_m, result[f"{key}_model"], "o", color=c_model, label="trained models")
            ax.set_yscale("log")
            ax.set(
                xlabel="$M/N$",
                ylabel=rf"$L_t$, $t = {t16:.3f}$ ($\psi_t = {psi:.3f}$)",
                title=title,
                xlim=(0, 1.03),
            )
        ax_test.legend(loc="center right", fontsize=6, frameon=True, framealpha=0.9)
        mode = "quick" if result["quick"] else "full"
        fig.suptitle(
            f"$N = {result['N']}$, $K = {result['K']}$, {result['source']} templates "
            f"{result['size']}$\\times${result['size']}, $c = {result['c']}$; "
            f"{mode}: {result['n_epochs']} epochs, "
            f"$n_{{dup}} = {result['n_dup']}$",
            fontsize=8,
        )
    return fig


@experiment(
    "paper000.fig5",
    plot=_plot_fig5,
    figure="Fig. 5",
    title="Image model (N=100, K=4, c=3): memorization ratio and train/test loss at t_16 vs M/N",
)
def run_fig5(
    quick: bool = True,
    seed: int = 0,
    *,
    checkpoint_dir: str | os.PathLike | None = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Train the ten models of Fig. 5 and evaluate them (quick: compressed schedule, module doc).

    ``checkpoint_dir``: one resumable checkpoint of the ten models (``fig5_seed=<seed>.npz``).
    """
    sched = VPTrig()
    n, k = 100, 4
    cfg = QUICK_CONFIG if quick else FULL_CONFIG
    cfg = TrainConfig(**{**cfg.__dict__, "seed": seed})
    n_noise = 20 if quick else 100
    ms = np.arange(n // 10, n + 1, n // 10)
    ms_base = ms if quick else np.arange(max(n // 100, 1), n + 1, max(n // 100, 1))
    t16 = float(sched.time_grid()[_T16])
    tpl, source = _templates(k, seed)
    mix = TemplateMixture(tpl, np.zeros((k, _C)), _VAR_STAR)
    X, labels = mix.sample(n, _rng(seed, _DATA_KEY))

    ck = None
    if checkpoint_dir is not None:
        ck = Path(checkpoint_dir) / f"fig5_seed={seed}{'_quick' if quick else ''}.npz"
    # the ten models in lock step: one draw of each epoch's noise serves all (same bits as alone)
    models = train_template_denoisers(
        X, [int(m) for m in ms], cfg, templates=tpl, labels=labels, checkpoint=ck,
        progress=progress is not False,
    )  # fmt: skip

    ratios, samples = [], []
    for i, res in enumerate(models):
        smp = ddim_sample(
            lambda x, t, mod=res.model: mod.denoiser(x, t, sched),
            sched,
            n=_N_EVAL,
            d=X.shape[1],
            rng=_rng(seed, _SAMPLE_KEY + i),
        )
        samples.append(smp)
        ratios.append(memorization_ratio(smp, X, c=_MEM_C))
    ratios_arr = np.array(ratios)
    pt = phase_transition(ms, ratios_arr)

    def evaluate(dens: dict[str, Any]) -> tuple[dict[str, float], dict[str, float]]:
        train = training_losses(dens, X, t16, sched, n_noise=n_noise, seed=seed)
        test = {
            name: float(test_loss(f, mix, t16, sched, n_noise=n_noise, seed=seed).mean[0])
            for name, f in dens.items()
        }
        return {name: float(est.mean[0]) for name, est in train.items()}, test

    model_dens = {
        f"M={int(m)}": (lambda x, t, mod=res.model: mod.denoiser(x, t, sched))
        for m, res in zip(ms, models, strict=True)
    }
    base_dens: dict[str, Any] = {
        "gen": lambda x, t: mix.denoiser(x, t, sched),
        "mem": lambda x, t: memorizing_denoiser(x, t, X, sched),
    }
    sub_rng = _rng(seed, _SUBSET_KEY)
    for m in ms_base:
        keep = memorized_subset(n, int(m), rng=sub_rng)
        base_dens[f"pmem{int(m)}"] = lambda x, t, keep=keep: partial_memorizing_denoiser(
            x, t, X, idx=keep, schedule=sched
        )
    train_m, test_m = evaluate(model_dens)
    train_b, test_b = evaluate(base_dens)
    final = [res.model for res in models]
    norm_star = float(np.einsum("kij,kij->", tpl, tpl) / k)
    return {
        "N": n,
        "K": k,
        "c": _C,
        "size": _SIZE,
        "source": source,
        "quick": quick,
        "seed": seed,
        "n_epochs": cfg.n_epochs,
        "n_dup": cfg.n_dup,
        "config": cfg.__dict__,
        "n_noise": n_noise,
        "n_eval": _N_EVAL,
        "M": ms,
        "M_baseline": ms_base,
        "t": t16,
        "psi": float(sched.snr(t16)),
        "ratio": ratios_arr,
        "phase_transition": {"M_start": pt.M_start, "M_pt": pt.M_pt, "M_end": pt.M_end},
        "train_model": np.array([train_m[f"M={int(m)}"] for m in ms]),
        "test_model": np.array([test_m[f"M={int(m)}"] for m in ms]),
        "train_pmem": np.array([train_b[f"pmem{int(m)}"] for m in ms_base]),
        "test_pmem": np.array([test_b[f"pmem{int(m)}"] for m in ms_base]),
        "train_mem": train_b["mem"],
        "test_mem": test_b["mem"],
        "train_gen": train_b["gen"],
        "test_gen": test_b["gen"],
        "color_var": np.array([mod.color_var for mod in final]),
        # the learned color variance in units of the true one (templates may rescale)
        "color_var_eff": np.array(
            [
                mod.color_var
                * float(np.einsum("mij,mij->", mod.templates, mod.templates))
                / mod.n_components
                / norm_star
                for mod in final
            ]
        ),
        "final_loss": np.array([float(np.mean(res.losses[-20:])) for res in models]),
    }
