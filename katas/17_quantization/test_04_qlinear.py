"""Step 4: QuantizedLinear — int8 weights stored as int8, activations quantized, one rescale."""

import numpy as np

from dojo.testing import assert_close
from tinytorch import rng
from tinytorch.layers import Linear, Parameter
from tinytorch.quantization import QuantizedLinear, int_matmul, quantize, quantize_per_channel
from tinytorch.tensor import Tensor


def trained_like_linear(n_in, n_out, seed=0, bias=True):
    """A Linear whose rows have different sizes (as after training)."""
    rng.manual_seed(seed)
    layer = Linear(n_in, n_out, bias=bias)
    layer.weight.data *= np.linspace(0.2, 3.0, n_out, dtype=np.float32)[:, None]
    return layer


def x_of(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def relative_error(actual, expected):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    return float(np.linalg.norm(actual - expected) / np.linalg.norm(expected))


def test_really_stores_int8():
    """weight_int8 is an int8 NumPy array (out, in); no float copy of the weight is kept; the bias stays float32.

    Hint: from_linear passes cls(...) the int8 codes as a plain np.ndarray (a Parameter would turn them into
    float32), a copy of the bias, and no float copy of the weight; the given __init__ stores them.
    """
    linear = trained_like_linear(12, 5)
    q = QuantizedLinear.from_linear(linear)
    assert isinstance(q.weight_int8, np.ndarray) and q.weight_int8.dtype == np.int8, \
        f"weight_int8 must be an int8 ndarray, got {type(q.weight_int8).__name__} {getattr(q.weight_int8, 'dtype', '')}"
    assert q.weight_int8.shape == (5, 12)
    floats = [name for name, value in vars(q).items()
              if isinstance(value, (np.ndarray, Tensor)) and np.shape(value) == (5, 12)
              and np.asarray(value.data if isinstance(value, Tensor) else value).dtype.kind == "f"]
    assert not floats, f"a float copy of the weight is stored in {floats}"
    assert [n for n, _ in q.named_parameters()] == ["bias"], "only the float32 bias is a parameter"
    assert isinstance(q.bias, Parameter) and q.bias.dtype == np.float32
    assert_close(q.bias, linear.bias.data, rtol=0, atol=0, what="bias")


def test_per_channel_and_per_tensor_scales():
    """Per channel: weight_scale (out,) = row max / 127 and codes as quantize_per_channel; per tensor: one scale.

    Hint: per channel: quantize_per_channel(weight, axis=0) and flatten the (out, 1) scales to (out,); per
    tensor: quantize_per_tensor(weight) gives one scalar scale.
    """
    linear = trained_like_linear(8, 4, seed=1)
    q = QuantizedLinear.from_linear(linear, per_channel=True)
    codes, scales = quantize_per_channel(linear.weight.data)
    assert q.weight_scale.shape == (4,) and q.weight_scale.dtype == np.float32
    assert np.array_equal(q.weight_int8, codes) and np.array_equal(q.weight_scale, scales.reshape(-1))
    t = QuantizedLinear.from_linear(linear, per_channel=False)
    assert t.weight_scale.shape == () and t.weight_int8.dtype == np.int8
    assert_close(np.float64(t.weight_scale), np.abs(linear.weight.data).max() / 127, rtol=1e-6, atol=0, what="per-tensor scale")
    assert np.abs(t.weight_int8).max() == 127 and np.abs(t.weight_int8).max(axis=1).min() < 127


def test_output_close_to_the_float_linear():
    """Per channel, dynamic activation scale: relative output error below 2% of the float Linear's output.

    Hint: forward: s_x = self.input_scale, or symmetric_scale(max|x|) of this batch when it is None; acc =
    int_matmul(quantize(x, s_x), self.weight_int8.T); y = acc · (s_x · weight_scale) + bias as a float32
    Tensor.
    """
    linear = trained_like_linear(64, 16, seed=2)
    x = x_of((32, 64), seed=1)
    out = QuantizedLinear.from_linear(linear)(Tensor(x))
    assert isinstance(out, Tensor) and out.dtype == np.float32 and out.shape == (32, 16)
    error = relative_error(out.data, linear(Tensor(x)).data)
    assert 0 < error < 0.02, f"relative output error {error:.3%}"


def test_forward_is_the_integer_formula_with_the_calibrated_scale():
    """y = int_matmul(quantize(x, s_x), W_qᵀ) · (s_x · s_w) + b with the calibrated s_x; values beyond 127·s_x saturate.

    Hint: when input_scale is set, quantize the input with it (values beyond 127·s_x saturate), never with the
    batch's own max; rescale the int32 accumulator once by s_x · weight_scale and add the bias after.
    """
    linear = trained_like_linear(10, 6, seed=3)
    x = x_of((7, 10), seed=2)
    x[0, 0] = 25.0  # beyond the calibrated range: clipped to 127 · s_x = 2.54
    s_x = np.float32(0.02)
    q = QuantizedLinear.from_linear(linear, input_scale=s_x)
    acc = int_matmul(quantize(x, s_x), q.weight_int8.T).astype(np.float64)
    expected = acc * (np.float64(s_x) * q.weight_scale.astype(np.float64)) + linear.bias.data
    assert_close(q(Tensor(x)), expected, rtol=1e-5, atol=1e-6, what="QuantizedLinear with input_scale=0.02")
    dynamic = QuantizedLinear.from_linear(linear)
    s_dyn = np.float32(np.abs(x).max() / np.float32(127))
    acc = int_matmul(quantize(x, s_dyn), q.weight_int8.T).astype(np.float64)
    expected = acc * (np.float64(s_dyn) * q.weight_scale.astype(np.float64)) + linear.bias.data
    assert_close(dynamic(Tensor(x)), expected, rtol=1e-5, atol=1e-6, what="QuantizedLinear, dynamic scale max|x|/127")


def test_forward_reads_the_int8_weights():
    """Zeroing weight_int8 leaves only the bias: the output is computed from the stored int8 codes.

    Hint: compute from self.weight_int8 on every call (int_matmul with its transpose), not from a dequantized
    float copy cached at construction: zeroing the codes must leave only the bias.
    """
    linear = trained_like_linear(6, 3, seed=4)
    q = QuantizedLinear.from_linear(linear)
    x = Tensor(x_of((4, 6), seed=3))
    before = q(x).data.copy()
    q.weight_int8[...] = 0
    after = q(x).data
    assert not np.allclose(before, after)
    assert_close(after, np.broadcast_to(linear.bias.data, (4, 3)), atol=0, what="output with zeroed int8 weights")


def test_leading_dimensions_and_no_bias():
    """(B, T, in) -> (B, T, out), token by token, and a Linear without bias (a GPT head) works.

    Hint: flatten x to (-1, in_features), compute, then reshape to x.shape[:-1] + (out_features,); add the
    bias only when self.bias is not None.
    """
    linear = trained_like_linear(8, 5, seed=5, bias=False)
    q = QuantizedLinear.from_linear(linear, input_scale=0.05)
    assert q.bias is None
    x = x_of((2, 3, 8), seed=4)
    out = q(Tensor(x))
    assert out.shape == (2, 3, 5) and out.dtype == np.float32
    assert_close(out.data[1], q(Tensor(x[1])).data, rtol=1e-6, atol=1e-6, what="one batch row alone")
    assert relative_error(out.data, x @ linear.weight.data.T) < 0.03
