"""Step 2: conv_forward — Conv2d's weights, and its forward as im2col plus one matmul."""

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dojo.testing import assert_close, assert_shape, raises
from tinytorch import rng
from tinytorch.spatial import Conv2d, conv2d, conv_output_size
from tinytorch.tensor import Tensor


def pair(v):
    return tuple(v) if isinstance(v, tuple) else (v, v)


def naive_conv(x, weight, bias, stride, padding):
    """The reference: out[n, o, y, x] = b[o] + Σ w[o] · patch, one output position (y, x) at a time,
    for every sample n and filter o at once. ``stride`` and ``padding`` are an int or a (height, width) pair."""
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    n, _, h, w = x.shape
    o, _, kh, kw = weight.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    out = np.zeros((n, o, ho, wo))
    for y in range(ho):
        for x0 in range(wo):
            patch = xp[:, :, y * sh : y * sh + kh, x0 * sw : x0 * sw + kw]  # (N, C, kh, kw)
            out[:, :, y, x0] = np.einsum("ncij,ocij->no", patch, weight) + (bias if bias is not None else 0.0)
    return out


def int_or_pair(low, high):
    """An int, or a (height, width) pair of ints (they may differ)."""
    return st.integers(low, high) | st.tuples(st.integers(low, high), st.integers(low, high))


@settings(max_examples=15)  # a Python-loop reference per example: keep the kata fast
@given(
    n=st.integers(1, 2), c=st.integers(1, 3), o=st.integers(1, 3), h=st.integers(3, 6), w=st.integers(3, 6),
    kh=st.integers(1, 3), kw=st.integers(1, 3), stride=int_or_pair(1, 3), padding=int_or_pair(0, 2),
    with_bias=st.booleans(),
)
@example(n=1, c=2, o=3, h=4, w=5, kh=3, kw=2, stride=1, padding=0, with_bias=True)  # a non-square kernel
@example(n=2, c=1, o=2, h=5, w=6, kh=2, kw=3, stride=(2, 1), padding=1, with_bias=False)  # a stride per axis
@example(n=1, c=1, o=1, h=3, w=4, kh=3, kw=3, stride=(1, 2), padding=(1, 0), with_bias=True)  # a padding per axis
def test_conv_forward_equals_the_naive_loop(n, c, o, h, w, kh, kw, stride, padding, with_bias):
    """conv2d(x, weight, bias, stride, padding) equals the convolution computed one output position
    at a time with Python loops (the reference is in this test), for any shape and setting:
    stride and padding are an int or one value per axis, (height, width).

    Hint: Conv2dFunction.forward is im2col, then weight.reshape(O, -1) @ cols giving (N, O, Ho·Wo), plus bias
    reshaped to (1, O, 1) when there is one, reshaped to (N, O, Ho, Wo); pass stride and padding to im2col
    unchanged (they may be pairs).
    """
    r = np.random.default_rng(1)
    x, weight, bias = r.normal(size=(n, c, h, w)), r.normal(size=(o, c, kh, kw)), r.normal(size=o)
    bias = bias if with_bias else None
    out = conv2d(Tensor(x), Tensor(weight), Tensor(bias) if with_bias else None, stride=stride, padding=padding)
    assert_close(out, naive_conv(x, weight, bias, stride, padding), rtol=1e-6, atol=1e-9, what="conv2d output")


@given(
    h=st.integers(5, 12), w=st.integers(5, 12), k=st.integers(1, 5),
    stride=st.integers(1, 3), padding=st.integers(0, 2),
)
@example(h=5, w=12, k=5, stride=1, padding=0)  # the kernel fills the height: one row of outputs
@example(h=12, w=5, k=2, stride=3, padding=2)  # a leftover row and column
def test_conv_layer_output_shape_follows_the_formula(h, w, k, stride, padding):
    """Conv2d(3, 4, k, stride, padding) maps (2, 3, H, W) to (2, 4, Ho, Wo) with Ho, Wo from conv_output_size.

    Hint: Conv2d.forward is already written and calls conv2d with the layer's stride and padding: the output
    reshape in Conv2dFunction.forward must use Ho and Wo from conv_output_size for each axis.
    """
    layer = Conv2d(3, 4, k, stride=stride, padding=padding)
    out = layer(Tensor(np.zeros((2, 3, h, w), dtype=np.float32)))
    assert_shape(out, (2, 4, conv_output_size(h, k, stride, padding), conv_output_size(w, k, stride, padding)))


