r"""One :func:`solve` for every reverse dynamics: DDIM, Heun, RK4, Dormand-Prince, Euler-Maruyama.

The forward process X_t = alpha_t X_0 + sigma_t Z is the marginal of dX = f_t X dt + g_t dB
(Buchanan et al. (paper 000), eqs. (1)-(2)); its reversals run backward in time from
``t_span[0]`` to ``t_span[-1]``:

* the probability-flow ODE (Song et al., 2021, eq. (13); paper 000, eq. (2))

      dx/dt = f_t x - (g_t^2 / 2) grad log p_t(x) = alpha_t' xhat_0 + sigma_t' epshat,

  i.e. the ``"velocity"`` prediction of the model (:func:`~diffmem_theory.core.schedules.
  convert_prediction`), integrated by ``method="ddim"`` (the first-order exponential
  integrator of paper 000, App. H.2), ``"heun"``, ``"rk4"`` (fixed steps on any grid) or
  ``"dopri5"`` (adaptive Dormand-Prince 5(4));
* the reverse SDE (paper 000, eq. (3); Anderson, 1982) and the family of Baptista et al.
  (paper 002), eq. (2.10), by ``method="euler_maruyama"``:

      dx = [f_t x - ((1 + eta)/2) g_t^2 grad log p_t(x)] dt + sqrt(eta) g_t dBbar_t,

  ``eta = noise_scale`` (1: the reverse SDE; 0: the probability-flow ODE by Euler's method).

A *denoiser* is anything :func:`~diffmem_theory.core.denoisers.as_denoiser` accepts: a callable
``model(x, t)`` in any prediction unit (``"x0"``, ``"eps"``, ``"score"``, ``"v"``,
``"velocity"``; its ``prediction`` attribute or the ``prediction`` argument says which), a law
with a ``denoiser`` method, or a :class:`~diffmem_theory.core.denoisers.Denoiser`. :func:`solve`
asks it for the unit each method integrates in (``"x0"`` for DDIM, ``"velocity"`` for the ODE
methods, ``"score"`` for Euler-Maruyama), so a law answers in that unit directly and a user's
network drops in. A denoiser that also has a method ``kernel_field(schedule, time)`` returning
a :class:`~diffmem_theory.kernels.EmpiricalField` (the empirical score of paper 002, see
:mod:`diffmem_theory.voronoi.dynamics`) is integrated by ``dopri5`` inside the compiled kernel.

:func:`ddim_sample`, :func:`probability_flow_sample` and :func:`euler_maruyama_sample` are
sampler front ends: they draw the initial noise ``x_{t_0} ~ N(0, (alpha_{t_0}^2 + sigma_{t_0}^2)
I_d)`` (exactly ``N(0, I_d)``, the paper's ``Y_0``, on every variance-preserving schedule) and
return the samples, as in paper 000's experiments (default grid
:meth:`~diffmem_theory.core.schedules.Schedule.time_grid`, on VPTrig the paper's 26 points
0.999 -> 0.001, no final denoising step).

Backends and models of any framework: the fixed-step methods are written with array-API
operations (``array_api_compat``) on the namespace of the state. With ``backend="numpy"``
(``"numba"`` is accepted as a synonym for a callable model: the model picks its own kernel) the
state is a NumPy array; with ``"cupy"`` it lives on the GPU (``pip install
"diffmem-theory[gpu]"``). With no ``backend``, the state lives where ``x_T`` does: an ``x_T`` of
JAX, PyTorch, CuPy or any other array-API library stays in its library and on its device, and
the model receives it there (a PyTorch model on the GPU gets CUDA tensors). The model may return
an array of any array-API library: an output of another library than the state's crosses by
DLPack (:func:`~diffmem_theory.core.denoisers.model_output`), without a copy on the same
device, and its unit is changed in the state's namespace
(:func:`~diffmem_theory.core.denoisers.change_unit`). Copies are made only where they cannot be
avoided: the Gaussian increments of ``euler_maruyama`` are drawn by ``rng`` on the CPU and copied
to the device (so a seed gives the same samples on every backend), and ``dopri5`` (the
integrator of :func:`diffmem_theory.kernels.integrate` runs on NumPy or CuPy) reads a state of
another library by DLPack and hands it back to the model in its library at each evaluation, a
copy each way only for a GPU array.

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
from dataclasses import dataclass
from typing import Any

import numpy as np
from array_api_compat import array_namespace, device, is_cupy_array, is_numpy_array
from numpy.typing import ArrayLike, DTypeLike

from diffmem_theory._validation import (
    as_float_array,
    as_rng,
    check_allocation,
    check_bool,
    check_choice,
    check_dtype,
    check_int,
    check_scalar,
)
from diffmem_theory.core.denoisers import Denoiser, as_denoiser, change_unit, to_namespace
from diffmem_theory.core.schedules import PREDICTIONS, Schedule, as_schedule
from diffmem_theory.kernels import (
    BACKENDS,
    MAX_STEPS,
    STATUS,
    EmpiricalField,
    backend_namespace,
    integrate,
    to_host,
)

__all__ = [
    "METHODS",
    "Trajectories",
    "ddim_sample",
    "euler_maruyama_sample",
    "probability_flow_sample",
    "solve",
]

#: The methods of :func:`solve`.
METHODS = ("ddim", "heun", "rk4", "dopri5", "euler_maruyama")
# the unit each method asks the denoiser for
_UNIT = {
    "ddim": "x0",
    "heun": "velocity",
    "rk4": "velocity",
    "dopri5": "velocity",
    "euler_maruyama": "score",
}


@dataclass(frozen=True)
class Trajectories:
    """The result of :func:`solve`: final states, saved states and per-trajectory statistics.

    Attributes
    ----------
    t : (n_save,) ndarray
        The saved times (``saveat``); ``t`` is NaN for the schedule-free s-time runs of
        :func:`diffmem_theory.voronoi.dynamics.solve_s_time`.
    s : (n_save,) ndarray
        The same times as s = -1/2 log(sigma_t^2 + c) (Baptista et al. (paper 002), eq. (4.20);
        c the Tikhonov constant of the field, 0 otherwise); ``s`` is +inf at a saved time
        t = 0 when c = 0 (an ``euler_maruyama`` grid may end at 0).
    x : (B, n_save, d) array
        ``x[b, i]`` is trajectory b at ``t[i]``; ``x`` is NaN at the saved times that a failed
        ``dopri5`` trajectory never reached.
    final : (B, d) array
        Every trajectory at the end of ``t_span``, whatever ``saveat`` asks for (at its last
        accepted time when a ``dopri5`` trajectory failed).
    status : (B,) ndarray of int
        0 on success, 1 when ``max_steps`` was reached, 2 when the step fell below the
        floating-point spacing, 3 on a non-finite state (``dopri5``; 0 for fixed steps).
    n_steps, n_rejected, nfev : (B,) ndarray of int
        Accepted steps, rejected steps and evaluations of the model per trajectory.

    Examples
    --------
    >>> from diffmem_theory.core.schedules import VE
    >>> sol = solve(lambda x, t: np.zeros_like(x), VE.linear2t(), np.ones((2, 1)), [1.0, 0.5])
    >>> sol.final.ravel().tolist(), sol.success, sol.messages()   # x scales like sigma_t = t
    ([0.5, 0.5], True, ['success', 'success'])
    """

    t: np.ndarray
    s: np.ndarray
    x: Any
    final: Any
    status: np.ndarray
    n_steps: np.ndarray
    n_rejected: np.ndarray
    nfev: np.ndarray

    @property
    def success(self) -> bool:
        """Whether every trajectory reached the end of ``t_span``.

        Returns
        -------
        bool
            True when every status is 0.
        """
        return bool(np.all(self.status == 0))

    def messages(self) -> list[str]:
        """The status of each trajectory in words.

        Returns
        -------
        list of str
            ``"success"``, ``"max_steps"``, ``"step_too_small"`` or ``"nonfinite"`` per
            trajectory (:data:`diffmem_theory.kernels.STATUS`).
        """
        return [STATUS[int(k)] for k in self.status]


# ----------------------------------------------------------------------------------------------
# solve
# ----------------------------------------------------------------------------------------------


def solve(
    denoiser: Any,
    schedule: Schedule | str,
    x_T: ArrayLike,
    t_span: ArrayLike,
    *,
    method: str = "heun",
    saveat: ArrayLike | str | None = None,
    prediction: str | None = None,
    time: str = "t",
    rtol: float = 1e-8,
    atol: float = 1e-8,
    max_steps: int = 100_000,
    noise_scale: float = 1.0,
    rng: np.random.Generator | int | None = None,
    backend: str | None = None,
) -> Trajectories:
    r"""Run the reverse dynamics of a denoiser from ``t_span[0]`` down to ``t_span[-1]``.

    The vector field, the solver and the saving are separate pieces behind one call, as in
    diffrax's ``diffeqsolve``. With x = alpha_t x0 + sigma_t eps, the model's velocity
    prediction ``u(x, t) = alpha_t' xhat_0 + sigma_t' epshat`` is the probability-flow velocity
    ``f_t x - (g_t^2/2) grad log p_t(x)`` (Song et al., 2021, eq. (13); Buchanan et al.
    (paper 000), eqs. (2), (4)). On the grid ``t_0 > t_1 > ... > t_L`` (``t_span``),
    ``h_l = t_{l+1} - t_l < 0``:

    * ``"ddim"`` (paper 000, App. H.2; one evaluation a step, exact for one data point):
      ``x_{l+1} = (sigma_{l+1}/sigma_l) x_l + (alpha_{l+1} - (sigma_{l+1}/sigma_l) alpha_l)
      xhat_0(x_l, t_l)``;
    * ``"heun"`` (two evaluations, global error O(h^2)): ``k_1 = u(x_l, t_l)``,
      ``k_2 = u(x_l + h k_1, t_{l+1})``, ``x_{l+1} = x_l + (h/2)(k_1 + k_2)``;
    * ``"rk4"`` (classical Runge-Kutta, four evaluations, O(h^4)), midpoints at
      ``(t_l + t_{l+1})/2``;
    * ``"dopri5"`` (Dormand & Prince, 1980): adaptive steps from ``t_span[0]`` to
      ``t_span[-1]`` with local error control ``rtol``/``atol`` (SciPy's RK45 rules,
      :func:`diffmem_theory.kernels.integrate`); intermediate times of ``t_span`` are used only
      for saving. A model with a ``kernel_field`` is integrated in the compiled kernel, every
      trajectory with its own step control; any other model as one system (all trajectories
      share the steps, as ``scipy.integrate.solve_ivp`` on the flattened state does).
      ``time="s"`` integrates in s = -1/2 log(sigma_t^2 + c) (Baptista et al. (paper 002),
      eqs. (4.20)-(4.24)), dx/ds = u / (ds/dt), which is not stiff as t -> 0;
    * ``"euler_maruyama"`` (weak order 1; one evaluation and one Gaussian draw a step): with
      the score s = grad log p_t and ``eta = noise_scale``,
      ``x_{l+1} = x_l - |h| [f x_l - ((1 + eta)/2) g^2 s(x_l, t_l)] + sqrt(eta g^2 |h|) z_l``,
      coefficients at the left end of each step (paper 000, eq. (3); paper 002, eq. (2.10)).

    Parameters
    ----------
    denoiser : callable, law or Denoiser
        The model (:func:`~diffmem_theory.core.denoisers.as_denoiser`), called ``(x, t)`` with
        ``x`` of shape ``(B, d)`` and ``t`` a Python float, once per evaluation for the whole
        batch.
    schedule : Schedule or str
        The noise schedule.
    x_T : (B, d) array
        The states at ``t_span[0]`` (not modified): NumPy, or an array of any array-API
        library (CuPy, JAX, PyTorch, ...), which stays in its library and on its device when
        ``backend`` is not given (module docstring). float32 stays float32 in the fixed-step
        methods; ``dopri5`` runs in float64.
    t_span : (L + 1,) array
        Strictly decreasing times, at least two, in the schedule's domain. The last one may be
        0 for ``euler_maruyama`` (no coefficient is evaluated there) and for ``dopri5`` with a
        regularized kernel field (Tikhonov, c > 0).
    method : {"ddim", "heun", "rk4", "dopri5", "euler_maruyama"}
        The solver (default ``"heun"``).
    saveat : None, "t_span" or array
        Where states are saved: None (default) the end of ``t_span`` only, ``"t_span"`` every
        time of ``t_span``, or an array of times ordered from ``t_span[0]`` towards
        ``t_span[-1]``: times of ``t_span`` for the fixed-step methods, any times in between
        for ``dopri5`` (4th-order dense output). The final state is always returned.
    prediction : str, optional
        The unit of a callable model (default its ``prediction`` attribute, else ``"x0"``).
    time : {"t", "s"}
        The integration variable of ``dopri5`` (s needs ``schedule.kernel_spec().family``
        for a kernel field).
    rtol, atol : float
        Local error tolerances of ``dopri5`` in the integration variable.
    max_steps : int
        Step budget per trajectory of ``dopri5`` (at most 10^12).
    noise_scale : float
        eta >= 0 of ``euler_maruyama``.
    rng : Generator or int, optional
        Required by ``euler_maruyama``; unused otherwise (but checked).
    backend : {"numpy", "numba", "cupy"}, optional
        Where the state lives (module docstring). Default ``"numba"`` for a kernel field (the
        compiled integrator), else the library of ``x_T`` (``"cupy"`` for a CuPy array, NumPy
        for NumPy and array-likes, the array's own library for JAX, PyTorch, ...).

    Returns
    -------
    Trajectories
        ``final``, the saved ``t``, ``s``, ``x`` and the statistics.

    Raises
    ------
    ValueError
        A bad grid, state, method, unit, tolerance or ``saveat`` (the message names the
        argument), a model output of the wrong shape, or a fixed-step run that ends in a
        non-finite state (a too coarse grid, or a model returning NaN/inf).
    TypeError
        A model that is neither callable nor a law, a model output that is not an array of an
        array-API library, an ``x_T`` of another library that is not real floating point, or a
        schedule that is not a Schedule.

    See Also
    --------
    ddim_sample, probability_flow_sample, euler_maruyama_sample : Samplers on :func:`solve`.
    diffmem_theory.voronoi.dynamics.reverse_ode : The empirical-score flow of paper 002.
    diffmem_theory.kernels.integrate : The Dormand-Prince integrator.

    References
    ----------
    Buchanan et al. (paper 000), eqs. (1)-(4) and App. H.2; Baptista et al. (paper 002),
    eqs. (2.10), (4.20)-(4.24); Y. Song et al., "Score-based generative modeling through
    stochastic differential equations", ICLR 2021; J. R. Dormand and P. J. Prince, "A family of
    embedded Runge-Kutta formulae", J. Comput. Appl. Math. 6 (1980).

    Examples
    --------
    Data ``N(mu, s2)``: the exact denoiser, and the exact flow
    ``x_t - alpha_t mu ~ sqrt(alpha_t^2 s2 + sigma_t^2)``.

    >>> from diffmem_theory.core.schedules import VPTrig
    >>> sched, mu, s2 = VPTrig(), 2.0, 0.25
    >>> def gauss(x, t):
    ...     a, v = float(sched.alpha(t)), float(sched.sigma2(t))
    ...     return mu + a * s2 / (a * a * s2 + v) * (x - a * mu)
    >>> x_T, grid = np.array([[1.0]]), sched.time_grid(50, t_max=0.9)
    >>> a0, a1 = sched.alpha(grid[[0, -1]])
    >>> exact = a1 * mu + np.sqrt((a1**2 * s2 + grid[-1] ** 2) / (a0**2 * s2 + grid[0] ** 2)) * (
    ...     1.0 - a0 * mu)
    >>> for method in ("ddim", "heun", "rk4", "dopri5"):
    ...     sol = solve(gauss, sched, x_T, grid, method=method, rtol=1e-10, atol=1e-10)
    ...     print(method, f"{abs(sol.final[0, 0] - exact):.0e}")
    ddim 1e-03
    heun 2e-04
    rk4 1e-07
    dopri5 3e-10

    The same model in eps units gives the same samples:

    >>> eps_model = lambda x, t: (x - sched.alpha(t) * gauss(x, t)) / sched.sigma(t)
    >>> sol = solve(eps_model, sched, x_T, grid, method="rk4", prediction="eps")
    >>> f"{abs(sol.final[0, 0] - exact):.0e}"
    '1e-07'
    """
    method = check_choice(method, "method", METHODS)
    schedule = as_schedule(schedule, required=True)
    time = check_choice(time, "time", ("t", "s"))
    field = _kernel_field(denoiser, schedule, method, time)
    if backend is None:
        backend = _default_backend(x_T, field)
    else:
        backend = check_choice(backend, "backend", BACKENDS)
    model = _as_model(denoiser, schedule, prediction)
    c = 0.0 if field is None else float(field.c)
    grid = _grid(schedule, t_span, zero_end=method == "euler_maruyama" or c > 0.0)
    if method == "dopri5":
        tols = (rtol, atol, max_steps)
        return _adaptive(model, field, schedule, x_T, grid, saveat, time, tols, backend)
    if time != "t":
        raise ValueError(f"time must be 't' for method={method!r} (steps in t), got {time!r}")
    save = _save_indices(grid, saveat)
    eta = check_scalar(noise_scale, "noise_scale", low=0.0)
    gen = None
    if method == "euler_maruyama":
        if rng is None:
            raise ValueError("rng is required: the reverse SDE draws a Gaussian increment a step")
        gen = as_rng(rng)
    elif rng is not None:
        as_rng(rng)  # unused, but a bad rng is still an error
    x = _state(x_T, backend)
    check_allocation(len(save) * x.shape[0] * x.shape[1], "saveat: the saved states")
    step, nfev = _STEPPERS[method](model, schedule, grid, eta, gen)
    final, path = _march(step, x, len(grid) - 1, save)
    xp = array_namespace(final)
    if not bool(xp.all(xp.isfinite(final))):
        raise ValueError(
            f"denoiser led to non-finite states (NaN or inf) in solve(method={method!r}): either "
            f"it returned non-finite values, or the grid is too coarse for this schedule"
        )
    B = x.shape[0]
    times = grid[np.asarray(save, dtype=np.int64)]
    return Trajectories(
        times,
        _s_of_t(schedule, times, 0.0),
        xp.stack(path, axis=1),
        final,
        np.zeros(B, dtype=np.int64),
        np.full(B, len(grid) - 1, dtype=np.int64),
        np.zeros(B, dtype=np.int64),
        np.full(B, nfev * (len(grid) - 1), dtype=np.int64),
    )


# ----------------------------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------------------------


def _kernel_field(denoiser: Any, schedule: Schedule, method: str, time: str) -> Any:
    """The denoiser's :class:`EmpiricalField` for ``dopri5``, else None."""
    make = getattr(denoiser, "kernel_field", None)
    if method != "dopri5" or make is None:
        return None
    return make(schedule, time)


def _as_model(denoiser: Any, schedule: Schedule, prediction: str | None) -> Denoiser:
    """The model as a :class:`Denoiser` (its unit: ``prediction``, its attribute, or "x0")."""
    if isinstance(denoiser, Denoiser):
        return as_denoiser(denoiser, schedule)
    if not callable(denoiser) and not hasattr(denoiser, "denoiser"):
        raise TypeError(
            f"denoiser must be a callable denoiser(x, t), a law with a denoiser method or a "
            f"Denoiser, got {type(denoiser).__name__}"
        )
    unit = getattr(denoiser, "prediction", "x0") if prediction is None else prediction
    if not isinstance(unit, str) or unit not in PREDICTIONS:
        raise ValueError(f"prediction must be one of {list(PREDICTIONS)}, got {unit!r}")
    return as_denoiser(denoiser, schedule, prediction=unit)


def _grid(
    schedule: Schedule, t_span: ArrayLike, *, zero_end: bool = False, name: str = "t_span"
) -> np.ndarray:
    """A validated, strictly decreasing float64 grid of at least two times in the domain
    (the last one may be 0 when ``zero_end``); errors name the argument ``name``."""
    grid = as_float_array(t_span, name, ndim=1, dtype=np.float64)
    if grid.shape[0] < 2:
        raise ValueError(f"{name} must hold at least 2 times (one step), got shape {grid.shape}")
    steps = np.diff(grid)
    if np.any(steps >= 0):
        i = int(np.flatnonzero(steps >= 0)[0])
        raise ValueError(
            f"{name} must be strictly decreasing (the dynamics run backward from t_max to "
            f"t_min), got {name}[{i}] = {grid[i]!r} <= {name}[{i + 1}] = {grid[i + 1]!r}"
        )
    schedule.check_time(grid[:-1] if zero_end and grid[-1] == 0.0 else grid, name)
    return grid


def _save_indices(grid: np.ndarray, saveat: ArrayLike | str | None) -> list[int]:
    """Indices into the grid of the saved times of a fixed-step run."""
    if saveat is None:
        return [len(grid) - 1]
    if isinstance(saveat, str):
        check_choice(saveat, "saveat", ("t_span",))
        return list(range(len(grid)))
    times = np.atleast_1d(as_float_array(saveat, "saveat", ndim=(0, 1), dtype=np.float64))
    index = {float(t): i for i, t in enumerate(grid)}
    missing = [float(t) for t in times if float(t) not in index]
    if times.size == 0 or missing:
        raise ValueError(
            f"saveat must be None, 't_span' or a non-empty array of times of t_span (the "
            f"fixed-step methods save only at grid times), got {saveat!r}"
        )
    out = [index[float(t)] for t in times]
    if np.any(np.diff(out) < 0):
        raise ValueError(f"saveat must be ordered like t_span (decreasing), got {saveat!r}")
    return out


def _default_backend(x_T: Any, field: EmpiricalField | None) -> str | None:
    """The backend when none is given: the compiled kernel for a kernel field, CuPy for a CuPy
    ``x_T``, NumPy for NumPy and array-likes, and None (``x_T``'s own namespace) for an array
    of another array-API library (JAX, PyTorch, ...)."""
    if field is not None:
        return "numba"
    if is_cupy_array(x_T):
        return "cupy"
    if is_numpy_array(x_T):
        return "numpy"
    try:
        array_namespace(x_T)
    except TypeError:
        return "numpy"
    return None


def _state(x_T: ArrayLike, backend: str | None) -> Any:
    """``x_T`` as a fresh (B, d) float array on ``backend`` (float32 kept, else float64), or in
    its own namespace and on its own device when ``backend`` is None."""
    if backend is None:
        return _native_state(x_T)
    device = backend_namespace(backend)
    x = as_float_array(_host(x_T), "x_T", ndim=2)
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"x_T must have shape (B, d) with B, d >= 1, got shape {x.shape}")
    return device.asarray(np.array(x))  # a copy: x_T is never modified


