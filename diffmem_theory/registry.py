"""Registration of theorem checks and paper experiments, discovered by name.

A *check* evaluates a theorem's prediction (or a printed statement) against an
independent computation and returns an :class:`Outcome`. An *experiment* regenerates a
paper figure: ``run(quick, seed) -> result`` and ``plot(result) -> Figure``. The CLI,
the notebooks, the HTML report and the tests all find them here.

Names are ``"<paper>.<what>"`` where ``<paper>`` is ``paper000`` ... ``paper004`` or
``core`` (package-level identities such as Tweedie's formula that several papers use).

Errata are checks registered with ``erratum=True``: their function returns
``passed=True`` when the printed statement *fails* as predicted (the counterexample was
reproduced); the report shows them with the status ``erratum``. Each theory package's
``errata`` module also enters every erratum of its paper in the catalogue with
:func:`erratum` (where it is, the statement as printed, the correction and the
counterexample); :func:`list_errata` returns it and ``diffmem list --errata`` prints it.

Examples
--------
>>> from diffmem_theory.registry import check, Outcome, run_check
>>> @check("core.example_identity", equation="1 + 1 = 2", register=False)
... def _example():
...     value = 1.0 + 1.0
...     return Outcome(value=value, reference=2.0, tolerance=0.0, passed=value == 2.0)
>>> _example.run().status
'pass'
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import math
import pkgutil
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from diffmem_theory._validation import check_bool, check_callable, check_scalar

__all__ = [
    "CHECK_STATUSES",
    "PACKAGES",
    "CheckResult",
    "CheckSpec",
    "Erratum",
    "ExperimentSpec",
    "Outcome",
    "canonical_name",
    "check",
    "discover",
    "erratum",
    "experiment",
    "get_check",
    "get_experiment",
    "list_checks",
    "list_errata",
    "list_experiments",
    "run_check",
]

_CHECKS: dict[str, CheckSpec] = {}
_EXPERIMENTS: dict[str, ExperimentSpec] = {}
_ERRATA: dict[str, Erratum] = {}
#: The package of the repository that holds each paper's theory (``core`` holds the
#: paper-agnostic checks of schedules and denoisers).
PACKAGES = {
    "core": "core",
    "paper000": "crossover",
    "paper001": "mixing",
    "paper002": "voronoi",
    "paper003": "fisher",
    "paper004": "leakage",
}
_PAPERS = tuple(PACKAGES)
_ALIASES = {package: paper for paper, package in PACKAGES.items()}
#: The statuses of a :class:`CheckResult`, in the order the report tallies them.
CHECK_STATUSES = ("pass", "erratum", "fail", "error")


def check_text(value: Any, name: str) -> str:
    """Return ``value`` if it is a string, else raise ``TypeError`` naming ``name``.

    Parameters
    ----------
    value : object
        The value to check.
    name : str
        The argument's name, for the message.

    Returns
    -------
    str
        ``value`` itself.

    Raises
    ------
    TypeError
        If ``value`` is not a ``str``.

    Examples
    --------
    >>> check_text("eq. (1)", "equation")
    'eq. (1)'
    >>> check_text(1, "equation")
    Traceback (most recent call last):
    ...
    TypeError: equation must be a string, got int 1
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__} {value!r:.80}")
    return value


def _optional_real(value: Any, name: str, *, low: float | None = None) -> float | None:
    """``None``, or ``value`` as a finite real float (``>= low``); else ``ValueError``."""
    return None if value is None else check_scalar(value, name, low=low)


def _measured_value(value: Any, passed: bool) -> float | None:
    """A check's computed value as a float: a real number, finite whenever the check passed.

    NaN or an infinity is the value of a check that could not compute one, which therefore
    fails (``passed=False``); with ``passed=True`` it raises ``ValueError``.
    """
    if value is None:
        return None
    arr = np.asarray(value)
    if arr.ndim != 0 or arr.dtype.kind not in "fiu":
        raise ValueError(f"value must be a real scalar, got {value!r:.80}")
    x = float(arr)
    if passed and not math.isfinite(x):
        raise ValueError(f"value must be finite when passed is True, got {x!r}")
    return x


