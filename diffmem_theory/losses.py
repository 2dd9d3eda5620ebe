r"""Monte Carlo training and test losses of denoisers (Buchanan et al., paper 000, eqs. (5)-(13)).

The training loss of a denoiser ``xbar`` (an x0-prediction) on the training set ``x^1..x^N`` is

    L_{N,t}(xbar) = (1/N) sum_i E_Z |xbar(t, alpha_t x^i + sigma_t Z) - x^i|^2         (eq. (6))

and ``L_N(xbar, lambda) = E_t[lambda(t) L_{N,t}(xbar)]``. The expectation over ``Z`` is estimated
with ``n_noise`` Gaussian draws per training point (the paper's ``N_dup``). The draws are a pure
function of ``(seed, index of t)``: two denoisers evaluated with the same ``seed`` and times see
the *same* noise (common random numbers), so the difference of their losses -- the quantity that
Thms 3.1 and 3.2 are about -- has a far smaller standard error than either loss.
:func:`training_losses` evaluates several denoisers on one set of draws; a
:class:`LossEstimate` keeps the per-draw squared errors, so ``a - b`` is the CRN difference with
its own standard error.

A denoiser is any callable ``denoiser(t, x_t) -> x0_hat`` with ``t`` a float and ``x_t`` of shape
``(B, d)``, for instance ``lambda t, x: memorizing_denoiser(t, x, X, sched)``.

>>> import numpy as np
>>> from diffmem_theory.denoisers import memorizing_denoiser
>>> from diffmem_theory.mixtures import IsotropicGaussianMixture, sphere_means
>>> from diffmem_theory.schedules import VPTrig
>>> sched, rng = VPTrig(), np.random.default_rng(0)
>>> gmm = IsotropicGaussianMixture(sphere_means(4, 30, rng), 1.0)
>>> X, _ = gmm.sample(100, rng)
>>> out = training_losses(
...     {"gen": lambda t, x: gmm.denoiser(t, x, sched),
...      "mem": lambda t, x: memorizing_denoiser(t, x, X, sched)},
...     X, 0.3, sched, n_noise=20)
>>> excess = out["gen"] - out["mem"]          # common random numbers
>>> bool(abs(excess.mean[0] - 30 * 0.3**2) < 4 * excess.stderr[0])   # Thm 3.1: d t^2
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from diffmem_theory._validation import (
    as_float_array,
    check_allocation,
    check_choice,
    check_int,
    finite_result,
)
from diffmem_theory.crossover import _grid_weights
from diffmem_theory.denoisers import memorizing_denoiser
from diffmem_theory.schedules import PREDICTIONS, Schedule, as_schedule, loss_scale

__all__ = [
    "LossEstimate",
    "noise_draws",
    "orthogonality_residual",
    "test_loss",
    "training_loss",
    "training_losses",
    "weighted_loss",
]

Denoiser = Callable[[float, np.ndarray], np.ndarray]

# Rows of x_t handed to a denoiser in one call (bounds the memory of B x d batches).
_MAX_BATCH = 1 << 16


@dataclass(frozen=True, eq=False)
class LossEstimate:
    r"""Per-draw squared errors of a Monte Carlo loss estimate, and their summaries.

    ``draws[l, i, r]`` is the loss of training point ``i`` under noise draw ``r`` at
    ``times[l]``; ``noise_key`` identifies the noise (``(seed, n_noise, N, d)``) so that
    differences are only formed between estimates that share it (common random numbers).

    * ``mean`` (shape ``(T,)``): ``L_{N,t}`` at each time, ``(1/(N R)) sum_{i,r} draws``.
    * ``stderr``: its standard error for the fixed training set,
      ``sqrt(sum_i s_i^2 / (N^2 R))`` with ``s_i^2`` the variance over the ``R`` draws of point
      ``i`` (with ``R = 1`` the pooled variance over all draws, which is conservative).
    * ``per_sample`` (``(T, N)``): the per-point averages over the draws.
    * ``a - b``: the CRN difference (same ``noise_key`` and ``unit`` required).
    * ``unit``: the prediction whose squared error ``draws`` holds (``"x0"`` for the losses
      made here; paper 003's DSM losses in :mod:`diffmem_theory.fisher` are in ``"score"``
      units); :meth:`to_unit` converts between them.

    >>> est = LossEstimate(np.array([0.5]), np.array([[[1.0, 3.0], [2.0, 2.0]]]), (0, 2, 2, 1))
    >>> est.mean.tolist(), est.per_sample.tolist(), est.stderr.round(6).tolist()
    ([2.0], [[2.0, 2.0]], [0.5])
    """

    times: np.ndarray
    draws: np.ndarray
    noise_key: tuple[int, ...]
    unit: str = "x0"

    def __post_init__(self) -> None:
        times = as_float_array(self.times, "times", ndim=1, dtype=np.float64)
        draws = as_float_array(self.draws, "draws", ndim=3, dtype=np.float64)
        if draws.shape[0] != times.shape[0] or min(draws.shape) < 1:
            raise ValueError(
                f"draws must have shape (len(times), N, R) = ({times.shape[0]}, N >= 1, R >= 1), "
                f"got {draws.shape}"
            )
        if not isinstance(self.noise_key, tuple):
            raise TypeError(f"noise_key must be a tuple, got {type(self.noise_key).__name__}")
        check_choice(self.unit, "unit", PREDICTIONS)
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "draws", draws)

    @property
    def mean(self) -> np.ndarray:
        return self.draws.mean(axis=(1, 2))

    @property
    def per_sample(self) -> np.ndarray:
        return self.draws.mean(axis=2)

    @property
    def stderr(self) -> np.ndarray:
        """Standard error of :attr:`mean`; ``inf`` from a single draw (no spread to estimate)."""
        _, n, r = self.draws.shape
        if n * r == 1:
            return np.full(len(self.times), np.inf)
        if r == 1:
            return self.draws.reshape(len(self.times), -1).std(axis=1, ddof=1) / np.sqrt(n)
        return np.sqrt(self.draws.var(axis=2, ddof=1).sum(axis=1) / (n**2 * r))

    def __sub__(self, other: LossEstimate) -> LossEstimate:
        if not isinstance(other, LossEstimate):
            return NotImplemented
        if self.unit != other.unit:
            raise ValueError(
                f"cannot difference a loss in {self.unit!r} units with one in {other.unit!r} "
                "units; convert one of them with to_unit first"
            )
        if self.noise_key != other.noise_key or not np.array_equal(self.times, other.times):
            raise ValueError(
                "the two estimates used different noise or times (noise_key "
                f"{self.noise_key} vs {other.noise_key}); evaluate both with the same seed, "
                "n_noise, training set and times to difference them (common random numbers)"
            )
        return LossEstimate(self.times, self.draws - other.draws, self.noise_key, self.unit)

    def to_unit(self, unit: str, schedule: Schedule) -> LossEstimate:
        r"""The same estimate in the loss units of another prediction (x0, eps, score, v).

        ``|eps_hat - eps|^2 = psi_t |xbar - x0|^2`` (paper 000, §2 after eq. (6)); in general the
        factor is :func:`diffmem_theory.schedules.loss_scale` from :attr:`unit` to ``unit``. The
        authors' plots convert eps losses back to x0 units by ``sigma^2/alpha^2``.

        >>> from diffmem_theory.schedules import VPTrig
        >>> est = LossEstimate(np.array([0.5]), np.ones((1, 1, 2)), (0, 2, 1, 1))
        >>> est.to_unit("eps", VPTrig()).mean.round(6).tolist()   # psi_0.5 = 3
        [3.0]
        """
        check_choice(unit, "unit", PREDICTIONS)
        scale = loss_scale(self.times, as_schedule(schedule, required=True), self.unit, unit)
        with np.errstate(over="ignore"):
            draws = finite_result(self.draws * scale[:, None, None], f"the loss in {unit} units")
        return LossEstimate(self.times, draws, self.noise_key, unit)

    def weighted(
        self, weighting: str | Callable[[np.ndarray], ArrayLike] | ArrayLike, schedule: Schedule
    ) -> tuple[float, float]:
        r"""``(L_N, standard error)`` with ``L_N = E_t[lambda(t) L_{N,t}]``, t uniform on ``times``.

        Buchanan et al. (paper 000), eq. (6) on a time grid (Sec. 3.1: t uniform over the grid).
        ``weighting`` is a unit name (``"x0"``: 1, ``"eps"``: ``psi_t``, ...), a callable
        ``lambda(t)`` or an array of one weight per time; it multiplies the loss in x0 units
        (eq. (6)), so an estimate in another :attr:`unit` is converted to x0 first. Draws at
        different times are independent, so the squared standard errors add.

        >>> from diffmem_theory.schedules import VPTrig
        >>> est = LossEstimate(np.array([0.5, 0.6]), np.ones((2, 1, 2)), (0, 2, 1, 1))
        >>> round(float(est.weighted("eps", VPTrig())[0]), 12)   # (3 + 0.64/0.36) / 2
        2.388888888889
        """
        schedule = as_schedule(schedule, required=True)
        est = self if self.unit == "x0" else self.to_unit("x0", schedule)
        lam = _grid_weights(weighting, est.times, schedule)
        n_t = len(est.times)
        with np.errstate(over="ignore", invalid="ignore"):
            value = finite_result(float(lam @ est.mean / n_t), "the weighted loss")
            se = float(np.sqrt((lam**2) @ (est.stderr**2)) / n_t)
        if np.isnan(se):
            raise ValueError("the standard error of the weighted loss overflows float64")
        return value, se


def noise_draws(seed: int, time_index: int, n_points: int, n_noise: int, d: int) -> np.ndarray:
    r"""The standard Gaussian noise ``Z`` (shape ``(n_points, n_noise, d)``) used at one time.

    A pure function of ``(seed, time_index)`` (NumPy ``SeedSequence(seed, spawn_key=(l,))``), so
    every loss evaluated with the same ``seed`` sees the same draws at the ``l``-th time: common
    random numbers for differences between denoisers (eq. (6) with ``N_dup = n_noise``).

    >>> z1, z2 = noise_draws(3, 0, 2, 4, 5), noise_draws(3, 0, 2, 4, 5)
    >>> z1.shape, bool((z1 == z2).all()), bool((z1 != noise_draws(3, 1, 2, 4, 5)).all())
    ((2, 4, 5), True, True)
    """
    time_index = check_int(time_index, "time_index", low=0)
    seq = np.random.SeedSequence(check_int(seed, "seed", low=0), spawn_key=(time_index,))
    sizes = ((n_points, "n_points"), (n_noise, "n_noise"), (d, "d"))
    shape = tuple(check_int(v, k, low=1) for v, k in sizes)
    check_allocation(shape[0] * shape[1] * shape[2], f"noise draws of shape {shape}")
    return np.random.default_rng(seq).standard_normal(shape)


def _points(X: ArrayLike, name: str) -> np.ndarray:
    arr = as_float_array(X, name, ndim=2, dtype=np.float64)
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must have shape (N, d) with N, d >= 1, got {arr.shape}")
    return arr


def _check_denoisers(denoisers: Mapping[str, Denoiser]) -> None:
    if not isinstance(denoisers, Mapping) or not denoisers:
        raise ValueError("denoisers must be a non-empty mapping name -> callable(t, x_t)")
    for name, f in denoisers.items():
        if not callable(f):
            raise ValueError(f"denoisers[{name!r}] must be callable(t, x_t), got {f!r:.80}")


def _predict(f: Denoiser, name: str, t: float, xt: np.ndarray) -> np.ndarray:
    chunks = [
        np.asarray(f(t, xt[start : start + _MAX_BATCH]), dtype=np.float64)
        for start in range(0, xt.shape[0], _MAX_BATCH)
    ]
    for start, pred in zip(range(0, xt.shape[0], _MAX_BATCH), chunks, strict=True):
        want = xt[start : start + _MAX_BATCH].shape
        if pred.shape != want:
            raise ValueError(
                f"denoiser {name!r} returned shape {pred.shape} for queries of shape {want}; "
                "it must return one x0-prediction per query"
            )
        if not np.all(np.isfinite(pred)):
            raise ValueError(f"denoiser {name!r} returned non-finite values at t = {t!r}")
    return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)


def _squared_error(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Row-wise |pred - target|^2 (one temporary, no squared copy); ValueError if it overflows."""
    with np.errstate(over="ignore", invalid="ignore"):
        diff = pred - target
        out = np.einsum("ij,ij->i", diff, diff)
    return finite_result(out, "the squared error |xbar - x0|^2 (rescale the data)")


