"""Sphinx extension: the registry's tables, the gallery and the notebooks of the site.

Everything here is generated from the package's registry at build time, so the site cannot
drift from the code:

* Directives (MyST: ```` ```{diffmem-checks} 000 ```` ````):

  - ``diffmem-checks PAPER``: every registered check of ``PAPER`` (``000`` ... ``004``,
    ``core`` or a theory package's name): name, the statement it tests, description, kind
    (theorem or erratum) and a ``[source]`` link to the check's function (viewcode).
  - ``diffmem-figures PAPER``: the paper's registered experiments: name, the paper's figure,
    title and a link to the entry in the gallery.
  - ``diffmem-errata [PAPER]``: the errata catalogue: paper (without ``PAPER``), where, as
    printed, correction, counterexample and the check that reproduces it.
  - ``diffmem-experiment NAME`` (used by the generated gallery): the ``[source]`` link of an
    experiment and links to the checks of its paper that it illustrates.

* The gallery (``gallery/index.md``, git-ignored): one section per paper, one entry per
  registered experiment, labelled ``gallery-<name with dots as dashes>``, with the figure
  rendered in quick mode. The figures are rendered at ``config-inited`` into
  ``_generated/gallery/<version>/`` (a build cache: a figure whose key, the package version
  and the source of the experiment's modules, is unchanged is not rendered again); with the
  environment variable ``DIFFMEM_GALLERY=DIR`` they are read from ``DIR/figures/`` as
  ``diffmem reproduce --out DIR`` writes them. A figure that cannot be rendered or found fails
  the build.

* The notebooks: ``notebooks/*.ipynb`` of the repository copied into ``notebooks/`` (git-ignored)
  with an index page; myst-nb executes them (quick mode) when it builds the site.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
import shutil
import sys
import traceback
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from diffmem_docs import write_if_changed
from docutils import nodes
from sphinx import addnodes
from sphinx.errors import ExtensionError
from sphinx.ext.viewcode import OUTPUT_DIRNAME, viewcode_anchor
from sphinx.pycode import ModuleAnalyzer
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

import diffmem_theory
from diffmem_theory import registry

logger = logging.getLogger(__name__)

#: The papers in the order the site shows them, with their theory package.
PAPERS = tuple(registry.PACKAGES)
GALLERY_ENV = "DIFFMEM_GALLERY"

# ---------------------------------------------------------------------------------------------
# The tables as rows of plain values (what the directives render and the tests read)


def paper_key(text: str) -> str:
    """``"000"``, ``"paper000"``, ``"crossover"`` or ``"core"`` as the registry's paper key."""
    text = registry.canonical_name(text.strip())
    key = text if text.startswith(("paper", "core")) else f"paper{text}"
    if key not in PAPERS:
        raise ValueError(
            f"paper must be one of {PAPERS}, 000-004 or a theory package's name "
            f"{tuple(registry.PACKAGES.values())[1:]}, got {text!r}"
        )
    return key


def anchor(prefix: str, name: str) -> str:
    """A label for a registered name, dots as dashes: ``anchor("gallery", "paper000.fig1")`` is
    ``"gallery-paper000-fig1"`` (docutils makes its HTML id with dashes for underscores too:
    :func:`html_id`)."""
    return f"{prefix}-{name.replace('.', '-')}"


def html_id(prefix: str, name: str) -> str:
    """The HTML id of a table row: ``html_id("check", "paper000.c1_x")`` is
    ``"check-paper000-c1-x"``."""
    return nodes.make_id(anchor(prefix, name))


def source_of(func: Any) -> tuple[str, str]:
    """``(module, qualified name)`` of the function behind a check or an experiment."""
    func = inspect.unwrap(func)
    return func.__module__, func.__qualname__


def check_rows(paper: str | None = None) -> list[dict[str, Any]]:
    """One row per registered check (of ``paper``, or all): the ``diffmem-checks`` table."""
    rows = []
    for spec in registry.list_checks(paper=paper):
        module, qualname = source_of(spec.func)
        rows.append(
            {
                "name": spec.name,
                "paper": spec.paper,
                "equation": spec.equation,
                "description": spec.description,
                "kind": "erratum" if spec.erratum else "theorem",
                "module": module,
                "qualname": qualname,
            }
        )
    return rows


