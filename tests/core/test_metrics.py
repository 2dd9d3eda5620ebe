"""Tests for diffmem_theory.core.metrics (paper 000: Def. 2.2, Sec. 4 phase transition, H.1, Fig.
6).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diffmem_theory.core.distributions import sphere_means
from diffmem_theory.core.metrics import (
    PhaseTransition,
    gaussian_frechet_distance,
    is_memorized,
    memorization_ratio,
    near_counts,
    nearest_distances,
    nearest_other_sq,
    phase_transition,
    refinement_grid,
    two_nearest,
)

SEEDS = st.integers(0, 2**31 - 1)


# ---------------------------------------------------------------------------------------------
# brute-force twins
# ---------------------------------------------------------------------------------------------


def brute_sq(samples, X):
    """All squared distances by the definition, (B, N)."""
    diff = samples[:, None, :] - X[None, :, :]
    return (diff * diff).sum(-1)


def twin_is_memorized(samples, X, c, strict=False):
    """Def. 2.2 literally: sort all distances, compare the first with c times the second."""
    sq = np.sort(brute_sq(samples, X), axis=1)
    return sq[:, 0] < c * sq[:, 1] if strict else sq[:, 0] <= c * sq[:, 1]


def random_problem(seed, B, N, d, dup=False, offset=0.0):
    """Training points, and samples mixing copies of noisy training points and fresh points."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, d))
    if dup and N >= 2:
        X[1] = X[0]
    pick = rng.integers(0, N, B)
    scale = rng.choice([0.0, 0.01, 0.1, 0.3, 1.0], size=(B, 1))
    samples = X[pick] + scale * rng.standard_normal((B, d))
    return samples + offset, X + offset


@settings(max_examples=60, deadline=None)
@given(
    seed=SEEDS,
    B=st.integers(1, 40),
    N=st.integers(2, 30),
    d=st.integers(1, 8),
    c=st.floats(0.01, 0.99),
    dup=st.booleans(),
    chunk=st.sampled_from([None, 1, 7]),
)
def test_is_memorized_matches_brute_force(seed, B, N, d, c, dup, chunk):
    samples, X = random_problem(seed, B, N, d, dup)
    for strict in (False, True):
        got = is_memorized(samples, X, c, strict=strict, chunk_size=chunk)
        np.testing.assert_array_equal(got, twin_is_memorized(samples, X, c, strict))
    sq, idx = two_nearest(samples, X, chunk_size=chunk)
    full = brute_sq(samples, X)
    np.testing.assert_array_equal(sq, np.sort(full, axis=1)[:, :2])
    np.testing.assert_array_equal(np.take_along_axis(full, idx, axis=1), sq)
    assert np.all(idx[:, 0] != idx[:, 1])


@settings(max_examples=25, deadline=None)
@given(seed=SEEDS, N=st.integers(5, 60), d=st.integers(2, 20))
def test_two_nearest_survives_cancellation_of_the_expansion(seed, N, d):
    """Points far from the origin (|x|^2 ~ 1e16 vs distances ~ 1e-2): the BLAS expansion is pure
    rounding noise, so only the certification + brute-force fallback keeps the answer exact."""
    samples, X = random_problem(seed, 30, N, d, offset=1e8)
    sq, _ = two_nearest(samples, X)
    np.testing.assert_array_equal(sq, np.sort(brute_sq(samples, X), axis=1)[:, :2])
    np.testing.assert_array_equal(is_memorized(samples, X), twin_is_memorized(samples, X, 1 / 9))


