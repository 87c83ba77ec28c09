"""Step 3: momentum — SGD with a per-parameter momentum buffer, and Nesterov momentum."""

import numpy as np

from dojo.testing import assert_close
from tinytorch.layers import Parameter
from tinytorch.optim import SGD

START = np.array([0.5, -1.0, 2.0, 0.0])
GRADS = [np.array([0.1, -0.2, 0.3, 1.0]) * k for k in (1.0, -0.5, 2.0, 0.25, 1.5)]


def reference(start, grads, lr, momentum, nesterov=False, weight_decay=0.0):
    """PyTorch's SGD, in float64."""
    p, buf = start.astype(np.float64), None
    for g in grads:
        g = g + weight_decay * p
        buf = g.copy() if buf is None else momentum * buf + g
        p = p - lr * (g + momentum * buf if nesterov else buf)
    return p


def run(opt, p, grads):
    for g in grads:
        p.grad = np.asarray(g, dtype=np.float32)
        opt.step()


def test_momentum_with_a_constant_gradient_matches_the_closed_form():
    """With a constant gradient g, the buffer after t steps is g(1 - m^t)/(1 - m), so p_T = p0 - lr g Σ_t (1 -
    m^t)/(1 - m).

    Hint: In momentum_direction the buffer starts as a copy of g and then becomes buf * momentum + g at every
    step (no (1 - momentum) dampening); SGD.step must use the direction it returns when group['momentum'] is
    set.
    """
    p = Parameter(START.astype(np.float32))
    g, lr, m, steps = np.array([1.0, -2.0, 0.5, 0.0]), 0.1, 0.9, 6
    run(SGD([p], lr=lr, momentum=m), p, [g] * steps)
    expected = START - lr * g * sum((1 - m**t) / (1 - m) for t in range(1, steps + 1))
    assert_close(p, expected, what="p after 6 momentum steps with a constant gradient")


def test_momentum_trajectory():
    """buf = g on the first step, then buf = m * buf + g; p -= lr * buf (five steps with changing gradients).

    Hint: The update order is buf = momentum * buf + g, then p -= lr * buf: check the buffer is kept in
    self.state[index] between steps and not recreated each time.
    """
    p = Parameter(START.astype(np.float32))
    run(SGD([p], lr=0.05, momentum=0.8), p, GRADS)
    assert_close(p, reference(START, GRADS, 0.05, 0.8), what="p after 5 momentum steps")


def test_nesterov_first_step():
    """Nesterov's first step uses g + m * buf with buf = g: p1 = p0 - lr * (1 + m) * g.

    Hint: With group['nesterov'] return g + momentum * buf, not buf: on the first step buf = g, so the step is
    lr * (1 + m) * g.
    """
    p = Parameter(START.astype(np.float32))
    run(SGD([p], lr=0.1, momentum=0.9, nesterov=True), p, GRADS[:1])
    assert_close(p, START - 0.1 * 1.9 * GRADS[0], what="p after one Nesterov step")


def test_nesterov_trajectory():
    """With Nesterov momentum the step direction is g + m * buf (five steps with changing gradients).

    Hint: Nesterov updates the buffer exactly as plain momentum does; only the returned direction differs (g +
    momentum * buf, with the buffer after its update).
    """
    p = Parameter(START.astype(np.float32))
    run(SGD([p], lr=0.05, momentum=0.8, nesterov=True), p, GRADS)
    assert_close(p, reference(START, GRADS, 0.05, 0.8, nesterov=True), what="p after 5 Nesterov steps")


def test_momentum_with_weight_decay_trajectory():
    """Weight decay is added to the gradient before it enters the buffer: g = grad + wd * p.

    Hint: In SGD.step, add the weight decay to g before calling momentum_direction, so the decay term goes
    into the buffer too.
    """
    p = Parameter(START.astype(np.float32))
    run(SGD([p], lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1), p, GRADS)
    expected = reference(START, GRADS, 0.05, 0.9, nesterov=True, weight_decay=0.1)
    assert_close(p, expected, what="p after 5 Nesterov steps with weight decay")


