"""Step 3: prune — magnitude_prune a whole model (global or per layer) in place; remove_pruning."""

import numpy as np

from dojo.testing import assert_close, raises
from tinytorch import rng
from tinytorch.activations import ReLU
from tinytorch.compression import Pruned, magnitude_prune, remove_pruning
from tinytorch.layers import Linear, Module, ModuleList, Sequential
from tinytorch.losses import cross_entropy
from tinytorch.optim import Adam
from tinytorch.tensor import Tensor


def linears(model):
    return [layer for layer in model if isinstance(layer, (Linear, Pruned))]


def mlp(seed=0, scales=(1.0, 1.0, 1.0)):
    """An MLP 6-8-5-3 (48 + 40 + 15 = 103 weights); each layer's weights multiplied by its scale."""
    rng.manual_seed(seed)
    model = Sequential(Linear(6, 8), ReLU(), Linear(8, 5), ReLU(), Linear(5, 3))
    for layer, scale in zip(linears(model), scales):
        layer.weight.data *= scale
    return model


def numpy_forward(model, x):
    """The MLP's output from the weights the layers expose (Pruned: the masked weight)."""
    a, b, c = linears(model)
    h = np.maximum(x @ a.weight.data.T + a.bias.data, 0)
    h = np.maximum(h @ b.weight.data.T + b.bias.data, 0)
    return h @ c.weight.data.T + c.bias.data


X = np.random.default_rng(9).normal(size=(7, 6)).astype(np.float32)


def test_global_pruning_counts_zeros_across_layers():
    """magnitude_prune(model, 0.4) on layers scaled 2, 1 and 0.5: every Linear replaced in place by a Pruned;
    40% of all 103 weights are zeros (counted in the weights), most in the small-scale layer, fewest in the
    large one; no kept weight is smaller than a pruned one; the output uses the masked weights.

    Hint: magnitude_prune: take slots = prunable_layers(model), compute masks from [layer.weight.data ...]
    with global_magnitude_masks, replace each Linear by Pruned(layer, mask) with replace_layer(holder, key,
    new), and return the Pruned layers in order.
    """
    model = mlp(scales=(2.0, 1.0, 0.5))
    original = [layer.weight.data.copy() for layer in linears(model)]
    pruned = magnitude_prune(model, 0.4)
    assert [type(layer).__name__ for layer in model] == ["Pruned", "ReLU", "Pruned", "ReLU", "Pruned"]
    assert pruned == linears(model), "magnitude_prune must return the Pruned layers, in order"
    zeros = [int((layer.weight.data == 0).sum()) for layer in pruned]
    assert sum(zeros) == round(0.4 * 103), f"{sum(zeros)} zeros among 103 weights, expected {round(0.4 * 103)}"
    fractions = [z / n for z, n in zip(zeros, (48, 40, 15))]
    assert fractions[0] < fractions[1] < fractions[2], \
        f"pruned fractions per layer {np.round(fractions, 2)}: one global threshold hits small-scale layers hardest"
    kept = np.concatenate([np.abs(w[layer.mask]) for w, layer in zip(original, pruned)])
    dropped = np.concatenate([np.abs(w[~layer.mask]) for w, layer in zip(original, pruned)])
    assert dropped.max() <= kept.min(), "global pruning dropped a weight larger than one it kept"
    assert_close(model(Tensor(X)), numpy_forward(model, X), atol=1e-5, what="output of the pruned model")


def test_layer_scope_prunes_every_layer_alike():
    """scope='layer': each layer loses exactly round(0.5 * its size) weights, whatever its scale.

    Hint: scope='layer' uses magnitude_mask(w, amount) per layer instead of one global ranking; biases are
    never part of the weights you rank.
    """
    model = mlp()
    magnitude_prune(model, 0.5, scope="layer")
    zeros = [int((layer.weight.data == 0).sum()) for layer in linears(model)]
    assert zeros == [24, 20, 8], f"zeros per layer {zeros}, expected [24, 20, 8]"
    assert all((layer.bias.data != 0).all() for layer in linears(model)), "biases are never pruned"


