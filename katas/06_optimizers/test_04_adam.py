"""Step 4: adam — Adam's moment estimates with bias correction, and its L2 weight decay."""

import numpy as np

from dojo.testing import assert_close
from tinytorch.layers import Parameter
from tinytorch.optim import Adam

START = np.array([0.5, -1.0, 2.0, 0.25, -0.75])
GRADS = [np.array([0.1, -0.2, 0.3, 1.0, -2.0]) * k for k in (1.0, -0.5, 2.0, 0.25, 1.5, -1.0)]


def reference_adam(start, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
    """Adam (or AdamW when decoupled) in float64, written straight from the paper."""
    p = start.astype(np.float64)
    m, v = np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p = p - lr * weight_decay * p
        else:
            g = g + weight_decay * p
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


def run(opt, p, grads):
    for g in grads:
        p.grad = np.asarray(g, dtype=np.float32)
        opt.step()


def test_adam_first_step_is_lr_times_sign_of_gradient():
    """After bias correction the first step is lr * g / |g|: every coordinate moves by lr, whatever the size
    of g.

    Hint: Without the bias corrections the first step is about lr * 0.1 / sqrt(0.001): divide m by 1 -
    beta1**t and v by 1 - beta2**t, with t the step count after incrementing it (t = 1 here).
    """
    g = np.array([1e-3, -0.5, 3.0, -200.0, 1e3])
    p = Parameter(np.zeros(5, dtype=np.float32))
    run(Adam([p], lr=0.01), p, [g])
    assert_close(p, -0.01 * np.sign(g), rtol=1e-4, what="p after Adam's first step from 0")


def test_adam_trajectory_matches_reference():
    """Six steps with default betas match the reference Adam (bias-corrected moments) computed in float64.

    Hint: Check the update order in adam_update: increment step, m = beta1*m + (1-beta1)*g, v = beta2*v +
    (1-beta2)*g*g, then p -= lr * m_hat / (sqrt(v_hat) + eps), with eps added after the square root.
    """
    p = Parameter(START.astype(np.float32))
    run(Adam([p], lr=0.01), p, GRADS)
    assert_close(p, reference_adam(START, GRADS, lr=0.01), what="p after 6 Adam steps")


def test_adam_trajectory_with_other_betas_and_eps():
    """betas=(0.5, 0.9) and eps=0.1 are used as given (a large eps visibly damps the steps).

    Hint: Read beta1, beta2 = group['betas'] and group['eps'] in adam_update rather than constants 0.9, 0.999,
    1e-8; with eps 0.1 it matters that eps is added to sqrt(v_hat), not inside the square root.
    """
    p = Parameter(START.astype(np.float32))
    run(Adam([p], lr=0.05, betas=(0.5, 0.9), eps=0.1), p, GRADS)
    expected = reference_adam(START, GRADS, lr=0.05, betas=(0.5, 0.9), eps=0.1)
    assert_close(p, expected, what="p after 6 Adam steps with betas (0.5, 0.9), eps 0.1")


def test_adam_l2_weight_decay_goes_through_the_moments():
    """Adam's weight_decay adds wd * p to the gradient before the moments (L2), and leaves p.grad unchanged.

    Hint: In Adam.step, g = p.grad + group['weight_decay'] * p.data as a new array (p.grad untouched), and
    pass that g to adam_update so the decay enters both moments.
    """
    p = Parameter(START.astype(np.float32))
    opt = Adam([p], lr=0.01, weight_decay=0.5)
    for g in GRADS:
        p.grad = g.astype(np.float32)
        opt.step()
        assert_close(p.grad, g.astype(np.float32), rtol=0, atol=0, what="p.grad after step()")
    assert_close(p, reference_adam(START, GRADS, lr=0.01, weight_decay=0.5), what="p after 6 Adam+L2 steps")


def test_adam_state_per_parameter():
    """state[i] holds 'step' (int), 'exp_avg' and 'exp_avg_sq' (arrays shaped like the parameter), per
    parameter.

    Hint: self.state[index] = {'step': 0, 'exp_avg': np.zeros_like(p.data), 'exp_avg_sq':
    np.zeros_like(p.data)} on first use, per index: a shared step counter or shared moments make the two
    parameters interfere.
    """
    a, b = Parameter(START.astype(np.float32)), Parameter([[1.0, 2.0]])
    opt = Adam([a, b], lr=0.01)
    for i, g in enumerate(GRADS[:3]):
        a.grad = g.astype(np.float32)
        b.grad = np.ones((1, 2), dtype=np.float32) if i == 0 else None
        opt.step()
    assert opt.state[0]["step"] == 3 and opt.state[1]["step"] == 1, "each parameter counts its own steps"
    assert opt.state[1]["exp_avg"].shape == (1, 2) and opt.state[1]["exp_avg_sq"].shape == (1, 2)
    m = 0.1 * GRADS[0]
    m = 0.9 * m + 0.1 * GRADS[1]
    m = 0.9 * m + 0.1 * GRADS[2]
    assert_close(opt.state[0]["exp_avg"], m, what="state[0]['exp_avg'] after 3 steps")


def test_adam_skips_parameters_without_gradient():
    """A step with grad None leaves the parameter alone and does not advance its step count or moments.

    Hint: Skip grad None before calling adam_update: the step count t and the moments must advance only on
    real steps, or the bias corrections go off.
    """
    p = Parameter(START.astype(np.float32))
    opt = Adam([p], lr=0.01)
    for i, g in enumerate(GRADS):
        p.grad = None if i in (1, 4) else g.astype(np.float32)
        opt.step()
    kept = [g for i, g in enumerate(GRADS) if i not in (1, 4)]
    assert_close(p, reference_adam(START, kept, lr=0.01), what="p after 4 real steps among 6")


def test_adam_updates_in_place_and_keeps_float32():
    """step() changes p.data in place (the same array object) and it stays float32.

    Hint: Update p.data in place (p.data -= ...) and keep float32: np.zeros_like(p.data) moments and Python
    floats for lr and the corrections keep it float32, p.data = ... replaces the array.
    """
    p = Parameter(START.astype(np.float32))
    array = p.data
    run(Adam([p], lr=0.01), p, GRADS[:2])
    assert p.data is array, "p.data was replaced: update it in place"
    assert p.dtype == np.float32 and p.data.tolist() != START.astype(np.float32).tolist()


def test_adam_uses_each_groups_hyperparameters():
    """Each group has its own lr, betas and eps: two parameters with the same gradients follow
    two different reference trajectories.

    Hint: adam_update gets the group of its parameter: read lr, betas and eps from that group argument, not
    from self.defaults or param_groups[0].
    """
    p, q = Parameter(START.astype(np.float32)), Parameter(START.astype(np.float32))
    opt = Adam([{"params": [p]}, {"params": [q], "lr": 0.05, "betas": (0.5, 0.9), "eps": 1e-3}], lr=0.01)
    for g in GRADS:
        p.grad, q.grad = g.astype(np.float32), g.astype(np.float32)
        opt.step()
    assert_close(p, reference_adam(START, GRADS, lr=0.01), what="p (lr 0.01, default betas)")
    assert_close(q, reference_adam(START, GRADS, lr=0.05, betas=(0.5, 0.9), eps=1e-3), what="q (its group's settings)")
