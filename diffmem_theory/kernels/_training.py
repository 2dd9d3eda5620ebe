"""Numba kernel: loss and analytic gradient of the isotropic GMM denoiser (private; see training).

For queries ``x_q = alpha_q x0_q + sigma_q eps_q`` (B of them) and the model of Buchanan et al.
(paper 000), eqs. (11)-(12), with means ``mu`` (M, d) and shared variance ``s2``:

    v_q = alpha_q^2 s2 + sigma_q^2,  a_q = alpha_q s2 / v_q,  b_q = sigma_q^2 / v_q,
    D_qj = |x_q - alpha_q mu_j|^2,   p_q = softmax_j(-D_qj / (2 v_q)),   m_q = sum_j p_qj mu_j,
    xbar_q = a_q x_q + b_q m_q,      L = (1/B) sum_q lam_q |xbar_q - x0_q|^2.

With ``g_q = 2 lam_q (xbar_q - x0_q) / B`` and the softmax Jacobian times the logit derivative
``c_qj = p_qj b_q (g_q . mu_j - g_q . m_q) alpha_q / v_q``:

    dL/dmu_j = sum_q [p_qj b_q g_q + c_qj (x_q - alpha_q mu_j)],
    dL/ds2   = sum_q [ (g_q . x_q) alpha_q sigma_q^2 / v_q^2 - (g_q . m_q) alpha_q^2 sigma_q^2/v_q^2
                       + sum_j p_qj b_q (g_q . mu_j - g_q . m_q) D_qj alpha_q^2 / (2 v_q^2) ].

The queries are processed in blocks by ``numba.get_num_threads()`` slots in one ``prange`` (in a
training epoch the queries alpha_i x^i + sigma_i z_q are formed block by block from the noise, so
the B x d queries and targets are never stored either); per block five single-threaded BLAS
products (x mu^T, p mu, g mu^T, (p b)^T g, c^T x), the logits from the expanded square with a
per-row max, a vectorizable exp, and per-slot gradient partials summed at the end. The B x M x d
differences are never formed.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from diffmem_theory.kernels._numba import _FASTMATH, exp_nonpositive_scalar, single_threaded_blas

QUERY_CHUNK = 256


@njit(fastmath=_FASTMATH, cache=True)
def _block(X, x0, alpha, sigma2, lam, means, meansT, mm, var, inv_b, gmu, out):
    """One query block (nb rows): out = (loss part, dL/ds2 part); adds dL/dmu into gmu."""
    nb = X.shape[0]
    M = means.shape[0]
    d = X.shape[1]
    XM = np.dot(X, meansT)  # (nb, M)
    P = np.empty((nb, M), dtype=X.dtype)
    Dist = np.empty((nb, M), dtype=np.float64)
    v = np.empty(nb)
    for i in range(nb):
        a = alpha[i]
        vi = a * a * var + sigma2[i]
        v[i] = vi
        xx = 0.0
        for k in range(d):
            xx += X[i, k] * X[i, k]
        best = -np.inf
        for j in range(M):
            dij = max(xx - 2.0 * a * XM[i, j] + a * a * mm[j], 0.0)
            Dist[i, j] = dij
            lij = -dij / (2.0 * vi)
            if lij > best:
                best = lij
        tot = 0.0
        for j in range(M):
            pij = exp_nonpositive_scalar(-Dist[i, j] / (2.0 * vi) - best)
            P[i, j] = pij
            tot += pij
        for j in range(M):
            P[i, j] = P[i, j] / tot
    Mbar = np.dot(P, means)  # (nb, d)
    G = np.empty((nb, d), dtype=X.dtype)
    loss = 0.0
    gm = np.empty(nb)
    gx = np.empty(nb)
    for i in range(nb):
        a = alpha[i]
        s2t = sigma2[i]
        ca = a * var / v[i]
        cb = s2t / v[i]
        err2 = 0.0
        gmi = 0.0
        gxi = 0.0
        for k in range(d):
            e = ca * X[i, k] + cb * Mbar[i, k] - x0[i, k]
            err2 += e * e
            g = 2.0 * lam[i] * e * inv_b
            G[i, k] = g
            gmi += g * Mbar[i, k]
            gxi += g * X[i, k]
        loss += lam[i] * err2
        gm[i] = gmi
        gx[i] = gxi
    GM = np.dot(G, meansT)  # (nb, M)
    W = np.empty((nb, M), dtype=X.dtype)  # p b
    Cq = np.empty((nb, M), dtype=X.dtype)  # c
    csum = np.zeros(M)
    dvar = 0.0
    for i in range(nb):
        a = alpha[i]
        s2t = sigma2[i]
        vi = v[i]
        cb = s2t / vi
        inv_v2 = 1.0 / (vi * vi)
        acc = 0.0
        for j in range(M):
            pb = P[i, j] * cb
            diff = GM[i, j] - gm[i]
            W[i, j] = pb
            cij = pb * diff * a / vi
            Cq[i, j] = cij
            csum[j] += cij * a
            acc += pb * diff * Dist[i, j]
        dvar += (gx[i] * a * s2t - gm[i] * a * a * s2t + 0.5 * acc * a * a) * inv_v2
    part = np.dot(W.T.copy(), G) + np.dot(Cq.T.copy(), X)  # (M, d)
    for j in range(M):
        for k in range(d):
            gmu[j, k] += part[j, k] - csum[j] * means[j, k]
    out[0] = loss
    out[1] = dvar


@njit(parallel=True, cache=True)
def loss_and_grad_numba(xt, x0, alpha, sigma2, lam, n_dup, means, var, chunk, n_threads):
    """Loss (1/B) sum_q lam_q |xbar_q - x0_q|^2, dL/dmeans (M, d) and dL/dvar (see module).

    ``n_dup = 0``: ``xt``, ``x0`` (B, d) and ``alpha``, ``sigma2``, ``lam`` (B,) are the queries.
    ``n_dup > 0`` (the training epoch, fused): ``x0`` holds the N training points, ``xt`` the
    standard noise z (B = N n_dup rows, row q = i n_dup + r) and ``alpha``, ``sigma2``, ``lam``
    one value per training point; the queries alpha_i x^i + sigma_i z_q are formed per block.
    """
    B = xt.shape[0]
    M, d = means.shape
    meansT = np.ascontiguousarray(means.T)
    mm = np.empty(M)
    for j in range(M):
        s = 0.0
        for k in range(d):
            s += means[j, k] * means[j, k]
        mm[j] = s
    n_blocks = (B + chunk - 1) // chunk
    slots = min(n_threads, n_blocks)
    gmu = np.zeros((slots, M, d))
    acc = np.zeros((slots, 2))
    inv_b = 1.0 / B
    for slot in prange(slots):
        out = np.zeros(2)
        xb = np.empty((chunk, d), dtype=xt.dtype)
        x0b = np.empty((chunk, d), dtype=xt.dtype)
        ab = np.empty(chunk)
        s2b = np.empty(chunk)
        lb = np.empty(chunk)
        for blk in range(slot, n_blocks, slots):
            i0 = blk * chunk
            i1 = min(B, i0 + chunk)
            if n_dup == 0:
                _block(xt[i0:i1], x0[i0:i1], alpha[i0:i1], sigma2[i0:i1], lam[i0:i1], means,
                       meansT, mm, var, inv_b, gmu[slot], out)  # fmt: skip
            else:
                nb = i1 - i0
                for r in range(nb):
                    i = (i0 + r) // n_dup
                    a = alpha[i]
                    sg = np.sqrt(sigma2[i])
                    ab[r] = a
                    s2b[r] = sigma2[i]
                    lb[r] = lam[i]
                    for k in range(d):
                        x0b[r, k] = x0[i, k]
                        xb[r, k] = a * x0[i, k] + sg * xt[i0 + r, k]
                _block(xb[:nb], x0b[:nb], ab[:nb], s2b[:nb], lb[:nb], means, meansT, mm, var,
                       inv_b, gmu[slot], out)  # fmt: skip
            acc[slot, 0] += out[0]
            acc[slot, 1] += out[1]
    grad = np.zeros((M, d))
    loss = 0.0
    dvar = 0.0
    for slot in range(slots):
        loss += acc[slot, 0]
        dvar += acc[slot, 1]
        for j in range(M):
            for k in range(d):
                grad[j, k] += gmu[slot, j, k]
    return loss * inv_b, grad, dvar


def loss_and_grad_cpu(
    xt: np.ndarray,
    x0: np.ndarray,
    alpha: np.ndarray,
    sigma2: np.ndarray,
    lam: np.ndarray,
    means: np.ndarray,
    var: float,
    chunk: int = QUERY_CHUNK,
    n_dup: int = 0,
) -> tuple[float, np.ndarray, float]:
    """Run the kernel on validated C-contiguous arrays (xt, x0, means share one float dtype).

    ``n_dup > 0`` selects the fused epoch form: ``xt`` is the noise, ``x0`` the training points
    and ``alpha``, ``sigma2``, ``lam`` are per training point (see ``loss_and_grad_numba``).

    >>> import numpy as np
    >>> one = np.ones((1, 1))
    >>> loss, g, gv = loss_and_grad_cpu(one, 0 * one, np.ones(1), np.ones(1), np.ones(1), one, 1.0)
    >>> round(loss, 6), g.round(6).tolist(), round(gv, 6)   # xbar = x/2 + 1/2 = 1
    (1.0, [[1.0]], 0.0)
    """
    with single_threaded_blas():
        loss, grad, dvar = loss_and_grad_numba(
            xt, x0, alpha, sigma2, lam, int(n_dup), means, float(var), int(chunk),
            numba.get_num_threads(),
        )  # fmt: skip
    return float(loss), grad, float(dvar)
