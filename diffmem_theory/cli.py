"""The ``diffmem`` command line: list, check, figure, reproduce, sweep, audit.

``diffmem list``                         registered checks and experiments
``diffmem list --errata [--paper P]``    the errata catalogue of the five papers: where each
statement is, as printed, its correction, the counterexample and the check that reproduces it
(``--json`` prints any list as JSON)
``diffmem check [NAME ...] [--paper P]``  run checks; exit status 1 if any fails
``diffmem figure NAME [--quick] [--out DIR]``     regenerate one figure (PNG + PDF)
``diffmem reproduce --quick --out DIR``   every figure, every check, and ``DIR/index.html``
``diffmem sweep NAME --out DIR [--workers N] [--scheduler ADDRESS]``   a registered parameter
sweep, one result file per run, resumable; ``diffmem sweep --list``; exit status 1 if a run fails
``diffmem audit --data FILE --model SPEC --out DIR [--option SECTION.NAME=VALUE ...]``   the
five papers' theory applied to your own data and model (:func:`diffmem_theory.audit.run`):
``DIR/index.html``, ``DIR/report.json`` and the figures; exit status 0 when every section
ran, 1 when a section failed, 2 for bad arguments or inputs (data with NaN, a model returning
the wrong shape or NaN, samples of another dimension, an option a section does not take, ...)

Arguments are checked before any work: a bad one (an unknown name, ``--seed -1``, ``--workers
0``, ``--out`` naming a file, a path under a file or an unwritable directory, a sweep folder
holding another sweep's results, an unreachable ``--scheduler``) prints one line
``diffmem: error: ...`` (or ``diffmem <command>: error: ...``) on stderr and exits with status 2.
Ctrl-C and SIGTERM stop a command with one line and status 130 or 143 (a sweep keeps its
finished runs and resumes when run again); when the reader of a pipe goes away
(``diffmem list | head``) the command stops quietly.

Examples
--------
>>> from diffmem_theory.cli import main
>>> main(["check", "no_such_paper.check"])  # unknown names: a message and exit status 2
2
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import textwrap
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import NoReturn

from tqdm import tqdm

from diffmem_theory import _progress as bars
from diffmem_theory.audit.base import SECTIONS
from diffmem_theory.core.schedules import PREDICTIONS, SCHEDULE_NAMES
from diffmem_theory.data import SCALES
from diffmem_theory.registry import (
    PACKAGES,
    CheckResult,
    Erratum,
    ExperimentSpec,
    list_checks,
    list_errata,
    list_experiments,
)
from diffmem_theory.report import FigureRecord, environment, write_report
from diffmem_theory.sweep import Terminated, shared_workers, writable_dir

__all__ = ["main"]

SEED_MAX = 2**32 - 1
DPS_RANGE = (15, 1000)  # mpmath digits: float64's 15 at least; more than 1000 would take ages


class _Parser(argparse.ArgumentParser):
    """``argparse`` with one line per error (``diffmem sweep: error: ...``) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _int_in(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: an integer in ``[low, high]``."""
    allowed = f">= {low}" if high is None else f"in [{low}, {high}]"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be an integer {allowed}, got {text!r}")
        return value

    return parse


def _path(text: str) -> str:
    """An argparse ``type``: a non-empty path (what it names is checked by the command)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"must be a directory path, got {text!r}")
    return text


def _progress(items: Sequence, desc: str, enabled: bool) -> Sequence:
    return tqdm(
        items, desc=desc, unit="item", disable=bars.disable(enabled), file=sys.stderr, leave=False
    )


def _run_checks(
    names: Sequence[str] | None, paper: str | None, seed: int, dps: int | None, progress: bool
) -> list[CheckResult]:
    specs = list_checks(paper=paper, names=names)
    return [spec.run(seed=seed, dps=dps) for spec in _progress(specs, "checks", progress)]


