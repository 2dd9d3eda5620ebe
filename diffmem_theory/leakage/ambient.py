r"""Ambient diffusion (Shah, Kalavasis, Klivans, Daras, paper 004): noise scales, eq. (6), Alg. 1.

"Does Generation Require Memorization? Creative Diffusion Models using Ambient Diffusion"
(ICML 2025), §1-§5 and Apps. A-E. The forward process is VP, eq. (1),

    X_t = sqrt(1 - sigma_t^2) X_0 + sigma_t Z,   alpha_t := sqrt(1 - sigma_t^2),

and everything below is written in the paper's noise level ``sigma`` (VP, in [0, 1)); times
enter only through a VP :class:`~diffmem_theory.core.schedules.Schedule` (``VPTrig`` is the paper's
sigma(t) = t). The experiments used EDM (VE: x = x_0 + s n); SD2 a scaled-linear DDPM schedule.

* noise scales: :func:`vp_alpha`, :func:`ve_to_vp`, :func:`vp_to_ve`, :func:`ve_state_to_vp`,
  :func:`sd2_sigma` (SD2 ``scaled_linear``);
* eq. (6) and Lemma C.1/C.2: :func:`lemma_c1_coeffs`, :func:`ambient_coeffs` (VP and VE),
  :func:`ambient_loss`, :func:`x0_proxy`, :func:`v_target_ambient`;
* Alg. 1: :func:`noisy_copies` (line 1), :func:`extra_noise_scales`, :func:`ambient_add_noise`
  (line 10), :func:`algorithm1_batch`, and the training objectives :func:`ddpm_objective`,
  :func:`algorithm1_objective` of a :class:`~diffmem_theory.core.training.GMMDenoiser` for
  :func:`diffmem_theory.core.training.fit`;
* exact optima for a finite set: :func:`clean_optimal_score` (Sec. 2.2, covariance sigma_t^2 I),
  :func:`noisy_optimal_score` (App. D.1.1, denominator fixed), :func:`algorithm1_optimal_score`;
* eq. (5): :func:`pf_ode_velocity` (corrected) and :func:`eq5_as_printed_velocity` (ERRATUM,
  documentation only), integrated by :func:`pf_ode_sample`; :func:`lemma41_collapse` (Lemma 4.1);

The exact optimum of Alg. 1 still reproduces training points (a sampler driven by it ends on
the data, :func:`algorithm1_optimal_score`): the memorization reduction of the paper is
empirical and needs an imperfectly fitted score.

Example
-------
>>> import numpy as np
>>> c1, c2 = ambient_coeffs(0.8, 0.6)
>>> round(float(c1), 6), round(float(c2), 6)        # (0.64-0.36)/(0.64*0.8), 0.5625*0.6/0.8
(0.546875, 0.421875)
>>> round(float(ve_to_vp(4.0)), 7)                  # Fig. 2's sigma = 4 (EDM) in VP units
0.9701425
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from diffmem_theory._validation import (
    as_float_array,
    as_rng,
    check_allocation,
    check_callable,
    check_choice,
    check_int,
    check_last_dim,
    check_scalar,
    finite_result,
)
from diffmem_theory.core.distributions import EmpiricalDistribution
from diffmem_theory.core.dynamics import solve
from diffmem_theory.core.schedules import Schedule, VPTrig, as_schedule
from diffmem_theory.core.training import GMMDenoiser, Objective, gmm_loss_and_grad
from diffmem_theory.kernels import softmax_weighted_sum

__all__ = [
    "SD2_BETA_END",
    "SD2_BETA_START",
    "SD2_STEPS",
    "algorithm1_batch",
    "algorithm1_objective",
    "algorithm1_optimal_score",
    "ambient_add_noise",
    "ambient_coeffs",
    "ambient_loss",
    "clean_optimal_score",
    "ddpm_objective",
    "eq5_as_printed_velocity",
    "extra_noise_scales",
    "lemma41_collapse",
    "lemma_c1_coeffs",
    "noisy_copies",
    "noisy_optimal_score",
    "pf_ode_sample",
    "pf_ode_velocity",
    "sd2_sigma",
    "v_target_ambient",
    "ve_state_to_vp",
    "ve_to_vp",
    "vp_alpha",
    "vp_to_ve",
    "x0_proxy",
]

SD2_BETA_START, SD2_BETA_END, SD2_STEPS = 0.00085, 0.012, 1000
Score = Callable[[float, np.ndarray], np.ndarray]
# Working arrays of one Algorithm 1 batch (x0, copies, two noise draws, states, targets), each of
# 2 n n_dup d values at most; the sizes are capped by _validation.check_allocation.
_BATCH_ARRAYS = 8
# Steps of lemma41_collapse (each evaluates the exact score 4 times).
_MAX_STEPS = 10**5


# ----------------------------------------------------------------------------------------------
# noise scales (eq. (1), Sec. 5)
# ----------------------------------------------------------------------------------------------


def _vp_sigma(sigma: ArrayLike, name: str, *, allow_zero: bool = True) -> np.ndarray:
    """A VP noise level in [0, 1) (or (0, 1)), as a float64 array."""
    arr = as_float_array(sigma, name, dtype=np.float64)
    bad = (arr < 0) | (arr >= 1) if allow_zero else (arr <= 0) | (arr >= 1)
    if np.any(bad):
        rule = "[0, 1)" if allow_zero else "(0, 1)"
        raise ValueError(f"{name} must lie in {rule} (a VP noise level), got {arr[bad].flat[0]!r}")
    return arr


def vp_alpha(sigma: ArrayLike) -> np.ndarray:
    r"""Signal scale ``alpha = sqrt(1 - sigma^2) = sqrt((1 - sigma)(1 + sigma))`` of eq. (1).

    Shah et al., eq. (1) (App. C names it alpha_t); the factored form keeps accuracy as
    sigma -> 1.

    >>> float(vp_alpha(0.6))
    0.8
    """
    s = _vp_sigma(sigma, "sigma")
    return np.sqrt((1.0 - s) * (1.0 + s))


def ve_to_vp(s: ArrayLike) -> np.ndarray:
    r"""VP noise level of a VE (EDM) noise scale: ``sigma_VP = s / sqrt(1 + s^2)``.

    Shah et al., eq. (1) and App. E (EDM code): EDM's x = x_0 + s n is ``sqrt(1 + s^2)`` times a
    VP state with this sigma (:func:`ve_state_to_vp`). Fig. 2's sigma_tn in [0.4, 4] can only be
    the VE scale s (a VP sigma is below 1).

    >>> ve_to_vp([0.1, 0.5, 4.0]).round(7).tolist()
    [0.0995037, 0.4472136, 0.9701425]
    """
    arr = as_float_array(s, "s", dtype=np.float64)
    if np.any(arr < 0):
        raise ValueError(f"s must be >= 0 (a VE noise scale), got min {arr.min()!r}")
    return arr / np.hypot(1.0, arr)


def vp_to_ve(sigma: ArrayLike) -> np.ndarray:
    r"""VE noise scale of a VP noise level: ``s = sigma / sqrt(1 - sigma^2)``, inverse of
    :func:`ve_to_vp`.

    >>> round(float(vp_to_ve(0.6)), 12)
    0.75
    """
    return _vp_sigma(sigma, "sigma") / vp_alpha(sigma)


def ve_state_to_vp(x: ArrayLike, s: ArrayLike) -> np.ndarray:
    r"""VP state of a VE state: ``x_VP = x_VE / sqrt(1 + s^2)`` (eq. (1) vs EDM's x_0 + s n).

    ``s`` broadcasts against the leading axes of ``x`` (a scalar or one per row).

    >>> ve_state_to_vp(np.array([[3.0, 4.0]]), 0.75).round(12).tolist()
    [[2.4, 3.2]]
    """
    arr = as_float_array(x, "x", dtype=np.float64)
    scale = 1.0 / np.hypot(1.0, as_float_array(s, "s", dtype=np.float64))
    return arr * (scale[..., None] if scale.ndim else scale)


def sd2_sigma(timestep: ArrayLike) -> np.ndarray:
    r"""VP noise level of Stable Diffusion 2's DDPM timestep (``scaled_linear`` schedule).

    ``beta_i = (sqrt(0.00085) + i (sqrt(0.012) - sqrt(0.00085))/999)^2``, i = 0..999,
    ``abar_t = prod_{i<=t} (1 - beta_i)`` (0-indexed) and ``sigma_VP = sqrt(1 - abar_t)``,
    computed as ``sqrt(-expm1(sum log1p(-beta)))``. Shah et al., Sec. 5.2: t_n in {25, 50, 100},
    read as timesteps (our reading: the paper calls them "noise scales" without units).

    >>> sd2_sigma([25, 50, 100]).round(6).tolist()
    [0.15295, 0.220052, 0.325233]
    """
    t = np.asarray(timestep)
    if t.dtype.kind not in "iu" or np.any(t < 0) or np.any(t >= SD2_STEPS):
        raise ValueError(f"timestep must be integers in [0, {SD2_STEPS - 1}], got {timestep!r}")
    root = np.linspace(np.sqrt(SD2_BETA_START), np.sqrt(SD2_BETA_END), SD2_STEPS)
    log_abar = np.cumsum(np.log1p(-(root**2)))
    return np.sqrt(-np.expm1(log_abar[t]))


# ----------------------------------------------------------------------------------------------
# eq. (6), Lemma C.1, Lemma C.2, Alg. 1 line 10
# ----------------------------------------------------------------------------------------------


def _level_pair(sigma_t: ArrayLike, sigma_tn: ArrayLike, param: str) -> tuple[np.ndarray, ...]:
    """Validated (sigma_t, sigma_tn) with sigma_t > sigma_tn >= 0 (VP: sigma_t < 1)."""
    check_choice(param, "param", ("vp", "ve"))
    if param == "vp":
        st, sn = _vp_sigma(sigma_t, "sigma_t"), _vp_sigma(sigma_tn, "sigma_tn")
    else:
        st = as_float_array(sigma_t, "sigma_t", dtype=np.float64)
        sn = as_float_array(sigma_tn, "sigma_tn", dtype=np.float64)
        if np.any(sn < 0):
            raise ValueError(f"sigma_tn must be >= 0, got min {sn.min()!r}")
    if np.any(st <= sn):
        raise ValueError(
            "sigma_t must exceed sigma_tn (eq. (6) holds only for t > t_n), got "
            f"sigma_t={sigma_t!r}, sigma_tn={sigma_tn!r}"
        )
    return st, sn


def lemma_c1_coeffs(
    alpha_t: ArrayLike, sigma_t: ArrayLike, alpha_tn: ArrayLike, sigma_tn: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    r"""Coefficients of ``E[X_tn | X_t] = c1 E[X_0 | X_t] + c2 X_t`` for a general schedule.

    Shah et al., Lemma C.1: with ``sigma_{t|tn}^2 = sigma_t^2 - alpha_t^2 sigma_tn^2/alpha_tn^2``,

        c1 = alpha_tn sigma_{t|tn}^2 / sigma_t^2,   c2 = alpha_t sigma_tn^2 / (sigma_t^2 alpha_tn).

    VP (``alpha = sqrt(1 - sigma^2)``) gives eq. (6)'s coefficients, VE (``alpha = 1``) the VE
    form; see :func:`ambient_coeffs`. With q = (alpha_t/alpha_tn)(sigma_tn/sigma_t) they are
    evaluated as c1 = alpha_tn (1 - q)(1 + q), c2 = q sigma_tn/sigma_t (no square overflows).
    Requires alpha_t, alpha_tn, sigma_t > 0, sigma_tn >= 0 and sigma_{t|tn}^2 >= 0 (t >= t_n);
    coefficients beyond float64 raise ``ValueError``.

    >>> c1, c2 = lemma_c1_coeffs(1.0, 2.0, 1.0, 1.0)    # VE: (s_t^2 - s_n^2)/s_t^2, s_n^2/s_t^2
    >>> float(c1), float(c2)
    (0.75, 0.25)
    """
    at, st = (
        as_float_array(v, n, dtype=np.float64)
        for v, n in ((alpha_t, "alpha_t"), (sigma_t, "sigma_t"))
    )
    an = as_float_array(alpha_tn, "alpha_tn", dtype=np.float64)
    sn = as_float_array(sigma_tn, "sigma_tn", dtype=np.float64)
    for arr, name in ((at, "alpha_t"), (an, "alpha_tn"), (st, "sigma_t")):
        if np.any(arr <= 0):
            raise ValueError(f"{name} must be > 0, got min {float(arr.min())!r}")
    if np.any(sn < 0):
        raise ValueError(f"sigma_tn must be >= 0, got min {float(sn.min())!r}")
    with np.errstate(over="ignore", invalid="ignore"):
        ratio = sn / st
        q = (at / an) * ratio
        c1, c2 = an * (1.0 - q) * (1.0 + q), q * ratio
    if np.any(q > 1.0):
        raise ValueError(
            "sigma_t^2 must be >= (alpha_t sigma_tn / alpha_tn)^2 (a conditional variance "
            "sigma_{t|tn}^2 >= 0, i.e. t >= t_n)"
        )
    return finite_result(c1, "c1"), finite_result(c2, "c2")


def ambient_coeffs(
    sigma_t: ArrayLike, sigma_tn: ArrayLike, param: str = "vp"
) -> tuple[np.ndarray, np.ndarray]:
    r"""The two coefficients ``(c1, c2)`` of the ambient loss, eq. (6), for sigma_t > sigma_tn.

    Shah et al., eq. (6) (VP, ``param="vp"``):

        c1 = (sigma_t^2 - sigma_tn^2) / (sigma_t^2 sqrt(1 - sigma_tn^2)),
        c2 = (sigma_tn^2 / sigma_t^2) sqrt((1 - sigma_t^2)/(1 - sigma_tn^2));

    VE (EDM, ``param="ve"``, noise scales s): ``c1 = (s_t^2 - s_n^2)/s_t^2``, ``c2 = s_n^2/s_t^2``
    (eq. (6) with alpha = 1). Both are Lemma C.1 (:func:`lemma_c1_coeffs`) for their schedule.
    Both are formed from sigma_tn/sigma_t, so sigma_t near 0 loses nothing.

    >>> [round(float(c), 6) for c in ambient_coeffs(0.5, 0.0)]     # t_n = 0: DDPM
    [1.0, 0.0]
    >>> [float(c) for c in ambient_coeffs(2.0, 1.0, param="ve")]
    [0.75, 0.25]
    """
    st, sn = _level_pair(sigma_t, sigma_tn, param)
    ratio = (sn / st) ** 2
    gap = ((st - sn) / st) * ((st + sn) / st)  # 1 - ratio, without cancellation or underflow
    if param == "ve":
        return gap, ratio
    an = vp_alpha(sn)
    return gap / an, ratio * vp_alpha(st) / an


def extra_noise_scales(sigma_t: ArrayLike, sigma_tn: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    r"""``(beta, gamma^2)`` of the extra-noise step x_t = beta x_tn + gamma eps (Alg. 1, line 10).

    Shah et al., Alg. 1 line 10: ``beta = sqrt((1 - sigma_t^2)/(1 - sigma_tn^2))``
    (= alpha_t/alpha_tn) and ``gamma^2 = (sigma_t^2 - sigma_tn^2)/(1 - sigma_tn^2)``, which
    equals App. C's
    ``sigma_{t|tn}^2 = sigma_t^2 - (alpha_t/alpha_tn)^2 sigma_tn^2``.

    >>> [round(float(v), 6) for v in extra_noise_scales(0.8, 0.6)]
    [0.75, 0.4375]
    """
    st, sn = _level_pair(sigma_t, sigma_tn, "vp")
    an2 = (1.0 - sn) * (1.0 + sn)
    return vp_alpha(st) / np.sqrt(an2), (st - sn) * (st + sn) / an2


def ambient_add_noise(
    x_tn: ArrayLike, sigma_t: float, sigma_tn: float, eps: ArrayLike
) -> np.ndarray:
    r"""Carry a noisy sample from level sigma_tn to sigma_t > sigma_tn (Alg. 1, line 10).

    ``x_t = sqrt((1 - sigma_t^2)/(1 - sigma_tn^2)) x_tn + sqrt((sigma_t^2 - sigma_tn^2)/(1 -
    sigma_tn^2)) eps``, so that x_t has the law of eq. (1) at sigma_t when x_tn has it at
    sigma_tn. ``sigma_t`` may be one value per row of ``x_tn``.

    >>> ambient_add_noise(np.array([[1.0]]), 0.8, 0.6, np.array([[0.0]])).round(12).tolist()
    [[0.75]]
    """
    x = as_float_array(x_tn, "x_tn", dtype=np.float64)
    e = as_float_array(eps, "eps", dtype=np.float64)
    if e.shape != x.shape:
        raise ValueError(f"eps must have the shape of x_tn {x.shape}, got {e.shape}")
    beta, gamma2 = (np.asarray(v)[..., None] for v in extra_noise_scales(sigma_t, sigma_tn))
    return beta * x + np.sqrt(gamma2) * e


def ambient_loss(
    h: ArrayLike,
    x_t: ArrayLike,
    x_tn: ArrayLike,
    sigma_t: ArrayLike,
    sigma_tn: ArrayLike,
    param: str = "vp",
) -> np.ndarray:
    r"""Per-sample ambient loss ``|c1 h + c2 x_t - x_tn|^2`` of eq. (6) (shape ``x.shape[:-1]``).

    Shah et al., eq. (6) (Ambient Score Matching, Daras et al. 2024b): ``h`` is the
    x0-prediction h_theta(x_t, t) and (c1, c2) come from :func:`ambient_coeffs`; valid for
    t > t_n. Averaging over (x_tn, t, x_t) gives J_amb, minimized by h = E[X_0 | X_t]
    (Lemma C.1). With ``param="ve"`` all inputs are VE (x_VE, noise scales s); the VP residual
    divided by alpha_tn equals the VE residual. A loss beyond float64 raises
    ``ValueError``.

    >>> ambient_loss([[1.0]], [[1.0]], [[0.0]], 0.5, 0.0).tolist()    # t_n = 0: |h - x0|^2
    [1.0]
    """
    c1, c2 = (np.asarray(c)[..., None] for c in ambient_coeffs(sigma_t, sigma_tn, param))
    hh, xt, xn = (
        as_float_array(v, n, dtype=np.float64) for v, n in ((h, "h"), (x_t, "x_t"), (x_tn, "x_tn"))
    )
    if not hh.shape == xt.shape == xn.shape:
        raise ValueError(
            f"h, x_t and x_tn must share one shape, got {hh.shape}, {xt.shape}, {xn.shape}"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        loss = np.sum((c1 * hh + c2 * xt - xn) ** 2, axis=-1)
    return finite_result(loss, "the ambient loss |c1 h + c2 x_t - x_tn|^2")


def x0_proxy(
    x_t: ArrayLike, x_tn: ArrayLike, sigma_t: ArrayLike, sigma_tn: ArrayLike
) -> np.ndarray:
    r"""The unbiased ambient proxy ``X~0 = (x_tn - c2 x_t)/c1`` with E[X~0 | X_t] = E[X0 | X_t].

    Shah et al., Lemma C.1-C.2: eq. (6) equals ``c1^2 |h - X~0|^2``, an x0-loss
    with target X~0 and weight c1^2. ``sigma_t`` may be one value per row. A proxy beyond
    float64 (c1 -> 0 as sigma_t -> sigma_tn) raises ``ValueError``.

    >>> x0_proxy(np.array([[1.0]]), np.array([[1.0]]), 0.8, 0.6).round(6).tolist()
    [[1.057143]]
    """
    xt = as_float_array(x_t, "x_t", dtype=np.float64)
    xn = as_float_array(x_tn, "x_tn", dtype=np.float64)
    c1, c2 = (np.asarray(c)[..., None] for c in ambient_coeffs(sigma_t, sigma_tn))
    with np.errstate(over="ignore", invalid="ignore"):
        proxy = (xn - c2 * xt) / c1
    return finite_result(proxy, "the proxy (x_tn - c2 x_t)/c1")


def v_target_ambient(
    x_t: ArrayLike, x_tn: ArrayLike, sigma_t: ArrayLike, sigma_tn: ArrayLike
) -> np.ndarray:
    r"""Observable ambient v-prediction target ``(alpha_t x_t - X~0)/sigma_t`` (VP).

    Shah et al., Lemma C.2, corrected: the printed target uses Z, which noisy data
    do not reveal; this one has the same conditional mean E[v | X_t], v = alpha_t Z - sigma_t X0.

    >>> v_target_ambient(np.array([[1.0]]), np.array([[1.0]]), 0.8, 0.6).round(6).tolist()
    [[-0.571429]]
    """
    st = np.asarray(_vp_sigma(sigma_t, "sigma_t"))[..., None]
    xt = as_float_array(x_t, "x_t", dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        target = (vp_alpha(st) * xt - x0_proxy(x_t, x_tn, sigma_t, sigma_tn)) / st
    return finite_result(target, "the v-target")


# ----------------------------------------------------------------------------------------------
# Algorithm 1: data and objectives
# ----------------------------------------------------------------------------------------------


def noisy_copies(X: ArrayLike, sigma_tn: float, rng: np.random.Generator | int) -> np.ndarray:
    r"""The fixed noisy copies ``S_tn = {sqrt(1 - sigma_tn^2) x0 + sigma_tn eps}`` (Alg. 1, line 1).

    Shah et al., App. A, Alg. 1 line 1: one copy per training point, drawn once.

    >>> noisy_copies(np.zeros((2, 3)), 0.0, 0).tolist()
    [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """
    data = as_float_array(X, "X", ndim=2, dtype=np.float64)
    sn = float(_vp_sigma(check_scalar(sigma_tn, "sigma_tn"), "sigma_tn"))
    return float(vp_alpha(sn)) * data + sn * as_rng(rng).standard_normal(data.shape)


def _check_dup(n_dup: int, data: np.ndarray) -> int:
    """``n_dup >= 1``, with the working arrays of a batch within the memory cap."""
    k = check_int(n_dup, "n_dup", low=1)
    check_allocation(
        _BATCH_ARRAYS * 2 * k * data.size, f"a batch of n_dup = {k} copies of X {data.shape}"
    )
    return k


def _check_tn(t_n: float, schedule: Schedule, T: float) -> tuple[float, float]:
    """Validate 0 < t_n < T within the schedule's domain; return (t_n, sigma_tn)."""
    tn = check_scalar(t_n, "t_n", low=0.0, high=T, low_open=True, high_open=True)
    return tn, float(schedule.sigma(tn))


def algorithm1_batch(
    X: ArrayLike,
    X_tn: ArrayLike,
    t_n: float,
    schedule: Schedule,
    rng: np.random.Generator | int,
    *,
    n_dup: int = 1,
    t_min: float = 1e-3,
    T: float = 0.999,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""One full batch ``(x_t, target, t)`` of Algorithm 1 over ``S`` and ``S_tn`` (App. A).

    Shah et al., Alg. 1: every clean point ``x0`` and every noisy copy ``x_tn`` enters ``n_dup``
    times (the union S u S_tn, half clean, half noisy). Clean rows: ``t ~ U(t_min, t_n)``,
    ``x_t = alpha_t x0 + sigma_t eps``, target ``x0`` (eq. (3)). Noisy rows: ``t ~ U(t_n, T]``,
    ``x_t`` by line 10 (:func:`ambient_add_noise`), target the proxy :func:`x0_proxy`, so that
    ``c1^2 |h - target|^2`` is eq. (6). The rows are ordered clean first. ``schedule`` is a
    VP :class:`~diffmem_theory.core.schedules.Schedule` or its name; ``n_dup`` is bounded by the
    memory cap of ``_validation.check_allocation`` (``ValueError``).

    >>> from diffmem_theory.core.schedules import VPTrig
    >>> X = np.zeros((3, 2))
    >>> xt, target, t = algorithm1_batch(X, X, 0.5, VPTrig(), 0, n_dup=2)
    >>> xt.shape, bool(np.all(t[:6] <= 0.5) and np.all(t[6:] > 0.5))
    ((12, 2), True)
    """
    schedule = as_schedule(schedule, required=True)
    data = as_float_array(X, "X", ndim=2, dtype=np.float64)
    copies = as_float_array(X_tn, "X_tn", ndim=2, dtype=np.float64)
    if copies.shape != data.shape:
        raise ValueError(f"X_tn must have the shape of X {data.shape}, got {copies.shape}")
    lo = check_scalar(t_min, "t_min", low=0.0, low_open=True)
    tn, sn = _check_tn(t_n, schedule, check_scalar(T, "T", low=lo, low_open=True))
    if tn <= lo:
        raise ValueError(f"t_n must exceed t_min={lo}, got {tn}")
    gen, k = as_rng(rng), _check_dup(n_dup, data)
    x0, xn = np.repeat(data, k, axis=0), np.repeat(copies, k, axis=0)
    b = x0.shape[0]
    t_clean = gen.uniform(lo, tn, b)
    t_noisy = T - (T - tn) * gen.uniform(0.0, 1.0, b)  # in (t_n, T]: c1 > 0
    eps = gen.standard_normal((2, *x0.shape))
    st = schedule.sigma(t_noisy)
    clean = schedule.alpha(t_clean)[:, None] * x0 + schedule.sigma(t_clean)[:, None] * eps[0]
    noisy = ambient_add_noise(xn, st, sn, eps[1])
    target = np.concatenate([x0, x0_proxy(noisy, xn, st, sn)])
    return np.concatenate([clean, noisy]), target, np.concatenate([t_clean, t_noisy])


def _gmm_objective(
    batch: Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray, np.ndarray]],
    weight: Callable[[np.ndarray], np.ndarray],
    schedule: Schedule,
    d: int,
    seed: int,
) -> Objective:
    """``objective(theta, epoch)`` of a GMMDenoiser (packed theta) on a batch drawn per epoch."""

    def objective(theta: np.ndarray, epoch: int) -> tuple[float, np.ndarray]:
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(epoch,)))
        x_t, target, t = batch(rng)
        model = GMMDenoiser.unpack(theta, d)
        loss, g_mu, g_var = gmm_loss_and_grad(model, x_t, target, t, schedule, weight)
        return loss, np.concatenate([g_mu.ravel(), [2.0 * float(theta[-1]) * g_var]])

    return objective


def ddpm_objective(
    X: ArrayLike,
    schedule: Schedule,
    *,
    n_dup: int = 1,
    seed: int = 0,
    t_min: float = 1e-3,
    T: float = 0.999,
) -> Objective:
    r"""The DDPM x0-objective eq. (3) of a GMM denoiser, as ``objective(theta, epoch)`` for ``fit``.

    Shah et al., eq. (3): ``(1/B) sum |h_theta(x_t, t) - x0|^2`` with ``t ~ U(t_min, T)`` and
    ``x_t = alpha_t x0 + sigma_t eps``, every training point ``2 n_dup`` times per epoch (the batch
    size of :func:`algorithm1_objective`). ``theta`` is :meth:`GMMDenoiser.pack`; the noise of
    epoch k comes from ``SeedSequence(seed, spawn_key=(k,))``.

    >>> from diffmem_theory.core.schedules import VPTrig
    >>> from diffmem_theory.core.training import fit
    >>> X = np.random.default_rng(0).standard_normal((6, 2))
    >>> obj, theta0 = ddpm_objective(X, VPTrig()), GMMDenoiser(X[:2], 0.5).pack()
    >>> res = fit(obj, theta0, 100, progress=False)
    >>> bool(obj(res.params, 0)[0] < obj(theta0, 0)[0])     # same epoch's batch
    True
    """
    schedule = as_schedule(schedule, required=True)
    data = as_float_array(X, "X", ndim=2, dtype=np.float64)
    k = _check_dup(n_dup, data)
    lo = check_scalar(t_min, "t_min", low=0.0, low_open=True)
    hi = check_scalar(T, "T", low=lo, low_open=True)
    schedule.check_time(np.array([lo, hi]), "[t_min, T]")

    def batch(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x0 = np.repeat(data, 2 * k, axis=0)
        t = rng.uniform(lo, hi, x0.shape[0])
        noise = rng.standard_normal(x0.shape)
        return schedule.alpha(t)[:, None] * x0 + schedule.sigma(t)[:, None] * noise, x0, t

    return _gmm_objective(
        batch, np.ones_like, schedule, data.shape[1], check_int(seed, "seed", low=0)
    )


def algorithm1_objective(
    X: ArrayLike,
    X_tn: ArrayLike,
    t_n: float,
    schedule: Schedule,
    *,
    n_dup: int = 1,
    seed: int = 0,
    t_min: float = 1e-3,
    T: float = 0.999,
) -> Objective:
    r"""Algorithm 1 of Shah et al. for a GMM denoiser, as ``objective(theta, epoch)`` for ``fit``.

    App. A, Alg. 1 (full batch S u S_tn of :func:`algorithm1_batch`, divided by its size B):

        loss = (1/B) [ sum_clean |h(x_t, t) - x0|^2 + sum_noisy |c1 h(x_t, t) + c2 x_t - x_tn|^2 ],

    evaluated as an x0-loss with target :func:`x0_proxy` and the weight
    ``lambda(t) = c1(sigma_t, sigma_tn)^2`` for t > t_n (1 below), a function of t alone because
    the clean rows have t <= t_n. Gradients are the analytic ones of
    :func:`~diffmem_theory.core.training.gmm_loss_and_grad`; train with
    :func:`diffmem_theory.core.training.fit`. ``X_tn`` are the fixed copies of :func:`noisy_copies`.

    >>> from diffmem_theory.core.schedules import VPTrig
    >>> from diffmem_theory.core.training import fit
    >>> X = np.random.default_rng(0).standard_normal((6, 2))
    >>> obj = algorithm1_objective(X, noisy_copies(X, 0.4, 1), 0.4, VPTrig())
    >>> theta0 = GMMDenoiser(X[:2], 0.5).pack()
    >>> res = fit(obj, theta0, 100, progress=False)
    >>> bool(obj(res.params, 0)[0] < obj(theta0, 0)[0])     # same epoch's batch
    True
    """
    schedule = as_schedule(schedule, required=True)
    data = as_float_array(X, "X", ndim=2, dtype=np.float64)
    tn, sn = _check_tn(t_n, schedule, T)
    seed_ = check_int(seed, "seed", low=0)
    algorithm1_batch(data, X_tn, tn, schedule, 0, n_dup=n_dup, t_min=t_min, T=T)  # validate

    def batch(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return algorithm1_batch(data, X_tn, tn, schedule, rng, n_dup=n_dup, t_min=t_min, T=T)

    def weight(t: np.ndarray) -> np.ndarray:
        st = schedule.sigma(t)
        noisy = st > sn
        out = np.ones_like(st)
        out[noisy] = ambient_coeffs(st[noisy], sn)[0] ** 2
        return out

    return _gmm_objective(batch, weight, schedule, data.shape[1], seed_)


# ----------------------------------------------------------------------------------------------
# exact optima for a finite training set (Sec. 2.2, App. D.1.1, App. A)
# ----------------------------------------------------------------------------------------------


def _mixture_score(x: ArrayLike, centers: ArrayLike, scale: float, var: float) -> np.ndarray:
    """``(scale * sum_i w_i c_i - x)/var`` with w = softmax(-|x - scale c_i|^2/(2 var))."""
    xq = as_float_array(x, "x", ndim=(1, 2), dtype=np.float64)
    pts = as_float_array(centers, "S", ndim=2, dtype=np.float64)
    check_last_dim(xq, pts.shape[1], "x", "S")
    rows = xq.reshape(-1, pts.shape[1])
    mean = softmax_weighted_sum(rows, pts, scale=scale, var=var)
    return ((scale * mean - rows) / var).reshape(xq.shape)


def clean_optimal_score(x: ArrayLike, sigma_t: float, S: ArrayLike) -> np.ndarray:
    r"""Exact DDPM-optimal score of the empirical distribution of ``S`` at level sigma_t.

    Shah et al., Sec. 2.2 (with the covariance sigma_t^2 I of the forward process eq. (1); the
    paper prints sigma_t I):

        s*(x) = (1/sigma_t^2) sum_{x0 in S} (alpha_t x0 - x) w(x0),
        w(x0) = softmax over S of log N(x; alpha_t x0, sigma_t^2 I),

    i.e. the score of the empirical law of ``S`` noised to level sigma_t:
    ``EmpiricalDistribution(S).score_t(x, sigma_t, VPTrig())`` (on
    :class:`~diffmem_theory.core.schedules.VPTrig` the time is the VP noise level, sigma_t = t,
    alpha_t = sqrt(1 - t^2)). ``x`` is ``(d,)`` or ``(B, d)``.

    >>> clean_optimal_score(np.array([0.8]), 0.6, np.array([[1.0]])).round(12).tolist()
    [0.0]
    """
    st = float(_vp_sigma(check_scalar(sigma_t, "sigma_t"), "sigma_t", allow_zero=False))
    return EmpiricalDistribution(as_float_array(S, "S", ndim=2)).score_t(x, st, VPTrig())


def noisy_optimal_score(
    x: ArrayLike, sigma_t: float, S_tn: ArrayLike, sigma_tn: float
) -> np.ndarray:
    r"""Exact ambient-optimal score for the fixed noisy copies ``S_tn``, at sigma_t > sigma_tn.

    Shah et al., App. D.1.1 (denominator corrected to sum_{y in S_tn} N(x; beta y, gamma^2 I),
    the normalizer of q_t): the noisy data induce q_t = (1/n) sum_y N(beta y, gamma^2 I) and

        s_amb(x) = (beta sum_y w_y y - x) / gamma^2,   w_y = softmax_y log N(x; beta y, gamma^2 I),

    with beta, gamma^2 from :func:`extra_noise_scales`. It equals Tweedie (2) of the minimizer
    h* = (E[x_tn | x_t] - c2 x_t)/c1 of eq. (6). ``sigma_tn = 0`` gives :func:`clean_optimal_score`.

    >>> bool(abs(noisy_optimal_score(np.array([0.75]), 0.8, np.array([[1.0]]), 0.6)[0]) < 1e-12)
    True
    """
    beta, gamma2 = extra_noise_scales(
        check_scalar(sigma_t, "sigma_t"), check_scalar(sigma_tn, "sigma_tn")
    )
    return _mixture_score(x, S_tn, float(beta), float(gamma2))


def algorithm1_optimal_score(
    x: ArrayLike, sigma_t: float, S: ArrayLike, S_tn: ArrayLike, sigma_tn: float
) -> np.ndarray:
    r"""Exact optimum of Algorithm 1 for a finite set: clean below t_n, ambient above.

    Shah et al., App. A (one model for all t): :func:`clean_optimal_score` on ``S`` for
    sigma_t <= sigma_tn and :func:`noisy_optimal_score` on ``S_tn`` for sigma_t > sigma_tn. A
    sampler driven by it still ends on training points (Lemma 4.1 at t_n, then the clean
    empirical score below t_n). Both
    sets are validated whichever branch is taken.

    >>> S = np.array([[1.0]])
    >>> abs(float(algorithm1_optimal_score(np.array([0.75]), 0.8, S, S, 0.6)[0])) < 1e-12
    True
    """
    st = check_scalar(sigma_t, "sigma_t")
    clean = as_float_array(S, "S", ndim=2, dtype=np.float64)
    noisy = as_float_array(S_tn, "S_tn", ndim=2, dtype=np.float64)
    check_last_dim(noisy, clean.shape[1], "S_tn", "S")
    if st <= check_scalar(sigma_tn, "sigma_tn"):
        return clean_optimal_score(x, st, clean)
    return noisy_optimal_score(x, st, noisy, sigma_tn)


# ----------------------------------------------------------------------------------------------
# eq. (5): the reverse ODE (corrected) and its printed form
# ----------------------------------------------------------------------------------------------


def _check_vp(schedule: Schedule, t: np.ndarray) -> None:
    if not np.allclose(schedule.alpha(t) ** 2 + schedule.sigma2(t), 1.0, rtol=0, atol=1e-12):
        raise ValueError(
            "schedule must be variance preserving (alpha^2 + sigma^2 = 1, eq. (1)), "
            f"got {schedule!r}"
        )


def _velocity_inputs(
    x: ArrayLike, t: float, score: ArrayLike, schedule: Schedule | str
) -> tuple[float, np.ndarray, np.ndarray, Schedule]:
    """Validated (t in the schedule's domain, real finite x, score broadcasting to x, schedule)."""
    sched = as_schedule(schedule, required=True)
    tt = float(sched.check_time(check_scalar(t, "t")))
    xx = as_float_array(x, "x", dtype=np.float64)
    ss = as_float_array(score, "score", dtype=np.float64)
    if np.broadcast_shapes(xx.shape, ss.shape) != xx.shape:
        raise ValueError(f"score must broadcast to the shape of x {xx.shape}, got {ss.shape}")
    return tt, xx, ss, sched


def pf_ode_velocity(x: np.ndarray, t: float, score: ArrayLike, schedule: Schedule) -> np.ndarray:
    r"""Probability-flow velocity of eq. (1): ``dx/dt = -(sigma sigma'/(1 - sigma^2)) (x + score)``.

    Shah et al., eq. (5), corrected (ERRATUM, see :func:`eq5_as_printed_velocity`): with
    f = d log alpha/dt and
    g^2 = 2 sigma sigma'/(1 - sigma^2), f x - g^2 score/2 is the line above. It is the ODE of
    :func:`diffmem_theory.core.dynamics.probability_flow_sample` written in the paper's sigma.

    ``t`` is a time of ``schedule`` (a :class:`~diffmem_theory.core.schedules.Schedule` or its
    name; ``TypeError`` for anything else), ``x`` a real finite array and ``score`` one that
    broadcasts to it; a velocity beyond float64 raises ``ValueError``.

    >>> from diffmem_theory.core.schedules import VPTrig
    >>> pf_ode_velocity(np.array([1.0]), 0.6, np.array([0.0]), VPTrig()).round(12).tolist()
    [-0.9375]
    """
    tt, xx, ss, sched = _velocity_inputs(x, t, score, schedule)
    rate = 0.5 * float(sched.dsigma2(tt)) / float(sched.alpha(tt)) ** 2
    with np.errstate(over="ignore", invalid="ignore"):
        return finite_result(-rate * (xx + ss), "the velocity")


def eq5_as_printed_velocity(
    x: np.ndarray, t: float, score: ArrayLike, schedule: Schedule
) -> np.ndarray:
    r"""Eq. (5) as printed: ``dx/dt = -x - (sigma' sigma/(1 + sigma^2)) score`` (ERRATUM).

    Shah et al., eq. (5). This is not the probability flow of eq. (1): on N(0, 0.3^2) data it
    ends at std 0.95 instead of 0.3 (check ``paper004.eq5_printed``). Kept for
    documentation; sample with :func:`pf_ode_velocity`.

    Arguments as :func:`pf_ode_velocity`.

    >>> from diffmem_theory.core.schedules import VPTrig
    >>> eq5_as_printed_velocity(np.array([1.0]), 0.5, np.array([-1.0]), VPTrig()).tolist()
    [-0.6]
    """
    tt, xx, ss, sched = _velocity_inputs(x, t, score, schedule)
    rate = 0.5 * float(sched.dsigma2(tt)) / (1.0 + float(sched.sigma2(tt)))
    with np.errstate(over="ignore", invalid="ignore"):
        return finite_result(-xx - rate * ss, "the velocity")


def pf_ode_sample(
    score: Score,
    schedule: Schedule,
    x_T: ArrayLike,
    times: ArrayLike,
    *,
    velocity: Callable[..., np.ndarray] = pf_ode_velocity,
) -> np.ndarray:
    r"""Integrate the reverse ODE of eq. (5) (corrected) with classical RK4 on a decreasing grid.

    :func:`diffmem_theory.core.dynamics.solve` with ``method="rk4"``: the velocity of eq. (5)
    is the model's prediction in the ``"velocity"`` unit (dx/dt itself), so ``velocity`` chooses
    the equation and ``solve`` the integrator.

    Shah et al., eq. (5) corrected (:func:`pf_ode_velocity`):
    ``dx/dt = -(sigma sigma'/(1 - sigma^2)) (x + score(x, t))`` from ``times[0]`` down to
    ``times[-1]``, started at ``x_T`` (the paper's N(0, I_d), exact when sigma_T = 1).
    ``score(x, t)`` returns grad log p_t for (B, d) rows; ``schedule`` must be VP.
    ``velocity=eq5_as_printed_velocity`` integrates the printed (wrong) equation, for the
    erratum check only. ``score`` and ``velocity`` must be callables and ``schedule`` a
    Schedule or its name (``TypeError``); a score that returns
    NaN/inf or the wrong shape raises ``ValueError``.

    >>> from diffmem_theory.core.schedules import VPTrig
    >>> sched = VPTrig()                       # data N(0, 0.3^2): exact Gaussian score
    >>> score = lambda x, t: -x / (0.09 * float(sched.alpha(t)) ** 2 + t * t)
    >>> x_T = np.random.default_rng(0).standard_normal((4000, 1))
    >>> out = pf_ode_sample(score, sched, x_T, np.geomspace(0.999, 1e-4, 200))
    >>> round(float(out.std() / x_T.std()), 3)   # the map is exactly linear: 0.3/sqrt(var_T)
    0.3
    """
    schedule = as_schedule(schedule, required=True)
    check_callable(score, "score", "a callable score(x, t) -> (B, d) array")
    check_callable(velocity, "velocity", "a callable velocity(x, t, score, schedule)")
    grid = schedule.check_time(as_float_array(times, "times", ndim=1, dtype=np.float64))
    if grid.size < 2 or np.any(np.diff(grid) >= 0):
        raise ValueError("times must hold at least two strictly decreasing times")
    _check_vp(schedule, grid)
    x = as_float_array(x_T, "x_T", ndim=2, dtype=np.float64)
    _check_vp(schedule, 0.5 * (grid[:-1] + grid[1:]))  # the RK4 midpoints

    def model(y: np.ndarray, t: float) -> np.ndarray:  # a prediction in "velocity" units
        s = np.asarray(score(y, t))  # real and finite: checked by the velocity
        if s.shape != y.shape:
            raise ValueError(f"score(x, t) must return the shape of x {y.shape}, got {s.shape}")
        return velocity(y, t, s, schedule)

    return solve(model, schedule, x, grid, method="rk4", prediction="velocity").final


def lemma41_collapse(
    S_tn: ArrayLike,
    t_n: float,
    schedule: Schedule,
    rng: np.random.Generator | int,
    *,
    n_particles: int = 2000,
    t_start: float = 0.999,
    gap: float = 1e-3,
    n_steps: int = 200,
) -> dict[str, np.ndarray | float]:
    r"""Run the corrected eq. (5) with the ambient-optimal score from N(0, I) down to t_n + gap.

    Shah et al., Lemma 4.1: the law at t_n is the empirical law of the noisy copies S_tn, so
    the particles end within ~gamma(t_n + gap) sqrt(d) of a copy, each copy equally often. The
    grid is geometric in t - t_n (the score is stiff as gamma -> 0); ``n_steps <= 10^5`` and the
    particle-copy distances within the memory cap (``ValueError``). Returns ``samples``,
    ``nn_distance`` (to S_tn), ``occupancy`` (fraction per copy) and ``gamma`` (gamma(t_n + gap)).

    >>> from diffmem_theory.core.schedules import VPTrig
    >>> S_tn = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> out = lemma41_collapse(S_tn, 0.6, VPTrig(), 0, n_particles=200, n_steps=100)
    >>> bool(np.median(out["nn_distance"]) < 3 * out["gamma"] * np.sqrt(2))
    True
    """
    schedule = as_schedule(schedule, required=True)
    copies = as_float_array(S_tn, "S_tn", ndim=2, dtype=np.float64)
    start = check_scalar(t_start, "t_start", low=0.0, low_open=True)
    tn, sn = _check_tn(t_n, schedule, start)
    g = check_scalar(gap, "gap", low=0.0, high=start - tn, low_open=True, high_open=True)
    steps = check_int(n_steps, "n_steps", low=1, high=_MAX_STEPS)
    particles = check_int(n_particles, "n_particles", low=1)
    check_allocation(
        particles * copies.size, f"{particles} particles x {copies.shape[0]} copies distances"
    )
    x_T = as_rng(rng).standard_normal((particles, copies.shape[1]))
    grid = tn + np.geomspace(start - tn, g, steps + 1)

    def score(x: np.ndarray, t: float) -> np.ndarray:
        return noisy_optimal_score(x, float(schedule.sigma(t)), copies, sn)

    samples = pf_ode_sample(score, schedule, x_T, grid)
    d2 = np.sum((samples[:, None, :] - copies[None]) ** 2, axis=-1)
    nearest = np.argmin(d2, axis=1)
    gamma2 = extra_noise_scales(float(schedule.sigma(tn + g)), sn)[1]
    return {
        "samples": samples,
        "nn_distance": np.sqrt(d2[np.arange(samples.shape[0]), nearest]),
        "occupancy": np.bincount(nearest, minlength=copies.shape[0]) / samples.shape[0],
        "gamma": float(np.sqrt(gamma2)),
    }
