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
