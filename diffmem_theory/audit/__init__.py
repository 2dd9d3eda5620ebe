r"""The five papers' theory applied to a user's own data set and model (``diffmem audit``).

:func:`run` reads the data, splits off held-out points, resolves the model, draws its samples
(or takes the user's), and hands the same :class:`~diffmem_theory.audit.base.AuditInputs` to
one section per theory; :class:`~diffmem_theory.audit.report.AuditReport` writes the result as
HTML and JSON. :mod:`~diffmem_theory.audit.base` holds the inputs, values and sections every
part shares; each section is a module ``diffmem_theory.audit.<key>`` with a function
``section(inputs, **options) -> Section``:

=================  ===============================================================
``memorization``   nearest / second-nearest distance ratio (Buchanan et al., Def. 2.2),
                   fraction within tau (Baptista et al.), distance histograms
``crossover``      paper 000: the model's loss beside the memorizing and generalizing
                   denoisers, the crossover M*/N of eq. (14)
``mixing``         paper 001: the mixing time t_M and the KDE bandwidths (Halder)
``voronoi``        paper 002: where the empirical-score ODE ends from the same noise
``fisher``         paper 003: loss gap = Fisher divergence (Ye et al., Prop 4.1)
``leakage``        paper 004: leakage of the data's Gaussian fit (Shah et al., Lemma 4.2)
=================  ===============================================================
"""

from __future__ import annotations

import importlib
import inspect
import math
import os
import sys
import time
import traceback
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from diffmem_theory import _progress as bars
from diffmem_theory import data as _data
from diffmem_theory._validation import (
    OutOfRangeWarning,
    as_float_array,
    check_bool,
    check_choice,
    check_int,
)
from diffmem_theory.audit.base import SECTIONS, AuditInputs
from diffmem_theory.core.denoisers import Denoiser
from diffmem_theory.core.dynamics import solve
from diffmem_theory.core.metrics import two_nearest
from diffmem_theory.core.schedules import Schedule, VPTrig, as_schedule

if TYPE_CHECKING:
    from diffmem_theory.audit.report import AuditReport

__all__ = ["SECTIONS", "AuditReport", "PriorMismatchWarning", "run"]


def __getattr__(name: str) -> Any:
    # the report (and with it Matplotlib) is imported on first use, so that importing the CLI
    # or the sections' keys does not load Matplotlib
    if name == "AuditReport":
        from diffmem_theory.audit.report import AuditReport

        return AuditReport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Paper 000's DDIM grid starts at t = 0.999 on VPTrig; a schedule with T = inf starts where its
# signal-to-noise ratio alpha^2/sigma^2 is the same.
_START_SNR = float(VPTrig().snr(0.999))
_SCALE_POINTS = 256  # training points whose nearest-neighbour distance sets the loss times
_MARGIN = 3.0  # the loss times reach this factor beyond the two scales on either side
_PRIOR_TOLERANCE = 0.01  # alpha_T^2 E|X_0|^2 / (sigma_T^2 d) above which x_T's law is off


class PriorMismatchWarning(OutOfRangeWarning):
    """The initial noise ``N(0, sigma_T^2 I)`` is far from the law of ``X_T`` (the signal
    ``alpha_T X_0`` left at the first time of the grid is not small against the noise)."""


def _train_and_held(
    data: Any, held_out: Any, seed: int, scale: str
) -> tuple[np.ndarray, Any, dict]:
    """Read ``data`` and split it: ``(train, held or None, what to report about the data)``."""
    if isinstance(data, (str, os.PathLike)):
        data = _data.load(data, scale=scale)
    if isinstance(data, _data.Dataset):
        x = data.x.reshape(len(data), -1)
        about = {
            "source": data.source,
            "scale": data.scale,
            "value_range": data.value_range,
            "image_shape": list(data.image_shape),
        }
    else:
        x = as_float_array(data, "data", ndim=2, dtype=np.float64)
        about = {"source": "array", "scale": "as given", "value_range": None}
        about["image_shape"] = [int(x.shape[1])]
    if x.shape[0] < 2 or x.shape[1] < 1:
        raise ValueError(f"data must hold at least 2 points of dimension >= 1, got {x.shape}")
    if held_out is None or (isinstance(held_out, (int, np.integer)) and held_out == 0):
        return x, None, {**about, "held_out": "none"}
    if isinstance(held_out, (int, float, np.integer, np.floating)) and not isinstance(
        held_out, bool
    ):
        train, held = _data.split(x, held_out, seed=seed)
        return train, held, {**about, "held_out": f"split off: {held_out!r}, seed {seed}"}
    if isinstance(held_out, (str, os.PathLike)):
        held_out = _data.load(held_out, scale=scale)
    if isinstance(held_out, _data.Dataset):
        held_out = held_out.x.reshape(len(held_out), -1)
    held = as_float_array(held_out, "held_out", ndim=2, dtype=np.float64)
    if held.shape[0] < 1 or held.shape[1] != x.shape[1]:
        raise ValueError(
            f"held_out points must have shape (M, {x.shape[1]}) with M >= 1 (the data's "
            f"dimension), got shape {held.shape}"
        )
    return x, held, {**about, "held_out": "given"}


