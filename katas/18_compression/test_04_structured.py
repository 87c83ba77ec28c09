"""Step 4: structured — remove whole hidden units: smaller arrays, the kept units unchanged."""

import numpy as np

from dojo.testing import assert_close, raises
from tinytorch import rng
from tinytorch.activations import ReLU, Softmax, Tanh
from tinytorch.compression import Pruned, linear_from_arrays, magnitude_mask, prune_hidden_units, prune_neurons
from tinytorch.layers import Linear, Sequential
from tinytorch.tensor import Tensor

X = np.random.default_rng(5).normal(size=(6, 8))


def pair(seed=0):
    """Linear(8, 10) and Linear(10, 3) in float64, with rows of clearly different norms."""
    g = np.random.default_rng(seed)
    w1 = g.normal(size=(10, 8)) * g.uniform(0.1, 2.0, size=(10, 1))
    return linear_from_arrays(w1, g.normal(size=10)), linear_from_arrays(g.normal(size=(3, 10)), g.normal(size=3))


def test_prune_neurons_shrinks_both_layers():
    """Pruning 40% of 10 hidden units: first (8 -> 6), second (6 -> 3), bias 6; the inputs are left unchanged.

    Hint: a hidden unit j is row j (and bias j) of first and column j of second: build new layers with
    linear_from_arrays(first.weight.data[kept], first.bias.data[kept]) and
    linear_from_arrays(second.weight.data[:, kept], second.bias.data); never modify the inputs.
    """
    first, second = pair()
    w1, w2 = first.weight.data.copy(), second.weight.data.copy()
    new_first, new_second, kept = prune_neurons(first, second, 0.4)
    assert new_first.weight.shape == (6, 8) and new_first.bias.shape == (6,), \
        f"first: weight {new_first.weight.shape}, bias {new_first.bias.shape}; expected (6, 8) and (6,)"
    assert new_second.weight.shape == (3, 6) and new_second.bias.shape == (3,), \
        f"second: weight {new_second.weight.shape}; expected (3, 6)"
    assert (new_first.in_features, new_first.out_features, new_second.in_features) == (8, 6, 6)
    assert_close(first.weight, w1, rtol=0, atol=0, what="the original first layer")
    assert_close(second.weight, w2, rtol=0, atol=0, what="the original second layer")
    assert list(kept) == sorted(kept) and len(kept) == 6, f"kept = {kept}: 6 unit indices in increasing order"


def test_the_units_with_the_largest_row_norms_stay():
    """kept are the 6 rows of first.weight with the largest L2 norm (norm=1: the largest sums of |w|).

    Hint: score each ROW of first.weight (axis=1): L2 = np.sqrt((w ** 2).sum(axis=1)), L1 =
    np.abs(w).sum(axis=1); keep the highest scores and return kept sorted increasingly.
    """
    first, second = pair(seed=1)
    w = first.weight.data
    _, _, kept = prune_neurons(first, second, 0.4)
    assert list(kept) == sorted(np.argsort(-np.linalg.norm(w, axis=1))[:6]), f"kept {list(kept)} (L2)"
    _, _, kept1 = prune_neurons(first, second, 0.4, norm=1)
    assert list(kept1) == sorted(np.argsort(-np.abs(w).sum(axis=1))[:6]), f"kept {list(kept1)} (L1)"


def test_l1_and_l2_can_choose_differently():
    """Row [1, 1, 1, 1] has L1 4 and L2 2; row [2.5, 0, 0, 0] has L1 2.5 and L2 2.5: each norm keeps another row.

    Hint: honour the norm argument: norm=1 sums |w| per row, norm=2 takes the Euclidean norm; here they
    disagree on purpose.
    """
    first = linear_from_arrays(np.array([[1.0, 1.0, 1.0, 1.0], [2.5, 0.0, 0.0, 0.0]]), np.zeros(2))
    second = linear_from_arrays(np.ones((1, 2)))
    assert list(prune_neurons(first, second, 0.5, norm=1)[2]) == [0]
    assert list(prune_neurons(first, second, 0.5, norm=2)[2]) == [1]


def test_kept_units_compute_exactly_what_they_did():
    """new_first(x) == first(x)[:, kept]; and second(relu(first(x))) with the pruned units' columns zeroed
    equals new_second(relu(new_first(x))): removing a unit only removes its contribution.

    Hint: index rows of first AND the matching entries of its bias with the same sorted kept indices, and the
    columns of second with them too, so each kept unit keeps its weights and position.
    """
    first, second = pair(seed=2)
    new_first, new_second, kept = prune_neurons(first, second, 0.5)
    x = Tensor(X)
    assert_close(new_first(x), first(x).data[:, kept], rtol=1e-12, atol=1e-12, what="outputs of the kept units")
    w2 = second.weight.data.copy()
    w2[:, np.setdiff1d(np.arange(10), kept)] = 0
    expected = np.maximum(first(x).data, 0) @ w2.T + second.bias.data
    assert_close(new_second(ReLU()(new_first(x))), expected, rtol=1e-12, atol=1e-12, what="output of the pruned pair")


