"""The float32 path of the fused softmax-weighted sum against float64 on the same inputs.

Error model of the float32 path (``kernels._numba`` and ``kernels._array_api``): only the
products X' C''^T and P V are float32; the logits, their maxima and sums are float64. A logit
taken from the float32 product has the error bound gamma size_ij, gamma = (d + 3) eps32,
size_ij = w_j (||x_i - r||^2 + ||a c_j - r||^2) with r = a mean_j c_j; it is kept only while
that bound is at most tau = 64 eps32 or RHO gamma times the logit's own size |l_ij - b_j|,
otherwise (near the row max) it is recomputed in float64; the direct path (d <= 4) computes
every logit in float64. So every logit that carries weight is within

    delta_ij = min(gamma size_ij, max(tau, RHO gamma |l_ij - b_j|)) + eps32

of the float64 one (the last eps32: the weight rounded to float32). The conditioning of the
softmax turns these bounds into the tolerance: the float32 weights q_j lie between
p_j e^(-delta_j) / sum_k p_k e^(delta_k) and p_j e^(delta_j) / sum_k p_k e^(-delta_k)
(p: the float64 softmax), so

    |out32_i - out64_i| <= sum_j |q_j - p_j| max_t |V_jt - out64_it| + rounding,
    |lse32_i - lse64_i| <= log sum_j p_j e^(delta_j) + rounding,

where the rounding covers the float32 product P V (n eps32 max|V|, n the centres of one
tile), the weights dropped below the refinement window (N e^-window, window = 3 - log eps32)
and the float32 result itself. The bound is tight (a few eps32) wherever the top logits are
further apart than delta, however large the logits are, and grows only where float32
products cannot tell the top centres apart.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp, softmax

from diffmem_theory.core.denoisers import memorizing_denoiser
from diffmem_theory.core.schedules import VPTrig
from diffmem_theory.kernels import softmax_weighted_sum
from diffmem_theory.kernels._numba import CENTER_CHUNK, RHO, plan_chunks

CPU_BACKENDS = ("numba", "numpy")
EPS32 = float(np.finfo(np.float32).eps)
TAU32 = 64 * EPS32
WINDOW32 = 3.0 - math.log(EPS32)


def float64_twin(case):
    """Plain NumPy broadcasting in float64 on the (float32) inputs: logits, out, lse."""
    x, c = (np.asarray(case[k], np.float64) for k in ("x", "centers"))
    V = c if case.get("values") is None else np.asarray(case["values"], np.float64)
    b = np.zeros(c.shape[0]) if case.get("log_weights") is None else case["log_weights"]
    b = np.asarray(b, np.float64)
    diffs = x[:, None, :] - case.get("scale", 1.0) * c[None, :, :]
    var = np.asarray(case.get("var", 1.0), np.float64)
    logits = b - (diffs**2).sum(-1) / (2.0 * var)
    return logits, b, V, softmax(logits, axis=1) @ V, logsumexp(logits, axis=1)


def float32_bounds(case):
    """The float64 (out, lse) and the tolerances of the module docstring, per row."""
    logits, b, V, out, lse = float64_twin(case)
    x, c = (np.asarray(case[k], np.float64) for k in ("x", "centers"))
    N, d = c.shape
    a = case.get("scale", 1.0)
    r = a * c.mean(axis=0)
    w = 0.5 / np.asarray(case.get("var", 1.0), np.float64)
    size = w * (((x - r) ** 2).sum(1)[:, None] + ((a * c - r) ** 2).sum(1)[None, :])
    gamma = (d + 3) * EPS32
    relative = np.maximum(TAU32, RHO * gamma * np.abs(logits - b))
    delta = np.minimum(gamma * size, relative) + EPS32
    logp = logits - lse[:, None]
    p = np.exp(logp)
    up = np.exp(np.minimum(logp + delta - logsumexp(logp - delta, axis=1)[:, None], 0.0))
    down = np.exp(logp - delta - logsumexp(logp + delta, axis=1)[:, None])
    spread = np.abs(V[None, :, :] - out[:, None, :]).max(axis=2)  # max_t |V_jt - out_it|
    dropped = N * math.exp(-WINDOW32)
    v_max = float(np.abs(V).max())
    rounding = EPS32 * (min(N, CENTER_CHUNK) + 4) * v_max + dropped * spread.max(axis=1)
    tol_out = (np.maximum(up - p, p - down) * spread).sum(axis=1) + rounding
    tol_lse = logsumexp(logp + delta, axis=1) + 4 * EPS32 * (np.abs(lse) + 1) + dropped
    return out, lse, tol_out, tol_lse


def assert_float32_within_bounds(case, backend):
    case32 = {
        k: (v.astype(np.float32) if isinstance(v, np.ndarray) else v) for k, v in case.items()
    }
    out, lse = softmax_weighted_sum(**case32, backend=backend, return_logsumexp=True)
    assert out.dtype == np.float32 and lse.dtype == np.float32
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(lse))
    ref_out, ref_lse, tol_out, tol_lse = float32_bounds(case32)
    err_out = np.abs(out.astype(np.float64) - ref_out).max(axis=1)
    err_lse = np.abs(lse.astype(np.float64) - ref_lse)
    assert np.all(err_out <= tol_out), (err_out, tol_out)
    assert np.all(err_lse <= tol_lse), (err_lse, tol_lse)
    return out, lse, tol_out


def data_set(d, n=50, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d))


def nearest(x, centers):
    """Index of the nearest centre of each query (float64 broadcasting)."""
    return np.argmin(((x[:, None, :] - centers[None, :, :]) ** 2).sum(-1), axis=1)


@st.composite
def extreme_cases(draw):
    """|x| up to 1e4, variances down to 1e-12, d up to 300; queries anywhere or next to a
    centre (alpha c_j + sigma z), shared or per-centre variances, log-weights, values."""
    B, N = draw(st.integers(1, 6)), draw(st.integers(1, 40))
    d = draw(st.sampled_from([1, 2, 3, 4, 5, 9, 32, 300]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    var = 10.0 ** draw(st.one_of(st.sampled_from([-12.0, -10.0, -8.0, -6.0]), st.floats(-12, 2)))
    scale = draw(st.sampled_from([1.0, 0.999, 0.6, -1.3, 0.0]))
    centers = 10.0 ** draw(st.one_of(st.just(0.0), st.floats(-2, 4))) * rng.normal(size=(N, d))
    if draw(st.booleans()):
        x = 10.0 ** draw(st.one_of(st.just(4.0), st.floats(-2, 4))) * rng.normal(size=(B, d))
    else:
        x = scale * centers[rng.integers(0, N, B)] + math.sqrt(var) * rng.normal(size=(B, d))
    case = {"x": x, "centers": centers, "scale": scale, "var": var}
    if draw(st.booleans()):
        case["var"] = var * rng.uniform(0.5, 2.0, N)
    if draw(st.booleans()):
        case["log_weights"] = rng.normal(0, 3, N)
    if draw(st.booleans()):
        case["values"] = rng.normal(0, 1, (N, draw(st.integers(1, 3))))
    return case


@settings(max_examples=60, deadline=None)
@given(case=extreme_cases(), backend=st.sampled_from(CPU_BACKENDS))
def test_float32_matches_float64_within_the_conditioning_bound(case, backend):
    assert_float32_within_bounds(case, backend)


def vp_trig_queries(t, d, n_train, n_queries, held_out, seed=0):
    """Paper 000's setting at VPTrig time t (alpha = sqrt(1 - t^2), sigma = t): training points
    N(0, I_d), queries alpha x0 + sigma z with x0 a training point or a held-out draw."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_train, d))
    x0 = rng.normal(size=(n_queries, d)) if held_out else X[:n_queries]
    alpha, sigma = math.sqrt(1.0 - t * t), t
    x = alpha * x0 + sigma * rng.normal(size=(n_queries, d))
    return {"x": x, "centers": X, "scale": alpha, "var": sigma * sigma}


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("held_out", [True, False])
@pytest.mark.parametrize("t", [1e-3, 0.3, 0.9])
def test_float32_at_d3072_matches_float64(backend, held_out, t):
    """d = 3,072 at VPTrig times t: within the conditioning bound; at t = 1e-3 (the issue's
    held-out queries gave inf and rows wrong by up to 3.8) every row is its nearest training
    point, exactly as in float64."""
    case = vp_trig_queries(t, 3072, 64, 6, held_out)
    out, _, _ = assert_float32_within_bounds(case, backend)
    if t == 1e-3:
        X32 = case["centers"].astype(np.float32)
        x32 = case["x"].astype(np.float32).astype(np.float64)
        np.testing.assert_array_equal(out, X32[nearest(x32, X32.astype(np.float64))])


