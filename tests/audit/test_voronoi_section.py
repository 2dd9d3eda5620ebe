"""The audit's Voronoi section: the empirical-score flow from the model's own initial noise."""

import numpy as np
import pytest

from diffmem_theory.audit.base import AuditInputs
from diffmem_theory.audit.mixing import default_grid
from diffmem_theory.audit.voronoi import commit_times, section
from diffmem_theory.core.denoisers import as_denoiser
from diffmem_theory.core.distributions import EmpiricalDistribution, IsotropicGaussianMixture
from diffmem_theory.core.dynamics import solve
from diffmem_theory.core.metrics import fraction_se
from diffmem_theory.core.schedules import OU, VPTrig

SCHED = VPTrig()
MIX = IsotropicGaussianMixture(3.0 * np.eye(6)[:3], 1.0)  # 3 components in d = 6
GRID = SCHED.time_grid(25)


@pytest.fixture(scope="module")
def train():
    return MIX.sample(60, np.random.default_rng(1))[0]


def _inputs(law, train, B=64, paired=True):
    model = as_denoiser(law, SCHED)
    x_T = float(SCHED.sigma(GRID[0])) * np.random.default_rng(5).standard_normal((B, 6))
    samples = solve(model, SCHED, x_T, GRID, method="ddim").final
    return AuditInputs(
        train,
        None,
        model,
        "m",
        SCHED,
        samples,
        x_T if paired else None,
        GRID if paired else None,
        np.array([0.5]),
        1,
        0,
    )


def test_empirical_denoiser_audited_against_itself_agrees_on_every_sample(train):
    sec = section(_inputs(EmpiricalDistribution(train), train))
    assert sec.value("trajectories").value == 64
    assert sec.value("empirical trajectories ending on a training point").value == 1.0
    assert sec.value("model samples on a training point").value == 1.0
    agree = sec.value("same cell as the empirical trajectory from the same noise")
    assert (agree.value, agree.se) == (1.0, 1 / 64)
    assert sec.value("same cell, independent draws").value < 0.2
    assert "consistent with following the empirical score to the end" in sec.verdict
    # commit times lie on the grid, at or above the last time
    commits = np.asarray(sec.curves["commit_times"])
    assert np.all(np.isin(commits, GRID))
    assert sec.value("median commit time of the empirical score").value in GRID
    assert set(sec.figures) == {"commit_time"}


def test_true_mixture_denoiser_leaves_the_empirical_flow(train):
    B = 64
    sec = section(_inputs(MIX, train, B))
    # Thm 4.3: the empirical flow still collapses; the true denoiser's samples do not
    assert sec.value("empirical trajectories ending on a training point").value == 1.0
    on_model = sec.value("model samples on a training point").value
    assert on_model <= 3 * fraction_se(0.01, B)
    assert sec.value("same cell as the empirical trajectory from the same noise").value < 0.9
    assert "leaves the empirical score's flow" in sec.verdict


def test_samples_without_their_noise_draw_it_and_report_no_agreement(train):
    sec = section(_inputs(EmpiricalDistribution(train), train, paired=False), n_trajectories=16)
    names = [v.name for v in sec.values]
    assert not any(name.startswith("same cell") for name in names)
    assert "drawn from N(0" in sec.value("trajectories").note
    assert sec.value("trajectories").value == 16
    assert sec.value("empirical trajectories ending on a training point").value == 1.0


def test_commit_times_by_hand():
    times = np.array([1.0, 0.5, 0.2, 0.1])
    nearest = np.array([[3, 1, 2], [1, 1, 2], [1, 1, 0]])
    final = np.array([1, 1, 2])
    # 0: points elsewhere at 1.0 -> 0.5; 1: always 1 -> 1.0; 2: last prediction elsewhere -> 0.1
    assert commit_times(nearest, final, times).tolist() == [0.5, 1.0, 0.1]


def test_default_grid_for_an_infinite_horizon_starts_at_the_snr_of_paper_000s_grid():
    grid = default_grid(OU(), 10)
    assert grid.shape == (11,)
    assert float(OU().snr(grid[0] + 1e-3)) == pytest.approx(float(SCHED.snr(0.999)))
    assert np.array_equal(default_grid(SCHED), SCHED.time_grid(25))


def test_bad_options_name_themselves(train):
    inputs = _inputs(EmpiricalDistribution(train), train, B=4)
    for option, value in (("n_trajectories", 0), ("tau", 0.0), ("n_steps", 0)):
        with pytest.raises(ValueError, match=option):
            section(inputs, **{option: value})


def test_noise_of_another_shape_than_the_samples_is_refused(train):
    inputs = _inputs(EmpiricalDistribution(train), train, B=4)
    bad = AuditInputs(**{**inputs.__dict__, "x_T": inputs.x_T[:3]})
    with pytest.raises(ValueError, match="x_T"):
        section(bad)


@pytest.mark.parametrize(
    ("nearest", "final", "times", "name"),
    [
        ([[3, 1], [1, 1], [1, 1]], [np.nan, 1], [1.0, 0.5, 0.2, 0.1], "final"),
        ([["a", 1], [1, 1], [1, 1]], [1, 1], [1.0, 0.5, 0.2, 0.1], "nearest"),
        ([[3, 1], [1, 1], [1, 1]], [1, 1, 1], [1.0, 0.5, 0.2, 0.1], "nearest"),
        ([[3, 1], [1, 1], [1, 1]], [1, 1], [], "times"),
        ([[3, 1], [1, 1], [1, 1]], [1, 1], [[1.0, 0.5, 0.2, 0.1]], "times"),
        ([[3, 1], [1, 1], [1, 1]], [1, 1], 1.0, "times"),
    ],
)
def test_commit_times_refuses_inconsistent_arrays(nearest, final, times, name):
    with pytest.raises(ValueError, match=name):
        commit_times(np.array(nearest), np.array(final), np.array(times))
