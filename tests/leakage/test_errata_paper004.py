"""The errata of paper 004 (Shah et al.): every erratum check has a catalogue entry, and back."""

from __future__ import annotations

import re

import pytest

from diffmem_theory.leakage import errata
from diffmem_theory.registry import get_check, list_checks, list_errata


def _erratum_checks() -> dict[str, object]:
    return {spec.name: spec for spec in list_checks(paper="paper004") if spec.erratum}


def test_every_erratum_check_has_a_catalogue_entry():
    catalogued = {entry.check for entry in list_errata("004") if entry.check is not None}
    checks = _erratum_checks()
    assert len(checks) == 8
    assert set(checks) == catalogued


def test_erratum_checks_live_in_the_errata_module():
    for spec in _erratum_checks().values():
        assert spec.func.__module__ == errata.__name__, spec.name


def test_catalogue_entries_are_complete():
    entries = list_errata("004")
    assert len(entries) >= 13
    for entry in entries:
        assert entry.paper == "paper004"
        assert entry.where and entry.printed and entry.correction, entry.name
        if entry.check is not None:
            assert entry.counterexample, entry.name  # a check reproduces a stated counterexample
            assert get_check(entry.check).erratum, entry.name


def test_catalogue_text_cites_the_paper_only():
    # users have the paper, not the project's working catalogues or its issue tracker
    unpublished = re.compile(r"\bnot[e]s\b|\biss[u]e \d", re.IGNORECASE)
    for entry in list_errata("004"):
        text = " ".join((entry.where, entry.printed, entry.correction, entry.counterexample))
        assert not unpublished.search(text), entry.name


@pytest.mark.parametrize(
    "name",
    [
        "paper004.singletons_n_over_2",
        "paper004.lemma_4_5_high_noise",
        "paper004.lemma_B9_high_noise",
        "paper004.lemma_B7_concentration",
        "paper004.erratum_lemmaD1_proof",
        "paper004.thm_b_2_posterior_mean",
    ],
)
def test_fast_errata_reproduce(name):
    result = get_check(name).run()
    assert result.status == "erratum", result.note


def test_gaussian_flow_separates_printed_from_corrected():
    from diffmem_theory.leakage.ambient import eq5_as_printed_velocity, pf_ode_velocity

    corrected = errata.gaussian_flow_std(pf_ode_velocity, 0, n=2000, steps=200)
    printed = errata.gaussian_flow_std(eq5_as_printed_velocity, 0, n=2000, steps=200)
    assert abs(corrected - errata.DATA_STD) < 0.02 < abs(printed - errata.DATA_STD)
