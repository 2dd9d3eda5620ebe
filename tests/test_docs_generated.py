"""The generated parts of the documentation site list everything the package registers.

Fast (no Sphinx build): the generators of ``docs/_ext`` are called directly. The tables of
checks, figures and errata, and the gallery, list every registered check, experiment and
erratum; the notebooks' index every notebook; ``llms.txt`` every public name of every public
module.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest

from diffmem_theory import registry

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

import diffmem_docs  # noqa: E402
import diffmem_site  # noqa: E402


@pytest.mark.parametrize("paper", diffmem_site.PAPERS)
def test_tables_list_every_registered_check_figure_and_erratum(paper):
    checks = [c.name for c in registry.list_checks(paper=paper)]
    figures = [e.name for e in registry.list_experiments(paper=paper)]
    errata = [e.name for e in registry.list_errata(paper=paper)]
    short = paper[5:] if paper != "core" else paper  # the directives' argument: 000 ... 004
    assert [r["name"] for r in diffmem_site.check_rows(diffmem_site.paper_key(short))] == checks
    rows = [r["name"] for r in diffmem_site.figure_rows(paper)]
    assert sorted(rows) == sorted(figures)
    assert rows == sorted(figures, key=diffmem_site.natural_key)  # fig2 before fig10
    assert [r["name"] for r in diffmem_site.errata_rows(paper)] == errata
    for r in diffmem_site.check_rows(paper):
        assert r["kind"] == ("erratum" if registry.get_check(r["name"]).erratum else "theorem")
        assert r["equation"] and r["module"].startswith("diffmem_theory.")


def test_all_errata_and_every_paper_key_spelling():
    assert [r["name"] for r in diffmem_site.errata_rows()] == [
        e.name for e in registry.list_errata()
    ]
    assert {diffmem_site.paper_key(k) for k in ("002", "paper002", "voronoi")} == {"paper002"}
    with pytest.raises(ValueError, match="paper must be one of"):
        diffmem_site.paper_key("007")


def test_gallery_has_one_labelled_entry_per_experiment_and_every_papers_checks():
    page = diffmem_site.gallery_markdown("../figs")
    specs = registry.list_experiments()
    labels = re.findall(r"^\((gallery-[^)]+)\)=$", page, re.M)
    assert len(labels) == len(set(labels))
    for spec in specs:
        label = "gallery-" + spec.name.replace(".", "-")
        assert label in labels
        assert f"```{{image}} ../figs/{spec.name.replace('.', '_')}.png" in page
        assert f"```{{diffmem-experiment}} {spec.name}\n" in page
    papers = {spec.paper for spec in specs}
    for paper in papers:
        assert f"(gallery-checks-{paper})=" in page
        assert f"```{{diffmem-checks}} {paper}\n" in page
    # every registered check is in one of the gallery's tables
    assert {c.paper for c in registry.list_checks()} <= papers


def test_linked_checks_share_a_figure_or_theorem_with_the_experiment():
    assert diffmem_site.statement_refs("Lemma 4.5 / B.8, Figs. 8-9 and Thm 4.3") == {
        ("lemma", "4.5"),
        ("lemma", "B.8"),
        ("fig", "8"),
        ("fig", "9"),
        ("thm", "4.3"),
    }
    for spec in registry.list_experiments():
        refs = diffmem_site.statement_refs(f"{spec.figure} {spec.title}")
        for name in diffmem_site.linked_checks(spec.name):
            check = registry.get_check(name)
            assert check.paper == spec.paper
            assert refs & diffmem_site.statement_refs(check.equation)
    assert "paper002.nn_epochs_trend" in diffmem_site.linked_checks("paper002.fig9")


def test_notebooks_index_lists_every_notebook():
    paths = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert paths
    page = diffmem_site.notebooks_markdown(paths)
    for p in paths:
        assert f"]({p.stem}.ipynb)" in page
        assert f"\n{p.stem}\n" in page  # in the toctree
        assert diffmem_site.notebook_title(p) != p.stem  # every notebook has a title


def test_llms_txt_names_every_public_name_of_every_public_module():
    modules = diffmem_docs.public_modules()
    text = diffmem_docs.llms_txt(modules)
    sections = dict(re.findall(r"^## (\S+)\n(.*?)(?=^## |\Z)", text, re.M | re.S))
    assert sorted(sections) == sorted(modules)
    for name in modules:
        module = importlib.import_module(name)
        for public in diffmem_docs.public_names(module):
            assert re.search(rf"^- `{re.escape(public)}\b", sections[name], re.M), (
                f"llms.txt does not list {name}.{public}"
            )


def _demo_experiments():
    """A figure that renders and one whose run raises."""
    from diffmem_theory.plotting import figure

    def plot(result):
        fig, axes = figure(ncols=1)
        axes[0].plot(result)
        return fig

    def run_ok(quick=True, seed=0):
        return [seed, 1.0, 0.5]

    def run_broken(quick=True, seed=0):
        raise ZeroDivisionError("by design")

    return [
        registry.ExperimentSpec(name="core.demo_ok", run=run_ok, plot=plot, figure="-", title="ok"),
        registry.ExperimentSpec(
            name="core.demo_broken", run=run_broken, plot=plot, figure="-", title="broken"
        ),
    ]


def test_a_figure_that_fails_to_render_fails_the_build_and_the_others_are_cached(
    tmp_path, monkeypatch
):
    from sphinx.errors import ExtensionError

    specs = _demo_experiments()
    monkeypatch.setattr(diffmem_site.registry, "list_experiments", lambda: specs)
    with pytest.raises(
        ExtensionError, match=r"(?s)1 gallery figure\(s\) failed.*core\.demo_broken"
    ):
        diffmem_site.render_gallery(tmp_path)
    assert (tmp_path / "core_demo_ok.png").stat().st_size > 0
    assert not (tmp_path / "core_demo_broken.png").exists()
    monkeypatch.setattr(diffmem_site.registry, "list_experiments", lambda: specs[:1])
    assert diffmem_site.render_gallery(tmp_path) == []  # cached: not rendered again
    (tmp_path / "core_demo_ok.key").write_text("another version")
    assert diffmem_site.render_gallery(tmp_path) == ["core.demo_ok"]


def test_figures_missing_from_a_report_fail_the_build(tmp_path, monkeypatch):
    from sphinx.errors import ExtensionError

    specs = _demo_experiments()
    monkeypatch.setattr(diffmem_site.registry, "list_experiments", lambda: specs)
    (tmp_path / "report" / "figures").mkdir(parents=True)
    (tmp_path / "report" / "figures" / "core_demo_ok.png").write_bytes(b"\x89PNG demo")
    with pytest.raises(ExtensionError, match=r"(?s)1 figure\(s\) missing.*core\.demo_broken"):
        diffmem_site.copy_report_figures(tmp_path / "report", tmp_path / "out")
    assert (tmp_path / "out" / "core_demo_ok.png").read_bytes() == b"\x89PNG demo"


def test_pages_with_registry_tables_are_read_again_when_the_registry_changes(monkeypatch):
    from types import SimpleNamespace

    env = SimpleNamespace()
    diffmem_site._users(env).update({"theories/crossover", "gallery/index", "gone"})
    outdated = diffmem_site._outdated(None, env, set(), set(), {"gone"})
    assert outdated == ["gallery/index", "theories/crossover"]  # the first build: no digest
    assert diffmem_site._outdated(None, env, set(), set(), set()) == []  # unchanged
    specs = registry.list_checks()[1:]  # a check removed
    monkeypatch.setattr(diffmem_site.registry, "list_checks", lambda paper=None: specs)
    assert diffmem_site._outdated(None, env, set(), set(), set()) == [
        "gallery/index",
        "gone",
        "theories/crossover",
    ]
