r"""The audit's Voronoi section: the empirical score's flow from the model's own initial noise.

Baptista et al. (paper 002), Thm 4.3: the probability-flow ODE of the empirical score (the
exact minimiser of denoising score matching on the training points, Thm 3.2) sends every
initial point to a training point or onto the boundary of a Voronoi cell (4.3)-(4.4), and
``|x(t) - x*| <~ sigma_t`` as ``t -> 0`` (4.7). This section integrates that flow
(:class:`~diffmem_theory.core.distributions.EmpiricalDistribution` of the training points
through :func:`~diffmem_theory.core.dynamics.solve`, DDIM on the model's grid ``t_span``) from
the same initial noise ``x_T`` as the model's samples, and compares where the two end:

* the Voronoi cell of each end point (its nearest training point) and the fraction of
  trajectories that collapse onto a training point (within ``tau``,
  :func:`~diffmem_theory.voronoi.geometry.classify_limit`), beside the model's;
* the agreement: the fraction of the model's samples in the same cell as the empirical
  trajectory from the same ``x_T`` (against the agreement of independent draws,
  ``sum_k p_model(k) p_empirical(k)``). A model that memorizes by following the empirical
  score agrees on every sample;
* the commit time: along each empirical trajectory, the nearest training point ``k_l`` of the
  x0-prediction at every time ``t_l`` of the grid; the trajectory has committed at ``t_l`` when
  ``k_l = k_{l+1} = ... =`` its final cell, and its commit time is the largest such ``t_l``.
  Its median over trajectories is shown beside paper 001's ``t_M`` (Halder, eq. (2.9), carried
  to the model's schedule by log-SNR: :func:`diffmem_theory.audit.mixing.schedule_mixing_time`),
  the time below which the empirical density is dominated by each training point's own term.

Without ``inputs.x_T`` (samples read from a file) the initial noise is drawn from
``N(0, sigma_{t_0}^2 I)`` with the audit's seed; the agreement is then not defined (the model's
samples came from other noise) and is not reported. Without ``inputs.t_span`` the grid is the
schedule's default (:func:`diffmem_theory.audit.mixing.default_grid`).

Cost: ``L`` evaluations of the empirical denoiser on ``n_trajectories`` states (``L`` the steps
of the grid; one DDIM evaluation a step) and ``L`` nearest-neighbour searches of as many
x0-predictions: at ``N = 8,000``, ``d = 784``, ``256`` trajectories and ``L = 25``, 0.5 s a step
for each (2 busy cores), 30 s in all; both scale with ``n_trajectories N d``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from diffmem_theory._validation import as_float_array, check_int
from diffmem_theory.audit.base import AuditInputs, Section, Value, check_inputs
from diffmem_theory.audit.memorization import TAU_REL, _subsample, resolve_tau
from diffmem_theory.audit.mixing import data_sigma, default_grid, schedule_mixing_time
from diffmem_theory.core.distributions import EmpiricalDistribution
from diffmem_theory.core.dynamics import solve
from diffmem_theory.core.metrics import fraction_se, two_nearest
from diffmem_theory.plotting import PALETTE, figure, paper_style
from diffmem_theory.voronoi.geometry import classify_limit

__all__ = ["commit_times", "section"]

_THM = "Baptista et al. (paper 002), Thm 4.3"
_STREAM = 2  # this section's random stream: default_rng([seed, _STREAM])


def _labels(value: Any, name: str, ndim: int) -> np.ndarray:
    """``value`` as an integer array of ``ndim`` dimensions (training-point indices), or raise."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu" or arr.ndim != ndim:
        raise ValueError(
            f"{name} must be a {ndim}-D array of integer indices, "
            f"got {arr.ndim}-D dtype {arr.dtype}"
        )
    return arr


