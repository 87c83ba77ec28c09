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
    ### BEGIN SOLUTION engine
    order, seen = [], set()
    stack = [(root, False)]
    while stack:
        tensor, expanded = stack.pop()
        if expanded:
            order.append(tensor)
            continue
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        stack.append((tensor, True))
        if tensor.node is not None:
            for parent in tensor.node.inputs:
                if parent.requires_grad and id(parent) not in seen:
                    stack.append((parent, False))
    return order
    ### END SOLUTION


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
    ### BEGIN SOLUTION engine
    if not root.requires_grad:
        raise RuntimeError(
            "backward(): this tensor does not require grad (no input had requires_grad=True, "
            "or it was computed under no_grad)"
        )
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward(): grad can be omitted only for a one-element output; this one has "
                f"shape {root.shape}, so pass grad= with that shape"
            )
        grad = np.ones_like(root.data)
    else:
        grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=root.data.dtype)
        if grad.shape != root.shape:
            raise RuntimeError(f"backward(): grad has shape {grad.shape} but the output has shape {root.shape}")

    handed_out = {id(grad)}  # arrays (by id of their memory's owner) some leaf or the caller holds
    grads = {id(root): grad}  # id(tensor) -> the gradient flowing into it so far
    for tensor in reversed(topological_order(root)):
        g = grads.pop(id(tensor), None)
        if g is None:
            continue
        node = tensor.node
        if node is None:  # a leaf: accumulate into an array no other leaf (or the caller) holds
            owner = g if g.base is None else g.base
            if id(owner) in handed_out or g.dtype != tensor.data.dtype or not g.flags.writeable:
                g = owner = np.array(g, dtype=tensor.data.dtype)
            handed_out.add(id(owner))
            tensor.grad = g if tensor.grad is None else tensor.grad + g
            continue
        fn = node.backward or RULES.get(node.op)
        if fn is None:
            raise RuntimeError(f"no backward rule for op '{node.op}': register one with @rule({node.op!r})")
        input_grads = fn(node, g)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        if len(input_grads) != len(node.inputs):
            raise RuntimeError(
                f"backward rule for '{node.op}' returned {len(input_grads)} gradient(s) for "
                f"{len(node.inputs)} input(s)"
            )
        for parent, pg in zip(node.inputs, input_grads):
            if pg is None or not parent.requires_grad:
                continue
            pg = np.asarray(pg.data if isinstance(pg, Tensor) else pg)
            if pg.shape != parent.shape:
                raise RuntimeError(
                    f"backward rule for '{node.op}' returned a gradient of shape {pg.shape} "
                    f"for an input of shape {parent.shape}"
                )
            if pg.dtype != parent.data.dtype:  # gradients keep their tensor's dtype
                pg = pg.astype(parent.data.dtype)
            key = id(parent)
            grads[key] = grads[key] + pg if key in grads else pg
    ### END SOLUTION


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
    ### BEGIN SOLUTION arithmetic
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad
    ### END SOLUTION


@rule("add")
def add_backward(node, grad):
    """``a + b``: each input receives ``grad``, summed back to its own shape (:func:`unbroadcast`)."""
    ### BEGIN SOLUTION arithmetic
    a, b = node.inputs
    return unbroadcast(grad, a.shape), unbroadcast(grad, b.shape)
    ### END SOLUTION


@rule("sub")
def sub_backward(node, grad):
    """``a - b``: ``a`` receives ``grad``, ``b`` receives ``-grad``, each unbroadcast to its shape."""
    ### BEGIN SOLUTION arithmetic
    a, b = node.inputs
    return unbroadcast(grad, a.shape), unbroadcast(-grad, b.shape)
    ### END SOLUTION


@rule("mul")
def mul_backward(node, grad):
    """``a * b``: ``a`` receives ``grad * b``, ``b`` receives ``grad * a``, each unbroadcast.

    Return ``None`` for an input that does not require grad (``x * 2`` has the lifted ``2`` as
    its second input) to skip work nobody needs.
    """
    ### BEGIN SOLUTION arithmetic
    a, b = node.inputs
    ga = unbroadcast(grad * b.data, a.shape) if a.requires_grad else None
    gb = unbroadcast(grad * a.data, b.shape) if b.requires_grad else None
    return ga, gb
    ### END SOLUTION


