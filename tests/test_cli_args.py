"""`diffmem` checks its arguments before any work: one line on stderr, exit status 2.

Before: ``sweep --out FILE`` (or a path under a file) and an unreachable ``--scheduler`` printed
raw tracebacks, ``figure NAME --out FILE`` computed the whole figure and then failed, ``check
--seed -1`` was accepted and every seeded check reported an error, an ``--out`` folder holding
another sweep's results was accepted and mixed, and ``diffmem list | head`` ended in a
``BrokenPipeError`` traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from diffmem_theory import registry, sweep
from diffmem_theory.cli import main

TASK = f"{__name__}:counted_square"
RUNS: list[int] = []  # the task's calls (the CLI sweeps here run in-process, --workers 1)


def counted_square(config: dict) -> dict:
    RUNS.append(config["x"])
    return {"square": config["x"] ** 2}


@pytest.fixture
def toy_sweeps(monkeypatch):
    """Two registered sweeps of the same task, ``core.cli_toy`` and ``core.cli_other``."""
    registry.discover()  # first, or the package's sweeps would land in the scratch registry
    monkeypatch.setattr(sweep, "_SWEEPS", dict(sweep._SWEEPS))
    RUNS.clear()
    for name in ("core.cli_toy", "core.cli_other"):
        sweep.sweep_spec(name)(lambda quick: (TASK, [{"x": x} for x in range(2 if quick else 3)]))


@pytest.fixture
def toy_figure(monkeypatch):
    """A registered experiment ``core.cli_figure`` that counts its runs."""
    registry.discover()
    monkeypatch.setattr(registry, "_EXPERIMENTS", dict(registry._EXPERIMENTS))
    calls: list[bool] = []

    def plot(result):
        import matplotlib.pyplot as plt

        return plt.figure()

    registry.experiment("core.cli_figure", plot=plot, figure="-", title="toy")(
        lambda quick=True, seed=0: calls.append(quick)
    )
    return calls


def _refused(capsys, argv: list[str], *phrases: str) -> str:
    """``main(argv)`` exits with 2 and one line on stderr naming the problem; returns it."""
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("diffmem") and "error: " in err, err
    assert "Traceback" not in err
    for phrase in phrases:
        assert phrase in err, err
    return err


@pytest.mark.parametrize(
    ("argv", "phrase"),
    [
        (["check", "--seed", "-1"], "argument --seed: must be an integer in [0, 4294967295]"),
        (["check", "--seed", "4294967296"], "argument --seed"),
        (["check", "--seed", "x"], "argument --seed"),
        (["check", "--precision", "5"], "argument --precision: must be an integer in [15, 1000]"),
        (["check", "--precision", "1001"], "argument --precision"),
        (["figure", "core", "--seed", "-2"], "argument --seed"),
        (["reproduce", "--seed", "-1"], "argument --seed"),
        (["reproduce", "--out", ""], "argument --out: must be a directory path"),
        (["sweep", "core.cli_toy", "--out", "d", "--workers", "0"], "argument --workers"),
        (["sweep", "core.cli_toy", "--out", "d", "--retries", "-1"], "argument --retries"),
        (["sweep", "core.cli_toy", "--out", " "], "argument --out"),
        (["no_such_command"], "invalid choice"),
        (["list", "--checks", "--experiments"], "not allowed with argument"),
        (["list", "--paper", "7"], "paper must be one of"),
        (["list", "--errata", "--checks"], "not allowed with argument"),
        (["list", "--errata", "--paper", "paper9"], "paper must be one of"),
        (["check", "core.no_such_check"], "unknown check"),
        (["figure", "core.no_such_figure"], "unknown experiment"),
        (["sweep", "core.no_such_sweep", "--out", "d"], "unknown sweep"),
        (["sweep", "core.cli_toy"], "give a sweep NAME and --out DIR"),
        (
            ["sweep", "core.cli_toy", "--out", "d", "--workers", "2", "--scheduler", "x:1"],
            "workers",
        ),
    ],
)
def test_bad_arguments_give_one_line_and_status_2(
    capsys, monkeypatch, toy_sweeps, tmp_path, argv, phrase
):
    monkeypatch.chdir(tmp_path)  # "d" would be created here if the command went ahead
    _refused(capsys, argv, phrase)
    assert RUNS == [] and not (tmp_path / "d").exists()


def test_help_exits_0(capsys):
    assert main(["sweep", "--help"]) == 0
    assert "--scheduler" in capsys.readouterr().out


@pytest.mark.parametrize("under", [False, True], ids=["file", "under-a-file"])
def test_sweep_out_naming_a_file(capsys, toy_sweeps, tmp_path, under):
    target = tmp_path / "results"
    target.write_text("not a folder")
    out = target / "sub" if under else target
    _refused(capsys, ["sweep", "core.cli_toy", "--out", str(out)], "not a directory")
    assert RUNS == [] and target.read_text() == "not a folder"


@pytest.mark.parametrize("command", ["figure", "reproduce"])
def test_figure_out_naming_a_file_fails_before_computing(capsys, toy_figure, tmp_path, command):
    target = tmp_path / "report"
    target.write_text("not a folder")
    argv = [command, "core.cli_figure"] if command == "figure" else [command, "--paper", "core"]
    _refused(capsys, [*argv, "--out", str(target / "x")], "lies under the file")
    _refused(capsys, [*argv, "--out", str(target)], "is a file, not a directory")
    assert toy_figure == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_out(capsys, toy_sweeps, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    _refused(capsys, ["sweep", "core.cli_toy", "--out", str(locked / "d")], "not writable")
    assert RUNS == []


def test_out_holding_another_sweep_or_mode_is_refused(capsys, toy_sweeps, tmp_path):
    out = str(tmp_path / "out")
    assert main(["sweep", "core.cli_toy", "--out", out, "--workers", "1", "--no-progress"]) == 0
    assert "2 runs, 2 done" in capsys.readouterr().out and RUNS == [0, 1]
    before = sorted((p.name, p.read_bytes()) for p in (tmp_path / "out").iterdir())
    err = _refused(capsys, ["sweep", "core.cli_other", "--out", out, "--workers", "1"])
    assert "holds results of sweep 'core.cli_toy' (quick), not of sweep 'core.cli_other'" in err
    err = _refused(capsys, ["sweep", "core.cli_toy", "--full", "--out", out, "--workers", "1"])
    assert "(quick), not of sweep 'core.cli_toy' (full)" in err
    assert RUNS == [0, 1]
    assert sorted((p.name, p.read_bytes()) for p in (tmp_path / "out").iterdir()) == before


def test_unreachable_scheduler(capsys, toy_sweeps, tmp_path):
    pytest.importorskip("dask.distributed", reason="needs the optional [dist] extra")
    import dask

    out = str(tmp_path / "out")
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        _refused(
            capsys,
            ["sweep", "core.cli_toy", "--out", out, "--scheduler", "tcp://127.0.0.1:1"],
            "cannot connect to the Dask scheduler 'tcp://127.0.0.1:1'",
        )
    _refused(
        capsys,
        ["sweep", "core.cli_toy", "--out", out, "--scheduler", "foo://bar:1"],
        "unknown address scheme",
    )
    assert RUNS == [] and not (tmp_path / "out").exists()


def test_a_closed_pipe_ends_the_command_quietly():
    """`diffmem list | head`: the reader goes away before the listing is written."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "diffmem_theory.cli", "list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # before the command writes anything
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 1
    assert err == ""
