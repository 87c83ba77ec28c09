"""Kata 02 — Activations: the non-linearities that make stacked layers more than one matrix.

Each activation is a function ``f(x: Tensor) -> Tensor`` decorated with ``@op`` (so kata 05 can
attach its backward rule by name) plus a small callable class (``ReLU()``) for use in
``Sequential``. Every one of them keeps the input's shape and floating-point dtype (float32 in,
float32 out; integer input arrives as float32, as in PyTorch, except for relu which keeps it)
and stays finite, with no overflow warning, for inputs as large as ±1000 (softmax and
log_softmax: ±1e4). ``softmax(x, dim=0)`` and ``Softmax(dim=0)`` (PyTorch's spelling) work
as well as ``axis=0``. ``np.exp`` of anything above ~89 (float32) or ~710 (float64)
overflows: the heart of this kata is never asking for one.

Example
-------
>>> relu(Tensor([-1.0, 0.0, 2.0])).data
array([0., 0., 2.], dtype=float32)
>>> softmax(Tensor([[1.0, 1.0]]), axis=-1).data
array([[0.5, 0.5]], dtype=float32)
"""

from __future__ import annotations

import math

import numpy as np

from tinytorch.tensor import Tensor, accepts_dim, op

__all__ = [
    "relu", "sigmoid", "tanh", "gelu", "softmax", "log_softmax",
    "ReLU", "Sigmoid", "Tanh", "GELU", "Softmax", "LogSoftmax",
]

GELU_C = math.sqrt(2.0 / math.pi)  # √(2/π), a Python float so float32 stays float32


@op("relu")
def relu(x):
    """Rectified linear unit: ``max(x, 0)`` elementwise.

    Parameters
    ----------
    x : Tensor
        Any shape.

    Returns
    -------
    Tensor
        Same shape and dtype as ``x``: negative entries become 0, the others are kept.
        ``x`` itself is not modified.

    Examples
    --------
    >>> relu(Tensor([-2.0, 0.0, 3.0])).data
    array([0., 0., 3.], dtype=float32)
    """
    ### BEGIN SOLUTION relu
    return np.maximum(x.data, 0).astype(x.dtype, copy=False)
    ### END SOLUTION


@op("sigmoid", floating=True)
def sigmoid(x):
    """Logistic sigmoid ``1 / (1 + e^-x)`` elementwise: squashes any real number into (0, 1).

    Must be stable: no overflow warning for any finite input, and exactly ``0.0`` at ``-1000``
    and exactly ``1.0`` at ``+1000`` (``e^1000`` does not fit in any float). It satisfies
    ``sigmoid(-x) = 1 - sigmoid(x)``.

    Parameters
    ----------
    x : Tensor
        Any shape, floating point.

    Returns
    -------
    Tensor
        Same shape and dtype as ``x``, values in [0, 1].

    Examples
    --------
    >>> sigmoid(Tensor([-1000.0, 0.0, 1000.0])).data
    array([0. , 0.5, 1. ], dtype=float32)
    """
    ### BEGIN SOLUTION sigmoid
    a = x.data
    e = np.exp(-np.abs(a))  # in (0, 1]: never overflows
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)
    ### END SOLUTION


@op("tanh", floating=True)
def tanh(x):
    """Hyperbolic tangent ``(e^x - e^-x) / (e^x + e^-x)`` elementwise, in [-1, 1].

    Zero-centred cousin of sigmoid: ``tanh(x) = 2 * sigmoid(2x) - 1``. Like sigmoid it must be
    finite at ±1000 (exactly ±1 there) with no overflow warning.

    Parameters
    ----------
    x : Tensor
        Any shape, floating point.

    Returns
    -------
    Tensor
        Same shape and dtype as ``x``.

    Examples
    --------
    >>> tanh(Tensor([-1000.0, 0.0, 1000.0])).data
    array([-1.,  0.,  1.], dtype=float32)
    """
    ### BEGIN SOLUTION tanh
    return np.tanh(x.data)
    ### END SOLUTION


