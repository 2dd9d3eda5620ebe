r"""Monte Carlo training and test losses of denoisers (Buchanan et al., paper 000, eqs. (5)-(13)).

The training loss of a denoiser ``xbar`` (an x0-prediction) on the training set ``x^1..x^N`` is

    L_{N,t}(xbar) = (1/N) sum_i E_Z |xbar(alpha_t x^i + sigma_t Z, t) - x^i|^2         (eq. (6))

and ``L_N(xbar, lambda) = E_t[lambda(t) L_{N,t}(xbar)]``. The expectation over ``Z`` is estimated
with ``n_noise`` Gaussian draws per training point (the paper's ``N_dup``). The draws are a pure
function of ``(seed, index of t)``: two denoisers evaluated with the same ``seed`` and times see
the *same* noise (common random numbers), so the difference of their losses -- the quantity that
Thms 3.1 and 3.2 are about -- has a far smaller standard error than either loss.
:func:`training_losses` evaluates several denoisers on one set of draws; a
:class:`LossEstimate` keeps the per-draw squared errors, so ``a - b`` is the CRN difference with
its own standard error.

A denoiser is any callable ``denoiser(x_t, t) -> x0_hat`` with ``t`` a float and ``x_t`` of shape
``(B, d)``, for instance ``lambda x, t: memorizing_denoiser(x, t, X, sched)``; a model in another
prediction unit (a noise-predicting network, ...) enters through
:func:`~diffmem_theory.core.denoisers.as_denoiser` (``as_denoiser(model, sched, prediction="eps")``
is such a callable). Losses in other units follow from the x0 loss by
:meth:`LossEstimate.to_unit` and the weightings of :func:`loss_weighting`. The denoiser receives
NumPy states (the draws are NumPy, for common random numbers) and may return an array of any
array-API library (JAX, PyTorch, CuPy, ...): it is read on the host by DLPack, without a copy for
an array in host memory; a GPU array is copied (a model on a GPU moves its input there itself,
e.g. ``torch.from_dlpack(x).cuda()``).

>>> import numpy as np
>>> from diffmem_theory.core.denoisers import memorizing_denoiser, model_output
>>> from diffmem_theory.core.distributions import IsotropicGaussianMixture, sphere_means
>>> from diffmem_theory.core.schedules import VPTrig
>>> sched, rng = VPTrig(), np.random.default_rng(0)
>>> gmm = IsotropicGaussianMixture(sphere_means(4, 30, rng), 1.0)
>>> X, _ = gmm.sample(100, rng)
>>> out = training_losses(
...     {"gen": lambda x, t: gmm.denoiser(x, t, sched),
...      "mem": lambda x, t: memorizing_denoiser(x, t, X, sched)},
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
    as_points,
    check_allocation,
    check_choice,
    check_int,
    finite_result,
)
from diffmem_theory.core.denoisers import memorizing_denoiser, model_output
from diffmem_theory.core.schedules import PREDICTIONS, Schedule, as_schedule, loss_scale

__all__ = [
    "LossEstimate",
    "Weighting",
    "common_noise_setup",
    "grid_weights",
    "log_loss_weighting",
    "loss_weighting",
    "noise_draws",
    "noised_points",
    "orthogonality_residual",
    "squared_error",
    "test_loss",
    "training_loss",
    "training_losses",
    "weighted_loss",
]

#: An x0-prediction ``f(x_t, t)``: a plain callable or a ``core.denoisers.Denoiser``.
X0Predictor = Callable[[np.ndarray, float], np.ndarray]

# Rows of x_t handed to a denoiser in one call (bounds the memory of B x d batches).
_MAX_BATCH = 1 << 16


@dataclass(frozen=True, eq=False)
class LossEstimate:
    r"""Per-draw squared errors of a Monte Carlo loss estimate, and their summaries.

    ``draws[l, i, r]`` is the loss of training point ``i`` under noise draw ``r`` at
    ``times[l]``; ``noise_key`` identifies the noise (``(seed, n_noise, N, d)``) so that
    differences are only formed between estimates that share it (common random numbers):
    ``a - b`` is the CRN difference (same ``noise_key`` and ``unit`` required), with its own,
    much smaller, standard error.

    Parameters
    ----------
    times : array_like, shape (T,)
        The times of the estimate.
    draws : array_like, shape (T, N, R)
        Squared errors per time, training point and noise draw.
    noise_key : tuple of int
        Identifies the noise draws (:func:`common_noise_setup`).
    unit : str, default "x0"
        The prediction whose squared error ``draws`` holds (``"x0"`` for the losses made here;
        paper 003's DSM losses in :mod:`diffmem_theory.fisher.loss_gap` are in ``"score"``
        units); :meth:`to_unit` converts between them.

    Attributes
    ----------
    mean : ndarray, shape (T,)
        ``L_{N,t}`` at each time, ``(1/(N R)) sum_{i,r} draws``.
    stderr : ndarray, shape (T,)
        Its standard error for the fixed training set.
    per_sample : ndarray, shape (T, N)
        The per-point averages over the draws.

    See Also
    --------
    training_losses : Makes them, on common random numbers.

    References
    ----------
    Buchanan et al. (paper 000), eq. (6).

    Examples
    --------
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
        r"""``L_{N,t}`` at each time: ``(1/(N R)) sum_{i,r} draws[l, i, r]``, shape ``(T,)``."""
        return self.draws.mean(axis=(1, 2))

    @property
    def per_sample(self) -> np.ndarray:
        r"""The per-point averages over the noise draws, shape ``(T, N)``."""
        return self.draws.mean(axis=2)

    @property
    def stderr(self) -> np.ndarray:
        r"""Standard error of :attr:`mean` for the fixed training set, shape ``(T,)``.

        ``sqrt(sum_i s_i^2 / (N^2 R))`` with ``s_i^2`` the variance over the ``R`` draws of point
        ``i``; with ``R = 1`` the pooled variance over all draws (conservative); ``inf`` from a
        single draw (no spread to estimate).
        """
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
        r"""The same estimate in the loss units of another prediction.

        ``|eps_hat - eps|^2 = psi_t |xbar - x0|^2`` (Buchanan et al. (paper 000), Sec. 2 after
        eq. (6)); in general the factor is :func:`diffmem_theory.core.schedules.loss_scale` from
        :attr:`unit` to ``unit``. The authors' plots convert eps losses back to x0 units by
        ``sigma^2/alpha^2``.

        Parameters
        ----------
        unit : str
            One of :data:`~diffmem_theory.core.schedules.PREDICTIONS`.
        schedule : Schedule or str
            The noise schedule.

        Returns
        -------
        LossEstimate
            With ``draws`` scaled per time and the same ``noise_key``.

        See Also
        --------
        diffmem_theory.core.schedules.loss_scale : The factor.

        Examples
        --------
        >>> from diffmem_theory.core.schedules import VPTrig
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
        The weighting multiplies the loss in x0 units (eq. (6)), so an estimate in another
        :attr:`unit` is converted to x0 first. Draws at different times are independent, so the
        squared standard errors add.

        Parameters
        ----------
        weighting : str, callable or array_like
            A unit name (``"x0"``: 1, ``"eps"``: ``psi_t``, ...; see :func:`loss_weighting`), a
            callable ``lambda(t)`` or one weight per time.
        schedule : Schedule or str
            The noise schedule.

        Returns
        -------
        value, stderr : float

        See Also
        --------
        grid_weights : The weights on the grid.
        weighted_loss : Estimate and weight in one call.

        Examples
        --------
        >>> from diffmem_theory.core.schedules import VPTrig
        >>> est = LossEstimate(np.array([0.5, 0.6]), np.ones((2, 1, 2)), (0, 2, 1, 1))
        >>> round(float(est.weighted("eps", VPTrig())[0]), 12)   # (3 + 0.64/0.36) / 2
        2.388888888889
        """
        schedule = as_schedule(schedule, required=True)
        est = self if self.unit == "x0" else self.to_unit("x0", schedule)
        lam = grid_weights(weighting, est.times, schedule)
        n_t = len(est.times)
        with np.errstate(over="ignore", invalid="ignore"):
            value = finite_result(float(lam @ est.mean / n_t), "the weighted loss")
            se = float(np.sqrt((lam**2) @ (est.stderr**2)) / n_t)
        if np.isnan(se):
            raise ValueError("the standard error of the weighted loss overflows float64")
        return value, se


