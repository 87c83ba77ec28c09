"""Step 3: sequential — Sequential applies its items in order, holds any callable, and names parameters like PyTorch."""

import numpy as np
import pytest

from dojo.testing import assert_close
from tinytorch import rng
from tinytorch.activations import ReLU
from tinytorch.layers import Linear, Module, Sequential
from tinytorch.tensor import Tensor


def make_mlp():
    rng.manual_seed(0)
    return Sequential(Linear(3, 4), ReLU(), Linear(4, 2))


def test_sequential_applies_items_in_order():
    """Sequential(a, relu, b)(x) equals b(relu(a(x))): each output feeds the next item."""
    model = make_mlp()
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    first, second = model[0], model[2]
    hidden = np.maximum(x @ first.weight.data.T + first.bias.data, 0)
    expected = hidden @ second.weight.data.T + second.bias.data
    assert_close(model(Tensor(x)), expected, what="Sequential(Linear, ReLU, Linear)(x)")


def test_sequential_order_matters():
    """Items run first to last, not last to first: Sequential(add 1, times 10)(2) is 30."""
    model = Sequential(lambda t: t + 1.0, lambda t: t * 10.0)
    assert_close(model(Tensor([2.0])), [30.0], what="Sequential(+1, *10)(2)")


def test_sequential_len_and_indexing():
    """len(seq) counts the items; seq[0], seq[2] and seq[-1] return the items themselves."""
    model = make_mlp()
    assert len(model) == 3
    assert isinstance(model[0], Linear) and isinstance(model[1], ReLU)
    assert model[-1] is model[2]
    with pytest.raises(IndexError):
        model[3]


def test_sequential_parameter_names_follow_pytorch():
    """Parameters of Sequential(Linear, ReLU, Linear) are '0.weight', '0.bias', '2.weight', '2.bias', in order."""
    model = make_mlp()
    named = model.named_parameters()
    assert [name for name, _ in named] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert named[2][1] is model[2].weight


def test_sequential_inside_a_module():
    """A Sequential held by a module's attribute gets that prefix: 'body.0.weight'."""

    class Net(Module):
        def __init__(self):
            super().__init__()
            self.body = Sequential(Linear(2, 2), ReLU())
            self.head = Linear(2, 1)

        def forward(self, x):
            return self.head(self.body(x))

    names = [name for name, _ in Net().named_parameters()]
    assert names == ["body.0.weight", "body.0.bias", "head.weight", "head.bias"], f"got {names}"


class Identity(Module):
    def forward(self, x):
        return x


def test_eval_reaches_layers_inside_a_sequential():
    """model.eval() switches the modules inside a Sequential (e.g. a Dropout) to eval mode too; train() switches them back."""
    model = Sequential(Linear(2, 2), ReLU(), Identity())
    model.eval()
    assert model[0].training is False and model[2].training is False
    model.train()
    assert model[0].training is True and model[2].training is True


def test_empty_sequential_is_the_identity():
    """Sequential() with no items returns its input unchanged and has no parameters."""
    x = Tensor([1.0, -2.0])
    model = Sequential()
    assert_close(model(x), [1.0, -2.0], what="Sequential()(x)")
    assert len(model) == 0 and model.parameters() == []


def test_sequential_rejects_items_that_are_not_callable():
    """Sequential(Linear(2, 2), 3) raises TypeError: 3 cannot be applied to a tensor."""
    with pytest.raises(TypeError):
        Sequential(Linear(2, 2), 3)
