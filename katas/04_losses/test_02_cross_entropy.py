"""Step 2: cross_entropy — from logits with log-sum-exp, integer targets, and CrossEntropyLoss."""

import warnings

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dojo.testing import arrays, assert_close, floats
from tinytorch.losses import CrossEntropyLoss, cross_entropy
from tinytorch.tensor import Tensor


def _cross_entropy(logits, targets):
    """Per-row losses, straight from the definition in float64: -log(exp(z_y) / sum(exp(z)))."""
    z = np.asarray(logits, dtype=np.float64)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return -np.log(p[np.arange(len(targets)), targets])


@st.composite
def logits_and_targets(draw):
    """(N, C) float64 logits in [-5, 5] and N integer targets in [0, C)."""
    n, c = draw(st.integers(1, 4), label="N"), draw(st.integers(2, 5), label="C")
    logits = draw(arrays((n, c), elements=floats(-5, 5)), label="logits")
    targets = draw(hnp.arrays(np.int64, n, elements=st.integers(0, c - 1)), label="targets")
    return logits, targets


def test_cross_entropy_known_value():
    """logits [2, 0, 0], target 0: log(e² + 1 + 1) - 2 = log(1 + 2e⁻²) ≈ 0.23954.

    Hint: For logits [2, 0, 0] and target 0 the loss is logsumexp(row) - row[0] ≈ 0.2395: check the sign (the
    loss is positive) and that you pick the target's logit, not the row's maximum.
    """
    assert_close(cross_entropy(Tensor([[2.0, 0.0, 0.0]]), Tensor([0])), 0.23954476622188453,
                 what="cross_entropy([[2, 0, 0]], [0])")


@given(case=logits_and_targets())
@example(case=(np.array([[5.0, -5.0]]), np.array([1])))  # one row, confidently wrong
@example(case=(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [-5.0, 5.0, 0.5]]), np.array([2, 0, 0])))  # N != C
@example(case=(np.array([[0.5, -1.0, 2.0, 4.0, -3.0], [1.0, 1.0, 1.0, 1.0, 1.0]]), np.array([4, 0])))  # last class; equal logits
def test_cross_entropy_matches_definition(case):
    """cross_entropy = mean over rows of -log(softmax(row)[target]).

    Hint: Each row must use its own target: pick z[np.arange(N), targets] (fancy indexing), not z[:, targets],
    which makes an (N, N) array and is wrong as soon as N differs from C.
    """
    logits, targets = case
    assert_close(cross_entropy(Tensor(logits), Tensor(targets)), _cross_entropy(logits, targets).mean(),
                 what="cross_entropy(logits, targets)")


@given(case=logits_and_targets())
@example(case=(np.array([[5.0, -5.0]]), np.array([1])))  # one row, confidently wrong
@example(case=(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [-5.0, 5.0, 0.5]]), np.array([2, 0, 0])))  # N != C
@example(case=(np.array([[0.5, -1.0, 2.0, 4.0, -3.0], [1.0, 1.0, 1.0, 1.0, 1.0]]), np.array([4, 0])))  # last class; equal logits
def test_cross_entropy_sum_reduction(case):
    """reduction="sum" adds the per-row losses instead of averaging them.

    Hint: reduction="sum" must add the N per-row losses: compute a (N,) vector of row losses first and pass it
    to _reduce(values, reduction), rather than averaging before the reduction is applied.
    """
    logits, targets = case
    assert_close(cross_entropy(Tensor(logits), Tensor(targets), reduction="sum"), _cross_entropy(logits, targets).sum(),
                 what='cross_entropy(logits, targets, reduction="sum")')