def _native_state(x_T: Any) -> Any:
    """A copy of an array of another array-API library, checked like a NumPy ``x_T``."""
    xp = array_namespace(x_T)
    shape = tuple(x_T.shape)
    if len(shape) != 2 or shape[0] == 0 or shape[1] == 0:
        raise ValueError(f"x_T must have shape (B, d) with B, d >= 1, got shape {shape}")
    if not xp.isdtype(x_T.dtype, "real floating"):
        raise TypeError(f"x_T must hold real floating-point numbers, got dtype {x_T.dtype}")
    if not bool(xp.all(xp.isfinite(x_T))):
        raise ValueError("x_T must be finite (no NaN or inf)")
    return xp.asarray(x_T, copy=True)  # x_T is never modified


def _host(value: Any) -> Any:
    """An array of any namespace read as NumPy (DLPack; CuPy and other device arrays: copied
    from the device); other input as is."""
    try:
        return to_namespace(value, None)
    except TypeError:
        return value


def _s_of_t(schedule: Schedule, t: np.ndarray, c: float) -> np.ndarray:
    """s = -1/2 log(sigma_t^2 + c) (paper 002, eq. (4.20)), with s(0) = -1/2 log c for c > 0."""
    out = np.full(t.shape, -0.5 * math.log(c) if c > 0 else np.inf)
    pos = t > 0
    out[pos] = schedule.s_time(t[pos], c)
    return out


