r"""Paper 000's laboratory with MLP denoisers: memorization ratio against parameter count.

Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models" (paper 000)
study GMM denoisers whose capacity is the number of components ``M`` (``M d + 1`` parameters)
and predict by eq. (14) that memorization sets in at ``M_*/N``, independent of ``d`` and
``K``. Here the denoiser is a ReLU MLP (:func:`~diffmem_theory.nn.mlp`, three hidden layers of
one width, Fourier time features) and its capacity is its parameter count ``P``; on the common
axis "parameters relative to ``N d``" a GMM sits at ``(M d)/(N d) = M/N`` and a network at
``P/(N d)``. Each network is trained on the data of Sec. 4.1 (``K`` means uniform on the
sphere of radius ``sqrt(d)``, ``sigma_*^2 = 1``, ``N`` samples; the same generator and seed
stream as the GMM figures) under VPTrig with the DSM loss in noise-prediction units and the
paper's training weighting ``lambda = psi_t`` (eq. (6); with an ``"eps"`` network the loss is
``|eps_hat - eps|^2``, as in the authors' code), Adam and an EMA (decay 0.999) of the
parameters. It is sampled by deterministic DDIM on the paper's 26-point grid (App. H.2, the
sampler of the GMM figures) and its memorization ratio is Def. 2.2 with ``c = 1/9`` and the
authors' strict rule ``|x - x^(1)| < |x - x^(2)| / 3``.

Where the paper is silent (it trains no MLP) we chose:

* the laboratory ``N = 20, d = 10, K = 2`` instead of Fig. 2's ``N = 200, d = 50, K = 12``: at
  Fig. 2's size no network of width up to 512 memorized a single one of 50 samples after 3,000
  full-batch epochs (26 s for width 512 alone), so the sweep would need hours. The smaller
  laboratory keeps about 10 samples per cluster and distances that concentrate (a fresh sample
  of the mixture is memorized with probability near 0);
* times ``t ~ U[0.001, 0.999]`` per example and step, not uniform on the 26-point grid (the
  paper's GMM training; :func:`~diffmem_theory.nn.train` draws continuous times);
* full batch, constant learning rate (no warmup-decay schedule), EMA decay 0.999.

Quick mode (:data:`QUICK`): widths 8 to 128, 20,000 epochs at learning rate 3e-3 and
``n_eval = 200`` samples. It keeps the figure's point because memorization of an MLP grows
with width at any fixed training length; the shorter, faster training only moves the
transition to larger ``P/(N d)``, and the 200 samples keep the Monte Carlo error of each
ratio below 0.035. Full mode (:data:`FULL`): widths 4 to 256, 50,000 epochs (the paper's GMM
training length) at the paper's peak learning rate 1e-3 and its ``N_eval = 50``.

Needs the ``nn`` extra (JAX, Equinox, Optax).

Examples
--------
>>> out = network_phase(seed=0, widths=(4,), epochs=20, n_eval=5)
>>> out["P"].tolist(), out["ratio"].tolist()
([170], [0.0])
"""

from __future__ import annotations

import functools
import itertools
from typing import Any

import jax
import numpy as np
from numpy.typing import ArrayLike

from diffmem_theory import nn
from diffmem_theory._validation import as_float_array, check_int, check_scalar, check_seed
from diffmem_theory.core.dynamics import ddim_sample
from diffmem_theory.core.metrics import memorization_ratio, phase_transition
from diffmem_theory.core.schedules import VPTrig
from diffmem_theory.crossover.excess import crossover_ratio
from diffmem_theory.crossover.laboratory import laboratory

__all__ = [
    "DEPTH",
    "EMA_DECAY",
    "FULL",
    "LAB",
    "QUICK",
    "half_bracket",
    "network_phase",
    "trained_denoiser",
]

#: The laboratory of the network sweep (smaller than Fig. 2's; see the module docstring).
LAB = {"N": 20, "d": 10, "K": 2}
#: Hidden layers of the MLP.
DEPTH = 3
#: EMA decay of the sampled network.
EMA_DECAY = 0.999
QUICK = {"widths": (8, 16, 32, 64, 128), "epochs": 20_000, "lr": 3e-3, "n_eval": 200}
FULL = {"widths": (4, 8, 16, 32, 64, 128, 256), "epochs": 50_000, "lr": 1e-3, "n_eval": 50}
_SCHED = VPTrig()
_T_MAX = 0.999  # the last time of the paper's grid