@dataclass(frozen=True)
class Outcome:
    """What a check function returns.

    ``value`` is the computed quantity, ``reference`` what the theorem (or the paper's
    printed statement) predicts, ``tolerance`` the allowed deviation, and ``passed``
    the verdict. For errata, ``passed`` means "the printed statement failed here".

    The fields are validated: ``value`` a real number, stored as a float, which may be NaN
    or infinite only in a failing outcome (a check that could not compute its value);
    ``reference`` ``None`` or a finite real, ``tolerance`` ``None`` or a finite real >= 0,
    ``passed`` ``True``/``False`` (NumPy bools are stored as ``bool``) and ``note`` a string.
    Anything else raises ``ValueError`` (a wrong number) or ``TypeError`` (a wrong kind of
    object), naming the field.

    Examples
    --------
    >>> Outcome(value=np.float64(2.0), reference=2, tolerance=0.0, passed=np.True_)
    Outcome(value=2.0, reference=2.0, tolerance=0.0, passed=True, note='')
    >>> Outcome(value=float("nan"), reference=None, tolerance=None, passed=False).value
    nan
    >>> Outcome(value=1, reference=1.0, tolerance=-0.5, passed=True)
    Traceback (most recent call last):
    ...
    ValueError: tolerance must be >= 0.0, got -0.5
    """

    value: float
    reference: float | None
    tolerance: float | None
    passed: bool
    note: str = ""

    def __post_init__(self) -> None:
        passed = check_bool(self.passed, "passed")
        object.__setattr__(self, "passed", passed)
        if self.value is None:
            raise ValueError("value must be a real number (NaN if none was computed), got None")
        object.__setattr__(self, "value", _measured_value(self.value, passed))
        object.__setattr__(self, "reference", _optional_real(self.reference, "reference"))
        object.__setattr__(self, "tolerance", _optional_real(self.tolerance, "tolerance", low=0.0))
        check_text(self.note, "note")


@dataclass(frozen=True)
class CheckResult:
    """A check's outcome with its metadata, as shown in the report and ``diffmem check``.

    ``seconds`` (the wall time of the run) is a record for the report only: ``passed`` and
    ``status`` come from the check's :class:`Outcome` and never from how long it took, which
    depends on the machine and its load.

    The fields are validated as :class:`Outcome`'s are (``value``, ``reference`` and
    ``tolerance`` may also be ``None``: a check that raised has none), and together: ``name``
    looks like ``"<paper>.<what>"`` and ``paper`` is its ``<paper>``; ``status`` is one of
    ``"pass"``, ``"fail"``, ``"erratum"``, ``"error"``, ``"erratum"`` exactly for a passed
    erratum, ``"pass"`` for a passed check that is not one, ``passed`` is ``True`` exactly for
    those two; ``seconds`` is finite and >= 0; ``options`` is a dict with string keys.
    ``ValueError`` or ``TypeError`` names the field otherwise.

    Examples
    --------
    >>> CheckResult(name="core.demo", paper="core", equation="eq. (1)", description="",
    ...             erratum=False, value=2.0, reference=2.0, tolerance=0.0, passed=True,
    ...             note="", seconds=0.01,
    ...             status="fail")
    Traceback (most recent call last):
    ...
    ValueError: status must be 'pass' when passed is True and erratum is False, got 'fail'
    """

    name: str
    paper: str
    equation: str
    description: str
    erratum: bool
    value: float | None
    reference: float | None
    tolerance: float | None
    passed: bool
    status: str  # "pass" | "fail" | "erratum" | "error"
    note: str
    seconds: float
    options: dict[str, Any] = field(default_factory=dict)  # the options the check accepted

    def __post_init__(self) -> None:
        paper = paper_of(self.name)
        if check_text(self.paper, "paper") != paper:
            raise ValueError(
                f"paper must be {paper!r}, the prefix of name {self.name!r}, got {self.paper!r}"
            )
        for name in ("equation", "description", "note"):
            check_text(getattr(self, name), name)
        erratum = check_bool(self.erratum, "erratum")
        passed = check_bool(self.passed, "passed")
        if check_text(self.status, "status") not in CHECK_STATUSES:
            raise ValueError(f"status must be one of {list(CHECK_STATUSES)}, got {self.status!r}")
        if passed and self.status != ("erratum" if erratum else "pass"):
            raise ValueError(
                f"status must be {'erratum' if erratum else 'pass'!r} when passed is True and "
                f"erratum is {erratum}, got {self.status!r}"
            )
        if not passed and self.status not in ("fail", "error"):
            raise ValueError(
                f"status must be 'fail' or 'error' when passed is False, got {self.status!r}"
            )
        fields = {
            "erratum": erratum,
            "passed": passed,
            "value": _measured_value(self.value, passed),
            "reference": _optional_real(self.reference, "reference"),
            "tolerance": _optional_real(self.tolerance, "tolerance", low=0.0),
            "seconds": check_scalar(self.seconds, "seconds", low=0.0),
        }
        for name, value in fields.items():
            object.__setattr__(self, name, value)
        if not isinstance(self.options, dict) or not all(isinstance(k, str) for k in self.options):
            raise TypeError(f"options must be a dict with string keys, got {self.options!r:.80}")

    def to_dict(self) -> dict[str, Any]:
        """The record as a dict of plain values (what ``diffmem check --json`` prints)."""
        return asdict(self)


