"""diffmem_theory: memorization vs generalization in diffusion models, as tested mathematics.

``core`` holds the paper-agnostic diffusion (schedules, distributions, denoisers, losses,
metrics, dynamics, training); each paper's theory is one package: ``crossover`` (paper 000),
``mixing`` (001), ``voronoi`` (002), ``fisher`` (003) and ``leakage`` (004).
"""

__version__ = "0.1.0"

from diffmem_theory._bounds import Bound
from diffmem_theory._validation import OutOfRangeWarning

__all__ = ["Bound", "OutOfRangeWarning", "__version__"]
