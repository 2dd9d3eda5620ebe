r"""The report of an audit: a static HTML page, a JSON file and the figures as PNG.

:meth:`AuditReport.write` writes into one folder:

* ``index.html``: static (no scripts, no external resources), in the style of the
  ``diffmem reproduce`` report (:mod:`diffmem_theory.report`): a summary (one row per section:
  title, theorem, verdict, time, status), the inputs, then per section its theorem, its
  assumptions, a table of its numbers, each next to its source (the theorem or equation with
  the paper) and its standard error, the verdict and the figures, or the traceback of a section
  that failed; the timings and the environment last.
* ``<key>_<stem>.png``: each figure of each section, next to ``index.html`` (``<stem>.png``
  when the stem already starts with ``<key>_``).
* ``samples.npy``: the samples that were audited (when the report holds them), to rerun an
  audit on the same samples (``--samples``) or to look at them.
* ``report.json`` with this schema (``version`` :data:`SCHEMA_VERSION`)::

      {
        "version": 1,
        "inputs": {"data": {"source", "scale", "value_range", "image_shape", "held_out"},
                   "n_train", "n_held_out", "d", "model", "prediction", "schedule",
                   "samples", "n_samples", "t_span", "times", "scales", "n_noise",
                   "seed", "sections", "options"},
        "sections": [{"key", "title", "theorem", "assumptions": [str],
                      "values": [{"name", "value", "se", "source", "note"}],
                      "verdict", "figures": [PNG file names], "curves": {name: list},
                      "seconds"}],
        "errors": [{"section", "message", "traceback"}],
        "timings": {"data", "model", "sampling", <section key>: seconds},
        "environment": {name: str}
      }

  ``value`` and ``se`` are numbers, strings, booleans, lists (curves) or null (a missing SE, or
  a non-finite number, which JSON cannot hold); ``message`` is the last line of the traceback.
  In ``inputs`` (:func:`diffmem_theory.audit.run`): ``model`` is the model's label,
  ``prediction`` its native unit, ``samples`` where the samples came from, ``t_span``
  ``[first time, last time, steps]`` of the DDIM grid (null for given samples), ``times`` the
  loss times, ``scales`` the distance scales that placed them, ``options`` each section's
  options as given.

Examples
--------
>>> import tempfile, pathlib, json
>>> from diffmem_theory.audit.base import Section, Value
>>> sec = Section("memorization", "Memorization", "Buchanan et al., Def. 2.2", ["iid data"],
...               [Value("fraction memorized", 0.25, se=0.04, source="Def. 2.2")], "Some.")
>>> rep = AuditReport(inputs={"model": "demo"}, sections=[sec], errors={},
...                   timings={"memorization": 0.1}, environment={"cores": "2"})
>>> print(rep.summary())
diffmem audit of model 'demo'
[memorization] Memorization (0.1 s)
  fraction memorized = 0.25 +- 0.04  [Def. 2.2]
  verdict: Some.
>>> with tempfile.TemporaryDirectory() as d:
...     page = rep.write(d)
...     doc = json.loads((page.parent / "report.json").read_text())
>>> doc["version"], doc["sections"][0]["values"][0]["se"], page.name
(1, 0.04, 'index.html')
"""

from __future__ import annotations

import html
import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from diffmem_theory.audit.base import Section, Value, jsonable
from diffmem_theory.plotting import paper_style
from diffmem_theory.report import CSS, environment, fmt_number, table_head, table_row
from diffmem_theory.sweep import writable_dir

__all__ = ["SCHEMA_VERSION", "AuditReport", "render_figures"]

#: The version of the ``report.json`` schema (module docstring).
SCHEMA_VERSION = 1

_STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_VALUE_HEAD = ("value", "computed", "SE", "source (theorem)", "note")
_SUMMARY_HEAD = ("section", "title", "theorem", "verdict", "time (s)", "status")
_LIST_SHOWN = 8  # a list of at most this many numbers is printed whole
_EXTRA_CSS = "p.verdict{background:#f7f7f2;border-left:3px solid #999;padding:4px 8px}\n"


