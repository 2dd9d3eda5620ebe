"""Lock-step batched Dormand-Prince 5(4) for the empirical-score reverse ODE (private).

Reached only through :func:`diffmem_theory.kernels.integrate` (an ``EmpiricalField``, backend
``"numba"``, data of dimension d >= ``LOCKSTEP_MIN_D``: ``use_lockstep``). The method, the
step-size controller, the vector field and the statuses are those of
:mod:`diffmem_theory.kernels._dopri` (whose helpers this module calls: one copy of the
arithmetic); what differs is how the field is evaluated. ``_dopri`` integrates every trajectory
on its own, so each trajectory streams the whole training set once per stage. Here the
trajectories are grouped into fixed blocks of consecutive rows (``plan_blocks``: a function of
the batch size and the number of training points only), and the trajectories of a block
advance together: every iteration makes one trial step for each running trajectory of the
block, each with its own time tau_b, its own step h_b, its own accept / reject decision, its
own FSAL stage and its own dense output; the field at the stage points of all of them is one
evaluation of ``block_weighted_mean``, which shares each pass over the training points (two
BLAS products per block of centres) among the block's rows. A trajectory that has finished or
failed drops out of the products (the rows are packed), so every trajectory takes the steps it
takes alone, up to the rounding of the field.

``block_weighted_mean`` is the online softmax of the package's kernel
(:mod:`diffmem_theory.kernels._numba`: tiles of centres, running max and sum, the vectorized
``exp_nonpositive_scalar``, the exact recomputation of the logits that the expanded square
computed with too few digits, criterion ``RHO``) with per-row constants: row r has its own
scale m_r and precision 1 / (2 v_r) (the Numba softmax kernel takes a shared scale and
per-centre precisions, so it cannot serve rows at different times),

    logit_rn = -|x_r - m_r x_0^n|^2 / (2 v_r),
    |x_r - m_r x_0^n|^2 = |q_r|^2 - 2 m_r q_r . c_n + m_r^2 |c_n|^2,
    q_r = x_r - m_r xbar,  c_n = x_0^n - xbar,

where xbar is the mean of the training points (centring keeps |q|^2 + m^2 |c|^2 close to the
distance itself); the products q . c and w . x_0 are BLAS calls on the block's rows (the second
runs over the kept weights only where the softmax has concentrated: ``NEGLIGIBLE``; x_N as the
per-trajectory integrator forms it, sum_n w_n x_0^n / sum_n w_n, so that the two round alike).
Once a trajectory's softmax has concentrated, a full pass is not needed: a full evaluation
keeps the row's squared distances, and the next evaluations of that trajectory first bound,
by the triangle inequality, which points can carry weight (``_pruned_mean``, O(N) compares);
while they are few (at most N / ``PRUNE_FRACTION``) the field comes from them alone (exact
differences), otherwise the row joins the block's full evaluation, which renews its distances.
While a trajectory's weights are spread (more than N / ``DENSE_FRACTION`` kept at its last full
evaluation) no pruning can succeed: its full evaluations keep no distances (N stores and an
attempt saved per evaluation).
Rows at v = 0 (Voronoi weights) and rows whose state is not finite or exceeds
``STATE_MAX_SQ`` are evaluated by ``_dopri.velocity_call`` (exact, one row at a time).

Parallelism: the blocks are the work items, handed out dynamically to the slots of one
``prange`` (:mod:`diffmem_theory.kernels._parallel`); each block is integrated from tau_0 to
tau_1 by the slot that claims it and writes only its own rows. The blocks depend on the batch
size and N alone, so the results are bit-identical for any number of threads; a trajectory's bits
depend on which trajectories share its block (BLAS may round a row of a product differently
with other rows beside it), so splitting a batch differently changes them at the rounding
level (~1e-15 relative per evaluation of the field).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from diffmem_theory.kernels._dopri import (
    _NO_CONTRACT,
    MAX_STEPS,
    NONFINITE,
    STATE_MAX_SQ,
    STEP_TOO_SMALL,
    SUCCESS,
    borrowed,
    dense_output,
    field_coefficients,
    field_value,
    initial_h0,
    initial_h1,
    stage_point,
    step_error,
    step_factor,
    step_solution,
    sum_sq,
    trial_step,
    velocity_call,
)
from diffmem_theory.kernels._numba import _FASTMATH, RHO, exp_nonpositive_scalar
from diffmem_theory.kernels._parallel import n_slots, new_counter, next_item

# Blocks of trajectories: the batch is cut into about TARGET_BLOCKS blocks of MIN_BLOCK to
# MAX_BLOCK rows. Thick blocks make efficient products: at N = 10^4, d = 50 the BLAS runs the
# two products of a full evaluation at 38 GFLOP/s for 13 rows and 55 for 63 (one thread); 4
# blocks of 50 trajectories took 1.3x less CPU than 16 blocks of 13 (B = 200), and 2 blocks of
# 100 were faster again on 2 cores, quiet (1.07-1.19x) and beside a busy process (1.15x): the
# thicker products gain more than finer blocks gain by balancing unevenly slowed threads.
TARGET_BLOCKS = 2
MIN_BLOCK, MAX_BLOCK = 8, 128
# Centres per tile of the online softmax (a tile of logits stays in the L2 cache).
CENTER_CHUNK = 1024
# Exact recomputation of the logits of the expanded square (as in ``_numba``): entries within
# WINDOW (natural-log units) of the row's max whose error bound GAMMA_UNIT (d + 3) eps times
# (|q|^2 + m^2 |c|^2) / (2 v) exceeds TAU and 1/RHO of the distance term itself.
_EPS = np.finfo(np.float64).eps
_TAU = 64.0 * _EPS
_WINDOW = 3.0 - math.log(_EPS)
# Weights below e^NEGLIGIBLE of the row's running max are dropped (set to 0): the max weight is
# 1, so x_N and the sum change by less than 1e-20 relative (a later, larger max only makes the
# dropped weights smaller still). Once the softmax has concentrated (small v), most weights of
# a tile are dropped, and with fewer than 1/SPARSE_FRACTION of them kept the product of the
# weights with the data runs over the kept ones only instead of a BLAS call.
NEGLIGIBLE = -46.0
SPARSE_FRACTION = 8
# Pruning (``_pruned_mean``): each trajectory keeps the squared distances of its last full
# evaluation; while at most N / PRUNE_FRACTION points can carry weight (triangle inequality),
# the field is evaluated from those alone, O(N + N d / PRUNE_FRACTION) instead of O(N d).
# The distances take nb N doubles per thread: off above PRUNE_MAX_ENTRIES (32 MiB).
PRUNE_FRACTION = 16
# A trajectory whose last full evaluation kept more than N / DENSE_FRACTION weights is dense:
# its next full evaluation keeps no distances (and no pruning is tried before it).
DENSE_FRACTION = 4
PRUNE_MAX_ENTRIES = 1 << 22
RUNNING = -1
# The lock-step integrator runs when the data have d >= LOCKSTEP_MIN_D coordinates, whatever N:
# measured (benchmarks/bench_voronoi_dynamics.py --crossover, 2 threads, B = 16 and 200) it is
# 1.2-2.5x faster than integrating the trajectories one by one for d = 16-100 from N = 20 to
# 10^4, and 0.3-0.8x for d <= 8 and at N = 20, where the products have too thin an inner
# dimension to gain on the direct loop over the data (whose exponentials, N per evaluation, are
# the same). At d = 10-12 with N >= 1000 a one-thread measurement (B = 200, after the
# per-trajectory loop was made 1.25x faster there) found it 1.3-1.9x faster: a case this rule
# still leaves to the per-trajectory integrator (moving it changes those trajectories' bits).
LOCKSTEP_MIN_D = 16


def use_lockstep(N: int, d: int) -> bool:
    """Whether ``integrate`` takes the lock-step integrator for N training points of dimension
    d: iff d >= ``LOCKSTEP_MIN_D`` (N does not move the crossover).

    >>> use_lockstep(10_000, 50), use_lockstep(20, 50), use_lockstep(10**4, 10)
    (True, True, False)
    """
    return d >= LOCKSTEP_MIN_D


@njit(cache=True)
def plan_blocks(B, N):
    """Rows per block for a batch of ``B`` trajectories and N training points:
    ``ceil(B / TARGET_BLOCKS)`` clipped to [``MIN_BLOCK``, ``MAX_BLOCK``], to the rows whose
    distances fit in ``PRUNE_MAX_ENTRIES`` where that leaves at least ``MIN_BLOCK`` (so that
    large data sets keep the pruning), and to B: never a function of the threads.

    >>> plan_blocks(200, 10**4), plan_blocks(1000, 10**4), plan_blocks(16, 10**4)
    (100, 128, 8)
    >>> plan_blocks(5, 10**4), plan_blocks(10**5, 10**4), plan_blocks(1000, 5 * 10**4)
    (5, 128, 83)
    """
    want = min(MAX_BLOCK, (B + TARGET_BLOCKS - 1) // TARGET_BLOCKS)
    if PRUNE_MAX_ENTRIES // N >= MIN_BLOCK:
        want = min(want, PRUNE_MAX_ENTRIES // N)
    return min(B, max(MIN_BLOCK, want))


@njit(cache=True)
def prepare_data(X):
    """(xbar, C, cc, ccmax, norms): the mean of the training points X (N, d), the centred
    points C = X - xbar, their squared norms, the largest of them per tile of
    ``CENTER_CHUNK``, and the norms |x_0^n| of the points."""
    N, d = X.shape
    xbar = np.zeros(d)
    for n in range(N):
        for k in range(d):
            xbar[k] += X[n, k]
    for k in range(d):
        xbar[k] /= N
    C = np.empty((N, d))
    cc = np.empty(N)
    for n in range(N):
        total = 0.0
        for k in range(d):
            v = X[n, k] - xbar[k]
            C[n, k] = v
            total += v * v
        cc[n] = total
    norms = np.empty(N)
    for n in range(N):
        total = 0.0
        for k in range(d):
            total += X[n, k] * X[n, k]
        norms[n] = math.sqrt(total)
    n_tiles = (N + CENTER_CHUNK - 1) // CENTER_CHUNK
    ccmax = np.empty(n_tiles)
    for t in range(n_tiles):
        ccmax[t] = np.max(cc[t * CENTER_CHUNK : min(N, (t + 1) * CENTER_CHUNK)])
    return xbar, C, cc, ccmax, norms


@njit(fastmath=_FASTMATH, cache=True, error_model="numpy")
def _tile_logits(G, rows, X, data, j0, cols, best_run, store):
    """Distance logits u_rn = -|x_r - m_r x_0^n|^2 (before the 1 / (2 v_r)) of one tile from
    its product G = Q C^T (in place); the row maxima go to ``cols``.

    ``rows`` = (|q|^2, m, 1 / (2 v)) of the packed rows and ``X`` their states; entries whose
    expanded square lost digits (see the module constants) are recomputed exactly. ``store`` =
    (Dsq, owners, arg): where the tile holds a row's largest logit so far, its index goes to
    arg[r] (the nearest point); unless Dsq is empty or owners[r] < 0, row r's squared distances
    minus their error bound go to Dsq[owners[r]].
    """
    qq, mm, scale = rows
    X0, _, cc, ccmax, gamma = data
    n, na = G.shape
    d = X.shape[1]
    bound_c = ccmax[j0 // CENTER_CHUNK]
    for r in range(n):
        g = G[r]
        m, q2, sc = mm[r], qq[r], scale[r]
        two_m, m2 = 2.0 * m, m * m
        best = -np.inf
        for j in range(na):
            u = two_m * g[j] - q2 - m2 * cc[j0 + j]
            g[j] = u
            best = max(best, u)
        size_max = q2 + m2 * bound_c
        bound = gamma * size_max  # error bound of every u of the row
        # (no entry needs the exact form when even the largest u is far from 0: -RHO u > size)
        if bound * sc > _TAU and -RHO * best < size_max:
            threshold = max(best_run[r], best) - _WINDOW / sc - 2.0 * bound
            best = -np.inf
            for j in range(na):
                u = g[j]
                if u > threshold:
                    size = q2 + m2 * cc[j0 + j]
                    if gamma * size * sc > _TAU and size > -RHO * u:
                        total = 0.0
                        for k in range(d):
                            diff = X[r, k] - m * X0[j0 + j, k]
                            total += diff * diff
                        u = -total
                        g[j] = u
                best = max(best, u)
        cols[r] = best
        Dsq, owners, arg = store
        if best > best_run[r]:
            for j in range(na):
                if g[j] == best:
                    arg[r] = j0 + j
                    break
        if Dsq.shape[0] > 0 and owners[r] >= 0:  # lower bounds of the squared distances
            dr = Dsq[owners[r]]
            for j in range(na):
                dr[j0 + j] = -g[j] - bound


@njit(fastmath=_FASTMATH, cache=True, error_model="numpy")
def _tile_update(G, scale, cols, M, S, first, counts):
    """Online-softmax step on a tile of logits: new running max (``M``, rescaling the sum ``S``,
    the factors left in ``cols``), weights exp((u - M) / (2 v)) in place (0 below
    e^``NEGLIGIBLE``), sums added, the weights kept per row counted in ``counts`` (from the first
    tile on; an upper bound of those left after a later, larger max); returns the number of
    weights kept in the tile."""
    n, na = G.shape
    kept = 0
    for r in range(n):
        sc = scale[r]
        if first:
            M[r] = cols[r]
            cols[r] = 1.0
            S[r] = 0.0
            counts[r] = 0
        else:
            m_new = max(M[r], cols[r])
            cols[r] = exp_nonpositive_scalar((M[r] - m_new) * sc)
            M[r] = m_new
            S[r] *= cols[r]
        g = G[r]
        total = 0.0
        row_kept = 0
        for j in range(na):
            a = (g[j] - M[r]) * sc
            keep = a >= NEGLIGIBLE
            w = exp_nonpositive_scalar(a) if keep else 0.0
            g[j] = w
            total += w
            row_kept += 1 if keep else 0
        S[r] += total
        counts[r] += row_kept
        kept += row_kept
    return kept


@njit(cache=True, error_model="numpy")
def _sparse_product(W, X0, j0, P):
    """P = W @ X0[j0 : j0 + na] for a tile of weights W (n, na) that are mostly 0."""
    n, na = W.shape
    d = X0.shape[1]
    P[:] = 0.0
    for r in range(n):
        w = W[r]
        for j in range(na):
            if w[j] != 0.0:
                wj = w[j]
                for k in range(d):
                    P[r, k] += wj * X0[j0 + j, k]


@njit(cache=True, error_model="numpy")
def block_weighted_mean(X, n, m, scale, data, scratch, XN, log_s, store):
    """x_N and log sum_n w~_n for the first ``n`` rows of ``X`` (states, C-contiguous), row r
    with scale ``m[r]`` and precision ``scale[r]`` = 1 / (2 v_r) > 0 (finite); into ``XN`` and
    ``log_s``. ``data`` = (X0, xbar, C, cc, ccmax, norms) of ``prepare_data``; ``scratch`` the
    slot's buffers (Q, qq, tile, T, cols, M, S, counts: the weights each row kept, see
    ``_tile_update``); ``store`` as in ``_tile_logits``."""
    X0, xbar, C, cc, ccmax, _ = data
    Q, qq, tile, T, cols, M, S, counts = scratch
    N, d = X0.shape
    gamma = (d + 3.0) * _EPS
    for r in range(n):
        total = 0.0
        for k in range(d):
            v = X[r, k] - m[r] * xbar[k]
            Q[r, k] = v
            total += v * v
        qq[r] = total
        M[r] = -np.inf
    rows = (qq, m, scale)
    for j0 in range(0, N, CENTER_CHUNK):
        na = min(N, j0 + CENTER_CHUNK) - j0
        G = tile[: n * na].reshape(n, na)
        np.dot(Q[:n], C[j0 : j0 + na].T, G)
        _tile_logits(G, rows, X, (X0, C, cc, ccmax, gamma), j0, cols, M, store)
        kept = _tile_update(G, scale, cols, M, S, j0 == 0, counts)
        P = T[:n]
        if kept * SPARSE_FRACTION < n * na:
            _sparse_product(G, X0, j0, P)
        else:
            np.dot(G, X0[j0 : j0 + na], P)
        _accumulate(XN, P, cols, j0 == 0)
    for r in range(n):
        inv = 1.0 / S[r]
        for k in range(d):
            XN[r, k] *= inv
        log_s[r] = M[r] * scale[r] + math.log(S[r])


@njit(fastmath=_FASTMATH, cache=True)
def _accumulate(acc, P, rescale, first):
    """acc = P (first tile) or acc * rescale + P, per row."""
    n, d = P.shape
    for r in range(n):
        f = rescale[r]
        for k in range(d):
            acc[r, k] = P[r, k] if first else acc[r, k] * f + P[r, k]


@njit(fastmath=_NO_CONTRACT, cache=True, error_model="numpy")
def _pruned_mean(x, m, v, data, dsq, ref, cand, u, xn):
    """x_N (into ``xn``) and log sum_n w~_n of one row from the few training points that can
    carry weight, found from the row's reference; returns (False, 0) when there are more than
    ``cand.shape[0]`` of them (the caller then evaluates the row in full and renews the
    reference).

    ``ref`` = (x_ref, m_ref, n_ref): the state and scale of the row's last full evaluation,
    whose squared distances, minus their error bound, are ``dsq``, and its nearest point. By
    the triangle inequality |x - m c| >= |x_ref - m_ref c| - |x - x_ref| - |m - m_ref| |c|,
    and every point with |x - m c|^2 > |x - m x_0^{n_ref}|^2 - 2 v ``NEGLIGIBLE`` has a weight
    below e^``NEGLIGIBLE`` of the largest: it is dropped as the full evaluation drops it. The
    candidates' logits are exact differences (no fused multiply-adds, as ``_dopri``).
    """
    X0, norms = data[0], data[5]
    x_ref, m_ref, n_ref = ref
    N, d = X0.shape
    a = 0.0
    near = 0.0
    for k in range(d):
        diff = x[k] - x_ref[k]
        a += diff * diff
        diff = x[k] - m * X0[n_ref, k]
        near += diff * diff
    base = math.sqrt(a) + math.sqrt(near - 2.0 * NEGLIGIBLE * v)
    b = abs(m - m_ref)
    cap = cand.shape[0]
    count = 0
    for j in range(N):
        t = base + b * norms[j]
        if dsq[j] <= t * t:
            if count == cap:
                return False, 0.0
            cand[count] = j
            count += 1
    best = -np.inf
    for i in range(count):
        j = cand[i]
        total = 0.0
        for k in range(d):
            diff = x[k] - m * X0[j, k]
            total += diff * diff
        u[i] = -total
        best = max(best, -total)
    sc = 0.5 / v
    xn[:] = 0.0
    S = 0.0
    for i in range(count):
        arg = (u[i] - best) * sc
        if arg >= NEGLIGIBLE:
            w = exp_nonpositive_scalar(arg)
            S += w
            for k in range(d):
                xn[k] += w * X0[cand[i], k]
    for k in range(d):
        xn[k] /= S
    return True, best * sc + math.log(S)


@njit(cache=True, error_model="numpy")
def _block_field(taus, X, n, owners, field, data, scratch, refs, F):
    """The field at the first ``n`` rows of ``X`` (times ``taus``; row r belongs to trajectory
    ``owners[r]`` of the block) into ``F``: rows whose reference allows it by
    ``_pruned_mean``, the other rows with a finite precision 1 / (2 v) in one
    ``block_weighted_mean`` (which renews their references), the rest by ``velocity``.

    ``refs`` = (Dsq, x_ref, m_ref, n_ref, valid, cand, stores, dense): per trajectory of the
    block its reference (distances, state, scale, nearest point, whether valid) and whether it
    is dense (``DENSE_FRACTION``: a full evaluation renews its reference only when not);
    candidates of ``_pruned_mean`` and the rows of Dsq (or -1) of a full evaluation's rows. An
    empty Dsq turns the pruning off.
    """
    XT, mode, kind, p, c, score, log_ceb = field
    N = data[0].shape[0]
    Q, qq, tile, T, cols, M, S, idx, XS, XN, m, scale, log_s, coefs, xn, logits = scratch[:16]
    counts, arg = scratch[16:]
    Dsq, x_ref, m_ref, n_ref, valid, cand, stores, dense = refs
    prune = Dsq.shape[0] > 0
    ns = 0
    for r in range(n):
        coef = field_coefficients(taus[r], mode, kind, p, c)
        sc = 0.5 / coef[3] if coef[3] > 0.0 else np.inf
        if sc < np.inf and sum_sq(X[r]) <= STATE_MAX_SQ:
            o = owners[r]
            if prune and valid[o]:
                ref = (x_ref[o], m_ref[o], n_ref[o])
                done, ls = _pruned_mean(X[r], coef[2], coef[3], data, Dsq[o], ref, cand, logits, xn)
                if done:
                    field_value(X[r], xn, ls, 1.0, coef, mode, c, score, log_ceb, N, F[r])
                    continue
            idx[ns] = r
            stores[ns] = o if prune and not dense[o] else -1
            XS[ns] = X[r]
            m[ns] = coef[2]
            scale[ns] = sc
            for i in range(4):
                coefs[ns, i] = coef[i]
            ns += 1
        else:  # Voronoi weights (v = 0), or a state that gives a NaN field
            velocity_call(taus[r], X[r], XT, mode, kind, p, c, score, log_ceb, F[r], xn, logits)
    if ns == 0:
        return
    buffers = (Q, qq, tile, T, cols, M, S, counts)
    block_weighted_mean(XS, ns, m, scale, data, buffers, XN, log_s, (Dsq, stores, arg))
    for s in range(ns):
        cf = (coefs[s, 0], coefs[s, 1], coefs[s, 2], coefs[s, 3])
        field_value(XS[s], XN[s], log_s[s], 1.0, cf, mode, c, score, log_ceb, N, F[idx[s]])
        if prune:
            o = owners[idx[s]]
            valid[o] = stores[s] >= 0
            if valid[o]:
                x_ref[o] = XS[s]
                m_ref[o] = m[s]
                n_ref[o] = arg[s]
            dense[o] = counts[s] * DENSE_FRACTION > N


@njit(cache=True)
def _scratch(nb, N, d):
    """A slot's buffers for blocks of up to ``nb`` rows."""
    na = min(N, CENTER_CHUNK)
    return (
        np.empty((nb, d)),  # Q: centred rows
        np.empty(nb),  # qq
        np.empty(nb * na),  # tile of products / logits / weights
        np.empty((nb, d)),  # T: weights @ data of a tile
        np.empty(nb),  # cols: row maxima, then rescale factors
        np.empty(nb),  # M: running max
        np.empty(nb),  # S: running sum
        np.empty(nb, np.int64),  # idx: rows of the softmax among the block's rows
        np.empty((nb, d)),  # XS: their states
        np.empty((nb, d)),  # XN: their x_N
        np.empty(nb),  # m
        np.empty(nb),  # scale = 1 / (2 v)
        np.empty(nb),  # log_s
        np.empty((nb, 4)),  # (f, g^2, m, v)
        np.empty(d),  # xn, logits: work arrays of ``velocity``
        np.empty(N),
        np.empty(nb, np.int64),  # counts: weights kept per row of a full evaluation
        np.empty(nb, np.int64),  # arg: nearest point per row of a full evaluation
    )