# ----------------------------------------------------------------------------------------------
# loss weightings
# ----------------------------------------------------------------------------------------------


Weighting = str | Callable[[np.ndarray], ArrayLike] | ArrayLike


def _log_named_weight(name: str, t: np.ndarray, schedule: Schedule) -> np.ndarray:
    """log lambda(t) of a named weighting, in log space (no overflow as t -> 0)."""
    if name == "x0":
        return np.zeros_like(t)
    if name == "eps":
        return schedule.log_snr(t)
    log_s2 = schedule.log_sigma2(t)
    if name == "score":
        return 2.0 * schedule.log_alpha(t) - 2.0 * log_s2
    if name == "v":
        return 2.0 * np.log(schedule.alpha(t) ** 2 + schedule.sigma2(t)) - log_s2
    # "velocity": (alpha' - alpha sigma'/sigma)^2 = alpha^2 (r - f)^2 with the rate
    # r = sigma'/sigma = (d sigma^2/dt) / (2 sigma^2) > 0 and the drift f = alpha'/alpha <= 0
    log_rate = np.log(0.5 * schedule.dsigma2(t)) - log_s2
    with np.errstate(over="ignore"):
        return 2.0 * (
            schedule.log_alpha(t) + log_rate + np.log1p(-schedule.drift(t) / np.exp(log_rate))
        )


