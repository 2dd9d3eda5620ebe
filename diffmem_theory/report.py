"""The static HTML report written by ``diffmem reproduce``.

One static ``index.html`` (no scripts, no external resources; figures are PNG files next
to it, with links to their PDFs) with these sections:

* **Summary**: one row per figure (paper, figure, experiment, quick/full, wall time,
  status), the total wall time, and per paper the number of checks of each status;
* **Figures**: every figure, or the traceback of an experiment that failed;
* **Checks**: the full table of checks (name, paper, equation, statement, computed
  value, reference, tolerance, pass/fail/erratum/error, time, note);
* **Errata** (when the catalogue is given): per paper, every statement printed wrong in it
  (where, as printed, the correction, the counterexample) with the check that reproduces the
  counterexample and that check's status in this run;
* **Environment**: versions, cores and the numerical backend of the run.

A machine-readable ``results.json`` holds the same tables.

Examples
--------
>>> import tempfile, pathlib
>>> from diffmem_theory.report import FigureRecord, write_report
>>> rec = FigureRecord(name="core.demo", paper="core", figure="-", title="Demo",
...                    mode="quick", seconds=0.1, status="ok", files=[])
>>> with tempfile.TemporaryDirectory() as d:
...     page = write_report(d, [rec], [])
...     "core.demo" in pathlib.Path(page).read_text()
True
"""

from __future__ import annotations

import html
import json
import os
import platform
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from diffmem_theory._validation import check_choice, check_scalar
from diffmem_theory.registry import (
    CHECK_STATUSES,
    PACKAGES,
    CheckResult,
    Erratum,
    check_text,
    paper_of,
)
from diffmem_theory.sweep import writable_dir

__all__ = [
    "CSS",
    "FIGURE_MODES",
    "FIGURE_STATUSES",
    "FigureRecord",
    "environment",
    "fmt_number",
    "table_head",
    "table_row",
    "write_report",
]

FIGURE_MODES = ("quick", "full")
FIGURE_STATUSES = ("ok", "error")
_VERSIONED = ("diffmem-theory", "numpy", "scipy", "numba", "sympy", "mpmath", "matplotlib")


def _relative_posix(path: str) -> str:
    """``path`` as a relative POSIX path inside the report directory, else ``ValueError``."""
    text = str(path)
    pure = PurePosixPath(PureWindowsPath(text).as_posix() if "\\" in text else text)
    if not pure.parts or pure.is_absolute() or ".." in pure.parts or ":" in pure.parts[0]:
        raise ValueError(f"files must be relative paths inside the report directory, got {path!r}")
    return pure.as_posix()


@dataclass
class FigureRecord:
    """One experiment's run as shown in the report.

    ``name`` is the experiment's ``"<paper>.<what>"`` and ``paper`` its ``<paper>``; ``figure``,
    ``title`` and ``error`` (the traceback of a failed run) are strings; ``mode`` is
    ``"quick"`` or ``"full"``, ``status`` ``"ok"`` or ``"error"``, ``seconds`` the wall time
    (finite, >= 0) and ``files`` a list of the PNG/PDF paths (strings or path objects) relative
    to the report directory (stored with ``/`` separators). A wrong kind of object raises
    ``TypeError``, a wrong value ``ValueError``, naming the field.

    Examples
    --------
    >>> FigureRecord(name="core.demo", paper="core", figure="Fig. 1", title="Demo",
    ...              mode="quick", seconds=1.5, status="ok",
    ...              files=["figures\\\\core_demo.png"]).files
    ['figures/core_demo.png']
    >>> FigureRecord(name="core.demo", paper="core", figure="-", title="Demo",
    ...              mode="fast", seconds=1.5, status="ok")
    Traceback (most recent call last):
    ...
    ValueError: mode must be one of ['quick', 'full'], got 'fast'
    """

    name: str
    paper: str
    figure: str
    title: str
    mode: str
    seconds: float
    status: str
    files: list[str] = field(default_factory=list)
    error: str = ""

    def __post_init__(self) -> None:
        paper = paper_of(self.name)
        if check_text(self.paper, "paper") != paper:
            raise ValueError(
                f"paper must be {paper!r}, the prefix of name {self.name!r}, got {self.paper!r}"
            )
        for name in ("figure", "title", "error"):
            check_text(getattr(self, name), name)
        check_choice(check_text(self.mode, "mode"), "mode", FIGURE_MODES)
        check_choice(check_text(self.status, "status"), "status", FIGURE_STATUSES)
        self.seconds = check_scalar(self.seconds, "seconds", low=0.0)
        if not isinstance(self.files, (list, tuple)) or not all(
            isinstance(f, (str, os.PathLike)) and isinstance(os.fspath(f), str) for f in self.files
        ):
            raise TypeError(
                f"files must be a list of paths (str or os.PathLike), got {self.files!r:.80}"
            )
        self.files = [_relative_posix(os.fspath(f)) for f in self.files]


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def _threading_layer(numba: Any) -> str:
    """The layer Numba's parallel kernels ran on, or the configured one if none has run yet."""
    try:
        return str(numba.threading_layer())
    except ValueError:
        return f"{numba.config.THREADING_LAYER} (no parallel kernel has run yet)"