def _image_shape(shape: list[int], d: int) -> tuple[int, ...] | None:
    """The shape of one image, ``(H, W)`` or ``(H, W, C)`` with ``C`` in 1, 3, 4 (else None)."""
    shape = tuple(int(s) for s in shape)
    if math.prod(shape) != d or len(shape) not in (2, 3):
        return None
    if len(shape) == 3 and shape[2] not in (1, 3, 4):
        return None
    return shape


def _read_samples(samples: Any, d: int) -> tuple[np.ndarray, str]:
    """The user's samples as a float64 ``(B, d)`` array, and where they came from."""
    where = "array"
    if isinstance(samples, (str, os.PathLike)):
        path = Path(samples)
        if path.suffix != ".npy":
            raise ValueError(f"samples must be an array or a .npy file, got the path {str(path)!r}")
        try:
            samples = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise ValueError(f"samples: cannot read {str(path)!r} as .npy: {err}") from err
        where = str(path)
    arr = as_float_array(samples, "samples", ndim=2, dtype=np.float64)
    if arr.shape[0] < 1 or arr.shape[1] != d:
        raise ValueError(
            f"samples must have shape (B, {d}) with B >= 1 (the data's dimension d = {d}), got "
            f"shape {arr.shape}"
        )
    return arr, where


def _sampling_grid(schedule: Schedule, steps: int) -> np.ndarray:
    """The decreasing DDIM grid: ``schedule.time_grid(steps)`` (linear in t, from T - 1e-3 to
    1e-3; paper 000's grid on VPTrig), from where the SNR is paper 000's first when T = inf."""
    if math.isinf(schedule.T):
        return schedule.time_grid(steps, t_max=float(schedule.inverse_snr(_START_SNR)))
    return schedule.time_grid(steps)


def _loss_times(
    train: np.ndarray, schedule: Schedule, grid: np.ndarray, n_times: int, rng: np.random.Generator
) -> tuple[np.ndarray, dict]:
    r"""Increasing times spread in log-SNR over the range where the losses differ.

    In the noise-to-signal ratio ``r_t = sigma_t / alpha_t`` the empirical posterior of a noised
    training point ``x_i`` weighs another point ``x_j`` by ``exp(-D^2/(2 r^2) + O(D/r))``,
    ``D = |x_i - x_j|``: it sits on ``x_i`` for ``r << D_nn / sqrt(2 ln N)`` (``D_nn`` the
    median nearest-neighbour distance) and spreads over the whole set, which every denoiser
    then maps to the mean, for ``r >> D_rms = sqrt(2 tr Cov)`` (the root-mean-square distance
    between two points). The times run from ``r_lo = D_nn / (3 sqrt(2 ln N))`` to
    ``r_hi = 3 D_rms``, equally spaced in log-SNR ``-2 ln r`` over the part of that range the
    sampling grid covers (the grid's whole range when it covers none of it). ``D_nn`` is the
    median over at most 256 training points drawn with ``rng``.
    """
    n = train.shape[0]
    pick = np.sort(rng.choice(n, size=min(n, _SCALE_POINTS), replace=False))
    sq, idx = two_nearest(train[pick], train)
    other = np.where(idx[:, 0] == pick, sq[:, 1], sq[:, 0])
    positive = other[other > 0]
    if positive.size == 0:
        raise ValueError("data: the training points are all identical (no distance scale)")
    d_nn = float(np.sqrt(np.median(positive)))
    d_rms = float(np.sqrt(2.0 * train.var(axis=0, ddof=1).sum()))
    r_lo = d_nn / (_MARGIN * math.sqrt(2.0 * math.log(max(n, 2))))
    r_hi = max(_MARGIN * d_rms, 10.0 * r_lo)
    # in log-SNR (no exp overflow for extreme scales), intersected with the grid's range
    lo, hi = float(schedule.log_snr(grid[0])), float(schedule.log_snr(grid[-1]))
    top = min(max(-2.0 * math.log(r_lo), lo), hi)
    bottom = min(max(-2.0 * math.log(r_hi), lo), hi)
    if top - bottom < 1e-9 * (hi - lo):  # no overlap: the grid's whole range
        top, bottom = hi, lo
    log_snr = np.linspace(top, bottom, n_times)
    times = np.clip(schedule.inverse_snr(np.exp(log_snr)), grid[-1], grid[0])
    about = {
        "nearest-neighbour distance (median)": d_nn,
        "rms distance between points": d_rms,
        "noise-to-signal range": [r_lo, r_hi],
        "log-SNR range of the times": [top, bottom],
    }
    return np.unique(times), about