def test_exact_ties_and_the_boundary_of_def_2_2():
    # a sample at the center of 2d equidistant points: d1 = d2, never memorized
    d = 6
    X = np.vstack([np.eye(d), -np.eye(d)])
    assert not is_memorized(np.zeros(d), X)
    sq, idx = two_nearest(np.zeros(d), X)
    assert sq.tolist() == [1.0, 1.0] and idx[0] != idx[1]
    # d1^2 = c d2^2 exactly: Def. 2.2 (<=) says memorized, the authors' strict rule does not
    X1 = np.array([[0.0], [3.0]])
    assert is_memorized(np.array([0.75]), X1) is True
    assert is_memorized(np.array([0.75]), X1, strict=True) is False
    # a sample equal to a duplicated training point: 0 <= 0 but not 0 < 0
    X2 = np.array([[1.0, 2.0], [1.0, 2.0], [5.0, 5.0]])
    assert is_memorized(np.array([1.0, 2.0]), X2)
    assert not is_memorized(np.array([1.0, 2.0]), X2, strict=True)
    # the strict rule on squared distances with c = 1/9 is the code's distance rule with 1/3
    samples, X = random_problem(5, 500, 20, 3)
    dist = np.sqrt(np.sort(brute_sq(samples, X), axis=1))
    np.testing.assert_array_equal(
        is_memorized(samples, X, strict=True), dist[:, 0] < (1 / 3) * dist[:, 1]
    )


def test_memorization_ratio_counts_the_fraction():
    X = np.array([[0.0], [3.0]])
    samples = np.array([[0.0], [0.1], [2.95], [1.5], [1.0], [2.0], [1.2], [3.0]])
    assert memorization_ratio(samples, X) == 0.5
    samples, X = random_problem(1, 200, 30, 5)
    assert memorization_ratio(samples, X) == pytest.approx(
        twin_is_memorized(samples, X, 1 / 9).mean()
    )
    assert 0.0 < memorization_ratio(samples, X) < 1.0  # the problem mixes both kinds


