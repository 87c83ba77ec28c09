"""Step 2: linear — Linear's weight shapes, its seeded uniform initialisation and its forward."""

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from dojo.testing import assert_close, assert_shape
from tinytorch import rng
from tinytorch.layers import Linear, Parameter
from tinytorch.tensor import Tensor


def depends_on(out, leaf):
    """True when `leaf` is one of the tensors `out` was computed from (walks the recorded graph)."""
    stack, seen = [out], set()
    while stack:
        t = stack.pop()
        if t is leaf:
            return True
        if id(t) in seen or t.node is None:
            continue
        seen.add(id(t))
        stack.extend(t.node.inputs)
    return False


def test_linear_parameter_shapes_and_dtype():
    """Linear(3, 5): weight is a (5, 3) float32 Parameter (out, in), bias a (5,) float32 Parameter.

    Hint: weight is (out_features, in_features), the transpose of what you might expect, and bias
    (out_features,); cast the drawn arrays to np.float32 and wrap each in Parameter.
    """
    layer = Linear(3, 5)
    assert isinstance(layer.weight, Parameter) and isinstance(layer.bias, Parameter)
    assert_shape(layer.weight, (5, 3), what="weight")
    assert_shape(layer.bias, (5,), what="bias")
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32


def test_linear_without_bias():
    """Linear(3, 5, bias=False) has bias None and weight as its only parameter.

    Hint: With bias=False set self.bias = None (do not skip the assignment or create a zero bias Parameter),
    so named_parameters finds only weight.
    """
    layer = Linear(3, 5, bias=False)
    assert layer.bias is None
    assert [name for name, _ in layer.named_parameters()] == ["weight"]


def test_linear_parameter_names():
    """The parameters are named 'weight' then 'bias' (the weight is created first).

    Hint: Assign self.weight before self.bias in Linear.__init__: named_parameters follows attribute
    assignment order.
    """
    assert [name for name, _ in Linear(2, 2).named_parameters()] == ["weight", "bias"]


def test_linear_init_is_uniform_within_one_over_sqrt_in():
    """Weights and bias lie in [-k, k], k = 1/sqrt(in_features), and fill that range (uniform, mean 0, std
    k/sqrt(3)).

    Hint: Draw with generator.uniform(-k, k, shape) where k = 1 / np.sqrt(in_features) (the fan-in, not
    out_features), for the bias too; normal draws or a [0, k] range fail the spread checks.
    """
    rng.manual_seed(0)
    layer = Linear(400, 160)  # 64,000 weights; k = 0.05 (1/sqrt(out_features) would be 0.079)
    k = 1 / np.sqrt(400)
    w, b = layer.weight.data, layer.bias.data
    assert np.abs(w).max() <= k and np.abs(b).max() <= k, f"largest |weight| {np.abs(w).max()}, bound k = {k}"
    assert w.max() > 0.99 * k and w.min() < -0.99 * k, f"weights span [{w.min()}, {w.max()}], expected nearly [-{k}, {k}]"
    assert abs(w.mean()) < 0.02 * k, f"weight mean {w.mean()}, expected about 0"
    assert abs(w.std() - k / np.sqrt(3)) < 0.03 * k, f"weight std {w.std()}, expected k/sqrt(3) = {k / np.sqrt(3)}"
    assert b.max() > 0.8 * k and b.min() < -0.8 * k, f"bias spans [{b.min()}, {b.max()}], expected nearly [-{k}, {k}]"


def test_linear_init_is_repeatable_with_manual_seed():
    """tinytorch.rng.manual_seed(s) before Linear(...) gives the same weights every time; another seed other
    weights.

    Hint: Draw from tinytorch.rng.generator() (the generator manual_seed resets), not np.random or a
    np.random.default_rng() of your own.
    """
    rng.manual_seed(7)
    a = Linear(6, 4)
    rng.manual_seed(7)
    b = Linear(6, 4)
    rng.manual_seed(8)
    c = Linear(6, 4)
    assert_close(b.weight, a.weight.data, rtol=0, atol=0, what="weight after the same seed")
    assert_close(b.bias, a.bias.data, rtol=0, atol=0, what="bias after the same seed")
    assert not np.array_equal(a.weight.data, c.weight.data), "seeds 7 and 8 gave the same weights"


def test_two_layers_after_one_seed_differ():
    """Each new layer draws fresh numbers from the generator: two layers built in a row are not identical.

    Hint: Use the shared rng.generator() each time and don't reseed it in Linear.__init__: each layer must
    continue the generator's stream.
    """
    rng.manual_seed(0)
    a, b = Linear(5, 5), Linear(5, 5)
    assert not np.array_equal(a.weight.data, b.weight.data), "two layers got the same weights"


@given(n=st.integers(1, 4), fan_in=st.integers(1, 5), fan_out=st.integers(1, 5), seed=st.integers(0, 1000))
@example(n=1, fan_in=1, fan_out=1, seed=0)  # everything of size 1
@example(n=4, fan_in=5, fan_out=2, seed=1)  # more inputs than outputs: weight is (2, 5), not (5, 2)
@example(n=2, fan_in=2, fan_out=5, seed=2)  # more outputs than inputs
@example(n=3, fan_in=3, fan_out=3, seed=3)  # square: weight and weight.T differ in value only
def test_linear_forward_matches_numpy(n, fan_in, fan_out, seed):
    """Linear(in, out)(x) equals x @ weight.T + bias for x of shape (N, in); the result is (N, out).

    Hint: forward is x @ self.weight.T + self.bias; x @ self.weight only happens to run when the layer is
    square, and is wrong even then.
    """
    rng.manual_seed(seed)
    layer = Linear(fan_in, fan_out)
    x = np.random.default_rng(seed).normal(size=(n, fan_in)).astype(np.float32)
    expected = x @ layer.weight.data.T + layer.bias.data
    assert_close(layer(Tensor(x)), expected, dtype=np.float32, what="Linear(x)")


def test_linear_forward_with_leading_dimensions():
    """A (2, 3, in) input gives (2, 3, out): the layer acts on the last axis.

    Hint: Keep forward as x @ self.weight.T (+ bias): matmul broadcasts over leading dims, so don't reshape x
    to 2-D or index x.shape[1].
    """
    rng.manual_seed(1)
    layer = Linear(4, 2)
    x = np.random.default_rng(1).normal(size=(2, 3, 4)).astype(np.float32)
    expected = x @ layer.weight.data.T + layer.bias.data
    assert_close(layer(Tensor(x)), expected, what="Linear(x) for x of shape (2, 3, 4)")


def test_linear_forward_without_bias():
    """With bias=False the output is x @ weight.T.

    Hint: When self.bias is None return x @ self.weight.T alone; adding None (or a zero array) fails.
    """
    rng.manual_seed(2)
    layer = Linear(3, 2, bias=False)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert_close(layer(Tensor(x)), x @ layer.weight.data.T, what="Linear(x, bias=False)")


def test_linear_output_is_connected_to_its_parameters():
    """The forward is built from Tensor ops: the output records that it depends on weight and bias (kata 05
    needs this).

    Hint: Compute forward with Tensor ops on the Parameters (x @ self.weight.T + self.bias); NumPy on .data,
    or wrapping the result in a new Tensor, cuts the graph.
    """
    layer = Linear(3, 2)
    out = layer(Tensor(np.ones((4, 3), dtype=np.float32)))
    assert out.requires_grad, "the output does not require grad: was it built from .data arrays?"
    assert depends_on(out, layer.weight) and depends_on(out, layer.bias)
