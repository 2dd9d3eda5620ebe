"""Benchmark of the batched Dormand-Prince integrator for the empirical-score reverse ODE.

    python benchmarks/bench_voronoi_dynamics.py [--quick]

Baptista et al. (paper 002), Fig. 1-2 setting: B trajectories of the VE probability-flow ODE
(4.19) with g = 10^{2t} (notes A1), from t = 1 to 1e-3, rtol = atol = 1e-5, started at
x_T ~ N(0, sigma(1)^2 I). The baseline is what the authors' code does: ``scipy.integrate.
solve_ivp(method="RK45")`` on the flattened (B d,) batch with a NumPy score (softmax weights by
a BLAS matmul and a log-sum-exp), one shared step size for the whole batch. Measured in the same
run (best of ``repeats``):

* ``reverse_ode(time="s")``: Numba DP5(4), per-trajectory step control, in s-time (4.24);
* ``reverse_ode(time="t")``: the same integrator in t-time (4.19), the baseline's equation;

one line per case with the speed-up over SciPy and the agreement of the limit points (the
nearest training point of each final state) and of the final states. Cases: N = 20, d = 2
(the paper's seed-1 data, B = 1000) and N = 10^4, d = 50 (B = 200; ``--quick``: B = 50).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.integrate import solve_ivp

from diffmem_theory.schedules import VE
from diffmem_theory.voronoi_dynamics import reverse_ode

SCHED = VE.exp()
T_END, TOL = 1e-3, 1e-5
PAUSE = 0.2  # seconds between measurements: OpenBLAS threads keep spinning after a matmul


def numpy_velocity(t: float, flat: np.ndarray, X0: np.ndarray, half_sq: np.ndarray) -> np.ndarray:
    """dx/dt = g/(2 sigma^2) (x - x_N), weights by matmul + log-sum-exp (the baseline's RHS)."""
    x = flat.reshape(-1, X0.shape[1])
    s2 = float(SCHED.sigma2(t))
    logits = (x @ X0.T - half_sq) / s2  # -|x - x0|^2/(2 s2) up to a per-row constant
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
    half_sq = 0.5 * (X0 * X0).sum(1)

    def scipy_run() -> np.ndarray:
        res = solve_ivp(numpy_velocity, (1.0, T_END), x_T.ravel(), method="RK45", rtol=TOL,
                        atol=TOL, args=(X0, half_sq))  # fmt: skip
        assert res.success
        return res.y[:, -1].reshape(B, d)

    reverse_ode(x_T[:2], X0, SCHED, T_END, time="s")  # compile / load the cache
    reverse_ode(x_T[:2], X0, SCHED, T_END, time="t")
    t_ref, ref = best_of(scipy_run, repeats)
    print(f"N={N:>6} d={d:>3} B={B:>5}  scipy RK45 flattened: {t_ref * 1e3:9.1f} ms")
    for clock in ("s", "t"):
        t_ours, sol = best_of(
            lambda c=clock: reverse_ode(x_T, X0, SCHED, T_END, time=c, rtol=TOL, atol=TOL),
            repeats,
        )
        same = np.mean(nearest(sol.final, X0) == nearest(ref, X0))
        gap = np.abs(sol.final - ref).max()
        print(
            f"N={N:>6} d={d:>3} B={B:>5}  numba DP5 {clock}-time: {t_ours * 1e3:9.1f} ms"
            f"  speed-up {t_ref / t_ours:6.1f}x  same limit {same:.3f}  max |dx| {gap:.1e}"
            f"  steps/traj {sol.n_steps.mean():.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller large case")
    args = parser.parse_args()
    repeats = 2 if args.quick else 5
    case(20, 2, 1000, repeats)
    case(10_000, 50, 50 if args.quick else 200, 1 if args.quick else 2)


if __name__ == "__main__":
    main()
