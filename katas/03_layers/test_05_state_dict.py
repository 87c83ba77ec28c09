"""Step 5: state_dict — snapshot the weights and load them back, with clear errors for mismatches."""

import numpy as np
import pytest

from dojo.testing import assert_close
from tinytorch import rng
from tinytorch.activations import ReLU
from tinytorch.layers import Linear, Sequential
from tinytorch.tensor import Tensor


def make_mlp(seed):
    rng.manual_seed(seed)
    return Sequential(Linear(3, 4), ReLU(), Linear(4, 2))


def test_state_dict_maps_names_to_arrays():
    """state_dict() is {name: NumPy array} with the names of named_parameters and the parameters' values.

    Hint: state_dict() is a dict built from self.named_parameters() in that order, mapping each name to a
    NumPy array (p.data copied), not to the Parameter.
    """
    model = make_mlp(0)
    state = model.state_dict()
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    for name, p in model.named_parameters():
        assert isinstance(state[name], np.ndarray), f"state[{name!r}] is a {type(state[name]).__name__}"
        assert_close(state[name], p.data, rtol=0, atol=0, dtype=p.dtype, what=f"state[{name!r}]")


def test_state_dict_is_a_snapshot():
    """Changing the model after state_dict() does not change the snapshot (the arrays are copies).

    Hint: Copy each array (p.data.copy()): p.data itself is the live array that training changes in place.
    """
    model = make_mlp(0)
    state = model.state_dict()
    before = state["0.weight"].copy()
    model[0].weight.data += 1.0
    assert_close(state["0.weight"], before, rtol=0, atol=0, what="the snapshot after the model changed")


def test_load_state_dict_round_trip():
    """A model loaded with another model's state_dict computes exactly the same outputs.

    Hint: For every name in named_parameters() write the dict's value into that parameter (p.data[...] =
    value); check that you match values by name, not by position.
    """
    source, target = make_mlp(0), make_mlp(1)
    x = Tensor(np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32))
    target.load_state_dict(source.state_dict())
    assert_close(target(x), source(x).data, rtol=0, atol=0, what="outputs after load_state_dict")


def test_load_state_dict_copies_in_place():
    """Loading keeps each Parameter object and its array (p.data[...] = value), its dtype, and does not alias
    the dict.

    Hint: Write into the existing array, p.data[...] = value: this keeps the Parameter, its array and its
    float32 dtype, and copies the values; p.data = value replaces the array and aliases the dict.
    """
    model = make_mlp(1)
    weight, array = model[0].weight, model[0].weight.data
    state = {k: v.astype(np.float64) + 1.0 for k, v in make_mlp(0).state_dict().items()}
    model.load_state_dict(state)
    assert model[0].weight is weight and model[0].weight.data is array, "the parameter or its array was replaced"
    assert model[0].weight.dtype == np.float32
    assert_close(model[0].weight, state["0.weight"].astype(np.float32), what="loaded weight")
    state["0.weight"] += 100.0
    assert np.abs(model[0].weight.data).max() < 10, "the model changed when the loaded dict changed"


def test_load_state_dict_names_missing_and_unexpected_keys():
    """A dict without '2.bias' and with an extra 'head.weight' raises RuntimeError naming both keys.

    Hint: Compare the keys both ways: names of the model missing from the dict and dict keys the model lacks;
    put every such key in one RuntimeError message.
    """
    model = make_mlp(0)
    state = model.state_dict()
    del state["2.bias"]
    state["head.weight"] = np.zeros((1, 2), dtype=np.float32)
    with pytest.raises(RuntimeError) as error:
        model.load_state_dict(state)
    assert "2.bias" in str(error.value) and "head.weight" in str(error.value), str(error.value)


def test_load_state_dict_names_shape_mismatches_and_changes_nothing():
    """A (4, 2) array for '2.weight' (which is (2, 4)) raises RuntimeError naming the key and both shapes;
    nothing is loaded.

    Hint: Check every key and shape first (np.asarray(value).shape vs p.shape) and raise one RuntimeError
    naming the key and both shapes before writing anything: a loop that loads as it checks has already changed
    '0.weight'.
    """
    model = make_mlp(0)
    before = model.state_dict()
    state = make_mlp(1).state_dict()
    state["2.weight"] = state["2.weight"].T.copy()
    with pytest.raises(RuntimeError) as error:
        model.load_state_dict(state)
    message = str(error.value)
    assert "2.weight" in message and "(4, 2)" in message and "(2, 4)" in message, message
    assert_close(model[0].weight, before["0.weight"], rtol=0, atol=0, what="0.weight after a failed load")
