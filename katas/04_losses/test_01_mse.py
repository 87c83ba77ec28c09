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
    """mse([1, 3], [0, 0]) = (1² + 3²) / 2 = 5.

    Hint: mse([1, 3], [0, 0]) must be 5: in mse_loss square the difference pred.data - target.data (not the
    absolute value) and average it, rather than summing or taking a square root.
    """
    assert_close(mse_loss(Tensor([1.0, 3.0]), Tensor([0.0, 0.0])), 5.0, what="mse_loss([1, 3], [0, 0])")


@given(case=pred_and_target())
@example(case=(np.array(2.5), np.array(-1.0)))  # 0-d
@example(case=(np.array([[1.0, -2.0, 3.0], [0.5, 0.0, -3.0]]), np.array([[0.0, 1.0, -3.0], [0.5, 2.0, 3.0]])))
@example(case=(np.array([1.0, 2.0]), np.array([1.0, 2.0])))  # a perfect prediction
def test_mse_matches_closed_form(case):
    """mse_loss(pred, target) = mean((pred - target)²) over every element, as a 0-d tensor.

    Hint: mse_loss must average over every element of any shape, 0-d included: pass the squared differences to
    _reduce (which calls .mean() with no axis), not a mean along axis 0 or 1.
    """
    pred, target = case
    assert_close(mse_loss(Tensor(pred), Tensor(target)), np.mean((pred - target) ** 2), what="mse_loss(pred, target)")


def test_mse_of_perfect_prediction_is_zero():
    """A prediction equal to its target costs nothing.

    Hint: Equal pred and target must give exactly 0: check that mse_loss subtracts target from pred (not adds)
    and returns the mean of the squares, with no constant or epsilon added.
    """
    x = np.random.default_rng(0).normal(size=(4, 3))
    assert_close(mse_loss(Tensor(x), Tensor(x.copy())), 0.0, what="mse_loss(x, x)")


@given(case=pred_and_target())
@example(case=(np.array(2.5), np.array(-1.0)))  # 0-d
@example(case=(np.array([[1.0, -2.0, 3.0], [0.5, 0.0, -3.0]]), np.array([[0.0, 1.0, -3.0], [0.5, 2.0, 3.0]])))
@example(case=(np.array([1.0, 2.0]), np.array([1.0, 2.0])))  # a perfect prediction
def test_mse_sum_reduction(case):
    """reduction="sum" adds the squared errors instead of averaging them: sum = mean · (number of elements).

    Hint: reduction="sum" must reach the reduction step: pass the reduction argument through to
    _reduce(values, reduction) in mse_loss instead of always averaging.
    """
    pred, target = case
    assert_close(mse_loss(Tensor(pred), Tensor(target), reduction="sum"), np.sum((pred - target) ** 2),
                 what='mse_loss(pred, target, reduction="sum")')


@pytest.mark.parametrize("reduction", ["avg", "none"])
def test_mse_rejects_an_unknown_reduction(reduction):
    """reduction must be "mean" or "sum": anything else ("avg", "none") raises a ValueError
    whose message says "reduction" (the scaffolding _reduce does this for you).

    Hint: "avg" and "none" must raise ValueError mentioning "reduction": hand the reduction to the scaffolding
    _reduce, which already does this, rather than branching on it yourself with a silent default.
    """
    with pytest.raises(ValueError, match="reduction"):
        mse_loss(Tensor([1.0, 2.0]), Tensor([0.0, 0.0]), reduction=reduction)


def test_mse_shape_mismatch_names_both_shapes():
    """pred (3,) and target (3, 1) would broadcast to (3, 3) and silently give a wrong loss:
    raise a ValueError that names both shapes, "(3,)" and "(3, 1)".

    Hint: (3,) against (3, 1) broadcasts silently in NumPy: call _check_same_shape("mse_loss", pred, target)
    at the top of mse_loss, before any arithmetic.
    """
    with pytest.raises(ValueError) as error:
        mse_loss(Tensor(np.zeros(3)), Tensor(np.zeros((3, 1))))
    message = str(error.value)
    assert "(3,)" in message and "(3, 1)" in message, f"the message should name both shapes, got: {message}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mse_returns_a_0d_tensor_of_the_input_dtype(dtype):
    """The loss is one number: a 0-d tensor (shape ()) of the prediction's dtype, float32 kept.

    Hint: The loss must be a 0-d array of pred's dtype: return the NumPy result of _reduce (not float(...),
    .item() or a Python list), and do not build float64 arrays that upcast float32 inputs.
    """
    rng = np.random.default_rng(1)
    pred, target = rng.normal(size=(5, 2)).astype(dtype), rng.normal(size=(5, 2)).astype(dtype)
    assert_close(mse_loss(Tensor(pred), Tensor(target)), np.mean((pred.astype(np.float64) - target) ** 2),
                 dtype=dtype, what="mse_loss(pred, target)")


def test_mse_loss_class():
    """MSELoss()(pred, target) is mse_loss(pred, target); MSELoss(reduction="sum") sums.

    Hint: MSELoss is already written and only calls mse_loss with its reduction: if this fails, mse_loss
    itself is wrong for [1, 3] vs [0, 1] (mean 2.5, sum 5).
    """
    pred, target = Tensor([1.0, 3.0]), Tensor([0.0, 1.0])
    assert_close(MSELoss()(pred, target), 2.5, what="MSELoss()(pred, target)")
    assert_close(MSELoss(reduction="sum")(pred, target), 5.0, what='MSELoss(reduction="sum")(pred, target)')
