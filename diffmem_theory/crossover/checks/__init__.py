"""Registered checks of paper 000 (Thms 3.1-3.2, eqs. (13)-(14), Apps. C-F)."""
