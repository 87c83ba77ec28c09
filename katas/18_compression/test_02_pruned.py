"""Step 2: pruned — a Linear times a persistent mask: zero gradients, zeros that survive the optimizer, remove()."""

import numpy as np
import pytest

from dojo.testing import assert_close, raises
from tinytorch import rng
from tinytorch.activations import ReLU
from tinytorch.compression import Pruned, magnitude_mask
from tinytorch.layers import Linear, Sequential
from tinytorch.losses import cross_entropy
from tinytorch.optim import SGD, Adam
from tinytorch.tensor import Tensor


def layer_and_mask(seed=0, amount=0.5):
    rng.manual_seed(seed)
    layer = Linear(5, 4)
    return layer, magnitude_mask(layer.weight.data, amount)


def batch(seed=1, n=8, d=5, classes=3):
    g = np.random.default_rng(seed)
    return Tensor(g.normal(size=(n, d)).astype(np.float32)), Tensor(g.integers(0, classes, n))


def test_forward_uses_the_masked_weight():
    """Pruned(linear, mask)(x) == x @ (W * mask).T + b, and .weight is W * mask with zeros where the mask is False.

    Hint: the weight property returns self.linear.weight * self.mask (a recorded Tensor op), and forward
    computes x @ self.weight.T plus self.linear.bias when there is one.
    """
    layer, mask = layer_and_mask()
    w, b = layer.weight.data.copy(), layer.bias.data.copy()
    pruned = Pruned(layer, mask)
    x, _ = batch()
    assert_close(pruned(x), x.data @ (w * mask).T + b, what="Pruned forward")
    assert_close(pruned.weight, w * mask, what="Pruned.weight")
    assert (pruned.weight.data[~mask] == 0).all(), "a pruned entry of .weight is not zero"


def test_wrapping_keeps_the_original_weight():
    """Like PyTorch's weight_orig: the Linear inside is the same object and its weight values are untouched.

    Hint: store the Linear itself as self.linear (no copy, no zeros written into it) and the mask as a plain
    bool np.ndarray (np.array(mask, dtype=bool)), not a Parameter, so named_parameters lists only
    linear.weight and linear.bias.
    """
    layer, mask = layer_and_mask()
    before = layer.weight.data.copy()
    pruned = Pruned(layer, mask)
    assert pruned.linear is layer, "Pruned must hold the Linear itself (self.linear), not a copy"
    assert_close(layer.weight, before, atol=0, rtol=0, what="the original weight after wrapping")
    names = [name for name, _ in pruned.named_parameters()]
    assert names == ["linear.weight", "linear.bias"], f"parameters {names}: the mask must not be a Parameter"


def test_pruned_entries_get_exactly_zero_gradient():
    """After backward, weight_orig's gradient is 0 at every pruned entry and equals the dense gradient elsewhere.

    Hint: the forward must multiply the Parameter by the mask inside the graph (self.linear.weight *
    self.mask); building the weight from .data, or a new Tensor, cuts the gradient or lets pruned entries get
    one.
    """
    layer, mask = layer_and_mask(amount=0.6)
    w = layer.weight.data.copy()
    pruned = Pruned(layer, mask)
    x, _ = batch()
    upstream = np.random.default_rng(2).normal(size=(8, 4)).astype(np.float32)
    pruned(x).backward(upstream)
    grad = layer.weight.grad
    assert grad is not None, "no gradient reached the Linear's weight"
    assert (grad[~mask] == 0).all(), f"pruned entries got gradient {grad[~mask]}"
    assert_close(grad, (upstream.T @ x.data) * mask, atol=1e-5, what="weight gradient")
    assert_close(layer.bias.grad, upstream.sum(axis=0), atol=1e-5, what="bias gradient")
    assert not np.allclose(w * mask, w), "vacuous: nothing was pruned"


