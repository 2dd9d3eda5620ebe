"""Dynamic hand-out of a fixed partition of work to Numba threads (private; see ``kernels``).

Every parallel kernel of the package splits its work into a fixed list of items whose size
depends only on the problem's shape (never on the number of threads), writes each item's
partial result into its own slot, and combines the slots in item order afterwards. The result is
then bit-identical for any thread count. The items are handed out *dynamically*: each thread
takes the next unclaimed item from a shared counter (an atomic fetch-and-add), so a thread that
the operating system slows down (another process on the same core) simply takes fewer items
instead of holding up the others at the end of a static split.

Usage inside a ``parallel=True`` function::

    counter = new_counter()
    for slot in prange(n_slots(n_items, n_threads)):
        scratch = ...                       # per-slot buffers
        item = next_item(counter)
        while item < n_items:
            ...                             # process item, write to its own output slot
            item = next_item(counter)
"""

from __future__ import annotations

import os

import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

# GNU OpenMP (Numba's threading layer where libgomp is present) lets idle threads spin for
# ~0.2 s after each parallel region by default. On a machine shared with another busy process
# those spinning threads steal the cores the working threads need: a 2-thread training epoch
# ran 3-5x slower under load than with passive waiting (benchmarks/bench_shared_machine.py).
# libgomp reads the variable once, when it is loaded (at the first parallel call, after this
# import); a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@intrinsic
def _fetch_add(typingctx, counter):
    """Atomically add 1 to ``counter[0]`` (an int64 array) and return the previous value."""
    if not (isinstance(counter, types.Array) and counter.dtype == types.int64):
        return None

    def codegen(context, builder, signature, args):
        arrty = signature.args[0]
        ary = context.make_array(arrty)(context, builder, args[0])
        zero = context.get_constant(types.intp, 0)
        ptr = cgutils.get_item_pointer(context, builder, arrty, ary, [zero])
        one = context.get_constant(types.int64, 1)
        return builder.atomic_rmw("add", ptr, one, "monotonic")

    return types.int64(counter), codegen


@njit(cache=True)
def new_counter():
    """A fresh work counter (one int64, 0): the next item to hand out.

    >>> int(new_counter()[0])
    0
    """
    return np.zeros(1, np.int64)


@njit(cache=True)
def next_item(counter):
    """Claim the next item: return ``counter[0]`` and increment it, atomically.

    >>> c = new_counter()
    >>> next_item(c), next_item(c), int(c[0])
    (0, 1, 2)
    """
    return _fetch_add(counter)


@njit(cache=True)
def n_slots(n_items, n_threads):
    """Number of worker slots for ``n_items`` items: ``min(n_threads, n_items)``, at least 1.

    >>> n_slots(10, 4), n_slots(2, 4), n_slots(0, 4)
    (4, 2, 1)
    """
    return max(1, min(n_threads, n_items))