def test_conv_layer_initialisation():
    """weight (out, in, kh, kw) and bias (out,) are float32 Parameters, named 'weight' and 'bias', uniform in
    ±1/sqrt(in·kh·kw); manual_seed makes them repeatable; bias=False gives no bias.

    Hint: In Conv2d.__init__ draw weight (out, in, kh, kw) first, then bias (out,), both uniform in ±k with k
    = 1 / sqrt(in·kh·kw), from rng.generator(), cast to float32 and wrapped in Parameter; bias=False means
    self.bias = None.
    """
    rng.manual_seed(0)
    layer = Conv2d(4, 32, (3, 5))
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert_shape(layer.weight, (32, 4, 3, 5), "weight")
    assert_shape(layer.bias, (32,), "bias")
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    bound = 1 / np.sqrt(4 * 3 * 5)
    values = layer.weight.data
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.9 * bound, "weights should fill ±1/sqrt(fan_in)"
    assert abs(values.std() - bound / np.sqrt(3)) < 0.1 * bound, "a uniform distribution on ±k has std k/√3"
    rng.manual_seed(0)
    assert_close(Conv2d(4, 32, (3, 5)).weight, values, rtol=0, atol=0, what="weights after the same seed")
    assert Conv2d(4, 32, 3, bias=False).bias is None


def test_conv_layer_uses_its_weights_and_settings():
    """Conv2d's forward is conv2d with its own weight, bias, stride and padding (a 1×1 kernel of 2s plus bias
    1 doubles and adds 1).

    Hint: A 1×1 kernel of 2s with bias 1 must give 2x + 1: check that the bias is added once per output
    channel (reshape to (1, O, 1)) and that stride and padding reach im2col.
    """
    layer = Conv2d(1, 1, 1)
    layer.weight.data[...] = 2.0
    layer.bias.data[...] = 1.0
    x = np.arange(12.0, dtype=np.float32).reshape(1, 1, 3, 4)
    assert_close(layer(Tensor(x)), 2 * x + 1, what="1×1 conv output")
    strided = Conv2d(1, 1, 1, stride=2, padding=1, bias=False)
    strided.weight.data[...] = 1.0
    expected = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))[:, :, ::2, ::2]
    assert_close(strided(Tensor(x)), expected, what="stride 2, padding 1 output")


def test_conv_keeps_float32():
    """A float32 input and float32 weights give a float32 output (no silent float64).

    Hint: float32 input and weights must give float32: watch for float64 buffers (np.zeros or np.empty without
    dtype in im2col) or a float64 bias; keep x.dtype everywhere.
    """
    rng.manual_seed(0)
    out = Conv2d(2, 3, 3, padding=1)(Tensor(np.ones((1, 2, 5, 5), dtype=np.float32)))
    assert out.dtype == np.float32, f"output dtype {out.dtype}"


def test_conv_is_recorded_as_one_function_node():
    """The output is recorded by the Function API: one node 'Conv2dFunction' whose inputs are x, weight and
    bias.

    Hint: The forward must be written inside Conv2dFunction.forward on arrays (conv2d calls
    Conv2dFunction.apply), not built from Tensor ops in Conv2d.forward, so the result is one node with inputs
    (x, weight, bias).
    """
    rng.manual_seed(0)
    layer = Conv2d(1, 2, 3)
    x = Tensor(np.ones((1, 1, 4, 4), dtype=np.float32))
    out = layer(x)
    assert out.requires_grad and out.node is not None, "the output is not in the graph"
    assert out.node.op == "Conv2dFunction"
    assert [id(t) for t in out.node.inputs] == [id(x), id(layer.weight), id(layer.bias)]


def test_conv_rejects_a_channel_mismatch():
    """An input with 2 channels into weights made for 3 is a ValueError that names both shapes.

    Hint: In Conv2dFunction.forward compare x.shape[1] with weight.shape[1] first and raise ValueError whose
    message contains both shapes (x's (1, 2, 5, 5) and the weight's).
    """
    with raises(ValueError, match=r"\(1, 2, 5, 5\)"):
        conv2d(Tensor(np.zeros((1, 2, 5, 5))), Tensor(np.zeros((4, 3, 3, 3))))
