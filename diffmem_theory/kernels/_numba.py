"""Numba CPU implementation of the fused softmax-weighted sum (private; see ``kernels``).

Computes, for queries ``x`` (B, d), centres ``C`` (N, d), values ``V`` (N, k),

    l_ij  = b_j - w_j ||x_i - a c_j||^2,        w_j = 1 / (2 v_j),
    out_i = sum_j softmax_j(l_i) V_j,           lse_i = logsumexp_j(l_ij),

with the flash-attention / online-softmax scheme: the B x N logits are produced one
(query block) x (centre block) tile at a time and never stored in full.

* Logits. For d > ``DIRECT_MAX_D`` a tile comes from one BLAS product ``G = X' @ C''^T``
  through the expanded square ||x' - c'||^2 = ||x'||^2 - 2 x'.c' + ||c'||^2, with the data
  centred first (x' = x - r, c' = a c - r, r = a times the mean of up to R_SAMPLE
  centres) and 2 w_j folded into C''.
  The expansion loses digits when ||x'||^2 + ||c'||^2 >> ||x - a c||^2 (a query much
  closer to a centre than to the centroid, tiny variances); every entry whose weight is
  not negligible (within ``window`` of the row max) and whose error bound
  gamma w_j (||x'||^2 + ||c'||^2) exceeds both ``tau`` and ``RHO`` times the logit's own
  size is recomputed exactly (in float64) from ``x_i - a c_j``. For small d the tile is
  computed directly (exact, and faster than a BLAS call on a thin inner dimension).
* Precision. In float32 only the operands and results of the two products (G = X' C''^T and
  P V_block) are float32. Everything the weights depend on is float64: w_j and b_j, the
  centre r, ||a c_j - r||^2, ||x'_i||^2, every row of logits (formed from the float32 G in a
  float64 row buffer; the direct path computes in float64 throughout), the refinement, the
  running max, sum and accumulator. So no logit is ever rounded to float32 (whose spacing is
  ~1e3 at |l| ~ 1e10, far more than the gaps that decide the weights), every weight
  exp(l_ij - m_i) is formed against its row's own float64 max (the row's sum is >= 1, never 0),
  and lse = m + log(s) is exact before its final rounding. With eps the float32 epsilon in the
  refinement rule, a logit taken from the float32 product is within
  min(gamma size_ij, max(tau, RHO gamma |l_ij - b_j|)) of the exact one (gamma = (d+3) eps,
  size_ij = w_j (||x'_i||^2 + ||c'_j||^2)): the accuracy of a float32 product relative to the
  logit's own size, whatever that size.
* Negligible weights. In either dtype, weights below e^-window relative to the running row
  max (window = 3 - log eps: 5.9e-9 in float32, 1.1e-17 in float64; the logits of such
  entries are not refined either) are set to 0 before the product P V. Together they move
  ``out`` by less than N e^-window times max_j |V_j - out| and lse by less than N e^-window,
  a term the error model above already carries for the unrefined logits. This keeps the
  terms p_j V_jt of the product out of the subnormal range, where every multiply-add costs a
  microcode assist: with the smallest normal number as the cut (as before), 20-35 % of the
  float32 weights of image data (d = 3,072, t = 0.6) made subnormal terms and P V ran 1.2x
  slower.
* Online softmax. Each row keeps a running max m_i and sum s_i; a new tile with a larger
  max rescales s_i and the accumulator by exp(m_old - m_new). The exponentials are
  evaluated by ``exp_nonpositive_scalar`` (a vectorizable exp for arguments <= 0; Numba's
  own exp is a scalar libm call), the products P @ V_block by BLAS (direct path: by a fused
  loop).
* BLAS. Both products go through ``_blas.gemm_nt`` / ``gemm_nn``: NumPy's bundled OpenBLAS
  when there is one (4-5 % faster than ``np.dot`` for the whole float32 kernel at image
  scale), called by symbol name so that the compiled kernel stays in Numba's on-disk cache;
  otherwise Numba's ``np.dot`` (SciPy's BLAS). ``_blas.BLAS_PACKAGE`` says which.
* Parallelism. The work is a fixed list of (query block, centre part) items chosen by
  ``plan_chunks`` from the shape (B, N, d, k) alone, never from the thread count: query blocks
  of ``QUERY_CHUNK`` rows, up to 4x more for wide data such as images (direct path:
  ``DIRECT_TILE`` entries per tile) and, when there are fewer than ``TARGET_ITEMS`` blocks,
  the centres split into parts (ranges of centre blocks).
  Every item writes its running (max, sum, accumulator) into its own slot of per-part arrays,
  and the parts of a row are merged at the end in part order with a log-sum-exp, so the
  result is bit-identical for any ``NUMBA_NUM_THREADS``. The items are handed out
  dynamically (``_parallel``: each of ``numba.get_num_threads()`` slots of one ``prange``
  claims the next unclaimed item from an atomic counter), so a thread slowed down by another
  process takes fewer items instead of holding up the call; each slot allocates its scratch
  buffers once and calls single-threaded BLAS (``single_threaded_blas(BLAS_PACKAGE)`` pins
  that OpenBLAS to one thread for the call, so BLAS threads do not oversubscribe the cores).
  Problems below ``PARALLEL_MIN_WORK`` (~100 microseconds; a test of the shape too) run the
  same items serially, without a parallel region.
* Preparation. The centre r is computed once per call, from at most ``R_SAMPLE`` centres
  spread evenly over the data (a fixed choice: the bits do not depend on the thread count).
  The centred, scaled centres C'' and
  their per-centre terms are prepared by each work item, block by block, into its slot's
  own block buffer just before the block's product (``_expanded_item``): no N x d copy of the
  centres is made, and the same bits come out as from a prepared copy.
* Checks. The sums of squares of that preparation, and one vectorized pass over the queries
  (and over ``V`` when it is not ``C``), detect non-finite values and logits that could
  overflow (status 1, checked after the items; the caller names the argument), so the public
  function does not need a separate ``isfinite`` pass.
* Memory. Peak extra memory: O(n_part B (k + 2)) for the per-row results and
  O(query_chunk * (center_chunk + d + k) + center_chunk * d) per thread; the B x N logits,
  the B x N x d differences and a prepared copy of the centres are never formed. The large
  buffer (the per-part accumulators) is allocated by NumPy, which asks for transparent huge
  pages (Numba's allocator does not).

Only float32 and float64 data are compiled (``x``, ``C`` and ``V`` of one call share the
dtype; ``w`` and ``b`` are always float64), which keeps the number of Numba specializations at
two per function.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange
from numba.core import types
from numba.extending import intrinsic

from diffmem_theory.kernels._blas import BLAS_PACKAGE, gemm_nn, gemm_nt, single_threaded_blas
from diffmem_theory.kernels._parallel import n_slots, new_counter, next_item

# --- exp for non-positive arguments ---------------------------------------------------------
# Cody-Waite reduction x = k ln2 + r, |r| <= ln2/2 (ln2 split in a high part with trailing zero
# bits, so k * _LN2_HI is exact, and a low part), a degree-11 polynomial for e^r and 2^k
# assembled from its IEEE-754 bits (k + 1023) << 52. The coefficients are the Remez minimax
# polynomial for the relative error on |r| <= ln2/2 (error 3.1e-18, far below one ulp; they
# differ from the Taylor coefficients 1/n! in the last digits). Arguments below _EXP_MIN
# (where e^x is subnormal, < 2.3e-308) give exactly 0: such weights are dropped, which
# changes a softmax by < 1e-307 relative.
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_EXP_MIN = -708.3964185322641
_P2, _P3, _P4, _P5, _P6, _P7 = (
    0.5000000000000018,
    0.1666666666666617,
    0.04166666666649276,
    0.008333333333559276,
    0.001388888895122506,
    0.00019841269432672174,
)
_P8, _P9, _P10, _P11 = (
    2.480148652026932e-05,
    2.755762253436746e-06,
    2.763229371066051e-07,
    2.4994304551885587e-08,
)

# Fast-math flags for the elementwise stages: no 'ninf' (-inf marks an empty running max) and
# no 'afn' (no approximate libm calls); the reductions need 'reassoc' to vectorize. The exp
# keeps only 'contract' (its instructions keep their own flags when inlined), so that the
# Cody-Waite steps are never re-associated.
_FASTMATH = {"nnan", "nsz", "arcp", "contract", "reassoc"}

# Refinement of the expanded square: recompute a logit exactly when its error bound exceeds
# both tau and 1/RHO of the logit's own size w_j ||x_i - a c_j||^2.
RHO = 16.0
# Queries with d <= DIRECT_MAX_D use the direct differences instead of the BLAS expansion.
DIRECT_MAX_D = 4
# Default chunk sizes (measured on a 2-core AVX-512 machine, see benchmarks/bench_kernels.py
# and benchmarks/bench_image_scale.py). BLAS tiles take QUERY_CHUNK queries, times d // WIDE_D
# up to WIDE_FACTOR for wide data: every query block streams the centres through BLAS (which
# packs each operand block of CENTER_CHUNK x d entries, out of the caches once d is a few
# hundred) and prepares each centre block once (``_expanded_item``), so at d = 3,072 (images,
# B = 1,000, N = 50,000) 128-query blocks made the kernel 1.7x its floor, 512-query blocks
# 1.17x (float32) and 1.13x (float64), one block of 1,000 queries 1.12x and 1.08x (2 threads,
# one run; the per-part accumulators then take 16 x 1,000 x 3,072 float64, 393 MB).
QUERY_CHUNK = 128
WIDE_D = 256
WIDE_FACTOR = 8
CENTER_CHUNK = 1024
DIRECT_TILE = 1 << 16
# Below this many units of work B N (d + k + 16) (about 100 microseconds) the kernel runs
# serially: a parallel region costs microseconds and, while other thread pools spin (e.g.
# NumPy's OpenBLAS threads for ~0.1 s after each call), can stall for milliseconds.
PARALLEL_MIN_WORK = 1 << 21
# A parallel call is split into at least this many work items when the shape allows (enough
# for the dynamic hand-out to balance a few threads slowed down unevenly); centre parts made
# for that are at least MIN_SPLIT_CHUNK centres long.
TARGET_ITEMS = 16
MIN_SPLIT_CHUNK = 128
# The centre r of the expanded square is a times the mean of at most R_SAMPLE centres spread
# evenly over the data (``_prepare_centres``).
R_SAMPLE = 4096
# Data of at least this many entries is cast to the kernel's dtype in parallel (as_kernel_dtype).
CAST_MIN_SIZE = 1 << 20


@intrinsic
def _bits_as_float64(typingctx, bits):
    """Reinterpret the bits of an int64 as a float64 (a free, vectorizable bitcast)."""
    if not isinstance(bits, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return types.float64(types.int64), codegen


@njit(fastmath={"contract"}, cache=True)
def exp_nonpositive_scalar(x):
    """e^x for x <= 0 in plain arithmetic, so that loops calling it vectorize (<= 2 ulp).

    e^x = 2^k e^r with k = round(x / ln 2), r = x - k ln 2 (Cody-Waite, |r| <= ln2 / 2), e^r by
    a degree-11 minimax polynomial, 2^k assembled from its IEEE-754 bits; exactly 0 below
    -708.39 (subnormal results are flushed to zero) and for -inf. Numba's ``math.exp`` calls
    the scalar libm function instead, which does not vectorize.

    >>> round(exp_nonpositive_scalar(-1.0), 15), exp_nonpositive_scalar(-800.0)
    (0.367879441171442, 0.0)
    """
    xc = max(x, _EXP_MIN)
    k = np.floor(xc * _LOG2E + 0.5)
    r = xc - k * _LN2_HI
    r = r - k * _LN2_LO
    p = _P11
    p = p * r + _P10
    p = p * r + _P9
    p = p * r + _P8
    p = p * r + _P7
    p = p * r + _P6
    p = p * r + _P5
    p = p * r + _P4
    p = p * r + _P3
    p = p * r + _P2
    p = p * r + 1.0
    p = p * r + 1.0
    e = p * _bits_as_float64((np.int64(k) + 1023) << 52)
    return e if x >= _EXP_MIN else 0.0


@njit(fastmath=_FASTMATH, cache=True)
def exp_nonpositive(a):
    """Overwrite the 1-D array ``a`` (entries <= 0, or -inf) with ``exp(a)``, vectorized.

    >>> import numpy as np
    >>> a = np.array([0.0, -1.0, -800.0, -np.inf])
    >>> exp_nonpositive(a)
    >>> [round(float(v), 12) for v in a]
    [1.0, 0.367879441171, 0.0, 0.0]
    """
    for j in range(a.shape[0]):
        a[j] = exp_nonpositive_scalar(np.float64(a[j]))


# --- direct path (d <= DIRECT_MAX_D): centre-major tiles, vectorized over the queries -------
@njit(fastmath=_FASTMATH, cache=True)
def _direct_tile(T, xT, C, a, b, w, j0, mb):
    """T[j, i] = b_j - w_j sum_t (x_it - a C_jt)^2 for centres j0 + j; mb[i] = max_j T[j, i].

    ``xT`` holds the queries transposed and zero-padded to DIRECT_MAX_D = 4 rows; the padded
    coordinates contribute exact zeros, so one fused pass serves every d <= 4 (two passes'
    worth of work are skipped when d <= 2). ``T`` and ``xT`` are float64 whatever the dtype of
    the data (float32 centres are widened as they are read).
    """
    na, qa = T.shape
    d = C.shape[1]
    x0, x1, x2, x3 = xT[0], xT[1], xT[2], xT[3]
    mb[:qa] = -np.inf
    for j in range(na):
        jj = j0 + j
        c0 = a * C[jj, 0]
        c1 = a * C[jj, 1] if d > 1 else 0.0
        c2 = a * C[jj, 2] if d > 2 else 0.0
        c3 = a * C[jj, 3] if d > 3 else 0.0
        bj, wj = b[jj], w[jj]
        row = T[j]
        if d <= 2:
            for i in range(qa):
                e0 = x0[i] - c0
                e1 = x1[i] - c1
                v = bj - wj * (e0 * e0 + e1 * e1)
                row[i] = v
                mb[i] = max(mb[i], v)
        else:
            for i in range(qa):
                e0 = x0[i] - c0
                e1 = x1[i] - c1
                e2 = x2[i] - c2
                e3 = x3[i] - c3
                v = bj - wj * (((e0 * e0 + e1 * e1) + e2 * e2) + e3 * e3)
                row[i] = v
                mb[i] = max(mb[i], v)


@njit(fastmath=_FASTMATH, cache=True)
def _direct_update(T, V, j0, mb, rescale, m, s, accT, first):
    """Online-softmax step on a centre-major tile: rescale, exponentiate, add sums and P^T V."""
    na, qa = T.shape
    k = accT.shape[0]
    if first:
        m[:qa] = mb[:qa]
    else:
        for i in range(qa):
            m_new = max(m[i], mb[i])
            rescale[i] = exp_nonpositive_scalar(m[i] - m_new)
            m[i] = m_new
            s[i] *= rescale[i]
        for t in range(k):
            acc = accT[t]
            for i in range(qa):
                acc[i] *= rescale[i]
    for j in range(na):
        row = T[j]
        for i in range(qa):
            p = exp_nonpositive_scalar(np.float64(row[i] - m[i]))
            row[i] = p
            s[i] += p
        for t in range(k):
            v = V[j0 + j, t]
            acc = accT[t]
            for i in range(qa):
                acc[i] += row[i] * v


@njit(cache=True)
def _direct_item(x, C, V, a, w, b, i0, cb0, cb1, nb, tile, xT, mb, rescale, m, s, accT):
    """Running (m, s, accT) of queries i0 .. i0+qa-1 over the centre blocks cb0 .. cb1-1;
    ``xT`` (4, qa) and ``accT`` (k, qa) are C-contiguous views of the slot's buffers."""
    N, d = C.shape
    qa = xT.shape[1]
    xT[d:] = 0.0
    for t in range(d):
        for i in range(qa):
            xT[t, i] = x[i0 + i, t]
    s[:qa] = 0.0
    accT[:] = 0.0
    for cb in range(cb0, cb1):
        j0 = cb * nb
        na = min(N, j0 + nb) - j0
        T = tile[: na * qa].reshape(na, qa)
        _direct_tile(T, xT, C, a, b, w, j0, mb)
        _direct_update(T, V, j0, mb, rescale, m, s, accT, cb == cb0)


