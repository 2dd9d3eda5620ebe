r"""The optimizer of Buchanan et al. (paper 000), App. H.1: Adam with a warmup-decay schedule, EMA.

Full-batch Adam (one step per epoch) with the learning rate rising linearly from 0 to ``peak``
(1e-3) over the first ``warmup`` fraction (1/10) of the steps and then falling linearly to
``final`` (1e-6). Parameters are one flat float array (the trainers pack their parameters), so
the state is three arrays and a step counter -- trivially checkpointed
(:meth:`AdamState.to_arrays` / :meth:`AdamState.from_arrays`).

>>> import numpy as np
>>> opt = Adam(WarmupDecay(n_steps=100))
>>> x = np.array([3.0, -2.0])
>>> state = opt.init(x)
>>> for _ in range(100):
...     x, state = opt.step(x, 2 * x, state)   # gradient of |x|^2
>>> bool(np.all(np.abs(x) < np.array([3.0, 2.0])))
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffmem_theory._validation import as_float_array, check_callable, check_int, check_scalar

__all__ = ["Adam", "AdamState", "WarmupDecay", "ema_update"]


@dataclass(frozen=True)
class WarmupDecay:
    r"""Linear warmup then linear decay of the learning rate (paper 000, App. H.1).

    ``lr(k) = peak k / n_warm`` for ``k < n_warm = round(warmup n_steps)``, then linear from
    ``peak`` at ``k = n_warm`` to ``final`` at ``k = n_steps - 1``. The paper: ``peak = 1e-3``,
    ``final = 1e-6``, ``warmup = 1/10`` of 50,000 (GMM) or 100,000 (image model) epochs.

    Parameters
    ----------
    n_steps : int
        The number of optimizer steps, ``>= 1``.
    peak : float, default 1e-3
        The largest learning rate, ``> 0``.
    final : float, default 1e-6
        The last learning rate, ``0 <= final <= peak``.
    warmup : float, default 0.1
        The fraction of the steps spent warming up, in ``[0, 1]``.

    See Also
    --------
    Adam : Takes it as ``lr``.

    References
    ----------
    Buchanan et al. (paper 000), App. H.1.

    Examples
    --------
    >>> sched = WarmupDecay(n_steps=21, warmup=0.1)
    >>> [float(f"{sched(k):.3g}") for k in (0, 1, 2, 20)]
    [0.0, 0.0005, 0.001, 1e-06]
    """

    n_steps: int
    peak: float = 1e-3
    final: float = 1e-6
    warmup: float = 0.1

    def __post_init__(self) -> None:
        check_int(self.n_steps, "n_steps", low=1)
        check_scalar(self.peak, "peak", low=0.0, low_open=True)
        check_scalar(self.final, "final", low=0.0, high=self.peak)
        check_scalar(self.warmup, "warmup", low=0.0, high=1.0)

    @property
    def n_warm(self) -> int:
        r"""The number of warmup steps, ``round(warmup n_steps)``."""
        return round(self.warmup * self.n_steps)

    def __call__(self, k: int) -> float:
        n_warm, n = self.n_warm, self.n_steps
        if k < n_warm:
            return self.peak * k / n_warm
        span = max(n - 1 - n_warm, 1)
        frac = min(max((k - n_warm) / span, 0.0), 1.0)
        return self.peak + (self.final - self.peak) * frac


@dataclass
class AdamState:
    r"""Adam's first and second moment estimates and the number of steps taken.

    Parameters
    ----------
    m : array_like
        First moment estimate (finite floats).
    v : array_like
        Second moment estimate, shaped like ``m``, ``v >= 0``.
    count : int, default 0
        Steps taken, ``>= 0``.

    See Also
    --------
    Adam.init, Adam.step

    Examples
    --------
    >>> import numpy as np
    >>> s = AdamState(np.zeros(2), np.zeros(2), 3)
    >>> AdamState.from_arrays(s.to_arrays()).count
    3
    """

    m: np.ndarray
    v: np.ndarray
    count: int = 0

    def __post_init__(self) -> None:
        self.m = as_float_array(self.m, "AdamState.m")
        self.v = as_float_array(self.v, "AdamState.v")
        if self.v.shape != self.m.shape:
            raise ValueError(
                f"AdamState.v has shape {self.v.shape} but AdamState.m has {self.m.shape}"
            )
        if np.any(self.v < 0):
            raise ValueError("AdamState.v is a second moment and must be >= 0")
        self.count = check_int(self.count, "AdamState.count", low=0)

    def to_arrays(self) -> dict[str, np.ndarray]:
        r"""The state as arrays (for ``np.savez`` checkpoints).

        Returns
        -------
        dict of str to ndarray
            Keys ``adam_m``, ``adam_v`` and ``adam_count``.
        """
        return {"adam_m": self.m, "adam_v": self.v, "adam_count": np.asarray(self.count)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> AdamState:
        r"""Inverse of :meth:`to_arrays`.

        Parameters
        ----------
        arrays : mapping
            With the keys ``adam_m``, ``adam_v`` and ``adam_count`` (a ``dict`` or an ``np.load``
            archive).

        Returns
        -------
        AdamState
        """
        missing = [k for k in ("adam_m", "adam_v", "adam_count") if k not in arrays]
        if missing:
            raise ValueError(f"arrays lacks the Adam state entries {missing}")
        count = np.asarray(arrays["adam_count"])
        if count.shape != () or count.dtype.kind not in "iu":
            raise ValueError(f"adam_count must be one integer, got {count!r}")
        return cls(np.array(arrays["adam_m"]), np.array(arrays["adam_v"]), int(count))


@dataclass(frozen=True)
class Adam:
    r"""Adam (Kingma & Ba) with bias correction, as ``optax.adam`` (b1 0.9, b2 0.999, eps 1e-8).

    ``m <- b1 m + (1 - b1) g``, ``v <- b2 v + (1 - b2) g^2``,
    ``x <- x - lr(k) mhat / (sqrt(vhat) + eps)`` with ``mhat = m/(1 - b1^k)``,
    ``vhat = v/(1 - b2^k)``. Updates are computed in the parameters' dtype. Full-batch, one step
    per epoch, as the authors train (paper 000, App. H.1).

    Parameters
    ----------
    lr : callable
        The learning rate ``lr(k)`` at step ``k = 0, 1, ...``, e.g. :class:`WarmupDecay`.
    b1, b2 : float
        Decay rates of the moment estimates, in ``[0, 1)``.
    eps : float
        The denominator's offset, ``> 0``.

    See Also
    --------
    WarmupDecay, AdamState, ema_update

    References
    ----------
    D. P. Kingma and J. Ba, "Adam: a method for stochastic optimization", ICLR 2015; Buchanan
    et al. (paper 000), App. H.1.

    Examples
    --------
    >>> import numpy as np
    >>> opt = Adam(lambda k: 0.1)
    >>> x, s = opt.step(np.array([1.0]), np.array([5.0]), opt.init(np.array([1.0])))
    >>> round(float(x[0]), 6)   # the first Adam step moves by lr, whatever the gradient scale
    0.9
    """

    lr: WarmupDecay | object
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8

    def __post_init__(self) -> None:
        check_callable(self.lr, "lr", "a learning-rate schedule lr(k), e.g. WarmupDecay")
        check_scalar(self.b1, "b1", low=0.0, high=1.0, high_open=True)
        check_scalar(self.b2, "b2", low=0.0, high=1.0, high_open=True)
        check_scalar(self.eps, "eps", low=0.0, low_open=True)

    def init(self, params: np.ndarray) -> AdamState:
        r"""Zero moments shaped like ``params``.

        Parameters
        ----------
        params : array_like
            The parameters (finite floats).

        Returns
        -------
        AdamState
        """
        params = as_float_array(params, "params")
        return AdamState(np.zeros_like(params), np.zeros_like(params), 0)

    def step(
        self, params: np.ndarray, grad: np.ndarray, state: AdamState
    ) -> tuple[np.ndarray, AdamState]:
        r"""One update; returns the new parameters and state (the inputs are not modified).

        Parameters
        ----------
        params, grad : array_like
            Finite float arrays of one shape. A gradient entry above 1e150 in magnitude is refused:
            its square, the second moment, would overflow float64.
        state : AdamState
            The state of the previous step (or of :meth:`init`).

        Returns
        -------
        params : ndarray
            In the dtype of ``params``.
        state : AdamState
        """
        params = as_float_array(params, "params")
        grad = as_float_array(grad, "grad")
        if not isinstance(state, AdamState):
            raise TypeError(f"state must be an AdamState (from Adam.init), got {state!r}")
        if grad.shape != params.shape or state.m.shape != params.shape:
            raise ValueError(
                f"grad has shape {grad.shape} and state.m {state.m.shape} but params has "
                f"{params.shape}"
            )
        if grad.size and float(np.max(np.abs(grad))) > _GRAD_MAX:
            raise ValueError(
                f"grad has an entry of magnitude {float(np.max(np.abs(grad))):.3g} > 1e150: its "
                "square (Adam's second moment) overflows float64; rescale the loss"
            )
        k = state.count + 1
        m = self.b1 * state.m + (1 - self.b1) * grad
        v = self.b2 * state.v + (1 - self.b2) * grad * grad
        mhat = m / (1 - self.b1**k)
        vhat = v / (1 - self.b2**k)
        lr = self.lr(state.count)  # type: ignore[operator]
        new = params - (lr * mhat / (np.sqrt(vhat) + self.eps)).astype(params.dtype)
        return new, AdamState(m, v, k)


_GRAD_MAX = 1e150


def ema_update(average: np.ndarray, params: np.ndarray, decay: float) -> np.ndarray:
    r"""Exponential moving average of the parameters: ``decay avg + (1 - decay) params``.

    The paper does not mention an EMA; the authors' code applies ``optax.ema(0.99)`` to the
    Adam *updates*. This is the usual Polyak average of the parameters.

    Parameters
    ----------
    average : array_like
        The running average.
    params : array_like
        The new parameters, shaped like ``average``.
    decay : float
        In ``[0, 1)``.

    Returns
    -------
    ndarray

    See Also
    --------
    Adam

    Examples
    --------
    >>> import numpy as np
    >>> ema_update(np.zeros(2), np.ones(2), 0.9).round(12).tolist()
    [0.1, 0.1]
    """
    d = check_scalar(decay, "decay", low=0.0, high=1.0, high_open=True)
    avg = as_float_array(average, "average")
    new = as_float_array(params, "params")
    if new.shape != avg.shape:
        raise ValueError(f"params has shape {new.shape} but average has {avg.shape}")
    return d * avg + (1.0 - d) * new