def _predict(model: Denoiser, schedule: Schedule, x: Any, t: float, unit: str) -> Any:
    """The model's prediction in ``unit`` at ``(x, t)``, in the namespace of the state ``x``.

    A law (a model with a ``denoiser`` method) answers ``unit`` directly; a callable is asked
    for its own unit, its output is brought to the state's namespace
    (:func:`~diffmem_theory.core.denoisers.model_output`: DLPack, no copy on the same device)
    and its unit changed there by :func:`~diffmem_theory.core.denoisers.change_unit` (NaN/inf
    propagate to the end-of-run check).
    """
    native = model.prediction
    if unit == native or callable(getattr(model.model, "denoiser", None)):
        return model.predict(x, t, unit)
    return change_unit(model.predict(x, t, native), x, t, schedule, native, unit)


# ----------------------------------------------------------------------------------------------
# fixed steps: each stepper is step(l, x) -> x_{l+1} (and its evaluations per step)
# ----------------------------------------------------------------------------------------------


def _march(step: Callable[[int, Any], Any], x: Any, n: int, save: list[int]) -> tuple[Any, list]:
    """Apply ``step`` n times; keep the states of the indices in ``save``."""
    keep = set(save)
    path = [x] if 0 in keep else []
    for l in range(n):
        x = step(l, x)
        if l + 1 in keep:
            path.append(x)
    return x, [path[sorted(keep).index(i)] for i in save]