# --- BLAS path: query-major tiles G = X' C''^T through the expanded square --------------------
# ``centres`` bundles (C, a, b, w, ee) and ``blk`` the refinement constants of one centre block:
# (gamma, tau, window, max_j w_j, max_j ee_j, min_j b_j) with ee_j = w_j ||a c_j - r||^2.
@njit(cache=True)
def _refine_row(row, best, m_run, xi2, xrow, centres, j0, blk):
    """Recompute exactly the near-max logits of one row whose expanded form lost digits:
    entries within window + 2 bound of the running max whose error bound gamma w_j (||x'||^2 +
    ||c'_j||^2) exceeds tau and RHO times the logit's own size w_j ||x - a c_j||^2 (``ee``
    holds the block's own centres, from index 0)."""
    C, a, b, w, ee = centres
    gamma, tau, window = blk[0], blk[1], blk[2]
    bound = gamma * (blk[3] * xi2 + blk[4])
    threshold = max(m_run, best) - window - 2.0 * bound
    new_best = -np.inf
    for j in range(row.shape[0]):
        v = row[j]
        if v > threshold:
            jj = j0 + j
            size = w[jj] * xi2 + ee[j]
            if gamma * size > tau and size > RHO * (b[jj] - v):
                total = 0.0
                for t in range(xrow.shape[0]):
                    diff = np.float64(xrow[t]) - a * C[jj, t]
                    total += diff * diff
                v = b[jj] - w[jj] * total
                row[j] = v
        new_best = max(new_best, v)
    return new_best


