r"""The pieces every section of an audit shares: its inputs, its values and its section.

An audit (:func:`diffmem_theory.audit.run`) applies the five papers' theory to a user's data
set and model. Each theory contributes one :class:`Section` computed from the same
:class:`AuditInputs` (the training and held-out points, the model as a ``core`` denoiser, its
schedule, the initial noise and the samples). Every number of a section is a :class:`Value`
that names the theorem or equation it comes from; the section names its theorem and the
assumptions under which the number means what the theorem says.

Examples
--------
>>> v = Value("fraction memorized", 0.25, se=0.04, source="Buchanan et al., Def. 2.2")
>>> v.to_dict()["se"]
0.04
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from diffmem_theory.core.denoisers import Denoiser
from diffmem_theory.core.schedules import Schedule

__all__ = ["SECTIONS", "AuditInputs", "Section", "Value", "check_inputs", "jsonable"]

#: The sections of an audit, in the order :func:`diffmem_theory.audit.run` computes and the
#: report shows them; each is the module ``diffmem_theory.audit.<key>`` with a function
#: ``section(inputs, **options) -> Section``.
SECTIONS: tuple[str, ...] = ("memorization", "crossover", "mixing", "voronoi", "fisher", "leakage")


def jsonable(value: Any) -> Any:
    """``value`` with NumPy scalars and arrays (also inside lists, tuples, dicts) as Python ones.

    Non-finite floats become ``None`` (JSON has no NaN).

    Examples
    --------
    >>> jsonable({"a": np.arange(2), "b": np.float64("nan")})
    {'a': [0, 1], 'b': None}
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class Value:
    """One number of an audit and where it comes from.

    Attributes
    ----------
    name : str
        What it is, e.g. ``"fraction of samples memorized (1/3 rule)"``.
    value : float, int, str, bool or list
        The number (a list for a curve).
    se : float or list, optional
        Its standard error (Monte Carlo), where it has one.
    source : str
        The theorem, equation or definition, with the paper: ``"Ye et al., Prop 4.1"``.
    note : str
        How to read it (a sentence), or the assumption it rests on.
    """

    name: str
    value: Any
    se: Any = None
    source: str = ""
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The value as a JSON-ready dict."""
        return jsonable(
            {
                "name": self.name,
                "value": self.value,
                "se": self.se,
                "source": self.source,
                "note": self.note,
            }
        )


@dataclass
class Section:
    """One theory's part of an audit.

    Attributes
    ----------
    key : str
        Short identifier: ``"memorization"``, ``"crossover"``, ``"mixing"``, ``"voronoi"``,
        ``"fisher"``, ``"leakage"``.
    title : str
        One line, e.g. ``"Paper 003: loss gap = Fisher divergence"``.
    theorem : str
        The theorem(s) the section applies, with the paper.
    assumptions : list of str
        Under which assumptions its numbers mean what the theorem says (and which of them the
        user's setting does not meet).
    values : list of Value
        Its numbers.
    verdict : str
        One or two sentences: what the section says about this model.
    figures : dict of str to matplotlib Figure
        Its figures, by a short file-name stem.
    curves : dict
        Arrays behind the figures (stored in the JSON report).
    """

    key: str
    title: str
    theorem: str
    assumptions: list[str]
    values: list[Value]
    verdict: str
    figures: dict[str, Any] = field(default_factory=dict)
    curves: dict[str, Any] = field(default_factory=dict)

    def value(self, name: str) -> Value:
        """The value called ``name`` (``ValueError`` listing the names if there is none)."""
        for v in self.values:
            if v.name == name:
                return v
        names = [v.name for v in self.values]
        raise ValueError(f"no value {name!r} in section {self.key!r}: {names}")

    def to_dict(self) -> dict[str, Any]:
        """The section (without its figures) as a JSON-ready dict."""
        return {
            "key": self.key,
            "title": self.title,
            "theorem": self.theorem,
            "assumptions": list(self.assumptions),
            "values": [v.to_dict() for v in self.values],
            "verdict": self.verdict,
            "figures": sorted(self.figures),
            "curves": jsonable(self.curves),
        }


@dataclass(frozen=True)
class AuditInputs:
    r"""What every section of an audit works from (built by :func:`diffmem_theory.audit.run`).

    Attributes
    ----------
    train : (N, d) ndarray
        The training points (float64, finite).
    held_out : (M, d) ndarray or None
        Points of the same distribution the model was not trained on.
    model : Denoiser
        The model as a ``core`` denoiser: ``model(x, t)`` is its x0-prediction,
        ``model.predict(x, t, unit)`` any unit.
    label : str
        The model's name in the report (``"empirical"``, ``"gmm:8"``, ``"mymod:net"``, ...).
    schedule : Schedule
        The schedule the model was trained on, ``X_t = alpha_t X_0 + sigma_t Z``.
    samples : (B, d) ndarray
        The model's samples.
    x_T : (B, d) ndarray or None
        The initial noise the samples were integrated from (``None`` for samples read from a
        file): the Voronoi section integrates the empirical score from the same points.
    t_span : (L + 1,) ndarray or None
        The decreasing time grid the samples were integrated on (``None`` with a file).
    times : (k,) ndarray
        Increasing times at which the loss curves are evaluated (in the schedule's domain).
    n_noise : int
        Noise draws per training point and time in the Monte Carlo losses.
    seed : int
        Seeds every random draw of the audit.
    image_shape : tuple of int or None, default None
        The shape of one sample when the data are images (``(H, W)`` or ``(H, W, C)``, read
        from a :class:`~diffmem_theory.data.Dataset`): the memorization section then shows the
        samples beside their nearest training images.
    """

    train: np.ndarray
    held_out: np.ndarray | None
    model: Denoiser
    label: str
    schedule: Schedule
    samples: np.ndarray
    x_T: np.ndarray | None
    t_span: np.ndarray | None
    times: np.ndarray
    n_noise: int
    seed: int
    image_shape: tuple[int, ...] | None = None

    @property
    def n(self) -> int:
        """Number of training points."""
        return int(self.train.shape[0])

    @property
    def d(self) -> int:
        """Dimension."""
        return int(self.train.shape[1])


def check_inputs(inputs: Any) -> AuditInputs:
    """``inputs`` if it is an :class:`AuditInputs`, else ``TypeError`` (every section's guard).

    Examples
    --------
    >>> check_inputs(3)
    Traceback (most recent call last):
    ...
    TypeError: inputs must be an AuditInputs (built by diffmem_theory.audit.run), got int
    """
    if not isinstance(inputs, AuditInputs):
        raise TypeError(
            "inputs must be an AuditInputs (built by diffmem_theory.audit.run), "
            f"got {type(inputs).__name__}"
        )
    return inputs