@pytest.mark.parametrize("classes", [2, 3, 10])
def test_cross_entropy_of_uniform_logits_is_log_c(classes):
    """A model that knows nothing (all C logits equal) pays log(C) per example, whatever the target.

    Hint: All-equal logits must cost log(C) per row: check that logsumexp sums exp(z - m) over the class axis
    (axis=1), not over the rows, and that m is added back per row.
    """
    logits = np.full((4, classes), 1.5)
    targets = np.arange(4) % classes
    assert_close(cross_entropy(Tensor(logits), Tensor(targets)), np.log(classes), what=f"cross_entropy of uniform logits, C={classes}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_finite_and_right_at_large_logits(dtype):
    """Logits of ±1e4 give exact, finite losses and no warning: right and confident costs 0,
    wrong and confident costs the gap (1e4 or 2e4).

    np.exp(1e4) overflows and log(softmax) can be log(0): use logsumexp(z) - z[target] with
    logsumexp(z) = m + log(sum(exp(z - m))), m = max(z).

    Hint: np.exp(1e4) overflows and log(softmax) hits log(0): in cross_entropy compute logsumexp as m +
    log(sum(exp(z - m))) with m the row maximum (keepdims=True), then subtract the target's logit.
    """
    logits = np.array([[1e4, 0.0, -1e4]] * 3, dtype=dtype)
    targets = np.array([0, 1, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = cross_entropy(Tensor(logits), Tensor(targets), reduction="sum")
    assert_close(out, 0.0 + 1e4 + 2e4, dtype=dtype, what="cross_entropy at logits ±1e4 (sum of rows)")


@pytest.mark.parametrize(
    "logits_shape, targets_shape", [((3, 4), (2,)), ((4,), (1,)), ((3, 4), (3, 1))], ids=["wrong_N", "1d_logits", "2d_targets"]
)
def test_cross_entropy_checks_shapes(logits_shape, targets_shape):
    """logits must be (N, C) and targets (N,): any other pair raises a ValueError naming both shapes.

    Hint: cross_entropy must raise ValueError, naming both shapes, unless logits.ndim == 2 and targets.shape
    == (N,): check both conditions before any indexing, including 2-D (N, 1) targets.
    """
    with pytest.raises(ValueError) as error:
        cross_entropy(Tensor(np.zeros(logits_shape)), Tensor(np.zeros(targets_shape, dtype=np.int64)))
    message = str(error.value)
    assert str(logits_shape) in message and str(targets_shape) in message, f"the message should name both shapes, got: {message}"


def test_cross_entropy_requires_integer_targets():
    """Targets are class ids: float targets like [0.0, 1.0] raise a ValueError.

    Hint: A float target 1.0 is not a class id: test targets.data.dtype.kind (integer kinds are "i" and "u")
    and raise ValueError, before NumPy gets to index with it.
    """
    with pytest.raises(ValueError):
        cross_entropy(Tensor(np.zeros((2, 3))), Tensor([0.0, 1.0]))


@pytest.mark.parametrize("bad", [3, -1])
def test_cross_entropy_rejects_out_of_range_targets(bad):
    """With C = 3 classes, target 3 raises a ValueError, and so does -1 (NumPy would quietly
    read it as "the last class").

    Hint: NumPy reads index -1 as the last class and raises IndexError (not ValueError) for 3: check
    targets.min() >= 0 and targets.max() < C yourself and raise ValueError.
    """
    with pytest.raises(ValueError):
        cross_entropy(Tensor(np.zeros((2, 3))), Tensor([0, bad]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_returns_a_0d_tensor_of_the_logits_dtype(dtype):
    """The loss is a 0-d tensor (shape ()) of the logits' dtype: float32 logits give a float32 loss.

    Hint: float32 logits must give a 0-d float32 loss: avoid casting the logits to float64 (np.asarray(...,
    dtype=float)) and return the NumPy result of _reduce, not a Python float.
    """
    logits = np.random.default_rng(0).normal(size=(3, 4)).astype(dtype)
    targets = np.array([3, 0, 1])
    assert_close(cross_entropy(Tensor(logits), Tensor(targets)), _cross_entropy(logits, targets).mean(),
                 dtype=dtype, what="cross_entropy(logits, targets)")


def test_cross_entropy_loss_class():
    """CrossEntropyLoss()(logits, targets) is cross_entropy(logits, targets); reduction="sum" sums.

    Hint: CrossEntropyLoss is already written and calls cross_entropy with its reduction: if this fails,
    cross_entropy itself is wrong on [[2, 0, 0], [0, 0, 0]] with targets [0, 2].
    """
    logits = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    targets = np.array([0, 2])
    per_row = _cross_entropy(logits, targets)
    assert_close(CrossEntropyLoss()(Tensor(logits), Tensor(targets)), per_row.mean(), what="CrossEntropyLoss()(...)")
    assert_close(CrossEntropyLoss(reduction="sum")(Tensor(logits), Tensor(targets)), per_row.sum(),
                 what='CrossEntropyLoss(reduction="sum")(...)')
