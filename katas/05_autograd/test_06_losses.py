"""Step 6: rules for the losses of kata 04 — mse, cross-entropy, BCE and BCE with logits."""

import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dojo.testing import arrays, assert_close, floats, gradcheck
from tinytorch.losses import binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, mse_loss
from tinytorch.tensor import Tensor

LIGHT = max(3, settings().max_examples // 4)  # fewer examples for the costlier tests (never above the profile)
REDUCTIONS = ["mean", "sum"]


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _logits_and_targets(seed, n=4, c=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, c)) * 2, rng.integers(0, c, size=n)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_gradient(reduction):
    """mse_loss(pred, target): d/dpred = 2 (pred - target) / N for 'mean' (no /N for 'sum');
    the target, here requiring grad too, gets minus that.

    Hint: mse_backward returns 2 (pred - target) · grad / N for pred and its negative for target, with N =
    pred.data.size only when node.args["reduction"] is 'mean'; both entries of the pair are arrays here.
    """
    rng = np.random.default_rng(0)
    pred = rng.normal(size=(3, 2))
    target = pred + rng.choice([-1.0, 1.0], size=(3, 2)) * rng.uniform(0.2, 2.0, size=(3, 2))
    gradcheck(lambda p, t: mse_loss(p, t, reduction=reduction), [pred, target])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_gradient_is_softmax_minus_onehot(reduction):
    """The closed form: d loss / d logits = (softmax(logits) - onehot(targets)) / N for 'mean',
    without the /N for 'sum'.

    Hint: cross_entropy_backward: stable softmax of each row (subtract the row max), subtract 1 at
    [np.arange(N), targets], divide by N only for 'mean' (N rows, not N · C elements), and return None for the
    targets.
    """
    z, y = _logits_and_targets(seed=1)
    logits = Tensor(z, requires_grad=True)
    cross_entropy(logits, Tensor(y), reduction=reduction).backward()
    expected = _softmax(z) - np.eye(3)[y]
    if reduction == "mean":
        expected /= len(y)
    assert_close(logits.grad, expected, what=f"d cross_entropy(reduction={reduction!r}) / d logits")


# N integer targets in [0, C) for each (N, C) drawn below, built once rather than once per example.
TARGETS = {(n, c): st.lists(st.integers(0, c - 1), min_size=n, max_size=n) for n in (1, 2, 3) for c in (2, 3)}


@st.composite
def logits_and_targets(draw):
    """(N, C) logits in [-3, 3] (N in 1..3, C in 2..3) and N integer targets in [0, C)."""
    n, c = draw(st.integers(1, 3), label="N"), draw(st.integers(2, 3), label="C")
    z = draw(arrays((n, c)), label="logits")
    return z, np.array(draw(TARGETS[n, c], label="targets"))


@settings(max_examples=LIGHT)
@given(case=logits_and_targets(), reduction=st.sampled_from(REDUCTIONS))
@example(case=(np.array([[1.5, -2.0]]), np.array([1])), reduction="mean")  # one row: mean and sum agree
@example(case=_logits_and_targets(seed=5, n=3, c=2), reduction="mean")  # N != C: divide by N, not C
@example(case=_logits_and_targets(seed=6, n=2, c=3), reduction="sum")
def test_cross_entropy_gradient_on_drawn_batches(case, reduction):
    """cross_entropy on drawn (N, C) logits and targets, with a random upstream gradient (the
    loss is a 0-d tensor: its upstream is one number, which the rule must multiply in).

    Hint: The loss is 0-d but its upstream grad is a random number: multiply (softmax - onehot) by grad, and
    divide by N rows (not C classes) for 'mean'.
    """
    z, targets = case
    y = Tensor(targets)
    gradcheck(lambda logits: cross_entropy(logits, y, reduction=reduction), [z])


def test_cross_entropy_gradient_at_extreme_logits():
    """Logits of ±1e4 give a finite gradient, still softmax - onehot: here [0, 1, 0] - [0, 0, 1].

    Hint: np.exp(1e4) overflows to inf and inf / inf is nan: subtract each row's maximum before np.exp in
    cross_entropy_backward, as the forward does.
    """
    logits = Tensor(np.array([[-1e4, 1e4, 0.0]], dtype=np.float32), requires_grad=True)
    cross_entropy(logits, Tensor([2])).backward()
    assert_close(logits.grad, [[0.0, 1.0, -1.0]], what="d cross_entropy / d logits at ±1e4")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_gradient(reduction):
    """binary_cross_entropy(p, t) for p in (0.05, 0.95) and 0/1 targets:
    d/dp = (p - t) / (p (1 - p)) / N.

    Hint: bce_backward: d/dp = (p - t) / (p (1 - p)) times grad, divided by p.size only for 'mean' (see
    node.args["reduction"]); the target, which does not require grad, gets None.
    """
    rng = np.random.default_rng(2)
    p = rng.uniform(0.05, 0.95, size=(2, 3))
    t = Tensor(rng.integers(0, 2, size=(2, 3)).astype(np.float64))
    gradcheck(lambda p: binary_cross_entropy(p, t, reduction=reduction), [p])