def _noised(X: np.ndarray, times: np.ndarray, schedule: Schedule, n_noise: int, seed: int) -> Any:
    """Yield (l, t, x_t of shape (N*R, d), targets of shape (N*R, d)) for each time."""
    n, d = X.shape
    alpha, sigma = schedule.alpha(times), schedule.sigma(times)
    target = np.repeat(X, n_noise, axis=0)
    for ell, t in enumerate(times):
        z = noise_draws(seed, ell, n, n_noise, d).reshape(n * n_noise, d)
        with np.errstate(over="ignore"):
            xt = finite_result(alpha[ell] * target + sigma[ell] * z, "x_t (rescale the data)")
        yield ell, float(t), xt, target


def _setup(
    X: ArrayLike, t: ArrayLike, schedule: Schedule, n_noise: int, seed: int, name: str = "X"
) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    schedule = as_schedule(schedule, required=True)
    pts = _points(X, name)
    times = schedule.check_time(np.atleast_1d(as_float_array(t, "t", ndim=(0, 1))))
    r = check_int(n_noise, "n_noise", low=1)
    check_allocation(
        3 * pts.shape[0] * r * pts.shape[1] + times.size * pts.shape[0] * r,
        f"{pts.shape[0]} points x {r} noise draws in dimension {pts.shape[1]}",
    )
    key = (check_int(seed, "seed", low=0), r, *pts.shape)
    return pts, times, key


