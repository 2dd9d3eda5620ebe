"""Parameter sweeps: one JSON result file per run, written atomically, resumable.

A *run* is ``task(config) -> dict``: a JSON-serializable result for one JSON-serializable
``config`` (a flat dict such as ``{"N": 200, "d": 50, "K": 12, "M": 20, "seed": 0}``). The task
is named by an importable ``"package.module:function"`` string, so that worker processes and
Dask workers can import it, or by a registered sweep name (:func:`sweep_spec`).

:func:`run_sweep` executes the configs

* locally in a ``concurrent.futures.ProcessPoolExecutor`` with the ``"spawn"`` start method
  (Numba and OpenBLAS threads do not survive ``fork``); ``workers=1`` runs in-process, which is
  handy for debugging;
* on a Dask distributed cluster when ``scheduler`` is an address ``"tcp://host:port"`` or a
  ``dask.distributed.Client`` (optional extra ``diffmem-theory[dist]``).

The results land in ``out_dir`` as one file per config, named by :func:`config_key`
(``K=12_M=20_N=200_d=50_seed=0.json``). Each file is written by the calling process through a
temporary file in the same directory, ``fsync`` and ``os.replace``: it either exists complete or
not at all, so an interrupted sweep (Ctrl-C, SIGTERM, a killed job) leaves only finished runs
behind and a re-run with the same configs computes only the missing ones. A task that raises is
recorded in ``out_dir/failed/<key>.json`` (never as a result) and the other runs go on; a re-run
retries it.

One folder, one sweep. Every file records what produced it: the task, the sweep's name and
mode (``quick``/``full``, when run by name), the config and the *environment* that determines
the numbers besides the config (Python, platform, and the versions of diffmem-theory, NumPy,
SciPy and Numba), with its fingerprint; ``out_dir/sweep.manifest`` records the same for the
folder. A folder that holds results of another task, sweep, mode or environment -- or result
files without that record, e.g. from an older version -- is refused with a ``ValueError``
before anything runs, instead of being mixed: :func:`load_results` reads a folder as one table.
A code change that alters what a task computes must be visible in the configs (e.g. a
``"version"`` key), since an editable install keeps its version number.

Randomness and threads: runs share no global RNG state. Each run sees Python's ``random`` and
NumPy's legacy global generator seeded from its own config (and restored afterwards when it runs
in-process), so results do not depend on the number of workers or on the execution order; tasks
should still draw from ``np.random.default_rng(config["seed"])``. (Dask workers that run several
tasks as threads of one process share those global generators, so there only the config's own
generator is reproducible.) Every run calls NumPy's and SciPy's OpenBLAS with one thread: a
multi-threaded BLAS splits long dot products between its threads and rounds differently for
each thread count. Worker processes get ``cpu_count // workers`` Numba threads, whose kernels
reduce over a fixed partition of the work and give the same bits for every thread count.

Signals: local worker processes die with the sweep's process (Linux: ``PR_SET_PDEATHSIG``;
elsewhere a thread that watches the parent), so SIGKILL or the OOM killer leaves no worker
computing a result nobody will write, and the multiprocessing resource tracker exits with them.
SIGTERM stops a sweep as Ctrl-C does: the runs in progress are stopped, the finished ones stay.

Named sweeps are registered like the checks and experiments (:mod:`diffmem_theory.registry`)::

    @sweep_spec("paper000.crossover_grid")
    def specs(quick: bool) -> tuple[str, list[dict]]:
        return "diffmem_theory.crossover.figures.crossover_sweep:crossover_task", configs

and run with ``diffmem sweep paper000.crossover_grid --out DIR``.

Examples
--------
>>> import tempfile
>>> task = "diffmem_theory.crossover.figures.crossover_sweep:crossover_task"
>>> configs = [{"C": c, "weighting": "x0", "times": "continuous"} for c in (1.0, 2.0)]
>>> with tempfile.TemporaryDirectory() as out:
...     runs = run_sweep(task, configs, out, workers=1, progress=False)
...     again = run_sweep(task, configs, out, workers=1, progress=False)
>>> [round(r["result"]["ratio"], 6) for r in runs]   # 1 - 1/(3C)
[0.666667, 0.833333]
>>> [r["status"] for r in runs], [r["status"] for r in again]
(['done', 'done'], ['skipped', 'skipped'])
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import contextlib
import ctypes
import functools
import hashlib
import importlib
import json
import math
import multiprocessing
import multiprocessing.connection
import os
import platform
import random
import re
import signal
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from diffmem_theory import _progress as bars
from diffmem_theory._validation import check_bool, check_callable
from diffmem_theory.registry import check_text, discover, paper_of

__all__ = [
    "SweepSpec",
    "config_key",
    "get_sweep",
    "list_sweeps",
    "load_failures",
    "load_results",
    "resolve_task",
    "result_path",
    "run_sweep",
    "shared_workers",
    "sweep_spec",
]

Task = str | Callable[[dict], dict]

FAILED_DIR = "failed"
MANIFEST = "sweep.manifest"  # JSON: what produced the results of a folder (not a *.json result)
MODES = ("quick", "full")
_MAX_KEY_LEN = 120  # longer readable keys are shortened and get a hash suffix
_SAFE_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*\Z")
_SAFE_STR = re.compile(r"[A-Za-z0-9.+-]+\Z")  # no "_" (the separator) and no "="
# the distributions whose versions, besides the config, determine a run's numbers
_ENV_PACKAGES = ("diffmem-theory", "numpy", "scipy", "numba")
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

_SWEEPS: dict[str, SweepSpec] = {}


# ----------------------------------------------------------------------------------------------
# registry of named sweeps
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepSpec:
    """A registered sweep: ``build(quick) -> (task, configs)`` under a ``"<paper>.<what>"`` name.

    Parameters
    ----------
    name : str
        ``"<paper>.<what>"``; ``paper`` is set from it.
    build : callable
        ``build(quick: bool) -> (task, configs)``.
    description : str, optional
        One line.

    Raises
    ------
    ValueError, TypeError
        A bad field, named in the message.

    Examples
    --------
    >>> spec = SweepSpec(name="core.demo", build=lambda quick: ("pkg.mod:task", [{"seed": 0}]))
    >>> spec.paper, spec.specs(quick=True)
    ('core', ('pkg.mod:task', [{'seed': 0}]))
    """

    name: str
    build: Callable[[bool], tuple[str, list[dict]]]
    description: str = ""
    paper: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "paper", paper_of(self.name))
        check_callable(self.build, "build", "a function specs(quick) -> (task, configs)")
        check_text(self.description, "description")

    def specs(self, quick: bool = True) -> tuple[str, list[dict]]:
        """The task string and the configs of the quick (or full) sweep, validated.

        Parameters
        ----------
        quick : bool, optional
            The quick sweep or the paper's full one.

        Returns
        -------
        task : str
            ``"package.module:function"``.
        configs : list of dict
            One JSON-serializable config per run.

        Raises
        ------
        ValueError
            ``quick`` that is not ``True``/``False``, or a bad config.
        TypeError
            A ``build`` that does not return ``(task, configs)``.

        Examples
        --------
        >>> task, configs = get_sweep("paper000.crossover_grid").specs(quick=True)
        >>> task.endswith(":crossover_task"), len(configs)
        (True, 12)
        """
        out = self.build(check_bool(quick, "quick"))
        if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], str)):
            raise TypeError(f"sweep {self.name}: specs(quick) must return (task: str, configs)")
        task, configs = out
        return task, _check_configs(configs)

    def run(self, out_dir: str | os.PathLike, quick: bool = True, **options: Any) -> list[dict]:
        """Run this sweep into ``out_dir``; ``options`` go to :func:`run_sweep`.

        The files record the sweep's name and mode: ``out_dir`` holds this sweep in this mode
        and nothing else.

        Parameters
        ----------
        out_dir : str or os.PathLike
            The folder of the result files.
        quick : bool, optional
            The quick sweep or the paper's full one.
        **options
            ``workers``, ``scheduler``, ``progress``, ``retries`` of :func:`run_sweep`.

        Returns
        -------
        list of dict
            One record per config, as :func:`run_sweep` returns them.

        Examples
        --------
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as out:
        ...     runs = get_sweep("paper000.crossover_grid").run(out, workers=1, progress=False)
        >>> len(runs), {r["status"] for r in runs}
        (12, {'done'})
        """
        task, configs = self.specs(quick)
        mode = "quick" if quick else "full"
        return run_sweep(task, configs, out_dir, name=self.name, mode=mode, **options)


def sweep_spec(
    name: str, *, description: str = "", register: bool = True
) -> Callable[[Callable[[bool], tuple[str, list[dict]]]], SweepSpec]:
    """A decorator registering ``specs(quick: bool) -> (task, configs)`` as the sweep ``name``.

    Parameters
    ----------
    name : str
        ``"<paper>.<what>"`` (``paper000`` ... ``paper004`` or ``core``).
    description : str, optional
        One line; default the first line of the function's docstring.
    register : bool, optional
        ``False`` builds the :class:`SweepSpec` without adding it to the registry (for
        examples and tests).

    Returns
    -------
    callable
        The decorator: ``specs -> SweepSpec``.

    Raises
    ------
    TypeError
        A non-string ``name`` or ``description`` (checked before the function is seen).
    ValueError
        A bad ``name`` or a non-bool ``register``; a ``name`` already registered to another
        function.

    See Also
    --------
    get_sweep, list_sweeps, run_sweep

    Examples
    --------
    >>> @sweep_spec("core.example", register=False)
    ... def _specs(quick):
    ...     '''Two runs of the crossover task.'''
    ...     configs = [{"C": 1.0, "weighting": w, "times": "grid"} for w in ("x0", "eps")]
    ...     return "diffmem_theory.crossover.figures.crossover_sweep:crossover_task", configs
    >>> _specs.name, _specs.description, len(_specs.specs(quick=True)[1])
    ('core.example', 'Two runs of the crossover task.', 2)
    """

    paper_of(name)
    check_text(description, "description")
    register = check_bool(register, "register")

    def decorate(func: Callable[[bool], tuple[str, list[dict]]]) -> SweepSpec:
        doc = (func.__doc__ or "").strip().splitlines()
        spec = SweepSpec(name=name, build=func, description=description or (doc[0] if doc else ""))
        if register:
            old = _SWEEPS.get(name)
            if old is not None and old.build.__qualname__ != func.__qualname__:
                raise ValueError(f"sweep name {name!r} is already registered")
            _SWEEPS[name] = spec
        return spec

    return decorate


def list_sweeps() -> list[SweepSpec]:
    """All registered sweeps, sorted by name (imports the experiment modules first).

    Returns
    -------
    list of SweepSpec

    Examples
    --------
    >>> "paper000.crossover_grid" in [s.name for s in list_sweeps()]
    True
    """
    discover()
    return [_SWEEPS[k] for k in sorted(_SWEEPS)]


def get_sweep(name: str) -> SweepSpec:
    """The sweep registered as ``name``.

    Parameters
    ----------
    name : str
        A registered sweep name (``diffmem sweep --list``).

    Returns
    -------
    SweepSpec

    Raises
    ------
    ValueError
        If no sweep has that name.
    TypeError
        If ``name`` is not a string.

    Examples
    --------
    >>> get_sweep("paper000.crossover_grid").paper
    'paper000'
    """
    check_text(name, "name")
    discover()
    if name not in _SWEEPS:
        raise ValueError(f"unknown sweep {name!r}; see `diffmem sweep --list`")
    return _SWEEPS[name]


# ----------------------------------------------------------------------------------------------
# tasks
# ----------------------------------------------------------------------------------------------


def _import_ref(ref: str) -> Callable[[dict], Any]:
    module_name, _, qualname = ref.partition(":")
    if not module_name or not qualname:
        raise ValueError(f"task must look like 'package.module:function', got {ref!r}")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"task {ref!r}: cannot import module {module_name!r} ({err})") from err
    for part in qualname.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"task {ref!r}: module {module_name!r} has no attribute {qualname!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"task {ref!r} is not callable (got {type(obj).__name__})")
    return obj


def resolve_task(task: Task) -> Callable[[dict], Any]:
    """The callable behind ``task``.

    Parameters
    ----------
    task : str or callable
        A ``"package.module:function"`` string, a registered sweep name (its task) or a
        callable (returned as is).

    Returns
    -------
    callable
        ``task(config) -> dict``.

    Raises
    ------
    ValueError
        A string that names no importable function and no registered sweep.
    TypeError
        A ``task`` that is neither a string nor callable.

    Examples
    --------
    >>> f = resolve_task("diffmem_theory.crossover.figures.crossover_sweep:crossover_task")
    >>> f is resolve_task("paper000.crossover_grid")
    True
    >>> round(f({"C": 1.0, "weighting": "x0", "times": "grid"})["ratio"], 5)
    0.66036
    """
    if callable(task):
        return task
    if not isinstance(task, str):
        raise TypeError(f"task must be a 'package.module:function' string, got {task!r}")
    if ":" in task:
        return _import_ref(task)
    try:
        ref = get_sweep(task).specs(quick=True)[0]
    except ValueError as err:
        raise ValueError(
            f"task must be 'package.module:function' or a registered sweep name, got {task!r}"
        ) from err
    return _import_ref(ref)


def _task_ref(task: Task, local: bool) -> tuple[Task, str]:
    """(what the workers get, the name recorded in the files)."""
    if isinstance(task, str):
        resolve_task(task)  # fail early, in the caller, on a bad name
        ref = task if ":" in task else get_sweep(task).specs(quick=True)[0]
        return ref, ref
    if not callable(task):
        raise TypeError(f"task must be a 'package.module:function' string, got {task!r}")
    ref = f"{getattr(task, '__module__', '?')}:{getattr(task, '__qualname__', '?')}"
    try:
        func = _import_ref(ref)
    except ValueError:
        func = None
    if func is task:
        return ref, ref
    if local:
        return task, ref
    raise ValueError(
        f"task {task!r} is not importable by worker processes; give it as "
        f"'package.module:function' (a module-level function) or use workers=1"
    )


# ----------------------------------------------------------------------------------------------
# configs, keys and files
# ----------------------------------------------------------------------------------------------


def _canonical(config: dict) -> str:
    return json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=True)


def _has_nan(value: Any) -> bool:
    """Whether a config value is NaN or a list, tuple or dict holding a NaN."""
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, (list, tuple)):
        return any(_has_nan(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nan(v) for v in value.values())
    return False


def _check_config(config: Any, name: str) -> None:
    """A config is a dict with string keys and no NaN: a NaN parameter describes no run."""
    if not isinstance(config, dict):
        raise TypeError(f"{name} must be a dict, got {type(config).__name__} {config!r:.80}")
    bad = [k for k in config if not isinstance(k, str)]
    if bad:
        raise ValueError(f"{name} keys must be strings, got {bad!r}")
    for key, value in config.items():
        if _has_nan(value):
            raise ValueError(f"{name}[{key!r}] must not be or hold NaN, got {value!r:.80}")


def _check_configs(configs: Any) -> list[dict]:
    if isinstance(configs, (str, bytes, dict)) or not isinstance(configs, Iterable):
        raise TypeError(f"configs must be a list of dicts, got {type(configs).__name__}")
    out: list[dict] = []
    seen: dict[str, int] = {}
    for i, config in enumerate(configs):
        _check_config(config, f"configs[{i}]")
        try:
            normalized = json.loads(_canonical(config))
        except (TypeError, ValueError) as err:
            raise ValueError(f"configs[{i}] = {config!r} is not JSON-serializable: {err}") from err
        key = config_key(normalized)
        if key in seen:
            raise ValueError(
                f"configs[{seen[key]}] and configs[{i}] are the same config {config!r}"
            )
        seen[key] = i
        out.append(normalized)
    return out


def _readable(key: str, value: Any) -> str | None:
    """``key=value`` when that is safe, unambiguous and reversible, else None."""
    if not _SAFE_KEY.match(key) or key.endswith("_"):
        return None
    if isinstance(value, bool) or value is None:
        text = str(value)
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = repr(value)
    elif isinstance(value, str) and _SAFE_STR.match(value):
        try:  # a string that reads like a number would collide with that number
            float(value)
        except ValueError:
            if value in ("True", "False", "None"):
                return None
            text = value
        else:
            return None
    else:
        return None
    return f"{key}={text}"


def config_key(config: dict) -> str:
    """A stable, readable, file-name-safe key of ``config``: ``k1=v1_k2=v2`` with sorted keys.

    Integers, floats (``repr``), booleans, ``None`` and plain strings made of letters, digits and
    ``.+-`` are spelled out; other values (lists, strings with ``_``, ``/``, spaces, strings that
    read like numbers, ...) and keys longer than 120 characters in total are replaced by the
    first 16 hex digits of the SHA-256 of the canonical JSON after an ``@``. Different configs
    get different keys.

    Parameters
    ----------
    config : dict
        String keys, JSON-serializable values, no NaN (also inside lists and dicts);
        infinities are allowed.

    Returns
    -------
    str

    Raises
    ------
    TypeError
        A ``config`` that is not a dict.
    ValueError
        A key that is not a string, or a NaN value.

    See Also
    --------
    result_path

    Examples
    --------
    >>> config_key({"seed": 0, "N": 200, "d": 50, "K": 12, "M": 20})
    'K=12_M=20_N=200_d=50_seed=0'
    >>> config_key({"C": 1.5, "weighting": "eps", "times": "grid"})
    'C=1.5_times=grid_weighting=eps'
    >>> config_key({"M": 20, "path": "/tmp/x"})
    'M=20@7f917bb963109250'
    """
    _check_config(config, "config")
    parts = [_readable(k, config[k]) for k in sorted(config)]
    text = "_".join(p for p in parts if p is not None)
    if parts and None not in parts and len(text) <= _MAX_KEY_LEN:
        return text
    digest = hashlib.sha256(_canonical(config).encode()).hexdigest()[:16]
    return f"{text[:_MAX_KEY_LEN]}@{digest}"


def result_path(out_dir: str | os.PathLike, config: dict) -> Path:
    """Where :func:`run_sweep` writes the result of ``config``: ``out_dir/<config_key>.json``.

    Parameters
    ----------
    out_dir : str or os.PathLike
        A non-empty path.
    config : dict
        As for :func:`config_key`.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    TypeError
        An ``out_dir`` that is not a path; a ``config`` that is not a dict.
    ValueError
        An empty ``out_dir``; a bad config (see :func:`config_key`).

    Examples
    --------
    >>> result_path("runs", {"M": 20, "seed": 0}).as_posix()
    'runs/M=20_seed=0.json'
    """
    return Path(_as_path(out_dir, "out_dir")) / f"{config_key(config)}.json"


def _failure_path(out_dir: Path, key: str) -> Path:
    return out_dir / FAILED_DIR / f"{key}.json"


def _json_default(obj: Any) -> Any:
    """NumPy scalars and arrays in results become plain JSON numbers and lists."""
    if hasattr(obj, "tolist") and callable(obj.tolist):
        return obj.tolist()
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _write_json_atomic(path: Path, record: dict) -> None:
    """Write ``record`` to ``path`` as a whole or not at all (temp file, fsync, os.replace)."""
    text = json.dumps(record, indent=1, default=_json_default)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        with contextlib.suppress(OSError):
            dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)


def _read_json(path: Path) -> dict | None:
    try:
        with open(path, encoding="utf-8") as fh:
            record = json.load(fh)
    except (OSError, ValueError) as err:
        warnings.warn(f"ignoring unreadable result file {path}: {err}", UserWarning, stacklevel=3)
        return None
    if not isinstance(record, dict) or "config" not in record:
        warnings.warn(f"ignoring {path}: not a sweep result file", UserWarning, stacklevel=3)
        return None
    return record


def load_results(out_dir: str | os.PathLike) -> list[dict]:
    """The result records in ``out_dir``, sorted by file name (failed runs not included).

    Temporary files of interrupted writes are never read; an unreadable file is skipped with a
    ``UserWarning``.

    Parameters
    ----------
    out_dir : str or os.PathLike
        A non-empty path; a folder that does not exist holds no results.

    Returns
    -------
    list of dict
        Each record holds ``key``, ``config``, ``result``, ``task``, ``seconds``, ``attempts``
        and ``finished`` (UTC, ISO 8601).

    Raises
    ------
    TypeError
        An ``out_dir`` that is not a path.
    ValueError
        An empty ``out_dir``.

    See Also
    --------
    load_failures, run_sweep

    Examples
    --------
    >>> load_results("no/such/folder")
    []
    >>> import tempfile
    >>> task = "diffmem_theory.crossover.figures.crossover_sweep:crossover_task"
    >>> with tempfile.TemporaryDirectory() as out:
    ...     _ = run_sweep(task, [{"C": 2.0, "weighting": "eps", "times": "continuous"}], out,
    ...                   workers=1, progress=False)
    ...     [(r["key"], r["result"]) for r in load_results(out)]
    [('C=2.0_times=continuous_weighting=eps', {'ratio': 1.0})]
    """
    records = []
    for path in sorted(Path(_as_path(out_dir, "out_dir")).glob("*.json")):
        if path.name.startswith("."):
            continue
        record = _read_json(path)
        if record is not None:
            records.append(record)
    return records


def load_failures(out_dir: str | os.PathLike) -> list[dict]:
    """The failure records in ``out_dir/failed`` (``key``, ``config``, ``error``, ``traceback``).

    A failure record is removed when a later run of the same config succeeds.

    Parameters
    ----------
    out_dir : str or os.PathLike
        The sweep's folder, as for :func:`load_results`.

    Returns
    -------
    list of dict

    See Also
    --------
    load_results

    Examples
    --------
    >>> load_failures("no/such/folder")
    []
    >>> import tempfile
    >>> task = "diffmem_theory.crossover.figures.crossover_sweep:crossover_task"
    >>> with tempfile.TemporaryDirectory() as out:
    ...     runs = run_sweep(task, [{"C": 0.0, "weighting": "x0", "times": "grid"}], out,
    ...                      workers=1, progress=False)
    ...     runs[0]["status"], load_failures(out)[0]["error"]
    ('failed', 'ValueError: C must be > 0.0, got 0.0')
    """
    return load_results(Path(_as_path(out_dir, "out_dir")) / FAILED_DIR)


# ----------------------------------------------------------------------------------------------
# the folder: where it is, and what produced the results in it
# ----------------------------------------------------------------------------------------------


def _as_path(path: Any, name: str) -> str:
    """``path`` as a non-empty string path: ``TypeError`` for a non-path (naming ``name``),
    ``ValueError`` for an empty or blank one."""
    if not isinstance(path, (str, os.PathLike)) or not isinstance(os.fspath(path), str):
        raise TypeError(f"{name} must be a path (str or os.PathLike), got {path!r:.80}")
    text = os.fspath(path)
    if not text.strip():
        raise ValueError(f"{name} must be a directory path, got {text!r}")
    return text


def writable_dir(path: Any, name: str = "out_dir", *, create: bool = False) -> Path:
    """``path`` as a directory that exists or can be created, and takes new files.

    Checked before any work, so that a bad path costs nothing: ``TypeError`` for a non-path,
    ``ValueError`` (naming ``name`` and the path) for an empty path, a file, a path under a file,
    or a directory (or its nearest existing parent) that cannot be written.

    Parameters
    ----------
    path : str or os.PathLike
        The directory.
    name : str, optional
        The argument's name in the messages (``"--out"`` for the CLI).
    create : bool, optional
        Make the directory (and its parents) too.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    TypeError
        A ``path`` that is not a path.
    ValueError
        As above.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     writable_dir(pathlib.Path(tmp, "a", "b"), create=True).is_dir()
    True
    >>> with tempfile.NamedTemporaryFile() as fh:
    ...     try:
    ...         writable_dir(pathlib.Path(fh.name, "sub"))
    ...     except ValueError as err:
    ...         print(str(err).replace(fh.name, "FILE"))
    out_dir 'FILE/sub' lies under the file 'FILE', not a directory
    """
    text = _as_path(path, name)
    out = Path(text)
    existing = next(p for p in (out, *out.parents) if p.exists())  # "." or "/" at the latest
    if not existing.is_dir():
        where = "is a file" if existing == out else f"lies under the file {str(existing)!r}"
        raise ValueError(f"{name} {text!r} {where}, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{name} {text!r} is not writable ({str(existing)!r} is read-only)")
    if create:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ValueError(f"{name} {text!r}: cannot create it ({err})") from err
    return out


@functools.cache
def _environment() -> dict[str, str]:
    """What determines a run's numbers besides its task and config: Python (major.minor), the
    platform and the versions of diffmem-theory, NumPy, SciPy and Numba."""
    env = {
        "python": ".".join(platform.python_version_tuple()[:2]),
        "platform": f"{platform.system()}-{platform.machine()}",
    }
    for dist in _ENV_PACKAGES:
        try:
            env[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            env[dist] = "none"
    return env


def _identity(task_name: str, name: str | None, mode: str | None) -> dict[str, Any]:
    """What produced a sweep's results, as recorded in its folder and in each of its files."""
    env = _environment()
    digest = hashlib.sha256(_canonical(env).encode()).hexdigest()[:16]
    return {
        "task": task_name,
        "sweep": name,
        "mode": mode,
        "fingerprint": digest,
        "environment": env,
    }


