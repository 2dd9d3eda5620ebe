"""The examples on the documentation site run.

Every fenced ```` ```python ```` block of the hand-written pages (``docs/**/*.md``, not the
generated API, gallery and notebook pages) runs in a fresh namespace, and every
```` ```{code-block} pycon ```` block runs as a doctest (its printed output must match). A
block that needs an optional extra says so in a comment that this test reads, e.g.
``# needs: nn``; it is skipped when the extra is not installed.
"""

from __future__ import annotations

import contextlib
import doctest
import importlib.util
import io
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
# generated at build time (docs/_ext), or build outputs: not hand-written pages
GENERATED = {"_build", "_ext", "_generated", "_templates", "api", "gallery", "notebooks"}
# the modules an extra installs (pyproject.toml's optional dependencies)
EXTRAS = {
    "nn": ("jax", "equinox", "optax"),
    "digits": ("sklearn",),
    "gpu": ("cupy",),
    "dist": ("dask", "distributed"),
    "notebooks": ("nbformat", "nbclient"),
}
NEEDS = re.compile(r"#\s*needs:\s*([\w, ]+)")
PYTHON = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
PYCON = re.compile(r"^```\{code-block\}[ \t]+pycon[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)


def pages() -> list[Path]:
    """The hand-written Markdown pages of the site."""
    return sorted(
        p for p in DOCS.rglob("*.md") if not GENERATED.intersection(p.relative_to(DOCS).parts[:-1])
    )


def blocks(pattern: re.Pattern[str]) -> list[tuple[str, str]]:
    """(``page:line``, source) of every block matching ``pattern`` on the pages."""
    found = []
    for page in pages():
        text = page.read_text(encoding="utf-8")
        for m in pattern.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            found.append((f"{page.relative_to(DOCS)}:{line}", m.group(1)))
    return found


def skip_missing_extras(source: str) -> None:
    """Skip the test when a ``# needs: EXTRA`` comment names an extra that is not installed."""
    for m in NEEDS.finditer(source):
        for extra in (e.strip() for e in m.group(1).split(",")):
            if extra not in EXTRAS:
                raise ValueError(f"unknown extra {extra!r} in '# needs:'; known: {sorted(EXTRAS)}")
            missing = [mod for mod in EXTRAS[extra] if importlib.util.find_spec(mod) is None]
            if missing:
                pytest.skip(f"needs the {extra} extra ({', '.join(missing)} not installed)")


PYTHON_BLOCKS = blocks(PYTHON)
PYCON_BLOCKS = blocks(PYCON)


def test_the_pages_have_examples():
    assert len(pages()) >= 10
    assert len(PYTHON_BLOCKS) + len(PYCON_BLOCKS) >= 10


@pytest.mark.parametrize(("where", "source"), PYTHON_BLOCKS, ids=[w for w, _ in PYTHON_BLOCKS])
def test_python_block_runs(where, source):
    skip_missing_extras(source)
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(source, where, "exec"), {"__name__": "__docs__"})


@pytest.mark.parametrize(("where", "source"), PYCON_BLOCKS, ids=[w for w, _ in PYCON_BLOCKS])
def test_pycon_block_doctest(where, source):
    skip_missing_extras(source)
    parser = doctest.DocTestParser()
    test = parser.get_doctest(source, {"__name__": "__docs__"}, where, where, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    out = io.StringIO()
    runner.run(test, out=out.write)
    assert runner.failures == 0, out.getvalue()


def test_errata_page_counts_match_the_catalogue():
    """The errata page's counts (per paper, with and without a check) are the registry's."""
    from collections import Counter

    from diffmem_theory.registry import list_errata

    errata = list_errata()
    n = Counter(e.name.split(".")[0] for e in errata)
    checked = sum(1 for e in errata if e.check)
    text = " ".join((DOCS / "errata.md").read_text(encoding="utf-8").split())
    expected = (
        f"The five papers print {len(errata)} statements that are wrong as printed: "
        f"{n['paper000']} in paper 000, {n['paper001']} in 001, {n['paper002']} in 002, "
        f"{n['paper003']} in 003 and {n['paper004']} in 004. For {checked} of them"
    )
    assert expected in text
    assert f"the other {len(errata) - checked} are misprints" in text


def test_getting_started_has_the_readme_setup_commands():
    """Getting started shows the README's two set-up commands, character for character."""
    bash = re.compile(r"^```bash\n(.*?)^```", re.M | re.S)
    readme = bash.findall((DOCS.parent / "README.md").read_text(encoding="utf-8"))[:2]
    page = bash.findall((DOCS / "getting_started.md").read_text(encoding="utf-8"))[:2]
    assert len(readme) == 2 and page == readme
