"""Kata 02 — Activations: the non-linearities that make stacked layers more than one matrix.

Each activation is a function ``f(x: Tensor) -> Tensor`` decorated with ``@op`` (so kata 05 can
attach its backward rule by name) plus a small callable class (``ReLU()``) for use in
``Sequential``. All of them keep the input's shape and dtype and must stay finite — no overflow
warnings — for inputs as large as ±1000 (softmax and log_softmax: ±1e4).

Example
-------
>>> relu(Tensor([-1.0, 0.0, 2.0])).data
array([0., 0., 2.], dtype=float32)
>>> softmax(Tensor([[1.0, 1.0]]), axis=-1).data
array([[0.5, 0.5]], dtype=float32)
"""

from __future__ import annotations

import numpy as np

from tinytorch.tensor import Tensor, op

__all__ = [
    "relu", "sigmoid", "tanh", "gelu", "softmax", "log_softmax",
    "ReLU", "Sigmoid", "Tanh", "GELU", "Softmax", "LogSoftmax",
]

GELU_C = np.sqrt(2.0 / np.pi)  # constant of the tanh approximation of GELU


@op("relu")
def relu(x):
    """max(x, 0) elementwise. Shape and dtype are kept.

    >>> relu(Tensor([-2.0, 3.0])).data
    array([0., 3.], dtype=float32)
    """
    raise NotImplementedError("not implemented yet: relu (kata 02, step 1: relu)")


@op("sigmoid")
def sigmoid(x):
    """1 / (1 + e^-x), computed without overflow for any x (no warnings at ±1000).

    Hint: for x >= 0 use 1 / (1 + e^-x); for x < 0 use e^x / (1 + e^x). Either way the exponent
    is <= 0, so e^... never overflows.

    >>> sigmoid(Tensor([0.0])).data
    array([0.5], dtype=float32)
    """
    raise NotImplementedError("not implemented yet: sigmoid (kata 02, step 2: sigmoid)")


@op("tanh")
def tanh(x):
    """Hyperbolic tangent, in (-1, 1)."""
    raise NotImplementedError("not implemented yet: tanh (kata 02, step 3: tanh)")


@op("gelu")
def gelu(x):
    """Gaussian Error Linear Unit, tanh approximation (PyTorch's ``approximate="tanh"``):

    0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))
    """
    raise NotImplementedError("not implemented yet: gelu (kata 02, step 4: gelu)")


@op("softmax")
def softmax(x, axis=-1):
    """exp(x) normalised to sum to 1 along ``axis``; stable for logits of any size.

    Subtract the maximum along ``axis`` first: softmax(x) = softmax(x - c) for any constant c,
    and then no exponent is positive.

    >>> softmax(Tensor([[0.0, 1000.0]])).data
    array([[0., 1.]], dtype=float32)
    """
    raise NotImplementedError("not implemented yet: softmax (kata 02, step 5: softmax)")


@op("log_softmax")
def log_softmax(x, axis=-1):
    """log(softmax(x)) along ``axis`` without ever taking log(0): x - max - log(sum(exp(x - max)))."""
    raise NotImplementedError("not implemented yet: log_softmax (kata 02, step 5: softmax)")


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
    fn = staticmethod(relu)


class Sigmoid(_Activation):
    fn = staticmethod(sigmoid)


class Tanh(_Activation):
    fn = staticmethod(tanh)


class GELU(_Activation):
    fn = staticmethod(gelu)


class Softmax(_Activation):
    def __init__(self, axis=-1):
        self.axis = axis

    def __call__(self, x):
        return softmax(x, axis=self.axis)


class LogSoftmax(Softmax):
    def __call__(self, x):
        return log_softmax(x, axis=self.axis)
