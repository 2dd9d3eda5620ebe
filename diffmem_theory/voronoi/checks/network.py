r"""Paper 002's network trends (Sec. 5.3, Figs. 9, 11, 15), registered with the ``nn`` extra.

Baptista et al. (paper 002), Sec. 5.3 train a ReLU MLP score network on the 20 points and count
the fraction of 1000 reverse-ODE samples within ``tau = 0.1`` of a training point. They print
no numbers for Figs. 9, 11 and 15, only trends, which these checks hold to our runs
(:func:`~diffmem_theory.voronoi.networks.sweep_fractions`):

* ``paper002.nn_epochs_trend``: the fraction rises with the number of epochs (width 256;
  Fig. 9);
* ``paper002.nn_width_trend``: the fraction rises with the width (Fig. 11);
* ``paper002.nn_i_vs_j``: I_0^N memorizes at least as much as J_0^N at every width and epoch
  count, and more somewhere (Fig. 15).

"Beyond Monte Carlo error": a fraction ``p`` of ``n`` samples has the binomial standard error
``se = max(sqrt(p (1 - p) / n), 1 / n)`` (:func:`~diffmem_theory.core.metrics.fraction_se`);
a series rises (:func:`~diffmem_theory.core.metrics.rising_trend`) when its last value
exceeds its first by more than ``Z = 3`` combined standard errors and no step falls by more
than ``Z``; one series dominates another when it is nowhere below it by more than ``Z``
combined standard errors and somewhere above it by more than ``Z``. The networks of a sweep
share their initial samples ``x_T``, so the differences are, if anything, less noisy than the
independent errors assumed here.

Quick mode (the default of ``diffmem reproduce --quick``) trains at most 3e4 epochs
(:data:`~diffmem_theory.voronoi.networks.QUICK`), full mode the paper's 2e5 and 3e5
(:data:`~diffmem_theory.voronoi.networks.FULL`); the runs are shared with the figures
``paper002.fig8``-``fig11`` and ``fig15`` of the same process. Without JAX, Equinox and Optax
(``pip install "diffmem-theory[nn]"``) the checks are not registered.
"""

from __future__ import annotations

import numpy as np

from diffmem_theory._optional import HAVE_NN
from diffmem_theory.registry import Outcome, check

