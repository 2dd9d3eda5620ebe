"""Benchmark of the fused softmax-weighted sum on the memorizing-denoiser shapes.

    python benchmarks/bench_kernels.py [--quick] [--dtype float32]

For each (B, N, d) it evaluates the memorizing denoiser of Buchanan et al. (paper 000,
eq. (7)), out = sum_j softmax_j(-||x - alpha X_j||^2 / (2 sigma^2)) X_j, with alpha = 0.8,
sigma = 0.6 (VPTrig at t = 0.6) and x = alpha X_i + sigma eps, and prints one line:

* numba: the public ``softmax_weighted_sum`` (validation included), best of N after warm-up;
* floor: ``x @ X.T`` of the same shape plus ONE ``np.exp`` over the B x N logits, timed in the
  same run (the primitives the kernel cannot avoid), and the ratio numba / floor;
* broadcast: plain NumPy broadcasting (B x N x d differences, softmax, P @ X) and the
  speed-up of the kernel over it. When the B x N x d array would exceed 256 MiB, it is timed
  on a subset of the queries and scaled per query (marked with *);
* array-API: the same call with ``backend="numpy"`` and its ratio to the floor;
* peak: the extra resident memory of one kernel call, measured in a fresh subprocess as the
  peak RSS after the call minus the RSS once the inputs exist and the kernel is warm (Linux:
  VmHWM reset through /proc/self/clear_refs; elsewhere ru_maxrss).

``--dtype float32`` runs everything (data, kernel, floor, broadcast) in float32. The header
says which BLAS runs the kernel's products (``kernels._blas``): run once more with
``DIFFMEM_THEORY_BLAS=scipy`` in the environment for the ``np.dot`` (SciPy's BLAS) fallback.

Timings interleave the candidates (kernel, matmul, exp, array-API) repetition by repetition,
pause between measurements and keep the best, which limits the effect of other processes
(and of NumPy's spinning OpenBLAS threads) on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable

import numba
import numpy as np

from diffmem_theory.kernels import _blas, softmax_weighted_sum

SHAPES = ((4096, 10000, 50), (1000, 20, 2), (20000, 200, 50))
ALPHA, SIGMA = 0.8, 0.6
BROADCAST_BUDGET = 256 * 2**20  # bytes of one B x N x d array
PAUSE = 0.2  # seconds between measurements (see best_of)


def memorizing_problem(
    B: int, N: int, d: int, dtype: str = "float64", seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Training points X ~ N(0, I_d) and noisy queries x = alpha X_i + sigma eps."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, d))
    x = ALPHA * X[rng.integers(0, N, B)] + SIGMA * rng.standard_normal((B, d))
    return x.astype(dtype), X.astype(dtype)


def kernel(x: np.ndarray, X: np.ndarray, backend: str = "numba") -> np.ndarray:
    """The memorizing denoiser eq. (7) through the fused kernel."""
    return softmax_weighted_sum(x, X, scale=ALPHA, var=SIGMA**2, backend=backend)


def broadcast(x: np.ndarray, X: np.ndarray) -> np.ndarray:
    """The memorizing denoiser eq. (7) in plain NumPy broadcasting."""
    diffs = x[:, None, :] - ALPHA * X[None, :, :]
    logits = -(diffs**2).sum(-1) / (2 * SIGMA**2)
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    return p @ X


def calibrated(f: Callable[[], object], min_seconds: float = 0.02) -> Callable[[], float]:
    """A timer returning seconds per call of ``f``, looping enough calls to reach min_seconds."""
    f()  # warm-up (compilation, cache load, page faults of the first allocation)
    start = time.perf_counter()
    f()
    n = max(1, int(min_seconds / max(time.perf_counter() - start, 1e-9)))

    def timer() -> float:
        start = time.perf_counter()
        for _ in range(n):
            f()
        return (time.perf_counter() - start) / n

    return timer


def best_of(timers: dict[str, Callable[[], float]], repeats: int) -> dict[str, float]:
    """Best time of each timer, interleaving them repetition by repetition.

    Each measurement starts after a PAUSE: NumPy's OpenBLAS threads keep spinning for ~0.1 s
    after a matmul and would otherwise steal the cores from whatever is timed next.
    """
    best = dict.fromkeys(timers, np.inf)
    for _ in range(repeats):
        for name, timer in timers.items():
            time.sleep(PAUSE)
            best[name] = min(best[name], timer())
    return best


def peak_memory_mib(B: int, N: int, d: int, backend: str, dtype: str) -> float:
    """Extra peak RSS (MiB) of one call, measured in a fresh subprocess."""
    cmd = [sys.executable, __file__, "--peak-memory", str(B), str(N), str(d), backend, dtype]
    result = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def _rss_high_water() -> int:
    """Peak resident set size of this process in bytes (VmHWM on Linux, else ru_maxrss)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit


