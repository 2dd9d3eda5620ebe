"""Checks of paper 002's networks trained with the Tikhonov objective (Sec. 5.3, Figs. 12-14).

Baptista et al., Sec. 5.3 train the score network on J_reg,0^N (eq. (5.5), lambda = sigma^2,
Gamma = c / sigma^2) and report, without numbers, that memorization grows as ``c -> 0`` and
that the learned score approaches the singular empirical score. The checks run the settings
of :func:`~diffmem_theory.voronoi.tikhonov_network.tikhonov_settings` (quick by default) and
share the trained networks with the figures ``paper002.fig12``-``fig14`` through the cache of
:mod:`diffmem_theory.voronoi.tikhonov_network`. Without JAX, Equinox and Optax installed
(``pip install "diffmem-theory[nn]"``) they are not registered.
"""

from __future__ import annotations

from diffmem_theory._optional import HAVE_NN
from diffmem_theory.registry import Outcome, check

if HAVE_NN:
    import numpy as np

    from diffmem_theory.voronoi.checks.network import rising
    from diffmem_theory.voronoi.tikhonov_network import (
        R_MAX,
        score_errors,
        score_limit_verdict,
        tikhonov_settings,
        tikhonov_sweep,
    )

    @check(
        "paper002.nn_tikhonov_trend",
        equation="Baptista et al., Sec. 5.3, Fig. 14 (J_reg,0^N, eq. (5.5), Gamma = c/sigma^2)",
    )
    def nn_tikhonov_trend(seed: int = 0, quick: bool = True) -> Outcome:
        """The fraction of 1000 network samples within 0.1 of the data rises as c falls.

        One network per c (quick: width 128, 40,000 epochs, lr 3e-3, c = 0.1, 0.01, 1e-3, 0;
        full: width 256, 500,000 epochs, lr 1e-3, also c = 1e-4). In the order of decreasing
        c the fractions must rise from first to last by more than 3 combined binomial
        standard errors (floored at 1/1000) and no step may fall by more than 3 of its own
        (the decision of the other network trends, ``voronoi.checks.network.rising``).
        Value: the rise in standard errors.
        """
        res = tikhonov_sweep(tikhonov_settings(quick), seed)
        labels = [f"c = {c:g}" for c in res["c"][::-1]]
        out = rising(res["fraction"][::-1], res["n_samples"], labels)
        exact = np.round(res["exact_fraction"][::-1], 3).tolist()
        note = f"{out.note}; the exact minimizers' flows (5.7): {exact}"
        return Outcome(out.value, out.reference, out.tolerance, out.passed, note)

    @check(
        "paper002.nn_score_limit",
        equation="Baptista et al., Sec. 5.3, Fig. 13; s_reg^N of eq. (5.7), s^N of Thm 3.2",
    )
    def nn_score_limit(seed: int = 0, quick: bool = True) -> Outcome:
        """The learned score tends to the empirical score s^N as c -> 0.

        On 1000 points x_0^n + 0.2 z (the law of Fig. 13's x*) at the times of Fig. 13 with
        sigma(t) in [0.1, 0.3], r = time-mean of the median of |s - s^N| / |s^N|. Passes when
        r of the c = 0 network is < 0.5 and r(largest c) - r(c = 0) exceeds half the same gap
        between the exact minimizers (5.7). Value: r of the c = 0 network.
        """
        res = score_errors(tikhonov_settings(quick), seed)
        verdict = score_limit_verdict(res["network"], res["exact"])
        nets = ", ".join(f"{c:g}: {r:.3f}" for c, r in zip(res["c"], res["network"], strict=True))
        note = (
            f"r of the networks by c ({nets}); exact minimizers "
            f"{np.round(res['exact'], 3).tolist()}; data law's score {res['generalizing']:.3f}; "
            f"gap {verdict.gap:.3f} vs half the exact gap {verdict.exact_gap / 2:.3f}"
        )
        return Outcome(verdict.r_memorizing, 0.0, R_MAX, verdict.passed, note)
