"""Same configs, same bits: a sweep's results do not depend on its worker count.

The worker count sets each run's thread count: ``workers=1`` runs in this process with its
threads, ``workers=2`` in two processes with ``cpu_count // 2`` Numba threads each unless
``NUMBA_NUM_THREADS`` says otherwise. A small training run of the paper-000 GMM denoiser (a
Numba kernel that reduces over queries in parallel: 64 samples x 16 noise draws = 4 blocks of
256 queries) plus a long NumPy dot product (which OpenBLAS splits between its threads) must give
the same bits however the runs are spread.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import numba
import numpy as np
import pytest

from diffmem_theory.core.training import TrainConfig, train_gmm_denoiser
from diffmem_theory.sweep import run_sweep, shared_workers

# Worker processes (spawn) import the task from this module by this name.
TASK = f"{__name__}:train_task"
CONFIGS = [{"N": 64, "d": 4, "M": 8, "n_dup": 16, "epochs": 60, "seed": s} for s in (0, 1)]


def train_task(config: dict) -> dict:
    """Learned means, variance and loss curve of a tiny training run, and a BLAS dot product."""
    rng = np.random.default_rng(config["seed"])
    X = rng.standard_normal((config["N"], config["d"]))
    cfg = TrainConfig(
        n_epochs=config["epochs"], n_dup=config["n_dup"], seed=config["seed"], peak_lr=1e-2
    )
    res = train_gmm_denoiser(X, config["M"], cfg, progress=False)
    u, v = rng.standard_normal((2, 200_000))
    return {
        "means": res.model.means,
        "var": res.model.var,
        "losses": res.losses,
        "dot": float(u @ v),
        "threads": numba.get_num_threads(),  # a record of how it ran, not a result
        "pid": os.getpid(),  # likewise
    }


def _results(records: list[dict]) -> list[dict]:
    assert [r["status"] for r in records] == ["done"] * len(CONFIGS)
    return [{k: v for k, v in r["result"].items() if k not in ("threads", "pid")} for r in records]


def _in_fresh_process(out: Path) -> list[dict]:
    """``run_sweep(workers=1)`` in a new interpreter, as ``diffmem sweep --workers 1`` runs.

    The reference is not computed in the pytest process: after the whole suite had run there,
    the in-process means differed from the worker processes' by 6.9e-17 (1 ulp), a dependence
    on state that earlier tests leave in that process, which this test does not isolate.
    """
    script = (
        "import pickle, sys; sys.path.insert(0, sys.argv[1]); import test_sweep_workers as t; "
        "from diffmem_theory.sweep import run_sweep; "
        "records = run_sweep(t.TASK, t.CONFIGS, sys.argv[2], workers=1, progress=False); "
        "pickle.dump(records, open(sys.argv[3], 'wb'))"
    )
    dump = out.with_suffix(".pickle")
    here = str(Path(__file__).resolve().parent)
    subprocess.run([sys.executable, "-c", script, here, str(out), str(dump)], check=True)
    with open(dump, "rb") as f:
        return pickle.load(f)


def test_results_are_bit_identical_for_any_worker_and_thread_count(tmp_path, monkeypatch):
    here = _in_fresh_process(tmp_path / "w1")
    runs = {f"workers=1, {numba.get_num_threads()} threads, fresh process": here}
    for threads in ("1", "3"):
        monkeypatch.setenv("NUMBA_NUM_THREADS", threads)
        out = tmp_path / f"w2-t{threads}"
        runs[f"workers=2, {threads} threads"] = run_sweep(
            TASK, CONFIGS, out, workers=2, progress=False
        )
    seen = {label: {r["result"]["threads"] for r in records} for label, records in runs.items()}
    assert seen["workers=2, 1 threads"] == {1} and seen["workers=2, 3 threads"] == {3}
    reference = _results(here)
    for label, records in runs.items():
        got = _results(records)
        for ref, new, config in zip(reference, got, CONFIGS, strict=True):
            for key in ref:
                if new[key] != ref[key]:
                    diff = np.max(np.abs(np.subtract(new[key], ref[key])))
                    pytest.fail(f"{label}: {key} of {config} differs (max |diff| {diff:.3g})")


def test_shared_workers_serve_the_next_sweep_with_the_same_bits(tmp_path):
    fresh = run_sweep(TASK, CONFIGS, tmp_path / "fresh", workers=2, progress=False)
    with shared_workers():
        first = run_sweep(TASK, CONFIGS[:1], tmp_path / "a", workers=2, progress=False)
        assert len(multiprocessing.active_children()) == 1  # kept for the next sweep
        second = run_sweep(TASK, CONFIGS, tmp_path / "b", workers=2, progress=False)
        assert len(multiprocessing.active_children()) == 2
    assert first[0]["result"]["pid"] in {r["result"]["pid"] for r in second}
    assert first[0]["result"]["pid"] not in {r["result"]["pid"] for r in fresh}
    assert _results(second) == _results(fresh)
    deadline = time.monotonic() + 20  # the block stopped them
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert multiprocessing.active_children() == []