def _bar(items: Any, desc: str, unit: str, progress: bool) -> Any:
    return tqdm(
        items, desc=desc, unit=unit, disable=bars.disable(progress), file=sys.stderr, leave=False
    )


def _sample(
    model: Denoiser,
    label: str,
    schedule: Schedule,
    x_T: np.ndarray,
    grid: np.ndarray,
    progress: bool,
) -> np.ndarray:
    """The model's DDIM samples from ``x_T``; a bad model output is an error naming the model.

    One :func:`solve` call per step (a DDIM step depends only on its two times and the state,
    so this is the one-call result), with a progress bar over the steps.
    """
    x = x_T
    try:
        for lo in _bar(range(len(grid) - 1), "sampling", "step", progress):
            x = solve(model, schedule, x, grid[lo : lo + 2], method="ddim").final
    except (ValueError, TypeError) as err:
        raise type(err)(f"model {label!r} failed while sampling: {err}") from err
    return np.asarray(x, dtype=np.float64)


def _check_prior(schedule: Schedule, train: np.ndarray, t0: float) -> None:
    a2, s2 = float(schedule.alpha(t0)) ** 2, float(schedule.sigma2(t0))
    ratio = a2 * float(np.mean(train * train)) / s2
    if ratio > _PRIOR_TOLERANCE:
        warnings.warn(
            f"x_T ~ N(0, sigma_T^2 I) at t = {t0:.4g} of {schedule.name}: alpha_T^2 E|X_0|^2 / "
            f"(sigma_T^2 d) = {ratio:.3g} > {_PRIOR_TOLERANCE}, the samples start far from the "
            f"law of X_T (use a schedule whose noise dominates the data at T)",
            PriorMismatchWarning,
            stacklevel=3,
        )


def _sections(sections: Any, options: Any) -> tuple[list[str], dict[str, dict]]:
    if sections is None:
        keys = list(SECTIONS)
    else:
        if isinstance(sections, str):
            sections = [s.strip() for s in sections.split(",") if s.strip()]
        if not isinstance(sections, Sequence) or not sections:
            raise ValueError(f"sections must be None or a non-empty list of {list(SECTIONS)}")
        bad = [s for s in sections if s not in SECTIONS]
        if bad:
            raise ValueError(f"sections must be among {list(SECTIONS)}, got {bad}")
        keys = [s for s in SECTIONS if s in sections]
    options = {} if options is None else options
    if not isinstance(options, Mapping):
        raise TypeError(f"options must be a dict {{section: {{option: value}}}}, got {options!r}")
    for key, opts in options.items():
        if key not in keys:
            raise ValueError(f"options names the section {key!r}, which is not run: {keys}")
        if not isinstance(opts, Mapping) or not all(isinstance(k, str) for k in opts):
            raise TypeError(f"options[{key!r}] must be a dict of option names, got {opts!r}")
    opts = {k: dict(options.get(k, {})) for k in keys}
    for key, given in opts.items():
        if not given:
            continue
        try:
            module = importlib.import_module(f"diffmem_theory.audit.{key}")
        except Exception:  # recorded as the section's error when it runs
            continue
        try:
            inspect.signature(module.section).bind(None, **given)
        except TypeError as err:
            raise ValueError(f"options[{key!r}] does not fit {key}.section: {err}") from err
    return keys, opts


