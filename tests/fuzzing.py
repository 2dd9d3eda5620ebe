"""Fuzzing harness for every public callable of :mod:`diffmem_theory`.

What it does
------------
1. **Targets.** Every callable named in ``__all__`` of every module of the package (functions,
   classes, and the public methods, classmethods and staticmethods of public classes), minus
   :data:`EXCLUDED` (the command line, and whatever writes files or starts processes).
2. **Base calls.** For each target, a valid call with concrete arguments: the doctest examples
   (:class:`doctest.DocTestParser`, via :class:`doctest.DocTestFinder`) are executed in the
   module's namespace as the doctest would, and the first call of the target whose arguments
   evaluate is taken (own docstring first, then the class, the module, then the whole package).
   Without one, the arguments come from the signature's defaults and a few name/annotation
   guesses (:func:`guess_value`). A base call must itself succeed.
3. **Mutations.** One argument per call is replaced by a bad or extreme value drawn from the
   hypothesis strategies of :func:`mutation_strategies` (NaN, +-inf, 0, -0.0, -1, 1e-300,
   5e-324, 1e300, 2**62, complex, None, strings, booleans, empty arrays, wrong ndim and shape,
   one NaN/inf/huge element, object arrays, mixed lists, dict entries; and valid variants of an
   array: float32, Fortran order, a strided view).
4. **Oracle** (:func:`classify`). Allowed (:data:`OK_OUTCOMES`): a ``ValueError`` or
   ``TypeError``; a result whose floating-point content is finite; NaN/inf/complex passed on
   from a NaN/inf/complex argument; a NaN or an infinity that the function documents as a
   return value (:func:`documented_nonfinite`) or that its valid base call returns too; the
   exact infinities of sympy and mpmath (no overflow there); ``OSError`` for a path argument.
   Findings: any other exception type (numba's errors and numpy's ``AxisError`` included), a
   crash (calls run in a child process, so a segfault is a finding, not a dead pytest), a hang
   (a per-call limit on the child's CPU time, with a wall-clock cap, numba compilation
   excluded: see :class:`_Clock`), NaN or inf
   from finite input, a complex result from real input, an imaginary part silently dropped
   (``ComplexWarning``), a ``RuntimeWarning`` from finite input. Finite results from a
   NaN/inf/complex argument are allowed but listed for review in the findings files.

Run ``python tests/fuzzing.py --mode full --findings DIR`` to write one findings file per module
and ``SUMMARY.txt``; ``tests/test_fuzz.py`` runs a fixed sample by default and everything under
``pytest -m slow``.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import dataclasses
import doctest
import functools
import importlib
import inspect
import io
import json
import math
import os
import pkgutil
import random
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time
import types
import warnings
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

PACKAGE = "diffmem_theory"
HERE = Path(__file__).resolve().parent

#: Public callables that are not fuzzed, with the reason.
EXCLUDED: dict[str, str] = {
    "diffmem_theory.cli.main": "the command-line entry point (tests/test_cli*.py run it)",
    "diffmem_theory.sweep.run_sweep": "starts worker processes and writes result files",
    "diffmem_theory.sweep.SweepSpec.run": "runs a sweep: worker processes and result files",
    "diffmem_theory.report.write_report": "writes a report folder",
    "diffmem_theory.audit.report.AuditReport.write": "writes a report folder",
    "diffmem_theory.plotting.save_figure": "writes image files",
    "diffmem_theory.notebook.show": "writes figure files and displays them",
    "diffmem_theory.notebook.experiment": "runs a registered experiment and writes its figure",
    "diffmem_theory.notebook.run_checks": "runs every check of a paper (minutes)",
    "diffmem_theory.crossover.figures.phase.phase_runs": "runs a sweep: processes, files",
    "diffmem_theory.crossover.figures.fig3.fig3_runs": "runs a sweep: processes, files",
}
# Plotting: ``plotting.figure`` and ``plotting.paper_style`` are fuzzed (they only build
# in-memory matplotlib objects, and their size arguments are exactly what fuzzing should probe);
# a returned figure is closed after the call and is not scanned for floats.

CALL_TIMEOUT = 15.0  # CPU seconds per call, numba compilation excluded (see _Clock)
BASE_TIMEOUT = 180.0  # executing docstrings and the base call of one target
MEMORY_LIMIT = 4 << 30  # address-space limit of the child (bytes): a huge allocation fails fast
SAMPLE_CASES = 3  # mutated calls per callable in the default (sample) run

OK_OUTCOMES = (
    "clean_error",  # ValueError or TypeError
    "finite",  # a result whose floating-point content is finite
    "bad_input_passed_on",  # NaN/inf/complex in the result from a NaN/inf/complex argument
    "nonfinite_documented",  # a NaN/inf the function documents or returns for valid input too
    "finite_from_bad_input",  # finite result from a NaN/inf/complex argument (listed for review)
    "os_error_for_path",  # OSError for a mutated path argument
    "exact_infinity",  # sympy's oo or mpmath's inf from float-free input: exact, no overflow
)

# ----------------------------------------------------------------------------------------------
# targets
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A public callable: ``module`` where it is exported, ``qualname`` inside it."""

    module: str
    qualname: str

    @property
    def name(self) -> str:
        return f"{self.module}.{self.qualname}"

    def spec(self) -> str:
        return f"{self.module}:{self.qualname}"

    @classmethod
    def from_spec(cls, spec: str) -> Target:
        module, qualname = spec.split(":")
        return cls(module, qualname)


def package_modules() -> list[str]:
    """Every module of the package, sorted."""
    pkg = importlib.import_module(PACKAGE)
    names = [PACKAGE] + [m.name for m in pkgutil.walk_packages(pkg.__path__, PACKAGE + ".")]
    return sorted(names)


def public_modules() -> list[str]:
    """The modules that export at least one callable target."""
    return sorted({t.module for t in discover_targets()})


def _is_protocol_or_alias(obj: Any) -> bool:
    """Type aliases (``Callable[...]``) and protocols: annotations, not callables to fuzz."""
    alias = isinstance(obj, types.GenericAlias) or type(obj).__module__ == "typing"
    return alias or bool(getattr(obj, "_is_protocol", False))


def _own_methods(cls: type) -> list[tuple[str, str]]:
    """Public methods of ``cls`` defined in the package: (name, kind) with kind one of
    ``method``, ``classmethod``, ``staticmethod``; properties and inherited builtins excluded."""
    out = []
    for name in sorted(dir(cls)):
        if name.startswith("_"):
            continue
        for klass in cls.__mro__:
            if name in vars(klass):
                raw = vars(klass)[name]
                break
        else:
            continue
        if not getattr(klass, "__module__", "").startswith(PACKAGE):
            continue
        if isinstance(raw, staticmethod):
            out.append((name, "staticmethod"))
        elif isinstance(raw, classmethod):
            out.append((name, "classmethod"))
        elif inspect.isfunction(raw):
            out.append((name, "method"))
    return out


def discover_targets(modules: Iterable[str] | None = None) -> list[Target]:
    """Every fuzz target of ``modules`` (default: the whole package), in a fixed order.

    A callable exported by several modules is fuzzed once, under the module that defines it
    (or the first exporting module)."""
    exported: dict[int, list[str]] = defaultdict(list)
    objects: dict[tuple[str, str], Any] = {}
    for modname in package_modules():
        mod = importlib.import_module(modname)
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name)
            if not callable(obj) or _is_protocol_or_alias(obj):
                continue
            objects[modname, name] = obj
            exported[id(obj)].append(modname)
    wanted = None if modules is None else set(modules)
    targets = []
    for (modname, name), obj in sorted(objects.items()):
        homes = exported[id(obj)]
        home = getattr(obj, "__module__", None)
        canonical = home if home in homes else homes[0]
        if modname != canonical or (wanted is not None and modname not in wanted):
            continue
        if inspect.isclass(obj):
            if issubclass(obj, BaseException):
                continue  # exception and warning types: raised by the package, not called
            if not inspect.isabstract(obj):
                targets.append(Target(modname, name))
                for meth, _ in _own_methods(obj):
                    targets.append(Target(modname, f"{name}.{meth}"))
        else:
            targets.append(Target(modname, name))
    return [t for t in targets if t.name not in EXCLUDED]


def resolve(target: Target) -> tuple[Any, type | None, str | None, str]:
    """``(object, owner class, method name, kind)`` of a target; ``object`` is the function
    (for methods, the underlying function) and ``kind`` one of function, class, method,
    classmethod, staticmethod."""
    mod = importlib.import_module(target.module)
    parts = target.qualname.split(".")
    if len(parts) == 1:
        obj = getattr(mod, parts[0])
        return obj, None, None, "class" if inspect.isclass(obj) else "function"
    owner = getattr(mod, parts[0])
    kind = dict(_own_methods(owner))[parts[1]]
    raw = inspect.getattr_static(owner, parts[1])
    func = raw.__func__ if isinstance(raw, (staticmethod, classmethod)) else raw
    return func, owner, parts[1], kind


# ----------------------------------------------------------------------------------------------
# base calls from docstring examples
# ----------------------------------------------------------------------------------------------


@dataclass
class BaseCall:
    """A valid call of a target: ``receiver`` (instance or class for methods) and arguments."""

    target: Target
    source: str  # "docstring <name>" or "signature"
    receiver: Any
    args: list[Any]
    kwargs: dict[str, Any]
    result: Any = None
    error: BaseException | None = None
    caught: list = field(default_factory=list)
    seconds: float = 0.0
    scan: Scan | None = None

    def callable(self, receiver: Any = None) -> Any:
        obj, owner, meth, kind = resolve(self.target)
        if kind in ("function", "class"):
            return obj
        if kind == "staticmethod":
            return getattr(owner, meth)
        return getattr(owner if kind == "classmethod" else receiver, meth)


