"""Paper 003's Prop 4.1 on trained neural score networks (the ``nn`` extra)."""

from __future__ import annotations

import numpy as np
import pytest

from diffmem_theory.registry import get_check

pytest.importorskip("jax")
pytest.importorskip("equinox")
pytest.importorskip("optax")


def test_prop_4_1_holds_for_trained_networks():
    result = get_check("paper003.prop4_1_network").run(seed=0)
    assert result.status == "pass", result.note
    assert result.value < 4.0


def test_memorizing_network_is_closer_to_the_empirical_score():
    # the networks of the check (cached): at t ~ 0.013 the memorizing network's Fisher
    # divergence to the empirical score is below the generalizing network's and the truth's
    from diffmem_theory.fisher import networks

    s = networks.setting(True)
    pairs = networks.loss_gap_pairs(s)
    res = networks.loss_gap_sides(pairs, s["epochs"], networks.LOSS_GAP_TIMES, seed=0)
    i = 2
    (mem, mem_true), (gen, gen_true) = (res[p] for p in pairs)
    se = np.hypot(mem.rhs.stderr[i], mem_true.rhs.stderr[i])
    assert mem.rhs.mean[i] + 3 * se < mem_true.rhs.mean[i]
    # in eps units (times sigma_t^2) the generalizing network is closer to its truth
    assert mem.rhs.mean[i] / mem_true.rhs.mean[i] < gen.rhs.mean[i] / gen_true.rhs.mean[i]
