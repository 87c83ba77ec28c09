"""Step 4: rules for sum, mean and max (axis, keepdims, negative axes; ties) and for indexing."""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dojo.testing import arrays, assert_close, gradcheck, small_shapes
from tinytorch.autograd import expand_reduced
from tinytorch.tensor import Tensor

LIGHT = max(3, settings().max_examples // 4)  # fewer examples for the costlier tests (never above the profile)


def _values(shape, seed):
    rng = np.random.default_rng(seed)
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.3, 3.0, size=shape)


def _distinct(shape, seed):
    """Values spaced 0.5 apart in a shuffled order: no ties, so max has a gradient everywhere."""
    size = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(size) - size / 2).reshape(shape) * 0.5


def _axes(ndim):
    """An axis for an array of ndim dimensions: None, an int (maybe negative) or a tuple mixing signs."""
    return (
        st.none()
        | st.integers(-ndim, ndim - 1)
        | st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(
            lambda axes: tuple(a - ndim if i % 2 else a for i, a in enumerate(axes))  # mix signs
        )
    )


# Built once per ndim, not once per example: hypothesis validates every new strategy it is given.
AXES = {ndim: _axes(ndim) for ndim in (1, 2, 3)}


@st.composite
def shape_and_axis(draw):
    """A 1-3 dimensional shape and an axis for it: None, an int (maybe negative) or a tuple."""
    shape = draw(small_shapes(min_dims=1, max_side=3))
    return shape, draw(AXES[len(shape)])


# -- expand_reduced ------------------------------------------------------------------------------


def test_expand_reduced_puts_back_the_reduced_axis():
    """A (2,) gradient of x.sum(axis=1) for x of shape (2, 3) goes back to (2, 3): each row gets
    its own value (re-insert the axis, then broadcast).

    Hint: expand_reduced must first re-insert the summed axis (np.expand_dims(grad, 1)) and only then
    broadcast to shape; broadcasting (2,) straight to (2, 3) lines it up with the wrong axis.
    """
    got = expand_reduced(np.array([1.0, 2.0]), (2, 3), axis=1, keepdims=False)
    assert_close(got, [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]], what="expand_reduced(..., axis=1)")


def test_expand_reduced_with_negative_axes_tuple_keepdims_and_none():
    """axis=-1 (counts from the end), axis=(0, 2), keepdims=True (axes already there) and
    axis=None (a scalar spread everywhere) all come back to the input's shape.

    Hint: In expand_reduced turn each axis into a % len(shape) before np.expand_dims, accept a tuple of axes,
    and skip the expand step when keepdims is True or axis is None (then np.broadcast_to alone is enough).
    """
    g = np.array([[1.0], [2.0]])
    assert_close(expand_reduced(np.array([1.0, 2.0]), (2, 3), axis=-1, keepdims=False), np.repeat(g, 3, axis=1), what="axis=-1")
    assert_close(expand_reduced(g, (2, 3), axis=1, keepdims=True), np.repeat(g, 3, axis=1), what="axis=1, keepdims=True")
    assert_close(expand_reduced(np.array([5.0, 7.0]), (2, 2, 2), axis=(0, 2), keepdims=False)[:, :, 0], [[5.0, 7.0], [5.0, 7.0]], what="axis=(0, 2)")
    assert_close(expand_reduced(np.array(4.0), (2, 3), axis=None, keepdims=False), np.full((2, 3), 4.0), what="axis=None")


# -- sum, mean, max --------------------------------------------------------------------------------


@st.composite
def array_and_axis(draw):
    """An array of 1-3 dimensions and an axis for it (see shape_and_axis)."""
    shape, axis = draw(shape_and_axis(), label="shape and axis")
    return draw(arrays(shape), label="x"), axis


