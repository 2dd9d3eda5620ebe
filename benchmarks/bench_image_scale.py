"""Benchmark of the empirical-score kernel and of DDIM sampling at the size of real images.

    python benchmarks/bench_image_scale.py [--quick] [--dtype float32 float64] [--ddim-steps 50]
        [--baseline REF] [--cpu] [--compare-blas] [--blas-tiles] [--no-peak]

CIFAR-10's shape on generated data: N = 50,000 training images of d = 3,072 (uniform [0, 1]
pixels, nothing downloaded) and B = 1,000 queries (``--quick``: N = 5,000 and B = 200). For
each dtype it prints one line of ratios measured in one run:

* kernel / floor: the memorizing denoiser of Buchanan et al. (paper 000, eq. (7)),
  ``softmax_weighted_sum(x, X, scale=alpha_t, var=sigma_t^2)`` at VPTrig t = 0.6 (queries
  x = alpha_t X_i + sigma_t eps), against its floor: the two BLAS products of the same shapes,
  (B x d) @ (d x N) and (B x N) @ (N x d), plus one ``np.exp`` of B x N values, with NumPy's
  own (multi-threaded) BLAS. The kernel and the floor's three parts are timed interleaved,
  best of ``--repeats`` (default 2; 1 with ``--quick``).
* DDIM / floors: ``solve(method="ddim")`` (paper 000, App. H.2) of the B queries over
  ``--ddim-steps`` steps of the VPTrig grid with the memorizing denoiser of an
  ``EmpiricalDistribution`` evaluated in the dtype (a float32 state stays float32), against
  one floor per step, each timed right after the step's denoiser call (so both see the same
  load; the floors' time is not counted in the sampler's); also against steps x the best
  floor above, and the sampler's own overhead, DDIM / (the summed time of its denoiser calls),
  and the memory the law holds after sampling (its data, kept in the dtype it was given, plus
  any cast copy).
* peak: the extra peak resident memory of one kernel call (fresh subprocess, after a warm-up
  call; Linux VmHWM reset through /proc/self/clear_refs), next to the size of the data
  (``--no-peak``: skipped).

``--baseline REF`` also times, interleaved with the others, the kernel of
``diffmem_theory/kernels/_numba.py`` as it was at git revision REF (e.g. ``HEAD~3``; loaded as
a module of its own, with its Numba cache under ``~/.cache/diffmem_theory/bench_baseline``) on
the same inputs: before and after in one run. ``--cpu`` times CPU seconds of the process
instead of wall seconds, with NumPy's BLAS pinned to one thread for the floor: run it with
``NUMBA_NUM_THREADS=1`` on a loaded machine, where it measures the work, not the share of the
cores the process got.

The header names the BLAS that runs the kernel's products (``kernels._blas``: NumPy's bundled
OpenBLAS when there is one, else Numba's ``np.dot``, SciPy's BLAS). ``--compare-blas`` runs
each dtype twice, in fresh processes one after the other: first with the ``np.dot`` fallback
(``DIFFMEM_THEORY_BLAS=scipy``, the kernel before NumPy's BLAS was used), then with the default,
each line with its own floor. ``--blas-tiles`` times only the two libraries on the kernel's
tiles at this size (``plan_chunks``: 1,000 queries x 1,024 centres x d = 3,072), one thread
each, through identical CBLAS calls, interleaved, best CPU time of ``--repeats`` (default 5).

On a shared machine the floor and the kernel are slowed alike only when they are interleaved:
compare ratios of one run, and say how loaded the machine was (the header prints the load).
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from types import ModuleType

import numba
import numpy as np
from bench_kernels import PAUSE, best_of, blas_description

from diffmem_theory.core.distributions import EmpiricalDistribution
from diffmem_theory.core.dynamics import solve
from diffmem_theory.core.schedules import VPTrig
from diffmem_theory.kernels import _blas, softmax_weighted_sum
from diffmem_theory.kernels._numba import plan_chunks

FULL = (50_000, 3_072, 1_000)  # N, d, B
QUICK = (5_000, 3_072, 200)
T_QUERY = 0.6


def image_problem(N: int, d: int, B: int, dtype: str, seed: int = 0) -> tuple:
    """Uniform [0, 1] "images" X (N, d) and queries x = alpha_t X_i + sigma_t eps at t = 0.6."""
    rng = np.random.default_rng(seed)
    X = rng.random((N, d), dtype=np.float32).astype(dtype, copy=False)
    alpha, sigma = (float(v) for v in (VPTrig().alpha(T_QUERY), VPTrig().sigma(T_QUERY)))
    noise = rng.standard_normal((B, d), dtype=np.float32)
    x = (alpha * X[rng.integers(0, N, B)] + sigma * noise).astype(dtype, copy=False)
    return X, x, alpha, sigma


def kernel(x: np.ndarray, X: np.ndarray, alpha: float, sigma: float) -> np.ndarray:
    """The memorizing denoiser eq. (7) on the fused kernel, in the dtype of the data."""
    return softmax_weighted_sum(x, X, scale=alpha, var=sigma**2)


CLOCK = time.perf_counter  # time.process_time with --cpu


def timed(f: Callable[[], object]) -> Callable[[], float]:
    def run() -> float:
        start = CLOCK()
        f()
        return CLOCK() - start

    return run


def baseline_module(ref: str) -> ModuleType:
    """``diffmem_theory/kernels/_numba.py`` at git revision ``ref``, imported as a module of its
    own from ``~/.cache/diffmem_theory/bench_baseline/<commit>/`` (where Numba caches it)."""
    root = Path(__file__).resolve().parents[1]
    git = ["git", "-C", str(root)]
    sha = subprocess.run([*git, "rev-parse", ref], capture_output=True, text=True, check=True)
    commit = sha.stdout.strip()
    source = subprocess.run(
        [*git, "show", f"{commit}:diffmem_theory/kernels/_numba.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    folder = Path.home() / ".cache" / "diffmem_theory" / "bench_baseline" / commit[:12]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "_numba_baseline.py"
    if not path.exists() or path.read_text() != source:
        path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"_numba_baseline_{commit[:12]}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # Numba's cache refers to the module by its name
    spec.loader.exec_module(module)
    return module


def kernel_and_floor(
    X: np.ndarray, x: np.ndarray, alpha: float, sigma: float, repeats: int, baseline: ModuleType
):
    """Best times of the kernel, of the baseline kernel (if any) and of the floor's parts
    (matmul 1, matmul 2, exp)."""
    B, N = x.shape[0], X.shape[0]
    rng = np.random.default_rng(1)
    weights = rng.random((B, N), dtype=np.float32).astype(X.dtype, copy=False)
    logits = -weights  # non-positive arguments, as in a softmax
    kernel(x[:8], X[:300], alpha, sigma)  # compile / load the kernel, start its threads
    timers = {"kernel": timed(lambda: kernel(x, X, alpha, sigma))}
    if baseline is not None:
        w, b = np.full(N, 0.5 / sigma**2), np.zeros(N)

        def before(n: int = N) -> None:
            baseline.softmax_weighted_sum_cpu(x, X[:n], X[:n], alpha, w[:n], b[:n], None, None)

        before(300)  # compile / load it
        timers["baseline"] = timed(before)
    timers |= {
        "matmul1": timed(lambda: x @ X.T),
        "matmul2": timed(lambda: weights @ X),
        "exp": timed(lambda: np.exp(logits)),
    }
    return best_of(timers, repeats)


def ddim(X: np.ndarray, x_T: np.ndarray, n_steps: int) -> tuple[float, float, float, float]:
    """``solve(method="ddim")`` over n_steps with the memorizing denoiser of
    EmpiricalDistribution(X) in the dtype of X: the sampler's wall time, the summed time of its
    denoiser calls, the summed time of one floor measured right after each call (on the
    step's own state; its time is taken out of the sampler's, so that the ratio compares
    times measured under the same load), and the MiB of arrays the law holds afterwards."""
    sched, law = VPTrig(), EmpiricalDistribution(X)
    dtype = X.dtype
    B, N = x_T.shape[0], X.shape[0]
    weights = np.random.default_rng(1).random((B, N), dtype=np.float32).astype(dtype, copy=False)
    logits = -weights
    spent = {"calls": 0.0, "floor": 0.0, "pause": 0.0}

    def denoiser(x: np.ndarray, t: float) -> np.ndarray:
        start = time.perf_counter()
        out = law.denoiser(x, t, sched, dtype=dtype)
        spent["calls"] += time.perf_counter() - start
        start = time.perf_counter()
        _ = (x @ X.T, weights @ X, np.exp(logits))  # the floor of this step
        spent["floor"] += time.perf_counter() - start
        start = time.perf_counter()
        time.sleep(PAUSE)  # NumPy's OpenBLAS threads spin after a matmul: let them stop
        spent["pause"] += time.perf_counter() - start
        return out

    grid = sched.time_grid(n_steps)
    start = time.perf_counter()
    solve(denoiser, sched, x_T, grid, method="ddim")
    t_ddim = time.perf_counter() - start - spent["floor"] - spent["pause"]
    held = {id(a): a.nbytes for a in (law.X, law.__dict__.get("_x_float32", law.X))}
    return t_ddim, spent["calls"], spent["floor"], sum(held.values()) / 2**20


def peak_memory_mib(N: int, d: int, B: int, dtype: str) -> float:
    """Extra peak RSS (MiB) of one kernel call, measured in a fresh subprocess."""
    cmd = [sys.executable, __file__, "--peak-memory", str(N), str(d), str(B), dtype]
    result = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def _measure_peak(N: int, d: int, B: int, dtype: str) -> None:
    X, x, alpha, sigma = image_problem(N, d, B, dtype)
    kernel(x[:8], X[:300], alpha, sigma)  # load the compiled kernel and start its threads
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")  # reset the peak RSS (VmHWM) to the current RSS
        before = _vm_hwm()
        kernel(x, X, alpha, sigma)
        print((_vm_hwm() - before) / 2**20)
    except OSError:
        print("nan")


def _vm_hwm() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise OSError("no VmHWM in /proc/self/status")


def _cblas_gemm(package: str, dtype: str) -> Callable[..., None]:
    """``package``'s bundled ``cblas_?gemm`` through ctypes (ILP64 or LP64, from its suffix)."""
    found = _blas.openblas_library(package)
    if found is None:
        raise SystemExit(f"--blas-tiles: {package} bundles no OpenBLAS here")
    lib, prefix, suffix = found
    gemm = getattr(lib, f"{prefix}cblas_{'s' if dtype == 'float32' else 'd'}gemm{suffix}")
    integer = ctypes.c_int64 if suffix == "64_" else ctypes.c_int
    real = ctypes.c_float if dtype == "float32" else ctypes.c_double
    ptr = ctypes.c_void_p
    gemm.argtypes = [ctypes.c_int] * 3 + [integer] * 3 + [real, ptr, integer, ptr, integer]
    gemm.argtypes += [real, ptr, integer]
    gemm.restype = None
    return gemm


