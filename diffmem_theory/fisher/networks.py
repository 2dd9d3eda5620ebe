r"""Paper 003's ReLU score networks (Sec. 6.1, Figs. 1-2; Prop 4.1): training runs and measures.

Ye, Zhu, Tao, Chen (paper 003), Sec. 6.1 train ReLU networks of growing size on samples of a
Gaussian mixture and report that memorization needs a size that grows with n (the direction of
Thm 5.1, whose Taylor construction of the empirical score has width ``W_1 = O(n log^3(1/eps))``,
eq. (5.3)). The paper does not give its architecture, optimizer, process, times or sampler; our
choices:

* Data (:func:`laboratory`): ``K = 4`` unit-variance components in ``d = 2`` with means at
  the corners ``(+-4, +-4)`` (the paper's Fig. 1 scatter spans about ``[-8, 8]^2``; its means are
  not given). The ``i``-th training point belongs to component ``i mod 4``, so every cluster
  holds ``n/4`` points and the set for a smaller ``n`` is the start of the set for a larger one.
* Networks: :func:`~diffmem_theory.nn.mlp` with :data:`DEPTH` = 3 hidden ReLU layers of one
  width and Fourier time features, in eps units (``s = -eps_hat/sigma_t``), trained by
  :func:`~diffmem_theory.nn.train` full batch (one Adam step an epoch) on the DSM objective
  ``E |eps_hat(x_t, t) - eta|^2`` (the ``"eps"`` weighting: paper 003's (3.1) times
  ``sigma_t^2``, the same minimizer at each t), lr :data:`LR`, EMA :data:`EMA_DECAY`.
* Process: :data:`SCHEDULE`, the variance-exploding process ``sigma_t^2 = (1000^{2t} - 1) /
  (2 ln 1000)`` on ``t in [1e-3, 0.6]``, ``sigma`` from 0.032 to 17: uniform training times
  are then nearly log-uniform in ``sigma`` (10 % of them have ``sigma < 0.3``). Paper 003's
  VP process with beta = 1 on ``[1e-3, 8]`` gives 1 % there, and a network trained 10^4 steps
  on it did not resolve the points (4 points, width 64: samples at a median distance 0.5 from
  their nearest training point, against 0.2 here). Prop 4.1 holds for any process.
* Samples (:func:`network_samples`): the probability-flow ODE
  (:func:`~diffmem_theory.core.dynamics.solve`, Heun, :data:`N_STEPS` geometric steps) from
  ``x_T ~ N(0, sigma_T^2 I)`` to :data:`T_END` = 1e-3.
* Measures: the memorization ratio of Sec. 6.1 (``|x - x_(1)| <= |x - x_(2)|/3``,
  :func:`~diffmem_theory.core.metrics.memorization_ratio` with ``c = 1/9`` on squared
  distances), and the mean log-likelihood of the samples under the true mixture, taken at
  ``T_END`` (``log p_{t_0}``; the paper does not say under which density; at ``t_0`` the
  components' variance is ``1 + 1e-3``).

Trained networks are cached in-process (:func:`trained_network`), so a check and a figure of
one ``diffmem reproduce`` train each setting once. Needs the ``nn`` extra (JAX, Equinox,
Optax).

Examples
--------
>>> net = trained_network(4, 8, 50, seed=0)
>>> x = network_samples(net, 5, seed=0, n_steps=20)
>>> x.shape
(5, 2)
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import numpy as np

from diffmem_theory import nn
from diffmem_theory._validation import check_bool, check_config, check_int, check_seed
from diffmem_theory.core.distributions import IsotropicGaussianMixture
from diffmem_theory.core.dynamics import solve
from diffmem_theory.core.metrics import fraction_se, is_memorized
from diffmem_theory.core.schedules import VEExp
from diffmem_theory.fisher.loss_gap import Prop41Result, prop_4_1_sides

__all__ = [
    "DEPTH",
    "EMA_DECAY",
    "FULL",
    "LOSS_GAP_TIMES",
    "LR",
    "MEANS",
    "N_STEPS",
    "QUICK",
    "SCHEDULE",
    "T_END",
    "laboratory",
    "loss_gap_pairs",
    "loss_gap_sides",
    "memorizing_width",
    "network_samples",
    "network_score",
    "setting",
    "threshold_decision",
    "trained_network",
    "true_score_measures",
    "width_sweep",
]

#: The process of the network experiments (see the module docstring).
SCHEDULE = VEExp(sigma_max=1000.0, T=0.6)
#: The end of sampling and the lower end of the training times.
T_END = 1e-3
#: The four means of Fig. 1's mixture (ours: the paper's are not given).
MEANS = np.array([[4.0, 4.0], [4.0, -4.0], [-4.0, 4.0], [-4.0, -4.0]])
#: Hidden layers of every network.
DEPTH = 3
#: Adam's learning rate and the EMA decay.
LR, EMA_DECAY = 3e-3, 0.999
#: Heun steps of the sampler.
N_STEPS = 200
#: Quick mode: two n, four widths, 2 x 10^4 steps, 200 samples (see the figures' module).
QUICK: dict[str, Any] = {
    "ns": (8, 32),
    "widths": (4, 16, 64, 128),
    "epochs": 20_000,
    "n_samples": 200,
}
#: Full mode: three n, widths 4 to 512, 4 x 10^4 steps, 1000 samples.
FULL: dict[str, Any] = {
    "ns": (8, 32, 128),
    "widths": (4, 8, 16, 32, 64, 128, 256, 512),
    "epochs": 40_000,
    "n_samples": 1000,
}
#: The times of the loss-gap figure: sigma_t from 0.045 to 5.
LOSS_GAP_TIMES = tuple(np.geomspace(2e-3, 0.5, 8).tolist())
_POOL = 4096  # the largest n: the noise of every training set is the start of one draw
_MAX_SAMPLES = 10**6


def setting(quick: bool = True) -> dict[str, Any]:
    """:data:`QUICK` or :data:`FULL` (a copy).

    >>> setting()["ns"], setting(False)["epochs"]
    ((8, 32), 40000)
    """
    return dict(QUICK if check_bool(quick, "quick") else FULL)


def loss_gap_pairs(settings: dict[str, Any]) -> tuple[tuple[int, int], ...]:
    """The ``(n, width)`` pairs of the loss-gap figure: the widest network at the smallest n
    (memorizing) and at the largest n (generalizing).

    >>> loss_gap_pairs(QUICK)
    ((8, 128), (32, 128))
    """
    check_config(settings, "settings", ("ns", "widths"))
    ns, widths = (_sizes(settings[key], f"settings[{key!r}]") for key in ("ns", "widths"))
    w = max(widths)
    return ((min(ns), w), (max(ns), w))


def _sizes(value: Any, name: str) -> tuple[int, ...]:
    """A non-empty sequence of positive integers (training-set sizes or widths), or raise."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__") or len(value) == 0:
        raise ValueError(f"{name} must be a non-empty sequence of integers, got {value!r:.80}")
    return tuple(check_int(v, name, low=1) for v in value)


