"""Sphinx extension: the pages of the site that are generated from the package itself.

At ``config-inited`` (before Sphinx reads the sources or checks ``html_extra_path``) it
writes (all git-ignored, rewritten on every build):

* ``api/index.rst`` and one page ``api/<module>.rst`` per public module of ``diffmem_theory``
  (every module whose dotted name has no part starting with ``_``): the module docstring, a
  summary table of its public names (``__all__``) and their full docstrings.

* ``_generated/extra/llms.txt`` (copied to the site root): the whole API in one plain-text
  page for tools that read it (the llms.txt convention): per module its summary line, per
  public name its signature and summary line.

The docstrings' plain-text mathematics is made safe for reStructuredText by the sibling
extension ``diffmem_plaintext``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path
from typing import Any

import diffmem_theory

PACKAGE = "diffmem_theory"


def public_modules() -> list[str]:
    """Every public module of the package, in dotted-name order."""
    names = [PACKAGE]
    for info in pkgutil.walk_packages(diffmem_theory.__path__, f"{PACKAGE}."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def public_names(module: Any) -> list[str]:
    """A module's public names: ``__all__`` (every module of the package defines it)."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            n
            for n, obj in vars(module).items()
            if not n.startswith("_") and getattr(obj, "__module__", None) == module.__name__
        ]
    return [n for n in names if not n.startswith("__")]


def write_if_changed(path: Path, text: str) -> None:
    """Write ``text`` unless the file already holds it (keeps Sphinx's incremental build)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _title(text: str, char: str = "=") -> str:
    return f"{text}\n{char * len(text)}\n"


def _api_page(name: str) -> str:
    module = importlib.import_module(name)
    lines = [_title(f"``{name}``"), f".. automodule:: {name}", "   :no-members:", ""]
    names = public_names(module)
    if names:
        lines += [".. currentmodule:: " + name, "", ".. autosummary::", ""]
        lines += [f"   {n}" for n in names]
        lines.append("")
        for n in names:
            obj = getattr(module, n)
            if inspect.isclass(obj):
                lines += [f".. autoclass:: {n}", "   :members:", ""]
            elif callable(obj):
                lines += [f".. autofunction:: {n}", ""]
            else:
                lines += [f".. autodata:: {n}", "   :no-value:", ""]
    return "\n".join(lines)


def write_api(docs: Path) -> list[str]:
    """Write ``api/index.rst`` and one page per public module; return the module names."""
    modules = public_modules()
    for name in modules:
        write_if_changed(docs / "api" / f"{name}.rst", _api_page(name))
    index = [
        _title("API reference"),
        "Every public module of ``diffmem_theory`` and every name in its ``__all__``, from the",
        "docstrings (numpydoc: the formula, the paper and equation, a runnable example).",
        "",
        ".. toctree::",
        "   :maxdepth: 1",
        "",
    ]
    index += [f"   {name}" for name in modules]
    write_if_changed(docs / "api" / "index.rst", "\n".join(index) + "\n")
    return modules


def _summary(obj: Any) -> str:
    """The first paragraph of ``obj``'s docstring, on one line."""
    doc = inspect.getdoc(obj) or ""
    return " ".join(doc.split("\n\n", 1)[0].split())


def _signature(name: str, obj: Any) -> str:
    if inspect.isclass(obj) or callable(obj):
        try:
            return f"{name}{inspect.signature(obj)}"
        except (TypeError, ValueError):
            return f"{name}(...)"
    return name


def llms_txt(modules: list[str]) -> str:
    """The API as one plain-text page (Markdown, following https://llmstxt.org)."""
    out = [
        f"# {PACKAGE}",
        "",
        "> " + _summary(diffmem_theory),
        "",
        "Closed forms, theorem checks, figures and audits of five papers on memorization vs "
        "generalization in diffusion models. Conventions: every function takes (x, t, ...) in "
        "that order; sigma is a standard deviation, var a variance; float64 by default.",
        "",
    ]
    for name in modules:
        module = importlib.import_module(name)
        out += [f"## {name}", "", _summary(module), ""]
        for n in public_names(module):
            obj = getattr(module, n)
            out.append(f"- `{_signature(n, obj)}`: {_summary(obj)}")
        out.append("")
    return "\n".join(out)


def _viewcode_backlinks(app: Any, env: Any) -> list[str]:
    """Point viewcode's back links of a module's public names at that module's API page.

    A package page documents the names its ``__init__`` re-exports from public submodules, so
    sphinx.ext.viewcode sees those objects on two pages; it keeps one page per object but one
    reference module per source module, and can pair the package's id with the submodule's
    page (a broken back link). The names in a public module's ``__all__`` are on its own page
    under their own module's name: both are set to that.
    """
    modules = set(public_modules())
    for modname, entry in getattr(env, "_viewcode_modules", {}).items():
        if not entry or modname not in modules:
            continue
        code, tags, used, _ = entry
        names = set(public_names(importlib.import_module(modname)))
        for fullname in used:
            if fullname.split(".", 1)[0] in names:
                used[fullname] = f"api/{modname}"
        env._viewcode_modules[modname] = (code, tags, used, modname)
    return []


def _generate(app: Any, config: Any) -> None:
    docs = Path(app.srcdir)
    modules = write_api(docs)
    write_if_changed(docs / "_generated" / "extra" / "llms.txt", llms_txt(modules))


def setup(app: Any) -> dict[str, Any]:
    app.connect("config-inited", _generate)
    app.connect("env-updated", _viewcode_backlinks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
