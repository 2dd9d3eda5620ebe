"""Neural score networks on JAX, Equinox and Optax (the optional extra ``[nn]``).

:mod:`~diffmem_theory.nn.models` holds the MLP score/denoiser networks with Fourier time
features (Baptista et al., paper 002, Sec. 5.3; paper 003, Sec. 6).
"""
