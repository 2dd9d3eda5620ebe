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

The queries are cut into blocks of ``chunk`` (256) rows and the blocks into ``n_groups`` groups of
consecutive blocks; both depend only on the shapes (B, M, d), never on the number of threads.
Each group is one work item, handed out dynamically to the ``numba.get_num_threads()`` slots of
one ``prange`` (:mod:`diffmem_theory.kernels._parallel`: a thread slowed down by another process
takes fewer groups). A group sums its blocks in block order into its own partial loss, dL/ds2
and dL/dmu (M, d); after the parallel loop the groups are added in group order. The result is
therefore bit-identical for any thread count. At most ``MAX_GROUPS`` groups, and fewer when
their (M, d) partials would exceed ``GROUP_BUDGET`` doubles (but at least ``MIN_GROUPS``):
the memory stays bounded by max(GROUP_BUDGET, MIN_GROUPS M d) doubles.

In a training epoch the queries alpha_i x^i + sigma_i z_q are formed block by block from the
noise, so the B x d queries and targets are never stored either; per block five single-threaded
BLAS products (x mu^T, p mu, g mu^T, (p b)^T g, c^T x), the logits from the expanded square with
a per-row max and a vectorizable exp. The B x M x d differences are never formed.

Before a query enters the arithmetic, :func:`row_bounded` bounds the size of everything it
contributes (squared norms, logits, error, gradient and dL/ds2 terms) from its norms; when a
bound reaches the dtype's largest float divided by 16 B, the kernel stops and reports status 1
instead of computing with inf or NaN (whose results the fast-math code does not define).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

from diffmem_theory.kernels._numba import _FASTMATH, exp_nonpositive_scalar, single_threaded_blas
from diffmem_theory.kernels._parallel import n_slots, new_counter, next_item

QUERY_CHUNK = 256
MAX_GROUPS = 64
MIN_GROUPS = 8
GROUP_BUDGET = 1 << 22  # doubles of (M, d) gradient partials, all groups together (32 MiB)


