"""Paper 001: Halder, "From memorization to generalization: a theoretical framework for
diffusion-based generative models".

* :mod:`~diffmem_theory.mixing.mixing_time` -- Sec. 2: the mixing time t_M (2.9), the KDE
  bandwidths (2.10)-(2.11) and the exact Gaussian-KDE MISE, the OU-evolved empirical density
  (2.7) and its score, the decomposition (2.8), the late-time expansion (2.12), t_R and t_S;
* :mod:`~diffmem_theory.mixing.linear_model` -- Sec. 3 and App. B: the solvable linear one-step
  model (least-squares denoiser (3.1), generated Gaussian (3.3), Hellinger (3.4), KL (B.3)-(B.10),
  the deterministic equivalent (B.17) and exact Wishart expectations, the KDE distances (3.7)
  and Delta, the per-coordinate metric (4.1));
* :mod:`~diffmem_theory.mixing.linear_model_mp` -- mpmath twins of the linear-model distances;
* :mod:`~diffmem_theory.mixing.symbolic` -- sympy derivations of (2.9) and (B.17);
* :mod:`~diffmem_theory.mixing.errata` -- the errata catalogue and the checks that reproduce it;
* :mod:`~diffmem_theory.mixing.checks` and :mod:`~diffmem_theory.mixing.figures` -- the
  registered theorem checks and Figs. 2-4.

The OU schedule of the paper (eq. (2.1), footnote 5) is :class:`diffmem_theory.core.schedules.OU`
and the empirical distribution :class:`diffmem_theory.core.distributions.EmpiricalDistribution`.
"""
