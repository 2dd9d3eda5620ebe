"""Benchmark of the batched Dormand-Prince integrator for the empirical-score reverse ODE.

    python benchmarks/bench_voronoi_dynamics.py [--quick] [--crossover] [--cases 20,1000,10000]

Baptista et al. (paper 002), Fig. 1-2 setting: B trajectories of the VE probability-flow ODE
(4.19) with g = 10^{2t} (the authors' code), from t = 1 to 1e-3, rtol = atol = 1e-5, started at
x_T ~ N(0, sigma(1)^2 I). The baselines are what the authors' code does:
``scipy.integrate.solve_ivp(method="RK45")`` on the flattened (B d,) batch with a NumPy score
(log-weights over the B x N x d differences, log-sum-exp: "authors' style"), one shared step
size for the whole batch; and the same with the logits from one BLAS matmul ("SciPy + BLAS").
Measured in the same run (best of ``repeats``):

* ``reverse_ode(time="s")``: Numba DP5(4), per-trajectory step control, in s-time (4.24);
* ``reverse_ode(time="t")``: the same integrator in t-time (4.19), the baselines' equation;
* ``solve(method="dopri5")`` on a callable x0-model (the memorizing denoiser): the array-API
  Dormand-Prince on the whole batch as one system, SciPy's steps exactly (the cost of the
  generic path of :func:`diffmem_theory.core.dynamics.solve` for a user's model; skipped for
  the largest case);

one line per method with its speed-up over each baseline (``/authors`` and ``/BLAS``), its
evaluations of the field (SciPy: evaluations of the whole batch, one shared step size; the
compiled integrator: mean per trajectory, each with its own steps), the fraction of limit
points (nearest training point of the final state) that agree with an accurate reference (the
same ODE at rtol = atol = 1e-11), and the largest error of the final states against that
reference (the flattened SciPy runs control the error norm of the whole batch, not of each
trajectory). The load average is printed before and after the cases. Cases (N, d, B):
(20, 2, 1000) (the paper's seed-1 data), (1000, 10, 1000), (10^4, 50, 200) and
(10^4, 50, 1000) (``--quick``: B = 50 for the last two; ``--cases`` picks cases by N); the
broadcast baseline is skipped where it would need more than 10^7 doubles per call.

``--crossover`` instead times the two compiled integrators of ``kernels.integrate`` on the same
t-time problems (the per-trajectory one, ``_dopri``, and the lock-step one,
``_dopri_lockstep``) over a grid of (N, d), which is where the rule
``_dopri_lockstep.use_lockstep`` comes from.
"""

from __future__ import annotations

import argparse
import os
import time

import numba
import numpy as np
from scipy.integrate import solve_ivp
from scipy.special import logsumexp

from diffmem_theory.core.denoisers import memorizing_denoiser
from diffmem_theory.core.dynamics import solve
from diffmem_theory.core.schedules import VE
from diffmem_theory.kernels import _dopri, _dopri_lockstep, single_threaded_blas
from diffmem_theory.voronoi.dynamics import reverse_ode

SCHED = VE.exp()
T_END, TOL = 1e-3, 1e-5
PAUSE = 0.2  # seconds between measurements: OpenBLAS threads keep spinning after a matmul


def velocity_broadcast(t: float, flat: np.ndarray, X0: np.ndarray) -> np.ndarray:
    """dx/dt = g/(2 sigma^2) (x - x_N) with the B x N x d differences and ``logsumexp``.

    The empirical score as the authors' NumPy code writes it (log-weights, log-sum-exp).
    """
    x = flat.reshape(-1, X0.shape[1])
    s2 = float(SCHED.sigma2(t))
    logw = -((x[:, None, :] - X0[None, :, :]) ** 2).sum(-1) / (2.0 * s2)
    w = np.exp(logw - logsumexp(logw, axis=1, keepdims=True))
    return (float(SCHED.diffusion2(t)) / (2.0 * s2) * (x - w @ X0)).ravel()


def velocity_matmul(t: float, flat: np.ndarray, X0: np.ndarray) -> np.ndarray:
    """The same field with the logits from one BLAS matmul (a stronger NumPy baseline)."""
    x = flat.reshape(-1, X0.shape[1])
    s2 = float(SCHED.sigma2(t))
    logits = (x @ X0.T - 0.5 * (X0 * X0).sum(1)) / s2  # -|x - x0|^2/(2 s2) + row constant
    logits -= logits.max(axis=1, keepdims=True)
    w = np.exp(logits)
    x_n = (w @ X0) / w.sum(axis=1, keepdims=True)
    return (float(SCHED.diffusion2(t)) / (2.0 * s2) * (x - x_n)).ravel()


def best_of(fn, repeats: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeats):
        time.sleep(PAUSE)
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def nearest(x: np.ndarray, X0: np.ndarray) -> np.ndarray:
    return np.argmin((x * x).sum(1)[:, None] - 2.0 * x @ X0.T + (X0 * X0).sum(1), axis=1)


