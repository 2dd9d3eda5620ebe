r"""The audit's memorization section: are the model's samples copies of training points?

Two criteria of the papers, applied to the model's samples ``x`` and the training set:

* Buchanan et al. (paper 000), Def. 2.2: ``x`` is memorized if
  ``|x - x^(1)|^2 <= c |x - x^(2)|^2`` with ``c = 1/9`` (the "1/3 rule" on distances:
  the nearest training point is at most a third as far as the second nearest), ``x^(k)`` the
  k-th nearest training point (the rule of :func:`diffmem_theory.core.metrics.is_memorized`).
  The fraction memorized places the model on paper 000's phase transition (Sec. 4,
  App. H.1): it starts at 1/10, is "memorizing on average" at 1/2 and ends at 9/10.
* Baptista et al. (paper 002), Secs. 5.1-5.3: the fraction of samples within ``tau`` of a
  training point (the rule of :func:`diffmem_theory.core.metrics.memorization_fraction`). The
  paper's ``tau = 1e-2`` (analytic scores) and ``tau = 0.1`` (networks) are absolute radii for 20
  points in the plane whose median nearest-neighbour distance is 0.38: 3 % and 27 % of it.
  An absolute radius means nothing for another data set (at d = 784 with pixels in [0, 1]
  nearest-neighbour images are several units apart, and ``1e-2`` demands a copy to 4e-4 root
  mean square a pixel). The
  default is therefore relative: ``tau = tau_rel * r_NN`` with ``tau_rel = 0.1`` and ``r_NN``
  the median distance from a training point to its nearest *other* training point (a sample
  ten times nearer to a training point than training points are to each other, between the
  paper's two choices); an absolute ``tau`` can be given instead.

With a held-out set, the distances of the samples to their nearest training point are compared
with those of the held-out points: a model that samples the data distribution, independently
of the training set, puts its samples as far from the training set as held-out points are
(exchangeability; our reference), so the ratio of the medians is near 1 for a generalizing
model and near 0 for one that copies. The distances to the nearest held-out point are shown
too (a set of another size: their median ratio to the training distances is below 1 even for a
perfect model when there are more training than held-out points).

Cost: one nearest-neighbour search of the samples in the training set, one in the held-out set
and at most two of ``n_points`` points (:func:`diffmem_theory.core.metrics.two_nearest`: one
BLAS matmul each, 0.4 s for 1,000 samples against 8,000 training points in d = 784 on 2 quiet
cores); no denoiser is evaluated.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from diffmem_theory._validation import (
    as_points,
    bounded_points,
    check_int,
    check_scalar,
    check_seed,
)
from diffmem_theory.audit.base import AuditInputs, Section, Value, check_inputs
from diffmem_theory.core.metrics import fraction_se, two_nearest
from diffmem_theory.plotting import PALETTE, figure, paper_style

__all__ = ["TAU_REL", "nearest_neighbour_scale", "resolve_tau", "section"]

#: Default radius of the "within tau" criterion, as a fraction of the median nearest-neighbour
#: distance of the training set.
TAU_REL = 0.1

_DEF_2_2 = "Buchanan et al. (paper 000), Def. 2.2"
_SEC_5 = "Baptista et al. (paper 002), Secs. 5.1-5.3"
_N_IMAGES = 10  # samples shown beside their nearest training images
_STREAM = 1  # this section's random stream: default_rng([seed, _STREAM])


def _subsample(n: int, n_points: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``min(n, n_points)`` of ``n`` items drawn without replacement."""
    if n <= n_points:
        return np.arange(n)
    return np.sort(rng.choice(n, size=n_points, replace=False))