@pytest.mark.parametrize("make_optimizer", [
    lambda params: SGD(params, lr=0.1, momentum=0.9, weight_decay=0.01),
    lambda params: Adam(params, lr=0.05),
], ids=["sgd_momentum", "adam"])
def test_zeros_survive_optimizer_steps(make_optimizer):
    """An optimizer with momentum/Adam state from dense training keeps stepping after pruning:
    the pruned weights the forward uses stay exactly zero (same count, same places) while the others train.

    Hint: never write zeros into weight_orig before remove(): momentum, Adam state and weight decay would move
    them again; recompute weight_orig * mask on every forward so the weight the model uses stays zero.
    """
    rng.manual_seed(3)
    model = Sequential(Linear(5, 6), ReLU(), Linear(6, 3))
    optimizer = make_optimizer(model.parameters())
    x, y = batch(seed=4)
    for _ in range(2):  # dense steps: the optimizer now has state for every weight
        optimizer.zero_grad()
        cross_entropy(model(x), y).backward()
        optimizer.step()
    mask = magnitude_mask(model[0].weight.data, 0.5)
    pruned = Pruned(model[0], mask)
    setattr(model, "0", pruned)  # Sequential keeps its items as attributes "0", "1", ...
    before = pruned.weight.data.copy()
    for _ in range(5):
        optimizer.zero_grad()
        cross_entropy(model(x), y).backward()
        optimizer.step()
    after = pruned.weight.data
    assert ((after == 0) == (before == 0)).all(), "the zeros moved: a pruned weight came back or a kept one died"
    assert (after == 0).sum() == 15, f"{(after == 0).sum()} zeros in the 6x5 weight after 5 steps, expected 15"
    assert not np.allclose(after[mask], before[mask]), "the kept weights did not train"
    assert_close(model(x), np.maximum(x.data @ after.T + model[0].bias.data, 0) @ model[2].weight.data.T
                 + model[2].bias.data, atol=1e-5, what="output after fine-tuning (uses the masked weight)")


def test_remove_bakes_the_zeros_in():
    """remove() returns the plain Linear with the zeros written into its weight: same outputs, no mask any more.

    Hint: remove() does self.linear.weight.data *= self.mask and returns self.linear itself (a plain Linear),
    so the outputs do not change.
    """
    layer, mask = layer_and_mask()
    pruned = Pruned(layer, mask)
    x, _ = batch()
    expected = pruned(x).data
    linear = pruned.remove()
    assert type(linear) is Linear, f"remove() returned {type(linear).__name__}, expected the Linear"
    assert (linear.weight.data[~mask] == 0).all(), "remove() did not write the zeros into the weight"
    assert_close(linear(x), expected, what="output after remove()")


def test_an_optimizer_keeps_training_the_layer_after_remove():
    """remove() changes the weight in place: an optimizer created before the pruning still updates it.

    Hint: write the zeros IN PLACE into the existing Parameter (weight.data *= mask); assigning a new
    Parameter or array to linear.weight leaves the optimizer holding the old one.
    """
    layer, mask = layer_and_mask()
    optimizer = SGD(layer.parameters(), lr=0.1)
    linear = Pruned(layer, mask).remove()
    x, _ = batch()
    before = linear.weight.data.copy()
    (linear(x) * linear(x)).sum().backward()
    optimizer.step()
    assert not np.allclose(linear.weight.data, before), "the optimizer no longer reaches the weight after remove()"


def test_bad_masks_and_layers_are_errors():
    """A mask of another shape is a ValueError; wrapping something that is not a Linear is a TypeError.

    Hint: in Pruned.__init__ raise TypeError unless linear is a Linear, and ValueError when the mask's shape
    differs from linear.weight.shape (a (5, 4) mask for a (4, 5) weight), before storing anything.
    """
    layer, _ = layer_and_mask()
    with raises(ValueError):
        Pruned(layer, np.ones((5, 4), dtype=bool))
    with raises(TypeError):
        Pruned(ReLU(), np.ones((4, 5), dtype=bool))
