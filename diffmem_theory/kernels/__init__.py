"""The hot path: fused kernels behind three public entry points.

* :func:`softmax_weighted_sum` -- the softmax-weighted sum of every empirical-score and GMM
  computation;
* :func:`gmm_loss_and_grad` -- the fused loss and gradient of GMM-denoiser training;
* :func:`integrate` -- adaptive Dormand-Prince 5(4) for a batch of trajectories: of the
  empirical-score ODE (an :class:`EmpiricalField`, which the compiled integrator evaluates
  itself), or of any array-API vector field.

Nothing outside this package imports a private kernel module; :func:`backend_namespace`,
:func:`to_host` and :func:`single_threaded_blas` are the helpers the callers share.

Each entry point validates its inputs once and runs one of three backends:

* ``"numba"`` (default): a parallel, chunked online-softmax kernel on the CPU
  (:mod:`diffmem_theory.kernels._numba`): BLAS tiles, a vectorized exp, bounded memory.
* ``"numpy"``: the same chunked algorithm written with array-API operations only
  (:mod:`diffmem_theory.kernels._array_api`), run on NumPy arrays; this is how the GPU code
  path is tested on machines without a GPU.
* ``"cupy"``: the array-API code on CuPy arrays (GPU); needs ``pip install diffmem-theory[gpu]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numba
import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from diffmem_theory._validation import (
    FLOAT_DTYPES,
    as_float_array,
    check_choice,
    check_dtype,
    check_int,
    check_positive,
    check_scalar,
)
from diffmem_theory.kernels import _dopri, _dopri_lockstep, _dopri_xp
from diffmem_theory.kernels._array_api import backend_namespace, softmax_weighted_sum_xp, to_host
from diffmem_theory.kernels._numba import (
    as_kernel_dtype,
    single_threaded_blas,
    softmax_weighted_sum_cpu,
)
from diffmem_theory.kernels._training import loss_and_grad_cpu
from diffmem_theory.kernels._training_xp import loss_and_grad_on

__all__ = [
    "BACKENDS",
    "MAX_STEPS",
    "STATE_MAX_SQ",
    "STATUS",
    "EmpiricalField",
    "Integration",
    "backend_namespace",
    "gmm_loss_and_grad",
    "integrate",
    "single_threaded_blas",
    "softmax_weighted_sum",
    "to_host",
]

BACKENDS = ("numba", "numpy", "cupy")
#: Largest ``max_steps`` of :func:`integrate` (an int64 counter in the kernels; 10^12 steps
#: would run for days): a larger budget is refused rather than overflowing the counter.
MAX_STEPS = 10**12


def softmax_weighted_sum(
    x: ArrayLike,
    centers: ArrayLike,
    *,
    scale: float = 1.0,
    var: ArrayLike = 1.0,
    log_weights: ArrayLike | None = None,
    values: ArrayLike | None = None,
    return_logsumexp: bool = False,
    backend: str = "numba",
    dtype: DTypeLike | None = None,
    query_chunk: int | None = None,
    center_chunk: int | None = None,
) -> Any:
    r"""Softmax-weighted sum of ``values`` with Gaussian logits, and optionally its log-normalizer.

    For queries x_i (rows of ``x``), centres c_j, scale a, variances v_j, log-weights b_j and
    values V_j:

        l_ij  = b_j - ||x_i - a c_j||^2 / (2 v_j),
        out_i = sum_j softmax_j(l_i) V_j = sum_j exp(l_ij - lse_i) V_j,
        lse_i = log sum_j exp(l_ij).

    ``lse`` is the log-sum-exp of the *full* logits (the ||x_i||^2 term included), so the
    log-density of the mixture sum_j exp(b_j) N(x; a c_j, v_j I) is
    ``lse - (d/2) log(2 pi v)`` for a shared variance v (with per-centre v_j, put
    -(d/2) log v_j into ``log_weights``).

    Uses in this package (all of them go through this function):

    * memorizing denoiser, Buchanan et al. (paper 000) eq. (7):
      x_mem(x, t) = sum_i x^i softmax_i(-||alpha_t x^i - x||^2 / (2 sigma_t^2)), i.e.
      ``softmax_weighted_sum(x, X, scale=alpha_t, var=sigma_t**2)``;
    * isotropic GMM denoiser, paper 000 eqs. (11)-(12): ``centers`` = means mu^i,
      ``scale`` = alpha_t, ``var`` = alpha_t^2 s^2 + sigma_t^2; the denoiser is
      [alpha_t s^2 x + sigma_t^2 out] / (alpha_t^2 s^2 + sigma_t^2);
    * empirical score, paper 002 eqs. (3.8)-(3.9): s^N(x, t) = -(x - m(t) out) / sigma^2(t)
      with ``scale`` = m(t), ``var`` = sigma^2(t);
    * Gaussian-KDE (OU-evolved empirical density) of paper 001 eq. (2.7):
      log rho(t, x) = lse - log n - (d/2) log(2 pi delta_t) with ``scale`` = e^{-t},
      ``var`` = delta_t = 1 - e^{-2t}; its score is (e^{-t} out - x) / delta_t.

    Parameters
    ----------
    x : (B, d) array
        Queries, strictly two-dimensional: a single query is ``x[None, :]`` (1-D input is
        rejected rather than guessed).
    centers : (N, d) array, N >= 1
        Centres c_j (e.g. training points).
    scale : float
        The factor a multiplying the centres (any real number, 0 and negative allowed).
    var : float or (N,) array, > 0
        Shared or per-centre variance v_j.
    log_weights : (N,) array, optional
        Log-weights b_j (default 0: equal weights).
    values : (N, k) array, optional
        The values V_j averaged by the softmax (default: ``centers``, unscaled).
    return_logsumexp : bool
        Also return ``lse`` (shape (B,)).
    backend : {"numba", "numpy", "cupy"}
        See the module docstring. ``"cupy"`` returns CuPy arrays.
    dtype : float32 or float64, optional
        Data and output dtype. Default: float32 if every array input is float32, float64
        otherwise. In float32 only the matrix products run in float32; the logits, their
        maxima and sums stay float64, so a logit that carries weight is accurate to about
        (d + 3) eps32 times its own size ||x_i - a c_j||^2 / (2 v_j) (the accuracy of a
        float32 product), however large the logits are: the result agrees with float64
        wherever the top logits of a row are further apart than that. Expect ~1e-12 relative
        agreement with exact arithmetic in float64 and ~1e-5 in float32 for logits of order
        10 or less.
    query_chunk, center_chunk : int, optional
        Tile sizes (queries x centres) of the online softmax; the default is tuned per
        backend. Peak extra memory: ``"numba"`` O(n_part B k) for the per-part results
        (``n_part`` centre parts, at most 16, when there are few query blocks) plus
        O((query_chunk + center_chunk) d + query_chunk * center_chunk) per thread, with no
        copy of the centres; the array-API backends O(N d + query_chunk * center_chunk). The
        B x N x d differences and the B x N logits are never stored.

    Returns
    -------
    out : (B, k) array, or ``(out, lse)`` if ``return_logsumexp``.

    Raises
    ------
    ValueError
        Bad shapes, non-finite or complex input, ``var <= 0``, an unknown ``backend`` or
        ``dtype``, or non-positive chunk sizes (the message names the argument).
    ImportError
        ``backend="cupy"`` without CuPy installed.

    Examples
    --------
    Memorizing denoiser (paper 000, eq. (7)) with two training points, alpha_t = 0.8,
    sigma_t = 0.6; a query next to the first point is pulled onto it:

    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> x = np.array([[0.7, 0.1]])
    >>> out, lse = softmax_weighted_sum(x, X, scale=0.8, var=0.36, return_logsumexp=True)
    >>> print(np.round(out, 6), round(float(lse[0]), 6))
    [[0.914697 0.      ]] 0.01581
    >>> np.allclose(softmax_weighted_sum(x, X, scale=0.8, var=0.36, backend="numpy"), out)
    True
    """
    check_choice(backend, "backend", BACKENDS)
    xp = backend_namespace(backend)
    # The Numba kernel checks finiteness in its own first pass over the data (cheaper for
    # small calls); on a non-finite input it raises FloatingPointError, and
    # _raise_nonfinite then names the argument.
    finite = backend != "numba"
    x, centers, values, log_weights = _data(x, centers, values, log_weights, xp, finite)
    a = check_scalar(scale, "scale")
    var = _variance(var, centers.shape[0], xp)
    if not isinstance(return_logsumexp, (bool, np.bool_)):
        raise ValueError(f"return_logsumexp must be True or False, got {return_logsumexp!r}")
    qc = None if query_chunk is None else check_int(query_chunk, "query_chunk", low=1)
    cc = None if center_chunk is None else check_int(center_chunk, "center_chunk", low=1)
    dtype = _compute_dtype(dtype, (x, centers, values, log_weights, var))

    def prepared(v: Any) -> Any:
        if backend == "numba":  # large float arrays are cast in parallel
            return as_kernel_dtype(v, dtype)
        return xp.ascontiguousarray(v, dtype=dtype)

    def float64(v: Any) -> Any:  # the logits' per-centre terms stay float64 in either dtype
        return xp.ascontiguousarray(v, dtype=xp.float64)

    N = centers.shape[0]
    C = prepared(centers)
    V = C if values is None else prepared(values)  # one copy of the centres when cast
    w = xp.full(N, 0.5 / var, dtype=xp.float64) if isinstance(var, float) else 0.5 / float64(var)
    b = xp.zeros(N, dtype=xp.float64) if log_weights is None else float64(log_weights)
    if x.shape[0] == 0:
        out, lse = xp.zeros((0, V.shape[1]), dtype=dtype), xp.zeros(0, dtype=dtype)
    else:
        run = softmax_weighted_sum_cpu if backend == "numba" else softmax_weighted_sum_xp
        try:
            out, lse = run(prepared(x), C, V, a, w, b, qc, cc, return_logsumexp)
        except FloatingPointError:
            if not finite:
                _raise_nonfinite(x=x, centers=centers, values=values, log_weights=log_weights)
            raise ValueError(_OVERFLOW) from None
    return (out, lse) if return_logsumexp else out


def _save_times(save: Any, tau0: float, tau1: float) -> np.ndarray:
    """Saved times: a finite 1-d float64 array, between tau0 and tau1, ordered from tau0."""
    times = np.ascontiguousarray(as_float_array(save, "save", ndim=1, dtype=np.float64))
    lo, hi = min(tau0, tau1), max(tau0, tau1)
    step = np.diff(times) * (1.0 if tau1 >= tau0 else -1.0)
    if np.any(times < lo) or np.any(times > hi) or np.any(step < 0):
        raise ValueError(
            f"save must hold times between tau_0 = {tau0!r} and tau_1 = {tau1!r}, ordered from "
            f"tau_0 towards tau_1, got {times}"
        )
    return times


def _data(x: Any, centers: Any, values: Any, log_weights: Any, xp: Any, finite: bool) -> tuple:
    """Validated (x, centers, values, log_weights): real arrays of consistent shapes."""
    x = _matrix(x, "x", "(B, d)", xp, finite)
    centers = _matrix(centers, "centers", "(N, d)", xp, finite)
    N, d = centers.shape
    if x.shape[1] == 0 or N == 0:
        raise ValueError(
            f"x and centers need d >= 1 columns and centers N >= 1 rows, got x of shape "
            f"{tuple(x.shape)} and centers of shape {tuple(centers.shape)}"
        )
    if x.shape[1] != d:
        raise ValueError(f"centers has dimension {d} but x has dimension {x.shape[1]}")
    if log_weights is not None:
        log_weights = _as_array(log_weights, "log_weights", xp, finite)
        if tuple(log_weights.shape) != (N,):
            raise ValueError(f"log_weights must have shape ({N},), got {tuple(log_weights.shape)}")
    if values is not None:
        values = _matrix(values, "values", "(N, k)", xp, finite)
        if values.shape[0] != N or values.shape[1] == 0:
            raise ValueError(
                f"values must have shape ({N}, k) with k >= 1 (one row per centre), got shape "
                f"{tuple(values.shape)}"
            )
    return x, centers, values, log_weights


def _compute_dtype(dtype: Any, inputs: tuple) -> np.dtype:
    """``dtype`` if given (float32/float64), else float32 iff every array input is float32."""
    if dtype is not None:
        return check_dtype(dtype)
    arrays = [v for v in inputs if getattr(v, "ndim", 0)]
    return np.dtype(np.float32 if all(v.dtype == np.float32 for v in arrays) else np.float64)


def _as_array(value: Any, name: str, xp: Any, finite: bool) -> Any:
    """``as_float_array`` on NumPy; the same rules (real, float32/64, finite) on a device."""
    if xp is np:
        return as_float_array(value, name, finite=finite)
    arr = xp.asarray(value)
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"{name} must be a real floating-point array, got dtype {arr.dtype}")
    if arr.dtype not in FLOAT_DTYPES:
        arr = arr.astype(xp.float64)
    if finite and not bool(xp.all(xp.isfinite(arr))):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return arr


def _matrix(value: Any, name: str, shape: str, xp: Any, finite: bool) -> Any:
    """A real 2-D array; 1-D input is rejected with a hint instead of being guessed."""
    arr = _as_array(value, name, xp, finite)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape {shape}, got shape {tuple(arr.shape)} "
            f"(a single row r is written r[None, :])"
        )
    return arr


def _variance(var: Any, N: int, xp: Any) -> Any:
    """A finite variance > 0: a float, or an array of shape (N,) (``check_positive`` rules)."""
    if isinstance(var, (float, int)) or np.ndim(var) == 0:
        return check_scalar(var, "var", low=0.0, low_open=True)
    if xp is np:
        arr = check_positive(var, "var")
    else:
        arr = _as_array(var, "var", xp, finite=True)
        if not bool(xp.all(arr > 0)):
            raise ValueError(f"var must be > 0, got min {float(xp.min(arr))!r}")
    if tuple(arr.shape) != (N,):
        raise ValueError(f"var must be a scalar or have shape ({N},), got shape {arr.shape}")
    return arr


def _raise_nonfinite(**arrays: Any) -> None:
    """Name the non-finite input (``as_float_array`` raises), else report the overflow."""
    for name, value in arrays.items():
        if value is not None:
            as_float_array(value, name)
    raise ValueError(_OVERFLOW)


_OVERFLOW = (
    "var is too small for the scale of x and centers: ||x - scale * c||^2 / (2 var) (or a "
    "squared norm of the data) overflows the floating-point range; rescale the data"
)


def gmm_loss_and_grad(
    xt: np.ndarray,
    x0: np.ndarray,
    alpha: np.ndarray,
    sigma2: np.ndarray,
    lam: np.ndarray,
    means: np.ndarray,
    var: float,
    *,
    n_dup: int = 0,
    backend: str = "numba",
) -> tuple[float, np.ndarray, float]:
    r"""Fused weighted GMM-denoiser loss and its exact gradient, ``(loss, dL/dmeans, dL/dvar)``.

    ``L = (1/B) sum_q lam_q |xbar(x_t^q) - x0^q|^2`` with the isotropic-GMM posterior mean

        xbar(x) = sum_k w_k (mu_k + alpha v / (alpha^2 v + sigma^2) (x - alpha mu_k)),
        w = softmax_k(-|x - alpha mu_k|^2 / (2 (alpha^2 v + sigma^2))),

    (means ``mu_k``, variance ``v = var``) of Buchanan et al. (paper 000), eqs. (5)-(6) and
    (11)-(12), on validated C-contiguous arrays sharing one float dtype. ``n_dup > 0`` is the
    fused epoch form: ``xt`` holds the noise and ``alpha``, ``sigma2``, ``lam`` are per
    training point. ``backend`` is ``"numba"`` (the parallel CPU kernel) or ``"numpy"`` /
    ``"cupy"`` (its array-API twin); the public, validating entry is
    :func:`diffmem_theory.core.training.gmm_loss_and_grad`.

    >>> one = np.ones(1)
    >>> loss, g, gv = gmm_loss_and_grad(np.ones((1, 1)), np.zeros((1, 1)), 0.8 * one,
    ...                                 0.36 * one, one, np.ones((1, 1)), 1.0)
    >>> round(loss, 4)
    1.3456
    """
    check_choice(backend, "backend", BACKENDS)
    xt, x0, alpha, sigma2, lam, means, var, n_dup = _loss_inputs(
        xt, x0, alpha, sigma2, lam, means, var, n_dup, backend_namespace(backend)
    )
    if backend == "numba":
        return loss_and_grad_cpu(xt, x0, alpha, sigma2, lam, means, var, n_dup=n_dup)
    return loss_and_grad_on(xt, x0, alpha, sigma2, lam, means, var, n_dup=n_dup, backend=backend)


def _loss_inputs(
    xt: Any, x0: Any, alpha: Any, sigma2: Any, lam: Any, means: Any, var: Any, n_dup: Any, xp: Any
) -> tuple:
    """Validated inputs of :func:`gmm_loss_and_grad`: finite real arrays of consistent shapes,
    ``xt``, ``x0`` and ``means`` C-contiguous in the dtype of ``means`` (float32 or float64)."""
    n_dup = check_int(n_dup, "n_dup", low=0)
    var = check_scalar(var, "var", low=0.0, low_open=True)
    means = _matrix(means, "means", "(M, d)", xp, finite=True)
    dtype = means.dtype

    def rows(value: Any, name: str) -> Any:
        return xp.ascontiguousarray(_matrix(value, name, "(B, d)", xp, finite=True), dtype=dtype)

    xt, x0, means = rows(xt, "xt"), rows(x0, "x0"), xp.ascontiguousarray(means)
    n_points = x0.shape[0]
    want = n_points * n_dup if n_dup else n_points
    d = means.shape[1]
    if means.shape[0] == 0 or d == 0 or n_points == 0:
        raise ValueError(
            f"means (M, d) and x0 (N, d) need M, N, d >= 1, got shapes {tuple(means.shape)} and "
            f"{tuple(x0.shape)}"
        )
    if xt.shape != (want, d) or x0.shape[1] != d:
        raise ValueError(
            f"xt must have shape ({want}, {d}) and x0 shape ({n_points}, {d}) (N rows of x0"
            f"{', times n_dup' if n_dup else ''} rows of xt; the dimension of means), got "
            f"{tuple(xt.shape)} and {tuple(x0.shape)}"
        )
    per_row = []
    for value, name in ((alpha, "alpha"), (sigma2, "sigma2"), (lam, "lam")):
        arr = _as_array(value, name, xp, finite=True)
        if tuple(arr.shape) != (n_points,):
            raise ValueError(f"{name} must have shape ({n_points},), got {tuple(arr.shape)}")
        per_row.append(xp.ascontiguousarray(arr))
    if not bool(xp.all(per_row[1] >= 0)):
        raise ValueError("sigma2 must be >= 0 (a noise variance)")
    return xt, x0, *per_row, means, var, n_dup


#: Largest squared norm of a state or training point of an :class:`EmpiricalField` (the squared
#: distances then stay finite); a state beyond it ends its trajectory with status "nonfinite".
STATE_MAX_SQ = _dopri.STATE_MAX_SQ
#: Status codes of :class:`Integration`, in words (index = code).
STATUS = ("success", "max_steps", "step_too_small", "nonfinite")


class EmpiricalField(NamedTuple):
    r"""The empirical-score reverse-ODE field, evaluated inside the integrator itself.

    Baptista et al. (paper 002): with the softmax-weighted mean of the training points
    x_N = sum_n w_n x_0^n, w = softmax_n(-|x - m x_0^n|^2 / (2 v)), and rho = 1 (or the
    empirical-Bayes factor min(1, S / c_eb) of (5.12), min(1, p^N / c_eb) of (5.11)),

    * ``time="s_ve"`` (4.24)/(5.9): dy/ds = -rho (y - x_N), v = e^{-2s} - c, m = 1;
    * ``time="s_vp"`` (C.6): dy/ds = [(v + c) y - rho (y - m x_N)] / m^2, m^2 = 1 - v;
    * ``time="t"`` (4.1)/(5.8): dx/dt = f x + (g^2 / 2) rho (x - m x_N) / (v + c), with
      (f, g^2, m = alpha, v = sigma^2) of the schedule given by ``kind`` and ``params``
      (a schedule's ``kernel_spec()``).

    Attributes
    ----------
    data : (N, d) float64 array
        Training points, squared row norms <= ``STATE_MAX_SQ``.
    kind, params : str, tuple of 3 floats
        The schedule's kernel kind ("ve_power", "ve_exp", "vp_affine", "vp_trig",
        "flow_matching") and parameters (only used in t-time).
    time : {"t", "s_ve", "s_vp"}
        The integration variable.
    c : float
        Tikhonov constant of (5.7) (0 for the plain empirical score).
    score : {"empirical", "eb", "eb_normalized"}
        The score: plain (and Tikhonov) or empirical Bayes.
    log_ceb : float
        log of the empirical-Bayes threshold (unused for ``"empirical"``).
    """

    data: np.ndarray
    kind: str = "vp_trig"
    params: tuple[float, float, float] = (0.0, 0.0, 0.0)
    time: str = "t"
    c: float = 0.0
    score: str = "empirical"
    log_ceb: float = 0.0


class Integration(NamedTuple):
    """What :func:`integrate` returns: final states, saved states, per-trajectory statistics.

    ``final`` (B, d) holds each trajectory at ``tau_span[1]`` (at its last accepted time if it
    failed), ``saved`` (B, n_save, d) the states at the saved times (NaN where a failed
    trajectory never got), ``status`` (B,) the codes of :data:`STATUS` (0 success, 1
    ``max_steps`` reached, 2 step below the floating-point spacing, 3 non-finite state), and
    ``n_steps``, ``n_rejected``, ``nfev`` (B,) the accepted steps, rejected steps and
    evaluations of the field.
    """

    final: Any
    saved: Any
    status: np.ndarray
    n_steps: np.ndarray
    n_rejected: np.ndarray
    nfev: np.ndarray


def integrate(
    y0: Any,
    tau_span: tuple[float, float],
    save: ArrayLike,
    field: EmpiricalField | Callable[[Any, Any], Any],
    *,
    rtol: float = 1e-8,
    atol: float = 1e-8,
    max_steps: int = 100_000,
    backend: str = "numba",
) -> Integration:
    r"""Dormand-Prince 5(4) with adaptive steps for every row of ``y0`` from tau_0 to tau_1.

    The explicit Runge-Kutta pair of Dormand & Prince (1980) with SciPy's ``RK45`` rules
    (Hairer, Norsett & Wanner, *Solving ODEs I*, Sec. II.4-5): same tableau, error norm
    ``sqrt(mean((err / (atol + rtol max(|y|, |y_new|)))^2))``, safety factor 0.9, step factors
    in [0.2, 10], initial step, and the 4th-order continuous extension for the saved times, so
    a one-row run takes the same steps as ``scipy.integrate.solve_ivp(method="RK45")``.

    * ``field`` an :class:`EmpiricalField`: every row is its own trajectory with its own step
      control (own step size, accept / reject, FSAL stage and dense output).
      ``backend="numba"`` runs a compiled integrator, bit-identical for any thread count: for
      data of dimension d < 16 every trajectory on its own (trajectories handed out one at
      a time to the threads; a direct loop over the data); for d >= 16 in lock-step, in fixed
      blocks of 8-128 trajectories (about two blocks per batch) that share each pass over the
      training points (two BLAS products per tile of points and stage; once a trajectory's
      weights have concentrated, only the points that can still carry weight, found by the
      triangle inequality from its last full evaluation), blocks handed out one at a time to
      the threads (measured 1.2-2.5x faster from d = 16 up, 0.3-0.8x for d <= 8; a
      trajectory takes the same steps, up to the rounding of the field, and its states agree
      to ~1e-12).
      ``"numpy"``/``"cupy"`` run the lock-step array-API twin (same steps, same controller).
    * ``field`` a callable ``field(tau, y)``: ``tau`` a (B,) array of per-row times, ``y`` (B,
      d), returning dy/dtau (B, d) with array-API operations (NumPy, or CuPy for
      ``backend="cupy"``); ``backend="numba"`` is refused (a Python callable cannot run inside
      the compiled integrator).

    Inputs are validated by the caller (:func:`diffmem_theory.core.dynamics.solve`); this
    entry point checks the backend, the field, the tolerances and the shapes.

    Parameters
    ----------
    y0 : (B, d) float64 array
        Starting states (copied; NumPy, or CuPy on ``backend="cupy"``).
    tau_span : (tau_0, tau_1)
        Start and end of the integration variable (either direction).
    save : (n_save,) float64 array
        Values of tau, ordered from tau_0 towards tau_1, where states are saved.
    field : EmpiricalField or callable
        The vector field.
    rtol, atol : float
        Local error tolerances (rtol >= 1e-14).
    max_steps : int
        Largest number of (accepted + rejected) steps per trajectory, at most 10^12.
    backend : {"numba", "numpy", "cupy"}
        Where the integration runs.

    Returns
    -------
    Integration
        Final and saved states (NumPy for an ``EmpiricalField``; the namespace of ``y0`` for a
        callable) and per-row statistics (NumPy).

    Examples
    --------
    Paper 002, Fig. 3 (two training points at (+-1, 0), s-time VE): a start off the bisector
    goes to the nearer point.

    >>> X0 = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> res = integrate(np.array([[0.5, 2.1]]), (0.0, 30.0), np.array([30.0]),
    ...                 EmpiricalField(X0, time="s_ve"))
    >>> np.round(res.final, 8) + 0.0, res.status.tolist()
    (array([[1., 0.]]), [0])

    Any array-API field, e.g. dy/dt = -y from 1 to 0:

    >>> res = integrate(np.ones((1, 1)), (1.0, 0.0), np.array([0.0]), lambda tau, y: -y,
    ...                 backend="numpy", rtol=1e-10, atol=1e-12)
    >>> round(float(res.final[0, 0]), 6)              # e^{1}
    2.718282
    """
    backend = check_choice(backend, "backend", BACKENDS)
    xp = backend_namespace(backend)
    span = as_float_array(tau_span, "tau_span", ndim=1, dtype=np.float64)
    if span.shape != (2,):
        raise ValueError(f"tau_span must be a pair (tau_0, tau_1), got shape {span.shape}")
    tau0, tau1 = float(span[0]), float(span[1])
    save = _save_times(save, tau0, tau1)
    rtol = check_scalar(rtol, "rtol", low=1e-14, high=1.0)
    atol = check_scalar(atol, "atol", low=0.0, low_open=True)
    max_steps = check_int(max_steps, "max_steps", low=1, high=MAX_STEPS)
    y0 = _matrix(y0, "y0", "(B, d)", xp, finite=True)
    if y0.shape[0] == 0 or y0.shape[1] == 0:
        raise ValueError(f"y0 must have shape (B, d) with B, d >= 1, got {tuple(y0.shape)}")
    if isinstance(field, EmpiricalField):
        mode = _dopri.MODES[check_choice(field.time, "field.time", tuple(_dopri.MODES))]
        kind = _dopri.KINDS[check_choice(field.kind, "field.kind", tuple(_dopri.KINDS))]
        code = _dopri.SCORES[check_choice(field.score, "field.score", tuple(_dopri.SCORES))]
        params = as_float_array(field.params, "field.params", ndim=1, dtype=np.float64)
        if params.shape != (3,):
            raise ValueError(f"field.params must hold 3 numbers, got shape {params.shape}")
        c = check_scalar(field.c, "field.c", low=0.0)
        log_ceb = float(as_float_array(field.log_ceb, "field.log_ceb", ndim=0, finite=False))
        if math.isnan(log_ceb) or log_ceb == math.inf:
            raise ValueError(f"field.log_ceb must be a number or -inf, got {field.log_ceb!r}")
        data = np.ascontiguousarray(as_float_array(field.data, "field.data", ndim=2))
        if data.shape[0] == 0 or data.shape[1] != y0.shape[1]:
            raise ValueError(
                f"field.data must have shape (N, {y0.shape[1]}) with N >= 1 (the dimension of "
                f"y0), got {data.shape}"
            )
        y = np.array(to_host(y0), dtype=np.float64)
        if backend == "numba":
            lockstep = _dopri_lockstep.use_lockstep(*data.shape)
            with single_threaded_blas():
                saved, stats = (_dopri_lockstep if lockstep else _dopri).integrate_batch(
                    y, np.ascontiguousarray(data.T), tau0, tau1, save, mode, kind, params, c,
                    code, log_ceb, rtol, atol, max_steps, numba.get_num_threads(),
                )  # fmt: skip
            final = y
        else:
            xp = backend_namespace(backend)
            rhs = _dopri_xp.empirical_rhs(
                xp.asarray(data), (mode, kind, tuple(params.tolist()), c, code, log_ceb)
            )
            out = _dopri_xp.integrate_batch(
                xp.asarray(y), rhs, tau0, tau1, xp.asarray(save), rtol, atol, max_steps
            )
            final, saved, stats = (to_host(a) for a in out)
    elif callable(field):
        if backend == "numba":
            raise ValueError(
                "backend must be 'numpy' or 'cupy' for a callable field (the compiled "
                "integrator evaluates only an EmpiricalField), got 'numba'"
            )
        final, saved, stats = _dopri_xp.integrate_batch(
            xp.asarray(y0), field, tau0, tau1, xp.asarray(save, dtype=xp.float64), rtol, atol,
            max_steps,
        )  # fmt: skip
        stats = to_host(stats)
    else:
        raise TypeError(
            f"field must be an EmpiricalField or a callable field(tau, y), got "
            f"{type(field).__name__}"
        )
    return Integration(final, saved, stats[:, 0], stats[:, 1], stats[:, 2], stats[:, 3])
