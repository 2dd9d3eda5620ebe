"""`diffmem sweep --scheduler` on a real Dask cluster survives a worker killed mid-run.

A throwaway sweep of ``N_RUNS`` short runs goes through the CLI entry point to a
``LocalCluster`` of two worker processes. The first attempt of the ``VICTIM`` run blocks; the test
finds the worker process running it (the task records its pid) and SIGKILLs it. The scheduler
reruns that task on a live worker, so the sweep must finish with exit status 0 and every result
file written exactly once, complete, with no temporary or failure files left behind. With
``allowed-failures=0`` the scheduler gives such runs up (``KilledWorker``) and ``--retries 1``
makes the sweep itself resubmit them.

A result still on the killed worker when the client fetches it is recomputed elsewhere, but
Dask may first retry the dead worker's address for ``distributed.comm.timeouts.connect``
(30 s by default) before it gives the fetch up; the tests shorten that timeout to
``CONNECT_TIMEOUT`` and wait ``JOIN_SECONDS`` for the sweep to finish.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from diffmem_theory import sweep
from diffmem_theory.cli import main
from diffmem_theory.sweep import config_key, load_results, sweep_spec

distributed = pytest.importorskip(
    "dask.distributed",
    reason="the Dask fault test needs the optional [dist] extra (dask.distributed)",
)
import dask  # noqa: E402 -- importable once dask.distributed is

# Dask worker processes (spawn) import the task from this module by this name.
TASK = f"{__name__}:slow_task"
SWEEP = "core.dask_fault_test"
STARTS = "DIFFMEM_DASK_TEST_STARTS"  # directory: one file "<key>.<pid>.<uuid>" per task start
N_RUNS = 8
VICTIM = 3  # the x whose first attempt blocks until its worker is killed
BLOCK_SECONDS = 120.0  # longer than the test waits: an unkilled victim fails the test
CONNECT_TIMEOUT = "3s"  # how long Dask retries the address of a dead worker
JOIN_SECONDS = 60.0  # how long the test waits for the sweep once the victim is killed


def slow_task(config: dict) -> dict:
    """``x**2`` after a short nap; the first attempt of the victim run blocks instead."""
    starts = Path(os.environ[STARTS])
    key = config_key(config)
    first = not any(starts.glob(f"{key}.*"))
    (starts / f"{key}.{os.getpid()}.{uuid.uuid4().hex}").touch()
    if config["x"] == VICTIM and first:
        time.sleep(BLOCK_SECONDS)
    time.sleep(0.2)
    return {"square": config["x"] ** 2}


def _configs() -> list[dict]:
    return [{"x": x} for x in range(N_RUNS)]


def _start_pids(starts: Path) -> dict[str, list[int]]:
    """Per config key, the pids of the processes that started it, in no particular order."""
    pids: dict[str, list[int]] = {}
    for path in starts.iterdir():
        key, pid, _ = path.name.rsplit(".", 2)
        pids.setdefault(key, []).append(int(pid))
    return pids


def _wait_for_start(starts: Path, key: str, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = _start_pids(starts).get(key)
        if pids:
            return pids[0]
        time.sleep(0.05)
    raise AssertionError(f"run {key} did not start within {timeout} s")


@pytest.fixture
def starts(tmp_path, monkeypatch) -> Path:
    """Register the throwaway sweep (undone after the test) and the start-marker directory."""
    path = tmp_path / "starts"
    path.mkdir()
    monkeypatch.setenv(STARTS, str(path))  # set before the cluster spawns its workers
    sweep.list_sweeps()  # first, or the package's sweeps would land in the scratch registry
    monkeypatch.setattr(sweep, "_SWEEPS", dict(sweep._SWEEPS))

    @sweep_spec(SWEEP)
    def _specs(quick):
        """Short runs, one of which loses its worker."""
        return TASK, _configs()

    return path


@pytest.fixture
def writes(monkeypatch) -> Counter:
    """Counts the result and failure files the sweep writes (in this process, the client)."""
    counter: Counter = Counter()
    real = sweep._write_json_atomic

    def counting(path, record):
        counter[str(path)] += 1
        real(path, record)

    monkeypatch.setattr(sweep, "_write_json_atomic", counting)
    return counter


def _run_cli_in_thread(argv: list[str]) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["status"] = main(argv)
        except BaseException as err:  # reported by the test, not lost in the thread
            outcome["error"] = err

    thread = threading.Thread(target=target, name="diffmem-sweep-cli", daemon=True)
    thread.start()
    return thread, outcome


@contextlib.contextmanager
def _cluster(**config: object) -> Iterator[distributed.LocalCluster]:
    """Two one-thread worker processes; the Dask ``config`` holds while the cluster lives."""
    settings = {"distributed.comm.timeouts.connect": CONNECT_TIMEOUT, **config}
    with (
        dask.config.set(settings),
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
    ):
        yield cluster


def _sweep_killing_a_worker(cluster, starts: Path, argv: list[str]) -> tuple[int, int]:
    """Run ``diffmem sweep`` (``argv``) and SIGKILL the worker process running the victim run
    mid-sweep; (the sweep's exit status, the killed pid)."""
    victim_key = config_key({"x": VICTIM})
    thread, outcome = _run_cli_in_thread([*argv, "--no-progress"])
    victim_pid = _wait_for_start(starts, victim_key, timeout=15)
    worker_pids = {nanny.process.pid for nanny in cluster.workers.values()}
    assert victim_pid in worker_pids and victim_pid != os.getpid()
    out = Path(argv[argv.index("--out") + 1])
    assert not (out / f"{victim_key}.json").exists()  # the sweep is mid-run
    os.kill(victim_pid, signal.SIGKILL)
    thread.join(timeout=JOIN_SECONDS)
    assert not thread.is_alive(), "the sweep did not finish after the worker was killed"
    assert "error" not in outcome, outcome.get("error")
    return outcome["status"], victim_pid


def _assert_every_result_once(out: Path, starts: Path, writes: Counter, victim_pid: int) -> None:
    # the killed run was started again, in another process, and finished there
    pids = _start_pids(starts)
    victim_key = config_key({"x": VICTIM})
    assert len(pids[victim_key]) == 2 and victim_pid in pids[victim_key]
    assert set(pids) == {config_key(c) for c in _configs()}
    # every result file written exactly once, complete; nothing else in the output directory
    expected = sorted([sweep.MANIFEST, *(f"{config_key(c)}.json" for c in _configs())])
    assert sorted(writes) == [str(out / name) for name in expected]
    assert set(writes.values()) == {1}
    assert sorted(p.name for p in out.iterdir()) == expected
    records = load_results(out)
    assert [r["config"] for r in records] == sorted(_configs(), key=config_key)
    assert all(r["result"] == {"square": r["config"]["x"] ** 2} for r in records)
    assert {r["task"] for r in records} == {TASK}


def test_a_sweep_survives_a_worker_killed_mid_run(tmp_path, starts, writes, capsys):
    out = tmp_path / "out"
    with _cluster() as cluster:
        argv = ["sweep", SWEEP, "--scheduler", cluster.scheduler_address, "--out", str(out)]
        status, victim_pid = _sweep_killing_a_worker(cluster, starts, argv)
        assert status == 0
        first = capsys.readouterr().out
        # a re-run finds everything done and starts no task
        n_starts = len(list(starts.iterdir()))
        assert main([*argv, "--no-progress"]) == 0
        assert len(list(starts.iterdir())) == n_starts
    assert f"{N_RUNS} runs, {N_RUNS} done, 0 skipped, 0 failed" in first
    assert f"{N_RUNS} runs, 0 done, {N_RUNS} skipped, 0 failed" in capsys.readouterr().out
    _assert_every_result_once(out, starts, writes, victim_pid)


def test_retries_resubmit_runs_the_scheduler_gave_up_on(tmp_path, starts, writes, capsys):
    # allowed-failures=0: the scheduler does not rerun the tasks of a dead worker itself but
    # reports them lost (KilledWorker); --retries 1 makes the sweep resubmit them
    out = tmp_path / "out"
    with _cluster(**{"distributed.scheduler.allowed-failures": 0}) as cluster:
        argv = ["sweep", SWEEP, "--scheduler", cluster.scheduler_address, "--out", str(out)]
        status, victim_pid = _sweep_killing_a_worker(cluster, starts, [*argv, "--retries", "1"])
    assert status == 0
    assert f"{N_RUNS} runs, {N_RUNS} done, 0 skipped, 0 failed" in capsys.readouterr().out
    _assert_every_result_once(out, starts, writes, victim_pid)