def natural_key(name: str) -> list[Any]:
    """Sort key putting ``paper002.fig2`` before ``paper002.fig10``."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def experiments(paper: str | None = None) -> list[registry.ExperimentSpec]:
    """The registered experiments (of ``paper``) in natural order of their names."""
    return sorted(registry.list_experiments(paper=paper), key=lambda e: natural_key(e.name))


def figure_rows(paper: str | None = None) -> list[dict[str, Any]]:
    """One row per registered experiment: the ``diffmem-figures`` table."""
    rows = []
    for spec in experiments(paper):
        module, qualname = source_of(spec.run)
        rows.append(
            {
                "name": spec.name,
                "paper": spec.paper,
                "figure": spec.figure,
                "title": spec.title,
                "module": module,
                "qualname": qualname,
                "label": anchor("gallery", spec.name),
            }
        )
    return rows


def errata_rows(paper: str | None = None) -> list[dict[str, Any]]:
    """One row per catalogue entry: the ``diffmem-errata`` table."""
    return [
        {
            "name": e.name,
            "paper": e.paper,
            "where": e.where,
            "printed": e.printed,
            "correction": e.correction,
            "counterexample": e.counterexample,
            "check": e.check,
        }
        for e in registry.list_errata(paper=paper)
    ]


_NUMBER = r"(?:[A-Z]\.?)?\d+(?:\.\d+)?"
_REF = re.compile(
    r"\b(Figs?|Thms?|Theorems?|Lemmas?|Props?|Propositions?|Cor|Corollary)\.?\s*"
    rf"({_NUMBER}(?:\s*(?:-|–|,|and|/)\s*{_NUMBER})*)"
)
_KIND = {"fig": "fig", "thm": "thm", "the": "thm", "lem": "lemma", "pro": "prop", "cor": "cor"}


def statement_refs(text: str) -> set[tuple[str, str]]:
    """The figures and theorems ``text`` cites, as ``{("fig", "2"), ("thm", "4.3")}``.

    ``Figs. 8-9`` gives figures 8 and 9, ``Lemma 4.5 / B.8`` lemmas 4.5 and B.8.
    """
    refs = set()
    for kind, numbers in _REF.findall(text):
        kind = _KIND[kind[:3].lower()]
        parts = [p for p in re.split(r"\s*(?:,|and|/)\s*", numbers) if p]
        for part in parts:
            ends = re.split(r"\s*[-–]\s*", part)
            if kind == "fig" and len(ends) == 2 and ends[0].isdigit() and ends[1].isdigit():
                refs |= {(kind, str(k)) for k in range(int(ends[0]), int(ends[1]) + 1)}
            else:
                refs |= {(kind, e) for e in ends}
    return refs


def linked_checks(experiment: str) -> list[str]:
    """The checks of the experiment's paper that cite a figure or theorem the experiment cites
    (its paper figure and title); empty if none does."""
    spec = registry.get_experiment(experiment)
    refs = statement_refs(f"{spec.figure} {spec.title}")
    return [
        c.name for c in registry.list_checks(paper=spec.paper) if refs & statement_refs(c.equation)
    ]


# ---------------------------------------------------------------------------------------------
# Docutils nodes


def _text(text: str) -> list[nodes.Node]:
    """Plain text with its ````literal```` spans as literals (nothing else is parsed, so the
    plain-text mathematics ``|x|``, ``*`` and ``_`` stays as written)."""
    out: list[nodes.Node] = []
    for k, part in enumerate(re.split(r"``(.+?)``", text)):
        if part:
            out.append(nodes.literal(part, part) if k % 2 else nodes.Text(part))
    return out


def _table(
    headers: Sequence[str],
    rows: Iterable[tuple[list[str], list[list[nodes.Node]]]],
    widths: Sequence[int],
    classes: Sequence[str],
) -> nodes.table:
    """A docutils table; each row is ``(ids, cells)`` with each cell a list of inline nodes."""
    table = nodes.table(classes=["diffmem-table", *classes])
    group = nodes.tgroup(cols=len(headers))
    table += group
    for w in widths:
        group += nodes.colspec(colwidth=w)
    head = nodes.thead()
    group += head
    row = nodes.row()
    for h in headers:
        row += nodes.entry("", nodes.paragraph("", "", nodes.Text(h)))
    head += row
    body = nodes.tbody()
    group += body
    for ids, cells in rows:
        row = nodes.row(ids=ids)
        for cell in cells:
            row += nodes.entry("", nodes.paragraph("", "", *cell))
        body += row
    return table


class _RegistryDirective(SphinxDirective):
    """Shared helpers: unique ids, viewcode links and cross-references. The page that holds
    one of these directives is read again when the registry changes (:func:`_outdated`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _users(self.env).add(self.env.docname)

    def paper(self) -> str | None:
        """The directive's paper argument as a registry key (None when it has none)."""
        if not self.arguments:
            return None
        try:
            return paper_key(self.arguments[0])
        except ValueError as exc:
            raise self.error(str(exc)) from None

    def unique_ids(self, *ids: str) -> list[str]:
        """The ``ids`` not yet used in this document (registered as used)."""
        used = self.env.temp_data.setdefault("diffmem_ids", set())  # reset per document
        out = [i for i in ids if i not in used and i not in self.state.document.ids]
        used.update(out)
        return out

    def source_link(self, module: str, qualname: str) -> list[nodes.Node]:
        """A ``[source]`` link to ``module.qualname`` on its viewcode page (registered with
        viewcode as sphinx.ext.viewcode does for autodoc's objects); the target of
        viewcode's back link is the returned node's id."""
        env = self.env
        if not hasattr(env, "_viewcode_modules"):
            env._viewcode_modules = {}
        entry = env._viewcode_modules.get(module)
        if entry is None:
            try:
                analyzer = ModuleAnalyzer.for_module(module)
                analyzer.find_tags()
            except Exception as exc:
                raise self.error(f"viewcode cannot read the source of {module}: {exc}") from exc
            entry = (analyzer.code, analyzer.tags, {}, module)
            env._viewcode_modules[module] = entry
        if not entry or qualname not in entry[1]:
            raise self.error(f"viewcode finds no source of {module}.{qualname}")
        entry[2][qualname] = env.docname
        pagename = f"{OUTPUT_DIRNAME}/{module.replace('.', '/')}"
        span = nodes.inline(ids=self.unique_ids(f"{module}.{qualname}"))
        span += viewcode_anchor(reftarget=pagename, refid=qualname, refdoc=env.docname)
        return [span]

    def local(self, target_id: str, text: str) -> nodes.Node:
        """A link to the element with id ``target_id`` on this page."""
        node = nodes.reference("", "", refid=target_id, internal=True)
        node += nodes.literal(text, text)
        return node

    def ref(self, label: str, text: str, literal: bool = True) -> nodes.Node:
        """A ``{ref}`` to ``label`` (a label of the std domain)."""
        node = addnodes.pending_xref(
            "",
            refdomain="std",
            reftype="ref",
            reftarget=label,
            refexplicit=True,
            refwarn=True,
            refdoc=self.env.docname,
        )
        node += nodes.literal(text, text) if literal else nodes.inline(text, text)
        return node


class ChecksDirective(_RegistryDirective):
    """``diffmem-checks PAPER``: the registered checks of a paper."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        paper = self.paper()
        rows = []
        for r in check_rows(paper):
            cells = [
                [nodes.literal(r["name"], r["name"])],
                _text(r["equation"]),
                _text(r["description"]),
                [nodes.Text(r["kind"])],
                self.source_link(r["module"], r["qualname"]),
            ]
            rows.append((self.unique_ids(html_id("check", r["name"])), cells))
        headers = ("check", "statement", "description", "kind", "source")
        return [_table(headers, rows, (18, 25, 40, 7, 7), ["diffmem-checks"])]


class FiguresDirective(_RegistryDirective):
    """``diffmem-figures PAPER``: the registered experiments of a paper."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        paper = self.paper()
        rows = [
            (
                self.unique_ids(html_id("figure", r["name"])),
                [
                    [nodes.literal(r["name"], r["name"])],
                    _text(r["figure"]),
                    _text(r["title"]),
                    [self.ref(r["label"], "gallery", literal=False)],
                ],
            )
            for r in figure_rows(paper)
        ]
        headers = ("experiment", "paper's figure", "title", "gallery")
        return [_table(headers, rows, (18, 20, 50, 8), ["diffmem-figures"])]


class ErrataDirective(_RegistryDirective):
    """``diffmem-errata [PAPER]``: the errata catalogue (of one paper, or all)."""

    optional_arguments = 1

    def run(self) -> list[nodes.Node]:
        paper = self.paper()
        rows = []
        for r in errata_rows(paper):
            if r["check"] is None:
                check: list[nodes.Node] = [nodes.Text("none (a misprint)")]
            else:
                spec = registry.get_check(r["check"])
                check = [nodes.literal(r["check"], r["check"]), nodes.Text(" ")]
                check += self.source_link(*source_of(spec.func))
            cells = [] if paper else [[nodes.Text(r["paper"])]]  # one paper: no paper column
            cells += [
                [nodes.literal(r["name"], r["name"]), nodes.Text(": "), *_text(r["where"])],
                _text(r["printed"]),
                _text(r["correction"]),
                _text(r["counterexample"] or "-"),
                check,
            ]
            rows.append((self.unique_ids(html_id("erratum", r["name"])), cells))
        headers = ("where", "as printed", "correction", "counterexample", "check")
        widths = (16, 22, 24, 22, 14)
        if not paper:
            headers, widths = ("paper", *headers), (8, *widths)
        return [_table(headers, rows, widths, ["diffmem-errata"])]


class ExperimentDirective(_RegistryDirective):
    """``diffmem-experiment NAME``: the source link and checks of one gallery entry."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        try:
            spec = registry.get_experiment(self.arguments[0])
        except ValueError as exc:
            raise self.error(str(exc)) from None
        source = nodes.paragraph("", "", nodes.Text("Experiment: "))
        source += nodes.literal(spec.name, spec.name)
        source += nodes.Text(" ")
        source += self.source_link(*source_of(spec.run))
        linked = linked_checks(spec.name)
        checks = nodes.paragraph()
        n_all = len(registry.list_checks(paper=spec.paper))
        if linked:
            checks += nodes.Text("Checks of the same figure or theorem: ")
            for k, name in enumerate(linked):
                if k:
                    checks += nodes.Text(", ")
                checks += self.local(html_id("check", name), name)
            checks += nodes.Text("; ")
        else:
            checks += nodes.Text("Checks: ")
        plural = "" if n_all == 1 else "s"
        checks += nodes.Text(f"the {n_all} check{plural} of {spec.paper} in the ")
        checks += self.ref(anchor("gallery-checks", spec.paper), "table", literal=False)
        return [source, checks]


# ---------------------------------------------------------------------------------------------
# The gallery


def figure_stem(name: str) -> str:
    """The file stem ``diffmem reproduce`` gives an experiment's figure (``paper000_fig1``)."""
    return name.replace(".", "_")


def _md(text: str) -> str:
    """``text`` with Markdown's (and dollarmath's) special characters backslash-escaped."""
    return re.sub(r"([\\`*_|$<>\[\]#])", r"\\\1", text)


def gallery_markdown(image_dir: str) -> str:
    """The gallery page (MyST): one section per paper, one labelled entry per experiment with
    its figure ``image_dir/<stem>.png`` (relative to ``gallery/``), and the paper's checks."""
    lines = [
        "# Gallery",
        "",
        "Every registered figure, rendered in quick mode when the site was built (`diffmem "
        "figure NAME --quick` renders one; `diffmem reproduce --quick` all, with the checks). "
        "Each entry links to the source of its experiment and to the checks of its paper; "
        "`diffmem figure NAME` without `--quick` reruns it with the paper's settings.",
        "",
    ]
    for paper in PAPERS:
        specs = experiments(paper)
        if not specs:
            continue
        package = registry.PACKAGES[paper]
        title = "core" if paper == "core" else f"Paper {paper[5:]} ({package})"
        lines += [f"({anchor('gallery', paper)})=", f"## {title}", ""]
        for spec in specs:
            lines += [
                f"({anchor('gallery', spec.name)})=",
                f"### `{spec.name}`: {_md(spec.figure)}",
                "",
                f"```{{image}} {image_dir}/{figure_stem(spec.name)}.png",
                f":alt: {spec.name}: {spec.title}",
                ":width: 100%",
                "```",
                "",
                _md(spec.title),
                "",
                f"```{{diffmem-experiment}} {spec.name}",
                "```",
                "",
            ]
        lines += [
            f"({anchor('gallery-checks', paper)})=",
            f"### The checks of {paper}",
            "",
            f"```{{diffmem-checks}} {paper}",
            "```",
            "",
        ]
    return "\n".join(lines)


def _cache_key(spec: registry.ExperimentSpec) -> str:
    """The package version and the source of the modules of ``run`` and ``plot``."""
    digest = hashlib.sha256(diffmem_theory.__version__.encode())
    for func in (spec.run, spec.plot):
        module = sys.modules[inspect.unwrap(func).__module__]
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def render_gallery(target: Path) -> list[str]:
    """Render every registered experiment in quick mode (seed 0) as ``target/<stem>.png``,
    skipping those whose cache key is unchanged; return the names rendered now.

    Raises
    ------
    sphinx.errors.ExtensionError
        After trying every figure, naming each one that failed, with its traceback.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from diffmem_theory.plotting import save_figure

    target.mkdir(parents=True, exist_ok=True)
    rendered, failed = [], []
    for spec in registry.list_experiments():
        stem = target / figure_stem(spec.name)
        key = _cache_key(spec)
        stamp = stem.with_name(stem.name + ".key")
        png = stem.with_name(stem.name + ".png")
        if png.exists() and stamp.exists() and stamp.read_text() == key:
            continue
        logger.info(f"[gallery] rendering {spec.name} (quick)")
        try:
            fig = spec.plot(spec.run(quick=True, seed=0))
            tmp = stem.with_name(stem.name + ".tmp")
            written = save_figure(fig, tmp, formats=("png",))[0]
            plt.close(fig)
            written.replace(png)
            stamp.write_text(key)
            rendered.append(spec.name)
        except Exception:
            plt.close("all")
            failed.append(f"{spec.name}:\n{traceback.format_exc(limit=8)}")
    if failed:
        raise ExtensionError(
            f"{len(failed)} gallery figure(s) failed to render:\n" + "\n".join(failed)
        )
    return rendered


def copy_report_figures(report: Path, target: Path) -> None:
    """Copy ``report/figures/<stem>.png`` of every registered experiment into ``target``.

    Raises
    ------
    sphinx.errors.ExtensionError
        Naming every experiment whose figure the report lacks (and the report's error for it
        where its ``results.json`` records one).
    """
    errors = {}
    results = report / "results.json"
    if results.exists():
        for rec in json.loads(results.read_text(encoding="utf-8")).get("figures", []):
            if rec.get("error"):
                errors[rec["name"]] = rec["error"]
    target.mkdir(parents=True, exist_ok=True)
    missing = []
    for spec in registry.list_experiments():
        src = report / "figures" / f"{figure_stem(spec.name)}.png"
        if not src.is_file():
            missing.append(f"{spec.name}: no {src}\n{errors.get(spec.name, '')}".rstrip())
            continue
        dst = target / src.name
        if not dst.exists() or dst.read_bytes() != src.read_bytes():
            shutil.copyfile(src, dst)
    if missing:
        raise ExtensionError(
            f"{GALLERY_ENV}={report}: {len(missing)} figure(s) missing (write them with "
            "`diffmem reproduce --quick --out DIR`):\n" + "\n".join(missing)
        )


def write_gallery(docs: Path) -> Path:
    """The gallery's figures (rendered, or copied from ``$DIFFMEM_GALLERY``) and its page."""
    report = os.environ.get(GALLERY_ENV, "")
    base = docs / "_generated" / "gallery"
    if report:
        target = base / "report"
        copy_report_figures(Path(report).expanduser().resolve(), target)
    else:
        target = base / diffmem_theory.__version__
        for old in base.glob("*"):  # the figures of another version (or of a report)
            if old.is_dir() and old != target:
                shutil.rmtree(old)
        render_gallery(target)
    page = gallery_markdown(f"../_generated/gallery/{target.name}")
    write_if_changed(docs / "gallery" / "index.md", page)
    return target


# ---------------------------------------------------------------------------------------------
# The notebooks


def notebook_title(path: Path) -> str:
    """The first Markdown heading of a notebook (its file stem if it has none)."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return path.stem


def notebooks_markdown(paths: Sequence[Path]) -> str:
    """The index page of the notebooks: a list with their titles and a hidden toctree."""
    lines = [
        "# Notebooks",
        "",
        "The repository's notebooks (`notebooks/`), executed when the site was built, in quick "
        "mode. Run them yourself with `jupyter lab notebooks/` (the `notebooks` extra); "
        "`DIFFMEM_FULL=1 jupyter lab notebooks/` uses the papers' full settings.",
        "",
    ]
    lines += [f"- [{notebook_title(p)}]({p.stem}.ipynb)" for p in paths]
    lines += ["", "```{toctree}", ":hidden:", "", *(p.stem for p in paths), "```", ""]
    return "\n".join(lines)


def write_notebooks(docs: Path) -> list[Path]:
    """Copy ``../notebooks/*.ipynb`` into ``notebooks/`` and write its index page."""
    source = docs.parent / "notebooks"
    target = docs / "notebooks"
    paths = sorted(source.glob("*.ipynb"))
    if not paths:
        raise ExtensionError(f"no notebooks in {source}")
    target.mkdir(parents=True, exist_ok=True)
    names = {p.name for p in paths}
    for old in target.glob("*.ipynb"):
        if old.name not in names:
            old.unlink()
    for p in paths:
        dst = target / p.name
        if not dst.exists() or dst.read_bytes() != p.read_bytes():
            shutil.copyfile(p, dst)
    write_if_changed(target / "index.md", notebooks_markdown(paths))
    return paths


def registry_digest() -> str:
    """A digest of every registered check, experiment and erratum with the fields that the
    tables and the gallery show."""
    rows = [check_rows(), figure_rows(), errata_rows()]
    return hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()


def _users(env: Any) -> set[str]:
    """The documents that hold a directive of this extension (kept in the environment)."""
    if not hasattr(env, "diffmem_registry_users"):
        env.diffmem_registry_users = set()
    return env.diffmem_registry_users


def _outdated(app: Any, env: Any, added: Any, changed: Any, removed: Any) -> list[str]:
    """Read the pages with registry tables again when the registry changed since the last
    build (their sources did not change, so Sphinx would keep the old tables)."""
    digest = registry_digest()
    if getattr(env, "diffmem_registry_digest", None) == digest:
        return []
    env.diffmem_registry_digest = digest
    return sorted(_users(env) - set(removed))


def _purge(app: Any, env: Any, docname: str) -> None:
    _users(env).discard(docname)


def _merge(app: Any, env: Any, docnames: Any, other: Any) -> None:
    _users(env).update(_users(other) & set(docnames))


def _generate(app: Any, config: Any) -> None:
    docs = Path(app.srcdir)
    write_notebooks(docs)
    write_gallery(docs)


def setup(app: Any) -> dict[str, Any]:
    app.setup_extension("sphinx.ext.viewcode")
    app.add_directive("diffmem-checks", ChecksDirective)
    app.add_directive("diffmem-figures", FiguresDirective)
    app.add_directive("diffmem-errata", ErrataDirective)
    app.add_directive("diffmem-experiment", ExperimentDirective)
    app.connect("config-inited", _generate)
    app.connect("env-get-outdated", _outdated)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    # env_version: raise it when the directives' output changes, so that Sphinx reads every page
    # again instead of keeping the tables of an earlier build
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 3}
