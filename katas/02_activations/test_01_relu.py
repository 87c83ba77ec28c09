"""Step 1: relu — max(x, 0) elementwise, shape and dtype kept, and the ReLU layer."""

import numpy as np
import pytest
from hypothesis import example, given

from dojo.testing import arrays, assert_close, small_shapes
from tinytorch.activations import ReLU, relu
from tinytorch.tensor import Tensor


def test_relu_known_values():
    """relu([-2, -0.5, 0, 0.5, 2]) is [0, 0, 0, 0.5, 2]: negatives become 0, the rest is kept."""
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    assert_close(relu(Tensor(x)), [0.0, 0.0, 0.0, 0.5, 2.0], what="relu(x)")


@given(x=arrays(small_shapes()))
@example(x=np.array(-1.5))  # 0-d
@example(x=np.array(2.0))
@example(x=np.array([[-3.0, -0.0, 0.0], [1e-300, -1e-300, 3.0]]))  # zeros of both signs, tiny values
def test_relu_matches_numpy(x):
    """relu(x) equals np.maximum(x, 0) for any shape, including 0-d."""
    assert_close(relu(Tensor(x)), np.maximum(x, 0), what="relu(x)")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_keeps_shape_and_dtype(dtype):
    """A (2, 3, 4) float32 input gives a (2, 3, 4) float32 output (float64 stays float64)."""
    x = np.random.default_rng(0).normal(size=(2, 3, 4)).astype(dtype)
    assert_close(relu(Tensor(x)), np.maximum(x, 0), dtype=dtype, what="relu(x)")


def test_relu_does_not_modify_its_input():
    """relu returns a new array: the input tensor still holds its negative values afterwards."""
    x = Tensor([-1.0, 2.0, -3.0])
    relu(x)
    assert_close(x, [-1.0, 2.0, -3.0], what="the input after relu(x)")


def test_relu_layer_calls_relu():
    """ReLU() is a layer with no parameters: ReLU()(x) equals relu(x)."""
    x = np.array([[-1.0, 0.5], [2.0, -0.25]])
    layer = ReLU()
    assert layer.parameters() == []
    assert_close(layer(Tensor(x)), np.maximum(x, 0), what="ReLU()(x)")
