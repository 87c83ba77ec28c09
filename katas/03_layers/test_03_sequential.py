"""Step 3: sequential — Sequential applies its items in order, holds any callable, and names parameters like PyTorch;
ModuleList and ModuleDict hold sub-modules that the parent module registers."""

import numpy as np
import pytest

from dojo.testing import assert_close
from tinytorch import rng
from tinytorch.activations import ReLU
from tinytorch.layers import Linear, Module, ModuleDict, ModuleList, Sequential
from tinytorch.tensor import Tensor


def make_mlp():
    rng.manual_seed(0)
    return Sequential(Linear(3, 4), ReLU(), Linear(4, 2))


def test_sequential_applies_items_in_order():
    """Sequential(a, relu, b)(x) equals b(relu(a(x))): each output feeds the next item.

    Hint: Sequential.forward feeds x through every item: for layer in self: x = layer(x); return x (len,
    indexing and iteration read the attributes '0', '1', ... that __init__ stores).
    """
    model = make_mlp()
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    first, second = model[0], model[2]
    hidden = np.maximum(x @ first.weight.data.T + first.bias.data, 0)
    expected = hidden @ second.weight.data.T + second.bias.data
    assert_close(model(Tensor(x)), expected, what="Sequential(Linear, ReLU, Linear)(x)")


def test_sequential_order_matters():
    """Items run first to last, not last to first: Sequential(add 1, times 10)(2) is 30.

    Hint: Store item i as attribute str(i) in the order given, and let forward iterate from the first to the
    last (not reversed, and not all applied to the original x).
    """
    model = Sequential(lambda t: t + 1.0, lambda t: t * 10.0)
    assert_close(model(Tensor([2.0])), [30.0], what="Sequential(+1, *10)(2)")


def test_sequential_len_and_indexing():
    """len(seq) counts the items; seq[0], seq[2] and seq[-1] return the items themselves.

    Hint: len and [] are written and count the digit-named attributes: __init__ must setattr(self, str(i),
    item) for every item (no list attribute, no names like 'layer0').
    """
    model = make_mlp()
    assert len(model) == 3
    assert isinstance(model[0], Linear) and isinstance(model[1], ReLU)
    assert model[-1] is model[2]
    with pytest.raises(IndexError):
        model[3]


def test_sequential_parameter_names_follow_pytorch():
    """Parameters of Sequential(Linear, ReLU, Linear) are '0.weight', '0.bias', '2.weight', '2.bias', in
    order.

    Hint: The names '0.weight', '2.bias' come from attribute names: setattr(self, str(index), module) in
    Sequential.__init__, numbering every item (ReLU takes index 1) so the second Linear is '2'.
    """
    model = make_mlp()
    named = model.named_parameters()
    assert [name for name, _ in named] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert named[2][1] is model[2].weight


def test_sequential_inside_a_module():
    """A Sequential held by a module's attribute gets that prefix: 'body.0.weight'.

    Hint: a parent's named_parameters recurses into the Sequential with the prefix 'body.': the items must be
    attributes of the Sequential (setattr(self, str(i), item)), and the recursion must pass
    prefix + name + '.' down to every level.
    """

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
    """model.eval() switches the modules inside a Sequential (e.g. a Dropout) to eval mode too; train()
    switches them back.

    Hint: train() reaches items via children(), i.e. the Module attributes: the items must be attributes
    (setattr(self, str(i), item)), not entries of a hidden list.
    """
    model = Sequential(Linear(2, 2), ReLU(), Identity())
    model.eval()
    assert model[0].training is False and model[2].training is False
    model.train()
    assert model[0].training is True and model[2].training is True


def test_empty_sequential_is_the_identity():
    """Sequential() with no items returns its input unchanged and has no parameters.

    Hint: With no items the loop in forward never runs: return x as it came in, and let __init__ accept zero
    items.
    """
    x = Tensor([1.0, -2.0])
    model = Sequential()
    assert_close(model(x), [1.0, -2.0], what="Sequential()(x)")
    assert len(model) == 0 and model.parameters() == []


def test_sequential_rejects_items_that_are_not_callable():
    """Sequential(Linear(2, 2), 3) raises TypeError: 3 cannot be applied to a tensor.

    Hint: In Sequential.__init__ check callable(item) for each item and raise TypeError before storing it (a
    Module and a lambda are both callable, 3 is not).
    """
    with pytest.raises(TypeError):
        Sequential(Linear(2, 2), 3)


class Stack(Module):
    """Blocks in a ModuleList and heads in a ModuleDict, the way PyTorch models hold them."""

    def __init__(self, n=3):
        super().__init__()
        self.blocks = ModuleList([Linear(2, 2) for _ in range(n)])
        self.heads = ModuleDict({"a": Linear(2, 1), "b": Linear(2, 3, bias=False)})

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.heads["a"](x), self.heads["b"](x)