def _floats(values: Any) -> list[float]:
    return np.asarray(values, dtype=np.float64).tolist()


def _ddim(model: Denoiser, schedule: Schedule, grid: np.ndarray, eta: float, gen: Any) -> tuple:
    alpha, sigma = _floats(schedule.alpha(grid)), _floats(schedule.sigma(grid))
    times = grid.tolist()

    def step(l: int, x: Any) -> Any:
        ratio = sigma[l + 1] / sigma[l]
        xbar = _predict(model, schedule, x, times[l], "x0")
        # a fresh array each step: the model may return (a view of) its input
        x_next = ratio * x
        x_next += (alpha[l + 1] - ratio * alpha[l]) * xbar
        return x_next

    return step, 1


def _heun(model: Denoiser, schedule: Schedule, grid: np.ndarray, eta: float, gen: Any) -> tuple:
    times = grid.tolist()

    def step(l: int, x: Any) -> Any:
        xp = array_namespace(x)
        h = times[l + 1] - times[l]
        v_now = _predict(model, schedule, x, times[l], "velocity")
        v_next = _predict(model, schedule, x + h * v_now, times[l + 1], "velocity")
        return xp.astype(x + (0.5 * h) * (v_now + v_next), x.dtype, copy=False)

    return step, 2


def _rk4(model: Denoiser, schedule: Schedule, grid: np.ndarray, eta: float, gen: Any) -> tuple:
    times = grid.tolist()
    mids = (0.5 * (grid[:-1] + grid[1:])).tolist()

    def step(l: int, x: Any) -> Any:
        xp = array_namespace(x)
        h = times[l + 1] - times[l]
        k1 = _predict(model, schedule, x, times[l], "velocity")
        k2 = _predict(model, schedule, x + 0.5 * h * k1, mids[l], "velocity")
        k3 = _predict(model, schedule, x + 0.5 * h * k2, mids[l], "velocity")
        k4 = _predict(model, schedule, x + h * k3, times[l + 1], "velocity")
        return xp.astype(x + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4), x.dtype, copy=False)

    return step, 4