def nearest_neighbour_scale(
    train: np.ndarray, *, n_points: int = 1000, seed: int = 0
) -> tuple[float, int]:
    r"""Median distance from a training point to its nearest *other* training point, ``r_NN``.

    ``r_NN = median_i min_{j != i} |x_i - x_j|`` over ``n_points`` training points drawn
    without replacement (all of them when ``N <= n_points``), each searched against the whole
    training set (a repeated point has distance 0). It is the scale at which a fresh draw of
    the data distribution meets the training set, the reference of the relative ``tau``.

    Parameters
    ----------
    train : (N, d) ndarray
        The training points, ``N >= 2``.
    n_points : int, default 1000
        Training points whose nearest neighbour is searched.
    seed : int, default 0
        Seeds the subsample.

    Returns
    -------
    r_nn : float
        The median distance.
    m : int
        The number of points it is the median of.

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [3.0], [7.0]])   # nearest others: 1, 1, 2, 4
    >>> nearest_neighbour_scale(X)
    (1.5, 4)
    """
    train = bounded_points(as_points(train, "train"), "train")
    n_points = check_int(n_points, "n_points", low=1)
    seed = check_seed(seed)
    if train.shape[0] < 2:
        raise ValueError(f"train must hold at least 2 points, got shape {train.shape}")
    sub = _subsample(train.shape[0], n_points, np.random.default_rng([seed, _STREAM]))
    sq, idx = two_nearest(train[sub], train)
    # a point is its own nearest (distance 0) unless an exact duplicate was reported first
    other = np.where(idx[:, 0] == sub, sq[:, 1], sq[:, 0])
    return float(np.median(np.sqrt(other))), int(sub.size)


def resolve_tau(
    train: np.ndarray,
    tau: float | None = None,
    *,
    tau_rel: float = TAU_REL,
    n_points: int = 1000,
    seed: int = 0,
) -> tuple[float, str]:
    r"""The radius of the "within tau" criterion and how it was chosen.

    ``tau`` when given (an absolute radius, as in Baptista et al. (paper 002), Secs. 5.1-5.3);
    otherwise ``tau_rel * r_NN`` with ``r_NN`` of :func:`nearest_neighbour_scale`.

    Parameters
    ----------
    train : (N, d) ndarray
        The training points.
    tau : float, optional
        An absolute radius, ``> 0``.
    tau_rel : float, default 0.1
        The radius as a fraction of ``r_NN``, ``> 0`` (used when ``tau`` is None).
    n_points, seed
        As in :func:`nearest_neighbour_scale`.

    Returns
    -------
    tau : float
    how : str
        A sentence saying how ``tau`` was chosen.

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [3.0], [7.0]])
    >>> round(resolve_tau(X)[0], 12), resolve_tau(X, 0.01)[0]
    (0.15, 0.01)
    """
    if tau is not None:
        tau = check_scalar(tau, "tau", low=0.0, low_open=True)
        return tau, f"tau = {tau:.4g}, an absolute radius given by the user"
    tau_rel = check_scalar(tau_rel, "tau_rel", low=0.0, low_open=True)
    r_nn, m = nearest_neighbour_scale(train, n_points=n_points, seed=seed)
    if r_nn == 0.0:
        raise ValueError(
            "tau: the median nearest-neighbour distance of train is 0 (most points are "
            "repeated), so a relative tau is 0; give an absolute tau"
        )
    how = (
        f"tau = tau_rel r_NN = {tau_rel:.3g} x {r_nn:.4g}: r_NN the median distance from a "
        f"training point to its nearest other training point (over {m} points)"
    )
    return tau_rel * r_nn, how


def _histogram(values: np.ndarray, edges: np.ndarray) -> list[int]:
    return np.histogram(values, bins=edges)[0].tolist()