@st.composite
def probs_and_targets(draw):
    """Probabilities in [0.05, 0.95] and targets from {0, 0.25, 1}, of shape (1,), (3,) or (2, 2)."""
    shape = draw(st.sampled_from([(1,), (3,), (2, 2)]), label="shape")
    return draw(arrays(shape, floats(0.05, 0.95)), label="p"), draw(arrays(shape, st.sampled_from([0.0, 0.25, 1.0])), label="t")


@settings(max_examples=LIGHT)
@given(case=probs_and_targets())
@example(case=(np.array([0.05, 0.95, 0.5]), np.array([1.0, 0.0, 0.25])))  # both ends of the range
@example(case=(np.array([[0.05, 0.95], [0.3, 0.7]]), np.array([[0.0, 1.0], [0.25, 0.25]])))
def test_bce_gradient_on_drawn_values(case):
    """binary_cross_entropy on drawn probabilities in [0.05, 0.95] and soft targets in [0, 1].

    Hint: With soft targets like 0.25 the formula (p - t) / (p (1 - p)) still holds: do not special-case t ==
    0 or 1, and multiply by the upstream grad.
    """
    p, targets = case
    t = Tensor(targets)
    gradcheck(lambda p: binary_cross_entropy(p, t), [p])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_gradient_at_probabilities_0_and_1_uses_the_documented_floor(reduction):
    """At p exactly 0 or 1 the denominator p (1 - p) is 0: the rule keeps it >= 1e-12 (PyTorch's
    floor), so the gradient is finite and exact, with no divide-by-zero warning:
    (p - t) / 1e-12 / N, i.e. -1e12 / N for p = 0, t = 1 and +1e12 / N for p = 1, t = 0, and 0
    where p equals its target.

    Hint: p (1 - p) is 0 at p = 0 and 1, and dividing by it warns: clamp the denominator with np.maximum(p *
    (1 - p), 1e-12) before dividing, and keep the /N for 'mean'.
    """
    p = Tensor(np.array([0.0, 1.0, 0.0, 1.0]), requires_grad=True)
    t = Tensor(np.array([1.0, 0.0, 0.0, 1.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        binary_cross_entropy(p, t, reduction=reduction).backward()
    n = 4 if reduction == "mean" else 1
    assert_close(p.grad, np.array([-1e12, 1e12, 0.0, 0.0]) / n, rtol=1e-9, atol=0,
                 what=f"d bce(reduction={reduction!r}) / dp at p = [0, 1, 0, 1], t = [1, 0, 0, 1]")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_gradient(reduction):
    """binary_cross_entropy_with_logits(z, t): d/dz = (sigmoid(z) - t) / N; the target, here
    requiring grad too, gets -z / N.

    Hint: bce_logits_backward returns (sigmoid(z) - t) · grad / N for z and -z · grad / N for the target when
    it requires grad ('sum': no /N); a target gradient of None here fails gradcheck.
    """
    rng = np.random.default_rng(3)
    z = rng.normal(size=(2, 3)) * 2
    t = rng.uniform(0.0, 1.0, size=(2, 3))
    gradcheck(lambda z, t: binary_cross_entropy_with_logits(z, t, reduction=reduction), [z, t])


def test_bce_with_logits_gradient_at_extreme_logits():
    """At z = ±1000 (float32) the gradient is finite, sigmoid(z) - t: [1 - 0, 0 - 1] / 2.

    Hint: 1 / (1 + np.exp(-z)) overflows at z = -1000: compute sigmoid(z) stably in bce_logits_backward
    (np.exp(-|z|) and a formula per sign, as in kata 02).
    """
    z = Tensor(np.array([1000.0, -1000.0], dtype=np.float32), requires_grad=True)
    binary_cross_entropy_with_logits(z, Tensor(np.array([0.0, 1.0], dtype=np.float32))).backward()
    assert_close(z.grad, [0.5, -0.5], what="d bce_with_logits / d z at ±1000")


@pytest.mark.parametrize("name", ["mse", "cross_entropy", "bce", "bce_with_logits"])
def test_targets_get_no_gradient(name):
    """Targets that do not require grad (labels, fixed values) get no .grad; the prediction does.

    Hint: Each loss rule returns a pair, (gradient of the prediction, gradient or None for the target): a
    1-tuple is the wrong number of gradients, and cross_entropy's integer targets always get None.
    """
    rng = np.random.default_rng(4)
    pred = Tensor(rng.uniform(0.1, 0.9, size=(3, 2)), requires_grad=True)
    if name == "cross_entropy":
        target = Tensor(np.array([0, 1, 1]))
    else:
        target = Tensor(rng.integers(0, 2, size=(3, 2)).astype(np.float64))
    loss = {
        "mse": mse_loss, "cross_entropy": cross_entropy,
        "bce": binary_cross_entropy, "bce_with_logits": binary_cross_entropy_with_logits,
    }[name]
    loss(pred, target).backward()
    assert pred.grad is not None and pred.grad.shape == pred.shape, "the prediction should get a gradient of its shape"
    assert target.grad is None, "the target does not require grad: it must not get one"