@pytest.mark.parametrize("held_out", [True, False])
@pytest.mark.parametrize("t", [1e-3, 0.6])
def test_float32_wide_query_blocks_match_float64(held_out, t):
    """d = 512, 300 queries: the wide-data plan (256-query blocks, 2 blocks x 8 centre parts,
    centres prepared in parallel) stays within the conditioning bound."""
    assert plan_chunks(300, 400, 512, 512, 0, 50) == (256, 50, 8, True)
    case = {**vp_trig_queries(t, 512, 400, 300, held_out), "center_chunk": 50}
    assert_float32_within_bounds(case, "numba")


# --- regression tests of the cases reported in issue 14 --------------------------------------


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("value", [10.0, 100.0])
def test_memorizing_denoiser_float32_far_queries(backend, value):
    """memorizing_denoiser(1e-4, 10 or 100 per coordinate, dtype=float32): inf and off by 2.85
    before; the answer is the nearest training point, as in float64."""
    X = data_set(10)
    x = np.full((8, 10), value)
    out32 = memorizing_denoiser(x, 1e-4, X, VPTrig(), dtype=np.float32, backend=backend)
    out64 = memorizing_denoiser(x, 1e-4, X, VPTrig(), backend=backend)
    assert out32.dtype == np.float32 and np.all(np.isfinite(out32))
    X32 = X.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(out32, X32[nearest(x, X32)], rtol=0, atol=4 * EPS32 * 3)
    np.testing.assert_allclose(out32, out64, rtol=0, atol=1e-6)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("d", [10, 3])