def log_loss_weighting(weighting: Weighting, t: np.ndarray, schedule: Schedule) -> np.ndarray:
    r"""``log lambda(t)`` of a named or callable loss weighting, in log space.

    The named weightings are those of :func:`loss_weighting`; computing their logarithm
    directly keeps ``"eps"`` (``log psi_t``) and ``"velocity"`` finite as ``t -> 0``.

    Parameters
    ----------
    weighting : str or callable
        A unit of :data:`~diffmem_theory.core.schedules.PREDICTIONS` or a callable
        ``lambda(t)`` returning non-negative values (an array of values is handled by
        :func:`grid_weights`).
    t : ndarray
        Validated times.
    schedule : Schedule
        The noise schedule.

    Returns
    -------
    ndarray, shaped like ``t``
        ``log lambda(t)`` (``-inf`` where a callable returns 0).

    See Also
    --------
    loss_weighting : ``lambda(t)`` itself.

    References
    ----------
    Buchanan et al. (paper 000), eq. (6) and Sec. 2.

    Examples
    --------
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> log_loss_weighting("eps", np.array([0.5]), VPTrig()).round(5).tolist()
    [1.09861]
    """
    if isinstance(weighting, str):
        if weighting not in PREDICTIONS:
            raise ValueError(
                f"weighting must be one of {list(PREDICTIONS)}, a callable lambda(t) or an "
                f"array of values on the grid, got {weighting!r}"
            )
        return _log_named_weight(weighting, t, schedule)
    if callable(weighting):
        with np.errstate(divide="ignore", over="ignore"):
            lam = np.broadcast_to(np.asarray(weighting(t), dtype=np.float64), t.shape)
        if np.any(np.isnan(lam)) or np.any(lam < 0):
            raise ValueError("weighting(t) must return non-negative values (no NaN)")
        with np.errstate(divide="ignore"):
            return np.log(lam)
    raise ValueError(
        f"weighting must be one of {list(PREDICTIONS)} or a callable lambda(t) (an array of "
        f"values needs times=...), got {type(weighting).__name__}"
    )


