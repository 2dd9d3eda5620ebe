"""Single-threaded matrix products for the Numba kernels, on NumPy's OpenBLAS (private).

Numba's ``np.dot`` calls the BLAS bundled with SciPy (through ``scipy.linalg.cython_blas``).
NumPy >= 2's wheels bundle their own OpenBLAS (``numpy.libs/libscipy_openblas64_*``, ILP64,
symbols ``scipy_cblas_?gemm64_``), usually a newer release. Timed alone on the
empirical-score kernel's tiles at image scale (512 x 3,072 queries against 1,024 x 3,072
centres, one thread), the two libraries run at the same speed (0.98-1.03x, both select the
same SkylakeX kernels: ``benchmarks/bench_image_scale.py --blas-tiles``); inside the kernel,
NumPy's made the whole float32 call 4-5 % faster and the float64 call 1-2 % faster than
``np.dot`` (``--compare-blas --cpu``, one thread, three A/B pairs).

:func:`gemm_nt` (C = A B^T) and :func:`gemm_nn` (C = A B) are Numba functions that call the
external functions ``diffmem_theory_sgemm`` / ``diffmem_theory_dgemm`` **by name**, with the
ILP64 CBLAS signature of ``cblas_?gemm``. When this module is imported, those names are bound
(``llvmlite.binding.add_symbol``) to NumPy's ``scipy_cblas_?gemm64_`` (NumPy 2 wheels) or
``cblas_?gemm64_`` (NumPy 1.x wheels) when NumPy bundles an ILP64 OpenBLAS, and otherwise
(NumPy on MKL, Accelerate, a system BLAS; or ``DIFFMEM_THEORY_BLAS=scipy`` in the environment)
to compiled adapters that call Numba's ``np.dot``, i.e. SciPy's BLAS. The compiled kernels
hold the names, not addresses, and the names are resolved when the machine code is loaded, so
Numba's on-disk cache stays valid whichever library serves them (a ctypes function pointer
would bake an address into the code and make it uncacheable).

:data:`BLAS_PACKAGE` names the package whose OpenBLAS serves the products (``"numpy"`` or
``"scipy"``): the one :func:`single_threaded_blas` must pin to one thread around a parallel
kernel (each kernel thread calls the BLAS on its own tile).
"""

from __future__ import annotations

import ctypes
import glob
import importlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import numpy as np
from llvmlite import binding, ir
from numba import carray, cfunc, njit
from numba.core import cgutils, types
from numba.extending import intrinsic

#: Environment variable choosing the BLAS of the kernels' products: ``"numpy"`` (default: NumPy's
#: bundled OpenBLAS when found, else SciPy's through ``np.dot``) or ``"scipy"`` (always ``np.dot``).
BLAS_ENV = "DIFFMEM_THEORY_BLAS"
_CHOICES = ("numpy", "scipy")

# CBLAS constants (cblas.h): row-major storage, no transpose, transpose.
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
# The external functions the kernels call, per dtype (bound at import, see the module docstring).
_SYMBOLS = {types.float32: "diffmem_theory_sgemm", types.float64: "diffmem_theory_dgemm"}
_BLAS_CHARS = ((types.float32, "s"), (types.float64, "d"))


def _gemm_signature(real: types.Float) -> types.Signature:
    """The ILP64 ``cblas_?gemm`` signature: (order, transa, transb, m, n, k, alpha, A, lda, B,
    ldb, beta, C, ldc), enums as 32-bit ints, dimensions as 64-bit ints."""
    i32, i64, ptr = types.int32, types.int64, types.CPointer(real)
    return types.void(i32, i32, i32, i64, i64, i64, real, ptr, i64, ptr, i64, real, ptr, i64)


@cache
def openblas_library(package: str) -> tuple[ctypes.CDLL, str, str] | None:
    """``(library, prefix, suffix)`` of the OpenBLAS bundled with ``package`` (``"numpy"`` or
    ``"scipy"``), or None when it bundles none (e.g. NumPy built on MKL or Accelerate).

    Symbols are ``prefix + name + suffix``: ``scipy_`` / ``64_`` for NumPy 2's ILP64 build,
    ``scipy_`` / ``""`` for SciPy's, ``""`` / ``64_`` for NumPy 1.x's.
    """
    module = importlib.import_module(package)
    base = os.path.dirname(module.__file__)
    patterns = (
        os.path.join(base, os.pardir, f"{package}.libs", "*openblas*"),
        os.path.join(base, ".dylibs", "*openblas*"),
    )
    for path in sorted(p for pattern in patterns for p in glob.glob(pattern)):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_", ""):
            for suffix in ("64_", ""):
                if hasattr(lib, f"{prefix}openblas_get_num_threads{suffix}"):
                    return lib, prefix, suffix
    return None


