"""The five papers' theory applied to a user's own data set and model (``diffmem audit``).

:mod:`~diffmem_theory.audit.base` holds the inputs, values and sections every part shares.
"""