def _euler_maruyama(
    model: Denoiser, schedule: Schedule, grid: np.ndarray, eta: float, gen: Any
) -> tuple:
    left = grid[:-1]
    f = np.asarray(schedule.drift(left), dtype=np.float64)
    g2 = np.asarray(schedule.diffusion2(left), dtype=np.float64)
    h = -np.diff(grid)
    # x_{l+1} = c_x x + c_s score + c_z z
    c_x, c_s = _floats(1.0 - h * f), _floats(h * (0.5 * (1.0 + eta)) * g2)
    c_z = _floats(np.sqrt(eta * g2 * h))
    times = grid.tolist()

    def step(l: int, x: Any) -> Any:
        xp = array_namespace(x)
        score = _predict(model, schedule, x, times[l], "score")
        # drawn on the host (the same numbers on every backend), then copied to x's device
        host = np.float32 if x.dtype == xp.float32 else np.float64
        z = xp.asarray(gen.standard_normal(tuple(x.shape), dtype=host), device=device(x))
        return xp.astype(c_x[l] * x + c_s[l] * score + c_z[l] * z, x.dtype, copy=False)

    return step, 1


_STEPPERS = {"ddim": _ddim, "heun": _heun, "rk4": _rk4, "euler_maruyama": _euler_maruyama}


