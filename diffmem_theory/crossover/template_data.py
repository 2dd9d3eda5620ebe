r"""Template data of paper 000's image experiment (Sec. 4.2, App. H.1): garment templates.

Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models".

A sample of the image model is ``y = c (x) x_k``: a monochrome ``h x w`` template ``x_k`` (one of
``K``) tinted by a color ``c ~ N(u_k, s_*^2 I_c)`` (channel ``j`` of the image is ``c_j x_k``);
the paper uses ``K`` FashionMNIST images resized to 15 x 15, ``c = 3``, ``u_k = 0`` and
``s_*^2 = 1`` (:class:`~diffmem_theory.core.distributions.TemplateMixture` is the distribution).
This module holds the two sources of templates:

* :func:`generated_templates`: deterministic procedural garment silhouettes (T-shirt, trouser,
  bag, sneaker, dress, ankle boot, pullover, sandal, coat, shirt -- the ten FashionMNIST classes)
  drawn with 8 x 8 supersampling, a smooth seeded shading and jointly min-max normalized to
  [0, 1]; they stand in for FashionMNIST, which cannot be downloaded here;
* :func:`load_fashion_mnist_templates`: the real FashionMNIST IDX files (gzipped or not) that a
  user has on disk (:func:`diffmem_theory.data.read_idx`), resized 28 x 28 -> 15 x 15 by
  Pillow's bicubic filter (:func:`resize_bicubic`, as the authors' code; Pillow is a dependency
  of matplotlib, hence always installed) and jointly min-max normalized
  (:func:`minmax_normalize`).

The model that learns such templates and its trainer are in
:mod:`diffmem_theory.crossover.template_model`.

>>> tpl = generated_templates(3, size=6)
>>> tpl.shape, float(tpl.min()), float(tpl.max())
((3, 6, 6), 0.0, 1.0)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from diffmem_theory._validation import (
    as_float_array,
    check_allocation,
    check_bool,
    check_choice,
    check_int,
)
from diffmem_theory.data import read_idx

__all__ = [
    "GARMENTS",
    "generated_templates",
    "load_fashion_mnist_templates",
    "minmax_normalize",
    "resize_bicubic",
]

# ----------------------------------------------------------------------------------------------
# generated templates
# ----------------------------------------------------------------------------------------------

#: The garment silhouettes of :func:`generated_templates`, in the order they are used.
GARMENTS: tuple[str, ...] = (
    "t-shirt",
    "trouser",
    "bag",
    "sneaker",
    "dress",
    "ankle boot",
    "pullover",
    "sandal",
    "coat",
    "shirt",
)

_Layer = tuple[str, Any, float]  # ("poly", vertices, level) or ("ellipse", (cx, cy, rx, ry), level)


def _mirror(half: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """A left-right symmetric polygon from its left half (listed top to bottom)."""
    return half + [(1.0 - u, v) for u, v in reversed(half)]


def _scene(name: str) -> list[_Layer]:
    """Layers painted in order (later ones on top); coordinates (u right, v down) in [0, 1]."""
    if name == "t-shirt":
        body = _mirror(
            [(0.42, 0.14), (0.30, 0.13), (0.08, 0.28), (0.17, 0.45), (0.29, 0.38), (0.28, 0.90)]
        )
        return [("poly", body, 0.85), ("ellipse", (0.5, 0.12, 0.09, 0.05), 0.0)]
    if name == "trouser":
        legs = [
            (0.30, 0.08),
            (0.70, 0.08),
            (0.76, 0.92),
            (0.56, 0.92),
            (0.50, 0.34),
            (0.44, 0.92),
            (0.24, 0.92),
        ]
        return [
            ("poly", legs, 0.8),
            ("poly", [(0.30, 0.08), (0.70, 0.08), (0.70, 0.13), (0.30, 0.13)], 0.55),
        ]
    if name == "bag":
        return [
            ("ellipse", (0.5, 0.40, 0.27, 0.26), 0.65),
            ("ellipse", (0.5, 0.40, 0.19, 0.19), 0.0),
            ("poly", [(0.10, 0.40), (0.90, 0.40), (0.88, 0.88), (0.12, 0.88)], 0.9),
            ("poly", [(0.10, 0.40), (0.90, 0.40), (0.90, 0.47), (0.10, 0.47)], 0.6),
        ]
    if name == "sneaker":
        upper = [
            (0.05, 0.56),
            (0.30, 0.50),
            (0.50, 0.36),
            (0.72, 0.33),
            (0.86, 0.45),
            (0.96, 0.62),
            (0.96, 0.72),
            (0.05, 0.72),
        ]
        sole = [(0.05, 0.70), (0.96, 0.70), (0.95, 0.78), (0.06, 0.78)]
        return [("poly", upper, 0.8), ("poly", sole, 1.0)]
    if name == "dress":
        return [
            ("poly", _mirror([(0.40, 0.08), (0.37, 0.30), (0.44, 0.42), (0.18, 0.92)]), 0.8),
            ("poly", [(0.44, 0.40), (0.56, 0.40), (0.56, 0.44), (0.44, 0.44)], 0.5),
        ]
    if name == "ankle boot":
        boot = [
            (0.28, 0.10),
            (0.62, 0.10),
            (0.62, 0.50),
            (0.90, 0.62),
            (0.94, 0.84),
            (0.22, 0.84),
            (0.26, 0.50),
        ]
        return [
            ("poly", boot, 0.75),
            ("poly", [(0.22, 0.80), (0.94, 0.80), (0.94, 0.88), (0.22, 0.88)], 1.0),
        ]
    if name == "pullover":
        body = _mirror(
            [
                (0.40, 0.12),
                (0.28, 0.14),
                (0.10, 0.36),
                (0.05, 0.88),
                (0.18, 0.88),
                (0.24, 0.48),
                (0.28, 0.46),
                (0.28, 0.90),
            ]
        )
        return [("poly", body, 0.8), ("ellipse", (0.5, 0.12, 0.10, 0.05), 0.0)]
    if name == "sandal":
        return [
            ("poly", [(0.05, 0.72), (0.95, 0.64), (0.95, 0.74), (0.05, 0.82)], 0.95),
            ("poly", [(0.20, 0.72), (0.28, 0.72), (0.52, 0.40), (0.44, 0.40)], 0.7),
            ("poly", [(0.50, 0.68), (0.58, 0.68), (0.60, 0.40), (0.52, 0.40)], 0.7),
            ("poly", [(0.70, 0.66), (0.78, 0.65), (0.62, 0.40), (0.56, 0.40)], 0.7),
            ("poly", [(0.40, 0.36), (0.66, 0.36), (0.66, 0.42), (0.40, 0.42)], 0.85),
        ]
    if name == "coat":
        body = _mirror(
            [
                (0.38, 0.08),
                (0.26, 0.10),
                (0.08, 0.34),
                (0.04, 0.92),
                (0.17, 0.92),
                (0.22, 0.46),
                (0.26, 0.44),
                (0.24, 0.95),
            ]
        )
        return [
            ("poly", body, 0.75),
            ("poly", [(0.48, 0.16), (0.52, 0.16), (0.52, 0.95), (0.48, 0.95)], 0.3),
            ("poly", [(0.38, 0.08), (0.50, 0.24), (0.62, 0.08)], 0.0),
        ]
    if name == "shirt":
        body = _mirror(
            [
                (0.40, 0.10),
                (0.28, 0.12),
                (0.12, 0.30),
                (0.07, 0.80),
                (0.19, 0.80),
                (0.25, 0.44),
                (0.29, 0.42),
                (0.29, 0.90),
            ]
        )
        return [
            ("poly", body, 0.7),
            ("poly", [(0.40, 0.10), (0.50, 0.22), (0.60, 0.10), (0.56, 0.08), (0.44, 0.08)], 1.0),
            ("poly", [(0.49, 0.22), (0.51, 0.22), (0.51, 0.90), (0.49, 0.90)], 0.45),
        ]
    raise ValueError(f"unknown garment {name!r}; allowed: {list(GARMENTS)}")


def _inside(layer: _Layer, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    kind, geom, _ = layer
    if kind == "ellipse":
        cx, cy, rx, ry = geom
        return ((u - cx) / rx) ** 2 + ((v - cy) / ry) ** 2 <= 1.0
    from matplotlib.path import Path as _Path

    pts = np.column_stack([u.ravel(), v.ravel()])
    return _Path(np.asarray(geom)).contains_points(pts).reshape(u.shape)


def _render(name: str, size: int, rng: np.random.Generator, jitter: float) -> np.ndarray:
    """One template: the scene at 8 x 8 subsamples per pixel, times a smooth shading field."""
    ss = 8
    grid = (np.arange(size * ss) + 0.5) / (size * ss)
    v, u = np.meshgrid(grid, grid, indexing="ij")
    # a small random affine jitter (scale, shift) and the shading field, from the seed
    scale = 1.0 + jitter * rng.uniform(-0.12, 0.06)
    du, dv = jitter * rng.uniform(-0.05, 0.05, 2)
    uu, vv = (u - 0.5 - du) / scale + 0.5, (v - 0.5 - dv) / scale + 0.5
    img = np.zeros_like(u)
    for layer in _scene(name):
        img = np.where(_inside(layer, uu, vv), layer[2], img)
    freq = rng.uniform(1.0, 3.0, (3, 2))
    phase = rng.uniform(0.0, 2 * np.pi, 3)
    shade = sum(
        np.cos(2 * np.pi * (f[0] * uu + f[1] * vv) + ph) for f, ph in zip(freq, phase, strict=True)
    )
    img = img * (1.0 + 0.08 * shade)
    return img.reshape(size, ss, size, ss).mean(axis=(1, 3))


def minmax_normalize(images: ArrayLike) -> np.ndarray:
    """Joint min-max normalization to [0, 1] over all images (the authors' template scaling).

    >>> minmax_normalize([[1.0, 3.0], [2.0, 5.0]]).tolist()
    [[0.0, 0.5], [0.25, 1.0]]
    """
    arr = as_float_array(images, "images", dtype=np.float64)
    if arr.size == 0:
        raise ValueError(f"images must not be empty, got shape {arr.shape}")
    lo, hi = float(arr.min()), float(arr.max())
    if not hi > lo:
        raise ValueError(f"images are constant ({lo!r}); min-max normalization is undefined")
    half_lo = 0.5 * lo  # halves: hi - lo may overflow float64
    return (0.5 * arr - half_lo) / (0.5 * hi - half_lo)


def generated_templates(K: int, size: int = 15, seed: int = 0) -> np.ndarray:
    r"""``K`` deterministic garment-like monochrome templates of ``size x size`` pixels in [0, 1].

    A stand-in for the FashionMNIST templates of paper 000, Sec. 4.2 (which cannot be downloaded
    here): template ``k`` is the silhouette ``GARMENTS[k % 10]`` (T-shirt, trouser, bag, sneaker,
    dress, ankle boot, pullover, sandal, coat, shirt: the ten FashionMNIST classes, ordered so
    that the first few differ most), drawn on the unit square with 8 x 8 supersampling per pixel
    (anti-aliased edges), a few darker or brighter details (collar, sole, zipper), and a smooth
    shading ``1 + 0.08 sum_j cos(2 pi f_j . (u, v) + phi_j)`` whose frequencies and phases come
    from ``SeedSequence(seed, spawn_key=(k,))``. Beyond the first ten, the silhouettes repeat with
    a random affine jitter (scale 0.88-1.06, shift +-0.05) from the same stream, so templates stay
    distinct. The ``K`` templates are then jointly min-max normalized to [0, 1], like the authors'
    FashionMNIST templates. A pure function of ``(K, size, seed)``; returns ``(K, size, size)``.

    Parameters
    ----------
    K : int
        Number of templates, ``K >= 1``.
    size : int, default 15
        Side in pixels, ``size >= 4``.
    seed : int, default 0
        Seed of the shading and jitter.

    Returns
    -------
    ndarray
        ``(K, size, size)`` float64 templates in [0, 1].

    See Also
    --------
    load_fashion_mnist_templates : the real templates, from a user's files.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Sec. 4.2 and App. H.1 (the templates themselves are ours).

    Examples
    --------
    >>> tpl = generated_templates(4)
    >>> tpl.shape, float(tpl.min()), float(tpl.max())
    ((4, 15, 15), 0.0, 1.0)
    >>> bool(np.array_equal(tpl, generated_templates(4)))
    True
    """
    k = check_int(K, "K", low=1)
    s = check_int(size, "size", low=4)
    sd = check_int(seed, "seed", low=0)
    check_allocation(k * s * s + 16 * (8 * s) ** 2, f"{k} templates of {s} x {s} pixels")
    out = np.empty((k, s, s))
    for i in range(k):
        rng = np.random.default_rng(np.random.SeedSequence(sd, spawn_key=(i,)))
        out[i] = _render(GARMENTS[i % len(GARMENTS)], s, rng, jitter=0.0 if i < 10 else 1.0)
    return minmax_normalize(out)


# ----------------------------------------------------------------------------------------------
# FashionMNIST IDX files
# ----------------------------------------------------------------------------------------------


def _find(path: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (path / name).is_file():
            return path / name
    return None


def resize_bicubic(images: ArrayLike, size: int, method: str = "pil") -> np.ndarray:
    r"""Resize ``(n, H, W)`` images to ``(n, size, size)`` with a bicubic filter.

    ``method="pil"`` (default): Pillow's ``Image.resize((size, size), BICUBIC)`` on each image,
    as the authors' code does on the FashionMNIST PIL images (for uint8 input the images stay
    8-bit grayscale "L" images, so the output is Pillow's rounded uint8 result, returned as
    float64; float input uses Pillow's 32-bit float mode). Pillow's filter is the Keys cubic
    (``a = -0.5``) with its support widened by the downscaling factor (anti-aliasing).
    ``method="scipy"``: ``scipy.ndimage.zoom(order=3)`` (cubic B-spline interpolation, no
    anti-aliasing: close to, but not the same as, the authors' images).

    >>> resize_bicubic(np.full((1, 28, 28), 200, dtype=np.uint8), 15)[0, 7, 7]
    np.float64(200.0)
    """
    check_choice(method, "method", ("pil", "scipy"))
    s = check_int(size, "size", low=1)
    arr = np.asarray(images)
    if arr.ndim != 3 or arr.dtype.kind not in "fiu" or min(arr.shape) < 1:
        raise ValueError(
            f"images must be a non-empty real (n, H, W) array, got {arr.dtype} of shape {arr.shape}"
        )
    if arr.dtype.kind == "f" and not np.all(np.abs(arr) <= np.finfo(np.float32).max):
        raise ValueError(
            "images must be finite and within the float32 range (Pillow resizes in float32), "
            f"got max |x| = {float(np.max(np.abs(arr)))!r}"
        )
    check_allocation(arr.shape[0] * s * s, f"{arr.shape[0]} images of {s} x {s} pixels")
    if method == "scipy":
        from scipy.ndimage import zoom

        src = arr.astype(np.float64)
        return np.stack([zoom(im, (s / im.shape[0], s / im.shape[1]), order=3) for im in src])
    from PIL import Image

    out = []
    for im in arr:
        pic = Image.fromarray(im if arr.dtype == np.uint8 else im.astype(np.float32))
        out.append(np.asarray(pic.resize((s, s), Image.Resampling.BICUBIC), dtype=np.float64))
    return np.stack(out)


def load_fashion_mnist_templates(
    path: str | os.PathLike,
    K: int,
    size: int = 15,
    seed: int = 1,
    labels: ArrayLike | None = None,
    *,
    per_class: bool = True,
    method: str = "pil",
) -> np.ndarray:
    r"""``K`` FashionMNIST templates resized to ``size x size`` and jointly normalized to [0, 1].

    Paper 000, App. H.1 / Sec. 4.2: ``K`` FashionMNIST training images, resized to 15 x 15 with
    Pillow (bicubic, see :func:`resize_bicubic`), then min-max normalized jointly over the ``K``
    templates. ``path`` is a directory holding ``train-images-idx3-ubyte`` (or ``.gz``) and,
    optionally, ``train-labels-idx1-ubyte`` (or ``.gz``), or the images file itself (the labels
    file is then looked up next to it). Selection, with ``rng = default_rng(seed)``:

    * ``labels`` given (a sequence of ``K`` class labels): one random image of each of these
      classes (needs the labels file);
    * otherwise, with ``per_class`` and a labels file and ``K`` at most the number of classes:
      ``K`` distinct random classes, one random image each (visually distinct templates);
    * otherwise: ``K`` distinct images uniformly at random (the authors' protocol; their code
      draws with JAX's ``PRNGKey(1)``, so the images differ from these).

    Returns ``(K, size, size)`` float64. Raises ``ValueError`` for missing or malformed files,
    images that are not 3-D, a label count that does not match, or an impossible selection.

    Parameters
    ----------
    path : str or os.PathLike
        Directory with the IDX files, or the images file itself.
    K : int
        Number of templates, ``K >= 1``.
    size : int, default 15
        Side of the resized templates.
    seed : int, default 1
        Seed of the selection.
    labels : array_like of int, optional
        One class label per template.
    per_class : bool, default True
        One image of each of ``K`` distinct classes when the labels file is there.
    method : {"pil", "scipy"}
        The bicubic resize (:func:`resize_bicubic`).

    Returns
    -------
    ndarray
        ``(K, size, size)`` float64 templates in [0, 1].

    See Also
    --------
    generated_templates : procedural stand-ins.
    diffmem_theory.data.read_idx : the IDX reader.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Sec. 4.2 and App. H.1.
    """
    k = check_int(K, "K", low=1)
    check_int(size, "size", low=1)
    gen = np.random.default_rng(check_int(seed, "seed", low=0))
    check_bool(per_class, "per_class")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    p = Path(path)
    if p.is_dir():
        img_file = _find(p, "train-images-idx3-ubyte")
        if img_file is None:
            raise ValueError(
                f"no train-images-idx3-ubyte[.gz] in {str(p)!r}; download FashionMNIST "
                "(github.com/zalandoresearch/fashion-mnist) and give its directory"
            )
        lbl_file = _find(p, "train-labels-idx1-ubyte")
    else:
        img_file = p
        lbl_file = _find(p.parent, "train-labels-idx1-ubyte")
    images = read_idx(img_file)
    if images.ndim != 3:
        raise ValueError(f"{str(img_file)!r} must hold (n, H, W) images, got shape {images.shape}")
    n = images.shape[0]
    classes = None
    if lbl_file is not None and (labels is not None or per_class):
        classes = read_idx(lbl_file)
        if classes.shape != (n,):
            raise ValueError(
                f"{str(lbl_file)!r} holds {classes.shape} labels but there are {n} images"
            )
    if labels is not None:
        want = np.asarray(labels)
        if want.shape != (k,) or want.dtype.kind not in "iu":
            raise ValueError(f"labels must be {k} integer class labels, got {want!r}")
        if classes is None:
            raise ValueError("labels were given but there is no train-labels-idx1-ubyte[.gz]")
        idx = []
        for lab in want:
            pool = np.flatnonzero(classes == lab)
            if pool.size == 0:
                raise ValueError(f"no image has label {int(lab)}")
            idx.append(int(gen.choice(pool)))
    elif classes is not None and per_class and k <= np.unique(classes).size:
        chosen = gen.permutation(np.unique(classes))[:k]
        idx = [int(gen.choice(np.flatnonzero(classes == lab))) for lab in chosen]
    else:
        if k > n:
            raise ValueError(f"K = {k} templates requested but the file holds {n} images")
        idx = gen.choice(n, size=k, replace=False).tolist()
    return minmax_normalize(resize_bicubic(images[idx], size, method))
