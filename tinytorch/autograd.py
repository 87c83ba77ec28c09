"""Kata 05 — Autograd: run the recorded graph backwards.

Since kata 01 every op has left a :class:`~tinytorch.tensor.Node` on its result: the op's name,
its input tensors and the arguments it was called with. This file turns those records into
gradients:

* :func:`backward` — the engine: visit the graph in reverse topological order, ask each op's
  backward *rule* for the gradients of its inputs, and accumulate them into the leaves' ``.grad``.
* one rule per op, registered by name with ``@rule("name")``: ``f(node, grad) -> tuple`` giving
  one gradient (a NumPy array shaped like that input, or ``None``) per input tensor.
* :class:`no_grad` — a context manager (and decorator) that stops recording.
* :class:`Function` — the public way to add a new differentiable op with its forward and its
  backward side by side (later katas use it for convolution and more).

Semantics (PyTorch's, except where noted)
-----------------------------------------
* Gradients **accumulate**: ``backward()`` adds into ``leaf.grad``; call ``zero_grad()`` (or
  ``optimizer.zero_grad()``) between steps.
* Calling ``backward()`` twice on the same graph is allowed here (PyTorch frees the graph and
  raises): the second call adds the same gradients again, so ``.grad`` doubles.
* ``backward()`` on a one-element tensor seeds with 1; any other shape needs ``grad=`` of that shape.
* Only leaves (tensors you created with ``requires_grad=True``, parameters) keep ``.grad``.
* ``max`` shares the gradient equally between tied maxima (like ``torch.amax``).

Example
-------
>>> x = Tensor([2.0, 3.0], requires_grad=True)
>>> (x * x + x).sum().backward()
>>> x.grad
array([5., 7.], dtype=float32)
"""

from __future__ import annotations

import functools

import numpy as np

from tinytorch.tensor import Tensor, is_grad_enabled, record_op, set_grad_enabled

__all__ = [
    "backward", "topological_order", "rule", "RULES", "unbroadcast", "expand_reduced", "no_grad",
    "Function", "Context",
]

# ---------------------------------------------------------------------------------------------
# Scaffolding: the rule registry.
# ---------------------------------------------------------------------------------------------

RULES: dict = {}


def rule(op_name: str):
    """Register ``f(node, grad) -> tuple of input gradients`` as the backward rule of ``op_name``."""

    def register(fn):
        RULES[op_name] = fn
        return fn

    return register


# ---------------------------------------------------------------------------------------------
# Step 1: the engine
# ---------------------------------------------------------------------------------------------


def topological_order(root: Tensor) -> list:
    """Every tensor that ``root`` depends on and that requires grad, inputs before outputs.

    Each tensor appears once (a tensor used twice, as in ``x * x + x``, is still one entry) and
    ``root`` comes last. Walk ``tensor.node.inputs`` with an explicit stack, not recursion: a
    chain of ops deeper than Python's recursion limit must still work. Tensors are compared by
    identity (``id(t)``; ``==`` on tensors is elementwise).

    >>> x = Tensor([1.0], requires_grad=True)
    >>> z = x * 2 + x
    >>> [t.node.op if t.node else "leaf x" for t in topological_order(z)]
    ['leaf x', 'mul', 'add']
    """
    raise NotImplementedError("not implemented yet: topological_order (kata 05, step 1: engine)")


def backward(root: Tensor, grad=None) -> None:
    """Accumulate d(root)/d(leaf) · grad into ``leaf.grad`` for every leaf that requires grad.

    Parameters
    ----------
    root : Tensor
        The output to differentiate. It must require grad.
    grad : array_like or Tensor, optional
        The upstream gradient, shaped like ``root``. Optional only when ``root`` has one
        element (then it is 1).

    Raises
    ------
    RuntimeError
        ``root`` does not require grad; ``grad`` is missing for a non-scalar or has the wrong
        shape (say which shape is needed); an op has no backward rule; a rule returns the wrong
        number of gradients or one of the wrong shape.

    Notes
    -----
    Visit :func:`topological_order` in reverse, so a tensor's gradient is complete (every use
    has added to it) before its own rule runs. Keep the gradients of intermediate tensors in a
    dict keyed by ``id(tensor)``; only leaves (``node is None``) keep ``.grad``, which gets the
    leaf's shape and dtype and is *added to*, never replaced: calling ``backward()`` twice adds
    the same gradients twice, and ``zero_grad()`` resets.
    """
    raise NotImplementedError("not implemented yet: backward (kata 05, step 1: engine)")


