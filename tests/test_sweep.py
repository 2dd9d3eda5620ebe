"""Parameter sweeps: result files, atomic writes, resumption, failures, local pools and Dask."""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from diffmem_theory import sweep
from diffmem_theory.core.schedules import VPTrig
from diffmem_theory.crossover.excess import crossover_ratio
from diffmem_theory.sweep import (
    SweepSpec,
    config_key,
    get_sweep,
    list_sweeps,
    load_failures,
    load_results,
    result_path,
    run_sweep,
    sweep_spec,
)

# The test tasks live in this module; worker processes (spawn) import it by this name.
TASK = f"{__name__}:toy_task"
MARKERS = "DIFFMEM_SWEEP_TEST_MARKERS"  # directory: one file per task invocation
FAIL_X = "DIFFMEM_SWEEP_TEST_FAIL_X"  # the task raises for this x
DIE_X = "DIFFMEM_SWEEP_TEST_DIE_X"  # the worker process exits abruptly for this x
STOP_X = "DIFFMEM_SWEEP_TEST_STOP_X"  # Ctrl-C (KeyboardInterrupt) arrives during this x
SLEEP_X = "DIFFMEM_SWEEP_TEST_SLEEP_X"  # this x takes 30 s (then leaves a "<key>.woke" marker)


def toy_task(config: dict) -> dict:
    """x^2, a draw from the config's own seed, and one from the legacy global RNG."""
    markers = os.environ.get(MARKERS)
    if markers:
        Path(markers, f"{config_key(config)}.{uuid.uuid4().hex}").touch()
    if str(config["x"]) == os.environ.get(FAIL_X):
        raise RuntimeError(f"boom at x={config['x']}")
    if str(config["x"]) == os.environ.get(DIE_X):
        os._exit(7)
    if str(config["x"]) == os.environ.get(STOP_X):
        raise KeyboardInterrupt
    if str(config["x"]) == os.environ.get(SLEEP_X):
        time.sleep(30)
        Path(os.environ[MARKERS], f"{config_key(config)}.woke").touch()
    rng = np.random.default_rng(config["seed"])
    return {
        "square": config["x"] ** 2,
        "draw": rng.standard_normal(),  # a NumPy float: stored as a plain float
        "vec": rng.integers(0, 10, size=3),  # a NumPy array: stored as a list
        "legacy": np.random.random(),  # noqa: NPY002 -- isolated per run by run_sweep
    }


def _configs(n: int = 5) -> list[dict]:
    return [{"x": x, "seed": 100 + x} for x in range(n)]


def _invocations(markers: Path) -> Counter:
    return Counter(p.name.rsplit(".", 1)[0] for p in markers.iterdir())


@pytest.fixture
def markers(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "markers"
    path.mkdir()
    monkeypatch.setenv(MARKERS, str(path))
    for var in (FAIL_X, DIE_X, STOP_X, SLEEP_X):
        monkeypatch.delenv(var, raising=False)
    return path


def _stable(records: list[dict]) -> list[dict]:
    """Records without the timing fields."""
    return [{k: v for k, v in r.items() if k not in ("seconds", "finished")} for r in records]


# ----------------------------------------------------------------------------------------------
# keys, files, order
# ----------------------------------------------------------------------------------------------


def test_config_key_is_readable_sorted_and_stable():
    assert config_key({"seed": 0, "N": 200, "d": 50, "K": 12, "M": 20}) == (
        "K=12_M=20_N=200_d=50_seed=0"
    )
    assert config_key({"b": True, "a": None, "c": -1.5e-07}) == "a=None_b=True_c=-1.5e-07"
    # unsafe characters and long keys: a readable prefix and a hash suffix
    assert config_key({"M": 20, "path": "/tmp/x"}) == "M=20@7f917bb963109250"
    long = config_key({f"parameter_{i}": i for i in range(30)})
    assert len(long) <= 140 and re.fullmatch(r"[^@]+@[0-9a-f]{16}", long)
    assert result_path("out", {"x": 1}) == Path("out", "x=1.json")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"seed": 0}, {"seed": "0"}),  # int vs a string that reads like it
        ({"seed": 0}, {"seed": 0.0}),
        ({"a": "1_b", "c": 2}, {"a": 1, "b_c": 2}),  # "_" is the separator
        ({"a": "x", "b": 1}, {"a": "x_b=1"}),
        ({"flag": True}, {"flag": "True"}),
        ({"v": [1, 2]}, {"v": [2, 1]}),
    ],
)
def test_config_keys_do_not_collide(a, b):
    assert config_key(a) != config_key(b)