@dataclass
class _Match:
    key: tuple
    loose_name: str | None
    receiver: Any
    args: list[Any]
    kwargs: dict[str, Any]


@contextlib.contextmanager
def _quiet() -> Any:
    """Swallow what a call prints, warns or shows."""
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        yield


def _call_key(func: Any) -> tuple:
    if inspect.ismethod(func):
        owner = func.__self__ if isinstance(func.__self__, type) else type(func.__self__)
        return ("m", id(func.__func__), id(owner))
    return ("f", id(func))


def _target_key(target: Target) -> tuple:
    obj, owner, _, kind = resolve(target)
    if kind in ("method", "classmethod"):
        return ("m", id(obj), id(owner))
    if kind == "staticmethod":
        return ("f", id(getattr(owner, target.qualname.split(".")[1])))
    return ("f", id(obj))


class DocIndex:
    """Every doctest of the package, executed lazily, with the calls found in each example."""

    def __init__(self, modules: Iterable[str]) -> None:
        finder = doctest.DocTestFinder(exclude_empty=True)
        self.tests: dict[str, doctest.DocTest] = {}
        for modname in modules:
            mod = importlib.import_module(modname)
            for test in finder.find(mod, modname):
                if test.examples and test.name not in self.tests:
                    self.tests[test.name] = test
        self.matches: dict[str, list[_Match]] = {}
        # the names called in each docstring, so that finding the docstrings that may call a
        # target is a set lookup
        self.called = {
            name: set(re.findall(r"(\w+)\(", test.docstring or ""))
            for name, test in self.tests.items()
        }

    def matches_in(self, name: str) -> list[_Match]:
        """The calls of package callables in the examples of doctest ``name`` (executed once)."""
        if name not in self.matches:
            self.matches[name] = self._execute(self.tests[name])
        return self.matches[name]

    @staticmethod
    def _execute(test: doctest.DocTest) -> list[_Match]:
        globs = dict(test.globs)
        found: list[_Match] = []
        for example in test.examples:
            if example.options.get(doctest.SKIP):
                continue
            try:
                tree = ast.parse(example.source)
            except SyntaxError:
                continue
            if example.exc_msg is None:
                loops = _loop_variables(tree)
                calls = sorted(
                    (n for n in ast.walk(tree) if isinstance(n, ast.Call)),
                    key=lambda n: (n.lineno, n.col_offset),
                )
                for node in calls:
                    match = _evaluate_call(node, _with_loops(globs, loops.get(node, [])))
                    if match is not None:
                        found.append(match)
            with _quiet(), contextlib.suppress(BaseException):
                exec(compile(example.source, test.name, "exec"), globs)
        return found


def _loop_variables(tree: ast.AST) -> dict[ast.AST, list[ast.comprehension | ast.For]]:
    """For each node, the comprehensions and ``for`` loops around it (outermost first)."""
    out: dict[ast.AST, list] = {}

    def visit(node: ast.AST, loops: list) -> None:
        out[node] = loops
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            inner = loops + list(node.generators)
            for child in ast.iter_child_nodes(node):
                visit(child, inner)
        elif isinstance(node, ast.For):
            for child in node.body:
                visit(child, [*loops, node])
            for child in (node.iter, *node.orelse):
                visit(child, loops)
        else:
            for child in ast.iter_child_nodes(node):
                visit(child, loops)

    visit(tree, [])
    return out


def _with_loops(globs: dict, loops: list[ast.comprehension | ast.For]) -> dict:
    """``globs`` with the loop variables bound to their first values (``[f(w) for w in
    ("x0", "eps")]`` calls ``f("x0")`` first), or ``globs`` itself without loops."""
    if not loops:
        return globs
    scope = dict(globs)
    try:
        with _quiet():
            for loop in loops:
                first = next(
                    iter(eval(compile(ast.Expression(loop.iter), "<fuzz>", "eval"), scope))
                )
                target = loop.target
                names = [target] if isinstance(target, ast.Name) else list(target.elts)
                values = [first] if isinstance(target, ast.Name) else list(first)
                if len(names) != len(values) or not all(isinstance(n, ast.Name) for n in names):
                    return globs
                scope.update({n.id: v for n, v in zip(names, values, strict=True)})
    except BaseException:
        return globs
    return scope


def _evaluate_call(node: ast.Call, globs: dict) -> _Match | None:
    if any(isinstance(a, ast.Starred) for a in node.args) or any(
        k.arg is None for k in node.keywords
    ):
        return None
    try:
        with _quiet():
            func = eval(compile(ast.Expression(node.func), "<fuzz>", "eval"), globs)
            if not callable(func):
                return None
            args = [eval(compile(ast.Expression(a), "<fuzz>", "eval"), globs) for a in node.args]
            kwargs = {
                k.arg: eval(compile(ast.Expression(k.value), "<fuzz>", "eval"), globs)
                for k in node.keywords
            }
    except BaseException:
        return None
    receiver = getattr(func, "__self__", None) if inspect.ismethod(func) else None
    loose = func.__name__ if inspect.ismethod(func) else None
    return _Match(_call_key(func), loose, receiver, args, kwargs)


def _related(a: type, b: type) -> bool:
    shared = set(a.__mro__) & set(b.__mro__)
    return any(getattr(k, "__module__", "").startswith(PACKAGE) for k in shared)


_NAME_GUESSES: dict[str, Any] = {
    "t": 0.5,
    "s": 0.5,
    "time": 0.5,
    "d": 2,
    "n": 4,
    "N": 4,
    "K": 2,
    "k": 2,
    "M": 2,
    "seed": 0,
    "rng": 0,
    "var": 0.5,
    "sigma": 0.5,
    "eps": 0.1,
    "x": [0.3, -0.2],
    "y": [0.3, -0.2],
    "mean": [0.0, 0.0],
    "mu": [0.0, 0.0],
}


def guess_value(param: inspect.Parameter) -> Any:
    """A plausible valid value for a parameter without a docstring example: its default, or a
    guess from its name or annotation; raises ``LookupError`` when there is none."""
    if param.default is not inspect.Parameter.empty:
        return param.default
    if param.name in _NAME_GUESSES:
        return copy.deepcopy(_NAME_GUESSES[param.name])
    if param.name in ("X", "X0", "data", "Y", "points"):
        return np.random.default_rng(0).normal(size=(6, 2))
    ann = str(param.annotation)
    if "Schedule" in ann or param.name in ("sched", "schedule"):
        from diffmem_theory.core.schedules import VPTrig

        return VPTrig()
    for word, value in (("bool", True), ("int", 3), ("float", 0.5)):
        if re.search(rf"\b{word}\b", ann):
            return value
    if "ArrayLike" in ann or "ndarray" in ann:
        return np.random.default_rng(0).normal(size=(6, 2))
    raise LookupError(f"no value for parameter {param.name!r} ({ann})")


@functools.cache
def _package_classes() -> dict[str, tuple[str, type]]:
    """Public concrete classes of the package by name: ``{name: (module, class)}``."""
    out = {}
    for modname in package_modules():
        mod = importlib.import_module(modname)
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name)
            if inspect.isclass(obj) and not inspect.isabstract(obj) and name not in out:
                out[name] = (obj.__module__ if obj.__module__ == modname else modname, obj)
    return out


@functools.cache
def _producers(class_name: str) -> list[Target]:
    """Public functions of the package whose return annotation names ``class_name``."""
    out = []
    for modname in package_modules():
        mod = importlib.import_module(modname)
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name)
            if not inspect.isfunction(obj) or obj.__module__ != modname:
                continue
            with contextlib.suppress(ValueError, TypeError):
                returns = str(inspect.signature(obj).return_annotation)
                if re.search(rf"\b{class_name}\b", returns):
                    out.append(Target(modname, name))
    return out


@functools.cache
def _public_constants() -> list[tuple[str, Any]]:
    """The public non-callable values of the package's modules (tables, catalogues)."""
    out = []
    for modname in package_modules():
        mod = importlib.import_module(modname)
        for name in getattr(mod, "__all__", ()):
            value = getattr(mod, name)
            if not callable(value):
                out.append((f"{modname}.{name}", value))
    return out


