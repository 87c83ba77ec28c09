"""Step 1: module — Parameter, calling a Module, finding and naming its parameters, train/eval, zero_grad."""

import numpy as np
import pytest

from dojo.testing import assert_close
from tinytorch.layers import Module, Parameter
from tinytorch.tensor import Tensor


class Scale(Module):
    """One parameter `w`; forward multiplies by it."""

    def __init__(self, size=2):
        super().__init__()
        self.w = Parameter(np.ones(size, dtype=np.float32))

    def forward(self, x, offset=0.0):
        return x * self.w + offset


class Pair(Module):
    """Two sub-modules and a parameter of its own: nesting two levels deep."""

    def __init__(self):
        super().__init__()
        self.left = Scale(1)
        self.right = Scale(2)
        self.bias = Parameter([0.5])

    def forward(self, x):
        return x


class Tree(Module):
    """Parameters directly, in a sub-module, in a sub-module's sub-modules, plus non-parameters."""

    def __init__(self):
        super().__init__()
        self.a = Parameter([1.0, 2.0])
        self.inner = Scale(3)
        self.blocks = Pair()
        self.head = Scale(4)
        self.sizes = [3, 4]  # a plain list without modules: fine, and not a parameter
        self.buffer = Tensor([1.0, 1.0])  # a plain Tensor: not a parameter
        self.scale = 2.0
        self.b = Parameter(np.zeros((2, 2), dtype=np.float32))

    def forward(self, x):
        return x


TREE_NAMES = ["a", "inner.w", "blocks.left.w", "blocks.right.w", "blocks.bias", "head.w", "b"]


def test_parameter_is_a_tensor_that_requires_grad():
    """Parameter([1.0, 2.0]) is a Tensor with requires_grad True and the same values.

    Hint: Parameter.__init__ starts with super().__init__(data, dtype=dtype) (so the Tensor rules apply) and
    must then set self.requires_grad = True; Tensor's own __init__ sets it to False.
    """
    p = Parameter([1.0, 2.0])
    assert isinstance(p, Tensor)
    assert p.requires_grad is True
    assert_close(p, np.array([1.0, 2.0], dtype=np.float32), dtype=np.float32, what="Parameter([1.0, 2.0])")


def test_parameter_makes_integer_data_float32():
    """Parameter([1, 2, 3]) is float32 (a weight must be able to move by small steps), not int64.

    Hint: After super().__init__, integer data is int64: when self.data.dtype.kind != 'f', replace self.data
    with self.data.astype(np.float32) before setting requires_grad (Tensor's __init__ would refuse
    requires_grad=True on ints).
    """
    p = Parameter([1, 2, 3])
    assert_close(p, np.array([1.0, 2.0, 3.0], dtype=np.float32), dtype=np.float32, what="Parameter([1, 2, 3])")
    assert p.requires_grad is True


def test_parameter_keeps_float64_arrays():
    """A float64 NumPy array stays float64 (the Tensor rule; gradient checks need it).

    Hint: Only non-float data is cast in Parameter.__init__: a float64 array must go through the Tensor rules
    untouched, so do not astype(np.float32) every parameter.
    """
    p = Parameter(np.array([0.25, -1.5]))
    assert_close(p, [0.25, -1.5], dtype=np.float64, what="Parameter(float64 array)")
    assert p.requires_grad is True


def test_calling_a_module_runs_forward():
    """module(x, offset=1) returns module.forward(x, offset=1): positional and keyword arguments pass through.

    Hint: Module.__call__ must return self.forward(*args, **kwargs), passing keyword arguments (offset=1.0)
    through as well as positional ones.
    """
    m = Scale(2)
    m.w.data[:] = [2.0, 3.0]
    out = m(Tensor([1.0, 1.0]), offset=1.0)
    assert_close(out, [3.0, 4.0], what="module(x, offset=1.0)")


def test_named_parameters_finds_everything_in_attribute_order():
    """Parameters come from attributes and from sub-modules at any depth, in attribute order, with dotted
    names.

    Hint: Walk self._members() (attributes in assignment order): a Parameter is found under prefix + name, a
    Module is visited recursively with prefix + name + '.'; plain Tensors, lists and numbers are not members.
    """
    tree = Tree()
    names = [name for name, _ in tree.named_parameters()]
    assert names == TREE_NAMES, f"got names {names}"


def test_named_parameters_returns_the_parameter_objects():
    """Each (name, p) pair holds the very Parameter object of that attribute, not a copy.

    Hint: Put the Parameter objects themselves in the (name, p) pairs: no Parameter(p.data), p.copy() or
    p.data.
    """
    tree = Tree()
    found = dict(tree.named_parameters())
    assert found["a"] is tree.a
    assert found["inner.w"] is tree.inner.w
    assert found["blocks.right.w"] is tree.blocks.right.w
    assert found["head.w"] is tree.head.w