_values = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.text(alphabet="ab_=.-1 /", max_size=6),
    st.lists(st.integers(0, 3), max_size=2),
)
_configs_st = st.dictionaries(st.text(alphabet="ab_=1.", min_size=1, max_size=4), _values)


@given(st.lists(_configs_st, min_size=2, max_size=6))
def test_config_keys_are_unique_and_file_name_safe(configs):
    unique = {json.dumps(c, sort_keys=True) for c in configs}
    keys = {config_key(json.loads(c)) for c in unique}
    assert len(keys) == len(unique)
    for key in keys:
        assert re.fullmatch(r"[A-Za-z0-9_.+=@-]*", key) and not key.startswith(".")
        assert len(key) <= 140


def test_results_in_config_order_with_config_and_result(tmp_path, markers):
    configs = [_configs()[i] for i in (3, 0, 4, 1, 2)]
    records = run_sweep(TASK, configs, tmp_path / "out", workers=1, progress=False)
    assert [r["config"] for r in records] == configs
    assert [r["status"] for r in records] == ["done"] * 5
    assert [r["result"]["square"] for r in records] == [9, 0, 16, 1, 4]
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == sorted([sweep.MANIFEST, *(f"{config_key(c)}.json" for c in configs)])
    for rec, config in zip(records, configs, strict=True):
        on_disk = json.loads(result_path(tmp_path / "out", config).read_text())
        assert on_disk["config"] == config and on_disk["task"] == TASK
        assert on_disk["result"] == rec["result"]
        assert isinstance(on_disk["result"]["vec"], list)
    loaded = {r["key"]: r for r in load_results(tmp_path / "out")}
    assert _stable(loaded[r["key"]] for r in records) == _stable(
        [{k: v for k, v in r.items() if k != "status"} for r in records]
    )


def test_bad_input_is_rejected_before_anything_runs(tmp_path, markers):
    with pytest.raises(ValueError, match="same config"):
        run_sweep(TASK, [{"x": 1, "seed": 0}, {"seed": 0, "x": 1}], tmp_path, workers=1)
    with pytest.raises(ValueError, match="JSON"):
        run_sweep(TASK, [{"x": object()}], tmp_path, workers=1)
    with pytest.raises(ValueError, match="no attribute"):
        run_sweep(f"{__name__}:no_such_task", _configs(1), tmp_path, workers=1)
    with pytest.raises(ValueError, match="registered sweep"):
        run_sweep("paper000.no_such_sweep", _configs(1), tmp_path, workers=1)
    with pytest.raises(ValueError, match="workers"):
        run_sweep(TASK, _configs(1), tmp_path, workers=0)
    with pytest.raises(ValueError, match="not importable"):
        run_sweep(lambda c: {}, _configs(1), tmp_path, workers=2)
    assert not any(markers.iterdir())


def test_out_dir_of_another_task_is_refused(tmp_path, markers):
    run_sweep(TASK, _configs(2), tmp_path, workers=1, progress=False)
    other = "diffmem_theory.crossover.figures.crossover_sweep:crossover_task"
    with pytest.raises(ValueError, match="holds results of task"):
        run_sweep(other, _configs(2), tmp_path, workers=1)


# ----------------------------------------------------------------------------------------------
# atomicity and resumption
# ----------------------------------------------------------------------------------------------

_KILL_SCRIPT = """
import json, os, sys
sys.path.insert(0, {tests!r})
from diffmem_theory import sweep
real_replace, writes = os.replace, []
def replace(src, dst):  # the process is killed between writing the temp file and renaming it
    writes.extend([dst] if os.path.basename(dst) != sweep.MANIFEST else [])
    if len(writes) == 3:
        os._exit(9)
    real_replace(src, dst)
sweep.os.replace = replace
sweep.run_sweep({task!r}, json.loads(sys.argv[1]), sys.argv[2], workers=1, progress=False)
"""


