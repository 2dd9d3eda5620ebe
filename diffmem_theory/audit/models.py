r"""The model of an audit: a user's callable, a saved network or a baseline, as a ``core`` denoiser.

:func:`resolve_model` turns what a user names on the command line or passes to
:func:`diffmem_theory.audit.run` into a :class:`~diffmem_theory.core.denoisers.Denoiser` and a
label for the report. The baselines are the two poles of Buchanan et al. (paper 000), Sec. 2:
``"empirical"`` is the memorizing denoiser of the training set (eq. (7)); ``"gaussian"`` and
``"gmm:K"`` are generalizing denoisers of laws fitted to it (eqs. (8)-(9)).

>>> import numpy as np
>>> train = np.random.default_rng(0).normal(size=(50, 3))
>>> den, label = resolve_model("gmm:2", train, "VPTrig")
>>> label
'gmm:2 (isotropic Gaussian mixture, K = 2, fitted by EM, seed 0)'
>>> den(train[:4], 0.5).shape
(4, 3)
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from diffmem_theory._optional import HAVE_NN
from diffmem_theory._validation import as_points, check_choice, check_int
from diffmem_theory.core.denoisers import Denoiser, as_denoiser
from diffmem_theory.core.distributions import EmpiricalDistribution
from diffmem_theory.core.fit import fit_gaussian, fit_gmm
from diffmem_theory.core.schedules import PREDICTIONS, Schedule, as_schedule
from diffmem_theory.kernels import to_host

__all__ = ["resolve_model"]

_FORMS = (
    "a callable f(x, t), a core law or Denoiser, a network built by nn.mlp, 'empirical', "
    "'gaussian', 'gmm:K', 'module:callable' (a dotted module or a .py file) or the path of a "
    "file saved by nn.save"
)
_PROBE_POINTS = 4


def _mid_time(schedule: Schedule) -> float:
    """The time of signal-to-noise ratio 1 (``alpha_t = sigma_t``); the grid's middle if none."""
    try:
        return float(schedule.inverse_snr(1.0))
    except ValueError:  # a VE schedule whose SNR stays above 1
        grid = schedule.time_grid()
        return float(grid[len(grid) // 2])


def _probe(den: Denoiser, train: np.ndarray, schedule: Schedule, label: str, seed: int) -> None:
    """Call the model once on a few noised training points; a bad answer is a ValueError."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(train.shape[0], size=min(_PROBE_POINTS, train.shape[0]), replace=False)
    t = _mid_time(schedule)
    x = float(schedule.alpha(t)) * train[np.sort(pick)] + float(
        schedule.sigma(t)
    ) * rng.standard_normal((pick.size, train.shape[1]))
    try:
        out = to_host(den.predict(x, t, den.prediction))
    except (TypeError, ValueError) as err:
        raise ValueError(f"model {label}: {err}") from err
    except Exception as err:  # the user's code: any failure is a bad model
        raise ValueError(
            f"model {label} failed when called on {pick.size} noised training points of shape "
            f"{x.shape} at t = {t:.4g}: {type(err).__name__}: {err}"
        ) from err
    if not np.all(np.isfinite(np.asarray(out, dtype=np.float64))):
        raise ValueError(
            f"model {label} returned NaN or inf on {pick.size} noised training points at "
            f"t = {t:.4g} (finite inputs of shape {x.shape})"
        )


def _no_prediction(prediction: str | None, label: str) -> None:
    if prediction is not None:
        raise ValueError(
            f"prediction must not be given for {label}: it answers every unit itself, got "
            f"prediction={prediction!r}"
        )


def _own_unit(prediction: str | None, own: str, label: str) -> str:
    """A model that declares its unit: ``prediction`` must be None or that unit."""
    if prediction is not None and prediction != own:
        raise ValueError(
            f"prediction must not be given for {label}, which predicts {own!r} itself, got "
            f"prediction={prediction!r}"
        )
    return own


def _check_dim(dim: int, d: int, label: str) -> None:
    if dim != d:
        raise ValueError(
            f"model {label} has dimension {dim} but train has dimension {d}; they must match"
        )


def _network(net: Any, schedule: Schedule, prediction: str | None, d: int, label: str) -> Denoiser:
    from diffmem_theory import nn

    _own_unit(prediction, net.prediction, label)
    _check_dim(net.data_dim, d, label)
    return nn.as_denoiser(net, schedule)


def _saved_network(
    path: str, schedule: Schedule, prediction: str | None, d: int
) -> tuple[Denoiser, str]:
    if not HAVE_NN:
        raise ValueError(
            f"model {path!r} is a saved network: loading it needs the nn extra "
            f"(pip install 'diffmem-theory[nn]')"
        )
    from diffmem_theory import nn
    from diffmem_theory.nn.serialization import read_header

    header = read_header(path)
    trained_on = header["schedule"]
    if trained_on is not None and trained_on != repr(schedule):
        raise ValueError(
            f"model {path!r} was trained on the schedule {trained_on} but schedule is "
            f"{schedule!r}; audit it with the schedule it was trained on"
        )
    label = (
        f"saved network {Path(path).name} (MLP of width {header['width']}, depth "
        f"{header['depth']}, {header['prediction']}-prediction)"
    )
    return _network(nn.load(path), schedule, prediction, d, label), label


def _import(spec: str) -> tuple[Any, str]:
    """The object named by ``"module:attr"`` (``module`` dotted or a .py file; ``attr`` dotted)."""
    module_name, _, attr = spec.rpartition(":")
    if not module_name or not attr:
        raise ValueError(f"model {spec!r}: expected 'module:callable', got an empty part")
    if module_name.endswith(".py") or os.sep in module_name or "/" in module_name:
        file = Path(module_name)
        if not file.is_file():
            raise ValueError(f"model {spec!r}: the module file {module_name!r} does not exist")
        unique = f"_diffmem_audit_model_{abs(hash(str(file.resolve())))}"
        loader = importlib.util.spec_from_file_location(unique, file)
        if loader is None or loader.loader is None:
            raise ValueError(f"model {spec!r}: {module_name!r} is not a Python module file")
        module = importlib.util.module_from_spec(loader)
        sys.modules[unique] = module
        try:
            loader.loader.exec_module(module)
        except Exception as err:
            del sys.modules[unique]
            raise ValueError(
                f"model {spec!r}: importing {module_name!r} failed: {type(err).__name__}: {err}"
            ) from err
    else:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            raise ValueError(f"model {spec!r}: no module named {module_name!r} ({err})") from err
        except Exception as err:
            raise ValueError(
                f"model {spec!r}: importing {module_name!r} failed: {type(err).__name__}: {err}"
            ) from err
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"model {spec!r}: {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj, spec


def _is_factory(obj: Any) -> bool:
    """A class, or a callable that takes no arguments and cannot be called as ``f(x, t)``."""
    if inspect.isclass(obj):
        return True
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):  # a builtin without a signature: a model
        return False
    try:
        sig.bind()
    except TypeError:
        return False
    try:
        sig.bind(None, None)
    except TypeError:
        return True
    return False


def _object(
    obj: Any, train: np.ndarray, schedule: Schedule, prediction: str | None, label: str
) -> Denoiser:
    """A model given as a Python object (also what a 'module:callable' spec names)."""
    d = train.shape[1]
    if isinstance(obj, Denoiser):
        _no_prediction(prediction, label)
        if obj.schedule is not None and repr(obj.schedule) != repr(schedule):
            raise ValueError(
                f"model {label} is bound to the schedule {obj.schedule!r} but schedule is "
                f"{schedule!r}"
            )
        if callable(getattr(obj.model, "denoiser", None)):  # a law answers for its dimension
            _check_dim(obj.model.dim, d, label)
        return as_denoiser(obj, schedule)
    if callable(getattr(obj, "denoiser", None)):  # a core law
        _no_prediction(prediction, label)
        _check_dim(obj.dim, d, label)
        return as_denoiser(obj, schedule)
    models = sys.modules.get("diffmem_theory.nn.models")
    if models is not None and isinstance(obj, models.MLP):
        return _network(obj, schedule, prediction, d, label)
    if not callable(obj):
        raise TypeError(f"model must be {_FORMS}; got {type(obj).__name__} {obj!r:.60}")
    declared = getattr(obj, "prediction", None)
    if isinstance(declared, str) and declared in PREDICTIONS:
        prediction = _own_unit(prediction, declared, label)
    if prediction is None:
        raise ValueError(
            f"prediction is required for the callable model {label}: the unit it returns, one "
            f"of {list(PREDICTIONS)} (x0 = the denoised data, eps = the noise, score = grad "
            f"log p_t, v = alpha eps - sigma x0, velocity = dx_t/dt); there is no default"
        )
    check_choice(prediction, "prediction", PREDICTIONS)
    return as_denoiser(obj, schedule, prediction=prediction)


def resolve_model(
    spec: Any,
    train: ArrayLike,
    schedule: Schedule | str,
    *,
    prediction: str | None = None,
    seed: int = 0,
) -> tuple[Denoiser, str]:
    r"""The model of an audit as a ``core`` :class:`~diffmem_theory.core.denoisers.Denoiser`.

    ``spec`` is one of:

    * a callable ``f(x, t)`` returning, for ``x`` of shape ``(B, d)`` (a NumPy array) and ``t``
      a float or shape ``(B,)``, an array of any array-API library (NumPy, JAX, PyTorch,
      CuPy, ...) shaped like ``x`` in unit ``prediction``: wrapped by
      :func:`~diffmem_theory.core.denoisers.as_denoiser`. ``prediction`` is required (no
      default is guessed), unless the callable declares its unit in a ``prediction``
      attribute (as :func:`diffmem_theory.nn.numpy_callable` does);
    * a ``core`` law (:class:`~diffmem_theory.core.distributions.GaussianMixture`,
      :class:`~diffmem_theory.core.distributions.EmpiricalDistribution`, ...) or a
      :class:`~diffmem_theory.core.denoisers.Denoiser` (bound to ``schedule``; one bound to
      another schedule is refused);
    * a network built by :func:`diffmem_theory.nn.mlp` (its own unit);
    * ``"empirical"``: :class:`~diffmem_theory.core.distributions.EmpiricalDistribution` of
      ``train``, the memorizing denoiser (Buchanan et al. (paper 000), eq. (7));
    * ``"gaussian"``: :func:`~diffmem_theory.core.fit.fit_gaussian` of ``train`` (full
      covariance, the Wiener denoiser);
    * ``"gmm:K"``: :func:`~diffmem_theory.core.fit.fit_gmm` of ``train`` with ``K``
      components and ``seed`` (paper 000, eq. (8) with ``Sigma_k = s_k^2 I``);
    * the path of a file saved by :func:`diffmem_theory.nn.save` (loaded with
      :func:`diffmem_theory.nn.load`; a network saved with its schedule is refused with
      another one);
    * ``"module:callable"``: ``module`` a dotted module name (imported) or the path of a
      ``.py`` file (executed as a fresh module), ``callable`` an attribute of it (dotted
      attributes allowed). What it names is resolved as above (a callable, a law, a
      network, ...), except that a **class**, or a function that takes **no arguments**
      (it cannot be called as ``f(x, t)``), is a **factory**: it is called once with no
      arguments and its result is the model (e.g. a class whose ``__init__`` loads the
      weights, or ``def load_model(): ...``). A function with defaults for all of its
      parameters can be called as ``f(x, t)`` and is the model itself.

    ``prediction`` must not be given for the baselines, laws and Denoisers (they answer
    every unit in closed form) and, for a network or a callable that declares its unit, may
    only repeat that unit.

    The model is then probed once: called on up to 4 training points (drawn with ``seed``)
    noised to the time of signal-to-noise ratio ``alpha_t^2 / sigma_t^2 = 1`` (the middle of
    the schedule's time grid for a VE schedule that never reaches it). An exception, an
    output not shaped like ``x`` or a NaN/inf is a ``ValueError`` naming the model.

    Parameters
    ----------
    spec : callable, law, Denoiser, MLP or str
        The model, as above.
    train : array_like, shape (N, d)
        The training points (finite): the data of the baselines and of the probe.
    schedule : Schedule or str
        The noise schedule the model was trained on.
    prediction : str, optional
        The unit of a callable: one of ``"x0"``, ``"eps"``, ``"score"``, ``"v"``,
        ``"velocity"`` (:data:`~diffmem_theory.core.schedules.PREDICTIONS`).
    seed : int, default 0
        Seeds the EM start of ``"gmm:K"`` and the probe.

    Returns
    -------
    denoiser : Denoiser
        The model, bound to ``schedule``.
    label : str
        How the report names it, e.g. ``"empirical (memorizing denoiser of the 1438 training
        points)"``.

    Raises
    ------
    ValueError
        An unknown spec, a missing module, file or attribute, a bad saved network, a missing
        ``prediction`` for a callable or one given where it must not be, a dimension that
        differs from ``train``'s, a model failing the probe, non-finite ``train``.
    TypeError
        A ``spec`` of none of the forms above, a ``schedule`` that is not one.

    See Also
    --------
    diffmem_theory.core.denoisers.as_denoiser : The wrapper of callables and laws.
    diffmem_theory.core.fit.fit_gmm : The ``"gmm:K"`` baseline.
    diffmem_theory.nn.save : Writes a network ``resolve_model`` can load.

    References
    ----------
    Buchanan et al. (paper 000), eqs. (7)-(9) (the memorizing and generalizing denoisers).

    Examples
    --------
    >>> import numpy as np
    >>> train = np.random.default_rng(0).normal(size=(20, 2))
    >>> den, label = resolve_model(lambda x, t: 0.5 * x, train, "VPTrig", prediction="x0")
    >>> den.prediction, label
    ('x0', 'callable <lambda>')
    >>> resolve_model(lambda x, t: 0.5 * x, train, "VPTrig")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: prediction is required for the callable model callable <lambda>: ...
    >>> resolve_model(lambda x, t: x * np.nan, train, "VPTrig", prediction="eps")
    Traceback (most recent call last):
    ...
    ValueError: model callable <lambda> returned NaN or inf on 4 noised training points at t = 0.7071 (finite inputs of shape (4, 2))
    >>> resolve_model("empirical", train, "VPTrig")[1]
    'empirical (memorizing denoiser of the 20 training points)'
    """  # noqa: E501
    data = as_points(train, "train")
    sched = as_schedule(schedule, required=True)
    seed = check_int(seed, "seed", low=0)
    if prediction is not None:
        check_choice(prediction, "prediction", PREDICTIONS)
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if isinstance(spec, str):
        den, label = _from_string(spec, data, sched, prediction, seed)
    else:
        label = _describe(spec)
        den = _object(spec, data, sched, prediction, label)
    _probe(den, data, sched, label, seed)
    return den, label


def _from_string(
    spec: str, train: np.ndarray, schedule: Schedule, prediction: str | None, seed: int
) -> tuple[Denoiser, str]:
    n = train.shape[0]
    if spec == "empirical":
        label = f"empirical (memorizing denoiser of the {n} training points)"
        _no_prediction(prediction, label)
        return as_denoiser(EmpiricalDistribution(train), schedule), label
    if spec == "gaussian":
        label = "gaussian (full-covariance Gaussian fit of the training points)"
        _no_prediction(prediction, label)
        return as_denoiser(_fitted(spec, fit_gaussian, train), schedule), label
    if spec.startswith("gmm:"):
        try:
            k = int(spec[4:])
        except ValueError:
            k = 0
        if k < 1 or spec[4:] != str(k):
            raise ValueError(f"model {spec!r}: 'gmm:K' needs an integer K >= 1, e.g. 'gmm:10'")
        if k > n:
            raise ValueError(f"model {spec!r}: K = {k} exceeds the {n} training points")
        label = f"gmm:{k} (isotropic Gaussian mixture, K = {k}, fitted by EM, seed {seed})"
        _no_prediction(prediction, label)
        return as_denoiser(_fitted(spec, fit_gmm, train, k, seed=seed), schedule), label
    if os.path.isfile(spec) and not spec.endswith(".py"):
        return _saved_network(spec, schedule, prediction, train.shape[1])
    if ":" in spec:
        obj, label = _import(spec)
        if _is_factory(obj):
            try:
                obj = obj()
            except Exception as err:
                raise ValueError(
                    f"model {spec!r}: calling the factory {spec.rpartition(':')[2]}() failed: "
                    f"{type(err).__name__}: {err}"
                ) from err
        return _object(obj, train, schedule, prediction, label), label
    raise ValueError(
        f"model {spec!r} is not a known model or an existing file: expected {_FORMS}"
        + (" (a .py file needs ':callable' after it)" if spec.endswith(".py") else "")
    )


def _fitted(spec: str, fit: Any, train: np.ndarray, *args: Any, **kwargs: Any) -> Any:
    """A baseline law fitted to ``train``; a fit that fails says which model and why."""
    try:
        return fit(train, *args, **kwargs)
    except ValueError as err:
        raise ValueError(f"model {spec!r} cannot be fitted to train: {err}") from err


def _describe(obj: Any) -> str:
    """A short label for a model given as an object."""
    if isinstance(obj, Denoiser):
        inner = obj.model
        name = getattr(inner, "__qualname__", None) or type(inner).__name__
        return f"Denoiser of {name} ({obj.prediction}-prediction)"
    if callable(getattr(obj, "denoiser", None)):
        return f"{type(obj).__name__} law"
    models = sys.modules.get("diffmem_theory.nn.models")
    if models is not None and isinstance(obj, models.MLP):
        return f"network ({obj.prediction}-prediction, d = {obj.data_dim})"
    name = getattr(obj, "__qualname__", None) or type(obj).__name__
    return f"callable {name}"
