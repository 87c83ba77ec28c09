"""Step 5: rules for the activations of kata 02 — relu, sigmoid, tanh, gelu, softmax, log_softmax."""

import numpy as np
import pytest
from hypothesis import given, settings
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
    of both signs."""
    f, _ = ELEMENTWISE[name]
    gradcheck(f, [_values((2, 3), 1)])


@settings(max_examples=LIGHT)
@given(name=st.sampled_from(list(ELEMENTWISE)), data=st.data())
def test_elementwise_activation_gradients_on_drawn_shapes(name, data):
    """The elementwise rules on hypothesis-drawn shapes and values in [-3, 3] (relu: |x| >= 0.1,
    and its first element positive, so some gradient flows)."""
    f, elements = ELEMENTWISE[name]
    x = data.draw(arrays(data.draw(small_shapes(max_side=3), label="shape"), elements), label="x")
    if name == "relu":
        x.flat[0] = abs(x.flat[0])
    gradcheck(f, [x])


def test_relu_gradient_at_zero_is_zero():
    """relu's kink: the gradient at exactly 0 is 0 (as in PyTorch); at 2 it is the upstream."""
    x = Tensor(np.array([-1.0, 0.0, 2.0]), requires_grad=True)
    relu(x).backward(np.array([5.0, 5.0, 5.0]))
    assert_close(x.grad, [0.0, 0.0, 5.0], what="relu'(x) * upstream")


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape, axis", [((4,), 0), ((2, 3), -1), ((2, 3), 0), ((2, 2, 3), 1), ((2, 3, 2), -3)])
def test_softmax_gradients_along_any_axis(name, shape, axis):
    """softmax and log_softmax along the given axis (negative ones too): each slice along the
    axis mixes its own elements only."""
    f = softmax if name == "softmax" else log_softmax
    gradcheck(lambda t: f(t, axis=axis), [_values(shape, 2)])


@settings(max_examples=LIGHT)
@given(name=st.sampled_from(["softmax", "log_softmax"]), data=st.data())
def test_softmax_gradients_on_drawn_shapes(name, data):
    """softmax / log_softmax on drawn shapes (every side >= 2, so no slice is trivially 1) and
    a drawn axis."""
    shape = data.draw(small_shapes(min_dims=1, min_side=2, max_side=3), label="shape")
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    f = softmax if name == "softmax" else log_softmax
    gradcheck(lambda t: f(t, axis=axis), [data.draw(arrays(shape), label="x")])


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "gelu", "softmax", "log_softmax"])
def test_gradients_stay_finite_at_extreme_inputs(name):
    """At ±1000 (float32) the gradients are finite, with no overflow warning: sigmoid and tanh
    saturate (gradient 0), gelu is 0 or 1, softmax's rows are one-hot."""
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
