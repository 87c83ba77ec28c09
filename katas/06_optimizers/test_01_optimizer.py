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
