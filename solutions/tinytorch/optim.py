"""Kata 06 — Optimizers: use the gradients to walk downhill.

After kata 05 every parameter has a ``.grad``: the direction in which the loss grows fastest.
An optimizer turns gradients into updates, one ``step()`` at a time::

    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    for x, y in batches:
        loss = cross_entropy(model(x), y)
        optimizer.zero_grad()     # gradients accumulate: forget the last batch's
        loss.backward()
        optimizer.step()          # p.data -= lr * (something built from p.grad)

Rules every optimizer here follows (PyTorch's):

* parameters whose ``grad`` is ``None`` are skipped (their state does not advance);
* ``p.data`` is updated **in place** and keeps its dtype (float32 stays float32);
* ``p.grad`` is never modified;
* hyperparameters live in **parameter groups**: ``optimizer.param_groups`` is a list of dicts,
  each ``{"params": [...], "lr": ..., "weight_decay": ..., ...}``, so different parameters can
  have different settings (no weight decay on biases, a smaller lr for a pretrained body).
  Changing ``group["lr"]`` changes the next step: that is how kata 07's schedules work.
  ``optimizer.lr`` does not exist (AttributeError, reading or writing): in PyTorch
  ``optimizer.lr = 0.01`` silently does nothing;
* per-parameter state (momentum buffers, Adam's moments and step count) lives in
  ``self.state[i]``, ``i`` the parameter's position in ``self.params`` (every group's
  parameters, in order), created at the parameter's first update.
"""

from __future__ import annotations

import math

import numpy as np

from tinytorch.tensor import Tensor

__all__ = ["Optimizer", "SGD", "Adam", "AdamW"]


