"""Array-API implementation of the fused softmax-weighted sum (private; see ``kernels``).

The same chunked online-softmax algorithm as the Numba kernel, written only with array-API
operations through ``array_api_compat.array_namespace`` (``matmul``, ``exp``, ``max``,
``sum``, ``take``, ``nonzero``, ...), so that it runs unchanged on NumPy and on CuPy:

    l_ij  = b_j - w_j ||x_i - a c_j||^2,     out_i = sum_j softmax_j(l_i) V_j,
    lse_i = logsumexp_j l_ij,

tile by tile: G = X' @ C''^T gives the logits through the expanded square of the centred
data (x' = x - r, c' = a c - r, r = a mean_j c_j, 2 w_j folded into C''); the near-max
entries whose expansion lost digits are recomputed exactly from x_i - a c_j (same rule as
``_numba``); a running max and sum per query rescale the accumulator when the max grows.
"""

from __future__ import annotations

import math
from typing import Any

from array_api_compat import array_namespace

# Refinement rule shared with the Numba kernel.
from diffmem_theory.kernels._numba import RHO

QUERY_CHUNK = 1024
CENTER_CHUNK = 2048


def softmax_weighted_sum_xp(
    x: Any,
    centers: Any,
    values: Any,
    scale: float,
    half_precision: Any,
    log_weights: Any,
    query_chunk: int | None,
    center_chunk: int | None,
    with_lse: bool = True,
) -> tuple[Any, Any]:
    """Chunked online softmax on arrays of one namespace and dtype; return (out, lse)
    (``lse`` is None unless ``with_lse``).

    ``half_precision`` is w = 1 / (2 var) and ``log_weights`` is b, both of shape (N,). Raises
    ``FloatingPointError`` if a logit could overflow (the inputs are assumed finite).

    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0]]); c = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> out, lse = softmax_weighted_sum_xp(x, c, c, 1.0, np.full(2, 0.5), np.zeros(2), None, None)
    >>> out.tolist(), round(float(lse[0]), 6)
    ([[0.0, 0.0]], 0.193147)
    """
    xp = array_namespace(x, centers, values, half_precision, log_weights)
    B, d = x.shape
    N = centers.shape[0]
    qb = query_chunk or QUERY_CHUNK
    nb = center_chunk or CENTER_CHUNK
    eps = float(xp.finfo(x.dtype).eps)
    rule = ((d + 3.0) * eps, 64.0 * eps, 3.0 - math.log(eps))  # gamma, tau, window

    w, b = half_precision, log_weights
    if not _logits_fit(x, centers, scale, w):
        raise FloatingPointError("a logit could overflow")
    shifted = scale * centers  # a c_j
    r = xp.mean(shifted, axis=0)
    centred = shifted - r
    ee = w * xp.sum(centred * centred, axis=1)  # w_j ||a c_j - r||^2
    scaled = (2.0 * w)[:, None] * centred
    beta = b - ee

    outs, lses = [], []
    for i0 in range(0, B, qb):
        xq = x[i0 : i0 + qb, :]
        xs = xq - r
        xx = xp.sum(xs * xs, axis=1)
        m = s = acc = None
        for j0 in range(0, N, nb):
            blk = slice(j0, j0 + nb)
            logits = xp.matmul(xs, scaled[blk, :].T) + beta[blk] - w[blk] * xx[:, None]
            logits = _refine(logits, xq, xx, shifted[blk, :], w[blk], b[blk], ee[blk], m, rule)
            m_new = xp.max(logits, axis=1)
            if m is not None:
                m_new = xp.maximum(m, m_new)
            p = xp.exp(logits - m_new[:, None])
            tile_sum, tile_acc = xp.sum(p, axis=1), xp.matmul(p, values[blk, :])
            if m is None:
                s, acc = tile_sum, tile_acc
            else:
                rescale = xp.exp(m - m_new)
                s = s * rescale + tile_sum
                acc = acc * rescale[:, None] + tile_acc
            m = m_new
        outs.append(acc / s[:, None])
        lses.append(m + xp.log(s))
    return xp.concat(outs, axis=0), xp.concat(lses, axis=0) if with_lse else None


def _logits_fit(x: Any, centers: Any, scale: float, w: Any) -> bool:
    """Whether every intermediate w_j ||x' - c'||^2 of the expansion stays finite (a bound by
    the largest entries, in Python floats, which turn into inf instead of warning)."""
    xp = array_namespace(x, centers, w)
    extent = float(xp.max(xp.abs(x))) + abs(scale) * float(xp.max(xp.abs(centers)))
    bound = 5.0 * x.shape[1] * extent * extent  # >= ||x - r||^2 + ||a c - r||^2
    return 4.0 * float(xp.max(w)) * bound < float(xp.finfo(x.dtype).max)


def _refine(
    logits: Any,
    xq: Any,
    xx: Any,
    shifted: Any,
    w: Any,
    b: Any,
    ee: Any,
    m_run: Any | None,
    rule: tuple[float, float, float],
) -> Any:
    """Recompute exactly the near-max logits whose expanded square lost digits.

    An entry is recomputed from ``b_j - w_j ||x_i - a c_j||^2`` when it is within
    ``window + 2 * bound`` of its row max (its weight is not negligible), its error bound
    gamma w_j (||x'_i||^2 + ||c'_j||^2) exceeds tau, and that size exceeds RHO times the
    logit's own magnitude w_j ||x_i - a c_j||^2.
    """
    xp = array_namespace(logits)
    gamma, tau, window = rule
    best = xp.max(logits, axis=1)
    size_max = xp.max(w) * xx + xp.max(ee)
    rows = (gamma * size_max > tau) & (size_max > RHO * (xp.min(b) - best))
    if not bool(xp.any(rows)):
        return logits
    top = best if m_run is None else xp.maximum(m_run, best)
    size = w * xx[:, None] + ee
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
        diff = xp.take(xq, i, axis=0) - xp.take(shifted, j, axis=0)
        exact.append(xp.take(b, j) - xp.take(w, j) * xp.sum(diff * diff, axis=1))
    logits[need] = xp.concat(exact, axis=0)
    return logits