@njit(fastmath=_FASTMATH, cache=True)
def _expanded_update(L, lrow, V, j0, xx, xrows, centres, beta, blk, m, s, acc, bufs, first):
    """Logits beta_j + g_ij - w_j ||x'_i||^2 in float64 (in ``lrow``; ``beta`` holds the block's
    own centres, from index 0) from the product G = L,
    exact refinement where the expansion lost digits, then the online-softmax step: L is
    overwritten by the weights P (in its own dtype, subnormals flushed to 0) and
    acc = e^(m_old - m_new) acc + P @ V_block, in one pass over acc after the product (rows
    whose max did not move are only added to). ``bufs`` = (P V tile, per-row rescale)."""
    t_buf, rescale = bufs
    qa, na = L.shape
    k = acc.shape[1]
    w = centres[3]
    gamma, tau, wmax, eemax, bmin = blk[0], blk[1], blk[3], blk[4], blk[5]
    drop = math.exp(-blk[2])  # weights below e^-window are dropped (see the module docstring)
    row = lrow[:na]
    for ii in range(qa):
        g = L[ii]
        xi2 = xx[ii]
        best = -np.inf
        for j in range(na):
            v = np.float64(g[j]) + beta[j] - w[j0 + j] * xi2
            row[j] = v
            best = max(best, v)
        size = wmax * xi2 + eemax  # bounds w_j (||x'_i||^2 + ||c'_j||^2) over the block
        if gamma * size > tau and size > RHO * (bmin - best):
            m_run = best if first else m[ii]
            best = _refine_row(row, best, m_run, xi2, xrows[ii], centres, j0, blk)
        if first:
            m_new = best
        else:
            m_new = max(m[ii], best)
            rescale[ii] = 1.0 if m_new == m[ii] else exp_nonpositive_scalar(m[ii] - m_new)
            s[ii] *= rescale[ii]
        m[ii] = m_new
        total = 0.0
        for j in range(na):
            p = exp_nonpositive_scalar(row[j] - m_new)
            g[j] = p if p >= drop else 0.0
            total += g[j]
        s[ii] = total if first else s[ii] + total
    T = t_buf[: qa * k].reshape(qa, k)
    gemm_nn(L, V[j0 : j0 + na], T)
    for ii in range(qa):
        into, add = acc[ii], T[ii]
        if first:
            for t in range(k):
                into[t] = add[t]
        elif rescale[ii] == 1.0:
            for t in range(k):
                into[t] += add[t]
        else:
            factor = rescale[ii]
            for t in range(k):
                into[t] = into[t] * factor + add[t]


