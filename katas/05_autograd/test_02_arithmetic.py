"""Step 2: rules for + - * / neg pow exp log, and unbroadcast for operands that broadcast.

Every gradient is checked against float64 central differences with a random upstream gradient
(dojo.testing.gradcheck); hypothesis draws the shapes, including pairs that broadcast.
"""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dojo.testing import (
    arrays, assert_close, assert_shape, broadcastable_pairs, gradcheck, nonzero_floats, positive_floats, small_shapes,
)
from tinytorch.autograd import unbroadcast

LIGHT = max(3, settings().max_examples // 4)  # fewer examples for the costlier tests (never above the profile)

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
}
# Elements of each operand, chosen so that the check is meaningful: mul's gradients are the other
# operand (never all zero), and divisors stay away from 0.
ELEMENTS = {
    "add": (None, None),
    "sub": (None, None),
    "mul": (nonzero_floats(), nonzero_floats()),
    "div": (None, positive_floats()),
}
# (shape of a, shape of b): every way an operand can be broadcast.
BROADCAST_CASES = {
    "same shape": ((2, 3), (2, 3)),
    "row vector": ((2, 3), (3,)),
    "rank extension (3,1) and (4,)": ((3, 1), (4,)),
    "both size-1 axes": ((3, 1), (1, 2)),
    "middle axis": ((2, 1, 3), (2, 1)),
    "scalar tensor": ((), (2, 2)),
}


def _values(shape, seed, positive=False):
    rng = np.random.default_rng(seed)
    if positive:
        return rng.uniform(0.5, 3.0, size=shape)
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.3, 3.0, size=shape)


# -- unbroadcast ---------------------------------------------------------------------------------


def test_unbroadcast_same_shape_is_unchanged():
    """Nothing was broadcast: unbroadcast returns the gradient as it is.

    Hint: When grad.shape already equals shape, unbroadcast in tinytorch/autograd.py must return grad
    untouched: check that your axis search finds nothing to sum in that case.
    """
    grad = np.arange(6.0).reshape(2, 3)
    assert_close(unbroadcast(grad, (2, 3)), grad, what="unbroadcast(grad (2, 3), (2, 3))")


def test_unbroadcast_sums_new_leading_axes():
    """A (3,) operand broadcast to (4, 2, 3) was copied along two new leading axes: its gradient
    is the sum over them.

    Hint: A (3,) operand broadcast to (4, 2, 3) gained grad.ndim - len(shape) leading axes: sum grad over
    exactly those first axes (axis=tuple(range(extra))), without keepdims.
    """
    grad = np.arange(24.0).reshape(4, 2, 3)
    assert_close(unbroadcast(grad, (3,)), grad.sum(axis=(0, 1)), what="unbroadcast(grad (4, 2, 3), (3,))")


def test_unbroadcast_sums_size_one_axes_and_keeps_them():
    """A (2, 1) operand broadcast to (2, 3) was copied along axis 1: sum over it, keeping the
    axis, so the result has shape (2, 1) again.

    Hint: Where the target shape has 1 and grad does not, sum over that axis with keepdims=True, so (2, 3)
    comes back as (2, 1) (or (1, 3)), not (2,).
    """
    grad = np.arange(6.0).reshape(2, 3)
    assert_close(unbroadcast(grad, (2, 1)), [[3.0], [12.0]], what="unbroadcast(grad (2, 3), (2, 1))")
    assert_close(unbroadcast(grad, (1, 3)), [[3.0, 5.0, 7.0]], what="unbroadcast(grad (2, 3), (1, 3))")


def test_unbroadcast_leading_and_size_one_axes_together():
    """(4, 2, 3) down to (2, 1): sum the new axis 0, then axis 2 (size 1 in the target).

    Hint: Do the two sums in order in unbroadcast: first drop the extra leading axes, then compare the
    remaining axes with shape (indices now line up) and sum size-1 ones with keepdims=True.
    """
    grad = np.arange(24.0).reshape(4, 2, 3)
    assert_close(unbroadcast(grad, (2, 1)), grad.sum(axis=0).sum(axis=1, keepdims=True), what="unbroadcast(grad (4, 2, 3), (2, 1))")


