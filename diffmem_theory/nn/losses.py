r"""Denoising score-matching objectives of the papers, as pure JAX functions of (model, batch, key).

With ``x_t = alpha_t x0 + sigma_t eta`` (``eta ~ N(0, I)``) a network in unit ``u``
(:data:`~diffmem_theory.nn.models.NN_PREDICTIONS`) regresses the target
``x0`` (``"x0"``), ``eta`` (``"eps"``) or ``-eta/sigma_t`` (``"score"``; the conditional score
``grad log p(x_t | x0)``). Every objective of the papers is the weighted squared error

    lambda(t) |xhat_0(x_t, t) - x0|^2 + c (sigma_t^2 / alpha_t^2) lambda(t) |s(x_t, t)|^2

in the x0 convention of Buchanan et al. (paper 000), eq. (6), with ``s`` the network's
score (Tweedie: ``s = (alpha xhat_0 - x)/sigma^2``):

* paper 000, eq. (6): ``lambda`` any weighting of
  :func:`~diffmem_theory.core.losses.loss_weighting` (``"eps"``: ``psi_t = alpha^2/sigma^2``,
  the usual noise-prediction loss; ``"x0"``: 1; ``"score"``, ``"v"``, ``"velocity"``, a
  callable ``lambda(t)``);
* paper 003, eq. (3.1): no weight in score units, ``|s - grad log p(x_t|x0)|^2``, i.e.
  ``lambda = alpha^2/sigma^4`` = ``"score"``;
* paper 002, eq. (3.13) with ``lambda(t) = sigma^2(t)`` in score units (Sec. 5.3), the
  objective J_0^N: ``|sigma s + eta|^2`` -- in the x0 convention ``lambda = alpha^2/sigma^2``,
  the ``"eps"`` weighting -- for a network in score units; I_0^N (Sec. 3.4) is the same
  objective for a network that outputs ``s~ = sigma s`` directly (``-eps``: an ``"eps"``
  network; the sign is immaterial to the fit);
* paper 002, eq. (5.5), the Tikhonov-regularized J_reg,0^N with ``lambda = sigma^2`` and
  ``Gamma(t) = c/sigma^2 I``: ``|sigma s + eta|^2 + c |s|^2`` (the term ``c`` above).

The squared error is formed as ``|w_p p - w_0 x0 - w_e eta|^2 + |r_p p + r_x x_t|^2`` with
coefficients computed once in float64 in log space by :func:`make_batch`, so no weight
``1/sigma^2`` overflows and nothing cancels at small ``t`` (J_0^N is ``|sigma s + eta|^2``
exactly: ``w_p = sigma``, ``w_e = -1``).

>>> import jax, numpy as np
>>> from diffmem_theory.core.schedules import VPTrig
>>> from diffmem_theory.nn.models import mlp
>>> net = mlp(2, 8, 2, key=jax.random.key(0), prediction="score")
>>> X = np.random.default_rng(0).standard_normal((16, 2))
>>> t = sample_times(np.random.default_rng(1), 16, VPTrig(), t_min=1e-3)
>>> batch = make_batch(X, t, VPTrig(), "score", weighting="eps")
>>> loss, grads = jax.value_and_grad(j_0_n)(net, batch, jax.random.key(2))
>>> bool(np.isfinite(loss)), grads.layers[0].weight.shape
(True, (8, 10))
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from diffmem_theory._validation import as_float_array, as_points, check_int, check_scalar
from diffmem_theory.core.losses import log_loss_weighting
from diffmem_theory.core.schedules import Schedule, as_schedule
from diffmem_theory.nn.models import MLP, NN_PREDICTIONS, check_model_dtype

__all__ = [
    "Batch",
    "dsm_loss",
    "dsm_per_example",
    "i_0_n",
    "j_0_n",
    "make_batch",
    "sample_times",
    "time_range",
    "weight_decay",
]

#: The largest Tikhonov constant ``c``. The regularizer adds ``c sigma^2 lambda/alpha^2 |s|^2``
#: to a loss of order 1; at ``c = 10^6`` it already outweighs the data term a millionfold (the
#: papers use ``c <= 1``), and larger ``c`` only pushes the float32 gradients that Adam squares
#: toward overflow (float32's largest value is 3.4e38, so a gradient must stay below 1.8e19).
C_MAX = 1e6

#: Headroom (as a power of 2) that :func:`bounded_data` keeps below the dtype's overflow.
_HEADROOM = 2.0**32


def fits_dtype(arr: np.ndarray, name: str, dtype: Any) -> np.ndarray:
    """``arr`` if it is finite and every entry fits in ``dtype``, else ``ValueError`` naming it."""
    top = float(np.abs(arr).max()) if arr.size else 0.0
    if not top <= float(np.finfo(dtype).max):
        raise ValueError(
            f"{name} has entries up to {top:.3g}, beyond the range of {np.dtype(dtype)} "
            f"(max {float(np.finfo(dtype).max):.3g})"
        )
    return arr


def bounded_data(arr: np.ndarray, name: str, dtype: Any) -> np.ndarray:
    """Training points ``(N, d)`` whose squared norms cannot overflow the network's ``dtype``.

    Refuses points with ``max |x| sqrt(d) > sqrt(max of dtype) / 2^32`` (``2^32 ~ 4.3e9`` for
    float32, ``2^480 ~ 3e144`` for float64): ``|x|^2`` then stays ``2^64`` below the overflow,
    room for the loss weights and the gain of the network. Rescaling the data is the remedy.

    >>> bounded_data(np.ones((2, 3)), "X", np.float32).shape
    (2, 3)
    """
    top = float(np.abs(arr).max()) if arr.size else 0.0
    limit = math.sqrt(float(np.finfo(dtype).max)) / _HEADROOM
    if not top * math.sqrt(arr.shape[-1]) <= limit:
        raise ValueError(
            f"{name} has coordinates up to {top:.3g}: with d = {arr.shape[-1]} its squared norms "
            f"could overflow {np.dtype(dtype)} in training (allowed: max |x| sqrt(d) <= "
            f"{limit:.3g}); rescale the points"
        )
    return arr


class Batch(eqx.Module):
    r"""Training points, times and the float64-computed coefficients of one objective.

    Made by :func:`make_batch`; a pytree, so it passes through ``jax.jit`` and ``lax.scan``.

    Attributes
    ----------
    x0 : array, shape (B, d)
        Clean points.
    t, alpha, sigma : array, shape (B,)
        Times and the schedule at them.
    w_pred, w_x0, w_eps : array, shape (B,)
        The residual ``w_pred p - w_x0 x0 - w_eps eta`` (``p`` the network output).
    r_pred, r_x : array, shape (B,)
        The regularizer ``r_pred p + r_x x_t``: ``sqrt(c sigma^2 lambda/alpha^2)`` times the
        network's score.
    c : array, shape (B,)
        The Tikhonov constant (0: none), one per example like every array of the batch;
        traced, so one compiled training step serves every ``c > 0``.
    prediction : str
        The unit of the network the batch is made for.
    weighting : str
        The weighting's name (``"callable"`` for a function ``lambda(t)``).
    regularized : bool
        ``c > 0`` (static: whether the regularizer is computed at all).

    Examples
    --------
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> b = make_batch(np.zeros((2, 3)), [0.5, 0.5], VPTrig(), "eps")
    >>> b.x0.shape, b.prediction, b.weighting, b.w_pred.tolist()
    ((2, 3), 'eps', 'eps', [1.0, 1.0])
    """

    x0: jax.Array
    t: jax.Array
    alpha: jax.Array
    sigma: jax.Array
    w_pred: jax.Array
    w_x0: jax.Array
    w_eps: jax.Array
    r_pred: jax.Array
    r_x: jax.Array
    c: jax.Array
    prediction: str = eqx.field(static=True)
    weighting: str = eqx.field(static=True)
    regularized: bool = eqx.field(static=True)


def sample_times(
    rng: np.random.Generator,
    n: int,
    schedule: Schedule | str,
    *,
    t_min: float = 1e-3,
    t_max: float | None = None,
) -> np.ndarray:
    r"""``n`` times drawn uniformly on ``[t_min, t_max]`` (the ``dt`` of the papers' integrals).

    Paper 002 (eq. (3.13)) and paper 003 (eq. (3.1), ``t ~ U[t_0, T]``) integrate the
    objective over time; the Monte Carlo mean of the objective over these times is the
    integral divided by ``t_max - t_min``. ``t_min > 0`` keeps the score target ``-eta/sigma``
    finite (paper 003's early stopping ``t_0``; paper 002's code samples from 0).

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
        Number of times, ``>= 1``.
    schedule : Schedule or str
    t_min : float, default 1e-3
        In the schedule's domain.
    t_max : float, optional
        Default: the end ``T`` of a closed domain, just below it for an open one; required
        when ``T = inf``.

    Returns
    -------
    ndarray, shape (n,)

    Examples
    --------
    >>> from diffmem_theory.core.schedules import VPLinear
    >>> t = sample_times(np.random.default_rng(0), 1000, VPLinear(0.001, 3.0))
    >>> bool(t.min() >= 1e-3 and t.max() <= 1.0)
    True
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    n = check_int(n, "n", low=1)
    lo, hi = time_range(schedule, t_min, t_max)
    return lo + (hi - lo) * rng.random(n)


def time_range(
    schedule: Schedule | str, t_min: float = 1e-3, t_max: float | None = None
) -> tuple[float, float]:
    r"""The validated range ``[t_min, t_max]`` of training times (see :func:`sample_times`).

    Parameters
    ----------
    schedule : Schedule or str
    t_min : float, default 1e-3
        In the schedule's domain.
    t_max : float, optional
        Default: the end ``T`` of a closed domain, just below it for an open one; required
        when ``T = inf``.

    Returns
    -------
    (float, float)

    Raises
    ------
    ValueError
        A time outside the domain, ``t_max < t_min``, or no ``t_max`` when ``T = inf``.

    Examples
    --------
    >>> from diffmem_theory.core.schedules import VPLinear
    >>> time_range(VPLinear(0.001, 3.0))
    (0.001, 1.0)
    """
    sched = as_schedule(schedule, required=True)
    lo = float(sched.check_time(t_min, "t_min"))
    if t_max is None:
        if np.isinf(sched.T):
            raise ValueError(f"t_max is required for {sched.name}, whose domain is {sched.domain}")
        t_max = float(np.nextafter(sched.T, 0.0)) if sched.domain.endswith(")") else sched.T
    hi = float(sched.check_time(t_max, "t_max"))
    if hi < lo:
        raise ValueError(f"t_max must be >= t_min = {lo!r}, got {hi!r}")
    return lo, hi


def _log_weight(weighting: Any, t: np.ndarray, sched: Schedule) -> np.ndarray:
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        return log_loss_weighting(weighting, t, sched)


def make_batch(
    x0: ArrayLike,
    t: ArrayLike,
    schedule: Schedule | str,
    prediction: str,
    *,
    weighting: str | Callable[[np.ndarray], ArrayLike] = "eps",
    c: float = 0.0,
    dtype: Any = np.float32,
) -> Batch:
    r"""The batch of one objective: points, times and its weights (float64, then cast).

    With ``log lambda`` from :func:`~diffmem_theory.core.losses.log_loss_weighting` and
    ``b_u`` the factor between the unit-``u`` error and the x0 error (``|b_u| = 1``,
    ``alpha/sigma``, ``alpha/sigma^2`` for ``"x0"``, ``"eps"``, ``"score"``):
    ``w_pred = sqrt(lambda)/|b_u|`` and ``w_pred target_u = w_x0 x0 + w_eps eta``; the
    Tikhonov term is ``c sigma^2 lambda/alpha^2 |s|^2`` with ``s = p`` (score),
    ``-p/sigma`` (eps) or ``(alpha p - x_t)/sigma^2`` (x0). All in log space.

    Parameters
    ----------
    x0 : array_like, shape (B, d)
        Clean points (finite).
    t : float or array_like, shape (B,)
        Times in the domain of ``schedule``.
    schedule : Schedule or str
    prediction : {"score", "eps", "x0"}
        The unit of the network to be trained.
    weighting : str or callable, default "eps"
        ``lambda(t)`` in the x0 convention of paper 000, eq. (6) (see the module docstring:
        ``"eps"`` is paper 002's ``lambda = sigma^2`` in score units, ``"score"`` paper 003's
        eq. (3.1)).
    c : float, default 0
        Tikhonov constant, ``0 <= c <= C_MAX = 1e6`` (paper 002, eq. (5.5) with
        ``Gamma = c/sigma^2``; :data:`C_MAX` says why it is bounded).
    dtype : float32 (default) or float64
        The network's dtype.

    Returns
    -------
    Batch

    Raises
    ------
    ValueError
        Non-finite ``x0`` or one too large for ``dtype`` (:func:`bounded_data`), times outside
        the domain, an unknown unit or weighting, ``c`` outside ``[0, C_MAX]``, weights that
        overflow ``dtype``.

    See Also
    --------
    dsm_loss : The objective.

    References
    ----------
    Buchanan et al. (paper 000), eq. (6); Baptista et al. (paper 002), eqs. (3.13), (5.5);
    paper 003, eq. (3.1).

    Examples
    --------
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> b = make_batch(np.ones((1, 2)), 0.6, VPTrig(), "score", c=0.1)
    >>> [round(float(v[0]), 6) for v in (b.alpha, b.sigma, b.w_pred, b.w_eps, b.r_pred)]
    [0.8, 0.6, 0.6, -1.0, 0.316228]
    >>> make_batch(np.ones((1, 2)), 0.6, VPTrig(), "score", c=-1.0)
    Traceback (most recent call last):
    ...
    ValueError: c must be >= 0.0, got -1.0
    """
    sched = as_schedule(schedule, required=True)
    pts = as_points(x0, "x0")
    n = pts.shape[0]
    tt = np.atleast_1d(sched.check_time(as_float_array(t, "t", ndim=(0, 1)))).astype(np.float64)
    if tt.size == 1:
        tt = np.full(n, tt[0])
    if tt.shape != (n,):
        raise ValueError(f"t must be a scalar or of shape ({n},) to match x0, got {tt.shape}")
    if prediction not in NN_PREDICTIONS:
        raise ValueError(f"prediction must be one of {list(NN_PREDICTIONS)}, got {prediction!r}")
    c = check_scalar(c, "c", low=0.0, high=C_MAX)
    dt = check_model_dtype(dtype)
    bounded_data(pts, "x0", dt)
    log_a, log_s2 = sched.log_alpha(tt), sched.log_sigma2(tt)
    log_lam = _log_weight(weighting, tt, sched)
    half = 0.5 * (log_lam - _log_weight(prediction, tt, sched))  # log(sqrt(lambda)/|b_u|)
    with np.errstate(over="ignore"):  # an overflow is refused below
        coefs = _coefficients(half, log_lam, log_a, log_s2, c, prediction)
    if not all(np.all(np.abs(v) <= np.finfo(dt).max) for v in coefs):
        raise ValueError(
            f"the weights of weighting {weighting!r:.40} overflow {dt} at some t in "
            f"[{float(tt.min())!r}, {float(tt.max())!r}]: raise t_min"
        )
    name = weighting if isinstance(weighting, str) else "callable"
    arrays = [jnp.asarray(v, dtype=dt) for v in (pts, tt, np.exp(log_a), np.exp(0.5 * log_s2))]
    coefs = [jnp.asarray(v, dtype=dt) for v in coefs]
    return Batch(*arrays, *coefs, jnp.full(len(tt), c, dtype=dt), prediction=prediction,
                 weighting=name, regularized=c > 0)  # fmt: skip


def _coefficients(
    half: np.ndarray,
    log_lam: np.ndarray,
    log_a: np.ndarray,
    log_s2: np.ndarray,
    c: float,
    prediction: str,
) -> tuple[np.ndarray, ...]:
    """(w_pred, w_x0, w_eps, r_pred, r_x) of :func:`make_batch` from its log-space terms."""
    log_s = 0.5 * log_s2
    w_pred = np.exp(half)
    zeros = np.zeros(half.shape[0])
    # target_u = c0 x0 + c1 eta: x0 (1, 0), eps (0, 1), score (0, -1/sigma)
    w_x0 = w_pred if prediction == "x0" else zeros
    w_eps = {"x0": zeros, "eps": w_pred, "score": -np.exp(half - log_s)}[prediction]
    # s = a p + b x_t: score (1, 0), eps (-1/sigma, 0), x0 (alpha/sigma^2, -1/sigma^2)
    if c == 0:
        return w_pred, w_x0, w_eps, zeros, zeros
    log_reg = 0.5 * (np.log(c) + log_s2 + log_lam - 2.0 * log_a)
    r_pred = {
        "score": np.exp(log_reg),
        "eps": -np.exp(log_reg - log_s),
        "x0": np.exp(log_reg + log_a - log_s2),
    }[prediction]
    r_x = -np.exp(log_reg - log_s2) if prediction == "x0" else zeros
    return w_pred, w_x0, w_eps, r_pred, r_x


def _check_model(model: Any) -> None:
    if not isinstance(model, MLP):
        raise TypeError(f"model must be an nn.models.MLP, got {type(model).__name__}")


def _check_pair(model: MLP, batch: Batch) -> None:
    _check_model(model)
    if not isinstance(batch, Batch):
        raise TypeError(
            f"batch must be an nn.losses.Batch (make_batch), got {type(batch).__name__}"
        )
    if model.prediction != batch.prediction:
        raise ValueError(
            f"the batch was made for a network in {batch.prediction!r} units, but the model "
            f"predicts {model.prediction!r}: make_batch(..., prediction={model.prediction!r})"
        )
    if model.data_dim != batch.x0.shape[-1]:
        raise ValueError(
            f"x0 has dimension {batch.x0.shape[-1]} but the model's data_dim is {model.data_dim}"
        )


def dsm_per_example(model: MLP, batch: Batch, noise: jax.Array) -> jax.Array:
    r"""The objective of each example on given noise ``eta`` (shape ``(B, d)``).

    ``|w_pred p - w_x0 x0 - w_eps eta|^2 + |r_pred p + r_x x_t|^2`` with
    ``x_t = alpha x0 + sigma eta`` and ``p = model(x_t, t)`` (see :func:`make_batch`).

    Parameters
    ----------
    model : MLP
    batch : Batch
    noise : array, shape (B, d)
        Real and finite in the batch's dtype (a JAX array, possibly traced, is taken as it is).

    Returns
    -------
    array, shape (B,)

    See Also
    --------
    dsm_loss : Their mean on noise drawn from a key.

    Examples
    --------
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> from diffmem_theory.nn.models import mlp
    >>> net = mlp(2, 4, 1, key=jax.random.key(0), prediction="x0")
    >>> b = make_batch(np.ones((3, 2)), 0.5, VPTrig(), "x0", weighting="x0")
    >>> dsm_per_example(net, b, np.zeros((3, 2))).shape
    (3,)
    """
    _check_pair(model, batch)
    if isinstance(noise, jax.Array):  # possibly traced (inside jit): only its dtype is checked
        if not jnp.issubdtype(noise.dtype, jnp.floating):
            raise ValueError(f"noise must be a real floating-point array, got dtype {noise.dtype}")
        eta = noise.astype(batch.x0.dtype)
    else:
        eta = jnp.asarray(
            fits_dtype(as_float_array(noise, "noise"), "noise", batch.x0.dtype),
            dtype=batch.x0.dtype,
        )
    if eta.shape != batch.x0.shape:
        raise ValueError(f"noise must have shape {batch.x0.shape}, got {eta.shape}")
    xt = batch.alpha[:, None] * batch.x0 + batch.sigma[:, None] * eta
    p = model(xt, batch.t)
    res = batch.w_pred[:, None] * p - batch.w_x0[:, None] * batch.x0 - batch.w_eps[:, None] * eta
    out = jnp.sum(res**2, axis=-1)
    if batch.regularized:
        reg = batch.r_pred[:, None] * p + batch.r_x[:, None] * xt
        out = out + jnp.sum(reg**2, axis=-1)
    return out


def dsm_loss(model: MLP, batch: Batch, key: Any) -> jax.Array:
    r"""The denoising score-matching objective of ``batch``, on noise drawn from ``key``.

    ``(1/B) sum_b [lambda(t_b)|xhat_0 - x0_b|^2 + c sigma^2 lambda/alpha^2 |s|^2]`` (see the
    module docstring for the papers' objectives). Differentiable in ``model``.

    Parameters
    ----------
    model : MLP
    batch : Batch
        From :func:`make_batch` (its ``prediction`` must be the model's).
    key : jax.random key
        Draws ``eta ~ N(0, I)``.

    Returns
    -------
    scalar array

    See Also
    --------
    j_0_n, i_0_n : Paper 002's objectives.
    dsm_per_example : On given noise.

    References
    ----------
    Buchanan et al. (paper 000), eq. (6); paper 002, eqs. (3.13), (5.5); paper 003, eq. (3.1).

    Examples
    --------
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> from diffmem_theory.nn.models import mlp
    >>> net = mlp(2, 4, 1, key=jax.random.key(0), prediction="eps")
    >>> b = make_batch(np.ones((3, 2)), 0.5, VPTrig(), "eps")
    >>> bool(dsm_loss(net, b, jax.random.key(1)) > 0)
    True
    """
    _check_pair(model, batch)
    noise = jax.random.normal(key, batch.x0.shape, dtype=batch.x0.dtype)
    return jnp.mean(dsm_per_example(model, batch, noise))


def _paper_002(model: MLP, batch: Batch, key: Any, unit: str, name: str) -> jax.Array:
    _check_pair(model, batch)
    if batch.weighting != "eps" or model.prediction != unit:
        raise ValueError(
            f"{name} needs a network in {unit!r} units and a batch with weighting 'eps' "
            f"(lambda = sigma^2 in score units), got prediction {model.prediction!r} and "
            f"weighting {batch.weighting!r}"
        )
    return dsm_loss(model, batch, key)


def j_0_n(model: MLP, batch: Batch, key: Any) -> jax.Array:
    r"""Paper 002's J_0^N (``+ c|s|^2``: J_reg,0^N): ``E |sigma s + eta|^2 (+ c |s|^2)``.

    Baptista et al. (paper 002), eq. (3.13) with ``lambda(t) = sigma^2(t)`` (Sec. 5.3) and
    eq. (5.5) with ``Gamma = c/sigma^2``, for a network ``s`` in score units: the batch must
    have ``weighting="eps"`` (``lambda = sigma^2`` in score units is ``alpha^2/sigma^2`` in
    the x0 convention) and ``prediction="score"``.

    Parameters
    ----------
    model : MLP
        ``prediction == "score"``.
    batch : Batch
    key : jax.random key

    Returns
    -------
    scalar array
        The Monte Carlo mean over the batch; the paper's integral over ``t ~ U[0, T]`` is
        ``T`` times it.

    See Also
    --------
    i_0_n : The same objective for a network that outputs ``sigma s``.

    References
    ----------
    Baptista et al. (paper 002), eqs. (3.13), (5.5), Sec. 5.3.

    Examples
    --------
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> from diffmem_theory.nn.models import mlp
    >>> net = mlp(2, 4, 1, key=jax.random.key(0))
    >>> b = make_batch(np.ones((3, 2)), 0.5, VPTrig(), "score")
    >>> bool(j_0_n(net, b, jax.random.key(1)) > 0)
    True
    """
    return _paper_002(model, batch, key, "score", "J_0^N")


def i_0_n(model: MLP, batch: Batch, key: Any) -> jax.Array:
    r"""Paper 002's denoising objective I_0^N: ``E |s~ + eta|^2`` for a network ``s~ = sigma s``.

    Baptista et al. (paper 002), Sec. 3.4 and Sec. 5.3: the network parameterizes
    ``s~(x, t) = sigma(t) s(x, t)`` (the singular ``1/sigma`` of the score is built in) and the
    score is ``s~/sigma``. Here the network is an ``"eps"`` network ``eps = -s~`` (the sign is
    immaterial); the value equals J_0^N of the score ``-eps/sigma``.

    Parameters
    ----------
    model : MLP
        ``prediction == "eps"``.
    batch : Batch
        ``weighting="eps"``, ``prediction="eps"``.
    key : jax.random key

    Returns
    -------
    scalar array

    See Also
    --------
    j_0_n

    References
    ----------
    Baptista et al. (paper 002), Secs. 3.4, 5.3 and Fig. 15.

    Examples
    --------
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> from diffmem_theory.nn.models import mlp
    >>> net = mlp(2, 4, 1, key=jax.random.key(0), prediction="eps")
    >>> b = make_batch(np.ones((3, 2)), 0.5, VPTrig(), "eps")
    >>> bool(i_0_n(net, b, jax.random.key(1)) > 0)
    True
    """
    return _paper_002(model, batch, key, "eps", "I_0^N")


def weight_decay(model: MLP, rate: float) -> jax.Array:
    r"""The L2 penalty ``rate * sum_l |A_l|_F^2`` on the weight matrices (not biases, frequencies).

    Paper 003 (Sec. 6, Fig. 2b) varies the weight-decay rate; added to an objective it is
    classical weight decay for plain gradient descent (for Adam it is L2-regularized Adam,
    not AdamW).

    Parameters
    ----------
    model : MLP
    rate : float
        ``>= 0``.

    Returns
    -------
    scalar array

    References
    ----------
    Paper 003, Sec. 6 (Fig. 2b).

    Examples
    --------
    >>> from diffmem_theory.nn.models import mlp
    >>> net = mlp(1, 2, 1, key=jax.random.key(0))
    >>> want = sum(float((layer.weight ** 2).sum()) for layer in net.layers)
    >>> bool(abs(float(weight_decay(net, 0.5)) - 0.5 * want) < 1e-6)
    True
    """
    _check_model(model)
    rate = check_scalar(rate, "rate", low=0.0)
    return rate * sum(jnp.sum(layer.weight**2) for layer in model.layers)
