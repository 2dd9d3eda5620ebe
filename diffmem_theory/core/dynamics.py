r"""Samplers that turn a denoiser into generated samples: DDIM, probability-flow ODE, reverse SDE.

A *denoiser* is any callable ``denoiser(x, t) -> x0_hat`` with ``t`` a Python float and ``x`` of
shape ``(B, d)``, returning the x0-prediction ``xbar(x, t) ~ E[X_0 | X_t = x]`` of shape ``(B, d)``
(the unit of every denoiser in :mod:`diffmem_theory.core.denoisers`), for instance
``lambda t, x: memorizing_denoiser(t, x, X, sched)``. The score enters only through Tweedie's
identity (Buchanan et al. (paper 000), eq. (4)), ``grad log p_t(x) = (alpha_t xbar - x)/sigma_t^2``.

Three samplers run backward in time over a strictly decreasing grid ``t_0 > t_1 > ... > t_L``
(default :meth:`Schedule.time_grid`, on :class:`~diffmem_theory.core.schedules.VPTrig` the paper's
26 points 0.999 -> 0.001) and return ``x`` at the last grid time, without a final denoising step:

* :func:`ddim_sample` -- the deterministic DDIM of paper 000, App. H.2 (one denoiser call a step);
* :func:`probability_flow_sample` -- Heun's method on the probability-flow ODE (two calls a step,
  global error O(h^2));
* :func:`euler_maruyama_sample` -- Euler-Maruyama on the reverse SDE, paper 000 eq. (3) (one call
  a step, weak error O(h)).

Every sampler is batched over the ``B`` samples (one denoiser call per evaluation time, whatever
``B`` is), float64 by default (float32 on request or for a float32 ``x_init``), and random only
through ``rng`` (a ``np.random.Generator`` or an integer seed). Without ``x_init`` the start is
``x_{t_0} ~ N(0, (alpha_{t_0}^2 + sigma_{t_0}^2) I_d)``: the law of ``X_{t_0}`` for standardized
data, which is exactly ``N(0, I_d)`` (the paper's ``Y_0``) on every variance-preserving schedule.

Backends (argument ``backend``): every sampler's arithmetic is written with array-API
operations on the namespace of its state. With ``"numpy"`` (default; ``"numba"`` is accepted as
a synonym: the samplers themselves have no compiled kernel, the denoiser picks its own) the state
is a NumPy array; with ``"cupy"`` it lives on the GPU (``pip install "diffmem-theory[gpu]"``):
the denoiser then **receives CuPy arrays and must return CuPy arrays** (e.g. a memorizing
denoiser built on ``softmax_weighted_sum(..., backend="cupy")``), and the samples (and the
trajectory) are returned as CuPy arrays. Random numbers are always drawn by ``rng`` on the CPU
and copied to the device, so a seed gives the same samples on every backend.

>>> import numpy as np
>>> from diffmem_theory.core.denoisers import memorizing_denoiser
>>> from diffmem_theory.core.metrics import memorization_ratio
>>> from diffmem_theory.core.schedules import VPTrig
>>> X = np.random.default_rng(0).standard_normal((20, 10))
>>> samples = ddim_sample(lambda x, t: memorizing_denoiser(x, t, X, VPTrig()), VPTrig(),
...                       n=50, d=10, rng=1)
>>> samples.shape, memorization_ratio(samples, X)     # the empirical denoiser memorizes
((50, 10), 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from array_api_compat import array_namespace
from numpy.typing import ArrayLike, DTypeLike

from diffmem_theory._validation import (
    as_float_array,
    as_rng,
    check_allocation,
    check_bool,
    check_choice,
    check_dtype,
    check_int,
)
from diffmem_theory.core.schedules import Schedule, as_schedule
from diffmem_theory.kernels import BACKENDS, backend_namespace, to_host

__all__ = ["Denoiser", "ddim_sample", "euler_maruyama_sample", "probability_flow_sample"]

Denoiser = Callable[[float, np.ndarray], np.ndarray]


# ----------------------------------------------------------------------------------------------
# validation and set-up shared by the samplers
# ----------------------------------------------------------------------------------------------


def _check_callables(denoiser: Any, schedule: Any, return_trajectory: Any) -> Schedule:
    """Validate the denoiser and the trajectory flag; return the schedule (or the named one)."""
    if not callable(denoiser):
        raise TypeError(
            f"denoiser must be a callable denoiser(x, t) -> x0_hat, got {type(denoiser).__name__}"
        )
    check_bool(return_trajectory, "return_trajectory")
    return as_schedule(schedule, required=True)


def _grid(schedule: Schedule, times: ArrayLike | None) -> np.ndarray:
    """A validated, strictly decreasing float64 grid of at least two times in the domain."""
    if times is None:
        if math.isinf(schedule.T):
            raise ValueError(
                f"times must be given for {schedule.name}: its T is inf, so there is no default "
                f"grid (use e.g. schedule.time_grid(t_max=...))"
            )
        return schedule.time_grid()
    grid = as_float_array(times, "times", ndim=1, dtype=np.float64)
    if grid.shape[0] < 2:
        raise ValueError(f"times must hold at least 2 times (one step), got shape {grid.shape}")
    schedule.check_time(grid, "times")
    steps = np.diff(grid)
    if np.any(steps >= 0):
        i = int(np.flatnonzero(steps >= 0)[0])
        raise ValueError(
            f"times must be strictly decreasing (samplers run backward from t_max to t_min), "
            f"got times[{i}] = {grid[i]!r} <= times[{i + 1}] = {grid[i + 1]!r}"
        )
    return grid


def _start(
    schedule: Schedule,
    t0: float,
    x_init: ArrayLike | None,
    n: int | None,
    d: int | None,
    rng: np.random.Generator | int | None,
    dtype: DTypeLike | None,
    backend: str,
) -> tuple[Any, bool, np.dtype]:
    """The initial state ``(B, d)`` on ``backend``, whether a single ``(d,)`` state was given,
    and the dtype (the state is made on the CPU and copied to the device)."""
    x, single, target = _host_start(schedule, t0, x_init, n, d, rng, dtype)
    device = backend_namespace(check_choice(backend, "backend", BACKENDS))
    return device.asarray(x), single, target


def _host_start(
    schedule: Schedule,
    t0: float,
    x_init: ArrayLike | None,
    n: int | None,
    d: int | None,
    rng: np.random.Generator | int | None,
    dtype: DTypeLike | None,
) -> tuple[np.ndarray, bool, np.dtype]:
    """``_start`` on the CPU (NumPy)."""
    if x_init is None:
        if n is None or d is None:
            raise ValueError(
                f"n and d are required when x_init is None (got n={n!r}, d={d!r}): they give "
                f"the shape (n, d) of the initial noise"
            )
        count, dim = check_int(n, "n", low=1), check_int(d, "d", low=1)
        check_allocation(count * dim, f"n x d = {count} x {dim} initial states")
        if rng is None:
            raise ValueError("rng is required when x_init is None (it draws the initial noise)")
        target = check_dtype(np.float64 if dtype is None else dtype)
        scale = math.sqrt(float(schedule.alpha(t0)) ** 2 + float(schedule.sigma2(t0)))
        x = scale * as_rng(rng).standard_normal((count, dim), dtype=target)
        return x, False, target
    if rng is not None:
        as_rng(rng)  # unused with x_init, but a bad rng is still an error
    x = as_float_array(_host(x_init), "x_init", ndim=(1, 2))
    given = x.shape
    target = check_dtype(x.dtype if dtype is None else dtype)
    if x.shape[-1] == 0 or (x.ndim == 2 and x.shape[0] == 0):
        raise ValueError(f"x_init must have shape (B, d) with B, d >= 1, got shape {x.shape}")
    single = x.ndim == 1
    x = np.array(x[None, :] if single else x, dtype=target)  # a copy: x_init is never modified
    for name, value, have in (("n", n, x.shape[0]), ("d", d, x.shape[1])):
        if value is not None and value != have:
            raise ValueError(
                f"{name}={value!r} contradicts x_init of shape {given}; "
                f"give n and d only when x_init is None"
            )
    return x, single, target


def _host(value: Any) -> Any:
    """A NumPy copy of an array of any namespace (CuPy: from the device); other input as is."""
    try:
        array_namespace(value)
    except TypeError:
        return value
    return to_host(value)


def _caller(denoiser: Denoiser, x: Any) -> Callable[[float, Any], Any]:
    """``denoiser`` with a check of its output shape (finiteness is checked once, at the end);
    the output is taken as an array of the namespace of the state ``x``."""
    xp, shape = array_namespace(x), x.shape

    def call(x: Any, t: float) -> Any:
        out = xp.asarray(denoiser(x, t))
        if out.shape != shape:
            raise ValueError(
                f"denoiser must return an x0-prediction of shape {shape} (the shape of x), got "
                f"shape {out.shape} at t = {t!r}"
            )
        return out

    return call


def _finish(
    x: Any,
    path: list[Any] | None,
    single: bool,
    dtype: np.dtype,
    what: str,
) -> Any:
    """Check finiteness (NaN/inf propagate, so the last state tells) and shape the output."""
    xp = array_namespace(x)
    if not bool(xp.all(xp.isfinite(x))):
        raise ValueError(
            f"denoiser led to non-finite samples (NaN or inf) in {what}: either it returned "
            f"non-finite values, or the grid is too coarse for this schedule"
        )
    out = xp.astype(x, dtype, copy=False)
    if path is None:
        return out[0] if single else out
    traj = xp.astype(xp.stack(path), dtype, copy=False)
    return (out[0], traj[:, 0]) if single else (out, traj)


# ----------------------------------------------------------------------------------------------
# samplers
# ----------------------------------------------------------------------------------------------


def ddim_sample(
    denoiser: Denoiser,
    schedule: Schedule,
    x_init: ArrayLike | None = None,
    *,
    n: int | None = None,
    d: int | None = None,
    times: ArrayLike | None = None,
    rng: np.random.Generator | int | None = None,
    return_trajectory: bool = False,
    dtype: DTypeLike | None = None,
    backend: str = "numpy",
) -> Any:
    r"""Deterministic DDIM sampling with an x0-prediction denoiser.

    Buchanan et al. (paper 000), App. H.2 (the form of De Bortoli et al., 2025): over the
    decreasing grid ``t_0 > ... > t_L`` (default ``schedule.time_grid()``, on VPTrig the paper's
    26 points 0.999 -> 0.001),

        x_{t_{l+1}} = (sigma_{l+1}/sigma_l) x_{t_l}
                      + (alpha_{l+1} - (sigma_{l+1}/sigma_l) alpha_l) xbar(t_l, x_{t_l}),

    ``l = 0..L-1``, i.e. ``x_{l+1} = alpha_{l+1} xbar + sigma_{l+1} eps_hat`` with the noise
    prediction ``eps_hat = (x_l - alpha_l xbar)/sigma_l`` held fixed over the step (the first-order
    exponential integrator of the probability-flow ODE; exact when the data is one point). The
    output is ``x_{t_L}`` itself (no final denoising step, as in the authors' code), and the map
    ``x_init -> output`` is deterministic. ``L`` denoiser calls.

    Parameters
    ----------
    denoiser : callable ``(t: float, x: (B, d)) -> (B, d)`` x0-prediction.
    schedule : the :class:`~diffmem_theory.core.schedules.Schedule` giving ``alpha_t, sigma_t``.
    x_init : ``(B, d)`` (or ``(d,)``) state at ``t_0``; default ``N(0, (alpha_{t_0}^2 +
        sigma_{t_0}^2) I)`` draws (``N(0, I)`` on VP schedules), which need ``n``, ``d``, ``rng``.
    times : strictly decreasing grid of at least two times in the schedule's domain.
    return_trajectory : also return the states at every grid time, shape ``(L + 1, B, d)``.
    dtype : float64 (default; a float32 ``x_init`` stays float32) or float32.
    backend : ``"numpy"`` (default; ``"numba"`` is the same), or ``"cupy"``: the state, the
        denoiser's input and output (which must be a CuPy array then) and the result are CuPy
        arrays (module docstring). ``x_init`` may be a NumPy or a CuPy array.

    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> sched, p, x0 = VPTrig(), np.array([[3.0, -1.0]]), np.zeros((1, 2))
    >>> out = ddim_sample(lambda x, t: np.repeat(p, len(x), 0), sched, x0)   # data = one point p
    >>> exact = sched.alpha(0.001) * p + (0.001 / 0.999) * (x0 - sched.alpha(0.999) * p)
    >>> print(np.round(out, 6), bool(np.allclose(out, exact, rtol=1e-14, atol=0)))
    [[ 2.999864 -0.999955]] True
    """
    schedule = _check_callables(denoiser, schedule, return_trajectory)
    grid = _grid(schedule, times)
    x, single, target = _start(schedule, float(grid[0]), x_init, n, d, rng, dtype, backend)
    alpha = np.asarray(schedule.alpha(grid), dtype=np.float64).tolist()
    sigma = np.asarray(schedule.sigma(grid), dtype=np.float64).tolist()
    call = _caller(denoiser, x)
    path = [x] if return_trajectory else None
    for l in range(len(grid) - 1):
        ratio = sigma[l + 1] / sigma[l]
        xbar = call(x, float(grid[l]))
        # a fresh array each step: the denoiser may return (a view of) its input
        x_next = ratio * x
        x_next += (alpha[l + 1] - ratio * alpha[l]) * xbar
        x = x_next
        if path is not None:
            path.append(x)
    return _finish(x, path, single, target, "ddim_sample")


def _pf_coefficients(schedule: Schedule, grid: np.ndarray) -> tuple[list[float], list[float]]:
    """``(a_t, b_t)`` with the probability-flow velocity ``v(x, t) = a_t x + b_t xbar(x, t)``.

    From ``f x - (1/2) g^2 (alpha xbar - x)/sigma^2`` and ``g^2 = 2 sigma sigma' - 2 f sigma^2``:
    ``a = sigma'/sigma`` and ``b = alpha' - alpha sigma'/sigma`` (no cancellation of the large
    ``f`` and ``g^2/(2 sigma^2)`` near t = 1 on VPTrig).
    """
    log_sigma_rate = np.asarray(schedule.dsigma(grid) / schedule.sigma(grid), dtype=np.float64)
    dalpha = np.asarray(schedule.dalpha(grid), dtype=np.float64)
    alpha = np.asarray(schedule.alpha(grid), dtype=np.float64)
    return log_sigma_rate.tolist(), (dalpha - alpha * log_sigma_rate).tolist()


def probability_flow_sample(
    denoiser: Denoiser,
    schedule: Schedule,
    x_init: ArrayLike | None = None,
    *,
    n: int | None = None,
    d: int | None = None,
    times: ArrayLike | None = None,
    rng: np.random.Generator | int | None = None,
    return_trajectory: bool = False,
    dtype: DTypeLike | None = None,
    backend: str = "numpy",
) -> Any:
    r"""Integrate the probability-flow ODE backward with Heun's method (fixed steps).

    The probability-flow ODE of the forward SDE dX = f_t X dt + g_t dB (Song et al., 2021,
    "Score-based generative modeling through SDEs", eq. (13); paper 000, eq. (2)), with the score
    from the denoiser by Tweedie (paper 000, eq. (4)):

        dx/dt = f_t x - (1/2) g_t^2 grad log p_t(x),  grad log p_t(x) = (alpha_t xbar - x)/sigma_t^2
              = (sigma_t'/sigma_t) x + (alpha_t' - alpha_t sigma_t'/sigma_t) xbar(x, t),

    integrated from ``t_0`` down to ``t_L`` on the grid (``h_l = t_{l+1} - t_l < 0``) by Heun's
    (explicit trapezoidal) method, ``v_0 = v(t_l, x_l)``, ``x_pred = x_l + h_l v_0``,
    ``x_{l+1} = x_l + (h_l/2) (v_0 + v(t_{l+1}, x_pred))``: two denoiser calls a step, local
    error O(h^3), **global error O(h^2)** when the velocity is smooth on ``[t_L, t_0]``. The order
    drops where it is not: on VPTrig ``alpha_t' = -t/sqrt(1 - t^2)`` is singular as t -> 1, and
    near the data the memorizing denoiser makes the field Lipschitz ~ 1/t (stiff as t -> 0), so
    refine the grid there (e.g. ``spacing="log"``). Output ``x_{t_L}``, deterministic given
    ``x_init``; the arguments are those of :func:`ddim_sample`.

    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> sched, mu, s2 = VPTrig(), 2.0, 0.25       # data N(mu, s2): exact denoiser, affine flow
    >>> def gauss(x, t):
    ...     a, v = float(sched.alpha(t)), float(sched.sigma2(t))
    ...     return mu + a * s2 / (a * a * s2 + v) * (x - a * mu)
    >>> grid = sched.time_grid(200, t_max=0.9)
    >>> out = probability_flow_sample(gauss, sched, np.array([[1.0]]), times=grid)
    >>> a0, a1 = sched.alpha(grid[[0, -1]])
    >>> exact = a1 * mu + np.sqrt((a1**2 * s2 + grid[-1] ** 2) / (a0**2 * s2 + grid[0] ** 2)) * (
    ...     1.0 - a0 * mu)
    >>> bool(abs(out[0, 0] - exact) < 1e-4)      # global error O(h^2): 1.1e-5 here
    True
    """
    schedule = _check_callables(denoiser, schedule, return_trajectory)
    grid = _grid(schedule, times)
    x, single, target = _start(schedule, float(grid[0]), x_init, n, d, rng, dtype, backend)
    a, b = _pf_coefficients(schedule, grid)
    call = _caller(denoiser, x)
    xp = array_namespace(x)
    path = [x] if return_trajectory else None
    for l in range(len(grid) - 1):
        h = float(grid[l + 1] - grid[l])
        v_now = a[l] * x + b[l] * call(x, float(grid[l]))
        x_pred = x + h * v_now
        v_next = a[l + 1] * x_pred + b[l + 1] * call(x_pred, float(grid[l + 1]))
        x = xp.astype(x + (0.5 * h) * (v_now + v_next), target, copy=False)
        if path is not None:
            path.append(x)
    return _finish(x, path, single, target, "probability_flow_sample")


def euler_maruyama_sample(
    denoiser: Denoiser,
    schedule: Schedule,
    x_init: ArrayLike | None = None,
    *,
    n: int | None = None,
    d: int | None = None,
    times: ArrayLike | None = None,
    rng: np.random.Generator | int | None = None,
    return_trajectory: bool = False,
    dtype: DTypeLike | None = None,
    backend: str = "numpy",
) -> Any:
    r"""Sample the reverse SDE with the Euler-Maruyama scheme, backward on a grid.

    The time reversal of dX = f_t X dt + g_t dB (Buchanan et al. (paper 000), eqs. (2)-(3);
    Anderson, 1982; Song et al., 2021, eq. (6)), written in forward time t decreasing,

        dx = [f_t x - g_t^2 grad log p_t(x)] dt + g_t dBbar_t,
        grad log p_t(x) = (alpha_t xbar(x, t) - x)/sigma_t^2               (Tweedie, eq. (4)),

    is discretized with coefficients frozen at the left (earlier in reverse time) end of each step,
    ``h_l = t_l - t_{l+1} > 0``:

        x_{l+1} = x_l - h_l [f x_l - g^2 (alpha xbar(t_l, x_l) - x_l)/sigma^2]_{t_l}
                  + g_{t_l} sqrt(h_l) z_l,   z_l ~ N(0, I_d) i.i.d.,

    one denoiser call and one ``(B, d)`` Gaussian draw (from ``rng``, required) a step, **weak
    order 1** (strong order 1/2) when the coefficients are smooth on ``[t_L, t_0]``. The noise of
    the last step is kept (output ``x_{t_L}``, no final denoising). On VPTrig ``f`` and ``g^2``
    blow up like 1/(1 - t) as t -> 1: a step of 0.04 from t = 0.999 multiplies x by about -19, so
    start at ``t_max`` well below 1 (e.g. ``time_grid(t_max=0.9)``) or use a much finer grid
    there. Other arguments are those of :func:`ddim_sample`.

    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> sched, mu = VPTrig(), 3.0                  # data = the point mu: xbar = mu
    >>> out = euler_maruyama_sample(lambda x, t: np.full_like(x, mu), sched, n=20000, d=1,
    ...                             times=sched.time_grid(400, t_max=0.9), rng=0)
    >>> bool(abs(out.mean() - mu) < 0.01), bool(out.std() < 0.01)
    (True, True)
    """
    schedule = _check_callables(denoiser, schedule, return_trajectory)
    grid = _grid(schedule, times)
    if rng is None:
        raise ValueError("rng is required: the reverse SDE draws a Gaussian increment each step")
    gen = as_rng(rng)
    x, single, target = _start(schedule, float(grid[0]), x_init, n, d, gen, dtype, backend)
    f = np.asarray(schedule.drift(grid[:-1]), dtype=np.float64)
    g2 = np.asarray(schedule.diffusion2(grid[:-1]), dtype=np.float64)
    alpha = np.asarray(schedule.alpha(grid[:-1]), dtype=np.float64)
    sigma2 = np.asarray(schedule.sigma2(grid[:-1]), dtype=np.float64)
    h = -np.diff(grid)
    # x_{l+1} = c_x x + c_bar xbar + c_z z
    c_x = (1.0 - h * (f + g2 / sigma2)).tolist()
    c_bar = (h * g2 * alpha / sigma2).tolist()
    c_z = np.sqrt(g2 * h).tolist()
    call = _caller(denoiser, x)
    xp = array_namespace(x)
    path = [x] if return_trajectory else None
    for l in range(len(grid) - 1):
        xbar = call(x, float(grid[l]))
        z = xp.asarray(gen.standard_normal(x.shape, dtype=target))
        x = xp.astype(c_x[l] * x + c_bar[l] * xbar + c_z[l] * z, target, copy=False)
        if path is not None:
            path.append(x)
    return _finish(x, path, single, target, "euler_maruyama_sample")
