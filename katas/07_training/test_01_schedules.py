"""Step 1: schedules — the learning rate as a closed form of the step count, exact at its endpoints."""

import math

import numpy as np
import pytest

from tinytorch.layers import Parameter
from tinytorch.optim import SGD
from tinytorch.training import CosineAnnealingLR, LinearWarmup, StepLR


def sgd(lr):
    return SGD([Parameter(np.zeros(2, dtype=np.float32))], lr=lr)


def lrs(scheduler, steps):
    """The lr the optimizer's (first) group holds at t = 0, 1, ..., steps."""
    out = [scheduler.optimizer.param_groups[0]["lr"]]
    for _ in range(steps):
        scheduler.step()
        out.append(scheduler.optimizer.param_groups[0]["lr"])
    return out


def test_step_lr_decays_every_step_size_steps():
    """StepLR(step_size=2, gamma=0.5) from 0.1: 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.0125.

    Hint: StepLR.lr_at(t, base_lr) is base_lr * gamma ** (t // step_size), a closed form of t: integer
    division, so the lr drops only at multiples of step_size (t / step_size decays at every step).
    """
    assert lrs(StepLR(sgd(0.1), step_size=2, gamma=0.5), 6) == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.0125], rel=1e-12)


@pytest.mark.parametrize("base, eta_min", [(0.1, 0.0), (0.795, 0.2644), (0.816, 0.0821)])
def test_cosine_is_exact_at_both_ends(base, eta_min):
    """CosineAnnealingLR starts at exactly base_lr and reaches exactly eta_min at t_max (== , not approximately:
    eta_min + (base - eta_min) is not always base in floating point), and stays there afterwards.

    Hint: The formula can miss base_lr or eta_min in the last bit: in CosineAnnealingLR.lr_at return base_lr
    itself for t <= 0 and self.eta_min itself for t >= self.t_max, and use the formula only in between.
    """
    values = lrs(CosineAnnealingLR(sgd(base), t_max=10, eta_min=eta_min), 14)
    assert values[0] == base, f"lr at t=0 is {values[0]!r}, not base_lr {base!r}"
    assert all(v == eta_min for v in values[10:]), f"lr from t_max on: {values[10:]}, expected {eta_min!r}"


def test_cosine_follows_half_a_cosine():
    """In between, lr(t) = eta_min + (base - eta_min)(1 + cos(πt/T))/2: the midpoint is the average, and it
    only decreases.

    Hint: Between the ends lr_at is eta_min + (base_lr - eta_min) * (1 + cos(pi * t / t_max)) / 2: check the /
    2, the pi, and that you use the base_lr argument rather than the group's current lr.
    """
    values = lrs(CosineAnnealingLR(sgd(1.0), t_max=8, eta_min=0.2), 8)
    expected = [0.2 + 0.8 * (1 + math.cos(math.pi * t / 8)) / 2 for t in range(9)]
    assert values == pytest.approx(expected, rel=1e-12)
    assert values[4] == pytest.approx(0.6, rel=1e-12)
    assert all(a > b for a, b in zip(values, values[1:]))


@pytest.mark.parametrize("start, base, warmup", [(0.0, 0.1, 5), (0.1, 0.314, 18), (0.05, 0.231, 9)])
def test_warmup_is_exact_at_both_ends(start, base, warmup):
    """LinearWarmup starts at exactly start_factor · base_lr and is exactly base_lr from warmup_steps on.

    Hint: In LinearWarmup.lr_at return base_lr itself once t >= warmup_steps (the ramp's last value can differ
    in the last bit), and at t = 0 the ramp gives base_lr * start_factor, computed as that product.
    """
    values = lrs(LinearWarmup(sgd(base), warmup, start_factor=start), warmup + 3)
    assert values[0] == start * base, f"lr at t=0 is {values[0]!r}, expected {start * base!r}"
    assert all(v == base for v in values[warmup:]), f"lr from t={warmup} on: {values[warmup:]}, expected {base!r}"


def test_warmup_is_linear():
    """From 0 to 0.1 over 4 steps: 0, 0.025, 0.05, 0.075, 0.1.

    Hint: The ramp is base_lr * (start_factor + (1 - start_factor) * t / warmup_steps) for t < warmup_steps;
    start_factor defaults to 0, so it starts at exactly 0.
    """
    assert lrs(LinearWarmup(sgd(0.1), 4), 4) == pytest.approx([0.0, 0.025, 0.05, 0.075, 0.1], abs=1e-15)


def test_the_optimizer_uses_the_scheduled_rate():
    """The scheduler writes group["lr"] in optimizer.param_groups, so the next SGD update uses the new rate
    (gradient 1, lr 0.1 then 0.01).

    Hint: Your lr_at only returns a number: the base class writes it into group['lr'] on every step(); if SGD
    still steps with 0.1, StepLR.lr_at ignores t (or SGD.step reads an lr saved at construction).
    """
    p = Parameter(np.zeros(1, dtype=np.float64))
    opt = SGD([p], lr=0.1)
    scheduler = StepLR(opt, step_size=1, gamma=0.1)
    p.grad = np.ones(1)
    opt.step()
    scheduler.step()
    opt.step()
    assert p.data[0] == pytest.approx(-0.11, rel=1e-12)


@pytest.mark.parametrize("make", [lambda o: StepLR(o, step_size=2, gamma=0.5), lambda o: CosineAnnealingLR(o, t_max=4, eta_min=0.001),
                                  lambda o: LinearWarmup(o, 3, start_factor=0.2)], ids=["step", "cosine", "warmup"])
def test_every_group_follows_the_schedule_from_its_own_lr(make):
    """With two parameter groups (lr 0.1 and 0.4) each group's lr follows the schedule from its
    own starting lr, as in PyTorch (lr_at(t, base_lr) with that group's base_lr), exactly as a
    one-group optimizer starting there; get_last_lr() lists them, one per group.

    Hint: lr_at(t, base_lr) must compute from the base_lr argument (the base class passes each group's own
    starting lr), never from self.optimizer.param_groups[0] or a value stored on the scheduler.
    """
    scheduler = make(SGD([{"params": [Parameter(np.zeros(2))]}, {"params": [Parameter(np.zeros(2))], "lr": 0.4}], lr=0.1))
    assert scheduler.base_lrs == [0.1, 0.4]
    groups = scheduler.optimizer.param_groups
    got = [[groups[0]["lr"]], [groups[1]["lr"]]]
    for _ in range(5):
        scheduler.step()
        got[0].append(groups[0]["lr"])
        got[1].append(groups[1]["lr"])
    assert got == [lrs(make(sgd(0.1)), 5), lrs(make(sgd(0.4)), 5)], got
    assert scheduler.get_last_lr() == [got[0][-1], got[1][-1]]
