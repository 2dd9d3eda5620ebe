"""Figures of paper 000 (Figs. 1-7) and the crossover sweep, registered as experiments."""