def _label(record: dict) -> str:
    sweep, mode = record.get("sweep"), record.get("mode")
    text = "an unnamed sweep" if sweep is None else f"sweep {sweep!r}"
    return text if mode is None else f"{text} ({mode})"


def _mismatch(out: Path, found: dict, ident: dict, where: str) -> str | None:
    """Why the results described by ``found`` must not be mixed with ``ident``'s, or None."""
    if found.get("task") != ident["task"]:
        what = f"results of task {found.get('task')!r}, not of {ident['task']!r}"
    elif (found.get("sweep"), found.get("mode")) != (ident["sweep"], ident["mode"]):
        what = f"results of {_label(found)}, not of {_label(ident)}"
    elif found.get("fingerprint") != ident["fingerprint"]:
        theirs = found.get("environment")
        theirs = theirs if isinstance(theirs, dict) else {}
        diff = [
            f"{k} {theirs.get(k, '?')} there, {v} here"
            for k, v in ident["environment"].items()
            if theirs.get(k) != v
        ]
        what = f"results computed in another environment ({'; '.join(diff) or 'unrecorded'})"
    else:
        return None
    return (
        f"out_dir {str(out)!r} holds {what} (see {where}); use another out_dir: results of "
        f"different tasks, sweeps, modes or environments are never mixed"
    )


