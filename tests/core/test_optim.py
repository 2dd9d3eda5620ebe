"""Adam and the EMA (paper 000, App. H.1): bad arguments are refused with a clear message."""

import numpy as np
import pytest

from diffmem_theory.core.optim import Adam, AdamState, WarmupDecay, ema_update


@pytest.mark.parametrize("bad", [1.5, None, "x", np.array([1j]), np.array([np.nan])])
@pytest.mark.parametrize("which", ["params", "grad"])
def test_step_refuses_bad_arrays(which, bad):
    opt = Adam(WarmupDecay(n_steps=10))
    args = {"params": np.ones(1), "grad": np.ones(1)}
    args[which] = bad
    with pytest.raises((ValueError, TypeError), match=which):
        opt.step(args["params"], args["grad"], opt.init(np.ones(1)))


def test_step_refuses_a_state_that_is_not_adam_state():
    opt = Adam(lambda k: 0.1)
    with pytest.raises(TypeError, match="state must be an AdamState"):
        opt.step(np.ones(2), np.ones(2), 3.0)
    with pytest.raises(ValueError, match=r"state.m"):
        opt.step(np.ones(2), np.ones(2), opt.init(np.ones(3)))


def test_a_gradient_whose_square_overflows_is_refused():
    opt = Adam(lambda k: 0.1)
    x = np.ones(1)
    with pytest.raises(ValueError, match="rescale the loss"):
        opt.step(x, np.array([1e300]), opt.init(x))
    new, state = opt.step(x, np.array([1e150]), opt.init(x))  # the largest allowed: finite
    assert np.all(np.isfinite(new)) and np.all(np.isfinite(state.v))


def test_state_fields_and_checkpoint_round_trip():
    with pytest.raises(ValueError, match=r"AdamState.v has shape"):
        AdamState(np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match=">= 0"):
        AdamState(np.zeros(1), -np.ones(1))
    with pytest.raises(ValueError, match=r"AdamState\.count"):
        AdamState(np.zeros(1), np.zeros(1), -1)
    with pytest.raises(ValueError, match="lacks"):
        AdamState.from_arrays({"adam_m": np.zeros(1)})
    state = AdamState(np.arange(3.0), np.ones(3), 7)
    again = AdamState.from_arrays(state.to_arrays())
    assert again.count == 7 and np.array_equal(again.m, state.m)


def test_constructor_and_ema_refuse_bad_arguments():
    """Validated at the boundary (was a TypeError deep in step, or a silent broadcast)."""
    with pytest.raises(TypeError, match="lr must be a learning-rate schedule"):
        Adam(3)
    for name, kwargs in (("b1", {"b1": 1.0}), ("b2", {"b2": -0.1}), ("eps", {"eps": 0.0})):
        with pytest.raises(ValueError, match=name):
            Adam(lambda k: 0.1, **kwargs)
    with pytest.raises(ValueError, match="params has shape"):
        ema_update(np.zeros(2), np.ones(3), 0.9)
    with pytest.raises(ValueError, match="average"):
        ema_update([np.nan], [1.0], 0.9)