def _print_checks(results: Sequence[CheckResult], as_json: bool) -> None:
    if as_json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
        return
    width = max((len(r.name) for r in results), default=10)
    for r in results:
        ref = "" if r.reference is None else f" ref={r.reference:.6g}"
        tol = "" if r.tolerance is None else f" tol={r.tolerance:.3g}"
        val = "" if r.value is None else f" value={r.value:.6g}"
        print(f"{r.status.upper():8s} {r.name:{width}s}{val}{ref}{tol}  [{r.equation}]")
        if r.status in ("fail", "error") and r.note:
            print("         " + r.note.strip().replace("\n", "\n         "))
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    print(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no checks selected")


def _run_figure(spec: ExperimentSpec, quick: bool, seed: int, out: Path) -> FigureRecord:
    import matplotlib.pyplot as plt

    from diffmem_theory.plotting import save_figure

    start = time.perf_counter()
    files: list[str] = []
    try:
        result = spec.run(quick=quick, seed=seed)
        fig = spec.plot(result)
        paths = save_figure(fig, out / "figures" / spec.name.replace(".", "_"))
        plt.close(fig)
        files = [str(p.relative_to(out)) for p in paths]
        status, error = "ok", ""
    except Exception:
        status, error = "error", traceback.format_exc(limit=6)
    return FigureRecord(
        name=spec.name,
        paper=spec.paper,
        figure=spec.figure,
        title=spec.title,
        mode="quick" if quick else "full",
        seconds=time.perf_counter() - start,
        status=status,
        files=files,
        error=error,
    )


_WIDTH = 100  # the errata listing is wrapped to this many columns


def _print_errata(entries: Sequence[Erratum], paper: str | None) -> None:
    """The catalogue grouped by paper: name and where, then printed, correction,
    counterexample and check, each wrapped and indented (``-`` for a field that is empty)."""
    by_paper: dict[str, list[Erratum]] = {}
    for e in entries:
        by_paper.setdefault(e.paper, []).append(e)
    papers = sorted(by_paper) if paper else [p for p in PACKAGES if p != "core" or p in by_paper]
    if not papers:
        print(f"no errata catalogued for paper {paper}")
    for key in papers:
        group = by_paper.get(key, [])
        count = f"{len(group)} {'erratum' if len(group) == 1 else 'errata'}"
        print(f"{key} ({PACKAGES[key]}): {count if group else 'no errata'}")
        for e in group:
            print(_wrap(f"{e.name}  -- {e.where}", "  ", " " * 6))
            fields = {
                "printed": e.printed,
                "correction": e.correction,
                "counterexample": e.counterexample or "-",
                "check": e.check or "-",
            }
            for label, text in fields.items():
                print(_wrap(text, f"    {label + ':':16s}", " " * 20))


def _wrap(text: str, first: str, rest: str) -> str:
    """``text`` wrapped to :data:`_WIDTH` columns after ``first``, continued after ``rest``."""
    return textwrap.fill(
        text,
        _WIDTH,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )


def _list_json(args: argparse.Namespace) -> dict[str, list[dict]]:
    """What ``diffmem list --json`` prints: the selected registries as plain records."""
    if args.errata:
        return {"errata": [asdict(e) for e in list_errata(paper=args.paper)]}
    out: dict[str, list[dict]] = {}
    if not args.experiments_only:
        out["checks"] = [
            {k: getattr(c, k) for k in ("name", "paper", "equation", "description", "erratum")}
            for c in list_checks(paper=args.paper)
        ]
    if not args.checks_only:
        out["experiments"] = [
            {k: getattr(e, k) for k in ("name", "paper", "figure", "title")}
            for e in list_experiments(paper=args.paper)
        ]
    return out


def _cmd_list(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(_list_json(args), indent=2))
        return 0
    if args.errata:
        _print_errata(list_errata(paper=args.paper), args.paper)
        return 0
    checks = [] if args.experiments_only else list_checks(paper=args.paper)
    experiments = [] if args.checks_only else list_experiments(paper=args.paper)
    if not args.experiments_only:
        print("checks:")
        for spec in checks:
            tag = " [erratum]" if spec.erratum else ""
            print(f"  {spec.name}{tag}  -- {spec.equation}")
    if not args.checks_only:
        print("experiments:")
        for spec in experiments:
            print(f"  {spec.name}  -- {spec.figure}: {spec.title}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    _compilation_cache()
    names = [*args.names, *args.extra_names]
    with shared_workers():
        results = _run_checks(names, args.paper, args.seed, args.precision, not args.json)
    _print_checks(results, args.json)
    return 0 if results and all(r.passed for r in results) else 1


def _compilation_cache() -> None:
    """Keep JAX's compiled training steps between runs (a warm start of the network work).

    ``JAX_COMPILATION_CACHE_DIR`` defaults to ``~/.cache/diffmem_theory/jax`` and every
    compilation is kept (``JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0``); values the user set
    are left alone. Set in the environment, so that JAX reads them when it is first imported
    (not before a network is needed) and sweep workers inherit them. Only compiled programs are
    kept, never results: a cached program computes the same bits as a fresh compilation.
    """
    os.environ.setdefault(
        "JAX_COMPILATION_CACHE_DIR", str(Path.home() / ".cache" / "diffmem_theory" / "jax")
    )
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    jax = sys.modules.get("jax")
    if jax is not None and jax.config.jax_compilation_cache_dir is None:  # imported before
        jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
        seconds = float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"])
        jax.config.update("jax_persistent_cache_min_compile_time_secs", seconds)


def _output_dir(path: str) -> Path:
    """``--out`` of figure and reproduce, checked before any figure is computed."""
    out = writable_dir(path, "--out")
    writable_dir(out / "figures", "--out")
    return out


def _cmd_figure(args: argparse.Namespace) -> int:
    _compilation_cache()
    specs = list_experiments(names=[args.name])
    out = _output_dir(args.out)
    ok = True
    # the figures' sweeps start their worker processes once
    with shared_workers(), bars.no_bars(args.no_progress):
        for spec in specs:
            rec = _run_figure(spec, args.quick, args.seed, out)
            files = ", ".join(rec.files)
            print(f"{rec.status.upper():6s} {rec.name} ({rec.seconds:.1f} s): {files}")
            if rec.error:
                print(rec.error, file=sys.stderr)
            ok &= rec.status == "ok"
    return 0 if ok else 1


def _cmd_reproduce(args: argparse.Namespace) -> int:
    _compilation_cache()
    specs = list_experiments(paper=args.paper)
    out = _output_dir(args.out)
    # the figures' and checks' sweeps start their worker processes once
    with shared_workers(), bars.no_bars(args.no_progress):
        figures = [
            _run_figure(spec, args.quick, args.seed, out)
            for spec in _progress(specs, "figures", not args.no_progress)
        ]
        checks = _run_checks(None, args.paper, args.seed, None, not args.no_progress)
    page = write_report(out, figures, checks, environment(), list_errata(paper=args.paper))
    for rec in figures:
        print(f"{rec.status.upper():6s} {rec.name} ({rec.seconds:.1f} s)")
        if rec.error:
            print(rec.error, file=sys.stderr)
    _print_checks(checks, as_json=False)
    print(f"report: {page}")
    ok = all(r.status == "ok" for r in figures) and all(c.passed for c in checks)
    return 0 if ok else 1


def _held_out(text: str) -> float | int | str | None:
    """An argparse ``type`` for ``--held-out``: a count (an integer), a fraction, 0/none, or an
    existing file or folder of held-out points (read like ``--data``)."""
    if text.strip().lower() in ("0", "none"):
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        if text.strip() and os.path.exists(text):
            return text
        value = math.nan
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(
            f"must be a fraction in (0, 1), a count >= 1, 0 for none, or an existing file of "
            f"held-out points, got {text!r}"
        )
    return value


def _cmd_audit(args: argparse.Namespace) -> int:
    from diffmem_theory.audit import run

    out = writable_dir(args.out, "--out")
    options: dict[str, dict[str, object]] = {}
    for key, name, value in args.options:
        options.setdefault(key, {})[name] = value
    try:
        report = run(
            args.data,
            args.model,
            args.schedule,
            prediction=args.prediction,
            scale=args.scale,
            held_out=args.held_out,
            n_samples=args.n_samples,
            samples=args.samples,
            steps=args.steps,
            seed=args.seed,
            sections=args.sections,
            options=options,
            progress=not args.no_progress,
        )
    except (TypeError, ImportError) as err:  # a bad schedule name, model spec or extra
        raise ValueError(str(err)) from err
    page = report.write(out)
    for key, tb in report.errors.items():
        print(f"diffmem audit: section {key} failed:\n{tb}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.summary())
        print(f"report: {page}")
    return 0 if report.ok else 1


def _cmd_sweep(args: argparse.Namespace) -> int:
    from diffmem_theory.sweep import get_sweep, list_sweeps, load_failures, status_counts

    if args.list:
        for spec in list_sweeps():
            print(f"  {spec.name}  -- {spec.description}")
        return 0
    if not args.name or not args.out:
        raise ValueError("give a sweep NAME and --out DIR (or --list)")
    spec = get_sweep(args.name)
    out = writable_dir(args.out, "--out")
    mode = "quick" if args.quick else "full"
    try:
        records = spec.run(
            out,
            quick=args.quick,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=not args.no_progress,
            retries=args.retries,
        )
    except ImportError as err:  # the optional [dist] extra
        raise ValueError(str(err)) from err
    except KeyboardInterrupt as err:
        kept = len(list(out.glob("*.json")))
        print(
            f"diffmem: {spec.name} ({mode}) stopped by {_signal_name(err)}; {kept} finished runs "
            f"kept in {args.out}; the same command resumes it",
            file=sys.stderr,
        )
        return _signal_status(err)
    counts = status_counts(records)
    for r in records:
        if r["status"] == "failed":
            print(f"FAILED {r['key']}: {r['error']}", file=sys.stderr)
    print(
        f"{spec.name} ({mode}): {len(records)} runs, {counts['done']} done, "
        f"{counts['skipped']} skipped, {counts['failed']} failed -> {args.out}"
    )
    if counts["failed"]:
        print(f"failures: {Path(args.out) / 'failed'} ({len(load_failures(args.out))} files)")
    return 1 if counts["failed"] else 0


_SEED_HELP = f"random seed, 0-{SEED_MAX} (default 0)"


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="diffmem",
        description="Theorem checks and figure reproductions for five papers on "
        "memorization vs generalization in diffusion models.",
    )
    sub = p.add_subparsers(dest="command", required=True)

    q = sub.add_parser("list", help="list registered checks and experiments, or the errata")
    q.add_argument("--paper", help="000-004, core or a package name (voronoi, ...)")
    g = q.add_mutually_exclusive_group()
    g.add_argument("--checks", dest="checks_only", action="store_true", help="checks only")
    g.add_argument("--experiments", dest="experiments_only", action="store_true")
    g.add_argument(
        "--errata",
        action="store_true",
        help="the errata catalogue: each statement printed wrong in a paper, its correction, "
        "the counterexample and the check that reproduces it",
    )
    q.add_argument("--json", action="store_true", help="print the lists as JSON")
    q.set_defaults(func=_cmd_list)

    q = sub.add_parser("check", help="run theorem checks; exit 1 if any fails")
    q.add_argument("names", nargs="*", help="check names or name prefixes (default: all)")
    q.add_argument(
        "--name",
        dest="extra_names",
        action="append",
        default=[],
        metavar="NAME",
        help="a check name or prefix (repeatable; the same as a positional name)",
    )
    q.add_argument("--paper", help="000-004, core or a package name (voronoi, ...)")
    q.add_argument("--json", action="store_true", help="print the results as JSON")
    q.add_argument("--seed", type=_int_in(0, SEED_MAX), default=0, help=_SEED_HELP)
    q.add_argument(
        "--precision",
        type=_int_in(*DPS_RANGE),
        default=None,
        help=f"mpmath digits (dps, {DPS_RANGE[0]}-{DPS_RANGE[1]}) for the checks that use it",
    )
    q.set_defaults(func=_cmd_check)

    q = sub.add_parser("figure", help="regenerate one figure (PNG + PDF)")
    q.add_argument("name", help="experiment name or prefix, see `diffmem list`")
    mode = q.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="quick", action="store_true", default=True)
    mode.add_argument("--full", dest="quick", action="store_false", help="the paper's settings")
    q.add_argument("--out", type=_path, default="diffmem-out", help="output directory")
    q.add_argument("--seed", type=_int_in(0, SEED_MAX), default=0, help=_SEED_HELP)
    q.add_argument("--no-progress", action="store_true", help="no progress bars")
    q.set_defaults(func=_cmd_figure)

    q = sub.add_parser("reproduce", help="all figures and checks, with an HTML report")
    mode = q.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="quick", action="store_true", default=True)
    mode.add_argument("--full", dest="quick", action="store_false", help="the paper's settings")
    q.add_argument("--out", type=_path, default="diffmem-report", help="output directory")
    q.add_argument("--paper", help="only this paper (000-004, core or a package name)")
    q.add_argument("--seed", type=_int_in(0, SEED_MAX), default=0, help=_SEED_HELP)
    q.add_argument("--no-progress", action="store_true", help="no progress bars")
    q.set_defaults(func=_cmd_reproduce)

    q = sub.add_parser(
        "sweep", help="run a registered parameter sweep (resumable); exit 1 if a run fails"
    )
    q.add_argument("name", nargs="?", help="sweep name, see `diffmem sweep --list`")
    q.add_argument("--list", action="store_true", help="list the registered sweeps")
    mode = q.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="quick", action="store_true", default=True)
    mode.add_argument("--full", dest="quick", action="store_false", help="the paper's settings")
    q.add_argument(
        "--out",
        type=_path,
        help="directory of the result files (one JSON file per run), holding this sweep and "
        "mode only",
    )
    q.add_argument(
        "--workers", type=_int_in(1), default=None, help="local processes (default: all cores)"
    )
    q.add_argument("--scheduler", default=None, help="Dask scheduler address tcp://host:port")
    q.add_argument("--retries", type=_int_in(0), default=0, help="extra attempts of a failing run")
    q.add_argument("--no-progress", action="store_true", help="no progress bar")
    q.set_defaults(func=_cmd_sweep)

    q = sub.add_parser(
        "audit",
        help="the five papers' theory applied to your data and model (HTML + JSON report); "
        "exit 1 if a section fails",
    )
    q.add_argument(
        "--data", type=_path, required=True, help=".npy/.npz, IDX, CIFAR-10 batch or PNG folder"
    )
    q.add_argument(
        "--model",
        required=True,
        help="empirical, gaussian, gmm:K, MODULE:CALLABLE (a dotted module or a .py file) or a "
        "network saved by diffmem_theory.nn.save",
    )
    q.add_argument(
        "--prediction",
        choices=PREDICTIONS,
        default=None,
        help="the unit a MODULE:CALLABLE model returns (required for one)",
    )
    q.add_argument(
        "--schedule",
        default="VPTrig",
        help=f"the model's schedule, one of {', '.join(SCHEDULE_NAMES)}",
    )
    q.add_argument(
        "--scale",
        choices=SCALES,
        default="[0,1]",
        help="the pixel range --data is mapped onto: the units the model was trained in "
        "(default [0,1], the papers'; none keeps the file's values)",
    )
    q.add_argument(
        "--samples", type=_path, default=None, help="the model's samples (.npy, in --scale units)"
    )
    q.add_argument(
        "--held-out",
        type=_held_out,
        default=0.2,
        help="held-out fraction (0-1) or count of the data, 0 for none, or a file of held-out "
        "points read like --data (default 0.2)",
    )
    q.add_argument("--n-samples", type=_int_in(1), default=1000, help="samples to draw")
    q.add_argument("--steps", type=_int_in(1), default=25, help="DDIM steps (default 25)")
    q.add_argument("--seed", type=_int_in(0, SEED_MAX), default=0, help=_SEED_HELP)
    q.add_argument(
        "--sections",
        type=_section_list,
        default=None,
        help=f"comma-separated, among {','.join(SECTIONS)} (default all)",
    )
    q.add_argument(
        "--option",
        dest="options",
        type=_section_option,
        action="append",
        default=[],
        metavar="SECTION.NAME=VALUE",
        help="an option of a section, e.g. crossover.k=5 or crossover.weighting=eps (VALUE read "
        "as JSON when it parses, else as a string; repeatable)",
    )
    q.add_argument("--out", type=_path, required=True, help="output directory")
    q.add_argument("--json", action="store_true", help="print report.json instead of a summary")
    q.add_argument("--no-progress", action="store_true", help="no progress bar")
    q.set_defaults(func=_cmd_audit)
    return p