# ----------------------------------------------------------------------------------------------
# adaptive steps (Dormand-Prince)
# ----------------------------------------------------------------------------------------------


def _adaptive(
    model: Denoiser,
    field: EmpiricalField | None,
    schedule: Schedule,
    x_T: ArrayLike,
    grid: np.ndarray,
    saveat: ArrayLike | str | None,
    time: str,
    tols: tuple[float, float, int],
    backend: str,
) -> Trajectories:
    """``method="dopri5"``: in the compiled kernel (a kernel field) or as one system."""
    rtol = check_scalar(tols[0], "rtol", low=1e-14, high=1.0)
    atol = check_scalar(tols[1], "atol", low=0.0, low_open=True)
    max_steps = check_int(tols[2], "max_steps", low=1, high=MAX_STEPS)
    t0, t1 = float(grid[0]), float(grid[-1])
    times = _dense_times(grid, saveat)
    shape = np.shape(x_T)
    check_allocation(len(times) * math.prod(shape), "saveat: the saved states")
    c = 0.0 if field is None else float(field.c)
    s = _s_of_t(schedule, times, c)
    if time == "s":
        span = tuple(float(v) for v in _s_of_t(schedule, np.array([t0, t1]), c))
        s = save = np.clip(s, *span)
    else:
        span, save = (t0, t1), times
    options = {"rtol": rtol, "atol": atol, "max_steps": max_steps}
    if field is not None:
        x = np.array(as_float_array(_host(x_T), "x_T", ndim=2, dtype=np.float64))
        res = integrate(x, span, save, field, backend=backend, **options)
        return Trajectories(times, s, res.saved, res.final, *res[2:])
    xp_backend = "numpy" if backend in ("numba", None) else backend
    x = _state(x_T, backend if backend is None else xp_backend)
    # the integrator runs on NumPy or CuPy: the state of another library is read by DLPack
    # (no copy on the CPU) and handed to the model in that library at each evaluation
    like = x if backend is None else None
    x = np.asarray(to_namespace(x, None)) if like is not None else x
    xp = array_namespace(x)
    x = xp.astype(x, xp.float64)
    B, d = x.shape
    rhs = _flat_field(model, schedule, (B, d), time, like)
    flat = xp.reshape(x, (1, B * d))
    res = integrate(flat, span, save, rhs, backend=xp_backend, **options)
    saved = xp.permute_dims(xp.reshape(res.saved, (len(times), B, d)), (1, 0, 2))
    final = xp.reshape(res.final, (B, d))
    if like is not None:
        saved, final = to_namespace(saved, like), to_namespace(final, like)
    stats = [np.repeat(v, B) for v in res[2:]]
    return Trajectories(times, s, saved, final, *stats)


def _dense_times(grid: np.ndarray, saveat: ArrayLike | str | None) -> np.ndarray:
    """Saved times of a ``dopri5`` run, ordered from ``grid[0]`` towards ``grid[-1]``."""
    if saveat is None:
        return grid[-1:].copy()
    if isinstance(saveat, str):
        check_choice(saveat, "saveat", ("t_span",))
        return grid.copy()
    times = np.atleast_1d(as_float_array(saveat, "saveat", ndim=(0, 1), dtype=np.float64))
    lo, hi = float(grid[-1]), float(grid[0])
    if times.size == 0 or np.any(times < lo) or np.any(times > hi):
        raise ValueError(
            f"saveat must be None, 't_span' or a non-empty array of times between "
            f"{hi!r} and {lo!r}, got {saveat!r}"
        )
    if np.any(np.diff(times) > 0):
        raise ValueError(f"saveat must be ordered like t_span (decreasing), got {saveat!r}")
    return times


