r"""Save a trained network to one file and load it back without knowing its architecture.

The file holds a one-line JSON header (the architecture of :func:`~diffmem_theory.nn.mlp`:
``data_dim``, ``width``, ``depth``, ``prediction``, ``n_fourier``, ``learn_fourier``,
``dtype``; optionally the schedule it was trained on and the user's metadata) followed by the
network's arrays as written by Equinox's ``tree_serialise_leaves`` (NumPy ``.npy`` records,
no pickle). :func:`load` rebuilds the network from the header and reads the arrays into it:
the same weights bit for bit, so the same outputs. :func:`save` writes to a temporary file
in the same directory and renames it over ``path`` (atomic: a reader never sees half a
file).

>>> import os, tempfile
>>> import jax
>>> import numpy as np
>>> from diffmem_theory.nn.models import mlp
>>> net = mlp(3, 8, 2, key=jax.random.key(0), prediction="eps")
>>> path = os.path.join(tempfile.mkdtemp(), "net.eqx")
>>> save(path, net, schedule="VPTrig")
>>> again = load(path)
>>> again.prediction, bool(np.array_equal(again(np.ones((2, 3)), 0.5), net(np.ones((2, 3)), 0.5)))
('eps', True)
>>> read_header(path)["schedule"]
'VPTrig(T=1.0)'
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import numpy as np

from diffmem_theory._validation import check_choice
from diffmem_theory.core.schedules import Schedule, as_schedule
from diffmem_theory.nn.models import MLP, NN_PREDICTIONS, mlp

__all__ = ["FORMAT", "load", "read_header", "save"]

#: The ``format`` field of the header: what kind of file this is, and its version.
FORMAT = "diffmem_theory.nn.MLP/1"

_MAX_HEADER = 1 << 16  # bytes: a header is a few hundred
_FIELDS = ("data_dim", "width", "depth", "prediction", "n_fourier", "learn_fourier", "dtype")


def _architecture(model: MLP) -> dict[str, Any]:
    """The header fields of a network built by :func:`mlp` (``ValueError`` for any other)."""
    hidden = [layer.out_features for layer in model.layers[:-1]]
    arch = {
        "data_dim": int(model.data_dim),
        "width": int(hidden[0]) if hidden else 0,
        "depth": len(hidden),
        "prediction": model.prediction,
        "n_fourier": 2 * int(model.time_features.frequencies.shape[0]),
        "learn_fourier": bool(model.time_features.learnable),
        "dtype": str(np.dtype(model.layers[0].weight.dtype)),
    }
    if not hidden or _shapes(_skeleton(arch)) != _shapes(model):
        raise ValueError(
            "model must be a network built by nn.mlp (depth >= 1 hidden layers of one width, "
            "biased linear layers, one dtype); this MLP has another structure"
        )
    return arch


def _is_array(leaf: Any) -> bool:
    """An array leaf, or the shape of one (``jax.ShapeDtypeStruct``)."""
    return eqx.is_array(leaf) or isinstance(leaf, jax.ShapeDtypeStruct)


def _shapes(model: Any) -> tuple[Any, list[tuple[tuple[int, ...], str]]]:
    """The tree structure and the (shape, dtype) of each array of a network or a skeleton."""
    leaves, treedef = jax.tree_util.tree_flatten(eqx.filter(model, _is_array))
    return treedef, [(tuple(leaf.shape), str(leaf.dtype)) for leaf in leaves]


def _skeleton(arch: dict[str, Any]) -> MLP:
    """A network of architecture ``arch`` whose arrays are shapes only (nothing computed)."""
    return eqx.filter_eval_shape(
        mlp,
        arch["data_dim"],
        arch["width"],
        arch["depth"],
        key=jax.random.key(0),
        prediction=arch["prediction"],
        n_fourier=arch["n_fourier"],
        learn_fourier=arch["learn_fourier"],
        dtype=arch["dtype"],
    )


def save(
    path: str | os.PathLike[str],
    model: MLP,
    *,
    schedule: Schedule | str | None = None,
    metadata: dict[str, Any] | None = None,
) -> None:
    r"""Write a network built by :func:`~diffmem_theory.nn.mlp` to one file, atomically.

    The file: one line of JSON (``format`` :data:`FORMAT`, the architecture ``data_dim``,
    ``width``, ``depth``, ``prediction``, ``n_fourier``, ``learn_fourier``, ``dtype``, the
    ``schedule`` as its ``repr`` or ``null``, and ``metadata``), then the arrays of the
    network (weights, biases, Fourier frequencies) in Equinox's ``tree_serialise_leaves``
    format. The data go to a temporary file beside ``path`` that is then renamed over it, so
    ``path`` holds either the old file or the complete new one.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write (its directory must exist); an existing file is replaced.
    model : MLP
        The network (e.g. ``nn.train(...).ema``).
    schedule : Schedule or str, optional
        The schedule the network was trained on, recorded so that
        :func:`diffmem_theory.audit.models.resolve_model` can refuse another one.
    metadata : dict, optional
        Anything JSON-serializable to keep with the network (epochs, data set, ...).

    Raises
    ------
    TypeError
        If ``model`` is not an :class:`~diffmem_theory.nn.models.MLP`, ``metadata`` is not a
        JSON-serializable dict, or ``schedule`` is not a schedule.
    ValueError
        If ``model`` was not built by :func:`~diffmem_theory.nn.mlp` (another structure),
        the directory of ``path`` does not exist, ``path`` is a directory or cannot be
        written.

    See Also
    --------
    load : Reads it back.
    read_header : The header alone.

    Examples
    --------
    >>> import os, tempfile
    >>> import jax
    >>> from diffmem_theory.nn.models import mlp
    >>> path = os.path.join(tempfile.mkdtemp(), "net.eqx")
    >>> save(path, mlp(2, 4, 1, key=jax.random.key(0)), metadata={"epochs": 10})
    >>> header = read_header(path)
    >>> header["width"], header["depth"], header["metadata"]
    (4, 1, {'epochs': 10})
    """
    if not isinstance(model, MLP):
        hint = " (save its .ema or .model)" if hasattr(model, "ema") else ""
        raise TypeError(
            f"model must be an nn.MLP (built by nn.mlp), got {type(model).__name__}{hint}"
        )
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict or None, got {type(metadata).__name__}")
    header = {
        "format": FORMAT,
        **_architecture(model),
        "schedule": None if schedule is None else repr(as_schedule(schedule)),
        "metadata": metadata,
    }
    try:
        line = json.dumps(header, allow_nan=False).encode() + b"\n"
    except (TypeError, ValueError) as err:
        raise TypeError(f"metadata must be JSON-serializable, got {metadata!r:.80}: {err}") from err
    target = Path(path)
    if not target.parent.is_dir():
        raise ValueError(
            f"path {str(target)!r}: its directory {str(target.parent)!r} does not exist"
        )
    if target.is_dir():
        raise ValueError(f"path {str(target)!r} is a directory, not a file name")
    # a fresh name beside the target, created with the user's umask (mkstemp would make it 0600)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "xb") as f:
            f.write(line)
            eqx.tree_serialise_leaves(f, model)
        os.replace(tmp, target)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise ValueError(f"cannot write the network to {str(target)!r}: {err}") from err
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    r"""The JSON header of a file written by :func:`save`, validated.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    dict
        ``format``, ``data_dim``, ``width``, ``depth``, ``prediction``, ``n_fourier``,
        ``learn_fourier``, ``dtype``, ``schedule`` (a ``repr`` or ``None``), ``metadata``.

    Raises
    ------
    ValueError
        If ``path`` does not exist or is not a file written by :func:`save` (the message
        names the file and what is wrong).

    See Also
    --------
    save, load

    Examples
    --------
    >>> import os, tempfile
    >>> bad = os.path.join(tempfile.mkdtemp(), "notes.txt")
    >>> with open(bad, "w") as f:
    ...     _ = f.write("hello")
    >>> read_header(bad)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: ...notes.txt' is not a network saved by diffmem_theory.nn.save: ...
    """
    with _open(path) as f:
        return _header(f, path)


def _open(path: str | os.PathLike[str]) -> Any:
    try:
        return open(path, "rb")  # closed by the caller's with
    except OSError as err:
        raise ValueError(f"cannot read the network file {str(path)!r}: {err}") from err


def _header(f: Any, path: str | os.PathLike[str]) -> dict[str, Any]:
    def bad(why: str) -> ValueError:
        return ValueError(f"{str(path)!r} is not a network saved by diffmem_theory.nn.save: {why}")

    line = f.readline(_MAX_HEADER)
    try:
        header = json.loads(line.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise bad("its first line is not a JSON header") from err
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else None
        raise bad(f"the header's format is {found!r}, expected {FORMAT!r}")
    missing = [key for key in _FIELDS if key not in header]
    if missing:
        raise bad(f"the header lacks {missing}")
    for key in ("data_dim", "width", "depth", "n_fourier"):
        value = header[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise bad(f"the header's {key} must be a positive integer, got {value!r}")
    if header["dtype"] not in ("float32", "float64") or not isinstance(
        header["learn_fourier"], bool
    ):
        raise bad(
            f"the header's dtype/learn_fourier are {header['dtype']!r}/{header['learn_fourier']!r}"
        )
    try:
        check_choice(header["prediction"], "prediction", NN_PREDICTIONS)
    except ValueError as err:
        raise bad(f"the header's {err}") from err
    return header


def load(path: str | os.PathLike[str]) -> MLP:
    r"""A network saved by :func:`save`, rebuilt from its header with the saved arrays.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    MLP
        Bit-identical arrays, hence bit-identical outputs, to the network saved.

    Raises
    ------
    ValueError
        If ``path`` cannot be read, is not a file written by :func:`save`, is truncated or
        holds arrays that do not fit its header (each message names the file), or holds a
        float64 network while JAX's 64-bit mode is off.

    See Also
    --------
    save, read_header
    diffmem_theory.nn.as_denoiser : The loaded network as a ``core`` denoiser.

    Examples
    --------
    >>> import os, tempfile
    >>> import jax
    >>> from diffmem_theory.nn.models import mlp, parameter_count
    >>> path = os.path.join(tempfile.mkdtemp(), "net.eqx")
    >>> save(path, mlp(2, 16, 3, key=jax.random.key(1)))
    >>> parameter_count(load(path))
    758
    """
    with _open(path) as f:
        header = _header(f, path)
        try:
            skeleton = _skeleton(header)
        except ValueError as err:
            raise ValueError(f"cannot rebuild the network of {str(path)!r}: {err}") from err
        try:
            model = eqx.tree_deserialise_leaves(f, skeleton)
        except (ValueError, OSError, EOFError, TypeError, RuntimeError) as err:
            # equinox wraps the reader's error with the leaf's path (TreePathError)
            cause: BaseException = err
            while cause.__cause__ is not None:
                cause = cause.__cause__
            raise ValueError(
                f"{str(path)!r}: the network's arrays are truncated, corrupt or do not fit its "
                f"header ({cause})"
            ) from err
        if _shapes(model) != _shapes(skeleton) or f.read(1):
            raise ValueError(
                f"{str(path)!r}: the network's arrays do not fit its header (data_dim "
                f"{header['data_dim']}, width {header['width']}, depth {header['depth']})"
            )
    return model