def test_a_run_killed_mid_write_leaves_no_result_and_a_rerun_completes_the_rest(tmp_path, markers):
    out = tmp_path / "out"
    configs = _configs(5)
    script = _KILL_SCRIPT.format(tests=str(Path(__file__).parent), task=TASK)
    proc = subprocess.run(
        [sys.executable, "-c", script, json.dumps(configs), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 9, proc.stderr
    # two complete results; the third was killed after its temp file was written
    results = sorted(p.name for p in out.glob("*.json"))
    assert results == [f"{config_key(c)}.json" for c in configs[:2]]
    temps = [p for p in out.iterdir() if p.name.endswith(".tmp")]
    assert len(temps) == 1 and temps[0].name.startswith(".")
    assert [r["config"] for r in load_results(out)] == configs[:2]

    records = run_sweep(TASK, configs, out, workers=1, progress=False)
    assert [r["status"] for r in records] == ["skipped"] * 2 + ["done"] * 3
    calls = _invocations(markers)
    assert [calls[config_key(c)] for c in configs] == [1, 1, 2, 1, 1]
    assert len(load_results(out)) == 5
    # the leftover temp file is never mistaken for a result
    again = run_sweep(TASK, configs, out, workers=1, progress=False)
    assert [r["status"] for r in again] == ["skipped"] * 5
    assert _stable(again) == _stable([{**r, "status": "skipped"} for r in records])


def test_an_interrupted_sweep_keeps_what_is_done_and_resumes(tmp_path, markers, monkeypatch):
    configs = _configs(5)
    monkeypatch.setenv(STOP_X, "2")
    with pytest.raises(KeyboardInterrupt):
        run_sweep(TASK, configs, tmp_path, workers=1, progress=False)
    assert [r["config"] for r in load_results(tmp_path)] == configs[:2]
    monkeypatch.delenv(STOP_X)
    records = run_sweep(TASK, configs, tmp_path, workers=1, progress=False)
    assert [r["status"] for r in records] == ["skipped"] * 2 + ["done"] * 3


def test_an_interrupt_stops_the_runs_in_progress_in_worker_processes(
    tmp_path, markers, monkeypatch
):
    monkeypatch.setenv(SLEEP_X, "0")
    monkeypatch.setenv(STOP_X, "1")
    with pytest.raises(KeyboardInterrupt):
        run_sweep(TASK, _configs(3), tmp_path, workers=2, progress=False)
    # the run asleep for 30 s was stopped, not waited for: its worker is gone and never woke
    deadline = time.monotonic() + 20  # a hang guard, well before the sleep would end
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert multiprocessing.active_children() == []
    assert not [p.name for p in markers.iterdir() if p.name.endswith(".woke")]
    assert load_results(tmp_path) == []


def test_a_failing_write_removes_its_temp_file(tmp_path, markers, monkeypatch):
    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(sweep.os, "replace", broken_replace)
    out = tmp_path / "out"
    with pytest.raises(OSError, match="disk full"):
        run_sweep(TASK, _configs(2), out, workers=1, progress=False)
    assert list(out.iterdir()) == []
    monkeypatch.undo()
    monkeypatch.setenv(MARKERS, str(markers))
    records = run_sweep(TASK, _configs(2), out, workers=1, progress=False)
    assert [r["status"] for r in records] == ["done", "done"]


def test_a_corrupt_result_file_is_run_again(tmp_path, markers):
    configs = _configs(2)
    run_sweep(TASK, configs, tmp_path, workers=1, progress=False)
    result_path(tmp_path, configs[1]).write_text('{"config": ')
    with pytest.warns(UserWarning, match="unreadable"):
        records = run_sweep(TASK, configs, tmp_path, workers=1, progress=False)
    assert [r["status"] for r in records] == ["skipped", "done"]


# ----------------------------------------------------------------------------------------------
# failures
# ----------------------------------------------------------------------------------------------


def test_a_raising_task_is_recorded_and_retried_on_rerun(tmp_path, markers, monkeypatch):
    configs = _configs(4)
    monkeypatch.setenv(FAIL_X, "1")
    records = run_sweep(TASK, configs, tmp_path, workers=1, progress=False)
    assert [r["status"] for r in records] == ["done", "failed", "done", "done"]
    failed = records[1]
    assert failed["error"] == "RuntimeError: boom at x=1" and "toy_task" in failed["traceback"]
    assert "result" not in failed
    assert not result_path(tmp_path, configs[1]).exists()
    assert [f["config"] for f in load_failures(tmp_path)] == [configs[1]]
    assert len(load_results(tmp_path)) == 3

    monkeypatch.delenv(FAIL_X)
    records = run_sweep(TASK, configs, tmp_path, workers=1, progress=False)
    assert [r["status"] for r in records] == ["skipped", "done", "skipped", "skipped"]
    assert load_failures(tmp_path) == []
    calls = _invocations(markers)
    assert [calls[config_key(c)] for c in configs] == [1, 2, 1, 1]


def test_retries_repeat_a_failing_task(tmp_path, markers, monkeypatch):
    monkeypatch.setenv(FAIL_X, "0")
    (record,) = run_sweep(TASK, _configs(1), tmp_path, workers=1, progress=False, retries=2)
    assert record["status"] == "failed" and record["attempts"] == 3
    assert sum(_invocations(markers).values()) == 3


def test_a_dying_worker_costs_only_its_own_run(tmp_path, markers, monkeypatch):
    configs = _configs(6)
    monkeypatch.setenv(DIE_X, "2")
    records = run_sweep(TASK, configs, tmp_path, workers=2, progress=False, retries=1)
    assert [r["status"] for r in records] == ["done", "done", "failed", "done", "done", "done"]
    assert "worker process died" in records[2]["error"] and records[2]["attempts"] == 2
    assert [p.name for p in (tmp_path / "failed").iterdir()] == [f"{config_key(configs[2])}.json"]
    first = _invocations(markers)
    assert [first[config_key(c)] for c in configs] == [1, 1, 2, 1, 1, 1]

    monkeypatch.delenv(DIE_X)
    again = run_sweep(TASK, configs, tmp_path, workers=2, progress=False)
    assert [r["status"] for r in again] == ["skipped"] * 2 + ["done"] + ["skipped"] * 3
    assert _invocations(markers) - first == Counter({config_key(configs[2]): 1})


# ----------------------------------------------------------------------------------------------
# execution back ends and seeds
# ----------------------------------------------------------------------------------------------


def test_one_and_two_workers_give_identical_results(tmp_path, markers):
    configs = _configs(6)
    one = run_sweep(TASK, configs, tmp_path / "one", workers=1, progress=False)
    two = run_sweep(TASK, configs, tmp_path / "two", workers=2, progress=False)
    assert _stable(one) == _stable(two)
    # each run has its own global RNG stream, not one shared across runs
    legacy = [r["result"]["legacy"] for r in one]
    assert len(set(legacy)) == len(legacy)
    assert [r["result"]["draw"] for r in one] == [
        np.random.default_rng(c["seed"]).standard_normal() for c in configs
    ]


def test_in_process_runs_leave_the_callers_global_rng_alone(tmp_path, markers):
    np.random.seed(123)  # noqa: NPY002
    expected = np.random.random(3)  # noqa: NPY002
    np.random.seed(123)  # noqa: NPY002
    run_sweep(TASK, _configs(2), tmp_path, workers=1, progress=False)
    np.testing.assert_array_equal(np.random.random(3), expected)  # noqa: NPY002


def test_dask_scheduler(tmp_path, markers, monkeypatch):
    distributed = pytest.importorskip(
        "dask.distributed", reason="the optional [dist] extra (dask.distributed) is not installed"
    )
    configs = _configs(4)
    local = run_sweep(TASK, configs, tmp_path / "local", workers=1, progress=False)
    monkeypatch.setenv(FAIL_X, "3")
    with (
        # one thread: threads of one process share the legacy global RNG the toy task reads
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        via_client = run_sweep(TASK, configs, tmp_path / "dask", scheduler=client, progress=False)
        assert [r["status"] for r in via_client] == ["done"] * 3 + ["failed"]
        assert _stable(via_client[:3]) == _stable(local[:3])
        assert via_client[3]["error"] == "RuntimeError: boom at x=3"
        # an address: the sweep opens (and closes) its own client; only the failure re-runs
        monkeypatch.delenv(FAIL_X)
        via_address = run_sweep(
            TASK, configs, tmp_path / "dask", scheduler=cluster.scheduler_address, progress=False
        )
        assert [r["status"] for r in via_address] == ["skipped"] * 3 + ["done"]
    assert _stable(via_address) == _stable([{**r, "status": "skipped"} for r in local[:3]]) + (
        _stable(local[3:])
    )
    with pytest.raises(ValueError, match="workers"):
        run_sweep(TASK, configs, tmp_path, workers=2, scheduler="tcp://127.0.0.1:1")


def test_missing_dask_names_the_dist_extra(tmp_path, markers, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(ImportError, match=r"diffmem-theory\[dist\]"):
        run_sweep(TASK, _configs(1), tmp_path, scheduler="tcp://127.0.0.1:1", progress=False)


# ----------------------------------------------------------------------------------------------
# named sweeps
# ----------------------------------------------------------------------------------------------


def test_registry_of_named_sweeps(monkeypatch):
    names = [s.name for s in list_sweeps()]
    assert "paper000.crossover_grid" in names and names == sorted(names)
    with pytest.raises(ValueError, match="unknown sweep"):
        get_sweep("paper000.no_such_sweep")
    with pytest.raises(ValueError, match="<paper>"):
        sweep_spec("no_paper_prefix", register=False)(lambda quick: (TASK, []))
    monkeypatch.setattr(sweep, "_SWEEPS", dict(sweep._SWEEPS))

    @sweep_spec("core.toy")
    def toy_specs(quick):
        return TASK, _configs(2 if quick else 4)

    assert get_sweep("core.toy") is toy_specs
    assert len(toy_specs.specs(quick=False)[1]) == 4
    with pytest.raises(ValueError, match="already registered"):
        sweep_spec("core.toy")(lambda quick: (TASK, []))


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: sweep_spec(math.nan), TypeError, "name must be a string"),
        (lambda: sweep_spec("core.x", description=1j), TypeError, "description must be a str"),
        (lambda: sweep_spec("core.x", register=math.nan), ValueError, "register must be True"),
        (lambda: SweepSpec("core.x", None), TypeError, "build must be a function"),
        (lambda: SweepSpec("core.x", print, math.inf), TypeError, "description must be a str"),
        (lambda: get_sweep(None), TypeError, "name must be a string"),
        (lambda: get_sweep("paper000.crossover_grid").specs(math.nan), ValueError, "quick must"),
        (lambda: get_sweep("paper000.crossover_grid").specs(1j), ValueError, "quick must be"),
    ],
)
def test_sweep_specs_check_their_arguments(make, error, message):
    """NaN and complex were accepted as names, descriptions and the quick flag (bool(nan))."""
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: config_key({"K": math.nan}), ValueError, r"config\['K'\] must not be or hold NaN"),
        (lambda: config_key({"v": [1.0, math.nan]}), ValueError, r"config\['v'\] must not be"),
        (lambda: config_key(None), TypeError, "config must be a dict"),
        (lambda: config_key([("K", 1)]), TypeError, "config must be a dict"),
        (lambda: config_key({1: 2}), ValueError, "config keys must be strings"),
        (lambda: result_path("runs", {"seed": math.nan}), ValueError, "must not be or hold NaN"),
        (lambda: result_path(None, {"seed": 0}), TypeError, "out_dir must be a path"),
        (lambda: load_results(1.5), TypeError, "out_dir must be a path"),
        (lambda: load_failures(math.nan), TypeError, "out_dir must be a path"),
        (lambda: load_results(""), ValueError, "out_dir must be a directory path"),
    ],
)
def test_configs_and_folders_are_checked(call, error, message):
    """A NaN parameter describes no run (and the key said 'K=nan'); a non-path was a TypeError
    from pathlib that did not name out_dir."""
    with pytest.raises(error, match=message):
        call()


