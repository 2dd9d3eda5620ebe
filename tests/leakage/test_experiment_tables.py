"""Tables 1-5 of Shah et al. (paper 004), as transcribed in leakage.experiment_tables."""

from __future__ import annotations

import dataclasses

import pytest

from diffmem_theory.leakage import experiment_tables as tables
from diffmem_theory.leakage.experiment_tables import (
    TABLE1,
    TABLE2,
    TABLE3,
    TABLE4,
    TABLE5,
    THRESHOLDS,
    MemorizationRow,
    table2_table1_mismatches,
    table5_percentile_violations,
    threshold_violations,
)


def test_spot_values_verbatim():
    """A few entries from each table, as printed in Sec. 5 and App. E."""
    assert TABLE1["CIFAR-10"][300]["DDPM"] == MemorizationRow(25.1, (78.96, 67.2, 56.56))
    assert TABLE1["ImageNet"][3000]["Ours"] == MemorizationRow(39.87, (28.40, 9.44, 4.02))
    assert 300 not in TABLE1["ImageNet"]  # footnote 2: no 300-image setting
    assert TABLE2[1000]["Noise"] == MemorizationRow(25.57, (14.83, 9.37, 6.49))
    assert TABLE3["Baseline"] == 353.19 and TABLE3[0.25] == 344.60
    assert TABLE4[0.1] == (0.8854, 0.8748)
    assert TABLE5["W24 + ours"] == tables.SD2Row(0.192, 0.267, 0.293, 20.74)
    assert THRESHOLDS["FFHQ"] == (0.85, 0.875, 0.9)


def test_shapes():
    assert {ds: sorted(by_n) for ds, by_n in TABLE1.items()} == {
        "CIFAR-10": [300, 1000, 3000],
        "FFHQ": [300, 1000, 3000],
        "ImageNet": [1000, 3000],
    }
    assert all(set(by_m) == {"DDPM", "Masking", "Noise", "Ours"} for by_m in TABLE2.values())
    assert len(TABLE3) == len(TABLE4) == len(TABLE5) == 6


def test_consistency_of_the_transcription():
    assert threshold_violations() == []
    assert table2_table1_mismatches() == []
    assert table5_percentile_violations() == []


def test_detectors_can_fail(monkeypatch):
    """Corrupted copies of the tables are flagged by each consistency function."""
    bad_ffhq = dict(TABLE2)
    bad_ffhq[300] = {**TABLE2[300], "Ours": MemorizationRow(15.05, (49.68, 50.0, 29.86))}
    monkeypatch.setattr(tables, "TABLE2", bad_ffhq)
    assert threshold_violations() == ["Table 2 n=300 Ours"]
    assert table2_table1_mismatches() == ["n=300 Ours"]
    bad5 = {**TABLE5, "Ours": dataclasses.replace(TABLE5["Ours"], p95=0.3)}
    monkeypatch.setattr(tables, "TABLE5", bad5)
    assert table5_percentile_violations() == ["Ours"]


def test_tables_are_read_only():
    with pytest.raises(TypeError):
        TABLE1["FFHQ"][300] = {}  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        TABLE5["Ours"].fid = 0.0  # type: ignore[misc]


def test_claims_versus_data_recorded_as_is():
    """Notes §5 item 12: the data contradicts some claims; the tables keep the printed numbers."""
    assert TABLE1["FFHQ"][3000]["Ours"].fid > TABLE1["FFHQ"][3000]["DDPM"].fid  # 6.46 > 6.42
    assert TABLE4[0.1][0] > TABLE4["DDPM"][0]  # mean similarity higher at sigma = 0.1
    assert [s for s in (0.1, 0.25, 0.3, 0.4, 0.5) if TABLE3[s] < TABLE3["Baseline"]] == [0.1, 0.25]


def test_rows_validate_their_fields():
    """Issue 14: complex or out-of-range fields were stored as given."""
    with pytest.raises(ValueError, match="fid must be a real scalar"):
        tables.MemorizationRow(1j, (1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="above must hold three percentages"):
        tables.MemorizationRow(1.0, (1.0, 2.0))
    with pytest.raises(ValueError, match="above must be <= 100"):
        tables.MemorizationRow(1.0, (1.0, 2.0, 300.0))
    with pytest.raises(ValueError, match="p95 must be a real scalar"):
        tables.SD2Row(0.3, 1 + 1j, 0.3, 18.0)
    assert tables.SD2Row(0, 1, 0, 18).p95 == 1.0