@pytest.mark.parametrize("var", [1e-12, 1e-8])
@pytest.mark.parametrize("value", [10.0, 100.0, 1e4])
def test_float32_far_queries_tiny_variance_pick_the_nearest_centre(backend, d, var, value):
    """x = 1e4 per coordinate, var = 1e-12: ZeroDivisionError before; var = 1e-8: zeros (and
    the same on the direct path, d <= 4). The result is the nearest centre, lse the float64
    one to float32 precision."""
    X32 = data_set(d).astype(np.float32)
    x = np.full((8, d), value, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, lse = softmax_weighted_sum(x, X32, var=var, backend=backend, return_logsumexp=True)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, X32[nearest(x.astype(float), X32.astype(float))])
    _, _, _, _, ref_lse = float64_twin({"x": x, "centers": X32, "var": var})
    np.testing.assert_allclose(lse, ref_lse, rtol=4 * EPS32)


def test_float32_direct_path_resolves_a_near_tie_between_huge_logits():
    """Logits ~ -5e9 whose top two differ by ~1.9: float32 cannot store such logits (its spacing
    there is 512), yet the direct path (d <= 4, float64 arithmetic) splits the weight exactly
    as float64 does. (The product path is bounded by the conditioning test above: its float32
    products carry errors of RHO (d + 3) eps32 |logit|, far above 1 here.)"""
    var = 1e-6
    e = np.eye(3)[0]
    centers = np.stack([e, -e, 5 * e]).astype(np.float32)
    x = np.zeros((2, 3), np.float32)
    x[:, 1] = 100.0  # ||x -+ e||^2 = 1e4 + 1 +- 2 x_0: logits ~ -5e9
    x[1, 0] = 2.0**-20  # the logit gap 4 x_0 / (2 var) = 1.9 favours the first centre
    out = softmax_weighted_sum(x, centers, var=var)
    _, _, _, ref, _ = float64_twin({"x": x, "centers": centers, "var": var})
    np.testing.assert_allclose(out, ref, rtol=0, atol=4 * EPS32)
    assert out[0, 0] == 0.0 and abs(float(out[1, 0]) - math.tanh(2.0**-20 / var)) < 4 * EPS32


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("d", [3, 5])
def test_float32_far_query_between_two_close_centres(backend, d):
    """A query 1e4 away from two centres 1e-5 apart: logits ~ -1e9 (float32 spacing 64) with a
    gap of 2. The products of the centred data are small and exact enough, and the logits are
    kept in float64, so the weights are those of float64 (the NumPy path stored float32
    logits before and lost the gap)."""
    centers = np.zeros((2, d), np.float32)
    centers[:, 0] = [1.0, 1.0 - 1e-5]
    values = np.array([[1.0], [0.0]], np.float32)
    x = np.zeros((1, d), np.float32)
    x[0, 0] = 1e4
    out = softmax_weighted_sum(x, centers, var=0.05, values=values, backend=backend)
    _, _, _, ref, _ = float64_twin({"x": x, "centers": centers, "var": 0.05, "values": values})
    assert 0.8 < ref[0, 0] < 0.9  # sigmoid of the gap w ||c1 - c2|| 2 x_0 ~ 2
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-6)
