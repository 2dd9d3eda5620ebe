"""The ``diffmem`` command line and the HTML report it writes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from diffmem_theory import registry
from diffmem_theory.cli import main
from diffmem_theory.registry import Outcome, check


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.row_classes: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        if tag == "tr" and "class" in attrs:
            self.row_classes.append(attrs["class"])


def test_list_names_checks_and_experiments(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "checks:" in out and "experiments:" in out
    for spec in registry.list_checks():
        assert spec.name in out


def test_list_errata_prints_the_catalogue_of_every_paper(capsys):
    assert main(["list", "--errata"]) == 0
    out = capsys.readouterr().out
    assert "checks:" not in out and "experiments:" not in out
    for paper, package in registry.PACKAGES.items():
        if paper != "core":
            assert re.search(rf"^{paper} \({package}\): ", out, re.M), paper
    flat = " ".join(out.split())  # the long lines are wrapped
    for entry in registry.list_errata():
        assert f"\n  {entry.name}  -- " in out and f"{entry.name} -- {entry.where}" in flat
        assert f"    check:          {entry.check or '-'}\n" in out[out.index(entry.name) :]


def test_list_errata_of_one_paper(capsys):
    assert main(["list", "--errata", "--paper", "000"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("paper000 (crossover): ")
    assert "paper001" not in out and "paper000.coupon_c4  -- App. C.2, Prop. C.4" in out
    assert "0.893773 < 0.908371" in out  # the counterexample's numbers


def test_list_json(capsys):
    assert main(["list", "--errata", "--paper", "000", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["errata"]
    assert [registry.Erratum(**{k: v for k, v in r.items() if k != "paper"}) for r in rows] == (
        registry.list_errata("000")
    )
    assert main(["list", "--checks", "--paper", "core", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert list(listed) == ["checks"]
    assert [c["name"] for c in listed["checks"]] == [c.name for c in registry.list_checks("core")]
    assert set(listed["checks"][0]) == {"name", "paper", "equation", "description", "erratum"}
    assert main(["list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed["experiments"]) == len(registry.list_experiments())
    assert set(listed["experiments"][0]) == {"name", "paper", "figure", "title"}


def test_list_errata_layout(capsys, monkeypatch):
    """Grouped by paper; every field on its own labelled line, wrapped to 100 columns."""
    monkeypatch.setattr(registry, "_ERRATA", {})
    monkeypatch.setattr(registry, "discover", lambda: None)
    registry.erratum("core.demo_misprint", where="eq. (1)", printed="1 + 1 = 3", correction="2")
    long = " ".join(["word"] * 40)
    registry.erratum(
        "paper002.demo_bound",
        where="Thm 9 " + " ".join(["and more"] * 15),
        printed="x <= 1",
        correction=long,
        counterexample="x = 2",
        check="paper002.erratum_demo_bound",
    )
    assert main(["list", "--errata"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["core (core): 1 erratum", "  core.demo_misprint  -- eq. (1)"]
    assert lines[2:6] == [
        "    printed:        1 + 1 = 3",
        "    correction:     2",
        "    counterexample: -",
        "    check:          -",
    ]
    assert "paper001 (mixing): no errata" in lines and "paper002 (voronoi): 1 erratum" in lines
    head = lines.index("paper002 (voronoi): 1 erratum") + 1
    assert lines[head].startswith("  paper002.demo_bound  -- Thm 9 and more")
    assert re.match(r" {6}\S", lines[head + 1]) and lines[head + 1].endswith("and more")
    assert max(len(line) for line in lines) <= 100
    at = lines.index("    printed:        x <= 1")
    assert lines[at + 1].startswith("    correction:     word word")
    end = lines.index("    counterexample: x = 2")
    assert all(line.startswith(" " * 20 + "word") for line in lines[at + 2 : end])
    assert lines[end : end + 3] == [
        "    counterexample: x = 2",
        "    check:          paper002.erratum_demo_bound",
        "paper003 (fisher): no errata",
    ]
    assert main(["list", "--errata", "--paper", "001"]) == 0
    assert capsys.readouterr().out == "no errata catalogued for paper 001\n"


def test_check_json_and_exit_status(capsys, monkeypatch):
    first = registry.list_checks()[0].name
    assert main(["check", first, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == [first]
    assert rows[0]["status"] in ("pass", "erratum")

    # a failing check makes the exit status non-zero
    monkeypatch.setattr(registry, "_CHECKS", dict(registry._CHECKS))

    @check("core.always_fails", equation="-")
    def _fails() -> Outcome:
        return Outcome(value=1.0, reference=0.0, tolerance=0.1, passed=False, note="by design")

    assert main(["check", "core.always_fails"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "by design" in out


def test_unknown_names_give_exit_status_2(capsys):
    assert main(["check", "paper000.no_such_check"]) == 2
    assert "unknown check" in capsys.readouterr().err
    assert main(["figure", "paper000.no_such_figure"]) == 2


def test_figure_writes_png_and_pdf(tmp_path, capsys):
    name = registry.list_experiments(paper="core")[0].name
    assert main(["figure", name, "--quick", "--out", str(tmp_path)]) == 0
    stem = name.replace(".", "_")
    for suffix in (".png", ".pdf"):
        path = tmp_path / "figures" / f"{stem}{suffix}"
        assert path.stat().st_size > 1000


def test_reproduce_writes_a_complete_report(tmp_path):
    """`diffmem reproduce --quick` as a user runs it: every image loads, every check renders."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "diffmem_theory.cli",
            "reproduce",
            "--quick",
            "--paper",
            "core",
            "--out",
            str(tmp_path),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    page = (tmp_path / "index.html").read_text()
    parser = _Page()
    parser.feed(page)
    experiments = registry.list_experiments(paper="core")
    checks = registry.list_checks(paper="core")
    assert len(parser.images) == len(experiments)
    for src in parser.images:
        data = (tmp_path / src).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert parser.row_classes.count("check-row") == len(checks)
    assert parser.row_classes.count("figure-row") == len(experiments)
    results = json.loads((tmp_path / "results.json").read_text())
    assert {c["name"] for c in results["checks"]} == {c.name for c in checks}
    assert re.search(r"Figures: (\d+) of \1 ok", page)


