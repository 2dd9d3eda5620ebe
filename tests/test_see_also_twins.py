"""A function and its twins name each other under See Also (the API reference links them).

Twins: ``f`` and its mpmath twin ``f_mp`` (same name with ``_mp``, anywhere in the package), and
a ``symbolic`` module's expression and the numeric function its See Also calls its "numeric",
"float64" or "mpmath twin". A twin added on one side only fails here.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

import diffmem_theory

SYMBOLIC = [
    "diffmem_theory.crossover.symbolic",
    "diffmem_theory.mixing.symbolic",
    "diffmem_theory.fisher.symbolic",
]
_SECTION = re.compile(r"See Also\n-+\n(.*?)(?:\n\n[A-Z][A-Za-z ]+\n-+\n|\Z)", re.S)
_TWIN = re.compile(r"\s*([\w.]+)\s*:\s*the (?:numeric|float64|mpmath) twin")


def see_also(obj: object) -> str:
    found = _SECTION.search(inspect.getdoc(obj) or "")
    return found.group(1) if found else ""


def _public_functions() -> dict[str, list[tuple[str, object]]]:
    found: dict[str, list[tuple[str, object]]] = {}
    for info in pkgutil.walk_packages(diffmem_theory.__path__, "diffmem_theory."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name, None)
            if inspect.isfunction(obj) and obj.__module__ == info.name:
                found.setdefault(name, []).append((info.name, obj))
    return found


def _mp_pairs() -> list[tuple[str, object, str, object]]:
    funcs = _public_functions()
    return [
        (f"{m1}.{name}", f1, f"{m2}.{name[:-3]}", f2)
        for name, entries in funcs.items()
        if name.endswith("_mp") and name[:-3] in funcs
        for m1, f1 in entries
        for m2, f2 in funcs[name[:-3]]
    ]


def _symbolic_pairs() -> list[tuple[str, object, str, object]]:
    pairs = []
    for module_name in SYMBOLIC:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if not inspect.isfunction(obj):
                continue
            for line in see_also(obj).splitlines():
                twin = _TWIN.match(line)
                if twin:
                    where, _, attr = twin.group(1).rpartition(".")
                    target = getattr(importlib.import_module(where), attr)
                    pairs.append((f"{module_name}.{name}", obj, twin.group(1), target))
    return pairs


def test_there_are_twins_to_check():
    assert len(_mp_pairs()) >= 9 and len(_symbolic_pairs()) >= 10


@pytest.mark.parametrize("kind", ["mpmath", "symbolic"])
def test_twins_link_both_ways(kind):
    pairs = _mp_pairs() if kind == "mpmath" else _symbolic_pairs()
    missing = [
        f"{a} does not name {b.rpartition('.')[2]}"
        for a, fa, b, fb in pairs
        for a, fa, b, fb in ((a, fa, b, fb), (b, fb, a, fa))
        if b.rpartition(".")[2] not in see_also(fa)
    ]
    assert not missing, "\n".join(missing)