# The axis forms the rules must undo, pinned for every profile: no axis (with and without
# keepdims), negative ints, tuples mixing signs, tuples of negative axes only, a 1-D input.
AXIS_EDGE_CASES = [
    ((2, 3, 2), None, True), ((2, 3, 2), None, False), ((2, 3, 2), -1, False), ((2, 3, 2), -3, True),
    ((2, 3, 2), (0, -1), False), ((2, 3, 2), (0, -1), True), ((2, 3, 2), (-1, -3), False), ((3,), (-1,), True),
]


def _sum_mean_edge_cases(test):
    for shape, axis, keepdims in AXIS_EDGE_CASES:
        test = example(case=(_values(shape, 14), axis), keepdims=keepdims)(test)
    return test


@settings(max_examples=LIGHT)
@pytest.mark.parametrize("name", ["sum", "mean"])
@given(case=array_and_axis(), keepdims=st.booleans())
@_sum_mean_edge_cases
def test_sum_and_mean_gradients(name, case, keepdims):
    """x.sum(axis, keepdims) spreads each output's gradient over the elements it summed;
    x.mean(...) also divides by their number. Any axis: None, an int, negative, or a tuple.

    Hint: sum's rule is expand_reduced(grad, x.shape, axis, keepdims) with axis and keepdims from node.args;
    mean's also divides by the number of elements averaged (the product of the reduced sizes, all of them for
    axis=None).
    """
    x, axis = case
    gradcheck(lambda t: getattr(t, name)(axis=axis, keepdims=keepdims), [x])


def _max_edge_cases(test):
    for shape, axis, keepdims in AXIS_EDGE_CASES:
        test = example(case=(shape, axis), keepdims=keepdims, seed=15)(test)
    return test


@settings(max_examples=LIGHT)
@given(case=shape_and_axis(), keepdims=st.booleans(), seed=st.integers(0, 2**16))
@_max_edge_cases
def test_max_gradient_without_ties(case, keepdims, seed):
    """x.max(axis, keepdims) on distinct values: the whole gradient goes to the maximum.

    Hint: The max rule must send grad only to the maximum: compare x with node.out expanded back to x's shape
    (expand_reduced with the same axis and keepdims) and multiply the mask by the expanded grad.
    """
    shape, axis = case
    gradcheck(lambda t: t.max(axis=axis, keepdims=keepdims), [_distinct(shape, seed)])


def test_max_tie_rule_splits_equally():
    """Ties share equally: max([1, 3, 3, 2]) sends half of the gradient to each 3.

    Hint: With two tied maxima each must get half: divide the winners mask by its count along the reduced axes
    (winners.sum(axis=axis, keepdims=True)), instead of giving the whole gradient to each or to the first.
    """
    x = Tensor(np.array([1.0, 3.0, 3.0, 2.0]), requires_grad=True)
    x.max().backward(np.array(4.0))
    assert_close(x.grad, [0.0, 2.0, 2.0, 0.0], what="x.grad")


def test_max_tie_rule_three_way_tie():
    """Three tied maxima get a third each.

    Hint: Three tied maxima get a third each: divide the boolean winners mask by the number of winners, and do
    not use np.argmax (it picks only the first).
    """
    x = Tensor(np.array([5.0, 5.0, 5.0]), requires_grad=True)
    x.max().backward(np.array(3.0))
    assert_close(x.grad, [1.0, 1.0, 1.0], what="x.grad")


@pytest.mark.parametrize("keepdims", [False, True])
def test_max_tie_rule_along_an_axis(keepdims):
    """Along axis 1 each row shares its own gradient among its own ties:
    [[1, 3, 3], [2, 2, 0]] with upstream [4, 6] gives [[0, 2, 2], [3, 3, 0]].

    Hint: Each row shares its own gradient among its own ties: count the winners along axis=1 with
    keepdims=True, and expand the upstream (2,) or (2, 1) grad back to (2, 3) before multiplying.
    """
    x = Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]), requires_grad=True)
    upstream = np.array([[4.0], [6.0]]) if keepdims else np.array([4.0, 6.0])
    x.max(axis=1, keepdims=keepdims).backward(upstream)
    assert_close(x.grad, [[0.0, 2.0, 2.0], [3.0, 3.0, 0.0]], what="x.grad")


