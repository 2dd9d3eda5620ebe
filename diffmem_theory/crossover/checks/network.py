"""Paper 000's laboratory with MLP denoisers: memorization rises with parameter count.

Buchanan et al. (paper 000) show that a GMM denoiser memorizes once its capacity ``M`` passes
a threshold (Sec. 4.1, Fig. 2). ``paper000.nn_capacity_trend`` asks the same of ReLU MLP
denoisers trained on the same kind of data (:mod:`diffmem_theory.crossover.networks`): the
memorization ratio (Def. 2.2, ``c = 1/9``) must rise with the parameter count beyond Monte
Carlo error. The decision is
:func:`~diffmem_theory.core.metrics.rising_trend`. Without JAX, Equinox and Optax installed
(``pip install "diffmem-theory[nn]"``) the check is not registered.
"""

from __future__ import annotations

from diffmem_theory._optional import HAVE_NN
from diffmem_theory.registry import Outcome, check

__all__: list[str] = []

if HAVE_NN:
    #: Standard errors the rise must exceed, and no step's fall.
    Z_TREND = 3.0

    @check(
        "paper000.nn_capacity_trend",
        equation="Buchanan et al., Def. 2.2 and Sec. 4.1 (memorization grows with capacity)",
    )
    def nn_capacity_trend(seed: int = 0, quick: bool = True) -> Outcome:
        """The memorization ratio of MLP denoisers rises with their parameter count.

        The networks of :func:`~diffmem_theory.crossover.networks.network_phase` (quick:
        widths 8 to 128, N = 20, d = 10, K = 2, 200 DDIM samples each). Value = the rise of the
        ratio from the narrowest to the widest network in binomial standard errors; it must
        exceed 3, and no step may fall by more than 3
        (:func:`~diffmem_theory.core.metrics.rising_trend`).
        """
        from diffmem_theory.core.metrics import rising_trend
        from diffmem_theory.crossover.networks import network_phase

        out = network_phase(quick, seed)
        trend = rising_trend(out["ratio"], out["n_eval"], Z_TREND)
        pairs = ", ".join(f"{x:.3g}: {r:.3f}" for x, r in zip(out["x"], out["ratio"], strict=True))
        note = (
            f"ratio at P/(N d) = {pairs} (n = {out['n_eval']}); largest fall of a step "
            f"{max(trend.worst_fall, 0.0):.2f} SE"
        )
        return Outcome(trend.rise, Z_TREND, None, trend.passed, note)
