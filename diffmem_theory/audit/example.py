r"""The worked example of the audit: two networks trained on digits, one memorizing, one not.

A user's question is whether *their* network memorizes. This module trains the two networks
the README's audit section and ``notebooks/audit_digits.ipynb`` audit, so that the audit can be
seen telling them apart on a real data set that needs no download: scikit-learn's bundled 8 x 8
digits (:func:`diffmem_theory.data.digits`, scaled to [0, 1] as papers 000 and 001 scale
images; the ``digits`` extra).

* **Data** (:func:`digits_split`): :func:`diffmem_theory.data.split` holds out 20 % of the
  1,797 digits (seed 0); the first ``n_train`` of the remaining points train, the 359 held-out
  ones are the audit's ``held_out`` points.
* **Networks** (:func:`train_networks`): :func:`diffmem_theory.nn.mlp` with 3 hidden ReLU
  layers and Fourier time features, in x0 units, trained by :func:`diffmem_theory.nn.train` on
  the ``VPTrig`` schedule (paper 000's) with the ``"eps"`` weighting (``lambda = psi_t`` in x0
  units: the usual noise-prediction loss), full batch, EMA 0.999. Each Adam step sees every
  training point ``replicas`` times with independent times and noise (the training set is
  repeated): one draw per point left the gradient too noisy to memorize 20 digits in 10^5
  steps (width 256: 17 % of the samples memorized), sixteen draws memorize 85 % in 10^4.

  - the *memorizing* network: width 256 (136,000 parameters for 20 points), trained long;
  - the *generalizing* network: width 32, trained briefly: it has not had the capacity or the
    steps to resolve single training points.

  x0 units, because DDIM from ``t = 0.999`` multiplies an eps network's error by
  ``alpha_{t'} sigma_t / alpha_t`` (about 40 on the first step of paper 000's grid): eps
  networks of these sizes gave samples far outside the data (median distance 16 to the nearest
  training point, against 2 for held-out digits).

Needs the ``nn`` extra (JAX, Equinox, Optax) and the ``digits`` extra (scikit-learn).
Trained pairs are cached in-process. :func:`write_files` (or ``python -m
diffmem_theory.audit.example DIR``) writes the data and the two networks as files for
``diffmem audit``.

Examples
--------
>>> train, held = digits_split(20)
>>> train.x.shape, train.image_shape, held.x.shape
((20, 64), (8, 8), (359, 64))
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from diffmem_theory import data
from diffmem_theory._validation import check_bool, check_int, check_seed
from diffmem_theory.core.schedules import VPTrig
from diffmem_theory.sweep import writable_dir

__all__ = [
    "DEPTH",
    "EMA_DECAY",
    "FULL",
    "HELD_OUT",
    "QUICK",
    "SCHEDULE",
    "DigitsExample",
    "digits_split",
    "setting",
    "train_networks",
    "write_files",
]

#: The schedule the networks are trained on and the audit samples with (paper 000's).
SCHEDULE = VPTrig()
#: Hidden layers of both networks.
DEPTH = 3
#: EMA decay of both networks.
EMA_DECAY = 0.999
#: The held-out fraction of the digits (split with seed 0).
HELD_OUT = 0.2
#: Quick mode (about 30 s of training on 2 cores): 85 % of the memorizing network's samples
#: are copies by the 1/3 rule, 0.5 % of the generalizing network's (200 samples, seed 0).
QUICK: dict[str, Any] = {
    "n_train": 20,
    "replicas": 16,
    "memorizing": {"width": 256, "epochs": 10_000, "lr": 2e-3},
    "generalizing": {"width": 32, "epochs": 5_000, "lr": 1e-3},
    "n_samples": 200,
}
#: Full mode (about a minute of training): twice the steps at half the rate.
FULL: dict[str, Any] = {
    "n_train": 20,
    "replicas": 16,
    "memorizing": {"width": 256, "epochs": 20_000, "lr": 1e-3},
    "generalizing": {"width": 32, "epochs": 5_000, "lr": 1e-3},
    "n_samples": 1000,
}
_NETWORK_KEYS = ("width", "epochs", "lr")


def setting(quick: bool = True) -> dict[str, Any]:
    """:data:`QUICK` or :data:`FULL` (a copy).

    >>> setting()["memorizing"]["epochs"], setting(False)["n_samples"]
    (10000, 1000)
    """
    chosen = QUICK if check_bool(quick, "quick") else FULL
    return {k: dict(v) if isinstance(v, dict) else v for k, v in chosen.items()}


def digits_split(n_train: int, seed: int = 0) -> tuple[data.Dataset, data.Dataset]:
    r"""The training digits and the held-out digits of the example.

    ``data.split(data.digits(), HELD_OUT, seed)``; the first ``n_train`` training digits. Both
    are :class:`~diffmem_theory.data.Dataset`\ s (8 x 8 images, so that an audit shows the
    samples beside their nearest training images).

    Parameters
    ----------
    n_train : int
        Training points, ``1 <= n_train <= 1438`` (the digits left after the split).
    seed : int, default 0
        Seed of the split.

    Returns
    -------
    train : Dataset
        ``n_train`` digits, ``x`` of shape ``(n_train, 64)``.
    held_out : Dataset
        359 digits.

    Examples
    --------
    >>> digits_split(0)
    Traceback (most recent call last):
    ...
    ValueError: n_train must be >= 1, got 0
    """
    n = check_int(n_train, "n_train", low=1)
    train, held = data.split(data.digits(), HELD_OUT, check_seed(seed))
    if n > len(train.x):
        raise ValueError(
            f"n_train must be <= {len(train.x)} (the digits left after the split), got {n}"
        )
    keep = slice(0, n)
    labels = None if train.labels is None else train.labels[keep]
    return dataclasses.replace(train, x=train.x[keep], labels=labels), held


@dataclass(frozen=True)
class DigitsExample:
    """The example's data and its two trained networks.

    Attributes
    ----------
    train, held_out : Dataset
        The training digits and the held-out digits (:func:`digits_split`).
    memorizing, generalizing : diffmem_theory.nn.MLP
        The EMA networks (x0 units, on :data:`SCHEDULE`).
    settings : dict
        The settings they were trained with (:func:`setting`).
    """

    train: data.Dataset
    held_out: data.Dataset
    memorizing: Any
    generalizing: Any
    settings: dict[str, Any]


def train_networks(
    quick: bool = True, seed: int = 0, settings: dict[str, Any] | None = None
) -> DigitsExample:
    r"""Train the memorizing and the generalizing network of the example (cached in-process).

    Each network is ``nn.mlp(64, width, DEPTH, key=jax.random.key(seed), prediction="x0")``
    trained by ``nn.train(net, repeat(train, replicas), SCHEDULE, epochs=, lr=,
    ema_decay=EMA_DECAY, seed=seed)``.

    Parameters
    ----------
    quick : bool, default True
        :data:`QUICK` or :data:`FULL`.
    seed : int, default 0
        Seeds the split, the initializations and the training noise.
    settings : dict, optional
        Replaces the mode's settings (the keys of :data:`QUICK` but ``n_samples``).

    Returns
    -------
    DigitsExample

    Examples
    --------
    >>> tiny = {"n_train": 4, "replicas": 2, "memorizing": {"width": 8, "epochs": 20, "lr": 1e-3},
    ...         "generalizing": {"width": 4, "epochs": 10, "lr": 1e-3}}
    >>> ex = train_networks(settings=tiny)
    >>> ex.train.x.shape, ex.memorizing.prediction
    ((4, 64), 'x0')
    """
    chosen = setting(quick) if settings is None else settings
    if not isinstance(chosen, dict):
        raise TypeError(f"settings must be a dict, got {type(chosen).__name__}")
    n_train = check_int(chosen.get("n_train"), "settings['n_train']", low=1)
    replicas = check_int(chosen.get("replicas"), "settings['replicas']", low=1, high=1024)
    nets = []
    for role in ("memorizing", "generalizing"):
        spec = chosen.get(role)
        if not isinstance(spec, dict) or set(spec) != set(_NETWORK_KEYS):
            raise ValueError(
                f"settings[{role!r}] must be a dict with the keys {list(_NETWORK_KEYS)}, "
                f"got {spec!r:.80}"
            )
        width = check_int(spec["width"], f"settings[{role!r}]['width']", low=1)
        epochs = check_int(spec["epochs"], f"settings[{role!r}]['epochs']", low=1)
        nets.append((width, epochs, float(spec["lr"])))
    s = check_seed(seed)
    train, held = digits_split(n_train, s)
    trained = [_trained(n_train, replicas, *net, s) for net in nets]
    return DigitsExample(train, held, trained[0], trained[1], dict(chosen))


@functools.lru_cache(maxsize=16)
def _trained(n_train: int, replicas: int, width: int, epochs: int, lr: float, seed: int) -> Any:
    import jax

    from diffmem_theory import nn

    train = digits_split(n_train, seed)[0].x
    net = nn.mlp(train.shape[1], width, DEPTH, key=jax.random.key(seed), prediction="x0")
    res = nn.train(
        net,
        np.repeat(train, replicas, axis=0),
        SCHEDULE,
        epochs=epochs,
        lr=lr,
        ema_decay=EMA_DECAY,
        seed=seed,
        progress=False,
    )
    return res.ema


def write_files(
    out_dir: str | os.PathLike[str],
    quick: bool = True,
    seed: int = 0,
    settings: dict[str, Any] | None = None,
) -> dict[str, Path]:
    r"""Train the example's networks and write everything ``diffmem audit`` needs into a folder.

    Files: ``train.npy`` and ``held_out.npy`` (the digits as ``(N, 8, 8)`` images, already in
    [0, 1]: audit them with ``--scale none``), ``memorizing.eqx`` and ``generalizing.eqx``
    (:func:`diffmem_theory.nn.save`). Then::

        diffmem audit --data DIR/train.npy --held-out DIR/held_out.npy --scale none \
            --model DIR/memorizing.eqx --out audit-memorizing

    Parameters
    ----------
    out_dir : str or os.PathLike
        The folder (created if needed).
    quick, seed, settings
        As in :func:`train_networks`.

    Returns
    -------
    dict of str to pathlib.Path
        The files written, by name (``"train"``, ``"held_out"``, ``"memorizing"``,
        ``"generalizing"``).

    Examples
    --------
    >>> import tempfile
    >>> tiny = {"n_train": 4, "replicas": 2, "memorizing": {"width": 8, "epochs": 20, "lr": 1e-3},
    ...         "generalizing": {"width": 4, "epochs": 10, "lr": 1e-3}}
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = write_files(tmp, settings=tiny)
    ...     sorted(p.name for p in paths.values()), np.load(paths["train"]).shape
    (['generalizing.eqx', 'held_out.npy', 'memorizing.eqx', 'train.npy'], (4, 8, 8))
    """
    from diffmem_theory import nn

    out = writable_dir(out_dir, "out_dir", create=True)
    ex = train_networks(quick, seed, settings)
    paths = {name: out / f"{name}.npy" for name in ("train", "held_out")}
    for name, dataset in (("train", ex.train), ("held_out", ex.held_out)):
        np.save(paths[name], dataset.images())
    for name in ("memorizing", "generalizing"):
        paths[name] = out / f"{name}.eqx"
        nn.save(paths[name], getattr(ex, name))
    return paths


def main(argv: list[str] | None = None) -> int:
    """``python -m diffmem_theory.audit.example DIR [--full] [--seed S]``: :func:`write_files`."""
    parser = argparse.ArgumentParser(
        prog="python -m diffmem_theory.audit.example",
        description="Train the audit example's two networks on digits and write them, with "
        "the training and held-out digits, into DIR for `diffmem audit`.",
    )
    parser.add_argument("out_dir", help="the folder to write into")
    parser.add_argument("--full", action="store_true", help="the full settings (longer)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    args = parser.parse_args(argv)
    try:
        paths = write_files(args.out_dir, quick=not args.full, seed=args.seed)
    except (ValueError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
