"""diffmem_theory: memorization vs generalization in diffusion models, as tested mathematics."""

__version__ = "0.1.0"

from diffmem_theory._validation import OutOfRangeWarning

__all__ = ["OutOfRangeWarning", "__version__"]
