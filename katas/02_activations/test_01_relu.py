"""Step 1: relu — max(x, 0) elementwise, shape and dtype kept, and the ReLU layer."""

import numpy as np
import pytest
from hypothesis import example, given

from dojo.testing import arrays, assert_close, small_shapes
from tinytorch.activations import ReLU, relu
from tinytorch.tensor import Tensor


def test_relu_known_values():
    """relu([-2, -0.5, 0, 0.5, 2]) is [0, 0, 0, 0.5, 2]: negatives become 0, the rest is kept.

    Hint: relu in tinytorch/activations.py must zero the negatives and keep 0.5 and 2 unchanged: compare each
    element with 0 (np.maximum), not with a sign test that also changes the positives.
    """
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    assert_close(relu(Tensor(x)), [0.0, 0.0, 0.0, 0.5, 2.0], what="relu(x)")


@given(x=arrays(small_shapes()))
@example(x=np.array(-1.5))  # 0-d
@example(x=np.array(2.0))
@example(x=np.array([[-3.0, -0.0, 0.0], [1e-300, -1e-300, 3.0]]))  # zeros of both signs, tiny values
def test_relu_matches_numpy(x):
    """relu(x) equals np.maximum(x, 0) for any shape, including 0-d.

    Hint: This runs on every shape, 0-d included, and on -0.0 and tiny values: work on the whole array x.data
    at once (np.maximum) instead of looping over rows or indexing x.data[0].
    """
    assert_close(relu(Tensor(x)), np.maximum(x, 0), what="relu(x)")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_keeps_shape_and_dtype(dtype):
    """A (2, 3, 4) float32 input gives a (2, 3, 4) float32 output (float64 stays float64).

    Hint: A float32 input must give float32 back: check that nothing in relu turns it into float64 (a Python
    list, np.array without dtype) and cast back with .astype(x.dtype, copy=False) if needed.
    """
    x = np.random.default_rng(0).normal(size=(2, 3, 4)).astype(dtype)
    assert_close(relu(Tensor(x)), np.maximum(x, 0), dtype=dtype, what="relu(x)")


def test_relu_does_not_modify_its_input():
    """relu returns a new array: the input tensor still holds its negative values afterwards.

    Hint: relu wrote into the input's array (x.data[x.data < 0] = 0, or np.maximum(..., out=x.data)): build
    and return a new array instead.
    """
    x = Tensor([-1.0, 2.0, -3.0])
    relu(x)
    assert_close(x, [-1.0, 2.0, -3.0], what="the input after relu(x)")


def test_relu_layer_calls_relu():
    """ReLU() is a layer with no parameters: ReLU()(x) equals relu(x).

    Hint: The ReLU class is already written and just calls relu(x); if this fails, relu itself returns the
    wrong thing for a 2-D input: run relu(Tensor([[-1.0, 0.5]])) and look at the result.
    """
    x = np.array([[-1.0, 0.5], [2.0, -0.25]])
    layer = ReLU()
    assert layer.parameters() == []
    assert_close(layer(Tensor(x)), np.maximum(x, 0), what="ReLU()(x)")
