"""Registered figures of paper 002 (Baptista et al.): Figs. 1-3, 19, 20 (trajectories and
rates) and Figs. 4-7 (regularized scores)."""
