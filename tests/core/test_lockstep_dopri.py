"""The lock-step Dormand-Prince integrator (``kernels._dopri_lockstep``) against the
per-trajectory one (``kernels._dopri``) and ``scipy.integrate.solve_ivp``."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from diffmem_theory.core.schedules import VE
from diffmem_theory.kernels import (
    EmpiricalField,
    _dopri,
    _dopri_lockstep,
    integrate,
    single_threaded_blas,
)

P0 = np.zeros(3)


def _data(N: int, d: int, seed: int = 0, offset: float = 0.0) -> np.ndarray:
    return offset + np.random.default_rng(seed).standard_normal((N, d))


def _run(module, y, X0, span, save, mode=_dopri.S_VE, kind=0, p=P0, c=0.0, score=0, log_ceb=0.0,
         tol=1e-8, max_steps=10_000, n_threads=2):  # fmt: skip
    y = np.array(y, dtype=np.float64)
    args = (np.ascontiguousarray(X0.T), span[0], span[1], np.asarray(save, dtype=np.float64))
    args += (mode, kind, np.asarray(p, dtype=np.float64), c, score, log_ceb, tol, tol, max_steps)
    with single_threaded_blas():
        out, stats = module.integrate_batch(y, *args, n_threads)
    return y, out, stats


def _compare(per, lock, atol: float) -> None:
    """Same statuses and step counts, states (final and saved) within ``atol``."""
    np.testing.assert_array_equal(lock[2], per[2])
    np.testing.assert_allclose(lock[0], per[0], rtol=0, atol=atol)
    np.testing.assert_allclose(lock[1], per[1], rtol=0, atol=atol)


VE_EXP = VE.exp().kernel_spec()
CASES = {
    "s_ve": dict(span=(0.0, 6.0), mode=_dopri.S_VE),
    "s_ve tikhonov": dict(span=(0.0, 6.0), mode=_dopri.S_VE, c=1e-3),
    "s_vp": dict(span=(0.1, 6.0), mode=_dopri.S_VP),
    "s_vp tikhonov eb": dict(span=(0.1, 6.0), mode=_dopri.S_VP, c=1e-2, score=1, log_ceb=-30.0),
    "t ve_exp": dict(span=(1.0, 1e-3), mode=_dopri.T_TIME, kind=1, p=VE_EXP.params),
    "t vp_trig eb_normalized": dict(
        span=(0.95, 1e-3), mode=_dopri.T_TIME, kind=_dopri.VP_TRIG, score=2, log_ceb=-5.0
    ),
    "t vp_trig tikhonov to 0": dict(span=(0.9, 0.0), mode=_dopri.T_TIME, kind=3, c=1e-2),
}


@pytest.mark.parametrize("name", list(CASES))
def test_lockstep_matches_the_per_trajectory_integrator(name: str) -> None:
    """Every mode, score and Tikhonov c: the same steps and states to rounding; the data
    spans three tiles of centres (2,100 points) and sits off the origin.

    The exception is the empirical-Bayes factor with Tikhonov in s-time: rho = min(1, S / c_eb)
    has a kink and v = e^{-2s} - c reaches 0 inside the span, where the step control is
    sensitive to the last bits of the field (the two integrators round it differently, both
    to ~1e-15 relative): there the step counts agree within 10% and the lock-step run is as
    close as the per-trajectory one to an accurate reference (global errors ~1e-5 at tol 1e-8).
    """
    X0 = _data(2100, 5, seed=1, offset=3.0)
    case = dict(CASES[name])
    span = case.pop("span")
    y0 = 3.0 + 2.0 * np.random.default_rng(2).standard_normal((11, 5))
    save = np.linspace(span[0], span[1], 4)
    per = _run(_dopri, y0, X0, span, save, **case)
    lock = _run(_dopri_lockstep, y0, X0, span, save, **case)
    assert np.all(per[2][:, 0] == _dopri.SUCCESS)
    if name == "s_vp tikhonov eb":
        np.testing.assert_array_equal(lock[2][:, 0], per[2][:, 0])
        np.testing.assert_allclose(lock[2][:, 3], per[2][:, 3], rtol=0.1)
        # different steps: each run carries its own global error; against a tol = 1e-12
        # reference the lock-step run must be as accurate as the per-trajectory one
        ref = _run(_dopri, y0, X0, span, save, tol=1e-12, **case)
        err = [max(np.abs(r[k] - ref[k]).max() for k in (0, 1)) for r in (per, lock)]
        assert err[1] <= 1.5 * err[0], err
    else:
        _compare(per, lock, atol=1e-9)
    near = lambda y: np.argmin(((y[:, None, :] - X0[None]) ** 2).sum(-1), axis=1)  # noqa: E731
    np.testing.assert_array_equal(near(lock[0]), near(per[0]))


def test_lockstep_matches_solve_ivp_per_trajectory() -> None:
    """Each trajectory alone through SciPy's RK45 (the same tableau and controller): the same
    number of evaluations (so of trial steps), saved states within the tolerances."""
    X0 = _data(300, 6, seed=3)
    XT = np.ascontiguousarray(X0.T)
    y0 = 2.0 * np.random.default_rng(4).standard_normal((5, 6))
    save = np.array([0.0, 0.5, 2.0])
    _, out, stats = _run(_dopri_lockstep, y0, X0, (0.0, 2.0), save, tol=1e-9)

    def rhs(s, x):
        f = np.empty(6)
        _dopri.velocity(s, x, XT, _dopri.S_VE, 0, P0, 0.0, 0, 0.0, f, np.empty(6), np.empty(300))
        return f

    for b in range(5):
        ref = solve_ivp(rhs, (0.0, 2.0), y0[b], method="RK45", rtol=1e-9, atol=1e-9, t_eval=save)
        np.testing.assert_allclose(out[b], ref.y.T, rtol=0, atol=1e-10)
        assert stats[b, 0] == _dopri.SUCCESS and stats[b, 3] == ref.nfev  # 2 + 6 per trial


def test_statuses_nonfinite_and_max_steps_leave_the_block_running() -> None:
    """A state beyond STATE_MAX_SQ (a NaN field) ends its own trajectory with NONFINITE, a small
    step budget ends all with MAX_STEPS; the other rows of the block are not disturbed and
    saved times a failed row never reached are NaN."""
    X0 = _data(200, 6, seed=5)
    y0 = np.random.default_rng(6).standard_normal((9, 6))
    y0[3, 0] = 2e150  # |x|^2 = 4e300 > STATE_MAX_SQ
    save = np.array([0.0, 3.0, 6.0])
    per = _run(_dopri, y0, X0, (0.0, 6.0), save)
    lock = _run(_dopri_lockstep, y0, X0, (0.0, 6.0), save)
    assert lock[2][3, 0] == _dopri.NONFINITE
    assert np.all(np.delete(lock[2][:, 0], 3) == _dopri.SUCCESS)
    assert np.isnan(lock[1][3, 1:]).all() and lock[1][3, 0, 0] == 2e150
    _compare(per, lock, atol=1e-9)
    clean = _run(_dopri_lockstep, np.delete(y0, 3, axis=0), X0, (0.0, 6.0), save)
    np.testing.assert_allclose(clean[0], np.delete(lock[0], 3, axis=0), rtol=0, atol=1e-12)
    short = _run(_dopri_lockstep, y0, X0, (0.0, 6.0), save, max_steps=3)
    assert np.all(np.delete(short[2][:, 0], 3) == _dopri.MAX_STEPS)
    np.testing.assert_array_equal(short[2], _run(_dopri, y0, X0, (0.0, 6.0), save, max_steps=3)[2])


def test_thick_blocks_with_dense_and_pruned_trajectories() -> None:
    """150 trajectories (blocks of 75, ``plan_blocks``) from spread to concentrated weights:
    dense trajectories keep no distances, the others are pruned; the same steps and states as
    the per-trajectory integrator, and the same bits for 1 and 2 slots."""
    assert _dopri_lockstep.plan_blocks(150, 2000) == 75
    X0 = _data(2000, 16, seed=15)
    y0 = 6.0 * np.random.default_rng(16).standard_normal((150, 16))
    save = [0.0, 1.0, 4.0]
    per = _run(_dopri, y0, X0, (0.0, 4.0), save, tol=1e-7)
    lock = _run(_dopri_lockstep, y0, X0, (0.0, 4.0), save, tol=1e-7)
    assert np.all(lock[2][:, 0] == _dopri.SUCCESS)
    _compare(per, lock, atol=1e-9)
    one = _run(_dopri_lockstep, y0, X0, (0.0, 4.0), save, tol=1e-7, n_threads=1)
    assert one[0].tobytes() == lock[0].tobytes() and one[1].tobytes() == lock[1].tobytes()


def test_bits_do_not_depend_on_the_slot_count() -> None:
    """Blocks are handed out one at a time: any number of slots gives the same bits."""
    X0 = _data(1500, 7, seed=7)
    y0 = 2.0 * np.random.default_rng(8).standard_normal((40, 7))  # 2 blocks of 20
    runs = [_run(_dopri_lockstep, y0, X0, (0.0, 5.0), [0.0, 2.0, 5.0], n_threads=n) for n in
            (1, 2, 3, 8)]  # fmt: skip
    for y, out, stats in runs:
        assert y.tobytes() == runs[0][0].tobytes() and out.tobytes() == runs[0][1].tobytes()
        np.testing.assert_array_equal(stats, runs[0][2])


def test_work_split_changes_states_only_at_rounding() -> None:
    """A trajectory integrated in another block (other neighbours in the BLAS products) takes
    the same steps and ends within 1e-12."""
    X0 = _data(1500, 7, seed=9)
    y0 = 2.0 * np.random.default_rng(10).standard_normal((24, 7))
    whole = _run(_dopri_lockstep, y0, X0, (0.0, 5.0), [5.0])
    parts = [_run(_dopri_lockstep, y0[i : i + 5], X0, (0.0, 5.0), [5.0]) for i in range(0, 24, 5)]
    np.testing.assert_array_equal(np.concatenate([p[2] for p in parts]), whole[2])
    np.testing.assert_allclose(np.concatenate([p[0] for p in parts]), whole[0], rtol=0, atol=1e-12)


_CHILD = """
import numpy as np, sys
from diffmem_theory.core.schedules import VE
from diffmem_theory.kernels import EmpiricalField, integrate
X0 = np.random.default_rng(11).standard_normal((2500, 40))
y0 = 4.0 * np.random.default_rng(12).standard_normal((20, 40))
spec = VE.exp().kernel_spec()
field = EmpiricalField(X0, kind=spec.kind, params=spec.params, time="t")
res = integrate(y0, (1.0, 1e-2), [0.5, 1e-2], field, rtol=1e-6, atol=1e-6)
sys.stdout.write(res.final.tobytes().hex() + res.saved.tobytes().hex() + str(res.nfev.tolist()))
"""


def test_integrate_bits_do_not_depend_on_numba_num_threads() -> None:
    """``integrate`` takes the lock-step integrator at d = 40 and gives the same bits with
    NUMBA_NUM_THREADS = 1 and 2 (fresh processes)."""
    assert _dopri_lockstep.use_lockstep(2500, 40)
    outs = []
    for n in (1, 2):
        env = {**os.environ, "NUMBA_NUM_THREADS": str(n)}
        run = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True,
                             text=True, check=True)  # fmt: skip
        outs.append(run.stdout)
    assert outs[0] == outs[1] and len(outs[0]) > 1000


def test_integrate_dispatch_agrees_with_the_per_trajectory_integrator() -> None:
    """From d = 16 up ``integrate`` runs the lock-step integrator: same steps and states
    (to rounding) as the per-trajectory one on the same t-time problem."""
    X0 = _data(2500, 40, seed=13)
    y0 = 4.0 * np.random.default_rng(14).standard_normal((6, 40))
    spec = VE.exp().kernel_spec()
    field = EmpiricalField(X0, kind=spec.kind, params=spec.params, time="t")
    res = integrate(y0, (1.0, 1e-2), [0.5, 1e-2], field, rtol=1e-6, atol=1e-6)
    per = _run(_dopri, y0, X0, (1.0, 1e-2), [0.5, 1e-2], mode=_dopri.T_TIME, kind=1,
               p=spec.params, tol=1e-6)  # fmt: skip
    np.testing.assert_array_equal(res.nfev, per[2][:, 3])
    np.testing.assert_allclose(res.final, per[0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(res.saved, per[1], rtol=0, atol=1e-9)
