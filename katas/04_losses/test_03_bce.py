"""Step 3: binary cross-entropy — from probabilities (clamped logs) and from logits (stable), and the classes."""

import warnings

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from dojo.testing import arrays, assert_close, floats, small_shapes
from tinytorch.activations import sigmoid
from tinytorch.losses import BCELoss, BCEWithLogitsLoss, binary_cross_entropy, binary_cross_entropy_with_logits
from tinytorch.tensor import Tensor


def _bce(p, t):
    """Per-element BCE from the definition, float64 (for p strictly inside (0, 1))."""
    return -(t * np.log(p) + (1 - t) * np.log(1 - p))


@st.composite
def probs_and_targets(draw, low=0.01, high=0.99):
    """Probabilities in [low, high] and targets in [0, 1] of the same small shape."""
    shape = draw(small_shapes(min_dims=1))
    return draw(arrays(shape, elements=floats(low, high)), label="p"), draw(arrays(shape, elements=floats(0, 1)), label="t")


@st.composite
def logits_and_targets(draw):
    """Logits in [-10, 10] and targets in [0, 1] of the same small shape."""
    shape = draw(small_shapes(min_dims=1))
    return draw(arrays(shape, elements=floats(-10, 10)), label="z"), draw(arrays(shape, elements=floats(0, 1)), label="t")


def test_bce_known_value():
    """p = 0.5 costs log 2 ≈ 0.6931 whatever the target; p = 0.9 for target 1 costs -log 0.9.

    Hint: p = 0.5 must cost log 2 for either target: in binary_cross_entropy use both terms, -(t·log p +
    (1-t)·log(1-p)), with the minus sign in front, then _reduce.
    """
    assert_close(binary_cross_entropy(Tensor([0.5, 0.5]), Tensor([1.0, 0.0])), np.log(2), what="bce([0.5, 0.5], [1, 0])")
    assert_close(binary_cross_entropy(Tensor([0.9]), Tensor([1.0])), -np.log(0.9), what="bce([0.9], [1])")


@given(case=probs_and_targets())
@example(case=(np.array([0.01, 0.99, 0.5]), np.array([1.0, 0.0, 0.25])))  # both ends of the range, a soft target
@example(case=(np.array([[0.2, 0.7], [0.99, 0.01]]), np.array([[0.0, 1.0], [1.0, 0.0]])))  # 2-D
def test_bce_matches_closed_form(case):
    """binary_cross_entropy(p, t) = mean(-(t·log p + (1-t)·log(1-p))).

    Hint: Targets can be soft (0.25), so keep the full formula t·log p + (1-t)·log(1-p) instead of choosing
    one log by t == 1; check that each log pairs with the right factor (log p with t).
    """
    p, t = case
    assert_close(binary_cross_entropy(Tensor(p), Tensor(t)), _bce(p, t).mean(), what="binary_cross_entropy(p, t)")


@given(case=probs_and_targets())
@example(case=(np.array([0.01, 0.99, 0.5]), np.array([1.0, 0.0, 0.25])))  # both ends of the range, a soft target
@example(case=(np.array([[0.2, 0.7], [0.99, 0.01]]), np.array([[0.0, 1.0], [1.0, 0.0]])))  # 2-D
def test_bce_sum_reduction(case):
    """reduction="sum" adds the per-element losses instead of averaging them.

    Hint: reduction="sum" must add the per-element losses: pass the reduction to _reduce in
    binary_cross_entropy instead of always averaging.
    """
    p, t = case
    assert_close(binary_cross_entropy(Tensor(p), Tensor(t), reduction="sum"), _bce(p, t).sum(),
                 what='binary_cross_entropy(p, t, reduction="sum")')