def laboratory(n: int, seed: int = 0) -> tuple[IsotropicGaussianMixture, np.ndarray]:
    r"""The mixture of Fig. 1 (K = 4 unit components at ``(+-4, +-4)``) and ``n`` points of it.

    Point ``i`` is ``MEANS[i mod 4] + z_i`` with ``z_i ~ N(0, I_2)`` from
    ``np.random.default_rng(seed)``: balanced clusters, and a smaller set is the start of a
    larger one. ``2 <= n <= 4096``.

    >>> gmm, X = laboratory(8, seed=1)
    >>> X.shape, gmm.n_components, bool(np.array_equal(laboratory(5, seed=1)[1], X[:5]))
    ((8, 2), 4, True)
    """
    count = check_int(n, "n", low=2, high=_POOL)
    noise = np.random.default_rng(check_seed(seed)).standard_normal((_POOL, 2))
    X = MEANS[np.arange(count) % len(MEANS)] + noise[:count]
    return IsotropicGaussianMixture(MEANS, 1.0), X


def trained_network(n: int, width: int, epochs: int, seed: int = 0) -> Any:
    r"""The EMA network of width ``width`` trained ``epochs`` epochs on :func:`laboratory` (n).

    Initialization ``jax.random.key(seed)``, training noise ``seed``; the settings of the module
    docstring. Cached in-process (a check and a figure share it).

    Parameters
    ----------
    n : int
        Training points, ``2 <= n <= 4096``.
    width : int
        Hidden width, ``>= 1``.
    epochs : int
        Full-batch Adam steps, ``>= 1``.
    seed : int, default 0

    Returns
    -------
    MLP
        The EMA network (eps units).

    Examples
    --------
    >>> trained_network(4, 8, 20).prediction
    'eps'
    >>> trained_network(4, 0, 20)
    Traceback (most recent call last):
    ...
    ValueError: width must be >= 1, got 0
    """
    count = check_int(n, "n", low=2, high=_POOL)
    w = check_int(width, "width", low=1)
    e = check_int(epochs, "epochs", low=1)
    return _trained_network(count, w, e, check_seed(seed))