def test_max_tie_rule_along_a_negative_axis():
    """axis=-2 of a (2, 2) tensor: column 0 is a tie, column 1 is not.

    Hint: axis=-2 must be handled the same way as axis=0: turn negative axes into axis % ndim in
    expand_reduced and use the same axis when counting winners.
    """
    x = Tensor(np.array([[7.0, 1.0], [7.0, 4.0]]), requires_grad=True)
    x.max(axis=-2).backward(np.array([2.0, 5.0]))
    assert_close(x.grad, [[1.0, 0.0], [1.0, 5.0]], what="x.grad")


# -- indexing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "index",
    [1, -1, slice(1, None), (slice(None), 0), (0, slice(None, None, 2)), (Ellipsis, 1), (None, 2), [2, 0]],
    ids=["int", "negative int", "slice", "column", "row with step", "ellipsis", "new axis", "int list"],
)
def test_getitem_gradient(index):
    """x[index] with ints, slices, steps, ..., None and an int list: the gradient lands on the
    picked elements, zero elsewhere.

    Hint: The getitem rule starts from np.zeros_like(x.data) and puts grad at node.args["index"]; that works
    for ints, slices, ... and None alike, as long as you index with the recorded index unchanged.
    """
    gradcheck(lambda t: t[index], [_values((3, 3), 11)])


def test_getitem_repeated_indices_add_up():
    """x[[0, 0, 1]] picks x[0] twice, so x[0] gets both gradients (scatter-add):
    upstream [1, 1, 1] gives x.grad = [2, 1, 0].

    Hint: out[index] += grad keeps only one of the two contributions to x[0]: use np.add.at(out, index, grad),
    which adds at repeated positions.
    """
    x = Tensor(np.array([10.0, 20.0, 30.0]), requires_grad=True)
    x[[0, 0, 1]].backward(np.ones(3))
    assert_close(x.grad, [2.0, 1.0, 0.0], what="x.grad")


def test_getitem_repeated_rows_add_up():
    """x[[2, 0, 2]] on a matrix picks row 2 twice: it receives the sum of both rows of the
    upstream gradient.

    Hint: Row 2 is picked twice, so it must receive the sum of both upstream rows: np.add.at(out, index, grad)
    accumulates whole rows, where a plain assignment or += does not.
    """
    x = Tensor(_values((3, 2), 12), requires_grad=True)
    upstream = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    x[[2, 0, 2]].backward(upstream)
    assert_close(x.grad, [[3.0, 4.0], [0.0, 0.0], [6.0, 8.0]], what="x.grad")


def test_getitem_with_an_integer_tensor_index():
    """An index that is itself a Tensor (as embeddings use) works the same: x[Tensor([1, 1])].

    Hint: node.args["index"] already holds the Tensor's array, so use it directly with np.add.at; the repeated
    index 1 must receive 0.5 + 0.25.
    """
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    x[Tensor([1, 1])].backward(np.array([0.5, 0.25]))
    assert_close(x.grad, [0.0, 0.75, 0.0], what="x.grad")


def test_getitem_with_a_boolean_mask():
    """x[mask] picks the True positions in order: they receive the upstream gradient, the other
    positions 0.

    Hint: With a boolean mask, grad has one entry per True position: scatter it into zeros of x's shape at
    that mask (np.add.at or out[mask] = grad), never reshape grad to x's shape.
    """
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    mask = np.array([[True, False, True], [False, True, False]])
    x[mask].backward(np.array([1.0, 2.0, 3.0]))
    assert_close(x.grad, [[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]], what="x.grad")
    gradcheck(lambda t: t[mask], [_values((2, 3), 13)])