def run(
    data: Any,
    model: Any,
    schedule: Schedule | str = "VPTrig",
    *,
    prediction: str | None = None,
    scale: str = "[0,1]",
    held_out: Any = 0.2,
    n_samples: int = 1000,
    samples: Any = None,
    steps: int = 25,
    seed: int = 0,
    sections: Sequence[str] | str | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    n_times: int = 12,
    n_noise: int = 1,
    progress: bool = True,
) -> AuditReport:
    r"""Audit a model against the five papers' theory on the user's own data set.

    The steps, each timed in the report:

    1. **Data.** ``data`` is a path (read by :func:`diffmem_theory.data.load`: ``.npy``,
       ``.npz``, IDX, CIFAR-10, PNG; mapped onto ``scale``), a
       :class:`~diffmem_theory.data.Dataset` or an ``(N, d)`` array (used as is). The model
       sees the data in these units: they must be the units it was trained on. ``held_out``
       points are split off with :func:`diffmem_theory.data.split` and ``seed`` (the same
       call reproduces the split).
    2. **Model.** :func:`diffmem_theory.audit.models.resolve_model` turns ``model`` (a callable
       in units ``prediction``, a law, a :class:`~diffmem_theory.core.denoisers.Denoiser`,
       ``"empirical"``, ``"gaussian"``, ``"gmm:K"``, ``"module:callable"`` or a saved ``nn``
       network) into a denoiser on the training points, probing it once.
    3. **Samples.** Unless ``samples`` are given, ``x_T = sigma_{t_0} z``, ``z ~ N(0, I)``
       (``n_samples`` rows drawn by ``numpy.random.default_rng([seed, 1])``), integrated by
       DDIM (:func:`~diffmem_theory.core.dynamics.solve`, ``method="ddim"``; Buchanan et al.,
       App. H.2) on ``schedule.time_grid(steps)``: ``steps + 1`` times linear in t from
       ``T - 10^-3`` down to ``10^-3`` (paper 000's grid on VPTrig); with ``T = inf`` (VPExp, OU)
       from the time whose SNR equals that of VPTrig at 0.999 (``alpha^2/sigma^2 = 2.0e-3``).
       ``N(0, sigma^2 I)`` stands for the law of ``X_{t_0}``, which has the signal
       ``alpha_{t_0} X_0`` left: a :class:`PriorMismatchWarning` says when
       ``alpha^2 E|X_0|^2 / (sigma^2 d) > 0.01`` (a VE schedule whose noise does not dominate
       the data).
    4. **Loss times.** ``n_times`` increasing times equally spaced in log-SNR over the range
       where the memorizing and generalizing denoisers differ: noise-to-signal ratios
       ``sigma/alpha`` from a third of ``D_nn / sqrt(2 ln N)`` (below it the empirical posterior
       sits on one training point; ``D_nn`` the median nearest-neighbour distance of at most
       256 training points, drawn by ``default_rng([seed, 2])``) to three times the
       root-mean-square distance between two training points (above it every denoiser
       returns the mean), intersected with the sampling grid's range (the grid's whole range
       when they do not overlap).
    5. **Sections.** Each of ``sections`` (default all, in the order of :data:`SECTIONS`) is
       ``importlib.import_module(f"diffmem_theory.audit.{key}").section(inputs, **opts)`` with
       ``opts = options.get(key, {})`` (an option name a section does not take is refused
       before any work; the values are the section's to check). A section that raises is
       recorded with its traceback in the report's errors; the others still run. Its figures
       are rendered to PNG and closed as it finishes.

    Parameters
    ----------
    data : path, Dataset or (N, d) array_like
        The data set (finite).
    model : callable, law, Denoiser or str
        The model (see :func:`diffmem_theory.audit.models.resolve_model`).
    schedule : Schedule or str, default "VPTrig"
        The schedule the model was trained on (a name of
        :data:`~diffmem_theory.core.schedules.SCHEDULE_NAMES`).
    prediction : {"x0", "eps", "score", "v", "velocity"}, optional
        The unit a user's callable returns (required for one; not given for the baselines and
        saved networks, which know theirs).
    scale : {"[0,1]", "[-1,1]", "none"}, default "[0,1]"
        The pixel scaling of a ``data`` path (:func:`diffmem_theory.data.load`; the papers'
        [0, 1] by default, ``"[-1,1]"`` for a model trained as in EDM, ``"none"`` for data
        already in the model's units); the samples must be in the same units.
    held_out : float, int, (M, d) array_like, Dataset, path or None, default 0.2
        The held-out fraction in (0, 1) or count of ``data`` (split off with ``seed``), points
        of the same distribution given separately, scaled as ``data`` (a path is read like
        ``data``, with ``scale``; then all of ``data`` trains), or None / 0 for none.
    n_samples : int, default 1000
        Samples drawn from the model (unused with ``samples``).
    samples : (B, d) array_like or path of a .npy file, optional
        The model's samples, in the units of ``data`` after its scaling (then there is no
        initial noise, and the Voronoi section draws its own).
    steps : int, default 25
        DDIM steps.
    seed : int, default 0
        Seeds the split, the initial noise, the loss times and every section.
    sections : sequence of str, a comma-separated str, or None
        Which sections to compute (default all).
    options : dict, optional
        ``{section key: {option: value}}``, passed to that section's ``section``.
    n_times : int, default 12
        Loss times (at least 2).
    n_noise : int, default 1
        Noise draws per point and time in the sections' Monte Carlo losses.
    progress : bool, default True
        tqdm progress bars over the sampling steps and the sections, on stderr.

    Returns
    -------
    AuditReport
        The inputs summary, the sections, the errors, the timings and the environment.

    Raises
    ------
    ValueError
        Bad data (NaN, fewer than 2 points, all identical, a bad file), ``held_out``,
        ``samples`` (NaN, a dimension other than the data's), ``sections``, ``options`` or
        counts, a model that cannot be resolved, or one that returns the wrong shape or NaN
        (each message names the argument).
    TypeError
        A schedule that is not one, or options that are not dicts.

    See Also
    --------
    diffmem_theory.audit.report.AuditReport : The report (``write``, ``summary``).
    diffmem_theory.audit.base.AuditInputs : What each section receives.

    Examples
    --------
    >>> from diffmem_theory.data import digits
    >>> rep = run(digits(limit=60), "empirical", n_samples=20, held_out=10, steps=10,
    ...           sections=["memorization"], progress=False)
    >>> rep.inputs["n_train"], rep.inputs["n_held_out"], rep.inputs["d"], rep.errors
    (50, 10, 64, {})
    """
    seed = check_int(seed, "seed", low=0, high=2**32 - 1)
    steps = check_int(steps, "steps", low=1, high=100_000)
    n_times = check_int(n_times, "n_times", low=2, high=10_000)
    n_noise = check_int(n_noise, "n_noise", low=1, high=100_000)
    check_bool(progress, "progress")
    check_choice(scale, "scale", _data.SCALES)
    keys, opts = _sections(sections, options)
    if samples is None:
        n_samples = check_int(n_samples, "n_samples", low=1, high=10_000_000)
    schedule = as_schedule(schedule, name="schedule")
    from diffmem_theory.audit.models import resolve_model
    from diffmem_theory.audit.report import AuditReport, render_figures

    timings: dict[str, float] = {}
    start = time.perf_counter()
    train, held, about = _train_and_held(data, held_out, seed, scale)
    d = train.shape[1]
    if samples is not None:
        samples, samples_from = _read_samples(samples, d)
    timings["data"] = time.perf_counter() - start

    start = time.perf_counter()
    den, label = resolve_model(model, train, schedule, prediction=prediction, seed=seed)
    timings["model"] = time.perf_counter() - start

    start = time.perf_counter()
    grid = _sampling_grid(schedule, steps)
    if samples is None:
        _check_prior(schedule, train, float(grid[0]))
        z = np.random.default_rng([seed, 1]).standard_normal((n_samples, d))
        x_T = float(schedule.sigma(grid[0])) * z
        samples = _sample(den, label, schedule, x_T, grid, progress)
        t_span, samples_from = grid, f"DDIM, {steps} steps on {schedule.name}.time_grid"
    else:
        x_T = t_span = None
    timings["sampling"] = time.perf_counter() - start
    times, scales = _loss_times(train, schedule, grid, n_times, np.random.default_rng([seed, 2]))

    inputs = AuditInputs(
        train=train,
        held_out=held,
        model=den,
        label=label,
        schedule=schedule,
        samples=samples,
        x_T=x_T,
        t_span=t_span,
        times=times,
        n_noise=n_noise,
        seed=seed,
        image_shape=_image_shape(about["image_shape"], d),
    )
    summary = {
        "data": about,
        "n_train": int(train.shape[0]),
        "n_held_out": 0 if held is None else int(held.shape[0]),
        "d": int(d),
        "model": label,
        "prediction": den.prediction,
        "schedule": repr(schedule),
        "samples": samples_from,
        "n_samples": int(samples.shape[0]),
        "t_span": None if t_span is None else [float(t_span[0]), float(t_span[-1]), steps],
        "times": times,
        "scales": scales,
        "n_noise": n_noise,
        "seed": seed,
        "sections": keys,
        "options": opts,
    }
    done, errors, png = [], {}, {}
    for key in _bar(keys, "audit", "section", progress):
        start = time.perf_counter()
        try:
            module = importlib.import_module(f"diffmem_theory.audit.{key}")
            sec = module.section(inputs, **opts[key])
        except Exception:
            errors[key] = traceback.format_exc()
        else:
            done.append(sec)
            try:
                png[key] = render_figures(sec)
            except Exception:
                errors[key] = traceback.format_exc()
        timings[key] = time.perf_counter() - start
    png.update({s.key: {} for s in done if s.key not in png})  # figures that failed to render
    return AuditReport(
        inputs=summary, sections=done, errors=errors, timings=timings, png=png, samples=samples
    )
