"""Registered checks of paper 001 (Halder): Sec. 2 in ``mixing_time``, Sec. 3 and App. B in
``linear_model``; the erratum checks are in :mod:`diffmem_theory.mixing.errata`."""