def _check_folder(out: Path, ident: dict) -> bool:
    """Refuse ``out`` if it holds anything but ``ident``'s results; whether it has a manifest."""
    manifest = out / MANIFEST
    if manifest.exists():
        try:
            found = json.loads(manifest.read_text(encoding="utf-8"))
            if not isinstance(found, dict):
                raise ValueError(f"a JSON {type(found).__name__}, not an object")
        except (OSError, ValueError) as err:
            raise ValueError(
                f"out_dir {str(out)!r}: cannot read its record {MANIFEST} ({err}); "
                f"use another out_dir"
            ) from err
        problem = _mismatch(out, found, ident, MANIFEST)
        if problem:
            raise ValueError(problem)
        return True
    stray = [
        p.relative_to(out).as_posix()
        for folder in (out, out / FAILED_DIR)
        for p in sorted(folder.glob("*.json"))
        if not p.name.startswith(".")
    ]
    if stray:
        raise ValueError(
            f"out_dir {str(out)!r} holds {len(stray)} JSON file(s) (e.g. {stray[0]}) but no "
            f"{MANIFEST} saying which sweep wrote them (an older diffmem-theory, or not a "
            f"sweep); use another out_dir, or move them away"
        )
    return False


# ----------------------------------------------------------------------------------------------
# executing one run (in a worker process, a Dask worker or in-process)
# ----------------------------------------------------------------------------------------------

