"""Paper 000: Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models".

An isotropic Gaussian-mixture laboratory in which the training loss of a denoiser that memorizes
``M`` of the ``N`` training points crosses that of the generalizing denoiser at a predicted
``M_*`` (eq. (14)). Modules:

* :mod:`~diffmem_theory.crossover.excess` -- the excess losses of Thms 3.1 and 3.2, the crossover
  of eq. (14) for any loss weighting (grid, continuous ``t``, mpmath), the argmin form of
  Sec. 4.1 and the residuals of Thm F.1 / Prop F.2;
* :mod:`~diffmem_theory.crossover.concentration` -- Appendices C-E: chi-square and Gaussian-norm
  concentration, Prop. C.3, the coupon collector of Prop. C.4 (exact and corrected), the
  softmax lemmas D.1-D.2 and the gap and denoiser lemmas E.1-E.6 with their coupling conditions;
* :mod:`~diffmem_theory.crossover.regression` -- the loss-weighting regression of eq. (15) and
  its smoothing (30), App. H.3;
* :mod:`~diffmem_theory.crossover.symbolic` -- sympy derivations of Sec. 3 and eq. (14);
* :mod:`~diffmem_theory.crossover.template_data` and
  :mod:`~diffmem_theory.crossover.template_model` -- the colored-template image model of
  Sec. 4.2 (templates and FashionMNIST loader; the template denoiser and its trainer);
* :mod:`~diffmem_theory.crossover.counterexamples` and :mod:`~diffmem_theory.crossover.errata`
  -- the paper's errata, their counterexamples and catalogue;
* ``checks/`` (registered theorem checks) and ``figures/`` (Figs. 1-7 of the paper).
"""