def training_losses(
    denoisers: Mapping[str, Denoiser],
    X: ArrayLike,
    t: ArrayLike,
    schedule: Schedule,
    *,
    n_noise: int = 100,
    seed: int = 0,
) -> dict[str, LossEstimate]:
    r"""Monte Carlo training losses ``L_{N,t}`` (eq. (6)) of several denoisers on common noise.

    Buchanan et al. (paper 000), eq. (6):
    ``L_{N,t}(xbar) = (1/N) sum_i E |xbar(t, alpha_t x^i + sigma_t Z) - x^i|^2``, in x0 units,
    with ``n_noise`` draws of ``Z`` per point (``N_dup``; the paper trains with 100). Every
    denoiser sees the same ``x_t`` (common random numbers), so ``out[a] - out[b]`` estimates the
    loss difference with a small standard error. ``t`` is a time or a 1-D array of times.

    >>> import numpy as np
    >>> from diffmem_theory.schedules import VPTrig
    >>> X = np.eye(3)
    >>> out = training_losses({"zero": lambda t, x: 0 * x, "id": lambda t, x: x}, X, 0.5,
    ...                       VPTrig(), n_noise=4)
    >>> out["zero"].mean.tolist()   # |0 - x^i|^2 = 1 exactly
    [1.0]
    """
    _check_denoisers(denoisers)
    schedule = as_schedule(schedule, required=True)
    pts, times, key = _setup(X, t, schedule, n_noise, seed)
    n, r = pts.shape[0], key[1]
    draws = {name: np.empty((times.size, n, r)) for name in denoisers}
    for ell, tt, xt, target in _noised(pts, times, schedule, r, seed):
        for name, f in denoisers.items():
            draws[name][ell] = _squared_error(_predict(f, name, tt, xt), target).reshape(n, r)
    return {name: LossEstimate(times, draws[name], key) for name in denoisers}