def _instance_in(value: Any, cls: type, depth: int = 0) -> Any:
    """An instance of exactly ``cls`` in ``value`` (itself, or inside containers and records)."""
    if type(value) is cls:
        return value
    if depth >= 3:
        return None
    if isinstance(value, dict):
        items = list(value.values())
    elif isinstance(value, (list, tuple)):
        items = list(value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        items = [getattr(value, f.name, None) for f in dataclasses.fields(value)]
    else:
        return None
    for item in items[:200]:
        found = _instance_in(item, cls, depth + 1)
        if found is not None:
            return found
    return None


class BaseFinder:
    """Finds the base call of each target (docstring examples first, then the signature)."""

    def __init__(self, targets: list[Target]) -> None:
        modules = {t.module for t in targets}
        if any(m.split(".")[0] == PACKAGE for m in modules):
            modules |= set(package_modules())  # any docstring of the package may hold the call
        self.docs = DocIndex(sorted(modules))
        self.cache: dict[Target, BaseCall | str] = {}
        self.building: set[type] = set()
        self.producing: set[type] = set()
        self.keys = {t: _target_key(t) for t in targets}

    def _doc_order(self, target: Target) -> list[str]:
        """Doctests that mention ``name(``: the target's own (and its class's) first, then its
        class's methods, its module, and the rest of the package."""
        obj, owner, _, _ = resolve(target)
        defining = getattr(obj, "__module__", None) or target.module
        own = {f"{defining}.{getattr(obj, '__qualname__', target.qualname)}"}
        if owner is not None:
            own.add(f"{owner.__module__}.{owner.__qualname__}")
        plain = target.qualname.split(".")[-1]
        prio: list[list[str]] = [[], [], [], []]
        for name in self.docs.tests:
            if plain not in self.docs.called[name]:
                continue
            if name in own:
                prio[0].append(name)
            elif owner is not None and name.startswith(f"{owner.__module__}.{owner.__qualname__}."):
                prio[1].append(name)
            elif name == defining or name.startswith(defining + "."):
                prio[2].append(name)
            else:
                prio[3].append(name)
        return [n for group in prio for n in group]

    def find(self, target: Target) -> BaseCall | str:
        """The base call of ``target``, or a string saying why there is none."""
        if target not in self.cache:
            self.cache[target] = self._find(target)
        return self.cache[target]

    def _guess(self, param: inspect.Parameter) -> Any:
        """:func:`guess_value`, or an instance of the package class named by the annotation
        (from that class's own base call)."""
        ann = str(param.annotation)
        if param.default is inspect.Parameter.empty:
            for name, (module, cls) in _package_classes().items():
                if re.search(rf"\b{name}\b", ann) and cls not in self.building:
                    inst = self._instance(cls, module)
                    many = re.search(rf"(?:Sequence|list|Iterable)\[{name}\]", ann)
                    return [inst] if many else inst
        return guess_value(param)

    def _instance(self, owner: type, module: str) -> Any:
        self.building.add(owner)
        try:
            base = self.find(Target(module, owner.__name__))
        finally:
            self.building.discard(owner)
        if isinstance(base, str) or base.error is not None:
            return self._produced(owner)[0]
        return base.result

    def _produced(self, cls: type) -> tuple[Any, str]:
        """An instance of ``cls`` returned by the base call of a package function whose return
        annotation names it (``fit_loss_weighting -> LossWeightingFit``), or held by a public
        constant (``errata.CATALOGUE``), with where it came from."""
        if cls in self.producing:
            raise LookupError(f"no instance of {cls.__name__}")
        self.producing.add(cls)
        try:
            for producer in _producers(cls.__name__):
                base = self.find(producer)
                if isinstance(base, BaseCall) and base.error is None:
                    found = _instance_in(base.result, cls)
                    if found is not None:
                        return found, producer.qualname
            for name, value in _public_constants():
                found = _instance_in(value, cls)
                if found is not None:
                    return found, name
        finally:
            self.producing.discard(cls)
        raise LookupError(f"no instance of {cls.__name__}")

    def _find(self, target: Target) -> BaseCall | str:
        _, owner, meth, kind = resolve(target)
        key = self.keys.get(target) or _target_key(target)
        errors = []
        loose_candidates = []
        for name in self._doc_order(target):
            for match in self.docs.matches_in(name):
                if match.key == key:
                    receiver = match.receiver if kind == "method" else None
                    base = BaseCall(target, f"docstring {name}", receiver, match.args, match.kwargs)
                    err = _try_base(base)
                    if err is None:
                        return base
                    errors.append(err)
                elif (
                    kind == "method"
                    and match.loose_name == meth
                    and not isinstance(match.receiver, type)
                    and _related(type(match.receiver), owner)
                ):
                    loose_candidates.append((name, match))
        for name, match in loose_candidates[:3]:
            try:
                receiver = self._instance(owner, target.module)
            except LookupError as err:
                errors.append(str(err))
                break
            source = f"docstring {name} (another receiver)"
            base = BaseCall(target, source, receiver, match.args, match.kwargs)
            err = _try_base(base)
            if err is None:
                return base
            errors.append(err)
        obj = resolve(target)[0]
        if kind == "class" and dataclasses.is_dataclass(obj):
            # a record type: the fields of an instance that the package itself returns
            try:
                inst, source = self._produced(obj)
                fields = {f.name: getattr(inst, f.name) for f in dataclasses.fields(obj) if f.init}
                base = BaseCall(
                    target, f"fields of a {obj.__name__} from {source}", None, [], fields
                )
                err = _try_base(base)
                if err is None:
                    return base
                errors.append(err)
            except LookupError as err:
                errors.append(str(err))
        try:
            receiver = self._instance(owner, target.module) if kind == "method" else None
            func = BaseCall(target, "", receiver, [], {}).callable(receiver)
            sig = inspect.signature(func)
            kwargs = {
                p.name: self._guess(p)
                for p in sig.parameters.values()
                if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
                and p.default is inspect.Parameter.empty
            }
        except (LookupError, ValueError, TypeError) as err:
            errors.append(f"signature: {err}")
            return "; ".join(errors[-3:])
        base = BaseCall(target, "signature", receiver, [], kwargs)
        err = _try_base(base)
        if err is None:
            return base
        errors.append(f"signature: {err}")
        return "; ".join(errors[-3:])


def _try_base(base: BaseCall) -> str | None:
    """Run a base call, keep its result and warnings; return None, or the error as a string."""
    args, kwargs, receiver = _copied(base.args, base.kwargs, base.receiver)
    start = time.perf_counter()
    base.error = None
    with (
        warnings.catch_warnings(record=True) as caught,
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        warnings.simplefilter("always")
        try:
            base.result = base.callable(receiver)(*args, **kwargs)
        except BaseException as err:
            base.error = err
    base.seconds = time.perf_counter() - start
    base.caught = list(caught)
    _close_figures()
    if base.error is not None and isinstance(base.error, (ValueError, TypeError, LookupError)):
        # refused: the example's arguments are not valid on their own (another candidate may be)
        return f"{type(base.error).__name__}: {_first_line(base.error)}"
    return None


def _short(value: Any) -> str:
    """A short repr: small arrays in full, larger ones by shape and dtype."""
    if isinstance(value, np.ndarray):
        if value.size <= 6:
            return f"np.array({value.tolist()!r})"
        return f"<array {value.shape} {value.dtype}>"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _call_text(base: BaseCall) -> str:
    """The base call as text, to reproduce a finding (mutate one argument of it)."""
    parts = [_short(a) for a in base.args] + [f"{k}={_short(v)}" for k, v in base.kwargs.items()]
    owner = f"<{type(base.receiver).__name__} instance>." if base.receiver is not None else ""
    name = base.target.qualname.split(".")[-1] if owner else base.target.qualname
    return f"{owner}{name}({', '.join(parts)})"


def _copied(args: list, kwargs: dict, receiver: Any) -> tuple[list, dict, Any]:
    try:
        return copy.deepcopy((args, kwargs, receiver))
    except Exception:
        return list(args), dict(kwargs), receiver


def _close_figures() -> None:
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:300] if text else ""


# ----------------------------------------------------------------------------------------------
# mutations: hypothesis strategies of bad and extreme values
# ----------------------------------------------------------------------------------------------


@dataclass
class Mutation:
    """A replacement value for one argument, with the mutation kind and a readable text."""

    kind: str
    value: Any
    text: str


NAN, INF = float("nan"), float("inf")
MAX = float(np.finfo(np.float64).max)


def _const(kind: str, *pairs: tuple[Any, str]) -> st.SearchStrategy:
    return st.sampled_from(pairs).map(lambda p: Mutation(kind, p[0], p[1]))


def _numeric_array(value: Any) -> tuple[np.ndarray, bool] | None:
    """``(array, was_list)`` when ``value`` is a numeric array or a (nested) list of numbers."""
    if isinstance(value, np.ndarray):
        ok = value.dtype.kind in "biufc" and value.ndim >= 1
        return (value, False) if ok else None
    if isinstance(value, (list, tuple)) and value:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                arr = np.asarray(value)
        except (ValueError, TypeError):
            return None
        if arr.dtype.kind in "biufc" and arr.ndim >= 1:
            return arr, True
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def _back(arr: np.ndarray, as_list: bool) -> Any:
    return arr.tolist() if as_list else arr


def _with_element(arr: np.ndarray, index: int, value: Any, dtype: Any = float) -> np.ndarray:
    out = np.array(arr, dtype=dtype if np.dtype(dtype).kind != "f" else np.result_type(arr, 0.0))
    out.flat[index] = value
    return out


def _describe_array(arr: np.ndarray) -> str:
    return f"array{arr.shape} {arr.dtype}"


def _element_kinds(arr: np.ndarray, as_list: bool) -> dict[str, st.SearchStrategy]:
    """Mutations of one element (NaN, inf, huge, object, string, complex) of an array."""
    where = st.integers(0, arr.size - 1)
    name = "list" if as_list else _describe_array(arr)

    def put(kind: str, values: tuple, dtype: Any = float) -> st.SearchStrategy:
        def build(iv: tuple[int, Any]) -> Mutation:
            i, v = iv
            idx = ", ".join(str(int(j)) for j in np.unravel_index(i, arr.shape))
            mutated = _with_element(arr, i, v, dtype)
            return Mutation(kind, _back(mutated, as_list), f"{name} with [{idx}] = {v!r}")

        return st.tuples(where, st.sampled_from(values)).map(build)

    kinds = {
        "elem_nan": put("elem_nan", (NAN,)),
        "elem_inf": put("elem_inf", (INF, -INF)),
        "elem_huge": put("elem_huge", (1e300, -1e300, MAX)),
        "elem_tiny": put("elem_tiny", (5e-324, 1e-300, -0.0)),
        "object_array": put("object_array", (None, "a", 1.0 + 1j), object).map(
            lambda m: Mutation(m.kind, np.asarray(m.value, dtype=object), "object " + m.text)
        ),
        "complex_array": put("complex_array", (1j, 1.0 + 1e-3j), complex),
    }
    if as_list:
        kinds.pop("object_array")
    kinds["mixed_list"] = put("mixed_list", ("a", None), object).map(
        lambda m: Mutation(m.kind, np.asarray(m.value, dtype=object).tolist(), "list " + m.text)
    )
    return kinds


def _shape_kinds(arr: np.ndarray, as_list: bool) -> dict[str, st.SearchStrategy]:
    """Mutations of an array's shape: empty, wrong ndim, wrong length of an axis."""
    base = np.asarray(arr, dtype=np.result_type(arr, 0.0))
    empties = [(0, *arr.shape[1:]), (0,)] if arr.ndim > 1 else [(0,), (0, 1)]
    flat = base.reshape(-1)
    wrong_ndim = [base[None], flat[0] if flat.size else 0.5]
    if arr.ndim > 1:
        wrong_ndim.append(flat)
    elif arr.ndim == 1:
        wrong_ndim.append(base[:, None])
    longer = (*arr.shape[:-1], arr.shape[-1] + 1)  # one more entry on the last axis
    wrong_shape = [np.concatenate([base, base[..., :1]], axis=-1) if base.size else np.ones(longer)]
    if arr.shape[-1] > 1:
        wrong_shape.append(base[..., :-1])
    if arr.ndim > 1 and arr.shape[0] > 1:
        wrong_shape.append(np.concatenate([base, base[:1]], axis=0))

    def arrays(kind: str, values: list[np.ndarray]) -> st.SearchStrategy:
        return st.sampled_from(values).map(
            lambda a: Mutation(kind, _back(np.asarray(a), as_list) if np.ndim(a) else a, _shape(a))
        )

    def _shape(a: Any) -> str:
        return f"array of shape {np.shape(a)} (was {arr.shape})" if np.ndim(a) else repr(a)

    return {
        "empty": st.sampled_from(empties).map(
            lambda s: Mutation("empty", _back(np.empty(s), as_list), f"empty array {s}")
        ),
        "wrong_ndim": arrays("wrong_ndim", wrong_ndim),
        "wrong_shape": arrays("wrong_shape", wrong_shape),
    }


def _layout_kinds(arr: np.ndarray) -> dict[str, st.SearchStrategy]:
    """The same numbers in another dtype or memory layout: valid input, which must give a
    finite result or a clean error (float32 kernels, Fortran order, strided views)."""
    kinds = {}
    if arr.dtype.kind == "f" and arr.dtype != np.float32:
        kinds["float32"] = _const("float32", (arr.astype(np.float32), "the array as float32"))
    if arr.ndim >= 2:
        kinds["layout"] = _const("layout", (np.asfortranarray(arr), "the array in Fortran order"))
    else:
        strided = np.repeat(arr, 2, axis=0)[::2]  # a view with stride 2: not contiguous
        kinds["layout"] = _const("layout", (strided, "the array as a strided view"))
    return kinds


def _scalar_kinds(value: Any) -> dict[str, st.SearchStrategy]:
    """Replacements of the whole argument by an extreme or bad scalar."""
    is_int = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    number = float(value) if _is_number(value) else 0.5
    return {
        "nan": _const("nan", (NAN, "nan")),
        "inf": _const("inf", (INF, "inf")),
        "-inf": _const("-inf", (-INF, "-inf")),
        "zero": _const("zero", (0, "0") if is_int else (0.0, "0.0")),
        "neg_zero": _const("neg_zero", (-0.0, "-0.0")),
        "negative": _const(
            "negative", *(((-1, "-1"), (-7, "-7")) if is_int else ((-1.0, "-1.0"),))
        ),
        "tiny": _const("tiny", (1e-300, "1e-300"), (1e-308, "1e-308")),
        "denormal": _const("denormal", (5e-324, "5e-324"), (2.2e-310, "2.2e-310")),
        "huge": _const("huge", (1e300, "1e300"), (MAX, "1.797e308"), (-1e300, "-1e300")),
        "huge_int": _const(
            "huge_int",
            (2**62, "2**62"),
            (2**63 - 1, "2**63-1"),
            (2**64, "2**64"),
            (10**30, "10**30"),
        ),
        "neg_huge_int": _const("neg_huge_int", (-(2**62), "-2**62"), (-(2**63), "-2**63")),
        "non_integer": _const("non_integer", (2.5, "2.5"), (number + 0.5, repr(number + 0.5))),
        "complex": _const("complex", (1 + 1j, "(1+1j)"), (complex(number, 1.0), "complex(v, 1)")),
        "none": _const("none", (None, "None")),
        "bool": _const("bool", (True, "True"), (False, "False")),
    }


def _string_kind(value: Any) -> st.SearchStrategy:
    schedules = sys.modules.get(f"{PACKAGE}.schedules")  # a schedule's module is imported
    if schedules is not None and isinstance(value, schedules.Schedule):
        names = [type(value).__name__, "VPTrig", "vptrig", "VE", "nope", ""]
    elif isinstance(value, str):
        names = ["", "nope", value.upper(), value + "x", " " + value]
    else:
        names = ["nope", "", "1.0", "VPTrig"]
    return st.sampled_from(names).map(lambda s: Mutation("string", s, repr(s)))


def _dict_kinds(value: dict) -> dict[str, st.SearchStrategy]:
    keys = sorted(value, key=repr)
    if not keys:
        return {}

    def entry(kind: str, replacement: Any, text: str) -> st.SearchStrategy:
        def build(k: Any) -> Mutation:
            out = dict(value)
            out[k] = replacement
            return Mutation(kind, out, f"dict with [{k!r}] = {text}")

        return st.sampled_from(keys).map(build)

    def drop(k: Any) -> Mutation:
        return Mutation("dict_missing", {a: b for a, b in value.items() if a != k}, f"no {k!r}")

    return {
        "dict_nan": entry("dict_nan", NAN, "nan"),
        "dict_none": entry("dict_none", None, "None"),
        "dict_negative": entry("dict_negative", -1, "-1"),
        "dict_huge": entry("dict_huge", 2**62, "2**62"),
        "dict_string": entry("dict_string", "nope", "'nope'"),
        "dict_missing": st.sampled_from(keys).map(drop),
    }


def mutation_strategies(value: Any) -> dict[str, st.SearchStrategy]:
    """The mutation kinds that apply to an argument whose valid value is ``value``, each a
    hypothesis strategy of :class:`Mutation` (bad or extreme replacements)."""
    kinds = _scalar_kinds(value)
    kinds["string"] = _string_kind(value)
    found = _numeric_array(value)
    if found is not None:
        arr, as_list = found
        kinds.update(_shape_kinds(arr, as_list))
        if arr.size:
            kinds.update(_element_kinds(arr, as_list))
            if not as_list:
                kinds.update(_layout_kinds(arr))
    else:
        kinds["empty"] = _const("empty", (np.empty(0), "np.empty(0)"), ([], "[]"))
        kinds["wrong_ndim"] = _const("wrong_ndim", (np.full((2, 3), 0.5), "np.full((2, 3), .5)"))
        kinds["mixed_list"] = _const("mixed_list", ([1.0, "a", None], "[1.0, 'a', None]"))
        kinds["object_array"] = _const(
            "object_array", (np.array([1.0, None], dtype=object), "object array [1.0, None]")
        )
    if isinstance(value, dict):
        kinds.update(_dict_kinds(value))
    return kinds


def _same(value: Any, default: Any) -> bool:
    """Whether a mutated value is the parameter's default (same type and value)."""
    if value is default:
        return True
    if type(value) is not type(default) or not isinstance(value, (int, float, str, bool)):
        return False
    return value == default


def draw(strategy: st.SearchStrategy, n: int, key: str) -> list[Any]:
    """Up to ``n`` distinct examples of ``strategy``, the same for the same ``key``."""
    found: list[Any] = []
    texts: set[str] = set()

    @hypothesis_seed(zlib.crc32(key.encode()))
    @settings(
        max_examples=n + 2,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(example: Any) -> None:
        items = example if isinstance(example, tuple) else (example,)
        text = "|".join(m.text for m in items)
        if len(found) < n and text not in texts:
            texts.add(text)
            found.append(example)

    # no example database: skip hashing the source of ``collect`` on every call (an optional
    # speed-up; hypothesis versions without this attribute just compute the digest)
    collect._hypothesis_internal_database_key = None  # type: ignore[attr-defined]
    collect()
    return found


@dataclass
class Case:
    """One mutated call: argument ``param`` replaced by ``mutation``."""

    param: str
    mutation: Mutation


def _arguments(base: BaseCall, func: Any) -> tuple[inspect.Signature, dict[str, Any]]:
    sig = inspect.signature(func)
    bound = sig.bind(*base.args, **base.kwargs)
    values = {}
    for p in sig.parameters.values():
        if p.name in bound.arguments:
            values[p.name] = bound.arguments[p.name]
        elif p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            values[p.name] = p.default
    return sig, values


def plan_cases(base: BaseCall, mode: str, kinds: Iterable[str] | None = None) -> list[Case]:
    """The mutated calls of a target: every parameter x every mutation kind with up to two
    values each (``full``), or :data:`SAMPLE_CASES` (parameter, kind) pairs chosen with a seed
    fixed by the target's name (``sample``). ``kinds`` restricts the mutation kinds."""
    sig, values = _arguments(base, base.callable(base.receiver))
    strategies = {
        p.name: mutation_strategies(values[p.name])
        for p in sig.parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }
    if kinds is not None:
        keep = set(kinds)
        strategies = {p: {k: v for k, v in ks.items() if k in keep} for p, ks in strategies.items()}
        strategies = {p: ks for p, ks in strategies.items() if ks}
    name = base.target.name
    if mode == "sample":
        pairs = [(p, k) for p, ks in strategies.items() for k in sorted(ks)]
        pairs = random.Random(zlib.crc32(name.encode())).sample(
            pairs, min(SAMPLE_CASES, len(pairs))
        )
        # hypothesis generates the simplest example first; the sample takes the next one
        # (random, with the seed of draw)
        chosen = st.tuples(*(strategies[p][k] for p, k in pairs))
        drawn = draw(chosen, 2, name)[-1] if pairs else ()
        cases = [Case(p, m) for (p, _), m in zip(pairs, drawn, strict=True)]
        return [c for c in cases if not _same(c.mutation.value, sig.parameters[c.param].default)]
    cases = []
    for param, kinds in strategies.items():
        # a "mutation" to the parameter's default is the documented valid call (e.g.
        # config=None: the paper-size run), not bad input: it is left out
        default = sig.parameters[param].default
        seen = set()
        everything = st.tuples(*(kinds[k] for k in sorted(kinds)))
        for example in draw(everything, 2, f"{name}:{param}"):
            for mutation in example:
                if (mutation.kind, mutation.text) not in seen and not _same(
                    mutation.value, default
                ):
                    seen.add((mutation.kind, mutation.text))
                    cases.append(Case(param, mutation))
    return cases


# ----------------------------------------------------------------------------------------------
# the oracle
# ----------------------------------------------------------------------------------------------


def _nonfinite_input(value: Any, depth: int = 0) -> bool:
    """Whether a (mutated) argument holds a NaN, an infinity or a complex number."""
    if depth > 4:
        return False
    if isinstance(value, (float, np.floating)):
        return not math.isfinite(value)
    if isinstance(value, (complex, np.complexfloating)):
        return True
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "c":
            return True
        if value.dtype.kind == "f":
            return not bool(np.all(np.isfinite(value)))
        if value.dtype.kind == "O":
            return any(_nonfinite_input(v, depth + 1) for v in value.flat)
        return False
    if isinstance(value, (list, tuple)):
        return any(_nonfinite_input(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return any(_nonfinite_input(v, depth + 1) for v in value.values())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return any(
            _nonfinite_input(getattr(value, f.name, None), depth + 1)
            for f in dataclasses.fields(value)
        )
    return False


_COMPLEX_WARNING = getattr(np, "exceptions", np).ComplexWarning


def _complex_input(value: Any, depth: int = 0) -> bool:
    """Whether a (mutated) argument holds a complex number."""
    if depth > 4:
        return False
    if isinstance(value, (complex, np.complexfloating)):
        return True
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "O":
            return any(_complex_input(v, depth + 1) for v in value.flat)
        return value.dtype.kind == "c"
    if isinstance(value, (list, tuple)):
        return any(_complex_input(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return any(_complex_input(v, depth + 1) for v in value.values())
    return False


def _has_float(value: Any, depth: int = 0) -> bool:
    """Whether an argument holds a floating-point number (Python, NumPy or sympy)."""
    if depth > 4:
        return False
    if isinstance(value, (float, complex, np.floating, np.complexfloating)):
        return True
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "O":
            return any(_has_float(v, depth + 1) for v in value.flat)
        return value.dtype.kind in "fc"
    if isinstance(value, (list, tuple)):
        return any(_has_float(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return any(_has_float(v, depth + 1) for v in value.values())
    sympy = sys.modules.get("sympy")
    return sympy is not None and isinstance(value, sympy.Basic) and bool(value.atoms(sympy.Float))


@dataclass
class Scan:
    """Non-finite or complex floating-point content found in a result, with where."""

    nan: str | None = None
    posinf: str | None = None
    neginf: str | None = None
    complex: str | None = None
    exact_inf: str | None = None  # sympy's oo, mpmath's inf: infinite in exact arithmetic
    budget: int = 20000

    def note(self, what: str, path: str) -> None:
        if getattr(self, what) is None:
            setattr(self, what, path)


def scan(obj: Any, path: str = "result", out: Scan | None = None, depth: int = 0) -> Scan:
    """Walk a result (numbers, arrays, containers, dataclasses, package objects, sympy and
    mpmath numbers) and record the first NaN, infinity and complex value."""
    out = Scan() if out is None else out
    out.budget -= 1
    if out.budget < 0 or depth > 6 or obj is None or isinstance(obj, (str, bytes, bool)):
        return out
    if isinstance(obj, (float, np.floating)):
        if math.isnan(obj):
            out.note("nan", path)
        elif math.isinf(obj):
            out.note("posinf" if obj > 0 else "neginf", path)
    elif isinstance(obj, (complex, np.complexfloating)):
        out.note("complex", path)
        scan(obj.real, path, out, depth + 1)
        scan(obj.imag, path, out, depth + 1)
    elif isinstance(obj, np.ndarray):
        if obj.dtype.kind in "fc":
            if obj.dtype.kind == "c":
                out.note("complex", path)
            parts = (obj.real, obj.imag) if obj.dtype.kind == "c" else (obj,)
            for part in parts:
                for what, bad in (
                    ("nan", np.isnan(part)),
                    ("posinf", np.isposinf(part)),
                    ("neginf", np.isneginf(part)),
                ):
                    if bad.any():
                        out.note(what, f"{path}[{np.argwhere(bad)[0].tolist()}]")
        elif obj.dtype.kind == "O":
            for i, v in enumerate(obj.flat):
                if i > 1000:
                    break
                scan(v, f"{path}.flat[{i}]", out, depth + 1)
    elif isinstance(obj, dict):
        for k, v in list(obj.items())[:1000]:
            scan(v, f"{path}[{k!r}]", out, depth + 1)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for i, v in enumerate(list(obj)[:1000]):
            scan(v, f"{path}[{i}]", out, depth + 1)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name, None)
            if not f.init and value is f.default:
                continue  # a constant of the class (OU's T = inf), not computed from the input
            scan(value, f"{path}.{f.name}", out, depth + 1)
    elif type(obj).__module__.startswith("sympy"):
        _scan_sympy(obj, path, out)
    elif type(obj).__module__.startswith("mpmath"):
        _scan_mpmath(obj, path, out)
    elif type(obj).__module__.startswith(PACKAGE) and hasattr(obj, "__dict__"):
        for k, v in vars(obj).items():
            scan(v, f"{path}.{k}", out, depth + 1)
    return out


def _scan_sympy(obj: Any, path: str, out: Scan) -> None:
    import sympy

    if not isinstance(obj, sympy.Basic):
        return
    if obj.has(sympy.nan):
        out.note("nan", path)
    if obj.has(sympy.zoo):
        out.note("nan", path + " (zoo)")
    if obj.has(sympy.I):
        out.note("complex", path)
    for infinity, what in ((sympy.oo, "posinf"), (-sympy.oo, "neginf")):
        if obj.has(infinity):
            # exact arithmetic has no overflow: oo is the mathematical value (a divergent
            # integral); with Floats in the expression it may be a rounding artefact instead
            # (atanh(1.0) = oo where the exact argument is below 1)
            out.note(what if obj.atoms(sympy.Float) else "exact_inf", path)


def _scan_mpmath(obj: Any, path: str, out: Scan) -> None:
    import mpmath

    if isinstance(obj, mpmath.mpc):
        out.note("complex", path)
    try:
        if mpmath.isnan(obj):
            out.note("nan", path)
        elif mpmath.isinf(obj):
            out.note("exact_inf", path)
    except TypeError:
        pass
    if isinstance(obj, mpmath.matrix):
        for i in range(min(obj.rows, 100)):
            for j in range(min(obj.cols, 100)):
                _scan_mpmath(obj[i, j], f"{path}[{i},{j}]", out)


_NONFINITE = r"(?<![\w|])[-+]?(?:nan|inf|infinity|infinite)"
_DOC_SAYS = [
    # "returns nan if ...", "gives inf", "is NaN for ...", "(``t`` is NaN for s-time runs)"
    re.compile(
        rf"\b(?:returns?|gives?|yields?|holds?|is|are|becomes?)\b[^.;=]{{0,40}}?`*{_NONFINITE}\b",
        re.IGNORECASE,
    ),
    # "NaN when the set has one point", "-inf where the bound is 0"
    re.compile(rf"{_NONFINITE}`*\)?,?\s+(?:when|if|where|for|once)\b", re.IGNORECASE),
]
_DOC_REFUSAL = re.compile(r"rais|reject|refus|error|must|allowed|warn", re.IGNORECASE)


def _tokens(word: str) -> set[str]:
    """The non-finite values a documented word stands for: ``nan``, ``+inf``, ``-inf``."""
    word = word.lower()
    if word == "nan":
        return {"nan"}
    if word.startswith("-"):
        return {"-inf"}
    if word.startswith("inf") and word != "inf":  # "infinite", "infinity": either sign
        return {"+inf", "-inf"}
    return {"+inf"}


def _says_nonfinite(doc: str | None, about: str | None = None) -> set[str]:
    """The non-finite values (``nan``, ``+inf``, ``-inf``) that a docstring says are returned,
    in sentences not about refusing them (and, with ``about``, that name that field)."""
    sentences = re.split(r"(?<=[.;])\s+|\n\s*\n", " ".join((doc or "").split("\n")))
    found: set[str] = set()
    for sentence in sentences:
        if _DOC_REFUSAL.search(sentence):
            continue
        if about is not None and not re.search(rf"\b{re.escape(about)}\b", sentence):
            continue
        for pattern in _DOC_SAYS:
            for m in pattern.finditer(sentence):
                found |= _tokens(re.findall(_NONFINITE, m.group(0), re.IGNORECASE)[-1])
    return found


@functools.cache
def documented_nonfinite(target: Target) -> frozenset[str]:
    """The non-finite values (``nan``, ``+inf``, ``-inf``) that the target's docstring says it
    returns (for a class, its docstring or its ``__init__``'s).

    A function that documents a NaN or an infinite value returns it by design ("Returns nan if
    there is no crossing on the grid", "``second`` (NaN when the set has one point)", "-inf
    where the bound is 0"); such a value is not a silent failure, so the oracle accepts it from
    finite input too. Sentences about refusing them ("NaN or inf raise ValueError") and mere
    mathematical notation ("on (0, inf)", "when T = inf") do not count."""
    obj, _, _, _ = resolve(target)
    doc = inspect.getdoc(obj)
    if inspect.isclass(obj):
        doc = f"{doc or ''}\n\n{inspect.getdoc(obj.__init__) or ''}"
    return frozenset(_says_nonfinite(doc))


def _field_of(path: str) -> str | None:
    """The last named field of a scan path: ``result.details['lower'][[0]]`` -> ``lower``."""
    names = re.findall(r"\.(\w+)|\['(\w+)'\]", path)
    return next((a or b for a, b in reversed(names)), None)


def _documented_at(target: Target, result: Any, what: str, where: str) -> bool:
    """Whether the non-finite value ``what`` at ``where`` in the result is documented: by the
    target's docstring, by the docstring of the result's class (``Trajectories``: "``t`` is
    NaN for schedule-free s-time runs"), or by a sentence of the module's docstring that names
    the field (``concentration``: "a ``log_value`` ... is -inf where the bound is exactly 0")."""
    if what in documented_nonfinite(target):
        return True
    kind = type(result)
    if getattr(kind, "__module__", "").startswith(PACKAGE) and what in _says_nonfinite(
        inspect.getdoc(kind)
    ):
        return True
    name = _field_of(where)
    module_doc = importlib.import_module(target.module).__doc__
    return name is not None and what in _says_nonfinite(module_doc, about=name)


@dataclass
class Outcome:
    """The classification of one call."""

    category: str
    detail: str = ""
    names_argument: bool | None = None

    @property
    def ok(self) -> bool:
        return self.category in OK_OUTCOMES


def _exception_outcome(err: BaseException, param: str | None, path_argument: bool) -> Outcome:
    kind = type(err)
    module = kind.__module__ or ""
    text = f"{kind.__name__}: {_first_line(err)}"
    if module.startswith("numba"):
        # numba's TypingError and friends, whatever their base classes: the input reached a
        # kernel without being validated first
        return Outcome(f"exception:numba.{kind.__name__}", text)
    if isinstance(err, IndexError):
        # numpy's AxisError is both an IndexError and a ValueError: an accident inside numpy,
        # not a validation, so it counts with IndexError
        return Outcome(f"exception:{kind.__name__}", text)
    if isinstance(err, (ValueError, TypeError)):
        names = None if param is None else param in str(err)
        return Outcome("clean_error", text, names)
    if isinstance(err, OSError) and path_argument:
        # reading a file: FileNotFoundError/IsADirectoryError for a mutated path is the
        # ordinary, clean answer of Python's file API
        return Outcome("os_error_for_path", text, param in str(err) if param else None)
    return Outcome(f"exception:{kind.__name__}", text)


def classify(
    result: Any,
    error: BaseException | None,
    caught: list[warnings.WarningMessage],
    *,
    target: Target,
    param: str | None,
    mutated: Any,
    base_scan: Scan,
    path_argument: bool = False,
    exact_inputs: bool = False,
) -> Outcome:
    """The oracle (see the module docstring): an :class:`Outcome` whose category is one of
    :data:`OK_OUTCOMES` or names the failure."""
    if error is not None:
        return _exception_outcome(error, param, path_argument)
    # for a base call, ``mutated`` holds all its arguments (defaults included): a default of
    # inf (an infinite horizon) is an infinite input like any other
    bad_input = _nonfinite_input(mutated)
    complex_input = _complex_input(mutated)
    found = scan(result)
    if found.complex and not base_scan.complex and not complex_input:
        return Outcome("complex_result", f"complex value at {found.complex}")
    for field_name, what in (("nan", "nan"), ("posinf", "+inf"), ("neginf", "-inf")):
        where = getattr(found, field_name)
        if where is None:
            continue
        if bad_input:
            # NaN in, NaN out: IEEE propagation, not a value made up from valid numbers
            return Outcome("bad_input_passed_on", f"{what} at {where}")
        if getattr(base_scan, field_name) or _documented_at(target, result, what, where):
            # the function returns this value by design: documented, or for its own example
            return Outcome("nonfinite_documented", f"{what} at {where}")
        category = "nan_from_finite" if what == "nan" else "inf_from_finite"
        return Outcome(category, f"{what} at {where}")
    discarded = [w for w in caught if issubclass(w.category, _COMPLEX_WARNING)]
    if discarded:
        # numpy dropped an imaginary part: a complex argument silently became a real one
        return Outcome("complex_discarded", f"ComplexWarning: {discarded[0].message}")
    runtime = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    if runtime and not bad_input:
        w = runtime[0]
        where = f"{Path(w.filename).name}:{w.lineno}"
        return Outcome("runtime_warning", f"{w.category.__name__}: {w.message} ({where})")
    if found.complex and complex_input:
        return Outcome("bad_input_passed_on", f"complex at {found.complex}")
    if found.exact_inf and exact_inputs:
        # sympy without floats has no overflow and no rounding: its oo is the exact value (a
        # divergent integral), which the mathematics says, not an accident
        return Outcome("exact_infinity", f"infinity at {found.exact_inf}")
    if found.exact_inf:
        # floats among the inputs: oo may be a rounding artefact (atanh(1.0) where the exact
        # argument is below 1)
        if bad_input:
            return Outcome("bad_input_passed_on", f"infinity at {found.exact_inf}")
        if _documented_at(target, result, "+inf", found.exact_inf):
            return Outcome("nonfinite_documented", f"infinity at {found.exact_inf}")
        return Outcome("inf_from_finite", f"sympy infinity at {found.exact_inf}")
    if bad_input and param is not None:
        return Outcome("finite_from_bad_input", "accepted")
    return Outcome("finite")


def run_call(base: BaseCall, case: Case) -> tuple[Outcome, float]:
    """Call the target with ``case`` applied and classify the outcome."""
    args, kwargs, receiver = _copied(base.args, base.kwargs, base.receiver)
    func = base.callable(receiver)
    sig, values = _arguments(BaseCall(base.target, "", receiver, args, kwargs), func)
    param, mutated, base_value = case.param, case.mutation.value, values[case.param]
    values[case.param] = mutated
    path_argument = "Path" in str(sig.parameters[param].annotation) or (
        isinstance(base_value, (str, os.PathLike)) and Path(base_value).exists()
    )
    bound = inspect.BoundArguments(sig, values)  # type: ignore[arg-type]
    args, kwargs = list(bound.args), dict(bound.kwargs)
    result = error = None
    start = time.perf_counter()
    with (
        warnings.catch_warnings(record=True) as caught,
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        warnings.simplefilter("always")
        try:
            result = func(*args, **kwargs)
        except BaseException as err:  # the oracle judges every exception type
            error = err
    seconds = time.perf_counter() - start
    try:
        outcome = classify(
            result,
            error,
            caught,
            target=base.target,
            param=param,
            mutated=mutated,
            base_scan=base.scan or Scan(),
            path_argument=path_argument,
            exact_inputs=not any(_has_float(v) for v in values.values()),
        )
    except Exception as err:  # a bug of the harness: reported, and the run goes on
        outcome = Outcome("harness_error", f"{type(err).__name__}: {_first_line(err)}")
    _close_figures()
    return outcome, seconds


# ----------------------------------------------------------------------------------------------
# the child process
# ----------------------------------------------------------------------------------------------


def _child(args: argparse.Namespace) -> None:
    import faulthandler
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    faulthandler.enable()
    channel = os.fdopen(args.fd, "w", buffering=1)

    def emit(**event: Any) -> None:
        channel.write(json.dumps(event, default=repr) + "\n")

    targets = [Target.from_spec(s) for s in json.loads(Path(args.targets).read_text())]
    if any(t.module.split(".")[0] == PACKAGE for t in targets):
        _listen_to_numba(emit)
    start_target, start_case = (int(x) for x in args.resume.split(","))
    finder = BaseFinder(targets)
    for ti, target in enumerate(targets):
        if ti < start_target or (ti == start_target and start_case == -2):
            continue
        emit(ev="base", t=ti)
        base = finder.find(target)
        if isinstance(base, str):
            emit(ev="target", t=ti, source=None, error=base, n=0)
            continue
        first_time = ti > start_target or start_case < 0
        if first_time:
            outcome = classify(
                base.result, base.error, base.caught, target=target, param=None,
                mutated=[
                    base.receiver,  # a method's instance is an input too
                    *_arguments(base, base.callable(base.receiver))[1].values(),
                ],
                base_scan=Scan(),
            )  # fmt: skip
            emit(ev="result", t=ti, c=-1, outcome=dataclasses.asdict(outcome), s=base.seconds)
        if base.error is not None:
            error = f"the base call raised {type(base.error).__name__}"
            emit(ev="target", t=ti, source=base.source, error=error, n=0)
            continue
        base.scan = scan(base.result)
        try:
            cases = plan_cases(base, args.mode, args.kinds.split(",") if args.kinds else None)
        except Exception as err:  # a bug of the harness: a finding of its own, and go on
            failure = Outcome("harness_error", f"planning: {type(err).__name__}: {err}")
            emit(ev="start", t=ti, c=-3, param=None, kind="planning", text="")
            emit(ev="result", t=ti, c=-3, outcome=dataclasses.asdict(failure), s=0.0)
            emit(ev="target", t=ti, source=base.source, error=f"planning: {err}", n=0)
            continue
        emit(
            ev="target", t=ti, source=base.source, error=None, n=len(cases), s=base.seconds,
            call=_call_text(base),
        )  # fmt: skip
        for ci, case in enumerate(cases):
            if ti == start_target and ci <= start_case:
                continue
            emit(
                ev="start", t=ti, c=ci, param=case.param, kind=case.mutation.kind,
                text=case.mutation.text,
            )  # fmt: skip
            faulthandler.dump_traceback_later(args.timeout * 0.9, repeat=True)
            outcome, seconds = run_call(base, case)
            faulthandler.cancel_dump_traceback_later()
            emit(ev="result", t=ti, c=ci, outcome=dataclasses.asdict(outcome), s=seconds)
    emit(ev="done")
    channel.flush()
    os._exit(0)  # skip interpreter teardown (numba/threads) once everything is reported


def _listen_to_numba(emit: Callable[..., None]) -> None:
    """Report numba compilations to the parent, which excludes them from the call timeout."""
    from numba.core import event

    depth = [0]

    class Listener(event.Listener):
        def on_start(self, ev: Any) -> None:
            depth[0] += 1
            if depth[0] == 1:
                emit(ev="compile", on=True)

        def on_end(self, ev: Any) -> None:
            depth[0] -= 1
            if depth[0] == 0:
                emit(ev="compile", on=False)

    event.register("numba:compile", Listener())


# ----------------------------------------------------------------------------------------------
# the parent: run the children, survive their crashes and hangs, collect the records
# ----------------------------------------------------------------------------------------------


@dataclass
class Record:
    """One call and its outcome."""

    target: str
    module: str
    param: str | None
    kind: str
    text: str
    category: str
    detail: str
    names_argument: bool | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.category in OK_OUTCOMES


@dataclass
class TargetInfo:
    target: str
    module: str
    source: str | None = None
    call: str | None = None
    error: str | None = None
    n_cases: int = 0
    base_seconds: float = 0.0


@dataclass
class RunResult:
    records: list[Record] = field(default_factory=list)
    targets: dict[str, TargetInfo] = field(default_factory=dict)
    seconds: float = 0.0
    restarts: int = 0

    def failures(self, module: str | None = None) -> list[Record]:
        return [r for r in self.records if not r.ok and (module is None or r.module == module)]

    def merge(self, other: RunResult) -> None:
        self.records += other.records
        self.targets.update(other.targets)
        self.seconds += other.seconds
        self.restarts += other.restarts


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        NUMBA_NUM_THREADS="1",
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        MPLBACKEND="Agg",
        PYTHONHASHSEED="0",
        PYTHONFAULTHANDLER="1",
    )
    env.pop("PYTHONWARNINGS", None)
    return env


WALL_FACTOR = 4.0  # a step may take this many times its limit in wall-clock time


class _Clock:
    """How long the child has spent on its current step, against a limit.

    The measure is the child's CPU time (``/proc/<pid>/stat``), so that a machine shared with
    other work does not turn a slow call into a "hang", minus numba compilation; a child that
    waits instead of computing is caught by a wall-clock cap of :data:`WALL_FACTOR` times the
    limit. Without ``/proc``, wall-clock time is the measure."""

    def __init__(self, pid: int, limit: float) -> None:
        self.pid = pid
        self.restart(limit)

    def _cpu(self) -> float | None:
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def restart(self, limit: float) -> None:
        self.limit, self.paused = limit, None
        self.cpu0, self.wall0 = self._cpu(), time.monotonic()

    def pause(self) -> None:
        self.paused = (self._cpu(), time.monotonic())

    def resume(self) -> None:
        if self.paused is not None:
            cpu, wall = self.paused
            now_cpu = self._cpu()
            if self.cpu0 is not None and cpu is not None and now_cpu is not None:
                self.cpu0 += now_cpu - cpu
            self.wall0 += time.monotonic() - wall
            self.paused = None

    def expired(self) -> bool:
        if self.paused is not None:
            return False  # compiling
        wall = time.monotonic() - self.wall0
        cpu = self._cpu()
        if self.cpu0 is None or cpu is None:
            return wall > self.limit
        return cpu - self.cpu0 > self.limit or wall > WALL_FACTOR * self.limit


class _Lines:
    """Line reader over a pipe with a timeout."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""
        self.sel = selectors.DefaultSelector()
        self.sel.register(fd, selectors.EVENT_READ)

    def read(self, timeout: float) -> str | None:
        """The next line; ``""`` at end of file; ``None`` on timeout."""
        deadline = time.monotonic() + max(timeout, 0.0)
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sel.select(left):
                return None
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                return ""
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()

    def close(self) -> None:
        self.sel.close()
        os.close(self.fd)


def _crash_detail(stderr_path: Path) -> str:
    """The innermost frame of the package (or the last frame) in faulthandler's output."""
    text = stderr_path.read_text(errors="replace") if stderr_path.exists() else ""
    blocks = re.split(r"\n(?=(?:Current thread|Thread) 0x)", text)
    frames = re.findall(r'File "([^"]+)", line (\d+) in (\S+)', blocks[-1] if blocks else "")
    for path, line, func in frames:
        if PACKAGE in path:
            return f"in {func} ({Path(path).name}:{line})"
    return f"in {frames[0][2]} ({Path(frames[0][0]).name}:{frames[0][1]})" if frames else ""


def run(
    targets: list[Target],
    mode: str = "sample",
    *,
    timeout: float = CALL_TIMEOUT,
    base_timeout: float = BASE_TIMEOUT,
    kinds: Iterable[str] | None = None,
    progress: Callable[[str], None] | None = None,
    jobs: int = 1,
) -> RunResult:
    """Fuzz ``targets`` in a child process, restarted after each crash or hang; ``mode`` is
    ``"sample"`` or ``"full"`` (see :func:`plan_cases`), ``kinds`` restricts the mutations.

    ``jobs`` children run side by side, each on a fixed, contiguous share of the targets: the
    outcomes do not depend on it, only the wall time."""
    if jobs > 1 and len(targets) > 1:
        size = -(-len(targets) // jobs)
        shares = [targets[i : i + size] for i in range(0, len(targets), size)]
        with ThreadPoolExecutor(len(shares)) as pool:
            parts = list(
                pool.map(
                    lambda share: run(
                        share, mode, timeout=timeout, base_timeout=base_timeout,
                        kinds=kinds, progress=progress,
                    ),
                    shares,
                )
            )  # fmt: skip
        out = RunResult()
        for part in parts:
            out.merge(part)
        out.seconds = max(part.seconds for part in parts)
        return out
    out = RunResult()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        spec = Path(tmp) / "targets.json"
        spec.write_text(json.dumps([t.spec() for t in targets]))
        child = _Child(spec, targets, mode, timeout, base_timeout, Path(tmp), out, progress)
        child.kinds = ",".join(kinds or ())
        resume: tuple[int, int] | None = (0, -1)
        while resume is not None:
            resume = child.run(resume)
    out.seconds = time.monotonic() - start
    return out


class _Child:
    """Runs the child from a resume point; returns where to resume after a crash or hang."""

    def __init__(
        self,
        spec: Path,
        targets: list[Target],
        mode: str,
        timeout: float,
        base_timeout: float,
        tmp: Path,
        out: RunResult,
        progress: Callable[[str], None] | None,
    ) -> None:
        self.spec, self.targets, self.mode = spec, targets, mode
        self.timeout, self.base_timeout, self.tmp = timeout, base_timeout, tmp
        self.out, self.progress = out, progress
        self.retried: set[tuple[int, int]] = set()
        self.silent_crashes = 0  # consecutive children that died before their first event
        self.kinds = ""
        self.with_base: set[int] = set()

    def _record(
        self, ti: int, case: dict, category: str, detail: str, names: Any, s: float
    ) -> None:
        t = self.targets[ti]
        param, kind, text = case.get("param"), case.get("kind", "base"), case.get("text", "")
        if kind == "base":
            if ti in self.with_base:  # a child restarted inside this target reports it again
                return
            self.with_base.add(ti)
        self.out.records.append(
            Record(t.name, t.module, param, kind, text, category, detail, names, s)
        )

    def _info(self, ti: int) -> TargetInfo:
        t = self.targets[ti]
        return self.out.targets.setdefault(t.name, TargetInfo(t.name, t.module))

    def _spawn(self, resume: tuple[int, int], stderr_path: Path) -> tuple[subprocess.Popen, int]:
        read_fd, write_fd = os.pipe()
        workdir = self.tmp / "cwd"
        workdir.mkdir(exist_ok=True)
        env = _child_env()
        env["DIFFMEM_SWEEPS"] = str(self.tmp / "sweeps")
        cmd = [
            sys.executable, str(Path(__file__)), "--child", "--targets", str(self.spec),
            "--mode", self.mode, "--resume", f"{resume[0]},{resume[1]}", "--fd", str(write_fd),
            "--timeout", str(self.timeout), "--kinds", self.kinds,
        ]  # fmt: skip
        with open(stderr_path, "wb") as err:
            proc = subprocess.Popen(
                cmd,
                pass_fds=(write_fd,),
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )
        os.close(write_fd)
        return proc, read_fd

    def run(self, resume: tuple[int, int]) -> tuple[int, int] | None:
        stderr_path = self.tmp / f"child-{self.out.restarts}.err"
        proc, read_fd = self._spawn(resume, stderr_path)
        lines = _Lines(read_fd)
        ti, case, phase = resume[0], {}, "base"
        clock = _Clock(proc.pid, self.base_timeout)
        status = "crash"
        heard = False
        try:
            while True:
                line = lines.read(0.25)
                if line is None:
                    if clock.expired():
                        status = "hang"
                        break
                    continue
                if line == "":
                    break
                heard = True
                ev = json.loads(line)
                kind = ev["ev"]
                if kind == "compile":  # compilation time does not count against the call
                    clock.pause() if ev["on"] else clock.resume()
                    continue
                if kind == "done":
                    status = "done"
                    break
                ti = ev["t"]
                if kind == "base":
                    phase, case = "base", {}
                    clock.restart(self.base_timeout)
                    if self.progress:
                        self.progress(self.targets[ti].name)
                elif kind == "target":
                    info = self._info(ti)
                    info.source, info.error, info.n_cases = ev["source"], ev["error"], ev["n"]
                    info.call = ev.get("call")
                    info.base_seconds = ev.get("s", 0.0)
                    phase = "between"
                    clock.restart(self.base_timeout)
                elif kind == "start":
                    phase, case = "call", ev
                    clock.restart(self.timeout)
                elif kind == "result":
                    o = ev["outcome"]
                    self._record(ti, case, o["category"], o["detail"], o["names_argument"], ev["s"])
                    phase = "between"
                    clock.restart(self.base_timeout)
        finally:
            if status != "done":
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            lines.close()
        if status == "done":
            return None
        self.out.restarts += 1
        code = proc.returncode
        if status == "hang":
            category = "hang"
        elif code < 0:
            category = f"crash:{signal.Signals(-code).name}"
        else:
            category = f"crash:exit status {code}"
        detail = _crash_detail(stderr_path)
        self.silent_crashes = 0 if heard else self.silent_crashes + 1
        if self.silent_crashes >= 2:
            # a child that dies before its first event dies at start-up (an import error, a
            # target that no longer resolves): restarting it would never end
            raise RuntimeError(f"the fuzz child dies at start-up: {category} {detail}".rstrip())
        at = (ti, case["c"] if phase == "call" else -1)
        if status == "crash" and at not in self.retried:
            # a crash is confirmed by running the same call once more in a fresh child, so that
            # an outside kill (out of memory on a shared machine) is not reported as a finding
            self.retried.add(at)
            return (ti, at[1] - 1) if phase == "call" else (ti, -1)
        if phase == "call":
            self._record(ti, case, category, detail, None, self.timeout)
            return (ti, case["c"])
        # while finding the base call (docstrings, the base call itself) or planning mutations
        if phase == "base":
            self._record(ti, {"kind": "base"}, category, detail, None, self.base_timeout)
        where = "finding the base call" if phase == "base" else "planning the mutations"
        self._info(ti).error = f"{category} while {where} {detail}".rstrip()
        return (ti, -2)


# ----------------------------------------------------------------------------------------------
# reports
# ----------------------------------------------------------------------------------------------


def format_record(r: Record) -> str:
    short = r.target.removeprefix(r.module + ".")
    arg = "(base call)" if r.param is None else f"{r.param} = {r.text} [{r.kind}]"
    return f"{short} | {arg} | {r.category} | {r.detail}"


def _grouped(
    records: list[Record], module: str, sources: dict[str, str | None] | None = None
) -> list[str]:
    """One line per (callable, argument, outcome): the values that gave it and one detail
    (and, with ``sources``, where the other arguments came from: to reproduce it)."""
    groups: dict[tuple, list[Record]] = defaultdict(list)
    for r in sorted(records, key=_order):
        groups[r.target, r.param or "", r.category].append(r)
    lines = []
    for (target, param, category), rs in groups.items():
        short = target.removeprefix(module + ".")
        values = ", ".join(dict.fromkeys(r.text for r in rs[:8])) + (", ..." if len(rs) > 8 else "")
        arg = "(base call)" if not param else f"{param} = {values}"
        line = f"{short} | {arg} | {category} x{len(rs)} | e.g. {rs[0].detail}"
        if sources is not None:
            line += f" | base call: {sources.get(target) or '?'}"
        lines.append(line)
    return lines


def module_report(module: str, result: RunResult, mode: str, header: str = "") -> str:
    """The findings file of one module: grouped findings, callables without a base call, the
    finite results from NaN/inf/complex arguments (for review), then every finding in full."""
    records = [r for r in result.records if r.module == module]
    infos = [i for i in result.targets.values() if i.module == module]
    counts = Counter(r.category for r in records)
    fails = [r for r in records if not r.ok]
    review = [r for r in records if r.category == "finite_from_bad_input"]
    documented = [r for r in records if r.category in ("nonfinite_documented", "exact_infinity")]
    missing = [i for i in infos if i.error is not None]
    lines = [
        f"# fuzz findings: {module} ({mode} run) {header}".rstrip(),
        f"# callables {len(infos)}, with a base call {len(infos) - len(missing)}, "
        f"calls {len(records)}, findings {len(fails)} "
        f"in {len({r.target for r in fails})} callables",
        "# outcome counts: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
        "# line format: callable | argument = the values that gave it | outcome xcount | detail",
        "",
        f"== FINDINGS ({len(fails)} calls), grouped ==",
        *_grouped(fails, module, {i.target: i.call for i in infos}),
        "",
        f"== NO BASE CALL OR ABORTED ({len(missing)}): not fuzzed ==",
        *(f"{i.target.removeprefix(module + '.')} | {i.error}" for i in missing),
        "",
        f"== REVIEW ({len(review)} calls): finite result from a NaN/inf/complex argument "
        "(allowed by the oracle; a silent acceptance may still be a bug) ==",
        *_grouped(review, module),
        "",
        f"== DOCUMENTED NON-FINITE ({len(documented)} calls): a NaN/inf the docstring documents "
        "(or the valid base call returns), sympy/mpmath infinities (allowed; listed to audit) ==",
        *_grouped(documented, module),
        "",
        "== EVERY FINDING: callable | argument = value [mutation kind] | outcome | detail ==",
        *(format_record(r) for r in sorted(fails, key=_order)),
    ]
    return "\n".join(lines) + "\n"


def _order(r: Record) -> tuple:
    return (r.target, r.category, r.param or "", r.kind, r.text)


def summary_report(result: RunResult, mode: str, header: str = "") -> str:
    """Counts per outcome category, overall and per module."""
    records = result.records
    counts = Counter(r.category for r in records)
    infos = list(result.targets.values())
    errors = [r for r in records if r.category == "clean_error" and r.param is not None]
    naming = sum(bool(r.names_argument) for r in errors)
    by_source = Counter(
        "no base call"
        if i.error is not None and not i.source
        else ("docstring" if (i.source or "").startswith("docstring") else "signature")
        for i in infos
    )
    lines = [
        f"# fuzz summary ({mode} run) {header}".rstrip(),
        "# one module again: python tests/fuzzing.py --modules diffmem_theory.X --findings DIR",
        "# (--mode sample for the default pytest sample; tests/test_fuzz.py runs both)",
        f"calls {len(records)} over {len(infos)} callables; wall time {result.seconds:.0f} s, "
        f"child restarts {result.restarts}",
        "base calls: " + ", ".join(f"{k} {v}" for k, v in sorted(by_source.items())),
        f"clean errors naming the mutated argument: {naming} of {len(errors)}",
        "",
        "outcome categories (ok = allowed by the oracle):",
    ]
    for cat, n in sorted(counts.items(), key=lambda kv: (kv[0] not in OK_OUTCOMES, -kv[1])):
        tag = "ok  " if cat in OK_OUTCOMES else "FAIL"
        lines.append(f"  {tag} {cat:32s} {n:7d}  ({100 * n / max(len(records), 1):.1f}%)")
    lines += ["", "per module: calls, findings, callables with findings, top categories"]
    for module in sorted({r.module for r in records} | {i.module for i in infos}):
        mine = [r for r in records if r.module == module]
        bad = [r for r in mine if not r.ok]
        top = Counter(r.category for r in bad).most_common(4)
        lines.append(
            f"  {module:52s} {len(mine):6d} {len(bad):6d} {len({r.target for r in bad}):4d}  "
            + ", ".join(f"{k} {v}" for k, v in top)
        )
    return "\n".join(lines) + "\n"


def write_findings(result: RunResult, folder: Path, mode: str, header: str = "") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for module in sorted({i.module for i in result.targets.values()}):
        (folder / f"{module}.txt").write_text(module_report(module, result, mode, header))
    (folder / "SUMMARY.txt").write_text(summary_report(result, mode, header))


def _git_header() -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=HERE,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        rev = "?"
    return f"at commit {rev}, {time.strftime('%Y-%m-%d %H:%M')}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--targets", help=argparse.SUPPRESS)
    parser.add_argument("--resume", default="0,-1", help=argparse.SUPPRESS)
    parser.add_argument("--fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=("sample", "full"), default="full")
    parser.add_argument("--timeout", type=float, default=CALL_TIMEOUT)
    parser.add_argument("--kinds", default="", help="only these mutation kinds (comma-separated)")
    parser.add_argument("--modules", nargs="*", help="modules to fuzz (default: all)")
    parser.add_argument("--findings", type=Path, help="folder for the findings files")
    args = parser.parse_args(argv)
    if args.child:
        _child(args)
        return
    modules = args.modules or public_modules()
    total = RunResult()
    header = _git_header()
    for module in modules:
        targets = discover_targets([module])
        kinds = args.kinds.split(",") if args.kinds else None
        result = run(targets, args.mode, timeout=args.timeout, kinds=kinds)
        total.merge(result)
        fails = result.failures()
        print(
            f"{module}: {len(targets)} callables, {len(result.records)} calls, "
            f"{len(fails)} findings, {result.seconds:.0f} s",
            flush=True,
        )
        if args.findings:
            write_findings(total, args.findings, args.mode, header)
    if args.findings and not args.modules:  # a whole run: drop files of modules now gone
        current = {i.module for i in total.targets.values()}
        for stale in args.findings.glob(f"{PACKAGE}*.txt"):
            if stale.stem not in current:
                stale.unlink()


if __name__ == "__main__":
    main()
