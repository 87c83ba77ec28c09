"""Step 2: sgd — plain gradient descent steps, L2 weight decay, skipping parameters without gradients."""

import numpy as np
import pytest

from dojo.testing import assert_close
from tinytorch import rng
from tinytorch.layers import Linear, Parameter
from tinytorch.losses import mse_loss
from tinytorch.optim import SGD
from tinytorch.tensor import Tensor

START = np.array([[0.5, -1.0, 2.0], [1.5, 0.0, -0.25]])
GRADS = [np.array([[0.1, -0.2, 0.3], [1.0, -1.0, 0.5]]) * k for k in (1.0, -0.5, 2.0, 0.25)]


def run(opt, p, grads):
    for g in grads:
        p.grad = g.astype(np.float32)
        opt.step()


def test_sgd_plain_steps():
    """Without momentum or decay, each step is p -= lr * grad (four steps, checked against float64
    arithmetic).

    Hint: For each (index, p, group) of self.indexed_params() with a grad, p.data -= group['lr'] * p.grad;
    read lr from the group, since SGD stores no lr attribute.
    """
    p = Parameter(START.astype(np.float32))
    run(SGD([p], lr=0.1), p, GRADS)
    expected = START - 0.1 * sum(GRADS)
    assert_close(p, expected, what="p after 4 SGD steps")


def test_sgd_weight_decay_steps():
    """With weight_decay wd, each step is p -= lr * (grad + wd * p), p being the value before the step.

    Hint: The decayed gradient uses the value before the step: g = p.grad + group['weight_decay'] * p.data,
    then p.data -= lr * g (decay applied after the step, or scaled by lr twice, drifts).
    """
    p = Parameter(START.astype(np.float32))
    run(SGD([p], lr=0.1, weight_decay=0.2), p, GRADS)
    expected = START.copy()
    for g in GRADS:
        expected = expected - 0.1 * (g + 0.2 * expected)
    assert_close(p, expected, what="p after 4 SGD steps with weight decay")


def test_sgd_weight_decay_alone_shrinks_geometrically():
    """With a zero gradient, weight decay alone multiplies p by (1 - lr * wd) each step: p0 * 0.98**5 after 5
    steps.

    Hint: A zero gradient still steps: with weight decay, p -= lr * (0 + wd * p) shrinks p by (1 - lr * wd);
    do not skip a parameter because its grad is all zeros (skip only grad None).
    """
    p = Parameter(START.astype(np.float32))
    run(SGD([p], lr=0.1, weight_decay=0.2), p, [np.zeros_like(START)] * 5)
    assert_close(p, START * 0.98**5, what="p after 5 decay-only steps")


def test_sgd_updates_in_place_and_keeps_float32():
    """step() changes p.data in place (the same array object) and it stays float32.

    Hint: Update with p.data -= ... (in place, keeps the array and float32); p.data = p.data - ... makes a new
    array, and float64 math may change the dtype.
    """
    p = Parameter(START.astype(np.float32))
    array = p.data
    run(SGD([p], lr=0.1, weight_decay=0.1), p, GRADS[:1])
    assert p.data is array, "p.data was replaced by a new array: update it in place (p.data -= ...)"
    assert p.dtype == np.float32, f"p became {p.dtype}"


def test_sgd_does_not_change_the_gradient():
    """Weight decay is added to a new array: p.grad holds the same values after step().

    Hint: g = p.grad + wd * p.data builds a new array; g = p.grad followed by g += ... changes p.grad itself.
    """
    p = Parameter(START.astype(np.float32))
    g = GRADS[0].astype(np.float32)
    p.grad = g.copy()
    SGD([p], lr=0.1, weight_decay=0.5).step()
    assert_close(p.grad, g, rtol=0, atol=0, what="p.grad after step()")


