"""Kata 04 — Losses: one number that says how wrong the model is.

Each loss is a function decorated with ``@op`` (kata 05 attaches its backward rule by name) and a
small callable class (``CrossEntropyLoss()``). ``reduction`` is ``"mean"`` (default) or ``"sum"``
of the per-element (or per-row) losses; the result is a 0-d Tensor of the input's float dtype.
Any other ``reduction`` raises a ValueError (``_reduce`` below does that for you).

Losses meet extreme values all the time (a confident model has huge logits, a saturated sigmoid
gives exactly 0 or 1), so every loss here must stay finite there: that is the heart of the kata.

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
    """Mean or sum of the per-element losses ``values`` (a NumPy array); any other reduction
    raises a ValueError. Scaffolding shared by every loss."""
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")


def _check_same_shape(name, pred, target):
    """Raise a ValueError naming both shapes unless ``pred`` and ``target`` have the same shape."""
    if pred.shape != target.shape:
        raise ValueError(f"{name}: prediction shape {pred.shape} and target shape {target.shape} differ")


@op("mse_loss")
def mse_loss(pred, target, reduction="mean"):
    """Mean squared error: ``mean((pred - target)²)`` over every element.

    The shapes must match exactly: broadcasting ``(N,)`` against ``(N, 1)`` would silently
    compare every prediction with every target, so a mismatch raises a ValueError naming both
    shapes (``_check_same_shape`` does it).

    Parameters
    ----------
    pred, target : Tensor
        The same shape, any.
    reduction : {"mean", "sum"}
        Average or add up the squared errors.

    Returns
    -------
    Tensor
        0-d, of ``pred``'s float dtype.

    Examples
    --------
    >>> mse_loss(Tensor([1.0, 3.0]), Tensor([0.0, 0.0])).item()
    5.0
    >>> mse_loss(Tensor([1.0, 3.0]), Tensor([0.0, 0.0]), reduction="sum").item()
    10.0
    """
    ### BEGIN SOLUTION mse
    _check_same_shape("mse_loss", pred, target)
    diff = pred.data - target.data
    return _reduce(diff * diff, reduction)
    ### END SOLUTION


@op("cross_entropy")
def cross_entropy(logits, targets, reduction="mean"):
    """Softmax cross-entropy from raw scores: ``-log(softmax(logits)[target])`` per row.

    Computed stably as ``logsumexp(row) - row[target]``, where
    ``logsumexp(row) = m + log(sum(exp(row - m)))`` with ``m = max(row)``: finite and exact for
    logits of ±1e4. (Never build ``softmax`` and take its ``log``: it underflows to ``log(0)``.)

    Parameters
    ----------
    logits : Tensor
        Shape ``(N, C)``, floating point: one row of C class scores per example.
    targets : Tensor
        Shape ``(N,)``, integer dtype: the correct class of each row, in ``[0, C)``.
    reduction : {"mean", "sum"}
        Average or add up the N per-row losses.

    Returns
    -------
    Tensor
        0-d, of ``logits``' dtype.

    Raises
    ------
    ValueError
        When the shapes are not ``(N, C)`` and ``(N,)``, the targets are not integers (a float
        ``1.0`` is not a class id), or a target is outside ``[0, C)`` (``-1`` must not quietly
        mean "the last class").

    Examples
    --------
    >>> round(cross_entropy(Tensor([[2.0, 0.0, 0.0]]), Tensor([0])).item(), 4)
    0.2395
    >>> cross_entropy(Tensor([[1e4, -1e4]]), Tensor([1])).item()
    20000.0
    """
    ### BEGIN SOLUTION cross_entropy
    z, y = logits.data, targets.data
    if z.ndim != 2 or y.shape != (z.shape[0],):
        raise ValueError(f"cross_entropy: logits must be (N, C) and targets (N,), got {z.shape} and {y.shape}")
    if y.dtype.kind not in "iu":
        raise ValueError(f"cross_entropy: targets must be integer class ids, got dtype {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= z.shape[1]):
        raise ValueError(f"cross_entropy: targets must be in [0, {z.shape[1]}), got {y.min()}..{y.max()}")
    m = z.max(axis=1, keepdims=True)
    logsumexp = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
    return _reduce(logsumexp - z[np.arange(len(y)), y], reduction)
    ### END SOLUTION


@op("binary_cross_entropy")
def binary_cross_entropy(probs, target, reduction="mean"):
    """Binary cross-entropy from probabilities: ``-(t·log p + (1-t)·log(1-p))`` per element.

    At ``p = 0`` or ``p = 1`` a log is ``-inf``; as in PyTorch, each log is clamped at ``-100``
    (``LOG_FLOOR``) so the loss stays finite: a confidently wrong element costs 100, a
    confidently right one costs 0 (never ``0 · -inf = nan``).

    Parameters
    ----------
    probs : Tensor
        Probabilities in [0, 1] (e.g. a sigmoid's output), any shape.
    target : Tensor
        Same shape as ``probs``, values in [0, 1] (usually 0 or 1).
    reduction : {"mean", "sum"}

    Returns
    -------
    Tensor
        0-d, of ``probs``' dtype.

    Raises
    ------
    ValueError
        When the shapes differ (naming both), or a probability is outside [0, 1].

    Examples
    --------
    >>> round(binary_cross_entropy(Tensor([0.5]), Tensor([1.0])).item(), 4)
    0.6931
    >>> binary_cross_entropy(Tensor([0.0, 1.0]), Tensor([1.0, 1.0])).item()
    50.0
    """
    ### BEGIN SOLUTION bce
    _check_same_shape("binary_cross_entropy", probs, target)
    p, t = probs.data, target.data
    if p.size and not (p.min() >= 0 and p.max() <= 1):  # written so that NaN fails too
        raise ValueError(f"binary_cross_entropy: probabilities must be in [0, 1], got {p.min()}..{p.max()}")
    with np.errstate(divide="ignore"):  # log(0) = -inf is expected here: it is clamped next
        log_p = np.maximum(np.log(p), LOG_FLOOR)
        log_q = np.maximum(np.log1p(-p), LOG_FLOOR)
    return _reduce(-(t * log_p + (1 - t) * log_q), reduction)
    ### END SOLUTION


@op("binary_cross_entropy_with_logits")
def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    """Binary cross-entropy of ``sigmoid(logits)``, fused into one stable formula.

    Equal to ``binary_cross_entropy(sigmoid(z), t)`` where that is finite, but exact for any
    ``z`` (no clamping, no overflow at ±1000)::

        loss = max(z, 0) - z·t + log(1 + e^-|z|)

    Parameters
    ----------
    logits : Tensor
        Raw scores ``z``, any shape, floating point.
    target : Tensor
        Same shape as ``logits``, values in [0, 1].
    reduction : {"mean", "sum"}

    Returns
    -------
    Tensor
        0-d, of ``logits``' dtype.

    Examples
    --------
    >>> binary_cross_entropy_with_logits(Tensor([1000.0, -1000.0]), Tensor([0.0, 1.0])).item()
    1000.0
    """
    ### BEGIN SOLUTION bce
    _check_same_shape("binary_cross_entropy_with_logits", logits, target)
    z, t = logits.data, target.data
    return _reduce(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z))), reduction)
    ### END SOLUTION


class _Loss:
    """A loss as a callable object: ``MSELoss(reduction="sum")(pred, target)``."""

    fn = None

    def __init__(self, reduction="mean"):
        self.reduction = reduction

    def __call__(self, pred, target):
        return type(self).fn(pred, target, reduction=self.reduction)

    def __repr__(self):
        return f"{type(self).__name__}(reduction={self.reduction!r})"


class MSELoss(_Loss):
    """``MSELoss(reduction)(pred, target)`` is ``mse_loss(pred, target, reduction)``."""

    fn = staticmethod(mse_loss)


class CrossEntropyLoss(_Loss):
    """``CrossEntropyLoss(reduction)(logits, targets)`` is ``cross_entropy(logits, targets, reduction)``."""

    fn = staticmethod(cross_entropy)


class BCELoss(_Loss):
    """``BCELoss(reduction)(probs, target)`` is ``binary_cross_entropy(probs, target, reduction)``."""

    fn = staticmethod(binary_cross_entropy)


class BCEWithLogitsLoss(_Loss):
    """``BCEWithLogitsLoss(reduction)(logits, target)`` is ``binary_cross_entropy_with_logits(...)``."""

    fn = staticmethod(binary_cross_entropy_with_logits)