def render_figures(section: Section) -> dict[str, bytes]:
    """The section's figures as PNG bytes, by stem, in the package style; each figure is closed.

    Parameters
    ----------
    section : Section
        Its ``figures`` map a file-name stem (letters, digits, ``_``, ``.``, ``-``) to a
        matplotlib figure.

    Returns
    -------
    dict of str to bytes

    Raises
    ------
    ValueError
        A stem that is not a plain file name, or a figure that is not a matplotlib figure.
    TypeError
        A ``section`` that is not a :class:`~diffmem_theory.audit.base.Section`.

    Examples
    --------
    >>> from diffmem_theory.plotting import figure
    >>> fig, _ = figure()
    >>> sec = Section("mixing", "t", "th", [], [], "v", figures={"tm": fig})
    >>> render_figures(sec)["tm"][:4]
    b'\\x89PNG'
    """
    if not isinstance(section, Section):
        raise TypeError(f"section must be a Section, got {type(section).__name__}")
    out = {}
    for stem, fig in section.figures.items():
        if not isinstance(stem, str) or not _STEM.fullmatch(stem):
            raise ValueError(f"figure stems must be plain file names, got {stem!r}")
        if not hasattr(fig, "savefig"):
            raise ValueError(f"figure {stem!r} must be a matplotlib figure, got {fig!r:.60}")
        buf = io.BytesIO()
        with paper_style():
            fig.savefig(buf, format="png")
        plt.close(fig)
        out[stem] = buf.getvalue()
    return out


def _file_name(key: str, stem: str) -> str:
    """``<key>_<stem>.png``, or ``<stem>.png`` when the stem already starts with ``<key>_``."""
    return f"{stem}.png" if stem.startswith(f"{key}_") else f"{key}_{stem}.png"