def openblas_config(package: str) -> str:
    """OpenBLAS's build line and selected kernel for ``package``'s bundled OpenBLAS
    (e.g. ``"OpenBLAS 0.3.31 ... SkylakeX MAX_THREADS=64 (SkylakeX)"``), or ``"none"``.

    >>> isinstance(openblas_config("numpy"), str)
    True
    """
    found = openblas_library(package)
    if found is None:
        return "none"
    lib, prefix, suffix = found
    config = getattr(lib, f"{prefix}openblas_get_config{suffix}")
    corename = getattr(lib, f"{prefix}openblas_get_corename{suffix}")
    config.restype = corename.restype = ctypes.c_char_p
    return f"{config().decode()} ({corename().decode()})"


def _numpy_gemm_addresses() -> dict[types.Float, int] | None:
    """Addresses of NumPy's ILP64 ``cblas_sgemm`` / ``cblas_dgemm``, or None."""
    found = openblas_library("numpy")
    if found is None or found[2] != "64_":
        return None  # no bundled OpenBLAS, or an LP64 one (not the signature we declare)
    lib, prefix, suffix = found
    try:
        funcs = {t: getattr(lib, f"{prefix}cblas_{c}gemm{suffix}") for t, c in _BLAS_CHARS}
    except AttributeError:
        return None
    return {t: ctypes.cast(f, ctypes.c_void_p).value for t, f in funcs.items()}


def _np_dot_gemm(real: types.Float):
    """The fallback ``cblas_?gemm`` for ``real``: C = A op(B) through Numba's ``np.dot`` (SciPy's
    BLAS), for the calls :func:`gemm_nt` and :func:`gemm_nn` make (row-major, A not transposed,
    leading dimensions equal to the row lengths, alpha = 1, beta = 0)."""

    def gemm(order, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
        A = carray(a, (m, k))
        C = carray(c, (m, n))
        if transb == _TRANS:
            np.dot(A, carray(b, (n, k)).T, C)
        else:
            np.dot(A, carray(b, (k, n)), C)

    return cfunc(_gemm_signature(real), cache=True)(gemm)


def _bind_symbols() -> str:
    """Bind the kernels' external gemm names; return the package whose BLAS now serves them."""
    choice = os.environ.get(BLAS_ENV, "numpy").strip().lower() or "numpy"
    if choice not in _CHOICES:
        raise ValueError(f"environment variable {BLAS_ENV}={choice!r}: expected one of {_CHOICES}")
    addresses = _numpy_gemm_addresses() if choice == "numpy" else None
    package = "numpy" if addresses is not None else "scipy"
    if addresses is None:
        addresses = {}
        for real, _ in _BLAS_CHARS:
            adapter = _np_dot_gemm(real)
            _FALLBACKS.append(adapter)  # kept alive: the kernels call its machine code
            addresses[real] = adapter.address
    for real, name in _SYMBOLS.items():
        binding.add_symbol(name, addresses[real])
    return package


_FALLBACKS: list = []
#: ``"numpy"`` or ``"scipy"``: the package whose OpenBLAS runs :func:`gemm_nt` and :func:`gemm_nn`.
BLAS_PACKAGE = _bind_symbols()


@intrinsic
def _gemm(typingctx, transb, m, n, k, A, lda, B, ldb, C, ldc):
    """C = A op(B) (op(B) = B^T when ``transb`` is 112, else B) on C-contiguous 2-D arrays of
    one float dtype, by a call of the external ``diffmem_theory_?gemm`` (row-major, alpha 1,
    beta 0); the dimensions and leading dimensions are the caller's to check."""
    arrays = (A, B, C)
    if not all(isinstance(a, types.Array) and a.ndim == 2 and a.layout == "C" for a in arrays):
        return None
    if not (A.dtype == B.dtype == C.dtype and A.dtype in _SYMBOLS):
        return None
    real = A.dtype
    i64 = types.int64
    sig = types.none(i64, i64, i64, i64, A, i64, B, i64, C, i64)

    def codegen(context, builder, signature, args):
        transb_v, m_v, n_v, k_v, a_v, lda_v, b_v, ldb_v, c_v, ldc_v = args
        lreal = context.get_value_type(real)
        i32t = ir.IntType(32)
        c_args = [context.get_value_type(t) for t in _gemm_signature(real).args]
        fnty = ir.FunctionType(ir.VoidType(), c_args)
        fn = cgutils.get_or_insert_function(builder.module, fnty, _SYMBOLS[real])

        def data(ty, value):
            return context.make_array(ty)(context, builder, value).data

        builder.call(
            fn,
            [
                ir.Constant(i32t, _ROW_MAJOR),
                ir.Constant(i32t, _NO_TRANS),
                builder.trunc(transb_v, i32t),
                m_v,
                n_v,
                k_v,
                ir.Constant(lreal, 1.0),
                data(A, a_v),
                lda_v,
                data(B, b_v),
                ldb_v,
                ir.Constant(lreal, 0.0),
                data(C, c_v),
                ldc_v,
            ],
        )
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True)
def gemm_nt(A, B, C):
    """C = A @ B.T for C-contiguous A (m, k), B (n, k), C (m, n) of one dtype (float32 or
    float64), single-threaded when :data:`BLAS_PACKAGE`'s OpenBLAS is pinned to one thread.

    >>> A = np.arange(6.0).reshape(2, 3); B = np.ones((4, 3)); C = np.empty((2, 4))
    >>> gemm_nt(A, B, C); C.tolist()
    [[3.0, 3.0, 3.0, 3.0], [12.0, 12.0, 12.0, 12.0]]
    """
    m, k = A.shape
    n = B.shape[0]
    if B.shape[1] != k or C.shape[0] != m or C.shape[1] != n:
        raise ValueError("gemm_nt: shapes of A (m, k), B (n, k) and C (m, n) do not match")
    _gemm(_TRANS, m, n, k, A, max(1, k), B, max(1, k), C, max(1, n))


