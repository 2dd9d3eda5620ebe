r"""A user's data set read into a float64 ``(N, d)`` array, with the pixel scaling stated.

:func:`load` reads, dispatching on the path:

* ``.npy``: one array; ``.npz``: the archive's only array, or the one named by ``key``;
* IDX files (MNIST, FashionMNIST: names ending in ``-ubyte`` or ``.idx1`` .. ``.idx3``, gzipped
  or not, see :func:`read_idx`); the labels file next to an images file is read too;
* CIFAR-10 python batches (``data_batch_1`` .. ``data_batch_5``, ``test_batch``, or a
  ``.pkl`` / ``.pickle`` file holding the same pickled dict with ``data`` and ``labels``), and
  a directory of such batches (the ``data_batch_*`` files, in numerical order);
* ``.png`` images: one file, or a directory of them (read in sorted file-name order).

:func:`digits` is scikit-learn's bundled 8 x 8 digits (1,797 images, no download; the
``digits`` extra). :func:`split` draws a seeded train / held-out split.

Layout. An image becomes one row of ``x``, flattened row-major (C order) with the channels last:
a ``(H, W)`` grayscale image is ``d = H W`` pixels, a ``(H, W, 3)`` RGB image ``d = 3 H W``
values ordered ``(row, column, channel)``. CIFAR-10 stores its channels first (1,024 red,
1,024 green, then 1,024 blue values); they are moved last. :attr:`Dataset.image_shape` keeps
the shape of one sample, :meth:`Dataset.images` the stack for plotting. An ``.npy`` / ``.npz``
array is ``(N, d)`` (``image_shape = (d,)``), ``(N, H, W)`` or ``(N, H, W, C)``, the latter
taken as channels last.

Scaling. ``scale="[0,1]"`` (the default) maps the raw pixel range ``[lo, hi]`` affinely onto
[0, 1], ``scale="[-1,1]"`` onto [-1, 1], ``scale="none"`` keeps the raw values. The default
follows the papers that state a scaling: Buchanan, Pai, Ma, De Bortoli (paper 000, Sec. 3,
footnote 4) motivate Thm 3.1's regime (``|mu_k|^2 = Theta(d)``, ``sigma_*^2 = Theta(1)``) by
images "whose pixel intensities are normalized to [0, 1]"; Halder (paper 001, Fig. 5) models
pixels in (0, 1) (centres 0.5, standard deviation 0.1). Papers 003 (Sec. 6.2, App. D.3) and
004 (Sec. 5, App. E) train on CIFAR-10 without stating a scaling; the EDM code of Karras et
al. (2022) that paper 004 uses maps pixels to [-1, 1], which ``scale="[-1,1]"`` reproduces.
The raw range ``[lo, hi]`` is ``value_range`` when given, else the pixel type's range for 8-
and 16-bit unsigned pixels (``[0, 255]``, ``[0, 65535]``: IDX, CIFAR, PNG and ``uint8``
arrays), ``[0, 16]`` for the digits, ``[0, 1]`` for booleans, and otherwise (float or signed
arrays) the data's own minimum and maximum over all samples and pixels (one affine map for the
whole set, after ``limit``, so that relative pixel values are kept).

Errors. A missing path raises :class:`DataFileNotFoundError` (a ``FileNotFoundError`` and a
``ValueError``); an unknown file type, an unreadable or corrupted file (bad IDX header,
truncated data, a file that is not an image), an empty array, NaN or inf, a wrong number of
dimensions, images of different sizes in one folder, or values outside a given
``value_range`` raise ``ValueError``; each message names the file and what is wrong. Pickled
CIFAR batches are read with an unpickler that admits only NumPy arrays and plain Python
containers (it refuses every other class or function a pickle names).

>>> ds = digits()
>>> ds.x.shape, ds.image_shape, float(ds.x.min()), float(ds.x.max())
((1797, 64), (8, 8), 0.0, 1.0)
>>> train, held = split(ds, held_out=0.2, seed=0)
>>> len(train), len(held)
(1438, 359)
"""

from __future__ import annotations

import codecs
import dataclasses
import gzip
import math
import os
import pickle
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from diffmem_theory._validation import (
    as_float_array,
    as_rng,
    check_choice,
    check_int,
    check_scalar,
)

__all__ = ["SCALES", "DataFileNotFoundError", "Dataset", "digits", "load", "read_idx", "split"]

