"""Registered experiments (paper figures), one module per figure family."""
