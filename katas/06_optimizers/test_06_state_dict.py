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
    """Train 3 steps, save; a fresh optimizer (over copies of the weights) loads it; 3 more steps give bit-identical weights."""
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
    """Stepping after state_dict() does not change it: its arrays are copies, not the live buffers."""
    params = make_params()
    opt = Adam(params, lr=0.01)
    train(opt, params, range(2))
    saved = opt.state_dict()
    before = saved["state"][0]["exp_avg"].copy()
    train(opt, params, range(2, 4))
    assert saved["state"][0]["step"] == 2
    assert_close(saved["state"][0]["exp_avg"], before, rtol=0, atol=0, what="saved exp_avg after more steps")


def test_load_state_dict_copies_the_arrays():
    """After load_state_dict(d), stepping does not change d's arrays (the optimizer works on its own copies)."""
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
    load_state_dict gives each group its saved values and keeps its own parameters."""
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
    """A state_dict with another number of groups, or of parameters in a group, raises ValueError."""
    params = make_params()
    saved = SGD([{"params": [params[0]]}, {"params": [params[1]]}], lr=0.1).state_dict()
    with pytest.raises(ValueError):
        SGD(params, lr=0.1).load_state_dict(saved)
    with pytest.raises(ValueError):
        SGD([{"params": [params[0], params[1]]}, {"params": [Parameter([1.0])]}], lr=0.1).load_state_dict(saved)


def test_load_state_dict_rejects_another_optimizer_kind():
    """Loading an SGD state_dict into Adam raises ValueError (their hyperparameters differ)."""
    params = make_params()
    saved = SGD(params, lr=0.1).state_dict()
    with pytest.raises(ValueError):
        Adam(params).load_state_dict(saved)


def test_load_state_dict_rejects_mismatched_shapes():
    """A state array whose shape differs from its parameter's raises ValueError."""
    params = make_params()
    opt = SGD(params, lr=0.1, momentum=0.9)
    train(opt, params, range(1))
    saved = opt.state_dict()
    saved["state"][0]["momentum_buffer"] = np.zeros((3, 2), dtype=np.float32)
    with pytest.raises(ValueError):
        SGD(params, lr=0.1, momentum=0.9).load_state_dict(saved)