class Optimizer:
    """Base class: parameter groups with their hyperparameters, and per-parameter state.

    Parameters
    ----------
    params : iterable of Parameter, or iterable of dict
        Either the parameters — any iterable, often ``model.parameters()``; it is read once, so
        a generator works — which become one group, or parameter groups: dicts with ``"params"``
        (the group's parameters) and any hyperparameters that differ from ``defaults``::

            AdamW([{"params": weights}, {"params": biases, "weight_decay": 0.0}], lr=1e-3)

        There must be at least one parameter (ValueError); every one must be a Tensor that
        requires grad (TypeError) and appear once in all the groups together (ValueError).
        Parameters mixed with dicts, a group without ``"params"``, or a single Tensor instead of
        an iterable raise TypeError.
    defaults : dict, optional
        The hyperparameters a group gets when it does not set them (``{"lr": 0.1, ...}``).

    Attributes
    ----------
    param_groups : list of dict
        One dict per group (new dicts: the ones passed in are not changed): ``"params"``, a
        list of Parameters, and every hyperparameter of ``defaults``, the group's own value
        first. ``optimizer.param_groups[0]["lr"]`` is the first group's learning rate.
    defaults : dict
    params : list of Parameter
        Every group's parameters, in order (tinytorch only; in PyTorch
        ``[p for g in optimizer.param_groups for p in g["params"]]``).
    state : dict
        ``{index in params: {name: NumPy array or int}}``, filled in by ``step()``.

    Reading or setting a hyperparameter on the optimizer itself (``optimizer.lr``) raises
    AttributeError: set it in the groups, ``for g in optimizer.param_groups: g["lr"] = 0.01``.
    """

    def __init__(self, params, defaults=None):
        self.defaults = dict(defaults or {})
        self.param_groups = []
        self.state = {}
        ### BEGIN SOLUTION optimizer
        if isinstance(params, Tensor):
            raise TypeError("params must be an iterable of Parameters or of dicts, got one Tensor: use [tensor]")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            if not isinstance(group, dict):
                raise TypeError(f"params mixes parameter groups (dicts) with {type(group).__name__}")
            self.add_param_group(group)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        ### END SOLUTION

    def add_param_group(self, group: dict) -> None:
        """Append a new group: a copy of ``group`` with ``"params"`` made a list and every
        hyperparameter of ``self.defaults`` it does not set filled in.

        Raises TypeError when ``group`` has no ``"params"``, when ``group["params"]`` is a single
        Tensor, or when an item is not a Tensor that requires grad; ValueError when a parameter is
        already in this group or another one. Nothing changes when it raises.
        """
        ### BEGIN SOLUTION optimizer
        if "params" not in group:
            raise TypeError(f"a parameter group needs a 'params' entry, got keys {sorted(group)}")
        if isinstance(group["params"], Tensor):
            raise TypeError("a group's 'params' must be an iterable of Parameters, got one Tensor")
        params = list(group["params"])
        seen = {id(p) for p in self.params}
        for index, p in enumerate(params):
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(f"parameter {index} is not a Tensor that requires grad: {type(p).__name__}")
            if id(p) in seen:
                raise ValueError(f"parameter {index} appears more than once in the parameter groups")
            seen.add(id(p))
        new = dict(group, params=params)
        for name, value in self.defaults.items():
            new.setdefault(name, value)
        self.param_groups.append(new)
        ### END SOLUTION

    @property
    def params(self) -> list:
        """Every group's parameters, in order: ``self.state`` is keyed by position in this list."""
        return [p for group in self.param_groups for p in group["params"]]

    def indexed_params(self):
        """Scaffolding: ``(index, p, group)`` for every parameter, ``index`` its position in
        :attr:`params` (the key of its state), ``group`` the dict of its hyperparameters.

        >>> for index, p, group in self.indexed_params():     # doctest: +SKIP
        ...     p.data -= group["lr"] * p.grad
        """
        index = 0
        for group in self.param_groups:
            for p in group["params"]:
                yield index, p, group
                index += 1

    def __getattr__(self, name):
        # Only called when normal lookup fails: a hyperparameter asked of the optimizer itself.
        if name in self.__dict__.get("defaults", ()):
            raise AttributeError(_hyperparameter_message(self, name))
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name, value):
        if name in self.__dict__.get("defaults", ()):
            raise AttributeError(_hyperparameter_message(self, name))
        object.__setattr__(self, name, value)

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to ``None`` (PyTorch's default ``set_to_none=True``)."""
        ### BEGIN SOLUTION optimizer
        for p in self.params:
            p.grad = None
        ### END SOLUTION

    def step(self) -> None:
        """Update every parameter that has a gradient. Each optimizer defines it."""
        raise NotImplementedError(f"{type(self).__name__} must define step()")

    def state_dict(self) -> dict:
        """Everything needed to continue the optimization later, as **copies** (PyTorch's layout).

        Returns ``{"state": {index: {name: array copy or int}}, "param_groups": [...]}`` where
        each entry of ``"param_groups"`` is a copy of a group's dict with its ``"params"``
        replaced by the **positions** of its parameters in :attr:`params` (``[0, 1]``, then
        ``[2]`` ...): the current hyperparameters, so an lr a schedule changed is saved too.
        Stepping the optimizer afterwards must not change a state_dict already returned.
        """
        ### BEGIN SOLUTION state_dict
        groups, start = [], 0
        for group in self.param_groups:
            n = len(group["params"])
            groups.append(dict(group, params=list(range(start, start + n))))
            start += n
        return {
            "state": {
                index: {name: value.copy() if isinstance(value, np.ndarray) else value for name, value in entry.items()}
                for index, entry in self.state.items()
            },
            "param_groups": groups,
        }
        ### END SOLUTION

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a :meth:`state_dict` (taken from an optimizer of the same kind over parameters
        of the same shapes, in the same groups), copying its arrays, so that training continues
        exactly as it would have: bit for bit the same updates. Every group gets its saved
        hyperparameters; its parameters stay this optimizer's own.

        Raises
        ------
        ValueError
            A different number of groups or of parameters in a group, different hyperparameter
            names in a group (another kind of optimizer), a state index that is not a parameter
            position, or a state array whose shape differs from its parameter's. Nothing
            changes when it raises.
        """
        ### BEGIN SOLUTION state_dict
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"load_state_dict: {len(saved_groups)} parameter group(s) saved, this optimizer has {len(self.param_groups)}"
            )
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"load_state_dict: group {i} has {len(saved['params'])} parameter(s) saved, {len(group['params'])} here"
                )
            if set(saved) != set(group):
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: group {i} hyperparameters {sorted(set(saved) - {'params'})} "
                    f"do not match {sorted(set(group) - {'params'})} (a state_dict of another optimizer?)"
                )
        params = self.params
        state = {}
        for index, entry in state_dict["state"].items():
            index = int(index)
            if not 0 <= index < len(params):
                raise ValueError(f"load_state_dict: state for parameter {index}, but there are {len(params)}")
            state[index] = {}
            for name, value in entry.items():
                if isinstance(value, np.ndarray):
                    if value.shape != params[index].shape:
                        raise ValueError(
                            f"load_state_dict: {name!r} of parameter {index} has shape {value.shape}, "
                            f"the parameter has shape {params[index].shape}"
                        )
                    value = value.copy()
                state[index][name] = value
        self.state = state
        for saved, group in zip(saved_groups, self.param_groups):
            group.update((name, value) for name, value in saved.items() if name != "params")
        ### END SOLUTION


def _hyperparameter_message(optimizer, name) -> str:
    return (
        f"{type(optimizer).__name__} has no attribute {name!r}: hyperparameters live in optimizer.param_groups, "
        f"one value per group. Read optimizer.param_groups[0][{name!r}]; change every group with "
        f"`for group in optimizer.param_groups: group[{name!r}] = value`. (In PyTorch, optimizer.{name} = value "
        "silently changes nothing.)"
    )


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay.

    For each parameter ``p`` with a gradient, with its group's hyperparameters, exactly as
    ``torch.optim.SGD`` (no dampening):

    .. code-block:: text

        g = p.grad + weight_decay * p            (L2 penalty; skipped when weight_decay == 0)
        if momentum:
            buf = g                              first step (a copy)
            buf = momentum * buf + g             later steps (in place)
            g = g + momentum * buf  if nesterov  else  buf
        p -= lr * g

    Parameters
    ----------
    params : iterable of Parameter, or of dict (parameter groups, see :class:`Optimizer`)
    lr : float
        Learning rate, >= 0.
    momentum : float
        >= 0; the buffer is ``self.state[i]["momentum_buffer"]``.
    nesterov : bool
        Needs ``momentum > 0`` (ValueError otherwise).
    weight_decay : float
        >= 0.

    These are the defaults of every group (``{"lr", "momentum", "nesterov", "weight_decay"}``);
    negative values raise ValueError.

    >>> opt = SGD([{"params": [Parameter([1.0])]}, {"params": [Parameter([2.0])], "lr": 0.01}], lr=0.1)
    >>> [group["lr"] for group in opt.param_groups]
    [0.1, 0.01]
    """

    def __init__(self, params, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        ### BEGIN SOLUTION sgd
        for name, value in (("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay)):
            if value < 0:
                raise ValueError(f"SGD: {name} must be >= 0, got {value}")
        if nesterov and momentum <= 0:
            raise ValueError("SGD: Nesterov momentum needs momentum > 0")
        ### END SOLUTION
        super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay))

    def step(self) -> None:
        """One update of every parameter with a gradient (see the class docstring), each with
        the hyperparameters of its own group.

        Weight decay builds a new array (``p.grad`` stays untouched); with momentum, let
        :meth:`momentum_direction` turn ``g`` into the step direction; then update ``p.data``
        in place (``-=``). :meth:`indexed_params` gives ``(index, p, group)``.
        """
        ### BEGIN SOLUTION sgd
        for index, p, group in self.indexed_params():
            if p.grad is None:
                continue
            g = p.grad
            if group["weight_decay"]:
                g = g + group["weight_decay"] * p.data
            if group["momentum"]:
                g = self.momentum_direction(index, g, group)
            p.data -= group["lr"] * g
        ### END SOLUTION

    def momentum_direction(self, index: int, g: np.ndarray, group: dict) -> np.ndarray:
        """Update parameter ``index``'s momentum buffer with ``g``; return the step direction.

        The buffer lives in ``self.state[index]["momentum_buffer"]``: a copy of ``g`` on the
        first step, then ``buf = momentum * buf + g`` (in place), with ``group["momentum"]``.
        The direction is ``buf``, or ``g + momentum * buf`` when ``group["nesterov"]``. Never
        modify ``g`` itself: it may be ``p.grad``.
        """
        ### BEGIN SOLUTION momentum
        momentum = group["momentum"]
        entry = self.state.setdefault(index, {})
        buf = entry.get("momentum_buffer")
        if buf is None:
            buf = entry["momentum_buffer"] = g.copy()
        else:
            buf *= momentum
            buf += g
        return g + momentum * buf if group["nesterov"] else buf
        ### END SOLUTION


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with bias correction and optional L2 weight decay.

    For each parameter with a gradient, with its group's hyperparameters, exactly as
    ``torch.optim.Adam``:

    .. code-block:: text

        g = p.grad + weight_decay * p        (L2: the decay goes through the moments)
        t = t + 1                            (per parameter: state "step")
        m = beta1 * m + (1 - beta1) * g      (state "exp_avg", zeros before the first step)
        v = beta2 * v + (1 - beta2) * g * g  (state "exp_avg_sq")
        p -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    On the first step ``m / sqrt(v)`` is ``g / |g|``: every coordinate moves by about ``lr``,
    whatever the size of its gradient.

    Parameters
    ----------
    params : iterable of Parameter, or of dict (parameter groups, see :class:`Optimizer`)
    lr : float (>= 0), betas : (float, float) each in [0, 1), eps : float (>= 0),
    weight_decay : float (>= 0). Out-of-range values raise ValueError. They are the defaults of
    every group (``{"lr", "betas", "eps", "weight_decay"}``).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        _check_adam(type(self).__name__, lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    def step(self) -> None:
        """Add the group's L2 term to the gradient (a new array), then :meth:`adam_update` each parameter."""
        ### BEGIN SOLUTION adam
        for index, p, group in self.indexed_params():
            if p.grad is None:
                continue
            g = p.grad
            if group["weight_decay"]:
                g = g + group["weight_decay"] * p.data
            self.adam_update(index, p, g, group)
        ### END SOLUTION

    def adam_update(self, index: int, p, g: np.ndarray, group: dict) -> None:
        """The Adam update of parameter ``p`` (position ``index``) with gradient ``g`` and the
        hyperparameters of its ``group`` (``"lr"``, ``"betas"``, ``"eps"``).

        Creates ``self.state[index] = {"step": 0, "exp_avg": zeros, "exp_avg_sq": zeros}`` on
        first use (zeros shaped and typed like ``p.data``), then follows the class docstring,
        updating the moments and ``p.data`` in place.
        """
        ### BEGIN SOLUTION adam
        entry = self.state.get(index)
        if entry is None:
            entry = self.state[index] = {
                "step": 0, "exp_avg": np.zeros_like(p.data), "exp_avg_sq": np.zeros_like(p.data),
            }
        beta1, beta2 = group["betas"]
        entry["step"] += 1
        t = entry["step"]
        m, v = entry["exp_avg"], entry["exp_avg_sq"]
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * (g * g)
        denom = np.sqrt(v)
        denom /= math.sqrt(1 - beta2**t)
        denom += group["eps"]
        p.data -= (group["lr"] / (1 - beta1**t)) * m / denom
        ### END SOLUTION


class AdamW(Adam):
    """Adam with *decoupled* weight decay (Loshchilov & Hutter, 2019), as ``torch.optim.AdamW``.

    .. code-block:: text

        p -= lr * weight_decay * p        (first, straight on the weights)
        then the Adam update with the raw gradient p.grad

    With Adam's L2 term the decay is divided by ``sqrt(v)`` like the gradient, so weights with
    large gradients are barely decayed; AdamW shrinks every weight by the same factor
    ``(1 - lr * weight_decay)`` per step. The default ``weight_decay`` is 0.01. The usual
    groups: no decay on biases and LayerNorm weights,
    ``AdamW([{"params": matrices}, {"params": vectors, "weight_decay": 0.0}], lr=3e-4)``.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def step(self) -> None:
        """Decay ``p.data`` in place by its group's ``lr * weight_decay``, then :meth:`adam_update` with ``p.grad``."""
        ### BEGIN SOLUTION adamw
        for index, p, group in self.indexed_params():
            if p.grad is None:
                continue
            if group["weight_decay"]:
                p.data *= 1 - group["lr"] * group["weight_decay"]
            self.adam_update(index, p, p.grad, group)
        ### END SOLUTION


def _check_adam(name, lr, betas, eps, weight_decay):
    """Raise ValueError for an out-of-range Adam hyperparameter."""
    if lr < 0:
        raise ValueError(f"{name}: lr must be >= 0, got {lr}")
    if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
        raise ValueError(f"{name}: betas must be two numbers in [0, 1), got {betas}")
    if eps < 0:
        raise ValueError(f"{name}: eps must be >= 0, got {eps}")
    if weight_decay < 0:
        raise ValueError(f"{name}: weight_decay must be >= 0, got {weight_decay}")
