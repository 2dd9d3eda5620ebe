r"""Paper 002's neural score networks (Sec. 5.3, Figs. 8-15): training runs and their samples.

Baptista et al. (paper 002), Sec. 5.3 train a ReLU MLP score network on the 20 points
:data:`~diffmem_theory.voronoi.data.SEED1_DATA` under the linear VP schedule
(beta_min = 0.001, beta_max = 3, T = 1), full batch (one Adam step per epoch, so epochs are
optimisation steps), lr = 1e-3, EMA 0.9999, one ``t ~ U[0, 1]`` per example, and sample with
the reverse (probability-flow) ODE from ``T`` to ``0``. The objectives:

* ``"J"``: J_0^N with lambda = sigma^2, a score network and the per-example loss
  ``|sigma s + eta|^2`` (paper 002, eq. (5.3));
* ``"I"``: the denoising loss I_0^N, an eps network ``s = -eps_hat / sigma`` (eq. (5.4));
* ``"J"`` with ``c > 0``: the Tikhonov objective J_reg,0^N, ``|sigma s + eta|^2 + c |s|^2``
  (lambda = sigma^2, Gamma = c / sigma^2; eq. (5.5)).

The network is :func:`~diffmem_theory.nn.models.paper_002_network` (three hidden ReLU
layers of one width, fixed Fourier time features), trained by :func:`~diffmem_theory.nn.train`.
:func:`train_snapshots` trains once and returns the EMA network after each of several epoch
counts (a run resumed from its checkpoint is bit-identical to an uninterrupted one); it is
cached in-process, so a check and a figure of one ``diffmem reproduce`` share their runs.
:class:`Sweep` holds the settings of Figs. 8-11 and 15 (an epoch sweep at one width and a
width sweep at one training length; :data:`FULL` the paper's, :data:`QUICK` a shorter one),
:func:`sweep_samples` the cached samples of one of their networks and :func:`sweep_fractions`
the fractions of samples within ``tau`` of the data along a sweep (paper 002 counts those
within ``tau = 0.1``).
Times are drawn from ``[1e-3, 1]`` (:func:`~diffmem_theory.nn.losses.sample_times`: the
lower cut keeps ``1/sigma`` finite in I_0^N), a deviation from the code's ``U[0, 1]`` that
changes the objective by the weight of an interval of length 1e-3.

Needs the ``nn`` extra (JAX, Equinox, Optax).

Examples
--------
>>> nets = train_snapshots(8, (20, 40), seed=0)
>>> x = network_samples(nets[-1], 5, seed=0)
>>> x.shape
(5, 2)
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import tempfile
from pathlib import Path
from typing import Any

import jax
import numpy as np

from diffmem_theory import nn
from diffmem_theory._validation import check_choice, check_int, check_scalar, check_seed
from diffmem_theory.core.dynamics import solve
from diffmem_theory.core.metrics import fraction_se, memorization_fraction
from diffmem_theory.voronoi.data import SCHEDULES, SEED1_DATA

__all__ = [
    "FULL", "LR", "OBJECTIVES", "QUICK", "SCHEDULE", "TAUS", "T_END", "Sweep",
    "network_samples", "network_starts", "sweep_fractions", "sweep_samples", "train_snapshots",
]  # fmt: skip

#: The schedule of the network experiments: linear VP, beta_min = 0.001, beta_max = 3, T = 1.
SCHEDULE = SCHEDULES["VP"]
#: The end of the reverse ODE: the VP schedule's domain is (0, 1]; sigma(1e-5) = 1e-4 (in
#: units of the data's scale of 1) is far below every tolerance tau of the figures.
T_END = 1e-5
#: Adam's learning rate in paper 002's code.
LR = 1e-3
#: The objectives: J_0^N (a score network) and I_0^N (an eps network).
OBJECTIVES = {"J": "score", "I": "eps"}


def train_snapshots(
    width: int,
    epochs: tuple[int, ...],
    *,
    objective: str = "J",
    c: float = 0.0,
    seed: int = 0,
    lr: float = LR,
) -> tuple[Any, ...]:
    r"""Paper 002's network trained once, as EMA networks after each of ``epochs``.

    One run of :func:`~diffmem_theory.nn.train` on the 20 points with the objective
    ``objective`` (``"J"``: J_0^N, or J_reg,0^N when ``c > 0``; ``"I"``: I_0^N), stopped at
    each epoch count in turn and resumed from its checkpoint, so the snapshot after ``e``
    epochs is the network an uninterrupted ``e``-epoch run gives. Cached in-process.

    Parameters
    ----------
    width : int
        Hidden width, ``>= 1``.
    epochs : tuple of int
        Strictly increasing epoch counts, ``>= 1``.
    objective : {"J", "I"}, default "J"
    c : float, default 0
        Tikhonov constant ``c >= 0`` (paper 002, eq. (5.5)); only with ``objective="J"``.
    seed : int, default 0
        Seeds the initialization (``jax.random.key(seed)``) and the training noise.
    lr : float, default 1e-3
        Adam's learning rate.

    Returns
    -------
    tuple of MLP
        The EMA networks, one per entry of ``epochs``.

    Raises
    ------
    ValueError
        Bad settings, named.

    Examples
    --------
    >>> a, b = train_snapshots(8, (10, 20), seed=1)
    >>> (c,) = train_snapshots(8, (20,), seed=1)
    >>> bool((b.layers[0].weight == c.layers[0].weight).all())
    True
    """
    width = check_int(width, "width", low=1)
    if not isinstance(epochs, tuple) or not epochs:
        raise TypeError(f"epochs must be a non-empty tuple of ints, got {epochs!r:.80}")
    counts = tuple(check_int(e, "epochs", low=1) for e in epochs)
    if any(b <= a for a, b in itertools.pairwise(counts)):
        raise ValueError(f"epochs must be strictly increasing, got {counts}")
    check_choice(objective, "objective", tuple(OBJECTIVES))
    c = check_scalar(c, "c", low=0.0)
    if c > 0 and objective != "J":
        raise ValueError(f"c > 0 (Tikhonov) needs objective 'J', got objective {objective!r}")
    seed = check_seed(seed)
    lr = check_scalar(lr, "lr", low=0.0, low_open=True)
    return _train_snapshots(width, counts, objective, c, seed, lr)


@functools.lru_cache(maxsize=64)
def _train_snapshots(
    width: int, epochs: tuple[int, ...], objective: str, c: float, seed: int, lr: float
) -> tuple[Any, ...]:
    net = nn.paper_002_network(width, key=jax.random.key(seed), prediction=OBJECTIVES[objective])
    out = []
    with tempfile.TemporaryDirectory(prefix="diffmem-nn-") as tmp:
        path = Path(tmp) / "run.npz"
        for e in epochs:
            res = nn.train(
                net, SEED1_DATA, SCHEDULE, epochs=e, lr=lr, c=c, seed=seed,
                chunk=5000, checkpoint=path, progress=False,
            )  # fmt: skip
            out.append(res.ema)
    return tuple(out)


def network_starts(n: int, seed: int = 0) -> np.ndarray:
    r"""The initial points ``x_T ~ N(0, sigma_T^2 I)`` of :func:`network_samples` (``T = 1``).

    ``np.random.default_rng(seed)`` draws them, so an exact score's flow started here meets
    the network's samples point for point.

    Examples
    --------
    >>> network_starts(4, seed=2).shape
    (4, 2)
    """
    n = check_int(n, "n", low=1)
    seed = check_seed(seed)
    return np.random.default_rng(seed).normal(0.0, SCHEDULE.sigma(1.0), (n, SEED1_DATA.shape[1]))


def network_samples(
    model: Any, n: int, *, seed: int = 0, rtol: float = 1e-5, atol: float = 1e-5
) -> np.ndarray:
    r"""``n`` samples of a network by the reverse probability-flow ODE from ``T = 1`` to ~0.

    ``x_T ~ N(0, sigma_T^2 I)`` (``sigma_T^2 = 1 - exp(-int_0^1 beta)`` of the VP schedule),
    integrated by Dormand-Prince (:func:`~diffmem_theory.core.dynamics.solve`,
    ``method="dopri5"``, the authors' RK45 tolerances 1e-5) with the network as the
    denoiser (:func:`~diffmem_theory.nn.as_denoiser`), to :data:`T_END` = 1e-5 (the
    schedule excludes ``t = 0``, where the authors' code stops).

    Parameters
    ----------
    model : MLP
        A network trained on :data:`SCHEDULE`.
    n : int
        Number of samples, ``>= 1``.
    seed : int, default 0
        Seeds ``x_T`` (:func:`network_starts`).
    rtol, atol : float
        Tolerances of the integrator: ``1e-14 <= rtol <= 1`` and ``0 < atol <= 1`` (the
        training points are standard normal draws: an absolute tolerance above their scale
        accepts any step, and the step-size control's error estimate underflows to 0).

    Returns
    -------
    (n, 2) ndarray

    Examples
    --------
    >>> (net,) = train_snapshots(8, (20,))
    >>> network_samples(net, 3, seed=1).shape
    (3, 2)
    """
    atol = check_scalar(atol, "atol", low=0.0, low_open=True, high=1.0)
    x_T = network_starts(n, seed)
    traj = solve(
        nn.as_denoiser(model, SCHEDULE), SCHEDULE, x_T, [1.0, T_END],
        method="dopri5", rtol=rtol, atol=atol,
    )  # fmt: skip
    return np.asarray(traj.final)


#: The radii of the fractions: ``tau = 0.1`` (paper 002, Sec. 5.3: Figs. 9, 11, 14 and 15 count
#: the samples "inside a Euclidean ball of size tau = 10^{-1}") and ``1e-2`` (the radius of the
#: analytic scores' Figs. 5 and 7).
TAUS = (0.1, 1e-2)


@dataclasses.dataclass(frozen=True)
class Sweep:
    r"""The settings of the network experiments of paper 002, Figs. 8-11 and 15.

    One training run per objective at ``epoch_width`` gives the snapshots after each of
    ``epochs`` (Figs. 8, 9 and 15 right); one run per width of ``widths`` trains
    ``width_epochs`` epochs (Figs. 10, 11 and 15 left; the run at ``epoch_width`` is the epoch
    run's snapshot when ``width_epochs`` is one of ``epochs``).

    Parameters
    ----------
    epoch_width : int
        Hidden width of the epoch sweep, ``>= 1``.
    epochs : tuple of int
        Strictly increasing epoch counts of the epoch sweep.
    scatter_epochs : tuple of int
        The epoch counts of Fig. 8's panels, each one of ``epochs``.
    widths : tuple of int
        Strictly increasing widths of the width sweep.
    width_epochs : int
        Epochs of the width sweep, ``>= 1``.
    scatter_widths : tuple of int
        The widths of Fig. 10's panels, each one of ``widths``.
    n_samples : int, default 1000
        Samples per network (paper 002: 1000).

    Raises
    ------
    ValueError, TypeError
        A setting out of range or of the wrong type, named.

    Examples
    --------
    >>> Sweep(8, (20, 40), (40,), (4, 8), 40, (8,), n_samples=50).widths
    (4, 8)
    >>> Sweep(8, (20, 40), (30,), (4, 8), 40, (8,))
    Traceback (most recent call last):
    ...
    ValueError: scatter_epochs must be a subset of epochs (20, 40), got (30,)
    """

    epoch_width: int
    epochs: tuple[int, ...]
    scatter_epochs: tuple[int, ...]
    widths: tuple[int, ...]
    width_epochs: int
    scatter_widths: tuple[int, ...]
    n_samples: int = 1000

    def __post_init__(self) -> None:
        check_int(self.epoch_width, "epoch_width", low=1)
        check_int(self.width_epochs, "width_epochs", low=1)
        check_int(self.n_samples, "n_samples", low=1)
        for name in ("epochs", "widths"):
            values = _increasing(getattr(self, name), name)
            object.__setattr__(self, name, values)
        for name, full in (("scatter_epochs", "epochs"), ("scatter_widths", "widths")):
            values = _increasing(getattr(self, name), name)
            if not set(values) <= set(getattr(self, full)):
                raise ValueError(
                    f"{name} must be a subset of {full} {getattr(self, full)}, got {values}"
                )
            object.__setattr__(self, name, values)


def _increasing(values: Any, name: str) -> tuple[int, ...]:
    if not isinstance(values, tuple) or not values:
        raise TypeError(f"{name} must be a non-empty tuple of ints, got {values!r:.80}")
    out = tuple(check_int(v, name, low=1) for v in values)
    if any(b <= a for a, b in itertools.pairwise(out)):
        raise ValueError(f"{name} must be strictly increasing, got {out}")
    return out


#: Full mode, paper 002's settings: width 256 up to 3e5 epochs (Figs. 8, 9, 15 right; Fig. 8
#: shows 5e3, 3e4, 3e5) and widths 8-512 at 2e5 epochs (Figs. 10, 11, 15 left; Fig. 10 shows
#: 8, 32, 128). The paper does not print the grid of Figs. 9, 11 and 15; these are ours.
FULL = Sweep(
    epoch_width=256,
    epochs=(1000, 2000, 5000, 10_000, 30_000, 100_000, 200_000, 300_000),
    scatter_epochs=(5000, 30_000, 300_000),
    widths=(8, 16, 32, 64, 128, 256, 512),
    width_epochs=200_000,
    scatter_widths=(8, 32, 128),
)
#: Quick mode: the paper's networks, learning rate and EMA, trained at most 3e4 epochs (in
#: multiples of the 5000-epoch chunks of :func:`train_snapshots`: one compilation per network).
QUICK = Sweep(
    epoch_width=256,
    epochs=(5000, 10_000, 20_000, 30_000),
    scatter_epochs=(5000, 10_000, 30_000),
    widths=(8, 32, 128, 256),
    width_epochs=30_000,
    scatter_widths=(8, 32, 128),
)


def sweep_samples(
    width: int, epochs: int, *, objective: str = "J", seed: int = 0, sweep: Sweep = QUICK
) -> np.ndarray:
    r"""``sweep.n_samples`` reverse-ODE samples of the network of one point of a sweep.

    The network of hidden width ``width`` trained ``epochs`` epochs on ``objective``
    (:func:`train_snapshots` with ``seed``; the snapshot of the epoch run of ``sweep`` when
    ``width`` is its ``epoch_width`` and ``epochs`` one of its ``epochs``, so the two sweeps
    share that run), sampled by :func:`network_samples` with ``seed`` (the same ``x_T`` for
    every network of a sweep). Cached in-process.

    Parameters
    ----------
    width : int
        One of ``sweep.widths`` (at ``sweep.width_epochs``) or ``sweep.epoch_width``.
    epochs : int
        ``sweep.width_epochs``, or one of ``sweep.epochs`` at ``sweep.epoch_width``.
    objective : {"J", "I"}, default "J"
        J_0^N or I_0^N (paper 002, Sec. 5.3).
    seed : int, default 0
    sweep : Sweep, default QUICK

    Returns
    -------
    (n_samples, 2) ndarray
        Read-only.

    Raises
    ------
    ValueError
        ``(width, epochs)`` not a point of ``sweep``, or bad settings, named.

    Examples
    --------
    >>> tiny = Sweep(8, (20, 40), (40,), (4, 8), 40, (8,), n_samples=50)
    >>> sweep_samples(8, 40, sweep=tiny).shape
    (50, 2)
    """
    if not isinstance(sweep, Sweep):
        raise TypeError(f"sweep must be a Sweep, got {type(sweep).__name__}")
    width = check_int(width, "width", low=1)
    epochs = check_int(epochs, "epochs", low=1)
    check_choice(objective, "objective", tuple(OBJECTIVES))
    seed = check_seed(seed)
    on_epoch_run = width == sweep.epoch_width and epochs in sweep.epochs
    if not on_epoch_run and not (width in sweep.widths and epochs == sweep.width_epochs):
        raise ValueError(
            f"(width, epochs) = ({width}, {epochs}) is not a point of the sweep: widths "
            f"{sweep.widths} at {sweep.width_epochs} epochs or width {sweep.epoch_width} at "
            f"epochs {sweep.epochs}"
        )
    return _sweep_samples(width, epochs, objective, seed, sweep)


@functools.lru_cache(maxsize=256)
def _sweep_samples(width: int, epochs: int, objective: str, seed: int, sweep: Sweep) -> np.ndarray:
    if width == sweep.epoch_width and epochs in sweep.epochs:
        nets = train_snapshots(width, sweep.epochs, objective=objective, seed=seed)
        net = nets[sweep.epochs.index(epochs)]
    else:
        (net,) = train_snapshots(width, (epochs,), objective=objective, seed=seed)
    x = network_samples(net, sweep.n_samples, seed=seed)
    x.setflags(write=False)
    return x


def sweep_fractions(
    over: str, *, objective: str = "J", seed: int = 0, sweep: Sweep = QUICK
) -> dict[str, Any]:
    r"""Fractions of samples within ``tau`` of the 20 points along the epoch or the width sweep.

    ``fraction[k, i] = mean_j 1{min_n |x_j - x_0^n| < TAUS[k]}`` over the ``n_samples``
    samples of :func:`sweep_samples` at the ``i``-th point of the sweep (paper 002, Sec. 5.3,
    Figs. 9, 11 and 15), with its binomial standard error
    (:func:`~diffmem_theory.core.metrics.fraction_se`).

    Parameters
    ----------
    over : {"epochs", "widths"}
        The epoch sweep (width ``sweep.epoch_width``) or the width sweep (``width_epochs``).
    objective : {"J", "I"}, default "J"
    seed : int, default 0
    sweep : Sweep, default QUICK

    Returns
    -------
    dict
        ``over``, ``objective``, ``x`` (the epoch counts or widths), ``params`` (paper 002's
        parameter counts of the widths), ``taus`` (:data:`TAUS`), ``fraction`` and ``se``
        (``(len(TAUS), len(x))``), ``n``.

    Examples
    --------
    >>> tiny = Sweep(8, (20, 40), (40,), (4, 8), 40, (8,), n_samples=50)
    >>> r = sweep_fractions("widths", sweep=tiny)
    >>> r["x"].tolist(), r["params"].tolist(), r["fraction"].shape
    ([4, 8], [196, 508], (2, 2))
    """
    check_choice(over, "over", ("epochs", "widths"))
    if not isinstance(sweep, Sweep):
        raise TypeError(f"sweep must be a Sweep, got {type(sweep).__name__}")
    if over == "epochs":
        points = [(sweep.epoch_width, e) for e in sweep.epochs]
        x = np.array(sweep.epochs)
    else:
        points = [(w, sweep.width_epochs) for w in sweep.widths]
        x = np.array(sweep.widths)
    frac = np.array(
        [
            [
                memorization_fraction(
                    sweep_samples(w, e, objective=objective, seed=seed, sweep=sweep),
                    SEED1_DATA,
                    tau,
                )
                for w, e in points
            ]
            for tau in TAUS
        ]
    )
    n = sweep.n_samples
    return {
        "over": over,
        "objective": objective,
        "x": x,
        "params": np.array([nn.paper_002_parameter_count(w) for w, _ in points]),
        "taus": TAUS,
        "fraction": frac,
        "se": fraction_se(frac, n),
        "n": n,
    }
