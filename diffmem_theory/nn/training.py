r"""Training of the networks: Adam with EMA, epochs in ``lax.scan`` chunks, atomic checkpoints.

:func:`train` minimizes an objective of :mod:`diffmem_theory.nn.losses` with Adam (optax) and
keeps an exponential moving average (EMA) of the parameters, as the code of Baptista et al.
(paper 002, Sec. 5.3: Adam, learning rate 1e-3, EMA for sampling, one full-batch step per
epoch, ``t ~ U`` per example). The epochs run in chunks of ``chunk`` epochs, each one jitted
``lax.scan``; between chunks a checkpoint is written atomically (a temporary file, then
``os.replace``) and a tqdm bar advances.

Randomness is a pure function of ``seed`` and the epoch: the times and the minibatch
permutations of chunk ``k`` come from ``numpy.random.SeedSequence(seed, spawn_key=(k,))``
(drawn epoch by epoch) and the noise of step ``i`` from ``jax.random.fold_in(key(seed), i)``.
So the same seed gives bit-identical parameters, and a run resumed from a checkpoint equals
an uninterrupted one.

>>> import jax, numpy as np
>>> from diffmem_theory.core.schedules import VPTrig
>>> from diffmem_theory.nn.models import mlp
>>> net = mlp(2, 8, 2, key=jax.random.key(0))
>>> X = np.random.default_rng(0).standard_normal((8, 2))
>>> res = train(net, X, VPTrig(), epochs=50, progress=False)
>>> res.epochs, res.losses.shape, bool(res.losses[-10:].mean() < res.losses[:10].mean())
(50, (50,), True)
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from numpy.typing import ArrayLike
from tqdm import tqdm

from diffmem_theory import _progress as bars
from diffmem_theory._validation import (
    as_points,
    check_allocation,
    check_bool,
    check_int,
    check_scalar,
    check_seed,
)
from diffmem_theory.core.schedules import Schedule, as_schedule
from diffmem_theory.nn.losses import (
    Batch,
    bounded_data,
    dsm_loss,
    make_batch,
    time_range,
    weight_decay,
)
from diffmem_theory.nn.models import MLP

__all__ = ["TrainResult", "load_checkpoint", "train"]

_FORMAT = 1


@dataclass(frozen=True)
class TrainResult:
    r"""The outcome of :func:`train`.

    Attributes
    ----------
    model : MLP
        The network after the last step.
    ema : MLP
        The exponential moving average of its parameters (the network to sample with).
    losses : ndarray, shape (epochs,)
        The objective per epoch (mean over its steps; without the weight-decay term).
    epochs : int
        Epochs done.

    Examples
    --------
    >>> TrainResult.__dataclass_fields__.keys()
    dict_keys(['model', 'ema', 'losses', 'epochs'])
    """

    model: MLP
    ema: MLP
    losses: np.ndarray
    epochs: int


def _fingerprint(model: MLP, X: np.ndarray, sched: Schedule, settings: dict) -> dict:
    shapes = [list(leaf.shape) for leaf in jax.tree_util.tree_leaves(model)]
    return {
        "format": _FORMAT,
        "structure": str(jax.tree_util.tree_structure(model)),
        "shapes": shapes,
        "dtype": str(model.layers[0].weight.dtype),
        "data": hashlib.sha256(np.ascontiguousarray(X).tobytes()).hexdigest(),
        "data_shape": list(X.shape),
        "schedule": repr(sched),
        **settings,
    }


def _write_checkpoint(path: Path, state: Any, losses: np.ndarray, meta: dict) -> None:
    """Write ``state`` atomically: a temporary file in the same folder, then ``os.replace``."""
    leaves = jax.tree_util.tree_leaves(state)
    arrays = {f"leaf_{i}": np.asarray(leaf) for i, leaf in enumerate(leaves)}
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, meta=np.array(json.dumps(meta)), losses=losses, **arrays)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike, like: Any) -> tuple[Any, np.ndarray, dict]:
    r"""Read a checkpoint of :func:`train` into the structure of ``like``.

    Parameters
    ----------
    path : str or path-like
        The checkpoint file.
    like : pytree
        A state of the same structure, ``(params, ema, adam_state)`` for :func:`train` (its
        leaves give the dtypes and shapes).

    Returns
    -------
    state : pytree
        ``like`` with the stored leaves.
    losses : ndarray
        The per-epoch losses so far.
    meta : dict
        The run's settings and the number of epochs done (``"epochs_done"``).

    Raises
    ------
    ValueError
        A file that is not a checkpoint of this structure.

    Examples
    --------
    >>> import tempfile
    >>> import optax
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> from diffmem_theory.nn.models import mlp
    >>> net = mlp(1, 2, 1, key=jax.random.key(0))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp) / "run.npz"
    ...     res = train(net, np.ones((2, 1)), VPTrig(), epochs=3, checkpoint=path,
    ...                 progress=False)
    ...     _, losses, meta = load_checkpoint(path, (net, net, optax.adam(1e-3).init(net)))
    >>> losses.shape, meta["epochs_done"]
    ((3,), 3)
    """
    leaves, treedef = jax.tree_util.tree_flatten(like)
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        stored = [data[f"leaf_{i}"] for i in range(len(leaves)) if f"leaf_{i}" in data]
        losses = np.array(data["losses"])
    if len(stored) != len(leaves) or any(
        s.shape != np.shape(leaf) for s, leaf in zip(stored, leaves, strict=True)
    ):
        raise ValueError(f"checkpoint {str(path)!r} does not hold a state of this structure")
    new = [
        jnp.asarray(s, dtype=jnp.asarray(leaf).dtype)
        for s, leaf in zip(stored, leaves, strict=True)
    ]
    return jax.tree_util.tree_unflatten(treedef, new), losses, meta


def _adam(lr: float) -> optax.GradientTransformation:
    return optax.adam(lr)


def _chunk_data(
    seed: int, k: int, stop: int, X: np.ndarray, batch_size: int, steps: int, t_range: tuple
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (stop, steps, B) and times of the first ``stop`` epochs of chunk ``k``, drawn
    epoch by epoch (so the same for any ``stop``)."""
    check_allocation(stop * steps * batch_size, "a chunk of training batches", itemsize=16)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(k,)))
    n = X.shape[0]
    idx = np.empty((stop, steps, batch_size), dtype=np.int64)
    times = np.empty((stop, steps, batch_size))
    for e in range(stop):
        order = np.arange(n) if batch_size == n else rng.permutation(n)
        idx[e] = order[: steps * batch_size].reshape(steps, batch_size)
        times[e] = t_range[0] + (t_range[1] - t_range[0]) * rng.random((steps, batch_size))
    return idx, times