def loss_weighting(
    weighting: Weighting, t: ArrayLike, schedule: Schedule | None = None
) -> np.ndarray:
    r"""The loss weighting ``lambda(t)`` of eq. (6) for a unit name or a callable.

    Buchanan et al. (paper 000), eq. (6) and Sec. 2: training minimizes
    ``E_t[lambda(t) L_{N,t}]`` with ``lambda = psi_t`` ("eps": ``|eps_hat - eps|^2 = psi_t
    |xbar - x0|^2``). A unit's weighting is the factor between its squared error and the x0
    one (:func:`diffmem_theory.core.schedules.loss_scale`): ``"x0"`` 1, ``"eps"``
    ``psi_t = alpha^2/sigma^2``, ``"score"`` ``alpha^2/sigma^4``, ``"v"``
    ``((alpha^2 + sigma^2)/sigma)^2`` and ``"velocity"`` ``(alpha' - alpha sigma'/sigma)^2``
    (``1/t^2`` on the flow-matching schedule). A weight beyond float64 (``"eps"`` at
    ``t = 1e-300``: ``psi = 1e600``) raises ``ValueError``.

    Parameters
    ----------
    weighting : str or callable
        A unit name or a callable ``lambda(t)``.
    t : float or array_like
        Times in the domain of ``schedule``.
    schedule : Schedule or str, optional
        The noise schedule (default :class:`~diffmem_theory.core.schedules.VPTrig`).

    Returns
    -------
    ndarray, shaped like ``t``

    See Also
    --------
    log_loss_weighting : Its logarithm.
    diffmem_theory.core.schedules.loss_scale : The factor between two units.

    References
    ----------
    Buchanan et al. (paper 000), eq. (6) and Sec. 2.

    Examples
    --------
    >>> loss_weighting("eps", [0.5, 0.36028]).round(5).tolist()
    [3.0, 6.70406]
    """
    sched = as_schedule(schedule)
    tt = sched.check_time(t)
    with np.errstate(over="ignore"):
        return finite_result(
            np.exp(log_loss_weighting(weighting, tt, sched)), f"the weighting {weighting!r:.40}"
        )


def grid_weights(weighting: Weighting, times: np.ndarray, schedule: Schedule) -> np.ndarray:
    r"""The weights ``lambda(t_i)`` on a time grid: a unit name, a callable or one value per time.

    Parameters
    ----------
    weighting : str, callable or array_like
        As in :meth:`LossEstimate.weighted`.
    times : ndarray, shape (T,)
        Validated times.
    schedule : Schedule
        The noise schedule.

    Returns
    -------
    ndarray, shape (T,)
        Finite, non-negative and positive somewhere (else ``ValueError``).

    See Also
    --------
    loss_weighting : The named weightings.

    Examples
    --------
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> grid_weights("eps", np.array([0.5]), VPTrig()).round(5).tolist()
    [3.0]
    """
    if isinstance(weighting, str) or callable(weighting):
        lam = np.exp(log_loss_weighting(weighting, times, schedule))
    else:
        lam = as_float_array(weighting, "weighting", ndim=1)
        if lam.shape != times.shape:
            raise ValueError(
                f"weighting has {lam.shape[0]} values but times has {times.shape[0]}; "
                f"give one weight per grid time"
            )
        if np.any(lam < 0):
            raise ValueError("weighting values must be >= 0")
    if not np.all(np.isfinite(lam)) or lam.sum() <= 0:
        raise ValueError(
            f"weighting must be finite on the grid and positive somewhere, got sum {lam.sum()!r}"
        )
    return lam