@njit(cache=True)
def _expanded_item(x, C, V, a, w, b, prep, i0, qa, cb0, cb1, nb, scratch, m, s, acc):
    """Running (m, s, acc) of queries i0 .. i0+qa-1 over the centre blocks cb0 .. cb1-1;
    ``scratch`` holds the slot's buffers: the product tile (data dtype), a float64 row of
    logits, the centred queries (data dtype), their squared norms, the P V tile and the rows'
    rescale factors, and the prepared centre block (C'' in the data dtype, beta, ee, and the
    block's constants). Each centre block is prepared here, just before its product, into the
    slot's buffer (``_prepare_block``); the items of the first query block also record the
    block's constants in ``prep``'s table (for the input check after the run)."""
    tile, lrow, xq, xx, bufs, cbuf = scratch
    cblk, beta, ee, blk_own = cbuf
    N, d = C.shape
    r, blocks = prep
    eps = np.finfo(C.dtype).eps
    centres = (C, a, b, w, ee)
    xrows = x[i0 : i0 + qa]
    for ii in range(qa):
        total = 0.0
        for t in range(d):
            v = xrows[ii, t] - r[t]
            xq[ii, t] = v
            total += v * v
        xx[ii] = total
    for cb in range(cb0, cb1):
        j0 = cb * nb
        na = min(N, j0 + nb) - j0
        blk = blocks[cb] if i0 == 0 else blk_own
        _prepare_block(C, a, w, b, r, cblk, beta, ee, eps, j0, j0 + na, blk)
        L = tile[: qa * na].reshape(qa, na)
        gemm_nt(xq[:qa], cblk[: na * d].reshape(na, d), L)
        first = cb == cb0
        _expanded_update(L, lrow, V, j0, xx, xrows, centres, beta, blk, m, s, acc, bufs, first)


