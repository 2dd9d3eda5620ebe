"""Registered experiments of paper 001 (Halder): Figs. 2-4 of the linear model in ``linear``."""