def test_sgd_skips_parameters_without_gradient():
    """A parameter whose grad is None is left untouched (even with weight decay); the others are updated.

    Hint: Check p.grad is None first and continue: the skip must come before the weight decay, or a parameter
    without a gradient still decays.
    """
    a, b = Parameter([1.0, 2.0]), Parameter([3.0, 4.0])
    opt = SGD([a, b], lr=0.5, weight_decay=0.1)
    b.grad = np.array([1.0, 1.0], dtype=np.float32)
    opt.step()
    assert_close(a, [1.0, 2.0], rtol=0, atol=0, what="the parameter with grad None")
    assert_close(b, [3.0 - 0.5 * (1 + 0.3), 4.0 - 0.5 * (1 + 0.4)], what="the parameter with a grad")


@pytest.mark.parametrize("kwargs", [
    {"lr": -0.1}, {"lr": 0.1, "momentum": -0.5}, {"lr": 0.1, "weight_decay": -1.0}, {"lr": 0.1, "nesterov": True},
], ids=["negative lr", "negative momentum", "negative weight_decay", "nesterov without momentum"])
def test_sgd_rejects_bad_hyperparameters(kwargs):
    """Negative lr, momentum or weight_decay, and nesterov=True without momentum, raise ValueError.

    Hint: Validate in SGD.__init__ before calling super().__init__: ValueError for lr, momentum or
    weight_decay < 0, and for nesterov=True with momentum <= 0.
    """
    with pytest.raises(ValueError):
        SGD([Parameter([1.0])], **kwargs)


def test_sgd_trains_a_line():
    """Linear(1, 1) + mse_loss + backward + SGD learns y = 2x + 1: weight 2, bias 1 (the whole loop works).

    Hint: If the steps above pass but this fails, check the sign (p.data -= lr * g, not +=) and that every
    parameter of model.parameters() is updated, bias included.
    """
    rng.manual_seed(0)
    x = np.random.default_rng(0).uniform(-1, 1, size=(64, 1)).astype(np.float32)
    inputs, targets = Tensor(x), Tensor(2 * x + 1)
    model = Linear(1, 1)
    opt = SGD(model.parameters(), lr=0.5)
    # each step shrinks the error by about 2/3 (lr 0.5, inputs in [-1, 1]): after 40 steps it is at float32's
    # resolution (~1e-7), far below the 1e-3 asked
    for _ in range(40):
        loss = mse_loss(model(inputs), targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert_close(model.weight, [[2.0]], atol=1e-3, what="learned weight")
    assert_close(model.bias, [1.0], atol=1e-3, what="learned bias")


def test_sgd_uses_each_groups_lr_and_weight_decay():
    """SGD([{"params": [a]}, {"params": [b], "lr": 0.01, "weight_decay": 0.5}], lr=0.1): a steps
    with lr 0.1 and no decay, b with lr 0.01 and decay 0.5 (no decay on biases, a smaller lr for
    a pretrained body: the reasons groups exist).

    Hint: Take lr and weight_decay from the group that indexed_params() yields with each parameter, not from
    self.defaults or the first group.
    """
    a, b = Parameter(START.astype(np.float32)), Parameter(START.astype(np.float32))
    opt = SGD([{"params": [a]}, {"params": [b], "lr": 0.01, "weight_decay": 0.5}], lr=0.1)
    g = GRADS[0]
    a.grad, b.grad = g.astype(np.float32), g.astype(np.float32)
    opt.step()
    assert_close(a, START - 0.1 * g, what="a (lr 0.1, no decay)")
    assert_close(b, START - 0.01 * (g + 0.5 * START), what="b (lr 0.01, weight_decay 0.5)")


def test_sgd_reads_the_lr_of_its_groups_at_every_step():
    """Changing optimizer.param_groups[0]["lr"] between steps changes the next step (kata 07's
    schedules work that way).

    Hint: Read group['lr'] inside step() at every call; an lr copied once in __init__ (or self.defaults['lr'])
    does not see the change.
    """
    p = Parameter(START.astype(np.float32))
    opt = SGD([p], lr=0.1)
    run(opt, p, GRADS[:1])
    opt.param_groups[0]["lr"] = 0.5
    run(opt, p, GRADS[1:2])
    assert_close(p, START - 0.1 * GRADS[0] - 0.5 * GRADS[1], what="p after a step at lr 0.1, then one at 0.5")