def noise_draws(seed: int, time_index: int, n_points: int, n_noise: int, d: int) -> np.ndarray:
    r"""The standard Gaussian noise ``Z`` used at one time of a Monte Carlo loss.

    A pure function of ``(seed, time_index)`` (NumPy ``SeedSequence(seed, spawn_key=(l,))``), so
    every loss evaluated with the same ``seed`` sees the same draws at the ``l``-th time: common
    random numbers for differences between denoisers (eq. (6) with ``N_dup = n_noise``).

    Parameters
    ----------
    seed : int
        The seed, ``>= 0``.
    time_index : int
        The index ``l >= 0`` of the time in its grid.
    n_points, n_noise, d : int
        The shape: training points, draws per point, dimension.

    Returns
    -------
    ndarray, shape (n_points, n_noise, d)

    See Also
    --------
    noised_points : The noised training points made from them.

    References
    ----------
    Buchanan et al. (paper 000), eq. (6).

    Examples
    --------
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


def _check_denoisers(denoisers: Mapping[str, X0Predictor]) -> None:
    if not isinstance(denoisers, Mapping) or not denoisers:
        raise ValueError("denoisers must be a non-empty mapping name -> callable(x_t, t)")
    for name, f in denoisers.items():
        if not callable(f):
            raise ValueError(f"denoisers[{name!r}] must be callable(x_t, t), got {f!r:.80}")


def _predict(f: X0Predictor, name: str, t: float, xt: np.ndarray) -> np.ndarray:
    """The x0-predictions of ``f`` at the NumPy queries ``xt``, in batches, as float64 NumPy.

    ``f`` may return an array of any array-API library: it is checked and read on the host by
    :func:`~diffmem_theory.core.denoisers.model_output` (DLPack: no copy for a CPU array; one
    copy from a GPU, unavoidable since the draws and targets live on the host).
    """
    chunks = []
    for start in range(0, xt.shape[0], _MAX_BATCH):
        queries = xt[start : start + _MAX_BATCH]
        out = model_output(f(queries, t), queries, f"what denoiser {name!r} returned")
        pred = np.asarray(out, dtype=np.float64)
        if not np.all(np.isfinite(pred)):
            raise ValueError(f"denoiser {name!r} returned non-finite values at t = {t!r}")
        chunks.append(pred)
    return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)


def squared_error(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    r"""Row-wise ``|pred - target|^2`` of two ``(n, d)`` arrays.

    One temporary, no squared copy; a sum beyond float64 raises ``ValueError``.

    Parameters
    ----------
    pred, target : ndarray, shape (n, d)

    Returns
    -------
    ndarray, shape (n,)

    See Also
    --------
    training_losses : Its main use.

    Examples
    --------
    >>> squared_error(np.array([[3.0, 4.0]]), np.zeros((1, 2))).tolist()
    [25.0]
    """
    with np.errstate(over="ignore", invalid="ignore"):
        diff = pred - target
        out = np.einsum("ij,ij->i", diff, diff)
    return finite_result(out, "the squared error |xbar - x0|^2 (rescale the data)")


def noised_points(
    X: np.ndarray, times: np.ndarray, schedule: Schedule, n_noise: int, seed: int
) -> Any:
    r"""Yield ``(l, t_l, x_t, x_0)`` for each time: the common-random-numbers noising.

    ``x_t = alpha_t x_0 + sigma_t z`` with ``z`` from :func:`noise_draws` (seed, time index).
    Every loss of this module draws its noise here, so two estimators on the same seed see the
    same ``z``.

    Parameters
    ----------
    X : ndarray, shape (N, d)
        Validated training points.
    times : ndarray, shape (T,)
        Validated times.
    schedule : Schedule
        The noise schedule.
    n_noise : int
        Draws per point ``R``.
    seed : int
        The seed of :func:`noise_draws`.

    Yields
    ------
    l : int
        The time index.
    t : float
        The time.
    x_t, x_0 : ndarray, shape (N * R, d)
        The noisy points and their targets (each point repeated ``R`` times).

    See Also
    --------
    noise_draws, common_noise_setup

    Examples
    --------
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> draws = noised_points(np.zeros((2, 3)), np.array([0.5]), VPTrig(), 4, 0)
    >>> [(l, t, xt.shape) for l, t, xt, _ in draws]
    [(0, 0.5, (8, 3))]
    """
    n, d = X.shape
    alpha, sigma = schedule.alpha(times), schedule.sigma(times)
    target = np.repeat(X, n_noise, axis=0)
    for ell, t in enumerate(times):
        z = noise_draws(seed, ell, n, n_noise, d).reshape(n * n_noise, d)
        with np.errstate(over="ignore"):
            xt = finite_result(alpha[ell] * target + sigma[ell] * z, "x_t (rescale the data)")
        yield ell, float(t), xt, target


def common_noise_setup(
    X: ArrayLike, t: ArrayLike, schedule: Schedule, n_noise: int, seed: int, name: str = "X"
) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    r"""Validated ``(points, times, key)`` for a Monte Carlo loss on common random numbers.

    Parameters
    ----------
    X : array_like, shape (N, d)
        Training points.
    t : float or array_like, shape (T,)
        Times in the domain of ``schedule``.
    schedule : Schedule or str
        The noise schedule.
    n_noise : int
        Draws per point, ``>= 1``.
    seed : int
        The seed, ``>= 0``.
    name : str, default "X"
        The name of ``X`` in error messages.

    Returns
    -------
    points : ndarray, shape (N, d)
    times : ndarray, shape (T,)
    key : tuple of int
        ``(seed, n_noise, N, d)``: identifies the noise draws, so results cached under it are
        reused only for the same noise.

    See Also
    --------
    noised_points, LossEstimate

    Examples
    --------
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> common_noise_setup(np.zeros((2, 3)), 0.5, VPTrig(), 4, 0)[2]
    (0, 4, 2, 3)
    """
    schedule = as_schedule(schedule, required=True)
    pts = as_points(X, name)
    times = schedule.check_time(np.atleast_1d(as_float_array(t, "t", ndim=(0, 1))))
    r = check_int(n_noise, "n_noise", low=1)
    check_allocation(
        3 * pts.shape[0] * r * pts.shape[1] + times.size * pts.shape[0] * r,
        f"{pts.shape[0]} points x {r} noise draws in dimension {pts.shape[1]}",
    )
    key = (check_int(seed, "seed", low=0), r, *pts.shape)
    return pts, times, key


def training_losses(
    denoisers: Mapping[str, X0Predictor],
    X: ArrayLike,
    t: ArrayLike,
    schedule: Schedule,
    *,
    n_noise: int = 100,
    seed: int = 0,
) -> dict[str, LossEstimate]:
    r"""Monte Carlo training losses ``L_{N,t}`` (eq. (6)) of several denoisers on common noise.

    Buchanan et al. (paper 000), eq. (6):
    ``L_{N,t}(xbar) = (1/N) sum_i E |xbar(alpha_t x^i + sigma_t Z, t) - x^i|^2``, in x0 units,
    with ``n_noise`` draws of ``Z`` per point (``N_dup``; the paper trains with 100). Every
    denoiser sees the same ``x_t`` (common random numbers), so ``out[a] - out[b]`` estimates the
    loss difference with a small standard error.

    Parameters
    ----------
    denoisers : mapping of str to callable
        Name -> x0-prediction ``f(x_t, t)`` (``x_t`` a NumPy array of shape ``(B, d)``, ``t``
        a float) returning an array of any array-API library shaped like ``x_t``. A model in
        another unit enters through :func:`~diffmem_theory.core.denoisers.as_denoiser`, whose
        result is such a callable.
    X : array_like, shape (N, d)
        The training points ``x^i``.
    t : float or array_like, shape (T,)
        Times in the domain of ``schedule``.
    schedule : Schedule or str
        The noise schedule.
    n_noise : int, default 100
        Noise draws per point.
    seed : int, default 0
        Seed of the noise draws (:func:`noise_draws`).

    Returns
    -------
    dict of str to LossEstimate
        In x0 units, sharing one ``noise_key``.

    Raises
    ------
    TypeError
        A denoiser output that is not an array of an array-API library.
    ValueError
        A denoiser output not shaped like ``x_t`` or not finite, or a bad ``X``, ``t``,
        ``n_noise`` or ``seed`` (the message names it).

    See Also
    --------
    training_loss : One denoiser.
    test_loss : On held-out samples.
    orthogonality_residual : The identity (13).

    References
    ----------
    Buchanan et al. (paper 000), eqs. (5)-(6).

    Examples
    --------
    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> X = np.eye(3)
    >>> out = training_losses({"zero": lambda x, t: 0 * x, "id": lambda x, t: x}, X, 0.5,
    ...                       VPTrig(), n_noise=4)
    >>> out["zero"].mean.tolist()   # |0 - x^i|^2 = 1 exactly
    [1.0]
    """
    _check_denoisers(denoisers)
    schedule = as_schedule(schedule, required=True)
    pts, times, key = common_noise_setup(X, t, schedule, n_noise, seed)
    n, r = pts.shape[0], key[1]
    draws = {name: np.empty((times.size, n, r)) for name in denoisers}
    for ell, tt, xt, target in noised_points(pts, times, schedule, r, seed):
        for name, f in denoisers.items():
            draws[name][ell] = squared_error(_predict(f, name, tt, xt), target).reshape(n, r)
    return {name: LossEstimate(times, draws[name], key) for name in denoisers}


def training_loss(
    denoiser: X0Predictor,
    X: ArrayLike,
    t: ArrayLike,
    schedule: Schedule,
    *,
    n_noise: int = 100,
    seed: int = 0,
) -> LossEstimate:
    r"""Monte Carlo training loss ``L_{N,t}(xbar)`` of one denoiser (eq. (6)).

    The one-denoiser case of :func:`training_losses`: the same ``seed`` gives the same noise,
    so estimates of different denoisers can be differenced.

    Parameters
    ----------
    denoiser : callable
        The x0-prediction ``f(x_t, t)``.
    X, t, schedule, n_noise, seed
        As in :func:`training_losses`.

    Returns
    -------
    LossEstimate
        In x0 units.

    See Also
    --------
    training_losses, weighted_loss

    References
    ----------
    Buchanan et al. (paper 000), eq. (6).

    Examples
    --------
    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> X = np.zeros((5, 2))
    >>> est = training_loss(lambda x, t: x, X, [0.5, 0.8], VPTrig(), n_noise=2000)
    >>> est.mean.round(1).tolist()   # E|x_t - 0|^2 = d sigma_t^2
    [0.5, 1.3]
    """
    if not callable(denoiser):
        raise ValueError(f"denoiser must be callable(x_t, t), got {denoiser!r}")
    return training_losses({"denoiser": denoiser}, X, t, schedule, n_noise=n_noise, seed=seed)[
        "denoiser"
    ]


def weighted_loss(
    denoiser: X0Predictor,
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
    26-point grid) and the training weighting ``lambda = psi_t`` (``"eps"``) by default.

    Parameters
    ----------
    denoiser : callable
        The x0-prediction ``f(x_t, t)``.
    X : array_like, shape (N, d)
        The training points.
    times : array_like, shape (T,)
        The time grid.
    schedule : Schedule or str
        The noise schedule.
    weighting : str, callable or array_like, default "eps"
        As in :meth:`LossEstimate.weighted`.
    n_noise, seed
        As in :func:`training_losses`.

    Returns
    -------
    value, stderr : float

    See Also
    --------
    training_loss, loss_weighting

    References
    ----------
    Buchanan et al. (paper 000), eqs. (5)-(6), Sec. 3.1.

    Examples
    --------
    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> X = np.eye(2)
    >>> round(float(weighted_loss(lambda x, t: 0 * x, X, [0.5, 0.6], VPTrig(), n_noise=3)[0]), 12)
    2.388888888889
    """
    est = training_loss(denoiser, X, times, schedule, n_noise=n_noise, seed=seed)
    return est.weighted(weighting, schedule)