@functools.lru_cache(maxsize=128)
def _trained_network(n: int, width: int, epochs: int, seed: int) -> Any:
    _, X = laboratory(n, seed)
    net = nn.mlp(2, width, DEPTH, key=jax.random.key(seed), prediction="eps")
    return nn.train(
        net, X, SCHEDULE, epochs=epochs, lr=LR, ema_decay=EMA_DECAY, t_min=T_END,
        t_max=SCHEDULE.T, seed=seed, chunk=min(epochs, 5000), progress=False,
    ).ema  # fmt: skip


def network_score(model: Any) -> Any:
    r"""The network's score ``s(x, t) = -eps_hat(x, t)/sigma_t`` as a NumPy callable ``(x, t)``.

    >>> s = network_score(trained_network(4, 8, 20))
    >>> s(np.zeros((3, 2)), 0.1).shape
    (3, 2)
    """
    den = nn.as_denoiser(model, SCHEDULE)
    return lambda x, t: den.predict(x, t, "score")


def network_samples(model: Any, n: int, *, seed: int = 0, n_steps: int = N_STEPS) -> np.ndarray:
    r"""``n`` samples by the probability-flow ODE from ``x_T ~ N(0, sigma_T^2 I)`` to ``T_END``.

    Heun (:func:`~diffmem_theory.core.dynamics.solve`) on ``n_steps`` geometric steps from
    ``T = 0.6`` to ``T_END = 1e-3``; ``x_T`` from ``np.random.default_rng(seed)``.

    Parameters
    ----------
    model : MLP
        A network trained on :data:`SCHEDULE`.
    n : int
        Samples, ``1 <= n <= 10^6``.
    seed : int, default 0
    n_steps : int, default 200
        ``>= 1``.

    Returns
    -------
    (n, 2) ndarray

    Examples
    --------
    >>> network_samples(trained_network(4, 8, 20), 3, seed=1, n_steps=10).shape
    (3, 2)
    """
    return _flow_samples(nn.as_denoiser(model, SCHEDULE), n, seed, n_steps)


def _flow_samples(denoiser: Any, n: int, seed: int, n_steps: int) -> np.ndarray:
    count = check_int(n, "n", low=1, high=_MAX_SAMPLES)
    steps = check_int(n_steps, "n_steps", low=1, high=10**5)
    rng = np.random.default_rng(check_seed(seed))
    x_T = rng.normal(0.0, float(SCHEDULE.sigma(SCHEDULE.T)), (count, 2))
    grid = np.geomspace(SCHEDULE.T, T_END, steps + 1)
    return np.asarray(solve(denoiser, SCHEDULE, x_T, grid).final)


def true_score_measures(ns: tuple[int, ...], n_samples: int, seed: int = 0) -> dict[str, Any]:
    r"""Memorization ratio and sample log-likelihood of the true mixture's score, per n.

    The reference of :func:`width_sweep`: the same sampler and the same ``x_T`` (seed
    ``seed + 1``) with the exact score of the mixture, measured against each training set of
    :func:`laboratory`. Returns ``{"ratio": (len(ns),), "loglik": (len(ns),)}``.

    >>> r = true_score_measures((8,), 20)
    >>> r["ratio"].shape, bool(r["loglik"][0] < 0)
    ((1,), True)
    """
    if not isinstance(ns, tuple) or not ns:
        raise TypeError(f"ns must be a non-empty tuple of ints, got {ns!r:.80}")
    counts = [check_int(n, "ns", low=2, high=_POOL) for n in ns]
    gmm, _ = laboratory(2, seed)
    x = _flow_samples(gmm, n_samples, seed + 1, N_STEPS)
    ratio = [float(np.mean(is_memorized(x, laboratory(n, seed)[1], 1.0 / 9.0))) for n in counts]
    loglik = float(np.mean(gmm.log_prob_t(x, T_END, SCHEDULE)))
    return {"ratio": np.array(ratio), "loglik": np.full(len(counts), loglik)}


