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
* per-parameter state (momentum buffers, Adam's moments and step count) lives in
  ``self.state[i]``, ``i`` the parameter's position in ``self.params``, created at the
  parameter's first update;
* hyperparameters are plain attributes (``optimizer.lr = 0.01`` changes the learning rate, which
  is how kata 07's schedules work).
"""

from __future__ import annotations

import math

import numpy as np

from tinytorch.tensor import Tensor

__all__ = ["Optimizer", "SGD", "Adam", "AdamW"]


class Optimizer:
    """Base class: holds the parameters, their per-parameter state and the hyperparameters.

    Parameters
    ----------
    params : iterable of Parameter
        Any iterable — often ``model.parameters()``; it is read once into the list
        ``self.params``, so a generator works. It must not be empty, every item must be a
        Tensor that requires grad, and no parameter may appear twice (ValueError/TypeError).
    **hyperparameters
        Stored as attributes (``lr=0.1`` gives ``self.lr``); their names are kept in
        ``self.hyperparameter_names`` for :meth:`state_dict`.

    Attributes
    ----------
    params : list of Parameter
    state : dict
        ``{index in params: {name: NumPy array or int}}``, filled in by ``step()``.
    """

    def __init__(self, params, **hyperparameters):
        raise NotImplementedError("not implemented yet: Optimizer.__init__ (kata 06, step 1: optimizer)")
        self.state = {}
        self.hyperparameter_names = tuple(hyperparameters)
        for name, value in hyperparameters.items():
            setattr(self, name, value)

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to ``None`` (PyTorch's default ``set_to_none=True``)."""
        raise NotImplementedError("not implemented yet: Optimizer.zero_grad (kata 06, step 1: optimizer)")

    def step(self) -> None:
        """Update every parameter that has a gradient. Each optimizer defines it."""
        raise NotImplementedError(f"{type(self).__name__} must define step()")

    def state_dict(self) -> dict:
        """Everything needed to continue the optimization later, as **copies**.

        Returns ``{"state": {index: {name: array copy or int}}, "hyperparameters": {name: value}}``
        where ``hyperparameters`` holds the current value of every name in
        ``self.hyperparameter_names`` (so a changed ``lr`` is saved too). Stepping the optimizer
        afterwards must not change a state_dict already returned.
        """
        raise NotImplementedError("not implemented yet: Optimizer.state_dict (kata 06, step 6: state_dict)")

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a :meth:`state_dict` (taken from an optimizer of the same kind over parameters
        of the same shapes), copying its arrays, so that training continues exactly as it would
        have: bit for bit the same updates.

        Raises
        ------
        ValueError
            Different hyperparameter names (another kind of optimizer), a state index that is
            not a parameter position, or a state array whose shape differs from its parameter's.
        """
        raise NotImplementedError("not implemented yet: Optimizer.load_state_dict (kata 06, step 6: state_dict)")


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay.

    For each parameter ``p`` with a gradient, exactly as ``torch.optim.SGD`` (no dampening):

    .. code-block:: text

        g = p.grad + weight_decay * p            (L2 penalty; skipped when weight_decay == 0)
        if momentum:
            buf = g                              first step (a copy)
            buf = momentum * buf + g             later steps (in place)
            g = g + momentum * buf  if nesterov  else  buf
        p -= lr * g

    Parameters
    ----------
    params : iterable of Parameter
    lr : float
        Learning rate, >= 0.
    momentum : float
        >= 0; the buffer is ``self.state[i]["momentum_buffer"]``.
    nesterov : bool
        Needs ``momentum > 0`` (ValueError otherwise).
    weight_decay : float
        >= 0.

    Negative values raise ValueError.
    """

    def __init__(self, params, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        raise NotImplementedError("not implemented yet: SGD.__init__ (kata 06, step 2: sgd)")
        super().__init__(params, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)

    def step(self) -> None:
        """One update of every parameter with a gradient (see the class docstring).

        Weight decay builds a new array (``p.grad`` stays untouched); with momentum, let
        :meth:`momentum_direction` turn ``g`` into the step direction; then update ``p.data``
        in place (``-=``).
        """
        raise NotImplementedError("not implemented yet: SGD.step (kata 06, step 2: sgd)")

    def momentum_direction(self, index: int, g: np.ndarray) -> np.ndarray:
        """Update parameter ``index``'s momentum buffer with ``g``; return the step direction.

        The buffer lives in ``self.state[index]["momentum_buffer"]``: a copy of ``g`` on the
        first step, then ``buf = momentum * buf + g`` (in place). The direction is ``buf``, or
        ``g + momentum * buf`` with Nesterov momentum. Never modify ``g`` itself: it may be
        ``p.grad``.
        """
        raise NotImplementedError("not implemented yet: SGD.momentum_direction (kata 06, step 3: momentum)")


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with bias correction and optional L2 weight decay.

    For each parameter with a gradient, exactly as ``torch.optim.Adam``:

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
    lr : float (>= 0), betas : (float, float) each in [0, 1), eps : float (>= 0),
    weight_decay : float (>= 0). Out-of-range values raise ValueError.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        _check_adam(type(self).__name__, lr, betas, eps, weight_decay)
        super().__init__(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)

    def step(self) -> None:
        """Add the L2 term to the gradient (a new array), then :meth:`adam_update` each parameter."""
        raise NotImplementedError("not implemented yet: Adam.step (kata 06, step 4: adam)")

    def adam_update(self, index: int, p, g: np.ndarray) -> None:
        """The Adam update of parameter ``p`` (position ``index``) with gradient ``g``.

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
    ``(1 - lr * weight_decay)`` per step. The default ``weight_decay`` is 0.01.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def step(self) -> None:
        """Decay ``p.data`` in place, then :meth:`adam_update` with ``p.grad``."""
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
