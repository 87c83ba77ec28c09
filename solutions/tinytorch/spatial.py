"""Kata 09 — Spatial: layers that see images as images.

A ``Linear`` layer on a flattened 28×28 image treats pixel (0, 0) and pixel (0, 1) as unrelated
inputs, and must learn a stroke again at every position it can appear. A **convolution** slides
one small filter over the whole image: the same few weights at every position, so a feature
learned in one corner is found everywhere, with a tiny fraction of the parameters.

Everything here works on NCHW arrays — ``(batch, channels, height, width)``, PyTorch's layout:

* :func:`conv_output_size` and :func:`im2col` — unfold every ``kh×kw`` patch into a column, so
  that a convolution becomes **matrix products** (the trick every fast CPU conv uses);
* :class:`Conv2dFunction` — the convolution as an autograd ``Function``: forward with
  ``im2col`` and a matmul, backward with two matmuls and :func:`col2im` (its exact adjoint);
* :class:`Conv2d` — the layer (weight ``(out_channels, in_channels, kh, kw)`` and bias);
* :class:`MaxPool2d`, :class:`AvgPool2d` — downsampling, each with its own backward;
* :class:`Flatten` — ``(N, C, H, W) -> (N, C·H·W)`` as a reshape, so the graph is kept.

No Python loop ever runs over pixels or over the batch: the loops here run over the ``kh×kw``
offsets of a kernel (9 for a 3×3 one), each step moving a whole strided slice of the batch.

Example
-------
>>> rng.manual_seed(0)
>>> conv = Conv2d(1, 4, kernel_size=3, padding=1)
>>> x = Tensor(np.zeros((2, 1, 28, 28), dtype=np.float32))
>>> conv(x).shape
(2, 4, 28, 28)
>>> Flatten()(MaxPool2d(2)(conv(x))).shape
(2, 784)
"""

from __future__ import annotations

import numpy as np

from tinytorch import rng
from tinytorch.autograd import Function
from tinytorch.layers import Module, Parameter
from tinytorch.tensor import Tensor, composite

__all__ = [
    "conv_output_size", "im2col", "col2im", "conv2d", "max_pool2d", "avg_pool2d",
    "Conv2dFunction", "MaxPool2dFunction", "AvgPool2dFunction",
    "Conv2d", "MaxPool2d", "AvgPool2d", "Flatten",
]