def canonical_name(name: str) -> str:
    """``name`` with a theory package's name in place of its paper key made canonical.

    ``"voronoi.fig9"`` is ``"paper002.fig9"`` and ``"fisher"`` is ``"paper003"`` (the map
    :data:`PACKAGES`); any other string is returned unchanged.

    Parameters
    ----------
    name : str
        A check, experiment or erratum name or prefix, or a paper key.

    Returns
    -------
    str

    Raises
    ------
    TypeError
        If ``name`` is not a string.

    Examples
    --------
    >>> canonical_name("voronoi.fig9"), canonical_name("paper002.fig9")
    ('paper002.fig9', 'paper002.fig9')
    """
    check_text(name, "name")
    head, dot, tail = name.partition(".")
    if head in _ALIASES and head != "core":
        return _ALIASES[head] + dot + tail
    return name


def paper_of(name: str) -> str:
    """The paper key of a registered name ``"<paper>.<what>"``.

    Parameters
    ----------
    name : str
        A check, experiment or erratum name.

    Returns
    -------
    str
        ``"core"`` or ``"paper000"`` ... ``"paper004"`` (the keys of :data:`PACKAGES`).

    Raises
    ------
    ValueError
        If ``name`` has no ``.`` or its prefix is not a paper key.
    TypeError
        If ``name`` is not a string.

    Examples
    --------
    >>> paper_of("paper002.thm_4_3")
    'paper002'
    """
    check_text(name, "name")
    paper = name.split(".", 1)[0]
    if "." not in name or paper not in _PAPERS:
        raise ValueError(
            f"name must look like '<paper>.<what>' with <paper> in {_PAPERS}, got {name!r}"
        )
    return paper


@dataclass(frozen=True)
class CheckSpec:
    """A registered check: the function and where its statement comes from.

    ``name`` looks like ``"<paper>.<what>"`` (``paper`` is set from it), ``func`` is callable,
    ``equation`` and ``description`` are strings and ``erratum`` is ``True``/``False``;
    anything else raises ``ValueError`` or ``TypeError`` naming the field.

    Examples
    --------
    >>> spec = CheckSpec(name="core.demo", func=lambda: Outcome(1.0, 1.0, 0.0, True),
    ...                  equation="1 = 1", description="a demo")
    >>> spec.paper, spec.run().status
    ('core', 'pass')
    """

    name: str
    func: Callable[..., Outcome]
    equation: str
    description: str
    erratum: bool = False
    paper: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "paper", paper_of(self.name))
        check_callable(self.func, "func", "a check function returning an Outcome")
        check_text(self.equation, "equation")
        check_text(self.description, "description")
        object.__setattr__(self, "erratum", check_bool(self.erratum, "erratum"))

    def run(self, **options: Any) -> CheckResult:
        """Run the check and return its :class:`CheckResult`.

        Parameters
        ----------
        **options
            ``seed``, ``dps``, ``quick``...: each is passed to the check function when its
            signature has a parameter of that name and the value is not ``None``; others are
            dropped.

        Returns
        -------
        CheckResult
            Status ``"pass"`` (``"erratum"`` for an erratum) when the outcome passed,
            ``"fail"`` when it did not, ``"error"`` when the function raised or returned
            something other than an :class:`Outcome` (the traceback is the ``note``).
        """
        params = inspect.signature(self.func).parameters
        kwargs = {k: v for k, v in options.items() if k in params and v is not None}
        start = time.perf_counter()
        try:
            out = self.func(**kwargs)
            if not isinstance(out, Outcome):
                raise TypeError(f"check {self.name} returned {type(out).__name__}, not Outcome")
            passed = out.passed
            status = ("erratum" if self.erratum else "pass") if passed else "fail"
            value, ref, tol, note = out.value, out.reference, out.tolerance, out.note
        except Exception as err:  # a crashing check is reported, not raised
            passed, status = False, "error"
            value = ref = tol = None
            note = f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=3)}"
        return CheckResult(
            name=self.name,
            paper=self.paper,
            equation=self.equation,
            description=self.description,
            erratum=self.erratum,
            value=value,
            reference=ref,
            tolerance=tol,
            passed=passed,
            status=status,
            note=note,
            seconds=time.perf_counter() - start,
            options=kwargs,
        )


