r"""Reverse dynamics driven by the empirical score: the Voronoi ODE of Baptista et al. (paper 002).

The probability-flow ODE (4.1) with the empirical score s^N (3.8), or its Tikhonov (5.7) and
empirical-Bayes (5.11)/(5.12) regularizations, in physical time t (integrated from T down to
t_end) or in the transformed time s = h(t; c) = -1/2 log(sigma^2(t) + c) of (4.20), where the
VE and VP flows are schedule-free:

    VE (4.24)/(5.9):  dy/ds = -rho (y - y_N(y, s)),          weights with variance e^{-2s} - c,
    VP (C.6):         dy/ds = [(v + c) y - rho (y - m y_N)] / m^2,   v = e^{-2s} - c, m^2 = 1 - v,
    t-time (4.1):     dx/dt = f x + (g^2/2) rho (x - m x_N) / (sigma^2 + c),

with x_N = sum_n w_n x_0^n the softmax-weighted mean (3.9), rho = 1 except for empirical
Bayes (rho = min(1, sum_n w~_n / c) for (5.12), min(1, p^N / c) for (5.11)), and c the
Tikhonov constant (0 for the plain empirical score). In t the flow is stiff as t -> 0 (the
drift grows like 1/sigma^2); in s it is a contraction at unit rate, so trajectories are
followed to t = 1e-6 (s = 6.9 + ...) in a few dozen steps.

* :func:`solve_s_time` -- the schedule-free s-time ODE for a batch of starting points;
* :class:`EmpiricalScoreModel` -- the empirical (or regularized) score as a model for
  :func:`diffmem_theory.core.dynamics.solve`, which integrates it inside the compiled kernel;
* :func:`reverse_ode` -- (4.1) for a schedule, from T to ``t_end``, in s or in t;
* :func:`s_time_velocity`, :func:`t_time_velocity` -- the vector fields (NumPy; the reference
  the compiled integrator is tested against, and the right-hand side for SciPy);
* :func:`voronoi_ode` -- the closed-form large-s limit dy/ds = -(y - x_0^{n(y)}) (Remark 4.7);
* :func:`reverse_sde` -- Euler-Maruyama for the reverse SDE family (2.10).

The integrator is Dormand-Prince 5(4) compiled with Numba (:func:`diffmem_theory.kernels.integrate`
with an :class:`~diffmem_theory.kernels.EmpiricalField`): every trajectory has its own step-size
control (SciPy's RK45 rules: same tableau, error norm, safety factors and initial step), states
at requested times come from the 4th-order continuous extension, trajectories run in parallel
(handed out one at a time to the threads, so the results are bit-identical for any
``NUMBA_NUM_THREADS``). ``backend="numpy"``/``"cupy"`` runs its lock-step array-API twin instead.
:func:`reverse_ode` and :func:`reverse_sde` are uses of :func:`diffmem_theory.core.dynamics.solve`
(``method="dopri5"`` and ``"euler_maruyama"``) with an :class:`EmpiricalScoreModel`.

Inputs are checked before the integrator starts: states and training points must have squared
norms <= 1e300 (so that squared distances stay finite), and a t-time run must end where the drift
g^2/(2 (sigma^2 + c)) is a finite float. A trajectory whose state or field stops being finite
ends with status ``"nonfinite"``; nothing inside the compiled integrator raises.

Example
-------
>>> import numpy as np
>>> from diffmem_theory.core.schedules import VE
>>> X0 = np.array([[1.0, 0.0], [-1.0, 0.0]])
>>> sol = reverse_ode([[0.3, 2.0], [-4.0, 1.0]], X0, VE.exp(), t_end=1e-6)
>>> np.round(sol.final, 2) + 0.0                 # each start ends at a data point
array([[ 1.,  0.],
       [-1.,  0.]])
>>> bool(np.abs(sol.final - X0).max() < 3 * VE.exp().sigma(1e-6))   # within O(sigma(t_end))
True
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from diffmem_theory._validation import (
    as_float_array,
    as_points,
    as_queries,
    as_rng,
    check_choice,
    check_int,
    check_scalar,
    unbatch,
)
from diffmem_theory.core.dynamics import Trajectories, solve
from diffmem_theory.core.schedules import VE, Schedule, as_schedule
from diffmem_theory.kernels import (
    BACKENDS,
    MAX_STEPS,
    STATE_MAX_SQ,
    EmpiricalField,
    integrate,
    softmax_weighted_sum,
)
from diffmem_theory.voronoi import scores as voronoi

__all__ = [
    "FAMILIES",
    "MAX_STEPS",
    "SCORES",
    "EmpiricalScoreModel",
    "initial_states",
    "reverse_ode",
    "reverse_sde",
    "s_time_velocity",
    "solve_s_time",
    "t_time_velocity",
    "voronoi_ode",
]

FAMILIES = ("VE", "VP")
SCORES = ("empirical", "tikhonov", "eb", "eb_normalized")
# the kernel's score: the Tikhonov score is the empirical one in the shifted time map
_KERNEL_SCORE = {
    "empirical": "empirical",
    "tikhonov": "empirical",
    "eb": "eb",
    "eb_normalized": "eb_normalized",
}


def _score_args(score: str, c: float) -> tuple[str, float, float]:
    """(kernel score, Tikhonov c of the time map, log of the EB threshold)."""
    score = check_choice(score, "score", SCORES)
    c = check_scalar(c, "c", low=0.0)
    if score in ("eb", "eb_normalized"):
        return _KERNEL_SCORE[score], 0.0, (math.log(c) if c > 0 else -math.inf)
    return _KERNEL_SCORE[score], (c if score == "tikhonov" else 0.0), 0.0


def _states_and_data(x: ArrayLike, X0: ArrayLike, name: str) -> tuple[np.ndarray, bool, np.ndarray]:
    """States and training points, float64, with squared norms <= ``STATE_MAX_SQ``."""
    xq, single = as_queries(x, name)
    data = as_points(X0, "X0", xq.shape[1])
    for arr, label in ((xq, name), (data, "X0")):
        with np.errstate(over="ignore"):
            sq = np.einsum("ij,ij->i", arr, arr)
        if not np.all(sq <= STATE_MAX_SQ):
            raise ValueError(
                f"{label} must have squared row norms <= {STATE_MAX_SQ:g} (so that squared "
                f"distances stay finite), got entries up to {float(np.abs(arr).max())!r}"
            )
    return np.ascontiguousarray(xq), single, np.ascontiguousarray(data)


# Smallest s of the s-time fields: e^(-2s), the variance, overflows float64 below it.
_S_MIN = -0.5 * math.log(np.finfo(np.float64).max)


def _tolerances(rtol: float, atol: float, max_steps: int) -> tuple[float, float, int]:
    rtol = check_scalar(rtol, "rtol", low=1e-14, high=1.0)
    atol = check_scalar(atol, "atol", low=0.0, low_open=True)
    return rtol, atol, check_int(max_steps, "max_steps", low=1, high=MAX_STEPS)


def _start_time(schedule: Schedule, t_start: float | None) -> float:
    """``t_start`` (checked), or the largest time of the domain where the flow can start.

    That is T on a domain closed at T; on one open at a finite T (VPTrig, where alpha_T = 0)
    the top of the schedule's default grid, ``schedule.time_grid()[0]`` = T - 1e-3 (paper 000's
    t_max = 0.999, where the samplers start); a domain without an end (OU) has none.
    """
    if t_start is not None:
        T = check_scalar(t_start, "t_start")
        schedule.check_time(T, "t_start")
        return T
    if math.isinf(schedule.T):
        raise ValueError(
            f"t_start is required for {schedule.name}: its time domain {schedule.domain} has no "
            "largest time to start from (e.g. t_start=10.0)"
        )
    open_at_T = schedule.domain.endswith(")")
    return float(schedule.time_grid()[0]) if open_at_T else float(schedule.T)


def _check_t_drift(schedule: Schedule, t_end: float, c: float) -> None:
    """In t-time the drift coefficient g^2 / (2 (sigma^2 + c)) must be a finite float at t_end."""
    if t_end == 0.0:  # Tikhonov (c > 0) only
        return
    v = float(schedule.sigma2(t_end)) + c
    coef = 0.5 * float(schedule.diffusion2(t_end)) / v if v > 0.0 else math.inf
    if not math.isfinite(coef):
        raise ValueError(
            f"t_end must keep the t-time drift g^2/(2 (sigma^2 + c)) finite, got t_end = {t_end!r} "
            f"(sigma^2(t_end) + c = {v!r}); integrate in s (time='s') or stop at a larger t_end"
        )


def _save_grid(save: ArrayLike | None, start: float, end: float, name: str) -> np.ndarray:
    """Saved values of the integration variable, monotone from ``start`` towards ``end``."""
    if save is None:
        return np.array([start, end])
    arr = np.atleast_1d(as_float_array(save, name, ndim=(0, 1), dtype=np.float64))
    if arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-d array of finite times, got {save!r}")
    lo, hi = min(start, end), max(start, end)
    if np.any(arr < lo - 1e-12 * abs(lo)) or np.any(arr > hi + 1e-12 * abs(hi)):
        raise ValueError(f"{name} must lie between {start!r} and {end!r}, got {arr}")
    step = np.diff(arr) * np.sign(end - start)
    if np.any(step < 0):
        raise ValueError(f"{name} must be ordered from {start!r} towards {end!r}, got {arr}")
    return np.clip(arr, lo, hi)


class EmpiricalScoreModel:
    r"""The empirical score of paper 002 (or a regularization) as a model for :func:`solve`.

    Baptista et al. (paper 002): the empirical score (3.8), the Tikhonov score (5.7) (``c``
    > 0) or the empirical-Bayes score (5.12)/(5.11) (threshold ``c``) of the training points
    ``X0`` under ``schedule``. Calling it gives the score (``prediction = "score"``, evaluated
    by :mod:`diffmem_theory.voronoi.scores`); :meth:`kernel_field` hands the same field to the
    compiled Dormand-Prince integrator, which :func:`diffmem_theory.core.dynamics.solve`
    (``method="dopri5"``) uses instead of calling the model.

    Parameters
    ----------
    X0 : (N, d) array
        Training points.
    schedule : Schedule
        The noise schedule.
    score : {"empirical", "tikhonov", "eb", "eb_normalized"}
        Which score.
    c : float
        Tikhonov constant or empirical-Bayes threshold (>= 0).

    Examples
    --------
    >>> from diffmem_theory.core.schedules import VE
    >>> model = EmpiricalScoreModel([[1.0, 0.0], [-1.0, 0.0]], VE.linear2t())
    >>> np.round(model(np.array([[0.5, 0.5]]), 0.5), 6)          # -(x - x_N)/t^2
    array([[ 1.85611, -2.     ]])
    >>> model.kernel_field(VE.linear2t(), "s").time
    's_ve'
    """

    prediction = "score"

    def __init__(
        self, X0: ArrayLike, schedule: Schedule, score: str = "empirical", c: float = 0.0
    ) -> None:
        self.schedule = as_schedule(schedule, required=True)
        self.score, self.c = check_choice(score, "score", SCORES), check_scalar(c, "c", low=0.0)
        self.X0 = as_float_array(X0, "X0", ndim=2, dtype=np.float64)

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        """The score at the states ``x`` (B, d) and time ``t``."""
        if self.score == "tikhonov":
            return voronoi.tikhonov_score(x, t, self.X0, self.schedule, self.c)
        if self.score == "empirical":
            return voronoi.empirical_score(x, t, self.X0, self.schedule)
        normalized = self.score == "eb_normalized"
        return voronoi.eb_score(x, t, self.X0, self.schedule, self.c, normalized=normalized)

    def kernel_field(self, schedule: Schedule, time: str) -> EmpiricalField:
        """The field for :func:`diffmem_theory.kernels.integrate`, in t or in s.

        s-time needs a VE or variance-preserving schedule (``ValueError`` otherwise).
        """
        schedule = as_schedule(schedule, required=True)
        time = check_choice(time, "time", ("t", "s"))
        score, c_map, log_ceb = _score_args(self.score, self.c)
        spec = schedule.kernel_spec()
        mode = "t"
        if time == "s":
            if spec.family is None:
                raise ValueError(
                    f"time='s' needs a VE or variance-preserving (alpha^2 + sigma^2 = 1) "
                    f"schedule, got {schedule!r}; use time='t'"
                )
            mode = "s_ve" if spec.family == "VE" else "s_vp"
        return EmpiricalField(self.X0, spec.kind, spec.params, mode, c_map, score, log_ceb)


def initial_states(
    schedule: Schedule, n: int, d: int, rng: np.random.Generator | int
) -> np.ndarray:
    r"""Starts x_T of the reverse flow as in the paper: N(0, sigma(T)^2 I) (VE), N(0, I) (VP).

    Baptista et al. (paper 002), §4.4 and App. C.2 (the VP start N(0, I) is the paper's; the
    authors' code scales it by sigma(T) = 0.8815, i.e. draws N(0, 0.777 I), whereas the law of
    X_T for standardized data has variance alpha_T^2 + sigma_T^2 = 1). Returns ``(n, d)`` draws
    from ``rng``.

    >>> from diffmem_theory.core.schedules import VE
    >>> x = initial_states(VE.exp(), 20000, 2, 0)
    >>> round(float(x.std()), 1)                     # sigma_VE(1) = 4.636548
    4.6
    """
    schedule = as_schedule(schedule, required=True)
    n = check_int(n, "n", low=1)
    d = check_int(d, "d", low=1)
    scale = float(schedule.sigma(schedule.T)) if isinstance(schedule, VE) else 1.0
    return scale * as_rng(rng).standard_normal((n, d))


def solve_s_time(
    y0: ArrayLike,
    X0: ArrayLike,
    s_span: tuple[float, float],
    *,
    family: str = "VE",
    score: str = "empirical",
    c: float = 0.0,
    save_s: ArrayLike | None = None,
    rtol: float = 1e-8,
    atol: float = 1e-8,
    max_steps: int = 100_000,
    backend: str = "numba",
) -> Trajectories:
    r"""Integrate the s-time reverse ODE from ``s_span[0]`` to ``s_span[1]`` for every start.

    Baptista et al. (paper 002): VE (4.24), with Tikhonov (5.9)-(5.10); VP (C.6):

        VE:  dy/ds = -rho (y - y_N(y, s)),
        VP:  dy/ds = [(e^{-2s}) y - rho (y - m y_N)] / m^2,   m = sqrt(1 - e^{-2s} + c),

    with y_N the weighted mean under w~_n = exp(-|y - m x_0^n|^2 / (2 (e^{-2s} - c))) (m = 1
    for VE) and rho as in the module docstring. Schedule-free: any VE (VP) schedule maps onto
    it through s = -1/2 log(sigma^2(t) + c). ``y0`` is ``(B, d)`` or ``(d,)``; ``save_s``
    (default: the two ends) are the values of s where states are saved. For Tikhonov
    (``score="tikhonov"``) s must stay below s_inf = -1/2 log c, where the variance reaches 0
    and the weights become the Voronoi indicator (their limit as the variance -> 0).

    ``backend`` is ``"numba"`` (default: the compiled integrator, trajectories in parallel on
    the CPU), ``"numpy"`` or ``"cupy"``: the lock-step array-API twin (same steps, same
    controller) on NumPy or on the GPU (``pip install "diffmem-theory[gpu]"``); the results are
    NumPy arrays on every backend. This schedule-free integration is the one place that calls
    :func:`diffmem_theory.kernels.integrate` directly (there is no schedule for
    :func:`~diffmem_theory.core.dynamics.solve`); the result is a
    :class:`~diffmem_theory.core.dynamics.Trajectories` with ``t`` NaN.

    Fig. 3 of the paper (N = 2, x_0 = (+-1, 0)): a start on the bisector stays on it and goes
    to the origin, one off it goes to a data point.

    >>> import numpy as np
    >>> sol = solve_s_time([[0.0, 2.1], [0.5, 2.1]], [[1.0, 0.0], [-1.0, 0.0]], (0.0, 30.0))
    >>> np.round(sol.final, 8) + 0.0
    array([[0., 0.],
           [1., 0.]])
    """
    y, single, data = _states_and_data(y0, X0, "y0")
    family = check_choice(family, "family", FAMILIES)
    kernel_score, c_map, log_ceb = _score_args(score, c)
    span = as_float_array(s_span, "s_span", ndim=1, dtype=np.float64)
    if span.shape != (2,):
        raise ValueError(f"s_span must be a pair (s_start, s_end), got {s_span!r}")
    s_a = float(span[0])
    s_b = check_scalar(span[1], "s_span[1]", low=s_a)
    if c_map > 0 and s_b > -0.5 * math.log(c_map):
        raise ValueError(f"s_span[1] must be <= -1/2 log c = {-0.5 * math.log(c_map)!r}")
    if family == "VP" and math.exp(-2.0 * s_a) - c_map >= 1.0:
        raise ValueError("s_span[0] must give e^{-2s} - c < 1 for VP (sigma^2 < 1)")
    save = _save_grid(save_s, s_a, s_b, "save_s")
    rtol, atol, max_steps = _tolerances(rtol, atol, max_steps)
    backend = check_choice(backend, "backend", BACKENDS)
    mode = "s_ve" if family == "VE" else "s_vp"
    field = EmpiricalField(data, time=mode, c=c_map, score=kernel_score, log_ceb=log_ceb)
    res = integrate(
        y, (s_a, s_b), save, field, rtol=rtol, atol=atol, max_steps=max_steps, backend=backend
    )
    rows = slice(0, 1) if single else slice(None)
    return Trajectories(
        np.full(save.shape, np.nan), save, res.saved[rows], res.final[rows], *res[2:]
    )


def reverse_ode(
    x_T: ArrayLike,
    X0: ArrayLike,
    schedule: Schedule,
    t_end: float = 1e-6,
    *,
    time: str = "s",
    score: str = "empirical",
    c: float = 0.0,
    save_t: ArrayLike | None = None,
    t_start: float | None = None,
    rtol: float = 1e-8,
    atol: float = 1e-8,
    max_steps: int = 100_000,
    backend: str = "numba",
) -> Trajectories:
    r"""The probability-flow ODE (4.1) with the empirical (or regularized) score, T -> t_end.

    Baptista et al. (paper 002), (4.1)/(4.19) (VE), (C.1) (VP), (5.8) (Tikhonov):

        dx/dt = f(t) x - (g(t)/2) s(x, t),    x(T) = x_T,

    with s the empirical score (3.8), the Tikhonov score (5.7) (``score="tikhonov"``, c > 0)
    or the empirical-Bayes score (5.12)/(5.11) (``"eb"``/``"eb_normalized"``, threshold c).
    ``time="s"`` integrates the equivalent s-time ODE (4.24)/(C.6)/(5.9) (VE and VP schedules;
    not stiff as t -> 0), ``time="t"`` integrates in t directly (any preset schedule, stiff
    near t = 0; ``t_end`` must leave the drift g^2/(2 (sigma^2 + c)) a finite float, else a
    ``ValueError`` suggests ``time="s"``, which reaches any t_end > 0). ``t_end`` may be 0 for
    Tikhonov (c > 0), where the weights are the Voronoi indicator. ``save_t`` (default: start
    and end) are the times, from ``t_start`` down to ``t_end``, where states are saved.
    ``t_start`` defaults to the largest time of the schedule's domain: ``schedule.T`` when the
    domain is closed at T; on a domain open at T (VPTrig, alpha_T = 0, where the VP s-time ODE is
    singular) the top of the schedule's default grid, ``schedule.time_grid()[0]`` = T - 1e-3
    (paper 000's 0.999, where the samplers start); a domain without an end (OU, T = inf) needs
    an explicit ``t_start`` (``ValueError`` otherwise). ``rtol``/``atol`` are the local error
    tolerances in the integration variable. ``backend`` as in :func:`solve_s_time`.

    This is :func:`diffmem_theory.core.dynamics.solve` with ``method="dopri5"`` on an
    :class:`EmpiricalScoreModel` (integrated inside the compiled kernel), ``t_span =
    [t_start, t_end]`` and ``saveat = save_t``; the result is a
    :class:`~diffmem_theory.core.dynamics.Trajectories` (``final``, ``t``, ``s``, ``x`` of shape
    ``(B, n_save, d)``, ``status``, ...).

    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPLinear
    >>> X0 = np.array([[0.5, -0.2]])                        # one data point: exact solution
    >>> sched = VPLinear(0.001, 3.0)
    >>> sol = reverse_ode([1.0, 1.0], X0, sched, t_end=0.01, time="t", rtol=1e-10, atol=1e-12)
    >>> exact = sched.alpha(0.01) * X0[0] + sched.sigma(0.01) / sched.sigma(1.0) * (
    ...     np.array([1.0, 1.0]) - sched.alpha(1.0) * X0[0])
    >>> bool(np.allclose(sol.final[0], exact, atol=1e-9))
    True
    """
    x, single, data = _states_and_data(x_T, X0, "x_T")
    time = check_choice(time, "time", ("s", "t"))
    if not isinstance(schedule, Schedule):
        raise ValueError(
            f"schedule must be a Schedule preset (VEPower, VEExp, VPLinear, VPExp, OU, VPTrig, "
            f"FlowMatching), got {schedule!r}"
        )
    _, c_map, _ = _score_args(score, c)
    T = _start_time(schedule, t_start)
    t_end = check_scalar(t_end, "t_end", low=0.0, low_open=c_map == 0, high=T, high_open=True)
    times = _save_grid(save_t, T, t_end, "save_t")
    rtol, atol, max_steps = _tolerances(rtol, atol, max_steps)
    backend = check_choice(backend, "backend", BACKENDS)
    if time == "t":
        _check_t_drift(schedule, t_end, c_map)
    sol = solve(
        EmpiricalScoreModel(data, schedule, score, c), schedule, x, [T, t_end],
        method="dopri5", saveat=times, time=time, rtol=rtol, atol=atol, max_steps=max_steps,
        backend=backend,
    )  # fmt: skip
    if not single:
        return sol
    return Trajectories(sol.t, sol.s, sol.x[:1], sol.final[:1], *_stats(sol))


def _stats(sol: Trajectories) -> tuple[np.ndarray, ...]:
    return sol.status, sol.n_steps, sol.n_rejected, sol.nfev


def s_time_velocity(
    y: ArrayLike,
    s: float,
    X0: ArrayLike,
    *,
    family: str = "VE",
    score: str = "empirical",
    c: float = 0.0,
) -> np.ndarray:
    r"""The s-time vector field dy/ds of (4.24)/(5.9) (VE) or (C.6) (VP), vectorized NumPy.

    See :func:`solve_s_time` for the formula. Uses the array-API softmax kernel
    (``backend="numpy"``), independent of the compiled integrator's own field.

    >>> import numpy as np
    >>> v = s_time_velocity([0.5, 0.5], 0.0, [[1.0, 0.0], [-1.0, 0.0]])
    >>> np.round(v, 6)                            # -(y - tanh(0.5) e_1)
    array([-0.037883, -0.5     ])
    """
    yq, single, data = _states_and_data(y, X0, "y")
    family = check_choice(family, "family", FAMILIES)
    kernel_score, c_map, log_ceb = _score_args(score, c)
    # e^(-2s) is the variance: below s = -354 it overflows float64
    s = check_scalar(s, "s", low=_S_MIN)
    v = math.exp(-2.0 * s) - c_map
    if v <= 0:
        raise ValueError(f"s must be < -1/2 log c (variance e^(-2s) - c > 0), got {s!r}")
    m = 1.0 if family == "VE" else math.sqrt(max(1.0 - v, 0.0))
    if m == 0.0:
        raise ValueError(f"s must give e^(-2s) - c < 1 for VP, got {s!r}")
    x_n, lse = softmax_weighted_sum(
        yq, data, scale=m, var=v, return_logsumexp=True, backend="numpy"
    )
    rho = _rho(np.asarray(lse), kernel_score, log_ceb, data.shape[0], yq.shape[1], v)[:, None]
    if family == "VE":
        out = -rho * (yq - x_n)
    else:
        out = ((v + c_map) * yq - rho * (yq - m * x_n)) / (m * m)
    return unbatch(out, single)


def _rho(lse: np.ndarray, score: str, log_ceb: float, N: int, d: int, v: float) -> np.ndarray:
    """The empirical-Bayes factor rho = min(1, S/c) ((5.12)) or min(1, p^N/c) ((5.11))."""
    if score == "empirical":
        return np.ones_like(lse)
    if score == "eb_normalized":
        lse = lse - math.log(N) - 0.5 * d * math.log(2.0 * math.pi * v)
    return np.exp(np.minimum(0.0, lse - log_ceb))


def t_time_velocity(
    x: ArrayLike,
    t: float,
    X0: ArrayLike,
    schedule: Schedule,
    *,
    score: str = "empirical",
    c: float = 0.0,
) -> np.ndarray:
    r"""The reverse-ODE vector field dx/dt = f(t) x - (g(t)/2) s(x, t) of (4.1), NumPy.

    Baptista et al. (paper 002), (4.1), (4.19), (C.1), (5.8); ``score`` and ``c`` as in
    :func:`reverse_ode`. The score is evaluated by :mod:`diffmem_theory.voronoi.scores`.

    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VE
    >>> X0 = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> np.round(t_time_velocity([0.5, 0.5], 0.5, X0, VE.linear2t()), 6)  # (x - x_N)/t
    array([-0.928055,  1.      ])
    """
    schedule = as_schedule(schedule, required=True)
    _score_args(score, c)
    t = check_scalar(t, "t")
    f = float(schedule.drift(t))
    g2 = float(schedule.diffusion2(t))
    if score == "tikhonov":
        sc = voronoi.tikhonov_score(x, t, X0, schedule, c)
    elif score == "empirical":
        sc = voronoi.empirical_score(x, t, X0, schedule)
    else:
        sc = voronoi.eb_score(x, t, X0, schedule, c, normalized=score == "eb_normalized")
    return f * np.asarray(x, dtype=np.float64) - 0.5 * g2 * sc


def voronoi_ode(y1: ArrayLike, X0: ArrayLike, s: ArrayLike, s1: float = 0.0) -> np.ndarray:
    r"""Closed-form solution of the large-s Voronoi ODE dy/ds = -(y - x_0^{n(y)}) (Remark 4.7).

    Baptista et al. (paper 002), (4.25): with n = argmin_n |y(s1) - x_0^n| the cell of the
    start, each open cell is invariant (cells are convex and the flow is a straight-line
    contraction to the centre) and

        y(s) = x_0^n + e^{-(s - s1)} (y(s1) - x_0^n),     s >= s1.

    ``y1`` is ``(B, d)`` or ``(d,)``, ``s`` a scalar or ``(S,)``; returns ``(B, S, d)`` (without
    the axes that were scalars). In VE t-time this is x(t) = x_0^n + sigma(t)/sigma(t1)
    (x(t1) - x_0^n).

    >>> import numpy as np
    >>> np.round(voronoi_ode([0.9, 0.2], [[1.0, 0.0], [-1.0, 0.0]], np.log(2.0)), 6)
    array([0.95, 0.1 ])
    """
    y, single, data = _states_and_data(y1, X0, "y1")
    s1 = check_scalar(s1, "s1")
    s_arr = as_float_array(s, "s", ndim=(0, 1), dtype=np.float64)
    if np.any(s_arr < s1):
        raise ValueError(f"s must be a scalar or 1-d array of finite values >= s1, got {s!r}")
    dist = ((y[:, None, :] - data[None, :, :]) ** 2).sum(axis=-1)
    centre = data[np.argmin(dist, axis=1)]
    decay = np.exp(-(np.atleast_1d(s_arr) - s1))
    out = centre[:, None, :] + decay[None, :, None] * (y - centre)[:, None, :]
    if s_arr.ndim == 0:
        out = out[:, 0]
    return unbatch(out, single)


def reverse_sde(
    x_T: ArrayLike,
    X0: ArrayLike,
    schedule: Schedule,
    times: ArrayLike,
    *,
    alpha2: float = 1.0,
    score: str = "empirical",
    c: float = 0.0,
    rng: np.random.Generator | int,
) -> np.ndarray:
    r"""Euler-Maruyama for the reverse-time family (2.10) with the empirical score.

    Baptista et al. (paper 002), (2.10) (alpha_2 = 1: the reverse SDE (2.8); alpha_2 = 0: the
    probability-flow ODE (2.9) by Euler's method):

        dx = [-1/2 beta x - 1/2 (1 + alpha_2) g s(x, t)] dt + sqrt(alpha_2 g) dB,

    stepped backward on ``times`` (decreasing, in the schedule's domain; the last one, where no
    coefficient is evaluated, may be 0) with coefficients at the left end of each step; returns
    the final states, shaped like ``x_T``. This is :func:`diffmem_theory.core.dynamics.solve`
    with ``method="euler_maruyama"`` and ``noise_scale = alpha_2`` on an
    :class:`EmpiricalScoreModel` (the drift of (2.10) is f x - ((1 + alpha_2)/2) g s).

    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VE
    >>> X0 = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> grid = np.geomspace(1.0, 1e-4, 400)
    >>> out = reverse_sde(np.zeros((2000, 2)), X0, VE.exp(), grid, rng=0)
    >>> bool(np.all(np.min(np.abs(out[:, 0:1] - X0[:, 0]), axis=1) < 0.05))
    True
    """
    xq, single, data = _states_and_data(x_T, X0, "x_T")
    schedule = as_schedule(schedule, required=True)
    _score_args(score, c)
    alpha2 = check_scalar(alpha2, "alpha2", low=0.0)
    grid = as_float_array(times, "times", ndim=1, dtype=np.float64)
    if grid.size < 2 or np.any(np.diff(grid) >= 0) or grid[-1] < 0:
        raise ValueError(f"times must be a 1-d decreasing array of >= 2 times >= 0, got {times!r}")
    schedule.check_time(grid[:-1], "times")  # the coefficients are taken at the left ends
    model = EmpiricalScoreModel(data, schedule, score, c)
    sol = solve(
        model, schedule, xq, grid, method="euler_maruyama", noise_scale=alpha2, rng=as_rng(rng)
    )
    return unbatch(sol.final, single)