def commit_times(nearest: np.ndarray, final: np.ndarray, times: np.ndarray) -> np.ndarray:
    r"""The time after which each trajectory's nearest training point no longer changes.

    For trajectory ``b`` with nearest training points ``nearest[l, b]`` at ``times[l]``
    (decreasing) and final cell ``final[b]`` at ``times[-1]``: the largest ``times[l]`` with
    ``nearest[l', b] = final[b]`` for every ``l' >= l`` (``times[-1]`` when even the last
    prediction points elsewhere).

    Parameters
    ----------
    nearest : (L, B) ndarray of int
        The nearest training point of the x0-prediction at ``times[:L]``.
    final : (B,) ndarray of int
        The cell of each end point.
    times : (L + 1,) ndarray
        The grid, decreasing.

    Returns
    -------
    (B,) ndarray

    Examples
    --------
    >>> commit_times(np.array([[3, 1], [1, 1], [1, 1]]), np.array([1, 1]),
    ...              np.array([1.0, 0.5, 0.2, 0.1])).tolist()
    [0.5, 1.0]
    """
    nearest = _labels(nearest, "nearest", 2)
    final = _labels(final, "final", 1)
    if nearest.shape[1] != final.shape[0]:
        raise ValueError(
            f"nearest must have one column per entry of final ({final.shape[0]}), "
            f"got shape {nearest.shape}"
        )
    times = as_float_array(times, "times", ndim=1, dtype=np.float64)
    if times.shape[0] != nearest.shape[0] + 1:
        raise ValueError(
            f"times must have len(nearest) + 1 = {nearest.shape[0] + 1} entries, "
            f"got shape {times.shape}"
        )
    seq = np.concatenate([nearest, final[None, :]], axis=0)
    off = seq != final[None, :]
    L = seq.shape[0]
    # the last index that points elsewhere, -1 if none
    last_off = np.where(off.any(axis=0), L - 1 - np.argmax(off[::-1], axis=0), -1)
    return times[last_off + 1]


