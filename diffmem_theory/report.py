"""The static HTML report written by ``diffmem reproduce``.

One self-contained ``index.html`` (figures are PNG files next to it, with PDF links) with
a summary table of the figures (paper, figure, mode, wall time, status), every figure,
the full table of checks (name, paper and equation, computed value, reference,
tolerance, status) and the environment. A machine-readable ``results.json`` holds the
same tables.

Example
-------
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
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from .registry import CheckResult

__all__ = ["FigureRecord", "environment", "write_report"]


@dataclass
class FigureRecord:
    """One experiment's run as shown in the report."""

    name: str
    paper: str
    figure: str
    title: str
    mode: str  # "quick" | "full"
    seconds: float
    status: str  # "ok" | "error"
    files: list[str] = field(default_factory=list)  # paths relative to the report directory
    error: str = ""


def environment() -> dict[str, str]:
    """Versions, cores and the numerical backend of this run.

    Example
    -------
    >>> env = environment()
    >>> "numpy" in env and "cores" in env
    True
    """
    env = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cores": str(os.cpu_count()),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    for pkg in ("diffmem-theory", "numpy", "scipy", "numba", "sympy", "mpmath", "matplotlib"):
        try:
            env[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            env[pkg] = "not installed"
    try:
        import numba

        env["numba threading layer"] = str(numba.config.THREADING_LAYER)
        env["numba threads"] = str(numba.config.NUMBA_NUM_THREADS)
    except ImportError:  # pragma: no cover - numba is a core dependency
        pass
    try:
        import cupy  # noqa: F401

        env["cupy"] = metadata.version("cupy")
    except ImportError:
        env["cupy"] = "not installed (GPU path unavailable)"
    return env


def _fmt(value: float | None) -> str:
    if value is None:
        return "&ndash;"
    return html.escape(f"{value:.6g}")


_CSS = """
body{font-family:Georgia,serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%;font-size:0.9em}
th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}
td.num{text-align:right;font-family:monospace}
.pass,.ok{color:#116611;font-weight:bold}.fail,.error{color:#b00020;font-weight:bold}
.erratum{color:#8a5a00;font-weight:bold}
figure{margin:1.5em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:0.9em;color:#555}
pre{white-space:pre-wrap;font-size:0.8em;color:#b00020}
"""


def _row(row_class: str, cells: Sequence[tuple[str, str]]) -> str:
    """One table row; each cell is (already escaped HTML, CSS class or "")."""
    tds = "".join(
        f"<td class='{cls}'>{body}</td>" if cls else f"<td>{body}</td>" for body, cls in cells
    )
    return f"<tr class='{row_class}'>{tds}</tr>"


def _summary_rows(figures: Sequence[FigureRecord]) -> str:
    e = html.escape
    return "\n".join(
        _row(
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
    blocks = []
    for r in figures:
        pngs = [f for f in r.files if f.endswith(".png")]
        others = [f for f in r.files if not f.endswith(".png")]
        links = " ".join(
            f"<a href='{html.escape(f)}'>{html.escape(Path(f).suffix[1:].upper())}</a>"
            for f in others
        )
        imgs = "".join(f"<img src='{html.escape(f)}' alt='{html.escape(r.name)}'>" for f in pngs)
        err = f"<pre>{html.escape(r.error)}</pre>" if r.error else ""
        blocks.append(
            f"<figure id='{html.escape(r.name)}'>{imgs}{err}<figcaption>"
            f"<b>{html.escape(r.name)}</b> ({html.escape(r.figure)}, {html.escape(r.mode)}): "
            f"{html.escape(r.title)} {links}</figcaption></figure>"
        )
    return "\n".join(blocks)


def _check_rows(checks: Sequence[CheckResult]) -> str:
    e = html.escape
    return "\n".join(
        _row(
            "check-row",
            [
                (e(c.name), ""),
                (e(c.equation), ""),
                (e(c.description), ""),
                (_fmt(c.value), "num"),
                (_fmt(c.reference), "num"),
                (_fmt(c.tolerance), "num"),
                (e(c.status), e(c.status)),
                (e(c.note), ""),
            ],
        )
        for c in checks
    )


def write_report(
    out_dir: str | Path,
    figures: Sequence[FigureRecord],
    checks: Sequence[CheckResult],
    env: dict[str, str] | None = None,
) -> Path:
    """Write ``index.html`` and ``results.json`` into ``out_dir``; return the HTML path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    env = environment() if env is None else env
    counts: dict[str, int] = {}
    for c in checks:
        counts[c.status] = counts.get(c.status, 0) + 1
    n_fig_ok = sum(r.status == "ok" for r in figures)
    check_summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none"
    env_rows = "\n".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in env.items()
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>diffmem_theory reproduction report</title><style>{_CSS}</style></head>
<body>
<h1>diffmem_theory reproduction report</h1>
<p>Figures: {n_fig_ok} of {len(figures)} ok. Checks: {html.escape(check_summary)}.
Status <span class="erratum">erratum</span> means a statement printed in a paper was shown false
here, as the notes predict.</p>
<h2>Summary</h2>
<table id="summary"><tr><th>paper</th><th>figure</th><th>experiment</th><th>mode</th>
<th>wall time (s)</th><th>status</th></tr>
{_summary_rows(figures)}
</table>
<h2>Figures</h2>
{_figure_blocks(figures)}
<h2>Checks</h2>
<table id="checks"><tr><th>check</th><th>paper and equation</th><th>statement</th>
<th>computed</th><th>reference</th><th>tolerance</th><th>status</th><th>note</th></tr>
{_check_rows(checks)}
</table>
<h2>Environment</h2>
<table id="environment">{env_rows}</table>
</body></html>
"""
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    payload: dict[str, Any] = {
        "figures": [asdict(r) for r in figures],
        "checks": [c.to_dict() for c in checks],
        "environment": env,
    }
    (out / "results.json").write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return path