def blas_tiles(N: int, d: int, B: int, repeats: int) -> None:
    """SciPy's and NumPy's bundled OpenBLAS on the kernel's two tile products, one thread each,
    the same CBLAS call (row-major; G = X' C''^T with C'' transposed, P V without), interleaved;
    best CPU time (one thread: CPU time is the work, whatever else runs on the machine)."""
    qb, nb = plan_chunks(B, N, d, d, 0, 0)[:2]
    rng = np.random.default_rng(3)
    for package in ("scipy", "numpy"):
        print(f"  {package}: {_blas.openblas_config(package)}")
    for dtype in ("float32", "float64"):
        xq, Cb, V = (rng.random(shape).astype(dtype) for shape in ((qb, d), (nb, d), (nb, d)))
        P, G, T = rng.random((qb, nb)).astype(dtype), np.empty((qb, nb), dtype), np.empty_like(xq)
        row, no, tr = 101, 111, 112
        products = {
            f"G = X' C''^T ({qb} x {d} x {nb})": (no, tr, qb, nb, d, xq, d, Cb, d, G, nb),
            f"P V ({qb} x {nb} x {d})": (no, no, qb, d, nb, P, nb, V, d, T, d),
        }
        gemms = {package: _cblas_gemm(package, dtype) for package in ("scipy", "numpy")}
        for name, (ta, tb, m, n, k, A, lda, Bm, ldb, C, ldc) in products.items():
            best = dict.fromkeys(gemms, np.inf)
            for _ in range(repeats):
                for package, gemm in gemms.items():
                    with _blas.single_threaded_blas(package):
                        start = CLOCK()
                        gemm(row, ta, tb, m, n, k, 1.0, A.ctypes.data, lda, Bm.ctypes.data, ldb,
                             0.0, C.ctypes.data, ldc)  # fmt: skip
                        best[package] = min(best[package], CLOCK() - start)
            gflops = 2.0 * m * n * k / 1e9
            print(
                f"{dtype:7s} {name:34s} scipy {best['scipy'] * 1e3:7.1f} ms, numpy "
                f"{best['numpy'] * 1e3:7.1f} ms ({gflops / best['numpy']:5.1f} GFLOP/s) | "
                f"scipy / numpy {best['scipy'] / best['numpy']:5.2f}",
                flush=True,
            )