def width_sweep(
    ns: tuple[int, ...],
    widths: tuple[int, ...],
    epochs: int,
    n_samples: int,
    seed: int = 0,
) -> dict[str, Any]:
    r"""Memorization ratio and sample log-likelihood of trained networks, per n and width.

    For each ``n`` of ``ns`` and ``width`` of ``widths``: :func:`trained_network`, ``n_samples``
    samples (:func:`network_samples`, the same ``x_T`` for every network), and

    * ``ratio[i, j]``: the memorization ratio of Sec. 6.1 (``|x - x_(1)| <= |x - x_(2)|/3``);
    * ``stderr[i, j]``: its binomial standard error
      (:func:`~diffmem_theory.core.metrics.fraction_se`);
    * ``loglik[i, j]``: the mean ``log p_{t_0}`` of the samples under the true mixture;
    * ``samples[(n, width)]`` and ``memorized[(n, width)]`` (per-sample flags).

    Cached in-process. ``ns`` and ``widths`` are non-empty tuples of ints.

    Returns
    -------
    dict
        With ``ns``, ``widths``, ``epochs``, ``n_samples``, ``seed``, the arrays above, and
        ``data[n]`` (the training points).

    Examples
    --------
    >>> sw = width_sweep((4,), (4, 8), 20, 10)
    >>> sw["ratio"].shape, sw["samples"][(4, 8)].shape
    ((1, 2), (10, 2))
    """
    for value, name in ((ns, "ns"), (widths, "widths")):
        if not isinstance(value, tuple) or not value:
            raise TypeError(f"{name} must be a non-empty tuple of ints, got {value!r:.80}")
    counts = tuple(check_int(n, "ns", low=2, high=_POOL) for n in ns)
    ws = tuple(check_int(w, "widths", low=1) for w in widths)
    e = check_int(epochs, "epochs", low=1)
    m = check_int(n_samples, "n_samples", low=1, high=_MAX_SAMPLES)
    return _width_sweep(counts, ws, e, m, check_seed(seed))


@functools.lru_cache(maxsize=16)
def _width_sweep(
    ns: tuple[int, ...], widths: tuple[int, ...], epochs: int, m: int, seed: int
) -> dict[str, Any]:
    out: dict[str, Any] = dict(ns=ns, widths=widths, epochs=epochs, n_samples=m, seed=seed)
    ratio, loglik = np.zeros((len(ns), len(widths))), np.zeros((len(ns), len(widths)))
    out.update(samples={}, memorized={}, data={})
    for i, n in enumerate(ns):
        gmm, X = laboratory(n, seed)
        out["data"][n] = X
        for j, w in enumerate(widths):
            x = network_samples(trained_network(n, w, epochs, seed), m, seed=seed + 1)
            flags = is_memorized(x, X, 1.0 / 9.0)
            out["samples"][(n, w)], out["memorized"][(n, w)] = x, flags
            ratio[i, j] = float(np.mean(flags))
            loglik[i, j] = float(np.mean(gmm.log_prob_t(x, T_END, SCHEDULE)))
    out.update(ratio=ratio, stderr=fraction_se(ratio, m), loglik=loglik)
    return out


def memorizing_width(widths: Any, ratio: Any) -> float:
    r"""The smallest width whose memorization ratio exceeds 1/2 (``inf`` if none does).

    Our definition of the "memorizing size" of Thm 5.1's direction: a network memorizes on
    average when more than half of its samples are memorized (paper 000, Sec. 4 uses the same
    1/2).

    >>> memorizing_width([4, 8, 16], [0.1, 0.6, 0.9]), memorizing_width([4, 8], [0.1, 0.2])
    (8.0, inf)
    """
    w, r = np.asarray(widths, dtype=np.float64), np.asarray(ratio, dtype=np.float64)
    if w.ndim != 1 or w.shape != r.shape or w.size == 0:
        raise ValueError(
            f"widths and ratio must be 1-D of one non-zero length, got shapes {w.shape}, {r.shape}"
        )
    above = np.flatnonzero(r > 0.5)
    return float(w[above[0]]) if above.size else math.inf


