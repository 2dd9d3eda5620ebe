r"""A trained network as a denoiser of :mod:`diffmem_theory.core`.

:func:`as_denoiser` wraps a network of :mod:`diffmem_theory.nn.models` as a
:class:`~diffmem_theory.core.denoisers.Denoiser`: the samplers
(:func:`~diffmem_theory.core.dynamics.solve`, every method), the Monte Carlo losses of
:mod:`diffmem_theory.core.losses` and the metrics take it unchanged.

>>> import jax
>>> import numpy as np
>>> from diffmem_theory.core.schedules import VPTrig
>>> from diffmem_theory.nn.models import mlp
>>> den = as_denoiser(mlp(2, 4, 1, key=jax.random.key(0), prediction="eps"), VPTrig())
>>> den.prediction, den(np.zeros((3, 2)), 0.5).shape
('eps', (3, 2))
"""

from __future__ import annotations

from diffmem_theory.core.denoisers import Denoiser
from diffmem_theory.core.denoisers import as_denoiser as core_as_denoiser
from diffmem_theory.core.schedules import Schedule
from diffmem_theory.nn.models import MLP, numpy_callable

__all__ = ["as_denoiser"]


def as_denoiser(model: MLP, schedule: Schedule | str) -> Denoiser:
    r"""The network as a ``core`` :class:`~diffmem_theory.core.denoisers.Denoiser`.

    ``core.denoisers.as_denoiser(numpy_callable(model), schedule,
    prediction=model.prediction)``: calling it gives the x0-prediction (Tweedie,
    ``x0 = (x + sigma^2 s)/alpha`` for a score network, ``(x - sigma eps)/alpha`` for an eps
    network), ``predict(x, t, unit)`` any unit, all as float64 NumPy arrays.

    Parameters
    ----------
    model : MLP
        A (trained) network.
    schedule : Schedule or str
        The schedule it was trained on.

    Returns
    -------
    Denoiser

    See Also
    --------
    diffmem_theory.nn.models.numpy_callable : The NumPy callable in the network's own unit.
    diffmem_theory.core.dynamics.solve : Sampling with it.

    Examples
    --------
    >>> import jax
    >>> import numpy as np
    >>> from diffmem_theory.core.dynamics import solve
    >>> from diffmem_theory.core.schedules import VPTrig
    >>> from diffmem_theory.nn.models import mlp
    >>> net = mlp(2, 4, 1, key=jax.random.key(0))
    >>> out = solve(as_denoiser(net, VPTrig()), VPTrig(), np.ones((3, 2)), [0.9, 0.5, 0.1])
    >>> out.final.shape
    (3, 2)
    """
    return core_as_denoiser(numpy_callable(model), schedule, prediction=model.prediction)