@njit(cache=True)
def n_groups(n_blocks, M, d):
    """Number of block groups (work items): a function of the shapes only.

    ``min(n_blocks, MAX_GROUPS, max(MIN_GROUPS, GROUP_BUDGET // (M d)))``, at least 1.

    >>> n_groups(8, 20, 50), n_groups(79, 200, 50), n_groups(79, 1000, 3072), n_groups(0, 1, 1)
    (8, 64, 8, 1)
    """
    fit = max(MIN_GROUPS, GROUP_BUDGET // max(M * d, 1))
    return max(1, min(n_blocks, MAX_GROUPS, fit))


@njit(cache=True, error_model="numpy")
def row_bounded(xx, x0x0, a, s2t, lam, var, mm_max, limit):
    """Whether every term one query contributes to the kernel stays below ``limit``.

    From |x|^2 = ``xx``, |x0|^2 = ``x0x0``, max_j |mu_j|^2 = ``mm_max`` and the query's
    alpha, sigma^2 and lambda: D_qj <= (|x| + alpha |mu|)^2, |xbar - x0| <= a_q |x| + b_q |mu|
    + |x0| = e, |g| <= 2 lam e, |c_qj| <= 2 b_q |g| |mu| alpha / v and the dL/dmu and dL/ds2
    terms of the module formulas. Plain IEEE arithmetic (no fast-math): an overflow gives inf
    (or NaN from inf * 0), and both compare as not bounded.

    >>> row_bounded(1.0, 1.0, 0.8, 0.36, 1.8, 1.0, 1.0, 1e300)
    True
    >>> row_bounded(1e300, 1.0, 0.8, 0.36, 1.8, 1.0, 1.0, 1e300)
    False
    """
    inv_v = 1.0 / (a * a * var + s2t)
    rx, r0, rm = math.sqrt(xx), math.sqrt(x0x0), math.sqrt(mm_max)
    reach = rx + a * rm
    d_max = reach * reach
    cb = s2t * inv_v
    e = (a * var * inv_v) * rx + cb * rm + r0
    g = 2.0 * lam * e
    c = 2.0 * cb * g * rm * a * inv_v
    dvar = (g * rx * a * s2t + g * rm * a * a * s2t + cb * g * rm * d_max * a * a) * inv_v * inv_v
    terms = (
        d_max * 0.5 * inv_v,
        e,
        lam * e * e,
        g * (rx + rm),
        cb * g + c * reach,
        dvar,
        inv_v * inv_v,
    )
    for term in terms:
        if not term < limit:
            return False
    return True


@njit(fastmath=_FASTMATH, cache=True, error_model="numpy")
def _block(X, x0, alpha, sigma2, lam, means, meansT, mm, var, inv_b, limit, gmu, out):
    """One query block (nb rows): out = (loss part, dL/ds2 part, status); adds dL/dmu into gmu.

    Status 1 (and nothing added) when a row fails :func:`row_bounded`.
    """
    nb = X.shape[0]
    M = means.shape[0]
    d = X.shape[1]
    mm_max = 0.0
    for j in range(M):
        mm_max = max(mm_max, mm[j])
    sq = np.empty(nb)
    for i in range(nb):
        xx = 0.0
        x0x0 = 0.0
        for k in range(d):
            xx += X[i, k] * X[i, k]
            x0x0 += x0[i, k] * x0[i, k]
        if not row_bounded(xx, x0x0, alpha[i], sigma2[i], lam[i], var, mm_max, limit):
            out[2] = 1.0
            return
        sq[i] = xx
    XM = np.dot(X, meansT)  # (nb, M)
    P = np.empty((nb, M), dtype=X.dtype)
    Dist = np.empty((nb, M), dtype=np.float64)
    v = np.empty(nb)
    for i in range(nb):
        a = alpha[i]
        vi = a * a * var + sigma2[i]
        v[i] = vi
        xx = sq[i]
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
    out[2] = 0.0


@njit(parallel=True, cache=True)
def loss_and_grad_numba(xt, x0, alpha, sigma2, lam, n_dup, means, var, chunk, limit, n_threads):
    """Status, loss (1/B) sum_q lam_q |xbar_q - x0_q|^2, dL/dmeans (M, d), dL/dvar (see module).

    ``n_dup = 0``: ``xt``, ``x0`` (B, d) and ``alpha``, ``sigma2``, ``lam`` (B,) are the queries.
    ``n_dup > 0`` (the training epoch, fused): ``x0`` holds the N training points, ``xt`` the
    standard noise z (B = N n_dup rows, row q = i n_dup + r) and ``alpha``, ``sigma2``, ``lam``
    one value per training point; the queries alpha_i x^i + sigma_i z_q are formed per block.
    Status 1 when a query fails :func:`row_bounded` with ``limit`` (the results are then void).
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
    groups = n_groups(n_blocks, M, d)
    gmu = np.zeros((groups, M, d))
    acc = np.zeros((groups, 3))  # loss, dL/dvar, status of each group
    inv_b = 1.0 / B
    counter = new_counter()
    for _slot in prange(n_slots(groups, n_threads)):
        out = np.zeros(3)
        xb = np.empty((chunk, d), dtype=xt.dtype)
        x0b = np.empty((chunk, d), dtype=xt.dtype)
        ab = np.empty(chunk)
        s2b = np.empty(chunk)
        lb = np.empty(chunk)
        grp = next_item(counter)
        while grp < groups:
            for blk in range(grp * n_blocks // groups, (grp + 1) * n_blocks // groups):
                i0 = blk * chunk
                i1 = min(B, i0 + chunk)
                if n_dup == 0:
                    _block(xt[i0:i1], x0[i0:i1], alpha[i0:i1], sigma2[i0:i1], lam[i0:i1], means,
                           meansT, mm, var, inv_b, limit, gmu[grp], out)  # fmt: skip
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
                    _block(xb[:nb], x0b[:nb], ab[:nb], s2b[:nb], lb[:nb], means, meansT, mm,
                           var, inv_b, limit, gmu[grp], out)  # fmt: skip
                if out[2] != 0.0:
                    acc[grp, 2] = 1.0
                    break
                acc[grp, 0] += out[0]
                acc[grp, 1] += out[1]
            grp = next_item(counter)
    grad = np.zeros((M, d))
    loss = 0.0
    dvar = 0.0
    status = 0
    for grp in range(groups):  # in group order: the same sums for any number of threads
        loss += acc[grp, 0]
        dvar += acc[grp, 1]
        status = max(status, int(acc[grp, 2]))
        for j in range(M):
            for k in range(d):
                grad[j, k] += gmu[grp, j, k]
    return status, loss * inv_b, grad, dvar


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
    Raises ``ValueError`` when a term of the loss or gradient would overflow the dtype (see
    :func:`row_bounded`).

    >>> import numpy as np
    >>> one = np.ones((1, 1))
    >>> loss, g, gv = loss_and_grad_cpu(one, 0 * one, np.ones(1), np.ones(1), np.ones(1), one, 1.0)
    >>> round(loss, 6), g.round(6).tolist(), round(gv, 6)   # xbar = x/2 + 1/2 = 1
    (1.0, [[1.0]], 0.0)
    """
    limit = float(np.finfo(means.dtype).max) / (16.0 * max(xt.shape[0], 1))
    with single_threaded_blas():
        status, loss, grad, dvar = loss_and_grad_numba(
            xt, x0, alpha, sigma2, lam, int(n_dup), means, float(var), int(chunk), limit,
            numba.get_num_threads(),
        )  # fmt: skip
    if status != 0:
        raise ValueError(
            f"the GMM loss or its gradient would overflow {means.dtype} for these inputs: a "
            f"query's squared distance to a mean, logit, error or gradient term exceeds {limit:.3g}"
            " (the dtype's largest value / 16 B); rescale the data and the means, or use float64"
        )
    return float(loss), grad, float(dvar)
