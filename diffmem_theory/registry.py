"""Registration of theorem checks and paper experiments, discovered by name.

A *check* evaluates a theorem's prediction (or a printed statement) against an
independent computation and returns an :class:`Outcome`. An *experiment* regenerates a
paper figure: ``run(quick, seed) -> result`` and ``plot(result) -> Figure``. The CLI,
the notebooks, the HTML report and the tests all find them here.

Names are ``"<paper>.<what>"`` where ``<paper>`` is ``paper000`` ... ``paper004`` or
``core`` (package-level identities such as Tweedie's formula that several papers use).

Errata are checks registered with ``erratum=True``: their function returns
``passed=True`` when the printed statement *fails* as the notes predict (the
counterexample was reproduced); the report shows them with the status ``erratum``.

Example
-------
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
import inspect
import pkgutil
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "CheckResult",
    "CheckSpec",
    "ExperimentSpec",
    "Outcome",
    "check",
    "discover",
    "experiment",
    "get_check",
    "get_experiment",
    "list_checks",
    "list_experiments",
    "run_check",
]

_CHECKS: dict[str, CheckSpec] = {}
_EXPERIMENTS: dict[str, ExperimentSpec] = {}
_PAPERS = ("core", "paper000", "paper001", "paper002", "paper003", "paper004")


@dataclass(frozen=True)
class Outcome:
    """What a check function returns.

    ``value`` is the computed quantity, ``reference`` what the theorem (or the paper's
    printed statement) predicts, ``tolerance`` the allowed deviation, and ``passed``
    the verdict. For errata, ``passed`` means "the printed statement failed here".
    """

    value: float
    reference: float | None
    tolerance: float | None
    passed: bool
    note: str = ""


@dataclass(frozen=True)
class CheckResult:
    """A check's outcome with its metadata, as shown in the report and ``diffmem check``.

    ``seconds`` (the wall time of the run) is a record for the report only: ``passed`` and
    ``status`` come from the check's :class:`Outcome` and never from how long it took, which
    depends on the machine and its load.
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _paper_of(name: str) -> str:
    paper = name.split(".", 1)[0]
    if "." not in name or paper not in _PAPERS:
        raise ValueError(
            f"name must look like '<paper>.<what>' with <paper> in {_PAPERS}, got {name!r}"
        )
    return paper


@dataclass(frozen=True)
class CheckSpec:
    """A registered check: the function and where its statement comes from."""

    name: str
    func: Callable[..., Outcome]
    equation: str
    description: str
    erratum: bool = False
    paper: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "paper", _paper_of(self.name))

    def run(self, **options: Any) -> CheckResult:
        """Run the check. Options (``seed``, ``dps``, ``quick``) are passed when accepted."""
        params = inspect.signature(self.func).parameters
        kwargs = {k: v for k, v in options.items() if k in params and v is not None}
        start = time.perf_counter()
        try:
            out = self.func(**kwargs)
            if not isinstance(out, Outcome):
                raise TypeError(f"check {self.name} returned {type(out).__name__}, not Outcome")
            passed = bool(out.passed)
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
            value=None if value is None else float(value),
            reference=None if ref is None else float(ref),
            tolerance=None if tol is None else float(tol),
            passed=passed,
            status=status,
            note=note,
            seconds=time.perf_counter() - start,
            options=kwargs,
        )


@dataclass(frozen=True)
class ExperimentSpec:
    """A registered figure: ``run(quick, seed) -> result`` and ``plot(result) -> Figure``."""

    name: str
    run: Callable[..., Any]
    plot: Callable[[Any], Any]
    figure: str
    title: str
    paper: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "paper", _paper_of(self.name))


def check(
    name: str,
    *,
    equation: str,
    description: str = "",
    erratum: bool = False,
    register: bool = True,
) -> Callable[[Callable[..., Outcome]], CheckSpec]:
    """Register ``func`` as the check ``name`` and return its :class:`CheckSpec`.

    ``equation`` cites the statement, e.g. ``"Buchanan et al., Lemma 2.1 / eq. (4)"``.
    The description defaults to the first line of the function's docstring.
    ``register=False`` builds the spec without adding it to the registry (for examples).
    """

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


def experiment(
    name: str, *, plot: Callable[[Any], Any], figure: str, title: str
) -> Callable[[Callable[..., Any]], ExperimentSpec]:
    """Register ``run(quick=True, seed=0) -> result`` with its ``plot`` as experiment ``name``."""

    def decorate(run: Callable[..., Any]) -> ExperimentSpec:
        spec = ExperimentSpec(name=name, run=run, plot=plot, figure=figure, title=title)
        if name in _EXPERIMENTS and _EXPERIMENTS[name].run.__qualname__ != run.__qualname__:
            raise ValueError(f"experiment name {name!r} is already registered")
        _EXPERIMENTS[name] = spec
        return spec

    return decorate


def discover() -> None:
    """Import every module of ``diffmem_theory.checks`` and ``diffmem_theory.experiments``."""
    for pkg_name in ("diffmem_theory.checks", "diffmem_theory.experiments"):
        pkg = importlib.import_module(pkg_name)
        for info in pkgutil.iter_modules(pkg.__path__):
            importlib.import_module(f"{pkg_name}.{info.name}")


def _select(
    registry: dict[str, Any], kind: str, paper: str | None, names: Iterable[str] | None
) -> list[Any]:
    discover()
    if paper is not None:
        key = paper if paper.startswith(("paper", "core")) else f"paper{paper}"
        if key not in _PAPERS:
            raise ValueError(f"paper must be one of {_PAPERS} (or 000-004), got {paper!r}")
        paper = key
    chosen = []
    wanted = list(names) if names else None
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
    """All registered checks, sorted by name, optionally filtered by paper or name prefix."""
    return _select(_CHECKS, "check", paper, names)


def list_experiments(
    paper: str | None = None, names: Iterable[str] | None = None
) -> list[ExperimentSpec]:
    """All registered experiments, sorted by name, optionally filtered."""
    return _select(_EXPERIMENTS, "experiment", paper, names)


def get_check(name: str) -> CheckSpec:
    """The check registered as ``name`` (``ValueError`` if there is none)."""
    discover()
    if name not in _CHECKS:
        raise ValueError(f"unknown check {name!r}; see `diffmem list`")
    return _CHECKS[name]


def get_experiment(name: str) -> ExperimentSpec:
    """The experiment registered as ``name`` (``ValueError`` if there is none)."""
    discover()
    if name not in _EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; see `diffmem list`")
    return _EXPERIMENTS[name]


def run_check(name: str, **options: Any) -> CheckResult:
    """Run the registered check ``name``; see :meth:`CheckSpec.run` for the options."""
    return get_check(name).run(**options)
