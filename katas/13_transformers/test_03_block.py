"""Step 3: block — the pre-norm TransformerBlock: x + attn(ln1(x)), then + mlp(ln2(x))."""

import numpy as np

from dojo.testing import assert_close
from tinytorch import rng
from tinytorch.attention import MultiHeadAttention
from tinytorch.layers import Module
from tinytorch.tensor import Tensor
from tinytorch.transformer import MLP, LayerNorm, TransformerBlock


def tril(T):
    return np.tril(np.ones((T, T), dtype=bool))


def x_of(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def make(dim=8, n_head=2, seed=0, dropout=0.0):
    rng.manual_seed(seed)
    return TransformerBlock(dim, n_head, dropout)


def test_sub_modules_in_order():
    """ln1 (LayerNorm), attn (MultiHeadAttention), ln2 (LayerNorm), mlp (MLP), created in that order.

    Hint: Create ln1 = LayerNorm(dim), attn = MultiHeadAttention(dim, n_head), ln2 = LayerNorm(dim), mlp =
    MLP(dim, dropout=dropout), drop = Dropout(dropout), in that order, as attributes of the block.
    """
    block = make()
    assert isinstance(block.ln1, LayerNorm) and isinstance(block.attn, MultiHeadAttention)
    assert isinstance(block.ln2, LayerNorm) and isinstance(block.mlp, MLP)
    prefixes = []
    for name, _ in block.named_parameters():
        if name.split(".")[0] not in prefixes:
            prefixes.append(name.split(".")[0])
    assert prefixes == ["ln1", "attn", "ln2", "mlp"], f"parameter order {prefixes}"
    assert block.attn.num_heads == 2


def test_forward_is_pre_norm_with_residuals():
    """block(x, mask) == h + mlp(ln2(h)) with h = x + attn(ln1(x), mask), using the block's own sub-modules.

    Hint: Pre-norm: normalise the input of each branch and add the branch to the un-normalised x: x = x +
    self.drop(self.attn(self.ln1(x), mask)), then x + self.mlp(self.ln2(x)); post-norm (ln after the sum)
    gives other values.
    """
    block = make()
    x = Tensor(x_of((2, 5, 8)))
    h = x + block.attn(block.ln1(x), tril(5))
    expected = h + block.mlp(block.ln2(h))
    assert_close(block(x, tril(5)), expected.data, rtol=1e-5, atol=1e-6, what="TransformerBlock(x)")


def test_is_the_identity_when_both_branches_output_zero():
    """The residual connections: with out_proj and mlp.proj zeroed, the block returns its input.

    Hint: With both branches silenced the block must return x itself: each branch's output is added to x (x +
    ...), and no LayerNorm is applied to the residual stream.
    """
    block = make()
    for layer in (block.attn.out_proj, block.mlp.proj):
        layer.weight.data[:] = 0
        layer.bias.data[:] = 0
    x = x_of((2, 3, 8), seed=1)
    assert_close(block(Tensor(x), tril(3)), x, rtol=0, atol=0, what="block with silent branches")


def test_output_at_t_ignores_later_tokens():
    """With a causal mask, changing tokens after t leaves the block's output at 0..t unchanged.

    Hint: Pass the mask to the attention (self.attn(self.ln1(x), mask)): without it, tokens read later
    positions.
    """
    block = make(seed=2)
    x = x_of((2, 6, 8), seed=2)
    x2 = x.copy()
    x2[:, 4:] = x_of((2, 2, 8), seed=3) * 3
    a, b = block(Tensor(x), tril(6)).data, block(Tensor(x2), tril(6)).data
    assert_close(b[:, :4], a[:, :4], rtol=0, atol=1e-6, what="output at 0..3 after changing positions 4, 5")


def test_shape_dtype_and_gradients():
    """(B, T, dim) -> (B, T, dim) float32, and every parameter and the input get gradients.

    Hint: Keep everything Tensor ops on x (the residual sums, the sub-modules) so gradients reach every
    sub-module's parameters and x; float32 stays float32 if no NumPy float64 array enters.
    """
    block = make(seed=3)
    x = Tensor(x_of((2, 4, 8), seed=4), requires_grad=True)
    out = block(x, tril(4))
    assert out.shape == (2, 4, 8) and out.dtype == np.float32
    out.backward(x_of((2, 4, 8), seed=5))
    missing = [n for n, p in block.named_parameters() if p.grad is None or not np.abs(p.grad).max() > 0]
    assert not missing, f"no gradient reached {missing}"
    assert x.grad is not None


def test_dropout_only_in_training():
    """With dropout, training-mode outputs vary between calls; eval mode is deterministic.

    Hint: The block's own drop (and the MLP's) must be Dropout(dropout) with the dropout argument passed on,
    used in forward; Dropout switches itself off in eval mode.
    """
    block = make(seed=4, dropout=0.5)
    x = Tensor(x_of((2, 4, 8), seed=6))
    assert not np.allclose(block(x, tril(4)).data, block(x, tril(4)).data)
    block.eval()
    assert np.array_equal(block(x, tril(4)).data, block(x, tril(4)).data)


class DropEverything(Module):
    """Stands in for a Dropout that drops every element: its output is all zeros."""

    def forward(self, x):
        return x * 0.0


def test_attention_dropout_sits_on_the_attention_branch():
    """x = x + drop(attn(ln1(x), mask)), then x + mlp(ln2(x)): with block.drop replaced by a
    module that drops everything, the attention branch vanishes and the block gives exactly
    x + mlp(ln2(x)) (not dropout on the sum, not on the MLP branch).

    Hint: self.drop wraps the attention branch only: x = x + self.drop(self.attn(...)); dropping the sum, or
    the MLP branch, is what this test rules out.
    """
    block = make(seed=7)
    block.drop = DropEverything()
    x = Tensor(x_of((2, 3, 8), seed=8))
    expected = x.data + block.mlp(block.ln2(x)).data
    assert_close(block(x, tril(3)), expected, rtol=1e-5, atol=1e-6, what="block(x) with its attention dropout dropping everything")
