"""Paper 000's laboratory (Sec. 4.1): the synthetic mixture data of the phase-transition figures.

Buchanan et al. (paper 000), Sec. 4.1 and App. H.1: ``K`` cluster means uniform on the sphere
of radius ``sqrt(d)``, unit within-cluster variance, ``N`` training samples; the GMM sweeps
(``paper000.fig2``, ``fig3``, ``fig6``, ``fig7``) and the MLP sweep (``paper000.mlp_phase``)
draw their data here, from one seed stream.
"""

from __future__ import annotations

import numpy as np

from diffmem_theory._validation import check_int
from diffmem_theory.core.distributions import IsotropicGaussianMixture, sphere_means

__all__ = ["laboratory"]


def laboratory(N: int, d: int, K: int, seed: int) -> tuple[IsotropicGaussianMixture, np.ndarray]:
    """The data of Sec. 4.1: K means uniform on the sphere of radius sqrt(d), s2 = 1, N samples.

    Parameters
    ----------
    N : int
        Number of training samples.
    d : int
        Dimension.
    K : int
        Number of clusters.
    seed : int
        Seed of the means and the samples.

    Returns
    -------
    gmm : IsotropicGaussianMixture
        The true mixture (``s2 = 1``).
    X : ndarray
        The ``(N, d)`` training samples.

    See Also
    --------
    diffmem_theory.core.distributions.sphere_means : the means.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Sec. 4.1 and App. H.1.

    Examples
    --------
    >>> gmm, X = laboratory(10, 3, 2, seed=0)
    >>> X.shape, gmm.means.shape
    ((10, 3), (2, 3))
    """
    N, d, K = (check_int(v, name, low=1) for v, name in ((N, "N"), (d, "d"), (K, "K")))
    rng = np.random.default_rng(check_int(seed, "seed", low=0))
    gmm = IsotropicGaussianMixture(sphere_means(K, d, rng), 1.0)
    X, _ = gmm.sample(N, rng)
    return gmm, X
