"""Array-API implementation of the fused softmax-weighted sum (private; see ``kernels``).

The same chunked online-softmax algorithm as the Numba kernel, written only with array-API
operations through ``array_api_compat.array_namespace`` (``matmul``, ``exp``, ``max``,
``sum``, ``take``, ``nonzero``, ...), so that it runs unchanged on NumPy and on CuPy:

    l_ij  = b_j - u_i w_j ||x_i - a_i c_j||^2,     out_i = sum_j softmax_j(l_i) V_j,
    lse_i = logsumexp_j l_ij,

tile by tile: G = X' @ C''^T gives the logits through the expanded square of the centred
data (x'_i = x_i - a_i cbar, c'_j = c_j - cbar, cbar = mean_j c_j, so x_i - a_i c_j =
x'_i - a_i c'_j; 2 w_j folded into C''); the near-max entries whose expansion lost digits are
recomputed exactly from x_i - a_i c_j (same rule as ``_numba``); a running max and sum per
query rescale the accumulator when the max grows. The scale a and the query precision u are
one number for every query (the kernels' ``softmax_weighted_sum``) or one per query (the
lock-step ODE integrator of ``_dopri_xp``, where every trajectory has its own time).

Precision as in ``_numba``: with float32 data only the products (``matmul``) take float32
operands; the centroid, the squared norms, w, b, u, a, every tile of logits, the exact
recomputation, the running max, sum and accumulator are float64, and the weights are rounded
to float32 only as the operand of P @ V. Weights below e^-window of the running row max are
dropped, in either dtype, as in ``_numba`` (which says why). Results come back in the dtype of
``x``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from array_api_compat import array_namespace, to_device

# Refinement rule shared with the Numba kernel.
from diffmem_theory.kernels._numba import RHO

QUERY_CHUNK = 1024
CENTER_CHUNK = 2048


def backend_namespace(backend: str) -> Any:
    """The array module of ``backend``: NumPy, or CuPy imported on demand.

    >>> backend_namespace("numpy").__name__
    'numpy'
    """
    if backend != "cupy":
        return np
    try:
        import cupy
    except ImportError as err:
        raise ImportError(
            'backend="cupy" needs CuPy and a CUDA GPU: pip install "diffmem-theory[gpu]" '
            '(or use backend="numba" or backend="numpy")'
        ) from err
    return cupy


def to_host(a: Any) -> np.ndarray:
    """A NumPy copy (or view) of an array of any namespace; anything else (a number, a list) as
    ``np.asarray`` makes it.

    A CPU array of another library (JAX, PyTorch, array-api-strict) is read by DLPack without a
    copy; a device array (CuPy, a CUDA tensor, a JAX GPU array) is copied to the host.

    >>> to_host(np.arange(3.0)).tolist(), to_host(2.5).tolist()
    ([0.0, 1.0, 2.0], 2.5)
    """
    try:
        array_namespace(a)
    except TypeError:
        return np.asarray(a)
    if isinstance(a, np.ndarray):
        return a
    try:  # a CPU array of another library (JAX, PyTorch, array-api-strict): shared by DLPack
        return np.from_dlpack(a)
    except (BufferError, RuntimeError, TypeError, ValueError, AttributeError):
        pass
    try:  # a device array: its library's copy to the host
        return np.asarray(to_device(a, "cpu"))
    except (BufferError, RuntimeError, TypeError, ValueError):
        return np.asarray(a)  # JAX names its devices itself: its own transfer


def softmax_weighted_sum_xp(
    x: Any,
    centers: Any,
    values: Any,
    scale: float | Any,
    half_precision: Any,
    log_weights: Any,
    query_chunk: int | None,
    center_chunk: int | None,
    with_lse: bool = True,
    query_precision: Any | None = None,
) -> tuple[Any, Any]:
    """Chunked online softmax on arrays of one namespace and dtype; return (out, lse)
    (``lse`` is None unless ``with_lse``).

    ``half_precision`` is w_j (= 1 / (2 var_j) for the kernels) and ``log_weights`` is b_j,
    both of shape (N,); ``scale`` is a float or an array of shape (B,) (a_i), and
    ``query_precision`` an optional array of shape (B,) (u_i, default 1). Raises
    ``FloatingPointError`` if a logit could overflow (the inputs are assumed finite).

    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0]]); c = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> out, lse = softmax_weighted_sum_xp(x, c, c, 1.0, np.full(2, 0.5), np.zeros(2), None, None)
    >>> out.tolist(), round(float(lse[0]), 6)
    ([[0.0, 0.0]], 0.193147)

    Per query: u_i = 1 / (2 v_i) with v = (1, 1e-4) and scale (1, 0.5), w_j = 1:

    >>> x = np.array([[0.5, 0.0], [0.2, 0.0]])
    >>> out, _ = softmax_weighted_sum_xp(x, c, c, np.array([1.0, 0.5]), np.ones(2), np.zeros(2),
    ...                                  None, None, query_precision=np.array([0.5, 5e3]))
    >>> out.round(6).tolist()                     # tanh(0.5 * 1 / 1), tanh(0.2 * 0.5 / 1e-4)
    [[0.462117, 0.0], [1.0, 0.0]]
    """
    xp = array_namespace(x, centers, values, half_precision, log_weights)
    B, d = x.shape
    N = centers.shape[0]
    qb = query_chunk or QUERY_CHUNK
    nb = center_chunk or CENTER_CHUNK
    dtype, f64 = x.dtype, xp.float64
    info = xp.finfo(dtype)
    eps = float(info.eps)
    rule = ((d + 3.0) * eps, 64.0 * eps, 3.0 - math.log(eps))  # gamma, tau, window
    drop = math.exp(-rule[2])  # negligible weights: see ``_numba``

    w, b, u = (
        None if v is None else xp.astype(v, f64, copy=False)
        for v in (half_precision, log_weights, query_precision)
    )
    scale = scale if isinstance(scale, (int, float)) else xp.astype(scale, f64, copy=False)
    if not _logits_fit(x, centers, scale, w, u):
        raise FloatingPointError("a logit could overflow")
    cbar, scaled, cc = _prepared_centres(centers, w, nb)

    outs, lses = [], []
    for i0 in range(0, B, qb):
        rows = slice(i0, i0 + qb)
        xq = xp.astype(x[rows, :], f64, copy=False)
        a, uq = _rows(scale, rows), _rows(u, rows)
        xs = xq - _column(a) * cbar  # x'_i = x_i - a_i cbar
        xx = xp.sum(xs * xs, axis=1)
        xs = xp.astype(xs, dtype, copy=False)  # the operand of the products
        m = s = acc = None
        for j0 in range(0, N, nb):
            blk = slice(j0, j0 + nb)
            # _logits_fit rules out overflow and both operands are finite, so an "invalid" flag
            # from this product is a BLAS kernel's spurious one (NumPy's OpenBLAS raised it
            # once in a float32 1 x 5 @ 5 x 2 product with finite values): not a warning
            with np.errstate(invalid="ignore"):
                product = xp.matmul(xs, scaled[blk, :].T)
            inner = (
                _column(a) * xp.astype(product, f64, copy=False)
                - _column(a * a) * cc[blk]
                - w[blk] * xx[:, None]
            )
            logits = b[blk] + (inner if uq is None else uq[:, None] * inner)
            tile = (centers[blk, :], w[blk], b[blk], cc[blk])
            logits = _refine(logits, xq, xx, a, uq, tile, m, rule)
            m_new = xp.max(logits, axis=1)
            if m is not None:
                m_new = xp.maximum(m, m_new)
            p = xp.exp(logits - m_new[:, None])
            p[p < drop] = 0.0
            p = xp.astype(p, dtype, copy=False)
            tile_sum = xp.sum(xp.astype(p, f64, copy=False), axis=1)
            tile_acc = xp.astype(xp.matmul(p, values[blk, :]), f64, copy=False)
            if m is None:
                s, acc = tile_sum, tile_acc
            else:
                rescale = xp.exp(m - m_new)
                s = s * rescale + tile_sum
                acc = acc * rescale[:, None] + tile_acc
            m = m_new
        outs.append(xp.astype(acc / s[:, None], dtype, copy=False))
        lses.append(xp.astype(m + xp.log(s), dtype, copy=False))
    return xp.concat(outs, axis=0), xp.concat(lses, axis=0) if with_lse else None


def _prepared_centres(centers: Any, w: Any, nb: int) -> tuple[Any, Any, Any]:
    """``(cbar, C'', cc)``: the float64 centroid cbar, the product operand C''_j = 2 w_j (c_j -
    cbar) in the dtype of the centres and the float64 w_j ||c_j - cbar||^2, computed block by
    block (at most ``nb`` float64 rows at a time)."""
    xp = array_namespace(centers, w)
    N = centers.shape[0]
    f64 = xp.float64
    blocks = range(0, N, nb)
    cbar = (
        sum(xp.sum(xp.astype(centers[j0 : j0 + nb, :], f64, copy=False), axis=0) for j0 in blocks)
        / N
    )
    scaled, cc = [], []
    for j0 in blocks:
        centred = xp.astype(centers[j0 : j0 + nb, :], f64, copy=False) - cbar  # c'_j
        wj = w[j0 : j0 + nb]
        cc.append(wj * xp.sum(centred * centred, axis=1))
        scaled.append(xp.astype((2.0 * wj)[:, None] * centred, centers.dtype, copy=False))
    return cbar, xp.concat(scaled, axis=0), xp.concat(cc, axis=0)


def _rows(value: Any, rows: slice) -> Any:
    """The rows of a per-query array; a float (or None) is the same for every query."""
    return value if value is None or isinstance(value, (int, float)) else value[rows]


def _column(value: Any) -> Any:
    """A per-query array as a column (broadcasts over centres); a float as it is."""
    return value if isinstance(value, (int, float)) else value[:, None]


def _largest(value: Any, xp: Any) -> float:
    """max |value| as a Python float (1 for None: no query precision)."""
    if value is None or isinstance(value, (int, float)):
        return 1.0 if value is None else abs(float(value))
    return float(xp.max(xp.abs(value)))


def _logits_fit(x: Any, centers: Any, scale: Any, w: Any, u: Any) -> bool:
    """Whether every intermediate u_i w_j ||x' - a c'||^2 of the expansion stays finite (a
    bound by the largest entries, in Python floats, which turn into inf instead of warning)."""
    xp = array_namespace(x, centers, w)
    extent = float(xp.max(xp.abs(x))) + _largest(scale, xp) * float(xp.max(xp.abs(centers)))
    bound = 5.0 * x.shape[1] * extent * extent  # >= ||x - a cbar||^2 + a^2 ||c - cbar||^2
    return 4.0 * float(xp.max(w)) * _largest(u, xp) * bound < float(xp.finfo(x.dtype).max)


def _refine(
    logits: Any,
    xq: Any,
    xx: Any,
    a: Any,
    u: Any,
    tile: tuple[Any, Any, Any, Any],
    m_run: Any | None,
    rule: tuple[float, float, float],
) -> Any:
    """Recompute exactly the near-max logits whose expanded square lost digits.

    An entry is recomputed from ``b_j - u_i w_j ||x_i - a_i c_j||^2`` when it is within
    ``window + 2 * bound`` of its row max (its weight is not negligible), its error bound
    gamma u_i (w_j ||x'_i||^2 + a_i^2 w_j ||c'_j||^2) exceeds tau, and that size exceeds RHO
    times the logit's own magnitude u_i w_j ||x_i - a_i c_j||^2. ``tile`` holds the tile's
    (centres, w, b, w ||c'||^2).
    """
    xp = array_namespace(logits)
    centers, w, b, cc = tile
    gamma, tau, window = rule
    best = xp.max(logits, axis=1)
    size_max = xp.max(w) * xx + a * a * xp.max(cc)
    size = w * xx[:, None] + _column(a * a) * cc
    if u is not None:
        size_max, size = u * size_max, u[:, None] * size
    rows = (gamma * size_max > tau) & (size_max > RHO * (xp.min(b) - best))
    if not bool(xp.any(rows)):
        return logits
    top = best if m_run is None else xp.maximum(m_run, best)
    need = (
        rows[:, None]
        & (logits > (top - window - 2.0 * gamma * size_max)[:, None])
        & (gamma * size > tau)
        & (size > RHO * (b - logits))
    )
    qi, cj = xp.nonzero(need)
    if qi.shape[0] == 0:
        return logits
    step = max(1, (logits.shape[0] * logits.shape[1]) // xq.shape[1])  # bounds diff's memory
    exact = []
    for k0 in range(0, qi.shape[0], step):
        i, j = qi[k0 : k0 + step], cj[k0 : k0 + step]
        rows = xp.astype(xp.take(centers, j, axis=0), xp.float64, copy=False)
        diff = xp.take(xq, i, axis=0) - _column(_at(a, i, xp)) * rows
        scaled_w = xp.take(w, j) if u is None else xp.take(u, i) * xp.take(w, j)
        exact.append(xp.take(b, j) - scaled_w * xp.sum(diff * diff, axis=1))
    logits[need] = xp.concat(exact, axis=0)
    return logits


def _at(value: Any, index: Any, xp: Any) -> Any:
    """Entries ``index`` of a per-query array; a float as it is."""
    return value if isinstance(value, (int, float)) else xp.take(value, index)