_RESOLVED: dict[str, Callable[[dict], Any]] = {}


@contextlib.contextmanager
def _own_global_rng(key: str) -> Iterator[None]:
    """Seed ``random`` and NumPy's legacy global RNG from the run's key; restore afterwards."""
    seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "little")
    # isolating the legacy global state is the point here, hence NPY002
    py_state, np_state = random.getstate(), np.random.get_state()  # noqa: NPY002
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)  # noqa: NPY002


def _execute(task: Task, config: dict, key: str, retries: int) -> dict:
    """Run ``task(config)`` up to ``1 + retries`` times; never raises for a failing task.

    NumPy's and SciPy's OpenBLAS run single-threaded inside the task: their dot products round
    differently for each thread count, and the thread count differs between in-process runs and
    worker processes. The outcome names the environment it was computed in."""
    from diffmem_theory.kernels import single_threaded_blas

    start = time.perf_counter()
    attempts = 0
    error = tb = ""
    while attempts <= retries:
        attempts += 1
        try:
            if isinstance(task, str):
                func = _RESOLVED.get(task)
                if func is None:
                    func = _RESOLVED[task] = resolve_task(task)
            else:
                func = task
            with (
                _own_global_rng(key),
                single_threaded_blas("numpy"),
                single_threaded_blas("scipy"),
            ):
                result = func(dict(config))
            if not isinstance(result, dict):
                raise TypeError(f"the task returned {type(result).__name__}, not a dict")
            # the JSON round trip makes fresh and resumed results identical
            result = json.loads(json.dumps(result, default=_json_default))
            return {
                "status": "done",
                "result": result,
                "environment": _environment(),
                "attempts": attempts,
                "seconds": time.perf_counter() - start,
            }
        except Exception as err:  # a failing run is recorded, not raised
            error = f"{type(err).__name__}: {err}"
            tb = traceback.format_exc(limit=8)
    return {
        "status": "failed",
        "error": error,
        "traceback": tb,
        "attempts": attempts,
        "seconds": time.perf_counter() - start,
    }


