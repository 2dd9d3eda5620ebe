"""Gaussian mixtures: the data model of paper 000 and its noised marginals.

Buchanan et al. (paper 000), eq. (8): ``pi_* = sum_k pi_k N(mu_k, Sigma_k)`` (the paper uses equal
weights ``1/K``). Under the forward process ``X_t = alpha_t X_0 + sigma_t Z`` the noised marginal is
again a mixture (proof of Lemma 2.1, App. A),

    p_t(x) = sum_k pi_k N(x; alpha_t mu_k, alpha_t^2 Sigma_k + sigma_t^2 I),

whose log-density, score (eq. (16)) and posterior mean (eq. (9)) every class below evaluates in
log-sum-exp form. Three parameterizations:

* :class:`GaussianMixture`: general (positive semi-definite) covariances;
* :class:`IsotropicGaussianMixture`: ``Sigma_k = s_k^2 I``, the paper's theory and Sec. 4.1 model
  (evaluated on the fused kernel :func:`diffmem_theory.kernels.softmax_weighted_sum`);
* :class:`TemplateMixture`: the low-rank colored-template image model of Sec. 4.2 / App. H.4.

All classes are frozen dataclasses holding read-only float64 arrays; sampling takes an explicit
``np.random.Generator`` (or an integer seed). Methods take ``x`` of shape ``(B, d)`` (or ``(d,)``)
and ``t`` scalar or ``(B,)``, like the functions of :mod:`diffmem_theory.core.denoisers`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike

from diffmem_theory._validation import (
    as_covariances,
    as_points,
    as_queries,
    as_rng,
    check_allocation,
    check_choice,
    check_int,
    check_last_dim,
    check_scalar,
    finite_result,
    unbatch,
)
from diffmem_theory.core.denoisers import (
    _gmm_eval,
    _iso_eval,
    _log_weights,
    _template_eval,
    _template_params,
    _variances,
)
from diffmem_theory.core.schedules import PREDICTIONS, Schedule
from diffmem_theory.kernels import BACKENDS

__all__ = ["GaussianMixture", "IsotropicGaussianMixture", "TemplateMixture", "sphere_means"]


def _frozen(arr: np.ndarray) -> np.ndarray:
    out = np.array(arr, dtype=np.float64, copy=True)
    out.setflags(write=False)
    return out


class _Mixture:
    """Shared methods: ``n_components``, ``sample``, ``log_prob_t``, ``score_t``, ``denoiser``.

    Subclasses provide ``weights``, ``_draw(labels, rng)`` and ``_eval(x, t, schedule, target,
    backend)`` returning ``(x0-prediction or score, log p_t(x))``.
    """

    weights: np.ndarray

    @property
    def dim(self) -> int:
        """The data dimension ``d``."""
        raise NotImplementedError

    @property
    def n_components(self) -> int:
        """The number of components ``K``."""
        return int(self.weights.shape[0])

    def _draw(self, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def _eval(
        self, x: np.ndarray, t: ArrayLike, schedule: Schedule, target: str, backend: str
    ) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def sample(self, n: int, rng: np.random.Generator | int) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` i.i.d. samples: labels ``k ~ pi``, then ``X | k ~ N(mu_k, Sigma_k)``.

        Returns ``(X, labels)`` with shapes ``(n, d)`` and ``(n,)``. ``rng`` is a
        ``np.random.Generator`` or an integer seed (same seed, same samples).
        """
        count = check_int(n, "n", low=0)
        check_allocation(count * (self.dim + 1), f"{count} samples in dimension {self.dim}")
        gen = as_rng(rng)
        labels = gen.choice(self.n_components, size=count, p=self.weights)
        with np.errstate(over="ignore", invalid="ignore"):
            X = finite_result(self._draw(labels, gen), "the samples")
        return X, labels

    def _query(self, x: ArrayLike, backend: str) -> tuple[np.ndarray, bool]:
        check_choice(backend, "backend", BACKENDS)
        xq, single = as_queries(x)
        check_last_dim(xq, self.dim, "x", "the mixture")
        return xq, single

    def log_prob_t(
        self, x: ArrayLike, t: ArrayLike, schedule: Schedule, *, backend: str = "numba"
    ) -> np.ndarray:
        """``log p_t(x)`` of the noised marginal.

        ``p_t = sum_k pi_k N(alpha_t mu_k, alpha_t^2 Sigma_k + sigma_t^2 I)``; Buchanan et al.
        (paper 000), proof of Lemma 2.1 (App. A), in log-sum-exp form. Returns
        shape ``(B,)`` (a float for a single query). ``backend`` selects the fused-kernel backend
        of isotropic mixtures; the general and template mixtures evaluate in NumPy.
        """
        xq, single = self._query(x, backend)
        _, log_p = self._eval(xq, t, schedule, "x0", backend)
        return unbatch(log_p, single)

    def score_t(
        self, x: ArrayLike, t: ArrayLike, schedule: Schedule, *, backend: str = "numba"
    ) -> np.ndarray:
        """Score of the noised marginal, ``sum_k softmax(w)_k A_k^{-1} (alpha_t mu_k - x)``.

        Buchanan et al. (paper 000), eq. (16), with ``A_k = alpha_t^2 Sigma_k + sigma_t^2 I`` and
        the Lemma 2.1 logits ``w``; evaluated directly (not through Tweedie), shaped like ``x``.
        """
        xq, single = self._query(x, backend)
        score, _ = self._eval(xq, t, schedule, "score", backend)
        return unbatch(score, single)

    def denoiser(
        self,
        x: ArrayLike,
        t: ArrayLike,
        schedule: Schedule,
        *,
        prediction: str = "x0",
        backend: str = "numba",
    ) -> np.ndarray:
        """Posterior mean ``E[X_0 | X_t = x]`` (Lemma 2.1, eq. (9)), as in :mod:`.denoisers`.

        This is the generalizing denoiser ``xbar_*`` of paper 000 when the mixture is the data
        distribution. Shaped like ``x``.
        """
        check_choice(prediction, "prediction", PREDICTIONS)
        xq, single = self._query(x, backend)
        out, _ = self._eval(xq, t, schedule, prediction, backend)
        return unbatch(out, single)