def _last_line(tb: str) -> str:
    lines = [line for line in tb.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _number(value: Any, digits: int = 4) -> str:
    """A value as text: numbers to ``digits`` significant digits, lists abbreviated."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            if len(value) <= _LIST_SHOWN:
                return "[" + ", ".join(_number(v, 3) for v in value) + "]"
            return f"{len(value)} values in [{min(value):.3g}, {max(value):.3g}]"
        if all(isinstance(v, str) for v in value):
            return ", ".join(value)
        return f"{len(value)} entries (report.json)"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_number(v, digits)}" for k, v in value.items()) or "-"
    return str(value)


def _cell(value: Any, digits: int = 4) -> str:
    """A value as an HTML table cell body (numbers through the reproduce report's format)."""
    if isinstance(value, float):
        return fmt_number(value, digits)
    return html.escape(_number(value, digits)) if value is not None else "&ndash;"


@dataclass
class AuditReport:
    """The result of :func:`diffmem_theory.audit.run`.

    Attributes
    ----------
    inputs : dict
        What was audited (data, sizes, model, schedule, samples, times, seed, ...; the keys
        of ``report.json``'s ``inputs``, module docstring).
    sections : list of Section
        The sections that ran, in order.
    errors : dict of str to str
        The traceback of each section that failed (or whose figures could not be rendered).
    timings : dict of str to float
        Seconds spent on the data, the model, the sampling and each section.
    environment : dict of str to str
        Versions, cores and backend (:func:`diffmem_theory.report.environment`; default: this
        run's).
    png : dict of str to dict of str to bytes
        Each section's figures as PNG (default: rendered from the sections' figures, which
        are then closed).
    samples : (B, d) ndarray or None, default None
        The samples that were audited (drawn by the audit or given by the user), in the data's
        units; :meth:`write` saves them as ``samples.npy``.
    """

    inputs: dict[str, Any]
    sections: list[Section]
    errors: dict[str, str]
    timings: dict[str, float]
    environment: dict[str, str] = field(default_factory=environment)
    png: dict[str, dict[str, bytes]] = field(default_factory=dict)
    samples: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.sections, list) or not all(
            isinstance(s, Section) for s in self.sections
        ):
            raise TypeError(f"sections must be a list of Section, got {self.sections!r:.80}")
        for name in ("inputs", "errors", "timings", "environment", "png"):
            if not isinstance(getattr(self, name), dict):
                raise TypeError(f"{name} must be a dict, got {type(getattr(self, name)).__name__}")
        if self.samples is not None and not (
            isinstance(self.samples, np.ndarray) and self.samples.ndim == 2
        ):
            raise TypeError(f"samples must be a 2-d ndarray or None, got {self.samples!r:.80}")
        for sec in self.sections:
            if sec.key not in self.png:
                self.png[sec.key] = render_figures(sec)

    @property
    def ok(self) -> bool:
        """Whether every section ran (no errors)."""
        return not self.errors

    def section(self, key: str) -> Section:
        """The section ``key`` (``ValueError`` naming the sections that ran if it did not).

        Examples
        --------
        >>> sec = Section("mixing", "Paper 001", "eq. (2.9)", [], [], "ok.")
        >>> AuditReport({}, [sec], {}, {}, environment={}).section("mixing").title
        'Paper 001'
        """
        for sec in self.sections:
            if sec.key == key:
                return sec
        raise ValueError(
            f"key must name a section of this report, one of {[s.key for s in self.sections]}; "
            f"got {key!r}"
        )

    def _files(self, key: str) -> list[str]:
        return [_file_name(key, stem) for stem in self.png.get(key, {})]

    def to_dict(self) -> dict[str, Any]:
        """The report as the JSON-ready dict of ``report.json`` (schema: module docstring)."""
        sections = []
        for sec in self.sections:
            entry = sec.to_dict()
            entry["figures"] = self._files(sec.key)
            entry["seconds"] = self.timings.get(sec.key)
            sections.append(entry)
        errors = [
            {"section": key, "message": _last_line(tb), "traceback": tb}
            for key, tb in self.errors.items()
        ]
        return jsonable(
            {
                "version": SCHEMA_VERSION,
                "inputs": self.inputs,
                "sections": sections,
                "errors": errors,
                "timings": self.timings,
                "environment": self.environment,
            }
        )

    def summary(self) -> str:
        """The report as text: per section each number with its SE and source, the verdict."""
        head = f"diffmem audit of model {self.inputs.get('model', '?')!r}"
        if "d" in self.inputs:
            source = self.inputs.get("data", {}).get("source", "?")
            head += (
                f" on {source}: N = {self.inputs['n_train']} train, "
                f"{self.inputs['n_held_out']} held out, d = {self.inputs['d']}, "
                f"{self.inputs['n_samples']} samples ({self.inputs['samples']})"
            )
        lines = [head]
        for sec in self.sections:
            lines.append(f"[{sec.key}] {sec.title} ({self.timings.get(sec.key, 0.0):.1f} s)")
            lines += [f"  {_value_line(v)}" for v in sec.values]
            lines.append(f"  verdict: {sec.verdict}")
        for key, tb in self.errors.items():
            lines.append(f"[{key}] FAILED: {_last_line(tb)}")
        return "\n".join(lines)

    def write(self, out_dir: str | os.PathLike[str]) -> Path:
        """Write ``index.html``, ``report.json``, the PNG figures and ``samples.npy`` (when the
        report holds its samples) into ``out_dir``.

        Parameters
        ----------
        out_dir : str or os.PathLike
            The folder (created if needed).

        Returns
        -------
        pathlib.Path
            ``out_dir/index.html``.

        Raises
        ------
        ValueError
            An ``out_dir`` that is a file, lies under a file or cannot be written (before
            anything is written).
        """
        out = writable_dir(out_dir, "out_dir", create=True)
        for key, figures in self.png.items():
            for stem, data in figures.items():
                (out / _file_name(key, stem)).write_bytes(data)
        if self.samples is not None:
            np.save(out / "samples.npy", self.samples)
        doc = self.to_dict()
        (out / "report.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")
        page = out / "index.html"
        page.write_text(self._page(), encoding="utf-8")
        return page

    # -- HTML ---------------------------------------------------------------------------------

    def _summary_rows(self) -> str:
        e = html.escape
        done = {s.key: s for s in self.sections}
        keys = list(done) + [k for k in self.errors if k not in done]
        rows = []
        for key in keys:
            sec = done.get(key)
            status = "error" if key in self.errors else "ok"
            rows.append(
                table_row(
                    "section-row",
                    [
                        (f"<a href='#{e(key)}'>{e(key)}</a>", ""),
                        (e(sec.title) if sec else "&ndash;", ""),
                        (e(sec.theorem) if sec else "&ndash;", ""),
                        (e(sec.verdict) if sec else e(_last_line(self.errors[key])), ""),
                        (f"{self.timings.get(key, 0.0):.1f}", "num"),
                        (e(status), e(status)),
                    ],
                )
            )
        return "\n".join(rows)

    def _section_block(self, sec: Section) -> str:
        e = html.escape
        rows = "\n".join(
            table_row(
                "value-row",
                [
                    (e(v.name), ""),
                    (_cell(v.value), "num"),
                    (_cell(v.se, 3), "num"),
                    (e(v.source), ""),
                    (e(v.note), "note"),
                ],
            )
            for v in sec.values
        )
        assumptions = "".join(f"<li>{e(a)}</li>" for a in sec.assumptions)
        imgs = "".join(
            f"<figure><img src='{e(f)}' alt='{e(sec.key)}: {e(f)}'>"
            f"<figcaption>{e(f)}</figcaption></figure>"
            for f in self._files(sec.key)
        )
        err = f"<pre>{e(self.errors[sec.key])}</pre>" if sec.key in self.errors else ""
        return (
            f"<h2 id='{e(sec.key)}'>{e(sec.title)}</h2>\n"
            f"<p><b>Theorem.</b> {e(sec.theorem)}</p>\n"
            f"<p><b>Assumptions.</b></p><ul>{assumptions}</ul>\n"
            f"<table class='values' id='values-{e(sec.key)}'>"
            f"{table_head(_VALUE_HEAD)}\n{rows}\n"
            f"</table>\n<p class='verdict'><b>Verdict.</b> {e(sec.verdict)}</p>\n{imgs}{err}"
        )

    def _page(self) -> str:
        e = html.escape
        done = {s.key for s in self.sections}
        blocks = [self._section_block(s) for s in self.sections]
        blocks += [
            f"<h2 id='{e(k)}'>{e(k)}: failed</h2>\n<pre>{e(tb)}</pre>"
            for k, tb in self.errors.items()
            if k not in done
        ]
        inputs = jsonable(self.inputs)
        input_rows = "\n".join(
            f"<tr><th>{e(str(k))}</th><td>{e(_number(v))}</td></tr>" for k, v in inputs.items()
        )
        timing_rows = "\n".join(
            f"<tr><th>{e(k)}</th><td class='num'>{v:.2f}</td></tr>" for k, v in self.timings.items()
        )
        env_rows = "\n".join(
            f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in self.environment.items()
        )
        n_ok = len(done - set(self.errors))
        label = e(str(self.inputs.get("model", "")))
        return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>diffmem audit: {label}</title><style>{CSS}{_EXTRA_CSS}</style></head>
<body>
<h1>diffmem audit: {label}</h1>
<p>Sections: {n_ok} of {n_ok + len(self.errors)} ok. Total wall time:
{sum(self.timings.values()):.1f} s. Every number below names the theorem or equation it comes
from; each section states the assumptions under which it means what the theorem says.</p>
<h2>Summary</h2>
<table id="summary">{table_head(_SUMMARY_HEAD)}
{self._summary_rows()}
</table>
<h2>Inputs</h2>
<table id="inputs">{input_rows}</table>
{chr(10).join(blocks)}
<h2>Timings</h2>
<table id="timings">{timing_rows}</table>
<h2>Environment</h2>
<table id="environment">{env_rows}</table>
</body></html>
"""


def _value_line(v: Value) -> str:
    se = "" if v.se is None else f" +- {_number(v.se, 3)}"
    return f"{v.name} = {_number(v.value)}{se}  [{v.source}]"