def test_console_script_is_installed():
    exe = Path(sys.executable).with_name("diffmem")
    if not exe.exists():
        pytest.skip("package not installed with its console script in this environment")
    proc = subprocess.run([str(exe), "list", "--experiments"], capture_output=True, text=True)
    assert proc.returncode == 0 and "experiments:" in proc.stdout


def test_sweep_list(capsys):
    assert main(["sweep", "--list"]) == 0
    assert "paper000.crossover_grid" in capsys.readouterr().out


def test_sweep_runs_then_skips_everything(tmp_path, capsys):
    args = ["sweep", "paper000.crossover_grid", "--quick", "--out", str(tmp_path)]
    assert main([*args, "--workers", "1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "12 runs, 12 done, 0 skipped, 0 failed" in out
    assert len(list(tmp_path.glob("*.json"))) == 12
    assert main([*args, "--workers", "2", "--no-progress"]) == 0
    assert "12 runs, 0 done, 12 skipped, 0 failed" in capsys.readouterr().out


def test_sweep_failures_and_bad_usage(tmp_path, capsys, monkeypatch):
    from diffmem_theory import sweep

    assert main(["sweep", "paper000.crossover_grid"]) == 2  # no --out
    assert main(["sweep", "paper000.no_such_sweep", "--out", str(tmp_path)]) == 2
    assert "unknown sweep" in capsys.readouterr().err

    monkeypatch.setattr(sweep, "_SWEEPS", dict(sweep._SWEEPS))
    task = "diffmem_theory.crossover.figures.crossover_sweep:crossover_task"

    @sweep.sweep_spec("core.failing_sweep")
    def _specs(quick):
        return task, [{"C": c, "times": "grid", "weighting": "x0"} for c in (1.0, -1.0)]

    argv = ["sweep", "core.failing_sweep", "--out", str(tmp_path), "--workers", "1"]
    assert main([*argv, "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert "1 done, 0 skipped, 1 failed" in captured.out
    assert "C must be > 0" in captured.err

    # --scheduler without the optional [dist] extra: a message naming it, exit status 2
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    argv = ["sweep", "core.failing_sweep", "--out", str(tmp_path / "d")]
    assert main([*argv, "--scheduler", "tcp://127.0.0.1:1", "--no-progress"]) == 2
    assert "[dist]" in capsys.readouterr().err


def test_figure_reproduce_and_check_keep_jax_compilations(monkeypatch, tmp_path):
    """A persistent JAX compilation cache under the user's cache dir (programs, not results),
    set through the environment so that JAX is not imported for it; the user's values win."""
    from diffmem_theory import cli

    for var in ("JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setitem(sys.modules, "jax", None)  # as if JAX were not imported yet
    cli._compilation_cache()
    expected = tmp_path / ".cache" / "diffmem_theory" / "jax"
    assert cli.os.environ["JAX_COMPILATION_CACHE_DIR"] == str(expected)
    assert cli.os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] == "0"
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "mine"))
    cli._compilation_cache()
    assert cli.os.environ["JAX_COMPILATION_CACHE_DIR"] == str(tmp_path / "mine")
