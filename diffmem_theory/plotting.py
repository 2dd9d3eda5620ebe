"""One paper-ready figure style, used by every experiment's ``plot``.

Figures are sized in inches for a two-column paper (``"single"`` = 3.4 in, ``"double"``
= 7.0 in wide), use a serif font with mathtext, thin lines and light grids, and are
written as both PNG (for the HTML report) and PDF (for papers) by :func:`save_figure`.

Examples
--------
>>> import numpy as np
>>> from diffmem_theory.plotting import figure
>>> fig, axes = figure(ncols=2)
>>> _ = axes[0].plot(np.arange(3), np.arange(3))
>>> len(axes), round(float(fig.get_figwidth()), 1)
(2, 7.0)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # figures are files; never require a display

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from diffmem_theory._validation import check_bool, check_choice, check_int, check_scalar

__all__ = ["PALETTE", "STYLE", "figure", "paper_style", "save_figure"]

#: Colour-blind-safe palette (Okabe-Ito), in the order lines are drawn.
PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#000000",
    "#F0E442",
)

#: The rcParams of the package's figure style.
STYLE: dict[str, Any] = {
    "font.family": "serif",
    "font.serif": ["DejaVu Serif"],
    "mathtext.fontset": "dejavuserif",
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "lines.linewidth": 1.2,
    "lines.markersize": 3,
    "axes.linewidth": 0.6,
    "axes.grid": True,
    "grid.linewidth": 0.4,
    "grid.alpha": 0.4,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "axes.prop_cycle": matplotlib.cycler(color=list(PALETTE)),
    "savefig.dpi": 200,
    "savefig.bbox": "tight",
    "figure.dpi": 100,
}

_WIDTHS = {"single": 3.4, "double": 7.0}
_MAX_PANELS = 100  # rows or columns of one figure


@contextmanager
def paper_style() -> Iterator[None]:
    """Context manager that applies :data:`STYLE` to the figures created inside it.

    Yields
    ------
    None
        Inside the ``with`` block matplotlib's rcParams are :data:`STYLE`; they are restored
        on exit.

    See Also
    --------
    figure : a figure in this style.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> with paper_style():
    ...     plt.rcParams["font.size"]
    8.0
    """
    with plt.rc_context(STYLE):
        yield


def figure(
    ncols: int = 1,
    nrows: int = 1,
    *,
    width: str = "double",
    aspect: float = 0.75,
    pyplot: bool = True,
    **subplot_kw: Any,
) -> tuple[Figure, np.ndarray]:
    """Create a figure in the package style with an ``nrows x ncols`` grid of axes.

    Parameters
    ----------
    ncols, nrows : int, optional
        The grid of panels, 1 to 100 each.
    width : {"double", "single"}, optional
        The figure's width: a two-column paper's full width (7.0 in) or one column (3.4 in).
    aspect : float, optional
        Each panel's height over its width, in (0, 100].
    pyplot : bool, default True
        Register the figure with pyplot (shown by ``plt.show()``, kept until ``plt.close``).
        ``False``: a figure pyplot does not track, freed when no longer referenced; library
        code that returns figures, possibly many in a loop (the audit sections), uses it so
        that no figure accumulates (matplotlib warns past 20 open ones).
    **subplot_kw
        Passed to :func:`matplotlib.pyplot.subplots` (e.g. ``projection="3d"``).

    Returns
    -------
    fig : matplotlib.figure.Figure
        Laid out with ``constrained_layout``.
    axes : numpy.ndarray
        The ``nrows * ncols`` axes, row by row, in a flat array.

    Raises
    ------
    ValueError
        A count outside [1, 100], an unknown ``width`` or an ``aspect`` outside (0, 100].

    See Also
    --------
    save_figure, paper_style

    Examples
    --------
    >>> fig, axes = figure(ncols=3, width="double", aspect=0.8)
    >>> axes.shape
    (3,)
    >>> free, _ = figure(pyplot=False)
    >>> free in map(plt.figure, plt.get_fignums())
    False
    """
    ncols = check_int(ncols, "ncols", low=1, high=_MAX_PANELS)
    nrows = check_int(nrows, "nrows", low=1, high=_MAX_PANELS)
    check_choice(width, "width", tuple(_WIDTHS))
    aspect = check_scalar(aspect, "aspect", low=0.0, low_open=True, high=100.0)
    pyplot = check_bool(pyplot, "pyplot")
    w = _WIDTHS[width]
    size = (w, w / ncols * aspect * nrows)
    with paper_style():
        if pyplot:
            fig, axes = plt.subplots(
                nrows,
                ncols,
                figsize=size,
                squeeze=False,
                constrained_layout=True,
                subplot_kw=subplot_kw or None,
            )
        else:
            fig = Figure(figsize=size, constrained_layout=True)
            axes = fig.subplots(nrows, ncols, squeeze=False, subplot_kw=subplot_kw or None)
    # the style must also hold when the caller draws later: apply it to the artists now
    for ax in axes.flat:
        _style_axes(ax)
    return fig, axes.ravel()


def _style_axes(ax: Any) -> None:
    ax.grid(True, linewidth=STYLE["grid.linewidth"], alpha=STYLE["grid.alpha"])
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_prop_cycle(color=list(PALETTE))


def save_figure(
    fig: Figure, path: str | Path, formats: Sequence[str] = ("png", "pdf")
) -> list[Path]:
    """Write ``fig`` to ``path`` with each suffix in ``formats``; return the written paths.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    path : str or pathlib.Path
        A stem: ``save_figure(fig, "out/fig2")`` writes ``out/fig2.png`` and ``out/fig2.pdf``.
        Parent directories are created.
    formats : sequence of {"png", "pdf", "svg"}, optional
        The files to write, in this order.

    Returns
    -------
    list of pathlib.Path
        The files written.

    Raises
    ------
    ValueError
        An unknown format (the formats before it are written).

    See Also
    --------
    figure

    Examples
    --------
    >>> import tempfile, pathlib
    >>> fig, _ = figure()
    >>> with tempfile.TemporaryDirectory() as d:
    ...     paths = save_figure(fig, pathlib.Path(d) / "demo")
    ...     [p.suffix for p in paths], all(p.stat().st_size > 0 for p in paths)
    (['.png', '.pdf'], True)
    """
    stem = Path(path)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    with paper_style():
        for fmt in formats:
            check_choice(fmt, "formats", ("png", "pdf", "svg"))
            target = stem.with_suffix(f".{fmt}")
            fig.savefig(target, format=fmt)
            written.append(target)
    return written