# ----------------------------------------------------------------------------------------------
# worker processes and signals
# ----------------------------------------------------------------------------------------------


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C raises ``KeyboardInterrupt`` (and handled the same way)."""


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Inside the block SIGTERM raises :class:`Terminated` in the main thread, so that
    ``timeout``, job schedulers and ``kill`` stop a sweep as cleanly as Ctrl-C: the runs in
    progress are stopped and the finished ones stay. Only where SIGTERM has its default action
    (a handler of the caller's is left alone) and only in the main thread (where Python runs
    signal handlers); a second SIGTERM ends the process at once."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise Terminated("SIGTERM")

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _die_with_parent() -> bool:
    """Linux: have the kernel SIGKILL this process when its parent dies; whether it could."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        status = libc.prctl(
            ctypes.c_int(_PR_SET_PDEATHSIG),
            ctypes.c_ulong(signal.SIGKILL),
            ctypes.c_ulong(0),
            ctypes.c_ulong(0),
            ctypes.c_ulong(0),
        )
    except (OSError, AttributeError):
        return False
    return status == 0


def _watch_parent() -> None:
    """Elsewhere: end this process once the parent is gone (its sentinel becomes ready). A thread
    needs the GIL, so a task that holds it for long is stopped when it lets go."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    parent.join()
    os._exit(1)


def _init_worker(parent_pid: int) -> None:
    """The first thing a local worker process does: tie its life to the sweep's process (which
    writes every result, so a worker without it computes for nobody), and ignore Ctrl-C, which
    reaches the whole process group: the sweep's process stops the workers itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not _die_with_parent():
        threading.Thread(target=_watch_parent, name="diffmem-parent-watch", daemon=True).start()
    if os.getppid() != parent_pid:  # the parent died before the worker could ask
        os._exit(1)


# ----------------------------------------------------------------------------------------------
# the sweep
# ----------------------------------------------------------------------------------------------


