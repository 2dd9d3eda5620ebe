r"""The colored-template denoiser of paper 000 (Sec. 4.2, App. H.1, H.4): model and training.

Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models".

Data (:mod:`diffmem_theory.crossover.template_data`): a sample is ``y = c (x) x_k``, a monochrome
``h x w`` template ``x_k`` tinted by a color ``c ~ N(u_k, s_*^2 I_c)``
(:class:`~diffmem_theory.core.distributions.TemplateMixture`).

Model (Sec. 4.2 and the authors' code). ``M`` components with learned templates ``x^i`` (``p = h
w`` pixels), color means ``u^i`` (``c``) and one shared color variance ``s2``, weights ``1/M``:
the denoiser is :func:`diffmem_theory.core.denoisers.template_denoiser` (Lemma 2.1 through the H.4
Woodbury identities, with the paper's factor ``c`` in the log-determinant). Per query ``x`` (read
as ``c x p``) at ``(alpha, sigma)``, with ``n_i = |x^i|^2``, ``D_i = sigma^2 + alpha^2 s2 n_i``,
``P_i = X x^i`` (``c`` channel projections) and ``r_i = P_i - alpha n_i u^i``,

    logit_i = -(c/2) log D_i + |P_i|^2 / (2 n_i sigma^2) - |r_i|^2 / (2 n_i D_i)   (+ const),
    a_i = (sigma^2 u^i + alpha s2 P_i) / D_i,      xbar = sum_i softmax(logit)_i  a_i (x) x^i.

(The ``|X|^2/sigma^2`` term of the quadratic form is the same for every component and cancels.)
Training (:func:`train_template_denoiser`) minimizes the eps-weighted loss of eq. (5)
``(1/B) sum_q psi_{t_q} |xbar(x_t^q, t_q) - y_q|^2`` exactly as the GMM trainer
(:func:`diffmem_theory.core.training.train_gmm_denoiser`): one grid time per sample and epoch,
``n_dup`` noise draws, full-batch Adam with the H.1 schedule through
:func:`diffmem_theory.core.training.fit` (EMA, checkpoint/resume, bit-reproducible). The analytic
gradient (:func:`template_loss_and_grad`) back-propagates through the formulas above: with
``G = 2 lambda (xbar - y)``, ``H_i = G x^i``, ``w = softmax``, ``W_i = w_i a_i``,

    dw_i = H_i . a_i,   d logit_i = w_i (dw_i - sum_j w_j dw_j),   d a_i = w_i H_i,
    dL/dx^i = sum_q [W_i (x) G + dP_i (x) X] + 2 dn_i x^i,

where ``dP_i``, ``dn_i``, ``dD_i``, ``du^i``, ``ds2`` collect the chain rule through ``a_i``,
``logit_i`` and ``D_i`` (see :func:`_chunk_loss_grad`). The cost per epoch is five GEMMs of
size ``(B c) x p x M`` (``P``, ``xbar``, ``H`` and the two halves of ``dL/dx``) plus
``O(B c p)`` element-wise work and the ``B c p`` noise draws.

Initialization (App. H.1, "partial memorization"): component ``i`` takes the template that
generated a random training sample (without replacement when ``M <= N``) and the color that
generates that sample (the authors' ``sum_pixels(y_channel) / sum(template)``), with
``s2 = 1e-6``. So the ``M`` initial templates are ``M`` draws among the ``K`` true templates,
repeated when ``M > K`` (typically each of the ``K`` templates appears about ``M/K`` times) and
possibly missing some of them when ``M`` is small: ``M >= K`` is needed for the model to be able
to represent the generalizing (ground-truth) denoiser, ``M >= N`` to memorize all samples.

>>> import numpy as np
>>> from diffmem_theory.crossover.template_data import generated_templates
>>> from diffmem_theory.core.distributions import TemplateMixture
>>> from diffmem_theory.core.training import TrainConfig
>>> tpl = generated_templates(2, size=6)
>>> mix = TemplateMixture(tpl, np.zeros((2, 3)), 1.0)
>>> Y, labels = mix.sample(12, 0)
>>> cfg = TrainConfig(n_epochs=60, n_dup=2, peak_lr=1e-2)
>>> res = train_template_denoiser(Y, 3, cfg, templates=tpl, labels=labels, progress=False)
>>> res.model.templates.shape, res.model.color_means.shape, bool(res.model.color_var > 1e-6)
((3, 6, 6), (3, 3), True)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from numpy.typing import ArrayLike

from diffmem_theory._validation import (
    as_float_array,
    as_rng,
    check_allocation,
    check_bool,
    check_choice,
    check_int,
    check_scalar,
    finite_result,
)
from diffmem_theory.core.denoisers import memorized_subset, template_denoiser
from diffmem_theory.core.distributions import TemplateMixture
from diffmem_theory.core.losses import loss_weighting
from diffmem_theory.core.schedules import Schedule, as_schedule
from diffmem_theory.core.training import TrainConfig, fit_config
from diffmem_theory.kernels import single_threaded_blas

__all__ = [
    "IMAGE_CONFIG",
    "TemplateDenoiser",
    "TemplateTrainResult",
    "template_loss_and_grad",
    "template_objective",
    "template_partial_memorization_init",
    "train_template_denoiser",
    "train_template_denoisers",
]

#: Paper 000, App. H.1 settings of the image model (Sec. 4.2): 100,000 epochs, otherwise as GMM.
IMAGE_CONFIG = TrainConfig(n_epochs=100_000)

# ----------------------------------------------------------------------------------------------
# the model
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TemplateDenoiser:
    r"""A learned M-component colored-template denoiser ``theta = (x^i, u^i, s2)`` (Sec. 4.2).

    ``templates`` ``(M, h, w)``, ``color_means`` ``(M, c)``, shared ``color_var`` ``s2 > 0``,
    weights ``1/M``. :meth:`denoiser` is :func:`diffmem_theory.core.denoisers.template_denoiser`
    (Lemma 2.1 via the H.4 identities); :meth:`to_mixture` the model distribution.

    >>> from diffmem_theory.core.schedules import VPTrig
    >>> m = TemplateDenoiser(np.ones((1, 2, 2)), np.array([[1.0, -1.0]]), 0.5)
    >>> m.image_shape, m.dim
    ((2, 2, 2), 8)
    >>> m.denoiser(np.zeros(8), 0.5, VPTrig()).round(6).tolist()[:2]   # sigma^2 u / D = 0.25/1.75
    [0.142857, 0.142857]
    """

    templates: np.ndarray
    color_means: np.ndarray
    color_var: float

    def __post_init__(self) -> None:
        tpl = as_float_array(self.templates, "templates", ndim=3, dtype=np.float64)
        u = as_float_array(self.color_means, "color_means", ndim=2, dtype=np.float64)
        if min(tpl.shape) < 1 or u.shape[0] != tpl.shape[0] or u.shape[1] < 1:
            raise ValueError(
                f"templates (M, h, w) and color_means (M, c) need M, h, w, c >= 1 and the same M, "
                f"got {tpl.shape} and {u.shape}"
            )
        s2 = check_scalar(self.color_var, "color_var", low=0.0, low_open=True)
        object.__setattr__(self, "templates", tpl)
        object.__setattr__(self, "color_means", u)
        object.__setattr__(self, "color_var", s2)

    @property
    def n_components(self) -> int:
        return int(self.templates.shape[0])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(c, h, w)`` of one sample."""
        return (int(self.color_means.shape[1]), *map(int, self.templates.shape[1:]))

    @property
    def dim(self) -> int:
        return int(np.prod(self.image_shape))

    def denoiser(self, x: ArrayLike, t: ArrayLike, schedule: Schedule | str) -> np.ndarray:
        """``xbar_theta(x, t)``; see :func:`~diffmem_theory.core.denoisers.template_denoiser`."""
        sched = as_schedule(schedule, required=True)
        return template_denoiser(x, t, self.templates, self.color_means, self.color_var, sched)

    def to_mixture(self) -> TemplateMixture:
        """The model distribution ``(1/M) sum_i N(u^i (x) x^i, s2 I_c (x) x^i x^i^T)``."""
        return TemplateMixture(self.templates, self.color_means, self.color_var)

    def pack(self) -> np.ndarray:
        """Flat parameters ``[templates.ravel(), color_means.ravel(), sqrt(color_var)]``."""
        return np.concatenate(
            [self.templates.ravel(), self.color_means.ravel(), [np.sqrt(self.color_var)]]
        ).astype(np.float64)

    @classmethod
    def unpack(
        cls, theta: np.ndarray, image_shape: tuple[int, int, int], M: int
    ) -> TemplateDenoiser:
        """Inverse of :meth:`pack` for ``M`` components of images ``(c, h, w)``.

        >>> m = TemplateDenoiser(np.ones((2, 1, 3)), np.zeros((2, 4)), 0.25)
        >>> TemplateDenoiser.unpack(m.pack(), (4, 1, 3), 2).color_var
        0.25
        """
        c, h, w = _shape3(image_shape)
        M = check_int(M, "M", low=1)
        theta = _packed(theta, M * (h * w + c) + 1)
        tpl = theta[: M * h * w].reshape(M, h, w).copy()
        u = theta[M * h * w : M * (h * w + c)].reshape(M, c).copy()
        return cls(tpl, u, float(theta[-1]) ** 2)


