"""Progress bars: one switch for every bar the package draws (private).

A function that can show a progress bar takes ``progress=True`` (or shows one when stderr is a
terminal); a program that wants none at all, whatever the functions it calls ask for
(``diffmem reproduce --no-progress`` runs figures that train models and run sweeps), wraps the
calls in :func:`no_bars`. Each bar asks :func:`disable` for tqdm's ``disable`` argument.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["disable", "no_bars"]

_OFF = False


def disable(progress: bool | None = True) -> bool | None:
    """tqdm's ``disable`` for a bar that its caller asked for with ``progress``.

    ``progress=True`` shows the bar, ``False`` hides it and ``None`` leaves the choice to tqdm
    (shown on a terminal only); inside :func:`no_bars` every bar is hidden.

    >>> disable(True), disable(False), disable(None)
    (False, True, None)
    >>> with no_bars():
    ...     disable(True)
    True
    """
    if _OFF or progress is False:
        return True
    return None if progress is None else False


@contextlib.contextmanager
def no_bars(active: bool = True) -> Iterator[None]:
    """Inside the block no progress bar is shown (``active=False``: the block changes nothing).

    >>> with no_bars(False):
    ...     disable(True)
    False
    """
    global _OFF
    before = _OFF
    _OFF = before or active
    try:
        yield
    finally:
        _OFF = before