def test_module_list_and_module_dict_register_their_items():
    """Parameters inside a ModuleList or ModuleDict are found and named like PyTorch's:
    'blocks.0.weight' ... 'heads.a.bias', 'heads.b.weight'; eval() reaches them.

    Hint: ModuleList.append must setattr(self, str(len(self)), module) and ModuleDict.__setitem__
    setattr(self, key, module): attributes are what named_parameters and eval() walk, so 'blocks.0.weight' and
    'heads.a.weight' appear.
    """
    rng.manual_seed(0)
    model = Stack(2)
    names = [name for name, _ in model.named_parameters()]
    assert names == ["blocks.0.weight", "blocks.0.bias", "blocks.1.weight", "blocks.1.bias",
                     "heads.a.weight", "heads.a.bias", "heads.b.weight"], f"got {names}"
    assert model.named_parameters()[2][1] is model.blocks[1].weight
    assert sorted(model.state_dict()) == sorted(names)
    model.eval()
    assert not model.blocks[1].training and not model.heads["b"].training


def test_module_list_works_like_a_list():
    """len, [i] (negative too, IndexError past the end), [1:] (a ModuleList), iteration, append
    and extend (at the end), insert, [i] = m and del [i] (the names renumber: 'blocks.1' is
    always the second item), and +=.

    Hint: Everything but append is written on top of it (extend, insert and del renumber by re-appending):
    append must store the item as the attribute str(len(self)) and return self.
    """
    rng.manual_seed(1)
    a, b, c, d = (Linear(1, 1) for _ in range(4))
    blocks = ModuleList([a, b])
    assert len(blocks) == 2 and blocks[0] is a and blocks[-1] is b and list(blocks) == [a, b]
    with pytest.raises(IndexError):
        blocks[2]
    assert blocks.append(c) is blocks and list(blocks) == [a, b, c]
    blocks.extend([d])
    tail = blocks[1:]
    assert isinstance(tail, ModuleList) and list(tail) == [b, c, d]
    del blocks[0]
    assert list(blocks) == [b, c, d]
    assert [n for n, _ in blocks.named_parameters()][:2] == ["0.weight", "0.bias"]
    assert blocks.named_parameters()[0][1] is b.weight
    blocks.insert(0, a)
    blocks[3] = ReLU()
    assert list(blocks)[:3] == [a, b, c] and isinstance(blocks[3], ReLU) and len(blocks) == 4
    blocks += [d]
    assert blocks[-1] is d and len(blocks.parameters()) == 8


def test_module_dict_works_like_a_dict():
    """d[key], key in d, len, iteration over the keys in insertion order, keys/values/items,
    replacing a key keeps its place, del d[key], KeyError for a missing key.

    Hint: ModuleDict.__setitem__ stores the module as the attribute named key (setattr(self, key, module));
    replacing a key must work, so the 'would hide an attribute' check applies only to keys not already in
    self.
    """
    rng.manual_seed(2)
    a, b, c = Linear(1, 1), Linear(1, 2), Linear(1, 3)
    heads = ModuleDict({"a": a, "b": b})
    assert heads["a"] is a and "b" in heads and "c" not in heads and len(heads) == 2
    assert list(heads) == ["a", "b"] and list(heads.keys()) == ["a", "b"]
    assert list(heads.values()) == [a, b] and list(heads.items()) == [("a", a), ("b", b)]
    heads["c"] = c
    heads["a"] = b
    assert list(heads) == ["a", "b", "c"] and heads["a"] is b
    del heads["b"]
    assert list(heads) == ["a", "c"] and [n for n, _ in heads.named_parameters()] == ["a.weight", "a.bias", "c.weight", "c.bias"]
    with pytest.raises(KeyError):
        heads["b"]


def test_module_containers_reject_what_they_cannot_register():
    """ModuleList([Linear, 3]) and .append(a Tensor) raise TypeError; ModuleDict keys must be
    non-empty strings without '.' that hide no attribute ('training', 'keys'): KeyError, a
    non-string key TypeError, a non-callable value TypeError.

    Hint: Order the checks in ModuleDict.__setitem__: TypeError for a non-str key, KeyError for '' or a '.' in
    it, KeyError when key not in self and hasattr(self, key); then TypeError unless callable(module).
    ModuleList.append raises TypeError for a non-callable before storing anything.
    """
    rng.manual_seed(3)
    layer = Linear(2, 2)
    with pytest.raises(TypeError):
        ModuleList([layer, 3])
    blocks = ModuleList([layer])
    with pytest.raises(TypeError):
        blocks.append(Tensor([1.0]))
    heads = ModuleDict({"ok": layer})
    for key in ("a.b", "", "training", "keys"):
        with pytest.raises(KeyError):
            heads[key] = Linear(1, 1)
    with pytest.raises(TypeError):
        heads[3] = Linear(1, 1)
    with pytest.raises(TypeError):
        heads["x"] = 3.0
    assert list(heads) == ["ok"] and len(blocks) == 1
