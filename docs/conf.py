"""Sphinx configuration of the diffmem_theory documentation (``docs/``).

Build: ``sphinx-build -W --keep-going -b html docs docs/_build/html`` (the ``docs`` extra). The
API pages (``api/``) and ``llms.txt`` are generated at build time from the package itself by
``_ext/diffmem_docs.py``; the registry's tables (directives ``diffmem-checks``,
``diffmem-figures``, ``diffmem-errata``), the gallery (``gallery/``, its figures rendered in quick
mode, or read from ``diffmem reproduce --out DIR`` with ``DIFFMEM_GALLERY=DIR``) and the
notebooks (``notebooks/``, executed by myst-nb) by ``_ext/diffmem_site.py``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import diffmem_theory  # noqa: E402

project = "diffmem_theory"
author = "the diffmem_theory developers"
copyright = "2026, the diffmem_theory developers"
release = version = diffmem_theory.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
    "diffmem_plaintext",
    "diffmem_docs",
    "diffmem_site",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = [
    "_build",
    "_ext",
    "_generated",
    "**.ipynb_checkpoints",
    "notebooks/figures",
    "README.md",
]
templates_path = ["_templates"]

# autodoc / autosummary / numpydoc
autosummary_generate = False  # the API pages are written by diffmem_docs
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
autodoc_typehints = "none"  # the numpydoc Parameters sections carry the types
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# notebooks: executed at build time in quick mode (DIFFMEM_FULL unset), cached between builds
nb_execution_mode = os.environ.get("DIFFMEM_DOCS_EXECUTE", "cache")
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_cache_path = str(HERE / "_build" / ".jupyter_cache")
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

html_theme = "pydata_sphinx_theme"
html_title = "diffmem_theory"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_static_path = ["_ext/static"]  # the registry tables' style (diffmem_site)
html_css_files = ["diffmem.css"]
html_extra_path = ["_generated/extra"]  # llms.txt at the site root (written by diffmem_docs)
