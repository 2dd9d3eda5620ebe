"""The kernels' matrix products (``kernels._blas``): NumPy's bundled OpenBLAS called by name
from Numba, the ``np.dot`` fallback, and Numba's on-disk cache across both."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from numba.core.errors import TypingError

from diffmem_theory.kernels import _blas

SHAPES = [(1, 1, 1), (7, 3, 5), (33, 65, 129), (128, 1024, 300)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("m", "n", "k"), SHAPES)
def test_gemm_matches_numpy(dtype, m, n, k):
    """C = A B^T and C = A B against NumPy's matmul within the rounding of a k-term sum."""
    rng = np.random.default_rng(m * n * k)
    A = rng.normal(size=(m, k)).astype(dtype)
    Bt, B = rng.normal(size=(n, k)).astype(dtype), rng.normal(size=(k, n)).astype(dtype)
    eps = np.finfo(dtype).eps
    for gemm, other in ((_blas.gemm_nt, Bt), (_blas.gemm_nn, B)):
        C = np.full((m, n), np.nan, dtype)
        gemm(A, other, C)
        ref = A.astype(np.float64) @ (Bt.T if gemm is _blas.gemm_nt else B).astype(np.float64)
        bound = np.abs(A).astype(np.float64) @ np.abs(Bt.T if gemm is _blas.gemm_nt else B)
        assert C.dtype == dtype
        np.testing.assert_array_less(np.abs(C - ref), 2 * (k + 2) * eps * bound + 1e-300)


def test_gemm_rejects_mismatched_shapes_and_other_layouts():
    A, B, C = np.ones((4, 3)), np.ones((5, 3)), np.empty((4, 5))
    with pytest.raises(ValueError, match="gemm_nn: shapes"):
        _blas.gemm_nn(A, B, C)
    with pytest.raises(ValueError, match="gemm_nt: shapes"):
        _blas.gemm_nt(A, B, C[:, :4].copy())
    with pytest.raises(TypingError):  # a strided operand is refused when compiling
        _blas.gemm_nt(A, B.T.copy().T, C)
    with pytest.raises(TypingError):  # so is a mix of dtypes
        _blas.gemm_nt(A, B.astype(np.float32), C)


def test_numpy_openblas_serves_the_products_when_numpy_bundles_one():
    found = _blas.openblas_library("numpy")
    if os.environ.get(_blas.BLAS_ENV, "numpy") != "numpy" or found is None or found[2] != "64_":
        pytest.skip("NumPy bundles no ILP64 OpenBLAS here (or the fallback is forced)")
    assert _blas.BLAS_PACKAGE == "numpy"
    assert _blas.openblas_config("numpy").startswith("OpenBLAS")


def test_a_bad_choice_in_the_environment_is_refused():
    env = {**os.environ, _blas.BLAS_ENV: "mkl"}
    cmd = [sys.executable, "-c", "import diffmem_theory.kernels._blas"]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "ValueError: environment variable DIFFMEM_THEORY_BLAS='mkl'" in result.stderr
    assert "expected one of ('numpy', 'scipy')" in result.stderr


CACHE_SCRIPT = """
import numpy as np
from diffmem_theory.kernels import _blas, softmax_weighted_sum
rng = np.random.default_rng(4)
for dtype in (np.float32, np.float64):
    x, c = rng.normal(size=(300, 40)).astype(dtype), rng.normal(size=(2000, 40)).astype(dtype)
    out = softmax_weighted_sum(x, c, scale=0.9, var=0.5)
    assert np.all(np.isfinite(out))
print("package", _blas.BLAS_PACKAGE)
"""


def _run_cached(choice: str) -> str:
    env = {**os.environ, _blas.BLAS_ENV: choice, "NUMBA_DEBUG_CACHE": "1"}
    cmd = [sys.executable, "-c", CACHE_SCRIPT]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout


def test_a_fresh_process_loads_the_kernel_from_the_cache_with_either_blas():
    """The compiled kernel names its BLAS functions, it holds no address: a second process, and
    a process that binds the names to the np.dot fallback, load it from Numba's cache."""
    _run_cached("numpy")  # compiles (and saves) whatever is not cached yet
    for choice in ("numpy", "scipy"):
        log = _run_cached(choice)
        kernel = [line for line in log.splitlines() if "_numba.softmax_weighted_sum_numba" in line]
        assert any("data loaded" in line for line in kernel), log
        saved = [
            line for line in log.splitlines() if "saved" in line and "_np_dot_gemm" not in line
        ]
        assert not saved, saved
        found = choice == "numpy" and _blas._numpy_gemm_addresses() is not None
        expected = "numpy" if found else "scipy"
        assert f"package {expected}" in log