def _reset_high_water() -> None:
    """Reset the peak RSS to the current RSS where the OS allows it (Linux clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        pass


def _measure_peak(B: int, N: int, d: int, backend: str, dtype: str) -> None:
    x, X = memorizing_problem(B, N, d, dtype)
    kernel(x[:2], X[:3], backend)  # load the compiled kernel and start its threads
    _reset_high_water()
    before = _rss_high_water()
    kernel(x, X, backend)
    print((_rss_high_water() - before) / 2**20)


def run_shape(B: int, N: int, d: int, repeats: int, dtype: str) -> str:
    x, X = memorizing_problem(B, N, d, dtype)
    logits = -np.abs(x @ X.T)  # realistic, non-positive arguments for the exp of the floor
    timers = {
        "numba": calibrated(lambda: kernel(x, X)),
        "matmul": calibrated(lambda: x @ X.T),
        "exp": calibrated(lambda: np.exp(logits)),
        "array_api": calibrated(lambda: kernel(x, X, "numpy")),
    }
    t = best_of(timers, repeats)
    floor = t["matmul"] + t["exp"]

    n_sub = min(B, max(1, BROADCAST_BUDGET // (N * d * x.itemsize)))
    xs = x[:n_sub]
    t_sub = best_of({"broadcast": calibrated(lambda: broadcast(xs, X))}, max(1, repeats // 3))
    t_broadcast = t_sub["broadcast"] * B / n_sub
    star = "*" if n_sub < B else " "
    peak = peak_memory_mib(B, N, d, "numba", dtype)
    peak_xp = peak_memory_mib(B, N, d, "numpy", dtype)
    line = (
        f"B={B:<6d}N={N:<6d}d={d:<3d}| numba {ms(t['numba'])} | floor {ms(floor)} "
        f"(matmul {ms(t['matmul'])} + exp {ms(t['exp'])}) | ratio {t['numba'] / floor:5.2f} "
        f"| broadcast {ms(t_broadcast)}{star}| speed-up {t_broadcast / t['numba']:6.1f}x "
        f"| array-API {ms(t['array_api'])} ratio {t['array_api'] / floor:5.2f} "
        f"| peak numba {peak:7.1f} MiB, array-API {peak_xp:7.1f} MiB"
    )
    if n_sub < B:
        gib = B * N * d * x.itemsize / 2**30
        line += (
            f"\n    * broadcast timed on {n_sub} of {B} queries and scaled per query "
            f"(the full B x N x d array would take {gib:.1f} GiB)"
        )
    return line


def blas_description() -> str:
    """Which BLAS runs the kernel's products (set ``DIFFMEM_THEORY_BLAS=scipy`` to compare)."""
    return f"{_blas.BLAS_PACKAGE}'s {_blas.openblas_config(_blas.BLAS_PACKAGE)}"


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:9.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    parser.add_argument("--peak-memory", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak_memory:
        B, N, d, backend, dtype = args.peak_memory
        _measure_peak(int(B), int(N), int(d), backend, dtype)
        return
    repeats = 3 if args.quick else 10
    print(
        f"softmax_weighted_sum, memorizing denoiser (paper 000 eq. (7)), {args.dtype}; numba "
        f"threads {numba.get_num_threads()}, numpy {np.__version__}, load average "
        f"{os.getloadavg()[0]:.2f}; best of {repeats}\nkernel products: {blas_description()}"
    )
    for B, N, d in SHAPES:
        print(run_shape(B, N, d, repeats, args.dtype), flush=True)


if __name__ == "__main__":
    main()
