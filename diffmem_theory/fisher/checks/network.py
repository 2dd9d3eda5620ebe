"""Paper 003's claims held to trained ReLU score networks (registered with the ``nn`` extra).

* ``paper003.prop4_1_network``: Ye et al., Prop 4.1, the loss gap of any score ``s`` against
  the empirical score ``s_hat`` is their Fisher divergence,
  ``Loss-Gap_t(s) = E_{P_hat_t}|s_hat - s|^2`` (the proof in App. A.1 never uses that ``s`` is
  the true score), tested on a memorizing and a generalizing network with the z-score of
  :func:`~diffmem_theory.fisher.loss_gap.prop_4_1_sides`.
* ``paper003.nn_width_threshold``: the smallest width at which the networks memorize grows
  with n (Sec. 6.1, Fig. 2b; the direction of Thm 5.1, eq. (5.3)), beyond Monte Carlo error.

The networks, data and measures are those of :mod:`diffmem_theory.fisher.networks` (shared,
and cached, with the figures ``paper003.fig1``, ``paper003.fig2`` and
``paper003.loss_gap_network``). Without JAX, Equinox and Optax installed
(``pip install "diffmem-theory[nn]"``) the checks are not registered.
"""

from __future__ import annotations

import numpy as np

from diffmem_theory._optional import HAVE_NN
from diffmem_theory.registry import Outcome, check

if HAVE_NN:
    from diffmem_theory.fisher import networks as _net

    @check("paper003.prop4_1_network", equation="Ye et al., Prop 4.1 (proof App. A.1)")
    def prop_4_1_network(seed: int = 0, quick: bool = True) -> Outcome:
        """Loss-Gap_t(s) = E_{P_hat_t}|s_hat - s|^2 for a memorizing and a generalizing network.

        The networks of :func:`~diffmem_theory.fisher.networks.loss_gap_pairs` (the widest
        width of the sweep trained on the smallest n, which memorizes, and on the largest n,
        which does not), on the K = 4 mixture in d = 2; 8 times from 2e-3 to 0.5, 100 noise
        draws per point, common random numbers. Value = largest |z| of the residual over both
        networks and the times; tolerance 4.
        """
        s = _net.setting(quick)
        pairs = _net.loss_gap_pairs(s)
        res = _net.loss_gap_sides(pairs, s["epochs"], _net.LOSS_GAP_TIMES, seed=seed)
        worst = max(float(np.max(np.abs(net.z))) for net, _ in res.values())
        i = 2  # t = LOSS_GAP_TIMES[2] ~ 0.0097 (sigma ~ 0.10)
        t = _net.LOSS_GAP_TIMES[i]
        gaps = ", ".join(
            f"n = {n}, width {w}: network {net.rhs.mean[i]:.3g}, true score {true.rhs.mean[i]:.3g}"
            for (n, w), (net, true) in res.items()
        )
        note = f"Fisher divergence to the empirical score at t = {t:.3g}: {gaps}"
        return Outcome(worst, 0.0, 4.0, worst < 4.0, note)

    @check(
        "paper003.nn_width_threshold",
        equation="Ye et al., Sec. 6.1 / Fig. 2b; Thm 5.1, eq. (5.3) (direction)",
    )
    def nn_width_threshold(seed: int = 0, quick: bool = True) -> Outcome:
        """The memorizing width (ratio > 1/2) of the smallest n is below that of the largest n.

        :func:`~diffmem_theory.fisher.networks.width_sweep` on the quick (full) setting;
        decision :func:`~diffmem_theory.fisher.networks.threshold_decision`: at the smallest
        n's memorizing width the smallest n's ratio exceeds the largest n's by more than 3
        combined binomial standard errors, and the largest n has not memorized there. Value =
        that z; target > 3.
        """
        s = _net.setting(quick)
        sw = _net.width_sweep(s["ns"], s["widths"], s["epochs"], s["n_samples"], seed)
        z, passed, note = _net.threshold_decision(
            sw["widths"], sw["ratio"][0], sw["ratio"][-1], sw["n_samples"]
        )
        ratios = "; ".join(
            f"n = {n}: " + ", ".join(f"{r:.2f}" for r in row)
            for n, row in zip(sw["ns"], sw["ratio"], strict=True)
        )
        note += f". Ratios at widths {sw['widths']}: {ratios}"
        return Outcome(z, 3.0, None, passed, note)
