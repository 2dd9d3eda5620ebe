"""Which optional extras are installed (without importing them).

``HAVE_NN`` is true when JAX, Equinox and Optax (the ``nn`` extra) can be imported; the
checks and figures that train networks are registered only then, so ``diffmem`` works
without JAX.

>>> isinstance(HAVE_NN, bool)
True
"""

from __future__ import annotations

import importlib.util

__all__ = ["HAVE_NN"]

#: whether the ``nn`` extra (``pip install "diffmem-theory[nn]"``) is installed
HAVE_NN: bool = all(importlib.util.find_spec(m) is not None for m in ("jax", "equinox", "optax"))
