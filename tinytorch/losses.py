"""Kata 04 — Losses: one number that says how wrong the model is.

Each loss is a function decorated with ``@op`` (kata 05 attaches its backward rule by name) and a
small callable class (``CrossEntropyLoss()``). ``reduction`` is ``"mean"`` (default) or ``"sum"``
over the batch; the result is a 0-d Tensor.

Example
-------
>>> logits = Tensor([[2.0, 0.0, 0.0]])
>>> round(cross_entropy(logits, Tensor([0])).item(), 4)
0.2395
"""

from __future__ import annotations

import numpy as np

from tinytorch.tensor import Tensor, op

__all__ = [
    "mse_loss", "cross_entropy", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "MSELoss", "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss",
]

LOG_FLOOR = -100.0  # BCE clamps log(p) and log(1 - p) at -100, as PyTorch does


def _reduce(values, reduction):
    """Mean or sum of per-element losses (scaffolding shared by every loss)."""
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")


def _check_same_shape(name, pred, target):
    if pred.shape != target.shape:
        raise ValueError(f"{name}: prediction shape {pred.shape} and target shape {target.shape} differ")


@op("mse_loss")
def mse_loss(pred, target, reduction="mean"):
    """Mean squared error: mean((pred - target)²). Shapes must match exactly (no broadcasting).

    >>> mse_loss(Tensor([1.0, 3.0]), Tensor([0.0, 0.0])).item()
    5.0
    """
    raise NotImplementedError("not implemented yet: mse_loss (kata 04, step 1: mse)")


@op("cross_entropy")
def cross_entropy(logits, targets, reduction="mean"):
    """Softmax cross-entropy from raw scores.

    Shapes: ``logits`` (N, C) floats; ``targets`` (N,) integer class ids in [0, C).
    Loss per row: logsumexp(logits) - logits[target], computed stably (finite at ±1e4).
    Out-of-range or non-integer targets raise a ValueError.
    """
    raise NotImplementedError("not implemented yet: cross_entropy (kata 04, step 2: cross_entropy)")


@op("binary_cross_entropy")
def binary_cross_entropy(probs, target, reduction="mean"):
    """BCE from probabilities in [0, 1]: -(t·log p + (1-t)·log(1-p)).

    At p = 0 or p = 1 each log is clamped at -100 (PyTorch's rule), so the loss stays finite.
    """
    raise NotImplementedError("not implemented yet: binary_cross_entropy (kata 04, step 3: bce)")


@op("binary_cross_entropy_with_logits")
def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    """BCE of sigmoid(logits), fused and stable: max(z, 0) - z·t + log(1 + e^-|z|)."""
    raise NotImplementedError("not implemented yet: binary_cross_entropy_with_logits (kata 04, step 3: bce)")


class _Loss:
    fn = None

    def __init__(self, reduction="mean"):
        self.reduction = reduction

    def __call__(self, pred, target):
        return type(self).fn(pred, target, reduction=self.reduction)

    def __repr__(self):
        return f"{type(self).__name__}(reduction={self.reduction!r})"


class MSELoss(_Loss):
    fn = staticmethod(mse_loss)


class CrossEntropyLoss(_Loss):
    fn = staticmethod(cross_entropy)


class BCELoss(_Loss):
    fn = staticmethod(binary_cross_entropy)


class BCEWithLogitsLoss(_Loss):
    fn = staticmethod(binary_cross_entropy_with_logits)