if HAVE_NN:
    from diffmem_theory.core.metrics import fraction_se, rising_trend
    from diffmem_theory.voronoi.networks import FULL, QUICK, TAUS, sweep_fractions

    #: Standard errors a trend must clear.
    Z = 3.0

    def rising(p: np.ndarray, n: int, labels: list[str]) -> Outcome:
        """Outcome of "the fractions ``p`` (of ``n`` samples each) rise along the sweep".

        Value: the rise from the first to the last point in combined standard errors (passes
        above ``Z``, and when no step falls by more than ``Z``).

        Parameters
        ----------
        p : array_like
            The fractions along the sweep.
        n : int
            Samples behind each fraction.
        labels : list of str
            The sweep's points, for the note.

        Returns
        -------
        Outcome

        Examples
        --------
        >>> rising([0.02, 0.05, 0.3], 1000, ["a", "b", "c"]).passed
        True
        >>> rising([0.3, 0.05, 0.02], 1000, ["a", "b", "c"]).passed
        False
        """
        p = np.asarray(p, dtype=float)
        trend = rising_trend(p, n, Z)
        worst = trend.worst_step
        series = ", ".join(f"{lab}: {v:.3f}" for lab, v in zip(labels, p, strict=True))
        note = (
            f"fractions {series}; rise {trend.rise:.1f} SE; largest fall "
            f"{max(trend.worst_fall, 0.0):.1f} SE ({labels[worst]} -> {labels[worst + 1]})"
        )
        return Outcome(trend.rise, Z, None, trend.passed, note)

    def dominates(p_hi: np.ndarray, p_lo: np.ndarray, n: int, labels: list[str]) -> Outcome:
        """Outcome of "``p_hi >= p_lo`` everywhere within ``Z`` SE, ``>`` beyond it somewhere".

        Value: the largest excess ``(p_hi - p_lo) / se`` (passes above ``Z``, and when the
        smallest is ``>= -Z``).

        Parameters
        ----------
        p_hi, p_lo : array_like
            The fractions of the two series at the same points.
        n : int
            Samples behind each fraction.
        labels : list of str
            The points, for the note.

        Returns
        -------
        Outcome

        Examples
        --------
        >>> dominates([0.1, 0.5], [0.1, 0.3], 1000, ["a", "b"]).passed
        True
        >>> dominates([0.1, 0.3], [0.1, 0.5], 1000, ["a", "b"]).passed
        False
        """
        p_hi, p_lo = np.asarray(p_hi, dtype=float), np.asarray(p_lo, dtype=float)
        z = (p_hi - p_lo) / np.hypot(fraction_se(p_hi, n), fraction_se(p_lo, n))
        lo, hi = int(np.argmin(z)), int(np.argmax(z))
        passed = z[hi] > Z and z[lo] >= -Z
        note = (
            f"largest excess {z[hi]:.1f} SE at {labels[hi]} ({p_hi[hi]:.3f} vs {p_lo[hi]:.3f}); "
            f"smallest {z[lo]:.1f} SE at {labels[lo]} ({p_hi[lo]:.3f} vs {p_lo[lo]:.3f}); "
            f"above beyond {Z:g} SE at {int(np.sum(z > Z))} of {z.size} points"
        )
        return Outcome(float(z[hi]), Z, None, passed, note)

    def _fractions(over: str, objective: str, seed: int, quick: bool) -> tuple:
        """Fractions within 0.1 along a sweep, ``n`` and the sweep's (width, epochs) points."""
        sweep = QUICK if quick else FULL
        r = sweep_fractions(over, objective=objective, seed=seed, sweep=sweep)
        if over == "epochs":
            points = [(sweep.epoch_width, int(e)) for e in r["x"]]
        else:
            points = [(int(w), sweep.width_epochs) for w in r["x"]]
        return r["fraction"][TAUS.index(0.1)], r["n"], points

    @check("paper002.nn_epochs_trend", equation="Baptista et al., Sec. 5.3, Figs. 8-9")
    def nn_epochs_trend(seed: int = 0, quick: bool = True) -> Outcome:
        """The fraction of samples within 0.1 of the data rises with the epochs (width 256).

        J_0^N, 1000 samples per snapshot; quick: 5e3-3e4 epochs, full: 1e3-3e5.
        """
        p, n, points = _fractions("epochs", "J", seed, quick)
        return rising(p, n, [f"{e} epochs" for _, e in points])

    @check("paper002.nn_width_trend", equation="Baptista et al., Sec. 5.3, Figs. 10-11")
    def nn_width_trend(seed: int = 0, quick: bool = True) -> Outcome:
        """The fraction of samples within 0.1 of the data rises with the network's width.

        J_0^N, 1000 samples per width; quick: widths 8-256 at 3e4 epochs, full: 8-512 at 2e5.
        """
        p, n, points = _fractions("widths", "J", seed, quick)
        return rising(p, n, [f"width {w}" for w, _ in points])

    @check("paper002.nn_i_vs_j", equation="Baptista et al., Sec. 5.3, Fig. 15")
    def nn_i_vs_j(seed: int = 0, quick: bool = True) -> Outcome:
        """I_0^N gives at least the fraction J_0^N gives at every width and epoch count.

        Both sweeps (widths and epochs), 1000 samples per network, tau = 0.1; passes when I_0^N
        is nowhere below J_0^N by more than 3 SE and somewhere above it by more than 3 SE.
        """
        p_i, p_j = {}, {}  # keyed by (width, epochs): the sweeps share a point
        for over in ("widths", "epochs"):
            fi, n, points = _fractions(over, "I", seed, quick)
            fj, _, _ = _fractions(over, "J", seed, quick)
            p_i.update(zip(points, fi, strict=True))
            p_j.update(zip(points, fj, strict=True))
        labels = [f"width {w}, {e} epochs" for w, e in p_i]
        return dominates(np.array(list(p_i.values())), np.array(list(p_j.values())), n, labels)
