"""The ``diffmem`` command line: list, check, figure, reproduce, sweep.

``diffmem list``                         registered checks and experiments
``diffmem check [NAME ...] [--paper P]``  run checks; exit status 1 if any fails
``diffmem figure NAME [--quick] [--out DIR]``     regenerate one figure (PNG + PDF)
``diffmem reproduce --quick --out DIR``   every figure, every check, and ``DIR/index.html``
``diffmem sweep NAME --out DIR [--workers N] [--scheduler ADDRESS]``   a registered parameter
sweep, one result file per run, resumable; ``diffmem sweep --list``; exit status 1 if a run fails

Example
-------
>>> from diffmem_theory.cli import main
>>> main(["check", "no_such_paper.check"])  # unknown names: a message and exit status 2
2
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from .registry import CheckResult, ExperimentSpec, list_checks, list_experiments
from .report import FigureRecord, environment, write_report

__all__ = ["main"]


def _progress(items: Sequence, desc: str, enabled: bool) -> Sequence:
    return tqdm(items, desc=desc, unit="item", disable=not enabled, file=sys.stderr, leave=False)


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

    from .plotting import save_figure

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


def _cmd_list(args: argparse.Namespace) -> int:
    if not args.experiments_only:
        print("checks:")
        for spec in list_checks(paper=args.paper):
            tag = " [erratum]" if spec.erratum else ""
            print(f"  {spec.name}{tag}  -- {spec.equation}")
    if not args.checks_only:
        print("experiments:")
        for spec in list_experiments(paper=args.paper):
            print(f"  {spec.name}  -- {spec.figure}: {spec.title}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    names = [*args.names, *args.extra_names]
    results = _run_checks(names, args.paper, args.seed, args.precision, not args.json)
    _print_checks(results, args.json)
    return 0 if results and all(r.passed for r in results) else 1


def _cmd_figure(args: argparse.Namespace) -> int:
    specs = list_experiments(names=[args.name])
    out = Path(args.out)
    ok = True
    for spec in specs:
        rec = _run_figure(spec, args.quick, args.seed, out)
        print(f"{rec.status.upper():6s} {rec.name} ({rec.seconds:.1f} s): {', '.join(rec.files)}")
        if rec.error:
            print(rec.error, file=sys.stderr)
        ok &= rec.status == "ok"
    return 0 if ok else 1


def _cmd_reproduce(args: argparse.Namespace) -> int:
    out = Path(args.out)
    specs = list_experiments(paper=args.paper)
    figures = [
        _run_figure(spec, args.quick, args.seed, out)
        for spec in _progress(specs, "figures", not args.no_progress)
    ]
    checks = _run_checks(None, args.paper, args.seed, None, not args.no_progress)
    page = write_report(out, figures, checks, environment())
    for rec in figures:
        print(f"{rec.status.upper():6s} {rec.name} ({rec.seconds:.1f} s)")
        if rec.error:
            print(rec.error, file=sys.stderr)
    _print_checks(checks, as_json=False)
    print(f"report: {page}")
    ok = all(r.status == "ok" for r in figures) and all(c.passed for c in checks)
    return 0 if ok else 1


def _cmd_sweep(args: argparse.Namespace) -> int:
    from .sweep import _summary, get_sweep, list_sweeps, load_failures

    if args.list:
        for spec in list_sweeps():
            print(f"  {spec.name}  -- {spec.description}")
        return 0
    if not args.name or not args.out:
        raise ValueError("give a sweep NAME and --out DIR (or --list)")
    spec = get_sweep(args.name)
    try:
        records = spec.run(
            args.out,
            quick=args.quick,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=not args.no_progress,
            retries=args.retries,
        )
    except ImportError as err:  # the optional [dist] extra
        raise ValueError(str(err)) from err
    counts = _summary(records)
    for r in records:
        if r["status"] == "failed":
            print(f"FAILED {r['key']}: {r['error']}", file=sys.stderr)
    mode = "quick" if args.quick else "full"
    print(
        f"{spec.name} ({mode}): {len(records)} runs, {counts['done']} done, "
        f"{counts['skipped']} skipped, {counts['failed']} failed -> {args.out}"
    )
    if counts["failed"]:
        print(f"failures: {Path(args.out) / 'failed'} ({len(load_failures(args.out))} files)")
    return 1 if counts["failed"] else 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="diffmem",
        description="Theorem checks and figure reproductions for five papers on "
        "memorization vs generalization in diffusion models.",
    )
    sub = p.add_subparsers(dest="command", required=True)

    q = sub.add_parser("list", help="list registered checks and experiments")
    q.add_argument("--paper", help="000-004 or core")
    g = q.add_mutually_exclusive_group()
    g.add_argument("--checks", dest="checks_only", action="store_true", help="checks only")
    g.add_argument("--experiments", dest="experiments_only", action="store_true")
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
    q.add_argument("--paper", help="000-004 or core")
    q.add_argument("--json", action="store_true", help="print the results as JSON")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--precision", type=int, default=None, help="mpmath dps for checks that use it")
    q.set_defaults(func=_cmd_check)

    q = sub.add_parser("figure", help="regenerate one figure (PNG + PDF)")
    q.add_argument("name", help="experiment name or prefix, see `diffmem list`")
    mode = q.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="quick", action="store_true", default=True)
    mode.add_argument("--full", dest="quick", action="store_false", help="the paper's settings")
    q.add_argument("--out", default="diffmem-out")
    q.add_argument("--seed", type=int, default=0)
    q.set_defaults(func=_cmd_figure)

    q = sub.add_parser("reproduce", help="all figures and checks, with an HTML report")
    mode = q.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="quick", action="store_true", default=True)
    mode.add_argument("--full", dest="quick", action="store_false", help="the paper's settings")
    q.add_argument("--out", default="diffmem-report")
    q.add_argument("--paper", help="only this paper (000-004 or core)")
    q.add_argument("--seed", type=int, default=0)
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
    q.add_argument("--out", help="directory of the result files (one JSON file per run)")
    q.add_argument("--workers", type=int, default=None, help="local processes (default: all cores)")
    q.add_argument("--scheduler", default=None, help="Dask scheduler address tcp://host:port")
    q.add_argument("--retries", type=int, default=0, help="extra attempts of a failing run")
    q.add_argument("--no-progress", action="store_true", help="no progress bar")
    q.set_defaults(func=_cmd_sweep)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``diffmem`` console script; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ValueError as err:  # bad names or options: a message, not a traceback
        print(f"diffmem: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