class _Book:
    """Writes outcomes as they arrive and keeps the records in config order."""

    def __init__(self, out_dir: Path, ident: dict, configs: list[dict], keys: list[str], bar):
        self.out_dir, self.ident, self.configs, self.keys = out_dir, ident, configs, keys
        self.records: list[dict | None] = [None] * len(configs)  # skipped ones filled by caller
        self.bar = bar
        self.failed = 0

    def record(self, i: int, outcome: dict) -> None:
        key, config = self.keys[i], self.configs[i]
        base = {"key": key, "config": config, **self.ident}
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        meta = {"attempts": outcome["attempts"], "seconds": outcome["seconds"], "finished": stamp}
        env = outcome.get("environment", self.ident["environment"])
        if outcome["status"] == "done" and env != self.ident["environment"]:  # a Dask worker
            theirs = ", ".join(f"{k} {v}" for k, v in env.items())
            outcome = {
                "status": "failed",
                "error": f"the worker's environment ({theirs}) is not this sweep's; its result "
                f"is not kept",
                "traceback": "",
            }
        if outcome["status"] == "done":
            record = {**base, "result": outcome["result"], **meta}
            _write_json_atomic(self.out_dir / f"{key}.json", record)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(_failure_path(self.out_dir, key))
            self.records[i] = {**record, "status": "done"}
        else:
            record = {**base, "error": outcome["error"], "traceback": outcome["traceback"], **meta}
            _write_json_atomic(_failure_path(self.out_dir, key), record)
            self.records[i] = {**record, "status": "failed"}
            self.failed += 1
            self.bar.set_postfix(failed=self.failed, refresh=False)
        self.bar.update(1)


def _local_workers(workers: int | None) -> int:
    if workers is None:
        return max(1, os.cpu_count() or 1)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer or None, got {workers!r}")
    return workers


