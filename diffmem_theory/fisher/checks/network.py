"""Paper 003's Prop 4.1 held to trained neural score networks (registered with the ``nn`` extra).

Ye et al., Prop 4.1: the loss gap of any score ``s`` against the empirical score ``s_hat`` is
their Fisher divergence, ``Loss-Gap_t(s) = E_{P_hat_t}|s_hat - s|^2`` (the proof in App. A.1
never uses that ``s`` is the true score). The check trains two ReLU score networks of
:mod:`diffmem_theory.nn` (a narrow one and a wide one) on the same data and tests the identity
on each, with the z-score of :func:`~diffmem_theory.fisher.loss_gap.prop_4_1_sides`. Without
JAX, Equinox and Optax installed (``pip install "diffmem-theory[nn]"``) the check is not
registered.
"""

from __future__ import annotations

import numpy as np

from diffmem_theory._optional import HAVE_NN
from diffmem_theory.core.distributions import IsotropicGaussianMixture
from diffmem_theory.core.schedules import VPExp
from diffmem_theory.fisher.loss_gap import prop_4_1_sides
from diffmem_theory.registry import Outcome, check

if HAVE_NN:

    @check("paper003.prop4_1_network", equation="Ye et al., Prop 4.1 (proof App. A.1)")
    def prop_4_1_network(seed: int = 0) -> Outcome:
        """Loss-Gap_t(s) = E_{P_hat_t}|s_hat - s|^2 for trained ReLU score networks.

        Data: n = 40 points of a 3-component isotropic mixture in d = 2 (variance 0.25, means
        ~ N(0, 4 I)); VPExp. Networks: 3 hidden ReLU layers of width 16 and 128 with Fourier
        time features, trained 300 epochs on the DSM objective (``weighting="eps"``, Adam,
        EMA). t in {0.05, 0.3, 1.5}, 100 noise draws per point, common random numbers. Value =
        largest |z| of the residual over both networks and the three times; tolerance 4.
        """
        import jax

        from diffmem_theory import nn

        rng = np.random.default_rng(seed)
        gmm = IsotropicGaussianMixture(rng.normal(0.0, 2.0, (3, 2)), 0.25)
        X, _ = gmm.sample(40, rng)
        sched = VPExp()
        worst, gaps = 0.0, []
        for width in (16, 128):
            net = nn.mlp(2, width, 3, key=jax.random.key(seed), prediction="score")
            trained = nn.train(
                net, X, sched, epochs=300, lr=3e-3, t_max=2.0, seed=seed, progress=False
            )
            score = nn.numpy_callable(trained.ema)
            res = prop_4_1_sides(X, score, [0.05, 0.3, 1.5], sched, n_noise=100, seed=seed)
            worst = max(worst, float(np.max(np.abs(res.z))))
            gaps.append(np.round(res.rhs.mean, 3).tolist())
        note = f"Fisher divergence at t = 0.05, 0.3, 1.5: width 16 {gaps[0]}, width 128 {gaps[1]}"
        return Outcome(worst, 0.0, 4.0, worst < 4.0, note)
