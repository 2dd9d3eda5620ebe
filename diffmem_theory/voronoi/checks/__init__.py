"""Registered checks of paper 002 (Baptista et al.): scores, lemma constants and bounds, and
the reverse dynamics; the erratum checks are in :mod:`diffmem_theory.voronoi.errata`."""