def _shape3(image_shape: Any, name: str = "image_shape") -> tuple[int, int, int]:
    """A ``(c, h, w)`` triple of positive integers."""
    if not isinstance(image_shape, (tuple, list)) or len(image_shape) != 3:
        raise ValueError(f"{name} must be a (c, h, w) tuple, got {image_shape!r}")
    c, h, w = (check_int(v, name, low=1) for v in image_shape)
    return c, h, w


def _packed(theta: Any, size: int) -> np.ndarray:
    """Flat float64 parameters of the given size (see :meth:`TemplateDenoiser.pack`)."""
    arr = as_float_array(theta, "theta", ndim=1, dtype=np.float64)
    if arr.size != size:
        raise ValueError(f"theta must have {size} entries for this model, got {arr.size}")
    return arr


def _image_shape(
    Y: np.ndarray, image_shape: tuple[int, ...] | None, templates: np.ndarray | None
) -> tuple[int, int, int]:
    if Y.ndim == 4:
        shape = _shape3(Y.shape[1:], "the image shape of Y")
        if image_shape is not None and _shape3(image_shape) != shape:
            raise ValueError(f"image_shape {image_shape} does not match Y of shape {Y.shape}")
        return shape
    if Y.ndim != 2:
        raise ValueError(f"Y must have shape (N, c, h, w) or (N, c*h*w), got shape {Y.shape}")
    if image_shape is not None:
        shape = _shape3(image_shape)
        if shape[0] * shape[1] * shape[2] != Y.shape[1]:
            raise ValueError(f"image_shape {image_shape} does not match Y of shape {Y.shape}")
        return shape
    if templates is not None:
        h, w = templates.shape[1:]
        if h * w == 0 or Y.shape[1] % (h * w) or Y.shape[1] == 0:
            raise ValueError(
                f"Y's dimension {Y.shape[1]} is not a positive multiple of h*w = {h * w}"
            )
        return (Y.shape[1] // (h * w), int(h), int(w))
    raise ValueError("flat Y (N, d) needs image_shape=(c, h, w) or templates to infer it")


def template_partial_memorization_init(
    Y: ArrayLike,
    M: int,
    rng: np.random.Generator | int,
    *,
    templates: ArrayLike | None = None,
    labels: ArrayLike | None = None,
    image_shape: tuple[int, int, int] | None = None,
    var0: float = 1e-6,
) -> TemplateDenoiser:
    r"""The "partial memorization" initialization of the image model (App. H.1).

    Component ``i`` takes a random training sample ``y_j`` (distinct samples when ``M <= N``,
    with replacement beyond), the template that generated it, ``templates[labels[j]]``, and the
    color that generates it given that template: ``sum_pixels(y_j channel) / sum(template)``
    (the authors' code; the least-squares color ``Y_j x / |x|^2`` if the template sums to 0);
    ``color_var = var0`` (1e-6). Without ``templates``/``labels`` the template is read off the
    sample itself: its top right singular vector (``Y_j`` is ``c x p`` of rank one), signed to a
    positive sum and scaled to a maximum of 1 -- the same component up to the scale symmetry
    ``(x, u, s2) -> (a x, u/a, s2/a^2)``.

    Parameters
    ----------
    Y : array_like
        Training images, ``(N, c, h, w)`` or ``(N, c*h*w)`` with ``image_shape``.
    M : int
        Number of components, ``M >= 1``.
    rng : numpy.random.Generator or int
        Random source of the chosen samples.
    templates : array_like, optional
        The generating templates ``(K, h, w)`` (with ``labels``).
    labels : array_like of int, optional
        The template index of each sample.
    image_shape : tuple of int, optional
        ``(c, h, w)`` when ``Y`` is flat.
    var0 : float, default 1e-6
        The initial color variance (a variance), ``> 0``.

    Returns
    -------
    TemplateDenoiser
        The initial model.

    See Also
    --------
    train_template_denoiser : starts from it.
    diffmem_theory.core.training.partial_memorization_init : the GMM analogue.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), App. H.1.

    Examples
    --------
    >>> tpl = np.array([[[1.0, 0.0]], [[0.0, 2.0]]])
    >>> Y = np.array([[[[3.0, 0.0]], [[-1.0, 0.0]]]])   # one sample: color (3, -1) on template 0
    >>> init = template_partial_memorization_init(Y, 1, 0, templates=tpl, labels=[0])
    >>> init.templates.tolist(), init.color_means.tolist(), init.color_var
    ([[[1.0, 0.0]]], [[3.0, -1.0]], 1e-06)
    """
    data = as_float_array(Y, "Y", ndim=(2, 4), dtype=np.float64)
    m = check_int(M, "M", low=1)
    v0 = check_scalar(var0, "var0", low=0.0, low_open=True)
    tpl = None if templates is None else as_float_array(templates, "templates", ndim=3)
    c, h, w = _image_shape(data, image_shape, tpl)
    n = data.shape[0]
    if n < 1:
        raise ValueError(f"Y must hold at least one image, got shape {data.shape}")
    check_allocation(m * c * h * w, f"M = {m} components of {(c, h, w)} images")
    flat = data.reshape(n, c, h * w)
    gen = as_rng(rng)
    idx = memorized_subset(n, m, rng=gen) if m <= n else gen.integers(0, n, m)
    if (templates is None) != (labels is None):
        raise ValueError("give both templates and labels (or neither)")
    out_t, out_u = np.empty((m, h * w)), np.empty((m, c))
    if tpl is not None:
        lab = np.asarray(labels)
        if lab.shape != (n,) or lab.dtype.kind not in "iu":
            raise ValueError(f"labels must be {n} integer component labels, got shape {lab.shape}")
        if tpl.shape[1:] != (h, w) or lab.min() < 0 or lab.max() >= tpl.shape[0]:
            raise ValueError(
                f"templates {tpl.shape} and labels (range {lab.min()}..{lab.max()}) do not match "
                f"images of shape {(c, h, w)}"
            )
        for i, j in enumerate(idx):
            x = tpl[lab[j]].ravel()
            total = x.sum()
            if abs(total) > 1e-12 * np.abs(x).sum():
                out_u[i] = flat[j].sum(axis=1) / total
            else:
                out_u[i] = flat[j] @ x / (x @ x)
            out_t[i] = x
    else:
        for i, j in enumerate(idx):
            _, _, vt = np.linalg.svd(flat[j], full_matrices=False)
            x = vt[0] * (1.0 if vt[0].sum() >= 0 else -1.0)
            x = x / np.abs(x).max()
            out_t[i], out_u[i] = x, flat[j] @ x / (x @ x)
    return TemplateDenoiser(out_t.reshape(m, h, w), out_u, v0)


# ----------------------------------------------------------------------------------------------
# loss and analytic gradient
# ----------------------------------------------------------------------------------------------


def _chunk_loss_grad(
    xt: np.ndarray,
    x0: np.ndarray,
    alpha: np.ndarray,
    sig2: np.ndarray,
    lam: np.ndarray,
    T: np.ndarray,
    TT: np.ndarray,
    U: np.ndarray,
    norm2: np.ndarray,
    s2: float,
    buf: np.ndarray,
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, float]:
    r"""Sum over a block of ``b`` queries of ``lam |xbar - x0|^2`` and its gradient.

    ``xt``, ``x0`` ``(b, c, p)``; ``alpha``, ``sig2`` (= ``sigma^2``), ``lam`` ``(b,)``;
    templates ``T`` ``(M, p)`` and ``TT = T.T``; ``U`` ``(M, c)``; ``norm2 = |T_i|^2``; ``buf``
    a ``(>= b c, p)`` scratch array (``xbar``, then the residual, then ``G``: no large
    temporaries). Returns ``(loss sum, dT (M, p) without the |T|^2 term, dU (M, c), dn (M,),
    ds2)``; the caller adds ``2 dn T``. Chain rule (``g = d logit``, ``w`` the softmax,
    everything per query):

    * through ``a = (sigma^2 u + alpha s2 P)/D``: ``du += dA sigma^2/D``, ``dP += dA alpha s2/D``,
      ``dD -= (dA . a)/D``, ``ds2 += alpha (dA . P)/D``;
    * through the logit: ``dD += g (-(c/2)/D + |r|^2/(2 n D^2))``,
      ``dP += g (P/(n sigma^2) - r/(n D))``, ``du += g alpha r/D``,
      ``dn += g (-|P|^2/(2 n^2 sigma^2) + |r|^2/(2 n^2 D) + alpha (r . u)/(n D))``;
    * through ``D = sigma^2 + alpha^2 s2 n``: ``dn += dD alpha^2 s2``, ``ds2 += dD alpha^2 n``;
    * through ``P = X T^T``: ``dT += dP^T X``; through ``xbar = W T``: ``dT += W^T G``.

    Five GEMMs of size ``(b c) x p x M``; the rest is ``O(b c (p + M))`` element-wise work.
    """
    b, c, p = xt.shape
    m = T.shape[0]
    X2 = xt.reshape(b * c, p)
    P = (X2 @ TT).reshape(b, c, m)
    wgt, A, W = np.empty((b, m)), np.empty((b, c, m)), np.empty((b, c, m))
    _softmax_weights(P, alpha, sig2, U, norm2, s2, wgt, A, W)
    W2 = W.reshape(b * c, m)
    G = buf[: b * c]
    np.matmul(W2, T, out=G)  # xbar
    loss = _residual(G.reshape(b, c * p), x0.reshape(b, c * p), lam)  # G: dL/dxbar
    H = (G @ TT).reshape(b, c, m)
    dP, dUT, dn = np.empty((b, c, m)), np.zeros((c, m)), np.zeros(m)
    ds2 = _backward(H, P, wgt, A, alpha, sig2, U, norm2, s2, dP, dUT, dn)
    # through P = X T^T and xbar = W T
    dT = W2.T @ G
    dT += dP.reshape(b * c, m).T @ X2
    return loss, dT, dUT.T, dn, ds2


@numba.njit(cache=True, nogil=True)
def _softmax_weights(P, alpha, sig2, U, norm2, s2, wgt, A, W):
    """Forward pass of :func:`_chunk_loss_grad` per query ``q`` and component ``i``: the logits,
    the softmax ``wgt``, ``A = (sigma^2 u^i + alpha s2 P_i) / D_i`` and ``W = wgt A`` (one pass
    over ``P`` instead of a dozen NumPy temporaries)."""
    b, c, m = P.shape
    for q in range(b):
        a, sg = alpha[q], sig2[q]
        inv_s = 1.0 / sg
        top = -np.inf
        for i in range(m):
            n = norm2[i]
            D = sg + a * a * (s2 * n)
            pn2 = 0.0
            r2 = 0.0
            for k in range(c):
                pk = P[q, k, i]
                rk = pk - a * n * U[i, k]
                pn2 += pk * pk
                r2 += rk * rk
            logit = -0.5 * c * np.log(D) + 0.5 / n * (pn2 * inv_s - r2 / D)
            wgt[q, i] = logit
            top = max(top, logit)
        total = 0.0
        for i in range(m):
            e = np.exp(wgt[q, i] - top)
            wgt[q, i] = e
            total += e
        for i in range(m):
            w = wgt[q, i] / total
            wgt[q, i] = w
            invD = 1.0 / (sg + a * a * (s2 * norm2[i]))
            for k in range(c):
                ak = (sg * U[i, k] + a * s2 * P[q, k, i]) * invD
                A[q, k, i] = ak
                W[q, k, i] = w * ak


@numba.njit(cache=True, nogil=True)
def _residual(G, x0, lam):
    """``G <- 2 lam (G - x0)`` row by row (``G`` holds ``xbar``); returns ``sum_q lam_q
    |xbar_q - x0_q|^2``, summed in query order."""
    loss = 0.0
    for q in range(G.shape[0]):
        err = 0.0
        for j in range(G.shape[1]):
            e = G[q, j] - x0[q, j]
            err += e * e
            G[q, j] = 2.0 * lam[q] * e
        loss += lam[q] * err
    return loss


@numba.njit(cache=True, nogil=True)
def _backward(H, P, wgt, A, alpha, sig2, U, norm2, s2, dP, dUT, dn):
    """Backward pass of :func:`_chunk_loss_grad` from ``H = G T^T``: fills ``dP``, adds to
    ``dUT`` and ``dn`` (queries in order) and returns ``ds2`` (chain rule in its docstring)."""
    b, c, m = P.shape
    ds2 = 0.0
    for q in range(b):
        a, sg = alpha[q], sig2[q]
        inv_s = 1.0 / sg
        a2 = a * a
        mean_dw = 0.0
        for i in range(m):
            dw = 0.0
            for k in range(c):
                dw += H[q, k, i] * A[q, k, i]
            mean_dw += wgt[q, i] * dw
        for i in range(m):
            w, n = wgt[q, i], norm2[i]
            inv_n = 1.0 / n
            invD = 1.0 / (sg + a2 * (s2 * n))
            dw = 0.0
            for k in range(c):
                dw += H[q, k, i] * A[q, k, i]
            g = w * (dw - mean_dw)
            gn = g * inv_n
            wd = w * invD
            pn2 = 0.0
            r2 = 0.0
            rU = 0.0
            dD = 0.0
            for k in range(c):
                pk = P[q, k, i]
                rk = pk - a * n * U[i, k]
                pn2 += pk * pk
                r2 += rk * rk
                rU += rk * U[i, k]
                dad = wd * H[q, k, i]  # dA / D
                dUT[k, i] += dad * sg + rk * g * invD * a
                dD -= dad * A[q, k, i]
                ds2 += dad * pk * a
                dP[q, k, i] = dad * (a * s2) + gn * (pk * inv_s - rk * invD)
            dD += g * (-0.5 * c * invD + 0.5 * r2 * inv_n * invD * invD)
            dn[i] += gn * (-0.5 * pn2 * inv_s * inv_n + 0.5 * r2 * inv_n * invD + a * rU * invD)
            dn[i] += s2 * dD * a2
            ds2 += dD * a2 * n
    return ds2


#: Queries per block of the loss evaluation (keeps the (b c) x p arrays in cache).
QUERY_BLOCK = 512

Fill = Callable[[int, dict[str, np.ndarray]], tuple[np.ndarray, ...]]


def _n_threads() -> int:
    return max(1, int(numba.get_num_threads()))


class _Model:
    """Model constants shared by the blocks of one loss evaluation."""

    def __init__(self, model: TemplateDenoiser) -> None:
        m = model.n_components
        self.c = model.image_shape[0]
        self.T = np.ascontiguousarray(model.templates.reshape(m, -1), dtype=np.float64)
        self.TT = np.ascontiguousarray(self.T.T)
        self.U = np.ascontiguousarray(model.color_means, dtype=np.float64)
        self.norm2 = np.einsum("mp,mp->m", self.T, self.T)
        if not np.all(self.norm2 > 0):
            raise ValueError("model.templates must be nonzero images")
        self.s2 = check_scalar(model.color_var, "model.color_var", low=0.0, low_open=True)

    def parts(
        self, xt: np.ndarray, x0: np.ndarray, alpha: np.ndarray, sig2: np.ndarray,
        lam: np.ndarray, buf: np.ndarray,
    ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, float]:  # fmt: skip
        """:func:`_chunk_loss_grad` of one block for this model."""
        return _chunk_loss_grad(
            xt, x0, alpha, sig2, lam, self.T, self.TT, self.U, self.norm2, self.s2, buf
        )

    def total(
        self, parts: list[tuple[float, np.ndarray, np.ndarray, np.ndarray, float]], n_queries: int
    ) -> tuple[float, np.ndarray, np.ndarray, float]:
        """The mean over the queries from the block results, summed in block order."""
        scale = 1.0 / max(n_queries, 1)
        loss = sum(part[0] for part in parts) * scale
        dT = sum(part[1] for part in parts)
        dU = sum(part[2] for part in parts) * scale
        dn = sum(part[3] for part in parts)
        ds2 = sum(part[4] for part in parts) * scale
        return loss, (dT + 2.0 * dn[:, None] * self.T) * scale, dU, ds2


def _run_models(
    models: list[_Model], n_blocks: int, block: int, fill: Fill, n_queries: int
) -> list[tuple[float, np.ndarray, np.ndarray, float]]:
    """Loss and gradient of every model on the same queries (deterministic for any thread count).

    ``fill(i, ws)`` returns ``(xt, x0, alpha, sig2, lam)`` of block ``i``, possibly written into
    the workspace ``ws`` (a dict the function may fill with buffers); it is called once per
    block, and the block's queries serve every model (they are only read). The blocks go in
    waves of as many blocks as threads: the wave's blocks are filled in parallel, then its
    (block, model) pairs are computed in parallel, largest model first (so one block and many
    models still keep every thread busy; the memory stays one wave of blocks). Each model's
    block results are summed in block order, so a model gets the same bits alone or beside
    others, on any number of threads.
    """
    c, p = models[0].c, models[0].T.shape[1]
    local = threading.local()
    order = sorted(range(len(models)), key=lambda j: -models[j].T.shape[0])
    parts: list[list[Any]] = [[None] * n_blocks for _ in models]

    def one(i: int, j: int, queries: tuple[np.ndarray, ...]) -> None:
        buf = getattr(local, "buf", None)
        if buf is None:
            buf = local.buf = np.empty((block * c, p))
        parts[j][i] = models[j].parts(*queries, buf)

    with single_threaded_blas("numpy") as pinned:
        threads = _n_threads() if pinned else 1
        spaces: list[dict[str, np.ndarray]] = [{} for _ in range(min(threads, n_blocks))]
        pool = ThreadPoolExecutor(threads) if threads > 1 else None
        run = pool.map if pool is not None else map
        try:
            for first in range(0, n_blocks, len(spaces)):
                ids = list(range(first, min(first + len(spaces), n_blocks)))
                filled = list(run(fill, ids, spaces[: len(ids)]))
                pairs = [(i, j, filled[i - first]) for i in ids for j in order]
                list(run(one, *zip(*pairs, strict=True)))
        finally:
            if pool is not None:
                pool.shutdown()
    return [model.total(parts[j], n_queries) for j, model in enumerate(models)]


def _check_model(model: Any, name: str = "model") -> None:
    if not isinstance(model, TemplateDenoiser):
        raise TypeError(f"{name} must be a TemplateDenoiser, got {type(model).__name__}")


def template_loss_and_grad(
    model: TemplateDenoiser,
    x_t: ArrayLike,
    x0: ArrayLike,
    t: ArrayLike,
    schedule: Schedule,
    weighting: str | Callable[[np.ndarray], ArrayLike] = "eps",
) -> tuple[float, np.ndarray, np.ndarray, float]:
    r"""Loss ``(1/B) sum_q lambda(t_q) |xbar_theta(x_t^q, t_q) - x0^q|^2`` and its exact gradient.

    Paper 000, eqs. (5)-(6) for the template model of Sec. 4.2 (``xbar_theta`` as
    :meth:`TemplateDenoiser.denoiser`): returns ``(loss, dL/dtemplates (M, h, w),
    dL/dcolor_means (M, c), dL/dcolor_var)`` for queries ``x_t`` and targets ``x0`` of shape
    ``(B, c*h*w)`` (or ``(B, c, h, w)``) at times ``t`` (``(B,)`` or one time). ``weighting``:
    ``"eps"`` (``psi_t``, training), ``"x0"``, ``"score"``, ``"v"`` or a callable. Vectorized
    NumPy over blocks of :data:`QUERY_BLOCK` queries run by ``numba.get_num_threads()`` Python
    threads with single-threaded BLAS (formulas in the module docstring and
    :func:`_chunk_loss_grad`); float64; the result does not depend on the thread count.

    Parameters
    ----------
    model : TemplateDenoiser
        The model ``theta``.
    x_t : array_like
        Noisy queries, ``(B, c, h, w)`` or ``(B, c*h*w)``.
    x0 : array_like
        Clean targets, same shape.
    t : float or array_like
        One time or one per query.
    schedule : Schedule
        The noise schedule.
    weighting : str or callable, default "eps"
        The loss weighting ``lambda(t)``.

    Returns
    -------
    loss : float
        ``(1/B) sum_q lambda(t_q) |xbar_theta(x_t^q, t_q) - x0^q|^2``.
    grad_templates, grad_color_means : ndarray
        Gradients with respect to the templates and the color means.
    grad_color_var : float
        Gradient with respect to the shared color variance.

    See Also
    --------
    template_objective : the per-epoch training objective built on it.
    diffmem_theory.core.training.gmm_loss_and_grad : the GMM analogue.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), eqs. (5)-(6), Sec. 4.2, App. H.4.

    Examples
    --------
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> m = TemplateDenoiser(np.ones((1, 1, 2)), np.array([[0.5, 1.0]]), 1.0)
    >>> loss, gT, gU, gv = template_loss_and_grad(m, np.ones((1, 4)), np.zeros((1, 4)), 0.6,
    ...                                           VPTrig(), "x0")
    >>> round(loss, 6), gT.shape, gU.shape   # xbar = ((0.18, 0.36) + 1.6) / 1.64 per channel
    (5.212671, (1, 1, 2), (1, 2))
    """
    _check_model(model)
    schedule = as_schedule(schedule, required=True)
    c, h, w = model.image_shape
    d = c * h * w
    xt = as_float_array(x_t, "x_t", ndim=(2, 4), dtype=np.float64)
    target = as_float_array(x0, "x0", ndim=(2, 4), dtype=np.float64)
    if xt.shape[1:] not in ((d,), (c, h, w)) or target.shape != xt.shape:
        raise ValueError(
            f"x_t {xt.shape} and x0 {target.shape} must both be (B, {d}) or (B, {c}, {h}, "
            f"{w}) for the model's images {(c, h, w)}"
        )
    n = xt.shape[0]
    xt = np.ascontiguousarray(xt).reshape(n, c, h * w)
    target = np.ascontiguousarray(target).reshape(n, c, h * w)
    tt = np.broadcast_to(schedule.check_time(t), (n,))
    lam = np.ascontiguousarray(np.broadcast_to(loss_weighting(weighting, tt, schedule), (n,)))
    alpha, sig2 = schedule.alpha(tt), schedule.sigma2(tt)
    if np.any(sig2 == 0.0):
        raise ValueError(f"t must give sigma_t^2 > 0 in float64, got t = {float(np.min(tt))!r}")
    acc = _Model(model)

    def fill(i: int, ws: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
        sl = slice(i * QUERY_BLOCK, (i + 1) * QUERY_BLOCK)
        return xt[sl], target[sl], alpha[sl], sig2[sl], lam[sl]

    n_blocks = -(-n // QUERY_BLOCK)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        ((loss, dT, dU, ds2),) = _run_models([acc], n_blocks, QUERY_BLOCK, fill, n)
    finite_result([loss, ds2], "the loss (or its gradient) for these inputs")
    finite_result(dT, "the gradient for these inputs")
    finite_result(dU, "the gradient for these inputs")
    return loss, dT.reshape(model.templates.shape), dU, ds2


# ----------------------------------------------------------------------------------------------
# training
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateTrainResult:
    """A trained template model, its EMA twin (if EMA was on), the loss per epoch and the config."""

    model: TemplateDenoiser
    ema_model: TemplateDenoiser | None
    losses: np.ndarray
    config: TrainConfig


def template_objective(
    Y: np.ndarray,
    M: int,
    config: TrainConfig,
    schedule: Schedule,
    times: np.ndarray,
) -> Callable[[np.ndarray, int], tuple[float, np.ndarray]]:
    r"""``objective(theta, epoch) -> (loss, grad)`` of one training epoch (for :func:`fit`).

    ``Y`` ``(N, c, p)`` float64 (``p = h w``); ``theta`` packed as :meth:`TemplateDenoiser.pack`
    (templates, color means, ``sqrt(color_var)``). The epoch's grid times (one per sample) come
    from ``SeedSequence(config.seed, spawn_key=(epoch,))`` and the ``n_dup`` noise draws of the
    samples of query block ``i`` from ``spawn_key=(epoch, i)`` (blocks of
    ``QUERY_BLOCK // n_dup`` samples), so the value is a pure function of ``(theta, epoch)``
    whatever the number of threads.

    ``config.extra["time_sampling"]``: ``"per_sample"`` (default; the paper's protocol: one
    uniform grid time per sample and epoch, shared by its ``n_dup`` draws) or ``"stratified"``
    (draw ``r`` of sample ``j`` at grid index ``(k_j + r) mod L`` with ``k_j`` uniform: every
    draw is still uniform on the grid, so the loss estimate stays unbiased for eq. (5), but a
    sample covers ``min(n_dup, L)`` distinct times per epoch, which removes most of the
    epoch-to-epoch gradient noise from the ``psi_t``-weighted small-``t`` terms).

    Every argument is validated: ``Y`` finite ``(N, c, p)`` with ``N, c, p >= 1``, ``M >= 1``,
    ``config`` a :class:`~diffmem_theory.core.training.TrainConfig`, ``schedule`` a schedule or its
    name, ``times`` a non-empty 1-D array of times in the schedule's domain; the returned
    ``objective`` checks that ``theta`` has ``M (p + c) + 1`` entries and ``epoch >= 0``.

    Parameters
    ----------
    Y : ndarray
        Training images ``(N, c, p)``.
    M : int
        Number of components, ``M >= 1``.
    config : TrainConfig
        Training settings (``n_dup``, ``seed``, ``weighting``, ``extra["time_sampling"]``).
    schedule : Schedule
        The noise schedule (or its name).
    times : ndarray
        The time grid.

    Returns
    -------
    callable
        ``objective(theta, epoch) -> (loss, grad)``.

    See Also
    --------
    template_loss_and_grad : the loss and gradient of one batch.
    train_template_denoiser : minimizes it with Adam.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), eq. (5), Sec. 4.2 and App. H.1.

    Examples
    --------
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> from diffmem_theory.core.training import TrainConfig
    >>> Y = np.ones((2, 3, 4))
    >>> f = template_objective(Y, 2, TrainConfig(n_dup=1), VPTrig(), VPTrig().time_grid())
    >>> theta = np.concatenate([np.ones(8), np.zeros(6), [0.5]])
    >>> loss, grad = f(theta, 0)
    >>> grad.shape, bool(loss > 0)
    ((15,), True)
    """
    Y = as_float_array(Y, "Y", ndim=3, dtype=np.float64)
    stacked = _stacked_objective(Y, (check_int(M, "M", low=1),), config, schedule, times)

    def objective(theta: np.ndarray, epoch: int) -> tuple[float, np.ndarray]:
        losses, grad = stacked(theta, epoch)
        return float(losses[0]), grad

    return objective


def _stacked_objective(
    Y: np.ndarray,
    ms: tuple[int, ...],
    config: TrainConfig,
    schedule: Schedule,
    times: np.ndarray,
) -> Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]:
    """:func:`template_objective` of models of sizes ``ms`` on the same queries, in lock step.

    ``theta`` is the concatenation of the models' packed parameters; returns the ``len(ms)``
    losses and the concatenated gradient. The epoch's noise and queries are drawn once and
    serve every model (they depend on the seed and the epoch only), so each model's loss and
    gradient have the bits it has alone.
    """
    n, c, p = Y.shape
    if min(n, c, p) < 1:
        raise ValueError(f"Y must have shape (N, c, p) with N, c, p >= 1, got {Y.shape}")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    schedule = as_schedule(schedule, required=True)
    times = schedule.check_time(as_float_array(times, "times", ndim=1), "times")
    if times.size == 0:
        raise ValueError("times must hold at least one time")
    m_all = sum(ms)
    check_allocation(m_all * (p + c) + QUERY_BLOCK * c * p * 3, f"M = {m_all} components")
    lam_grid = loss_weighting(config.weighting, times, schedule)
    alpha_grid, sig2_grid = schedule.alpha(times), schedule.sigma2(times)
    n_dup, seed = config.n_dup, config.seed
    per_block = max(1, QUERY_BLOCK // n_dup)
    n_blocks = -(-n // per_block)
    block = per_block * n_dup
    sizes = [m * (p + c) + 1 for m in ms]
    offsets = np.cumsum([0, *sizes])
    sampling = config.extra.get("time_sampling", "per_sample")
    check_choice(sampling, "config.extra['time_sampling']", ("per_sample", "stratified"))
    stratified = sampling == "stratified"

    def objective(theta: np.ndarray, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        theta = _packed(theta, int(offsets[-1]))
        epoch = check_int(epoch, "epoch", low=0)
        t_idx = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(epoch,))).integers(
            0, times.size, n
        )
        models, scales = [], []
        for m, lo in zip(ms, offsets[:-1], strict=True):
            part = theta[lo : lo + m * (p + c) + 1]
            s = float(part[-1])
            models.append(
                _Model(
                    TemplateDenoiser(
                        part[: m * p].reshape(m, 1, p), part[m * p : -1].reshape(m, c), s * s
                    )
                )
            )
            scales.append(s)

        def fill(i: int, ws: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
            rows = slice(i * per_block, min((i + 1) * per_block, n))
            nr = rows.stop - rows.start
            if "x0" not in ws:
                ws["x0"], ws["xt"] = np.empty((block, c, p)), np.empty((block, c, p))
            x0, xt = ws["x0"][: nr * n_dup], ws["xt"][: nr * n_dup]
            x0.reshape(nr, n_dup, c, p)[...] = Y[rows, None]
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(epoch, i)))
            rng.standard_normal(out=xt.reshape(nr * n_dup, c * p))
            if stratified:  # dup r of sample j at grid index (t_idx[j] + r) mod L
                k = (t_idx[rows, None] + np.arange(n_dup)[None]) % times.size
                k = k.ravel()
            else:
                k = np.repeat(t_idx[rows], n_dup)
            a, s2t = alpha_grid[k], sig2_grid[k]
            xt *= np.sqrt(s2t)[:, None, None]
            xt += a[:, None, None] * x0
            return xt, x0, a, s2t, lam_grid[k]

        results = _run_models(models, n_blocks, block, fill, n * n_dup)
        grads = [
            np.concatenate([dT.ravel(), dU.ravel(), [2.0 * s * ds2]])
            for (_, dT, dU, ds2), s in zip(results, scales, strict=True)
        ]
        return np.array([r[0] for r in results]), np.concatenate(grads)

    return objective


def train_template_denoiser(
    Y: ArrayLike,
    M: int,
    config: TrainConfig | None = None,
    *,
    templates: ArrayLike | None = None,
    labels: ArrayLike | None = None,
    image_shape: tuple[int, int, int] | None = None,
    schedule: Schedule | None = None,
    init: TemplateDenoiser | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 1000,
    progress: bool = True,
) -> TemplateTrainResult:
    r"""Train an M-component colored-template denoiser on images ``Y`` (paper 000, Sec. 4.2).

    The loss is eq. (5) with ``config.weighting`` (``"eps"``: ``lambda = psi_t``); each epoch
    draws one grid time per sample (VPTrig's 26 points unless ``config.times``) and
    ``config.n_dup`` noise draws per sample from ``SeedSequence(config.seed, spawn_key=(epoch,))``
    (as :func:`diffmem_theory.core.training.train_gmm_denoiser`); one full-batch Adam step per epoch
    with the H.1 warmup-decay schedule via :func:`diffmem_theory.core.training.fit` (so ``ema``,
    ``checkpoint`` / resume and bit-reproducibility come from there). Learned: templates,
    color means and ``sqrt(color_var)`` (the color variance is optimized through its square
    root, like the GMM's). ``Y`` is ``(N, c, h, w)``, or ``(N, c*h*w)`` with ``image_shape``
    (or ``templates``) giving ``(c, h, w)``. Initialization: ``init``, else
    :func:`template_partial_memorization_init` (with ``templates``/``labels`` when given: the
    generating templates of the data). The paper's settings are :data:`IMAGE_CONFIG`
    (100,000 epochs, ``n_dup = 100``, ``1e-3 -> 1e-6``, warmup 1/10), the default.
    float64 only (the logits subtract terms of size ``|x|^2/sigma_t^2 ~ 1e8`` at ``t = 0.001``).

    Parameters
    ----------
    Y : array_like
        Training images, ``(N, c, h, w)`` or ``(N, c*h*w)``.
    M : int
        Number of components, ``M >= 1``.
    config : TrainConfig, optional
        Training settings; default :data:`IMAGE_CONFIG`.
    templates, labels : array_like, optional
        The generating templates and each sample's template index (for the initialization).
    image_shape : tuple of int, optional
        ``(c, h, w)`` when ``Y`` is flat.
    schedule : Schedule, optional
        Default VPTrig.
    init : TemplateDenoiser, optional
        Start from this model instead of the partial-memorization initialization.
    checkpoint : str or os.PathLike, optional
        Checkpoint file (resumable training).
    checkpoint_every : int, default 1000
        Epochs between checkpoints.
    progress : bool, default True
        Show a progress bar.

    Returns
    -------
    TemplateTrainResult
        The trained model (``.model``) and the training history.

    See Also
    --------
    template_partial_memorization_init : the App. H.1 initialization.
    template_objective : the objective minimized each epoch.
    diffmem_theory.core.training.train_gmm_denoiser : the GMM trainer it mirrors.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Sec. 4.2 and App. H.1.

    Examples
    --------
    >>> from diffmem_theory.core.distributions import TemplateMixture
    >>> from diffmem_theory.crossover.template_data import generated_templates
    >>> tpl = generated_templates(2, size=5)
    >>> Y, lab = TemplateMixture(tpl, np.zeros((2, 3)), 1.0).sample(6, 1)
    >>> res = train_template_denoiser(Y, 6, TrainConfig(n_epochs=20, n_dup=2), templates=tpl,
    ...                               labels=lab, progress=False)
    >>> res.model.color_var < 1e-3   # M = N: the memorizing start stays memorizing
    True
    """
    (result,) = _train(
        Y, (M,), config, templates=templates, labels=labels, image_shape=image_shape,
        schedule=schedule, init=init, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
        progress=progress,
    )  # fmt: skip
    return result


def train_template_denoisers(
    Y: ArrayLike,
    Ms: Sequence[int],
    config: TrainConfig | None = None,
    *,
    templates: ArrayLike | None = None,
    labels: ArrayLike | None = None,
    image_shape: tuple[int, int, int] | None = None,
    schedule: Schedule | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 1000,
    progress: bool = True,
) -> list[TemplateTrainResult]:
    r"""Train colored-template denoisers of sizes ``Ms`` on the same images, in lock step.

    Each model is trained exactly as :func:`train_template_denoiser` trains it alone (same
    initialization, noise, times and Adam steps: the same bits), but the epoch's noise draws and
    noisy queries, which depend only on ``config.seed`` and the epoch, are made once and serve
    every model, and the models share each pass over the queries (one Adam step per epoch on
    the concatenated parameters; Adam is element-wise, so the models do not interact). For a
    grid of model sizes, as in paper 000's Fig. 5, this saves the ``len(Ms) - 1`` further draws
    of ``N n_dup c h w`` normals per epoch. ``checkpoint`` holds all the models.

    Parameters
    ----------
    Y : array_like
        Training images, ``(N, c, h, w)`` or ``(N, c*h*w)``.
    Ms : sequence of int
        The numbers of components, each ``>= 1``; at least one.
    config : TrainConfig, optional
        Training settings; default :data:`IMAGE_CONFIG`.
    templates, labels : array_like, optional
        The generating templates and each sample's template index (for the initialization).
    image_shape : tuple of int, optional
        ``(c, h, w)`` when ``Y`` is flat.
    schedule : Schedule, optional
        Default VPTrig.
    checkpoint : str or os.PathLike, optional
        Checkpoint file of the joint run (resumable training).
    checkpoint_every : int, default 1000
        Epochs between checkpoints.
    progress : bool, default True
        Show a progress bar.

    Returns
    -------
    list of TemplateTrainResult
        One per entry of ``Ms``, in that order.

    See Also
    --------
    train_template_denoiser : one model.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Sec. 4.2 and App. H.1.

    Examples
    --------
    >>> from diffmem_theory.core.distributions import TemplateMixture
    >>> from diffmem_theory.crossover.template_data import generated_templates
    >>> tpl = generated_templates(2, size=5)
    >>> Y, lab = TemplateMixture(tpl, np.zeros((2, 3)), 1.0).sample(6, 1)
    >>> cfg = TrainConfig(n_epochs=20, n_dup=2)
    >>> both = train_template_denoisers(Y, [3, 6], cfg, templates=tpl, labels=lab, progress=False)
    >>> alone = train_template_denoiser(Y, 3, cfg, templates=tpl, labels=lab, progress=False)
    >>> [r.model.n_components for r in both], bool(np.all(both[0].losses == alone.losses))
    ([3, 6], True)
    """
    if isinstance(Ms, (str, bytes)) or not hasattr(Ms, "__iter__"):
        raise TypeError(f"Ms must be a sequence of model sizes, got {type(Ms).__name__}")
    sizes = tuple(Ms)
    if not sizes:
        raise ValueError("Ms must hold at least one model size, got an empty sequence")
    return _train(
        Y, sizes, config, templates=templates, labels=labels, image_shape=image_shape,
        schedule=schedule, init=None, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
        progress=progress,
    )  # fmt: skip


def _train(
    Y: ArrayLike,
    Ms: tuple[Any, ...],
    config: TrainConfig | None,
    *,
    templates: ArrayLike | None,
    labels: ArrayLike | None,
    image_shape: tuple[int, int, int] | None,
    schedule: Schedule | None,
    init: TemplateDenoiser | None,
    checkpoint: str | os.PathLike | None,
    checkpoint_every: int,
    progress: bool,
) -> list[TemplateTrainResult]:
    """The trainers' common body: models of sizes ``Ms`` (``init`` only for one model)."""
    cfg = config if config is not None else IMAGE_CONFIG
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(cfg).__name__}")
    if np.dtype(cfg.dtype) != np.float64:
        raise ValueError(f"the template trainer runs in float64 only, got dtype {cfg.dtype!r}")
    sched = as_schedule(schedule)
    if init is not None:
        _check_model(init, "init")
    check_bool(progress, "progress")
    data = as_float_array(Y, "Y", ndim=(2, 4), dtype=np.float64)
    tpl = None if templates is None else as_float_array(templates, "templates", ndim=3)
    c, h, w = _image_shape(data, image_shape, tpl)
    n, p = data.shape[0], h * w
    flat = np.ascontiguousarray(data.reshape(n, c, p))
    single = len(Ms) == 1
    ms = tuple(check_int(M, "M" if single else f"Ms[{i}]", low=1) for i, M in enumerate(Ms))
    times = sched.time_grid() if cfg.times is None else sched.check_time(np.asarray(cfg.times))
    starts = []
    for m in ms:
        if init is None:
            rng = np.random.default_rng(np.random.SeedSequence(cfg.seed, spawn_key=(2**32 - 1,)))
            start = template_partial_memorization_init(
                flat.reshape(n, c, h, w), m, rng, templates=tpl, labels=labels, var0=cfg.var0
            )
        else:
            start = init
        if start.templates.shape != (m, h, w) or start.color_means.shape != (m, c):
            raise ValueError(
                f"init must have templates ({m}, {h}, {w}) and color_means ({m}, {c}), got "
                f"{start.templates.shape} and {start.color_means.shape}"
            )
        starts.append(start.pack())
    theta0 = np.concatenate(starts)
    objective = _stacked_objective(flat, ms, cfg, sched, times)
    out = fit_config(
        objective,
        theta0,
        cfg,
        identity={
            "model": "template",
            "M": ms[0] if single else list(ms),
            "schedule": repr(sched),
            "init": theta0.tolist(),
        },
        data=flat,
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
        progress=progress,
        desc=f"M={ms[0]}" if single else f"M={ms[0]}..{ms[-1]}",
    )
    shape = (c, h, w)
    bounds = np.cumsum([0, *(start.size for start in starts)])
    results = []
    for j, m in enumerate(ms):
        part = slice(int(bounds[j]), int(bounds[j + 1]))
        ema_model = None if out.ema is None else TemplateDenoiser.unpack(out.ema[part], shape, m)
        model = TemplateDenoiser.unpack(out.params[part], shape, m)
        results.append(TemplateTrainResult(model, ema_model, out.losses[:, j].copy(), cfg))
    return results
