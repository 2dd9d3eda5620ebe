"""Paper 004: Shah, Kalavasis, Klivans, Daras, "Does Generation Require Memorization? Creative
Diffusion Models using Ambient Diffusion" (ICML 2025).

* :mod:`~diffmem_theory.leakage.ambient` -- noise scales, the ambient score matching loss eq. (6)
  and Lemma C.1, Algorithm 1, the exact optimal scores, the reverse ODE eq. (5), Lemma 4.1;
* :mod:`~diffmem_theory.leakage.information` -- information leakage, Lemma 4.2 and Lemma D.1;
* :mod:`~diffmem_theory.leakage.feldman` -- Feldman's long-tail argument at a fixed noise level:
  Thm B.2, eq. (7), Lemmas B.4-B.9 and Lemma 4.5;
* :mod:`~diffmem_theory.leakage.experiment_tables` -- Tables 1-5 as printed, with consistency
  checks;
* :mod:`~diffmem_theory.leakage.errata` -- the errata catalogue and the erratum checks;
* ``checks/`` and ``figures/`` -- the registered theorem checks and figures of the paper.
"""
