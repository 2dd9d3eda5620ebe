"""Paper 002: Baptista, Dasgupta, Kovachki, Oberai, Stuart, "Memorization and Regularization in
Generative Diffusion Models".

* :mod:`~diffmem_theory.voronoi.scores` -- the empirical score (Thm 3.2, (3.8)-(3.9)), the
  Tikhonov (5.6)-(5.7) and empirical-Bayes (5.11)-(5.12) scores, the conditional score of
  Thm 6.4 and the Gaussian score of Remark 3.7;
* :mod:`~diffmem_theory.voronoi.geometry` -- Voronoi cells (4.3), shrunk cells, the constants
  D_-, D^+, |x|_inf (4.2), (4.27), (4.29), alpha_n and s^alpha (Lemma 4.11), limit points and
  rates (Thm 4.3);
* :mod:`~diffmem_theory.voronoi.bounds` -- the s-time weights and the constants and bounds of
  the collapse proofs: Lemmas 4.5, 4.10, 4.13, A.2, C.3, C.5, C.6, C.8, and (5.4) of Thm 5.1;
* :mod:`~diffmem_theory.voronoi.dynamics` -- the reverse ODE and SDE with these scores, in t-
  and s-time (Secs. 4-5, App. C);
* :mod:`~diffmem_theory.voronoi.data` -- the authors' 20 points and the two schedules of the
  experiments;
* :mod:`~diffmem_theory.voronoi.regularized` -- samples of the regularized flows and the
  reference tables of Figs. 5 and 7;
* :mod:`~diffmem_theory.voronoi.errata` -- the errata catalogue and the erratum checks;
* ``checks/`` and ``figures/`` -- the registered theorem checks and Figs. 1-7, 19, 20.
"""