def test_loss(
    denoiser: X0Predictor,
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
    evaluated on ``n_test`` held-out samples drawn from the data distribution (the authors'
    code holds out 100). The held-out samples come from ``seed`` too (a stream separate from the
    noise).

    Parameters
    ----------
    denoiser : callable
        The x0-prediction ``f(x_t, t)``.
    mixture : object
        The data distribution: anything with ``sample(n, rng) -> (X, labels)``, e.g.
        :class:`~diffmem_theory.core.distributions.IsotropicGaussianMixture`.
    t : float or array_like
        Times in the domain of ``schedule``.
    schedule : Schedule or str
        The noise schedule.
    n_test : int, default 100
        Held-out samples.
    n_noise, seed
        As in :func:`training_losses`.

    Returns
    -------
    LossEstimate
        In x0 units.

    See Also
    --------
    training_loss : On the training set.

    References
    ----------
    Buchanan et al. (paper 000), eq. (6) and Fig. 2.

    Examples
    --------
    >>> import numpy as np
    >>> from diffmem_theory.core.distributions import IsotropicGaussianMixture
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> sched = VPTrig()
    >>> gmm = IsotropicGaussianMixture(np.array([[3.0, 0.0], [-3.0, 0.0]]), 1.0)
    >>> est = test_loss(lambda x, t: gmm.denoiser(x, t, sched), gmm, 0.5, sched, n_test=400)
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
    denoiser: X0Predictor,
    X: ArrayLike,
    t: ArrayLike,
    schedule: Schedule,
    *,
    n_noise: int = 100,
    seed: int = 0,
) -> LossEstimate:
    r"""Residual of the orthogonality identity (13), per draw: mean zero averaged over ``i``.

    Buchanan et al. (paper 000), eq. (13):

        L_{N,t}(xbar) = (1/N) sum_i E |xbar(X_t^i, t) - xbar_mem(X_t^i, t)|^2 + L_{N,t}(xbar_mem).

    The per-draw residual |xbar - x^i|^2 - |xbar - xbar_mem|^2 - |xbar_mem - x^i|^2
    = 2 <xbar - xbar_mem, xbar_mem - x^i> has mean exactly 0 over the joint law of
    ``(i ~ Unif[N], Z)``, because ``xbar_mem`` is the posterior mean of ``x^I`` given ``X_t``. It
    does **not** vanish for each ``i`` separately (``per_sample`` shows it): eq. (13) is an
    identity between averages over ``i`` (the orthogonality principle of Sec. 3, applied to
    the pair ``(X_0, X_t)`` with ``X_0`` uniform on the training set). ``mean / stderr`` is a
    z-score.

    Parameters
    ----------
    denoiser : callable
        The x0-prediction ``f(x_t, t)``.
    X, t, schedule, n_noise, seed
        As in :func:`training_losses`.

    Returns
    -------
    LossEstimate
        The residuals per time, point and draw.

    See Also
    --------
    diffmem_theory.core.denoisers.memorizing_denoiser : ``xbar_mem``.

    References
    ----------
    Buchanan et al. (paper 000), eq. (13).

    Examples
    --------
    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> X = np.random.default_rng(1).standard_normal((50, 4))
    >>> res = orthogonality_residual(lambda x, t: 0.5 * x, X, 0.6, VPTrig(), n_noise=50)
    >>> bool(abs(res.mean[0]) < 4 * res.stderr[0])
    True
    """
    if not callable(denoiser):
        raise ValueError(f"denoiser must be callable(x_t, t), got {denoiser!r:.80}")
    schedule = as_schedule(schedule, required=True)
    pts, times, key = common_noise_setup(X, t, schedule, n_noise, seed)
    n, r = pts.shape[0], key[1]
    draws = np.empty((times.size, n, r))
    for ell, tt, xt, target in noised_points(pts, times, schedule, r, seed):
        pred = _predict(denoiser, "denoiser", tt, xt)
        mem = _predict(lambda x, s: memorizing_denoiser(x, s, pts, schedule), "mem", tt, xt)
        with np.errstate(over="ignore", invalid="ignore"):
            res = finite_result(2.0 * ((pred - mem) * (mem - target)).sum(axis=1), "the residual")
        draws[ell] = res.reshape(n, r)
    return LossEstimate(times, draws, key)