def _backend() -> dict[str, str]:
    """The kernel backend the experiments ran on, with Numba's threads and the GPU status."""
    import matplotlib
    import numba

    env = {
        "kernel backend": "numba (CPU; the default of diffmem_theory.kernels)",
        "numba threads": str(numba.config.NUMBA_NUM_THREADS),
        "numba threading layer": _threading_layer(numba),
        "matplotlib backend": matplotlib.get_backend(),
    }
    try:
        env["cupy"] = metadata.version("cupy")
    except metadata.PackageNotFoundError:
        env["cupy"] = "not installed (GPU path unavailable)"
    return env


def environment() -> dict[str, str]:
    """Versions, cores and the numerical backend of this run, as strings.

    Returns
    -------
    dict of str to str
        Keys: ``python``, ``platform``, ``cores``, ``usable cores``, the backend entries
        (``kernel backend``, ``numba threads``, ``numba threading layer``,
        ``matplotlib backend``, ``cupy``), one version per core dependency (``numpy``,
        ``scipy``, ``numba``, ...; ``"not installed"`` for a missing one) and ``date`` (UTC).

    See Also
    --------
    write_report : shows it in the report's Environment table.

    Examples
    --------
    >>> env = environment()
    >>> {"numpy", "cores", "kernel backend"} <= set(env)
    True
    """
    env = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cores": str(os.cpu_count()),
        "usable cores": str(_usable_cores()),
        **_backend(),
    }
    for pkg in _VERSIONED:
        try:
            env[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            env[pkg] = "not installed"
    env["date"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return env


def fmt_number(value: float | None, digits: int = 6) -> str:
    """``value`` to ``digits`` significant digits, HTML-escaped; ``None`` is an en dash.

    >>> fmt_number(3.14159, 3), fmt_number(None)
    ('3.14', '&ndash;')
    """
    if value is None:
        return "&ndash;"
    return html.escape(f"{value:.{digits}g}")


#: The style sheet of the static reports (``reproduce`` and ``audit``).
CSS = """
body{font-family:Georgia,serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%;font-size:0.9em}
th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}
table+table{margin-top:1em}
td.num{text-align:right;font-family:monospace;white-space:nowrap}
td.note{white-space:pre-wrap;font-size:0.85em;max-width:30em;overflow-wrap:anywhere}
.pass,.ok{color:#116611;font-weight:bold}.fail,.error{color:#b00020;font-weight:bold}
.erratum{color:#8a5a00;font-weight:bold}
figure{margin:1.5em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:0.9em;color:#555}
pre{white-space:pre-wrap;font-size:0.8em;color:#b00020}
"""

_SUMMARY_HEAD = ("paper", "figure", "experiment", "mode", "wall time (s)", "status")
_CHECK_HEAD = (
    "check",
    "paper",
    "equation",
    "statement",
    "computed",
    "reference",
    "tolerance",
    "status",
    "time (s)",
    "note",
)


_ERRATA_HEAD = ("erratum", "where", "as printed", "correction", "counterexample", "check", "status")


def table_head(names: Sequence[str]) -> str:
    """A header row of escaped column names.

    >>> table_head(["a<b"])
    '<tr><th>a&lt;b</th></tr>'
    """
    return "<tr>" + "".join(f"<th>{html.escape(n)}</th>" for n in names) + "</tr>"


def table_row(row_class: str, cells: Sequence[tuple[str, str]]) -> str:
    """One table row; each cell is (already escaped HTML, CSS class or "").

    >>> table_row("r", [("1", "num"), ("x", "")])
    "<tr class='r'><td class='num'>1</td><td>x</td></tr>"
    """
    tds = "".join(
        f"<td class='{cls}'>{body}</td>" if cls else f"<td>{body}</td>" for body, cls in cells
    )
    return f"<tr class='{row_class}'>{tds}</tr>"


def _summary_rows(figures: Sequence[FigureRecord]) -> str:
    e = html.escape
    return "\n".join(
        table_row(
            "figure-row",
            [
                (e(r.paper), ""),
                (e(r.figure), ""),
                (f"<a href='#{e(r.name)}'>{e(r.name)}</a>", ""),
                (e(r.mode), ""),
                (f"{r.seconds:.1f}", "num"),
                (e(r.status), e(r.status)),
            ],
        )
        for r in figures
    )


def _figure_blocks(figures: Sequence[FigureRecord]) -> str:
    e = html.escape
    blocks = []
    for r in figures:
        pngs = [f for f in r.files if f.endswith(".png")]
        others = [f for f in r.files if not f.endswith(".png")]
        links = " ".join(
            f"<a href='{e(f)}'>{e(PurePosixPath(f).suffix[1:].upper())}</a>" for f in others
        )
        imgs = "".join(f"<img src='{e(f)}' alt='{e(r.name)}: {e(r.title)}'>" for f in pngs)
        err = f"<pre>{e(r.error)}</pre>" if r.error else ""
        blocks.append(
            f"<figure id='{e(r.name)}'>{imgs}{err}<figcaption>"
            f"<b>{e(r.name)}</b> ({e(r.figure)}, {e(r.mode)}): "
            f"{e(r.title)} {links}</figcaption></figure>"
        )
    return "\n".join(blocks)


def _check_rows(checks: Sequence[CheckResult]) -> str:
    e = html.escape
    return "\n".join(
        table_row(
            "check-row",
            [
                (e(c.name), ""),
                (e(c.paper), ""),
                (e(c.equation), ""),
                (e(c.description), ""),
                (fmt_number(c.value), "num"),
                (fmt_number(c.reference), "num"),
                (fmt_number(c.tolerance, 3), "num"),
                (e(c.status), e(c.status)),
                (f"{c.seconds:.2f}", "num"),
                (e(c.note.strip()), "note"),
            ],
        )
        for c in checks
    )


def _erratum_status(entry: Erratum, statuses: dict[str, str]) -> str:
    """The status of the entry's check in this run, ``"not run"``, or ``"misprint"`` (no check)."""
    if entry.check is None:
        return "misprint"
    return statuses.get(entry.check, "not run")


def _errata_section(errata: Sequence[Erratum], checks: Sequence[CheckResult]) -> str:
    """One table per paper: the catalogue entries with the status of their checks."""
    if not errata:
        return ""
    e = html.escape
    statuses = {c.name: c.status for c in checks}
    by_paper: dict[str, list[Erratum]] = {}
    for entry in errata:
        by_paper.setdefault(entry.paper, []).append(entry)
    blocks = [
        "<h2>Errata</h2>\n<p>Statements printed wrong in the papers, as printed and corrected. "
        "The package implements the correction; the check reproduces the counterexample "
        "(status <span class='erratum'>erratum</span>: the printed statement failed and the "
        "correction held in this run). A misprint has no numerical consequence to check.</p>"
    ]
    for paper, entries in sorted(by_paper.items()):
        rows = "\n".join(
            table_row(
                "erratum-row",
                [
                    (e(x.name), ""),
                    (e(x.where), ""),
                    (e(x.printed), ""),
                    (e(x.correction), ""),
                    (e(x.counterexample) or "&ndash;", ""),
                    (e(x.check) if x.check else "&ndash;", ""),
                    (e(status), e(status) if status in CHECK_STATUSES else ""),
                ],
            )
            for x in entries
            for status in [_erratum_status(x, statuses)]
        )
        blocks.append(
            f"<h3>{e(paper)} ({e(PACKAGES[paper])})</h3>\n"
            f"<table class='errata' id='errata-{e(paper)}'>"
            f"{table_head(_ERRATA_HEAD)}\n{rows}\n</table>"
        )
    return "\n".join(blocks)


def _paper_rows(checks: Sequence[CheckResult]) -> str:
    """One row per paper: how many of its checks have each status."""
    by_paper: dict[str, Counter[str]] = {}
    for c in checks:
        by_paper.setdefault(c.paper, Counter())[c.status] += 1
    return "\n".join(
        table_row(
            "paper-row",
            [(html.escape(paper), "")]
            + [(str(n[s]), "num") for s in CHECK_STATUSES]
            + [(str(n.total()), "num")],
        )
        for paper, n in sorted(by_paper.items())
    )


def _tally(statuses: Sequence[str]) -> str:
    return ", ".join(f"{n} {s}" for s, n in sorted(Counter(statuses).items())) or "none"


def _page(
    figures: Sequence[FigureRecord],
    checks: Sequence[CheckResult],
    env: dict,
    errata: Sequence[Erratum],
) -> str:
    e = html.escape
    listed = " (the Errata section lists each statement, its correction and counterexample)"
    n_ok = sum(r.status == "ok" for r in figures)
    wall = sum(r.seconds for r in figures) + sum(c.seconds for c in checks)
    env_rows = "\n".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in env.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>diffmem_theory reproduction report</title><style>{CSS}</style></head>
<body>
<h1>diffmem_theory reproduction report</h1>
<p>Figures: {n_ok} of {len(figures)} ok. Checks: {e(_tally([c.status for c in checks]))}.
Total wall time: {wall:.1f} s.
Status <span class="erratum">erratum</span> means a statement printed in a paper was shown false
here{listed if errata else ""}.</p>
<h2>Summary</h2>
<table id="summary">{table_head(_SUMMARY_HEAD)}
{_summary_rows(figures)}
</table>
<table id="papers">{table_head(("paper", *CHECK_STATUSES, "checks"))}
{_paper_rows(checks)}
</table>
<h2>Figures</h2>
{_figure_blocks(figures)}
<h2>Checks</h2>
<table id="checks">{table_head(_CHECK_HEAD)}
{_check_rows(checks)}
</table>
{_errata_section(errata, checks)}
<h2>Environment</h2>
<table id="environment">{env_rows}</table>
</body></html>
"""


def write_report(
    out_dir: str | os.PathLike[str],
    figures: Sequence[FigureRecord],
    checks: Sequence[CheckResult],
    env: dict[str, str] | None = None,
    errata: Sequence[Erratum] = (),
) -> Path:
    """Write ``index.html`` and ``results.json`` into ``out_dir``; return the HTML path.

    ``figures`` are the experiments' runs (their files relative to ``out_dir``),
    ``checks`` the check results in the order they are shown, ``env`` the
    environment table (default: :func:`environment`) and ``errata`` the errata catalogue
    to list (:func:`~diffmem_theory.registry.list_errata`; default none: no Errata section).
    The page is static: it has one ``tr.figure-row`` per figure, one ``img`` per PNG file,
    one ``tr.check-row`` in ``table#checks`` per check and one ``tr.erratum-row`` in
    ``table#errata-<paper>`` per catalogue entry, whose last cell is the status of the entry's
    check among ``checks`` (``"not run"`` if it is not there, ``"misprint"`` for an entry
    without a check). ``errata`` that is not a sequence of
    :class:`~diffmem_theory.registry.Erratum` raises ``TypeError``. ``out_dir`` is created if
    needed; a file, a path under a file or a directory that cannot be written raises
    ``ValueError`` before anything is written.

    Parameters
    ----------
    out_dir : str or os.PathLike
        The report's directory.
    figures : sequence of FigureRecord
        The experiments' runs.
    checks : sequence of CheckResult
        The check results.
    env : dict or None, optional
        The environment table; default :func:`environment`.
    errata : sequence of Erratum, optional
        The errata catalogue to list.

    Returns
    -------
    pathlib.Path
        ``out_dir/index.html``.

    Raises
    ------
    ValueError
        An ``out_dir`` that cannot be a writable directory.
    TypeError
        ``errata`` that is not a sequence of :class:`~diffmem_theory.registry.Erratum`.

    See Also
    --------
    diffmem_theory.registry.list_errata, environment

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from diffmem_theory.registry import CheckResult
    >>> res = CheckResult(name="core.demo", paper="core", equation="eq. (1)",
    ...                   description="1 + 1 = 2", erratum=False, value=2.0, reference=2.0,
    ...                   tolerance=0.0, passed=True, status="pass", note="", seconds=0.01)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     text = pathlib.Path(write_report(d, [], [res], env={"cores": "2"})).read_text()
    >>> text.count("<tr class='check-row'>"), "<td class='pass'>pass</td>" in text
    (1, True)
    """
    if isinstance(errata, (str, bytes)) or not isinstance(errata, Sequence):
        raise TypeError(f"errata must be a sequence of Erratum, got {type(errata).__name__}")
    bad = [type(x).__name__ for x in errata if not isinstance(x, Erratum)]
    if bad:
        raise TypeError(f"errata must hold Erratum objects, got {bad[0]}")
    out = writable_dir(out_dir, create=True)
    env = environment() if env is None else {str(k): str(v) for k, v in env.items()}
    path = out / "index.html"
    path.write_text(_page(figures, checks, env, errata), encoding="utf-8")
    payload: dict[str, Any] = {
        "figures": [asdict(r) for r in figures],
        "checks": [c.to_dict() for c in checks],
        "errata": [asdict(x) for x in errata],
        "environment": env,
    }
    (out / "results.json").write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return path