def half_bracket(
    x: ArrayLike, ratios: ArrayLike, predictions: ArrayLike
) -> tuple[tuple[float | None, float | None], bool | None]:
    r"""Where a ratio curve first reaches 1/2, and whether a predicted location falls there.

    The bracket is ``(x_below, x_at)``: ``x_at`` the first ``x`` whose ratio is ``>= 1/2``
    (paper 000's ``M_pt``, "memorizing on average") and ``x_below`` the last ``x`` before it
    (``None`` where absent). A prediction ``m`` *locates* the transition when
    ``x_below < m <= x_at`` (``x_below = 0`` when absent) -- the grid cannot resolve it more
    finely. ``predicted`` is true when any of ``predictions`` does, ``None`` when no ratio
    reaches 1/2.

    Parameters
    ----------
    x : array_like, shape (m,)
        Capacities, strictly increasing, ``> 0``.
    ratios : array_like, shape (m,)
        Memorization ratios in ``[0, 1]``.
    predictions : array_like
        Predicted locations on the axis of ``x`` (e.g. eq. (14)'s ``M_*/N``).

    Returns
    -------
    bracket : tuple
        ``(x_below, x_at)``.
    predicted : bool or None

    References
    ----------
    Buchanan et al. (paper 000), Sec. 4 (``M_pt``) and eq. (14).

    Examples
    --------
    >>> half_bracket([0.5, 1.0, 2.0], [0.0, 0.6, 1.0], [0.83])
    ((0.5, 1.0), True)
    >>> half_bracket([2.0, 16.0, 50.0], [0.0, 0.1, 0.5], [0.83, 1.0])
    ((16.0, 50.0), False)
    """
    pt = phase_transition(x, ratios)
    xs = as_float_array(x, "x", ndim=1, dtype=np.float64)
    if np.any(xs <= 0):
        raise ValueError(f"x must be > 0, got {xs.tolist()}")
    m = as_float_array(predictions, "predictions", dtype=np.float64).ravel()
    if pt.M_pt is None:
        return (float(xs[-1]), None), None
    i = int(np.flatnonzero(xs == pt.M_pt)[0])
    below = float(xs[i - 1]) if i > 0 else None
    lo = 0.0 if below is None else below
    return (below, float(pt.M_pt)), bool(np.any((m > lo) & (m <= pt.M_pt)))


def trained_denoiser(
    width: int,
    *,
    epochs: int,
    lr: float,
    seed: int = 0,
    N: int = LAB["N"],
    d: int = LAB["d"],
    K: int = LAB["K"],
) -> Any:
    r"""The EMA network of one training run on the laboratory (cached in-process).

    An ``"eps"`` MLP of ``DEPTH`` hidden layers of ``width`` (initialization
    ``jax.random.key(seed)``) trained full batch for ``epochs`` on the laboratory's data
    (:func:`~diffmem_theory.crossover.laboratory.laboratory`) with
    ``weighting="eps"`` (paper 000's ``lambda = psi_t``; the loss is ``|eps_hat - eps|^2``),
    ``t ~ U[0.001, 0.999]``, Adam at ``lr`` and EMA decay :data:`EMA_DECAY`.

    Parameters
    ----------
    width : int
        Hidden width, ``>= 1``.
    epochs : int
        Full-batch epochs (= Adam steps), ``>= 1``.
    lr : float
        Adam's learning rate, ``> 0``.
    seed : int, default 0
        Seeds the data, the initialization and the training noise.
    N, d, K : int
        The laboratory (default :data:`LAB`).

    Returns
    -------
    MLP
        The EMA network (``prediction="eps"``).

    Examples
    --------
    >>> net = trained_denoiser(4, epochs=10, lr=1e-3)
    >>> net is trained_denoiser(4, epochs=10, lr=1e-3), nn.parameter_count(net)
    (True, 170)
    """
    width = check_int(width, "width", low=1)
    epochs = check_int(epochs, "epochs", low=1)
    lr = check_scalar(lr, "lr", low=0.0, low_open=True)
    seed = check_seed(seed)
    N, d, K = (check_int(v, name, low=1) for v, name in ((N, "N"), (d, "d"), (K, "K")))
    return _trained(width, epochs, lr, seed, N, d, K)


@functools.lru_cache(maxsize=64)
def _trained(width: int, epochs: int, lr: float, seed: int, N: int, d: int, K: int) -> Any:
    _, X = laboratory(N, d, K, seed)
    net = nn.mlp(d, width, DEPTH, key=jax.random.key(seed), prediction="eps")
    res = nn.train(
        net, X, _SCHED, epochs=epochs, lr=lr, ema_decay=EMA_DECAY, weighting="eps",
        t_max=_T_MAX, seed=seed, chunk=min(epochs, 2000), progress=False,
    )  # fmt: skip
    return res.ema


