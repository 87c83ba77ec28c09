"""Step 2: sigmoid — 1 / (1 + e^-x), exact and silent at ±1000, symmetric, and the Sigmoid layer."""

import warnings

import numpy as np
import pytest
from hypothesis import example, given

from dojo.testing import arrays, assert_close, floats, small_shapes
from tinytorch.activations import Sigmoid, sigmoid
from tinytorch.tensor import Tensor


def test_sigmoid_known_values():
    """sigmoid(0) = 0.5, sigmoid(2) = 1 / (1 + e^-2) ≈ 0.8808, sigmoid(-2) ≈ 0.1192.

    Hint: sigmoid(0) must be 0.5 and sigmoid(2) about 0.8808: check the sign in the exponent (e^-x, not e^x)
    and that you return 1 / (1 + e^-x), not its complement.
    """
    out = sigmoid(Tensor(np.array([0.0, 2.0, -2.0])))
    assert_close(out, [0.5, 1 / (1 + np.exp(-2.0)), 1 / (1 + np.exp(2.0))], what="sigmoid([0, 2, -2])")


@given(x=arrays(small_shapes(), elements=floats(-20, 20)))
@example(x=np.array(0.0))  # 0-d, the midpoint
@example(x=np.array([-20.0, -1.0, 0.0, 1.0, 20.0]))  # both ends of the range
def test_sigmoid_matches_closed_form(x):
    """sigmoid(x) equals 1 / (1 + exp(-x)) for moderate x, any shape.

    Hint: For moderate inputs your sigmoid must equal 1 / (1 + np.exp(-x)) on any shape, 0-d included: if you
    pick a formula per sign, check that the x < 0 branch (e^x / (1 + e^x)) is right and np.where covers every
    element.
    """
    assert_close(sigmoid(Tensor(x)), 1 / (1 + np.exp(-x)), what="sigmoid(x)")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_exactly_0_and_1_at_plus_minus_1000_without_warnings(dtype):
    """sigmoid(-1000) is exactly 0 and sigmoid(1000) exactly 1, with no overflow warning.

    1 / (1 + np.exp(-x)) gives the right values, but np.exp(1000) overflows (a RuntimeWarning).
    Arrange the formula so that np.exp only ever sees a number <= 0.

    Hint: The warning comes from np.exp(1000) in sigmoid: compute e = np.exp(-np.abs(x)), which is never above
    1, and choose between 1 / (1 + e) and e / (1 + e) by the sign of x with np.where.
    """
    x = Tensor(np.array([-1000.0, 1000.0], dtype=dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = sigmoid(x)
    assert_close(out, [0.0, 1.0], rtol=0, atol=0, dtype=dtype, what="sigmoid([-1000, 1000])")


@given(x=arrays(small_shapes(), elements=floats(-50, 50)))
@example(x=np.array([-50.0, -36.5, -0.5, 0.0, 0.5, 36.5, 50.0]))  # far tails, where 1 - s(x) cancels
def test_sigmoid_is_symmetric(x):
    """sigmoid(-x) = 1 - sigmoid(x) for every x (the curve is point-symmetric around (0, 0.5)).

    Hint: If sigmoid picks a formula per sign, both branches must be the same function: with e = np.exp(-|x|),
    x >= 0 takes 1 / (1 + e) and x < 0 takes e / (1 + e); check the np.where condition does not swap them.
    """
    assert_close(sigmoid(Tensor(-x)), 1 - sigmoid(Tensor(x)).data, atol=1e-12, what="sigmoid(-x)")


@given(x=arrays(small_shapes(), elements=floats(-1e4, 1e4)))
@example(x=np.array([-1e4, -800.0, 0.0, 800.0, 1e4]))  # where np.exp overflows
@example(x=np.array(-1e4))
def test_sigmoid_stays_in_0_1(x):
    """For any finite input, even ±1e4, every output is finite and in [0, 1] (and no warning).

    Hint: At ±800 and ±1e4 the output left [0, 1] or became nan (inf / inf): no np.exp in sigmoid may see a
    positive argument, so build everything from np.exp(-np.abs(x)).
    """
    out = sigmoid(Tensor(x)).data
    assert np.all((out >= 0) & (out <= 1)), f"sigmoid left [0, 1]: {out}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_keeps_shape_and_dtype(dtype):
    """A (3, 4) float32 input gives a (3, 4) float32 output (float64 stays float64).

    Hint: float32 in must give float32 out: mixing in a float64 array (np.ones, np.array without dtype)
    upcasts the result, so finish with .astype(x.dtype, copy=False).
    """
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(dtype)
    expected = 1 / (1 + np.exp(-x.astype(np.float64)))
    assert_close(sigmoid(Tensor(x)), expected, rtol=1e-5, dtype=dtype, what="sigmoid(x)")


def test_sigmoid_layer_calls_sigmoid():
    """Sigmoid() is a layer with no parameters: Sigmoid()(x) equals sigmoid(x).

    Hint: The Sigmoid class only calls your sigmoid; if this fails, sigmoid gives wrong values on a 2-D input
    with negatives: check that your per-sign np.where is elementwise over the whole array.
    """
    x = np.array([[-1.0, 0.0], [3.0, -0.5]])
    layer = Sigmoid()
    assert layer.parameters() == []
    assert_close(layer(Tensor(x)), 1 / (1 + np.exp(-x)), what="Sigmoid()(x)")


def test_sigmoid_of_an_int_tensor_is_float32():
    """sigmoid(Tensor([0, 2])) is float32 [0.5, 0.8808], as in PyTorch: the scaffolding turns
    integer input into float32 before your code runs (never round a probability to an int).

    Hint: sigmoid receives float32 data here (its @op(floating=True) scaffolding converted the ints): return
    float probabilities in that dtype (e.g. end with .astype(a.dtype, copy=False)); never round or cast to an
    int, and avoid float64 temporaries such as np.array(..., dtype=float).
    """
    assert_close(sigmoid(Tensor([0, 2])), [0.5, 1 / (1 + np.exp(-2.0))], dtype=np.float32, what="sigmoid(int tensor)")
