"""The shared input-validation helpers: clear ValueErrors naming the argument."""

from __future__ import annotations

import numpy as np
import pytest

from diffmem_theory._validation import (
    as_float_array,
    as_rng,
    check_choice,
    check_dtype,
    check_int,
    check_positive,
    check_scalar,
)


def test_as_float_array_converts_and_keeps_dtypes():
    assert as_float_array([1, 2], "x").dtype == np.float64
    assert as_float_array(np.ones(2, np.float32), "x").dtype == np.float32
    assert as_float_array(np.ones(2, np.float32), "x", dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize(
    ("value", "kwargs", "match"),
    [
        (np.array([1 + 2j]), {}, "x must be a real floating-point array"),
        (np.array(["a"]), {}, "x must be a real"),
        (np.array([np.nan]), {}, "x must be finite"),
        (np.array([np.inf]), {}, "x must be finite"),
        (np.ones((2, 2)), {"ndim": 1}, "x must have 1 dimension"),
        (np.ones(2), {"dtype": np.int32}, "dtype must be float32 or float64"),
    ],
)
def test_as_float_array_rejects(value, kwargs, match):
    with pytest.raises(ValueError, match=match):
        as_float_array(value, "x", **kwargs)


def test_scalar_int_positive_choice_dtype_rng():
    assert check_scalar(0.5, "t", low=0, high=1, low_open=True) == 0.5
    with pytest.raises(ValueError, match="t must be > 0"):
        check_scalar(0.0, "t", low=0, low_open=True)
    with pytest.raises(ValueError, match="t must be <= 1"):
        check_scalar(2.0, "t", high=1)
    with pytest.raises(ValueError, match="t must be a real scalar"):
        check_scalar(np.ones(2), "t")
    assert check_int(np.int64(3), "M", low=1) == 3
    for bad in (True, 2.5, "3"):
        with pytest.raises(ValueError, match="M must be an integer"):
            check_int(bad, "M")
    with pytest.raises(ValueError, match="M must be <= 5"):
        check_int(6, "M", high=5)
    with pytest.raises(ValueError, match="var must be > 0"):
        check_positive([1.0, 0.0], "var")
    assert check_positive(0.0, "var", allow_zero=True) == 0.0
    with pytest.raises(ValueError, match="backend must be one of"):
        check_choice("tpu", "backend", ("numba", "numpy"))
    assert check_dtype("float32") == np.float32
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        check_dtype("int8")
    assert isinstance(as_rng(3), np.random.Generator)
    with pytest.raises(TypeError, match="rng must be"):
        as_rng(1.5)


# --- helpers added for issue 14 ------------------------------------------------------------------


def test_check_covariance():
    from diffmem_theory._validation import check_covariance

    S, w = check_covariance([[2.0, 1.0], [1.0, 2.0]], "S")
    assert S.tolist() == [[2.0, 1.0], [1.0, 2.0]] and np.allclose(w, [1.0, 3.0])
    check_covariance(np.zeros((2, 2)), "S")  # singular is PSD
    with pytest.raises(ValueError, match="S must be symmetric positive definite"):
        check_covariance(np.zeros((2, 2)), "S", definite=True)
    with pytest.raises(ValueError, match=r"S must be symmetric positive semi-definite.*-1"):
        check_covariance(-np.eye(2), "S")
    with pytest.raises(ValueError, match=r"S must be symmetric, got max \|S - S\^T\|"):
        check_covariance([[1.0, 0.5], [0.0, 1.0]], "S")
    with pytest.raises(ValueError, match="non-empty square"):
        check_covariance(np.ones((2, 3)), "S")
    with pytest.raises(ValueError, match=r"\(matrix 1\)"):
        check_covariance(np.stack([np.eye(2), -np.eye(2)]), "S", stacked=True)
    big = np.full((2, 2), 1e308)  # no overflow in S + S^T
    assert np.all(np.isfinite(check_covariance(big, "S")[0]))


def test_check_allocation_finite_result_dps_bool_callable():
    from diffmem_theory import _validation as v

    assert v.check_allocation(10, "x") == 10
    with pytest.raises(ValueError, match=r"x needs .* GiB"):
        v.check_allocation(2**62, "x")
    assert v.finite_result(1.0, "y") == 1.0
    with pytest.raises(ValueError, match="y is outside the float64 range"):
        v.finite_result([1.0, np.inf], "y")
    assert v.check_dps(30) == 30
    for bad in (4, 10**6, 30.0):
        with pytest.raises(ValueError, match="dps"):
            v.check_dps(bad)
    assert v.check_bool(np.True_, "f") is True
    with pytest.raises(ValueError, match="f must be True or False"):
        v.check_bool("yes", "f")
    with pytest.raises(TypeError, match="g must be a callable"):
        v.check_callable(3, "g", "a callable g(t)")
    with pytest.warns(v.OutOfRangeWarning, match="outside"):
        v.warn_out_of_range("outside", stacklevel=2)
    assert issubclass(v.OutOfRangeWarning, UserWarning)


def test_notebook_table_and_plotting_figure_validate_their_arguments():
    # issue 14 fuzzing: IndexError from table, MemoryError/OverflowError from figure
    from diffmem_theory.notebook import table
    from diffmem_theory.plotting import figure

    with pytest.raises(TypeError, match="headers"):
        table([1.0, "a", None], [(1, 2, 3)])
    with pytest.raises(TypeError, match="headers"):
        table("ab", [(1, 2)])
    with pytest.raises(ValueError, match="rows"):
        table(["a", "b"], "nope")
    with pytest.raises(ValueError, match="rows"):
        table(["a", "b"], [(1,)])
    for bad in (2**62, 2**64):
        with pytest.raises(ValueError, match="ncols"):
            figure(ncols=bad)
        with pytest.raises(ValueError, match="nrows"):
            figure(nrows=bad)
    with pytest.raises(ValueError, match="aspect"):
        figure(aspect=float("nan"))


def test_show_errata_needs_check_results():
    from diffmem_theory.notebook import show_errata

    with pytest.raises(TypeError, match="CheckResult"):  # AttributeError before
        show_errata(np.full((2, 3), 0.5))
    with pytest.raises(TypeError, match="CheckResult"):
        show_errata(1.5)