def case(N: int, d: int, B: int, repeats: int) -> None:
    if N == 20 and d == 2:
        X0 = np.random.RandomState(1).randn(20, 2)
    else:
        X0 = np.random.default_rng(1).standard_normal((N, d))
    x_T = float(SCHED.sigma(1.0)) * np.random.default_rng(0).standard_normal((B, d))
    # accuracy reference: the same ODE with per-trajectory control at rtol = atol = 1e-11
    exact = reverse_ode(x_T, X0, SCHED, T_END, time="s", rtol=1e-11, atol=1e-11).final
    near = nearest(exact, X0)
    head = f"N={N:>6} d={d:>3} B={B:>5}"
    bases: dict[str, float] = {}

    def report(label: str, seconds: float, final: np.ndarray, evals: str) -> None:
        same = np.mean(nearest(final, X0) == near)
        err = np.abs(final - exact).max()
        ratios = "  ".join(f"/{name} {base / seconds:6.1f}x" for name, base in bases.items())
        print(f"{head}  {label:<28} {seconds * 1e3:9.1f} ms  {ratios}  {evals}  same limit "
              f"{same:.3f}  max error {err:.1e}", flush=True)  # fmt: skip

    baselines = [("BLAS", "scipy RK45 + matmul score", velocity_matmul)]
    if B * N * d <= 10**7:  # the broadcast score needs B N d doubles per call
        baselines.insert(0, ("authors", "scipy RK45 + broadcast score", velocity_broadcast))
    reverse_ode(x_T[:2], X0, SCHED, T_END, time="s")  # compile / load the cache
    reverse_ode(x_T[:2], X0, SCHED, T_END, time="t")
    for name, label, field in baselines:

        def scipy_run(field=field) -> tuple[np.ndarray, int]:
            res = solve_ivp(field, (1.0, T_END), x_T.ravel(), method="RK45", rtol=TOL, atol=TOL,
                            args=(X0,))  # fmt: skip
            assert res.success
            return res.y[:, -1].reshape(B, d), res.nfev

        seconds, (final, nfev) = best_of(scipy_run, repeats)
        report(label, seconds, final, f"nfev {nfev} (batch)")
        bases[name] = seconds
    for clock in ("s", "t"):
        seconds, sol = best_of(
            lambda c=clock: reverse_ode(x_T, X0, SCHED, T_END, time=c, rtol=TOL, atol=TOL),
            repeats,
        )
        report(f"numba DP5 {clock}-time", seconds, sol.final, f"nfev {sol.nfev.mean():.1f}/traj")
    if B * N * d > 2 * 10**8:
        return

    def model(x: np.ndarray, t: float) -> np.ndarray:
        return memorizing_denoiser(x, t, X0, SCHED)

    seconds, sol = best_of(
        lambda: solve(model, SCHED, x_T, [1.0, T_END], method="dopri5", rtol=TOL, atol=TOL),
        repeats,
    )
    report("solve dopri5, callable", seconds, sol.final, f"nfev {sol.nfev.max()} (batch)")


def crossover(repeats: int) -> None:
    """Per-trajectory (``_dopri``) against lock-step (``_dopri_lockstep``) integration of the
    t-time ODE of the cases above, same inputs, interleaved, best of ``repeats``."""
    spec = SCHED.kernel_spec()
    kind, params = _dopri.KINDS[spec.kind], np.array(spec.params)
    print(f"crossover ({numba.get_num_threads()} threads); rule: lock-step iff d >= "
          f"{_dopri_lockstep.LOCKSTEP_MIN_D}")  # fmt: skip
    grid = ((20, 2), (1000, 10), (10_000, 10), (1000, 16), (10_000, 20), (20, 50), (2000, 50),
            (10_000, 50))  # fmt: skip
    for N, d in grid:
        X0 = np.random.default_rng(1).standard_normal((N, d))
        XT = np.ascontiguousarray(X0.T)
        for B in (16, 200):
            x_T = float(SCHED.sigma(1.0)) * np.random.default_rng(0).standard_normal((B, d))
            args = (XT, 1.0, T_END, np.array([T_END]), _dopri.T_TIME, kind, params, 0.0,
                    _dopri.EMPIRICAL, 0.0, TOL, TOL, 100_000, numba.get_num_threads())  # fmt: skip
            times = {}
            for name, module in (("per-trajectory", _dopri), ("lock-step", _dopri_lockstep)):
                with single_threaded_blas():
                    module.integrate_batch(x_T[:2].copy(), *args)  # compile / load the cache
                    times[name] = best_of(
                        lambda m=module, y=x_T, a=args: m.integrate_batch(y.copy(), *a), repeats
                    )[0]
            ratio = times["per-trajectory"] / times["lock-step"]
            chosen = "lock-step" if _dopri_lockstep.use_lockstep(N, d) else "per-trajectory"
            print(f"N={N:>6} d={d:>3} B={B:>4}  per-trajectory {times['per-trajectory'] * 1e3:8.1f}"
                  f" ms  lock-step {times['lock-step'] * 1e3:8.1f} ms  lock-step speed-up "
                  f"{ratio:5.2f}x  (rule: {chosen})", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller large case")
    parser.add_argument("--crossover", action="store_true", help="time the two integrators")
    parser.add_argument("--cases", default="20,1000,10000",
                        help="the cases to run, by N (comma-separated)")  # fmt: skip
    args = parser.parse_args()
    repeats = 2 if args.quick else 5
    print(f"{numba.get_num_threads()} threads, load average {os.getloadavg()[0]:.2f}", flush=True)
    if args.crossover:
        crossover(repeats)
        return
    wanted = {int(n) for n in args.cases.split(",")}
    if 20 in wanted:
        case(20, 2, 1000, repeats)
    if 1000 in wanted:
        case(1000, 10, 1000, repeats)
    if 10_000 in wanted:
        for B in (200, 1000):
            case(10_000, 50, 50 if args.quick else B, 1 if args.quick else 2)
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