def test_momentum_buffer_lives_in_the_state():
    """The buffer of parameter i is optimizer.state[i]['momentum_buffer'] (kata 07 saves it in checkpoints).

    Hint: Keep the buffer in self.state[index]['momentum_buffer'] (entry = self.state.setdefault(index, {})),
    index being the position that indexed_params() yields, and create it only when the parameter has a grad.
    """
    a, b = Parameter([1.0, 2.0]), Parameter([3.0])
    opt = SGD([a, b], lr=0.1, momentum=0.5)
    b.grad = np.array([2.0], dtype=np.float32)
    opt.step()
    b.grad = np.array([1.0], dtype=np.float32)
    opt.step()
    assert 0 not in opt.state or "momentum_buffer" not in opt.state[0], "a parameter without grad got a buffer"
    assert_close(opt.state[1]["momentum_buffer"], [0.5 * 2.0 + 1.0], what="state[1]['momentum_buffer']")


def test_momentum_buffers_are_per_parameter_and_pause_without_gradient():
    """Each parameter has its own buffer; a step where a parameter's grad is None leaves it and its buffer
    alone.

    Hint: Each parameter needs its own buffer keyed by its index; skip a parameter whose grad is None before
    touching its buffer, so the buffer does not decay that step.
    """
    a, b = Parameter(START.astype(np.float32)), Parameter(START[::-1].astype(np.float32))
    opt = SGD([a, b], lr=0.05, momentum=0.8)
    for i, g in enumerate(GRADS):
        a.grad = g.astype(np.float32)
        b.grad = None if i == 2 else (-g).astype(np.float32)
        opt.step()
    assert_close(a, reference(START, GRADS, 0.05, 0.8), what="a (a gradient every step)")
    b_grads = [-g for i, g in enumerate(GRADS) if i != 2]
    assert_close(b, reference(START[::-1], b_grads, 0.05, 0.8), what="b (no gradient at step 3)")


def test_momentum_never_changes_the_gradient():
    """The first buffer is a copy of the gradient: updating the buffer in place later must not change p.grad.

    Hint: The first buffer must be g.copy(): storing g itself makes the buffer alias p.grad, and the in-place
    buf *= m; buf += g of later steps then changes p.grad.
    """
    p = Parameter(START.astype(np.float32))
    g = GRADS[0].astype(np.float32)
    p.grad = g.copy()
    opt = SGD([p], lr=0.1, momentum=0.9)
    opt.step()
    opt.step()  # the same p.grad again: buf *= m; buf += g must not touch p.grad
    assert_close(p.grad, g, rtol=0, atol=0, what="p.grad after two momentum steps")


def test_momentum_and_nesterov_are_per_group():
    """A group with momentum 0 takes plain steps and gets no buffer; another group of the same
    optimizer uses its own momentum and Nesterov setting.

    Hint: Read momentum and nesterov from each parameter's group: call momentum_direction only when
    group['momentum'] is nonzero (so no buffer is created) and pass that group along.
    """
    a, b = Parameter(START.astype(np.float32)), Parameter(START.astype(np.float32))
    opt = SGD([{"params": [a], "momentum": 0.0, "nesterov": False}, {"params": [b]}], lr=0.05, momentum=0.9,
              nesterov=True)
    for g in GRADS:
        a.grad, b.grad = g.astype(np.float32), g.astype(np.float32)
        opt.step()
    assert_close(a, START - 0.05 * sum(GRADS), what="a (group without momentum)")
    assert_close(b, reference(START, GRADS, 0.05, 0.9, nesterov=True), what="b (Nesterov group)")
    assert "momentum_buffer" not in opt.state.get(0, {}), "a parameter without momentum got a buffer"