@op("gelu", floating=True)
def gelu(x):
    """Gaussian Error Linear Unit, tanh approximation (PyTorch's ``GELU(approximate="tanh")``,
    the one GPT-2 uses)::

        gelu(x) = 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))

    A smooth ReLU: ``gelu(0) = 0``, ``gelu(x) ≈ x`` for large ``x``, ``≈ 0`` for very negative
    ``x``, and slightly negative in between (minimum about -0.17 near x = -0.75).
    ``GELU_C`` holds √(2/π).

    Parameters
    ----------
    x : Tensor
        Any shape, floating point.

    Returns
    -------
    Tensor
        Same shape and dtype as ``x``.

    Examples
    --------
    >>> gelu(Tensor([0.0, 1.0])).data
    array([0.      , 0.841192], dtype=float32)
    """
    ### BEGIN SOLUTION gelu
    a = x.data
    with np.errstate(over="ignore"):  # a·a·a may overflow to inf for huge |x|; tanh(inf) = 1 is right
        out = 0.5 * a * (1 + np.tanh(GELU_C * (a + 0.044715 * (a * a * a))))
    return out.astype(a.dtype, copy=False)
    ### END SOLUTION


@op("softmax", floating=True)
def softmax(x, axis=-1):
    """``exp(x)`` normalised to sum to 1 along ``axis``: scores (logits) → probabilities.

    Must be stable for logits of any size (±1e4 and beyond): ``softmax(x) = softmax(x - c)`` for
    any ``c`` constant along ``axis``, so subtract the maximum along ``axis`` first and no
    exponent is ever positive.

    Parameters
    ----------
    x : Tensor
        Any shape with at least one dimension, floating point.
    axis : int
        The dimension that sums to 1 (negative counts from the end). Default: the last.
        PyTorch's ``dim=`` is accepted too (the ``@op`` scaffolding renames it to ``axis``).

    Returns
    -------
    Tensor
        Same shape and dtype as ``x``; every slice along ``axis`` is non-negative and sums to 1.

    Examples
    --------
    >>> softmax(Tensor([[0.0, 1000.0], [5.0, 5.0]])).data
    array([[0. , 1. ],
           [0.5, 0.5]], dtype=float32)
    """
    ### BEGIN SOLUTION softmax
    shifted = x.data - x.data.max(axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True)
    ### END SOLUTION


@op("log_softmax", floating=True)
def log_softmax(x, axis=-1):
    """``log(softmax(x))`` along ``axis``, computed without ever taking ``log(0)``.

    With ``m`` the maximum along ``axis``: ``log_softmax(x) = (x - m) - log(sum(exp(x - m)))``
    (the log-sum-exp trick). Where ``softmax`` underflows to 0, ``log(softmax(x))`` is ``-inf``,
    but this stays finite: ``log_softmax([1e4, -1e4]) = [0, -2e4]``.

    Parameters
    ----------
    x : Tensor
        Any shape with at least one dimension, floating point.
    axis : int
        The dimension to normalise over. Default: the last. ``dim=`` works too.

    Returns
    -------
    Tensor
        Same shape and dtype as ``x``; all values <= 0.

    Examples
    --------
    >>> log_softmax(Tensor([[0.0, 0.0]])).data
    array([[-0.6931472, -0.6931472]], dtype=float32)
    """
    ### BEGIN SOLUTION softmax
    shifted = x.data - x.data.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    ### END SOLUTION


class _Activation:
    """A parameter-free layer that calls an activation function (usable inside ``Sequential``)."""

    fn = None

    def __call__(self, x: Tensor) -> Tensor:
        return type(self).fn(x)

    def parameters(self):
        return []

    def __repr__(self):
        return f"{type(self).__name__}()"


class ReLU(_Activation):
    """``ReLU()(x)`` is ``relu(x)``."""

    fn = staticmethod(relu)


class Sigmoid(_Activation):
    """``Sigmoid()(x)`` is ``sigmoid(x)``."""

    fn = staticmethod(sigmoid)


class Tanh(_Activation):
    """``Tanh()(x)`` is ``tanh(x)``."""

    fn = staticmethod(tanh)


class GELU(_Activation):
    """``GELU()(x)`` is ``gelu(x)`` (tanh approximation)."""

    fn = staticmethod(gelu)


class Softmax(_Activation):
    """``Softmax(axis)(x)`` is ``softmax(x, axis)``; ``Softmax(dim=1)`` (PyTorch) is ``Softmax(axis=1)``."""

    @accepts_dim
    def __init__(self, axis=-1):
        self.axis = axis

    def __call__(self, x):
        return softmax(x, axis=self.axis)

    def __repr__(self):
        return f"{type(self).__name__}(axis={self.axis})"


class LogSoftmax(Softmax):
    """``LogSoftmax(axis)(x)`` is ``log_softmax(x, axis)``."""

    def __call__(self, x):
        return log_softmax(x, axis=self.axis)