def _pair(value, name="value") -> tuple:
    """Scaffolding: ``3`` -> ``(3, 3)``; ``(3, 5)`` stays ``(3, 5)``."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) for v in pair):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    return int(pair[0]), int(pair[1])


# ---------------------------------------------------------------------------------------------
# Step 1: output size and im2col
# ---------------------------------------------------------------------------------------------


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0) -> int:
    """How many positions a window of ``kernel_size`` takes along an axis of length ``size``.

    The axis is padded with ``padding`` zeros on both sides and the window moves ``stride`` at a
    time; a window that would stick out past the end is not used (floor division)::

        out = (size + 2·padding - kernel_size) // stride + 1

    Raises ValueError when ``stride < 1``, ``padding < 0`` or the kernel does not fit even once
    (``size + 2·padding < kernel_size``).

    >>> conv_output_size(28, 3), conv_output_size(28, 3, padding=1), conv_output_size(32, 3, stride=2, padding=1)
    (26, 28, 16)
    """
    ### BEGIN SOLUTION im2col
    if stride < 1 or padding < 0 or kernel_size < 1:
        raise ValueError(f"need kernel_size >= 1, stride >= 1 and padding >= 0, got {kernel_size}, {stride}, {padding}")
    if size + 2 * padding < kernel_size:
        raise ValueError(
            f"a kernel of size {kernel_size} does not fit in an input of size {size} with padding {padding}"
        )
    return (size + 2 * padding - kernel_size) // stride + 1
    ### END SOLUTION


def im2col(x: np.ndarray, kernel_size, stride=1, padding=0) -> np.ndarray:
    """Unfold every ``kh×kw`` patch of ``x`` (N, C, H, W) into a column.

    Returns ``cols`` of shape ``(N, C·kh·kw, Ho·Wo)``: ``cols[n, :, p]`` is the patch under
    output position ``p = oy·Wo + ox`` of sample ``n``, flattened in ``(c, i, j)`` order — the
    order of ``weight.reshape(out_channels, -1)`` — so the convolution is one batched matmul
    ``weight.reshape(O, -1) @ cols``: ``(O, K) @ (N, K, Ho·Wo) -> (N, O, Ho·Wo)``, which is
    already NCHW after a reshape. ``x`` is zero-padded by ``padding`` first; ``Ho, Wo`` come
    from :func:`conv_output_size`. (One small matrix product per sample, rather than one huge
    one: each is small enough for BLAS to run on one thread, which stays fast when the machine
    is busy with other work; a huge one waits for every BLAS thread to get a CPU.)

    Loop over the ``kh·kw`` kernel offsets ``(i, j)``, never over pixels: the values every
    output position sees at offset ``(i, j)`` form one strided slice of the padded input,
    ``xp[:, :, i : i + stride·Ho : stride, j : j + stride·Wo : stride]``.

    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> im2col(x, 2, stride=2).shape
    (1, 4, 4)
    >>> im2col(x, 2, stride=2)[0, :, 0]          # the top-left 2×2 patch
    array([0., 1., 4., 5.])
    """
    (kh, kw), (sh, sw), (ph, pw) = _pair(kernel_size, "kernel_size"), _pair(stride, "stride"), _pair(padding, "padding")
    ### BEGIN SOLUTION im2col
    n, c, h, w = x.shape
    ho, wo = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
    if ph or pw:
        xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
        xp[:, :, ph : ph + h, pw : pw + w] = x
    else:
        xp = x
    cols = np.empty((n, c, kh, kw, ho, wo), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = xp[:, :, i : i + sh * ho : sh, j : j + sw * wo : sw]
    return cols.reshape(n, c * kh * kw, ho * wo)
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# Step 3 (used by the backward): col2im, the adjoint of im2col
# ---------------------------------------------------------------------------------------------


def col2im(cols: np.ndarray, x_shape: tuple, kernel_size, stride=1, padding=0) -> np.ndarray:
    """Fold columns back into an image: the adjoint (transpose) of :func:`im2col`.

    ``cols`` has im2col's shape ``(N, C·kh·kw, Ho·Wo)``; the result has ``x_shape`` (N, C, H, W).
    Every entry of ``cols`` is **added** to the pixel it was copied from — a pixel inside
    several patches receives the sum — and whatever fell on the padding is dropped. This is
    exactly the gradient of im2col: ``<im2col(x), c> == <x, col2im(c)>`` for any x, c.

    Loop over the kernel offsets ``(i, j)`` adding whole strided slices (``+=`` on a slice of
    an array is fine here: within one offset no two output positions hit the same pixel).
    ``np.add.at`` would also be right, and ten times slower.
    """
    (kh, kw), (sh, sw), (ph, pw) = _pair(kernel_size, "kernel_size"), _pair(stride, "stride"), _pair(padding, "padding")
    ### BEGIN SOLUTION conv_backward
    n, c, h, w = x_shape
    ho, wo = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
    cols = cols.reshape(n, c, kh, kw, ho, wo)
    xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            xp[:, :, i : i + sh * ho : sh, j : j + sw * wo : sw] += cols[:, :, i, j]
    return xp[:, :, ph : ph + h, pw : pw + w] if ph or pw else xp
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# Steps 2 and 3: the convolution as an autograd Function
# ---------------------------------------------------------------------------------------------


class Conv2dFunction(Function):
    """2-D convolution (cross-correlation, like every deep-learning library), NCHW.

    ``out[n, o, y, x] = bias[o] + Σ_{c,i,j} weight[o, c, i, j] · xp[n, c, y·s + i, x·s + j]``
    with ``xp`` the input zero-padded by ``padding``.

    Shapes: x ``(N, C, H, W)``, weight ``(O, C, kh, kw)``, bias ``(O,)`` or ``None`` →
    out ``(N, O, Ho, Wo)`` (:func:`conv_output_size` per axis).

    Call it through :func:`conv2d` (``Conv2dFunction.apply(x, weight, bias, stride=.., padding=..)``).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride=1, padding=0):
        """``im2col`` then one batched matmul: ``weight.reshape(O, -1) @ cols`` is
        ``(N, O, Ho·Wo)``, which reshapes to ``(N, O, Ho, Wo)`` with no copy. Add the bias
        (broadcast over positions). Save what the backward needs on ``ctx``: the columns, the
        weight matrix, the input shape, and the settings.

        Raises ValueError when the channels of ``x`` and ``weight`` differ (name both shapes).
        """
        ### BEGIN SOLUTION conv_forward
        if x.ndim != 4 or weight.ndim != 4 or x.shape[1] != weight.shape[1]:
            raise ValueError(
                f"conv2d: input {x.shape} (N, C, H, W) and weight {weight.shape} (O, C, kh, kw) "
                "need the same number of channels C"
            )
        o, _, kh, kw = weight.shape
        (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
        ho, wo = conv_output_size(x.shape[2], kh, sh, ph), conv_output_size(x.shape[3], kw, sw, pw)
        cols = im2col(x, (kh, kw), stride, padding)
        w2 = weight.reshape(o, -1)
        out = w2 @ cols
        if bias is not None:
            out += bias.reshape(1, o, 1)
        ctx.save_for_backward(cols, w2)
        ctx.x_shape, ctx.w_shape, ctx.stride, ctx.padding = x.shape, weight.shape, stride, padding
        return out.reshape(x.shape[0], o, ho, wo)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        """Gradients of x, weight and bias (one per forward argument), from ``grad`` (N, O, Ho, Wo):

        * bias: ``grad`` summed over batch and positions;
        * weight: ``Σ_n grad[n] @ cols[n].T`` — a batched matmul, then a sum over the batch;
        * x: ``col2im(weight_matrix.T @ grad)`` — the columns' gradient folded back.

        Use ``ctx.needs_input_grad`` to skip what nobody needs (the input image never requires
        grad: no col2im for it). Return ``None`` for a ``bias`` that was ``None``.
        """
        ### BEGIN SOLUTION conv_backward
        cols, w2 = ctx.saved
        n, o = grad.shape[:2]
        g = grad.reshape(n, o, -1)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        dx = dw = db = None
        if need_b:
            db = g.sum(axis=(0, 2))
        if need_w:
            dw = np.matmul(g, cols.transpose(0, 2, 1)).sum(axis=0).reshape(ctx.w_shape)
        if need_x:
            dx = col2im(w2.T @ g, ctx.x_shape, ctx.w_shape[2:], ctx.stride, ctx.padding)
        return dx, dw, db
        ### END SOLUTION


@composite("conv2d")
def conv2d(x: Tensor, weight: Tensor, bias=None, stride=1, padding=0) -> Tensor:
    """Functional convolution: :class:`Conv2dFunction` on Tensors (``bias`` may be None)."""
    return Conv2dFunction.apply(x, weight, bias, stride=stride, padding=padding)


class Conv2d(Module):
    """A 2-D convolution layer, NCHW, like ``torch.nn.Conv2d`` (no dilation, no groups).

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or (int, int)
    stride : int or (int, int), default 1
    padding : int or (int, int), default 0 (zeros on every side)
    bias : bool, default True

    Attributes
    ----------
    weight : Parameter (out_channels, in_channels, kh, kw), float32
    bias : Parameter (out_channels,), float32, or None

    Both drawn uniformly from ``[-k, k]``, ``k = 1 / sqrt(in_channels · kh · kw)`` (PyTorch's
    default: the fan-in of one output is ``in_channels·kh·kw``), weight first, from
    ``tinytorch.rng.generator()``.

    >>> Conv2d(3, 8, 5).weight.shape
    (8, 3, 5, 5)
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride, self.padding = _pair(stride, "stride"), _pair(padding, "padding")
        ### BEGIN SOLUTION conv_forward
        kh, kw = self.kernel_size
        k = 1.0 / np.sqrt(in_channels * kh * kw)
        generator = rng.generator()
        shape = (out_channels, in_channels, kh, kw)
        self.weight = Parameter(generator.uniform(-k, k, shape).astype(np.float32))
        self.bias = Parameter(generator.uniform(-k, k, out_channels).astype(np.float32)) if bias else None
        ### END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        return conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")


# ---------------------------------------------------------------------------------------------
# Steps 4 and 5: pooling
# ---------------------------------------------------------------------------------------------


def _pool_size(x_shape, kernel_size, stride) -> tuple:
    """Scaffolding: ``(Ho, Wo)`` of a pooling window over ``x_shape`` (no padding; a window that
    would stick out past the bottom or right edge is not used, like PyTorch)."""
    (kh, kw), (sh, sw) = kernel_size, stride
    return conv_output_size(x_shape[2], kh, sh), conv_output_size(x_shape[3], kw, sw)


class MaxPool2dFunction(Function):
    """Max over each ``kh×kw`` window, moving ``stride`` at a time, NCHW, no padding.

    Backward: each window's gradient goes to **one** input, the window's maximum. Tie rule
    (PyTorch's): when several inputs of a window tie for the maximum, the **first** one in
    row-major window order — smallest ``i``, then smallest ``j`` — gets it all. With overlapping
    windows (``stride < kernel``), an input that wins several windows receives the sum of their
    gradients.
    """

    @staticmethod
    def forward(ctx, x, kernel_size=2, stride=2):
        """Loop over the window offsets ``(i, j)`` in row-major order, never over pixels.

        The inputs every window sees at offset ``(i, j)`` form one strided slice,
        ``x[:, :, i : i + sh·Ho : sh, j : j + sw·Wo : sw]``, shaped like the output. Start from
        offset ``(0, 0)`` and keep a running maximum; where a slice is **strictly** greater,
        take its value and record its offset number ``i·kw + j`` in an ``arg`` array (strictly:
        so on a tie the earlier offset keeps it — the tie rule). Save ``arg`` and the shapes on
        ``ctx`` and return the maxima.
        """
        ### BEGIN SOLUTION max_pool
        (kh, kw), (sh, sw) = kernel_size, stride
        ho, wo = _pool_size(x.shape, kernel_size, stride)
        out = x[:, :, 0 : sh * ho : sh, 0 : sw * wo : sw].copy()
        arg = np.zeros(out.shape, dtype=np.int32)
        for i in range(kh):
            for j in range(kw):
                window = x[:, :, i : i + sh * ho : sh, j : j + sw * wo : sw]
                better = window > out
                np.copyto(out, window, where=better)
                np.copyto(arg, i * kw + j, where=better)
        ctx.arg, ctx.x_shape, ctx.kernel_size, ctx.stride = arg, x.shape, kernel_size, stride
        return out
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        """Route ``grad`` (N, C, Ho, Wo) to the argmax of each window.

        The same offset loop: the outputs whose ``arg`` is ``i·kw + j`` send their gradient to
        the strided slice ``dx[:, :, i : i + sh·Ho : sh, j : j + sw·Wo : sw]`` (``+=``, so
        overlapping windows add up); the others send 0.
        """
        ### BEGIN SOLUTION max_pool
        (kh, kw), (sh, sw) = ctx.kernel_size, ctx.stride
        ho, wo = grad.shape[2:]
        dx = np.zeros(ctx.x_shape, dtype=grad.dtype)
        for i in range(kh):
            for j in range(kw):
                dx[:, :, i : i + sh * ho : sh, j : j + sw * wo : sw] += np.where(ctx.arg == i * kw + j, grad, 0)
        return dx
        ### END SOLUTION


class AvgPool2dFunction(Function):
    """Mean over each ``kh×kw`` window, moving ``stride`` at a time, NCHW, no padding.

    Backward: every input of a window receives ``grad / (kh·kw)`` from it (summed over the
    windows it belongs to).
    """

    @staticmethod
    def forward(ctx, x, kernel_size=2, stride=2):
        """Sum the strided slices of the ``kh·kw`` offsets (as in max pooling), divide by ``kh·kw``."""
        ### BEGIN SOLUTION avg_pool
        (kh, kw), (sh, sw) = kernel_size, stride
        ho, wo = _pool_size(x.shape, kernel_size, stride)
        out = np.zeros((x.shape[0], x.shape[1], ho, wo), dtype=x.dtype)
        for i in range(kh):
            for j in range(kw):
                out += x[:, :, i : i + sh * ho : sh, j : j + sw * wo : sw]
        ctx.x_shape, ctx.kernel_size, ctx.stride = x.shape, kernel_size, stride
        return out / x.dtype.type(kh * kw)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        """Loop over the window offsets, adding ``grad / (kh·kw)`` into each strided slice of a zero ``dx``."""
        ### BEGIN SOLUTION avg_pool
        (kh, kw), (sh, sw) = ctx.kernel_size, ctx.stride
        ho, wo = grad.shape[2:]
        share = grad / (kh * kw)
        dx = np.zeros(ctx.x_shape, dtype=grad.dtype)
        for i in range(kh):
            for j in range(kw):
                dx[:, :, i : i + sh * ho : sh, j : j + sw * wo : sw] += share
        return dx
        ### END SOLUTION


@composite("max_pool2d")
def max_pool2d(x: Tensor, kernel_size=2, stride=None) -> Tensor:
    """Functional max pooling; ``stride`` defaults to ``kernel_size`` (non-overlapping windows)."""
    kernel_size = _pair(kernel_size, "kernel_size")
    stride = kernel_size if stride is None else _pair(stride, "stride")
    return MaxPool2dFunction.apply(x, kernel_size=kernel_size, stride=stride)


def avg_pool2d(x: Tensor, kernel_size=2, stride=None) -> Tensor:
    """Functional average pooling; ``stride`` defaults to ``kernel_size``."""
    kernel_size = _pair(kernel_size, "kernel_size")
    stride = kernel_size if stride is None else _pair(stride, "stride")
    return AvgPool2dFunction.apply(x, kernel_size=kernel_size, stride=stride)


class MaxPool2d(Module):
    """``MaxPool2d(kernel_size, stride=None)``: :func:`max_pool2d` as a layer (no parameters).

    ``(N, C, H, W) -> (N, C, Ho, Wo)`` with ``Ho = (H - kh) // sh + 1``; ``MaxPool2d(2)``
    halves H and W (an odd last row or column is dropped).
    """

    def __init__(self, kernel_size=2, stride=None):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride

    def forward(self, x):
        return max_pool2d(x, self.kernel_size, self.stride)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}"


class AvgPool2d(MaxPool2d):
    """``AvgPool2d(kernel_size, stride=None)``: :func:`avg_pool2d` as a layer (no parameters)."""

    def forward(self, x):
        return avg_pool2d(x, self.kernel_size, self.stride)


# ---------------------------------------------------------------------------------------------
# Step 6: Flatten
# ---------------------------------------------------------------------------------------------


class Flatten(Module):
    """Merge dimensions ``start_dim`` … ``end_dim`` into one: ``(N, C, H, W) -> (N, C·H·W)``.

    A **Tensor reshape** (not a new Tensor built from ``x.data``), so the result stays in the
    graph and gradients flow back to the conv layers. Negative dims count from the end.

    >>> Flatten()(Tensor(np.zeros((2, 3, 4, 5)))).shape
    (2, 60)
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        ### BEGIN SOLUTION flatten
        start, end = self.start_dim % x.ndim, self.end_dim % x.ndim
        if start > end:
            raise ValueError(f"Flatten: start_dim {self.start_dim} comes after end_dim {self.end_dim} for shape {x.shape}")
        return x.reshape(*x.shape[:start], -1, *x.shape[end + 1 :])
        ### END SOLUTION

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
