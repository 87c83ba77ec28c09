"""Step 5: rules for the activations of kata 02 — relu, sigmoid, tanh, gelu, softmax, log_softmax."""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dojo.testing import arrays, assert_close, gradcheck, nonzero_floats, small_shapes
from tinytorch.activations import gelu, log_softmax, relu, sigmoid, softmax, tanh
from tinytorch.tensor import Tensor

LIGHT = max(3, settings().max_examples // 4)  # fewer examples for the costlier tests (never above the profile)

# relu has a kink at 0: its inputs stay away from it (|x| >= 0.1) by construction.
ELEMENTWISE = {"relu": (relu, nonzero_floats()), "sigmoid": (sigmoid, None), "tanh": (tanh, None), "gelu": (gelu, None)}


def _values(shape, seed):
    rng = np.random.default_rng(seed)
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.3, 3.0, size=shape)


@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_elementwise_activation_gradient(name):
    """relu (grad where x > 0), sigmoid (s(1 - s)), tanh (1 - t²) and gelu on a (2, 3) tensor
    of both signs.

    Hint: The failure names the activation: each rule in tinytorch/autograd.py returns a 1-tuple, grad times
    the local derivative (relu: x > 0; sigmoid: s (1 - s) and tanh: 1 - t² from node.out; gelu: the product
    rule); forgetting to multiply by grad fails here.
    """
    f, _ = ELEMENTWISE[name]
    gradcheck(f, [_values((2, 3), 1)])


@st.composite
def elementwise_case(draw):
    """An activation's name and an input of a drawn shape in [-3, 3] (relu: |x| >= 0.1, and its
    first element positive, so some gradient flows)."""
    name = draw(st.sampled_from(list(ELEMENTWISE)), label="activation")
    x = draw(arrays(draw(small_shapes(max_side=3), label="shape"), ELEMENTWISE[name][1]), label="x")
    if name == "relu":
        x.flat[0] = abs(x.flat[0])
    return name, x


def _elementwise_edge_cases(test):
    """Pin every activation on a 0-d input and on both signs, out to the ends of [-3, 3]."""
    for name in ELEMENTWISE:
        test = example(case=(name, np.array(1.5)))(test)
        test = example(case=(name, np.array([[3.0, -3.0, 0.25], [-0.25, 1.0, -1.0]])))(test)
    return test


@settings(max_examples=LIGHT)
@given(case=elementwise_case())
@_elementwise_edge_cases
def test_elementwise_activation_gradients_on_drawn_shapes(case):
    """The elementwise rules on hypothesis-drawn shapes and values in [-3, 3] (relu: |x| >= 0.1,
    and its first element positive, so some gradient flows).

    Hint: The elementwise rules must work on 0-d and 3-d inputs: keep them elementwise on arrays (no .sum, no
    reshape), and for gelu check du/dx = GELU_C · (1 + 3 · 0.044715 · x²) inside the product rule.
    """
    name, x = case
    gradcheck(ELEMENTWISE[name][0], [x])


def test_relu_gradient_at_zero_is_zero():
    """relu's kink: the gradient at exactly 0 is 0 (as in PyTorch); at 2 it is the upstream.

    Hint: At exactly 0 relu's gradient is 0 (as in PyTorch): the mask in relu_backward must be x > 0, not x >=
    0, and built from the input (node.inputs[0].data), not from grad.
    """
    x = Tensor(np.array([-1.0, 0.0, 2.0]), requires_grad=True)
    relu(x).backward(np.array([5.0, 5.0, 5.0]))
    assert_close(x.grad, [0.0, 0.0, 5.0], what="relu'(x) * upstream")


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape, axis", [((4,), 0), ((2, 3), -1), ((2, 3), 0), ((2, 2, 3), 1), ((2, 3, 2), -3)])
def test_softmax_gradients_along_any_axis(name, shape, axis):
    """softmax and log_softmax along the given axis (negative ones too): each slice along the
    axis mixes its own elements only.

    Hint: softmax_backward is s · (grad - sum(grad · s)) and log_softmax_backward grad - exp(y) · sum(grad),
    with each sum along node.args["axis"] and keepdims=True; a fixed axis=-1 fails for axis 0 or -3.
    """
    f = softmax if name == "softmax" else log_softmax
    gradcheck(lambda t: f(t, axis=axis), [_values(shape, 2)])


# Any axis of an ndim-dimensional input (negative ones too), built once per ndim rather than once
# per example (hypothesis validates every new strategy it is given).
AXES = {ndim: st.integers(-ndim, ndim - 1) for ndim in (1, 2, 3)}


@st.composite
def softmax_case(draw):
    """An input of a drawn shape (every side >= 2, so no slice is trivially 1) and one of its axes."""
    x = draw(arrays(draw(small_shapes(min_dims=1, min_side=2, max_side=3), label="shape")), label="x")
    return x, draw(AXES[x.ndim], label="axis")


def _softmax_edge_cases(test):
    """Pin both functions on the first, a middle and the last axis, each also written negatively."""
    for name in ("softmax", "log_softmax"):
        for axis in (0, 1, 2, -1, -2, -3):
            test = example(name=name, case=(_values((2, 3, 2), 3), axis))(test)
    return test


@settings(max_examples=LIGHT)
@given(name=st.sampled_from(["softmax", "log_softmax"]), case=softmax_case())
@_softmax_edge_cases
def test_softmax_gradients_on_drawn_shapes(name, case):
    """softmax / log_softmax on drawn shapes (every side >= 2, so no slice is trivially 1) and
    a drawn axis.

    Hint: For a drawn shape and axis the sums in the softmax and log_softmax rules must use node.args["axis"]
    with keepdims=True, so the (…, 1, …) result broadcasts back over that axis.
    """
    x, axis = case
    f = softmax if name == "softmax" else log_softmax
    gradcheck(lambda t: f(t, axis=axis), [x])


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "gelu", "softmax", "log_softmax"])
def test_gradients_stay_finite_at_extreme_inputs(name):
    """At ±1000 (float32) the gradients are finite, with no overflow warning: sigmoid and tanh
    saturate (gradient 0), gelu is 0 or 1, softmax's rows are one-hot.

    Hint: At ±1000 a rule that recomputes np.exp(x) overflows: build sigmoid, tanh, softmax and log_softmax
    rules from node.out (the stable forward output), and let gelu's rule use np.tanh, never raw exponentials.
    """
    f = {"sigmoid": sigmoid, "tanh": tanh, "gelu": gelu, "softmax": softmax, "log_softmax": log_softmax}[name]
    x = Tensor(np.array([[-1000.0, 1000.0, 0.0]], dtype=np.float32), requires_grad=True)
    f(x).backward(np.ones((1, 3), dtype=np.float32))
    assert np.all(np.isfinite(x.grad)), f"{name}: gradient at ±1000 is not finite: {x.grad}"
    expected = {
        "sigmoid": [[0.0, 0.0, 0.25]],
        "tanh": [[0.0, 0.0, 1.0]],
        "gelu": [[0.0, 1.0, 0.5]],
        "softmax": [[0.0, 0.0, 0.0]],  # the rows sum to 1 whatever x is: d(sum)/dx = 0
        "log_softmax": [[1.0, -2.0, 1.0]],  # 1 - 3 · softmax: softmax is [0, 1, 0]
    }[name]
    assert_close(x.grad, expected, atol=1e-6, what=f"{name}'(x) at [-1000, 1000, 0]")
