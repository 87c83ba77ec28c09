"""Step 3: conv_backward — col2im and the gradients of input, weight and bias."""

import numpy as np
import pytest

from dojo.testing import assert_close, gradcheck
from tinytorch import rng
from tinytorch.optim import SGD
from tinytorch.spatial import Conv2d, col2im, conv2d, im2col
from tinytorch.tensor import Tensor

# (stride, padding): an int, or one value per axis (height, width)
SETTINGS = [(1, 0), (1, 1), (2, 1), (3, 2), ((2, 1), (0, 1)), ((1, 3), (2, 0))]
IDS = ["s1-p0", "s1-p1", "s2-p1", "s3-p2", "s(2,1)-p(0,1)", "s(1,3)-p(2,0)"]


def tiny(seed, stride):
    r = np.random.default_rng(seed)
    x = r.uniform(-2, 2, size=(2, 2, 5, 3))
    weight = r.uniform(-2, 2, size=(3, 2, 3, 2))
    bias = r.uniform(-2, 2, size=3)
    return x, weight, bias


@pytest.mark.parametrize("stride, padding", SETTINGS, ids=IDS)
def test_input_gradient(stride, padding):
    """d(conv)/dx matches float64 central differences for every input pixel (tiny shapes, random upstream
    gradient).

    Hint: dx is col2im(w2.T @ g) with g = grad.reshape(N, O, Ho·Wo), folded with the saved x shape, kernel,
    stride and padding; if only padded or strided settings fail, col2im does not cut the padding off or uses
    the wrong strides.
    """
    x, weight, bias = tiny(0, stride)
    gradcheck(lambda x, w, b: conv2d(x, w, b, stride, padding), [x, weight, bias], wrt=[0])


@pytest.mark.parametrize("stride, padding", SETTINGS, ids=IDS)
def test_weight_gradient(stride, padding):
    """d(conv)/dweight matches central differences for every weight.

    Hint: dweight is g @ cols transposed (one (O, C·kh·kw) matrix per sample) summed over the batch, then
    reshaped to the weight's shape; forgetting the batch sum or transposing the wrong axes fails here.
    """
    x, weight, bias = tiny(1, stride)
    gradcheck(lambda x, w, b: conv2d(x, w, b, stride, padding), [x, weight, bias], wrt=[1])


@pytest.mark.parametrize("stride, padding", SETTINGS, ids=IDS)
def test_bias_gradient(stride, padding):
    """d(conv)/dbias matches central differences: each output channel's gradient summed over batch and
    positions.

    Hint: dbias is the upstream gradient summed over the batch and every output position (g.sum(axis=(0, 2))
    for g of shape (N, O, Ho·Wo)), one value per output channel.
    """
    x, weight, bias = tiny(2, stride)
    gradcheck(lambda x, w, b: conv2d(x, w, b, stride, padding), [x, weight, bias], wrt=[2])


@pytest.mark.parametrize("stride, padding", SETTINGS, ids=IDS)
def test_input_gradient_is_the_adjoint_of_the_convolution(stride, padding):
    """Without bias the convolution is linear in x, so its input gradient is its adjoint:
    <conv(x), g> == <x, conv_input_grad(g)> for random x and g.

    Hint: <conv(x), g> must equal <x, x.grad>: the input gradient must be the exact transpose of the forward,
    so col2im has to add every column entry back to its own pixel (+=, never =) and drop the padding.
    """
    r = np.random.default_rng(3)
    x = Tensor(r.normal(size=(2, 3, 7, 6)), requires_grad=True)
    weight = Tensor(r.normal(size=(4, 3, 3, 3)))
    out = conv2d(x, weight, None, stride, padding)
    g = r.normal(size=out.shape)
    out.backward(g)
    lhs, rhs = float(np.vdot(out.data, g)), float(np.vdot(x.data, x.grad))
    assert np.isclose(lhs, rhs, rtol=1e-10), f"<conv(x), g> = {lhs} but <x, x.grad> = {rhs}"


@pytest.mark.parametrize("stride, padding", SETTINGS, ids=IDS)
def test_col2im_is_the_adjoint_of_im2col(stride, padding):
    """<im2col(x), c> == <x, col2im(c)>: col2im adds every column entry back to the pixel it came from.

    Hint: col2im mirrors im2col: reshape cols to (N, C, kh, kw, Ho, Wo), add each offset's slice into a zero
    padded image with the same strided slice as im2col, then cut the padding off to return x's shape.
    """
    r = np.random.default_rng(4)
    x = r.normal(size=(2, 3, 6, 5))
    cols = im2col(x, (3, 2), stride, padding)
    c = r.normal(size=cols.shape)
    back = col2im(c, x.shape, (3, 2), stride, padding)
    assert back.shape == x.shape, f"col2im gave shape {back.shape}, expected {x.shape}"
    assert np.isclose(np.vdot(cols, c), np.vdot(x, back), rtol=1e-10)


def test_col2im_counts_overlaps():
    """Folding columns of ones back gives, at each pixel, how many 3×3 windows cover it (4 at the corner… 9 in
    the middle).

    Hint: A pixel covered by 9 windows must receive 9 ones: col2im must add into the padded image (xp[...] +=
    cols[:, :, i, j]), not assign, or overlapping windows overwrite each other.
    """
    x_shape = (1, 1, 5, 5)
    cols = np.ones(im2col(np.zeros(x_shape), 3).shape)
    counts = col2im(cols, x_shape, 3)
    expected = np.outer([1, 2, 3, 2, 1], [1, 2, 3, 2, 1]).astype(float)[None, None]
    assert_close(counts, expected, what="windows covering each pixel")


def test_no_input_gradient_when_the_input_does_not_need_one():
    """An image that does not require grad gets none (no col2im wasted); weight and bias still get theirs.

    Hint: Conv2dFunction.backward must return three gradients (dx, dweight, dbias) in the order of forward's
    arguments, using ctx.needs_input_grad to skip the ones not needed; the bias gradient of sum() here is 9
    per channel.
    """
    rng.manual_seed(0)
    layer = Conv2d(2, 3, 3)
    x = Tensor(np.ones((1, 2, 5, 5), dtype=np.float32))
    layer(x).sum().backward()
    assert x.grad is None
    assert layer.weight.grad is not None and layer.weight.grad.shape == (3, 2, 3, 3)
    assert layer.bias.grad is not None and layer.bias.grad.shape == (3,)
    assert_close(layer.bias.grad, np.full(3, 9.0), what="bias gradient of sum() over 3×3 outputs")


def test_a_conv_layer_learns_an_edge_filter():
    """Trained with SGD on (image, image convolved with a known 3×3 edge filter), a Conv2d recovers that
    filter.

    Hint: Every gradient test passes but training does not recover the filter: check that the weight gradient
    is reshaped in (O, C, kh, kw) order (the same order as im2col's rows) and summed, not averaged, over the
    batch.
    """
    r = np.random.default_rng(5)
    target = np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]], dtype=np.float32)
    x = Tensor(r.normal(size=(8, 1, 8, 8)).astype(np.float32))
    y = conv2d(x, Tensor(target[None, None]), None, 1, 1).data
    rng.manual_seed(0)
    layer = Conv2d(1, 1, 3, padding=1, bias=False)
    opt = SGD(layer.parameters(), lr=0.1)
    for _ in range(80):
        diff = layer(x) - Tensor(y)
        loss = (diff * diff).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert_close(layer.weight.data[0, 0], target, atol=1e-2, rtol=0, what="learned filter")
