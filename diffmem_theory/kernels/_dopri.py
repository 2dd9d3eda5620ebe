"""Batched Dormand-Prince 5(4) for the empirical-score reverse ODE (private).

Reached only through :func:`diffmem_theory.kernels.integrate` (an ``EmpiricalField``).

Every trajectory is integrated on its own (per-trajectory step-size control, FSAL, the
4th-order continuous extension for saved times), trajectories in parallel: each trajectory is one
work item, handed out dynamically to the slots of one ``prange``
(:mod:`diffmem_theory.kernels._parallel`), and writes only its own rows of the output, so the
results do not depend on the number of threads, and a thread that another process slows down
simply takes fewer trajectories. Nothing inside raises (``error_model="numpy"``: a division by
zero gives inf or NaN); a state or field that is not finite ends its trajectory with status
``NONFINITE``.
The tableau, error weights, dense-output matrix and step-size rules are those of
``scipy.integrate.RK45`` (Dormand & Prince 1980; Hairer, Norsett & Wanner, Sec. II.4-5), so a
one-trajectory run takes the same steps as SciPy on that trajectory.

The vector field (one query ``x``, training points x_0^n given transposed as ``XT``, (d, N)):

    logits_n = -|x - m x_0^n|^2 / (2 v),  w = softmax(logits),  x_N = sum_n w_n x_0^n,
    rho = 1, or min(1, S / c_eb) for empirical Bayes (5.12) with S = sum_n exp(logits_n)
          (min(1, p^N / c_eb) with p^N = S / (N (2 pi v)^{d/2}) for (5.11)),

* s-time, VE (4.24)/(5.9):  dy/ds = -rho (y - x_N),           v = e^{-2s} - c, m = 1;
* s-time, VP (C.6):         dy/ds = [(v + c) y - rho (y - m x_N)] / m^2,   m^2 = 1 - v;
* t-time (4.1)/(5.8):       dx/dt = f x + (g^2 / 2) rho (x - m x_N) / (v + c),

with (f, g^2, m, v = sigma^2) of the schedule (``kind`` codes below). c is the Tikhonov
constant of (5.7) (0 for the plain empirical score). At v = 0 (t = 0 with c > 0, where the
Gaussian weights are 0/0) the weights are their limit, the Voronoi indicator: the nearest
training point (ties share equally).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from diffmem_theory.kernels._numba import _FASTMATH, exp_nonpositive_scalar
from diffmem_theory.kernels._parallel import n_slots, new_counter, next_item

# schedule kinds for t-time coefficients; params p = (p0, p1, p2)
VE_POWER = 0  # g^2 = p1 t^p0, sigma^2 = p1 t^(p0+1)/(p0+1)
VE_EXP = 1  # g^2 = e^{p0 t}, sigma^2 = expm1(p0 t)/p0
VP_AFFINE = 2  # beta = p0 + p1 t, lam = p2: f = -beta/2, g^2 = lam beta, sigma^2 = -lam expm1(-B)
VP_TRIG = 3  # alpha = sqrt(1 - t^2), sigma = t
FLOW_MATCHING = 4  # alpha = 1 - t, sigma = t: f = -1/(1 - t), g^2 = 2t/(1 - t)
# the names by which a schedule's ``kernel_spec()`` designates its kind
KINDS = {
    "ve_power": VE_POWER,
    "ve_exp": VE_EXP,
    "vp_affine": VP_AFFINE,
    "vp_trig": VP_TRIG,
    "flow_matching": FLOW_MATCHING,
}

# time variables / families / scores
S_VE, S_VP, T_TIME = 0, 1, 2
MODES = {"s_ve": S_VE, "s_vp": S_VP, "t": T_TIME}
EMPIRICAL, EB, EB_NORMALIZED = 0, 1, 2
SCORES = {"empirical": EMPIRICAL, "eb": EB, "eb_normalized": EB_NORMALIZED}

# status codes
SUCCESS, MAX_STEPS, STEP_TOO_SMALL, NONFINITE = 0, 1, 2, 3

# Largest squared norm of a state (and of a training point): the squared distances (logits) then
# stay below 4e300, finite. A state beyond it (or not finite) gives a NaN field: NONFINITE.
STATE_MAX_SQ = 1e300

_C = (0.0, 1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0, 1.0)
_A = np.array(
    [
        [0.0, 0.0, 0.0, 0.0, 0.0],
        [1.0 / 5.0, 0.0, 0.0, 0.0, 0.0],
        [3.0 / 40.0, 9.0 / 40.0, 0.0, 0.0, 0.0],
        [44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0, 0.0, 0.0],
        [19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0, 0.0],
        [9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0, 49.0 / 176.0, -5103.0 / 18656.0],
    ]
)
_B = np.array([35.0 / 384.0, 0.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0])
_E = np.array(
    [
        -71.0 / 57600.0,
        0.0,
        71.0 / 16695.0,
        -71.0 / 1920.0,
        17253.0 / 339200.0,
        -22.0 / 525.0,
        1.0 / 40.0,
    ]
)
_P = np.array(
    [
        [
            1.0,
            -8048581381.0 / 2820520608.0,
            8663915743.0 / 2820520608.0,
            -12715105075.0 / 11282082432.0,
        ],
        [0.0, 0.0, 0.0, 0.0],
        [
            0.0,
            131558114200.0 / 32700410799.0,
            -68118460800.0 / 10900136933.0,
            87487479700.0 / 32700410799.0,
        ],
        [
            0.0,
            -1754552775.0 / 470086768.0,
            14199869525.0 / 1410260304.0,
            -10690763975.0 / 1880347072.0,
        ],
        [
            0.0,
            127303824393.0 / 49829197408.0,
            -318862633887.0 / 49829197408.0,
            701980252875.0 / 199316789632.0,
        ],
        [0.0, -282668133.0 / 205662961.0, 2019193451.0 / 616988883.0, -1453857185.0 / 822651844.0],
        [0.0, 40617522.0 / 29380423.0, -110615467.0 / 29380423.0, 69997945.0 / 29380423.0],
    ]
)
# The helpers below are inlined by Numba (``inline="always"``): as calls, each passed a dozen
# arrays field by field and counted their references, which cost about as much as the arithmetic
# of an evaluation at N = 20, d = 2. They use no fast-math flags (an inlined function takes the
# flags of its caller), so inlining does not change a bit. ``_softmax_mean`` (reassociated sums,
# so that they vectorize) keeps its flags and stays a call.
_SAFETY, _MIN_FACTOR, _MAX_FACTOR = 0.9, 0.2, 10.0
_LOG_2PI = math.log(2.0 * math.pi)
_NO_CONTRACT = _FASTMATH - {"contract"}


@intrinsic
def borrowed(typingctx, arr):
    """A view of the array ``arr`` that holds no reference to its memory (no meminfo).

    Numba counts the references of every array view it creates and of every array passed to a
    function that it does not inline, with an atomic add on the array's meminfo. The integrators
    make tens of such calls and views per evaluation of the field: at N = 20, d = 2 the atomic
    adds took a third of the time, and threads that share the data contend for the same
    counter. A borrowed view (and every view taken from it) costs no atomic operation. It must
    not outlive ``arr``: the integrators borrow only their arguments, the arrays they return and
    arrays that stay in use until their parallel loop ends. A local array is borrowed inside the
    ``prange`` body, never before the loop: Numba may free a local whose last owned use
    precedes the loop while the threads still write through the borrowed view.
    """
    if not isinstance(arr, types.Array):
        return None

    def codegen(context, builder, signature, args):
        src = context.make_array(signature.args[0])(context, builder, args[0])
        view = context.make_array(signature.return_type)(context, builder)
        view.meminfo = cgutils.get_null_value(view.meminfo.type)
        view.parent = cgutils.get_null_value(view.parent.type)
        view.nitems = src.nitems
        view.itemsize = src.itemsize
        view.data = src.data
        view.shape = src.shape
        view.strides = src.strides
        return view._getvalue()

    return arr(arr), codegen


@njit(inline="always", cache=True, error_model="numpy")
def coefficients(kind, p, t):
    """(f, g^2, m, v = sigma^2) of a schedule at time t (kinds above)."""
    if kind == VE_POWER:
        v = p[1] * t ** (p[0] + 1.0) / (p[0] + 1.0)
        return 0.0, p[1] * t ** p[0], 1.0, v
    if kind == VE_EXP:
        return 0.0, math.exp(p[0] * t), 1.0, math.expm1(p[0] * t) / p[0]
    if kind == VP_AFFINE:
        beta = p[0] + p[1] * t
        big_b = t * (p[0] + 0.5 * p[1] * t)
        return -0.5 * beta, p[2] * beta, math.exp(-0.5 * big_b), -p[2] * math.expm1(-big_b)
    if kind == FLOW_MATCHING:
        return -1.0 / (1.0 - t), 2.0 * t / (1.0 - t), 1.0 - t, t * t
    one_m = (1.0 - t) * (1.0 + t)  # VP_TRIG
    return -t / one_m, 2.0 * t / one_m, math.sqrt(one_m), t * t


@njit(inline="always", cache=True, error_model="numpy")
def _logits(x, XT, m, logits):
    """logits_n = -|x - m x_0^n|^2 (data transposed, ``XT`` is (d, N)); returns their max.

    No fused multiply-adds (no fast-math 'contract', here or in the callers it is inlined
    into), so the logits keep the data's symmetries exactly (a start on a symmetry line of the
    data set stays on it, paper 002 Fig. 3).
    """
    d, N = XT.shape
    x0 = x[0]
    for n in range(N):  # (the first coordinate stores: no zero-filling pass, which is a memset)
        diff = x0 - m * XT[0, n]
        logits[n] = -(diff * diff)
    for k in range(1, d):
        xk = x[k]
        for n in range(N):
            diff = xk - m * XT[k, n]
            logits[n] -= diff * diff
    # the max in four independent chains (a max reduction does not vectorize; one chain of N
    # dependent maxima was a fifth of the evaluation's time at N = 20)
    b0 = b1 = b2 = b3 = -np.inf
    n = 0
    while n + 4 <= N:
        b0 = max(b0, logits[n])
        b1 = max(b1, logits[n + 1])
        b2 = max(b2, logits[n + 2])
        b3 = max(b3, logits[n + 3])
        n += 4
    while n < N:
        b0 = max(b0, logits[n])
        n += 1
    return max(max(b0, b1), max(b2, b3))


@njit(fastmath=_FASTMATH, cache=True, error_model="numpy")
def _softmax_mean(XT, scale, best, logits, xn):
    """Weights exp((logits - best) scale) in place, x_N into ``xn``; returns their sum."""
    d, N = XT.shape
    total = 0.0
    for n in range(N):
        w = exp_nonpositive_scalar((logits[n] - best) * scale)
        logits[n] = w
        total += w
    for k in range(d):
        acc = 0.0
        for n in range(N):
            acc += logits[n] * XT[k, n]
        xn[k] = acc / total
    return total


@njit(inline="always", cache=True, error_model="numpy")
def _voronoi_mean(XT, best, logits, xn):
    """x_N into ``xn`` for the weights' limit at v = 0: the nearest point(s) (ties share
    equally); ``best`` is the largest logit."""
    for n in range(logits.shape[0]):
        logits[n] = 0.0 if logits[n] == best else -np.inf
    _softmax_mean(XT, 1.0, 0.0, logits, xn)


@njit(inline="always", cache=True, error_model="numpy")
def field_coefficients(tau, mode, kind, p, c):
    """(f, g^2, m, v) of the field at time ``tau``: the schedule's in t-time; in s-time
    v = max(e^{-2 tau} - c, 0), m = 1 (VE) or sqrt(1 - v) (VP), f = g^2 = 0 (unused)."""
    if mode == T_TIME:
        return coefficients(kind, p, tau)
    v = max(math.exp(-2.0 * tau) - c, 0.0)
    if mode == S_VE:
        return 0.0, 0.0, 1.0, v
    return 0.0, 0.0, math.sqrt(max(1.0 - v, 0.0)), v


@njit(inline="always", cache=True, error_model="numpy")
def field_value(x, xn, shift, total, coef, mode, c, score, log_ceb, N, out):
    """The vector field (module docstring) from x_N (``xn``) and log sum_n w~_n = ``shift`` +
    log ``total`` (unused for the plain score, whose evaluations then take no logarithm);
    ``coef`` is ``field_coefficients``; writes ``out``."""
    f, g2, m, v = coef
    d = x.shape[0]
    rho = 1.0
    if score != EMPIRICAL:  # log sum_n w~_n (minus log N (2 pi v)^{d/2} for (5.11))
        log_s = shift + math.log(total)
        if score == EB_NORMALIZED:
            log_s -= math.log(N) + 0.5 * d * (_LOG_2PI + math.log(v))
        rho = math.exp(min(0.0, log_s - log_ceb))
    if mode == S_VE:
        for k in range(d):
            out[k] = -rho * (x[k] - xn[k])
    elif mode == S_VP:
        m2 = m * m
        for k in range(d):
            out[k] = ((v + c) * x[k] - rho * (x[k] - m * xn[k])) / m2
    else:
        coef = 0.5 * g2 * rho / (v + c)
        for k in range(d):
            out[k] = f * x[k] + coef * (x[k] - m * xn[k])


@njit(inline="always", cache=True, error_model="numpy")
def sum_sq(x):
    """|x|^2 of a 1-d array (a state is refused, NaN field, when not <= ``STATE_MAX_SQ``)."""
    xx = 0.0
    for k in range(x.shape[0]):
        xx += x[k] * x[k]
    return xx


@njit(inline="always", cache=True, error_model="numpy")
def velocity(tau, x, XT, mode, kind, p, c, score, log_ceb, out, xn, logits):
    """The vector field (module docstring) at one point; writes ``out``.

    NaN when |x|^2 exceeds ``STATE_MAX_SQ`` or is not finite (the logits would overflow).
    """
    if not sum_sq(x) <= STATE_MAX_SQ:
        out[:] = np.nan
        return
    coef = field_coefficients(tau, mode, kind, p, c)
    v = coef[3]
    best = _logits(x, XT, coef[2], logits)
    # x_N and log sum_n w~_n = best / (2 v) + log total; at v = 0 (or v so small that 1/(2v)
    # overflows) the Voronoi limit, with (0, 1). Two calls of field_value, so that the
    # logarithm stays behind its test of the score (merged, the compiler would take it always).
    scale = 0.5 / v if v > 0.0 else np.inf
    if scale < np.inf:
        total = _softmax_mean(XT, scale, best, logits, xn)
        field_value(x, xn, best / (2.0 * v), total, coef, mode, c, score, log_ceb, XT.shape[1], out)
    else:
        _voronoi_mean(XT, best, logits, xn)
        field_value(x, xn, 0.0, 1.0, coef, mode, c, score, log_ceb, XT.shape[1], out)


@njit(cache=True, error_model="numpy")
def velocity_call(tau, x, XT, mode, kind, p, c, score, log_ceb, out, xn, logits):
    """``velocity`` behind a function call, for the evaluations outside the integrator's step
    loop (the first two of a trajectory): one compiled copy of the field serves them all, where
    the inlined ``velocity`` adds a copy at every call site (compilation time)."""
    velocity(tau, x, XT, mode, kind, p, c, score, log_ceb, out, xn, logits)


@njit(inline="always", cache=True, error_model="numpy")
def _rms(err, y, y_new, rtol, atol):
    acc = 0.0
    for k in range(err.shape[0]):
        sc = atol + rtol * max(abs(y[k]), abs(y_new[k]))
        acc += (err[k] / sc) ** 2
    return math.sqrt(acc / err.shape[0])


@njit(inline="always", cache=True, error_model="numpy")
def initial_h0(y0, f0, rtol, atol):
    """First half of scipy.integrate._ivp.common.select_initial_step: the trial step h0 and
    the scaled norm d1 of the field (the field is then evaluated at y0 + h0 f0)."""
    d = y0.shape[0]
    d0 = d1 = 0.0
    for k in range(d):
        sc = atol + abs(y0[k]) * rtol
        d0 += (y0[k] / sc) ** 2
        d1 += (f0[k] / sc) ** 2
    d0, d1 = math.sqrt(d0 / d), math.sqrt(d1 / d)
    h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
    return h0, d1


@njit(inline="always", cache=True, error_model="numpy")
def initial_h1(y0, f0, f1, h0, d1, rtol, atol):
    """Second half of select_initial_step (order 4 error estimate), from the field f1 at
    tau0 + h0 direction, y0 + h0 direction f0."""
    d = y0.shape[0]
    d2 = 0.0
    for k in range(d):
        sc = atol + abs(y0[k]) * rtol
        d2 += ((f1[k] - f0[k]) / sc) ** 2
    d2 = math.sqrt(d2 / d) / h0
    if d1 <= 1e-15 and d2 <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** 0.2
    return min(100.0 * h0, h1)


@njit(inline="always", cache=True, error_model="numpy")
def _initial_step(tau0, y0, f0, direction, rtol, atol, args, y1, f1):
    """scipy.integrate._ivp.common.select_initial_step (order 4 error estimate)."""
    XT, mode, kind, p, c, score, log_ceb, xn, logits = args
    h0, d1 = initial_h0(y0, f0, rtol, atol)
    for k in range(y0.shape[0]):
        y1[k] = y0[k] + h0 * direction * f0[k]
    velocity_call(tau0 + h0 * direction, y1, XT, mode, kind, p, c, score, log_ceb, f1, xn, logits)
    return initial_h1(y0, f0, f1, h0, d1, rtol, atol)


@njit(inline="always", cache=True, error_model="numpy")
def trial_step(tau, h_abs, direction, tau1):
    """(tau_new, h) of a trial step of size ``h_abs`` from ``tau``, clipped at ``tau1``."""
    tau_new = tau + h_abs * direction
    if direction * (tau_new - tau1) > 0.0:
        tau_new = tau1
    return tau_new, tau_new - tau


@njit(inline="always", cache=True, error_model="numpy")
def stage_point(y, K, h, i, tau, tau_new, direction, stage):
    """Stage i (1..5) of the trial step: its state y + h sum_j A_ij K_j into ``stage``; returns
    its time (tau + c_i h, which can round past tau_new, to 0 when |tau_new| << |tau|: kept
    inside the step)."""
    for k in range(y.shape[0]):
        acc = 0.0
        for j in range(i):
            acc += _A[i, j] * K[j, k]
        stage[k] = y[k] + h * acc
    tau_i = tau + _C[i] * h
    if direction * (tau_i - tau_new) > 0.0:
        tau_i = tau_new
    return tau_i


@njit(inline="always", cache=True, error_model="numpy")
def step_solution(y, K, h, y_new):
    """The 5th-order solution y + h sum_j B_j K_j of the trial step into ``y_new``."""
    for k in range(y.shape[0]):
        acc = 0.0
        for j in range(6):
            acc += _B[j] * K[j, k]
        y_new[k] = y[k] + h * acc


@njit(inline="always", cache=True, error_model="numpy")
def step_error(y, y_new, K, h, err, rtol, atol):
    """The RMS norm of the embedded error estimate h sum_j E_j K_j (``err`` a work array)."""
    for k in range(y.shape[0]):
        acc = 0.0
        for j in range(7):
            acc += _E[j] * K[j, k]
        err[k] = h * acc
    return _rms(err, y, y_new, rtol, atol)


@njit(inline="always", cache=True, error_model="numpy")
def step_factor(err_norm, step_rejected):
    """The factor applied to |h| after a trial step with error norm ``err_norm`` < 1 (accepted;
    at most 1 after a rejection of the same step) or >= 1 (rejected)."""
    if err_norm < 1.0:
        if err_norm == 0.0:
            factor = _MAX_FACTOR
        else:
            factor = min(_MAX_FACTOR, _SAFETY * err_norm**-0.2)
        return min(1.0, factor) if step_rejected else factor
    return max(_MIN_FACTOR, _SAFETY * err_norm**-0.2)


@njit(inline="always", cache=True, error_model="numpy")
def dense_output(y, K, h, theta, out):
    """The 4th-order continuous extension y + h sum_j K_j q_j(theta) (scipy's RK45 P)."""
    for k in range(y.shape[0]):
        acc = 0.0
        for j in range(7):
            q = 0.0
            power = 1.0
            for r in range(4):
                power *= theta
                q += _P[j, r] * power
            acc += K[j, k] * q
        out[k] = y[k] + h * acc


@njit(cache=True, error_model="numpy")
def _integrate_one(y, tau0, tau1, save, out, rtol, atol, max_steps, args, work):
    """Integrate one trajectory in place from tau0 to tau1; saved states go to ``out``;
    ``work`` = (K (7, d), y_new (d,), err (d,)) are work arrays.

    Returns (status, accepted steps, rejected steps, evaluations of the field).
    """
    XT, mode, kind, p, c, score, log_ceb, xn, logits = args
    K, y_new, err = work
    d = y.shape[0]
    direction = 1.0 if tau1 >= tau0 else -1.0
    n_save = save.shape[0]
    i_save = 0
    while i_save < n_save and direction * (save[i_save] - tau0) <= 0.0:
        out[i_save, :] = y  # saved times at the start
        i_save += 1
    velocity_call(tau0, y, XT, mode, kind, p, c, score, log_ceb, K[0], xn, logits)
    nfev = 1
    h_abs = _initial_step(tau0, y, K[0], direction, rtol, atol, args, y_new, K[1])
    nfev += 1
    tau = tau0
    accepted = rejected = 0
    while direction * (tau - tau1) < 0.0:
        if accepted + rejected >= max_steps:
            return MAX_STEPS, accepted, rejected, nfev
        min_step = 10.0 * abs(np.nextafter(tau, direction * np.inf) - tau)
        h_abs = max(h_abs, min_step)
        step_rejected = False
        while True:
            tau_new, h = trial_step(tau, h_abs, direction, tau1)
            h_abs = abs(h)
            for i in range(1, 7):  # (one inlined copy of the field for the six stages)
                if i < 6:
                    tau_i = stage_point(y, K, h, i, tau, tau_new, direction, y_new)
                else:
                    step_solution(y, K, h, y_new)
                    tau_i = tau_new
                velocity(tau_i, y_new, XT, mode, kind, p, c, score, log_ceb, K[i], xn, logits)
            nfev += 6
            err_norm = step_error(y, y_new, K, h, err, rtol, atol)
            if not math.isfinite(err_norm):
                return NONFINITE, accepted, rejected, nfev
            h_abs *= step_factor(err_norm, step_rejected)
            if err_norm < 1.0:
                break
            step_rejected = True
            rejected += 1
            if h_abs < min_step:
                return STEP_TOO_SMALL, accepted, rejected, nfev
        # saved times in (tau, tau_new]: 4th-order continuous extension (scipy's RK45 P)
        while i_save < n_save and direction * (save[i_save] - tau_new) <= 0.0:
            dense_output(y, K, h, (save[i_save] - tau) / h, out[i_save])
            i_save += 1
        tau = tau_new
        for k in range(d):
            y[k] = y_new[k]
            K[0, k] = K[6, k]
        accepted += 1
    return SUCCESS, accepted, rejected, nfev


@njit(parallel=True, cache=True, error_model="numpy")
def integrate_batch(
    Y, XT, tau0, tau1, save, mode, kind, p, c, score, log_ceb, rtol, atol, max_steps, n_threads
):
    """Integrate every row of ``Y`` (B, d) in place; returns saved states and statistics.

    ``n_threads`` is ``numba.get_num_threads()`` (passed in: reading it here would make the
    function uncacheable); the trajectories are handed out one at a time to that many slots.
    The slots' work arrays are allocated before the parallel loop, and every array of the loop
    is ``borrowed``.
    """
    B, d = Y.shape
    N = XT.shape[1]
    out = np.full((B, save.shape[0], d), np.nan)  # NaN: a saved time never reached
    stats = np.empty((B, 4), dtype=np.int64)
    slots = n_slots(B, n_threads)
    # per slot: K, y_new, err, x_N, the state, logits; rows padded to whole cache lines. The
    # state is integrated in the slot's row and copied back at the end: rows of Y that two
    # threads integrate at once may share a cache line (false sharing at every step).
    work = np.empty((slots, (11 * d + N + 15) // 8 * 8))
    Yb, XTb, pb, saveb, outb = borrowed(Y), borrowed(XT), borrowed(p), borrowed(save), borrowed(out)
    counter = new_counter()
    for slot in prange(slots):
        w = borrowed(work[slot])
        args = (XTb, mode, kind, pb, c, score, log_ceb, w[9 * d : 10 * d], w[11 * d : 11 * d + N])
        buffers = (w[: 7 * d].reshape(7, d), w[7 * d : 8 * d], w[8 * d : 9 * d])
        y = w[10 * d : 11 * d]
        b = next_item(counter)
        while b < B:
            y[:] = Yb[b]
            st, acc, rej, nfev = _integrate_one(
                y, tau0, tau1, saveb, outb[b], rtol, atol, max_steps, args, buffers
            )
            Yb[b] = y
            stats[b, 0] = st
            stats[b, 1] = acc
            stats[b, 2] = rej
            stats[b, 3] = nfev
            b = next_item(counter)
    return out, stats


@njit(parallel=True, cache=True, error_model="numpy")
def velocity_batch(tau, Y, XT, mode, kind, p, c, score, log_ceb):
    """The vector field at every row of ``Y`` (one time ``tau``)."""
    B, d = Y.shape
    out = np.empty((B, d))
    for b in prange(B):
        velocity(
            tau,
            Y[b],
            XT,
            mode,
            kind,
            p,
            c,
            score,
            log_ceb,
            out[b],
            np.empty(d),
            np.empty(XT.shape[1]),
        )
    return out