def test_parameters_lists_each_parameter_in_order():
    """parameters() is the list of Parameters in named_parameters order; plain Tensors and numbers are left
    out.

    Hint: parameters() is written on top of named_parameters(): if it is wrong, named_parameters picks up
    plain Tensors (check isinstance(value, Parameter), not Tensor) or misses nested ones.
    """
    tree = Tree()
    params = tree.parameters()
    expected = [tree.a, tree.inner.w, tree.blocks.left.w, tree.blocks.right.w, tree.blocks.bias, tree.head.w, tree.b]
    assert len(params) == len(expected), f"got {len(params)} parameters, expected {len(expected)}"
    assert all(p is q for p, q in zip(params, expected))


def test_shared_parameter_is_listed_once():
    """A weight held by two attributes (or two sub-modules sharing a layer) appears once, under its first
    name.

    Hint: Keep a set of id()s of what you already visited (parameters and modules) in named_parameters, and
    skip anything seen: the second attribute holding the same object adds nothing.
    """

    class Tied(Module):
        def __init__(self):
            super().__init__()
            self.first = Scale(2)
            self.second = self.first  # the same module twice
            self.extra = Parameter([1.0])
            self.alias = self.extra  # the same parameter twice

        def forward(self, x):
            return x

    names = [name for name, _ in Tied().named_parameters()]
    assert names == ["first.w", "extra"], f"got names {names}"


def test_children_are_the_direct_submodules():
    """children() lists the direct sub-modules once each, in attribute order, not grandchildren.

    Hint: children() looks only at self._members() (no recursion into grandchildren), keeps the Modules, and
    skips an object already listed (compare id()s: the same Tree held twice is one child).
    """

    class Outer(Module):
        def __init__(self):
            super().__init__()
            self.tree = Tree()
            self.same = self.tree
            self.more = Scale(1)

        def forward(self, x):
            return x

    outer = Outer()
    children = outer.children()
    assert len(children) == 2, f"got {len(children)} children, expected 2"
    assert children[0] is outer.tree and children[1] is outer.more


def test_eval_and_train_reach_every_submodule():
    """eval() sets training False on the module and every module inside it; train() sets it back; both return
    self.

    Hint: train(mode) sets self.training = mode, calls child.train(mode) for every child in self.children(),
    and returns self; eval() is written on top of it.
    """
    tree = Tree()
    modules = [tree, tree.inner, tree.blocks, tree.blocks.left, tree.blocks.right, tree.head]
    assert all(m.training for m in modules), "a new module starts in training mode"
    assert tree.eval() is tree
    assert [m.training for m in modules] == [False] * len(modules)
    assert tree.train() is tree
    assert [m.training for m in modules] == [True] * len(modules)
    tree.train(False)
    assert [m.training for m in modules] == [False] * len(modules)


def test_zero_grad_clears_every_parameter():
    """zero_grad() sets grad to None on every parameter, nested ones included.

    Hint: zero_grad() sets p.grad = None (not zeros) for every p in self.parameters(), which includes the
    nested ones.
    """
    tree = Tree()
    params = [tree.a, tree.inner.w, tree.blocks.right.w, tree.blocks.bias, tree.head.w, tree.b]
    for p in params:
        p.grad = np.ones_like(p.data)
    tree.zero_grad()
    still = [i for i, p in enumerate(params) if p.grad is not None]
    assert not still, f"parameters {still} still have a grad (expected None, not zeros)"


def test_modules_in_a_plain_list_or_dict_are_an_error():
    """self.blocks = [Scale(1), Scale(2)] raises a TypeError that points at ModuleList (a dict:
    ModuleDict; a Parameter in a tuple too): PyTorch does not register what a plain container
    holds, so its optimizer would silently never train them. A list filled after it was
    assigned is caught when the parameters are looked up. Lists of plain values are fine.

    Hint: The TypeError is raised by self._members() when it meets a plain list filled after assignment:
    named_parameters must walk module._members(), not vars(module) directly, so the later list is caught.
    """
    blocks, head, weight = [Scale(1), Scale(2)], {"head": Scale(4)}, Parameter([0.5])

    class Holder(Module):
        def forward(self, x):
            return x

    holder = Holder()
    with pytest.raises(TypeError, match="ModuleList"):
        holder.blocks = blocks
    with pytest.raises(TypeError, match="ModuleDict"):
        holder.table = head
    with pytest.raises(TypeError):
        holder.pair = (weight, 7)
    holder.sizes, holder.names = [3, 4], {"a": "b"}
    holder.later = []
    holder.later.append(Scale(3))
    with pytest.raises(TypeError, match="ModuleList"):
        holder.parameters()
    del holder.later
    holder.w = weight
    assert [name for name, _ in holder.named_parameters()] == ["w"]
