"""Helpers for the notebooks in ``notebooks/``: show figures, run experiments and checks, errata.

Quick settings by default; ``DIFFMEM_FULL=1 jupyter lab`` switches :func:`experiment` (and every
notebook's ``QUICK`` flag, :func:`quick_mode`) to the papers' full settings.

>>> from diffmem_theory.notebook import table
>>> table(["a", "b"], [(1.5, "x"), (2.25, "yy")])
   a   b
 1.5   x
2.25  yy
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from diffmem_theory.plotting import save_figure
from diffmem_theory.registry import CheckResult, get_experiment, list_checks, list_errata

__all__ = ["FIGURES", "experiment", "quick_mode", "run_checks", "show", "show_errata", "table"]

#: Where the notebooks write their figures (relative to the working directory).
FIGURES = Path("figures")


def quick_mode() -> bool:
    """True unless the environment variable ``DIFFMEM_FULL`` is set (to anything non-empty).

    Returns
    -------
    bool
        ``True``: the quick settings; ``False``: the papers' full settings.

    Examples
    --------
    >>> import os
    >>> quick_mode() == (os.environ.get("DIFFMEM_FULL", "") == "")
    True
    """
    return os.environ.get("DIFFMEM_FULL", "") == ""


def show(fig: Any, name: str) -> Path:
    """Save ``fig`` as ``figures/<name>.png`` and ``.pdf``, display the PNG, return its path.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure; it is closed after saving.
    name : str
        The file stem under :data:`FIGURES`.

    Returns
    -------
    pathlib.Path
        The PNG file.

    See Also
    --------
    diffmem_theory.plotting.save_figure
    """
    from IPython.display import Image, display

    png = save_figure(fig, FIGURES / name)[0]
    plt.close(fig)
    display(Image(filename=str(png)))
    return png


def experiment(name: str, quick: bool | None = None, seed: int = 0) -> Any:
    """Run the registered experiment ``name``, show its figure, return the result.

    Parameters
    ----------
    name : str
        A registered experiment, e.g. ``"paper000.fig2"`` (see ``diffmem list``).
    quick : bool or None, optional
        The quick settings or the paper's; ``None`` follows :func:`quick_mode` (the
        ``DIFFMEM_FULL`` environment variable).
    seed : int, optional
        The experiment's seed.

    Returns
    -------
    object
        What the experiment's ``run`` returns (the data behind the figure).

    Raises
    ------
    ValueError
        An unknown experiment name.

    See Also
    --------
    diffmem_theory.registry.get_experiment
    """
    spec = get_experiment(name)
    result = spec.run(quick=quick_mode() if quick is None else quick, seed=seed)
    show(spec.plot(result), name.replace(".", "_"))
    return result


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print ``rows`` as a right-aligned text table (floats with 6 significant digits).

    Parameters
    ----------
    headers : sequence of str
        The column titles.
    rows : sequence of sequences
        Each row has one cell per header; floats are printed with 6 significant digits, other
        cells with ``str``.

    Raises
    ------
    TypeError
        ``headers`` that is not a sequence of strings.
    ValueError
        A row that is not a sequence of ``len(headers)`` cells.

    Examples
    --------
    >>> table(["a", "b"], [(1, 0.5), ("x", 2.0)])
    a    b
    1  0.5
    x    2
    """
    if isinstance(headers, str) or not all(isinstance(h, str) for h in headers):
        raise TypeError(f"headers must be a sequence of str, got {headers!r:.60}")
    if isinstance(rows, str) or any(
        isinstance(row, str) or not hasattr(row, "__len__") or len(row) != len(headers)
        for row in rows
    ):
        raise ValueError(f"rows must be sequences of {len(headers)} cells (one per header)")
    cells = [[f"{c:.6g}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("  ".join(f"{h:>{w}}" for h, w in zip(headers, widths, strict=True)))
    for r in cells:
        print("  ".join(f"{c:>{w}}" for c, w in zip(r, widths, strict=True)))


def run_checks(paper: str, seed: int = 0) -> list[CheckResult]:
    """Run every registered check of ``paper``, print the table; raise if any fails or crashes.

    Parameters
    ----------
    paper : str
        ``"paper000"`` ... ``"paper004"``, ``"000"`` ... ``"004"`` or ``"core"``.
    seed : int, optional
        Passed to the checks that take a seed.

    Returns
    -------
    list of CheckResult
        In name order; pass them to :func:`show_errata`.

    Raises
    ------
    AssertionError
        If a check failed or raised (the table is printed first).
    ValueError
        An unknown paper.

    See Also
    --------
    diffmem_theory.registry.list_checks, show_errata
    """
    results = [spec.run(seed=seed) for spec in list_checks(paper=paper)]
    table(
        ["status", "check", "value", "reference", "tolerance", "seconds"],
        [
            (r.status, r.name, r.value, r.reference, r.tolerance, f"{r.seconds:.2f}")
            for r in results
        ],
    )
    bad = [r.name for r in results if r.status in ("fail", "error")]
    if bad:
        raise AssertionError(f"checks failed: {bad}")
    return results


def show_errata(results: Sequence[CheckResult]) -> None:
    """Print each reproduced erratum: its catalogue entry and the values its check computed.

    For every result with status ``"erratum"``: the catalogue entry whose check it is (where the
    statement is in the paper, as printed, the correction and the counterexample; see
    :func:`~diffmem_theory.registry.list_errata`), then the value the check computed against the
    printed one and the check's note. A result that no catalogue entry names shows its
    equation as the printed statement.

    Parameters
    ----------
    results : sequence of CheckResult
        E.g. from :func:`run_checks`; results of other statuses are skipped.

    Raises
    ------
    TypeError
        If ``results`` is not a sequence of :class:`~diffmem_theory.registry.CheckResult`.

    Examples
    --------
    >>> from diffmem_theory.registry import run_check
    >>> show_errata([run_check("paper000.erratum_coupon_c4")])  # doctest: +ELLIPSIS
    paper000.coupon_c4 (App. C.2, Prop. C.4 (coupon collector))
      printed:        P[A] >= 1 - K^{-log d}(1 + log K log d) for l >= (1 + log d) K log K
      correction:     P[A] >= 1 - K(1 - 1/K)^l (1 + l/(K - 1)) >= ...
      counterexample: at the smallest allowed l = ...: K = 12, d = 5, l = 78: 0.893773 < 0.908371...
      check paper000.erratum_coupon_c4: computed 0.893773, printed/reference 0.908371
      note: [paper000.coupon_c4] K=12, d=5: exact 0.893773 < printed 0.908371; ...
    <BLANKLINE>
    """
    if isinstance(results, (str, bytes)) or not hasattr(results, "__iter__"):
        raise TypeError(f"results must be a sequence of CheckResult, got {type(results).__name__}")
    results = list(results)
    for r in results:
        if not isinstance(r, CheckResult):
            raise TypeError(f"results must hold CheckResult objects, got {type(r).__name__}")
    shown = [r for r in results if r.status == "erratum"]
    entries = {e.check: e for e in list_errata() if e.check is not None} if shown else {}
    for r in shown:
        entry = entries.get(r.name)
        if entry is None:
            print(f"{r.name}\n  printed:        {r.equation}")
        else:
            print(f"{entry.name} ({entry.where})")
            print(f"  printed:        {entry.printed}")
            print(f"  correction:     {entry.correction}")
            print(f"  counterexample: {entry.counterexample}")
        ref = "-" if r.reference is None else f"{r.reference:.6g}"
        print(f"  check {r.name}: computed {r.value:.6g}, printed/reference {ref}")
        print(f"  note: {r.note.strip()}\n")