def _section_option(text: str) -> tuple[str, str, object]:
    """An argparse ``type`` for ``--option``: ``SECTION.NAME=VALUE`` (VALUE JSON or a string)."""
    key, _, rest = text.partition(".")
    name, eq, raw = rest.partition("=")
    if key not in SECTIONS or not name.isidentifier() or not eq:
        raise argparse.ArgumentTypeError(
            f"must be SECTION.NAME=VALUE with SECTION among {','.join(SECTIONS)}, got {text!r}"
        )
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key, name, value


def _section_list(text: str) -> list[str]:
    """An argparse ``type`` for ``--sections``: known section keys, comma-separated."""
    keys = [k.strip() for k in text.split(",") if k.strip()]
    bad = [k for k in keys if k not in SECTIONS]
    if not keys or bad:
        raise argparse.ArgumentTypeError(
            f"must be a comma-separated list of {','.join(SECTIONS)}, got {text!r}"
        )
    return keys


def _signal_name(err: KeyboardInterrupt) -> str:
    return "SIGTERM" if isinstance(err, Terminated) else "Ctrl-C"


def _signal_status(err: KeyboardInterrupt) -> int:
    """128 + the signal's number, as a shell reports a process ended by it."""
    return 128 + int(signal.SIGTERM if isinstance(err, Terminated) else signal.SIGINT)


