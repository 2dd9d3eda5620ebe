"""Array-API twin of the fused GMM loss + gradient kernel, and the backend dispatch (private).

The formulas are those of :mod:`diffmem_theory.kernels._training` (Buchanan et al. (paper 000),
eqs. (5)-(6), (11)-(12), with the analytic gradient):

    v_q = alpha_q^2 s2 + sigma_q^2,   D_qj = |x_q - alpha_q mu_j|^2,
    p_q = softmax_j(-D_qj / (2 v_q)),  xbar_q = (alpha_q s2 x_q + sigma_q^2 p_q mu) / v_q,
    L = (1/B) sum_q lam_q |xbar_q - x0_q|^2,

computed block by block over the queries with array-API operations only (five matmuls a block,
the logits from the expanded square with a per-row max), so the same code runs on NumPy (where
it is tested against the Numba kernel) and on CuPy. The B x M x d differences are never formed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from array_api_compat import array_namespace

from diffmem_theory.kernels._array_api import backend_namespace, to_host
from diffmem_theory.kernels._training import QUERY_CHUNK


def loss_and_grad_on(
    xt: np.ndarray,
    x0: np.ndarray,
    alpha: np.ndarray,
    sigma2: np.ndarray,
    lam: np.ndarray,
    means: np.ndarray,
    var: float,
    *,
    n_dup: int = 0,
    backend: str = "numpy",
) -> tuple[float, np.ndarray, float]:
    """:func:`loss_and_grad_xp` on ``backend`` (``"numpy"`` or ``"cupy"``), NumPy in and out.

    The drop-in twin of :func:`~diffmem_theory.kernels._training.loss_and_grad_cpu` (same
    arguments); ``"cupy"`` copies the inputs to the GPU and the gradient back.

    >>> from diffmem_theory.kernels._training import loss_and_grad_cpu
    >>> one = np.ones((1, 1))
    >>> args = (one, 0 * one, np.ones(1), np.ones(1), np.ones(1), one, 1.0)
    >>> loss_and_grad_cpu(*args)[0] == loss_and_grad_on(*args)[0] == 1.0
    True
    """
    xp = backend_namespace(backend)
    arrays = (xp.asarray(a) for a in (xt, x0, alpha, sigma2, lam, means))
    loss, grad, dvar = loss_and_grad_xp(*arrays, var, n_dup=n_dup)
    return loss, to_host(grad), dvar


def loss_and_grad_xp(
    xt: Any,
    x0: Any,
    alpha: Any,
    sigma2: Any,
    lam: Any,
    means: Any,
    var: float,
    *,
    n_dup: int = 0,
    chunk: int = QUERY_CHUNK,
) -> tuple[float, Any, float]:
    """Loss, dL/dmeans (M, d) and dL/dvar on arrays of one namespace (see the module).

    ``n_dup = 0``: ``xt``, ``x0`` (B, d) and ``alpha``, ``sigma2``, ``lam`` (B,) are the
    queries. ``n_dup > 0``: ``x0`` holds the N training points, ``xt`` the standard noise z
    (B = N n_dup rows, row q = i n_dup + r), ``alpha``, ``sigma2``, ``lam`` one value per
    training point; the queries alpha_i x^i + sigma_i z_q are formed per block.

    >>> one = np.ones((1, 1))
    >>> loss, g, gv = loss_and_grad_xp(one, 0 * one, np.ones(1), np.ones(1), np.ones(1), one, 1.0)
    >>> round(loss, 6), g.round(6).tolist(), round(gv, 6)   # xbar = x/2 + 1/2 = 1
    (1.0, [[1.0]], 0.0)
    """
    xp = array_namespace(xt, x0, means)
    B = xt.shape[0]
    mm = xp.sum(means * means, axis=1)
    grad = xp.zeros(means.shape, dtype=means.dtype)
    loss = dvar = 0.0
    for i0 in range(0, B, chunk):
        rows = slice(i0, min(B, i0 + chunk))
        if n_dup == 0:
            block = (xt[rows, :], x0[rows, :], alpha[rows], sigma2[rows], lam[rows])
        else:
            owner = xp.arange(rows.start, rows.stop) // n_dup
            a, s2 = xp.take(alpha, owner), xp.take(sigma2, owner)
            target = xp.take(x0, owner, axis=0)
            queries = a[:, None] * target + xp.sqrt(s2)[:, None] * xt[rows, :]
            block = (queries, target, a, s2, xp.take(lam, owner))
        part_loss, part_grad, part_dvar = _block(*block, means, mm, var, 1.0 / B)
        loss, grad, dvar = loss + part_loss, grad + part_grad, dvar + part_dvar
    return loss / B, grad, dvar


def _block(
    X: Any,
    x0: Any,
    alpha: Any,
    sigma2: Any,
    lam: Any,
    means: Any,
    mm: Any,
    var: float,
    inv_b: float,
) -> tuple[float, Any, float]:
    """One query block: (sum_q lam_q |xbar_q - x0_q|^2, dL/dmeans part, dL/dvar part)."""
    xp = array_namespace(X, means)
    v = alpha * alpha * var + sigma2
    dist = xp.sum(X * X, axis=1)[:, None] - 2.0 * alpha[:, None] * xp.matmul(X, means.T)
    dist = xp.clip(dist + (alpha * alpha)[:, None] * mm, 0.0, None)  # D_qj
    logits = -dist / (2.0 * v)[:, None]
    P = xp.exp(logits - xp.max(logits, axis=1)[:, None])
    P = P / xp.sum(P, axis=1)[:, None]
    Mbar = xp.matmul(P, means)
    cb = sigma2 / v
    err = (alpha * var / v)[:, None] * X + cb[:, None] * Mbar - x0
    G = (2.0 * inv_b) * lam[:, None] * err
    gm, gx = xp.sum(G * Mbar, axis=1), xp.sum(G * X, axis=1)
    W = P * cb[:, None]
    diff = xp.matmul(G, means.T) - gm[:, None]
    C = W * diff * (alpha / v)[:, None]
    inv_v2 = 1.0 / (v * v)
    spread = xp.sum(W * diff * dist, axis=1)
    dvar = xp.sum(
        (gx * alpha * sigma2 - gm * alpha * alpha * sigma2 + 0.5 * spread * alpha**2) * inv_v2
    )
    grad = (
        xp.matmul(W.T, G) + xp.matmul(C.T, X) - xp.sum(C * alpha[:, None], axis=0)[:, None] * means
    )
    loss = xp.sum(lam * xp.sum(err * err, axis=1))
    return float(loss), grad, float(dvar)
