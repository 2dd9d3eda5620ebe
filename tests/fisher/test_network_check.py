"""Paper 003's Prop 4.1 on trained neural score networks (the ``nn`` extra)."""

from __future__ import annotations

import pytest

from diffmem_theory.registry import get_check

pytest.importorskip("jax")
pytest.importorskip("equinox")
pytest.importorskip("optax")


def test_prop_4_1_holds_for_trained_networks():
    result = get_check("paper003.prop4_1_network").run(seed=0)
    assert result.status == "pass", result.note
    assert result.value < 4.0
