"""Step 1: mse_loss — mean((pred - target)²), reductions, shape errors, and the MSELoss class."""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from dojo.testing import arrays, assert_close, small_shapes
from tinytorch.losses import MSELoss, mse_loss
from tinytorch.tensor import Tensor


@st.composite
def pred_and_target(draw):
    """Two float64 arrays of the same small shape (0-d included)."""
    shape = draw(small_shapes())
    return draw(arrays(shape), label="pred"), draw(arrays(shape), label="target")


def test_mse_known_value():
    """mse([1, 3], [0, 0]) = (1² + 3²) / 2 = 5."""
    assert_close(mse_loss(Tensor([1.0, 3.0]), Tensor([0.0, 0.0])), 5.0, what="mse_loss([1, 3], [0, 0])")


@given(case=pred_and_target())
@example(case=(np.array(2.5), np.array(-1.0)))  # 0-d
@example(case=(np.array([[1.0, -2.0, 3.0], [0.5, 0.0, -3.0]]), np.array([[0.0, 1.0, -3.0], [0.5, 2.0, 3.0]])))
@example(case=(np.array([1.0, 2.0]), np.array([1.0, 2.0])))  # a perfect prediction
def test_mse_matches_closed_form(case):
    """mse_loss(pred, target) = mean((pred - target)²) over every element, as a 0-d tensor."""
    pred, target = case
    assert_close(mse_loss(Tensor(pred), Tensor(target)), np.mean((pred - target) ** 2), what="mse_loss(pred, target)")


def test_mse_of_perfect_prediction_is_zero():
    """A prediction equal to its target costs nothing."""
    x = np.random.default_rng(0).normal(size=(4, 3))
    assert_close(mse_loss(Tensor(x), Tensor(x.copy())), 0.0, what="mse_loss(x, x)")


@given(case=pred_and_target())
@example(case=(np.array(2.5), np.array(-1.0)))  # 0-d
@example(case=(np.array([[1.0, -2.0, 3.0], [0.5, 0.0, -3.0]]), np.array([[0.0, 1.0, -3.0], [0.5, 2.0, 3.0]])))
@example(case=(np.array([1.0, 2.0]), np.array([1.0, 2.0])))  # a perfect prediction
def test_mse_sum_reduction(case):
    """reduction="sum" adds the squared errors instead of averaging them: sum = mean · (number of elements)."""
    pred, target = case
    assert_close(mse_loss(Tensor(pred), Tensor(target), reduction="sum"), np.sum((pred - target) ** 2),
                 what='mse_loss(pred, target, reduction="sum")')


@pytest.mark.parametrize("reduction", ["avg", "none"])
def test_mse_rejects_an_unknown_reduction(reduction):
    """reduction must be "mean" or "sum": anything else ("avg", "none") raises a ValueError
    whose message says "reduction" (the scaffolding _reduce does this for you)."""
    with pytest.raises(ValueError, match="reduction"):
        mse_loss(Tensor([1.0, 2.0]), Tensor([0.0, 0.0]), reduction=reduction)


def test_mse_shape_mismatch_names_both_shapes():
    """pred (3,) and target (3, 1) would broadcast to (3, 3) and silently give a wrong loss:
    raise a ValueError that names both shapes, "(3,)" and "(3, 1)"."""
    with pytest.raises(ValueError) as error:
        mse_loss(Tensor(np.zeros(3)), Tensor(np.zeros((3, 1))))
    message = str(error.value)
    assert "(3,)" in message and "(3, 1)" in message, f"the message should name both shapes, got: {message}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mse_returns_a_0d_tensor_of_the_input_dtype(dtype):
    """The loss is one number: a 0-d tensor (shape ()) of the prediction's dtype, float32 kept."""
    rng = np.random.default_rng(1)
    pred, target = rng.normal(size=(5, 2)).astype(dtype), rng.normal(size=(5, 2)).astype(dtype)
    assert_close(mse_loss(Tensor(pred), Tensor(target)), np.mean((pred.astype(np.float64) - target) ** 2),
                 dtype=dtype, what="mse_loss(pred, target)")


def test_mse_loss_class():
    """MSELoss()(pred, target) is mse_loss(pred, target); MSELoss(reduction="sum") sums."""
    pred, target = Tensor([1.0, 3.0]), Tensor([0.0, 1.0])
    assert_close(MSELoss()(pred, target), 2.5, what="MSELoss()(pred, target)")
    assert_close(MSELoss(reduction="sum")(pred, target), 5.0, what='MSELoss(reduction="sum")(pred, target)')