#: The accepted values of ``scale``: the interval the raw pixel range is mapped onto, or none.
SCALES: tuple[str, ...] = ("[0,1]", "[-1,1]", "none")

_COLORS = ("auto", "L", "RGB")


class DataFileNotFoundError(FileNotFoundError, ValueError):
    """A data path that does not exist: a ``FileNotFoundError``, and a ``ValueError`` like every
    other bad input of :func:`load` and :func:`read_idx`."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """A data set read by :func:`load` or :func:`digits`: the samples and how they were scaled.

    Attributes
    ----------
    x : ndarray
        The samples, float64: ``(N, d)`` with ``d = prod(image_shape)`` (images flattened
        row-major, channels last), or ``(N, *image_shape)`` when read with ``flatten=False``.
    image_shape : tuple of int
        The shape of one sample: ``(H, W)`` grayscale, ``(H, W, C)`` channels last, or ``(d,)``
        for vectors.
    labels : ndarray of int64 or None
        One class label per sample where the format has them (IDX with its labels file, CIFAR,
        digits), else None.
    source : str
        The file or directory read (``"sklearn.datasets.load_digits"`` for :func:`digits`).
    scale : str
        One of :data:`SCALES`.
    value_range : tuple of float or None
        The raw range ``(lo, hi)`` mapped onto ``scale`` (None when ``scale="none"``).

    Examples
    --------
    >>> ds = digits(limit=5)
    >>> len(ds), ds.d, ds.images().shape, ds.labels.tolist()
    (5, 64, (5, 8, 8), [0, 1, 2, 3, 4])
    """

    x: np.ndarray
    image_shape: tuple[int, ...]
    labels: np.ndarray | None
    source: str
    scale: str
    value_range: tuple[float, float] | None

    def __post_init__(self) -> None:
        # validated here too, so that a Dataset built by hand meets the same contract
        x = as_float_array(self.x, "x", dtype=np.float64)
        try:
            shape = tuple(check_int(s, "image_shape entry", low=1) for s in self.image_shape)
        except TypeError:
            raise ValueError(
                f"image_shape must be a tuple of positive ints, got {self.image_shape!r}"
            ) from None
        if x.ndim < 2 or x.shape[0] < 1 or x.shape[1:] not in (shape, (math.prod(shape),)):
            raise ValueError(
                f"x must be (N, {math.prod(shape)}) or (N, *{shape}) with N >= 1 for "
                f"image_shape={shape}, got shape {x.shape}"
            )
        labels = self.labels
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != (x.shape[0],) or labels.dtype.kind not in "iu":
                raise ValueError(
                    f"labels must be None or {x.shape[0]} integers, got {labels.dtype} of shape "
                    f"{labels.shape}"
                )
            labels = labels.astype(np.int64)
        if not isinstance(self.source, str):
            raise TypeError(f"source must be a str, got {type(self.source).__name__}")
        check_choice(self.scale, "scale", SCALES)
        value_range = None if self.value_range is None else _check_range(self.value_range)
        if (value_range is None) != (self.scale == "none"):
            raise ValueError(
                f"value_range must be None exactly when scale='none', got "
                f"scale={self.scale!r} and value_range={self.value_range!r}"
            )
        for name, value in (("x", x), ("image_shape", shape), ("labels", labels)):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "value_range", value_range)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def d(self) -> int:
        """The dimension of one sample, ``prod(image_shape)``."""
        return int(np.prod(self.image_shape, dtype=np.int64))

    def images(self) -> np.ndarray:
        """The samples as ``(N, *image_shape)`` (a view of :attr:`x`), e.g. for ``imshow``."""
        return self.x.reshape((len(self), *self.image_shape))


# ----------------------------------------------------------------------------------------------
# IDX files
# ----------------------------------------------------------------------------------------------

# IDX type codes (Y. LeCun's format): the third byte of the magic number
_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    r"""Read an IDX file (MNIST / FashionMNIST format), gzipped or not, into a NumPy array.

    Format: a 4-byte magic number ``0x00 0x00 <type> <ndim>`` (type ``0x08`` = unsigned byte,
    ``0x09`` signed byte, ``0x0B`` int16, ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64),
    then ``ndim`` big-endian uint32 dimensions, then the data in big-endian C order. Gzip is
    detected from the content (magic ``1f 8b``), not the file name. Image files of MNIST and
    FashionMNIST have magic ``0x00000803`` (``(n, 28, 28)`` uint8), label files ``0x00000801``.

    Parameters
    ----------
    path : str or os.PathLike
        The IDX file, gzipped or not.

    Returns
    -------
    ndarray
        The array, in native byte order and the file's type.

    Raises
    ------
    DataFileNotFoundError
        If ``path`` does not exist (a ``FileNotFoundError`` and a ``ValueError``).
    ValueError
        On a corrupt gzip stream, a bad magic number, a truncated header, or a data size that
        does not match the dimensions; the message names the file.

    See Also
    --------
    load : reads an IDX images file (and its labels file) into a scaled :class:`Dataset`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     f = pathlib.Path(d) / "x-idx1-ubyte"
    ...     _ = f.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]))
    ...     read_idx(f).tolist()
    [7, 8, 9]
    """
    p = _existing(path)
    if not p.is_file():
        raise ValueError(f"IDX file {str(p)!r} is a directory, not a file")
    raw = p.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise ValueError(f"{str(p)!r} is a corrupt gzip file: {err}") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES or raw[3] == 0:
        raise ValueError(
            f"{str(p)!r} is not an IDX file: bad magic number {raw[:4].hex() or '(empty)'} "
            "(expected 0000TTNN with type TT in 08, 09, 0b, 0c, 0d, 0e and NN >= 1 dimensions)"
        )
    dtype, ndim = _IDX_TYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{str(p)!r}: truncated IDX header ({len(raw)} < {header} bytes)")
    dims = tuple(int(x) for x in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    count = int(np.prod(dims, dtype=object))
    if len(raw) - header != count * dtype.itemsize:
        raise ValueError(
            f"{str(p)!r}: the IDX dimensions {dims} need {count * dtype.itemsize} data bytes, "
            f"the file has {len(raw) - header}"
        )
    arr = np.frombuffer(raw, dtype=dtype, count=count, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


def _idx_labels(p: Path, n: int) -> np.ndarray | None:
    """The labels file beside an images file (``images``->``labels``, ``idx3``->``idx1``)."""
    if "images" not in p.name:
        return None
    stem = p.name.removesuffix(".gz").replace("images", "labels").replace("idx3", "idx1")
    for name in (stem, stem + ".gz"):
        f = p.with_name(name)
        if f.is_file():
            labels = read_idx(f)
            if labels.shape != (n,):
                raise ValueError(
                    f"{str(f)!r}: the labels file beside {str(p)!r} has shape {labels.shape}, "
                    f"expected ({n},), one label per image"
                )
            return labels.astype(np.int64)
    return None


# ----------------------------------------------------------------------------------------------
# CIFAR-10 python batches
# ----------------------------------------------------------------------------------------------

# the only globals a pickled CIFAR batch needs: NumPy's array reconstruction (protocol 5: from a
# buffer) and, for batches pickled by Python 3 with protocol 2, the bytes codec
_PICKLE_GLOBALS = {
    ("numpy.core.numeric", "_frombuffer"): np.arange(1).__reduce_ex__(5)[0],
    ("numpy._core.numeric", "_frombuffer"): np.arange(1).__reduce_ex__(5)[0],
    ("numpy.core.multiarray", "_reconstruct"): np.ndarray(0).__reduce__()[0],
    ("numpy._core.multiarray", "_reconstruct"): np.ndarray(0).__reduce__()[0],
    ("numpy.core.multiarray", "scalar"): np.int64(0).__reduce__()[0],
    ("numpy._core.multiarray", "scalar"): np.int64(0).__reduce__()[0],
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
}

_CIFAR_BATCH = re.compile(r"data_batch_\d+|test_batch")
_TRAIN_BATCH = re.compile(r"data_batch_\d+")


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that builds NumPy arrays and plain containers, and refuses any other class."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _PICKLE_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refused to load {module}.{name} (only NumPy arrays are allowed)"
            ) from None


def _cifar_batch(p: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """One CIFAR-10 python batch: ``(n, H, W, 3)`` uint8 images (channels last) and labels."""
    try:
        with p.open("rb") as fh:
            obj = _ArrayUnpickler(fh, encoding="bytes").load()
    except Exception as err:  # a corrupt pickle raises almost any exception type
        raise ValueError(
            f"{str(p)!r} is not a readable CIFAR-10 python batch: {type(err).__name__}: {err}"
        ) from err
    if not isinstance(obj, dict):
        raise ValueError(
            f"{str(p)!r}: a CIFAR-10 batch is a pickled dict, got {type(obj).__name__}"
        )
    entries = {k.decode("latin1") if isinstance(k, bytes) else str(k): v for k, v in obj.items()}
    if "data" not in entries:
        raise ValueError(
            f"{str(p)!r}: a CIFAR-10 batch needs a 'data' entry, found {sorted(entries)}"
        )
    data = np.asarray(entries["data"])
    side = math.isqrt(data.shape[1] // 3) if data.ndim == 2 else 0
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * side * side or side < 1:
        raise ValueError(
            f"{str(p)!r}: CIFAR-10 'data' must be a uint8 (n, 3 * s * s) array "
            f"(s x s images, channels first), got {data.dtype} of shape {data.shape}"
        )
    images = data.reshape(-1, 3, side, side).transpose(0, 2, 3, 1)
    raw_labels = entries.get("labels", entries.get("fine_labels"))
    if raw_labels is None:
        return images, None
    labels = np.asarray(raw_labels)
    if labels.shape != (images.shape[0],) or labels.dtype.kind not in "iu":
        raise ValueError(
            f"{str(p)!r}: CIFAR-10 'labels' must be {images.shape[0]} integers, got "
            f"{labels.dtype} of shape {labels.shape}"
        )
    return images, labels.astype(np.int64)


def _cifar_dir(p: Path, batches: list[Path], limit: int | None) -> tuple[np.ndarray, Any]:
    images, labels = [], []
    for f in sorted(batches, key=lambda b: int(b.name.rsplit("_", 1)[1])):
        im, lab = _cifar_batch(f)
        if images and im.shape[1:] != images[0].shape[1:]:
            raise ValueError(
                f"{str(f)!r}: images of shape {im.shape[1:]}, but the first batch of {str(p)!r} "
                f"has {images[0].shape[1:]}"
            )
        images.append(im)
        labels.append(lab)
        if limit is not None and sum(len(i) for i in images) >= limit:
            break
    joined = None if any(lab is None for lab in labels) else np.concatenate(labels)
    return np.concatenate(images), joined


# ----------------------------------------------------------------------------------------------
# PNG images
# ----------------------------------------------------------------------------------------------

_GRAY8 = ("1", "L", "LA")
_GRAY16 = ("I", "I;16", "I;16B", "I;16L", "I;16N")


def _png(f: Path, color: str) -> np.ndarray:
    """One PNG image: ``(H, W)`` uint8 / uint16 grayscale or ``(H, W, 3)`` uint8 RGB."""
    from PIL import Image

    try:
        with Image.open(f) as im:
            fmt, mode = im.format, im.mode
            if fmt == "PNG":
                im.load()
                if mode in _GRAY16:
                    pixels = np.asarray(im)
                elif color == "L" or (color == "auto" and mode in _GRAY8):
                    pixels = np.asarray(im.convert("L"))
                else:
                    pixels = np.asarray(im.convert("RGB"))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise ValueError(
            f"{str(f)!r} is not a readable image: {type(err).__name__}: {err}"
        ) from err
    if fmt != "PNG":
        raise ValueError(f"{str(f)!r} is named .png but is a {fmt} image, not a PNG")
    if mode in _GRAY16:
        if color == "RGB":
            raise ValueError(
                f"{str(f)!r} is a 16-bit grayscale PNG; color='RGB' reads 8-bit images only "
                "(use color='auto' or 'L')"
            )
        if pixels.min() < 0 or pixels.max() > 65535:
            raise ValueError(f"{str(f)!r}: 16-bit PNG values outside [0, 65535]")
        return pixels.astype(np.uint16)
    return pixels


def _png_files(files: list[Path], color: str, limit: int | None) -> np.ndarray:
    files = files[:limit]
    images = [_png(f, color) for f in files]
    if len({im.dtype for im in images}) > 1:
        k = next(i for i, im in enumerate(images) if im.dtype != images[0].dtype)
        raise ValueError(
            f"{str(files[k])!r} has {8 * images[k].itemsize}-bit pixels but {str(files[0])!r} "
            f"has {8 * images[0].itemsize}-bit ones; the images of a folder must share a depth"
        )
    if color == "auto" and any(im.ndim == 3 for im in images):
        # a grayscale image among color ones: its gray value on all three channels
        images = [np.repeat(im[..., None], 3, axis=2) if im.ndim == 2 else im for im in images]
    for f, im in zip(files, images, strict=True):
        if im.shape[:2] != images[0].shape[:2]:
            raise ValueError(
                f"{str(f)!r} is {im.shape[1]} x {im.shape[0]} pixels but {str(files[0])!r} is "
                f"{images[0].shape[1]} x {images[0].shape[0]}; the images must have one size"
            )
    return np.stack(images)


# ----------------------------------------------------------------------------------------------
# arrays
# ----------------------------------------------------------------------------------------------


def _npy(p: Path, key: str | None) -> np.ndarray:
    """The array of an ``.npy`` file, or the ``key`` (by default the only) array of an ``.npz``."""
    unreadable = (ValueError, OSError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError)
    try:
        loaded = np.load(p, allow_pickle=False)
    except unreadable as err:
        raise ValueError(
            f"{str(p)!r} is not a readable NumPy file: {type(err).__name__}: {err}"
        ) from err
    if isinstance(loaded, np.ndarray):
        if key is not None:
            raise ValueError(f"{str(p)!r}: key={key!r} is for .npz archives, not .npy files")
        return loaded
    with loaded as archive:
        names = list(archive.files)
        if key is None and len(names) != 1:
            raise ValueError(f"{str(p)!r} holds {len(names)} arrays {names}; name one with key=")
        key = names[0] if key is None else key
        if key not in names:
            raise ValueError(f"{str(p)!r} has no array {key!r}; it holds {names}")
        try:
            return archive[key]
        except unreadable as err:
            raise ValueError(
                f"{str(p)!r}: array {key!r} is not readable: {type(err).__name__}: {err}"
            ) from err


# ----------------------------------------------------------------------------------------------
# the public readers
# ----------------------------------------------------------------------------------------------


def _existing(path: Any) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__} {path!r}")
    p = Path(path)
    if not p.exists():
        raise DataFileNotFoundError(f"data file {str(p)!r} does not exist")
    return p


def _is_idx(name: str) -> bool:
    base = name.lower().removesuffix(".gz")
    return base.endswith("ubyte") or re.search(r"\.idx\d?$", base) is not None


def _read(p: Path, key: str | None, color: str, limit: int | None) -> tuple[np.ndarray, Any]:
    """The raw array ``(N, ...)`` of any supported path, and its labels (or None)."""
    if p.is_dir():
        batches = [f for f in p.iterdir() if _TRAIN_BATCH.fullmatch(f.name) and f.is_file()]
        pngs = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() == ".png")
        if batches and pngs:
            raise ValueError(
                f"directory {str(p)!r} holds both CIFAR-10 batches and PNG images; "
                "load the batches or the images by their own path"
            )
        if batches:
            return _cifar_dir(p, batches, limit)
        if pngs:
            return _png_files(pngs, color, limit), None
        raise ValueError(
            f"directory {str(p)!r} holds neither PNG images (*.png) nor CIFAR-10 batches "
            "(data_batch_1 ...)"
        )
    name = p.name.lower()
    if name.endswith((".npy", ".npz")):
        return _npy(p, key), None
    if _is_idx(name):
        arr = read_idx(p)
        return arr, _idx_labels(p, arr.shape[0]) if arr.ndim >= 2 else None
    if _CIFAR_BATCH.fullmatch(name) or name.endswith((".pkl", ".pickle")):
        return _cifar_batch(p)
    if name.endswith(".png"):
        return _png_files([p], color, None), None
    raise ValueError(
        f"{str(p)!r}: unknown data file type; supported are .npy, .npz, IDX files (*-ubyte, "
        "*.idx1 .. *.idx3, gzipped too), CIFAR-10 python batches (data_batch_N, test_batch, "
        ".pkl, .pickle), .png images and directories of PNG images or CIFAR-10 batches"
    )


def _natural_range(arr: np.ndarray) -> tuple[float, float] | None:
    """The raw pixel range implied by the type: 8- and 16-bit unsigned, and booleans."""
    if arr.dtype == np.uint8:
        return 0.0, 255.0
    if arr.dtype == np.uint16:
        return 0.0, 65535.0
    if arr.dtype == np.bool_:
        return 0.0, 1.0
    return None


def _finish(
    raw: np.ndarray,
    labels: np.ndarray | None,
    source: str,
    *,
    scale: str,
    flatten: bool,
    limit: int | None,
    value_range: Any,
    natural: tuple[float, float] | None,
) -> Dataset:
    """Validate the raw array, take the first ``limit`` samples, scale, flatten."""
    raw = np.asarray(raw)
    if raw.dtype.kind not in "biuf":
        raise ValueError(
            f"{source!r}: the data must be a real numeric array, got dtype {raw.dtype}"
        )
    if raw.ndim not in (2, 3, 4):
        raise ValueError(
            f"{source!r}: the data must be (N, d) vectors, (N, H, W) or (N, H, W, C) images, "
            f"got an array of shape {raw.shape}"
        )
    if raw.size == 0:
        raise ValueError(f"{source!r}: the data are empty (shape {raw.shape})")
    if limit is not None:
        raw = raw[:limit]
        labels = None if labels is None else labels[:limit]
    x = raw.astype(np.float64)
    bad = ~np.isfinite(x) if raw.dtype.kind == "f" else None
    if bad is not None and bad.any():
        rows = np.flatnonzero(bad.reshape(len(x), -1).any(axis=1))
        raise ValueError(
            f"{source!r}: the data must be finite, but {rows.size} sample(s) hold NaN or inf "
            f"(the first is sample {int(rows[0])})"
        )
    if scale == "none":
        rng = None
    else:
        if value_range is not None:
            rng = _check_range(value_range)
            if x.min() < rng[0] or x.max() > rng[1]:
                raise ValueError(
                    f"{source!r}: values in [{x.min():.6g}, {x.max():.6g}] lie outside "
                    f"value_range=({rng[0]:.6g}, {rng[1]:.6g})"
                )
        elif natural is not None:
            rng = natural
        else:
            rng = (float(x.min()), float(x.max()))
            if rng[0] == rng[1]:
                raise ValueError(
                    f"{source!r}: every value is {rng[0]:.6g}, so min-max scaling is undefined; "
                    "pass value_range=(lo, hi) or scale='none'"
                )
        # halves first: no overflow for ranges near the float64 maximum
        x = (0.5 * x - 0.5 * rng[0]) / (0.5 * rng[1] - 0.5 * rng[0])
        if scale == "[-1,1]":
            x = 2.0 * x - 1.0
    shape = tuple(int(s) for s in raw.shape[1:])
    if flatten:
        x = x.reshape(len(x), -1)
    return Dataset(x, shape, labels, source, scale, rng)


def _check_range(value_range: Any) -> tuple[float, float]:
    try:
        lo, hi = value_range
    except (TypeError, ValueError):
        raise ValueError(f"value_range must be a pair (lo, hi), got {value_range!r}") from None
    lo = check_scalar(lo, "value_range[0]")
    hi = check_scalar(hi, "value_range[1]")
    if not hi > lo:
        raise ValueError(f"value_range must have lo < hi, got {value_range!r}")
    return lo, hi


def _check_options(scale: Any, flatten: Any, limit: Any) -> int | None:
    check_choice(scale, "scale", SCALES)
    if not isinstance(flatten, (bool, np.bool_)):
        raise ValueError(f"flatten must be True or False, got {flatten!r}")
    return None if limit is None else check_int(limit, "limit", low=1)


def load(
    path: str | os.PathLike,
    *,
    scale: str = "[0,1]",
    flatten: bool = True,
    limit: int | None = None,
    key: str | None = None,
    value_range: tuple[float, float] | None = None,
    color: str = "auto",
) -> Dataset:
    r"""Read a data set from a file or directory into a float64 :class:`Dataset`, scaled.

    ``x = (raw - lo) / (hi - lo)`` for ``scale="[0,1]"``, ``2 (raw - lo) / (hi - lo) - 1`` for
    ``scale="[-1,1]"``, ``raw`` for ``scale="none"``; ``[lo, hi]`` is ``value_range``, else the
    pixel type's range (``[0, 255]`` for 8-bit images), else the data's min and max (see the
    module docstring for which formats have which, and why [0, 1] is the default: paper 000,
    Sec. 3, footnote 4; paper 001, Fig. 5).

    Parameters
    ----------
    path : str or os.PathLike
        An ``.npy`` / ``.npz`` file, an IDX file (``*-ubyte``, ``*.idx1`` .. ``*.idx3``,
        gzipped or not), a CIFAR-10 python batch (``data_batch_N``, ``test_batch``, ``.pkl``,
        ``.pickle``), a ``.png`` image, or a directory of PNG images or of CIFAR-10 batches
        (its ``data_batch_*`` files; ``test_batch`` is read only by its own path).
    scale : {"[0,1]", "[-1,1]", "none"}, default "[0,1]"
        The interval the raw range is mapped onto, or ``"none"`` for the raw values.
    flatten : bool, default True
        ``x`` of shape ``(N, d)`` (row-major, channels last); False keeps ``(N, *image_shape)``.
    limit : int, optional
        Keep only the first ``limit`` samples (in file order; a PNG folder and a CIFAR-10
        directory then read only the files they need).
    key : str, optional
        The array of an ``.npz`` archive; by default its only array (an archive of several
        arrays needs ``key``).
    value_range : (float, float), optional
        The raw range ``(lo, hi)`` mapped onto ``scale``; values outside it raise (unused with
        ``scale="none"``).
    color : {"auto", "L", "RGB"}, default "auto"
        PNG images only: ``"L"`` converts every image to 8-bit grayscale (Pillow's ITU-R 601-2
        luma), ``"RGB"`` to 8-bit RGB (alpha dropped); ``"auto"`` keeps grayscale images
        (``1``, ``L``, ``LA`` modes, alpha dropped, and 16-bit grayscale) grayscale unless
        the folder holds a color image, in which case all become RGB (a gray image on all
        three channels; palette images count as color).

    Returns
    -------
    Dataset
        ``x`` float64, ``image_shape``, ``labels`` (IDX images with the labels file beside
        them, CIFAR-10), ``source = str(path)``, ``scale`` and ``value_range = (lo, hi)``.

    Raises
    ------
    DataFileNotFoundError
        If ``path`` does not exist (a ``FileNotFoundError`` and a ``ValueError``).
    ValueError
        On an unknown file type, an unreadable or corrupted file, an empty array, NaN or inf, an
        array that is not 2-, 3- or 4-D, PNG images of different sizes or bit depths, constant
        data to be min-max scaled, or values outside ``value_range``; the message names the
        file. Also on a bad ``scale``, ``flatten``, ``limit``, ``key``, ``value_range`` or
        ``color``.
    TypeError
        If ``path`` is not a str or path.

    See Also
    --------
    digits : scikit-learn's bundled digits, scaled the same way.
    split : a seeded train / held-out split of the result.
    read_idx : the raw IDX reader.

    Examples
    --------
    An 8-bit image array saved with NumPy, scaled to [-1, 1]:

    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     f = pathlib.Path(d) / "images.npy"
    ...     np.save(f, np.array([[[0, 255], [51, 102]]], dtype=np.uint8))
    ...     ds = load(f, scale="[-1,1]")
    >>> ds.x.round(2).tolist(), ds.image_shape, ds.value_range
    ([[-1.0, 1.0, -0.6, -0.2]], (2, 2), (0.0, 255.0))

    A folder of two 3 x 2 RGB PNG images (Pillow), flattened row-major with the channels last:

    >>> from PIL import Image
    >>> with tempfile.TemporaryDirectory() as d:
    ...     for i in range(2):
    ...         pixels = np.full((2, 3, 3), 51 * i, dtype=np.uint8)
    ...         Image.fromarray(pixels).save(pathlib.Path(d) / f"img{i}.png")
    ...     ds = load(d)
    >>> ds.x.shape, ds.image_shape, ds.x[1, :3].tolist()
    ((2, 18), (2, 3, 3), [0.2, 0.2, 0.2])
    """
    p = _existing(path)
    lim = _check_options(scale, flatten, limit)
    check_choice(color, "color", _COLORS)
    if key is not None and not isinstance(key, str):
        raise ValueError(f"key must be the name of an array in the .npz archive, got {key!r}")
    if value_range is not None:
        _check_range(value_range)
    raw, labels = _read(p, key, color, lim)
    return _finish(
        raw,
        labels,
        str(p),
        scale=scale,
        flatten=bool(flatten),
        limit=lim,
        value_range=value_range,
        natural=_natural_range(np.asarray(raw)),
    )


def digits(*, scale: str = "[0,1]", flatten: bool = True, limit: int | None = None) -> Dataset:
    r"""Scikit-learn's bundled handwritten digits: 1,797 images of 8 x 8 pixels, no download.

    The UCI optical digits as shipped by :func:`sklearn.datasets.load_digits`: each pixel is a
    count from 0 to 16 (of the 4 x 4 blocks of a 32 x 32 bitmap that are on), so the raw range
    mapped onto ``scale`` is ``[0, 16]``; ``labels`` are the digits 0-9. Needs the ``digits``
    extra (``pip install "diffmem-theory[digits]"``).

    Parameters
    ----------
    scale : {"[0,1]", "[-1,1]", "none"}, default "[0,1]"
        As in :func:`load`: ``x = raw / 16``, ``raw / 8 - 1`` or the raw counts.
    flatten : bool, default True
        ``x`` of shape ``(N, 64)``; False keeps ``(N, 8, 8)``.
    limit : int, optional
        Keep only the first ``limit`` images.

    Returns
    -------
    Dataset
        ``image_shape = (8, 8)``, ``labels``, ``source = "sklearn.datasets.load_digits"``.

    Raises
    ------
    ImportError
        If scikit-learn is not installed; the message names the extra.

    See Also
    --------
    load : the same for a user's files.
    split : a seeded train / held-out split.

    Examples
    --------
    >>> ds = digits(scale="[-1,1]", flatten=False)
    >>> ds.x.shape, float(ds.x.min()), float(ds.x.max()), ds.value_range
    ((1797, 8, 8), -1.0, 1.0, (0.0, 16.0))
    """
    lim = _check_options(scale, flatten, limit)
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:
        raise ImportError(
            "diffmem_theory.data.digits needs scikit-learn, the 'digits' extra: "
            'pip install "diffmem-theory[digits]"'
        ) from err
    bunch = load_digits()
    return _finish(
        bunch.images,
        np.asarray(bunch.target, dtype=np.int64),
        "sklearn.datasets.load_digits",
        scale=scale,
        flatten=bool(flatten),
        limit=lim,
        value_range=None,
        natural=(0.0, 16.0),
    )


def split(data: Dataset | ArrayLike, held_out: float | int = 0.2, seed: Any = 0) -> tuple[Any, Any]:
    r"""A seeded random split of the samples into a training set and a held-out set.

    ``perm = default_rng(seed).permutation(N)``; the first ``n_held`` indices of ``perm`` are
    held out, the rest train, each part kept in the original order. ``n_held`` is
    ``floor(held_out N + 1/2)`` for a fraction (rounded half up), or ``held_out`` itself for an
    integer; both parts must be non-empty. The same ``seed`` gives the same split; the two parts
    are disjoint and together hold every sample once.

    Parameters
    ----------
    data : Dataset or array_like
        The samples along the first axis (a :class:`Dataset` is split with its labels).
    held_out : float or int, default 0.2
        The held-out fraction, ``0 < held_out < 1``, or their number, ``1 <= held_out < N``.
    seed : int or numpy.random.Generator, default 0
        The seed of the permutation.

    Returns
    -------
    train, held : Dataset or ndarray
        Of the type of ``data``.

    Raises
    ------
    ValueError
        If ``data`` has fewer than 2 samples, or ``held_out`` leaves a part empty.
    TypeError
        If ``seed`` is neither an integer nor a Generator.

    See Also
    --------
    load, digits : the data sets to split.

    Examples
    --------
    >>> train, held = split(np.arange(10), held_out=0.3, seed=1)
    >>> train.tolist(), held.tolist()
    ([0, 1, 2, 3, 5, 6, 9], [4, 7, 8])
    """
    x = data.x if isinstance(data, Dataset) else np.asarray(data)
    if x.ndim < 1 or x.shape[0] < 2:
        raise ValueError(
            f"data must hold at least 2 samples along its first axis to split, got shape {x.shape}"
        )
    n = int(x.shape[0])
    if isinstance(held_out, (int, np.integer)) and not isinstance(held_out, bool):
        n_held = check_int(held_out, "held_out", low=1, high=n - 1)
    else:
        frac = check_scalar(held_out, "held_out", low=0.0, high=1.0, low_open=True, high_open=True)
        n_held = int(np.floor(frac * n + 0.5))
        if not 1 <= n_held <= n - 1:
            raise ValueError(
                f"held_out={frac!r} of {n} samples holds out {n_held}; both parts must be "
                f"non-empty (held_out * N between 1 and N - 1)"
            )
    perm = as_rng(seed, "seed").permutation(n)
    held_idx, train_idx = np.sort(perm[:n_held]), np.sort(perm[n_held:])
    if not isinstance(data, Dataset):
        return x[train_idx], x[held_idx]

    def part(idx: np.ndarray) -> Dataset:
        labels = None if data.labels is None else data.labels[idx]
        return dataclasses.replace(data, x=data.x[idx], labels=labels)

    return part(train_idx), part(held_idx)