def network_phase(
    quick: bool = True,
    seed: int = 0,
    *,
    widths: tuple[int, ...] | None = None,
    epochs: int | None = None,
    lr: float | None = None,
    n_eval: int | None = None,
) -> dict[str, Any]:
    r"""Memorization ratio of trained MLP denoisers against ``P/(N d)``, and eq. (14)'s ``M_*/N``.

    For each width, the network of :func:`trained_denoiser` draws ``n_eval`` DDIM samples
    (``x_T`` from ``SeedSequence(seed, spawn_key=(7,))``, as the GMM figures) whose
    memorization ratio is Def. 2.2 (``c = 1/9``, strict). The network's transition is located
    by :func:`~diffmem_theory.core.metrics.phase_transition` on the axis ``P/(N d)`` (first
    ratio ``>= 1/10``, ``>= 1/2``, ``>= 9/10``). Eq. (14) is evaluated for the network's
    training weighting (``lambda = psi_t``, ``t ~ U[0.001, 0.999]``, ``C = 2``) and for
    ``lambda = 1`` on the 26-point grid with ``C = 2`` (Fig. 1's constant; 0.83018). Eq. (14)
    *predicts* the network's transition when either ``M_*/N`` lies in the bracket where the
    ratio first reaches 1/2 (:func:`half_bracket`; ``predicted`` is ``None`` when no width
    reaches 1/2).

    Parameters
    ----------
    quick : bool, default True
        :data:`QUICK` or :data:`FULL` settings (each keyword below overrides one).
    seed : int, default 0
        Seeds data, networks, training and sampling.
    widths : tuple of int, optional
        Strictly increasing widths.
    epochs : int, optional
    lr : float, optional
    n_eval : int, optional
        DDIM samples per network, ``>= 1``.

    Returns
    -------
    dict
        ``N, d, K, widths, P`` (parameter counts), ``x`` (``P/(N d)``), ``ratio``, ``n_eval``,
        ``epochs``, ``lr``, ``transition`` (a ``PhaseTransition`` on ``x``), ``bracket``
        (``(x_below, x_at)`` around ratio 1/2, ``None`` entries where absent),
        ``crossover_psi``, ``crossover_x0`` (eq. (14)) and ``predicted``.

    Raises
    ------
    ValueError
        Bad settings, named.

    References
    ----------
    Buchanan et al. (paper 000), Def. 2.2, eq. (14), Sec. 4.1, App. H.1-H.2.

    Examples
    --------
    >>> out = network_phase(widths=(4, 8), epochs=20, n_eval=4)
    >>> out["x"].round(2).tolist(), out["predicted"]
    ([0.85, 1.95], None)
    """
    settings = dict(QUICK if quick else FULL)
    for key, value in (("widths", widths), ("epochs", epochs), ("lr", lr), ("n_eval", n_eval)):
        if value is not None:
            settings[key] = value
    if not isinstance(settings["widths"], tuple) or not settings["widths"]:
        raise TypeError(f"widths must be a non-empty tuple of ints, got {settings['widths']!r:.80}")
    ws = tuple(check_int(w, "widths", low=1) for w in settings["widths"])
    if any(b <= a for a, b in itertools.pairwise(ws)):
        raise ValueError(f"widths must be strictly increasing, got {ws}")
    n_eval = check_int(settings["n_eval"], "n_eval", low=1)
    seed = check_seed(seed)
    N, d, K = LAB["N"], LAB["d"], LAB["K"]
    epochs = check_int(settings["epochs"], "epochs", low=1)
    lr = check_scalar(settings["lr"], "lr", low=0.0, low_open=True)
    counts, ratios = _ratios(ws, epochs, lr, n_eval, seed)
    x = np.asarray(counts, dtype=float) / (N * d)
    r = np.asarray(ratios)
    psi = crossover_ratio("eps", var_star=1.0, C=2.0, t_min=1e-3, t_max=_T_MAX)
    x0 = crossover_ratio("x0", times=_SCHED.time_grid(), var_star=1.0, C=2.0)
    bracket, predicted = half_bracket(x, r, (psi, x0))
    return {
        "N": N, "d": d, "K": K, "widths": np.asarray(ws), "P": np.asarray(counts), "x": x,
        "ratio": r, "n_eval": n_eval, "epochs": epochs, "lr": lr,
        "transition": phase_transition(x, r), "bracket": bracket,
        "crossover_psi": float(psi), "crossover_x0": float(x0), "predicted": predicted,
    }  # fmt: skip


@functools.lru_cache(maxsize=16)
def _ratios(
    widths: tuple[int, ...], epochs: int, lr: float, n_eval: int, seed: int
) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """Parameter counts and memorization ratios of the networks (cached: check and figure)."""
    N, d, K = LAB["N"], LAB["d"], LAB["K"]
    _, X = laboratory(N, d, K, seed)
    counts, ratios = [], []
    for w in widths:
        net = trained_denoiser(w, epochs=epochs, lr=lr, seed=seed)
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7,)))
        samples = ddim_sample(nn.as_denoiser(net, _SCHED), _SCHED, n=n_eval, d=d, rng=rng)
        counts.append(nn.parameter_count(net))
        ratios.append(memorization_ratio(samples, X, strict=True))
    return tuple(counts), tuple(ratios)
