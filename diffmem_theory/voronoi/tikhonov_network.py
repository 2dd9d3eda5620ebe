r"""Paper 002's score networks trained with the Tikhonov objective (Sec. 5.3, Figs. 12-14).

Baptista et al. (paper 002), Sec. 5.3 train the MLP score network of
:mod:`diffmem_theory.voronoi.networks` on the 20 points
:data:`~diffmem_theory.voronoi.data.SEED1_DATA` with the Tikhonov-regularized objective
J_reg,0^N of eq. (5.5), lambda = sigma^2 and Gamma(t) = (c / sigma^2(t)) I_d:

.. math::

    J^N_{reg,0}(s) = \int_0^T \mathbb{E}\bigl(|\sigma(t) s(x, t) + \eta|^2
                     + c\,|s(x, t)|^2\bigr)\,dt,

whose exact minimizer is the regularized empirical score (5.7),
``s_reg^N = -(x - m(t) sum_n w_n x_0^n) / (c + sigma^2(t)) = s^N sigma^2 / (sigma^2 + c)``:
bounded as ``t -> 0`` for ``c > 0``, the singular empirical score ``s^N`` (Thm 3.2) for
``c = 0``. The paper reports (no numbers) that the samples of the reverse ODE concentrate on
the data as ``c -> 0`` (Figs. 12, 14, the fraction of 1000 samples within ``tau = 0.1``) and
that the learned score at a fixed ``x*`` approaches the singular behaviour of ``s^N`` near
``t = 0`` (Fig. 13).

Settings (:func:`tikhonov_settings`):

* full mode, the authors' code: width 256, 500,000 epochs (full batch: one Adam step per
  epoch), lr = 1e-3, ``c`` in {0, 1e-4, 1e-3, 1e-2, 0.1} (the paper's figures show
  0.001, 0.01, 0.1; its code also trains 0 and 1e-4), one run per ``c`` from the same
  initialization;
* quick mode: width 128, 40,000 epochs, lr = 3e-3, ``c`` in {0, 1e-3, 1e-2, 0.1}. A width-128
  epoch costs about a quarter of a width-256 one, and the larger step brings the network
  within 40,000 epochs to where the unregularized run memorizes visibly (about 40% of 1000
  samples within 0.1, seeds 0-2; lr 1e-2 is worse, about 17%). ``c = 1e-4`` is left out: its
  minimizer's samples sit within ~sqrt(c) = 0.01 of the data, so within ``tau = 0.1`` it
  repeats ``c = 0``. The trend survives because it is set by the regularizer, not by how far
  the training went: the exact minimizer is capped at ``|x - m x_0^n| / c``, and even its flow
  puts only 11%, 46%, 99% and 100% of the samples (seed 0) within 0.1 of the data for
  ``c = 0.1, 0.01, 1e-3, 0``; the quick networks (9%, 20%, 39%, 41%) stay below and keep the
  order. Longer training moves them toward the exact flows: at 200,000 epochs (width 128,
  lr 3e-3, seed 0) 10%, 35%, 79%, 85% and 90% for ``c = 0.1, 0.01, 1e-3, 1e-4, 0``.

The sample budget is the paper's in both modes (1000 samples per ``c``; Fig. 12 shows the
first 400). Training runs come from :func:`~diffmem_theory.voronoi.networks.train_snapshots`
and the sweep is cached in-process, so the checks and figures of one process train each
network once. Needs the ``nn`` extra (JAX, Equinox, Optax).

Examples
--------
>>> tiny = TikhonovSettings(width=8, epochs=20, lr=1e-3, cs=(0.0, 0.1), n_samples=10)
>>> res = tikhonov_sweep(tiny, seed=0)
>>> res["samples"].shape, res["fraction"].shape
((2, 10, 2), (2,))
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from diffmem_theory import nn
from diffmem_theory._validation import check_bool, check_int, check_scalar
from diffmem_theory.core.metrics import fraction_se, memorization_fraction
from diffmem_theory.voronoi.data import SEED1_DATA
from diffmem_theory.voronoi.dynamics import reverse_ode
from diffmem_theory.voronoi.networks import (
    LR,
    SCHEDULE,
    T_END,
    network_samples,
    network_starts,
    train_snapshots,
)
from diffmem_theory.voronoi.scores import empirical_score, gaussian_score, tikhonov_score

__all__ = [
    "FIG13_TIMES",
    "R_MAX",
    "SCORE_WINDOW",
    "TAU",
    "X_STAR_SPREAD",
    "ScoreLimitVerdict",
    "TikhonovSettings",
    "score_curves",
    "score_errors",
    "score_limit_verdict",
    "tikhonov_networks",
    "tikhonov_settings",
    "tikhonov_sweep",
    "x_star",
]

#: The memorization radius of Fig. 14 (paper 002, Sec. 5.3: ``tau = 10^{-1}`` for learned scores).
TAU = 0.1
#: The times of Fig. 13 (the authors' code: ``10**linspace(-5, 0, 100)``; its extra ``t = 0``
#: is outside the VP schedule's domain ``(0, 1]``).
FIG13_TIMES = 10.0 ** np.linspace(-5.0, 0.0, 100)
#: The spread of Fig. 13's point: ``x* = x_0^1 + 0.2 z``, ``z ~ N(0, I)`` (the authors' code).
X_STAR_SPREAD = 0.2
#: The noise levels sigma(t) where the score-limit check compares the networks with ``s^N``.
SCORE_WINDOW = (0.1, 0.3)
#: The score-limit check: the largest median relative error of the unregularized network.
R_MAX = 0.5
#: Draws of Fig. 13's point law per data point in the score-limit check.
_DRAWS_PER_POINT = 50


@dataclass(frozen=True)
class TikhonovSettings:
    r"""The settings of one sweep over ``c`` (hashable: it keys the in-process cache).

    Parameters
    ----------
    width : int
        Hidden width of paper 002's network, ``>= 1``.
    epochs : int
        Training epochs (full-batch Adam steps), ``>= 1``.
    lr : float
        Adam's learning rate, ``> 0``.
    cs : tuple of float
        Tikhonov constants, ``>= 0``, strictly increasing.
    n_samples : int, default 1000
        Reverse-ODE samples per network (paper 002: 1000).

    Raises
    ------
    ValueError
        A bad field, named.

    Examples
    --------
    >>> TikhonovSettings(width=8, epochs=10, lr=1e-3, cs=(0.0, 0.1)).n_samples
    1000
    >>> TikhonovSettings(width=8, epochs=10, lr=1e-3, cs=(0.1, 0.0))
    Traceback (most recent call last):
    ...
    ValueError: cs must be strictly increasing, got (0.1, 0.0)
    """

    width: int
    epochs: int
    lr: float
    cs: tuple[float, ...]
    n_samples: int = 1000

    def __post_init__(self) -> None:
        object.__setattr__(self, "width", check_int(self.width, "width", low=1))
        object.__setattr__(self, "epochs", check_int(self.epochs, "epochs", low=1))
        object.__setattr__(self, "lr", check_scalar(self.lr, "lr", low=0.0, low_open=True))
        if not isinstance(self.cs, tuple) or not self.cs:
            raise ValueError(f"cs must be a non-empty tuple of floats, got {self.cs!r:.80}")
        cs = tuple(check_scalar(c, "cs", low=0.0) for c in self.cs)
        if any(b <= a for a, b in itertools.pairwise(cs)):
            raise ValueError(f"cs must be strictly increasing, got {cs}")
        object.__setattr__(self, "cs", cs)
        object.__setattr__(self, "n_samples", check_int(self.n_samples, "n_samples", low=1))


_SETTINGS = {
    False: TikhonovSettings(width=256, epochs=500_000, lr=LR, cs=(0.0, 1e-4, 1e-3, 1e-2, 0.1)),
    True: TikhonovSettings(width=128, epochs=40_000, lr=3e-3, cs=(0.0, 1e-3, 1e-2, 0.1)),
}


def tikhonov_settings(quick: bool = True) -> TikhonovSettings:
    r"""The settings of Figs. 12-14: the authors' (``quick=False``) or the quick ones.

    Full: width 256, 500,000 epochs, lr = 1e-3, ``c`` in {0, 1e-4, 1e-3, 1e-2, 0.1};
    quick: width 128, 40,000 epochs, lr = 3e-3, ``c`` in {0, 1e-3, 1e-2, 0.1} (the module
    docstring says why). 1000 samples per ``c`` in both.

    Parameters
    ----------
    quick : bool, default True

    Returns
    -------
    TikhonovSettings

    Examples
    --------
    >>> s = tikhonov_settings(quick=False)
    >>> s.width, s.epochs, s.cs
    (256, 500000, (0.0, 0.0001, 0.001, 0.01, 0.1))
    """
    return _SETTINGS[check_bool(quick, "quick")]


def _check_settings(settings: Any) -> TikhonovSettings:
    if not isinstance(settings, TikhonovSettings):
        raise TypeError(f"settings must be a TikhonovSettings, got {type(settings).__name__}")
    return settings


def tikhonov_networks(settings: TikhonovSettings, seed: int = 0) -> tuple[Any, ...]:
    r"""The EMA networks trained on J_reg,0^N, one per ``c`` of ``settings`` (cached).

    Each is :func:`~diffmem_theory.voronoi.networks.train_snapshots` with ``objective="J"``
    and the ``c``: paper 002, eq. (5.5) with lambda = sigma^2 and Gamma = (c / sigma^2) I.

    Parameters
    ----------
    settings : TikhonovSettings
    seed : int, default 0
        Seeds the initialization (the same for every ``c``) and the training noise.

    Returns
    -------
    tuple of MLP
        Score networks, in the order of ``settings.cs``.

    Examples
    --------
    >>> tiny = TikhonovSettings(width=8, epochs=20, lr=1e-3, cs=(0.0, 0.1), n_samples=10)
    >>> [net.prediction for net in tikhonov_networks(tiny)]
    ['score', 'score']
    """
    s = _check_settings(settings)
    seed = check_int(seed, "seed", low=0)
    return tuple(
        train_snapshots(s.width, (s.epochs,), objective="J", c=c, seed=seed, lr=s.lr)[0]
        for c in s.cs
    )


def _exact_fraction(c: float, n: int, seed: int) -> float:
    """Fraction within TAU of the exact minimizer's flow, from network_samples' x_T."""
    x_T = network_starts(n, seed)
    score = "tikhonov" if c > 0 else "empirical"
    sol = reverse_ode(x_T, SEED1_DATA, SCHEDULE, T_END, score=score, c=c, rtol=1e-5, atol=1e-5)
    if not sol.success:
        raise RuntimeError(f"integration of the exact flow failed: {set(sol.messages())}")
    return memorization_fraction(sol.final, SEED1_DATA, TAU)


@functools.lru_cache(maxsize=16)
def _sweep(settings: TikhonovSettings, seed: int) -> tuple[np.ndarray, ...]:
    nets = tikhonov_networks(settings, seed)
    samples = np.stack([network_samples(net, settings.n_samples, seed=seed) for net in nets])
    fractions = np.array([memorization_fraction(x, SEED1_DATA, TAU) for x in samples])
    exact = np.array([_exact_fraction(c, settings.n_samples, seed) for c in settings.cs])
    for a in (samples, fractions, exact):
        a.flags.writeable = False
    return samples, fractions, exact


def tikhonov_sweep(settings: TikhonovSettings, seed: int = 0) -> dict[str, Any]:
    r"""Samples of each network and the fraction within ``tau = 0.1`` of the data (Figs. 12, 14).

    For each ``c`` of ``settings``, ``n_samples`` end points of the reverse probability-flow
    ODE (:func:`~diffmem_theory.voronoi.networks.network_samples`, ``x_T`` seeded by
    ``seed``, the same for every ``c``) and the fraction ``mean(min_n |x - x_0^n| < 0.1)``
    (paper 002, Fig. 14); beside it, the fraction of the flow of each network's exact
    minimizer, the regularized empirical score (5.7) (the empirical score for ``c = 0``),
    from the same ``x_T`` to the same end time
    (:func:`~diffmem_theory.voronoi.dynamics.reverse_ode` in s-time, tolerances 1e-5): what
    a perfectly trained network would give. Cached in-process (the arrays are read-only).

    Parameters
    ----------
    settings : TikhonovSettings
    seed : int, default 0

    Returns
    -------
    dict
        ``c`` (n_c,), ``samples`` (n_c, n_samples, 2), ``fraction`` (n_c,), ``se`` (n_c,)
        (:func:`~diffmem_theory.core.metrics.fraction_se`), ``exact_fraction`` (n_c,),
        ``n_samples``, ``width``, ``epochs``, ``lr``, ``seed``.

    Examples
    --------
    >>> tiny = TikhonovSettings(width=8, epochs=20, lr=1e-3, cs=(0.0, 0.1), n_samples=10)
    >>> float(tikhonov_sweep(tiny)["se"][0]) >= 0.1
    True
    """
    s = _check_settings(settings)
    seed = check_int(seed, "seed", low=0)
    samples, fractions, exact = _sweep(s, seed)
    return {
        "c": np.array(s.cs), "samples": samples, "fraction": fractions,
        "se": fraction_se(fractions, s.n_samples), "exact_fraction": exact,
        "n_samples": s.n_samples,
        "width": s.width, "epochs": s.epochs, "lr": s.lr, "seed": seed,
    }  # fmt: skip


def x_star(seed: int = 0) -> np.ndarray:
    r"""Fig. 13's point ``x* = x_0^1 + 0.2 z``, ``z ~ N(0, I_2)`` (the authors' code).

    ``z`` comes from the first child of ``numpy.random.SeedSequence(seed)``, a stream of its
    own (``network_samples`` draws ``x_T`` from ``default_rng(seed)``:
    :func:`~diffmem_theory.voronoi.networks.network_starts`).

    Parameters
    ----------
    seed : int, default 0

    Returns
    -------
    (2,) ndarray

    Examples
    --------
    >>> print(np.round(np.linalg.norm(x_star(0) - SEED1_DATA[0]), 2))
    0.34
    """
    seed = check_int(seed, "seed", low=0)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    return SEED1_DATA[0] + X_STAR_SPREAD * rng.standard_normal(SEED1_DATA.shape[1])


def _norms(a: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a, axis=-1)


def score_curves(
    settings: TikhonovSettings, seed: int = 0, t: ArrayLike = FIG13_TIMES
) -> dict[str, Any]:
    r"""``|s(x*, t)|`` of each network against the exact scores at Fig. 13's point ``x*``.

    The references are the empirical score ``s^N`` (Thm 3.2, eqs. (3.8)-(3.9), with the VP
    mean factor ``m(t)``: the authors' code omits it) and the exact minimizer of each
    network's objective, the regularized score ``s_reg^N`` of eq. (5.7).

    Parameters
    ----------
    settings : TikhonovSettings
    seed : int, default 0
        Seeds the networks and ``x*`` (:func:`x_star`).
    t : array_like, shape (n_t,), default :data:`FIG13_TIMES`
        Times in the schedule's domain ``(0, 1]``.

    Returns
    -------
    dict
        ``c`` (n_c,), ``t`` (n_t,), ``x_star`` (2,), ``distance`` (from ``x*`` to the
        nearest data point), ``network`` (n_c, n_t): ``|s_net|``, ``empirical`` (n_t,):
        ``|s^N|``, ``tikhonov`` (n_c, n_t): ``|s_reg^N|``.

    Examples
    --------
    >>> tiny = TikhonovSettings(width=8, epochs=20, lr=1e-3, cs=(0.0, 0.1), n_samples=10)
    >>> res = score_curves(tiny, t=[1e-5, 1.0])
    >>> res["network"].shape, bool(res["empirical"][0] > 1e6)
    ((2, 2), True)
    """
    s = _check_settings(settings)
    ts = np.asarray(t, dtype=float)
    if ts.ndim != 1 or ts.size < 1 or not np.all((ts > 0.0) & (ts <= SCHEDULE.T)):
        raise ValueError(f"t must be a 1-d array of times in (0, {SCHEDULE.T}], got {ts!r:.80}")
    xs = x_star(seed)
    pts = np.tile(xs, (ts.size, 1))
    nets = tikhonov_networks(s, seed)
    return {
        "c": np.array(s.cs), "t": ts, "x_star": xs, "seed": seed,
        "distance": float(np.min(_norms(SEED1_DATA - xs))),
        "network": np.stack([_norms(nn.numpy_callable(net)(pts, ts)) for net in nets]),
        "empirical": _norms(empirical_score(pts, ts, SEED1_DATA, SCHEDULE)),
        "tikhonov": np.stack([_norms(tikhonov_score(pts, ts, SEED1_DATA, SCHEDULE, c))
                              for c in s.cs]),
    }  # fmt: skip


def score_errors(settings: TikhonovSettings, seed: int = 0) -> dict[str, Any]:
    r"""Median relative error of each score against ``s^N`` on the law of Fig. 13's ``x*``.

    Points ``x = x_0^n + 0.2 z`` (50 draws for each of the 20 data points, from the second
    child of ``SeedSequence(seed)``) and the times of :data:`FIG13_TIMES` with
    ``sigma(t)`` in :data:`SCORE_WINDOW` = [0.1, 0.3]; for a score ``s``

    .. math::

        r(s) = \operatorname{mean}_t\ \operatorname{median}_x
               \frac{|s(x, t) - s^N(x, t)|}{|s^N(x, t)|}.

    The window is where the networks can be compared with ``s^N``: the points lie at a typical
    distance ``0.2 sqrt(pi/2) = 0.25`` from their data point, within about ``2.5 sigma(t)``
    of it, where the training samples at time ``t`` fall; at smaller ``t`` they lie in the far
    tail of ``p_t^N``, no training sample comes near them, and every network extrapolates
    (the plateau of Fig. 13). In the window ``c / (sigma^2 + c) >= 0.53`` for ``c = 0.1``, so
    the regularizer changes the exact minimizer by half of ``s^N`` or more.

    Parameters
    ----------
    settings : TikhonovSettings
    seed : int, default 0

    Returns
    -------
    dict
        ``c`` (n_c,), ``network`` (n_c,): ``r`` of each network; ``exact`` (n_c,): ``r`` of
        each exact minimizer (5.7), which is the median of ``c / (sigma^2 + c)``;
        ``generalizing``: ``r`` of the data law's score (the 20 points are draws of
        ``N(0, I)``, whose VP score is ``-x``, Remark 3.7); ``t`` (the window's times).

    Examples
    --------
    >>> tiny = TikhonovSettings(width=8, epochs=20, lr=1e-3, cs=(0.0, 0.1), n_samples=10)
    >>> print(np.round(score_errors(tiny)["exact"], 2))
    [0.   0.74]
    """
    s = _check_settings(settings)
    seed = check_int(seed, "seed", low=0)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
    n, d = SEED1_DATA.shape
    z = rng.standard_normal((n, _DRAWS_PER_POINT, d))
    pts = (SEED1_DATA[:, None, :] + X_STAR_SPREAD * z).reshape(-1, d)
    sig = SCHEDULE.sigma(FIG13_TIMES)
    ts = FIG13_TIMES[(sig >= SCORE_WINDOW[0]) & (sig <= SCORE_WINDOW[1])]
    fs = [nn.numpy_callable(net) for net in tikhonov_networks(s, seed)]

    def rel(scores: list[np.ndarray], ref: np.ndarray) -> list[float]:
        return [float(np.median(_norms(a - ref) / _norms(ref))) for a in scores]

    rows = []
    for t in ts:
        emp = empirical_score(pts, t, SEED1_DATA, SCHEDULE)
        exact = [tikhonov_score(pts, t, SEED1_DATA, SCHEDULE, c) for c in s.cs]
        true = gaussian_score(pts, t, np.eye(d), SCHEDULE)
        rows.append(rel([f(pts, t) for f in fs], emp) + rel(exact, emp) + rel([true], emp))
    r = np.mean(rows, axis=0)
    k = len(s.cs)
    return {
        "c": np.array(s.cs), "t": ts, "network": r[:k], "exact": r[k : 2 * k],
        "generalizing": float(r[-1]),
    }  # fmt: skip


@dataclass(frozen=True)
class ScoreLimitVerdict:
    r"""The verdict of :func:`score_limit_verdict`.

    Attributes
    ----------
    r_memorizing : float
        ``r`` of the network with the smallest ``c``.
    gap : float
        ``r`` of the network with the largest ``c`` minus ``r_memorizing``.
    exact_gap : float
        The same gap between the exact minimizers (5.7).
    passed : bool
        ``r_memorizing < R_MAX`` and ``gap > exact_gap / 2``.
    """

    r_memorizing: float
    gap: float
    exact_gap: float
    passed: bool


def score_limit_verdict(network: ArrayLike, exact: ArrayLike) -> ScoreLimitVerdict:
    r"""Does the learned score tend to ``s^N`` as ``c -> 0``? (decision of the check).

    With the relative errors ``r`` of :func:`score_errors` in the order of increasing ``c``:
    the network of the smallest ``c`` (the memorizing one) is within half of ``s^N``'s size
    of it (``r_1 <`` :data:`R_MAX` = 0.5; the data law's smooth score is off by 0.94),
    and the regularizer moves the networks away from ``s^N`` by at least half as much as it
    moves the exact minimizers: ``r_K - r_1 > (r*_K - r*_1) / 2``.

    Parameters
    ----------
    network, exact : array_like, shape (K,)
        ``r`` of the networks and of the exact minimizers, ``K >= 2``, ``c`` increasing.

    Returns
    -------
    ScoreLimitVerdict

    Examples
    --------
    >>> score_limit_verdict([0.35, 0.8], [0.0, 0.74]).passed
    True
    >>> score_limit_verdict([0.8, 0.35], [0.0, 0.74]).passed
    False
    """
    r = np.asarray(network, dtype=float)
    rx = np.asarray(exact, dtype=float)
    if r.ndim != 1 or r.size < 2 or not np.all(np.isfinite(r) & (r >= 0)):
        raise ValueError(f"network must be a 1-d array of >= 2 errors >= 0, got {r!r:.80}")
    if rx.shape != r.shape or not np.all(np.isfinite(rx) & (rx >= 0)):
        raise ValueError(f"exact must be errors >= 0 shaped like network, got {rx!r:.80}")
    gap, exact_gap = float(r[-1] - r[0]), float(rx[-1] - rx[0])
    passed = bool(r[0] < R_MAX) and gap > exact_gap / 2
    return ScoreLimitVerdict(float(r[0]), gap, exact_gap, passed)
