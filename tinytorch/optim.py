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
        raise NotImplementedError("not implemented yet: Optimizer.__init__ (kata 06, step 1: optimizer)")

    def add_param_group(self, group: dict) -> None:
        """Append a new group: a copy of ``group`` with ``"params"`` made a list and every
        hyperparameter of ``self.defaults`` it does not set filled in.

        Raises TypeError when ``group`` has no ``"params"``, when ``group["params"]`` is a single
        Tensor, or when an item is not a Tensor that requires grad; ValueError when a parameter is
        already in this group or another one. Nothing changes when it raises.
        """
        raise NotImplementedError("not implemented yet: Optimizer.add_param_group (kata 06, step 1: optimizer)")

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
        raise NotImplementedError("not implemented yet: Optimizer.zero_grad (kata 06, step 1: optimizer)")

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
        raise NotImplementedError("not implemented yet: Optimizer.state_dict (kata 06, step 6: state_dict)")

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
        raise NotImplementedError("not implemented yet: Optimizer.load_state_dict (kata 06, step 6: state_dict)")


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
        raise NotImplementedError("not implemented yet: SGD.__init__ (kata 06, step 2: sgd)")
        super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay))

    def step(self) -> None:
        """One update of every parameter with a gradient (see the class docstring), each with
        the hyperparameters of its own group.

        Weight decay builds a new array (``p.grad`` stays untouched); with momentum, let
        :meth:`momentum_direction` turn ``g`` into the step direction; then update ``p.data``
        in place (``-=``). :meth:`indexed_params` gives ``(index, p, group)``.
        """
        raise NotImplementedError("not implemented yet: SGD.step (kata 06, step 2: sgd)")

    def momentum_direction(self, index: int, g: np.ndarray, group: dict) -> np.ndarray:
        """Update parameter ``index``'s momentum buffer with ``g``; return the step direction.

        The buffer lives in ``self.state[index]["momentum_buffer"]``: a copy of ``g`` on the
        first step, then ``buf = momentum * buf + g`` (in place), with ``group["momentum"]``.
        The direction is ``buf``, or ``g + momentum * buf`` when ``group["nesterov"]``. Never
        modify ``g`` itself: it may be ``p.grad``.
        """
        raise NotImplementedError("not implemented yet: SGD.momentum_direction (kata 06, step 3: momentum)")


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
        raise NotImplementedError("not implemented yet: Adam.step (kata 06, step 4: adam)")

    def adam_update(self, index: int, p, g: np.ndarray, group: dict) -> None:
        """The Adam update of parameter ``p`` (position ``index``) with gradient ``g`` and the
        hyperparameters of its ``group`` (``"lr"``, ``"betas"``, ``"eps"``).

        Creates ``self.state[index] = {"step": 0, "exp_avg": zeros, "exp_avg_sq": zeros}`` on
        first use (zeros shaped and typed like ``p.data``), then follows the class docstring,
        updating the moments and ``p.data`` in place.
        """
        raise NotImplementedError("not implemented yet: Adam.adam_update (kata 06, step 4: adam)")


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
        raise NotImplementedError("not implemented yet: AdamW.step (kata 06, step 5: adamw)")


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