def _flat_field(
    model: Denoiser, schedule: Schedule, shape: tuple[int, int], time: str, like: Any
) -> Any:
    """The probability-flow velocity of the whole batch as one system ``rhs(tau, y)``,
    ``y`` of shape (1, B d), in t or in s (dx/ds = u / (ds/dt)); the model sees the state in
    the namespace of ``like`` when it is an array (else in that of ``y``)."""

    def rhs(tau: Any, y: Any) -> Any:
        xp = array_namespace(y)
        tau = float(to_host(tau)[0])
        t = float(schedule.t_of_s(tau)) if time == "s" else tau
        x = xp.reshape(y, shape)
        if like is None:
            u = _predict(model, schedule, x, t, "velocity")
        else:
            u = to_namespace(_predict(model, schedule, to_namespace(x, like), t, "velocity"), y)
        if time == "s":
            u = u / float(schedule.ds_dt(t))
        return xp.reshape(xp.astype(u, xp.float64), (1, shape[0] * shape[1]))

    return rhs


# ----------------------------------------------------------------------------------------------
# samplers: initial noise, then solve
# ----------------------------------------------------------------------------------------------


def _sample(
    method: str,
    denoiser: Any,
    schedule: Any,
    x_init: ArrayLike | None,
    n: int | None,
    d: int | None,
    times: ArrayLike | None,
    rng: np.random.Generator | int | None,
    return_trajectory: bool,
    dtype: DTypeLike | None,
    backend: str,
) -> Any:
    """The front end shared by the three samplers: grid, initial state, :func:`solve`."""
    if not callable(denoiser):
        raise TypeError(
            f"denoiser must be a callable denoiser(x, t) -> x0_hat, got {type(denoiser).__name__}"
        )
    check_bool(return_trajectory, "return_trajectory")
    schedule = as_schedule(schedule, required=True)
    backend = check_choice(backend, "backend", BACKENDS)
    grid = _default_grid(schedule, times)
    if method == "euler_maruyama" and rng is None:
        raise ValueError("rng is required: the reverse SDE draws a Gaussian increment each step")
    gen = None if rng is None else as_rng(rng)
    x, single, target = _host_start(schedule, float(grid[0]), x_init, n, d, gen, dtype)
    sol = solve(
        denoiser, schedule, backend_namespace(backend).asarray(x), grid, method=method,
        saveat="t_span" if return_trajectory else None, rng=gen, backend=backend,
    )  # fmt: skip
    xp = array_namespace(sol.final)
    out = xp.astype(sol.final, target, copy=False)
    if not return_trajectory:
        return out[0] if single else out
    traj = xp.astype(xp.permute_dims(sol.x, (1, 0, 2)), target, copy=False)
    return (out[0], traj[:, 0]) if single else (out, traj)


def _default_grid(schedule: Schedule, times: ArrayLike | None) -> np.ndarray:
    """``times``, or the schedule's default grid (there is none when T = inf)."""
    if times is not None:
        return _grid(schedule, times, name="times")
    if math.isinf(schedule.T):
        raise ValueError(
            f"times must be given for {schedule.name}: its T is inf, so there is no default "
            f"grid (use e.g. schedule.time_grid(t_max=...))"
        )
    return schedule.time_grid()


def _host_start(
    schedule: Schedule,
    t0: float,
    x_init: ArrayLike | None,
    n: int | None,
    d: int | None,
    rng: np.random.Generator | None,
    dtype: DTypeLike | None,
) -> tuple[np.ndarray, bool, np.dtype]:
    """The initial state (B, d) on the CPU, whether a single (d,) state was given, the dtype."""
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
        return scale * rng.standard_normal((count, dim), dtype=target), False, target
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


_SAMPLER_ARGS = r"""
    Parameters
    ----------
    denoiser : callable
        ``denoiser(x, t) -> x0_hat`` with ``x`` of shape ``(B, d)`` and ``t`` a float (a
        callable with a ``prediction`` attribute, e.g. ``"eps"``, is read in that unit).
    schedule : Schedule or str
        The schedule giving ``alpha_t, sigma_t``.
    x_init : (B, d) or (d,) array, optional
        The state at ``t_0``; default ``N(0, (alpha_{t_0}^2 + sigma_{t_0}^2) I)`` draws
        (``N(0, I)`` on VP schedules), which need ``n``, ``d``, ``rng``.
    n, d : int, optional
        The shape of the default initial noise.
    times : array, optional
        Strictly decreasing grid of at least two times in the schedule's domain (default
        ``schedule.time_grid()``).
    rng : Generator or int, optional
        Draws the initial noise (and the increments of the SDE).
    return_trajectory : bool
        Also return the states at every grid time, shape ``(L + 1, B, d)``.
    dtype : float32 or float64, optional
        float64 by default (a float32 ``x_init`` stays float32).
    backend : {"numpy", "numba", "cupy"}
        ``"numpy"`` (default; ``"numba"`` is the same), or ``"cupy"``: the state, the model's
        input and output (a CuPy array then) and the result are CuPy arrays.

    Returns
    -------
    array
        ``x_{t_L}``, shaped like ``x_init`` (``(n, d)`` by default), and the trajectory when
        ``return_trajectory``.
"""


