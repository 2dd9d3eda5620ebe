"""The static HTML report: its tables parsed back, and the page opened in headless Chromium."""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from browser import CHROMIUM, NO_CHROMIUM, harness_result, serve
from hypothesis import given, settings
from hypothesis import strategies as st

from diffmem_theory.plotting import figure, save_figure
from diffmem_theory.registry import CheckResult, Erratum, Outcome, check
from diffmem_theory.report import FigureRecord, environment, write_report

# ---------------------------------------------------------------------------------------------
# The page parsed back into its tables (a plain-HTMLParser twin of what a browser shows)


class _Tables(HTMLParser):
    """Cell texts of every ``tr`` by row class, and the ``src`` of every ``img``."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[list[str]]] = {}
        self.images: list[str] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        elif tag == "tr" and "class" in attrs:
            self._row = []
            self.rows.setdefault(attrs["class"], []).append(self._row)
        elif tag == "td" and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _parse(page: Path) -> _Tables:
    tables = _Tables()
    tables.feed(page.read_text(encoding="utf-8"))
    return tables


def _number(value: float | None, digits: int = 6) -> str:
    return "\u2013" if value is None else f"{value:.{digits}g}"


def _result(name: str, status: str, **fields) -> CheckResult:
    base = dict(
        name=name,
        paper=name.split(".")[0],
        equation="Author et al., eq. (1)",
        description="a statement",
        erratum=status == "erratum",
        value=1.0,
        reference=1.0,
        tolerance=1e-3,
        passed=status in ("pass", "erratum"),
        status=status,
        note="",
        seconds=0.01,
    )
    return CheckResult(**{**base, **fields})


# ---------------------------------------------------------------------------------------------
# FigureRecord, environment, write_report


@pytest.mark.parametrize(
    ("fields", "argument"),
    [
        ({"mode": "fast"}, "mode"),
        ({"status": "done"}, "status"),
        ({"seconds": -1.0}, "seconds"),
        ({"seconds": math.nan}, "seconds"),
        ({"files": ["/abs/fig.png"]}, "files"),
        ({"files": ["../fig.png"]}, "files"),
        ({"files": ["C:\\out\\fig.png"]}, "files"),
        ({"files": [""]}, "files"),
    ],
)
def test_figure_record_rejects_bad_fields(fields, argument):
    base = dict(name="core.x", paper="core", figure="-", title="t", mode="quick", seconds=1.0)
    with pytest.raises(ValueError, match=argument):
        FigureRecord(**{**base, "status": "ok", **fields})


@pytest.mark.parametrize(
    ("fields", "error", "argument"),
    [
        ({f: bad}, TypeError, f"{f} must be a string")
        for f in ("name", "paper", "figure", "title", "error", "mode", "status")
        for bad in (math.nan, -math.inf, 1 + 1j, None)
    ]
    + [
        ({"paper": "paper000"}, ValueError, "paper must be 'core', the prefix of name"),
        ({"name": "x"}, ValueError, "name must look like"),
        ({"seconds": 1j}, ValueError, "seconds must be a real scalar"),
        ({"files": "figures/a.png"}, TypeError, "files must be a list of paths"),
        ({"files": None}, TypeError, "files must be a list of paths"),
        ({"files": [math.nan]}, TypeError, "files must be a list of paths"),
        ({"files": [b"a.png"]}, TypeError, "files must be a list of paths"),
    ],
)
def test_figure_record_fields_have_their_types(fields, error, argument):
    """NaN, inf and complex were stored in the text fields and a string split into files."""
    base = dict(name="core.x", paper="core", figure="-", title="t", mode="quick", seconds=1.0)
    with pytest.raises(error, match=argument):
        FigureRecord(**{**base, "status": "ok", **fields})


def test_figure_record_stores_posix_paths():
    rec = FigureRecord("core.x", "core", "-", "t", "full", 2, "ok", ["figures\\a.png", "b/c.pdf"])
    assert rec.files == ["figures/a.png", "b/c.pdf"] and rec.seconds == 2.0
    assert FigureRecord(
        "core.x", "core", "-", "t", "full", 2, "ok", [Path("d", "e.png")]
    ).files == ["d/e.png"]


def test_environment_names_versions_cores_and_backend():
    env = environment()
    for key in ("python", "numpy", "numba", "cores", "usable cores", "kernel backend", "cupy"):
        assert key in env and isinstance(env[key], str) and env[key]
    assert 1 <= int(env["usable cores"]) <= int(env["cores"])
    assert env["kernel backend"].startswith("numba")


def test_report_sections_statuses_and_json(tmp_path):
    figs = [
        FigureRecord("paper000.fig2", "paper000", "Fig. 2", "phase", "quick", 3.25, "ok"),
        FigureRecord(
            "paper001.fig1", "paper001", "Fig. 1", "t_M", "full", 1.0, "error", [], "Boom"
        ),
    ]
    checks = [
        _result("paper000.a", "pass"),
        _result("paper001.b", "fail", note="off by 2\n"),
        _result("paper002.c", "erratum"),
        _result("paper003.d", "error", value=None, reference=None, tolerance=None),
    ]
    page = write_report(tmp_path, figs, checks, env={"cores": 2, "kernel backend": "numba"})
    text = page.read_text()
    tables = _parse(page)
    assert [r[-1] for r in tables.rows["figure-row"]] == ["ok", "error"]
    assert [r[7] for r in tables.rows["check-row"]] == ["pass", "fail", "erratum", "error"]
    assert tables.rows["check-row"][3][4:7] == ["\u2013"] * 3
    assert tables.rows["check-row"][1][-1] == "off by 2"
    papers = ["paper000", "paper001", "paper002", "paper003"]
    assert [r[0] for r in tables.rows["paper-row"]] == papers
    assert [r[1:] for r in tables.rows["paper-row"]] == [
        ["1", "0", "0", "0", "1"],
        ["0", "0", "1", "0", "1"],
        ["0", "1", "0", "0", "1"],
        ["0", "0", "0", "1", "1"],
    ]
    for status in ("pass", "fail", "erratum", "error"):
        assert f"<td class='{status}'>{status}</td>" in text
    assert "Figures: 1 of 2 ok." in text and "1 erratum, 1 error, 1 fail, 1 pass" in text
    assert "Total wall time: 4.3 s" in text  # the recorded total, rendered (not a timing)
    assert "<pre>Boom</pre>" in text
    assert "<script" not in text and "http" not in text  # static, no external resources
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["environment"] == {"cores": "2", "kernel backend": "numba"}
    assert [c["status"] for c in saved["checks"]] == ["pass", "fail", "erratum", "error"]
    assert [FigureRecord(**f) for f in saved["figures"]] == figs


def test_report_lists_the_errata_catalogue_per_paper_with_the_check_status(tmp_path):
    errata = [
        Erratum("paper000.bound", "Thm 1", "x <= 1", "x <= 2", "x = 1.5", "paper000.erratum_bound"),
        Erratum("paper000.typo", "Sec. 2", "N^{-1/2d}", "N^{-1/(2d)}"),
        Erratum("paper002.limit", "eq. (3) <&>", "a < b", "a <= b", "a = b = 0", "paper002.lim"),
        Erratum("paper003.gone", "Lemma 4", "p >= 0.9", "p >= 0.8", "p = 0.85", "paper003.gone"),
    ]
    checks = [
        _result("paper000.erratum_bound", "erratum"),
        _result("paper002.lim", "fail", erratum=True),
        _result("paper000.other", "pass"),
    ]
    page = write_report(tmp_path, [], checks, env={"cores": "2"}, errata=errata)
    text = page.read_text()
    rows = _parse(page).rows["erratum-row"]
    assert rows == [
        [
            "paper000.bound",
            "Thm 1",
            "x <= 1",
            "x <= 2",
            "x = 1.5",
            "paper000.erratum_bound",
            "erratum",
        ],
        ["paper000.typo", "Sec. 2", "N^{-1/2d}", "N^{-1/(2d)}", "\u2013", "\u2013", "misprint"],
        ["paper002.limit", "eq. (3) <&>", "a < b", "a <= b", "a = b = 0", "paper002.lim", "fail"],
        [
            "paper003.gone",
            "Lemma 4",
            "p >= 0.9",
            "p >= 0.8",
            "p = 0.85",
            "paper003.gone",
            "not run",
        ],
    ]
    for paper, package in (
        ("paper000", "crossover"),
        ("paper002", "voronoi"),
        ("paper003", "fisher"),
    ):
        assert f"<h3>{paper} ({package})</h3>" in text
        assert f"<table class='errata' id='errata-{paper}'>" in text
    assert "paper001 (" not in text  # a paper without entries has no table
    assert (
        text.index('id="checks"') < text.index("<h2>Errata</h2>") < text.index('id="environment"')
    )
    assert "Errata section lists" in text and "notes" not in text
    saved = json.loads((tmp_path / "results.json").read_text())
    assert [
        Erratum(**{k: v for k, v in e.items() if k != "paper"}) for e in saved["errata"]
    ] == errata
    # without a catalogue the page has no Errata section
    plain = write_report(tmp_path / "plain", [], checks, env={"cores": "2"}).read_text()
    assert "<h2>Errata</h2>" not in plain and "erratum-row" not in plain


@pytest.mark.parametrize("errata", ["paper000.bound", [("paper000.bound",)], None])
def test_report_errata_must_be_a_sequence_of_erratum(tmp_path, errata):
    with pytest.raises(TypeError, match="errata must"):
        write_report(tmp_path, [], [], env={}, errata=errata)
    assert not (tmp_path / "index.html").exists()


_TEXT = st.text(
    alphabet=st.characters(exclude_categories=("Cs", "Cc"), include_characters="<>&'\""),
    max_size=12,
)
_STATUSES = ("pass", "erratum", "fail", "error")  # the column order of table#papers
_PAPERS = ("core", "paper000", "paper001", "paper002", "paper003", "paper004")
_VALUE = st.none() | st.floats(allow_nan=False, allow_infinity=False, width=64)
_NONFINITE = st.sampled_from([math.nan, math.inf, -math.inf])  # a failed check's value


@st.composite
def _names(draw) -> str:
    """A registered name ``<paper>.<any text>``: the markup characters are in its tail."""
    return f"{draw(st.sampled_from(_PAPERS))}.{draw(_TEXT)}"


@st.composite
def _check_results(draw) -> CheckResult:
    status = draw(st.sampled_from(_STATUSES))
    failed = status in ("fail", "error")
    name = draw(_names())
    return _result(
        name,
        status,
        paper=name.split(".")[0],
        equation=draw(_TEXT),
        description=draw(_TEXT),
        value=draw(_VALUE | _NONFINITE if failed else _VALUE),
        reference=draw(_VALUE),
        tolerance=draw(st.none() | st.floats(0, 1e300)),
        note=draw(_TEXT),
        seconds=draw(st.floats(0, 1e4)),
    )


@st.composite
def _figure_records(draw) -> FigureRecord:
    stem = draw(st.from_regex(r"[a-z0-9_]{1,8}", fullmatch=True))
    name = draw(_names())
    return FigureRecord(
        name=name,
        paper=name.split(".")[0],
        figure=draw(_TEXT),
        title=draw(_TEXT),
        mode=draw(st.sampled_from(["quick", "full"])),
        seconds=draw(st.floats(0, 1e5)),
        status=draw(st.sampled_from(["ok", "error"])),
        files=draw(st.sampled_from([[], [f"figures/{stem}.png", f"figures/{stem}.pdf"]])),
    )


@settings(max_examples=40, deadline=None)
@given(st.lists(_figure_records(), max_size=4), st.lists(_check_results(), max_size=6))
def test_every_record_renders_as_one_row_with_its_cells(figs, checks):
    """Any text (markup characters included) comes back cell for cell, one row per record."""
    with tempfile.TemporaryDirectory() as d:
        tables = _parse(write_report(d, figs, checks, env={"cores": "2"}))
    expected_checks = [
        [
            c.name,
            c.paper,
            c.equation,
            c.description,
            _number(c.value),
            _number(c.reference),
            _number(c.tolerance, 3),
            c.status,
            f"{c.seconds:.2f}",
            c.note.strip(),
        ]
        for c in checks
    ]
    expected_figs = [
        [r.paper, r.figure, r.name, r.mode, f"{r.seconds:.1f}", r.status] for r in figs
    ]
    assert tables.rows.get("check-row", []) == expected_checks
    assert tables.rows.get("figure-row", []) == expected_figs
    tally = {
        p: [sum(c.paper == p and c.status == s for c in checks) for s in _STATUSES]
        for p in {c.paper for c in checks}
    }
    expected_papers = [[p, *map(str, n), str(sum(n))] for p, n in sorted(tally.items())]
    assert tables.rows.get("paper-row", []) == expected_papers
    assert tables.images == [f for r in figs for f in r.files if f.endswith(".png")]


# ---------------------------------------------------------------------------------------------
# The report in headless Chromium: every image loads, every check row renders

#: Loads the good and the broken report in same-origin iframes; when both have loaded,
#: writes what it measured into ``pre#result`` (read back from Chromium's --dump-dom).
_HARNESS = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>report harness</title></head><body>
<script>
var measured = {};
function measure(frame) {
  var doc = frame.contentDocument;
  var imgs = Array.prototype.slice.call(doc.images);
  var columns = doc.querySelectorAll("#checks th").length;
  var rows = Array.prototype.slice.call(doc.querySelectorAll("#checks tr.check-row"));
  return {
    images: imgs.length,
    loaded: imgs.filter(function (im) { return im.complete && im.naturalWidth > 0; }).length,
    rows: rows.length,
    rendered: rows.filter(function (r) {
      return r.getBoundingClientRect().height > 0 && r.cells.length === columns;
    }).length,
    names: rows.map(function (r) { return r.cells[0].textContent; }),
    figures: doc.querySelectorAll("#summary tr.figure-row").length
  };
}
function loaded(frame) {
  if (!/index\\.html$/.test(frame.contentWindow.location.href)) return;
  measured[frame.id] = measure(frame);
  if (Object.keys(measured).length === 2) {
    var out = document.createElement("pre");
    out.id = "result";
    out.textContent = JSON.stringify(measured);
    document.body.appendChild(out);
  }
}
</script>
<iframe id="good" src="good/index.html" width="1200" height="900" onload="loaded(this)"></iframe>
<iframe id="broken" src="broken/index.html" width="1200" height="900" onload="loaded(this)">
</iframe>
</body></html>
"""


