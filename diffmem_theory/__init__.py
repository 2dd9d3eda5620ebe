"""diffmem_theory: memorization vs generalization in diffusion models, as tested mathematics."""

__version__ = "0.1.0"
