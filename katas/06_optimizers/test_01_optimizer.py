"""Step 1: optimizer — the base class keeps the parameters in a list and zero_grad forgets their gradients."""

import numpy as np
import pytest

from tinytorch.layers import Parameter
from tinytorch.optim import Optimizer
from tinytorch.tensor import Tensor


def make_params():
    return [Parameter([1.0, 2.0]), Parameter([[3.0]]), Parameter([4.0, 5.0, 6.0])]


def test_optimizer_keeps_the_parameters_in_a_list():
    """Optimizer(params).params is a list of the very same Parameter objects, in order.

    Hint: Read params into a list, wrap a list of parameters as one group [{'params': that list}] and pass
    each group to self.add_param_group; the params property (written) then lists the very same objects in
    order.
    """
    params = make_params()
    opt = Optimizer(params)
    assert isinstance(opt.params, list)
    assert len(opt.params) == 3 and all(a is b for a, b in zip(opt.params, params))


def test_optimizer_reads_a_generator_once_and_keeps_it():
    """Given a generator (like model.parameters() in PyTorch), zero_grad still reaches every parameter on
    every call.

    Hint: A generator can be walked only once: call list(params) once in __init__ and store lists in the
    groups (list(group['params']) in add_param_group), never the generator itself.
    """
    params = make_params()
    opt = Optimizer(p for p in params)
    for _ in range(2):  # a generator kept as is would be exhausted after the first pass
        for p in params:
            p.grad = np.ones_like(p.data)
        opt.zero_grad()
        assert all(p.grad is None for p in params), "a grad survived zero_grad (expected None, not zeros)"


def test_zero_grad_sets_grads_to_none_and_keeps_values():
    """zero_grad() sets every grad to None (like PyTorch's set_to_none) and leaves the values alone.

    Hint: zero_grad sets p.grad = None for every p in self.params (not np.zeros_like, and never touching
    p.data).
    """
    params = make_params()
    for p in params:
        p.grad = np.full_like(p.data, 0.5)
    Optimizer(params).zero_grad()
    assert all(p.grad is None for p in params), "a grad survived zero_grad (expected None, not zeros)"
    assert params[0].data.tolist() == [1.0, 2.0]


def test_optimizer_rejects_an_empty_parameter_list():
    """Optimizer([]) raises ValueError: an optimizer with nothing to optimize is a bug (e.g. an exhausted
    generator).

    Hint: After list(params), raise ValueError when the list is empty (an exhausted generator looks the same);
    check before you look at its first item.
    """
    with pytest.raises(ValueError):
        Optimizer([])


def test_optimizer_rejects_a_parameter_listed_twice():
    """The same Parameter twice raises ValueError (it would be updated twice per step).

    Hint: In add_param_group track id(p) of every parameter already in any group and of this group's earlier
    ones; compare ids, since p == q is elementwise and returns a Tensor.
    """
    p = Parameter([1.0])
    with pytest.raises(ValueError):
        Optimizer([p, Parameter([2.0]), p])


def test_optimizer_rejects_tensors_that_do_not_require_grad():
    """A plain Tensor (requires_grad False) or a number in params raises TypeError.

    Hint: In add_param_group raise TypeError for an item that is not a Tensor (isinstance(p, Tensor)) or whose
    requires_grad is False, before adding the group.
    """
    with pytest.raises(TypeError):
        Optimizer([Parameter([1.0]), Tensor([2.0])])
    with pytest.raises(TypeError):
        Optimizer([3.0])


def test_parameters_make_one_group_with_the_defaults():
    """Optimizer(params, {"lr": 0.1}) has one parameter group: {"params": [the parameters], "lr": 0.1}
    (PyTorch's optimizer.param_groups).

    Hint: A list of parameters is one group: [{'params': list}]; add_param_group copies the group (dict(group,
    params=list(...))) and fills in every key of self.defaults it lacks (new.setdefault(name, value)).
    """
    params = make_params()
    opt = Optimizer(iter(params), {"lr": 0.1, "weight_decay": 0.0})
    assert isinstance(opt.param_groups, list) and len(opt.param_groups) == 1, opt.param_groups
    group = opt.param_groups[0]
    assert group["lr"] == 0.1 and group["weight_decay"] == 0.0
    assert isinstance(group["params"], list) and all(a is b for a, b in zip(group["params"], params))
    assert len(group["params"]) == 3


def test_dict_groups_override_the_defaults():
    """Dicts are groups: each keeps its own values and gets the defaults it does not set; the
    dicts passed in are not changed; opt.params lists every group's parameters in order.

    Hint: Fill in the defaults with setdefault on a copy (dict(group, params=list(group['params']))), so a
    group's own lr wins, the caller's dict stays as it was, and a generator in 'params' becomes a list.
    """
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
    TypeError. A parameter in two groups: ValueError.

    Hint: TypeError for: params that is one Tensor (check before list()), a non-dict among dicts, a group
    without 'params'; ValueError for a parameter seen in an earlier group (track id(p) across all groups).
    """
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
    param_groups: in PyTorch optimizer.lr = 0.01 silently does nothing.

    Hint: The AttributeError is scaffolding (names in self.defaults are refused on the optimizer): store
    hyperparameters only in the group dicts, never as self.lr, and make sure each group gets 'lr' from
    self.defaults.
    """
    opt = Optimizer(make_params(), {"lr": 0.1})
    assert opt.param_groups[0]["lr"] == 0.1
    with pytest.raises(AttributeError, match="param_groups"):
        opt.lr
    with pytest.raises(AttributeError, match="param_groups"):
        opt.lr = 0.5
    assert opt.param_groups[0]["lr"] == 0.1
