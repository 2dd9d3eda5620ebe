"""The fused softmax-weighted sum: Numba and array-API paths against a plain NumPy twin."""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp, softmax
from scipy.stats import multivariate_normal

from diffmem_theory.kernels import BACKENDS, _blas, _numba, softmax_weighted_sum
from diffmem_theory.kernels._array_api import softmax_weighted_sum_xp
from diffmem_theory.kernels._parallel import new_counter

CPU_BACKENDS = ("numba", "numpy")
EPS64 = np.finfo(np.float64).eps
EPS32 = np.finfo(np.float32).eps


def twin(x, centers, scale=1.0, var=1.0, log_weights=None, values=None):
    """Plain NumPy broadcasting in float64: the B x N x d differences, logits, softmax."""
    x, c = np.asarray(x, np.float64), np.asarray(centers, np.float64)
    b = 0.0 if log_weights is None else np.asarray(log_weights, np.float64)
    V = c if values is None else np.asarray(values, np.float64)
    diffs = x[:, None, :] - scale * c[None, :, :]
    logits = b - (diffs**2).sum(-1) / (2.0 * np.asarray(var, np.float64))
    return softmax(logits, axis=1) @ V, logsumexp(logits, axis=1), logits


def assert_matches_twin(case, backend, eps=EPS64, **options):
    """The kernel's (out, lse) on ``case`` pass :func:`assert_close_to_twin`."""
    out, lse = softmax_weighted_sum(**case, backend=backend, return_logsumexp=True, **options)
    assert_close_to_twin(case, out, lse, eps)
    return out, lse


def assert_close_to_twin(case, out, lse, eps=EPS64):
    """(out, lse) == twin within c * eps * (logit size), relative to the scale of the values.

    A logit error delta moves the output by at most delta * max|V| and lse by delta; both the
    twin and the kernel carry logit errors of a few eps times the magnitude of the logits
    that carry weight (those within 40 of their row max; the others contribute < e^-40).
    """
    ref_out, ref_lse, logits = twin(**case)
    values = case["centers"] if case.get("values") is None else case["values"]
    weighty = logits > logits.max(axis=1, keepdims=True) - 40.0
    size = max(1.0, float(np.abs(logits[weighty]).max()))
    scale = max(float(np.abs(values).max()), np.finfo(np.float64).tiny)
    assert out.shape == ref_out.shape and lse.shape == ref_lse.shape
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(lse))
    np.testing.assert_allclose(out, ref_out, rtol=0, atol=64 * eps * size * scale)
    np.testing.assert_allclose(lse, ref_lse, rtol=0, atol=64 * eps * size)


@st.composite
def cases(draw, dtype=np.float64):
    """Random problems: shapes down to 1, any real scale, shared or per-centre var, weights."""
    B, N, d, k = (draw(st.integers(1, hi)) for hi in (9, 13, 7, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    case = {
        "x": rng.normal(0, 2, (B, d)).astype(dtype),
        "centers": rng.normal(0, 2, (N, d)).astype(dtype),
        "scale": draw(st.sampled_from([0.0, -1.3, 0.4, 1.0, 2.5])),
    }
    if draw(st.booleans()):
        case["var"] = rng.uniform(0.5, 4.0, N).astype(dtype)
    else:
        case["var"] = draw(st.sampled_from([0.5, 1.0, 3.0]))
    if draw(st.booleans()):
        case["log_weights"] = rng.normal(0, 1, N).astype(dtype)
    if draw(st.booleans()):
        case["values"] = rng.normal(0, 1, (N, k)).astype(dtype)
    chunks = {"query_chunk": draw(st.integers(1, B)), "center_chunk": draw(st.integers(1, N))}
    return case, draw(st.sampled_from([{}, chunks]))


@settings(max_examples=60, deadline=None)
@given(problem=cases(), backend=st.sampled_from(CPU_BACKENDS))
def test_float64_matches_twin(problem, backend):
    case, chunks = problem
    out, _ = assert_matches_twin(case, backend, **chunks)
    assert out.dtype == np.float64


@settings(max_examples=30, deadline=None)
@given(problem=cases(dtype=np.float32), backend=st.sampled_from(CPU_BACKENDS))
def test_float32_matches_twin(problem, backend):
    case, chunks = problem
    out, lse = assert_matches_twin(case, backend, eps=EPS32, **chunks)
    assert out.dtype == np.float32 and lse.dtype == np.float32


def test_exp_matches_numpy_to_two_ulp():
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            -np.linspace(0.0, 708.39, 400_001),
            -rng.exponential(1.0, 100_000),
            -rng.uniform(0, 1e-6, 1000),
            [-0.0, -708.3964185322641, _numba._EXP_MIN],
        ]
    )
    got = x.copy()
    _numba.exp_nonpositive(got)
    ref = np.exp(x)
    assert np.max(np.abs(got - ref) / np.spacing(ref)) <= 2.0
    flushed = np.array([-708.4, -745.2, -1e300, -np.inf])
    _numba.exp_nonpositive(flushed)
    assert np.all(flushed == 0.0)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("d", [2, 20])
