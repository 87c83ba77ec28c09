"""Probes for kata 02 (Activations): relu, sigmoid, tanh, gelu, softmax and log_softmax."""

import numpy as np

from dojo.classroom.probes import probe


def _inputs(rng):
    from tinytorch.tensor import Tensor

    x = rng.normal(scale=3.0, size=(3, 4)).astype(np.float32)
    x[0, :2] = [1000.0, -1000.0]  # the edges: finite, no overflow
    return Tensor(x)


@probe("relu")
def relu(rng):
    from tinytorch.activations import ReLU, relu

    x = _inputs(rng)
    return {"f": relu(x), "layer": ReLU()(x)}


@probe("sigmoid")
def sigmoid(rng):
    from tinytorch.activations import Sigmoid, sigmoid

    x = _inputs(rng)
    return {"f": sigmoid(x), "layer": Sigmoid()(x)}


@probe("tanh")
def tanh(rng):
    from tinytorch.activations import Tanh, tanh

    x = _inputs(rng)
    return {"f": tanh(x), "layer": Tanh()(x)}


@probe("gelu")
def gelu(rng):
    from tinytorch.activations import GELU, gelu

    x = _inputs(rng)
    return {"f": gelu(x), "layer": GELU()(x)}


@probe("softmax")
def softmax_any_axis(rng):
    from tinytorch.activations import LogSoftmax, Softmax, log_softmax, softmax
    from tinytorch.tensor import Tensor

    x = Tensor(rng.normal(scale=4.0, size=(2, 3, 4)))
    big = Tensor(np.array([[1e4, -1e4, 0.0], [5.0, 5.0, 5.0]], dtype=np.float32))
    return {
        "last": softmax(x), "axis0": softmax(x, axis=0), "axis-2": Softmax(axis=-2)(x),
        "log": log_softmax(x, axis=1), "log_layer": LogSoftmax()(x), "big": softmax(big), "big_log": log_softmax(big),
    }