def training_loss(
    denoiser: Denoiser,
    X: ArrayLike,
    t: ArrayLike,
    schedule: Schedule,
    *,
    n_noise: int = 100,
    seed: int = 0,
) -> LossEstimate:
    r"""Monte Carlo training loss ``L_{N,t}(xbar)`` of one denoiser (eq. (6)).

    Buchanan et al. (paper 000), eq. (6); see :func:`training_losses` (this is its one-denoiser
    case: the same ``seed`` gives the same noise, so estimates of different denoisers can be
    differenced).

    >>> import numpy as np
    >>> from diffmem_theory.schedules import VPTrig
    >>> X = np.zeros((5, 2))
    >>> est = training_loss(lambda t, x: x, X, [0.5, 0.8], VPTrig(), n_noise=2000)
    >>> est.mean.round(1).tolist()   # E|x_t - 0|^2 = d sigma_t^2
    [0.5, 1.3]
    """
    if not callable(denoiser):
        raise ValueError(f"denoiser must be callable(t, x_t), got {denoiser!r}")
    return training_losses({"denoiser": denoiser}, X, t, schedule, n_noise=n_noise, seed=seed)[
        "denoiser"
    ]


def weighted_loss(
    denoiser: Denoiser,
    X: ArrayLike,
    times: ArrayLike,
    schedule: Schedule,
    weighting: str | Callable[[np.ndarray], ArrayLike] | ArrayLike = "eps",
    *,
    n_noise: int = 100,
    seed: int = 0,
) -> tuple[float, float]:
    r"""The weighted training loss ``L_N(xbar, lambda) = E_t[lambda(t) L_{N,t}(xbar)]`` (eq. (6)).

    Buchanan et al. (paper 000), eqs. (5)-(6) with ``t`` uniform on ``times`` (Sec. 3.1: the
    26-point grid) and the training weighting ``lambda = psi_t`` (``"eps"``) by default. Returns
    ``(estimate, standard error)``.

    >>> import numpy as np
    >>> from diffmem_theory.schedules import VPTrig
    >>> X = np.eye(2)
    >>> round(float(weighted_loss(lambda t, x: 0 * x, X, [0.5, 0.6], VPTrig(), n_noise=3)[0]), 12)
    2.388888888889
    """
    est = training_loss(denoiser, X, times, schedule, n_noise=n_noise, seed=seed)
    return est.weighted(weighting, schedule)


