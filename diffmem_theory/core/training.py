r"""Training M-component isotropic GMM denoisers by gradient descent (Buchanan et al., paper 000).

Sec. 4 and App. H.1: the denoiser of eqs. (11)-(12) with M means and one shared variance (mixture
weights fixed at 1/M) is trained full-batch on the weighted loss (5)-(6),

    L(theta) = E_l E_i E_Z [ lambda(t_l) |xbar_theta(t_l, alpha_l x^i + sigma_l Z) - x^i|^2 ],

with the noise-prediction weighting ``lambda = psi_t`` (so the loss is ``|eps_hat - eps|^2``),
one grid time ``t_l`` drawn uniformly from the 26-point grid per sample and epoch, and ``n_dup``
(the paper's N_dup = 100) fresh noise draws per sample and epoch. Loss and analytic gradient come
from one fused Numba kernel (:func:`diffmem_theory.kernels.gmm_loss_and_grad`; the B x M x d
differences are never formed). The optimizer is Adam with the warmup-decay schedule of H.1
(:mod:`diffmem_theory.core.optim`), the initialization is "partial memorization" (variance 1e-6,
means = distinct random training samples). The variance is parameterized by its square root, as in
the authors' code.

Everything is a pure function of the seed: the noise and times of epoch ``k`` come from
``SeedSequence(seed, spawn_key=(k, chunk))`` (the noise in 8 fixed row chunks, each from its own
generator, drawn in parallel on a thread pool; the queries ``alpha_t x^i + sigma_t z`` formed
block by block inside the kernel), and the kernel sums over a fixed partition of the queries in
a fixed order, so an interrupted run resumed from its checkpoint gives bit-for-bit the
parameters of an uninterrupted one, and every run the same bits whatever the number of threads
(``NUMBA_NUM_THREADS``) or of pool workers.

>>> import numpy as np
>>> from diffmem_theory.core.distributions import IsotropicGaussianMixture, sphere_means
>>> rng = np.random.default_rng(0)
>>> gmm = IsotropicGaussianMixture(sphere_means(2, 5, rng), 1.0)
>>> X, _ = gmm.sample(40, rng)
>>> res = train_gmm_denoiser(X, 4, TrainConfig(n_epochs=300, n_dup=4, seed=1), progress=False)
>>> bool(res.losses[-20:].mean() < res.losses[:20].mean()), res.model.means.shape
(True, (4, 5))
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numba
import numpy as np
from numpy.typing import ArrayLike
from tqdm.auto import tqdm

from diffmem_theory import _progress as bars
from diffmem_theory._validation import (
    as_float_array,
    as_rng,
    check_choice,
    check_dtype,
    check_int,
    check_scalar,
)
from diffmem_theory.core.denoisers import memorized_subset
from diffmem_theory.core.distributions import IsotropicGaussianMixture
from diffmem_theory.core.losses import loss_weighting
from diffmem_theory.core.optim import Adam, AdamState, WarmupDecay, ema_update
from diffmem_theory.core.schedules import PREDICTIONS, Schedule, as_schedule
from diffmem_theory.kernels import BACKENDS
from diffmem_theory.kernels import gmm_loss_and_grad as kernel_loss_and_grad

__all__ = [
    "FitResult",
    "GMMDenoiser",
    "TrainConfig",
    "TrainResult",
    "fit",
    "fit_config",
    "gmm_loss_and_grad",
    "partial_memorization_init",
    "train_gmm_denoiser",
]

Objective = Callable[[np.ndarray, int], tuple[float, np.ndarray]]


# ----------------------------------------------------------------------------------------------
# the model
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class GMMDenoiser:
    r"""An isotropic M-component GMM denoiser ``theta = (mu^1..mu^M, var)`` (eqs. (11)-(12)).

    :meth:`denoiser` is ``xbar_theta`` of paper 000, eqs. (11)-(12) (Lemma 2.1 with
    ``Sigma^i = var I`` and weights 1/M), evaluated on the fused kernel: the posterior mean of
    :class:`~diffmem_theory.core.distributions.IsotropicGaussianMixture` ``(means, var)``, so a
    trained model drops into :func:`~diffmem_theory.core.denoisers.as_denoiser` like a law.

    Parameters
    ----------
    means : ndarray, shape (M, d)
        The learned means (float32 or float64: their dtype sets the training kernel's precision).
    var : float
        The learned shared variance ``s^2 > 0`` (a variance; the trainer optimizes its square
        root, as the authors' code).

    See Also
    --------
    train_gmm_denoiser : Trains it.
    diffmem_theory.core.denoisers.iso_gmm_denoiser : The same posterior mean as a function.

    References
    ----------
    Buchanan et al. (paper 000), eqs. (11)-(12), Sec. 4 and App. H.1.

    Examples
    --------
    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> m = GMMDenoiser(np.array([[1.0, 0.0], [-1.0, 0.0]]), 0.5)
    >>> m.denoiser(np.array([0.9, 0.1]), 0.5, VPTrig()).round(6).tolist()
    [0.962523, 0.069282]
    """

    means: np.ndarray
    var: float

    @property
    def n_components(self) -> int:
        r"""The number of components ``M``."""
        return int(self.means.shape[0])

    def denoiser(
        self, x: ArrayLike, t: ArrayLike, schedule: Schedule, *, prediction: str = "x0"
    ) -> np.ndarray:
        r"""``xbar_theta(x, t)`` (eqs. (11)-(12)), or the prediction in another unit, directly.

        Parameters
        ----------
        x : array_like, shape (B, d) or (d,)
            Noisy states.
        t : float or array_like, shape (B,)
            Times with ``sigma_t > 0``.
        schedule : Schedule or str
            The noise schedule.
        prediction : str, default "x0"
            A unit of :data:`~diffmem_theory.core.schedules.PREDICTIONS`.

        Returns
        -------
        ndarray, shaped like ``x``

        See Also
        --------
        diffmem_theory.core.distributions.IsotropicGaussianMixture.denoiser : The law's method.
        """
        law = IsotropicGaussianMixture(self.means, self.var)
        return law.denoiser(x, t, schedule, prediction=prediction)

    def pack(self) -> np.ndarray:
        r"""Flat parameter vector ``[means.ravel(), sqrt(var)]`` (the optimized variables).

        Returns
        -------
        ndarray, shape (M d + 1,)
            In the dtype of ``means``.
        """
        return np.concatenate([self.means.ravel(), [np.sqrt(self.var)]]).astype(self.means.dtype)

    @classmethod
    def unpack(cls, theta: np.ndarray, d: int) -> GMMDenoiser:
        r"""Inverse of :meth:`pack`.

        Parameters
        ----------
        theta : array_like, shape (M d + 1,)
            ``M d`` means and ``sqrt(var)``, ``M >= 1``.
        d : int
            The dimension.

        Returns
        -------
        GMMDenoiser

        Examples
        --------
        >>> GMMDenoiser.unpack(np.array([1.0, 2.0, 0.5]), 2).var
        0.25
        """
        d = check_int(d, "d", low=1)
        flat = as_float_array(theta, "theta", ndim=1)
        if flat.size < d + 1 or (flat.size - 1) % d:
            raise ValueError(
                f"theta must hold M d means and sqrt(var) (M >= 1, d = {d}), got {flat.size} values"
            )
        return cls(flat[:-1].reshape(-1, d).copy(), float(flat[-1]) ** 2)


def partial_memorization_init(
    X: ArrayLike, M: int, rng: np.random.Generator | int, var0: float = 1e-6
) -> GMMDenoiser:
    r"""The "partial memorization" initialization of App. H.1: means = M distinct training samples.

    Buchanan et al. (paper 000), H.1: "the isotropic GMM is initialized with variance 1e-6 and
    each mean equal to a random training sample" (without replacement when ``M <= N``, as the
    authors' code; with replacement beyond N, where the nesting of App. B makes extra copies
    harmless).

    Parameters
    ----------
    X : array_like, shape (N, d)
        The training points.
    M : int
        The number of components, ``>= 1``.
    rng : numpy.random.Generator or int
        Draws the samples.
    var0 : float, default 1e-6
        The initial variance, ``> 0``.

    Returns
    -------
    GMMDenoiser

    See Also
    --------
    diffmem_theory.core.denoisers.memorized_subset : The subset for ``M <= N``.
    train_gmm_denoiser : Its user.

    References
    ----------
    Buchanan et al. (paper 000), App. H.1.

    Examples
    --------
    >>> import numpy as np
    >>> init = partial_memorization_init(np.eye(3), 2, rng=0)
    >>> init.means.tolist(), init.var
    ([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], 1e-06)
    """
    data = as_float_array(X, "X", ndim=2)
    m = check_int(M, "M", low=1)
    gen = as_rng(rng)
    n = data.shape[0]
    idx = memorized_subset(n, m, rng=gen) if m <= n else gen.integers(0, n, m)
    return GMMDenoiser(data[idx].copy(), check_scalar(var0, "var0", low=0.0, low_open=True))


# ----------------------------------------------------------------------------------------------
# loss and gradient
# ----------------------------------------------------------------------------------------------


def gmm_loss_and_grad(
    model: GMMDenoiser,
    x_t: ArrayLike,
    x0: ArrayLike,
    t: ArrayLike,
    schedule: Schedule,
    weighting: str | Callable[[np.ndarray], ArrayLike] = "eps",
    *,
    backend: str = "numba",
) -> tuple[float, np.ndarray, float]:
    r"""Loss ``(1/B) sum_q lambda(t_q) |xbar_theta(x_t^q, t_q) - x0^q|^2`` and its exact gradient.

    Buchanan et al. (paper 000), eqs. (5)-(6) and (11)-(12). The gradient is analytic and
    computed with the loss in one fused pass (:func:`diffmem_theory.kernels.gmm_loss_and_grad`,
    whose docstring gives the formulas). The dtype of ``model.means`` (float32 or float64) sets
    the kernel's precision; with float32, variances below ~1e-4 at ``t = 0.001`` lose the
    logits' accuracy to the expanded square.

    Parameters
    ----------
    model : GMMDenoiser
        The parameters ``theta``.
    x_t : array_like, shape (B, d)
        Noisy queries, ``B >= 1``.
    x0 : array_like, shape (B, d)
        Their targets.
    t : float or array_like, shape (B,)
        One time, or one per query.
    schedule : Schedule or str
        The noise schedule.
    weighting : str or callable, default "eps"
        ``"eps"`` (``psi_t``, training), ``"x0"`` (1), another unit of
        :data:`~diffmem_theory.core.schedules.PREDICTIONS`, or a callable ``lambda(t)``
        (:func:`~diffmem_theory.core.losses.loss_weighting`).
    backend : {"numba", "numpy", "cupy"}
        ``"numba"`` (default), or the array-API twin of the kernel on NumPy or on the GPU (NumPy
        in and out).

    Returns
    -------
    loss : float
    grad_means : ndarray, shape (M, d)
        ``dL/dmeans``.
    grad_var : float
        ``dL/dvar``.

    Raises
    ------
    ValueError
        When a squared norm of ``x_t``, ``x0`` or ``model.means``, or a term of the loss or its
        gradient, would overflow the dtype.

    See Also
    --------
    train_gmm_denoiser : Trains on it.

    References
    ----------
    Buchanan et al. (paper 000), eqs. (5)-(6), (11)-(12).

    Examples
    --------
    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> m = GMMDenoiser(np.array([[1.0]]), 1.0)
    >>> loss, g, gv = gmm_loss_and_grad(m, np.array([[1.0]]), np.array([[0.0]]), 0.6, VPTrig())
    >>> round(loss, 6)   # xbar = (0.8 + 0.36)/1 = 1.16, psi = 0.64/0.36
    2.392178
    """
    if not isinstance(model, GMMDenoiser):
        raise TypeError(f"model must be a GMMDenoiser, got {type(model).__name__}")
    schedule = as_schedule(schedule, required=True)
    means = _means_array(model.means, "model.means")
    dtype = means.dtype
    xt = _rows(x_t, "x_t", dtype)
    target = _rows(x0, "x0", dtype)
    if xt.shape != target.shape or xt.shape[1] != means.shape[1] or xt.shape[0] == 0:
        raise ValueError(
            f"x_t {xt.shape}, x0 {target.shape} and model.means {means.shape} must share (B, d), "
            "B >= 1"
        )
    tt = schedule.check_time(t)
    if tt.ndim > 1 or tt.size not in (1, xt.shape[0]):
        raise ValueError(
            f"t must be one time or one per query ({xt.shape[0]}), got shape {tt.shape}"
        )
    tt = np.broadcast_to(tt.reshape(-1), (xt.shape[0],))
    lam = loss_weighting(weighting, tt, schedule)
    var = check_scalar(model.var, "model.var", low=0.0, low_open=True)
    backend = check_choice(backend, "backend", BACKENDS)
    return _fused_kernel(backend)(
        xt, target, schedule.alpha(tt), schedule.sigma2(tt), np.ascontiguousarray(lam), means, var
    )


def _rows(x: ArrayLike, name: str, dtype: np.dtype) -> np.ndarray:
    """A C-contiguous (n, d) array of ``dtype`` whose squared row norms do not overflow."""
    arr = np.ascontiguousarray(as_float_array(x, name, ndim=2, dtype=dtype))
    with np.errstate(over="ignore"):
        sq = np.einsum("ij,ij->i", arr, arr)
    if not np.all(np.isfinite(sq)):
        big = float(np.abs(arr).max())
        raise ValueError(
            f"{name} must have squared row norms that fit in {dtype}, got entries up to {big!r}; "
            "rescale the data"
        )
    return arr


def _means_array(means: ArrayLike, name: str) -> np.ndarray:
    """Model means: float32 or float64 (their dtype sets the kernel's precision), (M, d)."""
    dtype = check_dtype(np.asarray(means).dtype, f"{name} dtype")
    mu = _rows(means, name, dtype)
    if mu.shape[0] == 0 or mu.shape[1] == 0:
        raise ValueError(f"{name} must have shape (M, d) with M, d >= 1, got shape {mu.shape}")
    return mu


def _fused_kernel(backend: str) -> Callable[..., tuple[float, np.ndarray, float]]:
    """The fused loss-and-gradient kernel of ``backend`` (Numba, or its array-API twin), whose
    results are checked: a loss or gradient that is not finite raises ``ValueError``."""
    kernel = partial(kernel_loss_and_grad, backend=backend)

    def checked(*args: Any, **kwargs: Any) -> tuple[float, np.ndarray, float]:
        with np.errstate(over="ignore", invalid="ignore"):  # reported below instead
            loss, grad, dvar = kernel(*args, **kwargs)
        if not (np.isfinite(loss) and np.isfinite(dvar) and np.all(np.isfinite(grad))):
            raise ValueError(
                f"the GMM loss or its gradient is not finite (loss {loss!r}, dL/dvar {dvar!r}): a "
                "term overflowed; rescale the data and the means, or use float64"
            )
        return loss, grad, dvar

    return checked


# ----------------------------------------------------------------------------------------------
# the generic training loop
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FitResult:
    r"""The outcome of :func:`fit`.

    Attributes
    ----------
    params : ndarray
        The final parameters.
    ema : ndarray or None
        Their exponential moving average (``None`` without EMA).
    losses : ndarray, shape (n_epochs,) or (n_epochs, k)
        The loss per epoch (per part, for an objective that returns ``k`` losses).
    epochs : int
        The epochs run.
    """

    params: np.ndarray
    ema: np.ndarray | None
    losses: np.ndarray
    epochs: int


def _atomic_savez(path: Path, **arrays: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp.npz")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fit(
    objective: Objective,
    params0: np.ndarray,
    n_epochs: int,
    *,
    lr: WarmupDecay | None = None,
    b2: float = 0.999,
    ema: float | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 1000,
    fingerprint: str = "",
    progress: bool = True,
    desc: str = "training",
) -> FitResult:
    r"""Full-batch Adam on ``objective(params, epoch) -> (loss, grad)`` with checkpoint/resume.

    The optimizer of Buchanan et al. (paper 000), App. H.1: one Adam step per epoch with the
    warmup-decay learning rate, optionally an EMA of the parameters. The objective must be a
    pure function of ``(params, epoch)`` (draw its noise from the epoch number), which makes the
    run deterministic and resumable.

    Parameters
    ----------
    objective : callable
        ``objective(params, epoch) -> (loss, grad)``; ``loss`` a float, or a 1-D array of the
        losses of ``k`` independent parts stacked in ``params`` (e.g. several models trained in
        lock step: Adam is element-wise, so each part moves exactly as it would alone), recorded
        per part.
    params0 : array_like
        The initial parameters (a flat float array).
    n_epochs : int
        The number of epochs (Adam steps), ``>= 1``.
    lr : callable, optional
        The learning rate per epoch (default
        :class:`~diffmem_theory.core.optim.WarmupDecay` over ``n_epochs``).
    b2 : float, default 0.999
        Adam's second-moment decay.
    ema : float, optional
        The EMA decay in ``[0, 1)`` (no EMA by default).
    checkpoint : path, optional
        Where the state (parameters, Adam moments, EMA, losses, epoch) is saved atomically every
        ``checkpoint_every`` epochs and at the end; a later call with the same ``fingerprint``
        continues from it.
    checkpoint_every : int, default 1000
    fingerprint : str, default ""
        Identifies the problem and its settings (a checkpoint of another run is refused).
    progress : bool, default True
        A tqdm bar with the loss.
    desc : str
        The bar's label.

    Returns
    -------
    FitResult

    See Also
    --------
    fit_config : With the settings of a :class:`TrainConfig`.
    diffmem_theory.core.optim.Adam : The optimizer.

    References
    ----------
    Buchanan et al. (paper 000), App. H.1.

    Examples
    --------
    >>> import numpy as np
    >>> res = fit(lambda p, k: (float(p @ p), 2 * p), np.array([1.0, -1.0]), 2000,
    ...           lr=WarmupDecay(2000, peak=0.05), progress=False)
    >>> bool(np.abs(res.params).max() < 1e-2), res.epochs
    (True, 2000)
    """
    if not callable(objective):
        raise TypeError(f"objective must be a callable (params, epoch) -> (loss, grad), got "
                        f"{type(objective).__name__}")  # fmt: skip
    if lr is not None and not callable(lr):
        raise TypeError(f"lr must be a WarmupDecay or a callable epoch -> rate, got {lr!r}")
    n = check_int(n_epochs, "n_epochs", low=1)
    every = check_int(checkpoint_every, "checkpoint_every", low=1)
    b2 = check_scalar(b2, "b2", low=0.0, high=1.0, high_open=True)
    if ema is not None:
        ema = check_scalar(ema, "ema", low=0.0, high=1.0, high_open=True)
    if not isinstance(fingerprint, str):
        raise TypeError(f"fingerprint must be a str, got {type(fingerprint).__name__}")
    sched = lr if lr is not None else WarmupDecay(n)
    opt = Adam(sched, b2=b2)
    params = np.array(as_float_array(params0, "params0"), copy=True)
    state = opt.init(params)
    avg = params.copy() if ema is not None else None
    losses: np.ndarray | None = None  # shaped by the first loss: (n,) or (n, k)
    start = 0
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None and path.exists():
        with np.load(path) as ck:
            if str(ck["fingerprint"]) != fingerprint or int(ck["n_epochs"]) != n:
                raise ValueError(
                    f"checkpoint {path} belongs to another run (fingerprint or n_epochs "
                    "differ); delete it or choose another path"
                )
            params = np.array(ck["params"])
            state = AdamState.from_arrays(dict(ck))
            avg = np.array(ck["ema"]) if ema is not None else None
            start = int(ck["epoch"])
            losses = np.array(ck["losses"])

    def save(epoch: int) -> None:
        if path is not None:
            _atomic_savez(
                path,
                params=params,
                ema=avg if avg is not None else np.zeros(0),
                losses=losses,
                epoch=np.asarray(epoch),
                n_epochs=np.asarray(n),
                fingerprint=np.asarray(fingerprint),
                **state.to_arrays(),
            )

    bar = tqdm(total=n, initial=start, desc=desc, disable=bars.disable(progress), leave=False)
    for k in range(start, n):
        loss, grad = objective(params, k)
        if losses is None:
            losses = np.full((n, *np.shape(loss)), np.nan)
        losses[k] = loss
        params, state = opt.step(params, grad, state)
        if avg is not None:
            avg = ema_update(avg, params, ema)  # type: ignore[arg-type]
        if (k + 1) % every == 0 and k + 1 < n:
            save(k + 1)
        if progress and (k % 50 == 0 or k == n - 1):
            bar.set_postfix(loss=f"{float(np.sum(loss)):.4g}", refresh=False)
        bar.update(1)
    bar.close()
    save(n)
    return FitResult(params, avg, losses, n)


# ----------------------------------------------------------------------------------------------
# the GMM denoiser trainer
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainConfig:
    r"""Settings of a GMM-denoiser training run; defaults are paper 000's (App. H.1).

    Parameters
    ----------
    n_epochs : int, default 50_000
    n_dup : int, default 100
        Fresh noise draws per sample and epoch (the paper's ``N_dup``).
    seed : int, default 0
        Every random number of the run derives from it.
    peak_lr, final_lr, warmup : float
        The learning-rate schedule (:class:`~diffmem_theory.core.optim.WarmupDecay`; 1e-3,
        1e-6, 0.1).
    adam_b2 : float, default 0.999
        Adam's second-moment decay (optax's default).
    weighting : str, default "eps"
        The loss weighting (``lambda = psi_t``; :func:`~diffmem_theory.core.losses.loss_weighting`).
    var0 : float, default 1e-6
        The initial variance.
    ema : float, optional
        The EMA decay (none by default).
    dtype : {"float64", "float32"}
    times : tuple of float, optional
        The time grid (default the schedule's
        :meth:`~diffmem_theory.core.schedules.Schedule.time_grid`, VPTrig's 26 points).
    extra : dict
        Free-form settings recorded with the run.

    See Also
    --------
    train_gmm_denoiser, fit_config

    References
    ----------
    Buchanan et al. (paper 000), Sec. 4 and App. H.1.

    Examples
    --------
    >>> TrainConfig(n_epochs=10).n_dup
    100
    """

    n_epochs: int = 50_000
    n_dup: int = 100
    seed: int = 0
    peak_lr: float = 1e-3
    final_lr: float = 1e-6
    warmup: float = 0.1
    adam_b2: float = 0.999
    weighting: str = "eps"
    var0: float = 1e-6
    ema: float | None = None
    dtype: str = "float64"
    times: tuple[float, ...] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_int(self.n_epochs, "n_epochs", low=1)
        check_int(self.n_dup, "n_dup", low=1)
        check_int(self.seed, "seed", low=0)
        check_dtype(self.dtype)
        peak = check_scalar(self.peak_lr, "peak_lr", low=0.0, low_open=True)
        check_scalar(self.final_lr, "final_lr", low=0.0, high=peak)
        check_scalar(self.warmup, "warmup", low=0.0, high=1.0)
        check_scalar(self.adam_b2, "adam_b2", low=0.0, high=1.0, high_open=True)
        check_scalar(self.var0, "var0", low=0.0, low_open=True)
        if not callable(self.weighting):
            check_choice(self.weighting, "weighting", PREDICTIONS)
        if self.ema is not None:
            check_scalar(self.ema, "ema", low=0.0, high=1.0, high_open=True)
        if self.times is not None:
            as_float_array(self.times, "times", ndim=1)
        if not isinstance(self.extra, dict):
            raise TypeError(f"extra must be a dict, got {type(self.extra).__name__}")


def fit_config(
    objective: Objective,
    params0: np.ndarray,
    config: TrainConfig,
    *,
    identity: dict[str, Any],
    data: np.ndarray,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 1000,
    progress: bool = True,
    desc: str = "training",
) -> FitResult:
    r""":func:`fit` with the optimizer settings of ``config`` (H.1 schedule, Adam b2, EMA).

    The checkpoint fingerprint hashes ``config``, ``identity`` and the training ``data``, so a
    checkpoint is only resumed by the same run. Used by every trainer of the package.

    Parameters
    ----------
    objective, params0
        As in :func:`fit`.
    config : TrainConfig
        The settings (``n_epochs``, the learning-rate schedule, ``adam_b2``, ``ema``).
    identity : dict
        What else defines the run: the model kind, its size, the schedule, the initialization.
    data : ndarray
        The training data (hashed into the fingerprint).
    checkpoint, checkpoint_every, progress, desc
        As in :func:`fit`.

    Returns
    -------
    FitResult

    See Also
    --------
    fit, train_gmm_denoiser

    Examples
    --------
    >>> import numpy as np
    >>> res = fit_config(lambda p, k: (float(p @ p), 2 * p), np.ones(2),
    ...                  TrainConfig(n_epochs=500, peak_lr=0.05), identity={}, data=np.zeros(1),
    ...                  progress=False)
    >>> bool(np.abs(res.params).max() < 0.05)
    True
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    if not isinstance(identity, dict):
        raise TypeError(f"identity must be a dict, got {type(identity).__name__}")
    fingerprint = hashlib.sha256(
        json.dumps({"config": asdict(config), **identity}, sort_keys=True, default=str).encode()
        + np.ascontiguousarray(data).tobytes()
    ).hexdigest()
    return fit(
        objective,
        params0,
        config.n_epochs,
        lr=WarmupDecay(config.n_epochs, config.peak_lr, config.final_lr, config.warmup),
        b2=config.adam_b2,
        ema=config.ema,
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
        fingerprint=fingerprint,
        progress=progress,
        desc=desc,
    )


@dataclass(frozen=True)
class TrainResult:
    r"""The outcome of :func:`train_gmm_denoiser`.

    Attributes
    ----------
    model : GMMDenoiser
        The trained model.
    ema_model : GMMDenoiser or None
        Its EMA twin (if EMA was on).
    losses : ndarray, shape (n_epochs,)
        The loss per epoch.
    config : TrainConfig
        The settings of the run.
    """

    model: GMMDenoiser
    ema_model: GMMDenoiser | None
    losses: np.ndarray
    config: TrainConfig


# The noise of an epoch is drawn in this many fixed row chunks, each from its own generator, by
# a thread pool (NumPy releases the GIL while it fills an array): parallel, and the same numbers
# whatever the number of threads.
_NOISE_CHUNKS = 8
_POOL = ThreadPoolExecutor(max_workers=max(1, min(_NOISE_CHUNKS, os.cpu_count() or 1)))
_POOL_MIN = 1 << 16  # fewer normals per epoch are drawn in place (the hand-offs cost more)


def _epoch_noise(seed: int, epoch: int, rows: int, d: int, dtype: np.dtype) -> np.ndarray:
    """Standard normal noise (rows, d) of one epoch, a pure function of (seed, epoch)."""
    z = np.empty((rows, d), dtype=dtype)
    bounds = np.linspace(0, rows, _NOISE_CHUNKS + 1).astype(int)

    def fill(c: int) -> None:
        gen = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(epoch, c)))
        gen.standard_normal(out=z[bounds[c] : bounds[c + 1]], dtype=dtype)

    if numba.get_num_threads() > 1 and rows * d >= _POOL_MIN:
        list(_POOL.map(fill, range(_NOISE_CHUNKS)))
    else:  # one thread (a sweep worker) or little noise: no hand-offs, the same numbers
        for c in range(_NOISE_CHUNKS):
            fill(c)
    return z


def _epoch_time_index(seed: int, epoch: int, n: int, n_times: int) -> np.ndarray:
    """Index of one grid time per training point for one epoch (uniform on the grid)."""
    gen = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(epoch, _NOISE_CHUNKS)))
    return gen.integers(0, n_times, n)


def _epoch_batch(
    X: np.ndarray, times: np.ndarray, schedule: Schedule, n_dup: int, seed: int, epoch: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x_t, x0, t) of one epoch, materialized (the trainer uses the fused form instead).

    Row q = i n_dup + r is alpha_t x^i + sigma_t z_q with one grid time per training point.
    """
    n, d = X.shape
    t = np.repeat(times[_epoch_time_index(seed, epoch, n, times.size)], n_dup)
    z = _epoch_noise(seed, epoch, n * n_dup, d, X.dtype)
    x0 = np.repeat(X, n_dup, axis=0)
    alpha, sigma = (c[:, None].astype(X.dtype) for c in (schedule.alpha(t), schedule.sigma(t)))
    return alpha * x0 + sigma * z, x0, t


def train_gmm_denoiser(
    X: ArrayLike,
    M: int,
    config: TrainConfig | None = None,
    *,
    schedule: Schedule | None = None,
    init: GMMDenoiser | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 1000,
    progress: bool = True,
    backend: str = "numba",
) -> TrainResult:
    r"""Train an M-component isotropic GMM denoiser on ``X`` as in paper 000, Sec. 4 / App. H.1.

    Buchanan et al. (paper 000), eq. (5) with the weighting of ``config`` (``lambda = psi_t``),
    ``t`` uniform on the grid (VPTrig's 26 points by default), ``config.n_dup`` fresh noise draws
    per sample per epoch, full-batch Adam with the H.1 schedule, partial-memorization
    initialization (unless ``init`` is given), optional EMA, float32 or float64. Deterministic
    given ``config.seed`` and bit-identical for any number of threads; ``checkpoint`` makes it
    resumable (see :func:`fit`).

    Parameters
    ----------
    X : array_like, shape (N, d)
        The training points.
    M : int
        The number of components, ``>= 1``.
    config : TrainConfig, optional
        The settings (paper 000's by default).
    schedule : Schedule or str, optional
        The noise schedule (default :class:`~diffmem_theory.core.schedules.VPTrig`).
    init : GMMDenoiser, optional
        The initial model (default :func:`partial_memorization_init`).
    checkpoint, checkpoint_every, progress
        As in :func:`fit`.
    backend : {"numba", "numpy", "cupy"}
        The loss-and-gradient kernel, as in :func:`gmm_loss_and_grad` (the noise is drawn on the
        CPU either way, so every backend sees the same numbers).

    Returns
    -------
    TrainResult

    Raises
    ------
    ValueError
        When a squared norm of ``X`` overflows, or when the loss or gradient of an epoch would
        overflow (e.g. the means diverged under a too large learning rate).

    See Also
    --------
    gmm_loss_and_grad, fit_config, GMMDenoiser

    References
    ----------
    Buchanan et al. (paper 000), eqs. (5), (11)-(12), Sec. 4 and App. H.1.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).standard_normal((30, 3))
    >>> res = train_gmm_denoiser(X, 30, TrainConfig(n_epochs=50, n_dup=2), progress=False)
    >>> res.model.var < 1e-3   # M = N: the memorizing start stays (nearly) memorizing
    True
    """
    cfg = config if config is not None else TrainConfig()
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"config must be a TrainConfig or None, got {type(cfg).__name__}")
    if init is not None and not isinstance(init, GMMDenoiser):
        raise TypeError(f"init must be a GMMDenoiser or None, got {type(init).__name__}")
    backend = check_choice(backend, "backend", BACKENDS)
    sched = as_schedule(schedule)
    dtype = check_dtype(cfg.dtype)
    data = _rows(X, "X", dtype)
    n, d = data.shape
    if n == 0 or d == 0:
        raise ValueError(f"X must have shape (N, d) with N, d >= 1, got shape {data.shape}")
    m = check_int(M, "M", low=1)
    times = sched.time_grid() if cfg.times is None else sched.check_time(np.asarray(cfg.times))
    rng = np.random.default_rng(np.random.SeedSequence(cfg.seed, spawn_key=(2**32 - 1,)))
    start = init if init is not None else partial_memorization_init(data, m, rng, cfg.var0)
    means0 = _means_array(start.means, "init.means").astype(dtype)
    if means0.shape != (m, d):
        raise ValueError(f"init.means must have shape ({m}, {d}), got {means0.shape}")
    var0 = check_scalar(start.var, "init.var", low=0.0, low_open=True)
    theta0 = GMMDenoiser(means0, var0).pack()

    lam_grid = loss_weighting(cfg.weighting, times, sched)
    alpha_grid, sigma2_grid = sched.alpha(times), sched.sigma2(times)

    def objective(theta: np.ndarray, epoch: int) -> tuple[float, np.ndarray]:
        t_idx = _epoch_time_index(cfg.seed, epoch, n, times.size)
        z = _epoch_noise(cfg.seed, epoch, n * cfg.n_dup, d, dtype)
        s = float(theta[-1])
        means = np.ascontiguousarray(theta[:-1].reshape(m, d))
        try:
            loss, g_mu, g_var = _fused_kernel(backend)(
                z, data, alpha_grid[t_idx], sigma2_grid[t_idx], lam_grid[t_idx], means, s * s,
                n_dup=cfg.n_dup,
            )  # fmt: skip
        except ValueError as err:
            raise ValueError(f"training epoch {epoch}: {err}") from err
        return loss, np.concatenate([g_mu.ravel(), [2.0 * s * g_var]]).astype(theta.dtype)

    out = fit_config(
        objective,
        theta0,
        cfg,
        identity={"model": "gmm", "M": m, "schedule": repr(sched), "init": theta0.tolist()},
        data=data,
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
        progress=progress,
        desc=f"M={m}",
    )
    ema_model = GMMDenoiser.unpack(out.ema, d) if out.ema is not None else None
    return TrainResult(GMMDenoiser.unpack(out.params, d), ema_model, out.losses, cfg)