def section(
    inputs: AuditInputs,
    *,
    n_trajectories: int = 256,
    tau: float | None = None,
    tau_rel: float = TAU_REL,
    n_points: int = 1000,
    n_steps: int = 25,
) -> Section:
    r"""Paper 002's collapse of the empirical-score flow, from the model's own initial noise.

    Values (module docstring): the fraction of empirical trajectories ending on a training
    point (within ``tau``) and near a Voronoi boundary (Thm 4.3: together all of them, as
    ``t_end -> 0``); the fraction of the model's samples on a training point; the agreement
    (same cell from the same ``x_T``) and its value for independent draws; the median commit
    time of the empirical trajectories and paper 001's ``t_M`` in the model's schedule.

    Parameters
    ----------
    inputs : AuditInputs
        The training points, the schedule, the model's samples and (when known) the initial
        noise ``x_T`` and grid ``t_span`` they were integrated from.
    n_trajectories : int, default 256
        Trajectories integrated (the first rows of a seeded permutation of the samples), at
        most the number of samples; bounds the cost (module docstring).
    tau, tau_rel, n_points
        The collapse radius, as in :func:`diffmem_theory.audit.memorization.resolve_tau`
        (default: a tenth of the median nearest-neighbour distance of the training set).
    n_steps : int, default 25
        Steps of the default grid, used only without ``inputs.t_span``.

    Returns
    -------
    Section
        Key ``"voronoi"``; figure ``"commit_time"``: the fraction of empirical trajectories
        committed to their final training point over ``t`` beside ``t_M``, and the fractions
        of trajectories and samples that end on a training point.

    Examples
    --------
    >>> from diffmem_theory.core.denoisers import as_denoiser
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> sched, rng = VPTrig(), np.random.default_rng(0)
    >>> train = rng.standard_normal((20, 2))
    >>> model = as_denoiser(EmpiricalDistribution(train), sched)
    >>> x_T, grid = rng.standard_normal((16, 2)), sched.time_grid(50)
    >>> samples = solve(model, sched, x_T, grid, method="ddim").final
    >>> inputs = AuditInputs(train, None, model, "empirical", sched, samples, x_T, grid,
    ...                      np.array([0.5]), 1, 0)
    >>> sec = section(inputs)
    >>> sec.value("same cell as the empirical trajectory from the same noise").value
    1.0
    """
    check_inputs(inputs)
    n_trajectories = check_int(n_trajectories, "n_trajectories", low=1)
    n_steps = check_int(n_steps, "n_steps", low=1)
    train, schedule, samples = inputs.train, inputs.schedule, inputs.samples
    tau, how = resolve_tau(train, tau, tau_rel=tau_rel, n_points=n_points, seed=inputs.seed)
    rng = np.random.default_rng([inputs.seed, _STREAM])
    grid = default_grid(schedule, n_steps) if inputs.t_span is None else inputs.t_span
    paired = inputs.x_T is not None
    if paired:
        x_T = inputs.x_T
        if x_T.shape != samples.shape:
            raise ValueError(
                f"inputs.x_T must have the shape {samples.shape} of the samples it was "
                f"integrated into, got {x_T.shape}"
            )
        noise = f"the model's own initial noise x_T at t = {grid[0]:.4g}"
    else:
        sigma0 = float(schedule.sigma(grid[0]))
        x_T = sigma0 * rng.standard_normal(samples.shape)
        noise = (
            f"no x_T with the samples (read from a file): x_T drawn from N(0, {sigma0:.3g}^2 I) "
            f"with seed {inputs.seed}; the agreement with the model is not defined"
        )
    sub = _subsample(samples.shape[0], n_trajectories, rng)
    B = int(sub.size)

    law = EmpiricalDistribution(train)
    nearest: list[np.ndarray] = []

    def empirical(x: np.ndarray, t: float) -> np.ndarray:
        """The empirical denoiser, recording the nearest training point of its prediction."""
        x0 = law.denoiser(x, t, schedule)
        nearest.append(two_nearest(x0, train)[1][:, 0])
        return x0

    end = solve(empirical, schedule, x_T[sub], grid, method="ddim", prediction="x0").final
    emp = classify_limit(end, train, tau)
    mod = classify_limit(samples[sub], train, tau)
    committed_at = commit_times(np.array(nearest), emp.index, np.asarray(grid))
    m = schedule_mixing_time(data_sigma(train), inputs.d, inputs.n, schedule)

    on_emp = float(np.mean(emp.kind == "data"))
    boundary_emp = float(np.mean(emp.kind == "boundary"))
    on_mod = float(np.mean(mod.kind == "data"))
    median_commit = float(np.median(committed_at))
    q1, q3 = np.quantile(committed_at, [0.25, 0.75])
    values = [
        Value(
            "trajectories",
            B,
            None,
            f"{_THM}: the probability-flow ODE of the empirical score",
            noise,
        ),
        Value(
            "empirical trajectories ending on a training point",
            on_emp,
            fraction_se(on_emp, B),
            _THM,
            f"end point within tau = {tau:.3g} of a training point (Thm 4.3: |x(t) - x*| <~ "
            f"sigma_t, here sigma at the end = {float(schedule.sigma(grid[-1])):.3g})",
        ),
        Value(
            "empirical trajectories ending near a Voronoi boundary",
            boundary_emp,
            fraction_se(boundary_emp, B),
            _THM,
            "within tau of the bisector of the two nearest training points, not on one",
        ),
        Value(
            "model samples on a training point",
            on_mod,
            fraction_se(on_mod, B),
            "Baptista et al. (paper 002), Secs. 5.1-5.3 (fraction within tau)",
            f"the same {B} rows as the trajectories",
        ),
    ]
    if paired:
        agree = float(np.mean(mod.index == emp.index))
        n_train = inputs.n
        p_mod = np.bincount(mod.index, minlength=n_train) / B
        p_emp = np.bincount(emp.index, minlength=n_train) / B
        values += [
            Value(
                "same cell as the empirical trajectory from the same noise",
                agree,
                fraction_se(agree, B),
                f"{_THM} (the cell of the empirical flow's limit)",
                "1 for a model that follows the empirical score to the end",
            ),
            Value(
                "same cell, independent draws",
                float(p_mod @ p_emp),
                None,
                "sum_k p_model(k) p_empirical(k)",
                "the agreement expected if the model's cell did not depend on x_T",
            ),
        ]
    values += [
        Value(
            "median commit time of the empirical score",
            median_commit,
            None,
            f"{_THM}: the x0-prediction's nearest training point no longer changes",
            f"quartiles {q1:.3g} and {q3:.3g}; resolution: the grid of {len(grid) - 1} steps; "
            f"{100 * float(np.mean(committed_at == grid[0])):.0f}% committed at t_0",
        ),
        Value(
            "t_M (model time)",
            m.t,
            None,
            "Halder (paper 001), eq. (2.9), matched log-SNR",
            m.note,
        ),
    ]

    times = np.asarray(grid, dtype=np.float64)
    committed_frac = np.array([np.mean(committed_at >= t) for t in times])
    fig, axes = figure(ncols=2, aspect=0.7, pyplot=False)
    with paper_style():
        ax = axes[0]
        ax.step(times, committed_frac, where="post", color=PALETTE[0], label="committed")
        ax.axvline(median_commit, color=PALETTE[0], linestyle="--", linewidth=0.8, label="median")
        if m.t is not None:
            ax.axvline(
                m.t, color=PALETTE[1], linestyle=":", linewidth=1.0, label=r"$t_M$ (paper 001)"
            )
        ax.set_xscale("log")
        ax.set_xlabel(f"t ({schedule.name})")
        ax.set_ylabel("fraction of empirical trajectories")
        ax.legend()
        ax = axes[1]
        pos = np.arange(2)
        for shift, on, label in ((-0.2, on_emp, "empirical score"), (0.2, on_mod, inputs.label)):
            ax.bar(pos + shift, [on, 1.0 - on], 0.4, label=label)
        ax.set_xticks(pos, [r"on a training point (within $\tau$)", "elsewhere"])
        ax.set_ylabel("fraction of end points")
        ax.legend()

    return Section(
        key="voronoi",
        title="Paper 002: where the empirical score's flow ends, beside the model",
        theorem=f"{_THM} (collapse onto training points, rate (4.7)); Halder (paper 001), "
        "eq. (2.9) (t_M)",
        assumptions=[
            "Thm 4.3 holds for the exact ODE with distinct training points (Assumption 4.1) "
            "as t -> 0; here the DDIM discretization on the model's grid, ending at "
            f"t = {times[-1]:.3g}",
            noise,
            how,
            "commit times are resolved to the grid; t_M assumes isotropic Gaussian data "
            "(see the mixing section)",
        ],
        values=values,
        verdict=_verdict(on_emp, on_mod, values, paired, median_commit, m.t),
        figures={"commit_time": fig},
        curves={
            "t": times,
            "committed_fraction": committed_frac,
            "commit_times": committed_at,
        },
    )


def _verdict(
    on_emp: float,
    on_mod: float,
    values: list[Value],
    paired: bool,
    median_commit: float,
    t_m: float | None,
) -> str:
    text = (
        f"The empirical score sends {100 * on_emp:.0f}% of the trajectories onto a training "
        f"point (Thm 4.3); the model puts {100 * on_mod:.0f}% of its samples on one."
    )
    if paired:
        agree = next(v for v in values if v.name.startswith("same cell as"))
        chance = next(v for v in values if v.name == "same cell, independent draws").value
        follows = (
            "is consistent with following the empirical score to the end (agreement 1)"
            if agree.value + 2.0 * agree.se >= 1.0
            else "leaves the empirical score's flow before the end (agreement below 1 by more "
            "than two standard errors)"
        )
        text += (
            f" From the same noise, {100 * agree.value:.0f}% of the model's samples end in the "
            f"empirical trajectory's cell ({100 * chance:.1f}% for independent draws): the "
            f"model {follows}."
        )
    text += f" The empirical score commits at t = {median_commit:.3g} (median)"
    text += f", t_M = {t_m:.3g}." if t_m is not None else "."
    return text
