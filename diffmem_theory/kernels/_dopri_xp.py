"""Lock-step batched Dormand-Prince 5(4) on the array API (private; the GPU twin of ``_dopri``).

The same method, controller and vector field as :mod:`diffmem_theory.kernels._dopri` (SciPy's
RK45 tableau, error norm, safety factors, initial step and 4th-order dense output), but
vectorized over trajectories instead of looping over them: every iteration makes one trial
step for every running trajectory at once, each with its own time tau_b and step h_b, and
accepts or rejects it per trajectory (masks), so a trajectory takes exactly the steps it takes
alone. The vector field of all running trajectories is one call of the array-API softmax
(:func:`~diffmem_theory.kernels._array_api.softmax_weighted_sum_xp`) with per-query scale
m(tau_b) and precision 1 / (2 v(tau_b)); rows at v = 0 (Tikhonov at t = 0) take the Voronoi
indicator (nearest training point, ties shared equally).

Only array-API operations on the namespace of the inputs, so the same code runs on NumPy
(tested against the Numba integrator) and on CuPy.
"""

from __future__ import annotations

import math
from typing import Any

from array_api_compat import array_namespace

from diffmem_theory.kernels import _dopri
from diffmem_theory.kernels._array_api import softmax_weighted_sum_xp
from diffmem_theory.kernels._dopri import (
    EB_NORMALIZED,
    EMPIRICAL,
    FLOW_MATCHING,
    MAX_STEPS,
    NONFINITE,
    S_VE,
    S_VP,
    STEP_TOO_SMALL,
    T_TIME,
    VE_EXP,
    VE_POWER,
    VP_AFFINE,
)

_LOG_2PI = math.log(2.0 * math.pi)


def coefficients(kind: int, p: tuple[float, float, float], tau: Any) -> tuple:
    """(f, g^2, m, v = sigma^2) of a schedule at the times ``tau`` (array; kinds of ``_dopri``).

    >>> import numpy as np
    >>> f, g2, m, v = coefficients(_dopri.VP_TRIG, (0.0, 0.0, 0.0), np.array([0.6]))
    >>> np.round([f[0], g2[0], m[0], v[0]], 12).tolist()     # VPTrig: alpha = 0.8, sigma = 0.6
    [-0.9375, 1.875, 0.8, 0.36]
    """
    xp = array_namespace(tau)
    if kind == VE_POWER:
        v = p[1] * tau ** (p[0] + 1.0) / (p[0] + 1.0)
        return xp.zeros_like(tau), p[1] * tau ** p[0], xp.ones_like(tau), v
    if kind == VE_EXP:
        return (
            xp.zeros_like(tau),
            xp.exp(p[0] * tau),
            xp.ones_like(tau),
            xp.expm1(p[0] * tau) / p[0],
        )
    if kind == VP_AFFINE:
        beta = p[0] + p[1] * tau
        big_b = tau * (p[0] + 0.5 * p[1] * tau)
        return -0.5 * beta, p[2] * beta, xp.exp(-0.5 * big_b), -p[2] * xp.expm1(-big_b)
    if kind == FLOW_MATCHING:
        return -1.0 / (1.0 - tau), 2.0 * tau / (1.0 - tau), 1.0 - tau, tau * tau
    one_m = (1.0 - tau) * (1.0 + tau)  # VP_TRIG
    return -tau / one_m, 2.0 * tau / one_m, xp.sqrt(one_m), tau * tau


def velocity(tau: Any, x: Any, data: Any, field: tuple) -> Any:
    """The vector field of ``_dopri`` (its module docstring) at rows ``x`` (B, d), times ``tau``.

    ``field`` is ``(mode, kind, p, c, score, log_ceb)``; ``data`` the (N, d) training points.

    >>> import numpy as np
    >>> X0 = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> field = (_dopri.S_VE, 0, (0.0, 0.0, 0.0), 0.0, _dopri.EMPIRICAL, 0.0)
    >>> velocity(np.zeros(1), np.array([[0.5, 0.5]]), X0, field).round(6).tolist()
    [[-0.037883, -0.5]]
    """
    xp = array_namespace(x, data)
    mode, kind, p, c, score, log_ceb = field
    if mode == T_TIME:
        f, g2, m, v = coefficients(kind, p, tau)
    else:
        v = xp.clip(xp.exp(-2.0 * tau) - c, 0.0, None)
        m = xp.ones_like(tau) if mode == S_VE else xp.sqrt(xp.clip(1.0 - v, 0.0, None))
    x_n, log_s = weighted_mean(x, data, m, v)
    rho = 1.0
    if score != EMPIRICAL:  # log sum_n w~_n (minus log N (2 pi v)^{d/2} for (5.11))
        if score == EB_NORMALIZED:
            log_s = log_s - (math.log(data.shape[0]) + 0.5 * x.shape[1] * (_LOG_2PI + xp.log(v)))
        rho = xp.exp(xp.clip(log_s - log_ceb, None, 0.0))[:, None]
    if mode == S_VE:
        return -rho * (x - x_n)
    if mode == S_VP:
        return ((v + c)[:, None] * x - rho * (x - m[:, None] * x_n)) / (m * m)[:, None]
    coef = (0.5 * g2 / (v + c))[:, None]
    return f[:, None] * x + coef * rho * (x - m[:, None] * x_n)