def test_bce_at_probabilities_0_and_1_is_finite():
    """p exactly 0 or 1 (a saturated sigmoid) stays finite: each log is clamped at -100, as in
    PyTorch. Confidently wrong costs 100, confidently right costs 0 (not 0 · -inf = nan), and
    no divide-by-zero warning escapes.

    Hint: log(0) = -inf and 0 · -inf = nan: clamp each log at LOG_FLOOR (-100) with np.maximum before
    multiplying by t or 1 - t, and silence the expected divide-by-zero with np.errstate(divide="ignore").
    """
    p = Tensor([0.0, 1.0, 0.0, 1.0])
    t = Tensor([1.0, 0.0, 0.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = binary_cross_entropy(p, t, reduction="sum")
    assert_close(out, 200.0, what="bce([0, 1, 0, 1], [1, 0, 0, 1], reduction='sum')")


@pytest.mark.parametrize("bad", [1.5, -0.1])
def test_bce_rejects_probabilities_outside_0_1(bad):
    """BCE takes probabilities: an input of 1.5 or -0.1 (maybe you passed logits?) raises a ValueError.

    Hint: binary_cross_entropy must raise ValueError when any p is below 0 or above 1 (a sign that logits were
    passed): check p.min() and p.max() before taking logs.
    """
    with pytest.raises(ValueError):
        binary_cross_entropy(Tensor([0.5, bad]), Tensor([1.0, 0.0]))


@pytest.mark.parametrize("fn", [binary_cross_entropy, binary_cross_entropy_with_logits], ids=["probs", "logits"])
def test_bce_shape_mismatch_names_both_shapes(fn):
    """Input (4,) and target (4, 1) raise a ValueError naming both shapes (no broadcasting),
    for binary_cross_entropy and binary_cross_entropy_with_logits alike.

    Hint: Both BCE functions must call _check_same_shape(name, input, target) first; the logits version is
    easy to forget, and (4,) against (4, 1) otherwise broadcasts silently.
    """
    with pytest.raises(ValueError) as error:
        fn(Tensor(np.full(4, 0.5)), Tensor(np.zeros((4, 1))))
    message = str(error.value)
    assert "(4,)" in message and "(4, 1)" in message, f"{fn.__name__}: the message should name both shapes, got: {message}"


@given(case=logits_and_targets())
@example(case=(np.array([-10.0, 0.0, 10.0]), np.array([1.0, 0.5, 0.0])))  # both ends, z = 0
@example(case=(np.array([[-10.0, 10.0], [3.0, -3.0]]), np.array([[0.0, 1.0], [0.25, 0.75]])))
def test_bce_with_logits_equals_bce_of_sigmoid(case):
    """binary_cross_entropy_with_logits(z, t) = binary_cross_entropy(sigmoid(z), t) where the
    latter is accurate (|z| <= 10).

    Hint: binary_cross_entropy_with_logits must equal BCE of sigmoid(z): check the formula max(z, 0) - z·t +
    log(1 + e^-|z|), in particular the sign of z·t and the absolute value in the exponent.
    """
    z, t = case
    expected = _bce(1 / (1 + np.exp(-z)), t).mean()
    assert_close(binary_cross_entropy_with_logits(Tensor(z), Tensor(t)), expected, what="bce_with_logits(z, t)")
    assert_close(binary_cross_entropy_with_logits(Tensor(z), Tensor(t)),
                 binary_cross_entropy(sigmoid(Tensor(z)), Tensor(t)).data, what="bce_with_logits(z, t) vs bce(sigmoid(z), t)")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_is_exact_at_plus_minus_1000(dtype):
    """Logits of ±1000 give exact, finite losses with no warning: confidently wrong costs |z| =
    1000, confidently right costs 0. (BCE of sigmoid would clamp at 100; log(1 + e^1000) overflows.)

    Use loss = max(z, 0) - z·t + log(1 + e^-|z|).

    Hint: Going through sigmoid clamps at 100 and log(1 + e^1000) overflows: binary_cross_entropy_with_logits
    needs its own formula whose exponent is -|z| (use np.log1p(np.exp(-np.abs(z)))).
    """
    z = Tensor(np.array([1000.0, -1000.0, 1000.0, -1000.0], dtype=dtype))
    t = Tensor(np.array([0.0, 1.0, 1.0, 0.0], dtype=dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = binary_cross_entropy_with_logits(z, t, reduction="sum")
    assert_close(out, 2000.0, dtype=dtype, what="bce_with_logits([1000, -1000, 1000, -1000], [0, 1, 1, 0], reduction='sum')")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_losses_return_a_0d_tensor_of_the_input_dtype(dtype):
    """Both BCE losses are 0-d tensors (shape ()) of the input's dtype: float32 stays float32.

    Hint: float32 inputs must give a 0-d float32 loss from both BCE functions: watch for float64 constants or
    arrays (np.float64(LOG_FLOOR), np.ones) that upcast, and return the 0-d array _reduce gives.
    """
    rng = np.random.default_rng(0)
    z = rng.normal(size=(3, 2)).astype(dtype)
    t = (rng.random((3, 2)) > 0.5).astype(dtype)
    p = 1 / (1 + np.exp(-z.astype(np.float64)))
    assert_close(binary_cross_entropy(Tensor(p.astype(dtype)), Tensor(t)), _bce(p, t).mean(), rtol=1e-4, dtype=dtype, what="bce(p, t)")
    assert_close(binary_cross_entropy_with_logits(Tensor(z), Tensor(t)), _bce(p, t).mean(), rtol=1e-4, dtype=dtype,
                 what="bce_with_logits(z, t)")


def test_bce_loss_classes():
    """BCELoss()(p, t) is binary_cross_entropy(p, t); BCEWithLogitsLoss()(z, t) is the logits
    version; both take reduction="sum".

    Hint: BCELoss and BCEWithLogitsLoss are written and call your two functions with their reduction: if this
    fails, binary_cross_entropy or binary_cross_entropy_with_logits is wrong on z = [-2, 0, 3], t = [0, 1, 1].
    """
    z = np.array([-2.0, 0.0, 3.0])
    t = np.array([0.0, 1.0, 1.0])
    p = 1 / (1 + np.exp(-z))
    expected = _bce(p, t)
    assert_close(BCELoss()(Tensor(p), Tensor(t)), expected.mean(), what="BCELoss()(p, t)")
    assert_close(BCELoss(reduction="sum")(Tensor(p), Tensor(t)), expected.sum(), what='BCELoss(reduction="sum")(p, t)')
    assert_close(BCEWithLogitsLoss()(Tensor(z), Tensor(t)), expected.mean(), what="BCEWithLogitsLoss()(z, t)")
    assert_close(BCEWithLogitsLoss(reduction="sum")(Tensor(z), Tensor(t)), expected.sum(),
                 what='BCEWithLogitsLoss(reduction="sum")(z, t)')