@njit(cache=True)
def plan_chunks(B, N, d, k, query_chunk, center_chunk):
    """Return ``(query_chunk, center_chunk, n_part, parallel)`` for a (B, N, d) -> (B, k)
    problem (a chunk given as 0 is chosen automatically): a function of the shape only.

    The work items are (query block, centre part) pairs. BLAS tiles default to
    ``QUERY_CHUNK`` x ``CENTER_CHUNK``, with ``QUERY_CHUNK`` times d // ``WIDE_D`` (at most
    ``WIDE_FACTOR`` times) queries for wide data; direct tiles (d <= ``DIRECT_MAX_D``) take as many
    queries as fit in ``DIRECT_TILE`` entries. Problems below ``PARALLEL_MIN_WORK`` run
    serially (``parallel`` False: no parallel region). Otherwise, with fewer than
    ``TARGET_ITEMS`` query blocks the centres are split into ``n_part`` parts (ranges of
    centre blocks, merged by log-sum-exp; automatic centre blocks shrink down to
    ``MIN_SPLIT_CHUNK`` to make the parts), and if that is still too few items the automatic
    query chunk shrinks. The number of threads plays no part, so the result is the same for
    any thread count.

    >>> plan_chunks(4096, 10000, 50, 50, 0, 0)
    (128, 1024, 1, True)
    >>> plan_chunks(1000, 20, 2, 2, 0, 0)
    (1000, 20, 1, False)
    >>> plan_chunks(1, 100000, 50, 50, 0, 0)
    (1, 1024, 16, True)
    >>> plan_chunks(1000, 50000, 3072, 3072, 0, 0)     # CIFAR-10-sized images
    (1000, 1024, 16, True)
    """
    nb = min(center_chunk if center_chunk > 0 else CENTER_CHUNK, N)
    if d <= DIRECT_MAX_D:
        default_qb = DIRECT_TILE // nb
    else:
        default_qb = QUERY_CHUNK * min(WIDE_FACTOR, max(1, d // WIDE_D))
    qb = min(query_chunk if query_chunk > 0 else default_qb, B)
    if B * N * (d + k + 16) < PARALLEL_MIN_WORK:
        return qb, nb, 1, False
    n_qb = (B + qb - 1) // qb
    if n_qb >= TARGET_ITEMS:
        return qb, nb, 1, True
    want = (TARGET_ITEMS + n_qb - 1) // n_qb
    if center_chunk == 0:
        nb = min(nb, max((N + want - 1) // want, MIN_SPLIT_CHUNK))
    n_part = min(want, (N + nb - 1) // nb)
    if query_chunk == 0 and n_qb * n_part < TARGET_ITEMS:
        qb = (B * n_part + TARGET_ITEMS - 1) // TARGET_ITEMS
    return qb, nb, n_part, True


@njit(fastmath={"reassoc"}, cache=True)
def _prepare_block(C, a, w, b, r, scaled, beta, ee, eps, j0, j1, blk):
    """Centres j0 .. j1-1, written from index 0 of the slot's buffers: C'' = 2 w (a C - r)
    (``scaled``, flat, in the dtype of C: the operand of the product), ee = w ||a c - r||^2,
    beta = b - ee (float64), and the block's refinement constants ``blk`` = (gamma, tau,
    window, max w, max ee, min b) followed by sum_j ||a c_j - r||^2 (not finite iff a centre
    is not finite, or the sum overflows), with the eps of C's dtype. Only 'reassoc' (to
    vectorize the sums): NaN and inf keep their IEEE meaning."""
    d = C.shape[1]
    n = j1 - j0
    out = scaled[: n * d].reshape(n, d)
    total = 0.0
    for j in range(n):
        crow, orow = C[j0 + j], out[j]
        cc = 0.0
        w2 = 2.0 * w[j0 + j]
        for t in range(d):
            v = a * np.float64(crow[t]) - r[t]
            cc += v * v
            orow[t] = w2 * v
        ee[j] = 0.5 * w2 * cc
        beta[j] = b[j0 + j] - 0.5 * w2 * cc
        total += cc
    blk[0] = (d + 3.0) * eps
    blk[1] = 64.0 * eps
    blk[2] = 3.0 - math.log(eps)
    blk[3] = np.max(w[j0:j1])
    blk[4] = np.max(ee[:n])
    blk[5] = np.min(b[j0:j1])
    blk[6] = total


@njit(cache=True)
def _prepare_centres(C, a, nb):
    """``(r, blocks)``: the centre r of the expanded square, and an empty table of the
    per-block constants (filled by the items, see ``_expanded_item``).

    r = a times the mean of the centres j = 0, s, 2 s, ... with s = ceil(N / ``R_SAMPLE``)
    (all of them for N <= ``R_SAMPLE``): any point near the data serves as the centre (the
    refinement bound uses each centre's own ||a c_j - r||^2), and the sample costs a read of
    at most ``R_SAMPLE`` rows instead of a pass over all N d entries (~0.1 s of CPU for
    50,000 float32 images of d = 3,072). The centres themselves are prepared (C'' = 2 w
    (a C - r), beta, ee) block by block by the work items, into each slot's own block buffer,
    just before the block's product: no N x d copy is made (it cost a write of N d entries
    plus the page faults of a fresh buffer, ~0.4 s of CPU a call at that size, 13 % of the
    floor at B = 1,000), and the prepared block is read from the cache, not from memory.
    """
    N, d = C.shape
    step = (N + R_SAMPLE - 1) // R_SAMPLE
    r = np.zeros(d)
    count = 0
    for j in range(0, N, step):
        row = C[j]
        for t in range(d):
            r[t] += row[t]
        count += 1
    r *= a / count
    return r, np.empty(((N + nb - 1) // nb, 7))


@njit(cache=True)
def softmax_weighted_sum_numba(
    x, C, V, a, w, b, check_values, query_chunk, center_chunk, n_threads, ACC
):
    """Return ``(status, out, m, s)``: the softmax-weighted sums ``out`` (B, k) and the row max
    and sum (float64, so that lse = m + log(s)); status 1 (and no result) if an input is not
    finite or a logit would overflow.

    All arrays are C-contiguous; ``x``, ``C``, ``V`` share the dtype (float32 or float64),
    ``w = 1/(2 var)`` and ``b`` are float64 of length N. ``check_values`` is False when ``V``
    is ``C`` (whose finiteness the preparation of the centres already checks).
    ``query_chunk``/``center_chunk`` are tile sizes (0: automatic, see ``plan_chunks``);
    ``n_threads`` is ``numba.get_num_threads()`` (passed in: reading it here would make the
    function uncacheable); it decides only whether the work runs in parallel regions. The
    large buffer comes from the caller: ``ACC`` (n_part, B, k) float64 for the per-part
    accumulators (``n_part`` from ``plan_chunks``).

    The input check (finite inputs, no logit beyond the dtype's range) needs the sums of
    squares of the prepared centres, which the items compute: on the BLAS path it runs after
    the items (their results are discarded on failure), on the direct path before.
    """
    B, d = x.shape
    N = C.shape[0]
    k = V.shape[1]
    dtype = C.dtype
    qb, nb, n_part, parallel = plan_chunks(B, N, d, k, query_chunk, center_chunk)
    out = np.empty((B, k), dtype)
    m_out = np.empty(B)
    s_out = np.empty(B)
    direct = d <= DIRECT_MAX_D
    if direct:  # the direct path needs no prepared centres (r = 0)
        prep = (np.zeros(d), np.empty((0, 7)))
        if not _inputs_ok(x, V, w, b, prep[0], a * a * _sum_sq(C), check_values, dtype):
            return 1, out, m_out, s_out
    else:
        prep = _prepare_centres(C, a, nb)
    M = np.empty((n_part, B))
    S = np.empty((n_part, B))
    data, plan, parts = (x, C, V, a, w, b), (qb, nb, n_part), (M, S, ACC)
    if parallel and n_threads > 1:
        _run_slots(n_threads, data, prep, plan, parts)
    else:  # the same items in the same slots, one after the other
        _run_slot(new_counter(), data, prep, plan, parts)
    if not direct and not _inputs_ok(
        x, V, w, b, prep[0], np.sum(prep[1][:, 6]), check_values, dtype
    ):
        return 1, out, m_out, s_out
    _merge_parts(M, S, ACC, out, m_out, s_out)
    return 0, out, m_out, s_out


@njit(cache=True)
def _inputs_ok(x, V, w, b, r, centre_sq, check_values, dtype):
    """Whether every input is finite and no logit can leave the range of ``dtype``:
    max_i ||x_i - r||^2 + max_j ||a c_j - r||^2 <= 2 (||x||^2 + ||r||^2) + sum_j ||a c_j - r||^2
    (``centre_sq``); the sums of squares are also not finite iff an input is not finite."""
    bound = 2.0 * (_sum_sq(x) + np.sum(r * r)) + centre_sq
    finite = np.isfinite(bound + _sum_sq(b) + (_sum_sq(V) if check_values else 0.0))
    return finite and 4.0 * np.max(w) * bound < np.finfo(dtype).max


@njit(parallel=True, cache=True)
def _run_slots(n_threads, data, prep, plan, parts):
    """The only parallel region: ``n_slots`` slots take the work items from one shared
    counter (``_parallel.next_item``), each the next unclaimed one, until none is left.

    The tuples are unpacked outside the ``prange`` (its body may only capture arrays and
    scalars) and packed again for ``_run_slot``.
    """
    x, C, V, a, w, b = data
    r, blocks = prep
    qb, nb, n_part = plan
    M, S, ACC = parts
    n_items = ((x.shape[0] + qb - 1) // qb) * n_part
    counter = new_counter()
    for _slot in prange(n_slots(n_items, n_threads)):
        _run_slot(counter, (x, C, V, a, w, b), (r, blocks), (qb, nb, n_part), (M, S, ACC))


@njit(cache=True)
def _run_slot(counter, data, prep, plan, parts):
    """Process the (query block, centre part) items claimed from ``counter`` with one set of
    scratch buffers; write each item's running (max, sum, accumulator) into its own entries of
    ``parts``, so that neither the slot nor the order of the items changes the result."""
    x, C, V, a, w, b = data
    qb, nb, n_part = plan
    M, S, ACC = parts
    B, d = x.shape
    N = C.shape[0]
    k = V.shape[1]
    dtype = C.dtype
    n_cb = (N + nb - 1) // nb
    n_items = ((B + qb - 1) // qb) * n_part
    direct = d <= DIRECT_MAX_D
    tile = np.empty(0 if direct else qb * nb, dtype)  # products G, then weights P
    tile64 = np.empty(qb * nb if direct else nb, np.float64)  # logits
    xq = np.empty((qb, d), dtype)
    xT_buf = np.empty(DIRECT_MAX_D * qb)
    t_buf = np.empty(qb * k, dtype)
    xx = np.empty(qb)
    mb = np.empty(qb)
    rescale = np.empty(qb)
    m = np.empty(qb)
    s = np.empty(qb)
    accT_buf = np.empty(k * qb)
    nc = 0 if direct else nb
    cbuf = (np.empty(nc * d, dtype), np.empty(nc), np.empty(nc), np.empty(7))
    scratch = (tile, tile64, xq, xx, (t_buf, rescale), cbuf)
    item = next_item(counter)
    while item < n_items:
        q, p = item // n_part, item % n_part
        i0 = q * qb
        qa = min(B, i0 + qb) - i0
        cb0, cb1 = (p * n_cb) // n_part, ((p + 1) * n_cb) // n_part
        if direct:
            accT = accT_buf[: k * qa].reshape(k, qa)
            xT = xT_buf[: DIRECT_MAX_D * qa].reshape(DIRECT_MAX_D, qa)
            _direct_item(x, C, V, a, w, b, i0, cb0, cb1, nb, tile64, xT, mb, rescale, m, s, accT)
            ACC[p, i0 : i0 + qa] = accT.T
        else:
            acc = ACC[p, i0 : i0 + qa]  # the item accumulates in its own rows of ACC
            _expanded_item(x, C, V, a, w, b, prep, i0, qa, cb0, cb1, nb, scratch, m, s, acc)
        M[p, i0 : i0 + qa] = m[:qa]
        S[p, i0 : i0 + qa] = s[:qa]
        item = next_item(counter)


@njit(parallel=True, cache=True)
def _cast_rows(src, dst):
    """dst[i] = src[i] converted to the dtype of dst (rounded to nearest), rows in parallel."""
    for i in prange(src.shape[0]):
        row, into = src[i], dst[i]
        for t in range(src.shape[1]):
            into[t] = row[t]


def as_kernel_dtype(v: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``v`` as a C-contiguous array of ``dtype`` (float32 or float64): as is when it already
    is one, else a copy; a large C-contiguous 2-D float array is cast by all of Numba's threads
    (NumPy's ``astype`` is single-threaded: ~0.3 s for 50,000 float64 images of d = 3,072),
    elementwise, so the bits do not depend on the thread count.

    >>> as_kernel_dtype(np.ones((2, 2)), np.dtype(np.float32)).dtype
    dtype('float32')
    """
    dtype = np.dtype(dtype)
    if (
        v.dtype == dtype
        or v.size < CAST_MIN_SIZE
        or v.ndim != 2
        or v.dtype not in (np.float32, np.float64)
        or not v.flags.c_contiguous
    ):
        return np.ascontiguousarray(v, dtype)
    out = np.empty(v.shape, dtype)
    _cast_rows(v, out)
    return out


@njit(fastmath={"reassoc"}, cache=True)
def _sum_sq(A):
    """Sum of the squares of all entries of A: inf or NaN iff an entry is not finite (or the
    sum overflows). Only 'reassoc' (to vectorize): NaN and inf keep their IEEE meaning."""
    flat = A.reshape(A.size)
    total = 0.0
    for j in range(flat.shape[0]):
        v = np.float64(flat[j])
        total += v * v
    return total


@njit(fastmath=_FASTMATH, cache=True)
def _normalize(acc, s, out):
    """out_i = acc_i / s_i, vectorized (s is overwritten by 1 / s)."""
    B, k = acc.shape
    for i in range(B):
        s[i] = 1.0 / s[i]
    for i in range(B):
        for t in range(k):
            out[i, t] = acc[i, t] * s[i]


@njit(cache=True)
def _merge_parts(M, S, ACC, out, m_out, s_out):
    """Combine per-part (max, sum, accumulator) of the same rows by a log-sum-exp over the
    parts and normalize: out_i = sum_p e^(M_pi - m_i) ACC_pi / sum_p e^(M_pi - m_i) S_pi."""
    n_part, B = M.shape
    k = ACC.shape[2]
    if n_part == 1:
        m_out[:] = M[0]
        s_out[:] = S[0]
        _normalize(ACC[0], S[0], out)
        return
    row = np.empty(k)
    for i in range(B):
        m_all = -np.inf
        for p in range(n_part):
            m_all = max(m_all, M[p, i])
        total = 0.0
        for p in range(n_part):
            M[p, i] = exp_nonpositive_scalar(M[p, i] - m_all)
            total += S[p, i] * M[p, i]
        inv = 1.0 / total
        # the parts' rows one after the other (contiguous, vectorized; the parts of one entry
        # are still added in part order): reading entry (p, i, t) for every p in turn would
        # stride over B k entries per access (0.5-1 s at B = 1,000, k = 3,072, 8 parts)
        row[:] = 0.0
        for p in range(n_part):
            e, part = M[p, i], ACC[p, i]
            for t in range(k):
                row[t] += part[t] * e
        for t in range(k):
            out[i, t] = row[t] * inv
        m_out[i] = m_all
        s_out[i] = total


# --- host-side driver ----------------------------------------------------------------------


def softmax_weighted_sum_cpu(
    x: np.ndarray,
    centers: np.ndarray,
    values: np.ndarray,
    scale: float,
    half_precision: np.ndarray,
    log_weights: np.ndarray,
    query_chunk: int | None,
    center_chunk: int | None,
    with_lse: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Run the Numba kernel on validated C-contiguous arrays of one dtype; return (out, lse)
    (``lse`` is None unless ``with_lse``).

    ``half_precision`` is w = 1 / (2 var) and ``log_weights`` is b, both of length N. Raises
    ``FloatingPointError`` if an input is not finite or a logit would overflow (the caller
    names the argument).

    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0]]); c = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> out, lse = softmax_weighted_sum_cpu(x, c, c, 1.0, np.full(2, 0.5), np.zeros(2), None, None)
    >>> out.tolist(), round(float(lse[0]), 6)
    ([[0.0, 0.0]], 0.193147)
    """
    w64, b64 = (np.ascontiguousarray(v, np.float64) for v in (half_precision, log_weights))
    args = (x, centers, values, float(scale), w64, b64, values is not centers)
    (B, d), N, k = x.shape, centers.shape[0], values.shape[1]
    chunks = (query_chunk or 0, center_chunk or 0)
    n_threads = numba.get_num_threads()
    n_part = plan_chunks(B, N, d, k, *chunks)[2]
    # The large buffer is NumPy's: its allocator asks Linux for transparent huge pages, so a
    # fresh 200 MB buffer (B = 1,000 rows of d = 3,072 in 8 parts) costs hundreds of page
    # faults, not ~5 10^4 (Numba's allocator does not ask).
    acc = np.empty((n_part, B, k))
    if d <= DIRECT_MAX_D:  # no BLAS call
        status, out, m, s = softmax_weighted_sum_numba(*args, *chunks, n_threads, acc)
    else:
        with single_threaded_blas(BLAS_PACKAGE):
            status, out, m, s = softmax_weighted_sum_numba(*args, *chunks, n_threads, acc)
    if status:
        raise FloatingPointError("non-finite input, or a logit that overflows")
    return out, (m + np.log(s)).astype(x.dtype, copy=False) if with_lse else None