def test_unbroadcast_to_a_scalar_shape():
    """A 0-d operand was copied everywhere: its gradient is the sum of all of grad, shape ().

    Hint: For shape () every axis of grad is a new leading axis: unbroadcast must sum all of them and return a
    0-d array (shape ()), not a (1,) or (1, 1) array.
    """
    grad = np.arange(6.0).reshape(2, 3)
    assert_close(unbroadcast(grad, ()), np.array(15.0), what="unbroadcast(grad (2, 3), ())")


@st.composite
def operand_and_upstream(draw):
    """An operand a and an upstream gradient g of the shape a was broadcast to."""
    shape_a, _, result = draw(broadcastable_pairs(), label="shapes")
    return draw(arrays(shape_a), label="a"), draw(arrays(result), label="g")


@settings(max_examples=LIGHT)
@given(case=operand_and_upstream())
@example(case=(_values((), 1), _values((2, 3), 2)))  # a 0-d operand
@example(case=(_values((3,), 1), _values((4, 2, 3), 2)))  # new leading axes
@example(case=(_values((2, 1), 1), _values((2, 3), 2)))  # a size-1 axis, kept
@example(case=(_values((2, 1), 1), _values((4, 2, 3), 2)))  # both at once
@example(case=(_values((1, 3), 1), _values((1, 3), 2)))  # nothing broadcast
def test_unbroadcast_is_the_adjoint_of_broadcasting(case):
    """For every broadcastable pair: sum(unbroadcast(g, shape_a) * a) equals
    sum(g * broadcast_to(a, result)) — unbroadcast gives exactly the gradient of broadcasting.

    Hint: The failure prints the shapes: unbroadcast must give exactly shape_a for every broadcastable pair,
    so sum the leading extra axes, then each axis where shape_a has 1 and grad does not (keepdims=True).
    """
    a, g = case
    shape_a, result = a.shape, g.shape
    reduced = unbroadcast(g, shape_a)
    assert_shape(reduced, shape_a, what=f"unbroadcast(g {result}, {shape_a})")
    assert_close(np.sum(reduced * a), np.sum(g * np.broadcast_to(a, result)), what="sum(unbroadcast(g) * a)")


# -- binary ops ------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(BROADCAST_CASES))
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_op_gradients_with_broadcasting(name, case):
    """a op b for each way of broadcasting (new leading axes, size-1 axes, a 0-d operand): each
    input's gradient has its own shape and equals central differences.

    Hint: Each of the add, sub, mul and div rules must end with unbroadcast(..., input.shape) on both
    gradients; for mul and div multiply by the other operand first, then unbroadcast (not the other way
    round).
    """
    shape_a, shape_b = BROADCAST_CASES[case]
    a = _values(shape_a, seed=1)
    b = _values(shape_b, seed=2, positive=name == "div")
    gradcheck(BINARY[name], [a, b])


@st.composite
def binary_case(draw):
    """An op name and two operands of broadcastable shapes, with values in that op's domain."""
    name = draw(st.sampled_from(list(BINARY)), label="op")
    shape_a, shape_b, _ = draw(broadcastable_pairs(), label="shapes")
    elements_a, elements_b = ELEMENTS[name]
    return name, draw(arrays(shape_a, elements_a), label="a"), draw(arrays(shape_b, elements_b), label="b")


def _binary_edge_cases(test):
    """Pin every op on the broadcasting forms the rules must undo: a 0-d operand on either side,
    rank extension, size-1 axes on both sides."""
    for name in BINARY:
        for shape_a, shape_b in [((), (2, 3)), ((2, 3), ()), ((3, 1), (4,)), ((1, 3), (2, 1))]:
            test = example(case=(name, _values(shape_a, 1), _values(shape_b, 2, positive=name == "div")))(test)
    return test


@given(case=binary_case())
@_binary_edge_cases
def test_binary_op_gradients_on_drawn_shapes(case):
    """a op b on hypothesis-drawn broadcastable shapes and values (divisors positive): both
    gradients equal central differences.

    Hint: The failure names the op and shapes: check that rule's formula (sub: -grad for b; div: -grad · a /
    b² for b) and that each gradient is unbroadcast to its own input's shape.
    """
    name, a, b = case
    gradcheck(BINARY[name], [a, b])


