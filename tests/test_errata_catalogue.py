"""The errata catalogue of the five papers against the registered erratum checks.

Each theory package's ``errata`` module enters its paper's errata in the catalogue
(:func:`diffmem_theory.registry.erratum`) and registers the checks that reproduce their
counterexamples (``erratum=True``). The two must agree: every erratum check is named by a
catalogue entry, every entry's check is a registered erratum check, and every entry says where
the statement is, what is printed and what the correction is (and, when it has a check, the
counterexample).
"""

from __future__ import annotations

import re

import pytest

from diffmem_theory.registry import PACKAGES, get_check, list_checks, list_errata

PAPERS = [paper for paper in PACKAGES if paper != "core"]


@pytest.mark.parametrize("paper", PAPERS)
def test_every_paper_has_a_catalogue(paper):
    entries = list_errata(paper)
    assert entries, f"{paper} ({PACKAGES[paper]}.errata) enters no erratum in the catalogue"
    assert all(e.paper == paper for e in entries)


@pytest.mark.parametrize("paper", [*PAPERS, "core"])
def test_every_erratum_check_is_catalogued(paper):
    named = {e.check for e in list_errata()}  # a check may serve an entry of any paper
    missing = sorted(c.name for c in list_checks(paper) if c.erratum and c.name not in named)
    assert not missing, f"erratum checks without a catalogue entry: {missing}"


@pytest.mark.parametrize("paper", [*PAPERS, "core"])
def test_every_catalogued_check_is_a_registered_erratum_check(paper):
    for entry in list_errata(paper):
        if entry.check is None:
            continue
        spec = get_check(entry.check)  # ValueError if it is not registered
        assert spec.erratum, f"{entry.name}: check {entry.check} is not registered as an erratum"


@pytest.mark.parametrize("paper", [*PAPERS, "core"])
def test_catalogue_fields(paper):
    for e in list_errata(paper):
        for field in ("where", "printed", "correction"):
            assert getattr(e, field).strip(), f"{e.name}: {field} is empty"
        if e.check is not None:
            assert e.counterexample.strip(), f"{e.name}: a check but no counterexample"
        text = " ".join((e.where, e.printed, e.correction, e.counterexample))
        # users do not have the authors' working notes: cite the paper, state the derivation
        assert not re.search(r"\bnotes\b|§", text), f"{e.name} cites notes: {text!r:.200}"


def test_catalogue_names_are_unique_across_papers():
    names = [e.name for e in list_errata()]
    assert len(names) == len(set(names)) and names == sorted(names)
