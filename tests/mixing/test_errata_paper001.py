"""The errata of Halder (paper 001): catalogue entries and erratum checks (mixing.errata)."""

from __future__ import annotations

from diffmem_theory.registry import get_check, list_checks, list_errata

ERRATUM_CHECKS = {
    "paper001.eq2_10_bandwidth",
    "paper001.eq2_11_silverman_leading",
    "paper001.eq2_12_printed_sigma",
    "paper001.cov_convention",
    "paper001.kl_lower_bound",
    "paper001.b12_b14_factors",
}


def test_every_erratum_check_has_a_catalogue_entry():
    checks = {c.name for c in list_checks("001") if c.erratum}
    assert checks == ERRATUM_CHECKS
    catalogued = {e.check for e in list_errata("001") if e.check is not None}
    assert catalogued == checks


def test_erratum_checks_live_in_the_errata_module():
    for name in ERRATUM_CHECKS:
        assert get_check(name).func.__module__ == "diffmem_theory.mixing.errata"
    for spec in list_checks("001"):  # paper001.ou_transition is a schedule identity of core
        if not spec.erratum:
            assert spec.func.__module__.startswith(
                ("diffmem_theory.mixing.checks.", "diffmem_theory.core.checks.")
            ), spec.name


def test_catalogue_entries_are_complete():
    entries = list_errata("001")
    assert len(entries) >= 15
    for e in entries:
        assert e.paper == "paper001"
        assert e.where and e.printed and e.correction
        if e.check is not None:
            assert e.counterexample, e.name
            assert get_check(e.check).erratum, e.name
