"""The data set and schedules of the numerical experiments of Baptista et al. (paper 002).

Sec. 4.4 and Figs. 1-6 use twenty points in the plane drawn with NumPy's legacy generator at
seed 1 (the authors' code: ``np.random.seed(1); np.random.randn(20, 2)``) and two schedules,
the exponential VE schedule (``g = 10^{2t}``) and the linear VP schedule with
``beta(t) = 0.001 + 3 t``. The checks and the figures of this package share them from here.

>>> SEED1_DATA.shape
(20, 2)
>>> sorted(SCHEDULES)
['VE', 'VP']
"""

from __future__ import annotations

import numpy as np

from diffmem_theory.core.schedules import VE, Schedule, VPLinear

__all__ = ["SCHEDULES", "SEED1_DATA"]

#: The authors' 20-point data set: ``np.random.RandomState(1).randn(20, 2)``.
SEED1_DATA = np.random.RandomState(1).randn(20, 2)
#: The exponential VE and the linear VP schedule of the experiments.
SCHEDULES: dict[str, Schedule] = {"VE": VE.exp(), "VP": VPLinear(0.001, 3.0)}