def weighted_mean(x: Any, data: Any, m: Any, v: Any) -> tuple[Any, Any]:
    """x_N = sum_n softmax_n(-|x - m x_0^n|^2 / (2 v)) x_0^n per row, and log sum_n w~_n.

    Rows with v = 0 take the nearest point(s) (ties share equally) and log-sum 0, as ``_dopri``.

    >>> import numpy as np
    >>> X0 = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> x_n, _ = weighted_mean(np.array([[0.5, 0.0], [0.0, 1.0]]), X0, np.ones(2), np.zeros(2))
    >>> x_n.tolist()                              # nearest point; a tie shares equally
    [[1.0, 0.0], [0.0, 0.0]]
    """
    xp = array_namespace(x, data)
    smooth = v > 0.0
    if bool(xp.all(smooth)):
        return _softmax_rows(x, data, m, v)
    x_n = xp.zeros_like(x)
    log_s = xp.zeros_like(v)
    (rows,) = xp.nonzero(smooth)
    if rows.shape[0] > 0:
        x_n[rows, :], log_s[rows] = _softmax_rows(
            xp.take(x, rows, axis=0), data, xp.take(m, rows), xp.take(v, rows)
        )
    (rows,) = xp.nonzero(~smooth)
    x_n[rows, :] = _voronoi_rows(xp.take(x, rows, axis=0), data, xp.take(m, rows))
    return x_n, log_s


def _softmax_rows(x: Any, data: Any, m: Any, v: Any) -> tuple[Any, Any]:
    xp = array_namespace(x, data)
    N = data.shape[0]
    ones, zeros = xp.ones(N, dtype=x.dtype), xp.zeros(N, dtype=x.dtype)
    return softmax_weighted_sum_xp(x, data, data, m, ones, zeros, None, None, True, 0.5 / v)


def _voronoi_rows(x: Any, data: Any, m: Any) -> Any:
    """The mean of the nearest point(s) x_0^n to x / m (exact differences, few rows)."""
    xp = array_namespace(x, data)
    diff = x[:, None, :] - m[:, None, None] * data[None, :, :]
    dist = xp.sum(diff * diff, axis=2)
    near = xp.astype(dist == xp.min(dist, axis=1)[:, None], x.dtype)
    return xp.matmul(near, data) / xp.sum(near, axis=1)[:, None]


def _rms(err: Any, y: Any, y_new: Any, rtol: float, atol: float) -> Any:
    xp = array_namespace(err)
    scale = atol + rtol * xp.maximum(xp.abs(y), xp.abs(y_new))
    return xp.sqrt(xp.mean((err / scale) ** 2, axis=1))


def _initial_step(tau0: Any, y0: Any, f0: Any, direction: float, tols: tuple, rhs: Any) -> Any:
    """scipy.integrate._ivp.common.select_initial_step per row (order 4 error estimate)."""
    xp = array_namespace(y0)
    rtol, atol = tols
    scale = atol + xp.abs(y0) * rtol
    d0 = xp.sqrt(xp.mean((y0 / scale) ** 2, axis=1))
    d1 = xp.sqrt(xp.mean((f0 / scale) ** 2, axis=1))
    small = (d0 < 1e-5) | (d1 < 1e-5)
    h0 = xp.where(small, 1e-6, 0.01 * d0 / xp.where(small, 1.0, d1))
    f1 = rhs(tau0 + h0 * direction, y0 + (h0 * direction)[:, None] * f0)
    d2 = xp.sqrt(xp.mean(((f1 - f0) / scale) ** 2, axis=1)) / h0
    flat = (d1 <= 1e-15) & (d2 <= 1e-15)
    h1 = xp.where(flat, xp.maximum(1e-6, h0 * 1e-3), (0.01 / xp.maximum(d1, d2)) ** 0.2)
    return xp.minimum(100.0 * h0, h1)