def _quiet_stdout() -> None:
    """The reader of our stdout went away: send what is still buffered to /dev/null."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor behind sys.stdout (captured output)
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``diffmem`` console script; returns the exit status.

    Parameters
    ----------
    argv : sequence of str or None, optional
        The arguments after ``diffmem``; ``None`` reads ``sys.argv``.

    Returns
    -------
    int
        0: done (and every check passed, every audit section ran); 1: a check failed, or a
        figure, run or audit section failed; 2: bad arguments or inputs (one line on stderr);
        130/143: stopped by Ctrl-C/SIGTERM.

    Examples
    --------
    >>> main(["list", "--errata", "--paper", "000"])  # doctest: +ELLIPSIS
    paper000 (crossover): 28 errata
      paper000.chi2_proof_step  -- App. C, proof of Thm C.1
    ...
    0
    """
    try:
        args = _parser().parse_args(argv)
    except SystemExit as stop:  # --help, or an argument error already printed
        return stop.code if isinstance(stop.code, int) else 0 if stop.code is None else 2
    try:
        status = int(args.func(args))
        sys.stdout.flush()  # a closed pipe shows up here, not at exit
        return status
    except ValueError as err:  # bad names or options: a message, not a traceback
        print(f"diffmem: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `diffmem list | head`: the reader has all it wanted
        _quiet_stdout()
        return 1
    except KeyboardInterrupt as err:
        print(f"diffmem: stopped by {_signal_name(err)}", file=sys.stderr)
        return _signal_status(err)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
