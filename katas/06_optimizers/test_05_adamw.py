"""Step 5: adamw — Adam with decoupled weight decay."""

import numpy as np

from dojo.testing import assert_close
from tinytorch.layers import Parameter
from tinytorch.optim import Adam, AdamW

START = np.array([0.5, -1.0, 2.0, 0.25, -0.75])
GRADS = [np.array([0.1, -0.2, 0.3, 1.0, -2.0]) * k for k in (1.0, -0.5, 2.0, 0.25, 1.5, -1.0)]


def reference_adamw(start, grads, lr, wd, betas=(0.9, 0.999), eps=1e-8):
    """AdamW in float64: p -= lr * wd * p, then the Adam step with the raw gradient."""
    p = start.astype(np.float64)
    m, v = np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        p = p - lr * wd * p
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        p = p - lr * (m / (1 - betas[0] ** t)) / (np.sqrt(v / (1 - betas[1] ** t)) + eps)
    return p


def run(opt, p, grads):
    for g in grads:
        p.grad = np.asarray(g, dtype=np.float32)
        opt.step()


def test_adamw_trajectory_matches_reference():
    """Six AdamW steps (lr 0.01, weight_decay 0.5) match the float64 reference: decay first, then Adam on the
    raw gradient.

    Hint: AdamW.step decays first, p.data *= 1 - group['lr'] * group['weight_decay'], then calls
    self.adam_update with the raw p.grad (no L2 term added to the gradient).
    """
    p = Parameter(START.astype(np.float32))
    run(AdamW([p], lr=0.01, weight_decay=0.5), p, GRADS)
    assert_close(p, reference_adamw(START, GRADS, 0.01, 0.5), what="p after 6 AdamW steps")


def test_adamw_decay_is_decoupled_from_the_gradient():
    """With a zero gradient AdamW shrinks p by exactly (1 - lr*wd) per step, while Adam's L2 decay, divided by
    sqrt(v), moves p by about lr.

    Hint: AdamW must not add wd * p to the gradient (that is Adam's L2, divided by sqrt(v)): shrink p.data
    directly by the factor (1 - lr * wd), then run the Adam update on p.grad.
    """
    lr, wd, steps = 0.01, 0.1, 5
    p, q = Parameter(START.astype(np.float32)), Parameter(START.astype(np.float32))
    run(AdamW([p], lr=lr, weight_decay=wd), p, [np.zeros(5)] * steps)
    run(Adam([q], lr=lr, weight_decay=wd), q, [np.zeros(5)] * steps)
    assert_close(p, START * (1 - lr * wd) ** steps, what="AdamW with zero gradient")
    moved = np.abs(q.data - START)  # about lr per step for every weight, big or small: 0.05
    assert_close(moved, np.full(5, steps * lr), rtol=0.01, what="how far Adam+L2 moved each weight")


def test_adamw_default_weight_decay_is_0_01():
    """AdamW(params) decays by default (weight_decay=0.01, lr=1e-3): one zero-gradient step multiplies p by
    0.99999.

    Hint: The defaults (lr=1e-3, weight_decay=0.01) are set in AdamW.__init__: your step must read them from
    the group and apply the decay even when the gradient is zero.
    """
    p = Parameter(START.astype(np.float32))
    run(AdamW([p]), p, [np.zeros(5)])
    assert_close(p, START * (1 - 1e-3 * 0.01), rtol=1e-6, atol=0, what="p after one default AdamW step")


def test_adamw_without_decay_is_adam():
    """With weight_decay=0, AdamW and Adam give bit-for-bit the same trajectory.

    Hint: With weight_decay 0 AdamW.step must do exactly what Adam.step does: skip the decay and call
    adam_update(index, p, p.grad, group) with the same arguments, in the same order.
    """
    p, q = Parameter(START.astype(np.float32)), Parameter(START.astype(np.float32))
    run(AdamW([p], lr=0.01, weight_decay=0.0), p, GRADS)
    run(Adam([q], lr=0.01), q, GRADS)
    assert_close(p, q.data, rtol=0, atol=0, what="AdamW(weight_decay=0) vs Adam")


def test_adamw_skips_parameters_without_gradient_and_keeps_grad():
    """A parameter with grad None is neither decayed nor updated; p.grad is never modified.

    Hint: Check p.grad is None before the decay (a parameter without a gradient is not decayed either), and
    pass p.grad to adam_update without modifying it.
    """
    a, b = Parameter(START.astype(np.float32)), Parameter([1.0, 2.0])
    opt = AdamW([a, b], lr=0.01, weight_decay=0.5)
    g = GRADS[0].astype(np.float32)
    a.grad = g.copy()
    opt.step()
    assert_close(b, [1.0, 2.0], rtol=0, atol=0, what="the parameter with grad None")
    assert_close(a.grad, g, rtol=0, atol=0, what="a.grad after step()")
    assert_close(a, reference_adamw(START, GRADS[:1], 0.01, 0.5), what="a after one step")


def test_adamw_group_without_weight_decay():
    """The classic groups: weights decay, biases do not. With a zero gradient the weight shrinks
    by (1 - lr·wd) and the bias in the group {"weight_decay": 0.0} does not move.

    Hint: Take weight_decay and lr from each parameter's own group (indexed_params yields it): the group
    {'weight_decay': 0.0} must skip the decay.
    """
    w, b = Parameter(START.astype(np.float32)), Parameter(START.astype(np.float32))
    opt = AdamW([{"params": [w]}, {"params": [b], "weight_decay": 0.0}], lr=0.01, weight_decay=0.5)
    for _ in range(3):
        w.grad, b.grad = np.zeros(5, np.float32), np.zeros(5, np.float32)
        opt.step()
    assert_close(w, START * (1 - 0.01 * 0.5) ** 3, what="w (decayed group)")
    assert_close(b, START, rtol=0, atol=0, what="b (group with weight_decay 0)")
