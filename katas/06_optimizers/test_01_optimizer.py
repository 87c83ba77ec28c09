"""Step 1: optimizer — the base class keeps the parameters in a list and zero_grad forgets their gradients."""

import numpy as np
import pytest

from tinytorch.layers import Parameter
from tinytorch.optim import Optimizer
from tinytorch.tensor import Tensor


def make_params():
    return [Parameter([1.0, 2.0]), Parameter([[3.0]]), Parameter([4.0, 5.0, 6.0])]


def test_optimizer_keeps_the_parameters_in_a_list():
    """Optimizer(params).params is a list of the very same Parameter objects, in order."""
    params = make_params()
    opt = Optimizer(params)
    assert isinstance(opt.params, list)
    assert len(opt.params) == 3 and all(a is b for a, b in zip(opt.params, params))


def test_optimizer_reads_a_generator_once_and_keeps_it():
    """Given a generator (like model.parameters() in PyTorch), zero_grad still reaches every parameter on every call."""
    params = make_params()
    opt = Optimizer(p for p in params)
    for _ in range(2):  # a generator kept as is would be exhausted after the first pass
        for p in params:
            p.grad = np.ones_like(p.data)
        opt.zero_grad()
        assert all(p.grad is None for p in params), "a grad survived zero_grad (expected None, not zeros)"


def test_zero_grad_sets_grads_to_none_and_keeps_values():
    """zero_grad() sets every grad to None (like PyTorch's set_to_none) and leaves the values alone."""
    params = make_params()
    for p in params:
        p.grad = np.full_like(p.data, 0.5)
    Optimizer(params).zero_grad()
    assert all(p.grad is None for p in params), "a grad survived zero_grad (expected None, not zeros)"
    assert params[0].data.tolist() == [1.0, 2.0]


def test_optimizer_rejects_an_empty_parameter_list():
    """Optimizer([]) raises ValueError: an optimizer with nothing to optimize is a bug (e.g. an exhausted generator)."""
    with pytest.raises(ValueError):
        Optimizer([])


def test_optimizer_rejects_a_parameter_listed_twice():
    """The same Parameter twice raises ValueError (it would be updated twice per step)."""
    p = Parameter([1.0])
    with pytest.raises(ValueError):
        Optimizer([p, Parameter([2.0]), p])


def test_optimizer_rejects_tensors_that_do_not_require_grad():
    """A plain Tensor (requires_grad False) or a number in params raises TypeError."""
    with pytest.raises(TypeError):
        Optimizer([Parameter([1.0]), Tensor([2.0])])
    with pytest.raises(TypeError):
        Optimizer([3.0])


def test_parameters_make_one_group_with_the_defaults():
    """Optimizer(params, {"lr": 0.1}) has one parameter group: {"params": [the parameters], "lr": 0.1}
    (PyTorch's optimizer.param_groups)."""
    params = make_params()
    opt = Optimizer(iter(params), {"lr": 0.1, "weight_decay": 0.0})
    assert isinstance(opt.param_groups, list) and len(opt.param_groups) == 1, opt.param_groups
    group = opt.param_groups[0]
    assert group["lr"] == 0.1 and group["weight_decay"] == 0.0
    assert isinstance(group["params"], list) and all(a is b for a, b in zip(group["params"], params))
    assert len(group["params"]) == 3


def test_dict_groups_override_the_defaults():
    """Dicts are groups: each keeps its own values and gets the defaults it does not set; the
    dicts passed in are not changed; opt.params lists every group's parameters in order."""
    a, b, c = make_params()
    second = {"params": (p for p in [b, c]), "lr": 0.01}
    opt = Optimizer([{"params": [a]}, second], {"lr": 0.1, "momentum": 0.9})
    first, other = opt.param_groups
    assert first["lr"] == 0.1 and first["momentum"] == 0.9 and first["params"][0] is a
    assert other["lr"] == 0.01 and other["momentum"] == 0.9 and isinstance(other["params"], list)
    assert len(other["params"]) == 2 and other["params"][0] is b and other["params"][1] is c
    assert set(second) == {"params", "lr"}, "the caller's dict was changed"
    assert len(opt.params) == 3 and all(x is y for x, y in zip(opt.params, [a, b, c]))
    d = Parameter([7.0])
    opt.add_param_group({"params": [d], "momentum": 0.0})
    assert opt.param_groups[2]["lr"] == 0.1 and opt.param_groups[2]["momentum"] == 0.0 and opt.params[3] is d


def test_bad_groups_are_rejected():
    """A group without 'params', parameters mixed with dicts, or one Tensor instead of a list:
    TypeError. A parameter in two groups: ValueError."""
    a, b, _ = make_params()
    assert len(Optimizer([{"params": [a]}]).params) == 1
    with pytest.raises(TypeError):
        Optimizer([{"lr": 0.1}])
    with pytest.raises(TypeError):
        Optimizer([{"params": [a]}, b])
    with pytest.raises(TypeError):
        Optimizer(a)
    with pytest.raises(ValueError):
        Optimizer([{"params": [a, b]}, {"params": [a]}])


def test_hyperparameters_live_in_the_groups_not_on_the_optimizer():
    """optimizer.lr raises AttributeError, reading or writing, with a message naming
    param_groups: in PyTorch optimizer.lr = 0.01 silently does nothing."""
    opt = Optimizer(make_params(), {"lr": 0.1})
    assert opt.param_groups[0]["lr"] == 0.1
    with pytest.raises(AttributeError, match="param_groups"):
        opt.lr
    with pytest.raises(AttributeError, match="param_groups"):
        opt.lr = 0.5
    assert opt.param_groups[0]["lr"] == 0.1
