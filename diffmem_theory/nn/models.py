r"""MLP score and denoiser networks with Fourier time features (Equinox).

The network of Baptista et al. (paper 002, Sec. 5.3) and the ReLU MLPs of paper 003 (Sec. 6):
the time ``t`` enters through random Fourier features
``gamma(t) = [sin(2 pi w_1 t), ..., sin(2 pi w_K t), cos(2 pi w_1 t), ..., cos(2 pi w_K t)]``
(Tancik et al., 2020; Song et al., 2021), concatenated with ``x`` before the first hidden
layer; ``depth`` hidden ReLU layers of one ``width`` follow, and a linear read-out returns a
prediction in the units ``prediction`` (``"x0"``, ``"eps"`` or ``"score"``).

A model is called ``model(x, t)`` with ``x`` of shape ``(..., d)`` and ``t`` a scalar or of
shape ``x.shape[:-1]``; it is a pure JAX function (``jax.jit``/``jax.grad`` apply).
:func:`numpy_callable` makes a NumPy-in, NumPy-out callable of it and
:func:`diffmem_theory.nn.as_denoiser` a :class:`~diffmem_theory.core.denoisers.Denoiser`.

>>> import jax
>>> net = mlp(2, 16, 3, key=jax.random.key(0))
>>> net.prediction, parameter_count(net), net(np.zeros((5, 2)), 0.5).shape
('score', 758, (5, 2))
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from diffmem_theory._validation import (
    check_allocation,
    check_bool,
    check_choice,
    check_int,
    check_scalar,
)

__all__ = [
    "MLP",
    "NN_PREDICTIONS",
    "FourierFeatures",
    "NumpyModel",
    "check_model_dtype",
    "mlp",
    "numpy_callable",
    "paper_002_network",
    "paper_002_parameter_count",
    "parameter_count",
]

#: The units a network of this package predicts in.
NN_PREDICTIONS = ("x0", "eps", "score")


def check_model_dtype(dtype: Any) -> jnp.dtype:
    """The float dtype of a network: float32, or float64 when JAX's x64 mode is on.

    Parameters
    ----------
    dtype : dtype-like
        ``np.float32`` or ``np.float64``.

    Returns
    -------
    numpy.dtype

    Raises
    ------
    ValueError
        Another dtype, or float64 while ``jax_enable_x64`` is off (JAX would silently
        compute in float32).

    Examples
    --------
    >>> check_model_dtype("float32")
    dtype('float32')
    """
    try:
        dt = np.dtype(dtype)
    except TypeError as err:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}") from err
    if dt not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dt}")
    if dt == np.float64 and not jax.config.jax_enable_x64:
        raise ValueError(
            "dtype float64 needs JAX's 64-bit mode: call jax.config.update('jax_enable_x64', "
            "True) (or use `with jax.enable_x64(True):`) before building the network"
        )
    return dt


class FourierFeatures(eqx.Module):
    r"""Random Fourier features of time: ``[sin(2 pi w t), cos(2 pi w t)]``.

    ``w`` holds ``n_features / 2`` frequencies drawn from ``N(0, scale^2)`` (Song et al.,
    2021, ``GaussianFourierProjection``); with ``learnable=True`` (paper 002, Sec. 5.3:
    "eight random Fourier features with learnable weights") they are trained with the
    network, else they are held fixed (``stop_gradient``) and not counted as parameters.

    Parameters
    ----------
    n_features : int
        Even, ``>= 2``: the length of the embedding.
    scale : float
        Standard deviation of the frequencies, ``> 0``.
    learnable : bool
        Whether the frequencies are trained.
    key : jax.random key
        Draws the frequencies.
    dtype : dtype-like, default float32

    Examples
    --------
    >>> ff = FourierFeatures(8, 1.0, True, key=jax.random.key(0))
    >>> ff(0.3).shape, ff(0.0)[4:].tolist()      # cos(0) = 1
    ((8,), [1.0, 1.0, 1.0, 1.0])
    """

    frequencies: jax.Array
    learnable: bool = eqx.field(static=True)

    def __init__(
        self, n_features: int, scale: float, learnable: bool, *, key: Any, dtype: Any = np.float32
    ) -> None:
        n = check_int(n_features, "n_features", low=2)
        if n % 2:
            raise ValueError(f"n_features must be even (sin and cos pairs), got {n}")
        scale = float(check_scalar(scale, "scale", low=0.0, low_open=True))
        dt = check_model_dtype(dtype)
        check_allocation(n // 2, f"n_features = {n} Fourier features", itemsize=dt.itemsize)
        self.frequencies = scale * jax.random.normal(key, (n // 2,), dtype=dt)
        self.learnable = check_bool(learnable, "learnable")

    def __call__(self, t: jax.Array) -> jax.Array:
        """The embedding of a scalar ``t``, shape ``(n_features,)``."""
        w = self.frequencies if self.learnable else jax.lax.stop_gradient(self.frequencies)
        arg = 2.0 * jnp.pi * w * t
        return jnp.concatenate([jnp.sin(arg), jnp.cos(arg)])


class MLP(eqx.Module):
    r"""A ReLU MLP ``(x, t) -> prediction`` with Fourier time features; build it with :func:`mlp`.

    ``h_0 = [x, gamma(t)]``, ``h_l = ReLU(A_l h_{l-1} + b_l)`` for ``l = 1..depth`` (widths
    ``width``), output ``A_{depth+1} h_depth + b_{depth+1}`` in units ``prediction``.

    Attributes
    ----------
    time_features : FourierFeatures
    layers : tuple of equinox.nn.Linear
        ``depth + 1`` affine maps.
    prediction : str
        ``"x0"``, ``"eps"`` or ``"score"``.
    data_dim : int
        ``d``.

    Examples
    --------
    >>> net = mlp(3, 8, 2, key=jax.random.key(1), prediction="eps")
    >>> net(np.ones(3), 0.1).shape, net(np.ones((4, 3)), np.full(4, 0.1)).shape
    ((3,), (4, 3))
    """

    time_features: FourierFeatures
    layers: tuple[eqx.nn.Linear, ...]
    prediction: str = eqx.field(static=True)
    data_dim: int = eqx.field(static=True)

    def _single(self, x: jax.Array, t: jax.Array) -> jax.Array:
        h = jnp.concatenate([x, self.time_features(t).astype(x.dtype)])
        for layer in self.layers[:-1]:
            h = jax.nn.relu(layer(h))
        return self.layers[-1](h)

    def __call__(self, x: ArrayLike, t: ArrayLike) -> jax.Array:
        """The prediction at ``x`` of shape ``(..., d)`` and ``t`` scalar or ``x.shape[:-1]``."""
        dtype = self.layers[0].weight.dtype
        x = jnp.asarray(x, dtype=dtype)
        if x.ndim == 0 or x.shape[-1] != self.data_dim:
            raise ValueError(
                f"x must have shape (..., {self.data_dim}) for this network, got {x.shape}"
            )
        t = jnp.broadcast_to(jnp.asarray(t, dtype=dtype), x.shape[:-1])
        flat = jax.vmap(self._single)(x.reshape(-1, self.data_dim), t.reshape(-1))
        return flat.reshape(x.shape)


def mlp(
    data_dim: int,
    width: int,
    depth: int,
    *,
    key: Any,
    prediction: str = "score",
    n_fourier: int = 8,
    fourier_scale: float = 1.0,
    learn_fourier: bool = True,
    dtype: Any = np.float32,
) -> MLP:
    r"""A ReLU MLP of ``depth`` hidden layers of one ``width``, with Fourier time features.

    Parameter count (:func:`parameter_count`): with ``E = n_fourier`` features,
    ``(d + E) w + w`` (first layer) ``+ (depth - 1)(w^2 + w)`` (hidden to hidden)
    ``+ w d + d`` (read-out) ``+ E/2`` (frequencies, when ``learn_fourier``).

    Parameters
    ----------
    data_dim : int
        The dimension ``d >= 1`` of ``x``.
    width : int
        Neurons per hidden layer, ``>= 1``.
    depth : int
        Hidden layers, ``>= 1`` (paper 002's network: 3; paper 003's class F(W, L, N):
        ``L - 1`` hidden layers of widths ``<= W``).
    key : jax.random key
        Initialization (Equinox's default: uniform ``+-1/sqrt(fan_in)``).
    prediction : {"score", "eps", "x0"}
        The unit of the output.
    n_fourier : int, default 8
        Length of the time embedding (even).
    fourier_scale : float, default 1.0
        Standard deviation of the Fourier frequencies.
    learn_fourier : bool, default True
        Train the frequencies (paper 002, Sec. 5.3).
    dtype : float32 (default) or float64
        float64 requires JAX's x64 mode (else ``ValueError``).

    Returns
    -------
    MLP

    See Also
    --------
    paper_002_network : Paper 002's configuration.
    parameter_count : Its trainable parameters.

    References
    ----------
    Baptista et al. (paper 002), Sec. 5.3; paper 003, Def. 3.2 (ReLU class) and Sec. 6.

    Examples
    --------
    >>> net = mlp(2, 32, 3, key=jax.random.key(0))
    >>> parameter_count(net)
    2534
    >>> mlp(2, 0, 3, key=jax.random.key(0))
    Traceback (most recent call last):
    ...
    ValueError: width must be >= 1, got 0
    """
    d = check_int(data_dim, "data_dim", low=1)
    w = check_int(width, "width", low=1)
    depth = check_int(depth, "depth", low=1)
    check_choice(prediction, "prediction", NN_PREDICTIONS)
    n_fourier = check_int(n_fourier, "n_fourier", low=2)
    if n_fourier % 2:
        raise ValueError(f"n_fourier must be even (sin and cos pairs), got {n_fourier}")
    check_scalar(fourier_scale, "fourier_scale", low=0.0, low_open=True)
    dt = check_model_dtype(dtype)
    # weights and biases: input layer, depth - 1 hidden-to-hidden layers, read-out
    n_params = (d + n_fourier + 1) * w + (depth - 1) * (w + 1) * w + (w + 1) * d
    what = f"an MLP of data_dim {d}, width {w}, depth {depth}, n_fourier {n_fourier}"
    check_allocation(n_params, what, itemsize=dt.itemsize)
    k_time, *k_layers = jax.random.split(key, depth + 2)
    time_features = FourierFeatures(n_fourier, fourier_scale, learn_fourier, key=k_time, dtype=dt)
    sizes = [d + n_fourier] + [w] * depth + [d]
    layers = tuple(
        eqx.nn.Linear(n_in, n_out, key=k, dtype=dt)
        for n_in, n_out, k in zip(sizes[:-1], sizes[1:], k_layers, strict=True)
    )
    return MLP(time_features, layers, prediction, d)


def paper_002_network(
    width: int, *, key: Any, prediction: str = "score", dtype: Any = np.float32
) -> MLP:
    r"""Paper 002's score network: d = 2, three hidden ReLU layers, 8 learnable Fourier features.

    Baptista et al. (paper 002), Sec. 5.3, and the authors' code: ``Linear(10, w)``-ReLU-
    ``Linear(w, w)``-ReLU-``Linear(w, w)``-ReLU-``Linear(w, 2)`` on ``[x, gamma(t)]`` with
    ``gamma`` 8 Fourier features of 4 frequencies ``~ N(0, 1)``. The text says "two hidden
    layers"; the code (and the parameter counts, :func:`paper_002_parameter_count`) have three.

    Parameters
    ----------
    width : int
        Neurons per hidden layer (the paper: 8, 32, 128, 256).
    key : jax.random key
    prediction : {"score", "eps", "x0"}
        ``"score"`` for the objective J_0^N, ``"eps"`` for I_0^N (the network
        ``s~ = sigma s = -eps``).
    dtype : float32 (default) or float64

    Returns
    -------
    MLP

    References
    ----------
    Baptista et al. (paper 002), Sec. 5.3.

    Examples
    --------
    >>> parameter_count(paper_002_network(8, key=jax.random.key(0)))
    254
    """
    return mlp(2, width, 3, key=key, prediction=prediction, dtype=dtype)


def parameter_count(model: Any) -> int:
    r"""The number of trainable scalars of a network (fixed Fourier frequencies excluded).

    Parameters
    ----------
    model : equinox.Module
        A network of this module (or any Equinox module: its inexact array leaves).

    Returns
    -------
    int

    See Also
    --------
    paper_002_parameter_count : The count as paper 002 prints it.

    Examples
    --------
    >>> parameter_count(mlp(1, 4, 1, key=jax.random.key(0), learn_fourier=False))
    45
    """
    if isinstance(model, MLP) and not model.time_features.learnable:
        model = eqx.tree_at(lambda m: m.time_features.frequencies, model, None)
    leaves = jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_inexact_array))
    return int(sum(leaf.size for leaf in leaves))


def paper_002_parameter_count(width: int) -> int:
    r"""Paper 002's printed parameter count of its width-``w`` network: ``4 w^2 + 30 w + 12``.

    Paper 002 (Sec. 5.3, Fig. 10) prints 508, 5,068 and 69,388 parameters for widths 8, 32 and
    128. The network of :func:`paper_002_network` has
    ``10 w + w + 2 (w^2 + w) + 2 w + 2 + 4 = 2 w^2 + 15 w + 6`` trainable scalars (first
    layer on ``[x, gamma(t)]`` of length 2 + 8, two hidden-to-hidden layers, the read-out, and
    the 4 *learnable* Fourier frequencies -- with fixed frequencies no count of the form
    ``k (2 w^2 + 15 w + 2)`` reproduces all three numbers). The printed counts are exactly
    twice this, ``4 w^2 + 30 w + 12``: our reading (the paper does not say) is that they count
    the network together with its EMA copy, which the authors' code keeps for sampling.

    Parameters
    ----------
    width : int
        Neurons per hidden layer, ``>= 1``.

    Returns
    -------
    int
        ``2 * parameter_count(paper_002_network(width))``.

    References
    ----------
    Baptista et al. (paper 002), Sec. 5.3 and Fig. 10.

    Examples
    --------
    >>> [paper_002_parameter_count(w) for w in (8, 32, 128)]
    [508, 5068, 69388]
    """
    w = check_int(width, "width", low=1)
    return 2 * parameter_count(paper_002_network(w, key=jax.random.key(0)))


class NumpyModel:
    r"""A network as a NumPy callable ``f(x, t) -> ndarray`` in its ``prediction`` unit.

    The forward pass is jitted once; inputs are cast to the network's dtype, outputs returned
    as float64 NumPy arrays. ``prediction`` is kept, so that
    ``core.denoisers.as_denoiser(f, schedule, prediction=f.prediction)`` and
    ``core.dynamics.solve(f, ...)`` read the unit from it.

    Parameters
    ----------
    model : MLP
        The network.

    Examples
    --------
    >>> f = NumpyModel(mlp(2, 4, 1, key=jax.random.key(0), prediction="eps"))
    >>> out = f(np.zeros((3, 2)), 0.5)
    >>> type(out).__name__, out.dtype, out.shape, f.prediction
    ('ndarray', dtype('float64'), (3, 2), 'eps')
    """

    def __init__(self, model: MLP) -> None:
        if not isinstance(model, MLP):
            raise TypeError(f"model must be an nn.models.MLP, got {type(model).__name__}")
        self.model = model
        self.prediction = model.prediction
        self._forward = eqx.filter_jit(lambda m, x, t: m(x, t))

    def __repr__(self) -> str:
        return f"NumpyModel(prediction={self.prediction!r}, data_dim={self.model.data_dim})"

    def __call__(self, x: ArrayLike, t: ArrayLike) -> np.ndarray:
        """The prediction at ``(x, t)`` as a float64 ``ndarray`` shaped like ``x``."""
        return np.asarray(self._forward(self.model, np.asarray(x), np.asarray(t)), np.float64)


def numpy_callable(model: MLP) -> NumpyModel:
    r"""The network as a NumPy callable ``f(x, t)`` with its ``prediction`` attribute.

    Parameters
    ----------
    model : MLP

    Returns
    -------
    NumpyModel

    See Also
    --------
    diffmem_theory.nn.as_denoiser : The network as a ``core`` denoiser.

    Examples
    --------
    >>> f = numpy_callable(mlp(2, 4, 1, key=jax.random.key(0)))
    >>> f(np.zeros((1, 2)), 0.3).shape
    (1, 2)
    """
    return NumpyModel(model)