@functools.partial(jax.jit, static_argnames=("static", "lr", "decay", "rate"))
def _run_chunk(
    state: Any, batches: Batch, ids: jax.Array, base_key: Any, *, static: Any, lr: float,
    decay: float, rate: float,
) -> tuple[Any, jax.Array]:  # fmt: skip
    """Adam + EMA steps over the stacked ``batches``; compiled once per network and settings."""
    opt = _adam(lr)

    def objective(p: Any, batch: Batch, key: Any) -> tuple[jax.Array, jax.Array]:
        m = eqx.combine(p, static)
        loss = dsm_loss(m, batch, key)
        return (loss + weight_decay(m, rate) if rate > 0 else loss), loss

    def step(carry: Any, xs: tuple[Batch, jax.Array]) -> tuple[Any, jax.Array]:
        p, ema, opt_state = carry
        batch, i = xs
        key = jax.random.fold_in(base_key, i)
        (_, loss), grads = jax.value_and_grad(objective, has_aux=True)(p, batch, key)
        updates, opt_state = opt.update(grads, opt_state, p)
        p = optax.apply_updates(p, updates)
        ema = jax.tree_util.tree_map(lambda e, q: decay * e + (1.0 - decay) * q, ema, p)
        return (p, ema, opt_state), loss

    return jax.lax.scan(step, state, (batches, ids))


#: The largest learning rate. Adam moves every parameter by about ``lr`` per step whatever the
#: gradient's size; a step above 1 exceeds the scale of the initialized weights, so the iterates
#: diverge and overflow float32 within a few steps (``lr = 2^62``: NaN losses at the second
#: epoch). The papers use ``lr <= 10^-2``.
LR_MAX = 1.0