@contextlib.contextmanager
def _thread_limits(workers: int) -> Iterator[None]:
    """The thread counts of the worker processes started inside the block (inherited through the
    environment; variables the user set are kept): ``cpu_count // workers`` Numba and OpenMP
    threads each, so that ``workers`` processes do not oversubscribe the cores, and one BLAS
    thread (every run pins OpenBLAS to one thread anyway, see :func:`_execute`; this covers MKL)."""
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    values = {
        "NUMBA_NUM_THREADS": threads,
        "OMP_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    added = [v for v in values if v not in os.environ]
    for var in added:
        os.environ[var] = values[var]
    try:
        yield
    finally:
        for var in added:
            os.environ.pop(var, None)


def _run_in_process(task: Task, todo: list[int], book: _Book, retries: int) -> None:
    for i in todo:
        book.record(i, _execute(task, book.configs[i], book.keys[i], retries))


def _crash(err: BaseException, attempts: int, seconds: float) -> dict:
    return {
        "status": "failed",
        "error": f"worker process died ({type(err).__name__}: {err}); e.g. killed, out of "
        f"memory or a segfault in the task",
        "traceback": "",
        "attempts": attempts,
        "seconds": seconds,
    }


def _terminate(pool: cf.ProcessPoolExecutor) -> None:
    """Stop a pool's worker processes now (Ctrl-C must not wait for minute-long runs).

    The pool's management thread then finds its workers dead and closes its wake-up pipe; the
    pool is shut down with ``wait=True`` (joining that thread) so that this has happened before
    the interpreter exits: Python < 3.12 signals every pool's pipe at exit unguarded, and a pipe
    closed at that very moment printed an ``OSError`` traceback (``Bad file descriptor``) after
    the one-line message of a sweep stopped by SIGTERM. A worker that outlives SIGTERM by
    ``_TERM_GRACE`` seconds gets SIGKILL, so the wait is short."""
    terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.terminate()
    # wait on the sentinels, not join(): the pool's thread reaps the processes itself
    with contextlib.suppress(Exception):
        sentinels = {proc.sentinel: proc for proc in procs}
        ended = multiprocessing.connection.wait(list(sentinels), timeout=_TERM_GRACE)
        for sentinel, proc in sentinels.items():
            if sentinel not in ended:
                proc.kill()
    pool.shutdown(wait=True, cancel_futures=True)


_TERM_GRACE = 5.0  # seconds a stopped sweep's worker may take to end after SIGTERM


# Idle worker slots kept for the next sweep, per worker count, inside :func:`shared_workers`
# (None outside it: every sweep then starts and stops its own workers).
_SHARED: dict[int, list[cf.ProcessPoolExecutor]] | None = None


@contextlib.contextmanager
def shared_workers() -> Iterator[None]:
    """Inside the block, local sweeps hand their worker processes on to the next sweep.

    Starting a worker (a fresh Python that imports NumPy, SciPy, Numba and the task's module and
    loads its compiled kernels) costs seconds, much more on a busy machine; a program that runs
    several sweeps in a row (``diffmem reproduce``: paper 000's figures 2, 3, 7 and the MLP
    comparison) pays it once. The workers stay what they are outside the block (one run at a
    time, the same thread counts, dying with this process), every run still seeds its own
    global generators and computes a pure function of its config, so the results are the same
    bits as with fresh workers. The workers stop when the block ends; nested blocks share the
    outer one's workers.

    Examples
    --------
    >>> import tempfile
    >>> task = "diffmem_theory.crossover.figures.crossover_sweep:crossover_task"
    >>> configs = [{"C": c, "weighting": "x0", "times": "grid"} for c in (1.0, 2.0)]
    >>> with shared_workers(), tempfile.TemporaryDirectory() as out:
    ...     first = run_sweep(task, configs[:1], f"{out}/a", workers=2, progress=False)
    ...     second = run_sweep(task, configs[1:], f"{out}/b", workers=2, progress=False)
    >>> [round(r["result"]["ratio"], 5) for r in first + second]
    [0.66036, 0.83018]
    """
    global _SHARED
    if _SHARED is not None:
        yield
        return
    _SHARED = {}
    try:
        yield
    finally:
        kept, _SHARED = _SHARED, None
        for pool in (pool for slots in kept.values() for pool in slots):
            pool.shutdown(wait=True, cancel_futures=True)


def _run_local_pool(task: Task, todo: list[int], book: _Book, retries: int, workers: int) -> None:
    """Run on ``workers`` slots, each a one-process ``ProcessPoolExecutor`` (spawn) that holds one
    run at a time. A worker that dies abruptly breaks only its own slot: exactly that run is
    blamed (tried ``1 + retries`` times, then recorded as failed) and a fresh process takes the
    slot, so a crash costs no other run and no result already computed. Every worker dies with
    this process (:func:`_init_worker`). Inside :func:`shared_workers` the slots come from and
    go back to the kept ones."""
    ctx = multiprocessing.get_context("spawn")
    queue = collections.deque(todo)
    crashes: dict[int, int] = {}
    running: dict[cf.Future, tuple[int, cf.ProcessPoolExecutor, float]] = {}
    kept = _SHARED.setdefault(workers, []) if _SHARED is not None else []

    def slot() -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(
            max_workers=1, mp_context=ctx, initializer=_init_worker, initargs=(os.getpid(),)
        )

    def submit(i: int, pool: cf.ProcessPoolExecutor) -> None:
        try:
            fut = pool.submit(_execute, task, book.configs[i], book.keys[i], retries)
        except cf.process.BrokenProcessPool:  # a kept worker that died while it waited
            pool.shutdown(wait=True)
            pool = slot()
            fut = pool.submit(_execute, task, book.configs[i], book.keys[i], retries)
        running[fut] = (i, pool, time.perf_counter())

    with _thread_limits(workers):
        idle = [kept.pop() if kept else slot() for _ in range(min(workers, len(todo)))]
        try:
            while queue or running:
                while queue and idle:
                    submit(queue.popleft(), idle.pop())
                done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    i, pool, start = running.pop(fut)
                    try:
                        outcome = fut.result()
                    except cf.process.BrokenProcessPool as err:
                        pool.shutdown(wait=True)
                        pool = slot()
                        crashes[i] = crashes.get(i, 0) + 1
                        if crashes[i] <= retries:
                            queue.appendleft(i)
                            idle.append(pool)
                            continue
                        outcome = _crash(err, crashes[i], time.perf_counter() - start)
                    except Exception as err:  # e.g. an argument or outcome that cannot be pickled
                        outcome = {
                            "status": "failed",
                            "error": f"{type(err).__name__}: {err}",
                            "traceback": traceback.format_exc(limit=8),
                            "attempts": 1,
                            "seconds": time.perf_counter() - start,
                        }
                    idle.append(pool)
                    book.record(i, outcome)
        except BaseException:  # Ctrl-C: stop the runs in progress; what is written stays
            for _, pool, _ in running.values():
                _terminate(pool)
            raise
        finally:
            if _SHARED is not None:
                kept.extend(idle)  # for the next sweep of the block
            else:
                for pool in idle:
                    pool.shutdown(wait=True, cancel_futures=True)


def _check_scheduler(scheduler: Any) -> None:
    """Before any work: the optional extra is installed and ``scheduler`` is an address or a
    ``dask.distributed.Client``."""
    try:
        from dask.distributed import Client
    except ImportError as err:
        raise ImportError(
            "scheduler=... runs on a Dask cluster and needs dask.distributed; install the "
            "optional extra: pip install 'diffmem-theory[dist]'"
        ) from err
    if not (isinstance(scheduler, Client) or (isinstance(scheduler, str) and scheduler.strip())):
        raise ValueError(
            f"scheduler must be an address such as 'tcp://host:8786' or a "
            f"dask.distributed.Client, got {scheduler!r}"
        )


def _dask_client(scheduler: Any) -> tuple[Any, bool]:
    """(client, whether we own it and must close it); ``ValueError`` for a scheduler that cannot
    be reached within Dask's ``distributed.comm.timeouts.connect``."""
    if not isinstance(scheduler, str):
        return scheduler, False
    from dask.distributed import Client

    try:
        return Client(scheduler), True
    except (OSError, ValueError, TypeError) as err:
        raise ValueError(f"cannot connect to the Dask scheduler {scheduler!r}: {err}") from err


def _run_dask(task: Task, todo: list[int], book: _Book, retries: int, client: Any) -> None:
    """Submit the runs to the cluster; this process writes each outcome once, as it arrives.

    A worker that dies mid-run is handled by the scheduler first (it reruns the tasks lost with
    the worker, up to ``distributed.scheduler.allowed-failures`` times); a run that still comes
    back as lost (``KilledWorker``) is resubmitted up to ``retries`` times, as a crashed run of
    the local pool is, and then recorded as failed."""
    from dask.distributed import as_completed

    futures: dict[Any, int] = {}  # the futures not yet recorded
    crashes: collections.Counter[int] = collections.Counter()

    def submit(i: int) -> Any:
        fut = client.submit(_execute, task, book.configs[i], book.keys[i], retries, pure=False)
        futures[fut] = i
        return fut

    try:
        pending = as_completed([submit(i) for i in todo])
        for fut in pending:
            i = futures.pop(fut)
            try:
                outcome = fut.result()
            except Exception as err:  # lost workers (KilledWorker), cancelled futures
                crashes[i] += 1
                if crashes[i] <= retries:
                    pending.add(submit(i))
                    continue
                outcome = _crash(err, crashes[i], 0.0)
            book.record(i, outcome)
    except BaseException:
        client.cancel(list(futures))
        raise


def run_sweep(
    task: Task,
    configs: Iterable[dict],
    out_dir: str | os.PathLike,
    *,
    workers: int | None = None,
    scheduler: Any = None,
    progress: bool = True,
    retries: int = 0,
    name: str | None = None,
    mode: str | None = None,
) -> list[dict]:
    """Run ``task(config)`` for every config not yet done in ``out_dir``; records in config order.

    ``task`` is ``"package.module:function"``, a registered sweep name or (with ``workers=1``,
    or if importable under its own name) a callable; ``configs`` are JSON-serializable dicts with
    string keys, each carrying its own seed. Every run writes ``out_dir/<config_key>.json``
    (:func:`result_path`) holding ``key``, ``config``, ``result``, what produced it (``task``,
    ``sweep`` = ``name``, ``mode``, ``environment`` and its ``fingerprint``), ``attempts``,
    ``seconds`` and ``finished``, atomically. A config whose file exists is skipped (its file is
    read back), so an interrupted sweep resumes where it stopped.

    ``out_dir`` holds one sweep: ``out_dir/sweep.manifest`` records the task, ``name``, ``mode``
    (``"quick"``, ``"full"`` or None) and environment of the first run, and a folder that holds
    results of another task, name, mode or environment (or result files without that record) is
    refused with a ``ValueError``, as is an ``out_dir`` that is a file, lies under a file or
    cannot be written -- all before anything runs.

    A task that raises is tried ``1 + retries`` times; then it is written to
    ``out_dir/failed/<key>.json`` with the error and traceback (no result file) and the others go
    on; a re-run retries it. A local worker process that dies (``os._exit``, a segfault, the OOM
    killer) is blamed for its own run only -- tried ``1 + retries`` times, then recorded as
    failed like an exception -- and a fresh process takes its place. On a Dask cluster the
    scheduler reruns the tasks of a dead worker; a run it gives up on (``KilledWorker``) is
    likewise resubmitted up to ``retries`` times. A finished run whose result was still on the
    dead worker is recomputed too, but Dask may first retry that worker's address for up to
    ``distributed.comm.timeouts.connect`` (30 s by default) before it fetches the new result.

    Execution: ``workers=1`` in this process; otherwise a ``ProcessPoolExecutor`` with the
    ``spawn`` start method and ``workers`` processes (default ``os.cpu_count()``), whose Numba
    and OpenMP thread counts default to ``cpu_count // workers`` (BLAS: one thread) and which
    die with this process (SIGKILL, the OOM killer); ``scheduler`` (an address
    ``"tcp://host:port"`` or a ``dask.distributed.Client``) submits the runs to a Dask cluster
    instead (``workers`` must then be None; results come back to this process, which writes
    them, so the cluster needs no shared file system). Ctrl-C or SIGTERM (in the main thread,
    unless SIGTERM has a handler already) stops the runs in progress and raises
    ``KeyboardInterrupt``; the finished results stay. ``progress`` shows a tqdm bar on stderr.

    Parameters
    ----------
    task : str or callable
        ``"package.module:function"``, a registered sweep name or a callable (see above).
    configs : iterable of dict
        JSON-serializable configs with string keys, each with its own seed.
    out_dir : str or os.PathLike
        The folder of the result files, holding this sweep only.
    workers : int or None, optional
        Local processes (``1``: in this process; default ``os.cpu_count()``).
    scheduler : str, dask.distributed.Client or None, optional
        A Dask scheduler to submit the runs to instead.
    progress : bool, optional
        A tqdm bar on stderr.
    retries : int, optional
        Extra attempts of a failing run.
    name : str or None, optional
        The sweep's registered name, recorded in every file.
    mode : {"quick", "full"} or None, optional
        The sweep's mode, recorded in every file.

    Returns
    -------
    list of dict
        One per config, in config order: the record (as in the file) plus ``status``, one of
        ``"done"`` (ran now), ``"skipped"`` (found in ``out_dir``) or ``"failed"`` (with
        ``error`` and ``traceback`` instead of ``result``).

    Raises
    ------
    ValueError
        A bad config, task, ``out_dir`` (another sweep's, a file, unwritable), ``workers``,
        ``retries`` or ``scheduler``, before anything runs.
    TypeError
        A config that is not a dict, an ``out_dir`` that is not a path.
    KeyboardInterrupt
        Ctrl-C or SIGTERM; the finished results stay.

    See Also
    --------
    load_results, load_failures, sweep_spec

    Examples
    --------
    >>> import tempfile
    >>> task = "diffmem_theory.crossover.figures.crossover_sweep:crossover_task"
    >>> configs = [{"C": c, "weighting": "x0", "times": "grid"} for c in (2.0, 1.0, -1.0)]
    >>> with tempfile.TemporaryDirectory() as out:
    ...     runs = run_sweep(task, configs, out, workers=1, progress=False, name="demo")
    ...     try:  # the same folder for another mode: refused
    ...         run_sweep(task, configs, out, workers=1, name="demo", mode="full")
    ...     except ValueError as err:
    ...         print(str(err).split(" (see")[0].split("holds ")[1])
    results of sweep 'demo', not of sweep 'demo' (full)
    >>> [r["status"] for r in runs]   # C must be > 0: the failure is recorded, not raised
    ['done', 'done', 'failed']
    >>> [round(r["result"]["ratio"], 5) for r in runs[:2]], runs[2]["error"]
    ([0.83018, 0.66036], 'ValueError: C must be > 0.0, got -1.0')
    """
    from tqdm import tqdm

    configs = _check_configs(configs)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be an integer >= 0, got {retries!r}")
    if name is not None and not (isinstance(name, str) and name):
        raise ValueError(f"name must be a non-empty string or None, got {name!r}")
    if mode is not None and mode not in MODES:
        raise ValueError(f"mode must be one of {list(MODES)} or None, got {mode!r}")
    if scheduler is not None and workers is not None:
        raise ValueError(
            f"workers={workers!r} applies to local execution; with a scheduler the Dask "
            f"cluster decides (give one or the other)"
        )
    if scheduler is not None:
        _check_scheduler(scheduler)
    n_workers = 1 if scheduler is not None else _local_workers(workers)
    local = scheduler is None and n_workers == 1
    task_ref, task_name = _task_ref(task, local)

    out = writable_dir(out_dir)
    ident = _identity(task_name, name, mode)
    has_manifest = _check_folder(out, ident)
    keys = [config_key(c) for c in configs]

    book = _Book(out, ident, configs, keys, bar=None)
    todo: list[int] = []
    for i, (key, config) in enumerate(zip(keys, configs, strict=True)):
        path = out / f"{key}.json"
        record = _read_json(path) if path.exists() else None
        if record is None:
            todo.append(i)
            continue
        problem = _mismatch(out, record, ident, path.name)
        if problem:
            raise ValueError(problem)
        if record.get("config") != config:
            warnings.warn(f"{path} holds another config; running it again", UserWarning, 2)
            todo.append(i)
            continue
        book.records[i] = {**record, "status": "skipped"}
    if not todo:
        return list(book.records)  # type: ignore[arg-type]

    client, owned = _dask_client(scheduler) if scheduler is not None else (None, False)
    try:
        if not has_manifest:
            writable_dir(out, create=True)
            stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
            _write_json_atomic(out / MANIFEST, {**ident, "created": stamp})
        book.bar = tqdm(
            total=len(configs),
            initial=len(configs) - len(todo),
            desc=f"sweep {name or Path(task_name.partition(':')[2] or task_name).name}",
            unit="run",
            disable=bars.disable(progress),
            file=sys.stderr,
            dynamic_ncols=True,
        )
        with book.bar, _sigterm_interrupts():
            if client is not None:
                _run_dask(task_ref, todo, book, retries, client)
            elif local:
                _run_in_process(task_ref, todo, book, retries)
            else:
                _run_local_pool(task_ref, todo, book, retries, n_workers)
    finally:
        if owned:
            client.close()
    assert all(r is not None for r in book.records)
    return list(book.records)  # type: ignore[arg-type]


def status_counts(records: Sequence[dict]) -> dict[str, int]:
    """Counts of ``done`` / ``skipped`` / ``failed`` records.

    Parameters
    ----------
    records : sequence of dict
        What :func:`run_sweep` returns.

    Returns
    -------
    dict of str to int
        ``{"done": n, "skipped": n, "failed": n}``.

    Examples
    --------
    >>> status_counts([{"status": "done"}, {"status": "failed"}])
    {'done': 1, 'skipped': 0, 'failed': 1}
    """
    counts = {"done": 0, "skipped": 0, "failed": 0}
    for r in records:
        counts[r["status"]] += 1
    return counts