@njit(cache=True)
def _references(nb, N, d):
    """A slot's references for ``_pruned_mean`` (blocks of up to ``nb`` rows): empty (pruning
    off) when nb N exceeds ``PRUNE_MAX_ENTRIES``."""
    rows = nb if nb * N <= PRUNE_MAX_ENTRIES else 0
    return (
        np.empty((rows, N)),  # Dsq
        np.empty((nb, d)),  # x_ref
        np.empty(nb),  # m_ref
        np.zeros(nb, np.int64),  # n_ref
        np.zeros(nb, np.bool_),  # valid
        np.empty(max(1, N // PRUNE_FRACTION), np.int64),  # candidates
        np.empty(nb, np.int64),  # stores: rows of Dsq of the rows of a full evaluation, or -1
        np.zeros(nb, np.bool_),  # dense
    )


@njit(cache=True, error_model="numpy")
def _integrate_block(Y, out, stats, span, save, tols, field, data, scratch, refs):
    """Integrate the rows of ``Y`` (a block, in place) in lock-step from tau0 to tau1; saved
    states go to ``out`` (its rows), (status, accepted, rejected, nfev) to ``stats``.

    Per row exactly the control flow of ``_dopri._integrate_one`` (same helpers), with the
    field of all running rows at one stage evaluated together.
    """
    tau0, tau1 = span
    rtol, atol, max_steps = tols
    B, d = Y.shape
    direction = 1.0 if tau1 >= tau0 else -1.0
    K = np.empty((B, 7, d))
    y_new = np.empty((B, d))
    err = np.empty(d)
    S = np.empty((B, d))  # packed stage states of the running rows
    F = np.empty((B, d))  # their field
    taus = np.empty(B)
    live = np.empty(B, np.int64)
    tau = np.full(B, tau0)
    tau_new = np.empty(B)
    h = np.empty(B)
    h_abs = np.empty(B)
    h0 = np.empty(B)
    d1 = np.empty(B)
    min_step = np.zeros(B)
    status = np.full(B, RUNNING, np.int64)
    accepted = np.zeros(B, np.int64)
    rejected = np.zeros(B, np.int64)
    nfev = np.full(B, 2, np.int64)
    fresh = np.ones(B, np.bool_)  # the next trial starts a new step
    step_rejected = np.zeros(B, np.bool_)
    n_save = save.shape[0]
    i_save = np.zeros(B, np.int64)
    owners = np.arange(B)
    refs[4][:] = False  # no reference yet
    refs[7][:] = False  # not dense
    for b in range(B):
        while i_save[b] < n_save and direction * (save[i_save[b]] - tau0) <= 0.0:
            out[b, i_save[b], :] = Y[b]  # saved times at the start
            i_save[b] += 1
    # the field at the start, then SciPy's initial step (one more evaluation)
    taus[:] = tau0
    _block_field(taus, Y, B, owners, field, data, scratch, refs, F)
    for b in range(B):
        K[b, 0] = F[b]
        h0[b], d1[b] = initial_h0(Y[b], K[b, 0], rtol, atol)
        for k in range(d):
            S[b, k] = Y[b, k] + h0[b] * direction * K[b, 0, k]
        taus[b] = tau0 + h0[b] * direction
    _block_field(taus, S, B, owners, field, data, scratch, refs, F)
    for b in range(B):
        h_abs[b] = initial_h1(Y[b], K[b, 0], F[b], h0[b], d1[b], rtol, atol)
    while True:
        n = 0
        for b in range(B):
            if status[b] != RUNNING:
                continue
            if fresh[b]:  # a new step: finished? out of steps?
                if not direction * (tau[b] - tau1) < 0.0:
                    status[b] = SUCCESS
                    continue
                if accepted[b] + rejected[b] >= max_steps:
                    status[b] = MAX_STEPS
                    continue
                min_step[b] = 10.0 * abs(np.nextafter(tau[b], direction * np.inf) - tau[b])
                h_abs[b] = max(h_abs[b], min_step[b])
                step_rejected[b] = False
            tau_new[b], h[b] = trial_step(tau[b], h_abs[b], direction, tau1)
            h_abs[b] = abs(h[b])
            live[n] = b
            n += 1
        if n == 0:
            break
        for i in range(1, 6):
            for r in range(n):
                b = live[r]
                taus[r] = stage_point(Y[b], K[b], h[b], i, tau[b], tau_new[b], direction, S[r])
            _block_field(taus, S, n, live, field, data, scratch, refs, F)
            for r in range(n):
                K[live[r], i] = F[r]
        for r in range(n):
            b = live[r]
            step_solution(Y[b], K[b], h[b], y_new[b])
            S[r] = y_new[b]
            taus[r] = tau_new[b]
        _block_field(taus, S, n, live, field, data, scratch, refs, F)
        for r in range(n):
            b = live[r]
            K[b, 6] = F[r]
            nfev[b] += 6
            err_norm = step_error(Y[b], y_new[b], K[b], h[b], err, rtol, atol)
            if not math.isfinite(err_norm):
                status[b] = NONFINITE
                continue
            h_abs[b] *= step_factor(err_norm, step_rejected[b])
            if err_norm >= 1.0:
                step_rejected[b] = True
                rejected[b] += 1
                fresh[b] = False
                if h_abs[b] < min_step[b]:
                    status[b] = STEP_TOO_SMALL
                continue
            # saved times in (tau, tau_new]: 4th-order continuous extension
            while i_save[b] < n_save and direction * (save[i_save[b]] - tau_new[b]) <= 0.0:
                theta = (save[i_save[b]] - tau[b]) / h[b]
                dense_output(Y[b], K[b], h[b], theta, out[b, i_save[b]])
                i_save[b] += 1
            tau[b] = tau_new[b]
            Y[b] = y_new[b]
            K[b, 0] = K[b, 6]
            accepted[b] += 1
            fresh[b] = True
    for b in range(B):
        stats[b, 0] = status[b]
        stats[b, 1] = accepted[b]
        stats[b, 2] = rejected[b]
        stats[b, 3] = nfev[b]


@njit(parallel=True, cache=True, error_model="numpy")
def integrate_batch(
    Y, XT, tau0, tau1, save, mode, kind, p, c, score, log_ceb, rtol, atol, max_steps, n_threads
):
    """Integrate every row of ``Y`` (B, d) in place, block by block (``plan_blocks``); returns
    the saved states (B, n_save, d; NaN where never reached) and the statistics (B, 4), as
    ``_dopri.integrate_batch`` (same arguments).

    The blocks are handed out one at a time to ``n_slots`` slots (``n_threads`` is
    ``numba.get_num_threads()``, passed in so that the function can be cached); BLAS must be
    single-threaded (``single_threaded_blas``), the slots are the parallelism.
    """
    B, d = Y.shape
    N = XT.shape[1]
    X0 = np.ascontiguousarray(XT.T)
    xbar, C, cc, ccmax, norms = prepare_data(X0)
    out = np.full((B, save.shape[0], d), np.nan)
    stats = np.empty((B, 4), dtype=np.int64)
    nb = plan_blocks(B, N)
    n_blocks = (B + nb - 1) // nb
    counter = new_counter()
    for _slot in prange(n_slots(n_blocks, n_threads)):
        scratch = _scratch(nb, N, d)
        refs = _references(nb, N, d)
        # the arrays all slots share, borrowed (``_dopri.borrowed``): no reference counts for
        # the threads to contend on; they stay alive until the parallel loop ends
        data = (borrowed(X0), borrowed(xbar), borrowed(C), borrowed(cc), borrowed(ccmax),
                borrowed(norms))  # fmt: skip
        field = (borrowed(XT), mode, kind, borrowed(p), c, score, log_ceb)
        Yb, outb, statsb = borrowed(Y), borrowed(out), borrowed(stats)
        item = next_item(counter)
        while item < n_blocks:
            b0, b1 = item * nb, min(B, (item + 1) * nb)
            _integrate_block(
                Yb[b0:b1],
                outb[b0:b1],
                statsb[b0:b1],
                (tau0, tau1),
                borrowed(save),
                (rtol, atol, max_steps),
                field,
                data,
                scratch,
                refs,
            )
            item = next_item(counter)
    return out, stats
