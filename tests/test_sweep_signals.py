"""A sweep's processes die with it, SIGTERM stops it like Ctrl-C, and a rerun resumes.

``timeout``, job schedulers and the OOM killer end the ``diffmem sweep`` process with SIGTERM or
SIGKILL. The sweep runs in a new session (``start_new_session``), so every process it starts --
the worker processes and multiprocessing's resource tracker -- carries its session id, whoever
adopts them later; the test reads the session of every process from ``/proc/<pid>/stat``. Four
runs on two workers: x = 0 and 1 finish, x = 2 and 3 sleep until the sweep is killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from diffmem_theory.sweep import config_key, load_results, result_path, run_sweep

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc; PR_SET_PDEATHSIG is Linux's"
)

# Worker processes (spawn) import the task from this module by this name.
TASK = f"{__name__}:sleepy_task"
SWEEP = "core.signal_test"
STARTS = "DIFFMEM_SIGNAL_TEST_STARTS"  # directory: one file "<x>.<pid>.<uuid>" per task start
SLEEP_FROM = "DIFFMEM_SIGNAL_TEST_SLEEP_FROM"  # runs with x >= this value sleep 60 s
CONFIGS = [{"x": x} for x in range(4)]
GONE_WITHIN = 10.0  # seconds: a hang guard, not a benchmark

DRIVER = """
import sys
sys.path.insert(0, {tests!r})
from diffmem_theory import sweep
from diffmem_theory.cli import main
sweep.sweep_spec({sweep!r})(lambda quick: ({task!r}, {configs!r}))
sys.exit(main(["sweep", {sweep!r}, "--out", sys.argv[1], "--workers", "2", "--no-progress"]))
"""


def sleepy_task(config: dict) -> dict:
    starts = os.environ.get(STARTS)
    if starts:
        Path(starts, f"{config['x']}.{os.getpid()}.{uuid.uuid4().hex}").touch()
    if config["x"] >= int(os.environ.get(SLEEP_FROM, "1000")):
        time.sleep(60)
    return {"square": config["x"] ** 2}


def _session_members(sid: int) -> list[tuple[int, str]]:
    """(pid, state) of the live processes of session ``sid`` (zombies are dead)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        # pid (comm) state ppid pgrp session ...; comm may hold spaces and parentheses
        state, _ppid, _pgrp, session = stat.rpartition(")")[2].split()[:4]
        if int(session) == sid and state not in "ZX":
            members.append((int(entry.name), state))
    return members


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def _starts(starts: Path) -> Counter:
    return Counter(int(p.name.split(".")[0]) for p in starts.iterdir())


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killing_a_sweep_leaves_no_process_and_a_rerun_resumes(tmp_path, monkeypatch, sig):
    out, starts = tmp_path / "out", tmp_path / "starts"
    starts.mkdir()
    monkeypatch.setenv(STARTS, str(starts))
    monkeypatch.setenv(SLEEP_FROM, "2")
    script = DRIVER.format(
        tests=str(Path(__file__).parent), sweep=SWEEP, task=TASK, configs=CONFIGS
    )
    log = tmp_path / "stderr.txt"
    with open(log, "w") as stderr:  # a file: orphans would hold a pipe open
        proc = subprocess.Popen(
            [sys.executable, "-c", script, str(out)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        # x = 0, 1 written; x = 2, 3 running (asleep) in the two workers
        _wait_for(
            lambda: (
                all(result_path(out, c).exists() for c in CONFIGS[:2])
                and {2, 3} <= set(_starts(starts))
            ),
            120,
            "two finished runs and two running ones",
        )
        assert len(_session_members(proc.pid)) >= 4  # the sweep, 2 workers, resource tracker
        finished = {c["x"]: result_path(out, c).read_bytes() for c in CONFIGS[:2]}
        proc.send_signal(sig)
        proc.wait(timeout=GONE_WITHIN)
        _wait_for(lambda: not _session_members(proc.pid), GONE_WITHIN, "the sweep's processes")
    finally:  # leave nothing behind, whatever the outcome
        for pid, _ in _session_members(proc.pid):
            os.kill(pid, signal.SIGKILL)
        proc.wait()
    err = log.read_text()
    if sig == signal.SIGTERM:  # the same path as Ctrl-C: one line, status 128 + 15
        assert proc.returncode == 128 + signal.SIGTERM, err
        assert "Traceback" not in err
        assert f"{SWEEP} (quick) stopped by SIGTERM; 2 finished runs kept" in err
    else:
        assert proc.returncode == -signal.SIGKILL
    assert [r["config"] for r in load_results(out)] == CONFIGS[:2]

    # the rerun does only the missing runs and leaves the finished files as they were
    monkeypatch.delenv(SLEEP_FROM)
    records = run_sweep(TASK, CONFIGS, out, workers=1, progress=False, name=SWEEP, mode="quick")
    assert [r["status"] for r in records] == ["skipped", "skipped", "done", "done"]
    assert [r["result"]["square"] for r in records] == [0, 1, 4, 9]
    assert {x: result_path(out, CONFIGS[x]).read_bytes() for x in (0, 1)} == finished
    assert _starts(starts) == Counter({0: 1, 1: 1, 2: 2, 3: 2})
    assert sorted(p.name for p in out.glob("*.json")) == sorted(
        f"{config_key(c)}.json" for c in CONFIGS
    )


def stubborn_sleep(seconds: float) -> None:
    """A run that ignores SIGTERM (as a task with its own handler may)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(seconds)


@pytest.mark.parametrize("task", [time.sleep, stubborn_sleep], ids=["sleep", "ignores-SIGTERM"])
def test_a_stopped_pool_is_gone_before_the_interpreter_exits(task):
    """A stopped sweep's pool has ended its management thread (and so closed its wake-up pipe)
    when ``_terminate`` returns: Python < 3.12 signals that pipe at exit unguarded and printed a
    ``Bad file descriptor`` traceback when the thread closed it at the same moment. A worker
    that ignores SIGTERM is killed after ``_TERM_GRACE`` seconds."""
    import concurrent.futures as cf
    import multiprocessing

    from diffmem_theory import sweep

    pool = cf.ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    future = pool.submit(task, 60.0)
    _wait_for(lambda: future.running() and pool._processes, 60, "the run to start")
    time.sleep(0.5)  # the task has installed its handler
    thread, procs = pool._executor_manager_thread, list(pool._processes.values())
    sweep._terminate(pool)
    assert not thread.is_alive()
    assert all(proc.exitcode is not None for proc in procs)
    with pytest.raises(cf.process.BrokenProcessPool):
        future.result(timeout=0)