@rule("div")
def div_backward(node, grad):
    """``a / b``: d/da = 1/b, d/db = -a/b² (= -out/b); each unbroadcast to its input's shape."""
    ### BEGIN SOLUTION arithmetic
    a, b = node.inputs
    ga = unbroadcast(grad / b.data, a.shape) if a.requires_grad else None
    gb = unbroadcast(-grad * node.out / b.data, b.shape) if b.requires_grad else None
    return ga, gb
    ### END SOLUTION


@rule("neg")
def neg_backward(node, grad):
    """``-a``: one input, so return a 1-tuple."""
    ### BEGIN SOLUTION arithmetic
    return (-grad,)
    ### END SOLUTION


@rule("pow")
def pow_backward(node, grad):
    """``a ** p`` for a Python number ``p`` (``node.args["exponent"]``): d/da = p · a^(p-1)."""
    ### BEGIN SOLUTION arithmetic
    (a,) = node.inputs
    p = node.args["exponent"]
    return (grad * p * a.data ** (p - 1),)
    ### END SOLUTION


@rule("exp")
def exp_backward(node, grad):
    """``exp(a)``: the derivative is the output itself (``node.out``)."""
    ### BEGIN SOLUTION arithmetic
    return (grad * node.out,)
    ### END SOLUTION


@rule("log")
def log_backward(node, grad):
    """``log(a)``: d/da = 1/a."""
    ### BEGIN SOLUTION arithmetic
    return (grad / node.inputs[0].data,)
    ### END SOLUTION


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
    ### BEGIN SOLUTION matmul_shape
    a, b = node.inputs
    A, B = a.data, b.data
    if B.ndim == 2 and A.ndim >= 2:  # matrices, or a batch of rows times one matrix (Linear): fast
        # Each gradient takes its input's memory layout. Linear computes x @ W.T, where W.T is a
        # transposed view: computing its gradient transposed ((g.T @ rows).T, same cost) makes
        # W.grad C-contiguous like W, so the optimizer's elementwise updates run at full speed.
        # A batch (..., m, k) @ (k, n) is one (rows, k) @ (k, n) product, and so is B's gradient.
        ga = gb = None
        if a.requires_grad:
            ga = (B @ grad.T).T if A.ndim == 2 and _transposed(A) else grad @ B.T
        if b.requires_grad:
            rows, g = A.reshape(-1, A.shape[-1]), grad.reshape(-1, grad.shape[-1])
            gb = (g.T @ rows).T if _transposed(B) else rows.T @ g
        return ga, gb
    if A.ndim == 1 and B.ndim == 1:
        return grad * B, grad * A
    A2 = A[None, :] if A.ndim == 1 else A
    B2 = B[:, None] if B.ndim == 1 else B
    G = grad
    if A.ndim == 1:
        G = np.expand_dims(G, -2)
    if B.ndim == 1:
        G = np.expand_dims(G, -1)
    ga = unbroadcast(G @ np.swapaxes(B2, -1, -2), A2.shape).reshape(A.shape)
    gb = unbroadcast(np.swapaxes(A2, -1, -2) @ G, B2.shape).reshape(B.shape)
    return ga, gb
    ### END SOLUTION


@rule("reshape")
def reshape_backward(node, grad):
    """``a.reshape(...)``: the same elements in the same order, so reshape ``grad`` back."""
    ### BEGIN SOLUTION matmul_shape
    return (grad.reshape(node.inputs[0].shape),)
    ### END SOLUTION


@rule("transpose")
def transpose_backward(node, grad):
    """``a.transpose(dim0, dim1)`` (``node.args``): swapping the same two axes undoes it."""
    ### BEGIN SOLUTION matmul_shape
    return (np.swapaxes(grad, node.args["dim0"], node.args["dim1"]),)
    ### END SOLUTION


@rule("permute")
def permute_backward(node, grad):
    """``a.permute(*dims)``: apply the inverse permutation (``np.argsort(dims)``) to ``grad``.

    ``node.args["dims"]`` is the tuple ``permute`` received: ``(2, 0, 1)``, or ``((2, 0, 1),)``
    when it was called with one tuple; entries may be negative.
    """
    ### BEGIN SOLUTION matmul_shape
    dims = node.args["dims"]
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    inverse = [0] * grad.ndim
    for position, d in enumerate(dims):
        inverse[d % grad.ndim] = position
    return (grad.transpose(inverse),)
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# Step 4: reductions and indexing
# ---------------------------------------------------------------------------------------------