def threshold_decision(
    widths: Any, ratio_small: Any, ratio_large: Any, n_samples: int
) -> tuple[float, bool, str]:
    r"""Whether the memorizing width grows with n beyond Monte Carlo error (ours).

    With ``w_s`` = :func:`memorizing_width` of the smaller n and ``w_l`` that of the larger,
    the trend holds when ``w_s < w_l`` and, at ``w_s``, the smaller n's ratio exceeds the
    larger n's by more than 3 combined binomial standard errors:

        z = (r_small(w_s) - r_large(w_s)) / sqrt(SE_small^2 + SE_large^2) > 3.

    Returns ``(z, passed, note)``; ``z = -inf`` when the smaller n never memorizes (nothing to
    compare: fail).

    >>> z, ok, _ = threshold_decision([4, 8, 16], [0.2, 0.8, 0.9], [0.1, 0.2, 0.7], 200)
    >>> round(z, 1), ok
    (15.0, True)
    >>> threshold_decision([4, 8, 16], [0.1, 0.2, 0.7], [0.2, 0.8, 0.9], 200)[1]   # reversed
    False
    """
    small, large = (np.asarray(r, dtype=np.float64) for r in (ratio_small, ratio_large))
    w_s, w_l = memorizing_width(widths, small), memorizing_width(widths, large)
    if small.shape != large.shape:
        raise ValueError(
            f"ratio_small and ratio_large must have one shape, got {small.shape}, {large.shape}"
        )
    if math.isinf(w_s):
        return -math.inf, False, "the smaller n never exceeds ratio 1/2: no memorizing width"
    j = int(np.flatnonzero(np.asarray(widths, dtype=np.float64) == w_s)[0])
    se = fraction_se([small[j], large[j]], n_samples)
    z = float((small[j] - large[j]) / math.hypot(*se))
    note = (
        f"memorizing width (ratio > 1/2): {w_s:g} for the smaller n, {w_l:g} for the larger; "
        f"at width {w_s:g} ratios {small[j]:.3f} vs {large[j]:.3f} (z = {z:.1f})"
    )
    return z, bool(w_s < w_l and z > 3.0), note


def loss_gap_sides(
    nets: tuple[tuple[int, int], ...],
    epochs: int,
    t: tuple[float, ...],
    n_noise: int = 100,
    seed: int = 0,
) -> dict[tuple[int, int], tuple[Prop41Result, Prop41Result]]:
    r"""Both sides of Prop 4.1 for trained networks, and for the true score on the same data.

    Ye et al., Prop 4.1: ``Loss-Gap_t(s) = E_{P_hat_t}|s_hat - s|^2`` for any score ``s``
    (:func:`~diffmem_theory.fisher.loss_gap.prop_4_1_sides`: common random numbers,
    ``n_noise`` draws per training point). For each ``(n, width)`` of ``nets``: the network
    :func:`trained_network` ``(n, width, epochs, seed)`` and the true mixture's score, both
    against the empirical score of :func:`laboratory` ``(n, seed)``. Cached in-process.

    Returns
    -------
    dict
        ``(n, width) -> (network's Prop41Result, true score's Prop41Result)``.

    Examples
    --------
    >>> res = loss_gap_sides(((4, 8),), 20, (0.01, 0.3), n_noise=5)
    >>> net, true = res[(4, 8)]
    >>> net.rhs.mean.shape, bool(np.all(true.rhs.mean > 0))
    ((2,), True)
    """
    if not isinstance(nets, tuple) or not nets or not all(isinstance(p, tuple) for p in nets):
        raise TypeError(f"nets must be a non-empty tuple of (n, width) pairs, got {nets!r:.80}")
    if not isinstance(t, tuple) or not t:
        raise TypeError(f"t must be a non-empty tuple of times, got {t!r:.80}")
    pairs = []
    for pair in nets:
        if len(pair) != 2:
            raise ValueError(f"nets must hold (n, width) pairs, got {pair!r:.80}")
        pairs.append(
            (check_int(pair[0], "n", low=2, high=_POOL), check_int(pair[1], "width", low=1))
        )
    times = tuple(float(SCHEDULE.check_time(v, "t")) for v in t)
    return _loss_gap_sides(
        tuple(pairs), check_int(epochs, "epochs", low=1), times,
        check_int(n_noise, "n_noise", low=1), check_seed(seed),
    )  # fmt: skip


@functools.lru_cache(maxsize=16)
def _loss_gap_sides(
    nets: tuple[tuple[int, int], ...], epochs: int, t: tuple[float, ...], n_noise: int, seed: int
) -> dict[tuple[int, int], tuple[Prop41Result, Prop41Result]]:
    out = {}
    for n, w in nets:
        gmm, X = laboratory(n, seed)
        score = network_score(trained_network(n, w, epochs, seed))
        out[(n, w)] = tuple(
            prop_4_1_sides(X, s, t, SCHEDULE, n_noise=n_noise, seed=seed) for s in (score, gmm)
        )
    return out
