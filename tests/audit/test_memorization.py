"""The audit's memorization section: known answers (copies, fresh draws, hand-placed samples)."""

import numpy as np
import pytest

from diffmem_theory.audit.base import AuditInputs
from diffmem_theory.audit.memorization import nearest_neighbour_scale, resolve_tau, section
from diffmem_theory.core.denoisers import as_denoiser
from diffmem_theory.core.distributions import EmpiricalDistribution, IsotropicGaussianMixture
from diffmem_theory.core.dynamics import solve
from diffmem_theory.core.metrics import fraction_se, memorization_fraction, memorization_ratio
from diffmem_theory.core.schedules import VPTrig

SCHED = VPTrig()
MIX = IsotropicGaussianMixture(3.0 * np.eye(8)[:4], 1.0)  # 4 components in d = 8


def _inputs(law, train, held, n_samples, seed=0):
    """Samples of ``law``'s denoiser by DDIM from seeded noise, as the audit draws them."""
    model = as_denoiser(law, SCHED)
    grid = SCHED.time_grid(25)
    x_T = float(SCHED.sigma(grid[0])) * np.random.default_rng(seed).standard_normal(
        (n_samples, train.shape[1])
    )
    samples = solve(model, SCHED, x_T, grid, method="ddim").final
    return AuditInputs(train, held, model, "m", SCHED, samples, x_T, grid, np.array([0.5]), 1, 0)


@pytest.fixture(scope="module")
def data():
    X, _ = MIX.sample(400, np.random.default_rng(1))
    return X[:200], X[200:]


def test_empirical_denoiser_audited_against_itself_memorizes_every_sample(data):
    train, held = data
    sec = section(_inputs(EmpiricalDistribution(train), train, held, 100))
    assert sec.value("fraction memorized (1/3 rule)").value == 1.0
    assert sec.value("fraction memorized (1/3 rule)").se == 0.01  # the 1/B floor
    assert sec.value("fraction within tau").value == 1.0
    assert sec.value("median nearest / second-nearest distance ratio").value < 0.01
    assert sec.value("median distance to the training set, samples / held-out").value < 0.01
    assert "memorizes" in sec.verdict
    assert set(sec.figures) == {"distances"}


def test_true_mixture_denoiser_on_its_own_samples_memorizes_nothing(data):
    train, held = data
    B = 200
    sec = section(_inputs(MIX, train, held, B))
    frac = sec.value("fraction memorized (1/3 rule)")
    # a fresh draw of an 8-dimensional Gaussian mixture is nowhere near 1/3 of the way to a
    # training point: the fraction is 0 up to a few binomial errors of a small p
    assert frac.value <= 3 * fraction_se(0.01, B)
    assert sec.value("fraction within tau").value <= 3 * fraction_se(0.01, B)
    # exchangeability: samples as far from the training set as held-out points; the ratio of
    # two medians of 200 draws each has a relative SE of about 0.07
    assert abs(sec.value("median distance to the training set, samples / held-out").value - 1) < 0.2
    assert "does not memorize" in sec.verdict


def test_hand_placed_samples_give_the_exact_fractions_and_ratios():
    train = np.array([[0.0], [3.0], [10.0]])  # nearest-other distances 3, 3, 7: r_NN = 3
    samples = np.array([[0.5], [1.2], [9.0], [6.0]])
    # d1/d2: 0.5/2.5, 1.2/1.8, 1/6, 3/4 -> memorized (<= 1/3): yes, no, yes, no
    model = as_denoiser(EmpiricalDistribution(train), SCHED)
    inputs = AuditInputs(train, None, model, "m", SCHED, samples, None, None, np.ones(1), 1, 0)
    sec = section(inputs, tau=0.6)
    assert sec.value("fraction memorized (1/3 rule)").value == 0.5
    assert sec.value("fraction memorized (1/3 rule)").se == pytest.approx(0.25)
    assert sec.value("fraction within tau").value == 0.25
    assert sec.value("median nearest / second-nearest distance ratio").value == pytest.approx(
        (0.2 + 1.2 / 1.8) / 2
    )
    assert sec.value("median distance to the nearest training point, samples").value == 1.1
    assert sec.value("tau").value == 0.6
    # the default tau is a tenth of r_NN = 3
    assert section(inputs).value("tau").value == pytest.approx(0.3)
    # no held-out set: said in the assumptions, no held-out values
    assert any("no held-out set" in a for a in sec.assumptions)
    names = [v.name for v in sec.values]
    assert not any("held-out" in name for name in names)


def test_nearest_neighbour_scale_counts_a_repeated_point_as_distance_zero():
    X = np.array([[0.0], [0.0], [5.0], [9.0]])  # nearest others 0, 0, 4, 4
    assert nearest_neighbour_scale(X) == (2.0, 4)
    with pytest.raises(ValueError, match="tau"):
        resolve_tau(np.array([[0.0], [0.0], [0.0], [1.0]]))
    # a subsample of n_points, seeded
    big = np.random.default_rng(0).standard_normal((50, 2))
    assert nearest_neighbour_scale(big, n_points=10, seed=3)[1] == 10
    assert nearest_neighbour_scale(big, n_points=10, seed=3) == nearest_neighbour_scale(
        big, n_points=10, seed=3
    )


@pytest.mark.parametrize(
    ("option", "value"),
    [("c", 1.0), ("c", 0.0), ("tau", -1.0), ("tau_rel", 0.0), ("n_points", 0), ("bins", 0)],
)
def test_bad_options_name_themselves(option, value):
    train = np.array([[0.0], [3.0], [10.0]])
    model = as_denoiser(EmpiricalDistribution(train), SCHED)
    inputs = AuditInputs(train, None, model, "m", SCHED, train, None, None, np.ones(1), 1, 0)
    with pytest.raises(ValueError, match=option):
        section(inputs, **{option: value})


def test_fractions_follow_the_rules_of_the_core_metrics(data):
    # one nearest-neighbour search serves both criteria: the same numbers as core.metrics
    train, held = data
    rng = np.random.default_rng(3)
    samples = np.concatenate([train[:30] + 0.05 * rng.standard_normal((30, 8)), held[:30]])
    model = as_denoiser(MIX, SCHED)
    inputs = AuditInputs(train, held, model, "m", SCHED, samples, None, None, np.ones(1), 1, 0)
    for c, tau in ((1 / 9, 0.3), (0.5, 1.0)):
        sec = section(inputs, c=c, tau=tau)
        assert sec.value("fraction memorized (1/3 rule)").value == memorization_ratio(
            samples, train, c
        )
        assert sec.value("fraction within tau").value == memorization_fraction(samples, train, tau)


def test_one_training_point_is_refused_even_with_an_absolute_tau():
    train = np.zeros((1, 2))
    model = as_denoiser(EmpiricalDistribution(train), SCHED)
    inputs = AuditInputs(train, None, model, "m", SCHED, train, None, None, np.ones(1), 1, 0)
    with pytest.raises(ValueError, match="train"):
        section(inputs, tau=0.1)


@pytest.mark.parametrize("train", [None, 0.0, np.float64(0.0), "a", np.zeros(4), np.zeros((0, 2))])
def test_training_points_that_are_not_a_point_set_are_refused(train):
    with pytest.raises(ValueError, match="train"):
        nearest_neighbour_scale(train)
    with pytest.raises(ValueError, match="train"):
        resolve_tau(train)


def test_training_points_whose_distances_overflow_are_refused():
    with pytest.raises(ValueError, match="train"):
        resolve_tau(np.array([[0.0], [1e300], [-1e300]]))