def test_a_nan_config_is_refused_before_anything_runs(tmp_path, markers):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"configs\[1\]\['x'\] must not be or hold NaN"):
        run_sweep(TASK, [{"x": 1, "seed": 0}, {"x": math.nan, "seed": 0}], out, workers=1)
    assert not any(markers.iterdir()) and not out.exists()
    assert config_key({"x": math.inf}) == "x=inf"  # infinities stay valid parameters


def test_crossover_grid_sweep_matches_eq_14(tmp_path):
    spec = get_sweep("paper000.crossover_grid")
    _, quick = spec.specs(quick=True)
    assert len(quick) == 12 and len(spec.specs(quick=False)[1]) == 44
    records = spec.run(tmp_path, workers=1, progress=False)
    grid = VPTrig().time_grid()
    for r in records:
        c = r["config"]
        ratio = r["result"]["ratio"]
        if c["times"] == "continuous":
            expected = 1.0 - 1.0 / (3.0 * c["C"]) if c["weighting"] == "x0" else 1.0
            assert ratio == pytest.approx(expected, rel=1e-12)
        else:
            assert ratio == crossover_ratio(c["weighting"], times=grid, C=c["C"])
    by_key = {r["key"]: r["result"]["ratio"] for r in records}
    assert round(by_key["C=1.0_times=grid_weighting=x0"], 5) == 0.66036
    assert round(by_key["C=2.0_times=grid_weighting=x0"], 5) == 0.83018