def ddim_sample(
    denoiser: Callable[[Any, float], Any],
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
    r"""Deterministic DDIM sampling: :func:`solve` with ``method="ddim"``.

    Buchanan et al. (paper 000), App. H.2 (the form of De Bortoli et al., 2025): over the
    decreasing grid ``t_0 > ... > t_L`` (default ``schedule.time_grid()``, on VPTrig the paper's
    26 points 0.999 -> 0.001),

        x_{t_{l+1}} = (sigma_{l+1}/sigma_l) x_{t_l}
                      + (alpha_{l+1} - (sigma_{l+1}/sigma_l) alpha_l) xbar(x_{t_l}, t_l),

    i.e. ``x_{l+1} = alpha_{l+1} xbar + sigma_{l+1} eps_hat`` with the noise prediction
    ``eps_hat = (x_l - alpha_l xbar)/sigma_l`` held fixed over the step (the first-order
    exponential integrator of the probability-flow ODE; exact when the data is one point). The
    output is ``x_{t_L}`` itself (no final denoising step, as in the authors' code). ``L``
    denoiser calls.
    {args}
    See Also
    --------
    solve : The integrator (``method="ddim"``).

    References
    ----------
    Buchanan et al. (paper 000), App. H.2; J. Song, C. Meng and S. Ermon, "Denoising diffusion
    implicit models", ICLR 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> sched, p, x0 = VPTrig(), np.array([[3.0, -1.0]]), np.zeros((1, 2))
    >>> out = ddim_sample(lambda x, t: np.repeat(p, len(x), 0), sched, x0)   # data = one point p
    >>> exact = sched.alpha(0.001) * p + (0.001 / 0.999) * (x0 - sched.alpha(0.999) * p)
    >>> print(np.round(out, 6), bool(np.allclose(out, exact, rtol=1e-14, atol=0)))
    [[ 2.999864 -0.999955]] True
    """
    return _sample(
        "ddim", denoiser, schedule, x_init, n, d, times, rng, return_trajectory, dtype, backend
    )


def probability_flow_sample(
    denoiser: Callable[[Any, float], Any],
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
    r"""Integrate the probability-flow ODE backward with Heun's method: ``method="heun"``.

    The probability-flow ODE of the forward SDE dX = f_t X dt + g_t dB (Song et al., 2021,
    eq. (13); paper 000, eq. (2)), with the score from the denoiser by Tweedie (paper 000,
    eq. (4)):

        dx/dt = f_t x - (1/2) g_t^2 grad log p_t(x)
              = (sigma_t'/sigma_t) x + (alpha_t' - alpha_t sigma_t'/sigma_t) xbar(x, t),

    integrated from ``t_0`` down to ``t_L`` by Heun's (explicit trapezoidal) method: two
    denoiser calls a step, **global error O(h^2)** when the velocity is smooth on
    ``[t_L, t_0]``. The order drops where it is not: on VPTrig ``alpha_t' = -t/sqrt(1 - t^2)``
    is singular as t -> 1, and near the data the memorizing denoiser makes the field Lipschitz
    ~ 1/t (stiff as t -> 0), so refine the grid there (e.g. ``spacing="log"``).
    {args}
    See Also
    --------
    solve : The integrator (``method="heun"``; ``"rk4"``, ``"dopri5"`` for higher orders).

    References
    ----------
    Y. Song et al., "Score-based generative modeling through stochastic differential
    equations", ICLR 2021, eq. (13); Buchanan et al. (paper 000), eqs. (2), (4).

    Examples
    --------
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
    return _sample(
        "heun", denoiser, schedule, x_init, n, d, times, rng, return_trajectory, dtype, backend
    )


def euler_maruyama_sample(
    denoiser: Callable[[Any, float], Any],
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
    r"""Sample the reverse SDE with Euler-Maruyama: ``method="euler_maruyama"``.

    The time reversal of dX = f_t X dt + g_t dB (Buchanan et al. (paper 000), eqs. (2)-(3);
    Anderson, 1982; Song et al., 2021, eq. (6)), written in forward time t decreasing,

        dx = [f_t x - g_t^2 grad log p_t(x)] dt + g_t dBbar_t,
        grad log p_t(x) = (alpha_t xbar(x, t) - x)/sigma_t^2               (Tweedie, eq. (4)),

    is discretized with coefficients frozen at the left end of each step,
    ``h_l = t_l - t_{l+1} > 0``:

        x_{l+1} = x_l - h_l [f x_l - g^2 grad log p(x_l, t_l)]_{t_l} + g_{t_l} sqrt(h_l) z_l,

    ``z_l ~ N(0, I_d)`` i.i.d. from ``rng`` (required): one denoiser call and one Gaussian draw
    a step, **weak order 1** (strong order 1/2) when the coefficients are smooth on
    ``[t_L, t_0]``. The noise of the last step is kept (no final denoising). On VPTrig ``f``
    and ``g^2`` blow up like 1/(1 - t) as t -> 1: a step of 0.04 from t = 0.999 multiplies x by
    about -19, so start at ``t_max`` well below 1 (e.g. ``time_grid(t_max=0.9)``) or use a much
    finer grid there.
    {args}
    See Also
    --------
    solve : The integrator (``method="euler_maruyama"``, ``noise_scale`` for the family of
        paper 002, eq. (2.10)).

    References
    ----------
    Buchanan et al. (paper 000), eqs. (2)-(4); B. D. O. Anderson, "Reverse-time diffusion
    equation models", Stoch. Proc. Appl. 12 (1982); Y. Song et al., ICLR 2021, eq. (6).

    Examples
    --------
    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> sched, mu = VPTrig(), 3.0                  # data = the point mu: xbar = mu
    >>> out = euler_maruyama_sample(lambda x, t: np.full_like(x, mu), sched, n=20000, d=1,
    ...                             times=sched.time_grid(400, t_max=0.9), rng=0)
    >>> bool(abs(out.mean() - mu) < 0.01), bool(out.std() < 0.01)
    (True, True)
    """
    return _sample(
        "euler_maruyama", denoiser, schedule, x_init, n, d, times, rng, return_trajectory,
        dtype, backend,
    )  # fmt: skip


for _sampler in (ddim_sample, probability_flow_sample, euler_maruyama_sample):
    if _sampler.__doc__:  # (None under python -OO)
        _sampler.__doc__ = _sampler.__doc__.replace("{args}", _SAMPLER_ARGS)