def section(
    inputs: AuditInputs,
    *,
    c: float = 1 / 9,
    tau: float | None = None,
    tau_rel: float = TAU_REL,
    n_points: int = 1000,
    bins: int = 40,
) -> Section:
    r"""Memorization of the model's samples: paper 000's 1/3 rule and paper 002's radius tau.

    Values (``B`` samples, ``N`` training points; see the module docstring):

    * fraction memorized, ``mean 1{d_1^2 <= c d_2^2}`` (Buchanan et al. (paper 000),
      Def. 2.2), with its binomial standard error ``sqrt(p (1 - p) / B)``;
    * the median of ``d_1 / d_2`` over the samples (below ``sqrt(c) = 1/3``: memorized);
    * ``tau`` and the fraction within it, ``mean 1{d_1 < tau}`` (Baptista et al. (paper 002),
      Secs. 5.1-5.3), with its binomial standard error;
    * the median of ``d_1``; with a held-out set the median distance of held-out points to
      their nearest training point, the ratio of the two medians (near 1 for a model that
      samples the data distribution, near 0 for one that copies) and the median over samples
      of ``d_1 / h_1``, ``h_1`` the distance to the nearest held-out point.

    Verdict: the fraction memorized against paper 000's thresholds 1/10, 1/2 and 9/10
    (Sec. 4: start, "memorizing on average", end of the phase transition), two standard errors
    clear of a threshold.

    Parameters
    ----------
    inputs : AuditInputs
        The samples, training and held-out points.
    c : float, default 1/9
        The ratio of squared distances of Def. 2.2, ``0 < c < 1`` (paper 000's experiments:
        1/9).
    tau : float, optional
        An absolute radius for the "within tau" fraction; default ``tau_rel r_NN``
        (:func:`resolve_tau`).
    tau_rel : float, default 0.1
        The relative radius (used when ``tau`` is None), ``> 0``.
    n_points : int, default 1000
        Training points (for ``r_NN``) and held-out points whose nearest training point is
        searched, at most.
    bins : int, default 40
        Bins of the histograms, ``>= 1``.

    Returns
    -------
    Section
        Key ``"memorization"``; figure ``"distances"`` (histograms of the distances and of
        ``d_1 / d_2``) and, for images (``inputs.image_shape``), ``"nearest_images"``: the
        first samples above their nearest training images, each titled with its
        ``d_1 / d_2``; curves: the histograms (edges and counts).

    Examples
    --------
    >>> from diffmem_theory.core.denoisers import as_denoiser
    >>> from diffmem_theory.core.distributions import EmpiricalDistribution
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> rng = np.random.default_rng(0)
    >>> train, held = rng.standard_normal((30, 3)), rng.standard_normal((10, 3))
    >>> model = as_denoiser(EmpiricalDistribution(train), VPTrig())
    >>> inputs = AuditInputs(train, held, model, "empirical", VPTrig(), train[:8] + 1e-6,
    ...                      None, None, np.array([0.5]), 1, 0)
    >>> sec = section(inputs)
    >>> sec.value("fraction memorized (1/3 rule)").value
    1.0
    >>> sec.value("median distance to the training set, samples / held-out").value < 1e-4
    True
    """
    check_inputs(inputs)
    c = check_scalar(c, "c", low=0.0, high=1.0, low_open=True, high_open=True)
    n_points = check_int(n_points, "n_points", low=1)
    bins = check_int(bins, "bins", low=1, high=10_000)
    train, samples, held = inputs.train, inputs.samples, inputs.held_out
    if train.shape[0] < 2:
        raise ValueError(
            f"inputs.train must hold at least 2 points (Def. 2.2 compares the nearest with the "
            f"second nearest), got shape {train.shape}"
        )
    tau, how = resolve_tau(train, tau, tau_rel=tau_rel, n_points=n_points, seed=inputs.seed)
    B = samples.shape[0]

    # one search for both criteria: the flags of is_memorized (d_1^2 <= c d_2^2) and of
    # memorization_fraction (d_1 < tau) on the exact distances of two_nearest, which both use
    sq, nearest = two_nearest(samples, train)
    frac = float(np.mean(sq[:, 0] <= c * sq[:, 1]))
    within = float(np.mean(sq[:, 0] < tau * tau))
    d1 = np.sqrt(sq[:, 0])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(sq[:, 1] > 0, d1 / np.sqrt(sq[:, 1]), 0.0)
    third = float(np.sqrt(c))
    values = [
        Value(
            "fraction memorized (1/3 rule)",
            frac,
            fraction_se(frac, B),
            _DEF_2_2,
            f"the fraction of the {B} samples with |x - x^(1)|^2 <= {c:.4g} |x - x^(2)|^2",
        ),
        Value(
            "median nearest / second-nearest distance ratio",
            float(np.median(ratio)),
            None,
            _DEF_2_2,
            f"d_1 / d_2 over the samples; a sample is memorized below sqrt(c) = {third:.3g}",
        ),
        Value("tau", tau, None, _SEC_5, how),
        Value(
            "fraction within tau",
            within,
            fraction_se(within, B),
            _SEC_5,
            "the fraction of samples with |x - x^(1)| < tau",
        ),
        Value(
            "median distance to the nearest training point, samples",
            float(np.median(d1)),
            None,
            "the distance d_1 of Def. 2.2",
            "",
        ),
    ]
    top = float(d1.max())
    curves: dict[str, Any] = {"ratio_edges": np.linspace(0.0, 1.0, bins + 1)}
    curves["ratio_counts"] = _histogram(ratio, curves["ratio_edges"])
    held_note = "no held-out set: the samples are compared with the training set only"
    if held is not None:
        sub = _subsample(held.shape[0], n_points, np.random.default_rng([inputs.seed, _STREAM]))
        ref = np.sqrt(two_nearest(held[sub], train)[0][:, 0])
        h1 = np.sqrt(two_nearest(samples, held)[0][:, 0])
        med_ref = float(np.median(ref))
        with np.errstate(divide="ignore", invalid="ignore"):
            per_sample = np.where(h1 > 0, d1 / h1, np.where(d1 > 0, np.inf, 1.0))
        values += [
            Value(
                "median distance to the nearest training point, held-out",
                med_ref,
                None,
                "reference: a fresh draw of the data distribution",
                f"over {sub.size} held-out points",
            ),
            Value(
                "median distance to the training set, samples / held-out",
                float(np.median(d1)) / med_ref if med_ref > 0 else float("nan"),
                None,
                "exchangeability: samples independent of the training set give 1",
                "near 1: the samples are as far from the training set as unseen data; "
                "near 0: they copy training points",
            ),
            Value(
                "median over samples of d(training) / d(held-out)",
                float(np.median(per_sample)),
                None,
                "nearest training vs nearest held-out point of each sample",
                f"below 1 even for a model of the data distribution when the training set "
                f"({train.shape[0]}) is larger than the held-out set ({held.shape[0]})",
            ),
        ]
        top = max(top, float(ref.max()), float(h1.max()))
        held_note = f"{held.shape[0]} held-out points: the reference for a model that does not copy"
    edges = np.linspace(0.0, top if top > 0 else 1.0, bins + 1)
    curves["distance_edges"] = edges
    curves["samples_to_train_counts"] = _histogram(d1, edges)
    if held is not None:
        curves["held_out_to_train_counts"] = _histogram(ref, edges)
        curves["samples_to_held_out_counts"] = _histogram(h1, edges)

    fig, axes = figure(ncols=2, aspect=0.7, pyplot=False)
    with paper_style():
        ax = axes[0]
        ax.hist(d1, bins=edges, color=PALETTE[0], alpha=0.6, label="samples to training")
        if held is not None:
            ax.hist(ref, bins=edges, color=PALETTE[2], alpha=0.5, label="held-out to training")
            ax.hist(h1, bins=edges, histtype="step", color=PALETTE[1], label="samples to held-out")
        ax.axvline(tau, color="k", linestyle="--", linewidth=0.8, label=r"$\tau$")
        ax.set_xlabel("distance to the nearest point")
        ax.set_ylabel("count")
        ax.legend()
        ax = axes[1]
        ax.hist(ratio, bins=curves["ratio_edges"], color=PALETTE[0], alpha=0.7)
        ax.axvline(
            third, color="k", linestyle="--", linewidth=0.8, label=rf"$\sqrt{{c}}$ = {third:.3g}"
        )
        ax.set_xlabel(r"$d_1 / d_2$ (nearest / second-nearest training point)")
        ax.set_ylabel("count")
        ax.legend()
    figures = {"distances": fig}
    if inputs.image_shape is not None:
        first = min(B, _N_IMAGES)
        figures["nearest_images"] = _nearest_images(
            samples[:first], train[nearest[:first, 0]], ratio[:first], third, inputs.image_shape
        )

    return Section(
        key="memorization",
        title="Memorization of the samples: the 1/3 rule and the radius tau",
        theorem=f"{_DEF_2_2} (memorized sample); {_SEC_5} (fraction within tau)",
        assumptions=[
            "Euclidean distances between flattened samples, in the data's scaling",
            f"Def. 2.2 with c = {c:.4g}: a sample is memorized when its nearest training "
            f"point is at most {third:.3g} times as far as the second nearest",
            how,
            held_note,
        ],
        values=values,
        verdict=_verdict(frac, fraction_se(frac, B), within, tau, values),
        figures=figures,
        curves=curves,
    )