def compare_blas(args: argparse.Namespace, dtypes: list[str]) -> None:
    """Each dtype in two fresh processes, the np.dot fallback first, then the default BLAS."""
    for dtype in dtypes:
        for choice in ("scipy", "numpy"):
            cmd = [sys.executable, __file__, "--dtype", dtype, "--ddim-steps", str(args.ddim_steps)]
            cmd += ["--quick"] * args.quick + ["--no-peak"] * args.no_peak + ["--cpu"] * args.cpu
            cmd += ["--repeats", str(args.repeats)] * (args.repeats is not None)
            env = {**os.environ, _blas.BLAS_ENV: choice}
            result = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, check=True)
            lines = result.stdout.strip().splitlines()
            blas = next(line for line in lines if line.startswith("kernel products"))
            print(f"{blas}\n  {lines[-2]}", flush=True)


def run(
    N: int, d: int, B: int, dtype: str, repeats: int, n_steps: int, peak: bool, baseline=None
) -> str:
    X, x, alpha, sigma = image_problem(N, d, B, dtype)
    t = kernel_and_floor(X, x, alpha, sigma, repeats, baseline)
    floor = t["matmul1"] + t["matmul2"] + t["exp"]
    line = (
        f"{dtype:7s} N={N} d={d} B={B} | kernel {t['kernel']:7.3f} s | floor {floor:7.3f} s "
        f"(matmul {t['matmul1']:.3f} + {t['matmul2']:.3f}, exp {t['exp']:.3f}) "
        f"| kernel/floor {t['kernel'] / floor:5.2f}"
    )
    if baseline is not None:
        line += f" | baseline {t['baseline']:7.3f} s, baseline/floor {t['baseline'] / floor:5.2f}"
    if n_steps:
        x_T = np.random.default_rng(2).standard_normal((B, d)).astype(dtype)
        t_ddim, t_calls, t_floors, held = ddim(X, x_T, n_steps)
        line += (
            f" | DDIM {n_steps} steps {t_ddim:7.1f} s, / {n_steps} floors {t_ddim / t_floors:5.2f}"
            f" (/ {n_steps} x best floor {t_ddim / (n_steps * floor):5.2f}), / its denoiser calls"
            f" {t_ddim / t_calls:5.3f}, law holds {held:.0f} MiB"
        )
    if not peak:
        return line
    data_mib = X.nbytes / 2**20
    del X, x
    peak_mib = peak_memory_mib(N, d, B, dtype)
    return line + f" | peak {peak_mib:7.1f} MiB (data {data_mib:.0f} MiB)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 5,000, B = 200, one repeat")
    parser.add_argument("--dtype", nargs="+", choices=("float32", "float64"))
    parser.add_argument("--ddim-steps", type=int, default=50, help="0: no DDIM run")
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--no-peak", action="store_true", help="skip the peak-memory run")
    parser.add_argument("--baseline", metavar="REF", help="also time _numba.py at git REF")
    parser.add_argument("--cpu", action="store_true", help="CPU seconds, one-thread floor")
    parser.add_argument(
        "--compare-blas", action="store_true", help="np.dot fallback, then the default BLAS"
    )
    parser.add_argument(
        "--blas-tiles", action="store_true", help="SciPy's vs NumPy's OpenBLAS on the tiles"
    )
    parser.add_argument("--peak-memory", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak_memory:
        N, d, B, dtype = args.peak_memory
        _measure_peak(int(N), int(d), int(B), dtype)
        return
    N, d, B = QUICK if args.quick else FULL
    repeats = args.repeats or (5 if args.blas_tiles else 1 if args.quick else 2)
    global CLOCK
    CLOCK = time.process_time if args.cpu or args.blas_tiles else time.perf_counter
    print(
        f"image scale: memorizing denoiser (paper 000 eq. (7)) and DDIM; numba threads "
        f"{numba.get_num_threads()}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f}; best of {repeats}; {CLOCK.__name__} seconds"
        f"{', floor on one BLAS thread' if args.cpu else ''}\n"
        f"kernel products: {blas_description()}",
        flush=True,
    )
    dtypes = args.dtype or ["float32", "float64"]
    baseline = baseline_module(args.baseline) if args.baseline else None
    if args.blas_tiles:
        blas_tiles(N, d, B, repeats)
    elif args.compare_blas:
        compare_blas(args, dtypes)
    else:
        with _blas.single_threaded_blas("numpy") if args.cpu else nullcontext():
            for dtype in dtypes:
                line = run(N, d, B, dtype, repeats, args.ddim_steps, not args.no_peak, baseline)
                print(line, flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
