"""The errata of paper 003 (Ye et al.): catalogue entries, their checks and the printed variants."""

from __future__ import annotations

import pytest

from diffmem_theory.fisher import bounds as fb
from diffmem_theory.fisher import errata
from diffmem_theory.registry import get_check, list_checks, list_errata

ERRATUM_CHECKS = (
    "paper003.lemmaA2_lower_printed",
    "paper003.lemmaB18_printed",
    "paper003.lemmaC1_midpoint_printed",
)


def test_every_erratum_check_has_a_catalogue_entry():
    checks = {spec.name for spec in list_checks("003") if spec.erratum}
    assert checks == set(ERRATUM_CHECKS)
    catalogued = {e.check for e in list_errata("003") if e.check is not None}
    assert catalogued == checks


def test_catalogue_entries_are_complete():
    entries = list_errata("003")
    assert len(entries) == 6
    for entry in entries:
        assert entry.paper == "paper003"
        assert entry.where and entry.printed and entry.correction
        if entry.check is not None:
            assert entry.counterexample, entry.name
            assert get_check(entry.check).erratum


def test_erratum_checks_live_in_the_errata_module():
    for name in ERRATUM_CHECKS:
        assert get_check(name).func.__module__ == errata.__name__


@pytest.mark.parametrize("name", ERRATUM_CHECKS)
def test_erratum_checks_reproduce_their_counterexample(name):
    result = get_check(name).run()
    assert result.status == "erratum", result.note


def test_printed_interval_is_the_paper_lower_end():
    tau = fb.norm_tau(0.01, 8)
    y_l, y_u = fb.chi2_rate_roots(tau, printed=True)
    printed = fb.norm_concentration_interval(0.01, 8, printed=True)
    assert printed.lower == pytest.approx(8 * y_l, rel=1e-15)
    assert printed.upper == pytest.approx(8 * y_u, rel=1e-15)
    assert printed.upper == fb.norm_concentration_interval(0.01, 8).upper
    with pytest.raises(ValueError, match="lower must be left at 'lambert'"):
        fb.norm_concentration_interval(0.01, 8, printed=True, lower="quadratic")
    with pytest.raises(ValueError, match="lower must be one of"):
        fb.norm_concentration_interval(0.01, 8, lower="printed")
    with pytest.raises(ValueError, match="printed must be True or False"):
        fb.chi2_rate_roots(tau, printed="yes")
