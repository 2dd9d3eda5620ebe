"""Noise processes X_t = alpha_t X_0 + sigma_t Z and conversions between prediction units.

A schedule fixes the signal scale alpha_t and the noise scale sigma_t of the forward
process of Buchanan et al. (paper 000), eq. (1),

    X_t = alpha_t X_0 + sigma_t Z,   Z ~ N(0, I_d),

which is the marginal law of the linear SDE dX_t = f_t X_t dt + g_t dB_t (paper 000,
eq. (2); Baptista et al. (paper 002), Lemma 3.1, eq. (3.6)) with

    f_t = d log alpha_t / dt,   g_t^2 = d sigma_t^2 / dt - 2 f_t sigma_t^2
                                      = alpha_t^2 d(sigma_t^2 / alpha_t^2)/dt

(the second form is Halder (paper 001), footnote 11, eq. (A.11)). Paper 002 writes the
noise as sqrt(g) dW, so its ``g`` is our ``g_t^2`` (:meth:`Schedule.diffusion2`).

Concrete schedules (frozen dataclasses, every quantity in closed form):

* :class:`VPTrig` -- alpha = sqrt(1 - t^2), sigma = t on (0, 1) (paper 000);
* :class:`OU` -- alpha = e^{-t}, sigma^2 = lam (1 - e^{-2t}) (paper 001, noise scale lambda);
* :class:`VPLinear` -- beta(t) = beta_min + t (beta_max - beta_min) (paper 002, App. C.2);
* :class:`VPExp` -- constant beta: alpha = e^{-beta t/2}, sigma^2 = 1 - e^{-beta t}
  (papers 003/004; paper 002 Ex. 3.5);
* :class:`VEPower`, :class:`VEExp` -- alpha = 1, sigma^2 = int_0^t g (paper 002, Ex. 2.1),
  with the presets :meth:`VE.linear2t`, :meth:`VE.power`, :meth:`VE.exp`, :meth:`VE.exp_literal`;
* :class:`FlowMatching` -- alpha = 1 - t, sigma = t on (0, 1), the linear interpolation of
  flow matching / rectified flow (Lipman et al., 2023; Liu et al., 2023).

Each schedule describes itself to the compiled integrator by :meth:`Schedule.kernel_spec`.
:func:`convert_prediction` and :func:`loss_scale` move between the five prediction units
``PREDICTIONS = ("x0", "eps", "score", "v", "velocity")``; each is affine in x0 given x_t.

Example
-------
>>> from diffmem_theory.core.schedules import VPTrig
>>> sched = VPTrig()
>>> grid = sched.time_grid()          # paper 000's 26-point grid, 0.999 ... 0.001
>>> round(float(grid[16]), 5), round(float(sched.snr(grid[16])), 5)
(0.36028, 6.70406)
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from diffmem_theory._validation import (
    as_float_array,
    check_allocation,
    check_bool,
    check_choice,
    check_int,
    check_scalar,
    finite_result,
)

__all__ = [
    "OU",
    "PREDICTIONS",
    "SCHEDULE_NAMES",
    "VE",
    "FlowMatching",
    "KernelSpec",
    "Schedule",
    "VEExp",
    "VEPower",
    "VPExp",
    "VPLinear",
    "VPTrig",
    "as_schedule",
    "convert_prediction",
    "loss_scale",
    "unit_coefficients",
]

PREDICTIONS: tuple[str, ...] = ("x0", "eps", "score", "v", "velocity")


class KernelSpec(NamedTuple):
    """How a schedule describes itself to the compiled integrator (:func:`kernels.integrate`).

    Attributes
    ----------
    kind : str
        The closed form of (f_t, g_t^2, alpha_t, sigma_t^2) in the kernel: ``"ve_power"``,
        ``"ve_exp"``, ``"vp_affine"``, ``"vp_trig"`` or ``"flow_matching"``.
    params : tuple of 3 floats
        Its parameters (see each schedule's :meth:`~Schedule.kernel_spec`).
    family : {"VE", "VP"} or None
        The s-time family of Baptista et al. (paper 002), eqs. (4.24) and (C.6): ``"VE"``
        (alpha = 1) or ``"VP"`` (alpha^2 + sigma^2 = 1), where the reverse ODE in
        s = -1/2 log(sigma_t^2 + c) does not depend on the schedule; None when neither holds
        (then the integration runs in t).
    """

    kind: str
    params: tuple[float, float, float]
    family: str | None


def _check_horizon(T: float) -> float:
    """Validate the end of the time domain: a finite T > 0 or math.inf."""
    if isinstance(T, (int, float, np.floating, np.integer)) and T == math.inf:
        return math.inf
    return check_scalar(T, "T", low=0.0, low_open=True)


def _set_fields(obj: object, **values: float) -> None:
    """Store validated parameters (as Python floats) on a frozen dataclass."""
    for key, value in values.items():
        object.__setattr__(obj, key, value)


def _interval(low: float, high: float, low_open: bool, high_open: bool) -> str:
    low, high = low + 0.0, high + 0.0  # no "-0"
    return f"{'(' if low_open else '['}{low:.10g}, {high:.10g}{')' if high_open else ']'}"


_LN2 = math.log(2.0)


def _exp_quiet(x: np.ndarray) -> np.ndarray:
    """e^x with an overflow to inf left to the caller's check (no RuntimeWarning)."""
    with np.errstate(over="ignore"):
        return np.exp(x)


def _log1mexp(x: np.ndarray) -> np.ndarray:
    """log(1 - e^{-x}) for x > 0 without cancellation at either end (Maechler, 2012)."""
    with np.errstate(divide="ignore"):  # the branch not taken may be log(0)
        return np.where(x < _LN2, np.log(-np.expm1(-x)), np.log1p(-np.exp(-x)))


class Schedule(ABC):
    """A noise process X_t = alpha_t X_0 + sigma_t Z on the time domain (0, T].

    Buchanan et al. (paper 000), eqs. (1)-(2); Baptista et al. (paper 002), Lemma 3.1.
    The domain is (0, T], open at T when T = inf or alpha_T = 0 (:class:`VPTrig`);
    t = 0 is always excluded. Every method is vectorized: a scalar or an array of times
    in, the same shape out; float32 input stays float32, anything else becomes float64.

    Concrete schedules implement the closed forms ``_log_alpha``, ``_sigma2``, ``_drift``,
    ``_dsigma2``, ``_diffusion2``, ``_inverse_sigma2`` and ``_inverse_snr`` on validated
    times; the public methods validate and share the identities between them. A quantity
    beyond the float64 range at a valid time (psi_t = 1/t^2 at t = 1e-300 for VPTrig, B(t) of
    OU at t = 1e308) raises ``ValueError``; its logarithm (:meth:`log_snr` ...) is often
    still finite. ``T`` may be ``math.inf`` for every schedule but VPTrig (domain (0, inf)).

    Attributes
    ----------
    T : float
        End of the time domain (0, T] (``math.inf`` allowed for every schedule but VPTrig).

    See Also
    --------
    VPTrig, VPLinear, VPExp, OU, VE, FlowMatching : The concrete schedules.
    as_schedule : A schedule from its name.

    References
    ----------
    Buchanan et al. (paper 000), eqs. (1)-(2); Baptista, Dasgupta, Kovachki, Oberai and
    Stuart (paper 002), "Memorization and regularization in generative diffusion models",
    §2-§4 and App. C.

    Examples
    --------
    >>> sched = VPTrig()
    >>> sched.name, sched.domain
    ('VPTrig', '(0, 1)')
    >>> round(float(sched.alpha(0.6)), 6), round(float(sched.sigma(0.6)), 6)
    (0.8, 0.6)
    """

    T: float

    # --- closed forms supplied by each concrete schedule (t already validated) ---
    @abstractmethod
    def _log_alpha(self, t: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _sigma2(self, t: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _drift(self, t: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _dsigma2(self, t: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _diffusion2(self, t: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _inverse_sigma2(self, v: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _inverse_snr(self, psi: np.ndarray) -> np.ndarray: ...

    # --- defaults that a schedule may override with a more accurate closed form ---
    def _alpha(self, t: np.ndarray) -> np.ndarray:
        return np.exp(self._log_alpha(t))

    def _log_sigma2(self, t: np.ndarray) -> np.ndarray:
        return np.log(self._sigma2(t))

    def _log_snr(self, t: np.ndarray) -> np.ndarray:
        return 2.0 * self._log_alpha(t) - self._log_sigma2(t)

    @property
    def _open_at_T(self) -> bool:
        return math.isinf(self.T)

    def _sigma2_max(self) -> float:
        """sigma^2 at the end of the domain (its supremum: sigma^2 increases)."""
        return float(self._sigma2(np.float64(self.T)))

    def _snr_min(self) -> float:
        """psi at the end of the domain (its infimum: psi decreases); 0 when open at T."""
        return 0.0 if self._open_at_T else float(np.exp(self._log_snr(np.float64(self.T))))

    def _finite(self, values: np.ndarray, what: str) -> np.ndarray:
        """``values``, or ``ValueError`` where a quantity overflows float64 at a valid time."""
        if not np.all(np.isfinite(values)):
            raise ValueError(
                f"{what} of {self.name} is outside the float64 range at these times (use the "
                "log-space methods, e.g. log_snr)"
            )
        return values

    @abstractmethod
    def kernel_spec(self) -> KernelSpec:
        """The schedule's closed form for the compiled integrator, and its s-time family.

        Returns
        -------
        KernelSpec
            ``(kind, params, family)``; see :class:`KernelSpec`.

        Examples
        --------
        >>> VPTrig().kernel_spec()
        KernelSpec(kind='vp_trig', params=(0.0, 0.0, 0.0), family='VP')
        """

    # --- identity and domain ---
    @property
    def name(self) -> str:
        """The schedule's name, e.g. ``"VPTrig"`` (the class name).

        Returns
        -------
        str

        Examples
        --------
        >>> OU().name
        'OU'
        """
        return type(self).__name__

    @property
    def domain(self) -> str:
        """The time domain as an interval string: (0, T], or (0, T) when open at T.

        Returns
        -------
        str

        Examples
        --------
        >>> VPTrig().domain, VPLinear().domain, OU().domain
        ('(0, 1)', '(0, 1]', '(0, inf)')
        """
        return _interval(0.0, self.T, True, self._open_at_T)

    def check_time(self, t: npt.ArrayLike, name: str = "t") -> np.ndarray:
        """Return ``t`` as a float array after checking that every entry lies in the domain.

        Raises ``ValueError`` naming ``name``, the first offending value and the domain,
        for t <= 0, t beyond T (or t = T when the domain is open there), NaN or inf, and
        for non-real dtypes (bool, complex, object, str).

        Parameters
        ----------
        t : float or array_like
            Times.
        name : str
            The argument's name in the error message.

        Returns
        -------
        ndarray
            ``t`` as a float array (float32 kept, float64 otherwise).

        Raises
        ------
        ValueError
            For a time outside the domain, NaN, inf or a non-real dtype.
        TypeError
            For a ``name`` that is not a str.

        Examples
        --------
        >>> VPTrig().check_time([0.25, 0.5]).tolist()
        [0.25, 0.5]
        >>> VPTrig().check_time(1.0)
        Traceback (most recent call last):
        ...
        ValueError: t must lie in (0, 1) for VPTrig, got 1.0
        """
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        arr = as_float_array(t, name, finite=False)
        below_end = arr < self.T if self._open_at_T else arr <= self.T
        bad = ~((arr > 0) & below_end)
        if np.any(bad):
            value = float(arr[bad].flat[0])
            raise ValueError(f"{name} must lie in {self.domain} for {self.name}, got {value!r}")
        return arr

    # --- signal and noise scales ---
    def alpha(self, t: npt.ArrayLike) -> np.ndarray:
        """Signal scale alpha_t of X_t = alpha_t X_0 + sigma_t Z (paper 000, eq. (1)).

        Parameters
        ----------
        t : float or array_like
            Times in the schedule's domain (see :meth:`check_time`).

        Returns
        -------
        ndarray
            alpha_t, shaped like ``t`` (float32 for float32 input, float64 otherwise).

        Examples
        --------
        >>> round(float(VPLinear().alpha(1.0)), 6)   # paper 002 App. C.2, m(1)
        0.472248
        """
        return self._finite(self._alpha(self.check_time(t)), "alpha_t")

    def sigma(self, t: npt.ArrayLike) -> np.ndarray:
        """Noise scale sigma_t = sqrt(sigma_t^2) (paper 000, eq. (1)).

        Parameters
        ----------
        t : float or array_like
            Times in the schedule's domain (see :meth:`check_time`).

        Returns
        -------
        ndarray
            sigma_t, shaped like ``t`` (float32 for float32 input, float64 otherwise).

        Examples
        --------
        >>> round(float(VE.exp().sigma(1.0)), 6)     # paper 002 §4.4, sigma(T)
        4.636548
        """
        return self._finite(np.sqrt(self._sigma2(self.check_time(t))), "sigma_t")

    def sigma2(self, t: npt.ArrayLike) -> np.ndarray:
        """Noise variance sigma_t^2 (paper 002, Lemma 3.1, eq. (3.6)).

        Parameters
        ----------
        t : float or array_like
            Times in the schedule's domain (see :meth:`check_time`).

        Returns
        -------
        ndarray
            sigma_t^2, shaped like ``t`` (float32 for float32 input, float64 otherwise).

        Examples
        --------
        >>> round(float(OU(lam=0.5).sigma2(1.0)), 6)   # 0.5 (1 - e^{-2})
        0.432332
        """
        return self._finite(self._sigma2(self.check_time(t)), "sigma_t^2")

    def log_alpha(self, t: npt.ArrayLike) -> np.ndarray:
        """log alpha_t, computed without forming alpha_t (finite where alpha_t underflows).

        Parameters
        ----------
        t : float or array_like
            Times in the schedule's domain (see :meth:`check_time`).

        Returns
        -------
        ndarray
            log alpha_t, shaped like ``t`` (float32 for float32 input, float64 otherwise).

        Examples
        --------
        >>> float(OU().log_alpha(800.0))
        -800.0
        """
        return self._finite(self._log_alpha(self.check_time(t)), "log alpha_t")

    def log_sigma2(self, t: npt.ArrayLike) -> np.ndarray:
        """log sigma_t^2, computed without cancellation near t = 0.

        Parameters
        ----------
        t : float or array_like
            Times in the schedule's domain (see :meth:`check_time`).

        Returns
        -------
        ndarray
            log sigma_t^2, shaped like ``t`` (float32 for float32 input, float64 otherwise).

        Examples
        --------
        >>> round(float(VPTrig().log_sigma2(1e-3)), 6)   # 2 log 1e-3
        -13.815511
        """
        return self._finite(self._log_sigma2(self.check_time(t)), "log sigma_t^2")

    # --- signal-to-noise ratio ---
    def snr(self, t: npt.ArrayLike) -> np.ndarray:
        """Signal-to-noise ratio psi_t = alpha_t^2 / sigma_t^2 (paper 000, §2).

        Parameters
        ----------
        t : float or array_like
            Times in the schedule's domain (see :meth:`check_time`).

        Returns
        -------
        ndarray
            psi_t, shaped like ``t`` (float32 for float32 input, float64 otherwise).

        Examples
        --------
        >>> round(float(VPTrig().snr(0.36028)), 5)   # paper 000, t_16
        6.70406
        """
        return self._finite(_exp_quiet(self._log_snr(self.check_time(t))), "psi_t")

    def log_snr(self, t: npt.ArrayLike) -> np.ndarray:
        """log psi_t = 2 log alpha_t - log sigma_t^2.

        Parameters
        ----------
        t : float or array_like
            Times in the schedule's domain (see :meth:`check_time`).

        Returns
        -------
        ndarray
            log psi_t, shaped like ``t`` (float32 for float32 input, float64 otherwise).

        Examples
        --------
        >>> round(float(VPTrig().log_snr(0.5)), 6)   # log 3
        1.098612
        """
        return self._finite(self._log_snr(self.check_time(t)), "log psi_t")

    def inverse_snr(self, psi: npt.ArrayLike) -> np.ndarray:
        """The time t with psi_t = psi: paper 000's inverse SNR varsigma (§2).

        psi must lie in the range of the (decreasing) SNR over the domain: (psi_T, inf),
        closed at psi_T when the domain is closed at T. For VPTrig, varsigma(psi) =
        (1 + psi)^{-1/2} (from psi = (1 - t^2)/t^2, paper 000 §2); for psi below ~1e-16 that
        value rounds to 1.

        Parameters
        ----------
        psi : float or array_like
            Signal-to-noise ratios in the range of the schedule's SNR.

        Returns
        -------
        ndarray
            The times t with psi_t = psi, shaped like ``psi``.

        Examples
        --------
        >>> round(float(VPTrig().inverse_snr(3.0)), 6)
        0.5
        """
        lo = self._snr_min()
        psi_arr = self._check_range(psi, "psi", lo, math.inf, self._open_at_T, True, "psi_t")
        return self._end_aware_inverse(self._inverse_snr, psi_arr, psi_arr <= lo)

    def inverse_sigma2(self, v: npt.ArrayLike) -> np.ndarray:
        """The time t with sigma_t^2 = v, for v in (0, sigma_T^2] (open at T when the domain is).

        Parameters
        ----------
        v : float or array_like
            Noise variances in (0, sigma_T^2].

        Returns
        -------
        ndarray
            The times t with sigma_t^2 = v, shaped like ``v``.

        Examples
        --------
        >>> round(float(VE.linear2t().inverse_sigma2(0.25)), 6)   # sigma^2 = t^2
        0.5
        """
        hi = self._sigma2_max()
        v_arr = self._check_range(v, "v", 0.0, hi, True, self._open_at_T, "sigma_t^2")
        return self._end_aware_inverse(self._inverse_sigma2, v_arr, v_arr >= hi)

    def _check_range(
        self,
        value: npt.ArrayLike,
        name: str,
        low: float,
        high: float,
        low_open: bool,
        high_open: bool,
        what: str,
    ) -> np.ndarray:
        arr = as_float_array(value, name, finite=False)
        above = arr > low if low_open else arr >= low
        below = arr < high if high_open else arr <= high
        bad = ~(above & below)
        if np.any(bad):
            interval = _interval(low, high, low_open, high_open)
            raise ValueError(
                f"{name} must lie in {interval} (the range of {what} over {self.domain} "
                f"for {self.name}), got {float(arr[bad].flat[0])!r}"
            )
        return arr

    def _end_aware_inverse(
        self, inverse: Callable[[np.ndarray], np.ndarray], value: np.ndarray, at_end: np.ndarray
    ) -> np.ndarray:
        """Apply ``inverse``; at a closed end T return T exactly (and never more than T).

        sigma^2(T) can round to the supremum of sigma^2 (e.g. 1 - e^{-40} = 1), where the
        closed-form inverse diverges; the answer there is T.
        """
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            t = inverse(value)
        if self._open_at_T:
            return t
        return np.where(at_end, self.T, np.minimum(t, self.T))

    # --- derivatives and SDE coefficients ---
    def dalpha(self, t: npt.ArrayLike) -> np.ndarray:
        """d alpha_t / dt = alpha_t f_t.

        Parameters
        ----------
        t : float or array_like
            Times in the schedule's domain (see :meth:`check_time`).

        Returns
        -------
        ndarray
            d alpha_t/dt, shaped like ``t`` (float32 for float32 input, float64 otherwise).

        Examples
        --------
        >>> round(float(VPTrig().dalpha(0.6)), 6)   # -t / sqrt(1 - t^2)
        -0.75
        """
        t = self.check_time(t)
        return self._finite(self._alpha(t) * self._drift(t), "d alpha_t/dt")

    def dsigma(self, t: npt.ArrayLike) -> np.ndarray:
        """d sigma_t / dt = (d sigma_t^2/dt) / (2 sigma_t).

        Parameters
        ----------
        t : float or array_like
            Times in the schedule's domain (see :meth:`check_time`).

        Returns
        -------
        ndarray
            d sigma_t/dt, shaped like ``t`` (float32 for float32 input, float64 otherwise).

        Examples
        --------
        >>> round(float(VPTrig().dsigma(0.3)), 6)
        1.0
        """
        t = self.check_time(t)
        with np.errstate(over="ignore", divide="ignore"):
            return self._finite(self._dsigma2(t) / (2.0 * np.sqrt(self._sigma2(t))), "d sigma_t/dt")

    def dsigma2(self, t: npt.ArrayLike) -> np.ndarray:
        """d sigma_t^2 / dt in closed form.

        Parameters
        ----------
        t : float or array_like
            Times in the schedule's domain (see :meth:`check_time`).

        Returns
        -------
        ndarray
            d sigma_t^2/dt, shaped like ``t`` (float32 for float32 input, float64 otherwise).

        Examples
        --------
        >>> round(float(VE.exp().dsigma2(0.5)), 6)   # g = 10^{2t}
        10.0
        """
        return self._finite(self._dsigma2(self.check_time(t)), "d sigma_t^2/dt")

    def drift(self, t: npt.ArrayLike) -> np.ndarray:
        """Drift f_t = d log alpha_t / dt of dX = f_t X dt + g_t dB (paper 000, eq. (2)).

        For VPTrig f_t = -t/(1 - t^2) (d/dt of log sqrt(1 - t^2)); for the VP family
        f_t = -beta(t)/2 (paper 002, eq. (2.3)); 0 for VE.

        Parameters
        ----------
        t : float or array_like
            Times in the schedule's domain (see :meth:`check_time`).

        Returns
        -------
        ndarray
            f_t, shaped like ``t`` (float32 for float32 input, float64 otherwise).

        Examples
        --------
        >>> round(float(VPTrig().drift(0.5)), 6)
        -0.666667
        """
        return self._finite(self._drift(self.check_time(t)), "f_t")

    def diffusion2(self, t: npt.ArrayLike) -> np.ndarray:
        """Squared diffusion g_t^2 = d sigma_t^2/dt - 2 f_t sigma_t^2 (paper 000, eq. (2)).

        This is paper 002's ``g(t)`` (noise sqrt(g) dW, eq. (2.1)) and equals
        alpha_t^2 d(sigma_t^2/alpha_t^2)/dt (paper 001, eq. (A.11)).
        VPTrig: 2t/(1 - t^2); VP family: lam beta(t); OU: 2 lam; VE: g(t).

        Parameters
        ----------
        t : float or array_like
            Times in the schedule's domain (see :meth:`check_time`).

        Returns
        -------
        ndarray
            g_t^2, shaped like ``t`` (float32 for float32 input, float64 otherwise).

        Examples
        --------
        >>> round(float(VPTrig().diffusion2(0.5)), 6)
        1.333333
        """
        return self._finite(self._diffusion2(self.check_time(t)), "g_t^2")

    # --- transformed time of Baptista et al. ---
    def s_time(self, t: npt.ArrayLike, c: float = 0.0) -> np.ndarray:
        """Transformed time s = h(t; c) = -1/2 log(sigma_t^2 + c), c >= 0.

        Baptista et al. (paper 002), eq. (4.20); for VP with c = 0 also (C.3), where
        alpha_t^2 = 1 - e^{-2s}. s decreases in t; s_0 = s(T) starts the s-time ODEs.

        Parameters
        ----------
        t : float or array_like
            Times in the schedule's domain (see :meth:`check_time`).
        c : float, default 0
            The Tikhonov constant c >= 0 of paper 002, eq. (5.7).

        Returns
        -------
        ndarray
            s = h(t; c), shaped like ``t`` (float32 for float32 input, float64 otherwise).

        Examples
        --------
        >>> round(float(VE.exp().s_time(1.0)), 6)    # paper 002, s_0 for VE
        -1.53397
        >>> round(float(VPLinear().s_time(1.0)), 6)  # paper 002, s_0 for VP
        0.126169
        """
        return self._finite(self._s_time(self.check_time(t), check_scalar(c, "c", low=0.0)), "s")

    def _s_time(self, t: np.ndarray, c: float) -> np.ndarray:
        if c == 0.0:
            return -0.5 * self._log_sigma2(t)
        return -0.5 * np.log(self._sigma2(t) + c)

    def _t_of_s(self, s: np.ndarray, c: float) -> np.ndarray:
        """(sigma^2)^{-1}(e^{-2s} - c); a rounding step below 0 (s -> -1/2 log c) gives 0."""
        return self._inverse_sigma2(np.maximum(np.exp(-2.0 * s) - c, 0.0))

    def t_of_s(self, s: npt.ArrayLike, c: float = 0.0) -> np.ndarray:
        """Inverse of :meth:`s_time`: t = (sigma^2)^{-1}(e^{-2s} - c) (paper 002, after (4.21)).

        s must give 0 < e^{-2s} - c <= sigma_T^2 (< when the domain is open at T), i.e.
        s in [s(T), -1/2 log c) (s(T) excluded when open at T; -1/2 log 0 = inf). The VP
        family evaluates the inverse as B = log(lam/(lam+c)) - log(1 - e^{-2s}/(lam+c)),
        accurate as s -> s(T).

        Parameters
        ----------
        s : float or array_like
            Transformed times in [s(T), -1/2 log c).
        c : float, default 0
            The Tikhonov constant c >= 0 of paper 002, eq. (5.7).

        Returns
        -------
        ndarray
            The times t with s_time(t, c) = s, shaped like ``s``.

        Examples
        --------
        >>> round(float(VPTrig().t_of_s(-np.log(0.5))), 6)   # sigma = t = e^{-s}
        0.5
        """
        c = check_scalar(c, "c", low=0.0)
        if math.isinf(self.T):
            s_end = -0.5 * math.log(self._sigma2_max() + c)
        else:  # computed as s_time(T, c) is, so that s_time(T, c) is accepted
            s_end = float(self._s_time(np.float64(self.T), c))
        s_max = -0.5 * math.log(c) if c > 0 else math.inf
        what = f"-1/2 log(sigma_t^2 + {c!r})"
        s_arr = self._check_range(s, "s", s_end, s_max, self._open_at_T, True, what)
        return self._end_aware_inverse(lambda x: self._t_of_s(x, c), s_arr, s_arr <= s_end)

    def ds_dt(self, t: npt.ArrayLike, c: float = 0.0) -> np.ndarray:
        """ds/dt = -1/2 (d sigma_t^2/dt) / (sigma_t^2 + c) (paper 002, eq. (4.21)).

        Parameters
        ----------
        t : float or array_like
            Times in the schedule's domain (see :meth:`check_time`).
        c : float, default 0
            The Tikhonov constant c >= 0 of paper 002, eq. (5.7).

        Returns
        -------
        ndarray
            ds/dt, shaped like ``t`` (float32 for float32 input, float64 otherwise).

        Examples
        --------
        >>> round(float(VPTrig().ds_dt(0.5)), 6)   # s = -log t
        -2.0
        """
        t = self.check_time(t)
        c = check_scalar(c, "c", low=0.0)
        with np.errstate(over="ignore", divide="ignore"):
            return self._finite(-0.5 * self._dsigma2(t) / (self._sigma2(t) + c), "ds/dt")

    # --- time grids ---
    def time_grid(
        self,
        n_steps: int = 25,
        eps: float = 1e-3,
        t_max: float | None = None,
        spacing: str = "linear",
    ) -> np.ndarray:
        """Decreasing grid of n_steps + 1 times from t_max - eps down to eps.

        With the defaults on VPTrig this is paper 000's grid (§4, App. H.1):
        t_l = 0.999 - 0.998 l/25, l = 0..25, i.e. ``np.linspace(0.001, 0.999, 26)[::-1]``.
        ``spacing="log"`` spaces the times geometrically. ``t_max`` defaults to T and is
        required when T = inf.

        >>> g = VPTrig().time_grid()
        >>> len(g), float(g[0]), float(g[-1])
        (26, 0.999, 0.001)
        >>> OU().time_grid(4, eps=0.01, t_max=2.0, spacing="log").round(4).tolist()
        [1.99, 0.5298, 0.1411, 0.0376, 0.01]
        """
        n_steps = check_int(n_steps, "n_steps", low=1)
        check_allocation(n_steps + 1, f"a grid of n_steps + 1 = {n_steps + 1} times")
        eps = check_scalar(eps, "eps", low=0.0, low_open=True)
        check_choice(spacing, "spacing", ("linear", "log"))
        if t_max is None:
            if math.isinf(self.T):
                raise ValueError(f"t_max is required for {self.name} because its T is inf")
            t_max = self.T
        t_max = check_scalar(t_max, "t_max", low=2.0 * eps, low_open=True, high=self.T)
        space = np.linspace if spacing == "linear" else np.geomspace
        with np.errstate(over="ignore"):  # geomspace's intermediate powers near the float max
            grid = space(eps, t_max - eps, n_steps + 1)
        return np.ascontiguousarray(self._finite(grid, "the time grid")[::-1])


@dataclass(frozen=True)
class VPTrig(Schedule):
    """Variance-preserving schedule alpha_t = sqrt(1 - t^2), sigma_t = t on (0, 1).

    Buchanan et al. (paper 000), §2 ("used in every experiment"): f_t = -t/(1 - t^2),
    g_t^2 = 2t/(1 - t^2), psi_t = (1 - t^2)/t^2, varsigma(psi) = (1 + psi)^{-1/2}.
    1 - t^2 is evaluated as (1 - t)(1 + t), so alpha and f stay accurate as t -> 1.

    Attributes
    ----------
    T : float
        1 (fixed); the domain is (0, 1), open at 1 where alpha = 0.

    References
    ----------
    Buchanan et al. (paper 000), §2.

    Examples
    --------
    >>> s = VPTrig()
    >>> round(float(s.alpha(1 - 1e-6)), 9), round(float(s.diffusion2(1e-6)), 12)
    (0.001414213, 2e-06)
    """

    T: float = field(default=1.0, init=False)

    @property
    def _open_at_T(self) -> bool:
        return True

    def _one_minus_t2(self, t: np.ndarray) -> np.ndarray:
        return (1.0 - t) * (1.0 + t)

    def _alpha(self, t: np.ndarray) -> np.ndarray:
        return np.sqrt(self._one_minus_t2(t))

    def _log_alpha(self, t: np.ndarray) -> np.ndarray:
        # log1p(-t^2) is exact-ish for small t, log((1-t)(1+t)) near t = 1
        return 0.5 * np.where(t < 0.5, np.log1p(-t * t), np.log(self._one_minus_t2(t)))

    def _sigma2(self, t: np.ndarray) -> np.ndarray:
        return t * t

    def _log_sigma2(self, t: np.ndarray) -> np.ndarray:
        return 2.0 * np.log(t)

    def _drift(self, t: np.ndarray) -> np.ndarray:
        return -t / self._one_minus_t2(t)

    def _dsigma2(self, t: np.ndarray) -> np.ndarray:
        return 2.0 * t

    def _diffusion2(self, t: np.ndarray) -> np.ndarray:
        return 2.0 * t / self._one_minus_t2(t)

    def _inverse_sigma2(self, v: np.ndarray) -> np.ndarray:
        return np.sqrt(v)

    def _inverse_snr(self, psi: np.ndarray) -> np.ndarray:
        return 1.0 / np.sqrt(1.0 + psi)

    def kernel_spec(self) -> KernelSpec:
        """``("vp_trig", (0, 0, 0), "VP")``: no parameters, variance preserving.

        Returns
        -------
        KernelSpec

        Examples
        --------
        >>> VPTrig().kernel_spec().family
        'VP'
        """
        return KernelSpec("vp_trig", (0.0, 0.0, 0.0), "VP")


class _AffineBetaVP(Schedule):
    """The VP family with an affine rate beta(t) = beta_0 + beta_1 t and noise scale lam.

    alpha_t = exp(-B(t)/2), sigma_t^2 = lam (1 - e^{-B(t)}), B(t) = int_0^t beta
    = beta_0 t + beta_1 t^2/2; f_t = -beta(t)/2 and g_t^2 = lam beta(t) (paper 002,
    eq. (2.5) and App. C.2, with lam = 1; paper 001's noise-scaled OU is beta = 2).
    A subclass supplies ``_coefficients() -> (beta_0, beta_1, lam)``.
    """

    @abstractmethod
    def _coefficients(self) -> tuple[float, float, float]: ...

    def beta(self, t: npt.ArrayLike) -> np.ndarray:
        """The rate beta(t) = beta_0 + beta_1 t, so that f_t = -beta(t)/2 (paper 002, eq. (2.3)).

        Parameters
        ----------
        t : float or array_like
            Times in the schedule's domain (see :meth:`check_time`).

        Returns
        -------
        ndarray
            beta(t), shaped like ``t`` (float32 for float32 input, float64 otherwise).

        Examples
        --------
        >>> round(float(VPLinear().beta(0.5)), 6)   # 0.001 + 0.5 (3 - 0.001)
        1.5005
        """
        t = self.check_time(t)
        b0, b1, _ = self._coefficients()
        with np.errstate(over="ignore"):
            return self._finite(b0 + b1 * t, "beta(t)")

    def integrated_beta(self, t: npt.ArrayLike) -> np.ndarray:
        """B(t) = int_0^t beta = beta_0 t + beta_1 t^2 / 2 (paper 002, App. C.2).

        Parameters
        ----------
        t : float or array_like
            Times in the schedule's domain (see :meth:`check_time`).

        Returns
        -------
        ndarray
            B(t), shaped like ``t`` (float32 for float32 input, float64 otherwise).

        Examples
        --------
        >>> round(float(VPLinear().integrated_beta(1.0)), 6)   # 0.001 + 1.4995
        1.5005
        """
        return self._finite(self._integrated_beta(self.check_time(t)), "B(t)")

    def _integrated_beta(self, t: np.ndarray) -> np.ndarray:
        """B(t); +inf where it overflows (then alpha_t = 0, sigma_t^2 = lam exactly)."""
        b0, b1, _ = self._coefficients()
        with np.errstate(over="ignore"):
            return t * (b0 + 0.5 * b1 * t)

    def _t_of_integrated_beta(self, B: np.ndarray) -> np.ndarray:
        """Stable positive root of beta_1 t^2/2 + beta_0 t - B = 0."""
        b0, b1, _ = self._coefficients()
        return 2.0 * B / (b0 + np.sqrt(b0 * b0 + 2.0 * b1 * B))

    def _sigma2_max(self) -> float:
        return self._coefficients()[2] if math.isinf(self.T) else super()._sigma2_max()

    def _log_alpha(self, t: np.ndarray) -> np.ndarray:
        return -0.5 * self._integrated_beta(t)

    def _sigma2(self, t: np.ndarray) -> np.ndarray:
        return -self._coefficients()[2] * np.expm1(-self._integrated_beta(t))

    def _log_sigma2(self, t: np.ndarray) -> np.ndarray:
        lam = self._coefficients()[2]
        return math.log(lam) + _log1mexp(self._integrated_beta(t))

    def _drift(self, t: np.ndarray) -> np.ndarray:
        b0, b1, _ = self._coefficients()
        return -0.5 * (b0 + b1 * t)

    def _dsigma2(self, t: np.ndarray) -> np.ndarray:
        b0, b1, lam = self._coefficients()
        return lam * (b0 + b1 * t) * np.exp(-self._integrated_beta(t))

    def _diffusion2(self, t: np.ndarray) -> np.ndarray:
        b0, b1, lam = self._coefficients()
        return lam * (b0 + b1 * t)

    def _inverse_sigma2(self, v: np.ndarray) -> np.ndarray:
        lam = self._coefficients()[2]
        return self._t_of_integrated_beta(-np.log1p(-v / lam))

    def _t_of_s(self, s: np.ndarray, c: float) -> np.ndarray:
        # e^{-B} = 1 - (e^{-2s} - c)/lam = (lam+c)/lam (1 - e^{-2s - log(lam+c)})
        lam = self._coefficients()[2]
        big_b = math.log(lam / (lam + c)) - _log1mexp(2.0 * s + math.log(lam + c))
        return self._t_of_integrated_beta(np.maximum(big_b, 0.0))

    def kernel_spec(self) -> KernelSpec:
        """``("vp_affine", (beta_0, beta_1, lam), family)``; family ``"VP"`` when lam = 1.

        With lam != 1 (:class:`OU` with a noise scale) alpha^2 + sigma^2 != 1 and there is no
        schedule-free s-time form (family None).

        Returns
        -------
        KernelSpec

        Examples
        --------
        >>> VPLinear(0.1, 2.0).kernel_spec()
        KernelSpec(kind='vp_affine', params=(0.1, 1.9, 1.0), family='VP')
        >>> OU(lam=2.0).kernel_spec().family is None
        True
        """
        b0, b1, lam = self._coefficients()
        return KernelSpec("vp_affine", (b0, b1, lam), "VP" if lam == 1.0 else None)

    def _inverse_snr(self, psi: np.ndarray) -> np.ndarray:
        # psi = 1 / (lam (e^B - 1))  =>  B = log(1 + 1/(lam psi)) = softplus(-log(lam psi))
        log_lam_psi = math.log(self._coefficients()[2]) + np.log(psi)
        return self._t_of_integrated_beta(np.logaddexp(0.0, -log_lam_psi))


@dataclass(frozen=True)
class VPLinear(_AffineBetaVP):
    """VP schedule with the linear rate beta(t) = beta_min + t (beta_max - beta_min).

    Baptista et al. (paper 002), App. C.2 (and §5.3): alpha_t = m(t) = exp(-B/2),
    sigma_t^2 = 1 - e^{-B} (computed as -expm1(-B)), B(t) = beta_min t +
    (beta_max - beta_min) t^2/2, f_t = -beta/2, g_t^2 = beta. beta_max is the rate at
    t = 1 whatever T is. Requires 0 <= beta_min <= beta_max, beta_max > 0. ``T`` (default 1)
    may be ``math.inf``.

    Parameters
    ----------
    beta_min, beta_max : float
        The rate beta(t) = beta_min + t (beta_max - beta_min), 0 <= beta_min <= beta_max,
        beta_max > 0.
    T : float, default 1
        End of the time domain (may be ``math.inf``).

    References
    ----------
    Baptista, Dasgupta, Kovachki, Oberai and Stuart (paper 002), "Memorization and
    regularization in generative diffusion models", §2-§4 and App. C.

    Examples
    --------
    >>> s = VPLinear(0.001, 3.0)
    >>> round(float(s.sigma(1.0)), 6), round(float(s.alpha(1.0)), 6)
    (0.881465, 0.472248)
    """

    beta_min: float = 0.001
    beta_max: float = 3.0
    T: float = 1.0

    def __post_init__(self) -> None:
        beta_min = check_scalar(self.beta_min, "beta_min", low=0.0)
        beta_max = check_scalar(self.beta_max, "beta_max", low=0.0, low_open=True)
        if beta_max < beta_min:
            raise ValueError(f"beta_max must be >= beta_min = {beta_min!r}, got {beta_max!r}")
        _set_fields(self, beta_min=beta_min, beta_max=beta_max, T=_check_horizon(self.T))

    def _coefficients(self) -> tuple[float, float, float]:
        return float(self.beta_min), float(self.beta_max - self.beta_min), 1.0


@dataclass(frozen=True)
class VPExp(_AffineBetaVP):
    """VP schedule with constant rate beta: alpha_t = e^{-beta t/2}, sigma_t^2 = 1 - e^{-beta t}.

    The convention of Ye et al. (paper 003, §1.1) and Shah et al. (paper 004), and
    Baptista et al. (paper 002) Ex. 3.5 ("VP_const1", beta = 1). The constant-beta
    case of the VP family of :class:`VPLinear`: f_t = -beta/2, g_t^2 = beta. ``T`` is
    ``math.inf`` by default (domain (0, inf)); a finite ``T`` closes the domain.

    Parameters
    ----------
    beta : float, default 1
        The constant rate beta > 0.
    T : float, default inf
        End of the time domain.

    References
    ----------
    Ye et al. (paper 003), §1.1; Shah et al. (paper 004), eq. (1); Baptista et al. (paper
    002), Ex. 3.5.

    Examples
    --------
    >>> s = VPExp()
    >>> round(float(s.alpha(2.0)), 6), round(float(s.sigma2(2.0)), 6)   # e^{-1}, 1 - e^{-2}
    (0.367879, 0.864665)
    """

    beta: float = 1.0
    T: float = math.inf

    def __post_init__(self) -> None:
        beta = check_scalar(self.beta, "beta", low=0.0, low_open=True)
        _set_fields(self, beta=beta, T=_check_horizon(self.T))

    def _coefficients(self) -> tuple[float, float, float]:
        return float(self.beta), 0.0, 1.0


@dataclass(frozen=True)
class OU(_AffineBetaVP):
    """Ornstein-Uhlenbeck process dX = -X dt + sqrt(2 lam) dW on (0, inf).

    Halder (paper 001), eq. (2.1) and footnote 5 (noise scale lambda): alpha_t = e^{-t},
    sigma_t^2 = lam (1 - e^{-2t}) = lam delta_t, f = -1, g^2 = 2 lam. It is the VP family
    with beta = 2 and sigma^2 scaled by lam, so alpha_t^2 + sigma_t^2/lam = 1. ``T = math.inf``
    (fixed): the domain is (0, inf).

    Parameters
    ----------
    lam : float, default 1
        The noise scale lambda > 0.

    References
    ----------
    Halder (paper 001), eq. (2.1) and footnote 5.

    Examples
    --------
    >>> s = OU(lam=0.5)
    >>> round(float(s.sigma2(1.0)), 6), float(s.drift(1.0)), float(s.diffusion2(1.0))
    (0.432332, -1.0, 1.0)
    """

    lam: float = 1.0
    T: float = field(default=math.inf, init=False)

    def __post_init__(self) -> None:
        _set_fields(self, lam=check_scalar(self.lam, "lam", low=0.0, low_open=True))

    def _coefficients(self) -> tuple[float, float, float]:
        return 2.0, 0.0, float(self.lam)


class VE(Schedule):
    """Variance-exploding schedules: alpha_t = 1, f_t = 0, sigma_t^2 = int_0^t g, g_t^2 = g(t).

    Baptista et al. (paper 002), Ex. 2.1 and Lemma 3.1 (m = 1). A subclass supplies
    sigma^2, g = d sigma^2/dt and the inverse of sigma^2; the inverse SNR is
    (sigma^2)^{-1}(1/psi). Presets: :meth:`linear2t`, :meth:`power`, :meth:`exp`,
    :meth:`exp_literal`.

    See Also
    --------
    VEPower, VEExp : The two closed forms.

    References
    ----------
    Baptista, Dasgupta, Kovachki, Oberai and Stuart (paper 002), "Memorization and
    regularization in generative diffusion models", §2-§4 and App. C.

    Examples
    --------
    >>> VE.exp() == VEExp(sigma_max=10.0)
    True
    """

    @classmethod
    def linear2t(cls, T: float = 1.0) -> VEPower:
        """g = 2t, sigma_t^2 = t^2 (paper 002, Ex. 3.4 and (3.10)).

        Parameters
        ----------
        T : float, default 1
            End of the time domain (may be ``math.inf``).

        Returns
        -------
        VEPower

        Examples
        --------
        >>> round(float(VE.linear2t().sigma2(0.3)), 6)
        0.09
        """
        return VEPower(a=1.0, scale=2.0, T=T)

    @classmethod
    def power(cls, a: float = 1.0, T: float = 1.0) -> VEPower:
        """g = t^a, sigma_t^2 = t^{a+1}/(a+1) (paper 002, Ex. 2.5).

        Parameters
        ----------
        a : float, default 1
            The power a >= 0 of g = t^a.
        T : float, default 1
            End of the time domain (may be ``math.inf``).

        Returns
        -------
        VEPower

        Examples
        --------
        >>> round(float(VE.power(2.0).sigma2(1.0)), 6)
        0.333333
        """
        return VEPower(a=a, scale=1.0, T=T)

    @classmethod
    def exp(cls, sigma_max: float = 10.0, T: float = 1.0) -> VEExp:
        """sqrt(g) = sigma_max^t, i.e. g = sigma_max^{2t} (paper 002, §4.4/5.1/5.2).

        The paper prints g = 10^t, but the authors' code and the printed s_0 = -1.5340
        use g = 10^{2t}; this preset follows the code (see :meth:`exp_literal`).

        Parameters
        ----------
        sigma_max : float, default 10
            sqrt(g) at t = 1 (> 1).
        T : float, default 1
            End of the time domain (may be ``math.inf``).

        Returns
        -------
        VEExp

        Examples
        --------
        >>> round(float(VE.exp().sigma(1.0)), 6)
        4.636548
        """
        return VEExp(sigma_max=sigma_max, T=T)

    @classmethod
    def exp_literal(cls, T: float = 1.0) -> VEExp:
        """The literal g = 10^t of paper 002 §4.4, i.e. VEExp(sigma_max = sqrt(10)).

        Parameters
        ----------
        T : float, default 1
            End of the time domain (may be ``math.inf``).

        Returns
        -------
        VEExp

        Examples
        --------
        >>> round(float(VE.exp_literal().sigma(1.0)), 6)
        1.977031
        """
        return VEExp(sigma_max=math.sqrt(10.0), T=T)

    def _alpha(self, t: np.ndarray) -> np.ndarray:
        return np.ones_like(t)

    def _log_alpha(self, t: np.ndarray) -> np.ndarray:
        return np.zeros_like(t)

    def _drift(self, t: np.ndarray) -> np.ndarray:
        return np.zeros_like(t)

    def _diffusion2(self, t: np.ndarray) -> np.ndarray:
        return self._dsigma2(t)

    def _inverse_snr(self, psi: np.ndarray) -> np.ndarray:
        return self._inverse_sigma2(1.0 / psi)


@dataclass(frozen=True)
class VEPower(VE):
    """VE schedule with g(t) = scale t^a: sigma_t^2 = scale t^{a+1}/(a+1).

    Baptista et al. (paper 002), Ex. 2.5 (scale = 1) and Ex. 3.4 (a = 1, scale = 2).
    Requires a >= 0 and scale > 0; Remark 4.6: t g/(2 sigma^2) = (a+1)/2. ``T`` (default 1)
    may be ``math.inf``.

    Parameters
    ----------
    a : float, default 1
        The power a >= 0.
    scale : float, default 1
        The factor scale > 0.
    T : float, default 1
        End of the time domain (may be ``math.inf``).

    References
    ----------
    Baptista et al. (paper 002), Ex. 2.5 and Ex. 3.4.

    Examples
    --------
    >>> s = VEPower(a=1.0, scale=2.0)
    >>> round(float(s.sigma2(0.5)), 6), round(float(s.diffusion2(0.5)), 6)
    (0.25, 1.0)
    """

    a: float = 1.0
    scale: float = 1.0
    T: float = 1.0

    def __post_init__(self) -> None:
        a = check_scalar(self.a, "a", low=0.0)
        scale = check_scalar(self.scale, "scale", low=0.0, low_open=True)
        _set_fields(self, a=a, scale=scale, T=_check_horizon(self.T))

    def _sigma2(self, t: np.ndarray) -> np.ndarray:
        return (self.scale / (self.a + 1.0)) * t ** (self.a + 1.0)

    def _log_sigma2(self, t: np.ndarray) -> np.ndarray:
        return math.log(self.scale / (self.a + 1.0)) + (self.a + 1.0) * np.log(t)

    def _dsigma2(self, t: np.ndarray) -> np.ndarray:
        return self.scale * t**self.a

    def _inverse_sigma2(self, v: np.ndarray) -> np.ndarray:
        return ((self.a + 1.0) / self.scale * v) ** (1.0 / (self.a + 1.0))

    def kernel_spec(self) -> KernelSpec:
        """``("ve_power", (a, scale, 0), "VE")``.

        Returns
        -------
        KernelSpec

        Examples
        --------
        >>> VE.linear2t().kernel_spec()
        KernelSpec(kind='ve_power', params=(1.0, 2.0, 0.0), family='VE')
        """
        return KernelSpec("ve_power", (float(self.a), float(self.scale), 0.0), "VE")


@dataclass(frozen=True)
class VEExp(VE):
    """VE schedule with sqrt(g) = sigma_max^t: sigma_t^2 = (sigma_max^{2t} - 1)/(2 ln sigma_max).

    Baptista et al. (paper 002), §4.4, §5.1, §5.2 with sigma_max = 10 (the authors' code:
    sqrt(g) = 10^t, which gives the printed s_0 = -1.5340; see :meth:`VE.exp`);
    sigma^2 is computed as expm1(k t)/k with k = 2 ln sigma_max. Requires sigma_max > 1.
    ``T`` (default 1) may be ``math.inf``.

    Parameters
    ----------
    sigma_max : float, default 10
        sqrt(g) at t = 1, > 1.
    T : float, default 1
        End of the time domain (may be ``math.inf``).

    References
    ----------
    Baptista et al. (paper 002), §4.4, §5.1, §5.2.

    Examples
    --------
    >>> s = VEExp(sigma_max=10.0)
    >>> round(float(s.sigma2(1.0)), 6), round(float(s.diffusion2(1.0)), 6)
    (21.497577, 100.0)
    """

    sigma_max: float = 10.0
    T: float = 1.0

    def __post_init__(self) -> None:
        sigma_max = check_scalar(self.sigma_max, "sigma_max", low=1.0, low_open=True)
        _set_fields(self, sigma_max=sigma_max, T=_check_horizon(self.T))

    @property
    def _k(self) -> float:
        return 2.0 * math.log(self.sigma_max)

    def _sigma2(self, t: np.ndarray) -> np.ndarray:
        return np.expm1(self._k * t) / self._k

    def _log_sigma2(self, t: np.ndarray) -> np.ndarray:
        kt = self._k * t  # log(e^{kt} - 1) = kt + log(1 - e^{-kt})
        return kt + _log1mexp(kt) - math.log(self._k)

    def _dsigma2(self, t: np.ndarray) -> np.ndarray:
        return np.exp(self._k * t)

    def _inverse_sigma2(self, v: np.ndarray) -> np.ndarray:
        return np.log1p(self._k * v) / self._k

    def kernel_spec(self) -> KernelSpec:
        """``("ve_exp", (k, 0, 0), "VE")`` with k = 2 ln sigma_max (g = e^{k t}).

        Returns
        -------
        KernelSpec

        Examples
        --------
        >>> round(VE.exp().kernel_spec().params[0], 6)      # 2 ln 10
        4.60517
        """
        return KernelSpec("ve_exp", (self._k, 0.0, 0.0), "VE")


@dataclass(frozen=True)
class FlowMatching(Schedule):
    """The flow-matching (rectified-flow) schedule alpha_t = 1 - t, sigma_t = t on (0, 1).

    The linear interpolation X_t = (1 - t) X_0 + t Z of conditional flow matching (Lipman et
    al., 2023, "Flow matching for generative modeling", with sigma_min = 0) and rectified flow
    (Liu, Gong & Liu, 2023), used by modern image models and by DiffusionLab. In the notation
    of this module: f_t = -1/(1 - t), g_t^2 = 2t + 2t^2/(1 - t) = 2t/(1 - t),
    psi_t = ((1 - t)/t)^2 and varsigma(psi) = 1/(1 + sqrt(psi)). It is neither VE nor VP
    (alpha^2 + sigma^2 = 1 - 2t + 2t^2), so the reverse ODE has no schedule-free s-time form
    (:meth:`kernel_spec` family None). The domain is open at T = 1, where alpha = 0. A model
    trained with this schedule usually predicts the ``"velocity"`` unit
    dx_t/dt = alpha_t' x0 + sigma_t' eps = eps - x0 (see :func:`convert_prediction`).

    Attributes
    ----------
    T : float
        1 (fixed); the domain is (0, 1), open at 1 where alpha = 0.

    References
    ----------
    Y. Lipman, R. T. Q. Chen, H. Ben-Hamu, M. Nickel and M. Le, "Flow matching for generative
    modeling", ICLR 2023; X. Liu, C. Gong and Q. Liu, "Flow straight and fast: learning to
    generate and transfer data with rectified flow", ICLR 2023.

    Examples
    --------
    >>> s = FlowMatching()
    >>> float(s.alpha(0.25)), float(s.sigma(0.25)), float(s.drift(0.5)), float(s.diffusion2(0.5))
    (0.75, 0.25, -2.0, 2.0)
    >>> round(float(s.inverse_snr(9.0)), 6)          # (1 - t)/t = 3
    0.25
    """

    T: float = field(default=1.0, init=False)

    @property
    def _open_at_T(self) -> bool:
        return True

    def _alpha(self, t: np.ndarray) -> np.ndarray:
        return 1.0 - t

    def _log_alpha(self, t: np.ndarray) -> np.ndarray:
        return np.log1p(-t)

    def _sigma2(self, t: np.ndarray) -> np.ndarray:
        return t * t

    def _log_sigma2(self, t: np.ndarray) -> np.ndarray:
        return 2.0 * np.log(t)

    def _drift(self, t: np.ndarray) -> np.ndarray:
        return -1.0 / (1.0 - t)

    def _dsigma2(self, t: np.ndarray) -> np.ndarray:
        return 2.0 * t

    def _diffusion2(self, t: np.ndarray) -> np.ndarray:
        return 2.0 * t / (1.0 - t)

    def _inverse_sigma2(self, v: np.ndarray) -> np.ndarray:
        return np.sqrt(v)

    def _inverse_snr(self, psi: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.sqrt(psi))

    def kernel_spec(self) -> KernelSpec:
        """``("flow_matching", (0, 0, 0), None)``: t-time only.

        Returns
        -------
        KernelSpec

        Examples
        --------
        >>> FlowMatching().kernel_spec().kind
        'flow_matching'
        """
        return KernelSpec("flow_matching", (0.0, 0.0, 0.0), None)


#: Schedules accepted by name (their default parameters) by :func:`as_schedule`.
SCHEDULE_NAMES: tuple[str, ...] = (
    "VPTrig",
    "VPLinear",
    "VPExp",
    "OU",
    "VEPower",
    "VEExp",
    "FlowMatching",
)


def as_schedule(
    schedule: Schedule | str | None,
    default: Schedule | None = None,
    *,
    name: str = "schedule",
    required: bool = False,
) -> Schedule:
    """The one way a public function reads its ``schedule`` argument.

    A :class:`Schedule` is returned as is; a name in :data:`SCHEDULE_NAMES` (case-insensitive)
    gives that schedule with its default parameters; ``None`` gives ``default`` (default: paper
    000's :class:`VPTrig`; modules whose paper uses another process pass it, paper 003:
    ``VPExp()``), or raises ``TypeError`` when ``required`` (the argument has no default).
    Anything else, an unknown name included, raises ``TypeError`` naming ``name`` and what is
    allowed.

    Parameters
    ----------
    schedule : Schedule, str or None
        The argument as given.
    default : Schedule, optional
        The schedule for None (default :class:`VPTrig`).
    name : str, default "schedule"
        The argument's name in error messages.
    required : bool, default False
        Whether None is an error.

    Returns
    -------
    Schedule

    Raises
    ------
    TypeError
        For anything but a Schedule, a known name or (when not required) None.

    Examples
    --------
    >>> as_schedule(None).name, as_schedule(OU()).name, as_schedule(None, VPExp()).name
    ('VPTrig', 'OU', 'VPExp')
    >>> as_schedule("vplinear")
    VPLinear(beta_min=0.001, beta_max=3.0, T=1.0)
    >>> as_schedule(3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: schedule must be a Schedule or one of the names [...], got int
    """
    if isinstance(schedule, Schedule):
        return schedule
    allowed = f"a Schedule or one of the names {list(SCHEDULE_NAMES)}"
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    check_bool(required, "required")
    if default is not None and not isinstance(default, Schedule):
        raise TypeError(f"default must be a Schedule or None, got {type(default).__name__}")
    if schedule is None:
        if required:
            raise TypeError(f"{name} is required: give {allowed}")
        return VPTrig() if default is None else default
    if isinstance(schedule, str):
        by_name = {key.lower(): key for key in SCHEDULE_NAMES}
        key = by_name.get(schedule.strip().lower())
        if key is None:
            raise TypeError(f"{name} must be {allowed}, got the unknown name {schedule!r}")
        return globals()[key]()
    raise TypeError(f"{name} must be {allowed}, got {type(schedule).__name__}")


# --- prediction units -------------------------------------------------------------------


def unit_coefficients(
    unit: str, t: npt.ArrayLike, schedule: Schedule | str
) -> tuple[np.ndarray, np.ndarray]:
    r"""The affine form ``prediction = a_t x + b_t x0`` of a prediction unit at x = x_t.

    With x = alpha_t x0 + sigma_t eps (see :func:`convert_prediction` for the units):

    ============  ===========================  ==================================
    unit          a_t                          b_t
    ============  ===========================  ==================================
    ``x0``        0                            1
    ``eps``       1/sigma                      -alpha/sigma
    ``score``     -1/sigma^2                   alpha/sigma^2
    ``v``         alpha/sigma                  -(alpha^2 + sigma^2)/sigma
    ``velocity``  sigma'/sigma                 alpha' - alpha sigma'/sigma
    ============  ===========================  ==================================

    with sigma'/sigma = (d sigma^2/dt)/(2 sigma^2) and alpha' = alpha f_t. Converting a
    prediction p from unit u to unit w is ``a_w x + b_w (p - a_u x)/b_u``; this is how
    :func:`convert_prediction` and :func:`diffmem_theory.core.dynamics.solve` change units
    (the latter on arrays of any namespace).

    Parameters
    ----------
    unit : {"x0", "eps", "score", "v", "velocity"}
        The prediction unit.
    t : float or array
        Times in the schedule's domain.
    schedule : Schedule or str
        The noise schedule.

    Returns
    -------
    a, b : ndarray
        Shaped like ``t``.

    Raises
    ------
    ValueError
        For an unknown unit, times outside the domain, or coefficients beyond the float64
        range (1/sigma_t^2 of the score at sigma_t < 1e-154, ...).

    See Also
    --------
    convert_prediction, loss_scale

    Examples
    --------
    >>> a, b = unit_coefficients("velocity", 0.5, FlowMatching())     # (x - x0)/t
    >>> float(a), float(b)
    (2.0, -2.0)
    """
    schedule = as_schedule(schedule, required=True)
    check_choice(unit, "unit", PREDICTIONS)
    t = schedule.check_time(t)
    alpha, sigma = schedule.alpha(t), schedule.sigma(t)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        if unit == "x0":
            a, b = np.zeros_like(alpha), np.ones_like(alpha)
        elif unit == "eps":
            a, b = 1.0 / sigma, -alpha / sigma
        elif unit == "score":
            a, b = -1.0 / sigma**2, alpha / sigma**2
        elif unit == "v":  # Salimans & Ho: v = alpha eps - sigma x0
            a, b = alpha / sigma, -(alpha**2 + sigma**2) / sigma
        else:  # "velocity"
            a = 0.5 * schedule.dsigma2(t) / schedule.sigma2(t)
            b = alpha * (schedule.drift(t) - a)
    what = f"the coefficients of the {unit!r} unit at these times"
    return finite_result(a, what), finite_result(b, what)


def _check_units(schedule: Schedule | str, source: str, target: str) -> Schedule:
    schedule = as_schedule(schedule, required=True)
    check_choice(source, "source", PREDICTIONS)
    check_choice(target, "target", PREDICTIONS)
    return schedule


def convert_prediction(
    pred: npt.ArrayLike,
    x: npt.ArrayLike,
    t: npt.ArrayLike,
    schedule: Schedule,
    source: str = "x0",
    target: str = "eps",
) -> np.ndarray:
    r"""Convert a prediction at (x_t, t) from unit ``source`` to unit ``target``.

    Every unit is affine in the x0-prediction given x = x_t = alpha_t x0 + sigma_t eps:

    * ``"x0"``: x0;
    * ``"eps"``: eps = (x - alpha x0)/sigma;
    * ``"score"``: grad log p_t(x) = (alpha x0 - x)/sigma^2 (Tweedie, Buchanan et al.
      (paper 000), eq. (4));
    * ``"v"``: v = alpha eps - sigma x0 (Salimans & Ho, 2022, "Progressive distillation",
      Sec. 4); on a variance-preserving schedule with alpha = cos(phi), sigma = sin(phi) it is
      dx/dphi, the velocity in the *angle* phi, not in t;
    * ``"velocity"``: dx_t/dt = alpha_t' x0 + sigma_t' eps, the velocity in t that flow
      matching regresses (Lipman et al., 2023; on :class:`FlowMatching` it is eps - x0).
      Its conditional mean given x_t is the probability-flow velocity
      f_t x - (g_t^2/2) grad log p_t(x) (expand x = alpha x0 + sigma eps with f = alpha'/alpha
      and g^2 = 2 sigma sigma' - 2 f sigma^2), so a "velocity" prediction is exactly the
      right-hand side of the probability-flow ODE. Written in x and x0 it is
      (sigma'/sigma) x + (alpha' - alpha sigma'/sigma) x0.

    The two velocities differ: "v" = (d phi/dt)^{-1} "velocity" on VP schedules only (e.g. on
    :class:`VPTrig`, d phi/dt = 1/sqrt(1 - t^2)), and "v" has no such meaning elsewhere.

    Parameters
    ----------
    pred : (..., d) array
        The prediction in unit ``source``.
    x : (..., d) array
        The noisy state x_t (same shape as ``pred``).
    t : float or array
        Times in the schedule's domain, a scalar or broadcasting against ``x.shape[:-1]``.
    schedule : Schedule or str
        The noise schedule.
    source, target : {"x0", "eps", "score", "v", "velocity"}
        Units.

    Returns
    -------
    ndarray
        The prediction in unit ``target``, shape of ``x``.

    Raises
    ------
    ValueError
        Shapes that do not match, times outside the domain, an unknown unit, or a result
        beyond the float64 range.

    See Also
    --------
    unit_coefficients : The affine form of each unit.
    loss_scale : How the squared errors of two units compare.
    diffmem_theory.core.denoisers.as_denoiser : A model in any unit.

    References
    ----------
    Buchanan et al. (paper 000), eq. (4); T. Salimans and J. Ho, "Progressive distillation for
    fast sampling of diffusion models", ICLR 2022; Y. Lipman et al., "Flow matching for
    generative modeling", ICLR 2023.

    Examples
    --------

    >>> import numpy as np
    >>> s, x0, eps = VPTrig(), np.array([1.0, -2.0]), np.array([0.5, 0.5])
    >>> x = s.alpha(0.6) * x0 + s.sigma(0.6) * eps
    >>> convert_prediction(x0, x, 0.6, s, "x0", "eps").round(6).tolist()
    [0.5, 0.5]
    >>> convert_prediction(eps, x, 0.6, s, "eps", "score").round(6).tolist()   # -eps/sigma
    [-0.833333, -0.833333]
    >>> fm = FlowMatching()                                        # velocity = eps - x0
    >>> x = fm.alpha(0.6) * x0 + fm.sigma(0.6) * eps
    >>> convert_prediction(x0, x, 0.6, fm, "x0", "velocity").round(6).tolist()
    [-0.5, 2.5]
    """
    schedule = _check_units(schedule, source, target)
    x = as_float_array(x, "x")
    pred = as_float_array(pred, "pred")
    if x.ndim < 1:
        raise ValueError(f"x must have shape (..., d) with at least 1 dimension, got {x.shape}")
    if pred.shape != x.shape:
        raise ValueError(f"pred has shape {pred.shape} but x has shape {x.shape}; they must match")
    t = schedule.check_time(t)
    try:
        fits = np.broadcast_shapes(t.shape, x.shape[:-1]) == x.shape[:-1]
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"t has shape {t.shape}, which does not broadcast to x.shape[:-1] = {x.shape[:-1]}"
        )
    if source == target:
        return pred.copy()
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        a_src, b_src = (c[..., None] for c in unit_coefficients(source, t, schedule))
        a_tgt, b_tgt = (c[..., None] for c in unit_coefficients(target, t, schedule))
        x0 = (pred - a_src * x) / b_src
        out = (a_tgt * x + b_tgt * x0).astype(np.result_type(x, pred), copy=False)
    return finite_result(out, f"the {target}-prediction (from {source})")


def loss_scale(
    t: npt.ArrayLike, schedule: Schedule, source: str = "x0", target: str = "eps"
) -> np.ndarray:
    """Factor r(t) with ||target error||^2 = r(t) ||source error||^2 at time t.

    The error of a unit is b times the x0 error (see :func:`convert_prediction`), so
    r = (b_target / b_source)^2: eps vs x0 gives psi_t ("||eps_hat - eps||^2 =
    psi_t ||x_hat - x_0||^2", Buchanan et al. (paper 000), §2 after eq. (6)); score vs x0
    gives alpha^2/sigma^4; v (Salimans-Ho) vs x0 gives ((alpha^2 + sigma^2)/sigma)^2;
    velocity (dx_t/dt) vs x0 gives (alpha' - alpha sigma'/sigma)^2 (1/t^2 on
    :class:`FlowMatching`).

    Parameters
    ----------
    t : float or array
        Times in the schedule's domain.
    schedule : Schedule or str
        The noise schedule.
    source, target : {"x0", "eps", "score", "v", "velocity"}
        Units.

    Returns
    -------
    ndarray
        r(t), shape of ``t``.

    See Also
    --------
    convert_prediction, unit_coefficients

    References
    ----------
    Buchanan et al. (paper 000), §2 after eq. (6).

    Examples
    --------

    >>> round(float(loss_scale(0.5, VPTrig(), "x0", "eps")), 6)   # psi = 0.75/0.25
    3.0
    >>> round(float(loss_scale(0.5, VPTrig(), "eps", "score")), 6)  # 1/sigma^2
    4.0
    >>> round(float(loss_scale(0.5, FlowMatching(), "x0", "velocity")), 6)   # 1/t^2
    4.0
    """
    schedule = _check_units(schedule, source, target)
    t = schedule.check_time(t)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        b_src = unit_coefficients(source, t, schedule)[1]
        b_tgt = unit_coefficients(target, t, schedule)[1]
        out = (b_tgt / b_src) ** 2
    return finite_result(out, f"the {source} -> {target} loss scale")
