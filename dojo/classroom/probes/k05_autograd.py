"""Probes for kata 05 (Autograd): the engine, every op's gradient, no_grad and Function.

Inputs are float64 and kept away from kinks (relu at 0, max ties) by construction; each backward
gets a random upstream gradient, so a rule that is right only for ``.sum()`` disagrees.
"""

import numpy as np

from dojo.classroom.probes import probe


def _leaf(rng, shape, low=None, high=None):
    from tinytorch.tensor import Tensor

    data = rng.normal(size=shape) if low is None else rng.uniform(low, high, size=shape)
    return Tensor(data, requires_grad=True)


def _grads(rng, out, *leaves):
    """Run ``out.backward(g)`` with a random ``g``; return the leaves' gradients."""
    out.backward(rng.normal(size=out.shape))
    return {f"grad{i}": leaf.grad for i, leaf in enumerate(leaves)}


@probe("engine")
def engine_diamond_and_accumulation(rng):
    x = _leaf(rng, (3,))
    y = x * x + x  # x used twice: gradients add
    y.backward(np.ones(3))
    once = x.grad.copy()
    y.backward(np.ones(3))  # backward twice adds again
    return {"once": once, "twice": x.grad}


@probe("engine")
def engine_deep_chain(rng):
    x = _leaf(rng, (2,))
    y = x
    for _ in range(3000):  # deeper than Python's recursion limit
        y = y + 0.001
    y.backward(np.ones(2))
    return x.grad


@probe("engine")
def engine_needs_grad_for_non_scalar(rng):
    x = _leaf(rng, (2, 3))
    return (x + 1.0).backward()


@probe("arithmetic")
def arithmetic_broadcast_grads(rng):
    a, b = _leaf(rng, (3, 1)), _leaf(rng, (4,), 0.5, 2.0)
    c = _leaf(rng, (3, 4), 0.5, 2.0)
    out = (a + b) * c - a / b + (-c) ** 2 + (c.log() - b.exp()) + 3.0 / c - 2.0 * a
    return _grads(rng, out, a, b, c)


@probe("matmul_shape")
def matmul_and_shape_grads(rng):
    a, b = _leaf(rng, (2, 3, 4)), _leaf(rng, (4, 5))
    v = _leaf(rng, (5,))
    out = ((a @ b) @ v).reshape(3, 2).transpose(0, 1).permute(1, 0)
    return _grads(rng, out, a, b, v)


@probe("reductions")
def reduction_grads(rng):
    from tinytorch.tensor import Tensor

    x = Tensor(rng.permutation(24).reshape(2, 3, 4).astype(np.float64) + rng.uniform(0, 0.5, size=(2, 3, 4)), requires_grad=True)
    out = x.sum(axis=0) * 2.0 + x.mean(axis=0, keepdims=False) + x.max(axis=0) + x[1] * x[0]
    ties = Tensor(np.array([1.0, 3.0, 3.0]), requires_grad=True)
    ties.max().backward()  # tied maxima share the gradient
    grads = _grads(rng, out, x)
    y = _leaf(rng, (3, 4))
    (y.sum(axis=(0, 1), keepdims=True) * 1.5 + y.mean()).backward(np.ones((1, 1)))
    return {**grads, "ties": ties.grad, "sum_tuple": y.grad}


@probe("activations")
def activation_grads(rng):
    from tinytorch.activations import gelu, log_softmax, relu, sigmoid, softmax, tanh

    x = _leaf(rng, (3, 4))
    x.data[np.abs(x.data) < 0.05] = 0.5  # no kink at 0
    out = relu(x) + sigmoid(x) * tanh(x) + gelu(x) + softmax(x, axis=0) + log_softmax(x, axis=-1)
    return _grads(rng, out, x)


@probe("losses")
def loss_grads(rng):
    from tinytorch.losses import binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, mse_loss
    from tinytorch.tensor import Tensor

    pred, target = _leaf(rng, (3, 4)), Tensor(rng.normal(size=(3, 4)))
    logits = _leaf(rng, (5, 3))
    labels = Tensor(rng.integers(0, 3, size=5))
    probs = _leaf(rng, (2, 3), 0.1, 0.9)
    z = _leaf(rng, (2, 3))
    t = Tensor((rng.random((2, 3)) > 0.5).astype(np.float64))
    total = (mse_loss(pred, target) + cross_entropy(logits, labels, reduction="sum") * 0.5
             + binary_cross_entropy(probs, t) + binary_cross_entropy_with_logits(z, t, reduction="sum"))
    total.backward()
    return {"mse": pred.grad, "ce": logits.grad, "bce": probs.grad, "bce_logits": z.grad}


@probe("function")
def no_grad_and_function(rng):
    from tinytorch.autograd import Function, no_grad

    class Cube(Function):
        @staticmethod
        def forward(ctx, x, scale=1.0):
            ctx.save_for_backward(x)
            ctx.scale = scale
            return scale * x ** 3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved
            return 3 * ctx.scale * x ** 2 * grad

    x = _leaf(rng, (4,))
    with no_grad():
        quiet = x * 2.0
    y = Cube.apply(x, scale=2.0) * 1.5
    grads = _grads(rng, y, x)
    return {**grads, "quiet_requires_grad": bool(quiet.requires_grad), "quiet_has_node": quiet.node is not None,
            "op": y.node.inputs[0].node.op}