def reference_mlp_output(model, amount, x):
    """The original MLP with the columns that read each pruned unit zeroed (units scored by L2 row norm,
    layer after layer, each layer's rows restricted to the units kept before it)."""
    weights = [m.weight.data.copy() for m in model if isinstance(m, Linear)]
    biases = [m.bias.data for m in model if isinstance(m, Linear)]
    alive = np.arange(weights[0].shape[1])
    for i in range(len(weights) - 1):
        n = weights[i].shape[0]
        scores = np.linalg.norm(weights[i][:, alive], axis=1)
        kept = np.sort(np.argsort(-scores, kind="stable")[: n - round(amount * n)])
        weights[i + 1][:, np.setdiff1d(np.arange(n), kept)] = 0
        alive = kept
    h = x
    for i, (w, b) in enumerate(zip(weights, biases)):
        h = h @ w.T + b
        if i < len(weights) - 1:
            h = np.tanh(h)
    return h


def test_prune_hidden_units_shrinks_every_hidden_layer():
    """An MLP 8-16-12-3 with Tanh at 50%: Linears (8->8), (8->6), (6->3); outputs equal the original with the
    pruned units cut; the original model is not modified; the output layer keeps its 3 classes.

    Hint: prune_hidden_units works on list(model): for each pair of consecutive Linears (in order) call
    prune_neurons and put both new layers back, so the next pair scores the already-pruned layer; return a new
    Sequential and leave model unchanged.
    """
    rng.manual_seed(6)
    model = Sequential(Linear(8, 16), Tanh(), Linear(16, 12), Tanh(), Linear(12, 3))
    for layer in model:
        if isinstance(layer, Linear):
            layer.weight.data *= np.random.default_rng(7).uniform(0.2, 2.0, size=(layer.out_features, 1)).astype(np.float32)
    before = [layer.weight.shape for layer in model if isinstance(layer, Linear)]
    small = prune_hidden_units(model, 0.5)
    shapes = [layer.weight.shape for layer in small if isinstance(layer, Linear)]
    assert shapes == [(8, 8), (6, 8), (3, 6)], f"Linear weight shapes {shapes}"
    assert [type(layer).__name__ for layer in small] == ["Linear", "Tanh", "Linear", "Tanh", "Linear"]
    assert [layer.weight.shape for layer in model if isinstance(layer, Linear)] == before, "the original model changed"
    x = X.astype(np.float32)
    assert_close(small(Tensor(x)), reference_mlp_output(model, 0.5, x.astype(np.float64)), atol=1e-5,
                 what="output of the structurally pruned MLP")


def test_amount_zero_changes_nothing():
    """prune_hidden_units(model, 0): the same shapes and the same outputs.

    Hint: amount 0 keeps n - _prune_count(0, n) = n units: kept is every index, and the new layers are copies
    with the same values.
    """
    rng.manual_seed(8)
    model = Sequential(Linear(8, 5), ReLU(), Linear(5, 2))
    same = prune_hidden_units(model, 0.0)
    assert [m.weight.shape for m in same if isinstance(m, Linear)] == [(5, 8), (2, 5)]
    assert_close(same(Tensor(X.astype(np.float32))), model(Tensor(X.astype(np.float32))), what="output at amount 0")


def test_what_cannot_be_pruned_is_refused():
    """Softmax between Linears mixes units (ValueError); a Pruned layer must be removed first (TypeError);
    removing every unit is a ValueError.

    Hint: check before pruning: ValueError if an item between two Linears is not elementwise
    (_is_elementwise), TypeError if a Pruned is in the model, and in prune_neurons ValueError when no unit
    would remain.
    """
    rng.manual_seed(9)
    with raises(ValueError):
        prune_hidden_units(Sequential(Linear(4, 6), Softmax(), Linear(6, 2)), 0.5)
    layer = Linear(4, 6)
    with raises(TypeError):
        prune_hidden_units(Sequential(Pruned(layer, magnitude_mask(layer.weight, 0.5)), ReLU(), Linear(6, 2)), 0.5)
    with raises(ValueError):
        prune_neurons(Linear(4, 6), Linear(6, 2), 1.0)