@dataclass(frozen=True)
class ExperimentSpec:
    """A registered figure: ``run(quick, seed) -> result`` and ``plot(result) -> Figure``.

    ``name`` looks like ``"<paper>.<what>"`` (``paper`` is set from it), ``run`` and ``plot``
    are callable, ``figure`` and ``title`` are strings; anything else raises ``ValueError`` or
    ``TypeError`` naming the field.

    Examples
    --------
    >>> spec = ExperimentSpec(name="core.demo", run=lambda quick=True, seed=0: [1, 2],
    ...                       plot=len, figure="-", title="a demo")
    >>> spec.paper, spec.plot(spec.run())
    ('core', 2)
    """

    name: str
    run: Callable[..., Any]
    plot: Callable[[Any], Any]
    figure: str
    title: str
    paper: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "paper", paper_of(self.name))
        check_callable(self.run, "run", "a function run(quick, seed) -> result")
        check_callable(self.plot, "plot", "a function plot(result) -> Figure")
        check_text(self.figure, "figure")
        check_text(self.title, "title")


def check(
    name: str,
    *,
    equation: str,
    description: str = "",
    erratum: bool = False,
    register: bool = True,
) -> Callable[[Callable[..., Outcome]], CheckSpec]:
    """A decorator registering ``func`` as the check ``name``; it returns a :class:`CheckSpec`.

    Parameters
    ----------
    name : str
        ``"<paper>.<what>"``, e.g. ``"paper002.thm_4_3"``.
    equation : str
        The statement checked, cited, e.g. ``"Buchanan et al., Lemma 2.1 / eq. (4)"``.
    description : str, optional
        One line; default the first line of the function's docstring.
    erratum : bool, optional
        The check reproduces a counterexample to a printed statement: its function returns
        ``passed=True`` when the printed statement fails (status ``"erratum"``). Its paper's
        ``errata`` module also enters it in the catalogue (:func:`erratum`).
    register : bool, optional
        ``False`` builds the spec without adding it to the registry (for examples).

    Returns
    -------
    callable
        The decorator: ``func -> CheckSpec``. ``func(**options) -> Outcome`` may take
        ``seed``, ``dps`` and ``quick``.

    Raises
    ------
    ValueError
        At decoration time, before the function is seen: a ``name`` that does not look like
        ``"<paper>.<what>"``, a flag that is not a bool; when the function is registered, a
        ``name`` already registered to another function.
    TypeError
        A ``name``, ``equation`` or ``description`` that is not a string.

    See Also
    --------
    run_check, list_checks, erratum

    Examples
    --------
    >>> @check("core.demo_sum", equation="1 + 1 = 2", register=False)
    ... def demo() -> Outcome:
    ...     '''One plus one.'''
    ...     return Outcome(value=1.0 + 1.0, reference=2.0, tolerance=0.0, passed=True)
    >>> demo.description, demo.run().status
    ('One plus one.', 'pass')
    """
    paper_of(name)
    check_text(equation, "equation")
    check_text(description, "description")
    check_bool(erratum, "erratum")
    register = check_bool(register, "register")

    def decorate(func: Callable[..., Outcome]) -> CheckSpec:
        doc = (func.__doc__ or "").strip().splitlines()
        spec = CheckSpec(
            name=name,
            func=func,
            equation=equation,
            description=description or (doc[0] if doc else ""),
            erratum=erratum,
        )
        if register:
            if name in _CHECKS and _CHECKS[name].func.__qualname__ != func.__qualname__:
                raise ValueError(f"check name {name!r} is already registered")
            _CHECKS[name] = spec
        return spec

    return decorate


