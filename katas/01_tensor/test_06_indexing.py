"""Step 6: indexing — t[index] like NumPy (Tensor indices too), comparisons, hashing."""

import operator

import numpy as np
import pytest

from dojo.testing import assert_close
from tinytorch.tensor import Tensor

GRID = np.arange(12.0).reshape(3, 4)

INDICES = {
    "int": 1,
    "negative int": -1,
    "two ints": (2, 3),
    "slice": slice(1, 3),
    "slice with step": (slice(None), slice(None, None, 2)),
    "negative slice": (slice(None), slice(-2, None)),
    "None (new axis)": (None, 0),
    "ellipsis": (Ellipsis, 1),
    "int array with repeats": np.array([0, 0, 2]),
    "list of ints": [2, 0],
    "two int arrays": (np.array([0, 2]), np.array([1, 3])),
    "boolean mask": GRID > 5,
    "row mask": np.array([True, False, True]),
}


@pytest.mark.parametrize("index", list(INDICES.values()), ids=list(INDICES))
def test_indexing_matches_numpy(index):
    """t[index] gives what NumPy gives: ints, slices, negative positions, None, ..., integer
    arrays (repeats allowed) and boolean masks.

    Hint: self.data[index] already handles ints, slices, None, ..., int arrays, lists and masks: don't convert
    the index first (np.array(index), tuple(index), int(index)), which breaks some of these forms.
    """
    assert_close(Tensor(GRID)[index], GRID[index], what=f"t[{index!r}]")


def test_tensor_indices():
    """Tensors work as indices: an int Tensor picks positions (repeats allowed), a bool Tensor
    masks, and a Tensor inside a tuple works too.

    Hint: Tensors in an index, alone or inside a tuple, must become their arrays before NumPy sees them:
    _index_array(index) does both.
    """
    t = Tensor(GRID)
    assert_close(t[Tensor([2, 2, 0])], GRID[[2, 2, 0]], what="t[Tensor([2, 2, 0])]")
    assert_close(t[Tensor(GRID > 5)], GRID[GRID > 5], what="t[Tensor(mask)]")
    assert_close(t[Tensor([0, 2]), Tensor([1, 3])], GRID[[0, 2], [1, 3]], what="t[Tensor(rows), Tensor(cols)]")
    assert_close(t[:, Tensor([3, 0])], GRID[:, [3, 0]], what="t[:, Tensor([3, 0])]")


def test_basic_indexing_is_a_view():
    """Ints and slices give a view (data shares memory with the source); integer arrays and
    masks give a copy — as documented on Tensor.

    Hint: Return self.data[...] directly: NumPy gives a view for ints and slices, while np.array(...), .copy()
    or np.take copy it.
    """
    t = Tensor(GRID)
    assert np.shares_memory(t[1:3].data, t.data), "t[1:3] copied: return the NumPy view"
    assert np.shares_memory(t[0].data, t.data), "t[0] copied: return the NumPy view"
    assert not np.shares_memory(t[[0, 0, 2]].data, t.data)


def test_indexing_records_index():
    """x[index] with x.requires_grad records op "getitem", inputs (x,) and args["index"] (the
    backward scatters into those positions). A Tensor index is stored as its array, not an input.

    Hint: __getitem__ is @op('getitem', constants=('index',)): the index is recorded (Tensors as arrays) as
    long as the parameter stays named index and you return a NumPy array.
    """
    x = Tensor(GRID, requires_grad=True)
    out = x[1:3]
    assert out.node is not None and out.node.op == "getitem", f"recorded {out.node!r}"
    assert len(out.node.inputs) == 1 and out.node.inputs[0] is x, f"recorded {out.node!r}"
    assert out.node.args["index"] == slice(1, 3)
    picked = x[Tensor([2, 2, 0])]
    assert len(picked.node.inputs) == 1 and picked.node.inputs[0] is x, f"recorded {picked.node!r}"
    assert_close(picked.node.args["index"], [2, 2, 0], what='node.args["index"]')


COMPARISONS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@pytest.mark.parametrize("symbol", list(COMPARISONS))
def test_comparisons_give_bool_tensors(symbol):
    """==, !=, <, <=, >, >= compare elementwise and return a bool Tensor (not a Python bool).

    Hint: _compare must return Tensor(ufunc(...)) of the bool array, not the raw ndarray or a Python bool;
    turn a number into a Tensor with self.lift(other) and use its .data.
    """
    a = np.array([1.0, 2.0, 3.0, 4.0])
    b = np.array([4.0, 2.0, 1.0, 4.0])
    f = COMPARISONS[symbol]
    out = f(Tensor(a), Tensor(b))
    assert isinstance(out, Tensor), f"a {symbol} b gave {type(out).__name__}, expected a Tensor"
    assert_close(out, f(a, b), dtype=np.bool_, what=f"a {symbol} b")
    assert_close(f(Tensor(a), 2.0), f(a, 2.0), dtype=np.bool_, what=f"a {symbol} 2.0")


def test_comparisons_broadcast():
    """Comparisons broadcast like arithmetic: (3, 1) < (4,) gives a (3, 4) bool tensor.

    Hint: Apply the ufunc to self.data and the other operand's array so NumPy broadcasts (3, 1) with (4,);
    np.array_equal, or flattening first, loses the shape.
    """
    a, b = np.array([[0.0], [2.0], [4.0]]), np.array([1.0, 2.0, 3.0, 4.0])
    assert_close(Tensor(a) < Tensor(b), a < b, dtype=np.bool_, what="(3, 1) < (4,)")


def test_comparisons_are_never_tracked():
    """A comparison has no gradient: even when an input requires grad, the result has node None
    and requires_grad False.

    Hint: Comparisons are not @op methods: build a fresh Tensor(ufunc(...)) (requires_grad False, node None);
    copying self.requires_grad or calling record_op makes them look differentiable.
    """
    a = Tensor([1.0, 2.0], requires_grad=True)
    for symbol, f in COMPARISONS.items():
        out = f(a, Tensor([2.0, 2.0]))
        assert isinstance(out, Tensor), f"a {symbol} b gave {type(out).__name__}"
        assert out.node is None and out.requires_grad is False, f"a {symbol} b was recorded: {out.node!r}"


def test_tensors_hash_by_identity():
    """Tensors are graph nodes: they can go in sets and dict keys, hashed by identity, even
    though == is elementwise (two tensors with equal values are still two tensors).

    Hint: __hash__ is already object.__hash__, so sets work; what fails here is a == b, which must be your
    _compare's elementwise bool Tensor ([True, True]), not a single bool from np.array_equal.
    """
    a, b = Tensor([1.0, 2.0]), Tensor([1.0, 2.0])
    assert_close(a == b, [True, True], dtype=np.bool_, what="a == b")
    seen = {a, b, a}
    assert len(seen) == 2 and a in seen and b in seen