def _nearest_images(
    samples: np.ndarray,
    nearest: np.ndarray,
    ratio: np.ndarray,
    third: float,
    shape: tuple[int, ...],
) -> Any:
    """The first samples (top row) above their nearest training images (bottom row).

    Each column is titled with the sample's ``d_1 / d_2`` (memorized, in red, below
    ``sqrt(c)``); every image is shown on the common range of all of them, so that a copy looks
    the same as its original.
    """
    k = samples.shape[0]
    lo = float(min(samples.min(), nearest.min()))
    hi = float(max(samples.max(), nearest.max()))
    hi = hi if hi > lo else lo + 1.0
    fig, axes = figure(ncols=k, nrows=2, aspect=1.0, pyplot=False)
    gray = len(shape) == 2 or shape[-1] == 1
    for j in range(k):
        for row, image in enumerate((samples[j], nearest[j])):
            ax = axes[row * k + j]
            if gray:
                ax.imshow(image.reshape(shape[:2]), cmap="gray", vmin=lo, vmax=hi)
            else:  # colour: imshow takes RGB(A) values in [0, 1]
                ax.imshow(np.clip((image.reshape(shape) - lo) / (hi - lo), 0.0, 1.0))
            ax.set_xticks([])
            ax.set_yticks([])
        memorized = ratio[j] <= third
        axes[j].set_title(f"{ratio[j]:.2f}", color="C3" if memorized else "k", fontsize=8)
    axes[0].set_ylabel("sample", fontsize=8)
    axes[k].set_ylabel("nearest\ntraining", fontsize=8)
    return fig


def _verdict(frac: float, se: float, within: float, tau: float, values: list[Value]) -> str:
    """The fraction memorized against paper 000's phase-transition thresholds (Sec. 4)."""
    lo, hi = frac - 2.0 * se, frac + 2.0 * se
    if hi < 0.1:
        regime = "the model does not memorize: fewer than 1/10 of its samples are memorized"
    elif lo >= 0.9:
        regime = "the model memorizes: at least 9/10 of its samples are training points"
    elif lo >= 0.5:
        regime = "the model memorizes on average (more than 1/2 of its samples)"
    elif hi < 0.5:
        regime = "the model partly memorizes (between 1/10 and 1/2 of its samples)"
    else:
        regime = "the model is at paper 000's threshold 1/2 of memorizing on average"
    text = (
        f"{100 * frac:.1f}% +- {100 * se:.1f}% of the samples are memorized by the 1/3 rule "
        f"and {100 * within:.1f}% lie within tau = {tau:.3g} of a training point: {regime}."
    )
    ratio = [v.value for v in values if v.name.endswith("samples / held-out")]
    if ratio:
        text += (
            f" The samples' median distance to the training set is {ratio[0]:.3g} times the "
            "held-out points' (1 for samples of the data distribution, 0 for copies)."
        )
    return text