def _trial(tau: Any, y: Any, k0: Any, h: Any, rhs: Any, tols: tuple) -> tuple[Any, Any, Any]:
    """One DP5(4) trial step per row: (y_new, stages K (7, B, d), error norm)."""
    xp = array_namespace(y)
    stages = [k0]
    for i in range(1, 6):
        acc = sum(float(_dopri._A[i, j]) * stages[j] for j in range(i))
        stages.append(rhs(tau + _dopri._C[i] * h, y + h[:, None] * acc))
    y_new = y + h[:, None] * sum(float(_dopri._B[j]) * stages[j] for j in range(6))
    stages.append(rhs(tau + h, y_new))
    err = h[:, None] * sum(float(_dopri._E[j]) * stages[j] for j in range(7))
    return y_new, xp.stack(stages), _rms(err, y, y_new, *tols)


def _dense(y: Any, h: Any, K: Any, theta: Any) -> Any:
    """The 4th-order continuous extension y + h sum_j K_j q_j(theta) (scipy's RK45 P)."""
    acc = 0.0
    for j in range(7):
        q = sum(float(_dopri._P[j, r]) * theta ** (r + 1) for r in range(4))
        acc = acc + K[j] * q[:, None]
    return y + h[:, None] * acc


def empirical_rhs(data: Any, field: tuple) -> Any:
    """The right-hand side ``rhs(tau, x)`` of the empirical-score field on the rows of ``x``.

    ``field`` is ``(mode, kind, p, c, score, log_ceb)`` and ``data`` the (N, d) training points.
    """

    def rhs(tau: Any, x: Any) -> Any:
        return velocity(tau, x, data, field)

    return rhs


