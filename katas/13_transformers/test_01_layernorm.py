"""Step 1: layernorm — each vector to mean 0 and variance 1, then a learned scale and shift."""

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dojo.testing import arrays, assert_close, floats, gradcheck
from tinytorch.layers import Parameter
from tinytorch.tensor import Tensor
from tinytorch.transformer import LayerNorm, layer_norm


def reference(x, w, b, eps=1e-5):
    mu = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def spread_rows(shape, seed):
    """Rows with a clear spread (no constant rows), values in about ±3."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-3, 3, size=shape) + np.linspace(-1, 1, shape[-1])


def test_known_value():
    """[1, 2, 3] has mean 2 and variance 2/3: normalised it is [-1.2247, 0, 1.2247].

    Hint: Normalise along the last axis: mean and variance with axis=-1, keepdims=True, then (x - mean) * (var
    + eps) ** -0.5 * weight + bias; a mean over all axes, or a std instead of a variance inside the root,
    gives other numbers.
    """
    out = layer_norm(Tensor([[1.0, 2.0, 3.0]]), Tensor([1.0, 1.0, 1.0]), Tensor([0.0, 0.0, 0.0]))
    assert_close(out, [[-1.2247357, 0.0, 1.2247357]], atol=1e-5, what="layer_norm([1, 2, 3])")


@given(x=arrays((3, 5), elements=floats(-3, 3)), w=arrays(5, elements=floats(-2, 2)), b=arrays(5, elements=floats(-2, 2)))
@example(  # a row with a tiny spread (where eps inside the square root matters), a constant row, a wide one
    x=np.array([[0.01, -0.01, 0.0, 0.02, -0.02], [1.5] * 5, [-3.0, 3.0, 0.0, 1.0, -1.0]]),
    w=np.array([0.5, 1.0, 1.5, 2.0, -2.0]), b=np.array([-1.0, 0.0, 1.0, 0.5, -0.5]),
)
@example(x=np.arange(15.0).reshape(3, 5) / 5, w=np.ones(5), b=np.zeros(5))  # divide by n, not n - 1
def test_matches_the_definition(x, w, b):
    """(x - mean) / sqrt(var + eps) * weight + bias, with the biased (divide by n) variance.

    Hint: The variance is the mean of the squared deviations, divided by n (not n - 1), and eps goes inside
    the square root: the pinned examples include a row with a tiny spread and a constant row.
    """
    assert_close(layer_norm(Tensor(x), Tensor(w), Tensor(b)), reference(x, w, b), rtol=1e-5, atol=1e-5,
                 what="layer_norm(x, weight, bias)")


def test_rows_have_mean_zero_and_variance_one():
    """With weight 1 and bias 0 every vector along the last axis has mean 0 and variance 1.

    Hint: LayerNorm.forward must call layer_norm(x, self.weight, self.bias, self.eps), and the reduction axis
    must be -1 for 3-D inputs too (axis=1 only works for 2-D).
    """
    x = spread_rows((2, 3, 16), seed=0) * 10 + 4
    out = LayerNorm(16)(Tensor(x.astype(np.float32))).data
    assert_close(out.mean(axis=-1), np.zeros((2, 3)), atol=1e-5, what="row means")
    assert_close(out.var(axis=-1), np.ones((2, 3)), atol=1e-3, what="row variances")


@given(shift=arrays((4, 1), elements=floats(-50, 50)))
@example(shift=np.array([[50.0], [-50.0], [0.0], [12.5]]))
@settings(max_examples=10)
def test_invariant_to_adding_a_constant_per_row(shift):
    """layer_norm(x + c) == layer_norm(x) when c is constant along each row.

    Hint: The mean must be each row's own: subtract x.mean(axis=-1, keepdims=True); a mean over the whole
    tensor or over another axis leaves part of the row constant in the output.
    """
    x = spread_rows((4, 6), seed=1)
    w, b = np.linspace(0.5, 2, 6), np.linspace(-1, 1, 6)
    a = layer_norm(Tensor(x), Tensor(w), Tensor(b)).data
    assert_close(layer_norm(Tensor(x + shift), Tensor(w), Tensor(b)), a, atol=1e-6, what="layer_norm(x + row constant)")


def test_constant_row_gives_the_bias():
    """A constant row has variance 0: eps keeps it finite and the output is the bias.

    Hint: A constant row has variance 0: (0 + eps) ** -0.5 times a centred value of exactly 0 gives 0, so the
    output is the bias; dividing by sqrt(var) + eps, or skipping eps, gives nan or the wrong value.
    """
    b = np.array([0.5, -1.0, 2.0])
    out = layer_norm(Tensor(np.full((1, 3), 7.0)), Tensor(np.ones(3)), Tensor(b))
    assert_close(out, b[None], atol=1e-6, what="layer_norm of a constant row")


def test_gradcheck_x_weight_bias():
    """Autograd's gradients with respect to x, weight and bias equal central differences (float64).

    Hint: Build layer_norm only from Tensor ops (mean, -, *, **, +) so autograd differentiates it; NumPy on
    .data (np.sqrt, np.var) cuts the graph and the gradients come out wrong or missing.
    """
    x = spread_rows((3, 4), seed=2)
    rng = np.random.default_rng(3)
    gradcheck(lambda x, w, b: layer_norm(x, w, b), [x, rng.uniform(0.5, 2, 4), rng.uniform(-1, 1, 4)])


def test_gradcheck_batched():
    """The same on a (2, 3, 4) input: only the last axis is normalised.

    Hint: Keep every reduction on axis=-1 with keepdims=True so the statistics broadcast back over (2, 3, 4);
    weight and bias (shape (4,)) broadcast on the last axis.
    """
    x = spread_rows((2, 3, 4), seed=4)
    gradcheck(lambda x, w, b: layer_norm(x, w, b), [x, np.linspace(0.5, 1.5, 4), np.linspace(-1, 1, 4)], seed=1)


def test_layer_has_weight_ones_and_bias_zeros():
    """LayerNorm(dim): float32 Parameters weight = ones(dim), bias = zeros(dim), named in that order.

    Hint: In LayerNorm.__init__ create self.weight = Parameter(np.ones(dim, dtype=np.float32)) first, then
    self.bias = Parameter of zeros: named_parameters follows the assignment order.
    """
    ln = LayerNorm(5)
    assert [n for n, _ in ln.named_parameters()] == ["weight", "bias"]
    assert isinstance(ln.weight, Parameter) and ln.weight.dtype == np.float32
    assert np.array_equal(ln.weight.data, np.ones(5)) and np.array_equal(ln.bias.data, np.zeros(5))


def test_layer_uses_its_parameters_and_keeps_float32():
    """LayerNorm's forward is layer_norm with its weight and bias; float32 stays float32.

    Hint: Pass self.weight and self.bias to layer_norm (not fresh ones/zeros), and keep float32: a Python
    float eps and Tensor ops keep it; a float64 constant array does not.
    """
    ln = LayerNorm(4)
    ln.weight.data[:] = [1.0, 2.0, 3.0, 4.0]
    ln.bias.data[:] = [0.0, 1.0, 0.0, -1.0]
    x = spread_rows((3, 4), seed=5).astype(np.float32)
    out = ln(Tensor(x))
    assert out.dtype == np.float32
    assert_close(out, reference(x.astype(np.float64), ln.weight.data, ln.bias.data), atol=1e-5, what="LayerNorm(4)(x)")