#: The largest ``weight_decay_rate``: Adam squares the gradient ``2 rate w`` of the decay in the
#: network's dtype (float32: overflow beyond 1.8e19 before squaring), and a rate of ``10^6``
#: already outweighs any data loss a millionfold (typical rates are ``<= 10^-2``).
RATE_MAX = 1e6

#: The largest number of epochs (the loop would otherwise run for ages: ``10^9`` full-batch
#: steps of the smallest network take days).
EPOCHS_MAX = 10**9


def train(
    model: MLP,
    X: ArrayLike,
    schedule: Schedule | str,
    *,
    epochs: int,
    lr: float = 1e-3,
    batch_size: int | None = None,
    ema_decay: float = 0.9999,
    weighting: str | Callable[[np.ndarray], ArrayLike] = "eps",
    c: float = 0.0,
    weight_decay_rate: float = 0.0,
    t_min: float = 1e-3,
    t_max: float | None = None,
    seed: int = 0,
    chunk: int = 1000,
    checkpoint: str | os.PathLike | None = None,
    progress: bool = True,
) -> TrainResult:
    r"""Train a network on the points ``X`` with Adam and an EMA of its parameters.

    Each epoch shuffles the points (minibatches of ``batch_size``; the last ``N mod B``
    points of the permutation sit out that epoch) or takes them all (full batch: one step per
    epoch, paper 002's setting), draws one ``t ~ U[t_min, t_max]`` and one noise per example,
    and takes an Adam step on ``dsm_loss + weight_decay`` (:mod:`~diffmem_theory.nn.losses`;
    the objective is set by ``weighting``, ``c`` and the model's ``prediction``: paper 002's
    J_0^N is ``weighting="eps"`` with a ``"score"`` network, I_0^N with an ``"eps"`` network,
    J_reg,0^N adds ``c``). After each step ``ema <- d ema + (1 - d) params``.

    Parameters
    ----------
    model : MLP
        The initial network (float32 or float64).
    X : array_like, shape (N, d)
        Training points (finite, ``d = model.data_dim``, small enough that their squared norms
        cannot overflow the model's dtype: :func:`~diffmem_theory.nn.losses.bounded_data`).
    schedule : Schedule or str
    epochs : int
        Total epochs, ``1 <= epochs <= EPOCHS_MAX = 10^9`` (with ``checkpoint``: including
        those already done; a checkpoint with more epochs is returned as it is).
    lr : float, default 1e-3
        Adam's learning rate (paper 002), ``0 < lr <= LR_MAX = 1`` (:data:`LR_MAX` says why).
    batch_size : int, optional
        ``1 <= B <= N``; default ``N`` (full batch).
    ema_decay : float, default 0.9999
        ``d`` in ``[0, 1)`` (paper 002's code).
    weighting : str or callable, default "eps"
        As in :func:`~diffmem_theory.nn.losses.make_batch` (a named weighting is needed with
        ``checkpoint``).
    c : float, default 0
        Tikhonov constant (paper 002, eq. (5.5)), ``0 <= c <= 10^6``
        (:data:`~diffmem_theory.nn.losses.C_MAX`).
    weight_decay_rate : float, default 0
        Rate of :func:`~diffmem_theory.nn.losses.weight_decay`, ``0 <= rate <= RATE_MAX = 10^6``
        (:data:`RATE_MAX` says why).
    t_min, t_max : float
        The time range (:func:`~diffmem_theory.nn.losses.sample_times`).
    seed : int, default 0
        Seeds the times, permutations and noise; ``0 <= seed < 2^32``.
    chunk : int, default 1000
        Epochs per jitted ``lax.scan`` (and between checkpoints), ``1 <= chunk <= 10^9``.
    checkpoint : path-like, optional
        After each chunk the state is written here atomically; when the file exists, training
        resumes from it (the settings must match, else ``ValueError``).
    progress : bool, default True
        Show a tqdm bar (on stderr).

    Returns
    -------
    TrainResult

    Raises
    ------
    ValueError
        Bad settings (named), data of the wrong dimension or not finite, a checkpoint of
        another run.

    See Also
    --------
    diffmem_theory.nn.as_denoiser : The trained network as a ``core`` denoiser.

    References
    ----------
    Baptista et al. (paper 002), Sec. 5.3; Kingma & Ba (2015), Adam.

    Examples
    --------
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> from diffmem_theory.nn.models import mlp
    >>> net = mlp(1, 4, 1, key=jax.random.key(0))
    >>> a = train(net, np.ones((4, 1)), VPTrig(), epochs=5, seed=3, progress=False)
    >>> b = train(net, np.ones((4, 1)), VPTrig(), epochs=5, seed=3, progress=False)
    >>> bool((a.ema.layers[0].weight == b.ema.layers[0].weight).all())
    True
    """
    if not isinstance(model, MLP):
        raise TypeError(f"model must be an nn.models.MLP, got {type(model).__name__}")
    sched = as_schedule(schedule, required=True)
    pts = as_points(X, "X")
    n, d = pts.shape
    if d != model.data_dim:
        raise ValueError(f"X has dimension {d} but the model's data_dim is {model.data_dim}")
    epochs = check_int(epochs, "epochs", low=1, high=EPOCHS_MAX)
    lr = check_scalar(lr, "lr", low=0.0, low_open=True, high=LR_MAX)
    bsz = n if batch_size is None else check_int(batch_size, "batch_size", low=1, high=n)
    decay = check_scalar(ema_decay, "ema_decay", low=0.0, high=1.0, high_open=True)
    rate = check_scalar(weight_decay_rate, "weight_decay_rate", low=0.0, high=RATE_MAX)
    seed = check_seed(seed)
    chunk = check_int(chunk, "chunk", low=1, high=EPOCHS_MAX)
    progress = check_bool(progress, "progress")
    dtype = model.layers[0].weight.dtype
    bounded_data(pts, "X", dtype)
    lo, hi = time_range(sched, t_min, t_max)
    # validate the objective once (weighting, c) on the first points
    make_batch(pts[:1], lo, sched, model.prediction, weighting=weighting, c=c, dtype=dtype)
    steps = n // bsz

    params, static = eqx.partition(model, eqx.is_inexact_array)
    state = (params, params, _adam(lr).init(params))
    base_key = jax.random.key(seed)
    hyper = {"static": static, "lr": lr, "decay": decay, "rate": rate}

    settings = {
        "lr": lr, "batch_size": bsz, "ema_decay": decay, "c": float(c), "rate": rate,
        "weighting": weighting if isinstance(weighting, str) else None,
        "t_range": [lo, hi], "seed": seed, "chunk": chunk, "prediction": model.prediction,
    }  # fmt: skip
    meta = _fingerprint(model, pts, sched, settings)
    done, losses = 0, np.empty(0)
    path = None if checkpoint is None else Path(checkpoint)
    if path is not None and meta["weighting"] is None:
        raise ValueError("checkpoint needs a named weighting (a callable cannot be compared)")
    if path is not None and path.exists():
        state, losses, stored = load_checkpoint(path, state)
        done = int(stored.pop("epochs_done"))
        diff = sorted(k for k in meta.keys() | stored.keys() if meta.get(k) != stored.get(k))
        if diff:
            raise ValueError(
                f"checkpoint {str(path)!r} is from another run: {', '.join(diff)} differ"
            )
    bar = tqdm(
        total=epochs, initial=min(done, epochs), disable=bars.disable(progress), unit="epoch"
    )
    while done < epochs:
        k, offset = divmod(done, chunk)
        count = min(chunk - offset, epochs - done)
        idx, times = _chunk_data(seed, k, offset + count, pts, bsz, steps, (lo, hi))
        idx, times = idx[offset : offset + count], times[offset : offset + count]
        flat = make_batch(
            pts[idx.reshape(-1)], times.reshape(-1), sched, model.prediction,
            weighting=weighting, c=c, dtype=dtype,
        )  # fmt: skip
        lead = (count * steps, bsz)
        batches = jax.tree_util.tree_map(lambda a, lead=lead: a.reshape(*lead, *a.shape[1:]), flat)
        ids = jnp.arange(done * steps, (done + count) * steps, dtype=jnp.uint32)
        state, chunk_losses = _run_chunk(state, batches, ids, base_key, **hyper)
        losses = np.concatenate([losses, np.asarray(chunk_losses).reshape(count, steps).mean(1)])
        done += count
        if path is not None:
            _write_checkpoint(path, state, losses, {**meta, "epochs_done": done})
        bar.update(count)
    bar.close()
    params, ema, _ = state
    return TrainResult(eqx.combine(params, static), eqx.combine(ema, static), losses, done)