@dataclass(frozen=True)
class Erratum:
    """A catalogue entry: a statement of a paper that is wrong as printed, and its correction.

    Parameters
    ----------
    name : str
        ``"<paper>.<what>"``; ``paper`` is set from it.
    where : str
        Where the statement is in the paper, e.g. ``"Lemma 4.2, eq. (11)"``.
    printed : str
        The statement as printed.
    correction : str
        The corrected statement, which the package implements.
    counterexample : str, optional
        The parameters and numbers at which the printed statement fails (empty for a misprint
        with no numerical consequence).
    check : str or None, optional
        The registered check that reproduces the counterexample (``None`` for a misprint).

    Raises
    ------
    ValueError
        A ``name`` or ``check`` that does not look like ``"<paper>.<what>"``.
    TypeError
        A text field that is not a string.

    See Also
    --------
    erratum : enters an entry in the catalogue.
    list_errata : the catalogue.

    Examples
    --------
    >>> e = Erratum(name="core.demo_misprint", where="eq. (1)", printed="1 + 1 = 3",
    ...             correction="1 + 1 = 2", counterexample="", check=None)
    >>> e.paper
    'core'
    """

    name: str
    where: str
    printed: str
    correction: str
    counterexample: str = ""
    check: str | None = None
    paper: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "paper", paper_of(self.name))
        for key in ("where", "printed", "correction", "counterexample"):
            check_text(getattr(self, key), key)
        if self.check is not None:
            paper_of(self.check)


def erratum(
    name: str,
    *,
    where: str,
    printed: str,
    correction: str,
    counterexample: str = "",
    check: str | None = None,
) -> Erratum:
    """Enter a statement printed wrong in a paper in the errata catalogue.

    Each theory package's ``errata`` module calls it once per erratum of its paper, beside the
    check (``@check(..., erratum=True)``) that reproduces the counterexample, if there is one.

    Parameters
    ----------
    name : str
        ``"<paper>.<what>"``, e.g. ``"paper000.coupon_c4"``.
    where : str
        Where the statement is in the paper, e.g. ``"App. C.2, Prop. C.4"``.
    printed : str
        The statement as printed.
    correction : str
        The corrected statement, which the package implements.
    counterexample : str, optional
        The parameters and numbers at which the printed statement fails; empty for a misprint
        with no numerical consequence.
    check : str or None, optional
        The name of the registered erratum check that reproduces the counterexample.

    Returns
    -------
    Erratum
        The catalogue entry.

    Raises
    ------
    ValueError
        A ``name`` or ``check`` that does not look like ``"<paper>.<what>"``, or a ``name``
        already in the catalogue with different fields.
    TypeError
        A field that is not a string.

    See Also
    --------
    list_errata, check

    Examples
    --------
    >>> e = erratum("core.demo_misprint", where="eq. (1)", printed="1 + 1 = 3",
    ...             correction="1 + 1 = 2")
    >>> e in list_errata("core")
    True
    >>> _ = _ERRATA.pop("core.demo_misprint")  # examples leave the catalogue as it was
    """
    entry = Erratum(
        name=name,
        where=where,
        printed=printed,
        correction=correction,
        counterexample=counterexample,
        check=check,
    )
    if name in _ERRATA and _ERRATA[name] != entry:
        raise ValueError(f"erratum name {name!r} is already registered")
    _ERRATA[name] = entry
    return entry


def experiment(
    name: str, *, plot: Callable[[Any], Any], figure: str, title: str
) -> Callable[[Callable[..., Any]], ExperimentSpec]:
    """A decorator registering ``run(quick=True, seed=0) -> result`` as experiment ``name``.

    Parameters
    ----------
    name : str
        ``"<paper>.<what>"``, e.g. ``"paper000.fig2"``.
    plot : callable
        ``plot(result) -> Figure``.
    figure : str
        The paper's figure it regenerates, e.g. ``"Fig. 2"`` (``"-"`` for none).
    title : str
        One line.

    Returns
    -------
    callable
        The decorator: ``run -> ExperimentSpec``.

    Raises
    ------
    ValueError, TypeError
        As :class:`ExperimentSpec` checks its fields, here, before the decorated function is
        seen; ``ValueError`` also for a ``name`` already registered to another function.

    See Also
    --------
    get_experiment, list_experiments

    Examples
    --------
    >>> register = experiment("core.demo_sum", plot=len, figure="-", title="a demo")
    >>> register(lambda quick=True, seed=0: [seed, 1]).plot([0, 1])
    2
    >>> _ = _EXPERIMENTS.pop("core.demo_sum")  # examples leave the registry as it was
    """
    paper_of(name)
    check_callable(plot, "plot", "a function plot(result) -> Figure")
    check_text(figure, "figure")
    check_text(title, "title")

    def decorate(run: Callable[..., Any]) -> ExperimentSpec:
        spec = ExperimentSpec(name=name, run=run, plot=plot, figure=figure, title=title)
        if name in _EXPERIMENTS and _EXPERIMENTS[name].run.__qualname__ != run.__qualname__:
            raise ValueError(f"experiment name {name!r} is already registered")
        _EXPERIMENTS[name] = spec
        return spec

    return decorate