def _demo_checks() -> list[CheckResult]:
    """Real CheckResults with every status, run through the registry's check machinery."""

    @check("core.demo_pass", equation="Demo et al., eq. (1)", register=False)
    def _pass() -> Outcome:
        """sum of squares"""
        value = float(np.sum(np.arange(4.0) ** 2))
        return Outcome(value=value, reference=14.0, tolerance=0.0, passed=value == 14.0)

    @check("core.demo_fail", equation="Demo et al., eq. (2)", register=False)
    def _fail() -> Outcome:
        return Outcome(value=1.0, reference=0.0, tolerance=0.1, passed=False, note="by design")

    @check(
        "core.demo_erratum",
        equation="Demo et al., Lemma <3> & eq. (4)",
        erratum=True,
        register=False,
    )
    def _erratum() -> Outcome:
        return Outcome(value=-1.0, reference=1.0, tolerance=None, passed=True)

    @check("core.demo_error", equation="Demo et al., eq. (5)", register=False)
    def _error() -> Outcome:
        raise ZeroDivisionError("1 / 0")

    return [spec.run() for spec in (_pass, _fail, _erratum, _error)]


def _demo_figures(out: Path) -> list[FigureRecord]:
    """Two figures written as PNG + PDF the way ``diffmem reproduce`` writes them, one error."""
    records = []
    for k, name in enumerate(("core.demo_line", "core.demo_scatter")):
        fig, axes = figure(ncols=1)
        x = np.linspace(0.0, 1.0, 20)
        axes[0].plot(x, x ** (k + 1))
        paths = save_figure(fig, out / "figures" / name.replace(".", "_"))
        plt.close(fig)
        files = [p.relative_to(out).as_posix() for p in paths]
        records.append(FigureRecord(name, "core", f"Fig. {k + 1}", name, "quick", 0.5, "ok", files))
    records.append(
        FigureRecord(
            "core.demo_broken",
            "core",
            "Fig. 3",
            "fails",
            "quick",
            0.1,
            "error",
            [],
            "Traceback: ValueError",
        )
    )
    return records


@pytest.fixture
def served(tmp_path):
    """``tmp_path`` served over HTTP on 127.0.0.1 (random port); yields the base URL."""
    with serve(tmp_path) as url:
        yield url


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_report_in_headless_chromium(tmp_path, served):
    good = tmp_path / "good"
    checks = _demo_checks()
    figures = _demo_figures(good)
    write_report(good, figures, checks)
    # the broken copy lacks one PNG: the harness must see exactly that image fail to load
    shutil.copytree(good, tmp_path / "broken")
    (tmp_path / "broken" / figures[0].files[0]).unlink()
    (tmp_path / "harness.html").write_text(_HARNESS, encoding="utf-8")

    measured = harness_result(f"{served}/harness.html", tmp_path / "profile")

    n_images = sum(f.endswith(".png") for r in figures for f in r.files)
    assert n_images == 2
    assert measured["good"]["images"] == measured["good"]["loaded"] == n_images
    assert measured["good"]["rows"] == measured["good"]["rendered"] == len(checks)
    assert measured["good"]["names"] == [c.name for c in checks]
    assert measured["good"]["figures"] == len(figures)
    assert measured["broken"]["images"] == n_images
    assert measured["broken"]["loaded"] == n_images - 1
