"""Step 2: mlp — Linear(dim, 4·dim), GELU, Linear(4·dim, dim), Dropout: each token on its own."""

import numpy as np

from dojo.testing import assert_close
from tinytorch import rng
from tinytorch.tensor import Tensor
from tinytorch.transformer import MLP


def gelu(a):
    return 0.5 * a * (1 + np.tanh(np.sqrt(2 / np.pi) * (a + 0.044715 * a**3)))


def x_of(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def test_structure_and_parameter_names():
    """fc = Linear(dim, 4*dim) then proj = Linear(4*dim, dim): parameters fc.weight, fc.bias, proj.weight,
    proj.bias.

    Hint: Create self.fc = Linear(dim, hidden) before self.proj = Linear(hidden, dim), with hidden = 4 * dim
    when not given: parameters are named and ordered by attribute assignment.
    """
    rng.manual_seed(0)
    mlp = MLP(6)
    shapes = [(name, p.shape) for name, p in mlp.named_parameters()]
    assert shapes == [("fc.weight", (24, 6)), ("fc.bias", (24,)), ("proj.weight", (6, 24)), ("proj.bias", (6,))], shapes


def test_hidden_size_can_be_chosen():
    """MLP(dim, hidden=10) uses 10 hidden units.

    Hint: Use the hidden argument when it is given (hidden = 4 * dim only if hidden is None).
    """
    rng.manual_seed(0)
    assert MLP(4, hidden=10).fc.weight.shape == (10, 4)


def test_forward_is_proj_of_gelu_of_fc():
    """MLP(x) == proj(gelu(fc(x))) (no dropout by default).

    Hint: forward is self.drop(self.proj(gelu(self.fc(x)))) with gelu from tinytorch.activations (the tanh
    form); relu, or GELU applied after proj, gives other values.
    """
    rng.manual_seed(1)
    mlp = MLP(4)
    x = x_of((3, 4))
    h = gelu(x.astype(np.float64) @ mlp.fc.weight.data.T + mlp.fc.bias.data)
    expected = h @ mlp.proj.weight.data.T + mlp.proj.bias.data
    assert_close(mlp(Tensor(x)), expected, rtol=1e-4, atol=1e-5, what="MLP(4)(x)")


def test_works_token_by_token_on_any_leading_shape():
    """(B, T, dim) -> (B, T, dim), and each token's output depends on that token only.

    Hint: Apply the Linear layers directly to the (B, T, dim) input: Linear acts on the last axis, so no
    reshape (or mixing of tokens) is needed.
    """
    rng.manual_seed(2)
    mlp = MLP(4)
    x = x_of((2, 3, 4), seed=1)
    out = mlp(Tensor(x))
    assert out.shape == (2, 3, 4) and out.dtype == np.float32
    assert_close(out.data[1, 2], mlp(Tensor(x[1, 2][None])).data[0], rtol=1e-5, atol=1e-6, what="token (1, 2) alone")


def test_dropout_in_training_only():
    """With dropout=0.5 two training-mode calls differ; in eval mode the output is deterministic and equals no
    dropout.

    Hint: Pass the dropout argument on (self.drop = Dropout(dropout)) and call self.drop in forward; in eval
    mode Dropout returns its input, so the output must equal a dropout-free MLP built from the same seed.
    """
    rng.manual_seed(3)
    mlp = MLP(8, dropout=0.5)
    x = Tensor(x_of((4, 8), seed=2))
    assert not np.allclose(mlp(x).data, mlp(x).data), "dropout should draw a new mask each training call"
    mlp.eval()
    a = mlp(x).data
    assert np.array_equal(a, mlp(x).data)
    rng.manual_seed(3)
    plain = MLP(8)
    assert_close(a, plain(x), rtol=1e-6, atol=1e-6, what="MLP in eval mode vs the same MLP without dropout")


def test_dropout_is_applied_to_the_output():
    """Dropout comes last, on the output: dropout(proj(gelu(fc(x)))). In training mode every
    output element is either exactly 0 or the dropout-free output divided by (1 - p), both cases
    present. (Dropout on the hidden layer would change the output values instead.)

    Hint: Dropout comes last: self.drop(self.proj(...)), not on the hidden layer (gelu(fc(x))), which would
    change the output values instead of zeroing them.
    """
    rng.manual_seed(5)
    mlp = MLP(8, dropout=0.5)
    x = Tensor(x_of((6, 8), seed=4))
    mlp.eval()
    clean = mlp(x).data.astype(np.float64)
    mlp.train()
    out = mlp(x).data
    kept = out != 0
    assert kept.any() and (~kept).any(), f"{int((~kept).sum())} of {out.size} outputs are 0: expected about half"
    assert_close(out[kept], clean[kept] / 0.5, rtol=1e-5, atol=1e-6, what="outputs kept by dropout (clean / (1 - p))")


def test_gradients_reach_all_parameters():
    """After backward every weight and bias of both layers has a non-zero gradient.

    Hint: Build forward from the Linear layers and gelu only (Tensor ops), so backward reaches fc and proj;
    NumPy on .data cuts the graph.
    """
    rng.manual_seed(4)
    mlp = MLP(4)
    mlp(Tensor(x_of((5, 4), seed=3))).sum().backward()
    missing = [n for n, p in mlp.named_parameters() if p.grad is None or not np.abs(p.grad).max() > 0]
    assert not missing, f"no gradient reached {missing}"