def discover() -> None:
    """Import every registering module: each package's ``checks``, ``figures`` and ``errata``.

    The packages are those of :data:`PACKAGES` (``core`` and the five theory packages); a
    module registers its checks, figures and catalogue entries when it is imported. The
    ``list_*`` and ``get_*`` functions call it; importing is done once per process.

    Raises
    ------
    ImportError
        A registering module that exists but cannot be imported (a missing subpackage is
        skipped).

    Examples
    --------
    >>> discover()
    >>> len(list_checks()) > 0
    True
    """
    for package in PACKAGES.values():
        base = f"diffmem_theory.{package}"
        for sub in ("checks", "figures"):
            try:
                pkg = importlib.import_module(f"{base}.{sub}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{base}.{sub}":
                    raise
                continue
            for info in pkgutil.iter_modules(pkg.__path__):
                importlib.import_module(f"{base}.{sub}.{info.name}")
        if importlib.util.find_spec(f"{base}.errata") is not None:
            importlib.import_module(f"{base}.errata")


def _names(names: Any, kind: str) -> list[str] | None:
    """``names`` as a list of strings (``None`` or empty: no filter), else ``TypeError``."""
    if names is None:
        return None
    if isinstance(names, str) or not isinstance(names, Iterable):
        raise TypeError(
            f"names must be a list of {kind} names or prefixes, got "
            f"{type(names).__name__} {names!r:.80}"
        )
    out = list(names)
    bad = [n for n in out if not isinstance(n, str)]
    if bad:
        raise TypeError(f"names must be strings, got {bad!r:.80}")
    return [canonical_name(n) for n in out] or None


def _select(
    registry: dict[str, Any], kind: str, paper: str | None, names: Iterable[str] | None
) -> list[Any]:
    if paper is not None and not isinstance(paper, str):
        raise TypeError(
            f"paper must be a string such as 'paper000', '000' or 'core', or None, "
            f"got {type(paper).__name__} {paper!r:.80}"
        )
    wanted = _names(names, kind)
    discover()
    if paper is not None:
        paper = canonical_name(paper)
        key = paper if paper.startswith(("paper", "core")) else f"paper{paper}"
        if key not in _PAPERS:
            raise ValueError(
                f"paper must be one of {_PAPERS}, 000-004 or a package name "
                f"{tuple(PACKAGES.values())[1:]}, got {paper!r}"
            )
        paper = key
    chosen = []
    if wanted:
        unknown = [
            n
            for n in wanted
            if n not in registry
            and not any(k.startswith(n + ".") or k.startswith(n + "_") for k in registry)
        ]
        if unknown:
            raise ValueError(f"unknown {kind} name(s) {unknown}; see `diffmem list`")
    for key in sorted(registry):
        spec = registry[key]
        if paper is not None and spec.paper != paper:
            continue
        if wanted and not any(
            key == n or key.startswith(n + ".") or key.startswith(n + "_") for n in wanted
        ):
            continue
        chosen.append(spec)
    return chosen


def list_checks(paper: str | None = None, names: Iterable[str] | None = None) -> list[CheckSpec]:
    """All registered checks, sorted by name, optionally filtered by paper or name prefix.

    Parameters
    ----------
    paper : str or None, optional
        ``"paper000"`` ... ``"paper004"``, ``"000"`` ... ``"004"`` or ``"core"``.
    names : iterable of str or None, optional
        Names or prefixes: ``"paper002"``, ``"paper002.thm"`` (a prefix ends at a ``.`` or
        ``_``) or full names; ``None`` or empty selects all.

    Returns
    -------
    list of CheckSpec

    Raises
    ------
    ValueError
        An unknown paper, or a name that matches no check.
    TypeError
        A ``paper`` that is not a string, ``names`` that is not an iterable of strings.

    See Also
    --------
    get_check, run_check, list_errata

    Examples
    --------
    >>> [c.name for c in list_checks("core", ["core.g2"])]
    ['core.g2_consistency']
    """
    return _select(_CHECKS, "check", paper, names)


def list_errata(paper: str | None = None, names: Iterable[str] | None = None) -> list[Erratum]:
    """The errata catalogue of the five papers, sorted by name, optionally filtered.

    Parameters
    ----------
    paper : str or None, optional
        ``"paper000"`` ... ``"paper004"``, ``"000"`` ... ``"004"`` or ``"core"``.
    names : iterable of str or None, optional
        Names or prefixes of catalogue entries, as for :func:`list_checks`.

    Returns
    -------
    list of Erratum
        Where each statement is, as printed, its correction, the counterexample and the check
        that reproduces it (``diffmem list --errata`` prints them).

    Raises
    ------
    ValueError, TypeError
        As :func:`list_checks`.

    See Also
    --------
    erratum, list_checks

    Examples
    --------
    >>> entries = list_errata("000")
    >>> all(e.paper == "paper000" for e in entries), len(entries) > 20
    (True, True)
    """
    return _select(_ERRATA, "erratum", paper, names)


def list_experiments(
    paper: str | None = None, names: Iterable[str] | None = None
) -> list[ExperimentSpec]:
    """All registered experiments, sorted by name, optionally filtered.

    Parameters
    ----------
    paper : str or None, optional
        ``"paper000"`` ... ``"paper004"``, ``"000"`` ... ``"004"`` or ``"core"``.
    names : iterable of str or None, optional
        Names or prefixes, as for :func:`list_checks`.

    Returns
    -------
    list of ExperimentSpec

    Raises
    ------
    ValueError, TypeError
        As :func:`list_checks`.

    Examples
    --------
    >>> "core.schedules" in [e.name for e in list_experiments("core")]
    True
    """
    return _select(_EXPERIMENTS, "experiment", paper, names)


def get_check(name: str) -> CheckSpec:
    """The check registered as ``name``.

    Parameters
    ----------
    name : str
        A full check name, e.g. ``"core.g2_consistency"``; a theory package's name may stand
        for its paper key (``"fisher.prop4_1_network"``, see :func:`canonical_name`).

    Returns
    -------
    CheckSpec

    Raises
    ------
    ValueError
        If no check has that name.
    TypeError
        If ``name`` is not a string.

    See Also
    --------
    run_check, list_checks

    Examples
    --------
    >>> get_check("core.g2_consistency").paper
    'core'
    """
    name = canonical_name(name)
    discover()
    if name not in _CHECKS:
        raise ValueError(f"unknown check {name!r}; see `diffmem list`")
    return _CHECKS[name]


def get_experiment(name: str) -> ExperimentSpec:
    """The experiment registered as ``name``.

    Parameters
    ----------
    name : str
        A full experiment name, e.g. ``"core.schedules"``; a theory package's name may stand
        for its paper key (``"voronoi.fig3"`` is ``"paper002.fig3"``).

    Returns
    -------
    ExperimentSpec

    Raises
    ------
    ValueError
        If no experiment has that name.
    TypeError
        If ``name`` is not a string.

    See Also
    --------
    list_experiments

    Examples
    --------
    >>> get_experiment("core.schedules").paper
    'core'
    """
    name = canonical_name(name)
    discover()
    if name not in _EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; see `diffmem list`")
    return _EXPERIMENTS[name]


def run_check(name: str, **options: Any) -> CheckResult:
    """Run the registered check ``name``.

    Parameters
    ----------
    name : str
        A full check name.
    **options
        ``seed``, ``dps``, ``quick``: passed to the check when it takes them (see
        :meth:`CheckSpec.run`).

    Returns
    -------
    CheckResult

    Raises
    ------
    ValueError, TypeError
        As :func:`get_check`. A check that raises is not re-raised: its result has the status
        ``"error"``.

    See Also
    --------
    get_check, list_checks

    Examples
    --------
    >>> run_check("core.g2_consistency", seed=0).status
    'pass'
    """
    return get_check(name).run(**options)