def expand_reduced(grad: np.ndarray, shape: tuple, axis, keepdims: bool) -> np.ndarray:
    """Broadcast the gradient of a reduction back to the input's ``shape``.

    >>> expand_reduced(np.array([1.0, 2.0]), (2, 3), axis=1, keepdims=False).tolist()
    [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]
    """
    ### BEGIN SOLUTION reductions
    if axis is not None and not keepdims:
        axes = axis if isinstance(axis, tuple) else (axis,)
        grad = np.expand_dims(grad, tuple(a % len(shape) for a in axes))
    return np.broadcast_to(grad, shape)
    ### END SOLUTION


def _count(shape, axis):
    if axis is None:
        return int(np.prod(shape))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return int(np.prod([shape[a] for a in axes]))


@rule("sum")
def sum_backward(node, grad):
    """``a.sum(axis, keepdims)``: every summed element receives the gradient of its sum."""
    ### BEGIN SOLUTION reductions
    x = node.inputs[0]
    return (expand_reduced(grad, x.shape, node.args["axis"], node.args["keepdims"]),)
    ### END SOLUTION


@rule("mean")
def mean_backward(node, grad):
    """``a.mean(axis, keepdims)``: like sum, divided by the number of elements averaged."""
    ### BEGIN SOLUTION reductions
    x = node.inputs[0]
    axis = node.args["axis"]
    return (expand_reduced(grad, x.shape, axis, node.args["keepdims"]) / _count(x.shape, axis),)
    ### END SOLUTION


@rule("max")
def max_backward(node, grad):
    """``a.max(axis, keepdims)``: the gradient goes to the element(s) that were the maximum.

    Tie rule: tied maxima share it equally (``max([1, 3, 3])`` sends 1/2 to each 3), like
    ``torch.amax``. Compare ``a`` with the output (``node.out``) broadcast back to find them.
    """
    ### BEGIN SOLUTION reductions
    x = node.inputs[0]
    axis, keepdims = node.args["axis"], node.args["keepdims"]
    winners = x.data == expand_reduced(node.out, x.shape, axis, keepdims)
    share = winners / winners.sum(axis=axis, keepdims=True)
    return (share * expand_reduced(grad, x.shape, axis, keepdims),)
    ### END SOLUTION


@rule("getitem")
def getitem_backward(node, grad):
    """Scatter-add: an element picked twice (``x[[0, 0]]``) receives both gradients.

    ``node.args["index"]`` is the index exactly as NumPy received it (Tensors already swapped
    for their arrays). ``np.add.at`` adds at repeated positions; ``out[index] += grad`` would not.
    """
    ### BEGIN SOLUTION reductions
    out = np.zeros_like(node.inputs[0].data)
    np.add.at(out, node.args["index"], grad)
    return (out,)
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# Step 5: activations (kata 02)
# ---------------------------------------------------------------------------------------------


@rule("relu")
def relu_backward(node, grad):
    """``relu(a)``: ``grad`` passes where ``a > 0``; elsewhere 0 (also at exactly 0)."""
    ### BEGIN SOLUTION activations
    return (grad * (node.inputs[0].data > 0),)
    ### END SOLUTION


@rule("sigmoid")
def sigmoid_backward(node, grad):
    """``s = sigmoid(a)``: ds/da = s · (1 - s), from ``node.out``."""
    ### BEGIN SOLUTION activations
    s = node.out
    return (grad * s * (1 - s),)
    ### END SOLUTION


@rule("tanh")
def tanh_backward(node, grad):
    """``t = tanh(a)``: dt/da = 1 - t², from ``node.out``."""
    ### BEGIN SOLUTION activations
    return (grad * (1 - node.out * node.out),)
    ### END SOLUTION


@rule("gelu")
def gelu_backward(node, grad):
    """``gelu(a) = 0.5 · a · (1 + tanh(u))`` with ``u = GELU_C · (a + 0.044715 · a³)``:

    d/da = 0.5 · (1 + tanh(u)) + 0.5 · a · (1 - tanh(u)²) · GELU_C · (1 + 3 · 0.044715 · a²).
    """
    ### BEGIN SOLUTION activations
    from tinytorch.activations import GELU_C

    x = node.inputs[0].data
    with np.errstate(over="ignore"):  # as in the forward: huge |x| gives tanh = ±1, d = 1 or 0
        t = np.tanh(GELU_C * (x + 0.044715 * (x * x * x)))
        d = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * 0.044715 * x * x)
    return ((grad * d).astype(x.dtype, copy=False),)
    ### END SOLUTION


