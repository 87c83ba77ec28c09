"""Step 3: rules for matmul (every rank, batched, broadcast batch dimensions) and the shape ops."""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dojo.testing import arrays, gradcheck, nonzero_floats, small_shapes

LIGHT = max(3, settings().max_examples // 4)  # fewer examples for the costlier tests (never above the profile)

# (shape of a, shape of b) for a @ b
MATMUL_CASES = {
    "vector @ vector": ((3,), (3,)),
    "matrix @ vector": ((2, 3), (3,)),
    "vector @ matrix": ((3,), (3, 2)),
    "matrix @ matrix": ((2, 3), (3, 2)),
    "batch @ matrix": ((2, 2, 3), (3, 2)),
    "matrix @ batch": ((2, 3), (2, 3, 1)),
    "batch @ batch": ((2, 2, 3), (2, 3, 2)),
    "batch @ vector": ((2, 2, 3), (3,)),
    "vector @ batch": ((3,), (2, 3, 2)),
    "size-1 batch broadcasts": ((1, 2, 3), (2, 3, 2)),
    "batch dims (2, 1) and (3,)": ((2, 1, 2, 3), (3, 3, 1)),
}


def _values(shape, seed):
    rng = np.random.default_rng(seed)
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.3, 3.0, size=shape)


@pytest.mark.parametrize("case", list(MATMUL_CASES))
def test_matmul_gradients_for_every_rank(case):
    """a @ b for every combination of ranks: 1-D operands act as a row (left) or a column
    (right) and batch dimensions broadcast; both gradients have their operand's shape and equal
    central differences.

    Hint: The failure names the case: in the matmul rule promote a 1-D a to a row (1, n) and a 1-D b to a
    column (n, 1), add the matching axis to grad, transpose only the last two axes (np.swapaxes), then
    unbroadcast batch axes and reshape each gradient to its operand's shape.
    """
    shape_a, shape_b = MATMUL_CASES[case]
    gradcheck(lambda a, b: a @ b, [_values(shape_a, 1), _values(shape_b, 2)])


@st.composite
def matmul_operands(draw):
    """Two arrays whose shapes matmul accepts (any ranks, one batch dimension), values away from 0."""
    shapes = draw(hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=1, max_side=3), label="shapes")
    shape_a, shape_b = shapes.input_shapes
    return draw(arrays(shape_a, nonzero_floats()), label="a"), draw(arrays(shape_b, nonzero_floats()), label="b")


@settings(max_examples=LIGHT)
@given(operands=matmul_operands())
@example(operands=(_values((3,), 1), _values((3,), 2)))  # vector @ vector: a 0-d result
@example(operands=(_values((3,), 1), _values((2, 3, 2), 2)))  # vector @ batch
@example(operands=(_values((2, 2, 3), 1), _values((3,), 2)))  # batch @ vector
@example(operands=(_values((1, 2, 3), 1), _values((2, 3, 1), 2)))  # a size-1 batch that broadcasts
def test_matmul_gradients_on_drawn_shapes(operands):
    """a @ b on hypothesis-drawn shapes that matmul accepts (any ranks, one batch dimension).

    Hint: Shapes here are drawn at random (vector @ vector gives a 0-d result): check that the matmul rule
    handles every rank pair, and that dA = grad @ B^T and dB = A^T @ grad come out in A's and B's shapes.
    """
    gradcheck(lambda a, b: a @ b, list(operands))


def test_matmul_of_a_constant_and_a_tensor():
    """W @ x where only x requires grad (and x @ W where only x does): no gradient is needed
    for the constant, and x's is still right.

    Hint: When one operand is a constant, x's gradient must still be right for both W @ x (dx = W^T @ grad)
    and x @ W (dx = grad @ W^T): check the order of the factors, then compare shapes with x.
    """
    w = _values((2, 3), 3)
    gradcheck(lambda w, x: w @ x, [w, _values((3, 2), 4)], wrt=[1])
    gradcheck(lambda w, x: x @ w, [w, _values((4, 2), 4)], wrt=[1])


@pytest.mark.parametrize(
    "shape, new_shape",
    [((2, 3), (6,)), ((2, 3), (3, 2)), ((2, 3), (-1, 1)), ((6,), (1, 2, 3)), ((), (1, 1)), ((2, 1, 3), (3, -1))],
)
def test_reshape_gradient(shape, new_shape):
    """x.reshape(...) keeps the elements in order: the gradient is grad reshaped back to x's shape.

    Hint: The reshape rule must reshape grad back to the input's shape, node.inputs[0].shape, not apply the
    forward's new shape (which may contain -1) or transpose anything.
    """
    gradcheck(lambda t: t.reshape(*new_shape), [_values(shape, 5)])


