"""Step 6: state_dict — save an optimizer's state and continue bit for bit where it stopped."""

import numpy as np
import pytest

from dojo.testing import assert_close
from tinytorch.layers import Parameter
from tinytorch.optim import SGD, Adam, AdamW

OPTIMIZERS = {
    "SGD momentum": lambda params: SGD(params, lr=0.05, momentum=0.9, weight_decay=0.01),
    "SGD Nesterov": lambda params: SGD(params, lr=0.05, momentum=0.9, nesterov=True),
    "Adam": lambda params: Adam(params, lr=0.01, weight_decay=0.1),
    "AdamW": lambda params: AdamW(params, lr=0.01, weight_decay=0.1),
}


def grads_at(step):
    """A deterministic, changing gradient for each of the two parameters."""
    rng = np.random.default_rng(step)
    return rng.normal(size=(2, 3)).astype(np.float32), rng.normal(size=(3,)).astype(np.float32)


def make_params():
    rng = np.random.default_rng(100)
    return [Parameter(rng.normal(size=(2, 3))), Parameter(rng.normal(size=(3,)))]


def train(opt, params, steps):
    for step in steps:
        for p, g in zip(params, grads_at(step)):
            p.grad = g
        opt.step()


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_state_dict_round_trip_continues_identically(name):
    """Train 3 steps, save; a fresh optimizer (over copies of the weights) loads it; 3 more steps give
    bit-identical weights.

    Hint: Everything that changes during training must survive the round trip: every entry of self.state (step
    counts, moments, momentum buffers) and the groups' hyperparameters; load_state_dict keys state by int
    index, the parameter's position in self.params.
    """
    make = OPTIMIZERS[name]
    params = [Parameter(p.data.astype(np.float32)) for p in make_params()]
    opt = make(params)
    train(opt, params, range(3))
    saved = opt.state_dict()

    clones = [Parameter(p.data.copy()) for p in params]
    restored = make(clones)
    restored.load_state_dict(saved)

    train(opt, params, range(3, 6))
    train(restored, clones, range(3, 6))
    for i, (p, q) in enumerate(zip(params, clones)):
        assert_close(q, p.data, rtol=0, atol=0, what=f"parameter {i} after resuming {name}")


def test_state_dict_is_a_snapshot():
    """Stepping after state_dict() does not change it: its arrays are copies, not the live buffers.

    Hint: Copy every array in state_dict (value.copy() for np.ndarray, ints as they are): the live buffers are
    updated in place by later steps.
    """
    params = make_params()
    opt = Adam(params, lr=0.01)
    train(opt, params, range(2))
    saved = opt.state_dict()
    before = saved["state"][0]["exp_avg"].copy()
    train(opt, params, range(2, 4))
    assert saved["state"][0]["step"] == 2
    assert_close(saved["state"][0]["exp_avg"], before, rtol=0, atol=0, what="saved exp_avg after more steps")


def test_load_state_dict_copies_the_arrays():
    """After load_state_dict(d), stepping does not change d's arrays (the optimizer works on its own copies).

    Hint: Store copies in load_state_dict too: reusing the dict's arrays makes the next in-place buffer update
    (buf *= m) change the checkpoint.
    """
    params = make_params()
    opt = SGD(params, lr=0.1, momentum=0.9)
    train(opt, params, range(2))
    saved = opt.state_dict()
    before = saved["state"][1]["momentum_buffer"].copy()
    other = SGD(params, lr=0.1, momentum=0.9)
    other.load_state_dict(saved)
    train(other, params, range(2, 4))
    assert_close(saved["state"][1]["momentum_buffer"], before, rtol=0, atol=0, what="the loaded dict after more steps")


def test_state_dict_keeps_the_param_groups():
    """state_dict()["param_groups"] holds every group's current hyperparameters (an lr changed
    during training included) with "params" as positions ([0], [1]), PyTorch's layout;
    load_state_dict gives each group its saved values and keeps its own parameters.

    Hint: Each saved group is dict(group, params=[positions in self.params]), a new dict per group;
    load_state_dict updates each group with every saved key except 'params', so the group keeps its own
    parameters.
    """
    params = make_params()
    opt = SGD([{"params": [params[0]]}, {"params": [params[1]], "lr": 0.2, "weight_decay": 0.01}], lr=0.1, momentum=0.9)
    opt.param_groups[0]["lr"] = 0.025
    saved = opt.state_dict()
    assert [g["params"] for g in saved["param_groups"]] == [[0], [1]], saved["param_groups"]
    assert saved["param_groups"][0]["lr"] == 0.025 and saved["param_groups"][1]["weight_decay"] == 0.01
    opt.param_groups[1]["lr"] = 0.7
    assert saved["param_groups"][1]["lr"] == 0.2, "the saved groups changed with the optimizer's"
    fresh = make_params()
    restored = SGD([{"params": [fresh[0]]}, {"params": [fresh[1]]}], lr=0.1)
    restored.load_state_dict(saved)
    first, second = restored.param_groups
    assert first["lr"] == 0.025 and first["momentum"] == 0.9 and second["lr"] == 0.2 and second["weight_decay"] == 0.01
    assert first["params"][0] is fresh[0] and second["params"][0] is fresh[1]


def test_load_state_dict_rejects_other_groups():
    """A state_dict with another number of groups, or of parameters in a group, raises ValueError.

    Hint: Before changing anything, compare the number of saved groups with len(self.param_groups) and, per
    group, the number of parameters; raise ValueError on a mismatch.
    """
    params = make_params()
    saved = SGD([{"params": [params[0]]}, {"params": [params[1]]}], lr=0.1).state_dict()
    with pytest.raises(ValueError):
        SGD(params, lr=0.1).load_state_dict(saved)
    with pytest.raises(ValueError):
        SGD([{"params": [params[0], params[1]]}, {"params": [Parameter([1.0])]}], lr=0.1).load_state_dict(saved)


def test_load_state_dict_rejects_another_optimizer_kind():
    """Loading an SGD state_dict into Adam raises ValueError (their hyperparameters differ).

    Hint: Compare each saved group's keys with this optimizer's group keys (set(saved) != set(group)): SGD's
    momentum/nesterov against Adam's betas/eps must be a ValueError.
    """
    params = make_params()
    saved = SGD(params, lr=0.1).state_dict()
    with pytest.raises(ValueError):
        Adam(params).load_state_dict(saved)


def test_load_state_dict_rejects_mismatched_shapes():
    """A state array whose shape differs from its parameter's raises ValueError.

    Hint: Check each array in the saved state against the shape of params[index] before storing anything, and
    raise ValueError when they differ.
    """
    params = make_params()
    opt = SGD(params, lr=0.1, momentum=0.9)
    train(opt, params, range(1))
    saved = opt.state_dict()
    saved["state"][0]["momentum_buffer"] = np.zeros((3, 2), dtype=np.float32)
    with pytest.raises(ValueError):
        SGD(params, lr=0.1, momentum=0.9).load_state_dict(saved)