@rule("softmax")
def softmax_backward(node, grad):
    """``s = softmax(a, axis)``: d/da = s · (grad - sum(grad · s, axis)) (sum with keepdims)."""
    ### BEGIN SOLUTION activations
    s = node.out
    return (s * (grad - (grad * s).sum(axis=node.args["axis"], keepdims=True)),)
    ### END SOLUTION


@rule("log_softmax")
def log_softmax_backward(node, grad):
    """``y = log_softmax(a, axis)``: d/da = grad - exp(y) · sum(grad, axis) (sum with keepdims)."""
    ### BEGIN SOLUTION activations
    return (grad - np.exp(node.out) * grad.sum(axis=node.args["axis"], keepdims=True),)
    ### END SOLUTION


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
    ### BEGIN SOLUTION losses
    pred, target = node.inputs
    d = (2 * _scale(node, pred.data.size) * grad) * (pred.data - target.data)
    return d, -d
    ### END SOLUTION


@rule("cross_entropy")
def cross_entropy_backward(node, grad):
    """``cross_entropy(logits (N, C), targets (N,), reduction)``:

    d/dlogits = (softmax(logits) - onehot(targets)) / N for 'mean' (no /N for 'sum'), times the
    scalar ``grad``. The integer targets get ``None``.
    """
    ### BEGIN SOLUTION losses
    logits, targets = node.inputs
    z, y = logits.data, targets.data
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1
    return p * (grad * _scale(node, len(y))), None
    ### END SOLUTION


@rule("binary_cross_entropy")
def bce_backward(node, grad):
    """``binary_cross_entropy(p, t, reduction)``: d/dp = (p - t) / (p (1 - p)) / N ('mean'),
    times the scalar ``grad``, with the denominator kept >= 1e-12 (PyTorch's rule).

    The target gets a gradient only if it requires one: d/dt = (log(1 - p) - log p) / N.
    """
    ### BEGIN SOLUTION losses
    probs, target = node.inputs
    p, t = probs.data, target.data
    k = grad * _scale(node, p.size)
    gp = k * (p - t) / np.maximum(p * (1 - p), 1e-12)
    gt = k * (np.log1p(-p) - np.log(p)) if target.requires_grad else None
    return gp.astype(p.dtype, copy=False), gt
    ### END SOLUTION


@rule("binary_cross_entropy_with_logits")
def bce_logits_backward(node, grad):
    """``binary_cross_entropy_with_logits(z, t, reduction)``: d/dz = (sigmoid(z) - t) / N
    ('mean'), times the scalar ``grad``; the target, if it requires grad, gets -z / N.
    """
    ### BEGIN SOLUTION losses
    logits, target = node.inputs
    z, t = logits.data, target.data
    e = np.exp(-np.abs(z))
    s = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
    k = grad * _scale(node, z.size)
    return k * (s - t), (-k * z if target.requires_grad else None)
    ### END SOLUTION


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
        ### BEGIN SOLUTION function
        self._previous = set_grad_enabled(False)
        return self
        ### END SOLUTION

    def __exit__(self, *exc):
        """Restore the previous mode, also when the block raised; never swallow the exception."""
        ### BEGIN SOLUTION function
        set_grad_enabled(self._previous)
        return False
        ### END SOLUTION

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
        ### BEGIN SOLUTION function
        ctx = Context()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        arrays = [a.data if isinstance(a, Tensor) else a for a in args]
        previous = set_grad_enabled(False)  # forward works on arrays; nothing inside is recorded
        try:
            out = cls.forward(ctx, *arrays, **kwargs)
        finally:
            set_grad_enabled(previous)
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]

        def run_backward(node, grad):
            grads = cls.backward(ctx, grad)
            grads = tuple(grads) if isinstance(grads, (tuple, list)) else (grads,)
            if len(grads) != len(args):
                raise RuntimeError(
                    f"{cls.__name__}.backward returned {len(grads)} gradient(s) for "
                    f"{len(args)} forward argument(s)"
                )
            return tuple(grads[i] for i in positions)

        return record_op(out, cls.__name__, tuple(args[i] for i in positions), dict(kwargs), run_backward)
        ### END SOLUTION