# Strategies that depend on the number of dimensions, built once per ndim rather than once per
# example (hypothesis validates every new strategy it is given); the values drawn are the same.
DIMS = {ndim: st.integers(-ndim, ndim - 1) for ndim in (1, 2, 3)}  # any axis, negative ones too
PERMUTATIONS = {ndim: st.permutations(range(ndim)) for ndim in (1, 2, 3)}
SIGNS = {ndim: st.lists(st.booleans(), min_size=ndim, max_size=ndim) for ndim in (1, 2, 3)}


@st.composite
def transpose_case(draw):
    """An array of 2 or 3 dimensions and two of its axes (negative ones too, maybe the same)."""
    x = draw(arrays(draw(small_shapes(min_dims=2, max_side=3), label="shape")), label="x")
    axes = DIMS[x.ndim]
    return x, draw(axes, label="dim0"), draw(axes, label="dim1")


@settings(max_examples=LIGHT)
@given(case=transpose_case())
@example(case=(_values((2, 3, 2), 1), 0, -1))  # a negative dim
@example(case=(_values((2, 3, 2), 1), -3, -2))  # two negative dims
@example(case=(_values((2, 3), 1), 1, -1))  # the same axis twice: nothing moves
def test_transpose_gradient(case):
    """x.transpose(dim0, dim1) for any two axes (negative ones too): swapping them back undoes it.

    Hint: transpose_backward must swap the same two axes again, read from node.args["dim0"] and
    node.args["dim1"] (np.swapaxes handles negative and equal axes), not always the last two.
    """
    x, dim0, dim1 = case
    gradcheck(lambda t: t.transpose(dim0, dim1), [x])


def test_transpose_default_swaps_the_last_two_axes():
    """x.transpose() with no arguments swaps the last two axes.

    Hint: t.transpose() records its defaults dim0=-2, dim1=-1 in node.args: the rule must use the recorded
    axes (np.swapaxes(grad, dim0, dim1)), which works for 3-D inputs too.
    """
    gradcheck(lambda t: t.transpose(), [_values((2, 3, 2), 6)])


@st.composite
def permute_case(draw):
    """An array of 1 to 3 dimensions and a permutation of its dims, each written as a
    non-negative or a negative dim (-1 is the last)."""
    x = draw(arrays(draw(small_shapes(min_dims=1, max_side=3), label="shape")), label="x")
    dims = draw(PERMUTATIONS[x.ndim], label="dims")
    signs = draw(SIGNS[x.ndim], label="negative")
    return x, tuple(d - x.ndim if negative else d for d, negative in zip(dims, signs))


@settings(max_examples=LIGHT)
@given(case=permute_case())
@example(case=(_values((2, 3, 2), 1), (2, 0, 1)))
@example(case=(_values((2, 3, 2), 1), (-1, 0, -2)))  # negative dims
@example(case=(_values((2, 3), 1), (-1, -2)))  # only negative dims
@example(case=(_values((3,), 1), (0,)))  # 1-D: the identity
def test_permute_gradient(case):
    """x.permute(*dims) for any permutation, negative dims included: the inverse permutation
    (np.argsort of the dims counted from the front) undoes it.

    Hint: permute_backward needs the inverse permutation: count each dim from the front (d % ndim) first, then
    invert (np.argsort, or inverse[d] = position); applying dims itself again is wrong for 3-D.
    """
    x, dims = case
    gradcheck(lambda t: t.permute(*dims), [x])


@pytest.mark.parametrize(
    "call", [lambda t: t.permute((2, 0, 1)), lambda t: t.permute(-1, 0, 1), lambda t: t.permute(1, -1, 0)],
    ids=["one tuple", "negative dim first", "negative dim inside"],
)
def test_permute_gradient_with_a_tuple_or_negative_dims(call):
    """permute accepts one tuple, permute((2, 0, 1)), and negative dims, permute(-1, 0, 1):
    node.args["dims"] holds what it was given.

    Hint: node.args["dims"] is ((2, 0, 1),) when permute got one tuple: unpack it when its only entry is a
    tuple or list, and turn negative dims into d % ndim before inverting.
    """
    gradcheck(call, [_values((2, 3, 4), 7)])


def test_T_gradient():
    """x.T reverses all dimensions (it is a permute): the gradient is reversed back.

    Hint: x.T is recorded as a permute of all dims reversed: if this fails while other permute tests pass,
    check permute_backward on a (2, 3, 4) input with dims (2, 1, 0).
    """
    gradcheck(lambda t: t.T, [_values((2, 3, 4), 8)])


def test_shape_ops_compose_with_matmul():
    """A typical layer: (x @ W.T).reshape(...).permute(...) — gradients for both x and W.

    Hint: (x @ W.T) is batch (2, 2, 3) @ matrix (3, 4): W's gradient must sum over the batch axis (flatten the
    batch rows or unbroadcast) to come back as (3, 4), and W.T is a permute whose rule must invert.
    """
    x, w = _values((2, 2, 3), 9), _values((4, 3), 10)
    gradcheck(lambda x, w: (x @ w.T).reshape(4, 2, 2).permute(2, 0, 1), [x, w])