def test_metric_bad_input():
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match="X must hold at least 2"):
        is_memorized(np.zeros((4, 2)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="X must hold at least 2"):
        memorization_ratio(np.zeros((4, 2)), np.zeros((1, 2)))
    for c in (0.0, 1.0, -0.5, 2.0, np.nan):
        with pytest.raises(ValueError, match="c must"):
            is_memorized(np.zeros((4, 2)), X, c)
    with pytest.raises(ValueError, match="last dimension"):
        is_memorized(np.zeros((4, 3)), X)
    with pytest.raises(ValueError, match="samples"):
        is_memorized(np.zeros((4, 2, 1)), X)
    with pytest.raises(ValueError, match="samples"):
        is_memorized(np.array([[np.nan, 0.0]]), X)
    with pytest.raises(ValueError, match="X must have"):
        is_memorized(np.zeros((4, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="samples must hold at least one"):
        memorization_ratio(np.zeros((0, 2)), X)
    with pytest.raises(ValueError, match="chunk_size"):
        is_memorized(np.zeros((4, 2)), X, chunk_size=0)
    # one training point: the nearest exists, the second does not
    sq, idx = two_nearest(np.ones((2, 2)), np.zeros((1, 2)))
    assert sq.shape == idx.shape == (2, 1)


# ---------------------------------------------------------------------------------------------
# phase transition
# ---------------------------------------------------------------------------------------------


def twin_first(Ms, ratios, level):
    for M, r in zip(Ms, ratios, strict=True):
        if r >= level:
            return M
    return None


def twin_code(Ms, ratios, lo, hi):
    """The authors' loop (run_phase_transition_experiment.py), transcribed."""
    start = end = None
    for i in range(len(Ms) - 1):
        if start is None and ratios[i] < lo <= ratios[i + 1]:
            start = Ms[i]
        if end is None and ratios[i] < hi <= ratios[i + 1]:
            end = Ms[i + 1]
    return (Ms[0] if start is None else start), (Ms[-1] if end is None else end)


def test_phase_transition_on_a_step_curve():
    Ms = list(range(20, 201, 20))
    ratios = [0.0] * 6 + [1.0] * 4  # a sharp step at M = 140
    assert phase_transition(Ms, ratios) == PhaseTransition(140, 140, 140)
    assert phase_transition(Ms, ratios, convention="code") == PhaseTransition(120, 140, 140)
    # never memorizing / always memorizing
    assert phase_transition(Ms, [0.0] * 10) == PhaseTransition(None, None, None)
    assert phase_transition(Ms, [0.0] * 10, convention="code") == PhaseTransition(20, None, 200)
    assert phase_transition(Ms, [1.0] * 10) == PhaseTransition(20, 20, 20)
    # the code's fallback end is the last M when the curve starts above 0.9 (no crossing)
    assert phase_transition(Ms, [1.0] * 10, convention="code") == PhaseTransition(20, 20, 200)
    # non-monotone: the first M reaching the level counts
    wobbly = [0, 0.12, 0.05, 0.3, 0.55, 0.4, 0.95, 0.85, 1, 1]
    assert phase_transition(Ms, wobbly) == PhaseTransition(40, 100, 140)
    # float model sizes come back as floats, integer ones as int
    pt = phase_transition(np.array([0.1, 0.2, 0.3]), [0.0, 0.6, 1.0])
    assert pt == PhaseTransition(0.2, 0.2, 0.3) and isinstance(pt.M_pt, float)
    assert isinstance(phase_transition(np.arange(1, 4), [0.0, 0.6, 1.0]).M_pt, int)


@settings(max_examples=80, deadline=None)
@given(
    seed=SEEDS,
    n=st.integers(1, 25),
    lo=st.floats(0.01, 0.4),
    monotone=st.booleans(),
)
def test_phase_transition_matches_twins(seed, n, lo, monotone):
    rng = np.random.default_rng(seed)
    Ms = np.sort(rng.choice(np.arange(1, 500), size=n, replace=False))
    ratios = rng.integers(0, 51, n) / 50  # multiples of 1/50 (N_eval = 50): exact ties occur
    if monotone:
        ratios = np.sort(ratios)
    mid, hi = lo + 0.2, lo + 0.5
    Ml, rl = Ms.tolist(), ratios.tolist()
    pt = phase_transition(Ms, ratios, lo, mid, hi)
    assert pt == PhaseTransition(
        twin_first(Ml, rl, lo), twin_first(Ml, rl, mid), twin_first(Ml, rl, hi)
    )
    code = phase_transition(Ms, ratios, lo, mid, hi, convention="code")
    assert (code.M_start, code.M_end) == twin_code(Ml, rl, lo, hi)
    assert code.M_pt == pt.M_pt
    if monotone and pt.M_start is not None and pt.M_start != Ml[0]:
        # on monotone curves the code's start is the grid point just before the paper's
        assert code.M_start == Ml[Ml.index(pt.M_start) - 1]


def test_phase_transition_bad_input():
    Ms = [10, 20, 30]
    cases = [
        (([30, 20, 10], [0, 0.5, 1]), {}, "Ms must be strictly increasing"),
        (([10, 10, 30], [0, 0.5, 1]), {}, "Ms must be strictly increasing"),
        ((Ms, [0, 0.5]), {}, "ratios must have the shape"),
        ((Ms, [0, 0.5, 1.5]), {}, r"ratios must lie in \[0, 1\]"),
        ((Ms, [0, np.nan, 1]), {}, "ratios must be finite"),
        (([], []), {}, "Ms must hold"),
        ((Ms, [0, 0.5, 1]), {"start": 0.0}, "start"),
        ((Ms, [0, 0.5, 1]), {"start": 0.6}, "mid"),
        ((Ms, [0, 0.5, 1]), {"end": 0.4}, "end"),
        ((Ms, [0, 0.5, 1]), {"convention": "authors"}, "convention"),
    ]
    for args, kwargs, word in cases:
        with pytest.raises(ValueError, match=word):
            phase_transition(*args, **kwargs)


@given(start=st.integers(0, 400), gap=st.integers(0, 400), n=st.integers(1, 20))
def test_refinement_grid_is_the_authors_range(start, gap, n):
    end = start + gap
    grid = refinement_grid(start, end, n)
    assert grid.tolist() == list(range(start, end + 1, max((end - start) // n, 1)))
    assert grid[0] == start and grid[-1] <= end
    if gap >= n:
        assert n + 1 <= len(grid) <= 2 * n
    else:
        assert len(grid) == gap + 1


def test_refinement_grid_examples_and_errors():
    # Fig. 2 setting: the code's start 60 and end 140 give 11 sizes, both ends included
    assert refinement_grid(60, 140).tolist() == list(range(60, 141, 8))
    assert refinement_grid(60, 75).tolist() == list(range(60, 76))  # gap < 20: every integer
    assert refinement_grid(0, 25).tolist()[-1] == 24  # the end is not always included
    with pytest.raises(ValueError, match="M_end"):
        refinement_grid(50, 40)
    with pytest.raises(ValueError, match="M_start"):
        refinement_grid(10.5, 40)
    with pytest.raises(ValueError, match="n_models"):
        refinement_grid(10, 40, 0)


# ---------------------------------------------------------------------------------------------
# learned-parameter diagnostics (Fig. 6)
# ---------------------------------------------------------------------------------------------


def twin_near_counts(means, X, truth, r):
    """The authors' LearnedMeans.compute_metrics counts, transcribed to NumPy."""
    dm = np.sort(np.sqrt(brute_sq(means, truth)), axis=1)
    ds = np.sort(np.sqrt(brute_sq(means, X)), axis=1)
    near_true = dm[:, 0] < r * ds[:, 0]
    near_sample = ds[:, 0] < r * dm[:, 0]
    if truth.shape[0] > 1:
        near_true &= dm[:, 0] < r * dm[:, 1]
    if X.shape[0] > 1:
        near_sample &= ds[:, 0] < r * ds[:, 1]
    return near_true, near_sample


@settings(max_examples=40, deadline=None)
@given(seed=SEEDS, M=st.integers(1, 30), N=st.integers(1, 40), K=st.integers(1, 6))
def test_near_counts_and_nearest_distances_match_twins(seed, M, N, K):
    rng = np.random.default_rng(seed)
    d = 5
    truth = 4.0 * rng.standard_normal((K, d))
    X = truth[rng.integers(0, K, N)] + rng.standard_normal((N, d))
    # learned means: some on samples, some on true means, some in between
    pool = np.vstack([X, truth])
    means = pool[rng.integers(0, len(pool), M)] + rng.choice([0.0, 0.05, 1.0], (M, 1)) * (
        rng.standard_normal((M, d))
    )
    res = near_counts(means, X, truth)
    near_true, near_sample = twin_near_counts(means, X, truth, 1 / 3)
    np.testing.assert_array_equal(res.near_true_mean, near_true)
    np.testing.assert_array_equal(res.near_sample, near_sample)
    assert res.n_near_true_mean == near_true.sum() and res.n_near_sample == near_sample.sum()
    assert not np.any(res.near_true_mean & res.near_sample)

    nd = nearest_distances(means, X)
    dist = np.sort(np.sqrt(brute_sq(means, X)), axis=1)
    np.testing.assert_allclose(nd.nearest, dist[:, 0], rtol=1e-12)
    if N > 1:
        np.testing.assert_allclose(nd.second, dist[:, 1], rtol=1e-12)
    else:
        assert np.isnan(nd.second).all()
    np.testing.assert_allclose(np.linalg.norm(means - X[nd.index], axis=1), nd.nearest)
    assert nd.mean == pytest.approx(dist[:, 0].mean())
    levels = [10.0, 25.0, 50.0, 75.0, 90.0]
    assert list(nd.percentiles) == levels
    np.testing.assert_allclose(list(nd.percentiles.values()), np.percentile(dist[:, 0], levels))


def test_fig6_trend_of_pmem_like_means():
    """Means placed on training samples (the pmem initialization) are near samples, at distance
    0; the ground-truth means themselves are near true means."""
    rng = np.random.default_rng(0)
    truth = sphere_means(4, 50, rng)
    X = truth[rng.integers(0, 4, 200)] + rng.standard_normal((200, 50))
    on_samples = X[:30]
    res = near_counts(on_samples, X, truth)
    assert res.n_near_sample == 30 and res.n_near_true_mean == 0
    assert nearest_distances(on_samples, X).mean == 0.0
    res = near_counts(truth, X, truth)
    assert res.n_near_true_mean == 4 and res.n_near_sample == 0


def test_diagnostics_bad_input():
    with pytest.raises(ValueError, match="points"):
        nearest_distances(np.zeros((3, 2)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="means"):
        nearest_distances(np.zeros((0, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="percentiles"):
        nearest_distances(np.zeros((3, 2)), np.zeros((3, 2)), percentiles=[50, 101])
    with pytest.raises(ValueError, match="true_means"):
        near_counts(np.zeros((3, 2)), np.zeros((3, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="ratio"):
        near_counts(np.zeros((3, 2)), np.zeros((3, 2)), np.zeros((2, 2)), ratio=1.0)


def test_fuzz_findings_metrics():
    X = np.array([[0.0], [3.0]])
    with pytest.raises(ValueError, match="rescale"):  # overflow RuntimeWarning, inf
        two_nearest(np.array([[1e300, 1e300]]), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="rescale"):
        is_memorized(np.array([[0.0]]), np.array([[1e300], [0.0]]))
    with pytest.raises(ValueError, match="strict"):
        is_memorized(np.array([[0.0]]), X, strict=float("nan"))
    with pytest.raises(ValueError, match="float64"):  # inf
        gaussian_frechet_distance([1e300], [[1.0]], [-1e300], [[1.0]])
    with pytest.raises(ValueError, match="cov2 must be symmetric positive semi-definite"):
        gaussian_frechet_distance([0.0], [[1.0]], [0.0], [[-1.0]])


def test_phase_sweep_configs_are_validated():
    from diffmem_theory.crossover.figures.phase import (
        LAB,
        QUICK,
        phase_configs,
        train_and_evaluate,
    )

    with pytest.raises(ValueError, match="seed"):  # OverflowError
        phase_configs([20], float("inf"), QUICK, LAB)
    with pytest.raises(ValueError, match=r"Ms\[i\]"):
        phase_configs([float("inf")], 0, QUICK, LAB)
    with pytest.raises(TypeError, match="config must be a dict"):  # IndexError
        train_and_evaluate(np.empty(0))
    with pytest.raises(ValueError, match=r"missing \['K'\]"):  # KeyError
        train_and_evaluate({"N": 20, "d": 5, "M": 4, "seed": 0})


def test_refinement_grid_size_is_bounded():
    with pytest.raises(ValueError, match="GiB"):
        refinement_grid(0, 2**62, 2**61)


def test_nearest_other_sq_validates_its_input():
    """A public function: bad input raises ValueError naming the argument (was IndexError or a
    silent result for one point, a list, or NaN)."""
    np.testing.assert_array_equal(nearest_other_sq([[0.0], [2.0], [2.0]]), [4.0, 0.0, 0.0])
    for bad in (np.zeros((1, 2)), np.zeros(3), [[np.nan, 0.0], [1.0, 1.0]]):
        with pytest.raises(ValueError, match="data"):
            nearest_other_sq(bad)


def test_fraction_se_floor_and_shape():
    from diffmem_theory.core.metrics import fraction_se

    np.testing.assert_allclose(fraction_se([0.0, 1.0, 0.5], 50), [0.02, 0.02, 0.5 / 50**0.5])
    assert isinstance(fraction_se(0.5, 4), float)
    for bad in ([0.1, 1.5], [np.nan], -0.1):
        with pytest.raises(ValueError, match="p must"):
            fraction_se(bad, 10)
    with pytest.raises(ValueError, match="n"):
        fraction_se(0.5, 0)


def test_rising_trend_can_fail():
    from diffmem_theory.core.metrics import rising_trend

    rising = [0.0, 0.1, 0.5, 0.8]
    assert rising_trend(rising, 200).passed
    assert not rising_trend(rising[::-1], 200).passed  # reversed
    assert not rising_trend([0.3, 0.3, 0.3, 0.3], 200).passed  # flat
    assert not rising_trend([0.0, 0.02], 200).passed  # within Monte Carlo error
    fall = rising_trend([0.0, 0.9, 0.2, 1.0], 200)  # one step falls
    assert not fall.passed and fall.worst_step == 1 and fall.worst_fall > 3
    with pytest.raises(ValueError, match="at least 2"):
        rising_trend([0.5], 10)
    with pytest.raises(ValueError, match="p must"):
        rising_trend([0.1, 1.5], 10)
    with pytest.raises(ValueError, match="z"):
        rising_trend([0.1, 0.5], 10, z=0.0)
