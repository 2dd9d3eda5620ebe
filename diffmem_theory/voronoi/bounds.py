r"""Constants and bounds of the Voronoi-collapse proofs of Baptista et al. (paper 002).

Baptista, Dasgupta, Kovachki, Oberai, Stuart, "Memorization and Regularization in Generative
Diffusion Models", Sec. 4.3, App. A and App. C. In s-time (4.20) the reverse ODE with the
empirical score is (4.24) ``dy/ds = -(y - y_N(y, s))`` (VE) or (C.6)
``dy/ds = -(y - y_N(y, s) / m(s))`` with ``m(s) = sqrt(1 - e^{-2s})`` (VP), where
``y_N = sum_n omega_n x_0^n`` and ``omega_n = softmax_n(-e^{2s} |y - m x_0^n|^2 / 2)``
(``m = 1`` for VE; (4.22), (C.5)). The data constants ``D_-``, ``D^+``, ``|x|_inf``,
``alpha_n`` and ``s^alpha`` are in :mod:`diffmem_theory.voronoi.geometry`.

* :func:`s_time_log_weights` -- the log of the s-time weights omega_n, (4.22)/(C.5);
* :func:`shrunk_hyperplane`, :func:`shrunk_face_points` -- the faces of ``V_eps(x_0^n)``,
  Lemma 4.5, (4.12)/(4.13)/(A.5);
* :func:`weight_bounds_ve`, :func:`weight_bounds_vp` -- Lemma 4.10 and Lemma C.5 (C.11);
* :func:`s_weight_vp` -- ``s^D`` of (C.10) (the proof's constant; the printed one on request);
* :func:`s_one_two_vp` -- ``s^1``, ``s^2`` of (C.13), with the factor ``|x|_inf`` of the proof;
* :func:`lemma_4_13_k`, :func:`lemma_c_8_k` -- the rate constants (4.33b) (with ``delta^2``)
  and (C.14b);
* :func:`ball_bound`, :func:`ball_bound_vp` -- (A.4a) and (A.10);
* :func:`tikhonov_excess` -- the completed square (5.4) of Thm 5.1.

Points with coordinates beyond ~1e150 / sqrt(d) are refused (``ValueError``, as in
:mod:`diffmem_theory.voronoi.geometry`); constants beyond float64 raise ``ValueError``.

Errata handled here (the code follows the proofs, ``printed=True`` gives the printed form;
catalogued in :mod:`diffmem_theory.voronoi.errata`): (4.33b) prints ``e^{-e^{2 s_0} delta / 2}``
for ``e^{-e^{2 s_0} delta^2 / 2}``; (C.10) prints ``delta^2 / (2 D |x|_inf)`` where the proof
needs ``delta^2 / (8 D^+ r)``; both conditions of (C.13) lack the factor ``|x|_inf`` that the
proof of Lemma C.6 uses.

>>> import numpy as np
>>> lo, up = weight_bounds_ve(1.0, 0.5, 3)
>>> round(float(up), 6), round(float(lo), 6)
(0.397074, 0.557367)
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import expit, logsumexp

from diffmem_theory._validation import (
    as_float_array,
    as_points,
    as_queries,
    bounded_points,
    check_bool,
    check_covariance,
    check_int,
    check_scalar,
    finite_result,
)
from diffmem_theory.voronoi.geometry import alpha_n, d_minus, d_plus, data_points, s_alpha, x_inf

__all__ = [
    "ball_bound",
    "ball_bound_vp",
    "lemma_4_13_k",
    "lemma_c_8_k",
    "s_one_two_vp",
    "s_time_log_weights",
    "s_weight_vp",
    "shrunk_face_points",
    "shrunk_hyperplane",
    "tikhonov_excess",
    "weight_bounds_ve",
    "weight_bounds_vp",
]

_EXP_MAX = 700.0  # exponents are clipped here: e^{700} ~ 1e304, exp(-e^{700}) = 0


def _positive(value: ArrayLike, name: str) -> np.ndarray:
    arr = as_float_array(value, name, dtype=np.float64)
    if np.any(arr <= 0):
        raise ValueError(f"{name} must be > 0, got min {float(arr.min())!r}")
    return arr


def _out(arr: np.ndarray) -> np.ndarray | float:
    return float(arr) if arr.ndim == 0 else arr


def _collapse_exponent(s: ArrayLike, delta: ArrayLike, divisor: float) -> np.ndarray:
    """``log exp(-e^{2s} delta^2 / divisor) = -e^{2s} delta^2 / divisor``, overflow-free."""
    ss = as_float_array(s, "s", dtype=np.float64)
    dl = _positive(delta, "delta")
    return -np.exp(np.minimum(2.0 * ss + 2.0 * np.log(dl) - math.log(divisor), _EXP_MAX))


def _weight_bounds(
    s: ArrayLike, delta: ArrayLike, N: int, divisor: float, log: bool
) -> tuple[np.ndarray | float, np.ndarray | float]:
    n = check_int(N, "N", low=2, high=2**63 - 1)
    log = check_bool(log, "log")
    log_up = _collapse_exponent(s, delta, divisor)
    log_lo = -np.log1p((n - 1) * np.exp(log_up))
    if log:
        return _out(log_lo), _out(log_up)
    return _out(expit(-math.log(n - 1) - log_up)), _out(np.exp(log_up))


def s_time_log_weights(y: ArrayLike, s: float, X0: ArrayLike, *, vp: bool = False) -> np.ndarray:
    r"""Logarithm of the s-time weights omega_n(y, s) of the reverse ODE, (4.22) / (C.5).

    .. math::

        \log \omega_n(y, s) = -\tfrac{1}{2} e^{2s} |y - m(s) x_0^n|^2
            - \log \sum_l e^{-\frac{1}{2} e^{2s} |y - m(s) x_0^l|^2},

    with m = 1 for VE (4.22) and m(s) = sqrt(1 - e^{-2s}) for VP (C.5); by log-sum-exp, so
    weights that underflow keep a finite logarithm.

    Parameters
    ----------
    y : array_like, shape (B, d) or (d,)
        Points in s-time coordinates.
    s : float
        The s-time (``s > 0`` for VP).
    X0 : array_like, shape (N, d)
        Training points.
    vp : bool, optional
        The VP weights (C.5) instead of the VE weights (4.22).

    Returns
    -------
    ndarray, shape (B, N) or (N,)
        log omega_n(y, s) for each point and each n.

    See Also
    --------
    weight_bounds_ve, weight_bounds_vp : the bounds of Lemmas 4.10 and C.5 on these weights.

    References
    ----------
    Baptista et al., Sec. 4.3, eqs. (4.20)-(4.24); App. C, eqs. (C.3)-(C.6).

    Examples
    --------
    >>> import numpy as np
    >>> X0 = np.array([[0.0], [1.0]])
    >>> print(np.round(np.exp(s_time_log_weights([0.25], 0.0, X0)), 6))   # expit(1/4)
    [0.562177 0.437823]
    """
    yq, single = as_queries(y, "y")
    yq = bounded_points(yq, "y")
    data = bounded_points(as_points(X0, "X0", yq.shape[1], "y"), "X0")
    ss = check_scalar(s, "s", low=0.0 if check_bool(vp, "vp") else None, low_open=True)
    m = math.sqrt(-math.expm1(-2.0 * ss)) if vp else 1.0
    diff = yq[:, None, :] - m * data[None, :, :]
    sq = (diff * diff).sum(-1)
    # relative to the nearest point (logit 0): a logit of -inf is a weight of exactly 0
    with np.errstate(over="ignore"):
        logits = -0.5 * math.exp(min(2.0 * ss, _EXP_MAX)) * (sq - sq.min(axis=1, keepdims=True))
    out = logits - logsumexp(logits, axis=1, keepdims=True)
    return out[0] if single else out


def weight_bounds_ve(
    s: ArrayLike, delta: ArrayLike, N: int, *, log: bool = False
) -> tuple[np.ndarray | float, np.ndarray | float]:
    r"""Lemma 4.10: bounds on the VE s-time weights in the shrunk cell ``V_delta(x_0^n)``.

    For ``delta in (0, D_-)``, ``y in V_delta(x_0^n)`` and ``s >= s_0``, with
    ``u = exp(-e^{2s} delta^2 / 2)``:

    .. math::

        \frac{1}{1 + (N - 1) u} < \omega_n(y, s) \le 1, \qquad
        0 \le \omega_l(y, s) < u \quad (l \ne n).

    (Proof: ``omega_l / omega_n = exp(-e^{2s} (|y - x_0^l|^2 - |y - x_0^n|^2) / 2) < u``.)

    Parameters
    ----------
    s : float or array_like
        s-time(s).
    delta : float or array_like
        Gap of the shrunk cell, ``> 0``; broadcast against ``s``.
    N : int
        Number of training points, ``N >= 2``.
    log : bool, optional
        Return the logarithms ``(-log1p((N-1) u), -e^{2s} delta^2 / 2)``, which stay finite
        where the bounds underflow.

    Returns
    -------
    lower : float or ndarray
        Lower bound on omega_n (or its log).
    upper : float or ndarray
        Upper bound on omega_l, l != n (or its log).

    See Also
    --------
    weight_bounds_vp : the VP analogue, Lemma C.5.
    s_time_log_weights : the weights themselves.

    References
    ----------
    Baptista et al., Lemma 4.10 (Sec. 4.3) and its proof in App. A.

    Examples
    --------
    >>> lo, up = weight_bounds_ve(0.0, 1.0, 2)
    >>> round(float(up), 6), round(float(lo), 6)     # e^{-1/2}, 1/(1 + e^{-1/2})
    (0.606531, 0.622459)
    """
    return _weight_bounds(s, delta, N, 2.0, log)


def weight_bounds_vp(
    s: ArrayLike, delta: ArrayLike, N: int, *, log: bool = False
) -> tuple[np.ndarray | float, np.ndarray | float]:
    r"""Lemma C.5 (C.11): bounds on the VP s-time weights in ``V_delta^r(x_0^n)``, ``s >= s^D``.

    The VP weights (C.5) are ``softmax_n(-e^{2s} |y - m(s) x_0^n|^2 / 2)``,
    ``m(s) = sqrt(1 - e^{-2s})``; for ``s >= s^D`` (:func:`s_weight_vp`) and
    ``y in V_delta^r(x_0^n)``, with ``u = exp(-e^{2s} delta^2 / 4)`` (exponent /4, not /2):

    .. math::

        \frac{1}{1 + (N - 1) u} < \omega_n(y, s) \le 1, \qquad
        0 \le \omega_l(y, s) < u \quad (l \ne n).

    Parameters
    ----------
    s : float or array_like
        s-time(s), at least ``s^D``.
    delta : float or array_like
        Gap of the shrunk cell, ``> 0``; broadcast against ``s``.
    N : int
        Number of training points, ``N >= 2``.
    log : bool, optional
        Return the logarithms of the bounds (finite where the bounds underflow).

    Returns
    -------
    lower : float or ndarray
        Lower bound on omega_n (or its log).
    upper : float or ndarray
        Upper bound on omega_l, l != n (or its log).

    See Also
    --------
    weight_bounds_ve : the VE analogue, Lemma 4.10.
    s_weight_vp : the time s^D from which the bounds hold.
    s_time_log_weights : the weights themselves (``vp=True``).

    References
    ----------
    Baptista et al., App. C, Lemma C.5, eqs. (C.10)-(C.11).

    Examples
    --------
    >>> lo, up = weight_bounds_vp(0.0, 1.0, 2)
    >>> round(float(up), 6), round(float(lo), 6)     # e^{-1/4}, 1/(1 + e^{-1/4})
    (0.778801, 0.562177)
    """
    return _weight_bounds(s, delta, N, 4.0, log)


# ----------------------------------------------------------------------------------------------
# faces of the shrunk cells (Lemma 4.5)
# ----------------------------------------------------------------------------------------------


def _pair(n: int, l: int, eps: float, X0: ArrayLike) -> tuple[np.ndarray, np.ndarray, float]:
    """Validated ``(x_0^n, x_0^n - x_0^l, eps)`` with ``n != l`` and ``eps < |x_0^n - x_0^l|``."""
    data = data_points(X0, 2)
    N = data.shape[0]
    n = check_int(n, "n", low=0, high=N - 1)
    l = check_int(l, "l", low=0, high=N - 1)
    if n == l:
        raise ValueError(f"l must differ from n, got n = l = {n}")
    diff = data[n] - data[l]
    sep = float(np.sqrt(diff @ diff))
    e = check_scalar(eps, "eps", low=0.0, high=sep, high_open=True)
    return data[n], diff, e


def shrunk_hyperplane(n: int, l: int, eps: float, X0: ArrayLike) -> tuple[np.ndarray, float]:
    r"""The face ``{y : |y - x_0^n|^2 = |y - x_0^l|^2 - eps^2}`` (4.12) as ``<y, nu> = b``.

    Lemma 4.5: (4.12) is equivalent to ``2 <y, x_0^n - x_0^l> = |x_0^n|^2 - |x_0^l|^2 + eps^2``,
    a hyperplane with unit normal ``nu = (x_0^n - x_0^l) / |x_0^n - x_0^l|`` (pointing to
    ``x_0^n``'s side) and offset ``b = (|x_0^n|^2 - |x_0^l|^2 + eps^2) / (2 |x_0^n - x_0^l|)``, so
    ``<x, nu> - b`` is the signed Euclidean distance to the face (> 0 on ``x_0^n``'s side). By
    (4.13), ``x_0^n`` lies at distance ``(|x_0^n - x_0^l|^2 - eps^2) / (2 |x_0^n - x_0^l|) > 0``
    and ``x_0^l`` at ``-(|x_0^n - x_0^l|^2 + eps^2) / (2 |x_0^n - x_0^l|)``: the face separates
    them.

    Parameters
    ----------
    n, l : int
        Indices of the two training points, ``n != l``.
    eps : float
        Gap, ``0 <= eps < |x_0^n - x_0^l|`` (the lemma takes ``eps < D_-``).
    X0 : array_like, shape (N, d)
        Training points.

    Returns
    -------
    nu : ndarray, shape (d,)
        Unit normal, pointing to ``x_0^n``'s side.
    b : float
        Offset.

    See Also
    --------
    shrunk_face_points : points of the same face, parameterized by (A.5).
    diffmem_theory.voronoi.geometry.in_shrunk_cell : membership of ``V_eps(x_0^n)``.

    References
    ----------
    Baptista et al., Lemma 4.5, eqs. (4.12)-(4.13).

    Examples
    --------
    >>> import numpy as np
    >>> nu, b = shrunk_hyperplane(0, 1, 1.0, np.array([[0.0, 0.0], [2.0, 0.0]]))
    >>> nu.tolist(), b       # the face x_1 = 0.75, i.e. -x_1 = -0.75
    ([-1.0, 0.0], -0.75)
    """
    xn, diff, e = _pair(n, l, eps, X0)
    sep = float(np.sqrt(diff @ diff))
    xl = xn - diff
    return diff / sep, float((xn @ xn - xl @ xl + e * e) / (2.0 * sep))


def shrunk_face_points(n: int, l: int, eps: float, X0: ArrayLike, q: ArrayLike) -> np.ndarray:
    r"""Points of the face (4.12) parameterized as in (A.5), one per row of ``q``.

    (A.5): ``x_0^n - y = (1/2) D - (eps^2 / 2) D / |D|^2 + q_perp``, ``D = x_0^n - x_0^l``,
    where ``q_perp`` is the component of ``q`` orthogonal to ``D`` (the lemma's
    ``q perp D``). Every ``y`` satisfies (4.12) and (4.13); which of them lie on the boundary
    of the shrunk cell ``V_eps(x_0^n)`` depends on the other faces (test with
    :func:`diffmem_theory.voronoi.geometry.in_shrunk_cell` at a slightly smaller ``eps``).

    Parameters
    ----------
    n, l : int
        Indices of the two training points, ``n != l``.
    eps : float
        Gap, ``0 <= eps < |x_0^n - x_0^l|``.
    X0 : array_like, shape (N, d)
        Training points.
    q : array_like, shape (B, d) or (d,)
        Face parameters (their component along ``D`` is ignored).

    Returns
    -------
    ndarray, shape like ``q``
        Points ``y`` of the face.

    See Also
    --------
    shrunk_hyperplane : the same face as ``<y, nu> = b``.

    References
    ----------
    Baptista et al., Lemma 4.5 and its proof, eq. (A.5).

    Examples
    --------
    >>> import numpy as np
    >>> shrunk_face_points(0, 1, 1.0, np.array([[0.0, 0.0], [2.0, 0.0]]), [3.0, 0.5]).tolist()
    [0.75, -0.5]
    """
    xn, diff, e = _pair(n, l, eps, X0)
    qq = bounded_points(as_float_array(q, "q", ndim=(1, 2), dtype=np.float64), "q")
    if qq.shape[-1] != diff.shape[0]:
        raise ValueError(f"q must have last dimension {diff.shape[0]} (that of X0), got {qq.shape}")
    dd = float(diff @ diff)
    q_perp = qq - np.multiply.outer(qq @ diff / dd, diff)
    return xn - (0.5 - 0.5 * e * e / dd) * diff - q_perp


# ----------------------------------------------------------------------------------------------
# VP times s^D, s^1, s^2 (Lemmas C.5, C.6)
# ----------------------------------------------------------------------------------------------


def _delta_and_data(delta: float, X0: ArrayLike) -> tuple[float, np.ndarray]:
    data = data_points(X0, 2)
    dm = d_minus(data)
    return check_scalar(delta, "delta", low=0.0, high=dm, low_open=True, high_open=True), data


def s_weight_vp(delta: float, X0: ArrayLike, r: float, *, printed: bool = False) -> float:
    r"""Infimum of the times ``s^D`` of Lemma C.5: ``1 - sqrt(1 - e^{-2s}) < c`` for ``s > s^D``.

    The proof of Lemma C.5 bounds the cross term ``2 (1 - m) y^T (x_0^l - x_0^n)``, for
    ``|y| < r``, by ``2 (1 - m) r D^+`` and needs it below ``delta^2 / 4`` (so that the
    exponent gap of the weights is at least ``delta^2 / 2``): ``c = delta^2 / (8 D^+ r)``
    (default). (C.10) prints
    ``c = delta^2 / (2 D^+ |x|_inf)`` (``printed=True``, ``r`` then unused), which is weaker by
    the factor ``4 r / |x|_inf`` and does not imply (C.11) (erratum ``paper002.lemma_c_5_s_d``).
    Solving, ``e^{-2s} < 1 - (1 - c)^2 = c (2 - c)``:

    .. math::

        s^D = -\tfrac{1}{2} \bigl[\log c + \log(2 - c)\bigr]

    (``c < 1`` always, as ``delta < D_- <= D^+ <= 2 |x|_inf``), with ``log c`` formed from the
    logs of its factors (no underflow for tiny ``delta``).

    Parameters
    ----------
    delta : float
        Gap, ``0 < delta < D_-``.
    X0 : array_like, shape (N, d)
        Training points, ``N >= 2``.
    r : float
        Radius of the ball ``B(0, r)``, ``r > |x|_inf``.
    printed : bool, optional
        Use the constant printed in (C.10) instead of the proof's.

    Returns
    -------
    float
        ``s^D``.

    See Also
    --------
    weight_bounds_vp : the bounds (C.11) that hold for ``s >= s^D``.
    s_one_two_vp : the further times ``s^1``, ``s^2`` of Lemma C.6.

    References
    ----------
    Baptista et al., App. C, Lemma C.5, eq. (C.10) and its proof.

    Examples
    --------
    >>> import numpy as np
    >>> X0 = np.array([[0.0, 0.0], [2.0, 0.0]])
    >>> s = s_weight_vp(1.0, X0, 2.5)          # c = 1 / 40
    >>> bool(np.isclose(1 - np.sqrt(1 - np.exp(-2 * s)), 1 / 40))
    True
    """
    dl, data = _delta_and_data(delta, X0)
    xi = x_inf(data)
    rr = check_scalar(r, "r", low=xi, low_open=True)
    denominator = 2.0 * xi if check_bool(printed, "printed") else 8.0 * rr
    log_c = 2.0 * math.log(dl) - math.log(d_plus(data)) - math.log(denominator)  # c may underflow
    return float(-0.5 * (log_c + math.log(2.0 - math.exp(log_c))))


def s_one_two_vp(delta: float, X0: ArrayLike, n: int | None = None) -> tuple[float, float]:
    r"""Infima of the times ``s^1``, ``s^2`` of Lemma C.6 (C.13), as the proof uses them.

    The proof of Lemma C.6 needs, for ``s >= s^1`` and ``s >= s^2``,

    .. math::

        (N - 1) e^{-e^{2s} \delta^2 / 4} |x|_\infty < \frac{\alpha_n}{4 D^+}, \qquad
        \Bigl(\frac{1}{\sqrt{1 - e^{-2s}}} - 1\Bigr) |x|_\infty \le \frac{\alpha_n}{4 D^+};

    (C.13) prints both without the factor ``|x|_inf`` (the first mirrors (4.31), which has
    it). Hence ``s^1 = s^alpha + (1/2) log 2`` (:func:`~diffmem_theory.voronoi.geometry.s_alpha`,
    exponent /4 instead of /2) and, with ``b = alpha_n / (4 D^+ |x|_inf)``,
    ``s^2 = log(1 + b) - (1/2) log(b (2 + b))``.

    Parameters
    ----------
    delta : float
        Gap, ``0 < delta < D_-``.
    X0 : array_like, shape (N, d)
        Training points, ``N >= 2``.
    n : int, optional
        Cell index; ``None`` uses ``min_n alpha_n`` (valid for all cells).

    Returns
    -------
    s1, s2 : float
        The two times.

    See Also
    --------
    s_weight_vp : the time ``s^D`` of Lemma C.5.
    diffmem_theory.voronoi.geometry.alpha_n : the constant alpha_n (4.30).

    References
    ----------
    Baptista et al., App. C, Lemma C.6, eqs. (C.12)-(C.13) and the proof.

    Examples
    --------
    >>> import numpy as np
    >>> X0 = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 3.0]])
    >>> s1, s2 = s_one_two_vp(1.0, X0)
    >>> b = 1.5 / (4 * np.sqrt(13.0) * 3.0)
    >>> bool(np.isclose((1 / np.sqrt(1 - np.exp(-2 * s2)) - 1), b))
    True
    """
    dl, data = _delta_and_data(delta, X0)
    alphas = alpha_n(dl, data)
    a = (
        float(alphas.min())
        if n is None
        else float(alphas[check_int(n, "n", low=0, high=len(alphas) - 1)])
    )
    s1 = s_alpha(dl, data, n) + 0.5 * math.log(2.0)
    b = a / (4.0 * d_plus(data) * x_inf(data))
    s2 = math.log1p(b) - 0.5 * (math.log(b) + math.log(2.0 + b))
    return float(s1), float(s2)


# ----------------------------------------------------------------------------------------------
# rate constants (Lemmas 4.13, C.8)
# ----------------------------------------------------------------------------------------------


def _rate_inputs(
    y_star: ArrayLike, s_star: ArrayLike, x_n: ArrayLike, N: int, xinf: float, delta: float
) -> tuple[np.ndarray, np.ndarray, int, float, float]:
    y = as_float_array(y_star, "y_star", dtype=np.float64)
    x = as_float_array(x_n, "x_n", dtype=np.float64)
    if y.ndim == 0 or x.ndim == 0 or y.shape[-1] != x.shape[-1]:
        raise ValueError(
            f"y_star and x_n must be points (..., d) with the same d, got {y.shape} and {x.shape}"
        )
    dist = np.sqrt(((bounded_points(y, "y_star") - bounded_points(x, "x_n")) ** 2).sum(-1))
    s = as_float_array(s_star, "s_star", dtype=np.float64)
    n = check_int(N, "N", low=2, high=2**63 - 1)
    xi = check_scalar(xinf, "xinf", low=0.0, low_open=True)
    dl = check_scalar(delta, "delta", low=0.0, low_open=True)
    return dist, s, n, xi, dl


def _rate_constant(dist: np.ndarray, s: np.ndarray, log_tail: np.ndarray) -> np.ndarray:
    """|y(s*) - x_0^n| e^{s*} + e^{log_tail}, each term from its logarithm (no 0 * inf), or
    ``ValueError`` where K is beyond float64."""
    with np.errstate(divide="ignore", over="ignore"):
        log_terms = np.stack(np.broadcast_arrays(np.log(dist) + s, log_tail))
        return finite_result(np.exp(log_terms).sum(axis=0), "K")


def lemma_4_13_k(
    y_star: ArrayLike,
    s_star: ArrayLike,
    x_n: ArrayLike,
    N: int,
    xinf: float,
    delta: float,
    *,
    printed: bool = False,
) -> np.ndarray | float:
    r"""Lemma 4.13's constant K (4.33b): ``|y(s) - x_0^n| <= K e^{-s}`` for ``s >= s*`` (VE).

    .. math::

        K = |y(s^*) - x_0^n| e^{s^*}
            + \frac{2 (N - 1) |x|_\infty}{\delta^2} e^{-s^*} e^{-e^{2 s^*} \delta^2 / 2},

    for a trajectory of (4.24) in ``V_delta^r(x_0^n)`` at ``s* > max(s^r, s^alpha)``. The proof
    integrates (A.6) with the weight bound of Lemma 4.10, ``omega_l < exp(-e^{2s} delta^2 / 2)``,
    and so gives ``delta^2`` in the last exponent; (4.33b) prints ``e^{-e^{2 s_0} delta / 2}``
    (``printed=True``), which for ``delta < 1`` is a smaller, invalid constant (erratum
    ``paper002.lemma_4_13_k``). The printed ``s_0`` is the start ``s*`` of the interval. Both
    terms are formed from their logarithms.

    Parameters
    ----------
    y_star : array_like, shape (..., d)
        The trajectory's point ``y(s*)``.
    s_star : float or array_like
        The time ``s*``, broadcast against the leading shape of ``y_star`` and ``x_n``.
    x_n : array_like, shape (..., d)
        The data point ``x_0^n`` whose cell holds the trajectory (broadcast with ``y_star``).
    N : int
        Number of training points, ``N >= 2``.
    xinf : float
        ``|x|_inf > 0`` (4.27).
    delta : float
        Gap of the shrunk cell, ``> 0``.
    printed : bool, optional
        Use ``delta`` for ``delta^2`` in the exponent, as printed in (4.33b).

    Returns
    -------
    float or ndarray
        K.

    Raises
    ------
    ValueError
        Where K is beyond float64.

    See Also
    --------
    lemma_c_8_k : the VP analogue (C.14b).
    weight_bounds_ve : the weight bound the proof integrates.

    References
    ----------
    Baptista et al., Lemma 4.13, eq. (4.33), proof in App. A (A.6).

    Examples
    --------
    >>> round(float(lemma_4_13_k([0.1], 0.0, [0.1], 2, 1.0, 1.0)), 6)   # 2 e^{-1/2}
    1.213061
    >>> round(float(lemma_4_13_k([0.1], 0.0, [0.1], 2, 1.0, 0.5)), 6)   # 8 e^{-1/8}
    7.059975
    >>> round(float(lemma_4_13_k([0.1], 0.0, [0.1], 2, 1.0, 0.5, printed=True)), 6)
    6.230406
    """
    dist, s, n, xi, dl = _rate_inputs(y_star, s_star, x_n, N, xinf, delta)
    log_power = math.log(dl) if check_bool(printed, "printed") else 2.0 * math.log(dl)
    log_front = math.log(2.0 * (n - 1)) + math.log(xi) - 2.0 * math.log(dl)
    with np.errstate(over="ignore"):  # e^{2s} delta^2 = inf: the tail is e^{-inf} = 0
        tail = log_front - s - np.exp(2.0 * s + log_power) / 2.0
    return _out(_rate_constant(dist, s, tail))


def lemma_c_8_k(
    y_star: ArrayLike, s_star: ArrayLike, x_n: ArrayLike, N: int, xinf: float, delta: float
) -> np.ndarray | float:
    r"""Lemma C.8's constant K (C.14b): ``|y(s) - x_0^n| <= K e^{-s}`` for ``s >= s*`` (VP).

    .. math::

        K = |y(s^*) - x_0^n| e^{s^*}
            + \frac{4 (N - 1) |x|_\infty}{\delta^2} e^{-s^*} e^{-e^{2 s^*} \delta^2 / 4}
            + |x|_\infty \bigl[1 + e^{s^*} \bigl(1 - \sqrt{1 - e^{-2 s^*}}\bigr)\bigr],

    for a trajectory of (C.6) in ``V_delta^r(x_0^n)`` at ``s* > max(s^r, s^D, s^1, s^2,
    s^alpha)``; the printed ``s_0`` is ``s*``. ``e^{s} (1 - sqrt(1 - e^{-2s}))`` is evaluated
    as ``e^{-s} / (1 + sqrt(1 - e^{-2s}))`` (no cancellation).

    Parameters
    ----------
    y_star : array_like, shape (..., d)
        The trajectory's point ``y(s*)``.
    s_star : float or array_like
        The time ``s* > 0``, broadcast against the leading shape of ``y_star`` and ``x_n``.
    x_n : array_like, shape (..., d)
        The data point ``x_0^n`` whose cell holds the trajectory.
    N : int
        Number of training points, ``N >= 2``.
    xinf : float
        ``|x|_inf > 0`` (4.27).
    delta : float
        Gap of the shrunk cell, ``> 0``.

    Returns
    -------
    float or ndarray
        K.

    Raises
    ------
    ValueError
        Where K is beyond float64.

    See Also
    --------
    lemma_4_13_k : the VE analogue (4.33b).
    weight_bounds_vp : the weight bound the proof integrates.

    References
    ----------
    Baptista et al., App. C, Lemma C.8, eq. (C.14).

    Examples
    --------
    >>> round(float(lemma_c_8_k([0.1], 1.0, [0.1], 2, 1.0, 1.0)), 6)
    1.422635
    """
    dist, s, n, xi, dl = _rate_inputs(y_star, s_star, x_n, N, xinf, delta)
    if np.any(s <= 0):
        raise ValueError(f"s_star must be > 0 (VP s-time), got min {float(s.min())!r}")
    log_front = math.log(4.0 * (n - 1)) + math.log(xi) - 2.0 * math.log(dl)
    with np.errstate(over="ignore"):  # e^{2s} delta^2 = inf: the tail is e^{-inf} = 0
        tail = log_front - s - np.exp(2.0 * s + 2.0 * math.log(dl)) / 4.0
    # e^s (1 - m) = e^{-s} / (1 + m), m = sqrt(1 - e^{-2s}): no cancellation, no inf * 0
    with np.errstate(over="ignore"):  # 2 s = inf: m = 1
        last = xi * (1.0 + np.exp(-s) / (1.0 + np.sqrt(-np.expm1(-2.0 * s))))
    return _out(finite_result(_rate_constant(dist, s, tail) + last, "K"))


# ----------------------------------------------------------------------------------------------
# a-priori bounds (Lemmas A.2, C.3)
# ----------------------------------------------------------------------------------------------


def _elapsed(s: ArrayLike, s0: float) -> tuple[np.ndarray, float]:
    ss = as_float_array(s, "s", dtype=np.float64)
    start = check_scalar(s0, "s0")
    if np.any(ss < start):
        raise ValueError(f"s must be >= s0 = {start!r}, got min {float(ss.min())!r}")
    return ss, start


def ball_bound(
    x_T: ArrayLike, s: ArrayLike, X0: ArrayLike, s0: float, z: ArrayLike | None = None
) -> np.ndarray | float:
    r"""Lemma A.2, (A.4a): a bound on ``|y(s) - z|`` along the VE s-time ODE (4.24).

    For any ``z`` and the solution with ``y(s0) = x_T``:

    .. math::

        |y(s) - z| \le |x_T - z| e^{-(s - s_0)}
                       + \max_l |z - x_0^l| \bigl(1 - e^{-(s - s_0)}\bigr),

    which is ``<= max(|x_T - z|, max_l |z - x_0^l|)`` (A.2a; ``z = 0`` gives (4.28a)) and tends
    to ``max_l |z - x_0^l|`` (A.2b).

    Parameters
    ----------
    x_T : array_like, shape (..., d)
        Initial states ``y(s0)``.
    s : float or array_like
        Times ``s >= s0``, broadcast against the leading shape of ``x_T`` and ``z``.
    X0 : array_like, shape (N, d)
        Training points.
    s0 : float
        The initial time.
    z : array_like, shape (..., d), optional
        Centre(s), broadcast against ``x_T`` (default: the origin, (4.28a)).

    Returns
    -------
    float or ndarray
        The bound on ``|y(s) - z|``.

    See Also
    --------
    ball_bound_vp : the VP analogue (A.10).

    References
    ----------
    Baptista et al., Lemmas 4.8-4.9 (eq. (4.28)), Lemma A.2 (eqs. (A.2), (A.4)).

    Examples
    --------
    >>> import numpy as np
    >>> X0 = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> round(float(ball_bound([3.0, 4.0], np.log(2.0), X0, 0.0)), 6)  # 5/2 + 1/2
    3.0
    >>> round(float(ball_bound([3.0, 4.0], np.log(2.0), X0, 0.0, z=[1.0, 0.0])), 6)  # 2.236 + 1
    3.236068
    """
    ss, start = _elapsed(s, s0)
    data = data_points(X0, 1)
    xt = as_float_array(x_T, "x_T", dtype=np.float64)
    zz = np.zeros(data.shape[1]) if z is None else as_float_array(z, "z", dtype=np.float64)
    if zz.ndim and xt.ndim:
        zz, xt = bounded_points(zz, "z"), bounded_points(xt, "x_T")
    d = data.shape[1]
    for name, arr in (("z", zz), ("x_T", xt)):
        if arr.ndim == 0 or arr.shape[-1] != d:
            raise ValueError(f"{name} must be points (..., {d}) like X0, got shape {arr.shape}")
    start_dist = np.sqrt(((xt - zz) ** 2).sum(-1))
    far = np.sqrt(((zz[..., None, :] - data) ** 2).sum(-1)).max(-1)
    decay = np.exp(-(ss - start))
    return _out(start_dist * decay - far * np.expm1(-(ss - start)))


def ball_bound_vp(x_T: ArrayLike, s: ArrayLike, X0: ArrayLike) -> np.ndarray | float:
    r"""Lemma C.3, (A.10): ``|y(s)| <= [e^{-s} + sqrt(1 - e^{-2s})] R`` along the VP ODE (C.6).

    ``R = max(|x_T|, |x|_inf)`` with ``y(s0) = x_T`` at any ``s0 <= s``; the factor is at most
    ``sqrt(2)`` (C.8) and tends to 1 (C.9).

    Parameters
    ----------
    x_T : array_like, shape (..., d)
        Initial states.
    s : float or array_like
        Times ``s > 0``, broadcast against the leading shape of ``x_T``.
    X0 : array_like, shape (N, d)
        Training points.

    Returns
    -------
    float or ndarray
        The bound on ``|y(s)|``.

    See Also
    --------
    ball_bound : the VE analogue (A.4a).

    References
    ----------
    Baptista et al., App. C, Lemma C.3, eqs. (C.8)-(C.9), (A.10).

    Examples
    --------
    >>> import numpy as np
    >>> round(float(ball_bound_vp([3.0, 4.0], np.log(2.0), np.array([[1.0, 0.0]]))), 6)
    6.830127
    """
    ss = as_float_array(s, "s", dtype=np.float64)
    if np.any(ss <= 0):
        raise ValueError(f"s must be > 0 (VP s-time), got min {float(ss.min())!r}")
    data = data_points(X0, 1)
    xt = as_float_array(x_T, "x_T", dtype=np.float64)
    if xt.ndim == 0 or xt.shape[-1] != data.shape[1]:
        raise ValueError(f"x_T must be points (..., {data.shape[1]}) like X0, got {xt.shape}")
    xt = bounded_points(xt, "x_T")
    R = np.maximum(np.sqrt((xt * xt).sum(-1)), x_inf(data))
    return _out((np.exp(-ss) + np.sqrt(-np.expm1(-2.0 * ss))) * R)


# ----------------------------------------------------------------------------------------------
# Tikhonov (Thm 5.1)
# ----------------------------------------------------------------------------------------------


def tikhonov_excess(
    s: ArrayLike, v: ArrayLike, Gamma: ArrayLike
) -> tuple[np.ndarray | float, np.ndarray | float]:
    r"""Both sides of the completed square (5.4) behind Thm 5.1, pointwise in ``(x, t)``.

    With ``v = grad log p``, a score value ``s`` and a symmetric positive semi-definite
    ``Gamma``, ``A = I + Gamma``:

    .. math::

        |s - v|^2 + s^T \Gamma s = |s - A^{-1} v|_A^2 + v^T \Gamma A^{-1} v,

    where ``|w|_A^2 = w^T A w`` and ``v^T Gamma A^{-1} v = |v|^2 - |A^{-1} v|_A^2`` is the
    integrand of ``K_Gamma`` (5.2). Integrating ``lambda E`` over ``(x, t)`` gives (5.4), so
    ``s_reg = A^{-1} v`` (5.3) minimizes (5.1) with value ``K_Gamma``.
    ``v^T Gamma A^{-1} v`` is computed as ``v^T (v - A^{-1} v)``.

    Parameters
    ----------
    s : array_like, shape (..., d)
        Score values (not a time).
    v : array_like, shape (..., d)
        True score values ``grad log p``, broadcast against ``s``.
    Gamma : array_like, shape (d, d)
        Symmetric positive semi-definite regularization matrix.

    Returns
    -------
    lhs, rhs : float or ndarray
        The two sides, over the leading axes of ``s`` and ``v``.

    Raises
    ------
    ValueError
        Where a side is beyond float64.

    See Also
    --------
    diffmem_theory.voronoi.scores.tikhonov_score_gamma : the minimizer for p = p^N.

    References
    ----------
    Baptista et al., Sec. 5.1, Thm 5.1, eqs. (5.1)-(5.4).

    Examples
    --------
    >>> lhs, rhs = tikhonov_excess([1.0, 0.0], [3.0, 0.0], [[1.0, 0.0], [0.0, 1.0]])
    >>> lhs, rhs                 # |(-2, 0)|^2 + 1 = 5 = 2 (1 - 1.5)^2 + 3 * 1.5
    (5.0, 5.0)
    """
    ss = as_float_array(s, "s", dtype=np.float64)
    vv = as_float_array(v, "v", dtype=np.float64)
    if ss.ndim == 0 or vv.ndim == 0 or ss.shape[-1] != vv.shape[-1]:
        raise ValueError(
            f"s and v must be vectors (..., d) with the same d, got {ss.shape} and {vv.shape}"
        )
    d = ss.shape[-1]
    G = as_float_array(Gamma, "Gamma", ndim=2, dtype=np.float64)
    if G.shape != (d, d):
        raise ValueError(f"Gamma must have shape ({d}, {d}), got shape {G.shape}")
    G = check_covariance(G, "Gamma", rtol=1e-10)[0]  # symmetric PSD, as the covariances
    A = np.eye(d) + G
    u = np.linalg.solve(A, np.broadcast_to(vv, np.broadcast_shapes(ss.shape, vv.shape))[..., None])
    u = u[..., 0]
    with np.errstate(over="ignore", invalid="ignore"):
        lhs = ((ss - vv) ** 2).sum(-1) + np.einsum("...i,ij,...j->...", ss, G, ss)
        w = ss - u
        rhs = np.einsum("...i,ij,...j->...", w, A, w) + (vv * (vv - u)).sum(-1)
    return _out(finite_result(lhs, "the left side")), _out(finite_result(rhs, "the right side"))