NUMBER_OPERANDS = {
    "x * 2.5": lambda x: x * 2.5,
    "2.5 * x": lambda x: 2.5 * x,
    "1 - x": lambda x: 1 - x,
    "x / 4": lambda x: x / 4,
    "2 / x": lambda x: 2 / x,
}


@pytest.mark.parametrize("name", list(NUMBER_OPERANDS))
def test_python_number_operands(name):
    """With a Python number operand (x * 2.5, 2 / x, ...) the number is a constant input that
    needs no gradient: the rule may return None for it (or a gradient the engine ignores).

    Hint: x * 2.5, 1 - x and 2 / x record the number as a lifted constant input that needs no gradient: the
    rule may return None for it, but x's gradient must still be right (for 2 / x, x is the divisor: -grad · a
    / b²).
    """
    gradcheck(NUMBER_OPERANDS[name], [_values((2, 3), seed=3, positive=True)])


# -- unary ops ------------------------------------------------------------------------------------


# name: (f, domain of x) — "any" values are kept away from 0 (nonzero_floats), "positive" in [0.5, 3].
UNARY = {
    "-x": (lambda t: -t, "any"),
    "exp(x)": (lambda t: t.exp(), "any"),
    "log(x)": (lambda t: t.log(), "positive"),
    "x ** 2": (lambda t: t**2, "any"),
    "x ** 3": (lambda t: t**3, "any"),
    "x ** -1": (lambda t: t**-1, "any"),
    "x ** -2": (lambda t: t**-2, "any"),
    "x ** 0.5": (lambda t: t**0.5, "positive"),
    "x ** 1.5": (lambda t: t**1.5, "positive"),
    "x ** -0.5": (lambda t: t**-0.5, "positive"),
}
DOMAIN = {"any": nonzero_floats(0.3, 3.0), "positive": positive_floats()}


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_op_gradient(name):
    """-x, exp, log (x > 0) and x ** p (integer p: any x away from 0; fractional p: x > 0):
    d(-x) = -1, d exp(x) = exp(x), d log(x) = 1/x, d x^p = p · x^(p-1).

    Hint: The failure names the op: neg returns (-grad,), exp uses node.out, log divides by the input, and pow
    uses node.args["exponent"] p as grad · p · a ** (p - 1); each rule returns a 1-tuple.
    """
    f, domain = UNARY[name]
    gradcheck(f, [_values((2, 3), seed=6, positive=domain == "positive")])


@st.composite
def unary_case(draw):
    """A unary op's name and an input of a drawn shape (0-d to 3-d) in that op's domain."""
    name = draw(st.sampled_from(list(UNARY)), label="op")
    shape = draw(small_shapes(max_side=3), label="shape")
    return name, draw(arrays(shape, DOMAIN[UNARY[name][1]]), label="x")


def _unary_edge_cases(test):
    """Pin every op on a 0-d input and on a 3-d one (negative values wherever the domain allows)."""
    for name, (_, domain) in UNARY.items():
        for shape in [(), (2, 1, 2)]:
            test = example(case=(name, _values(shape, 6, positive=domain == "positive")))(test)
    return test


@settings(max_examples=LIGHT)
@given(case=unary_case())
@_unary_edge_cases
def test_unary_op_gradients_on_drawn_shapes(case):
    """The unary rules on hypothesis-drawn shapes (0-d to 3-d) and values in each op's domain.

    Hint: The unary rules must work on 0-d and 3-d inputs: stay elementwise (no .sum, no indexing, no reshape
    to 1-D) and return a 1-tuple holding an array of the input's shape.
    """
    name, x = case
    gradcheck(UNARY[name][0], [x])


def test_rules_compose_through_a_formula():
    """Rules chain: f(a, b) = log(a * b + 10) / (a - b) ** 2 - exp(-a) on broadcast shapes.

    Hint: Every single rule passes but their combination fails: look for a rule that ignores grad (uses 1
    instead) or that misses unbroadcast when b (3,) broadcasts against a (2, 3).
    """
    a = _values((2, 3), seed=4, positive=True)
    b = -_values((3,), seed=5, positive=True)
    gradcheck(lambda a, b: (a * b + 10).log() / (a - b) ** 2 - (-a).exp(), [a, b])
