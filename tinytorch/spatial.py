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
    raise NotImplementedError("not implemented yet: conv_output_size (kata 09, step 1: im2col)")


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
    raise NotImplementedError("not implemented yet: im2col (kata 09, step 1: im2col)")


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
    raise NotImplementedError("not implemented yet: col2im (kata 09, step 3: conv_backward)")


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
        raise NotImplementedError("not implemented yet: Conv2dFunction.forward (kata 09, step 2: conv_forward)")

    @staticmethod
    def backward(ctx, grad):
        """Gradients of x, weight and bias (one per forward argument), from ``grad`` (N, O, Ho, Wo):

        * bias: ``grad`` summed over batch and positions;
        * weight: ``Σ_n grad[n] @ cols[n].T`` — a batched matmul, then a sum over the batch;
        * x: ``col2im(weight_matrix.T @ grad)`` — the columns' gradient folded back.

        Use ``ctx.needs_input_grad`` to skip what nobody needs (the input image never requires
        grad: no col2im for it). Return ``None`` for a ``bias`` that was ``None``.
        """
        raise NotImplementedError("not implemented yet: Conv2dFunction.backward (kata 09, step 3: conv_backward)")


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
        raise NotImplementedError("not implemented yet: Conv2d.__init__ (kata 09, step 2: conv_forward)")

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
        raise NotImplementedError("not implemented yet: MaxPool2dFunction.forward (kata 09, step 4: max_pool)")

    @staticmethod
    def backward(ctx, grad):
        """Route ``grad`` (N, C, Ho, Wo) to the argmax of each window.

        The same offset loop: the outputs whose ``arg`` is ``i·kw + j`` send their gradient to
        the strided slice ``dx[:, :, i : i + sh·Ho : sh, j : j + sw·Wo : sw]`` (``+=``, so
        overlapping windows add up); the others send 0.
        """
        raise NotImplementedError("not implemented yet: MaxPool2dFunction.backward (kata 09, step 4: max_pool)")


class AvgPool2dFunction(Function):
    """Mean over each ``kh×kw`` window, moving ``stride`` at a time, NCHW, no padding.

    Backward: every input of a window receives ``grad / (kh·kw)`` from it (summed over the
    windows it belongs to).
    """

    @staticmethod
    def forward(ctx, x, kernel_size=2, stride=2):
        """Sum the strided slices of the ``kh·kw`` offsets (as in max pooling), divide by ``kh·kw``."""
        raise NotImplementedError("not implemented yet: AvgPool2dFunction.forward (kata 09, step 5: avg_pool)")

    @staticmethod
    def backward(ctx, grad):
        """Loop over the window offsets, adding ``grad / (kh·kw)`` into each strided slice of a zero ``dx``."""
        raise NotImplementedError("not implemented yet: AvgPool2dFunction.backward (kata 09, step 5: avg_pool)")


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
        raise NotImplementedError("not implemented yet: Flatten.forward (kata 09, step 6: flatten)")

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