@njit(cache=True)
def gemm_nn(A, B, C):
    """C = A @ B for C-contiguous A (m, k), B (k, n), C (m, n) of one dtype (float32 or
    float64), single-threaded when :data:`BLAS_PACKAGE`'s OpenBLAS is pinned to one thread.

    >>> A = np.arange(6.0).reshape(2, 3); B = np.ones((3, 4)); C = np.empty((2, 4))
    >>> gemm_nn(A, B, C); C.tolist()
    [[3.0, 3.0, 3.0, 3.0], [12.0, 12.0, 12.0, 12.0]]
    """
    m, k = A.shape
    n = B.shape[1]
    if B.shape[0] != k or C.shape[0] != m or C.shape[1] != n:
        raise ValueError("gemm_nn: shapes of A (m, k), B (k, n) and C (m, n) do not match")
    _gemm(_NO_TRANS, m, n, k, A, max(1, k), B, max(1, n), C, max(1, n))


@cache
def _openblas_threads_api(package: str = "scipy"):
    """``(get, set)`` for the thread count of the OpenBLAS bundled with ``package``, or ``None``.

    ``"scipy"``: the BLAS that Numba's ``np.dot`` calls through ``scipy.linalg.cython_blas``;
    ``"numpy"``: the BLAS behind NumPy's ``@`` (and :func:`gemm_nt` / :func:`gemm_nn` when
    :data:`BLAS_PACKAGE` is ``"numpy"``).
    """
    found = openblas_library(package)
    if found is None:
        return None
    lib, prefix, suffix = found
    getter = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}")
    setter = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}", None)
    if setter is None:
        return None
    getter.restype = ctypes.c_int
    setter.argtypes = [ctypes.c_int]
    return getter, setter


_BLAS_LOCK = threading.Lock()
_blas_state: dict[str, dict[str, int]] = {}


@contextmanager
def single_threaded_blas(package: str = "scipy") -> Iterator[bool]:
    """Pin ``package``'s OpenBLAS to one thread inside the block; yields whether it could.

    The kernels parallelize over blocks themselves; a multi-threaded BLAS called from every
    thread would oversubscribe the cores. Concurrent and nested uses are counted, so the
    original thread count is restored by the last one out. ``package`` is ``"scipy"`` (the BLAS
    of Numba's ``np.dot``) or ``"numpy"`` (NumPy's ``@``); :data:`BLAS_PACKAGE` is the one
    behind :func:`gemm_nt` and :func:`gemm_nn`.

    >>> with single_threaded_blas() as pinned:
    ...     pass
    """
    api = _openblas_threads_api(package)
    if api is None:
        yield False
        return
    getter, setter = api
    with _BLAS_LOCK:
        state = _blas_state.setdefault(package, {"users": 0, "saved": 1})
        if state["users"] == 0:
            state["saved"] = getter()
            setter(1)
        state["users"] += 1
    try:
        yield True
    finally:
        with _BLAS_LOCK:
            state["users"] -= 1
            if state["users"] == 0:
                setter(state["saved"])
