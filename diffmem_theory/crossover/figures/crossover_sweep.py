r"""``paper000.crossover_grid``: the sweep of the predicted crossover ratio ``M_*/N`` of eq. (14).

Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models" (paper 000),
eq. (14): ``M_*/N = 1 - E_t[lambda/(psi_t s2 + 1)] / (C E_t[lambda])`` for the constant
``C in [1, 2]`` of Thm 3.2, the weighting ``lambda`` = ``"x0"`` (1) or ``"eps"`` (``psi_t``, the
training weighting), and ``t`` uniform on the experiments' 26-point VPTrig grid (``"grid"``) or
on the continuous domain (``"continuous"``); ``sigma_*^2 = 1``. Each run is one closed-form
evaluation (:func:`diffmem_theory.crossover.excess.crossover_ratio`), so the sweep is cheap: it
keeps the sweep machinery (:mod:`diffmem_theory.sweep`) exercised end to end.

Quick: ``C in {1, 1.5, 2}`` (12 runs); full: ``C = 1.0, 1.1, ..., 2.0`` (44 runs).

Example
-------
>>> r = crossover_task({"C": 1.0, "weighting": "x0", "times": "continuous"})   # 1 - 1/(3C)
>>> round(r["ratio"], 12)
0.666666666667
>>> task, configs = crossover_grid_specs.specs(quick=True)
>>> len(configs), configs[0]
(12, {'C': 1.0, 'times': 'grid', 'weighting': 'x0'})
"""

from __future__ import annotations

from diffmem_theory._validation import check_config
from diffmem_theory.core.schedules import VPTrig
from diffmem_theory.crossover.excess import crossover_ratio
from diffmem_theory.sweep import sweep_spec

__all__ = ["crossover_grid_specs", "crossover_task"]

TASK = "diffmem_theory.crossover.figures.crossover_sweep:crossover_task"
_TIMES = ("grid", "continuous")


def crossover_task(config: dict) -> dict:
    """One run: ``{"ratio": M_*/N}`` for ``config = {"C", "weighting", "times"[, "var_star"]}``.

    ``times`` is ``"grid"`` (the 26-point VPTrig grid) or ``"continuous"``; ``weighting`` any
    name that :func:`diffmem_theory.crossover.excess.crossover_ratio` accepts.

    >>> crossover_task({"C": 2.0, "weighting": "eps", "times": "grid"})["ratio"] > 0.9999
    True
    """
    check_config(config, "config", ("C", "weighting"))
    times = config.get("times", "grid")
    if times not in _TIMES:
        raise ValueError(f"config['times'] must be one of {list(_TIMES)}, got {times!r}")
    grid = VPTrig().time_grid() if times == "grid" else None
    ratio = crossover_ratio(
        config["weighting"],
        times=grid,
        C=config["C"],
        var_star=config.get("var_star", 1.0),
    )
    return {"ratio": float(ratio)}


@sweep_spec("paper000.crossover_grid")
def crossover_grid_specs(quick: bool) -> tuple[str, list[dict]]:
    """Eq. (14) crossover ratio over C in [1, 2] x weighting {x0, eps} x grid/continuous t."""
    n = 3 if quick else 11
    cs = [round(1.0 + k / (n - 1), 10) for k in range(n)]
    configs = [
        {"C": c, "times": times, "weighting": w}
        for c in cs
        for w in ("x0", "eps")
        for times in _TIMES
    ]
    return TASK, configs