def test_sparsity_unchanged_by_fine_tuning():
    """An Adam optimizer created before pruning fine-tunes the pruned model: 90% sparsity and the zeros' places stay.

    Hint: wrap each Linear in a Pruned (keeping the same Parameters, so the optimizer created before still
    trains them) rather than writing zeros into the weights: the mask keeps them zero through Adam steps.
    """
    model = mlp(seed=1)
    optimizer = Adam(model.parameters(), lr=0.01)
    x, y = Tensor(X), Tensor(np.array([0, 1, 2, 0, 1, 2, 0]))
    for _ in range(2):
        optimizer.zero_grad()
        cross_entropy(model(x), y).backward()
        optimizer.step()
    magnitude_prune(model, 0.9)
    zeros_before = [layer.weight.data == 0 for layer in linears(model)]
    loss_before = cross_entropy(model(x), y).item()
    for _ in range(10):
        optimizer.zero_grad()
        cross_entropy(model(x), y).backward()
        optimizer.step()
    zeros_after = [layer.weight.data == 0 for layer in linears(model)]
    assert sum(int(z.sum()) for z in zeros_after) == round(0.9 * 103), "sparsity changed during fine-tuning"
    assert all((a == b).all() for a, b in zip(zeros_after, zeros_before)), "the zeros moved during fine-tuning"
    assert cross_entropy(model(x), y).item() < loss_before, "fine-tuning did not lower the loss"


def test_pruning_again_never_revives_a_weight():
    """Pruning 50% then 80% leaves 80%, a superset of the first zeros; then 30% changes nothing.

    Hint: when a slot already holds a Pruned layer, rank its masked weight (its zeros come first) and update
    it in place with layer.mask = layer.mask & new_mask; do not wrap it in a second Pruned.
    """
    model = mlp(seed=2)
    first = magnitude_prune(model, 0.5)
    zeros_50 = [layer.weight.data == 0 for layer in first]
    second = magnitude_prune(model, 0.8)
    assert second == first, "already-pruned layers must be re-pruned in place (same Pruned objects)"
    zeros_80 = [layer.weight.data == 0 for layer in second]
    assert sum(int(z.sum()) for z in zeros_80) == round(0.8 * 103)
    assert all((z80 | ~z50).all() for z50, z80 in zip(zeros_50, zeros_80)), "a weight pruned at 50% came back"
    magnitude_prune(model, 0.3)
    assert sum(int((layer.weight.data == 0).sum()) for layer in linears(model)) == round(0.8 * 103), \
        "pruning less than the current sparsity revived weights"


def test_layers_in_lists_and_attributes_are_found():
    """Any Module works: Linears held in a ModuleList and in a plain attribute are pruned where they sit.

    Hint: use the given prunable_layers(model), which finds Linears in attributes, lists and dicts with where
    they sit, and replace_layer(holder, key, new) to swap each one where it is.
    """
    class Net(Module):
        def __init__(self):
            super().__init__()
            self.blocks = ModuleList([Linear(4, 4), Linear(4, 4)])
            self.head = Linear(4, 2)

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return self.head(x)

    rng.manual_seed(3)
    net = Net()
    pruned = magnitude_prune(net, 0.5, scope="layer")
    assert len(pruned) == 3 and isinstance(net.head, Pruned) and all(isinstance(b, Pruned) for b in net.blocks)
    assert int((net.head.weight.data == 0).sum()) == 4


def test_remove_pruning_makes_it_permanent():
    """remove_pruning(model): plain Linears again, the zeros in their weights, the same outputs.

    Hint: remove_pruning: for holder, key, layer in prunable_layers(model), if it is a Pruned,
    replace_layer(holder, key, layer.remove()); return the model itself.
    """
    model = mlp(seed=4)
    magnitude_prune(model, 0.7)
    expected = model(Tensor(X)).data
    assert remove_pruning(model) is model
    assert [type(layer).__name__ for layer in model] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert sum(int((layer.weight.data == 0).sum()) for layer in linears(model)) == round(0.7 * 103)
    assert_close(model(Tensor(X)), expected, what="output after remove_pruning")


def test_bad_arguments_are_errors():
    """An unknown scope, an amount outside [0, 1] and a model without Linear layers are ValueErrors.

    Hint: raise ValueError for a scope other than 'global'/'layer' and when prunable_layers finds no Linear; a
    bad amount raises through _prune_count.
    """
    with raises(ValueError):
        magnitude_prune(mlp(), 0.5, scope="rows")
    with raises(ValueError):
        magnitude_prune(mlp(), 1.2)
    with raises(ValueError):
        magnitude_prune(Sequential(ReLU()), 0.5)