@dataclass(frozen=True, eq=False)
class GaussianMixture(_Mixture):
    """Gaussian mixture ``sum_k pi_k N(mu_k, Sigma_k)`` with general covariances.

    Buchanan et al. (paper 000), eq. (8) and Lemma 2.1. ``means`` ``(K, d)``, ``covs`` ``(K, d, d)``
    symmetric positive semi-definite (singular covariances are allowed, e.g. the dense form of
    :class:`TemplateMixture`), ``weights`` ``(K,)`` positive summing to 1 (default ``1/K``).
    Methods evaluate one Cholesky factor per component (cost ``K d^3 + B K d^2``).

    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> gm = GaussianMixture(np.array([[1.0, 0.0], [-1.0, 0.0]]), np.array([np.eye(2), np.eye(2)]))
    >>> gm.dim, gm.n_components
    (2, 2)
    >>> round(float(gm.log_prob_t(np.zeros(2), 0.5, VPTrig())), 6)
    -2.212877
    """

    means: np.ndarray
    covs: np.ndarray
    weights: np.ndarray | None = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        mu = as_points(self.means, "means", None)
        cov = as_covariances(self.covs, *mu.shape)
        log_w = _log_weights(self.weights, mu.shape[0])
        for name, value in (("means", mu), ("covs", cov), ("weights", np.exp(log_w))):
            object.__setattr__(self, name, _frozen(value))

    @property
    def dim(self) -> int:
        """The data dimension ``d``."""
        return int(self.means.shape[1])

    @cached_property
    def _roots(self) -> np.ndarray:
        """Symmetric square roots ``Sigma_k^{1/2}`` (by eigendecomposition: fine if singular)."""
        lam, vec = np.linalg.eigh(self.covs)
        return np.einsum("kij,kj,klj->kil", vec, np.sqrt(np.clip(lam, 0.0, None)), vec)

    def _draw(self, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        z = rng.standard_normal((labels.size, self.dim))
        return self.means[labels] + np.einsum("nij,nj->ni", self._roots[labels], z)

    def _eval(
        self, x: np.ndarray, t: ArrayLike, schedule: Schedule, target: str, backend: str
    ) -> tuple[np.ndarray, np.ndarray]:
        return _gmm_eval(x, t, self.means, self.covs, np.log(self.weights), schedule, target)


@dataclass(frozen=True, eq=False)
class IsotropicGaussianMixture(_Mixture):
    """Isotropic Gaussian mixture ``sum_k pi_k N(mu_k, s_k^2 I)``.

    Buchanan et al. (paper 000), eq. (8) with ``Sigma_k = s^2 I`` (Sec. 3, Sec. 4.1; the paper's
    experiments use :func:`sphere_means` and ``s^2 = 1``). ``var`` is a scalar ``s^2 >= 0`` or one
    per component ``(K,)``; ``var = 0`` is the empirical distribution of ``means`` (then
    :meth:`denoiser` is the memorizing denoiser, eq. (7)). Evaluated on the fused kernel
    (eqs. (11)-(12)).

    >>> import numpy as np
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> mix = IsotropicGaussianMixture(np.array([[1.0, 0.0], [-1.0, 0.0]]), 1.0)
    >>> round(float(mix.log_prob_t(np.zeros(2), 0.5, VPTrig())), 6)
    -2.212877
    >>> X, labels = mix.sample(3, np.random.default_rng(0))
    >>> X.shape, labels.shape
    ((3, 2), (3,))
    """

    means: np.ndarray
    var: np.ndarray | float
    weights: np.ndarray | None = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        mu = as_points(self.means, "means", None)
        v = _variances(self.var, mu.shape[0])
        log_w = _log_weights(self.weights, mu.shape[0])
        for name, value in (("means", mu), ("weights", np.exp(log_w))):
            object.__setattr__(self, name, _frozen(value))
        object.__setattr__(self, "var", float(v) if v.ndim == 0 else _frozen(v))

    @property
    def dim(self) -> int:
        """The data dimension ``d``."""
        return int(self.means.shape[1])

    def _draw(self, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        z = rng.standard_normal((labels.size, self.dim))
        var = np.asarray(self.var)
        scale = np.sqrt(var) if var.ndim == 0 else np.sqrt(var[labels])[:, None]
        return self.means[labels] + scale * z

    def _eval(
        self, x: np.ndarray, t: ArrayLike, schedule: Schedule, target: str, backend: str
    ) -> tuple[np.ndarray, np.ndarray]:
        var = np.asarray(self.var)
        return _iso_eval(x, t, self.means, var, np.log(self.weights), schedule, target, backend)


@dataclass(frozen=True, eq=False)
class TemplateMixture(_Mixture):
    """Mixture of low-rank colored templates (the simple image model).

    Buchanan et al. (paper 000), Sec. 4.2 and App. H.4: component ``k`` draws a color
    ``c ~ N(u_k, s^2 I_c)`` and outputs ``y = c (x) x_k`` (Kronecker product, channel-major, i.e.
    ``y.reshape(c, h, w)[j] = c_j x_k``), so ``y ~ N(u_k (x) x_k, s^2 (I_c (x) x_k x_k^T))``, a
    rank-``c`` Gaussian in dimension ``d = c h w``. ``templates`` ``(K, h, w)`` (nonzero),
    ``color_means`` ``(K, c)``, ``color_var`` a shared scalar ``s^2 >= 0``. Densities, scores and
    denoisers use the Sherman-Morrison-Woodbury and determinant identities of H.4 (cost
    ``O(B K d)``); :meth:`to_gaussian_mixture` gives the dense equivalent (``d x d`` covariances,
    small sizes only).

    >>> import numpy as np
    >>> templates = np.ones((2, 2, 2)) * np.array([1.0, 2.0])[:, None, None]
    >>> tm = TemplateMixture(templates, np.zeros((2, 3)), 1.0)
    >>> tm.dim, tm.image_shape
    (12, (3, 2, 2))
    >>> X, labels = tm.sample(4, 0)
    >>> X.reshape(4, *tm.image_shape).shape
    (4, 3, 2, 2)
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> tm.denoiser(X, 0.5, VPTrig()).shape, tm.score_t(X[0], 0.5, VPTrig()).shape
    ((4, 12), (12,))
    >>> tm.log_prob_t(X, 0.5, VPTrig()).shape
    (4,)
    """

    templates: np.ndarray
    color_means: np.ndarray
    color_var: float
    weights: np.ndarray | None = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        _, u, s2 = _template_params(self.templates, self.color_means, self.color_var)
        log_w = _log_weights(self.weights, u.shape[0])
        for name, value in (
            ("templates", np.asarray(self.templates)),
            ("color_means", u),
            ("weights", np.exp(log_w)),
        ):
            object.__setattr__(self, name, _frozen(value))
        object.__setattr__(self, "color_var", s2)

    @property
    def image_shape(self) -> tuple[int, ...]:
        """``(c, h, w)``: the shape of one sample as a colored image."""
        return (int(self.color_means.shape[1]), *self.templates.shape[1:])

    @property
    def dim(self) -> int:
        """The data dimension ``d = c h w``."""
        return int(np.prod(self.image_shape))

    @property
    def _flat(self) -> np.ndarray:
        return self.templates.reshape(self.templates.shape[0], -1)

    def _draw(self, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        colors = self.color_means[labels] + np.sqrt(self.color_var) * rng.standard_normal(
            (labels.size, self.color_means.shape[1])
        )
        return (colors[:, :, None] * self._flat[labels][:, None, :]).reshape(labels.size, -1)

    def _eval(
        self, x: np.ndarray, t: ArrayLike, schedule: Schedule, target: str, backend: str
    ) -> tuple[np.ndarray, np.ndarray]:
        return _template_eval(
            x,
            t,
            self._flat,
            self.color_means,
            self.color_var,
            np.log(self.weights),
            schedule,
            target,
        )

    def to_gaussian_mixture(self) -> GaussianMixture:
        """The same distribution as a dense :class:`GaussianMixture` (App. H.4).

        ``mu_k = u_k (x) x_k`` and ``Sigma_k = s^2 (I_c (x) x_k x_k^T)``; the covariances are
        ``d x d`` with ``d = c h w``, so use this for tests at small sizes.

        >>> import numpy as np
        >>> tm = TemplateMixture(np.ones((1, 1, 2)), np.array([[1.0, 2.0]]), 0.5)
        >>> gm = tm.to_gaussian_mixture()
        >>> gm.means
        array([[1., 1., 2., 2.]])
        >>> int(np.linalg.matrix_rank(gm.covs[0]))
        2
        """
        flat, u = self._flat, self.color_means
        means = (u[:, :, None] * flat[:, None, :]).reshape(flat.shape[0], -1)
        check_allocation(flat.shape[0] * self.dim**2, f"{flat.shape[0]} dense covariances")
        eye = np.eye(u.shape[1])
        covs = np.stack([self.color_var * np.kron(eye, np.outer(x, x)) for x in flat])
        return GaussianMixture(means, covs, self.weights)


def sphere_means(
    K: int, d: int, rng: np.random.Generator | int, radius: float | None = None
) -> np.ndarray:
    """``K`` means uniform on the sphere of radius ``sqrt(d)`` (normalized Gaussian vectors).

    Buchanan et al. (paper 000), Sec. 4.1 / notes §1.4: ``mu_k = r g_k / |g_k|`` with
    ``g_k ~ N(0, I_d)`` and ``r = sqrt(d)`` unless ``radius`` is given. Returns ``(K, d)``.

    >>> import numpy as np
    >>> mu = sphere_means(4, 9, np.random.default_rng(0))
    >>> mu.shape, np.round(np.linalg.norm(mu, axis=1), 12).tolist()
    ((4, 9), [3.0, 3.0, 3.0, 3.0])
    """
    k = check_int(K, "K", low=1)
    dim = check_int(d, "d", low=1)
    check_allocation(k * dim, f"{k} means in dimension {dim}")
    r = np.sqrt(dim) if radius is None else check_scalar(radius, "radius", low=0.0, low_open=True)
    g = as_rng(rng).standard_normal((k, dim))
    return r * g / np.linalg.norm(g, axis=1, keepdims=True)
