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

import functools
import itertools
import tempfile
from pathlib import Path
from typing import Any

import jax
import numpy as np

from diffmem_theory import nn
from diffmem_theory._validation import check_choice, check_int, check_scalar
from diffmem_theory.core.dynamics import solve
from diffmem_theory.voronoi.data import SCHEDULES, SEED1_DATA

__all__ = ["LR", "OBJECTIVES", "SCHEDULE", "T_END", "network_samples", "train_snapshots"]

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
    seed = check_int(seed, "seed", low=0)
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
        Seeds ``x_T`` (``np.random.default_rng(seed)``).
    rtol, atol : float
        Tolerances of the integrator.

    Returns
    -------
    (n, 2) ndarray

    Examples
    --------
    >>> (net,) = train_snapshots(8, (20,))
    >>> network_samples(net, 3, seed=1).shape
    (3, 2)
    """
    n = check_int(n, "n", low=1)
    seed = check_int(seed, "seed", low=0)
    x_T = np.random.default_rng(seed).normal(0.0, SCHEDULE.sigma(1.0), (n, SEED1_DATA.shape[1]))
    traj = solve(
        nn.as_denoiser(model, SCHEDULE), SCHEDULE, x_T, [1.0, T_END],
        method="dopri5", rtol=rtol, atol=atol,
    )  # fmt: skip
    return np.asarray(traj.final)