def test_loss(
    denoiser: Denoiser,
    mixture: Any,
    t: ArrayLike,
    schedule: Schedule,
    *,
    n_test: int = 100,
    n_noise: int = 100,
    seed: int = 0,
) -> LossEstimate:
    r"""Monte Carlo test (held-out) loss ``L_t(xbar)``: eq. (6) on fresh samples of ``pi_*``.

    Buchanan et al. (paper 000), Fig. 2 (right): the generalization error is the loss (6)
    evaluated on ``n_test`` held-out samples drawn from the data distribution ``mixture`` (any
    object with ``sample(n, rng) -> (X, labels)``, e.g.
    :class:`~diffmem_theory.mixtures.IsotropicGaussianMixture`); the authors' code holds out 100.
    The held-out samples come from ``seed`` too (a stream separate from the noise).

    >>> import numpy as np
    >>> from diffmem_theory.mixtures import IsotropicGaussianMixture
    >>> from diffmem_theory.schedules import VPTrig
    >>> sched = VPTrig()
    >>> gmm = IsotropicGaussianMixture(np.array([[3.0, 0.0], [-3.0, 0.0]]), 1.0)
    >>> est = test_loss(lambda t, x: gmm.denoiser(t, x, sched), gmm, 0.5, sched, n_test=400)
    >>> bool(abs(est.mean[0] - 2 * 0.25) < 4 * est.stderr[0])   # xbar_*: about d t^2
    True
    """
    n = check_int(n_test, "n_test", low=1)
    check_allocation(n, f"n_test = {n} held-out samples")
    if not callable(getattr(mixture, "sample", None)):
        raise ValueError(f"mixture must have a sample(n, rng) method, got {mixture!r}")
    seq = np.random.SeedSequence(check_int(seed, "seed", low=0), spawn_key=(2**31,))
    X_test, _ = mixture.sample(n, np.random.default_rng(seq))
    return training_loss(denoiser, X_test, t, schedule, n_noise=n_noise, seed=seed)


test_loss.__test__ = False  # a loss, not a pytest test


def orthogonality_residual(
    denoiser: Denoiser,
    X: ArrayLike,
    t: ArrayLike,
    schedule: Schedule,
    *,
    n_noise: int = 100,
    seed: int = 0,
) -> LossEstimate:
    r"""Residual of the orthogonality identity (13), per draw: mean zero averaged over ``i``.

    Buchanan et al. (paper 000), eq. (13):

        L_{N,t}(xbar) = (1/N) sum_i E |xbar(t, X_t^i) - xbar_mem(t, X_t^i)|^2 + L_{N,t}(xbar_mem).

    The per-draw residual |xbar - x^i|^2 - |xbar - xbar_mem|^2 - |xbar_mem - x^i|^2
    = 2 <xbar - xbar_mem, xbar_mem - x^i> has mean exactly 0 over the joint law of
    ``(i ~ Unif[N], Z)``, because ``xbar_mem`` is the posterior mean of ``x^I`` given ``X_t``. It
    does **not** vanish for each ``i`` separately (``per_sample`` shows it): the identity holds
    only averaged over ``i`` (notes §5.13). ``mean / stderr`` is a z-score.

    >>> import numpy as np
    >>> from diffmem_theory.schedules import VPTrig
    >>> X = np.random.default_rng(1).standard_normal((50, 4))
    >>> res = orthogonality_residual(lambda t, x: 0.5 * x, X, 0.6, VPTrig(), n_noise=50)
    >>> bool(abs(res.mean[0]) < 4 * res.stderr[0])
    True
    """
    if not callable(denoiser):
        raise ValueError(f"denoiser must be callable(t, x_t), got {denoiser!r:.80}")
    schedule = as_schedule(schedule, required=True)
    pts, times, key = _setup(X, t, schedule, n_noise, seed)
    n, r = pts.shape[0], key[1]
    draws = np.empty((times.size, n, r))
    for ell, tt, xt, target in _noised(pts, times, schedule, r, seed):
        pred = _predict(denoiser, "denoiser", tt, xt)
        mem = _predict(lambda s, x: memorizing_denoiser(s, x, pts, schedule), "mem", tt, xt)
        with np.errstate(over="ignore", invalid="ignore"):
            res = finite_result(2.0 * ((pred - mem) * (mem - target)).sum(axis=1), "the residual")
        draws[ell] = res.reshape(n, r)
    return LossEstimate(times, draws, key)