def integrate_batch(
    Y: Any,
    rhs: Any,
    tau0: float,
    tau1: float,
    save: Any,
    rtol: float,
    atol: float,
    max_steps: int,
) -> tuple[Any, Any, Any]:
    """Integrate every row of ``Y`` (B, d) from tau0 to tau1 in lock-step; return the final
    states (B, d), the states at ``save`` (B, n_save, d) and per-row (status, accepted,
    rejected, nfev) (B, 4) int64.

    ``rhs(tau, x)`` is the vector field at rows ``x`` (B', d) and per-row times ``tau`` (B',)
    (:func:`empirical_rhs`, or any array-API function); ``save`` a float64 array on the same
    device; statuses are those of ``_dopri``. Saved times that a failed trajectory never reached
    hold NaN; its final state is its last accepted one.

    >>> import numpy as np
    >>> field = (_dopri.S_VE, 0, (0.0, 0.0, 0.0), 0.0, _dopri.EMPIRICAL, 0.0)
    >>> X0 = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> y, out, stats = integrate_batch(np.array([[0.5, 2.1]]), empirical_rhs(X0, field), 0.0,
    ...                                 30.0, np.array([30.0]), 1e-8, 1e-8, 1000)
    >>> np.round(out[:, -1], 8).tolist(), int(stats[0, 0])
    ([[1.0, 0.0]], 0)
    """
    xp = array_namespace(Y, save)
    B, d = Y.shape
    n_save = save.shape[0]
    direction = 1.0 if tau1 >= tau0 else -1.0
    tols = (rtol, atol)
    out = xp.full((B, n_save, d), math.nan, dtype=Y.dtype)  # NaN: never reached
    i_save = xp.zeros(B, dtype=xp.int64)
    at_start = int(xp.sum(xp.astype(direction * (save - tau0) <= 0.0, xp.int64)))
    out[:, :at_start, :] = Y[:, None, :]
    i_save += at_start

    y = xp.asarray(Y, copy=True)
    tau = xp.full(B, tau0, dtype=Y.dtype)
    k0 = rhs(tau, y)
    # a field that is not finite at the start ends its trajectory there (and the initial-step
    # heuristic, which would take a NaN step, sees a zero field instead)
    bad = ~xp.all(xp.isfinite(k0), axis=1)
    h_abs = _initial_step(tau, y, xp.where(bad[:, None], 0.0, k0), direction, tols, rhs)
    counts = xp.zeros((B, 3), dtype=xp.int64)  # accepted, rejected, nfev
    counts[:, 2] = 2
    status = xp.where(bad, NONFINITE, -1)  # -1: running
    fresh = xp.ones(B, dtype=xp.bool)  # the next trial starts a new step
    retried = xp.zeros(B, dtype=xp.bool)  # the current step had a rejected trial
    min_step = xp.zeros(B, dtype=Y.dtype)
    while True:
        # a new step: finished? out of steps? (as _dopri, checked before the step only)
        done = fresh & (status < 0) & (direction * (tau - tau1) >= 0.0)
        status = xp.where(done, 0, status)
        spent = fresh & (status < 0) & (counts[:, 0] + counts[:, 1] >= max_steps)
        status = xp.where(spent, MAX_STEPS, status)
        (rows,) = xp.nonzero(status < 0)
        if rows.shape[0] == 0:
            break
        t_r, y_r, h_r = xp.take(tau, rows), xp.take(y, rows, axis=0), xp.take(h_abs, rows)
        new = xp.take(fresh, rows)
        spacing = 10.0 * xp.abs(xp.nextafter(t_r, xp.full_like(t_r, direction * math.inf)) - t_r)
        floor = xp.where(new, spacing, xp.take(min_step, rows))
        h_r = xp.where(new, xp.maximum(h_r, floor), h_r)
        again = xp.take(retried, rows) & ~new
        t_new = t_r + h_r * direction
        t_new = xp.where(direction * (t_new - tau1) > 0.0, tau1, t_new)
        h = t_new - t_r
        h_r = xp.abs(h)
        y_new, K, err = _trial(t_r, y_r, xp.take(k0, rows, axis=0), h, rhs, tols)
        counts[rows, 2] += 6
        bad = ~xp.isfinite(err)
        ok = (err < 1.0) & ~bad
        safe = xp.where(ok & (err > 0.0), err, 1.0)
        grow = xp.where(
            err == 0.0,
            _dopri._MAX_FACTOR,
            xp.minimum(_dopri._MAX_FACTOR, _dopri._SAFETY * safe**-0.2),
        )
        grow = xp.where(again, xp.minimum(1.0, grow), grow)
        shrink = xp.maximum(
            _dopri._MIN_FACTOR, _dopri._SAFETY * xp.where(ok | bad, 1.0, err) ** -0.2
        )
        h_r = h_r * xp.where(ok, grow, shrink)
        rejected = ~ok & ~bad
        status[rows] = xp.where(
            bad, NONFINITE, xp.where(rejected & (h_r < floor), STEP_TOO_SMALL, -1)
        )
        counts[rows, 1] += xp.astype(rejected, xp.int64)
        counts[rows, 0] += xp.astype(ok, xp.int64)
        h_abs[rows], min_step[rows] = h_r, floor
        fresh[rows], retried[rows] = ok, rejected
        (acc,) = xp.nonzero(ok)
        if acc.shape[0] > 0:
            _save_states(out, i_save, save, xp.take(rows, acc), direction, (
                xp.take(t_r, acc), xp.take(t_new, acc), xp.take(h, acc),
                xp.take(y_r, acc, axis=0), xp.take(K, acc, axis=1),
            ))  # fmt: skip
            moved = xp.take(rows, acc)
            tau[moved] = xp.take(t_new, acc)
            y[moved, :] = xp.take(y_new, acc, axis=0)
            k0[moved, :] = xp.take(K[6], acc, axis=0)
    return y, out, xp.concat([status[:, None], counts], axis=1)


def _save_states(
    out: Any, i_save: Any, save: Any, rows: Any, direction: float, step: tuple
) -> None:
    """Write the saved times in (tau, tau_new] of the accepted ``rows`` (dense output)."""
    xp = array_namespace(out)
    t_r, t_new, h, y_r, K = step
    n_save = save.shape[0]
    while True:
        nxt = xp.take(i_save, rows)
        pending = nxt < n_save
        t_save = xp.take(save, xp.clip(nxt, 0, n_save - 1))
        due = pending & (direction * (t_save - t_new) <= 0.0)
        (sel,) = xp.nonzero(due)
        if sel.shape[0] == 0:
            return
        theta = (xp.take(t_save, sel) - xp.take(t_r, sel)) / xp.take(h, sel)
        states = _dense(xp.take(y_r, sel, axis=0), xp.take(h, sel), xp.take(K, sel, axis=1), theta)
        target = xp.take(rows, sel)
        out[target, xp.take(nxt, sel), :] = states
        i_save[target] += 1