# ---------------------------------------------------------------------------------------------
# Step 2: elementwise arithmetic, with broadcasting
# ---------------------------------------------------------------------------------------------


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` down to ``shape``: undo the broadcasting the forward op did.

    Broadcasting copies an input along new leading axes and along axes of size 1, so its
    gradient is the sum over those axes.

    >>> unbroadcast(np.ones((4, 2, 3)), (2, 1)).tolist()
    [[12.0], [12.0]]
    """
    raise NotImplementedError("not implemented yet: unbroadcast (kata 05, step 2: arithmetic)")


@rule("add")
def add_backward(node, grad):
    """``a + b``: each input receives ``grad``, summed back to its own shape (:func:`unbroadcast`)."""
    raise NotImplementedError("not implemented yet: add_backward (kata 05, step 2: arithmetic)")


@rule("sub")
def sub_backward(node, grad):
    """``a - b``: ``a`` receives ``grad``, ``b`` receives ``-grad``, each unbroadcast to its shape."""
    raise NotImplementedError("not implemented yet: sub_backward (kata 05, step 2: arithmetic)")


@rule("mul")
def mul_backward(node, grad):
    """``a * b``: ``a`` receives ``grad * b``, ``b`` receives ``grad * a``, each unbroadcast.

    Return ``None`` for an input that does not require grad (``x * 2`` has the lifted ``2`` as
    its second input) to skip work nobody needs.
    """
    raise NotImplementedError("not implemented yet: mul_backward (kata 05, step 2: arithmetic)")


@rule("div")
def div_backward(node, grad):
    """``a / b``: d/da = 1/b, d/db = -a/b² (= -out/b); each unbroadcast to its input's shape."""
    raise NotImplementedError("not implemented yet: div_backward (kata 05, step 2: arithmetic)")


@rule("neg")
def neg_backward(node, grad):
    """``-a``: one input, so return a 1-tuple."""
    raise NotImplementedError("not implemented yet: neg_backward (kata 05, step 2: arithmetic)")


@rule("pow")
def pow_backward(node, grad):
    """``a ** p`` for a Python number ``p`` (``node.args["exponent"]``): d/da = p · a^(p-1)."""
    raise NotImplementedError("not implemented yet: pow_backward (kata 05, step 2: arithmetic)")


@rule("exp")
def exp_backward(node, grad):
    """``exp(a)``: the derivative is the output itself (``node.out``)."""
    raise NotImplementedError("not implemented yet: exp_backward (kata 05, step 2: arithmetic)")


@rule("log")
def log_backward(node, grad):
    """``log(a)``: d/da = 1/a."""
    raise NotImplementedError("not implemented yet: log_backward (kata 05, step 2: arithmetic)")


# ---------------------------------------------------------------------------------------------
# Step 3: matmul and shape ops
# ---------------------------------------------------------------------------------------------


def _transposed(array):
    """True for a transposed view of a C-contiguous matrix (such as ``W.T``)."""
    return array.flags.f_contiguous and not array.flags.c_contiguous


@rule("matmul")
def matmul_backward(node, grad):
    """``a @ b``: for matrices, ``grad @ b.T`` and ``a.T @ grad``.

    The other ranks follow the forward's rules: a 1-D ``a`` acts as a row ``(1, n)`` and a 1-D
    ``b`` as a column ``(n, 1)`` (promote them, and ``grad`` with them, then squeeze back), and
    batch dimensions that broadcast are summed away with :func:`unbroadcast`. Transpose only the
    last two axes (``np.swapaxes(x, -1, -2)``).
    """
    raise NotImplementedError("not implemented yet: matmul_backward (kata 05, step 3: matmul_shape)")


@rule("reshape")
def reshape_backward(node, grad):
    """``a.reshape(...)``: the same elements in the same order, so reshape ``grad`` back."""
    raise NotImplementedError("not implemented yet: reshape_backward (kata 05, step 3: matmul_shape)")


@rule("transpose")
def transpose_backward(node, grad):
    """``a.transpose(dim0, dim1)`` (``node.args``): swapping the same two axes undoes it."""
    raise NotImplementedError("not implemented yet: transpose_backward (kata 05, step 3: matmul_shape)")


@rule("permute")
def permute_backward(node, grad):
    """``a.permute(*dims)``: apply the inverse permutation (``np.argsort(dims)``) to ``grad``.

    ``node.args["dims"]`` is the tuple ``permute`` received: ``(2, 0, 1)``, or ``((2, 0, 1),)``
    when it was called with one tuple; entries may be negative.
    """
    raise NotImplementedError("not implemented yet: permute_backward (kata 05, step 3: matmul_shape)")


# ---------------------------------------------------------------------------------------------
# Step 4: reductions and indexing
# ---------------------------------------------------------------------------------------------


def expand_reduced(grad: np.ndarray, shape: tuple, axis, keepdims: bool) -> np.ndarray:
    """Broadcast the gradient of a reduction back to the input's ``shape``.

    >>> expand_reduced(np.array([1.0, 2.0]), (2, 3), axis=1, keepdims=False).tolist()
    [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]
    """
    raise NotImplementedError("not implemented yet: expand_reduced (kata 05, step 4: reductions)")


def _count(shape, axis):
    if axis is None:
        return int(np.prod(shape))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return int(np.prod([shape[a] for a in axes]))


@rule("sum")
def sum_backward(node, grad):
    """``a.sum(axis, keepdims)``: every summed element receives the gradient of its sum."""
    raise NotImplementedError("not implemented yet: sum_backward (kata 05, step 4: reductions)")


@rule("mean")
def mean_backward(node, grad):
    """``a.mean(axis, keepdims)``: like sum, divided by the number of elements averaged."""
    raise NotImplementedError("not implemented yet: mean_backward (kata 05, step 4: reductions)")


@rule("max")
def max_backward(node, grad):
    """``a.max(axis, keepdims)``: the gradient goes to the element(s) that were the maximum.

    Tie rule: tied maxima share it equally (``max([1, 3, 3])`` sends 1/2 to each 3), like
    ``torch.amax``. Compare ``a`` with the output (``node.out``) broadcast back to find them.
    """
    raise NotImplementedError("not implemented yet: max_backward (kata 05, step 4: reductions)")


@rule("getitem")
def getitem_backward(node, grad):
    """Scatter-add: an element picked twice (``x[[0, 0]]``) receives both gradients.

    ``node.args["index"]`` is the index exactly as NumPy received it (Tensors already swapped
    for their arrays). ``np.add.at`` adds at repeated positions; ``out[index] += grad`` would not.
    """
    raise NotImplementedError("not implemented yet: getitem_backward (kata 05, step 4: reductions)")


# ---------------------------------------------------------------------------------------------
# Step 5: activations (kata 02)
# ---------------------------------------------------------------------------------------------


@rule("relu")
def relu_backward(node, grad):
    """``relu(a)``: ``grad`` passes where ``a > 0``; elsewhere 0 (also at exactly 0)."""
    raise NotImplementedError("not implemented yet: relu_backward (kata 05, step 5: activations)")


@rule("sigmoid")
def sigmoid_backward(node, grad):
    """``s = sigmoid(a)``: ds/da = s · (1 - s), from ``node.out``."""
    raise NotImplementedError("not implemented yet: sigmoid_backward (kata 05, step 5: activations)")


@rule("tanh")
def tanh_backward(node, grad):
    """``t = tanh(a)``: dt/da = 1 - t², from ``node.out``."""
    raise NotImplementedError("not implemented yet: tanh_backward (kata 05, step 5: activations)")


@rule("gelu")
def gelu_backward(node, grad):
    """``gelu(a) = 0.5 · a · (1 + tanh(u))`` with ``u = GELU_C · (a + 0.044715 · a³)``:

    d/da = 0.5 · (1 + tanh(u)) + 0.5 · a · (1 - tanh(u)²) · GELU_C · (1 + 3 · 0.044715 · a²).
    """
    raise NotImplementedError("not implemented yet: gelu_backward (kata 05, step 5: activations)")


@rule("softmax")
def softmax_backward(node, grad):
    """``s = softmax(a, axis)``: d/da = s · (grad - sum(grad · s, axis)) (sum with keepdims)."""
    raise NotImplementedError("not implemented yet: softmax_backward (kata 05, step 5: activations)")


@rule("log_softmax")
def log_softmax_backward(node, grad):
    """``y = log_softmax(a, axis)``: d/da = grad - exp(y) · sum(grad, axis) (sum with keepdims)."""
    raise NotImplementedError("not implemented yet: log_softmax_backward (kata 05, step 5: activations)")


# ---------------------------------------------------------------------------------------------
# Step 6: losses (kata 04)
# ---------------------------------------------------------------------------------------------


def _scale(node, n):
    """1/n for reduction='mean', 1 for 'sum'."""
    return 1.0 / n if node.args["reduction"] == "mean" else 1.0


@rule("mse_loss")
def mse_backward(node, grad):
    """``mse_loss(pred, target, reduction)``: d/dpred = 2 (pred - target) / N for 'mean'
    (N = number of elements; no /N for 'sum'), times the scalar ``grad``; d/dtarget is minus that.
    """
    raise NotImplementedError("not implemented yet: mse_backward (kata 05, step 6: losses)")


@rule("cross_entropy")
def cross_entropy_backward(node, grad):
    """``cross_entropy(logits (N, C), targets (N,), reduction)``:

    d/dlogits = (softmax(logits) - onehot(targets)) / N for 'mean' (no /N for 'sum'), times the
    scalar ``grad``. The integer targets get ``None``.
    """
    raise NotImplementedError("not implemented yet: cross_entropy_backward (kata 05, step 6: losses)")


@rule("binary_cross_entropy")
def bce_backward(node, grad):
    """``binary_cross_entropy(p, t, reduction)``: d/dp = (p - t) / (p (1 - p)) / N ('mean'),
    times the scalar ``grad``, with the denominator kept >= 1e-12 (PyTorch's rule).

    The target gets a gradient only if it requires one: d/dt = (log(1 - p) - log p) / N.
    """
    raise NotImplementedError("not implemented yet: bce_backward (kata 05, step 6: losses)")


@rule("binary_cross_entropy_with_logits")
def bce_logits_backward(node, grad):
    """``binary_cross_entropy_with_logits(z, t, reduction)``: d/dz = (sigmoid(z) - t) / N
    ('mean'), times the scalar ``grad``; the target, if it requires grad, gets -z / N.
    """
    raise NotImplementedError("not implemented yet: bce_logits_backward (kata 05, step 6: losses)")


# ---------------------------------------------------------------------------------------------
# Step 7: no_grad and the Function API
# ---------------------------------------------------------------------------------------------


class no_grad:
    """Context manager and decorator: ops inside record no graph (``requires_grad`` is False).

    >>> x = Tensor([1.0], requires_grad=True)
    >>> with no_grad():
    ...     y = x * 2
    >>> y.requires_grad, y.node
    (False, None)

    As a decorator: ``@no_grad()`` above a ``def``. The previous mode comes back when the block
    ends, also when it raises.
    """

    def __enter__(self):
        """Turn recording off (``set_grad_enabled(False)``), remembering the previous mode."""
        raise NotImplementedError("not implemented yet: no_grad.__enter__ (kata 05, step 7: function)")

    def __exit__(self, *exc):
        """Restore the previous mode, also when the block raised; never swallow the exception."""
        raise NotImplementedError("not implemented yet: no_grad.__exit__ (kata 05, step 7: function)")

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with no_grad():
                return fn(*args, **kwargs)

        return wrapper


class Context:
    """What a :class:`Function`'s forward leaves for its backward.

    Attributes: ``saved`` (the arrays given to :meth:`save_for_backward`), ``needs_input_grad``
    (a bool per positional forward argument), and any attribute you set yourself.
    """

    def __init__(self):
        self.saved = ()
        self.needs_input_grad = ()

    def save_for_backward(self, *arrays):
        self.saved = arrays


class Function:
    """A differentiable op written as a forward and a backward side by side (like PyTorch's).

    Subclass it and write two static methods on NumPy arrays, then call ``apply`` with Tensors::

        class Cube(Function):
            @staticmethod
            def forward(ctx, x):             # arrays in (Tensors arrive as their .data)
                ctx.save_for_backward(x)
                return x ** 3                # one array out
            @staticmethod
            def backward(ctx, grad):         # one gradient per positional forward argument
                (x,) = ctx.saved
                return 3 * x ** 2 * grad     # (None for arguments that are not tensors)

        y = Cube.apply(t)                    # a Tensor whose node.op is "Cube"

    Keyword arguments of ``apply`` are passed to ``forward`` and stored in ``node.args``.
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("a Function subclass must define forward(ctx, *arrays)")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("a Function subclass must define backward(ctx, grad)")

    @classmethod
    def apply(cls, *args, **kwargs) -> Tensor:
        """Run ``forward`` on the arrays of ``args`` and record the result like any other op.

        ``forward`` gets a fresh :class:`Context` and the positional arguments with each Tensor
        replaced by its ``.data``; nothing it does is recorded. The result is a Tensor (through
        ``record_op``) whose ``node.op`` is the class name, ``node.inputs`` the Tensor arguments,
        ``node.args`` the keyword arguments, and ``node.backward`` a function that calls
        ``cls.backward(ctx, grad)`` and returns the gradients of the Tensor arguments only. A
        ``backward`` that returns the wrong number of gradients raises a RuntimeError.
        """
        raise NotImplementedError("not implemented yet: Function.apply (kata 05, step 7: function)")