def test_online_rescaling_across_many_blocks(backend, d):
    """The max grows block after block: every tile rescales the running sum and accumulator."""
    rng = np.random.default_rng(1)
    centers = np.outer(np.arange(40.0), np.ones(d)) / 8 + 0.01 * rng.normal(size=(40, d))
    case = {"x": np.full((7, d), 6.0) + rng.normal(size=(7, d)), "centers": centers, "var": 0.7}
    case["values"] = rng.normal(size=(40, 3))
    for chunks in [(1, 1), (2, 3), (3, 7), (7, 40)]:
        assert_matches_twin(case, backend, query_chunk=chunks[0], center_chunk=chunks[1])


def test_the_centre_of_the_expansion_is_the_mean_of_an_even_sample():
    """r = a times the mean of every ceil(N / R_SAMPLE)-th centre (all of them up to
    R_SAMPLE): no pass over all N d entries; the table of block constants is left to the
    items (one row per centre block)."""
    C = np.random.default_rng(4).normal(size=(3 * _numba.R_SAMPLE + 5, 7))
    r, blocks = _numba._prepare_centres(C, 0.5, 1000)
    np.testing.assert_allclose(r, 0.5 * C[::4].mean(axis=0), rtol=1e-13, atol=1e-15)
    assert blocks.shape == (len(C) // 1000 + 1, 7)
    r, _ = _numba._prepare_centres(C[:100], -2.0, 1000)
    np.testing.assert_allclose(r, -2.0 * C[:100].mean(axis=0), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("direct", [True, False])
def test_centre_parts_merge_by_logsumexp(direct):
    """Splitting the centres into parts (used when there are few query blocks)."""
    rng = np.random.default_rng(2)
    d = 3 if direct else 9
    x, C, V = rng.normal(size=(2, d)), rng.normal(size=(50, d)), rng.normal(size=(50, 2))
    w, b = np.full(50, 0.4), rng.normal(size=50)
    ref_out, ref_lse, _ = twin(x, C, -0.6, 1.25, b, V)
    for n_part, nb in [(2, 25), (3, 17), (5, 10)]:
        parts = (np.empty((n_part, 2)), np.empty((n_part, 2)), np.empty((n_part, 2, 2)))
        prep = (np.zeros(d), np.zeros((0, 7)))
        if not direct:
            prep = _numba._prepare_centres(C, -0.6, nb)
        data, plan = (x, C, V, -0.6, w, b), (1, nb, n_part)
        _numba._run_slot(new_counter(), data, prep, plan, parts)  # every item, in order
        out, m, s = np.empty((2, 2)), np.empty(2), np.empty(2)
        _numba._merge_parts(*parts, out, m, s)
        np.testing.assert_allclose(out, ref_out, rtol=0, atol=1e-14)
        np.testing.assert_allclose(m + np.log(s), ref_lse, rtol=0, atol=1e-13)


@pytest.mark.parametrize("direct", [True, False])
def test_an_item_does_not_depend_on_what_its_slot_did_before(direct):
    """A slot that starts at item 7 (fresh buffers) writes the same bits for items 7, 8, ...
    as a slot that processed items 0 .. 6 first: the hand-out order cannot change a result."""
    rng = np.random.default_rng(12)
    d = 2 if direct else 11
    x, C, V = rng.normal(size=(37, d)), rng.normal(size=(90, d)), rng.normal(size=(90, 3))
    w, b = np.full(90, 0.7), rng.normal(size=90)
    qb, nb, n_part = plan = (5, 16, 3)  # 8 query blocks x 3 centre parts
    prep = (np.zeros(d), np.zeros((0, 7)))
    if not direct:
        prep = _numba._prepare_centres(C, 0.8, nb)
    runs = []
    for start in (0, 7):
        parts = (np.zeros((3, 37)), np.zeros((3, 37)), np.zeros((3, 37, 3)))
        counter = new_counter()
        counter[0] = start
        _numba._run_slot(counter, (x, C, V, 0.8, w, b), prep, plan, parts)
        runs.append(parts)
    for item in range(7, 8 * n_part):
        p, rows = item % n_part, slice((item // n_part) * qb, (item // n_part + 1) * qb)
        for ref, got in zip(runs[0], runs[1], strict=True):
            assert ref[p, rows].tobytes() == got[p, rows].tobytes()


THREAD_CASES = """
import sys
import numpy as np
from diffmem_theory.kernels import _numba, softmax_weighted_sum
rng = np.random.default_rng(13)
results = {}
cases = [(1, 120_000, 2), (4000, 300, 3), (3, 40_000, 20), (2000, 3000, 20), (600, 2000, 600),
         (1030, 600, 2048)]
for B, N, d in cases:
    assert _numba.plan_chunks(B, N, d, 2, 0, 0)[3]  # a parallel call
    for dtype in (np.float32, np.float64):
        x = rng.normal(size=(B, d)).astype(dtype)
        c = rng.normal(size=(N, d))  # float64: the kernel casts it (in parallel when large)
        v = rng.normal(size=(N, 2)).astype(dtype)
        out, lse = softmax_weighted_sum(
            x, c, scale=0.9, var=0.3, values=v, log_weights=rng.normal(size=N),
            dtype=dtype, return_logsumexp=True,
        )
        results[f"{B}-{N}-{d}-{np.dtype(dtype).name}"] = np.concatenate(
            [np.frombuffer(out.tobytes(), np.uint8), np.frombuffer(lse.tobytes(), np.uint8)]
        )
np.savez(sys.argv[1], **results)
"""


def test_results_are_bit_identical_for_1_2_and_4_threads(tmp_path):
    """Direct (d <= 4) and BLAS paths, one query and many, wide data (d = 600: 256-query
    blocks, centres cast to float32 in parallel; d = 2,048: 1,024-query blocks, a full one and
    one of 6), float32 and float64: the same bytes for NUMBA_NUM_THREADS = 1, 2 and 4 (4
    threads also on a 2-core machine)."""
    runs = []
    for n_threads in (1, 2, 4):
        path = tmp_path / f"threads{n_threads}.npz"
        env = {**os.environ, "NUMBA_NUM_THREADS": str(n_threads)}
        subprocess.run([sys.executable, "-c", THREAD_CASES, str(path)], env=env, check=True)
        with np.load(path) as data:
            runs.append({name: data[name] for name in data.files})
    assert len(runs[0]) == 12
    for other in runs[1:]:
        assert runs[0].keys() == other.keys()
        for name, ref in runs[0].items():
            assert ref.tobytes() == other[name].tobytes(), name


FALLBACK_CASES = """
import sys
import numpy as np
from diffmem_theory.kernels import _blas, softmax_weighted_sum
assert _blas.BLAS_PACKAGE == "scipy", _blas.BLAS_PACKAGE
results = {}
with np.load(sys.argv[1]) as data:
    names = sorted({key.split(":")[0] for key in data.files})
    for name in names:
        case = {key.split(":")[1]: data[key] for key in data.files if key.startswith(name + ":")}
        out, lse = softmax_weighted_sum(**case, scale=0.9, return_logsumexp=True)
        results[name + ":out"], results[name + ":lse"] = out, lse
np.savez(sys.argv[2], **results)
"""


def test_np_dot_fallback_matches_the_twin_bit_identically_for_1_and_2_threads(tmp_path):
    """DIFFMEM_THEORY_BLAS=scipy binds the kernel's products to Numba's np.dot (SciPy's BLAS),
    as on NumPy builds without a bundled OpenBLAS: BLAS tiles with centre parts and wide
    (d = 600) query blocks, both dtypes, match the twin and give the same bytes for 1 and 2
    threads."""
    rng = np.random.default_rng(17)
    cases = {}
    for B, N, d in [(300, 2000, 40), (200, 700, 600)]:
        for dtype in (np.float32, np.float64):
            cases[f"{B}-{N}-{d}-{np.dtype(dtype).name}"] = {
                "x": rng.normal(size=(B, d)).astype(dtype),
                "centers": rng.normal(size=(N, d)).astype(dtype),
                "values": rng.normal(size=(N, 3)).astype(dtype),
                "var": rng.uniform(0.5 * d, d, N).astype(dtype),
                "log_weights": rng.normal(size=N),
            }
    inputs = tmp_path / "inputs.npz"
    np.savez(inputs, **{f"{n}:{k}": v for n, case in cases.items() for k, v in case.items()})
    runs = []
    for n_threads in (1, 2):
        path = tmp_path / f"threads{n_threads}.npz"
        env = {**os.environ, "NUMBA_NUM_THREADS": str(n_threads), "DIFFMEM_THEORY_BLAS": "scipy"}
        cmd = [sys.executable, "-c", FALLBACK_CASES, str(inputs), str(path)]
        subprocess.run(cmd, env=env, check=True)
        with np.load(path) as data:
            runs.append({name: data[name] for name in data.files})
    assert runs[0].keys() == runs[1].keys() and len(runs[0]) == 2 * len(cases)
    for name, ref in runs[0].items():
        assert ref.tobytes() == runs[1][name].tobytes(), name
    for name, case in cases.items():
        eps = EPS32 if name.endswith("float32") else EPS64
        assert_close_to_twin(
            {**case, "scale": 0.9}, runs[0][name + ":out"], runs[0][name + ":lse"], eps
        )


@pytest.mark.parametrize(("d", "N"), [(2, 120_000), (50, 60_000)])
def test_few_queries_against_many_centres_in_parallel(d, N):
    """B = 1: the plan splits the centres into parts that run in the parallel region."""
    assert _numba.plan_chunks(1, N, d, d, 0, 0)[2:] == (_numba.TARGET_ITEMS, True)
    rng = np.random.default_rng(11)
    case = {"x": rng.normal(size=(1, d)), "centers": rng.normal(size=(N, d)), "var": 2.0}
    case["log_weights"] = rng.normal(size=N)
    assert_matches_twin(case, "numba")


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("d", [3, 30])
def test_far_queries_stay_finite_and_exact(backend, d):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, d))
    x *= 1e4 / np.linalg.norm(x, axis=1, keepdims=True)
    centers = rng.normal(size=(25, d))
    for var in [1.0, 1e8]:
        assert_matches_twin({"x": x, "centers": centers, "var": var}, backend)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("d", [2, 12])
def test_tiny_variance_is_one_hot_on_the_nearest_centre(backend, d):
    rng = np.random.default_rng(4)
    x, centers = rng.normal(size=(10, d)), rng.normal(size=(30, d))
    values = rng.normal(size=(30, 4))
    out, lse = softmax_weighted_sum(
        x, centers, var=1e-12, values=values, backend=backend, return_logsumexp=True
    )
    nearest = np.argmin(((x[:, None] - centers[None]) ** 2).sum(-1), axis=1)
    assert np.array_equal(out, values[nearest])
    _, ref_lse, _ = twin(x, centers, var=1e-12)
    np.testing.assert_allclose(lse, ref_lse, rtol=1e-14)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_huge_variance_gives_the_weight_average(backend):
    rng = np.random.default_rng(5)
    x, centers, b = rng.normal(size=(4, 6)), rng.normal(size=(9, 6)), rng.normal(size=9)
    out = softmax_weighted_sum(x, centers, var=1e30, log_weights=b, backend=backend)
    np.testing.assert_allclose(out, np.tile(softmax(b) @ centers, (4, 1)), rtol=0, atol=1e-14)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("var", [1e-12, 1.0])
@pytest.mark.parametrize("d", [2, 8])
def test_ties_split_the_weight_exactly(backend, var, d):
    e = np.eye(d)[0]
    centers = np.array([e, -e, 3 * e])
    values = np.array([[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
    x = np.zeros((1, d))
    out = softmax_weighted_sum(x, centers, var=var, values=values, backend=backend)
    w_far = 0.0 if var < 1 else 1 / (1 + 2 * np.exp(4.0))
    expected = (1 - w_far) * np.array([0.5, 0.5]) + w_far * np.array([5.0, 5.0])
    np.testing.assert_allclose(out[0], expected, rtol=0, atol=1e-15)


def cancellation_case(d, var):
    """A tight cloud far from the origin (and from its own centroid's scale): queries sit
    1e-6 from a centre, so ||x||^2 + ||c||^2 ~ 1e8 while ||x - c||^2 ~ 1e-12."""
    rng = np.random.default_rng(6)
    centers = 1e4 * np.eye(d)[0] + 0.01 * rng.normal(size=(40, d))
    centers[20:] *= -1  # two clouds on opposite sides: centring on the mean cannot help
    x = centers[::7] + 1e-6 * rng.normal(size=(6, d))
    return {"x": x, "centers": centers, "var": var, "values": rng.normal(size=(40, 2))}


def test_cancellation_case_defeats_the_plain_expanded_square():
    """Without the exact recomputation the expansion would be wrong in these cases."""
    case = cancellation_case(20, 1e-10)
    x, c = case["x"], case["centers"]
    expanded = (x**2).sum(1)[:, None] - 2 * x @ c.T + (c**2).sum(1)[None, :]
    exact = ((x[:, None] - c[None]) ** 2).sum(-1)
    lse_error = np.abs(logsumexp(-expanded / 2e-10, axis=1) - logsumexp(-exact / 2e-10, axis=1))
    assert lse_error.max() > 1.0


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("var", [1e-10, 1e-4, 1.0])
@pytest.mark.parametrize("d", [3, 20])
def test_queries_next_to_a_far_centre_match_the_twin(backend, var, d):
    assert_matches_twin(cancellation_case(d, var), backend)
    assert_matches_twin(cancellation_case(d, var), backend, query_chunk=2, center_chunk=9)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_lse_is_the_gaussian_mixture_log_density(backend):
    """lse - (d/2) log(2 pi v) - log N is log (1/N) sum_j N(x; a c_j, v I) (independent scipy)."""
    rng = np.random.default_rng(7)
    d, a, v = 5, 0.8, 0.36
    centers, x = rng.normal(size=(12, d)), rng.normal(size=(20, d))
    _, lse = softmax_weighted_sum(
        x, centers, scale=a, var=v, backend=backend, return_logsumexp=True
    )
    log_density = lse - 0.5 * d * np.log(2 * np.pi * v) - np.log(12)
    pdf = np.mean([multivariate_normal(a * c, v * np.eye(d)).pdf(x) for c in centers], axis=0)
    np.testing.assert_allclose(log_density, np.log(pdf), rtol=1e-12)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_memorizing_denoiser_eq7_on_a_training_point(backend):
    """Paper 000 eq. (7): at small sigma_t the memorizing denoiser returns the training point."""
    rng = np.random.default_rng(8)
    X = rng.normal(size=(50, 10))
    alpha, sigma = 0.99, 0.01
    x_t = alpha * X[:5] + sigma * rng.normal(size=(5, 10))
    out = softmax_weighted_sum(x_t, X, scale=alpha, var=sigma**2, backend=backend)
    np.testing.assert_allclose(out, X[:5], rtol=0, atol=1e-12)


def test_inputs_of_any_layout_and_integer_dtype():
    rng = np.random.default_rng(9)
    x = np.asfortranarray(rng.normal(size=(5, 6)))[:, ::2]
    centers = rng.integers(-3, 4, size=(7, 3))
    out = softmax_weighted_sum(x, centers)
    np.testing.assert_allclose(out, twin(x, centers)[0], rtol=0, atol=1e-14)
    assert out.dtype == np.float64


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_dtype_rules(backend):
    x32, c32 = np.ones((2, 3), np.float32), np.zeros((4, 3), np.float32)
    assert softmax_weighted_sum(x32, c32, backend=backend).dtype == np.float32
    assert softmax_weighted_sum(x32, c32, var=np.ones(4), backend=backend).dtype == np.float64
    assert softmax_weighted_sum(x32, c32.astype(np.float64), backend=backend).dtype == np.float64
    forced = softmax_weighted_sum(x32, c32, dtype=np.float64, backend=backend)
    assert forced.dtype == np.float64
    assert softmax_weighted_sum(np.ones((2, 3)), c32, dtype="float32").dtype == np.float32


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_no_queries_gives_empty_results(backend):
    out, lse = softmax_weighted_sum(
        np.empty((0, 3)),
        np.ones((4, 3)),
        values=np.ones((4, 2)),
        backend=backend,
        return_logsumexp=True,
    )
    assert out.shape == (0, 2) and lse.shape == (0,)


def test_array_api_path_never_forms_the_full_logits():
    """Peak memory of the array-API path is set by the tile, not by B x N (x d)."""
    rng = np.random.default_rng(10)
    B, N, d, qb, nb = 1000, 3000, 16, 50, 200
    x, C = rng.normal(size=(B, d)), rng.normal(size=(N, d))
    w, b = np.full(N, 0.5), np.zeros(N)
    tracemalloc.start()
    softmax_weighted_sum_xp(x, C, C, 1.0, w, b, qb, nb)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 * (4 * N * d + 8 * qb * nb + 4 * B * d)  # prepared centres + a few tiles
    assert peak < 0.1 * B * N * 8  # the B x N logits alone would take 24 MB


PEAK_CASE = """
import numpy as np
from diffmem_theory.kernels import softmax_weighted_sum
C = np.random.default_rng(0).random((200_000, 64), dtype=np.float32)
x = C[:4] + np.float32(0.01)
softmax_weighted_sum(x, C, var=0.1)  # load the kernel, start its threads


def peak():
    with open("/proc/self/status") as status:
        return next(int(s.split()[1]) * 1024 for s in status if s.startswith("VmHWM:"))


with open("/proc/self/clear_refs", "w") as clear_refs:
    clear_refs.write("5")  # the peak RSS starts again from the current RSS
before = peak()
softmax_weighted_sum(x, C, var=0.1)
print(peak() - before)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc")
def test_the_kernel_makes_no_copy_of_the_centres():
    """Each work item prepares its centre block in its slot's buffer: the peak extra memory of
    a parallel call is a few blocks, not the N x d prepared centres (51 MB here)."""
    cmd = [sys.executable, "-c", PEAK_CASE]
    extra = int(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()[-1])
    assert extra < 0.25 * 200_000 * 64 * 4


def test_plan_depends_on_the_shape_only():
    """Serial below PARALLEL_MIN_WORK; else at least TARGET_ITEMS items where the shape allows,
    from centre parts first (each at least MIN_SPLIT_CHUNK centres), then smaller query blocks."""
    plan = _numba.plan_chunks
    assert plan(4096, 10000, 50, 50, 0, 0) == (128, 1024, 1, True)
    assert plan(3, 100000, 50, 2, 0, 0) == (3, 1024, 16, True)
    assert plan(16, 2000, 3072, 1, 0, 0) == (16, 128, 16, True)
    assert plan(200, 2000, 50, 50, 0, 0) == (128, 250, 8, True)
    assert plan(10000, 20, 2, 2, 0, 0) == (625, 20, 1, True)
    assert plan(1000, 20, 2, 2, 0, 0) == (1000, 20, 1, False)
    assert plan(100, 20, 2, 2, 7, 3) == (7, 3, 1, False)
    assert plan(100, 2000, 50, 50, 7, 300) == (7, 300, 2, True)
    # wide data: QUERY_CHUNK times d // WIDE_D queries a block, at most WIDE_FACTOR times
    assert plan(4096, 10000, 300, 300, 0, 0) == (128, 1024, 1, True)
    assert plan(4096, 10000, 768, 768, 0, 0) == (384, 1024, 2, True)
    assert plan(1000, 50000, 3072, 3072, 0, 0) == (1000, 1024, 16, True)
    assert plan(4096, 50000, 3072, 3072, 0, 0) == (1024, 1024, 4, True)
    assert plan(1000, 50000, 3072, 3072, 128, 0) == (128, 1024, 2, True)


@pytest.mark.parametrize("var", [0.05, 2.0])
def test_wide_data_in_wide_query_blocks_matches_the_twin(var):
    """d = 512, 300 queries: 256-query blocks (the wide-data rule) in 2 blocks x 8 centre
    parts, centres prepared in parallel; float64 within the twin's tolerance."""
    assert _numba.plan_chunks(300, 400, 512, 512, 0, 50) == (256, 50, 8, True)
    rng = np.random.default_rng(21)
    X = rng.random((400, 512))
    x = 0.8 * X[rng.integers(0, 400, 300)] + 0.3 * rng.normal(size=(300, 512))
    case = {"x": x, "centers": X, "scale": 0.8, "var": var}
    assert_matches_twin(case, "numba", center_chunk=50)


def test_large_float64_centres_cast_in_parallel_give_the_float32_bits():
    """Centres of >= CAST_MIN_SIZE entries cast to float32 by the kernel (all threads) give
    the same bits as centres cast by NumPy beforehand, and the cast copies only once."""
    rng = np.random.default_rng(22)
    N, d = 2100, 500
    assert N * d >= _numba.CAST_MIN_SIZE
    X, x = rng.normal(size=(N, d)), rng.normal(size=(8, d)).astype(np.float32)
    cast = _numba.as_kernel_dtype(X, np.dtype(np.float32))
    assert cast.dtype == np.float32 and cast.tobytes() == X.astype(np.float32).tobytes()
    ref = softmax_weighted_sum(x, X.astype(np.float32), scale=0.7, var=0.9)
    out = softmax_weighted_sum(x, X, scale=0.7, var=0.9, dtype=np.float32)
    assert out.tobytes() == ref.tobytes()


@pytest.mark.parametrize("where", [0, 2999])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_centre_is_found_by_the_parallel_preparation(where, bad):
    """The prepared centres' sums of squares detect a non-finite centre in any block (the
    kernel no longer makes a separate pass over the centres, nor over values = centres)."""
    assert _numba.plan_chunks(100, 3000, 50, 50, 0, 0)[3]
    rng = np.random.default_rng(23)
    X, x = rng.normal(size=(3000, 50)), rng.normal(size=(100, 50))
    X[where, 7] = bad
    with pytest.raises(ValueError, match="centers must be finite"):
        softmax_weighted_sum(x, X)
    X[where, 7] = 0.0
    values = rng.normal(size=(3000, 2))
    values[where, 1] = bad
    with pytest.raises(ValueError, match="values must be finite"):
        softmax_weighted_sum(x, X, values=values)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize(
    ("dtype", "dropped", "kept"), [(np.float32, 30.0, 15.0), (np.float64, 45.0, 35.0)]
)
def test_weights_below_the_window_are_dropped_exactly(backend, dtype, dropped, kept):
    """A weight below e^-window of the row max (window = 3 - log eps: e^-18.9 in float32,
    e^-39 in float64) is set to 0 before P V, so that the terms p V of the product stay out of
    the subnormal range; one above it is kept. Query 0, centre 0 at logit 0 with value 0,
    centre 1 at logit -gap with value 1: out = e^-gap / (1 + e^-gap), or exactly 0; the logits
    carry the kernel's absolute error tau = 64 eps."""
    d = 8
    tau = 64 * np.finfo(dtype).eps
    centers = np.zeros((3, d))
    centers[1] = math.sqrt(dropped / d)  # w = 1: logit -dropped
    centers[2] = -math.sqrt(kept / d)
    x = np.zeros((1, d))
    for j, gap in ((1, dropped), (2, kept)):
        values = np.zeros((3, 1))
        values[j] = 1.0
        case = {"x": x, "centers": centers, "var": 0.5, "values": values, "dtype": dtype}
        out, lse = softmax_weighted_sum(**case, backend=backend, return_logsumexp=True)
        others = math.exp(-dropped) * (j != 1) + math.exp(-kept)
        if j == 1:
            assert out[0, 0] == 0.0
        else:
            np.testing.assert_allclose(out[0, 0], math.exp(-gap) / (1 + others), rtol=2 * tau)
        np.testing.assert_allclose(lse[0], math.log1p(math.exp(-kept)), rtol=0, atol=2 * tau)


@pytest.mark.parametrize("package", ["scipy", "numpy"])
def test_blas_thread_limit_is_restored_by_the_last_user(package):
    api = _blas._openblas_threads_api(package)
    before = api[0]() if api else None
    with _numba.single_threaded_blas(package):
        with _numba.single_threaded_blas(package):
            assert api is None or api[0]() == 1
        assert api is None or api[0]() == 1
    assert (api[0]() if api else None) == before


GOOD = {"x": np.zeros((2, 3)), "centers": np.ones((4, 3))}


@pytest.mark.parametrize("backend", BACKENDS[:2])
@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"x": np.zeros(3)}, "x must be a 2-D array of shape"),
        ({"centers": np.ones((4, 2))}, "centers has dimension 2 but x has dimension 3"),
        ({"centers": np.ones((0, 3))}, "centers N >= 1 rows"),
        ({"x": np.zeros((2, 0)), "centers": np.ones((4, 0))}, "d >= 1 columns"),
        ({"x": np.array([[0, 1j, 0]])}, "x must be a real floating-point array"),
        ({"centers": np.full((4, 3), "a")}, "centers must be a real"),
        ({"x": np.array([[0.0, np.nan, 0.0]])}, "x must be finite"),
        ({"centers": np.full((4, 3), np.inf)}, "centers must be finite"),
        ({"values": np.array([[1.0], [np.nan], [0.0], [0.0]])}, "values must be finite"),
        ({"log_weights": np.array([0.0, -np.inf, 0.0, 0.0])}, "log_weights must be finite"),
        ({"values": np.ones((3, 2))}, r"values must have shape \(4, k\)"),
        ({"log_weights": np.zeros(3)}, r"log_weights must have shape \(4,\)"),
        ({"var": 0.0}, "var must be > 0"),
        ({"var": -1.0}, "var must be > 0"),
        ({"var": np.array([1.0, 1.0, 0.0, 1.0])}, "var must be > 0"),
        ({"var": np.ones(3)}, r"var must be a scalar or have shape \(4,\)"),
        ({"var": float("nan")}, "var must be finite"),
        ({"var": 1e-300, "x": np.full((2, 3), 1e10)}, "var is too small"),
        ({"scale": float("inf")}, "scale must be finite"),
        ({"scale": np.ones(2)}, "scale must be a real scalar"),
        ({"dtype": np.int64}, "dtype must be float32 or float64"),
        ({"dtype": np.complex128}, "dtype must be float32 or float64"),
        ({"query_chunk": 0}, "query_chunk must be >= 1"),
        ({"center_chunk": 2.5}, "center_chunk must be an integer"),
        ({"return_logsumexp": "yes"}, "return_logsumexp must be True or False"),
    ],
)
def test_bad_input_raises_a_value_error_naming_the_argument(backend, changes, match):
    with pytest.raises(ValueError, match=match):
        softmax_weighted_sum(**{**GOOD, **changes}, backend=backend)


def test_unknown_backend_is_rejected():
    with pytest.raises(ValueError, match=r"backend must be one of \['numba', 'numpy', 'cupy'\]"):
        softmax_weighted_sum(**GOOD, backend="torch")


@pytest.mark.skipif(importlib.util.find_spec("cupy") is not None, reason="CuPy is installed")
def test_cupy_backend_without_cupy_says_how_to_install_it():
    with pytest.raises(ImportError, match=r"pip install \"diffmem-theory\[gpu\]\""):
        softmax_weighted_sum(**GOOD, backend="cupy")


# --- the kernels' public entry points validate before the Numba code (fuzz findings) --------


def test_gmm_loss_and_grad_validates_its_arrays():
    from diffmem_theory.kernels import gmm_loss_and_grad

    one, row = np.ones((1, 1)), np.ones(1)
    base = (one, 0 * one, 0.8 * row, 0.36 * row, row, one, 1.0)
    cases = [
        ((2.5, *base[1:]), {}, "xt"),  # a scalar: AttributeError before
        ((np.ones((1, 2)), *base[1:]), {}, "xt must have shape"),  # SystemError before
        ((np.ones((0, 1)), np.ones((0, 1)), *base[2:]), {}, "N, d >= 1"),  # ZeroDivisionError
        ((*base[:2], 0.8, *base[3:]), {}, "alpha"),  # numba TypingError before
        ((*base[:3], np.array([1j]), *base[4:]), {}, "sigma2"),
        (base, {"n_dup": float("inf")}, "n_dup"),  # OverflowError before
    ]
    for args, kwargs, match in cases:
        with pytest.raises((ValueError, TypeError), match=match):
            gmm_loss_and_grad(*args, **kwargs)
    # means in float32 set the precision: the other arrays follow (TypingError before)
    loss32, _, _ = gmm_loss_and_grad(*base[:5], one.astype(np.float32), 1.0)
    assert loss32 == pytest.approx(gmm_loss_and_grad(*base)[0], rel=1e-6)


def test_integrate_validates_its_arrays_and_to_host_takes_numbers():
    from diffmem_theory.kernels import EmpiricalField, integrate, to_host

    field = EmpiricalField(np.array([[1.0, 0.0], [-1.0, 0.0]]), time="s_ve")
    y0, save = np.array([[0.5, 2.1]]), np.array([3.0])
    for args, match in [
        ((y0, (0.0,), save, field), "tau_span"),  # IndexError before
        ((np.zeros(2), (0.0, 3.0), save, field), "y0"),  # numba TypingError before
        ((y0, (0.0, 3.0), np.array([[3.0]]), field), "save"),
        ((y0, (0.0, 3.0), np.array([4.0]), field), "save must hold times between"),
        ((y0.astype(complex), (0.0, 3.0), save, field), "y0"),
        ((y0, (0.0, 3.0), save, field._replace(data=np.ones((2, 3)))), "field.data"),
    ]:
        with pytest.raises(ValueError, match=match):
            integrate(*args)
    assert to_host(2.5).tolist() == 2.5  # AttributeError before


def test_to_host_reads_jax_and_strict_arrays():
    """``to_device(a, "cpu")`` fails for JAX and array-api-strict; DLPack reads them."""
    from diffmem_theory.kernels import to_host

    jnp = pytest.importorskip("jax.numpy")
    xps = pytest.importorskip("array_api_strict")
    want = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(to_host(jnp.asarray(want)), want)
    np.testing.assert_array_equal(to_host(xps.asarray(want)), want)
